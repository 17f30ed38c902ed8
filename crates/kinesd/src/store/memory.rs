//! The in-memory store: `--in-memory`, and the reference the other stores are tested against.
//!
//! Each log sits behind its own lock, so appends to different shards never contend; an append
//! holds its log's write lock while it assigns positions and pushes, so readers see whole
//! batches in position order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::{Appended, Expect, Extent, LogId, NewRecord, ReadBatch, Result, Revision, Store, StoreError, StoredRecord};

#[derive(Default)]
struct Log {
    /// Position of `records[0]`.
    trim: u64,
    records: VecDeque<StoredRecord>,
    last_arrival_ms: u64,
    /// Created on the first `watch_tip`, so that appends to unwatched logs send nothing.
    tip_watch: Option<watch::Sender<u64>>,
    /// Set (and the watch dropped) by `delete_log`, for callers still holding the log.
    deleted: bool,
}

impl Log {
    fn tip(&self) -> u64 {
        self.trim + self.records.len() as u64
    }
}

/// The catalog's entries, and the last revision handed out (revisions count writes across all
/// keys, so a key deleted and created again never returns to an old revision).
#[derive(Default)]
struct Catalog {
    entries: HashMap<String, (Bytes, Revision)>,
    last_revision: u64,
}

impl Catalog {
    /// Fails unless `key` is in the state `expect` names.
    fn check(&self, key: &str, expect: Expect) -> Result<()> {
        let found = self.entries.get(key).map(|(_, r)| *r);
        let matches = match expect {
            Expect::Absent => found.is_none(),
            Expect::Revision(r) => found == Some(r),
        };
        if matches { Ok(()) } else { Err(StoreError::Conflict { key: key.to_owned(), expected: expect, found }) }
    }
}

#[derive(Default)]
pub struct MemoryStore {
    /// One lock for check and write together: that is what makes the writes compare-and-set.
    catalog: Mutex<Catalog>,
    logs: RwLock<HashMap<LogId, Arc<RwLock<Log>>>>,
    last_log_id: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn log(&self, id: LogId) -> Result<Arc<RwLock<Log>>> {
        self.logs.read().get(&id).cloned().ok_or(StoreError::NoSuchLog(id))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn catalog_load(&self) -> Result<Vec<(String, Bytes, Revision)>> {
        Ok(self.catalog.lock().entries.iter().map(|(k, (v, r))| (k.clone(), v.clone(), *r)).collect())
    }

    async fn catalog_get(&self, key: &str) -> Result<Option<(Bytes, Revision)>> {
        Ok(self.catalog.lock().entries.get(key).cloned())
    }

    async fn catalog_put(&self, key: &str, value: Bytes, expect: Expect) -> Result<Revision> {
        let mut catalog = self.catalog.lock();
        catalog.check(key, expect)?;
        catalog.last_revision += 1;
        let revision = Revision(catalog.last_revision);
        catalog.entries.insert(key.to_owned(), (value, revision));
        Ok(revision)
    }

    async fn catalog_delete(&self, key: &str, expect: Revision) -> Result<()> {
        let mut catalog = self.catalog.lock();
        catalog.check(key, Expect::Revision(expect))?;
        catalog.entries.remove(key);
        Ok(())
    }

    async fn logs(&self) -> Result<Vec<LogId>> {
        Ok(self.logs.read().keys().copied().collect())
    }

    async fn create_log(&self) -> Result<LogId> {
        // Ids start at 1; nothing outlives the process, so a counter is enough.
        let id = LogId(self.last_log_id.fetch_add(1, Ordering::Relaxed) + 1);
        self.logs.write().insert(id, Default::default());
        Ok(id)
    }

    async fn delete_log(&self, id: LogId) -> Result<()> {
        let removed = self.logs.write().remove(&id);
        if let Some(log) = removed {
            let mut log = log.write();
            log.deleted = true;
            // Dropping the sender ends every subscriber's wait.
            log.tip_watch = None;
        }
        Ok(())
    }

    async fn append(&self, id: LogId, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended> {
        let log = self.log(id)?;
        let mut log = log.write();
        let arrival_ms = now_ms.max(log.last_arrival_ms);
        log.last_arrival_ms = arrival_ms;
        let first_position = log.tip();
        for (i, r) in records.into_iter().enumerate() {
            log.records.push_back(StoredRecord {
                position: first_position + i as u64,
                arrival_ms,
                partition_key: r.partition_key,
                data: r.data,
                flags: r.flags,
            });
        }
        // Still under the write lock: a woken subscriber's read waits for it, then sees all.
        if let Some(watch) = &log.tip_watch {
            watch.send_replace(log.tip());
        }
        Ok(Appended { first_position, arrival_ms })
    }

    async fn read(&self, id: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let log = self.log(id)?;
        let log = log.read();
        let start = from.max(log.trim);
        let tip = log.tip();
        let mut batch = ReadBatch { records: Vec::new(), next: start, tip };
        if start >= tip {
            return Ok(batch);
        }
        let mut bytes = 0usize;
        for r in log.records.range((start - log.trim) as usize..) {
            let size = r.data.len() + r.partition_key.len();
            if batch.records.len() >= max_records || (!batch.records.is_empty() && bytes + size > max_bytes) {
                break;
            }
            bytes += size;
            batch.records.push(r.clone());
        }
        batch.next = start + batch.records.len() as u64;
        Ok(batch)
    }

    async fn extent(&self, id: LogId) -> Result<Extent> {
        let log = self.log(id)?;
        let log = log.read();
        Ok(Extent { trim: log.trim, tip: log.tip() })
    }

    async fn seek_time(&self, id: LogId, at_ms: u64) -> Result<u64> {
        let log = self.log(id)?;
        let log = log.read();
        let idx = log.records.partition_point(|r| r.arrival_ms < at_ms);
        Ok(log.trim + idx as u64)
    }

    async fn trim(&self, id: LogId, before_ms: u64) -> Result<()> {
        let log = self.log(id)?;
        let mut log = log.write();
        while log.records.front().is_some_and(|r| r.arrival_ms < before_ms) {
            log.records.pop_front();
            log.trim += 1;
        }
        Ok(())
    }

    fn watch_tip(&self, id: LogId) -> Result<watch::Receiver<u64>> {
        let log = self.log(id)?;
        let mut log = log.write();
        if log.deleted {
            return Err(StoreError::NoSuchLog(id));
        }
        let tip = log.tip();
        Ok(log.tip_watch.get_or_insert_with(|| watch::channel(tip).0).subscribe())
    }
}
