//! The records the load generator writes and reads: PutRecords bodies built once up front,
//! a send timestamp stamped into a record's first bytes (for end-to-end latency), and the
//! little the hot loops need from the answers.
//!
//! A PutRecords body is JSON with base64 data. Building it per request would make the load
//! generator, not the server, the bottleneck, so bodies are prebuilt templates: a plain `put`
//! sends them as they are (a `Bytes` clone), and `mixed` copies one and overwrites the first
//! 12 base64 characters of each record, which encode exactly its first 9 bytes — an 8-byte
//! little-endian microsecond timestamp and one filler byte.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::client::Protocol;

/// Distinct prebuilt bodies at most; partition keys beyond `MAX_BODIES × records per
/// request` are not reached.
const MAX_BODIES: usize = 64;

/// Bytes of a record taken by the send timestamp (and the base64 characters that encode them).
pub const STAMP_BYTES: usize = 9;
const STAMP_CHARS: usize = 12;

/// What a PutRecords request looks like.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub record_size: usize,
    pub records_per_request: usize,
    /// Distinct partition keys, used in turn.
    pub keys: usize,
}

struct Template {
    body: Bytes,
    /// Where each record's base64 data starts in `body`.
    data_offsets: Vec<usize>,
}

/// The PutRecords bodies of one run.
pub struct PutBodies {
    templates: Vec<Template>,
    pub shape: Shape,
    pub protocol: Protocol,
}

impl PutBodies {
    /// The bodies in `protocol`. CBOR bodies are written as the Java SDKs' Jackson generator
    /// writes them: indefinite-length maps and arrays, `Data` as a byte string.
    pub fn in_protocol(stream: &str, shape: Shape, protocol: Protocol) -> PutBodies {
        let rpr = shape.records_per_request.max(1);
        let keys = shape.keys.max(1);
        let count = keys.div_ceil(rpr).clamp(1, MAX_BODIES);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut data = vec![0u8; shape.record_size];
        // Base64 makes JSON's data 4/3 as long; both add about 48 bytes of members per record.
        let data_len = match protocol {
            Protocol::Json => shape.record_size * 4 / 3,
            Protocol::Cbor => shape.record_size,
        };
        let templates = (0..count)
            .map(|b| {
                let mut body = Vec::with_capacity(64 + rpr * (data_len + 48));
                let mut data_offsets = Vec::with_capacity(rpr);
                begin_request(&mut body, stream, protocol);
                for r in 0..rpr {
                    rng.fill(&mut data);
                    let key = format!("pk-{}", (b * rpr + r) % keys);
                    data_offsets.push(write_record(&mut body, r, &data, &key, protocol));
                }
                end_request(&mut body, protocol);
                Template { body: Bytes::from(body), data_offsets }
            })
            .collect();
        PutBodies { templates, shape, protocol }
    }

    /// `FailedRecordCount` of a PutRecords answer in this run's protocol.
    pub fn failed_record_count(&self, body: &[u8]) -> u64 {
        match self.protocol {
            Protocol::Json => failed_record_count(body),
            Protocol::Cbor => failed_record_count_cbor(body),
        }
    }

    /// The `i`th body (cycling), as built.
    pub fn plain(&self, i: usize) -> Bytes {
        self.templates[i % self.templates.len()].body.clone()
    }

    /// The `i`th body with every record stamped with `micros` (see [`now_micros`]).
    /// Needs records of at least [`STAMP_BYTES`] bytes.
    pub fn stamped(&self, i: usize, micros: u64) -> Bytes {
        let template = &self.templates[i % self.templates.len()];
        let mut body = template.body.to_vec();
        let mut prefix = [0u8; STAMP_BYTES];
        prefix[..8].copy_from_slice(&micros.to_le_bytes());
        if self.protocol == Protocol::Cbor {
            // CBOR data is raw: the stamp is the record's first bytes themselves.
            for &at in &template.data_offsets {
                body[at..at + STAMP_BYTES].copy_from_slice(&prefix);
            }
            return Bytes::from(body);
        }
        let mut chars = [0u8; STAMP_CHARS];
        STANDARD.encode_slice(prefix, &mut chars).expect("9 bytes are 12 base64 characters");
        for &at in &template.data_offsets {
            body[at..at + STAMP_CHARS].copy_from_slice(&chars);
        }
        Bytes::from(body)
    }
}

