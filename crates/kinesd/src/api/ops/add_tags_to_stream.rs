//! AddTagsToStream: adds or overwrites tags; a stream carries at most 50.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::AddTagsToStreamInput;

pub async fn handle(ctx: &Context, input: AddTagsToStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    engine.add_tags(&name, input.tags.map(|t| t.0).unwrap_or_default()).await
}
