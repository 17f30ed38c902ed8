//! The transport moves bytes and HTTP, nothing else: a TCP listener that speaks HTTP/1.1
//! and HTTP/2 with prior knowledge (h2c), and optionally a TLS listener that speaks both through
//! ALPN (`h2`, `http/1.1`), served by the same code with the same limits — the JavaScript SDK v3 and the Java SDK v2 async
//! client use HTTP/2 for every call — with bounded connections, streams and request bodies,
//! request ids on every response, streamed reply bodies, and graceful shutdown. What a request
//! means is the [`Handler`]'s business (the api layer in the server).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rand::RngCore;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::protocol::envelope;
use crate::protocol::reply::ReplyBody;
use crate::protocol::wire::{
    AdminRequest, BodyError, ConnectionStats, Handler, Page, Peer, WireRequest, WireResponse, is_console_route,
    is_own_route,
};
use crate::shutdown::Shutdown;

/// Largest request body. AWS caps a PutRecords at 10 MiB of data and partition keys; in JSON
/// the data is base64 (4/3 of 10 MiB = 13.34 MiB) and each of up to 500 entries adds member
/// names, quotes and possibly escaped keys: 14.5 MiB holds the largest valid request with room
/// to spare, and anything larger cannot be valid, so it is refused before it is read.
pub const MAX_BODY_BYTES: usize = 14 * 1024 * 1024 + 512 * 1024;

/// Request-body bytes held by all requests at once: a request waits for its share (its
/// Content-Length, or [`MAX_BODY_BYTES`] when it has none) before its body is read, and gives it
/// back when it has been answered. Without it, 10,000 connections × 100 streams could each hold
/// a 14.5 MiB body; with it, bodies in memory stay under 512 MiB (35 maximal PutRecords at once,
/// far more than the largest batches the benchmarks send concurrently) whatever clients do.
pub const BODY_BYTES_IN_FLIGHT: usize = 512 * 1024 * 1024;

/// How long an HTTP/1.1 client may take to send a request's headers, however it trickles them
/// (the default of [`TransportOptions::header_read_timeout`]).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 pings on a connection silent this long; one unanswered for `HTTP2_PING_TIMEOUT` ends it.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// How long shutdown waits for in-flight requests (and streamed replies, which end on the
/// shutdown signal) before it gives up on them (the default of
/// [`TransportOptions::shutdown_timeout`]).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Limits on what clients may hold open.
#[derive(Debug, Clone, Copy)]
pub struct TransportOptions {
    /// Open connections at most; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per connection. With [`MAX_BODY_BYTES`] per request this
    /// bounds what one connection can make the server buffer.
    pub max_http2_streams: u32,
    /// See [`BODY_BYTES_IN_FLIGHT`]; at least [`MAX_BODY_BYTES`].
    pub body_bytes_in_flight: usize,
    /// A connection with no request in flight for this long is closed, so that idle or
    /// abandoned connections do not hold connection slots forever.
    pub idle_timeout: Duration,
    /// A TLS client that has not finished its handshake this long after connecting is dropped
    /// and gives its connection slot back.
    pub tls_handshake_timeout: Duration,
    /// See [`HEADER_READ_TIMEOUT`]: the connection is closed when a request's headers have not
    /// all arrived by then.
    pub header_read_timeout: Duration,
    /// See [`BODY_READ_TIMEOUT`]: a body not whole by then is answered as unreadable and its
    /// share of the budget given back.
    pub body_read_timeout: Duration,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            max_connections: 10_000,
            max_http2_streams: 100,
            body_bytes_in_flight: BODY_BYTES_IN_FLIGHT,
            shutdown_timeout: SHUTDOWN_GRACE,
            idle_timeout: Duration::from_secs(60),
            tls_handshake_timeout: tls::TLS_HANDSHAKE_TIMEOUT,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
        }
    }
}

