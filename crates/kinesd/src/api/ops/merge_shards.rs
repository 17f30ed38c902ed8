//! MergeShards: the stream goes UPDATING; when it is ACTIVE again both shards are closed and
//! one child covers their ranges (ParentShardId = ShardToMerge, AdjacentParentShardId = the
//! other, which must start right after it ends).

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::MergeShardsInput;

pub async fn handle(ctx: &Context, input: MergeShardsInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    engine
        .merge_shards(
            &name,
            input.shard_to_merge.as_deref().unwrap_or_default(),
            input.adjacent_shard_to_merge.as_deref().unwrap_or_default(),
        )
        .await
}
