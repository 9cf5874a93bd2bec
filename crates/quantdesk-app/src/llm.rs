//! LLM providers: the endpoints an admin stores (keys encrypted at rest), the one configured as a
//! default, the fallback order, a connection test, and [`LlmService::resolve`]: the ordered list
//! of providers a report calls (stored ones, else the configured default, else none: offline).
//!
//! Keys are encrypted with AES-256-GCM under a key derived from `llm_secret_key` (SHA-256 of a
//! label and the secret), a random nonce per write, and stored as `v1:` + hex(nonce ‖ ciphertext).
//! Without `llm_secret_key` a provider can be stored only without a key (`llm_secret_key_unset`).
//! Keys are never returned: a view says `has_key` and shows the last four characters at most.

use std::sync::Arc;
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use quantdesk_llm::{AnswerCheck, ChatRequest, ChatResponse, LlmClient, Message, Provider, RetryPolicy, presets};
use quantdesk_store::Store;
use quantdesk_store::llm::{LlmProviderWrite, StoredLlmProvider};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::accounts::{Actor, Scope};
use crate::config::LlmConfig;
use crate::{AppError, clock};

/// The name the configured default provider goes by.
pub const CONFIGURED_NAME: &str = "configured";

/// A provider to create, or the fields of one to change (absent fields stay as they are; on
/// create, `base_url` may come from `preset`).
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ProviderInput {
    /// Unique, 1 to 64 characters.
    #[schema(max_length = 64)]
    pub name: Option<String>,
    /// `deepseek`, `qwen`, `gemini`, `openai`, `ollama`, `vllm` or `llamacpp`: fills `base_url`
    /// when it is not given.
    #[schema(max_length = 32)]
    pub preset: Option<String>,
    /// Up to and including the version segment (`https://api.deepseek.com/v1`).
    #[schema(max_length = 500)]
    pub base_url: Option<String>,
    #[schema(max_length = 200)]
    pub model: Option<String>,
    /// The key (stored encrypted, never returned); an empty text removes it.
    #[schema(max_length = 500)]
    pub api_key: Option<String>,
    /// 0 to 2.
    pub temperature: Option<f64>,
    /// Above 0, at most 1.
    pub top_p: Option<f64>,
    /// 1 to 1,000,000.
    pub max_tokens: Option<u32>,
    /// 1 to 600 seconds an attempt may take.
    pub timeout_secs: Option<u32>,
    /// Make it the default: first in the fallback order.
    pub default: Option<bool>,
}

impl std::fmt::Debug for ProviderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInput")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A stored provider as people see it: never its key.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    pub id: i64,
    pub name: String,
    /// The preset it started from, or empty.
    pub preset: String,
    pub base_url: String,
    pub model: String,
    pub has_key: bool,
    /// The key's last four characters (`null` without a key).
    pub key_last4: Option<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<i64>,
    pub timeout_secs: i64,
    /// Place in the fallback order, from 0.
    pub position: i64,
    /// First in the fallback order.
    pub is_default: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// The provider from configuration (`llm_base_url`…), used when none is stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConfiguredProviderView {
    pub base_url: String,
    pub model: String,
    pub has_key: bool,
}

/// A known endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PresetView {
    pub preset: String,
    pub base_url: String,
}

/// Every stored provider in the fallback order, the configured default and the presets.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderView>,
    /// `null` when configuration names no provider.
    pub configured: Option<ConfiguredProviderView>,
    /// Whether keys can be stored (`llm_secret_key` is set).
    pub keys_can_be_stored: bool,
    /// Whether reports will be written offline (no provider at all).
    pub offline: bool,
    pub presets: Vec<PresetView>,
}

/// What a connection test found. A provider that fails is an answer too (`ok: false`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub provider: String,
    /// The model the endpoint says answered.
    pub model: Option<String>,
    pub latency_ms: u64,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// `auth`, `rate_limited`, `timeout`, `context_too_long`, `content_filtered`, `network`,
    /// `bad_answer`, `server_error`, `refused`.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub error_message_zh: Option<String>,
}

