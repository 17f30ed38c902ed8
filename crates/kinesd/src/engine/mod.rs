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
#[cfg(test)]
mod cluster_tests;
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
use catalog::{Stream, StreamKey, StreamStatus};
use token::TokenSecret;

/// The catalog key of the secret that authenticates iterators and page tokens.
const SECRET_KEY: &str = "secret/tokens";
/// The catalog key of the account-level settings (UpdateAccountSettings) as kinesd wrote it
/// before accounts were kept apart: it belongs to the configured account and is moved to
/// `account/<account>/settings` when the catalog loads.
const LEGACY_ACCOUNT_KEY: &str = "account/settings";
/// Catalog keys of account settings are `account/<account>/settings`.
const ACCOUNT_PREFIX: &str = "account/";
const ACCOUNT_SUFFIX: &str = "/settings";
/// Catalog keys of streams are `stream/<account>/<name>` (names cannot hold a `/`). A key
/// `stream/<name>` is a stream written before accounts were kept apart; it is moved under its
/// account when the catalog loads.
const STREAM_PREFIX: &str = "stream/";
/// The longest a control-plane read waits for this node's catalog watch (`sync_catalog`).
const SYNC_WAIT_MS: u64 = 2_000;
/// Shard logs created concurrently by one CreateStream or reshard (see `allocate_logs`).
const LOG_CREATES_IN_FLIGHT: usize = 16;
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
    /// How long one hour of a retention period lasts when records are trimmed (a real hour,
    /// except in tests of retention: `--retention-hour-ms`).
    pub retention_hour_ms: u64,
    /// AWS's quotas, enforced when set (`--enforce-limits`).
    pub limits: Option<limits::LimitsConfig>,
    /// How long a new consumer stays CREATING, and a deregistered one DELETING.
    pub consumer_create_ms: u64,
    pub consumer_delete_ms: u64,
    /// How long a SubscribeToShard subscription lasts before it ends (AWS: 5 minutes).
    pub subscription_ms: u64,
    /// With a shared store: how long a node's claim on finishing a transition holds before
    /// another node may take it over (the claimant died). Longer than the slowest transition:
    /// a reshard creates one log per child.
    pub claim_lease_ms: u64,
    /// With a shared store: how long a log must stay unnamed by the catalog before it is
    /// deleted as an orphan. Another node creates a stream's logs before its catalog entry
    /// names them; this must be longer than the slowest CreateStream or reshard.
    pub orphan_grace_ms: u64,
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
            retention_hour_ms: 3_600_000,
            limits: None,
            consumer_create_ms: 500,
            consumer_delete_ms: 500,
            subscription_ms: 300_000,
            claim_lease_ms: 60_000,
            orphan_grace_ms: 600_000,
        }
    }
}

