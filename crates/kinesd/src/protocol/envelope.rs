//! The AWS envelope around an operation: which codec (Content-Type), which operation
//! (X-Amz-Target), the answers AWS gives before it reads the operation at all, and how errors
//! look on the wire. [`open`] takes a request as far as the protocol can (envelope, operation,
//! body); `api::handle` holds the whole order, with the credentials and validation after it.

use super::cbor::CborEncoder;
use super::codec::Codec;
use super::encode::Encoder;
use super::json::JsonEncoder;
use super::model::Operation;
use super::reply::ReplyBody;
use super::request::{self, Parsed};
use super::value::Value;
use super::wire::{BodyError, WireRequest, WireResponse};
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
    /// dispatched (see [`legacy_json_answer`]).
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
            ContentKind::Cbor => Some(Codec::Cbor),
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

/// AWS's answer to an `application/json` request with a body: the legacy Coral envelope with
/// no message member, 404 UnknownOperationException when the body is a JSON object or array
/// and 400 SerializationException otherwise. This is what kinesalite's connection tests at
/// their last commit assert, recorded against production Kinesis; an older capture of a 200
/// with `"message":null` is superseded by them (docs/aws-behaviour.md §3).
pub fn legacy_json_answer(body: &[u8]) -> (u16, &'static str) {
    match super::json::parse(body) {
        Ok(Value::Map(_) | Value::List(_)) => {
            (404, r#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"}"#)
        }
        _ => (400, r#"{"Output":{"__type":"com.amazon.coral.service#SerializationException"},"Version":"1.0"}"#),
    }
}

/// The operation an `X-Amz-Target` names.
pub fn operation(target: Option<&str>) -> Result<Operation, KinesisError> {
    target
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .and_then(Operation::from_name)
        .ok_or_else(KinesisError::unknown_operation)
}

/// The members of an error body, decided once for every codec: `__type` always; the message
/// when there is one, except for InternalFailure, which AWS sends bare; spelled `Message` for
/// the errors AWS's Coral serializer capitalises.
pub struct ErrorMembers<'e> {
    pub type_name: &'static str,
    pub message: Option<(&'static str, &'e str)>,
}

pub fn error_members(error: &KinesisError) -> ErrorMembers<'_> {
    let message = (!error.message().is_empty() && !matches!(error, KinesisError::InternalFailure(_)))
        .then(|| (if error.capitalised_message() { "Message" } else { "message" }, error.message()));
    ErrorMembers { type_name: error.type_name(), message }
}

/// The error body in the request's codec; with no codec (no or an unknown Content-Type) a CBOR
/// map, as AWS answers the Java SDKs' default protocol.
pub fn error_body(codec: Option<Codec>, error: &KinesisError) -> Vec<u8> {
    match codec {
        Some(Codec::Json) => write_error(JsonEncoder::with_capacity(128), error).finish(),
        Some(Codec::Cbor) | None => write_error(CborEncoder::with_capacity(128), error).finish(),
    }
}

/// One error document: `__type`, then the message when there is one. CBOR structures are
/// indefinite-length maps, as AWS writes them (aws-behaviour.md §1).
fn write_error<E: Encoder>(mut e: E, error: &KinesisError) -> E {
    let members = error_members(error);
    e.begin_struct();
    e.field("__type");
    e.string(members.type_name);
    if let Some((name, message)) = members.message {
        e.field(name);
        e.string(message);
    }
    e.end_struct();
    e
}

/// An error as a response: AWS's status, `x-amzn-ErrorType` and body.
pub fn error_response(codec: Option<Codec>, error: &KinesisError) -> WireResponse {
    if error.status() >= 500 {
        tracing::warn!(error = %error, kind = error.type_name(), "request failed");
    }
    WireResponse {
        status: error.status(),
        content_type: Some(codec.unwrap_or(Codec::Cbor).content_type()),
        error_type: Some(error.type_name()),
        body: ReplyBody::Encoded(error_body(codec, error)),
    }
}

/// A successful reply as a response: an empty body carries no Content-Type, as AWS sends it.
pub fn success_response(codec: Codec, body: ReplyBody) -> WireResponse {
    let content_type = match &body {
        ReplyBody::Empty => None,
        ReplyBody::Encoded(_) => Some(codec.content_type()),
        ReplyBody::Stream(s) => Some(s.content_type()),
    };
    WireResponse { status: 200, content_type, error_type: None, body }
}

