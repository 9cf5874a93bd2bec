//! The TradingView UDF datafeed under `/udf`, as TradingView's UDF adapter consumes it.
//!
//! Protocol errors are answered as `{"s":"error","errmsg":…}` with status 200, because the
//! adapter reads the body of every answer and treats a non-2xx status as a network failure.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use quantdesk_core::{Adjustment, Instrument, Resolution};
use serde::Serialize;
use serde_json::{Value, json};

use crate::chan::{ChanProfile, ChanRequest, analyze_fetched, fetch_stored, signal_classes, signal_label};
use crate::cpu::Accepts;
use crate::market::{BarRequest, bar_time_before, parse_symbol, read_bars};
use crate::state::{AppState, SymbolMeta};

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/config", get(config))
        .route("/symbols", get(symbols))
        .route("/search", get(search))
        .route("/history", get(history))
        .route("/time", get(time))
        .route("/marks", get(marks))
        .route("/timescale_marks", get(timescale_marks))
        .route("/quotes", get(quotes))
}

type Params = Query<HashMap<String, String>>;

/// A UDF protocol error: `{"s":"error","errmsg":…}`.
#[derive(Debug, Clone)]
pub struct UdfError(String);

impl IntoResponse for UdfError {
    fn into_response(self) -> Response {
        Json(json!({ "s": "error", "errmsg": self.0 })).into_response()
    }
}

fn udf_error(msg: impl Into<String>) -> UdfError {
    UdfError(msg.into())
}

/// Logs the detail; the client learns only that something failed inside.
fn internal(e: impl std::fmt::Display) -> UdfError {
    tracing::error!(error = %e, "udf request failed");
    udf_error("internal error")
}

type UdfResult = Result<Response, UdfError>;

fn json_bytes(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

const RESOLUTIONS: [&str; 8] = ["1", "5", "15", "30", "60", "1D", "1W", "1M"];

async fn config() -> Json<Value> {
    Json(json!({
        "supports_search": true,
        "supports_group_request": false,
        "supports_marks": true,
        "supports_timescale_marks": true,
        "supports_time": true,
        "supported_resolutions": RESOLUTIONS,
        "exchanges": [
            { "value": "", "name": "All Exchanges", "desc": "" },
            { "value": "SSE", "name": "SSE", "desc": "Shanghai Stock Exchange" },
            { "value": "SZSE", "name": "SZSE", "desc": "Shenzhen Stock Exchange" },
            { "value": "BSE", "name": "BSE", "desc": "Beijing Stock Exchange" },
            { "value": "OTHER", "name": "Other", "desc": "Other markets" }
        ],
        "symbols_types": [
            { "name": "All types", "value": "" },
            { "name": "Stock", "value": "stock" },
            { "name": "Index", "value": "index" },
            { "name": "ETF", "value": "etf" },
            { "name": "Fund", "value": "fund" },
            { "name": "Bond", "value": "bond" },
            { "name": "Futures", "value": "future" },
            { "name": "Crypto", "value": "crypto" }
        ]
    }))
}

/// TradingView's time-zone name for an IANA zone (it spells UTC `Etc/UTC`).
fn tv_timezone(tz: &str) -> &str {
    match tz {
        "UTC" | "Etc/UTC" | "GMT" => "Etc/UTC",
        other => other,
    }
}

/// The UDF symbol-info object.
pub fn symbol_info(meta: &SymbolMeta) -> Value {
    let i = &meta.instrument;
    let has_intraday = meta.series.iter().any(|s| s.resolution.is_intraday());
    let resolutions: Vec<&str> = if has_intraday { RESOLUTIONS.to_vec() } else { vec!["1D", "1W", "1M"] };
    let intraday: Vec<&str> = RESOLUTIONS[..5]
        .iter()
        .copied()
        .filter(|r| {
            let target = Resolution::parse(r).unwrap_or(Resolution::Day);
            meta.series.iter().any(|s| s.resolution.is_intraday() && target.derivable_from(s.resolution))
        })
        .collect();
    json!({
        "name": i.symbol.as_str(),
        "ticker": i.symbol.as_str(),
        "full_name": format!("{}:{}", i.exchange, i.symbol),
        "description": i.name,
        "type": i.kind.as_str(),
        "session": i.session.to_string(),
        "exchange": i.exchange,
        "listed_exchange": i.exchange,
        "timezone": tv_timezone(&i.timezone),
        "format": "price",
        "pricescale": i.pricescale(),
        "minmov": 1,
        "has_intraday": has_intraday,
        "has_daily": true,
        "has_weekly_and_monthly": true,
        "supported_resolutions": resolutions,
        "intraday_multipliers": intraday,
        "volume_precision": 0,
        "data_status": "endofday",
        "currency_code": i.currency,
    })
}

async fn lookup(state: &AppState, raw: Option<&String>) -> Result<std::sync::Arc<SymbolMeta>, UdfError> {
    let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
        return Err(udf_error("symbol is required"));
    };
    let symbol = parse_symbol(raw).map_err(|_| udf_error("unknown_symbol"))?;
    match state.symbol_meta(&symbol).await {
        Ok(Some(meta)) => Ok(meta),
        Ok(None) => Err(udf_error("unknown_symbol")),
        Err(e) => Err(internal(e)),
    }
}

