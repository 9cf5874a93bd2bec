//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/v1/openapi.json`.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate};
use extract::{ApiMultipart, ApiPath, ApiQuery};
use quantdesk_core::{Adjustment, Instrument, Resolution};
use quantdesk_ingest::{BarImportOptions, ColumnMap};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::market::{
    BarRequest, ImportFailure, ImportReport, import_bars_bytes, import_instruments_bytes, parse_symbol, read_bars,
};
use crate::state::AppState;

/// Extractors whose failures are JSON [`ApiError`]s.
pub(crate) mod extract {
    use axum::extract::{FromRequest, FromRequestParts, Multipart, Query, Request};
    use axum::http::request::Parts;
    use serde::de::DeserializeOwned;

    use crate::error::ApiError;

    pub struct ApiMultipart(pub Multipart);

    impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
        type Rejection = ApiError;
        async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
            Multipart::from_request(req, state).await.map(ApiMultipart).map_err(ApiError::from)
        }
    }

    pub struct ApiQuery<T>(pub T);

    /// `543.0` is an integer to JSON Schema; make it one to serde too.
    fn integral_floats(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                if let Some(f) = n.as_f64()
                    && f.fract() == 0.0
                    && f.abs() < 9.0e15
                {
                    *v = serde_json::Value::from(f as i64);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats),
            serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats),
            _ => {}
        }
    }

    /// Path parameters; a value of the wrong type is a JSON 400.
    pub struct ApiPath<T>(pub T);

    impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
            axum::extract::Path::<T>::from_request_parts(parts, state)
                .await
                .map(|axum::extract::Path(v)| ApiPath(v))
                .map_err(ApiError::from)
        }
    }

    /// A JSON body; anything unreadable is a 400 with serde's explanation.
    pub struct ApiJson<T>(pub T);

    impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
        type Rejection = ApiError;
        async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
            let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
                ApiError::new(
                    e.status(),
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                        "payload_too_large"
                    } else {
                        "bad_request"
                    },
                    e.body_text(),
                )
            })?;
            let mut value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
            if !value.is_object() {
                return Err(ApiError::bad_request("the body must be a JSON object"));
            }
            integral_floats(&mut value);
            serde_json::from_value(value)
                .map(ApiJson)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid: {e}")))
        }
    }

    impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
            Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| ApiQuery(v)).map_err(ApiError::from)
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "quantdesk API", description = "Market data, imports and (later) research jobs. Errors are `{\"error\": {\"code\", \"message\"}}`."),
    paths(list_instruments, get_instrument, get_bars, crate::chan::get_chan, crate::chan::get_nest, import_bars, import_instruments, import_preview,
        crate::jobs_api::create_job, crate::jobs_api::list_jobs, crate::jobs_api::get_job, crate::jobs_api::delete_job, crate::jobs_api::cancel_job,
        crate::jobs_api::retry_job, crate::jobs_api::job_events, crate::jobs_api::artifact,
        crate::schedules_api::list, crate::schedules_api::upsert, crate::schedules_api::remove,
        crate::auth::api::signup, crate::auth::api::verify, crate::auth::api::login, crate::auth::api::logout, crate::auth::api::me, crate::auth::api::get_pref, crate::auth::api::put_pref,
        crate::auth::api::change_password, crate::auth::api::request_reset, crate::auth::api::confirm_reset,
        crate::auth::api::list_keys, crate::auth::api::create_key, crate::auth::api::revoke_key,
        crate::auth::api::list_users, crate::auth::api::update_user, crate::auth::api::all_keys, crate::auth::api::audit_log),
    components(schemas(InstrumentDto, InstrumentPage, BarDto, BarsResponse, ImportReport, InstrumentImportReport, ErrorBody, BarUpload,
        InstrumentUpload, PreviewUpload, ImportPreview, crate::jobs_api::CreateJob, crate::jobs_api::Created, crate::jobs_api::JobDto,
        crate::jobs_api::JobDetail, crate::jobs_api::JobPage, crate::jobs_api::Progress, crate::jobs_api::Artifact, crate::jobs_api::LogLine,
        crate::schedules_api::ScheduleDto, crate::schedules_api::ScheduleInput,
        crate::auth::api::Message, crate::auth::api::Pref, crate::auth::api::PrefRead, crate::auth::api::Credentials, crate::auth::api::VerifyInput, crate::auth::api::EmailInput,
        crate::auth::api::ResetInput, crate::auth::api::PasswordChange, crate::auth::api::Me, crate::auth::api::KeyDto,
        crate::auth::api::NewKey, crate::auth::api::CreatedKey, crate::auth::api::UserDto, crate::auth::api::UserUpdate,
        crate::auth::api::AuditDto, crate::auth::api::KeyScope,
        crate::chan::ChanAnalysis, crate::chan::ChanNest, crate::chan::NestItem, crate::chan::ChanProfile, crate::chan::Direction, crate::chan::FractalKind, crate::chan::Level,
        crate::chan::Side, crate::chan::MergedBar, crate::chan::Fractal, crate::chan::Stroke, crate::chan::Segment,
        crate::chan::Pivot, crate::chan::Signal)),
    modifiers(&Security),
    security(("api_key" = []), ("session" = [])),
    tags((name = "market", description = "Instruments and bars"), (name = "chan", description = "Chan-theory (缠论) structures and buy/sell points"), (name = "imports", description = "CSV imports"),
        (name = "jobs", description = "Background jobs: backtests, sweeps"),
        (name = "auth", description = "Accounts, sessions and API keys"), (name = "admin", description = "Users, keys and the audit log (admins)"))
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate: an API key as a bearer token, or the session cookie.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("qd_<prefix>_<secret>")
                    .description(Some("An API key from Settings or POST /api/v1/keys"))
                    .build(),
            ),
        );
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("qd_session"))));
        // The access guard may answer any operation 429 (rate limits, with Retry-After).
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let too_many = ResponseBuilder::new()
            .description("Too many requests from this address, key or user; Retry-After says when to try again")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                op.responses.responses.entry("429".into()).or_insert_with(|| too_many.clone().into());
            }
        }
    }
}

