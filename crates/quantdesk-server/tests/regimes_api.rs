//! `GET /api/v1/regimes/{symbol}`: TradeMaster's BTC labels from stored bars (the golden file
//! imported; its `label` column is not an input), the filter kind, causal labels, and the
//! refusals (400 for the schema, 422 for rules beyond it, 404 for an unknown symbol).

mod common;

use axum::http::StatusCode;
use common::{app, fixtures};
use serde_json::Value;

#[tokio::test]
async fn labels_of_stored_bars_match_trademasters() {
    let Some(dir) = fixtures() else { return };
    let t = app().await;
    let path = dir.join("golden/regimes/btc_3dyn_minlen12_quantile.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let (s, v) =
        t.upload("/api/v1/imports/bars", &[("symbol", "BTC"), ("resolution", "1D")], "btc.csv", csv.as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let want: Vec<(String, u64)> = csv
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (format!("{}T00:00:00Z", f[0]), f[f.len() - 1].parse().unwrap())
        })
        .collect();

    let (s, v) = t.get_json("/api/v1/regimes/BTC?key=close&dynamics=3&min_length=12&max_length=120&filter_strength=1&merging_threshold=0.03&merging_constraint=1&method=quantile").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["filter"], "zero_phase");
    assert_eq!(v["resolution"], "1D");
    let rows = v["rows"].as_array().unwrap();
    let got: Vec<(String, u64)> =
        rows.iter().map(|r| (r["time"].as_str().unwrap().to_string(), r["label"].as_u64().unwrap())).collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got.iter().zip(&want).filter(|(g, w)| g == w).count(), want.len(), "every bar carries the golden label");
    assert!(rows.iter().all(|r| r["key_indicator_filtered"].is_number() && r["pct_return_filtered"].is_number()));
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs.first().unwrap()["first_time"], want[0].0.as_str());
    assert_eq!(v["statistics"].as_array().unwrap().len(), 3);

    // The defaults are the golden setting; adjcp on bars without factors is the close.
    let (s, d) = t.get_json("/api/v1/regimes/BTC").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["rows"], v["rows"]);

    let (s, c) = t.get_json("/api/v1/regimes/BTC?causal=true").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["filter"], "causal");
    assert_eq!(c["causal_window"], 240);
    assert!(c["rows"][0]["label"].is_null() && c["rows"][424]["label"].is_u64());

    for (q, status, code) in [
        ("dynamics=11", 400, "bad_request"),
        ("min_length=-2", 400, "bad_request"),
        ("method=DTW", 400, "bad_request"),
        ("filter_strength=0", 400, "bad_request"),
        ("min_length=2", 422, "invalid_params"),
        ("min_length=1000", 422, "too_few_bars"),
        ("causal=true&max_length=100000&resolution=1D", 200, ""),
    ] {
        let (s, e) = t.get_json(&format!("/api/v1/regimes/BTC?{q}")).await;
        assert_eq!(s.as_u16(), status, "{q}: {e}");
        if !code.is_empty() {
            assert_eq!(e["error"]["code"], code, "{q}");
        }
    }
    let (s, e) = t.get_json("/api/v1/regimes/NOPE.SZ").await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn the_document_describes_the_route() {
    let t = app().await;
    let (s, doc) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let op = &doc["paths"]["/api/v1/regimes/{symbol}"]["get"];
    for status in ["200", "400", "404", "422", "503"] {
        assert!(op["responses"][status].is_object(), "{status}");
    }
    let params = op["parameters"].as_array().unwrap();
    for name in ["from", "to", "stability", "index"] {
        assert!(params.iter().any(|p| p["name"] == name), "{name}");
    }
    let dynamics = params.iter().find(|p| p["name"] == "dynamics").unwrap();
    assert_eq!(
        (dynamics["schema"]["minimum"].as_f64(), dynamics["schema"]["maximum"].as_f64()),
        (Some(2.0), Some(10.0))
    );
}

