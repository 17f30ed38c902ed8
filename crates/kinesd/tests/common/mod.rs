//! Shared harness for the integration tests that drive a real `kinesd` process with the
//! official Rust SDK (`aws-sdk-kinesis`).
//!
//! * [`Server`] spawns `kinesd --in-memory --port 0 ...`, waits for its
//!   `kinesd listening on http://127.0.0.1:<port>` line and kills the process on drop. The
//!   server's stderr is captured and printed only when the test fails.
//! * [`Server::client`] builds an SDK client the way an application would, minus `aws-config`:
//!   static credentials, an explicit region and endpoint, and a plain-HTTP hyper client (no TLS
//!   stack). Retries are disabled so every server error reaches the assertion unchanged.
//! * With `KINESD_TEST_CLUSTER=1` ([`cluster_mode`]), [`Server::start_with`] starts two kinesd
//!   nodes in cluster mode on one 3-node NATS JetStream cluster shared by the test binary (see
//!   `cluster.rs`), and [`Server::client`] alternates between the two nodes call by call.
//! * Helpers for waiting on stream status, reading whole shards, hashing partition keys, and
//!   comparing sequence numbers as big integers.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::{Record, Shard, ShardIteratorType, StreamDescriptionSummary, StreamStatus};
use md5::{Digest, Md5};

pub mod cluster;
pub mod h2;

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";
/// 2^128 - 1 as a decimal string.
pub const MAX_HASH_KEY: &str = "340282366920938463463374607431768211455";
/// 2^128 as a decimal string (one past the largest valid hash key).
pub const TWO_POW_128: &str = "340282366920938463463374607431768211456";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Command-line knobs of the spawned server.
#[derive(Clone, Debug)]
pub struct ServerOpts {
    pub create_stream_ms: u64,
    pub delete_stream_ms: u64,
    pub update_stream_ms: u64,
    pub iterator_ttl_seconds: Option<u64>,
    /// Serve from this data directory (the durable store) instead of `--in-memory`.
    pub data_dir: Option<std::path::PathBuf>,
    /// More command-line arguments.
    pub extra_args: Vec<String>,
    /// Also open the TLS listener (`--tls-port 0`, generated certificate).
    pub tls: bool,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            create_stream_ms: 50,
            delete_stream_ms: 50,
            update_stream_ms: 50,
            iterator_ttl_seconds: None,
            data_dir: None,
            extra_args: Vec::new(),
            tls: false,
        }
    }
}

