//! The JSON API, HTTP imports and the operations endpoints.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{app, app_with, day};
use quantdesk_app::config::Config;
use serde_json::json;

const GOOD: &str = "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n2024-01-04,11,11.5,10.5,11.2,150\n";

#[tokio::test]
async fn import_over_http_then_read_back() {
    let t = app().await;
    let (s, v) = t
        .upload("/api/v1/imports/bars", &[("symbol", "600519.SH"), ("resolution", "1D")], "m.csv", GOOD.as_bytes())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["bars"], 3);
    assert_eq!(v["rows"], 3);
    assert_eq!(v["instruments_created"], 1);
    assert_eq!((v["bars_changed"].as_u64(), v["unchanged"].as_bool()), (Some(3), Some(false)));
    let (s, v) = t.get_json("/api/v1/bars/600519.SH?resolution=1D").await;
    assert_eq!(s, 200);
    assert_eq!(v["symbol"], "600519.SH");
    assert_eq!(v["resolution"], "1D");
    assert_eq!(v["adjustment"], "none");
    let bars = v["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 3);
    assert_eq!(bars[0]["time"], "2024-01-02T00:00:00Z");
    assert_eq!(bars[0]["t"], day("2024-01-02"));
    assert_eq!(bars[1]["close"], 11.0);
    // range and limit
    let (_, v) = t.get_json("/api/v1/bars/600519.SH?from=2024-01-03&to=2024-01-04").await;
    assert_eq!(v["bars"].as_array().unwrap().len(), 1);
    let (_, v) = t.get_json("/api/v1/bars/600519.SH?limit=2").await;
    let b = v["bars"].as_array().unwrap();
    assert_eq!((b.len(), b[0]["t"].as_i64().unwrap()), (2, day("2024-01-03")));
    // the import is visible to the datafeed at once (caches were cleared)
    let (_, v) = t.get_json("/udf/symbols?symbol=600519.SH").await;
    assert_eq!(v["name"], "600519.SH");
    // idempotent, and it says that it changed nothing
    let (s, v) = t
        .upload("/api/v1/imports/bars", &[("symbol", "600519.SH"), ("resolution", "1D")], "m.csv", GOOD.as_bytes())
        .await;
    assert_eq!(s, 200);
    assert_eq!(t.store.bar_count().await.unwrap(), 3);
    assert_eq!(
        (v["bars"].as_u64(), v["bars_changed"].as_u64(), v["unchanged"].as_bool()),
        (Some(3), Some(0), Some(true))
    );
    // one corrected close is one changed bar
    let fixed = GOOD.replace("2024-01-03,10.5,12,10,11,200", "2024-01-03,10.5,12,10,11.1,200");
    let (_, v) = t
        .upload("/api/v1/imports/bars", &[("symbol", "600519.SH"), ("resolution", "1D")], "m.csv", fixed.as_bytes())
        .await;
    assert_eq!((v["bars_changed"].as_u64(), v["unchanged"].as_bool()), (Some(1), Some(false)));
}

#[tokio::test]
async fn bad_upload_is_422_with_line_and_writes_nothing() {
    let t = app().await;
    let bad = "date,open,high,low,close\n2024-01-02,10,11,9,10.5\n2024-01-03,10,9,11,10\n";
    let (s, v) = t
        .upload("/api/v1/imports/bars", &[("symbol", "600519.SH"), ("resolution", "1D")], "bad.csv", bad.as_bytes())
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["code"], "invalid_file");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("bad.csv:3:"), "{msg}");
    assert!(msg.contains("below low"), "{msg}");
    assert_eq!(t.store.bar_count().await.unwrap(), 0);
    assert_eq!(t.store.instrument(&quantdesk_core::Symbol::new("600519.SH").unwrap()).await.unwrap(), None);
    // missing fields
    let (s, v) = t.upload("/api/v1/imports/bars", &[("symbol", "600519.SH")], "m.csv", GOOD.as_bytes()).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (400, Some("bad_request")));
    // not multipart at all
    let req = Request::post("/api/v1/imports/bars")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (s, _, b) = t.request(req).await;
    assert_eq!(s, 400);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
}

