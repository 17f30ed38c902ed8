//! One conformance suite for every store: the promises of `Store` (see the module comment of
//! `store` and the trait's doc comments), written once and run against each implementation,
//! as garage runs one `db` suite against every embedded engine.
//!
//! Each test is a generic `async fn name<H: Harness>()`; the `conformance!` macro at the bottom
//! instantiates all of them for one store under its own module, so a failure names the test
//! and the store (`store::conformance::disk_full::readers_never_see_a_gap`).
//!
//! Adding a store: implement [`Harness`] for it — how to set up an
//! empty place for it (a temporary directory; a fresh bucket and stream prefix on a test
//! cluster), how to open the store kept there, and whether a store opened again sees what the
//! last one wrote — then add one line at the bottom: `conformance!(jetstream, JetStreamHarness,
//! persistent);`. Store-specific behaviour (crash recovery, torn tails, file descriptors)
//! stays in the store's own tests (`disk/tests.rs`).
//!
//! Tests that need concurrency run on a two-thread runtime. None asserts a duration: where a
//! test waits for something that must happen, it gives up after [`STUCK`] and fails, so that a
//! store that blocks or loses a wake-up fails instead of hanging the run.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::disk::{DiskOptions, DiskStore, Durability};
use super::jetstream::{JetStreamOptions, JetStreamStore};
use super::memory::MemoryStore;
use super::{Expect, Extent, LogId, NewRecord, Revision, Store, StoreError, StoredRecord};

/// How long a step that must complete may take before the test calls the store stuck. Far
/// above anything a working store needs, even on a loaded machine; not a performance bound.
const STUCK: Duration = Duration::from_secs(60);

/// What the suite needs to know about a store.
pub(crate) trait Harness: Sized + Send + Sync + 'static {
    /// Whether a store opened again in the same place sees what the last one wrote.
    const PERSISTENT: bool;
    /// A place for a new, empty store; each test makes its own.
    fn new() -> impl Future<Output = Self> + Send;
    /// Opens the store kept in this place. Called again only after every handle to the
    /// previous store was dropped (see [`reopen`]).
    fn open(&self) -> impl Future<Output = Arc<dyn Store>> + Send;
    /// Whether the store can run here at all; a store that needs an outside program (the
    /// JetStream store's nats-server) says loudly why not before answering false.
    fn available(_test: &str) -> bool {
        true
    }
}

/// Closes `store` and opens the store in the same place again.
async fn reopen<H: Harness>(h: &H, store: Arc<dyn Store>) -> Arc<dyn Store> {
    assert_eq!(Arc::strong_count(&store), 1, "the test still holds another handle to the store");
    // Dropping a store may wait for its writer to finish; do it off the async workers.
    tokio::task::spawn_blocking(move || drop(store)).await.unwrap();
    h.open().await
}

async fn fresh<H: Harness>() -> (H, Arc<dyn Store>) {
    let h = H::new().await;
    let store = h.open().await;
    (h, store)
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STUCK, f).await {
        Ok(v) => v,
        Err(_) => panic!("stuck: {what} did not finish in {STUCK:?}"),
    }
}

fn rec(data: &str) -> NewRecord {
    NewRecord { partition_key: Bytes::from_static(b"pk"), data: Bytes::copy_from_slice(data.as_bytes()), flags: 0 }
}

fn recs(prefix: &str, n: usize) -> Vec<NewRecord> {
    (0..n).map(|i| rec(&format!("{prefix}-{i}"))).collect()
}

async fn all(store: &dyn Store, log: LogId) -> Vec<StoredRecord> {
    store.read(log, 0, usize::MAX, usize::MAX).await.unwrap().records
}

fn positions(records: &[StoredRecord]) -> Vec<u64> {
    records.iter().map(|r| r.position).collect()
}

fn datas(records: &[StoredRecord]) -> Vec<String> {
    records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()).collect()
}

fn is_no_such_log<T: std::fmt::Debug>(r: Result<T, StoreError>, log: LogId) -> bool {
    matches!(r, Err(StoreError::NoSuchLog(l)) if l == log)
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>, key: &str, found: Option<Revision>) -> bool {
    matches!(r, Err(StoreError::Conflict { key: k, found: f, .. }) if k == key && *f == found)
}

// ---------------------------------------------------------------------------------------
// Logs: positions, arrival times, visibility
// ---------------------------------------------------------------------------------------

