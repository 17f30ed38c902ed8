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
//! nothing is allocated once a shard's buckets exist. Every bucket also counts what it gave
//! out since it was last asked (`used`, an add under the lock already held), which is what
//! the usage gossip (`gossip.rs`) tells the other nodes of a cluster, so that their buckets
//! are charged with it too: limits hold approximately across nodes, with the overshoot stated
//! there. Admission never waits for the network. Memory: one entry per shard that has been
//! written or read, dropped when its stream is deleted (`forget_stream`), so the maps are
//! bounded by the shards that exist.

pub mod bucket;
pub mod gossip;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::Deserialize;

use bucket::{Nanos, TokenBucket};
use gossip::{Usage, UsageKey};

/// How far other nodes' reports may put a bucket into debt, in seconds of its rate. Reports
/// are bounded by what the other nodes' own buckets gave out, so this is only reached by a
/// dozen nodes bursting at once (then the excess is forgiven: more overshoot) or by a
/// misbehaving peer (then this node is blocked for at most this long).
const MAX_DEBT_SECONDS: f64 = 10.0;

/// How long a deleted stream is remembered, so that other nodes' usage of it arriving after
/// `forget_stream` (their last flush, or a catalog change that came first) does not bring its
/// buckets back for good: far longer than a flush plus delivery.
const FORGOTTEN_FOR: Nanos = 10_000_000_000;

/// A stream incarnation dropped by `forget_stream`, and when.
struct Forgotten {
    stream_created_ms: u64,
    account: String,
    name: String,
    at: Nanos,
}

impl Forgotten {
    fn covers(&self, key: &UsageKey) -> bool {
        match key {
            UsageKey::Shard { stream_created_ms, .. } | UsageKey::OnDemand { stream_created_ms } => {
                *stream_created_ms == self.stream_created_ms
            }
            UsageKey::Call { account, stream, .. } => {
                *account == self.account && stream.as_deref() == Some(self.name.as_str())
            }
            UsageKey::Consumer { arn, .. } => arn.contains(&consumer_prefix(&self.account, &self.name)),
        }
    }
}

/// What the ARNs of stream `name`'s consumers contain.
fn consumer_prefix(account: &str, name: &str) -> String {
    format!(":{account}:stream/{name}/consumer/")
}
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
    /// What each bucket gave out since the last gossip flush, in [`ShardBuckets::all`]'s order.
    used: [f64; 5],
}

const WRITE_RECORDS: usize = 0;
const WRITE_BYTES: usize = 1;
const READ_CALLS: usize = 2;
const READ_BYTES: usize = 3;
const ITERATORS: usize = 4;

impl ShardBuckets {
    fn new(r: &ShardRates, now: Nanos) -> ShardBuckets {
        ShardBuckets {
            write_records: TokenBucket::per_second(r.write_records_per_second, now),
            write_bytes: TokenBucket::per_second(r.write_bytes_per_second, now),
            read_calls: TokenBucket::per_second(r.read_calls_per_second, now),
            read_bytes: TokenBucket::per_second(r.read_bytes_per_second, now),
            iterators: TokenBucket::per_second(r.get_shard_iterator_per_second, now),
            used: [0.0; 5],
        }
    }

    fn all(&mut self) -> [&mut TokenBucket; 5] {
        [
            &mut self.write_records,
            &mut self.write_bytes,
            &mut self.read_calls,
            &mut self.read_bytes,
            &mut self.iterators,
        ]
    }
}

/// Charges each bucket with what other nodes took from theirs (see [`MAX_DEBT_SECONDS`]).
fn debit_all<const N: usize>(buckets: [&mut TokenBucket; N], used: &[f64], now: Nanos) {
    for (bucket, &cost) in buckets.into_iter().zip(used) {
        if cost > 0.0 {
            bucket.debit(cost, MAX_DEBT_SECONDS, now);
        }
    }
}

/// Hands over what `used` counted and starts counting again; None when nothing was used.
fn take_used<const N: usize>(used: &mut [f64; N]) -> Option<Vec<f64>> {
    if used.iter().all(|&u| u == 0.0) {
        return None;
    }
    Some(std::mem::replace(used, [0.0; N]).to_vec())
}

/// Write capacity of an on-demand stream, which grows toward twice the busiest second seen.
struct OnDemandCapacity {
    records: TokenBucket,
    bytes: TokenBucket,
    /// The second being measured: its start, and what was written in it so far.
    window_start: Nanos,
    window_records: f64,
    window_bytes: f64,
    /// Records and bytes given out since the last gossip flush.
    used: [f64; 2],
}

