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

/// Consumers are catalog state: after a SIGKILL they are still registered, with their tags,
/// and a CREATING or DELETING phase the crash interrupted ends on time afterwards.
#[tokio::test]
async fn consumers_survive_a_crash_and_finish_their_transitions() {
    use aws_sdk_kinesis::types::ConsumerStatus;
    let dir = tempfile::tempdir().unwrap();
    let consumer_opts = |ms: &str| ServerOpts {
        extra_args: ["--consumer-create-ms", ms, "--consumer-delete-ms", ms].map(String::from).to_vec(),
        ..opts(dir.path(), 0)
    };
    let srv = Server::start_with(consumer_opts("0"));
    let client = srv.client();
    create_active(&client, "s", 1).await;
    let arn = common::stream_arn("s");
    let register = |name: &'static str| client.register_stream_consumer().stream_arn(&arn).consumer_name(name).send();
    let kept = register("kept").await.unwrap().consumer.unwrap();
    client.tag_resource().resource_arn(&kept.consumer_arn).tags("k", "v").send().await.unwrap();
    let going = register("going").await.unwrap().consumer.unwrap();
    drop(srv);

    // Slow transitions: a consumer CREATING and one DELETING when the process dies.
    let mut srv = Server::start_with(consumer_opts("1000"));
    let client = srv.client();
    let creating = client.register_stream_consumer().stream_arn(&arn).consumer_name("new").send().await.unwrap();
    let creating = creating.consumer.unwrap();
    assert_eq!(creating.consumer_status, ConsumerStatus::Creating);
    client.deregister_stream_consumer().consumer_arn(&going.consumer_arn).send().await.unwrap();
    srv.kill9();

    let srv = Server::start_with(consumer_opts("1000"));
    let client = srv.client();
    let status = |arn: String| {
        let client = client.clone();
        async move {
            match client.describe_stream_consumer().consumer_arn(arn).send().await {
                Ok(d) => Some(d.consumer_description.unwrap().consumer_status),
                Err(_) => None,
            }
        }
    };
    assert_eq!(status(kept.consumer_arn.clone()).await, Some(ConsumerStatus::Active));
    let tags = client.list_tags_for_resource().resource_arn(&kept.consumer_arn).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(status(creating.consumer_arn.clone()).await, Some(ConsumerStatus::Active));
    assert_eq!(status(going.consumer_arn.clone()).await, None, "the deregistered consumer is gone");
    let listed = client.list_stream_consumers().stream_arn(&arn).send().await.unwrap();
    let mut names: Vec<_> = listed.consumers().iter().map(|c| c.consumer_name.clone()).collect();
    names.sort();
    assert_eq!(names, ["kept", "new"]);
}

/// Copies `from` (a directory tree) into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A data directory written by kinesd before accounts were kept apart (commit 77599b3, started
/// with `--account-id 123456789012`: stream `legacy` of 2 shards, one record in shard 0, a tag,
/// the billing commitment enabled) opens with everything in `--account-id`'s account, and with
/// `--credentials` another account sees none of it.
#[tokio::test]
async fn a_data_dir_written_before_accounts_opens_in_the_configured_account() {
    use aws_sdk_kinesis::config::Credentials;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-dir-before-accounts");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    copy_tree(&fixture, &data_dir);
    let credentials = two_account_credentials(dir.path());
    for with_credentials in [false, true] {
        let mut extra_args = vec!["--account-id".to_owned(), "123456789012".to_owned()];
        if with_credentials {
            extra_args.extend(["--credentials".to_owned(), credentials.display().to_string()]);
        }
        let srv = Server::start_with(ServerOpts { extra_args, ..opts(&data_dir, 0) });
        let owner = common::client_signing_as(
            &srv.endpoint,
            common::REGION,
            Credentials::new("AKIAOWNER00000000000", "owner", None, None, "test"),
        );
        let stream = summary(&owner, "legacy").await;
        assert_eq!(stream.stream_arn(), "arn:aws:kinesis:us-east-1:123456789012:stream/legacy");
        assert_eq!(stream.open_shard_count(), 2);
        let it = iterator(&owner, "legacy", &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
        let page = owner.get_records().shard_iterator(&it).send().await.unwrap();
        assert_eq!(page.records().iter().map(|r| r.data().as_ref().to_vec()).collect::<Vec<_>>(), [b"old-record"]);
        let tags = owner.list_tags_for_stream().stream_name("legacy").send().await.unwrap();
        assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("era", Some("main"))]);
        let settings = owner.describe_account_settings().send().await.unwrap();
        let status = settings.minimum_throughput_billing_commitment().unwrap().status().as_str().to_owned();
        assert_eq!(status, "ENABLED");
        if with_credentials {
            let other = common::client_signing_as(
                &srv.endpoint,
                common::REGION,
                Credentials::new("AKIAOTHER00000000000", "other", None, None, "test"),
            );
            assert!(other.list_streams().send().await.unwrap().stream_names().is_empty());
            let settings = other.describe_account_settings().send().await.unwrap();
            let status = settings.minimum_throughput_billing_commitment().unwrap().status().as_str().to_owned();
            assert_eq!(status, "DISABLED");
        }
    }
}

