//! `/api/v1/watchlists`: the flows, ownership, limits, scopes and bad input.

mod common;

use common::{app_with, bearer, call, user_with_key};
use quantdesk_app::config::Config;
use quantdesk_store::auth::Role;
use serde_json::{Value, json};

const BARS: &str = "date,open,high,low,close,volume\n2024-01-02,10,11,9,10,100\n2024-01-03,10,12,10,11,200\n";

async fn setup() -> (common::TestApp, Vec<(&'static str, String)>, Vec<(&'static str, String)>) {
    let mut cfg = Config::default();
    cfg.watchlists.max_symbols_free = 3;
    cfg.watchlists.max_lists = 2;
    let t = app_with(cfg).await;
    for sym in ["600519.SH", "000001.SZ", "GOOG", "AAPL"] {
        let (s, v) =
            t.upload("/api/v1/imports/bars", &[("symbol", sym), ("resolution", "1D")], "b.csv", BARS.as_bytes()).await;
        assert_eq!(s, 200, "{v}");
    }
    let alice = user_with_key(&t.state, "alice@test.example", Role::Analyst, &["read", "jobs"]).await;
    let bob = user_with_key(&t.state, "bob@test.example", Role::Analyst, &["read", "jobs"]).await;
    (t, vec![("authorization", bearer(&alice))], vec![("authorization", bearer(&bob))])
}

fn h<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

fn symbols(detail: &Value) -> Vec<String> {
    detail["items"].as_array().unwrap().iter().map(|i| i["symbol"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_user_keeps_lists_adds_removes_and_reorders() {
    let (t, alice, _) = setup().await;
    let a = h(&alice);
    let (s, _, lists) = call(&t, "GET", "/api/v1/watchlists", &a, Value::Null).await;
    assert_eq!(s, 200, "{lists}");
    let lists = lists.as_array().unwrap();
    assert_eq!(lists.len(), 1, "the default list is made on first use");
    assert_eq!(
        (lists[0]["is_default"].as_bool(), lists[0]["count"].as_u64(), lists[0]["max_symbols"].as_u64()),
        (Some(true), Some(0), Some(3))
    );
    let d = lists[0]["id"].as_i64().unwrap();
    let items = format!("/api/v1/watchlists/{d}/items");

    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": "600519.sh"})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(symbols(&v), ["600519.SH"], "normalised");
    let q = &v["items"][0]["quote"];
    assert_eq!(
        (q["price"].as_f64(), q["prev_close"].as_f64(), q["change"].as_f64(), q["change_pct"].as_f64()),
        (Some(11.0), Some(10.0), Some(1.0), Some(10.0))
    );
    assert_eq!(q["source"], "stored");
    for sym in ["000001.SZ", "GOOG"] {
        let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": sym})).await;
        assert_eq!(s, 201, "{v}");
    }
    // Duplicates, the limit, unknown and malformed symbols.
    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": "GOOG"})).await;
    assert_eq!((s.as_u16(), code(&v)), (409, Some("already_in_watchlist")), "{v}");
    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": "AAPL"})).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("watchlist_full")), "{v}");
    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": "MSFT"})).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("unknown_symbol")), "{v}");
    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": "-x y"})).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("invalid_params")), "schema-valid, refused by rule: {v}");
    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": "A".repeat(33)})).await;
    assert_eq!((s.as_u16(), code(&v)), (400, Some("bad_request")), "longer than the schema's maxLength: {v}");
    let (s, _, v) = call(&t, "POST", &items, &a, json!({"symbol": 5})).await;
    assert_eq!(s, 400, "{v}");

    // Reorder: exactly the list's symbols.
    let (s, _, v) = call(&t, "PUT", &items, &a, json!({"symbols": ["GOOG", "600519.SH", "000001.SZ"]})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(symbols(&v), ["GOOG", "600519.SH", "000001.SZ"]);
    let (s, _, v) = call(&t, "PUT", &items, &a, json!({"symbols": ["GOOG", "600519.SH"]})).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("invalid_params")), "{v}");
    // Remove.
    let (s, _, _) = call(&t, "DELETE", &format!("{items}/600519.SH"), &a, Value::Null).await;
    assert_eq!(s, 204);
    let (s, _, v) = call(&t, "DELETE", &format!("{items}/600519.SH"), &a, Value::Null).await;
    assert_eq!((s.as_u16(), code(&v)), (404, Some("not_in_watchlist")), "{v}");
    let (_, _, v) = call(&t, "GET", &format!("/api/v1/watchlists/{d}"), &a, Value::Null).await;
    assert_eq!(symbols(&v), ["GOOG", "000001.SZ"]);
    assert_eq!(v["list"]["count"], 2);

    // Lists: create, rename, the limit (2 with the default), the default stays.
    let (s, _, w) = call(&t, "POST", "/api/v1/watchlists", &a, json!({"name": "白酒"})).await;
    assert_eq!(s, 201, "{w}");
    let w = w["id"].as_i64().unwrap();
    let (s, _, v) = call(&t, "POST", "/api/v1/watchlists", &a, json!({"name": "more"})).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("too_many_watchlists")), "{v}");
    let (s, _, v) = call(&t, "PUT", &format!("/api/v1/watchlists/{d}"), &a, json!({"name": "白酒"})).await;
    assert_eq!((s.as_u16(), code(&v)), (409, Some("watchlist_exists")), "{v}");
    let (s, _, v) = call(&t, "PUT", &format!("/api/v1/watchlists/{d}"), &a, json!({"name": "   "})).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("invalid_params")), "{v}");
    let (s, _, v) = call(&t, "PUT", &format!("/api/v1/watchlists/{d}"), &a, json!({"name": "core"})).await;
    assert_eq!((s.as_u16(), v["name"].as_str(), v["is_default"].as_bool()), (200, Some("core"), Some(true)), "{v}");
    let (s, _, v) = call(&t, "DELETE", &format!("/api/v1/watchlists/{d}"), &a, Value::Null).await;
    assert_eq!((s.as_u16(), code(&v)), (422, Some("default_watchlist")), "{v}");
    let (s, _, _) = call(&t, "DELETE", &format!("/api/v1/watchlists/{w}"), &a, Value::Null).await;
    assert_eq!(s, 204);
    let (_, _, lists) = call(&t, "GET", "/api/v1/watchlists", &a, Value::Null).await;
    let names: Vec<&str> = lists.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["core"]);
}

