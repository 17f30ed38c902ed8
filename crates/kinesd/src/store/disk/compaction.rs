//! Giving disk space back per log: reclaim of segments that retention or deletion emptied,
//! and compaction of segments that are mostly dead.
//!
//! Frames of all logs share segments, so a segment holding a week of a long-retention log's
//! records would otherwise keep a day-retention log's records on disk for that week too.
//! Two steps, both run by the maintenance thread (and the second only by it):
//!
//! - **Reclaim**: a sealed segment in which no live log has a run left (every log there was
//!   trimmed past it or deleted) is deleted, wherever it sits in the journal. Safe because
//!   every segment starts with the table of live logs, their tips and their trim horizons, so
//!   recovery never needs an older segment to know the logs, and trims are durable before
//!   readers' horizons move (`DiskStore::trim`): a run that outlives its trim in a segment
//!   some other log still needs is dropped again at start-up.
//! - **Compaction**: consecutive sealed segments of which at least half is dead (by the live
//!   runs' bytes, see [`SealedRun::live_bytes`]) are rewritten as one new file holding only
//!   their live frames, copied unchanged (same log, positions, arrival time, CRC) and in the
//!   same order, so every log's records stay in position order across segments. The new file
//!   takes the first segment's id with the next generation, and its header says how many of
//!   the following ids it replaces.
//!
//! Crash safety of a compaction: the new data and index files are written under temporary
//! names and synced; the index is renamed into place, then the data file (the commit point),
//! then the directory is synced. Until the data file has its name, recovery deletes the
//! temporaries and the orphan index and keeps the old segments; once it has, recovery takes
//! the newest generation and deletes the older one and the segments it replaced. Only then, in
//! memory, do readers switch to the new file (under the layout lock, so no read mixes the old
//! and the new offsets), and the old files are deleted.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::ops::RangeInclusive;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::Shared;
use super::catalog::sync_dir;
use super::files::SegmentMeta;
use super::format;
use super::index::{self, FrameRef, SealedRun, SegmentIndex};
use super::journal;
use crate::store::LogId;

/// A segment is worth rewriting when at most this fraction of it (in 1/256ths) is still live.
const LIVE_AT_MOST: u64 = 128;

/// Bytes of copied frames buffered before they are written out: the memory a compaction
/// holds beyond one frame.
const COPY_BUFFER: usize = 1 << 20;

/// What one compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    pub segments: RangeInclusive<u64>,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Deletes sealed segments in which no live log has records left; returns the bytes freed.
/// The caller holds the maintenance lock (no compaction is reading them).
pub fn reclaim(dir: &Path, shared: &Shared) -> std::io::Result<u64> {
    let referenced: std::collections::HashSet<u64> = {
        let logs = shared.logs.read();
        logs.values().flat_map(|l| l.read().segments().collect::<Vec<_>>()).collect()
    };
    let mut freed = 0;
    // Listed after the logs were looked at: a segment sealed in between had its frames in a
    // log's live list then, and so is counted as referenced.
    for (id, _) in shared.files.sealed_segments() {
        if referenced.contains(&id) {
            continue;
        }
        let Some(meta) = shared.files.forget(id) else { continue };
        shared.cache.lock().forget_segment(id);
        freed += delete_files(dir, id, meta.generation)?;
        tracing::debug!(segment = id, "deleted a journal segment no live log needs");
    }
    Ok(freed)
}

