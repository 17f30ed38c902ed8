//! Kinesis sequence numbers in AWS's 186-bit "version 2" layout.
//!
//! Clients treat sequence numbers as opaque decimal integers, but they compare them as
//! integers (KCL uses `BigInteger`) and KCL's `SequenceNumberValidator` decodes the layout to
//! find the shard. So we emit exactly the layout real AWS emits (reference §6.1), 47 hex nibbles
//! from most to least significant:
//!
//! ```text
//! nibble  0      '2'                top nibble, makes the number 186 bits long
//! nibbles 1..9   shard_created_secs 36 bits
//! nibble  10     shard_index & 0xf
//! nibbles 11..26 position           64 bits, <= END_POSITION
//! nibbles 27..28 byte1              always 00
//! nibbles 29..37 arrival_secs       36 bits
//! nibbles 38..45 shard_index        32 bits
//! nibble  46     '2'                version
//! ```
//!
//! Invariants:
//! - Within one shard (fixed created time and index) the integer order is the order of
//!   `position`, whatever `arrival_secs` does, because position sits in higher bits.
//!   `Ord` on [`SequenceNumber`] is that same integer order.
//! - [`SequenceNumber::parse`] accepts only the canonical output of
//!   [`SequenceNumber::write_decimal`], so `parse(s)?.to_string() == s` always holds and a
//!   value cannot be built from an unvalidated string.
//! - Every valid number is 56 decimal digits (it lies in `[2^185, 2^185 + 2^184)`).
//!
//! Encoding is on the PutRecords/GetRecords hot path, so it works on three `u64` limbs and a
//! stack buffer; it never allocates beyond growing the caller's `String`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A sequence number decoded into the fields the engine owns.
///
/// The fields are public for cheap construction on the hot path; the engine keeps them within
/// [`SequenceNumber::is_valid`] (36-bit seconds, position at most
/// [`SequenceNumber::END_POSITION`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SequenceNumber {
    pub shard_created_secs: u64,
    pub shard_index: u32,
    pub position: u64,
    pub arrival_secs: u64,
}

/// The string is not a sequence number this server could have issued.
///
/// Carries no detail on purpose: AWS's messages quote the offending input, which the api
/// layer has and this module does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid sequence number")]
pub struct InvalidSequenceNumber;

/// Number of decimal digits in every valid sequence number.
pub const DECIMAL_LEN: usize = 56;

/// Enough digits for any 188-bit value (2^188 < 10^57); parse rejects longer input before any
/// arithmetic, which also bounds the work done on hostile input.
const MAX_DIGITS: usize = 57;

/// 10^19, the largest power of ten below 2^64: the limb-to-decimal conversion works in chunks
/// of 19 digits.
const TEN_POW_19: u64 = 10_000_000_000_000_000_000;
const CHUNK_DIGITS: usize = 19;

const VERSION: u64 = 2;
const TOP_NIBBLE: u64 = 2;
const MASK_36: u64 = (1 << 36) - 1;

impl SequenceNumber {
    /// The position AWS puts in a closed shard's `EndingSequenceNumber`: the largest position,
    /// so it compares greater than any record the shard holds.
    pub const END_POSITION: u64 = 0x7fff_ffff_ffff_ffff;

    /// Largest value of the 36-bit seconds fields (year 4147).
    pub const MAX_SECS: u64 = MASK_36;

    /// Whether every field fits its slot in the layout.
    pub const fn is_valid(&self) -> bool {
        self.shard_created_secs <= Self::MAX_SECS
            && self.arrival_secs <= Self::MAX_SECS
            && self.position <= Self::END_POSITION
    }

