//! `GET /health`, `GET /ready` and `GET /metrics`: plain HTTP for whoever runs kinesd (a
//! container's health check, a load balancer, Prometheus), answered on the API port(s) to any
//! client, since they change nothing. Only GET and HEAD reach here (the transport's
//! `is_own_route`); a Kinesis request is a POST and never does.
//!
//! `/health` says the process answers. `/ready` says it can serve Kinesis requests: the store
//! is open and the catalog loaded (both happen before the port accepts connections), every
//! stream declared at start exists and is ACTIVE ([`DeclaredStreams`]), and it is not shutting
//! down — a draining kinesd answers 503 so that load balancers stop sending to it.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use serde_json::{Map, Value, json};

use super::admin::json_response;
use super::metrics::{CONTENT_TYPE, Metrics};
use crate::engine::Engine;
use crate::protocol::ReplyBody;
use crate::protocol::wire::{AdminRequest, WireResponse};
use crate::shutdown::Shutdown;

pub const HEALTH_PATH: &str = "/health";
pub const READY_PATH: &str = "/ready";
pub const METRICS_PATH: &str = "/metrics";

/// The streams declared at start (`[[stream]]`, `--streams`), which `/ready` checks by name in
/// the configured account rather than trusting that start-up created them (today they are
/// ACTIVE before the port serves; the check keeps `/ready` right if that order ever changes, or
/// on a node whose catalog is shared and still loading).
///
/// Ready once every declared stream has been seen ACTIVE, and ready from then on: a declared
/// stream that a client later deletes, reshards (UPDATING) or re-creates is the client's doing,
/// not a fault of the server. Flipping readiness for it would make an orchestrator unroute or
/// restart a server that serves every request correctly (and a restart would re-create the
/// stream behind the client's back). `/ready` still shows each declared stream's status.
#[derive(Debug, Default)]
pub struct DeclaredStreams {
    names: Vec<String>,
    /// Every declared stream has been ACTIVE at one check.
    reached: AtomicBool,
}

impl DeclaredStreams {
    pub fn new(names: Vec<String>) -> DeclaredStreams {
        DeclaredStreams { names, reached: AtomicBool::new(false) }
    }
}

/// `/ready` when not shutting down: 200 once the declared streams were all ACTIVE, else 503
/// naming those that are missing or not ACTIVE yet.
fn ready(engine: &Engine, declared: &DeclaredStreams) -> WireResponse {
    let streams = engine.streams_now();
    let account = &engine.config.account_id;
    let mut statuses = Map::new();
    let mut waiting = Vec::new();
    for name in &declared.names {
        let status =
            streams.iter().find(|s| s.name == *name && s.account == *account).map_or("missing", |s| s.status.as_str());
        if status != "ACTIVE" {
            waiting.push(Value::from(name.as_str()));
        }
        statuses.insert(name.clone(), Value::from(status));
    }
    if waiting.is_empty() {
        declared.reached.store(true, Relaxed);
    }
    if declared.reached.load(Relaxed) {
        json_response(200, json!({ "status": "ready", "streams": streams.len(), "declared": statuses }))
    } else {
        json_response(503, json!({ "status": "starting", "declared": statuses, "waiting_for": waiting }))
    }
}

/// The answer to one of these routes, or `None` for any other request.
pub fn handle(
    request: &AdminRequest<'_>,
    engine: &Engine,
    shutdown: &Shutdown,
    metrics: &Metrics,
    declared: &DeclaredStreams,
) -> Option<WireResponse> {
    if !matches!(request.method, "GET" | "HEAD") {
        return None;
    }
    Some(match request.path {
        HEALTH_PATH => json_response(200, json!({ "status": "ok" })),
        READY_PATH if shutdown.has_begun() => json_response(503, json!({ "status": "stopping" })),
        READY_PATH => ready(engine, declared),
        METRICS_PATH => WireResponse {
            status: 200,
            content_type: Some(CONTENT_TYPE),
            error_type: None,
            body: ReplyBody::Encoded(metrics.render().into_bytes()),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::Api;
    use crate::engine::EngineConfig;
    use crate::protocol::model::Operation;
    use crate::store::memory::MemoryStore;

    fn body(response: &WireResponse) -> Value {
        match &response.body {
            ReplyBody::Encoded(bytes) => serde_json::from_slice(bytes).unwrap(),
            _ => panic!("a JSON body"),
        }
    }

    /// Creates or deletes through the operations, then describes once so that the due
    /// transition is applied (the ticker does it in the server).
    async fn call(api: &Api, operation: Operation, name: &str) {
        let input = match operation {
            Operation::CreateStream => json!({ "StreamName": name, "ShardCount": 1 }),
            _ => json!({ "StreamName": name }),
        };
        api.call_local(operation, input).await.unwrap();
        let _ = api.call_local(Operation::DescribeStreamSummary, json!({ "StreamName": name })).await;
    }

    #[tokio::test]
    async fn ready_waits_for_every_declared_stream_then_stays_ready() {
        let config = EngineConfig { create_stream_ms: 0, delete_stream_ms: 0, ..EngineConfig::default() };
        let engine = crate::engine::Engine::open(config, Arc::new(MemoryStore::new())).await.unwrap();
        let (_trigger, shutdown) = crate::shutdown::channel();
        let api = Api::new(engine.clone(), shutdown);
        let declared = DeclaredStreams::new(vec!["orders".into(), "events".into()]);

        let response = ready(&engine, &declared);
        assert_eq!(response.status, 503);
        assert_eq!(
            body(&response),
            json!({ "status": "starting", "declared": { "orders": "missing", "events": "missing" }, "waiting_for": ["orders", "events"] })
        );
        call(&api, Operation::CreateStream, "orders").await;
        let response = ready(&engine, &declared);
        assert_eq!((response.status, body(&response)["waiting_for"].clone()), (503, json!(["events"])));

        call(&api, Operation::CreateStream, "events").await;
        let response = ready(&engine, &declared);
        assert_eq!(response.status, 200);
        assert_eq!(body(&response)["declared"], json!({ "orders": "ACTIVE", "events": "ACTIVE" }));

        // A client deleting a declared stream does not make the server unready; /ready shows it.
        call(&api, Operation::DeleteStream, "orders").await;
        let response = ready(&engine, &declared);
        assert_eq!(response.status, 200);
        assert_eq!(body(&response)["declared"], json!({ "orders": "missing", "events": "ACTIVE" }));

        // Nothing declared: ready at once.
        assert_eq!(ready(&engine, &DeclaredStreams::default()).status, 200);
    }
}
