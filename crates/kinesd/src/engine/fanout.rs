//! SubscribeToShard's data side: one [`Subscription`] per consumer and shard, which reads the
//! shard's log from where the subscriber is and waits for the next durable write.
//!
//! A subscription holds no records of its own between reads: every delivery is read from the
//! store at the subscriber's position, so a subscriber that falls behind costs a read, never a
//! growing queue, and its writers never wait for it. It wakes on the shard's tip watch (which
//! moves only once an append is durable, so nothing a crash could take back is delivered) and
//! on the engine's catalog watch (a closed shard, a deleted stream, a deregistered consumer);
//! there is no polling interval.
//!
//! The [`Registry`] holds one entry per live subscription: a second SubscribeToShard for the
//! same consumer and shard within [`TAKEOVER_AFTER`] of the first is refused, a later one takes
//! over and the earlier one ends with ResourceInUseException, as AWS documents. Nodes sharing
//! a store keep that rule across the cluster by telling each other of the subscriptions they
//! start and end ([`gossip`]).

pub mod gossip;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::catalog::{Shard, Stream, StreamKey};
use super::consumers::{Consumer, ConsumerRef, ConsumerStatus};
use super::records::{ChildShard, IteratorStart, child_shards, millis_behind_latest};
use super::sequence::SequenceNumber;
use super::{Engine, now_ms};
use crate::error::{KinesisError, Result};
use crate::store::{StoreError, StoredRecord};

/// A subscription younger than this cannot be taken over by a new SubscribeToShard.
pub const TAKEOVER_AFTER: Duration = Duration::from_secs(5);

/// (stream, consumer name, shard index).
type SubscriptionKey = (StreamKey, String, u32);

struct Live {
    id: u64,
    started: Instant,
    /// Wall clock at the start: how the nodes of a cluster agree on which is newest.
    started_ms: u64,
    /// How far behind the shard's tip the subscriber was at its last event, in milliseconds
    /// (0 when it had everything): the consumer-lag gauge of `GET /metrics`.
    lag_ms: Arc<AtomicU64>,
    /// Tells the subscription that a newer one took over.
    revoked: watch::Sender<bool>,
}

/// The live subscriptions: at most one per consumer and shard, so at most
/// 20 consumers × open and closed shards entries.
#[derive(Default)]
pub struct Registry {
    live: parking_lot::Mutex<HashMap<SubscriptionKey, Live>>,
    next_id: AtomicU64,
    /// Other nodes' subscriptions started within the last [`TAKEOVER_AFTER`], as their
    /// gossip told (see [`gossip`]); empty on a single node. At most one per key, so bounded
    /// by the subscriptions started cluster-wide in the last TAKEOVER_AFTER (older ones are
    /// pruned on every insert and check, and every TAKEOVER_AFTER by the gossip task).
    /// Lock order: `live` before `remote`.
    remote: parking_lot::Mutex<HashMap<SubscriptionKey, gossip::Remote>>,
}

/// What a subscription has for its subscriber now.
pub enum Delivery {
    /// Records, with the sequence number to resume after and how far behind the tip they are.
    Records { records: Vec<StoredRecord>, continuation: SequenceNumber, millis_behind_latest: i64 },
    /// Nothing new: where the subscriber is.
    Idle { continuation: SequenceNumber },
    /// The shard is closed and every record was delivered: where its hash keys went.
    End { children: Vec<ChildShard> },
}

