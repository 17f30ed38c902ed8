//! The api layer: one module per operation under `ops/`, each turning a validated, typed
//! request into engine calls and a typed reply. [`Api::handle`] runs a request through AWS's
//! order of checks — written down once, there — so an operation never sees the wire format,
//! the credentials or HTTP.

pub mod access;
pub mod admin;
pub mod common;
pub mod console;
pub mod context;
pub mod faults;
pub mod health;
pub mod local;
pub mod metrics;
pub mod ops;
pub mod page;
pub mod policy_cache;
pub mod records;
pub mod subscription;
pub mod target;

use std::sync::Arc;

use crate::auth;
use crate::engine::Engine;
use crate::error::{KinesisError, Result};
use crate::protocol::envelope::{self, Opened};
use crate::protocol::model::Operation;
use crate::protocol::request::{Parsed, input};
use crate::protocol::wire::{AdminRequest, ConnectionStats, Handler, Page, WireRequest, WireResponse};
use crate::protocol::{Reply, ReplyBody};
use crate::shutdown::Shutdown;
pub use context::Context;

/// The Kinesis API over an engine: what the transport serves.
pub struct Api {
    engine: Arc<Engine>,
    shutdown: Shutdown,
    faults: Arc<faults::Faults>,
    /// Parsed resource policies, for every request's authorization (`policy_cache`).
    policies: Arc<policy_cache::PolicyCache>,
    auth: auth::Authenticator,
    requests: Arc<metrics::RequestMeters>,
    connections: Arc<ConnectionStats>,
    metrics: Arc<metrics::Metrics>,
    /// Requests slower than this are logged as warnings (`--slow-request-ms`; None: never).
    slow_request: Option<std::time::Duration>,
    /// The streams declared at start, which `/ready` waits for.
    declared: Arc<health::DeclaredStreams>,
}

/// What [`Api::handle`] learned about a request, for its metrics and its log line.
#[derive(Default)]
struct Seen {
    operation: Option<Operation>,
    /// Read only when the request is logged at debug level.
    stream: Option<String>,
}

impl Api {
    /// An api that accepts any well-formed signature, every caller acting in the configured
    /// account (see [`Api::with_authenticator`] for verified signatures).
    pub fn new(engine: Arc<Engine>, shutdown: Shutdown) -> Api {
        let auth = auth::Authenticator::AnySignature { account_id: engine.config.account_id.clone() };
        let requests = Arc::new(metrics::RequestMeters::default());
        let connections = Arc::new(ConnectionStats::default());
        let metrics = Arc::new(metrics::Metrics::new(engine.clone(), requests.clone(), connections.clone()));
        Api {
            engine,
            shutdown,
            faults: Arc::new(faults::Faults::new(None)),
            policies: Arc::default(),
            auth,
            requests,
            connections,
            metrics,
            slow_request: None,
            declared: Arc::default(),
        }
    }

    /// The same API, not ready (`/ready`) until these streams, declared at start, are ACTIVE.
    pub fn with_declared_streams(self, names: Vec<String>) -> Api {
        Api { declared: Arc::new(health::DeclaredStreams::new(names)), ..self }
    }

    /// The same API logging requests slower than `threshold` as warnings.
    pub fn with_slow_request_warning(self, threshold: Option<std::time::Duration>) -> Api {
        Api { slow_request: threshold, ..self }
    }

    /// The same API with these fault rules (`--faults`, the admin endpoint).
    pub fn with_faults(self, faults: Arc<faults::Faults>) -> Api {
        Api { faults, ..self }
    }

    /// The same API verifying signatures with `auth` (`--credentials`).
    pub fn with_authenticator(mut self, auth: auth::Authenticator) -> Api {
        self.auth = auth;
        self
    }

