//! Features computed from bars: TradeMaster's z-features (`zopen, zhigh, zlow, zadjcp, zclose, zd_5 … zd_60`, its
//! preprocessor's formulas), the BTC/DJ30 feature lists of its configurations, and quantdesk's own indicators
//! ([`indicator_features`]), held in a [`FeatureMatrix`].
//!
//! TradeMaster fills the leading gaps of `zclose` and `zd_k` backwards (`bfill`): the first `k - 1` rows then carry a
//! value computed from later closes, a look-ahead. [`ZOptions::backfill`] keeps that by default (TradeMaster's
//! numbers); with `backfill: false` the gaps stay NaN and nothing in a row depends on a later row. TradeMaster also
//! fills across the ticker boundary of its long table (a ticker's first rows take the previous ticker's last values);
//! here every series is filled on its own.

use serde::{Deserialize, Serialize};

use crate::trading::AtEnvError;

/// Per-row features for the observation, row-major (one row per close, `names.len()` values each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatrix {
    names: Vec<String>,
    rows: usize,
    data: Vec<f64>,
}

impl FeatureMatrix {
    /// Builds a matrix from named feature rows; every row must have one value per name.
    pub fn new(names: Vec<String>, rows: &[Vec<f64>]) -> Result<Self, AtEnvError> {
        if names.is_empty() {
            return Err(AtEnvError::FeatureShape("no feature names".into()));
        }
        let mut data = Vec::with_capacity(rows.len() * names.len());
        for (i, r) in rows.iter().enumerate() {
            if r.len() != names.len() {
                return Err(AtEnvError::FeatureShape(format!(
                    "row {i} has {} values for {} features",
                    r.len(),
                    names.len()
                )));
            }
            data.extend_from_slice(r);
        }
        Ok(Self { names, rows: rows.len(), data })
    }

    /// Builds a matrix from one column per name; every column must have the same length.
    pub fn from_columns(names: Vec<String>, cols: &[Vec<f64>]) -> Result<Self, AtEnvError> {
        if names.is_empty() || names.len() != cols.len() {
            return Err(AtEnvError::FeatureShape(format!("{} columns for {} names", cols.len(), names.len())));
        }
        let rows = cols[0].len();
        if cols.iter().any(|c| c.len() != rows) {
            return Err(AtEnvError::FeatureShape("columns differ in length".into()));
        }
        let k = names.len();
        let mut data = vec![0.0; rows * k];
        for (f, col) in cols.iter().enumerate() {
            for (r, v) in col.iter().enumerate() {
                data[r * k + f] = *v;
            }
        }
        Ok(Self { names, rows, data })
    }

    /// The values of row `row` (empty out of range).
    pub fn row(&self, row: usize) -> &[f64] {
        let k = self.names.len();
        if row < self.rows { &self.data[row * k..(row + 1) * k] } else { &[] }
    }

    /// The feature names, in observation order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// Value of feature `feature` at row `row` (`None` out of range).
    pub fn get(&self, row: usize, feature: usize) -> Option<f64> {
        if row < self.rows && feature < self.names.len() {
            Some(self.data[row * self.names.len() + feature])
        } else {
            None
        }
    }

    /// The rows `start .. end` as a new matrix (clamped to the available rows).
    pub fn slice_rows(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.rows);
        let start = start.min(end);
        let k = self.names.len();
        Self { names: self.names.clone(), rows: end - start, data: self.data[start * k..end * k].to_vec() }
    }
}

/// TradeMaster's 16 BTC (and DJ30) features, in its `tech_indicator_list` order.
pub const BTC_FEATURES: [&str; 16] = [
    "high", "low", "open", "close", "adjcp", "zopen", "zhigh", "zlow", "zadjcp", "zclose", "zd_5", "zd_10", "zd_15",
    "zd_20", "zd_25", "zd_30",
];

/// The moving-average windows of TradeMaster's preprocessor (`zd_5 … zd_60`).
pub const ZD_WINDOWS: [usize; 7] = [5, 10, 15, 20, 25, 30, 60];

/// How z-features are computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZOptions {
    /// The `zd_k` windows, in output order.
    pub windows: Vec<usize>,
    /// Back fill the leading gaps as TradeMaster does (a look-ahead in the first rows); `false` leaves them NaN.
    pub backfill: bool,
}

impl Default for ZOptions {
    /// TradeMaster's preprocessor: `zd_5 … zd_60`, forward then back fill.
    fn default() -> Self {
        Self { windows: ZD_WINDOWS.to_vec(), backfill: true }
    }
}

/// The names [`z_features`] produces: `zopen, zhigh, zlow, zadjcp, zclose`, then `zd_k` per window.
pub fn z_feature_names(opts: &ZOptions) -> Vec<String> {
    let mut names: Vec<String> = ["zopen", "zhigh", "zlow", "zadjcp", "zclose"].iter().map(|s| s.to_string()).collect();
    names.extend(opts.windows.iter().map(|k| format!("zd_{k}")));
    names
}