/// One consumer's subscription to one shard.
pub struct Subscription {
    engine: Arc<Engine>,
    /// The consumer's ARN, which keys its enhanced fan-out limits.
    arn: String,
    key: SubscriptionKey,
    id: u64,
    consumer_created_ms: u64,
    stream_created_ms: u64,
    shard: Shard,
    /// The next log position to deliver.
    position: u64,
    /// The sequence number of the last record delivered (or of the position before the start).
    continuation: SequenceNumber,
    tip: watch::Receiver<u64>,
    tip_open: bool,
    catalog: watch::Receiver<u64>,
    /// Set (or closed) when a newer subscription took over.
    revoked: watch::Receiver<bool>,
    taken_over: bool,
    /// The catalog moved since the stream and consumer were last checked.
    recheck: bool,
    /// When the subscription ends by itself.
    pub expires: tokio::time::Instant,
    /// See `Live::lag_ms`.
    lag_ms: Arc<AtomicU64>,
    /// The stream's counters, and whether it keeps shard-level ones (re-read with the stream).
    meters: super::meters::Meters,
    shard_level: bool,
}

impl Engine {
    /// Starts a subscription, with AWS's checks before any event is sent: the consumer exists
    /// and is ACTIVE, the shard and starting position are valid, and no other subscription of
    /// the consumer to the shard is younger than [`TAKEOVER_AFTER`].
    pub async fn subscribe(
        self: &Arc<Self>,
        which: &ConsumerRef,
        shard_id: &str,
        start: IteratorStart,
    ) -> Result<Subscription> {
        // Watched from before the stream is read, so that a change after the read (a shard
        // closing, the consumer going) is seen by the first delivery.
        let catalog = self.watch_catalog();
        let consumer = self.consumer(which).await?;
        if consumer.status != ConsumerStatus::Active {
            return Err(self.consumer_not_active(&consumer));
        }
        let (stream, index, position) = self.start_position(&consumer.stream_key(), shard_id, start).await?;
        let shard = stream.shard(index).cloned().ok_or_else(KinesisError::internal_failure)?;
        let continuation = self.sequence_before(&shard, position).await?;
        // A write between the position's lookup and here is found by the first read, which
        // every pump does before it waits.
        let tip = self.store.watch_tip(shard.log)?;
        // With --enforce-limits, one SubscribeToShard a second per consumer and shard (AWS's
        // quota), checked before the in-use rule: a refused call takes nothing over.
        let arn = self.consumer_arn(&consumer);
        if let Some(limits) = &self.limits {
            let now = limits.now();
            if !limits.consumer_shard(&arn, index, |buckets| buckets.admit_subscribe(now)) {
                return Err(KinesisError::subscribe_rate_exceeded(&arn, &shard.id()));
            }
        }
        let key = (consumer.stream_key(), consumer.name.clone(), index);
        let (revoke, revoked) = watch::channel(false);
        let id = self.subscriptions.next_id.fetch_add(1, Ordering::Relaxed);
        let lag_ms = Arc::new(AtomicU64::new(0));
        let started_ms = now_ms();
        {
            let mut live = self.subscriptions.live.lock();
            let young = live.get(&key).is_some_and(|current| current.started.elapsed() < TAKEOVER_AFTER);
            // Another node's subscription younger than TAKEOVER_AFTER counts as this node's own.
            if young || self.subscriptions.remote_in_use(&key) {
                return Err(KinesisError::subscription_in_use(&arn, &shard.id()));
            }
            if let Some(current) = live.get(&key) {
                current.revoked.send_replace(true);
            }
            let started = Instant::now();
            live.insert(key.clone(), Live { id, started, started_ms, revoked: revoke, lag_ms: lag_ms.clone() });
        }
        let lifetime = Duration::from_millis(self.config.subscription_ms);
        let subscription = Subscription {
            engine: self.clone(),
            arn,
            key,
            id,
            consumer_created_ms: consumer.created_ms,
            stream_created_ms: stream.created_ms,
            shard,
            position,
            continuation,
            tip,
            tip_open: true,
            catalog,
            revoked,
            taken_over: false,
            recheck: false,
            expires: tokio::time::Instant::now() + lifetime,
            lag_ms,
            meters: stream.meters.clone(),
            shard_level: stream.shard_level(),
        };
        // Told before the call is answered, so that a second SubscribeToShard the client sends
        // another node after this answer finds it there; then waits for word of an earlier one
        // elsewhere, which this one yields to (see `gossip`). Published once the subscription
        // exists: cancelled here, its drop still says it ended.
        if self.announce(&subscription.key, subscription.id, gossip::Change::Started { started_ms }).await {
            tokio::time::sleep(gossip::GRACE).await;
            if *subscription.revoked.borrow() {
                return Err(KinesisError::subscription_in_use(&subscription.arn, &subscription.shard.id()));
            }
        }
        Ok(subscription)
    }

