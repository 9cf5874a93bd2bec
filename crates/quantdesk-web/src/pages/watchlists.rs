//! `/watchlists`: the caller's watchlists with each symbol's last price, change and latest voting
//! decision, and the forms that change them (post/redirect/get, with the session's CSRF token).
//! The rules are `quantdesk_app::watchlists`'s, the same as the API's.
//!
//! The "latest report per symbol" column is left out: reports do not exist yet (a line
//! on the page says where it will be).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use quantdesk_app::AppError;
use quantdesk_app::watchlists::{WatchItemInput, WatchlistDetail, WatchlistName};
use quantdesk_server::AppState;
use serde::Deserialize;

use super::decisions::{DecisionRow, history_of, latest_of};
use super::{PageCtx, ReqLang, error_page, html, local_time};
use crate::i18n::WatchStrings;

/// One symbol of a list as the page shows it.
pub struct ItemRow {
    pub symbol: String,
    pub name: String,
    pub price: String,
    pub change: String,
    pub change_pct: String,
    /// `up`, `down` or empty.
    pub class: &'static str,
    pub as_of: String,
    pub decision: Option<DecisionRow>,
    pub first: bool,
    pub last: bool,
}

/// One list as the page shows it.
pub struct ListView {
    pub id: i64,
    /// The stored name, or the word for "Default".
    pub title: String,
    /// The stored name (empty for a default list never renamed), for the rename field.
    pub name: String,
    pub is_default: bool,
    pub count: String,
    pub items: Vec<ItemRow>,
}

#[derive(Template)]
#[template(path = "watchlists.html")]
struct WatchlistsPage {
    page: PageCtx,
    w: &'static WatchStrings,
    notice: String,
    /// `error` for a refusal, `notice` for a change done.
    notice_class: &'static str,
    lists: Vec<ListView>,
}

#[derive(Deserialize)]
pub struct NoticeParam {
    notice: Option<String>,
}

fn notice_text(w: &WatchStrings, code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "added" => (w.n_added, "notice"),
        "removed" => (w.n_removed, "notice"),
        "moved" => (w.n_moved, "notice"),
        "created" => (w.n_created, "notice"),
        "renamed" => (w.n_renamed, "notice"),
        "deleted" => (w.n_deleted, "notice"),
        "exists" => (w.n_exists, "error"),
        "full" => (w.n_full, "error"),
        "too_many" => (w.n_too_many, "error"),
        "duplicate" => (w.n_duplicate, "error"),
        "unknown" => (w.n_unknown, "error"),
        "invalid" => (w.n_invalid, "error"),
        "default" => (w.n_default, "error"),
        "missing" => (w.n_missing, "error"),
        "failed" => (w.n_failed, "error"),
        _ => return None,
    })
}

/// `/watchlists`.
pub async fn watchlists(State(state): State<AppState>, lang: ReqLang, Query(q): Query<NoticeParam>) -> Response {
    let Some(who) = lang.who.clone() else { return StatusCode::UNAUTHORIZED.into_response() };
    let t = lang.lang.strings();
    let w = lang.lang.watch();
    let failed = |e: AppError| {
        tracing::error!(error = %e.message(), "watchlists page failed");
        error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
    };
    let svc = state.watchlists();
    let lists = match svc.list(&who).await {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let mut details: Vec<WatchlistDetail> = Vec::with_capacity(lists.len());
    for l in &lists {
        match svc.get(&who, l.id).await {
            Ok(d) => details.push(d),
            Err(e) => return failed(e),
        }
    }
    // The latest voting decision per symbol: decisions are stored as `decide` jobs' results.
    let decisions =
        match super::backtests::recent_runs(&state, &lang, "decide", Some(quantdesk_store::jobs::JobState::Succeeded))
            .await
        {
            Ok((jobs, _)) => latest_of(&history_of(&jobs, &lang)),
            Err(page) => return page,
        };
    let views = details
        .into_iter()
        .map(|d| {
            let n = d.items.len();
            let items = d
                .items
                .into_iter()
                .enumerate()
                .map(|(i, it)| {
                    let (price, change, change_pct, class, as_of) = match &it.quote {
                        Some(q) => (
                            format!("{:.2}", q.price),
                            format!("{:+.2}", q.change),
                            format!("{:+.2}%", q.change_pct),
                            if q.change > 0.0 {
                                "up"
                            } else if q.change < 0.0 {
                                "down"
                            } else {
                                ""
                            },
                            local_time(q.time.saturating_mul(1000), lang.lang),
                        ),
                        None => ("—".into(), "—".into(), "—".into(), "", String::new()),
                    };
                    ItemRow {
                        decision: decisions.iter().find(|r| r.symbol == it.symbol).cloned(),
                        symbol: it.symbol,
                        name: it.name,
                        price,
                        change,
                        change_pct,
                        class,
                        as_of,
                        first: i == 0,
                        last: i + 1 == n,
                    }
                })
                .collect();
            ListView {
                id: d.list.id,
                title: if d.list.name.is_empty() { w.default_name.to_string() } else { d.list.name.clone() },
                name: d.list.name,
                is_default: d.list.is_default,
                count: w
                    .count
                    .replace("{n}", &d.list.count.to_string())
                    .replace("{max}", &d.list.max_symbols.to_string()),
                items,
            }
        })
        .collect();
    let (notice, notice_class) = q.notice.as_deref().and_then(|c| notice_text(w, c)).unwrap_or(("", ""));
    html(
        StatusCode::OK,
        WatchlistsPage { page: lang.ctx("watchlists"), w, notice: notice.to_string(), notice_class, lists: views }
            .render(),
    )
}

/// The fields of every watchlist form (each uses some).
#[derive(Deserialize, Default)]
pub struct WatchForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    dir: String,
}

