//! The `regimes` and `dynamics_test` jobs on a worker, on TradeMaster's BTC file imported as
//! stored bars: the labels artifact carries the golden labels, the statistics and the dynamics
//! test's radar and report are stored as artifacts.

use std::sync::Arc;

use quantdesk_jobs::Registry;
use quantdesk_store::Store;
use quantdesk_store::jobs::{Job, JobState};
use support::fixtures;

mod support;

async fn run(store: &Arc<dyn Store>, kind: &str, params: serde_json::Value) -> Job {
    support::run_to_end(store, Registry::standard(), kind, &params, 3000).await
}

async fn artifact(store: &Arc<dyn Store>, id: i64, name: &str) -> (String, String) {
    let (ct, data) = store.artifact(id, name).await.unwrap().unwrap_or_else(|| panic!("no artifact {name}"));
    (ct, String::from_utf8(data).unwrap())
}

#[tokio::test]
async fn regimes_and_dynamics_test_jobs_store_their_artifacts() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        quantdesk_store::open(&format!("sqlite://{}", dir.path().join("j.db").display()), 4).await.unwrap();
    let path = fx.join("golden/regimes/btc_3dyn_minlen12_quantile.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let opts = quantdesk_ingest::BarImportOptions {
        file_name: "btc.csv".into(),
        symbol: Some(quantdesk_core::Symbol::new("BTC").unwrap()),
        resolution: quantdesk_core::Resolution::Day,
        timezone: None,
        columns: quantdesk_ingest::ColumnMap::default(),
    };
    quantdesk_app::market::import_bars_stream(
        &*store,
        std::io::Cursor::new(csv.clone().into_bytes()),
        opts,
        Box::new(|_| {}),
    )
    .await
    .unwrap();

    let j = run(&store, "regimes", serde_json::json!({"symbol": "BTC", "key": "close"})).await;
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let r: quantdesk_app::regimes::RegimesJobResult = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    assert_eq!((r.bars, r.filter), (425, quantdesk_app::regimes::Filter::ZeroPhase));
    let (ct, labels) = artifact(&store, j.id, "labels.csv").await;
    assert_eq!(ct, "text/csv");
    let want: Vec<(&str, &str)> =
        csv.lines().skip(1).map(|l| (l.split(',').next().unwrap(), l.rsplit(',').next().unwrap())).collect();
    let got: Vec<(&str, &str)> =
        labels.lines().skip(1).map(|l| (l.split(',').next().unwrap(), l.rsplit(',').next().unwrap())).collect();
    assert_eq!(got, want, "the labels artifact carries TradeMaster's labels");
    let (_, stats) = artifact(&store, j.id, "statistics.csv").await;
    assert_eq!(stats.lines().count(), 4);

    let j = run(
        &store,
        "dynamics_test",
        serde_json::json!({"symbol": "BTC", "key": "close", "agent": "sma_cross", "params": {"fast": 3, "slow": 8}}),
    )
    .await;
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let r: quantdesk_app::regimes::DynamicsTestJobResult = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    assert_eq!(r.labels.len(), 3);
    assert!(r.labels.iter().all(|l| l.tested_runs > 0 && l.risk_control.is_some()), "{r:?}");
    let (ct, svg) = artifact(&store, j.id, "radar.svg").await;
    assert_eq!(ct, "image/svg+xml");
    assert!(svg.starts_with("<svg") && !svg.contains("<script"));
    let (_, html) = artifact(&store, j.id, "report.html").await;
    assert!(html.contains("<svg") && !html.contains("<script"));
    for name in ["labels.csv", "statistics.csv", "result.json"] {
        artifact(&store, j.id, name).await;
    }
    // The result carries each tested label's tables for the dynamics page, agreeing with the
    // summary fields.
    for l in &r.labels {
        let t = l.tables.as_ref().expect("tables of a tested label");
        assert_eq!(t.tested_runs, l.tested_runs);
        let risk = t.scores.iter().find(|x| x.metric == "risk_control").unwrap();
        assert_eq!(risk.agent, l.risk_control);
        assert_eq!(t.radar.len(), 6);
    }

    // A backtest's result is split by regime: the labels are those of the regimes job (the
    // golden file's), so each label's bars are its count in the file.
    let j = run(
        &store,
        "backtest",
        serde_json::json!({"symbols": ["BTC"], "strategy": "sma_cross", "adjustment": "none",
        "params": {"fast": 3, "slow": 8}, "config": {"market": {"profile": "generic"}}}),
    )
    .await;
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let out: quantdesk_app::jobs::BacktestOutcome = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    let split = out.regimes.expect("the split by regime");
    assert_eq!(
        (split.symbol.as_str(), split.symbols, split.filter),
        ("BTC", 1, quantdesk_app::regimes::Filter::ZeroPhase)
    );
    let figures = split.figures.expect("BTC's bars can be labeled");
    let counts: Vec<usize> = (0..3).map(|l| want.iter().filter(|(_, x)| *x == l.to_string()).count()).collect();
    assert_eq!(figures.rows.iter().map(|r| r.bars).collect::<Vec<_>>(), counts);
    assert_eq!(figures.unlabeled_bars, 0);
    assert!(figures.rows.iter().all(|r| r.total_return.is_some() && r.max_drawdown.is_some_and(|d| d <= 0.0)));
    let (_, full) = artifact(&store, j.id, "result.json").await;
    let full: serde_json::Value = serde_json::from_str(&full).unwrap();
    assert_eq!(full["regimes"]["figures"]["rows"].as_array().map(Vec::len), Some(3));

    // Refused on the data: an unknown symbol fails the job permanently.
    let j = run(&store, "regimes", serde_json::json!({"symbol": "NOPE"})).await;
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.as_deref().unwrap_or_default().contains("no instrument"), "{:?}", j.error);
}
