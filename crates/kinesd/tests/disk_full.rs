//! A full disk: writes fail with InternalFailure (HTTP 500), nothing acknowledged is lost, the
//! server keeps serving reads, and writes succeed again once space returns.
//!
//! The test mounts a small tmpfs of its own, so it needs the privilege to mount (root, as CI
//! has); without it, it says so and does nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use common::{Server, ServerOpts, create_active, drain, iterator, shard_id};

const STREAM: &str = "full";

/// A tmpfs mounted for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Whether this process may mount file systems (CAP_SYS_ADMIN, bit 21 of the effective set).
fn may_mount() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:").map(|v| u64::from_str_radix(v.trim(), 16).ok())))
        .flatten()
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_writes_loses_nothing_and_recovers() {
    let base = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(base.path(), "6m") else {
        assert!(!may_mount(), "this process may mount file systems, so mounting a tmpfs must work");
        eprintln!("SKIPPED: mounting a tmpfs needs CAP_SYS_ADMIN");
        return;
    };
    let data = fs.0.join("data");
    // Space we can give back later.
    let ballast = fs.0.join("ballast");
    std::fs::write(&ballast, vec![1u8; 2 << 20]).unwrap();

    let opts = ServerOpts {
        create_stream_ms: 0,
        data_dir: Some(data.clone()),
        extra_args: vec!["--segment-size-mib".into(), "1".into()],
        ..ServerOpts::default()
    };
    let mut srv = Server::start_with(opts.clone());
    let client = srv.client();
    create_active(&client, STREAM, 1).await;

    let payload = vec![7u8; 100 * 1024];
    let mut acked = Vec::new();
    let mut refusal = None;
    for i in 0..200u32 {
        let mut data = payload.clone();
        data[..4].copy_from_slice(&i.to_be_bytes());
        match client.put_record().stream_name(STREAM).partition_key("k").data(Blob::new(data.clone())).send().await {
            Ok(out) => acked.push((out.sequence_number().to_owned(), data)),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                refusal = Some((status, e.code().map(str::to_owned)));
                break;
            }
        }
    }
    assert_eq!(refusal, Some((Some(500), Some("InternalFailure".to_owned()))), "a full disk is an InternalFailure");
    assert!(acked.len() > 5, "some writes fit before the disk filled: {}", acked.len());
    eprintln!("{} records of 100 KiB fitted before the disk was full", acked.len());

    // Reads keep working while the disk is full, and show exactly what was acknowledged.
    let it = iterator(&client, STREAM, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let (records, _) = drain(&client, it, acked.len()).await;
    let got: Vec<_> = records.iter().map(|r| (r.sequence_number().to_owned(), r.data().as_ref().to_vec())).collect();
    assert_eq!(got, acked);

    // Space comes back: writes work again without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let again =
        client.put_record().stream_name(STREAM).partition_key("k").data(Blob::new(b"after".to_vec())).send().await;
    let again = again.expect("writes succeed once space returns");
    acked.push((again.sequence_number().to_owned(), b"after".to_vec()));

    // And everything acknowledged survives a crash.
    srv.kill9();
    let srv = Server::start_with(opts);
    let client = srv.client();
    let it = iterator(&client, STREAM, &shard_id(0), ShardIteratorType::TrimHorizon, None).await;
    let (records, _) = drain(&client, it, acked.len()).await;
    let got: Vec<_> = records.iter().map(|r| (r.sequence_number().to_owned(), r.data().as_ref().to_vec())).collect();
    assert_eq!(got, acked);
}
