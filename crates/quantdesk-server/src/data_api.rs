//! Market data from outside sources over HTTP: statements as of a date, the sources' standing,
//! and sync jobs. The services are the application layer's (`quantdesk_app::financials`,
//! `quantdesk_app::sync`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use quantdesk_app::financials::{Period, StatementView};
use quantdesk_app::jobs::JobKind;
use quantdesk_app::sync::SyncRequest;
use quantdesk_core::Statement;
use quantdesk_store::jobs::NewJob;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, path_symbol};
use crate::jobs_api::Created;
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/financials/{symbol}", get(financials))
        .route("/sources", get(sources))
        .route("/sync", post(sync))
        .route("/quality", get(quality))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QualityParams {
    /// One symbol (default: every symbol with daily bars, at most 500).
    #[param(pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$")]
    pub symbol: Option<String>,
    /// Open days without a bar before a symbol counts as stale (default 5).
    #[param(minimum = 1, maximum = 250)]
    pub stale_days: Option<u32>,
}

/// One data-quality finding.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FindingDto {
    /// gap, closed_day_bar, ohlc, zero_volume, price_jump, stale, unordered or statement_missing.
    pub kind: String,
    /// error or warning.
    pub severity: String,
    pub symbol: String,
    pub date: Option<String>,
    pub until: Option<String>,
    pub count: u32,
    /// An English sentence; the page shows its own text per kind.
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QualityDto {
    /// The day the check looked from (Asia/Shanghai).
    pub today: String,
    pub symbols_checked: u64,
    /// True when more symbols have daily bars than one check looks at (500).
    pub truncated: bool,
    pub findings: Vec<FindingDto>,
}

