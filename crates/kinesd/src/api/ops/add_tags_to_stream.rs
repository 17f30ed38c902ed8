//! AddTagsToStream: adds or overwrites tags; a stream carries at most 50.

use crate::api::common::stream_name;
use crate::api::model::AddTagsToStreamInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: AddTagsToStreamInput) -> Result<()> {
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    engine.add_tags(&name, input.tags.map(|t| t.0).unwrap_or_default()).await
}
