//! The durable store: a shared journal of segment files (group-committed by one writer
//! thread fed by a queue bounded in bytes), per-log frame indexes in memory for the segment
//! being written and index files beside sealed segments, a bounded cache of open sealed
//! segment files, a catalog of small atomically replaced files with compare-and-set, and a
//! durable mark that keeps log ids from ever being reused. See `docs/storage.md` for the
//! format, the bounds and the recovery rules, and `docs/decisions/` for why this design.

mod catalog;
mod compaction;
mod files;
pub use files::OPEN_SEALED_FILES;
pub mod format;
pub mod index;
mod journal;
mod log_ids;
mod recovery;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{oneshot, watch};

use super::{Appended, Expect, Extent, LogId, NewRecord, ReadBatch, Result, Revision, Store, StoreError, StoreStats};
use catalog::FileCatalog;
use files::SegmentFiles;
use index::{FrameCache, FrameRef, LogIndex, SealedRun};
use journal::Command;
use log_ids::LogIds;

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After fdatasync: survives kill -9 and power loss.
    Full,
    /// After write(); the journal is synced at this interval, so a power loss (not a crash of
    /// the process alone) can lose up to this much acknowledged data.
    Relaxed(Duration),
}

#[derive(Debug, Clone)]
pub struct DiskOptions {
    pub durability: Durability,
    /// A segment is sealed and a new one started past this size.
    pub segment_bytes: u64,
}

impl Default for DiskOptions {
    fn default() -> Self {
        DiskOptions { durability: Durability::Full, segment_bytes: 64 * 1024 * 1024 }
    }
}

/// Counters of the journal writer, for benchmarks and metrics.
#[derive(Debug)]
pub struct JournalStats {
    pub groups: std::sync::atomic::AtomicU64,
    pub syncs: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
    /// How long each fdatasync of the journal took, in microseconds.
    pub sync_micros: crate::meter::Histogram,
    /// Appends (and other commands) committed per group: how well group commit batches.
    pub group_commands: crate::meter::Histogram,
    /// Bytes of segment files deleted or shrunk by retention, log deletion and compaction.
    pub reclaimed_bytes: std::sync::atomic::AtomicU64,
    /// Compactions done, and the bytes of live frames they copied.
    pub compactions: std::sync::atomic::AtomicU64,
    pub compacted_bytes: std::sync::atomic::AtomicU64,
}

/// Bounds of [`JournalStats::group_commands`].
const GROUP_SIZES: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

impl Default for JournalStats {
    fn default() -> Self {
        JournalStats {
            groups: Default::default(),
            syncs: Default::default(),
            bytes: Default::default(),
            sync_micros: crate::meter::Histogram::new(crate::meter::LATENCY_MICROS),
            group_commands: crate::meter::Histogram::new(GROUP_SIZES),
            reclaimed_bytes: Default::default(),
            compactions: Default::default(),
            compacted_bytes: Default::default(),
        }
    }
}

/// What readers share with the writer.
pub struct Shared {
    pub stats: JournalStats,
    /// Room in the writer's queue, in bytes (see `journal::QUEUE_BYTES`): a caller takes its
    /// command's share before queueing it, and the writer gives it back once the command's
    /// group is committed. Closed when the writer stops.
    queue: tokio::sync::Semaphore,
    /// Held by a test to stop the writer before its next commit.
    #[cfg(test)]
    pause: Mutex<()>,
    logs: RwLock<HashMap<LogId, Arc<RwLock<LogIndex>>>>,
    /// Segment files open for reading: the active one, and a bounded cache of sealed ones.
    files: SegmentFiles,
    cache: Mutex<FrameCache>,
    /// Held (shared) by every read and seek from the moment it looks at a log's index until
    /// it has read its frames, and (exclusively) by a compaction while it switches readers to
    /// the segment it wrote: no read mixes the old files' offsets with the new ones.
    layout: RwLock<()>,
    /// Held while segments are reclaimed or compacted: one at a time, so a compaction never
    /// reads a segment that reclaim is deleting.
    maintenance: Mutex<()>,
    /// A compaction in a test stops at this point as a crash there would.
    #[cfg(test)]
    crash_at: Mutex<Option<&'static str>>,
}

/// Bounds of the store's memory and descriptors: `open` takes the defaults, tests shrink them.
#[derive(Debug, Clone, Copy)]
struct Limits {
    queue_bytes: usize,
    open_sealed_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { queue_bytes: journal::QUEUE_BYTES, open_sealed_files: files::OPEN_SEALED_FILES }
    }
}

