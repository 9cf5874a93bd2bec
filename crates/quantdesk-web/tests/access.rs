//! Every route of the whole application, enumerated from the router's own table, refuses callers
//! without credentials: 401 for programs, a redirect to the sign-in page for people. Only the
//! routes listed in `PUBLIC` answer, so adding a public route is a decision made here.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quantdesk_server::{AppState, Config};
use tower::ServiceExt;

/// (method, path) pairs that answer without credentials.
const PUBLIC: &[&str] = &[
    "GET /healthz",
    "GET /readyz",
    "GET /version",
    "GET /metrics",
    "GET /api/v1/openapi.json",
    "POST /api/v1/auth/signup",
    "POST /api/v1/auth/verify",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/password/reset",
    "POST /api/v1/auth/password/reset/confirm",
    "POST /api/v1/payments/webhook/stripe",
    "GET /login",
    "POST /login",
    "GET /signup",
    "POST /signup",
    "GET /verify",
    "POST /verify",
    "GET /reset",
    "POST /reset",
    "GET /lang/{tag}",
    "GET /assets/{version}/{*path}",
];

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{symbol}" => "600519.SH",
            "{id}" => "1",
            "{name}" => "result.json",
            "{tag}" => "en",
            "{action}" => "add",
            "{order_no}" => "QD20240501000000ABCDE",
            "{version}" => "v1",
            "{*path}" => "app.css",
            s if s.starts_with('{') => panic!("a new path parameter {s}: give it a value here"),
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_needs_credentials_unless_listed_public() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = quantdesk_store::open(&url, 4).await.unwrap();
    // Hundreds of requests from one address: lift the rate limit, which is tested elsewhere.
    let mut config = Config::default();
    config.mail.mailbox_dir = dir.path().join("mail").display().to_string();
    config.server.rate_limit_ip_per_minute = 1_000_000;
    let state = AppState::new(store, config, quantdesk_server::ops::metrics_handle());
    let routes = quantdesk_web::routes();
    let paths = quantdesk_server::all_paths(&routes);
    let router = quantdesk_web::app(state);
    assert!(paths.len() > 40, "the table lists every route: {paths:?}");

    let mut public_seen = Vec::new();
    for path in &paths {
        let uri = concrete(path);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let key = format!("{method} {path}");
            let public = PUBLIC.contains(&key.as_str());
            for accept in ["application/json", "text/html"] {
                let req =
                    Request::builder().method(method).uri(&uri).header("accept", accept).body(Body::empty()).unwrap();
                let res = router.clone().oneshot(req).await.unwrap();
                let status = res.status();
                if public {
                    assert_ne!(status, StatusCode::UNAUTHORIZED, "{key} is listed public");
                    continue;
                }
                if PUBLIC.iter().any(|p| p.split_once(' ').unwrap().1 == path) {
                    // Another method of a public path: there is no such route.
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{key}");
                    continue;
                }
                let page = accept == "text/html" && !uri.starts_with("/api/") && !uri.starts_with("/udf/");
                if page {
                    assert_eq!(status, StatusCode::SEE_OTHER, "{key} ({accept})");
                    let to = res.headers()["location"].to_str().unwrap();
                    assert!(to.starts_with("/login?next="), "{key}: {to}");
                } else {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{key} ({accept})");
                    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(v["error"]["code"], "unauthenticated", "{key}");
                }
            }
            if public {
                public_seen.push(key);
            }
        }
    }
    // Every public entry is a real route, so the list cannot rot.
    for p in PUBLIC {
        assert!(public_seen.iter().any(|s| s == p), "{p} is listed public but is not a route");
    }
    // Unknown paths too: nothing is learned about what exists.
    let req = Request::get("/no/such/thing").header("accept", "application/json").body(Body::empty()).unwrap();
    assert_eq!(router.clone().oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
