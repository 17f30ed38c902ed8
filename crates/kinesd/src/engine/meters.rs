//! What flows through each stream, counted as CloudWatch names it (IncomingRecords,
//! OutgoingBytes, WriteProvisionedThroughputExceeded, …) for `GET /metrics`. The engine counts;
//! the api renders. Counting is a few relaxed atomic adds per request and shard batch, never
//! per record, never a lock on the stream-wide path. Shard-level counters are kept only for
//! streams whose EnableEnhancedMonitoring asked for them (as AWS bills and publishes them), so
//! 10,000 shards do not cost 10,000 series unless someone wants them.
//!
//! Keyed by the stream incarnation: snapshots of one stream share one [`Meters`] (like its
//! write gate), and a stream deleted and created again starts from zero, as a new series.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::RwLock;

use crate::meter::add;

/// Stream-wide counters.
#[derive(Debug, Default)]
pub struct StreamMeters {
    /// Records and bytes (data and partition keys) stored by PutRecord(s).
    pub incoming_records: AtomicU64,
    pub incoming_bytes: AtomicU64,
    /// Records and bytes returned by GetRecords.
    pub get_records_records: AtomicU64,
    pub get_records_bytes: AtomicU64,
    /// Records and bytes delivered to SubscribeToShard subscribers.
    pub fanout_records: AtomicU64,
    pub fanout_bytes: AtomicU64,
    /// Records refused with ProvisionedThroughputExceededException (PutRecords, PutRecord).
    pub write_throttled_records: AtomicU64,
    /// GetRecords calls refused with ProvisionedThroughputExceededException.
    pub read_throttled_calls: AtomicU64,
    /// Records that failed with InternalFailure (an injected fault or a store failure).
    pub failed_records: AtomicU64,
    /// Per shard, by shard index; grown on first use, only when enhanced monitoring is on.
    shards: RwLock<Vec<Arc<ShardMeters>>>,
    /// Per shard, by shard index: the iterator age its most recent GetRecords reported
    /// (CloudWatch's GetRecords.IteratorAgeMilliseconds), [`NOT_READ`] until one did. Kept for
    /// every stream, since the stream-level gauge is the worst shard; one atomic per shard the
    /// stream ever had, grown on the first GetRecords of a shard, dropped with the stream.
    iterator_ages: RwLock<Vec<AtomicU64>>,
}

/// An iterator age slot of a shard no GetRecords has read yet.
const NOT_READ: u64 = u64::MAX;

/// One shard's counters, AWS's shard-level metrics.
#[derive(Debug, Default)]
pub struct ShardMeters {
    pub incoming_records: AtomicU64,
    pub incoming_bytes: AtomicU64,
    pub outgoing_records: AtomicU64,
    pub outgoing_bytes: AtomicU64,
    pub write_throttled_records: AtomicU64,
    pub read_throttled_calls: AtomicU64,
}

/// AWS's shard-level metric names, as EnableEnhancedMonitoring takes them.
pub const SHARD_LEVEL_METRICS: [&str; 6] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
];

impl StreamMeters {
    /// The shard's counters (created on first use).
    pub fn shard(&self, index: u32) -> Arc<ShardMeters> {
        let i = index as usize;
        if let Some(m) = self.shards.read().get(i) {
            return m.clone();
        }
        let mut shards = self.shards.write();
        while shards.len() <= i {
            shards.push(Arc::default());
        }
        shards[i].clone()
    }

    /// Shards with counters, by index.
    pub fn shards(&self) -> Vec<(u32, Arc<ShardMeters>)> {
        self.shards.read().iter().enumerate().map(|(i, m)| (i as u32, m.clone())).collect()
    }

    /// Records the iterator age of a GetRecords on shard `index` (see [`iterator_age_ms`]).
    pub fn set_iterator_age(&self, index: u32, age_ms: u64) {
        let i = index as usize;
        let age = age_ms.min(NOT_READ - 1);
        if let Some(slot) = self.iterator_ages.read().get(i) {
            slot.store(age, Relaxed);
            return;
        }
        let mut ages = self.iterator_ages.write();
        while ages.len() <= i {
            ages.push(AtomicU64::new(NOT_READ));
        }
        ages[i].store(age, Relaxed);
    }

    /// The iterator age of each shard's most recent GetRecords, by index, for the shards that
    /// were read.
    pub fn iterator_ages(&self) -> Vec<(u32, u64)> {
        let ages = self.iterator_ages.read();
        ages.iter()
            .enumerate()
            .filter_map(|(i, a)| Some(a.load(Relaxed)).filter(|&v| v != NOT_READ).map(|v| (i as u32, v)))
            .collect()
    }
}

