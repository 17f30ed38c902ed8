//! DeregisterStreamConsumer: by ConsumerARN, or by StreamARN and ConsumerName; the consumer
//! goes DELETING, then disappears, and its subscriptions end.

use crate::api::Context;
use crate::api::common::consumer_named;
use crate::error::Result;
use crate::protocol::model::DeregisterStreamConsumerInput;

pub async fn handle(ctx: &Context, input: DeregisterStreamConsumerInput) -> Result<()> {
    let engine = &*ctx.engine;
    let consumer =
        consumer_named(ctx, input.consumer_arn.as_deref(), input.stream_arn.as_deref(), input.consumer_name.as_deref())
            .await?;
    let arn = engine.consumer(&consumer).await.map(|c| engine.consumer_arn(&c));
    engine.deregister_consumer(&consumer).await?;
    // Frees the consumer's parsed policy early (`policy_cache`).
    if let Ok(arn) = arn {
        ctx.policies.forget(&arn);
    }
    Ok(())
}
