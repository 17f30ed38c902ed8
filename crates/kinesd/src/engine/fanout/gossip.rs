//! SubscribeToShard's in-use rule across the nodes of a cluster (`--nats-url`,
//! `docs/decisions/0022-cluster-subscriptions.md`).
//!
//! Each node keeps its own subscriptions in its [`Registry`](super::Registry) and tells the
//! others on the store's peer bus (core NATS, `P.fanout.subscriptions`) when one starts
//! (after every local check passed) and when one ends (dropped or expired; one taken over
//! needs no word). Each node remembers the others' subscriptions heard of within the last
//! [`TAKEOVER_AFTER`], and applies AWS's rule to every pair of subscriptions of one consumer
//! to one shard, whichever nodes took them:
//!
//! - a SubscribeToShard finding another node's one is refused with the same
//!   ResourceInUseException as for a local one;
//! - of two started less than TAKEOVER_AFTER apart (by wall clock, then node id), the later
//!   loses: it is ended as a takeover ends one (ResourceInUseException), by its own node when
//!   it hears of the earlier. Two subscribes accepted on two nodes within the gossip delay are
//!   settled so, and so is a second call that reached another node before the first's
//!   Started message did. A node that hears of an earlier subscription while the later one's
//!   call is still waiting [`GRACE`] to be answered answers ResourceInUseException instead,
//!   as AWS would: every SubscribeToShard in cluster mode waits GRACE after publishing its
//!   Started message before it is answered, so that a client's second call to another node,
//!   sent after the first's answer, finds the first there (or hears of it within its own
//!   GRACE) unless the bus is slower than that;
//! - one started TAKEOVER_AFTER or more after another takes over: the node of the earlier one
//!   ends it when it hears of the later.
//!
//! What the bus does not promise costs this: a lost message (a node disconnected, a full
//! queue) means at worst a second SubscribeToShard within TAKEOVER_AFTER accepted by another
//! node (so the rule is approximate across nodes, as the limits are), or an older
//! subscription not taken over, which then ends by itself (subscriptions end after 5
//! minutes). A message later than GRACE means the later subscription is accepted and then
//! ended. The refusal window is counted from when a node heard of the other's start (no clock
//! is compared for it); only the order of two starts compares wall clocks, so nodes whose
//! clocks disagree by more than the gap between two subscribes may pick the other one.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Registry, SubscriptionKey, TAKEOVER_AFTER};
use crate::engine::Engine;
use crate::engine::catalog::StreamKey;

/// The bus topic, under the store's prefix (`P.fanout.subscriptions` on NATS).
pub const TOPIC: &str = "fanout.subscriptions";

/// Received messages waiting to be applied (each at most [`MAX_MESSAGE_BYTES`]); beyond it
/// newer ones are dropped (lost, as above). Applying one takes a lock or two, no I/O.
pub const INBOX: usize = 1024;

/// How long a SubscribeToShard in cluster mode waits, after telling the others of its
/// subscription, for word of an earlier one it must yield to (see the module's comment).
/// Far above a core NATS hop on a LAN (about a millisecond); the price of every
/// SubscribeToShard in cluster mode, none on a single node.
pub const GRACE: Duration = Duration::from_millis(100);

/// Far above any valid message (names are at most 128 characters); longer ones are refused.
pub const MAX_MESSAGE_BYTES: usize = 4096;

const VERSION: u8 = 1;

const TAKEOVER_MS: u64 = TAKEOVER_AFTER.as_millis() as u64;

/// Another node's subscription, as its Started message told.
pub struct Remote {
    node: u64,
    id: u64,
    started_ms: u64,
    /// When this node heard of it: the in-use window runs from here.
    received: Instant,
}

/// What happened to a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Started { started_ms: u64 },
    Ended,
}

/// One message on the topic (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub v: u8,
    pub node: u64,
    /// The subscription's id on its node.
    pub id: u64,
    pub account: String,
    pub stream: String,
    pub consumer: String,
    pub shard: u32,
    pub change: Change,
}

