//! What the soak shows: one row per sample (a table line on stderr, a JSON line in --report),
//! and the verdict that sets the last sample against the first.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ledger::FollowerCheck;
use super::{DRAIN_TIMEOUT, TotalsSnapshot};

/// Memory growth from the first half of the run to the second that still counts as flat: this
/// much, or `MEMORY_FLAT_FRACTION` of the first half's peak, whichever is larger (allocator
/// arenas move by a few MiB from minute to minute).
pub(super) const MEMORY_FLAT_KIB: u64 = 16 * 1024;
pub(super) const MEMORY_FLAT_FRACTION: f64 = 0.10;
/// p99 of the last sample over the first that still counts as flat (the machine is shared).
pub(super) const LATENCY_FLAT_RATIO: f64 = 2.0;
/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Sample {
    pub(super) elapsed_s: f64,
    /// Seconds since the previous sample: the window the latencies and counts cover.
    pub(super) window_s: f64,
    pub(super) unix_ms: u64,
    /// The server's resident set (VmRSS).
    pub(super) rss_kib: Option<u64>,
    pub(super) open_files: Option<u64>,
    /// Client connections the server has open (its `/metrics`), this sampler's included.
    pub(super) connections: Option<u64>,
    /// The server's GetRecords iterator age for the stream (its `/metrics`): how far behind
    /// the polling consumers are, as the server sees it.
    pub(super) iterator_age_ms: Option<u64>,
    pub(super) put_p50_us: u64,
    pub(super) put_p99_us: u64,
    pub(super) get_records_p99_us: u64,
    /// From a record's send stamp to the fan-out event that delivered it.
    pub(super) put_to_event_p99_us: u64,
    /// Records acknowledged, polled and delivered in the window (delivered: over all consumers).
    pub(super) put_records: u64,
    pub(super) polled_records: u64,
    pub(super) delivered_records: u64,
    pub(super) errors: BTreeMap<String, u64>,
    pub(super) open_shards: usize,
    pub(super) reshards: u64,
    pub(super) subscriptions: u64,
    /// Acknowledged records not yet consumed (the slowest fan-out consumer for fan-out).
    pub(super) polling_lag_records: u64,
    pub(super) fan_out_lag_records: u64,
    /// Duplicates and reorders seen so far by any follower.
    pub(super) out_of_order: u64,
    pub(super) totals: TotalsSnapshot,
}

impl Sample {
    pub(super) const HEADER: &str = "  time    RSS MiB  fds  conns  put p50  put p99  get p99  fan p99   put/s  poll/s   fan/s  shards lag(poll/fan)  itage ooo  errors";

    pub(super) fn row(&self) -> String {
        let per_second = |n: u64| n as f64 / self.window_s.max(1e-3);
        let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let errors: Vec<String> = self.errors.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        format!(
            "{:>5.0}s {:>9} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7.0} {:>7.0} {:>7.0} {:>7} {:>6}/{:<6} {:>6} {:>3}  {}",
            self.elapsed_s,
            self.rss_kib.map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
            opt(self.open_files),
            opt(self.connections),
            crate::report::micros(self.put_p50_us, 1),
            crate::report::micros(self.put_p99_us, 1),
            crate::report::micros(self.get_records_p99_us, 1),
            crate::report::micros(self.put_to_event_p99_us, 1),
            per_second(self.put_records),
            per_second(self.polled_records),
            per_second(self.delivered_records),
            self.open_shards,
            self.polling_lag_records,
            self.fan_out_lag_records,
            self.iterator_age_ms.map_or("-".to_owned(), |ms| crate::report::micros(ms * 1000, 1)),
            self.out_of_order,
            if errors.is_empty() { "-".to_owned() } else { errors.join(" ") }
        )
    }
}

/// The end of a run: the first and last samples side by side, and the delivery check.
#[derive(Debug, Serialize)]
pub(super) struct Verdict {
    pub(super) samples: usize,
    pub(super) first: Option<Sample>,
    pub(super) last: Option<Sample>,
    pub(super) rss_growth_kib: Option<i64>,
    /// The second half's RSS peak is within `MEMORY_FLAT_*` of the first half's (with a single
    /// sample, the last within it of the first). Halves rather than first and last minutes,
    /// since bounded caches (kinesd's frame cache, open sealed files) fill during the first
    /// half hour of a soak: a leak keeps growing in the second half, a cache does not.
    pub(super) memory_flat: Option<bool>,
    /// The largest RSS of the first half of the samples and of the second half: a trend shows
    /// as a second half above the first, where a single last sample may just be noise.
    pub(super) rss_peak_halves_kib: Option<(u64, u64)>,
    /// First and last samples' open descriptors and connections (a kinesd keeps up to 512
    /// sealed journal files open, so its descriptors grow with the data until that bound).
    pub(super) open_files: Option<(u64, u64)>,
    pub(super) connections: Option<(u64, u64)>,
    pub(super) put_p99_ratio: Option<f64>,
    pub(super) get_records_p99_ratio: Option<f64>,
    pub(super) put_to_event_p99_ratio: Option<f64>,
    pub(super) latency_flat: bool,
    /// Every follower caught up with the acknowledged records within the drain timeout.
    pub(super) drained: bool,
    pub(super) consumed_matches_acknowledged: bool,
    pub(super) followers: Vec<FollowerCheck>,
    pub(super) totals: TotalsSnapshot,
}

