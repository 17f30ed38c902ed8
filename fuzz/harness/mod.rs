//! What each fuzz target checks, shared by the libFuzzer binaries (`fuzz/fuzz_targets/`, run
//! with `cargo fuzz`) and the corpus replay that CI runs on stable
//! (`crates/kinesd/tests/fuzz_replay.rs`). Every function takes arbitrary bytes and panics only
//! when kinesd misbehaves: a panic inside kinesd, a fast path that disagrees with the generic
//! decoder, a value that does not survive its own round trip, or a server that answers a
//! client's bytes with a 5xx AWS would not send or not at all.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kinesd::engine::sequence::SequenceNumber;
use kinesd::engine::token::{PageToken, ShardIteratorToken, TokenSecret};
use kinesd::protocol::model::PutRecordsInput;
use kinesd::protocol::{FromValue, Value, cbor, decode, fast, json};

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// Every target by name, for the replay.
pub const TARGETS: &[(&str, Check)] = &[
    ("json_put_records", json_put_records),
    ("cbor_put_records", cbor_put_records),
    ("cbor_value", cbor_value),
    ("sequence_number", sequence_number),
    ("tokens", tokens),
    ("sigv4", sigv4),
    ("http", http),
];

/// The generic decoder's PutRecords input for a decoded tree, if it is a structure that
/// converts.
fn generic(value: Value) -> Option<PutRecordsInput> {
    match value {
        Value::Map(_) => PutRecordsInput::from_value(value).ok().flatten(),
        _ => None,
    }
}

/// JSON PutRecords: whatever the fast path accepts, the generic path accepts identically.
pub fn json_put_records(data: &[u8]) {
    if let Some(fast) = fast::put_records(data) {
        let value = json::parse(data).expect("the fast path accepted a body the JSON parser refuses");
        assert_eq!(generic(value).as_ref(), Some(&fast), "fast and generic JSON PutRecords differ");
    }
}

/// CBOR PutRecords: whatever the fast path accepts, the generic path accepts identically.
pub fn cbor_put_records(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Some(fast) = cbor::put_records(&body) {
        let value = cbor::parse(&body).expect("the fast path accepted a body the CBOR parser refuses");
        let slow = decode::numbers_as_millis(|| generic(value));
        assert_eq!(slow.as_ref(), Some(&fast), "fast and generic CBOR PutRecords differ");
    }
}

/// Any CBOR item: decoded or refused, never a panic or unbounded recursion.
pub fn cbor_value(data: &[u8]) {
    let _ = cbor::parse(&Bytes::copy_from_slice(data));
}

/// Sequence numbers: a number that parses prints back as the same text and parses again to
/// the same value.
pub fn sequence_number(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(n) = SequenceNumber::parse(text) {
        let shown = n.to_string();
        assert_eq!(SequenceNumber::parse(&shown), Ok(n), "{text} printed as {shown}");
    }
    if !text.is_empty() && text.len() <= 129 && text.bytes().all(|b| b.is_ascii_digit()) {
        let _ = kinesd::engine::claim::Claim::decode(text);
    }
}

/// Shard iterators and page tokens: arbitrary text is refused or decoded, never a panic.
pub fn tokens(data: &[u8]) {
    static SECRET: OnceLock<TokenSecret> = OnceLock::new();
    let secret = SECRET.get_or_init(TokenSecret::generate);
    let text = String::from_utf8_lossy(data);
    let _ = ShardIteratorToken::decode(&text, secret);
    let _ = PageToken::decode(&text, secret);
}

/// SigV4: arbitrary method, path, query, host, `Authorization`, `X-Amz-Date`,
/// `X-Amz-Security-Token`, `X-Amz-Content-Sha256` and body (fields separated by 0xff) against
/// one configured credential: refused or verified, never a panic; and whatever verifies names
/// that credential.
pub fn sigv4(data: &[u8]) {
    sigv4_verifies(data);
}

