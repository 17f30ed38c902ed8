//! `subscribe`: enhanced fan-out under a put load. `--consumers` consumers each subscribe to
//! every open shard (one SubscribeToShard event stream per consumer and shard, each on its own
//! HTTP/1.1 connection, from LATEST and before anything is written); producers write stamped
//! records, and each record's stamp, read from the event that delivers it, gives the
//! put-to-event latency. The run checks that every record reached every consumer.
//!
//! Bounded like every workload: producers stop at the deadline, subscribers once everything
//! written reached them or `DRAIN_TIMEOUT` after the producers stopped.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;

use super::{ProducerPlan, StampedSetup, produce_all, seconds_between, stamped_setup};
use crate::cli::{SubscribeArgs, pace};
use crate::client::{Connection, Endpoint, Op, Protocol, failure_kind};
use crate::control::register_consumers;
use crate::probe::CpuWindow;
use crate::progress::Ticker;
use crate::records::{PutBodies, now_micros, stamp_of};
use crate::report::{CallReport, Report};
use crate::stats::{Latency, Live, Tally};

/// How long subscribers may keep receiving after the producers stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a subscriber may take to receive its initial-response.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: SubscribeArgs) -> Result<Report, String> {
    let target = &args.target;
    let shape = args.shape.shape();
    let StampedSetup { endpoint, stream, probe, shards } = stamped_setup("subscribe", target, &shape).await?;
    let consumers = register_consumers(&endpoint, &stream, args.consumers.max(1)).await?;
    let rss_before = probe.and_then(|p| p.rss_kib());

    let live = Arc::new(Live::default());
    let shared = Arc::new(Shared {
        delivered: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        stopped: tokio::sync::Notify::new(),
    });
    let started = Instant::now();
    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    // The subscriptions open first; the clock of the window starts once they all are live.
    let mut subscribers = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(consumers.len() * shards.len());
    let measure_from_micros = Arc::new(AtomicU64::new(u64::MAX));
    let measure_from_cell = Arc::new(std::sync::OnceLock::new());
    for consumer in &consumers {
        for shard in &shards {
            let subscriber = Subscriber {
                endpoint: endpoint.clone(),
                consumer_arn: consumer.clone(),
                shard: shard.clone(),
                record_size: shape.record_size as u64,
                measure_from: measure_from_cell.clone(),
                measure_from_micros: measure_from_micros.clone(),
                shared: shared.clone(),
                live: live.clone(),
                ready: Some(ready_tx.clone()),
            };
            subscribers.push(tokio::spawn(subscriber.run()));
        }
    }
    drop(ready_tx);
    let wanted = consumers.len() * shards.len();
    for n in 0..wanted {
        match tokio::time::timeout(SUBSCRIBE_TIMEOUT, ready_rx.recv()).await {
            Ok(Some(())) => {}
            _ => {
                shared.finish();
                return Err(format!("only {n} of {wanted} subscriptions started within {SUBSCRIBE_TIMEOUT:?}"));
            }
        }
    }
    let subscribed_in = started.elapsed();

    let load_started = Instant::now();
    let measure_from = load_started + warmup;
    let _ = measure_from_cell.set(measure_from);
    measure_from_micros.store(now_micros() + warmup.as_micros() as u64, Relaxed);
    let deadline = measure_from + Duration::from_secs_f64(args.duration.max(0.0));
    let plan = Arc::new(ProducerPlan {
        endpoint: endpoint.clone(),
        bodies: PutBodies::in_protocol(&stream, shape, Protocol::Json),
        stamped: true,
        measure_from,
        deadline,
        count: None,
        claimed: AtomicU64::new(0),
        pace: pace(args.rate, args.producers, shape.records_per_request),
        live: live.clone(),
        observer: None,
    });
    let ticker = Ticker::start("subscribe", live.clone(), target.quiet);
    let cpu = CpuWindow::starting_at(probe, measure_from);
    let put = produce_all(plan, args.producers).await;
    let put_ended = Instant::now();
    let written = Live::read(&live.put_records);
    let expected = written * consumers.len() as u64;
    // Every record written (warm-up included) must reach every consumer.
    let drain_until = Instant::now() + DRAIN_TIMEOUT;
    while shared.delivered.load(Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained_in = put_ended.elapsed();
    shared.finish();
    let delivered_total = shared.delivered.load(Relaxed);
    let server = cpu.usage(delivered_total).await;
    let rss_after = probe.and_then(|p| p.rss_kib());

    let mut delivered = Tally::default();
    let mut latency = Latency::default();
    let mut notes = Vec::new();
    for task in subscribers {
        match task.await {
            Ok(Ok((tally, lat))) => {
                delivered.merge(&tally);
                latency.merge(&lat);
            }
            Ok(Err(e)) => notes.push(format!("a subscriber stopped: {e}")),
            Err(e) => notes.push(format!("a subscriber failed: {e}")),
        }
    }
    drop(ticker);
    let mut e2e = Tally { records: latency.summary().count, ..Tally::default() };
    e2e.latency = latency;
    if delivered_total == expected {
        notes.push(format!(
            "every record reached every consumer: {written} records × {} consumers = {expected} deliveries, the last {:.0} ms after the producers stopped",
            consumers.len(),
            drained_in.as_secs_f64() * 1e3
        ));
    } else {
        notes.push(format!(
            "MISSING DELIVERIES: {delivered_total} of {expected} ({written} records × {} consumers)",
            consumers.len()
        ));
    }
    notes.push(format!("{wanted} subscriptions opened in {:.0} ms", subscribed_in.as_secs_f64() * 1e3));
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        notes.push(format!("server RSS {} KiB before the load, {} KiB after it", before, after));
    }
    let window = seconds_between(measure_from, put_ended);
    Ok(Report {
        workload: "subscribe",
        label: target.label.clone(),
        endpoint: target.endpoint.clone(),
        stream,
        shards: shards.len(),
        params: json!({
            "record_size": shape.record_size,
            "records_per_request": shape.records_per_request,
            "keys": shape.keys,
            "producers": args.producers,
            "consumers": consumers.len(),
            "subscriptions": wanted,
            "rate": args.rate,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        }),
        summary: format!(
            "{} consumers × {} shards = {wanted} SubscribeToShard streams; {} producers ({} records of {} B per request{}); {:.1} s measured after {:.1} s warm-up",
            consumers.len(),
            shards.len(),
            args.producers,
            shape.records_per_request,
            shape.record_size,
            if args.rate > 0 { format!(", {} records/s", args.rate) } else { String::new() },
            window,
            args.warmup
        ),
        calls: vec![
            CallReport::new("PutRecords", &put, window),
            CallReport::new("delivered", &delivered, window),
            CallReport::new("put-to-event", &e2e, window),
        ],
        server,
        notes,
    })
}

