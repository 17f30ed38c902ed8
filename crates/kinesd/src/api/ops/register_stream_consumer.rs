//! RegisterStreamConsumer: a new enhanced fan-out consumer, CREATING until it turns ACTIVE.

use crate::api::Context;
use crate::api::common::{consumer_view, stream_key};
use crate::error::Result;
use crate::protocol::model::{RegisterStreamConsumerInput, RegisterStreamConsumerOutput};

pub async fn handle(ctx: &Context, input: RegisterStreamConsumerInput) -> Result<RegisterStreamConsumerOutput> {
    let engine = &*ctx.engine;
    let stream = stream_key(ctx, None, input.stream_arn.as_deref()).await?;
    let name = input.consumer_name.unwrap_or_default();
    let tags = input.tags.map(|t| t.0).unwrap_or_default();
    let consumer = engine.register_consumer(&stream, &name, tags).await?;
    Ok(RegisterStreamConsumerOutput { consumer: consumer_view(engine, &consumer) })
}
