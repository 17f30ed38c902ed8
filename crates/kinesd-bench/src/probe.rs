//! The server's side of the bill, read from procfs: CPU time (user + system, all threads,
//! including threads that have exited) and peak resident memory. Linux only; elsewhere the
//! probe reads nothing and the report leaves the columns empty.

use serde::Serialize;

/// A server process to watch.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pid: u32,
    ticks_per_second: f64,
}

/// What the report shows of the server over the measurement window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    pub cpu_seconds: f64,
    /// Server CPU time per record moved in the window, in microseconds.
    pub cpu_us_per_record: Option<f64>,
    /// VmHWM: the largest resident set since the process started.
    pub peak_rss_kib: Option<u64>,
}

impl Probe {
    pub fn new(pid: u32) -> Result<Probe, String> {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let probe = Probe { pid, ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 } };
        probe
            .cpu_seconds()
            .map(|_| probe)
            .ok_or_else(|| format!("cannot read /proc/{pid}/stat: is the server running?"))
    }

    /// utime + stime of the whole process, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The command name (field 2) is parenthesised and may hold spaces: split after it.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 of the file; `rest` starts at field 3.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) as f64 / self.ticks_per_second)
    }

    /// VmHWM in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()
    }

    /// VmRSS in KiB: the resident set now.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()
    }

    /// Descriptors the process holds open now (entries of /proc/<pid>/fd).
    pub fn open_files(&self) -> Option<u64> {
        Some(std::fs::read_dir(format!("/proc/{}/fd", self.pid)).ok()?.count() as u64)
    }

    /// Usage between `cpu_at_start` (from [`Self::cpu_seconds`]) and now, over `records`.
    pub fn usage_since(&self, cpu_at_start: Option<f64>, records: u64) -> Option<ServerUsage> {
        let cpu_seconds = self.cpu_seconds()? - cpu_at_start?;
        Some(ServerUsage {
            pid: self.pid,
            cpu_seconds,
            cpu_us_per_record: (records > 0).then(|| cpu_seconds * 1e6 / records as f64),
            peak_rss_kib: self.peak_rss_kib(),
        })
    }
}

/// The server's CPU time sampled when measuring starts (after the warm-up, in the
/// background), to be set against the records moved once the measured work is done.
pub struct CpuWindow {
    probe: Option<Probe>,
    at_start: tokio::task::JoinHandle<Option<f64>>,
}

impl CpuWindow {
    pub fn starting_at(probe: Option<Probe>, measure_from: std::time::Instant) -> CpuWindow {
        let at_start = tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            probe.and_then(|p| p.cpu_seconds())
        });
        CpuWindow { probe, at_start }
    }

    /// Usage from the start of the window until now, over `records`.
    pub async fn usage(self, records: u64) -> Option<ServerUsage> {
        let at_start = self.at_start.await.ok().flatten();
        self.probe.and_then(|p| p.usage_since(at_start, records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let probe = Probe::new(std::process::id()).unwrap();
        assert!(probe.cpu_seconds().unwrap() >= 0.0);
        assert!(probe.peak_rss_kib().unwrap() > 0);
        assert!(probe.open_files().unwrap() >= 1, "at least the fd directory itself");
    }
}
