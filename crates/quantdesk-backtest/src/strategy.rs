//! Built-in strategies. Each keeps per-symbol state and acts on a symbol when it gets a new bar.
//! Long-only: they buy all-in when flat and close on the opposite signal.

use std::collections::BTreeMap;

use quantdesk_core::indicators::{Bollinger, Indicator, Macd, Rsi, Sma};

use crate::engine::{Context, Strategy};
use crate::order::{Side, Size};

/// Named parameters, as given on the command line (`--param fast=10`).
pub type Params = BTreeMap<String, f64>;

/// The names `build` knows.
pub const BUILT_IN: [&str; 6] = ["sma_cross", "rsi", "macd", "bollinger", "buy_and_hold", "voting"];

/// A built-in strategy by name. Unknown names and parameters are errors, so typos are caught.
pub fn build(name: &str, params: &Params) -> Result<Box<dyn Strategy>, String> {
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
            Box::new(PerSymbol::new(move || SmaCross::new(fast, slow)))
        }
        "rsi" => {
            let (n, lower, upper) = (period("period", 14.0)?, get("lower", 30.0), get("upper", 70.0));
            if !(0.0..upper).contains(&lower) || upper > 100.0 {
                return Err("need 0 <= lower < upper <= 100".into());
            }
            Box::new(PerSymbol::new(move || RsiRevert { rsi: Rsi::new(n), lower, upper }))
        }
        "macd" => {
            let (f, s, g) = (period("fast", 12.0)?, period("slow", 26.0)?, period("signal", 9.0)?);
            Box::new(PerSymbol::new(move || MacdCross { macd: Macd::new(f, s, g), prev: None }))
        }
        "bollinger" => {
            let (n, k) = (period("period", 20.0)?, get("k", 2.0));
            if k.is_nan() || k <= 0.0 {
                return Err("k must be positive".into());
            }
            Box::new(PerSymbol::new(move || BollingerRevert { bands: Bollinger::new(n, k) }))
        }
        "voting" => {
            let (threshold, max_position, limit) =
                (get("threshold", 0.5), get("max_position", 1.0), get("daily_loss_limit", 0.05));
            let valid = (0.0..=1.0).contains(&threshold) && max_position > 0.0 && max_position <= 1.0 && limit > 0.0;
            if !valid {
                return Err("need 0 <= threshold <= 1, 0 < max_position <= 1, daily_loss_limit > 0".into());
            }
            Box::new(crate::voting::Voting::new(crate::voting::Combiner::Confidence { threshold }, max_position, limit))
        }
        _ => Box::new(PerSymbol::new(|| BuyAndHold)),
    })
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
