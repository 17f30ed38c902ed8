//! The codec-neutral way responses are written.
//!
//! Generated response shapes implement [`Encode`] by calling an [`Encoder`]; the JSON codec
//! writes text, a CBOR codec writes CBOR items, and neither needs an intermediate tree.

/// A sink for one response document. Calls nest like the document: a `field` is followed by
/// exactly one value (a scalar, or a struct/list with its matching end call).
pub trait Encoder {
    fn begin_struct(&mut self);
    fn end_struct(&mut self);
    fn field(&mut self, name: &str);
    fn begin_list(&mut self, len: usize);
    fn end_list(&mut self);
    fn string(&mut self, v: &str);
    fn int(&mut self, v: i64);
    fn bool(&mut self, v: bool);
    fn blob(&mut self, v: &[u8]);
    /// Milliseconds since the epoch.
    fn timestamp(&mut self, millis: i64);
    fn null(&mut self);
}

/// A response shape (or a member of one) that can write itself.
pub trait Encode {
    fn encode<E: Encoder>(&self, e: &mut E);

    /// A guess of the encoded size, so large responses are written without reallocating.
    fn size_hint(&self) -> usize {
        512
    }
}

impl Encode for String {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.string(self)
    }
}

impl Encode for i32 {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.int(i64::from(*self))
    }
}

impl Encode for i64 {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.int(*self)
    }
}

impl Encode for bool {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.bool(*self)
    }
}

impl Encode for bytes::Bytes {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.blob(self)
    }
}

impl Encode for super::Timestamp {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.timestamp(self.millis)
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_list(self.len());
        for item in self {
            item.encode(e);
        }
        e.end_list();
    }
}

/// Maps are encoded as structures keyed by their (string) keys, in order.
impl<V: Encode> Encode for super::Map<V> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_struct();
        for (k, v) in &self.0 {
            e.field(k);
            v.encode(e);
        }
        e.end_struct();
    }
}