    /// One request, start to finish, in the order AWS checks things:
    /// 1. the envelope: a body in a Content-Type AWS does not speak is answered at once;
    /// 2. the operation named by `X-Amz-Target`;
    /// 3. the codec and the body (a malformed body is a SerializationException);
    /// 4. the credentials (a bad signature is reported only for a well-formed request);
    /// 5. the input's types and the model's constraints (ValidationException);
    /// 6. the operation itself — preceded, when fault rules or control-plane limits are in
    ///    force, by the latency and whole-call error a fault rule asks for, then the
    ///    account's call rate (LimitExceededException).
    pub async fn handle(&self, request: WireRequest<'_>) -> WireResponse {
        let started = std::time::Instant::now();
        let peer = request.peer;
        let mut seen = Seen::default();
        let response = self.answer(request, &mut seen).await;
        let latency = started.elapsed();
        self.requests.record(seen.operation, metrics::Outcome::of(&response), latency);
        let operation = seen.operation.map_or("unknown", |op| op.name());
        let (status, error) = (response.status, response.error_type.unwrap_or(""));
        let ms = latency.as_secs_f64() * 1e3;
        if self.slow_request.is_some_and(|slow| latency >= slow) {
            let stream = seen.stream.as_deref().unwrap_or("");
            tracing::warn!(operation, stream, status, error, ms, peer = %peer.addr, "slow request");
        } else {
            tracing::debug!(operation, stream = seen.stream.as_deref().unwrap_or(""), status, error, ms, peer = %peer.addr, "request");
        }
        response
    }

    /// [`Api::handle`] without the bookkeeping.
    async fn answer(&self, request: WireRequest<'_>, seen: &mut Seen) -> WireResponse {
        let (method, path, query, host, headers, peer) =
            (request.method, request.path, request.query, request.host, request.headers, request.peer);
        // The body is parsed before the credentials are checked (AWS's order), and a signature
        // covers the body as sent: keep a handle on it (a reference count, not a copy).
        let body = if self.auth.needs_body() { request.body.as_ref().ok().cloned() } else { None };
        let (operation, codec, parsed) = match envelope::open(request) {
            Opened::Answered(response) => return response,
            Opened::Failed(codec, error) => return envelope::error_response(codec, &error),
            Opened::Decoded { operation, codec, parsed } => (operation, codec, parsed),
        };
        seen.operation = Some(operation);
        // Only a log line at debug level pays for the stream's name (an allocation).
        if tracing::enabled!(tracing::Level::DEBUG) {
            seen.stream = target::of(&self.engine, operation, &parsed).stream;
        }
        let signed =
            auth::SignedRequest { method, path, query, host, headers, body: body.as_deref().unwrap_or_default() };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let caller = match self.auth.authenticate(&signed, now) {
            Ok(caller) => caller,
            Err(error) => return envelope::error_response(Some(codec), &error),
        };
        if let Err(error) = self.before_operation(operation, &parsed, &caller.account_id).await {
            return envelope::error_response(Some(codec), &error);
        }
        let context = Context {
            engine: self.engine.clone(),
            operation,
            caller,
            codec,
            peer,
            shutdown: self.shutdown.clone(),
            faults: self.faults.clone(),
            policies: self.policies.clone(),
        };
        match dispatch(&context, operation, parsed).await {
            Ok(body) => envelope::success_response(codec, body),
            Err(error) => envelope::error_response(Some(codec), &error),
        }
    }
}

impl Api {
    /// Fault rules' latency and whole-call errors, then control-plane rates. Reads the
    /// request's stream and shard only when one of them is in force.
    async fn before_operation(&self, operation: Operation, parsed: &Parsed, account: &str) -> Result<()> {
        let limits = self.engine.limits.as_ref().filter(|l| l.has_call_rate(operation.name()));
        let faulty = !self.faults.is_empty();
        if limits.is_none() && !faulty {
            return Ok(());
        }
        let target = target::of(&self.engine, operation, parsed);
        if faulty {
            let call = self.faults.on_call(operation.name(), target.stream.as_deref(), target.shard);
            if let Some(latency) = call.latency {
                let mut shutdown = self.shutdown.clone();
                tokio::select! {
                    () = tokio::time::sleep(latency) => {}
                    () = shutdown.wait() => {}
                }
            }
            if let Some(error) = call.error {
                let shard = target.shard.map(crate::engine::catalog::shard_id);
                let error = KinesisError::injected(&error, target.stream.as_deref(), shard.as_deref(), account);
                return Err(error.unwrap_or_else(KinesisError::internal_failure));
            }
        }
        if let Some(limits) = limits
            && !limits.admit_call(account, operation.name(), target.stream.as_deref())
        {
            return Err(match &target.stream {
                Some(stream) => KinesisError::stream_rate_exceeded(stream, account),
                None => KinesisError::account_rate_exceeded(account),
            });
        }
        Ok(())
    }
}

