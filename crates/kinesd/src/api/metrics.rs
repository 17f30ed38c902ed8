//! `GET /metrics`: the Prometheus text format (0.0.4), written by `prometheus-client` from
//! counters the layers keep as plain atomics — requests here, streams and subscriptions in the
//! engine, the journal in the store, connections in the transport — read only when scraped
//! (decision 0016). Recording costs a request two relaxed adds and a histogram bucket; no
//! label is formatted or allocated until a scrape, and a scrape walks what exists (streams,
//! live subscriptions) once, so its cost grows with the number of streams, not with traffic.
//!
//! Per-stream series carry `stream` and `account` labels; shard-level series exist only for
//! streams whose EnableEnhancedMonitoring asked for the metric (or ALL), as in CloudWatch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};

use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::engine::Engine;
use crate::engine::meters::ShardMeters;
use crate::meter::{Histogram, HistogramSnapshot, LATENCY_MICROS, add, read};
use crate::protocol::model::Operation;
use crate::protocol::wire::{ConnectionStats, WireResponse};

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// How a request ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// ProvisionedThroughputExceededException or LimitExceededException.
    Throttled,
    /// Any other 4xx: the client's request was wrong.
    ClientError,
    /// 5xx: kinesd failed (InternalFailure, an injected fault).
    ServerError,
}

const OUTCOMES: [Outcome; 4] = [Outcome::Success, Outcome::Throttled, Outcome::ClientError, Outcome::ServerError];

impl Outcome {
    pub fn of(response: &WireResponse) -> Outcome {
        match (response.status, response.error_type) {
            (200..=299, _) => Outcome::Success,
            (_, Some("ProvisionedThroughputExceededException" | "LimitExceededException")) => Outcome::Throttled,
            (500.., _) => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Throttled => "throttled",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }
}

/// Requests by operation (and one slot for requests that named no known operation).
const SLOTS: usize = Operation::ALL.len() + 1;

/// Request counters and latency histograms, one set per operation, allocated once.
#[derive(Debug)]
pub struct RequestMeters {
    /// `[slot][outcome]`.
    counts: Box<[[AtomicU64; 4]]>,
    latency: Box<[Histogram]>,
}

impl Default for RequestMeters {
    fn default() -> Self {
        RequestMeters {
            counts: (0..SLOTS).map(|_| Default::default()).collect(),
            latency: (0..SLOTS).map(|_| Histogram::new(LATENCY_MICROS)).collect(),
        }
    }
}

fn slot(operation: Option<Operation>) -> usize {
    // Operation's variants are declared in the order of `Operation::ALL` (a test checks it).
    operation.map_or(SLOTS - 1, |op| op as usize)
}

fn operation_label(slot: usize) -> &'static str {
    Operation::ALL.get(slot).map_or("unknown", |op| op.name())
}

impl RequestMeters {
    pub fn record(&self, operation: Option<Operation>, outcome: Outcome, latency: Duration) {
        let s = slot(operation);
        let o = OUTCOMES.iter().position(|&x| x == outcome).unwrap_or(0);
        add(&self.counts[s][o], 1);
        self.latency[s].observe(latency.as_micros() as u64);
    }
}

/// Everything a scrape reads.
struct Sources {
    engine: Arc<Engine>,
    requests: Arc<RequestMeters>,
    connections: Arc<ConnectionStats>,
    /// Seconds since the epoch when the process started.
    started: f64,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// The scrape endpoint's registry: one collector over every source.
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new(engine: Arc<Engine>, requests: Arc<RequestMeters>, connections: Arc<ConnectionStats>) -> Metrics {
        let started =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Sources { engine, requests, connections, started }));
        Metrics { registry }
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn no_labels() -> Labels<'static> {
    Vec::new()
}

fn stream_labels<'a>(name: &'a str, account: &'a str) -> Labels<'a> {
    vec![("stream", name), ("account", account)]
}

