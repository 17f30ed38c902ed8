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
    ("policy", policy),
    ("event_stream", event_stream),
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

/// Policy documents (PutResourcePolicy's `Policy`, the credentials file's `policy`) and their
/// evaluation. Fields separated by 0xff: the document, then the caller's account, the caller's
/// ARN, the action and the resource of one request (evaluated beside a few fixed realistic
/// ones). Any text is refused or parsed, never a panic; for a document that parses:
/// - its decision for every request is its statements' combined: Deny if any statement denies
///   (an explicit Deny wins, whatever the order: the reversed document decides the same), else
///   Allow if any allows, else not applicable;
/// - with a universal Deny statement added, it denies every request, and `access::decide`
///   refuses whichever side (identity or resource) carries that Deny;
/// - re-encoding it (`serde_json`) parses to the same policy.
pub fn policy(data: &[u8]) {
    use kinesd::api::access::decide;
    use kinesd::auth::policy::{Decision, Kind, MAX_POLICY_BYTES, MAX_STATEMENTS, Policy, Request};
    use serde_json::{Value as Json, json};

    let mut fields = data.splitn(5, |&b| b == 0xff);
    let mut next = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (text, account, principal_arn, action, resource) = (next(), next(), next(), next(), next());
    const STREAM: &str = "arn:aws:kinesis:us-east-1:111111111111:stream/s";
    let requests = [
        Request { account: &account, principal_arn: &principal_arn, action: &action, resource: &resource },
        Request { account: &account, principal_arn: &principal_arn, action: &action, resource: STREAM },
        Request {
            account: "222222222222",
            principal_arn: "arn:aws:iam::222222222222:root",
            action: "kinesis:GetRecords",
            resource: STREAM,
        },
        Request {
            account: "111111111111",
            principal_arn: "arn:aws:iam::111111111111:user/producer",
            action: "kinesis:PutRecords",
            resource: STREAM,
        },
        Request {
            account: "111111111111",
            principal_arn: "arn:aws:iam::111111111111:root",
            action: "kinesis:ListStreams",
            resource: "*",
        },
    ];
    // A document with `statements` in place of the original's; None when it would exceed the
    // size limit (re-encoding may lengthen a number), which the parser refuses by design.
    let with = |doc: &serde_json::Map<String, Json>, statements: Vec<Json>| -> Option<String> {
        let mut doc = doc.clone();
        doc.insert("Statement".into(), Json::Array(statements));
        Some(serde_json::to_string(&doc).unwrap()).filter(|t| t.len() <= MAX_POLICY_BYTES)
    };
    for kind in [Kind::Resource, Kind::Identity] {
        let Ok(policy) = Policy::parse(&text, kind) else { continue };
        let _ = policy.names_resource(&resource);
        let Ok(Json::Object(doc)) = serde_json::from_str::<Json>(&text) else {
            panic!("a document that parsed as a policy is not a JSON object: {text:?}");
        };
        let statements = match &doc["Statement"] {
            Json::Array(items) => items.clone(),
            one => vec![one.clone()],
        };
        let reparse =
            |text: Option<String>| text.map(|t| Policy::parse(&t, kind).expect("a variant of a valid policy parses"));
        let encoded = serde_json::to_string(&doc).unwrap();
        if encoded.len() <= MAX_POLICY_BYTES {
            assert_eq!(Policy::parse(&encoded, kind).as_ref(), Ok(&policy), "re-encoded, the policy changed");
        }
        let single: Vec<Option<Policy>> = statements.iter().map(|s| reparse(with(&doc, vec![s.clone()]))).collect();
        let reversed = reparse(with(&doc, statements.iter().rev().cloned().collect()));
        let deny_all = match kind {
            Kind::Resource => json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}),
            Kind::Identity => json!({"Effect": "Deny", "Action": "*", "Resource": "*"}),
        };
        let mut denying = statements.clone();
        denying.push(deny_all);
        let denying = (statements.len() < MAX_STATEMENTS).then(|| reparse(with(&doc, denying))).flatten();
        for request in &requests {
            let decision = policy.evaluate(request);
            if single.iter().all(Option::is_some) {
                let each: Vec<Decision> = single.iter().flatten().map(|p| p.evaluate(request)).collect();
                let expected = if each.contains(&Decision::Deny) {
                    Decision::Deny
                } else if each.contains(&Decision::Allow) {
                    Decision::Allow
                } else {
                    Decision::NotApplicable
                };
                assert_eq!(decision, expected, "the document does not decide as its statements do: {request:?}");
            }
            if let Some(reversed) = &reversed {
                assert_eq!(reversed.evaluate(request), decision, "statement order changed the decision");
            }
            if let Some(denying) = &denying {
                let denied = denying.evaluate(request);
                assert_eq!(denied, Decision::Deny, "a universal Deny did not win: {request:?}");
                for foreign in [false, true] {
                    assert!(decide(denied, Decision::Allow, foreign).is_some(), "identity Deny not enforced");
                    assert!(decide(Decision::Allow, denied, foreign).is_some(), "resource Deny not enforced");
                }
            }
        }
    }
}

