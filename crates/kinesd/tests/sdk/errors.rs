//! Error paths as the SDK sees them: modeled error variants, codes, exact messages, HTTP 400.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::common::*;

#[tokio::test]
async fn missing_stream_is_resource_not_found_for_every_operation() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("missing");
    let want = not_found_msg(&name);

    api_err(client.describe_stream().stream_name(&name).send().await).assert("ResourceNotFoundException", &want);
    api_err(client.describe_stream_summary().stream_name(&name).send().await)
        .assert("ResourceNotFoundException", &want);
    api_err(client.delete_stream().stream_name(&name).send().await).assert("ResourceNotFoundException", &want);
    api_err(client.list_shards().stream_name(&name).send().await).assert("ResourceNotFoundException", &want);
    api_err(client.list_tags_for_stream().stream_name(&name).send().await).assert("ResourceNotFoundException", &want);
    api_err(client.put_record().stream_name(&name).partition_key("a").data(Blob::new("x")).send().await)
        .assert("ResourceNotFoundException", &want);
    api_err(
        client
            .put_records()
            .stream_name(&name)
            .records(PutRecordsRequestEntry::builder().partition_key("a").data(Blob::new("x")).build().unwrap())
            .send()
            .await,
    )
    .assert("ResourceNotFoundException", &want);
    // GetShardIterator names the shard.
    api_err(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard_id(0))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    )
    .assert(
        "ResourceNotFoundException",
        &format!("Shard {} in stream {name} under account {ACCOUNT} does not exist", shard_id(0)),
    );

    // The SDK maps the modeled error to its typed variant (i.e. `__type` was parsed).
    let err = client.describe_stream_summary().stream_name(&name).send().await.unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = client.put_record().stream_name(&name).partition_key("a").data(Blob::new("x")).send().await.unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn get_records_on_deleted_stream_is_resource_not_found() {
    // docs/aws-behaviour.md §14 (kinesalite test run against AWS): iterators of a deleted stream
    // give RNF naming the shard; once the name is re-created with one shard, the old shard-1
    // iterator is still RNF and the old shard-0 iterator is an InternalFailure (AWS in 2018): an
    // iterator never reads a later incarnation of its stream.
    let server = Server::start();
    let client = server.client();
    let name = unique_name("gone");
    create_active(&client, &name, 2).await;
    let it0 = iterator(&client, &name, &shard_id(0), ShardIteratorType::Latest, None).await;
    let it1 = iterator(&client, &name, &shard_id(1), ShardIteratorType::Latest, None).await;
    ok(client.delete_stream().stream_name(&name).send().await);
    wait_gone(&client, &name).await;
    let shard_gone = |i: u32| format!("Shard {} in stream {name} under account {ACCOUNT} does not exist", shard_id(i));
    api_err(client.get_records().shard_iterator(&it0).send().await).assert("ResourceNotFoundException", &shard_gone(0));
    api_err(client.get_records().shard_iterator(&it1).send().await).assert("ResourceNotFoundException", &shard_gone(1));

    create_active(&client, &name, 1).await;
    api_err(client.get_records().shard_iterator(&it1).send().await).assert("ResourceNotFoundException", &shard_gone(1));
    let e = api_err(client.get_records().shard_iterator(&it0).send().await);
    assert_eq!((e.status, e.code.as_str()), (500, "InternalFailure"), "{e:?}");
}

#[tokio::test]
async fn create_existing_stream_is_resource_in_use() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("dup");
    create_active(&client, &name, 1).await;
    let err = client.create_stream().stream_name(&name).shard_count(1).send().await;
    let e = api_err(err);
    e.assert("ResourceInUseException", &format!("Stream {name} under account {ACCOUNT} already exists."));
    let err = client.create_stream().stream_name(&name).shard_count(1).send().await.unwrap_err();
    assert!(err.into_service_error().is_resource_in_use_exception());
    // The original stream is untouched.
    assert_eq!(summary(&client, &name).await.open_shard_count, 1);
}

#[tokio::test]
async fn stream_name_validation_messages() {
    let server = Server::start();
    let client = server.client();

    let e = api_err(client.create_stream().stream_name("bad name!").shard_count(1).send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    );
    let long = "a".repeat(129);
    let e = api_err(client.create_stream().stream_name(&long).shard_count(1).send().await);
    e.assert(
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{long}' at 'streamName' failed to satisfy constraint: \
             Member must have length less than or equal to 128"
        ),
    );
    // 128 characters is fine.
    let max = "b".repeat(128);
    ok(client.create_stream().stream_name(&max).shard_count(1).send().await);
    wait_active(&client, &max).await;

    // Same validation on a read operation.
    let e = api_err(client.describe_stream_summary().stream_name("no/slash").send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value 'no/slash' at 'streamName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    );
    let err = client.create_stream().stream_name("bad name!").shard_count(1).send().await.unwrap_err();
    assert!(err.into_service_error().is_validation_exception(), "CreateStream models ValidationException");
}