/// The providers service.
pub struct LlmService {
    store: Arc<dyn Store>,
    config: LlmConfig,
    client: Arc<LlmClient>,
    probe: LlmClient,
}

impl std::fmt::Debug for LlmService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmService").field("config", &self.config).finish_non_exhaustive()
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::invalid(message).with_code("invalid_params").with_field(field)
}

fn need_admin(actor: &Actor) -> Result<(), AppError> {
    if actor.can(Scope::Admin) { Ok(()) } else { Err(AppError::forbidden("LLM providers are for admins")) }
}

impl LlmService {
    /// The service with retries from configuration.
    pub fn new(store: Arc<dyn Store>, config: &LlmConfig) -> Result<Self, AppError> {
        let retry = RetryPolicy { max_retries: config.llm_retries, ..RetryPolicy::default() };
        Self::with_retry(store, config, retry)
    }

    /// The service with this retry policy (tests shorten the back-off).
    pub fn with_retry(store: Arc<dyn Store>, config: &LlmConfig, retry: RetryPolicy) -> Result<Self, AppError> {
        let probe = LlmClient::new(RetryPolicy { max_retries: 0, ..retry.clone() }).map_err(AppError::internal)?;
        let client = Arc::new(LlmClient::new(retry).map_err(AppError::internal)?);
        Ok(LlmService { store, config: config.clone(), client, probe })
    }

    /// The client reports call [`LlmService::resolve`]'s providers with.
    pub fn client(&self) -> Arc<LlmClient> {
        self.client.clone()
    }

    pub async fn list(&self, actor: &Actor) -> Result<ProviderList, AppError> {
        need_admin(actor)?;
        let stored = self.store.llm_providers().await?;
        let configured = self.configured().map(|p| ConfiguredProviderView {
            base_url: p.base_url.clone(),
            model: p.model.clone(),
            has_key: p.api_key.is_some(),
        });
        Ok(ProviderList {
            offline: stored.is_empty() && configured.is_none(),
            providers: views(&stored),
            configured,
            keys_can_be_stored: !self.config.llm_secret_key.expose().is_empty(),
            presets: presets::ALL
                .iter()
                .map(|(p, u)| PresetView { preset: p.to_string(), base_url: u.to_string() })
                .collect(),
        })
    }

    pub async fn get(&self, actor: &Actor, id: i64) -> Result<ProviderView, AppError> {
        need_admin(actor)?;
        let all = self.store.llm_providers().await?;
        views(&all).into_iter().find(|v| v.id == id).ok_or_else(|| not_found(id))
    }

    pub async fn create(&self, actor: &Actor, input: &ProviderInput) -> Result<ProviderView, AppError> {
        need_admin(actor)?;
        let now = clock::now_ms();
        let mut write = LlmProviderWrite {
            name: String::new(),
            preset: String::new(),
            base_url: String::new(),
            model: String::new(),
            api_key_enc: String::new(),
            api_key_last4: String::new(),
            temperature: None,
            top_p: None,
            max_tokens: None,
            timeout_secs: self.config.llm_timeout_secs.clamp(1, 600) as i64,
            at: now,
        };
        if input.name.is_none() {
            return Err(invalid("name", "a provider needs a name"));
        }
        if input.model.is_none() {
            return Err(invalid("model", "a provider needs a model"));
        }
        if input.base_url.is_none() && input.preset.is_none() {
            return Err(invalid("base_url", "a provider needs a base_url or a preset"));
        }
        self.apply(&mut write, input)?;
        let id = self.store.create_llm_provider(&write).await.map_err(|e| name_taken(e, &write.name))?;
        if input.default == Some(true) {
            self.move_first(id).await?;
        }
        tracing::info!(id, name = write.name.as_str(), has_key = !write.api_key_enc.is_empty(), "llm provider created");
        self.get(actor, id).await
    }

