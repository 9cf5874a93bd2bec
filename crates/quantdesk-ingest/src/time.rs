//! Fast parsing of the date and time spellings found in market-data files.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
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

/// [`local_to_utc`] for the rows of one file: the zone's offset is looked up once per local hour.
///
/// Rows come in time order, so consecutive rows mostly share their hour. When the hour's first and
/// last second both have one reading, with the same offset, the zone has no transition inside that
/// hour (tz data never has two transitions within an hour, which would be needed to leave and come
/// back to the same offset), and every local time in it is `local − offset`; otherwise each row
/// goes through `local_to_utc`, gaps and folds included. The answers are `local_to_utc`'s.
#[derive(Debug, Clone)]
pub struct LocalClock {
    tz: Tz,
    /// The local hour (Unix seconds of the naive local time, divided by 3,600) last looked up,
    /// and its offset in seconds east of UTC when it is uniform.
    hour: i64,
    offset: Option<i64>,
}

impl LocalClock {
    pub fn new(tz: Tz) -> Self {
        LocalClock { tz, hour: i64::MIN, offset: None }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The UTC instant of the local date-time `dt`; in a fold the earlier one, in a gap `None`.
    pub fn utc_of(&mut self, dt: NaiveDateTime) -> Option<i64> {
        let local = dt.and_utc().timestamp();
        let hour = local.div_euclid(3_600);
        if hour != self.hour {
            self.hour = hour;
            self.offset = uniform_offset(self.tz, hour);
        }
        match self.offset {
            Some(offset) => Some(local - offset),
            None => local_to_utc(dt, self.tz),
        }
    }
}

/// The offset of every local time of the local `hour` in `tz`, when it has one.
fn uniform_offset(tz: Tz, hour: i64) -> Option<i64> {
    let first = DateTime::from_timestamp(hour.checked_mul(3_600)?, 0)?.naive_utc();
    let last = DateTime::from_timestamp(hour.checked_mul(3_600)?.checked_add(3_599)?, 0)?.naive_utc();
    match (tz.offset_from_local_datetime(&first), tz.offset_from_local_datetime(&last)) {
        (LocalResult::Single(a), LocalResult::Single(b)) if a.fix() == b.fix() => {
            Some(i64::from(a.fix().local_minus_utc()))
        }
        _ => None,
    }
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

    /// The clock gives `local_to_utc`'s answer for every minute of days around transitions
    /// (New York's spring gap and autumn fold, Lord Howe's half-hour shifts, Shanghai's 1991 end of
    /// summer time) and ordinary days, in order and out of order.
    #[test]
    fn the_clock_agrees_with_local_to_utc_around_transitions() {
        let days = [
            ("America/New_York", "2024-03-10"),
            ("America/New_York", "2024-11-03"),
            ("Australia/Lord_Howe", "2024-04-07"),
            ("Australia/Lord_Howe", "2024-10-06"),
            ("Asia/Shanghai", "1991-04-14"),
            ("Asia/Shanghai", "1991-09-15"),
            ("Asia/Shanghai", "2024-01-02"),
            ("UTC", "2024-01-02"),
        ];
        let mut checked = 0;
        for (zone, day) in days {
            let tz: Tz = zone.parse().unwrap();
            let start = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap();
            let minutes: Vec<NaiveDateTime> = (-60..(25 * 60))
                .map(|m| start + chrono::Duration::minutes(m) + chrono::Duration::seconds(m % 7))
                .collect();
            let mut clock = LocalClock::new(tz);
            for dt in minutes.iter().chain(minutes.iter().rev()) {
                assert_eq!(clock.utc_of(*dt), local_to_utc(*dt, tz), "{zone} {dt}");
                checked += 1;
            }
        }
        assert_eq!(checked, 8 * 2 * 26 * 60);
    }
}
