//! The JetStream store: every log a JetStream stream, the catalog a JetStream KV bucket, on a
//! NATS cluster that several kinesd nodes can share (`docs/decisions/0013-jetstream-store.md`).
//!
//! Layout under one prefix `P` (several deployments may share a NATS system):
//! - the catalog: KV bucket `P_catalog` (see `catalog.rs`), which also holds the log-id counter;
//! - log `n`: stream `P_log_n`, subject `P.log.n`, file storage, `--nats-replicas` replicas,
//!   atomic batch publish allowed; a record is one message, its position the message's stream
//!   sequence minus one (see `wire.rs`), so a position means the same on every node.
//!
//! Appends to one log are serialised within a node (a per-log lock held across the batch and
//! its acknowledgement), and guarded across nodes by `Nats-Expected-Last-Sequence`: a node
//! whose idea of the log's end is stale is refused, re-reads the end and tries again. That is
//! what keeps a batch's positions consecutive and arrival times monotonic along the log with
//! several writers. Reads go to any replica (batched direct get) but never return less than
//! the leader reported: a lagging replica is asked again.
//!
//! Tip watches are fed by this node's own appends and, for appends by other nodes, by one
//! ordered, headers-only consumer per watched log, which JetStream delivers once a message is
//! stored; no polling.

mod catalog;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod wire;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::jetstream::{self, Context};
use async_nats::{Client, ConnectOptions};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use self::catalog::Catalog;
use self::wire::{BatchOutcome, MAX_BATCH, REQUEST_TIMEOUT};
use super::{Appended, CatalogEvent, Expect, Extent, LogId, NewRecord, ReadBatch, Result, Revision, Store, StoreError};

/// The oldest server the store runs on: atomic batch publish arrived in 2.12, and
/// `sync_interval: always` (fsync before acknowledging) in 2.11.
pub const MIN_SERVER_VERSION: (u64, u64) = (2, 12);

/// How often the client pings its server (see `JetStreamStore::open`).
const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How a node reaches its NATS cluster and lays its data out there.
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    /// Server URLs (`nats://host:port`); the client also learns the cluster's other servers.
    pub urls: Vec<String>,
    /// A NATS credentials file (JWT and NKey seed), if the servers require one.
    pub creds: Option<PathBuf>,
    /// Replicas of every stream the store creates (1, 3 or 5; 3 survives one server's loss).
    pub replicas: usize,
    /// Prefix of every stream and bucket name: `[A-Za-z0-9_-]+`.
    pub prefix: String,
}

pub struct JetStreamStore {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    js: Context,
    prefix: String,
    replicas: usize,
    catalog: Catalog,
    /// Logs this node knows of. An entry is added when a log is created here, found at open,
    /// or first used; removed when deleted (which drops its tip watch).
    logs: RwLock<HashMap<LogId, Arc<LogState>>>,
    /// Logs deleted through this node, so that `watch_tip` (which cannot ask the cluster) can
    /// refuse them. Grows by one id per deleted log: small next to the catalog.
    deleted: Mutex<HashSet<LogId>>,
}

/// What a node keeps about one log.
struct LogState {
    id: LogId,
    stream: String,
    subject: String,
    /// The tip as this node last learnt it: never above the real tip, only goes up.
    tip: watch::Sender<u64>,
    /// Held across a whole append; what this node believes the log's end is.
    writer: tokio::sync::Mutex<Option<WriterView>>,
    /// The consumer task following other nodes' appends, started by the first `watch_tip`.
    follower: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The end of a log as the last append (or a re-read) left it.
#[derive(Clone, Copy)]
struct WriterView {
    last_seq: u64,
    last_arrival_ms: u64,
}

impl Drop for LogState {
    fn drop(&mut self) {
        if let Some(follower) = self.follower.get_mut().take() {
            follower.abort();
        }
    }
}

/// Any client or server error as a store I/O error: its outcome is unknown to the caller.
fn nats_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(std::io::Error::other(e.to_string()))
}

/// A request to the cluster that must finish within [`REQUEST_TIMEOUT`] (async-nats has its own
/// timeouts on most calls; this bounds the rest, such as listings).
async fn timed<T, E: std::fmt::Display>(f: impl Future<Output = std::result::Result<T, E>>) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(result) => result.map_err(nats_error),
        Err(_) => Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "NATS request timed out"))),
    }
}

