//! Data plane: PutRecord, PutRecords, GetShardIterator (all five types), GetRecords, hash
//! routing, ExplicitHashKey, record-size limits and iterator expiry.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::common::*;

fn entry(pk: &str, data: impl Into<Vec<u8>>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder().partition_key(pk).data(Blob::new(data.into())).build().unwrap()
}

fn entry_ehk(pk: &str, ehk: &str, data: impl Into<Vec<u8>>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(pk)
        .explicit_hash_key(ehk)
        .data(Blob::new(data.into()))
        .build()
        .unwrap()
}

async fn put(client: &Client, name: &str, pk: &str, data: impl Into<Vec<u8>>) -> (String, String) {
    let out = ok(client.put_record().stream_name(name).partition_key(pk).data(Blob::new(data.into())).send().await);
    (out.shard_id().to_string(), out.sequence_number().to_string())
}

#[tokio::test]
async fn put_record_then_get_records_round_trips() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("rt");
    let s = create_active(&client, &name, 1).await;
    assert_eq!(s.open_shard_count, 1);
    let shards = list_all_shards(&client, &name).await;
    let start_seq = shards[0].sequence_number_range().unwrap().starting_sequence_number().to_string();

    let binary: Vec<u8> = (0..=255u8).collect();
    let t0 = now_secs_f64();
    let p1 =
        ok(client.put_record().stream_name(&name).partition_key("pk").data(Blob::new(binary.clone())).send().await);
    let p2 = ok(client.put_record().stream_name(&name).partition_key("pk-é✓").data(Blob::new(Vec::new())).send().await);
    let t1 = now_secs_f64();
    assert_eq!(p1.shard_id(), shard_id(0));
    assert_eq!(p2.shard_id(), shard_id(0));
    assert_strictly_increasing([p1.sequence_number(), p2.sequence_number()], "put order");
    // The shard's StartingSequenceNumber is the inclusive start of its range.
    assert_ne!(
        seq_cmp(&start_seq, p1.sequence_number()),
        std::cmp::Ordering::Greater,
        "first record below shard start"
    );

    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let page = ok(client.get_records().shard_iterator(&it).send().await);
    let recs = page.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].sequence_number(), p1.sequence_number());
    assert_eq!(recs[0].partition_key(), Some("pk"));
    assert_eq!(recs[0].data().as_ref(), &binary[..]);
    assert_eq!(recs[1].sequence_number(), p2.sequence_number());
    assert_eq!(recs[1].partition_key(), Some("pk-é✓"));
    assert!(recs[1].data().as_ref().is_empty(), "empty data is a valid record");
    for r in recs {
        let ts = r.approximate_arrival_timestamp().expect("ApproximateArrivalTimestamp").as_secs_f64();
        assert!(ts >= t0 - 1.0 && ts <= t1 + 1.0, "arrival {ts} not within [{t0}, {t1}]");
    }
    assert_eq!(page.millis_behind_latest(), Some(0), "caught up with the tip");
    let next = page.next_shard_iterator().expect("NextShardIterator").to_string();
    assert_ne!(next, it);
    assert!(page.child_shards().is_empty());

    // Nothing more: empty page, still an iterator, still caught up.
    let page = ok(client.get_records().shard_iterator(&next).send().await);
    assert!(page.records().is_empty());
    assert_eq!(page.millis_behind_latest(), Some(0));
    assert!(page.next_shard_iterator().is_some());
}

