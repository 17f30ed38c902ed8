//! AWS's quotas, applied when `--enforce-limits` is on: token buckets per shard (writes,
//! polling reads, GetShardIterator), per on-demand stream (write capacity that grows with the
//! observed peak), per account (control-plane call rates) and — a seam for enhanced fan-out —
//! per consumer and shard. Rates are AWS's defaults (docs/aws-behaviour.md §19) unless a
//! `--limits` file overrides them ([`LimitsConfig`]).
//!
//! The decisions are made where the engine routes records to shards, so a PutRecords fails
//! exactly the records over a shard's limit and stores only the others.
//!
//! Cost: a request takes one read lock of a map and one uncontended mutex per shard it touches;
//! nothing is allocated once a shard's buckets exist. Memory: one entry per shard that has been
//! written or read, dropped when its stream is deleted (`forget_stream`), so the maps are
//! bounded by the shards that exist.

pub mod bucket;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::Deserialize;

use bucket::{Nanos, TokenBucket};

const MIB: f64 = 1024.0 * 1024.0;

/// Per-shard rates of a provisioned stream (AWS: 1,000 records/s and 1 MiB/s written; 5
/// GetRecords calls/s and 2 MiB/s read; 5 GetShardIterator calls/s).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ShardRates {
    pub write_records_per_second: f64,
    /// Data plus partition keys.
    pub write_bytes_per_second: f64,
    pub read_calls_per_second: f64,
    pub read_bytes_per_second: f64,
    pub get_shard_iterator_per_second: f64,
}

impl Default for ShardRates {
    fn default() -> Self {
        ShardRates {
            write_records_per_second: 1000.0,
            write_bytes_per_second: MIB,
            read_calls_per_second: 5.0,
            read_bytes_per_second: 2.0 * MIB,
            get_shard_iterator_per_second: 5.0,
        }
    }
}

/// Write capacity of an on-demand stream: 4 MiB/s and 4,000 records/s at creation, growing to
/// twice the peak observed in any second, up to the maxima (AWS's default 200 MiB/s and
/// 200,000 records/s).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct OnDemandRates {
    pub write_records_per_second: f64,
    pub write_bytes_per_second: f64,
    pub max_write_records_per_second: f64,
    pub max_write_bytes_per_second: f64,
}

impl Default for OnDemandRates {
    fn default() -> Self {
        OnDemandRates {
            write_records_per_second: 4000.0,
            write_bytes_per_second: 4.0 * MIB,
            max_write_records_per_second: 200_000.0,
            max_write_bytes_per_second: 200.0 * MIB,
        }
    }
}

/// Enhanced fan-out: 2 MiB/s per consumer and shard, one SubscribeToShard per second per
/// consumer and shard. Read by [`ConsumerShardBuckets`], which SubscribeToShard will use.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FanOutRates {
    pub bytes_per_second: f64,
    pub subscribes_per_second: f64,
}

impl Default for FanOutRates {
    fn default() -> Self {
        FanOutRates { bytes_per_second: 2.0 * MIB, subscribes_per_second: 1.0 }
    }
}

/// Whose calls a control-plane rate counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Account,
    /// Per account and stream.
    Stream,
}

/// AWS's control-plane rates, calls per second (docs/aws-behaviour.md §19). Operations not
/// listed have no call rate (the data plane has its own buckets; Start/StopStreamEncryption are
/// limited per rolling day elsewhere).
pub const CONTROL_RATES: &[(&str, f64, Scope)] = &[
    ("AddTagsToStream", 5.0, Scope::Account),
    ("CreateStream", 5.0, Scope::Account),
    ("DecreaseStreamRetentionPeriod", 5.0, Scope::Account),
    ("DeleteStream", 5.0, Scope::Account),
    ("DeregisterStreamConsumer", 5.0, Scope::Stream),
    ("DescribeAccountSettings", 5.0, Scope::Account),
    ("DescribeLimits", 1.0, Scope::Account),
    ("DescribeStream", 10.0, Scope::Account),
    ("DescribeStreamConsumer", 20.0, Scope::Stream),
    ("DescribeStreamSummary", 20.0, Scope::Account),
    ("DisableEnhancedMonitoring", 5.0, Scope::Account),
    ("EnableEnhancedMonitoring", 5.0, Scope::Account),
    ("IncreaseStreamRetentionPeriod", 5.0, Scope::Account),
    ("ListShards", 1000.0, Scope::Stream),
    ("ListStreamConsumers", 5.0, Scope::Stream),
    ("ListStreams", 5.0, Scope::Account),
    ("ListTagsForStream", 5.0, Scope::Account),
    ("MergeShards", 5.0, Scope::Account),
    ("RegisterStreamConsumer", 5.0, Scope::Account),
    ("RemoveTagsFromStream", 5.0, Scope::Account),
    ("SplitShard", 5.0, Scope::Account),
    ("UpdateAccountSettings", 5.0, Scope::Account),
    ("UpdateShardCount", 10.0, Scope::Account),
    ("UpdateStreamWarmThroughput", 5.0, Scope::Account),
];

