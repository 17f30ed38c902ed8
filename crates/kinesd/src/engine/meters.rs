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
use std::sync::atomic::AtomicU64;

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
}

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
}
