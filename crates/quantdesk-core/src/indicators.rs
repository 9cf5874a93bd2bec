//! Streaming technical indicators: feed one value at a time, get the indicator's value once it
//! has enough history (`None` before). Feeding a series one value at a time gives exactly what a
//! batch computation over that series gives, which is what backtests and live charts rely on.
//!
//! # Ties
//!
//! Comparisons of indicator values decide trades, so a comparison must not depend on the order
//! in which a sum happened to be rounded (issue 21: SMA(5) and SMA(30) both exactly 11.128 from
//! three-decimal prices, a running `f64` sum saying the fast one is lower by 4e-15, and a trade
//! that is not there). Prices are decimals, so the indicators built from sums compare exactly:
//!
//! - a value is read as the decimal it was written as when it is the `f64` nearest to a decimal
//!   with at most six places and less than 2^49 millionths (about 5.6e8) in magnitude
//!   ([`micros`]); every stored price is (six places at most: adjusted prices are rounded to six);
//! - [`Sma`] and [`Bollinger`] keep their window's sum (and sum of squares) in integer
//!   millionths, exactly, next to the `f64` sum, and [`Sma::cmp_mean`] and [`Bollinger::locate`]
//!   compare by cross-multiplying integers, with no division before the comparison: equal means
//!   compare equal whatever the order of the sums;
//! - a window holding a value that is not such a decimal (more places, a computed series)
//!   falls back to the `f64` values and their order, as before: there, what is mathematically
//!   equal is whatever the binary values say, and ties are as exact as `f64` sums make them;
//! - [`Ema`] (and so [`Macd`]) cannot be exact in fixed precision (its denominators grow as
//!   powers of `n + 1`): it is updated as `prev + α (x − prev)`, so a flat series keeps every
//!   average exactly at the price and MACD exactly at zero, and [`MacdValue::hist_sign`] counts a
//!   histogram within [`MACD_NOISE`] of the price as zero (rounding noise, not a signal);
//! - [`Rsi`] (Wilder's smoothing, also not exact in fixed precision) is compared to a threshold
//!   with [`rsi_cmp`]: within [`RSI_TIE`] (1e-9 RSI points, far above its rounding error of about
//!   1e-13 and far below any meaningful difference) is a tie.

use std::cmp::Ordering;
use std::collections::VecDeque;

/// A streaming indicator over `f64` inputs.
pub trait Indicator {
    type Output;
    /// Consumes the next input and returns the indicator value, once defined.
    fn next(&mut self, x: f64) -> Option<Self::Output>;
}

/// Millionths in one unit: prices are compared exactly as integer micro-units.
pub const MICROS_PER_UNIT: f64 = 1e6;

/// `x` in integer millionths, when `x` is the `f64` nearest to a decimal with at most six places
/// and `|x|` is below 2^49 millionths (about 5.6e8): the decimal it was read from. `None`
/// otherwise (more places, binary fractions, NaN, infinities). Exact: the candidate is rounded
/// from `x × 10^6` and accepted only when dividing it back (one correctly rounded division of
/// two exact values) gives `x` again, so a value is never taken for a decimal it is not.
#[inline]
pub fn micros(x: f64) -> Option<i64> {
    let m = micros_or_inexact(x);
    (m != INEXACT).then_some(m)
}

/// [`micros`] with [`INEXACT`] for `None`, for loops that keep a count of inexact values.
#[inline]
pub fn micros_or_inexact(x: f64) -> i64 {
    // Adding and subtracting 1.5 × 2^52 rounds a double below 2^51 to an integer (ties to even)
    // without a call to `round`, which the baseline x86-64 target has no instruction for.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    const LIMIT: f64 = 562_949_953_421_312.0; // 2^49
    let v = x * MICROS_PER_UNIT;
    if v.is_nan() || v.abs() >= LIMIT {
        return INEXACT;
    }
    let r = (v + ROUND) - ROUND;
    // A decimal's `v` is within a few ulps of its integer (|v| 2^-51 at most): anything farther is
    // refused without the division (most values of a computed series).
    if (v - r).abs() > v.abs() * 4e-15 {
        return INEXACT;
    }
    if r / MICROS_PER_UNIT == x { r as i64 } else { INEXACT }
}

/// The marker [`micros_or_inexact`] gives a value that is not a six-place decimal.
pub const INEXACT: i64 = i64::MIN;

/// An exact window sum of micro-units: (value, 0) or, for [`INEXACT`], (0, 1).
#[inline]
pub fn split_micros(m: i64) -> (i64, u32) {
    if m == INEXACT { (0, 1) } else { (m, 0) }
}

