//! Building longer bars from shorter ones.
//!
//! Intraday buckets follow the instrument's trading session, so that on A-shares 60-minute bars are
//! 09:30–10:30, 10:30–11:30, 13:00–14:00 and 14:00–15:00: the lunch break is never a bar. Prints
//! outside the session (an opening auction at 09:25, a closing print at 15:00) join the nearest
//! earlier trading minute. Sessions that cross midnight and `24x7` sessions bucket by the local clock.
//! Daily bars come from intraday bars by exchange-local date; weekly and monthly bars from daily bars by
//! ISO week and calendar month, stamped with their first trading day. The last bucket may be partial and
//! is returned like any other.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::{Bar, Resolution, Session};

/// The trading date of a bar at `time` of resolution `res`: the UTC date of the stamp for daily and
/// longer bars, the exchange-local date for intraday bars.
pub fn trading_date(time: i64, res: Resolution, tz: Tz) -> NaiveDate {
    let utc = DateTime::from_timestamp(time, 0).unwrap_or_default();
    if res.is_intraday() { utc.with_timezone(&tz).date_naive() } else { utc.date_naive() }
}

/// Unix seconds of 00:00 UTC on `date`: the stamp of a daily bar.
pub fn date_stamp(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp()).unwrap_or_default()
}

/// Resamples ascending bars of resolution `from` to resolution `to`.
///
/// Returns the input unchanged when `from == to`, and an empty vector when `to` cannot be derived
/// from `from` (see [`Resolution::derivable_from`]).
pub fn resample(bars: &[Bar], from: Resolution, to: Resolution, session: &Session, tz: Tz) -> Vec<Bar> {
    resample_groups(bars, from, to, session, tz).into_iter().map(|(b, _)| b).collect()
}

/// Like [`resample`], and each output bar comes with the exclusive end index of its constituent
/// input bars, so callers can tell which input bars built which output bar.
pub fn resample_groups(bars: &[Bar], from: Resolution, to: Resolution, session: &Session, tz: Tz) -> Vec<(Bar, usize)> {
    if from == to {
        return bars.iter().enumerate().map(|(i, b)| (*b, i + 1)).collect();
    }
    if !to.derivable_from(from) {
        return Vec::new();
    }
    match to {
        Resolution::Minutes(n) => group(bars, |t| intraday_bucket(t, n, session, tz), true),
        Resolution::Day => group(bars, |t| date_stamp(trading_date(t, from, tz)), true),
        Resolution::Week | Resolution::Month => {
            let key = |t: i64| {
                let d = trading_date(t, from, tz);
                if to == Resolution::Week {
                    let w = d.iso_week();
                    (i64::from(w.year()) << 8) | i64::from(w.week())
                } else {
                    (i64::from(d.year()) << 8) | i64::from(d.month())
                }
            };
            let mut out = group(bars, key, false);
            if from.is_intraday() {
                // Weekly and monthly bars are stamped with their first trading date.
                for (b, _) in &mut out {
                    b.time = date_stamp(trading_date(b.time, from, tz));
                }
            }
            out
        }
    }
}

/// Groups consecutive bars whose `key(time)` agrees. Each group is stamped with the key itself
/// (`stamp_with_key`) or with its first bar's time, and carries its exclusive end index.
fn group(bars: &[Bar], key: impl Fn(i64) -> i64, stamp_with_key: bool) -> Vec<(Bar, usize)> {
    let mut out: Vec<(Bar, usize)> = Vec::with_capacity(bars.len() / 2 + 1);
    let mut current = None;
    for (i, b) in bars.iter().enumerate() {
        let k = key(b.time);
        match out.last_mut() {
            Some((last, end)) if current == Some(k) => {
                last.merge(b);
                *end = i + 1;
            }
            _ => {
                let time = if stamp_with_key { k } else { b.time };
                out.push((Bar { time, ..*b }, i + 1));
                current = Some(k);
            }
        }
    }
    out
}

