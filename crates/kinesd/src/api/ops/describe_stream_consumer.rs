//! DescribeStreamConsumer: by ConsumerARN, or by StreamARN and ConsumerName.

use crate::api::Context;
use crate::api::common::{consumer_named, timestamp};
use crate::error::Result;
use crate::protocol::model::{ConsumerDescription, DescribeStreamConsumerInput, DescribeStreamConsumerOutput};

pub async fn handle(ctx: &Context, input: DescribeStreamConsumerInput) -> Result<DescribeStreamConsumerOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let which =
        consumer_named(ctx, input.consumer_arn.as_deref(), input.stream_arn.as_deref(), input.consumer_name.as_deref())
            .await?;
    let consumer = engine.consumer(&which).await?;
    Ok(DescribeStreamConsumerOutput {
        consumer_description: ConsumerDescription {
            consumer_name: consumer.name.clone(),
            consumer_arn: engine.consumer_arn(&consumer),
            consumer_status: consumer.status.as_str().to_owned(),
            consumer_creation_timestamp: timestamp(consumer.created_ms),
            stream_arn: engine.stream_arn(&consumer.stream_key()),
        },
    })
}
