//! Control plane: CreateStream / DeleteStream / DescribeStream / DescribeStreamSummary /
//! ListStreams / ListShards / ListTagsForStream, and StreamName vs StreamARN addressing.

use std::collections::BTreeMap;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{
    EncryptionType, Shard, ShardFilter, ShardFilterType, ShardIteratorType, StreamDescription, StreamMode,
    StreamModeDetails, StreamStatus,
};

use crate::common::*;

/// Asserts the creation-time shard layout: ids 0..n, exact hash ranges, open, no parents.
#[track_caller]
fn assert_initial_shards(shards: &[Shard], n: u32) {
    let ranges = expected_ranges(n);
    assert_eq!(shards.len(), n as usize, "shard count");
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s.shard_id(), shard_id(i as u32));
        let r = s.hash_key_range().expect("HashKeyRange");
        assert_eq!((r.starting_hash_key(), r.ending_hash_key()), (ranges[i].0.as_str(), ranges[i].1.as_str()));
        let seq = s.sequence_number_range().expect("SequenceNumberRange");
        assert_seq_format(seq.starting_sequence_number());
        assert_eq!(seq.ending_sequence_number(), None, "new shard must be open");
        assert_eq!(s.parent_shard_id(), None);
        assert_eq!(s.adjacent_parent_shard_id(), None);
    }
}

#[track_caller]
fn assert_no_enhanced_monitoring(em: &[aws_sdk_kinesis::types::EnhancedMetrics]) {
    // AWS returns `[{"ShardLevelMetrics": []}]` when nothing is enabled.
    assert_eq!(em.len(), 1, "EnhancedMonitoring: {em:?}");
    assert!(em[0].shard_level_metrics().is_empty(), "EnhancedMonitoring: {em:?}");
}

async fn describe(client: &Client, name: &str) -> StreamDescription {
    ok(client.describe_stream().stream_name(name).send().await).stream_description.expect("StreamDescription")
}

