//! Page handlers: render templates with the request's language.

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use quantdesk_core::{Adjustment, Resolution};
use quantdesk_server::AppState;
use quantdesk_server::auth::Principal;
use quantdesk_server::market::parse_symbol;
use quantdesk_store::InstrumentQuery;
use serde::Deserialize;

use crate::assets::asset_url;
use crate::i18n::{Lang, Strings};

/// What every page needs: language, strings, the active navigation item, the current path.
pub struct PageCtx {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub t: &'static Strings,
    pub active: &'static str,
    pub path: String,
    /// The signed-in user's e-mail address; empty on the public pages.
    pub user: String,
    /// Whether to show the administration link.
    pub admin: bool,
    /// The session's CSRF token, for forms (`csrf` field) and scripts (`X-CSRF-Token`).
    pub csrf: String,
}

impl PageCtx {
    pub fn asset(&self, path: &str) -> String {
        asset_url(path)
    }
}

/// The request's language (the `lang` cookie, else `Accept-Language`) and who is asking.
pub struct ReqLang {
    pub lang: Lang,
    pub path: String,
    /// The signed-in caller; the access guard lets only public pages through without one.
    pub who: Option<Principal>,
}

impl<S: Send + Sync> FromRequestParts<S> for ReqLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ReqLang {
            lang: lang_of(&parts.headers),
            path: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
            who: parts.extensions.get::<Principal>().cloned(),
        })
    }
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("lang=").and_then(Lang::from_tag));
    from_cookie.unwrap_or_else(|| {
        Lang::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
    })
}

impl ReqLang {
    pub fn ctx(&self, active: &'static str) -> PageCtx {
        PageCtx {
            lang: self.lang.tag(),
            other_lang: self.lang.other().tag(),
            t: self.lang.strings(),
            active,
            path: self.path.clone(),
            user: self.who.as_ref().map(|p| p.email.clone()).unwrap_or_default(),
            admin: self.who.as_ref().is_some_and(|p| p.is_admin()),
            csrf: self.who.as_ref().and_then(|p| p.csrf()).unwrap_or_default().to_string(),
        }
    }

    /// Whether the caller may see an object owned by `owner`.
    pub fn sees(&self, owner: &str) -> bool {
        self.who.as_ref().is_some_and(|p| p.sees(owner))
    }

    /// The owner to filter lists by: the caller, or nobody for admins.
    pub fn owner_filter(&self) -> Option<String> {
        match &self.who {
            Some(p) if p.is_admin() => None,
            Some(p) => Some(p.owner()),
            // Not reachable through the guard; match no owner at all.
            None => Some("-".into()),
        }
    }
}

/// Renders a template as an HTML page with the page headers; a template failure becomes a
/// readable error page, never a stack trace.
pub fn html(status: StatusCode, rendered: askama::Result<String>) -> Response {
    let body = match rendered {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>Error</title><h1>Something went wrong</h1><p>The page could not be shown. The problem has been logged.</p>")).into_response();
        }
    };
    let mut res = (status, Html(body)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie, HX-Request"));
    res
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: PageCtx,
    title: &'static str,
    text: &'static str,
}

/// A readable error page.
pub fn error_page(lang: &ReqLang, status: StatusCode, title: &'static str, text: &'static str) -> Response {
    html(status, ErrorPage { page: lang.ctx(""), title, text }.render())
}

/// `/` and `/chart`: the chart of the symbol with the most stored bars.
pub async fn home(State(state): State<AppState>, lang: ReqLang) -> Response {
    match state.store.busiest_symbol().await {
        Ok(Some(s)) => Redirect::to(&format!("/chart/{s}")).into_response(),
        Ok(None) => Redirect::to("/import").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "home page failed");
            error_page(
                &lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.lang.strings().error_title,
                lang.lang.strings().error_text,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "chart.html")]