/// Event-stream framing (SubscribeToShard's response body). No client sends kinesd a frame
/// (a SubscribeToShard request body is JSON or CBOR); the server only encodes. So the first
/// byte picks what is checked with the rest:
/// - 0: a message with arbitrary string headers (fields separated by 0xff, the last one the
///   payload), encoded by kinesd, is read back by the AWS SDK's own decoder
///   (aws-smithy-eventstream) exactly — same headers in order, same payload, the whole frame
///   consumed — and refused once any one bit of it is flipped;
/// - 1: an exception with an arbitrary type and message text, in JSON or CBOR: the SDK reads
///   the frame and kinesd's own parser reads the text back from its payload unchanged;
/// - 2: a SubscribeToShard request body, in JSON or CBOR, as the server decodes it: accepted
///   or refused with an AWS error, never a panic.
pub fn event_stream(data: &[u8]) {
    use aws_smithy_eventstream::frame::read_message_from;
    use aws_smithy_types::event_stream::HeaderValue;
    use kinesd::protocol::{Codec, eventstream};

    // A string cut to at most `max` bytes, on a character boundary.
    fn fit(s: &str, max: usize) -> String {
        let mut end = s.len().min(max);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_owned()
    }
    let Some((&mode, rest)) = data.split_first() else { return };
    let codec = if mode & 0x80 == 0 { Codec::Json } else { Codec::Cbor };
    match mode % 3 {
        0 => {
            let mut fields: Vec<String> =
                rest.split(|&b| b == 0xff).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
            let payload = fields.pop().unwrap_or_default();
            // kinesd's headers are non-empty names of at most 255 bytes and values of at most
            // 64 KiB (the format's limits); the fuzzer's are cut to fit.
            let headers: Vec<(String, String)> = fields
                .chunks(2)
                .map(|pair| (fit(&pair[0], 255), fit(pair.get(1).map_or("", String::as_str), u16::MAX as usize)))
                .filter(|(name, _)| !name.is_empty())
                .collect();
            let borrowed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let frame = eventstream::message(&borrowed, payload.as_bytes());
            let mut rest = &frame[..];
            let message = read_message_from(&mut rest).expect("the SDK refuses a message kinesd encoded");
            assert!(rest.is_empty(), "the SDK did not consume the whole frame");
            let read: Vec<(&str, &str)> = message
                .headers()
                .iter()
                .map(|h| match h.value() {
                    HeaderValue::String(v) => (h.name().as_str(), v.as_str()),
                    other => panic!("header {} read as {other:?}", h.name().as_str()),
                })
                .collect();
            assert_eq!(read, borrowed, "headers changed on the way");
            assert_eq!(message.payload().as_ref(), payload.as_bytes(), "payload changed on the way");
            let bit = bit_seed(data) % (frame.len() * 8);
            let mut flipped = frame.to_vec();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(read_message_from(&mut &flipped[..]).is_err(), "a frame with bit {bit} flipped was accepted");
        }
        1 => {
            // The type before the first 0xff, the text after it.
            let (kind, message_text) = match rest.iter().position(|&b| b == 0xff) {
                Some(i) => (String::from_utf8_lossy(&rest[..i]), String::from_utf8_lossy(&rest[i + 1..])),
                None => ("ResourceNotFoundException".into(), String::from_utf8_lossy(rest)),
            };
            let kind = fit(&kind, u16::MAX as usize);
            let frame = eventstream::exception(codec, &kind, &message_text);
            let message = read_message_from(&mut &frame[..]).expect("the SDK refuses an exception kinesd encoded");
            let header =
                |name: &str| match message.headers().iter().find(|h| h.name().as_str() == name).map(|h| h.value()) {
                    Some(HeaderValue::String(v)) => v.as_str().to_owned(),
                    other => panic!("header {name} read as {other:?}"),
                };
            assert_eq!(header(":message-type"), "exception");
            assert_eq!(header(":exception-type"), kind);
            assert_eq!(header(":content-type"), codec.content_type());
            let payload = message.payload();
            let value = match codec {
                Codec::Json => json::parse(payload).expect("the exception's JSON payload does not parse"),
                Codec::Cbor => cbor::parse(payload).expect("the exception's CBOR payload does not parse"),
            };
            let expected = Value::Map(vec![("message".into(), Value::String(message_text.into_owned()))]);
            assert_eq!(value, expected, "the exception's text changed on the way");
        }
        _ => {
            use kinesd::protocol::model::{Operation, SubscribeToShardInput};
            use kinesd::protocol::request::{input, parse};
            if let Ok(parsed) = parse(codec, Operation::SubscribeToShard, &Bytes::copy_from_slice(rest)) {
                let _ = input::<SubscribeToShardInput>(parsed);
            }
        }
    }
}

/// A number drawn from the whole input, to pick which bit of a frame to flip.
fn bit_seed(data: &[u8]) -> usize {
    data.iter().fold(data.len(), |acc, &b| acc.wrapping_mul(31).wrapping_add(b as usize))
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