    /// The 192-bit integer as limbs `[hi, mid, lo]` (bits 128..192, 64..128, 0..64).
    ///
    /// Out-of-range fields are a bug in the engine; in release builds they saturate rather
    /// than spill into neighbouring fields, so the output stays a well-formed, monotone v2
    /// number.
    fn to_limbs(self) -> [u64; 3] {
        debug_assert!(self.is_valid(), "sequence number field out of range: {self:?}");
        let created = self.shard_created_secs.min(Self::MAX_SECS);
        let arrival = self.arrival_secs.min(Self::MAX_SECS);
        let position = self.position.min(Self::END_POSITION);
        let index = u64::from(self.shard_index);

        // bits 0..4 version, 4..36 shard index, 36..64 low 28 bits of arrival.
        let lo = VERSION | (index << 4) | (arrival << 36);
        // bits 64..72 high 8 bits of arrival, 72..80 byte1 (0), 80..128 low 48 bits of position.
        let mid = (arrival >> 28) | (position << 16);
        // bits 128..144 high 16 bits of position, 144..148 low nibble of the shard index,
        // 148..184 created secs, 184..188 the top nibble.
        let hi = (position >> 48) | ((index & 0xf) << 16) | (created << 20) | (TOP_NIBBLE << 56);
        [hi, mid, lo]
    }

    /// Inverse of [`Self::to_limbs`], rejecting anything that is not exactly a v2 number.
    fn from_limbs([hi, mid, lo]: [u64; 3]) -> Result<Self, InvalidSequenceNumber> {
        // Top byte == 0x02 means bits 184..192 hold nibble 2 and nothing above it: the
        // 186-bit length KCL's validator checks.
        let top = hi >> 56;
        let version = lo & 0xf;
        let byte1 = (mid >> 8) & 0xff;
        if top != TOP_NIBBLE || version != VERSION || byte1 != 0 {
            return Err(InvalidSequenceNumber);
        }
        let shard_index = ((lo >> 4) & 0xffff_ffff) as u32;
        let low_index_nibble = ((hi >> 16) & 0xf) as u32;
        if low_index_nibble != shard_index & 0xf {
            return Err(InvalidSequenceNumber);
        }
        let seq = SequenceNumber {
            shard_created_secs: (hi >> 20) & MASK_36,
            shard_index,
            position: (mid >> 16) | ((hi & 0xffff) << 48),
            arrival_secs: (lo >> 36) | ((mid & 0xff) << 28),
        };
        if seq.position > Self::END_POSITION {
            return Err(InvalidSequenceNumber);
        }
        Ok(seq)
    }

    /// Appends the decimal form to `out`; allocates only if `out` must grow.
    pub fn write_decimal(&self, out: &mut String) {
        out.push_str(self.decimal().as_str());
    }

    /// Decimal digits in a stack buffer, shared by [`Self::write_decimal`] and `Display`.
    fn decimal(&self) -> DecimalDigits {
        let mut limbs = self.to_limbs();
        let mut digits = DecimalDigits { buf: [b'0'; MAX_DIGITS], start: MAX_DIGITS };
        // Peel off 19-digit chunks from the low end. Two divisions leave < 2^188 / 10^38 < 10^19,
        // so three chunks cover every 188-bit value.
        let low = div_rem_limbs(&mut limbs, TEN_POW_19);
        let middle = div_rem_limbs(&mut limbs, TEN_POW_19);
        debug_assert_eq!(limbs[0], 0);
        debug_assert_eq!(limbs[1], 0);
        let high = limbs[2];
        write_chunk(&mut digits.buf[2 * CHUNK_DIGITS..], low);
        write_chunk(&mut digits.buf[CHUNK_DIGITS..2 * CHUNK_DIGITS], middle);
        write_chunk(&mut digits.buf[..CHUNK_DIGITS], high);
        // Strip leading zeros; the value is never zero (top nibble is 2).
        digits.start = digits.buf.iter().position(|&b| b != b'0').unwrap_or(MAX_DIGITS - 1);
        digits
    }

