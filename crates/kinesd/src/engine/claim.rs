//! How AWS reads a sequence number a client hands back: GetShardIterator's
//! `StartingSequenceNumber` and PutRecord's `SequenceNumberForOrdering`.
//!
//! AWS does not just refuse numbers it did not issue. It decodes them in one of three historic
//! layouts and answers according to what the number claims: the shard it names, the shard's
//! creation time and the layout's version. The rules below are the ones kinesalite recorded
//! from AWS (its `test/getShardIterator.js` and `test/putRecord.js`, run against AWS):
//!
//! - A value below 2^124 is read as if 2^124 were added to it. Values up to 2^129 are then
//!   "version 0": creation seconds in hex digits 1..10, shard index in digits 28..32. A
//!   GetShardIterator naming the right shard with such a number fails with InternalFailure.
//! - A value strictly between 2^185 and 1.5·2^185 carries its version in the last hex digit:
//!   1 (an older layout; the shard index in digits 38..46) or 2 (the layout of
//!   [`SequenceNumber`]). In version 2 a first position digit above 7 makes the number
//!   invalid, and a first shard-index digit above 7 makes the index negative (two's
//!   complement), so that AWS's message names `shardId--02147483648`. Version 3 decodes, but
//!   no operation accepts it (kinesd never issues one); callers decide the error.
//! - A creation time of 16025175000 s or later (year 2477) in version 0 or 2, any other
//!   version, and any other value are invalid — so the all-`f` version 2 number is.
//!
//! Digit positions count hex digits of the value written without leading zeros, as AWS (and
//! kinesalite) slice them.

use super::sequence::{InvalidSequenceNumber, SequenceNumber, decimal_limbs};

/// The layout a client's sequence number claims to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V0,
    V1,
    V2,
    V3,
}

/// What a client's sequence number claims about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The number as the client sent it, for AWS's messages that quote it.
    pub text: String,
    pub version: Version,
    /// The shard it names; negative when the top bit of a version 2 index is set.
    pub shard_index: i64,
    pub shard_created_secs: u64,
    /// Seconds of arrival (versions 1 and 2).
    pub arrival_secs: Option<u64>,
    /// The decoded number, for version 2 only.
    pub sequence: Option<SequenceNumber>,
}

/// Version 0 creation times from this second on are refused (AWS's limit, year 2477).
const MAX_CREATED_SECS: u64 = 16_025_175_000;

impl Claim {
    /// Decodes `text`, which the model's pattern `0|([1-9]\d{0,128})` has already admitted.
    pub fn decode(text: &str) -> Result<Claim, InvalidSequenceNumber> {
        // Anything over 57 digits is at least 10^57, far above the version 2 range.
        let [hi, mut mid, lo] = decimal_limbs(text).ok_or(InvalidSequenceNumber)?;
        if hi == 0 && mid < 1 << 60 {
            mid += 1 << 60; // below 2^124: read as value + 2^124
        }
        let hex = if hi != 0 { format!("{hi:x}{mid:016x}{lo:016x}") } else { format!("{mid:x}{lo:016x}") };
        let digits =
            |from: usize, to: usize| u64::from_str_radix(&hex[from..to], 16).map_err(|_| InvalidSequenceNumber);
        let created = digits(1, 10)?;
        if hi < 2 {
            // [2^124, 2^129): version 0, 32 or 33 hex digits.
            if created >= MAX_CREATED_SECS {
                return Err(InvalidSequenceNumber);
            }
            return Ok(Claim {
                text: text.to_owned(),
                version: Version::V0,
                shard_index: digits(28, 32)? as i64,
                shard_created_secs: created,
                arrival_secs: None,
                sequence: None,
            });
        }
        let above_two_pow_185 = hi > 1 << 57 || (hi == 1 << 57 && (mid | lo) != 0);
        let below_one_and_a_half = hi < 3 << 56;
        if !(above_two_pow_185 && below_one_and_a_half) {
            return Err(InvalidSequenceNumber);
        }
        // 47 hex digits, the first a 2.
        debug_assert_eq!(hex.len(), 47);
        let arrival = digits(29, 38)?;
        let version = digits(46, 47)?;
        if version == 2 && created >= MAX_CREATED_SECS {
            return Err(InvalidSequenceNumber);
        }
        match version {
            v @ (1 | 3) => Ok(Claim {
                text: text.to_owned(),
                version: if v == 1 { Version::V1 } else { Version::V3 },
                shard_index: digits(38, 46)? as i64,
                shard_created_secs: created,
                arrival_secs: Some(arrival),
                sequence: None,
            }),
            2 => {
                let position = digits(11, 27)?;
                if position > SequenceNumber::END_POSITION {
                    return Err(InvalidSequenceNumber);
                }
                let raw_index = digits(38, 46)? as u32;
                let shard_index =
                    if raw_index > i32::MAX as u32 { -i64::from(raw_index) } else { i64::from(raw_index) };
                let sequence = SequenceNumber {
                    shard_created_secs: created,
                    shard_index: raw_index,
                    position,
                    arrival_secs: arrival,
                };
                Ok(Claim {
                    text: text.to_owned(),
                    version: Version::V2,
                    shard_index,
                    shard_created_secs: created,
                    arrival_secs: Some(arrival),
                    sequence: Some(sequence),
                })
            }
            _ => Err(InvalidSequenceNumber),
        }
    }

