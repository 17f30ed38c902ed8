//! What a client connection is doing, so that `serve` can close it once it has been idle (no
//! request in flight and no response being sent) for the idle timeout, gracefully (HTTP/1.1: at
//! once, since it is idle; HTTP/2: GOAWAY, then in-flight streams finish).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// What a connection is doing, shared by its requests and its watchdog.
pub struct Activity {
    started: Instant,
    /// Requests being handled or responses being sent.
    busy: AtomicUsize,
    /// When `busy` last fell to zero, in milliseconds since `started`.
    last_idle_ms: AtomicU64,
}

/// Marks its connection busy while it lives.
pub struct Busy(Arc<Activity>);

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity { started: Instant::now(), busy: AtomicUsize::new(0), last_idle_ms: AtomicU64::new(0) })
    }

    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// When the connection becomes idle for long enough, if it is idle now.
    pub fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.started + Duration::from_millis(self.last_idle_ms.load(Ordering::Acquire)) + timeout)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let ms = self.0.started.elapsed().as_millis() as u64;
        self.0.last_idle_ms.store(ms, Ordering::Release);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sleeps until `at`; while the connection is busy (no deadline), re-checks now and then.
pub async fn sleep_until(at: Option<Instant>) {
    /// How often a busy connection's watchdog wakes to see whether it has become idle: idle
    /// connections are closed at most this much later than their timeout.
    const RECHECK: Duration = Duration::from_secs(1);
    tokio::time::sleep_until(at.unwrap_or_else(|| Instant::now() + RECHECK)).await
}
