//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/v1/openapi.json`.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use quantdesk_core::{Adjustment, Instrument, Resolution};
use quantdesk_ingest::{BarImportOptions, ColumnMap};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiMultipart, ApiPath, ApiQuery, parse_instant, path_symbol};
use crate::market::{
    BarRequest, ImportFailure, ImportReport, import_bars_stream, import_instruments_reader, parse_symbol, read_bars,
};
use crate::state::AppState;
use crate::uploads::{Spooled, read_upload};

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
        .merge(crate::data_api::router())
        .merge(crate::valuation_api::router())
        .merge(crate::reports_api::router())
        .merge(crate::screener_api::router())
        .merge(crate::regimes_api::router())
        .merge(crate::watchlists_api::router())
        .merge(crate::llm_api::router())
        .merge(crate::auth::api::router())
        .merge(crate::coins_api::router())
        .merge(crate::payments_api::router())
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::ApiDoc::openapi())
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
    /// Industry as the instrument master names it (TuShare's `industry`); empty when unknown.
    pub industry: String,
    /// Region (TuShare's `area`); empty when unknown.
    pub area: String,
    /// The actual controller (TuShare's `act_name`); empty when unknown.
    pub controller: String,
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
            industry: i.industry.clone(),
            area: i.area.clone(),
            controller: i.controller.clone(),
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

/// One instrument.
#[utoipa::path(get, path = "/api/v1/instruments/{symbol}", tag = "market",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$")),
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

/// Bars at any resolution, derived from what is stored, optionally adjusted.
#[utoipa::path(get, path = "/api/v1/bars/{symbol}", tag = "market",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$"), BarParams),
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
    #[schema(pattern = "^([A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31})?$")]
    symbol: Option<String>,
    /// The column holding symbols, for multi-symbol files (detected when absent).
    #[schema(max_length = 256)]
    symbol_column: Option<String>,
    /// IANA zone of local times in intraday files (default: the exchange's).
    #[schema(max_length = 256)]
    timezone: Option<String>,
    #[schema(max_length = 256)]
    time_column: Option<String>,
    #[schema(max_length = 256)]
    open_column: Option<String>,
    #[schema(max_length = 256)]
    high_column: Option<String>,
    #[schema(max_length = 256)]
    low_column: Option<String>,
    #[schema(max_length = 256)]
    close_column: Option<String>,
    #[schema(max_length = 256)]
    volume_column: Option<String>,
    #[schema(max_length = 256)]
    amount_column: Option<String>,
    #[schema(max_length = 256)]
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

fn import_error(e: ImportFailure) -> ApiError {
    match e {
        ImportFailure::Invalid(e) => e.into(),
        ImportFailure::Store(e) => e.into(),
    }
}

/// Import bars from a CSV upload. All rows land or none do. The file is spooled to disk as it
/// arrives, then parsed from there; a user runs at most `imports_per_user` imports at once.
#[utoipa::path(post, path = "/api/v1/imports/bars", tag = "imports",
    request_body(content = BarUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "the file is invalid; nothing was written"),
        (status = 429, body = ErrorBody, description = "this user already has `imports_per_user` imports running (nothing was read or written), or a request rate limit was reached: code `rate_limited`; Retry-After says when to try again",
            headers(("Retry-After" = u64, description = "seconds to wait before trying again")))))]
async fn import_bars(
    State(state): State<AppState>,
    who: Principal,
    form: ApiMultipart,
) -> Result<Json<ImportReport>, ApiError> {
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
    let _slot = state.imports.take(who.user_id, state.config.server.imports_per_user)?;
    let up = read_upload::<Spooled>(form, &FIELDS).await?;
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
    let bytes = up.file.len;
    let report = import_bars_stream(
        &*state.store,
        std::io::BufReader::with_capacity(1 << 16, up.file.file),
        opts,
        Box::new(|_| {}),
    )
    .await
    .map_err(import_error)?;
    state.invalidate();
    tracing::info!(bars = report.bars, symbols = report.symbols, bytes, "bars imported over HTTP");
    Ok(Json(report))
}

/// Rows an instrument master uploaded over HTTP may have: every instrument is held in memory
/// (about half a kilobyte each) until the file has been read and checked for repeated symbols.
pub const MAX_INSTRUMENT_ROWS: usize = 200_000;

/// Import an instrument master (at most 200,000 rows) from a CSV upload. All rows land or none
/// do. The file is spooled to disk as it arrives; a user runs at most `imports_per_user` imports
/// at once.
#[utoipa::path(post, path = "/api/v1/imports/instruments", tag = "imports",
    request_body(content = InstrumentUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = InstrumentImportReport), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "the file is invalid or has more than 200,000 rows; nothing was written"),
        (status = 429, body = ErrorBody, description = "this user already has `imports_per_user` imports running (nothing was read or written), or a request rate limit was reached: code `rate_limited`; Retry-After says when to try again",
            headers(("Retry-After" = u64, description = "seconds to wait before trying again")))))]
async fn import_instruments(
    State(state): State<AppState>,
    who: Principal,
    form: ApiMultipart,
) -> Result<Json<InstrumentImportReport>, ApiError> {
    let _slot = state.imports.take(who.user_id, state.config.server.imports_per_user)?;
    let up = read_upload::<Spooled>(form, &[]).await?;
    let input = std::io::BufReader::with_capacity(1 << 16, up.file.file);
    let n = import_instruments_reader(state.store.clone(), input, up.file_name, MAX_INSTRUMENT_ROWS)
        .await
        .map_err(import_error)?;
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
    let up = read_upload::<Vec<u8>>(form, &["complete"]).await?;
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
    let mut bytes = up.file;
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
