//! Uploads: import files are read chunk by chunk (spooled, never held whole), and one user runs at
//! most `imports_per_user` imports at once; the rest are answered 429 until one ends, however it
//! ends. Memory use is measured by bench/upload.sh (docs/benchmarks.md), not here.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use common::{TestApp, app, app_with, bearer, user_with_key};
use quantdesk_app::config::Config;
use quantdesk_store::auth::Role;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tower::ServiceExt;

const BOUNDARY: &str = "----quantdesk-upload-test";

/// A multipart form: text fields, then the file.
fn form(fields: &[(&str, &str)], file: &str) -> String {
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
    }
    body.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{BOUNDARY}--\r\n"
    ));
    body
}

fn post(token: &str, uri: &str, body: Body) -> Request<Body> {
    Request::post(uri)
        .header("authorization", bearer(token))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .unwrap()
}

async fn answer(t: &TestApp, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (s, h, b) = t.request(req).await;
    (s, h, serde_json::from_slice(&b).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&b))))
}

const HEAD: &str = "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n";
const TAIL: &str = "2024-01-03,10.5,12,10,11,200\n";

/// A daily-bar import of two rows for `symbol`, sent by `token`.
async fn import(t: &TestApp, token: &str, symbol: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let body = form(&[("symbol", symbol), ("resolution", "1D")], &format!("{HEAD}{TAIL}"));
    answer(t, post(token, "/api/v1/imports/bars", Body::from(body))).await
}

/// An import whose body the test holds back: the server gets the fields and the first row, and
/// `reading` fires when it asks for more; `finish` sends the rest.
struct Held {
    reading: oneshot::Receiver<()>,
    rest: mpsc::Sender<Bytes>,
    tail: Bytes,
    answer: JoinHandle<(StatusCode, Value)>,
}

struct HeldBody {
    head: Option<Bytes>,
    reading: Option<oneshot::Sender<()>>,
    rest: mpsc::Receiver<Bytes>,
}

fn hold(t: &TestApp, token: &str, symbol: &str) -> Held {
    let full = form(&[("symbol", symbol), ("resolution", "1D")], &format!("{HEAD}{TAIL}"));
    let cut = full.find(TAIL).unwrap();
    let (reading_tx, reading) = oneshot::channel();
    let (rest, rest_rx) = mpsc::channel(1);
    let body = HeldBody { head: Some(Bytes::from(full[..cut].to_string())), reading: Some(reading_tx), rest: rest_rx };
    let stream = futures_util::stream::unfold(body, |mut b| async move {
        if let Some(head) = b.head.take() {
            return Some((Ok::<_, std::io::Error>(head), b));
        }
        if let Some(r) = b.reading.take() {
            let _ = r.send(());
        }
        let next = b.rest.recv().await?;
        Some((Ok(next), b))
    });
    let req = post(token, "/api/v1/imports/bars", Body::from_stream(stream));
    let router = t.router.clone();
    let answer = tokio::spawn(async move {
        let res = router.oneshot(req).await.unwrap();
        let status = res.status();
        let b = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&b).unwrap_or(Value::Null))
    });
    Held { reading, rest, tail: Bytes::from(full[cut..].to_string()), answer }
}

impl Held {
    /// Waits until the server has the fields and asks for the rest of the file.
    async fn started(&mut self) {
        (&mut self.reading).await.expect("the server answered before it had read the whole form");
    }

    async fn finish(self) -> (StatusCode, Value) {
        self.rest.send(self.tail).await.unwrap();
        drop(self.rest);
        self.answer.await.unwrap()
    }
}

#[tokio::test]
async fn a_third_concurrent_import_of_a_user_is_429_and_others_are_not_affected() {
    let t = app().await;
    let alice = user_with_key(&t.state, "alice@test.example", Role::Analyst, &["read", "jobs"]).await;
    let bob = user_with_key(&t.state, "bob@test.example", Role::Analyst, &["read", "jobs"]).await;

    let mut first = hold(&t, &alice, "600001.SH");
    let mut second = hold(&t, &alice, "600002.SH");
    first.started().await;
    second.started().await;

    // Alice's third import, while her two are still uploading, is refused before anything is read.
    let (s, h, v) = import(&t, &alice, "600003.SH").await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("2 imports running"), "{msg}");
    let retry: u64 = h.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let refused = quantdesk_core::Symbol::new("600003.SH").unwrap();
    assert_eq!(t.store.instrument(&refused).await.unwrap(), None, "nothing of the refused import was written");
    // So is an instrument import: the cap counts every import.
    let master = form(&[], "ts_code,name\n600009.SH,X\n");
    let (s, _, v) = answer(&t, post(&alice, "/api/v1/imports/instruments", Body::from(master.clone()))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (429, Some("rate_limited")), "{v}");

    // Bob is not affected by Alice's imports.
    let (s, _, v) = import(&t, &bob, "600004.SH").await;
    assert_eq!(s, 200, "{v}");
    let (s, _, v) = answer(&t, post(&bob, "/api/v1/imports/instruments", Body::from(master.clone()))).await;
    assert_eq!(s, 200, "{v}");

    // Alice's two imports complete whole, and then she may import again.
    let (s, v) = first.finish().await;
    assert_eq!((s.as_u16(), v["bars"].as_u64()), (200, Some(2)), "{v}");
    let (s, v) = second.finish().await;
    assert_eq!((s.as_u16(), v["bars"].as_u64()), (200, Some(2)), "{v}");
    let (s, _, v) = import(&t, &alice, "600003.SH").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(t.store.bar_count().await.unwrap(), 8);
}

