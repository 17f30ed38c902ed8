//! A request and a response as the protocol sees them, free of HTTP: the transport fills a
//! [`WireRequest`] from whatever carried it (HTTP/1.1, HTTP/2, later TLS) and writes the
//! [`WireResponse`] back, adding only what HTTP itself needs (request ids, CORS, framing).

use std::net::SocketAddr;

use bytes::Bytes;

use super::reply::ReplyBody;

/// The connection a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Numbers connections from 1 in accept order, for logs and per-connection limits.
    pub connection: u64,
}

/// Why the transport could not hand over a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the transport accepts; the limit in bytes.
    TooLarge(usize),
    /// The client stopped sending or the connection failed.
    Unreadable(String),
}

/// The parts of a request AWS looks at, in the order of `api::handle`.
#[derive(Debug)]
pub struct WireRequest<'a> {
    pub content_type: Option<&'a str>,
    /// `X-Amz-Target`: `Kinesis_20131202.<Operation>`.
    pub target: Option<&'a str>,
    pub authorization: Option<&'a str>,
    /// Whether an `X-Amz-Date` or `Date` header is present (SigV4 needs one).
    pub has_date: bool,
    /// The raw query string, which may carry presigned SigV4 parameters.
    pub query: Option<&'a str>,
    /// What else a SigV4 signature covers: the method, the path as sent, the `Host` (or HTTP/2
    /// `:authority`) and every header. Read only by the auth layer, which verifies signatures.
    pub method: &'a str,
    pub path: &'a str,
    pub host: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: Result<Bytes, BodyError>,
    pub peer: Peer,
}

/// A response, ready to be framed by the transport.
pub struct WireResponse {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// `x-amzn-ErrorType`, on error responses.
    pub error_type: Option<&'static str>,
    pub body: ReplyBody,
}

impl WireResponse {
    /// A fixed body AWS sends before it looks at the operation (XML errors, the legacy JSON
    /// envelope).
    pub fn fixed(status: u16, content_type: Option<&'static str>, body: &'static str) -> WireResponse {
        WireResponse { status, content_type, error_type: None, body: ReplyBody::Encoded(body.as_bytes().to_vec()) }
    }
}

/// Where kinesd's own HTTP routes live (fault rules today); any other path is a Kinesis
/// request, whatever it is (AWS ignores the path).
pub const ADMIN_PREFIX: &str = "/_kinesd/";

/// kinesd's plain-HTTP routes for whoever runs it (health checks, Prometheus): answered to GET
/// (and HEAD) only, so they are never confused with a Kinesis request, which is a POST.
pub const OPERATIONAL_PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

/// Whether a request is for one of kinesd's own routes rather than a Kinesis operation.
pub fn is_own_route(method: &str, path: &str) -> bool {
    path.starts_with(ADMIN_PREFIX) || (matches!(method, "GET" | "HEAD") && OPERATIONAL_PATHS.contains(&path))
}

/// The web console's page; its assets live under `/console/`. Answered to GET and HEAD only,
/// like the operational paths, so a Kinesis POST to these paths stays a Kinesis request.
pub const CONSOLE_PATH: &str = "/console";

/// Whether a request is for the web console (its page or one of its assets).
pub fn is_console_route(method: &str, path: &str) -> bool {
    matches!(method, "GET" | "HEAD")
        && path.strip_prefix(CONSOLE_PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A page or asset of the web console, with the headers a browser needs beside its body
/// (caching, content security policy), which Kinesis responses never carry.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub content_type: &'static str,
    /// Further headers, written as they are.
    pub headers: &'static [(&'static str, &'static str)],
    pub body: Bytes,
}

/// Client connections, counted by the transport for the handler's metrics.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now (plain and TLS).
    pub open: std::sync::atomic::AtomicU64,
    /// Connections accepted since the start.
    pub accepted: std::sync::atomic::AtomicU64,
}

/// A request to one of kinesd's own routes ([`is_own_route`]), not a Kinesis operation.
#[derive(Debug)]
pub struct AdminRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a Result<Bytes, BodyError>,
    pub peer: Peer,
}

/// Whatever answers requests: the api layer in the server, a scripted handler in the
/// transport's own tests.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: WireRequest<'_>) -> impl Future<Output = WireResponse> + Send;

    /// Answers a request to one of kinesd's own routes, or `None` when the path is not one
    /// (the request is then handled as a Kinesis request).
    fn admin(&self, request: AdminRequest<'_>) -> impl Future<Output = Option<WireResponse>> + Send {
        let _ = request;
        async { None }
    }

    /// Answers a GET or HEAD of the web console ([`is_console_route`]), or `None` when the
    /// handler serves no console (the request is then handled as a Kinesis request).
    fn page(&self, path: &str) -> Option<Page> {
        let _ = path;
        None
    }

    /// Where the transport counts connections, if the handler wants them counted.
    fn connection_stats(&self) -> Option<std::sync::Arc<ConnectionStats>> {
        None
    }
}
