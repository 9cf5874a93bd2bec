//! Built-in strategies. Each keeps per-symbol state and acts on a symbol when it gets a new bar.
//! Long-only: they buy all-in when flat and close on the opposite signal.

use std::collections::BTreeMap;

use quantdesk_core::indicators::{Bollinger, Indicator, Macd, Rsi, Sma};

use crate::config::BacktestConfig;
use crate::engine::{self, Context, RunOutput, Series, Strategy};
use crate::metrics::TradeStats;
use crate::order::{Side, Size};

/// Named parameters, as given on the command line (`--param fast=10`).
pub type Params = BTreeMap<String, f64>;

/// The names `build` knows.
pub const BUILT_IN: [&str; 6] = ["sma_cross", "rsi", "macd", "bollinger", "buy_and_hold", "voting"];

/// A built-in strategy by name. Unknown names and parameters are errors, so typos are caught.
pub fn build(name: &str, params: &Params) -> Result<Box<dyn Strategy>, String> {
    Ok(BuiltIn::parse(name, params)?.build())
}

/// A built-in strategy with its checked parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BuiltIn {
    SmaCross { fast: usize, slow: usize },
    Rsi { period: usize, lower: f64, upper: f64 },
    Macd { fast: usize, slow: usize, signal: usize },
    Bollinger { period: usize, k: f64 },
    BuyAndHold,
    Voting { threshold: f64, max_position: f64, daily_loss_limit: f64 },
}

impl BuiltIn {
    /// Checks a name and its parameters (defaults for the missing ones).
    pub(crate) fn parse(name: &str, params: &Params) -> Result<BuiltIn, String> {
        let allowed: &[&str] = match name {
            "sma_cross" => &["fast", "slow"],
            "rsi" => &["period", "lower", "upper"],
            "macd" => &["fast", "slow", "signal"],
            "bollinger" => &["period", "k"],
            "buy_and_hold" => &[],
            "voting" => &["threshold", "max_position", "daily_loss_limit"],
            other => return Err(format!("unknown strategy {other:?}; built in: {}", BUILT_IN.join(", "))),
        };
        if let Some(bad) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("strategy {name} has no parameter {bad:?}; it takes: {}", allowed.join(", ")));
        }
        let get = |k: &str, default: f64| params.get(k).copied().unwrap_or(default);
        let period = |k: &str, default: f64| -> Result<usize, String> {
            let v = get(k, default);
            if v >= 1.0 && v.fract() == 0.0 && v <= 10_000.0 {
                Ok(v as usize)
            } else {
                Err(format!("{k} must be a whole number from 1 to 10000, got {v}"))
            }
        };
        Ok(match name {
            "sma_cross" => {
                let (fast, slow) = (period("fast", 10.0)?, period("slow", 20.0)?);
                if fast >= slow {
                    return Err(format!("fast ({fast}) must be shorter than slow ({slow})"));
                }
                BuiltIn::SmaCross { fast, slow }
            }
            "rsi" => {
                let (period, lower, upper) = (period("period", 14.0)?, get("lower", 30.0), get("upper", 70.0));
                if !(0.0..upper).contains(&lower) || upper > 100.0 {
                    return Err("need 0 <= lower < upper <= 100".into());
                }
                BuiltIn::Rsi { period, lower, upper }
            }
            "macd" => BuiltIn::Macd {
                fast: period("fast", 12.0)?,
                slow: period("slow", 26.0)?,
                signal: period("signal", 9.0)?,
            },
            "bollinger" => {
                let (period, k) = (period("period", 20.0)?, get("k", 2.0));
                if k.is_nan() || k <= 0.0 {
                    return Err("k must be positive".into());
                }
                BuiltIn::Bollinger { period, k }
            }
            "voting" => {
                let (threshold, max_position, daily_loss_limit) =
                    (get("threshold", 0.5), get("max_position", 1.0), get("daily_loss_limit", 0.05));
                let valid = (0.0..=1.0).contains(&threshold)
                    && max_position > 0.0
                    && max_position <= 1.0
                    && daily_loss_limit > 0.0;
                if !valid {
                    return Err("need 0 <= threshold <= 1, 0 < max_position <= 1, daily_loss_limit > 0".into());
                }
                BuiltIn::Voting { threshold, max_position, daily_loss_limit }
            }
            _ => BuiltIn::BuyAndHold,
        })
    }

    /// The strategy, for the general loop.
    pub(crate) fn build(self) -> Box<dyn Strategy> {
        match self {
            BuiltIn::SmaCross { fast, slow } => Box::new(PerSymbol::new(move || SmaCross::new(fast, slow))),
            BuiltIn::Rsi { period, lower, upper } => {
                Box::new(PerSymbol::new(move || RsiRevert { rsi: Rsi::new(period), lower, upper }))
            }
            BuiltIn::Macd { fast, slow, signal } => {
                Box::new(PerSymbol::new(move || MacdCross { macd: Macd::new(fast, slow, signal), prev: None }))
            }
            BuiltIn::Bollinger { period, k } => {
                Box::new(PerSymbol::new(move || BollingerRevert { bands: Bollinger::new(period, k) }))
            }
            BuiltIn::Voting { threshold, max_position, daily_loss_limit } => Box::new(crate::voting::Voting::new(
                crate::voting::Combiner::Confidence { threshold },
                max_position,
                daily_loss_limit,
            )),
            BuiltIn::BuyAndHold => Box::new(PerSymbol::new(|| BuyAndHold)),
        }
    }

    /// Runs a per-symbol built-in on a single series with the engine's single-series loop
    /// ([`engine::run_signals`]): the same results as running [`build`]'s strategy through
    /// [`engine::run`]. `closes` are the series' closes; `curve` is a buffer to reuse for the
    /// equity curve. `None` for strategies that are not per-symbol rules.
    pub(crate) fn run_single(
        self,
        cfg: &BacktestConfig,
        series: &[Series],
        closes: &[f64],
        curve: Vec<(i64, f64)>,
        record: bool,
    ) -> Option<(RunOutput, TradeStats)> {
        Some(match self {
            BuiltIn::SmaCross { fast, slow } => {
                let mut rule = StreamingSmaCross::new(fast, slow);
                engine::run_signals(cfg, series, |k| rule.at(closes, k), curve, record)
            }
            BuiltIn::Rsi { period, lower, upper } => {
                let mut rule = RsiRevert { rsi: Rsi::new(period), lower, upper };
                engine::run_signals(cfg, series, |k| rule.on_close(closes[k]), curve, record)
            }
            BuiltIn::Macd { fast, slow, signal } => {
                let mut rule = MacdCross { macd: Macd::new(fast, slow, signal), prev: None };
                engine::run_signals(cfg, series, |k| rule.on_close(closes[k]), curve, record)
            }
            BuiltIn::Bollinger { period, k } => {
                let mut rule = BollingerRevert { bands: Bollinger::new(period, k) };
                engine::run_signals(cfg, series, |i| rule.on_close(closes[i]), curve, record)
            }
            BuiltIn::BuyAndHold => engine::run_signals(cfg, series, |_| Signal::Buy, curve, record),
            BuiltIn::Voting { .. } => return None,
        })
    }
}

