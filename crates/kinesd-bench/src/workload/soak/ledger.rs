//! The soak's check that every follower consumed exactly what was acknowledged, without keeping
//! a list of records: per shard and follower a count, an order-independent digest of the
//! sequence numbers and the last one seen (duplicates and reorders are caught as they happen,
//! gaps and extras by count and digest at the end). Memory: one entry per shard and follower.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Who reads a shard: the polling consumer, or fan-out consumer `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Follower {
    Polling,
    FanOut(usize),
}

impl std::fmt::Display for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Follower::Polling => f.write_str("polling consumer"),
            Follower::FanOut(n) => write!(f, "fan-out consumer {n}"),
        }
    }
}

/// A shard's records as one side saw them: how many, a digest of their sequence numbers that
/// does not depend on their order, and (for consumers) the last one, to catch a duplicate or a
/// step back as it happens.
#[derive(Debug, Default, Clone)]
pub(super) struct Trail {
    pub(super) count: u64,
    pub(super) digest: u64,
    pub(super) last: String,
    pub(super) duplicates: u64,
    pub(super) reorders: u64,
}

impl Trail {
    pub(super) fn acknowledge(&mut self, sequence: &str) {
        self.count += 1;
        self.digest = self.digest.wrapping_add(fingerprint(sequence));
    }

    pub(super) fn consume(&mut self, sequence: &str) {
        if !self.last.is_empty() {
            match sequence_order(sequence, &self.last) {
                Ordering::Equal => self.duplicates += 1,
                Ordering::Less => self.reorders += 1,
                Ordering::Greater => {}
            }
        }
        self.acknowledge(sequence);
        self.last.clear();
        self.last.push_str(sequence);
    }
}

/// Sequence numbers are decimal integers without leading zeros (up to 2^128 and beyond u128's
/// reach on AWS): the longer is the larger, and equal lengths compare as text.
pub(super) fn sequence_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// FNV-1a, then a final mix so that the sum of many fingerprints does not cancel out.
pub(super) fn fingerprint(sequence: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sequence.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Acknowledged and consumed records, per shard.
#[derive(Default)]
pub(super) struct Ledger {
    pub(super) acknowledged: BTreeMap<String, Trail>,
    pub(super) consumed: BTreeMap<(Follower, String), Trail>,
}

/// How one follower's records compare with the acknowledged ones, over all shards.
#[derive(Debug, Serialize)]
pub(super) struct FollowerCheck {
    pub(super) follower: String,
    pub(super) acknowledged: u64,
    pub(super) consumed: u64,
    /// Shards whose consumed records are not exactly the acknowledged ones (count or digest).
    pub(super) mismatched_shards: Vec<String>,
    /// Acknowledged records not consumed, summed over shards that consumed fewer.
    pub(super) missing: u64,
    /// Consumed records beyond the acknowledged ones (a PutRecords that timed out may still
    /// have been stored: AWS's at-least-once).
    pub(super) extra: u64,
    pub(super) duplicates: u64,
    pub(super) reorders: u64,
}

impl FollowerCheck {
    pub(super) fn ok(&self) -> bool {
        self.mismatched_shards.is_empty() && self.duplicates == 0 && self.reorders == 0
    }
}

impl Ledger {
    pub(super) fn consumed_total(&self, follower: Follower) -> u64 {
        self.consumed.iter().filter(|((f, _), _)| *f == follower).map(|(_, t)| t.count).sum()
    }

    pub(super) fn acknowledged_total(&self) -> u64 {
        self.acknowledged.values().map(|t| t.count).sum()
    }

    pub(super) fn out_of_order(&self) -> u64 {
        self.consumed.values().map(|t| t.duplicates + t.reorders).sum()
    }

    pub(super) fn check(&self, consumer_arns: &[String]) -> Vec<FollowerCheck> {
        let followers = std::iter::once(Follower::Polling).chain((0..consumer_arns.len()).map(Follower::FanOut));
        followers
            .map(|follower| {
                let mut check = FollowerCheck {
                    follower: follower.to_string(),
                    acknowledged: self.acknowledged_total(),
                    consumed: self.consumed_total(follower),
                    mismatched_shards: Vec::new(),
                    missing: 0,
                    extra: 0,
                    duplicates: 0,
                    reorders: 0,
                };
                let shards: BTreeSet<&String> = self
                    .acknowledged
                    .keys()
                    .chain(self.consumed.keys().filter(|(f, _)| *f == follower).map(|(_, s)| s))
                    .collect();
                let none = Trail::default();
                for shard in shards {
                    let acked = self.acknowledged.get(shard).unwrap_or(&none);
                    let got = self.consumed.get(&(follower, shard.clone())).unwrap_or(&none);
                    check.duplicates += got.duplicates;
                    check.reorders += got.reorders;
                    if (acked.count, acked.digest) != (got.count, got.digest) {
                        check.mismatched_shards.push(shard.clone());
                        check.missing += acked.count.saturating_sub(got.count);
                        check.extra += got.count.saturating_sub(acked.count);
                    }
                }
                check
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_by_value() {
        assert_eq!(sequence_order("9", "10"), Ordering::Less);
        assert_eq!(
            sequence_order("49590338271490256608559692538361571095921575989136588898", "4959"),
            Ordering::Greater
        );
        assert_eq!(sequence_order("123", "123"), Ordering::Equal);
        assert_eq!(sequence_order("124", "123"), Ordering::Greater);
    }

    #[test]
    fn trails_catch_duplicates_reorders_and_gaps() {
        let mut acked = Trail::default();
        for s in ["1", "2", "3"] {
            acked.acknowledge(s);
        }
        let mut in_order = Trail::default();
        for s in ["1", "2", "3"] {
            in_order.consume(s);
        }
        assert_eq!((in_order.count, in_order.digest, in_order.duplicates, in_order.reorders), (3, acked.digest, 0, 0));
        let mut odd = Trail::default();
        for s in ["1", "3", "3", "2"] {
            odd.consume(s);
        }
        assert_eq!((odd.duplicates, odd.reorders), (1, 1));
        let mut gap = Trail::default();
        for s in ["1", "3", "4"] {
            gap.consume(s);
        }
        assert_eq!(gap.count, acked.count);
        assert_ne!(gap.digest, acked.digest, "same count, other records");
    }

    #[test]
    fn ledger_check_names_the_mismatched_shards() {
        let mut ledger = Ledger::default();
        for (shard, seqs) in [("a", ["1", "2"]), ("b", ["5", "6"])] {
            for s in seqs {
                ledger.acknowledged.entry(shard.into()).or_default().acknowledge(s);
                ledger.consumed.entry((Follower::Polling, shard.into())).or_default().consume(s);
            }
        }
        ledger.consumed.entry((Follower::FanOut(0), "a".into())).or_default().consume("1");
        let checks = ledger.check(&["arn".into()]);
        assert!(checks[0].ok(), "{:?}", checks[0]);
        assert!(!checks[1].ok());
        assert_eq!(checks[1].mismatched_shards, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!((checks[1].missing, checks[1].extra), (3, 0));
    }
}