#[tokio::test]
async fn a_range_the_stability_report_and_an_indexs_labels() {
    let Some(dir) = fixtures() else { return };
    let t = app().await;
    let csv = std::fs::read_to_string(dir.join("golden/regimes/btc_3dyn_minlen12_quantile.csv")).unwrap();
    for sym in ["BTC", "IDX"] {
        let (s, v) =
            t.upload("/api/v1/imports/bars", &[("symbol", sym), ("resolution", "1D")], "btc.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // The index lacks one day of the symbol's.
    let gap = csv.lines().nth(100).unwrap().split(',').next().unwrap().to_string();
    let idx_csv: String = csv.lines().filter(|l| !l.starts_with(&gap)).map(|l| format!("{l}\n")).collect();
    let (s, v) = t
        .upload("/api/v1/imports/bars", &[("symbol", "GAP"), ("resolution", "1D")], "gap.csv", idx_csv.as_bytes())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, all) = t.get_json("/api/v1/regimes/BTC?key=close").await;
    assert_eq!(s, StatusCode::OK);
    assert!(all.get("stability").is_none() && all.get("index").is_none(), "only when asked");
    let n = all["rows"].as_array().unwrap().len();

    // from and to: a date `to` includes its whole day.
    let from = all["rows"][50]["time"].as_str().unwrap()[..10].to_string();
    let to = all["rows"][349]["time"].as_str().unwrap()[..10].to_string();
    let (s, part) = t.get_json(&format!("/api/v1/regimes/BTC?key=close&from={from}&to={to}")).await;
    assert_eq!(s, StatusCode::OK, "{part}");
    let rows = part["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 300);
    assert_eq!(
        (rows[0]["time"].clone(), rows[299]["time"].clone()),
        (all["rows"][50]["time"].clone(), all["rows"][349]["time"].clone())
    );
    let (s, e) = t.get_json(&format!("/api/v1/regimes/BTC?from={to}&to={from}")).await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("invalid_params")), "{e}");
    let (s, e) = t.get_json("/api/v1/regimes/BTC?from=yesterday").await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("bad_instant")), "{e}");
    let (s, e) = t.get_json("/api/v1/regimes/BTC?from=2030-01-01").await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("too_few_bars")), "{e}");

    // stability=true: the CLI's --stability report, beside the same labels.
    let (s, st) = t.get_json("/api/v1/regimes/BTC?key=close&stability=true").await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(st["rows"], all["rows"]);
    let entries = st["stability"].as_array().unwrap();
    assert!(entries.len() >= 8, "{entries:?}");
    let params: std::collections::BTreeSet<&str> = entries.iter().map(|e| e["parameter"].as_str().unwrap()).collect();
    for p in ["min_length_limit", "filter_strength", "merging_threshold"] {
        assert!(params.contains(p), "{params:?}");
    }
    assert!(
        entries.iter().all(|e| e["changed_bars"].as_u64().is_some_and(|c| c <= n as u64) || e["error"].is_string())
    );

    // index=IDX: the same bars, so its labels are the symbol's own; GAP lacks one day.
    let (s, ix) = t.get_json("/api/v1/regimes/BTC?key=close&index=IDX").await;
    assert_eq!(s, StatusCode::OK, "{ix}");
    assert_eq!(ix["index"]["symbol"], "IDX");
    let own: Vec<Value> = all["rows"].as_array().unwrap().iter().map(|r| r["label"].clone()).collect();
    assert_eq!(ix["index"]["labels"].as_array().unwrap(), &own);
    let (s, g) = t.get_json("/api/v1/regimes/BTC?key=close&index=GAP").await;
    assert_eq!(s, StatusCode::OK, "{g}");
    let carried = g["index"]["labels"].as_array().unwrap();
    assert_eq!(carried.len(), n);
    assert!(carried[99].is_null(), "the index has no bar on {gap}");
    assert_eq!(carried.iter().filter(|l| l.is_null()).count(), 1);
    let (s, e) = t.get_json("/api/v1/regimes/BTC?index=NOPE.SZ").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = t.get_json("/api/v1/regimes/BTC?index=%3Dbad").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