/// The notice a refusal becomes.
fn refusal(e: &AppError) -> &'static str {
    match e.code() {
        "watchlist_exists" => "exists",
        "watchlist_full" => "full",
        "too_many_watchlists" => "too_many",
        "already_in_watchlist" => "duplicate",
        "unknown_symbol" => "unknown",
        "invalid_params" | "bad_request" => "invalid",
        "default_watchlist" => "default",
        "watchlist_not_found" | "not_in_watchlist" => "missing",
        _ => {
            tracing::error!(error = %e.message(), code = e.code(), "a watchlist form failed");
            "failed"
        }
    }
}

/// Back to the page (at list `id` when known) with a notice: post/redirect/get.
fn back(id: Option<i64>, result: Result<&'static str, AppError>) -> Response {
    let notice = result.unwrap_or_else(|e| refusal(&e));
    let anchor = id.map(|id| format!("#list-{id}")).unwrap_or_default();
    Redirect::to(&format!("/watchlists?notice={notice}{anchor}")).into_response()
}

/// `POST /watchlists`: a new list named `name`.
pub async fn create(State(state): State<AppState>, lang: ReqLang, Form(f): Form<WatchForm>) -> Response {
    let Some(who) = lang.who.as_ref() else { return StatusCode::UNAUTHORIZED.into_response() };
    match state.watchlists().create(who, &WatchlistName { name: f.name }).await {
        Ok(l) => back(Some(l.id), Ok("created")),
        Err(e) => back(None, Err(e)),
    }
}

/// `POST /watchlists/add`: `symbol` into the caller's default list (the instruments list's
/// button).
pub async fn add_to_default(State(state): State<AppState>, lang: ReqLang, Form(f): Form<WatchForm>) -> Response {
    let Some(who) = lang.who.as_ref() else { return StatusCode::UNAUTHORIZED.into_response() };
    let svc = state.watchlists();
    match svc.add_to_default(who, &WatchItemInput { symbol: f.symbol }).await {
        Ok(id) => back(Some(id), Ok("added")),
        Err(e) => back(None, Err(e)),
    }
}

/// `POST /watchlists/{id}/{action}`: rename, delete, add, remove, move.
pub async fn change(
    State(state): State<AppState>,
    lang: ReqLang,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<WatchForm>,
) -> Response {
    let Some(who) = lang.who.as_ref() else { return StatusCode::UNAUTHORIZED.into_response() };
    let svc = state.watchlists();
    let done = match action.as_str() {
        "rename" => svc.rename(who, id, &WatchlistName { name: f.name }).await.map(|_| "renamed"),
        "delete" => return back(None, svc.delete(who, id).await.map(|()| "deleted")),
        "add" => svc.add(who, id, &WatchItemInput { symbol: f.symbol }).await.map(|()| "added"),
        "remove" => svc.remove(who, id, &f.symbol).await.map(|()| "removed"),
        "move" => svc.shift(who, id, &f.symbol, f.dir == "up").await.map(|()| "moved"),
        _ => {
            let t = lang.lang.strings();
            return error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.not_found_text);
        }
    };
    back(Some(id), done)
}