struct ChartPage {
    page: PageCtx,
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
    let initial_to =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) / 86_400
            + 2)
            * 86_400;
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
            "change": t.change, "volume": t.volume, "loading": t.loading, "noData": t.no_data,
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
    // `</` cannot appear inside the JSON island.
    let config_json = json_island(&config);
    html(
        StatusCode::OK,
        ChartPage {
            page: lang.ctx("charts"),
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

/// One row of the instruments table.
pub struct Row {
    pub symbol: String,
    pub name: String,
    pub kind: &'static str,
    pub exchange: String,
    pub board: String,
    pub list_date: String,
}

/// One page of the instruments table, shared by the full page and the htmx partial.
pub struct Results {
    pub items: Vec<Row>,
    pub total: u64,
    pub page_no: u64,
    pub pages: u64,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "instruments.html")]
struct InstrumentsPage {
    page: PageCtx,
    q: String,
    kind: String,
    exchange: String,
    board: String,
    listed_from: String,
    listed_to: String,
    kinds: Vec<&'static str>,
    exchanges: Vec<&'static str>,
    boards: Vec<&'static str>,
    results: Results,
}

#[derive(Template)]
#[template(path = "instruments_partial.html")]
struct InstrumentsPartial {
    page: PageCtx,
    results: Results,
}

#[derive(Deserialize, Default)]
pub struct InstrumentParams {
    q: Option<String>,
    kind: Option<String>,
    exchange: Option<String>,
    board: Option<String>,
    listed_from: Option<String>,
    listed_to: Option<String>,
    page: Option<u64>,
}

const PAGE_SIZE: u64 = 50;

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", quantdesk_server::percent_encode(v, b"")))
        .collect::<Vec<_>>()
        .join("&")
}