impl Verdict {
    pub(super) fn new(
        samples: &[Sample],
        followers: Vec<FollowerCheck>,
        drained: bool,
        totals: TotalsSnapshot,
    ) -> Verdict {
        let (first, last) = (samples.first().cloned(), samples.last().cloned());
        let pair = |f: fn(&Sample) -> Option<u64>| match (&first, &last) {
            (Some(a), Some(b)) => f(a).zip(f(b)),
            _ => None,
        };
        let rss = pair(|s| s.rss_kib);
        let (early, late) = samples.split_at(samples.len() / 2);
        let peak = |half: &[Sample]| half.iter().filter_map(|s| s.rss_kib).max();
        let ratio = |f: fn(&Sample) -> u64| match (&first, &last) {
            (Some(a), Some(b)) if f(a) > 0 && f(b) > 0 => Some(f(b) as f64 / f(a) as f64),
            _ => None,
        };
        let (put, get, event) =
            (ratio(|s| s.put_p99_us), ratio(|s| s.get_records_p99_us), ratio(|s| s.put_to_event_p99_us));
        Verdict {
            samples: samples.len(),
            rss_growth_kib: rss.map(|(a, b)| b as i64 - a as i64),
            memory_flat: peak(early)
                .zip(peak(late))
                .or(rss)
                .map(|(a, b)| b <= a + MEMORY_FLAT_KIB.max((a as f64 * MEMORY_FLAT_FRACTION) as u64)),
            rss_peak_halves_kib: peak(early).zip(peak(late)),
            open_files: pair(|s| s.open_files),
            connections: pair(|s| s.connections),
            put_p99_ratio: put,
            get_records_p99_ratio: get,
            put_to_event_p99_ratio: event,
            latency_flat: [put, get, event].iter().flatten().all(|r| *r <= LATENCY_FLAT_RATIO),
            drained,
            consumed_matches_acknowledged: followers.iter().all(FollowerCheck::ok),
            followers,
            totals,
            first,
            last,
        }
    }

    pub(super) fn print(&self) {
        eprintln!("\nsoak verdict after {} samples:", self.samples);
        if let (Some(first), Some(last)) = (&self.first, &self.last) {
            eprintln!("  first: {}", first.row());
            eprintln!("  last:  {}", last.row());
        }
        let ratio = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("×{r:.2}"));
        eprintln!(
            "  memory: {} first to last sample, {} (the second half's peak against the first's); p99 last/first: put {}, GetRecords {}, put-to-event {} ({})",
            self.rss_growth_kib.map_or("-".to_owned(), |k| format!("{:+.1} MiB", k as f64 / 1024.0)),
            match self.memory_flat {
                Some(true) => "flat",
                Some(false) => "GROWING",
                None => "not measured: no --server-pid",
            },
            ratio(self.put_p99_ratio),
            ratio(self.get_records_p99_ratio),
            ratio(self.put_to_event_p99_ratio),
            if self.latency_flat { "flat" } else { "DRIFTING" },
        );
        let pair = |p: Option<(u64, u64)>| p.map_or("-".to_owned(), |(a, b)| format!("{a} → {b}"));
        eprintln!(
            "  RSS peak: first half {}, second half {}; open files {}; connections {}",
            self.rss_peak_halves_kib.map_or("-".to_owned(), |(a, _)| format!("{:.1} MiB", a as f64 / 1024.0)),
            self.rss_peak_halves_kib.map_or("-".to_owned(), |(_, b)| format!("{:.1} MiB", b as f64 / 1024.0)),
            pair(self.open_files),
            pair(self.connections),
        );
        let t = &self.totals;
        eprintln!(
            "  totals: {} records acknowledged, {} polled, {} delivered by fan-out, {} errors, {} reshards, {} subscriptions",
            t.put, t.polled, t.delivered, t.errors, t.reshards, t.subscriptions
        );
        for f in &self.followers {
            eprintln!(
                "  {}: {} of {} acknowledged consumed; {}",
                f.follower,
                f.consumed,
                f.acknowledged,
                if f.ok() {
                    "exactly the acknowledged records, in order".to_owned()
                } else {
                    format!(
                        "MISMATCH on shards {:?}: {} missing, {} extra, {} duplicates, {} reorders",
                        f.mismatched_shards, f.missing, f.extra, f.duplicates, f.reorders
                    )
                }
            );
        }
        if !self.drained {
            eprintln!("  followers did not catch up within {DRAIN_TIMEOUT:?} after the producers stopped");
        }
    }
}
