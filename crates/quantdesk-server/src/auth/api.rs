//! The account API: `/api/v1/auth/*` (sign-up, verification, login, logout, passwords),
//! `/api/v1/keys` (the caller's API keys) and `/api/v1/admin/*` (users, all keys, audit log).

use crate::iso_ms as iso;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use quantdesk_store::auth::{ApiKeyRow, AuditEvent, AuditFilter, Role, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Actor, ClientIp, Principal, session_cookie};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/auth/signup", post(signup))
        .route("/auth/verify", post(verify))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/prefs/{name}", get(get_pref).put(put_pref))
        .route("/auth/password/change", post(change_password))
        .route("/auth/password/reset", post(request_reset))
        .route("/auth/password/reset/confirm", post(confirm_reset))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}", delete(revoke_key))
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", patch(update_user))
        .route("/admin/keys", get(all_keys))
        .route("/admin/audit", get(audit_log))
}

/// A sentence saying what happened.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(Message { message: text.into() })).into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 256 characters; very common passwords are refused (422).
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyInput {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The 6-digit code from the e-mail (422 when wrong or expired).
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailInput {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetInput {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// 422 when wrong.
    #[schema(max_length = 256)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
    /// Also revoke every API key of the account (default false). A reset always does.
    #[serde(default)]
    pub revoke_keys: bool,
}

/// The signed-in caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    /// admin, analyst or viewer.
    pub role: String,
    /// What this caller may do now (a key's scopes narrow its user's role).
    pub scopes: Vec<String>,
    /// `session` or `key`.
    pub via: String,
    /// For browser sessions: send it as `X-CSRF-Token` with state-changing requests.
    pub csrf_token: Option<String>,
}

fn me_of(p: &Actor) -> Me {
    Me {
        id: p.user_id,
        email: p.email.clone(),
        role: p.role.as_str().into(),
        scopes: p.scopes().iter().map(|s| s.as_str().to_string()).collect(),
        via: p.via.as_str().into(),
        csrf_token: p.csrf().map(String::from),
    }
}

/// Start a sign-up: a 6-digit code is mailed to the address (valid 10 minutes).
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = Credentials, security(()),
    responses((status = 202, body = Message), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    state.accounts().signup(&ip, &c.email, &c.password).await?;
    Ok(message(StatusCode::ACCEPTED, "if this address can be registered, a 6-digit code is on its way to it"))
}

/// Confirm an address with the mailed code: creates the account with the sign-up's password.
/// Guesses are limited per address across all its codes (429).
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "auth", request_body = VerifyInput, security(()),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(v): ApiJson<VerifyInput>,
) -> Result<Response, ApiError> {
    state.accounts().verify(&ip, &v.email, &v.code).await?;
    Ok(message(StatusCode::OK, "the address is confirmed; sign in"))
}

/// Sign in: sets the session cookie. Failures are throttled per account and per address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials, security(()),
    responses((status = 200, body = Me), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let (user, id, csrf) = state.accounts().login(&ip, &c.email, &c.password).await?;
    let p = Actor::of_user(&user, super::Via::Session { id_hash: String::new(), csrf });
    let mut res = Json(me_of(&p)).into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state.config, Some(&id)));
    Ok(res)
}

/// Sign out: ends this session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, ClientIp(ip): ClientIp, p: Principal) -> Result<Response, ApiError> {
    state.accounts().logout(&ip, &p).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state.config, None));
    Ok(res)
}

/// Who the caller is and what they may do.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(p: Principal) -> Json<Me> {
    Json(me_of(&p))
}

/// A setting of the caller's that follows them between browsers (the chart's replay cursor).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Pref {
    /// Any text up to 4 KiB (the pages store JSON).
    #[schema(max_length = 4096)]
    pub value: String,
}

/// A setting as read: `null` when it was never set.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrefRead {
    pub value: Option<String>,
}

/// Settings one user may keep.
const MAX_PREFS: u64 = 200;

