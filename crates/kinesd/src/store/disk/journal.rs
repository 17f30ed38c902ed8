//! The journal: one append-only sequence of segment files shared by every log, written by a
//! single thread that commits groups of appends with one write and one fdatasync.
//!
//! Group commit: while one group is being synced, new appends queue in the channel (bounded
//! in bytes, see `QUEUE_BYTES`); the next round takes everything queued (up to
//! `MAX_GROUP_BYTES`) and pays one sync for all of it, whatever the number of shards and
//! writers. A caller is answered only after its group is synced (or, in
//! relaxed mode, written), and only then do readers see the records.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::catalog::sync_dir;
use super::format::{self, FrameKind};
use super::index::{FrameRef, LogTip, SegmentIndex};
use super::{Durability, Shared};
use crate::store::{Appended, LogId, NewRecord, StoreError};

/// A round takes at most this many bytes of queued appends.
pub const MAX_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// Memory that commands queued for the writer, or in the group it is committing, may hold at
/// most (record bytes plus their bookkeeping; see `Command::queued_bytes`). Two full groups:
/// while one is written and synced the next can fill up completely, so the writer never
/// waits for input while callers have some; past that, callers wait for room (back-pressure)
/// instead of the queue growing without end when appends arrive faster than the disk syncs.
pub const QUEUE_BYTES: usize = 2 * MAX_GROUP_BYTES;

/// The group buffer's capacity kept between rounds at most. A burst (a stall that let a large
/// group pile up) grows it towards `MAX_GROUP_BYTES`; keeping that forever would hold up to
/// 32 MiB a steady load never uses again, so a buffer grown past this is given back after its
/// round. Rounds this large are rare, and one allocation is nothing beside their fsync.
const KEPT_BUF_BYTES: usize = 1 << 20;

/// Frees a group buffer that a burst grew past `KEPT_BUF_BYTES` (after its round was written).
fn give_back_burst(buf: &mut Vec<u8>) {
    if buf.capacity() > KEPT_BUF_BYTES {
        *buf = Vec::with_capacity(KEPT_BUF_BYTES);
    }
}

