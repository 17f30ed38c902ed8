//! The store seam: everything kinesd keeps, behind one async trait.
//!
//! A store holds two things: the *catalog* (small metadata values, each replaced atomically by
//! key — stream descriptions, the iterator secret) and *shard logs* (append-only sequences of
//! records addressed by position). It knows nothing of Kinesis validation or wire formats; the
//! engine serialises its own metadata into catalog values. Implementations: memory (here), and
//! later a disk log and a JetStream cluster.
//!
//! Invariants every implementation keeps:
//! - positions in a log are assigned by the store, strictly increasing, starting at 0;
//! - arrival times never decrease along a log (AT_TIMESTAMP seeks rely on it);
//! - a reader never sees a position before every lower position is visible;
//! - appends to different logs never wait on each other.

pub mod disk;
pub mod memory;

use async_trait::async_trait;
use bytes::Bytes;

/// Identifies one shard's log. Allocated by the engine, never reused.
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("log {0:?} does not exist")]
    NoSuchLog(LogId),
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every catalog value, for start-up.
    async fn catalog_load(&self) -> Result<Vec<(String, Bytes)>>;
    /// Replaces (or creates) one catalog value atomically and durably.
    async fn catalog_put(&self, key: &str, value: Bytes) -> Result<()>;
    /// Removes one catalog value atomically and durably; absent keys are fine.
    async fn catalog_delete(&self, key: &str) -> Result<()>;

    /// Every log the store holds (the engine deletes those its catalog no longer names, which
    /// a crash between the two updates can leave behind).
    async fn logs(&self) -> Result<Vec<LogId>>;

    async fn create_log(&self, log: LogId) -> Result<()>;
    /// Removes a log and frees its space; absent logs are fine.
    async fn delete_log(&self, log: LogId) -> Result<()>;

    /// Appends records in order. `now_ms` is the caller's clock; the store raises it to keep
    /// arrival times monotonic along the log. Returns once the records are as durable as the
    /// store promises.
    async fn append(&self, log: LogId, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended>;

    /// Reads from `from` (clamped up to the trim horizon), at most `max_records` records and at
    /// most `max_bytes` of data + partition keys — but always at least one record if any exists.
    async fn read(&self, log: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch>;

    async fn extent(&self, log: LogId) -> Result<Extent>;

    /// The first position whose arrival time is at or after `at_ms` (the tip if none).
    async fn seek_time(&self, log: LogId, at_ms: u64) -> Result<u64>;

    /// Drops records that arrived before `before_ms`.
    async fn trim(&self, log: LogId, before_ms: u64) -> Result<()>;
}
