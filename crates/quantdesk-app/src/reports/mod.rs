//! Grounded research reports (issue 19): a context of what quantdesk knows about a symbol on a
//! date, every number with a stable id ([`context`]); prompt templates with `${var}` placeholders
//! checked against the context's variables ([`templates`]); the rendering of a model's Markdown
//! with `{{fact:ID}}` references filled from the context, the check of cited bare numbers and the
//! sanitised HTML ([`render`]); the deterministic report quantdesk writes itself when no language
//! model is configured ([`offline`]).
//!
//! The language model is behind [`Generator`]: the provider layer implements it; without one,
//! [`write`] uses the offline writer. Text a user controls (an instrument's name, its industry)
//! reaches a model only inside the fenced data block of the user message, never the system one.

pub mod context;
pub mod export;
pub mod offline;
pub mod render;
pub mod service;
pub mod templates;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;
pub use context::{Context, Fact, FactValue, Section};
pub use render::{Warning, WarningCode};
pub use templates::Template;

/// The kinds of report (and of prompt template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportType {
    Fundamental,
    Technical,
    Valuation,
    Chan,
    Free,
}

impl ReportType {
    pub const ALL: [ReportType; 5] =
        [ReportType::Fundamental, ReportType::Technical, ReportType::Valuation, ReportType::Chan, ReportType::Free];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Fundamental => "fundamental",
            ReportType::Technical => "technical",
            ReportType::Valuation => "valuation",
            ReportType::Chan => "chan",
            ReportType::Free => "free",
        }
    }

    pub fn parse(s: &str) -> Option<ReportType> {
        ReportType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The language a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Lang {
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" | "zh-cn" => Some(Lang::Zh),
            "en" | "en-US" | "en-GB" => Some(Lang::En),
            _ => None,
        }
    }
}

/// What a generator wrote, and at what cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    pub text: String,
    /// The provider's name (`offline` for quantdesk's own writer).
    pub provider: String,
    pub model: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
}

/// A language model behind the report service: given the system and the user message, it streams
/// deltas of its answer to `on_delta` and returns the whole answer. The provider layer implements
/// it (with its retries and fall-backs); an error fails the report (nothing is stored).
#[async_trait]
pub trait Generator: Send + Sync {
    /// Whether a model can answer now; `false` writes the report offline.
    async fn available(&self) -> Result<bool, AppError> {
        Ok(true)
    }

    async fn generate(
        &self,
        system: &str,
        user: &str,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<Generated, AppError>;
}

/// A generator that answers a fixed text in fixed chunks, for tests and demonstrations of the
/// streaming path; it records the messages it was given.
#[derive(Debug, Default)]
pub struct ScriptedGenerator {
    pub chunks: Vec<String>,
    /// When set, fails with this message after streaming the chunks.
    pub fail: Option<String>,
    pub seen: std::sync::Mutex<Vec<(String, String)>>,
}

impl ScriptedGenerator {
    pub fn new(chunks: &[&str]) -> Self {
        ScriptedGenerator { chunks: chunks.iter().map(|c| c.to_string()).collect(), ..Default::default() }
    }
}

#[async_trait]
impl Generator for ScriptedGenerator {
    async fn generate(
        &self,
        system: &str,
        user: &str,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<Generated, AppError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((system.to_string(), user.to_string()));
        }
        for c in &self.chunks {
            on_delta(c);
        }
        if let Some(m) = &self.fail {
            return Err(AppError::unavailable(m.clone()).with_code("provider_failed"));
        }
        let text = self.chunks.concat();
        Ok(Generated {
            tokens_in: (system.len() + user.len()) as u64 / 4,
            tokens_out: text.len() as u64 / 4,
            text,
            provider: "scripted".into(),
            model: "scripted".into(),
            latency_ms: 0,
        })
    }
}

/// A written report: its Markdown (references filled, citations linked), the sanitised HTML, the
/// warnings of the citation check, and where the text came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    pub markdown: String,
    pub html: String,
    pub warnings: Vec<Warning>,
    pub provider: String,
    pub model: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
}

/// The provider name of reports quantdesk writes itself.
pub const OFFLINE_PROVIDER: &str = "offline";

/// Writes a report of `ctx` with `template`: through `generator` when there is one (its deltas go
/// to `on_delta`), else by the offline writer (whose whole text is one delta). The model's text is
/// then rendered: references filled, citations checked, HTML sanitised. A generator's error is
/// returned as it is: the caller stores nothing.
pub async fn write(
    ctx: &Context,
    template: &Template,
    generator: Option<&dyn Generator>,
    on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
) -> Result<Written, AppError> {
    let generated = match generator {
        Some(g) => {
            let (system, user) = templates::prompt(template, ctx)?;
            g.generate(&system, &user, on_delta).await?
        }
        None => {
            let text = offline::write(ctx, template.kind, template.lang);
            on_delta(&text);
            Generated {
                text,
                provider: OFFLINE_PROVIDER.into(),
                model: offline::MODEL.into(),
                tokens_in: 0,
                tokens_out: 0,
                latency_ms: 0,
            }
        }
    };
    let rendered = render::render(&generated.text, ctx, template.lang);
    Ok(Written {
        html: render::to_html(&rendered.markdown),
        markdown: rendered.markdown,
        warnings: rendered.warnings,
        provider: generated.provider,
        model: generated.model,
        tokens_in: generated.tokens_in,
        tokens_out: generated.tokens_out,
        latency_ms: generated.latency_ms,
    })
}
