//! The HTTP client every source shares: timeouts, retries with exponential back-off and jitter, a
//! client-side rate limiter, a `User-Agent`, metrics, call counts and log lines without tokens.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{CallCounts, ErrorKind, Result, SourceError, SourceId};

/// How to reach one source. Build with [`SourceSettings::tushare`], [`SourceSettings::eastmoney`],
/// [`SourceSettings::yahoo`] or [`SourceSettings::for_source`], then adjust fields.
///
/// `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceSettings {
    /// Scheme, host and optional path prefix, without a trailing slash.
    pub base_url: String,
    /// The vendor token (TuShare); never logged or shown.
    pub token: Option<String>,
    /// Client-side limit; 0 turns the limiter off.
    pub calls_per_minute: u32,
    /// Per request (sending and reading the answer).
    pub timeout: Duration,
    /// Retries after the first attempt, on timeouts, connection failures, 5xx and rate limits.
    pub max_retries: u32,
    pub user_agent: String,
    /// The first back-off; each retry doubles it (plus up to 50% jitter), up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

/// The `User-Agent` quantdesk sends.
pub const DEFAULT_USER_AGENT: &str = concat!("quantdesk/", env!("CARGO_PKG_VERSION"));

impl SourceSettings {
    fn base(base_url: &str, calls_per_minute: u32) -> Self {
        SourceSettings {
            base_url: base_url.to_string(),
            token: None,
            calls_per_minute,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }

    /// TuShare Pro: `http://api.tushare.pro`, 200 calls a minute (the lowest paid tier's limit).
    pub fn tushare(token: Option<String>) -> Self {
        SourceSettings { token: token.filter(|t| !t.trim().is_empty()), ..Self::base("http://api.tushare.pro", 200) }
    }

    /// Eastmoney's history server `https://push2his.eastmoney.com`, 60 calls a minute (no published limit:
    /// it is kept polite).
    pub fn eastmoney() -> Self {
        Self::base("https://push2his.eastmoney.com", 60)
    }

    /// Yahoo Finance's chart API `https://query1.finance.yahoo.com`, 60 calls a minute.
    pub fn yahoo() -> Self {
        Self::base("https://query1.finance.yahoo.com", 60)
    }

    /// The defaults of `source`, without a token.
    pub fn for_source(source: SourceId) -> Self {
        match source {
            SourceId::Tushare => Self::tushare(None),
            SourceId::Eastmoney => Self::eastmoney(),
            SourceId::Yahoo => Self::yahoo(),
        }
    }

    /// The same settings pointed at another base URL (a trailing slash is dropped).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_string();
        self
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let t = token.into();
        self.token = if t.trim().is_empty() { None } else { Some(t) };
        self
    }

    pub fn with_calls_per_minute(mut self, calls_per_minute: u32) -> Self {
        self.calls_per_minute = calls_per_minute;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries and the first back-off.
    pub fn with_retries(mut self, max_retries: u32, backoff_base: Duration) -> Self {
        self.max_retries = max_retries;
        self.backoff_base = backoff_base;
        self
    }
}

impl std::fmt::Debug for SourceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSettings")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("calls_per_minute", &self.calls_per_minute)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("user_agent", &self.user_agent)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .finish()
    }
}

/// Spaces calls evenly: at most one every `60 s / calls_per_minute`, the first at once.
struct RateLimiter {
    interval: Option<Duration>,
    next: Mutex<Option<tokio::time::Instant>>,
}

impl RateLimiter {
    fn new(calls_per_minute: u32) -> Self {
        let interval = (calls_per_minute > 0).then(|| Duration::from_secs(60) / calls_per_minute);
        RateLimiter { interval, next: Mutex::new(None) }
    }

