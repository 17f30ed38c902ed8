//! Hash keys and hash-key ranges: how records are routed to shards.
//!
//! A record's hash key is MD5 of its partition key's UTF-8 bytes read as a big-endian `u128`
//! (what AWS, the KPL and the KCL all compute), unless the client sends an `ExplicitHashKey`.
//! Each open shard owns an inclusive [`HashKeyRange`]; the open shards of a stream tile
//! `0..=u128::MAX` exactly, so every key routes to exactly one open shard.
//!
//! Hash keys travel on the wire as canonical decimal strings (no leading zeros): the KCL
//! compares range bounds with `equals("0")` and the exact 39-digit maximum.

use std::fmt;

/// A point in the 128-bit hash-key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKey(pub u128);

/// An `ExplicitHashKey` outside `[0, 2^128 - 1]` (or, defensively, not decimal digits at all).
///
/// AWS's model regex admits 39-digit values up to `10^39 - 1`, so values past `u128::MAX`
/// reach us and must be turned into AWS's "Invalid ExplicitHashKey" message by the api layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("hash key out of range [0, 2^128-1]")]
pub struct HashKeyOutOfRange;

impl HashKey {
    /// The hash key AWS assigns to a partition key.
    pub fn from_partition_key(partition_key: &str) -> HashKey {
        use md5::{Digest, Md5};
        let digest: [u8; 16] = Md5::digest(partition_key.as_bytes()).into();
        HashKey(u128::from_be_bytes(digest))
    }

    /// Parses an `ExplicitHashKey`.
    ///
    /// The api layer has already checked the model regex `0|([1-9]\d{0,38})`; this only has to
    /// reject values that do not fit 128 bits. It still refuses empty or non-digit input
    /// rather than trusting the caller, and does bounded work on any input.
    pub fn parse_decimal(s: &str) -> Result<HashKey, HashKeyOutOfRange> {
        if s.is_empty() {
            return Err(HashKeyOutOfRange);
        }
        let mut value: u128 = 0;
        for &b in s.as_bytes() {
            if !b.is_ascii_digit() {
                return Err(HashKeyOutOfRange);
            }
            // Overflow is exactly "value >= 2^128"; it stops the loop at the 40th significant
            // digit at the latest.
            value = value.checked_mul(10).and_then(|v| v.checked_add(u128::from(b - b'0'))).ok_or(HashKeyOutOfRange)?;
        }
        Ok(HashKey(value))
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; U128_MAX_DIGITS];
        f.write_str(decimal_digits(self.0, &mut buf))
    }
}

/// Digits in `u128::MAX` (340282366920938463463374607431768211455).
const U128_MAX_DIGITS: usize = 39;

/// Appends the canonical decimal form of `v` to `out`; allocates only if `out` must grow.
pub fn write_decimal(v: u128, out: &mut String) {
    let mut buf = [0u8; U128_MAX_DIGITS];
    out.push_str(decimal_digits(v, &mut buf));
}

/// Renders `v` right-aligned into `buf` and returns the digits.
fn decimal_digits(mut v: u128, buf: &mut [u8; U128_MAX_DIGITS]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[start..]).expect("decimal digits are ASCII")
}

/// An inclusive range of hash keys owned by one shard (`StartingHashKey..=EndingHashKey`).
///
/// Inclusive on both ends because that is how AWS reports it, and because a half-open range
/// could not express the last shard, which ends at `u128::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKeyRange {
    pub start: u128,
    pub end: u128,
}

impl HashKeyRange {
    /// The whole key space, owned by a one-shard stream.
    pub const FULL: HashKeyRange = HashKeyRange { start: 0, end: u128::MAX };

    pub fn contains(&self, key: HashKey) -> bool {
        self.start <= key.0 && key.0 <= self.end
    }

    /// Whether the two ranges touch with no gap and no overlap, in either order: the
    /// condition MergeShards requires of the two shards it merges.
    pub fn is_adjacent_to(&self, other: &HashKeyRange) -> bool {
        self.end.checked_add(1) == Some(other.start) || other.end.checked_add(1) == Some(self.start)
    }
}

/// The ranges AWS gives the shards of a new stream (or of UpdateShardCount's new set):
/// `step = floor(2^128 / n)`, shard `i` gets `[i*step, (i+1)*step - 1]`, and the last shard
/// also takes the remainder, ending at `2^128 - 1`.
///
/// Uses `2^128`, not `2^128 - 1`, as the dividend: with the latter (kinesis-mock's choice)
/// a 2-shard stream splits at `2^127 - 1` instead of AWS's `2^127`. Returns no ranges for
/// `n == 0`; the api layer rejects a zero shard count before this.
pub fn creation_ranges(n: u32) -> Vec<HashKeyRange> {
    if n == 0 {
        return Vec::new();
    }
    let step = floor_2_pow_128_div(n);
    let mut ranges = Vec::with_capacity(n as usize);
    // `i * step` never overflows for i < n because n * step <= 2^128 and i * step <= 2^128 - step.
    for i in 0..u128::from(n - 1) {
        ranges.push(HashKeyRange { start: i * step, end: (i + 1) * step - 1 });
    }
    ranges.push(HashKeyRange { start: u128::from(n - 1) * step, end: u128::MAX });
    ranges
}

