//! Packages, orders and the Stripe webhook through the HTTP API: a signed event credits its
//! order once however often and however concurrently it is delivered; a bad signature, another
//! amount, an unknown or a final order changes nothing.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, app_with, bearer, call, user_with_key};
use quantdesk_app::config::{Config, Secret};
use quantdesk_app::payments::Stripe;
use quantdesk_store::auth::Role;
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_secret";

async fn shop(mock: bool) -> (TestApp, String) {
    let mut cfg = Config::default();
    cfg.payments.payments_webhook_secret = Secret::new(SECRET);
    cfg.payments.payments_mock = mock;
    let t = app_with(cfg).await;
    let admin = bearer(&t.token);
    let pkg = json!({"name": "100 coins", "coins": 100, "price_fen": 1000, "sort": 1});
    let (s, _, v) = call(&t, "PUT", "/api/v1/admin/coins/packages/coins-100", &[("authorization", &admin)], pkg).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["price"].as_str(), v["price_fen"].as_i64()), (Some("10.00"), Some(1000)));
    let key = user_with_key(&t.state, "buyer@example.com", Role::Viewer, &["read"]).await;
    (t, bearer(&key))
}

fn event(id: &str, order_no: &str, amount: i64) -> String {
    json!({"id": id, "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_1", "object": "checkout.session", "client_reference_id": order_no,
            "amount_total": amount, "currency": "cny", "payment_status": "paid"}}})
    .to_string()
}

