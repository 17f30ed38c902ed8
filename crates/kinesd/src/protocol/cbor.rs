//! `application/x-amz-cbor-1.1` (RFC 8949), what the Java SDKs v1 and v2 speak by default:
//! request bodies into [`Value`], responses from the [`Encoder`] calls.
//!
//! Written by hand rather than with a crate (see docs/decisions/0004-cbor.md): the decoder
//! borrows from the body's `Bytes`, so every definite-length byte string (a record's `Data`) is
//! a `Bytes::slice` of the body — no copy — and the format subset AWS uses is small.
//!
//! What the Java SDKs write and expect (docs/aws-behaviour.md §4.4): maps keyed by text
//! strings, often indefinite-length (Jackson writes `0xbf … 0xff`); blobs as byte strings;
//! timestamps as tag 1 around an integer of **milliseconds** (not RFC 8949's seconds).

use bytes::{Bytes, BytesMut};

use super::encode::Encoder;
use super::model::{PutRecordsInput, PutRecordsRequestEntry};
use super::value::Value;

/// How deep arrays, maps and tags may nest. The deepest Kinesis request shape nests 4 levels
/// (SubscribeToShard → StartingPosition; PutRecords → Records → entry), so 64 leaves ample room
/// for unknown members while bounding the recursion (each level is one stack frame) far below
/// what could exhaust a worker thread's stack.
pub const MAX_DEPTH: usize = 64;

/// Why a body is not a CBOR document kinesd reads; the text goes into the
/// SerializationException's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CborError(pub String);

fn fail<T>(what: impl Into<String>) -> Result<T, CborError> {
    Err(CborError(what.into()))
}

/// Decodes one CBOR document; nothing may follow its top-level item.
pub fn parse(body: &Bytes) -> Result<Value, CborError> {
    let mut d = Decoder { body, pos: 0 };
    let value = d.item(0)?;
    if d.pos != body.len() {
        return fail(format!("unexpected bytes after the top-level item at offset {}", d.pos));
    }
    Ok(value)
}

/// The marker that ends an indefinite-length item.
const BREAK: u8 = 0xff;

struct Decoder<'b> {
    body: &'b Bytes,
    pos: usize,
}

/// An item's initial byte, split: the major type and its argument.
enum Arg {
    Value(u64),
    Indefinite,
}