/// Whether an error from a stream request says the stream does not exist (JetStream error
/// 10059); async-nats reports it in several error types, all of which print it.
fn is_stream_not_found(e: &impl std::fmt::Display) -> bool {
    let text = e.to_string();
    text.contains("10059") || text.contains("stream not found")
}

/// Whether a JetStream error is a refused expected-last-sequence check (error codes 10071,
/// which names the sequence found, and 10164, which does not); nothing was stored then.
fn is_wrong_last_sequence(error: &str) -> bool {
    error.contains("10071") || error.contains("10164") || error.contains("wrong last sequence")
}

/// `major.minor` of a server version string such as `2.12.1` or `2.14.0-beta`.
pub fn parse_version(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl JetStreamStore {
    /// Connects, checks the server, and opens (or creates) the catalog bucket.
    pub async fn open(options: JetStreamOptions) -> Result<JetStreamStore> {
        let valid_prefix = !options.prefix.is_empty()
            && options.prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_prefix {
            return Err(nats_error(format!("invalid NATS prefix {:?}: use [A-Za-z0-9_-]+", options.prefix)));
        }
        // A server cut off by the network (no reset, packets dropped) is noticed only by missed
        // pings: with a ping a second and two outstanding at most, the client moves to another
        // server within about 3 s instead of async-nats's default of several minutes.
        let mut connect =
            ConnectOptions::new().name("kinesd").request_timeout(Some(REQUEST_TIMEOUT)).ping_interval(PING_INTERVAL);
        if let Some(creds) = &options.creds {
            connect = connect.credentials_file(creds).await?;
        }
        let urls: Vec<async_nats::ServerAddr> =
            options.urls.iter().map(|u| u.parse()).collect::<std::result::Result<_, _>>().map_err(nats_error)?;
        let client = timed(connect.connect(urls)).await?;
        let version = client.server_info().version;
        match parse_version(&version) {
            Some(v) if v >= MIN_SERVER_VERSION => {}
            _ => {
                return Err(nats_error(format!(
                    "nats-server {version} is too old: the JetStream store needs {}.{} or newer (atomic batch publish)",
                    MIN_SERVER_VERSION.0, MIN_SERVER_VERSION.1
                )));
            }
        }
        let js = jetstream::new(client.clone());
        let catalog = Catalog::open(&js, &options.prefix, options.replicas).await?;
        let shared = Arc::new(Shared {
            client,
            js,
            prefix: options.prefix,
            replicas: options.replicas,
            catalog,
            logs: RwLock::new(HashMap::new()),
            deleted: Mutex::new(HashSet::new()),
        });
        // Learn every log's tip now, so that watches start at it.
        for (id, tip) in catalog::retrying("stream listing", || shared.list_logs()).await? {
            shared.remember(id, tip);
        }
        Ok(JetStreamStore { shared })
    }

    /// The server version this node is connected to.
    pub fn server_version(&self) -> String {
        self.shared.client.server_info().version
    }

    /// The servers that acknowledge writes before syncing them to disk (JetStream's
    /// `sync_interval` other than `always`), by name. None when no server answers the system
    /// account's VARZ ping within a second, which is the usual case: only a connection with
    /// system-account credentials may ask, and nothing else tells a client.
    pub async fn unsynced_servers(&self) -> Option<Vec<String>> {
        let client = &self.shared.client;
        let inbox = client.new_inbox();
        let mut replies = client.subscribe(inbox.clone()).await.ok()?;
        client.publish_with_reply("$SYS.REQ.SERVER.PING.VARZ", inbox, Bytes::new()).await.ok()?;
        let mut unsynced = Vec::new();
        let mut answered = false;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        // One reply per server; bounded by the deadline, not by a count we cannot know.
        while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await {
            let Some((name, synced)) = varz_sync(&reply.payload) else { continue };
            answered = true;
            if !synced {
                unsynced.push(name);
            }
        }
        answered.then_some(unsynced)
    }
}

/// A server's name and whether it syncs before acknowledging, from its VARZ ping reply; None
/// for a reply without JetStream's configuration. A missing `sync_always` means no.
fn varz_sync(reply: &[u8]) -> Option<(String, bool)> {
    let varz: serde_json::Value = serde_json::from_slice(reply).ok()?;
    let config = varz.pointer("/data/jetstream/config")?;
    let name = varz.pointer("/server/name").and_then(|n| n.as_str()).unwrap_or("?").to_owned();
    Some((name, config.get("sync_always") == Some(&serde_json::Value::Bool(true))))
}

impl Shared {
    fn stream_name(&self, id: LogId) -> String {
        format!("{}_log_{}", self.prefix, id.0)
    }

    fn log_id_of(&self, stream: &str) -> Option<LogId> {
        let rest = stream.strip_prefix(&self.prefix)?.strip_prefix("_log_")?;
        rest.parse().ok().map(LogId)
    }

    /// Every log stream under the prefix with its tip.
    async fn list_logs(&self) -> Result<Vec<(LogId, u64)>> {
        let mut streams = self.js.streams();
        let mut logs = Vec::new();
        loop {
            let next = tokio::time::timeout(REQUEST_TIMEOUT, streams.next()).await.map_err(nats_error)?;
            let Some(info) = next else { break };
            let info = info.map_err(nats_error)?;
            if let Some(id) = self.log_id_of(&info.config.name) {
                logs.push((id, info.state.last_sequence));
            }
        }
        Ok(logs)
    }

    /// The state of a log this node knows of, adding it with `tip` if it does not.
    fn remember(&self, id: LogId, tip: u64) -> Arc<LogState> {
        let mut logs = self.logs.write();
        logs.entry(id)
            .or_insert_with(|| {
                Arc::new(LogState {
                    id,
                    stream: self.stream_name(id),
                    subject: format!("{}.log.{}", self.prefix, id.0),
                    tip: watch::Sender::new(tip),
                    writer: tokio::sync::Mutex::new(None),
                    follower: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Forgets a log: its tip watch closes once the last user of the state lets go.
    fn forget(&self, id: LogId) {
        let gone = self.logs.write().remove(&id);
        drop(gone);
    }

    /// A log's state, asking the cluster when this node has not met the log yet (another node
    /// created it).
    async fn log(&self, id: LogId) -> Result<Arc<LogState>> {
        if let Some(state) = self.logs.read().get(&id) {
            return Ok(state.clone());
        }
        if self.deleted.lock().contains(&id) {
            return Err(StoreError::NoSuchLog(id));
        }
        let extent = self.stream_extent(id, &self.stream_name(id)).await?;
        Ok(self.remember(id, extent.tip))
    }

    /// The extent of a log's stream, asked of its leader.
    async fn stream_extent(&self, id: LogId, stream: &str) -> Result<Extent> {
        let info = match tokio::time::timeout(REQUEST_TIMEOUT, self.js.get_stream(stream)).await {
            Err(_) => return Err(nats_error("stream info timed out")),
            Ok(Err(e)) if is_stream_not_found(&e) => return Err(StoreError::NoSuchLog(id)),
            Ok(Err(e)) => return Err(nats_error(e)),
            Ok(Ok(stream)) => stream.cached_info().clone(),
        };
        let tip = info.state.last_sequence;
        // An empty stream (new, or purged to its end) has its horizon at its tip.
        let trim = if info.state.messages == 0 { tip } else { info.state.first_sequence - 1 };
        Ok(Extent { trim, tip })
    }

    /// The arrival time of the record at `position`, asked of the leader; None if it is gone
    /// (trimmed).
    async fn arrival_at(&self, log: &LogState, position: u64) -> Result<Option<u64>> {
        let stream = timed(self.js.get_stream_no_info(&log.stream)).await?;
        match tokio::time::timeout(REQUEST_TIMEOUT, stream.get_raw_message(position + 1)).await {
            Err(_) => Err(nats_error("message get timed out")),
            Ok(Ok(message)) => Ok(Some(wire::unframe(position, message.payload)?.arrival_ms)),
            Ok(Err(e)) if e.to_string().contains("no message found") || e.to_string().contains("10037") => Ok(None),
            Ok(Err(e)) if is_stream_not_found(&e) => Err(StoreError::NoSuchLog(log.id)),
            Ok(Err(e)) => Err(nats_error(e)),
        }
    }

    /// The log's end as its leader has it: what an appender re-reads when its view is stale.
    async fn writer_view(&self, log: &LogState) -> Result<WriterView> {
        let extent = self.stream_extent(log.id, &log.stream).await?;
        // A log trimmed to its end keeps no arrival: the next append starts again from the
        // caller's clock (see the decision record).
        let last_arrival_ms = match extent.tip {
            0 => 0,
            tip => self.arrival_at(log, tip - 1).await?.unwrap_or(0),
        };
        Ok(WriterView { last_seq: extent.tip, last_arrival_ms })
    }

    fn advance_tip(log: &LogState, tip: u64) {
        log.tip.send_if_modified(|t| {
            let moved = tip > *t;
            if moved {
                *t = tip;
            }
            moved
        });
    }

    /// The whole append, run as its own task so that a caller going away cannot stop it
    /// between the messages of a batch.
    async fn append(self: Arc<Self>, log: Arc<LogState>, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended> {
        let mut view = log.writer.lock().await;
        // Losing a race means another node's append succeeded; the loser waits until that
        // append is visible (a batch being stored counts against the expectation before the
        // stream info shows it), and tries again. The deadline is only against a storm.
        let deadline = tokio::time::Instant::now() + 3 * REQUEST_TIMEOUT;
        let mut wait_for = 0;
        let mut backoff = std::time::Duration::from_millis(1);
        loop {
            let current = match *view {
                Some(v) => v,
                None => loop {
                    let v = self.writer_view(&log).await?;
                    if v.last_seq >= wait_for {
                        break v;
                    }
                    if tokio::time::Instant::now() > deadline {
                        return Err(nats_error("append kept losing races with other nodes' appends"));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_millis(50));
                },
            };
            let arrival_ms = now_ms.max(current.last_arrival_ms);
            let mut last_seq = current.last_seq;
            let mut stale = false;
            // PutRecords sends at most 500 records per shard; longer appends are cut into
            // atomic batches of the server's maximum, each guarded by the previous one's end.
            for (i, chunk) in records.chunks(MAX_BATCH).enumerate() {
                let payloads = chunk.iter().map(|r| wire::frame(r, arrival_ms)).collect();
                let outcome = wire::publish_batch(&self.client, &log.subject, payloads, last_seq).await;
                match outcome {
                    Ok(BatchOutcome::Stored { last_seq: end }) => last_seq = end,
                    Ok(BatchOutcome::WrongLastSequence { found }) if i == 0 => {
                        wait_for = found.unwrap_or(last_seq + 1);
                        stale = true;
                        break;
                    }
                    Ok(BatchOutcome::WrongLastSequence { .. }) => {
                        *view = None;
                        return Err(nats_error("another node appended in the middle of a long append"));
                    }
                    Ok(BatchOutcome::NoStream) => {
                        // Nobody took the commit: nothing was stored. Either the log is gone
                        // or its stream is between leaders (an election); ask which.
                        *view = None;
                        drop(view);
                        return match self.stream_extent(log.id, &log.stream).await {
                            Err(StoreError::NoSuchLog(id)) => {
                                self.forget(id);
                                Err(StoreError::NoSuchLog(id))
                            }
                            _ => Err(nats_error(format!("log {:?} has no stream leader now", log.id))),
                        };
                    }
                    Err(e) => {
                        // Unknown outcome: learn the end again before the next append.
                        *view = None;
                        return Err(e);
                    }
                }
            }
            if stale {
                *view = None;
                if tokio::time::Instant::now() > deadline {
                    return Err(nats_error("append kept losing races with other nodes' appends"));
                }
                continue;
            }
            *view = Some(WriterView { last_seq, last_arrival_ms: arrival_ms });
            Self::advance_tip(&log, last_seq);
            return Ok(Appended { first_position: current.last_seq, arrival_ms });
        }
    }

    /// Follows appends made through other nodes: an ordered consumer delivering only the
    /// headers of messages after the watched tip, each of which moves the tip watch.
    async fn follow(shared: Weak<Shared>, log: Weak<LogState>) {
        let Some((stream, subject, start, client_js)) = (|| {
            let shared = shared.upgrade()?;
            let log = log.upgrade()?;
            Some((log.stream.clone(), log.subject.clone(), *log.tip.borrow() + 1, shared.js.clone()))
        })() else {
            return;
        };
        let Ok(Ok(stream)) = tokio::time::timeout(REQUEST_TIMEOUT, client_js.get_stream_no_info(&stream)).await else {
            return;
        };
        let config = OrderedConfig {
            deliver_subject: client_js.client().new_inbox(),
            filter_subject: subject,
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start },
            headers_only: true,
            ..Default::default()
        };
        let Ok(Ok(consumer)) = tokio::time::timeout(REQUEST_TIMEOUT, stream.create_consumer(config)).await else {
            return;
        };
        let Ok(mut messages) = consumer.messages().await else { return };
        while let Some(Ok(message)) = messages.next().await {
            let Ok(info) = message.info() else { continue };
            let Some(log) = log.upgrade() else { return };
            // What the consumer has yet to deliver is stored too: a batch is stored whole, so
            // the tip is past the batch's last message, not the one delivered first.
            Self::advance_tip(&log, info.stream_sequence + info.pending);
        }
    }
}

#[async_trait]
impl Store for JetStreamStore {
    async fn catalog_load(&self) -> Result<Vec<(String, Bytes, Revision)>> {
        self.shared.catalog.load().await
    }

    async fn catalog_get(&self, key: &str) -> Result<Option<(Bytes, Revision)>> {
        self.shared.catalog.get(key).await
    }

    async fn catalog_put(&self, key: &str, value: Bytes, expect: Expect) -> Result<Revision> {
        self.shared.catalog.put(key, value, expect).await
    }

    async fn catalog_delete(&self, key: &str, expect: Revision) -> Result<()> {
        self.shared.catalog.delete(key, expect).await
    }

    async fn logs(&self) -> Result<Vec<LogId>> {
        let logs = catalog::retrying("stream listing", || self.shared.list_logs()).await?;
        Ok(logs.into_iter().map(|(id, _)| id).collect())
    }

    async fn create_log(&self) -> Result<LogId> {
        let id = LogId(self.shared.catalog.next_log_id().await?);
        let state = self.shared.remember(id, 0);
        let config = StreamConfig {
            name: state.stream.clone(),
            subjects: vec![state.subject.clone()],
            storage: StorageType::File,
            num_replicas: self.shared.replicas,
            allow_direct: true,
            allow_atomic_publish: true,
            ..Default::default()
        };
        if let Err(e) = timed(self.shared.js.create_stream(config)).await {
            self.shared.forget(id);
            return Err(e);
        }
        Ok(id)
    }

    async fn delete_log(&self, log: LogId) -> Result<()> {
        self.shared.deleted.lock().insert(log);
        let stream = self.shared.stream_name(log);
        match tokio::time::timeout(REQUEST_TIMEOUT, self.shared.js.delete_stream(&stream)).await {
            Err(_) => return Err(nats_error("stream delete timed out")),
            Ok(Err(e)) if !is_stream_not_found(&e) => return Err(nats_error(e)),
            Ok(_) => {}
        }
        self.shared.forget(log);
        Ok(())
    }

    async fn append(&self, log: LogId, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended> {
        let state = self.shared.log(log).await?;
        if records.is_empty() {
            let tip = self.shared.stream_extent(log, &state.stream).await?.tip;
            return Ok(Appended { first_position: tip, arrival_ms: now_ms });
        }
        let task = tokio::spawn(self.shared.clone().append(state, records, now_ms));
        task.await.map_err(nats_error)?
    }

    async fn read(&self, log: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let state = self.shared.log(log).await?;
        let extent = self.shared.stream_extent(log, &state.stream).await?;
        let start = from.max(extent.trim);
        let end = extent.tip.min(start.saturating_add(max_records as u64));
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let mut next = start;
        // Replicas answer direct gets, and one may not have everything the leader reported
        // yet: ask again (it catches up in milliseconds) rather than return a short read.
        let mut lagging = 0u32;
        while next < end && (records.is_empty() || bytes < max_bytes) {
            let want = (end - next) as usize;
            // Ask for more bytes than the budget by the framing, so that the server does not
            // stop before the record that crosses it (the budget counts key and data only).
            let ask_bytes = max_bytes.saturating_sub(bytes).saturating_add(want.min(1000) * 64);
            let got = wire::get_batch(&self.shared.client, &state.stream, next + 1, want, ask_bytes).await?;
            let mut progressed = false;
            for (seq, payload) in got {
                let position = seq - 1;
                if position < next {
                    continue;
                }
                if position >= end {
                    break;
                }
                if position != next {
                    if records.is_empty() {
                        // Trimmed between the extent and the get: start at the new horizon.
                        next = position;
                    } else {
                        return Err(StoreError::Corrupt(format!("log {log:?}: position {position} after {next}")));
                    }
                }
                let record = wire::unframe(position, payload)?;
                let size = record.partition_key.len() + record.data.len();
                if !records.is_empty() && bytes + size > max_bytes {
                    return Ok(ReadBatch { records, next, tip: extent.tip });
                }
                bytes += size;
                records.push(record);
                next = position + 1;
                progressed = true;
                if bytes >= max_bytes {
                    break;
                }
            }
            if !progressed {
                lagging += 1;
                if lagging > 200 {
                    return Err(nats_error(format!(
                        "no replica of log {log:?} has position {next} the leader reported"
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        Shared::advance_tip(&state, extent.tip);
        Ok(ReadBatch { records, next, tip: extent.tip })
    }

    async fn extent(&self, log: LogId) -> Result<Extent> {
        let state = self.shared.log(log).await?;
        let extent = self.shared.stream_extent(log, &state.stream).await?;
        Shared::advance_tip(&state, extent.tip);
        Ok(extent)
    }

    async fn seek_time(&self, log: LogId, at_ms: u64) -> Result<u64> {
        let state = self.shared.log(log).await?;
        let extent = self.shared.stream_extent(log, &state.stream).await?;
        // Arrival times never decrease along a log: binary search, one leader get per step.
        let (mut lo, mut hi) = (extent.trim, extent.tip);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.shared.arrival_at(&state, mid).await? {
                Some(arrival) if arrival >= at_ms => hi = mid,
                // Arrived earlier, or trimmed meanwhile (so earlier still).
                _ => lo = mid + 1,
            }
        }
        Ok(lo)
    }

    async fn trim(&self, log: LogId, before_ms: u64) -> Result<()> {
        let horizon = self.seek_time(log, before_ms).await?;
        let state = self.shared.log(log).await?;
        if horizon <= self.shared.stream_extent(log, &state.stream).await?.trim {
            return Ok(());
        }
        let stream = timed(self.shared.js.get_stream_no_info(&state.stream)).await?;
        // Purging below a sequence keeps the stream's sequence counter: positions go on.
        timed(stream.purge().sequence(horizon + 1).into_future()).await?;
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    async fn watch_catalog(&self) -> Result<Option<tokio::sync::mpsc::Receiver<CatalogEvent>>> {
        Ok(Some(self.shared.catalog.watch().await?))
    }

    async fn catalog_position(&self) -> Result<Option<Revision>> {
        Ok(Some(self.shared.catalog.position().await?))
    }

    /// Moves the log's stream off the subject appends publish to (`P.log.n` → `P.sealed.n`):
    /// from then on an append, from any node, finds no stream and fails having stored
    /// nothing. A purge of the new subject (which holds nothing) then goes through the
    /// stream's Raft log behind every append accepted before the change, so the end read
    /// after it counts them all.
    async fn seal_log(&self, log: LogId) -> Result<u64> {
        let state = self.shared.log(log).await?;
        let sealed = format!("{}.sealed.{}", self.shared.prefix, log.0);
        let stream = match tokio::time::timeout(REQUEST_TIMEOUT, self.shared.js.get_stream(&state.stream)).await {
            Err(_) => return Err(nats_error("stream info timed out")),
            Ok(Err(e)) if is_stream_not_found(&e) => return Err(StoreError::NoSuchLog(log)),
            Ok(Err(e)) => return Err(nats_error(e)),
            Ok(Ok(stream)) => stream,
        };
        let mut config = stream.cached_info().config.clone();
        if config.subjects != [sealed.clone()] {
            config.subjects = vec![sealed.clone()];
            timed(self.shared.js.update_stream(&config)).await?;
        }
        timed(stream.purge().filter(sealed).into_future()).await?;
        let tip = self.shared.stream_extent(log, &state.stream).await?.tip;
        Shared::advance_tip(&state, tip);
        Ok(tip)
    }

    fn watch_tip(&self, log: LogId) -> Result<watch::Receiver<u64>> {
        let state = match self.shared.logs.read().get(&log) {
            Some(state) => state.clone(),
            None => return Err(StoreError::NoSuchLog(log)),
        };
        let receiver = state.tip.subscribe();
        let mut follower = state.follower.lock();
        if follower.as_ref().is_none_or(|f| f.is_finished()) {
            let task = Shared::follow(Arc::downgrade(&self.shared), Arc::downgrade(&state));
            *follower = Some(tokio::spawn(task));
        }
        Ok(receiver)
    }
}

impl Drop for JetStreamStore {
    fn drop(&mut self) {
        // Close every tip watch, as the other stores do when dropped.
        self.shared.logs.write().clear();
    }
}
