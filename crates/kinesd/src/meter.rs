//! Counting primitives for metrics, shared by every layer: the store and the engine count what
//! they do with these, the api renders them at `GET /metrics`. They are plain atomics so that
//! the hot paths pay one relaxed add per request (never a lock, never an allocation); a scrape
//! reads them without stopping writers, so the figures of one scrape may be a few operations
//! apart from each other, never torn within one counter.

use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram with fixed bucket bounds (in whatever integer unit the caller observes:
/// microseconds, appends, bytes). Each observation is two relaxed adds and a scan of at most
/// `bounds.len()` integers.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds (inclusive), ascending; a last, implicit bucket holds everything larger.
    bounds: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// What a scrape reads from a [`Histogram`]: cumulative counts per bound, as Prometheus wants.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound, observations at or below it), ascending, ending with `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "ascending bounds");
        Histogram { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: AtomicU64::new(0) }
    }

    pub fn observe(&self, value: u64) {
        let i = self.bounds.iter().position(|&b| value <= b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The histogram with bounds and sum multiplied by `scale` (1e-6 turns microseconds into
    /// the seconds Prometheus conventions ask for).
    pub fn snapshot(&self, scale: f64) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let bound = self.bounds.get(i).map_or(f64::INFINITY, |&b| b as f64 * scale);
            buckets.push((bound, cumulative));
        }
        HistogramSnapshot { buckets, count: cumulative, sum: self.sum.load(Ordering::Relaxed) as f64 * scale }
    }
}

/// Latency bounds in microseconds, 100 µs to 10 s: an fsync, a PutRecords, a slow disk.
pub const LATENCY_MICROS: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// A counter: one relaxed add.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_scaled() {
        let h = Histogram::new(&[10, 100]);
        for v in [1, 10, 11, 100, 1000] {
            h.observe(v);
        }
        let s = h.snapshot(0.5);
        assert_eq!(s.buckets, vec![(5.0, 2), (50.0, 4), (f64::INFINITY, 5)]);
        assert_eq!(s.count, 5);
        assert_eq!(s.sum, 1122.0 * 0.5);
    }
}
