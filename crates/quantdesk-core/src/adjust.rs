//! Price adjustment for corporate actions, applied when bars are read.
//!
//! With adjustment factors `adj(t)` (cumulative, growing at each dividend or split):
//! - none: raw prices;
//! - qfq (前复权, forward): `P × adj(t) / adj(latest in range)`, so the latest bar keeps its raw price;
//! - hfq (后复权, backward): `P × adj(t)`, so the earliest history keeps its scale.
//!
//! Volume and amount are left as traded.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Bar, InvalidValue};

/// One adjustment factor, in force from `date` until the next factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdjFactor {
    pub date: NaiveDate,
    pub factor: f64,
}

/// How to adjust prices when reading bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adjustment {
    /// Raw prices as traded.
    #[default]
    None,
    /// 前复权: scaled so the latest bar in range keeps its raw price.
    Qfq,
    /// 后复权: scaled by the cumulative factor.
    Hfq,
}

impl Adjustment {
    /// Parses `none`, `qfq`/`forward`, `hfq`/`backward` (empty means none).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "none" | "raw" => Ok(Adjustment::None),
            "qfq" | "forward" => Ok(Adjustment::Qfq),
            "hfq" | "backward" => Ok(Adjustment::Hfq),
            other => Err(InvalidValue(format!("unknown adjustment {other:?}; use none, qfq or hfq"))),
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Adjustment::None => "none",
            Adjustment::Qfq => "qfq",
            Adjustment::Hfq => "hfq",
        }
    }
}

/// The factor in force on `date`: the latest factor dated on or before it, or the earliest factor
/// when `date` precedes them all. `factors` must be sorted by date. `None` when there are none.
pub fn factor_on(factors: &[AdjFactor], date: NaiveDate) -> Option<f64> {
    if factors.is_empty() {
        return None;
    }
    let idx = factors.partition_point(|f| f.date <= date);
    Some(if idx == 0 { factors[0].factor } else { factors[idx - 1].factor })
}

/// Adjusts `bars` in place. `date_of` maps a bar's time to its trading date (for daily bars the UTC
/// date of the stamp, for intraday bars the exchange-local date). `factors` must be sorted by date.
pub fn adjust(bars: &mut [Bar], factors: &[AdjFactor], mode: Adjustment, date_of: impl Fn(i64) -> NaiveDate) {
    if mode == Adjustment::None || factors.is_empty() || bars.is_empty() {
        return;
    }
    let reference = match mode {
        Adjustment::Qfq => factor_on(factors, date_of(bars[bars.len() - 1].time)).unwrap_or(1.0),
        _ => 1.0,
    };
    for bar in bars.iter_mut() {
        let f = factor_on(factors, date_of(bar.time)).unwrap_or(1.0) / reference;
        bar.open *= f;
        bar.high *= f;
        bar.low *= f;
        bar.close *= f;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn day_bar(date: &str, close: f64) -> Bar {
        let t = d(date).and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        Bar { time: t, open: close, high: close, low: close, close, volume: 100.0, amount: 0.0 }
    }

    fn date_of(t: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp(t, 0).unwrap().date_naive()
    }

    /// A 10-for-10 bonus issue on 2024-01-03: the raw price halves, the factor doubles.
    fn split_case() -> (Vec<Bar>, Vec<AdjFactor>) {
        let bars = vec![day_bar("2024-01-01", 20.0), day_bar("2024-01-02", 22.0), day_bar("2024-01-03", 11.5)];
        let f =
            vec![AdjFactor { date: d("2024-01-01"), factor: 1.0 }, AdjFactor { date: d("2024-01-03"), factor: 2.0 }];
        (bars, f)
    }

    #[test]
    fn qfq_keeps_latest_price() {
        let (mut bars, f) = split_case();
        adjust(&mut bars, &f, Adjustment::Qfq, date_of);
        let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
        assert_eq!(closes, vec![10.0, 11.0, 11.5]);
        assert_eq!(bars[0].volume, 100.0, "volume is not adjusted");
    }

    #[test]
    fn qfq_reference_is_latest_in_range() {
        let (bars, f) = split_case();
        let mut first_two = bars[..2].to_vec();
        adjust(&mut first_two, &f, Adjustment::Qfq, date_of);
        assert_eq!(first_two[0].close, 20.0, "the range ends before the split: nothing changes");
    }

    #[test]
    fn hfq_multiplies_by_factor() {
        let (mut bars, f) = split_case();
        adjust(&mut bars, &f, Adjustment::Hfq, date_of);
        let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
        assert_eq!(closes, vec![20.0, 22.0, 23.0]);
    }

    #[test]
    fn factor_lookup_edges() {
        let (_, f) = split_case();
        assert_eq!(factor_on(&f, d("2023-12-01")), Some(1.0));
        assert_eq!(factor_on(&f, d("2024-01-02")), Some(1.0));
        assert_eq!(factor_on(&f, d("2024-01-03")), Some(2.0));
        assert_eq!(factor_on(&f, d("2030-01-01")), Some(2.0));
        assert_eq!(factor_on(&[], d("2030-01-01")), None);
        assert_eq!(Adjustment::parse("QFQ").unwrap(), Adjustment::Qfq);
        assert!(Adjustment::parse("both").is_err());
    }
}
