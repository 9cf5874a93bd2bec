//! Stability report: how many bars change label when each parameter moves one step.

use super::{LabelingError, LabelingParams, label_series};
use serde::{Deserialize, Serialize};

/// The step of each parameter in [`stability_report`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StabilitySteps {
    /// Step of `min_length_limit` (default 1).
    pub min_length_limit: i64,
    /// Step of `number_of_market_style` (default 1).
    pub number_of_market_style: usize,
    /// Step of `filter_strength` (default 0.1).
    pub filter_strength: f64,
    /// Step of `max_length_expectation` (default 1).
    pub max_length_expectation: usize,
    /// Step of `merging_threshold` (default 0.005).
    pub merging_threshold: f64,
    /// Step of `merging_dynamic_constraint` (default 1).
    pub merging_dynamic_constraint: i64,
}

impl Default for StabilitySteps {
    fn default() -> Self {
        StabilitySteps {
            min_length_limit: 1,
            number_of_market_style: 1,
            filter_strength: 0.1,
            max_length_expectation: 1,
            merging_threshold: 0.005,
            merging_dynamic_constraint: 1,
        }
    }
}

/// One parameter move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityEntry {
    /// Parameter name (TradeMaster's).
    pub parameter: String,
    /// The moved value, as text.
    pub value: String,
    /// Bars whose label differs from the base labeling (`None` when the moved parameters are
    /// invalid for this series).
    pub changed_bars: Option<usize>,
    /// The error of an invalid move.
    pub error: Option<String>,
}

/// A moved value as people write it: a step of 0.005 from 0.03 is "0.025", not the sum's
/// 0.024999999999999998 (the value used is the exact sum; only its text is rounded, to 12
/// significant digits).
fn shown(v: f64) -> String {
    let text = format!("{v:.12e}");
    text.parse::<f64>().map_or_else(|_| v.to_string(), |r| r.to_string())
}

/// Relabels the series with each parameter moved one step down and up and counts the bars
/// whose label changes. Labels are compared as numbers; with `number_of_market_style ± 1` the
/// label scale itself changes, so that row says how many bars get a different number.
///
/// # Errors
/// Those of [`label_series`] for the base parameters.
pub fn stability_report(
    values: &[f64],
    params: &LabelingParams,
    steps: &StabilitySteps,
) -> Result<Vec<StabilityEntry>, LabelingError> {
    let base = label_series(values, params)?;
    let mut variants: Vec<(&'static str, String, LabelingParams)> = Vec::new();
    for sign in [-1i64, 1] {
        let mut p = params.clone();
        p.min_length_limit += sign * steps.min_length_limit;
        variants.push(("min_length_limit", p.min_length_limit.to_string(), p));
    }
    for sign in [-1i64, 1] {
        let mut p = params.clone();
        let k = p.number_of_market_style as i64 + sign * steps.number_of_market_style as i64;
        p.number_of_market_style = k.max(0) as usize;
        variants.push(("number_of_market_style", k.to_string(), p));
    }
    for sign in [-1.0, 1.0] {
        let mut p = params.clone();
        p.filter_strength += sign * steps.filter_strength;
        variants.push(("filter_strength", shown(p.filter_strength), p));
    }
    for sign in [-1i64, 1] {
        let mut p = params.clone();
        let v = p.max_length_expectation as i64 + sign * steps.max_length_expectation as i64;
        p.max_length_expectation = v.max(0) as usize;
        variants.push(("max_length_expectation", v.to_string(), p));
    }
    for sign in [-1.0, 1.0] {
        let mut p = params.clone();
        p.merging_threshold += sign * steps.merging_threshold;
        variants.push(("merging_threshold", shown(p.merging_threshold), p));
    }
    for sign in [-1i64, 1] {
        let mut p = params.clone();
        p.merging_dynamic_constraint += sign * steps.merging_dynamic_constraint;
        variants.push(("merging_dynamic_constraint", p.merging_dynamic_constraint.to_string(), p));
    }
    Ok(variants
        .into_iter()
        .map(|(name, value, p)| match label_series(values, &p) {
            Ok(l) => StabilityEntry {
                parameter: name.into(),
                value,
                changed_bars: Some(l.label.iter().zip(&base.label).filter(|(a, b)| a != b).count()),
                error: None,
            },
            Err(e) => StabilityEntry { parameter: name.into(), value, changed_bars: None, error: Some(e.to_string()) },
        })
        .collect())
}
