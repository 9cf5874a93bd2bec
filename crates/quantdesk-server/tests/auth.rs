//! Accounts and access through the HTTP API: sign-up with codes, sessions, CSRF, keys and scopes,
//! ownership, throttling, rate limits, allow-lists and headers.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, app, app_with, bearer, call, login, mailed_code, session_of, user_with_key};
use quantdesk_app::config::Config;
use quantdesk_store::auth::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn signup_verify_login_and_the_code_never_shows() {
    // Capture this thread's logs to prove the code is not in them.
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber_for(sink);
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = app().await;
    let mut seen = String::new();
    let (s, h, v) = call(
        &t,
        "POST",
        "/api/v1/auth/signup",
        &[],
        json!({"email": "New@Example.com", "password": "tulip-granite-42"}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    seen += &format!("{h:?}{v}");
    let code = mailed_code(&t, "new@example.com");
    // One send per minute per address.
    let (s, h, v) = call(
        &t,
        "POST",
        "/api/v1/auth/signup",
        &[],
        json!({"email": "new@example.com", "password": "tulip-granite-42"}),
    )
    .await;
    assert_eq!(s, 429, "{v}");
    assert!(h.contains_key("retry-after"));
    seen += &format!("{h:?}{v}");
    // Not verified yet: the right password still cannot sign in.
    let (s, h, v) = call(
        &t,
        "POST",
        "/api/v1/auth/login",
        &[],
        json!({"email": "new@example.com", "password": "tulip-granite-42"}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("unverified")));
    seen += &format!("{h:?}{v}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, h, v) =
        call(&t, "POST", "/api/v1/auth/verify", &[], json!({"email": "new@example.com", "code": wrong})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_code")));
    seen += &format!("{h:?}{v}");
    let (s, h, v) =
        call(&t, "POST", "/api/v1/auth/verify", &[], json!({"email": "new@example.com", "code": code})).await;
    assert_eq!(s, 200, "{v}");
    seen += &format!("{h:?}{v}");
    let (s, h, v) =
        call(&t, "POST", "/api/v1/auth/verify", &[], json!({"email": "new@example.com", "code": code})).await;
    assert_eq!(s, 422, "a code works once: {v}");
    seen += &format!("{h:?}{v}");
    let (cookie, _) = login(&t, "new@example.com", "tulip-granite-42").await;
    let (s, h, me) = call(&t, "GET", "/api/v1/auth/me", &[("cookie", &cookie)], Value::Null).await;
    assert_eq!((s, me["role"].as_str(), me["via"].as_str()), (StatusCode::OK, Some("analyst"), Some("session")));
    seen += &format!("{h:?}{me}");
    // The audit log (admins) does not hold it either.
    let (_, _, audit) =
        call(&t, "GET", "/api/v1/admin/audit", &[("authorization", &bearer(&t.token))], Value::Null).await;
    assert!(audit.as_array().unwrap().iter().any(|e| e["event"] == "signup_verified"));
    seen += &audit.to_string();

    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("development mailbox"), "the mailbox logs where mail went: {logged}");
    assert!(!logged.contains(&code), "the code is in a log line");
    assert!(!seen.contains(&code), "the code is in a response");
    // And it is stored hashed.
    assert!(t.state.store.email_code("new@example.com", "signup").await.unwrap().is_none(), "used codes are gone");
}

fn tracing_subscriber_for(sink: std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> impl tracing::Subscriber + Send + Sync {
    #[derive(Clone)]
    struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let w = W(sink);
    tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || w.clone()).finish()
}

#[tokio::test]
async fn a_code_dies_after_five_wrong_guesses() {
    let t = app().await;
    call(&t, "POST", "/api/v1/auth/signup", &[], json!({"email": "g@example.com", "password": "tulip-granite-42"}))
        .await;
    let code = mailed_code(&t, "g@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (s, _, _) =
            call(&t, "POST", "/api/v1/auth/verify", &[], json!({"email": "g@example.com", "code": wrong})).await;
        assert_eq!(s, 422);
    }
    let (s, _, _) = call(&t, "POST", "/api/v1/auth/verify", &[], json!({"email": "g@example.com", "code": code})).await;
    assert_eq!(s, 422, "the right code is refused once the guesses are spent");
}

#[tokio::test]
async fn brute_force_gets_429_and_learns_nothing() {
    let t = app().await;
    user_with_key(&t.state, "victim@example.com", Role::Analyst, &["read"]).await;
    let mut runs = Vec::new();
    for email in ["victim@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for i in 0..6 {
            let (s, h, v) = call(
                &t,
                "POST",
                "/api/v1/auth/login",
                &[],
                json!({"email": email, "password": format!("guess-number-{i}")}),
            )
            .await;
            let retry = h.get("retry-after").is_some();
            // Strip the seconds, which depend on timing, from the message.
            let msg = v["error"]["message"].as_str().unwrap_or("").split("; try again").next().unwrap().to_string();
            seen.push((s, v["error"]["code"].as_str().unwrap_or("").to_string(), msg, retry));
        }
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1], "an existing account and a missing one answer alike");
    let statuses: Vec<u16> = runs[0].iter().map(|r| r.0.as_u16()).collect();
    assert_eq!(&statuses[..3], [401, 401, 401]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(runs[0][3].3, "429 carries Retry-After");
    // Even the right password waits while throttled.
    let (s, _, _) = call(
        &t,
        "POST",
        "/api/v1/auth/login",
        &[],
        json!({"email": "victim@example.com", "password": "tulip-granite-41"}),
    )
    .await;
    assert_eq!(s, 429);
    let filter =
        quantdesk_store::auth::AuditFilter { event: Some("login_failed".into()), limit: 100, ..Default::default() };
    assert_eq!(
        t.state.store.audit_log(&filter).await.unwrap().len(),
        6,
        "failures are audited; throttled attempts are not counted again"
    );
}

#[tokio::test]
async fn sessions_need_csrf_and_end_on_logout_and_password_change() {
    let t = app().await;
    user_with_key(&t.state, "a@example.com", Role::Analyst, &["read"]).await;
    let (c1, csrf1) = login(&t, "a@example.com", "tulip-granite-41").await;
    let (c2, _) = login(&t, "a@example.com", "tulip-granite-41").await;
    assert_ne!(c1, c2, "every login gets a new session id");
    let job = json!({"kind": "echo", "params": {}});
    let (s, _, v) = call(&t, "POST", "/api/v1/jobs", &[("cookie", &c1)], job.clone()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf")));
    let (s, _, v) = call(&t, "POST", "/api/v1/jobs", &[("cookie", &c1), ("x-csrf-token", "wrong")], job.clone()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf")));
    let (s, _, v) = call(
        &t,
        "POST",
        "/api/v1/jobs",
        &[("cookie", &c1), ("x-csrf-token", &csrf1), ("origin", "https://evil.example"), ("host", "q.example")],
        job.clone(),
    )
    .await;
    assert_eq!(s, 403, "cross-site, even with the token: {v}");
    let (s, _, v) = call(&t, "POST", "/api/v1/jobs", &[("cookie", &c1), ("x-csrf-token", &csrf1)], job.clone()).await;
    assert_eq!(s, 202, "{v}");

    // Logout ends that session only.
    let (s, h, _) =
        call(&t, "POST", "/api/v1/auth/logout", &[("cookie", &c2), ("x-csrf-token", "x")], Value::Null).await;
    assert_eq!(s, 403, "logout needs the token too");
    let csrf2 = {
        let (_, _, me) = call(&t, "GET", "/api/v1/auth/me", &[("cookie", &c2)], Value::Null).await;
        me["csrf_token"].as_str().unwrap().to_string()
    };
    let (s, h2, _) =
        call(&t, "POST", "/api/v1/auth/logout", &[("cookie", &c2), ("x-csrf-token", &csrf2)], Value::Null).await;
    assert_eq!(s, 204);
    assert!(h2["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let _ = h;
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &c2)], Value::Null).await.0, 401);
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &c1)], Value::Null).await.0, 200);

    // A password change ends every session; the browser that changed it gets a new one.
    let (c3, _) = login(&t, "a@example.com", "tulip-granite-41").await;
    let change = json!({"current_password": "tulip-granite-41", "new_password": "basalt-orchid-77"});
    let (s, h, v) =
        call(&t, "POST", "/api/v1/auth/password/change", &[("cookie", &c1), ("x-csrf-token", &csrf1)], change).await;
    assert_eq!(s, 200, "{v}");
    let fresh = session_of(&h);
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &c1)], Value::Null).await.0, 401);
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &c3)], Value::Null).await.0, 401);
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &fresh)], Value::Null).await.0, 200);
    login(&t, "a@example.com", "basalt-orchid-77").await;
    let weak = json!({"current_password": "basalt-orchid-77", "new_password": "password1"});
    let (_, _, me) = call(&t, "GET", "/api/v1/auth/me", &[("cookie", &fresh)], Value::Null).await;
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    let (s, _, v) =
        call(&t, "POST", "/api/v1/auth/password/change", &[("cookie", &fresh), ("x-csrf-token", &csrf)], weak).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")),
        "common passwords"
    );
}

