//! An OpenAI-compatible chat-completions server on loopback, answering a script (feature `fake`).
//!
//! [`FakeLlm::start`] gives a running server; [`FakeLlm::base_url`] is what a [`crate::Provider`]
//! points at (`http://127.0.0.1:<port>/v1`). Each request takes the next [`Scripted`] answer (a
//! JSON answer, a stream, a failure); with the script empty it answers `ok`. The fake keeps every
//! request's body and whether a key came with it (never the key). It stops when dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::Usage;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Scripted {
    /// A complete answer (streamed word by word when the request asks for a stream).
    Text { text: String, usage: Usage, finish_reason: String },
    /// A stream of these deltas, its SSE bytes sent in pieces of `piece_bytes` (0: one piece per
    /// event), so events and even characters are split across reads.
    Stream { deltas: Vec<String>, usage: Usage, piece_bytes: usize },
    /// A stream that breaks off after these deltas (no finish reason, no `[DONE]`).
    CutStream { deltas: Vec<String> },
    /// An HTTP status with a body and an optional `Retry-After`.
    Status { status: u16, body: String, retry_after: Option<String> },
    /// Wait this long, then answer `ok` (longer than a client's timeout: a timeout).
    Hang(Duration),
    /// A 200 whose body is not JSON.
    InvalidJson,
}

impl Scripted {
    /// `text` with 10 prompt tokens and one completion token per word.
    pub fn text(text: &str) -> Self {
        let words = text.split_whitespace().count() as u64;
        Scripted::Text {
            text: text.into(),
            usage: Usage { prompt_tokens: 10, completion_tokens: words.max(1) },
            finish_reason: "stop".into(),
        }
    }

    pub fn stream(deltas: &[&str], piece_bytes: usize) -> Self {
        Scripted::Stream {
            deltas: deltas.iter().map(|s| s.to_string()).collect(),
            usage: Usage { prompt_tokens: 12, completion_tokens: deltas.len() as u64 },
            piece_bytes,
        }
    }

    pub fn cut_stream(deltas: &[&str]) -> Self {
        Scripted::CutStream { deltas: deltas.iter().map(|s| s.to_string()).collect() }
    }

    /// 401 with OpenAI's `invalid_api_key` error.
    pub fn unauthorized() -> Self {
        Self::error(401, "invalid_api_key", "invalid_request_error", "Incorrect API key provided.", None)
    }

    /// 429 with `Retry-After: secs`.
    pub fn rate_limited(retry_after: &str) -> Self {
        Self::error(429, "rate_limit_exceeded", "requests", "Rate limit reached.", Some(retry_after))
    }

    /// 500.
    pub fn server_error() -> Self {
        Self::error(500, "server_error", "server_error", "The server had an error.", None)
    }

    /// 400 with OpenAI's `context_length_exceeded`.
    pub fn context_too_long() -> Self {
        Self::error(
            400,
            "context_length_exceeded",
            "invalid_request_error",
            "This model's maximum context length is 8192 tokens.",
            None,
        )
    }

    /// A 200 whose choice finished with `content_filter`.
    pub fn content_filtered() -> Self {
        Scripted::Text {
            text: String::new(),
            usage: Usage { prompt_tokens: 10, completion_tokens: 0 },
            finish_reason: "content_filter".into(),
        }
    }

    fn error(status: u16, code: &str, kind: &str, message: &str, retry_after: Option<&str>) -> Self {
        Scripted::Status {
            status,
            body: json!({"error": {"message": message, "type": kind, "code": code}}).to_string(),
            retry_after: retry_after.map(String::from),
        }
    }
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRequest {
    pub body: Value,
    /// Whether an `Authorization: Bearer` header came (the key itself is not kept).
    pub had_key: bool,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<FakeRequest>>,
    key: Option<String>,
}

/// A running fake.
pub struct FakeLlm {
    base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLlm").field("base_url", &self.base_url).finish()
    }
}

impl FakeLlm {
    /// A fake answering `script` in order, then `ok`; any key or none is accepted.
    pub async fn start(script: Vec<Scripted>) -> Self {
        Self::start_inner(script, None).await
    }

    /// Like [`FakeLlm::start`], and a request without `key` is answered 401.
    pub async fn start_with_key(script: Vec<Scripted>, key: &str) -> Self {
        Self::start_inner(script, Some(key.to_string())).await
    }