async fn positions_start_at_zero_and_follow_each_other<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 0, tip: 0 });
    let empty = s.read(log, 0, 10, 1 << 20).await.unwrap();
    assert_eq!((empty.records.len(), empty.next, empty.tip), (0, 0, 0));
    let mut expected = Vec::new();
    let mut next = 0;
    for (i, n) in [1usize, 3, 1, 7, 2].into_iter().enumerate() {
        let batch = recs(&format!("b{i}"), n);
        expected.extend(batch.iter().map(|r| r.data.clone()));
        let a = s.append(log, batch, 1000 + i as u64).await.unwrap();
        assert_eq!(a.first_position, next, "batch {i} starts right after the previous one");
        next += n as u64;
    }
    let got = all(&*s, log).await;
    assert_eq!(positions(&got), (0..next).collect::<Vec<_>>());
    assert_eq!(got.iter().map(|r| r.data.clone()).collect::<Vec<_>>(), expected);
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 0, tip: next });
}

async fn records_come_back_as_written<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    let written = vec![
        NewRecord { partition_key: Bytes::from_static(b"k1"), data: Bytes::from_static(b""), flags: 0 },
        NewRecord { partition_key: Bytes::from(vec![b'p'; 256]), data: Bytes::from(vec![0u8, 255, 7]), flags: 1 },
        NewRecord { partition_key: Bytes::from_static(b"k3"), data: Bytes::from(vec![b'x'; 100_000]), flags: 0xff },
    ];
    let a = s.append(log, written.clone(), 77).await.unwrap();
    let got = all(&*s, log).await;
    assert_eq!(got.len(), 3);
    for (w, g) in written.iter().zip(&got) {
        assert_eq!(
            (&g.partition_key, &g.data, g.flags, g.arrival_ms),
            (&w.partition_key, &w.data, w.flags, a.arrival_ms)
        );
    }
}

async fn arrival_times_never_decrease_when_the_clock_goes_back<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    let mut arrivals = Vec::new();
    for now in [1000, 500, 2000, 1999, 0, 2500] {
        arrivals.push(s.append(log, recs("r", 2), now).await.unwrap().arrival_ms);
    }
    assert_eq!(arrivals, [1000, 1000, 2000, 2000, 2000, 2500]);
    let got = all(&*s, log).await;
    let stored: Vec<u64> = got.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(stored, arrivals.iter().flat_map(|a| [*a, *a]).collect::<Vec<_>>(), "a batch shares its arrival");
}

/// Appenders and readers on one log at once: a reader never sees a position unless every
/// lower one is visible too, and what it sees never changes afterwards.
async fn readers_never_see_a_gap<H: Harness>() {
    const APPENDERS: usize = 4;
    const BATCHES: usize = 25;
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|a| {
            let s = s.clone();
            tokio::spawn(async move {
                for b in 0..BATCHES {
                    let n = 1 + (a + b) % 5;
                    s.append(log, (0..n).map(|i| rec(&format!("{a}/{b}/{i}"))).collect(), 1).await.unwrap();
                }
            })
        })
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (s, done) = (s.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen: Vec<StoredRecord> = Vec::new();
                let mut rounds = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) || rounds == 0 {
                    rounds += 1;
                    // Everything below a tip once observed is visible.
                    let observed = s.extent(log).await.unwrap().tip;
                    let everything = s.read(log, 0, usize::MAX, usize::MAX).await.unwrap();
                    assert!(everything.records.len() as u64 >= observed, "reader {r}: a gap below an observed tip");
                    assert_eq!(everything.records.len() as u64, everything.tip, "reader {r}: a gap below the tip");
                    assert_eq!(positions(&everything.records), (0..everything.tip).collect::<Vec<_>>());
                    // What was seen once stays the same.
                    assert_eq!(&everything.records[..seen.len()], &seen[..], "reader {r}: records changed");
                    seen = everything.records;
                    // Small reads from the last position seen, too.
                    let from = seen.len().saturating_sub(3) as u64;
                    let small = s.read(log, from, 2, usize::MAX).await.unwrap();
                    assert_eq!(
                        positions(&small.records),
                        (from..from + small.records.len() as u64).collect::<Vec<_>>()
                    );
                    tokio::task::yield_now().await;
                }
                seen
            })
        })
        .collect();
    within("the appenders", async {
        for a in appenders {
            a.await.unwrap();
        }
    })
    .await;
    done.store(true, std::sync::atomic::Ordering::Release);
    within("the readers", async {
        for r in readers {
            r.await.unwrap();
        }
    })
    .await;
    // Each appender's records are in the order it appended them.
    let got = all(&*s, log).await;
    let total: usize = (0..APPENDERS).flat_map(|a| (0..BATCHES).map(move |b| 1 + (a + b) % 5)).sum();
    assert_eq!(got.len(), total);
    for a in 0..APPENDERS {
        let mine: Vec<String> = datas(&got).into_iter().filter(|d| d.starts_with(&format!("{a}/"))).collect();
        let expected: Vec<String> =
            (0..BATCHES).flat_map(|b| (0..1 + (a + b) % 5).map(move |i| format!("{a}/{b}/{i}"))).collect();
        assert_eq!(mine, expected, "appender {a}");
    }
}

