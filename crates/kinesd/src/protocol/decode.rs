//! Typed conversion of a decoded [`Value`] into request shapes.
//!
//! Type mismatches are SerializationExceptions whose messages mimic the Java (Jackson) messages
//! AWS answers with, e.g. "class java.lang.String can not be converted to an Integer".
//! `null` always converts to "absent", as AWS tolerates explicit nulls.

use bytes::Bytes;

use super::value::Value;
use super::{Map, Timestamp};

/// The message of a SerializationException.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializationError(pub String);

type Result<T> = std::result::Result<Option<T>, SerializationError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(SerializationError(msg.into()))
}

fn container_mismatch<T>(v: &Value) -> Result<T> {
    match v {
        Value::List(_) => err("Start of list found where not expected"),
        _ => err("Start of structure or map found where not expected."),
    }
}

/// A request shape, or a member of one, that can be built from a decoded value.
pub trait FromValue: Sized {
    fn from_value(v: Value) -> Result<Self>;
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Bool(_) => err("class java.lang.Boolean can not be converted to an String"),
            Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => {
                err("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String")
            }
            Value::Blob(_) => err("class [B can not be converted to an String"),
            other => container_mismatch(&other),
        }
    }
}

fn integer(v: Value, type_name: &str) -> Result<i64> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(i)),
        // Jackson truncates fractional numbers when an integer is expected.
        Value::Float(f) => Ok(Some(f.floor() as i64)),
        Value::Timestamp(ms) => Ok(Some(ms)),
        Value::Bool(_) => err(format!("class java.lang.Boolean can not be converted to an {type_name}")),
        Value::String(_) | Value::Blob(_) => {
            err(format!("class java.lang.String can not be converted to an {type_name}"))
        }
        other => container_mismatch(&other),
    }
}

impl FromValue for i32 {
    fn from_value(v: Value) -> Result<Self> {
        Ok(integer(v, "Integer")?.map(|i| i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32))
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self> {
        integer(v, "Long")
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(b)),
            Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => {
                err("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean")
            }
            Value::String(s) => match s.to_ascii_uppercase().as_str() {
                "TRUE" | "YES" | "1" => Ok(Some(true)),
                "FALSE" | "NO" | "0" => Ok(Some(false)),
                upper => err(format!("'{upper}' can not be converted to an Boolean")),
            },
            Value::Blob(_) => err("class [B can not be converted to an Boolean"),
            other => container_mismatch(&other),
        }
    }
}

impl FromValue for Bytes {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b)),
            Value::String(s) => decode_base64(&s).map(Some),
            Value::Bool(_) => err("class java.lang.Boolean can not be converted to a Blob"),
            Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => {
                err("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob")
            }
            other => container_mismatch(&other),
        }
    }
}

/// Decodes standard, padded base64 the way AWS's JSON parser does, with its messages.
pub fn decode_base64(s: &str) -> std::result::Result<Bytes, SerializationError> {
    // The fast path: valid input decodes in one SIMD pass; only invalid input pays for the
    // precise diagnosis below.
    if let Ok(decoded) = base64_simd::STANDARD.decode_to_vec(s.as_bytes()) {
        return Ok(Bytes::from(decoded));
    }
    let fail = |why: String| SerializationError(format!("'{s}' can not be converted to a Blob: {why}"));
    if !s.len().is_multiple_of(4) {
        return Err(fail(format!("Base64 encoded length is expected a multiple of 4 bytes but found: {}", s.len())));
    }
    let bytes = s.as_bytes();
    let body_end = bytes.len() - bytes.iter().rev().take(2).take_while(|&&b| b == b'=').count();
    if let Some(&bad) = bytes[..body_end].iter().find(|&&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/')) {
        return Err(fail(format!("Invalid Base64 character: '{}'", bad as char)));
    }
    Err(fail("Invalid last non-pad Base64 character dectected".to_owned()))
}

thread_local! {
    /// Whether an untagged number for a timestamp means milliseconds (CBOR) rather than
    /// seconds (JSON). The typed conversion is synchronous and per request, so a flag scoped to
    /// it by [`numbers_as_millis`] is exact without threading the codec through every shape.
    static NUMBERS_AS_MILLIS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a typed conversion in which untagged timestamp numbers are milliseconds, as the AWS
/// Java SDKs read and write them in CBOR (payload timestamps `UNIX_TIMESTAMP_MILLIS`;
/// docs/aws-behaviour.md §4.4).
pub fn numbers_as_millis<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            NUMBERS_AS_MILLIS.with(|m| m.set(self.0));
        }
    }
    let _reset = Reset(NUMBERS_AS_MILLIS.with(|m| m.replace(true)));
    f()
}

