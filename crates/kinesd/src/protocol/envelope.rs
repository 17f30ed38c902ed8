//! The AWS request/response envelope around an operation: which codec (Content-Type), which
//! operation (X-Amz-Target), and how errors look on the wire.

use super::encode::Encoder;
use super::json::JsonEncoder;
use super::value::Value;
use crate::api::Codec;
use crate::api::model::Operation;
use crate::error::KinesisError;

const TARGET_PREFIX: &str = "Kinesis_20131202.";

/// How AWS sorts a request by its Content-Type, before anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKind {
    /// `application/x-amz-json-1.1`: the Kinesis protocol.
    AmzJson,
    /// `application/x-amz-cbor-1.1`: the Java SDKs' binary protocol.
    Cbor,
    /// `application/json`: accepted, but answered by AWS's legacy Coral envelope and never
    /// dispatched (see [`legacy_json_body`]).
    LegacyJson,
    /// No Content-Type, or another one.
    Other,
}

impl ContentKind {
    /// Parameters after `;` and surrounding spaces do not matter, nor does case.
    pub fn of(content_type: Option<&str>) -> ContentKind {
        let Some(essence) = content_type.and_then(|c| c.split(';').next()) else { return ContentKind::Other };
        match essence.trim().to_ascii_lowercase().as_str() {
            "application/x-amz-json-1.1" => ContentKind::AmzJson,
            "application/x-amz-cbor-1.1" => ContentKind::Cbor,
            "application/json" => ContentKind::LegacyJson,
            _ => ContentKind::Other,
        }
    }

    /// The codec the request's operation is decoded and answered with, if kinesd has it.
    pub fn codec(self) -> Option<Codec> {
        match self {
            ContentKind::AmzJson => Some(Codec::Json),
            _ => None,
        }
    }
}

/// Whether `X-Amz-Target` has the `<service>.<operation>` shape with both parts non-empty,
/// which is all AWS looks at before it refuses a body of an unknown Content-Type.
pub fn target_has_operation(target: Option<&str>) -> bool {
    let mut parts = target.unwrap_or_default().split('.');
    let service = parts.next().unwrap_or_default();
    let operation = parts.next().unwrap_or_default();
    !service.is_empty() && !operation.is_empty()
}

/// AWS's answer to an `application/json` request with a body: HTTP 200 and the legacy Coral
/// envelope, a SerializationException when the body is not a JSON object or array and an
/// UnknownOperationException otherwise (kinesalite's AWS-validated connection tests).
pub fn legacy_json_body(body: &[u8]) -> &'static str {
    match super::json::parse(body) {
        Ok(Value::Map(_) | Value::List(_)) => {
            r#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException","message":null},"Version":"1.0"}"#
        }
        _ => {
            r#"{"Output":{"__type":"com.amazon.coral.service#SerializationException","Message":null},"Version":"1.0"}"#
        }
    }
}

/// The operation an `X-Amz-Target` names.
pub fn operation(target: Option<&str>) -> Result<Operation, KinesisError> {
    target
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .and_then(Operation::from_name)
        .ok_or_else(|| KinesisError::UnknownOperation(String::new()))
}