    /// Parses a decimal sequence number as clients send it back to us.
    ///
    /// Accepts only ASCII digits without leading zeros that encode a v2 number with valid
    /// fields; everything else (other versions, too long, signs, spaces) is an error.
    pub fn parse(s: &str) -> Result<SequenceNumber, InvalidSequenceNumber> {
        Self::from_limbs(decimal_limbs(s).ok_or(InvalidSequenceNumber)?)
    }
}

/// The value of a canonical decimal integer (ASCII digits, no leading zero, at most 57
/// digits) as big-endian 64-bit limbs; `None` for anything else.
pub(super) fn decimal_limbs(s: &str) -> Option<[u64; 3]> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_DIGITS || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    // Accumulate in 19-digit chunks, the first chunk taking the remainder so the rest are
    // full. At most 57 digits < 2^190, so the 192-bit accumulator cannot overflow.
    let mut limbs = [0u64; 3];
    let first = match bytes.len() % CHUNK_DIGITS {
        0 => CHUNK_DIGITS,
        r => r,
    };
    let (head, tail) = bytes.split_at(first);
    mul_add_limbs(&mut limbs, 1, parse_chunk(head));
    for chunk in tail.chunks(CHUNK_DIGITS) {
        mul_add_limbs(&mut limbs, TEN_POW_19, parse_chunk(chunk));
    }
    Some(limbs)
}

impl Ord for SequenceNumber {
    /// The order of the numbers as integers, which is the order clients see.
    fn cmp(&self, other: &Self) -> Ordering {
        self.to_limbs().cmp(&other.to_limbs())
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.decimal().as_str())
    }
}