pub fn router(max_upload: usize) -> crate::Routes {
    crate::Routes::new()
        .route("/instruments", get(list_instruments))
        .route("/instruments/{symbol}", get(get_instrument))
        .route("/bars/{symbol}", get(get_bars))
        .merge(crate::chan::router())
        .route("/imports/bars", post(import_bars).layer(DefaultBodyLimit::max(max_upload)))
        .route("/imports/instruments", post(import_instruments).layer(DefaultBodyLimit::max(max_upload)))
        .route("/imports/preview", post(import_preview))
        .route("/openapi.json", get(openapi))
        .merge(crate::jobs_api::router())
        .merge(crate::schedules_api::router())
        .merge(crate::auth::api::router())
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// An instrument.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstrumentDto {
    /// TuShare code (`600519.SH`) or the market's own ticker.
    pub symbol: String,
    pub name: String,
    /// Pinyin abbreviation of the name.
    pub abbrev: String,
    pub exchange: String,
    /// stock, index, etf, fund, bond, future, crypto or other.
    pub kind: String,
    pub board: String,
    pub currency: String,
    pub lot_size: u32,
    pub tick_size: f64,
    /// Daily price limit as a fraction of the previous close; null when unlimited.
    pub price_limit: Option<f64>,
    pub list_date: Option<String>,
    pub delist_date: Option<String>,
    /// Trading session, `HHMM-HHMM[,…]` in exchange time, or `24x7`.
    pub session: String,
    pub timezone: String,
}

