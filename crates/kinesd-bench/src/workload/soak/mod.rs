//! `soak`: everything a Kinesis server does at once, for a long time, sampled every minute to
//! show whether the server stays flat. Paced producers (stamped records, so fan-out latency can
//! be read off each delivery); polling consumers and enhanced fan-out subscribers that follow
//! every shard from TRIM_HORIZON and, at a shard's end, its children (a child once all its
//! parents are read, as the KCL does); a reshard every `--reshard-every` seconds. Each sample
//! is the server's resident memory, open files and connections, the window's latencies,
//! records and errors; the end compares the first and last samples and checks that every
//! follower consumed exactly what was acknowledged, shard by shard, in order.
//!
//! The check keeps no record list: per shard and follower a count, an order-independent digest
//! of the sequence numbers and the last one seen (duplicates and reorders are caught as they
//! happen, gaps by count and digest at the end). So the run's own memory is bounded by the
//! number of shards, which grows only by reshards; latency windows reset at every sample.
//!
//! Bounded like every workload: producers stop at the deadline, followers get `DRAIN_TIMEOUT`
//! to catch up and are then stopped.

mod ledger;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use super::subscribe::next_message;
use super::{ProducerPlan, PutObserver, produce_all};
use crate::cli::{SoakArgs, pace};
use crate::client::{Connection, Endpoint, Op, Protocol, failure_kind};
use crate::control::{register_consumers, shard_iterator, wait_active};
use crate::probe::Probe;
use crate::records::{PutBodies, get_records_body, now_micros, stamp_of};
use crate::stats::{Latency, Live};
use ledger::{Follower, Ledger};
use report::{Sample, Verdict};

