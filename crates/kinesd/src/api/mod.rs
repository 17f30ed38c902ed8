//! The api layer: one module per operation under `ops/`, each turning a validated, typed
//! request into engine calls and a typed response. Decoding, validation and encoding around
//! them are shared here, so an operation never sees the wire format.

pub mod common;
#[rustfmt::skip]
pub mod model;
pub mod ops;
pub mod page;
pub mod records;
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
        let hint = self.size_hint();
        Body::Encoded(codec.encode(&self, hint))
    }
}

/// A request shape: convertible from a decoded value and checkable against the model.
pub trait Request: FromValue + Default {
    fn check(&self, v: &mut Violations);
}

/// A request body, decoded: usually the generic tree; PutRecords in JSON straight into its
/// typed input (see `protocol::fast`).
pub enum Parsed {
    Generic(Value),
    PutRecords(Box<model::PutRecordsInput>),
}

impl Parsed {
    fn into_value(self) -> Value {
        match self {
            Parsed::Generic(v) => v,
            // Only PutRecords takes the fast path, and it handles that variant itself.
            Parsed::PutRecords(_) => Value::Map(Vec::new()),
        }
    }
}

/// Decodes a request body. Malformed bodies are SerializationExceptions, as AWS answers.
pub fn parse(codec: Codec, op: Operation, body: &[u8]) -> Result<Parsed> {
    match codec {
        Codec::Json => {
            if op == Operation::PutRecords
                && let Some(input) = crate::protocol::fast::put_records(body)
            {
                return Ok(Parsed::PutRecords(Box::new(input)));
            }
            let value = crate::protocol::json::parse(body).map_err(|_| KinesisError::Serialization(String::new()))?;
            if !matches!(value, Value::Map(_)) {
                return Err(KinesisError::Serialization("Start of structure or map expected.".into()));
            }
            Ok(Parsed::Generic(value))
        }
    }
}

fn decode<T: Request>(value: Value) -> Result<T> {
    let input = T::from_value(value).map_err(|e| KinesisError::Serialization(e.0))?.unwrap_or_default();
    checked(input)
}

fn checked<T: Request>(input: T) -> Result<T> {
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
    AddTagsToStreamInput,
    CreateStreamInput,
    DecreaseStreamRetentionPeriodInput,
    DeleteResourcePolicyInput,
    DeleteStreamInput,
    DeregisterStreamConsumerInput,
    DescribeAccountSettingsInput,
    DescribeLimitsInput,
    DescribeStreamConsumerInput,
    DescribeStreamInput,
    DescribeStreamSummaryInput,
    DisableEnhancedMonitoringInput,
    EnableEnhancedMonitoringInput,
    GetRecordsInput,
    GetResourcePolicyInput,
    GetShardIteratorInput,
    IncreaseStreamRetentionPeriodInput,
    ListShardsInput,
    ListStreamConsumersInput,
    ListStreamsInput,
    ListTagsForResourceInput,
    ListTagsForStreamInput,
    MergeShardsInput,
    PutRecordInput,
    PutRecordsInput,
    PutResourcePolicyInput,
    RegisterStreamConsumerInput,
    RemoveTagsFromStreamInput,
    SplitShardInput,
    StartStreamEncryptionInput,
    StopStreamEncryptionInput,
    SubscribeToShardInput,
    TagResourceInput,
    UntagResourceInput,
    UpdateAccountSettingsInput,
    UpdateMaxRecordSizeInput,
    UpdateShardCountInput,
    UpdateStreamModeInput,
    UpdateStreamWarmThroughputInput,
);