#[tokio::test]
async fn put_records_results_follow_request_order() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("batch");
    create_active(&client, &name, 4).await;
    let shards = list_all_shards(&client, &name).await;

    let entries: Vec<PutRecordsRequestEntry> =
        (0..100).map(|i| entry(&format!("key-{i}"), format!("payload-{i}"))).collect();
    let out = ok(client.put_records().stream_name(&name).set_records(Some(entries)).send().await);
    assert_eq!(out.failed_record_count(), Some(0), "FailedRecordCount is 0 on full success");
    let res = out.records();
    assert_eq!(res.len(), 100);
    let mut by_seq: HashMap<(String, String), usize> = HashMap::new();
    for (i, r) in res.iter().enumerate() {
        assert_eq!(r.error_code(), None, "entry {i}");
        assert_eq!(r.error_message(), None, "entry {i}");
        let want_shard = shard_for_hash(&shards, md5_hash_key(&format!("key-{i}")));
        assert_eq!(r.shard_id(), Some(want_shard.as_str()), "entry {i} routed by MD5(partition key)");
        let seq = r.sequence_number().expect("SequenceNumber");
        assert_seq_format(seq);
        assert!(by_seq.insert((want_shard, seq.to_string()), i).is_none(), "duplicate sequence number {seq}");
    }

    // Result i really describes request record i: read everything back and match.
    let mut seen = 0;
    for s in &shards {
        let n = res.iter().filter(|r| r.shard_id() == Some(s.shard_id())).count();
        let it = iterator(&client, &name, s.shard_id(), ShardIteratorType::TrimHorizon, None).await;
        let (recs, _) = drain(&client, it, n).await;
        assert_strictly_increasing(recs.iter().map(|r| r.sequence_number()), s.shard_id());
        for r in &recs {
            let i = by_seq[&(s.shard_id().to_string(), r.sequence_number().to_string())];
            assert_eq!(r.partition_key(), Some(format!("key-{i}").as_str()));
            assert_eq!(r.data().as_ref(), format!("payload-{i}").as_bytes());
        }
        seen += recs.len();
    }
    assert_eq!(seen, 100);
}

#[tokio::test]
async fn put_records_count_and_size_limits() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("limits");
    create_active(&client, &name, 10).await;
    let shards = list_all_shards(&client, &name).await;

    // 500 records is the maximum and succeeds.
    let five_hundred: Vec<_> = (0..500).map(|i| entry(&format!("k{i}"), vec![b'x'; 10])).collect();
    let out = ok(client.put_records().stream_name(&name).set_records(Some(five_hundred)).send().await);
    assert_eq!(out.failed_record_count(), Some(0));
    assert_eq!(out.records().len(), 500);

    // 501 records fail model validation on `records`.
    let too_many: Vec<_> = (0..501).map(|i| entry(&format!("k{i}"), vec![b'x'; 1])).collect();
    let e = api_err(client.put_records().stream_name(&name).set_records(Some(too_many)).send().await);
    assert_eq!(e.code, "ValidationException", "{e:?}");
    assert_eq!(e.status, 400);
    assert!(e.msg().starts_with("1 validation error detected: Value '"), "{}", e.msg());
    assert!(
        e.msg().ends_with(
            "' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"
        ),
        "{}",
        e.msg()
    );

    // Zero records.
    let e = api_err(client.put_records().stream_name(&name).set_records(Some(vec![])).send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: \
         Member must have length greater than or equal to 1",
    );

    // Partition key length is validated per entry (1-based member index).
    let long_pk = "p".repeat(257);
    let e = api_err(
        client.put_records().stream_name(&name).records(entry("ok", "a")).records(entry(&long_pk, "b")).send().await,
    );
    e.assert(
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{long_pk}' at 'records.2.member.partitionKey' failed to satisfy \
             constraint: Member must have length less than or equal to 256"
        ),
    );
    let e = api_err(client.put_records().stream_name(&name).records(entry("", "a")).send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: \
         Member must have length greater than or equal to 1",
    );

    // Whole request up to 10 MiB is fine; above it is rejected as a whole.
    let mb = vec![7u8; 1_000_000];
    // One record per shard, so no shard sees more than 1 MB.
    let ten: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(i, s)| entry_ehk(&format!("big{i}"), s.hash_key_range().unwrap().starting_hash_key(), mb.clone()))
        .collect();
    let out = ok(client.put_records().stream_name(&name).set_records(Some(ten)).send().await);
    assert_eq!(out.failed_record_count(), Some(0));
    let eleven: Vec<_> = (0..11).map(|i| entry(&format!("big{i}"), mb.clone())).collect();
    let e = api_err(client.put_records().stream_name(&name).set_records(Some(eleven)).send().await);
    // The reference does not pin the exact type/message for the aggregate limit.
    eprintln!("PutRecords over 10 MiB -> {e:?}");
    assert!(e.code == "InvalidArgumentException" || e.code == "ValidationException", "PutRecords over 10 MiB: {e:?}");
    assert_eq!(e.status, 400);
}

