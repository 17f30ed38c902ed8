//! The engine: streams, shards, hash routing, sequence numbers, iterators and state
//! transitions. It knows nothing of HTTP, JSON or CBOR; it speaks in domain types and
//! [`KinesisError`]s, and keeps its state in a [`Store`].
//!
//! Concurrency: the catalog is one in-memory map behind a read/write lock, read by the data
//! plane and changed by the control plane, which is serialised by `control` and persists every
//! change before answering. Records never pass through the catalog lock's write side.

pub mod account;
pub mod catalog;
pub mod claim;
pub mod consumers;
pub mod fanout;
pub mod hash;
pub mod lifecycle;
pub mod limits;
pub mod meters;
pub mod plan;
pub mod records;
pub mod reshard;
pub mod retention;
pub mod sequence;
pub mod settings;
pub mod tags;
pub mod token;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::{KinesisError, Result};
use crate::store::{Expect, Revision, Store, StoreError};
use catalog::{Stream, StreamStatus};
use token::TokenSecret;

/// The catalog key of the secret that authenticates iterators and page tokens.
const SECRET_KEY: &str = "secret/tokens";
/// The catalog key of the account-level settings (UpdateAccountSettings).
const ACCOUNT_KEY: &str = "account/settings";
/// Catalog keys of streams are `stream/<name>`.
const STREAM_PREFIX: &str = "stream/";
/// How long the ticker waits before retrying a transition that failed (a store error).
const RETRY_MS: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account_id: String,
    pub create_stream_ms: u64,
    pub delete_stream_ms: u64,
    pub update_stream_ms: u64,
    pub shard_limit: u32,
    pub on_demand_stream_limit: u32,
    pub iterator_ttl_ms: u64,
    /// The least time between two retention passes: expired records are dropped at most this
    /// long after they expire, and a stream written continuously (whose oldest record expires
    /// every moment) costs one pass per interval, not one per record.
    pub retention_interval_ms: u64,
    /// AWS's quotas, enforced when set (`--enforce-limits`).
    pub limits: Option<limits::LimitsConfig>,
    /// How long a new consumer stays CREATING, and a deregistered one DELETING.
    pub consumer_create_ms: u64,
    pub consumer_delete_ms: u64,
    /// How long a SubscribeToShard subscription lasts before it ends (AWS: 5 minutes).
    pub subscription_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            create_stream_ms: 500,
            delete_stream_ms: 500,
            update_stream_ms: 500,
            shard_limit: 500,
            on_demand_stream_limit: 50,
            iterator_ttl_ms: 300_000,
            retention_interval_ms: 5_000,
            limits: None,
            consumer_create_ms: 500,
            consumer_delete_ms: 500,
            subscription_ms: 300_000,
        }
    }
}

pub struct Engine {
    pub config: EngineConfig,
    /// AWS's quotas, when they are enforced.
    pub limits: Option<limits::Limits>,
    store: Arc<dyn Store>,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// Registered consumers by (stream, consumer name).
    consumers: RwLock<BTreeMap<(String, String), Arc<consumers::Consumer>>>,
    /// Moves on every change of the catalog in memory, so that live subscriptions notice a
    /// closed shard, a deleted stream or a deregistered consumer without polling.
    catalog_version: tokio::sync::watch::Sender<u64>,
    /// The live SubscribeToShard subscriptions, one per consumer and shard.
    subscriptions: fanout::Registry,
    secret: TokenSecret,
    /// Serialises control-plane changes so that each is persisted before the next begins.
    control: tokio::sync::Mutex<()>,
    /// The earliest `status_until_ms` of any stream in transition (u64::MAX when none).
    next_transition_ms: AtomicU64,
    /// The latest creation time (incarnation) given to a stream; `create_stream` holds the
    /// control lock, so a plain load and store suffice.
    last_created_ms: AtomicU64,
    /// When the next record or closed shard expires (see `trim_expired`); 0 until the first pass.
    retention_due_ms: AtomicU64,
    /// Wakes the ticker when a transition or a retention pass is scheduled earlier than the
    /// deadline it sleeps for.
    rescheduled: Arc<tokio::sync::Notify>,
    iterator_nonce: std::sync::atomic::AtomicU32,
    account: parking_lot::Mutex<account::AccountSettings>,
    /// Closed shards whose records the retention task has already dropped entirely.
    fully_trimmed: parking_lot::Mutex<std::collections::HashSet<crate::store::LogId>>,
    /// The revision of every catalog entry as this engine last loaded or wrote it: each write
    /// expects it, so a write never silently replaces a change it has not seen.
    revisions: parking_lot::Mutex<std::collections::HashMap<String, Revision>>,
}

