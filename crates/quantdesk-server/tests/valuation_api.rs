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

/// Relative valuation and DDM beside the DCF: 600519.SH's one fixture `daily_basic` row plus four
/// planted ones, two planted peers in 白酒 (and 000999.SZ in 中成药, not a peer), planted
/// implemented dividends.
#[tokio::test]
async fn relative_valuation_and_ddm_sit_beside_the_dcf() {
    let Some((t, _fx)) = with_statements().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let header = "ts_code,trade_date,close,pe,pe_ttm,pb,dv_ttm,total_share,total_mv\n";
    let me = dir.path().join("600519.SH");
    std::fs::create_dir(&me).unwrap();
    std::fs::write(
        me.join("daily_basic.csv"),
        format!(
            "{header}600519.SH,20250512,1500,20,20,7,3,125619.78,188429670\n600519.SH,20250513,1510,21,21,7.1,3,125619.78,189687968\n\
             600519.SH,20250514,1520,22,22,7.2,3,125619.78,190942065\n600519.SH,20250515,1530,25,25,7.3,3,125619.78,192198263\n"
        ),
    )
    .unwrap();
    std::fs::write(
        me.join("dividend.csv"),
        "ts_code,end_date,ann_date,div_proc,stk_div,cash_div,cash_div_tax,record_date,ex_date,pay_date\n\
         600519.SH,20240630,20241120,实施,0,23.882,23.882,20241219,20241220,20241220\n\
         600519.SH,20241231,20250403,实施,0,27.673,27.673,20250619,20250620,20250620\n\
         600519.SH,20231231,20240403,实施,0,30.876,30.876,20240618,20240619,20240619\n",
    )
    .unwrap();
    for (code, pe) in [("000858.SZ", 18.0), ("000568.SZ", 30.0)] {
        let p = dir.path().join(code);
        std::fs::create_dir(&p).unwrap();
        std::fs::write(
            p.join("daily_basic.csv"),
            format!("{header}{code},20250519,100,{pe},{pe},5,2,100000,10000000\n"),
        )
        .unwrap();
        std::fs::write(
            p.join("stock_basic.csv"),
            format!("ts_code,symbol,name,area,industry,list_date,market,exchange\n{code},{},P,四川,白酒,20000101,主板,SZSE\n", &code[..6]),
        )
        .unwrap();
    }
    for d in ["600519.SH", "000858.SZ", "000568.SZ"] {
        quantdesk_app::financials::import_path(&*t.state.store, &dir.path().join(d), None).await.unwrap();
    }
    let auth = common::bearer(&t.token);
    let h = [("authorization", auth.as_str())];
    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &h, json!({"ts_code": "600519.SH"})).await;
    assert_eq!(s, 200, "{v}");
    let o = &v["valuation_results"]["other_analysis"];
    let rel = &o["relative_valuation"];
    assert_eq!(
        (rel["industry"].as_str(), rel["history_rows"].as_u64(), rel["peers"].as_u64()),
        (Some("白酒"), Some(5), Some(2)),
        "{rel}"
    );
    assert_eq!(rel["as_of"], json!("2025-05-19"));
    let pe = rel["multiples"].as_array().unwrap().iter().find(|m| m["multiple"] == "pe").unwrap();
    // P/E history 20, 21, 22, 23.0031, 25: median 22; peers 18 and 30: median 24.
    assert_eq!(pe["current"].as_f64(), Some(23.0031));
    assert_eq!(pe["history"]["median"].as_f64(), Some(22.0));
    assert_eq!(pe["history"]["current_percentile"].as_f64(), Some(0.8));
    assert_eq!((pe["industry_median"].as_f64(), pe["industry_count"].as_u64()), (Some(24.0), Some(2)));
    assert!(close(pe["implied_price_at_own_median"].as_f64().unwrap(), 1578.98 * 22.0 / 23.0031));
    assert!(close(pe["implied_price_at_industry_median"].as_f64().unwrap(), 1578.98 * 24.0 / 23.0031));
    // EV/EBITDA from the stored annual reports: a current value and its own history.
    let ev = rel["multiples"].as_array().unwrap().iter().find(|m| m["multiple"] == "ev_ebitda").unwrap();
    assert!(ev["current"].as_f64().is_some_and(|x| x > 0.0), "{ev}");
    // DDM: DPS0 = 23.882 + 27.673 (fiscal 2024), Ke from the DCF's build-up.
    let ddm = &o["ddm"];
    assert_eq!(
        (ddm["dps0_source"].as_str(), ddm["dps0_fiscal_year"].as_i64()),
        (Some("dividend"), Some(2024)),
        "{ddm}"
    );
    assert!(close(ddm["dps0"].as_f64().unwrap(), 51.555));
    let ke = ddm["request"]["cost_of_equity"].as_f64().unwrap();
    let wacc_ke = o["wacc_build_up"]["cost_of_equity"].as_f64().unwrap();
    assert_eq!(ke, wacc_ke);
    let (g1, g) = (0.05, 0.025);
    let mut pv = 0.0;
    let mut dps = 51.555;
    for t in 1..=5 {
        dps *= 1.0 + g1;
        pv += dps / (1.0 + ke).powi(t);
    }
    pv += dps * (1.0 + g) / (ke - g) / (1.0 + ke).powi(5);
    assert!(close(ddm["value_per_share"].as_f64().unwrap(), pv), "{ddm}");

    // 000999.SZ: no peer in 中成药, no dividend rows: the DDM falls back to dv_ttm × price.
    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation", &h, json!({"ts_code": "000999.SZ"})).await;
    assert_eq!(s, 200, "{v}");
    let o = &v["valuation_results"]["other_analysis"];
    assert_eq!(o["relative_valuation"]["peers"].as_u64(), Some(0));
    assert_eq!(o["ddm"]["dps0_source"].as_str(), Some("dv_ttm"));
}

