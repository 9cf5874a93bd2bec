//! The client: one attempt at a time with a timeout, retries, classification, metrics.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sse::SseParser;
use crate::{ChatRequest, FallbackError, LlmError, LlmErrorKind, Provider, Usage};

/// When and how often to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt, on timeouts, connection failures, 429 and 5xx.
    pub max_retries: u32,
    /// The first back-off; each retry doubles it (plus up to 50% jitter), up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails (and a fallback order
    /// moves on to the next provider).
    pub retry_after_max: Duration,
    /// The jitter's seed; `None` seeds from the clock. Tests fix it.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            retry_after_max: Duration::from_secs(60),
            seed: None,
        }
    }
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The provider that answered (in a fallback order, the first that succeeded).
    pub provider: String,
    /// The model the endpoint says answered (the requested one when it says none).
    pub model: String,
    pub text: String,
    /// `stop`, `length`… as the endpoint said.
    pub finish_reason: String,
    pub usage: Usage,
    /// The successful attempt's time, from sending to the last byte.
    pub latency: Duration,
    /// Attempts made on this provider (1 when the first succeeded).
    pub attempts: u32,
}

/// One piece of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More text.
    Delta(String),
    /// The end: nothing follows.
    Done(StreamSummary),
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSummary {
    pub provider: String,
    pub model: String,
    pub finish_reason: String,
    /// Token counts, when the endpoint sent them (`stream_options.include_usage` asks for them).
    pub usage: Option<Usage>,
    /// From the first attempt's sending to the end.
    pub latency: Duration,
    pub attempts: u32,
}

/// Why one attempt failed, and whether another may help.
#[derive(Debug)]
struct Failure {
    kind: LlmErrorKind,
    detail: String,
    retry: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(kind: LlmErrorKind, detail: impl Into<String>) -> Self {
        Failure { kind, detail: detail.into(), retry: false, retry_after: None }
    }
    fn retryable(kind: LlmErrorKind, detail: impl Into<String>) -> Self {
        Failure { kind, detail: detail.into(), retry: true, retry_after: None }
    }
}

/// A check of an answer's text (its numbers against the data it was given, say); an `Err` makes
/// the call a [`LlmErrorKind::BadAnswer`] with that detail.
pub type AnswerCheck<'a> = &'a (dyn Fn(&str) -> Result<(), String> + Sync);

/// Calls OpenAI-compatible endpoints. One client serves any number of providers.
pub struct LlmClient {
    http: reqwest::Client,
    retry: RetryPolicy,
    rng: Mutex<u64>,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient").field("retry", &self.retry).finish()
    }
}

/// The `User-Agent` quantdesk sends.
const USER_AGENT: &str = concat!("quantdesk/", env!("CARGO_PKG_VERSION"));