async fn symbols(State(state): State<AppState>, Query(p): Params) -> UdfResult {
    let meta = lookup(&state, p.get("symbol")).await?;
    Ok(Json(symbol_info(&meta)).into_response())
}

async fn search(State(state): State<AppState>, Query(p): Params) -> UdfResult {
    let limit = p.get("limit").and_then(|l| l.parse::<u32>().ok()).unwrap_or(30).clamp(1, 100);
    let q = quantdesk_store::InstrumentQuery {
        text: p.get("query").cloned(),
        kind: p.get("type").cloned().filter(|s| !s.is_empty()),
        exchange: p.get("exchange").cloned().filter(|s| !s.is_empty()),
        board: None,
        listed_from: None,
        listed_to: None,
        limit,
        offset: 0,
    };
    let items = state.store.list_instruments(&q).await.map_err(internal)?;
    let found: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "symbol": i.symbol.as_str(),
                "full_name": format!("{}:{}", i.exchange, i.symbol),
                "description": i.name,
                "exchange": i.exchange,
                "ticker": i.symbol.as_str(),
                "type": i.kind.as_str(),
            })
        })
        .collect();
    Ok(Json(found).into_response())
}

#[derive(Serialize)]
struct HistoryOk<'a> {
    s: &'a str,
    t: Vec<i64>,
    o: Vec<f64>,
    h: Vec<f64>,
    l: Vec<f64>,
    c: Vec<f64>,
    v: Vec<f64>,
}

fn int_param(p: &HashMap<String, String>, name: &str) -> Result<Option<i64>, UdfError> {
    match p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| udf_error(format!("{name} must be an integer, got {v:?}"))),
    }
}

async fn history(State(state): State<AppState>, accepts: Accepts, Query(p): Params) -> UdfResult {
    let res = match p.get("resolution") {
        Some(r) => Resolution::parse(r).map_err(|e| udf_error(e.0))?,
        None => return Err(udf_error("resolution is required")),
    };
    let from = int_param(&p, "from")?;
    let to = int_param(&p, "to")?.ok_or_else(|| udf_error("to is required"))?;
    let countback = match int_param(&p, "countback")? {
        Some(c) if c <= 0 => return Err(udf_error("countback must be positive")),
        Some(c) => Some(u32::try_from(c.min(100_000)).unwrap_or(100_000)),
        None => None,
    };
    let from = match (from, countback) {
        (Some(f), _) => f,
        (None, Some(_)) => i64::MIN,
        (None, None) => return Err(udf_error("from is required")),
    };
    if countback.is_none() && from > to {
        return Err(udf_error("from must not be after to"));
    }
    let adjustment = match p.get("adjustment") {
        Some(a) => Adjustment::parse(a).map_err(|e| udf_error(e.0))?,
        None => Adjustment::None,
    };
    let meta = lookup(&state, p.get("symbol")).await?;
    let key = format!("h|{}|{}|{}|{from}|{to}|{countback:?}", meta.instrument.symbol, res, adjustment.as_str());
    let shared = state.shared.clone();
    let ttl = Duration::from_secs(state.config.cache.cache_ttl_secs.max(1));
    let version: i64 = meta.series.iter().map(|s| s.version).sum();
    let shared_key = format!("qd:{version}:{key}");
    let render = async {
        // Another replica may have computed this answer already.
        if let Some(c) = &shared
            && let Some(hit) = c.get(&shared_key).await
        {
            return Ok::<Bytes, UdfError>(Bytes::from(hit));
        }
        let body = history_body(&state, &meta, BarRequest { resolution: res, adjustment, from, to, countback }).await?;
        if let Some(c) = &shared {
            c.set(&shared_key, &body, ttl).await;
        }
        Ok::<Bytes, UdfError>(body)
    };
    let bytes = match &state.responses {
        // Concurrent identical requests wait for one computation.
        Some(cache) => cache.try_get_with(key, render).await.map_err(|e: std::sync::Arc<UdfError>| (*e).clone())?,
        None => render.await?,
    };
    if accepts.gzip && bytes.len() >= crate::cpu::HEAVY_BODY_BYTES {
        // Compressing a big answer is CPU work: the pool's, or none when it is full.
        let raw = bytes.clone();
        if let Ok(Ok(body)) = state.cpu.run(move || accepts.body(raw)).await {
            return Ok(body.into_response());
        }
        let mut res = json_bytes(bytes);
        res.extensions_mut().insert(crate::cpu::Uncompressed);
        return Ok(res);
    }
    Ok(json_bytes(bytes))
}

