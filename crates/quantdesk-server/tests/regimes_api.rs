//! `GET /api/v1/regimes/{symbol}`: TradeMaster's BTC labels from stored bars (the golden file
//! imported; its `label` column is not an input), the filter kind, causal labels, and the
//! refusals (400 for the schema, 422 for rules beyond it, 404 for an unknown symbol).

mod common;

use axum::http::StatusCode;
use common::{app, fixtures};

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
    let dynamics = params.iter().find(|p| p["name"] == "dynamics").unwrap();
    assert_eq!(
        (dynamics["schema"]["minimum"].as_f64(), dynamics["schema"]["maximum"].as_f64()),
        (Some(2.0), Some(10.0))
    );
}