    pub async fn update(&self, actor: &Actor, id: i64, input: &ProviderInput) -> Result<ProviderView, AppError> {
        need_admin(actor)?;
        let old = self.store.llm_provider(id).await?.ok_or_else(|| not_found(id))?;
        let mut write = LlmProviderWrite {
            name: old.name,
            preset: old.preset,
            base_url: old.base_url,
            model: old.model,
            api_key_enc: old.api_key_enc,
            api_key_last4: old.api_key_last4,
            temperature: old.temperature,
            top_p: old.top_p,
            max_tokens: old.max_tokens,
            timeout_secs: old.timeout_secs,
            at: clock::now_ms(),
        };
        self.apply(&mut write, input)?;
        if !self.store.update_llm_provider(id, &write).await.map_err(|e| name_taken(e, &write.name))? {
            return Err(not_found(id));
        }
        if input.default == Some(true) {
            self.move_first(id).await?;
        }
        tracing::info!(id, name = write.name.as_str(), has_key = !write.api_key_enc.is_empty(), "llm provider updated");
        self.get(actor, id).await
    }

    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<(), AppError> {
        need_admin(actor)?;
        if !self.store.delete_llm_provider(id).await? {
            return Err(not_found(id));
        }
        tracing::info!(id, "llm provider deleted");
        Ok(())
    }

    /// Sets the fallback order: `ids` must name every stored provider once.
    pub async fn set_order(&self, actor: &Actor, ids: &[i64]) -> Result<Vec<ProviderView>, AppError> {
        need_admin(actor)?;
        let all = self.store.llm_providers().await?;
        let mut want: Vec<i64> = all.iter().map(|p| p.id).collect();
        let mut got = ids.to_vec();
        want.sort_unstable();
        got.sort_unstable();
        if want != got {
            return Err(invalid("ids", "the order must name every provider exactly once"));
        }
        self.store.reorder_llm_providers(ids).await?;
        Ok(views(&self.store.llm_providers().await?))
    }

    /// A tiny completion from provider `id` (no retries, at most 30 s): whether it answers, which
    /// model, how fast.
    pub async fn test_connection(&self, actor: &Actor, id: i64) -> Result<TestResult, AppError> {
        need_admin(actor)?;
        let stored = self.store.llm_provider(id).await?.ok_or_else(|| not_found(id))?;
        let mut provider = self.to_provider(&stored)?;
        // A test answers within half a minute, whatever the provider's own timeout.
        provider.timeout = provider.timeout.min(Duration::from_secs(30));
        let mut request = ChatRequest::new(vec![Message::user("Reply with the single word: ok")]);
        request.max_tokens = Some(8);
        request.temperature = Some(0.0);
        let started = std::time::Instant::now();
        let outcome = self.probe.complete(&provider, &request).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        Ok(match outcome {
            Ok(r) => TestResult {
                ok: true,
                provider: r.provider,
                model: Some(r.model),
                latency_ms,
                prompt_tokens: Some(r.usage.prompt_tokens),
                completion_tokens: Some(r.usage.completion_tokens),
                error_code: None,
                error_message: None,
                error_message_zh: None,
            },
            Err(e) => {
                tracing::info!(id, outcome = e.kind.code(), detail = e.detail.as_str(), "llm connection test failed");
                TestResult {
                    ok: false,
                    provider: e.provider,
                    model: None,
                    latency_ms,
                    prompt_tokens: None,
                    completion_tokens: None,
                    error_code: Some(e.kind.code().to_string()),
                    error_message: Some(format!("{} ({})", e.kind.message_en(), e.detail)),
                    error_message_zh: Some(e.kind.message_zh().to_string()),
                }
            }
        })
    }

