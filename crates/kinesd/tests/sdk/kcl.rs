//! A consumer that reads the way the Kinesis Client Library does, across a series of splits,
//! merges and scalings with records written before, during and after each: it must see every
//! record exactly once, each shard in order and parents before children, and ListShards'
//! point-in-time filters must tile the hash key space at every step.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ScalingType, ShardFilterType, ShardIteratorType};

use crate::common::*;
use crate::reshard::{assert_tiles, at_timestamp, filter, ids, list_filtered};

fn opts(update_stream_ms: u64) -> ServerOpts {
    ServerOpts { update_stream_ms, ..Default::default() }
}

/// Which shard a KCL-style reader read each record from, in processing order.
struct Walk {
    /// (shard id, data) in the order the reader processed them.
    records: Vec<(String, String)>,
    order: Vec<String>,
}

/// Reads the whole stream the way the KCL does: start from ListShards(AT_TRIM_HORIZON), read
/// each shard to its end, and only start a child when every parent it names is finished.
async fn kcl_walk(client: &Client, name: &str) -> Walk {
    let roots = list_filtered(client, name, filter(ShardFilterType::AtTrimHorizon)).await;
    assert_tiles(&roots, "AT_TRIM_HORIZON");
    let listed: HashSet<String> = ids(&list_all_shards(client, name).await).into_iter().collect();
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    let mut ready: Vec<String> = ids(&roots);
    let mut seen: HashSet<String> = ready.iter().cloned().collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut waiting: Vec<String> = Vec::new();
    let mut walk = Walk { records: Vec::new(), order: Vec::new() };
    while let Some(shard) = ready.pop() {
        let mut it = Some(iterator(client, name, &shard, ShardIteratorType::TrimHorizon, None).await);
        let mut last_seq: Option<String> = None;
        let mut children = Vec::new();
        for _ in 0..10_000 {
            let Some(current) = it.take() else { break };
            let page = ok(client.get_records().shard_iterator(&current).limit(3).send().await);
            for r in page.records() {
                if let Some(prev) = &last_seq {
                    assert_eq!(seq_cmp(prev, r.sequence_number()), std::cmp::Ordering::Less);
                }
                last_seq = Some(r.sequence_number().to_owned());
                let data = String::from_utf8(r.data().as_ref().to_vec()).unwrap();
                walk.records.push((shard.clone(), data));
            }
            match page.next_shard_iterator() {
                Some(next) => {
                    assert!(page.child_shards().is_empty());
                    // An open shard is done when it is caught up.
                    if page.records().is_empty() && page.millis_behind_latest() == Some(0) {
                        let open = list_filtered(client, name, filter(ShardFilterType::AtLatest)).await;
                        if ids(&open).contains(&shard) {
                            break;
                        }
                    }
                    it = Some(next.to_owned());
                }
                None => children = page.child_shards().to_vec(),
            }
        }
        done.insert(shard.clone());
        walk.order.push(shard.clone());
        for c in children {
            parents.insert(c.shard_id().to_owned(), c.parent_shards().to_vec());
            if seen.insert(c.shard_id().to_owned()) {
                waiting.push(c.shard_id().to_owned());
            }
        }
        // Children whose every parent is done (or is not listed, i.e. expired) may start.
        let (go, stay): (Vec<_>, Vec<_>) =
            waiting.drain(..).partition(|c| parents[c].iter().all(|p| done.contains(p) || !listed.contains(p)));
        waiting = stay;
        ready.extend(go);
    }
    assert!(waiting.is_empty(), "children never started: {waiting:?}");
    walk
}