/// How long followers may take to catch up once the producers stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long followers may take to notice the stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const GET_LIMIT: u32 = 10_000;
/// A polling consumer's pause after a page that left it caught up (AWS allows 5 GetRecords
/// per second per shard).
const POLL_IDLE: Duration = Duration::from_millis(200);
/// Pause after a failed call, so a failing server is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Least time between two subscriptions of one consumer to one shard (AWS allows one
/// SubscribeToShard per second per consumer and shard).
const RESUBSCRIBE_PAUSE: Duration = Duration::from_secs(1);
pub async fn run(args: SoakArgs) -> Result<(), String> {
    let target = &args.target;
    let shape = args.shape.shape();
    let crate::workload::StampedSetup { endpoint, stream, probe, shards } =
        crate::workload::stamped_setup("soak", target, &shape).await?;
    let consumer_arns = register_consumers(&endpoint, &stream, args.consumers).await?;
    let load = Duration::from_secs_f64(args.seconds.unwrap_or(args.minutes * 60.0).max(0.0));
    let sample_every = Duration::from_secs_f64(args.sample_every.max(0.1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let soak = Arc::new(Soak {
        endpoint: endpoint.clone(),
        stream: stream.clone(),
        consumer_arns,
        stop: stop_rx,
        ledger: Mutex::default(),
        window: Mutex::default(),
        lineages: Mutex::default(),
        totals: Totals::default(),
        followers_live: AtomicUsize::new(0),
        open_shards: AtomicUsize::new(shards.len()),
    });
    for shard in &shards {
        soak.follow(Follower::Polling, shard.clone());
        for consumer in 0..soak.consumer_arns.len() {
            soak.follow(Follower::FanOut(consumer), shard.clone());
        }
    }

    let started = Instant::now();
    let deadline = started + load;
    let plan = Arc::new(ProducerPlan {
        endpoint: endpoint.clone(),
        bodies: PutBodies::in_protocol(&stream, shape, Protocol::Json),
        stamped: true,
        measure_from: started,
        deadline,
        count: None,
        claimed: AtomicU64::new(0),
        pace: pace(args.rate, args.producers, shape.records_per_request),
        live: Arc::new(Live::default()),
        observer: Some(soak.clone()),
    });
    let producers = tokio::spawn(produce_all(plan, args.producers.max(1)));
    let resharder = (args.reshard_every > 0.0).then(|| {
        let every = Duration::from_secs_f64(args.reshard_every);
        tokio::spawn(soak.clone().reshard(every, deadline, args.min_shards.max(1), args.max_shards.max(1)))
    });

    let mut report = match &args.report {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| format!("--report {}: {e}", path.display()))?),
        None => None,
    };
    let header = json!({
        "type": "start",
        "endpoint": target.endpoint,
        "stream": stream,
        "server_pid": target.server_pid,
        "load_seconds": load.as_secs_f64(),
        "sample_every_s": sample_every.as_secs_f64(),
        "rate": args.rate,
        "records_per_request": shape.records_per_request,
        "record_size": shape.record_size,
        "producers": args.producers,
        "fan_out_consumers": args.consumers,
        "reshard_every_s": args.reshard_every,
        "shards": [args.min_shards, args.max_shards],
        "started_unix_ms": now_micros() / 1000,
    });
    write_line(&mut report, &header);
    eprintln!(
        "kinesd-bench soak: {} stream {stream}, {:.0} s of load at {} records/s ({} producers), {} fan-out consumers, reshard every {:.0} s",
        target.endpoint,
        load.as_secs_f64(),
        args.rate,
        args.producers,
        args.consumers,
        args.reshard_every
    );
    eprintln!("{}", Sample::HEADER);

    let mut metrics = Connection::new(&endpoint);
    let mut samples: Vec<Sample> = Vec::new();
    let mut next = started + sample_every;
    let mut previous = started;
    loop {
        let at = next.min(deadline);
        tokio::time::sleep_until(at.into()).await;
        let sample = soak.sample(started, previous.elapsed().as_secs_f64(), probe.as_ref(), &mut metrics).await;
        previous = Instant::now();
        eprintln!("{}", sample.row());
        write_line(&mut report, &json!({ "type": "sample", "sample": sample }));
        samples.push(sample);
        if at >= deadline {
            break;
        }
        next += sample_every;
    }

    let _ = producers.await;
    if let Some(resharder) = resharder {
        let _ = resharder.await;
    }
    let drained = soak.drain().await;
    let _ = stop_tx.send(true);
    let stopping = Instant::now();
    while soak.followers_live.load(Relaxed) > 0 && stopping.elapsed() < STOP_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let checks = soak.ledger.lock().expect("not poisoned").check(&soak.consumer_arns);
    let verdict = Verdict::new(&samples, checks, drained, soak.totals.snapshot());
    verdict.print();
    write_line(&mut report, &json!({ "type": "verdict", "verdict": verdict }));
    if verdict.consumed_matches_acknowledged {
        Ok(())
    } else {
        Err("what was consumed does not match what was acknowledged (see the verdict)".into())
    }
}

fn write_line(file: &mut Option<std::fs::File>, value: &serde_json::Value) {
    if let Some(file) = file {
        let _ = writeln!(file, "{value}");
        let _ = file.flush();
    }
}

/// Everything the run's tasks share.
struct Soak {
    endpoint: Endpoint,
    stream: String,
    consumer_arns: Vec<String>,
    /// Becomes true when the followers must stop.
    stop: watch::Receiver<bool>,
    ledger: Mutex<Ledger>,
    /// What happened since the last sample.
    window: Mutex<Window>,
    /// Per follower, which shards it started and which it read to their end.
    lineages: Mutex<BTreeMap<Follower, Lineage>>,
    totals: Totals,
    followers_live: AtomicUsize,
    open_shards: AtomicUsize,
}