/// Computes a `/history` answer.
async fn history_body(state: &AppState, meta: &SymbolMeta, req: BarRequest) -> Result<Bytes, UdfError> {
    let (res, from, to, countback) = (req.resolution, req.from, req.to, req.countback);
    let answer = read_bars(state.bars(), &meta.instrument, &meta.series, &req).await.map_err(internal)?;
    let body = if answer.bars.is_empty() {
        let next = match answer.base {
            Some(base) => {
                let before = if countback.is_some() { to } else { from };
                bar_time_before(&*state.store, &meta.instrument, base, res, before).await.map_err(internal)?
            }
            None => None,
        };
        match next {
            Some(t) => json!({ "s": "no_data", "nextTime": t }),
            None => json!({ "s": "no_data" }),
        }
        .to_string()
        .into_bytes()
    } else {
        let b = &answer.bars;
        let out = HistoryOk {
            s: "ok",
            t: b.iter().map(|x| x.time).collect(),
            o: b.iter().map(|x| x.open).collect(),
            h: b.iter().map(|x| x.high).collect(),
            l: b.iter().map(|x| x.low).collect(),
            c: b.iter().map(|x| x.close).collect(),
            v: b.iter().map(|x| x.volume).collect(),
        };
        serde_json::to_vec(&out).map_err(internal)?
    };
    Ok(Bytes::from(body))
}

async fn time() -> Response {
    let now = quantdesk_app::clock::now_secs();
    ([(header::CONTENT_TYPE, "text/plain")], now.to_string()).into_response()
}

/// Daily bars in `[from, to)` plus a few before, raw and hfq-adjusted.
async fn daily_window(
    state: &AppState,
    meta: &SymbolMeta,
    from: i64,
    to: i64,
) -> Result<Vec<quantdesk_core::Bar>, UdfError> {
    let req = BarRequest {
        resolution: Resolution::Day,
        adjustment: Adjustment::Hfq,
        from: from.saturating_sub(15 * 86_400),
        to,
        countback: None,
    };
    read_bars(state.bars(), &meta.instrument, &meta.series, &req).await.map(|a| a.bars).map_err(internal)
}

/// Limit-up (涨停) and limit-down (跌停) closes, for instruments with a daily price limit.
pub fn limit_marks(instrument: &Instrument, bars: &[quantdesk_core::Bar], from: i64) -> Vec<(i64, bool)> {
    let Some(limit) = instrument.price_limit else {
        return Vec::new();
    };
    bars.windows(2)
        .filter(|w| w[1].time >= from)
        .filter_map(|w| {
            let change = w[1].close / w[0].close - 1.0;
            // A close at the limit is within a tick's rounding of it, and at the day's extreme.
            let tolerance = 0.006_f64.max(instrument.tick_size / w[0].close);
            if change >= limit - tolerance && w[1].close >= w[1].high {
                Some((w[1].time, true))
            } else if change <= -(limit - tolerance) && w[1].close <= w[1].low {
                Some((w[1].time, false))
            } else {
                None
            }
        })
        .collect()
}

