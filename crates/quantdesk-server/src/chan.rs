//! `GET /api/v1/chan/{symbol}` and `/nest`: Chan-theory (缠论) structures of stored bars over
//! HTTP. The model and the analysis of stored bars are the application layer's
//! ([`quantdesk_app::chan`]); the CLI (`quantdesk chan`), the UDF marks and the chanvis-compatible
//! endpoints use the same functions, so every surface shows the same structures.
//!
//! Nothing is cached: the engine runs at millions of bars per second, and reading the bars goes
//! through the block cache already. Reading is I/O on the async workers; adjusting, resampling,
//! analysing and rendering the answer is CPU work on the bounded pool ([`crate::cpu`]), which
//! refuses with 503 `busy` when full.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use quantdesk_chan as engine;
use quantdesk_core::{Adjustment, Resolution};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::cpu::{Accepts, JsonBody};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub use quantdesk_app::chan::*;

impl From<ChanFailure> for ApiError {
    fn from(e: ChanFailure) -> Self {
        match e {
            ChanFailure::Store(e) => e.into(),
            ChanFailure::Engine(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "chan_refused",
                format!("the stored bars cannot be analysed: {e}"),
            ),
        }
    }
}

pub fn router() -> crate::Routes {
    crate::Routes::new().route("/chan/{symbol}", get(get_chan)).route("/chan/{symbol}/nest", get(get_nest))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChanParams {
    /// 1, 5, 15, 30, 60, 1D, 1W or 1M (default 1D).
    #[param(pattern = "^(1|5|15|30|60|1D|1W|1M)$")]
    pub resolution: Option<String>,
    /// chanpy (default: chan.py's rules) or czsc (czsc's stroke rule).
    #[param(pattern = "^(chanpy|czsc)$")]
    pub profile: Option<String>,
    /// none, qfq (default) or hfq. qfq is relative to the last bar analysed.
    #[param(pattern = "^(none|qfq|hfq)$")]
    pub adjustment: Option<String>,
    /// Inclusive start of the bars analysed: Unix seconds, a date or an RFC 3339 time (default: the
    /// first stored bar).
    pub from: Option<String>,
    /// Exclusive end: only bars before this instant are analysed, and nothing stored at or after it
    /// influences the answer (a replay cursor). Unix seconds, a date or an RFC 3339 time.
    pub until: Option<String>,
}

/// Chan-theory structures of stored bars: merged bars, fractals, strokes, segments, pivots and
/// buy/sell points, with ISO 8601 times in UTC.
#[utoipa::path(get, path = "/api/v1/chan/{symbol}", tag = "chan",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$"), ChanParams),
    responses((status = 200, body = ChanAnalysis),
        (status = 400, body = ErrorBody, description = "a parameter breaks the schema"),
        (status = 404, body = ErrorBody, description = "no such instrument, or no bars in range"),
        (status = 422, body = ErrorBody, description = "from/until is no instant, from is after until, or the bars cannot be analysed"),
        (status = 503, body = ErrorBody, description = "busy: every CPU worker and queue place is taken (`cpu_workers`, `cpu_queue`); retry after `Retry-After` seconds")))]
async fn get_chan(
    State(state): State<AppState>,
    accepts: Accepts,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(p): ApiQuery<ChanParams>,
) -> Result<JsonBody, ApiError> {
    let symbol = crate::extract::path_symbol(&symbol)?;
    let (req, meta) = request(&state, &symbol, &p, p.resolution.as_deref()).await?;
    let ticket = state.cpu.admit()?;
    let fetched = fetch_stored(state.bars(), &meta.instrument, &meta.series, &req).await?;
    ticket
        .run(move || {
            let (bars, analysis) = analyze_fetched(fetched, req.profile).map_err(ChanFailure::from)?;
            if bars.is_empty() {
                return Err(ApiError::not_found(format!("no {} bars of {symbol} in range", req.resolution.as_udf())));
            }
            accepts.json(&to_api(symbol.as_str(), req.resolution, req.profile, req.adjustment, &bars, &analysis))
        })
        .await?
}

