//! Fills a data directory through the engine (no HTTP), for scale checks: many shards, many
//! gigabytes. Then start `kinesd --data-dir DIR` on it and measure start-up and memory.
//!
//!     cargo run --release -p kinesd --example fill -- --dir DIR --streams 10 --shards 100 \
//!         --megabytes 10240 --record-size 1000 [--batch 500]
//!
//! Each PutRecords-sized batch goes to one stream with random partition keys, so records spread
//! over all its shards, as a KPL-style producer's do.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kinesd::engine::catalog::StreamMode;
use kinesd::engine::lifecycle::NewStream;
use kinesd::engine::records::PutEntry;
use kinesd::engine::{Engine, EngineConfig};
use kinesd::store::Store;
use kinesd::store::disk::{DiskOptions, DiskStore};
use rand::Rng;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (mut dir, mut streams, mut shards, mut megabytes, mut record_size, mut batch) =
        (None, 1u32, 4u32, 100u64, 1000usize, 500usize);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => dir = Some(std::path::PathBuf::from(value)),
            "--streams" => streams = value.parse().expect("--streams"),
            "--shards" => shards = value.parse().expect("--shards"),
            "--megabytes" => megabytes = value.parse().expect("--megabytes"),
            "--record-size" => record_size = value.parse().expect("--record-size"),
            "--batch" => batch = value.parse().expect("--batch"),
            other => panic!("unknown flag {other}"),
        }
    }
    let dir = dir.expect("--dir DIR");
    let store: Arc<dyn Store> = Arc::new(DiskStore::open(&dir, DiskOptions::default()).unwrap());
    let config = EngineConfig { create_stream_ms: 0, shard_limit: streams * shards + 1000, ..EngineConfig::default() };
    let engine = Engine::open(config, store).await.unwrap();
    let names: Vec<_> = (0..streams).map(|i| engine.default_key(&format!("fill-{i}"))).collect();
    let account = &engine.config.account_id;
    let existing: Vec<_> = engine.account_streams(account).await.unwrap().iter().map(|s| s.key()).collect();
    for name in &names {
        if !existing.contains(name) {
            engine
                .create_stream(NewStream {
                    key: name.clone(),
                    shard_count: Some(shards),
                    mode: StreamMode::Provisioned,
                    tags: Vec::new(),
                    max_record_kib: None,
                    warm_throughput_mibps: None,
                })
                .await
                .unwrap();
        }
    }
    let payload = Bytes::from(vec![b'r'; record_size]);
    let target = megabytes * 1_000_000;
    let started = Instant::now();
    let writers = 8;
    let per_writer = target / writers;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (engine, names, payload) = (engine.clone(), names.clone(), payload.clone());
            tokio::spawn(async move {
                let mut written = 0u64;
                let mut i = w as usize;
                while written < per_writer {
                    let entries: Vec<PutEntry> = (0..batch)
                        .map(|_| PutEntry {
                            partition_key: format!("{:x}", rand::rng().random::<u64>()),
                            data: payload.clone(),
                            explicit_hash_key: None,
                        })
                        .collect();
                    engine.put_records(&names[i % names.len()], entries).await.unwrap();
                    written += (batch * payload.len()) as u64;
                    i += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {} MB into {} streams x {} shards in {:.1} s ({:.0} MB/s)",
        target / 1_000_000,
        streams,
        shards,
        secs,
        target as f64 / 1e6 / secs
    );
}
