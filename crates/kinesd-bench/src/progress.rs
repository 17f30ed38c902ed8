//! The progress line: once a second, to stderr, the rates of the last second. On a terminal it
//! rewrites one line; into a log it appends one line per second.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stats::Live;

/// A running ticker; dropping it stops it.
pub struct Ticker {
    task: Option<tokio::task::JoinHandle<()>>,
    terminal: bool,
}

impl Ticker {
    /// Starts a ticker for `phase` (e.g. `put`, `fill`) unless `quiet`.
    pub fn start(phase: &'static str, live: Arc<Live>, quiet: bool) -> Ticker {
        let terminal = std::io::stderr().is_terminal();
        if quiet {
            return Ticker { task: None, terminal };
        }
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut last = (0u64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let put = Live::read(&live.put_records);
                let get = Live::read(&live.get_records);
                let errors = Live::read(&live.errors);
                let mut line = format!("[{phase} {:>4.0}s]", started.elapsed().as_secs_f64());
                if put > 0 {
                    line += &format!(" put {:>10} rec/s", group(put - last.0));
                }
                if get > 0 {
                    line += &format!(" get {:>10} rec/s", group(get - last.1));
                }
                line += &format!("  total {} put, {} got, {errors} errors", group(put), group(get));
                last = (put, get);
                let mut err = std::io::stderr().lock();
                if terminal {
                    let _ = write!(err, "\r{line}\x1b[K");
                } else {
                    let _ = writeln!(err, "{line}");
                }
                let _ = err.flush();
            }
        });
        Ticker { task: Some(task), terminal }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            if self.terminal {
                eprintln!();
            }
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::group(0), "0");
        assert_eq!(super::group(999), "999");
        assert_eq!(super::group(1000), "1,000");
        assert_eq!(super::group(1234567), "1,234,567");
    }
}
