//! Pieces several operations share: naming the stream a request is about.

use super::model;
use crate::engine::Engine;
use crate::engine::catalog::{Stream, shard_id};
use crate::error::{KinesisError, Result};
use crate::protocol::Timestamp;

/// The stream a request names by `StreamName`, `StreamARN` or both (which must agree).
pub fn stream_name(engine: &Engine, name: Option<&str>, arn: Option<&str>) -> Result<String> {
    let from_arn = match arn {
        Some(arn) => Some(stream_name_from_arn(engine, arn)?),
        None => None,
    };
    match (name, from_arn) {
        (Some(name), Some(arn_name)) if name != arn_name => {
            Err(KinesisError::InvalidArgument(format!(
                "StreamARN {} does not match StreamName {name}.",
                arn.unwrap_or_default()
            )))
        }
        (Some(name), _) => Ok(name.to_owned()),
        (None, Some(arn_name)) => Ok(arn_name),
        (None, None) => Err(KinesisError::InvalidArgument(
            "Either StreamName or StreamARN must be provided.".to_owned(),
        )),
    }
}

/// `arn:aws:kinesis:<region>:<account>:stream/<name>`; a stream of another account or region is
/// one this server does not have.
fn stream_name_from_arn(engine: &Engine, arn: &str) -> Result<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let resource = parts.get(5).and_then(|r| r.strip_prefix("stream/"));
    match (parts.as_slice(), resource) {
        ([_, _, "kinesis", region, account, _], Some(name))
            if !name.is_empty() && !name.contains('/') =>
        {
            if *region != engine.config.region || *account != engine.config.account_id {
                return Err(KinesisError::ResourceNotFound(format!(
                    "Stream {name} under account {account} not found."
                )));
            }
            Ok(name.to_owned())
        }
        _ => Err(KinesisError::InvalidArgument(format!(
            "Invalid StreamARN {arn}."
        ))),
    }
}

/// A shard as DescribeStream and ListShards show it.
pub fn shard_view(shard: &crate::engine::catalog::Shard) -> model::Shard {
    model::Shard {
        shard_id: shard.id(),
        parent_shard_id: shard.parent.map(shard_id),
        adjacent_parent_shard_id: shard.adjacent_parent.map(shard_id),
        hash_key_range: hash_range_view(&shard.range),
        sequence_number_range: model::SequenceNumberRange {
            starting_sequence_number: shard.starting_sequence_number().to_string(),
            ending_sequence_number: shard.ending_sequence_number().map(|s| s.to_string()),
        },
    }
}

pub fn hash_range_view(range: &crate::engine::hash::HashKeyRange) -> model::HashKeyRange {
    model::HashKeyRange {
        starting_hash_key: range.start.to_string(),
        ending_hash_key: range.end.to_string(),
    }
}

/// AWS lists `[{"ShardLevelMetrics": []}]` when no metric is enabled.
pub fn enhanced_monitoring(stream: &Stream) -> Vec<model::EnhancedMetrics> {
    vec![model::EnhancedMetrics {
        shard_level_metrics: Some(stream.shard_level_metrics.clone()),
    }]
}

pub fn mode_details(stream: &Stream) -> Option<model::StreamModeDetails> {
    Some(model::StreamModeDetails {
        stream_mode: Some(stream.mode.as_str().to_owned()),
    })
}

pub fn encryption_type(stream: &Stream) -> String {
    if stream.encryption_key.is_some() {
        "KMS"
    } else {
        "NONE"
    }
    .to_owned()
}

pub fn timestamp(ms: u64) -> Timestamp {
    Timestamp { millis: ms as i64 }
}

/// Whether `shard` comes after `exclusive_start` (a shard id that need not exist; AWS's
/// shorthands are normalised, anything else compares as text, as AWS does).
pub fn after_shard(shard: &crate::engine::catalog::Shard, exclusive_start: &str) -> bool {
    match crate::engine::catalog::parse_shard_id(exclusive_start) {
        Some(index) => shard.index > index,
        None => shard.id().as_str() > exclusive_start,
    }
}
