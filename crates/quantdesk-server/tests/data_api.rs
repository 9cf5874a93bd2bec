//! The data API: statements as of a date, the sources' standing, sync jobs and quality checks.

mod common;

use axum::body::Body;
use axum::http::Request;
use chrono::{Datelike, NaiveDate};
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{Statement, StatementRow, Symbol};
use serde_json::{Value, json};

async fn post_json(t: &common::TestApp, uri: &str, body: Value) -> (u16, Value) {
    let req = Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let (s, _, b) = t.request(req).await;
    (s.as_u16(), serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn income(period: &str, ann: &str, flag: &str, revenue: f64) -> StatementRow {
    StatementRow {
        symbol: Symbol::new("600900.SH").unwrap(),
        statement: Statement::Income,
        period: day(period),
        ann_date: Some(day(ann)),
        f_ann_date: Some(day(ann)),
        report_type: "1".into(),
        end_type: if period.ends_with("12-31") { "4" } else { "2" }.into(),
        update_flag: flag.into(),
        fields: [("total_revenue".to_string(), FieldValue::Number(revenue))].into_iter().collect(),
    }
}

async fn with_demo() -> common::TestApp {
    let t = common::app().await;
    let end = quantdesk_app::demo::demo_end(quantdesk_app::clock::today_shanghai());
    quantdesk_app::demo::load(&*t.store, end).await.unwrap();
    t
}

#[tokio::test]
async fn statements_annual_quarterly_and_as_of_a_date() {
    let t = with_demo().await;
    t.state
        .store
        .write_statements(&[
            income("2022-12-31", "2023-03-30", "0", 100.0),
            // a restatement of 2022, announced a year later
            income("2022-12-31", "2024-04-20", "1", 110.0),
            income("2023-06-30", "2023-08-20", "1", 60.0),
            income("2023-12-31", "2024-03-28", "1", 130.0),
        ])
        .await
        .unwrap();
    let (s, v) = t.get_json("/api/v1/financials/600900.SH").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["statement"].as_str(), v["period"].as_str()), (Some("income"), Some("annual")));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "annual periods only: {v}");
    assert_eq!(rows[0]["period"], "2022-12-31", "oldest first");
    assert_eq!(rows[0]["fields"]["total_revenue"], 110.0, "the current revision");
    assert_eq!(rows[0]["revisions"], 2);
    assert_eq!(rows[0]["ann_date"], "2024-04-20");
    assert_eq!(rows[1]["fields"]["total_revenue"], 130.0);

    let (_, v) = t.get_json("/api/v1/financials/600900.SH?statement=income&period=quarterly").await;
    let periods: Vec<&str> = v["rows"].as_array().unwrap().iter().map(|r| r["period"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2022-12-31", "2023-06-30", "2023-12-31"]);

    // As of 2024-01-01 the restatement (and the 2023 annual report) were not yet announced.
    let (s, v) = t.get_json("/api/v1/financials/600900.SH?period=annual&as_of=2024-01-01").await;
    assert_eq!(s, 200);
    assert_eq!(v["as_of"], "2024-01-01");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["fields"]["total_revenue"], 100.0, "the restatement is hidden");
    assert_eq!(rows[0]["revisions"], 1);
    assert_eq!(rows[0]["ann_date"], "2023-03-30");

    // A known instrument without statements is an empty view; an unknown one a 404.
    let (s, v) = t.get_json("/api/v1/financials/000858.SZ?statement=cashflow").await;
    assert_eq!((s.as_u16(), v["rows"].as_array().map(Vec::len)), (200, Some(0)));
    let (s, v) = t.get_json("/api/v1/financials/NOPE.SH").await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "not_found");
    let (s, v) = t.get_json("/api/v1/financials/600900.SH?statement=ledger").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "bad_request");
    let (s, _) = t.get_json("/api/v1/financials/600900.SH?period=monthly").await;
    assert_eq!(s, 400);
    let (s, _) = t.get_json("/api/v1/financials/600900.SH?as_of=yesterday").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn sources_show_order_limits_and_the_recorded_calls() {
    let t = common::app().await;
    let today = quantdesk_app::clock::today_shanghai();
    t.state
        .store
        .record_source_calls(&quantdesk_store::financials::SourceCalls {
            source: "eastmoney".into(),
            day: today,
            calls: 4,
            last_success_ms: Some(1_714_521_600_000),
            last_error: Some((1_714_521_601_500, "HTTP 502 from the vendor".into())),
        })
        .await
        .unwrap();
    let (s, v) = t.get_json("/api/v1/sources").await;
    assert_eq!(s, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tushare", "eastmoney", "yahoo"]);
    // TuShare has no token: it is skipped, and the others move up the fallback order.
    assert_eq!(items[0]["configured"], false);
    assert_eq!(items[0]["order"], Value::Null);
    assert_eq!(items[0]["calls_per_minute"], 200);
    assert_eq!(items[0]["calls_today"], 0);
    assert_eq!(items[0]["last_success"], Value::Null);
    let em = &items[1];
    assert_eq!((em["configured"].as_bool(), em["order"].as_u64()), (Some(true), Some(0)));
    assert_eq!(em["url"], "https://push2his.eastmoney.com");
    assert_eq!(em["calls_today"], 4);
    assert_eq!(em["last_success"], "2024-05-01T00:00:00Z");
    assert_eq!(em["last_error_at"], "2024-05-01T00:00:01.500Z");
    assert_eq!(em["last_error"], "HTTP 502 from the vendor");
    assert_eq!(items[2]["order"], 1);
    for item in items {
        for key in [
            "name",
            "configured",
            "order",
            "url",
            "calls_per_minute",
            "calls_today",
            "last_success",
            "last_error_at",
            "last_error",
        ] {
            assert!(item.get(key).is_some(), "{key} missing in {item}");
        }
    }
}

#[tokio::test]
async fn sync_enqueues_a_job_and_refuses_what_it_cannot_do() {
    let t = common::app().await;
    let (s, v) =
        post_json(&t, "/api/v1/sync", json!({"what": "bars", "symbols": ["600519.SH"], "start": "2024-01-02"})).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["created"], true);
    let id = v["id"].as_i64().unwrap();
    let job = t.state.store.job(id).await.unwrap().unwrap();
    assert_eq!(job.kind, "sync");
    let params: quantdesk_app::sync::SyncRequest = serde_json::from_str(&job.params).unwrap();
    assert_eq!(params.symbols, ["600519.SH"]);
    assert_eq!(params.start, Some(day("2024-01-02")));
    let (s, v) = t.get_json(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!((s.as_u16(), v["kind"].as_str()), (200, Some("sync")), "{v}");

    let refused = [
        (json!({"what": "bars", "symbols": ["600519"]}), "invalid_symbol"),
        (
            json!({"what": "bars", "symbols": ["600519.SH"], "start": "2024-05-01", "end": "2024-04-01"}),
            "invalid_params",
        ),
        (json!({"what": "financials"}), "invalid_params"),
        (json!({"what": "bars", "all": true, "source": "bloomberg"}), "invalid_params"),
    ];
    for (body, code) in refused {
        let (s, v) = post_json(&t, "/api/v1/sync", body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
    }
    let (s, _) = post_json(&t, "/api/v1/sync", json!({"what": "everything"})).await;
    assert_eq!(s, 400, "not in the schema");
    let (s, _) = post_json(&t, "/api/v1/sync", json!({"what": "calendar", "colour": "red"})).await;
    assert_eq!(s, 400, "unknown fields are refused");

    // A viewer may read but not sync.
    let viewer =
        common::user_with_key(&t.state, "viewer@test.example", quantdesk_store::auth::Role::Viewer, &["read"]).await;
    let (s, _, v) = common::call(
        &t,
        "POST",
        "/api/v1/sync",
        &[("authorization", &common::bearer(&viewer))],
        json!({"what": "calendar"}),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden");
}

#[tokio::test]
async fn quality_finds_a_planted_gap() {
    let t = with_demo().await;
    let (s, v) = t.get_json("/api/v1/quality?symbol=600900.SH").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["symbols_checked"], 1);
    assert!(!v["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "gap"), "the demo has no gaps: {v}");

    // A Saturday about a month back becomes an open day with no bars: a gap of one day.
    let end = quantdesk_app::demo::demo_end(quantdesk_app::clock::today_shanghai());
    let mut planted = end - chrono::Duration::days(30);
    while planted.weekday() != chrono::Weekday::Sat {
        planted = planted.succ_opt().unwrap();
    }
    t.state.store.add_trading_days("SSE", &[planted]).await.unwrap();
    let (s, v) = t.get_json("/api/v1/quality?symbol=600900.SH&stale_days=250").await;
    assert_eq!(s, 200, "{v}");
    let gap = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "gap")
        .unwrap_or_else(|| panic!("no gap found: {v}"));
    assert_eq!(gap["symbol"], "600900.SH");
    assert_eq!(gap["severity"], "warning");
    assert_eq!(gap["date"], planted.to_string());
    assert_eq!(gap["until"], planted.to_string());
    assert_eq!(gap["count"], 1);

    // Every symbol by default; an unknown symbol is a 404; a threshold out of range a 400.
    let (s, v) = t.get_json("/api/v1/quality").await;
    assert_eq!(s, 200);
    assert!(v["symbols_checked"].as_u64().unwrap() > 1, "{v}");
    assert_eq!(v["truncated"], false);
    let (s, _) = t.get_json("/api/v1/quality?symbol=NOPE.SH").await;
    assert_eq!(s, 404);
    let (s, _) = t.get_json("/api/v1/quality?stale_days=0").await;
    assert_eq!(s, 400);
}