    /// The providers a report calls, in order: the stored ones (a key that cannot be decrypted
    /// skips its provider, with a warning), else the configured default, else none (offline).
    pub async fn resolve(&self) -> Result<Vec<Provider>, AppError> {
        let stored = self.store.llm_providers().await?;
        let mut out = Vec::new();
        for s in &stored {
            match self.to_provider(s) {
                Ok(p) => out.push(p),
                Err(e) => tracing::warn!(id = s.id, name = s.name.as_str(), error = %e, "llm provider skipped"),
            }
        }
        if out.is_empty()
            && let Some(p) = self.configured()
        {
            out.push(p);
        }
        Ok(out)
    }

    /// One answer from the first provider of [`LlmService::resolve`]'s order that gives one
    /// passing `check` (each provider with its retries); the answer names its provider. `None`:
    /// no provider at all, write offline. When every provider fails: 503 with the last one's code
    /// (`auth`, `rate_limited`, `timeout`, `context_too_long`, `content_filtered`, `network`,
    /// `bad_answer`, `server_error`, `refused`) and every provider's error in the message.
    pub async fn complete(
        &self,
        request: &ChatRequest,
        check: Option<AnswerCheck<'_>>,
    ) -> Result<Option<ChatResponse>, AppError> {
        let providers = self.resolve().await?;
        if providers.is_empty() {
            return Ok(None);
        }
        match self.client.complete_any(&providers, request, check).await {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                let code = e.kind().map_or("unavailable", |k| k.code());
                Err(AppError::unavailable(e.to_string()).with_code(code))
            }
        }
    }

    fn configured(&self) -> Option<Provider> {
        let c = &self.config;
        if c.llm_base_url.trim().is_empty() || c.llm_model.trim().is_empty() {
            return None;
        }
        Some(
            Provider::new(CONFIGURED_NAME, c.llm_base_url.trim(), c.llm_model.trim())
                .with_key(c.llm_api_key.expose())
                .with_timeout(Duration::from_secs(c.llm_timeout_secs.max(1))),
        )
    }

    fn to_provider(&self, s: &StoredLlmProvider) -> Result<Provider, AppError> {
        let mut p = Provider::new(s.name.clone(), s.base_url.clone(), s.model.clone())
            .with_timeout(Duration::from_secs(s.timeout_secs.clamp(1, 600) as u64));
        p.temperature = s.temperature;
        p.top_p = s.top_p;
        p.max_tokens = s.max_tokens.and_then(|n| u32::try_from(n).ok());
        if !s.api_key_enc.is_empty() {
            p = p.with_key(decrypt_key(self.config.llm_secret_key.expose(), &s.api_key_enc)?);
        }
        Ok(p)
    }

    async fn move_first(&self, id: i64) -> Result<(), AppError> {
        let mut ids: Vec<i64> = self.store.llm_providers().await?.iter().map(|p| p.id).filter(|x| *x != id).collect();
        ids.insert(0, id);
        Ok(self.store.reorder_llm_providers(&ids).await?)
    }

    /// Checks `input` and applies it to `w`.
    fn apply(&self, w: &mut LlmProviderWrite, input: &ProviderInput) -> Result<(), AppError> {
        if let Some(name) = &input.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
                return Err(invalid("name", "name: 1 to 64 characters, no control characters"));
            }
            w.name = name.to_string();
        }
        if let Some(preset) = &input.preset {
            let preset = preset.trim().to_ascii_lowercase();
            if !preset.is_empty() {
                let url = presets::base_url(&preset).ok_or_else(|| {
                    invalid("preset", "preset: deepseek, qwen, gemini, openai, ollama, vllm or llamacpp")
                })?;
                if input.base_url.is_none() {
                    w.base_url = url.to_string();
                }
            }
            w.preset = preset;
        }
        if let Some(url) = &input.base_url {
            let url = url.trim().trim_end_matches('/');
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if url.len() > 500 || rest.is_none_or(|r| r.is_empty()) || url.chars().any(|c| c.is_whitespace()) {
                return Err(invalid("base_url", "base_url: an http:// or https:// address up to 500 characters"));
            }
            w.base_url = url.to_string();
        }
        if let Some(model) = &input.model {
            let model = model.trim();
            if model.is_empty() || model.chars().count() > 200 || model.chars().any(char::is_control) {
                return Err(invalid("model", "model: 1 to 200 characters"));
            }
            w.model = model.to_string();
        }
        if let Some(t) = input.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(invalid("temperature", "temperature: 0 to 2"));
            }
            w.temperature = Some(t);
        }
        if let Some(t) = input.top_p {
            if !(t > 0.0 && t <= 1.0) {
                return Err(invalid("top_p", "top_p: above 0, at most 1"));
            }
            w.top_p = Some(t);
        }
        if let Some(n) = input.max_tokens {
            if !(1..=1_000_000).contains(&n) {
                return Err(invalid("max_tokens", "max_tokens: 1 to 1,000,000"));
            }
            w.max_tokens = Some(i64::from(n));
        }
        if let Some(n) = input.timeout_secs {
            if !(1..=600).contains(&n) {
                return Err(invalid("timeout_secs", "timeout_secs: 1 to 600"));
            }
            w.timeout_secs = i64::from(n);
        }
        if let Some(key) = &input.api_key {
            let key = key.trim();
            if key.is_empty() {
                (w.api_key_enc, w.api_key_last4) = (String::new(), String::new());
            } else {
                if key.chars().count() > 500 || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(invalid("api_key", "api_key: up to 500 characters without spaces"));
                }
                let secret = self.config.llm_secret_key.expose();
                if secret.is_empty() {
                    return Err(AppError::invalid(
                        "keys cannot be stored: set llm_secret_key (QUANTDESK_LLM_SECRET_KEY) in the configuration first",
                    )
                    .with_code("llm_secret_key_unset")
                    .with_field("api_key"));
                }
                w.api_key_enc = encrypt_key(secret, key);
                let chars: Vec<char> = key.chars().collect();
                // Short keys show nothing: four characters of eight would give half away.
                w.api_key_last4 =
                    if chars.len() >= 12 { chars[chars.len() - 4..].iter().collect() } else { String::new() };
            }
        }
        Ok(())
    }
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("no LLM provider {id}"))
}