#[tokio::test]
async fn record_size_limit_counts_data_plus_partition_key() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("size");
    create_active(&client, &name, 1).await;
    const MIB: usize = 1024 * 1024;

    // Exactly 1 MiB including the 1-byte partition key: accepted.
    ok(client.put_record().stream_name(&name).partition_key("a").data(Blob::new(vec![1u8; MIB - 1])).send().await);
    // One byte more: rejected (stream default MaxRecordSizeInKiB = 1024).
    let e =
        api_err(client.put_record().stream_name(&name).partition_key("a").data(Blob::new(vec![1u8; MIB])).send().await);
    eprintln!("PutRecord over MaxRecordSizeInKiB -> {e:?}");
    assert!(
        e.code == "InvalidArgumentException" || e.code == "ValidationException",
        "record over MaxRecordSizeInKiB: {e:?}"
    );
    assert_eq!(e.status, 400);
    // Only the accepted record is in the shard.
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let (recs, _) = drain(&client, it, 1).await;
    assert_eq!(recs[0].data().as_ref().len(), MIB - 1);
}

#[tokio::test]
async fn partition_keys_route_by_md5_big_endian() {
    let server = Server::start();
    let client = server.client();
    let three = unique_name("route3");
    let four = unique_name("route4");
    create_active(&client, &three, 3).await;
    create_active(&client, &four, 4).await;

    // Reference examples (6.4).
    assert_eq!(put(&client, &three, "pk-1", "x").await.0, shard_id(2));
    assert_eq!(put(&client, &three, "a", "x").await.0, shard_id(0));

    for (name, n) in [(&three, 3usize), (&four, 4)] {
        let shards = list_all_shards(&client, name).await;
        assert_eq!(shards.len(), n);
        let mut hit = vec![0usize; n];
        for i in 0..120 {
            let pk = format!("user-{i}");
            let want = shard_for_hash(&shards, md5_hash_key(&pk));
            let (got, _) = put(&client, name, &pk, "v").await;
            assert_eq!(got, want, "partition key {pk}");
            hit[shards.iter().position(|s| s.shard_id() == got).unwrap()] += 1;
        }
        assert!(hit.iter().all(|&h| h > 0), "every shard should receive some of 120 keys: {hit:?}");
    }
}

