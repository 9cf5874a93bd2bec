//! Built-in strategies. Each keeps per-symbol state and acts on a symbol when it gets a new bar.
//! Long-only: they buy all-in when flat and close on the opposite signal.

use std::collections::BTreeMap;

use std::cmp::Ordering;

use quantdesk_core::indicators::{
    Bollinger, INEXACT, Indicator, MAX_EXACT_WINDOW, Macd, Rsi, Sma, cmp_means, exact_mean, micros_or_inexact, rsi_cmp,
    split_micros,
};

use serde::Serialize;

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

/// Whether a parameter takes whole numbers or any number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    Integer,
    Number,
}

/// One declared parameter of a built-in strategy: the single source of what the API, the form
/// and the CLI accept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: f64,
    /// Smallest value accepted (inclusive).
    pub min: f64,
    /// Largest value accepted (inclusive).
    pub max: f64,
}

const fn int(name: &'static str, default: f64) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::Integer, default, min: 1.0, max: 10_000.0 }
}
const fn num(name: &'static str, default: f64, min: f64, max: f64) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::Number, default, min, max }
}

const SMA_CROSS: [ParamSpec; 2] = [int("fast", 10.0), int("slow", 20.0)];
const RSI: [ParamSpec; 3] = [int("period", 14.0), num("lower", 30.0, 0.0, 100.0), num("upper", 70.0, 0.0, 100.0)];
const MACD: [ParamSpec; 3] = [int("fast", 12.0), int("slow", 26.0), int("signal", 9.0)];
const BOLLINGER: [ParamSpec; 2] = [int("period", 20.0), num("k", 2.0, 0.1, 10.0)];
const VOTING: [ParamSpec; 3] =
    [num("threshold", 0.5, 0.0, 1.0), num("max_position", 1.0, 0.01, 1.0), num("daily_loss_limit", 0.05, 0.001, 1.0)];

/// The declared parameters of a built-in strategy, `None` for an unknown name.
pub fn parameters(strategy: &str) -> Option<&'static [ParamSpec]> {
    Some(match strategy {
        "sma_cross" => &SMA_CROSS,
        "rsi" => &RSI,
        "macd" => &MACD,
        "bollinger" => &BOLLINGER,
        "buy_and_hold" => &[],
        "voting" => &VOTING,
        _ => return None,
    })
}

/// A strategy name or parameter that is refused, naming the parameter when one is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter at fault (`None` for an unknown strategy).
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ParamError {
    fn on(field: &str, message: String) -> Self {
        ParamError { field: Some(field.to_string()), message }
    }
}

/// Checks a strategy's name and parameters against its declaration: every parameter known,
/// a number of its kind within its range, and the rules between parameters (fast < slow,
/// lower < upper).
pub fn check(strategy: &str, params: &Params) -> Result<(), ParamError> {
    BuiltIn::checked(strategy, params).map(|_| ())
}