/// Since the start of the run.
#[derive(Default)]
struct Totals {
    put: AtomicU64,
    polled: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    reshards: AtomicU64,
    subscriptions: AtomicU64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct TotalsSnapshot {
    put: u64,
    polled: u64,
    delivered: u64,
    errors: u64,
    reshards: u64,
    subscriptions: u64,
}

impl Totals {
    fn snapshot(&self) -> TotalsSnapshot {
        TotalsSnapshot {
            put: self.put.load(Relaxed),
            polled: self.polled.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            errors: self.errors.load(Relaxed),
            reshards: self.reshards.load(Relaxed),
            subscriptions: self.subscriptions.load(Relaxed),
        }
    }
}

/// One sample's worth of measurements, reset when taken.
#[derive(Default)]
struct Window {
    put: Latency,
    get_records: Latency,
    put_to_event: Latency,
    put_records: u64,
    polled: u64,
    delivered: u64,
    errors: BTreeMap<String, u64>,
}

/// The shards a follower started and those it read to their end.
#[derive(Default)]
struct Lineage {
    started: BTreeSet<String>,
    finished: BTreeSet<String>,
}

/// A child shard as GetRecords and SubscribeToShard name it at the end of its parent.
#[derive(Debug, Deserialize)]
struct ChildShard {
    #[serde(rename = "ShardId")]
    shard_id: String,
    #[serde(rename = "ParentShards", default)]
    parents: Vec<String>,
}

/// A GetRecords answer or a SubscribeToShardEvent: the same members matter in both.
#[derive(Deserialize)]
struct Page {
    #[serde(rename = "Records", default)]
    records: Vec<PageRecord>,
    #[serde(rename = "NextShardIterator")]
    next_iterator: Option<String>,
    #[serde(rename = "ContinuationSequenceNumber")]
    continuation: Option<String>,
    #[serde(rename = "ChildShards", default)]
    children: Vec<ChildShard>,
}

#[derive(Deserialize)]
struct PageRecord {
    #[serde(rename = "SequenceNumber")]
    sequence: String,
    #[serde(rename = "Data")]
    data: String,
}

/// A PutRecords answer, per record.
#[derive(Deserialize)]
struct PutAnswer {
    #[serde(rename = "Records", default)]
    records: Vec<PutResult>,
}

#[derive(Deserialize)]
struct PutResult {
    #[serde(rename = "SequenceNumber")]
    sequence: Option<String>,
    #[serde(rename = "ShardId")]
    shard: Option<String>,
    #[serde(rename = "ErrorCode")]
    error: Option<String>,
}

impl PutObserver for Soak {
    fn answered(&self, latency: Duration, body: &[u8]) {
        let answer: PutAnswer = match serde_json::from_slice(body) {
            Ok(answer) => answer,
            Err(_) => return self.error("PutRecords unparsable answer"),
        };
        let mut stored = 0;
        let mut failures: BTreeMap<String, u64> = BTreeMap::new();
        {
            let mut ledger = self.ledger.lock().expect("not poisoned");
            for record in &answer.records {
                match (&record.sequence, &record.shard, &record.error) {
                    (Some(sequence), Some(shard), None) => {
                        ledger.acknowledged.entry(shard.clone()).or_default().acknowledge(sequence);
                        stored += 1;
                    }
                    (_, _, error) => {
                        *failures.entry(format!("{} (record)", error.as_deref().unwrap_or("unknown"))).or_default() += 1
                    }
                }
            }
        }
        self.totals.put.fetch_add(stored, Relaxed);
        let mut window = self.window.lock().expect("not poisoned");
        window.put.record(latency);
        window.put_records += stored;
        for (name, n) in failures {
            self.totals.errors.fetch_add(n, Relaxed);
            *window.errors.entry(name).or_default() += n;
        }
    }

