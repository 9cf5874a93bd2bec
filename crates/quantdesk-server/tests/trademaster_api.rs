//! The TradeMaster-compatible API (`/api/TradeMaster/…`): each endpoint's request and answer in
//! the shape of TradeMaster's `deploy/backend_service.py` (1.0.0 branch; the expected keys below
//! are written down from that file), the whole flow upload → label → status → save → download →
//! dynamics test → status on TradeMaster's BTC file with a worker running the jobs, sessions
//! owned by their caller, and bad input answered in TradeMaster's error shape.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use common::{TestApp, app, bearer, call, fixtures, user_with_key};
use quantdesk_store::auth::Role;
use serde_json::{Value, json};

/// The keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// TradeMaster's answers, key by key (backend_service.py).
const HEALTH: &[&str] = &["data", "error_code", "info", "time_consuming"];
const UPLOAD_OK: &[&str] = &["error_code", "info", "session_id", "upload_finished"];
/// Its failure answer has no `upload_finished`; ours says false.
const UPLOAD_FAILED: &[&str] = &["error_code", "info", "session_id", "upload_finished"];
const START: &[&str] = &["error_code", "info", "session_id"];
/// TradeMaster's success answer of `MDM_status` has no `error_code`; its failure answer does.
/// Ours always has it.
const MDM: &[&str] = &[
    "error_code",
    "info",
    "MDM_end",
    "market_dynamic_labeling_visulization",
    "market_dynamic_labeling_analysis",
    "session_id",
];
/// TradeMaster adds `debug` (its whole session record); quantdesk does not return its records.
const SAVE: &[&str] = &["error_code", "info", "session_id"];
/// TradeMaster's success answer lacks `file`, its failure answer `data` and `filename`: ours has all.
const DOWNLOAD: &[&str] = &["error_code", "info", "data", "filename", "session_id", "file"];
const RUN_TEST: &[&str] = &["error_code", "info", "session_id"];
const TEST_STATUS: &[&str] = &["error_code", "info", "dynamics_testing_end", "radar_plot", "session_id"];
const PARAMETERS: &[&str] = &[
    "dataset_name",
    "start_date",
    "end_date",
    "number_of_market_style",
    "min_length_limit",
    "filter_strength",
    "max_length_expectation",
    "key_indicator",
    "timestamp",
    "tic",
    "labeling_method",
    "merging_metric",
    "merging_threshold",
    "merging_dynamic_constraint",
    "test_dynamic_number",
];

async fn post(t: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, v) =
        call(t, "POST", &format!("/api/TradeMaster/{path}"), &[("authorization", &bearer(token))], body).await;
    (s, v)
}

/// The rows of a CSV file as TradeMaster's front end sends them: JSON text of an array of
/// objects whose values are the cells' text.
fn rows_json(csv: &str) -> String {
    let mut lines = csv.lines().filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Value> = lines
        .map(|l| {
            let m: serde_json::Map<String, Value> =
                header.iter().zip(l.split(',')).map(|(k, v)| (k.to_string(), Value::String(v.into()))).collect();
            Value::Object(m)
        })
        .collect();
    Value::Array(rows).to_string()
}

fn png_of(b64: &Value) -> Vec<u8> {
    let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().expect("a base64 text")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    png
}

