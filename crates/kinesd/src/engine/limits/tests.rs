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
