//! `/api/v1/admin/llm/providers`: admins only, keys in and never out, the fallback order, the
//! connection test against the loopback fake, every status in the OpenAPI document.

mod common;

use common::{TestApp, app_with, bearer, call, user_with_key};
use quantdesk_llm::fake::{FakeLlm, Scripted};
use quantdesk_server::Config;
use quantdesk_store::auth::Role;
use serde_json::{Value, json};

const KEY: &str = "sk-prod-a1b2c3d4e5f6";
const URL: &str = "/api/v1/admin/llm/providers";

async fn app(secret: &str) -> TestApp {
    let mut config = Config::default();
    config.llm.llm_secret_key = quantdesk_app::config::Secret::new(secret);
    app_with(config).await
}

async fn admin(t: &TestApp, method: &str, uri: &str, body: Value) -> (u16, Value) {
    let auth = bearer(&t.token);
    let (s, _, v) = call(t, method, uri, &[("authorization", auth.as_str())], body).await;
    (s.as_u16(), v)
}

#[tokio::test]
async fn admins_manage_providers_and_keys_never_come_back() {
    let t = app("master-secret-0123456789").await;
    let (s, v) = admin(&t, "GET", URL, Value::Null).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["offline"].as_bool(), v["keys_can_be_stored"].as_bool()), (Some(true), Some(true)));
    assert_eq!(
        v["presets"][1],
        json!({"preset": "qwen", "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1"})
    );

    let (s, a) = admin(
        &t,
        "POST",
        URL,
        json!({"name": "qwen", "preset": "qwen", "model": "qwen-plus", "api_key": KEY, "temperature": 0.3}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        (a["has_key"].as_bool(), a["key_last4"].as_str(), a["is_default"].as_bool()),
        (Some(true), Some("e5f6"), Some(true))
    );
    assert_eq!(a["base_url"], "https://dashscope.aliyuncs.com/compatible-mode/v1");
    let (s, b) =
        admin(&t, "POST", URL, json!({"name": "local", "base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5"}))
            .await;
    assert_eq!((s, b["has_key"].as_bool(), b["is_default"].as_bool()), (201, Some(false), Some(false)));
    let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());

    let (s, v) = admin(&t, "PATCH", &format!("{URL}/{a}"), json!({"model": "qwen-max"})).await;
    assert_eq!((s, v["model"].as_str(), v["has_key"].as_bool()), (200, Some("qwen-max"), Some(true)), "{v}");
    let (s, v) = admin(&t, "PUT", &format!("{URL}/{b}"), json!({"default": true, "max_tokens": 2048})).await;
    assert_eq!((s, v["is_default"].as_bool(), v["max_tokens"].as_i64()), (200, Some(true), Some(2048)), "{v}");
    let (s, v) = admin(&t, "PUT", &format!("{URL}/order"), json!({"ids": [a, b]})).await;
    assert_eq!((s, v[0]["id"].as_i64(), v[0]["is_default"].as_bool()), (200, Some(a), Some(true)), "{v}");
    let (s, v) = admin(&t, "GET", &format!("{URL}/{a}"), Value::Null).await;
    assert_eq!((s, v["position"].as_i64()), (200, Some(0)));

    let (_, listed) = admin(&t, "GET", URL, Value::Null).await;
    let stored = t.state.store.llm_provider(a).await.unwrap().unwrap().api_key_enc;
    for shown in [listed.to_string(), v.to_string()] {
        assert!(!shown.contains(KEY) && !shown.contains(&stored[3..]), "{shown}");
    }
    assert_eq!(t.state.llm.resolve().await.unwrap()[0].api_key.as_deref(), Some(KEY));

    let (s, _) = admin(&t, "DELETE", &format!("{URL}/{b}"), Value::Null).await;
    assert_eq!(s, 204);
    let (s, v) = admin(&t, "DELETE", &format!("{URL}/{b}"), Value::Null).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn refusals_have_their_statuses_and_codes() {
    let t = app("master-secret-0123456789").await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("").to_string();
    let (s, v) =
        admin(&t, "POST", URL, json!({"name": "a", "base_url": "http://h/v1", "model": "m", "temperature": 3})).await;
    assert_eq!((s, code(&v)), (422, "invalid_params".into()), "{v}");
    let (s, v) = admin(&t, "POST", URL, json!({"name": "a", "model": "m"})).await;
    assert_eq!((s, code(&v)), (422, "invalid_params".into()), "neither base_url nor preset: {v}");
    let (s, v) =
        admin(&t, "POST", URL, json!({"name": "a", "base_url": "http://h/v1", "model": "m", "temperature": "hot"}))
            .await;
    assert_eq!((s, code(&v)), (400, "bad_request".into()), "a schema violation: {v}");
    admin(&t, "POST", URL, json!({"name": "a", "base_url": "http://h/v1", "model": "m"})).await;
    let (s, v) = admin(&t, "POST", URL, json!({"name": "a", "base_url": "http://h/v1", "model": "m"})).await;
    assert_eq!((s, code(&v)), (409, "name_taken".into()));
    let (s, v) = admin(&t, "PUT", &format!("{URL}/order"), json!({"ids": [12345]})).await;
    assert_eq!((s, code(&v)), (422, "invalid_params".into()));

    let viewer = user_with_key(&t.state, "viewer@test.example", Role::Viewer, &["read"]).await;
    let auth = bearer(&viewer);
    let (s, _, _) = call(&t, "GET", URL, &[("authorization", auth.as_str())], Value::Null).await;
    assert_eq!(s.as_u16(), 403);
    let (s, _, _) = call(&t, "GET", URL, &[], Value::Null).await;
    assert_eq!(s.as_u16(), 401);

    let bare = app("").await;
    let (s, v) =
        admin(&bare, "POST", URL, json!({"name": "a", "base_url": "http://h/v1", "model": "m", "api_key": KEY})).await;
    assert_eq!((s, code(&v)), (422, "llm_secret_key_unset".into()), "{v}");
    assert!(!v.to_string().contains(KEY));
}