fn name_taken(e: quantdesk_store::StoreError, name: &str) -> AppError {
    if e.is_conflict() {
        AppError::conflict(format!("a provider is already named {name:?}")).with_code("name_taken")
    } else {
        e.into()
    }
}

fn views(stored: &[StoredLlmProvider]) -> Vec<ProviderView> {
    stored
        .iter()
        .enumerate()
        .map(|(i, s)| ProviderView {
            id: s.id,
            name: s.name.clone(),
            preset: s.preset.clone(),
            base_url: s.base_url.clone(),
            model: s.model.clone(),
            has_key: !s.api_key_enc.is_empty(),
            key_last4: (!s.api_key_last4.is_empty()).then(|| s.api_key_last4.clone()),
            temperature: s.temperature,
            top_p: s.top_p,
            max_tokens: s.max_tokens,
            timeout_secs: s.timeout_secs,
            position: i as i64,
            is_default: i == 0,
            created_at: clock::iso_ms(s.created_at),
            updated_at: clock::iso_ms(s.updated_at),
        })
        .collect()
}

fn cipher(secret: &str) -> Aes256Gcm {
    let mut h = sha2::Sha256::new();
    h.update(b"quantdesk llm provider keys v1\0");
    h.update(secret.as_bytes());
    let key: [u8; 32] = h.finalize().into();
    Aes256Gcm::new(&key.into())
}

/// `v1:` + hex(nonce ‖ ciphertext with its tag), under a fresh random nonce.
pub fn encrypt_key(secret: &str, key: &str) -> String {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let sealed =
        cipher(secret).encrypt(&nonce.into(), key.as_bytes()).expect("AES-GCM encrypts any message of this size");
    let mut out = nonce.to_vec();
    out.extend(sealed);
    format!("v1:{}", hex::encode(out))
}

