//! The report service: which template, the context, the generation and the one write that stores
//! the report with its template's use. The `report` job, the CLI and the API call it. A failed
//! generation returns its error and stores nothing.

use chrono::NaiveDate;
use quantdesk_store::Store;
use quantdesk_store::reports::{NewReport, NewTemplate, SavedReport, SavedTemplate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::context::{self, Context};
use super::templates::{self, Template};
use super::{Generator, Lang, ReportType, Written};
use crate::AppError;

/// A stored template version as the service sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptVersion {
    pub id: i64,
    pub version: i64,
    pub is_default: bool,
    pub uses: i64,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    // The template's own fields, side by side with the version's (not a flattened `Template`:
    // that type refuses unknown fields, which a flattened schema would then refuse here too).
    pub name: String,
    pub kind: ReportType,
    pub lang: Lang,
    pub system: String,
    pub user: String,
}

impl PromptVersion {
    /// The template this version holds.
    pub fn template(&self) -> Template {
        Template {
            name: self.name.clone(),
            kind: self.kind,
            lang: self.lang,
            system: self.system.clone(),
            user: self.user.clone(),
        }
    }
}

/// A stored row as a [`PromptVersion`] (a row whose kind or language this quantdesk does not know
/// is skipped by the callers).
pub fn prompt_version(t: SavedTemplate) -> Option<PromptVersion> {
    Some(PromptVersion {
        kind: ReportType::parse(&t.kind)?,
        lang: Lang::parse(&t.lang)?,
        name: t.name,
        system: t.system,
        user: t.user,
        id: t.id,
        version: t.version,
        is_default: t.is_default,
        uses: t.uses,
        created_by: t.created_by,
        created_at: t.created_at,
    })
}

/// Validates and saves a new version of a template.
pub async fn save_template(store: &dyn Store, t: &Template, by: &str, now_ms: i64) -> Result<PromptVersion, AppError> {
    templates::validate(t)?;
    let saved = store
        .save_template(&NewTemplate {
            name: t.name.trim().to_string(),
            kind: t.kind.as_str().into(),
            lang: t.lang.as_str().into(),
            system: t.system.clone(),
            user: t.user.clone(),
            created_by: by.into(),
            created_at: now_ms,
        })
        .await?;
    prompt_version(saved).ok_or_else(|| AppError::internal("a saved template reads back"))
}

/// Stores quantdesk's default templates that are not stored yet, each the default of its kind
/// and language when that has none. Concurrent callers (replicas starting) may race: a version
/// someone else saved first is a conflict, which is fine.
pub async fn ensure_defaults(store: &dyn Store, now_ms: i64) -> Result<(), AppError> {
    for t in templates::defaults() {
        if store.latest_template(&t.name).await?.is_none() {
            match save_template(store, &t, "quantdesk", now_ms).await {
                Ok(_) => {}
                Err(e) if e.kind() == crate::ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        if store.default_template(t.kind.as_str(), t.lang.as_str()).await?.is_none() {
            store.set_default_template(&t.name).await?;
        }
    }
    Ok(())
}

/// The template a report uses: the version `prompt_id` names, else the default of its kind and
/// language (the shipped defaults stored first).
pub async fn choose_template(
    store: &dyn Store,
    kind: ReportType,
    lang: Lang,
    prompt_id: Option<i64>,
    now_ms: i64,
) -> Result<PromptVersion, AppError> {
    let row = match prompt_id {
        Some(id) => store.template(id).await?.ok_or_else(|| {
            AppError::invalid(format!("no prompt template {id}")).with_code("invalid_params").with_field("prompt_id")
        })?,
        None => {
            ensure_defaults(store, now_ms).await?;
            store.default_template(kind.as_str(), lang.as_str()).await?.ok_or_else(|| {
                AppError::internal(format!("no default template for {} {}", kind.as_str(), lang.as_str()))
            })?
        }
    };
    prompt_version(row).ok_or_else(|| AppError::invalid("the template's kind or language is unknown"))
}

/// What to write.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub owner: String,
    pub symbol: String,
    pub kind: ReportType,
    pub lang: Lang,
    /// As of this date (the latest stored bar when `None`).
    pub date: Option<NaiveDate>,
    pub prompt_id: Option<i64>,
    pub job_id: Option<i64>,
}

/// A stored report and what was written.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: i64,
    pub context: Context,
    pub written: Written,
    pub prompt: PromptVersion,
}