/// Frame lists of sealed segments kept in memory at most (40 bytes each: 2.5 MiB). A reader
/// behind the tip reads one run at a time, in calls of up to 10,000 records, so the cache needs
/// the run each catching-up reader is in; a run is one log's share of a segment (a few thousand
/// frames at usual batch sizes), so this holds a dozen or more. Readers following the tip
/// fill it with the end of every run just sealed, which they never read again: in a 20-minute
/// soak the cache took 5 MB of a 12 MB live heap on its way to the old bound (256 Ki frames,
/// 10 MiB), most of the heap's growth.
const FRAME_CACHE_CAPACITY: usize = 64 * 1024;

/// Where the frames a read needs come from, in position order.
enum Source {
    Sealed(LogId, SealedRun),
    Live(Vec<FrameRef>),
}

impl Shared {
    fn log(&self, id: LogId) -> Result<Arc<RwLock<LogIndex>>> {
        self.logs.read().get(&id).cloned().ok_or(StoreError::NoSuchLog(id))
    }
}

pub struct DiskStore {
    journal_dir: PathBuf,
    shared: Arc<Shared>,
    commands: Mutex<Option<Sender<Command>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Wakes the maintenance thread (a queue of one: one waiting wake-up covers any number
    /// of trims); dropped to stop it.
    maintain: Mutex<Option<std::sync::mpsc::SyncSender<()>>>,
    maintainer: Mutex<Option<std::thread::JoinHandle<()>>>,
    catalog: Arc<FileCatalog>,
    log_ids: Arc<LogIds>,
    queue_bytes: usize,
    segment_bytes: u64,
    /// Held for the store's life: one kinesd per data directory.
    _lock: File,
}

/// How long opening waits for the data directory's lock before saying another process has it.
/// A lock this process let go of can look held for a moment: a child forked by another thread
/// holds a copy of every descriptor, the lock's included, until it execs (tests that close a
/// store and open it again while others spawn servers hit this in 3 opens of 5).
const LOCK_WAIT: Duration = Duration::from_secs(2);

impl DiskStore {
    pub fn open(dir: &Path, options: DiskOptions) -> std::io::Result<DiskStore> {
        DiskStore::open_with(dir, options, Limits::default())
    }

