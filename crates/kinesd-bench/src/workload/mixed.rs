//! `mixed`: producers and tailing consumers at once. Every record carries its send time, so
//! a consumer that reads it knows the end-to-end latency from PutRecords to GetRecords
//! (including its own polling delay, as a real consumer would see it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{ProducerPlan, StampedSetup, produce_all, seconds_between, stamped_setup};
use crate::cli::{MixedArgs, pace};
use crate::client::Protocol;
use crate::client::{Connection, Op, failure_kind};
use crate::control::trim_horizon_iterator;
use crate::probe::CpuWindow;
use crate::progress::Ticker;
use crate::records::{PutBodies, get_records_body, now_micros, stamped_page};
use crate::report::{CallReport, Report};
use crate::stats::{Latency, Live, Tally};

/// How long consumers may keep draining after the producers stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
const GET_LIMIT: u32 = 10_000;

pub async fn run(args: MixedArgs) -> Result<Report, String> {
    let target = &args.target;
    let shape = args.shape.shape();
    let StampedSetup { endpoint, stream, probe, shards } = stamped_setup("mixed", target, &shape).await?;
    let consumers = args.consumers.unwrap_or(shards.len()).clamp(1, shards.len());

    // Consumers take their iterators before anything is written, so they see every record.
    let live = Arc::new(Live::default());
    let producers_done = Arc::new(AtomicBool::new(false));
    let mut positioned = Vec::new();
    for c in 0..consumers {
        // Iterators are set-up calls, in JSON; the measured GetRecords are in the run's protocol.
        let mut setup = Connection::new(&endpoint);
        let mut iterators = Vec::new();
        for shard in shards.iter().skip(c).step_by(consumers) {
            iterators.push(trim_horizon_iterator(&mut setup, &stream, shard).await?);
        }
        positioned.push((Connection::speaking(&endpoint, args.protocol), iterators));
    }

    let started = Instant::now();
    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    let measure_from = started + warmup;
    let measure_from_micros = now_micros() + warmup.as_micros() as u64;
    let deadline = measure_from + Duration::from_secs_f64(args.duration.max(0.0));
    let consumer_tasks: Vec<_> = positioned
        .into_iter()
        .map(|(conn, iterators)| {
            let consumer = Consumer {
                conn,
                protocol: args.protocol,
                iterators,
                record_size: shape.record_size as u64,
                measure_from,
                measure_from_micros,
                hard_stop: deadline + DRAIN_TIMEOUT,
                poll: Duration::from_millis(args.poll_ms),
                producers_done: producers_done.clone(),
                live: live.clone(),
            };
            tokio::spawn(consumer.run())
        })
        .collect();

    let plan = Arc::new(ProducerPlan {
        endpoint,
        bodies: PutBodies::in_protocol(&stream, shape, args.protocol),
        stamped: true,
        measure_from,
        deadline,
        count: None,
        claimed: AtomicU64::new(0),
        pace: pace(args.rate, args.producers, shape.records_per_request),
        live: live.clone(),
        observer: None,
    });
    let ticker = Ticker::start("mixed", live, target.quiet);
    let cpu = CpuWindow::starting_at(probe, measure_from);
    let put = produce_all(plan, args.producers).await;
    let put_ended = Instant::now();
    producers_done.store(true, Relaxed);
    let server = cpu.usage(put.records).await;

    let mut get = Tally::default();
    let mut e2e = Tally::default();
    let mut notes = Vec::new();
    for task in consumer_tasks {
        match task.await {
            Ok(Ok((g, latency))) => {
                get.merge(&g);
                e2e.records += latency.summary().count;
                e2e.latency.merge(&latency);
            }
            Ok(Err(e)) => notes.push(format!("a consumer stopped: {e}")),
            Err(e) => notes.push(format!("a consumer failed: {e}")),
        }
    }
    let get_ended = Instant::now();
    drop(ticker);
    if get.records < put.records {
        notes.push(format!("consumers read {} of the {} records written in the window", get.records, put.records));
    }
    Ok(Report {
        workload: "mixed",
        label: target.label.clone(),
        endpoint: target.endpoint.clone(),
        stream,
        shards: shards.len(),
        params: json!({
            "record_size": shape.record_size,
            "records_per_request": shape.records_per_request,
            "keys": shape.keys,
            "producers": args.producers,
            "protocol": format!("{:?}", args.protocol).to_lowercase(),
            "consumers": consumers,
            "rate": args.rate,
            "poll_ms": args.poll_ms,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        }),
        summary: format!(
            "{} producers ({} records of {} B per request{}), {} tailing consumers polling every {} ms when idle; {:.1} s measured after {:.1} s warm-up",
            args.producers,
            shape.records_per_request,
            shape.record_size,
            if args.rate > 0 { format!(", {} records/s", args.rate) } else { String::new() },
            consumers,
            args.poll_ms,
            seconds_between(measure_from, put_ended),
            args.warmup
        ),
        calls: vec![
            CallReport::new("PutRecords", &put, seconds_between(measure_from, put_ended)),
            CallReport::new("GetRecords", &get, seconds_between(measure_from, get_ended)),
            CallReport::new("end-to-end", &e2e, seconds_between(measure_from, get_ended)),
        ],
        server,
        notes,
    })
}

