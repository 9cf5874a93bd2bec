//! Account operations shared by the JSON API and the pages: sign-up with an e-mail code, login,
//! logout, password change and reset, API keys, user administration, and the audit log.
//!
//! Every answer that could tell a stranger whether an address has an account is the same either
//! way: sign-up and reset requests always "send a code if they can", logins fail with one message.

use std::net::IpAddr;

use axum::http::StatusCode;
use quantdesk_store::auth::{ApiKeyRow, AuditEvent, EmailCode, NewApiKey, Role, SessionRow, User};

use super::secrets::{self, check_password, code_matches, hash_code, hash_password, six_digits, verify_password};
use super::{Principal, Scope, Via, now_ms, throttle};
use crate::error::ApiError;
use crate::state::AppState;

/// How long an e-mail code is valid.
pub const CODE_TTL_MS: i64 = 10 * 60_000;
/// At most one code per address and purpose in this time.
pub const RESEND_MS: i64 = 60_000;
/// Wrong guesses a code survives.
pub const CODE_ATTEMPTS: i64 = 5;

/// A normalised e-mail address (trimmed, lower-case), or a 400.
pub fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if ok { Ok(e) } else { Err(ApiError::bad_request("that is not an e-mail address")) }
}

fn weak(e: secrets::PasswordProblem) -> ApiError {
    let status =
        if e == secrets::PasswordProblem::Common { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST };
    ApiError::new(status, "weak_password", e.to_string())
}

/// Records a security event. A failure to record is logged, never shown.
pub async fn audit(state: &AppState, actor: (Option<i64>, &str), event: &str, target: &str, ip: &IpAddr, detail: &str) {
    let e = AuditEvent {
        id: 0,
        at: now_ms(),
        user_id: actor.0,
        actor: actor.1.to_string(),
        event: event.to_string(),
        target: target.to_string(),
        ip: ip.to_string(),
        detail: detail.to_string(),
    };
    if let Err(err) = state.store.audit(&e).await {
        tracing::error!(error = %err, event, "could not write the audit log");
    }
}

fn who(p: &Principal) -> (Option<i64>, &str) {
    (Some(p.user_id), p.email.as_str())
}

/// Hashing is CPU work: keep it off the async threads.
async fn hash_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(ApiError::internal)
}

async fn verify_blocking(password: String, phc: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await.map_err(ApiError::internal)
}

/// Sends a fresh code for `purpose` unless one went out less than a minute ago.
async fn send_code(state: &AppState, email: &str, purpose: &str) -> Result<(), ApiError> {
    let now = now_ms();
    let code = six_digits();
    let row = EmailCode { code_hash: hash_code(&code), sent_at: now, expires_at: now + CODE_TTL_MS, attempts: 0 };
    if !state.store.put_email_code(email, purpose, &row, now - RESEND_MS).await? {
        return Err(ApiError::rate_limited(RESEND_MS, "a code was sent to this address less than a minute ago"));
    }
    let (subject, body) = match purpose {
        "signup" => (
            "Your quantdesk sign-up code",
            format!(
                "Your quantdesk verification code is {code}.\n\nIt is valid for 10 minutes. If you did not sign up, ignore this message.\n"
            ),
        ),
        _ => (
            "Your quantdesk password reset code",
            format!(
                "Your quantdesk password reset code is {code}.\n\nIt is valid for 10 minutes. If you did not ask for it, ignore this message: your password is unchanged.\n"
            ),
        ),
    };
    if let Err(e) = state.auth.mailer.send(email, subject, &body).await {
        // The stored code stays, so a retry after a minute sends a new one.
        return Err(ApiError::internal(e));
    }
    Ok(())
}

/// Checks a code; a wrong guess counts, and a code dies after [`CODE_ATTEMPTS`] of them.
async fn take_code(state: &AppState, email: &str, purpose: &str, code: &str) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_code",
            "the code is wrong or has expired; ask for a new one",
        )
    };
    let Some(stored) = state.store.email_code(email, purpose).await? else { return Err(invalid()) };
    if stored.expires_at <= now_ms() || stored.attempts >= CODE_ATTEMPTS {
        state.store.delete_email_code(email, purpose).await?;
        return Err(invalid());
    }
    if !code_matches(&stored.code_hash, code.trim()) {
        if state.store.bump_email_code(email, purpose).await? >= CODE_ATTEMPTS {
            state.store.delete_email_code(email, purpose).await?;
        }
        return Err(invalid());
    }
    state.store.delete_email_code(email, purpose).await?;
    Ok(())
}

