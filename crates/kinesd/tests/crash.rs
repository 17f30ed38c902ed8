//! Crash safety: concurrent producers write to a real `kinesd` on a data directory while the
//! process is killed with SIGKILL at random moments; after every restart, every acknowledged
//! record must be there, unchanged, in order, with its sequence number and arrival time.
//!
//! `KINESD_CRASH_CYCLES` sets the number of kill/restart cycles (default 20); use e.g. 500 for
//! a long manual run.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use common::{Server, ServerOpts, create_active, seq_cmp, shard_id};
use rand::Rng;

const STREAM: &str = "crash";
const SHARDS: u32 = 4;
const PRODUCERS: usize = 8;

/// What the server acknowledged for one record.
#[derive(Clone, Debug, PartialEq)]
struct Ack {
    shard: String,
    sequence: String,
}

/// A record as read back.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    data: Vec<u8>,
    partition_key: String,
    arrival_ms: i64,
}

fn server(dir: &std::path::Path) -> Server {
    // Small segments, so that kills also land while segments are being sealed and started.
    Server::start_with(ServerOpts {
        create_stream_ms: 0,
        data_dir: Some(dir.to_path_buf()),
        extra_args: vec!["--segment-size-mib".into(), "1".into()],
        ..ServerOpts::default()
    })
}

/// Writes until the server dies; every acknowledged record goes into `acks`.
async fn produce(client: Client, producer: usize, cycle: usize, acks: Arc<Mutex<HashMap<Vec<u8>, Ack>>>) {
    let mut n = 0u64;
    loop {
        let batch = rand::rng().random_range(1..=40);
        let payloads: Vec<Vec<u8>> = (0..batch)
            .map(|i| format!("c{cycle}-p{producer}-n{}-{}", n + i, "x".repeat((n as usize * 7) % 300)).into_bytes())
            .collect();
        n += batch;
        let entries: Vec<_> = payloads
            .iter()
            .map(|p| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(p.clone()))
                    .partition_key(format!("p{producer}-{}", p.len() % 5))
                    .build()
                    .unwrap()
            })
            .collect();
        match client.put_records().stream_name(STREAM).set_records(Some(entries)).send().await {
            Ok(out) => {
                let mut acks = acks.lock().unwrap();
                for (p, r) in payloads.into_iter().zip(out.records()) {
                    if let (Some(shard), Some(sequence)) = (r.shard_id(), r.sequence_number()) {
                        acks.insert(p, Ack { shard: shard.to_owned(), sequence: sequence.to_owned() });
                    }
                }
            }
            Err(_) => return,
        }
    }
}

/// Reads every shard from TRIM_HORIZON.
async fn read_all(client: &Client) -> HashMap<String, Vec<(String, Seen)>> {
    let mut out = HashMap::new();
    for i in 0..SHARDS {
        let mut it = client
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard_id(i))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator after restart")
            .shard_iterator
            .expect("an iterator");
        let mut records = Vec::new();
        loop {
            let page = client.get_records().shard_iterator(&it).send().await.expect("GetRecords after restart");
            let empty = page.records().is_empty();
            for r in page.records() {
                records.push((
                    r.sequence_number().to_owned(),
                    Seen {
                        data: r.data().as_ref().to_vec(),
                        partition_key: r.partition_key().unwrap_or_default().to_owned(),
                        arrival_ms: r.approximate_arrival_timestamp().map_or(0, |t| t.to_millis().unwrap_or(0)),
                    },
                ));
            }
            match page.next_shard_iterator {
                Some(next) if !empty => it = next,
                _ => break,
            }
        }
        out.insert(shard_id(i), records);
    }
    out
}

/// Every acknowledged record is present where it was acknowledged; shards are in order;
/// records seen before keep their bytes and arrival time.
fn verify(
    cycle: usize,
    acks: &HashMap<Vec<u8>, Ack>,
    shards: &HashMap<String, Vec<(String, Seen)>>,
    seen_before: &mut HashMap<String, Seen>,
) {
    let mut by_data: HashMap<&[u8], (&str, &str)> = HashMap::new();
    for (shard, records) in shards {
        for pair in records.windows(2) {
            assert_eq!(
                seq_cmp(&pair[0].0, &pair[1].0),
                std::cmp::Ordering::Less,
                "cycle {cycle}: {shard} out of order"
            );
        }
        for (seq, seen) in records {
            assert!(by_data.insert(&seen.data, (shard, seq)).is_none(), "cycle {cycle}: a record appears twice");
            if let Some(before) = seen_before.get(seq) {
                assert_eq!(before, seen, "cycle {cycle}: record {seq} changed across a restart");
            }
        }
    }
    for (data, ack) in acks {
        let Some((shard, seq)) = by_data.get(data.as_slice()) else {
            panic!("cycle {cycle}: acknowledged record {} ({ack:?}) is lost", String::from_utf8_lossy(data));
        };
        assert_eq!((*shard, *seq), (ack.shard.as_str(), ack.sequence.as_str()), "cycle {cycle}: record moved");
    }
    for records in shards.values() {
        for (seq, seen) in records {
            seen_before.insert(seq.clone(), seen.clone());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill() {
    let cycles: usize = std::env::var("KINESD_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let acks = Arc::new(Mutex::new(HashMap::new()));
    let mut seen_before = HashMap::new();
    {
        let srv = server(dir.path());
        create_active(&srv.client(), STREAM, SHARDS as i32).await;
    }
    for cycle in 0..cycles {
        let mut srv = server(dir.path());
        let client = srv.client();
        let shards = read_all(&client).await;
        verify(cycle, &acks.lock().unwrap(), &shards, &mut seen_before);
        let producers: Vec<_> =
            (0..PRODUCERS).map(|p| tokio::spawn(produce(client.clone(), p, cycle, acks.clone()))).collect();
        let pause = rand::rng().random_range(20..400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        srv.kill9();
        for p in producers {
            tokio::time::timeout(Duration::from_secs(30), p)
                .await
                .expect("producers stop once the server is gone")
                .unwrap();
        }
    }
    let srv = server(dir.path());
    let shards = read_all(&srv.client()).await;
    let acks = acks.lock().unwrap();
    verify(cycles, &acks, &shards, &mut seen_before);
    assert!(acks.len() > cycles * 10, "the test wrote too little to prove anything: {} records", acks.len());
    eprintln!("{} acknowledged records survived {cycles} SIGKILLs", acks.len());
}
