//! Availability: CPU-heavy requests (Chan analyses, nesting, the UDF marks, the chanvis overlays)
//! run on the bounded CPU pool. When its workers and queue are taken, a burst of them is refused
//! at once with 503 `busy` and `Retry-After`, while health, metrics and light reads still answer.

mod common;

use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, app_with};
use quantdesk_app::config::Config;
use quantdesk_server::cpu::CpuPool;
use serde_json::Value;

const SYMBOL: &str = "600519.SH";
const FAR: i64 = 4_102_444_800;

/// 400 weekdays of waves from 2015-01-05, enough for strokes, segments and pivots.
fn waves_csv() -> String {
    let mut s = String::from("date,open,high,low,close,volume\n");
    let mut d = chrono::NaiveDate::from_ymd_opt(2015, 1, 5).unwrap();
    let (mut i, mut prev) = (0, 100.0_f64);
    while i < 400 {
        use chrono::Datelike;
        if d.weekday().num_days_from_monday() < 5 {
            let x = i as f64;
            let close = 100.0 + 30.0 * (x / 70.0).sin() + 9.0 * (x / 9.0).sin() + 4.0 * (x / 3.1).sin();
            let (high, low) = (prev.max(close) + 0.5, prev.min(close) - 0.5);
            writeln!(s, "{d},{prev:.2},{high:.2},{low:.2},{close:.2},{}", 1000 + i).unwrap();
            prev = close;
            i += 1;
        }
        d = d.succ_opt().unwrap();
    }
    s
}

async fn app(workers: usize, queue: usize) -> TestApp {
    let config = {
        let mut c = Config::default();
        c.server.cpu_workers = workers;
        c.server.cpu_queue = queue;
        c
    };
    let t = app_with(config).await;
    let csv = waves_csv();
    let (s, v) =
        t.upload("/api/v1/imports/bars", &[("symbol", SYMBOL), ("resolution", "1D")], "w.csv", csv.as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    t
}

/// Takes every worker of the pool with work that waits for the returned sender.
async fn occupy_workers(pool: &CpuPool) -> (mpsc::Sender<()>, Vec<tokio::task::JoinHandle<()>>) {
    let (release, gate) = mpsc::channel::<()>();
    let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
    let mut tasks = Vec::new();
    for _ in 0..pool.workers() {
        let (started, running) = tokio::sync::oneshot::channel();
        let (p, gate) = (pool.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            p.run(move || {
                let _ = started.send(());
                let _ = gate.lock().unwrap().recv();
            })
            .await
            .unwrap()
        }));
        running.await.unwrap();
    }
    (release, tasks)
}

/// Waits (without a deadline of its own: the test harness has one) until `what` holds.
async fn until(what: impl Fn() -> bool) {
    while !what() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn get(t: &TestApp, uri: &str) -> (StatusCode, Option<String>, Value) {
    let (s, h, b) = t.request(Request::get(uri).body(Body::empty()).unwrap()).await;
    let retry = h.get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let v = serde_json::from_slice(&b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into()));
    (s, retry, v)
}

fn assert_busy(uri: &str, (s, retry, v): &(StatusCode, Option<String>, Value)) {
    assert_eq!(*s, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {v}");
    assert_eq!(v["error"]["code"], "busy", "{uri}: {v}");
    assert_eq!(retry.as_deref(), Some("1"), "{uri}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_queue_is_refused_while_health_and_light_reads_answer() {
    const QUEUE: usize = 3;
    const BURST: usize = 12;
    let t = app(1, QUEUE).await;
    let chan = format!("/api/v1/chan/{SYMBOL}?resolution=1D");
    let (s, _, want) = get(&t, &chan).await;
    assert_eq!(s, StatusCode::OK, "{want}");
    let pool = t.state.cpu.clone();
    assert_eq!((pool.workers(), pool.queue(), pool.admitted()), (1, QUEUE, 0));

    // The only worker is busy; a burst of Chan requests arrives.
    let (release, blockers) = occupy_workers(&pool).await;
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..BURST {
        let (router, token, uri) = (t.router.clone(), t.token.clone(), chan.clone());
        burst.spawn(async move {
            use tower::ServiceExt;
            let req = Request::get(&uri).header("authorization", format!("Bearer {token}")).body(Body::empty());
            let res = router.oneshot(req.unwrap()).await.unwrap();
            let (status, retry) = (res.status(), res.headers().get("retry-after").cloned());
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, retry, serde_json::from_slice::<Value>(&body).unwrap())
        });
    }
    // The excess is refused at once, without waiting for the worker; the queue holds the rest.
    let mut refused = 0;
    while refused < BURST - QUEUE {
        let (s, retry, v) = burst.join_next().await.unwrap().unwrap();
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "a request beyond the queue was answered: {}", v["error"]);
        assert_eq!(v["error"]["code"], "busy", "{v}");
        assert_eq!(retry.unwrap(), "1");
        refused += 1;
    }
    until(|| pool.admitted() == 1 + QUEUE).await;

    // Every CPU-heavy route goes through the pool: each is refused while it is full.
    let heavy = [
        chan.clone(),
        format!("/api/v1/chan/{SYMBOL}/nest?resolution=1D&higher=1W"),
        format!("/udf/marks?symbol={SYMBOL}&from=0&to={FAR}&resolution=1D"),
        format!("/api/bzxd_mark?symbol={SYMBOL}&tf=1D&mtype=zzk"),
        format!("/api/bzzs_mark?symbol={SYMBOL}&tf=1D"),
        format!("/api/get_bspoint?symbol={SYMBOL}&resolution=1D"),
        format!("/api/get_upper_fx?symbol={SYMBOL}&resolution=1D"),
    ];
    for uri in &heavy {
        assert_busy(uri, &get(&t, uri).await);
    }

    // Health, metrics and light reads never wait for it.
    let (s, b) = t.get("/healthz").await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, b) = t.get("/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("cpu_pool_refused_total"));
    let (s, _, v) = get(&t, &format!("/udf/history?symbol={SYMBOL}&resolution=1D&from=0&to={FAR}")).await;
    assert_eq!((s, v["s"].as_str()), (StatusCode::OK, Some("ok")), "{v}");
    let (s, _, v) = get(&t, &format!("/api/v1/bars/{SYMBOL}?resolution=1W")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, v) = get(&t, "/api/v1/instruments").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(pool.admitted(), 1 + QUEUE, "the queued requests are still waiting");

    // Once the worker is free the queued requests are answered in full, and so are new ones.
    release.send(()).unwrap();
    for b in blockers {
        b.await.unwrap();
    }
    while let Some(done) = burst.join_next().await {
        let (s, _, v) = done.unwrap();
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v, want, "a queued request gets the same answer");
    }
    assert_eq!(pool.admitted(), 0);
    for uri in &heavy {
        let (s, _, v) = get(&t, uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {v}");
    }
}

