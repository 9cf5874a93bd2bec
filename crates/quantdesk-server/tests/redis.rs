//! The shared cache in Redis: used when there, not needed when gone.

mod common;

use common::{app_with, day};
use quantdesk_app::config::Config;
use quantdesk_app::config::Secret;
use quantdesk_core::{Bar, Resolution, Symbol};
use quantdesk_store::BarSeriesWrite;

async fn seeded(redis_url: &str, symbol: &str) -> common::TestApp {
    let t = app_with({
        let mut c = Config::default();
        c.cache.redis_url = Secret::new(redis_url);
        c
    })
    .await;
    let sym = Symbol::new(symbol).unwrap();
    let bars: Vec<Bar> = (0..5)
        .map(|i| Bar {
            time: day("2024-01-01") + i * 86_400,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 1.0,
            amount: 0.0,
        })
        .collect();
    t.store
        .import_bars(
            Resolution::Day,
            &[BarSeriesWrite { symbol: &sym, bars: &bars, factors: &[], calendar: None }],
            &|_| {},
        )
        .await
        .unwrap();
    t
}

#[tokio::test]
async fn answers_are_shared_through_redis() {
    let Ok(url) = std::env::var("QUANTDESK_TEST_REDIS_URL") else {
        if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
            panic!(
                "QUANTDESK_TEST_REDIS_URL is not set, and QUANTDESK_TEST_REQUIRE_ALL (set by .ci/run) forbids skipping"
            );
        }
        eprintln!("skipped: QUANTDESK_TEST_REDIS_URL is not set (the Redis test)");
        return;
    };
    let unique = format!("R{}", std::process::id());
    let t = seeded(&url, &unique).await;
    let (_, v) = t.get_json(&format!("/udf/history?symbol={unique}&resolution=1D&from=0&to=4102444800")).await;
    assert_eq!(v["s"], "ok");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("qd:*|{unique}|*")).query_async(&mut c).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored: Vec<u8> = redis::cmd("GET").arg(&keys[0]).query_async(&mut c).await.unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&stored).unwrap(), v);
    let (s, ready) = t.get_json("/readyz").await;
    assert_eq!((s.as_u16(), ready["status"].as_str()), (200, Some("ok")));
    assert!(ready["checks"].as_array().unwrap().iter().any(|c| c["name"] == "redis" && c["status"] == "ok"));
}

#[tokio::test]
async fn without_redis_requests_are_served_and_readiness_is_degraded() {
    // Nothing listens on port 1.
    let t = seeded("redis://127.0.0.1:1", "NOREDIS").await;
    let (_, v) = t.get_json("/udf/history?symbol=NOREDIS&resolution=1D&from=0&to=4102444800").await;
    assert_eq!(v["s"], "ok");
    assert_eq!(v["t"].as_array().unwrap().len(), 5);
    let (s, ready) = t.get_json("/readyz").await;
    assert_eq!(s, 200, "Redis is not required");
    assert_eq!(ready["status"], "degraded");
    let redis = ready["checks"].as_array().unwrap().iter().find(|c| c["name"] == "redis").unwrap().clone();
    assert_eq!(redis["status"], "down");
    assert_eq!(redis["required"], false);
}