impl From<&Instrument> for InstrumentDto {
    fn from(i: &Instrument) -> Self {
        InstrumentDto {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            abbrev: i.abbrev.clone(),
            exchange: i.exchange.clone(),
            kind: i.kind.as_str().into(),
            board: i.board.clone(),
            currency: i.currency.clone(),
            lot_size: i.lot_size,
            tick_size: i.tick_size,
            price_limit: i.price_limit,
            list_date: i.list_date.map(|d| d.to_string()),
            delist_date: i.delist_date.map(|d| d.to_string()),
            session: i.session.to_string(),
            timezone: i.timezone.clone(),
        }
    }
}

/// A page of instruments.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstrumentPage {
    pub items: Vec<InstrumentDto>,
    /// Matching instruments in all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstrumentParams {
    /// Matches code, name or pinyin abbreviation.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub exchange: Option<String>,
    pub board: Option<String>,
    /// Listed on or after this date (YYYY-MM-DD).
    pub listed_from: Option<NaiveDate>,
    /// Listed on or before this date (YYYY-MM-DD).
    pub listed_to: Option<NaiveDate>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<u32>,
}

/// List and search instruments.
#[utoipa::path(get, path = "/api/v1/instruments", tag = "market", params(InstrumentParams),
    responses((status = 200, body = InstrumentPage), (status = 400, body = ErrorBody)))]
async fn list_instruments(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<InstrumentParams>,
) -> Result<Json<InstrumentPage>, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    if p.offset.is_some_and(|o| o > 1_000_000_000) {
        return Err(ApiError::bad_request("offset must be at most 1000000000"));
    }
    let q = quantdesk_store::InstrumentQuery {
        text: p.q,
        kind: p.kind,
        exchange: p.exchange,
        board: p.board,
        listed_from: p.listed_from,
        listed_to: p.listed_to,
        limit,
        offset: p.offset.unwrap_or(0),
    };
    let items = state.store.list_instruments(&q).await?;
    let total = state.store.count_instruments(&q).await?;
    Ok(Json(InstrumentPage { items: items.iter().map(InstrumentDto::from).collect(), total, limit, offset: q.offset }))
}

/// A symbol from a path: 400 when it breaks the documented pattern, 404 when it matches the
/// pattern but names no possible instrument.
pub(crate) fn path_symbol(raw: &str) -> Result<quantdesk_core::Symbol, ApiError> {
    let shaped = (1..=32).contains(&raw.len()) && raw.chars().all(quantdesk_core::Symbol::is_symbol_char);
    if !shaped {
        return Err(ApiError::bad_request(format!("{raw:?} is not a symbol: 1 to 32 letters, digits or . _ - ^ = &")));
    }
    parse_symbol(raw).map_err(|_| ApiError::not_found(format!("no instrument {raw}")))
}

/// One instrument.
#[utoipa::path(get, path = "/api/v1/instruments/{symbol}", tag = "market",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9._^=&-]{1,32}$")),
    responses((status = 200, body = InstrumentDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_instrument(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
) -> Result<Json<InstrumentDto>, ApiError> {
    let symbol = path_symbol(&symbol)?;
    match state.symbol_meta(&symbol).await? {
        Some(m) => Ok(Json(InstrumentDto::from(&m.instrument))),
        None => Err(ApiError::not_found(format!("no instrument {symbol}"))),
    }
}

/// One bar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BarDto {
    /// Opening instant, RFC 3339 in UTC (daily bars: 00:00 UTC of the trading date).
    pub time: String,
    /// The same instant in Unix seconds.
    pub t: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub amount: f64,
}

/// Bars of one symbol.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BarsResponse {
    pub symbol: String,
    pub resolution: String,
    pub adjustment: String,
    pub bars: Vec<BarDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BarParams {
    /// 1, 5, 15, 30, 60, 1D, 1W or 1M (default 1D).
    #[param(pattern = "^(1|5|15|30|60|1D|1W|1M)$")]
    pub resolution: Option<String>,
    /// none (default), qfq or hfq.
    #[param(pattern = "^(none|qfq|hfq)$")]
    pub adjustment: Option<String>,
    /// Inclusive start: Unix seconds, a date or an RFC 3339 time.
    pub from: Option<String>,
    /// Exclusive end: Unix seconds, a date or an RFC 3339 time.
    pub to: Option<String>,
    /// The latest N bars in range, 1 to 100000 (default 1000).
    #[param(minimum = 1, maximum = 100000)]
    pub limit: Option<u32>,
}

pub(crate) fn parse_instant(name: &str, raw: &str) -> Result<i64, ApiError> {
    let s = raw.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(quantdesk_core::resample::date_stamp(d));
    }
    DateTime::parse_from_rfc3339(s).map(|d| d.timestamp()).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_instant",
            format!("{name} must be Unix seconds, a date (YYYY-MM-DD) or an RFC 3339 time, got {s:?}"),
        )
    })
}