/// [`Sma`] over a slice of closes the caller keeps, computed a block of steps at a time: the
/// same running sum, updated and re-summed (every `max(n, 1024)` steps, in the ring buffer's slot
/// order) exactly as `Sma` does, so its values are bit-identical, without copying each close into
/// a ring.
#[derive(Debug, Clone)]
pub(crate) struct StreamingSma {
    n: usize,
    sum: f64,
    until_resum: usize,
}

impl StreamingSma {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        StreamingSma { n, sum: 0.0, until_resum: n.max(1024) }
    }

    /// Steps `from .. from + out.len()` (continuing from the last call): `out[j]` is the average
    /// of `closes[k + 1 − n ..= k]` for `k = from + j`, meaningful once `k + 1 >= n`.
    pub(crate) fn fill(&mut self, closes: &[f64], from: usize, out: &mut [f64]) {
        let n = self.n;
        let end = from + out.len();
        let mut k = from;
        while k < end {
            // Up to the next re-sum (or the end of the block).
            let stop = (k + self.until_resum).min(end);
            let warm = k.max(stop.min(n));
            for (o, &x) in out[k - from..warm - from].iter_mut().zip(&closes[k..warm]) {
                self.sum += x;
                *o = self.sum;
            }
            let steady = out[warm - from..stop - from].iter_mut().zip(&closes[warm..stop]);
            for ((o, &x), &old) in steady.zip(&closes[warm - n.min(warm)..]) {
                self.sum += x - old;
                *o = self.sum;
            }
            self.until_resum -= stop - k;
            if self.until_resum == 0 {
                self.sum = self.resum(closes, stop - 1);
                self.until_resum = n.max(1024);
                out[stop - 1 - from] = self.sum;
            }
            k = stop;
        }
        // Sums to averages in a separate loop, which the compiler vectorises.
        let n = n as f64;
        for v in out.iter_mut() {
            *v /= n;
        }
    }

    /// `Sma`'s exact re-sum after step `k`: slot `j` of its ring holds the latest close `i <= k`
    /// with `i % n == j`, and the slots are summed in order. A re-sum comes after at least `n`
    /// steps, so every slot is filled.
    #[cold]
    fn resum(&self, closes: &[f64], k: usize) -> f64 {
        let n = self.n;
        (0..n).map(|j| closes[k - (k + n - j) % n]).sum()
    }
}

