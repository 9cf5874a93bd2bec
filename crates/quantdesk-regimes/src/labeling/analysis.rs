//! Regime analysis (TradeMaster's `MarketDynamicsModelingAnalysis`) and the index → constituent
//! label mapping.

use super::LabelingError;
use super::dtw::np_mean;
use super::segment::ols_slope;
use serde::{Deserialize, Serialize};

/// Metrics of one run of consecutive bars with the same label, on the raw key indicator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// The run's label.
    pub label: usize,
    /// First bar.
    pub start: usize,
    /// One past the last bar used.
    pub end: usize,
    /// Bars used.
    pub length: usize,
    /// `calculate_average_k`: least-squares slope divided by the first value (fraction per bar).
    pub slope: f64,
    /// Maximum draw-up `(value − running trough) / running trough`.
    pub max_drawup: f64,
    /// Bars from the trough to the draw-up's peak.
    pub max_drawup_length: usize,
    /// Maximum drawdown `(running peak − value) / running peak`.
    pub max_drawdown: f64,
    /// Bars from the peak to the drawdown's trough.
    pub max_drawdown_length: usize,
    /// TradeMaster's `mpp_k`: `max_drawup / (max_drawup_length + 1e-10)`.
    pub drawup_k: f64,
    /// TradeMaster's `mdd_k`: `max_drawdown / (max_drawdown_length + 1e-10)`.
    pub drawdown_k: f64,
}

/// Mean and population std (ddof 0, `np.std`) over a label's runs, as in TradeMaster's
/// `metrics_of_each_dynamics.csv`, plus the per-bar return statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    /// The label.
    pub label: usize,
    /// Runs with this label.
    pub runs: usize,
    /// `average_k_list_mean` / `_std`: run slopes.
    pub slope_mean: f64,
    /// Population std of the run slopes.
    pub slope_std: f64,
    /// `average_length_list_mean`.
    pub length_mean: f64,
    /// `average_length_list_std`.
    pub length_std: f64,
    /// `mpp_k_list_mean`.
    pub drawup_k_mean: f64,
    /// `mpp_k_list_std`.
    pub drawup_k_std: f64,
    /// `mdd_k_list_mean`.
    pub drawdown_k_mean: f64,
    /// `mdd_k_list_std`.
    pub drawdown_k_std: f64,
    /// `mpp_length_list_mean`.
    pub drawup_length_mean: f64,
    /// `mpp_length_list_std`.
    pub drawup_length_std: f64,
    /// `mdd_length_list_mean`.
    pub drawdown_length_mean: f64,
    /// `mdd_length_list_std`.
    pub drawdown_length_std: f64,
    /// Not in TradeMaster: mean of the per-bar `pct_return` over the label's bars.
    pub return_mean: f64,
    /// Not in TradeMaster: population std of the per-bar `pct_return` over the label's bars.
    pub return_std: f64,
}

/// The analysis of one labeled series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DynamicsAnalysis {
    /// Every run, in order.
    pub runs: Vec<RunMetrics>,
    /// One entry per label `0..number_of_market_style` (NaN statistics for labels without runs).
    pub per_label: Vec<LabelMetrics>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = np_mean(v);
    let sq: Vec<f64> = v.iter().map(|x| (x - m) * (x - m)).collect();
    (m, np_mean(&sq).sqrt())
}

fn drawdown(p: &[f64]) -> (f64, usize) {
    let (mut mdd, mut peak, mut cur_start, mut best) = (0.0, p[0], 0, (0, 0));
    for (i, &v) in p.iter().enumerate() {
        if v > peak {
            peak = v;
            cur_start = i;
        }
        let dd = (peak - v) / peak;
        if dd > mdd {
            mdd = dd;
            best = (cur_start, i);
        }
    }
    (mdd, best.1 - best.0)
}

fn drawup(p: &[f64]) -> (f64, usize) {
    let (mut mpp, mut nadir, mut cur_start, mut best) = (0.0, p[0], 0, (0, 0));
    for (i, &v) in p.iter().enumerate() {
        if v < nadir {
            nadir = v;
            cur_start = i;
        }
        let pp = (v - nadir) / nadir;
        if pp > mpp {
            mpp = pp;
            best = (cur_start, i);
        }
    }
    (mpp, best.1 - best.0)
}

