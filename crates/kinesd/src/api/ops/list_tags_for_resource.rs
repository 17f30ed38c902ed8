//! ListTagsForResource: every tag of the stream an ARN names, in key order, unpaged.

use crate::api::common::{resource_stream, tag_list};
use crate::api::model::{ListTagsForResourceInput, ListTagsForResourceOutput};
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: ListTagsForResourceInput) -> Result<ListTagsForResourceOutput> {
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    let stream = engine.stream(&name).await?;
    Ok(ListTagsForResourceOutput { tags: Some(tag_list(&stream)) })
}
