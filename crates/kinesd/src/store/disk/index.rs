//! Where each log's records are.
//!
//! Memory stays flat as retained data grows: for the segment being written, every frame of a
//! log is kept in memory; for each sealed segment a log only keeps one [`SealedRun`] (its
//! position and time range there and where its frame list sits in the segment's index file).
//! Frame lists of sealed segments are read from the index file when a read or a seek needs
//! them, and kept in a small bounded cache.
//!
//! Index file (version 2), little-endian:
//! ```text
//! header     magic "KNSDIDX1" | version u32 | segment u64 | valid length u64 | logs u32 | runs u32
//! log table  logs × (log u64 | tip u64 | last arrival ms u64 | trim u64)   (at seal time)
//! runs       runs × (log u64 | first position u64 | end position u64 | first arrival u64
//!                    | last arrival u64 | frames offset u64 | bytes u64 | frames u32
//!                    | frames crc32c u32)
//! crc32c u32 over header, log table and runs
//! frames     per run, in position order: (first position u64 | count u32 | arrival ms u64
//!                    | offset u64 | len u32)
//! ```
//! Start-up reads only the header, table and runs of each sealed segment. A version 1 index
//! (no trims, no run sizes) fails the check and is rebuilt by scanning its segment.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;

use tokio::sync::watch;

use crate::store::LogId;

pub const INDEX_MAGIC: &[u8; 8] = b"KNSDIDX1";
const INDEX_VERSION: u32 = 2;
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 4 + 4;
const LOG_ENTRY_LEN: usize = 32;
const RUN_ENTRY_LEN: usize = 8 * 7 + 4 + 4;
const FRAME_ENTRY_LEN: usize = 8 + 4 + 8 + 8 + 4;

/// One frame of one log: `count` records from `first_position`, all arrived at `arrival_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef {
    pub first_position: u64,
    pub arrival_ms: u64,
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
    pub count: u32,
}

impl FrameRef {
    pub fn end_position(&self) -> u64 {
        self.first_position + u64::from(self.count)
    }
}

/// The write-side state of a live log: where the next record goes, and (durably) where its
/// records begin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogTip {
    pub tip: u64,
    pub last_arrival_ms: u64,
    /// Records before this position are gone (the last trim written to the journal).
    pub trim: u64,
}

/// A log's records in one sealed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedRun {
    pub segment: u64,
    pub first_position: u64,
    pub end_position: u64,
    pub first_arrival_ms: u64,
    pub last_arrival_ms: u64,
    pub frames_offset: u64,
    /// Bytes of the run's frames in the segment (what copying it costs, what dropping it frees).
    pub bytes: u64,
    pub frames: u32,
    pub frames_crc: u32,
}

impl SealedRun {
    /// The run's bytes still needed when records before `trim` are gone: all of them while any
    /// record is left. Never less than what compacting the run copies, so that a segment
    /// compaction wrote never looks more dead than it is (and is not rewritten again and again).
    pub fn live_bytes(&self, trim: u64) -> u64 {
        if self.end_position > trim { self.bytes } else { 0 }
    }
}

/// A segment's index as built from its frames (to be written when it is sealed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentIndex {
    pub segment: u64,
    /// Bytes of the segment covered by valid frames.
    pub valid_len: u64,
    pub logs: HashMap<LogId, LogTip>,
    pub frames: Vec<(LogId, FrameRef)>,
}

/// What start-up reads of an index file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexDirectory {
    pub segment: u64,
    pub valid_len: u64,
    pub logs: HashMap<LogId, LogTip>,
    pub runs: Vec<(LogId, SealedRun)>,
}

fn put_frame(out: &mut Vec<u8>, f: &FrameRef) {
    out.extend_from_slice(&f.first_position.to_le_bytes());
    out.extend_from_slice(&f.count.to_le_bytes());
    out.extend_from_slice(&f.arrival_ms.to_le_bytes());
    out.extend_from_slice(&f.offset.to_le_bytes());
    out.extend_from_slice(&f.len.to_le_bytes());
}

