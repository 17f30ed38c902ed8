//! Log ids: handed out by the store, never twice, across restarts.
//!
//! A deleted log's frames stay in old journal segments until retention deletes them, and
//! recovery rebuilds logs from those frames by id; an id given again to a new log would attach
//! the old log's records to it. So ids only go up, and the highest id that may have been
//! handed out is durable *before* the id is: `<data-dir>/log-ids` holds a reservation mark,
//! and ids below it may be given out from memory. Persisting a block of ids at a time keeps
//! CreateStream of many shards from paying a file replacement and two syncs per shard.
//!
//! File (20 bytes, replaced atomically like catalog entries): magic "KNSDLID1" |
//! reserved-up-to u64 (every id handed out is below it) | crc32c u32 of the preceding bytes.

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;

use parking_lot::Mutex;

use super::catalog::sync_dir;
use crate::store::LogId;

const MAGIC: &[u8; 8] = b"KNSDLID1";
const FILE_LEN: usize = 8 + 8 + 4;

/// Ids reserved per durable write of the mark. Ids reserved but not handed out before a
/// restart are skipped for ever; with a 64-bit space that costs nothing, and it makes one
/// write in 1024 creations pay for the file replacement.
const RESERVATION_BLOCK: u64 = 1024;

pub struct LogIds {
    path: PathBuf,
    state: Mutex<Reservation>,
}

struct Reservation {
    /// The next id to hand out.
    next: u64,
    /// Ids below this are covered by the durable mark.
    reserved: u64,
}

impl LogIds {
    /// Opens the mark in `dir`; ids start above it and above `above` (the highest id the
    /// journal still mentions, which covers data directories written before the mark existed).
    pub fn open(dir: &std::path::Path, above: Option<LogId>) -> std::io::Result<LogIds> {
        let path = dir.join("log-ids");
        let mark = match fs::read(&path) {
            Ok(bytes) => decode(&bytes).ok_or_else(|| {
                std::io::Error::other(format!("{} is damaged; it must say which log ids were used", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(e) => return Err(e),
        };
        let next = mark.max(above.map_or(1, |id| id.0 + 1)).max(1);
        Ok(LogIds { path, state: Mutex::new(Reservation { next, reserved: next }) })
    }

    /// The next id, if it is already covered by the durable mark (no I/O).
    pub fn take_reserved(&self) -> Option<LogId> {
        let mut state = self.state.lock();
        (state.next < state.reserved).then(|| {
            state.next += 1;
            LogId(state.next - 1)
        })
    }

    /// The next id, persisting a new mark first when the reserved block is used up. Blocking.
    pub fn allocate(&self) -> std::io::Result<LogId> {
        let mut state = self.state.lock();
        if state.next >= state.reserved {
            let reserved = state
                .next
                .checked_add(RESERVATION_BLOCK)
                .ok_or_else(|| std::io::Error::other("log ids are exhausted"))?;
            self.persist(reserved)?;
            state.reserved = reserved;
        }
        state.next += 1;
        Ok(LogId(state.next - 1))
    }

    fn persist(&self, reserved: u64) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&encode(reserved))?;
        f.sync_data()?;
        drop(f);
        fs::rename(&tmp, &self.path)?;
        match self.path.parent() {
            Some(dir) => sync_dir(dir),
            None => Ok(()),
        }
    }
}

fn encode(reserved: u64) -> [u8; FILE_LEN] {
    let mut b = [0u8; FILE_LEN];
    b[..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&reserved.to_le_bytes());
    let crc = crc32c::crc32c(&b[..16]);
    b[16..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<u64> {
    if b.len() != FILE_LEN || &b[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(b[16..20].try_into().ok()?);
    if crc32c::crc32c(&b[..16]) != crc {
        return None;
    }
    Some(u64::from_le_bytes(b[8..16].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_continue_above_the_mark_and_the_journal_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let ids = LogIds::open(dir.path(), None).unwrap();
        assert_eq!(ids.take_reserved(), None, "nothing is reserved before the mark is written");
        let first = ids.allocate().unwrap();
        assert_eq!(first, LogId(1));
        assert_eq!(ids.take_reserved(), Some(LogId(2)), "the rest of the block comes from memory");
        drop(ids);
        // Every id of the block may have been handed out: a reopen starts above all of them.
        let ids = LogIds::open(dir.path(), None).unwrap();
        assert_eq!(ids.allocate().unwrap(), LogId(1 + RESERVATION_BLOCK));
        drop(ids);
        let ids = LogIds::open(dir.path(), Some(LogId(5_000))).unwrap();
        assert_eq!(ids.allocate().unwrap(), LogId(5_001), "ids the journal mentions are never given again");
    }

    #[test]
    fn a_damaged_mark_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        LogIds::open(dir.path(), None).unwrap().allocate().unwrap();
        let path = dir.path().join("log-ids");
        let mut bytes = fs::read(&path).unwrap();
        bytes[9] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert!(LogIds::open(dir.path(), None).is_err());
    }
}