/// One metric family: a descriptor and its samples.
fn family<'a, L: EncodeLabelSet + 'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (L, Sample)>,
) -> std::fmt::Result {
    let mut metric = e.encode_descriptor(name, help, None, kind)?;
    for (labels, sample) in samples {
        let mut m = metric.encode_family(&labels)?;
        match sample {
            Sample::Counter(v) => m.encode_counter::<NoLabelSet, _, f64>(&v, None)?,
            Sample::CounterF(v) => m.encode_counter::<NoLabelSet, _, f64>(&v, None)?,
            Sample::Gauge(v) => m.encode_gauge(&v)?,
            Sample::GaugeF(v) => m.encode_gauge(&v)?,
            Sample::Histogram(h) => m.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?,
        }
    }
    Ok(())
}

enum Sample {
    Counter(u64),
    CounterF(f64),
    Gauge(u64),
    GaugeF(f64),
    Histogram(HistogramSnapshot),
}

impl Collector for Sources {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        self.requests(&mut e)?;
        self.streams(&mut e)?;
        self.consumers(&mut e)?;
        self.storage(&mut e)?;
        process(&mut e, self.started)
    }
}

impl Sources {
    fn requests(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let r = &self.requests;
        let counts = (0..SLOTS).flat_map(|s| {
            OUTCOMES.iter().enumerate().filter_map(move |(o, outcome)| {
                let n = read(&r.counts[s][o]);
                (n > 0).then(|| {
                    (vec![("operation", operation_label(s)), ("outcome", outcome.label())], Sample::Counter(n))
                })
            })
        });
        family(e, "kinesd_requests", "Kinesis API requests by operation and outcome.", MetricType::Counter, counts)?;
        let latency = (0..SLOTS).filter_map(|s| {
            let h = r.latency[s].snapshot(1e-6);
            (h.count > 0).then(|| (vec![("operation", operation_label(s))], Sample::Histogram(h)))
        });
        family(
            e,
            "kinesd_request_duration_seconds",
            "Time from a request's arrival to its response (for SubscribeToShard, to the start of the event stream).",
            MetricType::Histogram,
            latency,
        )?;
        let c = &self.connections;
        family(
            e,
            "kinesd_connections_open",
            "Client connections open now.",
            MetricType::Gauge,
            [(no_labels(), Sample::Gauge(read(&c.open)))],
        )?;
        family(
            e,
            "kinesd_connections_accepted",
            "Client connections accepted.",
            MetricType::Counter,
            [(no_labels(), Sample::Counter(read(&c.accepted)))],
        )
    }

