//! Reshard plans: which shards a SplitShard, MergeShards or UpdateShardCount closes and which
//! it creates, with their lineage. Pure functions of the open shards, so they can be checked
//! exhaustively without a store.
//!
//! Every plan keeps the invariant the data plane and the KCL rely on: before and after it, the
//! open shards tile `0..=2^128-1`; each new shard has a parent whose range contains its own
//! (split) or two adjacent parents whose ranges are exactly its own (merge, `parent` below
//! `adjacent_parent`), so a reader that finishes parents before children sees every record.
//!
//! UpdateShardCount is expressed, as AWS does it, as splits and merges: first every open shard
//! is split at each boundary of the uniform target layout that falls inside it, then the pieces
//! inside each target range are merged left to right. Shards that are split or merged again
//! within the same plan are AWS's "short-lived shards": created and closed at once, empty.

use super::hash::{HashKeyRange, creation_ranges};

/// A shard a plan creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShard {
    pub index: u32,
    pub range: HashKeyRange,
    pub parent: u32,
    pub adjacent_parent: Option<u32>,
    /// Closed again by the same plan (an intermediate step of UpdateShardCount).
    pub transient: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Shards that are open before the plan and closed by it.
    pub closes: Vec<u32>,
    /// New shards, in index order starting at the stream's next shard index.
    pub creates: Vec<NewShard>,
}

/// Builds a plan step by step, tracking which shards existed before it.
struct Builder {
    first_new: u32,
    plan: Plan,
}

impl Builder {
    fn new(first_new: u32) -> Builder {
        Builder { first_new, plan: Plan::default() }
    }

    fn next_index(&self) -> u32 {
        self.first_new + self.plan.creates.len() as u32
    }

    fn close(&mut self, index: u32) {
        if index < self.first_new {
            self.plan.closes.push(index);
        } else if let Some(s) = self.plan.creates.get_mut((index - self.first_new) as usize) {
            s.transient = true;
        }
    }

    fn create(&mut self, range: HashKeyRange, parent: u32, adjacent_parent: Option<u32>) -> (u32, HashKeyRange) {
        let index = self.next_index();
        self.plan.creates.push(NewShard { index, range, parent, adjacent_parent, transient: false });
        (index, range)
    }

    /// Splits `shard` so that its upper child starts at `at` (`start < at <= end`).
    fn split(&mut self, shard: (u32, HashKeyRange), at: u128) -> [(u32, HashKeyRange); 2] {
        self.close(shard.0);
        let (index, range) = shard;
        let lower = self.create(HashKeyRange { start: range.start, end: at - 1 }, index, None);
        let upper = self.create(HashKeyRange { start: at, end: range.end }, index, None);
        [lower, upper]
    }

    /// Merges `lower` with the shard right above it.
    fn merge(&mut self, lower: (u32, HashKeyRange), upper: (u32, HashKeyRange)) -> (u32, HashKeyRange) {
        self.close(lower.0);
        self.close(upper.0);
        self.create(HashKeyRange { start: lower.1.start, end: upper.1.end }, lower.0, Some(upper.0))
    }
}

/// SplitShard: `shard` becomes `[start, at-1]` and `[at, end]`. The caller has checked that
/// `start + 1 < at < end`.
pub fn split(shard: u32, range: HashKeyRange, at: u128, first_new: u32) -> Plan {
    let mut b = Builder::new(first_new);
    b.split((shard, range), at);
    b.plan
}

/// MergeShards: `lower` and `upper` (which starts right after `lower` ends) become one shard
/// whose parent is `lower` and adjacent parent `upper`.
pub fn merge(lower: (u32, HashKeyRange), upper: (u32, HashKeyRange), first_new: u32) -> Plan {
    let mut b = Builder::new(first_new);
    b.merge(lower, upper);
    b.plan
}

