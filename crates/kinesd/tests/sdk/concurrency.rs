//! Many concurrent writers into one 4-shard stream; every acknowledged record must be
//! readable exactly once, per-shard sequence numbers strictly increasing (as big integers),
//! and each writer's records in its own order within a shard.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::common::*;

const WRITERS: usize = 16;
const PER_WRITER: usize = 200;
const BATCH: usize = 25;
const MAX_THROTTLE_RETRIES: usize = 400;

/// An acknowledged write: (writer, index, ordering group) -> (shard, sequence number).
#[derive(Debug, Clone)]
struct Ack {
    writer: usize,
    index: usize,
    /// Records of a later group were sent only after every record of an earlier group was
    /// acknowledged, so within a shard they must come later. PutRecord writers: group = index;
    /// PutRecords writers: group = batch number (order inside one PutRecords is not guaranteed).
    group: usize,
    shard: String,
    seq: String,
}

fn pk(writer: usize, index: usize) -> String {
    format!("w{writer}-k{}", index % 7)
}

fn payload(writer: usize, index: usize) -> String {
    format!("{writer}:{index}")
}

async fn put_record_writer(client: Client, name: String, writer: usize) -> Vec<Ack> {
    let mut acks = Vec::with_capacity(PER_WRITER);
    for index in 0..PER_WRITER {
        let mut tries = 0;
        loop {
            let res = client
                .put_record()
                .stream_name(&name)
                .partition_key(pk(writer, index))
                .data(Blob::new(payload(writer, index)))
                .send()
                .await;
            match res {
                Ok(out) => {
                    acks.push(Ack {
                        writer,
                        index,
                        group: index,
                        shard: out.shard_id().to_string(),
                        seq: out.sequence_number().to_string(),
                    });
                    break;
                }
                Err(e)
                    if e.code() == Some("ProvisionedThroughputExceededException") && tries < MAX_THROTTLE_RETRIES =>
                {
                    // Throttled writes are not written; retrying keeps this writer's order.
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => panic!("writer {writer} record {index}: {}", aws_sdk_kinesis::error::DisplayErrorContext(&e)),
            }
        }
    }
    acks
}

async fn put_records_writer(client: Client, name: String, writer: usize) -> Vec<Ack> {
    let mut acks = Vec::with_capacity(PER_WRITER);
    for (group, start) in (0..PER_WRITER).step_by(BATCH).enumerate() {
        let mut pending: Vec<usize> = (start..(start + BATCH).min(PER_WRITER)).collect();
        let mut tries = 0;
        while !pending.is_empty() {
            let entries = pending
                .iter()
                .map(|&i| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(pk(writer, i))
                        .data(Blob::new(payload(writer, i)))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = ok(client.put_records().stream_name(&name).set_records(Some(entries)).send().await);
            assert_eq!(out.records().len(), pending.len(), "PutRecords result count");
            let mut failed = Vec::new();
            for (r, &i) in out.records().iter().zip(&pending) {
                match (r.shard_id(), r.sequence_number(), r.error_code()) {
                    (Some(shard), Some(seq), None) => {
                        acks.push(Ack { writer, index: i, group, shard: shard.to_string(), seq: seq.to_string() })
                    }
                    (None, None, Some("ProvisionedThroughputExceededException")) => failed.push(i),
                    other => panic!("writer {writer} record {i}: unexpected result entry {other:?} ({r:?})"),
                }
            }
            assert_eq!(out.failed_record_count(), Some(failed.len() as i32), "FailedRecordCount");
            if !failed.is_empty() {
                tries += 1;
                assert!(tries <= MAX_THROTTLE_RETRIES, "writer {writer}: throttled too long");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            pending = failed;
        }
    }
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_every_ack_read_back_exactly_once_in_order() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("conc");
    create_active(&client, &name, 4).await;
    let shards = list_all_shards(&client, &name).await;
    assert_eq!(shards.len(), 4);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (c, n) = (client.clone(), name.clone());
        // Half the writers use PutRecord, half PutRecords.
        if writer.is_multiple_of(2) {
            tasks.push(tokio::spawn(put_record_writer(c, n, writer)));
        } else {
            tasks.push(tokio::spawn(put_records_writer(c, n, writer)));
        }
    }
    let mut acks: Vec<Ack> = Vec::new();
    for t in tasks {
        acks.extend(t.await.expect("writer task panicked"));
    }
    let write_time = started.elapsed();
    assert_eq!(acks.len(), WRITERS * PER_WRITER);

    // Acks: routed by MD5, unique (shard, seq).
    let mut by_pos: HashMap<(String, String), Ack> = HashMap::new();
    for a in &acks {
        assert_eq!(a.shard, shard_for_hash(&shards, md5_hash_key(&pk(a.writer, a.index))), "routing of {a:?}");
        assert_seq_format(&a.seq);
        if let Some(prev) = by_pos.insert((a.shard.clone(), a.seq.clone()), a.clone()) {
            panic!("two acks share shard+sequence number: {prev:?} and {a:?}");
        }
    }

    // Read every shard from TRIM_HORIZON.
    let mut total = 0;
    for s in &shards {
        let expected = acks.iter().filter(|a| a.shard == s.shard_id()).count();
        assert!(expected > 0, "no writes landed on {}", s.shard_id());
        let mut it = iterator(&client, &name, s.shard_id(), ShardIteratorType::TrimHorizon, None).await;
        let mut recs = Vec::new();
        for _ in 0..(expected / 100 + 20) {
            let page = ok(client.get_records().shard_iterator(&it).limit(500).send().await);
            let n = page.records().len();
            recs.extend(page.records().iter().cloned());
            it = page.next_shard_iterator().expect("NextShardIterator").to_string();
            if n == 0 {
                break;
            }
        }
        assert_eq!(recs.len(), expected, "records in {} (acknowledged: {expected})", s.shard_id());
        assert_strictly_increasing(recs.iter().map(|r| r.sequence_number()), s.shard_id());

        // Every record is exactly the acknowledged one at that position.
        let mut last_group: HashMap<usize, usize> = HashMap::new();
        for r in &recs {
            let a = by_pos
                .get(&(s.shard_id().to_string(), r.sequence_number().to_string()))
                .unwrap_or_else(|| panic!("record {} in {} was never acknowledged", r.sequence_number(), s.shard_id()));
            assert_eq!(r.data().as_ref(), payload(a.writer, a.index).as_bytes(), "data at {}", r.sequence_number());
            assert_eq!(r.partition_key(), Some(pk(a.writer, a.index).as_str()));
            // Writer order within the shard.
            if let Some(&g) = last_group.get(&a.writer) {
                let strictly = a.writer.is_multiple_of(2); // PutRecord writers: strictly increasing index
                if strictly {
                    assert!(
                        a.group > g,
                        "writer {} out of order in {}: {} after {}",
                        a.writer,
                        s.shard_id(),
                        a.group,
                        g
                    );
                } else {
                    assert!(
                        a.group >= g,
                        "writer {} batches out of order in {}: {} after {}",
                        a.writer,
                        s.shard_id(),
                        a.group,
                        g
                    );
                }
            }
            last_group.insert(a.writer, a.group);
        }
        total += recs.len();
    }
    assert_eq!(total, WRITERS * PER_WRITER, "every acknowledged record read back exactly once");
    eprintln!("concurrency: {} records written in {write_time:?}", WRITERS * PER_WRITER);
}
