//! A node's cache of where packs sit: stream sequence → pack meta, and position → sequence.
//!
//! A pack's meta never changes once stored (sequences are never reused: a log's stream is
//! never recreated under its name, and purges keep the counter), so entries learnt from this
//! node's appends, from the tip follower's headers or from reads stay true on every node. A
//! miss is answered by asking the stream (a binary search over sequences, see `mod.rs`). The
//! cache keeps the newest [`INDEX_CAPACITY`] packs of each log: readers mostly follow the tip.

use std::collections::BTreeMap;

use super::wire::PackMeta;

/// Packs remembered per log. About 64 bytes each: 256 KiB per busy log at most.
pub(super) const INDEX_CAPACITY: usize = 4096;

#[derive(Default)]
pub(super) struct PackIndex {
    by_seq: BTreeMap<u64, PackMeta>,
    /// First position → sequence, for packs holding records (a marker holds none, and shares
    /// its first position with the pack after it).
    by_pos: BTreeMap<u64, u64>,
}

impl PackIndex {
    pub fn insert(&mut self, seq: u64, meta: PackMeta) {
        if self.by_seq.insert(seq, meta).is_none() && meta.count > 0 {
            self.by_pos.insert(meta.first_pos, seq);
        }
        while self.by_seq.len() > INDEX_CAPACITY {
            let Some((_, old)) = self.by_seq.pop_first() else { break };
            if old.count > 0 {
                self.by_pos.remove(&old.first_pos);
            }
        }
    }

    pub fn get(&self, seq: u64) -> Option<PackMeta> {
        self.by_seq.get(&seq).copied()
    }

    /// The sequence of the pack holding `position`, if cached.
    pub fn locate(&self, position: u64) -> Option<u64> {
        let (&first, &seq) = self.by_pos.range(..=position).next_back()?;
        let meta = self.by_seq.get(&seq)?;
        (position >= first && position < meta.end()).then_some(seq)
    }

    /// Forgets packs below a sequence (purged by a trim).
    pub fn forget_below(&mut self, seq: u64) {
        let kept = self.by_seq.split_off(&seq);
        for (_, meta) in std::mem::replace(&mut self.by_seq, kept) {
            if meta.count > 0 {
                self.by_pos.remove(&meta.first_pos);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(first_pos: u64, count: u32) -> PackMeta {
        PackMeta { first_pos, count, arrival_ms: 0, writer: 0 }
    }

    #[test]
    fn locates_positions_inside_packs_only() {
        let mut index = PackIndex::default();
        index.insert(1, meta(0, 3));
        index.insert(2, meta(3, 0)); // a marker
        index.insert(3, meta(3, 2));
        index.insert(5, meta(10, 1)); // sequence 4 (positions 5..10) not cached
        assert_eq!(
            [0, 2, 3, 4, 5, 9, 10, 11].map(|p| index.locate(p)),
            [Some(1), Some(1), Some(3), Some(3), None, None, Some(5), None]
        );
        index.forget_below(3);
        assert_eq!((index.locate(0), index.get(2), index.locate(4)), (None, None, Some(3)));
    }

    #[test]
    fn keeps_the_newest_packs() {
        let mut index = PackIndex::default();
        for seq in 1..=(INDEX_CAPACITY as u64 + 10) {
            index.insert(seq, meta(seq * 2, 2));
        }
        assert_eq!(index.by_seq.len(), INDEX_CAPACITY);
        assert_eq!(index.by_pos.len(), INDEX_CAPACITY);
        assert_eq!(index.locate(2), None, "the oldest were dropped");
        assert_eq!(index.locate((INDEX_CAPACITY as u64 + 10) * 2 + 1), Some(INDEX_CAPACITY as u64 + 10));
    }
}