/// A resolution parameter: one of the eight the chart offers.
fn resolution_param(res: &str) -> Result<Resolution, ApiError> {
    if !["1", "5", "15", "30", "60", "1D", "1W", "1M"].contains(&res) {
        return Err(ApiError::bad_request(format!(
            "unsupported resolution {res:?}; use one of 1, 5, 15, 30, 60, 1D, 1W, 1M"
        )));
    }
    Resolution::parse(res).map_err(|e| ApiError::bad_request(e.0))
}

/// The analysis a query asks for (at `resolution`, default 1D), and the instrument's metadata.
async fn request(
    state: &AppState,
    symbol: &quantdesk_core::Symbol,
    p: &ChanParams,
    resolution: Option<&str>,
) -> Result<(ChanRequest, std::sync::Arc<crate::state::SymbolMeta>), ApiError> {
    let resolution = resolution_param(resolution.unwrap_or("1D"))?;
    let prof = p.profile.as_deref().unwrap_or("chanpy");
    let profile = ChanProfile::parse(prof)
        .ok_or_else(|| ApiError::bad_request(format!("unknown profile {prof:?}; use chanpy or czsc")))?;
    let adj = p.adjustment.as_deref().unwrap_or("qfq");
    if !["none", "qfq", "hfq"].contains(&adj) {
        return Err(ApiError::bad_request(format!("unsupported adjustment {adj:?}; use none, qfq or hfq")));
    }
    let adjustment = Adjustment::parse(adj).map_err(|e| ApiError::bad_request(e.0))?;
    let from = p.from.as_deref().map(|s| crate::extract::parse_instant("from", s)).transpose()?.unwrap_or(i64::MIN);
    let until = p.until.as_deref().map(|s| crate::extract::parse_instant("until", s)).transpose()?.unwrap_or(i64::MAX);
    if from > until {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_range", "from must not be after until"));
    }
    let meta =
        state.symbol_meta(symbol).await?.ok_or_else(|| ApiError::not_found(format!("no instrument {symbol}")))?;
    Ok((ChanRequest { resolution, adjustment, from, until, countback: None, profile }, meta))
}

/// The higher resolution of a nesting (the rest of the query is [`ChanParams`], for both levels).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HigherParam {
    /// The higher resolution whose structures hold the lower ones (default 1W over 1D, 1D over
    /// intraday); it must be coarser than `resolution`.
    #[param(pattern = "^(5|15|30|60|1D|1W|1M)$")]
    pub higher: Option<String>,
}

/// One higher-level structure and the lower-level strokes inside its span (区间套).
#[derive(Debug, Serialize, ToSchema)]
pub struct NestItem {
    /// `stroke`, `segment` or `pivot`.
    pub structure: &'static str,
    /// For pivots: built from strokes or from segments.
    pub level: Option<Level>,
    /// Index in the higher analysis' list of that structure.
    pub index: usize,
    pub begin_time: String,
    pub end_time: String,
    /// Indices into the lower analysis' strokes, in time order.
    pub lower_strokes: Vec<usize>,
}

/// Two levels of one symbol analysed together.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChanNest {
    pub symbol: String,
    pub higher: ChanAnalysis,
    pub lower: ChanAnalysis,
    /// Every higher stroke, segment and pivot with the lower strokes inside it.
    pub nests: Vec<NestItem>,
}

/// Length of one bar of `r` for nesting, in seconds: a month counts 28 days, so a lower stroke is
/// never placed in a month it does not fall in.
fn bar_seconds(r: Resolution) -> i64 {
    match r {
        Resolution::Minutes(n) => i64::from(n) * 60,
        Resolution::Day => 86_400,
        Resolution::Week => 7 * 86_400,
        Resolution::Month => 28 * 86_400,
    }
}

