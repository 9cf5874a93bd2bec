//! Trading sessions: the local-time windows in which an instrument trades.

use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// A trading session as UDF spells it: `0930-1130,1300-1500`, or `24x7`.
///
/// Ranges are local minutes of the day, `[start, end)`. A range whose end is at or before its start
/// crosses midnight (night sessions of futures markets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Session {
    ranges: Vec<(u16, u16)>,
}

impl Session {
    /// The A-share continuous-trading session.
    pub fn a_share() -> Self {
        Session { ranges: vec![(570, 690), (780, 900)] }
    }

    /// Round the clock, every day.
    pub fn always() -> Self {
        Session { ranges: Vec::new() }
    }

    /// True for `24x7`.
    pub fn is_always(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges as local minutes of the day.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// True when no range crosses midnight, so a trading day is a calendar day.
    pub fn is_within_day(&self) -> bool {
        self.ranges.iter().all(|(s, e)| s < e)
    }

    /// Minutes of trading in one day.
    pub fn minutes_per_day(&self) -> u32 {
        if self.is_always() {
            return 1440;
        }
        self.ranges.iter().map(|&(s, e)| if e > s { u32::from(e - s) } else { u32::from(1440 - s + e) }).sum()
    }

    /// Parses `HHMM-HHMM[,HHMM-HHMM…]` or `24x7`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        if s.eq_ignore_ascii_case("24x7") {
            return Ok(Session::always());
        }
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let (a, b) =
                part.split_once('-').ok_or_else(|| InvalidValue(format!("session range {part:?} is not HHMM-HHMM")))?;
            let start = parse_hhmm(a)?;
            let end = parse_hhmm(b)?;
            if start == end {
                return Err(InvalidValue(format!("session range {part:?} is empty")));
            }
            ranges.push((start, end));
        }
        for w in ranges.windows(2) {
            if w[0].0 < w[0].1 && w[1].0 < w[1].1 && w[1].0 < w[0].1 {
                return Err(InvalidValue(format!("session {s:?} has overlapping or unordered ranges")));
            }
        }
        Ok(Session { ranges })
    }

    /// Position of a local minute-of-day within the trading day, counted in trading minutes from
    /// the session's first minute. Minutes outside the session are attributed to the last trading
    /// minute before them (a closing auction print joins the last bar; a pre-open print joins the
    /// first). `None` for `24x7` sessions or sessions that cross midnight.
    pub fn trading_minute(&self, minute_of_day: u16) -> Option<u32> {
        if self.is_always() || !self.is_within_day() {
            return None;
        }
        let mut offset = 0u32;
        let mut last_end = 0u32;
        for &(s, e) in &self.ranges {
            if minute_of_day < s {
                return Some(if offset == 0 { 0 } else { last_end });
            }
            if minute_of_day < e {
                return Some(offset + u32::from(minute_of_day - s));
            }
            offset += u32::from(e - s);
            last_end = offset - 1;
        }
        Some(last_end)
    }

    /// Inverse of [`Session::trading_minute`]: the local minute-of-day of trading minute `index`.
    pub fn minute_of_day(&self, index: u32) -> Option<u16> {
        if self.is_always() || !self.is_within_day() {
            return None;
        }
        let mut rest = index;
        for &(s, e) in &self.ranges {
            let len = u32::from(e - s);
            if rest < len {
                return Some(s + rest as u16);
            }
            rest -= len;
        }
        None
    }
}

fn parse_hhmm(s: &str) -> Result<u16, InvalidValue> {
    let t = s.trim();
    let bad = || InvalidValue(format!("{t:?} is not a time of day as HHMM"));
    if t.len() != 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: u16 = t[..2].parse().map_err(|_| bad())?;
    let m: u16 = t[2..].parse().map_err(|_| bad())?;
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_always() {
            return f.write_str("24x7");
        }
        let parts: Vec<String> =
            self.ranges.iter().map(|(s, e)| format!("{:02}{:02}-{:02}{:02}", s / 60, s % 60, e / 60, e % 60)).collect();
        f.write_str(&parts.join(","))
    }
}

impl TryFrom<String> for Session {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Session::parse(&value)
    }
}

impl From<Session> for String {
    fn from(s: Session) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_session_roundtrip_and_minutes() {
        let s = Session::parse("0930-1130,1300-1500").unwrap();
        assert_eq!(s, Session::a_share());
        assert_eq!(s.to_string(), "0930-1130,1300-1500");
        assert_eq!(s.minutes_per_day(), 240);
        assert_eq!(s.trading_minute(570), Some(0));
        assert_eq!(s.trading_minute(689), Some(119));
        // lunch break joins the morning's last minute
        assert_eq!(s.trading_minute(700), Some(119));
        assert_eq!(s.trading_minute(780), Some(120));
        assert_eq!(s.trading_minute(899), Some(239));
        // 15:00 closing print joins the last minute, 09:25 auction the first
        assert_eq!(s.trading_minute(900), Some(239));
        assert_eq!(s.trading_minute(565), Some(0));
        assert_eq!(s.minute_of_day(120), Some(780));
        assert_eq!(s.minute_of_day(240), None);
    }

    #[test]
    fn night_sessions_and_errors() {
        let s = Session::parse("2100-0230,0900-1015,1030-1130,1330-1500").unwrap();
        assert!(!s.is_within_day());
        assert_eq!(s.trading_minute(600), None);
        assert_eq!(s.minutes_per_day(), 330 + 75 + 60 + 90);
        assert!(Session::parse("0930").is_err());
        assert!(Session::parse("2500-2600").is_err());
        assert!(Session::parse("1300-1500,0930-1130").is_err());
        assert!(Session::parse("24x7").unwrap().is_always());
    }
}
