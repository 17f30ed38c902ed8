//! The JetStream store as several nodes use it: two stores (two kinesd nodes) on one 3-node
//! JetStream cluster with R3 streams, sharing logs and catalog, and a NATS node killed under
//! load. The single-node promises are the conformance suite's (`store/conformance.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use super::testing::{NatsServers, binary_or_skip};
use super::{JetStreamOptions, JetStreamStore};
use crate::store::{Expect, LogId, NewRecord, Store, StoreError, StoredRecord};

/// Far above anything a working cluster needs; a step that takes longer fails the test.
const STUCK: Duration = Duration::from_secs(60);

async fn node(cluster: &NatsServers, prefix: &str) -> Arc<JetStreamStore> {
    let options = JetStreamOptions { urls: cluster.urls(), creds: None, replicas: 3, prefix: prefix.to_owned() };
    Arc::new(tokio::time::timeout(STUCK, JetStreamStore::open(options)).await.expect("open in time").unwrap())
}

fn batch(tag: &str, n: usize) -> Vec<NewRecord> {
    (0..n)
        .map(|i| NewRecord {
            partition_key: Bytes::from(format!("pk-{tag}")),
            data: Bytes::from(format!("{tag}/{i}")),
            flags: 0,
        })
        .collect()
}

async fn all(store: &JetStreamStore, log: LogId) -> Vec<StoredRecord> {
    store.read(log, 0, usize::MAX, usize::MAX).await.unwrap().records
}

fn datas(records: &[StoredRecord]) -> Vec<String> {
    records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()).collect()
}