impl LlmClient {
    pub fn new(retry: RetryPolicy) -> Result<Self, LlmError> {
        quantdesk_connectors::http::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| LlmError::new(LlmErrorKind::Network, "client", format!("cannot build an HTTP client: {e}")))?;
        let seed = retry.seed.unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
        });
        Ok(LlmClient { http, retry, rng: Mutex::new(seed) })
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// A number in `[0, 1)` from the seeded generator (splitmix64).
    fn unit(&self) -> f64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The wait before retry `attempt` (0-based) after `failure`, or `None` to give up.
    fn wait_before(&self, attempt: u32, failure: &Failure) -> Option<Duration> {
        if !failure.retry || attempt >= self.retry.max_retries {
            return None;
        }
        match failure.retry_after {
            Some(d) if d > self.retry.retry_after_max => None,
            Some(d) => Some(d),
            None => Some(quantdesk_connectors::http::backoff_delay(
                self.retry.backoff_base,
                self.retry.backoff_max,
                attempt,
                self.unit(),
            )),
        }
    }

    /// After a failed attempt: waits and counts the next attempt, or gives the error.
    async fn again_or_give_up(&self, provider: &Provider, attempt: &mut u32, f: Failure) -> Result<(), LlmError> {
        let Some(wait) = self.wait_before(*attempt, &f) else {
            return Err(give_up(provider, f, *attempt));
        };
        tracing::info!(
            provider = provider.name.as_str(),
            attempt = *attempt,
            outcome = f.kind.code(),
            retry_in_ms = wait.as_millis() as u64,
            detail = f.detail.as_str(),
            "llm call failed, retrying"
        );
        tokio::time::sleep(wait).await;
        *attempt += 1;
        Ok(())
    }

    /// One JSON answer from `provider`, with retries.
    pub async fn complete(&self, provider: &Provider, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.complete_checked(provider, request, None).await
    }

    /// Like [`LlmClient::complete`], and the answer's text must pass `check` (a failed check is
    /// not retried: it is counted as `bad_answer`).
    pub async fn complete_checked(
        &self,
        provider: &Provider,
        request: &ChatRequest,
        check: Option<AnswerCheck<'_>>,
    ) -> Result<ChatResponse, LlmError> {
        let body = wire_body(provider, request, false);
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = within(provider.timeout, self.send_json(provider, &body)).await;
            let outcome = outcome.and_then(|mut r| {
                if let Some(check) = check {
                    check(&r.text).map_err(|why| Failure::fatal(LlmErrorKind::BadAnswer, why))?;
                }
                r.attempts = attempt + 1;
                r.latency = started.elapsed();
                Ok(r)
            });
            record_attempt(provider, &outcome.as_ref().map(|_| ()).map_err(|f| f.kind), started.elapsed());
            match outcome {
                Ok(r) => {
                    record_tokens(&provider.name, r.usage);
                    tracing::info!(
                        provider = provider.name.as_str(),
                        model = r.model.as_str(),
                        attempts = r.attempts,
                        prompt_tokens = r.usage.prompt_tokens,
                        completion_tokens = r.usage.completion_tokens,
                        latency_ms = r.latency.as_millis() as u64,
                        "llm call ok"
                    );
                    return Ok(r);
                }
                Err(f) => self.again_or_give_up(provider, &mut attempt, f).await?,
            }
        }
    }

    /// The first provider of `providers` that answers (each with its retries); the answer names it.
    pub async fn complete_any(
        &self,
        providers: &[Provider],
        request: &ChatRequest,
        check: Option<AnswerCheck<'_>>,
    ) -> Result<ChatResponse, FallbackError> {
        let mut errors = Vec::new();
        for p in providers {
            match self.complete_checked(p, request, check).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::warn!(provider = p.name.as_str(), outcome = e.kind.code(), "llm provider failed, next");
                    errors.push(e);
                }
            }
        }
        Err(FallbackError { errors })
    }

    /// A streamed answer from `provider`. Retries happen until the answer starts (its headers);
    /// once text flows, a failure ends the stream with an error.
    pub async fn stream(&self, provider: &Provider, request: &ChatRequest) -> Result<LlmStream, LlmError> {
        let body = wire_body(provider, request, true);
        let first = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = within(provider.timeout, self.open(provider, &body)).await;
            match outcome {
                Ok(response) => {
                    return Ok(LlmStream {
                        response,
                        parser: SseParser::new(),
                        pending: VecDeque::new(),
                        finished: false,
                        provider: provider.name.clone(),
                        model: provider.model.clone(),
                        key: provider.api_key.clone(),
                        timeout: provider.timeout,
                        started: first,
                        attempt_started: started,
                        attempts: attempt + 1,
                        finish_reason: None,
                        usage: None,
                    });
                }
                Err(f) => {
                    record_attempt(provider, &Err(f.kind), started.elapsed());
                    self.again_or_give_up(provider, &mut attempt, f).await?;
                }
            }
        }
    }

    /// A stream from the first provider of `providers` whose answer starts.
    pub async fn stream_any(&self, providers: &[Provider], request: &ChatRequest) -> Result<LlmStream, FallbackError> {
        let mut errors = Vec::new();
        for p in providers {
            match self.stream(p, request).await {
                Ok(s) => return Ok(s),
                Err(e) => errors.push(e),
            }
        }
        Err(FallbackError { errors })
    }

    fn post(&self, provider: &Provider, body: &Value) -> reqwest::RequestBuilder {
        let mut b = self.http.post(provider.endpoint()).json(body);
        if let Some(key) = &provider.api_key {
            b = b.bearer_auth(key);
        }
        b
    }

    async fn send_json(&self, provider: &Provider, body: &Value) -> Result<ChatResponse, Failure> {
        let response = self.post(provider, body).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(status_failure(status, &bytes, retry_after, provider.api_key.as_deref()));
        }
        parse_answer(provider, &bytes)
    }

    async fn open(&self, provider: &Provider, body: &Value) -> Result<reqwest::Response, Failure> {
        let response = self.post(provider, body).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(transport)?;
        Err(status_failure(status, &bytes, retry_after, provider.api_key.as_deref()))
    }
}