fn range_params(p: &HashMap<String, String>) -> Result<(i64, i64), UdfError> {
    let from = int_param(p, "from")?.ok_or_else(|| udf_error("from is required"))?;
    let to = int_param(p, "to")?.ok_or_else(|| udf_error("to is required"))?;
    Ok((from, to))
}

/// Bars the Chan marks analyse: the last ones before `to` (for daily bars, eighty years).
const CHAN_MARK_BARS: u32 = 20_000;

/// Limit-up/down closes and the Chan buy/sell points (`quantdesk_chan`, chan.py's rules or
/// `profile=czsc`) of the requested `resolution` (default 1D) whose bar opens in `[from, to)`, in
/// the UDF table form (one array per field). The Chan analysis reads only bars before `to`, with
/// the same `adjustment` as `/history` (default none) so the marks sit on the candles drawn.
/// Colours follow the A-share habit, red up and buy, green down and sell; `colours=green-up`
/// swaps them (the chart page's setting). The analysis runs on the CPU pool: when that is full the
/// answer is 503 `busy` with `Retry-After`, in the API's error shape like the rate limiter's 429.
async fn marks(State(state): State<AppState>, accepts: Accepts, Query(p): Params) -> UdfResult {
    let (from, to) = range_params(&p)?;
    let resolution = match p.get("resolution").map(|r| r.trim()).filter(|r| !r.is_empty()) {
        Some(r) => Resolution::parse(r).map_err(|e| udf_error(e.0))?,
        None => Resolution::Day,
    };
    let adjustment = match p.get("adjustment") {
        Some(a) => Adjustment::parse(a).map_err(|e| udf_error(e.0))?,
        None => Adjustment::None,
    };
    let profile = match p.get("profile") {
        Some(name) => ChanProfile::parse(name).ok_or_else(|| udf_error("profile must be chanpy or czsc"))?,
        None => ChanProfile::Chanpy,
    };
    let (up_colour, down_colour) =
        if p.get("colours").is_some_and(|c| c == "green-up") { ("green", "red") } else { ("red", "green") };
    // `kinds=limit`, `kinds=chan` or both (the default): each mark's id starts with its kind
    // (`limit-…`, `chan-…`), and a caller that wants one kind neither gets nor pays for the other.
    let (want_limits, want_chan) = match p.get("kinds").map(|k| k.trim()).filter(|k| !k.is_empty()) {
        None => (true, true),
        Some(k) => {
            let kinds: Vec<&str> = k.split(',').map(str::trim).collect();
            if let Some(bad) = kinds.iter().find(|x| !matches!(**x, "limit" | "chan")) {
                return Err(udf_error(format!("kinds takes limit and chan, not {bad:?}")));
            }
            (kinds.contains(&"limit"), kinds.contains(&"chan"))
        }
    };
    let meta = lookup(&state, p.get("symbol")).await?;
    // The analysis and the table are CPU work: the pool's, or a quick 503 `busy` when it is full.
    let ticket = match state.cpu.admit() {
        Ok(t) => t,
        Err(busy) => return Ok(crate::error::ApiError::from(busy).into_response()),
    };
    let found = if want_limits {
        let bars = daily_window(&state, &meta, from, to).await?;
        limit_marks(&meta.instrument, &bars, from)
    } else {
        Vec::new()
    };
    let req =
        ChanRequest { resolution, adjustment, from: i64::MIN, until: to, countback: Some(CHAN_MARK_BARS), profile };
    let fetched = match want_chan {
        true => Some(fetch_stored(state.bars(), &meta.instrument, &meta.series, &req).await.map_err(internal)?),
        false => None,
    };
    let rendered = ticket
        .run(move || {
            let signals = match fetched {
                Some(fetched) => {
                    analyze_fetched(fetched, profile)
                        .map_err(|e| udf_error(format!("the bars cannot be analysed: {e}")))?
                        .1
                        .signals
                }
                None => Vec::new(),
            };
            let (mut id, mut time, mut color, mut text, mut label, mut label_color, mut min_size) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for (t, up) in &found {
                id.push(json!(format!("limit-{t}")));
                time.push(*t);
                color.push(if *up { up_colour } else { down_colour });
                text.push((if *up { "涨停 limit up" } else { "跌停 limit down" }).to_string());
                label.push((if *up { "U" } else { "D" }).to_string());
                label_color.push("white");
                min_size.push(14);
            }
            for s in signals.iter().filter(|s| s.time >= from && s.time < to) {
                let buy = s.side == quantdesk_chan::Side::Buy;
                let (level, level_zh) = match s.level {
                    quantdesk_chan::Level::Stroke => ("stroke", "笔"),
                    quantdesk_chan::Level::Segment => ("segment", "线段"),
                };
                let side = if buy { "买点 buy" } else { "卖点 sell" };
                id.push(json!(format!("chan-{level}-{}-{}", if buy { "buy" } else { "sell" }, s.time)));
                time.push(s.time);
                color.push(if buy { up_colour } else { down_colour });
                text.push(format!(
                    "{} {side} ({level_zh} {level}), classes [{}]. {}",
                    signal_label(s),
                    signal_classes(s).join(", "),
                    s.rule
                ));
                label.push(signal_label(s));
                label_color.push("white");
                min_size.push(if s.level == quantdesk_chan::Level::Segment { 22 } else { 16 });
            }
            let body = json!({
                "id": id, "time": time, "color": color, "text": text,
                "label": label, "labelFontColor": label_color, "minSize": min_size
            });
            let body = serde_json::to_vec(&body).map_err(internal)?;
            accepts.body(body).map_err(|e| udf_error(e.message))
        })
        .await;
    match rendered {
        Ok(body) => Ok(body?.into_response()),
        Err(busy) => Ok(crate::error::ApiError::from(busy).into_response()),
    }
}

