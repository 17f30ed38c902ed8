//! TagResource: AddTagsToStream addressed by the stream's ARN.

use crate::api::Context;
use crate::api::common::resource_key;
use crate::error::Result;
use crate::protocol::model::TagResourceInput;

pub async fn handle(ctx: &Context, input: TagResourceInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = resource_key(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    engine.add_tags(&name, input.tags.map(|t| t.0).unwrap_or_default()).await
}
