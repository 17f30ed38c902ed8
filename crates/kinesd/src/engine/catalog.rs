//! The catalog's types: streams and shards as the engine keeps (and persists) them.
//!
//! A stream's `created_ms` is its incarnation: a stream deleted and created again under the
//! same name has a new one, so iterators and tokens of the old stream stop working.
//!
//! Fields added after the first release carry `#[serde(default)]`, so catalogs written by an
//! older kinesd still load.

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
    ///
    /// A child shard takes writes from the moment its parents close, but its creation time is
    /// a second later (as AWS reports it); the time field never goes below the creation time,
    /// so a record's number never looks older than the shard's StartingSequenceNumber.
    pub fn sequence_number(&self, position: u64, arrival_ms: u64) -> SequenceNumber {
        self.sequence_at(position + 1, arrival_ms.max(self.created_ms))
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
        self.closed.map(|end| self.sequence_at(SequenceNumber::END_POSITION, end.closed_ms))
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
    trimmed.parse::<u64>().map_or(Some(0), |n| (n <= i32::MAX as u64).then_some(n as u32))
}

/// A change that takes effect when the stream's UPDATING phase ends. While it is pending the
/// stream looks (and routes records) as before, as AWS's do: a split shard keeps its range
/// and takes writes until the stream is ACTIVE again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PendingChange {
    Split {
        shard: u32,
        #[serde(with = "u128_string")]
        at: u128,
    },
    Merge {
        shard: u32,
        adjacent: u32,
    },
    /// UpdateShardCount with UNIFORM_SCALING.
    Scale {
        target: u32,
    },
    /// Mark the stream KMS-encrypted with this key (Some) or unmark it (None); records are stored
    /// as written either way.
    Encryption {
        key: Option<String>,
    },
    Mode {
        mode: StreamMode,
        warm_throughput_mibps: Option<i32>,
    },
    WarmThroughput {
        target_mibps: i32,
    },
}

/// A node's claim on finishing a stream's transition. Other nodes leave the transition alone
/// until `until_ms`; a claimant that dies lets its lease run out, and the next node to claim
/// does every step again (each is idempotent: sealing a log twice gives the same end, and child
/// logs of an abandoned attempt are orphans the reconciler deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The claimant: a random id each engine picks when it opens.
    pub node: u64,
    pub until_ms: u64,
}

/// Serialises a stream's writers against the closing of its shards: PutRecord(s) hold it
/// shared while they route and append, resharding holds it exclusively while it reads the
/// tips of the shards it closes. Without it an append routed to a shard just before it closed
/// could land after its recorded end and be acknowledged yet never readable.
///
/// Snapshots of one stream incarnation are clones of each other, so they share one gate; it
/// is not persisted, and compares equal always so that it never makes two snapshots differ.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(pub std::sync::Arc<tokio::sync::RwLock<()>>);

impl PartialEq for WriteGate {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The open shards ordered by starting hash key, built on first use so that routing a record
/// is a binary search, not a scan of every shard. It is a cache, not part of the stream's
/// value: a clone starts empty (a modified copy never routes with its original's table), it is
/// not persisted, and it compares equal always.
#[derive(Debug, Default)]
pub struct RoutingTable(std::sync::OnceLock<Vec<(u128, u128, usize)>>);

impl Clone for RoutingTable {
    fn clone(&self) -> Self {
        RoutingTable::default()
    }
}

impl PartialEq for RoutingTable {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Which stream a request means: its owning account and its name. Names are unique only
/// within an account, so every stream-level engine call takes a key, never a bare name; the api
/// builds it from the caller's account (a name) or from an ARN (which carries the account).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    pub account: String,
    pub name: String,
}

impl StreamKey {
    pub fn new(account: impl Into<String>, name: impl Into<String>) -> StreamKey {
        StreamKey { account: account.into(), name: name.into() }
    }

    /// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    pub fn arn(&self, region: &str) -> String {
        format!("arn:aws:kinesis:{region}:{}:stream/{}", self.account, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    pub name: String,
    /// The owning account. Catalogs written before accounts were kept apart lack it; their
    /// streams belong to the configured account (`--account-id`), set when the catalog loads.
    #[serde(default)]
    pub account: String,
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
    #[serde(default)]
    pub pending: Option<PendingChange>,
    /// When UpdateShardCount was accepted, for AWS's ten-per-rolling-day rule.
    #[serde(default)]
    pub scalings_ms: Vec<u64>,
    /// When the capacity mode was switched, for AWS's two-per-rolling-day rule.
    #[serde(default)]
    pub mode_switches_ms: Vec<u64>,
    /// When encryption was started or stopped, for AWS's 25-per-rolling-day rule.
    #[serde(default)]
    pub encryption_changes_ms: Vec<u64>,
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// With a shared store: the node finishing the current transition, recorded by
    /// compare-and-set before it does anything else (see `Engine::advance_locked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    #[serde(skip)]
    pub gate: WriteGate,
    #[serde(skip)]
    pub routing: RoutingTable,
    /// What flows through this incarnation (shared by its snapshots, like `gate`).
    #[serde(skip)]
    pub meters: super::meters::Meters,
}

impl Stream {
    pub fn key(&self) -> StreamKey {
        StreamKey::new(self.account.clone(), self.name.clone())
    }