#[tokio::test]
async fn explicit_hash_key_overrides_partition_key() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("ehk");
    create_active(&client, &name, 4).await;
    let shards = list_all_shards(&client, &name).await;
    // "a" hashes into shard 0; every explicit key below must win over it.
    assert_eq!(shard_for_hash(&shards, md5_hash_key("a")), shard_id(0));

    for (i, s) in shards.iter().enumerate() {
        let r = s.hash_key_range().unwrap();
        for key in [r.starting_hash_key(), r.ending_hash_key()] {
            let out = ok(client
                .put_record()
                .stream_name(&name)
                .partition_key("a")
                .explicit_hash_key(key)
                .data(Blob::new("x"))
                .send()
                .await);
            assert_eq!(out.shard_id(), shard_id(i as u32), "ExplicitHashKey {key}");
        }
    }
    let out = ok(client
        .put_record()
        .stream_name(&name)
        .partition_key("a")
        .explicit_hash_key("0")
        .data(Blob::new("x"))
        .send()
        .await);
    assert_eq!(out.shard_id(), shard_id(0));
    let out = ok(client
        .put_record()
        .stream_name(&name)
        .partition_key("a")
        .explicit_hash_key(MAX_HASH_KEY)
        .data(Blob::new("x"))
        .send()
        .await);
    assert_eq!(out.shard_id(), shard_id(3));

    // PutRecords honours ExplicitHashKey per entry.
    let out = ok(client
        .put_records()
        .stream_name(&name)
        .records(entry_ehk("a", MAX_HASH_KEY, "1"))
        .records(entry("a", "2"))
        .records(entry_ehk("a", "170141183460469231731687303715884105728", "3"))
        .send()
        .await);
    let got: Vec<Option<&str>> = out.records().iter().map(|r| r.shard_id()).collect();
    assert_eq!(got, [Some(shard_id(3).as_str()), Some(shard_id(0).as_str()), Some(shard_id(2).as_str())]);

    // 2^128 passes the model pattern but is out of range.
    let e = api_err(
        client
            .put_record()
            .stream_name(&name)
            .partition_key("a")
            .explicit_hash_key(TWO_POW_128)
            .data(Blob::new("x"))
            .send()
            .await,
    );
    e.assert(
        "InvalidArgumentException",
        &format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {TWO_POW_128}"
        ),
    );
    let e = api_err(
        client
            .put_records()
            .stream_name(&name)
            .records(entry("a", "1"))
            .records(entry_ehk("a", TWO_POW_128, "2"))
            .send()
            .await,
    );
    e.assert(
        "InvalidArgumentException",
        &format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {TWO_POW_128}"
        ),
    );
    // Not a decimal: model pattern.
    let e = api_err(
        client
            .put_record()
            .stream_name(&name)
            .partition_key("a")
            .explicit_hash_key("abc")
            .data(Blob::new("x"))
            .send()
            .await,
    );
    e.assert(
        "ValidationException",
        "1 validation error detected: Value 'abc' at 'explicitHashKey' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
    );
}

#[tokio::test]
async fn shard_iterator_types_position_correctly() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("iters");
    create_active(&client, &name, 1).await;
    let sh = shard_id(0);
    let before_any = now_secs_f64();

    let mut seqs = Vec::new();
    for i in 0..2 {
        seqs.push(put(&client, &name, "k", format!("r{i}")).await.1);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 2..5 {
        seqs.push(put(&client, &name, "k", format!("r{i}")).await.1);
    }
    let data_of = |recs: &[aws_sdk_kinesis::types::Record]| {
        recs.iter().map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()).collect::<Vec<_>>()
    };

    // TRIM_HORIZON: everything.
    let it = iterator(&client, &name, &sh, ShardIteratorType::TrimHorizon, None).await;
    let (all, _) = drain(&client, it, 5).await;
    assert_eq!(data_of(&all), ["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(all.iter().map(|r| r.sequence_number().to_string()).collect::<Vec<_>>(), seqs);

    // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER.
    let it = iterator(&client, &name, &sh, ShardIteratorType::AtSequenceNumber, Some(&seqs[2])).await;
    assert_eq!(data_of(&drain(&client, it, 3).await.0), ["r2", "r3", "r4"]);
    let it = iterator(&client, &name, &sh, ShardIteratorType::AfterSequenceNumber, Some(&seqs[2])).await;
    assert_eq!(data_of(&drain(&client, it, 2).await.0), ["r3", "r4"]);
    let it = iterator(&client, &name, &sh, ShardIteratorType::AfterSequenceNumber, Some(&seqs[4])).await;
    assert!(drain(&client, it, 0).await.0.is_empty());

    // AT_TIMESTAMP: first record with arrival >= T (r2 arrived >= 100 ms after r1).
    let t2 = all[2].approximate_arrival_timestamp().unwrap().as_secs_f64();
    let it = ok(client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(&sh)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs_f64(t2))
        .send()
        .await)
    .shard_iterator
    .unwrap();
    assert_eq!(data_of(&drain(&client, it, 3).await.0), ["r2", "r3", "r4"]);
    // A timestamp before the first record (and before the stream) starts at the trim horizon.
    let it = ok(client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(&sh)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs_f64(before_any - 3600.0))
        .send()
        .await)
    .shard_iterator
    .unwrap();
    assert_eq!(data_of(&drain(&client, it, 5).await.0), ["r0", "r1", "r2", "r3", "r4"]);
    // A timestamp after the last record (but not in the future): nothing yet, sees later writes.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let at_now = ok(client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(&sh)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs_f64(now_secs_f64() - 0.01))
        .send()
        .await)
    .shard_iterator
    .unwrap();
    let page = ok(client.get_records().shard_iterator(&at_now).send().await);
    assert!(page.records().is_empty(), "AT_TIMESTAMP after the last record returned {:?}", page.records());

    // LATEST: only records written after the iterator was taken.
    let latest = iterator(&client, &name, &sh, ShardIteratorType::Latest, None).await;
    let page = ok(client.get_records().shard_iterator(&latest).send().await);
    assert!(page.records().is_empty(), "LATEST must not return existing records");
    let latest_next = page.next_shard_iterator().unwrap().to_string();
    let (_, s5) = put(&client, &name, "k", "r5").await;
    assert_eq!(data_of(&drain(&client, latest_next, 1).await.0), ["r5"]);
    // The original LATEST iterator is a fixed position: it also sees r5.
    let (recs, _) = drain(&client, latest, 1).await;
    assert_eq!(recs[0].sequence_number(), s5);
    assert_eq!(data_of(&drain(&client, at_now, 1).await.0), ["r5"]);
}