#[tokio::test]
async fn an_import_gives_its_slot_back_however_it_ends() {
    let t = app_with({
        let mut c = Config::default();
        c.server.max_upload_bytes = 4096;
        c.server.imports_per_user = 1;
        c
    })
    .await;
    let carol = user_with_key(&t.state, "carol@test.example", Role::Analyst, &["read", "jobs"]).await;
    // With one slot, every failure below would leave the next request 429 if it kept the slot.
    let bad = form(&[("symbol", "600001.SH"), ("resolution", "1D")], "date,open,high,low,close\n2024-01-02,1,1,2,1\n");
    let (s, _, v) = answer(&t, post(&carol, "/api/v1/imports/bars", Body::from(bad))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (422, Some("invalid_file")), "{v}");
    let unknown = form(&[("resolution", "1D"), ("colour", "red")], HEAD);
    let (s, _, v) = answer(&t, post(&carol, "/api/v1/imports/bars", Body::from(unknown))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (400, Some("bad_request")), "{v}");
    let big = form(&[("symbol", "600001.SH"), ("resolution", "1D")], &"2024-01-02,1,1,1,1\n".repeat(400));
    let (s, _, v) = answer(&t, post(&carol, "/api/v1/imports/bars", Body::from(big))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (413, Some("payload_too_large")), "{v}");
    let bad_master = form(&[], "ts_code,name\n600009.SH,X\n600009.SH,Y\n");
    let (s, _, v) = answer(&t, post(&carol, "/api/v1/imports/instruments", Body::from(bad_master))).await;
    assert_eq!(s, 422, "{v}");
    // A client that goes away mid-upload (the request future is dropped).
    let mut gone = hold(&t, &carol, "600001.SH");
    gone.started().await;
    let (s, _, v) = import(&t, &carol, "600002.SH").await;
    assert_eq!(s, 429, "the held upload has the only slot: {v}");
    gone.answer.abort();
    assert!(gone.answer.await.unwrap_err().is_cancelled());
    drop(gone.rest);
    // After all that, the slot is free.
    let (s, _, v) = import(&t, &carol, "600002.SH").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(t.store.bar_count().await.unwrap(), 2, "only the last import wrote anything");
}

#[tokio::test]
async fn uploads_arrive_in_small_pieces_and_fields_in_any_order() {
    let t = app().await;
    let mut csv = String::from("date,open,high,low,close,volume\n");
    let start = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    for i in 0..5000 {
        let d = start + chrono::Duration::days(i);
        csv.push_str(&format!("{d},10,11,9,10.5,{i}\n"));
    }
    // The file first, the fields after it, in 7-byte pieces.
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n"
    );
    for (k, v) in [("resolution", "1D"), ("symbol", "600519.SH")] {
        body.push_str(&format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let pieces: Vec<Result<Bytes, std::io::Error>> =
        body.as_bytes().chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let req = post(&t.token, "/api/v1/imports/bars", Body::from_stream(futures_util::stream::iter(pieces)));
    let (s, _, v) = answer(&t, req).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["rows"].as_u64(), v["bars"].as_u64()), (Some(5000), Some(5000)), "{v}");
    let (_, v) = t.get_json("/api/v1/bars/600519.SH?limit=1").await;
    assert_eq!(v["bars"][0]["volume"], 4999.0);
}

#[tokio::test]
async fn text_fields_are_short() {
    let t = app().await;
    let long = "x".repeat(257);
    let body = form(&[("resolution", "1D"), ("symbol", "600519.SH"), ("time_column", &long)], HEAD);
    let (s, _, v) = answer(&t, post(&t.token, "/api/v1/imports/bars", Body::from(body))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (400, Some("bad_request")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("longer than 256 characters"), "{v}");
    // 256 characters (of up to 4 bytes each) are read; no such column is a 422.
    let body = form(&[("resolution", "1D"), ("symbol", "600519.SH"), ("time_column", &"时".repeat(256))], HEAD);
    let (s, _, v) = answer(&t, post(&t.token, "/api/v1/imports/bars", Body::from(body))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (422, Some("invalid_file")), "{v}");
    // The OpenAPI document says so.
    let (_, doc) = t.get_json("/api/v1/openapi.json").await;
    assert_eq!(doc["components"]["schemas"]["BarUpload"]["properties"]["time_column"]["maxLength"], 256);
    let import = &doc["paths"]["/api/v1/imports/bars"]["post"]["responses"]["429"];
    assert!(import["description"].as_str().unwrap().contains("imports_per_user"), "{import}");
    assert!(import["headers"]["Retry-After"].is_object(), "{import}");
}

#[tokio::test]
async fn an_instrument_master_has_at_most_200000_rows() {
    // Every instrument is held until the file is read (to find repeated symbols), so the row count
    // bounds the memory an upload can take.
    let t = app().await;
    let max = quantdesk_server::api::MAX_INSTRUMENT_ROWS;
    assert_eq!(max, 200_000);
    let mut master = String::from("ts_code,name\n");
    for i in 0..=max {
        master.push_str(&format!("A{i:07}.SH,n\n"));
    }
    let (s, _, v) = answer(&t, post(&t.token, "/api/v1/imports/instruments", Body::from(form(&[], &master)))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (422, Some("invalid_file")), "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!(":{}:", max + 2)) && msg.contains("more than 200000 instruments"), "{msg}");
    assert_eq!(t.store.count_instruments(&Default::default()).await.unwrap(), 0);
}
