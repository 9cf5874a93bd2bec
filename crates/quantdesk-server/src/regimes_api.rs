//! `GET /api/v1/regimes/{symbol}`: TradeMaster's market-dynamics labels of a stored symbol's bars,
//! with the segments, the per-label statistics and the kind of filter (ex-post `zero_phase`, or
//! `causal`), and on request the labels' stability and an index's labels carried onto the bars
//! (`stability`, `index`, as the command line's `--stability` and `--index`), over `[from, to)`.
//! The service is the application layer's ([`quantdesk_app::regimes`]), the one
//! `quantdesk regimes` and the `regimes` job use. Reading the bars is I/O on the async workers;
//! the labeling runs on the bounded CPU pool ([`crate::cpu`]).

use axum::extract::State;
use axum::routing::get;
use quantdesk_app::regimes::{self, KeyIndicator, Method, RegimeOptions};
use quantdesk_core::{Adjustment, Resolution};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::cpu::{Accepts, JsonBody};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub use quantdesk_app::regimes::{
    Filter, IndexLabels, RegimeAnswer, RegimeReport, RegimeRow, RegimeSegment, RegimeStatistics,
};

pub fn router() -> crate::Routes {
    crate::Routes::new().route("/regimes/{symbol}", get(get_regimes))
}

/// The labeling parameters (TradeMaster's, under shorter names; the defaults are its BTC setting).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegimeParams {
    /// 1, 5, 15, 30, 60, 1D (default), 1W or 1M.
    #[param(pattern = "^(1|5|15|30|60|1D|1W|1M)$")]
    pub resolution: Option<String>,
    /// The key indicator: adjcp (default: the adjusted close, `adjustment`) or close (unadjusted).
    #[param(pattern = "^(close|adjcp)$")]
    pub key: Option<String>,
    /// Adjustment of the adjusted close: qfq (default), hfq or none.
    #[param(pattern = "^(none|qfq|hfq)$")]
    pub adjustment: Option<String>,
    /// Number of dynamics (labels 0 .. dynamics − 1, 0 the most bearish); default 3.
    #[param(minimum = 2, maximum = 10)]
    pub dynamics: Option<i64>,
    /// Minimum segment length and filter period; −1 for none (period 7). Default 12.
    /// `min_length × filter_strength` must be above 2 (422 otherwise).
    #[param(minimum = -1, maximum = 10000)]
    pub min_length: Option<i64>,
    /// Segments at least this long are not merged (`max_length_expectation`); default 120.
    #[param(minimum = 1, maximum = 100000)]
    pub max_length: Option<i64>,
    /// Filter strength (divides the cut-off); default 1.
    #[param(exclusive_minimum = 0, maximum = 100)]
    pub filter_strength: Option<f64>,
    /// DTW merge threshold; −1 disables merging. Default 0.03.
    #[param(minimum = -1, maximum = 100)]
    pub merging_threshold: Option<f64>,
    /// Largest label distance of merged neighbours; −1 disables the constraint. Default 1.
    #[param(minimum = -1, maximum = 10)]
    pub merging_constraint: Option<i64>,
    /// quantile (default), slope or dtw.
    #[param(pattern = "^(quantile|slope|dtw)$")]
    pub method: Option<String>,
    /// Causal labels (each bar's label from that bar and the ones before it; trailing window
    /// 2 × max_length) instead of the ex-post zero-phase ones, which look ahead. Default false.
    pub causal: Option<bool>,
    /// First bar: Unix seconds, a date (its 00:00 UTC) or an RFC 3339 time. Default: the first
    /// stored bar.
    pub from: Option<String>,
    /// Last bar: a date includes that whole day; a time or Unix seconds is an exclusive end.
    /// Default: the last stored bar.
    pub to: Option<String>,
    /// Add `stability`: per TradeMaster parameter moved one step down and up, the bars whose
    /// (ex-post) label changes, as `quantdesk regimes --stability`. Default false.
    pub stability: Option<bool>,
    /// Add `index`: this stored index labeled with the same settings over the same range, its
    /// labels carried onto this symbol's bars by time (`null` where the index has no bar), as
    /// `quantdesk regimes --index`.
    #[param(pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$")]
    pub index: Option<String>,
}

/// The schema's bounds, answered 400 like every other schema violation.
fn within<T: PartialOrd + std::fmt::Display + Copy>(name: &str, v: Option<T>, min: T, max: T) -> Result<(), ApiError> {
    match v {
        Some(x) if !(x >= min && x <= max) => {
            Err(ApiError::bad_request(format!("{name} must be from {min} to {max}, got {x}")))
        }
        _ => Ok(()),
    }
}