    fn streams(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let streams = self.engine.streams_now();
        let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &streams {
            *by_status.entry(s.status.as_str()).or_default() += 1;
        }
        family(
            e,
            "kinesd_streams",
            "Streams by status.",
            MetricType::Gauge,
            by_status.into_iter().map(|(status, n)| (vec![("status", status)], Sample::Gauge(n))),
        )?;
        family(
            e,
            "kinesd_stream_open_shards",
            "Open shards of each stream.",
            MetricType::Gauge,
            streams.iter().map(|s| (stream_labels(&s.name, &s.account), Sample::Gauge(s.open_shard_count() as u64))),
        )?;
        type Read = fn(&crate::engine::meters::StreamMeters) -> u64;
        let stream_counters: [(&str, &str, Read); 5] = [
            (
                "kinesd_stream_incoming_records",
                "Records stored by PutRecord and PutRecords (CloudWatch IncomingRecords).",
                |m| read(&m.incoming_records),
            ),
            (
                "kinesd_stream_incoming_bytes",
                "Bytes (data and partition keys) stored by PutRecord and PutRecords (CloudWatch IncomingBytes).",
                |m| read(&m.incoming_bytes),
            ),
            (
                "kinesd_stream_write_throttled_records",
                "Records refused with ProvisionedThroughputExceededException (CloudWatch WriteProvisionedThroughputExceeded).",
                |m| read(&m.write_throttled_records),
            ),
            (
                "kinesd_stream_read_throttled_requests",
                "GetRecords calls refused with ProvisionedThroughputExceededException (CloudWatch ReadProvisionedThroughputExceeded).",
                |m| read(&m.read_throttled_calls),
            ),
            ("kinesd_stream_failed_records", "Records that failed with InternalFailure.", |m| read(&m.failed_records)),
        ];
        for (name, help, value) in stream_counters {
            let samples =
                streams.iter().map(|s| (stream_labels(&s.name, &s.account), Sample::Counter(value(&s.meters.0))));
            family(e, name, help, MetricType::Counter, samples)?;
        }
        let outgoing = |bytes: bool| {
            streams.iter().flat_map(move |s| {
                let m = &s.meters.0;
                let (get, fan) = if bytes {
                    (read(&m.get_records_bytes), read(&m.fanout_bytes))
                } else {
                    (read(&m.get_records_records), read(&m.fanout_records))
                };
                [("GetRecords", get), ("SubscribeToShard", fan)].map(|(api, v)| {
                    (
                        vec![("stream", s.name.as_str()), ("account", s.account.as_str()), ("api", api)],
                        Sample::Counter(v),
                    )
                })
            })
        };
        family(
            e,
            "kinesd_stream_outgoing_records",
            "Records read, by GetRecords or delivered to SubscribeToShard subscribers (CloudWatch GetRecords.Records, SubscribeToShardEvent.Records).",
            MetricType::Counter,
            outgoing(false),
        )?;
        family(
            e,
            "kinesd_stream_outgoing_bytes",
            "Bytes (data and partition keys) read, by GetRecords or delivered to SubscribeToShard subscribers.",
            MetricType::Counter,
            outgoing(true),
        )?;
        // Like CloudWatch, a stream nobody reads with GetRecords has no iterator age.
        let ages = streams.iter().filter_map(|s| {
            let worst = s.meters.0.iterator_ages().into_iter().map(|(_, age)| age).max()?;
            Some((stream_labels(&s.name, &s.account), Sample::Gauge(worst)))
        });
        family(
            e,
            "kinesd_stream_get_records_iterator_age_milliseconds",
            "Over the stream's shards, the worst age of the last record the shard's most recent GetRecords returned (0 when that call was caught up) (CloudWatch GetRecords.IteratorAgeMilliseconds, Maximum).",
            MetricType::Gauge,
            ages,
        )?;
        self.shards(e, &streams)
    }