impl Decoder<'_> {
    fn remaining(&self) -> usize {
        self.body.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        match self.body.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => fail(format!("truncated: the body ends at offset {} inside an item", self.pos)),
        }
    }

    fn take(&mut self, n: u64) -> Result<std::ops::Range<usize>, CborError> {
        // A declared length is trusted only as far as the body actually reaches.
        if n > self.remaining() as u64 {
            return fail(format!(
                "truncated: an item at offset {} declares {n} bytes but only {} remain",
                self.pos,
                self.remaining()
            ));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(start..self.pos)
    }

    fn be(&mut self, n: u64) -> Result<u64, CborError> {
        let range = self.take(n)?;
        Ok(self.body[range].iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Reads the argument of an initial byte's additional information.
    fn arg(&mut self, info: u8) -> Result<Arg, CborError> {
        Ok(match info {
            0..=23 => Arg::Value(u64::from(info)),
            24 => Arg::Value(self.be(1)?),
            25 => Arg::Value(self.be(2)?),
            26 => Arg::Value(self.be(4)?),
            27 => Arg::Value(self.be(8)?),
            31 => Arg::Indefinite,
            _ => return fail(format!("reserved additional information {info} at offset {}", self.pos - 1)),
        })
    }

    fn at_break(&mut self) -> Result<bool, CborError> {
        match self.body.get(self.pos) {
            Some(&BREAK) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => fail("truncated: the body ends inside an indefinite-length item"),
        }
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        let offset = self.pos;
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            return self.simple(info, offset);
        }
        let arg = self.arg(info)?;
        match (major, arg) {
            (0, Arg::Value(n)) => Ok(i64::try_from(n).map_or(Value::Float(n as f64), Value::Int)),
            // -1 - n; beyond i64 as a Float, as the JSON decoder does with numbers beyond i64.
            (1, Arg::Value(n)) => Ok(i64::try_from(n).map_or(Value::Float(-1.0 - n as f64), |n| Value::Int(-1 - n))),
            (2, arg) => self.bytes(arg).map(Value::Blob),
            (3, arg) => self.text(arg).map(Value::String),
            (4, arg) => {
                let depth = nested(depth, offset)?;
                let mut items = Vec::new();
                match arg {
                    Arg::Value(n) => {
                        // Every item takes at least one byte: never reserve beyond the body.
                        items.reserve(n.min(self.remaining() as u64) as usize);
                        for _ in 0..n {
                            items.push(self.item(depth)?);
                        }
                    }
                    Arg::Indefinite => {
                        while !self.at_break()? {
                            items.push(self.item(depth)?);
                        }
                    }
                }
                Ok(Value::List(items))
            }
            (5, arg) => {
                let depth = nested(depth, offset)?;
                let mut members = Vec::new();
                match arg {
                    Arg::Value(n) => {
                        members.reserve(n.min(self.remaining() as u64 / 2) as usize);
                        for _ in 0..n {
                            let key = self.key()?;
                            members.push((key, self.item(depth)?));
                        }
                    }
                    Arg::Indefinite => {
                        while !self.at_break()? {
                            let key = self.key()?;
                            members.push((key, self.item(depth)?));
                        }
                    }
                }
                Ok(Value::Map(members))
            }
            (6, Arg::Value(tag)) => {
                let depth = nested(depth, offset)?;
                let inner = self.item(depth)?;
                // Tag 1 is a timestamp; the AWS SDKs put milliseconds in it (aws-behaviour.md
                // §4.4), and Jackson reads a float in it as a long, truncating.
                Ok(match (tag, inner) {
                    (1, Value::Int(ms)) => Value::Timestamp(ms),
                    (1, Value::Float(ms)) if ms.is_finite() => Value::Timestamp(ms.trunc() as i64),
                    // Other tags (and tag 1 around anything else) carry nothing kinesd needs:
                    // the content stands for itself and the typed conversion judges it.
                    (_, inner) => inner,
                })
            }
            (_, _) => fail(format!("an integer or tag of indefinite length at offset {offset}")),
        }
    }

    fn simple(&mut self, info: u8, offset: usize) -> Result<Value, CborError> {
        Ok(match info {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            22 | 23 => Value::Null,
            25 => Value::Float(half(self.be(2)? as u16)),
            26 => Value::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            27 => Value::Float(f64::from_bits(self.be(8)?)),
            31 => return fail(format!("a break (0xff) outside an indefinite-length item at offset {offset}")),
            28..=30 => return fail(format!("reserved additional information {info} at offset {offset}")),
            _ => return fail(format!("an unsupported simple value at offset {offset}")),
        })
    }

    /// A byte string: a slice of the body when definite, the chunks joined when indefinite.
    fn bytes(&mut self, arg: Arg) -> Result<Bytes, CborError> {
        match arg {
            Arg::Value(n) => Ok(self.body.slice(self.take(n)?)),
            Arg::Indefinite => {
                let mut joined = BytesMut::new();
                while !self.at_break()? {
                    let range = self.chunk(2)?;
                    joined.extend_from_slice(&self.body[range]);
                }
                Ok(joined.freeze())
            }
        }
    }

    fn text(&mut self, arg: Arg) -> Result<String, CborError> {
        let utf8 = |bytes: &[u8], at: usize| match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => fail(format!("a text string at offset {at} is not valid UTF-8")),
        };
        match arg {
            Arg::Value(n) => {
                let at = self.pos;
                let range = self.take(n)?;
                utf8(&self.body[range], at)
            }
            Arg::Indefinite => {
                // Each chunk must be valid UTF-8 on its own (RFC 8949 §3.2.3).
                let mut joined = String::new();
                while !self.at_break()? {
                    let at = self.pos;
                    let range = self.chunk(3)?;
                    joined.push_str(&utf8(&self.body[range], at)?);
                }
                Ok(joined)
            }
        }
    }

    /// One chunk of an indefinite-length string: a definite string of the same major type.
    fn chunk(&mut self, major: u8) -> Result<std::ops::Range<usize>, CborError> {
        let offset = self.pos;
        let initial = self.byte()?;
        if initial >> 5 != major {
            return fail(format!("a chunk of another type inside an indefinite-length string at offset {offset}"));
        }
        match self.arg(initial & 0x1f)? {
            Arg::Value(n) => self.take(n),
            Arg::Indefinite => fail(format!("a nested indefinite-length string at offset {offset}")),
        }
    }

    fn key(&mut self) -> Result<String, CborError> {
        let offset = self.pos;
        let initial = self.byte()?;
        if initial >> 5 != 3 {
            return fail(format!("a map key at offset {offset} is not a text string"));
        }
        let arg = self.arg(initial & 0x1f)?;
        self.text(arg)
    }
}