impl FromStr for SequenceNumber {
    type Err = InvalidSequenceNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Decimal digits right-aligned in a fixed buffer; `buf[start..]` is the number.
struct DecimalDigits {
    buf: [u8; MAX_DIGITS],
    start: usize,
}

impl DecimalDigits {
    fn as_str(&self) -> &str {
        // Only ASCII digits are ever written into `buf`.
        std::str::from_utf8(&self.buf[self.start..]).expect("decimal digits are ASCII")
    }
}

/// Divides the big-endian limbs in place by `d` and returns the remainder.
fn div_rem_limbs(limbs: &mut [u64; 3], d: u64) -> u64 {
    let mut rem: u64 = 0;
    for limb in limbs.iter_mut() {
        // rem < d, so the quotient of this two-limb step fits in one limb.
        let cur = (u128::from(rem) << 64) | u128::from(*limb);
        let q = cur / u128::from(d);
        rem = (cur - q * u128::from(d)) as u64;
        *limb = q as u64;
    }
    rem
}

/// `limbs = limbs * m + a`; the caller guarantees the result fits in 192 bits.
fn mul_add_limbs(limbs: &mut [u64; 3], m: u64, a: u64) {
    let mut carry = u128::from(a);
    for limb in limbs.iter_mut().rev() {
        let cur = u128::from(*limb) * u128::from(m) + carry;
        *limb = cur as u64;
        carry = cur >> 64;
    }
    debug_assert_eq!(carry, 0, "192-bit accumulator overflowed");
}

/// Writes `v` as exactly `out.len()` zero-padded digits (`v < 10^out.len()`).
fn write_chunk(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Value of at most 19 ASCII digits (already checked), which always fits a `u64`.
fn parse_chunk(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seq(created: u64, index: u32, position: u64, arrival: u64) -> SequenceNumber {
        SequenceNumber { shard_created_secs: created, shard_index: index, position, arrival_secs: arrival }
    }

    fn encode(s: &SequenceNumber) -> String {
        let mut out = String::new();
        s.write_decimal(&mut out);
        out
    }

    /// Hex rendering of the 47 nibbles, to check the layout against the reference's split.
    fn nibbles(s: &SequenceNumber) -> String {
        let [hi, mid, lo] = s.to_limbs();
        let hex = format!("{hi:016x}{mid:016x}{lo:016x}");
        // 192 bits = 48 nibbles; the first is always 0 for a 188-bit value.
        assert_eq!(&hex[..1], "0");
        hex[1..].to_string()
    }

    fn split(hex: &str) -> String {
        [&hex[0..1], &hex[1..10], &hex[10..11], &hex[11..27], &hex[27..29], &hex[29..38], &hex[38..46], &hex[46..47]]
            .join(" ")
    }

    #[test]
    fn reference_worked_example() {
        let s = seq(1_700_000_000, 0, 0, 1_700_000_000);
        assert_eq!(s.to_string(), "49646437577108476416916876405825929425585429676275269634");
        assert_eq!(SequenceNumber::parse(&s.to_string()), Ok(s));
    }

    #[test]
    fn real_aws_starting_sequence_number() {
        let text = "49600871682957036442365024926191073437251060580128653314";
        let s = SequenceNumber::parse(text).expect("real AWS number parses");
        assert_eq!(s, seq(0x5db7_59cd, 0, 0, 0x5db7_59cd));
        assert_eq!(s.shard_created_secs, 1_572_297_165);
        assert_eq!(split(&nibbles(&s)), "2 05db759cd 0 0000000000000000 00 05db759cd 00000000 2");
        assert_eq!(s.to_string(), text);
    }

    #[test]
    fn real_aws_record_sequence_number() {
        let text = "49600282682944895786267660693075522538255370376250918498";
        let s = SequenceNumber::parse(text).expect("real AWS number parses");
        assert_eq!(s, seq(0x5d9e_29a3, 0x66, 0x34b_f1ac, 0x5d9f_0d78));
        assert_eq!(s.shard_index, 102);
        assert_eq!(split(&nibbles(&s)), "2 05d9e29a3 6 00000000034bf1ac 00 05d9f0d78 00000066 2");
        assert_eq!(s.to_string(), text);
    }

    #[test]
    fn real_aws_closed_shard_ending_sequence_number() {
        let text = "49576300004002856343289126011049985768053015998086774786";
        let s = SequenceNumber::parse(text).expect("real AWS number parses");
        assert_eq!(s, seq(0x599c_8fcd, 0, SequenceNumber::END_POSITION, 0x59a1_3513));
        assert_eq!(split(&nibbles(&s)), "2 0599c8fcd 0 7fffffffffffffff 00 059a13513 00000000 2");
        assert_eq!(s.to_string(), text);
    }

    #[test]
    fn write_decimal_appends() {
        let mut out = String::from("x=");
        seq(1_700_000_000, 0, 0, 1_700_000_000).write_decimal(&mut out);
        assert_eq!(out, "x=49646437577108476416916876405825929425585429676275269634");
    }

    #[test]
    fn extremes_are_56_digits_and_round_trip() {
        let cases = [
            seq(0, 0, 0, 0),
            seq(SequenceNumber::MAX_SECS, u32::MAX, SequenceNumber::END_POSITION, SequenceNumber::MAX_SECS),
            seq(0, u32::MAX, 0, 0),
            seq(SequenceNumber::MAX_SECS, 0, 0, 0),
        ];
        for s in cases {
            let text = s.to_string();
            assert_eq!(text.len(), DECIMAL_LEN, "{text}");
            assert_eq!(SequenceNumber::parse(&text), Ok(s));
        }
    }

    #[test]
    fn rejects_malformed_strings() {
        let good = "49646437577108476416916876405825929425585429676275269634";
        let bad = [
            "",
            "0",
            "1",
            "-1",
            "+49646437577108476416916876405825929425585429676275269634",
            " 49646437577108476416916876405825929425585429676275269634",
            "49646437577108476416916876405825929425585429676275269634 ",
            "049646437577108476416916876405825929425585429676275269634",
            "4964643757710847641691687640582592942558542967627526963a",
            "496464375771084764169168764058259294255854296762752696340",
            "4964643757710847641691687640582592942558542967627526963",
            "١٢٣",
            "TRIM_HORIZON",
            &"9".repeat(1000),
        ];
        for s in bad {
            assert_eq!(SequenceNumber::parse(s), Err(InvalidSequenceNumber), "{s:?}");
        }
        assert!(SequenceNumber::parse(good).is_ok());
    }

    /// Decimal form of an arbitrary 192-bit value built from limbs, for crafting near-misses.
    fn limbs_decimal(limbs: [u64; 3]) -> String {
        let mut l = limbs;
        let low = div_rem_limbs(&mut l, TEN_POW_19);
        let middle = div_rem_limbs(&mut l, TEN_POW_19);
        let high = div_rem_limbs(&mut l, TEN_POW_19);
        let top = l[2];
        let s = format!("{top}{high:019}{middle:019}{low:019}");
        let trimmed = s.trim_start_matches('0');
        if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
    }

    #[test]
    fn rejects_other_versions_and_bad_fields() {
        let base = seq(1_700_000_000, 0x1234_5675, 42, 1_700_000_001).to_limbs();
        assert!(SequenceNumber::parse(&limbs_decimal(base)).is_ok());
        let [hi, mid, lo] = base;
        let near_misses = [
            ("version 1", [hi, mid, (lo & !0xf) | 1]),
            ("version 0", [hi, mid, lo & !0xf]),
            ("top nibble 1", [(hi & !(0xff << 56)) | (1 << 56), mid, lo]),
            ("top nibble 3", [(hi & !(0xff << 56)) | (3 << 56), mid, lo]),
            ("longer than 188 bits", [hi | (1 << 60), mid, lo]),
            ("byte1 set", [hi, mid | (0x01 << 8), lo]),
            ("index nibble mismatch", [hi ^ (1 << 16), mid, lo]),
            ("position past END_POSITION", [hi | (1 << 15), mid, lo]),
        ];
        for (what, limbs) in near_misses {
            assert_eq!(SequenceNumber::parse(&limbs_decimal(limbs)), Err(InvalidSequenceNumber), "{what}");
        }
    }

    #[test]
    fn end_position_sorts_after_every_record_of_the_shard() {
        let end = seq(100, 3, SequenceNumber::END_POSITION, 5);
        let last = seq(100, 3, SequenceNumber::END_POSITION - 1, SequenceNumber::MAX_SECS);
        assert!(last < end);
        assert!(last.to_string() < end.to_string());
    }

    fn valid_seq() -> impl Strategy<Value = SequenceNumber> {
        (0..=SequenceNumber::MAX_SECS, any::<u32>(), 0..=SequenceNumber::END_POSITION, 0..=SequenceNumber::MAX_SECS)
            .prop_map(|(c, i, p, a)| seq(c, i, p, a))
    }

    /// Orders decimal strings without leading zeros as the integers they denote.
    fn decimal_cmp(a: &str, b: &str) -> Ordering {
        (a.len(), a).cmp(&(b.len(), b))
    }

    /// One way to damage a valid sequence number: in its decimal text, or in one field of its
    /// layout (then printed in decimal).
    #[derive(Clone, Debug)]
    enum Damage {
        /// Replace the digit at `at` by `to` (a different digit). The only damage that may leave a
        /// valid number: a different one.
        ChangeDigit {
            at: usize,
            to: u8,
        },
        /// Insert `c` before character `at`.
        Insert {
            at: usize,
            c: char,
        },
        /// Remove the character at `at`.
        Delete {
            at: usize,
        },
        LeadingZero,
        /// Append digits: 57 digits are past 2^188, more are past the length limit.
        Overflow(String),
        /// Text around the digits: signs, spaces, other scripts' digits.
        Wrap(&'static str, &'static str),
        /// A version nibble other than 2.
        Version(u64),
        /// A top byte other than 0x02 (a number longer or shorter than 186 bits).
        Top(u64),
        /// A non-zero byte1.
        ByteOne(u64),
        /// The two copies of the shard index's low nibble disagree.
        IndexNibble(u64),
        /// The position's top bit set: past END_POSITION.
        PositionPastEnd,
    }

    impl Damage {
        fn apply(&self, s: &SequenceNumber) -> String {
            let [hi, mid, lo] = s.to_limbs();
            match *self {
                Damage::Version(v) => limbs_decimal([hi, mid, (lo & !0xf) | v]),
                Damage::Top(t) => limbs_decimal([(hi & !(0xff << 56)) | (t << 56), mid, lo]),
                Damage::ByteOne(b) => limbs_decimal([hi, (mid & !(0xff << 8)) | (b << 8), lo]),
                Damage::IndexNibble(x) => limbs_decimal([hi ^ (x << 16), mid, lo]),
                Damage::PositionPastEnd => limbs_decimal([hi | (1 << 15), mid, lo]),
                _ => self.apply_to_text(&encode(s)),
            }
        }

        /// The textual damage applied to any text (indexes are in characters and wrap, so it
        /// applies to the shorter, longer or non-ASCII text that stacked damage produces); layout
        /// damage needs a number and leaves the text alone here.
        fn apply_to_text(&self, text: &str) -> String {
            let mut chars: Vec<char> = text.chars().collect();
            match self {
                Damage::ChangeDigit { at, to } if !chars.is_empty() => {
                    let i = at % chars.len();
                    chars[i] = char::from(b'0' + to);
                }
                Damage::Insert { at, c } => chars.insert(at % (chars.len() + 1), *c),
                Damage::Delete { at } if !chars.is_empty() => {
                    chars.remove(at % chars.len());
                }
                Damage::LeadingZero => chars.insert(0, '0'),
                Damage::Overflow(digits) => chars.extend(digits.chars()),
                Damage::Wrap(before, after) => return format!("{before}{text}{after}"),
                _ => {}
            }
            chars.into_iter().collect()
        }
    }

    /// Replacing one digit by another; the replacement differs from the digit replaced.
    fn changed_digit(s: SequenceNumber) -> impl Strategy<Value = (SequenceNumber, Damage)> {
        (0..DECIMAL_LEN, 1u8..10).prop_map(move |(at, step)| {
            let old = encode(&s).as_bytes()[at] - b'0';
            (s, Damage::ChangeDigit { at, to: (old + step) % 10 })
        })
    }

    /// Damage after which no valid number remains: a valid number has exactly 56 digits, so an
    /// inserted or deleted character already breaks it.
    fn layout_breaking_damage() -> impl Strategy<Value = Damage> {
        let wraps = [("+", ""), ("-", ""), (" ", ""), ("", " "), ("\t", ""), ("", "\n"), ("٣", ""), ("0x", "")];
        prop_oneof![
            (0..=DECIMAL_LEN, prop_oneof![any::<char>(), proptest::char::range('0', '9')])
                .prop_map(|(at, c)| Damage::Insert { at, c }),
            (0..DECIMAL_LEN).prop_map(|at| Damage::Delete { at }),
            Just(Damage::LeadingZero),
            "[0-9]{1,1000}".prop_map(Damage::Overflow),
            proptest::sample::select(wraps.to_vec()).prop_map(|(b, a)| Damage::Wrap(b, a)),
            (0u64..16).prop_filter("not version 2", |v| *v != VERSION).prop_map(Damage::Version),
            (0u64..256).prop_filter("not the top byte 2", |t| *t != TOP_NIBBLE).prop_map(Damage::Top),
            (1u64..256).prop_map(Damage::ByteOne),
            (1u64..16).prop_map(Damage::IndexNibble),
            Just(Damage::PositionPastEnd),
        ]
    }

    /// Any damage, for stacking.
    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            1 => layout_breaking_damage(),
            1 => (0..DECIMAL_LEN, 0u8..10).prop_map(|(at, to)| Damage::ChangeDigit { at, to }),
        ]
    }

