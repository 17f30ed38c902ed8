//! Two engines (two kinesd nodes) on one 3-node JetStream cluster: what one does through the
//! control plane, the other sees at once (read-through) and in listings (the catalog watch);
//! transitions are finished by one node, also when the node that claimed one died; a closed
//! parent takes no record from any node; logs another node is about to name are not deleted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::catalog::{Claim, PendingChange, Stream, StreamKey, StreamStatus};
use super::hash::HashKey;
use super::lifecycle::NewStream;
use super::records::{IteratorStart, PutEntry, PutOutcome};
use super::{Engine, EngineConfig, now_ms, stream_catalog_key};
use crate::store::jetstream::testing::{NatsServers, binary_or_skip};
use crate::store::jetstream::{JetStreamOptions, JetStreamStore};
use crate::store::{Expect, NewRecord, Store};

/// Far above what a working cluster needs; a wait that takes longer fails the test.
const STUCK: Duration = Duration::from_secs(30);

async fn store(cluster: &NatsServers, prefix: &str) -> Arc<dyn Store> {
    let options = JetStreamOptions { urls: cluster.urls(), creds: None, replicas: 3, prefix: prefix.to_owned() };
    Arc::new(tokio::time::timeout(STUCK, JetStreamStore::open(options)).await.expect("open in time").unwrap())
}

fn config() -> EngineConfig {
    EngineConfig { create_stream_ms: 0, delete_stream_ms: 0, update_stream_ms: 0, ..EngineConfig::default() }
}

/// Waits until `check` holds, polling; fails after STUCK.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + STUCK;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not after {STUCK:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn entry(data: &str, hash: u128) -> PutEntry {
    PutEntry { partition_key: "pk".into(), data: Bytes::from(data.to_owned()), explicit_hash_key: Some(HashKey(hash)) }
}

/// The shard each record landed on.
fn shards_of(outcomes: &[PutOutcome]) -> Vec<u32> {
    outcomes
        .iter()
        .map(|o| match o {
            PutOutcome::Stored { shard_index, .. } => *shard_index,
            PutOutcome::Failed { code, message } => panic!("record refused: {code} {message}"),
        })
        .collect()
}

