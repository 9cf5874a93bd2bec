//! chanvis-compatible overlay endpoints, so chanvis's TradingView front end (ibaihuo/chanvis,
//! `ui/src/components/ChanContainer.vue`) can draw quantdesk's Chan structures. The paths, query
//! parameters and JSON shapes are those of chanvis's Flask server (`api/chanapi.py`):
//!
//! - `GET /api/bzxd_mark?mtype=…&symbol=…&tf=…` → `{"status":"ok","data":[…]}` with, per `mtype`:
//!   - `zzk` (default, 转折K): stroke turning bars `{dt, direction, high, low}` (`down` at a top);
//!   - `kline_dg` (K顶底): fractals `{dt, vtype: high|low, value, status}`;
//!   - `xd_dg` (线段): segment end points `{dt, vtype, value, status: ok|last}`, consecutive points
//!     joined by chanvis into lines;
//!   - `xdzs` (线段中枢): stroke pivots `{start_dt, end_dt, lower, upper, zstext, is_nakedeye, status}`;
//!   - `bspoint` (量化买卖): buy/sell points `{dt, bstype: long|short, high, low}`.
//! - `GET /api/bzzs_mark?mtype=…&symbol=…&tf=…`, per `mtype`:
//!   - `czxd_dg` (default, 日线线段): segments of segments `{dt, vtype, value, is_valid_czxd}`;
//!   - `bzzs` (本质中枢): segment pivots `{start_dt, end_dt, lower, upper}`;
//!   - `3_buysell` (三买卖): class-3 points `{dt, "3_buysell": buy|sell, high, low}`.
//! - `GET /api/get_bspoint?symbol=…&resolution=…` → `{"status":"ok","data":[{dt, bs_type}]}`.
//! - `GET /api/get_upper_fx?symbol=…&resolution=…&fx_jibie=father|grandpa` →
//!   `{"status":"ok","data":[{start_dt, end_dt, high, low}]}`.
//!
//! Deviations, all deliberate:
//! - chanvis reads precomputed MongoDB collections of its own method (自然之缠); here every answer
//!   is computed by `quantdesk_chan` on the stored bars, so the content is chan.py's structures in
//!   chanvis's shapes. chanvis's other `mtype`s (`ma5_dg`, `zs_line`, `xd_dg_extended`,
//!   `bzxd_zzk`, `indp_cz`) have no counterpart and answer 400.
//! - `get_upper_fx` in chanvis returns the last 400 higher-level *bars*; here it returns the
//!   higher level's *fractals* (分型), each as the zone of its three merged bars, which is what the
//!   name and the rectangle drawing mean. Higher levels: `father` 1→5, 5→30, 15→60, 30/60→1D,
//!   1D→1W, 1W→1M; `grandpa` 1/5→1D, 15/30/60→1W, 1D→1M.
//! - `get_bspoint`'s `bs_type` is the point's label (`B1`, `S2`, …) instead of chanvis's CSV codes.
//! - `dt` is `YYYY-MM-DD HH:MM:SS` in the instrument's exchange time zone (chanvis uses its
//!   server's local time, which its front end parses as the browser's); each item also carries
//!   Unix seconds (`ts`, `start_ts`, `end_ts`), and points carry `classes`, `level` and `rule`.
//! - Errors are this server's JSON errors (400 for a missing or invalid parameter, 404 for an
//!   unknown symbol), not chanvis's `{"code": "-9"}`; a symbol without bars answers an empty `data`.
//! - Extra parameters: `profile` (chanpy, czsc), `adjustment` (none by default, as `/udf/history`,
//!   so overlays sit on the candles the datafeed draws), `until` (replay cursor: only bars before it
//!   are analysed). jqdata codes (`000001.XSHG`, `000001.XSHE`) are read as `.SH` / `.SZ`.
//!
//! They need the `read` scope like the rest of the API. The analysis and the rendering run on the
//! CPU pool ([`crate::cpu`]): when it is full they answer 503 `busy` with `Retry-After`.

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::get;
use quantdesk_chan as engine;
use quantdesk_core::{Adjustment, Bar, Resolution};
use serde_json::{Value, json};

