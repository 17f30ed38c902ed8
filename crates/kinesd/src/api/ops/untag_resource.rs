//! UntagResource: RemoveTagsFromStream addressed by ARN, for a stream or a consumer.

use crate::api::Context;
use crate::api::common::{Resource, resource};
use crate::error::Result;
use crate::protocol::model::UntagResourceInput;

pub async fn handle(ctx: &Context, input: UntagResourceInput) -> Result<()> {
    let engine = &*ctx.engine;
    let keys = input.tag_keys.unwrap_or_default();
    match resource(ctx, input.resource_arn.as_deref().unwrap_or_default()).await? {
        Resource::Stream(name) => engine.remove_tags(&name, &keys).await,
        Resource::Consumer(consumer) => engine.remove_consumer_tags(&consumer, &keys).await,
    }
}