/// Polls `path` (bounded by a number of polls, not a time) until `done` is true in its answer.
async fn poll(t: &TestApp, token: &str, path: &str, body: Value, done: &str) -> Value {
    for _ in 0..6000 {
        let (s, v) = post(t, token, path, body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["error_code"], 0, "{v}");
        if v[done] == true {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{path} never reported {done}");
}

#[tokio::test]
async fn healthcheck_answers_as_trademaster_and_needs_a_caller() {
    let t = app().await;
    let (s, v) = t.get_json("/api/TradeMaster/healthcheck").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&v), set(HEALTH));
    assert_eq!((v["error_code"].as_i64(), v["info"].as_str()), (Some(0), Some("health check")));
    assert_eq!(v["data"], json!({}));
    assert!(v["time_consuming"].as_f64().unwrap() >= 0.0);
    let (s, _, _) = call(&t, "GET", "/api/TradeMaster/healthcheck", &[], Value::Null).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "authentication as everywhere else");
    let (s, _, _) = call(&t, "POST", "/api/TradeMaster/MDM_status", &[], json!({"session_id": "x"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_whole_session_labels_saves_downloads_and_tests_trademasters_btc() {
    let Some(dir) = fixtures() else { return };
    let t = app().await;
    let alice = user_with_key(&t.state, "alice@test.example", Role::Analyst, &["read", "jobs"]).await;
    let bob = user_with_key(&t.state, "bob@test.example", Role::Analyst, &["read", "jobs"]).await;
    let csv = std::fs::read_to_string(dir.join("golden/regimes/btc_3dyn_minlen12_quantile.csv")).unwrap();
    let golden: Vec<String> =
        csv.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.rsplit(',').next().unwrap().to_string()).collect();

    // The worker that runs the session's jobs.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut cfg = quantdesk_jobs::WorkerConfig::with_lease(1, vec!["default".into()], Duration::from_secs(5));
    cfg.poll = Duration::from_millis(20);
    let worker = tokio::spawn(quantdesk_jobs::run_worker(
        Arc::clone(&t.state.store),
        quantdesk_jobs::Registry::standard(),
        cfg,
        stopped,
    ));

    // upload_csv without a session makes one.
    let (s, up) =
        post(&t, &alice, "upload_csv", json!({"file_name": "btc.csv", "file": rows_json(&csv), "session_id": ""}))
            .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(keys(&up), set(UPLOAD_OK));
    assert_eq!((up["error_code"].as_i64(), up["upload_finished"].as_bool()), (Some(0), Some(true)), "{up}");
    let sid = up["session_id"].as_str().unwrap().to_string();
    assert_eq!(sid.len(), 36, "a UUID");

    // The parameters offer the file with its columns.
    let (s, p) = post(&t, &alice, "evaluation_getParameters", json!({"session_id": sid})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&p), set(PARAMETERS));
    assert_eq!(p["dataset_name"], json!(["custom:btc"]));
    assert_eq!(
        (p["timestamp"]["custom:btc"].as_str(), p["key_indicator"]["custom:btc"].as_str()),
        (Some("date"), Some("close"))
    );
    assert_eq!(p["merging_dynamic_constraint"]["custom:btc"], 1);

    // Nothing to download or save before a labeling.
    let (_, d) = post(&t, &alice, "download_csv", json!({"session_id": sid})).await;
    assert_eq!((d["error_code"].as_i64(), d["data"].is_null()), (Some(1), true), "{d}");
    assert_eq!(keys(&d), set(DOWNLOAD));

    // TradeMaster's parameter names, numbers as text, as its front end sends them.
    let body = json!({
        "session_id": sid, "dataset_name": "custom:btc", "number_of_market_style": "3", "min_length_limit": "12",
        "filter_strength": "1", "max_length_expectation": "120", "key_indicator": "close", "timestamp": "date",
        "tic": "data", "labeling_method": "quantile", "merging_metric": "DTW_distance", "merging_threshold": "0.03",
        "merging_dynamic_constraint": 1, "startDate": "", "endDate": ""
    });
    let (s, st) = post(&t, &alice, "start_market_dynamics_labeling", body.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&st), set(START));
    assert_eq!((st["error_code"].as_i64(), st["session_id"].as_str()), (Some(0), Some(sid.as_str())), "{st}");

    // Another user sees none of it: the same answers as for a missing session.
    let (_, b) = post(&t, &bob, "MDM_status", json!({"session_id": sid})).await;
    assert_eq!(keys(&b), set(MDM));
    assert_eq!((b["error_code"].as_i64(), b["MDM_end"].as_bool()), (Some(1), Some(false)), "{b}");
    assert!(b["info"].as_str().unwrap().contains("no session"), "{b}");
    let (_, b) = post(&t, &bob, "evaluation_getParameters", json!({"session_id": sid})).await;
    assert_eq!(b["dataset_name"], json!([]));
    let (_, b) = post(
        &t,
        &bob,
        "upload_csv",
        json!({"file_name": "evil.csv", "file": "date,close\n2020-01-01,1\n", "session_id": sid}),
    )
    .await;
    assert_eq!(keys(&b), set(UPLOAD_FAILED));
    assert_eq!((b["error_code"].as_i64(), b["session_id"].as_str()), (Some(1), Some("")), "{b}");
    let (_, b) = post(&t, &bob, "start_market_dynamics_labeling", body.clone()).await;
    assert_eq!(b["error_code"], 1);

    let m = poll(&t, &alice, "MDM_status", json!({"session_id": sid}), "MDM_end").await;
    assert_eq!(keys(&m), set(MDM));
    let viz = png_of(&m["market_dynamic_labeling_visulization"]);
    assert_eq!(u32::from_be_bytes(viz[16..20].try_into().unwrap()), 1000, "the IHDR width");
    png_of(&m["market_dynamic_labeling_analysis"]);

    let (_, b) = post(&t, &bob, "download_csv", json!({"session_id": sid})).await;
    assert_eq!((b["error_code"].as_i64(), b["data"].is_null()), (Some(1), true), "{b}");

    // Saving fixes the labels for the dynamics test; the parameters then offer its labels.
    let (s, sv) = post(&t, &alice, "save_market_dynamics_labeling", json!({"session_id": sid})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&sv), set(SAVE));
    assert_eq!(sv["error_code"], 0, "{sv}");
    let (_, p) = post(&t, &alice, "evaluation_getParameters", json!({"session_id": sid})).await;
    assert_eq!(p["test_dynamic_number"], json!(["0", "1", "2"]));

    // The labeled file: the uploaded columns and TradeMaster's, with TradeMaster's golden labels.
    let (_, d) = post(&t, &alice, "download_csv", json!({"session_id": sid})).await;
    assert_eq!(keys(&d), set(DOWNLOAD));
    assert_eq!(d["error_code"], 0, "{d}");
    assert_eq!(d["filename"], "btc_labeled_3dynamics");
    let data = d["data"].as_str().unwrap();
    let header = data.lines().next().unwrap();
    assert_eq!(header, "close,date,high,low,open,pct_return,key_indicator_filtered,pct_return_filtered,label");
    let labels: Vec<String> = data.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().to_string()).collect();
    assert_eq!(labels, golden, "every row carries TradeMaster's label");

    // A dynamics test of label 0 with TradeMaster's MA agent.
    let (s, r) = post(&t, &alice, "run_dynamics_test", json!({"session_id": sid, "dynamics_test_label": "0"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&r), set(RUN_TEST));
    assert_eq!(r["error_code"], 0, "{r}");
    assert!(r["info"].as_str().unwrap().starts_with("request success, start test market 0"));
    let (_, b) = post(&t, &bob, "dynamics_testing_status", json!({"session_id": sid, "dynamics_test_label": 0})).await;
    assert_eq!(keys(&b), set(TEST_STATUS));
    assert_eq!((b["error_code"].as_i64(), b["radar_plot"].is_null()), (Some(1), true), "{b}");
    let v = poll(
        &t,
        &alice,
        "dynamics_testing_status",
        json!({"session_id": sid, "dynamics_test_label": 0}),
        "dynamics_testing_end",
    )
    .await;
    assert_eq!(keys(&v), set(TEST_STATUS));
    png_of(&v["radar_plot"]);
    // The same jobs are the caller's in the jobs API, with their artifacts.
    let (s, _, jobs) =
        call(&t, "GET", "/api/v1/jobs?kind=dynamics_test", &[("authorization", &bearer(&alice))], Value::Null).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(jobs["items"].as_array().unwrap().len(), 1);
    let (s, _, none) = call(&t, "GET", "/api/v1/jobs", &[("authorization", &bearer(&bob))], Value::Null).await;
    assert_eq!((s, none["items"].as_array().unwrap().len()), (StatusCode::OK, 0), "bob owns none of alice's jobs");

    // A label outside the saved labeling, and no test of label 2.
    let (_, r) = post(&t, &alice, "run_dynamics_test", json!({"session_id": sid, "dynamics_test_label": 3})).await;
    assert_eq!(r["error_code"], 1, "{r}");
    assert!(r["info"].as_str().unwrap().contains("0 to 2"), "{r}");
    let (_, r) =
        post(&t, &alice, "dynamics_testing_status", json!({"session_id": sid, "dynamics_test_label": 2})).await;
    assert_eq!(r["error_code"], 1, "{r}");

    stop.send(true).unwrap();
    worker.await.unwrap();
}

