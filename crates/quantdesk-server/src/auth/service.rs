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

/// A normalised e-mail address (trimmed, lower-case), or a 400. The local part is RFC 5322's
/// dot-atom (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots between them), the domain at
/// least two labels of letters, digits and inner hyphens; non-ASCII letters are allowed in both.
/// Quotes, angle brackets, spaces and the like are refused before anything is stored.
pub fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let e = raw.trim().to_lowercase();
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let dot_atom =
        |s: &str, ok: &dyn Fn(char) -> bool| !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(ok));
    let label = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.starts_with('-')
            && !p.ends_with('-')
            && p.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            local.len() <= 64 && dot_atom(local, &atext) && domain.contains('.') && domain.split('.').all(label)
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

fn too_many(wait: i64, what: &str) -> ApiError {
    ApiError::rate_limited(wait, what)
}

/// Counts a code about to be issued to `email` at the request of `ip`: at most one a minute and
/// five an hour per address, twenty an hour per client address. Counted the same whether or not
/// the address has an account, so the answers tell nothing.
async fn take_issue(state: &AppState, email: &str, ip: &IpAddr, now: i64) -> Result<(), ApiError> {
    if let Err(wait) = throttle::take(&*state.store, &throttle::ISSUE_ACCOUNT, email, now).await? {
        return Err(too_many(wait, "a code was sent to this address recently"));
    }
    if let Err(wait) = throttle::take(&*state.store, &throttle::ISSUE_ADDRESS, &ip.to_string(), now).await? {
        return Err(too_many(wait, "too many codes were asked for from this address"));
    }
    Ok(())
}

/// Stores a fresh code for `purpose` (bound to `secret`: a sign-up's password hash) and mails
/// it. A mail that cannot be sent leaves nothing stored.
async fn send_code(state: &AppState, email: &str, purpose: &str, secret: String) -> Result<(), ApiError> {
    let now = now_ms();
    let code = six_digits();
    let row =
        EmailCode { code_hash: hash_code(&code), sent_at: now, expires_at: now + CODE_TTL_MS, attempts: 0, secret };
    // The limits were taken already (take_issue): a new code replaces the old one.
    state.store.put_email_code(email, purpose, &row, i64::MAX).await?;
    let (subject, body) = match purpose {
        "signup" => (
            "Your quantdesk sign-up code / quantdesk 注册验证码",
            format!(
                "Your quantdesk verification code is {code}.\n\nIt is valid for 10 minutes. If you did not sign up, ignore this message.\n\n\
                 你的 quantdesk 验证码是 {code}，10 分钟内有效。如果不是你本人注册，请忽略本邮件。\n"
            ),
        ),
        _ => (
            "Your quantdesk password reset code / quantdesk 重置密码验证码",
            format!(
                "Your quantdesk password reset code is {code}.\n\nIt is valid for 10 minutes. If you did not ask for it, ignore this message: your password is unchanged.\n\n\
                 你的 quantdesk 重置密码验证码是 {code}，10 分钟内有效。如果不是你本人申请，请忽略本邮件，你的密码没有改变。\n"
            ),
        ),
    };
    if let Err(e) = state.auth.mailer.send(email, subject, &body).await {
        state.store.delete_email_code(email, purpose).await?;
        return Err(ApiError::internal(e));
    }
    Ok(())
}

/// Tells an address's owner something happened to their account. Failures are logged only.
async fn notify(state: &AppState, email: &str, subject: &str, body: &str) {
    if let Err(e) = state.auth.mailer.send(email, subject, body).await {
        tracing::warn!(error = %e, to = %super::mask_email(email), "could not send a security notice");
    }
}

fn invalid_code() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_code",
        "the code is wrong or has expired; ask for a new one",
    )
}