fn pref_name(name: &str) -> Result<&str, ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok { Ok(name) } else { Err(ApiError::bad_request("a setting's name is 1 to 100 of A-Z a-z 0-9 . _ : -")) }
}

/// One of the caller's settings (`null` when never set).
#[utoipa::path(get, path = "/api/v1/auth/prefs/{name}", tag = "auth",
    params(("name" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,100}$")),
    responses((status = 200, body = PrefRead), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_pref(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PrefRead>, ApiError> {
    let name = pref_name(&name)?;
    Ok(Json(PrefRead { value: state.store.pref(p.user_id, name).await? }))
}

/// Set one of the caller's settings (at most 200 per user).
#[utoipa::path(put, path = "/api/v1/auth/prefs/{name}", tag = "auth", request_body = Pref,
    params(("name" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,100}$")),
    responses((status = 200, body = Pref), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_pref(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(pref): ApiJson<Pref>,
) -> Result<Json<Pref>, ApiError> {
    let name = pref_name(&name)?;
    if pref.value.chars().count() > 4096 {
        return Err(ApiError::bad_request("a setting's value is at most 4096 characters"));
    }
    if !state.store.put_pref(p.user_id, name, &pref.value, super::now_ms(), MAX_PREFS).await? {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_settings",
            format!("at most {MAX_PREFS} settings per user"),
        ));
    }
    Ok(Json(pref))
}

/// Change the password: ends every session (a browser caller gets a fresh one); with
/// `revoke_keys`, revokes every API key too.
#[utoipa::path(post, path = "/api/v1/auth/password/change", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    ApiJson(c): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let fresh = state.accounts().change_password(&ip, &p, &c.current_password, &c.new_password, c.revoke_keys).await?;
    let text = if c.revoke_keys {
        "the password is changed; every other session has ended and every API key is revoked"
    } else {
        "the password is changed; every other session has ended"
    };
    let mut res = message(StatusCode::OK, text);
    if let Some((id, _)) = fresh {
        res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state.config, Some(&id)));
    }
    Ok(res)
}

/// Ask for a password reset code by e-mail.
#[utoipa::path(post, path = "/api/v1/auth/password/reset", tag = "auth", request_body = EmailInput, security(()),
    responses((status = 202, body = Message), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(e): ApiJson<EmailInput>,
) -> Result<Response, ApiError> {
    state.accounts().request_reset(&ip, &e.email).await?;
    Ok(message(StatusCode::ACCEPTED, "if this address has an account, a reset code is on its way to it"))
}

/// Set a new password with the mailed reset code. This is account recovery: every session ends
/// and every API key is revoked (the owner is told by mail). Guesses are limited per address
/// across all its codes (429).
#[utoipa::path(post, path = "/api/v1/auth/password/reset/confirm", tag = "auth", request_body = ResetInput, security(()),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<ResetInput>,
) -> Result<Response, ApiError> {
    state.accounts().confirm_reset(&ip, &r.email, &r.code, &r.new_password).await?;
    Ok(message(StatusCode::OK, "the password is changed; sign in with it"))
}

