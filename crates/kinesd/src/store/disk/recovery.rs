//! Start-up: rebuild every log's index from the journal.
//!
//! Sealed segments are read through their index files (no data scan). A segment without a
//! valid index — normally only the last one — is scanned frame by frame: the scan stops at the
//! first frame that is torn (runs past the end of the file or is zeroes) or fails its checksum.
//! In the last segment that is a torn tail from a crash: everything before it is kept and the
//! rest is cut off. In an older segment it is damage: it is reported, the frames before it are
//! kept, nothing after it in that segment is ever served, and the segment is sealed at that
//! point.
//!
//! Compaction (see `compaction`) leaves its traces here too: of a segment's generations the
//! newest data file wins (a rewrite renames its data file last, so one that exists is whole)
//! and the others are deleted, and a rewritten segment that replaced the segments after it
//! (`merged` in its header) has them deleted if a crash left them behind. Each log's trim
//! horizon comes from the log tables and trim frames, so records trimmed before a restart
//! stay gone.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::files::SegmentMeta;
use super::format::{self, FrameError, FrameKind};
use super::index::{self, FrameRef, IndexDirectory, LogIndex, LogTip, SegmentIndex};
use super::journal::{self, WriterState};
use crate::store::LogId;

pub struct Recovered {
    pub logs: HashMap<LogId, LogIndex>,
    /// The highest log id any remaining segment mentions, deleted logs included.
    pub max_log_id: Option<LogId>,
    /// Every segment on disk, the one the writer continues in included.
    pub segments: BTreeMap<u64, SegmentMeta>,
    pub writer: WriterState,
}

/// Segments present in `dir`, in order: each id with the generation of its newest data
/// file. Files of other generations (replaced by a rewrite, or a rewrite's index whose data
/// file never got its name) and leftovers of interrupted renames are deleted.
fn segment_ids(dir: &Path) -> std::io::Result<Vec<(u64, u32)>> {
    let mut files = Vec::new();
    let mut newest: BTreeMap<u64, u32> = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // Leftovers of interrupted atomic renames are not data.
        if name.ends_with(".tmp") {
            fs::remove_file(&path)?;
            continue;
        }
        if let Some((id, generation, data)) = journal::parse_file_name(name) {
            if data {
                let g = newest.entry(id).or_insert(generation);
                *g = (*g).max(generation);
            }
            files.push((id, generation, path));
        }
    }
    for (id, generation, path) in files {
        if newest.get(&id) != Some(&generation) {
            tracing::info!(file = %path.display(), "deleting a journal file that a compaction replaced");
            fs::remove_file(&path)?;
        }
    }
    Ok(newest.into_iter().collect())
}

/// How many following segment ids the segment replaces (its header's `merged`).
fn merged_count(dir: &Path, id: u64, generation: u32) -> std::io::Result<u32> {
    let file = File::open(journal::segment_path(dir, id, generation))?;
    let mut header = [0u8; format::SEGMENT_HEADER_LEN as usize];
    file.read_exact_at(&mut header, 0)
        .map_err(|e| std::io::Error::other(format!("journal segment {id} is shorter than its header: {e}")))?;
    let (_, merged) = format::check_segment_header(&header)
        .map_err(|e| std::io::Error::other(format!("journal segment {id}: {e}")))?;
    Ok(merged)
}

/// The segment left open by the last run: id, file, valid length, its frames.
type OpenTail = (u64, File, u64, Vec<(LogId, FrameRef)>);