/// Runs one operation on a decoded request body.
pub async fn dispatch(engine: &Engine, codec: Codec, op: Operation, parsed: Parsed) -> Result<Body> {
    macro_rules! run {
        ($module:ident) => {{
            let input = decode(parsed.into_value())?;
            Ok(ops::$module::handle(engine, input).await?.into_body(codec))
        }};
    }
    use Operation::*;
    match op {
        AddTagsToStream => run!(add_tags_to_stream),
        CreateStream => run!(create_stream),
        DecreaseStreamRetentionPeriod => run!(decrease_stream_retention_period),
        DeleteResourcePolicy => run!(delete_resource_policy),
        DeleteStream => run!(delete_stream),
        DescribeAccountSettings => run!(describe_account_settings),
        DescribeLimits => run!(describe_limits),
        DescribeStream => run!(describe_stream),
        DescribeStreamSummary => run!(describe_stream_summary),
        DisableEnhancedMonitoring => run!(disable_enhanced_monitoring),
        EnableEnhancedMonitoring => run!(enable_enhanced_monitoring),
        GetRecords => run!(get_records),
        GetResourcePolicy => run!(get_resource_policy),
        GetShardIterator => run!(get_shard_iterator),
        IncreaseStreamRetentionPeriod => run!(increase_stream_retention_period),
        ListShards => run!(list_shards),
        ListStreams => run!(list_streams),
        ListTagsForResource => run!(list_tags_for_resource),
        ListTagsForStream => run!(list_tags_for_stream),
        MergeShards => run!(merge_shards),
        PutRecord => run!(put_record),
        PutRecords => {
            let input = match parsed {
                Parsed::PutRecords(input) => checked(*input)?,
                Parsed::Generic(value) => decode(value)?,
            };
            Ok(ops::put_records::handle(engine, input).await?.into_body(codec))
        }
        PutResourcePolicy => run!(put_resource_policy),
        RemoveTagsFromStream => run!(remove_tags_from_stream),
        SplitShard => run!(split_shard),
        StartStreamEncryption => run!(start_stream_encryption),
        StopStreamEncryption => run!(stop_stream_encryption),
        TagResource => run!(tag_resource),
        UntagResource => run!(untag_resource),
        UpdateAccountSettings => run!(update_account_settings),
        UpdateMaxRecordSize => run!(update_max_record_size),
        UpdateShardCount => run!(update_shard_count),
        UpdateStreamMode => run!(update_stream_mode),
        UpdateStreamWarmThroughput => run!(update_stream_warm_throughput),
        other => Err(KinesisError::NotImplemented(format!("kinesd does not implement {} yet.", other.name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> Value {
        crate::protocol::json::parse(body.as_bytes()).unwrap()
    }

    fn validation_message<T: Request>(body: &str) -> String {
        match decode::<T>(json(body)) {
            Err(KinesisError::Validation(m)) => m,
            Err(other) => panic!("expected a ValidationException, got {other:?}"),
            Ok(_) => panic!("expected a ValidationException, the request passed"),
        }
    }

    #[test]
    fn generated_model_is_fresh() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new("python3")
            .arg(root.join("codegen/generate.py"))
            .arg("--stdout")
            .output()
            .expect("python3 runs the generator");
        assert!(out.status.success(), "generator failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            String::from_utf8_lossy(&out.stdout) == include_str!("model.rs"),
            "crates/kinesd/src/api/model.rs is stale: run `python3 codegen/generate.py`"
        );
    }

    #[test]
    fn every_model_pattern_compiles() {
        for pattern in model::all_patterns() {
            std::sync::LazyLock::force(pattern);
        }
    }

    #[test]
    fn put_record_violations_come_in_aws_order() {
        let m = validation_message::<model::PutRecordInput>(
            r#"{"StreamName":"","PartitionKey":"","Data":"","ExplicitHashKey":"","SequenceNumberForOrdering":""}"#,
        );
        assert_eq!(
            m,
            "5 validation errors detected: \
             Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); \
             Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value '' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); \
             Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn put_records_reports_nested_members_and_stops_at_ten() {
        let records: Vec<String> = (0..501).map(|_| r#"{"PartitionKey":"","Data":""}"#.to_owned()).collect();
        let m = validation_message::<model::PutRecordsInput>(&format!(
            r#"{{"StreamName":"s","Records":[{}]}}"#,
            records.join(",")
        ));
        assert!(
            m.starts_with(
                "10 validation errors detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@"
            ),
            "{m}"
        );
        assert!(m.contains(
            "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500; "
        ));
        assert!(m.ends_with(
            "Value '' at 'records.9.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
        ));
    }

    #[test]
    fn missing_required_members_are_null() {
        let m = validation_message::<model::GetShardIteratorInput>("{}");
        assert_eq!(
            m,
            "3 validation errors detected: \
             Value null at 'shardId' failed to satisfy constraint: Member must not be null; \
             Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null; \
             Value null at 'streamName' failed to satisfy constraint: Member must not be null"
        );
        // With a StreamARN instead, StreamName is not missing.
        let m = validation_message::<model::GetShardIteratorInput>(
            r#"{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s"}"#,
        );
        assert!(m.starts_with("2 validation errors detected: "), "{m}");
        let m = validation_message::<model::GetShardIteratorInput>(
            r#"{"StreamName":"s","ShardId":"0","ShardIteratorType":"X"}"#,
        );
        assert_eq!(
            m,
            "1 validation error detected: Value 'X' at 'shardIteratorType' failed to satisfy constraint: \
             Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
        );
    }

    #[test]
    fn tags_report_map_constraints() {
        let long_key = "k".repeat(129);
        let m = validation_message::<model::CreateStreamInput>(&format!(
            r#"{{"StreamName":"s","Tags":{{"{long_key}":"v"}}}}"#
        ));
        assert_eq!(
            m,
            format!(
                "1 validation error detected: Value '{{{long_key}=v}}' at 'tags' failed to satisfy constraint: \
                 Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"
            )
        );
    }

    #[test]
    fn type_errors_are_serialization_exceptions() {
        match decode::<model::DescribeStreamInput>(json(r#"{"StreamName":"s","Limit":"5"}"#)) {
            Err(KinesisError::Serialization(m)) => {
                assert_eq!(m, "class java.lang.String can not be converted to an Integer")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