/// Microseconds since the Unix epoch: comparable across processes on one machine.
pub fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The send timestamp in a record's base64 `Data`, if it carries one.
pub fn stamp_of(data_base64: &str) -> Option<u64> {
    let chars = data_base64.as_bytes().get(..STAMP_CHARS)?;
    let mut prefix = [0u8; STAMP_BYTES];
    STANDARD.decode_slice(chars, &mut prefix).ok()?;
    Some(u64::from_le_bytes(prefix[..8].try_into().unwrap()))
}

/// `FailedRecordCount` of a PutRecords answer, found by a substring search rather than a
/// parse of the (tens of kilobytes of) per-record results. Absent counts as 0.
pub fn failed_record_count(body: &[u8]) -> u64 {
    const KEY: &[u8] = b"\"FailedRecordCount\"";
    let Some(at) = memchr::memmem::find(body, KEY) else {
        return 0;
    };
    body[at + KEY.len()..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == b':')
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
}

/// `FailedRecordCount` of a CBOR PutRecords answer: the key as a text string, then an
/// unsigned integer in any width. Absent counts as 0.
pub fn failed_record_count_cbor(body: &[u8]) -> u64 {
    const KEY: &[u8] = b"\x71FailedRecordCount";
    let Some(at) = memchr::memmem::find(body, KEY) else {
        return 0;
    };
    match (Walker { body: &body[at + KEY.len()..], pos: 0 }).head() {
        Some((0, Some(n))) => n,
        _ => 0,
    }
}

/// The members before the records: `StreamName`, and `Records` opened.
fn begin_request(body: &mut Vec<u8>, stream: &str, protocol: Protocol) {
    match protocol {
        Protocol::Json => {
            body.extend_from_slice(b"{\"StreamName\":");
            body.extend_from_slice(serde_json::to_string(stream).expect("strings serialise").as_bytes());
            body.extend_from_slice(b",\"Records\":[");
        }
        Protocol::Cbor => {
            body.push(0xbf);
            cbor_text(body, "StreamName");
            cbor_text(body, stream);
            cbor_text(body, "Records");
            body.push(0x9f);
        }
    }
}

/// Record `index` of the request; returns where its data starts in `body` (base64 text in
/// JSON, the byte string's content in CBOR), so a stamp can be written over it later.
fn write_record(body: &mut Vec<u8>, index: usize, data: &[u8], key: &str, protocol: Protocol) -> usize {
    match protocol {
        Protocol::Json => {
            if index > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"Data\":\"");
            let at = body.len();
            body.extend_from_slice(STANDARD.encode(data).as_bytes());
            body.extend_from_slice(b"\",\"PartitionKey\":\"");
            body.extend_from_slice(key.as_bytes());
            body.extend_from_slice(b"\"}");
            at
        }
        Protocol::Cbor => {
            body.push(0xbf);
            cbor_text(body, "Data");
            cbor_head(body, 2, data.len());
            let at = body.len();
            body.extend_from_slice(data);
            cbor_text(body, "PartitionKey");
            cbor_text(body, key);
            body.push(0xff);
            at
        }
    }
}

/// Closes `Records` and the request.
fn end_request(body: &mut Vec<u8>, protocol: Protocol) {
    body.extend_from_slice(match protocol {
        Protocol::Json => b"]}",
        Protocol::Cbor => &[0xff, 0xff],
    });
}

/// A CBOR text string.
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// An initial byte and its argument, shortest form.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: usize) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

/// A GetRecords answer when only the number of records matters.
#[derive(Deserialize)]
pub struct CountedPage {
    #[serde(rename = "Records", default)]
    pub records: Vec<IgnoredAny>,
    #[serde(rename = "NextShardIterator")]
    pub next_iterator: Option<String>,
    #[serde(rename = "MillisBehindLatest", default, deserialize_with = "any_number")]
    pub millis_behind: Option<f64>,
}

/// A number of any kind as f64: CBOR readers, unlike JSON's, do not turn integers into floats.
fn any_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or null")
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

