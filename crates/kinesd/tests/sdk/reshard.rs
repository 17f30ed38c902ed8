//! Resharding through the Rust SDK: SplitShard, MergeShards and UpdateShardCount, their
//! errors, the lineage they leave and ListShards' filters after them. The KCL-style reader is in
//! `kcl.rs`.

use std::collections::HashSet;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{
    ScalingType, Shard, ShardFilter, ShardFilterType, ShardIteratorType, StreamMode, StreamModeDetails, StreamStatus,
};

use crate::common::*;

fn opts(update_stream_ms: u64) -> ServerOpts {
    ServerOpts { update_stream_ms, ..Default::default() }
}

/// ListShards with `filter`, following NextToken.
pub(crate) async fn list_filtered(client: &Client, name: &str, filter: ShardFilter) -> Vec<Shard> {
    let mut out = Vec::new();
    let mut page = ok(client.list_shards().stream_name(name).shard_filter(filter).max_results(2).send().await);
    loop {
        out.extend(page.shards().iter().cloned());
        let Some(token) = page.next_token().map(str::to_owned) else {
            return out;
        };
        page = ok(client.list_shards().next_token(token).max_results(2).send().await);
    }
}

pub(crate) fn filter(kind: ShardFilterType) -> ShardFilter {
    ShardFilter::builder().r#type(kind).build().unwrap()
}

pub(crate) fn at_timestamp(secs: f64) -> ShardFilter {
    ShardFilter::builder()
        .r#type(ShardFilterType::AtTimestamp)
        .timestamp(DateTime::from_secs_f64(secs))
        .build()
        .unwrap()
}

/// The KCL's check: sorted by StartingHashKey the ranges start at 0, end at 2^128-1 and each
/// starts right after the previous one ends.
#[track_caller]
pub(crate) fn assert_tiles(shards: &[Shard], what: &str) {
    let mut ranges: Vec<(u128, u128)> = shards.iter().map(hash_range).collect();
    ranges.sort();
    assert!(!ranges.is_empty(), "{what}: no shards");
    assert_eq!(ranges[0].0, 0, "{what}: does not start at 0: {ranges:?}");
    assert_eq!(ranges.last().unwrap().1, u128::MAX, "{what}: does not end at 2^128-1");
    for w in ranges.windows(2) {
        assert_eq!(w[0].1.checked_add(1), Some(w[1].0), "{what}: gap or overlap in {ranges:?}");
    }
}

pub(crate) fn ids(shards: &[Shard]) -> Vec<String> {
    shards.iter().map(|s| s.shard_id().to_owned()).collect()
}

fn ending(shard: &Shard) -> Option<&str> {
    shard.sequence_number_range().and_then(|r| r.ending_sequence_number())
}

fn starting(shard: &Shard) -> &str {
    shard.sequence_number_range().unwrap().starting_sequence_number()
}

async fn put_ehk(client: &Client, name: &str, ehk: u128, data: &str) -> (String, String) {
    let out = ok(client
        .put_record()
        .stream_name(name)
        .partition_key("pk")
        .explicit_hash_key(ehk.to_string())
        .data(Blob::new(data.as_bytes().to_vec()))
        .send()
        .await);
    (out.shard_id().to_owned(), out.sequence_number().to_owned())
}

async fn status(client: &Client, name: &str) -> StreamStatus {
    summary(client, name).await.stream_status
}