impl OnDemandCapacity {
    fn new(r: &OnDemandRates, now: Nanos) -> OnDemandCapacity {
        OnDemandCapacity {
            records: TokenBucket::per_second(r.write_records_per_second, now),
            bytes: TokenBucket::per_second(r.write_bytes_per_second, now),
            window_start: now,
            window_records: 0.0,
            window_bytes: 0.0,
            used: [0.0; 2],
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
    /// Bytes delivered and subscriptions admitted since the last gossip flush.
    used: [f64; 2],
}

impl ConsumerShardBuckets {
    fn new(rates: &FanOutRates, now: Nanos) -> ConsumerShardBuckets {
        ConsumerShardBuckets {
            delivery_bytes: TokenBucket::per_second(rates.bytes_per_second, now),
            subscribes: TokenBucket::per_second(rates.subscribes_per_second, now),
            used: [0.0; 2],
        }
    }

    /// Whether a SubscribeToShard may start now (AWS answers LimitExceededException otherwise).
    pub fn admit_subscribe(&mut self, now: Nanos) -> bool {
        let ok = self.subscribes.try_take(1.0, now);
        if ok {
            self.used[1] += 1.0;
        }
        ok
    }

    /// Charges a delivered event of `bytes`; how long the next delivery should wait, in
    /// nanoseconds, for the consumer to stay within its rate.
    pub fn deliver(&mut self, bytes: usize, now: Nanos) -> Nanos {
        self.delivery_bytes.charge(bytes as f64, now);
        self.used[0] += bytes as f64;
        let debt = -self.delivery_bytes.balance(now);
        if debt < 0.0 { 0 } else { (debt / self.delivery_bytes.rate() * 1e9) as Nanos + 1 }
    }
}

/// A control-plane bucket: `(account, operation, stream for per-stream rates)`.
type CallKey = (String, &'static str, Option<String>);

/// A control-plane bucket and the calls it admitted since the last gossip flush.
struct CallBucket {
    bucket: TokenBucket,
    used: [f64; 1],
}

impl CallBucket {
    fn new(rate: f64, now: Nanos) -> CallBucket {
        CallBucket { bucket: TokenBucket::per_second(rate, now), used: [0.0] }
    }
}

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
    control: Mutex<HashMap<CallKey, CallBucket>>,
    consumers: Mutex<HashMap<(String, u32), ConsumerShardBuckets>>,
    /// Streams deleted in the last [`FORGOTTEN_FOR`], oldest first: bounded by the deletions
    /// in that time.
    forgotten: Mutex<VecDeque<Forgotten>>,
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
            forgotten: Mutex::new(VecDeque::new()),
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
                    let (records, bytes) = admit(&mut b.write_records, &mut b.write_bytes, now);
                    b.used[WRITE_RECORDS] += records;
                    b.used[WRITE_BYTES] += bytes;
                });
            }
            WriteScope::OnDemand { stream_created_ms } => {
                let rates = &self.config.on_demand;
                self.with_on_demand(stream_created_ms, |c, now| {
                    c.observe(rates, now);
                    let (records, bytes) = admit(&mut c.records, &mut c.bytes, now);
                    c.window_records += records;
                    c.window_bytes += bytes;
                    c.used[0] += records;
                    c.used[1] += bytes;
                });
            }
        }
    }

    /// Whether a GetRecords may read the shard now: a call is left this second and the bytes
    /// read before have been paid for.
    pub fn admit_read(&self, stream_created_ms: u64, shard_index: u32) -> bool {
        self.with_shard((stream_created_ms, shard_index), |b, now| {
            let ok = b.read_bytes.has_credit(now) && b.read_calls.try_take(1.0, now);
            if ok {
                b.used[READ_CALLS] += 1.0;
            }
            ok
        })
    }

    /// Charges the bytes a GetRecords returned (data plus partition keys).
    pub fn charge_read(&self, stream_created_ms: u64, shard_index: u32, bytes: usize) {
        self.with_shard((stream_created_ms, shard_index), |b, now| {
            b.read_bytes.charge(bytes as f64, now);
            b.used[READ_BYTES] += bytes as f64;
        });
    }

    /// Whether a GetShardIterator on the shard is within its rate.
    pub fn admit_iterator(&self, stream_created_ms: u64, shard_index: u32) -> bool {
        self.with_shard((stream_created_ms, shard_index), |b, now| {
            let ok = b.iterators.try_take(1.0, now);
            if ok {
                b.used[ITERATORS] += 1.0;
            }
            ok
        })
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
        let call = map.entry((account.to_owned(), name, stream)).or_insert_with(|| CallBucket::new(rate, now));
        let ok = call.bucket.try_take(1.0, now);
        if ok {
            call.used[0] += 1.0;
        }
        ok
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
        let buckets =
            map.entry((consumer_arn.to_owned(), shard_index)).or_insert_with(|| ConsumerShardBuckets::new(rates, now));
        f(buckets)
    }

    /// Drops the buckets of a deleted stream's incarnation (stream `name` of `account`).
    pub fn forget_stream(&self, stream_created_ms: u64, account: &str, name: &str) {
        self.shards.write().retain(|(created, _), _| *created != stream_created_ms);
        self.on_demand.write().remove(&stream_created_ms);
        self.control.lock().retain(|(caller, _, stream), _| caller != account || stream.as_deref() != Some(name));
        let consumer_prefix = consumer_prefix(account, name);
        self.consumers.lock().retain(|(arn, _), _| !arn.contains(&consumer_prefix));
        let now = self.now();
        let mut forgotten = self.forgotten.lock();
        Self::prune(&mut forgotten, now);
        forgotten.push_back(Forgotten {
            stream_created_ms,
            account: account.to_owned(),
            name: name.to_owned(),
            at: now,
        });
    }

    fn prune(forgotten: &mut VecDeque<Forgotten>, now: Nanos) {
        while forgotten.front().is_some_and(|f| now.saturating_sub(f.at) > FORGOTTEN_FOR) {
            forgotten.pop_front();
        }
    }

    /// Whether `key` belongs to a stream deleted lately (its usage is of no more use).
    fn forgotten(&self, key: &UsageKey) -> bool {
        let mut forgotten = self.forgotten.lock();
        if forgotten.is_empty() {
            return false;
        }
        Self::prune(&mut forgotten, self.now());
        forgotten.iter().any(|f| f.covers(key))
    }
}