impl CountedPage {
    /// Reads a GetRecords answer in either protocol. CBOR is walked by hand (records skipped,
    /// not built), so the load generator spends about what serde_json's `IgnoredAny` costs
    /// and not what a general CBOR library does.
    pub fn parse(body: &[u8], protocol: Protocol) -> Result<CountedPage, String> {
        match protocol {
            Protocol::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
            Protocol::Cbor => cbor_page(body).ok_or_else(|| "malformed CBOR GetRecords answer".to_owned()),
        }
    }
}

/// A minimal CBOR walker for the answers kinesd-bench reads.
struct Walker<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Walker<'a> {
    /// The major type and argument of the next item; None for a break or bad input.
    /// `Some((major, None))` is an indefinite-length item.
    fn head(&mut self) -> Option<(u8, Option<u64>)> {
        let initial = *self.body.get(self.pos)?;
        self.pos += 1;
        let (major, info) = (initial >> 5, initial & 0x1f);
        let width = match info {
            0..=23 => return Some((major, Some(u64::from(info)))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 if initial != 0xff => return Some((major, None)),
            _ => return None,
        };
        let bytes = self.body.get(self.pos..self.pos + width)?;
        self.pos += width;
        Some((major, Some(bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))))
    }

    fn at_break(&mut self) -> bool {
        let b = self.body.get(self.pos) == Some(&0xff);
        self.pos += usize::from(b);
        b
    }

    fn text(&mut self) -> Option<&'a str> {
        match self.head()? {
            (3, Some(n)) => {
                let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
                let s = std::str::from_utf8(self.body.get(self.pos..end)?).ok()?;
                self.pos = end;
                Some(s)
            }
            _ => None,
        }
    }

    /// Skips one item, `depth` bounding the recursion.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > 32 {
            return None;
        }
        match self.head()? {
            (0 | 1 | 7, Some(_)) => {}
            (2 | 3, Some(n)) => self.pos = self.pos.checked_add(usize::try_from(n).ok()?)?,
            (2..=4, None) => {
                while !self.at_break() {
                    self.skip(depth + 1)?;
                }
            }
            (4, Some(n)) => (0..n).try_for_each(|_| self.skip(depth + 1))?,
            (5, None) => {
                while !self.at_break() {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
            }
            (5, Some(n)) => (0..n).try_for_each(|_| self.skip(depth + 1).and_then(|()| self.skip(depth + 1)))?,
            (6, Some(_)) => self.skip(depth + 1)?,
            _ => return None,
        }
        (self.pos <= self.body.len()).then_some(())
    }

    /// Calls `each` once per item of the next array (`major` 4) or map (`major` 5: `each`
    /// reads the key and its value), definite or indefinite.
    fn items(&mut self, major: u8, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        let count = match self.head()? {
            (m, n) if m == major => n,
            _ => return None,
        };
        let mut seen = 0u64;
        loop {
            match count {
                Some(n) if seen == n => return Some(()),
                None if self.at_break() => return Some(()),
                _ => {}
            }
            seen += 1;
            each(self)?;
        }
    }

    /// Walks a map's members, handing each key to `member`.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.items(5, |w| {
            let key = w.text()?;
            member(w, key)
        })
    }

    /// Counts the items of an array, skipping each.
    fn count(&mut self) -> Option<usize> {
        let mut n = 0;
        self.items(4, |w| {
            n += 1;
            w.skip(1)
        })?;
        Some(n)
    }

    /// A text string, or None for null.
    fn text_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.body.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            return Some(None);
        }
        self.text().map(Some)
    }

    fn number(&mut self) -> Option<Option<f64>> {
        let start = self.pos;
        match self.head()? {
            (0, Some(n)) => Some(Some(n as f64)),
            (1, Some(n)) => Some(Some(-1.0 - n as f64)),
            (7, Some(_)) if self.body[start] == 0xf6 => Some(None),
            (7, Some(bits)) if self.body[start] == 0xfb => Some(Some(f64::from_bits(bits))),
            _ => None,
        }
    }
}