    async fn start_inner(script: Vec<Scripted>, key: Option<String>) -> Self {
        let shared = Arc::new(Shared { script: Mutex::new(script.into()), requests: Mutex::default(), key });
        let router = Router::new().route("/v1/chat/completions", post(completions)).with_state(shared.clone());
        let (base, task) = quantdesk_connectors::fake::serve_loopback(router).await;
        FakeLlm { base_url: format!("{base}/v1"), shared, task }
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queues more answers.
    pub fn push(&self, answer: Scripted) {
        self.shared.script.lock().unwrap().push_back(answer);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn completions(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push(FakeRequest { body: body.clone(), had_key: bearer.is_some() });
    if let Some(key) = &shared.key
        && bearer.as_deref() != Some(key.as_str())
    {
        return answer(Scripted::unauthorized(), &body).await;
    }
    let next = shared.script.lock().unwrap().pop_front().unwrap_or_else(|| Scripted::text("ok"));
    answer(next, &body).await
}

async fn answer(scripted: Scripted, request: &Value) -> Response {
    let model = request.get("model").and_then(Value::as_str).unwrap_or("fake-model").to_string();
    let streaming = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    match scripted {
        Scripted::Hang(d) => {
            tokio::time::sleep(d).await;
            Box::pin(answer(Scripted::text("ok"), request)).await
        }
        Scripted::Status { status, body, retry_after } => {
            let mut r =
                (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            if let Some(ra) = retry_after
                && let Ok(v) = ra.parse()
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Scripted::InvalidJson => {
            ([(header::CONTENT_TYPE, "application/json")], "{\"choices\": [{\"message\": ").into_response()
        }
        Scripted::Text { text, usage, finish_reason } if streaming => {
            let deltas: Vec<String> = text.split_inclusive(' ').map(String::from).collect();
            sse(events(&model, &deltas, Some(&finish_reason), include_usage.then_some(usage), true), 0, false)
        }
        Scripted::Text { text, usage, finish_reason } => {
            let content = if finish_reason == "content_filter" { Value::Null } else { json!(text) };
            let body = json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
                "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                          "total_tokens": usage.prompt_tokens + usage.completion_tokens},
            });
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        Scripted::Stream { deltas, usage, piece_bytes } => {
            sse(events(&model, &deltas, Some("stop"), include_usage.then_some(usage), true), piece_bytes, false)
        }
        Scripted::CutStream { deltas } => sse(events(&model, &deltas, None, None, false), 0, true),
    }
}

/// The SSE text of a stream: a chunk per delta, the finish, the usage, `[DONE]`.
fn events(model: &str, deltas: &[String], finish: Option<&str>, usage: Option<Usage>, done: bool) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut out = vec![format!("data: {}\n\n", chunk(json!({"role": "assistant", "content": ""}), Value::Null))];
    for d in deltas {
        out.push(format!("data: {}\n\n", chunk(json!({"content": d}), Value::Null)));
    }
    if let Some(f) = finish {
        out.push(format!("data: {}\n\n", chunk(json!({}), json!(f))));
    }
    if let Some(u) = usage {
        let body = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [], "usage": {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens}});
        out.push(format!("data: {body}\n\n"));
    }
    if done {
        out.push("data: [DONE]\n\n".into());
    }
    out
}

/// Sends `events` as `text/event-stream` in pieces (a short pause between them so they arrive in
/// separate reads); with `cut`, the connection is broken after the last piece.
fn sse(events: Vec<String>, piece_bytes: usize, cut: bool) -> Response {
    let mut pieces: Vec<Bytes> = Vec::new();
    if piece_bytes == 0 {
        pieces.extend(events.into_iter().map(Bytes::from));
    } else {
        let all = events.concat().into_bytes();
        pieces.extend(all.chunks(piece_bytes).map(Bytes::copy_from_slice));
    }
    let stream = futures_util::stream::unfold((pieces.into_iter(), cut), |(mut it, cut)| async move {
        match it.next() {
            Some(p) => {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Some((Ok::<Bytes, std::io::Error>(p), (it, cut)))
            }
            None if cut => {
                // Let the last piece leave before the connection breaks.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Err(std::io::Error::other("cut")), (it, false)))
            }
            None => None,
        }
    });
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(stream))
        .into_response()
}
