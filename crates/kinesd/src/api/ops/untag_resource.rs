//! UntagResource: RemoveTagsFromStream addressed by the stream's ARN.

use crate::api::Context;
use crate::api::common::resource_key;
use crate::error::Result;
use crate::protocol::model::UntagResourceInput;

pub async fn handle(ctx: &Context, input: UntagResourceInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = resource_key(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    engine.remove_tags(&name, &input.tag_keys.unwrap_or_default()).await
}