/// CloudWatch's GetRecords.IteratorAgeMilliseconds of one call: the age of the last record it
/// returned (now − its arrival), so a reader that falls behind shows a growing age. 0 when the
/// call returned nothing (the reader is at the tip: caught up) or read a closed shard to its end
/// (nothing is left to fall behind on, and a finished shard must not hold the stream's worst
/// age up forever).
pub fn iterator_age_ms(last_arrival_ms: Option<u64>, shard_ended: bool, now_ms: u64) -> u64 {
    match last_arrival_ms {
        Some(arrival) if !shard_ended => now_ms.saturating_sub(arrival),
        _ => 0,
    }
}

/// A stream incarnation's counters, shared by its snapshots. Not persisted (counters start
/// at zero with the process, as Prometheus expects of counters), and equal always, so that it
/// never makes two snapshots differ.
#[derive(Debug, Clone, Default)]
pub struct Meters(pub Arc<StreamMeters>);

impl PartialEq for Meters {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// What to count, for [`Meters::count`].
#[derive(Debug, Clone, Copy)]
pub enum Flow {
    Incoming { records: u64, bytes: u64 },
    GetRecords { records: u64, bytes: u64 },
    FanOut { records: u64, bytes: u64 },
    WriteThrottled { records: u64 },
    ReadThrottled,
    Failed { records: u64 },
}

impl Meters {
    /// Counts `flow` on the stream, and on shard `shard` when `shard_level` (the stream's
    /// enhanced monitoring is on).
    pub fn count(&self, flow: Flow, shard: u32, shard_level: bool) {
        let m = &self.0;
        match flow {
            Flow::Incoming { records, bytes } => {
                add(&m.incoming_records, records);
                add(&m.incoming_bytes, bytes);
            }
            Flow::GetRecords { records, bytes } => {
                add(&m.get_records_records, records);
                add(&m.get_records_bytes, bytes);
            }
            Flow::FanOut { records, bytes } => {
                add(&m.fanout_records, records);
                add(&m.fanout_bytes, bytes);
            }
            Flow::WriteThrottled { records } => add(&m.write_throttled_records, records),
            Flow::ReadThrottled => add(&m.read_throttled_calls, 1),
            Flow::Failed { records } => add(&m.failed_records, records),
        }
        if !shard_level {
            return;
        }
        let s = m.shard(shard);
        match flow {
            Flow::Incoming { records, bytes } => {
                add(&s.incoming_records, records);
                add(&s.incoming_bytes, bytes);
            }
            Flow::GetRecords { records, bytes } | Flow::FanOut { records, bytes } => {
                add(&s.outgoing_records, records);
                add(&s.outgoing_bytes, bytes);
            }
            Flow::WriteThrottled { records } => add(&s.write_throttled_records, records),
            Flow::ReadThrottled => add(&s.read_throttled_calls, 1),
            Flow::Failed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::read;

    #[test]
    fn shard_counters_only_when_asked() {
        let meters = Meters::default();
        meters.count(Flow::Incoming { records: 3, bytes: 30 }, 2, false);
        assert_eq!(read(&meters.0.incoming_records), 3);
        assert!(meters.0.shards().is_empty(), "no shard series without enhanced monitoring");
        meters.count(Flow::GetRecords { records: 2, bytes: 20 }, 2, true);
        meters.count(Flow::FanOut { records: 1, bytes: 10 }, 2, true);
        let shards = meters.0.shards();
        assert_eq!(shards.len(), 3);
        assert_eq!(read(&shards[2].1.outgoing_records), 3);
        assert_eq!(read(&shards[2].1.outgoing_bytes), 30);
        assert_eq!(read(&meters.0.get_records_records), 2);
        assert_eq!(read(&meters.0.fanout_bytes), 10);
    }

    #[test]
    fn iterator_ages_are_kept_per_shard_read() {
        let meters = Meters::default();
        assert!(meters.0.iterator_ages().is_empty(), "no GetRecords yet");
        meters.0.set_iterator_age(3, 1_500);
        meters.0.set_iterator_age(1, 20);
        meters.0.set_iterator_age(3, 0);
        assert_eq!(meters.0.iterator_ages(), vec![(1, 20), (3, 0)], "shards 0 and 2 were never read");
        assert_eq!(iterator_age_ms(Some(9_000), false, 10_000), 1_000);
        assert_eq!(iterator_age_ms(None, false, 10_000), 0, "an empty page: caught up");
        assert_eq!(iterator_age_ms(Some(9_000), true, 10_000), 0, "the shard's end");
        assert_eq!(iterator_age_ms(Some(11_000), false, 10_000), 0, "a clock step back is not negative age");
    }
}