/// The hottest request, PutRecords, straight from the body into its typed input: no `Value`
/// tree, keys compared in place, every record's `Data` a slice of the body. Like the JSON fast
/// path (`fast.rs`) it takes only the usual shape — anything else (a type mismatch, a null
/// element, a duplicate member, malformed CBOR) returns None and the generic path decides,
/// with AWS's exact error, so fidelity never depends on this function.
pub fn put_records(body: &Bytes) -> Option<PutRecordsInput> {
    let mut d = Decoder { body, pos: 0 };
    let mut input = PutRecordsInput::default();
    let mut seen = [false; 4];
    d.members(|d, key| match key {
        "Records" => once(&mut seen[0], &mut input.records, d.records()?),
        "StreamName" => once(&mut seen[1], &mut input.stream_name, d.opt_text()?),
        "StreamARN" => once(&mut seen[2], &mut input.stream_arn, d.opt_text()?),
        "StreamId" => once(&mut seen[3], &mut input.stream_id, d.opt_text()?),
        // A member of the top-level map sits at depth 1, as in `Decoder::item`.
        _ => d.skip(1),
    })?;
    (d.pos == body.len()).then_some(input)
}

/// Sets a member once; a repeated one sends the request to the generic path.
fn once<T>(seen: &mut bool, slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if std::mem::replace(seen, true) {
        return None;
    }
    *slot = value;
    Some(())
}

impl<'b> Decoder<'b> {
    /// A map's members, definite or indefinite, each key a definite text string.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'b str) -> Option<()>) -> Option<()> {
        let initial = self.byte().ok()?;
        if initial >> 5 != 5 {
            return None;
        }
        match self.arg(initial & 0x1f).ok()? {
            Arg::Value(n) => {
                for _ in 0..n {
                    let key = self.plain_key()?;
                    member(self, key)?;
                }
            }
            Arg::Indefinite => {
                while !self.at_break().ok()? {
                    let key = self.plain_key()?;
                    member(self, key)?;
                }
            }
        }
        Some(())
    }

    fn plain_key(&mut self) -> Option<&'b str> {
        let body: &'b Bytes = self.body;
        let initial = self.byte().ok()?;
        if initial >> 5 != 3 {
            return None;
        }
        let Arg::Value(n) = self.arg(initial & 0x1f).ok()? else { return None };
        std::str::from_utf8(&body[self.take(n).ok()?]).ok()
    }

    fn is_null(&mut self) -> bool {
        let null = self.body.get(self.pos) == Some(&0xf6);
        self.pos += usize::from(null);
        null
    }

    /// `Some(None)` for null, `Some(Some(range))` for the content of a definite string of
    /// major type `major`, None otherwise.
    fn opt_definite(&mut self, major: u8) -> Option<Option<std::ops::Range<usize>>> {
        if self.is_null() {
            return Some(None);
        }
        let initial = self.byte().ok()?;
        if initial >> 5 != major {
            return None;
        }
        let Arg::Value(n) = self.arg(initial & 0x1f).ok()? else { return None };
        self.take(n).ok().map(Some)
    }

    /// `Some(None)` for null, `Some(Some(..))` for a definite text string, None otherwise.
    fn opt_text(&mut self) -> Option<Option<String>> {
        match self.opt_definite(3)? {
            None => Some(None),
            Some(range) => std::str::from_utf8(&self.body[range]).ok().map(|s| Some(s.to_owned())),
        }
    }

    fn opt_blob(&mut self) -> Option<Option<Bytes>> {
        Some(self.opt_definite(2)?.map(|range| self.body.slice(range)))
    }

    fn records(&mut self) -> Option<Option<Vec<PutRecordsRequestEntry>>> {
        if self.is_null() {
            return Some(None);
        }
        let initial = self.byte().ok()?;
        if initial >> 5 != 4 {
            return None;
        }
        let mut records = Vec::new();
        match self.arg(initial & 0x1f).ok()? {
            Arg::Value(n) => {
                // Every record takes at least one byte: never reserve beyond the body.
                records.reserve(n.min(self.remaining() as u64) as usize);
                for _ in 0..n {
                    records.push(self.record()?);
                }
            }
            Arg::Indefinite => {
                while !self.at_break().ok()? {
                    records.push(self.record()?);
                }
            }
        }
        Some(Some(records))
    }

    fn record(&mut self) -> Option<PutRecordsRequestEntry> {
        let mut entry = PutRecordsRequestEntry::default();
        let mut seen = [false; 3];
        self.members(|d, key| match key {
            "Data" => once(&mut seen[0], &mut entry.data, d.opt_blob()?),
            "PartitionKey" => once(&mut seen[1], &mut entry.partition_key, d.opt_text()?),
            "ExplicitHashKey" => once(&mut seen[2], &mut entry.explicit_hash_key, d.opt_text()?),
            // Top map, Records, record: a record's member sits at depth 3.
            _ => d.skip(3),
        })?;
        Some(entry)
    }

    /// An unknown member's value at `depth`, decoded and dropped: bounded exactly as the
    /// generic decoder bounds it, so both paths refuse the same bodies.
    fn skip(&mut self, depth: usize) -> Option<()> {
        self.item(depth).ok().map(drop)
    }
}

