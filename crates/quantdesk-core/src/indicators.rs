//! Streaming technical indicators: feed one value at a time, get the indicator's value once it
//! has enough history (`None` before). Feeding a series one value at a time gives exactly what a
//! batch computation over that series gives, which is what backtests and live charts rely on.

use std::collections::VecDeque;

/// A streaming indicator over `f64` inputs.
pub trait Indicator {
    type Output;
    /// Consumes the next input and returns the indicator value, once defined.
    fn next(&mut self, x: f64) -> Option<Self::Output>;
}

/// Simple moving average over `n` values: a running sum over a ring buffer, re-summed exactly
/// every 1,024 steps (or `n`, if larger) so rounding errors cannot accumulate.
#[derive(Debug, Clone)]
pub struct Sma {
    n: usize,
    ring: Vec<f64>,
    head: usize,
    filled: usize,
    sum: f64,
    until_resum: usize,
}

impl Sma {
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        Sma { n, ring: vec![0.0; n], head: 0, filled: 0, sum: 0.0, until_resum: n.max(1024) }
    }
}

impl Indicator for Sma {
    type Output = f64;
    fn next(&mut self, x: f64) -> Option<f64> {
        let old = std::mem::replace(&mut self.ring[self.head], x);
        self.head = if self.head + 1 == self.n { 0 } else { self.head + 1 };
        if self.filled < self.n {
            self.filled += 1;
            self.sum += x;
        } else {
            self.sum += x - old;
        }
        self.until_resum -= 1;
        if self.until_resum == 0 {
            self.sum = self.ring[..self.filled].iter().sum();
            self.until_resum = self.n.max(1024);
        }
        (self.filled == self.n).then(|| self.sum / self.n as f64)
    }
}

/// Exponential moving average with `alpha = 2 / (n + 1)`, seeded with the first value.
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
            Some(prev) => self.alpha * x + (1.0 - self.alpha) * prev,
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

/// Bollinger bands: SMA(n) ± k population standard deviations.
#[derive(Debug, Clone)]
pub struct Bollinger {
    n: usize,
    k: f64,
    window: VecDeque<f64>,
}

/// One set of bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bands {
    pub lower: f64,
    pub middle: f64,
    pub upper: f64,
}

impl Bollinger {
    pub fn new(n: usize, k: f64) -> Self {
        Bollinger { n: n.max(1), k, window: VecDeque::new() }
    }
}

impl Indicator for Bollinger {
    type Output = Bands;
    fn next(&mut self, x: f64) -> Option<Bands> {
        self.window.push_back(x);
        if self.window.len() > self.n {
            self.window.pop_front();
        }
        if self.window.len() < self.n {
            return None;
        }
        let n = self.n as f64;
        let mean = self.window.iter().sum::<f64>() / n;
        let var = self.window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        Some(Bands { lower: mean - self.k * sd, middle: mean, upper: mean + self.k * sd })
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

    proptest! {
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
