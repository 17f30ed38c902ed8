//! De-aggregation of records written by the Kinesis Producer Library (KPL) and by the
//! `aws-kinesis-agg` libraries: one Kinesis record carrying many user records.
//!
//! The format: the magic `F3 89 9A C2`, a protobuf `AggregatedRecord`, and the MD5 of that
//! protobuf (16 bytes). Anything else — a wrong magic, a digest that does not match, a
//! protobuf that does not parse — is an ordinary record and is shown as it is, as the KCL does.
//!
//! ```text
//! message AggregatedRecord {
//!   repeated string partition_key_table     = 1;
//!   repeated string explicit_hash_key_table = 2;
//!   repeated Record records                 = 3;
//! }
//! message Record {
//!   required uint64 partition_key_index     = 1;
//!   optional uint64 explicit_hash_key_index = 2;
//!   required bytes  data                    = 3;
//!   repeated Tag    tags                    = 4;
//! }
//! ```

use md5::{Digest, Md5};

const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
const DIGEST_LEN: usize = 16;

/// One user record of an aggregated record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
    pub data: &'a [u8],
}

/// The user records of `data` when it is a well-formed aggregated record, else `None`.
pub fn deaggregate(data: &[u8]) -> Option<Vec<UserRecord<'_>>> {
    let body = data.strip_prefix(&MAGIC)?;
    if body.len() < DIGEST_LEN {
        return None;
    }
    let (message, digest) = body.split_at(body.len() - DIGEST_LEN);
    if Md5::digest(message).as_slice() != digest {
        return None;
    }
    let mut keys = Vec::new();
    let mut hash_keys = Vec::new();
    let mut raw = Vec::new();
    for field in Fields(message) {
        match field? {
            (1, Field::Bytes(b)) => keys.push(std::str::from_utf8(b).ok()?),
            (2, Field::Bytes(b)) => hash_keys.push(std::str::from_utf8(b).ok()?),
            (3, Field::Bytes(b)) => raw.push(b),
            (_, _) => {}
        }
    }
    let mut records = Vec::with_capacity(raw.len());
    for record in raw {
        let (mut key, mut hash_key, mut payload) = (None, None, None);
        for field in Fields(record) {
            match field? {
                (1, Field::Varint(i)) => key = Some(usize::try_from(i).ok()?),
                (2, Field::Varint(i)) => hash_key = Some(usize::try_from(i).ok()?),
                (3, Field::Bytes(b)) => payload = Some(b),
                (_, _) => {}
            }
        }
        records.push(UserRecord {
            partition_key: keys.get(key?)?,
            explicit_hash_key: match hash_key {
                Some(i) => Some(hash_keys.get(i)?),
                None => None,
            },
            data: payload?,
        });
    }
    Some(records)
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed 32- and 64-bit values, which these messages do not use but may carry.
    Fixed,
}

/// The fields of one protobuf message, in order; `None` ends a malformed one.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Option<(u64, Field<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let parsed = (|| {
            let key = varint(&mut self.0)?;
            let field = match key & 7 {
                0 => Field::Varint(varint(&mut self.0)?),
                1 | 5 => {
                    let n = if key & 7 == 1 { 8 } else { 4 };
                    self.0 = self.0.get(n..)?;
                    Field::Fixed
                }
                2 => {
                    let len = usize::try_from(varint(&mut self.0)?).ok()?;
                    let bytes = self.0.get(..len)?;
                    self.0 = &self.0[len..];
                    Field::Bytes(bytes)
                }
                _ => return None,
            };
            Some((key >> 3, field))
        })();
        if parsed.is_none() {
            // Nothing more is read from a malformed message.
            self.0 = &[];
        }
        Some(parsed)
    }
}

fn varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        put_varint(out, field << 3 | 2);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// An aggregated record built by hand from the format above.
    fn aggregate(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut message = Vec::new();
        for (key, _) in records {
            put_bytes(&mut message, 1, key.as_bytes());
        }
        for (i, (_, data)) in records.iter().enumerate() {
            let mut record = Vec::new();
            put_varint(&mut record, 1 << 3);
            put_varint(&mut record, i as u64);
            put_bytes(&mut record, 3, data);
            put_bytes(&mut message, 3, &record);
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&message);
        out.extend_from_slice(&Md5::digest(&message));
        out
    }

    #[test]
    fn aggregated_records_give_their_user_records() {
        let data = aggregate(&[("a", b"one"), ("b", b""), ("a", &[0xFF; 300])]);
        let records = deaggregate(&data).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!((records[0].partition_key, records[0].data), ("a", &b"one"[..]));
        assert_eq!((records[1].partition_key, records[1].data), ("b", &b""[..]));
        assert_eq!(records[2].data.len(), 300);
    }

    #[test]
    fn anything_else_is_an_ordinary_record() {
        assert!(deaggregate(b"hello").is_none());
        let mut data = aggregate(&[("a", b"one")]);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert!(deaggregate(&data).is_none(), "a wrong digest");
        assert!(deaggregate(&MAGIC).is_none());
        // A digest that matches a message that does not parse.
        let message = [0x1A, 0x05, 0x00];
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&message);
        data.extend_from_slice(&Md5::digest(message));
        assert!(deaggregate(&data).is_none());
    }
}
