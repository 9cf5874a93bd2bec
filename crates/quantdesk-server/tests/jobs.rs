//! The jobs API: submit, list, inspect, cancel, retry, events, artifacts.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::app;
use quantdesk_store::jobs::Outcome;
use serde_json::{Value, json};

async fn post_json(t: &common::TestApp, uri: &str, body: Value) -> (u16, Value) {
    let req = Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let (s, _, b) = t.request(req).await;
    (s.as_u16(), serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn submit_list_inspect_cancel_retry() {
    let t = app().await;
    let (s, v) =
        post_json(&t, "/api/v1/jobs", json!({"kind": "echo", "params": {"value": 1}, "idempotency_key": "abc"})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["created"], true);
    let (_, again) =
        post_json(&t, "/api/v1/jobs", json!({"kind": "echo", "params": {}, "idempotency_key": "abc"})).await;
    assert_eq!((again["id"].as_i64(), again["created"].as_bool()), (Some(id), Some(false)));
    for (body, why) in [
        (json!({"kind": "astrology", "params": {}}), "unknown job kind"),
        (json!({"kind": "echo", "params": [1, 2]}), "params must be a JSON object"),
        (json!({"kind": "echo", "params": {}, "max_attempts": 0}), "max_attempts"),
        (json!({"params": {}}), "missing field `kind`"),
    ] {
        let (s, v) = post_json(&t, "/api/v1/jobs", body).await;
        assert_eq!(s, 400);
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{v}");
    }
    // Well-formed requests whose params do not fit their kind (the job catalogue's types): 422,
    // and nothing is queued.
    for (body, why) in [
        (json!({"kind": "backtest", "params": {"symbols": "600519.SH"}}), "params of a backtest job"),
        (json!({"kind": "sweep", "params": {"symbols": ["600519.SH"]}}), "missing field `grid`"),
        (json!({"kind": "import", "params": {"files": [{"resolution": "1D"}]}}), "missing field `path`"),
        (json!({"kind": "echo", "params": {"sleep_ms": "soon"}}), "params of a echo job"),
        (json!({"kind": "backup", "params": {}}), "unknown job kind"),
    ] {
        let (s, v) = post_json(&t, "/api/v1/jobs", body).await;
        assert_eq!(s, if why == "unknown job kind" { 400 } else { 422 }, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{v}");
    }
    let (_, list) = t.get_json("/api/v1/jobs?state=queued").await;
    assert_eq!(list["items"][0]["id"].as_i64(), Some(id));
    assert_eq!(list["items"][0]["params"], json!({"value": 1}));
    let (s, _) = t.get_json("/api/v1/jobs?state=sleeping").await;
    assert_eq!(s, 400);
    let (s, v) = t.get_json(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["state"].as_str(), v["kind"].as_str(), v["attempts"].as_u64()),
        (Some("queued"), Some("echo"), Some(0))
    );
    assert!(v["log"].as_array().unwrap().is_empty());
    let (s, v) = t.get_json("/api/v1/jobs/424242").await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (404, Some("not_found")));

    // retrying a queued job is a conflict; cancelling it is immediate; then it can be retried
    let (s, v) = post_json(&t, &format!("/api/v1/jobs/{id}/retry"), json!({})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("conflict")));
    let (s, v) = post_json(&t, &format!("/api/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("cancelled")));
    let (s, v) = post_json(&t, &format!("/api/v1/jobs/{id}/retry"), json!({})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("queued")));
}

#[tokio::test]
async fn events_stream_until_the_job_ends_and_artifacts_download() {
    let t = app().await;
    let (_, v) = post_json(&t, "/api/v1/jobs", json!({"kind": "echo", "params": {}})).await;
    let id = v["id"].as_i64().unwrap();
    // play the worker: claim, report progress, store an artifact, succeed
    let store = t.state.store.clone();
    let worker = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let job = store.claim("w", &["default".to_string()], now_ms(), 60_000, None).await.unwrap().unwrap();
        store.heartbeat(job.id, "w", now_ms() + 60_000, (1, 2, "half way")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        store.put_artifact(job.id, "out.csv", "text/csv", b"a\n1\n").await.unwrap();
        store.finish(job.id, "w", &Outcome::Succeeded(r#"{"ok":true}"#.into()), now_ms()).await.unwrap();
    });
    let (s, h, body) = t.request(Request::get(format!("/api/v1/jobs/{id}/events")).body(Body::empty()).unwrap()).await;
    worker.await.unwrap();
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "text/event-stream");
    let text = String::from_utf8(body).unwrap();
    let states: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .map(|v| v["state"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(states.first().map(String::as_str), Some("queued"), "{text}");
    assert_eq!(states.last().map(String::as_str), Some("succeeded"), "{text}");
    assert!(text.contains("half way"), "progress came through: {text}");
    let (_, v) = t.get_json(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(v["result"], json!({"ok": true}));
    assert_eq!(v["artifacts"][0]["url"], format!("/api/v1/jobs/{id}/artifacts/out.csv"));
    let (s, h, b) =
        t.request(Request::get(format!("/api/v1/jobs/{id}/artifacts/out.csv")).body(Body::empty()).unwrap()).await;
    assert_eq!(
        (s.as_u16(), h["content-type"].to_str().unwrap(), b.as_slice()),
        (200, "text/csv", b"a\n1\n".as_slice())
    );
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"job-"));
    // An HTML report opens in the browser (inline), sandboxed; other files download.
    t.state.store.put_artifact(id, "report.html", "text/html", b"<!doctype html><p>report</p>").await.unwrap();
    let (s, h, b) =
        t.request(Request::get(format!("/api/v1/jobs/{id}/artifacts/report.html")).body(Body::empty()).unwrap()).await;
    assert_eq!((s.as_u16(), h["content-type"].to_str().unwrap()), (200, "text/html"));
    assert_eq!(h["content-disposition"], format!("inline; filename=\"job-{id}-report.html\"").as_str());
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"), "{h:?}");
    assert_eq!(b.as_slice(), b"<!doctype html><p>report</p>".as_slice());
    let (s, _) = t.get(&format!("/api/v1/jobs/{id}/artifacts/nope")).await;
    assert_eq!(s, 404);
    // the queue shows in readiness and metrics
    let (_, ready) = t.get_json("/readyz").await;
    assert_eq!(ready["checks"][1]["name"], "job_queue");
}

#[tokio::test]
async fn schedules_are_listed_saved_and_removed() {
    let t = app().await;
    let put = |name: &str, body: Value| {
        let req = Request::put(format!("/api/v1/schedules/{name}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        async { t.request(req).await }
    };
    let (s, _, b) = put("close", json!({"cron": "0  18 * * 1-5", "kind": "echo", "params": {"value": 1}})).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (v["cron"].as_str(), v["timezone"].as_str(), v["enabled"].as_bool()),
        (Some("0 18 * * 1-5"), Some("Asia/Shanghai"), Some(true))
    );
    // A kind outside the schema's list is malformed (400); a cron or zone that only the parser
    // can judge is unprocessable (422).
    for (body, why, status) in [
        (json!({"cron": "61 * * * *", "kind": "echo"}), "not a valid cron", 422),
        (json!({"cron": "* * * * *", "kind": "echo", "timezone": "Mars/Base"}), "time zone", 422),
        (json!({"cron": "* * * * *", "kind": "astrology"}), "unknown job kind", 400),
        (json!({"cron": "* * * * *", "kind": "decide", "params": {"symbols": 5}}), "params of a decide job", 422),
    ] {
        let (s, _, b) = put("x", body).await;
        assert_eq!(s, status, "{why}");
        assert!(String::from_utf8_lossy(&b).contains(why));
    }
    let (s, _, _) = put("bad%20name", json!({"cron": "* * * * *", "kind": "echo"})).await;
    assert_eq!(s, 400);
    let (_, list) = t.get_json("/api/v1/schedules").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, _, _) = t.request(Request::delete("/api/v1/schedules/close").body(Body::empty()).unwrap()).await;
    assert_eq!(s, 204);
    let (s, _, _) = t.request(Request::delete("/api/v1/schedules/close").body(Body::empty()).unwrap()).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn own_finished_runs_can_be_deleted() {
    let t = app().await;
    let delete = |uri: String, token: Option<String>| {
        let mut req = Request::delete(uri);
        if let Some(tok) = token {
            req = req.header("authorization", format!("Bearer {tok}"));
        }
        let req = req.body(Body::empty()).unwrap();
        async { t.request(req).await }
    };
    let (s, v) = post_json(&t, "/api/v1/jobs", json!({"kind": "echo", "params": {"value": 1}})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["id"].as_i64().unwrap();
    // Queued: refused with a conflict that says what to do.
    let (s, _, b) = delete(format!("/api/v1/jobs/{id}"), None).await;
    assert_eq!(s, 409);
    assert!(String::from_utf8_lossy(&b).contains("cancel it"));
    let (s, _) = post_json(&t, &format!("/api/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(s, 200);
    // Another user cannot see it, so cannot delete it: the same 404 as a missing job.
    let other =
        common::user_with_key(&t.state, "other@x.test", quantdesk_store::auth::Role::Analyst, &["read", "jobs"]).await;
    let (s, _, _) = delete(format!("/api/v1/jobs/{id}"), Some(other)).await;
    assert_eq!(s, 404);
    let (s, _, b) = delete(format!("/api/v1/jobs/{id}"), None).await;
    assert_eq!(s, 204, "{}", String::from_utf8_lossy(&b));
    let (s, _) = t.get(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(s, 404);
    let (s, _, _) = delete(format!("/api/v1/jobs/{id}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn priorities_above_the_default_are_for_admins_only() {
    use quantdesk_store::auth::Role;
    let t = app().await;
    let analyst = common::user_with_key(&t.state, "analyst@test.example", Role::Analyst, &["read", "jobs"]).await;
    // An admin's key without the admin scope acts as a non-admin.
    let narrow = common::user_with_key(&t.state, "admin2@test.example", Role::Admin, &["read", "jobs"]).await;
    let submit = |token: String, priority: i64| {
        let body = json!({"kind": "echo", "params": {}, "priority": priority}).to_string();
        let req = Request::post("/api/v1/jobs")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap();
        async { t.request(req).await }
    };
    for (token, priority) in [(&analyst, 1), (&analyst, 100), (&analyst, 5000), (&narrow, 50)] {
        let (s, _, b) = submit(token.clone(), priority).await;
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (403, Some("forbidden")), "priority {priority}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("administrators"), "{v}");
    }
    let (_, list) = t.get_json("/api/v1/jobs").await;
    assert!(list["items"].as_array().unwrap().is_empty(), "nothing was enqueued: {list}");
    // The default and below are everyone's; admins go up to 100.
    for (token, priority, stored) in [(&analyst, 0, 0), (&analyst, -5, -5), (&t.token, 100, 100), (&t.token, 900, 100)]
    {
        let (s, _, b) = submit(token.clone(), priority).await;
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(s.as_u16(), 202, "priority {priority}: {v}");
        let (_, job) = t.get_json(&format!("/api/v1/jobs/{}", v["id"])).await;
        assert_eq!(job["priority"], stored, "{job}");
    }
}

/// Issue 21, items 2 and 3: a backtest's parameters and costs are checked against the
/// strategy's declaration and the engine's ranges at submission, and the answer names the field
/// (before, `fast: 0.5` ran with a truncated period and a 500 % commission ran to −140 %).
#[tokio::test]
async fn a_backtest_with_a_bad_parameter_or_cost_is_refused_naming_the_field() {
    let t = app().await;
    let run = |params: Value, config: Value| json!({"kind": "backtest", "params": {"symbols": ["600519.SH"], "strategy": "sma_cross", "params": params, "config": config}});
    for (body, field) in [
        (run(json!({"fast": 0.5}), json!({})), "params.fast"),
        (run(json!({"fast": 30, "slow": 20}), json!({})), "params.fast"),
        (run(json!({"period": 14}), json!({})), "params.period"),
        (run(json!({}), json!({"costs": {"commission_rate": 5}})), "config.costs.commission_rate"),
        (run(json!({}), json!({"cash": -1})), "config.cash"),
        (
            json!({"kind": "backtest", "params": {"symbols": ["X"], "strategy": "rsi", "params": {"period": 14.5}}}),
            "params.period",
        ),
        (json!({"kind": "backtest", "params": {"symbols": ["X"], "strategy": "moon"}}), "strategy"),
        (json!({"kind": "sweep", "params": {"symbols": ["X"], "grid": ["speed=1,2"]}}), "grid.0"),
    ] {
        let (s, v) = post_json(&t, "/api/v1/jobs", body.clone()).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_params")), "{body} → {v}");
        assert_eq!(v["error"]["field"].as_str(), Some(field), "{body} → {v}");
    }
    // Forced, a 50 % commission is accepted; a sweep's base may only be complete with its grid.
    let (s, v) =
        post_json(&t, "/api/v1/jobs", run(json!({}), json!({"costs": {"commission_rate": 0.5, "force": true}}))).await;
    assert_eq!(s, 202, "{v}");
    let sweep = json!({"kind": "sweep", "params": {"symbols": ["X"], "params": {"slow": 5}, "grid": ["fast=1:4:1"]}});
    let (s, v) = post_json(&t, "/api/v1/jobs", sweep).await;
    assert_eq!(s, 202, "{v}");
    let (_, list) = t.get_json("/api/v1/jobs").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "nothing refused was queued: {list}");
}