async fn logs_are_independent<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let a = s.create_log().await.unwrap();
    let b = s.create_log().await.unwrap();
    assert_ne!(a, b);
    assert_eq!(s.append(a, recs("a", 3), 5000).await.unwrap().first_position, 0);
    let on_b = s.append(b, recs("b", 2), 10).await.unwrap();
    assert_eq!(on_b.first_position, 0, "positions are per log");
    assert_eq!(on_b.arrival_ms, 10, "another log's later arrivals do not raise this one's");
    assert_eq!(datas(&all(&*s, a).await), ["a-0", "a-1", "a-2"]);
    assert_eq!(datas(&all(&*s, b).await), ["b-0", "b-1"]);
    s.trim(a, u64::MAX).await.unwrap();
    assert_eq!(s.extent(b).await.unwrap(), Extent { trim: 0, tip: 2 }, "trimming one log leaves the other");
}

/// A log with a stalled subscriber, an abandoned append and a busy reader does not hold up
/// appends and reads of another log, and still works itself afterwards.
async fn a_stalled_log_does_not_hold_up_another<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let busy = s.create_log().await.unwrap();
    let other = s.create_log().await.unwrap();
    for i in 0..10 {
        s.append(busy, recs(&format!("fill{i}"), 100), 1).await.unwrap();
    }
    // A subscriber that waits and is never woken, and one that never looks again.
    let mut waiting = s.watch_tip(busy).unwrap();
    let stalled = tokio::spawn(async move { waiting.changed().await.is_ok() });
    let _ignored = s.watch_tip(busy).unwrap();
    // An append abandoned after it started (its caller went away).
    {
        let mut abandoned = Box::pin(s.append(busy, recs("abandoned", 5), 1));
        std::future::poll_fn(|cx| {
            let _ = abandoned.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
    }
    // A reader going over the whole log again and again.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (s, stop) = (s.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let got = s.read(busy, 0, usize::MAX, usize::MAX).await.unwrap();
                assert!(got.records.len() >= 1000);
                tokio::task::yield_now().await;
            }
        })
    };
    within("appends and reads of another log", async {
        for i in 0..20u64 {
            let a = s.append(other, vec![rec(&format!("o{i}"))], 1).await.unwrap();
            assert_eq!(a.first_position, i);
            assert_eq!(s.read(other, i, 10, usize::MAX).await.unwrap().records.len(), 1);
        }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    within("the reader", reader).await.unwrap();
    // The busy log goes on where it is: the abandoned append either landed whole or not at all.
    let tip = s.extent(busy).await.unwrap().tip;
    assert!(tip == 1000 || tip == 1005, "tip {tip}");
    let a = within("an append to the busy log", s.append(busy, recs("after", 1), 1)).await.unwrap();
    assert_eq!(a.first_position, tip);
    // The stalled subscriber saw that append.
    assert!(within("the stalled subscriber", stalled).await.unwrap());
}

/// Many logs appended to and read at once all make progress and stay dense.
async fn many_logs_at_once_all_progress<H: Harness>() {
    const LOGS: usize = 8;
    let (_h, s) = fresh::<H>().await;
    let mut logs = Vec::new();
    for _ in 0..LOGS {
        logs.push(s.create_log().await.unwrap());
    }
    let tasks: Vec<_> = logs
        .iter()
        .enumerate()
        .map(|(k, &log)| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..20u64 {
                    let a = s.append(log, recs(&format!("{k}:{i}"), 2), 100 + i).await.unwrap();
                    assert_eq!(a.first_position, 2 * i);
                    let got = s.read(log, 0, usize::MAX, usize::MAX).await.unwrap();
                    assert_eq!(got.records.len() as u64, 2 * i + 2);
                }
            })
        })
        .collect();
    within("appends to many logs", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    for (k, &log) in logs.iter().enumerate() {
        let got = all(&*s, log).await;
        assert_eq!(got.len(), 40);
        assert!(datas(&got).iter().all(|d| d.starts_with(&format!("{k}:"))), "log {k} holds only its own records");
    }
}

// ---------------------------------------------------------------------------------------
// Reads, extents, seeks, trims, deletes
// ---------------------------------------------------------------------------------------