#[tokio::test]
async fn bad_input_is_answered_in_trademasters_error_shape() {
    let t = app().await;
    let tok = t.token.clone();
    // Unknown sessions.
    for (path, shape) in [
        ("MDM_status", MDM),
        ("save_market_dynamics_labeling", SAVE),
        ("download_csv", DOWNLOAD),
        ("run_dynamics_test", RUN_TEST),
        ("dynamics_testing_status", TEST_STATUS),
    ] {
        for body in [json!({"session_id": "00000000-0000-4000-8000-000000000000"}), json!({}), json!({"session_id": 7})]
        {
            let (s, v) = post(&t, &tok, path, body.clone()).await;
            assert_eq!(s, StatusCode::OK, "{path} {body}: {v}");
            assert_eq!(keys(&v), set(shape), "{path}");
            assert_eq!(v["error_code"], 1, "{path} {body}: {v}");
            assert!(v["info"].as_str().unwrap().starts_with("request data error, "), "{v}");
        }
    }
    let (s, v) = post(&t, &tok, "evaluation_getParameters", json!({"session_id": "nope"})).await;
    assert_eq!((s, v["dataset_name"].clone()), (StatusCode::OK, json!([])));
    let (_, v) =
        post(&t, &tok, "start_market_dynamics_labeling", json!({"session_id": "nope", "dataset_name": "custom:x"}))
            .await;
    assert_eq!((v["error_code"].as_i64(), v["session_id"].as_str()), (Some(1), Some("nope")));
    assert_eq!(keys(&v), set(START));

    // Malformed files.
    for file in
        [json!("date,close\n2020-01-01\n"), json!("[]"), json!("[1, 2]"), json!("words"), json!(12), Value::Null]
    {
        let (s, v) = post(&t, &tok, "upload_csv", json!({"file_name": "x.csv", "file": file})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!((v["error_code"].as_i64(), v["upload_finished"].as_bool()), (Some(1), Some(false)), "{file}: {v}");
    }
    // TradeMaster answers 400 for a name that is empty or not .csv; a body that is not JSON too.
    for name in ["", "x.txt"] {
        let (s, v) = post(&t, &tok, "upload_csv", json!({"file_name": name, "file": "a,b\n1,2\n"})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    let (s, _, _) =
        call(&t, "POST", "/api/TradeMaster/MDM_status", &[("authorization", &bearer(&tok))], json!([1])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A file with bad rows, and bad parameters, refused before any job is spent.
    let (_, up) = post(
        &t,
        &tok,
        "upload_csv",
        json!({"file_name": "bad.csv", "file": "date,close\n2020-01-02,1\n2020-01-01,2\n"}),
    )
    .await;
    let sid = up["session_id"].as_str().unwrap().to_string();
    let (_, up) = post(
        &t,
        &tok,
        "upload_csv",
        json!({"file_name": "ok.csv", "file": "date,close\n2020-01-01,1\n2020-01-02,2\n", "session_id": sid}),
    )
    .await;
    assert_eq!((up["error_code"].as_i64(), up["session_id"].as_str()), (Some(0), Some(sid.as_str())), "{up}");
    for (extra, needle) in [
        (json!({"dataset_name": "custom:bad"}), "times must increase"),
        (json!({"dataset_name": "custom:ok", "number_of_market_style": "many"}), "number_of_market_style"),
        (json!({"dataset_name": "custom:ok", "number_of_market_style": 11}), "dynamics"),
        (json!({"dataset_name": "custom:ok", "min_length_limit": "2"}), "min_length"),
        (json!({"dataset_name": "custom:ok", "merging_metric": "euclid"}), "DTW_distance"),
        (json!({"dataset_name": "custom:ok", "key_indicator": "volume"}), "no key_indicator column \"volume\""),
        (json!({"dataset_name": "custom:ok", "timestamp": "when"}), "its columns are date, close"),
        (json!({"dataset_name": "custom:ok", "labeling_method": "kmeans"}), "labeling_method"),
        (json!({"dataset_name": "algorithmic_trading:BTC"}), "not in this session"),
    ] {
        let mut body = extra.clone();
        body["session_id"] = json!(sid);
        let (s, v) = post(&t, &tok, "start_market_dynamics_labeling", body).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["error_code"], 1, "{extra}: {v}");
        assert!(v["info"].as_str().unwrap().contains(needle), "{extra}: {v}");
    }
    let (s, jobs) = t.get_json("/api/v1/jobs").await;
    assert_eq!((s, jobs["items"].as_array().unwrap().len()), (StatusCode::OK, 0), "no job was enqueued");
    // A dynamics test before any saved labeling.
    let (_, v) = post(&t, &tok, "run_dynamics_test", json!({"session_id": sid, "dynamics_test_label": 0})).await;
    assert!(v["info"].as_str().unwrap().contains("save the market dynamics labeling first"), "{v}");
}

#[tokio::test]
async fn the_document_describes_every_endpoint() {
    let t = app().await;
    let (s, doc) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for (path, method) in [
        ("healthcheck", "get"),
        ("evaluation_getParameters", "post"),
        ("upload_csv", "post"),
        ("start_market_dynamics_labeling", "post"),
        ("MDM_status", "post"),
        ("save_market_dynamics_labeling", "post"),
        ("download_csv", "post"),
        ("run_dynamics_test", "post"),
        ("dynamics_testing_status", "post"),
    ] {
        let op = &doc["paths"][format!("/api/TradeMaster/{path}")][method];
        assert!(op["responses"]["200"].is_object(), "{path}");
        assert!(op["responses"]["429"].is_object(), "{path}");
        if method == "post" {
            assert!(op["responses"]["400"].is_object(), "{path}");
        }
    }
    let upload = &doc["paths"]["/api/TradeMaster/upload_csv"]["post"]["responses"];
    assert!(upload["413"].is_object());
    assert_eq!(doc["components"]["schemas"]["UploadBody"]["properties"]["file_name"]["pattern"], r"\.csv$");
}