impl FromValue for Timestamp {
    fn from_value(v: Value) -> Result<Self> {
        let scale = if NUMBERS_AS_MILLIS.with(std::cell::Cell::get) { 1 } else { 1000 };
        match v {
            Value::Null => Ok(None),
            // JSON carries seconds (boto3 sends integers, other SDKs fractions); untagged CBOR
            // numbers are milliseconds (see `numbers_as_millis`).
            Value::Int(n) => Ok(Some(Timestamp { millis: n.saturating_mul(scale) })),
            Value::Float(n) if scale == 1 => Ok(Some(Timestamp { millis: n.trunc() as i64 })),
            Value::Float(secs) => Ok(Some(Timestamp { millis: (secs * 1000.0).round() as i64 })),
            Value::Timestamp(millis) => Ok(Some(Timestamp { millis })),
            Value::String(_) => err("class java.lang.String can not be converted to milliseconds since epoch"),
            Value::Bool(_) => err("class java.lang.Boolean can not be converted to milliseconds since epoch"),
            Value::Blob(_) => err("class [B can not be converted to a Timestamp"),
            other => container_mismatch(&other),
        }
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    // A null element is dropped, as AWS's deserializer does.
                    if let Some(t) = T::from_value(item)? {
                        out.push(t);
                    }
                }
                Ok(Some(out))
            }
            Value::Map(_) => err("Start of structure or map found where not expected."),
            _ => err("Expected list or null"),
        }
    }
}

impl<V: FromValue> FromValue for Map<V> {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            Value::Map(members) => {
                let mut out: Vec<(String, V)> = Vec::with_capacity(members.len());
                for (k, item) in members {
                    if let Some(t) = V::from_value(item)? {
                        if let Some(slot) = out.iter_mut().find(|(existing, _)| *existing == k) {
                            slot.1 = t;
                        } else {
                            out.push((k, t));
                        }
                    }
                }
                Ok(Some(Map(out)))
            }
            Value::List(_) => err("Start of list found where not expected"),
            _ => err("Expected map or null"),
        }
    }
}

/// Entry point for generated structure conversions: checks the value is a structure.
pub fn structure_members(v: Value) -> std::result::Result<Option<Vec<(String, Value)>>, SerializationError> {
    match v {
        Value::Null => Ok(None),
        Value::Map(members) => Ok(Some(members)),
        Value::List(_) => Err(SerializationError("Start of list found where not expected".into())),
        _ => Err(SerializationError("Expected null".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_refuse_strings_with_aws_message() {
        assert_eq!(
            i32::from_value(Value::String("1".into())),
            Err(SerializationError("class java.lang.String can not be converted to an Integer".into()))
        );
        assert_eq!(i32::from_value(Value::Float(2.7)), Ok(Some(2)));
        assert_eq!(i64::from_value(Value::Null), Ok(None));
    }

    #[test]
    fn base64_errors_match_aws() {
        assert_eq!(
            decode_base64("23456").unwrap_err().0,
            "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"
        );
        assert_eq!(
            decode_base64("a*==").unwrap_err().0,
            "'a*==' can not be converted to a Blob: Invalid Base64 character: '*'"
        );
        assert_eq!(decode_base64("AAFoZWxsbw==").unwrap().as_ref(), b"\x00\x01hello");
        assert_eq!(decode_base64("").unwrap().len(), 0);
    }

    #[test]
    fn timestamps_accept_integer_and_fractional_seconds() {
        assert_eq!(Timestamp::from_value(Value::Int(1_700_000_000)).unwrap().unwrap().millis, 1_700_000_000_000);
        assert_eq!(Timestamp::from_value(Value::Float(1_700_000_000.123)).unwrap().unwrap().millis, 1_700_000_000_123);
        assert_eq!(Timestamp::from_value(Value::Timestamp(5)).unwrap().unwrap().millis, 5);
    }

    #[test]
    fn untagged_cbor_timestamps_are_milliseconds_only_inside_the_scope() {
        let ms = |v| Timestamp::from_value(v).unwrap().unwrap().millis;
        assert_eq!(numbers_as_millis(|| ms(Value::Int(1_700_000_000_123))), 1_700_000_000_123);
        assert_eq!(numbers_as_millis(|| ms(Value::Float(1_700_000_000_123.9))), 1_700_000_000_123);
        assert_eq!(numbers_as_millis(|| ms(Value::Timestamp(7))), 7);
        assert_eq!(ms(Value::Int(2)), 2000, "the scope ends with the conversion");
    }

    #[test]
    fn lists_and_maps_report_shape_mismatches() {
        assert_eq!(Vec::<String>::from_value(Value::Int(1)).unwrap_err().0, "Expected list or null");
        assert_eq!(Map::<String>::from_value(Value::String("x".into())).unwrap_err().0, "Expected map or null");
        assert_eq!(structure_members(Value::Bool(true)).unwrap_err().0, "Expected null");
    }
}
