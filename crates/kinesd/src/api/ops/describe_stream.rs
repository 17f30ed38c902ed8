//! DescribeStream: the stream with a page of its shards (Limit, ExclusiveStartShardId).

use crate::api::Context;
use crate::api::common::{
    after_shard, encryption_type, enhanced_monitoring, mode_details, shard_view, stream_key, timestamp,
};
use crate::engine::catalog::StreamStatus;
use crate::engine::now_ms;
use crate::error::Result;
use crate::protocol::model::{DescribeStreamInput, DescribeStreamOutput, StreamDescription};

/// DescribeStream never returns more than this many shards per call.
const MAX_SHARDS_PER_PAGE: usize = 100;

pub async fn handle(ctx: &Context, input: DescribeStreamInput) -> Result<DescribeStreamOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let stream = engine.stream(&name).await?;
    let limit = input.limit.map_or(MAX_SHARDS_PER_PAGE, |l| l as usize).min(MAX_SHARDS_PER_PAGE);
    // A stream that is being created or deleted shows no shards.
    let visible: Vec<_> = if matches!(stream.status, StreamStatus::Creating | StreamStatus::Deleting) {
        Vec::new()
    } else {
        // Shards whose records have all expired are not listed, as AWS's are not.
        let after = input.exclusive_start_shard_id.as_deref();
        let now = now_ms();
        stream.shards.iter().filter(|s| after.is_none_or(|a| after_shard(s, a)) && !stream.is_expired(s, now)).collect()
    };
    let has_more_shards = visible.len() > limit;
    let encryption = encryption_type(&stream);
    Ok(DescribeStreamOutput {
        stream_description: StreamDescription {
            stream_name: stream.name.clone(),
            stream_arn: engine.stream_arn(&stream.key()),
            stream_status: stream.status.as_str().to_owned(),
            stream_mode_details: mode_details(&stream),
            shards: visible.into_iter().take(limit).map(shard_view).collect(),
            has_more_shards,
            retention_period_hours: stream.retention_hours as i32,
            stream_creation_timestamp: timestamp(stream.created_ms),
            enhanced_monitoring: enhanced_monitoring(&stream),
            key_id: stream.encryption_key.clone(),
            encryption_type: Some(encryption),
        },
    })
}
