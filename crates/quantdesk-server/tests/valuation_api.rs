//! The valuation API: the reference's envelope against a golden file, the refusal's shape, 404,
//! the sensitivity grid, the history and who may read a saved valuation.

mod common;

use serde_json::{Value, json};

async fn with_statements() -> Option<(common::TestApp, std::path::PathBuf)> {
    let fx = common::fixtures()?;
    let t = common::app().await;
    for ts in ["600519.SH", "000999.SZ"] {
        quantdesk_app::financials::import_path(&*t.state.store, &fx.join("cn/financials").join(ts), None)
            .await
            .unwrap();
    }
    Some((t, fx))
}

fn golden(fx: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fx.join("golden/valuation").join(name)).unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

#[tokio::test]
async fn a_reference_request_answers_the_golden_value_and_is_kept_per_user() {
    let Some((t, fx)) = with_statements().await else { return };
    let auth = common::bearer(&t.token);
    let h = [("authorization", auth.as_str())];
    for name in ["600519_SH_default.json", "000999_SZ_sensitivity.json", "600519_SH_perpetual.json"] {
        let g = golden(&fx, name);
        let mut body = g["request_dict_used"].clone();
        body["profile"] = json!("reference");
        body["no_such_key"] = json!(1);
        let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &h, body).await;
        assert_eq!(s, 200, "{name}: {v}");
        let got = v["valuation_results"]["dcf_forecast_details"]["value_per_share"].as_f64().unwrap();
        assert!(close(got, g["dcf"]["value_per_share"].as_f64().unwrap()), "{name}: {got} vs {}", g["dcf"]);
        assert!(v["error"].is_null());
        assert_eq!(v["stock_info"]["ts_code"], g["ts_code"]);
        assert!(v["stock_info"]["latest_price"].as_f64().is_some());
        let r = &v["valuation_results"];
        assert_eq!(r["detailed_forecast_table"].as_array().unwrap().len(), g["forecast"].as_array().unwrap().len());
        assert!(r["historical_ratios_summary"].is_object() && r["data_warnings"].is_array());
        assert!(r["other_analysis"]["wacc_build_up"].is_object() && r["other_analysis"]["derived"].is_object());
        assert!(r["other_analysis"]["ignored_request_keys"].as_array().unwrap().contains(&json!("no_such_key")));
        assert_eq!(r["sensitivity_analysis_result"].is_null(), g["sensitivity"].is_null(), "{name}");
        assert!(v["id"].as_i64().is_some());
    }
    // The same request again comes from the cache: the owner's own row is reused.
    let g = golden(&fx, "600519_SH_default.json");
    let mut body = g["request_dict_used"].clone();
    body["profile"] = json!("reference");
    let (s, _, first) = common::call(&t, "POST", "/api/v1/valuation", &h, body.clone()).await;
    assert_eq!(s, 200);
    let (_, _, again) = common::call(&t, "POST", "/api/v1/valuation", &h, body.clone()).await;
    assert_eq!((again["cached"].as_bool(), &again["id"]), (Some(true), &first["id"]));
    let id = first["id"].as_i64().unwrap();

    // History: newest first, the caller's only.
    let (s, _, list) = common::call(&t, "GET", "/api/v1/valuations", &h, Value::Null).await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert!(items.len() >= 3 && items.iter().any(|i| i["id"].as_i64() == Some(id)), "{list}");
    assert!(items.windows(2).all(|w| w[0]["created_at"].as_i64() >= w[1]["created_at"].as_i64()));
    let (s, _, one) = common::call(&t, "GET", &format!("/api/v1/valuations/{id}"), &h, Value::Null).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["id"].as_i64(), Some(id));
    assert!(close(
        one["valuation_results"]["dcf_forecast_details"]["value_per_share"].as_f64().unwrap(),
        g["dcf"]["value_per_share"].as_f64().unwrap()
    ));

    // Another user neither reads it nor lists it; their own request is cached but theirs.
    let bob =
        common::user_with_key(&t.state, "bob@test.example", quantdesk_store::auth::Role::Analyst, &["read", "jobs"])
            .await;
    let bob_auth = common::bearer(&bob);
    let hb = [("authorization", bob_auth.as_str())];
    let (s, _, v) = common::call(&t, "GET", &format!("/api/v1/valuations/{id}"), &hb, Value::Null).await;
    assert_eq!(s, 404, "{v}");
    let (_, _, list) = common::call(&t, "GET", "/api/v1/valuations", &hb, Value::Null).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &hb, body).await;
    assert_eq!((s.as_u16(), v["cached"].as_bool()), (200, Some(true)), "{v}");
    assert_ne!(v["id"], first["id"], "bob's history gets a row of its own");
    let (s, _, _) = common::call(&t, "GET", &format!("/api/v1/valuations/{}", v["id"]), &hb, Value::Null).await;
    assert_eq!(s, 200);
    let (s, _, _) = common::call(&t, "GET", "/api/v1/valuations/999999", &h, Value::Null).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn refusals_missing_symbols_bad_bodies_and_the_grid() {
    let Some((t, fx)) = with_statements().await else { return };
    let auth = common::bearer(&t.token);
    let h = [("authorization", auth.as_str())];
    // The model refuses: a perpetual growth rate not below the discount rate.
    let body = json!({"ts_code": "600519.SH", "terminal_value_method": "perpetual_growth",
        "discount_rate": 0.01, "perpetual_growth_rate": 0.02, "use_gdp_cap": false});
    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &h, body).await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"].is_string() && v["stock_info"].is_object() && v["valuation_results"].is_object(), "{v}");
    assert!(v["valuation_results"]["dcf_forecast_details"].is_null());

    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &h, json!({"ts_code": "600000.SH"})).await;
    assert_eq!(s, 404, "{v}");
    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &h, json!({"beta": 1.0})).await;
    // Rules the model states beyond the documented shape (an object of its fields): 422.
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (422, Some("invalid_request")), "no symbol: {v}");
    let (s, _, v) =
        common::call(&t, "POST", "/api/v1/valuation", &h, json!({"ts_code": "600519.SH", "beta": "high"})).await;
    assert_eq!(s, 422, "{v}");
    let req = axum::http::Request::post("/api/v1/valuation")
        .header("content-type", "application/json")
        .header("authorization", auth.as_str())
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    assert_eq!(t.request_as_is(req).await.0.as_u16(), 400);

    // The grid alone.
    let g = golden(&fx, "600519_SH_sensitivity.json");
    let mut body = g["request_dict_used"].clone();
    body["profile"] = json!("reference");
    let (s, _, v) = common::call(&t, "POST", "/api/v1/sensitivity", &h, body).await;
    assert_eq!(s, 200, "{v}");
    let want = &g["sensitivity"]["result_tables"]["value_per_share"];
    let got = &v["result_tables"]["value_per_share"];
    assert!(close(got[1][2].as_f64().unwrap(), want[1][2].as_f64().unwrap()), "{got} vs {want}");
    let (s, _, v) = common::call(&t, "POST", "/api/v1/sensitivity", &h, json!({"ts_code": "600519.SH"})).await;
    assert_eq!(s, 422, "the grid needs its axes: {v}");

    // Anonymous callers are refused.
    let (s, _, _) = common::call(&t, "POST", "/api/v1/valuation", &[], json!({"ts_code": "600519.SH"})).await;
    assert_eq!(s, 401);
}
