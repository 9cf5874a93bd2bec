//! Bar resolutions, spelled the way TradingView spells them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// A bar resolution. Intraday resolutions are whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Resolution {
    /// N-minute bars (1, 5, 15, 30, 60 are offered; any divisor of a day's minutes is accepted).
    Minutes(u32),
    /// Daily bars, stamped 00:00 UTC of the trading date.
    Day,
    /// Weekly bars, stamped with the first trading day of the week.
    Week,
    /// Monthly bars, stamped with the first trading day of the month.
    Month,
}

impl Resolution {
    /// The resolutions quantdesk offers through the datafeed, in UDF spelling.
    pub const SUPPORTED: [Resolution; 8] = [
        Resolution::Minutes(1),
        Resolution::Minutes(5),
        Resolution::Minutes(15),
        Resolution::Minutes(30),
        Resolution::Minutes(60),
        Resolution::Day,
        Resolution::Week,
        Resolution::Month,
    ];

    /// Parses UDF spellings: `1`, `5`, `15`, `30`, `60`, `1D`/`D`, `1W`/`W`, `1M`/`M`.
    /// Also accepts `240` style minute counts that divide a day (up to 1440) and lower-case letters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        let upper = s.to_ascii_uppercase();
        let r = match upper.as_str() {
            "D" | "1D" => Resolution::Day,
            "W" | "1W" => Resolution::Week,
            "M" | "1M" => Resolution::Month,
            _ => match upper.strip_suffix("MIN").unwrap_or(&upper).parse::<u32>() {
                Ok(n) if n > 0 && n <= 1440 && 1440 % n == 0 => Resolution::Minutes(n),
                _ => {
                    return Err(InvalidValue(format!(
                        "unsupported resolution {s:?}; use one of 1, 5, 15, 30, 60, 1D, 1W, 1M"
                    )));
                }
            },
        };
        Ok(r)
    }

    /// True for minute resolutions.
    pub fn is_intraday(self) -> bool {
        matches!(self, Resolution::Minutes(_))
    }

    /// Length in seconds of an intraday bar; `None` for day and longer.
    pub fn seconds(self) -> Option<i64> {
        match self {
            Resolution::Minutes(n) => Some(i64::from(n) * 60),
            _ => None,
        }
    }

    /// The canonical UDF spelling (`1`, `60`, `1D`, `1W`, `1M`).
    pub fn as_udf(self) -> String {
        match self {
            Resolution::Minutes(n) => n.to_string(),
            Resolution::Day => "1D".into(),
            Resolution::Week => "1W".into(),
            Resolution::Month => "1M".into(),
        }
    }

    /// Can bars of `self` be built from bars of `base`?
    pub fn derivable_from(self, base: Resolution) -> bool {
        use Resolution::*;
        match (base, self) {
            (Minutes(b), Minutes(t)) => t % b == 0,
            (Minutes(_), _) => true,
            (Day, Day | Week | Month) => true,
            (Week, Week) | (Month, Month) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_udf())
    }
}

impl TryFrom<String> for Resolution {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Resolution::parse(&value)
    }
}

impl From<Resolution> for String {
    fn from(r: Resolution) -> String {
        r.as_udf()
    }
}

impl std::str::FromStr for Resolution {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Resolution::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_udf_spellings() {
        assert_eq!(Resolution::parse("D").unwrap(), Resolution::Day);
        assert_eq!(Resolution::parse("1D").unwrap(), Resolution::Day);
        assert_eq!(Resolution::parse("w").unwrap(), Resolution::Week);
        assert_eq!(Resolution::parse("1M").unwrap(), Resolution::Month);
        assert_eq!(Resolution::parse("60").unwrap(), Resolution::Minutes(60));
        assert_eq!(Resolution::parse("5").unwrap().as_udf(), "5");
        assert!(Resolution::parse("7").is_err());
        assert!(Resolution::parse("0").is_err());
        assert!(Resolution::parse("1Y").is_err());
        assert!(Resolution::parse("").is_err());
    }

    #[test]
    fn derivation_rules() {
        use Resolution::*;
        assert!(Minutes(15).derivable_from(Minutes(5)));
        assert!(!Minutes(15).derivable_from(Minutes(10)));
        assert!(Day.derivable_from(Minutes(1)));
        assert!(Month.derivable_from(Day));
        assert!(!Minutes(5).derivable_from(Day));
        assert!(!Month.derivable_from(Week));
    }
}
