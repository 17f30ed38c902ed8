//! Enhanced fan-out through the Rust SDK: consumers and `subscribe_to_shard`'s event stream,
//! decoded by the SDK's own event-stream reader (aws-smithy-eventstream).

use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEvent, SubscribeToShardEventStream,
};

use crate::common::{Server, ServerOpts, api_err, create_active, shard_id, stream_arn};

fn server() -> Server {
    Server::start_with(ServerOpts {
        extra_args: ["--consumer-create-ms", "100", "--consumer-delete-ms", "100"].map(String::from).to_vec(),
        ..ServerOpts::default()
    })
}

async fn active_consumer(client: &Client, stream: &str, name: &str) -> String {
    let registered = client.register_stream_consumer().stream_arn(stream_arn(stream)).consumer_name(name).send().await;
    let consumer = registered.unwrap().consumer.unwrap();
    assert_eq!(consumer.consumer_status, ConsumerStatus::Creating);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = client.describe_stream_consumer().consumer_arn(&consumer.consumer_arn).send().await.unwrap();
        if d.consumer_description.unwrap().consumer_status == ConsumerStatus::Active {
            return consumer.consumer_arn;
        }
        assert!(Instant::now() < deadline, "consumer not ACTIVE");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn put(client: &Client, stream: &str, data: &str) -> String {
    let out = client.put_record().stream_name(stream).partition_key("pk").data(Blob::new(data.as_bytes().to_vec()));
    out.send().await.unwrap().sequence_number
}

async fn next_event(
    events: &mut aws_sdk_kinesis::primitives::event_stream::EventReceiver<
        SubscribeToShardEventStream,
        aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError,
    >,
) -> Option<SubscribeToShardEvent> {
    let received = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.expect("an event within 10 s");
    match received.expect("a well-formed event") {
        Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)) => Some(event),
        Some(other) => panic!("unexpected event {other:?}"),
        None => None,
    }
}

/// A SubscribeToShard of `arn` to shard `shard` from LATEST, ready to send.
fn subscribe_latest(
    client: &Client,
    arn: &str,
    shard: u32,
) -> aws_sdk_kinesis::operation::subscribe_to_shard::builders::SubscribeToShardFluentBuilder {
    let latest = StartingPosition::builder().r#type(ShardIteratorType::Latest).build().unwrap();
    client.subscribe_to_shard().consumer_arn(arn).shard_id(shard_id(shard)).starting_position(latest)
}

#[tokio::test]
async fn records_are_pushed_and_resumption_is_exact() {
    let srv = server();
    let client = srv.client();
    create_active(&client, "fan", 1).await;
    let arn = active_consumer(&client, "fan", "rust").await;
    let first = put(&client, "fan", "one").await;
    let position = StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon).build().unwrap();
    let out = client.subscribe_to_shard().consumer_arn(&arn).shard_id(shard_id(0)).starting_position(position);
    let mut events = out.send().await.unwrap().event_stream;
    let e1 = next_event(&mut events).await.unwrap();
    let seqs: Vec<_> = e1.records.iter().map(|r| r.sequence_number.clone()).collect();
    assert_eq!(seqs, std::slice::from_ref(&first));
    assert_eq!(e1.records[0].data.as_ref(), b"one");
    assert_eq!(e1.continuation_sequence_number, first);

    let t0 = Instant::now();
    let second = put(&client, "fan", "two").await;
    let e2 = next_event(&mut events).await.unwrap();
    assert!(t0.elapsed() < Duration::from_millis(500), "pushed, not polled: {:?}", t0.elapsed());
    assert_eq!(e2.records.iter().map(|r| r.sequence_number.as_str()).collect::<Vec<_>>(), [second.as_str()]);
    drop(events);

    // A second consumer resumes after the first one's continuation.
    let other = active_consumer(&client, "fan", "rust-2").await;
    let third = put(&client, "fan", "three").await;
    let position = StartingPosition::builder()
        .r#type(ShardIteratorType::AfterSequenceNumber)
        .sequence_number(e2.continuation_sequence_number)
        .build()
        .unwrap();
    let out = client.subscribe_to_shard().consumer_arn(&other).shard_id(shard_id(0)).starting_position(position);
    let mut events = out.send().await.unwrap().event_stream;
    let e3 = next_event(&mut events).await.unwrap();
    assert_eq!(e3.records.iter().map(|r| r.sequence_number.as_str()).collect::<Vec<_>>(), [third.as_str()]);
}

