//! RemoveTagsFromStream: removes tags by key; unknown keys are ignored.

use crate::api::common::stream_name;
use crate::api::model::RemoveTagsFromStreamInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: RemoveTagsFromStreamInput) -> Result<()> {
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    engine.remove_tags(&name, &input.tag_keys.unwrap_or_default()).await
}