    /// AWS's answer to a subscription of a consumer that is not ACTIVE.
    fn consumer_not_active(&self, consumer: &Consumer) -> KinesisError {
        KinesisError::consumer_not_active(&consumer.name, consumer.created_secs(), &consumer.stream, &consumer.account)
    }

    /// The sequence number a subscriber starting at `position` resumes after: that of the
    /// record before it (its real arrival time when it is still stored), or the shard's
    /// StartingSequenceNumber at position 0.
    async fn sequence_before(&self, shard: &Shard, position: u64) -> Result<SequenceNumber> {
        let Some(before) = position.checked_sub(1) else {
            return Ok(shard.starting_sequence_number());
        };
        let batch = self.store.read(shard.log, before, 1, 1).await?;
        let arrival = batch.records.first().filter(|r| r.position == before).map_or(shard.created_ms, |r| r.arrival_ms);
        Ok(shard.sequence_number(before, arrival))
    }

    /// Whether the stream incarnation and the consumer a subscription serves are still there;
    /// returns the stream as it is now.
    fn still_serving(&self, sub: &Subscription) -> Result<Arc<Stream>> {
        let (stream_key, consumer_name, _) = &sub.key;
        let stream = self
            .streams
            .read()
            .get(stream_key)
            .filter(|s| s.created_ms == sub.stream_created_ms)
            .cloned()
            .ok_or_else(|| self.not_found(stream_key))?;
        let which = ConsumerRef { stream: stream_key.clone(), name: consumer_name.clone(), created_secs: None };
        let consumer = self.find_consumer(&which)?;
        if consumer.created_ms != sub.consumer_created_ms {
            return Err(self.consumer_not_found(&which));
        }
        if consumer.status != ConsumerStatus::Active {
            return Err(self.consumer_not_found(&which));
        }
        Ok(stream)
    }
}

