//! Valuation over HTTP: a DCF of a stored company in the reference's envelope, the sensitivity
//! grid alone, and each user's saved valuations. The service is the application layer's
//! (`quantdesk_app::valuation`): results are cached (request and inputs hashes) and kept per user.
//! Saved scenarios (`/valuation/scenarios`) are each user's own (`quantdesk_app::scenarios`): a
//! preset and `dotted.path=value` edits, applied to a valuation with `scenario_id`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use quantdesk_app::scenarios::{Scenario, ScenarioInput};
use quantdesk_app::valuation::model::{Request, Valuation};
use quantdesk_app::valuation::{HistoryItem, HistoryPage, ReferenceFigures};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/valuation", post(valuation))
        .route("/sensitivity", post(sensitivity))
        .route("/valuations", get(list))
        .route("/valuations/{id}", get(get_one))
        .route("/valuation/scenarios", get(list_scenarios).post(create_scenario))
        .route("/valuation/scenarios/{id}", get(get_scenario).put(update_scenario).delete(delete_scenario))
}

/// A valuation request in the reference's field names (huliux/stock_vale's `StockValuationRequest`:
/// `ts_code` or `stock_code`, `valuation_date`, `forecast_years` or `prediction_years`, the
/// driver modes and targets, WACC and terminal value parameters, `sensitivity_analysis`) plus
/// quantdesk's (`profile`: `quantdesk` (default) or `reference`, …). Unknown keys are ignored and
/// reported in `other_analysis.ignored_request_keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"ts_code": "600519.SH", "profile": "reference", "forecast_years": 5, "exit_multiple": 8.0}))]
pub struct ValuationRequest {
    /// The stock, e.g. `600519.SH` (`stock_code` accepted).
    #[serde(alias = "stock_code")]
    pub ts_code: Option<String>,
    /// `YYYY-MM-DD`: value as known on that date (default everything stored).
    pub valuation_date: Option<String>,
    /// `reference` or `quantdesk` (default).
    pub profile: Option<String>,
    /// One of the caller's saved scenarios (`GET /api/v1/valuation/scenarios`), written over the
    /// request's fields: its preset, then its edits. Someone else's id is a 404.
    pub scenario_id: Option<i64>,
    /// Every other request field of the model.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub rest: serde_json::Map<String, Value>,
}

/// The company as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StockInfo {
    pub ts_code: String,
    pub name: Option<String>,
    pub industry: Option<String>,
    pub latest_price: Option<f64>,
    pub total_shares: Option<f64>,
    pub pe: Option<f64>,
    pub pb: Option<f64>,
    pub market_cap_estimate_yuan: Option<f64>,
    pub base_report_date: Option<String>,
    pub latest_annual_diluted_eps: Option<f64>,
    pub comp_type: Option<String>,
}

/// The reference's answer: `stock_info`, `valuation_results`, `error`, and the saved id.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValuationEnvelope {
    pub stock_info: StockInfo,
    /// `dcf_forecast_details`, `detailed_forecast_table`, `sensitivity_analysis_result`,
    /// `historical_ratios_summary`, `data_warnings`, `other_analysis`, `special_industry_warning`.
    /// `other_analysis.relative_valuation` (P/E, P/E TTM, P/B, EV/EBITDA against the company's
    /// own `daily_basic` history and its industry's median, with implied prices) and
    /// `other_analysis.ddm` (a two-stage dividend discount model, or `{"error": …}`) are
    /// reference figures beside the DCF.
    #[schema(value_type = Object)]
    pub valuation_results: Value,
    /// The model's refusal, or null.
    pub error: Option<String>,
    /// The saved valuation's id (`GET /api/v1/valuations/{id}`).
    pub id: Option<i64>,
    /// True when the result came from the cache.
    pub cached: bool,
}

/// The model's request of a body, with its saved scenario (if any) written over it.
async fn request_of(state: &AppState, p: &Principal, body: ValuationRequest) -> Result<Request, ApiError> {
    let scenario = body.scenario_id;
    let req = into_request(body)?;
    match scenario {
        None => Ok(req),
        Some(id) => Ok(quantdesk_app::scenarios::apply_saved(&*state.store, &p.owner(), id, &req).await?.0),
    }
}

fn into_request(body: ValuationRequest) -> Result<Request, ApiError> {
    let mut m = body.rest;
    if let Some(t) = body.ts_code {
        m.insert("ts_code".into(), Value::String(t));
    }
    if let Some(d) = body.valuation_date {
        m.insert("valuation_date".into(), Value::String(d));
    }
    if let Some(p) = body.profile {
        m.insert("profile".into(), Value::String(p));
    }
    // The schema documents the request as an object of the model's fields; a field of the wrong
    // type is a rule the model states, so 422, like every other refusal of the request.
    serde_json::from_value(Value::Object(m)).map_err(|e| {
        quantdesk_app::AppError::invalid(format!("the body is not a valuation request: {e}"))
            .with_code("invalid_request")
            .into()
    })
}

fn app_error(e: quantdesk_app::AppError) -> ApiError {
    e.into()
}

