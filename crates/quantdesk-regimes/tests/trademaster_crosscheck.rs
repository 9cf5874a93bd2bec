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

use quantdesk_regimes::labeling::{LabelingMethod, LabelingParams, analyze, label_series};

fn expand(runs: &[(usize, usize)]) -> Vec<usize> {
    runs.iter().flat_map(|&(l, n)| std::iter::repeat_n(l, n)).collect()
}

fn agreement(expected: &[usize], got: &[usize]) -> usize {
    expected.iter().zip(got).filter(|(a, b)| a == b).count()
}

fn u1_params() -> LabelingParams {
    LabelingParams {
        number_of_market_style: 4,
        min_length_limit: 10,
        max_length_expectation: 90,
        merging_threshold: 0.04,
        merging_dynamic_constraint: 0,
        labeling_method: LabelingMethod::Quantile,
        key_indicator: "close".into(),
        ..LabelingParams::default()
    }
}

#[test]
fn quantile_four_dynamics_constraint_zero() {
    let values = common::uniform_walk(500, 1);
    let p = u1_params();
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

/// TradeMaster's `MarketDynamicsModelingAnalysis.run_analysis` on the labeled `uniform_walk(500, 1)`
/// (the labels of `quantile_four_dynamics_constraint_zero`, key indicator `close`): its
/// `metrics_of_each_dynamics.csv`, one value per label 0..3, printed with `repr`.
#[test]
fn analysis_matches_metrics_of_each_dynamics() {
    let values = common::uniform_walk(500, 1);
    let labels = label_series(&values, &u1_params()).unwrap().label;
    let a = analyze(&values, &labels, 4, true).unwrap();
    let expected: [(&str, [f64; 4]); 12] = [
        (
            "average_k_list_mean",
            [-0.0063309354569492495, -0.0030378686789132767, 0.002007777307175228, 0.004675322883436629],
        ),
        (
            "average_k_list_std",
            [0.0023428376776993684, 0.0014065080963712765, 0.0017718057946173559, 0.0024081185652395755],
        ),
        ("average_length_list_mean", [31.2, 14.166666666666666, 38.5, 20.2]),
        ("average_length_list_std", [20.49780476051033, 2.266911751455907, 45.32383478921438, 9.867117106835208]),
        ("mpp_k_list_mean", [0.01205944198118739, 0.016056164142336654, 0.009507190334243507, 0.008973622449647653]),
        ("mpp_k_list_std", [0.007046659062263441, 0.005185055276002285, 0.005537829181427266, 0.0026632069733186535]),
        ("mdd_k_list_mean", [0.00873409374481988, 0.009068197749181809, 0.00827910244233679, 0.014167731584410346]),
        ("mdd_k_list_std", [0.0034690238321948147, 0.002990960246830933, 0.0025236662653667506, 0.003627141267916615]),
        ("mpp_length_list_mean", [4.8, 3.0, 31.25, 15.6]),
        ("mpp_length_list_std", [3.1240998703626617, 1.8257418583505538, 44.985414302860434, 10.836973747315252]),
        ("mdd_length_list_mean", [25.2, 8.166666666666666, 5.0, 3.2]),
        ("mdd_length_list_std", [19.0934543757802, 3.435921354681384, 2.7386127875258306, 1.8330302779823362]),
    ];
    for (name, want) in expected {
        for (k, w) in want.iter().enumerate() {
            let m = &a.per_label[k];
            let got = match name {
                "average_k_list_mean" => m.slope_mean,
                "average_k_list_std" => m.slope_std,
                "average_length_list_mean" => m.length_mean,
                "average_length_list_std" => m.length_std,
                "mpp_k_list_mean" => m.drawup_k_mean,
                "mpp_k_list_std" => m.drawup_k_std,
                "mdd_k_list_mean" => m.drawdown_k_mean,
                "mdd_k_list_std" => m.drawdown_k_std,
                "mpp_length_list_mean" => m.drawup_length_mean,
                "mpp_length_list_std" => m.drawup_length_std,
                "mdd_length_list_mean" => m.drawdown_length_mean,
                _ => m.drawdown_length_std,
            };
            assert!((got - w).abs() <= 1e-12 * w.abs().max(1e-3), "{name}[{k}]: {got} vs {w}");
        }
    }
}