/// Bars at any resolution, derived from what is stored, optionally adjusted.
#[utoipa::path(get, path = "/api/v1/bars/{symbol}", tag = "market",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9._^=&-]{1,32}$"), BarParams),
    responses((status = 200, body = BarsResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "busy: an answer of 5,000 bars or more is rendered on the CPU pool, and every worker and queue place is taken; retry after `Retry-After` seconds")))]
async fn get_bars(
    State(state): State<AppState>,
    accepts: crate::cpu::Accepts,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(p): ApiQuery<BarParams>,
) -> Result<crate::cpu::JsonBody, ApiError> {
    let symbol = path_symbol(&symbol)?;
    let res = p.resolution.as_deref().unwrap_or("1D");
    if !["1", "5", "15", "30", "60", "1D", "1W", "1M"].contains(&res) {
        return Err(ApiError::bad_request(format!(
            "unsupported resolution {res:?}; use one of 1, 5, 15, 30, 60, 1D, 1W, 1M"
        )));
    }
    let resolution = Resolution::parse(res).map_err(|e| ApiError::bad_request(e.0))?;
    let adj = p.adjustment.as_deref().unwrap_or("none");
    if !["none", "qfq", "hfq"].contains(&adj) {
        return Err(ApiError::bad_request(format!("unsupported adjustment {adj:?}; use none, qfq or hfq")));
    }
    let adjustment = Adjustment::parse(adj).map_err(|e| ApiError::bad_request(e.0))?;
    let from = p.from.as_deref().map(|s| parse_instant("from", s)).transpose()?.unwrap_or(i64::MIN);
    let to = p.to.as_deref().map(|s| parse_instant("to", s)).transpose()?.unwrap_or(i64::MAX);
    if from > to {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_range", "from must not be after to"));
    }
    let limit = p.limit.unwrap_or(1000);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 100000"));
    }
    let meta =
        state.symbol_meta(&symbol).await?.ok_or_else(|| ApiError::not_found(format!("no instrument {symbol}")))?;
    let req = BarRequest { resolution, adjustment, from, to, countback: Some(limit) };
    let mut answer = read_bars(state.bars(), &meta.instrument, &meta.series, &req).await?;
    answer.bars.retain(|b| b.time >= from);
    // A big answer is rendered (and compressed) on the CPU pool; the chart's windows right here.
    let heavy = answer.bars.len() >= crate::cpu::HEAVY_ANSWER_BARS;
    let accepts = if heavy { accepts } else { crate::cpu::Accepts::default() };
    let render = move || {
        accepts.json(&BarsResponse {
            symbol: symbol.to_string(),
            resolution: resolution.as_udf(),
            adjustment: adjustment.as_str().into(),
            bars: answer
                .bars
                .iter()
                .map(|b| BarDto {
                    time: crate::iso_secs(b.time),
                    t: b.time,
                    open: b.open,
                    high: b.high,
                    low: b.low,
                    close: b.close,
                    volume: b.volume,
                    amount: b.amount,
                })
                .collect(),
        })
    };
    state.cpu.run_if(heavy, render).await?
}