    /// A changed digit gives either a refusal or another valid number that prints back as the
    /// changed text. Both outcomes are common (a change in the arrival-time digits keeps the
    /// layout; one near the version nibble or the top breaks it); the counts prove that both
    /// branches of the property were exercised, so it is not vacuous.
    #[test]
    fn changed_digits_parse_only_as_their_own_canonical_form() {
        use std::cell::Cell;
        let (accepted, refused) = (Cell::new(0u32), Cell::new(0u32));
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1024));
        runner
            .run(&valid_seq().prop_flat_map(changed_digit), |(s, damage)| {
                let text = damage.apply(&s);
                match SequenceNumber::parse(&text) {
                    Ok(parsed) => {
                        accepted.set(accepted.get() + 1);
                        prop_assert_ne!(parsed, s, "{:?} parsed as the undamaged number", damage);
                        prop_assert_eq!(parsed.to_string(), text);
                        prop_assert!(parsed.is_valid());
                    }
                    Err(InvalidSequenceNumber) => refused.set(refused.get() + 1),
                }
                Ok(())
            })
            .unwrap();
        assert!(accepted.get() >= 50 && refused.get() >= 50, "accepted {accepted:?}, refused {refused:?}");
    }

    proptest! {
        #[test]
        fn round_trips(s in valid_seq()) {
            let text = encode(&s);
            prop_assert_eq!(text.len(), DECIMAL_LEN);
            prop_assert_eq!(SequenceNumber::parse(&text), Ok(s));
            prop_assert_eq!(s.to_string(), text);
        }

        #[test]
        fn strictly_increasing_with_position_whatever_the_arrival_time(
            created in 0..=SequenceNumber::MAX_SECS,
            index in any::<u32>(),
            p1 in 0..SequenceNumber::END_POSITION,
            step in 1..=SequenceNumber::END_POSITION,
            a1 in 0..=SequenceNumber::MAX_SECS,
            a2 in 0..=SequenceNumber::MAX_SECS,
        ) {
            let p2 = p1.saturating_add(step).min(SequenceNumber::END_POSITION);
            let earlier = seq(created, index, p1, a1);
            let later = seq(created, index, p2, a2);
            prop_assert_eq!(decimal_cmp(&encode(&earlier), &encode(&later)), Ordering::Less);
            prop_assert!(earlier < later);
        }

        #[test]
        fn ord_matches_integer_order(a in valid_seq(), b in valid_seq()) {
            prop_assert_eq!(a.cmp(&b), decimal_cmp(&encode(&a), &encode(&b)));
        }

        /// A valid number damaged in a way that breaks the text or the layout is refused.
        #[test]
        fn damaged_numbers_are_refused(s in valid_seq(), damage in layout_breaking_damage()) {
            prop_assert_eq!(SequenceNumber::parse(&encode(&s)), Ok(s));
            let text = damage.apply(&s);
            prop_assert_eq!(SequenceNumber::parse(&text), Err(InvalidSequenceNumber), "{:?} gave {}", damage, text);
        }

        /// Stacked damage, including non-ASCII characters, never panics, and whatever parses is
        /// canonical: it prints back as exactly the text parsed.
        #[test]
        fn parse_never_panics(s in valid_seq(), damages in prop::collection::vec(damage(), 1..5)) {
            let mut text = encode(&s);
            for d in &damages {
                // Layout damage applies while the text is still a number.
                text = match SequenceNumber::parse(&text) {
                    Ok(n) => d.apply(&n),
                    Err(_) => d.apply_to_text(&text),
                };
            }
            if let Ok(parsed) = SequenceNumber::parse(&text) {
                prop_assert_eq!(parsed.to_string(), text);
            }
        }
    }
}