#[tokio::test]
async fn errors_before_the_stream_and_the_in_use_rule() {
    let srv = server();
    let client = srv.client();
    create_active(&client, "busy", 2).await;
    let arn = active_consumer(&client, "busy", "c").await;
    let sub = |shard: u32| subscribe_latest(&client, &arn, shard);
    let live = sub(0).send().await.unwrap();
    // In cluster mode the second call goes to the other node, which heard of the first
    // node's subscription before the first call was answered (engine/fanout/gossip.rs).
    let err = api_err(sub(0).send().await);
    assert_eq!(err.code, "ResourceInUseException");
    // The other shard is another subscription.
    let _other = sub(1).send().await.unwrap();
    let err = api_err(sub(9).send().await);
    err.assert(
        "ResourceNotFoundException",
        "Shard shardId-000000000009 in stream busy under account 000000000000 does not exist",
    );
    drop(live);
    // Dropping the stream frees the subscription within a second.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    sub(0).send().await.unwrap();

    // DeleteStream refuses while consumers exist, then deregisters them with Enforce.
    assert_eq!(api_err(client.delete_stream().stream_name("busy").send().await).code, "ResourceInUseException");
    client.delete_stream().stream_name("busy").enforce_consumer_deletion(true).send().await.unwrap();
}

/// A SubscribeToShard 5 s after a live one takes over (in cluster mode on the other node, the
/// calls alternating): the older subscription's stream ends with ResourceInUseException and
/// the newer one delivers.
#[tokio::test]
async fn a_subscription_older_than_five_seconds_is_taken_over() {
    let srv = server();
    let client = srv.client();
    create_active(&client, "over", 1).await;
    let arn = active_consumer(&client, "over", "c").await;
    let sub = || subscribe_latest(&client, &arn, 0);
    let mut old = sub().send().await.unwrap().event_stream;
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    let mut new = sub().send().await.unwrap().event_stream;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ended = loop {
        match tokio::time::timeout_at(deadline, old.recv()).await.expect("the old subscription ends within 10 s") {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the old subscription ended without an exception"),
            Err(e) => break e,
        }
    };
    let in_use = ended.as_service_error().is_some_and(|e| e.is_resource_in_use_exception());
    assert!(in_use, "{ended:?}");
    let sent = put(&client, "over", "after").await;
    loop {
        let event = next_event(&mut new).await.expect("the newer subscription lives");
        if let Some(record) = event.records.first() {
            assert_eq!(record.sequence_number, sent);
            break;
        }
    }
}

/// The Rust SDK reads a split shard's last event (ChildShards, no ContinuationSequenceNumber)
/// and then the end of the stream.
#[tokio::test]
async fn a_split_shard_ends_with_child_shards() {
    let srv = server();
    let client = srv.client();
    create_active(&client, "split", 1).await;
    let arn = active_consumer(&client, "split", "walker").await;
    let first = put(&client, "split", "before").await;
    let position = StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon).build().unwrap();
    let out = client.subscribe_to_shard().consumer_arn(&arn).shard_id(shard_id(0)).starting_position(position);
    let mut events = out.send().await.unwrap().event_stream;
    let e1 = next_event(&mut events).await.unwrap();
    assert_eq!(e1.records.iter().map(|r| r.sequence_number.as_str()).collect::<Vec<_>>(), [first.as_str()]);
    let split = client.split_shard().stream_name("split").shard_to_split(shard_id(0));
    split.new_starting_hash_key((1u128 << 127).to_string()).send().await.unwrap();
    let mut last = None;
    while let Some(event) = next_event(&mut events).await {
        last = Some(event);
    }
    let last = last.expect("an event before the end");
    let children = last.child_shards.expect("ChildShards at the shard's end");
    let mut ids: Vec<_> = children.iter().map(|c| c.shard_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, [shard_id(1), shard_id(2)]);
    assert!(children.iter().all(|c| c.parent_shards == [shard_id(0)]));
    assert!(last.continuation_sequence_number.is_empty(), "no continuation at the end");
}