    async fn acquire(&self) {
        let Some(interval) = self.interval else { return };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            let slot = match *next {
                Some(n) if n > now => n,
                _ => now,
            };
            *next = Some(slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Why one attempt failed, and whether another attempt may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: SourceError,
    pub retry: bool,
}

impl Failure {
    pub fn fatal(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure { error: SourceError::new(kind, message), retry: false }
    }
    pub fn retryable(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure { error: SourceError::new(kind, message), retry: true }
    }
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Self {
        Failure { error, retry: false }
    }
}

/// The client one source uses. Cheap to share behind the source.
pub(crate) struct HttpClient {
    source: SourceId,
    settings: SourceSettings,
    client: reqwest::Client,
    limiter: RateLimiter,
    requests: AtomicU64,
    failures: AtomicU64,
}

/// One request to send: a method, a URL and an optional JSON body.
pub(crate) enum Request {
    Get(String),
    PostJson(String, serde_json::Value),
}

/// Installs the `ring` crypto provider for rustls unless the process already has one (reqwest is
/// built with `rustls-no-provider`, which keeps the C toolchain for aws-lc out of the build).
/// Every reqwest client of quantdesk (the sources here, the LLM providers) calls it first.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may win the race; either provider is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl HttpClient {
    pub fn new(source: SourceId, mut settings: SourceSettings) -> Result<Self> {
        ensure_crypto_provider();
        settings.base_url = settings.base_url.trim_end_matches('/').to_string();
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| {
                SourceError::new(ErrorKind::Unsupported, format!("{source}: cannot build an HTTP client: {e}"))
            })?;
        Ok(HttpClient {
            source,
            limiter: RateLimiter::new(settings.calls_per_minute),
            settings,
            client,
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    pub fn settings(&self) -> &SourceSettings {
        &self.settings
    }

    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    pub fn counts(&self) -> CallCounts {
        CallCounts { requests: self.requests.load(Ordering::Relaxed), failures: self.failures.load(Ordering::Relaxed) }
    }

    /// Sends `request` (re-built for each attempt) and hands status and body to `interpret`,
    /// retrying transport failures, timeouts, 5xx, 429 and whatever `interpret` marks retryable.
    pub async fn call<T>(
        &self,
        api: &str,
        request: impl Fn() -> Request,
        interpret: impl Fn(u16, &[u8]) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let source = self.source.as_str();
        let mut attempt: u32 = 0;
        loop {
            self.limiter.acquire().await;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = match tokio::time::timeout(self.settings.timeout, self.send(request())).await {
                Err(_) => Err(Failure::retryable(
                    ErrorKind::Timeout,
                    format!("{source} {api}: no answer within {:?}", self.settings.timeout),
                )),
                Ok(Err(f)) => Err(f),
                Ok(Ok((status, body))) => {
                    if status == 429 {
                        Err(Failure::retryable(ErrorKind::RateLimited, format!("{source} {api}: HTTP 429")))
                    } else if status >= 500 {
                        Err(Failure::retryable(ErrorKind::Unavailable, format!("{source} {api}: HTTP {status}")))
                    } else {
                        interpret(status, &body)
                    }
                }
            };
            let elapsed = started.elapsed();
            metrics::histogram!("quantdesk_source_request_seconds", "source" => source, "api" => api.to_string())
                .record(elapsed.as_secs_f64());
            let label = match &outcome {
                Ok(_) => "ok",
                Err(f) => f.error.kind.code(),
            };
            metrics::counter!(
                "quantdesk_source_requests_total",
                "source" => source,
                "api" => api.to_string(),
                "outcome" => label
            )
            .increment(1);
            match outcome {
                Ok(v) => {
                    tracing::debug!(source, api, attempt, elapsed_ms = elapsed.as_millis() as u64, "source call ok");
                    return Ok(v);
                }
                Err(f) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    if f.retry && attempt < self.settings.max_retries {
                        let wait = self.backoff(attempt);
                        tracing::info!(
                            source,
                            api,
                            attempt,
                            outcome = label,
                            retry_in_ms = wait.as_millis() as u64,
                            error = %f.error,
                            "source call failed, retrying"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    tracing::info!(source, api, attempt, outcome = label, error = %f.error, "source call failed");
                    let mut error = f.error;
                    if attempt > 0 {
                        error.message = format!("{} (after {} attempts)", error.message, attempt + 1);
                    }
                    return Err(error);
                }
            }
        }
    }

    async fn send(&self, request: Request) -> std::result::Result<(u16, Vec<u8>), Failure> {
        let source = self.source.as_str();
        let builder = match request {
            Request::Get(url) => self.client.get(url),
            Request::PostJson(url, body) => self.client.post(url).json(&body),
        };
        let response = builder.send().await.map_err(|e| transport_failure(source, e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| transport_failure(source, e))?;
        Ok((status, body.to_vec()))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        // Jitter from the clock's nanoseconds (no random generator needed).
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        backoff_delay(self.settings.backoff_base, self.settings.backoff_max, attempt, f64::from(nanos % 1000) / 1000.0)
    }
}

/// The wait before retry `attempt` (0 for the first retry): `base × 2^attempt`, capped at `max`,
/// plus up to 50% jitter; `unit` in `[0, 1)` picks the jitter (the caller's source of randomness).
pub fn backoff_delay(base: Duration, max: Duration, attempt: u32, unit: f64) -> Duration {
    let base = base.saturating_mul(1u32 << attempt.min(20)).min(max);
    base.mul_f64(1.0 + unit.clamp(0.0, 1.0) * 0.5)
}

fn transport_failure(source: &str, e: reqwest::Error) -> Failure {
    // The URL is dropped: it never carries a token today, but an error should not rely on that.
    let e = e.without_url();
    if e.is_timeout() {
        Failure::retryable(ErrorKind::Timeout, format!("{source}: request timed out"))
    } else if e.is_decode() || e.is_body() {
        Failure::retryable(ErrorKind::Unavailable, format!("{source}: the answer could not be read: {e}"))
    } else {
        Failure::retryable(ErrorKind::Unavailable, format!("{source}: connection failed: {e}"))
    }
}

/// Percent-encodes one URL path segment or query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_token() {
        let s = SourceSettings::tushare(Some("sekret-token-123".into()));
        let shown = format!("{s:?}");
        assert!(!shown.contains("sekret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(s.calls_per_minute, 200);
        assert_eq!(s.base_url, "http://api.tushare.pro");
        assert!(SourceSettings::tushare(Some("  ".into())).token.is_none());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut s = SourceSettings::yahoo().with_retries(5, Duration::from_millis(10));
        s.backoff_max = Duration::from_millis(35);
        let c = HttpClient::new(SourceId::Yahoo, s).unwrap();
        let b0 = c.backoff(0);
        assert!(b0 >= Duration::from_millis(10) && b0 <= Duration::from_millis(15), "{b0:?}");
        let b1 = c.backoff(1);
        assert!(b1 >= Duration::from_millis(20) && b1 <= Duration::from_millis(30), "{b1:?}");
        let b5 = c.backoff(5);
        assert!(b5 >= Duration::from_millis(35) && b5 <= Duration::from_millis(53), "{b5:?}");
    }

    #[test]
    fn every_source_connects_with_its_defaults() {
        for id in SourceId::ALL {
            let source = crate::connect(id, SourceSettings::for_source(id)).unwrap();
            assert_eq!(source.id(), id);
            assert_eq!(source.calls(), CallCounts::default());
        }
        assert!(SourceSettings::eastmoney().base_url.starts_with("https://push2his.eastmoney.com"));
        assert!(SourceSettings::yahoo().base_url.starts_with("https://query1.finance.yahoo.com"));
    }

    #[test]
    fn encodes_path_components() {
        assert_eq!(encode_component("^DJI"), "%5EDJI");
        assert_eq!(encode_component("600519.SS"), "600519.SS");
        assert_eq!(encode_component("EURUSD=X"), "EURUSD%3DX");
    }
}
