//! Request bodies into typed, validated inputs. Two steps, because AWS reports them at
//! different points: [`parse`] runs before the credentials are checked (a malformed body is a
//! SerializationException even without a valid signature), [`input`] after (type mismatches,
//! then the model's constraints, as a ValidationException listing every violation).

use bytes::Bytes;

use super::codec::Codec;
use super::model::{self, Operation};
use super::validate::{Path, Violations};
use super::{FromValue, Value};
use crate::error::{KinesisError, Result};

/// A request shape: convertible from a decoded value and checkable against the model.
pub trait Request: FromValue + Default {
    fn check(&self, v: &mut Violations);

    /// The typed input, when the codec's fast path already produced it; otherwise the body
    /// back, for the generic conversion.
    fn take_fast(parsed: Parsed) -> std::result::Result<Self, Parsed> {
        Err(parsed)
    }
}

/// A request body, decoded: usually the generic tree; PutRecords straight into its typed
/// input (see `fast.rs` and `cbor::put_records`).
pub enum Parsed {
    Generic(Value),
    /// A CBOR body: untagged timestamp numbers in it are milliseconds.
    Cbor(Value),
    PutRecords(Box<model::PutRecordsInput>),
}

/// Decodes a request body. Malformed bodies are SerializationExceptions, as AWS answers.
pub fn parse(codec: Codec, op: Operation, body: &Bytes) -> Result<Parsed> {
    match codec {
        Codec::Json => {
            if op == Operation::PutRecords
                && let Some(input) = super::fast::put_records(body)
            {
                return Ok(Parsed::PutRecords(Box::new(input)));
            }
            let value = super::json::parse(body).map_err(|_| KinesisError::body_undecodable())?;
            if !matches!(value, Value::Map(_)) {
                return Err(KinesisError::body_not_a_structure());
            }
            Ok(Parsed::Generic(value))
        }
        Codec::Cbor => {
            // An empty body is no document at all, which AWS answers like undecodable JSON.
            if body.is_empty() {
                return Err(KinesisError::body_undecodable());
            }
            if op == Operation::PutRecords
                && let Some(input) = super::cbor::put_records(body)
            {
                return Ok(Parsed::PutRecords(Box::new(input)));
            }
            let value = super::cbor::parse(body).map_err(|e| KinesisError::cbor_malformed(e.0))?;
            if !matches!(value, Value::Map(_)) {
                return Err(KinesisError::body_not_a_structure());
            }
            Ok(Parsed::Cbor(value))
        }
    }
}

/// The typed input of a parsed body: type mismatches are SerializationExceptions, constraint
/// violations one ValidationException in AWS's order.
pub fn input<T: Request>(parsed: Parsed) -> Result<T> {
    let parsed = match T::take_fast(parsed) {
        Ok(fast) => return checked(fast),
        Err(parsed) => parsed,
    };
    let converted = match parsed {
        Parsed::Generic(v) => T::from_value(v),
        Parsed::Cbor(v) => super::decode::numbers_as_millis(|| T::from_value(v)),
        // Only PutRecords' fast path makes this variant, and it takes it above.
        Parsed::PutRecords(_) => T::from_value(Value::Map(Vec::new())),
    };
    let input = converted.map_err(|e| KinesisError::member_type_mismatch(e.0))?.unwrap_or_default();
    checked(input)
}

