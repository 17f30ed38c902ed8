//! The catalog's types: streams and shards as the engine keeps (and persists) them.
//!
//! A stream's `created_ms` is its incarnation: a stream deleted and created again under the
//! same name has a new one, so iterators and tokens of the old stream stop working.

use serde::{Deserialize, Serialize};

use super::hash::HashKeyRange;
use super::sequence::SequenceNumber;
use crate::store::LogId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

/// Where a closed shard ends: no record at or after `end_position` will ever exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEnd {
    pub end_position: u64,
    pub closed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub log: LogId,
    #[serde(with = "range_serde")]
    pub range: HashKeyRange,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub created_ms: u64,
    pub closed: Option<ShardEnd>,
}

impl Shard {
    pub fn id(&self) -> String {
        shard_id(self.index)
    }

    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }

    /// The sequence number of the record at log position `position`. Sequence positions are
    /// log positions plus one, so that every record sorts strictly after the shard's
    /// StartingSequenceNumber (sequence position 0), as AWS's do.
    pub fn sequence_number(&self, position: u64, arrival_ms: u64) -> SequenceNumber {
        self.sequence_at(position + 1, arrival_ms)
    }

    /// The log position a sequence number of this shard refers to.
    pub fn log_position(sequence: &SequenceNumber) -> u64 {
        sequence.position.saturating_sub(1)
    }

    fn sequence_at(&self, sequence_position: u64, at_ms: u64) -> SequenceNumber {
        SequenceNumber {
            shard_created_secs: self.created_ms / 1000,
            shard_index: self.index,
            position: sequence_position,
            arrival_secs: at_ms / 1000,
        }
    }

    pub fn starting_sequence_number(&self) -> SequenceNumber {
        self.sequence_at(0, self.created_ms)
    }

    pub fn ending_sequence_number(&self) -> Option<SequenceNumber> {
        self.closed
            .map(|end| self.sequence_at(SequenceNumber::END_POSITION, end.closed_ms))
    }
}

/// `shardId-000000000042`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Parses a shard id the way AWS does: any text ending in `-<digits>` or just `<digits>`
/// (`shardId-000000000001`, `shardId-1`, `shard-1`, `1`), whose number fits a Java int.
pub fn parse_shard_id(s: &str) -> Option<u32> {
    let digits = s.rsplit_once('-').map_or(s, |(_, d)| d);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 10 {
        return None;
    }
    trimmed
        .parse::<u64>()
        .map_or(Some(0), |n| (n <= i32::MAX as u64).then_some(n as u32))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    pub name: String,
    pub created_ms: u64,
    pub status: StreamStatus,
    /// When the current CREATING/UPDATING/DELETING phase ends (0 when ACTIVE).
    pub status_until_ms: u64,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub shards: Vec<Shard>,
    pub next_shard_index: u32,
    pub tags: Vec<(String, String)>,
    pub max_record_kib: u32,
    pub encryption_key: Option<String>,
    pub shard_level_metrics: Vec<String>,
    pub warm_throughput_mibps: Option<i32>,
}

impl Stream {
    pub fn shard(&self, index: u32) -> Option<&Shard> {
        // Shards are kept in index order, and indexes are dense from 0.
        self.shards.get(index as usize).filter(|s| s.index == index)
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.iter().filter(|s| s.is_open())
    }

    pub fn open_shard_count(&self) -> usize {
        self.open_shards().count()
    }

    /// The open shard whose hash range holds `key`.
    pub fn route(&self, key: u128) -> Option<&Shard> {
        self.open_shards()
            .find(|s| s.range.contains(super::hash::HashKey(key)))
    }

    pub fn is_readable(&self) -> bool {
        matches!(
            self.status,
            StreamStatus::Active | StreamStatus::Updating | StreamStatus::Deleting
        )
    }
}

mod range_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::engine::hash::HashKeyRange;

    #[derive(Serialize, Deserialize)]
    struct Repr {
        start: String,
        end: String,
    }

    pub fn serialize<S: Serializer>(r: &HashKeyRange, s: S) -> Result<S::Ok, S::Error> {
        Repr {
            start: r.start.to_string(),
            end: r.end.to_string(),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashKeyRange, D::Error> {
        let r = Repr::deserialize(d)?;
        let parse = |v: &str| v.parse::<u128>().map_err(serde::de::Error::custom);
        Ok(HashKeyRange {
            start: parse(&r.start)?,
            end: parse(&r.end)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids_accept_aws_shorthands() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        for s in [
            "shardId-000000000007",
            "shardId-7",
            "shard-7",
            "7",
            "0007",
            "anything-7",
            "-0000007",
        ] {
            assert_eq!(parse_shard_id(s), Some(7), "{s}");
        }
        assert_eq!(parse_shard_id("a-00002147483647"), Some(2_147_483_647));
        assert_eq!(parse_shard_id("shardId-000000000000"), Some(0));
        for s in [
            "",
            "shardId-",
            "shardId-x",
            "abc",
            "ABKLFD8",
            "2.14E4",
            "2147483648",
            "shardId-002147483648",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_shard_id(s), None, "{s}");
        }
    }
}