async fn reads_stop_at_their_limits_but_return_at_least_one<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    // Each record is 2 bytes of key and 4 of data: 6 bytes.
    for t in 0..10u64 {
        s.append(log, vec![rec("aaaa"), rec("bbbb"), rec("cccc")], 100 + t).await.unwrap();
    }
    let b = s.read(log, 4, 5, usize::MAX).await.unwrap();
    assert_eq!(positions(&b.records), [4, 5, 6, 7, 8]);
    assert_eq!((b.next, b.tip), (9, 30));
    for (max_bytes, expected) in [(0, 1), (1, 1), (6, 1), (11, 1), (12, 2), (17, 2), (18, 3)] {
        let b = s.read(log, 0, 100, max_bytes).await.unwrap();
        assert_eq!(b.records.len(), expected, "max_bytes {max_bytes}");
        assert_eq!(b.next, expected as u64);
    }
    assert_eq!(s.read(log, 0, 1, usize::MAX).await.unwrap().records.len(), 1);
    // A record bigger than the byte limit still comes back, alone.
    let big = s.append(log, vec![rec(&"x".repeat(1000)), rec("y")], 200).await.unwrap();
    let b = s.read(log, big.first_position, 10, 10).await.unwrap();
    assert_eq!(positions(&b.records), [30]);
    // Reading all of it in small steps visits every record once.
    let mut from = 0;
    let mut visited = Vec::new();
    loop {
        let b = s.read(log, from, 4, 13).await.unwrap();
        if b.records.is_empty() {
            assert_eq!(b.next, from);
            break;
        }
        visited.extend(positions(&b.records));
        from = b.next;
    }
    assert_eq!(visited, (0..32).collect::<Vec<_>>());
}

async fn reads_are_clamped_to_the_trim_horizon<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    for t in 0..6u64 {
        s.append(log, vec![rec(&format!("t{t}"))], 10 * t).await.unwrap();
    }
    s.trim(log, 30).await.unwrap();
    let b = s.read(log, 0, 10, usize::MAX).await.unwrap();
    assert_eq!(positions(&b.records), [3, 4, 5], "reads before the horizon start at it");
    assert_eq!(datas(&b.records), ["t3", "t4", "t5"]);
    let b = s.read(log, 4, 10, usize::MAX).await.unwrap();
    assert_eq!(positions(&b.records), [4, 5], "reads after it start where asked");
    s.trim(log, u64::MAX).await.unwrap();
    let b = s.read(log, 1, 10, usize::MAX).await.unwrap();
    assert_eq!((b.records.len(), b.next, b.tip), (0, 6, 6), "an empty read reports the clamped start");
    let b = s.read(log, 6, 10, usize::MAX).await.unwrap();
    assert_eq!((b.records.len(), b.next, b.tip), (0, 6, 6), "a read at the tip is empty");
}

async fn extent_follows_appends_and_trims<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 0, tip: 0 });
    s.append(log, recs("a", 4), 10).await.unwrap();
    s.append(log, recs("b", 4), 20).await.unwrap();
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 0, tip: 8 });
    s.trim(log, 15).await.unwrap();
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 4, tip: 8 });
    s.trim(log, u64::MAX).await.unwrap();
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 8, tip: 8 }, "trim stops at the tip");
    assert_eq!(s.append(log, recs("c", 1), 30).await.unwrap().first_position, 8, "positions go on after a trim");
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 8, tip: 9 });
}

async fn seek_time_finds_the_first_record_at_or_after_a_time<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    assert_eq!(s.seek_time(log, 0).await.unwrap(), 0, "an empty log: the tip");
    // Arrivals 100, 100, 110, 110, ..., 590, 590.
    for t in 0..50u64 {
        s.append(log, recs("r", 2), 100 + 10 * t).await.unwrap();
    }
    assert_eq!(s.seek_time(log, 0).await.unwrap(), 0);
    assert_eq!(s.seek_time(log, 100).await.unwrap(), 0);
    assert_eq!(s.seek_time(log, 101).await.unwrap(), 2);
    assert_eq!(s.seek_time(log, 155).await.unwrap(), 12);
    assert_eq!(s.seek_time(log, 160).await.unwrap(), 12);
    assert_eq!(s.seek_time(log, 590).await.unwrap(), 98);
    assert_eq!(s.seek_time(log, 591).await.unwrap(), 100, "after every record: the tip");
    s.trim(log, 300).await.unwrap();
    assert_eq!(s.seek_time(log, 0).await.unwrap(), 40, "never before the trim horizon");
}

async fn trim_drops_only_records_older_than_the_time<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    for t in [10u64, 20, 20, 30] {
        s.append(log, vec![rec(&format!("at{t}"))], t).await.unwrap();
    }
    s.trim(log, 20).await.unwrap();
    assert_eq!(datas(&all(&*s, log).await), ["at20", "at20", "at30"], "records arrived at the time stay");
    s.trim(log, 20).await.unwrap();
    s.trim(log, 5).await.unwrap();
    assert_eq!(s.extent(log).await.unwrap().trim, 1, "trimming again, or to an earlier time, changes nothing");
    s.trim(log, 31).await.unwrap();
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 4, tip: 4 });
    assert!(all(&*s, log).await.is_empty());
}

