//! Booked money in exact fixed point: integer micro-units (10⁻⁶ of the currency).
//!
//! Prices are market data (`f64`); what the account books — cash, commissions, taxes, realised
//! P&L — is `Money`. Each amount is rounded once, to the nearest micro-unit, where it is computed
//! from prices; sums and differences of booked amounts are then exact.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// An exact amount of money in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(into = "f64", from = "f64")]
pub struct Money(i64);

const SCALE: f64 = 1_000_000.0;

impl Money {
    pub const ZERO: Money = Money(0);

    /// Rounds `value` to the nearest micro-unit (half away from zero). Non-finite values are zero.
    pub fn from_f64(value: f64) -> Money {
        if !value.is_finite() {
            return Money::ZERO;
        }
        Money((value * SCALE).round() as i64)
    }

    /// Whole currency units (e.g. 5 CNY).
    pub const fn units(n: i64) -> Money {
        Money(n * 1_000_000)
    }

    pub fn to_f64(self) -> f64 {
        self.0 as f64 / SCALE
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn max(self, other: Money) -> Money {
        if self >= other { self } else { other }
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl From<Money> for f64 {
    fn from(m: Money) -> f64 {
        m.to_f64()
    }
}

impl From<f64> for Money {
    fn from(v: f64) -> Money {
        Money::from_f64(v)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0.saturating_sub(o.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        *self = *self + o;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, o: Money) {
        *self = *self - o;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(self.0.saturating_neg())
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sums_and_rounding() {
        let a = Money::from_f64(0.1);
        let b = Money::from_f64(0.2);
        assert_eq!(a + b, Money::from_f64(0.3), "0.1 + 0.2 is 0.3 in money");
        assert_eq!(Money::from_f64(1.0000005).micros(), 1_000_001);
        assert_eq!(Money::from_f64(-1.0000005).micros(), -1_000_001);
        assert_eq!(Money::units(5).to_string(), "5.000000");
        assert_eq!((-Money::from_f64(12.5)).to_string(), "-12.500000");
        assert_eq!(Money::from_f64(f64::NAN), Money::ZERO);
        let total: Money = (0..10).map(|_| Money::from_f64(0.1)).sum();
        assert_eq!(total, Money::units(1));
    }
}