    /// Shard-level series, only for streams with enhanced monitoring, only for the metrics it
    /// names.
    fn shards(&self, e: &mut DescriptorEncoder, streams: &[Arc<crate::engine::catalog::Stream>]) -> std::fmt::Result {
        type Read = fn(&ShardMeters) -> u64;
        let series: [(&str, &str, &str, Read); 6] = [
            ("IncomingRecords", "kinesd_shard_incoming_records", "Records stored in the shard.", |m| {
                read(&m.incoming_records)
            }),
            ("IncomingBytes", "kinesd_shard_incoming_bytes", "Bytes stored in the shard.", |m| read(&m.incoming_bytes)),
            (
                "OutgoingRecords",
                "kinesd_shard_outgoing_records",
                "Records read from the shard (GetRecords and fan-out).",
                |m| read(&m.outgoing_records),
            ),
            (
                "OutgoingBytes",
                "kinesd_shard_outgoing_bytes",
                "Bytes read from the shard (GetRecords and fan-out).",
                |m| read(&m.outgoing_bytes),
            ),
            (
                "WriteProvisionedThroughputExceeded",
                "kinesd_shard_write_throttled_records",
                "Records refused by the shard's write limit.",
                |m| read(&m.write_throttled_records),
            ),
            (
                "ReadProvisionedThroughputExceeded",
                "kinesd_shard_read_throttled_requests",
                "GetRecords calls refused by the shard's read limit.",
                |m| read(&m.read_throttled_calls),
            ),
        ];
        let monitored: Vec<_> = streams.iter().filter(|s| s.shard_level()).map(|s| (s, s.meters.0.shards())).collect();
        if monitored.is_empty() {
            return Ok(());
        }
        for (metric, name, help, value) in series {
            let wanted =
                |s: &crate::engine::catalog::Stream| s.shard_level_metrics.iter().any(|m| m == metric || m == "ALL");
            let ids: Vec<Vec<String>> = monitored
                .iter()
                .map(|(_, shards)| shards.iter().map(|(i, _)| crate::engine::catalog::shard_id(*i)).collect())
                .collect();
            let samples = monitored.iter().zip(&ids).filter(|((s, _), _)| wanted(s)).flat_map(|((s, shards), ids)| {
                shards.iter().zip(ids).map(move |((_, m), id)| {
                    (
                        vec![("stream", s.name.as_str()), ("account", s.account.as_str()), ("shard", id.as_str())],
                        Sample::Counter(value(m)),
                    )
                })
            });
            family(e, name, help, MetricType::Counter, samples)?;
        }
        let wanted = |s: &crate::engine::catalog::Stream| {
            s.shard_level_metrics.iter().any(|m| m == "IteratorAgeMilliseconds" || m == "ALL")
        };
        let ages: Vec<_> = monitored
            .iter()
            .filter(|(s, _)| wanted(s))
            .flat_map(|(s, _)| {
                s.meters
                    .0
                    .iterator_ages()
                    .into_iter()
                    .map(move |(i, age)| (s, crate::engine::catalog::shard_id(i), age))
            })
            .collect();
        family(
            e,
            "kinesd_shard_get_records_iterator_age_milliseconds",
            "The age of the last record the shard's most recent GetRecords returned (0 when that call was caught up).",
            MetricType::Gauge,
            ages.iter().map(|(s, id, age)| {
                (
                    vec![("stream", s.name.as_str()), ("account", s.account.as_str()), ("shard", id.as_str())],
                    Sample::Gauge(*age),
                )
            }),
        )
    }

    fn consumers(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let lags = self.engine.subscription_lags();
        family(
            e,
            "kinesd_subscriptions_open",
            "SubscribeToShard subscriptions open now.",
            MetricType::Gauge,
            [(no_labels(), Sample::Gauge(lags.len() as u64))],
        )?;
        // The consumer is as far behind as its slowest shard.
        let mut worst: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
        for (stream, consumer, _, lag) in &lags {
            let w = worst.entry((&stream.account, &stream.name, consumer)).or_default();
            *w = (*w).max(*lag);
        }
        family(
            e,
            "kinesd_consumer_lag_seconds",
            "For each consumer with a live subscription: the age of the oldest record it has not been sent, at its last event (0 when it had everything), over its shards.",
            MetricType::Gauge,
            worst.into_iter().map(|((account, stream, consumer), ms)| {
                (
                    vec![("stream", stream), ("account", account), ("consumer", consumer)],
                    Sample::GaugeF(ms as f64 / 1e3),
                )
            }),
        )
    }