#[tokio::test]
async fn split_keeps_the_parent_open_while_updating_then_closes_it_with_lineage() {
    let server = Server::start_with(opts(600));
    let client = server.client();
    let name = unique_name("split");
    create_active(&client, &name, 1).await;
    let before = put_ehk(&client, &name, 1, "before").await;

    ok(client.split_shard().stream_name(&name).shard_to_split("shard-0").new_starting_hash_key("2").send().await);
    // UPDATING: the parent has no EndingSequenceNumber and there are no children yet, and
    // writes keep landing in it.
    let d = ok(client.describe_stream().stream_name(&name).send().await).stream_description.unwrap();
    assert_eq!(d.stream_status, StreamStatus::Updating);
    assert_eq!(ids(&d.shards), [shard_id(0)]);
    assert_eq!(ending(&d.shards[0]), None);
    let during = put_ehk(&client, &name, 1, "during").await;
    assert_eq!(during.0, shard_id(0));
    api_err(client.split_shard().stream_name(&name).shard_to_split("shard-0").new_starting_hash_key("2").send().await)
        .assert(
            "ResourceInUseException",
            &format!("Stream {name} under account {ACCOUNT} not ACTIVE, instead in state UPDATING"),
        );

    wait_active(&client, &name).await;
    let shards = list_all_shards(&client, &name).await;
    assert_eq!(ids(&shards), [shard_id(0), shard_id(1), shard_id(2)]);
    let end0 = ending(&shards[0]).expect("parent closed").to_owned();
    assert_eq!(hash_range(&shards[1]), (0, 1));
    assert_eq!(hash_range(&shards[2]), (2, u128::MAX));
    for child in &shards[1..] {
        assert_eq!(child.parent_shard_id(), Some(shard_id(0).as_str()));
        assert_eq!(child.adjacent_parent_shard_id(), None);
        assert_eq!(ending(child), None);
    }
    for seq in [&before.1, &during.1] {
        assert_eq!(seq_cmp(seq, &end0), std::cmp::Ordering::Less);
    }

    // Writes now go to the children, at once, and sort after the child's starting number.
    let after = put_ehk(&client, &name, 1, "after").await;
    assert_eq!(after.0, shard_id(1));
    assert_eq!(seq_cmp(starting(&shards[1]), &after.1), std::cmp::Ordering::Less);
    let high = put_ehk(&client, &name, 2, "high").await;
    assert_eq!(high.0, shard_id(2));

    // The parent reads to its end, then answers ChildShards and no NextShardIterator.
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let page = ok(client.get_records().shard_iterator(&it).send().await);
    let data: Vec<_> = page.records().iter().map(|r| r.data().as_ref().to_vec()).collect();
    assert_eq!(data, [b"before".to_vec(), b"during".to_vec()]);
    assert_eq!(page.next_shard_iterator(), None);
    let children: Vec<_> = page.child_shards().iter().map(|c| c.shard_id().to_owned()).collect();
    assert_eq!(children, [shard_id(1), shard_id(2)]);
    for c in page.child_shards() {
        assert_eq!(c.parent_shards(), [shard_id(0)]);
    }
    // A LATEST iterator on the closed parent also ends at once.
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::Latest, None).await;
    let page = ok(client.get_records().shard_iterator(&it).send().await);
    assert!(page.records().is_empty());
    assert_eq!(page.next_shard_iterator(), None);
    assert_eq!(page.child_shards().len(), 2);
}

#[tokio::test]
async fn merge_makes_one_child_with_both_parents() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("merge");
    create_active(&client, &name, 3).await;
    ok(client
        .merge_shards()
        .stream_name(&name)
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await);
    wait_active(&client, &name).await;
    let shards = list_all_shards(&client, &name).await;
    assert_eq!(shards.len(), 4);
    let child = &shards[3];
    assert_eq!(child.shard_id(), shard_id(3));
    assert_eq!(child.parent_shard_id(), Some(shard_id(0).as_str()));
    assert_eq!(child.adjacent_parent_shard_id(), Some(shard_id(1).as_str()));
    assert_eq!(hash_range(child), (0, hash_range(&shards[1]).1));
    assert!(ending(&shards[0]).is_some() && ending(&shards[1]).is_some());
    assert!(ending(&shards[2]).is_none());

    let it = iterator(&client, &name, &shard_id(1), ShardIteratorType::TrimHorizon, None).await;
    let page = ok(client.get_records().shard_iterator(&it).send().await);
    assert_eq!(page.next_shard_iterator(), None);
    assert_eq!(page.child_shards().len(), 1);
    assert_eq!(page.child_shards()[0].parent_shards(), [shard_id(0), shard_id(1)]);
    assert_tiles(&list_filtered(&client, &name, filter(ShardFilterType::AtLatest)).await, "AT_LATEST");
}