pub enum Command {
    Append {
        log: LogId,
        records: Vec<NewRecord>,
        now_ms: u64,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    Create {
        log: LogId,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Delete {
        log: LogId,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Records of `log` before `position` are gone: written as a trim frame (and carried in
    /// every later segment's log table), so a restart never serves them again.
    Trim {
        log: LogId,
        position: u64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

impl Command {
    /// Bytes it adds to a group's write.
    fn size(&self) -> usize {
        match self {
            Command::Append { records, .. } => records.iter().map(|r| r.data.len() + r.partition_key.len() + 7).sum(),
            _ => 64,
        }
    }

    /// What it counts against `QUEUE_BYTES`: the memory it holds while queued, clamped to the
    /// bound so that even an oversized command can be admitted (alone).
    pub fn queued_bytes(&self, bound: usize) -> u32 {
        let held = match self {
            Command::Append { records, .. } => {
                records.iter().map(|r| r.data.len() + r.partition_key.len() + size_of::<NewRecord>()).sum()
            }
            _ => 0,
        } + size_of::<Command>();
        held.min(bound).min(u32::MAX as usize) as u32
    }
}

/// A segment's data file. `generation` counts the times compaction rewrote the segment: the
/// writer's file is generation 0 (`<id>.log`), a rewrite gets a new name (`<id>.<gen>.log`), so
/// that the old files stay whole until the new ones are complete.
pub fn segment_path(dir: &Path, id: u64, generation: u32) -> PathBuf {
    match generation {
        0 => dir.join(format!("{id:020}.log")),
        g => dir.join(format!("{id:020}.{g}.log")),
    }
}

pub fn index_path(dir: &Path, id: u64, generation: u32) -> PathBuf {
    match generation {
        0 => dir.join(format!("{id:020}.idx")),
        g => dir.join(format!("{id:020}.{g}.idx")),
    }
}

/// Which segment file a journal file name is: (id, generation, is the data file); None for
/// anything else.
pub fn parse_file_name(name: &str) -> Option<(u64, u32, bool)> {
    let (stem, data) = match (name.strip_suffix(".log"), name.strip_suffix(".idx")) {
        (Some(stem), _) => (stem, true),
        (_, Some(stem)) => (stem, false),
        _ => return None,
    };
    let (id, generation) = match stem.split_once('.') {
        Some((id, g)) => (id, g.parse().ok()?),
        None => (stem, 0),
    };
    Some((id.parse().ok()?, generation, data))
}

/// The state the writer starts from, as recovery found it.
pub struct WriterState {
    pub segment: u64,
    pub file: File,
    pub len: u64,
    pub tips: HashMap<LogId, LogTip>,
    pub frames_in_segment: Vec<(LogId, FrameRef)>,
}

pub struct Writer {
    dir: PathBuf,
    shared: Arc<Shared>,
    /// The queue's bound, to compute what each command gives back when it is done.
    queue_bytes: usize,
    durability: Durability,
    segment_bytes: u64,
    state: WriterState,
    buf: Vec<u8>,
    last_sync: Instant,
    unsynced: bool,
}

/// What one command of a group did, to publish once the group is durable.
enum Effect {
    Frame(LogId, FrameRef),
    Changed,
    None,
}

impl Writer {
    pub fn new(
        dir: PathBuf,
        shared: Arc<Shared>,
        durability: Durability,
        segment_bytes: u64,
        queue_bytes: usize,
        state: WriterState,
    ) -> Writer {
        Writer {
            dir,
            shared,
            queue_bytes,
            durability,
            segment_bytes,
            state,
            buf: Vec::with_capacity(KEPT_BUF_BYTES),
            last_sync: Instant::now(),
            unsynced: false,
        }
    }

    /// Runs until every sender is gone, then syncs what is left.
    pub fn run(mut self, rx: Receiver<Command>) {
        // However the writer ends (even by a panic), callers waiting for room in the queue
        // must not wait for ever.
        struct CloseQueue(Arc<Shared>);
        impl Drop for CloseQueue {
            fn drop(&mut self) {
                self.0.queue.close();
            }
        }
        let _close = CloseQueue(self.shared.clone());
        let mut group = Vec::new();
        loop {
            let first = match self.durability {
                Durability::Full => match rx.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                },
                Durability::Relaxed(interval) => match rx.recv_timeout(interval) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => {
                        self.sync_if_due(interval);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            let mut bytes = first.size();
            group.push(first);
            while bytes < MAX_GROUP_BYTES {
                match rx.try_recv() {
                    Ok(c) => {
                        bytes += c.size();
                        group.push(c);
                    }
                    Err(_) => break,
                }
            }
            let queued: usize = group.iter().map(|c| c.queued_bytes(self.queue_bytes) as usize).sum();
            // A test that holds `pause` keeps the writer here, with this group in hand.
            #[cfg(test)]
            drop(self.shared.pause.lock());
            self.shared.stats.group_commands.observe(group.len() as u64);
            self.commit(&mut group);
            // The group is done and its memory freed: make room for the next commands.
            self.shared.queue.add_permits(queued);
            if let Durability::Relaxed(interval) = self.durability {
                self.sync_if_due(interval);
            }
        }
        if self.unsynced {
            let _ = self.state.file.sync_data();
        }
    }

    fn sync_if_due(&mut self, interval: Duration) {
        if self.unsynced && self.last_sync.elapsed() >= interval {
            let started = Instant::now();
            match self.state.file.sync_data() {
                Ok(()) => {
                    self.unsynced = false;
                    self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
                    self.shared.stats.sync_micros.observe(started.elapsed().as_micros() as u64);
                }
                Err(e) => tracing::error!(error = %e, "journal sync failed"),
            }
            self.last_sync = Instant::now();
        }
    }

    fn commit(&mut self, group: &mut Vec<Command>) {
        self.buf.clear();
        let base = self.state.len;
        let mut undo: Vec<(LogId, Option<LogTip>)> = Vec::new();
        let mut effects = Vec::with_capacity(group.len());
        for cmd in group.iter_mut() {
            let effect = match cmd {
                Command::Append { log, records, now_ms, .. } => match self.state.tips.get(log).copied() {
                    None => Effect::None,
                    Some(tip) => {
                        let arrival_ms = (*now_ms).max(tip.last_arrival_ms);
                        let offset = base + self.buf.len() as u64;
                        let len =
                            format::encode_frame(&mut self.buf, FrameKind::Records, *log, tip.tip, arrival_ms, records);
                        let count = records.len() as u32;
                        undo.push((*log, Some(tip)));
                        self.state.tips.insert(
                            *log,
                            LogTip { tip: tip.tip + u64::from(count), last_arrival_ms: arrival_ms, ..tip },
                        );
                        Effect::Frame(
                            *log,
                            FrameRef {
                                first_position: tip.tip,
                                arrival_ms,
                                segment: self.state.segment,
                                offset,
                                len: len as u32,
                                count,
                            },
                        )
                    }
                },
                Command::Create { log, .. } => {
                    if self.state.tips.contains_key(log) {
                        Effect::None
                    } else {
                        format::encode_frame(&mut self.buf, FrameKind::CreateLog, *log, 0, 0, &[]);
                        undo.push((*log, None));
                        self.state.tips.insert(*log, LogTip::default());
                        Effect::Changed
                    }
                }
                Command::Delete { log, .. } => match self.state.tips.remove(log) {
                    Some(tip) => {
                        format::encode_frame(&mut self.buf, FrameKind::DeleteLog, *log, 0, 0, &[]);
                        undo.push((*log, Some(tip)));
                        Effect::Changed
                    }
                    None => Effect::None,
                },
                Command::Trim { log, position, .. } => match self.state.tips.get(log).copied() {
                    Some(tip) if (*position).min(tip.tip) > tip.trim => {
                        let trim = (*position).min(tip.tip);
                        format::encode_frame(&mut self.buf, FrameKind::Trim, *log, trim, 0, &[]);
                        undo.push((*log, Some(tip)));
                        self.state.tips.insert(*log, LogTip { trim, ..tip });
                        Effect::Changed
                    }
                    _ => Effect::None,
                },
            };
            effects.push(effect);
        }
        let mut result = self.write_group(base);
        // Even with relaxed durability a trim is synced before it is answered: the caller then
        // gives back the trimmed records' space, and a power loss must not leave a journal
        // whose trim is lost but whose segments are gone (a hole in a log).
        let trimmed =
            group.iter().zip(&effects).any(|(c, e)| matches!((c, e), (Command::Trim { .. }, Effect::Changed)));
        if result.is_ok() && trimmed && self.unsynced {
            result = self.state.file.sync_data();
            if result.is_ok() {
                self.unsynced = false;
                self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Err(e) = &result {
            tracing::error!(error = %e, "journal write failed; the group is refused and nothing of it is kept");
            // Put the logs back as they were, newest change undone first.
            for (log, before) in undo.into_iter().rev() {
                match before {
                    Some(tip) => self.state.tips.insert(log, tip),
                    None => self.state.tips.remove(&log),
                };
            }
            let _ = self.state.file.set_len(base);
        }
        for (cmd, effect) in group.drain(..).zip(effects) {
            let failed = || match &result {
                Err(e) => StoreError::Io(std::io::Error::new(e.kind(), e.to_string())),
                Ok(()) => StoreError::Io(std::io::Error::other("unreachable")),
            };
            match cmd {
                Command::Append { log, reply, .. } => {
                    let answer = match (&result, effect) {
                        (Ok(()), Effect::Frame(log, frame)) => {
                            self.publish_frame(log, frame);
                            Ok(Appended { first_position: frame.first_position, arrival_ms: frame.arrival_ms })
                        }
                        (Ok(()), _) => Err(StoreError::NoSuchLog(log)),
                        (Err(_), _) => Err(failed()),
                    };
                    let _ = reply.send(answer);
                }
                Command::Create { log, reply } => {
                    if result.is_ok() {
                        self.shared.logs.write().entry(log).or_default();
                    }
                    let _ = reply.send(result.as_ref().map(|_| ()).map_err(|_| failed()));
                }
                Command::Delete { log, reply } => {
                    if result.is_ok() {
                        let removed = self.shared.logs.write().remove(&log);
                        if let Some(index) = removed {
                            index.write().close();
                        }
                    }
                    let _ = reply.send(result.as_ref().map(|_| ()).map_err(|_| failed()));
                }
                // The caller moves the readers' trim horizon once the trim is durable.
                Command::Trim { reply, .. } => {
                    let _ = reply.send(result.as_ref().map(|_| ()).map_err(|_| failed()));
                }
            }
        }
        if result.is_ok()
            && self.state.len >= self.segment_bytes
            && let Err(e) = self.roll()
        {
            tracing::error!(error = %e, "could not start a new journal segment; continuing in the current one");
        }
    }

    fn publish_frame(&mut self, log: LogId, frame: FrameRef) {
        self.state.frames_in_segment.push((log, frame));
        let index = self.shared.logs.read().get(&log).cloned();
        if let Some(index) = index {
            index.write().push(frame);
        }
    }

    fn write_group(&mut self, base: u64) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.state.file.write_all_at(&self.buf, base)?;
        let stats = &self.shared.stats;
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        match self.durability {
            Durability::Full => {
                let started = Instant::now();
                self.state.file.sync_data()?;
                stats.syncs.fetch_add(1, Ordering::Relaxed);
                stats.sync_micros.observe(started.elapsed().as_micros() as u64);
                self.last_sync = Instant::now();
            }
            Durability::Relaxed(_) => self.unsynced = true,
        }
        self.state.len = base + self.buf.len() as u64;
        give_back_burst(&mut self.buf);
        Ok(())
    }

    /// Seals the current segment (its index file) and starts the next one.
    ///
    /// Either all of it happens or none: the next segment is created first, then the index is
    /// written; if either fails, the writer stays in the current segment with everything as it
    /// was (and tries again after the next group), so no frame is ever left out of an index.
    fn roll(&mut self) -> std::io::Result<()> {
        self.state.file.sync_data()?;
        self.unsynced = false;
        let next = self.state.segment + 1;
        let discard_next = |dir: &Path| {
            let _ = fs::remove_file(segment_path(dir, next, 0));
        };
        let (file, len, reader) = match create_segment(&self.dir, next, &self.state.tips).and_then(|(f, len)| {
            let reader = f.try_clone()?;
            Ok((f, len, reader))
        }) {
            Ok(created) => created,
            Err(e) => {
                discard_next(&self.dir);
                return Err(e);
            }
        };
        let index = SegmentIndex {
            segment: self.state.segment,
            valid_len: self.state.len,
            logs: self.state.tips.clone(),
            frames: self.state.frames_in_segment.clone(),
        };
        let (bytes, directory) = index.encode();
        let index_file = match write_index(&self.dir, index.segment, 0, &bytes) {
            Ok(f) => f,
            Err(e) => {
                drop(file);
                discard_next(&self.dir);
                return Err(e);
            }
        };
        self.state.frames_in_segment.clear();
        // Readers now find these frames through the index file instead of memory (until the
        // roll below, the sealed segment's data is still read through the active file).
        let logs = self.shared.logs.read();
        for (log, run) in &directory.runs {
            if let Some(l) = logs.get(log) {
                l.write().seal(*run);
            }
        }
        drop(logs);
        self.shared.files.roll(index_file, self.state.len, next, reader);
        self.state.segment = next;
        self.state.file = file;
        self.state.len = len;
        Ok(())
    }
}

/// Writes an index file atomically and returns it opened for reading.
pub fn write_index(dir: &Path, segment: u64, generation: u32, bytes: &[u8]) -> std::io::Result<File> {
    let path = index_path(dir, segment, generation);
    let tmp = path.with_extension("idx.tmp");
    let f = File::create(&tmp)?;
    f.write_all_at(bytes, 0)?;
    f.sync_data()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    File::open(path)
}

/// Creates segment `id`, starting with the table of live logs; returns it and its length.
pub fn create_segment(dir: &Path, id: u64, tips: &HashMap<LogId, LogTip>) -> std::io::Result<(File, u64)> {
    let path = segment_path(dir, id, 0);
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
    let buf = segment_start(id, 0, tips);
    file.write_all_at(&buf, 0)?;
    file.sync_data()?;
    sync_dir(dir)?;
    Ok((file, buf.len() as u64))
}

/// A segment's first bytes: its header and the table of live logs.
pub fn segment_start(id: u64, merged: u32, tips: &HashMap<LogId, LogTip>) -> Vec<u8> {
    let mut buf = format::segment_header(id, merged).to_vec();
    format::encode_frame(&mut buf, FrameKind::LogTable2, LogId(0), 0, 0, &[log_table(tips)]);
    buf
}

fn log_table(tips: &HashMap<LogId, LogTip>) -> NewRecord {
    let mut logs: Vec<_> = tips.iter().collect();
    logs.sort_by_key(|(id, _)| **id);
    let mut data = Vec::with_capacity(logs.len() * 32);
    for (id, t) in logs {
        for v in [id.0, t.tip, t.last_arrival_ms, t.trim] {
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    NewRecord { partition_key: Bytes::new(), data: Bytes::from(data), flags: 0 }
}

/// Decodes a log table record: entries of 32 bytes (`LogTable2`), or of 24 bytes without the
/// trim (`LogTable`, written by earlier builds).
pub fn parse_log_table(kind: FrameKind, data: &[u8]) -> Option<HashMap<LogId, LogTip>> {
    let entry = if kind == FrameKind::LogTable2 { 32 } else { 24 };
    if !data.len().is_multiple_of(entry) {
        return None;
    }
    let mut tips = HashMap::with_capacity(data.len() / entry);
    for e in data.chunks_exact(entry) {
        let n = |at: usize| e.get(at..at + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
        tips.insert(LogId(n(0)), LogTip { tip: n(8), last_arrival_ms: n(16), trim: n(24) });
    }
    Some(tips)
}

#[cfg(test)]
mod buffer_tests {
    use super::*;

    #[test]
    fn a_burst_grown_group_buffer_is_given_back_and_a_usual_one_kept() {
        let mut burst = vec![0u8; MAX_GROUP_BYTES];
        give_back_burst(&mut burst);
        assert!(burst.capacity() <= KEPT_BUF_BYTES && burst.is_empty());

        let mut usual = Vec::with_capacity(KEPT_BUF_BYTES);
        usual.extend_from_slice(&[1u8; 4096]);
        let before = usual.as_ptr();
        give_back_burst(&mut usual);
        assert_eq!(usual.as_ptr(), before, "a buffer within the bound is reused, not reallocated");
    }
}
