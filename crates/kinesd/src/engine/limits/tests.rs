use super::*;

fn tiny() -> Limits {
    let config = LimitsConfig::from_toml(
        "[shard]\nwrite-records-per-second = 10\nwrite-bytes-per-second = 1000\nread-calls-per-second = 2\n\
         read-bytes-per-second = 100\nget-shard-iterator-per-second = 3\n[control]\nListStreams = 2\n",
    )
    .unwrap();
    Limits::new(config)
}

fn admitted(limits: &Limits, scope: WriteScope, sizes: &[usize]) -> Vec<bool> {
    let mut out = Vec::new();
    limits.admit_writes(scope, sizes.iter().copied(), |ok| out.push(ok));
    out
}

const SHARD: WriteScope = WriteScope::Shard { stream_created_ms: 1, shard_index: 0 };

#[test]
fn writes_fail_exactly_past_the_record_rate() {
    let limits = tiny();
    let verdicts = admitted(&limits, SHARD, &[1; 15]);
    assert_eq!(verdicts, [vec![true; 10], vec![false; 5]].concat());
    let other = WriteScope::Shard { stream_created_ms: 1, shard_index: 1 };
    assert_eq!(admitted(&limits, other, &[1; 3]), vec![true; 3], "shards have their own buckets");
}

#[test]
fn writes_fail_past_the_byte_rate_but_a_smaller_record_may_still_fit() {
    let limits = tiny();
    assert_eq!(admitted(&limits, SHARD, &[600, 600, 300, 200]), vec![true, false, true, false]);
}

#[test]
fn a_record_larger_than_a_second_of_bytes_passes_a_full_shard_and_then_blocks_it() {
    let limits = tiny();
    assert_eq!(admitted(&limits, SHARD, &[5000, 1]), vec![true, false]);
}

#[test]
fn reads_are_limited_by_calls_and_by_the_bytes_read_before() {
    let limits = tiny();
    assert!(limits.admit_read(1, 0));
    assert!(limits.admit_read(1, 0));
    assert!(!limits.admit_read(1, 0), "two calls a second");
    assert!(limits.admit_read(1, 1));
    limits.charge_read(1, 1, 1000);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert!(!limits.admit_read(1, 1), "1000 bytes at 100/s are repaid after 9 s");
    assert!(limits.admit_read(1, 0), "the call rate refilled");
}

#[test]
fn iterators_and_control_calls_have_their_rates() {
    let limits = tiny();
    assert_eq!((0..5).filter(|_| limits.admit_iterator(1, 0)).count(), 3);
    assert_eq!((0..5).filter(|_| limits.admit_call("111111111111", "ListStreams", None)).count(), 2);
    assert!(limits.admit_call("222222222222", "ListStreams", None), "accounts have their own buckets");
    assert_eq!((0..15).filter(|_| limits.admit_call("111111111111", "DescribeStream", Some("s"))).count(), 10);
    assert!(limits.admit_call("111111111111", "PutRecords", Some("s")), "no call rate");
}

#[test]
fn on_demand_capacity_grows_to_twice_the_busiest_second() {
    let config = LimitsConfig::from_toml("[on-demand]\nwrite-records-per-second = 10\n").unwrap();
    let limits = Limits::new(config);
    let scope = || WriteScope::OnDemand { stream_created_ms: 9 };
    assert_eq!(admitted(&limits, scope(), &[1; 20]).iter().filter(|&&ok| ok).count(), 10);
    std::thread::sleep(std::time::Duration::from_millis(1010));
    // The busy second carried 10 records: capacity is now 20 a second (and refills to it).
    let _ = admitted(&limits, scope(), &[]);
    std::thread::sleep(std::time::Duration::from_millis(1010));
    assert_eq!(admitted(&limits, scope(), &[1; 40]).iter().filter(|&&ok| ok).count(), 20);
}

#[test]
fn bad_files_are_refused() {
    for (text, why) in [
        ("[shard]\nwrite-records-per-second = 0\n", "positive"),
        ("[shard]\nbogus = 1\n", "unknown field"),
        ("[control]\nPutRecords = 5\n", "not a rate-limited operation"),
        ("[nope]\n", "unknown field"),
    ] {
        let e = LimitsConfig::from_toml(text).unwrap_err();
        assert!(e.contains(why), "{text}: {e}");
    }
    assert_eq!(LimitsConfig::from_toml("").unwrap(), LimitsConfig::default());
}

