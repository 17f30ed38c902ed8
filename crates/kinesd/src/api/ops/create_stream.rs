//! CreateStream: PROVISIONED with a ShardCount, or ON_DEMAND (four shards to start).

use crate::api::{Context, access};
use crate::engine::catalog::{StreamKey, StreamMode};
use crate::engine::lifecycle::NewStream;
use crate::error::{KinesisError, Result};
use crate::protocol::model::{CreateStreamInput, StreamMode as WireMode};

pub async fn handle(ctx: &Context, input: CreateStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    let key = StreamKey::new(ctx.caller.account_id.clone(), input.stream_name.unwrap_or_default());
    access::stream(ctx, &key).await?;
    let mode = match input.stream_mode_details.as_ref().and_then(|d| d.stream_mode.as_deref()) {
        Some(m) if WireMode::parse(m) == Some(WireMode::OnDemand) => StreamMode::OnDemand,
        Some(_) => StreamMode::Provisioned,
        // Without a mode, a ShardCount means PROVISIONED and its absence ON_DEMAND.
        None if input.shard_count.is_none() => StreamMode::OnDemand,
        None => StreamMode::Provisioned,
    };
    if mode == StreamMode::OnDemand && input.shard_count.is_some() {
        return Err(KinesisError::shard_count_with_on_demand());
    }
    if input.warm_throughput_mibps.is_some() && mode != StreamMode::OnDemand {
        return Err(KinesisError::warm_throughput_needs_on_demand());
    }
    let shard_count = match input.shard_count {
        Some(n) if n < 1 => {
            return Err(KinesisError::shard_count_below_one(n));
        }
        Some(n) => Some(n as u32),
        None => None,
    };
    engine
        .create_stream(NewStream {
            key,
            shard_count,
            mode,
            tags: input.tags.map(|t| t.0).unwrap_or_default(),
            max_record_kib: input.max_record_size_in_kib.map(|k| k as u32),
            warm_throughput_mibps: input.warm_throughput_mibps,
        })
        .await
}
