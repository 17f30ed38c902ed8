//! The api layer: one module per operation under `ops/`, each turning a validated, typed
//! request into engine calls and a typed response. Decoding, validation and encoding around
//! them are shared here, so an operation never sees the wire format.

pub mod common;
pub mod page;
pub mod records;
pub mod model;
pub mod ops;
pub mod shown;

use crate::engine::Engine;
use crate::error::{KinesisError, Result};
use crate::protocol::encode::Encode;
use crate::protocol::json::JsonEncoder;
use crate::protocol::validate::{Path, Violations};
use crate::protocol::{FromValue, Value};
use model::Operation;

/// The encoding of a request, which its response must use too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Json,
}

impl Codec {
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/x-amz-json-1.1",
        }
    }

    pub fn encode<T: Encode>(self, value: &T, size_hint: usize) -> Vec<u8> {
        match self {
            Codec::Json => {
                let mut e = JsonEncoder::with_capacity(size_hint);
                value.encode(&mut e);
                e.finish()
            }
        }
    }
}

/// A successful response body: void operations answer with an empty body, as AWS does.
pub enum Body {
    Empty,
    Encoded(Vec<u8>),
}

/// What an operation returns: a response shape, or `()` for void operations.
pub trait Reply {
    fn into_body(self, codec: Codec) -> Body;
}

impl Reply for () {
    fn into_body(self, _: Codec) -> Body {
        Body::Empty
    }
}

impl<T: Encode> Reply for T {
    fn into_body(self, codec: Codec) -> Body {
        Body::Encoded(codec.encode(&self, 512))
    }
}

/// A request shape: convertible from a decoded value and checkable against the model.
pub trait Request: FromValue + Default {
    fn check(&self, v: &mut Violations);
}

fn decode<T: Request>(value: Value) -> Result<T> {
    let input = T::from_value(value).map_err(|e| KinesisError::Serialization(e.0))?.unwrap_or_default();
    let mut violations = Violations::default();
    input.check(&mut violations);
    match violations.into_message() {
        Some(message) => Err(KinesisError::Validation(message)),
        None => Ok(input),
    }
}

macro_rules! requests {
    ($($input:ident),* $(,)?) => {
        $(impl Request for model::$input {
            fn check(&self, v: &mut Violations) {
                self.validate(Path::Root, v)
            }
        })*
    };
}

requests!(
    AddTagsToStreamInput, CreateStreamInput, DecreaseStreamRetentionPeriodInput, DeleteResourcePolicyInput,
    DeleteStreamInput, DeregisterStreamConsumerInput, DescribeAccountSettingsInput, DescribeLimitsInput,
    DescribeStreamConsumerInput, DescribeStreamInput, DescribeStreamSummaryInput, DisableEnhancedMonitoringInput,
    EnableEnhancedMonitoringInput, GetRecordsInput, GetResourcePolicyInput, GetShardIteratorInput,
    IncreaseStreamRetentionPeriodInput, ListShardsInput, ListStreamConsumersInput, ListStreamsInput,
    ListTagsForResourceInput, ListTagsForStreamInput, MergeShardsInput, PutRecordInput, PutRecordsInput,
    PutResourcePolicyInput, RegisterStreamConsumerInput, RemoveTagsFromStreamInput, SplitShardInput,
    StartStreamEncryptionInput, StopStreamEncryptionInput, SubscribeToShardInput, TagResourceInput,
    UntagResourceInput, UpdateAccountSettingsInput, UpdateMaxRecordSizeInput, UpdateShardCountInput,
    UpdateStreamModeInput, UpdateStreamWarmThroughputInput,
);

/// Runs one operation on a decoded request body.
pub async fn dispatch(engine: &Engine, codec: Codec, op: Operation, value: Value) -> Result<Body> {
    macro_rules! run {
        ($module:ident) => {{
            let input = decode(value)?;
            Ok(ops::$module::handle(engine, input).await?.into_body(codec))
        }};
    }
    use Operation::*;
    match op {
        CreateStream => run!(create_stream),
        DeleteStream => run!(delete_stream),
        DescribeStream => run!(describe_stream),
        DescribeStreamSummary => run!(describe_stream_summary),
        ListStreams => run!(list_streams),
        ListShards => run!(list_shards),
        ListTagsForStream => run!(list_tags_for_stream),
        PutRecord => run!(put_record),
        PutRecords => run!(put_records),
        GetShardIterator => run!(get_shard_iterator),
        GetRecords => run!(get_records),
        other => Err(KinesisError::NotImplemented(format!(
            "kinesd does not implement {} yet.",
            other.name()
        ))),
    }
}