impl Message {
    fn key(&self) -> SubscriptionKey {
        (StreamKey::new(self.account.clone(), self.stream.clone()), self.consumer.clone(), self.shard)
    }
}

pub fn encode(node: u64, id: u64, key: &SubscriptionKey, change: Change) -> Bytes {
    let (stream, consumer, shard) = key;
    let message = Message {
        v: VERSION,
        node,
        id,
        account: stream.account.clone(),
        stream: stream.name.clone(),
        consumer: consumer.clone(),
        shard: *shard,
        change,
    };
    Bytes::from(serde_json::to_vec(&message).expect("plain data serializes"))
}

/// Reads a message; anything malformed (too long, not this version, a missing or unknown
/// field, a wrong type) refuses it whole.
pub fn decode(message: &[u8]) -> Result<Message, String> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(format!("{} bytes", message.len()));
    }
    let message: Message = serde_json::from_slice(message).map_err(|e| e.to_string())?;
    if message.v != VERSION {
        return Err(format!("version {}", message.v));
    }
    Ok(message)
}

impl Registry {
    /// Forgets other nodes' subscriptions old enough to be taken over: they block nothing.
    fn prune(remote: &mut std::collections::HashMap<SubscriptionKey, Remote>) {
        remote.retain(|_, r| r.received.elapsed() < TAKEOVER_AFTER);
    }

    /// Whether another node's subscription to `key` is younger than TAKEOVER_AFTER.
    pub(super) fn remote_in_use(&self, key: &SubscriptionKey) -> bool {
        let mut remote = self.remote.lock();
        Self::prune(&mut remote);
        remote.contains_key(key)
    }
}

impl Engine {
    /// Tells the other nodes (if any) that this node's subscription `id` to `key` changed.
    /// Whether there are other nodes to tell (the store has a peer bus).
    pub(super) async fn announce(&self, key: &SubscriptionKey, id: u64, change: Change) -> bool {
        let Some(bus) = self.store.peer_bus() else { return false };
        if let Err(e) = bus.publish(TOPIC, encode(self.node, id, key, change)).await {
            // Lost: the rule is approximate across nodes for this subscription (see above).
            tracing::debug!(error = %e, "a subscription change not published");
        }
        true
    }

    /// `announce(Ended)` from a drop, which cannot wait: in a task of its own (short-lived,
    /// one per subscription ended), or not at all outside a runtime (shutting down).
    pub(super) fn announce_ended(self: &Arc<Self>, key: &SubscriptionKey, id: u64) {
        if self.store.peer_bus().is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (engine, key) = (self.clone(), key.clone());
        runtime.spawn(async move { engine.announce(&key, id, Change::Ended).await });
    }

    /// Applies another node's message (see the module's comment).
    fn hear(&self, message: Message) {
        let key = message.key();
        match message.change {
            Change::Started { started_ms } => {
                let heard = (started_ms, message.node);
                // Whether a subscription started at `earlier` is one `later` takes over.
                let takes_over = |earlier: u64, later: u64| later.saturating_sub(earlier) >= TAKEOVER_MS;
                {
                    let mut remote = self.subscriptions.remote.lock();
                    Registry::prune(&mut remote);
                    // Keep the one that holds the key: the earliest, unless a later one took
                    // it over (messages from several nodes come in any order).
                    let keep_heard = remote
                        .get(&key)
                        .is_none_or(|r| heard < (r.started_ms, r.node) || takes_over(r.started_ms, started_ms));
                    if keep_heard {
                        let entry = Remote { node: message.node, id: message.id, started_ms, received: Instant::now() };
                        remote.insert(key.clone(), entry);
                    }
                }
                let mut live = self.subscriptions.live.lock();
                let ends_ours = live.get(&key).is_some_and(|l| {
                    if heard > (l.started_ms, self.node) {
                        takes_over(l.started_ms, started_ms)
                    } else {
                        // Ours came too soon after the one heard of.
                        !takes_over(started_ms, l.started_ms)
                    }
                });
                if ends_ours {
                    // As a takeover here: it ends with ResourceInUseException at its next
                    // event (or its call answers it), and says nothing on its drop.
                    if let Some(taken) = live.remove(&key) {
                        taken.revoked.send_replace(true);
                    }
                }
            }
            Change::Ended => {
                let mut remote = self.subscriptions.remote.lock();
                if remote.get(&key).is_some_and(|r| r.node == message.node && r.id == message.id) {
                    remote.remove(&key);
                }
            }
        }
    }
}