/// An API key (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyDto {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The public part of the token (`qd_<prefix>_…`).
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyRow> for KeyDto {
    fn from(k: &ApiKeyRow) -> Self {
        KeyDto {
            id: k.id,
            user_id: k.user_id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            created_at: iso(k.created_at),
            expires_at: k.expires_at.map(iso),
            last_used_at: k.last_used_at.map(iso),
            revoked_at: k.revoked_at.map(iso),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKey {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Any of read, jobs, admin; at most what the caller's role allows (403 otherwise).
    #[schema(min_items = 1, inline, value_type = Vec<KeyScope>)]
    pub scopes: Vec<String>,
    /// Days until the key stops working (default 90, at most 3650).
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// What a key may do.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum KeyScope {
    Read,
    Jobs,
    Admin,
}

/// A new key with its token: shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedKey {
    pub key: KeyDto,
    /// Send as `Authorization: Bearer <token>`. It cannot be shown again.
    pub token: String,
}

/// The caller's API keys, newest first.
#[utoipa::path(get, path = "/api/v1/keys", tag = "auth", responses((status = 200, body = Vec<KeyDto>), (status = 401, body = ErrorBody)))]
pub async fn list_keys(State(state): State<AppState>, p: Principal) -> Result<Json<Vec<KeyDto>>, ApiError> {
    Ok(Json(state.store.api_keys(Some(p.user_id)).await?.iter().map(KeyDto::from).collect()))
}

/// Create an API key. The token is in this answer only. Needs a signed-in session or a key with
/// the admin scope (403 otherwise); a key never makes a key that outlives it.
#[utoipa::path(post, path = "/api/v1/keys", tag = "auth", request_body = NewKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    ApiJson(k): ApiJson<NewKey>,
) -> Result<Response, ApiError> {
    let (row, token) =
        state.accounts().create_key(&ip, &p, &k.name, &k.scopes, k.expires_in_days.unwrap_or(90)).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key: KeyDto::from(&row), token })).into_response())
}

/// Revoke one of the caller's keys (admins: any key). Needs a signed-in session or a key with the
/// admin scope (403 otherwise).
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.accounts().revoke_key(&ip, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub verified: bool,
    pub disabled: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        UserDto {
            id: u.id,
            email: u.email.clone(),
            role: u.role.as_str().into(),
            verified: u.verified,
            disabled: u.disabled,
            created_at: iso(u.created_at),
            last_login_at: u.last_login_at.map(iso),
        }
    }
}

/// Every account (admins).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", responses((status = 200, body = Vec<UserDto>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<UserDto>>, ApiError> {
    Ok(Json(state.store.users().await?.iter().map(UserDto::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserUpdate {
    /// admin, analyst or viewer.
    #[schema(pattern = "^(admin|analyst|viewer)$")]
    pub role: Option<String>,
    pub disabled: Option<bool>,
}

/// Change a user's role or disable them (admins).
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = UserDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(u): ApiJson<UserUpdate>,
) -> Result<Json<UserDto>, ApiError> {
    let role = match u.role.as_deref() {
        Some(r) => Some(Role::parse(r).ok_or_else(|| ApiError::bad_request("role must be admin, analyst or viewer"))?),
        None => None,
    };
    let user = state.accounts().update_user(&ip, &p, id, role, u.disabled).await?;
    Ok(Json(UserDto::from(&user)))
}

/// Every API key (admins).
#[utoipa::path(get, path = "/api/v1/admin/keys", tag = "admin", responses((status = 200, body = Vec<KeyDto>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn all_keys(State(state): State<AppState>) -> Result<Json<Vec<KeyDto>>, ApiError> {
    Ok(Json(state.store.api_keys(None).await?.iter().map(KeyDto::from).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this event (login, login_failed, key_created, …).
    pub event: Option<String>,
    /// Actor or target containing this text.
    pub q: Option<String>,
    /// Events with a smaller id (the next page).
    pub before: Option<i64>,
    /// 1 to 500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// One security event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditDto {
    pub id: i64,
    pub at: String,
    /// The acting user, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    pub actor: String,
    pub event: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

impl From<&AuditEvent> for AuditDto {
    fn from(e: &AuditEvent) -> Self {
        AuditDto {
            id: e.id,
            at: iso(e.at),
            user_id: e.user_id,
            actor: e.actor.clone(),
            event: e.event.clone(),
            target: e.target.clone(),
            ip: e.ip.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// The audit log of security events, newest first (admins).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditParams),
    responses((status = 200, body = Vec<AuditDto>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_log(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditDto>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let f = AuditFilter {
        event: q.event.filter(|e| !e.is_empty()),
        text: q.q.filter(|t| !t.is_empty()),
        before_id: q.before,
        limit,
    };
    Ok(Json(state.store.audit_log(&f).await?.iter().map(AuditDto::from).collect()))
}
