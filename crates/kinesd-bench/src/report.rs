//! The end of a run: a summary table for people, or with `--json` one JSON document on stdout
//! for scripts (the table then goes to stderr).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::probe::ServerUsage;
use crate::progress::group;
use crate::stats::{Percentiles, Tally};

#[derive(Serialize)]
pub struct Report {
    pub workload: &'static str,
    pub label: Option<String>,
    pub endpoint: String,
    pub stream: String,
    pub shards: usize,
    /// The workload's settings, as given.
    pub params: serde_json::Value,
    /// One line of the settings, for the table.
    pub summary: String,
    pub calls: Vec<CallReport>,
    pub server: Option<ServerUsage>,
    pub notes: Vec<String>,
}

/// One kind of call (or `end-to-end` for put-to-get latency) over its measurement window.
#[derive(Serialize)]
pub struct CallReport {
    pub name: String,
    pub seconds: f64,
    pub requests: u64,
    pub records: u64,
    /// Raw record data moved (not base64, not partition keys).
    pub payload_bytes: u64,
    pub records_per_s: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_s: f64,
    pub latency_us: Percentiles,
    pub errors: u64,
    pub errors_by_type: BTreeMap<String, u64>,
}

impl CallReport {
    pub fn new(name: &str, tally: &Tally, seconds: f64) -> CallReport {
        CallReport {
            name: name.to_owned(),
            seconds,
            requests: tally.requests,
            records: tally.records,
            payload_bytes: tally.bytes,
            records_per_s: tally.records as f64 / seconds,
            mb_per_s: tally.bytes as f64 / seconds / 1e6,
            latency_us: tally.latency.summary(),
            errors: tally.error_count(),
            errors_by_type: tally.errors.clone(),
        }
    }
}

impl Report {
    /// Notes that follow from the figures, for whoever reads only the summary.
    pub fn add_derived_notes(&mut self) {
        let timeouts: u64 = self.calls.iter().filter_map(|c| c.errors_by_type.get("timeout")).sum();
        if timeouts > 0 {
            self.notes.push(format!(
                "{timeouts} calls were not answered within --request-timeout: the server stalled or stopped answering"
            ));
        }
    }

    /// Prints the report: JSON on stdout and the table on stderr with `json`, else the table
    /// on stdout.
    pub fn emit(&self, json: bool) {
        if json {
            let mut table = Vec::new();
            self.write_table(&mut table);
            let _ = std::io::stderr().write_all(&table);
            println!("{}", serde_json::to_string_pretty(self).expect("reports serialise"));
        } else {
            self.write_table(&mut std::io::stdout().lock());
        }
    }

    fn write_table(&self, out: &mut impl Write) {
        let _ = writeln!(
            out,
            "\nkinesd-bench {}{}: {} (stream {}, {} shards)",
            self.workload,
            self.label.as_ref().map(|l| format!(" [{l}]")).unwrap_or_default(),
            self.endpoint,
            self.stream,
            self.shards
        );
        let _ = writeln!(out, "{}\n", self.summary);
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>10} {:>12} {:>11} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "call", "seconds", "requests", "records", "records/s", "MB/s", "p50", "p99", "p99.9", "max", "errors"
        );
        for c in &self.calls {
            let l = &c.latency_us;
            let _ = writeln!(
                out,
                "{:<12} {:>7.1} {:>10} {:>12} {:>11} {:>8.1} {:>9} {:>9} {:>9} {:>9} {:>7}",
                c.name,
                c.seconds,
                group(c.requests),
                group(c.records),
                group(c.records_per_s.round() as u64),
                c.mb_per_s,
                micros(l.p50_us, l.count),
                micros(l.p99_us, l.count),
                micros(l.p999_us, l.count),
                micros(l.max_us, l.count),
                group(c.errors)
            );
        }
        for c in &self.calls {
            for (name, n) in &c.errors_by_type {
                let _ = writeln!(out, "  {} error: {name} × {}", c.name, group(*n));
            }
        }
        if let Some(s) = &self.server {
            let _ = writeln!(
                out,
                "server pid {}: {:.2} s CPU, {} per record, peak RSS {}",
                s.pid,
                s.cpu_seconds,
                s.cpu_us_per_record.map_or("-".into(), |us| format!("{us:.2} µs CPU")),
                s.peak_rss_kib.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
}

/// A latency for the table: µs below a millisecond, then ms, then s.
pub fn micros(us: u64, count: u64) -> String {
    if count == 0 {
        "-".into()
    } else if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}
