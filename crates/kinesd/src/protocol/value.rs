//! The codec-neutral document tree a request body decodes into.
//!
//! JSON and CBOR both decode into [`Value`]; the generated shapes convert a `Value` into typed
//! requests, so operations never see the wire encoding. Blobs and timestamps have their own
//! variants because CBOR carries them natively (byte strings, tag 1); JSON produces strings and
//! numbers for them and the typed conversion interprets those.

use bytes::Bytes;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    /// Raw bytes (CBOR byte strings). JSON blobs arrive as base64 `String`s.
    Blob(Bytes),
    /// Milliseconds since the epoch (CBOR tag 1). JSON timestamps arrive as numbers of seconds;
    /// untagged CBOR numbers are milliseconds (see `decode::numbers_as_millis`).
    Timestamp(i64),
    List(Vec<Value>),
    /// Members in wire order; later duplicates win when converted.
    Map(Vec<(String, Value)>),
}