impl Limits {
    /// What every bucket gave out since the last call (the gossip's flush), by bucket key; the
    /// counts start again from zero. Buckets that gave out nothing are left out, so the list
    /// is bounded by the buckets that exist.
    pub fn take_usage(&self) -> Vec<Usage> {
        let mut out = Vec::new();
        for (&(stream_created_ms, shard_index), buckets) in self.shards.read().iter() {
            if let Some(used) = take_used(&mut buckets.lock().used) {
                out.push(Usage { key: UsageKey::Shard { stream_created_ms, shard_index }, used });
            }
        }
        for (&stream_created_ms, capacity) in self.on_demand.read().iter() {
            if let Some(used) = take_used(&mut capacity.lock().used) {
                out.push(Usage { key: UsageKey::OnDemand { stream_created_ms }, used });
            }
        }
        for ((account, operation, stream), call) in self.control.lock().iter_mut() {
            if let Some(used) = take_used(&mut call.used) {
                let key = UsageKey::Call { account: account.clone(), operation, stream: stream.clone() };
                out.push(Usage { key, used });
            }
        }
        for ((arn, shard_index), buckets) in self.consumers.lock().iter_mut() {
            if let Some(used) = take_used(&mut buckets.used) {
                out.push(Usage { key: UsageKey::Consumer { arn: arn.clone(), shard_index: *shard_index }, used });
            }
        }
        out
    }

    /// Charges this node's buckets with what another node's copies of them gave out, creating
    /// them if this node has not used them yet (so that it does not start with a full burst
    /// the other node has spent). Values are in the order of the bucket's `used`; missing ones
    /// count as zero, extra ones are ignored.
    pub fn apply_usage(&self, usage: &Usage) {
        if self.forgotten(&usage.key) {
            return;
        }
        let used = usage.used.as_slice();
        match &usage.key {
            &UsageKey::Shard { stream_created_ms, shard_index } => {
                self.with_shard((stream_created_ms, shard_index), |b, now| debit_all(b.all(), used, now));
            }
            &UsageKey::OnDemand { stream_created_ms } => {
                let rates = &self.config.on_demand;
                self.with_on_demand(stream_created_ms, |c, now| {
                    c.observe(rates, now);
                    debit_all([&mut c.records, &mut c.bytes], used, now);
                    // The stream's capacity grows with what all nodes wrote.
                    c.window_records += used.first().copied().unwrap_or(0.0);
                    c.window_bytes += used.get(1).copied().unwrap_or(0.0);
                });
            }
            UsageKey::Call { account, operation, stream } => {
                let Some((rate, _)) = self.config.control_rate(operation) else { return };
                let now = self.now();
                let mut map = self.control.lock();
                let call = map
                    .entry((account.clone(), operation, stream.clone()))
                    .or_insert_with(|| CallBucket::new(rate, now));
                debit_all([&mut call.bucket], used, now);
            }
            UsageKey::Consumer { arn, shard_index } => {
                let now = self.now();
                let rates = &self.config.enhanced_fan_out;
                let mut map = self.consumers.lock();
                let b = map.entry((arn.clone(), *shard_index)).or_insert_with(|| ConsumerShardBuckets::new(rates, now));
                debit_all([&mut b.delivery_bytes, &mut b.subscribes], used, now);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
