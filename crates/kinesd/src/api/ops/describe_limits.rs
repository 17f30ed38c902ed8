//! DescribeLimits: the account's shard limit and open provisioned shards, and its on-demand
//! stream count and limit.

use crate::api::{Context, access};
use crate::error::Result;
use crate::protocol::model::{DescribeLimitsInput, DescribeLimitsOutput};

pub async fn handle(ctx: &Context, _input: DescribeLimitsInput) -> Result<DescribeLimitsOutput> {
    let engine = &*ctx.engine;
    access::account(ctx, "*").await?;
    let limits = engine.limits(&ctx.caller.account_id).await?;
    Ok(DescribeLimitsOutput {
        shard_limit: limits.shard_limit as i32,
        open_shard_count: limits.open_shard_count as i32,
        on_demand_stream_count: limits.on_demand_stream_count as i32,
        on_demand_stream_count_limit: limits.on_demand_stream_count_limit as i32,
    })
}
