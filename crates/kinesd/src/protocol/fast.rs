//! A fast path for the hottest request, PutRecords in JSON: straight from the body into the
//! typed input, with every record's data decoded into one shared buffer (no allocation per
//! record for data, no intermediate tree).
//!
//! It handles only well-formed requests. Anything unusual — a type mismatch, a null element,
//! a duplicate member, bad base64 — returns None, and the generic path (JSON → Value → typed)
//! runs instead and produces AWS's exact error, so fidelity never depends on this module.

use std::borrow::Cow;

use bytes::BytesMut;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::protocol::model::{PutRecordsInput, PutRecordsRequestEntry};

struct Input<'a> {
    records: Option<Vec<Entry<'a>>>,
    stream_name: Option<String>,
    stream_arn: Option<String>,
    stream_id: Option<String>,
}

struct Entry<'a> {
    data: Option<Cow<'a, str>>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

/// A string borrowed from the body when it has no escapes (serde's own `Cow` always copies).
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// Sets a member once; a repeated member makes the whole parse fail (the generic path decides).
fn once<T, E: de::Error>(slot: &mut Option<T>, seen: &mut bool, value: Option<T>) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        return Err(E::custom("duplicate member"));
    }
    *slot = value;
    Ok(())
}

/// The value of a member the fast path does not use, read in full so that it is checked as the
/// generic parser checks it: `IgnoredAny` would skip a string without validating its UTF-8 or
/// escapes, and the fast path would then accept a body the generic path refuses (found by the
/// `json_put_records` fuzz target).
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skipped;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skipped, E> {
                Ok(Skipped)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skipped, E> {
                Ok(Skipped)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skipped, E> {
                Ok(Skipped)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skipped, E> {
                Ok(Skipped)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skipped, E> {
                Ok(Skipped)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skipped, E> {
                Ok(Skipped)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
                while seq.next_element::<Skipped>()?.is_some() {}
                Ok(Skipped)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
                while map.next_entry::<Skipped, Skipped>()?.is_some() {}
                Ok(Skipped)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Input<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Input<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a PutRecords request")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input<'a>, A::Error> {
                let mut input = Input { records: None, stream_name: None, stream_arn: None, stream_id: None };
                let mut seen = [false; 4];
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "Records" => once(&mut input.records, &mut seen[0], map.next_value()?)?,
                        "StreamName" => once(&mut input.stream_name, &mut seen[1], map.next_value()?)?,
                        "StreamARN" => once(&mut input.stream_arn, &mut seen[2], map.next_value()?)?,
                        "StreamId" => once(&mut input.stream_id, &mut seen[3], map.next_value()?)?,
                        _ => {
                            map.next_value::<Skipped>()?;
                        }
                    }
                }
                Ok(input)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Entry<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a PutRecords entry")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry<'a>, A::Error> {
                let mut entry = Entry { data: None, partition_key: None, explicit_hash_key: None };
                let mut seen = [false; 3];
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "Data" => {
                            let v: Option<Text<'de>> = map.next_value()?;
                            once(&mut entry.data, &mut seen[0], v.map(|t| t.0))?
                        }
                        "PartitionKey" => once(&mut entry.partition_key, &mut seen[1], map.next_value()?)?,
                        "ExplicitHashKey" => once(&mut entry.explicit_hash_key, &mut seen[2], map.next_value()?)?,
                        _ => {
                            map.next_value::<Skipped>()?;
                        }
                    }
                }
                Ok(entry)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The typed PutRecords input, or None to take the generic path.
pub fn put_records(body: &[u8]) -> Option<PutRecordsInput> {
    // serde would also take a JSON array for a structure; AWS does not.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let input: Input = serde_json::from_slice(body).ok()?;
    let records = match input.records {
        None => None,
        Some(entries) => {
            let total: usize = entries
                .iter()
                .map(|e| e.data.as_ref().map_or(0, |d| base64_simd::STANDARD.estimated_decoded_length(d.len())))
                .sum();
            let mut buf = BytesMut::zeroed(total);
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let data = match e.data {
                    None => None,
                    Some(text) => {
                        let n = base64_simd::STANDARD
                            .decode(text.as_bytes(), base64_simd::Out::from_slice(&mut buf[..]))
                            .ok()?
                            .len();
                        Some(buf.split_to(n))
                    }
                };
                out.push((data, e.partition_key, e.explicit_hash_key));
            }
            Some(
                out.into_iter()
                    .map(|(data, partition_key, explicit_hash_key)| PutRecordsRequestEntry {
                        data: data.map(BytesMut::freeze),
                        partition_key,
                        explicit_hash_key,
                    })
                    .collect(),
            )
        }
    };
    Some(PutRecordsInput {
        records,
        stream_name: input.stream_name,
        stream_arn: input.stream_arn,
        stream_id: input.stream_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{FromValue, json};

    fn generic(body: &str) -> PutRecordsInput {
        PutRecordsInput::from_value(json::parse(body.as_bytes()).unwrap()).unwrap().unwrap()
    }

    #[test]
    fn agrees_with_the_generic_path() {
        for body in [
            r#"{"StreamName":"s","Records":[{"Data":"AAFoZWxsbw==","PartitionKey":"a"},{"Data":"","PartitionKey":"b","ExplicitHashKey":"7"}]}"#,
            r#"{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","Records":[],"Unknown":{"x":[1]}}"#,
            r#"{"StreamName":"s\u0041","Records":[{"Data":"aGk=","PartitionKey":"k\n","Extra":null}]}"#,
            r#"{"StreamName":null}"#,
        ] {
            assert_eq!(put_records(body.as_bytes()), Some(generic(body)), "{body}");
        }
    }

    #[test]
    fn an_unused_member_is_checked_like_the_generic_parser_checks_it() {
        // Invalid UTF-8 and a lone surrogate in members the fast path does not use: the generic
        // parser refuses both bodies, so the fast path must not accept them.
        let mut body = br#"{"Records":[{"Data":"","PartitionKey":"a","Unused":"1"#.to_vec();
        body.extend_from_slice(&[0xa9, 0xa9]);
        body.extend_from_slice(br#""}],"StreamName":"s"}"#);
        assert!(json::parse(&body).is_err());
        assert_eq!(put_records(&body), None);
        let body = br#"{"StreamName":"s","Other":{"k":["\udc00"]},"Records":[]}"#;
        assert!(json::parse(body).is_err());
        assert_eq!(put_records(body), None);
    }

    #[test]
    fn anything_unusual_takes_the_generic_path() {
        for body in [
            r#"{"Records":[{"Data":"23456","PartitionKey":"a"}]}"#,
            r#"{"Records":[{"Data":"+/+=","PartitionKey":"a"}]}"#,
            r#"{"Records":[null]}"#,
            r#"{"Records":[{"Data":1,"PartitionKey":"a"}]}"#,
            r#"{"Records":"x"}"#,
            r#"{"Records":[["aGk=","k"]]}"#,
            r#"{"Records":[{"PartitionKey":"a","PartitionKey":"b"}]}"#,
            r#"{"StreamName":"a","StreamName":"b"}"#,
            r#"[]"#,
            "not json",
        ] {
            assert_eq!(put_records(body.as_bytes()), None, "{body}");
        }
    }
}