#[test]
fn the_fan_out_seam_admits_one_subscribe_a_second_and_paces_delivery() {
    let limits = Limits::new(LimitsConfig::default());
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1";
    let now = limits.now();
    assert!(limits.consumer_shard(arn, 0, |c| c.admit_subscribe(now)));
    assert!(!limits.consumer_shard(arn, 0, |c| c.admit_subscribe(now)));
    assert!(limits.consumer_shard(arn, 1, |c| c.admit_subscribe(now)), "per shard");
    // 2 MiB of credit: a 1 MiB event goes at once, 3 MiB more wait about a second.
    assert_eq!(limits.consumer_shard(arn, 0, |c| c.deliver(1 << 20, now)), 0);
    let wait = limits.consumer_shard(arn, 0, |c| c.deliver(3 << 20, now));
    assert!((900_000_000..1_100_000_000).contains(&wait), "{wait}");
    limits.forget_stream(1, "000000000000", "s");
    assert!(limits.consumer_shard(arn, 0, |c| c.admit_subscribe(now)), "forgotten with its stream");
}

pub(crate) mod gossip_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use bytes::Bytes;
    use parking_lot::Mutex;
    use tokio::sync::mpsc;

    use super::super::gossip::{self, FLUSH, MAX_KEYS, MAX_MESSAGE_BYTES, Usage, UsageKey};
    use super::*;
    use crate::store::{PeerBus, Result};

    /// A peer bus within one process: every subscriber of a topic gets every message at once
    /// (the publisher's own subscribers included, as on NATS); a full queue drops.
    /// Also what the fan-out gossip's tests use (`engine/fanout/gossip.rs`).
    #[derive(Default)]
    pub(crate) struct LocalBus {
        subscribers: Mutex<Vec<(String, mpsc::Sender<Bytes>)>>,
    }

    #[async_trait]
    impl PeerBus for LocalBus {
        async fn publish(&self, topic: &str, payload: Bytes) -> Result<()> {
            for (t, sender) in self.subscribers.lock().iter() {
                if t == topic {
                    let _ = sender.try_send(payload.clone());
                }
            }
            Ok(())
        }

        async fn subscribe(&self, topic: &str, capacity: usize) -> Result<mpsc::Receiver<Bytes>> {
            let (sender, receiver) = mpsc::channel(capacity);
            self.subscribers.lock().push((topic.to_owned(), sender));
            Ok(receiver)
        }
    }

    fn every_kind() -> Vec<Usage> {
        vec![
            Usage {
                key: UsageKey::Shard { stream_created_ms: 7, shard_index: 3 },
                used: vec![10.0, 1e6, 1.0, 2e6, 1.0],
            },
            Usage { key: UsageKey::OnDemand { stream_created_ms: 8 }, used: vec![4000.0, 4.0 * MIB] },
            Usage {
                key: UsageKey::Call { account: "111111111111".into(), operation: "ListStreams", stream: None },
                used: vec![2.0],
            },
            Usage {
                key: UsageKey::Call {
                    account: "111111111111".into(),
                    operation: "ListShards",
                    stream: Some("s".into()),
                },
                used: vec![1.0],
            },
            Usage {
                key: UsageKey::Consumer {
                    arn: "arn:aws:kinesis:us-east-1:111111111111:stream/s/consumer/c:1".into(),
                    shard_index: 0,
                },
                used: vec![2.0 * MIB, 1.0],
            },
        ]
    }

    #[test]
    fn messages_carry_every_kind_of_key_and_split_past_their_bounds() {
        let usage = every_kind();
        let messages = gossip::encode(42, &usage);
        assert_eq!(messages.len(), 1);
        assert_eq!(gossip::decode(&messages[0]).unwrap(), (42, usage));

        let many: Vec<Usage> = (0..2 * MAX_KEYS as u32 + 1)
            .map(|i| Usage { key: UsageKey::Shard { stream_created_ms: 1, shard_index: i }, used: vec![1.0; 5] })
            .collect();
        let messages = gossip::encode(1, &many);
        assert_eq!(messages.len(), 3, "{MAX_KEYS} keys a message at most");
        let long_name = "x".repeat(10_000);
        let big: Vec<Usage> = (0..20)
            .map(|i| Usage { key: UsageKey::Consumer { arn: long_name.clone(), shard_index: i }, used: vec![1.0, 1.0] })
            .collect();
        let messages = gossip::encode(1, &big);
        assert!(messages.len() > 1 && messages.iter().all(|m| m.len() <= MAX_MESSAGE_BYTES));
        let decoded: Vec<Usage> = messages.iter().flat_map(|m| gossip::decode(m).unwrap().1).collect();
        assert_eq!(decoded, big, "nothing lost in the split");
        assert!(gossip::encode(1, &[]).is_empty(), "nothing used, nothing sent");
    }

    #[test]
    fn malformed_messages_are_refused_whole() {
        let good = gossip::encode(5, &every_kind()).remove(0);
        for cut in [0, 1, 10, 12, good.len() - 1] {
            assert!(gossip::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert!(gossip::decode(&trailing).is_err());
        let mut version = good.to_vec();
        version[0] = 9;
        assert!(gossip::decode(&version).is_err());
        let negative =
            gossip::encode(5, &[Usage { key: UsageKey::OnDemand { stream_created_ms: 1 }, used: vec![-1.0, 0.0] }]);
        assert!(gossip::decode(&negative[0]).is_err(), "negative use");
        let nan =
            gossip::encode(5, &[Usage { key: UsageKey::OnDemand { stream_created_ms: 1 }, used: vec![f64::NAN, 0.0] }]);
        assert!(gossip::decode(&nan[0]).is_err(), "NaN");
    }

    #[test]
    fn what_one_node_used_is_counted_once_and_charged_to_the_other() {
        let (a, b) = (tiny(), tiny());
        // A spends a bit of every kind of bucket.
        assert_eq!(admitted(&a, SHARD, &[1; 4]), vec![true; 4]);
        assert!(a.admit_read(1, 0));
        a.charge_read(1, 0, 50);
        assert!(a.admit_iterator(1, 0));
        assert!(a.admit_call("111111111111", "ListStreams", None));
        let arn = "arn:aws:kinesis:us-east-1:111111111111:stream/s/consumer/c:1";
        let now = a.now();
        assert!(a.consumer_shard(arn, 0, |c| c.admit_subscribe(now)));
        let usage = a.take_usage();
        assert!(a.take_usage().is_empty(), "counted once");
        let shard = usage.iter().find(|u| matches!(u.key, UsageKey::Shard { .. })).unwrap();
        assert_eq!(shard.used, vec![4.0, 4.0, 1.0, 50.0, 1.0]);
        assert_eq!(usage.len(), 3, "{usage:?}");

        for u in &usage {
            b.apply_usage(u);
        }
        // B's buckets are charged: 6 records left of 10, one read call of two, 50 bytes of
        // reads owed... (100 a second: still in credit), two iterators of three, one
        // ListStreams of two, and no SubscribeToShard this second.
        assert_eq!(admitted(&b, SHARD, &[1; 10]).iter().filter(|&&ok| ok).count(), 6);
        assert!(b.admit_read(1, 0));
        assert!(!b.admit_read(1, 0));
        assert_eq!((0..5).filter(|_| b.admit_iterator(1, 0)).count(), 2);
        assert_eq!((0..5).filter(|_| b.admit_call("111111111111", "ListStreams", None)).count(), 1);
        let now = b.now();
        assert!(!b.consumer_shard(arn, 0, |c| c.admit_subscribe(now)));
        let own = b.take_usage();
        let shard = own.iter().find(|u| matches!(u.key, UsageKey::Shard { .. })).unwrap();
        assert_eq!(shard.used, vec![6.0, 6.0, 1.0, 0.0, 2.0], "B reports its own use, not what it heard");
    }

    #[test]
    fn usage_of_a_deleted_stream_arriving_late_does_not_bring_its_buckets_back() {
        let (a, b) = (tiny(), tiny());
        assert_eq!(admitted(&a, SHARD, &[1; 4]), vec![true; 4]);
        let arn = "arn:aws:kinesis:us-east-1:111111111111:stream/s/consumer/c:1";
        let now = a.now();
        assert!(a.consumer_shard(arn, 0, |c| c.admit_subscribe(now)));
        assert!(a.admit_call("111111111111", "ListShards", Some("s")));
        assert!(a.admit_call("111111111111", "ListStreams", None));
        let usage = a.take_usage();
        assert_eq!(usage.len(), 4);
        b.forget_stream(1, "111111111111", "s");
        for u in &usage {
            b.apply_usage(u);
        }
        assert!(b.shards.read().is_empty() && b.consumers.lock().is_empty());
        let control: Vec<_> = b.control.lock().keys().cloned().collect();
        assert_eq!(control, [("111111111111".to_owned(), "ListStreams", None)], "the account's own rate still counts");
        // Another incarnation of the name is a new stream.
        let other = Usage { key: UsageKey::Shard { stream_created_ms: 2, shard_index: 0 }, used: vec![1.0; 5] };
        b.apply_usage(&other);
        assert_eq!(b.shards.read().len(), 1);
    }

    #[test]
    fn on_demand_use_is_shared_and_grows_the_capacity_on_every_node() {
        let config = LimitsConfig::from_toml("[on-demand]\nwrite-records-per-second = 10\n").unwrap();
        let (a, b) = (Limits::new(config.clone()), Limits::new(config));
        let scope = || WriteScope::OnDemand { stream_created_ms: 9 };
        assert_eq!(admitted(&a, scope(), &[1; 7]), vec![true; 7]);
        for u in a.take_usage() {
            b.apply_usage(&u);
        }
        assert_eq!(admitted(&b, scope(), &[1; 10]).iter().filter(|&&ok| ok).count(), 3);
    }

    /// Drives two nodes' writes to one shard for `seconds`, each node offered the shard's
    /// whole rate (together twice it), in 10 ms steps; what they admitted together, and the
    /// time it took.
    async fn overload(rate: f64, seconds: f64, bus: Option<Arc<LocalBus>>) -> (usize, f64) {
        let config = LimitsConfig::from_toml(&format!("[shard]\nwrite-records-per-second = {rate}\n")).unwrap();
        let nodes = [Arc::new(Limits::new(config.clone())), Arc::new(Limits::new(config))];
        let mut tasks = Vec::new();
        if let Some(bus) = &bus {
            for node in &nodes {
                tasks.push(tokio::spawn(gossip::run(Arc::downgrade(node), bus.clone())));
            }
            tokio::task::yield_now().await;
        }
        let step = Duration::from_millis(10);
        let per_step = (rate * step.as_secs_f64()) as usize;
        let start = std::time::Instant::now();
        let mut total = 0;
        let mut next = tokio::time::Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            for node in &nodes {
                let mut ok = 0;
                node.admit_writes(SHARD, std::iter::repeat_n(1, per_step), |a| ok += a as usize);
                total += ok;
            }
            next += step;
            tokio::time::sleep_until(next).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        drop(nodes);
        for task in tasks {
            tokio::time::timeout(FLUSH * 3, task).await.expect("gossip ends with its limits").unwrap();
        }
        (total, elapsed)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_sharing_usage_hold_a_shard_near_its_rate_and_would_not_without() {
        let rate = 200.0;
        let seconds = 3.0;
        let (shared, isolated) =
            tokio::join!(overload(rate, seconds, Some(Arc::new(LocalBus::default()))), overload(rate, seconds, None));
        // The stated bound (gossip.rs): rate × T + one burst + (N-1) × rate × (FLUSH + d),
        // with d taken as another FLUSH for a busy test machine.
        let (admitted, elapsed) = shared;
        eprintln!("with gossip: {admitted} in {elapsed:.2} s; without: {} in {:.2} s", isolated.0, isolated.1);
        let bound = rate * elapsed + rate + rate * 2.0 * FLUSH.as_secs_f64();
        assert!((admitted as f64) <= bound, "with gossip: {admitted} admitted in {elapsed:.2} s, bound {bound:.0}");
        assert!((admitted as f64) >= rate * elapsed * 0.9, "with gossip the rate is still given: {admitted}");
        // Without it each node admits all it is offered: twice the rate.
        let (admitted, elapsed) = isolated;
        assert!(
            (admitted as f64) >= 2.0 * rate * (elapsed - 0.05) * 0.95,
            "without gossip: {admitted} admitted in {elapsed:.2} s"
        );
        assert!((admitted as f64) > bound * 1.3, "the test would tell: {admitted} vs {bound:.0}");
    }
}