use crate::chan::{ChanFailure, ChanProfile, ChanRequest, analyze_fetched, fetch_stored, signal_classes, signal_label};
use crate::cpu::{Accepts, JsonBody};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/api/bzxd_mark", get(bzxd_mark))
        .route("/api/bzzs_mark", get(bzzs_mark))
        .route("/api/get_bspoint", get(get_bspoint))
        .route("/api/get_upper_fx", get(get_upper_fx))
}

type Params = ApiQuery<HashMap<String, String>>;

/// One analysed series with the zone its times are shown in.
struct Loaded {
    tz: chrono_tz::Tz,
    bars: Vec<Bar>,
    analysis: engine::Analysis,
}

impl Loaded {
    fn dt(&self, t: i64) -> String {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    }

    fn bar(&self, i: usize) -> Option<&Bar> {
        self.bars.get(i)
    }
}

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// chanvis's resolution spellings that quantdesk serves.
fn resolution(raw: Option<&str>, name: &str) -> Result<Resolution, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::bad_request(format!("{name} is required")))?;
    let r = Resolution::parse(raw)
        .ok()
        .filter(|r| ["1", "5", "15", "30", "60", "1D", "1W", "1M"].contains(&r.as_udf().as_str()));
    r.ok_or_else(|| {
        ApiError::bad_request(format!("unsupported {name} {raw:?}; use one of 1, 5, 15, 30, 60, 1D, 1W, 1M"))
    })
}

/// The symbol, with jqdata's exchange suffixes read as TuShare's.
fn symbol(p: &HashMap<String, String>) -> Result<quantdesk_core::Symbol, ApiError> {
    let raw = param(p, "symbol").ok_or_else(|| ApiError::bad_request("symbol is required"))?;
    let raw = match raw.rsplit_once('.') {
        Some((code, "XSHG")) => format!("{code}.SH"),
        Some((code, "XSHE")) => format!("{code}.SZ"),
        _ => raw.to_string(),
    };
    crate::market::parse_symbol(&raw).map_err(|_| ApiError::not_found(format!("no instrument {raw}")))
}

/// Reads the bars `p` names at `res`, then on the CPU pool analyses them and renders
/// `{"status": "ok", "data": data(analysed)}`.
async fn overlay<F>(
    state: &AppState,
    accepts: Accepts,
    p: &HashMap<String, String>,
    res: Resolution,
    data: F,
) -> Result<JsonBody, ApiError>
where
    F: FnOnce(&Loaded) -> Vec<Value> + Send + 'static,
{
    let symbol = symbol(p)?;
    let prof = param(p, "profile").unwrap_or("chanpy");
    let profile = ChanProfile::parse(prof)
        .ok_or_else(|| ApiError::bad_request(format!("unknown profile {prof:?}; use chanpy or czsc")))?;
    let adjustment =
        Adjustment::parse(param(p, "adjustment").unwrap_or("none")).map_err(|e| ApiError::bad_request(e.0))?;
    let until = match param(p, "until") {
        Some(s) => crate::extract::parse_instant("until", s)?,
        None => i64::MAX,
    };
    let meta =
        state.symbol_meta(&symbol).await?.ok_or_else(|| ApiError::not_found(format!("no instrument {symbol}")))?;
    let req = ChanRequest { resolution: res, adjustment, from: i64::MIN, until, countback: None, profile };
    let ticket = state.cpu.admit()?;
    let fetched = fetch_stored(state.bars(), &meta.instrument, &meta.series, &req).await?;
    let tz = meta.instrument.tz();
    ticket
        .run(move || {
            let (bars, analysis) = analyze_fetched(fetched, profile).map_err(ChanFailure::from)?;
            let loaded = Loaded { tz, bars, analysis };
            accepts.json(&json!({ "status": "ok", "data": data(&loaded) }))
        })
        .await?
}

/// The resolution of `bzxd_mark` / `bzzs_mark` (`tf`, chanvis's name; `resolution` also works).
fn tf(p: &HashMap<String, String>) -> Result<Resolution, ApiError> {
    match param(p, "tf") {
        Some(t) => resolution(Some(t), "tf"),
        None => resolution(param(p, "resolution"), "tf"),
    }
}

fn vtype(up_end: bool) -> &'static str {
    if up_end { "high" } else { "low" }
}

