//! Performance metrics, one definition each, used everywhere a number is shown.
//!
//! Returns are per step of the equity curve (one bar of the run's resolution). With `p` periods
//! a year (252 for daily bars):
//! - total return: final / initial − 1;
//! - CAGR: (final / initial)^(365.25 / calendar days) − 1;
//! - annual volatility: std(returns, ddof 1) × √p;
//! - Sharpe: mean(r − rf/p) / std(r, ddof 1) × √p (risk-free rate `rf` annual, 0 by default);
//! - Sortino: mean(r − rf/p) × p / (√mean(min(r − rf/p, 0)²) × √p), as empyrical;
//! - maximum drawdown: the deepest fall of equity from a running peak, with the peak (start),
//!   trough and recovery times and the duration in calendar days (to the end if not recovered);
//! - Calmar: CAGR / |maximum drawdown|;
//! - win rate, profit factor, average win and loss: over closed trades, by net P&L;
//! - exposure: share of steps with any position; turnover: traded value / mean equity;
//! - VaR at 95 % and 99 %: the 5th / 1st percentile of returns (numpy's linear interpolation),
//!   as a positive loss; CVaR: the mean of the ⌊(n − 1) × cutoff⌋ + 1 smallest returns, as a
//!   positive loss (empyrical's definitions);
//! - skew and excess kurtosis: biased sample moments (scipy's defaults);
//! - alpha and beta against a benchmark's returns on the same steps: beta = cov(r, b) / var(b),
//!   alpha = (1 + mean(r − beta × b))^p − 1, as empyrical.

use serde::{Deserialize, Serialize};

use crate::engine::{Fill, Trade};

/// A metric read back from JSON: `null` is how JSON writes a number that is not finite (NaN or an
/// infinity), so it reads back as NaN rather than failing the whole result.
fn f64_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A drawdown episode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Drawdown {
    /// Negative fraction, e.g. −0.25.
    #[serde(deserialize_with = "f64_or_null")]
    pub depth: f64,
    pub start: i64,
    pub trough: i64,
    pub recovery: Option<i64>,
    #[serde(deserialize_with = "f64_or_null")]
    pub duration_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(deserialize_with = "f64_or_null")]
    pub total_return: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub cagr: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub annual_volatility: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub sharpe: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub sortino: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub calmar: f64,
    pub max_drawdown: Drawdown,
    pub trades: usize,
    #[serde(deserialize_with = "f64_or_null")]
    pub win_rate: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub profit_factor: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub average_win: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub average_loss: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub exposure: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub turnover: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub var_95: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub cvar_95: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub var_99: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub cvar_99: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub skew: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub kurtosis: f64,
    /// Against the benchmark, when one was given.
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
}

impl Metrics {
    /// All zeros (for validating metric names without a run).
    pub fn zeroed() -> Metrics {
        compute(&[], 0.0, &[], &[], 0, 252.0, 0.0)
    }
}

/// `Iterator::sum`'s starting value for `f64`, so that sums accumulated step by step equal the
/// `sum()`s of the definitions bit for bit.
fn empty_sum() -> f64 {
    std::iter::empty::<f64>().sum()
}

/// What the metrics need of a run's fills and trades, accumulated in their order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TradeStats {
    /// Sum of price × quantity over the fills.
    traded: f64,
    /// Closed trades, and their net P&L split into wins (> 0) and losses (<= 0).
    closed: usize,
    wins: usize,
    win_sum: f64,
    losses: usize,
    loss_sum: f64,
}

impl TradeStats {
    pub(crate) fn new() -> Self {
        let z = empty_sum();
        TradeStats { traded: z, closed: 0, wins: 0, win_sum: z, losses: 0, loss_sum: z }
    }

    pub(crate) fn fill(&mut self, price: f64, quantity: u64) {
        self.traded += price * quantity as f64;
    }

    pub(crate) fn closed_trade(&mut self, pnl: f64) {
        self.closed += 1;
        if pnl > 0.0 {
            self.wins += 1;
            self.win_sum += pnl;
        } else if pnl <= 0.0 {
            self.losses += 1;
            self.loss_sum += pnl;
        }
    }

    fn of(trades: &[Trade], fills: &[Fill]) -> Self {
        let mut stats = TradeStats::new();
        for f in fills {
            stats.fill(f.price, f.quantity);
        }
        for t in trades.iter().filter(|t| t.exit_time.is_some()) {
            stats.closed_trade(t.pnl.to_f64());
        }
        stats
    }
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() { 0.0 } else { x.iter().sum::<f64>() / x.len() as f64 }
}