impl RegimeParams {
    fn options(&self) -> Result<(Resolution, KeyIndicator, Adjustment, RegimeOptions), ApiError> {
        let res = self.resolution.as_deref().unwrap_or("1D");
        if !["1", "5", "15", "30", "60", "1D", "1W", "1M"].contains(&res) {
            return Err(ApiError::bad_request(format!(
                "unsupported resolution {res:?}; use one of 1, 5, 15, 30, 60, 1D, 1W, 1M"
            )));
        }
        let resolution = Resolution::parse(res).map_err(|e| ApiError::bad_request(e.0))?;
        let k = self.key.as_deref().unwrap_or("adjcp");
        let key = KeyIndicator::parse(k)
            .ok_or_else(|| ApiError::bad_request(format!("unknown key {k:?}; use close or adjcp")))?;
        let adj = self.adjustment.as_deref().unwrap_or("qfq");
        if !["none", "qfq", "hfq"].contains(&adj) {
            return Err(ApiError::bad_request(format!("unsupported adjustment {adj:?}; use none, qfq or hfq")));
        }
        let adjustment = Adjustment::parse(adj).map_err(|e| ApiError::bad_request(e.0))?;
        let m = self.method.as_deref().unwrap_or("quantile");
        let method = match m {
            "quantile" | "slope" | "dtw" => Method::parse(m),
            _ => None,
        }
        .ok_or_else(|| ApiError::bad_request(format!("unknown method {m:?}; use quantile, slope or dtw")))?;
        within("dynamics", self.dynamics, 2, 10)?;
        within("min_length", self.min_length, -1, 10_000)?;
        within("max_length", self.max_length, 1, 100_000)?;
        within("merging_constraint", self.merging_constraint, -1, 10)?;
        within("merging_threshold", self.merging_threshold, -1.0, 100.0)?;
        if let Some(s) = self.filter_strength
            && !(s > 0.0 && s <= 100.0)
        {
            return Err(ApiError::bad_request(format!("filter_strength must be above 0 and at most 100, got {s}")));
        }
        let d = RegimeOptions::default();
        let o = RegimeOptions {
            dynamics: self.dynamics.map_or(d.dynamics, |v| v as usize),
            min_length: self.min_length.unwrap_or(d.min_length),
            max_length: self.max_length.map_or(d.max_length, |v| v as usize),
            filter_strength: self.filter_strength.unwrap_or(d.filter_strength),
            merging_threshold: self.merging_threshold.unwrap_or(d.merging_threshold),
            merging_constraint: self.merging_constraint.unwrap_or(d.merging_constraint),
            method,
            causal: self.causal.unwrap_or(false),
        };
        Ok((resolution, key, adjustment, o))
    }
}

/// Market-dynamics (regime) labels of a stored symbol: one row per bar (time, key indicator,
/// TradeMaster's `pct_return`, `key_indicator_filtered`, `pct_return_filtered`, `label`), the
/// runs of equal labels, the per-label statistics, and `filter`: `zero_phase` (ex-post: the
/// filter and the quantiles see the whole series, so the labels look ahead) or `causal`.
#[utoipa::path(get, path = "/api/v1/regimes/{symbol}", tag = "regimes",
    params(("symbol" = String, Path, description = "e.g. 600519.SH", pattern = "^[A-Za-z0-9^][A-Za-z0-9._^=&-]{0,31}$"), RegimeParams),
    responses((status = 200, body = RegimeAnswer),
        (status = 400, body = ErrorBody, description = "a parameter breaks the schema (type, range, pattern)"),
        (status = 404, body = ErrorBody, description = "no such instrument (the symbol or the index)"),
        (status = 422, body = ErrorBody, description = "refused by a rule beyond the schema: `invalid_params` (min_length × filter_strength must be above 2; `from` not before `to`), `bad_instant` (`from` or `to` is not an instant), `too_few_bars` (fewer than 16 bars, or min_length longer than the series; also no bars at the resolution or in the range, for the symbol or the index), `unsuitable_series` (a constant, non-positive or non-finite key indicator), `too_costly` (causal labels whose bars × window exceed 3,000,000; the `regimes` job has no such bound)"),
        (status = 503, body = ErrorBody, description = "busy: every CPU worker and queue place is taken (`cpu_workers`, `cpu_queue`); retry after `Retry-After` seconds")))]
async fn get_regimes(
    State(state): State<AppState>,
    accepts: Accepts,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(p): ApiQuery<RegimeParams>,
) -> Result<JsonBody, ApiError> {
    let symbol = crate::extract::path_symbol(&symbol)?;
    let index = p.index.as_deref().map(crate::extract::path_symbol).transpose()?;
    let (resolution, key, adjustment, o) = p.options()?;
    let from = p.from.as_deref().map(|s| crate::extract::parse_instant("from", s)).transpose()?.unwrap_or(i64::MIN);
    let to = p.to.as_deref().map(|s| crate::extract::parse_range_end("to", s)).transpose()?.unwrap_or(i64::MAX);
    if from >= to {
        return Err(ApiError::from(
            quantdesk_app::AppError::invalid("from must be before to").with_code("invalid_params").with_field("from"),
        ));
    }
    o.check()?;
    let ticket = state.cpu.admit()?;
    let too_few = |e: quantdesk_app::AppError| if e.code() == "invalid" { e.with_code("too_few_bars") } else { e };
    let series = regimes::load_stored_range(state.bars(), symbol.as_str(), resolution, key, adjustment, from, to)
        .await
        .map_err(too_few)?;
    let index = match &index {
        Some(ix) => Some(
            regimes::load_stored_range(state.bars(), ix.as_str(), resolution, key, adjustment, from, to)
                .await
                .map_err(too_few)?,
        ),
        None => None,
    };
    let stability = p.stability.unwrap_or(false);
    ticket
        .run(move || {
            regimes::check_request_cost(series.bars.len(), &o)?;
            if let Some(ix) = &index {
                regimes::check_request_cost(ix.bars.len(), &o)?;
            }
            let answer = regimes::regimes_answer(&series, key, &o, stability, index.as_ref())?;
            accepts.json(&answer)
        })
        .await?
}
