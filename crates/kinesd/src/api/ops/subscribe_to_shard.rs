//! SubscribeToShard: what can be refused is refused before the stream starts, as an ordinary
//! error response (unknown or inactive consumer, unknown shard, bad starting position, a live
//! subscription younger than five seconds); then the response is an event stream fed by
//! `api::subscription`.

use crate::api::Context;
use crate::api::common::consumer_from_arn;
use crate::api::ops::get_shard_iterator::iterator_start;
use crate::api::subscription;
use crate::error::Result;
use crate::protocol::model::SubscribeToShardInput;
use crate::protocol::reply::FrameStream;

pub async fn handle(ctx: &Context, input: SubscribeToShardInput) -> Result<FrameStream> {
    let engine = &ctx.engine;
    let consumer = consumer_from_arn(ctx, input.consumer_arn.as_deref().unwrap_or_default()).await?;
    let shard = input.shard_id.unwrap_or_default();
    let position = input.starting_position.unwrap_or_default();
    // The consumer is checked before the position, whose errors name its stream.
    engine.consumer(&consumer).await?;
    let start = iterator_start(
        engine,
        &consumer.stream,
        &shard,
        position.r#type.as_deref(),
        position.sequence_number.as_deref(),
        position.timestamp,
    )
    .await?;
    let subscription = engine.subscribe(&consumer, &shard, start).await?;
    Ok(subscription::start(subscription, ctx.codec, ctx.shutdown.clone()))
}