/// Checks a code and returns it when right. Every guess is counted before it is checked, per
/// address across all its codes (ten a day: the owner is told by mail when they run out) and per
/// client address; a code also dies after [`CODE_ATTEMPTS`] wrong guesses.
async fn take_code(
    state: &AppState,
    ip: &IpAddr,
    email: &str,
    purpose: &str,
    code: &str,
) -> Result<EmailCode, ApiError> {
    let now = now_ms();
    let taken = match throttle::take(&*state.store, &throttle::GUESS_ACCOUNT, email, now).await? {
        Ok(c) => c,
        Err(wait) => return Err(too_many(wait, "too many wrong codes for this address; ask again tomorrow")),
    };
    if let Err(wait) = throttle::take(&*state.store, &throttle::GUESS_ADDRESS, &ip.to_string(), now).await? {
        return Err(too_many(wait, "too many codes were tried from this address"));
    }
    let wrong = async |state: &AppState| {
        if taken.n == throttle::GUESS_ACCOUNT.max {
            audit(state, (None, email), "code_guesses_exhausted", email, ip, purpose).await;
            if state.store.user_by_email(email).await.ok().flatten().is_some() {
                notify(
                    state,
                    email,
                    "quantdesk: codes for your account are locked / 你的账户验证码已锁定",
                    "Wrong codes for your quantdesk account were entered too often, so no code for it is accepted for 24 hours. \
                     If that was not you, someone may be trying to take over the account; your password is unchanged.\n\n\
                     你的 quantdesk 账户被多次输入错误的验证码，24 小时内不再接受任何验证码。如果不是你本人操作，可能有人试图接管你的账户；你的密码没有改变。\n",
                )
                .await;
            }
        }
        invalid_code()
    };
    let Some(stored) = state.store.email_code(email, purpose).await? else { return Err(wrong(state).await) };
    if stored.expires_at <= now || stored.attempts >= CODE_ATTEMPTS {
        state.store.delete_email_code(email, purpose).await?;
        return Err(wrong(state).await);
    }
    if !code_matches(&stored.code_hash, code.trim()) {
        if state.store.bump_email_code(email, purpose).await? >= CODE_ATTEMPTS {
            state.store.delete_email_code(email, purpose).await?;
        }
        return Err(wrong(state).await);
    }
    state.store.delete_email_code(email, purpose).await?;
    // A right code is not a wrong guess.
    throttle::give_back(&*state.store, &throttle::GUESS_ACCOUNT, email, &taken).await?;
    Ok(stored)
}

/// Starts a sign-up: mails a code bound to this password; the account is created only when the
/// code is confirmed. A verified account with that address gets nothing, and a pending sign-up
/// is not replaced by one with another password (only its code's holder completes it), and the
/// caller cannot tell either apart from a fresh sign-up.
pub async fn signup(state: &AppState, ip: &IpAddr, email: &str, password: &str) -> Result<(), ApiError> {
    if !state.config.signup {
        return Err(super::forbidden("sign-up is closed on this server; ask an administrator for an account"));
    }
    let email = normalize_email(email)?;
    check_password(password).map_err(weak)?;
    let hash = hash_blocking(password.to_string()).await?;
    take_issue(state, &email, ip, now_ms()).await?;
    if state.store.user_by_email(&email).await?.is_some_and(|u| u.verified) {
        audit(state, (None, &email), "signup_existing", &email, ip, "").await;
        return Ok(());
    }
    if let Some(pending) = state.store.email_code(&email, "signup").await?
        && pending.expires_at > now_ms()
        && pending.attempts < CODE_ATTEMPTS
        && !verify_blocking(password.to_string(), pending.secret.clone()).await?
    {
        audit(state, (None, &email), "signup_pending", &email, ip, "a pending sign-up with another password stays")
            .await;
        return Ok(());
    }
    send_code(state, &email, "signup", hash).await?;
    audit(state, (None, &email), "signup", &email, ip, "").await;
    Ok(())
}