/// [`sigv4`], saying whether the input verified.
pub fn sigv4_verifies(data: &[u8]) -> bool {
    use kinesd::auth::{SignedRequest, check_request, credentials::CredentialSet, sigv4::verify};
    static KEYS: OnceLock<CredentialSet> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        CredentialSet::parse(
            "[[credential]]\naccess_key_id = \"AKIDFUZZ\"\nsecret_access_key = \"fuzz-secret\"\n\
             account_id = \"111111111111\"\nsession_token = \"tok\"\n",
        )
        .expect("the fuzz credentials parse")
    });
    let mut fields = data.splitn(9, |&b| b == 0xff);
    let mut next = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (method, path, query, host) = (next(), next(), next(), next());
    let (authorization, date, token, content_hash) = (next(), next(), next(), next());
    let body = fields.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("authorization", &authorization),
        ("x-amz-date", &date),
        ("x-amz-security-token", &token),
        ("x-amz-content-sha256", &content_hash),
        ("host", &host),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let query = (!query.is_empty()).then_some(query.as_str());
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let _ = check_request(authorization, headers.contains_key("x-amz-date"), query);
    let request = SignedRequest { method: &method, path: &path, query, host: Some(&host), headers: &headers, body };
    // 2026-12-06T00:00:00Z, so that dates near it pass the clock-skew check.
    match verify(&request, keys, "us-east-1", 1_796_515_200) {
        Ok(caller) => {
            assert_eq!(caller.access_key_id, "AKIDFUZZ");
            assert_eq!(caller.account_id, "111111111111");
            true
        }
        Err(_) => false,
    }
}

/// How long a connection may take to be answered and closed after the client half-closes.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Raw bytes on a connection to a real server (in this process, in-memory store, streams
/// created at once): it answers or closes within [`ANSWER_WITHIN`] once the client stops
/// sending, and any status it sends is one AWS sends (500 InternalFailure and 501 for
/// operations kinesd lacks are AWS's; 502 and up never are).
pub fn http(data: &[u8]) {
    let addr = server();
    let mut conn = TcpStream::connect(addr).expect("connect to the fuzzed server");
    conn.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
    conn.set_write_timeout(Some(ANSWER_WITHIN)).unwrap();
    // The server may refuse the rest of a request it has already answered.
    let _ = conn.write_all(data);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match conn.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            // libFuzzer's timers interrupt blocking reads; that is not the server's doing.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("no answer or close within {ANSWER_WITHIN:?} ({e}); sent {} bytes", data.len()),
        }
        assert!(started.elapsed() < ANSWER_WITHIN * 2, "the server kept the connection open");
    }
    for status in statuses(&answer) {
        assert!(status < 502, "HTTP {status} in answer to a client's bytes");
    }
}

/// The status codes of the HTTP/1.1 responses in `answer` (h2 answers are not read).
fn statuses(answer: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(answer);
    text.match_indices("HTTP/1.1 ").filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok()).collect()
}

/// One server per process, on an ephemeral loopback port.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let store = Arc::new(kinesd::store::memory::MemoryStore::new());
                let config = kinesd::engine::EngineConfig {
                    create_stream_ms: 0,
                    delete_stream_ms: 0,
                    update_stream_ms: 0,
                    ..kinesd::engine::EngineConfig::default()
                };
                let engine = kinesd::engine::Engine::open(config, store).await.unwrap();
                let _ticker = engine.spawn_ticker();
                let listener = kinesd::transport::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                // Never triggered: the server lives as long as the fuzzing process.
                let (_trigger, shutdown) = kinesd::shutdown::channel();
                let api = Arc::new(kinesd::api::Api::new(engine, shutdown.clone()));
                let options = kinesd::transport::TransportOptions {
                    idle_timeout: Duration::from_secs(2),
                    ..kinesd::transport::TransportOptions::default()
                };
                kinesd::transport::serve(listener, api, options, shutdown).await.unwrap();
            });
        });
        rx.recv().expect("the fuzzed server started")
    })
}