/// Subscribes this node to the others' subscription changes, when its store has a peer bus;
/// called by `Engine::open` before it returns, so that no subscription started after the
/// open goes unheard.
pub async fn start(engine: &Arc<Engine>) {
    let Some(bus) = engine.store.peer_bus() else { return };
    match bus.subscribe(TOPIC, INBOX).await {
        Ok(inbox) => {
            tokio::spawn(run(Arc::downgrade(engine), inbox));
        }
        Err(e) => tracing::warn!(error = %e, "cannot hear other nodes' subscriptions: the in-use rule holds per node"),
    }
}

/// Applies the other nodes' messages until the engine is dropped (noticed within
/// TAKEOVER_AFTER) or the bus ends the subscription.
async fn run(engine: Weak<Engine>, mut inbox: mpsc::Receiver<Bytes>) {
    let mut tick = tokio::time::interval(TAKEOVER_AFTER);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Some(engine) = engine.upgrade() else { return };
                Registry::prune(&mut engine.subscriptions.remote.lock());
            }
            message = inbox.recv() => {
                let Some(message) = message else {
                    tracing::warn!("the subscriptions gossip ended: the in-use rule holds per node");
                    return;
                };
                let Some(engine) = engine.upgrade() else { return };
                match decode(&message) {
                    Ok(message) if message.node != engine.node => engine.hear(message),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "a malformed subscription message ignored"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use tokio::sync::watch;

    use super::*;
    use crate::engine::consumers::ConsumerRef;
    use crate::engine::fanout::Delivery;
    use crate::engine::fanout::tests::config;
    use crate::engine::lifecycle::NewStream;
    use crate::engine::limits::tests::gossip_tests::LocalBus;
    use crate::engine::records::IteratorStart;
    use crate::engine::test_key as k;
    use crate::error::KinesisError;
    use crate::store::memory::MemoryStore;
    use crate::store::{Appended, Expect, Extent, LogId, NewRecord, PeerBus, ReadBatch, Result, Revision, Store};

    /// One memory store seen by several engines, with the in-process bus as their peer bus:
    /// what two nodes on one cluster look like to the fan-out gossip. (The memory store does
    /// not report catalog changes, so the stream and consumer are made before the second
    /// engine opens and loads them.)
    struct Node {
        store: Arc<MemoryStore>,
        bus: Arc<LocalBus>,
    }

    #[async_trait]
    impl Store for Node {
        async fn catalog_load(&self) -> Result<Vec<(String, Bytes, Revision)>> {
            self.store.catalog_load().await
        }
        async fn catalog_get(&self, key: &str) -> Result<Option<(Bytes, Revision)>> {
            self.store.catalog_get(key).await
        }
        async fn catalog_put(&self, key: &str, value: Bytes, expect: Expect) -> Result<Revision> {
            self.store.catalog_put(key, value, expect).await
        }
        async fn catalog_delete(&self, key: &str, expect: Revision) -> Result<()> {
            self.store.catalog_delete(key, expect).await
        }
        async fn logs(&self) -> Result<Vec<LogId>> {
            self.store.logs().await
        }
        async fn create_log(&self) -> Result<LogId> {
            self.store.create_log().await
        }
        async fn delete_log(&self, log: LogId) -> Result<()> {
            self.store.delete_log(log).await
        }
        async fn append(&self, log: LogId, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended> {
            self.store.append(log, records, now_ms).await
        }
        async fn read(&self, log: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
            self.store.read(log, from, max_records, max_bytes).await
        }
        async fn extent(&self, log: LogId) -> Result<Extent> {
            self.store.extent(log).await
        }
        async fn seek_time(&self, log: LogId, at_ms: u64) -> Result<u64> {
            self.store.seek_time(log, at_ms).await
        }
        async fn trim(&self, log: LogId, before_ms: u64) -> Result<()> {
            self.store.trim(log, before_ms).await
        }
        fn watch_tip(&self, log: LogId) -> Result<watch::Receiver<u64>> {
            self.store.watch_tip(log)
        }
        fn peer_bus(&self) -> Option<Arc<dyn PeerBus>> {
            Some(self.bus.clone())
        }
    }

    /// Two engines sharing a store and a bus, with stream `s` (one shard) and consumer `c`.
    async fn two_nodes() -> (Arc<Engine>, Arc<Engine>, Arc<LocalBus>, ConsumerRef) {
        let (store, bus) = (Arc::new(MemoryStore::new()), Arc::new(LocalBus::default()));
        let node = || Arc::new(Node { store: store.clone(), bus: bus.clone() });
        let a = Engine::open(config(), node()).await.unwrap();
        a.create_stream(NewStream::provisioned(&k("s"), 1)).await.unwrap();
        a.register_consumer(&k("s"), "c", Vec::new()).await.unwrap();
        let b = Engine::open(config(), node()).await.unwrap();
        (a, b, bus, ConsumerRef { stream: k("s"), name: "c".into(), created_secs: None })
    }

    fn key() -> SubscriptionKey {
        (k("s"), "c".to_owned(), 0)
    }

    /// Waits (a little: the in-process bus delivers at once) until `check` holds.
    async fn soon(what: &str, check: impl Fn() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{what}: not within a second");
    }

    fn in_use(result: crate::error::Result<crate::engine::fanout::Subscription>) -> String {
        match result {
            Err(KinesisError::ResourceInUse(message)) => message,
            Err(e) => panic!("not in use: {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[tokio::test]
    async fn a_subscription_on_one_node_is_in_use_on_the_other_until_it_ends() {
        let (a, b, _bus, consumer) = two_nodes().await;
        let first = a.subscribe(&consumer, "0", IteratorStart::Latest).await.unwrap();
        soon("B heard of A's subscription", || b.subscriptions.remote.lock().contains_key(&key())).await;
        let on_b = in_use(b.subscribe(&consumer, "0", IteratorStart::Latest).await);
        let on_a = in_use(a.subscribe(&consumer, "0", IteratorStart::Latest).await);
        assert_eq!(on_b, on_a, "the same answer from either node");
        assert_eq!(b.live_subscriptions(), 0, "a refused call takes nothing over");
        // Ended: B may subscribe at once, and then A refuses.
        drop(first);
        soon("B heard it ended", || b.subscriptions.remote.lock().is_empty()).await;
        let _second = b.subscribe(&consumer, "0", IteratorStart::Latest).await.unwrap();
        soon("A heard of B's subscription", || a.subscriptions.remote.lock().contains_key(&key())).await;
        in_use(a.subscribe(&consumer, "0", IteratorStart::Latest).await);
    }

    #[tokio::test]
    async fn of_two_subscriptions_within_five_seconds_the_earlier_stays_and_a_later_one_takes_over() {
        let (a, b, bus, consumer) = two_nodes().await;
        let mut live = b.subscribe(&consumer, "0", IteratorStart::Latest).await.unwrap();
        let started_ms = b.subscriptions.live.lock()[&key()].started_ms;
        // Another node's subscription started just after B's (accepted there before it heard
        // of B's): B's stays, and A keeps B's as the one holding the key.
        bus.publish(TOPIC, encode(8, 1, &key(), Change::Started { started_ms: started_ms + 1 })).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(b.live_subscriptions(), 1);
        assert!(matches!(live.next(10, 1 << 20).await.unwrap(), Delivery::Idle { .. }));
        let held = a.subscriptions.remote.lock().get(&key()).map(|r| r.node);
        assert_eq!(held, Some(b.node), "the earlier one holds the key");
        // One started TAKEOVER_AFTER later takes over: B's ends as a local takeover ends one.
        let later = encode(9, 1, &key(), Change::Started { started_ms: started_ms + TAKEOVER_MS });
        bus.publish(TOPIC, later).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), live.changed()).await.expect("woken by the takeover");
        match live.next(10, 1 << 20).await {
            Err(KinesisError::ResourceInUse(message)) => assert!(message.contains("took over"), "{message}"),
            _ => panic!("B's subscription was not taken over"),
        }
        assert_eq!(b.live_subscriptions(), 0);
        soon("A keeps the one that took over", || {
            a.subscriptions.remote.lock().get(&key()).is_some_and(|r| r.node == 9)
        })
        .await;
        // An Ended of another subscription leaves it; its own removes it.
        bus.publish(TOPIC, encode(8, 1, &key(), Change::Ended)).await.unwrap();
        bus.publish(TOPIC, encode(9, 2, &key(), Change::Ended)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(a.subscriptions.remote.lock().contains_key(&key()));
        bus.publish(TOPIC, encode(9, 1, &key(), Change::Ended)).await.unwrap();
        soon("A forgot it", || a.subscriptions.remote.lock().is_empty()).await;
        a.subscribe(&consumer, "0", IteratorStart::Latest).await.unwrap();
    }

    #[tokio::test]
    async fn a_subscription_that_hears_of_an_earlier_one_yields() {
        // Heard of while its call waits GRACE: the call is refused.
        let (_a, b, bus, consumer) = two_nodes().await;
        let before = crate::engine::now_ms() - 1;
        let early = tokio::spawn(async move {
            tokio::time::sleep(GRACE / 4).await;
            bus.publish(TOPIC, encode(7, 1, &key(), Change::Started { started_ms: before })).await.unwrap();
            bus
        });
        in_use(b.subscribe(&consumer, "0", IteratorStart::Latest).await);
        assert_eq!(b.live_subscriptions(), 0);
        // Heard of after its call was answered: it ends as taken over.
        let bus = early.await.unwrap();
        bus.publish(TOPIC, encode(7, 1, &key(), Change::Ended)).await.unwrap();
        soon("B forgot it", || b.subscriptions.remote.lock().is_empty()).await;
        let mut live = b.subscribe(&consumer, "0", IteratorStart::Latest).await.unwrap();
        let started_ms = b.subscriptions.live.lock()[&key()].started_ms;
        bus.publish(TOPIC, encode(7, 2, &key(), Change::Started { started_ms: started_ms - 1 })).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), live.changed()).await.expect("woken");
        assert!(matches!(live.next(10, 1 << 20).await, Err(KinesisError::ResourceInUse(_))));
    }

    #[test]
    fn messages_round_trip_and_malformed_ones_are_refused_whole() {
        let started = encode(3, 9, &key(), Change::Started { started_ms: 1_700_000_000_000 });
        let message = decode(&started).unwrap();
        assert_eq!((message.node, message.id, message.key()), (3, 9, key()));
        assert_eq!(message.change, Change::Started { started_ms: 1_700_000_000_000 });
        assert_eq!(decode(&encode(3, 9, &key(), Change::Ended)).unwrap().change, Change::Ended);
        let text = String::from_utf8(started.to_vec()).unwrap();
        let bad = [
            text[..text.len() - 1].to_owned(),
            text.replace("\"v\":1", "\"v\":2"),
            text.replace("\"shard\":0", "\"shard\":-1"),
            text.replace("\"shard\":0", "\"shard\":0,\"extra\":1"),
            text.replace("\"node\":3,", ""),
            text.replace("started_ms", "start_ms"),
            format!("{}{}", text, " ".repeat(MAX_MESSAGE_BYTES)),
        ];
        for message in bad {
            assert!(decode(message.as_bytes()).is_err(), "{message}");
        }
    }
}