/// The rates, AWS's unless a `--limits` file overrides some. The file, in TOML:
///
/// ```toml
/// [shard]
/// write-records-per-second = 10
/// [on-demand]
/// write-bytes-per-second = 65536
/// [control]
/// ListStreams = 2
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LimitsConfig {
    pub shard: ShardRates,
    pub on_demand: OnDemandRates,
    pub enhanced_fan_out: FanOutRates,
    /// Control-plane rates by operation name, over [`CONTROL_RATES`].
    pub control: BTreeMap<String, f64>,
}

impl LimitsConfig {
    /// Parses a `--limits` file's text; unknown keys and operations, and rates that are not
    /// positive, are errors.
    pub fn from_toml(text: &str) -> Result<LimitsConfig, String> {
        let config: LimitsConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        for name in config.control.keys() {
            if !CONTROL_RATES.iter().any(|(op, _, _)| op == name) {
                let known: Vec<&str> = CONTROL_RATES.iter().map(|(op, _, _)| *op).collect();
                return Err(format!("[control] {name}: not a rate-limited operation (those are {})", known.join(", ")));
            }
        }
        let s = &config.shard;
        let o = &config.on_demand;
        let f = &config.enhanced_fan_out;
        let rates = [
            ("shard.write-records-per-second", s.write_records_per_second),
            ("shard.write-bytes-per-second", s.write_bytes_per_second),
            ("shard.read-calls-per-second", s.read_calls_per_second),
            ("shard.read-bytes-per-second", s.read_bytes_per_second),
            ("shard.get-shard-iterator-per-second", s.get_shard_iterator_per_second),
            ("on-demand.write-records-per-second", o.write_records_per_second),
            ("on-demand.write-bytes-per-second", o.write_bytes_per_second),
            ("on-demand.max-write-records-per-second", o.max_write_records_per_second),
            ("on-demand.max-write-bytes-per-second", o.max_write_bytes_per_second),
            ("enhanced-fan-out.bytes-per-second", f.bytes_per_second),
            ("enhanced-fan-out.subscribes-per-second", f.subscribes_per_second),
        ];
        let control = config.control.iter().map(|(k, v)| (k.as_str(), *v));
        for (name, rate) in rates.into_iter().chain(control) {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!("{name} must be a positive number, not {rate}"));
            }
        }
        Ok(config)
    }

    /// The rate and scope of a control-plane operation, if it has one.
    fn control_rate(&self, operation: &str) -> Option<(f64, Scope)> {
        let &(_, default, scope) = CONTROL_RATES.iter().find(|(op, _, _)| *op == operation)?;
        Some((self.control.get(operation).copied().unwrap_or(default), scope))
    }
}

/// A shard of a provisioned stream: `(stream incarnation, shard index)`. Incarnations
/// (`Stream::created_ms`) are unique across names, so the key needs no stream name.
type ShardKey = (u64, u32);

/// The buckets of one shard.
struct ShardBuckets {
    write_records: TokenBucket,
    write_bytes: TokenBucket,
    read_calls: TokenBucket,
    /// Charged with what each GetRecords returned; a call is admitted while it is in credit,
    /// so a 10 MiB answer blocks the shard's readers for about five seconds.
    read_bytes: TokenBucket,
    iterators: TokenBucket,
}

impl ShardBuckets {
    fn new(r: &ShardRates, now: Nanos) -> ShardBuckets {
        ShardBuckets {
            write_records: TokenBucket::per_second(r.write_records_per_second, now),
            write_bytes: TokenBucket::per_second(r.write_bytes_per_second, now),
            read_calls: TokenBucket::per_second(r.read_calls_per_second, now),
            read_bytes: TokenBucket::per_second(r.read_bytes_per_second, now),
            iterators: TokenBucket::per_second(r.get_shard_iterator_per_second, now),
        }
    }
}

/// Write capacity of an on-demand stream, which grows toward twice the busiest second seen.
struct OnDemandCapacity {
    records: TokenBucket,
    bytes: TokenBucket,
    /// The second being measured: its start, and what was written in it so far.
    window_start: Nanos,
    window_records: f64,
    window_bytes: f64,
}

