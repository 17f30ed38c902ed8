//! The transport against real HTTP/1.1 and HTTP/2 clients on loopback, with a scripted handler:
//! streamed replies, back-pressure, clients that go away, and the connection and stream limits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

use super::*;
use crate::protocol::reply::frame_stream;
use crate::shutdown::{self, Trigger};

/// Answers by `X-Amz-Target`: `stream` sends `frames` numbered frames then ends; `forever`
/// sends a frame every 5 ms until the client goes, then reports how long it kept going;
/// `hold` waits until released and counts how many requests it holds at once; anything else
/// gets a fixed buffered body.
#[derive(Default)]
struct Scripted {
    stopped: parking_lot::Mutex<Option<mpsc::UnboundedSender<Instant>>>,
    held: AtomicUsize,
    most_held: AtomicUsize,
    release: Notify,
}

impl Handler for Scripted {
    async fn handle(&self, request: WireRequest<'_>) -> WireResponse {
        let body = match request.target.unwrap_or_default() {
            "stream" => {
                let (tx, rx) = frame_stream("application/vnd.amazon.eventstream");
                tokio::spawn(async move {
                    for i in 0..5u8 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        if tx.send(Bytes::from(vec![i; 1000])).await.is_err() {
                            return;
                        }
                    }
                });
                ReplyBody::Stream(rx)
            }
            "forever" => {
                let (tx, rx) = frame_stream("application/vnd.amazon.eventstream");
                let stopped = self.stopped.lock().clone();
                tokio::spawn(async move {
                    while tx.send(Bytes::from_static(b"tick")).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    if let Some(s) = stopped {
                        let _ = s.send(Instant::now());
                    }
                });
                ReplyBody::Stream(rx)
            }
            "hold" => {
                let now = self.held.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_held.fetch_max(now, Ordering::SeqCst);
                self.release.notified().await;
                self.held.fetch_sub(1, Ordering::SeqCst);
                ReplyBody::Encoded(b"held".to_vec())
            }
            // What became of the body: its length, or why it could not be read (as a 400).
            "body" => match &request.body {
                Ok(body) => ReplyBody::Encoded(format!("{{\"length\":{}}}", body.len()).into_bytes()),
                Err(e) => {
                    let text = format!("{e:?}").into_bytes();
                    return WireResponse {
                        status: 400,
                        content_type: None,
                        error_type: None,
                        body: ReplyBody::Encoded(text),
                    };
                }
            },
            _ => ReplyBody::Encoded(b"{\"ok\":true}".to_vec()),
        };
        envelope::success_response(crate::protocol::Codec::Json, body)
    }
}

async fn start(handler: Arc<Scripted>, options: TransportOptions) -> (SocketAddr, Trigger) {
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(serve(listener, handler, options, signal));
    (addr, trigger)
}

fn post(target: &str) -> Request<Empty<Bytes>> {
    Request::post("/").header("x-amz-target", target).header("host", "localhost").body(Empty::new()).unwrap()
}

type H1 = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;
type H2 = hyper::client::conn::http2::SendRequest<Empty<Bytes>>;

async fn http1(addr: SocketAddr) -> (H1, tokio::task::JoinHandle<()>) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    (send, tokio::spawn(async move { drop(conn.await) }))
}

async fn http2(addr: SocketAddr) -> (H2, tokio::task::JoinHandle<()>) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
    (send, tokio::spawn(async move { drop(conn.await) }))
}

const LIMIT: Duration = Duration::from_secs(10);

async fn collect_frames(body: Incoming) -> Vec<Bytes> {
    let mut body = body;
    let mut frames = Vec::new();
    while let Some(frame) = tokio::time::timeout(LIMIT, body.frame()).await.unwrap() {
        if let Ok(data) = frame.unwrap().into_data() {
            frames.push(data);
        }
    }
    frames
}

fn assert_streamed(frames: Vec<Bytes>) {
    let all: Vec<u8> = frames.concat();
    let want: Vec<u8> = (0..5u8).flat_map(|i| vec![i; 1000]).collect();
    assert_eq!(all, want);
}

