//! The JetStream store: every log a JetStream stream, the catalog a JetStream KV bucket, on a
//! NATS cluster that several kinesd nodes can share (`docs/decisions/0013-jetstream-store.md`).
//!
//! Layout under one prefix `P` (several deployments may share a NATS system):
//! - the catalog: KV bucket `P_catalog` (see `catalog.rs`), which also holds the log-id counter;
//! - log `n`: stream `P_log_n`, subject `P.log.n`, file storage, `--nats-replicas` replicas;
//!   each message is a *pack* of consecutive records naming its first position (`wire.rs`), so
//!   a position means the same on every node and positions stay dense across packs;
//! - hints among nodes (the peer bus, `bus.rs`): core NATS subjects `P.<topic>`, such as the
//!   limits' usage on `P.limits.usage`; nothing of them is stored.
//!
//! Appends go through one writer task per log per node (`writer.rs`), which coalesces
//! concurrent appends into packs, guarded across nodes by `Nats-Expected-Last-Sequence` so that
//! a pack lands only where it was framed to; a node whose idea of the log's end is stale is refused, re-reads the end and
//! tries again. Reads find the pack holding a position through a per-node cache (`index.rs`) or
//! a binary search over the stream's sequences, then fetch packs from any replica (batched direct
//! get) but never return less than the leader reported: a lagging replica is asked again.
//!
//! Tip watches are fed by this node's own appends and, for appends by other nodes, by one
//! ordered, headers-only consumer per watched log, which JetStream delivers once a message is
//! stored (the pack's end travels in a header); no polling.

mod bus;
mod catalog;
mod forward;
mod index;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod wire;
mod writer;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
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
use tokio::sync::{Notify, watch};

use self::catalog::Catalog;
use self::index::PackIndex;
use self::wire::{PackMeta, REQUEST_TIMEOUT};
use self::writer::{Pending, WriterQueue};
use super::{
    Appended, CatalogEvent, Expect, Extent, LogId, NewRecord, ReadBatch, Result, Revision, Store, StoreError,
    StoredRecord,
};

/// The oldest server the store runs on: `sync_interval: always` (fsync before acknowledging)
/// arrived in 2.11; 2.12 is the oldest the store was tested against (phase 1 needed it for
/// atomic batches).
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
    /// The task taking appends other nodes forward to this one (`forward.rs`).
    forwarded: tokio::task::JoinHandle<()>,
}

struct Shared {
    client: Client,
    /// JetStream requests, and publishes whose acknowledgement may take [`REQUEST_TIMEOUT`].
    js: Context,
    /// This node's name in the packs it writes and for forwarded appends (random per open
    /// store).
    node_id: u64,
    /// Appends this node forwarded to another node's writer (`forward.rs`).
    forwarded: AtomicU64,
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
    /// Appends waiting for this node's writer of the log (`writer.rs`).
    queue: Mutex<WriterQueue>,
    /// Wakes the writer when an append is queued while it waits for an acknowledgement.
    work: Notify,
    /// Where packs sit (a bounded cache).
    index: Mutex<PackIndex>,
    /// The node this node sends the log's appends to, and until when (`forward.rs`).
    delegate: Mutex<Option<(u64, tokio::time::Instant)>>,
    /// The consumer task following other nodes' appends, started by the first `watch_tip`.
    follower: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The end of a log as the last append (or a re-read) left it.
#[derive(Clone, Copy)]
struct WriterView {
    /// The stream sequence of the last pack.
    last_seq: u64,
    /// The position after the last record (the tip).
    end: u64,
    last_arrival_ms: u64,
    /// The node that wrote the last pack (0: none yet).
    last_writer: u64,
}

/// A log's stream as its leader has it, with the metas of its first and last packs.
#[derive(Clone, Copy)]
struct Ends {
    /// Sequences of the first and last pack; 0 and 0 for a log never appended to.
    first_seq: u64,
    last_seq: u64,
    trim: u64,
    tip: u64,
    last: Option<PackMeta>,
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
                    "nats-server {version} is too old: the JetStream store needs {}.{} or newer",
                    MIN_SERVER_VERSION.0, MIN_SERVER_VERSION.1
                )));
            }
        }
        let js = jetstream::ContextBuilder::new().timeout(REQUEST_TIMEOUT).build(client.clone());
        let catalog = Catalog::open(&js, &options.prefix, options.replicas).await?;
        let shared = Arc::new(Shared {
            client,
            js,
            node_id: rand::random(),
            forwarded: AtomicU64::new(0),
            prefix: options.prefix,
            replicas: options.replicas,
            catalog,
            logs: RwLock::new(HashMap::new()),
            deleted: Mutex::new(HashSet::new()),
        });
        // Learn every log's tip now, so that watches start at it (the tip is the end of the
        // last pack: one get per log, a few at a time).
        let logs = catalog::retrying("stream listing", || shared.list_logs()).await?;
        let mut tips = futures_util::stream::iter(logs)
            .map(|(id, last_seq)| {
                let shared = shared.clone();
                async move {
                    let state = shared.remember(id, 0);
                    let tip = match last_seq {
                        0 => 0,
                        seq => shared.meta(&state, seq).await?.map_or(0, |m| m.end()),
                    };
                    Ok::<_, StoreError>((state, tip))
                }
            })
            .buffer_unordered(16);
        while let Some(learnt) = tips.next().await {
            let (state, tip) = learnt?;
            Shared::advance_tip(&state, tip);
        }
        drop(tips);
        let requests = timed(shared.client.subscribe(forward::subject(&shared.prefix, shared.node_id))).await?;
        let forwarded = tokio::spawn(forward::serve(Arc::downgrade(&shared), requests));
        Ok(JetStreamStore { shared, forwarded })
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