impl OnDemandCapacity {
    fn new(r: &OnDemandRates, now: Nanos) -> OnDemandCapacity {
        OnDemandCapacity {
            records: TokenBucket::per_second(r.write_records_per_second, now),
            bytes: TokenBucket::per_second(r.write_bytes_per_second, now),
            window_start: now,
            window_records: 0.0,
            window_bytes: 0.0,
        }
    }

    /// At the end of a measured second, raises the capacity to twice what it carried, if
    /// that is more (AWS: "accommodates up to double its previous peak write throughput").
    fn observe(&mut self, r: &OnDemandRates, now: Nanos) {
        if now.saturating_sub(self.window_start) < 1_000_000_000 {
            return;
        }
        let records = (2.0 * self.window_records).min(r.max_write_records_per_second);
        if records > self.records.rate() {
            self.records.set_rate(records, now);
        }
        let bytes = (2.0 * self.window_bytes).min(r.max_write_bytes_per_second);
        if bytes > self.bytes.rate() {
            self.bytes.set_rate(bytes, now);
        }
        self.window_start = now;
        self.window_records = 0.0;
        self.window_bytes = 0.0;
    }
}

/// Enhanced fan-out's limits for one consumer on one shard: delivery at 2 MiB/s (a push waits
/// for credit; nothing is dropped) and one SubscribeToShard a second. The seam SubscribeToShard
/// plugs into: [`Limits::consumer_shard`] keys them by consumer ARN and shard.
pub struct ConsumerShardBuckets {
    delivery_bytes: TokenBucket,
    subscribes: TokenBucket,
}

impl ConsumerShardBuckets {
    /// Whether a SubscribeToShard may start now (AWS answers LimitExceededException otherwise).
    pub fn admit_subscribe(&mut self, now: Nanos) -> bool {
        self.subscribes.try_take(1.0, now)
    }

    /// Charges a delivered event of `bytes`; how long the next delivery should wait, in
    /// nanoseconds, for the consumer to stay within its rate.
    pub fn deliver(&mut self, bytes: usize, now: Nanos) -> Nanos {
        self.delivery_bytes.charge(bytes as f64, now);
        let debt = -self.delivery_bytes.balance(now);
        if debt < 0.0 { 0 } else { (debt / self.delivery_bytes.rate() * 1e9) as Nanos + 1 }
    }
}