#[tokio::test]
async fn scenarios_are_the_owners_and_apply_their_overlay() {
    let Some((t, _fx)) = with_statements().await else { return };
    let auth = common::bearer(&t.token);
    let h = [("authorization", auth.as_str())];
    let bob =
        common::user_with_key(&t.state, "bob@test.example", quantdesk_store::auth::Role::Analyst, &["read", "jobs"])
            .await;
    let bob_auth = common::bearer(&bob);
    let hb = [("authorization", bob_auth.as_str())];

    // Create, list, read.
    let body = json!({"name": "bull, slower", "preset": "Bull", "overlay": ["beta=0.95", "forecast_years=7"]});
    let (s, _, created) = common::call(&t, "POST", "/api/v1/valuation/scenarios", &h, body.clone()).await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!((created["preset"].as_str(), created["overlay"].as_array().unwrap().len()), (Some("bull"), 2));
    let (s, _, list) = common::call(&t, "GET", "/api/v1/valuation/scenarios", &h, Value::Null).await;
    assert_eq!((s.as_u16(), list.as_array().unwrap().len()), (200, 1), "{list}");
    let (s, _, one) = common::call(&t, "GET", &format!("/api/v1/valuation/scenarios/{id}"), &h, Value::Null).await;
    assert_eq!((s.as_u16(), &one), (200, &created));
    // The same name again is a conflict.
    let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation/scenarios", &h, body.clone()).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (409, Some("scenario_exists")), "{v}");

    // A bad overlay or preset is a 422 naming what is wrong; nothing is saved.
    for (bad, needle) in [
        (json!({"name": "b1", "overlay": ["beta=high"]}), "beta=high"),
        (json!({"name": "b2", "overlay": ["no_such_field=1"]}), "no_such_field"),
        (json!({"name": "b3", "overlay": ["beta"]}), "PATH=VALUE"),
        (json!({"name": "b4", "preset": "moonshot"}), "moonshot"),
        (json!({"name": "b5", "overlay": ["ts_code=000001.SZ"]}), "ts_code"),
        (json!({"name": "   "}), "blank"),
    ] {
        let (s, _, v) = common::call(&t, "POST", "/api/v1/valuation/scenarios", &h, bad.clone()).await;
        assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (422, Some("invalid_scenario")), "{bad}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(needle), "{bad}: {v}");
    }
    // Breaking the schema (a name over 80 characters, a number for a name) is a 400.
    let (s, _, _) = common::call(&t, "POST", "/api/v1/valuation/scenarios", &h, json!({"name": "x".repeat(81)})).await;
    assert_eq!(s, 400);
    let (s, _, _) = common::call(&t, "POST", "/api/v1/valuation/scenarios", &h, json!({"name": 5})).await;
    assert_eq!(s, 400);
    let (_, _, list) = common::call(&t, "GET", "/api/v1/valuation/scenarios", &h, Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "refusals saved nothing: {list}");

    // Another user: 404 on read, update, delete, and on applying it; their list is empty.
    let path = format!("/api/v1/valuation/scenarios/{id}");
    for (m, b) in [("GET", Value::Null), ("PUT", json!({"name": "mine"})), ("DELETE", Value::Null)] {
        let (s, _, v) = common::call(&t, m, &path, &hb, b).await;
        assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (404, Some("scenario_not_found")), "{m}: {v}");
    }
    let (_, _, list) = common::call(&t, "GET", "/api/v1/valuation/scenarios", &hb, Value::Null).await;
    assert_eq!(list, json!([]));
    let (s, _, v) =
        common::call(&t, "POST", "/api/v1/valuation", &hb, json!({"ts_code": "600519.SH", "scenario_id": id})).await;
    assert_eq!(s, 404, "{v}");
    let (_, _, one) = common::call(&t, "GET", &path, &h, Value::Null).await;
    assert_eq!(one, created, "bob's attempts changed nothing");

    // Applying it values exactly what its preset and edits say, and differs from the plain request.
    let vps = |v: &Value| v["valuation_results"]["dcf_forecast_details"]["value_per_share"].as_f64().unwrap();
    let (s, _, plain) = common::call(&t, "POST", "/api/v1/valuation", &h, json!({"ts_code": "600519.SH"})).await;
    assert_eq!(s, 200, "{plain}");
    let (s, _, with) = common::call(
        &t,
        "POST",
        "/api/v1/valuation",
        &h,
        json!({"ts_code": "600519.SH", "scenario_id": id, "beta": 1.4}),
    )
    .await;
    assert_eq!(s, 200, "{with}");
    let mut spelled = quantdesk_app::valuation::model::presets::preset("bull").unwrap();
    spelled["ts_code"] = json!("600519.SH");
    spelled["beta"] = json!(0.95);
    spelled["forecast_years"] = json!(7);
    let (_, _, want) = common::call(&t, "POST", "/api/v1/valuation", &h, spelled).await;
    assert!(close(vps(&with), vps(&want)), "{} vs {}", vps(&with), vps(&want));
    assert!(!close(vps(&with), vps(&plain)), "the scenario changes the answer");
    let years = with["valuation_results"]["detailed_forecast_table"].as_array().unwrap().len();
    assert_eq!(years, 7, "forecast_years=7 from the overlay");
    assert_eq!(with["valuation_results"]["other_analysis"]["wacc_build_up"]["beta"].as_f64(), Some(0.95));

    // Update: a rename and new edits; renaming onto another of one's names is a conflict.
    let (s, _, other) =
        common::call(&t, "POST", "/api/v1/valuation/scenarios", &h, json!({"name": "other", "overlay": []})).await;
    assert_eq!(s, 201, "{other}");
    let (s, _, v) = common::call(&t, "PUT", &path, &h, json!({"name": "other"})).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (409, Some("scenario_exists")), "{v}");
    let (s, _, v) =
        common::call(&t, "PUT", &path, &h, json!({"name": "renamed", "overlay": ["exit_multiple=5"]})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["preset"].as_str(), v["overlay"][0].as_str()),
        (Some("renamed"), None, Some("exit_multiple=5"))
    );
    let (s, _, v) =
        common::call(&t, "PUT", &path, &h, json!({"name": "renamed", "overlay": ["exit_multiple=x"]})).await;
    assert_eq!(s, 422, "{v}");
    let (_, _, one) = common::call(&t, "GET", &path, &h, Value::Null).await;
    assert_eq!(one["overlay"], json!(["exit_multiple=5"]), "a refused update changes nothing");

    // The sensitivity grid takes it too.
    let grid = json!({"ts_code": "600519.SH", "scenario_id": id, "sensitivity_analysis": {
        "row_axis": {"parameter_name": "wacc", "step": 0.01, "points": 3},
        "column_axis": {"parameter_name": "exit_multiple", "step": 1.0, "points": 3}}});
    let (s, _, g) = common::call(&t, "POST", "/api/v1/sensitivity", &h, grid).await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["column_values"][1].as_f64(), Some(5.0), "the grid centres on the scenario's multiple: {g}");

    // Delete; then it is gone everywhere.
    let (s, _, _) = common::call(&t, "DELETE", &path, &h, Value::Null).await;
    assert_eq!(s, 204);
    let (s, _, _) = common::call(&t, "GET", &path, &h, Value::Null).await;
    assert_eq!(s, 404);
    let (s, _, _) = common::call(&t, "DELETE", &path, &h, Value::Null).await;
    assert_eq!(s, 404);
    let (s, _, v) =
        common::call(&t, "POST", "/api/v1/valuation", &h, json!({"ts_code": "600519.SH", "scenario_id": id})).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (404, Some("scenario_not_found")), "{v}");
}
