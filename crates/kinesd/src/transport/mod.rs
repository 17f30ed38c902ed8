//! The transport moves bytes and HTTP, nothing else: one TCP listener that speaks HTTP/1.1
//! and HTTP/2 with prior knowledge (h2c) — the JavaScript SDK v3 and the Java SDK v2 async
//! client use HTTP/2 for every call — with bounded connections, streams and request bodies,
//! request ids on every response, streamed reply bodies, and graceful shutdown. What a request
//! means is the [`Handler`]'s business (the api layer in the server).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::protocol::envelope;
use crate::protocol::reply::{FrameStream, ReplyBody};
use crate::protocol::wire::{BodyError, Handler, Peer, WireRequest, WireResponse};
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

/// How long shutdown waits for in-flight requests (and streamed replies, which end on the
/// shutdown signal) before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions { max_connections: 10_000, max_http2_streams: 100, body_bytes_in_flight: BODY_BYTES_IN_FLIGHT }
    }
}

/// Serves until `shutdown` begins, then lets in-flight requests finish (bounded).
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    options: TransportOptions,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(options.max_http2_streams)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    builder.http1().keep_alive(true);
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let connections = AtomicU64::new(0);
    let bodies = Arc::new(Semaphore::new(options.body_bytes_in_flight.clamp(MAX_BODY_BYTES, u32::MAX as usize)));
    loop {
        // A free slot first, then accept: connections beyond the limit wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = shutdown.wait() => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let peer = Peer { addr, connection: connections.fetch_add(1, Ordering::Relaxed) + 1 };
        let handler = handler.clone();
        let bodies = bodies.clone();
        let service = service_fn(move |req| {
            let handler = handler.clone();
            let bodies = bodies.clone();
            async move { Ok::<_, Infallible>(handle(&*handler, &bodies, peer, req).await) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("shutdown: gave up waiting for connections"),
    }
    Ok(())
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// One HTTP request: the HTTP-only answers (CORS preflight, non-POST), then the body read
/// within [`MAX_BODY_BYTES`], then everything else by the handler.
async fn handle<H: Handler>(handler: &H, bodies: &Semaphore, peer: Peer, req: Request<Incoming>) -> Response<HttpBody> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return cors_preflight(&parts.headers);
    }
    let cors = parts.headers.contains_key("origin");
    if parts.method != Method::POST {
        return respond(envelope::access_denied(), cors);
    }
    let declared = header(&parts.headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    let too_large = declared.is_some_and(|n| n > MAX_BODY_BYTES as u64);
    // The body's share of the server-wide budget, held until the request is answered.
    let share = if too_large { 0 } else { declared.map_or(MAX_BODY_BYTES, |n| n as usize) };
    // (The semaphore is never closed, so the acquisition cannot fail.)
    let _share = bodies.acquire_many(share as u32).await.ok();
    let body = if too_large {
        Err(BodyError::TooLarge(MAX_BODY_BYTES))
    } else {
        match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge(MAX_BODY_BYTES)),
            Err(e) => Err(BodyError::Unreadable(e.to_string())),
        }
    };
    let request = WireRequest {
        content_type: header(&parts.headers, "content-type"),
        target: header(&parts.headers, "x-amz-target"),
        authorization: header(&parts.headers, "authorization"),
        has_date: parts.headers.contains_key("x-amz-date") || parts.headers.contains_key("date"),
        query: parts.uri.query(),
        body,
        peer,
    };
    respond(handler.handle(request).await, cors)
}

/// A response body: one buffer (sent with its Content-Length) or a stream of frames (chunked
/// on HTTP/1.1, DATA frames on HTTP/2) that ends when its producer does or the client goes.
pub enum HttpBody {
    Full(Option<Bytes>),
    Frames(FrameStream),
}

impl http_body::Body for HttpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            HttpBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            HttpBody::Frames(frames) => frames.poll_frame(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, HttpBody::Full(None))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            HttpBody::Full(bytes) => http_body::SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            HttpBody::Frames(_) => http_body::SizeHint::default(),
        }
    }
}

impl HttpBody {
    fn bytes(b: Bytes) -> HttpBody {
        if b.is_empty() { HttpBody::Full(None) } else { HttpBody::Full(Some(b)) }
    }
}

fn respond(wire: WireResponse, cors: bool) -> Response<HttpBody> {
    let body = match wire.body {
        ReplyBody::Empty => HttpBody::Full(None),
        ReplyBody::Encoded(bytes) => HttpBody::bytes(Bytes::from(bytes)),
        ReplyBody::Stream(frames) => HttpBody::Frames(frames),
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
    let mut r = Response::new(HttpBody::Full(None));
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

#[cfg(test)]
mod tests;