/// End points of consecutive segments: the start of the first, then the end of each.
fn segment_points(l: &Loaded, segments: &[engine::Segment], valid_key: &str, as_status: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let status = |confirmed: bool| -> Value {
        if as_status { json!(if confirmed { "ok" } else { "last" }) } else { json!(confirmed) }
    };
    if let Some(first) = segments.first() {
        out.push(json!({
            "dt": l.dt(first.begin_time), "ts": first.begin_time,
            "vtype": vtype(first.direction == engine::Direction::Down),
            "value": first.begin_price, valid_key: status(true),
        }));
    }
    for s in segments {
        out.push(json!({
            "dt": l.dt(s.end_time), "ts": s.end_time,
            "vtype": vtype(s.direction == engine::Direction::Up),
            "value": s.end_price, valid_key: status(s.confirmed),
        }));
    }
    out
}

fn pivot_boxes(l: &Loaded, level: engine::Level, with_text: bool) -> Vec<Value> {
    l.analysis
        .pivots
        .iter()
        .filter(|z| z.level == level)
        .map(|z| {
            let mut v = json!({
                "start_dt": l.dt(z.begin_time), "end_dt": l.dt(z.end_time),
                "start_ts": z.begin_time, "end_ts": z.end_time,
                "lower": z.zd, "upper": z.zg, "gg": z.gg, "dd": z.dd, "confirmed": z.confirmed,
            });
            if with_text {
                let mut text = vec!["zs"];
                if z.parts > 1 {
                    text.push("combined");
                }
                if !z.confirmed {
                    text.push("provisional");
                }
                v["zstext"] = json!(text.join("/"));
                v["is_nakedeye"] = json!(false);
                v["status"] = json!("ok");
            }
            v
        })
        .collect()
}

fn point(l: &Loaded, s: &engine::Signal) -> Value {
    let (high, low) = l.bar(s.bar).map(|b| (b.high, b.low)).unwrap_or((s.price, s.price));
    json!({
        "dt": l.dt(s.time), "ts": s.time, "high": high, "low": low, "price": s.price,
        "level": match s.level { engine::Level::Stroke => "stroke", engine::Level::Segment => "segment" },
        "label": signal_label(s), "classes": signal_classes(s), "rule": s.rule, "confirmed": s.confirmed,
    })
}

fn unsupported(name: &str, mtype: &str, known: &str) -> ApiError {
    ApiError::bad_request(format!("{name}: unsupported mtype {mtype:?}; use one of {known}"))
}

/// chanvis `/api/bzxd_mark`: stroke and segment marks.
async fn bzxd_mark(State(state): State<AppState>, accepts: Accepts, ApiQuery(p): Params) -> Result<JsonBody, ApiError> {
    const KNOWN: &str = "zzk, kline_dg, xd_dg, xdzs, bspoint";
    let mtype = param(&p, "mtype").unwrap_or("zzk").to_string();
    if !KNOWN.split(", ").any(|k| k == mtype) {
        return Err(unsupported("bzxd_mark", &mtype, KNOWN));
    }
    overlay(&state, accepts, &p, tf(&p)?, move |l| {
        let a = &l.analysis;
        match mtype.as_str() {
            "zzk" => a
                .strokes
                .iter()
                .filter_map(|s| {
                    let b = l.bar(s.end_bar)?;
                    let direction = if s.direction == engine::Direction::Up { "down" } else { "up" };
                    Some(json!({ "dt": l.dt(s.end_time), "ts": s.end_time, "direction": direction,
                    "high": b.high, "low": b.low, "confirmed": s.confirmed }))
                })
                .collect(),
            "kline_dg" => a
                .fractals
                .iter()
                .map(|f| {
                    json!({ "dt": l.dt(f.time), "ts": f.time, "vtype": vtype(f.kind == engine::FractalKind::Top),
                    "value": f.price, "status": if f.confirmed { "ok" } else { "last" } })
                })
                .collect(),
            "xd_dg" => segment_points(l, &a.segments, "status", true),
            "xdzs" => pivot_boxes(l, engine::Level::Stroke, true),
            _ => a
                .signals
                .iter()
                .map(|s| {
                    let mut v = point(l, s);
                    v["bstype"] = json!(if s.side == engine::Side::Buy { "long" } else { "short" });
                    v
                })
                .collect(),
        }
    })
    .await
}