#[tokio::test]
async fn create_provisioned_stream_goes_creating_then_active() {
    let server = Server::start_with(ServerOpts { create_stream_ms: 500, ..Default::default() });
    let client = server.client();
    let name = unique_name("prov");
    let t0 = now_secs_f64();
    ok(client.create_stream().stream_name(&name).shard_count(3).send().await);
    let t1 = now_secs_f64();

    // Immediately after: CREATING, no shards yet.
    let s = summary(&client, &name).await;
    assert_eq!(s.stream_status, StreamStatus::Creating);
    assert_eq!(s.stream_name, name);
    assert_eq!(s.stream_arn, stream_arn(&name));
    let d = describe(&client, &name).await;
    assert_eq!(d.stream_status, StreamStatus::Creating);
    assert!(d.shards.is_empty(), "DescribeStream while CREATING lists no shards: {:?}", d.shards);
    assert!(!d.has_more_shards);

    // Data plane is not available while CREATING.
    let e = api_err(client.put_record().stream_name(&name).partition_key("a").data(Blob::new("x")).send().await);
    e.assert("ResourceNotFoundException", &not_found_msg(&name));
    let e = api_err(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard_id(0))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    e.assert(
        "ResourceNotFoundException",
        &format!("Shard {} in stream {name} under account {ACCOUNT} does not exist", shard_id(0)),
    );
    let e = api_err(client.list_shards().stream_name(&name).send().await);
    assert_eq!(e.code, "ResourceInUseException", "ListShards on a CREATING stream: {e:?}");
    let e = api_err(
        client
            .put_records()
            .stream_name(&name)
            .records(
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key("a")
                    .data(Blob::new("x"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    e.assert("ResourceNotFoundException", &not_found_msg(&name));

    let s = wait_active(&client, &name).await;
    assert_eq!(s.open_shard_count, 3);
    assert_eq!(s.retention_period_hours, 24);
    assert_eq!(s.stream_mode_details.as_ref().map(|m| m.stream_mode.clone()), Some(StreamMode::Provisioned));
    assert_eq!(s.max_record_size_in_kib, Some(1024), "default MaxRecordSizeInKiB");
    assert_eq!(s.stream_id(), None, "StreamId must never be returned (it reroutes SDKs to AWS)");

    let d = describe(&client, &name).await;
    assert_eq!(d.stream_status, StreamStatus::Active);
    assert_eq!(d.stream_name, name);
    assert_eq!(d.stream_arn, stream_arn(&name));
    assert_eq!(d.retention_period_hours, 24);
    assert!(!d.has_more_shards);
    assert_eq!(d.stream_mode_details.as_ref().map(|m| m.stream_mode.clone()), Some(StreamMode::Provisioned));
    assert_no_enhanced_monitoring(&d.enhanced_monitoring);
    assert_no_enhanced_monitoring(&s.enhanced_monitoring);
    // A new stream reports EncryptionType NONE (docs/aws-behaviour.md §3, §5).
    assert_eq!(d.encryption_type, Some(EncryptionType::None));
    assert_eq!(s.encryption_type, Some(EncryptionType::None));
    let created = d.stream_creation_timestamp.as_secs_f64();
    assert!(created >= t0 - 1.0 && created <= t1 + 1.0, "StreamCreationTimestamp {created} not in [{t0}, {t1}]");
    assert_eq!(s.stream_creation_timestamp, d.stream_creation_timestamp);
    assert_initial_shards(&d.shards, 3);
    // Shards from ListShards agree with DescribeStream.
    assert_eq!(list_all_shards(&client, &name).await, d.shards);
}

#[tokio::test]
async fn create_on_demand_stream_has_four_shards() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("ondemand");
    ok(client
        .create_stream()
        .stream_name(&name)
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await);
    let s = wait_active(&client, &name).await;
    assert_eq!(s.stream_mode_details.as_ref().map(|m| m.stream_mode.clone()), Some(StreamMode::OnDemand));
    assert_eq!(s.open_shard_count, 4);
    let d = describe(&client, &name).await;
    assert_eq!(d.stream_mode_details.as_ref().map(|m| m.stream_mode.clone()), Some(StreamMode::OnDemand));
    assert_initial_shards(&d.shards, 4);
}

#[tokio::test]
async fn create_stream_without_shard_count_or_mode_has_four_shards() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("noshards");
    ok(client.create_stream().stream_name(&name).send().await);
    let s = wait_active(&client, &name).await;
    assert_eq!(s.open_shard_count, 4);
    assert_initial_shards(&describe(&client, &name).await.shards, 4);
}

#[tokio::test]
async fn create_stream_with_tags_and_list_tags_paging() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("tags");
    ok(client
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .tags("team", "data")
        .tags("env", "test")
        .tags("empty", "")
        .send()
        .await);
    wait_active(&client, &name).await;

    let out = ok(client.list_tags_for_stream().stream_name(&name).send().await);
    assert!(!out.has_more_tags);
    let got: Vec<(String, Option<String>)> =
        out.tags().iter().map(|t| (t.key().to_string(), t.value().map(str::to_string))).collect();
    // Sorted by key, values exact (empty value is a legal tag value).
    assert_eq!(
        got,
        vec![
            ("empty".to_string(), Some("".to_string())),
            ("env".to_string(), Some("test".to_string())),
            ("team".to_string(), Some("data".to_string())),
        ]
    );

    // Paging: Limit + HasMoreTags + ExclusiveStartTagKey.
    let p1 = ok(client.list_tags_for_stream().stream_name(&name).limit(2).send().await);
    let k1: Vec<&str> = p1.tags().iter().map(|t| t.key()).collect();
    assert_eq!(k1, ["empty", "env"]);
    assert!(p1.has_more_tags);
    let p2 = ok(client.list_tags_for_stream().stream_name(&name).limit(2).exclusive_start_tag_key("env").send().await);
    let k2: Vec<&str> = p2.tags().iter().map(|t| t.key()).collect();
    assert_eq!(k2, ["team"]);
    assert!(!p2.has_more_tags);

    // Same through the ARN.
    let by_arn = ok(client.list_tags_for_stream().stream_arn(stream_arn(&name)).send().await);
    assert_eq!(by_arn.tags(), out.tags());

    // A stream created without tags has none.
    let plain = unique_name("notags");
    create_active(&client, &plain, 1).await;
    let out = ok(client.list_tags_for_stream().stream_name(&plain).send().await);
    assert!(out.tags().is_empty());
    assert!(!out.has_more_tags);
}

#[tokio::test]
async fn create_stream_with_max_record_size() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("bigrec");
    ok(client.create_stream().stream_name(&name).shard_count(1).max_record_size_in_kib(2048).send().await);
    let s = wait_active(&client, &name).await;
    assert_eq!(s.max_record_size_in_kib, Some(2048));

    // A 1.5 MiB record is accepted by a 2 MiB stream and read back intact.
    let data: Vec<u8> = (0..(3 * 1024 * 1024 / 2)).map(|i| (i % 251) as u8).collect();
    let put =
        ok(client.put_record().stream_name(&name).partition_key("big").data(Blob::new(data.clone())).send().await);
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let (recs, _) = drain(&client, it, 1).await;
    assert_eq!(recs[0].sequence_number(), put.sequence_number());
    assert_eq!(recs[0].data().as_ref(), &data[..]);

    // Out of range values are rejected with coral-style validation messages.
    for (v, constraint) in [
        (1023, "Member must have value greater than or equal to 1024"),
        (10241, "Member must have value less than or equal to 10240"),
    ] {
        let e = api_err(
            client
                .create_stream()
                .stream_name(unique_name("badmax"))
                .shard_count(1)
                .max_record_size_in_kib(v)
                .send()
                .await,
        );
        e.assert(
            "ValidationException",
            &format!("1 validation error detected: Value '{v}' at 'maxRecordSizeInKiB' failed to satisfy constraint: {constraint}"),
        );
    }
}

