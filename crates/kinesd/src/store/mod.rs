//! The store seam: everything kinesd keeps, behind one async trait.
//!
//! A store holds two things: the *catalog* (small metadata values, each replaced atomically by
//! key — stream descriptions, account settings, the iterator secret) and *shard logs*
//! (append-only sequences of records addressed by position). It knows nothing of Kinesis
//! validation or wire formats; the engine serialises its own metadata into catalog values.
//! Implementations: `memory` (`--in-memory`, and the reference), `disk` (the default: a
//! group-committed journal, see `docs/storage.md`), `jetstream` (logs as JetStream streams and
//! the catalog in a KV bucket on a NATS cluster several nodes share, see
//! `docs/decisions/0013-jetstream-store.md`); `conformance` is the test suite every one of them
//! must pass.
//!
//! Invariants every implementation keeps:
//! - positions in a log are assigned by the store, strictly increasing, starting at 0;
//! - arrival times never decrease along a log (AT_TIMESTAMP seeks rely on it);
//! - a reader never sees a position before every lower position is visible;
//! - appends to different logs are independent: no lock of one log is held while another is
//!   appended to, and a stalled reader or subscriber of one log holds up no other (a store may
//!   still share its write path among logs — the disk store's one journal queue and one sync
//!   per group — so one log's heavy writer can slow the others, but never block them);
//! - log ids are chosen by the store (`create_log`) and never handed out twice, not even after
//!   the log was deleted and the store reopened;
//! - catalog writes are compare-and-set against a [`Revision`]: of several writes expecting the
//!   same state of a key, at most one succeeds, the others fail with `Conflict` having changed
//!   nothing (see the catalog methods of [`Store`]);
//! - a log's tip watch (`watch_tip`) moves only after an append is as durable as the store
//!   promises and readable, and is closed when the log is deleted.

#[cfg(test)]
mod conformance;
pub mod disk;
pub mod jetstream;
pub mod memory;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::watch;

/// Identifies one shard's log. Allocated by the store (`create_log`), never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LogId(pub u64);

/// A record as the caller hands it to `append`.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub partition_key: Bytes,
    pub data: Bytes,
    /// Opaque per-record flags of the engine (e.g. "written while the stream was encrypted").
    pub flags: u8,
}

/// A record as the store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub position: u64,
    pub arrival_ms: u64,
    pub partition_key: Bytes,
    pub data: Bytes,
    pub flags: u8,
}

/// Where an appended batch landed: consecutive positions from `first_position`, all with the
/// same arrival time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_position: u64,
    pub arrival_ms: u64,
}

/// The readable extent of a log: positions `trim..tip` exist (`tip` is the next to be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub trim: u64,
    pub tip: u64,
}

/// A batch of records read from a log.
#[derive(Debug, Clone, Default)]
pub struct ReadBatch {
    pub records: Vec<StoredRecord>,
    /// The position after the last returned record (or where reading started, clamped to the
    /// trim horizon, when nothing was returned).
    pub next: u64,
    /// The log's tip at the time of the read.
    pub tip: u64,
}

/// One version of one catalog entry, as the store numbered it.
///
/// Within one open store, every successful write of a key gets a revision that key has never
/// had before, so a revision names exactly one value (a key deleted and created again does not
/// come back at an old revision). Revisions of different keys are not comparable, and a store
/// may number its entries afresh when it is opened again: callers keep them in memory only,
/// and learn them from `catalog_load` or `catalog_get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub u64);

