//! Disk given back per stream, through the real server: a short-retention stream's records
//! leave the disk although a long-retention stream's records share every journal segment with
//! them (compaction), trimmed records never come back after a restart, and a server killed with
//! SIGKILL while it trims and compacts loses no acknowledged record that has not expired.
//!
//! Retention is sped up with `--retention-hour-ms` (one "hour" of retention lasts that many
//! milliseconds when records are trimmed), so a 24-hour stream expires in seconds.
//! `KINESD_RECLAIM_CYCLES` sets the number of kill/restart cycles (default 6).

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use common::{Server, ServerOpts, create_active, seq_cmp, shard_id, wait_active};
use rand::Rng;

/// How long reclaim may take before the test gives up (it takes a few seconds).
const PATIENCE: Duration = Duration::from_secs(60);

fn server(dir: &Path, hour_ms: u64) -> Server {
    Server::start_with(ServerOpts {
        create_stream_ms: 0,
        update_stream_ms: 0,
        data_dir: Some(dir.to_path_buf()),
        extra_args: vec!["--segment-size-mib".into(), "1".into(), "--retention-hour-ms".into(), hour_ms.to_string()],
        ..ServerOpts::default()
    })
}

/// Bytes of the journal's files (segments and indexes).
fn journal_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("journal")).map_or(0, |d| d.map(|e| e.unwrap().metadata().map_or(0, |m| m.len())).sum())
}

/// A counter's value in the server's `/metrics` exposition (0 if absent).
fn metric(srv: &Server, name: &str) -> u64 {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(conn, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).map_or(0, |v| v as u64)
}

async fn make_streams(client: &Client, long_hours: i32) {
    create_active(client, "short", 1).await;
    create_active(client, "long", 1).await;
    client
        .increase_stream_retention_period()
        .stream_name("long")
        .retention_period_hours(long_hours)
        .send()
        .await
        .unwrap();
    wait_active(client, "long").await;
}

async fn put(client: &Client, stream: &str, payloads: &[Vec<u8>]) -> Result<Vec<String>, String> {
    let entries = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            PutRecordsRequestEntry::builder().data(Blob::new(p.clone())).partition_key(format!("k{i}")).build().unwrap()
        })
        .collect();
    let out = client
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    // Without --enforce-limits, no record of an accepted PutRecords fails.
    Ok(out.records().iter().map(|r| r.sequence_number().expect("every record accepted").to_owned()).collect())
}

/// Every record of a stream's one shard from TRIM_HORIZON: (sequence number, data).
async fn read_all(client: &Client, stream: &str) -> Vec<(String, Vec<u8>)> {
    let mut it = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard_id(0))
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let mut records = Vec::new();
    loop {
        let page = client.get_records().shard_iterator(&it).send().await.unwrap();
        records.extend(page.records().iter().map(|r| (r.sequence_number().to_owned(), r.data().as_ref().to_vec())));
        let more = page.millis_behind_latest.unwrap_or(0) > 0 || !page.records().is_empty();
        match page.next_shard_iterator {
            Some(next) if more => it = next,
            _ => return records,
        }
    }
}