pub fn recover(dir: &Path) -> std::io::Result<Recovered> {
    fs::create_dir_all(dir)?;
    let mut ids = segment_ids(dir)?;
    // Segments that a compacted segment replaced, left behind by a crash: gone.
    let mut replaced_through = 0;
    let mut kept = Vec::with_capacity(ids.len());
    for (i, &(id, generation)) in ids.iter().enumerate() {
        if id <= replaced_through {
            tracing::info!(segment = id, "deleting a journal segment that a compaction replaced");
            super::compaction::delete_files(dir, id, generation)?;
            continue;
        }
        // The last segment is the writer's, never a compaction's (its header may be torn).
        if i + 1 < ids.len() {
            replaced_through = id + u64::from(merged_count(dir, id, generation)?);
        }
        kept.push((id, generation));
    }
    ids = kept;
    let mut logs: HashMap<LogId, LogIndex> = HashMap::new();
    let mut tips: HashMap<LogId, LogTip> = HashMap::new();
    let mut segments = BTreeMap::new();
    let mut open_tail: Option<OpenTail> = None;
    let mut max_log_id: Option<LogId> = None;
    for (i, &(id, generation)) in ids.iter().enumerate() {
        let is_last = i + 1 == ids.len();
        // A sealed segment is known from its index alone; neither file stays open (readers
        // open them when they need them, see `files`).
        let index_file = File::open(journal::index_path(dir, id, generation)).ok();
        let sealed = index_file.and_then(|f| match index::read_directory(&f) {
            Ok(d) if d.segment == id => Some(d),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(segment = id, error = %e, "index file unusable; scanning the segment");
                None
            }
        });
        let directory = match sealed {
            Some(directory) => directory,
            None => {
                let file =
                    OpenOptions::new().read(true).write(true).open(journal::segment_path(dir, id, generation))?;
                // Generation 0: the writer's own file (a compaction's is whole once it has a name).
                if is_last && generation == 0 && !has_whole_start(&file)? {
                    // The last run was killed while creating this segment (`journal::create_segment`
                    // syncs its start before anything is written after it), so nothing in it was
                    // ever acknowledged: write its start again and continue in it.
                    tracing::warn!(
                        segment = id,
                        "the last run stopped while creating this journal segment; creating it again"
                    );
                    drop(file);
                    let (file, len) = journal::create_segment(dir, id, &tips)?;
                    segments.insert(id, SegmentMeta { generation, len: 0 });
                    open_tail = Some((id, file, len, Vec::new()));
                    continue;
                }
                let (scanned, scanned_max) = scan(&file, id, is_last, &tips)?;
                max_log_id = max_log_id.max(scanned_max);
                if is_last {
                    // The live tail: keep writing into it.
                    for (log, frame) in &scanned.frames {
                        logs.entry(*log).or_default().push(*frame);
                    }
                    tips = scanned.logs.clone();
                    segments.insert(id, SegmentMeta { generation, len: 0 });
                    open_tail = Some((id, file, scanned.valid_len, scanned.frames));
                    continue;
                }
                let (bytes, directory) = scanned.encode();
                journal::write_index(dir, id, generation, &bytes)?;
                directory
            }
        };
        segments.insert(id, SegmentMeta { generation, len: directory.valid_len });
        let mentioned = directory.logs.keys().chain(directory.runs.iter().map(|(log, _)| log)).max();
        max_log_id = max_log_id.max(mentioned.copied());
        apply(&mut logs, &mut tips, &directory);
    }
    // Frames of logs deleted later are dropped; live logs get their tips.
    logs.retain(|id, _| tips.contains_key(id));
    for (id, tip) in &tips {
        let log = logs.entry(*id).or_default();
        log.tip = tip.tip;
        let oldest_kept = log
            .sealed
            .first()
            .map(|r| r.first_position)
            .or(log.live.first().map(|f| f.first_position))
            .unwrap_or(tip.tip);
        // A trimmed run may outlive its trim in a segment another log still needs.
        log.trim_to(oldest_kept.max(tip.trim));
    }
    let writer = match open_tail {
        Some((segment, file, len, frames_in_segment)) => {
            file.set_len(len)?;
            file.sync_all()?;
            WriterState { segment, file, len, tips, frames_in_segment }
        }
        None => {
            let next = ids.last().map_or(1, |(id, _)| id + 1);
            let (file, len) = journal::create_segment(dir, next, &tips)?;
            segments.insert(next, SegmentMeta::default());
            WriterState { segment: next, file, len, tips, frames_in_segment: Vec::new() }
        }
    };
    Ok(Recovered { logs, max_log_id, segments, writer })
}

fn apply(logs: &mut HashMap<LogId, LogIndex>, tips: &mut HashMap<LogId, LogTip>, directory: &IndexDirectory) {
    for (log, run) in &directory.runs {
        logs.entry(*log).or_default().sealed.push(*run);
    }
    *tips = directory.logs.clone();
}

/// Whether the writer's segment holds its whole start: a header naming it and a log table
/// frame. It may not when a crash hit `journal::create_segment`: the file is then empty,
/// shorter than its header, zeroes (a power loss before the sync on some file systems), or a
/// header with the table cut short. Anything else, a header that is neither zeroes nor valid
/// included, is left to `scan` (damage is reported, never written over).
fn has_whole_start(file: &File) -> std::io::Result<bool> {
    let size = file.metadata()?.len();
    if size < format::SEGMENT_HEADER_LEN {
        return Ok(false);
    }
    let mut header = [0u8; format::SEGMENT_HEADER_LEN as usize];
    file.read_exact_at(&mut header, 0)?;
    if header.iter().all(|b| *b == 0) {
        return Ok(false);
    }
    if format::check_segment_header(&header).is_err() {
        return Ok(true);
    }
    // The table frame follows; only one that runs past the end of the file (or is zeroes) is
    // torn. One that is there but fails its checksum is damage, as above.
    let available = size - format::SEGMENT_HEADER_LEN;
    let mut len_buf = [0u8; 4];
    if available < 4 {
        return Ok(false);
    }
    file.read_exact_at(&mut len_buf, format::SEGMENT_HEADER_LEN)?;
    Ok(match format::frame_len(&len_buf) {
        Err(FrameError::Truncated) => false,
        Err(_) => true,
        Ok(total) => total as u64 <= available,
    })
}

