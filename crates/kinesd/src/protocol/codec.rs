//! The wire encodings of request and response bodies. Each variant decodes a request body into
//! a [`Value`](super::Value) (see `request.rs`) and writes responses through the
//! [`Encoder`](super::Encoder) calls of the typed shapes: awsJson 1.1 (`json.rs`) and CBOR
//! (`cbor.rs`) are variants here, and nothing above this layer knows which one a request used.

use super::cbor::CborEncoder;
use super::encode::Encode;
use super::json::JsonEncoder;

/// The encoding of a request, which its response must use too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// `application/x-amz-json-1.1`, what every SDK but the Java ones speaks by default.
    Json,
    /// `application/x-amz-cbor-1.1`, the Java SDKs' default (see `cbor.rs`).
    Cbor,
}

impl Codec {
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/x-amz-json-1.1",
            Codec::Cbor => "application/x-amz-cbor-1.1",
        }
    }

    /// Writes one response document; `size_hint` pre-sizes the buffer.
    pub fn encode<T: Encode>(self, value: &T, size_hint: usize) -> Vec<u8> {
        match self {
            Codec::Json => {
                let mut e = JsonEncoder::with_capacity(size_hint);
                value.encode(&mut e);
                e.finish()
            }
            Codec::Cbor => {
                let mut e = CborEncoder::with_capacity(size_hint);
                value.encode(&mut e);
                e.finish()
            }
        }
    }
}