/// A running `kinesd` child process; killed when dropped.
pub struct Server {
    child: Child,
    pub endpoint: String,
    pub port: u16,
    /// `https://127.0.0.1:<port>` and the certificate to trust, when started with `tls`.
    pub tls: Option<(String, std::path::PathBuf)>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The child's TMPDIR (an in-memory TLS server's certificate goes there), removed after the
    /// child is killed: a SIGKILLed server cannot clean up, and nothing may be left behind.
    _tmp: tempfile::TempDir,
    /// In cluster mode, the second node serving the same streams (`None` on itself).
    pub peer: Option<Box<Server>>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(ServerOpts::default())
    }

    /// One server, or in cluster mode ([`cluster_mode`]) two nodes on the shared NATS cluster
    /// under a prefix of their own: the returned `Server` is the first, `peer` the second.
    pub fn start_with(opts: ServerOpts) -> Server {
        // A test of a data directory (the durable store) runs on one node in either mode.
        if !cluster_mode() || opts.data_dir.is_some() {
            return Server::spawn(&opts, None);
        }
        let prefix = cluster::unique_prefix();
        let mut node = Server::spawn(&opts, Some(&prefix));
        node.peer = Some(Box::new(Server::spawn(&opts, Some(&prefix))));
        node
    }

    /// Spawns one kinesd process; with `nats_prefix`, in cluster mode on the shared NATS cluster.
    fn spawn(opts: &ServerOpts, nats_prefix: Option<&str>) -> Server {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinesd"));
        cmd.args(["--host", "127.0.0.1", "--port", "0"]);
        match (&opts.data_dir, nats_prefix) {
            (_, Some(prefix)) => {
                // Cluster mode keeps node-local state (none that a test sees) in a data directory.
                let urls = cluster::shared().urls().join(",");
                cmd.arg("--data-dir").arg(tmp.path().join("data"));
                cmd.args(["--nats-url", &urls, "--nats-replicas", "3", "--nats-prefix", prefix]);
            }
            (Some(dir), None) => {
                cmd.arg("--data-dir").arg(dir);
            }
            (None, None) => {
                cmd.arg("--in-memory");
            }
        };
        cmd.args(["--create-stream-ms", &opts.create_stream_ms.to_string()])
            .args(["--delete-stream-ms", &opts.delete_stream_ms.to_string()])
            .args(["--update-stream-ms", &opts.update_stream_ms.to_string()]);
        cmd.args(&opts.extra_args);
        if opts.tls {
            cmd.args(["--tls-port", "0"]);
        }
        if let Some(ttl) = opts.iterator_ttl_seconds {
            cmd.args(["--iterator-ttl-seconds", &ttl.to_string()]);
        }
        cmd.env("TMPDIR", tmp.path());
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kinesd");

        // Keep the last 64 KiB of stderr for failure reports.
        let stderr_buf = Arc::new(Mutex::new(Vec::new()));
        {
            let mut err = child.stderr.take().unwrap();
            let buf = stderr_buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = err.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    let mut b = buf.lock().unwrap();
                    b.extend_from_slice(&chunk[..n]);
                    if b.len() > 64 * 1024 {
                        let cut = b.len() - 64 * 1024;
                        b.drain(..cut);
                    }
                }
            });
        }

        // The first stdout lines announce the port (and the TLS port and certificate, in that
        // order); keep draining stdout afterwards.
        let announced = if opts.tls { 3 } else { 1 };
        let (tx, rx) = mpsc::channel::<Vec<String>>();
        {
            let out = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(out);
                let mut lines = Vec::new();
                for _ in 0..announced {
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    lines.push(line.trim_end().to_owned());
                }
                let _ = tx.send(lines);
                let mut sink = Vec::new();
                let _ = reader.read_to_end(&mut sink);
            });
        }
        let lines = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kinesd did not print its listening line within {STARTUP_TIMEOUT:?}");
            }
        };
        let line = lines[0].as_str();
        let prefix = "kinesd listening on http://127.0.0.1:";
        let port: u16 = match line.strip_prefix(prefix).and_then(|p| p.parse().ok()) {
            Some(p) => p,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(50));
                panic!(
                    "unexpected first stdout line from kinesd: {line:?}\nstderr:\n{}",
                    String::from_utf8_lossy(&stderr_buf.lock().unwrap())
                );
            }
        };
        assert_ne!(port, 0, "server reported port 0");
        let tls = opts.tls.then(|| {
            let endpoint = lines[1].strip_prefix("kinesd listening on ").expect("the TLS listening line");
            let cert = lines[2].strip_prefix("kinesd tls certificate ").expect("the certificate line");
            (endpoint.to_owned(), std::path::PathBuf::from(cert))
        });
        Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            tls,
            stderr: stderr_buf,
            _tmp: tmp,
            peer: None,
        }
    }

    /// An SDK client of this server; in cluster mode one that sends its calls to the two nodes
    /// in turn.
    pub fn client(&self) -> Client {
        let client = client_for(&self.endpoint);
        match &self.peer {
            None => client,
            Some(peer) => cluster::alternating(client, &self.endpoint, &peer.endpoint),
        }
    }

    /// The process id of this node (to look at it in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL (no chance to flush or clean up) and waits for it.
    pub fn kill9(&mut self) {
        assert!(self.peer.is_none(), "kill9 of one node of two: such a test cannot run in cluster mode");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let buf = self.stderr.lock().unwrap();
            if !buf.is_empty() {
                eprintln!("---- kinesd stderr (tail) ----\n{}", String::from_utf8_lossy(&buf));
            }
        }
    }
}

/// `KINESD_TEST_CLUSTER=1`: servers are two kinesd nodes on a NATS JetStream cluster (meant for
/// the SDK suite; servers with a data directory stay single nodes).
pub fn cluster_mode() -> bool {
    std::env::var("KINESD_TEST_CLUSTER").is_ok_and(|v| v == "1")
}

/// In cluster mode, says on stderr that `test` is skipped and why, and returns true; the test
/// then returns at once. Keep such tests few, each with a reason.
pub fn skip_in_cluster_mode(test: &str, reason: &str) -> bool {
    if cluster_mode() {
        use std::io::Write;
        // Straight to stderr: the harness captures `eprintln!` of passing tests.
        let _ = writeln!(std::io::stderr(), "SKIPPED {test} in cluster mode: {reason}");
    }
    cluster_mode()
}

/// SDK client against `endpoint`: static credentials, us-east-1, plain-HTTP hyper client,
/// retries disabled, bounded timeouts.
pub fn client_for(endpoint: &str) -> Client {
    client_signing_as(endpoint, REGION, test_credentials())
}