async fn timescale_marks(State(state): State<AppState>, Query(p): Params) -> UdfResult {
    let (from, to) = range_params(&p)?;
    let meta = lookup(&state, p.get("symbol")).await?;
    let factors = state.store.adj_factors(&meta.instrument.symbol).await.map_err(internal)?;
    let marks: Vec<Value> = factors
        .windows(2)
        .filter(|w| (w[1].factor / w[0].factor - 1.0).abs() > 1e-9)
        .map(|w| (quantdesk_core::resample::date_stamp(w[1].date), w))
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(t, w)| {
            json!({
                "id": format!("xr-{t}"),
                "time": t,
                "color": "blue",
                "label": "X",
                "tooltip": [format!("除权除息 ex-rights {}", w[1].date), format!("adjustment factor {} → {}", w[0].factor, w[1].factor)],
            })
        })
        .collect();
    Ok(Json(marks).into_response())
}

async fn quotes(State(state): State<AppState>, Query(p): Params) -> UdfResult {
    let Some(list) = p.get("symbols").filter(|s| !s.trim().is_empty()) else {
        return Err(udf_error("symbols is required"));
    };
    let now = quantdesk_app::clock::now_secs();
    let mut out = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()).take(100) {
        let meta = match lookup(&state, Some(&raw.to_string())).await {
            Ok(m) => m,
            Err(_) => {
                out.push(json!({ "s": "error", "n": raw, "v": {} }));
                continue;
            }
        };
        let i = &meta.instrument;
        // The stored last bar, or a newer live quote when configured (`live_quotes`).
        let q =
            quantdesk_app::quotes::latest(state.bars(), &state.quotes, i, &meta.series, now).await.map_err(internal)?;
        let Some(q) = q else {
            out.push(json!({ "s": "error", "n": raw, "v": {} }));
            continue;
        };
        out.push(json!({
            "s": "ok",
            "n": raw,
            "v": {
                "ch": q.change(),
                "chp": q.change_pct(),
                "short_name": i.symbol.as_str(),
                "exchange": i.exchange,
                "description": i.name,
                "lp": q.price,
                "ask": q.price,
                "bid": q.price,
                "spread": 0.0,
                "open_price": q.open,
                "high_price": q.high,
                "low_price": q.low,
                "prev_close_price": q.prev_close,
                "volume": q.volume,
                "source": q.source,
                "time": q.time,
            }
        }));
    }
    Ok(Json(json!({ "s": "ok", "d": out })).into_response())
}