#[tokio::test]
async fn get_shard_iterator_argument_errors() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("gsierr");
    create_active(&client, &name, 2).await;
    let (_, seq0) = put(&client, &name, "a", "x").await; // "a" -> shard 0 of 2
    let (s1, seq1) = {
        let out = ok(client
            .put_record()
            .stream_name(&name)
            .partition_key("a")
            .explicit_hash_key(MAX_HASH_KEY)
            .data(Blob::new("y"))
            .send()
            .await);
        (out.shard_id().to_string(), out.sequence_number().to_string())
    };
    assert_eq!(s1, shard_id(1));
    let gsi = || client.get_shard_iterator().stream_name(&name).shard_id(shard_id(0));

    let e =
        api_err(gsi().shard_iterator_type(ShardIteratorType::TrimHorizon).starting_sequence_number(&seq0).send().await);
    e.assert(
        "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
         (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified TRIM_HORIZON and also a \
         StartingSequenceNumber.",
    );
    let e = api_err(gsi().shard_iterator_type(ShardIteratorType::AtSequenceNumber).send().await);
    e.assert(
        "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
         (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no \
         StartingSequenceNumber.",
    );
    let e = api_err(gsi().shard_iterator_type(ShardIteratorType::AtTimestamp).send().await);
    e.assert(
        "InvalidArgumentException",
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no \
         timestamp parameter.",
    );
    let future_ms: i64 = (now_secs_f64() * 1000.0) as i64 + 3_600_000;
    let e = api_err(
        gsi()
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .timestamp(DateTime::from_millis(future_ms))
            .send()
            .await,
    );
    assert_eq!(e.code, "InvalidArgumentException", "{e:?}");
    let prefix = format!(
        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {future_ms}, currentTimestampInMillis: "
    );
    let rest = e.msg().strip_prefix(&prefix).unwrap_or_else(|| panic!("message {:?} lacks prefix {prefix:?}", e.msg()));
    let current: i64 = rest.parse().unwrap_or_else(|_| panic!("currentTimestampInMillis not an integer: {rest:?}"));
    assert!((current - (future_ms - 3_600_000)).abs() < 10_000, "currentTimestampInMillis {current} is not now");

    // A sequence number of shard 1 used on shard 0.
    let e = api_err(
        gsi().shard_iterator_type(ShardIteratorType::AtSequenceNumber).starting_sequence_number(&seq1).send().await,
    );
    e.assert(
        "InvalidArgumentException",
        &format!(
            "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
            shard_id(1),
            shard_id(0)
        ),
    );

    // Unknown shard.
    let e = api_err(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard_id(7))
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await,
    );
    e.assert(
        "ResourceNotFoundException",
        &format!("Shard {} in stream {name} under account {ACCOUNT} does not exist", shard_id(7)),
    );
    // Malformed sequence number: model pattern.
    let e = api_err(
        gsi().shard_iterator_type(ShardIteratorType::AtSequenceNumber).starting_sequence_number("12x").send().await,
    );
    e.assert(
        "ValidationException",
        "1 validation error detected: Value '12x' at 'startingSequenceNumber' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
    );
}

