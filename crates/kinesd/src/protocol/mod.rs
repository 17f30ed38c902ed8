//! The protocol layer owns the wire: which codec a request speaks (awsJson 1.1 in `json.rs` or
//! CBOR in `cbor.rs`), which operation it names, its body decoded into the typed shapes
//! generated from the service model (`model.rs`), validated against the model's constraints,
//! and responses and errors encoded back. It knows nothing of storage, streams or HTTP: the transport hands it a
//! [`wire::WireRequest`] and gets a [`wire::WireResponse`] back; the api layer calls
//! [`envelope::open`] and [`request::input`] and returns a [`reply::Reply`].
//!
//! Adding a codec: a variant of [`codec::Codec`], its decoder in [`request::parse`], its
//! encoder beside `json.rs`, and its error body in [`envelope::error_body`].

pub mod cbor;
pub mod codec;
pub mod decode;
pub mod encode;
pub mod envelope;
pub mod eventstream;
pub mod fast;
pub mod json;
#[rustfmt::skip]
pub mod model;
pub mod reply;
pub mod request;
pub mod shown;
pub mod validate;
pub mod value;
pub mod wire;

pub use codec::Codec;
pub use decode::{FromValue, SerializationError};
pub use encode::{Encode, Encoder};
pub use reply::{Reply, ReplyBody};
pub use value::Value;

/// An instant as AWS APIs carry it, at millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub millis: i64,
}

/// A map member (e.g. tags), kept in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Map<V>(pub Vec<(String, V)>);