/// `/instruments`: the full page, or just the results when htmx asks.
pub async fn instruments(
    State(state): State<AppState>,
    lang: ReqLang,
    headers: HeaderMap,
    Query(p): Query<InstrumentParams>,
) -> Response {
    let t = lang.lang.strings();
    let clean = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    let (q, kind, exchange, board) = (clean(&p.q), clean(&p.kind), clean(&p.exchange), clean(&p.board));
    // Dates that do not parse are ignored rather than refused: this is a filter form.
    let date = |v: &Option<String>| v.as_deref().and_then(|d| d.trim().parse::<chrono::NaiveDate>().ok());
    let (listed_from, listed_to) = (date(&p.listed_from), date(&p.listed_to));
    let page_no = p.page.unwrap_or(1).max(1);
    let query = InstrumentQuery {
        text: Some(q.clone()).filter(|s| !s.is_empty()),
        kind: Some(kind.clone()).filter(|s| !s.is_empty()),
        exchange: Some(exchange.clone()).filter(|s| !s.is_empty()),
        board: Some(board.clone()).filter(|s| !s.is_empty()),
        listed_from,
        listed_to,
        limit: PAGE_SIZE as u32,
        offset: u32::try_from((page_no - 1) * PAGE_SIZE).unwrap_or(u32::MAX),
    };
    let (items, total) = match (state.store.list_instruments(&query).await, state.store.count_instruments(&query).await)
    {
        (Ok(i), Ok(n)) => (i, n),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "instruments page failed");
            return error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text);
        }
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let (from_text, to_text) =
        (listed_from.map(|d| d.to_string()).unwrap_or_default(), listed_to.map(|d| d.to_string()).unwrap_or_default());
    let link = |n: u64| {
        let n = n.to_string();
        let pairs = [
            ("q", q.as_str()),
            ("kind", &kind),
            ("exchange", &exchange),
            ("board", &board),
            ("listed_from", &from_text),
            ("listed_to", &to_text),
            ("page", &n),
        ];
        format!("/instruments?{}", query_string(&pairs))
    };
    let prev_url = (page_no > 1).then(|| link(page_no - 1));
    let next_url = (page_no < pages).then(|| link(page_no + 1));
    let rows: Vec<Row> = items
        .iter()
        .map(|i| Row {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            kind: i.kind.as_str(),
            exchange: i.exchange.clone(),
            board: i.board.clone(),
            list_date: i.list_date.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    let results = Results { items: rows, total, page_no, pages, prev_url, next_url };
    let partial = headers.get("hx-request").is_some() && headers.get("hx-boosted").is_none();
    if partial {
        return html(StatusCode::OK, InstrumentsPartial { page: lang.ctx("instruments"), results }.render());
    }
    html(
        StatusCode::OK,
        InstrumentsPage {
            page: lang.ctx("instruments"),
            q,
            kind,
            exchange,
            board,
            listed_from: from_text,
            listed_to: to_text,
            kinds: vec!["stock", "index", "etf", "fund", "bond", "future", "crypto", "other"],
            exchanges: vec!["SSE", "SZSE", "BSE", "OTHER"],
            boards: vec!["main", "chinext", "star", "bse"],
            results,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    page: PageCtx,
    config_json: String,
}

/// `/import`.
pub async fn import_page(lang: ReqLang) -> Response {
    let t = lang.lang.strings();
    let config = serde_json::json!({
        "strings": {
            "columnNone": t.column_none, "symbolColumn": t.symbol_column, "done": t.import_done,
            "failed": t.import_failed, "rows": t.rows, "bars": t.bars,
        }
    });
    html(StatusCode::OK, ImportPage { page: lang.ctx("import"), config_json: json_island(&config) }.render())
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// `/lang/{tag}?next=/path`: remembers the language in a cookie and goes back.
pub async fn set_lang(req: ReqLang, Path(tag): Path<String>, Query(p): Query<NextParam>) -> Response {
    let lang = Lang::from_tag(&tag).unwrap_or(Lang::En);
    // Only local paths: never an open redirect.
    let next = match crate::account::local_path(p.next.as_deref(), "/") {
        Ok(n) => n,
        Err(e) => return e.page(&req),
    };
    let mut res = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.tag())) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// Unknown paths: JSON for API clients, a readable page for people.
pub async fn fallback(lang: ReqLang, headers: HeaderMap) -> Response {
    let api = lang.path.starts_with("/api/") || lang.path.starts_with("/udf/");
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if api || !wants_html {
        return quantdesk_server::api::not_found().await.into_response();
    }
    let t = lang.lang.strings();
    error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.not_found_text)
}

/// A job row on the jobs pages.
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: &'static str,
    pub done: i64,
    pub total: i64,
    pub message: String,
    pub created: String,
    pub can_cancel: bool,
    pub can_retry: bool,
    pub can_delete: bool,
}

impl From<&quantdesk_store::jobs::Job> for JobRow {
    fn from(j: &quantdesk_store::jobs::Job) -> Self {
        use quantdesk_store::jobs::JobState;
        JobRow {
            id: j.id,
            kind: j.kind.clone(),
            state: j.state.as_str(),
            done: j.progress_done,
            total: j.progress_total.max(1),
            message: j.progress_message.clone(),
            created: chrono::DateTime::from_timestamp_millis(j.created_at)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            can_cancel: !j.state.is_final(),
            can_retry: matches!(j.state, JobState::Failed | JobState::Cancelled),
            can_delete: j.state.is_final(),
        }
    }
}

/// A schedule row on the jobs page.
pub struct ScheduleRow {
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub kind: String,
    pub enabled: bool,
    pub last: String,
    /// What the page sends back when switching it on or off.
    pub json: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    page: PageCtx,
    schedules: Vec<ScheduleRow>,
    jobs: Vec<JobRow>,
    states: Vec<&'static str>,
    state: String,
}

#[derive(Deserialize)]
pub struct JobsParams {
    state: Option<String>,
}

/// `/jobs`: the latest 100 jobs, live.
pub async fn jobs(State(state): State<AppState>, lang: ReqLang, Query(p): Query<JobsParams>) -> Response {
    let t = lang.lang.strings();
    let filter_state = p.state.as_deref().and_then(quantdesk_store::jobs::JobState::parse);
    let filter = quantdesk_store::jobs::JobFilter {
        state: filter_state,
        owner: lang.owner_filter(),
        limit: 100,
        ..Default::default()
    };
    let found = async {
        let schedules = state.store.schedules().await?.into_iter().filter(|s| lang.sees(&s.owner)).collect::<Vec<_>>();
        Ok::<_, quantdesk_store::StoreError>((state.store.list_jobs(&filter).await?, schedules))
    }
    .await;
    match found {
        Ok((list, schedules)) => html(
            StatusCode::OK,
            JobsPage {
                page: lang.ctx("jobs"),
                schedules: schedules
                    .iter()
                    .map(|s| ScheduleRow {
                        name: s.name.clone(),
                        cron: s.cron.clone(),
                        timezone: s.timezone.clone(),
                        kind: s.kind.clone(),
                        enabled: s.enabled,
                        last: s
                            .last_fire
                            .and_then(chrono::DateTime::from_timestamp_millis)
                            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_else(|| "—".into()),
                        json: serde_json::json!({
                            "cron": s.cron, "timezone": s.timezone, "kind": s.kind,
                            "params": serde_json::from_str::<serde_json::Value>(&s.params).unwrap_or_default(),
                            "enabled": s.enabled, "catch_up": s.catch_up,
                        })
                        .to_string(),
                    })
                    .collect(),
                jobs: list.iter().map(JobRow::from).collect(),
                states: vec!["queued", "running", "succeeded", "failed", "cancelled"],
                state: filter_state.map(|s| s.as_str().to_string()).unwrap_or_default(),
            }
            .render(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "jobs page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    page: PageCtx,
    job: JobRow,
    error: Option<String>,
    result: Option<String>,
    /// (name, url)
    artifacts: Vec<(String, String)>,
    log: Vec<String>,
}

/// `/jobs/{id}`: one job with its result, files and log.
pub async fn job(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    let found = async {
        let Some(job) = state.store.job(id).await?.filter(|j| lang.sees(&j.owner)) else { return Ok(None) };
        let logs = state.store.job_logs(id, 200).await?;
        let artifacts = state.store.artifacts(id).await?;
        Ok::<_, quantdesk_store::StoreError>(Some((job, logs, artifacts)))
    }
    .await;
    match found {
        Ok(Some((job, logs, artifacts))) => {
            let result = job
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                .and_then(|v| serde_json::to_string_pretty(&v).ok());
            html(
                StatusCode::OK,
                JobPage {
                    page: lang.ctx("jobs"),
                    error: job.error.clone(),
                    result,
                    artifacts: artifacts
                        .into_iter()
                        .map(|(n, _, _)| (n.clone(), format!("/api/v1/jobs/{id}/artifacts/{n}")))
                        .collect(),
                    log: logs
                        .into_iter()
                        .map(|(at, line)| {
                            let when = chrono::DateTime::from_timestamp_millis(at)
                                .map(|d| d.format("%H:%M:%S").to_string())
                                .unwrap_or_default();
                            format!("{when}  {line}")
                        })
                        .collect(),
                    job: JobRow::from(&job),
                }
                .render(),
            )
        }
        Ok(None) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "job page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}

/// A run in the list of recent backtests.
pub struct RunRow {
    pub id: i64,
    pub state: &'static str,
    pub symbols: String,
    pub strategy: String,
    pub total_return: String,
    pub sharpe: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "backtests.html")]
struct BacktestsPage {
    page: PageCtx,
    strategies: Vec<&'static str>,
    default_symbol: String,
    runs: Vec<RunRow>,
}

/// `/backtests`: the form that starts a backtest job, and the recent runs.
/// The caller's latest 50 jobs of `kind` (only those in `state` when given), and the symbol a
/// form should offer first; an error page when the store fails.
async fn recent_runs(
    state: &AppState,
    lang: &ReqLang,
    kind: &str,
    job_state: Option<quantdesk_store::jobs::JobState>,
) -> Result<(Vec<quantdesk_store::jobs::Job>, Option<quantdesk_core::Symbol>), Response> {
    let filter = quantdesk_store::jobs::JobFilter {
        kind: Some(kind.into()),
        owner: lang.owner_filter(),
        state: job_state,
        limit: 50,
        ..Default::default()
    };
    let found = async {
        Ok::<_, quantdesk_store::StoreError>((
            state.store.list_jobs(&filter).await?,
            state.store.busiest_symbol().await?,
        ))
    }
    .await;
    found.map_err(|e| {
        tracing::error!(error = %e, kind, "a runs page failed");
        let t = lang.lang.strings();
        error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
    })
}

pub async fn backtests(State(state): State<AppState>, lang: ReqLang) -> Response {
    let (jobs, busiest) = match recent_runs(&state, &lang, "backtest", None).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let runs = jobs
        .iter()
        .map(|j| {
            let params: serde_json::Value = serde_json::from_str(&j.params).unwrap_or_default();
            let result: serde_json::Value =
                j.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
            let num = |v: &serde_json::Value, scale: f64, digits: usize| {
                v.as_f64().map(|x| format!("{:.*}", digits, x * scale)).unwrap_or_default()
            };
            RunRow {
                id: j.id,
                state: j.state.as_str(),
                symbols: params["symbols"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
                strategy: params["strategy"].as_str().unwrap_or("sma_cross").to_string(),
                total_return: num(&result["metrics"]["total_return"], 100.0, 2),
                sharpe: num(&result["metrics"]["sharpe"], 1.0, 3),
                created: JobRow::from(j).created,
            }
        })
        .collect();
    html(
        StatusCode::OK,
        BacktestsPage {
            page: lang.ctx("backtests"),
            strategies: vec!["sma_cross", "macd", "rsi", "bollinger", "voting", "buy_and_hold"],
            default_symbol: busiest.map(|s| s.to_string()).unwrap_or_default(),
            runs,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "sweep.html")]
struct SweepPage {
    page: PageCtx,
    id: i64,
    metric: String,
    config_json: String,
}

/// `/sweeps/{id}`: a finished sweep's runs as a sortable table and a heat map of a metric over two
/// parameters (drawn by sweep.js from the job's `sweep.json`).
pub async fn sweep(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    match state.store.job(id).await {
        Ok(Some(job))
            if job.kind == "sweep"
                && lang.sees(&job.owner)
                && job.state == quantdesk_store::jobs::JobState::Succeeded =>
        {
            let params: serde_json::Value = serde_json::from_str(&job.params).unwrap_or_default();
            let config = serde_json::json!({
                "strings": {
                    "finalEquity": t.bt_final_equity, "totalReturn": t.bt_return, "maxDrawdown": t.bt_max_drawdown,
                    "trades": t.bt_trades, "winRate": t.bt_win_rate,
                }
            });
            html(
                StatusCode::OK,
                SweepPage {
                    page: lang.ctx("jobs"),
                    id,
                    metric: params["metric"].as_str().unwrap_or("sharpe").to_string(),
                    config_json: json_island(&config),
                }
                .render(),
            )
        }
        Ok(_) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "sweep page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}

/// One decision on the decisions page.
pub struct DecisionRow {
    pub job: i64,
    pub symbol: String,
    pub date: String,
    /// BUY, SELL or HOLD.
    pub action: String,
    /// `up`, `down` or empty: the colour class of the action.
    pub class: &'static str,
    pub score: String,
    pub risk: String,
    pub votes: String,
}

#[derive(Template)]
#[template(path = "decisions.html")]
struct DecisionsPage {
    page: PageCtx,
    latest: Vec<DecisionRow>,
    history: Vec<DecisionRow>,
    default_symbols: String,
}

/// `/decisions`: the voting engine's latest BUY/SELL/HOLD per symbol with every model's vote, and
/// the history of earlier runs (each `decide` job's result, newest first).
pub async fn decisions(State(state): State<AppState>, lang: ReqLang) -> Response {
    let (jobs, busiest) =
        match recent_runs(&state, &lang, "decide", Some(quantdesk_store::jobs::JobState::Succeeded)).await {
            Ok(x) => x,
            Err(page) => return page,
        };
    let mut history = Vec::new();
    for j in &jobs {
        let result: serde_json::Value =
            j.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
        for d in result["decisions"].as_array().into_iter().flatten() {
            let action = d["decision"]["action"].as_str().unwrap_or("HOLD").to_string();
            let votes = d["decision"]["votes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    format!(
                        "{}: {} {:.2}",
                        v["model"].as_str().unwrap_or("?"),
                        v["action"].as_str().unwrap_or("?"),
                        v["confidence"].as_f64().unwrap_or(0.0)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            history.push(DecisionRow {
                job: j.id,
                symbol: d["symbol"].as_str().unwrap_or("").to_string(),
                date: d["date"].as_str().unwrap_or("").to_string(),
                class: match action.as_str() {
                    "BUY" => "up",
                    "SELL" => "down",
                    _ => "",
                },
                action,
                score: d["decision"]["score"].as_f64().map(|x| format!("{x:.2}")).unwrap_or_default(),
                risk: d["risk_level"].as_str().map(str::to_string).unwrap_or_else(|| d["risk_level"].to_string()),
                votes,
            });
        }
    }
    // The newest run's answer per symbol (jobs come newest first).
    let mut latest: Vec<DecisionRow> = Vec::new();
    for row in &history {
        if !latest.iter().any(|r| r.symbol == row.symbol) {
            latest.push(DecisionRow {
                job: row.job,
                symbol: row.symbol.clone(),
                date: row.date.clone(),
                action: row.action.clone(),
                class: row.class,
                score: row.score.clone(),
                risk: row.risk.clone(),
                votes: row.votes.clone(),
            });
        }
    }
    latest.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let default_symbols = latest.iter().map(|r| r.symbol.clone()).collect::<Vec<_>>().join(", ");
    let default_symbols =
        if default_symbols.is_empty() { busiest.map(|s| s.to_string()).unwrap_or_default() } else { default_symbols };
    html(StatusCode::OK, DecisionsPage { page: lang.ctx("decisions"), latest, history, default_symbols }.render())
}

/// One row of the comparison: a label and one cell per run, the best marked.
pub struct CompareRow {
    pub label: String,
    pub cells: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    page: PageCtx,
    ids: Vec<i64>,
    rows: Vec<CompareRow>,
}

/// The most runs one comparison shows.
const COMPARE_MAX: usize = 6;

/// `/backtests/compare?ids=1&ids=2` (or `ids=1,2`): finished runs side by side: their settings,
/// every metric with the best marked, and (drawn by compare.js) their equity rebased to 100.
/// Runs that are not the caller's, not backtests or not finished are left out.
pub async fn compare_backtests(
    State(state): State<AppState>,
    lang: ReqLang,
    axum::extract::Query(pairs): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let t = lang.lang.strings();
    let mut ids: Vec<i64> = Vec::new();
    for (k, v) in pairs {
        if k == "ids" {
            for id in v.split(',').filter_map(|s| s.trim().parse::<i64>().ok()) {
                if !ids.contains(&id) && ids.len() < COMPARE_MAX {
                    ids.push(id);
                }
            }
        }
    }
    let mut runs = Vec::new();
    for id in ids {
        match state.store.job(id).await {
            Ok(Some(j))
                if j.kind == "backtest"
                    && lang.sees(&j.owner)
                    && j.state == quantdesk_store::jobs::JobState::Succeeded =>
            {
                runs.push(j)
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "compare page failed");
                return error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text);
            }
        }
    }
    let parsed: Vec<(serde_json::Value, serde_json::Value)> = runs
        .iter()
        .map(|j| {
            (
                serde_json::from_str(&j.params).unwrap_or_default(),
                j.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default(),
            )
        })
        .collect();
    let text_row = |label: &str, f: &dyn Fn(&serde_json::Value) -> String| CompareRow {
        label: label.to_string(),
        cells: parsed.iter().map(|(p, _)| (f(p), false)).collect(),
    };
    let mut rows = vec![
        text_row(t.symbol, &|p| {
            p["symbols"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        }),
        text_row(t.bt_strategy, &|p| p["strategy"].as_str().unwrap_or("sma_cross").to_string()),
        text_row(t.bt_params, &|p| {
            p["params"]
                .as_object()
                .map(|o| o.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        }),
        text_row(t.bt_market, &|p| p["config"]["market"]["profile"].as_str().unwrap_or("generic").to_string()),
    ];
    // (label, path into the result, scale, digits, larger is better)
    let metrics: [(&str, &[&str], f64, usize, bool); 12] = [
        (t.bt_final_equity, &["final_equity"], 1.0, 2, true),
        (t.bt_return, &["metrics", "total_return"], 100.0, 2, true),
        ("CAGR %", &["metrics", "cagr"], 100.0, 2, true),
        ("Sharpe", &["metrics", "sharpe"], 1.0, 3, true),
        ("Sortino", &["metrics", "sortino"], 1.0, 3, true),
        ("Calmar", &["metrics", "calmar"], 1.0, 3, true),
        (t.bt_max_drawdown, &["metrics", "max_drawdown", "depth"], 100.0, 2, true),
        ("Volatility %", &["metrics", "annual_volatility"], 100.0, 2, false),
        (t.bt_trades, &["metrics", "trades"], 1.0, 0, true),
        (t.bt_win_rate, &["metrics", "win_rate"], 100.0, 1, true),
        ("Profit factor", &["metrics", "profit_factor"], 1.0, 3, true),
        ("Exposure %", &["metrics", "exposure"], 100.0, 1, false),
    ];
    for (label, path, scale, digits, larger_better) in metrics {
        let values: Vec<Option<f64>> =
            parsed.iter().map(|(_, r)| path.iter().fold(r, |v, k| &v[*k]).as_f64().filter(|x| x.is_finite())).collect();
        let best = values.iter().flatten().copied().reduce(|a, b| if (b > a) == larger_better { b } else { a });
        // Trades count has no better direction: mark nothing.
        let mark = label != t.bt_trades && values.iter().flatten().count() > 1;
        rows.push(CompareRow {
            label: label.to_string(),
            cells: values
                .iter()
                .map(|v| match v {
                    Some(x) => (format!("{:.*}", digits, x * scale), mark && Some(*x) == best),
                    None => ("—".to_string(), false),
                })
                .collect(),
        });
    }
    html(
        StatusCode::OK,
        ComparePage { page: lang.ctx("backtests"), ids: runs.iter().map(|j| j.id).collect(), rows }.render(),
    )
}

#[derive(Template)]
#[template(path = "backtest.html")]
struct BacktestPage {
    page: PageCtx,
    id: i64,
    state: &'static str,
    config_json: String,
}

/// `/backtests/{id}`: a run's progress, then its equity, drawdown, metrics and trades.
pub async fn backtest(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    match state.store.job(id).await {
        Ok(Some(job)) if job.kind == "backtest" && lang.sees(&job.owner) => {
            let config = serde_json::json!({
                "strings": {
                    "finalEquity": t.bt_final_equity, "totalReturn": t.bt_return, "maxDrawdown": t.bt_max_drawdown,
                    "benchmark": t.bt_benchmark, "monthly": t.bt_monthly,
                    "trades": t.bt_trades, "winRate": t.bt_win_rate, "tradeColumns": t.bt_trade_columns,
                }
            });
            html(
                StatusCode::OK,
                BacktestPage {
                    page: lang.ctx("backtests"),
                    id,
                    state: job.state.as_str(),
                    config_json: json_island(&config),
                }
                .render(),
            )
        }
        Ok(_) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "backtest page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}

/// JSON for a `<script type="application/json">` island. `<`, `>` and `&` become `\u003c`,
/// `\u003e` and `\u0026` (they can only occur inside strings, where JSON reads the escape as the
/// same character), so no value can close the script element (`</script>`) or switch the HTML
/// parser into its double-escaped state (`<!--<script>`), which would swallow the rest of the page.
pub(crate) fn json_island(value: &serde_json::Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_islands_cannot_close_their_script_element() {
        let v = serde_json::json!({ "s": "</script><script>alert(1)</script>", "t": "</script><!--<script>x & y >" });
        let island = super::json_island(&v);
        assert!(!island.contains("</"));
        assert!(!island.contains('<') && !island.contains('>') && !island.contains('&'), "{island}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&island).unwrap(), v, "still the same JSON");
    }
}