    /// The shard id as AWS's messages show the claimed index (`shardId--02147483648` when
    /// negative).
    pub fn shown_shard_id(&self) -> String {
        if self.shard_index < 0 {
            format!("shardId--{:011}", -self.shard_index)
        } else {
            format!("shardId-{:012}", self.shard_index)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decimal text of a hex value (at most 48 hex digits).
    fn from_hex(hex: &str) -> String {
        let padded = format!("{hex:0>48}");
        let limbs = [0, 16, 32].map(|i| u64::from_str_radix(&padded[i..i + 16], 16).unwrap());
        let mut out = String::new();
        // Repeated division by 10 over the limbs.
        let mut l = limbs;
        loop {
            let mut rem: u128 = 0;
            for limb in l.iter_mut() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / 10) as u64;
                rem = cur % 10;
            }
            out.push((b'0' + rem as u8) as char);
            if l == [0, 0, 0] {
                break;
            }
        }
        out.chars().rev().collect()
    }

    #[test]
    fn small_numbers_are_version_zero_with_an_index_in_the_low_digits() {
        let c = Claim::decode("5").unwrap();
        assert_eq!((c.version, c.shard_index, c.shard_created_secs), (Version::V0, 5, 0));
        assert_eq!(c.shown_shard_id(), "shardId-000000000005");
        assert_eq!(Claim::decode("0").unwrap().version, Version::V0);
    }

    #[test]
    fn a_creation_time_past_aws_limit_is_invalid() {
        // kinesalite's "sequence number with large date".
        assert_eq!(Claim::decode("26227199374822427428162556223570313216"), Err(InvalidSequenceNumber));
        assert_eq!(from_hex("13bb2cc3d80000000000000000000000"), "26227199374822427428162556223570313216");
    }

    #[test]
    fn version_two_rules() {
        let ours = SequenceNumber {
            shard_created_secs: 1_700_000_000,
            shard_index: 3,
            position: 9,
            arrival_secs: 1_700_000_001,
        };
        let c = Claim::decode(&ours.to_string()).unwrap();
        assert_eq!((c.version, c.shard_index, c.sequence), (Version::V2, 3, Some(ours)));
        // A position whose first digit is above 7.
        assert!(Claim::decode(&from_hex("20000000000800000000000000000000000000000000002")).is_err());
        // A shard index whose first digit is above 7 is negative.
        let c = Claim::decode(&from_hex("20000000000000000000000000000000000000800000002")).unwrap();
        assert_eq!(c.shown_shard_id(), "shardId--02147483648");
        // All f within the other limits: the creation time is past AWS's limit.
        assert!(Claim::decode(&from_hex("2ffffffffff7fffffffffffffff000000000007fffffff2")).is_err());
        // The last creation second before the limit still decodes.
        let c = Claim::decode(&from_hex("23bb2cc3d7f7fffffffffffffff000000000007fffffff2")).unwrap();
        assert_eq!((c.shard_index, c.shard_created_secs), (i64::from(i32::MAX), 16_025_174_999));
    }

    #[test]
    fn other_versions_and_ranges_are_invalid_but_versions_one_and_three_are_read() {
        assert_eq!(
            Claim::decode(&from_hex("20000000000000000000000000000000000000000000001")).unwrap().version,
            Version::V1
        );
        assert_eq!(
            Claim::decode(&from_hex("20000000000000000000000000000000000000000000003")).unwrap().version,
            Version::V3
        );
        for hex in [
            "20000000000000000000000000000000000000000000000", // version 0 in the v2 range
            "20000000000000000000000000000000000000000000004",
            "30000000000000000000000000000000000000000000001", // above 1.5 * 2^185
            "1ffffffffff7fffffffffffffff000000000007fffffff2", // below 2^185
            "200000000000000000000000000000000000000000000000", // 48 digits
        ] {
            assert_eq!(Claim::decode(&from_hex(hex)), Err(InvalidSequenceNumber), "{hex}");
        }
        assert!(Claim::decode(&"9".repeat(58)).is_err());
    }
}