/// chanvis `/api/bzzs_mark`: segment-level marks.
async fn bzzs_mark(State(state): State<AppState>, accepts: Accepts, ApiQuery(p): Params) -> Result<JsonBody, ApiError> {
    const KNOWN: &str = "czxd_dg, bzzs, 3_buysell";
    let mtype = param(&p, "mtype").unwrap_or("czxd_dg").to_string();
    if !KNOWN.split(", ").any(|k| k == mtype) {
        return Err(unsupported("bzzs_mark", &mtype, KNOWN));
    }
    overlay(&state, accepts, &p, tf(&p)?, move |l| {
        let a = &l.analysis;
        match mtype.as_str() {
            "czxd_dg" => segment_points(l, &a.segments_of_segments, "is_valid_czxd", false),
            "bzzs" => pivot_boxes(l, engine::Level::Segment, false),
            _ => a
                .signals
                .iter()
                .filter(|s| s.classes.iter().any(|c| matches!(c, engine::BspClass::T3a | engine::BspClass::T3b)))
                .map(|s| {
                    let mut v = point(l, s);
                    v["3_buysell"] = json!(if s.side == engine::Side::Buy { "buy" } else { "sell" });
                    v
                })
                .collect(),
        }
    })
    .await
}

/// chanvis `/api/get_bspoint`: every buy/sell point.
async fn get_bspoint(
    State(state): State<AppState>,
    accepts: Accepts,
    ApiQuery(p): Params,
) -> Result<JsonBody, ApiError> {
    let res = resolution(param(&p, "resolution"), "resolution")?;
    overlay(&state, accepts, &p, res, |l| {
        l.analysis
            .signals
            .iter()
            .map(|s| {
                let mut v = point(l, s);
                v["bs_type"] = json!(signal_label(s));
                v
            })
            .collect()
    })
    .await
}

/// The higher level chanvis's `fx_jibie` names, for `res`.
fn upper(res: Resolution, jibie: &str) -> Option<Resolution> {
    let r = match (jibie, res.as_udf().as_str()) {
        ("father", "1") => "5",
        ("father", "5") => "30",
        ("father", "15") => "60",
        ("father", "30" | "60") => "1D",
        ("father", "1D") => "1W",
        ("father", "1W") => "1M",
        ("grandpa", "1" | "5") => "1D",
        ("grandpa", "15" | "30" | "60") => "1W",
        ("grandpa", "1D") => "1M",
        _ => return None,
    };
    Resolution::parse(r).ok()
}

/// chanvis `/api/get_upper_fx`: the fractals of a higher level, as zones to draw on this one.
async fn get_upper_fx(
    State(state): State<AppState>,
    accepts: Accepts,
    ApiQuery(p): Params,
) -> Result<JsonBody, ApiError> {
    let res = resolution(param(&p, "resolution"), "resolution")?;
    let jibie = param(&p, "fx_jibie").unwrap_or("father");
    if !["father", "grandpa"].contains(&jibie) {
        return Err(ApiError::bad_request(format!("unknown fx_jibie {jibie:?}; use father or grandpa")));
    }
    let higher = upper(res, jibie).ok_or_else(|| {
        ApiError::bad_request(format!("{} has no {jibie} level; use a finer resolution", res.as_udf()))
    })?;
    overlay(&state, accepts, &p, higher, move |l| {
        let m = &l.analysis.merged_bars;
        l.analysis
            .fractals
            .iter()
            .filter_map(|f| {
                let i = f.merged_index;
                let (before, after) = (m.get(i.checked_sub(1)?)?, m.get(i + 1)?);
                let zone = [before, m.get(i)?, after];
                let high = zone.iter().map(|k| k.high).fold(f64::MIN, f64::max);
                let low = zone.iter().map(|k| k.low).fold(f64::MAX, f64::min);
                Some(json!({
                    "start_dt": l.dt(before.begin_time), "end_dt": l.dt(after.end_time),
                    "start_ts": before.begin_time, "end_ts": after.end_time,
                    "high": high, "low": low,
                    "fx": if f.kind == engine::FractalKind::Top { "top" } else { "bottom" },
                    "resolution": higher.as_udf(),
                }))
            })
            .collect()
    })
    .await
}
