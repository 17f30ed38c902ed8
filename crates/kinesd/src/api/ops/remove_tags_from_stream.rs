//! RemoveTagsFromStream: removes tags by key; unknown keys are ignored.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::RemoveTagsFromStreamInput;

pub async fn handle(ctx: &Context, input: RemoveTagsFromStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    engine.remove_tags(&name, &input.tag_keys.unwrap_or_default()).await
}