/// What a conditional catalog write expects to find under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No value: the write creates the entry.
    Absent,
    /// Exactly this revision: the write replaces the value the caller last saw.
    Revision(Revision),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("log {0:?} does not exist")]
    NoSuchLog(LogId),
    /// A conditional catalog write found something other than what it expected; nothing was
    /// changed. `found` is the key's revision when the store looked (None: absent).
    #[error("catalog entry {key:?} changed under us: expected {expected:?}, found {found:?}")]
    Conflict { key: String, expected: Expect, found: Option<Revision> },
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // The catalog: small values replaced whole, by compare-and-set.
    //
    // Every write names what it expects to replace (`Expect`), and the check and the write are
    // one atomic step: of any number of writes to one key that expect the same state, at most
    // one succeeds and the others fail with `Conflict` having changed nothing. That is what
    // lets several kinesd nodes share one catalog (a JetStream KV bucket, whose revisions are
    // its stream sequences): a node that lost a race re-reads the entry with `catalog_get` and
    // decides again. A write is durable when it returns Ok. When it fails with any other
    // error, it may or may not have happened: re-read before relying on either.

    /// Every catalog entry with its current revision, for start-up.
    async fn catalog_load(&self) -> Result<Vec<(String, Bytes, Revision)>>;
    /// One entry and its current revision (None: absent); how a caller that met a `Conflict`
    /// learns what is there now.
    async fn catalog_get(&self, key: &str) -> Result<Option<(Bytes, Revision)>>;
    /// Creates (`Expect::Absent`) or replaces (`Expect::Revision`) one value atomically and
    /// durably, if the key is in the expected state; returns the value's new revision.
    async fn catalog_put(&self, key: &str, value: Bytes, expect: Expect) -> Result<Revision>;
    /// Removes one value atomically and durably, if it is at exactly revision `expect`
    /// (absent counts as a conflict: someone else deleted it). Afterwards the key is absent:
    /// `catalog_get` returns None, `catalog_load` leaves it out, and `Expect::Absent` creates
    /// it again, at a revision it has never had.
    async fn catalog_delete(&self, key: &str, expect: Revision) -> Result<()>;

    // Logs. Every method taking a `LogId` fails with `NoSuchLog` for a log that was never
    // created or has been deleted, except `delete_log`.

    /// Every log the store holds (the engine deletes those its catalog no longer names, which
    /// a crash between the two updates can leave behind).
    async fn logs(&self) -> Result<Vec<LogId>>;

    /// Creates an empty log (its first record will get position 0) under a new id, durably,
    /// and returns the id. The id is one this store has never handed out before, not even to
    /// a log deleted before a restart (a deleted log's records may outlive it on disk, and the
    /// engine's state must never attach them to another shard).
    async fn create_log(&self) -> Result<LogId>;
    /// Removes a log and frees its space; absent logs are fine.
    async fn delete_log(&self, log: LogId) -> Result<()>;

    /// Appends records in order. `now_ms` is the caller's clock; the store raises it to keep
    /// arrival times monotonic along the log. Returns once the records are as durable as the
    /// store promises.
    async fn append(&self, log: LogId, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended>;

    /// Reads from `from` (clamped up to the trim horizon), at most `max_records` records and at
    /// most `max_bytes` of data + partition keys — but always at least one record if any exists.
    async fn read(&self, log: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch>;

    /// Where the log's records are now: `trim..tip`.
    async fn extent(&self, log: LogId) -> Result<Extent>;

    /// The first position whose arrival time is at or after `at_ms` (the tip if none), never
    /// before the trim horizon.
    async fn seek_time(&self, log: LogId, at_ms: u64) -> Result<u64>;

    /// Drops records that arrived before `before_ms`; the trim horizon only moves forward and
    /// never past the tip. A persistent store remembers the horizon across a reopen (records
    /// trimmed before a restart never come back, not even until the engine's next retention
    /// pass), and positions below the horizon are never reused.
    async fn trim(&self, log: LogId, before_ms: u64) -> Result<()>;

    /// A watch on the log's tip (the next position to be written), for waiting for records
    /// instead of polling. The receiver starts at the current tip, marked seen.
    ///
    /// The store moves the value only once an append is as durable as the store promises and
    /// readable: a subscriber woken by `changed()` that reads from its previous value finds
    /// every record below the new one. Several appends may wake it once; the value never goes
    /// down. Deleting the log (or dropping the store) drops the sender, so `changed()` returns
    /// Err. An append pays one send per log it wrote to, and nothing per record.
    ///
    /// Subscribers must not keep a `borrow()` alive: it holds the watch's lock and would stall
    /// the appender (it is not `Send`, so it cannot be held across an `.await` in a task).
    fn watch_tip(&self, log: LogId) -> Result<watch::Receiver<u64>>;

    // Sharing. A store several kinesd nodes open at once (the JetStream store) tells the engine
    // so, and reports catalog changes whoever made them; the defaults are those of a store only
    // this process opens (memory, disk), whose catalog never changes from outside.

    /// Whether other processes (other kinesd nodes) may change this store while it is open.
    /// The engine then follows catalog changes, reads through on a miss, claims transitions
    /// before finishing them, and leaves unnamed logs alone for a grace period (another node
    /// may be about to name them).
    fn shared(&self) -> bool {
        false
    }

    /// Changes of the catalog from now on, by anyone (this node's own writes included), in the
    /// order the store applied them. None: nothing outside this process changes the catalog.
    /// Call it before `catalog_load`, so that no change falls between the two. The queue is
    /// bounded (the store waits for the receiver); dropping the receiver ends the watch.
    async fn watch_catalog(&self) -> Result<Option<tokio::sync::mpsc::Receiver<CatalogEvent>>> {
        Ok(None)
    }

    /// How far the catalog has changed: the revision of its latest change, in the order
    /// `watch_catalog` reports changes (a watcher that has received a change at this revision
    /// or later has seen everything written before this call). None when nothing outside this
    /// process changes the catalog. A node answering a read waits until its watch got this
    /// far, so that it answers with what another node wrote before the request came.
    async fn catalog_position(&self) -> Result<Option<Revision>> {
        Ok(None)
    }

    /// Fences a log against appends from every node: once this returns `end`, no append lands
    /// at `end` or after (appends fail instead), and every append acknowledged before it lies
    /// below `end`. Reads, trims and deletes still work. Sealing twice returns the same end.
    /// The default is for stores only one engine opens, whose write gate already stops its
    /// own appends: the tip is final once the gate is held.
    async fn seal_log(&self, log: LogId) -> Result<u64> {
        Ok(self.extent(log).await?.tip)
    }

    /// A message bus to the other nodes sharing this store, for hints that need no
    /// durability (the limits' usage gossip). None for a store only this process opens
    /// (memory, disk): there is nobody to tell, and nothing is spent on it.
    fn peer_bus(&self) -> Option<std::sync::Arc<dyn PeerBus>> {
        None
    }

    /// What the store has done and holds, for metrics; read at each scrape, so it may look at
    /// the file system but must not wait for the writer. A store that counts nothing keeps the
    /// default.
    fn stats_snapshot(&self) -> StoreStats {
        StoreStats::default()
    }
}

/// Fire-and-forget messages among the nodes sharing a store (see [`Store::peer_bus`]): at most
/// once, unordered across senders, nothing kept. A message may be lost (a node disconnected,
/// a receiver that fell behind), so only hints may travel this way: what a lost one costs is
/// the sender's business to state.
#[async_trait]
pub trait PeerBus: Send + Sync + 'static {
    /// Sends `payload` to every subscriber of `topic` on every node, this one's included.
    /// Returns once the message is handed to the transport (no round trip); an error means it
    /// was not.
    async fn publish(&self, topic: &str, payload: Bytes) -> Result<()>;
    /// Messages on `topic` from now on, queued up to `capacity`: when the receiver falls that
    /// far behind, newer messages are dropped (the receiver must drain it promptly). Dropping
    /// the receiver ends the subscription.
    async fn subscribe(&self, topic: &str, capacity: usize) -> Result<tokio::sync::mpsc::Receiver<Bytes>>;
}