#[tokio::test]
async fn oversized_upload_is_413() {
    let t = app_with({
        let mut c = Config::default();
        c.server.max_upload_bytes = 2048;
        c
    })
    .await;
    let mut big = String::from("date,open,high,low,close\n");
    for i in 0..200 {
        big.push_str(&format!("2024-01-{:02},1,1,1,1\n", 1 + i % 28));
    }
    let (s, v) =
        t.upload("/api/v1/imports/bars", &[("symbol", "X"), ("resolution", "1D")], "big.csv", big.as_bytes()).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert_eq!(t.store.bar_count().await.unwrap(), 0);
}

#[tokio::test]
async fn instruments_import_list_get() {
    let t = app().await;
    let master = "ts_code,name,abbrev,type,list_date,delist_date\n000001.SZ,平安银行,PAYH,stock,1991-04-03,\n000001.SH,上证指数,SZZS,index,1991-07-15,\n300750.SZ,宁德时代,NDSD,stock,2018-06-11,\n";
    let (s, v) = t.upload("/api/v1/imports/instruments", &[], "i.csv", master.as_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["instruments"], 3);
    let (_, v) = t.get_json("/api/v1/instruments?q=ndsd").await;
    assert_eq!(v["total"], 1);
    let item = &v["items"][0];
    assert_eq!(item["symbol"], "300750.SZ");
    assert_eq!(item["board"], "chinext");
    assert_eq!(item["price_limit"], 0.2);
    assert_eq!(item["lot_size"], 100);
    assert_eq!(item["list_date"], "2018-06-11");
    assert_eq!((item["industry"].as_str(), item["area"].as_str()), (Some(""), Some("")), "unknown until a master sync");
    let (_, v) = t.get_json("/api/v1/instruments?listed_from=2000-01-01").await;
    assert_eq!(v["total"], 1, "only 300750.SZ was listed after 2000");
    let (s, _) = t.get_json("/api/v1/instruments?listed_from=someday").await;
    assert_eq!(s, 400);
    let (_, v) = t.get_json("/api/v1/instruments?kind=stock&limit=1&offset=1").await;
    assert_eq!((v["total"].as_u64(), v["items"].as_array().unwrap().len()), (Some(2), 1));
    let (s, v) = t.get_json("/api/v1/instruments/000001.SH").await;
    assert_eq!(s, 200);
    assert_eq!(v["kind"], "index");
    let (s, v) = t.get_json("/api/v1/instruments/600000.SH").await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn api_errors_are_json_with_stable_codes() {
    let t = app().await;
    for (uri, status, code) in [
        ("/api/v1/instruments?limit=0", 400, "bad_request"),
        ("/api/v1/instruments?limit=abc", 400, "bad_request"),
        ("/api/v1/bars/600519.SH?resolution=7", 400, "bad_request"),
        // Well-formed strings that mean nothing are 422, not 400: the schema cannot say which
        // strings are instants.
        ("/api/v1/bars/600519.SH?from=yesterday", 422, "bad_instant"),
        ("/api/v1/bars/600519.SH?from=2024-02-01&to=2024-01-01", 422, "bad_range"),
        ("/api/v1/bars/600519.SH?adjustment=", 400, "bad_request"),
        ("/api/v1/jobs/abc", 400, "bad_request"),
        ("/api/v1/bars/bad%20symbol", 400, "bad_request"),
        ("/api/v1/bars/600519.SH", 404, "not_found"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ] {
        let (s, v) = t.get_json(uri).await;
        assert_eq!(s.as_u16(), status, "{uri}: {v}");
        assert_eq!(v["error"]["code"], code, "{uri}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let req = Request::delete("/api/v1/instruments").body(Body::empty()).unwrap();
    let (s, _, b) = t.request(req).await;
    assert_eq!(s, 405);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let t = app().await;
    let (s, v) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/instruments",
        "/api/v1/instruments/{symbol}",
        "/api/v1/bars/{symbol}",
        "/api/v1/imports/bars",
        "/api/v1/imports/instruments",
    ] {
        assert!(v["paths"][p].is_object(), "{p} missing");
    }
    assert!(v["components"]["schemas"]["ErrorBody"].is_object());
    // Every operation documents the guard's 429.
    let mut operations = 0;
    for (path, item) in v["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"]["429"].is_object(), "{method} {path} does not document 429");
            operations += 1;
        }
    }
    assert!(operations > 20, "{operations}");
}