impl Handler for Api {
    fn handle(&self, request: WireRequest<'_>) -> impl Future<Output = WireResponse> + Send {
        Api::handle(self, request)
    }

    fn admin(&self, request: AdminRequest<'_>) -> impl Future<Output = Option<WireResponse>> + Send {
        let response = health::handle(&request, &self.engine, &self.shutdown, &self.metrics, &self.declared)
            .or_else(|| admin::handle(&self.faults, request));
        std::future::ready(response)
    }

    fn page(&self, path: &str) -> Option<Page> {
        let credentials = matches!(self.auth, auth::Authenticator::Verifying { .. });
        Some(console::Console { region: &self.engine.config.region, credentials }.page(path))
    }

    fn connection_stats(&self) -> Option<Arc<ConnectionStats>> {
        Some(self.connections.clone())
    }
}

/// Runs one operation on a decoded request body (steps 5 and 6 of [`Api::handle`]).
pub async fn dispatch(context: &Context, op: Operation, parsed: Parsed) -> Result<ReplyBody> {
    macro_rules! run {
        ($module:ident) => {{
            let input = input(parsed)?;
            Ok(ops::$module::handle(context, input).await?.into_body(context.codec))
        }};
    }
    use Operation::*;
    match op {
        AddTagsToStream => run!(add_tags_to_stream),
        CreateStream => run!(create_stream),
        DecreaseStreamRetentionPeriod => run!(decrease_stream_retention_period),
        DeleteResourcePolicy => run!(delete_resource_policy),
        DeleteStream => run!(delete_stream),
        DeregisterStreamConsumer => run!(deregister_stream_consumer),
        DescribeAccountSettings => run!(describe_account_settings),
        DescribeLimits => run!(describe_limits),
        DescribeStream => run!(describe_stream),
        DescribeStreamConsumer => run!(describe_stream_consumer),
        DescribeStreamSummary => run!(describe_stream_summary),
        DisableEnhancedMonitoring => run!(disable_enhanced_monitoring),
        EnableEnhancedMonitoring => run!(enable_enhanced_monitoring),
        GetRecords => run!(get_records),
        GetResourcePolicy => run!(get_resource_policy),
        GetShardIterator => run!(get_shard_iterator),
        IncreaseStreamRetentionPeriod => run!(increase_stream_retention_period),
        ListShards => run!(list_shards),
        ListStreamConsumers => run!(list_stream_consumers),
        ListStreams => run!(list_streams),
        ListTagsForResource => run!(list_tags_for_resource),
        ListTagsForStream => run!(list_tags_for_stream),
        MergeShards => run!(merge_shards),
        PutRecord => run!(put_record),
        PutRecords => run!(put_records),
        PutResourcePolicy => run!(put_resource_policy),
        RegisterStreamConsumer => run!(register_stream_consumer),
        RemoveTagsFromStream => run!(remove_tags_from_stream),
        SplitShard => run!(split_shard),
        StartStreamEncryption => run!(start_stream_encryption),
        StopStreamEncryption => run!(stop_stream_encryption),
        SubscribeToShard => run!(subscribe_to_shard),
        TagResource => run!(tag_resource),
        UntagResource => run!(untag_resource),
        UpdateAccountSettings => run!(update_account_settings),
        UpdateMaxRecordSize => run!(update_max_record_size),
        UpdateShardCount => run!(update_shard_count),
        UpdateStreamMode => run!(update_stream_mode),
        UpdateStreamWarmThroughput => run!(update_stream_warm_throughput),
    }
}
