//! Page handlers: render templates with the request's language. What every page shares lives
//! here (the request's language and caller, the page frame, headers, error pages, the language
//! switch, JSON islands); each page group has a module of its own.

mod backtests;
mod chart;
mod data;
mod decisions;
mod dynamics;
mod instruments;
mod jobs;
mod valuation;

pub use backtests::{backtest, backtests, compare_backtests, sweep};
pub use chart::chart;
pub use data::data;
pub use decisions::decisions;
pub use dynamics::dynamics;
pub use instruments::{import_page, instruments};
pub use jobs::{JobRow, job, jobs};
pub use valuation::{
    delete_scenario as valuation_delete_scenario, export as valuation_export, per_share,
    save_scenario as valuation_save_scenario, valuation, valuation_index,
};

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use quantdesk_server::AppState;
use quantdesk_server::auth::Principal;
use serde::Deserialize;

use crate::assets::asset_url;
use crate::i18n::{Lang, Strings};

/// The time zone people read times in on the pages: the exchange's (Asia/Shanghai for A-shares).
/// The configuration has no setting for it yet; the API keeps answering in UTC.
pub const PAGE_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A stored instant (Unix milliseconds) as a person reads it on the pages: the wall time in
/// [`PAGE_ZONE`], labelled with the zone (`2026-12-06 15:04:05 CST`; `北京时间` in Chinese).
/// Every time shown on a page goes through here.
pub fn local_time(ms: i64, lang: Lang) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else { return String::new() };
    let local = t.with_timezone(&PAGE_ZONE);
    if lang == Lang::ZhCn && PAGE_ZONE == chrono_tz::Asia::Shanghai {
        format!("{} 北京时间", local.format("%Y-%m-%d %H:%M:%S"))
    } else {
        local.format("%Y-%m-%d %H:%M:%S %Z").to_string()
    }
}

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
            return (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><meta charset=\"utf-8\"><title>Error / 出错了</title><h1>Something went wrong / 出错了</h1><p>The page could not be shown. The problem has been logged.</p><p>页面无法显示。问题已记录。</p>")).into_response();
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

/// Extractor rejections (a path segment that is not a number, a query string that does not
/// parse, a form that cannot be read) answer in plain text, in the words of the library: on the
/// pages they become a readable error page in the reader's language, with the same status.
pub async fn readable_rejections(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let lang = ReqLang {
        lang: lang_of(req.headers()),
        path: req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        who: req.extensions().get::<Principal>().cloned(),
    };
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain"));
    if res.status().is_client_error() && plain {
        let t = lang.lang.strings();
        return error_page(&lang, res.status(), t.bad_request_title, t.bad_request_text);
    }
    res
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