#[tokio::test]
async fn get_records_limit_paging_and_iterator_behaviour() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("paging");
    create_active(&client, &name, 1).await;
    let mut seqs = Vec::new();
    for i in 0..10 {
        seqs.push(put(&client, &name, "k", format!("m{i}")).await.1);
    }
    assert_strictly_increasing(seqs.iter().map(String::as_str), "sequence numbers");

    let first = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let mut it = first.clone();
    let mut seen_iterators = vec![it.clone()];
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    for _ in 0..5 {
        let page = ok(client.get_records().shard_iterator(&it).limit(3).send().await);
        sizes.push(page.records().len());
        got.extend(page.records().iter().map(|r| r.sequence_number().to_string()));
        it = page.next_shard_iterator().expect("NextShardIterator").to_string();
        if !page.records().is_empty() {
            // The position moved, so the iterator must differ from every earlier one. (That it
            // also changes on empty pages is checked by get_records_returns_a_new_iterator_every_call.)
            assert!(!seen_iterators.contains(&it), "NextShardIterator must change after records were returned");
        }
        seen_iterators.push(it.clone());
        if page.records().is_empty() {
            assert_eq!(page.millis_behind_latest(), Some(0));
        }
    }
    assert_eq!(sizes, [3, 3, 3, 1, 0]);
    assert_eq!(got, seqs);

    // Iterators are positions: re-using one returns the same records again.
    let again = ok(client.get_records().shard_iterator(&first).limit(3).send().await);
    let again: Vec<&str> = again.records().iter().map(|r| r.sequence_number()).collect();
    assert_eq!(again, &seqs[..3]);
    // AWS tolerates an iterator wrapped in literal double quotes.
    let quoted = format!("\"{first}\"");
    let page = ok(client.get_records().shard_iterator(&quoted).limit(2).send().await);
    let q: Vec<&str> = page.records().iter().map(|r| r.sequence_number()).collect();
    assert_eq!(q, &seqs[..2]);

    // Limit bounds and bad iterators.
    let e = api_err(client.get_records().shard_iterator(&first).limit(0).send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
         Member must have value greater than or equal to 1",
    );
    let e = api_err(client.get_records().shard_iterator(&first).limit(10001).send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 10000",
    );
    let e = api_err(client.get_records().shard_iterator("not-an-iterator").send().await);
    e.assert("InvalidArgumentException", "Invalid ShardIterator.");
    let long = "A".repeat(513);
    let e = api_err(client.get_records().shard_iterator(&long).send().await);
    e.assert(
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{long}' at 'shardIterator' failed to satisfy constraint: \
             Member must have length less than or equal to 512"
        ),
    );
    assert!(first.len() <= 512, "iterators are at most 512 chars");
}

#[tokio::test]
async fn millis_behind_latest_reflects_lag() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("lag");
    create_active(&client, &name, 1).await;
    put(&client, &name, "k", "old").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    put(&client, &name, "k", "new").await;

    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let page = ok(client.get_records().shard_iterator(&it).limit(1).send().await);
    assert_eq!(page.records().len(), 1);
    let behind = page.millis_behind_latest().expect("MillisBehindLatest");
    assert!(behind >= 250, "one record read, the next is ~300 ms newer: MillisBehindLatest {behind}");
    assert!(behind < 60_000, "MillisBehindLatest {behind} is implausible");
    let page = ok(client.get_records().shard_iterator(page.next_shard_iterator().unwrap()).send().await);
    assert_eq!(page.records().len(), 1);
    assert_eq!(page.millis_behind_latest(), Some(0), "caught up");
}

