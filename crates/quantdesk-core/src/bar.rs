//! OHLCV bars.

use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// One bar. `time` is the bar's opening instant in Unix seconds (UTC); daily and longer bars are
/// stamped 00:00 UTC of their trading date. Prices are `f64`: bars are market data, not booked money.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Traded quantity (shares or contracts); 0 where the source has none.
    pub volume: f64,
    /// Traded value in the instrument's currency; 0 where the source has none.
    pub amount: f64,
}

impl Bar {
    /// Checks the bar's internal consistency: finite positive prices, `low <= open, close <= high`,
    /// non-negative volume and amount.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let prices = [self.open, self.high, self.low, self.close];
        if prices.iter().any(|p| !p.is_finite()) {
            return Err(InvalidValue("a price is not a finite number".into()));
        }
        if prices.iter().any(|p| *p < 0.0) {
            return Err(InvalidValue("a price is negative".into()));
        }
        if self.high < self.low {
            return Err(InvalidValue(format!("high {} is below low {}", self.high, self.low)));
        }
        for (name, p) in [("open", self.open), ("close", self.close)] {
            if p > self.high || p < self.low {
                return Err(InvalidValue(format!(
                    "{name} {p} is outside the bar's range [{}, {}]",
                    self.low, self.high
                )));
            }
        }
        if !(self.volume.is_finite() && self.volume >= 0.0) {
            return Err(InvalidValue("volume is negative or not a number".into()));
        }
        if !(self.amount.is_finite() && self.amount >= 0.0) {
            return Err(InvalidValue("amount is negative or not a number".into()));
        }
        Ok(())
    }

    /// Folds `next` (a later bar) into `self`, as when building a longer bar from shorter ones.
    pub fn merge(&mut self, next: &Bar) {
        self.high = self.high.max(next.high);
        self.low = self.low.min(next.low);
        self.close = next.close;
        self.volume += next.volume;
        self.amount += next.amount;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(o: f64, h: f64, l: f64, c: f64) -> Bar {
        Bar { time: 0, open: o, high: h, low: l, close: c, volume: 1.0, amount: 0.0 }
    }

    #[test]
    fn validation() {
        assert!(bar(10.0, 11.0, 9.0, 10.5).validate().is_ok());
        assert!(bar(10.0, 9.0, 11.0, 10.0).validate().unwrap_err().0.contains("high 9 is below low 11"));
        assert!(bar(12.0, 11.0, 9.0, 10.0).validate().unwrap_err().0.contains("open 12"));
        assert!(bar(f64::NAN, 11.0, 9.0, 10.0).validate().is_err());
        let mut b = bar(10.0, 11.0, 9.0, 10.0);
        b.volume = -1.0;
        assert!(b.validate().is_err());
    }
}
