//! Which journal files are open for reading.
//!
//! The segment being written stays open for the store's life. Sealed segments' data (`.log`)
//! and index (`.idx`) files are opened when a read or a seek needs them and kept in a cache of
//! at most `capacity` files, least recently used out first; a miss costs one `open`. Keeping
//! every sealed segment open instead costs about 31 descriptors per GB retained (64 MiB
//! segments, two files each), so a 20,000-descriptor limit would stop the server at ~640 GB.
//!
//! The set of segments on disk lives here too, under the same lock as the cache, so that a
//! reader cannot put a file of a segment that retention has just deleted back into the cache
//! (its descriptor would keep the deleted file's space in use).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::journal;

/// Sealed segments' files open at most by default: about 256 segments' data and index files,
/// 16 GiB of 64 MiB segments (reads of recent data, the common case, hit the newest ones).
pub const OPEN_SEALED_FILES: usize = 512;

/// A segment's two files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Data,
    Index,
}

pub struct SegmentFiles {
    dir: PathBuf,
    /// The segment being written, and its file opened for reading.
    active: RwLock<(u64, Arc<File>)>,
    state: Mutex<State>,
}

/// What is known of a segment on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentMeta {
    /// Which rewrite of the segment its files are (see `journal::segment_path`).
    pub generation: u32,
    /// Bytes of valid frames (for the active segment, 0: it is still growing).
    pub len: u64,
}

struct State {
    /// Every segment on disk, the active one included.
    on_disk: BTreeMap<u64, SegmentMeta>,
    cache: Lru,
}

impl SegmentFiles {
    pub fn new(
        dir: PathBuf,
        on_disk: BTreeMap<u64, SegmentMeta>,
        active: (u64, File),
        capacity: usize,
    ) -> SegmentFiles {
        let mut on_disk = on_disk;
        on_disk.entry(active.0).or_default();
        SegmentFiles {
            dir,
            active: RwLock::new((active.0, Arc::new(active.1))),
            state: Mutex::new(State { on_disk, cache: Lru::new(capacity) }),
        }
    }

    /// A segment's data file; None if the segment has been deleted (by retention).
    pub fn data(&self, segment: u64) -> std::io::Result<Option<Arc<File>>> {
        {
            let active = self.active.read();
            if active.0 == segment {
                return Ok(Some(active.1.clone()));
            }
        }
        self.sealed(segment, Kind::Data)
    }

    /// A sealed segment's index file; None if the segment has been deleted.
    pub fn index(&self, segment: u64) -> std::io::Result<Option<Arc<File>>> {
        self.sealed(segment, Kind::Index)
    }

    fn sealed(&self, segment: u64, kind: Kind) -> std::io::Result<Option<Arc<File>>> {
        let generation = {
            let mut state = self.state.lock();
            if let Some(file) = state.cache.get((segment, kind)) {
                return Ok(Some(file));
            }
            match state.on_disk.get(&segment) {
                Some(meta) => meta.generation,
                None => return Ok(None),
            }
        };
        // Opened without the lock, so a miss does not hold up other readers' hits.
        let path = match kind {
            Kind::Data => journal::segment_path(&self.dir, segment, generation),
            Kind::Index => journal::index_path(&self.dir, segment, generation),
        };
        let current = |state: &State| state.on_disk.get(&segment).is_some_and(|m| m.generation == generation);
        let file = match File::open(&path) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !current(&self.state.lock()) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut state = self.state.lock();
        if !current(&state) {
            // Deleted while we opened it: do not keep its space alive in the cache.
            return Ok(None);
        }
        Ok(Some(state.cache.insert((segment, kind), file)))
    }

    /// The segment being written.
    pub fn active_id(&self) -> u64 {
        self.active.read().0
    }

    /// Sealed segments, oldest first.
    pub fn sealed_segments(&self) -> Vec<(u64, SegmentMeta)> {
        let active = self.active_id();
        self.state.lock().on_disk.range(..active).map(|(id, m)| (*id, *m)).collect()
    }

    /// Every segment on disk, oldest first.
    pub fn on_disk(&self) -> Vec<(u64, SegmentMeta)> {
        self.state.lock().on_disk.iter().map(|(id, m)| (*id, *m)).collect()
    }

