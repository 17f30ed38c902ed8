//! ListTagsForResource: every tag of the stream or consumer an ARN names, in key order, unpaged.

use crate::api::Context;
use crate::api::common::{Resource, resource, tag_list, tags_view};
use crate::error::Result;
use crate::protocol::model::{ListTagsForResourceInput, ListTagsForResourceOutput};

pub async fn handle(ctx: &Context, input: ListTagsForResourceInput) -> Result<ListTagsForResourceOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let tags = match resource(ctx, input.resource_arn.as_deref().unwrap_or_default()).await? {
        Resource::Stream(name) => tag_list(&*engine.stream(&name).await?),
        Resource::Consumer(consumer) => tags_view(&engine.consumer(&consumer).await?.tags),
    };
    Ok(ListTagsForResourceOutput { tags: Some(tags) })
}
