//! `put`: PutRecords over N connections for a duration (after a warm-up) or a record count.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{ProducerPlan, produce_all, seconds_between};
use crate::cli::{PutArgs, pace};
use crate::control::ensure_stream;
use crate::probe::{CpuWindow, Probe};
use crate::progress::Ticker;
use crate::records::PutBodies;
use crate::report::{CallReport, Report};
use crate::stats::Live;

pub async fn run(args: PutArgs) -> Result<Report, String> {
    let target = &args.target;
    let endpoint = target.endpoint().await?;
    let stream = target.stream_name("put");
    let probe = target.server_pid.map(Probe::new).transpose()?;
    let shards = ensure_stream(&endpoint, &stream, target.shards).await?;
    let shape = args.shape.shape();
    let warmup = if args.count.is_some() { 0.0 } else { args.warmup.max(0.0) };
    let live = Arc::new(Live::default());
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(warmup);
    let plan = Arc::new(ProducerPlan {
        endpoint,
        bodies: PutBodies::in_protocol(&stream, shape, args.protocol),
        stamped: false,
        measure_from,
        deadline: measure_from + Duration::from_secs_f64(args.duration.max(0.0)),
        count: args.count,
        claimed: AtomicU64::new(0),
        pace: pace(args.rate, args.connections, shape.records_per_request),
        live: live.clone(),
        observer: None,
    });
    let ticker = Ticker::start("put", live, target.quiet);
    let cpu = CpuWindow::starting_at(probe, measure_from);
    let tally = produce_all(plan, args.connections).await;
    let ended = Instant::now();
    drop(ticker);
    let server = cpu.usage(tally.records).await;
    let mut notes = Vec::new();
    if tally.requests == 0 {
        notes.push("no request completed in the measurement window".into());
    }
    Ok(Report {
        workload: "put",
        label: target.label.clone(),
        endpoint: target.endpoint.clone(),
        stream,
        shards: shards.len(),
        params: json!({
            "record_size": shape.record_size,
            "records_per_request": shape.records_per_request,
            "keys": shape.keys,
            "connections": args.connections,
            "protocol": format!("{:?}", args.protocol).to_lowercase(),
            "duration_s": args.duration,
            "count": args.count,
            "warmup_s": warmup,
            "rate": args.rate,
        }),
        summary: format!(
            "{} records of {} B per request, {} partition keys, {} connections{}; {:.1} s measured after {:.1} s warm-up",
            shape.records_per_request,
            shape.record_size,
            shape.keys,
            args.connections,
            if args.rate > 0 { format!(", limited to {} records/s", args.rate) } else { String::new() },
            seconds_between(measure_from, ended),
            warmup
        ),
        calls: vec![CallReport::new("PutRecords", &tally, seconds_between(measure_from, ended))],
        server,
        notes,
    })
}
