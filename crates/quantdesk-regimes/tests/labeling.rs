//! Behaviour tests of the labeling: errors, parameter edge cases, label methods, determinism,
//! the exactness of the merge shortcuts, the causal variant, the stability report, the index →
//! constituent mapping and the analysis.

mod labeling_common;
use labeling_common as common;

use proptest::prelude::*;
use quantdesk_regimes::labeling::kmeans::dtw_kmeans;
use quantdesk_regimes::labeling::segment::{
    pct_change, segment_and_label, segment_and_label_reference, slope_thresholds, turning_points,
};
use quantdesk_regimes::labeling::{
    FilterKind, LabelingError, LabelingMethod, LabelingParams, StabilitySteps, analyze, carry_labels,
    expost_causal_disagreement, label_causal, label_series, stability_report,
};

fn small_params() -> LabelingParams {
    LabelingParams {
        number_of_market_style: 3,
        min_length_limit: 12,
        max_length_expectation: 60,
        ..LabelingParams::default()
    }
}

#[test]
fn errors_on_bad_input() {
    let p = LabelingParams::default();
    let walk = common::random_walk(300, 1);
    assert_eq!(
        label_series(&walk[..50], &LabelingParams { min_length_limit: 60, ..p.clone() }),
        Err(LabelingError::MinLengthTooLong { min_length_limit: 60, len: 50 })
    );
    assert_eq!(label_series(&[5.0; 40], &p), Err(LabelingError::ConstantSeries { value: 5.0 }));
    // Three bars: with the default min length the limit is longer than the series; without a
    // minimum the filter's padding needs 16 bars.
    assert!(matches!(label_series(&[1.0, 2.0, 3.0], &p), Err(LabelingError::MinLengthTooLong { .. })));
    assert!(matches!(
        label_series(&[1.0, 2.0, 3.0], &LabelingParams { min_length_limit: -1, ..p.clone() }),
        Err(LabelingError::TooShort { len: 3, needed: 16, .. })
    ));
    let mut nan = walk.clone();
    nan[17] = f64::NAN;
    assert!(matches!(label_series(&nan, &p), Err(LabelingError::NonFinite { index: 17, .. })));
    let mut neg = walk.clone();
    neg[3] = -1.0;
    assert!(matches!(label_series(&neg, &p), Err(LabelingError::NonPositive { index: 3, .. })));
    assert_eq!(
        label_series(&walk, &LabelingParams { number_of_market_style: 1, ..p.clone() }),
        Err(LabelingError::TooFewDynamics(1))
    );
    assert!(matches!(
        label_series(&walk, &LabelingParams { filter_strength: 0.0, ..p.clone() }),
        Err(LabelingError::InvalidParameter { name: "filter_strength", .. })
    ));
    // min length 2, strength 1: Wn = 1, which scipy refuses.
    assert_eq!(
        label_series(&walk, &LabelingParams { min_length_limit: 2, ..p.clone() }),
        Err(LabelingError::FilterCutoff { wn: 1.0 })
    );
    assert!(matches!(
        label_series(&walk, &LabelingParams { min_length_limit: -5, ..p.clone() }),
        Err(LabelingError::InvalidParameter { name: "min_length_limit", .. })
    ));
    // Messages are readable.
    let e = label_series(&[5.0; 40], &p).unwrap_err().to_string();
    assert!(e.contains("constant"), "{e}");
}

#[test]
fn labels_are_invariant_under_rerun_and_serde() {
    let walk = common::random_walk(800, 7);
    let p = small_params();
    let a = label_series(&walk, &p).unwrap();
    let b = label_series(&walk, &p).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.filter, FilterKind::ZeroPhase);
    assert_eq!(a.label.len(), walk.len());
    assert!(a.label.iter().all(|&l| l < 3));
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"key_indicator_filtered\"") && json.contains("\"pct_return_filtered\""));
    let back: quantdesk_regimes::labeling::LabeledSeries = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    // Segments tile the series and carry the row labels.
    assert_eq!(a.segments[0].start, 0);
    assert_eq!(a.segments.last().unwrap().end, walk.len());
    for w in a.segments.windows(2) {
        assert_eq!(w[0].end, w[1].start);
    }
    for s in &a.segments {
        assert!(a.label[s.start..s.end].iter().all(|&l| l == s.label));
    }
}