fn cbor_page(body: &[u8]) -> Option<CountedPage> {
    let mut w = Walker { body, pos: 0 };
    let mut page = CountedPage { records: Vec::new(), next_iterator: None, millis_behind: None };
    w.members(|w, key| {
        match key {
            "Records" => page.records = std::iter::repeat_with(|| IgnoredAny).take(w.count()?).collect(),
            "NextShardIterator" => page.next_iterator = w.text_or_null()?.map(str::to_owned),
            "MillisBehindLatest" => page.millis_behind = w.number()?,
            _ => w.skip(1)?,
        }
        Some(())
    })?;
    Some(page)
}

/// Each record's send stamp (None for a record without one) and the next iterator of a
/// GetRecords answer, in either protocol.
pub fn stamped_page(body: &[u8], protocol: Protocol) -> Result<(Vec<Option<u64>>, Option<String>), String> {
    match protocol {
        Protocol::Json => {
            let page: StampedPage = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            Ok((page.records.iter().map(|r| stamp_of(&r.data)).collect(), page.next_iterator))
        }
        Protocol::Cbor => cbor_stamped_page(body).ok_or_else(|| "malformed CBOR GetRecords answer".to_owned()),
    }
}

fn cbor_stamped_page(body: &[u8]) -> Option<(Vec<Option<u64>>, Option<String>)> {
    let mut w = Walker { body, pos: 0 };
    let mut stamps = Vec::new();
    let mut next = None;
    w.members(|w, key| match key {
        "Records" => w.items(4, |w| {
            let mut stamp = None;
            w.members(|w, key| match key {
                "Data" => match w.head()? {
                    (2, Some(n)) => {
                        let end = w.pos.checked_add(usize::try_from(n).ok()?)?;
                        let data = w.body.get(w.pos..end)?;
                        w.pos = end;
                        stamp = data.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
                        Some(())
                    }
                    _ => None,
                },
                _ => w.skip(2),
            })?;
            stamps.push(stamp);
            Some(())
        }),
        "NextShardIterator" => {
            next = w.text_or_null()?.map(str::to_owned);
            Some(())
        }
        _ => w.skip(1),
    })?;
    Some((stamps, next))
}

/// A GetRecords request for `iterator`, in `protocol`.
pub fn get_records_body(iterator: &str, limit: u32, protocol: Protocol) -> Bytes {
    match protocol {
        Protocol::Json => Bytes::from(format!(
            "{{\"ShardIterator\":{},\"Limit\":{limit}}}",
            serde_json::to_string(iterator).expect("strings serialise"),
        )),
        Protocol::Cbor => {
            let mut body = Vec::with_capacity(iterator.len() + 32);
            body.push(0xbf);
            cbor_text(&mut body, "ShardIterator");
            cbor_text(&mut body, iterator);
            cbor_text(&mut body, "Limit");
            cbor_head(&mut body, 0, limit as usize);
            body.push(0xff);
            Bytes::from(body)
        }
    }
}

/// A GetRecords answer with each record's data, for reading send timestamps.
#[derive(Deserialize)]
pub struct StampedPage<'a> {
    #[serde(rename = "Records", default, borrow)]
    pub records: Vec<DataOnly<'a>>,
    #[serde(rename = "NextShardIterator")]
    pub next_iterator: Option<String>,
}

#[derive(Deserialize)]
pub struct DataOnly<'a> {
    #[serde(rename = "Data", borrow)]
    pub data: Cow<'a, str>,
}

/// Cheap, deterministic filler for record data.
struct XorShift(u64);

impl XorShift {
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_put_records_requests() {
        let bodies =
            PutBodies::in_protocol("s", Shape { record_size: 100, records_per_request: 5, keys: 12 }, Protocol::Json);
        let v: serde_json::Value = serde_json::from_slice(&bodies.plain(1)).unwrap();
        let records = v["Records"].as_array().unwrap();
        assert_eq!(records.len(), 5);
        assert_eq!(records[0]["PartitionKey"], "pk-5");
        let data = STANDARD.decode(records[0]["Data"].as_str().unwrap()).unwrap();
        assert_eq!(data.len(), 100);
        assert_eq!(bodies.templates.len(), 3, "12 keys in bodies of 5");
    }