/// A listening socket and what its connections speak.
pub enum Listener {
    /// HTTP/1.1 and prior-knowledge HTTP/2 (h2c).
    Plain(TcpListener),
    /// TLS first, then HTTP/1.1 or HTTP/2 as ALPN agreed.
    Tls(TcpListener, tokio_rustls::TlsAcceptor),
}

/// What every connection of every listener shares: one HTTP builder, one handler, one
/// connection limit and one request-body budget. The limits are per server, not per listener,
/// so a TLS listener beside the plain one does not double what clients may hold open.
struct Shared<H> {
    builder: auto::Builder<TokioExecutor>,
    handler: Arc<H>,
    bodies: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    connections: AtomicU64,
    /// The handler's connection counters, when it keeps them.
    stats: Option<Arc<ConnectionStats>>,
    idle_timeout: Duration,
    tls_handshake_timeout: Duration,
    body_read_timeout: Duration,
}

/// Serves one plain listener until `shutdown` begins, then lets in-flight requests finish
/// (bounded).
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    options: TransportOptions,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    serve_all(vec![Listener::Plain(listener)], handler, options, shutdown).await
}

/// Serves every listener with the same code path and limits until `shutdown` begins, then lets
/// in-flight requests finish (bounded).
pub async fn serve_all<H: Handler>(
    listeners: Vec<Listener>,
    handler: Arc<H>,
    options: TransportOptions,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Flow-control windows: 1 MiB per stream lets one PutRecords of typical size arrive without
    // waiting for a WINDOW_UPDATE; 4 MiB per connection lets a few run side by side. Larger
    // windows would only let a client push more unrequested bytes into memory.
    // Keep-alive pings find dead HTTP/2 peers; the header timeout ends HTTP/1.1 requests whose
    // headers never complete.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(options.max_http2_streams)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .keep_alive_interval(HTTP2_PING_INTERVAL)
        .keep_alive_timeout(HTTP2_PING_TIMEOUT);
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout).keep_alive(true);
    let max_connections = options.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let stats = handler.connection_stats();
    let shared = Arc::new(Shared {
        builder,
        stats,
        handler,
        bodies: Arc::new(Semaphore::new(options.body_bytes_in_flight.clamp(MAX_BODY_BYTES, u32::MAX as usize))),
        slots: Arc::new(Semaphore::new(max_connections)),
        connections: AtomicU64::new(0),
        idle_timeout: options.idle_timeout,
        tls_handshake_timeout: options.tls_handshake_timeout,
        body_read_timeout: options.body_read_timeout,
    });
    accept_loop(shared.clone(), listeners, shutdown).await;
    // Every connection gives its slot back when it has finished.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(options.shutdown_timeout, shared.slots.acquire_many(all)).await.is_err() {
        tracing::warn!(
            timeout_ms = options.shutdown_timeout.as_millis() as u64,
            "shutdown: gave up waiting for in-flight requests"
        );
    }
    Ok(())
}

