//! The on-disk format of journal segments (version 1).
//!
//! A segment is a header followed by frames, each protected by a CRC32C:
//!
//! ```text
//! segment header (24 bytes): magic "KNSDLOG1" | version u32 = 1 | merged u32 | segment id u64
//! frame:  len u32 (bytes after this field, CRC included)
//!         kind u8 (1 records, 2 create log, 3 delete log, 4 log table, 5 trim, 6 log table with
//!         trims) | log u64 | first position u64
//!         count u32 | arrival ms u64
//!         count × (flags u8 | key len u16 | data len u32 | key | data)     (records only)
//!         crc32c u32 over everything from `kind` to the last record byte
//! ```
//! A log table frame holds one record whose data is `n × (log u64 | tip u64 | last arrival u64)`
//! (kind 4, written by earlier builds) or `n × (log u64 | tip u64 | last arrival u64 | trim u64)`
//! (kind 6). A trim frame (kind 5) says that the log's records before `first position` are gone.
//! `merged` is 0 for a segment the writer wrote; a segment written by compaction holds the live
//! frames of segments `id ..= id + merged` and replaces all of them (see `compaction`).
//! All integers are little-endian. A frame whose length runs past the end of the file, whose
//! CRC does not match, or whose length is zero marks the end of the valid data: recovery cuts
//! the tail there.

use bytes::Bytes;

use crate::store::{LogId, NewRecord, StoredRecord};

pub const SEGMENT_MAGIC: &[u8; 8] = b"KNSDLOG1";
pub const FORMAT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_LEN: u64 = 24;
/// Frame bytes before the records: len, kind, log, first position, count, arrival.
pub const FRAME_HEADER_LEN: usize = 4 + 1 + 8 + 8 + 4 + 8;
pub const RECORD_HEADER_LEN: usize = 1 + 2 + 4;
/// No frame may claim more than this (a batch is at most 10 MiB of records plus headers).
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Records = 1,
    CreateLog = 2,
    DeleteLog = 3,
    /// The table of live logs and their tips, first in every segment, so that any suffix of
    /// the journal is enough to know every log (retention deletes old segments).
    LogTable = 4,
    /// The log's records before `first position` are gone (retention), durably.
    Trim = 5,
    /// The log table with each log's trim horizon (what `LogTable` became), so that a trim
    /// outlives the segment its trim frame was written in.
    LogTable2 = 6,
}

impl FrameKind {
    fn from_u8(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Records),
            2 => Some(FrameKind::CreateLog),
            3 => Some(FrameKind::DeleteLog),
            4 => Some(FrameKind::LogTable),
            5 => Some(FrameKind::Trim),
            6 => Some(FrameKind::LogTable2),
            _ => None,
        }
    }
}

/// A segment's header; `merged` is how many following segment ids it replaces (compaction).
pub fn segment_header(id: u64, merged: u32) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&merged.to_le_bytes());
    h[16..24].copy_from_slice(&id.to_le_bytes());
    h
}

