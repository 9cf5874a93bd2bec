//! Time splits into train, valid and test rows that never leak: the three ranges are contiguous, in time order and
//! disjoint, so every training row precedes every validation row, which precedes every test row. Features of a range
//! are computed from the rows up to its end only ([`Splits::history`]): earlier rows may serve as warm-up history, later
//! rows never.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How to split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SplitSpec {
    /// The first `train` fraction of the rows, then `valid`, the rest is test (`train + valid < 1`). Row counts are
    /// rounded down.
    Fractions {
        /// Fraction of rows for training.
        train: f64,
        /// Fraction of rows for validation.
        valid: f64,
    },
    /// Rows with time `< valid_from` train, `valid_from <= time < test_from` validate, `>= test_from` test.
    Dates {
        /// First validation instant (Unix seconds, or any increasing key).
        valid_from: i64,
        /// First test instant.
        test_from: i64,
    },
}

/// Errors.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SplitError {
    /// The times are not strictly increasing.
    #[error("times must be strictly increasing (row {0} is not after row {prev})", prev = .0 - 1)]
    NotIncreasing(usize),
    /// A fraction or date pair out of order or range.
    #[error("invalid split: {0}")]
    Invalid(&'static str),
    /// A part has no rows.
    #[error("the {0} part is empty")]
    Empty(&'static str),
}

/// The three parts, as row ranges of the series that was split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits {
    /// Training rows.
    pub train: Range<usize>,
    /// Validation rows.
    pub valid: Range<usize>,
    /// Test rows.
    pub test: Range<usize>,
}

impl Splits {
    /// The rows whose data may be used to compute the features of `part`: everything before its end.
    pub fn history(part: &Range<usize>) -> Range<usize> {
        0..part.end
    }
}

/// Splits rows with the given times (strictly increasing). Every part must have at least one row.
pub fn split(times: &[i64], spec: SplitSpec) -> Result<Splits, SplitError> {
    if let Some(i) = times.windows(2).position(|w| w[1] <= w[0]) {
        return Err(SplitError::NotIncreasing(i + 1));
    }
    let n = times.len();
    let (a, b) = match spec {
        SplitSpec::Fractions { train, valid } => {
            if !(train.is_finite() && valid.is_finite() && train > 0.0 && valid >= 0.0 && train + valid < 1.0) {
                return Err(SplitError::Invalid("fractions need 0 < train, 0 <= valid and train + valid < 1"));
            }
            let a = (n as f64 * train).floor() as usize;
            let b = a + (n as f64 * valid).floor() as usize;
            (a, b.min(n))
        }
        SplitSpec::Dates { valid_from, test_from } => {
            if valid_from > test_from {
                return Err(SplitError::Invalid("valid_from must not be after test_from"));
            }
            (times.partition_point(|t| *t < valid_from), times.partition_point(|t| *t < test_from))
        }
    };
    let s = Splits { train: 0..a, valid: a..b, test: b..n };
    if s.train.is_empty() {
        return Err(SplitError::Empty("train"));
    }
    if s.test.is_empty() {
        return Err(SplitError::Empty("test"));
    }
    let wants_valid = match spec {
        SplitSpec::Fractions { valid, .. } => valid > 0.0,
        SplitSpec::Dates { valid_from, test_from } => valid_from < test_from,
    };
    if s.valid.is_empty() && wants_valid {
        return Err(SplitError::Empty("valid"));
    }
    Ok(s)
}
