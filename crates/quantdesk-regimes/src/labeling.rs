//! TradeMaster's market-dynamics labeling (the slice-and-merge model of
//! `trademaster/utils/labeling_util.py`), ported parameter for parameter.
//!
//! Pipeline ([`label_series`]):
//! 1. `pct_return` = `pct_change` of the key indicator (0 on the first row);
//! 2. `key_indicator_filtered` = zero-phase Butterworth low-pass of order 4 with
//!    `Wn = min(2 / (filter_period · filter_strength), 2)`, `filter_period = min_length_limit`
//!    (7 when `min_length_limit == -1`), applied like `scipy.signal.filtfilt` ([`filter`]);
//! 3. `pct_return_filtered` = `pct_change` of the filtered series;
//! 4. turning points where `pct_return_filtered[i]·pct_return_filtered[i+1] < 0`;
//! 5. the minimum-length merge ([`segment::min_length_merge`]);
//! 6. up to 20 rounds of DTW merging of segments shorter than `max_length_expectation`
//!    (unless `merging_threshold == -1`), with the label-distance constraint
//!    `merging_dynamic_constraint` (disabled when negative);
//! 7. per-segment OLS slope, normalised to percent per step of the segment's first filtered
//!    value, and labels by slope quantiles, fixed slope thresholds or DTW k-means.
//!
//! [`label_causal`] is the causal variant, [`stability_report`] moves each parameter one step,
//! [`carry_labels`] maps an index's labels onto a constituent by date, and [`analyze`] computes
//! TradeMaster's per-run and per-label metrics.

use serde::{Deserialize, Serialize};

pub mod analysis;
pub mod causal;
pub mod dtw;
pub mod filter;
pub mod kmeans;
pub mod segment;
pub mod stability;

pub use analysis::{DynamicsAnalysis, LabelMetrics, RunMetrics, analyze, carry_labels};
pub use causal::{CausalLabels, Disagreement, expost_causal_disagreement, label_causal};
pub use stability::{StabilityEntry, StabilitySteps, stability_report};

/// The Butterworth order TradeMaster uses.
pub const FILTER_ORDER: usize = 4;
/// TradeMaster's cap on DTW merge rounds.
pub const MAX_MERGE_ROUNDS: usize = 20;

/// How segments are turned into labels (`labeling_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelingMethod {
    /// `"slope"`: fixed thresholds on the normalised slope from `slope_interval` (automatic
    /// interval from the slope quantiles when `low >= high`).
    #[serde(rename = "slope")]
    Slope,
    /// `"quantile"`: thresholds at the `i/K` quantiles of the normalised slopes.
    #[serde(rename = "quantile")]
    Quantile,
    /// `"DTW"`: DTW k-means on the segments' filtered returns ([`kmeans`]).
    #[serde(rename = "DTW")]
    Dtw,
}

/// The merge distance (`merging_metric`); TradeMaster has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergingMetric {
    /// `"DTW_distance"`: the sliding-window FastDTW distance ([`dtw::segment_distance`]).
    #[serde(rename = "DTW_distance")]
    DtwDistance,
}

/// The labeling parameters, with TradeMaster's names and sentinels. Defaults are TradeMaster's
/// web-service defaults for daily data (`deploy/backend_service.py`,
/// `algorithmic_trading:BTC`) plus `slope_interval = [1, -1]` from its configs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelingParams {
    /// Number of dynamics `K` (`dynamic_number` in the configs); default 5. At least 2.
    pub number_of_market_style: usize,
    /// Minimum segment length; also the filter period. `-1` = no minimum and period 7.
    /// Default 24.
    pub min_length_limit: i64,
    /// Filter strength: `Wn = min(2 / (period · filter_strength), 2)`; default 1.
    pub filter_strength: f64,
    /// Segments at least this long are not merged actively; default 144.
    pub max_length_expectation: usize,
    /// Name of the key-indicator column the values come from (informational: the caller passes
    /// the values); default `"adjcp"`.
    pub key_indicator: String,
    /// Labeling method; default quantile.
    pub labeling_method: LabelingMethod,
    /// Merge metric; default `DTW_distance`.
    pub merging_metric: MergingMetric,
    /// Merge when the distance is below this; `-1` disables merging. Default 0.03.
    pub merging_threshold: f64,
    /// Do not merge neighbours whose labels differ by more than this; negative disables.
    /// Default 1.
    pub merging_dynamic_constraint: i64,
    /// `[low, high]` for the slope method (percent per step); `low >= high` means automatic.
    /// Default `[1, -1]`.
    pub slope_interval: [f64; 2],
}