/// Reads a segment frame by frame; see the module comment for what a bad frame means.
/// `tips` is the log table before this segment, used if the segment's own table is missing
/// (a crash while the segment was being created). Also returns the highest log id the valid
/// frames mention, deleted logs included.
fn scan(
    file: &File,
    id: u64,
    is_last: bool,
    tips: &HashMap<LogId, LogTip>,
) -> std::io::Result<(SegmentIndex, Option<LogId>)> {
    let size = file.metadata()?.len();
    let mut header = [0u8; format::SEGMENT_HEADER_LEN as usize];
    if size < format::SEGMENT_HEADER_LEN {
        return Err(std::io::Error::other(format!("journal segment {id} is shorter than its header")));
    }
    file.read_exact_at(&mut header, 0)?;
    let (named, _) = format::check_segment_header(&header)
        .map_err(|e| std::io::Error::other(format!("journal segment {id}: {e}")))?;
    if named != id {
        return Err(std::io::Error::other(format!("journal segment {id} names itself {named}")));
    }
    let mut index =
        SegmentIndex { segment: id, valid_len: format::SEGMENT_HEADER_LEN, logs: tips.clone(), frames: Vec::new() };
    let mut max_log_id = None;
    let mut at = format::SEGMENT_HEADER_LEN;
    let mut len_buf = [0u8; 4];
    let mut frame = Vec::new();
    while at < size {
        let available = (size - at) as usize;
        let outcome = if available < 4 {
            Err(FrameError::Truncated)
        } else {
            file.read_exact_at(&mut len_buf, at)?;
            match format::frame_len(&len_buf) {
                Err(e) => Err(e),
                Ok(total) if total > available => Err(FrameError::Truncated),
                Ok(total) => {
                    frame.resize(total, 0);
                    file.read_exact_at(&mut frame, at)?;
                    format::check_frame(&frame)
                }
            }
        };
        let header = match outcome {
            Ok(h) => h,
            Err(e) => {
                let unwritten = available >= 4 && len_buf == [0u8; 4];
                if is_last && unwritten {
                    // Never-written space (zeroes): the normal end of the data.
                    tracing::debug!(segment = id, offset = at, "end of the journal");
                } else if is_last {
                    tracing::warn!(segment = id, offset = at, bytes = size - at, problem = ?e, "cutting off a torn journal tail");
                } else {
                    tracing::error!(
                        segment = id, offset = at, bytes = size - at, problem = ?e,
                        "journal segment is damaged: records after this offset in this segment are lost and will not be served"
                    );
                }
                break;
            }
        };
        match header.kind {
            FrameKind::Records => index.frames.push((
                header.log,
                FrameRef {
                    first_position: header.first_position,
                    arrival_ms: header.arrival_ms,
                    segment: id,
                    offset: at,
                    len: header.total_len as u32,
                    count: header.count,
                },
            )),
            FrameKind::CreateLog => {
                index.logs.entry(header.log).or_default();
            }
            FrameKind::DeleteLog => {
                index.logs.remove(&header.log);
            }
            FrameKind::Trim => {
                if let Some(tip) = index.logs.get_mut(&header.log) {
                    tip.trim = tip.trim.max(header.first_position);
                }
            }
            FrameKind::LogTable | FrameKind::LogTable2 => {
                let mut records = Vec::new();
                let mut budget = usize::MAX;
                format::decode_records(
                    &bytes::Bytes::copy_from_slice(&frame),
                    &header,
                    0,
                    &mut records,
                    1,
                    &mut budget,
                );
                if let Some(table) = records.first().and_then(|r| journal::parse_log_table(header.kind, &r.data)) {
                    max_log_id = max_log_id.max(table.keys().max().copied());
                    index.logs = table;
                }
            }
        }
        if !matches!(header.kind, FrameKind::LogTable | FrameKind::LogTable2) {
            max_log_id = max_log_id.max(Some(header.log));
        }
        if header.kind == FrameKind::Records {
            let tip = index.logs.entry(header.log).or_default();
            // A compacted segment's table is the one of the last segment it replaced, already
            // past its frames: the tip never goes back.
            tip.tip = tip.tip.max(header.first_position + u64::from(header.count));
            tip.last_arrival_ms = tip.last_arrival_ms.max(header.arrival_ms);
        }
        at += header.total_len as u64;
        index.valid_len = at;
    }
    Ok((index, max_log_id))
}
