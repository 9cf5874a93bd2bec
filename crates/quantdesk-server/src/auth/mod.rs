//! Who is asking, and may they: sessions, API keys, the access policy, CSRF, rate limits and
//! security headers.
//!
//! Access is **denied by default**. One middleware ([`guard`]) runs for every route (and for the
//! fallback), resolves the caller from a bearer API key or a session cookie, and asks [`need`]
//! what the path requires. Only the paths [`need`] names as public answer without credentials,
//! so a route added later is protected without anyone remembering to protect it.
//! `tests/auth.rs` enumerates the router to keep it so.
//!
//! The account operations themselves (sign-up, login, passwords, keys, users), the hashing of
//! secrets, the limits on them and the mailer are the application layer's
//! ([`quantdesk_app::accounts`]); handlers call them on [`AppState::accounts`] with the
//! caller's [`Actor`].

pub mod api;
pub mod throttle;

pub use quantdesk_app::accounts::{Actor, Scope, Via, secrets};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use quantdesk_app::accounts::Accounts;
use quantdesk_store::Store;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller, put into request extensions by [`guard`]: the application's
/// [`Actor`] (user, role, and the session or key they came with), which it dereferences to.
#[derive(Debug, Clone)]
pub struct Principal(pub Actor);

impl std::ops::Deref for Principal {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(unauthenticated)
    }
}

/// The client's address: the peer, or what a trusted proxy says in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().copied().unwrap_or(ClientIp(IpAddr::from([127, 0, 0, 1]))))
    }
}

/// What a path requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in caller (their own account and keys).
    Account,
    Scope(Scope),
}

/// Paths anyone may use. Everything else needs credentials.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/version",
    // Scraped by Prometheus; keep it off the public internet at the proxy (deploy/nginx does).
    "/metrics",
    "/login",
    "/signup",
    "/verify",
    "/reset",
    "/api/v1/openapi.json",
    "/api/v1/auth/signup",
    "/api/v1/auth/verify",
    "/api/v1/auth/login",
    "/api/v1/auth/password/reset",
    "/api/v1/auth/password/reset/confirm",
    // Authenticated by its signature (`Stripe-Signature`), not by a session or key.
    "/api/v1/payments/webhook/stripe",
];

/// POST routes that only read (a query too rich for a query string): they need the `read` scope.
const READING_POSTS: &[&str] = &[
    "/api/v1/screener/stocks",
    "/api/v1/sensitivity",
    "/api/TradeMaster/evaluation_getParameters",
    "/api/TradeMaster/MDM_status",
    "/api/TradeMaster/download_csv",
    "/api/TradeMaster/dynamics_testing_status",
];

/// What `method path` requires under `cfg`.
pub fn need(method: &Method, path: &str, udf_public: bool) -> Need {
    let read =
        matches!(*method, Method::GET | Method::HEAD) || (*method == Method::POST && READING_POSTS.contains(&path));
    if PUBLIC.contains(&path) || path.starts_with("/assets/") || path.starts_with("/lang/") {
        return Need::Public;
    }
    if udf_public && read && path.starts_with("/udf/") {
        return Need::Public;
    }
    if path.starts_with("/api/v1/admin/") || path == "/admin" || path.starts_with("/admin/") {
        return Need::Scope(Scope::Admin);
    }
    if path.starts_with("/api/v1/auth/")
        || path == "/api/v1/keys"
        || path.starts_with("/api/v1/keys/")
        || path == "/settings"
        || path.starts_with("/settings/")
        || path == "/logout"
        || path == "/api/v1/coins"
        || path.starts_with("/api/v1/coins/")
        || path == "/api/v1/orders"
        || path.starts_with("/api/v1/orders/")
    {
        return Need::Account;
    }
    Need::Scope(if read { Scope::Read } else { Scope::Jobs })
}

pub fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in, or send an API key as `Authorization: Bearer …`",
    )
}

pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

pub use quantdesk_app::clock::now_ms;

/// The session cookie's name: `__Host-` (which browsers accept only with `Secure`) over TLS.
pub fn cookie_name(tls: bool) -> &'static str {
    if tls { "__Host-qd_session" } else { "qd_session" }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

/// `Set-Cookie` for a new session, or (with `None`) one that deletes it.
pub fn session_cookie(cfg: &crate::Config, id: Option<&str>) -> HeaderValue {
    let secure = if cfg.server.tls { "; Secure" } else { "" };
    let v = match id {
        Some(id) => format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            cookie_name(cfg.server.tls),
            cfg.auth.session_max_hours * 3600
        ),
        None => format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", cookie_name(cfg.server.tls)),
    };
    HeaderValue::from_str(&v).expect("cookie values are ASCII")
}

