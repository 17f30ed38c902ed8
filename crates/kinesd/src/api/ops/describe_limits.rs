//! DescribeLimits: the account's shard limit and open provisioned shards, and its on-demand
//! stream count and limit.

use crate::api::model::{DescribeLimitsInput, DescribeLimitsOutput};
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, _input: DescribeLimitsInput) -> Result<DescribeLimitsOutput> {
    let limits = engine.limits().await?;
    Ok(DescribeLimitsOutput {
        shard_limit: limits.shard_limit as i32,
        open_shard_count: limits.open_shard_count as i32,
        on_demand_stream_count: limits.on_demand_stream_count as i32,
        on_demand_stream_count_limit: limits.on_demand_stream_count_limit as i32,
    })
}