/// The key sealed by [`encrypt_key`]; `llm_key_unreadable` when `secret` is not the one it was
/// sealed with (or the text is damaged).
pub fn decrypt_key(secret: &str, sealed: &str) -> Result<String, AppError> {
    let unreadable = || {
        AppError::invalid("a stored key cannot be decrypted: llm_secret_key changed; enter the key again")
            .with_code("llm_key_unreadable")
    };
    if secret.is_empty() {
        return Err(unreadable());
    }
    let bytes = sealed.strip_prefix("v1:").and_then(|h| hex::decode(h).ok()).ok_or_else(unreadable)?;
    if bytes.len() < 12 + 16 {
        return Err(unreadable());
    }
    let (nonce, body) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| unreadable())?;
    let plain = cipher(secret).decrypt(&nonce.into(), body).map_err(|_| unreadable())?;
    String::from_utf8(plain).map_err(|_| unreadable())
}

/// The providers as a report's language model: the first of the fallback order that starts an
/// answer streams it (deltas to `on_delta`); every provider failing is 503 with the last one's
/// code, and a stream that breaks off is its error (nothing is stored: the report fails).
#[async_trait::async_trait]
impl crate::reports::Generator for LlmService {
    /// A provider is stored or configured (an admin may add one at any time: asked per report).
    async fn available(&self) -> Result<bool, AppError> {
        Ok(!self.resolve().await?.is_empty())
    }

    async fn generate(
        &self,
        system: &str,
        user: &str,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<crate::reports::Generated, AppError> {
        use quantdesk_llm::StreamEvent;
        let providers = self.resolve().await?;
        if providers.is_empty() {
            return Err(AppError::unavailable("no language-model provider is configured").with_code("no_provider"));
        }
        let request = ChatRequest::new(vec![Message::system(system), Message::user(user)]);
        let mut stream = self.client.stream_any(&providers, &request).await.map_err(|e| {
            let code = e.kind().map_or("unavailable", |k| k.code());
            AppError::unavailable(e.to_string()).with_code(code)
        })?;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event.map_err(|e| AppError::unavailable(e.to_string()).with_code(e.kind.code()))? {
                StreamEvent::Delta(d) => {
                    on_delta(&d);
                    text.push_str(&d);
                }
                StreamEvent::Done(s) => {
                    let usage = s.usage.unwrap_or_default();
                    return Ok(crate::reports::Generated {
                        text,
                        provider: s.provider,
                        model: s.model,
                        tokens_in: usage.prompt_tokens,
                        tokens_out: usage.completion_tokens,
                        latency_ms: u64::try_from(s.latency.as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
        }
        Err(AppError::unavailable(format!("{}: the answer ended before its end", stream.provider()))
            .with_code("network"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sealed_with_a_fresh_nonce_and_open_only_with_the_same_secret() {
        let secret = "master-secret-0123456789";
        let a = encrypt_key(secret, "sk-abcdef123456");
        let b = encrypt_key(secret, "sk-abcdef123456");
        assert_ne!(a, b, "a random nonce per write");
        assert!(a.starts_with("v1:") && !a.contains("abcdef"));
        assert_eq!(decrypt_key(secret, &a).unwrap(), "sk-abcdef123456");
        assert_eq!(decrypt_key("another-secret-987654", &a).unwrap_err().code(), "llm_key_unreadable");
        let mut damaged = a.clone();
        damaged.replace_range(a.len() - 2.., if a.ends_with("00") { "11" } else { "00" });
        assert_eq!(decrypt_key(secret, &damaged).unwrap_err().code(), "llm_key_unreadable");
        assert_eq!(decrypt_key("", &a).unwrap_err().code(), "llm_key_unreadable");
        assert_eq!(decrypt_key(secret, "v1:zz").unwrap_err().code(), "llm_key_unreadable");
    }
}