async fn stock_info(state: &AppState, v: &Valuation) -> Result<StockInfo, ApiError> {
    let ts_code = v.ts_code.clone().unwrap_or_default();
    let instrument = match quantdesk_core::Symbol::new(&ts_code) {
        Ok(s) => state.store.instrument(&s).await?,
        Err(_) => None,
    };
    let i = &v.inputs;
    Ok(StockInfo {
        ts_code,
        name: instrument.as_ref().map(|x| x.name.clone()).filter(|s| !s.is_empty()),
        industry: instrument.as_ref().map(|x| x.industry.clone()).filter(|s| !s.is_empty()),
        latest_price: i.latest_price,
        total_shares: i.total_shares,
        pe: i.pe,
        pb: i.pb,
        market_cap_estimate_yuan: i.market_cap_estimate_yuan,
        base_report_date: i.base_report_date.clone(),
        latest_annual_diluted_eps: i.latest_annual_diluted_eps,
        comp_type: i.comp_type.clone(),
    })
}

/// The reference's `valuation_results` of a result.
pub fn valuation_results(v: &Valuation) -> Value {
    json!({
        "dcf_forecast_details": v.dcf,
        "detailed_forecast_table": v.forecast,
        "sensitivity_analysis_result": v.sensitivity,
        "historical_ratios_summary": v.historical_ratios,
        "data_warnings": v.data_warnings,
        "special_industry_warning": v.special_industry_warning,
        "other_analysis": {
            "profile": v.profile,
            "derived": v.derived,
            "guardrails": v.guardrails,
            "wacc_build_up": v.wacc_build_up,
            "differences_from_reference": v.differences_from_reference,
            "warnings": v.warnings,
            "ignored_request_keys": v.ignored_request_keys,
            "inputs": v.inputs,
            "refusal": v.refusal,
        },
    })
}

/// Adds the reference figures beside the DCF: `other_analysis.relative_valuation` and
/// `other_analysis.ddm`.
pub fn with_reference_figures(mut results: Value, figures: &ReferenceFigures) -> Value {
    if let Some(o) = results.get_mut("other_analysis").and_then(Value::as_object_mut) {
        o.insert("relative_valuation".into(), serde_json::to_value(&figures.relative_valuation).unwrap_or(Value::Null));
        o.insert("ddm".into(), serde_json::to_value(&figures.ddm).unwrap_or(Value::Null));
    }
    results
}

async fn envelope(
    state: &AppState,
    v: &Valuation,
    figures: Option<&ReferenceFigures>,
    id: Option<i64>,
    cached: bool,
) -> Result<Response, ApiError> {
    let mut valuation_results = valuation_results(v);
    if let Some(f) = figures {
        valuation_results = with_reference_figures(valuation_results, f);
    }
    let body = ValuationEnvelope {
        stock_info: stock_info(state, v).await?,
        valuation_results,
        error: v.error.clone(),
        id,
        cached,
    };
    let status = if v.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(body)).into_response())
}

/// Value a stored company: a two-stage FCFF DCF from its annual statements as of
/// `valuation_date`. Answers the reference's envelope; the result is cached and saved in the
/// caller's history (`id`). A refusal of the model is a 422 in the same envelope, `error` set.
#[utoipa::path(post, path = "/api/v1/valuation", tag = "valuation", request_body = ValuationRequest,
    responses((status = 200, body = ValuationEnvelope), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no statements stored for the symbol (`no_statements`), or no scenario `scenario_id` of the caller's (`scenario_not_found`)"),
        (status = 422, body = serde_json::Value, description = "the model refused: the envelope with `error` set; or the request breaks a rule of the model's fields: `{\"error\": {\"code\": \"invalid_request\", …}}`; or the saved scenario does not apply to it (`invalid_scenario`)")))]
pub async fn valuation(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<ValuationRequest>,
) -> Result<Response, ApiError> {
    let req = request_of(&state, &p, body).await?;
    let valued =
        quantdesk_app::valuation::valuate_cached(&*state.store, &p.owner(), &req, true).await.map_err(app_error)?;
    let figures = quantdesk_app::valuation::reference_figures(&*state.store, &valued.request, &valued.valuation)
        .await
        .map_err(app_error)?;
    envelope(&state, &valued.valuation, Some(&figures), valued.id, valued.cached).await
}

/// The sensitivity grid alone: the same request with `sensitivity_analysis` required (row and
/// column axes: wacc, perpetual_growth_rate, exit_multiple, and under quantdesk revenue_cagr,
/// operating_margin). Not saved in the history.
#[utoipa::path(post, path = "/api/v1/sensitivity", tag = "valuation", request_body = ValuationRequest,
    responses((status = 200, description = "the grid: row/column parameters and values, result tables", body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "no statements, or no such scenario of the caller's"),
        (status = 422, body = ErrorBody, description = "the model refused, or the request or its scenario breaks a rule of the model's fields")))]