/// Completes a sign-up with the mailed code: creates the account with the password the code was
/// issued for.
pub async fn verify(state: &AppState, ip: &IpAddr, email: &str, code: &str) -> Result<(), ApiError> {
    let email = normalize_email(email)?;
    let stored = take_code(state, ip, &email, "signup", code).await?;
    let id = match state.store.user_by_email(&email).await? {
        Some(u) if u.verified => return Ok(()),
        // An unverified account from before codes carried their password.
        Some(u) => {
            if !stored.secret.is_empty() {
                state.store.set_password(u.id, &stored.secret).await?;
            }
            state.store.set_verified(u.id).await?;
            u.id
        }
        None => {
            if stored.secret.is_empty() {
                return Err(invalid_code());
            }
            let role = Role::parse(&state.config.signup_role).unwrap_or(Role::Viewer);
            match state.store.create_user(&email, &stored.secret, role, true, now_ms()).await? {
                Some(id) => id,
                None => return Err(invalid_code()),
            }
        }
    };
    audit(state, (Some(id), &email), "signup_verified", &email, ip, "").await;
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

/// Checks a login, throttled per (account, address), per address and per account from unknown
/// addresses; the attempt is counted before the password is verified. On success opens a
/// session and returns (user, session id, CSRF token).
pub async fn login(
    state: &AppState,
    ip: &IpAddr,
    email: &str,
    password: &str,
) -> Result<(User, String, String), ApiError> {
    let email = normalize_email(email).map_err(|_| bad_login())?;
    let now = now_ms();
    if let Err(wait) = throttle::login_take(state, &email, ip, now).await? {
        return Err(ApiError::rate_limited(wait, "too many failed sign-in attempts"));
    }
    let user = state.store.user_by_email(&email).await?;
    // Without an account, a pending sign-up's password is checked, so its owner learns the
    // address still needs its code; anyone else sees a wrong password.
    let pending = match &user {
        None => state.store.email_code(&email, "signup").await?.filter(|c| c.expires_at > now && !c.secret.is_empty()),
        Some(_) => None,
    };
    let phc = match (&user, &pending) {
        (Some(u), _) => u.password_hash.clone(),
        (None, Some(p)) => p.secret.clone(),
        (None, None) => secrets::dummy_hash().to_string(),
    };
    let ok = verify_blocking(password.to_string(), phc).await?;
    if ok && pending.is_some() {
        return Err(unverified());
    }
    let Some(user) = user.filter(|_| ok) else {
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
        return Err(unverified());
    }
    throttle::login_succeeded(state, &email, ip, now).await?;
    state.store.record_login(user.id, now).await?;
    let (id, csrf) = open_session(state, &user).await?;
    audit(state, (Some(user.id), &email), "login", &email, ip, "").await;
    Ok((user, id, csrf))
}

fn unverified() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "unverified", "confirm your e-mail address with the code we sent first")
}

pub async fn logout(state: &AppState, ip: &IpAddr, p: &Principal) -> Result<(), ApiError> {
    if let Via::Session { id_hash, .. } = &p.via {
        state.store.delete_session(id_hash).await?;
    }
    audit(state, who(p), "logout", &p.email, ip, "").await;
    Ok(())
}

/// Changes the caller's password and ends all their sessions; with `revoke_keys`, every API key
/// too. A browser caller gets a new session (returned) so they stay signed in where they are.
pub async fn change_password(
    state: &AppState,
    ip: &IpAddr,
    p: &Principal,
    current: &str,
    new: &str,
    revoke_keys: bool,
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
    let detail = if revoke_keys {
        let n = state.store.revoke_user_api_keys(user.id, now_ms()).await?;
        format!("all sessions ended, {n} API keys revoked")
    } else {
        "all sessions ended".to_string()
    };
    audit(state, who(p), "password_changed", &p.email, ip, &detail).await;
    match p.via {
        Via::Session { .. } => Ok(Some(open_session(state, &user).await?)),
        Via::Key { .. } => Ok(None),
    }
}

