//! Where each log's records are: an in-memory list of frame locations per log, and the index
//! file written beside each sealed segment so that start-up need not scan sealed data.
//!
//! Index file (version 1), all little-endian, CRC32C of everything before the trailer:
//! ```text
//! magic "KNSDIDX1" | version u32 | segment id u64 | valid length u64
//! live logs u32 × (log u64 | tip u64 | last arrival ms u64)       (the table at seal time)
//! frames u32 × (log u64 | first position u64 | count u32 | arrival ms u64 | offset u64 | len u32)
//! crc32c u32
//! ```

use std::collections::HashMap;

use crate::store::LogId;

pub const INDEX_MAGIC: &[u8; 8] = b"KNSDIDX1";
const INDEX_VERSION: u32 = 1;
const FRAME_ENTRY_LEN: usize = 8 + 8 + 4 + 8 + 8 + 4;
const LOG_ENTRY_LEN: usize = 24;

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

/// The write-side state of a live log: where the next record goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogTip {
    pub tip: u64,
    pub last_arrival_ms: u64,
}

/// What an index file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentIndex {
    pub segment: u64,
    /// Bytes of the segment covered by valid frames.
    pub valid_len: u64,
    pub logs: HashMap<LogId, LogTip>,
    pub frames: Vec<(LogId, FrameRef)>,
}

impl SegmentIndex {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + self.logs.len() * LOG_ENTRY_LEN + self.frames.len() * FRAME_ENTRY_LEN,
        );
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
        out.extend_from_slice(&self.segment.to_le_bytes());
        out.extend_from_slice(&self.valid_len.to_le_bytes());
        let mut logs: Vec<_> = self.logs.iter().collect();
        logs.sort_by_key(|(id, _)| **id);
        out.extend_from_slice(&(logs.len() as u32).to_le_bytes());
        for (id, t) in logs {
            out.extend_from_slice(&id.0.to_le_bytes());
            out.extend_from_slice(&t.tip.to_le_bytes());
            out.extend_from_slice(&t.last_arrival_ms.to_le_bytes());
        }
        out.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        for (id, f) in &self.frames {
            out.extend_from_slice(&id.0.to_le_bytes());
            out.extend_from_slice(&f.first_position.to_le_bytes());
            out.extend_from_slice(&f.count.to_le_bytes());
            out.extend_from_slice(&f.arrival_ms.to_le_bytes());
            out.extend_from_slice(&f.offset.to_le_bytes());
            out.extend_from_slice(&f.len.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Result<SegmentIndex, String> {
        if b.len() < 36 || &b[..8] != INDEX_MAGIC {
            return Err("bad index magic".into());
        }
        let (body, trailer) = b.split_at(b.len() - 4);
        if crc32c::crc32c(body)
            != u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]])
        {
            return Err("index checksum mismatch".into());
        }
        let mut r = Reader { b: body, at: 8 };
        let version = r.u32()?;
        if version != INDEX_VERSION {
            return Err(format!("unsupported index version {version}"));
        }
        let segment = r.u64()?;
        let valid_len = r.u64()?;
        let n_logs = r.u32()? as usize;
        let mut logs = HashMap::with_capacity(n_logs);
        for _ in 0..n_logs {
            let id = LogId(r.u64()?);
            logs.insert(
                id,
                LogTip {
                    tip: r.u64()?,
                    last_arrival_ms: r.u64()?,
                },
            );
        }
        let n_frames = r.u32()? as usize;
        let mut frames = Vec::with_capacity(n_frames.min(body.len() / FRAME_ENTRY_LEN));
        for _ in 0..n_frames {
            let id = LogId(r.u64()?);
            let first_position = r.u64()?;
            let count = r.u32()?;
            let arrival_ms = r.u64()?;
            let offset = r.u64()?;
            let len = r.u32()?;
            frames.push((
                id,
                FrameRef {
                    first_position,
                    arrival_ms,
                    segment,
                    offset,
                    len,
                    count,
                },
            ));
        }
        if r.at != body.len() {
            return Err("index has trailing bytes".into());
        }
        Ok(SegmentIndex {
            segment,
            valid_len,
            logs,
            frames,
        })
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

/// The read-side view of one log: its frames in position order, tip and trim horizon.
#[derive(Debug, Default)]
pub struct LogIndex {
    pub frames: Vec<FrameRef>,
    pub tip: u64,
    /// Records before this position are gone (retention).
    pub trim: u64,
}

impl LogIndex {
    /// The index of the frame holding `position`, or of the first frame after it.
    pub fn frame_at(&self, position: u64) -> usize {
        self.frames
            .partition_point(|f| f.end_position() <= position)
    }

    pub fn push(&mut self, frame: FrameRef) {
        self.tip = frame.end_position();
        self.frames.push(frame);
    }

    /// Forgets frames whose records all arrived before `before_ms`.
    pub fn trim_before(&mut self, before_ms: u64) {
        let keep_from = self.frames.partition_point(|f| f.arrival_ms < before_ms);
        if keep_from > 0 {
            self.trim = self.trim.max(self.frames[keep_from - 1].end_position());
            self.frames.drain(..keep_from);
        }
        if self.frames.is_empty() {
            self.trim = self.trim.max(self.tip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_files_round_trip_and_detect_damage() {
        let mut idx = SegmentIndex {
            segment: 4,
            valid_len: 999,
            ..Default::default()
        };
        idx.logs.insert(
            LogId(1),
            LogTip {
                tip: 10,
                last_arrival_ms: 5,
            },
        );
        idx.frames.push((
            LogId(1),
            FrameRef {
                first_position: 8,
                arrival_ms: 5,
                segment: 4,
                offset: 24,
                len: 40,
                count: 2,
            },
        ));
        let bytes = idx.encode();
        assert_eq!(SegmentIndex::decode(&bytes).unwrap(), idx);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(SegmentIndex::decode(&bad).is_err(), "flip at {i}");
        }
        assert!(SegmentIndex::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn frames_are_found_by_position_and_trimmed_by_time() {
        let mut log = LogIndex::default();
        for (i, arrival) in [(0u64, 10u64), (3, 20), (5, 30)] {
            log.push(FrameRef {
                first_position: i,
                arrival_ms: arrival,
                segment: 1,
                offset: 0,
                len: 0,
                count: if i == 0 { 3 } else { 2 },
            });
        }
        assert_eq!(log.tip, 7);
        assert_eq!(log.frame_at(0), 0);
        assert_eq!(log.frame_at(2), 0);
        assert_eq!(log.frame_at(3), 1);
        assert_eq!(log.frame_at(7), 3);
        log.trim_before(20);
        assert_eq!((log.trim, log.frames.len()), (3, 2));
        log.trim_before(u64::MAX);
        assert_eq!((log.trim, log.frames.len()), (7, 0));
    }
}