#[test]
fn params_use_trademaster_names_and_defaults() {
    let v = serde_json::to_value(LabelingParams::default()).unwrap();
    assert_eq!(v["number_of_market_style"], 5);
    assert_eq!(v["min_length_limit"], 24);
    assert_eq!(v["filter_strength"], 1.0);
    assert_eq!(v["max_length_expectation"], 144);
    assert_eq!(v["key_indicator"], "adjcp");
    assert_eq!(v["labeling_method"], "quantile");
    assert_eq!(v["merging_metric"], "DTW_distance");
    assert_eq!(v["merging_threshold"], 0.03);
    assert_eq!(v["merging_dynamic_constraint"], 1);
    let p: LabelingParams = serde_json::from_str(
        r#"{"number_of_market_style": 4, "labeling_method": "DTW", "merging_threshold": -1, "key_indicator": "close"}"#,
    )
    .unwrap();
    assert_eq!(p.number_of_market_style, 4);
    assert_eq!(p.labeling_method, LabelingMethod::Dtw);
    assert_eq!(p.merging_threshold, -1.0);
    assert_eq!(p.min_length_limit, 24);
    assert!((LabelingParams { min_length_limit: -1, ..p }.wn() - 2.0 / 7.0).abs() < 1e-15);
}

#[test]
fn merging_disabled_keeps_the_min_length_segments() {
    let walk = common::random_walk(1000, 3);
    let p = LabelingParams { merging_threshold: -1.0, ..small_params() };
    let out = label_series(&walk, &p).unwrap();
    assert_eq!(out.merge_rounds, 0);
    assert!(out.segments.iter().all(|s| s.end - s.start >= 12), "a segment shorter than min_length_limit");
    // Each boundary is a turning point of the filtered return.
    let tp = turning_points(&out.pct_return_filtered);
    assert!(out.segments.iter().all(|s| tp.contains(&s.start)));
    // max_length_expectation 0: no segment is short enough to be merged, one idle round.
    let q = LabelingParams { max_length_expectation: 0, ..small_params() };
    let out0 = label_series(&walk, &q).unwrap();
    assert_eq!(out0.merge_rounds, 1);
    assert_eq!(out0.segments, out.segments);
    // A large threshold merges: fewer segments than without merging.
    let m = label_series(&walk, &LabelingParams { merging_threshold: 0.5, ..small_params() }).unwrap();
    assert!(m.segments.len() < out.segments.len(), "{} vs {}", m.segments.len(), out.segments.len());
    assert!(m.merge_rounds >= 1);
}

#[test]
fn no_min_length_means_every_turning_point() {
    let walk = common::random_walk(400, 11);
    let p = LabelingParams { min_length_limit: -1, merging_threshold: -1.0, ..small_params() };
    let out = label_series(&walk, &p).unwrap();
    let tp = turning_points(&out.pct_return_filtered);
    let starts: Vec<usize> = out.segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, tp[..tp.len() - 1].to_vec());
}

fn labels_monotone_in_slope(out: &quantdesk_regimes::labeling::LabeledSeries) {
    for a in &out.segments {
        for b in &out.segments {
            if a.normalized_slope < b.normalized_slope {
                assert!(
                    a.label <= b.label,
                    "slope {} label {} vs slope {} label {}",
                    a.normalized_slope,
                    a.label,
                    b.normalized_slope,
                    b.label
                );
            }
        }
    }
}

#[test]
fn quantile_labels_split_the_slopes() {
    let walk = common::random_walk(3000, 5);
    let p = LabelingParams { merging_threshold: -1.0, ..small_params() };
    let out = label_series(&walk, &p).unwrap();
    labels_monotone_in_slope(&out);
    let m = out.segments.len();
    for k in 0..3 {
        let c = out.segments.iter().filter(|s| s.label == k).count();
        assert!(c * 3 + 3 >= m && c * 3 <= m + 6, "label {k}: {c} of {m} segments");
    }
}