/// The multipart form of a bar import.
#[allow(dead_code)]
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarUpload {
    /// The CSV file.
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
    /// 1, 5, 15, 30, 60 or 1D.
    #[schema(pattern = "^(1|5|15|30|60|1D)$")]
    resolution: String,
    /// The symbol of every row, for single-symbol files.
    #[schema(pattern = "^([A-Za-z0-9._^=&-]{1,32})?$")]
    symbol: Option<String>,
    /// The column holding symbols, for multi-symbol files (detected when absent).
    symbol_column: Option<String>,
    /// IANA zone of local times in intraday files (default: the exchange's).
    timezone: Option<String>,
    time_column: Option<String>,
    open_column: Option<String>,
    high_column: Option<String>,
    low_column: Option<String>,
    close_column: Option<String>,
    volume_column: Option<String>,
    amount_column: Option<String>,
    adj_factor_column: Option<String>,
}

/// The multipart form of an instrument import.
#[allow(dead_code)]
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentUpload {
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
}

/// The outcome of an instrument import.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstrumentImportReport {
    pub instruments: u64,
}

struct Upload {
    file_name: String,
    bytes: Vec<u8>,
    fields: std::collections::HashMap<String, String>,
}

/// Reads a multipart upload: one `file` and the text fields named in `known` (any other field is
/// a 400, as the schema says).
async fn read_upload(ApiMultipart(mut form): ApiMultipart, known: &[&str]) -> Result<Upload, ApiError> {
    let mut file = None;
    let mut fields = std::collections::HashMap::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload.csv").to_string();
            file = Some((file_name, field.bytes().await?.to_vec()));
        } else if known.contains(&name.as_str()) {
            fields.insert(name, field.text().await?);
        } else {
            return Err(ApiError::bad_request(format!("the form has an unknown field {name:?}")));
        }
    }
    let (file_name, bytes) = file.ok_or_else(|| ApiError::bad_request("the form has no file field"))?;
    Ok(Upload { file_name, bytes, fields })
}

fn import_error(e: ImportFailure) -> ApiError {
    match e {
        ImportFailure::Invalid(e) => e.into(),
        ImportFailure::Store(e) => e.into(),
    }
}

/// Import bars from a CSV upload. All rows land or none do.
#[utoipa::path(post, path = "/api/v1/imports/bars", tag = "imports",
    request_body(content = BarUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "the file is invalid; nothing was written")))]
async fn import_bars(State(state): State<AppState>, form: ApiMultipart) -> Result<Json<ImportReport>, ApiError> {
    const FIELDS: [&str; 12] = [
        "resolution",
        "symbol",
        "symbol_column",
        "timezone",
        "time_column",
        "open_column",
        "high_column",
        "low_column",
        "close_column",
        "volume_column",
        "amount_column",
        "adj_factor_column",
    ];
    let up = read_upload(form, &FIELDS).await?;
    let field = |n: &str| up.fields.get(n).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let res = field("resolution").ok_or_else(|| ApiError::bad_request("resolution is required"))?;
    if !["1", "5", "15", "30", "60", "1D"].contains(&res.as_str()) {
        return Err(ApiError::bad_request(format!("resolution {res:?} is not one of 1, 5, 15, 30, 60, 1D")));
    }
    let resolution = Resolution::parse(&res).map_err(|e| ApiError::bad_request(e.0))?;
    let symbol = field("symbol")
        .map(|s| parse_symbol(&s))
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", e.0))?;
    let timezone = field("timezone")
        .map(|t| {
            t.parse::<chrono_tz::Tz>().map_err(|_| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", format!("unknown time zone {t:?}"))
            })
        })
        .transpose()?;
    let columns = ColumnMap {
        time: field("time_column"),
        open: field("open_column"),
        high: field("high_column"),
        low: field("low_column"),
        close: field("close_column"),
        volume: field("volume_column"),
        amount: field("amount_column"),
        adj_factor: field("adj_factor_column"),
        adj_close: None,
        symbol: field("symbol_column"),
    };
    let opts = BarImportOptions { file_name: up.file_name, symbol, resolution, timezone, columns };
    let report = import_bars_bytes(state.store.clone(), up.bytes, opts).await.map_err(import_error)?;
    state.invalidate();
    tracing::info!(bars = report.bars, symbols = report.symbols, "bars imported over HTTP");
    Ok(Json(report))
}