#[tokio::test]
async fn a_kcl_style_reader_sees_every_record_once_in_order_across_reshards() {
    let server = Server::start_with(opts(300));
    let client = server.client();
    let name = unique_name("kcl");
    create_active(&client, &name, 2).await;
    // Sixteen hash keys spread over the key space; records carry "<key>:<n>".
    let keys: Vec<u128> = (0..16u128).map(|j| j * (1u128 << 124) + 12_345).collect();
    let mut written: BTreeMap<usize, u32> = BTreeMap::new();
    let batch = async |client: &Client, written: &mut BTreeMap<usize, u32>| {
        let entries: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(j, k)| {
                let n = written.entry(j).or_insert(0);
                *n += 1;
                PutRecordsRequestEntry::builder()
                    .partition_key("pk")
                    .explicit_hash_key(k.to_string())
                    .data(Blob::new(format!("{j}:{}", *n - 1)))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = ok(client.put_records().stream_name(&name).set_records(Some(entries)).send().await);
        assert_eq!(out.failed_record_count(), Some(0));
    };
    let mut instants = vec![now_secs_f64()];

    batch(&client, &mut written).await;
    let step = u128::MAX / 2;
    // 1. split shard 0 in the middle; 2. merge its children back; 3. scale 2 -> 3 (splits and
    // merges with short-lived shards); 4. split again; 5. scale 4 -> 2.
    for round in 0..5 {
        batch(&client, &mut written).await;
        instants.push(now_secs_f64());
        let open = list_filtered(&client, &name, filter(ShardFilterType::AtLatest)).await;
        match round {
            0 => {
                ok(client
                    .split_shard()
                    .stream_name(&name)
                    .shard_to_split("0")
                    .new_starting_hash_key((step / 2).to_string())
                    .send()
                    .await);
            }
            1 => {
                let mut kids: Vec<_> =
                    open.iter().filter(|s| s.parent_shard_id() == Some(shard_id(0).as_str())).collect();
                kids.sort_by_key(|s| hash_range(s).0);
                ok(client
                    .merge_shards()
                    .stream_name(&name)
                    .shard_to_merge(kids[0].shard_id())
                    .adjacent_shard_to_merge(kids[1].shard_id())
                    .send()
                    .await);
            }
            2 => {
                ok(client
                    .update_shard_count()
                    .stream_name(&name)
                    .target_shard_count(3)
                    .scaling_type(ScalingType::UniformScaling)
                    .send()
                    .await);
            }
            3 => {
                let widest = open
                    .iter()
                    .max_by_key(|s| {
                        let (a, b) = hash_range(s);
                        b - a
                    })
                    .unwrap();
                let (a, b) = hash_range(widest);
                ok(client
                    .split_shard()
                    .stream_name(&name)
                    .shard_to_split(widest.shard_id())
                    .new_starting_hash_key((a + (b - a) / 3).to_string())
                    .send()
                    .await);
            }
            _ => {
                ok(client
                    .update_shard_count()
                    .stream_name(&name)
                    .target_shard_count(2)
                    .scaling_type(ScalingType::UniformScaling)
                    .send()
                    .await);
            }
        }
        // Records written while the stream is UPDATING, and right after it is ACTIVE (when the
        // children's creation time has not yet come).
        batch(&client, &mut written).await;
        wait_active(&client, &name).await;
        batch(&client, &mut written).await;
        instants.push(now_secs_f64());
        let latest = list_filtered(&client, &name, filter(ShardFilterType::AtLatest)).await;
        assert_tiles(&latest, &format!("AT_LATEST after round {round}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    batch(&client, &mut written).await;
    instants.push(now_secs_f64());
    for (i, t) in instants.iter().enumerate() {
        let at = list_filtered(&client, &name, at_timestamp(*t)).await;
        assert_tiles(&at, &format!("AT_TIMESTAMP #{i}"));
    }
    assert_tiles(&list_filtered(&client, &name, filter(ShardFilterType::AtLatest)).await, "AT_LATEST");

    let walk = kcl_walk(&client, &name).await;
    // Every record exactly once, and per hash key in the order written — which needs parents
    // read before children.
    let mut per_key: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    let mut unique = BTreeSet::new();
    for (_, data) in &walk.records {
        assert!(unique.insert(data.clone()), "record {data} read twice");
        let (j, n) = data.split_once(':').unwrap();
        per_key.entry(j.parse().unwrap()).or_default().push(n.parse().unwrap());
    }
    for (j, total) in &written {
        let expected: Vec<u32> = (0..*total).collect();
        assert_eq!(per_key.get(j), Some(&expected), "key {j} out of order or incomplete");
    }
    let all = list_all_shards(&client, &name).await;
    assert_eq!(walk.order.len(), all.len(), "every shard processed once: {:?}", walk.order);
}