fn payload(stream: &str, n: usize, size: usize) -> Vec<u8> {
    let mut p = format!("{stream}-{n:08}-").into_bytes();
    p.resize(size, b'a' + (n % 26) as u8);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_retention_stream_gives_its_disk_back_while_a_long_one_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    // An "hour" of 200 ms: the 24-hour stream expires 4.8 s after a write, the 8,760-hour one
    // after half an hour, long after the test.
    let mut srv = server(dir.path(), 200);
    let client = srv.client();
    make_streams(&client, 8760).await;
    let mut long = Vec::new();
    let mut peak = 0;
    for round in 0..16 {
        let short: Vec<Vec<u8>> = (0..200).map(|i| payload("short", round * 200 + i, 2048)).collect();
        put(&client, "short", &short).await.unwrap();
        let batch: Vec<Vec<u8>> = (0..50).map(|i| payload("long", round * 50 + i, 1024)).collect();
        let seqs = put(&client, "long", &batch).await.unwrap();
        long.extend(seqs.into_iter().zip(batch));
        peak = peak.max(journal_bytes(dir.path()));
    }
    assert!(peak > 6_000_000, "the journal held at most {peak} bytes");

    // The short stream's records expire and their space comes back, although every segment
    // they were in also holds the long stream's records.
    let started = Instant::now();
    let mut now = peak;
    while now * 3 > peak {
        assert!(started.elapsed() < PATIENCE, "the journal still holds {now} of {peak} bytes");
        tokio::time::sleep(Duration::from_millis(200)).await;
        now = journal_bytes(dir.path());
    }
    eprintln!("journal: {peak} bytes after writing, {now} bytes {:?} later", started.elapsed());
    assert!(metric(&srv, "kinesd_journal_compactions_total") > 0);
    assert!(metric(&srv, "kinesd_journal_reclaimed_bytes_total") > peak / 2);
    same(&read_all(&client, "long").await, &long, "the long stream keeps every record");
    assert!(read_all(&client, "short").await.is_empty());

    // After a crash and a restart with real hours (so the engine would trim nothing), the
    // expired records stay gone: the trim horizon is on disk.
    srv.kill9();
    let srv = server(dir.path(), 3_600_000);
    let client = srv.client();
    assert!(read_all(&client, "short").await.is_empty(), "expired records came back after a restart");
    same(&read_all(&client, "long").await, &long, "after the restart");
    assert!(journal_bytes(dir.path()) * 3 <= peak);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_that_expire_while_the_server_is_down_are_gone_when_it_answers_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = server(dir.path(), 100);
    let client = srv.client();
    make_streams(&client, 8760).await;
    let short: Vec<Vec<u8>> = (0..100).map(|i| payload("short", i, 100)).collect();
    let written = Instant::now();
    put(&client, "short", &short).await.unwrap();
    let long: Vec<Vec<u8>> = (0..100).map(|i| payload("long", i, 100)).collect();
    let seqs = put(&client, "long", &long).await.unwrap();
    assert_eq!(read_all(&client, "short").await.len(), 100);
    srv.kill9();
    assert!(written.elapsed() < Duration::from_millis(2_000), "too slow to kill before the records expire");
    // 24 "hours" of 100 ms after they were written, the short stream's records have expired.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let srv = server(dir.path(), 100);
    let client = srv.client();
    assert!(read_all(&client, "short").await.is_empty(), "expired records served after a restart");
    same(&read_all(&client, "long").await, &seqs.into_iter().zip(long).collect::<Vec<_>>(), "the long stream");
}

/// What the server acknowledged: (sequence number, data), in order.
type Acks = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Writes batches to `stream` until the server dies; every acknowledged record goes into
/// `acks` as (sequence number, data).
async fn produce(client: Client, stream: &'static str, size: usize, batch: usize, acks: Acks) {
    let mut n = 0usize;
    loop {
        let base = acks.lock().unwrap().len() + n;
        let payloads: Vec<Vec<u8>> = (0..batch).map(|i| payload(stream, base * 1000 + i, size)).collect();
        n += 1;
        match put(&client, stream, &payloads).await {
            Ok(seqs) => acks.lock().unwrap().extend(seqs.into_iter().zip(payloads)),
            Err(_) => return,
        }
    }
}