#[tokio::test]
async fn delete_stream_goes_deleting_then_gone_and_name_is_reusable() {
    let server = Server::start_with(ServerOpts { delete_stream_ms: 400, ..Default::default() });
    let client = server.client();
    let name = unique_name("del");
    let keep = unique_name("keep");
    create_active(&client, &name, 2).await;
    create_active(&client, &keep, 1).await;

    ok(client.delete_stream().stream_name(&name).send().await);
    let s = summary(&client, &name).await;
    assert_eq!(s.stream_status, StreamStatus::Deleting);
    wait_gone(&client, &name).await;

    let e = api_err(client.describe_stream().stream_name(&name).send().await);
    e.assert("ResourceNotFoundException", &not_found_msg(&name));
    let e = api_err(client.delete_stream().stream_name(&name).send().await);
    e.assert("ResourceNotFoundException", &not_found_msg(&name));
    let names = ok(client.list_streams().send().await).stream_names;
    assert_eq!(names, vec![keep.clone()]);

    // The name can be reused; the new stream starts empty with the requested shard count.
    let s = create_active(&client, &name, 1).await;
    assert_eq!(s.open_shard_count, 1);
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let (recs, _) = drain(&client, it, 0).await;
    assert!(recs.is_empty());

    // Delete by ARN.
    ok(client.delete_stream().stream_arn(stream_arn(&keep)).send().await);
    wait_gone(&client, &keep).await;
}

#[tokio::test]
async fn describe_stream_pages_with_limit_and_exclusive_start_shard_id() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("dpage");
    create_active(&client, &name, 7).await;

    let all = describe(&client, &name).await;
    assert_eq!(all.shards.len(), 7);
    assert!(!all.has_more_shards);
    assert_initial_shards(&all.shards, 7);

    let ids = |d: &StreamDescription| d.shards.iter().map(|s| s.shard_id().to_string()).collect::<Vec<_>>();
    let p1 = ok(client.describe_stream().stream_name(&name).limit(3).send().await).stream_description.unwrap();
    assert_eq!(ids(&p1), [shard_id(0), shard_id(1), shard_id(2)]);
    assert!(p1.has_more_shards);
    let p2 =
        ok(client.describe_stream().stream_name(&name).limit(3).exclusive_start_shard_id(shard_id(2)).send().await)
            .stream_description
            .unwrap();
    assert_eq!(ids(&p2), [shard_id(3), shard_id(4), shard_id(5)]);
    assert!(p2.has_more_shards);
    let p3 =
        ok(client.describe_stream().stream_name(&name).limit(3).exclusive_start_shard_id(shard_id(5)).send().await)
            .stream_description
            .unwrap();
    assert_eq!(ids(&p3), [shard_id(6)]);
    assert!(!p3.has_more_shards);
    // Limit equal to the remaining count: no more shards.
    let p4 = ok(client.describe_stream().stream_name(&name).limit(7).send().await).stream_description.unwrap();
    assert_eq!(p4.shards.len(), 7);
    assert!(!p4.has_more_shards);
    // Pages carry the same shard objects as the full description.
    let mut joined = p1.shards.clone();
    joined.extend(p2.shards.clone());
    joined.extend(p3.shards.clone());
    assert_eq!(joined, all.shards);
}