    fn open_with(dir: &Path, options: DiskOptions, limits: Limits) -> std::io::Result<DiskStore> {
        // create_dir_all would say only "File exists".
        if dir.metadata().is_ok_and(|m| !m.is_dir()) {
            return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, "it is a file, not a directory"));
        }
        std::fs::create_dir_all(dir)?;
        let lock = File::create(dir.join("LOCK"))?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(std::io::Error::other(format!(
                        "{} is in use by another kinesd process",
                        dir.display()
                    )));
                }
            }
        }
        let catalog = Arc::new(FileCatalog::open(dir.join("catalog"))?);
        let journal_dir = dir.join("journal");
        let started = std::time::Instant::now();
        let recovered = recovery::recover(&journal_dir)?;
        let records: u64 = recovered.logs.values().map(|l| l.tip - l.trim).sum();
        tracing::info!(
            logs = recovered.logs.len(),
            segments = recovered.segments.len(),
            records,
            ms = started.elapsed().as_millis() as u64,
            "journal recovered"
        );
        let log_ids = Arc::new(LogIds::open(dir, recovered.max_log_id)?);
        let shared = Arc::new(Shared {
            stats: JournalStats::default(),
            queue: tokio::sync::Semaphore::new(limits.queue_bytes),
            #[cfg(test)]
            pause: Mutex::new(()),
            logs: RwLock::new(recovered.logs.into_iter().map(|(id, l)| (id, Arc::new(RwLock::new(l)))).collect()),
            files: SegmentFiles::new(
                journal_dir.clone(),
                recovered.segments,
                (recovered.writer.segment, recovered.writer.file.try_clone()?),
                limits.open_sealed_files,
            ),
            cache: Mutex::new(FrameCache::new(FRAME_CACHE_CAPACITY)),
            layout: RwLock::new(()),
            maintenance: Mutex::new(()),
            #[cfg(test)]
            crash_at: Mutex::new(None),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = journal::Writer::new(
            journal_dir.clone(),
            shared.clone(),
            options.durability,
            options.segment_bytes,
            limits.queue_bytes,
            recovered.writer,
        );
        let handle = std::thread::Builder::new().name("kinesd-journal".into()).spawn(move || writer.run(rx))?;
        let (wake_maintainer, wake) = std::sync::mpsc::sync_channel(1);
        let maintainer = {
            let (dir, shared) = (journal_dir.clone(), shared.clone());
            let max_live = options.segment_bytes;
            std::thread::Builder::new().name("kinesd-compact".into()).spawn(move || {
                // Runs after every trim or deletion that freed something, until the store closes.
                while wake.recv().is_ok() {
                    if let Err(e) = maintain(&dir, &shared, max_live) {
                        tracing::error!(error = %e, "journal compaction failed; the old segments are kept and it is tried again later");
                    }
                }
            })?
        };
        Ok(DiskStore {
            journal_dir,
            shared,
            commands: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            maintain: Mutex::new(Some(wake_maintainer)),
            maintainer: Mutex::new(Some(maintainer)),
            catalog,
            log_ids,
            queue_bytes: limits.queue_bytes,
            segment_bytes: options.segment_bytes,
            _lock: lock,
        })
    }

    /// Queues a command for the writer, waiting for room in the queue first (back-pressure).
    async fn send(&self, cmd: Command) -> Result<()> {
        let stopped = || StoreError::Io(std::io::Error::other("the journal writer has stopped"));
        let room = self.shared.queue.acquire_many(cmd.queued_bytes(self.queue_bytes)).await.map_err(|_| stopped())?;
        match self.commands.lock().as_ref() {
            Some(tx) => tx.send(cmd).map_err(|_| stopped())?,
            None => return Err(StoreError::Io(std::io::Error::other("the store is closed"))),
        }
        // Queued: the writer gives the room back when the command's group is committed. (Had
        // the caller gone away before this point, dropping `room` would have given it back.)
        room.forget();
        Ok(())
    }

    pub fn stats(&self) -> &JournalStats {
        &self.shared.stats
    }

    /// Segments on disk and their bytes (data and index files), read from the file system.
    fn disk_usage(&self) -> (u64, u64) {
        let segments = self.shared.files.on_disk();
        let mut bytes = 0;
        for &(id, meta) in &segments {
            for path in [
                journal::segment_path(&self.journal_dir, id, meta.generation),
                journal::index_path(&self.journal_dir, id, meta.generation),
            ] {
                bytes += std::fs::metadata(path).map_or(0, |m| m.len());
            }
        }
        (segments.len() as u64, bytes)
    }

    /// Stops the writer after it has committed everything queued, and the maintenance thread
    /// after the compaction it is doing, if any.
    pub fn close(&self) {
        self.commands.lock().take();
        if let Some(handle) = self.writer.lock().take() {
            let _ = handle.join();
        }
        self.maintain.lock().take();
        if let Some(handle) = self.maintainer.lock().take() {
            let _ = handle.join();
        }
    }

    /// Gives back the space of segments nobody needs now, at once unless a compaction is
    /// running (then the maintenance thread does it next), and wakes the maintenance thread to
    /// compact what is mostly dead.
    fn reclaim(&self) -> Result<()> {
        if let Some(_held) = self.shared.maintenance.try_lock() {
            let freed = compaction::reclaim(&self.journal_dir, &self.shared)?;
            self.shared.stats.reclaimed_bytes.fetch_add(freed, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(wake) = self.maintain.lock().as_ref() {
            // Full: a wake-up is already waiting, and it will see this change too.
            let _ = wake.try_send(());
        }
        Ok(())
    }

    /// Reclaims and compacts until nothing is left worth doing, in the caller's thread (the
    /// maintenance thread does the same in the background); returns how many compactions ran.
    pub fn compact_now(&self) -> std::io::Result<usize> {
        maintain(&self.journal_dir, &self.shared, self.segment_bytes)
    }

    /// A sealed run's frame list, from the cache or its index file; None if retention has
    /// deleted the segment since the caller looked at the log's index.
    fn run_frames(&self, log: LogId, run: &SealedRun) -> Result<Option<Arc<Vec<FrameRef>>>> {
        if let Some(frames) = self.shared.cache.lock().get(run.segment, log) {
            return Ok(Some(frames));
        }
        let Some(file) = self.shared.files.index(run.segment)? else { return Ok(None) };
        let frames = Arc::new(index::read_run_frames(&file, run).map_err(|e| {
            tracing::error!(segment = run.segment, error = %e, "cannot read a segment index");
            StoreError::Corrupt(e)
        })?);
        self.shared.cache.lock().insert(run.segment, log, frames.clone());
        Ok(Some(frames))
    }

    /// Reads one frame through `open`, the data file of the segment the previous frame was in
    /// (frames of a read mostly share a segment, so the file is looked up once per segment);
    /// None if its segment has just been deleted by retention.
    fn read_frame(&self, frame: &FrameRef, open: &mut Option<(u64, Arc<File>)>) -> Result<Option<Bytes>> {
        if open.as_ref().is_none_or(|(segment, _)| *segment != frame.segment) {
            *open = self.shared.files.data(frame.segment)?.map(|file| (frame.segment, file));
        }
        let Some((_, file)) = open.as_ref() else { return Ok(None) };
        let mut buf = vec![0u8; frame.len as usize];
        file.read_exact_at(&mut buf, frame.offset)?;
        Ok(Some(Bytes::from(buf)))
    }

    /// Decodes the records of `frame` into `batch`; false when a limit stopped it.
    fn read_into(
        &self,
        frame: &FrameRef,
        open: &mut Option<(u64, Arc<File>)>,
        start: u64,
        batch: &mut ReadBatch,
        max_records: usize,
        budget: &mut usize,
    ) -> Result<bool> {
        let Some(bytes) = self.read_frame(frame, open)? else {
            // Retention removed it between the index lookup and now: nothing to serve.
            return Ok(true);
        };
        let header = format::check_frame(&bytes).map_err(|e| {
            tracing::error!(segment = frame.segment, offset = frame.offset, problem = ?e, "a journal frame failed its checksum on read");
            StoreError::Corrupt(format!("journal segment {} is damaged at offset {}", frame.segment, frame.offset))
        })?;
        Ok(format::decode_records(&bytes, &header, start, &mut batch.records, max_records, budget))
    }
}

impl Drop for DiskStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// One maintenance pass: reclaim, then compact while a stretch of segments is worth it.
fn maintain(dir: &Path, shared: &Shared, max_live: u64) -> std::io::Result<usize> {
    let _held = shared.maintenance.lock();
    let freed = compaction::reclaim(dir, shared)?;
    shared.stats.reclaimed_bytes.fetch_add(freed, std::sync::atomic::Ordering::Relaxed);
    let mut done = 0;
    while let Some(group) = compaction::plan(shared, max_live) {
        let c = compaction::compact(dir, shared, &group)?;
        shared
            .stats
            .reclaimed_bytes
            .fetch_add(c.bytes_before.saturating_sub(c.bytes_after), std::sync::atomic::Ordering::Relaxed);
        done += 1;
    }
    Ok(done)
}

async fn answer<T>(rx: oneshot::Receiver<Result<T>>) -> Result<T> {
    rx.await.unwrap_or_else(|_| Err(StoreError::Io(std::io::Error::other("the journal writer has stopped"))))
}

/// Runs file-system work off the async workers.
async fn blocking<T: Send + 'static, E: Into<StoreError> + Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, E> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Into::into),
        Err(e) => Err(StoreError::Io(std::io::Error::other(e.to_string()))),
    }
}