/// The longest window whose sum of micro-units is kept exactly: `i64` sums of at most 16,383
/// values below 2^49 cannot overflow (they are added with wrapping arithmetic, exact whenever
/// the true sum fits). Longer windows compare their `f64` averages.
pub const MAX_EXACT_WINDOW: usize = (1 << 14) - 1;

/// Compares the means `a / na` and `b / nb` of two exact sums without dividing: `a·nb` against
/// `b·na` in 128-bit integers (no overflow for windows up to [`MAX_EXACT_WINDOW`]).
#[inline]
pub fn cmp_means(a: i64, na: usize, b: i64, nb: usize) -> Ordering {
    (i128::from(a) * nb as i128).cmp(&(i128::from(b) * na as i128))
}

/// The `f64` nearest to the mean of an exact sum of `n` micro-units (correctly rounded while the
/// sum is below 2^53 micro-units; beyond, rounded twice, still monotone, so it never reverses an
/// order).
#[inline]
pub fn exact_mean(sum: i64, n: usize) -> f64 {
    sum as f64 / (MICROS_PER_UNIT * n as f64)
}

/// Simple moving average over `n` values. Two sums of the window are kept: the exact sum of its
/// values in micro-units (while every value in the window is a six-place decimal, see
/// [`micros`]), and a running `f64` sum over a ring buffer, re-summed every 1,024 steps (or `n`,
/// if larger) so rounding errors cannot accumulate, for windows that are not decimals. The value
/// is the exact mean, correctly rounded, when there is one; [`Sma::cmp_mean`] compares two averages
/// exactly.
#[derive(Debug, Clone)]
pub struct Sma {
    n: usize,
    ring: Vec<f64>,
    ring_micros: Vec<i64>,
    head: usize,
    filled: usize,
    sum: f64,
    until_resum: usize,
    /// The window's sum in micro-units, over its decimal values (wrapping: exact when it fits).
    exact: i64,
    /// How many of the window's values are not decimals.
    inexact: u32,
}

impl Sma {
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        Sma {
            n,
            ring: vec![0.0; n],
            ring_micros: vec![0; n],
            head: 0,
            filled: 0,
            sum: 0.0,
            until_resum: n.max(1024),
            exact: 0,
            inexact: 0,
        }
    }

    /// The window length.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Never empty: the window has at least one value.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The window's exact sum in micro-units, once the window is full and every value in it is a
    /// decimal.
    pub fn exact_sum(&self) -> Option<i64> {
        (self.filled == self.n && self.inexact == 0 && self.n <= MAX_EXACT_WINDOW).then_some(self.exact)
    }

    /// The current average (what the last `next` returned).
    pub fn value(&self) -> Option<f64> {
        if self.filled < self.n {
            None
        } else if let Some(sum) = self.exact_sum() {
            Some(exact_mean(sum, self.n))
        } else {
            Some(self.sum / self.n as f64)
        }
    }

    /// This average against `other`'s: exact (integer cross-multiplication of the two exact sums)
    /// when both windows are decimals, so mathematically equal averages are `Equal` whatever the
    /// lengths and the order of the sums; else the `f64` averages' order. `None` while either is
    /// undefined, or for NaN.
    pub fn cmp_mean(&self, other: &Sma) -> Option<Ordering> {
        if let (Some(a), Some(b)) = (self.exact_sum(), other.exact_sum()) {
            return Some(cmp_means(a, self.n, b, other.n));
        }
        self.value()?.partial_cmp(&other.value()?)
    }
}

impl Indicator for Sma {
    type Output = f64;
    fn next(&mut self, x: f64) -> Option<f64> {
        let old = std::mem::replace(&mut self.ring[self.head], x);
        let mx = micros_or_inexact(x);
        let (m, bad) = split_micros(mx);
        let (old_m, old_bad) = split_micros(std::mem::replace(&mut self.ring_micros[self.head], mx));
        self.head = if self.head + 1 == self.n { 0 } else { self.head + 1 };
        if self.filled < self.n {
            self.filled += 1;
            self.sum += x;
            self.exact = self.exact.wrapping_add(m);
            self.inexact += bad;
        } else {
            self.sum += x - old;
            self.exact = self.exact.wrapping_add(m).wrapping_sub(old_m);
            self.inexact = self.inexact + bad - old_bad;
        }
        self.until_resum -= 1;
        if self.until_resum == 0 {
            self.sum = self.ring[..self.filled].iter().sum();
            self.until_resum = self.n.max(1024);
        }
        self.value()
    }
}

