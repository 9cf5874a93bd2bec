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

/// A drawdown episode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Drawdown {
    /// Negative fraction, e.g. −0.25.
    pub depth: f64,
    pub start: i64,
    pub trough: i64,
    pub recovery: Option<i64>,
    pub duration_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub total_return: f64,
    pub cagr: f64,
    pub annual_volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    pub max_drawdown: Drawdown,
    pub trades: usize,
    pub win_rate: f64,
    pub profit_factor: f64,
    pub average_win: f64,
    pub average_loss: f64,
    pub exposure: f64,
    pub turnover: f64,
    pub var_95: f64,
    pub cvar_95: f64,
    pub var_99: f64,
    pub cvar_99: f64,
    pub skew: f64,
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

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() { 0.0 } else { x.iter().sum::<f64>() / x.len() as f64 }
}

fn std1(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
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

/// Step returns of an equity curve.
pub fn returns(curve: &[(i64, f64)]) -> Vec<f64> {
    curve.windows(2).map(|w| if w[0].1 == 0.0 { 0.0 } else { w[1].1 / w[0].1 - 1.0 }).collect()
}

/// The deepest drawdown of an equity curve.
pub fn max_drawdown(curve: &[(i64, f64)]) -> Drawdown {
    let mut best = Drawdown { depth: 0.0, start: 0, trough: 0, recovery: None, duration_days: 0.0 };
    let Some(&(t0, e0)) = curve.first() else { return best };
    best.start = t0;
    best.trough = t0;
    let (mut peak, mut peak_t) = (e0, t0);
    for &(t, e) in curve {
        if e > peak {
            peak = e;
            peak_t = t;
        }
        let dd = if peak > 0.0 { e / peak - 1.0 } else { 0.0 };
        if dd < best.depth {
            best = Drawdown { depth: dd, start: peak_t, trough: t, recovery: None, duration_days: 0.0 };
        }
    }
    if best.depth < 0.0 {
        let peak_equity = curve.iter().find(|(t, _)| *t == best.start).map(|p| p.1).unwrap_or(e0);
        best.recovery = curve.iter().find(|(t, e)| *t > best.trough && *e >= peak_equity).map(|p| p.0);
        let end = best.recovery.unwrap_or(curve[curve.len() - 1].0);
        best.duration_days = (end - best.start) as f64 / 86_400.0;
    }
    best
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
    let final_equity = curve.last().map(|p| p.1).unwrap_or(initial);
    let r = returns(curve);
    let rf = risk_free / periods_per_year;
    let n = r.len().max(1) as f64;
    let m = mean(&r);
    let sd = std1(&r);
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
    // One pass for the downside deviation and the central moments.
    let (mut down2, mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0, 0.0);
    for x in &r {
        let e = (x - rf).min(0.0);
        down2 += e * e;
        let d = x - m;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    let downside = (down2 / n).sqrt() * periods_per_year.sqrt();
    let dd = max_drawdown(curve);
    let closed: Vec<&Trade> = trades.iter().filter(|t| t.exit_time.is_some()).collect();
    let wins: Vec<f64> = closed.iter().map(|t| t.pnl.to_f64()).filter(|p| *p > 0.0).collect();
    let losses: Vec<f64> = closed.iter().map(|t| t.pnl.to_f64()).filter(|p| *p <= 0.0).collect();
    let mut scratch = r;
    let (var_95, cvar_95) = tail_risk(&mut scratch, 5.0);
    let (var_99, cvar_99) = tail_risk(&mut scratch, 1.0);
    let traded: f64 = fills.iter().map(|f| f.price * f.quantity as f64).sum();
    let mean_equity = if curve.is_empty() { 0.0 } else { curve.iter().map(|p| p.1).sum::<f64>() / curve.len() as f64 };
    Metrics {
        total_return,
        cagr,
        annual_volatility: sd * periods_per_year.sqrt(),
        sharpe: ratio(mean_excess, sd) * periods_per_year.sqrt(),
        sortino: ratio(mean_excess * periods_per_year, downside),
        calmar: ratio(cagr, dd.depth.abs()),
        max_drawdown: dd,
        trades: closed.len(),
        win_rate: ratio(wins.len() as f64, closed.len() as f64),
        profit_factor: ratio(wins.iter().sum::<f64>(), losses.iter().sum::<f64>().abs()),
        average_win: mean(&wins),
        average_loss: mean(&losses),
        exposure: ratio(exposed_steps as f64, curve.len() as f64),
        turnover: ratio(traded, mean_equity),
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