#[tokio::test]
async fn reset_by_code_sets_a_new_password_and_ends_sessions() {
    let t = app().await;
    user_with_key(&t.state, "r@example.com", Role::Viewer, &["read"]).await;
    let (cookie, _) = login(&t, "r@example.com", "tulip-granite-41").await;
    let (s, _, unknown) =
        call(&t, "POST", "/api/v1/auth/password/reset", &[], json!({"email": "ghost@example.com"})).await;
    let (s2, _, known) = call(&t, "POST", "/api/v1/auth/password/reset", &[], json!({"email": "r@example.com"})).await;
    assert_eq!((s, &unknown), (s2, &known), "the answer does not tell whether the account exists");
    let code = mailed_code(&t, "r@example.com");
    let (s, _, v) = call(
        &t,
        "POST",
        "/api/v1/auth/password/reset/confirm",
        &[],
        json!({"email": "r@example.com", "code": code, "new_password": "basalt-orchid-77"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &cookie)], Value::Null).await.0, 401);
    let (s, _, _) =
        call(&t, "POST", "/api/v1/auth/login", &[], json!({"email": "r@example.com", "password": "tulip-granite-41"}))
            .await;
    assert_eq!(s, 401, "the old password is gone");
    login(&t, "r@example.com", "basalt-orchid-77").await;
}