    fn storage(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let s = self.engine.store().stats_snapshot();
        let one = |v| [(no_labels(), v)];
        family(
            e,
            "kinesd_journal_written_bytes",
            "Bytes written to the journal.",
            MetricType::Counter,
            one(Sample::Counter(s.bytes_written)),
        )?;
        family(
            e,
            "kinesd_journal_group_commits",
            "Group commits of the journal (one write each).",
            MetricType::Counter,
            one(Sample::Counter(s.groups)),
        )?;
        family(
            e,
            "kinesd_journal_fsyncs",
            "fdatasync calls on the journal.",
            MetricType::Counter,
            one(Sample::Counter(s.syncs)),
        )?;
        if let Some(h) = s.sync_seconds {
            family(
                e,
                "kinesd_journal_fsync_duration_seconds",
                "Time each journal fdatasync took.",
                MetricType::Histogram,
                one(Sample::Histogram(h)),
            )?;
        }
        if let Some(h) = s.group_commands {
            family(
                e,
                "kinesd_journal_group_commit_size",
                "Appends and log changes committed together in one group.",
                MetricType::Histogram,
                one(Sample::Histogram(h)),
            )?;
        }
        family(
            e,
            "kinesd_journal_segments",
            "Journal segment files on disk.",
            MetricType::Gauge,
            one(Sample::Gauge(s.segments)),
        )?;
        family(
            e,
            "kinesd_journal_disk_bytes",
            "Bytes of journal segments and their indexes on disk.",
            MetricType::Gauge,
            one(Sample::Gauge(s.bytes_on_disk)),
        )?;
        family(
            e,
            "kinesd_journal_reclaimed_bytes",
            "Bytes of journal files given back: segments deleted by retention or log deletion, or shrunk by compaction.",
            MetricType::Counter,
            one(Sample::Counter(s.reclaimed_bytes)),
        )?;
        family(
            e,
            "kinesd_journal_compactions",
            "Compactions: rewrites of mostly expired journal segments that keep only their live records.",
            MetricType::Counter,
            one(Sample::Counter(s.compactions)),
        )?;
        family(
            e,
            "kinesd_journal_compacted_bytes",
            "Bytes of live records that compactions copied.",
            MetricType::Counter,
            one(Sample::Counter(s.compacted_bytes)),
        )?;
        if let Some(free) = s.free_bytes {
            family(
                e,
                "kinesd_disk_free_bytes",
                "Free bytes on the data directory's file system.",
                MetricType::Gauge,
                one(Sample::Gauge(free)),
            )?;
        }
        Ok(())
    }
}

/// The process basics Prometheus clients conventionally export, from /proc (Linux).
fn process(e: &mut DescriptorEncoder, started: f64) -> std::fmt::Result {
    let one = |v| [(no_labels(), v)];
    family(
        e,
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch.",
        MetricType::Gauge,
        one(Sample::GaugeF(started)),
    )?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    if let Some(kib) = field("VmRSS:") {
        family(
            e,
            "process_resident_memory_bytes",
            "Resident memory size.",
            MetricType::Gauge,
            one(Sample::Gauge(kib * 1024)),
        )?;
    }
    if let Some(threads) = field("Threads:") {
        family(e, "process_threads", "OS threads.", MetricType::Gauge, one(Sample::Gauge(threads)))?;
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(
            e,
            "process_open_fds",
            "Open file descriptors.",
            MetricType::Gauge,
            one(Sample::Gauge(fds.count() as u64)),
        )?;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after its closing paren):
    // utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<u64> = after.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    if ticks.len() == 2 {
        let per_second = rustix::param::clock_ticks_per_second() as f64;
        family(
            e,
            "process_cpu_seconds",
            "User and system CPU time.",
            MetricType::Counter,
            one(Sample::CounterF((ticks[0] + ticks[1]) as f64 / per_second)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_declared_in_the_order_of_all() {
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(slot(Some(*op)), i);
            assert_eq!(operation_label(i), op.name());
        }
        assert_eq!(operation_label(slot(None)), "unknown");
    }

    #[test]
    fn outcomes_follow_status_and_error_type() {
        let response = |status, error_type| WireResponse {
            status,
            content_type: None,
            error_type,
            body: crate::protocol::ReplyBody::Empty,
        };
        assert_eq!(Outcome::of(&response(200, None)), Outcome::Success);
        assert_eq!(Outcome::of(&response(400, Some("ProvisionedThroughputExceededException"))), Outcome::Throttled);
        assert_eq!(Outcome::of(&response(400, Some("LimitExceededException"))), Outcome::Throttled);
        assert_eq!(Outcome::of(&response(400, Some("ResourceNotFoundException"))), Outcome::ClientError);
        assert_eq!(Outcome::of(&response(500, Some("InternalFailure"))), Outcome::ServerError);
    }
}