    /// The position in `shards` of the open shard whose hash range holds `key`.
    pub fn route_slot(&self, key: u128) -> Option<usize> {
        let table = self.routing.0.get_or_init(|| {
            let mut t: Vec<_> = self
                .shards
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_open())
                .map(|(slot, s)| (s.range.start, s.range.end, slot))
                .collect();
            t.sort_unstable();
            t
        });
        let i = table.partition_point(|(start, _, _)| *start <= key).checked_sub(1)?;
        let (_, end, slot) = table[i];
        (key <= end).then_some(slot)
    }

    pub fn shard(&self, index: u32) -> Option<&Shard> {
        // Shards are kept in index order, and indexes are dense from 0.
        self.shards.get(index as usize).filter(|s| s.index == index)
    }

    /// Whether shard-level counters are kept: EnableEnhancedMonitoring asked for any metric.
    pub fn shard_level(&self) -> bool {
        !self.shard_level_metrics.is_empty()
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.iter().filter(|s| s.is_open())
    }

    pub fn open_shard_count(&self) -> usize {
        self.open_shards().count()
    }

    /// The open shard whose hash range holds `key`.
    pub fn route(&self, key: u128) -> Option<&Shard> {
        self.open_shards().find(|s| s.range.contains(super::hash::HashKey(key)))
    }

    pub fn is_readable(&self) -> bool {
        matches!(self.status, StreamStatus::Active | StreamStatus::Updating | StreamStatus::Deleting)
    }

    pub fn retention_ms(&self) -> u64 {
        u64::from(self.retention_hours) * 3_600_000
    }

    /// The oldest arrival time still retained at `now_ms`.
    pub fn trim_horizon_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.retention_ms())
    }

    /// A closed shard whose every record has passed the retention period is EXPIRED: AWS no
    /// longer lists it. Its records all arrived at or before it closed.
    pub fn is_expired(&self, shard: &Shard, now_ms: u64) -> bool {
        shard.closed.is_some_and(|c| c.closed_ms < self.trim_horizon_ms(now_ms))
    }

    /// When `shard` began to take writes: when its parent closed, which for a reshard's children
    /// is a second before their creation time. Listings by point in time use this, so that
    /// the shards they return tile the hash key space at every instant.
    pub fn opened_ms(&self, shard: &Shard) -> u64 {
        shard
            .parent
            .and_then(|p| self.shard(p))
            .and_then(|p| p.closed)
            .map_or(shard.created_ms, |c| c.closed_ms.min(shard.created_ms))
    }

    /// Whether `shard` was open (taking writes) at the instant `at_ms`.
    pub fn open_at(&self, shard: &Shard, at_ms: u64) -> bool {
        self.opened_ms(shard) <= at_ms && shard.closed.is_none_or(|c| c.closed_ms > at_ms)
    }

    /// Open shards of every provisioned stream count against the account's shard limit.
    pub fn counted_shards(&self) -> usize {
        if self.mode == StreamMode::Provisioned { self.open_shard_count() } else { 0 }
    }
}

/// Keeps `history` to the entries of the last `window_ms` and says whether another event fits
/// within `max` per window.
pub fn within_rate(history: &mut Vec<u64>, now_ms: u64, window_ms: u64, max: usize) -> bool {
    history.retain(|&t| t + window_ms > now_ms);
    history.len() < max
}

mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
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
        Repr { start: r.start.to_string(), end: r.end.to_string() }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashKeyRange, D::Error> {
        let r = Repr::deserialize(d)?;
        let parse = |v: &str| v.parse::<u128>().map_err(serde::de::Error::custom);
        Ok(HashKeyRange { start: parse(&r.start)?, end: parse(&r.end)? })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    fn stream_with(ranges: &[(u128, u128, bool)]) -> Stream {
        let shards = ranges
            .iter()
            .enumerate()
            .map(|(i, &(start, end, open))| Shard {
                index: i as u32,
                log: LogId(i as u64),
                range: HashKeyRange { start, end },
                parent: None,
                adjacent_parent: None,
                created_ms: 0,
                closed: (!open).then_some(ShardEnd { end_position: 0, closed_ms: 0 }),
            })
            .collect();
        let mut s: Stream = serde_json::from_str(
            r#"{"name":"s","created_ms":0,"status":"Active","status_until_ms":0,"mode":"Provisioned","retention_hours":24,"shards":[],"next_shard_index":0,"tags":[],"max_record_kib":1024,"encryption_key":null,"shard_level_metrics":[],"warm_throughput_mibps":null}"#,
        )
        .unwrap();
        s.shards = shards;
        s
    }

    proptest! {
        #[test]
        fn routing_agrees_with_a_scan_of_open_shards(n in 1u32..50, keys in proptest::collection::vec(any::<u128>(), 1..50)) {
            // A closed parent covering everything, then the creation ranges as open children.
            let mut ranges = vec![(0, u128::MAX, false)];
            ranges.extend(crate::engine::hash::creation_ranges(n).into_iter().map(|r| (r.start, r.end, true)));
            let stream = stream_with(&ranges);
            for key in keys.into_iter().chain([0, u128::MAX]) {
                let scan = stream.shards.iter().position(|s| s.is_open() && s.range.contains(crate::engine::hash::HashKey(key)));
                prop_assert_eq!(stream.route_slot(key), scan);
            }
        }
    }

    use super::*;

    #[test]
    fn shard_ids_accept_aws_shorthands() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        for s in ["shardId-000000000007", "shardId-7", "shard-7", "7", "0007", "anything-7", "-0000007"] {
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
