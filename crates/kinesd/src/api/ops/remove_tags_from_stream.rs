//! RemoveTagsFromStream: removes tags by key; unknown keys are ignored.

use crate::api::Context;
use crate::api::common::stream_name;
use crate::error::Result;
use crate::protocol::model::RemoveTagsFromStreamInput;

pub async fn handle(ctx: &Context, input: RemoveTagsFromStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    engine.remove_tags(&name, &input.tag_keys.unwrap_or_default()).await
}