    #[test]
    fn stamps_round_trip_through_base64() {
        let bodies =
            PutBodies::in_protocol("s", Shape { record_size: 16, records_per_request: 3, keys: 3 }, Protocol::Json);
        let body = bodies.stamped(0, 1_234_567_890_123);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for r in v["Records"].as_array().unwrap() {
            assert_eq!(stamp_of(r["Data"].as_str().unwrap()), Some(1_234_567_890_123));
        }
    }

    #[test]
    fn cbor_bodies_carry_raw_data_and_stamps() {
        let bodies =
            PutBodies::in_protocol("s", Shape { record_size: 16, records_per_request: 3, keys: 3 }, Protocol::Cbor);
        let body = bodies.stamped(0, 1_234_567_890_123);
        assert_eq!(&body[..2], b"\xbf\x6a");
        let at = bodies.templates[0].data_offsets[1];
        assert_eq!(body[at - 1], 0x50, "a 16-byte byte string");
        assert_eq!(u64::from_le_bytes(body[at..at + 8].try_into().unwrap()), 1_234_567_890_123);
        assert!(memchr::memmem::find(&body, b"\x6cPartitionKey\x64pk-1").is_some());
        assert_eq!(body[body.len() - 2..], [0xff, 0xff]);
    }

    #[test]
    fn cbor_pages_are_counted_with_their_tags() {
        // {"Records":[{"Data":h'01',"ApproximateArrivalTimestamp":1(1700000000123)}],
        //  "NextShardIterator":"it","MillisBehindLatest":0}
        let mut body = b"\xbf\x67Records\x81\xbf\x64Data\x41\x01\x78\x1bApproximateArrivalTimestamp\xc1\x1b".to_vec();
        body.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        body.extend_from_slice(b"\xff\x71NextShardIterator\x62it\x72MillisBehindLatest\x00\xff");
        let page = CountedPage::parse(&body, Protocol::Cbor).unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.next_iterator.as_deref(), Some("it"));
        assert_eq!(page.millis_behind, Some(0.0));
        let json = CountedPage::parse(br#"{"Records":[{}],"NextShardIterator":null}"#, Protocol::Json).unwrap();
        assert_eq!((json.records.len(), json.next_iterator, json.millis_behind), (1, None, None));
        let json = CountedPage::parse(br#"{"Records":[],"MillisBehindLatest":2.5}"#, Protocol::Json).unwrap();
        assert_eq!(json.millis_behind, Some(2.5));
        let request = get_records_body("it", 10_000, Protocol::Cbor);
        assert_eq!(&request[..], b"\xbf\x6dShardIterator\x62it\x65Limit\x19\x27\x10\xff");
    }

    #[test]
    fn stamps_are_read_from_cbor_pages() {
        let mut body = b"\xbf\x67Records\x82\xbf\x64Data\x49".to_vec();
        body.extend_from_slice(&1_234_567u64.to_le_bytes());
        body.push(0);
        body.extend_from_slice(b"\x78\x1bApproximateArrivalTimestamp\xc1\x1b");
        body.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        body.extend_from_slice(b"\xff\xa1\x64Data\x41\x01\x71NextShardIterator\x62it\xff");
        let (stamps, next) = stamped_page(&body, Protocol::Cbor).unwrap();
        assert_eq!(stamps, vec![Some(1_234_567), None]);
        assert_eq!(next.as_deref(), Some("it"));
    }

    #[test]
    fn failed_record_count_is_read_from_cbor() {
        assert_eq!(failed_record_count_cbor(b"\xbf\x71FailedRecordCount\x05\xff"), 5);
        assert_eq!(failed_record_count_cbor(b"\xbf\x71FailedRecordCount\x19\x01\xf4\xff"), 500);
        assert_eq!(failed_record_count_cbor(b"\xbf\xff"), 0);
    }

    #[test]
    fn failed_record_count_is_found_anywhere() {
        assert_eq!(failed_record_count(br#"{"FailedRecordCount":12,"Records":[]}"#), 12);
        assert_eq!(failed_record_count(br#"{"Records":[], "FailedRecordCount" : 3}"#), 3);
        assert_eq!(failed_record_count(br#"{"Records":[]}"#), 0);
    }
}