/// A parameter's value (its default when absent), checked against its declaration.
fn value(specs: &[ParamSpec], params: &Params, name: &str) -> Result<f64, ParamError> {
    let Some(spec) = specs.iter().find(|s| s.name == name) else {
        return Err(ParamError::on(name, format!("no parameter {name:?}")));
    };
    let v = params.get(name).copied().unwrap_or(spec.default);
    let whole = spec.kind == ParamKind::Integer;
    if !v.is_finite() || v < spec.min || v > spec.max || (whole && v.fract() != 0.0) {
        let what = if whole { "a whole number" } else { "a number" };
        return Err(ParamError::on(name, format!("{name} must be {what} from {} to {}, got {v}", spec.min, spec.max)));
    }
    Ok(v)
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
        Self::checked(name, params).map_err(|e| e.message)
    }

    fn checked(name: &str, params: &Params) -> Result<BuiltIn, ParamError> {
        let Some(specs) = parameters(name) else {
            return Err(ParamError {
                field: None,
                message: format!("unknown strategy {name:?}; built in: {}", BUILT_IN.join(", ")),
            });
        };
        if let Some(bad) = params.keys().find(|k| !specs.iter().any(|s| s.name == k.as_str())) {
            let takes: Vec<&str> = specs.iter().map(|s| s.name).collect();
            let takes = if takes.is_empty() { "none".to_string() } else { takes.join(", ") };
            return Err(ParamError::on(bad, format!("strategy {name} has no parameter {bad:?}; it takes: {takes}")));
        }
        let get = |k: &str| value(specs, params, k);
        let whole = |k: &str| get(k).map(|v| v as usize);
        Ok(match name {
            "sma_cross" => {
                let (fast, slow) = (whole("fast")?, whole("slow")?);
                if fast >= slow {
                    return Err(ParamError::on("fast", format!("fast ({fast}) must be shorter than slow ({slow})")));
                }
                BuiltIn::SmaCross { fast, slow }
            }
            "rsi" => {
                let (period, lower, upper) = (whole("period")?, get("lower")?, get("upper")?);
                if lower >= upper {
                    return Err(ParamError::on("lower", format!("lower ({lower}) must be below upper ({upper})")));
                }
                BuiltIn::Rsi { period, lower, upper }
            }
            "macd" => {
                let (fast, slow, signal) = (whole("fast")?, whole("slow")?, whole("signal")?);
                if fast >= slow {
                    return Err(ParamError::on("fast", format!("fast ({fast}) must be shorter than slow ({slow})")));
                }
                BuiltIn::Macd { fast, slow, signal }
            }
            "bollinger" => BuiltIn::Bollinger { period: whole("period")?, k: get("k")? },
            "voting" => BuiltIn::Voting {
                threshold: get("threshold")?,
                max_position: get("max_position")?,
                daily_loss_limit: get("daily_loss_limit")?,
            },
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
/// same sums as `Sma` — the exact sum in micro-units, and the running `f64` sum updated and
/// re-summed (every `max(n, 1024)` steps, in the ring buffer's slot order) exactly as `Sma` does,
/// so its `f64` values are bit-identical — without copying each close into a ring.
#[derive(Debug, Clone)]
pub(crate) struct StreamingSma {
    n: usize,
    sum: f64,
    until_resum: usize,
    exact: i64,
    inexact: usize,
}

/// The exact sum of a window holding a value that is not a decimal (no true sum is this low).
const NOT_EXACT: i64 = i64::MIN;

impl StreamingSma {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        StreamingSma { n, sum: 0.0, until_resum: n.max(1024), exact: 0, inexact: 0 }
    }

    /// Steps `from .. from + out.len()` (continuing from the last call): `out[j]` is the `f64`
    /// average of `closes[k + 1 − n ..= k]` for `k = from + j` as `Sma`'s running sum gives it,
    /// and `exact[j]` the window's exact sum in micro-units ([`NOT_EXACT`] when a value in it is
    /// not a decimal, or the window is longer than `MAX_EXACT_WINDOW`), both meaningful once
    /// `k + 1 >= n`. `micros[i − micros_from]` is [`micros_or_inexact`] of `closes[i]`, for `i`
    /// from `from − n` (or 0) to the block's end.
    pub(crate) fn fill(
        &mut self,
        closes: &[f64],
        (micros, micros_from): (&[i64], usize),
        from: usize,
        out: &mut [f64],
        exact: &mut [i64],
    ) {
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
        let nf = n as f64;
        for v in out.iter_mut() {
            *v /= nf;
        }
        // The exact sums, in a loop of their own (independent of the f64 sum's latency chain).
        let window = &micros[from.saturating_sub(n) - micros_from..end - micros_from];
        if n > MAX_EXACT_WINDOW || window.iter().all(|m| *m == INEXACT) {
            // No window of this block is exact: only the count of inexact values carries over.
            self.inexact = end.min(n);
            self.exact = 0;
            exact.fill(NOT_EXACT);
            return;
        }
        let at = |i: usize| micros[i - micros_from];
        if self.inexact == 0 && !window.contains(&INEXACT) {
            // Every value a decimal: the plain sliding sum.
            for (j, e) in exact.iter_mut().enumerate() {
                let i = from + j;
                self.exact = self.exact.wrapping_add(at(i));
                if i >= n {
                    self.exact = self.exact.wrapping_sub(at(i - n));
                }
                *e = self.exact;
            }
            return;
        }
        for (j, e) in exact.iter_mut().enumerate() {
            let i = from + j;
            let (m, bad) = split_micros(at(i));
            self.exact = self.exact.wrapping_add(m);
            self.inexact += bad as usize;
            if i >= n {
                let (old, old_bad) = split_micros(at(i - n));
                self.exact = self.exact.wrapping_sub(old);
                self.inexact -= old_bad as usize;
            }
            *e = if self.inexact == 0 { self.exact } else { NOT_EXACT };
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

    /// `Sma::value` from a step's `f64` average and exact sum.
    #[inline]
    fn value(&self, avg: f64, exact: i64) -> f64 {
        if exact == NOT_EXACT { avg } else { exact_mean(exact, self.n) }
    }
}

/// [`SmaCross`] over [`StreamingSma`]s: the signals of a block of steps are computed together,
/// with the averages compared as `Sma::cmp_mean` compares them.
pub(crate) struct StreamingSmaCross {
    fast: StreamingSma,
    slow: StreamingSma,
    /// The order of the averages at the last step, once defined.
    prev: Option<Option<Ordering>>,
    /// The first step of the current block and its signals.
    start: usize,
    signals: Vec<Signal>,
    fast_values: Vec<f64>,
    slow_values: Vec<f64>,
    fast_exact: Vec<i64>,
    slow_exact: Vec<i64>,
    /// `micros_or_inexact` of the closes from `micros_from` on: the current block and the
    /// longer window before it.
    micros: Vec<i64>,
    micros_from: usize,
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
            fast_exact: vec![0; Self::BLOCK],
            slow_exact: vec![0; Self::BLOCK],
            micros: Vec::new(),
            micros_from: 0,
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
        // The closes' micro-units, each converted once: keep the longer window before `from`.
        let keep_from = from.saturating_sub(self.fast.n.max(self.slow.n)).max(self.micros_from);
        self.micros.drain(..(keep_from - self.micros_from).min(self.micros.len()));
        self.micros_from = keep_from;
        self.micros.extend(closes[from..from + m].iter().map(|&c| micros_or_inexact(c)));
        let micros = (&self.micros[..], self.micros_from);
        let (f, s) = (&mut self.fast_values[..m], &mut self.slow_values[..m]);
        let (fe, se) = (&mut self.fast_exact[..m], &mut self.slow_exact[..m]);
        self.fast.fill(closes, micros, from, f, fe);
        self.slow.fill(closes, micros, from, s, se);
        self.start = from;
        self.signals.clear();
        // Both averages are defined from step `defined` on (`SmaCross` sees `None` before).
        let defined = self.fast.n.max(self.slow.n) - 1;
        let skip = defined.saturating_sub(from).min(m);
        self.signals.resize(skip, Signal::Hold);
        let (fast, slow) = (&self.fast, &self.slow);
        let order = |j: usize| -> Option<Ordering> {
            let (a, b) = (fe[j], se[j]);
            if a != NOT_EXACT && b != NOT_EXACT {
                return Some(cmp_means(a, fast.n, b, slow.n));
            }
            fast.value(f[j], a).partial_cmp(&slow.value(s[j], b))
        };
        let mut prev = self.prev;
        self.signals.extend((skip..m).map(|j| {
            let now = order(j);
            // The first defined step has no previous order to cross from.
            let signal = match (prev, now) {
                (Some(Some(Ordering::Less)), Some(Ordering::Greater)) => Signal::Buy,
                (Some(Some(Ordering::Greater)), Some(Ordering::Less)) => Signal::Sell,
                _ => Signal::Hold,
            };
            prev = Some(now);
            signal
        }));
        self.prev = prev;
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
/// backtesting.py's `crossover`: from strictly below to strictly above, so a day on which the
/// averages are equal is no crossing, and neither is a touch from below and back). The averages
/// are compared exactly ([`Sma::cmp_mean`]): equal averages of decimal prices are a tie whatever the
/// rounding of their sums.
pub struct SmaCross {
    fast: Sma,
    slow: Sma,
    prev: Option<Option<Ordering>>,
}

impl SmaCross {
    pub fn new(fast: usize, slow: usize) -> Self {
        SmaCross { fast: Sma::new(fast), slow: Sma::new(slow), prev: None }
    }
}

impl Rule for SmaCross {
    fn on_close(&mut self, close: f64) -> Signal {
        let (f, s) = (self.fast.next(close), self.slow.next(close));
        if f.is_none() || s.is_none() {
            return Signal::Hold;
        }
        let now = self.fast.cmp_mean(&self.slow);
        let signal = match (self.prev, now) {
            (Some(Some(Ordering::Less)), Some(Ordering::Greater)) => Signal::Buy,
            (Some(Some(Ordering::Greater)), Some(Ordering::Less)) => Signal::Sell,
            _ => Signal::Hold,
        };
        self.prev = Some(now);
        signal
    }
}

/// RSI below `lower` buys; above `upper` sells; an RSI at a threshold (within
/// [`quantdesk_core::indicators::RSI_TIE`]) does neither.
pub struct RsiRevert {
    rsi: Rsi,
    lower: f64,
    upper: f64,
}

impl Rule for RsiRevert {
    fn on_close(&mut self, close: f64) -> Signal {
        let Some(r) = self.rsi.next(close) else { return Signal::Hold };
        if rsi_cmp(r, self.lower) == Some(Ordering::Less) {
            Signal::Buy
        } else if rsi_cmp(r, self.upper) == Some(Ordering::Greater) {
            Signal::Sell
        } else {
            Signal::Hold
        }
    }
}

/// DIF crossing above DEA buys; crossing below sells: the histogram turning positive from zero
/// or below, or negative from zero or above. Its sign counts rounding noise as zero
/// ([`quantdesk_core::indicators::MacdValue::hist_sign`]), so equal DIF and DEA never cross.
pub struct MacdCross {
    macd: Macd,
    prev: Option<Ordering>,
}

impl Rule for MacdCross {
    fn on_close(&mut self, close: f64) -> Signal {
        let Some(v) = self.macd.next(close) else { return Signal::Hold };
        let now = v.hist_sign(close);
        let signal = match (self.prev, now) {
            (Some(Ordering::Less | Ordering::Equal), Ordering::Greater) => Signal::Buy,
            (Some(Ordering::Greater | Ordering::Equal), Ordering::Less) => Signal::Sell,
            _ => Signal::Hold,
        };
        self.prev = Some(now);
        signal
    }
}

/// A close below the lower band buys; a close above the middle band sells; a close exactly on
/// a band does neither ([`Bollinger::locate`] decides exactly for decimal prices).
pub struct BollingerRevert {
    bands: Bollinger,
}

impl Rule for BollingerRevert {
    fn on_close(&mut self, close: f64) -> Signal {
        if self.bands.next(close).is_none() {
            return Signal::Hold;
        }
        match self.bands.locate(close) {
            Some(at) if at.lower == Ordering::Less => Signal::Buy,
            Some(at) if at.middle == Ordering::Greater => Signal::Sell,
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

    /// A random walk three ways: binary values (the `f64` fallback), rounded to three decimals
    /// (exact sums), and mixed (every seventh value unrounded: windows go in and out of exact).
    fn walks(seed: u64, len: usize) -> Vec<Vec<f64>> {
        let mut rng = quantdesk_core::rng::Rng::new(seed);
        let mut p = 100.0;
        let raw: Vec<f64> = (0..len)
            .map(|_| {
                p *= (rng.normal() * 0.02).exp();
                p
            })
            .collect();
        let rounded: Vec<f64> = raw.iter().map(|x| (x * 1000.0).round() / 1000.0).collect();
        let mixed = rounded.iter().zip(&raw).enumerate().map(|(i, (r, x))| if i % 7 == 3 { *x } else { *r }).collect();
        vec![raw, rounded, mixed]
    }

    #[test]
    fn streaming_sma_is_sma_bit_for_bit() {
        for closes in walks(3, 5000) {
            streaming_sma_is_sma_on(&closes);
        }
    }

    fn streaming_sma_is_sma_on(closes: &[f64]) {
        let micros: Vec<i64> = closes.iter().map(|c| micros_or_inexact(*c)).collect();
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
                let mut exact = vec![0; size];
                streaming.fill(closes, (&micros, 0), from, &mut out, &mut exact);
                let values = out.iter().zip(&exact).map(|(v, e)| streaming.value(*v, *e));
                got.extend(values.enumerate().map(|(j, v)| (from + j + 1 >= n).then_some(v)));
                from += size;
            }
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n = {n}");
        }
    }

    #[test]
    fn streaming_sma_cross_is_sma_cross() {
        for closes in walks(4, 6000) {
            streaming_sma_cross_is_sma_cross_on(&closes);
        }
    }

    fn streaming_sma_cross_is_sma_cross_on(closes: &[f64]) {
        for (fast, slow) in [(1, 2), (5, 20), (10, 1100), (3, 7000)] {
            let mut rule = SmaCross::new(fast, slow);
            let mut streaming = StreamingSmaCross::new(fast, slow);
            for (k, c) in closes.iter().enumerate() {
                assert_eq!(streaming.at(closes, k), rule.on_close(*c), "({fast}, {slow}) at {k}");
            }
        }
    }
}
