//! Golden conformance: TradeMaster's labels for Bitcoin (key indicator close, 3 dynamics,
//! min length 12, max length expectation 120, filter strength 1, quantile labels, DTW merging
//! with threshold 0.03 and constraint 1).

mod labeling_common;
use labeling_common as common;

use quantdesk_regimes::labeling::{LabelingMethod, LabelingParams, label_series};

fn btc_params() -> LabelingParams {
    LabelingParams {
        number_of_market_style: 3,
        min_length_limit: 12,
        filter_strength: 1.0,
        max_length_expectation: 120,
        key_indicator: "close".into(),
        labeling_method: LabelingMethod::Quantile,
        merging_threshold: 0.03,
        merging_dynamic_constraint: 1,
        ..LabelingParams::default()
    }
}

#[test]
fn btc_labels_match_trademaster() {
    let Some(fx) = common::fixtures() else { return };
    let rows = common::golden(&fx, "btc_3dyn_minlen12_quantile.csv");
    assert_eq!(rows.len(), 425);
    let close: Vec<f64> = rows.iter().map(|r| r.close).collect();
    let out = label_series(&close, &btc_params()).unwrap();
    let agree = rows.iter().zip(&out.label).filter(|(r, l)| r.label == **l).count();
    println!(
        "golden agreement: {agree}/{} rows ({:.2} %), {} segments, {} merge rounds",
        rows.len(),
        100.0 * agree as f64 / rows.len() as f64,
        out.segments.len(),
        out.merge_rounds
    );
    for (i, (r, l)) in rows.iter().zip(&out.label).enumerate() {
        if r.label != *l {
            println!("row {i} {}: trademaster {} port {}", r.date, r.label, l);
        }
    }
    for s in &out.segments {
        println!("segment {}..{} slope {:.6} label {}", s.start, s.end, s.normalized_slope, s.label);
    }
    assert_eq!(agree, rows.len());
}

#[test]
fn btc_causal_disagreement_and_stability() {
    let Some(fx) = common::fixtures() else { return };
    let rows = common::golden(&fx, "btc_3dyn_minlen12_quantile.csv");
    let close: Vec<f64> = rows.iter().map(|r| r.close).collect();
    let p = btc_params();
    let d = quantdesk_regimes::labeling::expost_causal_disagreement(&close, &p, 240).unwrap();
    println!(
        "BTC ex-post vs causal (window 240): {} of {} labeled bars differ, {} bars without a causal label",
        d.differing, d.compared, d.unlabeled
    );
    assert_eq!(d.compared + d.unlabeled, rows.len());
    assert_eq!(d.unlabeled, 11);
    assert!(d.differing < d.compared);
    let report = quantdesk_regimes::labeling::stability_report(
        &close,
        &p,
        &quantdesk_regimes::labeling::StabilitySteps::default(),
    )
    .unwrap();
    for e in &report {
        println!("stability {} = {}: {:?} {}", e.parameter, e.value, e.changed_bars, e.error.as_deref().unwrap_or(""));
    }
    assert_eq!(report.len(), 12);
    assert!(report.iter().all(|e| e.changed_bars.is_some()));
}