/// TradeMaster's z-features of one series, one column per name of [`z_feature_names`]:
/// `zopen = open/close - 1`, `zhigh`, `zlow` alike, `zadjcp = adjcp/close - 1`,
/// `zclose = close/(rolling-2 sum - close) - 1`, `zd_k = (rolling-k sum / k)/close - 1`, then forward fill and (with
/// [`ZOptions::backfill`]) back fill. Pass the whole history before the rows you need: the first `k - 1` rows of
/// `zd_k` have no value of their own. Columns are returned column-major (one `Vec` per feature).
pub fn z_columns(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    adjcp: &[f64],
    opts: &ZOptions,
) -> Vec<Vec<f64>> {
    let n = close.len();
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(5 + opts.windows.len());
    cols.push((0..n).map(|i| open[i] / close[i] - 1.0).collect());
    cols.push((0..n).map(|i| high[i] / close[i] - 1.0).collect());
    cols.push((0..n).map(|i| low[i] / close[i] - 1.0).collect());
    cols.push((0..n).map(|i| adjcp[i] / close[i] - 1.0).collect());
    cols.push(
        (0..n)
            .map(|i| if i == 0 { f64::NAN } else { close[i] / ((close[i - 1] + close[i]) - close[i]) - 1.0 })
            .collect(),
    );
    for &k in &opts.windows {
        cols.push(
            (0..n)
                .map(|i| {
                    if k == 0 || i + 1 < k {
                        f64::NAN
                    } else {
                        let s: f64 = close[i + 1 - k..=i].iter().sum();
                        (s / k as f64) / close[i] - 1.0
                    }
                })
                .collect(),
        );
    }
    for col in &mut cols {
        fill_forward(col);
        if opts.backfill {
            fill_backward(col);
        }
    }
    cols
}

/// [`z_columns`] as a [`FeatureMatrix`] (names from [`z_feature_names`]).
pub fn z_features(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    adjcp: &[f64],
    opts: &ZOptions,
) -> Result<FeatureMatrix, AtEnvError> {
    check_lengths(close.len(), &[open, high, low, adjcp])?;
    let cols = z_columns(open, high, low, close, adjcp, opts);
    FeatureMatrix::from_columns(z_feature_names(opts), &cols)
}

fn check_lengths(n: usize, others: &[&[f64]]) -> Result<(), AtEnvError> {
    if others.iter().any(|c| c.len() != n) {
        return Err(AtEnvError::FeatureShape("open, high, low, close and adjcp differ in length".into()));
    }
    if n == 0 {
        return Err(AtEnvError::FeatureShape("no rows".into()));
    }
    Ok(())
}

/// TradeMaster's BTC features rebuilt with its preprocessor formulas: `high, low, open, close, adjcp` (`= close`), then
/// the z-features with windows 5 … 30, forward and back filled ([`z_columns`]). Pass the whole history and slice the
/// rows ([`FeatureMatrix::slice_rows`]). All slices must have the same length.
pub fn btc_features(open: &[f64], high: &[f64], low: &[f64], close: &[f64]) -> Result<FeatureMatrix, AtEnvError> {
    check_lengths(close.len(), &[open, high, low])?;
    let opts = ZOptions { windows: ZD_WINDOWS[..6].to_vec(), backfill: true };
    let mut cols: Vec<Vec<f64>> = vec![high.to_vec(), low.to_vec(), open.to_vec(), close.to_vec(), close.to_vec()];
    cols.extend(z_columns(open, high, low, close, close, &opts));
    FeatureMatrix::from_columns(BTC_FEATURES.iter().map(|s| s.to_string()).collect(), &cols)
}

fn fill_forward(col: &mut [f64]) {
    let mut last = f64::NAN;
    for v in col.iter_mut() {
        if v.is_nan() {
            *v = last;
        } else {
            last = *v;
        }
    }
}

fn fill_backward(col: &mut [f64]) {
    let mut next = f64::NAN;
    for v in col.iter_mut().rev() {
        if v.is_nan() {
            *v = next;
        } else {
            next = *v;
        }
    }
}

/// Which of quantdesk's streaming indicators ([`quantdesk_core::indicators`]) to turn into features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorSpec {
    /// `sma_n = SMA(n)/close - 1` per window.
    pub sma: Vec<usize>,
    /// `ema_n = EMA(n)/close - 1` per window.
    pub ema: Vec<usize>,
    /// `rsi_n = RSI(n)/100`.
    pub rsi: Option<usize>,
    /// `macd_hist = MACD(fast, slow, signal) histogram / close`.
    pub macd: Option<(usize, usize, usize)>,
    /// `boll_b = (close - lower)/(upper - lower)` of Bollinger(n, k) (NaN when the bands are flat).
    pub bollinger: Option<(usize, f64)>,
}

impl Default for IndicatorSpec {
    /// SMA 5 and 20, EMA 12, RSI 14, MACD (12, 26, 9), Bollinger (20, 2).
    fn default() -> Self {
        Self { sma: vec![5, 20], ema: vec![12], rsi: Some(14), macd: Some((12, 26, 9)), bollinger: Some((20, 2.0)) }
    }
}