/// Like [`client_for`], signing with `credentials` for `region`.
pub fn client_signing_as(endpoint: &str, region: &str, credentials: Credentials) -> Client {
    build_client(endpoint, region, credentials, aws_smithy_http_client::Builder::new().build_http())
}

/// SDK client against `endpoint` over the given HTTP client, otherwise as [`client_for`].
pub fn client_with(endpoint: &str, http: aws_smithy_runtime_api::client::http::SharedHttpClient) -> Client {
    build_client(endpoint, REGION, test_credentials(), http)
}

fn test_credentials() -> Credentials {
    Credentials::new("AKIDKINESDTEST", "kinesd-test-secret", None, None, "kinesd-tests")
}

fn build_client(
    endpoint: &str,
    region: &str,
    credentials: Credentials,
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
) -> Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// A unique, valid stream name (`[a-zA-Z0-9_.-]+`, well under 128 chars).
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{n}-{t:x}", std::process::id())
}

pub fn stream_arn(name: &str) -> String {
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")
}

pub fn not_found_msg(name: &str) -> String {
    format!("Stream {name} under account {ACCOUNT} not found.")
}

/// A service error as the SDK surfaced it.
#[derive(Debug, Clone)]
pub struct ApiErr {
    pub code: String,
    pub message: Option<String>,
    pub status: u16,
}

impl ApiErr {
    /// Asserts code and exact message, and HTTP 400.
    #[track_caller]
    pub fn assert(&self, code: &str, message: &str) {
        assert_eq!(self.code, code, "error code (message: {:?})", self.message);
        assert_eq!(self.message.as_deref(), Some(message), "error message for {code}");
        assert_eq!(self.status, 400, "HTTP status of {code}");
    }

    pub fn msg(&self) -> &str {
        self.message.as_deref().unwrap_or("")
    }
}

/// Unwraps the service error of a failed SDK call; panics if the call succeeded or failed
/// without a service response (dispatch failure, timeout, unparsable response).
#[track_caller]
pub fn api_err<T: Debug, E>(res: Result<T, SdkError<E>>) -> ApiErr
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match res {
        Ok(v) => panic!("expected a service error, got Ok({v:?})"),
        Err(SdkError::ServiceError(se)) => {
            let status = se.raw().status().as_u16();
            let e = se.err();
            ApiErr {
                code: e.code().unwrap_or_else(|| panic!("service error without code: {e:?}")).to_string(),
                message: e.message().map(str::to_string),
                status,
            }
        }
        Err(other) => panic!("expected a service error, got: {}", aws_sdk_kinesis::error::DisplayErrorContext(&other)),
    }
}

/// Unwraps an SDK result, printing the full error chain on failure.
#[track_caller]
pub fn ok<T, E: std::error::Error + 'static>(res: Result<T, E>) -> T {
    match res {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {}", aws_sdk_kinesis::error::DisplayErrorContext(&e)),
    }
}

pub async fn summary(client: &Client, name: &str) -> StreamDescriptionSummary {
    let out = ok(client.describe_stream_summary().stream_name(name).send().await);
    out.stream_description_summary.expect("StreamDescriptionSummary")
}

/// Polls DescribeStreamSummary until the stream is ACTIVE (bounded).
pub async fn wait_active(client: &Client, name: &str) -> StreamDescriptionSummary {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    loop {
        let s = summary(client, name).await;
        if s.stream_status == StreamStatus::Active {
            return s;
        }
        assert!(Instant::now() < deadline, "stream {name} not ACTIVE within {WAIT_TIMEOUT:?}: {:?}", s.stream_status);
        tokio::time::sleep(POLL).await;
    }
}

/// Polls DescribeStreamSummary until it answers ResourceNotFoundException (bounded).
pub async fn wait_gone(client: &Client, name: &str) {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    loop {
        match client.describe_stream_summary().stream_name(name).send().await {
            Ok(out) => {
                let s = out.stream_description_summary.unwrap();
                assert_eq!(s.stream_status, StreamStatus::Deleting, "status while waiting for deletion");
            }
            Err(e) => {
                let err = api_err::<(), _>(Err(e));
                err.assert("ResourceNotFoundException", &not_found_msg(name));
                return;
            }
        }
        assert!(Instant::now() < deadline, "stream {name} not gone within {WAIT_TIMEOUT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// CreateStream (provisioned, `shards` shards) and wait until ACTIVE.
pub async fn create_active(client: &Client, name: &str, shards: i32) -> StreamDescriptionSummary {
    ok(client.create_stream().stream_name(name).shard_count(shards).send().await);
    wait_active(client, name).await
}

/// All shards of a stream via ListShards (following NextToken).
pub async fn list_all_shards(client: &Client, name: &str) -> Vec<Shard> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(name),
        };
        let page = ok(req.send().await);
        out.extend(page.shards().iter().cloned());
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
    panic!("ListShards paging did not terminate");
}

pub fn parse_u128(s: &str) -> u128 {
    assert!(!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()), "not a decimal string: {s:?}");
    assert!(s == "0" || !s.starts_with('0'), "non-canonical decimal (leading zero): {s:?}");
    s.parse().unwrap_or_else(|_| panic!("does not fit u128: {s}"))
}

