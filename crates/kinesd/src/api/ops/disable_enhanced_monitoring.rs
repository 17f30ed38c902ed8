//! DisableEnhancedMonitoring: removes shard-level metrics (ALL means all seven) and
//! answers with the metrics before (Current) and after (Desired) the change, in AWS's order.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::{DisableEnhancedMonitoringInput, EnhancedMonitoringOutput};

pub async fn handle(ctx: &Context, input: DisableEnhancedMonitoringInput) -> Result<EnhancedMonitoringOutput> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let metrics = input.shard_level_metrics.unwrap_or_default();
    let change = engine.change_metrics(&name, false, &metrics).await?;
    Ok(EnhancedMonitoringOutput {
        stream_name: Some(name.name.clone()),
        current_shard_level_metrics: Some(change.current),
        desired_shard_level_metrics: Some(change.desired),
        stream_arn: Some(engine.stream_arn(&name)),
    })
}
