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
    // Years 0000–9999 are written digit by digit (a Chan answer writes millions of these);
    // anything else as chrono writes it (`+10000-…`), the same text either way.
    const FIRST: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const END: i64 = 253_402_300_800; // 10000-01-01T00:00:00Z
    if !(FIRST..END).contains(&t) {
        return chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
    }
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
    let mut b = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, v: i64, width: usize| {
        let mut v = v;
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, h, 2);
    put(14, m, 2);
    put(17, s, 2);
    String::from_utf8_lossy(&b).into_owned()
}

/// Unix milliseconds in the same format, with the milliseconds when there are any.
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// The digit-by-digit writer gives chrono's text: every day of 1900–2100 at a varying time,
    /// the edges of years 0 and 9999 and beyond them, and a spread of instants in between.
    #[test]
    fn iso_secs_writes_what_chrono_writes() {
        let chrono_iso = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
        };
        let mut instants: Vec<i64> =
            (-25_567..47_482).map(|d: i64| d * 86_400 + (d * 7_919).rem_euclid(86_400)).collect();
        for edge in [-62_167_219_200_i64, 253_402_300_800, 0, 951_782_400, 4_107_542_400] {
            instants.extend((-90_000..90_000).step_by(997).map(|d| edge + d));
        }
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            instants.push((x % 600_000_000_000) as i64 - 300_000_000_000);
        }
        instants.extend([i64::MIN, i64::MAX]);
        for t in instants {
            assert_eq!(super::iso_secs(t), chrono_iso(t), "{t}");
        }
    }

    #[test]
    fn seconds_and_milliseconds_agree() {
        let (ms, s) = (super::now_ms(), super::now_secs());
        assert!(ms > 1_700_000_000_000, "after 2023");
        assert!((s - ms / 1000).abs() <= 1);
    }
}