/// How long a node asks again while the leader answering for a stream is out of touch with
/// its replicas (see `Shared::stream`).
const STALE_LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long a new log may take to answer through this node's server (see
/// `Shared::until_usable`).
const USABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// A replica not heard from for this long is out of touch: three of JetStream's 1 s Raft
/// heartbeats, what nats-server itself calls a healthy peer when it picks a new leader.
const OUT_OF_TOUCH: std::time::Duration = std::time::Duration::from_secs(3);

/// A stream with its info as its leader answers now; None when there is no such stream.
///
/// Right after a partition heals, the server that was cut off may answer too, before it learns
/// of the leader elected without it (JetStream's API takes whichever answer comes first): as a
/// leader deposed meanwhile, or as a replica that knows no leader. Either way it answers with
/// the stream as it was when it was cut off, an end that acknowledged records have long
/// passed (CI saw a read come back empty there). Such an answer names no leader or shows its
/// leader out of touch with its replicas, and is asked again (the server learns of the new
/// leader within a heartbeat of hearing from it), for at most [`STALE_LEADER_WAIT`]; after
/// that the error is one the client retries.
async fn stream_from_leader(js: &Context, stream: &str) -> Result<Option<jetstream::stream::Stream>> {
    let deadline = tokio::time::Instant::now() + STALE_LEADER_WAIT;
    loop {
        let answer = match tokio::time::timeout(REQUEST_TIMEOUT, js.get_stream(stream)).await {
            Err(_) => return Err(nats_error("stream info timed out")),
            Ok(Err(e)) if is_stream_not_found(&e) => return Ok(None),
            Ok(Err(e)) => return Err(nats_error(e)),
            Ok(Ok(answer)) => answer,
        };
        if in_touch_with_replicas(answer.cached_info()) {
            return Ok(Some(answer));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(nats_error(format!("the leader of {stream} that answers is out of touch with its replicas")));
        }
        if let Some(cluster) = &answer.cached_info().cluster {
            let replicas: Vec<_> = cluster.replicas.iter().map(|r| (&r.name, r.active, r.current)).collect();
            tracing::debug!(stream, leader = ?cluster.leader, ?replicas, "an answer from a leader out of touch with its replicas: asking again");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether a stream info was answered by a leader that hears from a majority of its group
/// (itself included); a stream of one replica always is. A replica that knows no leader also
/// answers (with its own state, possibly long behind): that answer names no leader.
fn in_touch_with_replicas(info: &jetstream::stream::Info) -> bool {
    let Some(cluster) = &info.cluster else { return true };
    if cluster.replicas.is_empty() {
        return true;
    }
    if cluster.leader.is_none() {
        return false;
    }
    let heard = cluster.replicas.iter().filter(|r| r.active < OUT_OF_TOUCH).count();
    (1 + heard) * 2 > 1 + cluster.replicas.len()
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
                    queue: Mutex::new(WriterQueue::default()),
                    work: Notify::new(),
                    index: Mutex::new(PackIndex::default()),
                    delegate: Mutex::new(None),
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
        // Make sure the stream exists before remembering it, then learn its tip.
        self.stream_info(id, &self.stream_name(id)).await?;
        let state = self.remember(id, 0);
        let ends = self.ends(&state).await?;
        Self::advance_tip(&state, ends.tip);
        Ok(state)
    }

    /// A log's stream with its info as its leader answers now (see [`stream_from_leader`]); a
    /// stream that is gone is the log's absence.
    async fn stream(&self, id: LogId, stream: &str) -> Result<jetstream::stream::Stream> {
        stream_from_leader(&self.js, stream).await?.ok_or(StoreError::NoSuchLog(id))
    }

    /// The first and last sequence of a log's stream and its message count, asked of its
    /// leader.
    async fn stream_info(&self, id: LogId, stream: &str) -> Result<(u64, u64, u64)> {
        let stream = self.stream(id, stream).await?;
        let state = &stream.cached_info().state;
        Ok((state.first_sequence, state.last_sequence, state.messages))
    }

    /// Waits, for at most [`USABLE_WAIT`], until a stream just created answers through this
    /// node's server: its info from a leader in touch with its replicas, and a direct get from
    /// a replica. JetStream answers a creation once the stream's leader is elected, but the
    /// other servers learn of its subscriptions a moment later (interest travels over the
    /// routes); until then a read finds no replica and an append no stream. So a log is handed
    /// out only once it can be used (a machine under load once took seconds).
    async fn until_usable(&self, log: &LogState) -> Result<()> {
        let deadline = tokio::time::Instant::now() + USABLE_WAIT;
        loop {
            let led = matches!(stream_from_leader(&self.js, &log.stream).await, Ok(Some(_)));
            if led && wire::get_batch(&self.client, &log.stream, 1, 1, 1).await?.is_some() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(nats_error(format!("log {:?} was created but its stream does not answer", log.id)));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Whether the log was sealed (`seal_log`): its stream exists but has moved off the subject
    /// appends publish to, so a publish finds no stream. Such an append is answered as one to a
    /// missing log at once, not retried as if the stream were between leaders.
    async fn sealed(&self, log: &LogState) -> Result<bool> {
        let stream = self.stream(log.id, &log.stream).await?;
        Ok(!stream.cached_info().config.subjects.contains(&log.subject))
    }

    /// The meta of the pack at `seq`: from the index, else asked of the leader (and then
    /// remembered); None if it is gone (trimmed).
    async fn meta(&self, log: &LogState, seq: u64) -> Result<Option<PackMeta>> {
        if let Some(meta) = log.index.lock().get(seq) {
            return Ok(Some(meta));
        }
        let stream = timed(self.js.get_stream_no_info(&log.stream)).await?;
        match tokio::time::timeout(REQUEST_TIMEOUT, stream.get_raw_message(seq)).await {
            Err(_) => Err(nats_error("message get timed out")),
            Ok(Ok(message)) => {
                let meta = wire::pack_meta(seq, &message.payload)?;
                log.index.lock().insert(seq, meta);
                Ok(Some(meta))
            }
            Ok(Err(e)) if e.to_string().contains("no message found") || e.to_string().contains("10037") => Ok(None),
            Ok(Err(e)) if is_stream_not_found(&e) => Err(StoreError::NoSuchLog(log.id)),
            Ok(Err(e)) => Err(nats_error(e)),
        }
    }

    /// Where a log's records are, as its leader has it: the first pack's first position is
    /// the trim horizon, the last pack's end the tip.
    async fn ends(&self, log: &LogState) -> Result<Ends> {
        // A trim may purge the first pack between the stream info and its get: ask again.
        for _ in 0..10 {
            let (first_seq, last_seq, messages) = self.stream_info(log.id, &log.stream).await?;
            if last_seq == 0 {
                return Ok(Ends { first_seq: 0, last_seq: 0, trim: 0, tip: 0, last: None });
            }
            if messages == 0 {
                // The store always keeps the last pack (a marker when everything is trimmed).
                return Err(StoreError::Corrupt(format!("log {:?}: its stream was emptied outside kinesd", log.id)));
            }
            let (Some(first), Some(last)) = (self.meta(log, first_seq).await?, self.meta(log, last_seq).await?) else {
                continue;
            };
            return Ok(Ends { first_seq, last_seq, trim: first.first_pos, tip: last.end(), last: Some(last) });
        }
        Err(nats_error(format!("log {:?} kept changing under a read of its ends", log.id)))
    }

    /// The log's end as its leader has it: what a writer re-reads when its view is stale.
    async fn writer_view(&self, log: &LogState) -> Result<WriterView> {
        let ends = self.ends(log).await?;
        // A log never appended to starts from the caller's clock.
        let last_arrival_ms = ends.last.map_or(0, |m| m.arrival_ms);
        let last_writer = ends.last.map_or(0, |m| m.writer);
        Ok(WriterView { last_seq: ends.last_seq, end: ends.tip, last_arrival_ms, last_writer })
    }

    /// The sequence of the pack holding `position` (which must be in `ends.trim..ends.tip`):
    /// from the index, else a binary search over the stream's sequences (first positions grow
    /// with them).
    async fn locate(&self, log: &LogState, ends: &Ends, position: u64) -> Result<u64> {
        if let Some(seq) = log.index.lock().locate(position) {
            return Ok(seq);
        }
        // The last pack whose first position is at or before `position`.
        let (mut lo, mut hi) = (ends.first_seq, ends.last_seq);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            match self.meta(log, mid).await? {
                Some(meta) if meta.first_pos <= position => lo = mid,
                Some(_) => hi = mid - 1,
                // Trimmed meanwhile: the position is later still.
                None => lo = mid,
            }
        }
        Ok(lo)
    }

    /// Records from `start` up to `end` (at least one, then at most `max_bytes` of them) and
    /// the position after the last one returned.
    ///
    /// Packs come from any replica (batched direct get). A replica may lag behind the leader,
    /// and one catching up after a partition may for a while lack packs it will have later, so
    /// a reply is checked rather than trusted: the pack at each sequence must begin where the
    /// one before it ended, and sequences or positions a reply skips are skipped only when the
    /// leader confirms they were trimmed. Anything else is asked again (whichever replica
    /// answers then), and a read never returns less than the leader reported as stored.
    async fn read_packs(
        &self,
        log: &LogState,
        ends: &Ends,
        start: u64,
        end: u64,
        max_bytes: usize,
    ) -> Result<(Vec<StoredRecord>, u64)> {
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let mut next = start;
        let mut seq = self.locate(log, ends, start).await?;
        // The end of the pack at `seq - 1`, when this read has seen it.
        let mut chain: Option<u64> = None;
        // Whether the leader confirmed that packs this read skips were trimmed.
        let mut trimmed = false;
        let mut asked_again = 0u32;
        'fetch: while next < end {
            let packs = (ends.last_seq + 1).saturating_sub(seq).max(1) as usize;
            // Packs are read whole: ask for the budget plus a pack's worth, so that the server
            // does not stop before the pack holding the record that crosses it.
            let ask_bytes = max_bytes.saturating_sub(bytes).saturating_add(writer::MAX_PACK_BYTES);
            // No replica answering yet is waited for like a lagging one.
            let got = wire::get_batch(&self.client, &log.stream, seq, packs, ask_bytes).await?.unwrap_or_default();
            let before = seq;
            for (s, payload) in got {
                if s < seq {
                    continue;
                }
                if s > seq {
                    // The replica has nothing from `seq` to `s`: true only if they were trimmed.
                    let (first_seq, _, _) = self.stream_info(log.id, &log.stream).await?;
                    if first_seq > seq {
                        seq = first_seq;
                        chain = None;
                        trimmed = true;
                    }
                    if s != seq {
                        tracing::debug!(log = log.id.0, seq, got = s, "a replica skipped packs: asking again");
                        break;
                    }
                }
                let (meta, pack) = wire::unpack(s, payload)?;
                log.index.lock().insert(s, meta);
                if let Some(previous_end) = chain
                    && meta.first_pos != previous_end
                {
                    return Err(StoreError::Corrupt(format!(
                        "log {:?}: the pack at sequence {s} starts at position {}, the pack before it ends at {previous_end}",
                        log.id, meta.first_pos
                    )));
                }
                if meta.first_pos > next && !records.is_empty() {
                    // Trimmed between two gets: this page ends before the gap; the next read
                    // starts at the new horizon.
                    break 'fetch;
                }
                chain = Some(meta.end());
                seq = s + 1;
                if meta.first_pos > next {
                    // Positions skipped: only trimmed ones may be.
                    if !trimmed && self.ends(log).await?.trim < meta.first_pos {
                        return Err(nats_error(format!(
                            "log {:?}: the read of position {next} found the pack at sequence {s} starting at {}",
                            log.id, meta.first_pos
                        )));
                    }
                    next = meta.first_pos;
                }
                for record in pack {
                    if record.position < next {
                        continue;
                    }
                    if record.position >= end {
                        break 'fetch;
                    }
                    let size = record.partition_key.len() + record.data.len();
                    if !records.is_empty() && bytes + size > max_bytes {
                        break 'fetch;
                    }
                    bytes += size;
                    next = record.position + 1;
                    records.push(record);
                    if bytes >= max_bytes || next >= end {
                        break 'fetch;
                    }
                }
            }
            if seq == before {
                // A lagging replica answered: it catches up in milliseconds.
                asked_again += 1;
                if asked_again > 200 {
                    return Err(nats_error(format!(
                        "no replica of log {:?} answers with the pack {seq} the leader reported",
                        log.id
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        Ok((records, next))
    }

    /// The first pack that arrived at or after `at_ms`, if any (arrivals never decrease along
    /// the log: a binary search, one get per step unless the index has it).
    async fn first_at_or_after(&self, log: &LogState, ends: &Ends, at_ms: u64) -> Result<Option<(u64, PackMeta)>> {
        if ends.last.is_none() {
            return Ok(None);
        }
        let (mut lo, mut hi) = (ends.first_seq, ends.last_seq + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.meta(log, mid).await? {
                Some(meta) if meta.arrival_ms >= at_ms => hi = mid,
                // Arrived earlier, or trimmed meanwhile (so earlier still).
                _ => lo = mid + 1,
            }
        }
        if lo > ends.last_seq {
            return Ok(None);
        }
        match self.meta(log, lo).await? {
            Some(meta) => Ok(Some((lo, meta))),
            None => Err(nats_error(format!("log {:?} was trimmed during a seek", log.id))),
        }
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

    /// Hands records to the log's writer and waits for their pack's acknowledgement. The
    /// writer runs as its own task, so a caller going away cannot stop a pack half-sent.
    async fn append_pack(
        self: &Arc<Self>,
        log: &Arc<LogState>,
        records: Vec<NewRecord>,
        now_ms: u64,
    ) -> Result<Appended> {
        let delegate = *log.delegate.lock();
        if let Some((node, until)) = delegate {
            if tokio::time::Instant::now() < until
                && let Some(answer) = forward::forward(self, log, node, &records, now_ms).await
            {
                return answer;
            }
            // Lapsed, or nobody answers for that node any more: write directly.
            log.delegate.lock().take_if(|d| d.0 == node);
        }
        let (pending, answer) = Pending::new(records, now_ms);
        writer::enqueue(self, log, pending);
        answer.await.map_err(|_| nats_error("the log's writer stopped"))?
    }

    /// Follows appends made through other nodes: an ordered consumer delivering only the
    /// headers of packs from the stream's last one on (whose end is at or above any tip this
    /// node had told a watcher before), each of which moves the tip watch to the pack's end.
    async fn follow(shared: Weak<Shared>, log: Weak<LogState>) {
        let Some((id, stream, subject, client_js)) = (|| {
            let shared = shared.upgrade()?;
            let log = log.upgrade()?;
            Some((log.id, log.stream.clone(), log.subject.clone(), shared.js.clone()))
        })() else {
            return;
        };
        let Some(start) = (match shared.upgrade() {
            Some(s) => s.stream_info(id, &stream).await.ok().map(|(_, last_seq, _)| last_seq.max(1)),
            None => None,
        }) else {
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
            let meta = message.headers.as_ref().and_then(|h| h.get(wire::PACK_META_HEADER));
            let Some(meta) = meta.and_then(|m| PackMeta::from_header_value(m.as_str())) else { continue };
            let Some(log) = log.upgrade() else { return };
            // The pack's end is the tip: everything before it is stored.
            log.index.lock().insert(info.stream_sequence, meta);
            Self::advance_tip(&log, meta.end());
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
            ..Default::default()
        };
        if let Err(e) = timed(self.shared.js.create_stream(config)).await {
            self.shared.forget(id);
            return Err(e);
        }
        self.shared.until_usable(&state).await?;
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
            let tip = self.shared.ends(&state).await?.tip;
            return Ok(Appended { first_position: tip, arrival_ms: now_ms });
        }
        self.shared.append_pack(&state, records, now_ms).await
    }

    async fn read(&self, log: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let state = self.shared.log(log).await?;
        let ends = self.shared.ends(&state).await?;
        let start = from.max(ends.trim);
        let end = ends.tip.min(start.saturating_add(max_records as u64));
        let (records, next) = if start < end {
            self.shared.read_packs(&state, &ends, start, end, max_bytes).await?
        } else {
            (Vec::new(), start)
        };
        Shared::advance_tip(&state, ends.tip);
        Ok(ReadBatch { records, next, tip: ends.tip })
    }

    async fn extent(&self, log: LogId) -> Result<Extent> {
        let state = self.shared.log(log).await?;
        let ends = self.shared.ends(&state).await?;
        Shared::advance_tip(&state, ends.tip);
        Ok(Extent { trim: ends.trim, tip: ends.tip })
    }

    async fn seek_time(&self, log: LogId, at_ms: u64) -> Result<u64> {
        let state = self.shared.log(log).await?;
        let ends = self.shared.ends(&state).await?;
        Ok(match self.shared.first_at_or_after(&state, &ends, at_ms).await? {
            // A pack's records share its arrival: the seek lands on its first record (a
            // marker's first position is the next record's).
            Some((_, meta)) => meta.first_pos.max(ends.trim),
            None => ends.tip,
        })
    }

    async fn trim(&self, log: LogId, before_ms: u64) -> Result<()> {
        let state = self.shared.log(log).await?;
        let ends = self.shared.ends(&state).await?;
        let Some(last) = ends.last else { return Ok(()) };
        // Packs share an arrival, so trimming whole packs drops exactly the records that
        // arrived before `before_ms`. Purging below a sequence keeps the stream's counter.
        let keep = match self.shared.first_at_or_after(&state, &ends, before_ms).await? {
            Some((seq, _)) => seq,
            // Everything arrived before: the last pack stays, so the log keeps its end and its
            // last arrival; when it holds records, a marker (a pack of none) is appended to
            // stay in its place.
            None if last.count == 0 => ends.last_seq,
            None => {
                self.shared.append_pack(&state, Vec::new(), 0).await?;
                ends.last_seq + 1
            }
        };
        if keep <= ends.first_seq {
            return Ok(());
        }
        let stream = timed(self.shared.js.get_stream_no_info(&state.stream)).await?;
        timed(stream.purge().sequence(keep).into_future()).await?;
        state.index.lock().forget_below(keep);
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    fn peer_bus(&self) -> Option<Arc<dyn crate::store::PeerBus>> {
        Some(Arc::new(bus::NatsBus { client: self.shared.client.clone(), prefix: self.shared.prefix.clone() }))
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
        let stream = self.shared.stream(log, &state.stream).await?;
        let mut config = stream.cached_info().config.clone();
        if config.subjects != [sealed.clone()] {
            config.subjects = vec![sealed.clone()];
            timed(self.shared.js.update_stream(&config)).await?;
        }
        timed(stream.purge().filter(sealed).into_future()).await?;
        let tip = self.shared.ends(&state).await?.tip;
        Shared::advance_tip(&state, tip);
        Ok(tip)
    }

    fn watch_tip(&self, log: LogId) -> Result<watch::Receiver<u64>> {
        let known = self.shared.logs.read().get(&log).cloned();
        let state = match known {
            Some(state) => state,
            None if self.shared.deleted.lock().contains(&log) => return Err(StoreError::NoSuchLog(log)),
            // A log another node created and this one has not touched yet (a SubscribeToShard
            // from TRIM_HORIZON through this node reads nothing first): the follower started
            // below delivers its last pack at once, which sets the tip.
            None => self.shared.remember(log, 0),
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
        self.forwarded.abort();
        // Close every tip watch, as the other stores do when dropped.
        self.shared.logs.write().clear();
    }
}
