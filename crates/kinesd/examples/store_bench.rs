//! Store-level benchmark: appends through the `Store` trait with the durable disk store (or
//! the memory store), from concurrent writers, then reads everything back sequentially.
//!
//!     cargo run --release -p kinesd --example store_bench -- [--record-size 100] [--batch 500]
//!         [--shards 4] [--writers 8] [--seconds 10] [--relaxed] [--memory] [--dir DIR]
//!
//! Reports records/s, MB/s of payload, fdatasync count, records per sync, append latency
//! percentiles, and sequential read throughput (from the page cache, as the data was just
//! written).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kinesd::store::disk::{DiskOptions, DiskStore, Durability};
use kinesd::store::memory::MemoryStore;
use kinesd::store::{NewRecord, Store};

struct Args {
    record_size: usize,
    batch: usize,
    shards: u64,
    writers: usize,
    seconds: u64,
    relaxed: bool,
    memory: bool,
    dir: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        record_size: 100,
        batch: 500,
        shards: 4,
        writers: 8,
        seconds: 10,
        relaxed: false,
        memory: false,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--record-size" => a.record_size = value().parse().expect("--record-size"),
            "--batch" => a.batch = value().parse().expect("--batch"),
            "--shards" => a.shards = value().parse().expect("--shards"),
            "--writers" => a.writers = value().parse().expect("--writers"),
            "--seconds" => a.seconds = value().parse().expect("--seconds"),
            "--dir" => a.dir = Some(value().into()),
            "--relaxed" => a.relaxed = true,
            "--memory" => a.memory = true,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let tmp = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let disk = if a.memory {
        None
    } else {
        let durability = if a.relaxed { Durability::Relaxed(Duration::from_millis(200)) } else { Durability::Full };
        Some(Arc::new(DiskStore::open(&dir, DiskOptions { durability, ..DiskOptions::default() }).unwrap()))
    };
    let store: Arc<dyn Store> = match &disk {
        Some(d) => d.clone(),
        None => Arc::new(MemoryStore::new()),
    };
    let mut logs = Vec::new();
    for _ in 0..a.shards {
        logs.push(store.create_log().await.unwrap());
    }
    let logs = Arc::new(logs);
    let payload = Bytes::from(vec![b'x'; a.record_size]);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..a.writers)
        .map(|w| {
            let (store, stop, payload, logs) = (store.clone(), stop.clone(), payload.clone(), logs.clone());
            let (batch, shards) = (a.batch, a.shards);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut records = 0u64;
                let mut i = w as u64;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<NewRecord> = (0..batch)
                        .map(|k| NewRecord {
                            partition_key: Bytes::from(format!("pk-{k}")),
                            data: payload.clone(),
                            flags: 0,
                        })
                        .collect();
                    let t = Instant::now();
                    store.append(logs[(i % shards) as usize], batch, 0).await.unwrap();
                    latencies.push(t.elapsed().as_micros() as u64);
                    records += a.batch as u64;
                    i += 1;
                }
                (records, latencies)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut records = 0;
    let mut latencies = Vec::new();
    for t in tasks {
        let (r, l) = t.await.unwrap();
        records += r;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let (syncs, groups) = disk
        .as_ref()
        .map_or((0, 0), |d| (d.stats().syncs.load(Ordering::Relaxed), d.stats().groups.load(Ordering::Relaxed)));
    let mb = (records as usize * a.record_size) as f64 / 1e6;
    println!(
        "store: {}",
        if a.memory {
            "memory"
        } else if a.relaxed {
            "disk, relaxed"
        } else {
            "disk, full durability (fdatasync)"
        }
    );
    println!(
        "append: {} records of {} B in batches of {} over {} shards from {} writers",
        records, a.record_size, a.batch, a.shards, a.writers
    );
    println!("  {:.0} records/s, {:.1} MB/s of payload, {:.1} s", records as f64 / elapsed, mb / elapsed, elapsed);
    println!("  {syncs} syncs in {groups} groups ({:.0} records per sync)", records as f64 / syncs.max(1) as f64);
    println!(
        "  append latency ms: p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        percentile(&latencies, 1.0)
    );
    let started = Instant::now();
    let mut read = 0usize;
    let mut bytes = 0usize;
    for &log in logs.iter() {
        let mut from = 0;
        loop {
            let batch = store.read(log, from, 10_000, 10 << 20).await.unwrap();
            if batch.records.is_empty() {
                break;
            }
            read += batch.records.len();
            bytes += batch.records.iter().map(|r| r.data.len() + r.partition_key.len()).sum::<usize>();
            from = batch.next;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "read: {read} records, {:.0} records/s, {:.0} MB/s sequential",
        read as f64 / elapsed,
        bytes as f64 / 1e6 / elapsed
    );
    if let Some(d) = &disk {
        d.close();
    }
}
