//! The disk store against its promises: what was acknowledged comes back after a restart,
//! torn tails are cut, damage is reported, and retention gives space back.

use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::store::StoredRecord;

fn rec(data: &str) -> NewRecord {
    NewRecord { partition_key: Bytes::from_static(b"pk"), data: Bytes::copy_from_slice(data.as_bytes()), flags: 0 }
}

fn small_segments() -> DiskOptions {
    DiskOptions { durability: Durability::Full, segment_bytes: 4096 }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn all(store: &DiskStore, log: LogId) -> Vec<StoredRecord> {
    store.read(log, 0, usize::MAX, usize::MAX).await.unwrap().records
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[test]
fn appends_survive_a_restart_with_positions_and_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        assert_eq!(store.create_log().await.unwrap(), LogId(1));
        assert_eq!(store.create_log().await.unwrap(), LogId(2));
        for i in 0..200 {
            let log = LogId(1 + i % 2);
            let a = store.append(log, vec![rec(&format!("r{i}")), rec("x")], 1000 + i).await.unwrap();
            assert_eq!(a.first_position, (i / 2) * 2);
        }
        store.catalog_put("stream/a", Bytes::from_static(b"{}"), Expect::Absent).await.unwrap();
        let before = all(&store, LogId(1)).await;
        store.close();
        drop(store);
        assert!(segment_files(dir.path()).len() > 2, "small segments roll");

        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        assert_eq!(all(&store, LogId(1)).await, before);
        assert_eq!(store.extent(LogId(2)).await.unwrap(), Extent { trim: 0, tip: 200 });
        let next = store.append(LogId(1), vec![rec("after")], 1).await.unwrap();
        assert_eq!(next.first_position, 200, "positions continue");
        assert!(next.arrival_ms >= 1198, "arrival times never go back, even across restarts");
        let catalog = store.catalog_load().await.unwrap();
        assert_eq!(catalog.len(), 1);
        assert_eq!((&catalog[0].0[..], &catalog[0].1[..]), ("stream/a", &b"{}"[..]));
    });
}

#[test]
fn trimming_drops_whole_segments_and_deleting_a_log_frees_space() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        assert_eq!(store.create_log().await.unwrap(), LogId(1));
        assert_eq!(store.create_log().await.unwrap(), LogId(2));
        for t in 0..100u64 {
            store.append(LogId(1), vec![rec(&"x".repeat(100))], t).await.unwrap();
        }
        store.append(LogId(2), vec![rec("keep")], 100).await.unwrap();
        let before = segment_files(dir.path()).len();
        store.trim(LogId(1), 90).await.unwrap();
        assert_eq!(store.extent(LogId(1)).await.unwrap().trim, 90);
        assert_eq!(store.read(LogId(1), 0, 1, usize::MAX).await.unwrap().records[0].position, 90);
        let after = segment_files(dir.path()).len();
        assert!(after < before, "{before} segments before, {after} after");
        store.trim(LogId(1), u64::MAX).await.unwrap();
        store.delete_log(LogId(2)).await.unwrap();
        assert_eq!(segment_files(dir.path()).len(), 1, "only the live segment remains");
        store.close();
        drop(store);
        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        // The trim is durable, and so is the tip.
        assert_eq!(store.extent(LogId(1)).await.unwrap(), Extent { trim: 100, tip: 100 });
        assert_eq!(store.append(LogId(1), vec![rec("next")], 1).await.unwrap().first_position, 100);
        assert!(matches!(store.extent(LogId(2)).await, Err(StoreError::NoSuchLog(_))));
    });
}

#[test]
fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = DiskStore::open(dir.path(), DiskOptions::default()).unwrap();
    assert!(DiskStore::open(dir.path(), DiskOptions::default()).is_err());
}

