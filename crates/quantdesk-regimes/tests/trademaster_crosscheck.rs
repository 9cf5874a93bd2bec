//! Cross-checks against TradeMaster's own code on synthetic series.
//!
//! The expected labels were produced once by running TradeMaster's `labeling_util.py`
//! (TradeMaster-NTU/TradeMaster @ c1c4838, unchanged; plotting/tslearn/statsmodels imports
//! stubbed) with scipy 1.17.1, numpy 2.4.6, scikit-learn and fastdtw 0.3.4 on the series
//! `uniform_walk(n, seed)` (written to CSV with Rust's shortest round-trip float formatting),
//! via `Worker(..., key_indicator='close', ...)`, `fit(K, L_max, L_min)` and
//! `label(slope_interval)`. They are committed run-length encoded as `(label, rows)`.

mod labeling_common;
use labeling_common as common;

use quantdesk_regimes::labeling::{LabelingMethod, LabelingParams, label_series};

fn expand(runs: &[(usize, usize)]) -> Vec<usize> {
    runs.iter().flat_map(|&(l, n)| std::iter::repeat_n(l, n)).collect()
}

fn agreement(expected: &[usize], got: &[usize]) -> usize {
    expected.iter().zip(got).filter(|(a, b)| a == b).count()
}

#[test]
fn quantile_four_dynamics_constraint_zero() {
    let values = common::uniform_walk(500, 1);
    let p = LabelingParams {
        number_of_market_style: 4,
        min_length_limit: 10,
        max_length_expectation: 90,
        merging_threshold: 0.04,
        merging_dynamic_constraint: 0,
        labeling_method: LabelingMethod::Quantile,
        key_indicator: "close".into(),
        ..LabelingParams::default()
    };
    let expected = expand(&[
        (2, 117),
        (0, 65),
        (2, 13),
        (1, 17),
        (2, 12),
        (1, 15),
        (3, 15),
        (0, 41),
        (2, 13),
        (1, 14),
        (3, 14),
        (0, 10),
        (3, 39),
        (1, 16),
        (3, 12),
        (1, 13),
        (3, 22),
        (0, 11),
        (1, 11),
        (0, 30),
    ]);
    let got = label_series(&values, &p).unwrap().label;
    assert_eq!(expected.len(), 500);
    println!("agreement {}/{}", agreement(&expected, &got), expected.len());
    assert_eq!(got, expected);
}

#[test]
fn slope_four_dynamics_fixed_interval_strength_one_and_a_half() {
    let values = common::uniform_walk(700, 2);
    let p = LabelingParams {
        number_of_market_style: 4,
        min_length_limit: 15,
        max_length_expectation: 120,
        merging_threshold: 0.03,
        merging_dynamic_constraint: -1,
        filter_strength: 1.5,
        labeling_method: LabelingMethod::Slope,
        slope_interval: [-0.3, 0.3],
        key_indicator: "close".into(),
        ..LabelingParams::default()
    };
    let expected = expand(&[(1, 120), (0, 83), (1, 49), (0, 115), (2, 123), (0, 83), (2, 68), (0, 59)]);
    let got = label_series(&values, &p).unwrap().label;
    assert_eq!(expected.len(), 700);
    println!("agreement {}/{}", agreement(&expected, &got), expected.len());
    assert_eq!(got, expected);
}
