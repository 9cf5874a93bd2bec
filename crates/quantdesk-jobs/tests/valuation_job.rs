//! The `valuation` job on a worker: every symbol valued from its stored statements, progress per
//! symbol, refusals and missing statements as rows, sorted by margin of safety.

use std::sync::Arc;

use quantdesk_jobs::Registry;
use quantdesk_store::Store;
use quantdesk_store::jobs::JobState;
use support::fixtures;

mod support;

#[tokio::test]
async fn a_valuation_job_values_every_symbol_and_sorts_by_margin_of_safety() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        quantdesk_store::open(&format!("sqlite://{}", dir.path().join("j.db").display()), 4).await.unwrap();
    let mut stored = Vec::new();
    for ts in ["600519.SH", "000999.SZ", "999901.SH"] {
        let path = fx.join("cn/financials").join(ts);
        quantdesk_app::financials::import_path(&*store, &path, None).await.unwrap();
        stored.push(ts.to_string());
    }
    let run = |params: serde_json::Value| {
        let store = store.clone();
        async move {
            let j = support::run_to_end(&store, Registry::standard(), "valuation", &params, 1000).await;
            let logs = store.job_logs(j.id, 100).await.unwrap();
            (j, logs)
        }
    };

    // Every stored symbol plus one with nothing stored.
    let (j, logs) = run(serde_json::json!({
        "symbols": ["600519.SH", "000999.SZ", "999901.SH", "600000.SH"],
        "request": {"profile": "reference", "beta": 1.0},
        "preset": "bull"
    }))
    .await;
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    assert_eq!((j.progress_done, j.progress_total), (4, 4));
    let r: quantdesk_app::valuation::ValuationJobResult = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    assert_eq!(r.rows.len(), 4);
    assert_eq!(r.valued + r.failed, 4);
    let missing = r.rows.iter().find(|x| x.symbol == "600000.SH").unwrap();
    assert!(missing.error.as_deref().unwrap().contains("no financial statements") || missing.error.is_some());
    assert!(logs.iter().any(|(_, l)| l.contains("600000.SH")), "{logs:?}");
    let margins: Vec<f64> = r.rows.iter().filter_map(|x| x.margin_of_safety).collect();
    assert!(!margins.is_empty(), "{r:?}");
    assert!(margins.windows(2).all(|w| w[0] >= w[1]), "sorted by margin of safety: {margins:?}");
    let first_none = r.rows.iter().position(|x| x.margin_of_safety.is_none()).unwrap_or(r.rows.len());
    assert!(r.rows[first_none..].iter().all(|x| x.margin_of_safety.is_none()), "symbols without one come last");
    for row in r.rows.iter().filter(|x| x.error.is_none()) {
        let (v, p, m) = (row.value_per_share.unwrap(), row.latest_price.unwrap(), row.margin_of_safety);
        if v > 0.0 {
            assert!((m.unwrap() - (v - p) / v).abs() < 1e-12);
        }
    }

    // all: true values every symbol with statements.
    let (j, _) = run(serde_json::json!({"all": true})).await;
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let r: quantdesk_app::valuation::ValuationJobResult = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    let mut got: Vec<String> = r.rows.iter().map(|x| x.symbol.clone()).collect();
    got.sort();
    stored.sort();
    assert_eq!(got, stored);

    // A bad preset is refused at submission (check_params) and fails the job permanently.
    assert!(
        quantdesk_app::jobs::JobKind::Valuation
            .check_params(&serde_json::json!({"all": true, "preset": "moon"}))
            .is_err()
    );
    let (j, _) = run(serde_json::json!({"all": true, "preset": "moon"})).await;
    assert_eq!(j.state, JobState::Failed);
}