/// A store failure reaches the client as AWS's InternalFailure; what went wrong is logged here,
/// where the engine turns store results into AWS's answers.
impl From<crate::store::StoreError> for KinesisError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        KinesisError::internal_failure()
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Engine {
    /// Loads the catalog from `store` (creating the token secret on first start).
    pub async fn open(config: EngineConfig, store: Arc<dyn Store>) -> Result<Arc<Engine>> {
        let mut secret = None;
        let mut account = account::AccountSettings::default();
        let mut streams = BTreeMap::new();
        let mut consumer_entries = Vec::new();
        let mut revisions = std::collections::HashMap::new();
        for (key, value, revision) in store.catalog_load().await? {
            revisions.insert(key.clone(), revision);
            if key == ACCOUNT_KEY {
                account = serde_json::from_slice(&value)
                    .map_err(|e| KinesisError::internal_failure_because(format!("corrupt account settings: {e}")))?;
            } else if key == SECRET_KEY {
                let bytes: [u8; 32] = value
                    .as_ref()
                    .try_into()
                    .map_err(|_| KinesisError::internal_failure_because("corrupt token secret"))?;
                secret = Some(TokenSecret::from_bytes(bytes));
            } else if let Some(name) = key.strip_prefix(STREAM_PREFIX) {
                let stream: Stream = serde_json::from_slice(&value).map_err(|e| {
                    KinesisError::internal_failure_because(format!("corrupt catalog entry {name}: {e}"))
                })?;
                streams.insert(name.to_owned(), Arc::new(stream));
            } else if key.starts_with(consumers::CONSUMER_PREFIX) {
                consumer_entries.push((key.clone(), consumers::decode(&key, &value)?));
            }
        }
        // A consumer lives as long as the stream incarnation it was registered on; a crash
        // between removing the stream and its consumers leaves these behind.
        let mut registered = BTreeMap::new();
        let mut orphans = Vec::new();
        for (key, consumer) in consumer_entries {
            match streams.get(&consumer.stream) {
                Some(s) if s.created_ms == consumer.stream_created_ms => {
                    registered.insert((consumer.stream.clone(), consumer.name.clone()), Arc::new(consumer));
                }
                _ => orphans.push(key),
            }
        }
        for key in orphans {
            if let Some(revision) = revisions.remove(&key) {
                tracing::info!(key, "deleting a consumer whose stream is gone");
                store.catalog_delete(&key, revision).await?;
            }
        }
        let secret = match secret {
            Some(s) => s,
            None => {
                let s = TokenSecret::generate();
                let value = Bytes::copy_from_slice(s.as_bytes());
                let revision = store.catalog_put(SECRET_KEY, value, Expect::Absent).await?;
                revisions.insert(SECRET_KEY.to_owned(), revision);
                s
            }
        };
        let referenced: std::collections::HashSet<crate::store::LogId> =
            streams.values().flat_map(|s: &Arc<Stream>| s.shards.iter().map(|sh| sh.log)).collect();
        for log in store.logs().await? {
            if !referenced.contains(&log) {
                tracing::info!(log = log.0, "deleting a shard log no stream refers to");
                store.delete_log(log).await?;
            }
        }
        let last_created_ms = streams.values().map(|s: &Arc<Stream>| s.created_ms).max().unwrap_or(0);
        let engine = Arc::new(Engine {
            limits: config.limits.clone().map(limits::Limits::new),
            config,
            store,
            streams: RwLock::new(streams),
            consumers: RwLock::new(registered),
            catalog_version: tokio::sync::watch::Sender::new(0),
            subscriptions: fanout::Registry::default(),
            secret,
            control: tokio::sync::Mutex::new(()),
            next_transition_ms: AtomicU64::new(0),
            last_created_ms: AtomicU64::new(last_created_ms),
            retention_due_ms: AtomicU64::new(0),
            rescheduled: Arc::new(tokio::sync::Notify::new()),
            iterator_nonce: std::sync::atomic::AtomicU32::new(rand::random()),
            account: parking_lot::Mutex::new(account),
            fully_trimmed: parking_lot::Mutex::new(std::collections::HashSet::new()),
            revisions: parking_lot::Mutex::new(revisions),
        });
        engine.advance().await?;
        Ok(engine)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }

    /// A snapshot of one stream, after applying any transition that is due.
    pub async fn stream(&self, name: &str) -> Result<Arc<Stream>> {
        self.advance().await?;
        self.streams.read().get(name).cloned().ok_or_else(|| self.not_found(name))
    }

    /// Snapshots of all streams, in name order.
    pub async fn all_streams(&self) -> Result<Vec<Arc<Stream>>> {
        self.advance().await?;
        Ok(self.streams.read().values().cloned().collect())
    }

    /// Snapshots of all streams as they are in memory (no transition applied, nothing
    /// awaited), for metrics.
    pub fn streams_now(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    pub fn not_found(&self, name: &str) -> KinesisError {
        KinesisError::stream_not_found(name, &self.config.account_id)
    }

    pub fn stream_arn(&self, name: &str) -> String {
        format!("arn:aws:kinesis:{}:{}:stream/{name}", self.config.region, self.config.account_id)
    }

    /// Persists `stream` and publishes it to readers.
    async fn save(&self, stream: Stream) -> Result<Arc<Stream>> {
        let value = serde_json::to_vec(&stream).map_err(KinesisError::internal_failure_because)?;
        self.catalog_write(&format!("{STREAM_PREFIX}{}", stream.name), Bytes::from(value)).await?;
        if stream.status_until_ms != 0 {
            self.schedule_transition(stream.status_until_ms);
        }
        let stream = Arc::new(stream);
        self.streams.write().insert(stream.name.clone(), stream.clone());
        self.catalog_changed();
        Ok(stream)
    }

    /// Tells live subscriptions that the catalog in memory changed.
    fn catalog_changed(&self) {
        self.catalog_version.send_modify(|v| *v += 1);
    }

    /// A watch that moves on every catalog change (see `catalog_version`).
    pub fn watch_catalog(&self) -> tokio::sync::watch::Receiver<u64> {
        self.catalog_version.subscribe()
    }

    async fn remove(&self, stream: &Stream) -> Result<()> {
        self.remove_consumers_of(&stream.name).await?;
        self.catalog_remove(&format!("{STREAM_PREFIX}{}", stream.name)).await?;
        self.streams.write().remove(&stream.name);
        if let Some(limits) = &self.limits {
            limits.forget_stream(stream.created_ms, &stream.name);
        }
        self.catalog_changed();
        for shard in &stream.shards {
            self.store.delete_log(shard.log).await?;
            self.fully_trimmed.lock().remove(&shard.log);
        }
        Ok(())
    }

    /// Writes one catalog entry over the revision this engine last saw of it (or creates it if
    /// it has seen none); call with `control` held.
    async fn catalog_write(&self, key: &str, value: Bytes) -> Result<()> {
        let expect = self.revisions.lock().get(key).map_or(Expect::Absent, |r| Expect::Revision(*r));
        match self.store.catalog_put(key, value, expect).await {
            Ok(revision) => {
                self.revisions.lock().insert(key.to_owned(), revision);
                Ok(())
            }
            Err(e) => Err(self.catalog_failed(key, e).await),
        }
    }

    /// Deletes one catalog entry at the revision this engine last saw; call with `control` held.
    async fn catalog_remove(&self, key: &str) -> Result<()> {
        let Some(revision) = self.revisions.lock().get(key).copied() else {
            // Never written or already gone: there is nothing of ours to delete.
            return Ok(());
        };
        match self.store.catalog_delete(key, revision).await {
            Ok(()) => {
                self.revisions.lock().remove(key);
                Ok(())
            }
            Err(e) => Err(self.catalog_failed(key, e).await),
        }
    }

    /// The error a failed catalog write answers with. A conflict means the entry changed
    /// behind this engine's back: with one node per store that is a bug, so it is logged as
    /// one. The entry is reloaded either way, so that a retry of the request (the SDKs retry
    /// InternalFailure) starts from what is really stored; that is also all a shared
    /// (clustered) catalog needs to recover from losing a race.
    async fn catalog_failed(&self, key: &str, e: StoreError) -> KinesisError {
        if let StoreError::Conflict { expected, found, .. } = &e {
            tracing::error!(
                key,
                ?expected,
                ?found,
                "catalog entry changed behind this node's back (a bug with a single-node store); reloading it"
            );
            if let Err(e) = self.reload_entry(key).await {
                tracing::error!(key, error = %e, "could not reload the catalog entry");
            }
            return KinesisError::internal_failure();
        }
        e.into()
    }

    /// Replaces this engine's copy of one catalog entry (and its revision) with the stored one;
    /// call with `control` held.
    async fn reload_entry(&self, key: &str) -> Result<()> {
        let stored = self.store.catalog_get(key).await?;
        let corrupt =
            |e: serde_json::Error| KinesisError::internal_failure_because(format!("corrupt catalog entry {key}: {e}"));
        match &stored {
            Some((_, revision)) => self.revisions.lock().insert(key.to_owned(), *revision),
            None => self.revisions.lock().remove(key),
        };
        if let Some(name) = key.strip_prefix(STREAM_PREFIX) {
            match stored {
                Some((value, _)) => {
                    let mut stream: Stream = serde_json::from_slice(&value).map_err(corrupt)?;
                    let mut streams = self.streams.write();
                    // Snapshots of one incarnation share its write gate (see `WriteGate`).
                    if let Some(old) = streams.get(name).filter(|old| old.created_ms == stream.created_ms) {
                        stream.gate = old.gate.clone();
                        stream.meters = old.meters.clone();
                    }
                    if stream.status_until_ms != 0 {
                        self.schedule_transition(stream.status_until_ms);
                    }
                    streams.insert(name.to_owned(), Arc::new(stream));
                }
                None => {
                    self.streams.write().remove(name);
                }
            }
        } else if key.starts_with(consumers::CONSUMER_PREFIX) {
            let consumer = match stored {
                Some((value, _)) => Some(consumers::decode(key, &value)?),
                None => None,
            };
            self.replace_consumer_entry(key, consumer);
        } else if key == ACCOUNT_KEY {
            let settings = match stored {
                Some((value, _)) => serde_json::from_slice(&value).map_err(corrupt)?,
                None => account::AccountSettings::default(),
            };
            *self.account.lock() = settings;
        }
        self.catalog_changed();
        Ok(())
    }

    /// The stream as the control plane sees it; call with `control` held.
    fn current(&self, name: &str) -> Result<Arc<Stream>> {
        self.streams.read().get(name).cloned().ok_or_else(|| self.not_found(name))
    }

    /// Applies `change` to a copy of the stream and persists the result, all under the
    /// control lock after any due transition. Returns the saved stream and `change`'s value.
    async fn modify<R>(
        &self,
        name: &str,
        change: impl FnOnce(&mut Stream, u64) -> Result<R>,
    ) -> Result<(Arc<Stream>, R)> {
        let _guard = self.control.lock().await;
        let now = now_ms();
        self.advance_locked(now).await?;
        let current = self.current(name)?;
        let mut next = (*current).clone();
        let value = change(&mut next, now)?;
        let saved = if next == *current { current } else { self.save(next).await? };
        // A zero update delay ends UPDATING at once, before the caller answers.
        if saved.status == StreamStatus::Updating && saved.status_until_ms <= now {
            self.advance_locked(now).await?;
            return Ok((self.current(name)?, value));
        }
        Ok((saved, value))
    }

    /// AWS's answer to a change of a stream that is not ACTIVE.
    pub fn not_active(&self, stream: &Stream) -> KinesisError {
        KinesisError::stream_not_active(&stream.name, &self.config.account_id, stream.status.as_str())
    }

    /// Settings (tags, retention, metrics, policies) may change while a stream is ACTIVE or
    /// UPDATING, not while it is being created or deleted.
    fn require_settled(&self, stream: &Stream) -> Result<()> {
        match stream.status {
            StreamStatus::Active | StreamStatus::Updating => Ok(()),
            StreamStatus::Creating | StreamStatus::Deleting => Err(self.not_active(stream)),
        }
    }

    /// Puts an ACTIVE stream into UPDATING until `change` takes effect.
    fn begin_update(&self, stream: &mut Stream, now: u64, change: catalog::PendingChange) -> Result<()> {
        if stream.status != StreamStatus::Active {
            return Err(self.not_active(stream));
        }
        stream.status = StreamStatus::Updating;
        stream.status_until_ms = now + self.config.update_stream_ms;
        stream.pending = Some(change);
        Ok(())
    }

    /// Open shards of provisioned streams across the account, for the shard limit.
    fn account_open_shards(&self) -> usize {
        self.streams.read().values().map(|s| s.counted_shards()).sum()
    }

    /// AWS's LimitExceededException for a request that would pass the account's shard limit.
    fn shard_limit_exceeded(&self, current: usize, additional: usize) -> KinesisError {
        KinesisError::shard_limit_exceeded(
            &self.config.account_id,
            &self.config.region,
            current,
            self.config.shard_limit,
            additional,
        )
    }

    /// A new, empty shard log. The store picks its id, one never used before (see
    /// `Store::create_log`).
    async fn allocate_log(&self) -> Result<crate::store::LogId> {
        Ok(self.store.create_log().await?)
    }

    /// Makes sure the ticker applies a transition at `at_ms`, waking it if it sleeps longer.
    fn schedule_transition(&self, at_ms: u64) {
        if self.next_transition_ms.fetch_min(at_ms, Ordering::AcqRel) > at_ms {
            self.rescheduled.notify_one();
        }
    }

    /// Makes sure the ticker runs a retention pass at `at_ms`, waking it if it sleeps longer.
    fn schedule_retention(&self, at_ms: u64) {
        if self.retention_due_ms.fetch_min(at_ms, Ordering::AcqRel) > at_ms {
            self.rescheduled.notify_one();
        }
    }

    /// Applies every state transition whose time has come. Cheap when none is due.
    pub async fn advance(&self) -> Result<()> {
        let now = now_ms();
        if now < self.next_transition_ms.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.control.lock().await;
        self.advance_locked(now).await
    }

    async fn advance_locked(&self, now: u64) -> Result<()> {
        let due: Vec<Arc<Stream>> = self
            .streams
            .read()
            .values()
            .filter(|s| s.status_until_ms != 0 && s.status_until_ms <= now)
            .cloned()
            .collect();
        for stream in due {
            lifecycle::finish_transition(self, &stream).await?;
        }
        let next_consumer = self.finish_consumer_transitions(now).await?;
        let next = self
            .streams
            .read()
            .values()
            .filter(|s| s.status_until_ms != 0)
            .map(|s| s.status_until_ms)
            .min()
            .unwrap_or(u64::MAX)
            .min(next_consumer);
        self.next_transition_ms.store(next, Ordering::Release);
        Ok(())
    }

    /// Runs state transitions in the background the moment they are due (so that deleted
    /// streams free their space promptly even when no request comes), and retention passes when
    /// records expire (see `trim_expired`), at most one per `retention_interval_ms`. Sleeps until
    /// the earlier of the two deadlines; a deadline that moves earlier wakes it at once.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let rescheduled = self.rescheduled.clone();
        tokio::spawn(async move {
            loop {
                let Some(engine) = weak.upgrade() else { return };
                let now = now_ms();
                if now >= engine.next_transition_ms.load(Ordering::Acquire)
                    && let Err(e) = engine.advance().await
                {
                    tracing::warn!(error = %e, "state transition failed; will retry");
                    // Not at once: a failing store would otherwise be retried in a busy loop.
                    engine.next_transition_ms.fetch_max(now + RETRY_MS, Ordering::AcqRel);
                }
                if now >= engine.retention_due_ms.load(Ordering::Acquire) {
                    // Claimed for this pass; a decrease while it runs lowers it again.
                    engine.retention_due_ms.store(u64::MAX, Ordering::Release);
                    let earliest = now + engine.config.retention_interval_ms.max(1);
                    let due = match engine.trim_expired(now).await {
                        Ok(next) => next.max(earliest),
                        Err(e) => {
                            tracing::warn!(error = %e, "retention trim failed; will retry");
                            earliest
                        }
                    };
                    engine.retention_due_ms.fetch_min(due, Ordering::AcqRel);
                }
                let deadline = engine
                    .next_transition_ms
                    .load(Ordering::Acquire)
                    .min(engine.retention_due_ms.load(Ordering::Acquire));
                // Holding no strong reference while asleep lets the engine be dropped.
                drop(engine);
                let sleep = std::time::Duration::from_millis(deadline.saturating_sub(now_ms()));
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {}
                    () = rescheduled.notified() => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::engine::lifecycle::NewStream;
    use crate::store::memory::MemoryStore;

    /// Changes stream `name` in the store behind the engine's back, as another node would.
    async fn change_behind_its_back(store: &MemoryStore, name: &str, change: impl FnOnce(&mut Stream)) {
        let key = format!("{STREAM_PREFIX}{name}");
        let (value, revision) = store.catalog_get(&key).await.unwrap().unwrap();
        let mut stream: Stream = serde_json::from_slice(&value).unwrap();
        change(&mut stream);
        let value = Bytes::from(serde_json::to_vec(&stream).unwrap());
        store.catalog_put(&key, value, Expect::Revision(revision)).await.unwrap();
    }

    fn tag(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[tokio::test]
    async fn a_catalog_conflict_fails_the_request_and_the_retry_starts_from_what_is_stored() {
        let store = Arc::new(MemoryStore::new());
        let config = EngineConfig { create_stream_ms: 0, delete_stream_ms: 0, ..EngineConfig::default() };
        let engine = Engine::open(config, store.clone()).await.unwrap();
        let new = NewStream::provisioned("s", 1);
        engine.create_stream(new).await.unwrap();
        let gate = engine.stream("s").await.unwrap().gate.0.clone();

        change_behind_its_back(&store, "s", |s| s.tags.push(tag("by", "other"))).await;
        let refused = engine.add_tags("s", vec![tag("mine", "1")]).await;
        assert!(matches!(refused, Err(KinesisError::InternalFailure(_))), "{refused:?}");
        // The entry was reloaded: the retry lands on top of the other writer's change.
        engine.add_tags("s", vec![tag("mine", "1")]).await.unwrap();
        let stream = engine.stream("s").await.unwrap();
        assert_eq!(stream.tags, [tag("by", "other"), tag("mine", "1")]);
        assert!(Arc::ptr_eq(&stream.gate.0, &gate), "a reloaded snapshot of the same stream shares its write gate");
        let (stored, _) = store.catalog_get("stream/s").await.unwrap().unwrap();
        assert_eq!(serde_json::from_slice::<Stream>(&stored).unwrap().tags, stream.tags);

        // Deletes are conditional too.
        change_behind_its_back(&store, "s", |s| s.tags.clear()).await;
        assert!(matches!(engine.delete_stream("s").await, Err(KinesisError::InternalFailure(_))));
        assert!(engine.stream("s").await.unwrap().tags.is_empty(), "reloaded");
        engine.delete_stream("s").await.unwrap();
        assert!(store.catalog_get("stream/s").await.unwrap().is_none());
        assert!(engine.stream("s").await.is_err());
    }

    /// The ticker applies a transition when it is due, with no request to trigger it: a deleted
    /// stream's logs leave the store although nothing reads the engine, and a transition
    /// scheduled while the ticker sleeps for a far deadline still happens on time.
    #[tokio::test]
    async fn transitions_happen_on_their_deadline_without_requests() {
        let config = EngineConfig {
            create_stream_ms: 0,
            delete_stream_ms: 150,
            retention_interval_ms: 3_600_000,
            ..EngineConfig::default()
        };
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let engine = Engine::open(config, store.clone()).await.unwrap();
        let ticker = engine.spawn_ticker();
        engine.create_stream(NewStream::provisioned("s", 2)).await.unwrap();
        assert_eq!(store.logs().await.unwrap().len(), 2);
        // Let the ticker go to sleep until the (hour-long) retention deadline.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let deleted = Instant::now();
        engine.delete_stream("s").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !store.logs().await.unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the deleted stream's logs are still there after 5 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(deleted.elapsed() >= Duration::from_millis(150), "deleted before DELETING ended");
        assert!(engine.streams.read().is_empty());
        ticker.abort();
    }
}