/// What the subscribers share with the run.
struct Shared {
    /// Records delivered to any subscriber, warm-up included.
    delivered: AtomicU64,
    stop: AtomicBool,
    stopped: tokio::sync::Notify,
}

impl Shared {
    fn finish(&self) {
        self.stop.store(true, Relaxed);
        self.stopped.notify_waiters();
    }
}

/// One consumer's subscription to one shard, renewed from its continuation if the server
/// ends it (a subscription lasts 5 minutes).
struct Subscriber {
    endpoint: Endpoint,
    consumer_arn: String,
    shard: String,
    record_size: u64,
    measure_from: Arc<std::sync::OnceLock<Instant>>,
    measure_from_micros: Arc<AtomicU64>,
    shared: Arc<Shared>,
    live: Arc<Live>,
    ready: Option<tokio::sync::mpsc::Sender<()>>,
}

impl Subscriber {
    async fn run(mut self) -> Result<(Tally, Latency), String> {
        let mut tally = Tally::default();
        let mut latency = Latency::default();
        let mut conn = Connection::new(&self.endpoint);
        let mut continuation: Option<String> = None;
        while !self.shared.stop.load(Relaxed) {
            let position = match &continuation {
                None => json!({ "Type": "LATEST" }),
                Some(seq) => json!({ "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq }),
            };
            let request =
                json!({ "ConsumerARN": self.consumer_arn, "ShardId": self.shard, "StartingPosition": position });
            let mut body = match conn.open_stream(Op::SubscribeToShard, Bytes::from(request.to_string())).await? {
                Ok(body) => body,
                Err(reply) => {
                    // A renewal within 5 s of the last subscription is refused: wait and retry.
                    tally.error(&reply.error_name(), 1);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let mut buffer = BytesMut::new();
            while !self.shared.stop.load(Relaxed) {
                let frame = tokio::select! {
                    frame = body.frame() => frame,
                    () = self.shared.stopped.notified() => return Ok((tally, latency)),
                };
                let data = match frame {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => data,
                        Err(_) => continue,
                    },
                    Some(Err(e)) => {
                        tally.error(failure_kind(&e.to_string()), 1);
                        break;
                    }
                    None => break,
                };
                buffer.extend_from_slice(&data);
                while let Some(message) = next_message(&mut buffer)? {
                    self.handle(message, &mut tally, &mut latency, &mut continuation)?;
                }
            }
            // The server ended the stream; a new connection renews the subscription.
            conn = Connection::new(&self.endpoint);
        }
        Ok((tally, latency))
    }

    fn handle(
        &mut self,
        message: Message,
        tally: &mut Tally,
        latency: &mut Latency,
        continuation: &mut Option<String>,
    ) -> Result<(), String> {
        match (message.message_type.as_str(), message.event_type.as_str()) {
            ("event", "initial-response") => {
                if let Some(ready) = self.ready.take() {
                    let _ = ready.try_send(());
                }
            }
            ("event", "SubscribeToShardEvent") => {
                let received = now_micros();
                let event: Event = serde_json::from_slice(&message.payload).map_err(|e| format!("event: {e}"))?;
                let n = event.records.len() as u64;
                self.shared.delivered.fetch_add(n, Relaxed);
                Live::add(&self.live.get_records, n);
                let measured = self.measure_from.get().is_some_and(|from| Instant::now() >= *from);
                let window_start = self.measure_from_micros.load(Relaxed);
                for record in &event.records {
                    if let Some(sent) = stamp_of(&record.data)
                        && sent >= window_start
                    {
                        latency.record_micros(received.saturating_sub(sent));
                        tally.records += 1;
                        tally.bytes += self.record_size;
                    }
                }
                if measured {
                    tally.requests += 1;
                }
                if event.continuation.is_some() {
                    *continuation = event.continuation;
                }
            }
            ("exception", kind) | ("error", kind) => {
                Live::add(&self.live.errors, 1);
                return Err(format!("{kind}: {}", String::from_utf8_lossy(&message.payload)));
            }
            _ => {}
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "Records", default, borrow)]
    records: Vec<EventRecord<'a>>,
    #[serde(rename = "ContinuationSequenceNumber", default)]
    continuation: Option<String>,
}

#[derive(Deserialize)]
struct EventRecord<'a> {
    #[serde(rename = "Data", borrow)]
    data: Cow<'a, str>,
}

/// One event-stream message: its type (`event`, `exception`), its event or exception type,
/// and its payload.
pub struct Message {
    pub message_type: String,
    pub event_type: String,
    pub payload: Bytes,
}

/// Takes the next whole message off the front of `buffer` (None: not all of it arrived yet).
/// Checksums are not verified: the server's own tests check its framing with the SDK's decoder.
pub fn next_message(buffer: &mut BytesMut) -> Result<Option<Message>, String> {
    if buffer.len() < 12 {
        return Ok(None);
    }
    let total = u32::from_be_bytes(buffer[0..4].try_into().expect("4 bytes")) as usize;
    let headers_len = u32::from_be_bytes(buffer[4..8].try_into().expect("4 bytes")) as usize;
    if total < 16 + headers_len {
        return Err(format!("malformed event-stream message: total {total}, headers {headers_len}"));
    }
    if buffer.len() < total {
        return Ok(None);
    }
    let mut message = buffer.split_to(total).freeze();
    message.advance(12);
    let mut headers = message.split_to(headers_len);
    let payload = message.split_to(total - 16 - headers_len);
    let (mut message_type, mut event_type) = (String::new(), String::new());
    while headers.has_remaining() {
        let name_len = headers.get_u8() as usize;
        let name = String::from_utf8_lossy(&headers.split_to(name_len.min(headers.len()))).into_owned();
        let value = match headers.get_u8() {
            6 | 7 => {
                let len = headers.get_u16() as usize;
                String::from_utf8_lossy(&headers.split_to(len.min(headers.len()))).into_owned()
            }
            0 | 1 => String::new(),
            kind => {
                let skip = match kind {
                    2 => 1,
                    3 => 2,
                    4 => 4,
                    5 | 8 => 8,
                    9 => 16,
                    _ => return Err(format!("unknown event-stream header type {kind}")),
                };
                headers.advance(skip.min(headers.len()));
                String::new()
            }
        };
        match name.as_str() {
            ":message-type" => message_type = value,
            ":event-type" | ":exception-type" | ":error-code" => event_type = value,
            _ => {}
        }
    }
    Ok(Some(Message { message_type, event_type, payload }))
}
