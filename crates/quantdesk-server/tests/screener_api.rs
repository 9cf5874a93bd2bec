//! The screener API: filters over each symbol's latest daily_basic row, units, paging, sorting.

mod common;

use axum::body::Body;
use axum::http::Request;
use chrono::NaiveDate;
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{Instrument, InstrumentKind, Statement, StatementRow, Symbol};
use serde_json::{Value, json};

async fn post(t: &common::TestApp, body: Value) -> (u16, Value) {
    let req = Request::post("/api/v1/screener/stocks")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, _, b) = t.request(req).await;
    (s.as_u16(), serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// A daily_basic row: close, pe, pe_ttm, pb, total_mv (万元).
fn daily(symbol: &str, date: &str, close: f64, pe: Option<f64>, pb: f64, total_mv_wan: f64) -> StatementRow {
    let mut fields = std::collections::BTreeMap::from([
        ("close".to_string(), FieldValue::Number(close)),
        ("pb".to_string(), FieldValue::Number(pb)),
        ("total_mv".to_string(), FieldValue::Number(total_mv_wan)),
        ("circ_mv".to_string(), FieldValue::Number(total_mv_wan / 2.0)),
    ]);
    if let Some(pe) = pe {
        fields.insert("pe".into(), FieldValue::Number(pe));
        fields.insert("pe_ttm".into(), FieldValue::Number(pe * 0.9));
    }
    StatementRow {
        symbol: Symbol::new(symbol).unwrap(),
        statement: Statement::DailyBasic,
        period: date.parse::<NaiveDate>().unwrap(),
        ann_date: None,
        f_ann_date: None,
        report_type: String::new(),
        end_type: String::new(),
        update_flag: String::new(),
        fields,
    }
}

fn stock(symbol: &str, name: &str, industry: &str, controller: &str) -> Instrument {
    let mut i = Instrument::with_defaults(Symbol::new(symbol).unwrap(), name, InstrumentKind::Stock);
    i.industry = industry.into();
    i.controller = controller.into();
    i
}

async fn planted() -> common::TestApp {
    let t = common::app().await;
    t.store
        .upsert_instruments(&[
            stock("600519.SH", "贵州茅台", "白酒", "贵州省人民政府国有资产监督管理委员会"),
            stock("000858.SZ", "五粮液", "白酒", "宜宾市国有资产监督管理委员会"),
            stock("601398.SH", "工商银行", "银行", "中央汇金投资有限责任公司"),
            stock("000333.SZ", "美的集团", "家用电器", "何享健"),
        ])
        .await
        .unwrap();
    t.state
        .store
        .write_statements(&[
            // An older row of 600519 that the latest one replaces.
            daily("600519.SH", "2025-05-16", 1500.0, Some(22.0), 7.5, 188_000_000.0),
            daily("600519.SH", "2025-05-19", 1578.98, Some(23.0031), 7.6774, 198_351_120.2),
            daily("000858.SZ", "2025-05-19", 130.0, Some(15.0), 3.5, 50_460_000.0),
            daily("601398.SH", "2025-05-19", 7.0, Some(6.0), 0.6, 249_000_000.0),
            // A loss: no P/E.
            daily("000333.SZ", "2025-05-16", 75.0, None, 3.0, 57_000_000.0),
            // No instrument stored.
            daily("688001.SH", "2025-05-19", 50.0, Some(40.0), 5.0, 1_000_000.0),
        ])
        .await
        .unwrap();
    t
}

fn codes(v: &Value) -> Vec<String> {
    v["results"].as_array().unwrap().iter().map(|r| r["ts_code"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_latest_row_per_symbol_in_yi_yuan_by_market_value() {
    let t = planted().await;
    let (s, v) = post(&t, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["total"].as_u64(), v["page"].as_u64(), v["page_size"].as_u64()), (Some(5), Some(1), Some(20)));
    assert_eq!(v["last_data_update_time"], "2025-05-19");
    // Default: market value, largest first.
    assert_eq!(codes(&v), ["601398.SH", "600519.SH", "000333.SZ", "000858.SZ", "688001.SH"]);
    let moutai = &v["results"][1];
    assert_eq!(moutai["trade_date"], "2025-05-19", "the latest row");
    assert_eq!(moutai["latest_price"], 1578.98);
    assert_eq!(moutai["name"], "贵州茅台");
    assert_eq!(moutai["controller_type"], "local_soe");
    // 198 351 120.2 万元 = 19 835.112 02 亿元.
    assert!((moutai["total_market_cap"].as_f64().unwrap() - 19_835.112_02).abs() < 1e-6, "{moutai}");
    assert_eq!(v["results"][0]["controller_type"], "central_soe");
    assert_eq!(v["results"][2]["controller_type"], "private");
    assert_eq!(v["results"][4]["name"], "", "no instrument: still listed");
}

#[tokio::test]
async fn filters_combine_and_units_are_yi_yuan() {
    let t = planted().await;
    // total_mv is 万元, the bounds 亿元: Wuliangye's 50 460 000 万 is 5 046 亿.
    let (_, v) = post(&t, json!({"market_cap_min": 5046, "market_cap_max": 20000})).await;
    assert_eq!(codes(&v), ["600519.SH", "000333.SZ", "000858.SZ"], "inclusive bounds");
    let (_, v) = post(&t, json!({"market_cap_min": 5046.01, "market_cap_max": 5700})).await;
    assert_eq!(codes(&v), ["000333.SZ"]);
    // P/E bounds leave out the loss-maker (no P/E).
    let (_, v) = post(&t, json!({"pe_min": 10, "pe_max": 30})).await;
    assert_eq!(codes(&v), ["600519.SH", "000858.SZ"]);
    let (_, v) = post(&t, json!({"pe_ttm_max": 5.4})).await;
    assert_eq!(codes(&v), ["601398.SH"], "pe_ttm is 0.9 × pe here");
    let (_, v) = post(&t, json!({"pb_max": 1})).await;
    assert_eq!(codes(&v), ["601398.SH"]);
    let (_, v) = post(&t, json!({"industry": "白酒"})).await;
    assert_eq!(codes(&v), ["600519.SH", "000858.SZ"]);
    let (_, v) = post(&t, json!({"industry": ["银行", "家用电器"]})).await;
    assert_eq!(codes(&v), ["601398.SH", "000333.SZ"]);
    let (_, v) = post(&t, json!({"controller_type": "soe"})).await;
    assert_eq!(codes(&v), ["601398.SH", "600519.SH", "000858.SZ"]);
    let (_, v) = post(&t, json!({"act_ent_type": "民企"})).await;
    assert_eq!(codes(&v), ["000333.SZ"], "the reference's name and a Chinese label");
    let (_, v) = post(&t, json!({"industry": "白酒", "pe_max": 20})).await;
    assert_eq!(codes(&v), ["000858.SZ"]);
}

#[tokio::test]
async fn sorting_and_paging() {
    let t = planted().await;
    let (_, v) = post(&t, json!({"sort_by": "pe", "sort_order": "asc", "page": 1, "page_size": 2})).await;
    assert_eq!(codes(&v), ["601398.SH", "000858.SZ"]);
    assert_eq!(v["total"], 5);
    let (_, v) = post(&t, json!({"sort_by": "pe", "sort_order": "asc", "page": 3, "page_size": 2})).await;
    assert_eq!(codes(&v), ["000333.SZ"], "no P/E sorts last");
    let (_, v) = post(&t, json!({"sort_by": "pe", "sort_order": "desc"})).await;
    assert_eq!(codes(&v), ["688001.SH", "600519.SH", "000858.SZ", "601398.SH", "000333.SZ"]);
    let (_, v) = post(&t, json!({"sort_by": "symbol", "sort_order": "asc", "page": 9})).await;
    assert_eq!((v["total"].as_u64(), codes(&v).len()), (Some(5), 0), "past the end: an empty page");
}

#[tokio::test]
async fn bad_requests_are_400_and_inverted_bounds_422() {
    let t = planted().await;
    // A minimum above its maximum breaks no rule the schema can state: 422.
    for body in [json!({"pe_min": 30, "pe_max": 10}), json!({"market_cap_min": 2, "market_cap_max": 1})] {
        let (s, v) = post(&t, body.clone()).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_params")), "{body}: {v}");
    }
    for body in [
        json!({"page": 0}),
        json!({"page_size": 201}),
        json!({"sort_by": "colour"}),
        json!({"controller_type": "alien"}),
        json!({"pb_min": "low"}),
    ] {
        let (s, v) = post(&t, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], "bad_request", "{body}: {v}");
    }
    let (s, v) = post(&t, json!({"pe_min": 30, "pe_max": 10})).await;
    assert!(v["error"]["message"].as_str().unwrap().contains("pe_min"), "{s} {v}");
}

#[tokio::test]
async fn a_read_only_key_may_screen_and_the_document_describes_it() {
    let t = planted().await;
    let token =
        common::user_with_key(&t.state, "viewer@test.example", quantdesk_store::auth::Role::Viewer, &["read"]).await;
    let (s, _, v) = common::call(
        &t,
        "POST",
        "/api/v1/screener/stocks",
        &[("authorization", &common::bearer(&token))],
        json!({"industry": "白酒"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, doc) = t.get_json("/api/v1/openapi.json").await;
    let op = &doc["paths"]["/api/v1/screener/stocks"]["post"];
    assert!(op["responses"]["400"].is_object(), "{op}");
    let req = &doc["components"]["schemas"]["ScreenerRequest"]["properties"];
    assert_eq!(req["page_size"]["maximum"], 200, "{req}");
    assert_eq!(req["page"]["minimum"], 1);
}