/// The error body AWS sends when the request named no codec it knows (no or an unknown
/// Content-Type): a CBOR map, as the Java SDKs' default protocol would get.
pub fn cbor_error_body(error: &KinesisError) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, s: &str) {
        let len = s.len();
        match len {
            0..=23 => out.push(0x60 | len as u8),
            24..=0xff => out.extend_from_slice(&[0x78, len as u8]),
            0x100..=0xffff => {
                out.push(0x79);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(0x7a);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(s.as_bytes());
    }
    // AWS writes indefinite-length maps.
    let mut out = vec![0xbf];
    text(&mut out, "__type");
    text(&mut out, error.type_name());
    if !error.message().is_empty() && !matches!(error, KinesisError::InternalFailure(_)) {
        text(&mut out, if error.capitalised_message() { "Message" } else { "message" });
        text(&mut out, error.message());
    }
    out.push(0xff);
    out
}

pub const CBOR_CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// `{"__type": ..., "message": ...}` in the request's codec.
pub fn error_body(codec: Codec, error: &KinesisError) -> Vec<u8> {
    match codec {
        Codec::Json => {
            let mut e = JsonEncoder::with_capacity(128);
            e.begin_struct();
            e.field("__type");
            e.string(error.type_name());
            // AWS sends InternalFailure without a message.
            if !error.message().is_empty() && !matches!(error, KinesisError::InternalFailure(_)) {
                e.field(if error.capitalised_message() { "Message" } else { "message" });
                e.string(error.message());
            }
            e.end_struct();
            e.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_sort_requests() {
        assert_eq!(ContentKind::of(Some("application/x-amz-json-1.1")).codec(), Some(Codec::Json));
        assert_eq!(ContentKind::of(Some("   application/x-amz-json-1.1   ;whatever")), ContentKind::AmzJson);
        assert_eq!(ContentKind::of(Some("application/json; charset=utf-8")), ContentKind::LegacyJson);
        assert_eq!(ContentKind::of(Some("application/x-amz-cbor-1.1")), ContentKind::Cbor);
        assert_eq!(ContentKind::of(Some("application/x-amz-json-1.0")), ContentKind::Other);
        assert_eq!(ContentKind::of(Some("text/plain")), ContentKind::Other);
        assert_eq!(ContentKind::of(None), ContentKind::Other);
        assert_eq!(ContentKind::LegacyJson.codec(), None);
    }

    #[test]
    fn only_a_two_part_target_names_an_operation() {
        assert!(target_has_operation(Some("Kinesis_20131202.ListStreams")));
        assert!(target_has_operation(Some("a.b")));
        for t in [None, Some(""), Some("Whatever"), Some("Kinesis_20131202."), Some(".ListStreams")] {
            assert!(!target_has_operation(t), "{t:?}");
        }
    }

    #[test]
    fn legacy_json_gets_the_coral_envelope() {
        assert!(legacy_json_body(b"{}").contains("UnknownOperationException"));
        assert!(legacy_json_body(b"[]").contains("UnknownOperationException"));
        assert!(legacy_json_body(b"hello").contains("SerializationException"));
        assert!(legacy_json_body(b"3").contains("SerializationException"));
    }

    #[test]
    fn targets_route_to_operations() {
        assert_eq!(operation(Some("Kinesis_20131202.PutRecords")).unwrap(), Operation::PutRecords);
        assert!(operation(Some("Kinesis_20131202.Nope")).is_err());
        assert!(operation(Some("DynamoDB_20120810.PutRecords")).is_err());
        assert!(operation(None).is_err());
    }

    #[test]
    fn errors_without_a_codec_are_cbor_as_aws_sends_them() {
        // bf 66 "__type" 78 19 "UnknownOperationException" ff, as AWS answered.
        let mut want = vec![0xbf, 0x66];
        want.extend_from_slice(b"__type");
        want.extend_from_slice(&[0x78, 0x19]);
        want.extend_from_slice(b"UnknownOperationException");
        want.push(0xff);
        assert_eq!(cbor_error_body(&KinesisError::UnknownOperation(String::new())), want);
        let with_message =
            cbor_error_body(&KinesisError::MissingAuthenticationToken("Missing Authentication Token".into()));
        assert!(with_message.windows(8).any(|w| w == b"\x67message"));
    }

    #[test]
    fn errors_use_aws_shape() {
        let body =
            error_body(Codec::Json, &KinesisError::ResourceNotFound("Stream s under account 1 not found.".into()));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"__type":"ResourceNotFoundException","message":"Stream s under account 1 not found."}"#
        );
        let body = error_body(Codec::Json, &KinesisError::Serialization("x".into()));
        assert_eq!(String::from_utf8(body).unwrap(), r#"{"__type":"SerializationException","Message":"x"}"#);
    }
}