/// Retries an append through an election (errors with unknown outcome are possible then, so
/// a retried batch may be stored twice: the caller checks acknowledged batches only).
async fn append_eventually(store: &JetStreamStore, log: LogId, records: Vec<NewRecord>, now: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + STUCK;
    loop {
        match store.append(log, records.clone(), now).await {
            Ok(a) => return a.first_position,
            Err(StoreError::NoSuchLog(l)) => panic!("{l:?} vanished"),
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "appends did not resume: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_logs_and_catalog_on_a_three_node_cluster() {
    let Some(bin) = binary_or_skip("two_nodes_share_logs_and_catalog_on_a_three_node_cluster") else { return };
    let cluster = tokio::task::spawn_blocking(move || NatsServers::start(bin, 3)).await.unwrap();
    let (a, b) = (node(&cluster, "share").await, node(&cluster, "share").await);

    // Log ids allocated by both nodes at once are all distinct.
    let creations: Vec<_> = (0..6)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.create_log().await.unwrap() })
        })
        .collect();
    let mut ids = HashSet::new();
    for c in creations {
        assert!(ids.insert(c.await.unwrap()), "a log id handed out twice");
    }
    let log = *ids.iter().min().unwrap();

    // Written through A, read through B: same positions, same records.
    assert_eq!(a.append(log, batch("a0", 3), 1000).await.unwrap().first_position, 0);
    assert_eq!(datas(&all(&b, log).await), ["a0/0", "a0/1", "a0/2"]);
    let mut watch_b = b.watch_tip(log).unwrap();
    // B appends after A: it learns the end from the leader.
    let from_b = b.append(log, batch("b0", 2), 500).await.unwrap();
    assert_eq!((from_b.first_position, from_b.arrival_ms), (3, 1000), "arrival never goes back, across nodes");
    // A's view is stale now: it is refused, re-reads, and lands after B's records.
    let from_a = a.append(log, batch("a1", 2), 900).await.unwrap();
    assert_eq!((from_a.first_position, from_a.arrival_ms), (5, 1000));
    // B's watch moved for A's append (B's consumer follows A's writes) without B polling.
    tokio::time::timeout(STUCK, async {
        while *watch_b.borrow_and_update() < 7 {
            watch_b.changed().await.unwrap();
        }
    })
    .await
    .expect("B's tip watch follows A's appends");
    assert_eq!(all(&a, log).await, all(&b, log).await);

    // Both nodes appending to one log at once: every batch consecutive, positions dense,
    // arrivals monotonic.
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, s)| {
            tokio::spawn(async move {
                for i in 0..15u64 {
                    let first = s.append(log, batch(&format!("w{w}.{i}"), 3), 2000 + i).await.unwrap().first_position;
                    let got = s.read(log, first, 3, usize::MAX).await.unwrap().records;
                    assert_eq!(datas(&got), [0, 1, 2].map(|k| format!("w{w}.{i}/{k}")), "a batch is consecutive");
                }
            })
        })
        .collect();
    for w in writers {
        tokio::time::timeout(STUCK, w).await.expect("writers finish").unwrap();
    }
    let records = all(&b, log).await;
    assert_eq!(records.len(), 7 + 2 * 15 * 3);
    assert!(records.iter().enumerate().all(|(i, r)| r.position == i as u64));
    assert!(records.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms), "arrivals never decrease");

    // The catalog: one compare-and-set winner across nodes.
    let r1 = a.catalog_put("stream/x", Bytes::from_static(b"v1"), Expect::Absent).await.unwrap();
    let r2 = b.catalog_put("stream/x", Bytes::from_static(b"v2"), Expect::Revision(r1)).await.unwrap();
    let stale = a.catalog_put("stream/x", Bytes::from_static(b"v3"), Expect::Revision(r1)).await;
    assert!(matches!(stale, Err(StoreError::Conflict { found: Some(f), .. }) if f == r2), "{stale:?}");
    assert_eq!(a.catalog_get("stream/x").await.unwrap(), Some((Bytes::from_static(b"v2"), r2)));

    // A log deleted through B is gone for A too.
    let doomed = *ids.iter().max().unwrap();
    b.delete_log(doomed).await.unwrap();
    assert!(matches!(a.read(doomed, 0, 1, 1).await, Err(StoreError::NoSuchLog(_))));
    assert!(matches!(a.append(doomed, batch("x", 1), 1).await, Err(StoreError::NoSuchLog(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_a_killed_nats_node() {
    let Some(bin) = binary_or_skip("acknowledged_appends_survive_a_killed_nats_node") else { return };
    let mut cluster = tokio::task::spawn_blocking(move || NatsServers::start(bin, 3)).await.unwrap();
    let store = node(&cluster, "chaos").await;
    let log = store.create_log().await.unwrap();
    let mut acked = Vec::new();
    for i in 0..10 {
        let first = append_eventually(&store, log, batch(&format!("before{i}"), 5), 10).await;
        acked.push((first, format!("before{i}")));
    }
    // Kill -9 one server (the one the client most likely uses: the first URL).
    cluster.stop(0, "KILL");
    for i in 0..10 {
        let first = append_eventually(&store, log, batch(&format!("during{i}"), 5), 20).await;
        acked.push((first, format!("during{i}")));
    }
    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.restart(0);
        cluster
    })
    .await
    .unwrap();
    for i in 0..5 {
        let first = append_eventually(&store, log, batch(&format!("after{i}"), 5), 30).await;
        acked.push((first, format!("after{i}")));
    }
    // Every acknowledged batch is where its acknowledgement said, whole and unchanged, in order.
    let records = all(&store, log).await;
    assert!(records.iter().enumerate().all(|(i, r)| r.position == i as u64), "positions dense");
    for (first, tag) in &acked {
        let got = datas(&records[*first as usize..*first as usize + 5]);
        assert_eq!(got, (0..5).map(|k| format!("{tag}/{k}")).collect::<Vec<_>>(), "batch {tag}");
    }
    assert!(acked.windows(2).all(|w| w[0].0 < w[1].0), "acknowledged batches in order");
    // A fresh node (another kinesd) sees the same.
    let other = node(&cluster, "chaos").await;
    assert_eq!(all(&other, log).await, records);
    cluster.stop(1, "TERM");
}

#[test]
fn versions_parse() {
    use super::{MIN_SERVER_VERSION, parse_version};
    assert_eq!(parse_version("2.12.1"), Some((2, 12)));
    assert_eq!(parse_version("v2.14.0-beta.2"), Some((2, 14)));
    assert_eq!(parse_version("2.9.10"), Some((2, 9)));
    assert!(parse_version("2.9.10") < Some(MIN_SERVER_VERSION));
    assert_eq!(parse_version("garbage"), None);
}

#[test]
fn varz_replies_tell_whether_a_server_syncs() {
    let reply = |config: &str| format!(r#"{{"server":{{"name":"n2"}},"data":{{"jetstream":{{"config":{config}}}}}}}"#);
    assert_eq!(super::varz_sync(reply(r#"{"sync_always":true}"#).as_bytes()), Some(("n2".into(), true)));
    assert_eq!(super::varz_sync(reply(r#"{"sync_interval":120000000000}"#).as_bytes()), Some(("n2".into(), false)));
    assert_eq!(super::varz_sync(br#"{"server":{"name":"n1"},"data":{}}"#), None, "no JetStream: not counted");
    assert_eq!(super::varz_sync(b"not json"), None);
}

/// Two nodes, each with several concurrent appenders, on one log: every append is answered
/// (neither node starves: the refused one forwards to the other, see `forward.rs`), each batch
/// lands whole at consecutive positions, positions stay dense and each appender's batches keep
/// their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_hammering_one_log_both_progress() {
    const APPENDERS: usize = 4;
    const BATCHES: usize = 25;
    let Some(bin) = binary_or_skip("two_nodes_hammering_one_log_both_progress") else { return };
    let cluster = tokio::task::spawn_blocking(move || NatsServers::start(bin, 3)).await.unwrap();
    let (a, b) = (node(&cluster, "hammer").await, node(&cluster, "hammer").await);
    let log = a.create_log().await.unwrap();
    b.append(log, batch("first", 1), 1).await.unwrap();
    let started = std::time::Instant::now();
    let writers: Vec<_> = (0..2 * APPENDERS)
        .map(|w| {
            let s = if w % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                let mut firsts = Vec::new();
                for i in 0..BATCHES {
                    let t = std::time::Instant::now();
                    let got = s.append(log, batch(&format!("w{w}.{i}"), 1 + i % 7), 10 + i as u64).await.unwrap();
                    slowest = slowest.max(t.elapsed());
                    firsts.push(got.first_position);
                }
                (w, firsts, slowest)
            })
        })
        .collect();
    let mut results = Vec::new();
    for w in writers {
        results.push(tokio::time::timeout(STUCK, w).await.expect("every appender finishes").unwrap());
    }
    let records = all(&a, log).await;
    let total: usize = 1 + 2 * APPENDERS * (0..BATCHES).map(|i| 1 + i % 7).sum::<usize>();
    assert_eq!(records.len(), total, "every acknowledged record is there, once");
    assert!(records.iter().enumerate().all(|(i, r)| r.position == i as u64), "positions dense");
    assert!(records.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms), "arrivals never decrease");
    for (w, firsts, slowest) in results {
        assert!(firsts.windows(2).all(|f| f[0] < f[1]), "appender {w}: batches in order");
        for (i, first) in firsts.iter().enumerate() {
            let n = 1 + i % 7;
            let got = datas(&records[*first as usize..*first as usize + n]);
            assert_eq!(got, (0..n).map(|k| format!("w{w}.{i}/{k}")).collect::<Vec<_>>(), "a batch is consecutive");
        }
        // Generous for a loaded 2-core machine; phase 1's loser waited up to 4.8 s per append.
        assert!(slowest < Duration::from_secs(10), "appender {w} waited {slowest:?} for one append");
    }
    assert_eq!(all(&b, log).await, records, "both nodes read the same log");
    let forwarded = |s: &JetStreamStore| s.shared.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "two nodes, {} appends in {:?}; forwarded by A {}, by B {}",
        2 * APPENDERS * BATCHES,
        started.elapsed(),
        forwarded(&a),
        forwarded(&b)
    );
}

/// A node that forwards a log's appends to another node (after losing a race to it) appends
/// them itself once that node is gone, without waiting for the delegation to lapse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_forwarded_to_a_vanished_node_are_written_by_the_sender() {
    let Some(bin) = binary_or_skip("appends_forwarded_to_a_vanished_node_are_written_by_the_sender") else { return };
    let cluster = tokio::task::spawn_blocking(move || NatsServers::start(bin, 3)).await.unwrap();
    let (a, b) = (node(&cluster, "vanish").await, node(&cluster, "vanish").await);
    // The node with the lower id is the one the other forwards to.
    let (target, sender) = if a.shared.node_id < b.shared.node_id { (a, b) } else { (b, a) };
    let forwarded = |s: &JetStreamStore| s.shared.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    let log = sender.create_log().await.unwrap();
    assert_eq!(sender.append(log, batch("s0", 1), 1).await.unwrap().first_position, 0);
    assert_eq!(target.append(log, batch("t", 1), 1).await.unwrap().first_position, 1);
    // The sender's view of the end is stale: its pack is refused, it re-reads, finds the
    // target's pack last and forwards the append to the target.
    assert_eq!(sender.append(log, batch("s1", 2), 1).await.unwrap().first_position, 2);
    assert_eq!(forwarded(&sender), 1, "the refused append was forwarded");
    // The target goes away (its subscription with it, as when its process dies).
    drop(target);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = std::time::Instant::now();
    let a2 = tokio::time::timeout(STUCK, sender.append(log, batch("s2", 3), 2)).await.expect("in time").unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "no wait for the vanished node: {:?}", t.elapsed());
    assert_eq!(forwarded(&sender), 2, "the delegate was tried first");
    assert_eq!(a2.first_position, 4);
    let records = all(&sender, log).await;
    assert_eq!(datas(&records), ["s0/0", "t/0", "s1/0", "s1/1", "s2/0", "s2/1", "s2/2"]);
}

/// A read never skips positions it cannot account for. A pack that does not begin where the
/// one before it ended (which no kinesd writer frames; published here by hand, as a replica
/// missing packs would look to a reader) makes the read fail, whether the read starts before
/// the break or inside it, instead of returning the records after it as if those between had
/// been trimmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_fails_rather_than_skip_positions_nobody_trimmed() {
    let Some(server) = super::testing::shared_server("a_read_fails_rather_than_skip_positions_nobody_trimmed") else {
        return;
    };
    let options = JetStreamOptions { urls: server.urls(), creds: None, replicas: 1, prefix: "skip".to_owned() };
    let store = tokio::time::timeout(STUCK, JetStreamStore::open(options)).await.expect("open in time").unwrap();
    let log = store.create_log().await.unwrap();
    assert_eq!(store.append(log, batch("a", 3), 1000).await.unwrap().first_position, 0);
    // The next pack should begin at position 3; this one claims 10.
    let records = batch("b", 1);
    let meta = super::wire::PackMeta { first_pos: 10, count: 1, arrival_ms: 1000, writer: 1 };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(super::wire::PACK_META_HEADER, meta.header_value().as_str());
    let subject = format!("skip.log.{}", log.0);
    let ack = store.shared.js.publish_with_headers(subject, headers, super::wire::encode_pack(meta, records.iter()));
    ack.await.unwrap().await.unwrap();

    for from in [0, 3, 5] {
        match store.read(log, from, 100, usize::MAX).await {
            Err(e) => assert!(e.to_string().contains("position"), "from {from}: {e}"),
            Ok(batch) => panic!(
                "from {from}: read {:?} up to {} across positions nobody trimmed",
                batch.records.iter().map(|r| r.position).collect::<Vec<_>>(),
                batch.next
            ),
        }
    }
    // Records before the break are still read.
    assert_eq!(datas(&store.read(log, 0, 3, usize::MAX).await.unwrap().records), ["a/0", "a/1", "a/2"]);
}

/// A stream info answered by a leader cut off from its replicas (a deposed leader right after
/// a partition heals) is recognised, so that it is asked again rather than believed.
#[test]
fn an_answer_from_a_leader_out_of_touch_is_recognised() {
    fn info(replicas_active_ms: &[u64]) -> async_nats::jetstream::stream::Info {
        info_from(Some("n1"), replicas_active_ms)
    }
    fn info_from(leader: Option<&str>, replicas_active_ms: &[u64]) -> async_nats::jetstream::stream::Info {
        let replicas: Vec<_> = replicas_active_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| serde_json::json!({"name": format!("n{}", i + 2), "current": true, "active": ms * 1_000_000, "lag": 0}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "config": {"name": "s", "subjects": ["s.x"], "retention": "limits", "storage": "file", "num_replicas": 1 + replicas.len(), "discard": "old", "max_consumers": -1, "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msgs_per_subject": -1, "max_msg_size": -1, "duplicate_window": 0},
            "created": "2026-12-06T00:00:00Z",
            "state": {"messages": 0, "bytes": 0, "first_seq": 0, "first_ts": "0001-01-01T00:00:00Z", "last_seq": 0, "last_ts": "0001-01-01T00:00:00Z", "consumer_count": 0},
            "cluster": {"name": "c", "leader": leader, "replicas": replicas},
        }))
        .unwrap()
    }
    assert!(super::in_touch_with_replicas(&info(&[])), "one replica: the leader is the group");
    assert!(super::in_touch_with_replicas(&info(&[400, 900])));
    assert!(super::in_touch_with_replicas(&info(&[400, 14_000])), "one follower away: still a majority");
    assert!(!super::in_touch_with_replicas(&info(&[14_000, 14_100])), "cut off for 14 s");
    assert!(!super::in_touch_with_replicas(&info(&[3_500, 3_500, 200, 4_000])), "1 of 4 heard: no majority of 5");
    // A replica that lost its leader answers with its own state; replicas it never heard from
    // show as active 0 ns (as nats-server 2.15.1 answered right after a partition healed).
    assert!(!super::in_touch_with_replicas(&info_from(None, &[0, 3_591, 0])), "no leader named");
    assert!(super::in_touch_with_replicas(&info_from(None, &[])), "one replica");
}

/// The peer bus: what one node publishes reaches every subscriber under the same prefix, the
/// publisher's own included, and nothing under another prefix; a full queue drops rather
/// than buffers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_bus_reaches_every_node_under_the_prefix_and_no_other() {
    let Some(server) = super::testing::shared_server("the_peer_bus_reaches_every_node_under_the_prefix_and_no_other")
    else {
        return;
    };
    let open = |prefix: &str| {
        let options = JetStreamOptions { urls: server.urls(), creds: None, replicas: 1, prefix: prefix.to_owned() };
        async move { tokio::time::timeout(STUCK, JetStreamStore::open(options)).await.expect("open in time").unwrap() }
    };
    let (a, b, other) = (open("busx").await, open("busx").await, open("busy").await);
    let (bus_a, bus_b, bus_other) = (a.peer_bus().unwrap(), b.peer_bus().unwrap(), other.peer_bus().unwrap());
    let mut at_a = bus_a.subscribe("t", 8).await.unwrap();
    let mut at_b = bus_b.subscribe("t", 2).await.unwrap();
    let mut at_other = bus_other.subscribe("t", 8).await.unwrap();
    // A subscription is in place once the server has it, which the subscriber does not wait
    // for: warm up until each of them has heard something, then drop what was heard.
    let deadline = tokio::time::Instant::now() + STUCK;
    let mut heard = [false; 3];
    while heard != [true; 3] {
        assert!(tokio::time::Instant::now() < deadline, "subscriptions never took: {heard:?}");
        bus_a.publish("t", Bytes::from_static(b"warm-up")).await.unwrap();
        bus_other.publish("t", Bytes::from_static(b"warm-up")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (inbox, heard) in [&mut at_a, &mut at_b, &mut at_other].into_iter().zip(&mut heard) {
            while inbox.try_recv().is_ok() {
                *heard = true;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for inbox in [&mut at_a, &mut at_b, &mut at_other] {
        while inbox.try_recv().is_ok() {}
    }
    for i in 0..5 {
        bus_b.publish("t", Bytes::from(format!("m{i}"))).await.unwrap();
    }
    for i in 0..5 {
        let got = tokio::time::timeout(STUCK, at_a.recv()).await.unwrap().unwrap();
        assert_eq!(got, format!("m{i}"), "in order from one sender");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut kept = Vec::new();
    while let Ok(m) = at_b.try_recv() {
        kept.push(m);
    }
    assert_eq!(kept, ["m0", "m1"], "a queue of two keeps two and drops the rest");
    assert!(at_other.try_recv().is_err(), "another prefix hears nothing");
    assert!(crate::store::memory::MemoryStore::new().peer_bus().is_none(), "a single-node store has no bus");
}

/// A node can watch the tip of a log another node created before touching it itself (a
/// SubscribeToShard from TRIM_HORIZON through it reads nothing first); the watch starts at the
/// log's real tip and follows the other node's appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_watches_the_tip_of_a_log_it_never_touched() {
    let Some(server) = super::testing::shared_server("a_node_watches_the_tip_of_a_log_it_never_touched") else {
        return;
    };
    let open = || async {
        let options =
            JetStreamOptions { urls: server.urls(), creds: None, replicas: 1, prefix: "untouched".to_owned() };
        tokio::time::timeout(STUCK, JetStreamStore::open(options)).await.expect("open in time").unwrap()
    };
    let (a, b) = (open().await, open().await);
    let log = a.create_log().await.unwrap();
    a.append(log, batch("a", 2), 1).await.unwrap();
    let mut tip = b.watch_tip(log).expect("a log that exists can be watched through any node");
    let reached = |want: u64, tip: &mut watch::Receiver<u64>| {
        let mut tip = tip.clone();
        async move { tokio::time::timeout(STUCK, tip.wait_for(|t| *t >= want)).await.is_ok() }
    };
    assert!(reached(2, &mut tip).await, "the watch starts at the log's tip");
    a.append(log, batch("b", 3), 2).await.unwrap();
    assert!(reached(5, &mut tip).await, "and follows the other node's appends");
}