/// A child process forked by another thread holds a copy of the directory lock's descriptor
/// until it execs, so a store closed and opened again at that moment found its own lock held
/// (3 opens in 5 failed, and a CI run failed on it): opening waits a moment for the lock.
#[test]
fn a_store_opens_again_while_other_threads_spawn_processes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spawning = stop.clone();
    let spawner = std::thread::spawn(move || {
        let mut spawned = 0;
        while !spawning.load(Ordering::Relaxed) {
            std::process::Command::new("true").status().unwrap();
            spawned += 1;
        }
        spawned
    });
    let refused: Vec<String> = (0..200)
        .filter_map(|_| match DiskStore::open(dir.path(), DiskOptions::default()) {
            Ok(store) => {
                store.close();
                None
            }
            Err(e) => Some(e.to_string()),
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    let spawned = spawner.join().unwrap();
    assert!(spawned > 10, "the other thread spawned only {spawned} processes");
    assert!(refused.is_empty(), "{} of 200 opens refused: {:?}", refused.len(), refused.first());
}

/// Writes `n` one-record appends, closes, and returns the live segment's path and the records.
fn filled(dir: &Path, n: u64) -> (std::path::PathBuf, Vec<StoredRecord>) {
    runtime().block_on(async {
        let store = DiskStore::open(dir, DiskOptions::default()).unwrap();
        assert_eq!(store.create_log().await.unwrap(), LogId(1));
        for i in 0..n {
            store.append(LogId(1), vec![rec(&format!("record-{i}"))], i).await.unwrap();
        }
        let records = all(&store, LogId(1)).await;
        store.close();
        (segment_files(dir).pop().unwrap(), records)
    })
}

/// Where each records frame of a segment ends, in order, read straight from its bytes.
fn records_frame_ends(segment: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = format::SEGMENT_HEADER_LEN as usize;
    while let Ok(header) = format::check_frame(&segment[at..]) {
        at += header.total_len;
        if header.kind == format::FrameKind::Records {
            ends.push(at);
        }
    }
    assert_eq!(at, segment.len(), "the segment is whole frames");
    ends
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A crash can leave any prefix of the last write on disk, and garbage after it: recovery
    /// keeps exactly the frames that ended before the cut, and nothing of the torn one.
    #[test]
    fn a_torn_tail_is_cut_and_everything_before_it_kept(cut_from_end in 1usize..400, garbage in proptest::collection::vec(any::<u8>(), 0..64)) {
        let dir = tempfile::tempdir().unwrap();
        let (segment, records) = filled(dir.path(), 20);
        let mut bytes = std::fs::read(&segment).unwrap();
        let ends = records_frame_ends(&bytes);
        prop_assert_eq!(ends.len(), records.len(), "one frame per one-record append");
        let keep = bytes.len().saturating_sub(cut_from_end).max(format::SEGMENT_HEADER_LEN as usize);
        // Every frame that ended at or before the cut was whole on disk and must survive.
        let whole = ends.iter().filter(|end| **end <= keep).count();
        prop_assert!(whole < records.len(), "the cut always tears at least the last frame");
        bytes.truncate(keep);
        bytes.extend_from_slice(&garbage);
        std::fs::write(&segment, &bytes).unwrap();
        let recovered = runtime().block_on(async {
            let store = DiskStore::open(dir.path(), DiskOptions::default()).unwrap();
            let got = all(&store, LogId(1)).await;
            // The store keeps working after the cut.
            let a = store.append(LogId(1), vec![rec("new")], 100).await.unwrap();
            prop_assert_eq!(a.first_position, got.len() as u64);
            Ok(got)
        })?;
        prop_assert_eq!(recovered.len(), whole, "kept {} of the {} whole frames", recovered.len(), whole);
        prop_assert_eq!(&recovered[..], &records[..whole]);
    }
}

/// A kill while the writer created its next segment leaves that file empty, cut inside its
/// header or table, or (after a power loss) zeroes. Nothing was acknowledged into it: the
/// store opens with every record, writes the segment's start again, and goes on in it.
#[test]
fn a_crash_while_the_next_segment_is_created_loses_nothing_and_blocks_nothing() {
    let start = journal::segment_start(2, 0, &std::collections::HashMap::new());
    let mut leftovers: Vec<Vec<u8>> = (0..start.len()).map(|cut| start[..cut].to_vec()).collect();
    leftovers.push(vec![0u8; 4096]);
    let mut zero_table = start[..format::SEGMENT_HEADER_LEN as usize].to_vec();
    zero_table.resize(4096, 0);
    leftovers.push(zero_table);
    for leftover in leftovers {
        let dir = tempfile::tempdir().unwrap();
        let (segment, records) = filled(dir.path(), 5);
        assert!(segment.ends_with("00000000000000000001.log"), "{}", segment.display());
        std::fs::write(journal::segment_path(&dir.path().join("journal"), 2, 0), &leftover).unwrap();
        runtime().block_on(async {
            let store = DiskStore::open(dir.path(), DiskOptions::default())
                .unwrap_or_else(|e| panic!("{} bytes left of the new segment: {e}", leftover.len()));
            assert_eq!(all(&store, LogId(1)).await, records);
            let a = store.append(LogId(1), vec![rec("after")], 10).await.unwrap();
            assert_eq!(a.first_position, 5);
            store.close();
            drop(store);
            let store = DiskStore::open(dir.path(), DiskOptions::default()).unwrap();
            let got = all(&store, LogId(1)).await;
            assert_eq!(&got[..5], &records[..]);
            assert_eq!(got.len(), 6, "the record written after the recovery is there");
        });
    }
}

#[test]
fn damage_inside_a_record_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, records) = filled(dir.path(), 10);
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.windows(8).position(|w| w == b"record-4").unwrap();
    bytes[at + 7] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    runtime().block_on(async {
        let store = DiskStore::open(dir.path(), DiskOptions::default()).unwrap();
        let got = all(&store, LogId(1)).await;
        assert_eq!(&got[..], &records[..4], "records up to the damage, none after");
    });
}