#[tokio::test]
async fn another_users_list_is_a_404_and_scopes_apply() {
    let (t, alice, bob) = setup().await;
    let (a, b) = (h(&alice), h(&bob));
    let (_, _, lists) = call(&t, "GET", "/api/v1/watchlists", &a, Value::Null).await;
    let d = lists[0]["id"].as_i64().unwrap();
    call(&t, "POST", &format!("/api/v1/watchlists/{d}/items"), &a, json!({"symbol": "GOOG"})).await;
    for (method, path, body) in [
        ("GET", format!("/api/v1/watchlists/{d}"), Value::Null),
        ("PUT", format!("/api/v1/watchlists/{d}"), json!({"name": "mine now"})),
        ("DELETE", format!("/api/v1/watchlists/{d}"), Value::Null),
        ("POST", format!("/api/v1/watchlists/{d}/items"), json!({"symbol": "AAPL"})),
        ("PUT", format!("/api/v1/watchlists/{d}/items"), json!({"symbols": ["GOOG"]})),
        ("DELETE", format!("/api/v1/watchlists/{d}/items/GOOG"), Value::Null),
        ("GET", "/api/v1/watchlists/987654".to_string(), Value::Null),
    ] {
        let (s, _, v) = call(&t, method, &path, &b, body).await;
        assert_eq!((s.as_u16(), code(&v)), (404, Some("watchlist_not_found")), "{method} {path}: {v}");
        assert!(!v.to_string().contains("GOOG"), "nothing of alice's list shows: {v}");
    }
    let (_, _, v) = call(&t, "GET", &format!("/api/v1/watchlists/{d}"), &a, Value::Null).await;
    assert_eq!((symbols(&v), v["list"]["name"].as_str()), (vec!["GOOG".to_string()], Some("")), "untouched");
    let (_, _, lists) = call(&t, "GET", "/api/v1/watchlists", &b, Value::Null).await;
    assert_ne!(lists[0]["id"].as_i64(), Some(d), "bob has his own default");

    // A read-only key reads but does not change; no credentials at all is a 401.
    let reader = user_with_key(&t.state, "carol@test.example", Role::Analyst, &["read"]).await;
    let r = bearer(&reader);
    let rh = [("authorization", r.as_str())];
    let (s, _, _) = call(&t, "GET", "/api/v1/watchlists", &rh, Value::Null).await;
    assert_eq!(s, 200);
    let (s, _, v) = call(&t, "POST", "/api/v1/watchlists", &rh, json!({"name": "x"})).await;
    assert_eq!((s.as_u16(), code(&v)), (403, Some("forbidden")), "{v}");
    let (s, _, _) = call(&t, "GET", "/api/v1/watchlists", &[], Value::Null).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn the_api_document_lists_every_watchlist_operation_with_its_statuses() {
    let (t, _, _) = setup().await;
    let (s, doc) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    let paths = &doc["paths"];
    for (path, method, statuses) in [
        ("/api/v1/watchlists", "get", &["200", "429"][..]),
        ("/api/v1/watchlists", "post", &["201", "400", "409", "422"]),
        ("/api/v1/watchlists/{id}", "get", &["200", "400", "404"]),
        ("/api/v1/watchlists/{id}", "put", &["200", "400", "404", "409", "422"]),
        ("/api/v1/watchlists/{id}", "delete", &["204", "400", "404", "422"]),
        ("/api/v1/watchlists/{id}/items", "post", &["201", "400", "404", "409", "422"]),
        ("/api/v1/watchlists/{id}/items", "put", &["200", "400", "404", "422"]),
        ("/api/v1/watchlists/{id}/items/{symbol}", "delete", &["204", "400", "404"]),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        for st in statuses {
            assert!(op["responses"][st].is_object(), "{method} {path} documents {st}");
        }
    }
    assert_eq!(doc["components"]["schemas"]["WatchItemInput"]["properties"]["symbol"]["maxLength"], 32);
}
