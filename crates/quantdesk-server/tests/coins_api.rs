//! Coins through the HTTP API: the sign-up grant, the balance and ledger, the check-in, and an
//! administrator's audited adjustment.

mod common;

use axum::http::StatusCode;
use common::{app, bearer, call, login, mailed_code, user_with_key};
use quantdesk_store::auth::{AuditFilter, Role};
use serde_json::{Value, json};

#[tokio::test]
async fn a_confirmed_sign_up_grants_twenty_coins_once() {
    let t = app().await;
    let body = json!({"email": "coin@example.com", "password": "tulip-granite-42"});
    assert_eq!(call(&t, "POST", "/api/v1/auth/signup", &[], body).await.0, 202);
    let code = mailed_code(&t, "coin@example.com");
    let verify = json!({"email": "coin@example.com", "code": code});
    let (s, _, v) = call(&t, "POST", "/api/v1/auth/verify", &[], verify.clone()).await;
    assert_eq!(s, 200, "{v}");
    // The code is spent: a second confirmation grants nothing more.
    assert_eq!(call(&t, "POST", "/api/v1/auth/verify", &[], verify).await.0, 422);
    let (cookie, _) = login(&t, "coin@example.com", "tulip-granite-42").await;
    let (s, _, v) = call(&t, "GET", "/api/v1/coins", &[("cookie", &cookie)], Value::Null).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["available"].as_i64(), v["frozen"].as_i64()), (Some(20), Some(0)), "{v}");
    let (_, _, page) = call(&t, "GET", "/api/v1/coins/ledger", &[("cookie", &cookie)], Value::Null).await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!((page["items"][0]["kind"].as_str(), page["items"][0]["amount"].as_i64()), (Some("grant"), Some(20)));
}

