//! Account pages: sign-in, sign-up with an e-mail code, password reset, settings (password and
//! API keys) and administration (users, keys, audit log, status). Plain HTML forms that post
//! back and redirect; they work without JavaScript. The work is done by
//! `quantdesk_app::accounts`, the same services the JSON API and the command line use; their
//! errors are read through the API's one mapping (`ApiError::from`), so pages and API agree.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use quantdesk_server::AppState;
use quantdesk_server::auth::{ClientIp, Principal, session_cookie};
use quantdesk_server::error::ApiError;
use quantdesk_store::auth::{AuditFilter, Role};
use serde::Deserialize;

use crate::i18n::AccountStrings;
use crate::pages::{PageCtx, ReqLang, html, local_time};

/// Where to go back to after signing in: a path on this site (see [`local_path`]), never the
/// sign-in page itself; anything else becomes `/chart`.
fn safe_next(next: Option<&str>) -> Result<String, BadNext> {
    let n = local_path(next, "/chart")?;
    Ok(if n.starts_with("/login") { "/chart".into() } else { n })
}

/// A `next` parameter holding control characters (tab, CR, LF…): a 400, not a redirect.
#[derive(Debug, PartialEq, Eq)]
pub struct BadNext;

impl BadNext {
    pub fn page(&self, lang: &ReqLang) -> Response {
        let t = lang.lang.strings();
        crate::pages::error_page(lang, StatusCode::BAD_REQUEST, t.bad_next_title, t.bad_next_text)
    }
}

/// A same-origin path to redirect to, or `fallback`. Control characters anywhere are refused
/// (browsers drop a tab or newline, so `/\t/host` would become `//host`); the path must start
/// with a single `/` (not `//`, not `/\`), hold no backslash, and parse as a path and query.
pub fn local_path(next: Option<&str>, fallback: &str) -> Result<String, BadNext> {
    let Some(n) = next else { return Ok(fallback.into()) };
    if n.chars().any(char::is_control) {
        return Err(BadNext);
    }
    let local = n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && n.parse::<axum::http::uri::PathAndQuery>().is_ok()
        && HeaderValue::from_str(n).is_ok();
    Ok(if local { n.to_string() } else { fallback.into() })
}

/// The sentence to show for an account error, in the page's language.
fn explain(a: &AccountStrings, e: &ApiError) -> String {
    let base = match e.code {
        // A wrong current password (changing it while signed in) is a 422; a failed sign-in a 401.
        "invalid_credentials" if e.status == StatusCode::UNPROCESSABLE_ENTITY => a.err_current_password,
        "invalid_credentials" => a.err_credentials,
        "rate_limited" => a.err_rate_limited,
        "weak_password" if e.message.contains("common") => a.err_common_password,
        "weak_password" => a.err_weak_password,
        "invalid_code" => a.err_code,
        "unverified" => a.err_unverified,
        "account_disabled" => a.err_disabled,
        "bad_request" if e.message.contains("e-mail") => a.err_email,
        "forbidden" if e.message.contains("sign-up") => a.err_signup_closed,
        _ => return format!("{} {}", a.err_other, e.message),
    };
    match e.retry_after {
        Some(s) => format!("{base} ({s} s)"),
        None => base.to_string(),
    }
}

