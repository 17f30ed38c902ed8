//! `GET /health`, `GET /ready` and `GET /metrics`: plain HTTP for whoever runs kinesd (a
//! container's health check, a load balancer, Prometheus), answered on the API port(s) to any
//! client, since they change nothing. Only GET and HEAD reach here (the transport's
//! `is_own_route`); a Kinesis request is a POST and never does.
//!
//! `/health` says the process answers. `/ready` says it can serve Kinesis requests: the store
//! is open and the catalog loaded (both happen before the port accepts connections), and it is
//! not shutting down — a draining kinesd answers 503 so that load balancers stop sending to it.

use serde_json::json;

use super::admin::json_response;
use super::metrics::{CONTENT_TYPE, Metrics};
use crate::engine::Engine;
use crate::protocol::ReplyBody;
use crate::protocol::wire::{AdminRequest, WireResponse};
use crate::shutdown::Shutdown;

pub const HEALTH_PATH: &str = "/health";
pub const READY_PATH: &str = "/ready";
pub const METRICS_PATH: &str = "/metrics";

/// The answer to one of these routes, or `None` for any other request.
pub fn handle(
    request: &AdminRequest<'_>,
    engine: &Engine,
    shutdown: &Shutdown,
    metrics: &Metrics,
) -> Option<WireResponse> {
    if !matches!(request.method, "GET" | "HEAD") {
        return None;
    }
    Some(match request.path {
        HEALTH_PATH => json_response(200, json!({ "status": "ok" })),
        READY_PATH if shutdown.has_begun() => json_response(503, json!({ "status": "stopping" })),
        READY_PATH => json_response(200, json!({ "status": "ready", "streams": engine.streams_now().len() })),
        METRICS_PATH => WireResponse {
            status: 200,
            content_type: Some(CONTENT_TYPE),
            error_type: None,
            body: ReplyBody::Encoded(metrics.render().into_bytes()),
        },
        _ => return None,
    })
}