#[tokio::test]
async fn keys_are_shown_once_scoped_and_revocable() {
    let t = app().await;
    let analyst = user_with_key(&t.state, "an@example.com", Role::Analyst, &["read", "jobs"]).await;
    let auth = bearer(&analyst);
    // Keys are managed from a session (or an admin-scoped key): a key without admin cannot
    // mint or delete keys.
    let (s, _, v) =
        call(&t, "POST", "/api/v1/keys", &[("authorization", &auth)], json!({"name": "ro", "scopes": ["read"]})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");
    let (cookie, csrf) = login(&t, "an@example.com", "tulip-granite-41").await;
    let session: &[(&str, &str)] = &[("cookie", &cookie), ("x-csrf-token", &csrf)];
    let (s, _, v) = call(&t, "POST", "/api/v1/keys", session, json!({"name": "ro", "scopes": ["read"]})).await;
    assert_eq!(s, 201, "{v}");
    let ro = v["token"].as_str().unwrap().to_string();
    assert!(ro.starts_with("qd_"));
    let (_, _, list) = call(&t, "GET", "/api/v1/keys", &[("authorization", &auth)], Value::Null).await;
    assert!(!list.to_string().contains(&ro[16..]), "lists never show the secret");
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (s, _, v) = call(&t, "POST", "/api/v1/keys", session, json!({"name": "x", "scopes": ["admin"]})).await;
    assert_eq!(s, 403, "no scope beyond the role: {v}");

    // Too small a scope is refused, with a reason.
    let job = json!({"kind": "echo", "params": {}});
    let (s, _, v) = call(&t, "POST", "/api/v1/jobs", &[("authorization", &bearer(&ro))], job.clone()).await;
    assert_eq!(s, 403);
    assert!(v["error"]["message"].as_str().unwrap().contains("jobs scope"), "{v}");
    assert_eq!(call(&t, "GET", "/api/v1/instruments", &[("authorization", &bearer(&ro))], Value::Null).await.0, 200);
    assert_eq!(call(&t, "GET", "/api/v1/admin/users", &[("authorization", &auth)], Value::Null).await.0, 403);

    // Revoked, tampered and malformed keys are refused.
    let id = v_id(&t, &auth, "ro").await;
    let (s, _, _) = call(&t, "DELETE", &format!("/api/v1/keys/{id}"), &[("authorization", &auth)], Value::Null).await;
    assert_eq!(s, 403, "a key without admin cannot delete keys");
    let (s, _, _) = call(&t, "DELETE", &format!("/api/v1/keys/{id}"), session, Value::Null).await;
    assert_eq!(s, 204);
    let (s, _, v) = call(&t, "GET", "/api/v1/instruments", &[("authorization", &bearer(&ro))], Value::Null).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    let mut tampered = analyst.clone();
    tampered.pop();
    tampered.push(if analyst.ends_with('0') { '1' } else { '0' });
    assert_eq!(
        call(&t, "GET", "/api/v1/instruments", &[("authorization", &bearer(&tampered))], Value::Null).await.0,
        401
    );
    assert_eq!(call(&t, "GET", "/api/v1/instruments", &[("authorization", "Basic abc")], Value::Null).await.0, 401);

    // Another user's key is not theirs to revoke; a disabled user's keys stop working.
    user_with_key(&t.state, "other@example.com", Role::Analyst, &["read"]).await;
    let (other_cookie, other_csrf) = login(&t, "other@example.com", "tulip-granite-41").await;
    let (s, _, _) = call(
        &t,
        "DELETE",
        &format!("/api/v1/keys/{id}"),
        &[("cookie", &other_cookie), ("x-csrf-token", &other_csrf)],
        Value::Null,
    )
    .await;
    assert_eq!(s, 404);
    let u = t.state.store.user_by_email("an@example.com").await.unwrap().unwrap();
    let (s, _, v) = call(
        &t,
        "PATCH",
        &format!("/api/v1/admin/users/{}", u.id),
        &[("authorization", &bearer(&t.token))],
        json!({"disabled": true, "role": "viewer"}),
    )
    .await;
    assert_eq!((s, v["disabled"].as_bool(), v["role"].as_str()), (StatusCode::OK, Some(true), Some("viewer")), "{v}");
    assert_eq!(call(&t, "GET", "/api/v1/instruments", &[("authorization", &auth)], Value::Null).await.0, 401);
    let (_, _, audit) =
        call(&t, "GET", "/api/v1/admin/audit?event=role_changed", &[("authorization", &bearer(&t.token))], Value::Null)
            .await;
    assert_eq!(audit[0]["detail"], "analyst -> viewer");
}

async fn v_id(t: &TestApp, auth: &str, name: &str) -> i64 {
    let (_, _, list) = call(t, "GET", "/api/v1/keys", &[("authorization", auth)], Value::Null).await;
    list.as_array().unwrap().iter().find(|k| k["name"] == name).unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn another_users_objects_answer_404_and_admins_see_everything() {
    let t = app().await;
    let alice = bearer(&user_with_key(&t.state, "alice@example.com", Role::Analyst, &["read", "jobs"]).await);
    let bob = bearer(&user_with_key(&t.state, "bob@example.com", Role::Analyst, &["read", "jobs"]).await);
    let (_, _, v) = call(
        &t,
        "POST",
        "/api/v1/jobs",
        &[("authorization", &alice)],
        json!({"kind": "echo", "params": {}, "idempotency_key": "k"}),
    )
    .await;
    let id = v["id"].as_i64().unwrap();
    for (method, path) in [
        ("GET", format!("/api/v1/jobs/{id}")),
        ("POST", format!("/api/v1/jobs/{id}/cancel")),
        ("POST", format!("/api/v1/jobs/{id}/retry")),
        ("GET", format!("/api/v1/jobs/{id}/events")),
        ("GET", format!("/api/v1/jobs/{id}/artifacts/result.json")),
    ] {
        let (s, _, v) = call(&t, method, &path, &[("authorization", &bob)], Value::Null).await;
        assert_eq!(s, 404, "{method} {path}: {v}");
        assert_eq!(v["error"]["message"], format!("no job {id}"), "the same answer as a missing job");
    }
    let (_, _, bobs) = call(&t, "GET", "/api/v1/jobs", &[("authorization", &bob)], Value::Null).await;
    assert!(bobs["items"].as_array().unwrap().is_empty());
    // The same idempotency key from another user is another job.
    let (_, _, v) = call(
        &t,
        "POST",
        "/api/v1/jobs",
        &[("authorization", &bob)],
        json!({"kind": "echo", "params": {}, "idempotency_key": "k"}),
    )
    .await;
    assert_ne!(v["id"].as_i64().unwrap(), id);
    assert_eq!(call(&t, "GET", &format!("/api/v1/jobs/{id}"), &[("authorization", &alice)], Value::Null).await.0, 200);
    assert_eq!(
        call(&t, "GET", &format!("/api/v1/jobs/{id}"), &[("authorization", &bearer(&t.token))], Value::Null).await.0,
        200
    );
    let (_, _, all) = call(&t, "GET", "/api/v1/jobs", &[("authorization", &bearer(&t.token))], Value::Null).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // Schedules too: bob neither sees nor replaces nor deletes alice's.
    let sch = json!({"cron": "0 18 * * 1-5", "kind": "echo"});
    assert_eq!(call(&t, "PUT", "/api/v1/schedules/nightly", &[("authorization", &alice)], sch.clone()).await.0, 200);
    let (_, _, list) = call(&t, "GET", "/api/v1/schedules", &[("authorization", &bob)], Value::Null).await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    assert_eq!(call(&t, "PUT", "/api/v1/schedules/nightly", &[("authorization", &bob)], sch).await.0, 409);
    assert_eq!(call(&t, "DELETE", "/api/v1/schedules/nightly", &[("authorization", &bob)], Value::Null).await.0, 404);
    let s = t.state.store.schedules().await.unwrap();
    let alice_id = t.state.store.user_by_email("alice@example.com").await.unwrap().unwrap().id;
    assert_eq!(s[0].owner, alice_id.to_string(), "the schedule's jobs run as alice");
}

#[tokio::test]
async fn rate_limits_allow_lists_cors_and_headers() {
    let t = app_with({
        let mut c = Config::default();
        c.server.rate_limit_ip_per_minute = 60;
        c
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..12 {
        let (s, h, _) = t.request_as_is(Request::get("/version").body(Body::empty()).unwrap()).await;
        statuses.push(s.as_u16());
        retry = retry.or(h.get("retry-after").cloned());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "a burst of 10, then 429: {statuses:?}");
    assert!(retry.is_some());
    assert_eq!(
        t.request_as_is(Request::get("/healthz").body(Body::empty()).unwrap()).await.0,
        200,
        "probes are exempt"
    );

    let t = app_with({
        let mut c = Config::default();
        c.server.allow_cidrs = vec!["10.0.0.0/8".into()];
        c
    })
    .await;
    let (s, _, body) = t.request(Request::get("/api/v1/instruments").body(Body::empty()).unwrap()).await;
    assert_eq!(s, 403, "{}", String::from_utf8_lossy(&body));
    assert_eq!(t.request_as_is(Request::get("/healthz").body(Body::empty()).unwrap()).await.0, 200);

    let t = app_with({
        let mut c = Config::default();
        c.server.cors_origins = vec!["https://charts.example".into()];
        c.server.tls = true;
        c
    })
    .await;
    let preflight = |origin: &'static str| {
        Request::options("/api/v1/instruments")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let (_, h, _) = t.request_as_is(preflight("https://charts.example")).await;
    assert_eq!(h["access-control-allow-origin"], "https://charts.example");
    let (_, h, _) = t.request_as_is(preflight("https://evil.example")).await;
    assert!(!h.contains_key("access-control-allow-origin"));
    let (s, h, _) = t.request(Request::get("/api/v1/instruments").body(Body::empty()).unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(h["strict-transport-security"].to_str().unwrap().contains("max-age="), "HSTS when TLS is on");
    let (_, h, _) = call(
        &t,
        "POST",
        "/api/v1/auth/login",
        &[],
        json!({"email": "admin@test.example", "password": "tulip-granite-41"}),
    )
    .await;
    let cookie = h["set-cookie"].to_str().unwrap();
    for part in ["__Host-qd_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
}

#[tokio::test]
async fn the_udf_datafeed_can_be_public_read_only() {
    let closed = app().await;
    let req = || Request::get("/udf/config").body(Body::empty()).unwrap();
    let (s, h, _) = closed.request_as_is(req()).await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Bearer");
    let open = app_with({
        let mut c = Config::default();
        c.server.udf_public = true;
        c
    })
    .await;
    assert_eq!(open.request_as_is(req()).await.0, 200);
    assert_eq!(open.request_as_is(Request::get("/api/v1/instruments").body(Body::empty()).unwrap()).await.0, 401);
}

#[tokio::test]
async fn settings_follow_their_user() {
    let t = common::app().await;
    let put = |name: &str, body: &str, token: Option<&str>| {
        let mut req =
            axum::http::Request::put(format!("/api/v1/auth/prefs/{name}")).header("content-type", "application/json");
        if let Some(tok) = token {
            req = req.header("authorization", format!("Bearer {tok}"));
        }
        let req = req.body(axum::body::Body::from(body.to_string())).unwrap();
        async { t.request(req).await }
    };
    let (s, _, b) = put("replay.600519.SH.1D", r#"{"value": "{\"cursor\": 1700000000}"}"#, None).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let (s, v) = t.get_json("/api/v1/auth/prefs/replay.600519.SH.1D").await;
    assert_eq!((s.as_u16(), v["value"].as_str()), (200, Some(r#"{"cursor": 1700000000}"#)));
    // Another user has their own settings (a viewer may keep settings too).
    let other = common::user_with_key(&t.state, "viewer@x.test", quantdesk_store::auth::Role::Viewer, &["read"]).await;
    let req = axum::http::Request::get("/api/v1/auth/prefs/replay.600519.SH.1D")
        .header("authorization", format!("Bearer {other}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (s, _, b) = t.request(req).await;
    assert_eq!((s.as_u16(), String::from_utf8_lossy(&b).as_ref()), (200, r#"{"value":null}"#), "never set");
    let (s, _, _) = put("replay.600519.SH.1D", r#"{"value": "mine"}"#, Some(&other)).await;
    assert_eq!(s, 200);
    let (_, v) = t.get_json("/api/v1/auth/prefs/replay.600519.SH.1D").await;
    assert_eq!(v["value"], r#"{"cursor": 1700000000}"#, "untouched by the other user");
    let (s, _, _) = put("bad%20name", r#"{"value": "x"}"#, None).await;
    assert_eq!(s, 400);
    let (s, _, _) = put("ok", &format!(r#"{{"value": "{}"}}"#, "x".repeat(5000)), None).await;
    assert_eq!(s, 400);
    let req = axum::http::Request::get("/api/v1/auth/prefs/ok").body(axum::body::Body::empty()).unwrap();
    let (s, _, _) = t.request_as_is(req).await;
    assert_eq!(s, 401);
}