/// [`SmaCross`] over [`StreamingSma`]s: the signals of a block of steps are computed together.
pub(crate) struct StreamingSmaCross {
    fast: StreamingSma,
    slow: StreamingSma,
    prev: Option<(f64, f64)>,
    /// The first step of the current block and its signals.
    start: usize,
    signals: Vec<Signal>,
    fast_values: Vec<f64>,
    slow_values: Vec<f64>,
}

impl StreamingSmaCross {
    const BLOCK: usize = 1024;

    pub(crate) fn new(fast: usize, slow: usize) -> Self {
        StreamingSmaCross {
            fast: StreamingSma::new(fast),
            slow: StreamingSma::new(slow),
            prev: None,
            start: 0,
            signals: Vec::new(),
            fast_values: vec![0.0; Self::BLOCK],
            slow_values: vec![0.0; Self::BLOCK],
        }
    }

    /// The signal after bar `k`, for `k = 0, 1, 2, …`.
    #[inline]
    pub(crate) fn at(&mut self, closes: &[f64], k: usize) -> Signal {
        if k - self.start >= self.signals.len() {
            self.next_block(closes, k);
        }
        self.signals[k - self.start]
    }

    #[inline(never)]
    fn next_block(&mut self, closes: &[f64], from: usize) {
        let m = Self::BLOCK.min(closes.len() - from);
        let (f, s) = (&mut self.fast_values[..m], &mut self.slow_values[..m]);
        self.fast.fill(closes, from, f);
        self.slow.fill(closes, from, s);
        self.start = from;
        self.signals.clear();
        // Both averages are defined from step `defined` on (`SmaCross` sees `None` before).
        let defined = self.fast.n.max(self.slow.n) - 1;
        let mut skip = defined.saturating_sub(from).min(m);
        self.signals.resize(skip, Signal::Hold);
        // The first defined step has no previous averages to cross.
        let Some((mut pf, mut ps)) = self.prev.or_else(|| {
            let first = (*f.get(skip)?, *s.get(skip)?);
            self.signals.push(Signal::Hold);
            skip += 1;
            Some(first)
        }) else {
            return;
        };
        self.signals.extend(f[skip..].iter().zip(&s[skip..]).map(|(&f, &s)| {
            let signal = if pf < ps && f > s {
                Signal::Buy
            } else if pf > ps && f < s {
                Signal::Sell
            } else {
                Signal::Hold
            };
            (pf, ps) = (f, s);
            signal
        }));
        self.prev = Some((pf, ps));
    }
}

/// What a single-symbol rule decides on a new bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Buy,
    Sell,
    Hold,
}

/// A rule over one symbol's closes.
pub trait Rule {
    fn on_close(&mut self, close: f64) -> Signal;
}

/// Runs one `Rule` per symbol: buy all-in when flat on `Buy`, close a long on `Sell`.
pub struct PerSymbol<R, F: Fn() -> R> {
    make: F,
    rules: Vec<R>,
}

impl<R, F: Fn() -> R> PerSymbol<R, F> {
    pub fn new(make: F) -> Self {
        PerSymbol { make, rules: Vec::new() }
    }
}

impl<R: Rule, F: Fn() -> R> Strategy for PerSymbol<R, F> {
    fn on_bar(&mut self, ctx: &mut Context<'_>) {
        while self.rules.len() < ctx.len() {
            self.rules.push((self.make)());
        }
        for i in 0..ctx.len() {
            if !ctx.updated(i) {
                continue;
            }
            let Some(bar) = ctx.bars(i).last().copied() else { continue };
            match self.rules[i].on_close(bar.close) {
                Signal::Buy if ctx.position(i) == 0 => ctx.market(i, Side::Buy, Size::AllIn),
                Signal::Sell if ctx.position(i) > 0 => ctx.market(i, Side::Sell, Size::Close),
                _ => {}
            }
        }
    }
}

