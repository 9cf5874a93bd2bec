//! Any OpenAI-compatible chat-completions endpoint (DeepSeek, Qwen through DashScope's compatible
//! mode, Gemini's OpenAI endpoint, OpenAI, and local servers: Ollama, vLLM, llama.cpp).
//!
//! - [`Provider`]: where and how to call one endpoint (base URL, model, key, sampling, timeout);
//!   [`presets`] fill the base URL of the known ones.
//! - [`LlmClient::complete`] (one JSON answer) and [`LlmClient::stream`] (Server-Sent Events:
//!   text deltas, then a final record with the finish reason and the token counts), with retries
//!   on timeouts, 429 (honouring `Retry-After`) and 5xx, exponential back-off and jitter from a
//!   seed ([`RetryPolicy`]); [`LlmClient::complete_any`] falls to the next provider of a fallback
//!   order when one fails after its retries, and names the provider that answered.
//! - [`LlmError`]: every failure classified ([`LlmErrorKind`]: auth, rate limit, timeout, context
//!   too long, content filtered, network, bad answer, server error, refused) with a stable code and
//!   words in English and Chinese.
//! - Metrics: `quantdesk_llm_requests_total{provider,outcome}` per attempt,
//!   `quantdesk_llm_request_seconds{provider}`, `quantdesk_llm_tokens_total{provider,direction}`.
//! - [`fake`] (feature `fake`): an OpenAI-compatible server on loopback answering a script.
//!
//! Keys never appear in `Debug`, logs or errors. This crate knows nothing of storage: the
//! application layer keeps providers and decides which to call.

mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod sse;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use client::{AnswerCheck, ChatResponse, LlmClient, LlmStream, RetryPolicy, StreamEvent, StreamSummary};

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message { role: Role::Assistant, content: content.into() }
    }
}

/// What to ask. Sampling settings left `None` take the provider's, then the endpoint's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        ChatRequest { messages, ..Default::default() }
    }
}

/// Tokens in and out of one call, as the endpoint counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// One OpenAI-compatible endpoint and how to call it. `Debug` never shows the key.
#[derive(Clone, PartialEq)]
pub struct Provider {
    /// A name for logs, metrics and answers (`deepseek`, `local`…).
    pub name: String,
    /// Up to and including the version segment (`https://api.deepseek.com/v1`); the client appends
    /// `/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set (local servers need none).
    pub api_key: Option<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    /// Per attempt: until the answer's headers, then between two pieces of a stream, and for the
    /// whole body of a JSON answer.
    pub timeout: Duration,
}

impl Provider {
    pub fn new(name: impl Into<String>, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Provider {
            name: name.into(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            model: model.into(),
            api_key: None,
            temperature: None,
            top_p: None,
            max_tokens: None,
            timeout: Duration::from_secs(60),
        }
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        let k = key.into();
        self.api_key = if k.trim().is_empty() { None } else { Some(k) };
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `base_url` + `/chat/completions`.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("temperature", &self.temperature)
            .field("top_p", &self.top_p)
            .field("max_tokens", &self.max_tokens)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The known endpoints: `(preset, base URL)`.
pub mod presets {
    /// Every preset with its base URL, in the order a form lists them.
    pub const ALL: [(&str, &str); 7] = [
        ("deepseek", "https://api.deepseek.com/v1"),
        ("qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai"),
        ("openai", "https://api.openai.com/v1"),
        ("ollama", "http://127.0.0.1:11434/v1"),
        ("vllm", "http://127.0.0.1:8000/v1"),
        ("llamacpp", "http://127.0.0.1:8080/v1"),
    ];

    /// The base URL of `preset` (case-insensitive), or `None` for an unknown name.
    pub fn base_url(preset: &str) -> Option<&'static str> {
        let p = preset.trim().to_ascii_lowercase();
        ALL.iter().find(|(name, _)| *name == p).map(|(_, url)| *url)
    }
}

/// What went wrong with a call, in terms a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmErrorKind {
    /// The key is missing, wrong or not allowed (401, 403).
    Auth,
    /// Too many requests or tokens (429), after the retries.
    RateLimited,
    /// No answer (or no next piece of a stream) within the timeout, after the retries.
    Timeout,
    /// The prompt and the answer do not fit the model's context window.
    ContextTooLong,
    /// The provider's filter stopped the answer (`finish_reason: content_filter`).
    ContentFiltered,
    /// The connection failed or broke (a stream cut before its end).
    Network,
    /// The answer is not what was asked for: not the wire format, empty, or refused by the
    /// caller's check of its content.
    BadAnswer,
    /// The provider failed (5xx) after the retries.
    ServerError,
    /// The provider refused the request (another 4xx: an unknown model, a bad parameter).
    Refused,
}

impl LlmErrorKind {
    pub const ALL: [LlmErrorKind; 9] = [
        LlmErrorKind::Auth,
        LlmErrorKind::RateLimited,
        LlmErrorKind::Timeout,
        LlmErrorKind::ContextTooLong,
        LlmErrorKind::ContentFiltered,
        LlmErrorKind::Network,
        LlmErrorKind::BadAnswer,
        LlmErrorKind::ServerError,
        LlmErrorKind::Refused,
    ];

