//! Instants people type (`--until`, `from`, `to`, `until=`): the one parser the command line, the
//! API and the jobs share.
//!
//! Three spellings are accepted, surrounding whitespace ignored:
//!
//! - Unix seconds (`1514764800`);
//! - an RFC 3339 time (`2018-01-01T09:30:00+08:00`), any offset;
//! - a date (`2018-01-01`), read in UTC: 00:00 UTC is the stamp of that day's daily bar, and for
//!   the exchanges quantdesk knows the whole trading session lies within the UTC date (A-shares
//!   trade 01:30–07:00 UTC).
//!
//! A time or Unix seconds names one instant whichever function reads it. Only a bare date has two
//! readings, and the caller says which by the function it calls:
//!
//! - [`parse_instant`]: the date's first instant (00:00 UTC). For a range's inclusive start, and
//!   for an instant *as of* which something is computed (a replay cursor: `until=2018-01-01` sees
//!   the bars before that day).
//! - [`parse_range_end`]: the exclusive end of a range whose last day is the date, i.e. the whole
//!   day included (00:00 UTC of the next day).

use chrono::{DateTime, NaiveDate};

/// A text that is no instant. The message names the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not Unix seconds, a date (YYYY-MM-DD) or an RFC 3339 time")]
pub struct NotAnInstant(pub String);

/// What a text names before a reading of dates is chosen.
enum Given {
    At(i64),
    Date(NaiveDate),
}

fn given(raw: &str) -> Result<Given, NotAnInstant> {
    let s = raw.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Given::At(n));
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(Given::Date(d));
    }
    DateTime::parse_from_rfc3339(s).map(|t| Given::At(t.timestamp())).map_err(|_| NotAnInstant(s.to_string()))
}

/// Unix seconds of 00:00 UTC on `date` (the stamp of its daily bar).
fn start_of(date: NaiveDate) -> i64 {
    crate::resample::date_stamp(date)
}

/// The instant `raw` names, in Unix seconds; a date is its 00:00 UTC.
pub fn parse_instant(raw: &str) -> Result<i64, NotAnInstant> {
    Ok(match given(raw)? {
        Given::At(t) => t,
        Given::Date(d) => start_of(d),
    })
}

/// The exclusive end, in Unix seconds, of a range that ends at `raw`: a date includes that whole
/// day (00:00 UTC of the next day); a time or Unix seconds is the end itself.
pub fn parse_range_end(raw: &str) -> Result<i64, NotAnInstant> {
    Ok(match given(raw)? {
        Given::At(t) => t,
        Given::Date(d) => start_of(d.succ_opt().unwrap_or(d)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    /// 2018-01-01T00:00:00Z.
    const NEW_YEAR: i64 = 1_514_764_800;

    #[test]
    fn a_date_is_read_in_utc_and_starts_at_midnight() {
        assert_eq!(parse_instant("2018-01-01"), Ok(NEW_YEAR));
        assert_eq!(parse_instant("1970-01-01"), Ok(0));
        assert_eq!(parse_instant("1969-12-31"), Ok(-DAY));
        assert_eq!(parse_instant("2024-02-29"), Ok(1_709_164_800));
    }

    #[test]
    fn a_date_as_a_range_end_includes_the_whole_day() {
        assert_eq!(parse_range_end("2017-12-31"), Ok(NEW_YEAR));
        assert_eq!(parse_range_end("2018-01-01"), Ok(NEW_YEAR + DAY));
        // Month, year and leap-day boundaries.
        assert_eq!(parse_range_end("2024-02-28"), Ok(1_709_164_800));
        assert_eq!(parse_range_end("2024-02-29"), parse_instant("2024-03-01"));
        assert_eq!(parse_range_end("2024-12-31"), Ok(1_735_689_600));
        // Every instant of the day is before the end, the next day's first is not.
        let end = parse_range_end("2018-01-01").unwrap();
        assert!(parse_instant("2018-01-01T23:59:59Z").unwrap() < end);
        assert_eq!(parse_instant("2018-01-02T00:00:00Z"), Ok(end));
        // The last representable date cannot move on: it stays its own start.
        let last = NaiveDate::MAX.to_string();
        assert_eq!(parse_range_end(&last), parse_instant(&last));
    }

    #[test]
    fn times_and_seconds_are_the_same_instant_either_way() {
        for f in [parse_instant, parse_range_end] {
            assert_eq!(f("1514764800"), Ok(NEW_YEAR));
            assert_eq!(f("-86400"), Ok(-DAY));
            assert_eq!(f("0"), Ok(0));
            assert_eq!(f("2018-01-01T00:00:00Z"), Ok(NEW_YEAR));
            assert_eq!(f("2018-01-01T08:00:00+08:00"), Ok(NEW_YEAR));
            assert_eq!(f("2018-01-01T09:30:00.750+08:00"), Ok(NEW_YEAR + 5_400));
            assert_eq!(f("2017-12-31T19:00:00-05:00"), Ok(NEW_YEAR));
        }
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(parse_instant("  2018-01-01\n"), Ok(NEW_YEAR));
        assert_eq!(parse_range_end("\t2017-12-31 "), Ok(NEW_YEAR));
        assert_eq!(parse_instant(" 1514764800 "), Ok(NEW_YEAR));
        assert_eq!(parse_instant(" 2018-01-01T00:00:00Z "), Ok(NEW_YEAR));
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_spellings() {
        for bad in ["", "   ", "yesterday", "someday", "2018-13-01", "2018-02-30", "2018/01/01", "20180101T00", "1.5"] {
            for f in [parse_instant, parse_range_end] {
                let e = f(bad).unwrap_err();
                assert_eq!(e.0, bad.trim());
                assert!(e.to_string().contains("Unix seconds, a date (YYYY-MM-DD) or an RFC 3339 time"), "{e}");
            }
        }
        // A time without its offset is ambiguous, so it is no instant.
        assert!(parse_instant("2018-01-01T00:00:00").is_err());
        assert!(parse_instant("2018-01-01 00:00").is_err());
    }
}
