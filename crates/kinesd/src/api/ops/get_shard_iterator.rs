//! GetShardIterator: all five iterator types, with AWS's checks on their arguments.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::engine::Engine;
use crate::engine::catalog::{StreamKey, parse_shard_id, shard_id};
use crate::engine::claim::{Claim, Version};
use crate::engine::records::IteratorStart;
use crate::error::{KinesisError, Result};
use crate::protocol::Timestamp;
use crate::protocol::model::{GetShardIteratorInput, GetShardIteratorOutput, ShardIteratorType};

pub async fn handle(ctx: &Context, input: GetShardIteratorInput) -> Result<GetShardIteratorOutput> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let shard = input.shard_id.unwrap_or_default();
    let start = iterator_start(
        engine,
        &name,
        &shard,
        input.shard_iterator_type.as_deref(),
        input.starting_sequence_number.as_deref(),
        input.timestamp,
    )
    .await?;
    let iterator = engine.get_shard_iterator(&name, &shard, start).await?;
    Ok(GetShardIteratorOutput { shard_iterator: Some(iterator) })
}

/// Where a reader starts, from an iterator type and its arguments, with AWS's checks on them;
/// SubscribeToShard's StartingPosition takes the same (aws-behaviour.md §21).
pub async fn iterator_start(
    engine: &Engine,
    stream: &StreamKey,
    shard: &str,
    kind: Option<&str>,
    sequence: Option<&str>,
    timestamp: Option<Timestamp>,
) -> Result<IteratorStart> {
    let kind = kind.and_then(ShardIteratorType::parse);
    Ok(match (kind, sequence) {
        (Some(ShardIteratorType::AtSequenceNumber), Some(s)) => {
            IteratorStart::AtSequence(parse(engine, stream, shard, s).await?)
        }
        (Some(ShardIteratorType::AfterSequenceNumber), Some(s)) => {
            IteratorStart::AfterSequence(parse(engine, stream, shard, s).await?)
        }
        (Some(ShardIteratorType::TrimHorizon), None) => IteratorStart::TrimHorizon,
        (Some(ShardIteratorType::Latest), None) => IteratorStart::Latest,
        (Some(ShardIteratorType::AtTimestamp), _) => match timestamp {
            Some(ts) => IteratorStart::AtTimestamp(ts.millis),
            None => {
                return Err(KinesisError::iterator_timestamp_missing());
            }
        },
        (Some(kind), _) => {
            return Err(KinesisError::iterator_arguments_mismatch(kind.as_str(), sequence.is_some()));
        }
        (None, _) => {
            return Err(KinesisError::iterator_type_invalid());
        }
    })
}

async fn parse(engine: &Engine, stream: &StreamKey, shard: &str, s: &str) -> Result<Claim> {
    match Claim::decode(s) {
        Ok(claim) if claim.version != Version::V3 => Ok(claim),
        _ => {
            // AWS reports a missing stream or shard before a malformed sequence number.
            engine.get_shard_iterator(stream, shard, IteratorStart::TrimHorizon).await?;
            let shown = parse_shard_id(shard).map_or_else(|| shard.to_owned(), shard_id);
            Err(KinesisError::sequence_number_invalid(s, &shown, &stream.name, &stream.account))
        }
    }
}