/// `floor(2^128 / n)` for `n >= 2` (for `n == 1` the true value 2^128 does not fit; the
/// caller never needs the step then, since the only range is the last one, starting at 0).
///
/// `2^128 = u128::MAX + 1`, so `floor(2^128 / n) = q + 1` exactly when `n` divides
/// `u128::MAX + 1`, i.e. when the remainder of `u128::MAX / n` is `n - 1`.
fn floor_2_pow_128_div(n: u32) -> u128 {
    let n = u128::from(n);
    if n <= 1 {
        return 0;
    }
    let q = u128::MAX / n;
    let r = u128::MAX % n;
    if r == n - 1 { q + 1 } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(start: u128, end: u128) -> HashKeyRange {
        HashKeyRange { start, end }
    }

    #[test]
    fn reference_four_shard_ranges() {
        assert_eq!(
            creation_ranges(4),
            vec![
                r(0, 85070591730234615865843651857942052863),
                r(85070591730234615865843651857942052864, 170141183460469231731687303715884105727),
                r(170141183460469231731687303715884105728, 255211775190703847597530955573826158591),
                r(255211775190703847597530955573826158592, 340282366920938463463374607431768211455),
            ]
        );
    }

    #[test]
    fn reference_three_shard_ranges() {
        assert_eq!(
            creation_ranges(3),
            vec![
                r(0, 113427455640312821154458202477256070484),
                r(113427455640312821154458202477256070485, 226854911280625642308916404954512140969),
                r(226854911280625642308916404954512140970, 340282366920938463463374607431768211455),
            ]
        );
    }

    #[test]
    fn two_shards_split_at_2_pow_127() {
        let ranges = creation_ranges(2);
        assert_eq!(ranges[1].start, 1u128 << 127);
        assert_eq!(ranges[1].start, 170141183460469231731687303715884105728);
        assert_eq!(ranges[0].end, (1u128 << 127) - 1);
    }

    #[test]
    fn one_shard_owns_everything() {
        assert_eq!(creation_ranges(1), vec![HashKeyRange::FULL]);
        assert!(creation_ranges(0).is_empty());
    }

    #[test]
    fn step_is_floor_of_2_pow_128() {
        assert_eq!(floor_2_pow_128_div(2), 1u128 << 127);
        assert_eq!(floor_2_pow_128_div(4), 1u128 << 126);
        assert_eq!(floor_2_pow_128_div(1 << 31), 1u128 << 97);
        assert_eq!(floor_2_pow_128_div(3), 113427455640312821154458202477256070485);
        assert_eq!(floor_2_pow_128_div(u32::MAX), u128::MAX / u128::from(u32::MAX));
    }

    #[test]
    fn reference_partition_key_examples() {
        let pk1 = HashKey::from_partition_key("pk-1");
        assert_eq!(pk1.0, 0xce1395afc30b98e6746a8236d6420049);
        assert_eq!(pk1.to_string(), "273922656776327812788301823748127981641");
        let three = creation_ranges(3);
        assert!(three[2].contains(pk1));

        let a = HashKey::from_partition_key("a");
        assert_eq!(a.to_string(), "16955237001963240173058271559858726497");
        assert!(three[0].contains(a));
    }

    #[test]
    fn partition_keys_hash_utf8_bytes() {
        // md5("") and md5 of "é" as UTF-8 (c3 a9), not Latin-1 (e9, which gives 3406877694...).
        assert_eq!(HashKey::from_partition_key("").0, 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(HashKey::from_partition_key("\u{e9}").0, 0x66ddcd97cfdeabb2f6fb8a999b4bc76f);
    }

    #[test]
    fn parse_decimal_bounds() {
        assert_eq!(HashKey::parse_decimal("0"), Ok(HashKey(0)));
        assert_eq!(HashKey::parse_decimal("340282366920938463463374607431768211455"), Ok(HashKey(u128::MAX)));
        assert_eq!(HashKey::parse_decimal("340282366920938463463374607431768211456"), Err(HashKeyOutOfRange));
        assert_eq!(HashKey::parse_decimal("999999999999999999999999999999999999999"), Err(HashKeyOutOfRange));
        assert_eq!(HashKey::parse_decimal(&"9".repeat(10_000)), Err(HashKeyOutOfRange));
        for bad in ["", "-1", "+1", "1 ", "0x10", "1e5", "١"] {
            assert_eq!(HashKey::parse_decimal(bad), Err(HashKeyOutOfRange), "{bad:?}");
        }
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(HashKey(0).to_string(), "0");
        assert_eq!(HashKey(7).to_string(), "7");
        assert_eq!(HashKey(u128::MAX).to_string(), "340282366920938463463374607431768211455");
        let mut out = String::from("k=");
        write_decimal(1u128 << 127, &mut out);
        assert_eq!(out, "k=170141183460469231731687303715884105728");
    }

    #[test]
    fn adjacency() {
        let a = r(0, 9);
        let b = r(10, 20);
        assert!(a.is_adjacent_to(&b));
        assert!(b.is_adjacent_to(&a));
        assert!(!a.is_adjacent_to(&r(11, 20)));
        assert!(!a.is_adjacent_to(&r(9, 20)));
        assert!(!a.is_adjacent_to(&a));
        assert!(!HashKeyRange::FULL.is_adjacent_to(&HashKeyRange::FULL));
        assert!(r(u128::MAX, u128::MAX).is_adjacent_to(&r(0, u128::MAX - 1)));
    }

    fn assert_tiles(ranges: &[HashKeyRange]) {
        assert_eq!(ranges.first().map(|r| r.start), Some(0));
        assert_eq!(ranges.last().map(|r| r.end), Some(u128::MAX));
        for r in ranges {
            assert!(r.start <= r.end, "{r:?}");
        }
        for w in ranges.windows(2) {
            assert!(w[0].is_adjacent_to(&w[1]), "{:?} {:?}", w[0], w[1]);
            assert_eq!(w[0].end + 1, w[1].start);
        }
    }

    #[test]
    fn creation_ranges_tile_for_small_and_edge_counts() {
        for n in (1..=300).chain([1000, 1024, 4096, 9999, 10_000]) {
            let ranges = creation_ranges(n);
            assert_eq!(ranges.len(), n as usize);
            assert_tiles(&ranges);
        }
    }

    proptest! {
        #[test]
        fn creation_ranges_tile_the_key_space(n in 1u32..=10_000) {
            let ranges = creation_ranges(n);
            prop_assert_eq!(ranges.len(), n as usize);
            assert_tiles(&ranges);
            // All but the last shard are the same size; the last absorbs the remainder.
            let step = ranges[0].end - ranges[0].start;
            for r in &ranges[..ranges.len() - 1] {
                prop_assert_eq!(r.end - r.start, step);
            }
        }

        #[test]
        fn every_key_routes_to_exactly_one_range(n in 1u32..=10_000, key in any::<u128>()) {
            let ranges = creation_ranges(n);
            let owners = ranges.iter().filter(|r| r.contains(HashKey(key))).count();
            prop_assert_eq!(owners, 1);
        }

        #[test]
        fn boundary_keys_route_to_exactly_one_range(
            n in 1u32..=10_000,
            pick in any::<prop::sample::Index>(),
            delta in -1i8..=1,
        ) {
            let ranges = creation_ranges(n);
            let chosen = ranges[pick.index(ranges.len())];
            let key = match delta {
                -1 => chosen.start.wrapping_sub(1),
                0 => chosen.start,
                _ => chosen.end.wrapping_add(1),
            };
            let owners = ranges.iter().filter(|r| r.contains(HashKey(key))).count();
            prop_assert_eq!(owners, 1);
        }

        #[test]
        fn decimal_round_trips(v in any::<u128>()) {
            let text = HashKey(v).to_string();
            prop_assert_eq!(&text, &v.to_string());
            prop_assert_eq!(HashKey::parse_decimal(&text), Ok(HashKey(v)));
        }

        #[test]
        fn parse_decimal_agrees_with_std(s in "[0-9]{1,45}") {
            let expected = s.parse::<u128>().map(HashKey).map_err(|_| HashKeyOutOfRange);
            prop_assert_eq!(HashKey::parse_decimal(&s), expected);
        }

        #[test]
        fn parse_decimal_never_panics(s in any::<String>()) {
            let _ = HashKey::parse_decimal(&s);
        }

        #[test]
        fn partition_key_hash_is_md5_big_endian(pk in any::<String>()) {
            use md5::{Digest, Md5};
            let digest = Md5::digest(pk.as_bytes());
            let mut expected = 0u128;
            for b in digest {
                expected = (expected << 8) | u128::from(b);
            }
            prop_assert_eq!(HashKey::from_partition_key(&pk), HashKey(expected));
        }
    }
}