/// Starts a sign-up: creates (or refreshes) an unverified account and mails a code. A verified
/// account with that address gets nothing, and the caller cannot tell.
pub async fn signup(state: &AppState, ip: &IpAddr, email: &str, password: &str) -> Result<(), ApiError> {
    if !state.config.signup {
        return Err(super::forbidden("sign-up is closed on this server; ask an administrator for an account"));
    }
    let email = normalize_email(email)?;
    check_password(password).map_err(weak)?;
    let hash = hash_blocking(password.to_string()).await?;
    let role = Role::parse(&state.config.signup_role).unwrap_or(Role::Viewer);
    match state.store.user_by_email(&email).await? {
        Some(u) if u.verified => {
            audit(state, (None, &email), "signup_existing", &email, ip, "").await;
            return Ok(());
        }
        Some(u) => {
            state.store.set_password(u.id, &hash).await?;
        }
        None => {
            state.store.create_user(&email, &hash, role, false, now_ms()).await?;
        }
    }
    send_code(state, &email, "signup").await?;
    audit(state, (None, &email), "signup", &email, ip, "").await;
    Ok(())
}

/// Completes a sign-up with the mailed code.
pub async fn verify(state: &AppState, ip: &IpAddr, email: &str, code: &str) -> Result<(), ApiError> {
    let email = normalize_email(email)?;
    take_code(state, &email, "signup", code).await?;
    if let Some(u) = state.store.user_by_email(&email).await? {
        state.store.set_verified(u.id).await?;
        audit(state, (Some(u.id), &email), "signup_verified", &email, ip, "").await;
    }
    Ok(())
}

/// A new browser session: its id (for the cookie) and CSRF token. Old ids are never reused, so
/// a session id planted before login is worthless after it.
pub async fn open_session(state: &AppState, user: &User) -> Result<(String, String), ApiError> {
    let id = secrets::random_hex(32);
    let csrf = secrets::random_hex(32);
    let now = now_ms();
    let row = SessionRow {
        id_hash: secrets::sha256_hex(&id),
        user_id: user.id,
        csrf: csrf.clone(),
        created_at: now,
        last_seen: now,
    };
    state.store.create_session(&row).await?;
    Ok((id, csrf))
}

fn bad_login() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the e-mail address or the password is wrong")
}

/// Checks a login, throttled per account and per address. On success opens a session and
/// returns (user, session id, CSRF token).
pub async fn login(
    state: &AppState,
    ip: &IpAddr,
    email: &str,
    password: &str,
) -> Result<(User, String, String), ApiError> {
    let email = normalize_email(email).map_err(|_| bad_login())?;
    let now = now_ms();
    if let Err(wait) = throttle::login_allowed(state, &email, ip, now).await? {
        return Err(ApiError::rate_limited(wait, "too many failed sign-in attempts"));
    }
    let user = state.store.user_by_email(&email).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| secrets::dummy_hash().to_string());
    let ok = verify_blocking(password.to_string(), phc).await? && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        throttle::login_failed(state, &email, ip, now).await?;
        audit(state, (None, &email), "login_failed", &email, ip, "").await;
        return Err(bad_login());
    };
    // The password was right, so saying why the login cannot proceed reveals nothing new.
    if user.disabled {
        audit(state, (Some(user.id), &email), "login_refused", &email, ip, "account disabled").await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled; ask an administrator",
        ));
    }
    if !user.verified {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "unverified",
            "confirm your e-mail address with the code we sent first",
        ));
    }
    throttle::login_succeeded(state, &email).await?;
    state.store.record_login(user.id, now).await?;
    let (id, csrf) = open_session(state, &user).await?;
    audit(state, (Some(user.id), &email), "login", &email, ip, "").await;
    Ok((user, id, csrf))
}