#[tokio::test]
async fn numeric_range_validation_messages() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("ranges");
    create_active(&client, &name, 1).await;
    let msg = |v: i64, member: &str, constraint: &str| {
        format!("1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: {constraint}")
    };
    const GE1: &str = "Member must have value greater than or equal to 1";
    const LE10K: &str = "Member must have value less than or equal to 10000";

    api_err(client.create_stream().stream_name(unique_name("zero")).shard_count(0).send().await)
        .assert("ValidationException", &msg(0, "shardCount", GE1));
    api_err(client.describe_stream().stream_name(&name).limit(0).send().await)
        .assert("ValidationException", &msg(0, "limit", GE1));
    api_err(client.describe_stream().stream_name(&name).limit(10001).send().await)
        .assert("ValidationException", &msg(10001, "limit", LE10K));
    api_err(client.list_shards().stream_name(&name).max_results(0).send().await)
        .assert("ValidationException", &msg(0, "maxResults", GE1));
    api_err(client.list_shards().stream_name(&name).max_results(10001).send().await)
        .assert("ValidationException", &msg(10001, "maxResults", LE10K));
    api_err(client.list_streams().limit(0).send().await).assert("ValidationException", &msg(0, "limit", GE1));
    api_err(client.list_streams().limit(10001).send().await).assert("ValidationException", &msg(10001, "limit", LE10K));
    api_err(client.list_tags_for_stream().stream_name(&name).limit(0).send().await)
        .assert("ValidationException", &msg(0, "limit", GE1));
    api_err(client.list_tags_for_stream().stream_name(&name).limit(51).send().await)
        .assert("ValidationException", &msg(51, "limit", "Member must have value less than or equal to 50"));
}

#[tokio::test]
async fn partition_key_validation_messages() {
    let server = Server::start();
    let client = server.client();
    let name = unique_name("pk");
    create_active(&client, &name, 1).await;

    let e = api_err(client.put_record().stream_name(&name).partition_key("").data(Blob::new("x")).send().await);
    e.assert(
        "ValidationException",
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: \
         Member must have length greater than or equal to 1",
    );
    let long = "k".repeat(257);
    let e = api_err(client.put_record().stream_name(&name).partition_key(&long).data(Blob::new("x")).send().await);
    e.assert(
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{long}' at 'partitionKey' failed to satisfy constraint: \
             Member must have length less than or equal to 256"
        ),
    );
    // 256 characters is fine.
    ok(client.put_record().stream_name(&name).partition_key("k".repeat(256)).data(Blob::new("x")).send().await);
}

#[tokio::test]
async fn missing_stream_identifier_is_rejected() {
    let server = Server::start();
    let client = server.client();
    // Neither StreamName nor StreamARN: the reference does not pin the exact text.
    let e = api_err(client.describe_stream_summary().send().await);
    eprintln!("DescribeStreamSummary without a stream -> {e:?}");
    assert!(
        e.code == "ValidationException" || e.code == "InvalidArgumentException",
        "DescribeStreamSummary without a stream: {e:?}"
    );
    assert_eq!(e.status, 400);
    assert!(!e.msg().is_empty(), "error without message: {e:?}");
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    // Reference 4.3: every response has `x-amzn-RequestId` (a UUID); the SDK surfaces it for both
    // successes and service errors.
    use aws_sdk_kinesis::operation::RequestId;
    let server = Server::start();
    let client = server.client();
    let uuid = regex::Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").unwrap();

    let out = ok(client.list_streams().send().await);
    let id = out.request_id().expect("x-amzn-RequestId on success");
    assert!(uuid.is_match(&id.to_ascii_lowercase()), "request id {id:?}");

    let err = client.describe_stream_summary().stream_name("nope").send().await.unwrap_err();
    let id = err.request_id().expect("x-amzn-RequestId on error").to_string();
    assert!(uuid.is_match(&id.to_ascii_lowercase()), "request id {id:?}");
    let out2 = ok(client.list_streams().send().await);
    assert_ne!(out2.request_id(), out.request_id(), "request ids are unique");
}