#[tokio::test]
async fn a_streamed_reply_arrives_whole_over_http1_chunked() {
    let (addr, _t) = start(Arc::default(), TransportOptions::default()).await;
    let (mut send, _conn) = http1(addr).await;
    let response = send.send_request(post("stream")).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/vnd.amazon.eventstream");
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert!(response.headers().contains_key("x-amzn-requestid"));
    assert_streamed(collect_frames(response.into_body()).await);
    // The connection stays usable after the stream ends.
    let response = send.send_request(post("other")).await.unwrap();
    assert_eq!(response.headers()["content-length"], "11");
}

#[tokio::test]
async fn a_streamed_reply_arrives_whole_over_http2() {
    let (addr, _t) = start(Arc::default(), TransportOptions::default()).await;
    let (mut send, _conn) = http2(addr).await;
    let response = send.send_request(post("stream")).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.headers()["content-type"], "application/vnd.amazon.eventstream");
    assert_streamed(collect_frames(response.into_body()).await);
}

async fn client_goes_away(http2_client: bool) {
    let handler = Arc::new(Scripted::default());
    let (tx, mut stopped) = mpsc::unbounded_channel();
    *handler.stopped.lock() = Some(tx);
    let (addr, _t) = start(handler, TransportOptions::default()).await;
    // The client reads a little, then its connection goes away.
    let (body, conn) = if http2_client {
        let (mut send, conn) = http2(addr).await;
        (send.send_request(post("forever")).await.unwrap().into_body(), conn)
    } else {
        let (mut send, conn) = http1(addr).await;
        (send.send_request(post("forever")).await.unwrap().into_body(), conn)
    };
    let mut body = body;
    let first = tokio::time::timeout(LIMIT, body.frame()).await.unwrap();
    assert!(first.is_some_and(|f| f.is_ok()), "the stream delivered a frame");
    assert!(stopped.try_recv().is_err(), "the producer stopped while the client was still there");
    let gone = Instant::now();
    conn.abort();
    drop(body);
    let stopped_at = tokio::time::timeout(LIMIT, stopped.recv()).await.expect("the producer stopped").unwrap();
    assert!(stopped_at >= gone);
    assert!(stopped_at - gone < Duration::from_secs(2), "the producer kept going {:?}", stopped_at - gone);
}

#[tokio::test]
async fn a_client_that_goes_away_ends_the_stream_promptly_over_http1() {
    client_goes_away(false).await;
}