#[tokio::test]
async fn reshard_errors_match_aws() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("rerr");
    create_active(&client, &name, 3).await;
    let step = u128::MAX / 3;
    let split = |shard: &str, key: &str| {
        client.split_shard().stream_name(&name).shard_to_split(shard).new_starting_hash_key(key).send()
    };
    let merge =
        |a: &str, b: &str| client.merge_shards().stream_name(&name).shard_to_merge(a).adjacent_shard_to_merge(b).send();
    let tail = format!("in stream {name} under account {ACCOUNT}");
    api_err(split("ABKLFD8", "5").await)
        .assert("ResourceNotFoundException", &format!("Could not find shard ABKLFD8 {tail}."));
    api_err(split("shardId-5", "5").await)
        .assert("ResourceNotFoundException", &format!("Could not find shard shardId-000000000005 {tail}."));
    api_err(split("shard-0", "1").await).assert(
        "InvalidArgumentException",
        &format!("NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 {tail} is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey 113427455640312821154458202477256070484."),
    );
    api_err(split("shard-2", "999999999999999999999999999999999999999").await).assert(
        "InvalidArgumentException",
        &format!("NewStartingHashKey 999999999999999999999999999999999999999 used in SplitShard() on shard shardId-000000000002 {tail} is not both greater than one plus the shard's StartingHashKey 226854911280625642308916404954512140970 and less than the shard's EndingHashKey 340282366920938463463374607431768211455."),
    );
    let not_adjacent = |a: u32, b: u32| {
        format!(
            "Shards {} and {} {tail} are not an adjacent pair of shards eligible for merging",
            shard_id(a),
            shard_id(b)
        )
    };
    api_err(merge("0", "2").await).assert("InvalidArgumentException", &not_adjacent(0, 2));
    // AWS refuses the inverted order too.
    api_err(merge("1", "0").await).assert("InvalidArgumentException", &not_adjacent(1, 0));
    let unknown = unique_name("nope");
    api_err(client.merge_shards().stream_name(&unknown).shard_to_merge("0").adjacent_shard_to_merge("1").send().await)
        .assert("ResourceNotFoundException", &not_found_msg(&unknown));

    // A closed shard cannot be split or merged again.
    ok(split("shard-0", &(step / 2).to_string()).await);
    wait_active(&client, &name).await;
    api_err(split("shard-0", &(step / 4).to_string()).await).assert(
        "InvalidArgumentException",
        &format!("Shard shardId-000000000000 {tail} has already been merged or split, and thus is not eligible for merging or splitting."),
    );
    api_err(merge("0", "1").await).assert(
        "InvalidArgumentException",
        &format!("Shard shardId-000000000000 {tail} has already been merged or split, and thus is not eligible for merging or splitting."),
    );

    // UpdateShardCount's bounds (the stream now has 4 open shards).
    let scale = |target: i32| {
        client
            .update_shard_count()
            .stream_name(&name)
            .target_shard_count(target)
            .scaling_type(ScalingType::UniformScaling)
            .send()
    };
    api_err(scale(9).await).assert(
        "LimitExceededException",
        "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 4, Target shard count: 9",
    );
    api_err(scale(1).await).assert(
        "LimitExceededException",
        "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 4, Target shard count: 1",
    );
    api_err(scale(600).await).assert(
        "LimitExceededException",
        "Target shard count or number of open shards cannot be greater than 500. Current open shard count: 4, Target shard count: 600",
    );

    // On-demand streams refuse all three.
    let od = unique_name("od");
    ok(client
        .create_stream()
        .stream_name(&od)
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await);
    wait_active(&client, &od).await;
    let msg = format!("Request is invalid. Stream {od} under account {ACCOUNT} is in On-Demand mode.");
    api_err(client.split_shard().stream_name(&od).shard_to_split("0").new_starting_hash_key("5").send().await)
        .assert("ValidationException", &msg);
    api_err(client.merge_shards().stream_name(&od).shard_to_merge("0").adjacent_shard_to_merge("1").send().await)
        .assert("ValidationException", &msg);
    api_err(
        client
            .update_shard_count()
            .stream_name(&od)
            .target_shard_count(5)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    )
    .assert("ValidationException", &msg);
}

#[tokio::test]
async fn update_shard_count_reaches_a_uniform_layout() {
    let server = Server::start();
    let client = server.client();
    for (from, to, total) in [(2, 4, 6), (4, 2, 6), (3, 5, 0), (5, 3, 0)] {
        let name = unique_name("usc");
        create_active(&client, &name, from).await;
        let out = ok(client
            .update_shard_count()
            .stream_arn(stream_arn(&name))
            .target_shard_count(to)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await);
        assert_eq!(out.current_shard_count(), Some(from));
        assert_eq!(out.target_shard_count(), Some(to));
        assert_eq!(out.stream_name(), Some(name.as_str()));
        assert_eq!(status(&client, &name).await, StreamStatus::Updating);
        let s = wait_active(&client, &name).await;
        assert_eq!(s.open_shard_count, to);
        let all = list_all_shards(&client, &name).await;
        if total > 0 {
            assert_eq!(all.len(), total, "{from} -> {to}: AWS leaves {total} shards");
        }
        let latest = list_filtered(&client, &name, filter(ShardFilterType::AtLatest)).await;
        let mut ranges: Vec<_> = latest.iter().map(hash_range).collect();
        ranges.sort();
        let expected: Vec<_> =
            expected_ranges(to as u32).into_iter().map(|(a, b)| (parse_u128(&a), parse_u128(&b))).collect();
        assert_eq!(ranges, expected, "{from} -> {to}: uniform ranges");
        // Every new shard descends from the shards it replaced.
        let known: HashSet<String> = all.iter().map(|s| s.shard_id().to_owned()).collect();
        for s in &all[from as usize..] {
            assert!(known.contains(s.parent_shard_id().expect("a new shard has a parent")));
        }
        // At the instant before the reshard the original shards tile the space.
        let at_start = list_filtered(&client, &name, filter(ShardFilterType::AtTrimHorizon)).await;
        assert_eq!(ids(&at_start), (0..from as u32).map(shard_id).collect::<Vec<_>>());
    }
}