fn checked<T: Request>(input: T) -> Result<T> {
    let mut violations = Violations::default();
    input.check(&mut violations);
    match violations.into_message() {
        Some(message) => Err(KinesisError::constraints_violated(message)),
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

impl Request for model::PutRecordsInput {
    fn check(&self, v: &mut Violations) {
        self.validate(Path::Root, v)
    }

    fn take_fast(parsed: Parsed) -> std::result::Result<Self, Parsed> {
        match parsed {
            Parsed::PutRecords(input) => Ok(*input),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> Value {
        crate::protocol::json::parse(body.as_bytes()).unwrap()
    }

    fn validation_message<T: Request>(body: &str) -> String {
        match input::<T>(Parsed::Generic(json(body))) {
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
            "crates/kinesd/src/protocol/model.rs is stale: run `python3 codegen/generate.py`"
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

    /// Encodes a JSON document as CBOR the way the Java SDKs would (indefinite maps).
    fn cbor(body: &str) -> Bytes {
        fn write(e: &mut crate::protocol::cbor::CborEncoder, v: &serde_json::Value) {
            use crate::protocol::Encoder;
            match v {
                serde_json::Value::Null => e.null(),
                serde_json::Value::Bool(b) => e.bool(*b),
                serde_json::Value::Number(n) => e.int(n.as_i64().unwrap()),
                serde_json::Value::String(s) => e.string(s),
                serde_json::Value::Array(items) => {
                    e.begin_list(items.len());
                    items.iter().for_each(|i| write(e, i));
                    e.end_list();
                }
                serde_json::Value::Object(members) => {
                    e.begin_struct();
                    for (k, v) in members {
                        e.field(k);
                        write(e, v);
                    }
                    e.end_struct();
                }
            }
        }
        let mut e = crate::protocol::cbor::CborEncoder::with_capacity(64);
        write(&mut e, &serde_json::from_str(body).unwrap());
        Bytes::from(e.finish())
    }

    #[test]
    fn cbor_requests_validate_and_fail_like_json() {
        for body in [
            r#"{"StreamName":"","PartitionKey":"","Data":"","ExplicitHashKey":"","SequenceNumberForOrdering":""}"#,
            r#"{"StreamName":"s","Limit":"5"}"#,
        ] {
            let from_json = input::<model::PutRecordInput>(Parsed::Generic(json(body))).map(|_| ());
            let from_cbor =
                input::<model::PutRecordInput>(parse(Codec::Cbor, Operation::PutRecord, &cbor(body)).unwrap())
                    .map(|_| ());
            assert_eq!(format!("{from_json:?}"), format!("{from_cbor:?}"));
        }
        let not_a_map = parse(Codec::Cbor, Operation::ListStreams, &Bytes::from_static(&[0x01])).err();
        assert_eq!(not_a_map, Some(KinesisError::body_not_a_structure()));
        let empty = parse(Codec::Cbor, Operation::ListStreams, &Bytes::new()).err();
        assert_eq!(empty, Some(KinesisError::body_undecodable()));
        match parse(Codec::Cbor, Operation::ListStreams, &Bytes::from_static(&[0xbf, 0x01])) {
            Err(KinesisError::Serialization(m)) => assert!(m.starts_with("Malformed CBOR request body: "), "{m}"),
            _ => panic!("malformed CBOR must be a SerializationException"),
        }
    }

    #[test]
    fn untagged_cbor_timestamps_are_milliseconds() {
        let body =
            cbor(r#"{"StreamName":"s","ShardId":"0","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1700000000123}"#);
        let parsed = parse(Codec::Cbor, Operation::GetShardIterator, &body).unwrap();
        let typed = input::<model::GetShardIteratorInput>(parsed).unwrap();
        assert_eq!(typed.timestamp.map(|t| t.millis), Some(1_700_000_000_123));
        // Tagged (c1 + integer ms) means the same.
        let mut tagged = body.to_vec();
        let at = tagged.windows(9).position(|w| w == b"Timestamp").unwrap() + 9;
        tagged.insert(at, 0xc1);
        let parsed = parse(Codec::Cbor, Operation::GetShardIterator, &Bytes::from(tagged)).unwrap();
        let typed = input::<model::GetShardIteratorInput>(parsed).unwrap();
        assert_eq!(typed.timestamp.map(|t| t.millis), Some(1_700_000_000_123));
    }

    #[test]
    fn type_errors_are_serialization_exceptions() {
        match input::<model::DescribeStreamInput>(Parsed::Generic(json(r#"{"StreamName":"s","Limit":"5"}"#))) {
            Err(KinesisError::Serialization(m)) => {
                assert_eq!(m, "class java.lang.String can not be converted to an Integer")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}

/// JSON and CBOR forms of one random request must decode to the same typed input or the same
/// error: blobs are base64 text in JSON and byte strings in CBOR, timestamps seconds in JSON and
/// tag 1 + milliseconds in CBOR, everything else the same item in both.
#[cfg(test)]
mod json_cbor_equivalence {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::Encoder;
    use crate::protocol::cbor::CborEncoder;
    use crate::protocol::json::JsonEncoder;

    #[derive(Debug, Clone)]
    enum Doc {
        Null,
        Bool(bool),
        Int(i64),
        Text(String),
        /// Only under `Data`, where both codecs mean a blob.
        Blob(Vec<u8>),
        /// Only under `Timestamp`: whole seconds.
        Seconds(i64),
        List(Vec<Doc>),
        Map(Vec<(String, Doc)>),
    }

    fn write<E: Encoder>(e: &mut E, d: &Doc, json: bool) {
        match d {
            Doc::Null => e.null(),
            Doc::Bool(b) => e.bool(*b),
            Doc::Int(i) => e.int(*i),
            Doc::Text(s) => e.string(s),
            Doc::Blob(b) if json => {
                use base64::Engine as _;
                e.string(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Doc::Blob(b) => e.blob(b),
            Doc::Seconds(s) if json => e.int(*s),
            Doc::Seconds(s) => e.timestamp(s * 1000),
            Doc::List(items) => {
                e.begin_list(items.len());
                items.iter().for_each(|i| write(e, i, json));
                e.end_list();
            }
            Doc::Map(members) => {
                e.begin_struct();
                for (k, v) in members {
                    e.field(k);
                    write(e, v, json);
                }
                e.end_struct();
            }
        }
    }

    fn leaf() -> impl Strategy<Value = Doc> {
        prop_oneof![
            Just(Doc::Null),
            any::<bool>().prop_map(Doc::Bool),
            (-3i64..3_000).prop_map(Doc::Int),
            prop::sample::select(vec![
                "",
                "s",
                "0",
                "shardId-000000000000",
                "AT_TIMESTAMP",
                "TRIM_HORIZON",
                "k",
                "x y"
            ])
            .prop_map(|s| Doc::Text(s.to_owned())),
        ]
    }

    fn member(name: &'static str) -> BoxedStrategy<(String, Doc)> {
        let value = match name {
            "Data" => prop_oneof![
                3 => prop::collection::vec(any::<u8>(), 0..20).prop_map(Doc::Blob),
                1 => leaf(),
            ]
            .boxed(),
            // An untagged number is seconds in JSON and milliseconds in CBOR by design
            // (`decode::numbers_as_millis`), so only tagged timestamps and non-numbers here.
            "Timestamp" => prop_oneof![
                3 => (0i64..2_000_000_000).prop_map(Doc::Seconds),
                1 => leaf().prop_filter("untagged numbers differ by design", |d| !matches!(d, Doc::Int(_))),
            ]
            .boxed(),
            "Records" => prop_oneof![
                4 => prop::collection::vec(record(), 0..4).prop_map(Doc::List),
                1 => leaf(),
                1 => prop::collection::vec(leaf(), 0..3).prop_map(Doc::List),
            ]
            .boxed(),
            _ => prop_oneof![4 => leaf(), 1 => prop::collection::vec(leaf(), 0..2).prop_map(Doc::List)].boxed(),
        };
        value.prop_map(move |v| (name.to_owned(), v)).boxed()
    }

    /// Valid members first, so that most requests get past validation and the typed inputs
    /// themselves are compared; then random members, which may repeat or spoil them.
    fn with_base(base: Vec<(&'static str, Doc)>, names: Vec<&'static str>) -> impl Strategy<Value = Doc> {
        let base: Vec<(String, Doc)> = base.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        prop::collection::vec(prop::sample::select(names).prop_flat_map(member), 0..3).prop_map(move |extra| {
            let mut members = base.clone();
            members.extend(extra);
            Doc::Map(members)
        })
    }

    fn record() -> impl Strategy<Value = Doc> {
        (prop::collection::vec(any::<u8>(), 0..20), "[a-z]{1,3}").prop_flat_map(|(data, key)| {
            with_base(
                vec![("PartitionKey", Doc::Text(key)), ("Data", Doc::Blob(data))],
                vec!["Data", "PartitionKey", "ExplicitHashKey", "Other"],
            )
        })
    }

    fn request(base: Vec<(&'static str, Doc)>, names: Vec<&'static str>) -> impl Strategy<Value = Doc> {
        with_base(base, names)
    }

    fn text(s: &str) -> Doc {
        Doc::Text(s.to_owned())
    }

    fn both<T: Request + std::fmt::Debug + PartialEq>(op: Operation, d: &Doc) -> (Result<T>, Result<T>) {
        let mut j = JsonEncoder::with_capacity(64);
        write(&mut j, d, true);
        let mut c = CborEncoder::with_capacity(64);
        write(&mut c, d, false);
        let json = parse(Codec::Json, op, &Bytes::from(j.finish())).and_then(input::<T>);
        let cbor = parse(Codec::Cbor, op, &Bytes::from(c.finish())).and_then(input::<T>);
        (json, cbor)
    }

    proptest! {
        #[test]
        fn put_records(d in prop::collection::vec(record(), 1..5).prop_flat_map(|records| request(
            vec![("StreamName", text("s")), ("Records", Doc::List(records))],
            vec!["StreamName", "StreamARN", "Records"],
        ))) {
            let (json, cbor) = both::<model::PutRecordsInput>(Operation::PutRecords, &d);
            prop_assert_eq!(json, cbor);
        }

        #[test]
        fn put_record(d in request(
            vec![("StreamName", text("s")), ("PartitionKey", text("k")), ("Data", Doc::Blob(vec![0, 1, 255]))],
            vec!["StreamName", "Data", "PartitionKey", "ExplicitHashKey", "SequenceNumberForOrdering"],
        )) {
            let (json, cbor) = both::<model::PutRecordInput>(Operation::PutRecord, &d);
            prop_assert_eq!(json, cbor);
        }

        #[test]
        fn get_shard_iterator(d in (0i64..2_000_000_000).prop_flat_map(|secs| request(
            vec![
                ("StreamName", text("s")),
                ("ShardId", text("shardId-000000000000")),
                ("ShardIteratorType", text("AT_TIMESTAMP")),
                ("Timestamp", Doc::Seconds(secs)),
            ],
            vec!["StreamName", "ShardId", "ShardIteratorType", "Timestamp", "StartingSequenceNumber"],
        ))) {
            let (json, cbor) = both::<model::GetShardIteratorInput>(Operation::GetShardIterator, &d);
            prop_assert_eq!(json, cbor);
        }

        #[test]
        fn list_shards(d in request(
            vec![("StreamName", text("s"))],
            vec!["StreamName", "MaxResults", "NextToken", "ExclusiveStartShardId"],
        )) {
            let (json, cbor) = both::<model::ListShardsInput>(Operation::ListShards, &d);
            prop_assert_eq!(json, cbor);
        }
    }
}
