//! ListTagsForResource: every tag of the stream an ARN names, in key order, unpaged.

use crate::api::Context;
use crate::api::common::{resource_key, tag_list};
use crate::error::Result;
use crate::protocol::model::{ListTagsForResourceInput, ListTagsForResourceOutput};

pub async fn handle(ctx: &Context, input: ListTagsForResourceInput) -> Result<ListTagsForResourceOutput> {
    let engine = &*ctx.engine;
    let name = resource_key(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    let stream = engine.stream(&name).await?;
    Ok(ListTagsForResourceOutput { tags: Some(tag_list(&stream)) })
}