/// Fast SMA crossing above the slow one buys; crossing below sells (strict crossings, as
/// backtesting.py's `crossover`).
pub struct SmaCross {
    fast: Sma,
    slow: Sma,
    prev: Option<(f64, f64)>,
}

impl SmaCross {
    pub fn new(fast: usize, slow: usize) -> Self {
        SmaCross { fast: Sma::new(fast), slow: Sma::new(slow), prev: None }
    }
}

impl Rule for SmaCross {
    fn on_close(&mut self, close: f64) -> Signal {
        let (f, s) = (self.fast.next(close), self.slow.next(close));
        let (Some(f), Some(s)) = (f, s) else { return Signal::Hold };
        let signal = match self.prev {
            Some((pf, ps)) if pf < ps && f > s => Signal::Buy,
            Some((pf, ps)) if pf > ps && f < s => Signal::Sell,
            _ => Signal::Hold,
        };
        self.prev = Some((f, s));
        signal
    }
}

/// RSI below `lower` buys; above `upper` sells.
pub struct RsiRevert {
    rsi: Rsi,
    lower: f64,
    upper: f64,
}

impl Rule for RsiRevert {
    fn on_close(&mut self, close: f64) -> Signal {
        match self.rsi.next(close) {
            Some(r) if r < self.lower => Signal::Buy,
            Some(r) if r > self.upper => Signal::Sell,
            _ => Signal::Hold,
        }
    }
}

/// DIF crossing above DEA buys; crossing below sells.
pub struct MacdCross {
    macd: Macd,
    prev: Option<f64>,
}

impl Rule for MacdCross {
    fn on_close(&mut self, close: f64) -> Signal {
        let Some(v) = self.macd.next(close) else { return Signal::Hold };
        let signal = match self.prev {
            Some(h) if h <= 0.0 && v.hist > 0.0 => Signal::Buy,
            Some(h) if h >= 0.0 && v.hist < 0.0 => Signal::Sell,
            _ => Signal::Hold,
        };
        self.prev = Some(v.hist);
        signal
    }
}

/// A close below the lower band buys; a close above the middle band sells.
pub struct BollingerRevert {
    bands: Bollinger,
}

impl Rule for BollingerRevert {
    fn on_close(&mut self, close: f64) -> Signal {
        match self.bands.next(close) {
            Some(b) if close < b.lower => Signal::Buy,
            Some(b) if close > b.middle => Signal::Sell,
            _ => Signal::Hold,
        }
    }
}

/// Buys on the first bar and holds.
pub struct BuyAndHold;

impl Rule for BuyAndHold {
    fn on_close(&mut self, _close: f64) -> Signal {
        Signal::Buy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_sma_is_sma_bit_for_bit() {
        let mut rng = quantdesk_core::rng::Rng::new(3);
        let mut p = 100.0;
        let closes: Vec<f64> = (0..5000)
            .map(|_| {
                p *= (rng.normal() * 0.02).exp();
                p
            })
            .collect();
        for n in [1, 2, 7, 20, 1023, 1024, 1025, 2100, 4999, 6000] {
            let mut sma = Sma::new(n);
            let want: Vec<Option<f64>> = closes.iter().map(|c| sma.next(*c)).collect();
            // Blocks of uneven sizes, crossing re-sums at every offset.
            let mut streaming = StreamingSma::new(n);
            let (mut got, mut from) = (Vec::new(), 0);
            for size in [1, 5, 1000, 1024, 3, 2000].into_iter().cycle() {
                let size = size.min(closes.len() - from);
                if size == 0 {
                    break;
                }
                let mut out = vec![0.0; size];
                streaming.fill(&closes, from, &mut out);
                got.extend(out.iter().enumerate().map(|(j, v)| (from + j + 1 >= n).then_some(*v)));
                from += size;
            }
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n = {n}");
        }
    }

    #[test]
    fn streaming_sma_cross_is_sma_cross() {
        let mut rng = quantdesk_core::rng::Rng::new(4);
        let mut p = 100.0;
        let closes: Vec<f64> = (0..6000)
            .map(|_| {
                p *= (rng.normal() * 0.02).exp();
                p
            })
            .collect();
        for (fast, slow) in [(1, 2), (5, 20), (10, 1100), (3, 7000)] {
            let mut rule = SmaCross::new(fast, slow);
            let mut streaming = StreamingSmaCross::new(fast, slow);
            for (k, c) in closes.iter().enumerate() {
                assert_eq!(streaming.at(&closes, k), rule.on_close(*c), "({fast}, {slow}) at {k}");
            }
        }
    }
}
