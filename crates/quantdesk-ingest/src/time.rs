//! Fast parsing of the date and time spellings found in market-data files.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// A parsed time cell: a date alone, a local date-time, or an instant with an explicit offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    Date(NaiveDate),
    Local(NaiveDateTime),
    Instant(i64),
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    match b.len() {
        // 2024-01-02 or 2024/01/02
        10 if (b[4] == b'-' && b[7] == b'-') || (b[4] == b'/' && b[7] == b'/') => {
            NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)
        }
        // 20240102 (TuShare trade_date)
        8 => NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[4..6])?, digits(&b[6..8])?),
        _ => None,
    }
}

/// Parses a time cell. Accepts `YYYY-MM-DD`, `YYYYMMDD`, `YYYY/MM/DD`, those followed by
/// ` HH:MM[:SS]` or `THH:MM[:SS]`, RFC 3339 with an offset, and Unix seconds or milliseconds.
pub fn parse_stamp(s: &str) -> Option<Stamp> {
    let b = s.as_bytes();
    if let Some(d) = fast_date(b) {
        return Some(Stamp::Date(d));
    }
    if b.len() >= 16 && (b[10] == b' ' || b[10] == b'T') {
        if let Some(d) = fast_date(&b[..10]) {
            let rest = &b[11..];
            let hms = match rest.len() {
                5 if rest[2] == b':' => Some((digits(&rest[0..2])?, digits(&rest[3..5])?, 0)),
                8 if rest[2] == b':' && rest[5] == b':' => {
                    Some((digits(&rest[0..2])?, digits(&rest[3..5])?, digits(&rest[6..8])?))
                }
                _ => None,
            };
            if let Some((h, m, sec)) = hms {
                return NaiveTime::from_hms_opt(h, m, sec).map(|t| Stamp::Local(d.and_time(t)));
            }
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Stamp::Instant(dt.timestamp()));
        }
        for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Stamp::Local(dt));
            }
        }
        return None;
    }
    if (9..=13).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
        let n: i64 = s.parse().ok()?;
        return Some(Stamp::Instant(if b.len() == 13 { n / 1000 } else { n }));
    }
    None
}

/// The UTC instant of a local date-time in `tz`; in a DST fold the earlier instant, in a gap `None`.
pub fn local_to_utc(dt: NaiveDateTime, tz: Tz) -> Option<i64> {
    tz.from_local_datetime(&dt).earliest().map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(parse_stamp("2024-01-02"), Some(Stamp::Date(d)));
        assert_eq!(parse_stamp("20240102"), Some(Stamp::Date(d)));
        assert_eq!(parse_stamp("2024/01/02"), Some(Stamp::Date(d)));
        assert_eq!(parse_stamp("2024-01-02 09:31:00"), Some(Stamp::Local(d.and_hms_opt(9, 31, 0).unwrap())));
        assert_eq!(parse_stamp("2024-01-02T09:31"), Some(Stamp::Local(d.and_hms_opt(9, 31, 0).unwrap())));
        assert_eq!(parse_stamp("2024-01-02T01:31:00Z"), Some(Stamp::Instant(1704159060)));
        assert_eq!(parse_stamp("1704159060"), Some(Stamp::Instant(1704159060)));
        assert_eq!(parse_stamp("1704159060000"), Some(Stamp::Instant(1704159060)));
        assert_eq!(parse_stamp("2024-13-02"), None);
        assert_eq!(parse_stamp("2024-02-30"), None);
        assert_eq!(parse_stamp("yesterday"), None);
        assert_eq!(parse_stamp("2024-01-02 25:00:00"), None);
    }

    #[test]
    fn shanghai_local_to_utc() {
        let dt = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap().and_hms_opt(9, 30, 0).unwrap();
        assert_eq!(local_to_utc(dt, chrono_tz::Asia::Shanghai), Some(1704159000));
    }
}