impl Default for LabelingParams {
    fn default() -> Self {
        LabelingParams {
            number_of_market_style: 5,
            min_length_limit: 24,
            filter_strength: 1.0,
            max_length_expectation: 144,
            key_indicator: "adjcp".into(),
            labeling_method: LabelingMethod::Quantile,
            merging_metric: MergingMetric::DtwDistance,
            merging_threshold: 0.03,
            merging_dynamic_constraint: 1,
            slope_interval: [1.0, -1.0],
        }
    }
}

impl LabelingParams {
    /// TradeMaster's `filter_parameters_calculation`: the normalised cut-off `Wn`.
    pub fn wn(&self) -> f64 {
        let period = if self.min_length_limit == -1 { 7.0 } else { self.min_length_limit as f64 };
        (2.0 / (period * self.filter_strength)).min(2.0)
    }
}

/// Errors of the labeling functions. Every invalid input gives one of these; nothing panics.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LabelingError {
    /// Too few bars.
    #[error("the series has {len} bars but at least {needed} are needed: {why}")]
    TooShort {
        /// Bars given.
        len: usize,
        /// Bars needed.
        needed: usize,
        /// Why.
        why: &'static str,
    },
    /// `min_length_limit` exceeds the series.
    #[error("min_length_limit {min_length_limit} is longer than the series ({len} bars)")]
    MinLengthTooLong {
        /// The parameter.
        min_length_limit: i64,
        /// Bars given.
        len: usize,
    },
    /// All key-indicator values are equal.
    #[error("the key indicator is constant ({value}); there are no dynamics to label")]
    ConstantSeries {
        /// The value.
        value: f64,
    },
    /// A NaN or infinite key-indicator value.
    #[error("the key indicator is not finite at bar {index} ({value})")]
    NonFinite {
        /// Bar.
        index: usize,
        /// Value.
        value: f64,
    },
    /// A zero or negative key-indicator value (returns are undefined).
    #[error("the key indicator must be positive; bar {index} is {value}")]
    NonPositive {
        /// Bar.
        index: usize,
        /// Value.
        value: f64,
    },
    /// Fewer than two dynamics.
    #[error("number_of_market_style must be at least 2, got {0}")]
    TooFewDynamics(usize),
    /// The filter cut-off is outside `(0, 1)` (scipy refuses such a `Wn`).
    #[error(
        "the filter cut-off Wn = {wn} is outside (0, 1); Wn = min(2 / (min_length_limit · filter_strength), 2) needs min_length_limit · filter_strength > 2"
    )]
    FilterCutoff {
        /// The cut-off.
        wn: f64,
    },
    /// Another invalid parameter.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// Two inputs that must have equal lengths do not.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// First length.
        left: usize,
        /// Second length.
        right: usize,
    },
    /// Keys that must be strictly increasing are not.
    #[error("the index dates must be strictly increasing; position {index} is not")]
    UnsortedKeys {
        /// Position of the first offending key.
        index: usize,
    },
}

/// Whether a labeled series used the zero-phase (ex-post, looks ahead) or the causal filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterKind {
    /// `filtfilt`: each filtered value depends on the whole series (ex-post).
    ZeroPhase,
    /// `lfilter` only: each filtered value depends on the bars up to it.
    Causal,
}