/// Mails a reset code if the address has a verified account; the caller cannot tell (the same
/// limits apply either way).
pub async fn request_reset(state: &AppState, ip: &IpAddr, email: &str) -> Result<(), ApiError> {
    let email = normalize_email(email)?;
    take_issue(state, &email, ip, now_ms()).await?;
    match state.store.user_by_email(&email).await? {
        Some(u) if u.verified && !u.disabled => {
            send_code(state, &email, "reset", String::new()).await?;
            audit(state, (Some(u.id), &email), "password_reset_requested", &email, ip, "").await;
        }
        _ => audit(state, (None, &email), "password_reset_unknown", &email, ip, "").await,
    }
    Ok(())
}

/// Sets a new password with a mailed reset code. This is account recovery: every session and
/// every API key of the account is revoked, and the owner is told by mail.
pub async fn confirm_reset(state: &AppState, ip: &IpAddr, email: &str, code: &str, new: &str) -> Result<(), ApiError> {
    let email = normalize_email(email)?;
    check_password(new).map_err(weak)?;
    take_code(state, ip, &email, "reset", code).await?;
    let Some(user) = state.store.user_by_email(&email).await? else { return Err(invalid_code()) };
    let hash = hash_blocking(new.to_string()).await?;
    state.store.set_password(user.id, &hash).await?;
    let keys = state.store.revoke_user_api_keys(user.id, now_ms()).await?;
    throttle::account_recovered(state, &email).await?;
    let detail = format!("all sessions ended, {keys} API keys revoked");
    audit(state, (Some(user.id), &email), "password_reset", &email, ip, &detail).await;
    notify(
        state,
        &email,
        "quantdesk: your password was reset / 你的密码已重置",
        &format!(
            "The password of your quantdesk account was reset with a mailed code. Every session was ended and every API key \
             ({keys}) revoked: create new keys after signing in. If you did not do this, reset the password again at once.\n\n\
             你的 quantdesk 账户密码已通过邮件验证码重置。所有会话已结束，所有 API 密钥（{keys} 个）已吊销，请登录后重新创建密钥。\
             如果不是你本人操作，请立即再次重置密码。\n"
        ),
    )
    .await;
    Ok(())
}

/// Keys are managed from a signed-in session, or with a key that has the `admin` scope: a
/// stolen read-only key cannot mint itself a stronger or longer-lived one.
fn may_manage_keys(p: &Principal) -> Result<(), ApiError> {
    match p.via {
        Via::Key { .. } if !p.can(Scope::Admin) => {
            Err(super::forbidden("managing API keys needs a signed-in session or a key with the admin scope"))
        }
        _ => Ok(()),
    }
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
    may_manage_keys(p)?;
    if let Some(s) = parsed.iter().find(|s| !p.can(**s)) {
        return Err(super::forbidden(format!("you cannot give a key the {} scope you do not have", s.as_str())));
    }
    let (token, prefix, secret_hash) = secrets::new_api_key();
    let now = now_ms();
    let mut expires_at = now + i64::from(expires_in_days) * 86_400_000;
    // A key never makes a key that outlives it.
    if let Via::Key { expires_at: Some(own), .. } = p.via {
        expires_at = expires_at.min(own);
    }
    let new = NewApiKey {
        user_id: p.user_id,
        name: name.to_string(),
        prefix: prefix.clone(),
        secret_hash,
        scopes: Scope::ALL.iter().filter(|s| parsed.contains(s)).map(|s| s.as_str()).collect::<Vec<_>>().join(","),
        expires_at: Some(expires_at),
    };
    let id = state.store.create_api_key(&new, now).await?;
    let row = state.store.api_key_by_prefix(&prefix).await?.ok_or_else(|| ApiError::internal("a new key vanished"))?;
    audit(state, who(p), "key_created", &format!("key {id} ({prefix})"), ip, &new.scopes).await;
    Ok((row, token))
}

/// Revokes one of the caller's keys (any key, for admins). 404 for keys the caller cannot see.
pub async fn revoke_key(state: &AppState, ip: &IpAddr, p: &Principal, id: i64) -> Result<(), ApiError> {
    may_manage_keys(p)?;
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