#[test]
fn slope_labels_use_trademasters_thresholds() {
    // low + (high - low)/(K - 2)·i over sorted([low, high, 0]).
    assert_eq!(slope_thresholds(&[], 4, [-0.5, 0.5]), vec![0.0, 0.5, 1.0]);
    assert_eq!(slope_thresholds(&[], 3, [-1.0, 1.0]), vec![1.0, 3.0]);
    assert_eq!(slope_thresholds(&[], 2, [-0.5, 0.3]), vec![-0.1]);
    // Automatic interval (low >= high): high = c[⌊2/3·10⌋] = 6, low = c[⌊10/3⌋] = 3, then with 0.
    let coefs: Vec<f64> = (0..10).map(f64::from).collect();
    assert_eq!(slope_thresholds(&coefs, 3, [1.0, -1.0]), vec![6.0, 12.0]);
    let walk = common::random_walk(2000, 9);
    let p = LabelingParams {
        labeling_method: LabelingMethod::Slope,
        slope_interval: [-0.3, 0.3],
        number_of_market_style: 4,
        ..small_params()
    };
    let out = label_series(&walk, &p).unwrap();
    labels_monotone_in_slope(&out);
    for s in &out.segments {
        let expected = if s.normalized_slope <= 0.0 {
            0
        } else if s.normalized_slope <= 0.3 {
            1
        } else if s.normalized_slope <= 0.6 {
            2
        } else {
            3
        };
        assert_eq!(s.label, expected, "slope {}", s.normalized_slope);
    }
}

#[test]
fn dtw_kmeans_is_deterministic_and_ordered() {
    let up: Vec<Vec<f64>> = (0..6).map(|k| (0..20).map(|i| 0.01 + 0.001 * ((i + k) % 3) as f64).collect()).collect();
    let down: Vec<Vec<f64>> = (0..6).map(|k| (0..25).map(|i| -0.01 - 0.001 * ((i + k) % 4) as f64).collect()).collect();
    let mut all: Vec<&[f64]> = Vec::new();
    for i in 0..6 {
        all.push(&up[i]);
        all.push(&down[i]);
    }
    let l1 = dtw_kmeans(&all, 2);
    assert_eq!(l1, dtw_kmeans(&all, 2));
    for (i, l) in l1.iter().enumerate() {
        assert_eq!(*l, if i % 2 == 0 { 1 } else { 0 }, "series {i}");
    }
    let walk = common::random_walk(600, 21);
    let p = LabelingParams { labeling_method: LabelingMethod::Dtw, ..small_params() };
    let a = label_series(&walk, &p).unwrap();
    assert_eq!(a, label_series(&walk, &p).unwrap());
    assert!(a.label.iter().all(|&l| l < 3));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// The lower-bound early stops and the pair reuse are exact: the segmentation equals the
    /// one computed with every TradeMaster distance.
    #[test]
    fn merge_shortcuts_change_nothing(seed in 0u64..10_000, n in 200usize..700, theta in 0.005f64..0.2, k in 2usize..5) {
        let walk = common::random_walk(n, seed);
        let p = LabelingParams { number_of_market_style: k, merging_threshold: theta, ..small_params() };
        let fast = label_series(&walk, &p).unwrap();
        let kif = &fast.key_indicator_filtered;
        let prf = pct_change(kif);
        let a = segment_and_label(kif, &prf, &p).unwrap();
        let b = segment_and_label_reference(kif, &prf, &p).unwrap();
        prop_assert_eq!(a.segments, b.segments);
        prop_assert_eq!(a.merge_rounds, b.merge_rounds);
    }

    /// Causal labels of bars 0..n do not change when bars are appended.
    #[test]
    fn causal_labels_are_stable_under_appending(seed in 0u64..10_000, n in 40usize..90, extra in 1usize..30) {
        let walk = common::random_walk(n + extra, seed);
        let p = LabelingParams { max_length_expectation: 30, ..small_params() };
        let short = label_causal(&walk[..n], &p, 48).unwrap();
        let long = label_causal(&walk, &p, 48).unwrap();
        prop_assert_eq!(&short.label[..], &long.label[..n]);
        prop_assert_eq!(&short.key_indicator_filtered[..], &long.key_indicator_filtered[..n]);
    }
}