/// A streamed answer being read: call [`LlmStream::next`] until it gives `None`.
pub struct LlmStream {
    response: reqwest::Response,
    parser: SseParser,
    pending: VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
    provider: String,
    model: String,
    key: Option<String>,
    timeout: Duration,
    started: Instant,
    attempt_started: Instant,
    attempts: u32,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl std::fmt::Debug for LlmStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmStream").field("provider", &self.provider).field("model", &self.model).finish()
    }
}

impl LlmStream {
    /// The provider answering.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The next piece: text deltas, then one [`StreamEvent::Done`] (or an error), then `None`.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(ev);
            }
            if self.finished {
                return None;
            }
            match tokio::time::timeout(self.timeout, self.response.chunk()).await {
                Err(_) => self.fail(LlmErrorKind::Timeout, format!("no piece of the stream within {:?}", self.timeout)),
                Ok(Err(e)) => self.fail(LlmErrorKind::Network, format!("the stream broke off: {}", e.without_url())),
                Ok(Ok(None)) => {
                    if let Some(data) = self.parser.finish() {
                        self.event(&data);
                    }
                    if !self.finished {
                        if self.finish_reason.is_some() {
                            self.done();
                        } else {
                            self.fail(LlmErrorKind::Network, "the stream ended before its end ([DONE])".into());
                        }
                    }
                }
                Ok(Ok(Some(bytes))) => {
                    for data in self.parser.push(&bytes) {
                        if self.finished {
                            break;
                        }
                        self.event(&data);
                    }
                }
            }
        }
    }

    /// Reads the whole stream into one answer.
    pub async fn collect(mut self) -> Result<ChatResponse, LlmError> {
        let mut text = String::new();
        while let Some(ev) = self.next().await {
            match ev? {
                StreamEvent::Delta(d) => text.push_str(&d),
                StreamEvent::Done(s) => {
                    return Ok(ChatResponse {
                        provider: s.provider,
                        model: s.model,
                        text,
                        finish_reason: s.finish_reason,
                        usage: s.usage.unwrap_or_default(),
                        latency: s.latency,
                        attempts: s.attempts,
                    });
                }
            }
        }
        Err(LlmError::new(LlmErrorKind::Network, self.provider.clone(), "the stream ended without its end"))
    }

    fn event(&mut self, data: &str) {
        if data.trim() == "[DONE]" {
            self.done();
            return;
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => return self.fail(LlmErrorKind::BadAnswer, format!("a piece of the stream is not JSON: {e}")),
        };
        if let Some(err) = v.get("error") {
            let (kind, detail) = classify_error_object(err, self.key.as_deref());
            return self.fail(kind.unwrap_or(LlmErrorKind::ServerError), detail);
        }
        if let Some(m) = v.get("model").and_then(Value::as_str).filter(|m| !m.is_empty()) {
            self.model = m.to_string();
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(usage_of(u));
        }
        let choice = v.get("choices").and_then(|c| c.get(0));
        if let Some(text) = choice.and_then(|c| c.get("delta")).and_then(|d| d.get("content")).and_then(Value::as_str)
            && !text.is_empty()
        {
            self.pending.push_back(Ok(StreamEvent::Delta(text.to_string())));
        }
        if let Some(reason) = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str) {
            if reason == "content_filter" {
                return self.fail(LlmErrorKind::ContentFiltered, "finish_reason: content_filter".into());
            }
            self.finish_reason = Some(reason.to_string());
        }
    }

    fn done(&mut self) {
        self.finished = true;
        let latency = self.started.elapsed();
        metrics::counter!("quantdesk_llm_requests_total", "provider" => self.provider.clone(), "outcome" => "ok")
            .increment(1);
        metrics::histogram!("quantdesk_llm_request_seconds", "provider" => self.provider.clone())
            .record(self.attempt_started.elapsed().as_secs_f64());
        if let Some(u) = self.usage {
            record_tokens(&self.provider, u);
        }
        tracing::info!(
            provider = self.provider.as_str(),
            model = self.model.as_str(),
            attempts = self.attempts,
            prompt_tokens = self.usage.map(|u| u.prompt_tokens),
            completion_tokens = self.usage.map(|u| u.completion_tokens),
            latency_ms = latency.as_millis() as u64,
            "llm stream ok"
        );
        self.pending.push_back(Ok(StreamEvent::Done(StreamSummary {
            provider: self.provider.clone(),
            model: self.model.clone(),
            finish_reason: self.finish_reason.clone().unwrap_or_else(|| "stop".into()),
            usage: self.usage,
            latency,
            attempts: self.attempts,
        })));
    }

    fn fail(&mut self, kind: LlmErrorKind, detail: String) {
        self.finished = true;
        metrics::counter!("quantdesk_llm_requests_total", "provider" => self.provider.clone(), "outcome" => kind.code())
            .increment(1);
        metrics::histogram!("quantdesk_llm_request_seconds", "provider" => self.provider.clone())
            .record(self.attempt_started.elapsed().as_secs_f64());
        tracing::info!(
            provider = self.provider.as_str(),
            outcome = kind.code(),
            detail = detail.as_str(),
            "llm stream failed"
        );
        let mut e = LlmError::new(kind, self.provider.clone(), detail);
        e.attempts = self.attempts;
        self.pending.push_back(Err(e));
    }
}