pub struct Engine {
    pub config: EngineConfig,
    /// AWS's quotas, when they are enforced.
    pub limits: Option<Arc<limits::Limits>>,
    store: Arc<dyn Store>,
    /// Every account's streams, ordered by account then name (so one account's streams are a
    /// contiguous range, listed in name order).
    streams: RwLock<BTreeMap<StreamKey, Arc<Stream>>>,
    /// Registered consumers by (stream key, consumer name): a stream's consumers are a
    /// contiguous range, listed in name order.
    consumers: RwLock<BTreeMap<(StreamKey, String), Arc<consumers::Consumer>>>,
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
    /// Each account's settings; an account absent here has the defaults.
    accounts: parking_lot::Mutex<std::collections::HashMap<String, account::AccountSettings>>,
    /// Closed shards whose records the retention task has already dropped entirely.
    fully_trimmed: parking_lot::Mutex<std::collections::HashSet<crate::store::LogId>>,
    /// The revision of every catalog entry as this engine last loaded or wrote it: each write
    /// expects it, so a write never silently replaces a change it has not seen.
    revisions: parking_lot::Mutex<std::collections::HashMap<String, Revision>>,
    /// Whether other nodes share the store (`Store::shared`): see `docs/cluster.md`.
    shared: bool,
    /// This engine's id in transition claims (random, new at every open).
    node: u64,
    /// With a shared store: logs no catalog entry named, and when this node first saw that;
    /// at most one entry per log in the store.
    orphans: parking_lot::Mutex<std::collections::HashMap<crate::store::LogId, u64>>,
    /// When the next orphan pass is due (shared stores only).
    orphans_due_ms: AtomicU64,
    /// How far the catalog watch has been applied (a store revision, see
    /// `Store::catalog_position`); reads wait on it in `sync_catalog`.
    watched: tokio::sync::watch::Sender<u64>,
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
        // Watched before the load, so that no change made by another node falls between them.
        let changes = store.watch_catalog().await?;
        // Everything up to here is in the load below, everything after comes through the
        // watch: this node has "seen" the catalog up to this position (see `sync_catalog`).
        let loaded_position = match store.catalog_position().await {
            Ok(position) => position.map_or(0, |r| r.0),
            Err(e) => {
                // Reads wait (up to SYNC_WAIT_MS each) until the watch brings the next change.
                tracing::warn!(error = %e, "catalog position unknown at start");
                0
            }
        };
        let shared = store.shared();
        let mut secret = None;
        let mut accounts = std::collections::HashMap::new();
        let mut streams = BTreeMap::new();
        let mut consumer_entries = Vec::new();
        let mut revisions = std::collections::HashMap::new();
        let mut legacy = Vec::new();
        for (key, value, revision) in store.catalog_load().await? {
            revisions.insert(key.clone(), revision);
            if let Some(account) = account_of_settings_key(&key) {
                let settings: account::AccountSettings = serde_json::from_slice(&value)
                    .map_err(|e| KinesisError::internal_failure_because(format!("corrupt account settings: {e}")))?;
                let account = account.unwrap_or(&config.account_id).to_owned();
                if key == LEGACY_ACCOUNT_KEY {
                    legacy.push((key.clone(), settings_key(&account), value.clone()));
                }
                // An entry already moved wins over a legacy one left by an interrupted move.
                if key != LEGACY_ACCOUNT_KEY || !accounts.contains_key(&account) {
                    accounts.insert(account, settings);
                }
            } else if key == SECRET_KEY {
                let bytes: [u8; 32] = value
                    .as_ref()
                    .try_into()
                    .map_err(|_| KinesisError::internal_failure_because("corrupt token secret"))?;
                secret = Some(TokenSecret::from_bytes(bytes));
            } else if let Some(path) = key.strip_prefix(STREAM_PREFIX) {
                let mut stream: Stream = serde_json::from_slice(&value).map_err(|e| {
                    KinesisError::internal_failure_because(format!("corrupt catalog entry {path}: {e}"))
                })?;
                if stream.account.is_empty() {
                    stream.account = config.account_id.clone();
                }
                let key_of_stream = stream_catalog_key(&stream.key());
                if key != key_of_stream {
                    // Written before accounts were kept apart: move it under its account.
                    let value = serde_json::to_vec(&stream).map_err(KinesisError::internal_failure_because)?;
                    legacy.push((key.clone(), key_of_stream, Bytes::from(value)));
                    if streams.contains_key(&stream.key()) {
                        continue;
                    }
                }
                streams.insert(stream.key(), Arc::new(stream));
            } else if key.starts_with(consumers::CONSUMER_PREFIX) {
                let mut consumer = consumers::decode(&key, &value)?;
                if consumer.account.is_empty() {
                    consumer.account = config.account_id.clone();
                }
                consumer_entries.push((key.clone(), consumer));
            }
        }
        // A consumer lives as long as the stream incarnation it was registered on; a crash
        // between removing the stream and its consumers leaves these behind.
        let mut registered = BTreeMap::new();
        let mut orphans = Vec::new();
        for (key, consumer) in consumer_entries {
            match streams.get(&consumer.stream_key()) {
                Some(s) if s.created_ms == consumer.stream_created_ms => {
                    let id = (consumer.stream_key(), consumer.name.clone());
                    let key_of_consumer = consumer.catalog_key();
                    if key != key_of_consumer {
                        // Written before accounts were kept apart: move it under its account.
                        let value = serde_json::to_vec(&consumer).map_err(KinesisError::internal_failure_because)?;
                        legacy.push((key.clone(), key_of_consumer, Bytes::from(value)));
                        // An entry already moved wins over a legacy one left by an interrupted move.
                        if registered.contains_key(&id) {
                            continue;
                        }
                    }
                    registered.insert(id, Arc::new(consumer));
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
        migrate_legacy_entries(store.as_ref(), &mut revisions, legacy).await?;
        let secret = match secret {
            Some(s) => s,
            None => {
                let s = TokenSecret::generate();
                let value = Bytes::copy_from_slice(s.as_bytes());
                match store.catalog_put(SECRET_KEY, value, Expect::Absent).await {
                    Ok(revision) => {
                        revisions.insert(SECRET_KEY.to_owned(), revision);
                        s
                    }
                    // Another node opening at the same time wrote its secret first: use it.
                    Err(StoreError::Conflict { .. }) if shared => {
                        let (value, revision) = store
                            .catalog_get(SECRET_KEY)
                            .await?
                            .ok_or_else(|| KinesisError::internal_failure_because("token secret vanished"))?;
                        let bytes: [u8; 32] = value
                            .as_ref()
                            .try_into()
                            .map_err(|_| KinesisError::internal_failure_because("corrupt token secret"))?;
                        revisions.insert(SECRET_KEY.to_owned(), revision);
                        TokenSecret::from_bytes(bytes)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let referenced: std::collections::HashSet<crate::store::LogId> =
            streams.values().flat_map(|s: &Arc<Stream>| s.shards.iter().map(|sh| sh.log)).collect();
        // With a shared store, a log no entry names may be one another node has just created
        // for a stream it is about to record: the orphan pass deletes it only after a grace
        // period (see `collect_orphans`).
        for log in if shared { Vec::new() } else { store.logs().await? } {
            if !referenced.contains(&log) {
                tracing::info!(log = log.0, "deleting a shard log no stream refers to");
                store.delete_log(log).await?;
            }
        }
        let last_created_ms = streams.values().map(|s: &Arc<Stream>| s.created_ms).max().unwrap_or(0);
        let engine = Arc::new(Engine {
            limits: config.limits.clone().map(|c| Arc::new(limits::Limits::new(c))),
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
            accounts: parking_lot::Mutex::new(accounts),
            fully_trimmed: parking_lot::Mutex::new(std::collections::HashSet::new()),
            revisions: parking_lot::Mutex::new(revisions),
            shared,
            node: rand::random(),
            orphans: parking_lot::Mutex::new(std::collections::HashMap::new()),
            orphans_due_ms: AtomicU64::new(if shared { 0 } else { u64::MAX }),
            watched: tokio::sync::watch::Sender::new(loaded_position),
        });
        if let Some(changes) = changes {
            tokio::spawn(follow_catalog(Arc::downgrade(&engine), changes));
        }
        // Nodes sharing a store share their limits' usage (approximately, see limits::gossip).
        if let (Some(limits), Some(bus)) = (&engine.limits, engine.store.peer_bus()) {
            tokio::spawn(limits::gossip::run(Arc::downgrade(limits), bus));
        }
        // And their subscriptions, for SubscribeToShard's in-use rule (see fanout::gossip).
        fanout::gossip::start(&engine).await;
        engine.advance().await?;
        Ok(engine)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }

    /// The key of stream `name` in the configured account (`--account-id`): the only account
    /// there is without `--credentials`.
    pub fn default_key(&self, name: &str) -> StreamKey {
        StreamKey::new(self.config.account_id.clone(), name)
    }

    /// A snapshot of one stream, after applying any transition that is due.
    pub async fn stream(&self, key: &StreamKey) -> Result<Arc<Stream>> {
        self.advance().await?;
        let known = self.streams.read().get(key).cloned();
        match known {
            Some(stream) if !self.shared || stream.status_until_ms == 0 || stream.status_until_ms > now_ms() => {
                return Ok(stream);
            }
            // Overdue and claimed by another node, which may have finished it a moment ago
            // (and told the client so): look at the catalog rather than answer the old state.
            Some(_) => {
                let _guard = self.control.lock().await;
                self.reload_entry(&stream_catalog_key(key)).await?;
            }
            None if self.shared => {
                let _guard = self.control.lock().await;
                self.read_through(key).await?;
            }
            None => {}
        }
        self.streams.read().get(key).cloned().ok_or_else(|| self.not_found(key))
    }

    /// With a shared store, waits (a little) until this node has applied every catalog change
    /// made, by any node, before the call: a read that follows another node's write then sees
    /// it. For control-plane reads (Describe*, List*): one request to the cluster, so the data
    /// plane does not pay it (it reads through on a miss instead). Bounded by `SYNC_WAIT_MS`;
    /// a watch that lags longer than that answers with what it has.
    pub async fn sync_catalog(&self) {
        if !self.shared {
            return;
        }
        let sync = async {
            let target = match self.store.catalog_position().await {
                Ok(Some(revision)) => revision.0,
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "catalog position unknown; answering with what this node has");
                    return;
                }
            };
            let mut watched = self.watched.subscribe();
            let _ = watched.wait_for(|w| *w >= target).await;
        };
        // The position request counts too: during an election of the catalog's leader it may
        // take seconds, and a read is better answered from this node's copy than held up.
        if tokio::time::timeout(std::time::Duration::from_millis(SYNC_WAIT_MS), sync).await.is_err() {
            tracing::debug!("the catalog watch lags; answering with what this node has");
        }
    }

    /// With a shared store, looks a stream this node does not know up in the catalog: another
    /// node may have created it a moment ago, before the catalog watch brought it here. Call
    /// with `control` held.
    async fn read_through(&self, key: &StreamKey) -> Result<()> {
        if self.shared && !self.streams.read().contains_key(key) {
            self.reload_entry(&stream_catalog_key(key)).await?;
        }
        Ok(())
    }

    /// Snapshots of one account's streams, in name order.
    pub async fn account_streams(&self, account: &str) -> Result<Vec<Arc<Stream>>> {
        self.advance().await?;
        Ok(self.streams_of(account))
    }

    /// One account's streams in the catalog as it is (no transition applied), in name order.
    fn streams_of(&self, account: &str) -> Vec<Arc<Stream>> {
        let from = StreamKey::new(account, "");
        self.streams.read().range(from..).take_while(|(k, _)| k.account == account).map(|(_, s)| s.clone()).collect()
    }

    /// Snapshots of all accounts' streams as they are in memory (no transition applied,
    /// nothing awaited), for metrics.
    pub fn streams_now(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    pub fn not_found(&self, key: &StreamKey) -> KinesisError {
        KinesisError::stream_not_found(&key.name, &key.account)
    }

    pub fn stream_arn(&self, key: &StreamKey) -> String {
        key.arn(&self.config.region)
    }

    /// Persists `stream` and publishes it to readers.
    async fn save(&self, stream: Stream) -> Result<Arc<Stream>> {
        let value = serde_json::to_vec(&stream).map_err(KinesisError::internal_failure_because)?;
        self.catalog_write(&stream_catalog_key(&stream.key()), Bytes::from(value)).await?;
        if stream.status_until_ms != 0 {
            self.schedule_transition(stream.status_until_ms);
        }
        let stream = Arc::new(stream);
        self.streams.write().insert(stream.key(), stream.clone());
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
        self.remove_consumers_of(&stream.key()).await?;
        self.catalog_remove(&stream_catalog_key(&stream.key())).await?;
        self.streams.write().remove(&stream.key());
        if let Some(limits) = &self.limits {
            limits.forget_stream(stream.created_ms, &stream.account, &stream.name);
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
            if self.shared {
                // Another node changed it first: an everyday race in a cluster.
                tracing::debug!(key, ?expected, ?found, "catalog entry changed by another node; reloading it");
            } else {
                tracing::error!(
                    key,
                    ?expected,
                    ?found,
                    "catalog entry changed behind this node's back (a bug with a single-node store); reloading it"
                );
            }
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
        if let Some(stream_key) = parse_stream_catalog_key(key) {
            match stored {
                Some((value, _)) => {
                    let mut stream: Stream = serde_json::from_slice(&value).map_err(corrupt)?;
                    stream.account = stream_key.account.clone();
                    let mut streams = self.streams.write();
                    // Snapshots of one incarnation share its write gate (see `WriteGate`).
                    if let Some(old) = streams.get(&stream_key).filter(|old| old.created_ms == stream.created_ms) {
                        stream.gate = old.gate.clone();
                        stream.meters = old.meters.clone();
                    }
                    if stream.status_until_ms != 0 {
                        self.schedule_transition(self.due_at(&stream));
                    }
                    self.last_created_ms.fetch_max(stream.created_ms, Ordering::AcqRel);
                    streams.insert(stream_key, Arc::new(stream));
                }
                None => {
                    // Deleted through another node: forget what this node kept about it too.
                    let removed = self.streams.write().remove(&stream_key);
                    if let Some(old) = removed {
                        if let Some(limits) = &self.limits {
                            limits.forget_stream(old.created_ms, &old.account, &old.name);
                        }
                        let mut trimmed = self.fully_trimmed.lock();
                        for shard in &old.shards {
                            trimmed.remove(&shard.log);
                        }
                    }
                }
            }
        } else if key.starts_with(consumers::CONSUMER_PREFIX) {
            let consumer = match stored {
                Some((value, _)) => Some(consumers::decode(key, &value)?),
                None => None,
            };
            self.replace_consumer_entry(key, consumer);
        } else if let Some(Some(account)) = account_of_settings_key(key) {
            let settings = match stored {
                Some((value, _)) => serde_json::from_slice(&value).map_err(corrupt)?,
                None => account::AccountSettings::default(),
            };
            self.accounts.lock().insert(account.to_owned(), settings);
        }
        self.catalog_changed();
        Ok(())
    }

    /// The stream as the control plane sees it; call with `control` held.
    fn current(&self, key: &StreamKey) -> Result<Arc<Stream>> {
        self.streams.read().get(key).cloned().ok_or_else(|| self.not_found(key))
    }

    /// Applies `change` to a copy of the stream and persists the result, all under the
    /// control lock after any due transition. Returns the saved stream and `change`'s value.
    async fn modify<R>(
        &self,
        key: &StreamKey,
        change: impl FnOnce(&mut Stream, u64) -> Result<R>,
    ) -> Result<(Arc<Stream>, R)> {
        // A change starts from every change other nodes made before it (cluster mode).
        self.sync_catalog().await;
        let _guard = self.control.lock().await;
        let now = now_ms();
        self.advance_locked(now).await?;
        self.read_through(key).await?;
        let current = self.current(key)?;
        let mut next = (*current).clone();
        let value = change(&mut next, now)?;
        let saved = if next == *current { current } else { self.save(next).await? };
        // A zero update delay ends UPDATING at once, before the caller answers.
        if saved.status == StreamStatus::Updating && saved.status_until_ms <= now {
            self.advance_locked(now).await?;
            return Ok((self.current(key)?, value));
        }
        Ok((saved, value))
    }

    /// AWS's answer to a change of a stream that is not ACTIVE.
    pub fn not_active(&self, stream: &Stream) -> KinesisError {
        KinesisError::stream_not_active(&stream.name, &stream.account, stream.status.as_str())
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

    /// Open shards of provisioned streams across the account, for its shard limit.
    fn account_open_shards(&self, account: &str) -> usize {
        self.streams_of(account).iter().map(|s| s.counted_shards()).sum()
    }

    /// AWS's LimitExceededException for a request that would pass the account's shard limit.
    fn shard_limit_exceeded(&self, account: &str, current: usize, additional: usize) -> KinesisError {
        KinesisError::shard_limit_exceeded(account, &self.config.region, current, self.config.shard_limit, additional)
    }

    /// A new, empty shard log. The store picks its id, one never used before (see
    /// `Store::create_log`).
    async fn allocate_log(&self) -> Result<crate::store::LogId> {
        Ok(self.store.create_log().await?)
    }

    /// `n` new, empty shard logs, in order of allocation, at most `LOG_CREATES_IN_FLIGHT`
    /// created at a time: an R3 JetStream stream takes about half a second to place and elect,
    /// so one after another a 100-shard stream would take nearly a minute. When one fails, the
    /// ones already made are left to the orphan clean-up.
    async fn allocate_logs(&self, n: usize) -> Result<Vec<crate::store::LogId>> {
        use futures_util::{StreamExt, TryStreamExt};
        futures_util::stream::iter((0..n).map(|_| self.allocate_log()))
            .buffered(LOG_CREATES_IN_FLIGHT)
            .try_collect()
            .await
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
        let due: Vec<Arc<Stream>> =
            self.streams.read().values().filter(|s| s.status_until_ms != 0 && self.due_at(s) <= now).cloned().collect();
        // With a shared store every node tries to finish every transition; the claim decides
        // which one does, and a lost race (a conflict) is no failure of this node's request:
        // it is logged and tried again a little later.
        let mut failed = false;
        for stream in due {
            let finished = match self.claim(&stream, now).await {
                Ok(Some(claimed)) => lifecycle::finish_transition(self, &claimed).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = finished {
                if !self.shared {
                    return Err(e);
                }
                tracing::info!(stream = %stream.name, error = %e, "transition not finished here; will look again");
                failed = true;
            }
        }
        let next_consumer = match self.finish_consumer_transitions(now).await {
            Ok(next) => next,
            Err(e) if self.shared => {
                tracing::info!(error = %e, "consumer transition not finished here; will look again");
                failed = true;
                u64::MAX
            }
            Err(e) => return Err(e),
        };
        let mut next = self
            .streams
            .read()
            .values()
            .filter(|s| s.status_until_ms != 0)
            .map(|s| self.due_at(s))
            .min()
            .unwrap_or(u64::MAX)
            .min(next_consumer);
        if failed {
            next = next.max(now + RETRY_MS);
        }
        self.next_transition_ms.store(next, Ordering::Release);
        Ok(())
    }

    /// When this node should next try to finish `stream`'s transition: at its deadline, or,
    /// while another node's claim holds, when the claim runs out.
    fn due_at(&self, stream: &Stream) -> u64 {
        match stream.claim {
            Some(claim) if self.shared && claim.node != self.node => stream.status_until_ms.max(claim.until_ms),
            _ => stream.status_until_ms,
        }
    }

    /// The stream with this node's claim on finishing its transition recorded (by
    /// compare-and-set, before any side effect), or None when another node got there first.
    /// Only a shared store needs claims; with one engine the stream is returned as it is.
    async fn claim(&self, stream: &Arc<Stream>, now: u64) -> Result<Option<Arc<Stream>>> {
        if !self.shared {
            return Ok(Some(stream.clone()));
        }
        let mut claimed = (**stream).clone();
        claimed.claim = Some(catalog::Claim { node: self.node, until_ms: now + self.config.claim_lease_ms });
        match self.save(claimed).await {
            Ok(claimed) => Ok(Some(claimed)),
            // A conflict reloaded the entry: the other node's claim or result is here now.
            Err(KinesisError::InternalFailure(_)) if self.stream_changed(stream) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the stream in memory is no longer the snapshot `stream` (it was reloaded).
    fn stream_changed(&self, stream: &Arc<Stream>) -> bool {
        self.streams.read().get(&stream.key()).is_none_or(|now| !Arc::ptr_eq(now, stream) && **now != **stream)
    }

    /// Applies one catalog change made by any node (see `follow_catalog`).
    async fn apply_catalog_event(&self, event: crate::store::CatalogEvent) -> Result<()> {
        let _guard = self.control.lock().await;
        match event {
            crate::store::CatalogEvent::Changed { key, revision, deleted } => {
                let known = self.revisions.lock().get(&key).copied();
                // This node's own write, or one it has already reloaded.
                if (!deleted && known == Some(revision)) || (deleted && known.is_none()) {
                    return Ok(());
                }
                self.reload_entry(&key).await
            }
            crate::store::CatalogEvent::Moved { .. } => Ok(()),
            crate::store::CatalogEvent::Resync => {
                let stored = self.store.catalog_load().await?;
                let mut stale: Vec<String> = self.revisions.lock().keys().cloned().collect();
                let live: std::collections::HashSet<&str> = stored.iter().map(|(k, _, _)| k.as_str()).collect();
                stale.retain(|k| !live.contains(k.as_str()));
                for (key, _, revision) in &stored {
                    if self.revisions.lock().get(key) != Some(revision) {
                        stale.push(key.clone());
                    }
                }
                for key in stale {
                    self.reload_entry(&key).await?;
                }
                Ok(())
            }
        }
    }

    /// With a shared store: deletes logs that no catalog entry has named for
    /// `orphan_grace_ms` (a crash between creating a log and recording it, or a transition
    /// attempt abandoned by a node that died, leaves them). The catalog is read afresh, not
    /// taken from memory, which may lag behind other nodes. Returns when the next pass is due.
    async fn collect_orphans(&self, now: u64) -> Result<u64> {
        let grace = self.config.orphan_grace_ms;
        let logs = self.store.logs().await?;
        let mut named = std::collections::HashSet::new();
        for (key, value, _) in self.store.catalog_load().await? {
            if key.starts_with(STREAM_PREFIX)
                && let Ok(stream) = serde_json::from_slice::<Stream>(&value)
            {
                named.extend(stream.shards.iter().map(|s| s.log));
            }
        }
        let expired: Vec<_> = {
            let mut orphans = self.orphans.lock();
            orphans.retain(|log, _| !named.contains(log) && logs.contains(log));
            for log in logs.iter().filter(|l| !named.contains(l)) {
                orphans.entry(*log).or_insert(now);
            }
            orphans.iter().filter(|(_, seen)| now.saturating_sub(**seen) >= grace).map(|(l, _)| *l).collect()
        };
        for log in expired {
            tracing::info!(log = log.0, "deleting a shard log no stream has named for the grace period");
            self.store.delete_log(log).await?;
            self.orphans.lock().remove(&log);
        }
        Ok(now + (grace / 2).max(100))
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
                if now >= engine.orphans_due_ms.load(Ordering::Acquire) {
                    let due = engine.collect_orphans(now).await.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "orphan log pass failed; will retry");
                        now + RETRY_MS.max(engine.config.orphan_grace_ms / 10)
                    });
                    engine.orphans_due_ms.store(due, Ordering::Release);
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
                    .min(engine.retention_due_ms.load(Ordering::Acquire))
                    .min(engine.orphans_due_ms.load(Ordering::Acquire));
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

/// Applies every catalog change the store reports (other nodes' creates, deletes, reshards,
/// settings, consumers) to the engine's maps, one at a time, until the engine is dropped. A
/// change that cannot be applied now (the store failing) is followed by a full reload.
async fn follow_catalog(
    engine: std::sync::Weak<Engine>,
    mut changes: tokio::sync::mpsc::Receiver<crate::store::CatalogEvent>,
) {
    let mut pending = None;
    loop {
        let event = match pending.take() {
            Some(event) => event,
            None => match changes.recv().await {
                Some(event) => event,
                None => return,
            },
        };
        let Some(engine) = engine.upgrade() else { return };
        let position = match &event {
            crate::store::CatalogEvent::Changed { revision, .. } | crate::store::CatalogEvent::Moved { revision } => {
                Some(revision.0)
            }
            crate::store::CatalogEvent::Resync => None,
        };
        match engine.apply_catalog_event(event).await {
            Ok(()) => {
                if let Some(position) = position {
                    engine.watched.send_if_modified(|w| std::mem::replace(w, (*w).max(position)) < position);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not apply a catalog change; reloading the catalog");
                pending = Some(crate::store::CatalogEvent::Resync);
                drop(engine);
                tokio::time::sleep(std::time::Duration::from_millis(RETRY_MS)).await;
            }
        }
    }
}

/// Stream `name` in the default configuration's account, for tests.
#[cfg(test)]
pub(crate) fn test_key(name: &str) -> StreamKey {
    StreamKey::new(EngineConfig::default().account_id, name)
}

/// The catalog key of a stream.
fn stream_catalog_key(key: &StreamKey) -> String {
    format!("{STREAM_PREFIX}{}/{}", key.account, key.name)
}

/// The stream a catalog key `stream/<account>/<name>` names.
fn parse_stream_catalog_key(key: &str) -> Option<StreamKey> {
    let (account, name) = key.strip_prefix(STREAM_PREFIX)?.split_once('/')?;
    Some(StreamKey::new(account, name))
}

/// The catalog key of an account's settings.
fn settings_key(account: &str) -> String {
    format!("{ACCOUNT_PREFIX}{account}{ACCOUNT_SUFFIX}")
}

/// Whether `key` holds account settings, and whose: `Some(None)` for the legacy key (the
/// configured account's), `Some(Some(account))` for `account/<account>/settings`.
fn account_of_settings_key(key: &str) -> Option<Option<&str>> {
    if key == LEGACY_ACCOUNT_KEY {
        return Some(None);
    }
    let account = key.strip_prefix(ACCOUNT_PREFIX)?.strip_suffix(ACCOUNT_SUFFIX)?;
    (!account.is_empty() && !account.contains('/')).then_some(Some(account))
}

/// Moves catalog entries written before accounts were kept apart to their account's keys: the
/// new entry is written first, then the old one deleted, so an interruption leaves both (the
/// next start finishes the move, the new entry winning) and never neither.
async fn migrate_legacy_entries(
    store: &dyn Store,
    revisions: &mut std::collections::HashMap<String, Revision>,
    moves: Vec<(String, String, Bytes)>,
) -> Result<()> {
    for (old, new, value) in moves {
        if !revisions.contains_key(&new) {
            let revision = store.catalog_put(&new, value, Expect::Absent).await?;
            revisions.insert(new.clone(), revision);
        }
        if let Some(revision) = revisions.remove(&old) {
            store.catalog_delete(&old, revision).await?;
        }
        tracing::info!(from = %old, to = %new, "catalog entry moved under its account");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::engine::lifecycle::NewStream;
    use crate::engine::test_key as k;
    use crate::store::memory::MemoryStore;

    /// Changes stream `name` in the store behind the engine's back, as another node would.
    async fn change_behind_its_back(store: &MemoryStore, name: &str, change: impl FnOnce(&mut Stream)) {
        let key = stream_catalog_key(&k(name));
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
        let new = NewStream::provisioned(&k("s"), 1);
        engine.create_stream(new).await.unwrap();
        let gate = engine.stream(&k("s")).await.unwrap().gate.0.clone();

        change_behind_its_back(&store, "s", |s| s.tags.push(tag("by", "other"))).await;
        let refused = engine.add_tags(&k("s"), vec![tag("mine", "1")]).await;
        assert!(matches!(refused, Err(KinesisError::InternalFailure(_))), "{refused:?}");
        // The entry was reloaded: the retry lands on top of the other writer's change.
        engine.add_tags(&k("s"), vec![tag("mine", "1")]).await.unwrap();
        let stream = engine.stream(&k("s")).await.unwrap();
        assert_eq!(stream.tags, [tag("by", "other"), tag("mine", "1")]);
        assert!(Arc::ptr_eq(&stream.gate.0, &gate), "a reloaded snapshot of the same stream shares its write gate");
        let (stored, _) = store.catalog_get(&stream_catalog_key(&k("s"))).await.unwrap().unwrap();
        assert_eq!(serde_json::from_slice::<Stream>(&stored).unwrap().tags, stream.tags);

        // Deletes are conditional too.
        change_behind_its_back(&store, "s", |s| s.tags.clear()).await;
        assert!(matches!(engine.delete_stream(&k("s")).await, Err(KinesisError::InternalFailure(_))));
        assert!(engine.stream(&k("s")).await.unwrap().tags.is_empty(), "reloaded");
        engine.delete_stream(&k("s")).await.unwrap();
        assert!(store.catalog_get(&stream_catalog_key(&k("s"))).await.unwrap().is_none());
        assert!(engine.stream(&k("s")).await.is_err());
    }

    /// The same name in two accounts is two streams: each account sees, changes and counts
    /// only its own, errors name the account asked about, and a restart keeps them apart.
    #[tokio::test]
    async fn accounts_are_kept_apart_and_stay_apart_across_a_restart() {
        let store = Arc::new(MemoryStore::new());
        let config = EngineConfig { create_stream_ms: 0, delete_stream_ms: 0, ..EngineConfig::default() };
        let engine = Engine::open(config.clone(), store.clone()).await.unwrap();
        let (a, b) = (StreamKey::new("111111111111", "s"), StreamKey::new("222222222222", "s"));
        engine.create_stream(NewStream::provisioned(&a, 2)).await.unwrap();
        assert!(
            matches!(engine.stream(&b).await, Err(KinesisError::ResourceNotFound(m)) if m == "Stream s under account 222222222222 not found.")
        );
        engine.create_stream(NewStream::provisioned(&b, 3)).await.unwrap();
        engine.add_tags(&b, vec![tag("owner", "b")]).await.unwrap();
        assert!(engine.stream(&a).await.unwrap().tags.is_empty());
        assert_eq!(engine.account_streams("111111111111").await.unwrap().len(), 1);
        assert_eq!(engine.limits("222222222222").await.unwrap().open_shard_count, 3);
        assert_eq!(engine.limits("111111111111").await.unwrap().open_shard_count, 2);
        assert_eq!(engine.limits("333333333333").await.unwrap().open_shard_count, 0);
        engine.update_commitment("111111111111", true).await.unwrap();
        assert_eq!(engine.account_commitment("222222222222").status, account::CommitmentStatus::Disabled);
        let it = engine.get_shard_iterator(&a, "0", records::IteratorStart::TrimHorizon).await.unwrap();
        assert_eq!(engine.iterator_target(&it), Some((a.clone(), 0)));
        assert_eq!(engine.stream_arn(&b), "arn:aws:kinesis:us-east-1:222222222222:stream/s");
        drop(engine);

        let engine = Engine::open(config, store.clone()).await.unwrap();
        assert_eq!(engine.stream(&a).await.unwrap().open_shard_count(), 2);
        assert_eq!(engine.stream(&b).await.unwrap().tags, [tag("owner", "b")]);
        assert_eq!(engine.account_commitment("111111111111").status, account::CommitmentStatus::Enabled);
        assert_eq!(engine.account_commitment("222222222222").status, account::CommitmentStatus::Disabled);
        engine.delete_stream(&a).await.unwrap();
        assert!(engine.stream(&a).await.is_err());
        assert!(engine.stream(&b).await.is_ok());
    }

    /// A catalog written before accounts were kept apart (`stream/<name>`, `account/settings`,
    /// streams without an account) opens with everything in the configured account, and is moved
    /// to the new keys; a move interrupted half-way (both keys present) finishes, the new one
    /// winning.
    #[tokio::test]
    async fn a_catalog_written_before_accounts_opens_in_the_configured_account() {
        let store = Arc::new(MemoryStore::new());
        let config = EngineConfig { create_stream_ms: 0, account_id: "123456789012".into(), ..EngineConfig::default() };
        let key = StreamKey::new("123456789012", "old");
        {
            let engine = Engine::open(config.clone(), store.clone()).await.unwrap();
            engine.create_stream(NewStream::provisioned(&key, 1)).await.unwrap();
            engine.add_tags(&key, vec![tag("v", "new")]).await.unwrap();
            engine.update_commitment("123456789012", true).await.unwrap();
        }
        // Rewrite the entries as the previous release wrote them.
        let (value, revision) = store.catalog_get(&stream_catalog_key(&key)).await.unwrap().unwrap();
        let mut legacy: serde_json::Value = serde_json::from_slice(&value).unwrap();
        legacy.as_object_mut().unwrap().remove("account");
        legacy["tags"] = serde_json::json!([["v", "legacy"]]);
        let legacy = Bytes::from(serde_json::to_vec(&legacy).unwrap());
        store.catalog_put("stream/old", legacy.clone(), Expect::Absent).await.unwrap();
        store.catalog_delete(&stream_catalog_key(&key), revision).await.unwrap();
        let (settings, revision) = store.catalog_get(&settings_key("123456789012")).await.unwrap().unwrap();
        store.catalog_put(LEGACY_ACCOUNT_KEY, settings, Expect::Absent).await.unwrap();
        store.catalog_delete(&settings_key("123456789012"), revision).await.unwrap();

        let engine = Engine::open(config.clone(), store.clone()).await.unwrap();
        let stream = engine.stream(&key).await.unwrap();
        assert_eq!((stream.account.as_str(), stream.open_shard_count()), ("123456789012", 1));
        assert_eq!(stream.tags, [tag("v", "legacy")]);
        assert_eq!(engine.account_commitment("123456789012").status, account::CommitmentStatus::Enabled);
        assert!(store.catalog_get("stream/old").await.unwrap().is_none(), "moved");
        assert!(store.catalog_get(LEGACY_ACCOUNT_KEY).await.unwrap().is_none(), "moved");
        engine.add_tags(&key, vec![tag("after", "move")]).await.unwrap();
        drop(engine);

        // An interrupted move: the legacy entry is back beside the moved one, which wins.
        store.catalog_put("stream/old", legacy, Expect::Absent).await.unwrap();
        let engine = Engine::open(config, store.clone()).await.unwrap();
        assert_eq!(engine.stream(&key).await.unwrap().tags, [tag("v", "legacy"), tag("after", "move")]);
        assert!(store.catalog_get("stream/old").await.unwrap().is_none());
        assert_eq!(engine.account_streams("123456789012").await.unwrap().len(), 1);
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
        engine.create_stream(NewStream::provisioned(&k("s"), 2)).await.unwrap();
        assert_eq!(store.logs().await.unwrap().len(), 2);
        // Let the ticker go to sleep until the (hour-long) retention deadline.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let deleted = Instant::now();
        engine.delete_stream(&k("s")).await.unwrap();
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