    fn failed(&self, error: &str) {
        self.error(&format!("PutRecords {error}"));
    }
}

impl Soak {
    fn error(&self, name: &str) {
        self.totals.errors.fetch_add(1, Relaxed);
        *self.window.lock().expect("not poisoned").errors.entry(name.to_owned()).or_default() += 1;
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps for `d`, or less if the run stops meanwhile.
    async fn pause(&self, d: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }

    /// Records a page of `follower`'s records of `shard`; returns how many.
    fn consumed(&self, follower: Follower, shard: &str, page: &Page) -> u64 {
        let n = page.records.len() as u64;
        if n == 0 {
            return 0;
        }
        let received = now_micros();
        {
            let mut ledger = self.ledger.lock().expect("not poisoned");
            let trail = ledger.consumed.entry((follower, shard.to_owned())).or_default();
            for record in &page.records {
                trail.consume(&record.sequence);
            }
        }
        let mut window = self.window.lock().expect("not poisoned");
        match follower {
            Follower::Polling => {
                self.totals.polled.fetch_add(n, Relaxed);
                window.polled += n;
            }
            Follower::FanOut(_) => {
                self.totals.delivered.fetch_add(n, Relaxed);
                window.delivered += n;
                for record in &page.records {
                    if let Some(sent) = stamp_of(&record.data) {
                        window.put_to_event.record_micros(received.saturating_sub(sent));
                    }
                }
            }
        }
        n
    }

    /// Starts `follower` on `shard` unless it already did.
    fn follow(self: &Arc<Self>, follower: Follower, shard: String) {
        {
            let mut lineages = self.lineages.lock().expect("not poisoned");
            if !lineages.entry(follower).or_default().started.insert(shard.clone()) {
                return;
            }
        }
        self.followers_live.fetch_add(1, Relaxed);
        let soak = self.clone();
        tokio::spawn(async move {
            let children = match follower {
                Follower::Polling => soak.poll_shard(&shard).await,
                Follower::FanOut(consumer) => soak.subscribe_shard(consumer, &shard).await,
            };
            // None: stopped before the shard's end.
            if let Some(children) = children {
                soak.finished(follower, shard, children);
            }
            soak.followers_live.fetch_sub(1, Relaxed);
        });
    }

    /// `follower` read `shard` to its end: starts each child whose parents are all read.
    fn finished(self: &Arc<Self>, follower: Follower, shard: String, children: Vec<ChildShard>) {
        let ready: Vec<String> = {
            let mut lineages = self.lineages.lock().expect("not poisoned");
            let lineage = lineages.entry(follower).or_default();
            lineage.finished.insert(shard);
            children
                .into_iter()
                .filter(|c| c.parents.iter().all(|p| lineage.finished.contains(p)))
                .map(|c| c.shard_id)
                .collect()
        };
        for child in ready {
            self.follow(follower, child);
        }
    }

    /// The polling consumer of one shard, from TRIM_HORIZON to the shard's end (its children)
    /// or the stop (None). An expired or refused iterator is replaced after the last record read.
    async fn poll_shard(&self, shard: &str) -> Option<Vec<ChildShard>> {
        let mut conn = Connection::new(&self.endpoint);
        let mut last: Option<String> = None;
        let mut iterator: Option<String> = None;
        while !self.stopped() {
            let current = match iterator.take() {
                Some(it) => it,
                None => match shard_iterator(&mut conn, &self.stream, shard, last.as_deref()).await {
                    Ok(it) => it,
                    Err(e) => {
                        self.error(&format!("GetShardIterator {}", e.rsplit(": ").next().unwrap_or(&e)));
                        self.pause(RETRY_PAUSE).await;
                        continue;
                    }
                },
            };
            let started = Instant::now();
            let reply = match conn.call(Op::GetRecords, get_records_body(&current, GET_LIMIT, Protocol::Json)).await {
                Ok(reply) => reply,
                Err(e) => {
                    self.error(&format!("GetRecords {}", failure_kind(&e)));
                    iterator = Some(current);
                    self.pause(RETRY_PAUSE).await;
                    continue;
                }
            };
            self.window.lock().expect("not poisoned").get_records.record(started.elapsed());
            if !reply.ok() {
                let name = reply.error_name();
                self.error(&format!("GetRecords {name}"));
                if name != "ExpiredIteratorException" {
                    iterator = Some(current);
                }
                self.pause(RETRY_PAUSE).await;
                continue;
            }
            let page: Page = match serde_json::from_slice(&reply.body) {
                Ok(page) => page,
                Err(_) => {
                    self.error("GetRecords unparsable answer");
                    iterator = Some(current);
                    self.pause(RETRY_PAUSE).await;
                    continue;
                }
            };
            let n = self.consumed(Follower::Polling, shard, &page);
            if let Some(record) = page.records.last() {
                last = Some(record.sequence.clone());
            }
            match page.next_iterator {
                Some(next) => iterator = Some(next),
                None => return Some(page.children),
            }
            if n < u64::from(GET_LIMIT) {
                self.pause(POLL_IDLE).await;
            }
        }
        None
    }

    /// Fan-out consumer `consumer` on one shard, from TRIM_HORIZON to the shard's end (its
    /// children) or the stop (None); a subscription the server ends (every 5 minutes) is
    /// renewed after the last record delivered.
    async fn subscribe_shard(&self, consumer: usize, shard: &str) -> Option<Vec<ChildShard>> {
        let mut stop = self.stop.clone();
        let mut continuation: Option<String> = None;
        let mut last_call: Option<Instant> = None;
        while !self.stopped() {
            if let Some(at) = last_call {
                self.pause((at + RESUBSCRIBE_PAUSE).saturating_duration_since(Instant::now())).await;
            }
            last_call = Some(Instant::now());
            let position = match &continuation {
                None => json!({ "Type": "TRIM_HORIZON" }),
                Some(sequence) => json!({ "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence }),
            };
            let request = json!({
                "ConsumerARN": self.consumer_arns[consumer],
                "ShardId": shard,
                "StartingPosition": position,
            });
            // One subscription per connection, as the SDKs' HTTP/2 streams would be.
            let mut conn = Connection::new(&self.endpoint);
            let mut body = match conn.open_stream(Op::SubscribeToShard, Bytes::from(request.to_string())).await {
                Ok(Ok(body)) => body,
                Ok(Err(reply)) => {
                    self.error(&format!("SubscribeToShard {}", reply.error_name()));
                    continue;
                }
                Err(e) => {
                    self.error(&format!("SubscribeToShard {}", failure_kind(&e)));
                    continue;
                }
            };
            self.totals.subscriptions.fetch_add(1, Relaxed);
            let mut buffer = BytesMut::new();
            'stream: loop {
                let frame = tokio::select! {
                    frame = body.frame() => frame,
                    _ = stop.wait_for(|s| *s) => return None,
                };
                let data = match frame {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => data,
                        Err(_) => continue,
                    },
                    Some(Err(e)) => {
                        self.error(&format!("SubscribeToShard stream {}", failure_kind(&e.to_string())));
                        break;
                    }
                    None => break,
                };
                buffer.extend_from_slice(&data);
                loop {
                    let message = match next_message(&mut buffer) {
                        Ok(Some(message)) => message,
                        Ok(None) => break,
                        Err(_) => {
                            self.error("SubscribeToShard malformed event stream");
                            break 'stream;
                        }
                    };
                    match (message.message_type.as_str(), message.event_type.as_str()) {
                        ("event", "SubscribeToShardEvent") => {
                            let Ok(event) = serde_json::from_slice::<Page>(&message.payload) else {
                                self.error("SubscribeToShard unparsable event");
                                break 'stream;
                            };
                            self.consumed(Follower::FanOut(consumer), shard, &event);
                            match event.continuation {
                                Some(next) => continuation = Some(next),
                                // The end of a closed shard: no continuation, its children.
                                None => return Some(event.children),
                            }
                        }
                        ("exception", kind) | ("error", kind) => {
                            self.error(&format!("SubscribeToShard event {kind}"));
                            break 'stream;
                        }
                        _ => {}
                    }
                }
            }
        }
        None
    }

    /// Every `every` until `deadline`: UpdateShardCount to `max` shards when fewer are open,
    /// else to `min`, then waits until the stream is ACTIVE again.
    async fn reshard(self: Arc<Self>, every: Duration, deadline: Instant, min: u32, max: u32) {
        let mut conn = Connection::new(&self.endpoint);
        let mut next = Instant::now() + every;
        while next < deadline {
            tokio::time::sleep_until(next.into()).await;
            next += every;
            let open = self.open_shards.load(Relaxed) as u32;
            let target = if open < max { max } else { min };
            let body =
                json!({ "StreamName": self.stream, "TargetShardCount": target, "ScalingType": "UNIFORM_SCALING" });
            match conn.call_retrying(Op::UpdateShardCount, Bytes::from(body.to_string())).await {
                Ok(reply) if reply.ok() => {}
                Ok(reply) => {
                    self.error(&format!("UpdateShardCount {}", reply.error_name()));
                    continue;
                }
                Err(e) => {
                    self.error(&format!("UpdateShardCount {}", failure_kind(&e)));
                    continue;
                }
            }
            match wait_active(&mut conn, &self.stream).await {
                Ok(shards) => {
                    self.open_shards.store(shards.len(), Relaxed);
                    self.totals.reshards.fetch_add(1, Relaxed);
                }
                Err(e) => self.error(&format!("DescribeStream after reshard: {e}")),
            }
        }
    }

    /// Waits until every follower consumed at least what was acknowledged, for at most
    /// `DRAIN_TIMEOUT`; true if they did.
    async fn drain(&self) -> bool {
        let until = Instant::now() + DRAIN_TIMEOUT;
        loop {
            let caught_up = {
                let ledger = self.ledger.lock().expect("not poisoned");
                let acked = ledger.acknowledged_total();
                std::iter::once(Follower::Polling)
                    .chain((0..self.consumer_arns.len()).map(Follower::FanOut))
                    .all(|f| ledger.consumed_total(f) >= acked)
            };
            if caught_up {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Takes the window and reads the server's state.
    async fn sample(&self, started: Instant, window_s: f64, probe: Option<&Probe>, metrics: &mut Connection) -> Sample {
        let window = std::mem::take(&mut *self.window.lock().expect("not poisoned"));
        let (acked, polled_total, lag_fan_out, out_of_order) = {
            let ledger = self.ledger.lock().expect("not poisoned");
            let acked = ledger.acknowledged_total();
            let lag = (0..self.consumer_arns.len())
                .map(|c| acked.saturating_sub(ledger.consumed_total(Follower::FanOut(c))))
                .max()
                .unwrap_or(0);
            (acked, ledger.consumed_total(Follower::Polling), lag, ledger.out_of_order())
        };
        let (put, get, event) = (window.put.summary(), window.get_records.summary(), window.put_to_event.summary());
        let totals = self.totals.snapshot();
        let scraped = scrape(metrics, &self.stream).await;
        Sample {
            elapsed_s: started.elapsed().as_secs_f64(),
            window_s,
            unix_ms: now_micros() / 1000,
            rss_kib: probe.and_then(Probe::rss_kib),
            open_files: probe.and_then(Probe::open_files),
            connections: scraped.connections,
            iterator_age_ms: scraped.iterator_age_ms,
            put_p50_us: put.p50_us,
            put_p99_us: put.p99_us,
            get_records_p99_us: get.p99_us,
            put_to_event_p99_us: event.p99_us,
            put_records: window.put_records,
            polled_records: window.polled,
            delivered_records: window.delivered,
            errors: window.errors,
            open_shards: self.open_shards.load(Relaxed),
            reshards: totals.reshards,
            subscriptions: totals.subscriptions,
            polling_lag_records: acked.saturating_sub(polled_total),
            fan_out_lag_records: lag_fan_out,
            out_of_order,
            totals,
        }
    }
}

/// What the soak reads from the server's own `/metrics` (nothing from a server without it).
#[derive(Default)]
struct Scraped {
    /// `kinesd_connections_open`.
    connections: Option<u64>,
    /// `kinesd_stream_get_records_iterator_age_milliseconds` of the soak's stream.
    iterator_age_ms: Option<u64>,
}

async fn scrape(conn: &mut Connection, stream: &str) -> Scraped {
    let Some(reply) = conn.get("/metrics").await.ok().filter(|r| r.ok()) else {
        return Scraped::default();
    };
    let text = String::from_utf8_lossy(&reply.body);
    let value = |v: &str| v.trim().parse::<f64>().ok().map(|v| v as u64);
    let stream_label = format!("stream=\"{stream}\"");
    Scraped {
        connections: text.lines().find_map(|l| l.strip_prefix("kinesd_connections_open ")).and_then(value),
        iterator_age_ms: text
            .lines()
            .filter(|l| {
                l.starts_with("kinesd_stream_get_records_iterator_age_milliseconds{") && l.contains(&stream_label)
            })
            .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| value(v))),
    }
}
