//! UpdateShardCount (UNIFORM_SCALING): the stream goes UPDATING; when it is ACTIVE again its
//! open shards have the ranges a new stream of TargetShardCount shards would have, reached by
//! splits and merges with full lineage.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::{UpdateShardCountInput, UpdateShardCountOutput};

pub async fn handle(ctx: &Context, input: UpdateShardCountInput) -> Result<UpdateShardCountOutput> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    // The model requires TargetShardCount >= 1 and the only ScalingType, UNIFORM_SCALING.
    let target = input.target_shard_count.unwrap_or(1).max(1) as u32;
    let current = engine.update_shard_count(&name, target).await?;
    Ok(UpdateShardCountOutput {
        stream_name: Some(name.name.clone()),
        current_shard_count: Some(current as i32),
        target_shard_count: Some(target as i32),
        stream_arn: Some(engine.stream_arn(&name)),
    })
}