#[derive(Template)]
#[template(path = "auth.html")]
struct AuthPage {
    page: PageCtx,
    a: &'static AccountStrings,
    /// login, signup, verify, reset-request or reset-confirm.
    mode: &'static str,
    email: String,
    next: String,
    notice: String,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuthQuery {
    next: Option<String>,
    email: Option<String>,
    /// What just happened: verified, reset, sent.
    done: Option<String>,
}

fn auth_page(
    lang: &ReqLang,
    mode: &'static str,
    email: String,
    next: String,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    let page = AuthPage { page: lang.ctx(""), a: lang.lang.account(), mode, email, next, notice, error };
    html(status, page.render())
}

fn notice_for(a: &AccountStrings, done: Option<&str>) -> String {
    match done {
        Some("verified") => a.verified.into(),
        Some("reset") => a.reset_done.into(),
        Some("sent") => a.code_sent.into(),
        _ => String::new(),
    }
}

pub async fn login_page(lang: ReqLang, Query(q): Query<AuthQuery>) -> Response {
    let next = match safe_next(q.next.as_deref()) {
        Ok(n) => n,
        Err(e) => return e.page(&lang),
    };
    if lang.who.is_some() {
        return Redirect::to(&next).into_response();
    }
    let notice = notice_for(lang.lang.account(), q.done.as_deref());
    auth_page(&lang, "login", q.email.unwrap_or_default(), next, notice, String::new(), StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    lang: ReqLang,
    ClientIp(ip): ClientIp,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = match safe_next(f.next.as_deref()) {
        Ok(n) => n,
        Err(e) => return e.page(&lang),
    };
    match state.accounts().login(&ip, &f.email, &f.password).await.map_err(ApiError::from) {
        Ok((_, id, _)) => {
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state.config, Some(&id)));
            res
        }
        Err(e) => {
            let error = explain(lang.lang.account(), &e);
            let mut res = auth_page(&lang, "login", f.email, next, String::new(), error, e.status);
            if let Some(s) = e.retry_after {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            res
        }
    }
}

pub async fn signup_page(lang: ReqLang) -> Response {
    auth_page(&lang, "signup", String::new(), String::new(), String::new(), String::new(), StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    email: String,
    password: String,
}

pub async fn signup(
    State(state): State<AppState>,
    lang: ReqLang,
    ClientIp(ip): ClientIp,
    Form(f): Form<SignupForm>,
) -> Response {
    match state.accounts().signup(&ip, &f.email, &f.password).await.map_err(ApiError::from) {
        Ok(()) => {
            Redirect::to(&format!("/verify?email={}&done=sent", quantdesk_server::percent_encode(f.email.trim(), b"@")))
                .into_response()
        }
        Err(e) => {
            let error = explain(lang.lang.account(), &e);
            auth_page(&lang, "signup", f.email, String::new(), String::new(), error, e.status)
        }
    }
}

pub async fn verify_page(lang: ReqLang, Query(q): Query<AuthQuery>) -> Response {
    let notice = notice_for(lang.lang.account(), q.done.as_deref());
    auth_page(&lang, "verify", q.email.unwrap_or_default(), String::new(), notice, String::new(), StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    email: String,
    code: Option<String>,
    new_password: Option<String>,
}

pub async fn verify(
    State(state): State<AppState>,
    lang: ReqLang,
    ClientIp(ip): ClientIp,
    Form(f): Form<CodeForm>,
) -> Response {
    match state.accounts().verify(&ip, &f.email, f.code.as_deref().unwrap_or("")).await.map_err(ApiError::from) {
        Ok(()) => Redirect::to(&format!(
            "/login?email={}&done=verified",
            quantdesk_server::percent_encode(f.email.trim(), b"@")
        ))
        .into_response(),
        Err(e) => {
            let error = explain(lang.lang.account(), &e);
            auth_page(&lang, "verify", f.email, String::new(), String::new(), error, e.status)
        }
    }
}

pub async fn reset_page(lang: ReqLang, Query(q): Query<AuthQuery>) -> Response {
    let mode = if q.done.as_deref() == Some("sent") { "reset-confirm" } else { "reset-request" };
    let notice = notice_for(lang.lang.account(), q.done.as_deref());
    auth_page(&lang, mode, q.email.unwrap_or_default(), String::new(), notice, String::new(), StatusCode::OK)
}

/// Without a code: asks for one. With a code and a new password: sets it.
pub async fn reset(
    State(state): State<AppState>,
    lang: ReqLang,
    ClientIp(ip): ClientIp,
    Form(f): Form<CodeForm>,
) -> Response {
    let (mode, result) = match (&f.code, &f.new_password) {
        (Some(code), Some(pw)) => ("reset-confirm", state.accounts().confirm_reset(&ip, &f.email, code, pw).await),
        _ => ("reset-request", state.accounts().request_reset(&ip, &f.email).await),
    };
    match result.map_err(ApiError::from) {
        Ok(()) if mode == "reset-confirm" => {
            Redirect::to(&format!("/login?email={}&done=reset", quantdesk_server::percent_encode(f.email.trim(), b"@")))
                .into_response()
        }
        Ok(()) => {
            Redirect::to(&format!("/reset?email={}&done=sent", quantdesk_server::percent_encode(f.email.trim(), b"@")))
                .into_response()
        }
        Err(e) => {
            let error = explain(lang.lang.account(), &e);
            auth_page(&lang, mode, f.email, String::new(), String::new(), error, e.status)
        }
    }
}

pub async fn logout(State(state): State<AppState>, ClientIp(ip): ClientIp, p: Principal) -> Response {
    if let Err(e) = state.accounts().logout(&ip, &p).await {
        return ApiError::from(e).into_response();
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state.config, None));
    res
}

struct KeyRow {
    id: i64,
    name: String,
    owner: String,
    prefix: String,
    scopes: String,
    created: String,
    expires: String,
    last_used: String,
    live: bool,
}

fn key_rows(
    keys: &[quantdesk_store::auth::ApiKeyRow],
    owners: &std::collections::HashMap<i64, String>,
    never: &str,
    lang: crate::i18n::Lang,
) -> Vec<KeyRow> {
    let fmt_ms = |ms: i64| local_time(ms, lang);
    let now = quantdesk_app::clock::now_ms();
    keys.iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name.clone(),
            owner: owners.get(&k.user_id).cloned().unwrap_or_default(),
            prefix: format!("qd_{}_…", k.prefix),
            scopes: k.scopes.replace(',', ", "),
            created: fmt_ms(k.created_at),
            expires: k.expires_at.map(fmt_ms).unwrap_or_else(|| never.into()),
            last_used: k.last_used_at.map(fmt_ms).unwrap_or_else(|| never.into()),
            live: k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    page: PageCtx,
    a: &'static AccountStrings,
    email: String,
    role: String,
    scopes: Vec<String>,
    keys: Vec<KeyRow>,
    new_token: String,
    notice: String,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    done: Option<String>,
}

async fn settings_response(
    state: &AppState,
    lang: &ReqLang,
    p: &Principal,
    new_token: String,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    let a = lang.lang.account();
    let keys = match state.store.api_keys(Some(p.user_id)).await {
        Ok(k) => k,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let owners = std::collections::HashMap::from([(p.user_id, p.email.clone())]);
    let page = SettingsPage {
        page: lang.ctx("settings"),
        a,
        email: p.email.clone(),
        role: lang.lang.term(p.role.as_str()),
        scopes: p.scopes().into_iter().map(|s| lang.lang.term(s.as_str())).collect(),
        keys: key_rows(&keys, &owners, a.never, lang.lang),
        new_token,
        notice,
        error,
    };
    html(status, page.render())
}

pub async fn settings(
    State(state): State<AppState>,
    lang: ReqLang,
    p: Principal,
    Query(q): Query<SettingsQuery>,
    headers: HeaderMap,
) -> Response {
    let a = lang.lang.account();
    let notice = match q.done.as_deref() {
        Some("password") => a.password_changed.to_string(),
        Some("revoked") => a.key_revoked.to_string(),
        _ => String::new(),
    };
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&format!("{NEW_KEY_COOKIE}=")).map(str::to_string))
        .filter(|t| !t.is_empty());
    let shown = token.is_some();
    let mut res =
        settings_response(&state, &lang, &p, token.unwrap_or_default(), notice, String::new(), StatusCode::OK).await;
    if shown {
        // Shown once: the cookie goes, and the page with the token is not kept by any cache.
        if let Some(c) = new_key_cookie(&state, None) {
            res.headers_mut().insert(header::SET_COOKIE, c);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    #[serde(default)]
    revoke_keys: Option<String>,
}

pub async fn change_password(
    State(state): State<AppState>,
    lang: ReqLang,
    ClientIp(ip): ClientIp,
    p: Principal,
    Form(f): Form<PasswordForm>,
) -> Response {
    let changed =
        state.accounts().change_password(&ip, &p, &f.current_password, &f.new_password, f.revoke_keys.is_some());
    match changed.await.map_err(ApiError::from) {
        Ok(fresh) => {
            let mut res = Redirect::to("/settings?done=password").into_response();
            if let Some((id, _)) = fresh {
                res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state.config, Some(&id)));
            }
            res
        }
        Err(e) => {
            let error = explain(lang.lang.account(), &e);
            settings_response(&state, &lang, &p, String::new(), String::new(), error, e.status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    name: String,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    jobs: Option<String>,
    #[serde(default)]
    admin: Option<String>,
    days: Option<u32>,
}

/// The cookie that carries a new key's token from the POST that made it to the one page that
/// shows it: post/redirect/get, so a reload neither creates a second key nor shows the token
/// again. Scoped to `/settings`, HttpOnly, SameSite=Strict, two minutes, cleared when read.
const NEW_KEY_COOKIE: &str = "qd_new_key";

fn new_key_cookie(state: &AppState, token: Option<&str>) -> Option<HeaderValue> {
    let secure = if state.config.server.tls { "; Secure" } else { "" };
    let v = match token {
        Some(t) => format!("{NEW_KEY_COOKIE}={t}; Path=/settings; HttpOnly; SameSite=Strict; Max-Age=120{secure}"),
        None => format!("{NEW_KEY_COOKIE}=; Path=/settings; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&v).ok()
}

/// Creates a key, then redirects to `/settings`, which shows its token once.
pub async fn create_key(
    State(state): State<AppState>,
    lang: ReqLang,
    ClientIp(ip): ClientIp,
    p: Principal,
    Form(f): Form<KeyForm>,
) -> Response {
    let scopes: Vec<String> = [("read", &f.read), ("jobs", &f.jobs), ("admin", &f.admin)]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(s, _)| s.to_string())
        .collect();
    match state.accounts().create_key(&ip, &p, &f.name, &scopes, f.days.unwrap_or(90)).await.map_err(ApiError::from) {
        Ok((_, token)) => {
            let mut res = Redirect::to("/settings?done=key").into_response();
            match new_key_cookie(&state, Some(&token)) {
                Some(c) => {
                    res.headers_mut().insert(header::SET_COOKIE, c);
                    res
                }
                // A token that cannot travel in a cookie is shown on this answer instead.
                None => settings_response(&state, &lang, &p, token, String::new(), String::new(), StatusCode::OK).await,
            }
        }
        Err(e) => {
            let error = explain(lang.lang.account(), &e);
            settings_response(&state, &lang, &p, String::new(), String::new(), error, e.status).await
        }
    }
}

pub async fn revoke_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    Path(id): Path<i64>,
) -> Response {
    let back = if p.is_admin() { "/admin" } else { "/settings?done=revoked" };
    match state.accounts().revoke_key(&ip, &p, id).await {
        Ok(()) => Redirect::to(back).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

struct UserRow {
    id: i64,
    email: String,
    role: &'static str,
    verified: bool,
    disabled: bool,
    created: String,
    last_login: String,
    me: bool,
}

struct AuditRow {
    at: String,
    event: String,
    actor: String,
    target: String,
    ip: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    page: PageCtx,
    a: &'static AccountStrings,
    users: Vec<UserRow>,
    keys: Vec<KeyRow>,
    audit: Vec<AuditRow>,
    event: String,
    q: String,
    /// (identifier, label)
    roles: Vec<(&'static str, String)>,
    status: Vec<(&'static str, String)>,
    notice: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    event: Option<String>,
    q: Option<String>,
    done: Option<String>,
}

pub async fn admin(
    State(state): State<AppState>,
    lang: ReqLang,
    p: Principal,
    Query(q): Query<AdminQuery>,
) -> Response {
    let a = lang.lang.account();
    let event = q.event.unwrap_or_default();
    let text = q.q.unwrap_or_default();
    let filter = AuditFilter {
        event: Some(event.clone()).filter(|e| !e.is_empty()),
        text: Some(text.clone()).filter(|t| !t.is_empty()),
        before_id: None,
        limit: 200,
    };
    let loaded = async {
        Ok::<_, quantdesk_store::StoreError>((
            state.store.users().await?,
            state.store.api_keys(None).await?,
            state.store.audit_log(&filter).await?,
            state.store.bar_count().await?,
            state.store.job_counts().await?,
        ))
    }
    .await;
    let (users, keys, audit, bars, counts) = match loaded {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let owners = users.iter().map(|u| (u.id, u.email.clone())).collect();
    let queued: i64 = counts.iter().filter(|c| c.1 == quantdesk_store::jobs::JobState::Queued).map(|c| c.2).sum();
    let page = AdminPage {
        page: lang.ctx("admin"),
        a,
        users: users
            .iter()
            .map(|u| UserRow {
                id: u.id,
                email: u.email.clone(),
                role: u.role.as_str(),
                verified: u.verified,
                disabled: u.disabled,
                created: local_time(u.created_at, lang.lang),
                last_login: u.last_login_at.map(|ms| local_time(ms, lang.lang)).unwrap_or_else(|| a.never.into()),
                me: u.id == p.user_id,
            })
            .collect(),
        keys: key_rows(&keys, &owners, a.never, lang.lang),
        audit: audit
            .iter()
            .map(|e| AuditRow {
                at: local_time(e.at, lang.lang),
                event: e.event.clone(),
                actor: lang.lang.term(&e.actor),
                target: e.target.clone(),
                ip: e.ip.clone(),
                detail: lang.lang.term(&e.detail),
            })
            .collect(),
        event,
        q: text,
        roles: ["admin", "analyst", "viewer"].into_iter().map(|r| (r, lang.lang.term(r))).collect(),
        status: vec![
            (a.database, state.store.backend().to_string()),
            (a.users, users.len().to_string()),
            (a.stored_bars, bars.to_string()),
            (a.queued_jobs, queued.to_string()),
            (a.mail, state.accounts().mailer_kind().to_string()),
        ],
        notice: if q.done.as_deref() == Some("saved") { a.saved.into() } else { String::new() },
    };
    html(StatusCode::OK, page.render())
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    role: String,
    disabled: Option<String>,
}

pub async fn update_user(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    Path(id): Path<i64>,
    Form(f): Form<UserForm>,
) -> Response {
    let Some(role) = Role::parse(&f.role) else {
        return ApiError::bad_request("role must be admin, analyst or viewer").into_response();
    };
    match state.accounts().update_user(&ip, &p, id, Some(role), Some(f.disabled.is_some())).await {
        Ok(_) => Redirect::to("/admin?done=saved").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site() {
        use super::{BadNext, local_path, safe_next};
        assert_eq!(safe_next(Some("/jobs?state=failed")).unwrap(), "/jobs?state=failed");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/login?next=/x",
            "\\/evil.example",
            "/x\\y",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)).unwrap(), "/chart", "{bad}");
        }
        assert_eq!(safe_next(None).unwrap(), "/chart");
        // a browser drops tabs and newlines: `/\t/host` would be `//host`, so they are refused
        for bad in ["/\t/127.0.0.1:18182/landed", "/\r\nSet-Cookie: x=1", "/a\nb", "/\u{7f}x", "/\u{85}x"] {
            assert_eq!(safe_next(Some(bad)), Err(BadNext), "{bad:?}");
            assert_eq!(local_path(Some(bad), "/"), Err(BadNext), "{bad:?}");
        }
        assert_eq!(local_path(Some("//evil"), "/").unwrap(), "/");
        assert_eq!(local_path(Some("/instruments?q=ys"), "/").unwrap(), "/instruments?q=ys");
    }
}