#[test]
fn causal_labels_start_after_enough_history() {
    let walk = common::random_walk(150, 4);
    let p = small_params();
    let c = label_causal(&walk, &p, 60).unwrap();
    assert_eq!(c.filter, FilterKind::Causal);
    assert!(c.label[..11].iter().all(Option::is_none));
    assert!(c.label[11..].iter().all(Option::is_some));
    assert!(matches!(label_causal(&walk, &p, 5), Err(LabelingError::InvalidParameter { name: "window", .. })));
    let d = expost_causal_disagreement(&walk, &p, 60).unwrap();
    assert_eq!(d.compared + d.unlabeled, walk.len());
    assert_eq!(d.unlabeled, 11);
    assert!(d.differing <= d.compared);
}

#[test]
fn stability_report_counts_changed_bars() {
    let walk = common::random_walk(600, 8);
    let p = small_params();
    let zero = StabilitySteps {
        min_length_limit: 0,
        number_of_market_style: 0,
        filter_strength: 0.0,
        max_length_expectation: 0,
        merging_threshold: 0.0,
        merging_dynamic_constraint: 0,
    };
    let r0 = stability_report(&walk, &p, &zero).unwrap();
    assert_eq!(r0.len(), 12);
    assert!(r0.iter().all(|e| e.changed_bars == Some(0)), "{r0:?}");
    let r = stability_report(&walk, &p, &StabilitySteps::default()).unwrap();
    let names: Vec<&str> = r.iter().map(|e| e.parameter.as_str()).collect();
    for n in [
        "min_length_limit",
        "number_of_market_style",
        "filter_strength",
        "max_length_expectation",
        "merging_threshold",
        "merging_dynamic_constraint",
    ] {
        assert_eq!(names.iter().filter(|x| **x == n).count(), 2, "{n}");
    }
    assert!(r.iter().any(|e| e.changed_bars.unwrap_or(0) > 0), "{r:?}");
    // Two dynamics minus one is invalid and reported as such.
    let two = LabelingParams { number_of_market_style: 2, ..p };
    let r2 = stability_report(&walk, &two, &StabilitySteps::default()).unwrap();
    let bad = r2.iter().find(|e| e.parameter == "number_of_market_style" && e.value == "1").unwrap();
    assert!(bad.changed_bars.is_none() && bad.error.as_deref().unwrap_or("").contains("at least 2"));
}

#[test]
fn index_labels_carry_onto_constituents_by_date() {
    let index_days = [100, 101, 102, 105, 106];
    let index_labels = [0usize, 0, 2, 1, 1];
    let stock_days = [99, 101, 102, 103, 106, 105];
    assert_eq!(
        carry_labels(&index_days, &index_labels, &stock_days).unwrap(),
        vec![None, Some(0), Some(2), None, Some(1), Some(1)]
    );
    let s_keys = ["2021-01-04", "2021-01-05"];
    assert_eq!(carry_labels(&s_keys, &[1u8, 2], &["2021-01-05"]).unwrap(), vec![Some(2)]);
    assert_eq!(carry_labels(&[1, 3, 2], &[0, 0, 0], &[1]), Err(LabelingError::UnsortedKeys { index: 2 }));
    assert!(matches!(carry_labels(&[1, 2], &[0], &[1]), Err(LabelingError::LengthMismatch { .. })));
}