/// VaR and CVaR at cutoff `q` % as positive losses, in linear time. VaR is numpy's default
/// percentile (linear interpolation between the order statistics `lo` and `lo + 1`); CVaR is the
/// mean of the `lo + 1` smallest returns (empyrical). `data` is reordered.
fn tail_risk(data: &mut [f64], q: f64) -> (f64, f64) {
    if data.is_empty() {
        return (0.0, 0.0);
    }
    let pos = q / 100.0 * (data.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let cmp = |x: &f64, y: &f64| x.total_cmp(y);
    // Select the higher statistic first, then the lower one inside the part below it: the first
    // lo + 1 elements are then exactly the lo + 1 smallest.
    let b = *data.select_nth_unstable_by(hi, cmp).1;
    let a = if hi == lo { b } else { *data[..hi].select_nth_unstable_by(lo, cmp).1 };
    let var = a + (b - a) * (pos - lo as f64);
    (-var, -mean(&data[..=lo]))
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 || !b.is_finite() { 0.0 } else { a / b }
}

/// Gross wins over gross losses: infinite when there are wins and no loss, undefined (NaN,
/// `null` in JSON, "—" for people) when there is neither.
fn profit_factor(win_sum: f64, loss_sum: f64) -> f64 {
    match (win_sum > 0.0, loss_sum < 0.0) {
        (_, true) => win_sum / loss_sum.abs(),
        (true, false) => f64::INFINITY,
        (false, false) => f64::NAN,
    }
}

impl Metrics {
    /// The profit factor as it was computed, also after a trip through JSON (which has no
    /// infinity and stores `null`): infinite when trades were won and none lost, NaN when
    /// it is undefined (no trades, or only break-even ones).
    pub fn profit_factor_value(&self) -> f64 {
        if self.profit_factor.is_nan() && self.trades > 0 && self.win_rate > 0.0 {
            f64::INFINITY
        } else {
            self.profit_factor
        }
    }
}

/// A number for people: `digits` decimals, "∞" for infinity, "—" when undefined, and never
/// "-0.000".
pub fn shown(v: f64, digits: usize) -> String {
    if v.is_nan() {
        return "—".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let s = format!("{v:.digits$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

/// Step returns of an equity curve.
pub fn returns(curve: &[(i64, f64)]) -> Vec<f64> {
    curve.windows(2).map(|w| if w[0].1 == 0.0 { 0.0 } else { w[1].1 / w[0].1 - 1.0 }).collect()
}

/// The deepest drawdown of an equity curve.
pub fn max_drawdown(curve: &[(i64, f64)]) -> Drawdown {
    let Some(&first) = curve.first() else { return DrawdownScan::new(0, 0.0).dd };
    let mut scan = DrawdownScan::new(first.0, first.1);
    for &(t, e) in curve {
        scan.push(t, e);
    }
    scan.finish(curve)
}

/// The one definition of the maximum drawdown, step by step: the running peak and the deepest
/// fall from it. [`max_drawdown`] and the fused pass of [`compute_with`] both feed it.
struct DrawdownScan {
    peak: f64,
    peak_t: i64,
    prev: f64,
    dd: Drawdown,
}

impl DrawdownScan {
    fn new(t0: i64, e0: f64) -> Self {
        let dd = Drawdown { depth: 0.0, start: t0, trough: t0, recovery: None, duration_days: 0.0 };
        DrawdownScan { peak: e0, peak_t: t0, prev: f64::NAN, dd }
    }

    #[inline]
    fn push(&mut self, t: i64, e: f64) {
        // Equal to the previous step's equity (flat): the peak and the drawdown are the previous
        // step's, already taken into account.
        if e == self.prev {
            return;
        }
        self.prev = e;
        if e > self.peak {
            self.peak = e;
            self.peak_t = t;
        }
        let d = if self.peak > 0.0 { e / self.peak - 1.0 } else { 0.0 };
        if d < self.dd.depth {
            self.dd = Drawdown { depth: d, start: self.peak_t, trough: t, recovery: None, duration_days: 0.0 };
        }
    }

    /// The deepest drawdown with its recovery and duration; `curve` is the one pushed.
    fn finish(mut self, curve: &[(i64, f64)]) -> Drawdown {
        finish_drawdown(curve, &mut self.dd);
        self.dd
    }
}

/// The recovery and duration of the deepest drawdown `dd` of a non-empty `curve`.
fn finish_drawdown(curve: &[(i64, f64)], dd: &mut Drawdown) {
    if dd.depth < 0.0 {
        let peak_equity = curve.iter().find(|(t, _)| *t == dd.start).map(|p| p.1).unwrap_or(curve[0].1);
        dd.recovery = curve.iter().find(|(t, e)| *t > dd.trough && *e >= peak_equity).map(|p| p.0);
        let end = dd.recovery.unwrap_or(curve[curve.len() - 1].0);
        dd.duration_days = (end - dd.start) as f64 / 86_400.0;
    }
}

/// All metrics of a run.
pub fn compute(
    curve: &[(i64, f64)],
    initial: f64,
    trades: &[Trade],
    fills: &[Fill],
    exposed_steps: usize,
    periods_per_year: f64,
    risk_free: f64,
) -> Metrics {
    let stats = TradeStats::of(trades, fills);
    compute_with(curve, initial, &stats, exposed_steps, periods_per_year, risk_free, &mut Vec::new())
}

/// [`compute`] from the trades' statistics, with a buffer for the returns, so repeated calls (a
/// sweep's runs) need not allocate. The passes of the definitions above are fused (one over the
/// curve, one over the returns) with each sum still taken in the same order, so the values are
/// bit-identical.
pub(crate) fn compute_with(
    curve: &[(i64, f64)],
    initial: f64,
    stats: &TradeStats,
    exposed_steps: usize,
    periods_per_year: f64,
    risk_free: f64,
    scratch: &mut Vec<f64>,
) -> Metrics {
    let empty_sum = empty_sum();
    let final_equity = curve.last().map(|p| p.1).unwrap_or(initial);

    // The returns, in a loop the compiler vectorises.
    let r = scratch;
    r.clear();
    let step = |(a, b): (&(i64, f64), &(i64, f64))| if a.1 == 0.0 { 0.0 } else { b.1 / a.1 - 1.0 };
    r.extend(curve.iter().zip(curve.iter().skip(1)).map(step));
    // One pass over the curve: the sums of returns and of equity, the deepest drawdown.
    let (mut sum_r, mut sum_equity) = (empty_sum, empty_sum);
    let mut dd = Drawdown { depth: 0.0, start: 0, trough: 0, recovery: None, duration_days: 0.0 };
    if let Some(&(t0, e0)) = curve.first() {
        let mut scan = DrawdownScan::new(t0, e0);
        for (k, &(t, e)) in curve.iter().enumerate() {
            if k > 0 {
                sum_r += r[k - 1];
            }
            sum_equity += e;
            scan.push(t, e);
        }
        dd = scan.finish(curve);
    }

    let rf = risk_free / periods_per_year;
    let n = r.len().max(1) as f64;
    let m = if r.is_empty() { 0.0 } else { sum_r / r.len() as f64 };
    // One pass for the standard deviation, the downside deviation and the central moments.
    let (mut sq, mut down2, mut m2, mut m3, mut m4) = (empty_sum, 0.0, 0.0, 0.0, 0.0);
    for x in r.iter() {
        sq += (x - m).powi(2);
        let e = (x - rf).min(0.0);
        down2 += e * e;
        let d = x - m;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let sd = if r.len() < 2 { 0.0 } else { (sq / (r.len() - 1) as f64).sqrt() };
    let mean_excess = m - rf;
    let days = match (curve.first(), curve.last()) {
        (Some(a), Some(b)) => (b.0 - a.0) as f64 / 86_400.0,
        _ => 0.0,
    };
    let total_return = ratio(final_equity, initial) - 1.0;
    let cagr = if days > 0.0 && initial > 0.0 && final_equity > 0.0 {
        (final_equity / initial).powf(365.25 / days) - 1.0
    } else {
        0.0
    };
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    let downside = (down2 / n).sqrt() * periods_per_year.sqrt();
    let (var_95, cvar_95) = tail_risk(r, 5.0);
    let (var_99, cvar_99) = tail_risk(r, 1.0);
    let average = |sum: f64, count: usize| if count == 0 { 0.0 } else { sum / count as f64 };
    let mean_equity = if curve.is_empty() { 0.0 } else { sum_equity / curve.len() as f64 };
    Metrics {
        total_return,
        cagr,
        annual_volatility: sd * periods_per_year.sqrt(),
        sharpe: ratio(mean_excess, sd) * periods_per_year.sqrt(),
        sortino: ratio(mean_excess * periods_per_year, downside),
        calmar: ratio(cagr, dd.depth.abs()),
        max_drawdown: dd,
        trades: stats.closed,
        win_rate: ratio(stats.wins as f64, stats.closed as f64),
        profit_factor: profit_factor(stats.win_sum, stats.loss_sum),
        average_win: average(stats.win_sum, stats.wins),
        average_loss: average(stats.loss_sum, stats.losses),
        exposure: ratio(exposed_steps as f64, curve.len() as f64),
        turnover: ratio(stats.traded, mean_equity),
        var_95,
        cvar_95,
        var_99,
        cvar_99,
        skew: ratio(m3, m2.powf(1.5)),
        kurtosis: if m2 > 0.0 { m4 / (m2 * m2) - 3.0 } else { 0.0 },
        alpha: None,
        beta: None,
    }
}

/// Alpha and beta of `r` against benchmark returns `b` (same length, same steps).
pub fn alpha_beta(r: &[f64], b: &[f64], periods_per_year: f64) -> (f64, f64) {
    let n = r.len().min(b.len());
    if n < 2 {
        return (0.0, 0.0);
    }
    let (r, b) = (&r[..n], &b[..n]);
    let (mr, mb) = (mean(r), mean(b));
    let cov = r.iter().zip(b).map(|(x, y)| (x - mr) * (y - mb)).sum::<f64>() / n as f64;
    let var = b.iter().map(|y| (y - mb).powi(2)).sum::<f64>() / n as f64;
    let beta = ratio(cov, var);
    let resid = mean(&r.iter().zip(b).map(|(x, y)| x - beta * y).collect::<Vec<_>>());
    ((1.0 + resid).powf(periods_per_year) - 1.0, beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metrics_survive_json() {
        let mut m = Metrics::zeroed();
        m.skew = f64::NAN;
        m.profit_factor = f64::INFINITY;
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains(r#""skew":null"#) && json.contains(r#""profit_factor":null"#), "{json}");
        let back: Metrics = serde_json::from_str(&json).unwrap();
        assert!(back.skew.is_nan() && back.profit_factor.is_nan());
        assert_eq!(back.sharpe, m.sharpe);
        assert!(serde_json::from_str::<Metrics>(r#"{"sharpe": 1}"#).is_err(), "a metric missing is an error");
    }

    #[test]
    fn profit_factor_is_infinite_without_losses_and_undefined_without_trades() {
        assert_eq!(profit_factor(30.0, -10.0), 3.0);
        assert_eq!(profit_factor(30.0, 0.0), f64::INFINITY, "all winners");
        assert!(profit_factor(0.0, 0.0).is_nan(), "no trades");
        assert_eq!(profit_factor(0.0, -5.0), 0.0, "all losers");
        // After JSON (null), the value is recovered from the trades and the win rate.
        let mut m = Metrics::zeroed();
        (m.profit_factor, m.trades, m.win_rate) = (f64::INFINITY, 3, 1.0);
        let back: Metrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.profit_factor_value(), f64::INFINITY);
        m.trades = 0;
        m.profit_factor = f64::NAN;
        assert!(m.profit_factor_value().is_nan());
        assert_eq!(shown(f64::INFINITY, 3), "∞");
        assert_eq!(shown(f64::NAN, 3), "—");
        assert_eq!(shown(-0.0001, 3), "0.000", "never -0.000");
        assert_eq!(shown(-0.5, 2), "-0.50");
    }

    #[test]
    fn drawdown_by_hand() {
        let d = 86_400;
        let curve = [(0, 100.0), (d, 120.0), (2 * d, 90.0), (3 * d, 100.0), (4 * d, 121.0), (5 * d, 110.0)];
        let dd = max_drawdown(&curve);
        assert!((dd.depth - (90.0 / 120.0 - 1.0)).abs() < 1e-12);
        assert_eq!((dd.start, dd.trough, dd.recovery), (d, 2 * d, Some(4 * d)));
        assert_eq!(dd.duration_days, 3.0);
    }

    #[test]
    fn moments_and_ratios_by_hand() {
        let d = 86_400;
        // returns +10 %, −10 %, +10 %
        let curve = [(0, 100.0), (d, 110.0), (2 * d, 99.0), (3 * d, 108.9)];
        let m = compute(&curve, 100.0, &[], &[], 0, 252.0, 0.0);
        let r = [0.1, -0.1, 0.1];
        let mean = (0.1 - 0.1 + 0.1) / 3.0;
        let sd = (r.iter().map(|x: &f64| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((m.sharpe - mean / sd * 252f64.sqrt()).abs() < 1e-9);
        assert!((m.total_return - 0.089).abs() < 1e-12);
        assert!((m.cagr - (1.089f64.powf(365.25 / 3.0) - 1.0)).abs() < 1e-6);
        let downside = ((0.01f64) / 3.0).sqrt() * 252f64.sqrt();
        assert!((m.sortino - mean * 252.0 / downside).abs() < 1e-9);
        // numpy.percentile([-0.1, 0.1, 0.1], 5) = -0.1 + 0.1 × 0.2 = -0.08
        assert!((m.var_95 - 0.08).abs() < 1e-12, "{}", m.var_95);
        assert!(m.skew < 0.0, "two gains and one loss of the same size skew left");
    }
}