#[tokio::test]
async fn a_viewer_checks_in_once_a_day_and_reads_the_ledger() {
    let t = app().await;
    let key = user_with_key(&t.state, "v@example.com", Role::Viewer, &["read"]).await;
    let auth = bearer(&key);
    let h = [("authorization", auth.as_str())];
    let (s, _, v) = call(&t, "GET", "/api/v1/coins", &h, Value::Null).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["available"].as_i64(), v["checked_in_today"].as_bool(), v["checkin_coins"].as_i64()),
        (Some(0), Some(false), Some(20))
    );
    assert_eq!(v["time_zone"], "Asia/Shanghai");
    let (s, _, first) = call(&t, "POST", "/api/v1/coins/check-in", &h, Value::Null).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(
        (first["coins"].as_i64(), first["already"].as_bool(), first["streak"].as_i64()),
        (Some(20), Some(false), Some(1))
    );
    let (s, _, again) = call(&t, "POST", "/api/v1/coins/check-in", &h, Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(
        (again["coins"].as_i64(), again["already"].as_bool(), again["available"].as_i64()),
        (Some(0), Some(true), Some(20))
    );
    let (_, _, v) = call(&t, "GET", "/api/v1/coins", &h, Value::Null).await;
    assert_eq!(
        (v["available"].as_i64(), v["checked_in_today"].as_bool(), v["streak"].as_i64()),
        (Some(20), Some(true), Some(1))
    );
    let (s, _, page) = call(&t, "GET", "/api/v1/coins/ledger?limit=10", &h, Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!((page["total"].as_u64(), page["items"][0]["kind"].as_str()), (Some(1), Some("checkin")));
    assert_eq!(call(&t, "GET", "/api/v1/coins/ledger?limit=0", &h, Value::Null).await.0, 400, "the schema's minimum");
    // Nobody's coins without credentials.
    assert_eq!(call(&t, "GET", "/api/v1/coins", &[], Value::Null).await.0, 401);
}

#[tokio::test]
async fn admins_adjust_coins_with_a_reason_and_the_audit_log_says_so() {
    let t = app().await;
    let key = user_with_key(&t.state, "a@example.com", Role::Analyst, &["read", "jobs"]).await;
    let user = t.state.store.user_by_email("a@example.com").await.unwrap().unwrap();
    let admin = bearer(&t.token);
    let uri = format!("/api/v1/admin/users/{}/coins", user.id);
    let adjust = |body: Value, auth: String| {
        let uri = uri.clone();
        let t = &t;
        async move { call(t, "POST", &uri, &[("authorization", &auth)], body).await }
    };
    let (s, _, v) =
        adjust(json!({"amount": 50, "reason": "support ticket 7", "idempotency_key": "t7"}), admin.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["amount"].as_i64(), v["available_after"].as_i64()),
        (Some("adjust"), Some(50), Some(50))
    );
    // The same key again changes nothing.
    let (s, _, again) =
        adjust(json!({"amount": 50, "reason": "support ticket 7", "idempotency_key": "t7"}), admin.clone()).await;
    assert_eq!((s, again["id"].clone()), (StatusCode::OK, v["id"].clone()));
    // Refusals: more than there is, a blank reason, a zero amount, an unknown user, a non-admin.
    let (s, _, e) = adjust(json!({"amount": -51, "reason": "too much"}), admin.clone()).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("insufficient_coins")));
    let (s, _, e) = adjust(json!({"amount": 5, "reason": "  "}), admin.clone()).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")));
    let (s, _, e) = adjust(json!({"amount": 0, "reason": "nothing"}), admin.clone()).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")));
    assert_eq!(adjust(json!({"amount": 5, "reason": ""}), admin.clone()).await.0, 400, "the schema's min_length");
    assert_eq!(adjust(json!({"amount": 5}), admin.clone()).await.0, 400, "a reason is required");
    let (s, _, _) = call(
        &t,
        "POST",
        "/api/v1/admin/users/999999/coins",
        &[("authorization", &admin)],
        json!({"amount": 5, "reason": "x"}),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(adjust(json!({"amount": 5, "reason": "mine"}), bearer(&key)).await.0, 403);
    let (s, _, e) = adjust(json!({"amount": -20, "reason": "refund of a bad report"}), admin.clone()).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(t.state.store.coin_account(user.id).await.unwrap().unwrap().available, 30);
    let audited = t
        .state
        .store
        .audit_log(&AuditFilter { event: Some("coins_adjusted".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(audited.len(), 2, "one entry per change, none for the replay");
    assert!(audited.iter().all(|a| a.target == "a@example.com" && a.actor == "admin@test.example"));
    assert!(audited.iter().any(|a| a.detail.contains("+50 (support ticket 7)")), "{audited:?}");
    assert!(t.state.coins.verify().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_job_cancelled_before_it_ran_gives_its_reserved_cost_back() {
    let t = app().await;
    let key = user_with_key(&t.state, "r@example.com", Role::Analyst, &["read", "jobs"]).await;
    let user = t.state.store.user_by_email("r@example.com").await.unwrap().unwrap();
    let actor = quantdesk_app::accounts::Actor::command_line(&user);
    quantdesk_app::coins::grant_signup(&*t.state.store, user.id, 20).await.unwrap();
    let hold = t.state.coins.reserve(&actor, quantdesk_app::coins::Operation::Report, "report:q", "").await.unwrap();
    assert!(matches!(hold, quantdesk_app::coins::Hold::Held { amount: 10, .. }));
    let auth = bearer(&key);
    let h = [("authorization", auth.as_str())];
    let job = json!({"kind": "echo", "params": {"coin_reservation": "report:q"}});
    let (s, _, v) = call(&t, "POST", "/api/v1/jobs", &h, job).await;
    assert!(s.is_success(), "{v}");
    let id = v["id"].as_i64().unwrap();
    let (_, _, coins) = call(&t, "GET", "/api/v1/coins", &h, Value::Null).await;
    assert_eq!((coins["available"].as_i64(), coins["frozen"].as_i64()), (Some(10), Some(10)));
    // No worker runs here: the job is still queued when it is cancelled.
    let (s, _, v) = call(&t, "POST", &format!("/api/v1/jobs/{id}/cancel"), &h, Value::Null).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{v}");
    let (_, _, coins) = call(&t, "GET", "/api/v1/coins", &h, Value::Null).await;
    assert_eq!((coins["available"].as_i64(), coins["frozen"].as_i64()), (Some(20), Some(0)), "{coins}");
    // Cancelling again gives nothing more.
    call(&t, "POST", &format!("/api/v1/jobs/{id}/cancel"), &h, Value::Null).await;
    assert_eq!(t.state.store.coin_account(user.id).await.unwrap().unwrap().available, 20);
}