#[test]
fn analysis_matches_hand_computation() {
    let values = [10.0, 11.0, 12.0, 9.0, 8.0, 10.0];
    let labels = [0, 0, 0, 1, 1, 1];
    let a = analyze(&values, &labels, 3, false).unwrap();
    assert_eq!(a.runs.len(), 2);
    let r0 = &a.runs[0];
    assert_eq!((r0.start, r0.end, r0.length), (0, 3, 3));
    assert!((r0.slope - 0.1).abs() < 1e-12);
    assert!((r0.max_drawup - 0.2).abs() < 1e-12 && r0.max_drawup_length == 2);
    assert!(r0.max_drawdown == 0.0 && r0.max_drawdown_length == 0);
    let r1 = &a.runs[1];
    assert!((r1.slope - 0.5 / 9.0).abs() < 1e-12);
    assert!((r1.max_drawdown - 1.0 / 9.0).abs() < 1e-12 && r1.max_drawdown_length == 1);
    assert!((r1.max_drawup - 0.25).abs() < 1e-12 && r1.max_drawup_length == 1);
    assert!((r1.drawdown_k - (1.0 / 9.0) / (1.0 + 1e-10)).abs() < 1e-15);
    assert_eq!(a.per_label[0].runs, 1);
    assert_eq!(a.per_label[0].slope_std, 0.0);
    assert!(a.per_label[2].slope_mean.is_nan());
    // Per-bar returns of label 0: 0 (first row), 0.1, 1/11; population std.
    let r = [0.0, 0.1, 12.0 / 11.0 - 1.0];
    let m = (r[0] + r[1] + r[2]) / 3.0;
    let sd = (r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 3.0).sqrt();
    assert!((a.per_label[0].return_mean - m).abs() < 1e-15 && (a.per_label[0].return_std - sd).abs() < 1e-15);
    // TradeMaster's intervals drop the last row of each label's last run.
    let t = analyze(&values, &labels, 3, true).unwrap();
    assert_eq!((t.runs[0].length, t.runs[1].length), (2, 2));
    // Two runs of label 0: only the second loses its last row; mean/std over runs (ddof 0).
    let t2 = analyze(&[1.0, 2.0, 3.0, 2.0, 4.0, 5.0, 6.0], &[0, 0, 1, 1, 0, 0, 0], 2, true).unwrap();
    let lens: Vec<usize> = t2.runs.iter().map(|r| r.length).collect();
    assert_eq!(lens, vec![2, 1, 2]);
    assert_eq!(t2.per_label[0].length_mean, 2.0);
    assert!(matches!(analyze(&values, &labels[..5], 3, false), Err(LabelingError::LengthMismatch { .. })));
    assert!(matches!(analyze(&values, &labels, 1, false), Err(LabelingError::InvalidParameter { .. })));
}

#[test]
fn two_dynamics_and_a_zero_threshold() {
    let walk = common::random_walk(700, 12);
    // K = 2 (the minimum): quantile labels split at the median slope.
    let two = label_series(&walk, &LabelingParams { number_of_market_style: 2, ..small_params() }).unwrap();
    assert!(two.label.iter().all(|&l| l < 2));
    assert!(two.label.contains(&0) && two.label.contains(&1));
    labels_monotone_in_slope(&two);
    // Threshold 0: no distance of a positive series is below 0, so nothing merges and one
    // round runs; the segmentation equals the unmerged one.
    let zero = label_series(&walk, &LabelingParams { merging_threshold: 0.0, ..small_params() }).unwrap();
    let off = label_series(&walk, &LabelingParams { merging_threshold: -1.0, ..small_params() }).unwrap();
    assert_eq!(zero.merge_rounds, 1);
    assert_eq!(zero.segments, off.segments);
    // A constraint of K − 1 never binds (labels differ by at most K − 1), so it must merge
    // exactly like no constraint; constraint 0 binds and gives a valid, different labeling here.
    let wide = label_series(&walk, &LabelingParams { merging_dynamic_constraint: 2, ..small_params() }).unwrap();
    let free = label_series(&walk, &LabelingParams { merging_dynamic_constraint: -1, ..small_params() }).unwrap();
    assert_eq!(wide.segments, free.segments);
    let c0 = label_series(&walk, &LabelingParams { merging_dynamic_constraint: 0, ..small_params() }).unwrap();
    assert_ne!(c0.segments, free.segments);
    assert!(c0.label.iter().all(|&l| l < 3) && free.label.iter().all(|&l| l < 3));
}

#[test]
fn low_level_functions_refuse_bad_input_without_panicking() {
    use quantdesk_regimes::labeling::segment::{min_length_merge, slopes, threshold_label};
    let p = small_params();
    assert!(matches!(segment_and_label(&[], &[], &p), Err(LabelingError::TooShort { .. })));
    assert!(matches!(segment_and_label(&[1.0, 2.0], &[0.0], &p), Err(LabelingError::LengthMismatch { .. })));
    assert_eq!(
        segment_and_label(&[1.0, 2.0], &[0.0, 1.0], &LabelingParams { number_of_market_style: 0, ..p }).unwrap_err(),
        LabelingError::TooFewDynamics(0)
    );
    assert!(min_length_merge(&[], 5).is_empty());
    assert_eq!(threshold_label(0.5, &[], 0), 0);
    assert!(slopes(&[1.0, 2.0], 1, 1).0.is_nan() && slopes(&[1.0, 2.0], 0, 5).1.is_nan());
}