fn client_ip(req: &Request, state: &AppState) -> IpAddr {
    let peer =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !state.auth.trusted_proxies.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    // The right-most address that is not one of our proxies is the client.
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !state.auth.trusted_proxies.iter().any(|n| n.contains(ip))).unwrap_or(peer)
}

/// Resolves the caller. `Err` when credentials were presented but are not valid (a bad key is
/// an error, not an anonymous request); `Ok(None)` when none were presented.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let now = now_ms();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "the Authorization header must be `Bearer <API key>`",
                )
            })?;
        let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the API key is not valid");
        let (prefix, secret) = secrets::parse_api_key(token).ok_or_else(invalid)?;
        let cache_key = format!("k:{}", secrets::sha256_hex(token));
        if let Some(p) = state.auth.cached(&cache_key, now).await {
            return Ok(Some(p));
        }
        let epoch = state.auth.accounts.credentials_epoch();
        let key = state.store.api_key_by_prefix(prefix).await?.ok_or_else(invalid)?;
        if !secrets::same(&key.secret_hash, &secrets::sha256_hex(secret)) {
            return Err(invalid());
        }
        if key.revoked_at.is_some() {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the API key was revoked"));
        }
        if key.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the API key has expired"));
        }
        let user = state.store.user(key.user_id).await?.ok_or_else(invalid)?;
        if user.disabled {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the account is disabled"));
        }
        if key.last_used_at.is_none_or(|t| now - t > 60_000) {
            state.store.touch_api_key(key.id, now).await?;
        }
        let scopes = key.scopes.split(',').filter_map(Scope::parse).collect();
        let p = Principal(Actor::of_user(&user, Via::Key { id: key.id, scopes, expires_at: key.expires_at }));
        state.auth.remember(cache_key, &p, epoch, key.expires_at).await;
        return Ok(Some(p));
    }
    let Some(id) = cookie_value(headers, cookie_name(state.config.server.tls)) else { return Ok(None) };
    let id_hash = secrets::sha256_hex(id);
    let cache_key = format!("s:{id_hash}");
    if let Some(p) = state.auth.cached(&cache_key, now).await {
        return Ok(Some(p));
    }
    let epoch = state.auth.accounts.credentials_epoch();
    let Some((session, user)) = state.store.session(&id_hash).await? else { return Ok(None) };
    let settings = state.accounts().settings();
    if !settings.session_live(&session, now) || user.disabled {
        state.store.delete_session(&id_hash).await?;
        return Ok(None);
    }
    if now - session.last_seen > 60_000 {
        state.store.touch_session(&id_hash, now).await?;
    }
    let until = settings.session_end(&session);
    let p = Principal(Actor::of_user(&user, Via::Session { id_hash, csrf: session.csrf }));
    state.auth.remember(cache_key, &p, epoch, Some(until)).await;
    Ok(Some(p))
}

/// Whether the request comes from a page of this site (or from no browser at all).
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