#[test]
fn relaxed_durability_still_reads_back_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let options = DiskOptions { durability: Durability::Relaxed(Duration::from_millis(5)), segment_bytes: 1 << 20 };
    runtime().block_on(async {
        let store = DiskStore::open(dir.path(), options.clone()).unwrap();
        assert_eq!(store.create_log().await.unwrap(), LogId(1));
        store.append(LogId(1), vec![rec("a"), rec("b")], 1).await.unwrap();
        assert_eq!(all(&store, LogId(1)).await.len(), 2);
        store.close();
        drop(store);
        let store = DiskStore::open(dir.path(), options).unwrap();
        assert_eq!(all(&store, LogId(1)).await.len(), 2);
    });
}

/// Appends arriving faster than the writer commits wait for room in its queue: the queue holds
/// at most its bound, nobody is refused, and everything goes through once the writer moves.
#[test]
// Holding the writer's pause across the test's awaits is the point.
#[allow(clippy::await_holding_lock)]
fn a_full_queue_makes_appenders_wait_instead_of_growing() {
    const BOUND: usize = 8 * 1024;
    const APPENDS: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let limits = Limits { queue_bytes: BOUND, ..Limits::default() };
        let store = Arc::new(DiskStore::open_with(dir.path(), DiskOptions::default(), limits).unwrap());
        let log = store.create_log().await.unwrap();
        let payload = "x".repeat(500);
        let (reply, _) = oneshot::channel();
        let share =
            Command::Append { log, records: vec![rec(&payload)], now_ms: 0, reply }.queued_bytes(BOUND) as usize;
        assert!(APPENDS * share > 2 * BOUND, "the test must offer more than the queue holds");

        let paused = store.shared.pause.lock();
        let appends: Vec<_> = (0..APPENDS)
            .map(|i| {
                let (store, payload) = (store.clone(), payload.clone());
                tokio::spawn(async move { store.append(log, vec![rec(&payload)], i as u64).await })
            })
            .collect();
        // The queue fills up...
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while store.shared.queue.available_permits() >= share {
            assert!(std::time::Instant::now() < deadline, "the queue never filled: it is not bounded");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // ...to its bound and no further: the other appenders are waiting, none failed.
        let admitted = (BOUND - store.shared.queue.available_permits()) / share;
        assert!(admitted > 0 && admitted < APPENDS, "{admitted} of {APPENDS} appends admitted");
        assert!(appends.iter().all(|a| !a.is_finished()), "nothing completes while the writer is stopped");

        drop(paused);
        let mut positions = Vec::new();
        for a in appends {
            positions.push(a.await.unwrap().unwrap().first_position);
        }
        positions.sort_unstable();
        assert_eq!(positions, (0..APPENDS as u64).collect::<Vec<_>>());
        // All the room comes back once the groups are committed.
        while store.shared.queue.available_permits() != BOUND {
            assert!(std::time::Instant::now() < deadline, "room was not given back");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // A command larger than the whole queue still gets in, alone.
        let huge = vec![rec(&"y".repeat(2 * BOUND))];
        assert_eq!(store.append(log, huge, 0).await.unwrap().first_position, APPENDS as u64);
    });
}