/// Checks a segment header; returns the segment id it names and how many following ids it
/// replaces.
pub fn check_segment_header(h: &[u8]) -> Result<(u64, u32), String> {
    if h.len() < SEGMENT_HEADER_LEN as usize || &h[..8] != SEGMENT_MAGIC {
        return Err("not a kinesd journal segment (bad magic)".into());
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != FORMAT_VERSION {
        return Err(format!("unsupported journal format version {version}"));
    }
    let merged = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    Ok((u64::from_le_bytes(h[16..24].try_into().unwrap_or_default()), merged))
}

/// Appends one frame to `out`; returns its length in bytes.
pub fn encode_frame(
    out: &mut Vec<u8>,
    kind: FrameKind,
    log: LogId,
    first_position: u64,
    arrival_ms: u64,
    records: &[NewRecord],
) -> usize {
    let start = out.len();
    let body: usize = records.iter().map(|r| RECORD_HEADER_LEN + r.partition_key.len() + r.data.len()).sum();
    let len = FRAME_HEADER_LEN - 4 + body + 4;
    out.reserve(4 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&log.0.to_le_bytes());
    out.extend_from_slice(&first_position.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    out.extend_from_slice(&arrival_ms.to_le_bytes());
    for r in records {
        out.push(r.flags);
        out.extend_from_slice(&(r.partition_key.len() as u16).to_le_bytes());
        out.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.partition_key);
        out.extend_from_slice(&r.data);
    }
    let crc = crc32c::crc32c(&out[start + 4..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// A frame's fixed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: FrameKind,
    pub log: LogId,
    pub first_position: u64,
    pub count: u32,
    pub arrival_ms: u64,
    /// Whole frame length, the leading length field included.
    pub total_len: usize,
}

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not enough bytes (a torn or unwritten tail).
    Truncated,
    /// The bytes are there but wrong: bad length, kind, CRC or record layout.
    Corrupt(&'static str),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The length of the frame starting at `b` (from its length field), if plausible.
pub fn frame_len(b: &[u8]) -> Result<usize, FrameError> {
    if b.len() < 4 {
        return Err(FrameError::Truncated);
    }
    let len = u32_at(b, 0) as usize;
    if len == 0 {
        // Zeroes: space that was allocated but never written.
        return Err(FrameError::Truncated);
    }
    if len + 4 > MAX_FRAME_LEN || len + 4 < FRAME_HEADER_LEN + 4 {
        return Err(FrameError::Corrupt("frame length out of range"));
    }
    Ok(len + 4)
}

/// Validates the frame at the start of `b` (length, CRC, layout) and returns its header.
pub fn check_frame(b: &[u8]) -> Result<FrameHeader, FrameError> {
    let total = frame_len(b)?;
    if b.len() < total {
        return Err(FrameError::Truncated);
    }
    let crc = u32_at(b, total - 4);
    if crc32c::crc32c(&b[4..total - 4]) != crc {
        return Err(FrameError::Corrupt("checksum mismatch"));
    }
    let kind = FrameKind::from_u8(b[4]).ok_or(FrameError::Corrupt("unknown frame kind"))?;
    let header = FrameHeader {
        kind,
        log: LogId(u64_at(b, 5)),
        first_position: u64_at(b, 13),
        count: u32_at(b, 21),
        arrival_ms: u64_at(b, 25),
        total_len: total,
    };
    // The records must exactly fill the frame.
    let mut at = FRAME_HEADER_LEN;
    for _ in 0..header.count {
        if at + RECORD_HEADER_LEN > total - 4 {
            return Err(FrameError::Corrupt("record header past frame end"));
        }
        let key_len = u16::from_le_bytes([b[at + 1], b[at + 2]]) as usize;
        let data_len = u32_at(b, at + 3) as usize;
        at += RECORD_HEADER_LEN + key_len + data_len;
        if at > total - 4 {
            return Err(FrameError::Corrupt("record past frame end"));
        }
    }
    if at != total - 4 {
        return Err(FrameError::Corrupt("frame has trailing bytes"));
    }
    Ok(header)
}

/// Appends the records of a checked frame, as slices of `frame` (no copy), from
/// `from_position` on, while `out` holds fewer than `max_records` and their sizes fit `budget`
/// (the first record always fits). Returns false if a limit stopped it before the frame's end.
pub fn decode_records(
    frame: &Bytes,
    header: &FrameHeader,
    from_position: u64,
    out: &mut Vec<StoredRecord>,
    max_records: usize,
    budget: &mut usize,
) -> bool {
    let b = &frame[..];
    let mut at = FRAME_HEADER_LEN;
    for i in 0..header.count as u64 {
        let flags = b[at];
        let key_len = u16::from_le_bytes([b[at + 1], b[at + 2]]) as usize;
        let data_len = u32_at(b, at + 3) as usize;
        let key_at = at + RECORD_HEADER_LEN;
        let data_at = key_at + key_len;
        at = data_at + data_len;
        let position = header.first_position + i;
        if position < from_position {
            continue;
        }
        let size = key_len + data_len;
        if out.len() >= max_records || (size > *budget && !out.is_empty()) {
            return false;
        }
        *budget = budget.saturating_sub(size);
        out.push(StoredRecord {
            position,
            arrival_ms: header.arrival_ms,
            partition_key: frame.slice(key_at..data_at),
            data: frame.slice(data_at..at),
            flags,
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(key: &str, data: &[u8]) -> NewRecord {
        NewRecord {
            partition_key: Bytes::copy_from_slice(key.as_bytes()),
            data: Bytes::copy_from_slice(data),
            flags: 1,
        }
    }

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        let n = encode_frame(&mut buf, FrameKind::Records, LogId(7), 40, 1234, &[rec("a", b"xy"), rec("bb", b"")]);
        assert_eq!(n, buf.len());
        let h = check_frame(&buf).unwrap();
        assert_eq!(
            (h.kind, h.log, h.first_position, h.count, h.arrival_ms, h.total_len),
            (FrameKind::Records, LogId(7), 40, 2, 1234, n)
        );
        let bytes = Bytes::from(buf);
        let mut out = Vec::new();
        let mut budget = usize::MAX;
        decode_records(&bytes, &h, 41, &mut out, 10, &mut budget);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].position, &out[0].partition_key[..], &out[0].data[..], out[0].flags),
            (41, &b"bb"[..], &b""[..], 1)
        );
    }

    #[test]
    fn torn_and_zeroed_tails_are_truncations() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, FrameKind::Records, LogId(1), 0, 1, &[rec("k", b"value")]);
        for cut in 0..buf.len() {
            assert_eq!(check_frame(&buf[..cut]), Err(FrameError::Truncated), "cut at {cut}");
        }
        assert_eq!(check_frame(&[0u8; 64]), Err(FrameError::Truncated));
    }

    proptest! {
        #[test]
        fn any_flipped_bit_is_detected(bit in 0usize..(8 * 60), data in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut buf = Vec::new();
            encode_frame(&mut buf, FrameKind::Records, LogId(3), 9, 99, &[rec("key", &data)]);
            let bit = bit % (buf.len() * 8);
            buf[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(check_frame(&buf).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = check_frame(&bytes);
        }
    }
}
