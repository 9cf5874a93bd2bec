//! The wall clock. The pure crates never read it (they take time from their callers); everything
//! above them reads it here, so there is one place to look for "now".

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

/// Today's date in Asia/Shanghai, the A-share exchanges' calendar day.
pub fn today_shanghai() -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(now_ms())
        .unwrap_or_default()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// Unix seconds as RFC 3339 in UTC with `Z` and whole seconds (`2024-01-02T00:00:00Z`): the one
/// format of instants in the API's and the CLI's output.
pub fn iso_secs(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Unix milliseconds in the same format, with the milliseconds when there are any.
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_and_milliseconds_agree() {
        let (ms, s) = (super::now_ms(), super::now_secs());
        assert!(ms > 1_700_000_000_000, "after 2023");
        assert!((s - ms / 1000).abs() <= 1);
    }
}