/// `got` is `want`, or a short account of where they differ.
fn same(got: &[(String, Vec<u8>)], want: &[(String, Vec<u8>)], what: &str) {
    if got == want {
        return;
    }
    let at = got.iter().zip(want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
    let show = |r: Option<&(String, Vec<u8>)>| {
        r.map(|(s, d)| format!("{s} {}", String::from_utf8_lossy(&d[..d.len().min(24)])))
    };
    panic!(
        "{what}: read {} records, expected {}; first difference at {at}: read {:?}, expected {:?}",
        got.len(),
        want.len(),
        show(got.get(at)),
        show(want.get(at))
    );
}

/// Every acknowledged record is in `got` with its sequence number and data, and `got` is in
/// order; it may hold more (a batch written just before a kill whose answer never arrived).
fn holds_every_ack(got: &[(String, Vec<u8>)], acks: &[(String, Vec<u8>)], what: &str) {
    in_order(got, what);
    let by_seq: std::collections::HashMap<&str, &[u8]> = got.iter().map(|(s, d)| (s.as_str(), d.as_slice())).collect();
    let lost = acks.iter().filter(|(s, d)| by_seq.get(s.as_str()) != Some(&d.as_slice())).count();
    assert_eq!(lost, 0, "{what}: {lost} of {} acknowledged records lost or changed", acks.len());
}

/// The shard's records are in order, none twice.
fn in_order(records: &[(String, Vec<u8>)], what: &str) {
    for pair in records.windows(2) {
        assert_eq!(seq_cmp(&pair[0].0, &pair[1].0), std::cmp::Ordering::Less, "{what}: out of order or repeated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_unexpired_records_survive_sigkill_during_reclaim() {
    let cycles: usize = std::env::var("KINESD_RECLAIM_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    // An "hour" of 50 ms: the short stream's records expire 1.2 s after they are written,
    // so segments die and are compacted continuously while the producers write.
    const HOUR_MS: u64 = 50;
    {
        let srv = server(dir.path(), HOUR_MS);
        make_streams(&srv.client(), 8760).await;
    }
    let long_acks = Arc::new(Mutex::new(Vec::new()));
    let mut compactions = 0;
    let mut young_checked = 0;
    for cycle in 0..cycles {
        let mut srv = server(dir.path(), HOUR_MS);
        let client = srv.client();
        let long = read_all(&client, "long").await;
        holds_every_ack(&long, &long_acks.lock().unwrap(), &format!("cycle {cycle}: the long stream"));
        in_order(&read_all(&client, "short").await, "short");
        let short_acks = Arc::new(Mutex::new(Vec::new()));
        let producers = vec![
            tokio::spawn(produce(client.clone(), "short", 4096, 100, short_acks.clone())),
            tokio::spawn(produce(client.clone(), "short", 4096, 100, short_acks.clone())),
            tokio::spawn(produce(client.clone(), "long", 700, 20, long_acks.clone())),
        ];
        let pause = rand::rng().random_range(1500..4000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        compactions += metric(&srv, "kinesd_journal_compactions_total");
        // Let the kill land anywhere in the next moments of writing, trimming and compacting.
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..300))).await;
        srv.kill9();
        let killed = Instant::now();
        for p in producers {
            tokio::time::timeout(Duration::from_secs(30), p)
                .await
                .expect("producers stop once the server is gone")
                .unwrap();
        }
        // Unexpired acknowledged records of the short stream are there too: those written in the
        // last moments before the kill, read at once after the restart (checked only when the
        // restart was quick enough that they cannot have expired meanwhile).
        let srv = server(dir.path(), HOUR_MS);
        let client = srv.client();
        let short = read_all(&client, "short").await;
        in_order(&short, "short");
        let young: Vec<_> = {
            let acks = short_acks.lock().unwrap();
            acks[acks.len().saturating_sub(50)..].to_vec()
        };
        if killed.elapsed() < Duration::from_millis(800) {
            young_checked += 1;
            for (seq, data) in &young {
                assert!(short.iter().any(|(s, d)| s == seq && d == data), "cycle {cycle}: unexpired record {seq} lost");
            }
        }
    }
    let srv = server(dir.path(), HOUR_MS);
    let long = read_all(&srv.client(), "long").await;
    let acks = long_acks.lock().unwrap();
    holds_every_ack(&long, &acks, "after the last cycle");
    assert!(acks.len() > cycles * 20, "the test wrote too little to prove anything: {} records", acks.len());
    assert!(compactions > 0, "no compaction ran while the producers wrote");
    eprintln!(
        "{} acknowledged long-retention records survived {cycles} SIGKILLs amid {compactions} compactions; \
         the newest short-retention records were checked after {young_checked} of the restarts",
        acks.len()
    );
}