/// One final segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// First bar.
    pub start: usize,
    /// One past the last bar.
    pub end: usize,
    /// OLS slope of the filtered key indicator (price units per bar).
    pub slope: f64,
    /// `100 · slope / key_indicator_filtered[start]` (percent per bar).
    pub normalized_slope: f64,
    /// The segment's label, `0..number_of_market_style`.
    pub label: usize,
}

/// Output of [`label_series`]: TradeMaster's per-row columns and the segment list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabeledSeries {
    /// Which filter produced the series.
    pub filter: FilterKind,
    /// `pct_change` of the key indicator (0 on the first row).
    pub pct_return: Vec<f64>,
    /// The filtered key indicator.
    pub key_indicator_filtered: Vec<f64>,
    /// `pct_change` of the filtered key indicator.
    pub pct_return_filtered: Vec<f64>,
    /// Label per row.
    pub label: Vec<usize>,
    /// Final segments.
    pub segments: Vec<Segment>,
    /// DTW merge rounds run.
    pub merge_rounds: usize,
}

/// Checks the parameters and the series; shared by the ex-post and causal paths.
pub(crate) fn validate(values: &[f64], params: &LabelingParams) -> Result<(), LabelingError> {
    if params.number_of_market_style < 2 {
        return Err(LabelingError::TooFewDynamics(params.number_of_market_style));
    }
    if !(params.filter_strength.is_finite() && params.filter_strength > 0.0) {
        return Err(LabelingError::InvalidParameter {
            name: "filter_strength",
            reason: format!("must be positive and finite, got {}", params.filter_strength),
        });
    }
    if params.min_length_limit < -1 {
        return Err(LabelingError::InvalidParameter {
            name: "min_length_limit",
            reason: format!("must be -1 (none) or non-negative, got {}", params.min_length_limit),
        });
    }
    if params.merging_threshold.is_nan() {
        return Err(LabelingError::InvalidParameter { name: "merging_threshold", reason: "is NaN".into() });
    }
    let wn = params.wn();
    if !(wn > 0.0 && wn < 1.0) {
        return Err(LabelingError::FilterCutoff { wn });
    }
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(LabelingError::NonFinite { index: i, value: v });
        }
        if v <= 0.0 {
            return Err(LabelingError::NonPositive { index: i, value: v });
        }
    }
    if params.min_length_limit > values.len() as i64 {
        return Err(LabelingError::MinLengthTooLong { min_length_limit: params.min_length_limit, len: values.len() });
    }
    if let Some(&first) = values.first()
        && values.len() > 1
        && values.iter().all(|&v| v == first)
    {
        return Err(LabelingError::ConstantSeries { value: first });
    }
    Ok(())
}

/// Labels a key-indicator series with TradeMaster's slice-and-merge model (ex-post: the
/// zero-phase filter looks at the whole series).
///
/// # Errors
/// See [`LabelingError`]: fewer than 16 bars (scipy's `filtfilt` padding), NaN/inf or
/// non-positive values, a constant series, `min_length_limit` longer than the series,
/// `number_of_market_style < 2`, a cut-off `Wn` outside `(0, 1)`.
pub fn label_series(values: &[f64], params: &LabelingParams) -> Result<LabeledSeries, LabelingError> {
    validate(values, params)?;
    let (b, a) = filter::butter_lowpass(FILTER_ORDER, params.wn())?;
    let kif = filter::filtfilt(&b, &a, values)?;
    let prf = segment::pct_change(&kif);
    let seg = segment::segment_and_label(&kif, &prf, params)?;
    let mut label = vec![0; values.len()];
    for s in &seg.segments {
        label[s.start..s.end].fill(s.label);
    }
    Ok(LabeledSeries {
        filter: FilterKind::ZeroPhase,
        pct_return: segment::pct_change(values),
        key_indicator_filtered: kif,
        pct_return_filtered: prf,
        label,
        segments: seg.segments,
        merge_rounds: seg.merge_rounds,
    })
}