/// UpdateShardCount with UNIFORM_SCALING: from the open shards (which tile the key space) to
/// `target` shards with the ranges a new stream of `target` shards would have. Shards that
/// already have a target range are left alone.
pub fn uniform(open: &[(u32, HashKeyRange)], target: u32, first_new: u32) -> Plan {
    let mut open = open.to_vec();
    open.sort_by_key(|(_, r)| r.start);
    let targets = creation_ranges(target);
    let bounds: Vec<u128> = targets.iter().skip(1).map(|r| r.start).collect();
    let mut b = Builder::new(first_new);

    // Split: afterwards every piece lies inside exactly one target range.
    let mut pieces = Vec::with_capacity(open.len() + bounds.len());
    for shard in open {
        let mut current = shard;
        for &at in bounds.iter().filter(|&&at| shard.1.start < at && at <= shard.1.end) {
            let [lower, upper] = b.split(current, at);
            pieces.push(lower);
            current = upper;
        }
        pieces.push(current);
    }

    // Merge: the pieces of each target range, left to right.
    let mut pieces = pieces.into_iter().peekable();
    for t in targets {
        let Some(mut merged) = pieces.next() else {
            break;
        };
        while let Some(&next) = pieces.peek() {
            if next.1.end > t.end {
                break;
            }
            pieces.next();
            merged = b.merge(merged, next);
        }
    }
    b.plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn r(start: u128, end: u128) -> HashKeyRange {
        HashKeyRange { start, end }
    }

    /// Applies `plan` to `shards` (index -> (range, open)) and checks lineage invariants.
    fn apply(shards: &mut BTreeMap<u32, (HashKeyRange, bool)>, plan: &Plan) {
        for &c in &plan.closes {
            let s = shards.get_mut(&c).expect("closes an existing shard");
            assert!(s.1, "closes an open shard");
            s.1 = false;
        }
        for n in &plan.creates {
            let parent = shards
                .get(&n.parent)
                .map(|s| s.0)
                .or_else(|| plan.creates.iter().find(|c| c.index == n.parent).map(|c| c.range))
                .expect("parent exists");
            match n.adjacent_parent {
                None => assert!(parent.start <= n.range.start && n.range.end <= parent.end),
                Some(adj) => {
                    let adj = shards
                        .get(&adj)
                        .map(|s| s.0)
                        .or_else(|| plan.creates.iter().find(|c| c.index == adj).map(|c| c.range))
                        .expect("adjacent parent exists");
                    assert_eq!(parent.end + 1, adj.start, "parents are adjacent, in order");
                    assert_eq!(r(parent.start, adj.end), n.range);
                }
            }
            assert!(n.parent < n.index);
            shards.insert(n.index, (n.range, !n.transient));
        }
    }

    fn open_ranges(shards: &BTreeMap<u32, (HashKeyRange, bool)>) -> Vec<HashKeyRange> {
        let mut v: Vec<_> = shards.values().filter(|s| s.1).map(|s| s.0).collect();
        v.sort();
        v
    }

    fn layout(ranges: &[HashKeyRange]) -> BTreeMap<u32, (HashKeyRange, bool)> {
        ranges.iter().enumerate().map(|(i, &r)| (i as u32, (r, true))).collect()
    }

    #[test]
    fn doubling_splits_each_shard_once() {
        let mut shards = layout(&creation_ranges(2));
        let plan = uniform(&[(0, shards[&0].0), (1, shards[&1].0)], 4, 2);
        assert_eq!(plan.closes, vec![0, 1]);
        assert_eq!(plan.creates.len(), 4);
        assert!(plan.creates.iter().all(|c| !c.transient));
        assert_eq!(plan.creates.iter().map(|c| c.parent).collect::<Vec<_>>(), [0, 0, 1, 1]);
        apply(&mut shards, &plan);
        assert_eq!(shards.len(), 6, "AWS: 2 -> 4 leaves 6 shards, 2 closed");
        assert_eq!(open_ranges(&shards), creation_ranges(4));
    }

    #[test]
    fn halving_merges_pairs() {
        let ranges = creation_ranges(4);
        let mut shards = layout(&ranges);
        let open: Vec<_> = ranges.iter().enumerate().map(|(i, &r)| (i as u32, r)).collect();
        let plan = uniform(&open, 2, 4);
        assert_eq!(plan.closes, vec![0, 1, 2, 3]);
        assert_eq!(
            plan.creates.iter().map(|c| (c.parent, c.adjacent_parent)).collect::<Vec<_>>(),
            [(0, Some(1)), (2, Some(3))]
        );
        apply(&mut shards, &plan);
        assert_eq!(shards.len(), 6, "AWS: 4 -> 2 leaves 6 shards, 4 closed");
        assert_eq!(open_ranges(&shards), creation_ranges(2));
    }

    #[test]
    fn same_count_on_a_uniform_stream_changes_nothing() {
        let ranges = creation_ranges(3);
        let open: Vec<_> = ranges.iter().enumerate().map(|(i, &r)| (i as u32, r)).collect();
        assert_eq!(uniform(&open, 3, 3), Plan::default());
    }

    #[test]
    fn split_and_merge_plans() {
        let plan = split(0, HashKeyRange::FULL, 2, 1);
        assert_eq!(plan.closes, vec![0]);
        assert_eq!(plan.creates.iter().map(|c| c.range).collect::<Vec<_>>(), [r(0, 1), r(2, u128::MAX)]);
        let plan = merge((1, r(0, 9)), (2, r(10, 20)), 3);
        assert_eq!(plan.closes, vec![1, 2]);
        assert_eq!(plan.creates[0].range, r(0, 20));
        assert_eq!((plan.creates[0].parent, plan.creates[0].adjacent_parent), (1, Some(2)));
    }

    /// A tiling of the key space with `n` shards at arbitrary (sorted, distinct) cut points.
    fn tiling(cuts: &mut [u128]) -> Vec<HashKeyRange> {
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut start = 0u128;
        for &c in cuts.iter() {
            if c > start {
                out.push(r(start, c - 1));
                start = c;
            }
        }
        out.push(r(start, u128::MAX));
        out
    }

    proptest! {
        #[test]
        fn uniform_scaling_reaches_the_target_layout_with_lineage(
            mut cuts in proptest::collection::vec(1u128..=u128::MAX, 0..12),
            factor in 0.5f64..=2.0,
        ) {
            let ranges = tiling(&mut cuts);
            let n = ranges.len() as u32;
            let target = ((f64::from(n) * factor).round() as u32).clamp(n.div_ceil(2), 2 * n).max(1);
            let mut shards = layout(&ranges);
            let open: Vec<_> = ranges.iter().enumerate().map(|(i, &r)| (i as u32, r)).collect();
            let plan = uniform(&open, target, n);
            apply(&mut shards, &plan);
            prop_assert_eq!(open_ranges(&shards), creation_ranges(target));
            for c in &plan.creates {
                prop_assert!(c.index >= n);
            }
        }
    }
}