impl Subscription {
    /// Charges an event's `bytes` (data and partition keys) against the consumer's 2 MiB/s
    /// on this shard when `--enforce-limits` is on; how long to wait before the next event so
    /// that delivery stays within it. Delivery slows down; nothing is dropped.
    pub fn charge_delivery(&self, bytes: usize) -> Duration {
        let Some(limits) = &self.engine.limits else { return Duration::ZERO };
        let now = limits.now();
        let wait = limits.consumer_shard(&self.arn, self.shard.index, |buckets| buckets.deliver(bytes, now));
        Duration::from_nanos(wait)
    }

    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    /// What there is to deliver now, at most `max_records` records and (beyond the first
    /// record) `max_bytes`. Fails when the subscription cannot go on: its stream or consumer is
    /// gone, a newer subscription took over, or the store failed.
    pub async fn next(&mut self, max_records: usize, max_bytes: usize) -> Result<Delivery> {
        if self.taken_over || *self.revoked.borrow() {
            return Err(KinesisError::subscription_taken_over(
                &self.engine.consumer_arn_of(&self.key),
                &self.shard.id(),
            ));
        }
        if self.recheck || !self.tip_open || self.catalog.has_changed().unwrap_or(true) {
            self.recheck = false;
            self.catalog.borrow_and_update();
            let stream = self.engine.still_serving(self)?;
            if let Some(shard) = stream.shard(self.shard.index) {
                self.shard = shard.clone();
            }
            self.shard_level = stream.shard_level();
        }
        let end = self.shard.closed.map_or(u64::MAX, |c| c.end_position);
        if self.position >= end {
            let stream = self.engine.still_serving(self)?;
            return Ok(Delivery::End { children: child_shards(&stream, self.shard.index) });
        }
        let limit = max_records.min((end - self.position).try_into().unwrap_or(usize::MAX));
        let batch = match self.engine.store.read(self.shard.log, self.position, limit, max_bytes).await {
            Ok(batch) => batch,
            // The log went with its stream; say which is gone.
            Err(StoreError::NoSuchLog(_)) => {
                self.engine.still_serving(self)?;
                return Err(KinesisError::internal_failure());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = batch.records.last() else {
            // Trimmed records are skipped, as a reader past the trim horizon finds them.
            self.lag_ms.store(0, Ordering::Relaxed);
            self.position = self.position.max(batch.next);
            return Ok(Delivery::Idle { continuation: self.continuation });
        };
        self.continuation = self.shard.sequence_number(last.position, last.arrival_ms);
        self.position = batch.next;
        let millis_behind_latest = millis_behind_latest(&batch, now_ms());
        self.lag_ms.store(millis_behind_latest.max(0) as u64, Ordering::Relaxed);
        let bytes: usize = batch.records.iter().map(|r| r.data.len() + r.partition_key.len()).sum();
        let flow = super::meters::Flow::FanOut { records: batch.records.len() as u64, bytes: bytes as u64 };
        self.meters.count(flow, self.shard.index, self.shard_level);
        Ok(Delivery::Records { records: batch.records, continuation: self.continuation, millis_behind_latest })
    }

    /// Waits until there may be something new to deliver: a durable write to the shard, a
    /// change of the catalog, or a newer subscription taking over. Cancel-safe.
    pub async fn changed(&mut self) {
        tokio::select! {
            moved = self.tip.changed(), if self.tip_open => {
                if moved.is_err() {
                    // The log was deleted; the catalog says why on the next read.
                    self.tip_open = false;
                }
            }
            _ = self.catalog.changed() => self.recheck = true,
            // Closed counts too: the registry dropped this subscription's entry.
            _ = self.revoked.changed() => self.taken_over = true,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut live = self.engine.subscriptions.live.lock();
        if live.get(&self.key).is_some_and(|l| l.id == self.id) {
            live.remove(&self.key);
            drop(live);
            // A subscription taken over needs no word: the other nodes heard of the newer one.
            self.engine.announce_ended(&self.key, self.id);
        }
    }
}

impl Engine {
    fn consumer_arn_of(&self, key: &SubscriptionKey) -> String {
        let (stream, name, _) = key;
        match self.find_consumer(&ConsumerRef { stream: stream.clone(), name: name.clone(), created_secs: None }) {
            Ok(consumer) => self.consumer_arn(&consumer),
            Err(_) => format!("{}/consumer/{name}", self.stream_arn(stream)),
        }
    }

    /// Live subscriptions, for tests and metrics.
    pub fn live_subscriptions(&self) -> usize {
        self.subscriptions.live.lock().len()
    }

    /// Every live subscription's (stream, consumer name, shard index, milliseconds behind the
    /// tip at its last event).
    pub fn subscription_lags(&self) -> Vec<(StreamKey, String, u32, u64)> {
        let live = self.subscriptions.live.lock();
        live.iter().map(|((s, c, shard), l)| (s.clone(), c.clone(), *shard, l.lag_ms.load(Ordering::Relaxed))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::engine::hash::HashKey;
    use crate::engine::lifecycle::NewStream;
    use crate::engine::records::PutEntry;
    use crate::engine::test_key as k;
    use crate::store::memory::MemoryStore;

    /// No transition takes time: a stream and a consumer are ACTIVE once made.
    pub(super) fn config() -> EngineConfig {
        EngineConfig {
            create_stream_ms: 0,
            delete_stream_ms: 0,
            update_stream_ms: 0,
            consumer_create_ms: 0,
            consumer_delete_ms: 0,
            ..EngineConfig::default()
        }
    }

    async fn engine_with_consumer() -> (Arc<Engine>, ConsumerRef) {
        let engine = Engine::open(config(), Arc::new(MemoryStore::new())).await.unwrap();
        engine.create_stream(NewStream::provisioned(&k("s"), 1)).await.unwrap();
        engine.register_consumer(&k("s"), "c", Vec::new()).await.unwrap();
        (engine, ConsumerRef { stream: k("s"), name: "c".into(), created_secs: None })
    }

    async fn put(engine: &Engine, n: usize) {
        let entry = || PutEntry {
            partition_key: "k".into(),
            data: bytes::Bytes::from_static(b"x"),
            explicit_hash_key: Some(HashKey(0)),
        };
        engine.put_records(&k("s"), (0..n).map(|_| entry()).collect()).await.unwrap();
    }

    #[tokio::test]
    async fn a_write_wakes_the_subscriber_and_nothing_else_does() {
        let (engine, consumer) = engine_with_consumer().await;
        let mut sub = engine.subscribe(&consumer, "0", IteratorStart::Latest).await.unwrap();
        assert!(matches!(sub.next(100, 1 << 20).await.unwrap(), Delivery::Idle { .. }));
        // Nothing happens: the subscriber sleeps (no polling wakes it).
        assert!(tokio::time::timeout(Duration::from_millis(200), sub.changed()).await.is_err());
        let writer = engine.clone();
        tokio::spawn(async move { put(&writer, 3).await });
        tokio::time::timeout(Duration::from_secs(2), sub.changed()).await.expect("woken by the write");
        let mut got = 0;
        while got < 3 {
            match sub.next(100, 1 << 20).await.unwrap() {
                Delivery::Records { records, .. } => got += records.len(),
                _ => sub.changed().await,
            }
        }
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn one_subscription_per_consumer_and_shard_until_it_is_dropped() {
        let (engine, consumer) = engine_with_consumer().await;
        let first = engine.subscribe(&consumer, "0", IteratorStart::TrimHorizon).await.unwrap();
        let second = engine.subscribe(&consumer, "0", IteratorStart::TrimHorizon).await;
        assert!(matches!(second, Err(KinesisError::ResourceInUse(_))));
        assert_eq!(engine.live_subscriptions(), 1);
        drop(first);
        assert_eq!(engine.live_subscriptions(), 0);
        let _again = engine.subscribe(&consumer, "0", IteratorStart::TrimHorizon).await.unwrap();
    }

    #[tokio::test]
    async fn a_deregistered_consumer_ends_its_subscription() {
        let (engine, consumer) = engine_with_consumer().await;
        let mut sub = engine.subscribe(&consumer, "0", IteratorStart::TrimHorizon).await.unwrap();
        engine.deregister_consumer(&consumer).await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), sub.changed()).await.expect("woken by the catalog");
        assert!(matches!(sub.next(100, 1 << 20).await, Err(KinesisError::ResourceNotFound(_))));
    }

    #[tokio::test]
    async fn a_shard_closed_under_a_subscriber_ends_with_its_children() {
        let (engine, consumer) = engine_with_consumer().await;
        put(&engine, 2).await;
        let mut sub = engine.subscribe(&consumer, "0", IteratorStart::TrimHorizon).await.unwrap();
        assert!(
            matches!(sub.next(100, 1 << 20).await.unwrap(), Delivery::Records { records, .. } if records.len() == 2)
        );
        engine.split_shard(&k("s"), "0", &(1u128 << 127).to_string()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), sub.changed()).await.expect("woken by the catalog");
        match sub.next(100, 1 << 20).await.unwrap() {
            Delivery::End { children } => {
                let mut ids: Vec<u32> = children.iter().map(|c| c.index).collect();
                ids.sort();
                assert_eq!(ids, [1, 2]);
                assert!(children.iter().all(|c| c.parents == [0]));
            }
            _ => panic!("the closed shard did not end"),
        }
    }
}