/// Descriptors this process has open on files under `dir`, as `/proc/self/fd` names them
/// (a deleted file's name ends in " (deleted)"). Other tests' files are elsewhere.
fn descriptors_under(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap();
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        // Descriptors closing while we look are fine to miss.
        if let Ok(target) = std::fs::read_link(entry.path())
            && target.starts_with(&dir)
        {
            names.push(target.to_string_lossy().into_owned());
        }
    }
    names
}

/// With many more sealed segments than the file cache holds, the descriptors the store keeps
/// stay bounded (at start-up too), reads and seeks of old segments still work after their
/// files were evicted, and retention's deletions leave no descriptor on a deleted file.
#[test]
fn open_files_stay_bounded_however_many_segments_are_kept() {
    const CACHED: usize = 6;
    // The cache, the active segment (writer and reader) and LOCK.
    const MOST: usize = CACHED + 3;
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { open_sealed_files: CACHED, ..Limits::default() };
    let options = DiskOptions { durability: Durability::Relaxed(Duration::from_millis(50)), segment_bytes: 2048 };
    let rt = runtime();
    let (log, written) = rt.block_on(async {
        let store = DiskStore::open_with(dir.path(), options.clone(), limits).unwrap();
        let log = store.create_log().await.unwrap();
        for t in 0..200u64 {
            store.append(log, vec![rec(&format!("{t:04}-{}", "x".repeat(600)))], 1000 + t).await.unwrap();
        }
        let sealed = store.shared.files.on_disk().len() - 1;
        assert!(sealed >= 5 * CACHED, "only {sealed} sealed segments");
        let written = all(&store, log).await;
        assert_eq!(written.len(), 200);
        assert!(store.shared.files.open_sealed().len() <= CACHED);
        let open = descriptors_under(dir.path());
        assert!(open.len() <= MOST, "{} descriptors with {sealed} sealed segments: {open:?}", open.len());
        store.close();
        (log, written)
    });
    rt.block_on(async {
        let store = DiskStore::open_with(dir.path(), options, limits).unwrap();
        let open = descriptors_under(dir.path());
        assert!(open.len() <= MOST, "after recovery: {open:?}");
        // Old segments, read again and again in an order that keeps evicting.
        for round in 0..3 {
            for from in [0u64, 150, 10, 199, 60] {
                let got = store.read(log, from, 3, usize::MAX).await.unwrap().records;
                assert_eq!(
                    &got[..],
                    &written[from as usize..(from as usize + 3).min(200)],
                    "round {round}, from {from}"
                );
            }
            assert_eq!(store.seek_time(log, 1042).await.unwrap(), 42);
        }
        assert_eq!(all(&store, log).await, written);
        assert!(store.shared.files.open_sealed().len() <= CACHED);
        assert!(descriptors_under(dir.path()).len() <= MOST);

        // Retention deletes most segments, including cached ones.
        store.trim(log, 1190).await.unwrap();
        let on_disk: std::collections::BTreeSet<u64> =
            store.shared.files.on_disk().into_iter().map(|(id, _)| id).collect();
        assert!(on_disk.len() < 30, "{} segments left", on_disk.len());
        assert!(store.shared.files.open_sealed().iter().all(|(segment, _)| on_disk.contains(segment)));
        let open = descriptors_under(dir.path());
        assert!(open.iter().all(|name| !name.ends_with("(deleted)")), "descriptors on deleted files: {open:?}");
        assert_eq!(all(&store, log).await, &written[190..]);
    });
}