#[tokio::test]
async fn a_client_that_goes_away_ends_the_stream_promptly_over_http2() {
    client_goes_away(true).await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let options = TransportOptions { max_connections: 1, ..TransportOptions::default() };
    let (addr, _t) = start(Arc::default(), options).await;
    let (mut first, first_conn) = http1(addr).await;
    assert_eq!(first.send_request(post("a")).await.unwrap().status(), 200);
    let (mut second, _second_conn) = http1(addr).await;
    let waiting = tokio::spawn(async move { second.send_request(post("b")).await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a second connection was served beyond the limit of one");
    drop(first);
    first_conn.abort();
    let status = tokio::time::timeout(LIMIT, waiting).await.expect("served once the slot freed").unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn http2_streams_per_connection_are_limited() {
    let handler = Arc::new(Scripted::default());
    let options = TransportOptions { max_http2_streams: 2, ..TransportOptions::default() };
    let (addr, _t) = start(handler.clone(), options).await;
    let (send, _conn) = http2(addr).await;
    // Let the client learn the server's SETTINGS before it opens streams.
    let mut warm = send.clone();
    warm.send_request(post("a")).await.unwrap();
    let mut requests = Vec::new();
    for _ in 0..5 {
        let mut send = send.clone();
        requests.push(tokio::spawn(async move { send.send_request(post("hold")).await.map(|r| r.status()) }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handler.held.load(Ordering::SeqCst), 2);
    let deadline = Instant::now() + LIMIT;
    while requests.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
        handler.release.notify_waiters();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for r in requests {
        assert_eq!(r.await.unwrap().unwrap(), 200);
    }
    assert_eq!(handler.most_held.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let (addr, trigger) = start(Arc::default(), TransportOptions::default()).await;
    let (mut send, _conn) = http1(addr).await;
    assert_eq!(send.send_request(post("a")).await.unwrap().status(), 200);
    trigger.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn request_bodies_wait_for_their_share_of_the_in_flight_budget() {
    let handler = Arc::new(Scripted::default());
    // The smallest budget allowed: one maximal body.
    let options = TransportOptions { body_bytes_in_flight: 0, ..TransportOptions::default() };
    let (addr, _t) = start(handler.clone(), options).await;
    let big = || {
        Request::post("/")
            .header("host", "localhost")
            .header("x-amz-target", "hold")
            .body(Full::new(Bytes::from(vec![b'x'; 10 * 1024 * 1024])))
            .unwrap()
    };
    let connect = || async {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io).await.unwrap();
        tokio::spawn(async move { drop(conn.await) });
        send
    };
    let (mut first, mut second) = (connect().await, connect().await);
    let held = tokio::spawn(async move { first.send_request(big()).await.unwrap().status() });
    let deadline = Instant::now() + LIMIT;
    while handler.held.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the first request never reached the handler");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waiting = tokio::spawn(async move { second.send_request(big()).await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handler.most_held.load(Ordering::SeqCst), 1, "two 10 MiB bodies were held within a 14.5 MiB budget");
    assert!(!waiting.is_finished());
    while !(held.is_finished() && waiting.is_finished()) {
        assert!(Instant::now() < deadline, "the requests were not answered once released");
        handler.release.notify_waiters();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held.await.unwrap(), 200);
    assert_eq!(waiting.await.unwrap(), 200);
    assert_eq!(handler.most_held.load(Ordering::SeqCst), 1);
}

/// Opens a TCP connection that says nothing.
async fn silent(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

#[tokio::test]
async fn idle_connections_are_closed_and_give_their_slot_back() {
    let options = TransportOptions {
        max_connections: 1,
        idle_timeout: Duration::from_millis(200),
        ..TransportOptions::default()
    };
    let (addr, _t) = start(Arc::default(), options).await;
    // A connection that never sends a byte holds the only slot, until it has been idle too long.
    let quiet = silent(addr).await;
    let (mut send, conn) = http1(addr).await;
    let started = Instant::now();
    let status = tokio::time::timeout(LIMIT, send.send_request(post("a"))).await.expect("served once the slot freed");
    assert_eq!(status.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150), "served before the silent connection timed out");
    drop(quiet);
    // The served connection is closed in turn once it has been idle.
    tokio::time::timeout(LIMIT, conn).await.expect("the idle connection was closed").unwrap();
}

#[tokio::test]
async fn a_streamed_reply_keeps_its_connection_open_past_the_idle_timeout() {
    let handler = Arc::new(Scripted::default());
    let (tx, mut stopped) = mpsc::unbounded_channel();
    *handler.stopped.lock() = Some(tx);
    let options = TransportOptions { idle_timeout: Duration::from_millis(100), ..TransportOptions::default() };
    let (addr, _t) = start(handler, options).await;
    let (mut send, _conn) = http1(addr).await;
    let mut body = send.send_request(post("forever")).await.unwrap().into_body();
    let until = Instant::now() + Duration::from_millis(600);
    let mut frames = 0;
    while Instant::now() < until {
        let frame = tokio::time::timeout(LIMIT, body.frame()).await.unwrap();
        assert!(frame.is_some_and(|f| f.is_ok()), "the stream ended while its response was being sent");
        frames += 1;
    }
    assert!(frames > 10);
    assert!(stopped.try_recv().is_err(), "the producer stopped while the client was reading");
}

#[tokio::test]
async fn a_stalled_upload_holds_only_what_it_sent() {
    let handler = Arc::new(Scripted::default());
    let options = TransportOptions { body_bytes_in_flight: 0, ..TransportOptions::default() };
    let (addr, _t) = start(handler, options).await;
    // Forty clients announce nearly the maximal body, send one byte and stall: declared sizes
    // alone would exhaust the budget 40 times over.
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        use tokio::io::AsyncWriteExt;
        s.write_all(b"POST / HTTP/1.1\r\nhost: localhost\r\nx-amz-target: a\r\ncontent-length: 15000000\r\n\r\nx")
            .await
            .unwrap();
        stalled.push(s);
    }
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io).await.unwrap();
    tokio::spawn(async move { drop(conn.await) });
    let request = Request::post("/")
        .header("host", "localhost")
        .header("x-amz-target", "a")
        .body(Full::new(Bytes::from(vec![b'x'; 1024 * 1024])))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), send.send_request(request))
        .await
        .expect("a normal request is served while uploads stall")
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(stalled);
}

// ------------------------------------------------------------------------ slow and idle clients

/// Sends `bytes` one at a time, `gap` apart, until they run out or the server closes the
/// connection; returns when and whether the server closed it (and what it answered, if it did).
async fn trickle(addr: SocketAddr, prefix: &[u8], bytes: &[u8], gap: Duration) -> (Instant, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(prefix).await.unwrap();
    let (mut read, mut write) = s.into_split();
    let answer = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        (Instant::now(), answer)
    });
    for &b in bytes {
        if answer.is_finished() || write.write_all(&[b]).await.is_err() {
            break;
        }
        tokio::time::sleep(gap).await;
    }
    tokio::time::timeout(LIMIT, answer).await.expect("the server closed the connection").unwrap()
}

