//! The protocol layer: wire encodings (awsJson 1.1 now, CBOR later) to and from the typed
//! request and response shapes, and the AWS error envelope. It never touches storage.

pub mod decode;
pub mod encode;
pub mod envelope;
pub mod fast;
pub mod json;
pub mod validate;
pub mod value;

pub use decode::{FromValue, SerializationError};
pub use encode::{Encode, Encoder};
pub use value::Value;

/// An instant as AWS APIs carry it, at millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub millis: i64,
}

/// A map member (e.g. tags), kept in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Map<V>(pub Vec<(String, V)>);
