//! `get`: fill a stream with N records, then read it all back from TRIM_HORIZON with R
//! readers (a catch-up read, as a consumer that fell behind does). Only the read is measured
//! against the server's CPU; the fill is reported on its own line.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{ProducerPlan, produce_all, seconds_between};
use crate::cli::GetArgs;
use crate::client::Protocol;
use crate::client::{Connection, Endpoint, Op, failure_kind};
use crate::control::{ensure_stream, trim_horizon_iterator};
use crate::probe::Probe;
use crate::progress::Ticker;
use crate::records::{CountedPage, PutBodies, get_records_body};
use crate::report::{CallReport, Report};
use crate::stats::{Live, Tally};

/// Empty pages in a row after which a shard counts as read to its end even if the server
/// does not report MillisBehindLatest = 0.
const EMPTY_PAGES_AT_END: u32 = 3;

pub async fn run(args: GetArgs) -> Result<Report, String> {
    let target = &args.target;
    let endpoint = target.endpoint().await?;
    let stream = target.stream_name("get");
    let probe = target.server_pid.map(Probe::new).transpose()?;
    let shards = ensure_stream(&endpoint, &stream, target.shards).await?;
    let shape = args.shape.shape();

    let live = Arc::new(Live::default());
    let fill_started = Instant::now();
    let plan = Arc::new(ProducerPlan {
        endpoint: endpoint.clone(),
        bodies: PutBodies::in_protocol(&stream, shape, args.protocol),
        stamped: false,
        measure_from: fill_started,
        deadline: fill_started + Duration::from_secs_f64(args.fill_timeout.max(0.0)),
        count: Some(args.fill),
        claimed: AtomicU64::new(0),
        pace: None,
        live: live.clone(),
        observer: None,
    });
    let ticker = Ticker::start("fill", live, target.quiet);
    let fill = produce_all(plan, args.fill_connections).await;
    let fill_ended = Instant::now();
    drop(ticker);

    let live = Arc::new(Live::default());
    let ticker = Ticker::start("get", live.clone(), target.quiet);
    let cpu_at_start = probe.and_then(|p| p.cpu_seconds());
    let read_started = Instant::now();
    let deadline = read_started + Duration::from_secs_f64(args.duration.max(0.0));
    let readers = args.readers.clamp(1, shards.len());
    let tasks: Vec<_> = (0..readers)
        .map(|r| {
            let mine: Vec<String> = shards.iter().skip(r).step_by(readers).cloned().collect();
            let reader = Reader {
                endpoint: endpoint.clone(),
                protocol: args.protocol,
                stream: stream.clone(),
                limit: args.limit,
                record_size: shape.record_size as u64,
                deadline,
                live: live.clone(),
            };
            tokio::spawn(async move { reader.read(mine).await })
        })
        .collect();
    let mut read = Tally::default();
    let mut notes = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(tally)) => read.merge(&tally),
            Ok(Err(e)) => notes.push(format!("a reader stopped: {e}")),
            Err(e) => notes.push(format!("a reader failed: {e}")),
        }
    }
    let read_ended = Instant::now();
    drop(ticker);
    let server = probe.and_then(|p| p.usage_since(cpu_at_start, read.records));
    if fill.records < args.fill {
        notes.push(format!(
            "the fill stopped at {} of {} records (--fill-timeout {} s)",
            fill.records, args.fill, args.fill_timeout
        ));
    }
    if read.records != fill.records {
        notes.push(format!("read {} records of the {} written", read.records, fill.records));
    }
    Ok(Report {
        workload: "get",
        label: target.label.clone(),
        endpoint: target.endpoint.clone(),
        stream,
        shards: shards.len(),
        params: json!({
            "record_size": shape.record_size,
            "records_per_request": shape.records_per_request,
            "keys": shape.keys,
            "fill": args.fill,
            "fill_connections": args.fill_connections,
            "readers": readers,
            "limit": args.limit,
            "protocol": format!("{:?}", args.protocol).to_lowercase(),
            "duration_s": args.duration,
        }),
        summary: format!(
            "filled {} records of {} B ({} per request, {} connections), then {} readers with Limit {} from TRIM_HORIZON",
            fill.records, shape.record_size, shape.records_per_request, args.fill_connections, readers, args.limit
        ),
        calls: vec![
            CallReport::new("fill (put)", &fill, seconds_between(fill_started, fill_ended)),
            CallReport::new("GetRecords", &read, seconds_between(read_started, read_ended)),
        ],
        server,
        notes,
    })
}

/// One reader: its shards one after another, each from TRIM_HORIZON to its end.
struct Reader {
    endpoint: Endpoint,
    protocol: Protocol,
    stream: String,
    limit: u32,
    record_size: u64,
    deadline: Instant,
    live: Arc<Live>,
}

impl Reader {
    async fn read(self, shards: Vec<String>) -> Result<Tally, String> {
        // Set-up calls (GetShardIterator) in JSON; the measured GetRecords in the run's protocol.
        let mut setup = Connection::new(&self.endpoint);
        let mut conn = Connection::speaking(&self.endpoint, self.protocol);
        let mut tally = Tally::default();
        for shard in shards {
            let mut iterator = trim_horizon_iterator(&mut setup, &self.stream, &shard).await?;
            let mut empty_pages = 0;
            while Instant::now() < self.deadline {
                let body = get_records_body(&iterator, self.limit, self.protocol);
                let started = Instant::now();
                let reply = match conn.call(Op::GetRecords, body).await {
                    Ok(reply) => reply,
                    Err(e) => {
                        tally.error(failure_kind(&e), 1);
                        Live::add(&self.live.errors, 1);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                tally.latency.record(started.elapsed());
                tally.requests += 1;
                if !reply.ok() {
                    let name = reply.error_name();
                    tally.error(&name, 1);
                    Live::add(&self.live.errors, 1);
                    if name.contains("Expired") || name.contains("ResourceNotFound") {
                        return Err(format!("GetRecords on {shard}: {name}"));
                    }
                    // Throttled (peers enforce AWS's 5 calls/s per shard): back off.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let page = CountedPage::parse(&reply.body, self.protocol)
                    .map_err(|e| format!("GetRecords on {shard}: unparsable answer: {e}"))?;
                let n = page.records.len() as u64;
                tally.records += n;
                tally.bytes += n * self.record_size;
                Live::add(&self.live.get_records, n);
                if n == 0 {
                    empty_pages += 1;
                    let caught_up = page.millis_behind.is_none_or(|ms| ms <= 0.0);
                    if caught_up || empty_pages >= EMPTY_PAGES_AT_END {
                        break;
                    }
                } else {
                    empty_pages = 0;
                }
                match page.next_iterator {
                    Some(next) => iterator = next,
                    None => break,
                }
            }
        }
        Ok(tally)
    }
}
