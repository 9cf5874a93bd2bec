//! `/api/v1/reports` and `/api/v1/prompts`: enqueueing, the owner's listing with filters, reading,
//! exports, deletion by the owner only, and prompt versions written by admins only.

mod common;

use axum::http::StatusCode;
use common::{app, bearer, call, user_with_key};
use quantdesk_app::reports::service::{ReportRequest, create};
use quantdesk_app::reports::{Lang, ReportType};
use quantdesk_store::auth::Role;
use serde_json::json;

async fn write_report(t: &common::TestApp, owner: &str, kind: ReportType) -> i64 {
    let req = ReportRequest {
        owner: owner.into(),
        symbol: "000858.SZ".into(),
        kind,
        lang: Lang::En,
        date: None,
        prompt_id: None,
        job_id: None,
    };
    create(&*t.state.store, &req, None, &mut |_: &str| {}, 1_000).await.unwrap().id
}

#[tokio::test]
async fn reports_are_enqueued_listed_read_exported_and_deleted_by_their_owner() {
    let t = app().await;
    quantdesk_app::demo::load(&*t.state.store, chrono::NaiveDate::from_ymd_opt(2024, 6, 28).unwrap()).await.unwrap();
    let alice = user_with_key(&t.state, "alice@test.example", Role::Analyst, &["read", "jobs"]).await;
    let a = bearer(&alice);
    let h = [("authorization", a.as_str())];

    let (s, _, v) =
        call(&t, "POST", "/api/v1/reports", &h, json!({"symbol": "000858.SZ", "type": "chan", "lang": "en"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let job = t.state.store.job(v["job_id"].as_i64().unwrap()).await.unwrap().unwrap();
    assert_eq!((job.kind.as_str(), job.owner.as_str()), ("report", "2"));
    assert!(job.params.contains("\"symbols\":[\"000858.SZ\"]"), "{}", job.params);
    for bad in [
        json!({"type": "chan"}),
        json!({"symbol": "bad symbol!", "type": "chan"}),
        json!({"symbol": "000858.SZ", "type": "chan", "date": "2024-02-30"}),
    ] {
        let (s, _, v) = call(&t, "POST", "/api/v1/reports", &h, bad).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")), "{v}");
    }
    let (s, _, _) = call(&t, "POST", "/api/v1/reports", &h, json!({"symbol": "000858.SZ", "type": "poem"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a type outside the schema");

    let mine = write_report(&t, "2", ReportType::Technical).await;
    let theirs = write_report(&t, "1", ReportType::Chan).await;
    let (s, _, v) = call(&t, "GET", "/api/v1/reports", &h, json!(null)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 1, "alice sees her own: {v}");
    assert_eq!(v["items"][0]["id"], mine);
    assert_eq!(v["items"][0]["offline"], true);
    let (_, all) = t.get_json("/api/v1/reports?type=chan").await;
    assert_eq!(
        (all["total"].as_u64(), all["items"][0]["id"].as_i64()),
        (Some(1), Some(theirs)),
        "admins see everyone's: {all}"
    );
    let (_, none) = t.get_json("/api/v1/reports?from=2030-01-01").await;
    assert_eq!(none["total"], 0);
    // An empty or impossible date is refused, not read as no bound.
    for q in ["to=", "from=", "to=2024-02-30"] {
        let (s, v) = t.get_json(&format!("/api/v1/reports?{q}")).await;
        assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (422, Some("invalid_params")), "{q}: {v}");
    }

    let (s, _, v) = call(&t, "GET", &format!("/api/v1/reports/{mine}"), &h, json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["html"].as_str().unwrap().contains("<a href=\"/chart/000858.SZ?date="), "{}", v["html"]);
    assert_eq!(v["context"]["symbol"], "000858.SZ");
    let (s, _, _) = call(&t, "GET", &format!("/api/v1/reports/{theirs}"), &h, json!(null)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "someone else's report is absent");

    let (s, hd, body) = t
        .request(
            axum::http::Request::get(format!("/api/v1/reports/{mine}/export?format=html"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(hd["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script"));
    let (s, body) = t.get(&format!("/api/v1/reports/{mine}/export")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8(body).unwrap().contains("without a language model"));

    let (s, _, _) = call(&t, "DELETE", &format!("/api/v1/reports/{theirs}"), &h, json!(null)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(&t, "DELETE", &format!("/api/v1/reports/{mine}"), &h, json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call(&t, "GET", &format!("/api/v1/reports/{mine}"), &h, json!(null)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn prompts_are_versioned_and_written_by_admins_only() {
    let t = app().await;
    let alice = user_with_key(&t.state, "alice@test.example", Role::Analyst, &["read", "jobs"]).await;
    let a = bearer(&alice);
    let (s, v) = t.get_json("/api/v1/prompts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 10, "the shipped defaults");
    let body = json!({"name": "mine", "kind": "technical", "lang": "en", "system": "Analyst on ${symbol}.", "user": "${digest}"});
    let (s, _, v) = call(&t, "POST", "/api/v1/prompts", &[("authorization", a.as_str())], body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let admin = bearer(&t.token);
    let h = [("authorization", admin.as_str())];
    let (s, _, v1) = call(&t, "POST", "/api/v1/prompts", &h, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v1}");
    assert_eq!(v1["version"], 1);
    let mut edited = body.clone();
    edited["user"] = json!("${digest}\n${context_json}");
    let (_, _, v2) = call(&t, "POST", "/api/v1/prompts", &h, edited).await;
    assert_eq!(v2["version"], 2);
    let (_, versions) = t.get_json(&format!("/api/v1/prompts/{}/versions", v2["id"])).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let mut bad = body;
    bad["user"] = json!("${password}");
    let (s, _, v) = call(&t, "POST", "/api/v1/prompts", &h, bad).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")), "{v}");
    let (s, _, _) = call(&t, "POST", &format!("/api/v1/prompts/{}/default", v2["id"]), &h, json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let d = t.state.store.default_template("technical", "en").await.unwrap().unwrap();
    assert_eq!(d.name, "mine");
}
