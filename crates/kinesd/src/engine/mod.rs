//! The engine: streams, shards, hash routing, sequence numbers, iterators and state
//! transitions. It knows nothing of HTTP, JSON or CBOR; it speaks in domain types and
//! [`KinesisError`]s, and keeps its state in a [`Store`].
//!
//! Concurrency: the catalog is one in-memory map behind a read/write lock, read by the data
//! plane and changed by the control plane, which is serialised by `control` and persists every
//! change before answering. Records never pass through the catalog lock's write side.

pub mod catalog;
pub mod hash;
pub mod lifecycle;
pub mod records;
pub mod sequence;
pub mod token;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::{KinesisError, Result};
use crate::store::Store;
use catalog::Stream;
use token::TokenSecret;

/// The catalog key of the secret that authenticates iterators and page tokens.
const SECRET_KEY: &str = "secret/tokens";
/// Catalog keys of streams are `stream/<name>`.
const STREAM_PREFIX: &str = "stream/";

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
        }
    }
}

pub struct Engine {
    pub config: EngineConfig,
    store: Arc<dyn Store>,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    secret: TokenSecret,
    /// Serialises control-plane changes so that each is persisted before the next begins.
    control: tokio::sync::Mutex<()>,
    /// The earliest `status_until_ms` of any stream in transition (u64::MAX when none).
    next_transition_ms: AtomicU64,
    next_log_id: AtomicU64,
    iterator_nonce: std::sync::atomic::AtomicU32,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Engine {
    /// Loads the catalog from `store` (creating the token secret on first start).
    pub async fn open(config: EngineConfig, store: Arc<dyn Store>) -> Result<Arc<Engine>> {
        let mut secret = None;
        let mut streams = BTreeMap::new();
        for (key, value) in store.catalog_load().await? {
            if key == SECRET_KEY {
                let bytes: [u8; 32] = value
                    .as_ref()
                    .try_into()
                    .map_err(|_| KinesisError::InternalFailure("corrupt token secret".into()))?;
                secret = Some(TokenSecret::from_bytes(bytes));
            } else if let Some(name) = key.strip_prefix(STREAM_PREFIX) {
                let stream: Stream = serde_json::from_slice(&value).map_err(|e| {
                    KinesisError::InternalFailure(format!("corrupt catalog entry {name}: {e}"))
                })?;
                streams.insert(name.to_owned(), Arc::new(stream));
            }
        }
        let secret = match secret {
            Some(s) => s,
            None => {
                let s = TokenSecret::generate();
                store
                    .catalog_put(SECRET_KEY, Bytes::copy_from_slice(s.as_bytes()))
                    .await?;
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
        // Log ids are never reused, even for logs deleted before a restart (their frames may
        // still sit in old journal segments): start above every id seen and above the clock
        // in microseconds, which moves faster than ids are ever allocated.
        let next_log_id = streams
            .values()
            .flat_map(|s: &Arc<Stream>| s.shards.iter().map(|sh| sh.log.0 + 1))
            .max()
            .unwrap_or(1)
            .max(now_ms().saturating_mul(1000));
        let engine = Arc::new(Engine {
            config,
            store,
            streams: RwLock::new(streams),
            secret,
            control: tokio::sync::Mutex::new(()),
            next_transition_ms: AtomicU64::new(0),
            next_log_id: AtomicU64::new(next_log_id),
            iterator_nonce: std::sync::atomic::AtomicU32::new(rand::random()),
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
        self.streams
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// Snapshots of all streams, in name order.
    pub async fn all_streams(&self) -> Result<Vec<Arc<Stream>>> {
        self.advance().await?;
        Ok(self.streams.read().values().cloned().collect())
    }

    pub fn not_found(&self, name: &str) -> KinesisError {
        KinesisError::ResourceNotFound(format!(
            "Stream {name} under account {} not found.",
            self.config.account_id
        ))
    }

    pub fn stream_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.config.region, self.config.account_id
        )
    }

    /// Persists `stream` and publishes it to readers.
    async fn save(&self, stream: Stream) -> Result<Arc<Stream>> {
        let value = serde_json::to_vec(&stream)
            .map_err(|e| KinesisError::InternalFailure(e.to_string()))?;
        self.store
            .catalog_put(
                &format!("{STREAM_PREFIX}{}", stream.name),
                Bytes::from(value),
            )
            .await?;
        if stream.status_until_ms != 0 {
            self.next_transition_ms
                .fetch_min(stream.status_until_ms, Ordering::AcqRel);
        }
        let stream = Arc::new(stream);
        self.streams
            .write()
            .insert(stream.name.clone(), stream.clone());
        Ok(stream)
    }

    async fn remove(&self, stream: &Stream) -> Result<()> {
        self.store
            .catalog_delete(&format!("{STREAM_PREFIX}{}", stream.name))
            .await?;
        self.streams.write().remove(&stream.name);
        for shard in &stream.shards {
            self.store.delete_log(shard.log).await?;
        }
        Ok(())
    }

    fn allocate_log(&self) -> crate::store::LogId {
        crate::store::LogId(self.next_log_id.fetch_add(1, Ordering::Relaxed))
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
        let next = self
            .streams
            .read()
            .values()
            .filter(|s| s.status_until_ms != 0)
            .map(|s| s.status_until_ms)
            .min()
            .unwrap_or(u64::MAX);
        self.next_transition_ms.store(next, Ordering::Release);
        Ok(())
    }

    /// Runs transitions in the background so that deleted streams free their space promptly.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(std::time::Duration::from_millis(50));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(engine) = weak.upgrade() else { return };
                if let Err(e) = engine.advance().await {
                    tracing::warn!(error = %e, "state transition failed; will retry");
                }
            }
        })
    }
}