#[tokio::test]
async fn iterators_expire_after_ttl() {
    let server = Server::start_with(ServerOpts { iterator_ttl_seconds: Some(1), ..Default::default() });
    let client = server.client();
    let name = unique_name("ttl");
    create_active(&client, &name, 1).await;
    put(&client, &name, "k", "v").await;

    let stale = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    // NextShardIterator is a fresh iterator with its own creation time.
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let page = ok(client.get_records().shard_iterator(&it).send().await);
    assert_eq!(page.records().len(), 1);
    let next = page.next_shard_iterator().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    // 1.2 s after `it` was issued, but only 0.6 s after `next` was.
    let page = ok(client.get_records().shard_iterator(&next).send().await);
    assert!(page.records().is_empty());

    let e = api_err(client.get_records().shard_iterator(&stale).send().await);
    assert_eq!(e.code, "ExpiredIteratorException", "{e:?}");
    assert_eq!(e.status, 400);
    let re = regex::Regex::new(
        r"^Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} while right now it is \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} which is further in the future than the tolerated delay of 1000 milliseconds\.$",
    )
    .unwrap();
    assert!(re.is_match(e.msg()), "ExpiredIteratorException message: {:?}", e.msg());

    // A new iterator works again.
    let it = iterator(&client, &name, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    assert_eq!(drain(&client, it, 1).await.0.len(), 1);
}

#[tokio::test]
async fn get_records_returns_a_new_iterator_every_call() {
    // Reference 6.2 (AWS-validated): NextShardIterator changes on every call, even when no
    // records are returned. Calls here are back to back, often within the same millisecond.
    let server = Server::start();
    let client = server.client();
    let name = unique_name("newiter");
    create_active(&client, &name, 1).await;
    let mut it = iterator(&client, &name, &shard_id(0), ShardIteratorType::Latest, None).await;
    let mut seen = vec![it.clone()];
    for i in 0..20 {
        let page = ok(client.get_records().shard_iterator(&it).send().await);
        assert!(page.records().is_empty());
        it = page.next_shard_iterator().expect("NextShardIterator").to_string();
        assert!(!seen.contains(&it), "call {i}: NextShardIterator repeats an earlier iterator: {it}");
        seen.push(it.clone());
    }
}

#[tokio::test]
async fn shard_ids_are_normalised_like_aws() {
    // docs/aws-behaviour.md §0.5 (AWS-validated): `^(.*-)?\d+$` up to 2147483647 is accepted and
    // normalised to shardId-%012d; unparsable ids are echoed raw.
    let server = Server::start();
    let client = server.client();
    let name = unique_name("norm");
    create_active(&client, &name, 2).await;
    let (_, seq) = put(&client, &name, "a", "x").await; // shard 0
    for raw in ["0", "shard-0", "shardId-0", "shardId-000000000000", "anything-00"] {
        let it = ok(client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(raw)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await)
        .shard_iterator
        .unwrap();
        let (recs, _) = drain(&client, it, 1).await;
        assert_eq!(recs[0].sequence_number(), seq, "shard id {raw}");
    }
    let gsi = |raw: &str| {
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(raw)
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
    };
    api_err(gsi("shardId-5").await).assert(
        "ResourceNotFoundException",
        &format!("Shard shardId-000000000005 in stream {name} under account {ACCOUNT} does not exist"),
    );
    api_err(gsi("2147483647").await).assert(
        "ResourceNotFoundException",
        &format!("Shard shardId-002147483647 in stream {name} under account {ACCOUNT} does not exist"),
    );
    for raw in ["ABKLFD8", "2147483648", "shardId-002147483648"] {
        api_err(gsi(raw).await).assert(
            "ResourceNotFoundException",
            &format!("Could not find shard {raw} in stream {name} under account {ACCOUNT}."),
        );
    }
}
