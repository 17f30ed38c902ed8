//! TagResource: AddTagsToStream addressed by ARN, for a stream or a consumer.

use crate::api::Context;
use crate::api::common::{Resource, resource};
use crate::error::Result;
use crate::protocol::model::TagResourceInput;

pub async fn handle(ctx: &Context, input: TagResourceInput) -> Result<()> {
    let engine = &*ctx.engine;
    let tags = input.tags.map(|t| t.0).unwrap_or_default();
    match resource(ctx, input.resource_arn.as_deref().unwrap_or_default()).await? {
        Resource::Stream(name) => engine.add_tags(&name, tags).await,
        Resource::Consumer(consumer) => engine.add_consumer_tags(&consumer, tags).await,
    }
}