/// Data-quality findings of stored daily series and statements.
#[utoipa::path(get, path = "/api/v1/quality", tag = "market", params(QualityParams),
    responses((status = 200, body = QualityDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn quality(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<QualityParams>,
) -> Result<Json<QualityDto>, ApiError> {
    const MAX: usize = 500;
    let stale = p.stale_days.unwrap_or(5);
    if !(1..=250).contains(&stale) {
        return Err(ApiError::bad_request("stale_days must be between 1 and 250"));
    }
    let (symbols, truncated) = match p.symbol.as_deref() {
        Some(s) => (vec![path_symbol(s)?], false),
        None => {
            let mut all = state.store.symbols_with(quantdesk_core::Resolution::Day).await?;
            let truncated = all.len() > MAX;
            all.truncate(MAX);
            (all, truncated)
        }
    };
    if symbols.is_empty() {
        return Ok(Json(QualityDto {
            today: quantdesk_app::clock::today_shanghai().to_string(),
            symbols_checked: 0,
            truncated: false,
            findings: Vec::new(),
        }));
    }
    let thresholds = quantdesk_core::quality::Thresholds { stale_trading_days: stale, ..Default::default() };
    let today = quantdesk_app::clock::today_shanghai();
    let report = quantdesk_app::quality::check(&*state.store, &symbols, today, &thresholds).await?;
    let findings = report
        .findings
        .iter()
        .map(|f| FindingDto {
            kind: f.kind.as_str().into(),
            severity: format!("{:?}", f.severity()).to_lowercase(),
            symbol: f.symbol.to_string(),
            date: f.date.map(|d| d.to_string()),
            until: f.until.map(|d| d.to_string()),
            count: f.count,
            detail: f.detail.clone(),
        })
        .collect();
    Ok(Json(QualityDto {
        today: report.today.to_string(),
        symbols_checked: report.symbols_checked,
        truncated,
        findings,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinancialsParams {
    /// income (default), balancesheet, cashflow, fina_indicator, dividend or daily_basic.
    #[param(pattern = "^(income|balancesheet|cashflow|fina_indicator|dividend|daily_basic)$")]
    pub statement: Option<String>,
    /// annual (default: year-end reports) or quarterly (every period).
    #[param(pattern = "^(annual|quarterly)$")]
    pub period: Option<String>,
    /// Only what was announced by this date (YYYY-MM-DD): a restatement announced later is not seen.
    pub as_of: Option<NaiveDate>,
}

/// A statement of one symbol, one row per report period (the current revision as of the date).
#[utoipa::path(get, path = "/api/v1/financials/{symbol}", tag = "market", params(
        ("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$"),
        FinancialsParams),
    responses((status = 200, body = StatementView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn financials(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(p): ApiQuery<FinancialsParams>,
) -> Result<Json<StatementView>, ApiError> {
    let symbol = path_symbol(&symbol)?;
    let statement = match p.statement.as_deref() {
        Some(s) => Statement::parse(s).map_err(|e| ApiError::bad_request(e.0))?,
        None => Statement::Income,
    };
    let period = match p.period.as_deref() {
        Some("annual") => Period::Annual,
        Some("quarterly") => Period::Quarterly,
        Some(other) => return Err(ApiError::bad_request(format!("period {other:?}: use annual or quarterly"))),
        None => Period::Annual,
    };
    let view = quantdesk_app::financials::statement(&*state.store, &symbol, statement, period, p.as_of).await?;
    if view.rows.is_empty() && state.symbol_meta(&symbol).await?.is_none() {
        return Err(ApiError::not_found(format!("no instrument {symbol}")));
    }
    Ok(Json(view))
}

/// A configured source and its standing today.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceDto {
    /// tushare, eastmoney or yahoo.
    pub name: String,
    /// In `data_sources` with what it needs (TuShare: a token).
    pub configured: bool,
    /// Position in the fallback order (0 first), when configured.
    pub order: Option<u32>,
    /// The base URL calls go to.
    pub url: String,
    /// Calls per minute of the client-side limiter (0: none).
    pub calls_per_minute: u32,
    /// Calls recorded today (UTC day of the server; Asia/Shanghai for the exchanges).
    pub calls_today: u64,
    pub last_success: Option<String>,
    pub last_error_at: Option<String>,
    /// The latest failure, never with a secret.
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourcesDto {
    pub items: Vec<SourceDto>,
}

/// The outside data sources: which are configured, in what order, their latest success and
/// failure, and the calls made today.
#[utoipa::path(get, path = "/api/v1/sources", tag = "market",
    responses((status = 200, body = SourcesDto)))]
pub async fn sources(State(state): State<AppState>) -> Result<Json<SourcesDto>, ApiError> {
    Ok(Json(sources_of(&state).await?))
}

/// What `GET /api/v1/sources` answers; the data page renders the same.
pub async fn sources_of(state: &AppState) -> Result<SourcesDto, ApiError> {
    let cfg = &state.config.sources;
    let today = quantdesk_app::clock::today_shanghai();
    let status = state.store.source_status(today).await?;
    let configured = quantdesk_app::sync::Sources::from_config(cfg);
    let limits = quantdesk_app::sync::rate_limits(cfg);
    let items = quantdesk_connectors::SourceId::ALL
        .into_iter()
        .map(|id| {
            let st = status.iter().find(|s| s.source == id.as_str());
            let order = configured.all().iter().position(|s| s.id() == id).map(|i| i as u32);
            let url = match id {
                quantdesk_connectors::SourceId::Tushare => &cfg.tushare_url,
                quantdesk_connectors::SourceId::Eastmoney => &cfg.eastmoney_url,
                quantdesk_connectors::SourceId::Yahoo => &cfg.yahoo_url,
            };
            SourceDto {
                name: id.as_str().into(),
                configured: order.is_some(),
                order,
                url: url.clone(),
                calls_per_minute: limits.get(&id).copied().unwrap_or(0),
                calls_today: st.map_or(0, |s| s.calls_today),
                last_success: st.and_then(|s| s.last_success_ms).map(crate::iso_ms),
                last_error_at: st.and_then(|s| s.last_error_ms).map(crate::iso_ms),
                last_error: st.and_then(|s| s.last_error.clone()),
            }
        })
        .collect();
    Ok(SourcesDto { items })
}

/// Enqueue a sync job (the same as `POST /api/v1/jobs` with kind `sync`): the instrument master,
/// the calendar, bars and factors, statements, or all of them. The job's result lists the
/// symbols that landed and those that failed, with why.
#[utoipa::path(post, path = "/api/v1/sync", tag = "jobs", request_body = SyncRequest,
    responses((status = 202, body = Created), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "an unknown source or symbol, dates out of order, no target")))]
pub async fn sync(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<SyncRequest>,
) -> Result<Response, ApiError> {
    req.check()?;
    let kind = JobKind::Sync;
    let params = serde_json::to_string(&req).map_err(ApiError::internal)?;
    let job = NewJob {
        owner: p.owner(),
        kind: kind.as_str().into(),
        queue: kind.queue().into(),
        params,
        priority: 0,
        max_attempts: 2,
        timeout_ms: 6 * 3600 * 1000,
        run_at: None,
        idempotency_key: None,
    };
    let (id, created) = state.store.enqueue(&job, crate::auth::now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(Created { id, created })).into_response())
}