/// One change of a shared catalog (see [`Store::watch_catalog`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEvent {
    /// The entry under `key` was written (or deleted) and is now at `revision`.
    Changed { key: String, revision: Revision, deleted: bool },
    /// Changes may have been missed (the watch had to start again): reload every entry.
    Resync,
    /// The store changed something of its own at `revision` (not a catalog entry): only the
    /// watch's position moves (see `Store::catalog_position`).
    Moved { revision: Revision },
}

/// See [`Store::stats_snapshot`]. Counters only grow while the store is open.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// Bytes written to the journal.
    pub bytes_written: u64,
    /// Group commits (one write, and with full durability one fdatasync, each).
    pub groups: u64,
    pub syncs: u64,
    pub sync_seconds: Option<crate::meter::HistogramSnapshot>,
    /// Commands (appends, log changes) per group commit.
    pub group_commands: Option<crate::meter::HistogramSnapshot>,
    /// Journal segments on disk and their bytes (data and index files).
    pub segments: u64,
    pub bytes_on_disk: u64,
    /// Free bytes for an unprivileged user on the data directory's file system.
    pub free_bytes: Option<u64>,
    /// Bytes of journal files given back (segments deleted, or shrunk by compaction).
    pub reclaimed_bytes: u64,
    /// Compactions (rewrites of mostly dead segments), and the live bytes they copied.
    pub compactions: u64,
    pub compacted_bytes: u64,
}
