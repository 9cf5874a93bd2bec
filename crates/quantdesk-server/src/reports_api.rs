//! Research reports over HTTP (`quantdesk_app::reports`): `POST /reports` enqueues a `report` job
//! (one symbol or a batch); the text streams through the job's progress (`/jobs/{id}`,
//! `/jobs/{id}/events`); stored reports are listed with filters, read, exported (Markdown or a
//! self-contained HTML file) and deleted by their owner (admins: any). Prompt templates are read
//! by everyone and written by admins, each save a new version.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use quantdesk_app::reports::service::{self, PromptVersion, ReportJobParams, ReportView};
use quantdesk_app::reports::{Lang, ReportType, Template, export};
use quantdesk_store::jobs::NewJob;
use quantdesk_store::reports::ReportFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/reports", get(list).post(create))
        .route("/reports/{id}", get(get_one).delete(delete))
        .route("/reports/{id}/export", get(export_one))
        .route("/prompts", get(list_prompts).post(save_prompt))
        .route("/prompts/{id}", get(get_prompt))
        .route("/prompts/{id}/versions", get(prompt_versions))
        .route("/prompts/{id}/default", post(make_default))
}

fn now_ms() -> i64 {
    quantdesk_app::clock::now_ms()
}

/// A report to write: one `symbol` or a batch of `symbols` (one job either way).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    #[schema(example = "600519.SH", min_length = 1, max_length = 32)]
    pub symbol: Option<String>,
    #[schema(max_items = 500)]
    pub symbols: Option<Vec<String>>,
    #[serde(rename = "type")]
    pub kind: ReportType,
    pub lang: Option<Lang>,
    /// As of this date (default: the latest stored bar).
    #[schema(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub date: Option<String>,
    /// `offline` for quantdesk's own writer; default: the configured providers, else offline.
    #[schema(max_length = 64)]
    pub provider: Option<String>,
    /// A template version id (default: the kind's default template).
    pub prompt_id: Option<i64>,
}

/// The enqueued job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportJob {
    /// The `report` job: follow it at `/api/v1/jobs/{job_id}` (its progress message carries the
    /// text as it is written) and find the report ids in its result.
    pub job_id: i64,
}

/// Write a report (a `report` job). 422 `invalid_params` for a symbol that cannot exist, no
/// symbol, a date that is not one, or more than 500 symbols.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = CreateReport,
    responses((status = 202, body = ReportJob), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`invalid_params`")))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<CreateReport>,
) -> Result<Response, ApiError> {
    let mut symbols = req.symbols.unwrap_or_default();
    if let Some(s) = req.symbol {
        symbols.insert(0, s);
    }
    let params = ReportJobParams {
        symbols,
        kind: req.kind,
        lang: req.lang,
        date: req.date,
        prompt_id: req.prompt_id,
        provider: req.provider,
    };
    params.check()?;
    let kind = quantdesk_app::jobs::JobKind::Report;
    let job = NewJob {
        owner: p.owner(),
        kind: kind.as_str().into(),
        queue: kind.queue().into(),
        params: serde_json::to_string(&params).map_err(ApiError::internal)?,
        priority: 0,
        max_attempts: 1,
        timeout_ms: 3_600_000,
        run_at: None,
        idempotency_key: None,
    };
    let (job_id, _) = state.store.enqueue(&job, now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(ReportJob { job_id })).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub symbol: Option<String>,
    /// fundamental, technical, valuation, chan or free.
    #[param(pattern = "^(fundamental|technical|valuation|chan|free)$")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub industry: Option<String>,
    /// First date (YYYY-MM-DD), inclusive.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD), inclusive.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub to: Option<String>,
    /// From 1 (50 a page).
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
}

/// A report in a listing (without its text).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportItem {
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
    pub warnings: usize,
    pub offline: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportPage {
    pub items: Vec<ReportItem>,
    pub total: u64,
}

fn date_param(name: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    // An empty value is not a date either (the schema's pattern refuses it too).
    match v {
        Some(s) if chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_err() => Err(ApiError::from(
            quantdesk_app::AppError::invalid(format!("{name} {s:?} is not a date")).with_code("invalid_params"),
        )),
        v => Ok(v),
    }
}

/// The caller's reports (admins: everyone's), newest first, filtered by symbol, type, industry
/// and dates.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ListParams),
    responses((status = 200, body = ReportPage), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a date that does not exist (`invalid_params`)")))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<ReportPage>, ApiError> {
    let page = q.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        return Err(ApiError::bad_request("page must be between 1 and 100000"));
    }
    if let Some(k) = q.kind.as_deref().filter(|k| ReportType::parse(k).is_none()) {
        return Err(ApiError::bad_request(format!("unknown type {k:?}")));
    }
    let filter = ReportFilter {
        owner: (!p.is_admin()).then(|| p.owner()),
        symbol: q.symbol.filter(|s| !s.is_empty()),
        date_from: date_param("from", q.from)?,
        date_to: date_param("to", q.to)?,
        kind: q.kind.filter(|s| !s.is_empty()),
        industry: q.industry.filter(|s| !s.is_empty()),
    };
    let total = state.store.count_reports(&filter).await?;
    let rows = state.store.list_reports(&filter, 50, (page - 1) * 50).await?;
    let items = rows
        .iter()
        .map(|r| {
            let v = service::view(r);
            ReportItem {
                id: v.id,
                owner: v.owner,
                symbol: v.symbol,
                date: v.date,
                kind: v.kind,
                lang: v.lang,
                industry: v.industry,
                provider: v.provider,
                model: v.model,
                warnings: v.warnings.len(),
                offline: v.offline,
                created_at: v.created_at,
            }
        })
        .collect();
    Ok(Json(ReportPage { items, total }))
}