/// `attempt`, or a retryable timeout when it takes longer than `timeout`.
async fn within<T>(
    timeout: Duration,
    attempt: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(Failure::retryable(LlmErrorKind::Timeout, format!("no answer within {timeout:?}"))))
}

fn wire_body(provider: &Provider, request: &ChatRequest, stream: bool) -> Value {
    let mut body = json!({"model": provider.model, "messages": request.messages, "stream": stream});
    if let Some(t) = request.temperature.or(provider.temperature) {
        body["temperature"] = json!(t);
    }
    if let Some(t) = request.top_p.or(provider.top_p) {
        body["top_p"] = json!(t);
    }
    if let Some(n) = request.max_tokens.or(provider.max_tokens) {
        body["max_tokens"] = json!(n);
    }
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn record_attempt(provider: &Provider, outcome: &Result<(), LlmErrorKind>, elapsed: Duration) {
    let label = match outcome {
        Ok(()) => "ok",
        Err(k) => k.code(),
    };
    metrics::counter!("quantdesk_llm_requests_total", "provider" => provider.name.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!("quantdesk_llm_request_seconds", "provider" => provider.name.clone())
        .record(elapsed.as_secs_f64());
}

fn record_tokens(provider: &str, usage: Usage) {
    metrics::counter!("quantdesk_llm_tokens_total", "provider" => provider.to_string(), "direction" => "in")
        .increment(usage.prompt_tokens);
    metrics::counter!("quantdesk_llm_tokens_total", "provider" => provider.to_string(), "direction" => "out")
        .increment(usage.completion_tokens);
}

fn give_up(provider: &Provider, f: Failure, attempt: u32) -> LlmError {
    let mut e = LlmError::new(f.kind, provider.name.clone(), f.detail);
    e.attempts = attempt + 1;
    if attempt > 0 {
        e.detail = format!("{} (after {} attempts)", e.detail, attempt + 1);
    }
    tracing::info!(
        provider = provider.name.as_str(),
        outcome = e.kind.code(),
        attempts = e.attempts,
        "llm call failed"
    );
    e
}

fn transport(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    if e.is_timeout() {
        Failure::retryable(LlmErrorKind::Timeout, "the request timed out")
    } else if e.is_connect() {
        Failure::retryable(LlmErrorKind::Network, format!("cannot connect: {e}"))
    } else {
        Failure::retryable(LlmErrorKind::Network, format!("the connection failed: {e}"))
    }
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds().max(0);
    Some(Duration::from_millis(ms as u64))
}

/// At most 300 characters of what the provider said, without the key.
fn scrub(s: &str, key: Option<&str>) -> String {
    let mut s: String = s.chars().take(300).collect();
    if let Some(k) = key.filter(|k| k.len() >= 4) {
        s = s.replace(k, "***");
    }
    s
}

/// The kind an OpenAI-style `error` object names, if any, and its words.
fn classify_error_object(err: &Value, key: Option<&str>) -> (Option<LlmErrorKind>, String) {
    let text = |k: &str| match err.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let (code, kind_type, message) = (text("code"), text("type"), text("message"));
    let all = format!("{code} {kind_type} {message}").to_ascii_lowercase();
    let kind = if code == "context_length_exceeded"
        || all.contains("context length")
        || all.contains("context_length")
        || all.contains("maximum context")
        || all.contains("prompt is too long")
        || all.contains("too many tokens")
    {
        Some(LlmErrorKind::ContextTooLong)
    } else if code == "content_filter"
        || all.contains("content_policy")
        || all.contains("content filter")
        || all.contains("data_inspection_failed")
    {
        Some(LlmErrorKind::ContentFiltered)
    } else if code == "invalid_api_key" || kind_type == "authentication_error" {
        Some(LlmErrorKind::Auth)
    } else {
        None
    };
    let detail = if code.is_empty() { message } else { format!("{code}: {message}") };
    (kind, scrub(&detail, key))
}

fn status_failure(status: u16, body: &[u8], retry_after: Option<Duration>, key: Option<&str>) -> Failure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed
        .as_ref()
        .and_then(|v| v.get("error").or_else(|| v.get(0).and_then(|x| x.get("error"))).filter(|e| e.is_object()));
    let (named, said) = match err {
        Some(e) => classify_error_object(e, key),
        None => (None, scrub(&String::from_utf8_lossy(body), key)),
    };
    let detail = if said.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {said}") };
    let mut f = match status {
        401 | 403 => Failure::fatal(LlmErrorKind::Auth, detail),
        429 if said.contains("insufficient_quota") => Failure::fatal(LlmErrorKind::RateLimited, detail),
        429 => Failure::retryable(LlmErrorKind::RateLimited, detail),
        408 => Failure::retryable(LlmErrorKind::Timeout, detail),
        413 => Failure::fatal(LlmErrorKind::ContextTooLong, detail),
        s if s >= 500 => Failure::retryable(named.unwrap_or(LlmErrorKind::ServerError), detail),
        _ => Failure::fatal(named.unwrap_or(LlmErrorKind::Refused), detail),
    };
    f.retry_after = retry_after;
    f
}

fn usage_of(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage { prompt_tokens: n("prompt_tokens"), completion_tokens: n("completion_tokens") }
}

fn parse_answer(provider: &Provider, bytes: &[u8]) -> Result<ChatResponse, Failure> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Failure::fatal(LlmErrorKind::BadAnswer, format!("the answer is not JSON: {e}")))?;
    if let Some(err) = v.get("error").filter(|e| e.is_object()) {
        let (kind, detail) = classify_error_object(err, provider.api_key.as_deref());
        return Err(Failure::fatal(kind.unwrap_or(LlmErrorKind::BadAnswer), detail));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| Failure::fatal(LlmErrorKind::BadAnswer, "the answer has no choices"))?;
    let finish_reason = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("").to_string();
    if finish_reason == "content_filter" {
        return Err(Failure::fatal(LlmErrorKind::ContentFiltered, "finish_reason: content_filter"));
    }
    let text = choice
        .get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::fatal(LlmErrorKind::BadAnswer, "the answer has no message content"))?;
    if text.trim().is_empty() {
        return Err(Failure::fatal(
            LlmErrorKind::BadAnswer,
            format!("an empty answer (finish_reason {finish_reason:?})"),
        ));
    }
    Ok(ChatResponse {
        provider: provider.name.clone(),
        model: v.get("model").and_then(Value::as_str).filter(|m| !m.is_empty()).unwrap_or(&provider.model).to_string(),
        text: text.to_string(),
        finish_reason,
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
        latency: Duration::ZERO,
        attempts: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_from_status_and_body() {
        let k = |status, body: &str| status_failure(status, body.as_bytes(), None, Some("sk-secret-key")).kind;
        let ctx = r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        assert_eq!(k(400, ctx), LlmErrorKind::ContextTooLong);
        assert_eq!(k(400, r#"{"error":{"code":"content_filter","message":"x"}}"#), LlmErrorKind::ContentFiltered);
        assert_eq!(k(400, r#"[{"error":{"code":400,"message":"bad model"}}]"#), LlmErrorKind::Refused);
        assert_eq!(k(401, "nope"), LlmErrorKind::Auth);
        assert_eq!(k(503, "<html>"), LlmErrorKind::ServerError);
        assert!(status_failure(429, b"{}", None, None).retry);
        assert!(!status_failure(429, br#"{"error":{"code":"insufficient_quota"}}"#, None, None).retry);
        let f = status_failure(
            401,
            br#"{"error":{"message":"Incorrect API key provided: sk-secret-key"}}"#,
            None,
            Some("sk-secret-key"),
        );
        assert!(!f.detail.contains("sk-secret-key") && f.detail.contains("***"), "{}", f.detail);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(reqwest::header::RETRY_AFTER, "0.25".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        h.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past: at once");
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn jitter_follows_the_seed() {
        let policy = RetryPolicy { seed: Some(7), ..RetryPolicy::default() };
        let a = LlmClient::new(policy.clone()).unwrap();
        let b = LlmClient::new(policy).unwrap();
        let xs: Vec<f64> = (0..5).map(|_| a.unit()).collect();
        let ys: Vec<f64> = (0..5).map(|_| b.unit()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)) && xs[0] != xs[1]);
        let f = Failure::retryable(LlmErrorKind::ServerError, "x");
        let w = a.wait_before(1, &f).unwrap();
        assert!(w >= Duration::from_secs(2) && w <= Duration::from_secs(3), "{w:?}");
        assert_eq!(a.wait_before(2, &f), None, "two retries at most");
        let long = Failure {
            retry_after: Some(Duration::from_secs(600)),
            ..Failure::retryable(LlmErrorKind::RateLimited, "x")
        };
        assert_eq!(a.wait_before(0, &long), None, "a Retry-After beyond the bound is not waited for");
    }

    #[test]
    fn the_body_asks_for_usage_in_streams() {
        let mut p = Provider::new("p", "http://h/v1", "m");
        p.temperature = Some(0.2);
        p.max_tokens = Some(100);
        let mut r = ChatRequest::new(vec![crate::Message::user("hi")]);
        r.max_tokens = Some(50);
        let b = wire_body(&p, &r, true);
        assert_eq!(b["stream_options"]["include_usage"], json!(true));
        assert_eq!((b["temperature"].clone(), b["max_tokens"].clone()), (json!(0.2), json!(50)));
        assert!(b.get("top_p").is_none());
        assert_eq!(b["messages"][0], json!({"role": "user", "content": "hi"}));
        assert!(wire_body(&p, &r, false).get("stream_options").is_none());
    }
}