fn order(r: Resolution) -> i64 {
    match r {
        Resolution::Month => 31 * 86_400,
        other => bar_seconds(other),
    }
}

/// Multi-level analysis (多级别联立): the structures of `higher` and of `resolution` over the same
/// span, and which lower strokes lie inside each higher stroke, segment and pivot.
#[utoipa::path(get, path = "/api/v1/chan/{symbol}/nest", tag = "chan",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$"), ChanParams, HigherParam),
    responses((status = 200, body = ChanNest),
        (status = 400, body = ErrorBody, description = "a parameter breaks the schema"),
        (status = 404, body = ErrorBody, description = "no such instrument, or no bars in range"),
        (status = 422, body = ErrorBody, description = "higher is not coarser than resolution (1M has none), from/until is no instant, or the bars cannot be analysed"),
        (status = 503, body = ErrorBody, description = "busy: every CPU worker and queue place is taken (`cpu_workers`, `cpu_queue`); retry after `Retry-After` seconds")))]
async fn get_nest(
    State(state): State<AppState>,
    accepts: Accepts,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(p): ApiQuery<ChanParams>,
    ApiQuery(h): ApiQuery<HigherParam>,
) -> Result<JsonBody, ApiError> {
    let symbol = crate::extract::path_symbol(&symbol)?;
    let lower_res = p.resolution.as_deref().unwrap_or("1D");
    if h.higher.as_deref() == Some("1") {
        return Err(ApiError::bad_request("higher 1 is no higher level; use 5, 15, 30, 60, 1D, 1W or 1M"));
    }
    let default_higher = if resolution_param(lower_res)?.is_intraday() { "1D" } else { "1W" };
    let higher_res = h.higher.as_deref().unwrap_or(default_higher).to_string();
    let (lower_req, meta) = request(&state, &symbol, &p, Some(lower_res)).await?;
    let higher = resolution_param(&higher_res)?;
    if order(higher) <= order(lower_req.resolution) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_level",
            format!("higher ({higher_res}) must be coarser than resolution ({lower_res})"),
        ));
    }
    let lower_res = lower_res.to_string();
    let higher_req = ChanRequest { resolution: higher, ..lower_req.clone() };
    let ticket = state.cpu.admit()?;
    let lower_fetched = fetch_stored(state.bars(), &meta.instrument, &meta.series, &lower_req).await?;
    let higher_fetched = fetch_stored(state.bars(), &meta.instrument, &meta.series, &higher_req).await?;
    ticket
        .run(move || {
            let (profile, adjustment) = (lower_req.profile, lower_req.adjustment);
            let (lower_bars, lower) = analyze_fetched(lower_fetched, profile).map_err(ChanFailure::from)?;
            let (higher_bars, upper) = analyze_fetched(higher_fetched, profile).map_err(ChanFailure::from)?;
            if lower_bars.is_empty() || higher_bars.is_empty() {
                return Err(ApiError::not_found(format!("no {lower_res} or {higher_res} bars of {symbol} in range")));
            }
            let nests = engine::multilevel::nest(&upper, &lower, bar_seconds(higher))
                .into_iter()
                .map(|n| {
                    let (structure, level) = match n.structure {
                        engine::multilevel::Structure::Stroke => ("stroke", None),
                        engine::multilevel::Structure::Segment => ("segment", None),
                        engine::multilevel::Structure::Pivot(l) => ("pivot", Some(Level::from(l))),
                    };
                    NestItem {
                        structure,
                        level,
                        index: n.index,
                        begin_time: iso(n.begin_time),
                        end_time: iso(n.end_time),
                        lower_strokes: n.lower_strokes,
                    }
                })
                .collect();
            accepts.json(&ChanNest {
                symbol: symbol.to_string(),
                higher: to_api(symbol.as_str(), higher, profile, adjustment, &higher_bars, &upper),
                lower: to_api(symbol.as_str(), lower_req.resolution, profile, adjustment, &lower_bars, &lower),
                nests,
            })
        })
        .await?
}