/// Builds the context, writes the report (through `generator`, else offline) and stores it with
/// its template's use in one transaction. Any failure stores nothing.
pub async fn create(
    store: &dyn Store,
    req: &ReportRequest,
    generator: Option<&dyn Generator>,
    on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    now_ms: i64,
) -> Result<Created, AppError> {
    let prompt = choose_template(store, req.kind, req.lang, req.prompt_id, now_ms).await?;
    let mut template = prompt.template();
    // The report's kind decides the offline writer's sections; the prompt's text is the template's.
    template.kind = req.kind;
    template.lang = req.lang;
    let ctx = context::build(store, &req.symbol, req.date).await?;
    let written = super::write(&ctx, &template, generator, on_delta).await?;
    let id = store
        .save_report(&NewReport {
            owner: req.owner.clone(),
            symbol: ctx.symbol.clone(),
            date: ctx.date.clone(),
            kind: req.kind.as_str().into(),
            lang: req.lang.as_str().into(),
            industry: ctx.industry.clone(),
            provider: written.provider.clone(),
            model: written.model.clone(),
            prompt_id: Some(prompt.id),
            prompt_name: prompt.name.clone(),
            prompt_version: prompt.version,
            markdown: written.markdown.clone(),
            context: ctx.json(),
            warnings: serde_json::to_string(&written.warnings).map_err(AppError::internal)?,
            tokens_in: i64::try_from(written.tokens_in).unwrap_or(i64::MAX),
            tokens_out: i64::try_from(written.tokens_out).unwrap_or(i64::MAX),
            latency_ms: i64::try_from(written.latency_ms).unwrap_or(i64::MAX),
            job_id: req.job_id,
            created_at: now_ms,
        })
        .await?;
    Ok(Created { id, context: ctx, written, prompt })
}

/// A stored report for people and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub owner: String,
    pub symbol: String,
    pub date: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub lang: String,
    pub industry: String,
    pub provider: String,
    pub model: String,
    pub prompt_id: Option<i64>,
    pub prompt_name: String,
    pub prompt_version: i64,
    pub markdown: String,
    /// The sanitised HTML of the Markdown.
    pub html: String,
    pub warnings: Vec<super::Warning>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub latency_ms: i64,
    pub job_id: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Whether quantdesk wrote it without a language model.
    pub offline: bool,
}

/// The view of a stored report (its HTML rendered again from the stored Markdown, so a fix of
/// the sanitiser applies to old reports too).
pub fn view(r: &SavedReport) -> ReportView {
    let x = &r.report;
    ReportView {
        id: r.id,
        owner: x.owner.clone(),
        symbol: x.symbol.clone(),
        date: x.date.clone(),
        kind: x.kind.clone(),
        lang: x.lang.clone(),
        industry: x.industry.clone(),
        provider: x.provider.clone(),
        model: x.model.clone(),
        prompt_id: x.prompt_id,
        prompt_name: x.prompt_name.clone(),
        prompt_version: x.prompt_version,
        html: super::render::to_html(&x.markdown),
        markdown: x.markdown.clone(),
        warnings: serde_json::from_str(&x.warnings).unwrap_or_default(),
        tokens_in: x.tokens_in,
        tokens_out: x.tokens_out,
        latency_ms: x.latency_ms,
        job_id: x.job_id,
        created_at: x.created_at,
        offline: x.provider == super::OFFLINE_PROVIDER,
    }
}

/// The report `id` if `owner` may see it (`admin` sees all); a miss and someone else's are the
/// same not-found.
pub async fn get(store: &dyn Store, id: i64, owner: &str, admin: bool) -> Result<SavedReport, AppError> {
    store
        .report(id)
        .await?
        .filter(|r| admin || r.report.owner == owner)
        .ok_or_else(|| AppError::not_found(format!("no report {id}")))
}

/// The job parameters of `report`: one symbol or a batch, each its own report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportJobParams {
    /// The symbols, one report each (a batch is one job with per-symbol progress).
    pub symbols: Vec<String>,
    #[serde(rename = "type")]
    pub kind: ReportType,
    /// zh-CN (default) or en.
    #[serde(default)]
    pub lang: Option<Lang>,
    /// `YYYY-MM-DD`: as of this date (default: the latest stored bar).
    #[serde(default)]
    pub date: Option<String>,
    /// A template version id (default: the kind's default template).
    #[serde(default)]
    pub prompt_id: Option<i64>,
    /// A provider name, or `offline` for quantdesk's own writer (default: the configured ones).
    #[serde(default)]
    pub provider: Option<String>,
}

impl ReportJobParams {
    /// The rules a schema cannot state: at least one symbol, at most [`MAX_BATCH`], a date.
    pub fn check(&self) -> Result<Option<NaiveDate>, AppError> {
        let bad = |field: &str, m: String| AppError::invalid(m).with_code("invalid_params").with_field(field);
        if self.symbols.is_empty() || self.symbols.len() > MAX_BATCH {
            return Err(bad("symbols", format!("symbols holds 1 to {MAX_BATCH} symbols")));
        }
        for s in &self.symbols {
            quantdesk_core::Symbol::new(s).map_err(|e| bad("symbols", e.0))?;
        }
        self.date
            .as_deref()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| bad("date", format!("date {d:?} is not YYYY-MM-DD")))
            })
            .transpose()
    }
}

/// The most symbols one report job takes.
pub const MAX_BATCH: usize = 500;

/// One symbol's outcome in a report job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportJobItem {
    pub symbol: String,
    /// The stored report, when it was written.
    pub report_id: Option<i64>,
    /// Why not, when it was not.
    pub error: Option<String>,
    pub warnings: usize,
}

/// The result of a `report` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportJobResult {
    pub items: Vec<ReportJobItem>,
    /// The symbols that failed, for a retry of just those.
    pub failed: Vec<String>,
}

impl crate::jobs::JobSpec for ReportJobParams {
    const KIND: crate::jobs::JobKind = crate::jobs::JobKind::Report;
    type Output = ReportJobResult;
}