#[async_trait]
impl Store for DiskStore {
    async fn catalog_load(&self) -> Result<Vec<(String, Bytes, Revision)>> {
        let catalog = self.catalog.clone();
        blocking(move || catalog.load()).await
    }

    async fn catalog_get(&self, key: &str) -> Result<Option<(Bytes, Revision)>> {
        let (catalog, key) = (self.catalog.clone(), key.to_owned());
        blocking(move || catalog.get(&key)).await
    }

    async fn catalog_put(&self, key: &str, value: Bytes, expect: Expect) -> Result<Revision> {
        let (catalog, key) = (self.catalog.clone(), key.to_owned());
        blocking(move || catalog.put(&key, &value, expect)).await
    }

    async fn catalog_delete(&self, key: &str, expect: Revision) -> Result<()> {
        let (catalog, key) = (self.catalog.clone(), key.to_owned());
        blocking(move || catalog.delete(&key, expect)).await
    }

    async fn logs(&self) -> Result<Vec<LogId>> {
        Ok(self.shared.logs.read().keys().copied().collect())
    }

    async fn create_log(&self) -> Result<LogId> {
        let log = match self.log_ids.take_reserved() {
            Some(log) => log,
            None => {
                let ids = self.log_ids.clone();
                blocking(move || ids.allocate()).await?
            }
        };
        let (reply, rx) = oneshot::channel();
        self.send(Command::Create { log, reply }).await?;
        answer(rx).await?;
        Ok(log)
    }

