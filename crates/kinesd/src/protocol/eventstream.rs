//! `application/vnd.amazon.eventstream`: the framing of SubscribeToShard's response body.
//!
//! Each message is self-delimiting and checksummed (docs/aws-behaviour.md §21.2, checked
//! against the AWS SDKs' decoders — aws-smithy-eventstream in the tests below):
//!
//! ```text
//! [total length u32][headers length u32][CRC32 of the 8 bytes before]
//! [headers][payload][CRC32 of everything before]
//! header = [name length u8][name][type u8 = 7 (string)][value length u16][value]
//! ```
//!
//! All integers are big-endian and the CRC is IEEE CRC32. Every header kinesd sends is a
//! string. The payload is a document in the request's codec (JSON or CBOR), so an event
//! carries `:content-type` naming it.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::Codec;
use super::encode::{Encode, Encoder};

pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The value type of a string header.
const STRING_HEADER: u8 = 7;
/// Prelude (total length, headers length, prelude CRC) plus the message CRC.
const OVERHEAD: usize = 16;

/// One message with string headers. Header names and values are kinesd's own constants and
/// short identifiers, far below the format's 255-byte and 64 KiB limits.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers.iter().map(|(name, value)| 1 + name.len() + 1 + 2 + value.len()).sum();
    let total = OVERHEAD + headers_len + payload.len();
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    out.put_u32(crc32fast::hash(&out[..8]));
    for (name, value) in headers {
        debug_assert!(name.len() <= u8::MAX as usize && value.len() <= u16::MAX as usize);
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u8(STRING_HEADER);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    out.put_u32(crc32fast::hash(&out));
    out.freeze()
}

/// An event (`:message-type` event) whose payload is `value` in `codec`.
pub fn event<T: Encode>(codec: Codec, event_type: &str, value: &T) -> Bytes {
    let payload = codec.encode(value, value.size_hint());
    message(
        &[(":message-type", "event"), (":event-type", event_type), (":content-type", codec.content_type())],
        &payload,
    )
}

/// The first message of every event stream: the operation's (empty) output.
pub fn initial_response(codec: Codec) -> Bytes {
    event(codec, "initial-response", &EmptyDocument)
}

/// An exception (`:message-type` exception) of type `exception_type`, e.g.
/// `ResourceNotFoundException`, with its message as the modelled error shape carries it.
pub fn exception(codec: Codec, exception_type: &str, message_text: &str) -> Bytes {
    let payload = codec.encode(&ExceptionDocument { message: message_text }, 64 + message_text.len());
    message(
        &[(":message-type", "exception"), (":exception-type", exception_type), (":content-type", codec.content_type())],
        &payload,
    )
}

struct EmptyDocument;

impl Encode for EmptyDocument {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_struct();
        e.end_struct();
    }
}

struct ExceptionDocument<'a> {
    message: &'a str,
}

impl Encode for ExceptionDocument<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_struct();
        e.field("message");
        e.string(self.message);
        e.end_struct();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;
    use aws_smithy_types::event_stream::{HeaderValue, Message};

    fn decode(mut bytes: &[u8]) -> Message {
        let message = read_message_from(&mut bytes).expect("the AWS SDK's decoder accepts the message");
        assert!(bytes.is_empty(), "one message, nothing after it");
        message
    }

    fn header<'a>(m: &'a Message, name: &str) -> &'a str {
        match m.headers().iter().find(|h| h.name().as_str() == name).map(|h| h.value()) {
            Some(HeaderValue::String(s)) => s.as_str(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn the_initial_response_is_the_reference_frame() {
        // The frame docs/aws-behaviour.md §21.2 quotes, which botocore parses.
        let expected = concat!(
            "0000007200000060ab820d9e",
            "0d3a6d6573736167652d74797065",
            "07",
            "0005",
            "6576656e74",
            "0b3a6576656e742d74797065",
            "07",
            "0010",
            "696e697469616c2d726573706f6e7365",
            "0d3a636f6e74656e742d74797065",
            "07",
            "001a",
            "6170706c69636174696f6e2f782d616d7a2d6a736f6e2d312e31",
            "7b7d",
            "e16e66e4",
        );
        let frame = initial_response(Codec::Json);
        assert_eq!(hex::encode(&frame), expected);
        let m = decode(&frame);
        assert_eq!(header(&m, ":message-type"), "event");
        assert_eq!(header(&m, ":event-type"), "initial-response");
        assert_eq!(header(&m, ":content-type"), "application/x-amz-json-1.1");
        assert_eq!(m.payload().as_ref(), b"{}");
    }

    #[test]
    fn events_and_exceptions_decode_with_the_sdk_in_both_codecs() {
        for codec in [Codec::Json, Codec::Cbor] {
            let m = decode(&exception(codec, "ResourceNotFoundException", "gone"));
            assert_eq!(header(&m, ":message-type"), "exception");
            assert_eq!(header(&m, ":exception-type"), "ResourceNotFoundException");
            assert_eq!(header(&m, ":content-type"), codec.content_type());
            if codec == Codec::Json {
                assert_eq!(m.payload().as_ref(), br#"{"message":"gone"}"#);
            }
            let big = vec![7u8; 100_000];
            let m = decode(&message(&[(":message-type", "event"), (":event-type", "X")], &big));
            assert_eq!(m.payload().len(), big.len());
        }
    }

    #[test]
    fn a_corrupted_message_is_refused_by_the_sdk() {
        let mut frame = initial_response(Codec::Json).to_vec();
        let last = frame.len() - 5;
        frame[last] ^= 1;
        assert!(read_message_from(&mut &frame[..]).is_err());
    }
}