/// A control-plane bucket: `(account, operation, stream for per-stream rates)`.
type CallKey = (String, &'static str, Option<String>);

/// What a write to a shard may take, decided record by record in request order.
pub enum WriteScope {
    /// A shard of a provisioned stream.
    Shard { stream_created_ms: u64, shard_index: u32 },
    /// An on-demand stream, whose capacity is the stream's, not its shards'.
    OnDemand { stream_created_ms: u64 },
}

pub struct Limits {
    config: LimitsConfig,
    epoch: Instant,
    shards: RwLock<HashMap<ShardKey, Mutex<ShardBuckets>>>,
    on_demand: RwLock<HashMap<u64, Mutex<OnDemandCapacity>>>,
    /// `(account, operation, stream for per-stream rates)`; one entry per account and
    /// rate-limited operation (and stream), so bounded by the streams that exist.
    control: Mutex<HashMap<CallKey, TokenBucket>>,
    consumers: Mutex<HashMap<(String, u32), ConsumerShardBuckets>>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Limits {
        Limits {
            config,
            epoch: Instant::now(),
            shards: RwLock::new(HashMap::new()),
            on_demand: RwLock::new(HashMap::new()),
            control: Mutex::new(HashMap::new()),
            consumers: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    pub fn now(&self) -> Nanos {
        self.epoch.elapsed().as_nanos() as Nanos
    }

    fn with_shard<T>(&self, key: ShardKey, f: impl FnOnce(&mut ShardBuckets, Nanos) -> T) -> T {
        let now = self.now();
        if let Some(buckets) = self.shards.read().get(&key) {
            return f(&mut buckets.lock(), now);
        }
        let mut map = self.shards.write();
        let buckets = map.entry(key).or_insert_with(|| Mutex::new(ShardBuckets::new(&self.config.shard, now)));
        f(buckets.get_mut(), now)
    }

    fn with_on_demand<T>(&self, stream: u64, f: impl FnOnce(&mut OnDemandCapacity, Nanos) -> T) -> T {
        let now = self.now();
        if let Some(capacity) = self.on_demand.read().get(&stream) {
            return f(&mut capacity.lock(), now);
        }
        let mut map = self.on_demand.write();
        let capacity =
            map.entry(stream).or_insert_with(|| Mutex::new(OnDemandCapacity::new(&self.config.on_demand, now)));
        f(capacity.get_mut(), now)
    }

    /// Admits records in order while the scope has capacity for them: `sizes` are each record's
    /// data plus partition key; `admitted` is called with each record's position and verdict.
    pub fn admit_writes(&self, scope: WriteScope, sizes: impl Iterator<Item = usize>, mut admitted: impl FnMut(bool)) {
        let admit = |records: &mut TokenBucket, bytes: &mut TokenBucket, now: Nanos| {
            let mut taken = (0.0, 0.0);
            for size in sizes {
                let ok = records.can_take(1.0, now) && bytes.can_take(size as f64, now);
                if ok {
                    records.take(1.0);
                    bytes.take(size as f64);
                    taken.0 += 1.0;
                    taken.1 += size as f64;
                }
                admitted(ok);
            }
            taken
        };
        match scope {
            WriteScope::Shard { stream_created_ms, shard_index } => {
                self.with_shard((stream_created_ms, shard_index), |b, now| {
                    admit(&mut b.write_records, &mut b.write_bytes, now);
                });
            }
            WriteScope::OnDemand { stream_created_ms } => {
                let rates = &self.config.on_demand;
                self.with_on_demand(stream_created_ms, |c, now| {
                    c.observe(rates, now);
                    let (records, bytes) = admit(&mut c.records, &mut c.bytes, now);
                    c.window_records += records;
                    c.window_bytes += bytes;
                });
            }
        }
    }

    /// Whether a GetRecords may read the shard now: a call is left this second and the bytes
    /// read before have been paid for.
    pub fn admit_read(&self, stream_created_ms: u64, shard_index: u32) -> bool {
        self.with_shard((stream_created_ms, shard_index), |b, now| {
            b.read_bytes.has_credit(now) && b.read_calls.try_take(1.0, now)
        })
    }

    /// Charges the bytes a GetRecords returned (data plus partition keys).
    pub fn charge_read(&self, stream_created_ms: u64, shard_index: u32, bytes: usize) {
        self.with_shard((stream_created_ms, shard_index), |b, now| b.read_bytes.charge(bytes as f64, now));
    }

    /// Whether a GetShardIterator on the shard is within its rate.
    pub fn admit_iterator(&self, stream_created_ms: u64, shard_index: u32) -> bool {
        self.with_shard((stream_created_ms, shard_index), |b, now| b.iterators.try_take(1.0, now))
    }

    /// Whether `operation` has a control-plane call rate.
    pub fn has_call_rate(&self, operation: &str) -> bool {
        CONTROL_RATES.iter().any(|(op, _, _)| *op == operation)
    }

    /// Whether a control-plane call is within its rate for `account` (and `stream`, for
    /// per-stream rates). Operations without a rate are always admitted.
    pub fn admit_call(&self, account: &str, operation: &str, stream: Option<&str>) -> bool {
        let Some((rate, scope)) = self.config.control_rate(operation) else { return true };
        let Some(&(name, _, _)) = CONTROL_RATES.iter().find(|(op, _, _)| *op == operation) else { return true };
        let stream = match scope {
            Scope::Account => None,
            Scope::Stream => stream.map(str::to_owned),
        };
        let now = self.now();
        let mut map = self.control.lock();
        map.entry((account.to_owned(), name, stream))
            .or_insert_with(|| TokenBucket::per_second(rate, now))
            .try_take(1.0, now)
    }

    /// The enhanced fan-out buckets of a consumer on a shard (the seam for SubscribeToShard).
    pub fn consumer_shard<T>(
        &self,
        consumer_arn: &str,
        shard_index: u32,
        f: impl FnOnce(&mut ConsumerShardBuckets) -> T,
    ) -> T {
        let now = self.now();
        let rates = &self.config.enhanced_fan_out;
        let mut map = self.consumers.lock();
        let buckets = map.entry((consumer_arn.to_owned(), shard_index)).or_insert_with(|| ConsumerShardBuckets {
            delivery_bytes: TokenBucket::per_second(rates.bytes_per_second, now),
            subscribes: TokenBucket::per_second(rates.subscribes_per_second, now),
        });
        f(buckets)
    }

    /// Drops the buckets of a deleted stream's incarnation (stream `name` of `account`).
    pub fn forget_stream(&self, stream_created_ms: u64, account: &str, name: &str) {
        self.shards.write().retain(|(created, _), _| *created != stream_created_ms);
        self.on_demand.write().remove(&stream_created_ms);
        self.control.lock().retain(|(caller, _, stream), _| caller != account || stream.as_deref() != Some(name));
        let consumer_prefix = format!(":{account}:stream/{name}/consumer/");
        self.consumers.lock().retain(|(arn, _), _| !arn.contains(&consumer_prefix));
    }
}

#[cfg(test)]
mod tests;