#[tokio::test]
async fn describe_stream_summary_reports_counts() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("sum");
    let s = create_active(&client, &name, 5).await;
    assert_eq!(s.stream_name, name);
    assert_eq!(s.stream_arn, stream_arn(&name));
    assert_eq!(s.stream_status, StreamStatus::Active);
    assert_eq!(s.open_shard_count, 5);
    assert_eq!(s.consumer_count, Some(0));
    assert_eq!(s.retention_period_hours, 24);
    assert_eq!(s.stream_id(), None, "StreamId must never be returned");
    let by_arn = ok(client.describe_stream_summary().stream_arn(stream_arn(&name)).send().await)
        .stream_description_summary
        .unwrap();
    assert_eq!(by_arn, s);
}

#[tokio::test]
async fn list_streams_pages_in_name_order() {
    let server = Server::start();
    let client = server.client();
    // Created out of order; listed sorted.
    let names = ["ls-c", "ls-a", "ls-e", "ls-b", "ls-d"];
    for n in names {
        ok(client.create_stream().stream_name(n).shard_count(1).send().await);
    }
    for n in names {
        wait_active(&client, n).await;
    }
    ok(client
        .create_stream()
        .stream_name("ls-f-ondemand")
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await);
    wait_active(&client, "ls-f-ondemand").await;
    let sorted = ["ls-a", "ls-b", "ls-c", "ls-d", "ls-e", "ls-f-ondemand"];

    let all = ok(client.list_streams().send().await);
    assert_eq!(all.stream_names, sorted);
    assert!(!all.has_more_streams);
    assert_eq!(all.next_token(), None);
    let summaries = all.stream_summaries();
    assert_eq!(summaries.len(), 6);
    for (s, n) in summaries.iter().zip(sorted) {
        assert_eq!(s.stream_name(), n);
        assert_eq!(s.stream_arn(), stream_arn(n));
        assert_eq!(s.stream_status(), &StreamStatus::Active);
        let want = if n.ends_with("ondemand") { StreamMode::OnDemand } else { StreamMode::Provisioned };
        assert_eq!(s.stream_mode_details().map(|m| m.stream_mode().clone()), Some(want));
        assert!(s.stream_creation_timestamp().is_some());
    }

    // NextToken paging.
    let p1 = ok(client.list_streams().limit(2).send().await);
    assert_eq!(p1.stream_names, ["ls-a", "ls-b"]);
    assert!(p1.has_more_streams);
    let t1 = p1.next_token().expect("NextToken when HasMoreStreams").to_string();
    let p2 = ok(client.list_streams().limit(2).next_token(&t1).send().await);
    assert_eq!(p2.stream_names, ["ls-c", "ls-d"]);
    assert!(p2.has_more_streams);
    let t2 = p2.next_token().expect("NextToken when HasMoreStreams").to_string();
    let p3 = ok(client.list_streams().limit(2).next_token(&t2).send().await);
    assert_eq!(p3.stream_names, ["ls-e", "ls-f-ondemand"]);
    assert!(!p3.has_more_streams);
    assert_eq!(p3.next_token(), None);

    // ExclusiveStartStreamName paging.
    let p = ok(client.list_streams().limit(2).exclusive_start_stream_name("ls-b").send().await);
    assert_eq!(p.stream_names, ["ls-c", "ls-d"]);
    assert!(p.has_more_streams);
    let p = ok(client.list_streams().exclusive_start_stream_name("ls-d").send().await);
    assert_eq!(p.stream_names, ["ls-e", "ls-f-ondemand"]);
    assert!(!p.has_more_streams);
}