/// A report with its context.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportDetail {
    #[serde(flatten)]
    pub report: ReportView,
    /// The full context the report was written from (facts with ids, values and sources).
    #[schema(value_type = Object)]
    pub context: serde_json::Value,
}

/// One report, for its owner or an admin (anyone else: 404).
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path)),
    responses((status = 200, body = ReportDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReportDetail>, ApiError> {
    let r = service::get(&*state.store, id, &p.owner(), p.is_admin()).await?;
    let context = serde_json::from_str(&r.report.context).unwrap_or(serde_json::Value::Null);
    Ok(Json(ReportDetail { report: service::view(&r), context }))
}

/// Delete a report: the owner's own, an admin's any.
#[utoipa::path(delete, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let owner = p.owner();
    let done = state.store.delete_report(id, (!p.is_admin()).then_some(owner.as_str())).await?;
    if done { Ok(StatusCode::NO_CONTENT) } else { Err(ApiError::not_found(format!("no report {id}"))) }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// md (default) or html.
    #[param(pattern = "^(md|html)$")]
    pub format: Option<String>,
}

/// Download a report: Markdown with its warnings and provenance, or one self-contained HTML file
/// (sanitised like the page, styles inline, no script).
#[utoipa::path(get, path = "/api/v1/reports/{id}/export", tag = "reports", params(("id" = i64, Path), ExportParams),
    responses((status = 200, description = "the file", content_type = "text/markdown"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export_one(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let r = service::get(&*state.store, id, &p.owner(), p.is_admin()).await?;
    let v = service::view(&r);
    let (body, mime, ext) = match q.format.as_deref().unwrap_or("md") {
        "md" => (export::markdown(&v), "text/markdown; charset=utf-8", "md"),
        "html" => (export::html(&v), "text/html; charset=utf-8", "html"),
        f => return Err(ApiError::bad_request(format!("unknown format {f:?}; use md or html"))),
    };
    let name = format!("report-{}-{}-{}.{ext}", v.symbol, v.kind, v.date);
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}

/// The latest version of every prompt template (the shipped defaults stored on first use).
#[utoipa::path(get, path = "/api/v1/prompts", tag = "reports",
    responses((status = 200, body = [PromptVersion])))]
pub async fn list_prompts(State(state): State<AppState>, _p: Principal) -> Result<Json<Vec<PromptVersion>>, ApiError> {
    service::ensure_defaults(&*state.store, now_ms()).await?;
    let rows = state.store.list_templates().await?;
    Ok(Json(rows.into_iter().filter_map(service::prompt_version).collect()))
}

/// Save a template (admins): a new version of its name. An unknown `${placeholder}`, or one
/// holding user text in the system message, is a 422 `invalid_params` naming the field.
#[utoipa::path(post, path = "/api/v1/prompts", tag = "reports", request_body = Template,
    responses((status = 201, body = PromptVersion), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "not an admin"),
        (status = 409, body = ErrorBody, description = "someone saved a version of the same name at the same moment"),
        (status = 422, body = ErrorBody, description = "`invalid_params`")))]
pub async fn save_prompt(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(t): ApiJson<Template>,
) -> Result<Response, ApiError> {
    if !p.is_admin() {
        return Err(crate::auth::forbidden("prompt templates are written by administrators".to_string()));
    }
    let saved = service::save_template(&*state.store, &t, &p.owner(), now_ms()).await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

/// One template version by id.
#[utoipa::path(get, path = "/api/v1/prompts/{id}", tag = "reports", params(("id" = i64, Path)),
    responses((status = 200, body = PromptVersion), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_prompt(
    State(state): State<AppState>,
    _p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PromptVersion>, ApiError> {
    let row = state.store.template(id).await?.and_then(service::prompt_version);
    row.map(Json).ok_or_else(|| ApiError::not_found(format!("no prompt template {id}")))
}

/// Every version of the template that version `id` belongs to, oldest first.
#[utoipa::path(get, path = "/api/v1/prompts/{id}/versions", tag = "reports", params(("id" = i64, Path)),
    responses((status = 200, body = [PromptVersion]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn prompt_versions(
    State(state): State<AppState>,
    _p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<PromptVersion>>, ApiError> {
    let t = state.store.template(id).await?.ok_or_else(|| ApiError::not_found(format!("no prompt template {id}")))?;
    let rows = state.store.template_versions(&t.name).await?;
    Ok(Json(rows.into_iter().filter_map(service::prompt_version).collect()))
}

/// Make the template of version `id` the default of its type and language (admins).
#[utoipa::path(post, path = "/api/v1/prompts/{id}/default", tag = "reports", params(("id" = i64, Path)),
    responses((status = 204, description = "done"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "not an admin"), (status = 404, body = ErrorBody)))]
pub async fn make_default(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if !p.is_admin() {
        return Err(crate::auth::forbidden("prompt templates are managed by administrators".to_string()));
    }
    let t = state.store.template(id).await?.ok_or_else(|| ApiError::not_found(format!("no prompt template {id}")))?;
    state.store.set_default_template(&t.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
