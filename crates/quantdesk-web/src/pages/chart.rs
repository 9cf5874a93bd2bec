//! `/chart/{symbol}`: the chart page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use quantdesk_app::market::parse_symbol;
use quantdesk_core::{Adjustment, Resolution};
use quantdesk_server::AppState;
use serde::Deserialize;

use super::{PageCtx, ReqLang, error_page, html, json_island};

#[derive(Template)]
#[template(path = "chart.html")]
struct ChartPage {
    page: PageCtx,
    w: &'static crate::i18n::WatchStrings,
    symbol: String,
    name: String,
    resolution: String,
    adjustment: String,
    resolutions: Vec<&'static str>,
    config_json: String,
    history_url: String,
}

/// Bars per chart request; must match `PAGE` in chart.js.
const CHART_PAGE: u32 = 2000;

#[derive(Deserialize)]
pub struct ChartParams {
    res: Option<String>,
    adj: Option<String>,
}

/// `/chart/{symbol}?res=1D&adj=qfq`.
pub async fn chart(
    State(state): State<AppState>,
    lang: ReqLang,
    Path(raw): Path<String>,
    Query(p): Query<ChartParams>,
) -> Response {
    let t = lang.lang.strings();
    let not_found = || error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.unknown_symbol);
    let Ok(symbol) = parse_symbol(&raw) else { return not_found() };
    let meta = match state.symbol_meta(&symbol).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "chart page failed");
            return error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text);
        }
    };
    let has_intraday = meta.series.iter().any(|s| s.resolution.is_intraday());
    let resolutions: Vec<&'static str> =
        if has_intraday { vec!["1", "5", "15", "30", "60", "1D", "1W", "1M"] } else { vec!["1D", "1W", "1M"] };
    let resolution = p.res.as_deref().and_then(|r| Resolution::parse(r).ok()).unwrap_or(Resolution::Day).as_udf();
    let resolution = if resolutions.contains(&resolution.as_str()) { resolution } else { "1D".to_string() };
    let adjustment = p.adj.as_deref().and_then(|a| Adjustment::parse(a).ok()).unwrap_or_default().as_str().to_string();
    let i = &meta.instrument;
    // The first history request, fixed here so the page can preload it: the end of the next UTC day.
    let initial_to = (quantdesk_app::clock::now_secs().max(0) as u64 / 86_400 + 2) * 86_400;
    let history_url = format!(
        "/udf/history?symbol={}&resolution={}&to={initial_to}&countback={CHART_PAGE}&adjustment={adjustment}",
        i.symbol, resolution
    );
    let config = serde_json::json!({
        "initialTo": initial_to,
        "symbol": i.symbol.as_str(),
        "name": i.name,
        "resolution": resolution,
        "adjustment": adjustment,
        "resolutions": resolutions,
        "pricescale": i.pricescale(),
        "session": i.session.to_string(),
        "timezone": i.timezone,
        "lang": lang.lang.tag(),
        "strings": {
            "open": t.open, "high": t.high, "low": t.low, "close": t.close,
            "change": t.change, "volume": t.volume, "last": t.last_price,
            "quoteSources": { "stored": t.quote_stored, "tushare": "TuShare", "eastmoney": t.quote_eastmoney, "yahoo": t.quote_yahoo }, "loading": t.loading, "noData": t.no_data,
            "limitUp": t.limit_up, "limitDown": t.limit_down,
            "chanLoading": t.chan_loading, "chanError": t.chan_error, "chanSummary": t.chan_summary,
            "chanStroke": t.chan_stroke, "chanSegment": t.chan_segment, "chanPivot": t.chan_pivot,
            "chanStrokeLevel": t.chan_stroke_level, "chanSegmentLevel": t.chan_segment_level,
            "chanHigherLevel": t.chan_higher_level, "chanForming": t.chan_forming, "chanTop": t.chan_top,
            "chanBottom": t.chan_bottom, "chanUp": t.chan_up, "chanDown": t.chan_down,
            "chanNoHigher": t.chan_no_higher,
            "replayPlay": t.replay_play, "replayPause": t.replay_pause, "replayStatus": t.replay_status,
        },
    });
    // The regime layer's strings (a second object: one json! of them all is too deep for the macro).
    let regime = serde_json::json!({
        "regimeLoading": t.regime_loading, "regimeError": t.regime_error, "regimeState": t.regime_state,
        "regimeExPost": t.regime_ex_post, "regimeCausal": t.regime_causal, "regimeStats": t.regime_stats,
        "regimeNames3": t.regime_names3,
        "indBadInt": t.ind_bad_int, "indBadNumber": t.ind_bad_number, "indBadList": t.ind_bad_list,
    });
    // The watchlist panel's and the compare control's strings.
    let w = lang.lang.watch();
    let watch = serde_json::json!({
        "watchDefault": w.default_name, "watchEmpty": w.empty, "watchRemove": w.remove, "watchFailed": w.n_failed,
        "watchFull": w.n_full, "watchDuplicate": w.n_duplicate, "watchAdded": w.n_added, "watchRemoved": w.n_removed,
        "compareNone": w.compare_none, "compareMax": w.compare_max, "compareRemove": w.remove,
    });
    let mut config = config;
    for more in [regime, watch] {
        if let (Some(strings), serde_json::Value::Object(more)) = (config["strings"].as_object_mut(), more) {
            strings.extend(more);
        }
    }
    // `</` cannot appear inside the JSON island.
    let config_json = json_island(&config);
    html(
        StatusCode::OK,
        ChartPage {
            page: lang.ctx("charts"),
            w: lang.lang.watch(),
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            resolution,
            adjustment,
            resolutions,
            config_json,
            history_url,
        }
        .render(),
    )
}