#[tokio::test]
async fn health_readiness_version_and_request_ids() {
    let t = app().await;
    let (s, v) = t.get_json("/healthz").await;
    assert_eq!((s.as_u16(), v), (200, json!({"status": "ok"})));
    let (s, v) = t.get_json("/readyz").await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "ok");
    let db = &v["checks"][0];
    assert_eq!(db["name"], "database");
    assert_eq!(db["status"], "ok");
    assert_eq!(db["required"], true);
    assert!(db["latency_ms"].as_f64().unwrap() >= 0.0);
    let (_, v) = t.get_json("/version").await;
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // a request id is made when absent and echoed when given
    let (_, h, _) = t.request(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(h["x-request-id"].len(), 36);
    let (_, h, _) =
        t.request(Request::get("/healthz").header("x-request-id", "abc-123").body(Body::empty()).unwrap()).await;
    assert_eq!(h["x-request-id"], "abc-123");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let t = app().await;
    // Closing the pool makes every query fail, as a vanished database would.
    let store = quantdesk_store::SqliteStore::open("sqlite::memory:", 1).await.unwrap();
    store.pool().close().await;
    let state = quantdesk_server::AppState::new(std::sync::Arc::new(store), Config::default(), t.state.metrics.clone());
    let router = quantdesk_server::router(state);
    use tower::ServiceExt;
    let res = router.oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), 503);
    let v: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(v["status"], "down");
    assert_eq!(v["checks"][0]["status"], "down");
    assert!(!v.to_string().contains("PoolClosed"), "internals stay in the log: {v}");
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let t = app().await;
    t.get("/udf/config").await;
    t.get("/udf/config").await;
    t.get("/no/such/route").await;
    let (s, body) = t.get("/metrics").await;
    assert_eq!(s, 200);
    let text = String::from_utf8(body).unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total") && l.contains("route=\"/udf/config\"") && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no counter line in\n{text}"));
    let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 2.0, "{line}");
    assert!(text.contains("route=\"unmatched\""), "unknown paths do not explode the label set");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("quantdesk_build_info"));
    assert!(text.contains("db_pool_max_connections"));
    assert!(text.contains("db_pool_connections{state=\"idle\"}"));

    // Business figures, read at scrape time. No backup yet: an infinite age, so alerts fire.
    let gauge = |text: &str, name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no {name}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(gauge(&text, "quantdesk_backup_age_seconds"), f64::INFINITY);
    assert_eq!(gauge(&text, "quantdesk_backup_last_success_timestamp_seconds"), 0.0);
    assert!(gauge(&text, "quantdesk_users") >= 1.0, "the test's admin");
    assert!(gauge(&text, "quantdesk_active_sessions") >= 0.0);
    let at = quantdesk_app::clock::now_ms() - 90_000;
    let rec = quantdesk_store::backup::BackupRecord { at, file: "b.tar".into(), bytes: 1, rows: 1, sha256: "x".into() };
    t.state.store.record_backup(&rec).await.unwrap();
    let (_, body) = t.get("/metrics").await;
    let text = String::from_utf8(body).unwrap();
    let age = gauge(&text, "quantdesk_backup_age_seconds");
    assert!((90.0..600.0).contains(&age), "{age}");
    assert_eq!(gauge(&text, "quantdesk_backup_last_success_timestamp_seconds"), at as f64 / 1000.0);
    assert!(text.contains("# HELP http_requests_total "), "every metric has help text");
    assert!(text.contains("# HELP quantdesk_backup_age_seconds "));

    // The backlog gauge follows the queue down to zero (a kind with no queued jobs reads 0).
    let queued = |text: &str, kind: &str| gauge(text, &format!("jobs_queued{{kind=\"{kind}\"}}"));
    let job = quantdesk_store::jobs::NewJob {
        owner: String::new(),
        kind: "echo".into(),
        queue: "default".into(),
        params: "{}".into(),
        priority: 0,
        max_attempts: 1,
        timeout_ms: 1000,
        run_at: None,
        idempotency_key: None,
    };
    let (id, _) = t.state.store.enqueue(&job, 1).await.unwrap();
    let (_, body) = t.get("/metrics").await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!((queued(&text, "echo"), queued(&text, "sweep")), (1.0, 0.0));
    t.state.store.cancel(id, 2).await.unwrap();
    let (_, body) = t.get("/metrics").await;
    assert_eq!(queued(&String::from_utf8(body).unwrap(), "echo"), 0.0);
}

