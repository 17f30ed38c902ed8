//! TagResource: AddTagsToStream addressed by the stream's ARN.

use crate::api::common::resource_stream;
use crate::api::model::TagResourceInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: TagResourceInput) -> Result<()> {
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    engine.add_tags(&name, input.tags.map(|t| t.0).unwrap_or_default()).await
}