/// The fixture above with a consumer entry as `main` wrote it before consumers belonged to an
/// account (commit 2db0c81: key `consumer/<stream>/<name>`, no `account` field): the consumer
/// opens in `--account-id`'s account with its tags, is moved under that account's key, serves a
/// subscription of the old records, and another account's caller is refused it.
#[tokio::test]
async fn a_consumer_written_before_accounts_opens_in_the_configured_account() {
    use aws_sdk_kinesis::config::Credentials;
    use aws_sdk_kinesis::types::{StartingPosition, SubscribeToShardEventStream};
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-dir-before-accounts");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    copy_tree(&fixture, &data_dir);
    let catalog_file =
        |key: &str| data_dir.join("catalog").join(key.bytes().map(|b| format!("{b:02x}")).collect::<String>());
    // The stream `legacy` of the fixture was created at 1796546526892.
    let consumer = r#"{"name":"app","stream":"legacy","stream_created_ms":1796546526892,"created_ms":1796546600000,"status":"Active","status_until_ms":0,"tags":[["team","efo"]],"resource_policy":null}"#;
    std::fs::write(catalog_file("consumer/legacy/app"), consumer).unwrap();
    let credentials = two_account_credentials(dir.path());
    let extra_args = ["--account-id", "123456789012", "--credentials", &credentials.display().to_string()]
        .map(String::from)
        .to_vec();
    let srv = Server::start_with(ServerOpts { extra_args, ..opts(&data_dir, 0) });
    let as_key = |key: &str, secret: &str| {
        common::client_signing_as(&srv.endpoint, common::REGION, Credentials::new(key, secret, None, None, "test"))
    };
    let (owner, other) = (as_key("AKIAOWNER00000000000", "owner"), as_key("AKIAOTHER00000000000", "other"));
    let stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/legacy";
    let consumer_arn = format!("{stream_arn}/consumer/app:1796546600");

    let described = owner.describe_stream_consumer().stream_arn(stream_arn).consumer_name("app").send().await.unwrap();
    let described = described.consumer_description.unwrap();
    assert_eq!((described.consumer_arn.as_str(), described.stream_arn.as_str()), (consumer_arn.as_str(), stream_arn));
    let tags = owner.list_tags_for_resource().resource_arn(&consumer_arn).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("team", Some("efo"))]);
    assert!(!catalog_file("consumer/legacy/app").exists(), "the old entry is gone");
    assert!(catalog_file("consumer/123456789012/legacy/app").exists(), "moved under its account");

    let position = StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon).build().unwrap();
    let out = owner.subscribe_to_shard().consumer_arn(&consumer_arn).shard_id(shard_id(0)).starting_position(position);
    let mut events = out.send().await.unwrap().event_stream;
    let first = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.expect("an event within 10 s");
    match first.unwrap() {
        Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)) => {
            let data: Vec<_> = event.records.iter().map(|r| r.data.as_ref().to_vec()).collect();
            assert_eq!(data, [b"old-record"]);
        }
        other => panic!("unexpected {other:?}"),
    }

    let refused = common::api_err(other.describe_stream_consumer().consumer_arn(&consumer_arn).send().await);
    assert_eq!(refused.code, "AccessDeniedException", "{refused:?}");
    let listed = other.list_stream_consumers().stream_arn("arn:aws:kinesis:us-east-1:999999999999:stream/legacy");
    assert_eq!(common::api_err(listed.send().await).code, "ResourceNotFoundException");
}

/// A credentials file in `dir` with an owner key in account 123456789012 (the fixtures'
/// `--account-id`) and another key in account 999999999999.
fn two_account_credentials(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("credentials.toml");
    std::fs::write(
        &path,
        "[[credential]]\naccess_key_id = \"AKIAOWNER00000000000\"\nsecret_access_key = \"owner\"\n\
         account_id = \"123456789012\"\n\n[[credential]]\naccess_key_id = \"AKIAOTHER00000000000\"\n\
         secret_access_key = \"other\"\naccount_id = \"999999999999\"\n",
    )
    .unwrap();
    path
}
