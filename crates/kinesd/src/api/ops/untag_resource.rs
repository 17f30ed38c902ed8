//! UntagResource: RemoveTagsFromStream addressed by the stream's ARN.

use crate::api::common::resource_stream;
use crate::api::model::UntagResourceInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: UntagResourceInput) -> Result<()> {
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    engine.remove_tags(&name, &input.tag_keys.unwrap_or_default()).await
}