/// Accepts on every listener until shutdown. One loop serves them all so that the connection
/// limit is exact: a slot is taken before accepting, and a loop per listener would each hold
/// one while waiting. The TLS handshake happens in the connection's task, never here, so a
/// slow or silent TLS client cannot hold up other clients' accepts.
async fn accept_loop<H: Handler>(shared: Arc<Shared<H>>, listeners: Vec<Listener>, mut shutdown: Shutdown) {
    let listeners: Vec<(TcpListener, Option<tokio_rustls::TlsAcceptor>)> = listeners
        .into_iter()
        .map(|listener| match listener {
            Listener::Plain(l) => (l, None),
            Listener::Tls(l, acceptor) => (l, Some(acceptor)),
        })
        .collect();
    let mut turn = 0usize;
    loop {
        // A free slot first, then accept: connections beyond the limit wait in the backlog.
        let slot = tokio::select! {
            slot = shared.slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = shutdown.wait() => break,
        };
        // The listener polled first takes turns, so a busy one cannot starve the other.
        turn = turn.wrapping_add(1);
        let ((stream, addr), tls) = tokio::select! {
            (accepted, tls) = accept_any(&listeners, turn) => match accepted {
                Ok(conn) => (conn, tls),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let peer = Peer { addr, connection: shared.connections.fetch_add(1, Ordering::Relaxed) + 1 };
        let (shared, mut shutdown) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            match tls {
                None => run_connection(&shared, TokioIo::new(stream), peer, shutdown).await,
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(shared.tls_handshake_timeout, acceptor.accept(stream)) => done,
                        () = shutdown.wait() => return drop(slot),
                    };
                    match handshake {
                        Ok(Ok(stream)) => run_connection(&shared, TokioIo::new(stream), peer, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, %addr, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
}

/// The next connection on any of `listeners`, with the TLS acceptor of the listener it came
/// from; listener `first % len` is polled first.
async fn accept_any(
    listeners: &[(TcpListener, Option<tokio_rustls::TlsAcceptor>)],
    first: usize,
) -> (std::io::Result<(TcpStream, SocketAddr)>, Option<tokio_rustls::TlsAcceptor>) {
    std::future::poll_fn(|cx| {
        for i in 0..listeners.len() {
            let (listener, tls) = &listeners[(first + i) % listeners.len()];
            if let std::task::Poll::Ready(accepted) = listener.poll_accept(cx) {
                return std::task::Poll::Ready((accepted, tls.clone()));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Serves one connection, whatever carries it, until it ends, shutdown closes it or it has been
/// idle for the idle timeout.
async fn run_connection<H, I>(shared: &Shared<H>, io: I, peer: Peer, mut shutdown: Shutdown)
where
    H: Handler,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    /// Counts the connection open while it lives.
    struct Open(Option<Arc<ConnectionStats>>);
    impl Drop for Open {
        fn drop(&mut self) {
            if let Some(stats) = &self.0 {
                stats.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
    if let Some(stats) = &shared.stats {
        stats.open.fetch_add(1, Ordering::Relaxed);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
    }
    let _open = Open(shared.stats.clone());
    let activity = Activity::new();
    let (handler, bodies, requests) = (shared.handler.clone(), shared.bodies.clone(), activity.clone());
    let body_timeout = shared.body_read_timeout;
    let service = service_fn(move |req| {
        let (handler, bodies, busy) = (handler.clone(), bodies.clone(), requests.busy());
        async move {
            let response = handle(&*handler, &bodies, body_timeout, peer, req).await;
            Ok::<_, Infallible>(response.map(|b| b.held_by(busy)))
        }
    });
    let conn = shared.builder.serve_connection(io, service);
    let idle_timeout = shared.idle_timeout;
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        // Re-read after every wake-up: requests may have come and gone meanwhile.
        let idle_at = activity.idle_deadline(idle_timeout);
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = shutdown.wait(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = connection::sleep_until(idle_at), if !closing => {
                if activity.idle_deadline(idle_timeout).is_some_and(|at| at <= tokio::time::Instant::now()) {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// One HTTP request: the HTTP-only answers (CORS preflight, non-POST), then the body read
/// within [`MAX_BODY_BYTES`], then kinesd's own routes (under `/_kinesd/`, any method;
/// `GET /health`, `/ready`, `/metrics`) and everything else by the handler.
async fn handle<H: Handler>(
    handler: &H,
    bodies: &Arc<Semaphore>,
    body_timeout: Duration,
    peer: Peer,
    req: Request<Incoming>,
) -> Response<HttpBody> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return cors_preflight(&parts.headers);
    }
    let cors = parts.headers.contains_key("origin");
    // The console's GETs carry no body worth reading: answered before any is.
    if is_console_route(parts.method.as_str(), parts.uri.path())
        && let Some(page) = handler.page(parts.uri.path())
    {
        return respond_page(page, cors);
    }
    let admin = is_own_route(parts.method.as_str(), parts.uri.path());
    if parts.method != Method::POST && !admin {
        return respond(envelope::access_denied(), cors);
    }
    let declared = header(&parts.headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    // The share of the body budget is held (in `_share`) until the request has been answered.
    let (body, _share) = if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        (Err(BodyError::TooLarge(MAX_BODY_BYTES)), None)
    } else {
        body::read(body, declared, MAX_BODY_BYTES, bodies, body_timeout).await
    };
    if admin {
        let request = AdminRequest { method: parts.method.as_str(), path: parts.uri.path(), body: &body, peer };
        if let Some(response) = handler.admin(request).await {
            return respond(response, cors);
        }
        if parts.method != Method::POST {
            return respond(envelope::access_denied(), cors);
        }
    }
    let request = WireRequest {
        content_type: header(&parts.headers, "content-type"),
        target: header(&parts.headers, "x-amz-target"),
        authorization: header(&parts.headers, "authorization"),
        has_date: parts.headers.contains_key("x-amz-date") || parts.headers.contains_key("date"),
        query: parts.uri.query(),
        method: parts.method.as_str(),
        path: parts.uri.path(),
        host: header(&parts.headers, "host").or_else(|| parts.uri.authority().map(|a| a.as_str())),
        headers: &parts.headers,
        body,
        peer,
    };
    respond(handler.handle(request).await, cors)
}

fn respond(wire: WireResponse, cors: bool) -> Response<HttpBody> {
    let body = match wire.body {
        ReplyBody::Empty => HttpBody::empty(),
        ReplyBody::Encoded(bytes) => HttpBody::bytes(Bytes::from(bytes)),
        ReplyBody::Stream(frames) => HttpBody::frames(frames),
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(wire.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    if let Some(content_type) = wire.content_type {
        h.insert("content-type", HeaderValue::from_static(content_type));
    }
    if let Some(error_type) = wire.error_type {
        h.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    }
    stamp(h, cors);
    r
}

/// A console page: its own headers beside the request ids every response carries.
fn respond_page(page: Page, cors: bool) -> Response<HttpBody> {
    let mut r = Response::new(HttpBody::bytes(page.body));
    *r.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(page.content_type));
    for (name, value) in page.headers {
        h.insert(*name, HeaderValue::from_static(value));
    }
    stamp(h, cors);
    r
}

/// Adds `x-amzn-RequestId` and `x-amz-id-2`, which SDKs record on every response.
fn stamp(h: &mut HeaderMap, cors: bool) {
    let mut rng = rand::rng();
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let hex = hex::encode(id);
    let uuid = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let mut id2 = [0u8; 72];
    rng.fill_bytes(&mut id2);
    use base64::Engine as _;
    let id2 = base64::engine::general_purpose::STANDARD.encode(id2);
    if let Ok(v) = HeaderValue::from_str(&uuid) {
        h.insert("x-amzn-requestid", v);
    }
    if let Ok(v) = HeaderValue::from_str(&id2) {
        h.insert("x-amz-id-2", v);
    }
    if cors {
        h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        h.insert("access-control-expose-headers", HeaderValue::from_static(EXPOSED_HEADERS));
    }
}

const EXPOSED_HEADERS: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

/// Browser SDKs send a CORS preflight before each call.
fn cors_preflight(req: &HeaderMap) -> Response<HttpBody> {
    let mut r = Response::new(HttpBody::empty());
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-max-age", HeaderValue::from_static("172800"));
    if let Some(v) = req.get("access-control-request-headers") {
        h.insert("access-control-allow-headers", v.clone());
    }
    if let Some(v) = req.get("access-control-request-method") {
        h.insert("access-control-allow-methods", v.clone());
    }
    stamp(h, true);
    // AWS answers preflights without an x-amz-id-2.
    h.remove("x-amz-id-2");
    r
}

mod body;
mod connection;
#[cfg(test)]
mod tests;
pub mod tls;

pub use body::{BODY_READ_TIMEOUT, HttpBody};
use connection::Activity;
