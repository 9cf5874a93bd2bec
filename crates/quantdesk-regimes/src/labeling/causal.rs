//! The causal variant: labels as they would have been known at each bar.
//!
//! Formulation (bounded cost, documented approximation):
//! * the filter is one forward `lfilter` pass started in the steady state of the first value
//!   ([`filter::causal_filter`]), so `key_indicator_filtered[i]` depends on bars `0..=i` only;
//! * the label of bar `i` is the label of the last segment when the slice-and-merge model
//!   (turning points, minimum-length merge, DTW merges, labels) runs on the trailing window
//!   `key_indicator_filtered[max(0, i+1−window)..=i]` (its `pct_change` restarts at 0 on the
//!   window's first bar, as TradeMaster's does on the first row of a file).
//!
//! Guarantees: label `i` is a function of bars `0..=i` only, so labels never change when bars
//! are appended; each bar costs one run of the model on at most `window` bars (`O(n·window)`
//! plus the merge rounds); when `i < window` the label is exactly the label bar `i` gets when
//! the whole causal pipeline runs on the prefix `0..=i`. Beyond the window the segmentation
//! and the quantile thresholds only see the last `window` bars (a rolling model).
//! Bars before `max(min_length_limit, 2)` bars of history have no label (`None`).

use super::{FilterKind, LabelingError, LabelingParams, filter, segment, validate};
use serde::{Deserialize, Serialize};

/// Output of [`label_causal`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CausalLabels {
    /// Always [`FilterKind::Causal`].
    pub filter: FilterKind,
    /// The trailing window each label was computed on.
    pub window: usize,
    /// `pct_change` of the key indicator.
    pub pct_return: Vec<f64>,
    /// The causally filtered key indicator.
    pub key_indicator_filtered: Vec<f64>,
    /// `pct_change` of the causally filtered key indicator.
    pub pct_return_filtered: Vec<f64>,
    /// The label known at each bar (`None` while the history is too short).
    pub label: Vec<Option<usize>>,
}

/// Bars of history needed before a causal label is given.
pub fn min_history(params: &LabelingParams) -> usize {
    (params.min_length_limit.max(0) as usize).max(2)
}

/// Causal labels (see the module docs for the formulation and its guarantees).
///
/// # Errors
/// The parameter errors of [`super::label_series`], bad values (NaN, non-positive, constant
/// series, `min_length_limit` longer than the series), and a `window` shorter than
/// `max(min_length_limit, 2)`.
pub fn label_causal(values: &[f64], params: &LabelingParams, window: usize) -> Result<CausalLabels, LabelingError> {
    validate(values, params)?;
    let need = min_history(params);
    if window < need {
        return Err(LabelingError::InvalidParameter {
            name: "window",
            reason: format!("must be at least max(min_length_limit, 2) = {need}, got {window}"),
        });
    }
    let (b, a) = filter::butter_lowpass(super::FILTER_ORDER, params.wn())?;
    let kif = filter::causal_filter(&b, &a, values);
    let mut label = Vec::with_capacity(values.len());
    for i in 0..values.len() {
        let len = i + 1;
        if len < need {
            label.push(None);
            continue;
        }
        let w0 = len.saturating_sub(window);
        let sub = &kif[w0..len];
        if sub.iter().any(|v| !(v.is_finite() && *v != 0.0)) {
            label.push(None);
            continue;
        }
        let prf = segment::pct_change(sub);
        let seg = segment::segment_and_label(sub, &prf, params)?;
        label.push(seg.segments.last().map(|s| s.label));
    }
    Ok(CausalLabels {
        filter: FilterKind::Causal,
        window,
        pct_return: segment::pct_change(values),
        pct_return_filtered: segment::pct_change(&kif),
        key_indicator_filtered: kif,
        label,
    })
}

/// How the ex-post and the causal labels of one series compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disagreement {
    /// Bars with a causal label (compared).
    pub compared: usize,
    /// Compared bars whose labels differ.
    pub differing: usize,
    /// Bars without a causal label yet.
    pub unlabeled: usize,
}

/// Counts the bars whose ex-post label ([`super::label_series`]) differs from the causal label
/// ([`label_causal`] with `window`).
///
/// # Errors
/// Those of both labelers.
pub fn expost_causal_disagreement(
    values: &[f64],
    params: &LabelingParams,
    window: usize,
) -> Result<Disagreement, LabelingError> {
    let ex = super::label_series(values, params)?;
    let ca = label_causal(values, params, window)?;
    let mut d = Disagreement { compared: 0, differing: 0, unlabeled: 0 };
    for (e, c) in ex.label.iter().zip(&ca.label) {
        match c {
            Some(c) => {
                d.compared += 1;
                if c != e {
                    d.differing += 1;
                }
            }
            None => d.unlabeled += 1,
        }
    }
    Ok(d)
}