pub async fn logout(state: &AppState, ip: &IpAddr, p: &Principal) -> Result<(), ApiError> {
    if let Via::Session { id_hash, .. } = &p.via {
        state.store.delete_session(id_hash).await?;
    }
    audit(state, who(p), "logout", &p.email, ip, "").await;
    Ok(())
}

/// Changes the caller's password and ends all their sessions. A browser caller gets a new
/// session (returned) so they stay signed in where they are.
pub async fn change_password(
    state: &AppState,
    ip: &IpAddr,
    p: &Principal,
    current: &str,
    new: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let user = state.store.user(p.user_id).await?.ok_or_else(super::unauthenticated)?;
    if !verify_blocking(current.to_string(), user.password_hash.clone()).await? {
        audit(state, who(p), "password_change_failed", &p.email, ip, "").await;
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_credentials",
            "the current password is wrong",
        ));
    }
    check_password(new).map_err(weak)?;
    let hash = hash_blocking(new.to_string()).await?;
    state.store.set_password(user.id, &hash).await?;
    audit(state, who(p), "password_changed", &p.email, ip, "all sessions ended").await;
    match p.via {
        Via::Session { .. } => Ok(Some(open_session(state, &user).await?)),
        Via::Key { .. } => Ok(None),
    }
}

/// Mails a reset code if the address has a verified account; the caller cannot tell.
pub async fn request_reset(state: &AppState, ip: &IpAddr, email: &str) -> Result<(), ApiError> {
    let email = normalize_email(email)?;
    match state.store.user_by_email(&email).await? {
        Some(u) if u.verified && !u.disabled => {
            send_code(state, &email, "reset").await?;
            audit(state, (Some(u.id), &email), "password_reset_requested", &email, ip, "").await;
        }
        _ => audit(state, (None, &email), "password_reset_unknown", &email, ip, "").await,
    }
    Ok(())
}

/// Sets a new password with a mailed reset code; ends every session of the account.
pub async fn confirm_reset(state: &AppState, ip: &IpAddr, email: &str, code: &str, new: &str) -> Result<(), ApiError> {
    let email = normalize_email(email)?;
    check_password(new).map_err(weak)?;
    take_code(state, &email, "reset", code).await?;
    let Some(user) = state.store.user_by_email(&email).await? else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "the code is wrong or has expired; ask for a new one",
        ));
    };
    let hash = hash_blocking(new.to_string()).await?;
    state.store.set_password(user.id, &hash).await?;
    throttle::login_succeeded(state, &email).await?;
    audit(state, (Some(user.id), &email), "password_reset", &email, ip, "all sessions ended").await;
    Ok(())
}

/// Longest key lifetime.
pub const MAX_KEY_DAYS: u32 = 3650;

/// Creates an API key for the caller; the token is returned once and never again.
pub async fn create_key(
    state: &AppState,
    ip: &IpAddr,
    p: &Principal,
    name: &str,
    scopes: &[String],
    expires_in_days: u32,
) -> Result<(ApiKeyRow, String), ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name the key (1 to 100 characters)"));
    }
    if !(1..=MAX_KEY_DAYS).contains(&expires_in_days) {
        return Err(ApiError::bad_request(format!("expires_in_days must be between 1 and {MAX_KEY_DAYS}")));
    }
    let mut parsed: Vec<Scope> = Vec::new();
    for s in scopes {
        let scope = Scope::parse(s)
            .ok_or_else(|| ApiError::bad_request(format!("unknown scope {s:?}; use read, jobs or admin")))?;
        if !parsed.contains(&scope) {
            parsed.push(scope);
        }
    }
    if parsed.is_empty() {
        return Err(ApiError::bad_request("give the key at least one scope: read, jobs or admin"));
    }
    if let Some(s) = parsed.iter().find(|s| !p.can(**s)) {
        return Err(super::forbidden(format!("you cannot give a key the {} scope you do not have", s.as_str())));
    }
    let (token, prefix, secret_hash) = secrets::new_api_key();
    let now = now_ms();
    let new = NewApiKey {
        user_id: p.user_id,
        name: name.to_string(),
        prefix: prefix.clone(),
        secret_hash,
        scopes: Scope::ALL.iter().filter(|s| parsed.contains(s)).map(|s| s.as_str()).collect::<Vec<_>>().join(","),
        expires_at: Some(now + i64::from(expires_in_days) * 86_400_000),
    };
    let id = state.store.create_api_key(&new, now).await?;
    let row = state.store.api_key_by_prefix(&prefix).await?.ok_or_else(|| ApiError::internal("a new key vanished"))?;
    audit(state, who(p), "key_created", &format!("key {id} ({prefix})"), ip, &new.scopes).await;
    Ok((row, token))
}