/// One tailing consumer: round-robin over its shards' iterators.
struct Consumer {
    conn: Connection,
    protocol: Protocol,
    iterators: Vec<String>,
    record_size: u64,
    measure_from: Instant,
    /// `measure_from` on the clock of the records' stamps.
    measure_from_micros: u64,
    hard_stop: Instant,
    poll: Duration,
    producers_done: Arc<AtomicBool>,
    live: Arc<Live>,
}

impl Consumer {
    async fn run(mut self) -> Result<(Tally, Latency), String> {
        let mut tally = Tally::default();
        let mut e2e = Latency::default();
        while Instant::now() < self.hard_stop && !self.iterators.is_empty() {
            // Read after checking, so a pass that finds nothing after the producers stopped
            // means everything has been read.
            let producers_done = self.producers_done.load(Relaxed);
            let mut found = 0;
            let mut i = 0;
            while i < self.iterators.len() {
                let body = get_records_body(&self.iterators[i], GET_LIMIT, self.protocol);
                let started = Instant::now();
                let measured = started >= self.measure_from;
                let reply = match self.conn.call(Op::GetRecords, body).await {
                    Ok(reply) => reply,
                    Err(e) => {
                        tally.error(failure_kind(&e), 1);
                        Live::add(&self.live.errors, 1);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        i += 1;
                        continue;
                    }
                };
                let received = now_micros();
                if measured {
                    tally.latency.record(started.elapsed());
                    tally.requests += 1;
                }
                if !reply.ok() {
                    let name = reply.error_name();
                    Live::add(&self.live.errors, 1);
                    if measured {
                        tally.error(&name, 1);
                    }
                    if name.contains("Expired") || name.contains("ResourceNotFound") {
                        return Err(format!("GetRecords: {name}"));
                    }
                    i += 1;
                    continue;
                }
                let (stamps, next_iterator) = stamped_page(&reply.body, self.protocol)
                    .map_err(|e| format!("GetRecords: unparsable answer: {e}"))?;
                let n = stamps.len() as u64;
                found += n;
                Live::add(&self.live.get_records, n);
                for stamp in stamps {
                    // Only records sent inside the window count, like the producers' tally.
                    if let Some(sent) = stamp
                        && sent >= self.measure_from_micros
                    {
                        e2e.record_micros(received.saturating_sub(sent));
                        tally.records += 1;
                        tally.bytes += self.record_size;
                    }
                }
                match next_iterator {
                    Some(next) => {
                        self.iterators[i] = next;
                        i += 1;
                    }
                    None => {
                        self.iterators.swap_remove(i);
                    }
                }
            }
            if found == 0 {
                if producers_done {
                    break;
                }
                tokio::time::sleep(self.poll).await;
            }
        }
        Ok((tally, e2e))
    }
}
