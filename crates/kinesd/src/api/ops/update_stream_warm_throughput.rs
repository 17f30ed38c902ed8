//! UpdateStreamWarmThroughput: on-demand streams of an account with a minimum throughput
//! billing commitment; the stream goes UPDATING and reports the target until it is reached.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::{UpdateStreamWarmThroughputInput, UpdateStreamWarmThroughputOutput, WarmThroughputObject};

pub async fn handle(ctx: &Context, input: UpdateStreamWarmThroughputInput) -> Result<UpdateStreamWarmThroughputOutput> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let target = input.warm_throughput_mibps.unwrap_or_default();
    let change = engine.update_warm_throughput(&name, target).await?;
    Ok(UpdateStreamWarmThroughputOutput {
        stream_arn: Some(engine.stream_arn(&name)),
        stream_name: Some(name.name.clone()),
        warm_throughput: Some(WarmThroughputObject {
            target_mibps: Some(change.target),
            current_mibps: Some(change.current.unwrap_or(0)),
        }),
    })
}