#[tokio::test]
async fn the_refusal_is_in_the_openapi_document() {
    let t = app_with(Config::default()).await;
    let (s, b) = t.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&b).unwrap();
    for path in ["/api/v1/chan/{symbol}", "/api/v1/chan/{symbol}/nest"] {
        let busy = &doc["paths"][path]["get"]["responses"]["503"];
        assert!(busy["description"].as_str().unwrap().contains("busy"), "{path}: {busy}");
    }
}

/// `days` weekdays of a gentle wave from 1990-01-01.
fn long_csv(days: usize) -> String {
    let mut s = String::from("date,open,high,low,close,volume\n");
    let mut d = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    let mut i = 0;
    while i < days {
        use chrono::Datelike;
        if d.weekday().num_days_from_monday() < 5 {
            let c = 50.0 + 10.0 * (i as f64 / 40.0).sin();
            writeln!(s, "{d},{c:.2},{:.2},{:.2},{c:.2},{}", c + 1.0, c - 1.0, 100 + i % 7).unwrap();
            i += 1;
        }
        d = d.succ_opt().unwrap();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_reads_are_rendered_on_the_pool_and_light_ones_never_wait() {
    const LONG: &str = "000002.SZ";
    const DAYS: usize = 8_000;
    let t = app(1, 0).await;
    let csv = long_csv(DAYS);
    let (s, v) =
        t.upload("/api/v1/imports/bars", &[("symbol", LONG), ("resolution", "1D")], "l.csv", csv.as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let history = format!("/udf/history?symbol={LONG}&resolution=1D&from=0&to={FAR}");
    let gzip = |uri: &str| Request::get(uri).header("accept-encoding", "gzip").body(Body::empty()).unwrap();
    let (s, _, plain) = t.request(Request::get(&history).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(plain.len() >= quantdesk_server::cpu::HEAVY_BODY_BYTES, "{} bytes", plain.len());

    let pool = t.state.cpu.clone();
    let (release, blockers) = occupy_workers(&pool).await;
    // The chart's windows are read and rendered right here.
    let (s, _, v) = get(&t, &format!("/api/v1/bars/{LONG}?resolution=1D&limit=1000")).await;
    assert_eq!((s, v["bars"].as_array().map(Vec::len)), (StatusCode::OK, Some(1000)));
    let (s, _, v) = get(&t, &format!("/udf/history?symbol={LONG}&resolution=1D&to={FAR}&countback=2000")).await;
    assert_eq!((s, v["t"].as_array().map(Vec::len)), (StatusCode::OK, Some(2000)));
    // An answer of thousands of bars waits for the pool, which is full.
    let big = format!("/api/v1/bars/{LONG}?resolution=1D&limit={DAYS}");
    assert_busy(&big, &get(&t, &big).await);
    // A big cached datafeed answer is sent as it is rather than compressed on an async worker.
    let (s, h, body) = t.request(gzip(&history)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("content-encoding").is_none(), "{h:?}");
    assert_eq!(body, plain);

    release.send(()).unwrap();
    for b in blockers {
        b.await.unwrap();
    }
    let (s, _, v) = get(&t, &big).await;
    assert_eq!((s, v["bars"].as_array().map(Vec::len)), (StatusCode::OK, Some(DAYS)));
    // With the pool free it is compressed there, and decompresses to the same answer.
    let (s, h, body) = t.request(gzip(&history)).await;
    assert_eq!((s, h.get("content-encoding").map(|v| v.to_str().unwrap())), (StatusCode::OK, Some("gzip")));
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
}