pub fn hash_range(shard: &Shard) -> (u128, u128) {
    let r = shard.hash_key_range().expect("HashKeyRange");
    (parse_u128(r.starting_hash_key()), parse_u128(r.ending_hash_key()))
}

/// MD5(UTF-8 partition key) read as a big-endian u128.
pub fn md5_hash_key(pk: &str) -> u128 {
    let d = Md5::digest(pk.as_bytes());
    u128::from_be_bytes(d.into())
}

/// The shard id whose hash range contains `h`.
pub fn shard_for_hash(shards: &[Shard], h: u128) -> String {
    let hits: Vec<&Shard> = shards
        .iter()
        .filter(|s| {
            let (a, b) = hash_range(s);
            a <= h && h <= b
        })
        .collect();
    assert_eq!(hits.len(), 1, "hash {h} is covered by {} shards", hits.len());
    hits[0].shard_id().to_string()
}

/// Expected creation-time hash ranges: step = floor(2^128 / n), last shard absorbs remainder.
pub fn expected_ranges(n: u32) -> Vec<(String, String)> {
    // 2^128 / n computed without overflow: (2^128 - 1) / n, corrected when n divides 2^128.
    assert!(n >= 1);
    if n == 1 {
        return vec![("0".to_string(), MAX_HASH_KEY.to_string())];
    }
    let n128 = n as u128;
    let mut step = u128::MAX / n128;
    if (u128::MAX % n128) == n128 - 1 {
        step += 1; // n divides 2^128 exactly
    }
    (0..n128)
        .map(|i| {
            let start = i * step;
            let end = if i == n128 - 1 { u128::MAX } else { (i + 1) * step - 1 };
            (start.to_string(), end.to_string())
        })
        .collect()
}

pub fn shard_id(i: u32) -> String {
    format!("shardId-{i:012}")
}

/// Compare two sequence numbers as non-negative big integers (canonical decimal strings).
pub fn seq_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    assert_seq_format(a);
    assert_seq_format(b);
    (a.len(), a).cmp(&(b.len(), b))
}

#[track_caller]
pub fn assert_seq_format(s: &str) {
    assert!(
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0')),
        "sequence number is not a canonical decimal string: {s:?}"
    );
}

#[track_caller]
pub fn assert_strictly_increasing<'a>(seqs: impl IntoIterator<Item = &'a str>, what: &str) {
    let mut prev: Option<&str> = None;
    for s in seqs {
        if let Some(p) = prev {
            assert_eq!(seq_cmp(p, s), std::cmp::Ordering::Less, "{what}: {p} is not < {s}");
        }
        prev = Some(s);
    }
}

pub async fn iterator(client: &Client, name: &str, shard: &str, ty: ShardIteratorType, seq: Option<&str>) -> String {
    let mut req = client.get_shard_iterator().stream_name(name).shard_id(shard).shard_iterator_type(ty);
    if let Some(s) = seq {
        req = req.starting_sequence_number(s);
    }
    ok(req.send().await).shard_iterator.expect("ShardIterator")
}

/// Reads a shard from `it` until `expected` records were seen and one further call returns
/// nothing (bounded). Returns the records and the last NextShardIterator.
pub async fn drain(client: &Client, mut it: String, expected: usize) -> (Vec<Record>, String) {
    let mut out: Vec<Record> = Vec::new();
    for _ in 0..(expected + 50) {
        let page = ok(client.get_records().shard_iterator(&it).send().await);
        let n = page.records().len();
        out.extend(page.records().iter().cloned());
        let next = page.next_shard_iterator().expect("NextShardIterator on an open shard").to_string();
        assert!(page.child_shards().is_empty(), "ChildShards on an open shard");
        it = next;
        assert!(out.len() <= expected, "read {} records, expected {expected}", out.len());
        if n == 0 && out.len() == expected {
            return (out, it);
        }
    }
    panic!("draining did not finish: got {} of {expected} records", out.len());
}

pub fn now_secs_f64() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}
