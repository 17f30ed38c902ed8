//! ISO-8601 instants for `--from` and for the arrival times `tail` prints, in milliseconds
//! since the epoch (the precision Kinesis keeps).

use crate::auth::sigv4::days_from_civil;
use crate::error::java_date::civil_from_days;

/// `2026-12-06T08:00:00Z`, `2026-12-06T08:00:00.250+01:00`, `2026-12-06 08:00:00Z` or a date
/// alone (midnight UTC); a time without an offset is UTC.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if b.len() == 10 {
        return Some(ms);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hh, mi, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hh > 23 || mi > 59 || ss > 60 {
        return None;
    }
    ms += (hh * 3600 + mi * 60 + ss) * 1000;
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let millis: String = fraction[..digits].chars().chain("00".chars()).take(3).collect();
        ms += millis.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest.as_bytes() {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] => {
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let minutes = digits[..2].parse::<i64>().ok()? * 60 + digits[2..].parse::<i64>().ok()?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    Some(ms - offset_minutes * 60_000)
}

/// `2026-12-06T08:00:00.250Z`.
pub fn format_iso8601(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1000;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", secs / 3600, secs % 3600 / 60, secs % 60, rem % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_their_usual_forms() {
        let noon = parse_iso8601("2026-12-06T12:00:00Z").unwrap();
        assert_eq!(format_iso8601(noon), "2026-12-06T12:00:00.000Z");
        assert_eq!(parse_iso8601("2026-12-06T12:00:00"), Some(noon));
        assert_eq!(parse_iso8601("2026-12-06 12:00:00z"), Some(noon));
        assert_eq!(parse_iso8601("2026-12-06T13:30:00+01:30"), Some(noon));
        assert_eq!(parse_iso8601("2026-12-06T10:00:00-0200"), Some(noon));
        assert_eq!(parse_iso8601("2026-12-06T12:00:00.25Z"), Some(noon + 250));
        assert_eq!(parse_iso8601("2026-12-06"), Some(noon - 12 * 3_600_000));
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        for bad in
            ["", "yesterday", "2026-13-01", "2026-12-06T25:00:00Z", "2026-12-06T12:00:00.Z", "2026-12-06T12:00:00+1"]
        {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
