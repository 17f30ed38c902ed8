//! SplitShard: the stream goes UPDATING; when it is ACTIVE again the shard is closed and two
//! children split its hash key range at NewStartingHashKey.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::SplitShardInput;

pub async fn handle(ctx: &Context, input: SplitShardInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    engine
        .split_shard(
            &name,
            input.shard_to_split.as_deref().unwrap_or_default(),
            input.new_starting_hash_key.as_deref().unwrap_or_default(),
        )
        .await
}