async fn read_all(engine: &Engine, key: &StreamKey, shard: &str) -> Vec<String> {
    let mut it = engine.get_shard_iterator(key, shard, IteratorStart::TrimHorizon).await.unwrap();
    let mut out = Vec::new();
    loop {
        let page = engine.get_records(&it, 10_000, None).await.unwrap();
        let empty = page.records.is_empty();
        out.extend(page.records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()));
        match page.next_iterator {
            Some(next) if !empty => it = next,
            _ => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_cluster_see_each_others_control_plane() {
    let Some(bin) = binary_or_skip("two_engines_on_one_cluster_see_each_others_control_plane") else { return };
    let cluster = tokio::task::spawn_blocking(move || NatsServers::start(bin, 3)).await.unwrap();
    let a = Engine::open(config(), store(&cluster, "ctl").await).await.unwrap();
    let b = Engine::open(config(), store(&cluster, "ctl").await).await.unwrap();
    let _tickers = (a.spawn_ticker(), b.spawn_ticker());
    assert_eq!(a.secret().as_bytes(), b.secret().as_bytes(), "one iterator secret for the cluster");
    let key = a.default_key("orders");

    // Created through A, used through B at once: no window in which B does not know it.
    a.create_stream(NewStream::provisioned(&key, 2)).await.unwrap();
    assert_eq!(b.stream(&key).await.unwrap().open_shard_count(), 2);
    let (_, put) = b.put_records(&key, vec![entry("b1", 0), entry("b2", 0)]).await.unwrap();
    assert_eq!(shards_of(&put), [0, 0]);
    a.put_records(&key, vec![entry("a1", 0)]).await.unwrap();
    assert_eq!(read_all(&b, &key, "shardId-000000000000").await, ["b1", "b2", "a1"]);
    // An iterator issued by A works on B.
    let it = a.get_shard_iterator(&key, "shardId-000000000000", IteratorStart::TrimHorizon).await.unwrap();
    assert_eq!(b.get_records(&it, 10, None).await.unwrap().records.len(), 3);
    // A second stream through B appears in A's listing (the watch, no request needed).
    let other = a.default_key("other");
    b.create_stream(NewStream::provisioned(&other, 1)).await.unwrap();
    eventually("A lists B's stream", async || a.streams_of(&key.account).len() == 2).await;
    // Creating through one a name the other just created is refused as AWS refuses it.
    assert!(matches!(
        a.create_stream(NewStream::provisioned(&other, 1)).await,
        Err(crate::error::KinesisError::ResourceInUse(_))
    ));

    // Tags set through B are seen by A.
    b.add_tags(&key, vec![("team".into(), "b".into())]).await.unwrap();
    eventually("A sees B's tag", async || a.stream(&key).await.unwrap().tags.len() == 1).await;

    // Split through A: B routes to the children, and the parent takes no record from B.
    let parent_log = a.stream(&key).await.unwrap().shards[0].log;
    let middle = (u128::MAX / 2) / 2;
    a.split_shard(&key, "shardId-000000000000", &middle.to_string()).await.unwrap();
    eventually("B sees the children", async || b.stream(&key).await.unwrap().shards.len() == 4).await;
    let (_, put) = b.put_records(&key, vec![entry("c1", 0), entry("c2", middle + 1)]).await.unwrap();
    assert_eq!(shards_of(&put), [2, 3]);
    let record = NewRecord { partition_key: Bytes::from_static(b"pk"), data: Bytes::from_static(b"late"), flags: 0 };
    assert!(b.store().append(parent_log, vec![record], now_ms()).await.is_err(), "a sealed parent took a record");
    let stream = b.stream(&key).await.unwrap();
    assert_eq!(stream.shards[0].closed.unwrap().end_position, 3, "the parent ends after its 3 records");
    assert_eq!(stream.status, StreamStatus::Active);
    assert_eq!(read_all(&a, &key, "shardId-000000000002").await, ["c1"]);

    // A consumer registered through A is found through B.
    let consumer = a.register_consumer(&key, "reader", Vec::new()).await.unwrap();
    let named = super::consumers::ConsumerRef {
        stream: key.clone(),
        name: "reader".into(),
        created_secs: Some(consumer.created_secs()),
    };
    assert_eq!(b.consumer(&named).await.unwrap().name, "reader");

    // Deleted through B: gone on A, and its logs from the cluster.
    b.delete_stream_and_consumers(&key, true).await.unwrap();
    eventually("A no longer has it", async || a.stream(&key).await.is_err()).await;
    assert!(a.find_consumer(&named).is_err());
    let logs = a.store().logs().await.unwrap();
    assert!(!logs.contains(&parent_log), "the deleted stream's logs are gone");
}

/// A node that claimed a transition and died: once its lease ran out the other node finishes
/// the transition (a split, with the parent sealed and children created), once. And a log no
/// catalog entry names yet survives a node's start, and is deleted only after the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_claim_expires_and_the_other_finishes_its_transition() {
    let Some(bin) = binary_or_skip("a_dead_nodes_claim_expires_and_the_other_finishes_its_transition") else {
        return;
    };
    let cluster = tokio::task::spawn_blocking(move || NatsServers::start(bin, 3)).await.unwrap();
    let shared = store(&cluster, "claim").await;
    let a = Engine::open(config(), shared.clone()).await.unwrap();
    let key = a.default_key("s");
    a.create_stream(NewStream::provisioned(&key, 1)).await.unwrap();
    a.put_records(&key, vec![entry("before", 0)]).await.unwrap();
    drop(a);

    // What a node leaves behind when it dies right after claiming the split's end: the stream
    // UPDATING, due, claimed for another 1.5 s; and a log it created that nothing names yet.
    let catalog_key = stream_catalog_key(&key);
    let (value, revision) = shared.catalog_get(&catalog_key).await.unwrap().unwrap();
    let mut stream: Stream = serde_json::from_slice(&value).unwrap();
    let now = now_ms();
    stream.status = StreamStatus::Updating;
    stream.status_until_ms = now;
    stream.pending = Some(PendingChange::Split { shard: 0, at: u128::MAX / 2 });
    stream.claim = Some(Claim { node: 42, until_ms: now + 1_500 });
    let value = Bytes::from(serde_json::to_vec(&stream).unwrap());
    shared.catalog_put(&catalog_key, value, Expect::Revision(revision)).await.unwrap();
    let orphan = shared.create_log().await.unwrap();

    let config = EngineConfig { orphan_grace_ms: 2_000, ..config() };
    let b = Engine::open(config.clone(), store(&cluster, "claim").await).await.unwrap();
    let c = Engine::open(config, store(&cluster, "claim").await).await.unwrap();
    // Still claimed when they opened (unless opening took longer than the lease, as it may on
    // a loaded machine): nobody touched it.
    let opened = now_ms();
    let status = b.streams.read().get(&key).map(|s| s.status);
    if opened < now + 1_500 {
        assert_eq!(status, Some(StreamStatus::Updating));
    }
    let _tickers = (b.spawn_ticker(), c.spawn_ticker());
    assert!(shared.logs().await.unwrap().contains(&orphan), "a start deleted a log another node may be naming");
    eventually("the split finished", async || b.stream(&key).await.unwrap().status == StreamStatus::Active).await;
    let finished = b.stream(&key).await.unwrap();
    assert_eq!(finished.shards.len(), 3, "one parent and two children, created once");
    assert_eq!(finished.shards[0].closed.unwrap().end_position, 1);
    assert!(finished.claim.is_none());
    eventually("C sees the same", async || c.stream(&key).await.unwrap().shards.len() == 3).await;
    let (_, put) = c.put_records(&key, vec![entry("after", 0)]).await.unwrap();
    assert_eq!(shards_of(&put), [1]);

    // The orphan goes after the grace period; every named log stays.
    eventually("the orphan log is deleted", async || !shared.logs().await.unwrap().contains(&orphan)).await;
    let logs = shared.logs().await.unwrap();
    for shard in &finished.shards {
        assert!(logs.contains(&shard.log), "named log {:?} deleted", shard.log);
    }
    // Both nodes raced for the split; the claim let only one of them make child logs.
    assert_eq!(logs.len(), 3, "{logs:?}");

    // A node started on a quiet catalog has seen it all: its reads do not wait for the watch.
    let d = Engine::open(EngineConfig::default(), store(&cluster, "claim").await).await.unwrap();
    let started = Instant::now();
    d.sync_catalog().await;
    assert!(started.elapsed() < Duration::from_millis(super::SYNC_WAIT_MS / 2), "{:?}", started.elapsed());
}