/// A client that keeps being served while `slow` runs, each call answered well within `within`.
async fn served_meanwhile(
    addr: SocketAddr,
    slow: impl Future<Output = (Instant, Vec<u8>)>,
    within: Duration,
) -> (Instant, Vec<u8>) {
    let (mut send, _conn) = http1(addr).await;
    let mut slow = std::pin::pin!(slow);
    let mut calls = 0;
    loop {
        tokio::select! {
            done = &mut slow => {
                assert!(calls >= 3, "the other client was served only {calls} times");
                return done;
            }
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                let started = Instant::now();
                let response = tokio::time::timeout(within, send.send_request(post("a"))).await.expect("served promptly");
                assert_eq!(response.unwrap().status(), 200);
                calls += 1;
                assert!(started.elapsed() < within);
            }
        }
    }
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off_after_the_header_timeout() {
    let timeout = Duration::from_millis(400);
    let options = TransportOptions { header_read_timeout: timeout, ..TransportOptions::default() };
    let (addr, _t) = start(Arc::default(), options).await;
    // Endless headers, one byte every 20 ms: each byte is progress, but the whole head never ends.
    let endless: Vec<u8> =
        b"POST / HTTP/1.1\r\nhost: localhost\r\n".iter().copied().chain(std::iter::repeat_n(b'x', 10_000)).collect();
    let started = Instant::now();
    let (closed, _) =
        served_meanwhile(addr, trickle(addr, b"", &endless, Duration::from_millis(20)), Duration::from_millis(200))
            .await;
    assert_cut_off_on_time(closed - started, timeout);
}

/// Cut off no sooner than `timeout` (the client was still sending, or still connected), and not
/// much later: the default timeouts are 30 s and 60 s, so a late cut would be seconds late.
#[track_caller]
fn assert_cut_off_on_time(took: Duration, timeout: Duration) {
    assert!(took >= timeout, "cut off after {took:?}, before the {timeout:?} timeout");
    assert!(took < timeout + Duration::from_secs(2), "cut off only after {took:?}");
}

#[tokio::test]
async fn a_body_that_never_finishes_is_cut_off_after_the_body_timeout() {
    let timeout = Duration::from_millis(400);
    let options = TransportOptions { body_read_timeout: timeout, ..TransportOptions::default() };
    let (addr, _t) = start(Arc::default(), options).await;
    // The headers promise 1,000 bytes; they come one every 20 ms (the body would take 20 s), or
    // not at all.
    let head = b"POST / HTTP/1.1\r\nhost: localhost\r\nx-amz-target: body\r\ncontent-length: 1000\r\n\r\n";
    for body in [&[b'x'; 1000][..], &[]] {
        let started = Instant::now();
        let slow = trickle(addr, head, body, Duration::from_millis(20));
        let (closed, answer) = served_meanwhile(addr, slow, Duration::from_millis(200)).await;
        assert_cut_off_on_time(closed - started, timeout);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("did not arrive in time"), "{answer}");
    }
}

// ------------------------------------------------------------------------------------------ TLS