pub async fn sensitivity(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<ValuationRequest>,
) -> Result<Response, ApiError> {
    let req = request_of(&state, &p, body).await?;
    if req.sensitivity_analysis.is_none() {
        return Err(quantdesk_app::AppError::invalid("sensitivity_analysis (row_axis and column_axis) is required")
            .with_code("invalid_request")
            .into());
    }
    let valued =
        quantdesk_app::valuation::valuate_cached(&*state.store, &p.owner(), &req, false).await.map_err(app_error)?;
    let v = valued.valuation;
    if let Some(e) = v.error {
        let code = v.refusal.as_ref().map(|r| r.code.clone()).unwrap_or_else(|| "refused".into());
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "valuation_refused", format!("{code}: {e}")));
    }
    Ok(Json(serde_json::to_value(&v.sensitivity).map_err(ApiError::internal)?).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// From 1 (50 a page), at most 100000.
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
}

/// The caller's saved valuations, newest first.
#[utoipa::path(get, path = "/api/v1/valuations", tag = "valuation", params(HistoryParams),
    responses((status = 200, body = HistoryPage), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<HistoryParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    let page = q.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        return Err(ApiError::bad_request("page must be between 1 and 100000"));
    }
    Ok(Json(quantdesk_app::valuation::history(&*state.store, &p.owner(), page).await?))
}

/// One saved valuation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SavedDto {
    #[serde(flatten)]
    pub item: HistoryItem,
    /// The request as valued (the reference's field names).
    #[schema(value_type = Object)]
    pub request: Value,
    pub stock_info: StockInfo,
    #[schema(value_type = Object)]
    pub valuation_results: Value,
    pub error: Option<String>,
}

/// A saved valuation, for its owner or an admin (anyone else: 404).
#[utoipa::path(get, path = "/api/v1/valuations/{id}", tag = "valuation",
    params(("id" = i64, Path, description = "The valuation's id")),
    responses((status = 200, body = SavedDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<SavedDto>, ApiError> {
    let s = quantdesk_app::valuation::saved(&*state.store, &p.owner(), p.is_admin(), id).await?;
    Ok(Json(SavedDto {
        stock_info: stock_info(&state, &s.valuation).await?,
        valuation_results: valuation_results(&s.valuation),
        error: s.valuation.error.clone(),
        request: serde_json::to_value(&s.request).map_err(ApiError::internal)?,
        item: s.item,
    }))
}

/// The caller's saved scenarios, by name.
#[utoipa::path(get, path = "/api/v1/valuation/scenarios", tag = "valuation",
    responses((status = 200, body = [Scenario])))]
pub async fn list_scenarios(State(state): State<AppState>, p: Principal) -> Result<Json<Vec<Scenario>>, ApiError> {
    Ok(Json(quantdesk_app::scenarios::list(&*state.store, &p.owner()).await?))
}

/// Save a scenario: a name (unique among the caller's), an optional preset and
/// `dotted.path=value` edits (`quantdesk valuate --set`'s), checked by the same parser. A path
/// the model lacks, a value of the wrong type or an unknown preset is a 422 `invalid_scenario`
/// naming the edit; a name in use a 409 `scenario_exists`; at most 100 scenarios a user (422
/// `too_many_scenarios`).
#[utoipa::path(post, path = "/api/v1/valuation/scenarios", tag = "valuation", request_body = ScenarioInput,
    responses((status = 201, body = Scenario), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the caller has a scenario of that name (`scenario_exists`)"),
        (status = 422, body = ErrorBody, description = "`invalid_scenario` or `too_many_scenarios`")))]
pub async fn create_scenario(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<ScenarioInput>,
) -> Result<Response, ApiError> {
    let s = quantdesk_app::scenarios::create(&*state.store, &p.owner(), &body).await?;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

/// One of the caller's scenarios (anyone else's: 404).
#[utoipa::path(get, path = "/api/v1/valuation/scenarios/{id}", tag = "valuation",
    params(("id" = i64, Path, description = "The scenario's id")),
    responses((status = 200, body = Scenario), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_scenario(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Scenario>, ApiError> {
    Ok(Json(quantdesk_app::scenarios::get(&*state.store, &p.owner(), id).await?))
}

/// Replace one of the caller's scenarios (name, preset and edits; checked as when saved).
#[utoipa::path(put, path = "/api/v1/valuation/scenarios/{id}", tag = "valuation", request_body = ScenarioInput,
    params(("id" = i64, Path, description = "The scenario's id")),
    responses((status = 200, body = Scenario), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "another scenario of the caller's has that name"),
        (status = 422, body = ErrorBody, description = "`invalid_scenario`")))]
pub async fn update_scenario(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScenarioInput>,
) -> Result<Json<Scenario>, ApiError> {
    Ok(Json(quantdesk_app::scenarios::update(&*state.store, &p.owner(), id, &body).await?))
}

/// Delete one of the caller's scenarios.
#[utoipa::path(delete, path = "/api/v1/valuation/scenarios/{id}", tag = "valuation",
    params(("id" = i64, Path, description = "The scenario's id")),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_scenario(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    quantdesk_app::scenarios::delete(&*state.store, &p.owner(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