    async fn delete_log(&self, log: LogId) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Delete { log, reply }).await?;
        answer(rx).await?;
        self.reclaim()
    }

    async fn append(&self, log: LogId, records: Vec<NewRecord>, now_ms: u64) -> Result<Appended> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Append { log, records, now_ms, reply }).await?;
        answer(rx).await
    }

    async fn read(&self, log: LogId, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let _layout = self.shared.layout.read();
        let (sources, start, tip) = {
            let index = self.shared.log(log)?;
            let index = index.read();
            let start = from.max(index.trim);
            let mut sources: Vec<Source> =
                index.sealed.iter().filter(|r| r.end_position > start).map(|r| Source::Sealed(log, *r)).collect();
            // Live frames: just enough to cover the record limit.
            let first = index.live.partition_point(|f| f.end_position() <= start);
            let mut live = Vec::new();
            let mut records = 0usize;
            for f in &index.live[first..] {
                if records >= max_records {
                    break;
                }
                records += f.count as usize;
                live.push(*f);
            }
            sources.push(Source::Live(live));
            (sources, start, index.tip)
        };
        let mut batch = ReadBatch { records: Vec::new(), next: start, tip };
        let mut budget = max_bytes;
        let mut open = None;
        'sources: for source in sources {
            let frames = match source {
                Source::Sealed(log, run) => match self.run_frames(log, &run)? {
                    Some(frames) => frames,
                    // Trimmed away since the index was looked at: nothing to serve.
                    None => continue,
                },
                Source::Live(frames) => Arc::new(frames),
            };
            for f in frames.iter().filter(|f| f.end_position() > start) {
                if !self.read_into(f, &mut open, start, &mut batch, max_records, &mut budget)?
                    || batch.records.len() >= max_records
                {
                    break 'sources;
                }
            }
        }
        batch.next = batch.records.last().map_or(start, |r| r.position + 1);
        Ok(batch)
    }

    async fn extent(&self, log: LogId) -> Result<Extent> {
        let index = self.shared.log(log)?;
        let index = index.read();
        Ok(Extent { trim: index.trim, tip: index.tip })
    }

    async fn seek_time(&self, log: LogId, at_ms: u64) -> Result<u64> {
        let _layout = self.shared.layout.read();
        let (run, live_hit, trim, tip) = {
            let index = self.shared.log(log)?;
            let index = index.read();
            let run = index.sealed.iter().find(|r| r.last_arrival_ms >= at_ms).copied();
            let i = index.live.partition_point(|f| f.arrival_ms < at_ms);
            (run, index.live.get(i).map(|f| f.first_position), index.trim, index.tip)
        };
        let position = match run {
            // The whole run is at or after the time (a retention pass before anything expired):
            // no need to read, and cache, its frame list.
            Some(run) if run.first_arrival_ms >= at_ms => run.first_position,
            Some(run) => match self.run_frames(log, &run)? {
                Some(frames) => {
                    let i = frames.partition_point(|f| f.arrival_ms < at_ms);
                    frames.get(i).map_or(run.end_position, |f| f.first_position)
                }
                // Trimmed away meanwhile: everything in the run is gone.
                None => run.end_position,
            },
            None => live_hit.unwrap_or(tip),
        };
        Ok(position.max(trim))
    }

    async fn trim(&self, log: LogId, before_ms: u64) -> Result<()> {
        let position = self.seek_time(log, before_ms).await?;
        let index = self.shared.log(log)?;
        if position <= index.read().trim {
            return Ok(());
        }
        // Durable first: readers' horizon moves (and space is given back) only for a trim that
        // a restart will find again, so trimmed records never come back.
        let (reply, rx) = oneshot::channel();
        self.send(Command::Trim { log, position, reply }).await?;
        answer(rx).await?;
        index.write().trim_to(position);
        self.reclaim()
    }

    fn stats_snapshot(&self) -> StoreStats {
        let stats = &self.shared.stats;
        let (segments, bytes_on_disk) = self.disk_usage();
        let free_bytes = rustix::fs::statvfs(&self.journal_dir).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize));
        StoreStats {
            bytes_written: crate::meter::read(&stats.bytes),
            groups: crate::meter::read(&stats.groups),
            syncs: crate::meter::read(&stats.syncs),
            sync_seconds: Some(stats.sync_micros.snapshot(1e-6)),
            group_commands: Some(stats.group_commands.snapshot(1.0)),
            segments,
            bytes_on_disk,
            free_bytes,
            reclaimed_bytes: crate::meter::read(&stats.reclaimed_bytes),
            compactions: crate::meter::read(&stats.compactions),
            compacted_bytes: crate::meter::read(&stats.compacted_bytes),
        }
    }

    fn watch_tip(&self, log: LogId) -> Result<watch::Receiver<u64>> {
        self.shared.log(log)?.write().watch_tip().ok_or(StoreError::NoSuchLog(log))
    }
}

#[cfg(test)]
mod tests;