fn is_page_request(path: &str, headers: &HeaderMap) -> bool {
    !path.starts_with("/api/")
        && !path.starts_with("/udf/")
        && headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

fn login_redirect(path_and_query: &str) -> Response {
    let next = crate::percent_encode(path_and_query, b"/");
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// The CSRF token sent with a state-changing request: the `X-CSRF-Token` header or, for an
/// HTML form, its `csrf` field (the body is read and put back).
async fn presented_csrf(req: Request, max_body: usize) -> Result<(Option<String>, Request), ApiError> {
    if let Some(v) = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        let v = v.to_string();
        return Ok((Some(v), req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, max_body)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the form is too large"))?;
    let token = form_urlencoded_get(&bytes, "csrf");
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

fn form_urlencoded_get(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The access middleware: allow-list, caller, rate limit, policy, CSRF.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let ip = client_ip(&req, &state);
    req.extensions_mut().insert(ClientIp(ip));
    let probe = matches!(path.as_str(), "/healthz" | "/readyz");
    if !state.auth.allow.is_empty() && !probe && !state.auth.allow.iter().any(|n| n.contains(&ip)) {
        return forbidden("this address may not use this server").into_response();
    }
    let exempt = probe || path.starts_with("/assets/") || path == "/metrics";
    if !exempt
        && let Err(wait) = state.auth.limiter.check(&format!("ip:{ip}"), state.config.server.rate_limit_ip_per_minute)
    {
        return ApiError::rate_limited(wait, "too many requests from this address").into_response();
    }
    // Probes, metrics and assets are public and hot: they need no caller, so no lookup.
    let principal = match exempt {
        true => None,
        false => match authenticate(&state, req.headers()).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        },
    };
    // One allowance per user, however many keys and sessions they spread requests over.
    if let Some(p) = &principal
        && let Err(wait) =
            state.auth.limiter.check(&format!("user:{}", p.user_id), state.config.server.rate_limit_per_minute)
    {
        return ApiError::rate_limited(wait, "too many requests for this account").into_response();
    }
    let method = req.method().clone();
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    match need(&method, &path, state.config.server.udf_public) {
        Need::Public => {}
        need => {
            let Some(p) = &principal else {
                if is_page_request(&path, req.headers()) {
                    let pq = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or(path);
                    return login_redirect(&pq);
                }
                let mut res = unauthenticated().into_response();
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return res;
            };
            if let Need::Scope(scope) = need
                && !p.can(scope)
            {
                let msg = match &p.via {
                    Via::Key { .. } if Scope::of_role(p.role).contains(&scope) => {
                        format!("this API key lacks the {} scope", scope.as_str())
                    }
                    _ => format!("your role ({}) does not allow this", p.role.as_str()),
                };
                return forbidden(msg).into_response();
            }
        }
    }
    if unsafe_method {
        // Browsers send cookies on their own, so a cookie-carried request must prove it comes
        // from our pages: same origin, and (once signed in) the session's CSRF token.
        let cookie_auth = !req.headers().contains_key(header::AUTHORIZATION);
        if cookie_auth && !same_origin(req.headers()) {
            return forbidden("cross-site requests are refused").into_response();
        }
        if let Some(Principal(Actor { via: Via::Session { csrf, .. }, .. })) = &principal {
            let max = usize::try_from(state.config.server.max_body_bytes).unwrap_or(usize::MAX);
            let (token, back) = match presented_csrf(req, max).await {
                Ok(v) => v,
                Err(e) => return e.into_response(),
            };
            req = back;
            if !token.is_some_and(|t| secrets::same(&t, csrf)) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "the form or request is missing its CSRF token; reload the page and try again",
                )
                .into_response();
            }
        }
    }
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    next.run(req).await
}

/// Security headers on every response; pages may have set a stricter CSP already.
pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/udf/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.server.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    res
}

/// Parsed access settings, the in-process rate limiter and the account services.
pub struct AuthRuntime {
    pub allow: Vec<ipnet::IpNet>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub limiter: throttle::RateLimiter,
    pub accounts: Accounts,
    /// Resolved credentials for `credential_cache_ms` (`None` when 0), keyed by the SHA-256 of
    /// the API key (`k:`) or the session id's hash (`s:`).
    credentials: Option<moka::future::Cache<String, Resolved>>,
}

/// A credential resolved from the database, with what decides when it stops being valid.
#[derive(Clone)]
struct Resolved {
    principal: Principal,
    /// The accounts' credential epoch read before the database was: a change made after that
    /// read makes this entry stale.
    epoch: u64,
    /// The key's expiry, or the session's idle or absolute end, whichever comes first.
    until: Option<i64>,
}

impl std::fmt::Debug for AuthRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRuntime").field("allow", &self.allow).field("accounts", &self.accounts).finish()
    }
}

impl AuthRuntime {
    pub fn new(store: Arc<dyn Store>, cfg: &crate::Config) -> Self {
        let nets = |list: &[String]| list.iter().filter_map(|c| crate::config::parse_cidr(c).ok()).collect();
        AuthRuntime {
            allow: nets(&cfg.server.allow_cidrs),
            trusted_proxies: nets(&cfg.server.trusted_proxies),
            limiter: throttle::RateLimiter::default(),
            accounts: Accounts::from_config(store, cfg),
            credentials: (cfg.auth.credential_cache_ms > 0).then(|| {
                moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(std::time::Duration::from_millis(cfg.auth.credential_cache_ms))
                    .build()
            }),
        }
    }

    /// A credential resolved within `credential_cache_ms`, unless a change through this
    /// process's accounts service came after it or it has expired since.
    async fn cached(&self, key: &str, now: i64) -> Option<Principal> {
        let r = self.credentials.as_ref()?.get(key).await?;
        (r.epoch == self.accounts.credentials_epoch() && r.until.is_none_or(|u| now < u)).then_some(r.principal)
    }

