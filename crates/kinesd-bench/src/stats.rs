//! Measurements: latency histograms, per-task tallies merged at the end, and the shared
//! counters the progress line reads while a run goes on.
//!
//! Each task records into its own [`Tally`] (no sharing, no locks on the hot path) and only
//! inside the measurement window, after the warm-up; the shared [`Live`] counters count
//! everything, for the progress line only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies up to this many microseconds are recorded exactly (3 significant digits); longer
/// ones saturate.
const MAX_MICROS: u64 = 120_000_000;

/// A latency distribution in microseconds.
#[derive(Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, elapsed: Duration) {
        self.record_micros(elapsed.as_micros() as u64);
    }

    pub fn record_micros(&mut self, micros: u64) {
        self.0.saturating_record(micros.max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        self.0.add(&other.0).expect("same bounds");
    }

    pub fn summary(&self) -> Percentiles {
        let h = &self.0;
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// What the report shows of a latency distribution (0 everywhere when nothing was recorded).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// One task's measurements of one kind of call, inside the measurement window.
#[derive(Clone, Default)]
pub struct Tally {
    pub requests: u64,
    /// Records written or read successfully.
    pub records: u64,
    /// Payload bytes of those records (raw data, not base64).
    pub bytes: u64,
    pub latency: Latency,
    /// Failed calls by AWS error name (or `transport`), plus PutRecords per-record failures
    /// under `FailedRecordCount`.
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub fn error(&mut self, name: &str, n: u64) {
        *self.errors.entry(name.to_owned()).or_default() += n;
    }

    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.records += other.records;
        self.bytes += other.bytes;
        self.latency.merge(&other.latency);
        for (name, n) in &other.errors {
            *self.errors.entry(name.clone()).or_default() += n;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Counters every task bumps, read once a second by the progress line.
#[derive(Default)]
pub struct Live {
    pub put_records: AtomicU64,
    pub get_records: AtomicU64,
    pub errors: AtomicU64,
}

impl Live {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}