async fn a_deleted_log_is_gone<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let doomed = s.create_log().await.unwrap();
    let kept = s.create_log().await.unwrap();
    s.append(doomed, recs("d", 3), 1).await.unwrap();
    s.append(kept, recs("k", 2), 1).await.unwrap();
    s.delete_log(doomed).await.unwrap();
    let logs: HashSet<LogId> = s.logs().await.unwrap().into_iter().collect();
    assert!(!logs.contains(&doomed) && logs.contains(&kept));
    assert!(is_no_such_log(s.append(doomed, recs("x", 1), 1).await, doomed));
    assert!(is_no_such_log(s.read(doomed, 0, 10, 100).await, doomed));
    assert!(is_no_such_log(s.extent(doomed).await, doomed));
    assert!(is_no_such_log(s.seek_time(doomed, 0).await, doomed));
    assert!(is_no_such_log(s.trim(doomed, 10).await, doomed));
    assert!(is_no_such_log(s.watch_tip(doomed), doomed));
    s.delete_log(doomed).await.expect("deleting an absent log is fine");
    assert_eq!(datas(&all(&*s, kept).await), ["k-0", "k-1"], "other logs are untouched");
    let never = LogId(u64::MAX - 1);
    assert!(is_no_such_log(s.read(never, 0, 1, 1).await, never), "a log never created");
}

async fn log_ids_are_never_reused<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let mut ids = HashSet::new();
    for round in 0..4 {
        let mut created = Vec::new();
        for _ in 0..5 {
            let id = s.create_log().await.unwrap();
            assert!(ids.insert(id), "round {round}: {id:?} handed out twice");
            created.push(id);
        }
        for id in &created[..3] {
            s.delete_log(*id).await.unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tip watches
// ---------------------------------------------------------------------------------------

async fn tip_watch_wakes_after_an_append_and_the_records_are_readable<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    s.append(log, recs("before", 2), 1).await.unwrap();
    let mut rx = s.watch_tip(log).unwrap();
    assert_eq!(*rx.borrow(), 2, "starts at the tip");
    assert!(!rx.has_changed().unwrap(), "and marked seen");
    let appender = {
        let s = s.clone();
        tokio::spawn(async move { s.append(log, recs("new", 3), 2).await.unwrap() })
    };
    within("the wake-up", rx.changed()).await.unwrap();
    let tip = *rx.borrow_and_update();
    assert!(tip > 2);
    let got = s.read(log, 2, usize::MAX, usize::MAX).await.unwrap();
    assert_eq!(got.records.len() as u64, tip - 2, "everything below the new tip is readable");
    assert_eq!(datas(&got.records), ["new-0", "new-1", "new-2"]);
    within("the append", appender).await.unwrap();
    // An unwatched log appends as ever; a late subscriber starts at the tip.
    let quiet = s.create_log().await.unwrap();
    s.append(quiet, recs("q", 1), 1).await.unwrap();
    let late = s.watch_tip(quiet).unwrap();
    assert_eq!((*late.borrow(), late.has_changed().unwrap()), (1, false));
}

/// A subscriber following concurrent appenders by its watch alone finds, at every wake-up,
/// every record up to the tip it was told, and ends up with all of them.
async fn tip_watch_follows_concurrent_appends<H: Harness>() {
    const APPENDERS: u64 = 3;
    const BATCHES: u64 = 20;
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    let mut rx = s.watch_tip(log).unwrap();
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|a| {
            let s = s.clone();
            tokio::spawn(async move {
                for b in 0..BATCHES {
                    s.append(log, recs(&format!("{a}.{b}"), 2), 1).await.unwrap();
                }
            })
        })
        .collect();
    let total = APPENDERS * BATCHES * 2;
    let mut read_to = 0;
    within("the subscriber", async {
        while read_to < total {
            rx.changed().await.unwrap();
            let tip = *rx.borrow_and_update();
            assert!(tip >= read_to, "the watched tip never goes down");
            let got = s.read(log, read_to, usize::MAX, usize::MAX).await.unwrap();
            assert!(got.records.len() as u64 >= tip - read_to, "records below the watched tip are readable");
            assert_eq!(got.records.first().map(|r| r.position), (!got.records.is_empty()).then_some(read_to));
            read_to = got.next;
        }
    })
    .await;
    for a in appenders {
        a.await.unwrap();
    }
    assert_eq!(read_to, total);
}

async fn tip_watch_ends_when_the_log_is_deleted<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    let mut waiting = s.watch_tip(log).unwrap();
    let waiter = tokio::spawn(async move { waiting.changed().await });
    let mut idle = s.watch_tip(log).unwrap();
    tokio::task::yield_now().await;
    s.delete_log(log).await.unwrap();
    assert!(within("the waiting subscriber", waiter).await.unwrap().is_err(), "a deleted log's watch is closed");
    assert!(within("the idle subscriber", idle.changed()).await.is_err());
}