/// Exponential moving average with `alpha = 2 / (n + 1)`, seeded with the first value. Updated as
/// `prev + α (x − prev)`: when the value repeats the average does not move, so a flat series
/// (a suspended stock) keeps the average exactly at the price, where `α x + (1 − α) prev` rounds
/// off it by an ulp or two and lets MACD's sign flip on rounding noise.
#[derive(Debug, Clone)]
pub struct Ema {
    alpha: f64,
    value: Option<f64>,
}

impl Ema {
    pub fn new(n: usize) -> Self {
        Ema { alpha: 2.0 / (n.max(1) as f64 + 1.0), value: None }
    }
}

impl Indicator for Ema {
    type Output = f64;
    fn next(&mut self, x: f64) -> Option<f64> {
        let v = match self.value {
            None => x,
            Some(prev) => prev + self.alpha * (x - prev),
        };
        self.value = Some(v);
        Some(v)
    }
}

/// Wilder's RSI over `n` periods (seeded with the simple average of the first `n` changes).
#[derive(Debug, Clone)]
pub struct Rsi {
    n: usize,
    prev: Option<f64>,
    seen: usize,
    avg_gain: f64,
    avg_loss: f64,
}

impl Rsi {
    pub fn new(n: usize) -> Self {
        Rsi { n: n.max(1), prev: None, seen: 0, avg_gain: 0.0, avg_loss: 0.0 }
    }
}

impl Indicator for Rsi {
    type Output = f64;
    fn next(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let change = x - prev;
        let (gain, loss) = (change.max(0.0), (-change).max(0.0));
        let n = self.n as f64;
        self.seen += 1;
        if self.seen <= self.n {
            self.avg_gain += gain / n;
            self.avg_loss += loss / n;
            if self.seen < self.n {
                return None;
            }
        } else {
            self.avg_gain = (self.avg_gain * (n - 1.0) + gain) / n;
            self.avg_loss = (self.avg_loss * (n - 1.0) + loss) / n;
        }
        Some(if self.avg_loss == 0.0 { 100.0 } else { 100.0 - 100.0 / (1.0 + self.avg_gain / self.avg_loss) })
    }
}

/// RSI points within which an RSI and a threshold are a tie (see [`rsi_cmp`]).
pub const RSI_TIE: f64 = 1e-9;

/// An RSI against a threshold (30, 70): `Equal` within [`RSI_TIE`]. Wilder's smoothing has no
/// exact fixed-precision form (its denominators grow as powers of `n`), so an RSI that is
/// mathematically at the threshold comes out of `f64` a few ulps either side (an RSI of exactly
/// 30 computes as 29.999999999999996 for some inputs); its rounding error stays below 1e-12
/// points, and no decision should turn on a billionth of a point.
pub fn rsi_cmp(rsi: f64, level: f64) -> Option<Ordering> {
    if (rsi - level).abs() <= RSI_TIE { Some(Ordering::Equal) } else { rsi.partial_cmp(&level) }
}

/// MACD: DIF = EMA(fast) − EMA(slow), DEA = EMA(signal) of DIF, histogram = DIF − DEA.
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

/// One MACD value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    pub dif: f64,
    pub dea: f64,
    pub hist: f64,
}

/// The size, relative to the price, below which a MACD histogram is rounding noise: the three
/// averages carry errors of a few dozen ulps (about 1e-14 of the price), a real histogram is
/// thousands of times larger than 1e-12 of the price.
pub const MACD_NOISE: f64 = 1e-12;

impl MacdValue {
    /// The histogram's sign at `price` (the close it was computed from), with anything within
    /// [`MACD_NOISE`] of the price counted as zero, so that DIF and DEA that are mathematically
    /// equal (a flat series, or averages converged onto a flat price) never cross on noise.
    pub fn hist_sign(&self, price: f64) -> Ordering {
        if self.hist.abs() <= MACD_NOISE * price.abs() {
            Ordering::Equal
        } else if self.hist > 0.0 {
            Ordering::Greater
        } else if self.hist < 0.0 {
            Ordering::Less
        } else {
            Ordering::Equal // NaN
        }
    }
}

impl Macd {
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Macd { fast: Ema::new(fast), slow: Ema::new(slow), signal: Ema::new(signal) }
    }
}