#[tokio::test]
async fn the_connection_test_answers_with_the_model_or_the_error() {
    let t = app("master-secret-0123456789").await;
    let fake = FakeLlm::start_with_key(vec![Scripted::text("ok")], KEY).await;
    let (_, good) = admin(
        &t,
        "POST",
        URL,
        json!({"name": "good", "base_url": fake.base_url(), "model": "fake-chat", "api_key": KEY}),
    )
    .await;
    let (_, bad) = admin(
        &t,
        "POST",
        URL,
        json!({"name": "bad", "base_url": fake.base_url(), "model": "fake-chat", "api_key": "sk-wrong-0000000000"}),
    )
    .await;
    let (s, v) = admin(&t, "POST", &format!("{URL}/{}/test", good["id"]), Value::Null).await;
    assert_eq!((s, v["ok"].as_bool(), v["model"].as_str()), (200, Some(true), Some("fake-chat")), "{v}");
    assert!(v["latency_ms"].is_u64());
    let (s, v) = admin(&t, "POST", &format!("{URL}/{}/test", bad["id"]), Value::Null).await;
    assert_eq!((s, v["ok"].as_bool(), v["error_code"].as_str()), (200, Some(false), Some("auth")), "{v}");
    assert!(!v.to_string().contains("sk-wrong"), "{v}");
    let (s, _) = admin(&t, "POST", &format!("{URL}/999/test"), Value::Null).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_openapi_document_lists_every_operation_and_status() {
    let t = app("").await;
    let (s, doc) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(s.as_u16(), 200);
    let paths = &doc["paths"];
    let statuses = |path: &str, method: &str| -> Vec<String> {
        let mut v: Vec<String> = paths[path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    };
    assert!(statuses(URL, "post").iter().any(|s| s == "422") && statuses(URL, "post").iter().any(|s| s == "409"));
    for m in ["get", "put", "patch", "delete"] {
        assert!(statuses("/api/v1/admin/llm/providers/{id}", m).iter().any(|s| s == "404"), "{m}");
    }
    assert!(statuses("/api/v1/admin/llm/providers/{id}/test", "post").iter().any(|s| s == "200"));
    assert!(statuses("/api/v1/admin/llm/providers/order", "put").iter().any(|s| s == "422"));
}
