//! The api layer: one module per operation under `ops/`, each turning a validated, typed
//! request into engine calls and a typed reply. [`Api::handle`] runs a request through AWS's
//! order of checks — written down once, there — so an operation never sees the wire format,
//! the credentials or HTTP.

pub mod common;
pub mod context;
pub mod ops;
pub mod page;
pub mod records;
pub mod subscription;

use std::sync::Arc;

use crate::auth;
use crate::engine::Engine;
use crate::error::Result;
use crate::protocol::envelope::{self, Opened};
use crate::protocol::model::Operation;
use crate::protocol::request::{Parsed, input};
use crate::protocol::wire::{Handler, WireRequest, WireResponse};
use crate::protocol::{Reply, ReplyBody};
use crate::shutdown::Shutdown;
pub use context::Context;

/// The Kinesis API over an engine: what the transport serves.
pub struct Api {
    engine: Arc<Engine>,
    shutdown: Shutdown,
}

impl Api {
    pub fn new(engine: Arc<Engine>, shutdown: Shutdown) -> Api {
        Api { engine, shutdown }
    }

    /// One request, start to finish, in the order AWS checks things:
    /// 1. the envelope: a body in a Content-Type AWS does not speak is answered at once;
    /// 2. the operation named by `X-Amz-Target`;
    /// 3. the codec and the body (a malformed body is a SerializationException);
    /// 4. the credentials (a bad signature is reported only for a well-formed request);
    /// 5. the input's types and the model's constraints (ValidationException);
    /// 6. the operation itself.
    pub async fn handle(&self, request: WireRequest<'_>) -> WireResponse {
        let (authorization, has_date, query, peer) =
            (request.authorization, request.has_date, request.query, request.peer);
        let (operation, codec, parsed) = match envelope::open(request) {
            Opened::Answered(response) => return response,
            Opened::Failed(codec, error) => return envelope::error_response(codec, &error),
            Opened::Decoded { operation, codec, parsed } => (operation, codec, parsed),
        };
        let caller = match auth::authenticate(authorization, has_date, query, &self.engine.config.account_id) {
            Ok(caller) => caller,
            Err(error) => return envelope::error_response(Some(codec), &error),
        };
        let context = Context { engine: self.engine.clone(), caller, codec, peer, shutdown: self.shutdown.clone() };
        match dispatch(&context, operation, parsed).await {
            Ok(body) => envelope::success_response(codec, body),
            Err(error) => envelope::error_response(Some(codec), &error),
        }
    }
}

impl Handler for Api {
    fn handle(&self, request: WireRequest<'_>) -> impl Future<Output = WireResponse> + Send {
        Api::handle(self, request)
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