#[tokio::test]
async fn list_shards_pages_with_next_token_and_max_results() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("lspage");
    create_active(&client, &name, 5).await;
    let ids = |s: &[Shard]| s.iter().map(|s| s.shard_id().to_string()).collect::<Vec<_>>();

    let all = ok(client.list_shards().stream_name(&name).send().await);
    assert_eq!(all.next_token(), None);
    assert_initial_shards(all.shards(), 5);

    let p1 = ok(client.list_shards().stream_name(&name).max_results(2).send().await);
    assert_eq!(ids(p1.shards()), [shard_id(0), shard_id(1)]);
    let t1 = p1.next_token().expect("NextToken after a partial page").to_string();
    let p2 = ok(client.list_shards().next_token(&t1).max_results(2).send().await);
    assert_eq!(ids(p2.shards()), [shard_id(2), shard_id(3)]);
    let t2 = p2.next_token().expect("NextToken after a partial page").to_string();
    let p3 = ok(client.list_shards().next_token(&t2).max_results(2).send().await);
    assert_eq!(ids(p3.shards()), [shard_id(4)]);
    assert_eq!(p3.next_token(), None);
    // A token can be replayed (it encodes a position, not server-side cursor state).
    let again = ok(client.list_shards().next_token(&t1).max_results(2).send().await);
    assert_eq!(ids(again.shards()), [shard_id(2), shard_id(3)]);

    let p = ok(client.list_shards().stream_name(&name).exclusive_start_shard_id(shard_id(2)).send().await);
    assert_eq!(ids(p.shards()), [shard_id(3), shard_id(4)]);
    assert_eq!(p.next_token(), None);

    let p = ok(client.list_shards().stream_arn(stream_arn(&name)).max_results(5).send().await);
    assert_eq!(ids(p.shards()), ids(all.shards()));
    assert_eq!(p.next_token(), None);

    let e = api_err(client.list_shards().stream_name(&name).next_token(&t1).send().await);
    e.assert("InvalidArgumentException", "NextToken and StreamName cannot be provided together.");
}

