//! Test support: an in-process application over a fresh SQLite store.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use quantdesk_server::{AppState, Config};
use quantdesk_store::MarketStore;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: Arc<dyn MarketStore>,
    /// An admin's API key with every scope; [`TestApp::request`] sends it unless the request
    /// carries its own `Authorization`.
    pub token: String,
    _dir: tempfile::TempDir,
}

/// Creates a verified account and an API key with `scopes` for it; returns the token.
pub async fn user_with_key(
    state: &AppState,
    email: &str,
    role: quantdesk_store::auth::Role,
    scopes: &[&str],
) -> String {
    let (user, _) = state.accounts().ensure_user(email, "tulip-granite-41", role, true).await.unwrap();
    let actor = quantdesk_app::accounts::Actor::command_line(&user);
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    state.accounts().create_key(&ip, &actor, "test", &scopes, 1).await.unwrap().1
}

pub async fn app() -> TestApp {
    app_with(Config::default()).await
}

pub async fn app_with(mut config: Config) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    config.database.database_url = quantdesk_app::config::Secret::new(url.clone());
    let store = quantdesk_store::open(&url, 4).await.unwrap();
    if config.mail.mailbox_dir == Config::default().mail.mailbox_dir {
        config.mail.mailbox_dir = dir.path().join("mailbox").display().to_string();
    }
    let state = AppState::new(store.clone(), config, quantdesk_server::ops::metrics_handle());
    let token =
        user_with_key(&state, "admin@test.example", quantdesk_store::auth::Role::Admin, &["read", "jobs", "admin"])
            .await;
    TestApp { router: quantdesk_server::router(state.clone()), state, store, token, _dir: dir }
}

impl TestApp {
    pub async fn request(&self, mut req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        if !req.headers().contains_key("authorization") {
            req.headers_mut().insert("authorization", format!("Bearer {}", self.token).parse().unwrap());
        }
        self.request_as_is(req).await
    }

    /// Sends the request with exactly its own headers (no credentials added).
    pub async fn request_as_is(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec();
        (status, headers, body)
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Vec<u8>) {
        let (s, _, b) = self.request(Request::get(uri).body(Body::empty()).unwrap()).await;
        (s, b)
    }

    pub async fn get_json(&self, uri: &str) -> (StatusCode, Value) {
        let (s, b) = self.get(uri).await;
        let v = serde_json::from_slice(&b)
            .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&b)));
        (s, v)
    }

    /// Posts a multipart form with text fields and one file.
    pub async fn upload(
        &self,
        uri: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        file: &[u8],
    ) -> (StatusCode, Value) {
        let boundary = "----quantdesk-test-boundary";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::post(uri)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        let (s, _, b) = self.request(req).await;
        (s, serde_json::from_slice(&b).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&b))))
    }
}

// Account helpers shared by the access tests.

fn json_req(method: &str, uri: &str, body: &Value) -> axum::http::request::Builder {
    let _ = body;
    Request::builder().method(method).uri(uri).header("content-type", "application/json")
}

/// Sends JSON with exactly the given headers (no credentials added).
pub async fn call(
    t: &TestApp,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = json_req(method, uri, &body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
    let (s, h, b) = t.request_as_is(req.body(body).unwrap()).await;
    let v = if b.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&b).unwrap_or(Value::String(String::from_utf8_lossy(&b).into()))
    };
    (s, h, v)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The session cookie pair (`qd_session=…`) from a response.
pub fn session_of(h: &HeaderMap) -> String {
    let c = h.get("set-cookie").expect("a cookie").to_str().unwrap();
    c.split(';').next().unwrap().to_string()
}

/// The last code mailed to `to`.
pub fn mailed_code(t: &TestApp, to: &str) -> String {
    let mailbox = quantdesk_app::accounts::mailer::Mailbox::new(&t.state.config.mail.mailbox_dir, "x@y.z");
    let last = mailbox.messages_to(to).pop().expect("a message");
    let i = last.find("code is ").expect("a code in the message") + "code is ".len();
    last[i..i + 6].to_string()
}

pub async fn login(t: &TestApp, email: &str, password: &str) -> (String, String) {
    let (s, h, v) = call(t, "POST", "/api/v1/auth/login", &[], json!({"email": email, "password": password})).await;
    assert_eq!(s, 200, "{v}");
    (session_of(&h), v["csrf_token"].as_str().unwrap().to_string())
}

/// The fixtures folder, when `QUANTDESK_FIXTURES` is set.
pub fn fixtures() -> Option<PathBuf> {
    match std::env::var("QUANTDESK_FIXTURES") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
                panic!(
                    "QUANTDESK_FIXTURES is not set, and QUANTDESK_TEST_REQUIRE_ALL (set by .ci/run) forbids skipping the tests on real data"
                );
            }
            eprintln!("skipped: QUANTDESK_FIXTURES is not set (the tests on real data)");
            None
        }
    }
}

pub fn day(d: &str) -> i64 {
    d.parse::<chrono::NaiveDate>().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}
