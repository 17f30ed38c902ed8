//! DescribeStreamSummary: the stream without its shards. Never returns StreamId, which would
//! send SDKs to AWS's endpoints instead of ours.

use crate::api::Context;
use crate::api::common::{encryption_type, enhanced_monitoring, mode_details, stream_key, timestamp};
use crate::engine::catalog::{PendingChange, Stream, StreamStatus};
use crate::error::Result;
use crate::protocol::model::{
    DescribeStreamSummaryInput, DescribeStreamSummaryOutput, StreamDescriptionSummary, WarmThroughputObject,
};

pub async fn handle(ctx: &Context, input: DescribeStreamSummaryInput) -> Result<DescribeStreamSummaryOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let stream = engine.stream(&name).await?;
    let open_shard_count = if stream.status == StreamStatus::Creating { 0 } else { stream.open_shard_count() };
    Ok(DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            stream_name: stream.name.clone(),
            stream_arn: engine.stream_arn(&stream.key()),
            stream_id: None,
            stream_status: stream.status.as_str().to_owned(),
            stream_mode_details: mode_details(&stream),
            retention_period_hours: stream.retention_hours as i32,
            stream_creation_timestamp: timestamp(stream.created_ms),
            enhanced_monitoring: enhanced_monitoring(&stream),
            encryption_type: Some(encryption_type(&stream)),
            key_id: stream.encryption_key.clone(),
            open_shard_count: open_shard_count as i32,
            consumer_count: Some(engine.consumers_of(&name).await?.len() as i32),
            warm_throughput: warm_throughput(&stream),
            max_record_size_in_kib: Some(stream.max_record_kib as i32),
        },
    })
}

/// While UpdateStreamWarmThroughput is pending the target is the new value and the current one
/// the old; afterwards both are the new value.
fn warm_throughput(stream: &Stream) -> Option<WarmThroughputObject> {
    let target = match stream.pending {
        Some(PendingChange::WarmThroughput { target_mibps }) => Some(target_mibps),
        _ => stream.warm_throughput_mibps,
    }?;
    Some(WarmThroughputObject {
        target_mibps: Some(target),
        current_mibps: Some(stream.warm_throughput_mibps.unwrap_or(0)),
    })
}