impl Indicator for Macd {
    type Output = MacdValue;
    fn next(&mut self, x: f64) -> Option<MacdValue> {
        let dif = self.fast.next(x)? - self.slow.next(x)?;
        let dea = self.signal.next(dif)?;
        Some(MacdValue { dif, dea, hist: dif - dea })
    }
}

/// Bollinger bands: SMA(n) ± k population standard deviations. [`Bollinger::locate`] places a
/// price against the bands exactly when the window, the price and `k` are decimals.
#[derive(Debug, Clone)]
pub struct Bollinger {
    n: usize,
    k: f64,
    /// `k` as a reduced fraction `p / q` when it is a decimal.
    k_ratio: Option<(i128, i128)>,
    window: VecDeque<f64>,
    window_micros: VecDeque<i64>,
    /// The window's sum and sum of squares in micro-units, over its decimal values.
    sum: i128,
    squares: i128,
    inexact: u32,
    last: Option<Bands>,
}

/// One set of bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bands {
    pub lower: f64,
    pub middle: f64,
    pub upper: f64,
}

/// Where a price lies against each band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandOrder {
    pub lower: Ordering,
    pub middle: Ordering,
    pub upper: Ordering,
}

impl Bollinger {
    pub fn new(n: usize, k: f64) -> Self {
        let k_ratio = micros(k).map(|m| {
            let (p, q) = (i128::from(m), 1_000_000i128);
            let g = gcd(p.unsigned_abs(), q.unsigned_abs()) as i128;
            (p / g, q / g)
        });
        Bollinger {
            n: n.max(1),
            k,
            k_ratio,
            window: VecDeque::new(),
            window_micros: VecDeque::new(),
            sum: 0,
            squares: 0,
            inexact: 0,
            last: None,
        }
    }

    /// `x` against the current bands (after the last `next`). Exact when every value in the
    /// window, `x` and `k` are decimals: with `S` the window's sum, `Q` its sum of squares (in
    /// micro-units), `d = n·x − S` and `V = n·Q − S²` (`n²` times the variance),
    /// `x − mean = d / n` and `k·sd = k √V / n`, so `x` against `mean ± k sd` is `d` against
    /// `± (p/q) √V`, decided on `(q d)²` against `p² V` in integers: a close exactly on a band is
    /// `Equal`. Otherwise (or if the integers would overflow) the `f64` bands' order.
    pub fn locate(&self, x: f64) -> Option<BandOrder> {
        let bands = self.last?;
        if let Some(order) = self.locate_exact(x) {
            return Some(order);
        }
        Some(BandOrder {
            lower: x.partial_cmp(&bands.lower)?,
            middle: x.partial_cmp(&bands.middle)?,
            upper: x.partial_cmp(&bands.upper)?,
        })
    }