/// A plain and a TLS listener served together, the TLS one with a freshly generated
/// certificate; returns both addresses and the certificate file a client must trust.
async fn start_tls(
    handler: Arc<Scripted>,
    options: TransportOptions,
) -> (SocketAddr, SocketAddr, std::path::PathBuf, tempfile::TempDir, Trigger) {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls::Tls::load(&tls::CertSource::Generated { dir: dir.path().to_path_buf() }).unwrap();
    let plain = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let secure = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (plain_addr, tls_addr) = (plain.local_addr().unwrap(), secure.local_addr().unwrap());
    let (trigger, signal) = shutdown::channel();
    let listeners = vec![Listener::Plain(plain), Listener::Tls(secure, tls.acceptor)];
    tokio::spawn(serve_all(listeners, handler, options, signal));
    (plain_addr, tls_addr, tls.cert_path, dir, trigger)
}

/// A TLS client offering `alpn`, trusting only the certificate in `trusted` (or nothing).
async fn tls_connect(
    addr: SocketAddr,
    trusted: Option<&std::path::Path>,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = trusted {
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(path).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

#[tokio::test]
async fn tls_serves_http1_when_alpn_says_http1() {
    let (_, addr, cert, _dir, _t) = start_tls(Arc::default(), TransportOptions::default()).await;
    let tls = tls_connect(addr, Some(&cert), &[b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(async move { drop(conn.await) });
    let response = send.send_request(post("stream")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    assert_streamed(collect_frames(response.into_body()).await);
}

#[tokio::test]
async fn tls_serves_http2_when_alpn_says_h2() {
    let (_, addr, cert, _dir, _t) = start_tls(Arc::default(), TransportOptions::default()).await;
    // A client offering both gets h2: the server prefers it.
    let tls = tls_connect(addr, Some(&cert), &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(async move { drop(conn.await) });
    let response = send.send_request(post("stream")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_streamed(collect_frames(response.into_body()).await);
}

#[tokio::test]
async fn a_client_not_trusting_the_certificate_fails_the_handshake() {
    let (_, addr, _cert, _dir, _t) = start_tls(Arc::default(), TransportOptions::default()).await;
    let err = tls_connect(addr, None, &[b"h2"]).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer") || err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn plain_and_tls_connections_share_one_connection_limit() {
    let options = TransportOptions { max_connections: 1, ..TransportOptions::default() };
    let (plain, addr, cert, _dir, _t) = start_tls(Arc::default(), options).await;
    let (mut first, first_conn) = http1(plain).await;
    assert_eq!(first.send_request(post("a")).await.unwrap().status(), 200);
    let waiting = tokio::spawn(async move {
        let tls = tls_connect(addr, Some(&cert), &[b"http/1.1"]).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(async move { drop(conn.await) });
        send.send_request(post("b")).await.unwrap().status()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a TLS connection was served beyond the shared limit of one");
    drop(first);
    first_conn.abort();
    let status = tokio::time::timeout(LIMIT, waiting).await.expect("served once the slot freed").unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_silent_tls_client_does_not_hold_up_other_handshakes() {
    let (_, addr, cert, _dir, _t) = start_tls(Arc::default(), TransportOptions::default()).await;
    // Connected but never sends a ClientHello: its handshake waits in its own task.
    let _silent = silent(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let tls = tokio::time::timeout(Duration::from_secs(2), tls_connect(addr, Some(&cert), &[b"h2"]))
        .await
        .expect("a handshake waited behind a silent client")
        .unwrap();
    assert!(started.elapsed() < tls::TLS_HANDSHAKE_TIMEOUT);
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn a_tls_client_that_never_finishes_its_handshake_is_dropped_and_frees_its_slot() {
    let options = TransportOptions {
        max_connections: 1,
        tls_handshake_timeout: Duration::from_millis(300),
        ..TransportOptions::default()
    };
    let (_, addr, cert, _dir, _t) = start_tls(Arc::default(), options).await;
    // Holds the only connection slot without ever sending a ClientHello.
    let mut silent = silent(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let tls = tokio::time::timeout(LIMIT, tls_connect(addr, Some(&cert), &[b"h2"]))
        .await
        .expect("served once the silent client timed out")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "served before the silent client's handshake timed out");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The server closed the silent connection: reading it ends instead of waiting.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(LIMIT, tokio::io::AsyncReadExt::read(&mut silent, &mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the silent connection is still open: {read:?}");
}