#[tokio::test]
async fn every_bad_file_case_leaves_the_database_unchanged() {
    let t = app().await;
    let (s, _) = t
        .upload("/api/v1/imports/bars", &[("symbol", "600519.SH"), ("resolution", "1D")], "m.csv", GOOD.as_bytes())
        .await;
    assert_eq!(s, 200);
    let before = t.get_json("/api/v1/bars/600519.SH?resolution=1D").await.1;
    let instruments = t.store.count_instruments(&Default::default()).await.unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        ("missing column", b"date,open,high,low\n2024-01-05,1,1,1\n", "no close column"),
        ("unparsable number", b"date,open,high,low,close\n2024-01-05,1,1,1,1\n2024-01-06,1,x,1,1\n", ":3:"),
        ("unparsable time", b"date,open,high,low,close\n2024-01-05,1,1,1,1\n2024-02-30,1,1,1,1\n", ":3:"),
        ("high below low", b"date,open,high,low,close\n2024-01-05,1,1,1,1\n2024-01-06,1,1,2,1\n", "below low"),
        ("duplicate time", b"date,open,high,low,close\n2024-01-05,1,1,1,1\n2024-01-05,2,2,2,2\n", "two different rows"),
        ("unsorted rows", b"date,open,high,low,close\n2024-01-06,1,1,1,1\n2024-01-05,1,1,1,1\n", "ascending"),
        ("empty file", b"", "empty"),
        ("header only", b"date,open,high,low,close\n", "no rows"),
        ("not UTF-8", b"date,open,high,low,close\n2024-01-05,1,1,1,1\n2024-01-06,1,1,1,\xfe\n", "UTF-8"),
    ];
    for (name, body, needle) in cases {
        // A new symbol in the same upload must not appear either.
        let (s, v) =
            t.upload("/api/v1/imports/bars", &[("symbol", "600000.SH"), ("resolution", "1D")], "bad.csv", body).await;
        assert_eq!(s, 422, "{name}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(needle), "{name}: {v}");
        let (s, v) =
            t.upload("/api/v1/imports/bars", &[("symbol", "600519.SH"), ("resolution", "1D")], "bad.csv", body).await;
        assert_eq!(s, 422, "{name}: {v}");
        assert_eq!(t.get_json("/api/v1/bars/600519.SH?resolution=1D").await.1, before, "{name}");
        assert_eq!(t.store.count_instruments(&Default::default()).await.unwrap(), instruments, "{name}");
    }
}

#[tokio::test]
async fn preview_detects_columns_and_ignores_a_cut_last_line() {
    let t = app().await;
    let head = "trade_date,ts_code,open,high,low,close,vol\n20240102,600519.SH,1,2,1,2,10\n20240103,600519.SH,2,3,2,3,20\n20240104,600519.S";
    let (s, v) = t.upload("/api/v1/imports/preview", &[], "big.csv", head.as_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["columns"], json!(["trade_date", "ts_code", "open", "high", "low", "close", "vol"]));
    assert_eq!(v["detected"]["time"], "trade_date");
    assert_eq!(v["detected"]["symbol"], "ts_code");
    assert_eq!(v["detected"]["volume"], "vol");
    assert_eq!(v["detected"]["amount"], serde_json::Value::Null);
    assert_eq!(v["rows"].as_array().unwrap().len(), 2, "the cut line is not shown");
    let (_, v) =
        t.upload("/api/v1/imports/preview", &[("complete", "true")], "all.csv", b"date,close\n2024-01-02,1").await;
    assert_eq!(v["rows"], json!([["2024-01-02", "1"]]));
    let (s, v) = t.upload("/api/v1/imports/preview", &[], "bin.csv", b"\xff\xfe\x00bin\n").await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["code"], "invalid_file");
}