impl SegmentIndex {
    /// The file's bytes, and the directory they describe.
    pub fn encode(&self) -> (Vec<u8>, IndexDirectory) {
        let mut by_log: HashMap<LogId, Vec<FrameRef>> = HashMap::new();
        for (log, f) in &self.frames {
            by_log.entry(*log).or_default().push(*f);
        }
        let mut groups: Vec<(LogId, Vec<FrameRef>)> = by_log.into_iter().collect();
        groups.sort_by_key(|(log, _)| *log);
        let mut tips: Vec<_> = self.logs.iter().collect();
        tips.sort_by_key(|(id, _)| **id);

        let directory_len = HEADER_LEN + tips.len() * LOG_ENTRY_LEN + groups.len() * RUN_ENTRY_LEN + 4;
        let mut frames_block = Vec::with_capacity(self.frames.len() * FRAME_ENTRY_LEN);
        let mut runs = Vec::with_capacity(groups.len());
        for (log, frames) in &mut groups {
            frames.sort_by_key(|f| f.first_position);
            let start = frames_block.len();
            for f in frames.iter() {
                put_frame(&mut frames_block, f);
            }
            let (first, last) = (frames[0], frames[frames.len() - 1]);
            runs.push((
                *log,
                SealedRun {
                    segment: self.segment,
                    first_position: first.first_position,
                    end_position: last.end_position(),
                    first_arrival_ms: first.arrival_ms,
                    last_arrival_ms: last.arrival_ms,
                    frames_offset: (directory_len + start) as u64,
                    bytes: frames.iter().map(|f| u64::from(f.len)).sum(),
                    frames: frames.len() as u32,
                    frames_crc: crc32c::crc32c(&frames_block[start..]),
                },
            ));
        }
        let mut out = Vec::with_capacity(directory_len + frames_block.len());
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
        out.extend_from_slice(&self.segment.to_le_bytes());
        out.extend_from_slice(&self.valid_len.to_le_bytes());
        out.extend_from_slice(&(tips.len() as u32).to_le_bytes());
        out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        for (id, t) in &tips {
            out.extend_from_slice(&id.0.to_le_bytes());
            out.extend_from_slice(&t.tip.to_le_bytes());
            out.extend_from_slice(&t.last_arrival_ms.to_le_bytes());
            out.extend_from_slice(&t.trim.to_le_bytes());
        }
        for (log, r) in &runs {
            let fields = [
                log.0,
                r.first_position,
                r.end_position,
                r.first_arrival_ms,
                r.last_arrival_ms,
                r.frames_offset,
                r.bytes,
            ];
            for v in fields {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&r.frames.to_le_bytes());
            out.extend_from_slice(&r.frames_crc.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        debug_assert_eq!(out.len(), directory_len);
        out.extend_from_slice(&frames_block);
        let directory =
            IndexDirectory { segment: self.segment, valid_len: self.valid_len, logs: self.logs.clone(), runs };
        (out, directory)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.b.get(self.at..self.at + N).ok_or("index truncated")?;
        self.at += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, String> {
        self.take::<8>().map(u64::from_le_bytes)
    }
}

/// Reads and checks an index file's directory (not its frame lists).
pub fn read_directory(file: &File) -> Result<IndexDirectory, String> {
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(&mut header, 0).map_err(|e| format!("index unreadable: {e}"))?;
    if &header[..8] != INDEX_MAGIC {
        return Err("bad index magic".into());
    }
    let mut r = Reader { b: &header, at: 8 };
    let version = r.u32()?;
    if version != INDEX_VERSION {
        return Err(format!("unsupported index version {version}"));
    }
    let segment = r.u64()?;
    let valid_len = r.u64()?;
    let n_logs = r.u32()? as usize;
    let n_runs = r.u32()? as usize;
    let len = HEADER_LEN + n_logs * LOG_ENTRY_LEN + n_runs * RUN_ENTRY_LEN + 4;
    let size = file.metadata().map_err(|e| e.to_string())?.len() as usize;
    if len > size {
        return Err("index truncated".into());
    }
    let mut dir = vec![0u8; len];
    file.read_exact_at(&mut dir, 0).map_err(|e| format!("index unreadable: {e}"))?;
    let (body, trailer) = dir.split_at(len - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) {
        return Err("index checksum mismatch".into());
    }
    let mut r = Reader { b: body, at: HEADER_LEN };
    let mut logs = HashMap::with_capacity(n_logs);
    for _ in 0..n_logs {
        let id = LogId(r.u64()?);
        logs.insert(id, LogTip { tip: r.u64()?, last_arrival_ms: r.u64()?, trim: r.u64()? });
    }
    let mut runs = Vec::with_capacity(n_runs);
    for _ in 0..n_runs {
        let log = LogId(r.u64()?);
        let run = SealedRun {
            segment,
            first_position: r.u64()?,
            end_position: r.u64()?,
            first_arrival_ms: r.u64()?,
            last_arrival_ms: r.u64()?,
            frames_offset: r.u64()?,
            bytes: r.u64()?,
            frames: r.u32()?,
            frames_crc: r.u32()?,
        };
        if run.frames_offset as usize + run.frames as usize * FRAME_ENTRY_LEN > size {
            return Err("index run points past the end of the file".into());
        }
        runs.push((log, run));
    }
    Ok(IndexDirectory { segment, valid_len, logs, runs })
}

/// Reads one run's frame list from its index file, checking its CRC.
pub fn read_run_frames(file: &File, run: &SealedRun) -> Result<Vec<FrameRef>, String> {
    let mut b = vec![0u8; run.frames as usize * FRAME_ENTRY_LEN];
    file.read_exact_at(&mut b, run.frames_offset).map_err(|e| format!("index unreadable: {e}"))?;
    if crc32c::crc32c(&b) != run.frames_crc {
        return Err(format!("index of segment {} is damaged (frame list checksum)", run.segment));
    }
    let mut r = Reader { b: &b, at: 0 };
    let mut frames = Vec::with_capacity(run.frames as usize);
    for _ in 0..run.frames {
        let first_position = r.u64()?;
        let count = r.u32()?;
        let arrival_ms = r.u64()?;
        let offset = r.u64()?;
        let len = r.u32()?;
        frames.push(FrameRef { first_position, arrival_ms, segment: run.segment, offset, len, count });
    }
    Ok(frames)
}

/// Live frames a log's list keeps room for when most of it was sealed or trimmed away. The
/// list grows to a segment's worth of the log's frames (10,000 frames, 400 KB, is usual);
/// a log closed by a reshard keeps its index until its records expire, a day or more, so
/// without giving the room back every closed shard would hold its last segment's list.
const KEPT_LIVE_FRAMES: usize = 1024;

fn give_back_room(live: &mut Vec<FrameRef>) {
    if live.capacity() > KEPT_LIVE_FRAMES && live.len() < live.capacity() / 4 {
        live.shrink_to(live.len().max(KEPT_LIVE_FRAMES / 4));
    }
}

/// The read-side view of one log.
#[derive(Debug, Default)]
pub struct LogIndex {
    /// One run per sealed segment holding records of this log, in position order.
    pub sealed: Vec<SealedRun>,
    /// Frames in the segment being written, in position order.
    pub live: Vec<FrameRef>,
    pub tip: u64,
    /// Records before this position are gone (retention).
    pub trim: u64,
    /// Subscribers to the tip (see `Store::watch_tip`); created on the first subscription, so
    /// that publishing a frame of an unwatched log sends nothing.
    tip_watch: Option<watch::Sender<u64>>,
    /// Set by `close` when the log is deleted, for readers still holding it.
    deleted: bool,
}

impl LogIndex {
    /// Publishes a committed frame to readers (and wakes the tip's subscribers, who take the
    /// read lock after this write lock is released and so find the frame).
    pub fn push(&mut self, frame: FrameRef) {
        self.tip = frame.end_position();
        self.live.push(frame);
        if let Some(watch) = &self.tip_watch {
            watch.send_replace(self.tip);
        }
    }

    /// A subscription to the tip; None once the log is deleted.
    pub fn watch_tip(&mut self) -> Option<watch::Receiver<u64>> {
        if self.deleted {
            return None;
        }
        let tip = self.tip;
        Some(self.tip_watch.get_or_insert_with(|| watch::channel(tip).0).subscribe())
    }

    /// Marks the log deleted; dropping the sender ends every subscriber's wait.
    pub fn close(&mut self) {
        self.deleted = true;
        self.tip_watch = None;
    }

    /// Moves the live frames of `segment` into a sealed run.
    pub fn seal(&mut self, run: SealedRun) {
        self.live.retain(|f| f.segment != run.segment);
        give_back_room(&mut self.live);
        if run.end_position > self.trim {
            self.sealed.push(run);
        }
    }

    /// Forgets everything before `position`.
    pub fn trim_to(&mut self, position: u64) {
        self.trim = self.trim.max(position).min(self.tip);
        let trim = self.trim;
        self.sealed.retain(|r| r.end_position > trim);
        let drop = self.live.partition_point(|f| f.end_position() <= trim);
        self.live.drain(..drop);
        give_back_room(&mut self.live);
    }

    /// The segments this log still needs.
    pub fn segments(&self) -> impl Iterator<Item = u64> + '_ {
        self.sealed.iter().map(|r| r.segment).chain(self.live.first().map(|f| f.segment))
    }

    /// Compaction replaced segments `merged` by `segment`: this log's runs there go, and its
    /// run in the new segment (if it had live records there) takes their place. Runs stay in
    /// position order because the new segment holds what the old ones held, in order, and
    /// sorts where the first of them did.
    pub fn replace_runs(&mut self, merged: &std::ops::RangeInclusive<u64>, run: Option<SealedRun>) {
        let at = self.sealed.iter().position(|r| merged.contains(&r.segment));
        self.sealed.retain(|r| !merged.contains(&r.segment));
        if let (Some(run), Some(at)) = (run, at)
            && run.end_position > self.trim
        {
            self.sealed.insert(at, run);
        }
    }
}

/// A bounded cache of sealed runs' frame lists, evicting the oldest entries first.
pub struct FrameCache {
    capacity_frames: usize,
    held: usize,
    map: HashMap<(u64, LogId), std::sync::Arc<Vec<FrameRef>>>,
    order: VecDeque<(u64, LogId)>,
}

impl FrameCache {
    pub fn new(capacity_frames: usize) -> FrameCache {
        FrameCache { capacity_frames, held: 0, map: HashMap::new(), order: VecDeque::new() }
    }

    pub fn get(&self, segment: u64, log: LogId) -> Option<std::sync::Arc<Vec<FrameRef>>> {
        self.map.get(&(segment, log)).cloned()
    }

    pub fn insert(&mut self, segment: u64, log: LogId, frames: std::sync::Arc<Vec<FrameRef>>) {
        self.held += frames.len();
        // Two readers that missed the same run both insert it: the second replaces the first,
        // whose frames no longer count (else `held` would drift up and shrink the cache).
        match self.map.insert((segment, log), frames) {
            Some(old) => self.held -= old.len(),
            None => self.order.push_back((segment, log)),
        }
        while self.held > self.capacity_frames {
            let Some(key) = self.order.pop_front() else { break };
            if let Some(old) = self.map.remove(&key) {
                self.held -= old.len();
            }
        }
    }

    /// Frames held (what the bound counts).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.held
    }

    /// Drops the entries of a deleted segment.
    pub fn forget_segment(&mut self, segment: u64) {
        let map = &mut self.map;
        let mut held = self.held;
        self.order.retain(|key| {
            if key.0 == segment {
                if let Some(old) = map.remove(key) {
                    held -= old.len();
                }
                false
            } else {
                true
            }
        });
        self.held = held;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(first_position: u64, count: u32, arrival_ms: u64, segment: u64) -> FrameRef {
        FrameRef { first_position, arrival_ms, segment, offset: first_position * 10, len: 10, count }
    }

    #[test]
    fn index_files_round_trip_and_detect_damage() {
        let mut idx = SegmentIndex { segment: 4, valid_len: 999, ..Default::default() };
        idx.logs.insert(LogId(1), LogTip { tip: 10, last_arrival_ms: 5, trim: 8 });
        idx.logs.insert(LogId(2), LogTip { tip: 3, last_arrival_ms: 6, trim: 0 });
        idx.frames.push((LogId(1), frame(8, 2, 5, 4)));
        idx.frames.push((LogId(2), frame(0, 3, 6, 4)));
        idx.frames.push((LogId(1), frame(10, 1, 7, 4)));
        let (bytes, directory) = idx.encode();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i");
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let read = read_directory(&file).unwrap();
        assert_eq!(read, directory);
        let (log, run) = read.runs[0];
        assert_eq!((log, run.first_position, run.end_position, run.frames), (LogId(1), 8, 11, 2));
        assert_eq!(read_run_frames(&file, &run).unwrap(), vec![frame(8, 2, 5, 4), frame(10, 1, 7, 4)]);
        // Any flipped bit is caught, by the directory CRC or the frame list's.
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            let file = File::open(&path).unwrap();
            let caught = match read_directory(&file) {
                Err(_) => true,
                Ok(d) => d.runs.iter().any(|(_, r)| read_run_frames(&file, r).is_err()),
            };
            assert!(caught, "flip at {i}");
        }
    }

    #[test]
    fn sealing_and_trimming_keep_positions_straight() {
        let mut log = LogIndex::default();
        log.push(frame(0, 3, 10, 1));
        log.push(frame(3, 2, 20, 1));
        log.seal(SealedRun {
            segment: 1,
            first_position: 0,
            end_position: 5,
            first_arrival_ms: 10,
            last_arrival_ms: 20,
            frames_offset: 0,
            bytes: 20,
            frames: 2,
            frames_crc: 0,
        });
        log.push(frame(5, 2, 30, 2));
        assert_eq!((log.sealed.len(), log.live.len(), log.tip), (1, 1, 7));
        assert_eq!(log.segments().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(log.sealed[0].live_bytes(0), 20);
        assert_eq!(log.sealed[0].live_bytes(3), 20, "a run with records left counts whole");
        assert_eq!(log.sealed[0].live_bytes(5), 0);
        log.trim_to(5);
        assert_eq!((log.sealed.len(), log.live.len(), log.trim), (0, 1, 5));
        assert_eq!(log.segments().collect::<Vec<_>>(), vec![2]);
        log.trim_to(100);
        assert_eq!((log.trim, log.live.len()), (7, 0), "trim never passes the tip");
    }

    #[test]
    fn sealing_gives_back_the_live_frames_memory() {
        // A log closed by a reshard keeps its index until its records expire (a day or more);
        // the frame list of the segment it was last written in must not stay allocated.
        let mut log = LogIndex::default();
        for i in 0..10_000 {
            log.push(frame(i, 1, 10, 1));
        }
        let run = SealedRun {
            segment: 1,
            first_position: 0,
            end_position: 10_000,
            first_arrival_ms: 10,
            last_arrival_ms: 10,
            frames_offset: 0,
            bytes: 100_000,
            frames: 10_000,
            frames_crc: 0,
        };
        log.seal(run);
        assert!(log.live.capacity() <= KEPT_LIVE_FRAMES, "capacity {} kept after the seal", log.live.capacity());
        // A log still written keeps a list the size it needs.
        log.push(frame(10_000, 1, 20, 2));
        assert_eq!(log.live.len(), 1);
        for i in 0..10_000 {
            log.push(frame(10_001 + i, 1, 20, 2));
        }
        log.trim_to(20_000);
        assert!(log.live.len() == 1 && log.live.capacity() <= KEPT_LIVE_FRAMES, "a trim gives memory back too");
    }

    #[test]
    fn the_frame_cache_is_bounded() {
        let mut cache = FrameCache::new(10);
        for s in 0..5 {
            cache.insert(s, LogId(1), std::sync::Arc::new(vec![frame(0, 1, 0, s); 4]));
        }
        assert!(cache.held <= 10);
        assert!(cache.get(4, LogId(1)).is_some());
        assert!(cache.get(0, LogId(1)).is_none());
        cache.forget_segment(4);
        assert!(cache.get(4, LogId(1)).is_none());
    }

    #[test]
    fn the_frame_cache_counts_a_run_read_twice_once() {
        // Two readers that miss the same run at once both read and insert it.
        let mut cache = FrameCache::new(10);
        for _ in 0..3 {
            cache.insert(1, LogId(1), std::sync::Arc::new(vec![frame(0, 1, 0, 1); 4]));
        }
        assert_eq!(cache.held, 4);
        // So the cache still holds as much as its bound allows.
        cache.insert(2, LogId(1), std::sync::Arc::new(vec![frame(0, 1, 0, 2); 4]));
        assert!(cache.get(1, LogId(1)).is_some() && cache.get(2, LogId(1)).is_some());
        assert_eq!(cache.held, 8);
    }
}