/// AWS answers anything it cannot attribute to an operation with an XML AccessDeniedException
/// (no Content-Type, as AWS's XML errors have none).
pub fn access_denied() -> WireResponse {
    WireResponse::fixed(
        403,
        None,
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n",
    )
}

/// How far the protocol got with a request.
pub enum Opened {
    /// AWS answers this without looking further (XML errors, the legacy JSON envelope).
    Answered(WireResponse),
    /// A Kinesis error, to be written in the codec (CBOR when the request named none).
    Failed(Option<Codec>, KinesisError),
    /// An operation and its decoded body, ready for the credentials and validation.
    Decoded { operation: Operation, codec: Codec, parsed: Parsed },
}

/// Steps 1 to 3 of AWS's order (see `api::handle`): a body in a Content-Type AWS does not
/// speak is refused before anything else — with an XML UnknownOperationException when the
/// target names an operation, else an XML AccessDeniedException, and `application/json` gets
/// the legacy Coral envelope; then the operation; then the codec and the body.
pub fn open(request: WireRequest<'_>) -> Opened {
    let kind = ContentKind::of(request.content_type);
    if let Ok(body) = &request.body
        && !body.is_empty()
    {
        match kind {
            ContentKind::Other if target_has_operation(request.target) => {
                return Opened::Answered(WireResponse::fixed(404, None, "<UnknownOperationException/>\n"));
            }
            ContentKind::Other => return Opened::Answered(access_denied()),
            ContentKind::LegacyJson => {
                let (status, answer) = legacy_json_answer(body);
                return Opened::Answered(WireResponse::fixed(status, Some("application/json"), answer));
            }
            ContentKind::AmzJson | ContentKind::Cbor => {}
        }
    }
    let codec = kind.codec();
    let operation = match operation(request.target) {
        Ok(op) => op,
        Err(e) => return Opened::Failed(codec, e),
    };
    let Some(codec) = codec else {
        return Opened::Failed(None, KinesisError::body_undecodable());
    };
    let body = match request.body {
        Ok(body) => body,
        Err(BodyError::TooLarge(limit)) => {
            return Opened::Failed(Some(codec), KinesisError::request_body_too_large(limit));
        }
        Err(BodyError::Unreadable(e)) => {
            return Opened::Failed(Some(codec), KinesisError::request_body_unreadable(e));
        }
    };
    match request::parse(codec, operation, &body) {
        Ok(parsed) => Opened::Decoded { operation, codec, parsed },
        Err(e) => Opened::Failed(Some(codec), e),
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
        assert_eq!(ContentKind::of(Some("Application/X-Amz-Cbor-1.1; q=1")).codec(), Some(Codec::Cbor));
        assert_eq!(ContentKind::Other.codec(), None);
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
        for body in [&b"{}"[..], b"[]", br#"{"StreamName":"a"}"#] {
            let (status, answer) = legacy_json_answer(body);
            assert_eq!(status, 404);
            assert!(answer.contains("UnknownOperationException") && !answer.contains("essage"), "{answer}");
        }
        for body in [&b"hello"[..], b"3", b"null"] {
            let (status, answer) = legacy_json_answer(body);
            assert_eq!(status, 400);
            assert!(answer.contains("SerializationException") && !answer.contains("essage"), "{answer}");
        }
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
        assert_eq!(error_body(None, &KinesisError::UnknownOperation(String::new())), want);
        let with_message =
            error_body(None, &KinesisError::MissingAuthenticationToken("Missing Authentication Token".into()));
        assert!(with_message.windows(8).any(|w| w == b"\x67message"));
        // A CBOR request's errors are the same document.
        assert_eq!(error_body(Some(Codec::Cbor), &KinesisError::UnknownOperation(String::new())), want);
        let response = error_response(None, &KinesisError::UnknownOperation(String::new()));
        assert_eq!(response.content_type, Some("application/x-amz-cbor-1.1"));
    }

    #[test]
    fn errors_use_aws_shape() {
        let body = error_body(
            Some(Codec::Json),
            &KinesisError::ResourceNotFound("Stream s under account 1 not found.".into()),
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"__type":"ResourceNotFoundException","message":"Stream s under account 1 not found."}"#
        );
        let body = error_body(Some(Codec::Json), &KinesisError::Serialization("x".into()));
        assert_eq!(String::from_utf8(body).unwrap(), r#"{"__type":"SerializationException","Message":"x"}"#);
    }
}
