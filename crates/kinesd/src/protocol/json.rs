//! awsJson 1.1: request bodies into [`Value`], responses from the [`Encoder`] calls.
//!
//! Responses are written straight into one buffer (no intermediate tree): blobs as standard
//! base64, timestamps as epoch seconds with exactly three decimals (never exponent notation,
//! which at least one Java SDK path cannot parse).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::encode::Encoder;
use super::value::Value;

/// Parses a JSON request body. The caller maps a failure to SerializationException.
pub fn parse(body: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(body)
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            members.push((key, value));
        }
        Ok(Value::Map(members))
    }
}

/// Writes awsJson 1.1 into a byte buffer.
pub struct JsonEncoder {
    out: Vec<u8>,
    /// True when the next element or member must be preceded by a comma.
    need_comma: bool,
}

impl JsonEncoder {
    pub fn with_capacity(capacity: usize) -> Self {
        JsonEncoder { out: Vec::with_capacity(capacity), need_comma: false }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    fn comma(&mut self) {
        if self.need_comma {
            self.out.push(b',');
        }
    }

    fn quoted(&mut self, s: &str) {
        self.out.push(b'"');
        let bytes = s.as_bytes();
        if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
            self.out.extend_from_slice(bytes);
            self.out.push(b'"');
            return;
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b >= 0x20 && b != b'"' && b != b'\\' {
                continue;
            }
            self.out.extend_from_slice(&bytes[start..i]);
            match b {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[(b >> 4) as usize]);
                    self.out.push(HEX[(b & 15) as usize]);
                }
            }
            start = i + 1;
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
    }
}

impl Encoder for JsonEncoder {
    fn begin_struct(&mut self) {
        self.comma();
        self.out.push(b'{');
        self.need_comma = false;
    }
    fn end_struct(&mut self) {
        self.out.push(b'}');
        self.need_comma = true;
    }
    fn field(&mut self, name: &str) {
        self.comma();
        self.quoted(name);
        self.out.push(b':');
        self.need_comma = false;
    }
    fn begin_list(&mut self, _len: usize) {
        self.comma();
        self.out.push(b'[');
        self.need_comma = false;
    }
    fn end_list(&mut self) {
        self.out.push(b']');
        self.need_comma = true;
    }
    fn string(&mut self, v: &str) {
        self.comma();
        self.quoted(v);
        self.need_comma = true;
    }
    fn int(&mut self, v: i64) {
        self.comma();
        let mut buf = itoa::Buffer::new();
        self.out.extend_from_slice(buf.format(v).as_bytes());
        self.need_comma = true;
    }
    fn bool(&mut self, v: bool) {
        self.comma();
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        self.need_comma = true;
    }
    fn blob(&mut self, v: &[u8]) {
        self.comma();
        self.out.push(b'"');
        let start = self.out.len();
        let encoded = base64_simd::STANDARD.encoded_length(v.len());
        self.out.resize(start + encoded, 0);
        let dst = base64_simd::Out::from_slice(&mut self.out[start..]);
        let written = base64_simd::STANDARD.encode(v, dst).len();
        self.out.truncate(start + written);
        self.out.push(b'"');
        self.need_comma = true;
    }
    fn timestamp(&mut self, millis: i64) {
        self.comma();
        if millis < 0 {
            self.out.push(b'-');
        }
        let abs = millis.unsigned_abs();
        let mut buf = itoa::Buffer::new();
        self.out.extend_from_slice(buf.format(abs / 1000).as_bytes());
        let frac = abs % 1000;
        self.out.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
        self.need_comma = true;
    }
    fn null(&mut self) {
        self.comma();
        self.out.extend_from_slice(b"null");
        self.need_comma = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(f: impl FnOnce(&mut JsonEncoder)) -> String {
        let mut e = JsonEncoder::with_capacity(64);
        f(&mut e);
        String::from_utf8(e.finish()).unwrap()
    }

    #[test]
    fn nested_structures_and_lists_are_separated_correctly() {
        let s = encode(|e| {
            e.begin_struct();
            e.field("A");
            e.int(1);
            e.field("B");
            e.begin_list(2);
            e.string("x\"y\n");
            e.begin_struct();
            e.end_struct();
            e.end_list();
            e.field("C");
            e.blob(b"\x00\x01hello");
            e.field("D");
            e.timestamp(1_700_000_000_123);
            e.end_struct();
        });
        assert_eq!(s, r#"{"A":1,"B":["x\"y\n",{}],"C":"AAFoZWxsbw==","D":1700000000.123}"#);
        let parsed: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed["D"].as_f64(), Some(1_700_000_000.123));
    }

    #[test]
    fn timestamps_never_use_exponents() {
        assert_eq!(encode(|e| e.timestamp(1_700_000_000_000)), "1700000000.000");
        assert_eq!(encode(|e| e.timestamp(5)), "0.005");
    }

    #[test]
    fn control_characters_are_escaped() {
        let s = encode(|e| e.string("a\u{1}b"));
        assert_eq!(s, r#""a\u0001b""#);
        assert_eq!(serde_json::from_str::<String>(&s).unwrap(), "a\u{1}b");
    }

    #[test]
    fn parse_keeps_member_order_and_number_kinds() {
        let v = parse(br#"{"b":1,"a":1.5,"c":[null,true,"s"]}"#).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                ("b".into(), Value::Int(1)),
                ("a".into(), Value::Float(1.5)),
                ("c".into(), Value::List(vec![Value::Null, Value::Bool(true), Value::String("s".into())])),
            ])
        );
    }
}