/// Per-run and per-label metrics of a labeled series (`values` = the raw key indicator).
///
/// `trademaster_intervals`: TradeMaster's `get_intervals` drops the last row of the **last**
/// run of each label (its final interval ends at the last index, used as an exclusive end);
/// `true` reproduces that (a run left empty is skipped, where TradeMaster would raise),
/// `false` uses whole runs.
///
/// # Errors
/// [`LabelingError::LengthMismatch`] when the lengths differ, and
/// [`LabelingError::InvalidParameter`] for a label `>= number_of_market_style`.
pub fn analyze(
    values: &[f64],
    labels: &[usize],
    number_of_market_style: usize,
    trademaster_intervals: bool,
) -> Result<DynamicsAnalysis, LabelingError> {
    if values.len() != labels.len() {
        return Err(LabelingError::LengthMismatch {
            what: "values and labels",
            left: values.len(),
            right: labels.len(),
        });
    }
    if let Some(&l) = labels.iter().find(|&&l| l >= number_of_market_style) {
        return Err(LabelingError::InvalidParameter {
            name: "labels",
            reason: format!("label {l} is not below number_of_market_style {number_of_market_style}"),
        });
    }
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut s = 0;
    for i in 1..=labels.len() {
        if i == labels.len() || labels[i] != labels[s] {
            spans.push((labels[s], s, i));
            s = i;
        }
    }
    if trademaster_intervals {
        for k in 0..number_of_market_style {
            if let Some(last) = spans.iter_mut().rev().find(|x| x.0 == k) {
                last.2 -= 1;
            }
        }
        spans.retain(|x| x.2 > x.1);
    }
    let runs: Vec<RunMetrics> = spans
        .iter()
        .map(|&(label, start, end)| {
            let p = &values[start..end];
            let (mdd, mdd_len) = drawdown(p);
            let (mpp, mpp_len) = drawup(p);
            RunMetrics {
                label,
                start,
                end,
                length: end - start,
                slope: ols_slope(p, 0) / p[0],
                max_drawup: mpp,
                max_drawup_length: mpp_len,
                max_drawdown: mdd,
                max_drawdown_length: mdd_len,
                drawup_k: mpp / (mpp_len as f64 + 1e-10),
                drawdown_k: mdd / (mdd_len as f64 + 1e-10),
            }
        })
        .collect();
    let rets = super::segment::pct_change(values);
    let per_label = (0..number_of_market_style)
        .map(|k| {
            let r: Vec<&RunMetrics> = runs.iter().filter(|x| x.label == k).collect();
            let col = |f: &dyn Fn(&RunMetrics) -> f64| mean_std(&r.iter().map(|x| f(x)).collect::<Vec<_>>());
            let (slope_mean, slope_std) = col(&|x| x.slope);
            let (length_mean, length_std) = col(&|x| x.length as f64);
            let (drawup_k_mean, drawup_k_std) = col(&|x| x.drawup_k);
            let (drawdown_k_mean, drawdown_k_std) = col(&|x| x.drawdown_k);
            let (drawup_length_mean, drawup_length_std) = col(&|x| x.max_drawup_length as f64);
            let (drawdown_length_mean, drawdown_length_std) = col(&|x| x.max_drawdown_length as f64);
            let bars: Vec<f64> = labels.iter().zip(&rets).filter(|(l, _)| **l == k).map(|(_, r)| *r).collect();
            let (return_mean, return_std) = mean_std(&bars);
            LabelMetrics {
                label: k,
                runs: r.len(),
                slope_mean,
                slope_std,
                length_mean,
                length_std,
                drawup_k_mean,
                drawup_k_std,
                drawdown_k_mean,
                drawdown_k_std,
                drawup_length_mean,
                drawup_length_std,
                drawdown_length_mean,
                drawdown_length_std,
                return_mean,
                return_std,
            }
        })
        .collect();
    Ok(DynamicsAnalysis { runs, per_label })
}

/// Carries an index's labels onto a constituent's rows by date (TradeMaster's PM path merges
/// the constituent file with the index labels on the timestamp). Dates are opaque sortable
/// keys; `index_keys` must be strictly increasing. A constituent row whose date the index does
/// not have gets `None` (TradeMaster's inner merge drops such rows).
///
/// # Errors
/// [`LabelingError::LengthMismatch`] and [`LabelingError::UnsortedKeys`].
pub fn carry_labels<K: Ord, L: Clone>(
    index_keys: &[K],
    index_labels: &[L],
    constituent_keys: &[K],
) -> Result<Vec<Option<L>>, LabelingError> {
    if index_keys.len() != index_labels.len() {
        return Err(LabelingError::LengthMismatch {
            what: "index dates and index labels",
            left: index_keys.len(),
            right: index_labels.len(),
        });
    }
    if let Some(i) = (1..index_keys.len()).find(|&i| index_keys[i - 1] >= index_keys[i]) {
        return Err(LabelingError::UnsortedKeys { index: i });
    }
    Ok(constituent_keys.iter().map(|k| index_keys.binary_search(k).ok().map(|i| index_labels[i].clone())).collect())
}
