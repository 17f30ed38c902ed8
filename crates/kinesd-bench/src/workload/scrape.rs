//! `scrape`: what a Prometheus scrape of kinesd's `GET /metrics` costs with many streams. The
//! streams are created first (CreateStream for all of them, then each waited for), each given
//! one record so that its counters are not all zero; then `--scrapes` scrapes run one after
//! another on one keep-alive connection, each timed whole (request to last byte).

use std::time::Instant;

use bytes::Bytes;
use serde_json::json;

use crate::cli::ScrapeArgs;
use crate::client::{Connection, Op};
use crate::control::ensure_stream;
use crate::probe::{CpuWindow, Probe};
use crate::report::{CallReport, Report};
use crate::stats::Tally;

pub async fn run(args: ScrapeArgs) -> Result<Report, String> {
    let target = &args.target;
    let endpoint = target.endpoint().await?;
    let prefix = target.stream_name("scrape");
    let probe = target.server_pid.map(Probe::new).transpose()?;
    let mut conn = Connection::new(&endpoint);
    let names: Vec<String> = (0..args.streams).map(|i| format!("{prefix}-{i:05}")).collect();
    // All creations first, so that their CREATING phases overlap.
    for name in &names {
        let body = json!({ "StreamName": name, "ShardCount": target.shards }).to_string();
        let reply = conn.call_retrying(Op::CreateStream, Bytes::from(body)).await?;
        if !reply.ok() && reply.error_name() != "ResourceInUseException" {
            return Err(format!("CreateStream {name}: {}", reply.error_name()));
        }
    }
    for name in &names {
        ensure_stream(&endpoint, name, target.shards).await?;
        let body = json!({ "StreamName": name, "Records": [{ "Data": "eA==", "PartitionKey": "p" }] }).to_string();
        let reply = conn.call_retrying(Op::PutRecords, Bytes::from(body)).await?;
        if !reply.ok() {
            return Err(format!("PutRecords {name}: {}", reply.error_name()));
        }
    }
    let measure_from = Instant::now();
    let cpu = CpuWindow::starting_at(probe, measure_from);
    let mut tally = Tally::default();
    let mut body_bytes = 0;
    let mut series = 0;
    for _ in 0..args.scrapes {
        let started = Instant::now();
        match conn.get("/metrics").await {
            Ok(reply) if reply.ok() => {
                tally.latency.record(started.elapsed());
                tally.requests += 1;
                body_bytes = reply.body.len();
                series = reply.body.split(|&b| b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count();
            }
            Ok(reply) => tally.error(&format!("HTTP {}", reply.status.as_u16()), 1),
            Err(e) => tally.error(&e, 1),
        }
    }
    let seconds = measure_from.elapsed().as_secs_f64();
    let server = cpu.usage(tally.requests).await;
    Ok(Report {
        workload: "scrape",
        label: target.label.clone(),
        endpoint: target.endpoint.clone(),
        stream: format!("{prefix}-*"),
        shards: args.streams * target.shards as usize,
        params: json!({ "streams": args.streams, "scrapes": args.scrapes, "shards_per_stream": target.shards }),
        summary: format!(
            "{} streams of {} shard(s); {} scrapes in a row; last one {} bytes, {} series",
            args.streams, target.shards, args.scrapes, body_bytes, series
        ),
        calls: vec![CallReport::new("GET /metrics", &tally, seconds)],
        server,
        notes: Vec::new(),
    })
}