/// The opening instant of the `n`-minute bucket that contains `time`.
pub fn intraday_bucket(time: i64, n: u32, session: &Session, tz: Tz) -> i64 {
    let Some(utc) = DateTime::from_timestamp(time, 0) else {
        return time;
    };
    let local = utc.with_timezone(&tz);
    let minute = (local.hour() * 60 + local.minute()) as u16;
    let start_minute = match session.trading_minute(minute) {
        Some(idx) => session.minute_of_day(idx / n * n).unwrap_or(minute),
        None => {
            // Clock-aligned buckets: 24x7 markets and sessions across midnight.
            let m = u32::from(minute);
            (m / n * n) as u16
        }
    };
    let naive = local.date_naive().and_hms_opt(u32::from(start_minute / 60), u32::from(start_minute % 60), 0);
    match naive.map(|n| tz.from_local_datetime(&n).earliest()) {
        Some(Some(dt)) => dt.timestamp(),
        _ => time - i64::from(local.second()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn local(s: &str) -> i64 {
        let n = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        Shanghai.from_local_datetime(&n).unwrap().timestamp()
    }

    fn minute_bar(t: i64, o: f64, h: f64, l: f64, c: f64, v: f64) -> Bar {
        Bar { time: t, open: o, high: h, low: l, close: c, volume: v, amount: v * c }
    }

    /// One A-share day of 1-minute bars, price = minute index, volume 1.
    fn a_share_day(date: &str) -> Vec<Bar> {
        let s = Session::a_share();
        (0..240)
            .map(|i| {
                let m = s.minute_of_day(i).unwrap();
                let t = local(&format!("{date} {:02}:{:02}", m / 60, m % 60));
                let p = 10.0 + f64::from(i);
                minute_bar(t, p, p + 0.5, p - 0.5, p + 0.25, 1.0)
            })
            .collect()
    }

    #[test]
    fn sixty_minute_bars_respect_lunch_break() {
        let bars = a_share_day("2024-03-01");
        let h = resample(&bars, Resolution::Minutes(1), Resolution::Minutes(60), &Session::a_share(), Shanghai);
        let starts: Vec<i64> = h.iter().map(|b| b.time).collect();
        assert_eq!(
            starts,
            vec![
                local("2024-03-01 09:30"),
                local("2024-03-01 10:30"),
                local("2024-03-01 13:00"),
                local("2024-03-01 14:00")
            ]
        );
        // bucket 3 covers minutes 120..180: open of minute 120, close of minute 179
        assert_eq!(h[2].open, 130.0);
        assert_eq!(h[2].close, 189.25);
        assert_eq!(h[2].high, 189.5);
        assert_eq!(h[2].low, 129.5);
        assert_eq!(h[2].volume, 60.0);
    }

    #[test]
    fn thirty_minute_bars_and_partial_last_bar() {
        let mut bars = a_share_day("2024-03-01");
        bars.truncate(125); // up to 13:04
        let h = resample(&bars, Resolution::Minutes(1), Resolution::Minutes(30), &Session::a_share(), Shanghai);
        assert_eq!(h.len(), 5);
        assert_eq!(h[3].time, local("2024-03-01 11:00"));
        assert_eq!(h[4].time, local("2024-03-01 13:00"));
        assert_eq!(h[4].volume, 5.0, "the partial last bar aggregates what there is");
        assert_eq!(h[4].close, 134.25);
    }

    #[test]
    fn closing_print_joins_last_bar() {
        let mut bars = a_share_day("2024-03-01");
        bars.push(minute_bar(local("2024-03-01 15:00"), 300.0, 300.0, 300.0, 300.0, 7.0));
        let h = resample(&bars, Resolution::Minutes(1), Resolution::Minutes(5), &Session::a_share(), Shanghai);
        assert_eq!(h.len(), 48);
        assert_eq!(h[47].close, 300.0);
        assert_eq!(h[47].volume, 12.0);
    }

    #[test]
    fn daily_from_minutes_uses_local_date() {
        let mut bars = a_share_day("2024-03-01");
        bars.extend(a_share_day("2024-03-04"));
        let d = resample(&bars, Resolution::Minutes(1), Resolution::Day, &Session::a_share(), Shanghai);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].time, date_stamp("2024-03-01".parse().unwrap()));
        assert_eq!(d[0].open, 10.0);
        assert_eq!(d[0].close, 249.25);
        assert_eq!(d[0].high, 249.5);
        assert_eq!(d[0].low, 9.5);
        assert_eq!(d[0].volume, 240.0);
    }

    #[test]
    fn weekly_and_monthly_from_daily() {
        // 2024-02-26 (Mon) .. 2024-03-08 (Fri), weekdays only
        let dates = [
            "2024-02-26",
            "2024-02-27",
            "2024-02-28",
            "2024-02-29",
            "2024-03-01",
            "2024-03-04",
            "2024-03-05",
            "2024-03-06",
            "2024-03-07",
            "2024-03-08",
        ];
        let bars: Vec<Bar> = dates
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let p = 100.0 + i as f64;
                minute_bar(date_stamp(d.parse().unwrap()), p, p + 1.0, p - 1.0, p, 10.0)
            })
            .collect();
        let w = resample(&bars, Resolution::Day, Resolution::Week, &Session::a_share(), Shanghai);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].time, date_stamp("2024-02-26".parse().unwrap()));
        assert_eq!((w[0].open, w[0].high, w[0].low, w[0].close, w[0].volume), (100.0, 105.0, 99.0, 104.0, 50.0));
        assert_eq!(w[1].time, date_stamp("2024-03-04".parse().unwrap()));
        let m = resample(&bars, Resolution::Day, Resolution::Month, &Session::a_share(), Shanghai);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].time, date_stamp("2024-02-26".parse().unwrap()));
        assert_eq!((m[0].open, m[0].close, m[0].volume), (100.0, 103.0, 40.0));
        assert_eq!(m[1].time, date_stamp("2024-03-01".parse().unwrap()));
        assert_eq!((m[1].open, m[1].close, m[1].volume), (104.0, 109.0, 60.0));
    }

    #[test]
    fn clock_aligned_for_24x7() {
        let t0 = 1_700_000_000 - 1_700_000_000 % 3600;
        let bars: Vec<Bar> = (0..120).map(|i| minute_bar(t0 + i * 60, 1.0, 1.0, 1.0, 1.0, 1.0)).collect();
        let h = resample(&bars, Resolution::Minutes(1), Resolution::Minutes(60), &Session::always(), chrono_tz::UTC);
        assert_eq!(h.iter().map(|b| b.time).collect::<Vec<_>>(), vec![t0, t0 + 3600]);
    }

    #[test]
    fn weekly_from_minutes_and_group_ends() {
        let mut bars = a_share_day("2024-03-01");
        bars.extend(a_share_day("2024-03-04"));
        let w = resample_groups(&bars, Resolution::Minutes(1), Resolution::Week, &Session::a_share(), Shanghai);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0.time, date_stamp("2024-03-01".parse().unwrap()));
        assert_eq!(w[1].0.time, date_stamp("2024-03-04".parse().unwrap()));
        assert_eq!((w[0].1, w[1].1), (240, 480));
    }

    #[test]
    fn underivable_is_empty() {
        let bars = a_share_day("2024-03-01");
        assert!(resample(&bars, Resolution::Day, Resolution::Minutes(5), &Session::a_share(), Shanghai).is_empty());
    }
}