/// Revokes one of the caller's keys (any key, for admins). 404 for keys the caller cannot see.
pub async fn revoke_key(state: &AppState, ip: &IpAddr, p: &Principal, id: i64) -> Result<(), ApiError> {
    let owner = if p.is_admin() { None } else { Some(p.user_id) };
    if !state.store.revoke_api_key(id, owner, now_ms()).await? {
        return Err(ApiError::not_found(format!("no live key {id}")));
    }
    audit(state, who(p), "key_revoked", &format!("key {id}"), ip, "").await;
    Ok(())
}

/// An administrator changes a user's role or disables them. Admins cannot demote or disable
/// themselves, so a server cannot lose its last administrator by accident.
pub async fn update_user(
    state: &AppState,
    ip: &IpAddr,
    p: &Principal,
    id: i64,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<User, ApiError> {
    let user = state.store.user(id).await?.ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    if id == p.user_id && (role.is_some_and(|r| r != Role::Admin) || disabled == Some(true)) {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "you cannot demote or disable yourself"));
    }
    if let Some(r) = role.filter(|r| *r != user.role) {
        state.store.set_role(id, r).await?;
        audit(state, who(p), "role_changed", &user.email, ip, &format!("{} -> {}", user.role.as_str(), r.as_str()))
            .await;
    }
    if let Some(d) = disabled.filter(|d| *d != user.disabled) {
        state.store.set_disabled(id, d).await?;
        audit(state, who(p), if d { "user_disabled" } else { "user_enabled" }, &user.email, ip, "").await;
    }
    state.store.user(id).await?.ok_or_else(|| ApiError::not_found(format!("no user {id}")))
}

/// Creates a verified account, or (with `reset`) gives an existing one this password and role.
/// For the command line and the demo; not reachable over HTTP.
pub async fn ensure_user(
    store: &dyn quantdesk_store::Store,
    email: &str,
    password: &str,
    role: Role,
    reset: bool,
) -> Result<(User, bool), String> {
    let email = normalize_email(email).map_err(|e| e.message)?;
    check_password(password).map_err(|e| e.to_string())?;
    let hash = {
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| e.to_string())?
    };
    let err = |e: quantdesk_store::StoreError| e.to_string();
    let created = match store.user_by_email(&email).await.map_err(err)? {
        Some(u) if !reset => return Err(format!("{} already has an account (role {})", u.email, u.role.as_str())),
        Some(u) => {
            store.set_password(u.id, &hash).await.map_err(err)?;
            store.set_role(u.id, role).await.map_err(err)?;
            store.set_verified(u.id).await.map_err(err)?;
            store.set_disabled(u.id, false).await.map_err(err)?;
            false
        }
        None => {
            store.create_user(&email, &hash, role, true, now_ms()).await.map_err(err)?;
            true
        }
    };
    let user = store.user_by_email(&email).await.map_err(err)?.ok_or("the account vanished")?;
    let e = AuditEvent {
        id: 0,
        at: now_ms(),
        user_id: Some(user.id),
        actor: "system".into(),
        event: if created { "user_created" } else { "user_reset" }.into(),
        target: email.clone(),
        ip: "cli".into(),
        detail: role.as_str().into(),
    };
    store.audit(&e).await.map_err(err)?;
    Ok((user, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
        for bad in ["", "alice", "@example.com", "alice@", "alice@localhost", "a b@x.com", "a@b@c.com", "a@.com"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
