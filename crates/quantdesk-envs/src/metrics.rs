//! TradeMaster's per-episode metrics (`evaualte()`, shared by its trading, portfolio and EIIE environments), with its
//! own definitions, labelled as such: they are not textbook Sharpe, Calmar or Sortino ratios.

use serde::{Deserialize, Serialize};

use crate::numpy::{nan_to_num, np_mean, np_std, np_sum};

/// TradeMaster's per-episode metrics (`evaualte()`), with its definitions:
///
/// - `tr = A[-1] / (A[0] + 1e-10) - 1`;
/// - `sharpe_ratio = mean(r) * sqrt(252) / (std(r) + 1e-10)` on the asset return rates `r`, population std;
/// - `vol = std(r)`, population, not annualised;
/// - `mdd` = largest `(peak - A)/peak` with a running peak from `A[0]`;
/// - `cr = sum(daily_return) / (mdd + 1e-10)`: **dollars** over a fraction, not annualised;
/// - `sor = sum(daily_return) / (std(negative daily_return) + 1e-10) / (sqrt(N) + 1e-10)`, `N` counting the
///   leading 0; no negative entries give std 0 (NaN → 0), hence a blow-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TmEnvMetrics {
    /// Total return (with the 1e-10 epsilon).
    pub tr: f64,
    /// Sharpe on return rates, √252.
    pub sharpe_ratio: f64,
    /// Std of return rates.
    pub vol: f64,
    /// Running-peak max drawdown.
    pub mdd: f64,
    /// TradeMaster's "Calmar": dollar P&L sum / mdd.
    pub cr: f64,
    /// TradeMaster's "Sortino" on dollar P&L.
    pub sor: f64,
}

impl TmEnvMetrics {
    /// Computes the metrics from `daily_return` (dollar P&L with the leading 0) and `asset_memory`.
    /// With fewer than two asset values the return-rate metrics are NaN (numpy's mean of nothing).
    pub fn compute(daily_return: &[f64], assets: &[f64]) -> Self {
        let first = assets.first().copied().unwrap_or(f64::NAN);
        let last = assets.last().copied().unwrap_or(f64::NAN);
        let tr = last / (first + 1e-10) - 1.0;
        let rates: Vec<f64> = assets.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let sd = np_std(&rates);
        let sharpe_ratio = np_mean(&rates) * 252f64.sqrt() / (sd + 1e-10);
        let mut mdd = 0.0f64;
        let mut peak = first;
        for &v in assets {
            if v > peak {
                peak = v;
            }
            let dd = (peak - v) / peak;
            if dd > mdd {
                mdd = dd;
            }
        }
        let total = np_sum(daily_return);
        let cr = total / (mdd + 1e-10);
        let sor = tm_sortino(daily_return);
        Self { tr, sharpe_ratio, vol: sd, mdd, cr, sor }
    }
}

/// TradeMaster's Sortino: `sum(x) / (nan_to_num(std(x[x<0])) + 1e-10) / (sqrt(len(x)) + 1e-10)`.
pub fn tm_sortino(x: &[f64]) -> f64 {
    let neg: Vec<f64> = x.iter().copied().filter(|v| *v < 0.0).collect();
    let sd = if neg.is_empty() { 0.0 } else { nan_to_num(np_std(&neg)) };
    np_sum(x) / (sd + 1e-10) / ((x.len() as f64).sqrt() + 1e-10)
}