// ---------------------------------------------------------------------------------------
// Catalog: compare-and-set
// ---------------------------------------------------------------------------------------

async fn catalog_creates_only_when_absent<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    assert!(s.catalog_get("k").await.unwrap().is_none());
    let r1 = s.catalog_put("k", Bytes::from_static(b"one"), Expect::Absent).await.unwrap();
    let again = s.catalog_put("k", Bytes::from_static(b"two"), Expect::Absent).await;
    assert!(is_conflict(&again, "k", Some(r1)), "{again:?}");
    assert_eq!(s.catalog_get("k").await.unwrap(), Some((Bytes::from_static(b"one"), r1)));
    let other = s.catalog_put("other", Bytes::from_static(b"x"), Expect::Absent).await.unwrap();
    let mut loaded = s.catalog_load().await.unwrap();
    loaded.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        loaded,
        vec![("k".to_owned(), Bytes::from_static(b"one"), r1), ("other".to_owned(), Bytes::from_static(b"x"), other)]
    );
}

async fn catalog_refuses_a_stale_revision<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let r1 = s.catalog_put("k", Bytes::from_static(b"one"), Expect::Absent).await.unwrap();
    let r2 = s.catalog_put("k", Bytes::from_static(b"two"), Expect::Revision(r1)).await.unwrap();
    assert_ne!(r1, r2);
    let stale = s.catalog_put("k", Bytes::from_static(b"three"), Expect::Revision(r1)).await;
    assert!(is_conflict(&stale, "k", Some(r2)), "{stale:?}");
    assert_eq!(s.catalog_get("k").await.unwrap(), Some((Bytes::from_static(b"two"), r2)), "a conflict changes nothing");
    let absent = s.catalog_put("nothing", Bytes::from_static(b"x"), Expect::Revision(r2)).await;
    assert!(is_conflict(&absent, "nothing", None), "{absent:?}");
    assert!(s.catalog_get("nothing").await.unwrap().is_none());
    // After a conflict, re-reading gives what a retry needs.
    let (_, current) = s.catalog_get("k").await.unwrap().unwrap();
    let r3 = s.catalog_put("k", Bytes::from_static(b"three"), Expect::Revision(current)).await.unwrap();
    assert_eq!(s.catalog_get("k").await.unwrap(), Some((Bytes::from_static(b"three"), r3)));
}