fn nested(depth: usize, offset: usize) -> Result<usize, CborError> {
    if depth >= MAX_DEPTH {
        return fail(format!("items nest deeper than {MAX_DEPTH} levels at offset {offset}"));
    }
    Ok(depth + 1)
}

/// IEEE 754 half precision (RFC 8949 Appendix D).
fn half(bits: u16) -> f64 {
    let exp = (bits >> 10) & 0x1f;
    let mant = f64::from(bits & 0x3ff);
    let magnitude = match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mant + 1024.0) * 2f64.powi(i32::from(exp) - 25),
    };
    if bits & 0x8000 != 0 { -magnitude } else { magnitude }
}

/// Writes CBOR into a byte buffer. Structures are indefinite-length maps (`0xbf … 0xff`), as
/// AWS and Jackson write them: `begin_struct` does not know its member count, and every CBOR
/// parser the SDKs use (Jackson's) reads both forms. Lists know their length and are definite.
pub struct CborEncoder {
    out: Vec<u8>,
}

impl CborEncoder {
    pub fn with_capacity(capacity: usize) -> Self {
        CborEncoder { out: Vec::with_capacity(capacity) }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    /// An initial byte and its argument in the shortest form RFC 8949 §4.2.1 prescribes.
    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        match n {
            0..=23 => self.out.push(m | n as u8),
            24..=0xff => self.out.extend_from_slice(&[m | 24, n as u8]),
            0x100..=0xffff => {
                self.out.push(m | 25);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.out.push(m | 26);
                self.out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                self.out.push(m | 27);
                self.out.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
}

impl Encoder for CborEncoder {
    fn begin_struct(&mut self) {
        self.out.push(0xbf);
    }
    fn end_struct(&mut self) {
        self.out.push(BREAK);
    }
    fn field(&mut self, name: &str) {
        self.string(name);
    }
    fn begin_list(&mut self, len: usize) {
        self.head(4, len as u64);
    }
    fn end_list(&mut self) {}
    fn string(&mut self, v: &str) {
        self.head(3, v.len() as u64);
        self.out.extend_from_slice(v.as_bytes());
    }
    fn int(&mut self, v: i64) {
        if v >= 0 {
            self.head(0, v as u64);
        } else {
            // -1 - v, computed without overflow for i64::MIN.
            self.head(1, !(v as u64));
        }
    }
    fn bool(&mut self, v: bool) {
        self.out.push(if v { 0xf5 } else { 0xf4 });
    }
    fn blob(&mut self, v: &[u8]) {
        self.head(2, v.len() as u64);
        self.out.extend_from_slice(v);
    }
    /// Tag 1 around an integer of milliseconds, never a float: the SDKs read it with
    /// `getLongValue` (aws-behaviour.md §4.4).
    fn timestamp(&mut self, millis: i64) {
        self.out.push(0xc1);
        self.int(millis);
    }
    fn null(&mut self) {
        self.out.push(0xf6);
    }
}

#[cfg(test)]
mod tests;
