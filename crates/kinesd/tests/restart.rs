//! What a restart (even a SIGKILL) must keep: iterators issued before it still work until they
//! expire, and streams in CREATING or DELETING finish their transition afterwards.

mod common;

use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use common::{Server, ServerOpts, create_active, iterator, shard_id, summary};

fn opts(dir: &std::path::Path, delay_ms: u64) -> ServerOpts {
    ServerOpts {
        create_stream_ms: delay_ms,
        delete_stream_ms: delay_ms,
        data_dir: Some(dir.to_path_buf()),
        ..ServerOpts::default()
    }
}

#[tokio::test]
async fn iterators_issued_before_a_crash_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start_with(opts(dir.path(), 0));
    let client = srv.client();
    create_active(&client, "s", 1).await;
    let put = client.put_record().stream_name("s").partition_key("k").data(Blob::new(b"one".to_vec())).send().await;
    let put = put.unwrap();
    let it = iterator(&client, "s", &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    srv.kill9();

    let srv = Server::start_with(opts(dir.path(), 0));
    let client = srv.client();
    let page = client.get_records().shard_iterator(&it).send().await.expect("the old iterator works");
    let records = page.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sequence_number(), put.sequence_number());
    assert_eq!(records[0].data().as_ref(), b"one");
    // New records continue above the old ones.
    let next = client.put_record().stream_name("s").partition_key("k").data(Blob::new(b"two".to_vec())).send().await;
    assert!(common::seq_cmp(next.unwrap().sequence_number(), put.sequence_number()).is_gt());
}

#[tokio::test]
async fn transitions_interrupted_by_a_crash_finish_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start_with(opts(dir.path(), 1500));
    let client = srv.client();
    client.create_stream().stream_name("deleting").shard_count(1).send().await.unwrap();
    common::wait_active(&client, "deleting").await;
    client.delete_stream().stream_name("deleting").send().await.unwrap();
    client.create_stream().stream_name("creating").shard_count(1).send().await.unwrap();
    assert_eq!(summary(&client, "creating").await.stream_status(), &StreamStatus::Creating);
    assert_eq!(summary(&client, "deleting").await.stream_status(), &StreamStatus::Deleting);
    srv.kill9();

    let srv = Server::start_with(opts(dir.path(), 1500));
    let client = srv.client();
    let status = summary(&client, "creating").await.stream_status().clone();
    assert!(matches!(status, StreamStatus::Creating | StreamStatus::Active), "{status:?}");
    common::wait_active(&client, "creating").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    common::wait_gone(&client, "deleting").await;
}
