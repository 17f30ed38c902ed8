//! The workloads (`put`, `get`, `mixed`, `subscribe`, `scrape`, `soak`) and the producer loop they share.
//!
//! Every loop is bounded: producers stop at a deadline or when a record budget is spent,
//! readers at a deadline or at the end of what was written, so a run always ends by itself.

pub mod get;
pub mod mixed;
pub mod put;
pub mod scrape;
pub mod soak;
pub mod subscribe;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::client::{Connection, Endpoint, Op, failure_kind};
use crate::records::{PutBodies, now_micros};
use crate::stats::{Live, Tally};

/// Pause after a failed call, so a failing server is not hammered in a tight loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);
const TRANSPORT_BACKOFF: Duration = Duration::from_millis(50);

/// How the producers of one run behave.
pub struct ProducerPlan {
    pub endpoint: Endpoint,
    pub bodies: PutBodies,
    /// Stamp each record with its send time (for end-to-end latency).
    pub stamped: bool,
    /// Calls that start before this are not measured (warm-up).
    pub measure_from: Instant,
    /// No call starts after this.
    pub deadline: Instant,
    /// Stop once this many records have been sent (rounded up to whole requests).
    pub count: Option<u64>,
    /// Records claimed so far, against `count`.
    pub claimed: AtomicU64,
    /// Least time between two calls on one connection (a rate limit), if any.
    pub pace: Option<Duration>,
    pub live: Arc<Live>,
    /// Told of every outcome as it happens, warm-up included (`soak` keeps its per-minute rows
    /// and its ledger of acknowledged records this way).
    pub observer: Option<Arc<dyn PutObserver>>,
}

/// Sees each PutRecords outcome of a [`ProducerPlan`] as it happens.
pub trait PutObserver: Send + Sync {
    /// A successful answer (`body`, which may still carry per-record failures) after `latency`.
    fn answered(&self, latency: Duration, body: &[u8]);
    /// A failed call: AWS's error name, `timeout` or `transport`.
    fn failed(&self, error: &str);
}

/// Runs `connections` producers to the end of the plan and merges their tallies.
pub async fn produce_all(plan: Arc<ProducerPlan>, connections: usize) -> Tally {
    let tasks: Vec<_> = (0..connections).map(|i| tokio::spawn(produce(plan.clone(), i))).collect();
    let mut total = Tally::default();
    for task in tasks {
        if let Ok(tally) = task.await {
            total.merge(&tally);
        }
    }
    total
}

/// One connection's PutRecords loop.
async fn produce(plan: Arc<ProducerPlan>, index: usize) -> Tally {
    let mut conn = Connection::speaking(&plan.endpoint, plan.bodies.protocol);
    let mut tally = Tally::default();
    let per_request = plan.bodies.shape.records_per_request as u64;
    let record_size = plan.bodies.shape.record_size as u64;
    let mut pace = plan.pace.map(|p| {
        let mut i = tokio::time::interval(p);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    // Connections start on different bodies so partition keys interleave.
    let mut body_index = index;
    loop {
        if let Some(pace) = pace.as_mut() {
            pace.tick().await;
        }
        if Instant::now() >= plan.deadline {
            break;
        }
        if let Some(count) = plan.count
            && plan.claimed.fetch_add(per_request, Relaxed) >= count
        {
            break;
        }
        let body =
            if plan.stamped { plan.bodies.stamped(body_index, now_micros()) } else { plan.bodies.plain(body_index) };
        body_index += 1;
        let started = Instant::now();
        let measured = started >= plan.measure_from;
        match conn.call(Op::PutRecords, body).await {
            Ok(reply) if reply.ok() => {
                if let Some(observer) = &plan.observer {
                    observer.answered(started.elapsed(), &reply.body);
                }
                let failed = plan.bodies.failed_record_count(&reply.body).min(per_request);
                let stored = per_request - failed;
                Live::add(&plan.live.put_records, stored);
                if measured {
                    tally.latency.record(started.elapsed());
                    tally.requests += 1;
                    tally.records += stored;
                    tally.bytes += stored * record_size;
                }
                if failed > 0 {
                    Live::add(&plan.live.errors, failed);
                    if measured {
                        count_record_failures(&mut tally, &reply.body, failed);
                    }
                }
            }
            Ok(reply) => {
                Live::add(&plan.live.errors, 1);
                if let Some(observer) = &plan.observer {
                    observer.failed(&reply.error_name());
                }
                if measured {
                    tally.latency.record(started.elapsed());
                    tally.requests += 1;
                    tally.error(&reply.error_name(), 1);
                }
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
            Err(e) => {
                Live::add(&plan.live.errors, 1);
                if let Some(observer) = &plan.observer {
                    observer.failed(failure_kind(&e));
                }
                // A call that started in the warm-up but failed (e.g. timed out) inside the
                // window counts: a server that stalls must show errors, not an empty window.
                if Instant::now() >= plan.measure_from {
                    tally.error(failure_kind(&e), 1);
                }
                tokio::time::sleep(TRANSPORT_BACKOFF).await;
            }
        }
    }
    tally
}

/// Per-record failures of a PutRecords answer, by ErrorCode (a cold path: parses the answer).
fn count_record_failures(tally: &mut Tally, body: &[u8], failed: u64) {
    let codes: Vec<String> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v["Records"]
                .as_array()
                .map(|records| records.iter().filter_map(|r| r["ErrorCode"].as_str().map(str::to_owned)).collect())
        })
        .unwrap_or_default();
    if codes.is_empty() {
        tally.error("record failures", failed);
    }
    for code in codes {
        tally.error(&format!("{code} (record)"), 1);
    }
}

/// What a workload of stamped records (`mixed`, `subscribe`) starts from.
pub struct StampedSetup {
    pub endpoint: Endpoint,
    pub stream: String,
    pub probe: Option<crate::probe::Probe>,
    /// The stream's open shards, in order.
    pub shards: Vec<String>,
}

/// Checks that records can carry a send stamp, and makes sure the workload's stream exists and
/// is ACTIVE.
pub async fn stamped_setup(
    workload: &str,
    target: &crate::cli::TargetArgs,
    shape: &crate::records::Shape,
) -> Result<StampedSetup, String> {
    use crate::records::STAMP_BYTES;
    if shape.record_size < STAMP_BYTES {
        return Err(format!("{workload} needs --record-size of at least {STAMP_BYTES} (the send timestamp)"));
    }
    let endpoint = target.endpoint().await?;
    let stream = target.stream_name(workload);
    let probe = target.server_pid.map(crate::probe::Probe::new).transpose()?;
    let shards = crate::control::ensure_stream(&endpoint, &stream, target.shards).await?;
    Ok(StampedSetup { endpoint, stream, probe, shards })
}

/// Time from `from` to `to` in seconds, never zero (rates divide by it).
pub fn seconds_between(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64().max(1e-9)
}