#[tokio::test]
async fn list_shards_every_filter_type_on_unresharded_stream() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("filter");
    create_active(&client, &name, 4).await;
    let ids = |s: &[Shard]| s.iter().map(|s| s.shard_id().to_string()).collect::<Vec<_>>();
    let all: Vec<String> = (0..4).map(shard_id).collect();
    let now = DateTime::from_secs_f64(now_secs_f64());
    let hour_ago = DateTime::from_secs_f64(now_secs_f64() - 3600.0);

    let cases: Vec<(ShardFilter, Vec<String>)> = vec![
        (ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().unwrap(), all.clone()),
        (ShardFilter::builder().r#type(ShardFilterType::AtTrimHorizon).build().unwrap(), all.clone()),
        (ShardFilter::builder().r#type(ShardFilterType::FromTrimHorizon).build().unwrap(), all.clone()),
        (ShardFilter::builder().r#type(ShardFilterType::AtTimestamp).timestamp(now).build().unwrap(), all.clone()),
        (ShardFilter::builder().r#type(ShardFilterType::FromTimestamp).timestamp(now).build().unwrap(), all.clone()),
        // KCL starts AT_TIMESTAMP with a timestamp that may precede the stream: it needs the
        // full hash range back.
        (ShardFilter::builder().r#type(ShardFilterType::AtTimestamp).timestamp(hour_ago).build().unwrap(), all.clone()),
        (
            ShardFilter::builder().r#type(ShardFilterType::AfterShardId).shard_id(shard_id(1)).build().unwrap(),
            vec![shard_id(2), shard_id(3)],
        ),
    ];
    for (filter, want) in cases {
        let out = ok(client.list_shards().stream_name(&name).shard_filter(filter.clone()).send().await);
        assert_eq!(ids(out.shards()), want, "filter {filter:?}");
        assert_eq!(out.next_token(), None, "filter {filter:?}");
        if want.len() == 4 {
            // KCL rejects results that do not tile 0..2^128-1 exactly.
            let mut prev_end: Option<u128> = None;
            for s in out.shards() {
                let (a, b) = hash_range(s);
                match prev_end {
                    None => assert_eq!(a, 0),
                    Some(p) => assert_eq!(a, p + 1),
                }
                prev_end = Some(b);
            }
            assert_eq!(prev_end, Some(u128::MAX));
        }
    }
}

#[tokio::test]
async fn stream_name_and_stream_arn_address_the_same_stream() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("arn");
    create_active(&client, &name, 2).await;
    let arn = stream_arn(&name);

    let by_name = describe(&client, &name).await;
    let by_arn = ok(client.describe_stream().stream_arn(&arn).send().await).stream_description.unwrap();
    let by_both =
        ok(client.describe_stream().stream_name(&name).stream_arn(&arn).send().await).stream_description.unwrap();
    assert_eq!(by_arn, by_name);
    assert_eq!(by_both, by_name);

    // Write by ARN, read by name, and the other way round.
    let p1 = ok(client.put_record().stream_arn(&arn).partition_key("a").data(Blob::new("via-arn")).send().await);
    let p2 = ok(client.put_record().stream_name(&name).partition_key("a").data(Blob::new("via-name")).send().await);
    assert_eq!(p1.shard_id(), shard_id(0));
    assert_eq!(p2.shard_id(), shard_id(0));
    let it = ok(client
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(shard_id(0))
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await)
    .shard_iterator
    .unwrap();
    let (recs, _) = drain(&client, it, 2).await;
    let got: Vec<(&str, &[u8])> = recs.iter().map(|r| (r.sequence_number(), r.data().as_ref())).collect();
    assert_eq!(got, [(p1.sequence_number(), &b"via-arn"[..]), (p2.sequence_number(), &b"via-name"[..])]);

    let pr = ok(client
        .put_records()
        .stream_arn(&arn)
        .records(
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .partition_key("a")
                .data(Blob::new("batch"))
                .build()
                .unwrap(),
        )
        .send()
        .await);
    assert_eq!(pr.failed_record_count(), Some(0));

    // Unknown stream by ARN: not found, named by the ARN's stream name.
    let ghost = unique_name("ghost");
    let e = api_err(client.describe_stream_summary().stream_arn(stream_arn(&ghost)).send().await);
    e.assert("ResourceNotFoundException", &not_found_msg(&ghost));
    let e = api_err(
        client.put_record().stream_arn(stream_arn(&ghost)).partition_key("a").data(Blob::new("x")).send().await,
    );
    e.assert("ResourceNotFoundException", &not_found_msg(&ghost));

    // Malformed ARN: fails model validation (pattern arn:aws.*:kinesis:.*:\d{12}:stream/\S+).
    let e = api_err(client.describe_stream_summary().stream_arn("not-an-arn").send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value 'not-an-arn' at 'streamARN' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
    );
}

#[tokio::test]
async fn tags_given_at_creation_survive_and_are_per_stream() {
    let server = Server::start();
    let client = server.client();
    let a = unique_name("ta");
    let b = unique_name("tb");
    ok(client.create_stream().stream_name(&a).shard_count(1).tags("k", "a").send().await);
    ok(client.create_stream().stream_name(&b).shard_count(1).tags("k", "b").tags("only-b", "1").send().await);
    wait_active(&client, &a).await;
    wait_active(&client, &b).await;
    let tags = |out: &aws_sdk_kinesis::operation::list_tags_for_stream::ListTagsForStreamOutput| {
        out.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let ta = tags(&ok(client.list_tags_for_stream().stream_name(&a).send().await));
    let tb = tags(&ok(client.list_tags_for_stream().stream_name(&b).send().await));
    assert_eq!(ta, BTreeMap::from([("k".to_string(), "a".to_string())]));
    assert_eq!(tb, BTreeMap::from([("k".to_string(), "b".to_string()), ("only-b".to_string(), "1".to_string())]));
}

#[tokio::test]
async fn deleting_a_creating_stream_is_allowed() {
    // docs/aws-behaviour.md §3 (kinesalite test run against AWS).
    let server = Server::start_with(ServerOpts { create_stream_ms: 500, delete_stream_ms: 300, ..Default::default() });
    let client = server.client();
    let name = unique_name("delcreating");
    ok(client.create_stream().stream_name(&name).shard_count(2).send().await);
    assert_eq!(summary(&client, &name).await.stream_status, StreamStatus::Creating);
    ok(client.delete_stream().stream_name(&name).send().await);
    let d = describe(&client, &name).await;
    assert_eq!(d.stream_status, StreamStatus::Deleting);
    assert!(d.shards.is_empty(), "{:?}", d.shards);
    assert!(!d.has_more_shards);
    assert_eq!(d.retention_period_hours, 24);
    assert_no_enhanced_monitoring(&d.enhanced_monitoring);
    wait_gone(&client, &name).await;
    // It never becomes ACTIVE again after the create delay has passed.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let e = api_err(client.describe_stream().stream_name(&name).send().await);
    e.assert("ResourceNotFoundException", &not_found_msg(&name));
}