    fn locate_exact(&self, x: f64) -> Option<BandOrder> {
        if self.inexact > 0 || self.window.len() < self.n {
            return None;
        }
        let (p, q) = self.k_ratio?;
        let n = i128::try_from(self.n).ok()?;
        let d = n.checked_mul(i128::from(micros(x)?))?.checked_sub(self.sum)?;
        let v = n.checked_mul(self.squares)?.checked_sub(self.sum.checked_mul(self.sum)?)?;
        // `a` against (p/q)·√V, for p, q, V >= 0.
        let against_band = |a: i128| -> Option<Ordering> {
            if a <= 0 {
                return Some(if a == 0 && (p == 0 || v == 0) { Ordering::Equal } else { Ordering::Less });
            }
            let lhs = q.checked_mul(a)?.checked_pow(2)?;
            let rhs = p.checked_mul(p)?.checked_mul(v)?;
            Some(lhs.cmp(&rhs))
        };
        Some(BandOrder { lower: against_band(-d)?.reverse(), middle: d.cmp(&0), upper: against_band(d)? })
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Indicator for Bollinger {
    type Output = Bands;
    fn next(&mut self, x: f64) -> Option<Bands> {
        let mx = micros_or_inexact(x);
        let (m, bad) = split_micros(mx);
        self.window.push_back(x);
        self.window_micros.push_back(mx);
        self.sum += i128::from(m);
        self.squares += i128::from(m) * i128::from(m);
        self.inexact += bad;
        if self.window.len() > self.n {
            self.window.pop_front();
            let (old, old_bad) = split_micros(self.window_micros.pop_front().unwrap_or(0));
            self.sum -= i128::from(old);
            self.squares -= i128::from(old) * i128::from(old);
            self.inexact -= old_bad;
        }
        if self.window.len() < self.n {
            return None;
        }
        let n = self.n as f64;
        let mean = self.window.iter().sum::<f64>() / n;
        let var = self.window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        let bands = Bands { lower: mean - self.k * sd, middle: mean, upper: mean + self.k * sd };
        self.last = Some(bands);
        Some(bands)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sma_by_hand() {
        let mut s = Sma::new(3);
        let out: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0].iter().map(|x| s.next(*x)).collect();
        assert_eq!(out, vec![None, None, Some(2.0), Some(3.0), Some(4.0)]);
    }

    #[test]
    fn ema_rsi_macd_bollinger_by_hand() {
        let mut e = Ema::new(3); // alpha 0.5
        assert_eq!(e.next(2.0), Some(2.0));
        assert_eq!(e.next(4.0), Some(3.0));
        let mut r = Rsi::new(2);
        assert_eq!(r.next(10.0), None);
        assert_eq!(r.next(11.0), None); // one change seen
        assert_eq!(r.next(10.0), Some(50.0)); // avg gain 0.5, avg loss 0.5
        assert_eq!(r.next(12.0), Some(100.0 - 100.0 / (1.0 + (1.25 / 0.25))));
        let mut m = Macd::new(1, 1, 1);
        assert_eq!(m.next(5.0), Some(MacdValue { dif: 0.0, dea: 0.0, hist: 0.0 }));
        let mut b = Bollinger::new(2, 1.0);
        assert_eq!(b.next(1.0), None);
        assert_eq!(b.next(3.0), Some(Bands { lower: 1.0, middle: 2.0, upper: 3.0 }));
    }

    #[test]
    fn micros_read_decimals_exactly() {
        assert_eq!(micros(11.128), Some(11_128_000));
        assert_eq!(micros(-0.000_001), Some(-1));
        assert_eq!(micros(0.1 + 0.2), None, "0.30000000000000004 is not the decimal 0.3");
        assert_eq!(micros(1.0 / 3.0), None);
        assert_eq!(micros(1e9), None, "beyond 2^49 millionths");
        assert_eq!(micros(f64::NAN), None);
        // Equal averages of decimals compare equal, whatever their sums round to in f64.
        let (mut fast, mut slow) = (Sma::new(2), Sma::new(4));
        for x in [0.1, 0.2, 0.1, 0.2] {
            fast.next(x);
            slow.next(x);
        }
        assert_eq!(fast.cmp_mean(&slow), Some(Ordering::Equal));
        assert_eq!(fast.value(), Some(0.15));
        assert_eq!(slow.value(), Some(0.15));
        fast.next(0.3);
        slow.next(0.3);
        assert_eq!(fast.cmp_mean(&slow), Some(Ordering::Greater), "0.25 against 0.2");
        assert_eq!(slow.cmp_mean(&fast), Some(Ordering::Less));
    }

    #[test]
    fn a_flat_series_keeps_ema_and_macd_exact() {
        let (mut e, mut m) = (Ema::new(26), Macd::new(12, 26, 9));
        for _ in 0..200 {
            assert_eq!(e.next(7.206), Some(7.206));
            assert_eq!(m.next(7.206).map(|v| v.hist), Some(0.0));
        }
    }

    proptest! {
        #[test]
        fn exact_sma_is_the_decimal_mean(ms in proptest::collection::vec(-5_000_000i64..5_000_000, 1..200), n in 1usize..30) {
            let xs: Vec<f64> = ms.iter().map(|m| *m as f64 / 1000.0).collect();
            let mut s = Sma::new(n);
            for (i, x) in xs.iter().enumerate() {
                let got = s.next(*x);
                if i + 1 >= n {
                    let sum: i64 = ms[i + 1 - n..=i].iter().sum();
                    prop_assert_eq!(s.exact_sum(), Some(sum * 1000));
                    prop_assert_eq!(got, Some(sum as f64 / (1000.0 * n as f64)));
                }
            }
        }

        #[test]
        fn streaming_sma_equals_batch(xs in proptest::collection::vec(-1e6f64..1e6, 1..300), n in 1usize..40) {
            let mut s = Sma::new(n);
            for (i, x) in xs.iter().enumerate() {
                let got = s.next(*x);
                if i + 1 < n {
                    prop_assert!(got.is_none());
                } else {
                    let batch = xs[i + 1 - n..=i].iter().sum::<f64>() / n as f64;
                    let got = got.unwrap();
                    prop_assert!((got - batch).abs() <= 1e-6 * (1.0 + batch.abs()), "{got} vs {batch}");
                }
            }
        }
    }
}
