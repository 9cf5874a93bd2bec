//! `/data`: the outside sources and their standing, a sync form, quality checks and the stored
//! financial statements. The sources table is rendered here from the same function as
//! `GET /api/v1/sources`; the rest is `data.js` over the data API.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use quantdesk_app::accounts::Scope;
use quantdesk_server::AppState;

use super::{PageCtx, ReqLang, error_page, html, json_island};
use crate::i18n::{DataStrings, Lang, Unit, key_fields};

/// One row of the sources table.
pub struct SourceRow {
    pub id: String,
    pub name: &'static str,
    pub configured: bool,
    pub configured_text: String,
    pub url: String,
    pub rate: String,
    pub calls_today: u64,
    pub last_success: String,
    pub last_error_at: String,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "data.html")]
struct DataPage {
    page: PageCtx,
    d: &'static DataStrings,
    sources: Vec<SourceRow>,
    tushare_hint: bool,
    can_sync: bool,
    /// (value, label) of the sync form's and the statement viewer's selects.
    whats: Vec<(&'static str, &'static str)>,
    source_choices: Vec<(&'static str, &'static str)>,
    statements: Vec<(&'static str, &'static str)>,
    config_json: String,
}

/// An RFC 3339 instant of the API as people read times on the pages ([`super::local_time`]).
fn shown(iso: Option<&str>, never: &str, lang: Lang) -> String {
    iso.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| super::local_time(d.timestamp_millis(), lang))
        .unwrap_or_else(|| never.to_string())
}

fn source_name(d: &'static DataStrings, id: &str) -> &'static str {
    match id {
        "tushare" => d.src_tushare,
        "eastmoney" => d.src_eastmoney,
        "yahoo" => d.src_yahoo,
        _ => "",
    }
}

/// The strings and field labels `data.js` needs, in the page's language.
fn script_config(lang: Lang) -> serde_json::Value {
    let d = lang.data();
    let fields: serde_json::Map<String, serde_json::Value> =
        ["income", "balancesheet", "cashflow", "fina_indicator", "dividend", "daily_basic"]
            .into_iter()
            .map(|st| {
                let list = key_fields(st)
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "field": f.field,
                        "label": if lang == Lang::ZhCn { f.zh } else { f.en },
                        "scale": match f.unit { Unit::Money => 1.0, Unit::TenThousand => 10_000.0, Unit::Plain => 0.0 },
                    })
                })
                .collect::<Vec<_>>();
                (st.to_string(), serde_json::Value::Array(list))
            })
            .collect();
    serde_json::json!({
        "lang": lang.tag(),
        "units": d.units.iter().map(|(n, s)| serde_json::json!([n, s])).collect::<Vec<_>>(),
        "fields": fields,
        "strings": {
            "syncStarted": d.sync_started, "openJob": d.sync_open_job, "detail": d.detail, "loading": d.loading,
            "network": d.err_network, "other": d.err_other,
            "qNone": d.q_none, "qChecked": d.q_checked, "qTruncated": d.q_truncated,
            "sevError": d.sev_error, "sevWarning": d.sev_warning,
            "finNone": d.fin_none, "finItem": d.fin_item, "finAnn": d.fin_ann_date, "finFAnn": d.fin_f_ann_date,
            "finRevisions": d.fin_revisions, "finPeriod": d.fin_period,
        },
        "errors": {
            "invalid_symbol": d.err_invalid_symbol, "invalid_params": d.err_invalid_params,
            "source_not_configured": d.err_source_not_configured, "source_unsupported": d.err_source_unsupported,
            "forbidden": d.err_forbidden, "rate_limited": d.err_rate_limited, "not_found": d.err_not_found,
            "bad_request": d.err_bad_request, "unauthenticated": d.err_unauthenticated,
        },
        "kinds": {
            "gap": d.kind_gap, "closed_day_bar": d.kind_closed_day_bar, "ohlc": d.kind_ohlc,
            "zero_volume": d.kind_zero_volume, "price_jump": d.kind_price_jump, "stale": d.kind_stale,
            "unordered": d.kind_unordered, "statement_missing": d.kind_statement_missing,
        },
    })
}

/// `/data`.
pub async fn data(State(state): State<AppState>, lang: ReqLang) -> Response {
    let t = lang.lang.strings();
    let d = lang.lang.data();
    let dto = match quantdesk_server::data_api::sources_of(&state).await {
        Ok(dto) => dto,
        Err(e) => {
            tracing::error!(code = e.code, error = %e.message, "data page failed");
            return error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text);
        }
    };
    let sources: Vec<SourceRow> = dto
        .items
        .into_iter()
        .map(|s| SourceRow {
            name: source_name(d, &s.name),
            configured: s.configured,
            configured_text: match s.order {
                Some(n) if s.configured => d.src_in_order.replace("{n}", &(n + 1).to_string()),
                _ => d.src_not_configured.to_string(),
            },
            url: s.url,
            rate: if s.calls_per_minute == 0 { d.src_no_limit.to_string() } else { s.calls_per_minute.to_string() },
            calls_today: s.calls_today,
            last_success: shown(s.last_success.as_deref(), d.src_never, lang.lang),
            last_error_at: shown(s.last_error_at.as_deref(), "", lang.lang),
            last_error: s.last_error.unwrap_or_default(),
            id: s.name,
        })
        .collect();
    let tushare_hint = sources.iter().any(|s| s.id == "tushare" && !s.configured)
        && state.config.sources.tushare_token.expose().trim().is_empty();
    let page = DataPage {
        page: lang.ctx("data"),
        d,
        sources,
        tushare_hint,
        can_sync: lang.who.as_ref().is_some_and(|p| p.can(Scope::Jobs)),
        whats: vec![
            ("bars", d.what_bars),
            ("financials", d.what_financials),
            ("instruments", d.what_instruments),
            ("calendar", d.what_calendar),
            ("all", d.what_all),
        ],
        source_choices: vec![
            ("", d.src_any),
            ("tushare", d.src_tushare),
            ("eastmoney", d.src_eastmoney),
            ("yahoo", d.src_yahoo),
        ],
        statements: vec![
            ("income", d.st_income),
            ("balancesheet", d.st_balancesheet),
            ("cashflow", d.st_cashflow),
            ("fina_indicator", d.st_fina_indicator),
            ("dividend", d.st_dividend),
            ("daily_basic", d.st_daily_basic),
        ],
        config_json: json_island(&script_config(lang.lang)),
    };
    html(StatusCode::OK, page.render())
}