/// Writers racing on one key with the same expectation: exactly one wins, every other one
/// gets a conflict, and the stored value is the winner's.
async fn catalog_compare_and_set_has_exactly_one_winner<H: Harness>() {
    const WRITERS: usize = 8;
    let (_h, s) = fresh::<H>().await;
    let mut expect = Expect::Absent;
    for round in 0..5 {
        let attempts: Vec<_> = (0..WRITERS)
            .map(|w| {
                let s = s.clone();
                tokio::spawn(async move {
                    let value = Bytes::from(format!("round {round} writer {w}"));
                    (value.clone(), s.catalog_put("race", value, expect).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for a in attempts {
            let (value, result) = within("a racing write", a).await.unwrap();
            match result {
                Ok(revision) => winners.push((value, revision)),
                Err(StoreError::Conflict { key, .. }) => assert_eq!(key, "race"),
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        let (value, revision) = winners.pop().unwrap();
        assert_eq!(s.catalog_get("race").await.unwrap(), Some((value, revision)), "round {round}");
        expect = Expect::Revision(revision);
    }
    // Deletes race the same way.
    let Expect::Revision(revision) = expect else { unreachable!() };
    let deletes: Vec<_> = (0..WRITERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.catalog_delete("race", revision).await.is_ok() })
        })
        .collect();
    let mut won = 0;
    for d in deletes {
        won += usize::from(within("a racing delete", d).await.unwrap());
    }
    assert_eq!(won, 1);
    assert!(s.catalog_get("race").await.unwrap().is_none());
}

async fn catalog_delete_is_conditional<H: Harness>() {
    let (_h, s) = fresh::<H>().await;
    let r1 = s.catalog_put("k", Bytes::from_static(b"one"), Expect::Absent).await.unwrap();
    let r2 = s.catalog_put("k", Bytes::from_static(b"two"), Expect::Revision(r1)).await.unwrap();
    let stale = s.catalog_delete("k", r1).await;
    assert!(is_conflict(&stale, "k", Some(r2)), "{stale:?}");
    assert!(s.catalog_get("k").await.unwrap().is_some(), "a refused delete deletes nothing");
    s.catalog_delete("k", r2).await.unwrap();
    assert!(s.catalog_get("k").await.unwrap().is_none());
    assert!(s.catalog_load().await.unwrap().is_empty());
    let twice = s.catalog_delete("k", r2).await;
    assert!(is_conflict(&twice, "k", None), "deleting what someone else deleted is a conflict: {twice:?}");
    // Created again, the key never comes back at an old revision.
    let r3 = s.catalog_put("k", Bytes::from_static(b"three"), Expect::Absent).await.unwrap();
    assert!(r3 != r1 && r3 != r2);
    for old in [r1, r2] {
        let r = s.catalog_put("k", Bytes::from_static(b"stale"), Expect::Revision(old)).await;
        assert!(is_conflict(&r, "k", Some(r3)), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Persistence (stores with `PERSISTENT`)
// ---------------------------------------------------------------------------------------

async fn catalog_survives_reopen<H: Harness>() {
    let (h, s) = fresh::<H>().await;
    let a = s.catalog_put("a", Bytes::from_static(b"one"), Expect::Absent).await.unwrap();
    s.catalog_put("a", Bytes::from_static(b"two"), Expect::Revision(a)).await.unwrap();
    let b = s.catalog_put("b", Bytes::from_static(b"gone"), Expect::Absent).await.unwrap();
    s.catalog_delete("b", b).await.unwrap();
    let s = reopen(&h, s).await;
    let loaded = s.catalog_load().await.unwrap();
    assert_eq!(loaded.len(), 1);
    let (key, value, revision) = loaded[0].clone();
    assert_eq!((&key[..], &value[..]), ("a", &b"two"[..]));
    assert_eq!(s.catalog_get("a").await.unwrap(), Some((value, revision)));
    // The loaded revision is the one to write against.
    let again = s.catalog_put("a", Bytes::from_static(b"x"), Expect::Absent).await;
    assert!(is_conflict(&again, "a", Some(revision)), "{again:?}");
    s.catalog_put("a", Bytes::from_static(b"three"), Expect::Revision(revision)).await.unwrap();
    assert!(s.catalog_get("b").await.unwrap().is_none());
}

async fn logs_survive_reopen<H: Harness>() {
    let (h, s) = fresh::<H>().await;
    let log = s.create_log().await.unwrap();
    let gone = s.create_log().await.unwrap();
    for t in 0..30u64 {
        s.append(log, recs(&format!("t{t}"), 3), 1000 + t).await.unwrap();
    }
    s.delete_log(gone).await.unwrap();
    let before = all(&*s, log).await;
    let s = reopen(&h, s).await;
    assert_eq!(s.logs().await.unwrap(), vec![log]);
    assert_eq!(all(&*s, log).await, before);
    assert_eq!(s.extent(log).await.unwrap(), Extent { trim: 0, tip: 90 });
    assert_eq!(s.seek_time(log, 1010).await.unwrap(), 30);
    let next = s.append(log, recs("after", 1), 5).await.unwrap();
    assert_eq!(next.first_position, 90, "positions go on");
    assert!(next.arrival_ms >= 1029, "arrival times never go back, even across a reopen");
}

async fn trims_survive_reopen<H: Harness>() {
    let (h, s) = fresh::<H>().await;
    let short = s.create_log().await.unwrap();
    let long = s.create_log().await.unwrap();
    for t in 0..40u64 {
        s.append(short, recs(&format!("s{t}"), 2), 1000 + t).await.unwrap();
        s.append(long, recs(&format!("l{t}"), 2), 1000 + t).await.unwrap();
    }
    s.trim(short, 1030).await.unwrap();
    s.trim(long, 1005).await.unwrap();
    let (kept_short, kept_long) = (all(&*s, short).await, all(&*s, long).await);
    assert_eq!(kept_short.first().map(|r| r.position), Some(60));
    let s = reopen(&h, s).await;
    // Not even for a moment (before the engine's retention pass would trim again).
    assert_eq!(s.extent(short).await.unwrap(), Extent { trim: 60, tip: 80 });
    assert_eq!(s.extent(long).await.unwrap(), Extent { trim: 10, tip: 80 });
    assert_eq!(all(&*s, short).await, kept_short, "trimmed records never come back");
    assert_eq!(all(&*s, long).await, kept_long);
    assert_eq!(s.seek_time(short, 0).await.unwrap(), 60);
    s.trim(short, u64::MAX).await.unwrap();
    let s = reopen(&h, s).await;
    assert_eq!(s.extent(short).await.unwrap(), Extent { trim: 80, tip: 80 });
    assert!(all(&*s, short).await.is_empty());
    assert_eq!(s.append(short, recs("next", 1), 1).await.unwrap().first_position, 80);
}

async fn log_ids_are_never_reused_across_reopen<H: Harness>() {
    let (h, mut s) = fresh::<H>().await;
    let mut ids = HashSet::new();
    for round in 0..3 {
        for _ in 0..4 {
            let id = s.create_log().await.unwrap();
            assert!(ids.insert(id), "round {round}: {id:?} handed out twice");
            s.append(id, recs("r", 1), 1).await.unwrap();
        }
        // Delete all but one: the deleted logs' records may outlive them on disk.
        let mut logs = s.logs().await.unwrap();
        logs.sort();
        for id in &logs[1..] {
            s.delete_log(*id).await.unwrap();
        }
        s = reopen(&h, s).await;
    }
    // A reopen with no creation in between changes nothing either.
    s = reopen(&h, s).await;
    let id = s.create_log().await.unwrap();
    assert!(!ids.contains(&id), "{id:?} handed out again");
}

// ---------------------------------------------------------------------------------------
// The stores
// ---------------------------------------------------------------------------------------

struct MemoryHarness;

impl Harness for MemoryHarness {
    const PERSISTENT: bool = false;
    async fn new() -> Self {
        MemoryHarness
    }
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(MemoryStore::new())
    }
}

/// The disk store in a temporary directory, with segments small enough that most tests' reads
/// and seeks cross sealed segments; `RELAXED` picks the durability mode.
struct DiskHarness<const RELAXED: bool> {
    dir: tempfile::TempDir,
}

impl<const RELAXED: bool> Harness for DiskHarness<RELAXED> {
    const PERSISTENT: bool = true;
    async fn new() -> Self {
        DiskHarness { dir: tempfile::tempdir().unwrap() }
    }
    async fn open(&self) -> Arc<dyn Store> {
        let durability = if RELAXED { Durability::Relaxed(Duration::from_millis(5)) } else { Durability::Full };
        let options = DiskOptions { durability, segment_bytes: 2048 };
        let dir = self.dir.path().to_path_buf();
        Arc::new(tokio::task::spawn_blocking(move || DiskStore::open(&dir, options)).await.unwrap().unwrap())
    }
}

/// The JetStream store on the test binary's shared nats-server, each test under a prefix of
/// its own (so its own catalog bucket and log streams).
struct JetStreamHarness {
    prefix: String,
    urls: Vec<String>,
}

impl Harness for JetStreamHarness {
    const PERSISTENT: bool = true;
    async fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let server = super::jetstream::testing::shared_server("jetstream conformance").expect("checked by available()");
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        JetStreamHarness { prefix: format!("c{}x{n}", std::process::id()), urls: server.urls() }
    }
    async fn open(&self) -> Arc<dyn Store> {
        let options =
            JetStreamOptions { urls: self.urls.clone(), creds: None, replicas: 1, prefix: self.prefix.clone() };
        Arc::new(JetStreamStore::open(options).await.unwrap())
    }
    fn available(test: &str) -> bool {
        super::jetstream::testing::shared_server(test).is_some()
    }
}

/// Every test, for one store.
macro_rules! each_test {
    ($harness:ty; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if !<$harness as super::Harness>::available(concat!(module_path!(), "::", stringify!($test))) {
                    return;
                }
                super::$test::<$harness>().await;
            }
        )*
    };
}

/// `conformance!(name, Harness)` runs the suite against a store; `persistent` adds the tests
/// of what survives a reopen.
macro_rules! conformance {
    ($store:ident, $harness:ty $(, $persistent:ident)?) => {
        mod $store {
            each_test!($harness;
                positions_start_at_zero_and_follow_each_other,
                records_come_back_as_written,
                arrival_times_never_decrease_when_the_clock_goes_back,
                readers_never_see_a_gap,
                logs_are_independent,
                a_stalled_log_does_not_hold_up_another,
                many_logs_at_once_all_progress,
                reads_stop_at_their_limits_but_return_at_least_one,
                reads_are_clamped_to_the_trim_horizon,
                extent_follows_appends_and_trims,
                seek_time_finds_the_first_record_at_or_after_a_time,
                trim_drops_only_records_older_than_the_time,
                a_deleted_log_is_gone,
                log_ids_are_never_reused,
                tip_watch_wakes_after_an_append_and_the_records_are_readable,
                tip_watch_follows_concurrent_appends,
                tip_watch_ends_when_the_log_is_deleted,
                catalog_creates_only_when_absent,
                catalog_refuses_a_stale_revision,
                catalog_compare_and_set_has_exactly_one_winner,
                catalog_delete_is_conditional,
            );
            $(conformance!(@$persistent $harness);)?
        }
    };
    (@persistent $harness:ty) => {
        const _: () = assert!(<$harness as super::Harness>::PERSISTENT);
        each_test!($harness;
            catalog_survives_reopen,
            logs_survive_reopen,
            trims_survive_reopen,
            log_ids_are_never_reused_across_reopen,
        );
    };
}

conformance!(memory, super::MemoryHarness);
conformance!(disk_full, super::DiskHarness<false>, persistent);
conformance!(disk_relaxed, super::DiskHarness<true>, persistent);
conformance!(jetstream, super::JetStreamHarness, persistent);