async fn deliver(t: &TestApp, body: &str, signature: &str) -> (StatusCode, Value) {
    let req = Request::post("/api/v1/payments/webhook/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, _, b) = t.request_as_is(req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn now() -> i64 {
    quantdesk_app::clock::now_secs()
}

async fn order(t: &TestApp, auth: &str, method: &str) -> Value {
    let (s, _, v) = call(
        t,
        "POST",
        "/api/v1/orders",
        &[("authorization", auth)],
        json!({"package_id": "coins-100", "payment_method": method}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn available(t: &TestApp, auth: &str) -> i64 {
    call(t, "GET", "/api/v1/coins", &[("authorization", auth)], Value::Null).await.2["available"].as_i64().unwrap()
}

#[tokio::test]
async fn a_signed_event_delivered_twenty_times_concurrently_credits_once() {
    let (t, buyer) = shop(false).await;
    let (s, _, list) = call(&t, "GET", "/api/v1/coins/packages", &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(
        (list[0]["id"].as_str(), list[0]["coins"].as_i64(), list[0]["price"].as_str()),
        (Some("coins-100"), Some(100), Some("10.00"))
    );
    let o = order(&t, &buyer, "stripe").await;
    assert_eq!(
        (o["amount"].as_str(), o["coins"].as_i64(), o["status"].as_str()),
        (Some("10.00"), Some(100), Some("pending"))
    );
    let no = o["order_no"].as_str().unwrap().to_string();

    let body = event("evt_1", &no, 1000);
    let sig = Stripe::sign(SECRET, now(), body.as_bytes());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (router, body, sig) = (t.router.clone(), body.clone(), sig.clone());
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = Request::post("/api/v1/payments/webhook/stripe")
                .header("content-type", "application/json")
                .header("stripe-signature", sig)
                .body(Body::from(body))
                .unwrap();
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let b = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&b).unwrap())
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        let (s, v) = task.await.unwrap();
        assert_eq!(s, 200, "{v}");
        outcomes.push(v["outcome"].as_str().unwrap().to_string());
    }
    assert_eq!(outcomes.iter().filter(|o| *o == "credited").count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o == "credited" || o == "duplicate_event"), "{outcomes:?}");
    assert_eq!(available(&t, &buyer).await, 100);
    let (_, _, paid) =
        call(&t, "GET", &format!("/api/v1/orders/{no}"), &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(paid["status"], "paid");
    // Another event for the paid order changes nothing.
    let again = event("evt_2", &no, 1000);
    let (s, v) = deliver(&t, &again, &Stripe::sign(SECRET, now(), again.as_bytes())).await;
    assert_eq!((s, v["outcome"].as_str()), (StatusCode::OK, Some("final_order")));
    assert_eq!(available(&t, &buyer).await, 100);
    assert!(t.state.coins.verify().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_signatures_wrong_amounts_and_unknown_orders_change_nothing() {
    let (t, buyer) = shop(false).await;
    let no = order(&t, &buyer, "stripe").await["order_no"].as_str().unwrap().to_string();
    let body = event("evt_9", &no, 1000);
    for sig in [
        Stripe::sign("whsec_wrong", now(), body.as_bytes()),
        Stripe::sign(SECRET, now() - 301, body.as_bytes()),
        "t=1,v1=zz".to_string(),
        String::new(),
    ] {
        let (s, v) = deliver(&t, &body, &sig).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("bad_signature")), "{sig}");
    }
    // Signed over another body.
    let (s, _) = deliver(&t, &event("evt_9", &no, 1), &Stripe::sign(SECRET, now(), body.as_bytes())).await;
    assert_eq!(s, 403);
    let cheap = event("evt_10", &no, 1);
    let (s, v) = deliver(&t, &cheap, &Stripe::sign(SECRET, now(), cheap.as_bytes())).await;
    assert_eq!((s, v["outcome"].as_str()), (StatusCode::OK, Some("amount_mismatch")));
    let unknown = event("evt_11", "QD00000000000000NONE", 1000);
    let (_, v) = deliver(&t, &unknown, &Stripe::sign(SECRET, now(), unknown.as_bytes())).await;
    assert_eq!(v["outcome"], "unknown_order");
    assert_eq!(available(&t, &buyer).await, 0);
    let (_, _, still) =
        call(&t, "GET", &format!("/api/v1/orders/{no}"), &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(still["status"], "pending");
    // Cancelled: a later payment is refused.
    let (s, _, v) =
        call(&t, "POST", &format!("/api/v1/orders/{no}/cancel"), &[("authorization", &buyer)], Value::Null).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{v}");
    assert_eq!(
        call(&t, "POST", &format!("/api/v1/orders/{no}/cancel"), &[("authorization", &buyer)], Value::Null).await.0,
        409
    );
    let late = event("evt_12", &no, 1000);
    let (_, v) = deliver(&t, &late, &Stripe::sign(SECRET, now(), late.as_bytes())).await;
    assert_eq!(v["outcome"], "final_order");
    assert_eq!(available(&t, &buyer).await, 0);
    // Someone else's order is not found; methods that are off and unknown packages are refused.
    let other = bearer(&user_with_key(&t.state, "other@example.com", Role::Viewer, &["read"]).await);
    assert_eq!(
        call(&t, "GET", &format!("/api/v1/orders/{no}"), &[("authorization", &other)], Value::Null).await.0,
        404
    );
    for body in [
        json!({"package_id": "coins-100", "payment_method": "mock"}),
        json!({"package_id": "nope", "payment_method": "stripe"}),
    ] {
        let (s, _, v) = call(&t, "POST", "/api/v1/orders", &[("authorization", &buyer)], body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")), "{v}");
    }
    assert_eq!(
        call(
            &t,
            "POST",
            "/api/v1/orders",
            &[("authorization", &buyer)],
            json!({"package_id": "coins-100", "payment_method": "paypal"})
        )
        .await
        .0,
        400
    );
    let (s, _, _) =
        call(&t, "POST", &format!("/api/v1/orders/{no}/mock-pay"), &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(s, 404, "the mock provider is off");
}

#[tokio::test]
async fn the_mock_provider_pays_in_development() {
    let (t, buyer) = shop(true).await;
    let no = order(&t, &buyer, "mock").await["order_no"].as_str().unwrap().to_string();
    let (s, _, v) =
        call(&t, "POST", &format!("/api/v1/orders/{no}/mock-pay"), &[("authorization", &buyer)], Value::Null).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("paid")), "{v}");
    call(&t, "POST", &format!("/api/v1/orders/{no}/mock-pay"), &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(available(&t, &buyer).await, 100, "paid once");
    let (_, _, list) = call(&t, "GET", "/api/v1/orders", &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, _, ledger) = call(&t, "GET", "/api/v1/coins/ledger", &[("authorization", &buyer)], Value::Null).await;
    assert_eq!(
        (ledger["items"][0]["kind"].as_str(), ledger["items"][0]["related"].as_str()),
        (Some("purchase"), Some(format!("order:{no}").as_str()))
    );
}

#[tokio::test]
async fn the_coin_and_payment_routes_are_in_the_openapi_document() {
    let (t, _) = shop(false).await;
    let (s, doc) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    let hook = &doc["paths"]["/api/v1/payments/webhook/stripe"]["post"];
    assert_eq!(hook["security"], json!([{}]), "the webhook needs no key: its signature is its credential");
    assert!(hook["responses"]["403"].is_object() && hook["responses"]["400"].is_null(), "{hook}");
    assert_eq!(hook["parameters"][0]["name"], "Stripe-Signature");
    let order = &doc["paths"]["/api/v1/orders"]["post"];
    assert!(order["responses"]["201"].is_object() && order["responses"]["422"].is_object());
    for p in [
        "/api/v1/coins",
        "/api/v1/coins/ledger",
        "/api/v1/coins/check-in",
        "/api/v1/coins/packages",
        "/api/v1/admin/users/{id}/coins",
        "/api/v1/admin/coins/packages/{id}",
        "/api/v1/orders/{order_no}/mock-pay",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    assert_eq!(doc["components"]["schemas"]["NewOrder"]["required"], json!(["package_id", "payment_method"]));
}