/// Deletes a segment's data and index files (either may be missing); returns their size.
pub fn delete_files(dir: &Path, id: u64, generation: u32) -> std::io::Result<u64> {
    let mut freed = 0;
    for path in [journal::segment_path(dir, id, generation), journal::index_path(dir, id, generation)] {
        freed += fs::metadata(&path).map_or(0, |m| m.len());
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(freed)
}

/// The first stretch of consecutive sealed segments worth rewriting together, with at most
/// `max_live` live bytes in all (at least one segment), that frees at least a quarter of
/// `max_live` (so that a segment compaction just wrote, whose only dead bytes are its header
/// and log table, is not rewritten again), or None.
pub fn plan(shared: &Shared, max_live: u64) -> Option<Vec<(u64, SegmentMeta)>> {
    let mut live: HashMap<u64, u64> = HashMap::new();
    {
        let logs = shared.logs.read();
        for log in logs.values() {
            let log = log.read();
            for run in &log.sealed {
                *live.entry(run.segment).or_default() += run.live_bytes(log.trim);
            }
        }
    }
    // What the new segment costs besides its frames: header and log table.
    let overhead = format::SEGMENT_HEADER_LEN + 64 + 32 * shared.logs.read().len() as u64;
    let worth = |group: &[(u64, SegmentMeta)], live: u64| {
        let len: u64 = group.iter().map(|(_, m)| m.len).sum();
        !group.is_empty() && len.saturating_sub(live + overhead) >= max_live / 4
    };
    let mut group: Vec<(u64, SegmentMeta)> = Vec::new();
    let mut group_live = 0;
    for (id, meta) in shared.files.sealed_segments() {
        let l = live.get(&id).copied().unwrap_or(0);
        let mostly_dead = meta.len > 0 && l * 256 <= meta.len * LIVE_AT_MOST;
        if mostly_dead && (group.is_empty() || group_live + l <= max_live) {
            group.push((id, meta));
            group_live += l;
            continue;
        }
        if worth(&group, group_live) {
            return Some(group);
        }
        group.clear();
        group_live = 0;
        if mostly_dead {
            group.push((id, meta));
            group_live = l;
        }
    }
    worth(&group, group_live).then_some(group)
}

/// Rewrites `group` (from [`plan`]) as one segment holding only its live frames, and switches
/// readers to it. The caller holds the maintenance lock.
pub fn compact(dir: &Path, shared: &Shared, group: &[(u64, SegmentMeta)]) -> std::io::Result<Compacted> {
    let (first, first_meta) = group[0];
    let last = group[group.len() - 1].0;
    let merged = u32::try_from(last - first).map_err(std::io::Error::other)?;
    let generation = first_meta.generation + 1;
    let range = first..=last;
    let bad = |what: String| std::io::Error::other(format!("compaction of segments {first}..={last}: {what}"));

    // The log table the new segment starts with: the one of the last segment it replaces,
    // as it was when that segment was sealed (later segments carry on from it).
    let last_index = shared.files.index(last)?.ok_or_else(|| bad(format!("segment {last} is gone")))?;
    let tips = index::read_directory(&last_index).map_err(bad)?.logs;

    // Which runs are live now, per segment, logs in id order.
    let mut runs: BTreeMap<u64, Vec<(LogId, SealedRun, u64)>> = BTreeMap::new();
    {
        let logs = shared.logs.read();
        for (id, log) in logs.iter() {
            let log = log.read();
            for run in log.sealed.iter().filter(|r| range.contains(&r.segment)) {
                runs.entry(run.segment).or_default().push((*id, *run, log.trim));
            }
        }
    }

    let data_path = journal::segment_path(dir, first, generation);
    let tmp_path = data_path.with_extension("log.tmp");
    let out = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp_path)?;
    let result = (|| {
        let mut buf = journal::segment_start(first, merged, &tips);
        let mut written = 0u64;
        let mut frames: Vec<(LogId, FrameRef)> = Vec::new();
        for (segment, runs) in runs.iter_mut() {
            runs.sort_by_key(|(log, _, _)| *log);
            let data = shared.files.data(*segment)?.ok_or_else(|| bad(format!("segment {segment} is gone")))?;
            let idx = shared.files.index(*segment)?.ok_or_else(|| bad(format!("segment {segment} is gone")))?;
            for (log, run, trim) in runs.iter() {
                for frame in index::read_run_frames(&idx, run).map_err(bad)? {
                    if frame.end_position() <= *trim {
                        continue;
                    }
                    let at = buf.len();
                    buf.resize(at + frame.len as usize, 0);
                    data.read_exact_at(&mut buf[at..], frame.offset)?;
                    // Damage is never copied into a file that looks sound.
                    format::check_frame(&buf[at..]).map_err(|e| {
                        bad(format!("frame at offset {} of segment {segment} is damaged ({e:?})", frame.offset))
                    })?;
                    frames.push((*log, FrameRef { segment: first, offset: written + at as u64, ..frame }));
                    if buf.len() >= COPY_BUFFER {
                        out.write_all_at(&buf, written)?;
                        written += buf.len() as u64;
                        buf.clear();
                    }
                }
            }
        }
        out.write_all_at(&buf, written)?;
        written += buf.len() as u64;
        out.sync_data()?;
        Ok::<_, std::io::Error>((written, frames))
    })();
    let (len, frames) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
    };
    drop(out);
    let (bytes, directory) = SegmentIndex { segment: first, valid_len: len, logs: tips, frames }.encode();
    if let Err(e) = journal::write_index(dir, first, generation, &bytes) {
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    // The commit point: from here on, recovery uses the new file.
    #[cfg(test)]
    crash_point(shared, "before-commit")?;
    fs::rename(&tmp_path, &data_path)?;
    sync_dir(dir)?;
    #[cfg(test)]
    crash_point(shared, "after-commit")?;

    let bytes_before: u64 = group.iter().map(|(id, m)| file_sizes(dir, *id, m.generation)).sum();
    let new_runs: HashMap<LogId, SealedRun> = directory.runs.into_iter().collect();
    let old = {
        let _layout = shared.layout.write();
        for (id, log) in shared.logs.read().iter() {
            log.write().replace_runs(&range, new_runs.get(id).copied());
        }
        let mut cache = shared.cache.lock();
        for (id, _) in group {
            cache.forget_segment(*id);
        }
        drop(cache);
        shared.files.replace(&range, SegmentMeta { generation, len })
    };
    for (id, generation) in old {
        delete_files(dir, id, generation)?;
    }
    sync_dir(dir)?;
    let bytes_after = file_sizes(dir, first, generation);
    let stats = &shared.stats;
    stats.compactions.fetch_add(1, Ordering::Relaxed);
    stats.compacted_bytes.fetch_add(len, Ordering::Relaxed);
    tracing::info!(
        segments = ?range, bytes_before, bytes_after, "compacted journal segments: live records copied, the rest given back"
    );
    Ok(Compacted { segments: range, bytes_before, bytes_after })
}

fn file_sizes(dir: &Path, id: u64, generation: u32) -> u64 {
    [journal::segment_path(dir, id, generation), journal::index_path(dir, id, generation)]
        .iter()
        .map(|p| fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

/// A test makes a compaction stop at a named point (`Shared::crash_at`), as a crash there
/// would: nothing after it happens, on disk or in memory.
#[cfg(test)]
fn crash_point(shared: &Shared, name: &'static str) -> std::io::Result<()> {
    if *shared.crash_at.lock() == Some(name) {
        return Err(std::io::Error::other(format!("simulated crash at {name}")));
    }
    Ok(())
}
