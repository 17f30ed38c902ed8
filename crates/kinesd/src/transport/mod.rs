//! The transport: one TCP listener that speaks HTTP/1.1 and HTTP/2 with prior knowledge
//! (h2c) — the JavaScript SDK v3 and the Java SDK v2 async client use HTTP/2 for every call —
//! with a bounded request body, request ids on every response, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rand::RngCore;
use tokio::net::TcpListener;

use crate::api::{self, Body, Codec};
use crate::auth;
use crate::engine::Engine;
use crate::error::KinesisError;
use crate::protocol::envelope::{self, ContentKind};

/// Largest request body: a full 10 MiB PutRecords is about 13.5 MiB of base64 JSON.
pub const MAX_BODY_BYTES: usize = 14 * 1024 * 1024 + 512 * 1024;

/// Serves until `shutdown` resolves, then lets in-flight requests finish (bounded).
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(1000)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    builder.http1().keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let engine = engine.clone();
                let service = service_fn(move |req| {
                    let engine = engine.clone();
                    async move { Ok::<_, Infallible>(handle(&engine, req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("shutdown: gave up waiting for connections"),
    }
    Ok(())
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// One request, start to finish. Never fails: every problem becomes an AWS error response.
async fn handle(engine: &Engine, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return cors_preflight(&parts.headers);
    }
    if parts.method != Method::POST {
        return access_denied(parts.headers.contains_key("origin"));
    }
    let kind = ContentKind::of(header(&parts.headers, "content-type"));
    let codec = kind.codec();
    let declared = header(&parts.headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    let bytes = if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        Err(too_large())
    } else {
        match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
            Err(e) => Err(KinesisError::Serialization(format!("Could not read the request body: {e}"))),
        }
    };
    // A body in a Content-Type AWS does not speak is refused before anything else: with an
    // XML AccessDeniedException when the target does not even name an operation, else with an
    // XML UnknownOperationException. `application/json` gets the legacy Coral envelope.
    let cors = parts.headers.contains_key("origin");
    if let Ok(body) = &bytes
        && !body.is_empty()
    {
        match kind {
            ContentKind::Other if envelope::target_has_operation(header(&parts.headers, "x-amz-target")) => {
                return xml_response(StatusCode::NOT_FOUND, "<UnknownOperationException/>\n", cors);
            }
            ContentKind::Other => return access_denied(cors),
            ContentKind::LegacyJson => {
                let mut r = Response::new(Full::new(Bytes::from_static(envelope::legacy_json_body(body).as_bytes())));
                r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
                stamp(r.headers_mut(), cors);
                return r;
            }
            ContentKind::AmzJson | ContentKind::Cbor => {}
        }
    }
    // AWS's order: the operation, then the body, then the credentials, then validation.
    let result = async {
        let op = envelope::operation(header(&parts.headers, "x-amz-target"))?;
        let codec = codec.ok_or_else(|| KinesisError::Serialization(String::new()))?;
        let bytes = bytes?;
        let parsed = api::parse(codec, op, &bytes)?;
        let has_date = parts.headers.contains_key("x-amz-date") || parts.headers.contains_key("date");
        auth::check_request(header(&parts.headers, "authorization"), has_date, parts.uri.query())?;
        api::dispatch(engine, codec, op, parsed).await
    }
    .await;
    let no_codec = codec.is_none();
    let codec = codec.unwrap_or(Codec::Json);
    let mut response = match result {
        Ok(Body::Empty) => Response::new(Full::new(Bytes::new())),
        Ok(Body::Encoded(bytes)) => {
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            r.headers_mut().insert("content-type", HeaderValue::from_static(codec.content_type()));
            r
        }
        Err(error) if no_codec => cbor_error_response(&error),
        Err(error) => error_response(codec, &error),
    };
    stamp(response.headers_mut(), cors);
    response
}

/// AWS answers anything but POST with an XML AccessDeniedException.
fn access_denied(cors: bool) -> Response<Full<Bytes>> {
    let body = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";
    xml_response(StatusCode::FORBIDDEN, body, cors)
}

/// AWS's XML errors carry no Content-Type.
fn xml_response(status: StatusCode, body: &'static str, cors: bool) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    stamp(r.headers_mut(), cors);
    r
}

fn too_large() -> KinesisError {
    KinesisError::RequestEntityTooLarge(format!("Request body exceeds the maximum of {MAX_BODY_BYTES} bytes."))
}

fn cbor_error_response(error: &KinesisError) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(envelope::cbor_error_body(error))));
    *r.status_mut() = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(envelope::CBOR_CONTENT_TYPE));
    h.insert("x-amzn-errortype", HeaderValue::from_static(error.type_name()));
    r
}

fn error_response(codec: Codec, error: &KinesisError) -> Response<Full<Bytes>> {
    if error.status() >= 500 {
        tracing::warn!(error = %error, kind = error.type_name(), "request failed");
    }
    let mut r = Response::new(Full::new(Bytes::from(envelope::error_body(codec, error))));
    *r.status_mut() = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(codec.content_type()));
    h.insert("x-amzn-errortype", HeaderValue::from_static(error.type_name()));
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
fn cors_preflight(req: &HeaderMap) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
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