/// Import an instrument master from a CSV upload. All rows land or none do.
#[utoipa::path(post, path = "/api/v1/imports/instruments", tag = "imports",
    request_body(content = InstrumentUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = InstrumentImportReport), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_instruments(
    State(state): State<AppState>,
    form: ApiMultipart,
) -> Result<Json<InstrumentImportReport>, ApiError> {
    let up = read_upload(form, &[]).await?;
    let n = import_instruments_bytes(state.store.clone(), up.bytes, up.file_name).await.map_err(import_error)?;
    state.invalidate();
    Ok(Json(InstrumentImportReport { instruments: n }))
}

/// The multipart form of a preview: the start of a CSV file.
#[allow(dead_code)]
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewUpload {
    /// The first bytes of the file (up to 1 MiB); a partial last line is ignored.
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
    /// `true` when `file` is the whole file, so its last line is complete.
    complete: Option<bool>,
}

/// What an import would read from a file.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportPreview {
    /// Header names as written in the file.
    pub columns: Vec<String>,
    /// The detected column for each field (`time`, `open`, `high`, `low`, `close`, `volume`,
    /// `amount`, `adj_factor`, `adj_close`, `symbol`), or null.
    pub detected: std::collections::BTreeMap<String, Option<String>>,
    /// Up to 20 data rows.
    pub rows: Vec<Vec<String>>,
}

/// Detect the columns of a CSV file from its first bytes, and show its first rows.
#[utoipa::path(post, path = "/api/v1/imports/preview", tag = "imports",
    request_body(content = PreviewUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportPreview), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_preview(form: ApiMultipart) -> Result<Json<ImportPreview>, ApiError> {
    let up = read_upload(form, &["complete"]).await?;
    let complete = match up.fields.get("complete").map(String::as_str) {
        None | Some("false") | Some("0") | Some("null") | Some("") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "complete must be true or false, not {:?}",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let mut bytes = up.bytes;
    if !complete && let Some(end) = bytes.iter().rposition(|b| *b == b'\n') {
        bytes.truncate(end + 1);
    }
    let invalid =
        |m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", format!("{}: {m}", up.file_name));
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid("the file is not valid UTF-8 text"))?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| invalid(&e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(invalid("the file is empty"));
    }
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let det = quantdesk_ingest::detect_columns(&names, &ColumnMap::default()).map_err(|e| invalid(&e))?;
    let name = |c: Option<usize>| c.map(|i| header[i].clone());
    let detected = [
        ("time", det.time),
        ("open", det.open),
        ("high", det.high),
        ("low", det.low),
        ("close", det.close),
        ("volume", det.volume),
        ("amount", det.amount),
        ("adj_factor", det.adj_factor),
        ("adj_close", det.adj_close),
        ("symbol", det.symbol),
    ]
    .into_iter()
    .map(|(k, c)| (k.to_string(), name(c)))
    .collect();
    let rows = rdr
        .records()
        .take(20)
        .map(|r| r.map(|r| r.iter().map(str::to_string).collect()))
        .collect::<Result<Vec<Vec<String>>, _>>()
        .map_err(|e| invalid(&e.to_string()))?;
    Ok(Json(ImportPreview { columns: header, detected, rows }))
}

/// JSON 404 for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// JSON 405 for known routes with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
}