    async fn remember(&self, key: String, principal: &Principal, epoch: u64, until: Option<i64>) {
        if let Some(c) = &self.credentials {
            c.insert(key, Resolved { principal: principal.clone(), epoch, until }).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantdesk_store::auth::Role;

    #[test]
    fn the_policy_is_default_deny() {
        assert_eq!(need(&Method::GET, "/healthz", false), Need::Public);
        assert_eq!(need(&Method::POST, "/api/v1/auth/login", false), Need::Public);
        assert_eq!(need(&Method::GET, "/assets/abc/app.css", false), Need::Public);
        assert_eq!(need(&Method::GET, "/udf/history", false), Need::Scope(Scope::Read));
        assert_eq!(need(&Method::GET, "/udf/history", true), Need::Public);
        assert_eq!(need(&Method::POST, "/udf/history", true), Need::Scope(Scope::Jobs));
        assert_eq!(need(&Method::GET, "/api/v1/something-new", false), Need::Scope(Scope::Read));
        assert_eq!(need(&Method::DELETE, "/api/v1/something-new", false), Need::Scope(Scope::Jobs));
        assert_eq!(need(&Method::POST, "/api/v1/screener/stocks", false), Need::Scope(Scope::Read), "a query");
        assert_eq!(need(&Method::POST, "/api/v1/sensitivity", false), Need::Scope(Scope::Read), "a computation");
        assert_eq!(need(&Method::POST, "/api/v1/valuation", false), Need::Scope(Scope::Jobs), "it is kept in history");
        assert_eq!(need(&Method::GET, "/api/v1/valuation/scenarios", false), Need::Scope(Scope::Read));
        assert_eq!(need(&Method::GET, "/api/v1/valuation/scenarios/3", false), Need::Scope(Scope::Read));
        for m in [Method::POST, Method::PUT, Method::DELETE] {
            let path = if m == Method::POST { "/api/v1/valuation/scenarios" } else { "/api/v1/valuation/scenarios/3" };
            assert_eq!(need(&m, path, false), Need::Scope(Scope::Jobs), "{m} changes a saved scenario");
        }
        assert_eq!(need(&Method::POST, "/valuation/scenarios", false), Need::Scope(Scope::Jobs), "the page's save");
        assert_eq!(need(&Method::GET, "/api/v1/admin/users", false), Need::Scope(Scope::Admin));
        assert_eq!(need(&Method::GET, "/administrator", false), Need::Scope(Scope::Read), "prefix, not substring");
        assert_eq!(need(&Method::POST, "/api/v1/keys", false), Need::Account);
        assert_eq!(need(&Method::POST, "/api/v1/coins/check-in", false), Need::Account, "viewers check in too");
        assert_eq!(need(&Method::POST, "/api/v1/admin/users/1/coins", false), Need::Scope(Scope::Admin));
        assert_eq!(need(&Method::GET, "/healthz/", false), Need::Scope(Scope::Read), "exact paths only");
    }

    #[test]
    fn scopes_narrow_roles() {
        let p = |role, via| Principal(Actor { user_id: 1, email: "a@x".into(), role, via });
        let key = |scopes: &[Scope]| Via::Key { id: 1, scopes: scopes.to_vec(), expires_at: None };
        assert!(p(Role::Admin, key(&[Scope::Read])).can(Scope::Read));
        assert!(!p(Role::Admin, key(&[Scope::Read])).is_admin());
        assert!(!p(Role::Viewer, key(&Scope::ALL)).can(Scope::Jobs), "a key cannot exceed its role");
        let s = Via::Session { id_hash: String::new(), csrf: String::new() };
        assert!(p(Role::Analyst, s.clone()).can(Scope::Jobs) && !p(Role::Analyst, s.clone()).is_admin());
        assert!(p(Role::Analyst, s.clone()).sees("1") && !p(Role::Analyst, s.clone()).sees("2"));
        assert!(p(Role::Admin, s).sees("2"));
    }

    #[test]
    fn origins_and_cookies() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(same_origin(&h(&[("host", "q.example"), ("origin", "https://q.example")])));
        assert!(!same_origin(&h(&[("host", "q.example"), ("origin", "https://evil.example")])));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&h(&[])), "non-browser clients send neither");
        assert_eq!(cookie_value(&h(&[("cookie", "lang=en; qd_session=abc")]), "qd_session"), Some("abc"));
        assert_eq!(cookie_value(&h(&[("cookie", "qd_session_x=abc")]), "qd_session"), None);
        assert_eq!(form_urlencoded_get(b"a=1&csrf=xyz&b=2", "csrf").as_deref(), Some("xyz"));
    }
}