/// A retention pass that finds nothing expired (every pass, for a stream younger than its
/// retention) reads no sealed run's frame list: those lists would fill the frame cache for
/// nothing, pushing out what readers use.
#[test]
fn a_retention_pass_with_nothing_expired_caches_no_frame_list() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        let log = store.create_log().await.unwrap();
        for t in 0..100u64 {
            store.append(log, vec![rec(&"x".repeat(100))], 1000 + t).await.unwrap();
        }
        assert!(segment_files(dir.path()).len() > 2, "small segments roll");
        store.trim(log, 900).await.unwrap();
        assert_eq!(store.extent(log).await.unwrap(), Extent { trim: 0, tip: 100 });
        assert_eq!(store.shared.cache.lock().held(), 0, "frame lists read by a pass that trimmed nothing");
        // A time inside the first run still needs its frames, and finds the right record.
        assert_eq!(store.seek_time(log, 1005).await.unwrap(), 5);
        assert!(store.shared.cache.lock().held() > 0);
    });
}

/// Bytes of every journal file (data and index), as `du` would count the directory's content.
fn journal_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("journal")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

/// A short-lived and a long-lived log written in turn, so every segment holds both.
async fn interleaved(store: &DiskStore, rounds: u64) -> (LogId, LogId) {
    let short = store.create_log().await.unwrap();
    let long = store.create_log().await.unwrap();
    for t in 0..rounds {
        // The short log writes four times as much as the long one.
        store.append(short, vec![rec(&format!("s{t}-{}", "s".repeat(400)))], 1000 + t).await.unwrap();
        store.append(long, vec![rec(&format!("l{t}-{}", "l".repeat(100)))], 1000 + t).await.unwrap();
    }
    (short, long)
}

#[test]
fn a_short_log_sharing_segments_with_a_long_one_gives_its_space_back() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        let (short, long) = interleaved(&store, 300).await;
        let kept = all(&store, long).await;
        let before = journal_bytes(dir.path());
        // Whole-segment retention cannot free anything: the long log is in every segment.
        store.trim(short, 1200).await.unwrap();
        store.compact_now().unwrap();
        let partly = journal_bytes(dir.path());
        store.trim(short, u64::MAX).await.unwrap();
        store.compact_now().unwrap();
        let after = journal_bytes(dir.path());
        assert!(partly < before, "{partly} bytes after expiring two thirds, {before} before");
        assert!(after * 100 < before * 45, "{after} bytes left of {before}");
        assert!(store.stats().compactions.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(store.stats_snapshot().reclaimed_bytes >= before - after - 4096);
        assert_eq!(all(&store, long).await, kept, "the long log keeps every record");
        assert_eq!(store.seek_time(long, 1150).await.unwrap(), 150);
        assert_eq!(store.read(long, 299, 5, usize::MAX).await.unwrap().records, &kept[299..]);
        assert!(all(&store, short).await.is_empty());
        store.close();
        drop(store);

        let store = DiskStore::open(dir.path(), small_segments()).unwrap();
        assert_eq!(all(&store, long).await, kept, "and keeps them across a restart");
        assert_eq!(store.extent(short).await.unwrap(), Extent { trim: 300, tip: 300 });
        assert_eq!(journal_bytes(dir.path()), after, "recovery found nothing to redo");
        let next = store.append(long, vec![rec("next")], 1).await.unwrap();
        assert_eq!((next.first_position, next.arrival_ms), (300, 1299));
    });
}