    /// The stable code (API answers, metrics' `outcome`, logs).
    pub fn code(self) -> &'static str {
        match self {
            LlmErrorKind::Auth => "auth",
            LlmErrorKind::RateLimited => "rate_limited",
            LlmErrorKind::Timeout => "timeout",
            LlmErrorKind::ContextTooLong => "context_too_long",
            LlmErrorKind::ContentFiltered => "content_filtered",
            LlmErrorKind::Network => "network",
            LlmErrorKind::BadAnswer => "bad_answer",
            LlmErrorKind::ServerError => "server_error",
            LlmErrorKind::Refused => "refused",
        }
    }

    /// What it means, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            LlmErrorKind::Auth => "The provider refused the API key: check the key and the account.",
            LlmErrorKind::RateLimited => "The provider's rate limit was reached: try again later or raise the quota.",
            LlmErrorKind::Timeout => "The provider did not answer in time.",
            LlmErrorKind::ContextTooLong => "The prompt is too long for the model's context window.",
            LlmErrorKind::ContentFiltered => "The provider's content filter stopped the answer.",
            LlmErrorKind::Network => "The connection to the provider failed or broke off.",
            LlmErrorKind::BadAnswer => "The provider's answer could not be used.",
            LlmErrorKind::ServerError => "The provider had an internal error.",
            LlmErrorKind::Refused => "The provider refused the request (check the model name and settings).",
        }
    }

    /// What it means, in Chinese.
    pub fn message_zh(self) -> &'static str {
        match self {
            LlmErrorKind::Auth => "服务商拒绝了 API 密钥：请检查密钥和账户。",
            LlmErrorKind::RateLimited => "已达到服务商的速率限制：请稍后重试或提高配额。",
            LlmErrorKind::Timeout => "服务商未在限定时间内响应。",
            LlmErrorKind::ContextTooLong => "提示内容超出了模型的上下文长度。",
            LlmErrorKind::ContentFiltered => "服务商的内容过滤拦截了回答。",
            LlmErrorKind::Network => "与服务商的连接失败或中断。",
            LlmErrorKind::BadAnswer => "服务商的回答无法使用。",
            LlmErrorKind::ServerError => "服务商内部出错。",
            LlmErrorKind::Refused => "服务商拒绝了请求（请检查模型名称和参数）。",
        }
    }

    /// `message_zh` for a language starting with `zh`, else `message_en`.
    pub fn message(self, lang: &str) -> &'static str {
        if lang.to_ascii_lowercase().starts_with("zh") { self.message_zh() } else { self.message_en() }
    }
}

impl std::fmt::Display for LlmErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A failed call: its kind, the provider, and details for the log (never the key).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{provider}: {} ({detail})", kind.message_en())]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub provider: String,
    /// What the provider said or what broke, for logs and administrators.
    pub detail: String,
    /// Attempts made on this provider.
    pub attempts: u32,
}

impl LlmError {
    pub fn new(kind: LlmErrorKind, provider: impl Into<String>, detail: impl Into<String>) -> Self {
        LlmError { kind, provider: provider.into(), detail: detail.into(), attempts: 1 }
    }
}

/// Every provider of a fallback order failed: each one's error, in the order they were tried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("every provider failed: {}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct FallbackError {
    pub errors: Vec<LlmError>,
}

impl FallbackError {
    /// The last provider's error kind (`None` when no provider was given).
    pub fn kind(&self) -> Option<LlmErrorKind> {
        self.errors.last().map(|e| e.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_key() {
        let p = Provider::new("x", "https://api.deepseek.com/v1/", "deepseek-chat").with_key("sk-very-secret-42");
        let shown = format!("{p:?}");
        assert!(!shown.contains("sk-very-secret-42") && shown.contains("<redacted>"), "{shown}");
        assert_eq!(p.endpoint(), "https://api.deepseek.com/v1/chat/completions");
        assert!(Provider::new("x", "http://h", "m").with_key(" ").api_key.is_none());
    }

    #[test]
    fn presets_fill_the_known_base_urls() {
        assert_eq!(presets::base_url("DeepSeek"), Some("https://api.deepseek.com/v1"));
        assert_eq!(presets::base_url("qwen"), Some("https://dashscope.aliyuncs.com/compatible-mode/v1"));
        assert_eq!(presets::base_url("gemini"), Some("https://generativelanguage.googleapis.com/v1beta/openai"));
        assert_eq!(presets::base_url("llamacpp"), Some("http://127.0.0.1:8080/v1"));
        assert_eq!(presets::base_url("bard"), None);
        for (name, url) in presets::ALL {
            assert!(url.starts_with("http") && !url.ends_with('/'), "{name}");
        }
    }

    #[test]
    fn every_kind_has_a_code_and_words_in_both_languages() {
        let mut codes = std::collections::HashSet::new();
        for k in LlmErrorKind::ALL {
            assert!(codes.insert(k.code()), "{k:?}");
            assert!(!k.message_en().is_empty());
            assert!(k.message("zh-CN").chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{k:?}");
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.code()));
        }
    }
}