/// quantdesk's indicators of a close series as scale-free features, causal by construction (each row from that row
/// and the ones before it; NaN until an indicator is defined). Names: `sma_n`, `ema_n`, `rsi_n`, `macd_hist`,
/// `boll_b`, in that order.
pub fn indicator_features(close: &[f64], spec: &IndicatorSpec) -> Result<FeatureMatrix, AtEnvError> {
    use quantdesk_core::indicators::{Bollinger, Ema, Indicator, Macd, Rsi, Sma};
    if close.is_empty() {
        return Err(AtEnvError::FeatureShape("no rows".into()));
    }
    let ratio = |v: Option<f64>, c: f64| v.map_or(f64::NAN, |v| v / c - 1.0);
    let mut names = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    for &n in &spec.sma {
        let mut ind = Sma::new(n.max(1));
        names.push(format!("sma_{n}"));
        cols.push(close.iter().map(|&c| ratio(ind.next(c), c)).collect());
    }
    for &n in &spec.ema {
        let mut ind = Ema::new(n.max(1));
        names.push(format!("ema_{n}"));
        cols.push(close.iter().map(|&c| ratio(ind.next(c), c)).collect());
    }
    if let Some(n) = spec.rsi {
        let mut ind = Rsi::new(n.max(1));
        names.push(format!("rsi_{n}"));
        cols.push(close.iter().map(|&c| ind.next(c).map_or(f64::NAN, |v| v / 100.0)).collect());
    }
    if let Some((f, sl, sg)) = spec.macd {
        let mut ind = Macd::new(f.max(1), sl.max(1), sg.max(1));
        names.push("macd_hist".into());
        cols.push(close.iter().map(|&c| ind.next(c).map_or(f64::NAN, |m| m.hist / c)).collect());
    }
    if let Some((n, k)) = spec.bollinger {
        let mut ind = Bollinger::new(n.max(1), k);
        names.push("boll_b".into());
        cols.push(
            close.iter().map(|&c| ind.next(c).map_or(f64::NAN, |b| (c - b.lower) / (b.upper - b.lower))).collect(),
        );
    }
    FeatureMatrix::from_columns(names, &cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_features_without_backfill_do_not_look_ahead() {
        let close: Vec<f64> = (0..40).map(|i| 100.0 + (i as f64 * 0.7).sin() * 5.0).collect();
        let opts = ZOptions { windows: vec![5, 10], backfill: false };
        let a = z_features(&close, &close, &close, &close, &close, &opts).unwrap();
        let mut later = close.clone();
        for v in &mut later[20..] {
            *v *= 1.5;
        }
        let b = z_features(&later, &later, &later, &later, &later, &opts).unwrap();
        for row in 0..20 {
            for f in 0..a.n_features() {
                let (x, y) = (a.get(row, f).unwrap(), b.get(row, f).unwrap());
                assert!(x == y || (x.is_nan() && y.is_nan()), "row {row} feature {f}");
            }
        }
        assert!(a.get(3, 5).unwrap().is_nan(), "zd_5 has no value before row 4 without back fill");
        let bf =
            z_features(&close, &close, &close, &close, &close, &ZOptions { windows: vec![5], backfill: true }).unwrap();
        assert_eq!(bf.get(0, 5), bf.get(4, 5), "TradeMaster back fills from row 4");
    }

    #[test]
    fn indicator_features_are_causal_and_scale_free() {
        let close: Vec<f64> = (0..60).map(|i| 100.0 + (i as f64 * 0.4).sin() * 5.0).collect();
        let spec = IndicatorSpec::default();
        let a = indicator_features(&close, &spec).unwrap();
        assert_eq!(a.names(), ["sma_5", "sma_20", "ema_12", "rsi_14", "macd_hist", "boll_b"]);
        assert!(a.get(3, 0).unwrap().is_nan() && a.get(4, 0).unwrap().is_finite(), "SMA(5) from row 4");
        let sma5 = close[..5].iter().sum::<f64>() / 5.0 / close[4] - 1.0;
        assert!((a.get(4, 0).unwrap() - sma5).abs() < 1e-12);
        let scaled: Vec<f64> = close.iter().map(|c| c * 3.0).collect();
        let mut later = close.clone();
        later[40..].iter_mut().for_each(|c| *c *= 2.0);
        let (b, c) = (indicator_features(&scaled, &spec).unwrap(), indicator_features(&later, &spec).unwrap());
        for row in 0..60 {
            for f in 0..a.n_features() {
                let (x, y, z) = (a.get(row, f).unwrap(), b.get(row, f).unwrap(), c.get(row, f).unwrap());
                assert!((x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-9, "scale: row {row} feature {f}");
                if row < 40 {
                    assert!(x.to_bits() == z.to_bits(), "causal: row {row} feature {f}");
                }
            }
        }
    }
}