/// A compaction that stops (as a crash would) before or after its commit point leaves a
/// journal from which every live record comes back exactly once, and the next one finishes.
#[test]
fn a_compaction_interrupted_at_any_point_loses_and_repeats_nothing() {
    for point in ["before-commit", "after-commit"] {
        let dir = tempfile::tempdir().unwrap();
        runtime().block_on(async {
            let store = DiskStore::open(dir.path(), small_segments()).unwrap();
            *store.shared.crash_at.lock() = Some(point);
            let (short, long) = interleaved(&store, 200).await;
            let kept = all(&store, long).await;
            let before = journal_bytes(dir.path());
            store.trim(short, u64::MAX).await.unwrap();
            assert!(store.compact_now().is_err(), "{point}: the simulated crash");
            store.close();
            drop(store);

            let store = DiskStore::open(dir.path(), small_segments()).unwrap();
            assert_eq!(all(&store, long).await, kept, "{point}: every live record, once");
            assert!(all(&store, short).await.is_empty(), "{point}: trimmed records stay gone");
            store.compact_now().unwrap();
            assert_eq!(all(&store, long).await, kept, "{point}");
            let after = journal_bytes(dir.path());
            assert!(after * 2 < before, "{point}: {after} bytes left of {before}");
            store.close();
            drop(store);
            let store = DiskStore::open(dir.path(), small_segments()).unwrap();
            assert_eq!(all(&store, long).await, kept, "{point}: after a clean restart too");
        });
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        log: usize,
        count: usize,
        size: usize,
    },
    /// Trims `log` to the arrival time of its record at this fraction (in 1/8ths) of its tip.
    Trim {
        log: usize,
        eighths: u64,
    },
    Delete {
        log: usize,
    },
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3usize, 1..6usize, 0..300usize).prop_map(|(log, count, size)| Op::Append { log, count, size }),
        // Log 0 is trimmed rarely (a long retention), so segments are shared by live and dead
        // records and compaction has work.
        3 => (1..3usize, 0..=8u64).prop_map(|(log, eighths)| Op::Trim { log, eighths }),
        1 => (0..=8u64).prop_map(|eighths| Op::Trim { log: 0, eighths: eighths / 4 }),
        1 => (0..3usize).prop_map(|log| Op::Delete { log }),
        2 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// After any mix of appends, trims, deletions, compactions and restarts, every record
    /// that was not trimmed reads back as written and every trimmed one is gone.
    #[test]
    fn after_trims_and_compactions_every_untrimmed_record_and_nothing_else_is_there(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let options = DiskOptions { durability: Durability::Relaxed(Duration::from_secs(5)), segment_bytes: 1024 };
        runtime().block_on(async {
            let mut store = DiskStore::open(dir.path(), options.clone()).unwrap();
            let mut logs = Vec::new();
            // Per log: (data, arrival) of every record ever written, and the trim horizon.
            let mut model: Vec<(Vec<(String, u64)>, u64)> = Vec::new();
            for _ in 0..3 {
                logs.push(Some(store.create_log().await.unwrap()));
                model.push((Vec::new(), 0));
            }
            let mut clock = 1000u64;
            for op in ops {
                match op {
                    Op::Append { log, count, size } => {
                        let Some(id) = logs[log] else { continue };
                        clock += 1;
                        let datas: Vec<String> = (0..count).map(|i| format!("{log}-{}-{i}-{}", model[log].0.len(), "d".repeat(size))).collect();
                        store.append(id, datas.iter().map(|d| rec(d)).collect(), clock).await.unwrap();
                        model[log].0.extend(datas.into_iter().map(|d| (d, clock)));
                    }
                    Op::Trim { log, eighths } => {
                        let Some(id) = logs[log] else { continue };
                        let written = &model[log].0;
                        let at = (written.len() as u64 * eighths / 8) as usize;
                        let before_ms = written.get(at).map_or(u64::MAX, |(_, arrival)| *arrival);
                        store.trim(id, before_ms).await.unwrap();
                        let horizon = written.iter().position(|(_, a)| *a >= before_ms).unwrap_or(written.len()) as u64;
                        model[log].1 = model[log].1.max(horizon);
                    }
                    Op::Delete { log } => {
                        if let Some(id) = logs[log].take() {
                            store.delete_log(id).await.unwrap();
                        }
                    }
                    Op::Compact => {
                        store.compact_now().unwrap();
                    }
                    Op::Reopen => {
                        store.close();
                        drop(store);
                        store = DiskStore::open(dir.path(), options.clone()).unwrap();
                    }
                }
                for (log, id) in logs.iter().enumerate() {
                    let Some(id) = id else { continue };
                    let (written, trim) = &model[log];
                    let got = all(&store, *id).await;
                    let want: Vec<(u64, String, u64)> =
                        written.iter().enumerate().skip(*trim as usize).map(|(p, (d, a))| (p as u64, d.clone(), *a)).collect();
                    let got: Vec<(u64, String, u64)> =
                        got.iter().map(|r| (r.position, String::from_utf8(r.data.to_vec()).unwrap(), r.arrival_ms)).collect();
                    assert_eq!(got, want, "log {log}");
                    assert_eq!(store.extent(*id).await.unwrap(), Extent { trim: *trim, tip: written.len() as u64 });
                }
            }
        });
    }
}