    /// Seals the active segment, `len` bytes long (its data and new index file join the cache,
    /// as the most recently used: reads of recent records want them) and makes `next` the
    /// active one.
    pub fn roll(&self, index: File, len: u64, next: u64, next_file: File) {
        let mut state = self.state.lock();
        state.on_disk.insert(next, SegmentMeta::default());
        let mut active = self.active.write();
        let (sealed, data) = std::mem::replace(&mut *active, (next, Arc::new(next_file)));
        drop(active);
        state.on_disk.insert(sealed, SegmentMeta { generation: 0, len });
        state.cache.insert((sealed, Kind::Index), Arc::new(index));
        state.cache.insert((sealed, Kind::Data), data);
    }

    /// Forgets a segment that is about to be deleted, closing its cached files; returns what
    /// it was (None: already gone).
    pub fn forget(&self, segment: u64) -> Option<SegmentMeta> {
        let mut state = self.state.lock();
        state.cache.remove((segment, Kind::Data));
        state.cache.remove((segment, Kind::Index));
        state.on_disk.remove(&segment)
    }

    /// Compaction replaced the segments `merged` by generation `meta` of the first of them:
    /// their cached files are closed and readers find the new files from now on. Returns the
    /// files that are no longer used (to delete), as (id, generation).
    pub fn replace(&self, merged: &std::ops::RangeInclusive<u64>, meta: SegmentMeta) -> Vec<(u64, u32)> {
        let mut state = self.state.lock();
        let old: Vec<(u64, u32)> = state.on_disk.range(merged.clone()).map(|(id, m)| (*id, m.generation)).collect();
        for (id, _) in &old {
            state.on_disk.remove(id);
            state.cache.remove((*id, Kind::Data));
            state.cache.remove((*id, Kind::Index));
        }
        state.on_disk.insert(*merged.start(), meta);
        old
    }

    /// Files of sealed segments open now.
    #[cfg(test)]
    pub fn open_sealed(&self) -> Vec<(u64, Kind)> {
        self.state.lock().cache.map.keys().copied().collect()
    }
}

/// A least-recently-used cache of open files. A hit is a map lookup; when full, an insert
/// finds the least recently used entry by a scan, which at a few hundred entries costs about
/// what the `open` of the miss that caused it does.
struct Lru {
    capacity: usize,
    clock: u64,
    map: HashMap<(u64, Kind), (Arc<File>, u64)>,
}

impl Lru {
    fn new(capacity: usize) -> Lru {
        Lru { capacity: capacity.max(1), clock: 0, map: HashMap::with_capacity(capacity) }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn get(&mut self, key: (u64, Kind)) -> Option<Arc<File>> {
        let now = self.tick();
        self.map.get_mut(&key).map(|(file, used)| {
            *used = now;
            file.clone()
        })
    }

    /// Inserts `file` unless another reader got there first; returns the cached one.
    fn insert(&mut self, key: (u64, Kind), file: Arc<File>) -> Arc<File> {
        let now = self.tick();
        if let Some((cached, used)) = self.map.get_mut(&key) {
            *used = now;
            return cached.clone();
        }
        if self.map.len() >= self.capacity
            && let Some(oldest) = self.map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k)
        {
            // Readers still holding the evicted file keep it open until they are done.
            self.map.remove(&oldest);
        }
        self.map.insert(key, (file.clone(), now));
        file
    }

    fn remove(&mut self, key: (u64, Kind)) {
        self.map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<File> {
        Arc::new(tempfile::tempfile().unwrap())
    }

    #[test]
    fn the_least_recently_used_file_goes_first() {
        let mut lru = Lru::new(2);
        lru.insert((1, Kind::Data), file());
        lru.insert((2, Kind::Data), file());
        assert!(lru.get((1, Kind::Data)).is_some());
        lru.insert((3, Kind::Data), file());
        assert_eq!(lru.map.len(), 2);
        assert!(lru.get((2, Kind::Data)).is_none(), "2 was used least recently");
        assert!(lru.get((1, Kind::Data)).is_some() && lru.get((3, Kind::Data)).is_some());
        let first = lru.get((3, Kind::Data)).unwrap();
        let again = lru.insert((3, Kind::Data), file());
        assert!(Arc::ptr_eq(&first, &again), "a second open of a cached file is dropped");
    }
}
