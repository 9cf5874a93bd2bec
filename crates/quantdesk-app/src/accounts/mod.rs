//! Account operations shared by the JSON API, the pages and the command line: sign-up with an
//! e-mail code, login, logout, password change and reset, API keys, user administration, and the
//! audit log. They are methods of [`Accounts`] (the store, the [`AccountSettings`] and the
//! mailer), take the [`Actor`] they act for explicitly and return [`AppError`].
//!
//! Every answer that could tell a stranger whether an address has an account is the same either
//! way: sign-up and reset requests always "send a code if they can", logins fail with one message.
//!
//! - [`secrets`]: passwords (argon2id), random tokens and their SHA-256 hashes;
//! - [`throttle`]: the limits on secrets, counted in the database;
//! - [`mailer`]: SMTP or the development mailbox.

mod actor;
pub mod mailer;
pub mod secrets;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use quantdesk_store::Store;
use quantdesk_store::auth::{ApiKeyRow, AuditEvent, EmailCode, NewApiKey, Role, SessionRow, User};

pub use actor::{Actor, Scope, Via};
use secrets::{check_password, code_matches, hash_code, hash_password, six_digits, verify_password};

use crate::clock::now_ms;
use crate::config::Config;
use crate::error::AppError;

/// What the account operations need to know of the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// Whether anyone may sign up (with a verified e-mail address).
    pub signup: bool,
    /// The role of people who sign up.
    pub signup_role: Role,
    /// Minutes a browser session lasts without use.
    pub session_idle_mins: u64,
    /// Hours a browser session lasts at most, however much it is used.
    pub session_max_hours: u64,
    /// Coins a new account gets when its sign-up is confirmed.
    pub signup_coins: i64,
}

impl AccountSettings {
    /// The settings `cfg` gives (an unknown `signup_role` reads as viewer).
    pub fn from_config(cfg: &Config) -> Self {
        AccountSettings {
            signup: cfg.auth.signup,
            signup_role: Role::parse(&cfg.auth.signup_role).unwrap_or(Role::Viewer),
            session_idle_mins: cfg.auth.session_idle_mins,
            session_max_hours: cfg.auth.session_max_hours,
            signup_coins: cfg.coins.signup_coins,
        }
    }

    /// The first instant at which a session that is not used again is no longer alive (the
    /// end of its idle time or of its longest life): [`Self::session_live`] holds before it.
    pub fn session_end(&self, s: &SessionRow) -> i64 {
        let idle = i64::try_from(self.session_idle_mins).unwrap_or(i64::MAX / 120_000) * 60_000;
        let max = i64::try_from(self.session_max_hours).unwrap_or(i64::MAX / 7_200_000) * 3_600_000;
        s.last_seen.saturating_add(idle).min(s.created_at.saturating_add(max)).saturating_add(1)
    }

    /// Whether a session is still alive at `now`: used within the idle time, and younger than
    /// the longest a session lasts.
    pub fn session_live(&self, s: &SessionRow, now: i64) -> bool {
        let idle = i64::try_from(self.session_idle_mins).unwrap_or(i64::MAX / 120_000) * 60_000;
        let max = i64::try_from(self.session_max_hours).unwrap_or(i64::MAX / 7_200_000) * 3_600_000;
        now - s.last_seen <= idle && now - s.created_at <= max
    }
}

/// The account services: the store, the settings and the mailer they need. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    settings: AccountSettings,
    mailer: Arc<dyn mailer::Mailer>,
    /// Bumped after every change that can end a credential (a logout, a password change or
    /// reset, a revoked key, a role change or a disabled account): a cache of resolved
    /// credentials drops what it resolved before the latest change (clones share it).
    epoch: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("settings", &self.settings).field("mailer", &self.mailer.kind()).finish()
    }
}

/// How long an e-mail code is valid.
pub const CODE_TTL_MS: i64 = 10 * 60_000;
/// At most one code per address and purpose in this time.
pub const RESEND_MS: i64 = 60_000;
/// Wrong guesses a code survives.
pub const CODE_ATTEMPTS: i64 = 5;

/// A normalised e-mail address (trimmed, lower-case), or a malformed-request error (400). The
/// local part is RFC 5322's dot-atom (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots between
/// them), the domain at least two labels of letters, digits and inner hyphens; non-ASCII letters
/// are allowed in both. Quotes, angle brackets, spaces and the like are refused before anything
/// is stored.
pub fn normalize_email(raw: &str) -> Result<String, AppError> {
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
    if ok { Ok(e) } else { Err(AppError::malformed("that is not an e-mail address")) }
}

/// `a***@example.com`: enough to tell addresses apart in logs, not enough to harvest them.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => format!("{}***@{domain}", user.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// `weak_password`: a length outside the limits breaks the schema (malformed), a common password
/// is refused by a rule (invalid).
fn weak(e: secrets::PasswordProblem) -> AppError {
    let refused = match e {
        secrets::PasswordProblem::Common => AppError::invalid(e.to_string()),
        _ => AppError::malformed(e.to_string()),
    };
    refused.with_code("weak_password")
}

fn who(a: &Actor) -> (Option<i64>, &str) {
    (Some(a.user_id), a.email.as_str())
}

/// Hashing is CPU work: keep it off the async threads.
async fn hash_blocking(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(AppError::internal)
}

async fn verify_blocking(password: String, phc: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await.map_err(AppError::internal)
}

fn too_many(wait: i64, what: &str) -> AppError {
    AppError::rate_limited(wait, what)
}

fn invalid_code() -> AppError {
    AppError::invalid("the code is wrong or has expired; ask for a new one").with_code("invalid_code")
}

fn bad_login() -> AppError {
    AppError::unauthenticated("the e-mail address or the password is wrong").with_code("invalid_credentials")
}

fn unverified() -> AppError {
    AppError::forbidden("confirm your e-mail address with the code we sent first").with_code("unverified")
}

/// Keys are managed from a signed-in session (or the command line), or with a key that has the
/// `admin` scope: a stolen read-only key cannot mint itself a stronger or longer-lived one.
fn may_manage_keys(a: &Actor) -> Result<(), AppError> {
    match a.via {
        Via::Key { .. } if !a.can(Scope::Admin) => {
            Err(AppError::forbidden("managing API keys needs a signed-in session or a key with the admin scope"))
        }
        _ => Ok(()),
    }
}

/// Longest key lifetime.
pub const MAX_KEY_DAYS: u32 = 3650;

impl Accounts {
    pub fn new(store: Arc<dyn Store>, settings: AccountSettings, mailer: Arc<dyn mailer::Mailer>) -> Self {
        Accounts { store, settings, mailer, epoch: Arc::default() }
    }

    /// The count of credential-ending changes made through this service (in this process).
    pub fn credentials_epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    fn credentials_changed(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The account services over `store` as `cfg` configures them: its settings, and its mailer
    /// (SMTP, or the development mailbox).
    pub fn from_config(store: Arc<dyn Store>, cfg: &Config) -> Self {
        let mailer = mailer::configured(cfg.mail.smtp_url.expose(), &cfg.mail.mailbox_dir, &cfg.mail.mail_from);
        Self::new(store, AccountSettings::from_config(cfg), mailer)
    }

    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    /// Where mail goes: `smtp` or `mailbox`.
    pub fn mailer_kind(&self) -> &'static str {
        self.mailer.kind()
    }

    /// Records a security event. A failure to record is logged, never shown.
    async fn audit(&self, actor: (Option<i64>, &str), event: &str, target: &str, ip: &IpAddr, detail: &str) {
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
        if let Err(err) = self.store.audit(&e).await {
            tracing::error!(error = %err, event, "could not write the audit log");
        }
    }

    /// Counts a code about to be issued to `email` at the request of `ip`: at most one a minute and
    /// five an hour per address, twenty an hour per client address. Counted the same whether or not
    /// the address has an account, so the answers tell nothing.
    async fn take_issue(&self, email: &str, ip: &IpAddr, now: i64) -> Result<(), AppError> {
        if let Err(wait) = throttle::take(&*self.store, &throttle::ISSUE_ACCOUNT, email, now).await? {
            return Err(too_many(wait, "a code was sent to this address recently"));
        }
        if let Err(wait) = throttle::take(&*self.store, &throttle::ISSUE_ADDRESS, &ip.to_string(), now).await? {
            return Err(too_many(wait, "too many codes were asked for from this address"));
        }
        Ok(())
    }

    /// Stores a fresh code for `purpose` (bound to `secret`: a sign-up's password hash) and mails
    /// it. A mail that cannot be sent leaves nothing stored.
    async fn send_code(&self, email: &str, purpose: &str, secret: String) -> Result<(), AppError> {
        let now = now_ms();
        let code = six_digits();
        let row =
            EmailCode { code_hash: hash_code(&code), sent_at: now, expires_at: now + CODE_TTL_MS, attempts: 0, secret };
        // The limits were taken already (take_issue): a new code replaces the old one.
        self.store.put_email_code(email, purpose, &row, i64::MAX).await?;
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
        if let Err(e) = self.mailer.send(email, subject, &body).await {
            self.store.delete_email_code(email, purpose).await?;
            return Err(AppError::internal(e));
        }
        Ok(())
    }

    /// Tells an address's owner something happened to their account. Failures are logged only.
    async fn notify(&self, email: &str, subject: &str, body: &str) {
        if let Err(e) = self.mailer.send(email, subject, body).await {
            tracing::warn!(error = %e, to = %mask_email(email), "could not send a security notice");
        }
    }

    /// Checks a code and returns it when right. Every guess is counted before it is checked, per
    /// address across all its codes (ten a day: the owner is told by mail when they run out) and per
    /// client address; a code also dies after [`CODE_ATTEMPTS`] wrong guesses.
    async fn take_code(&self, ip: &IpAddr, email: &str, purpose: &str, code: &str) -> Result<EmailCode, AppError> {
        let now = now_ms();
        let taken = match throttle::take(&*self.store, &throttle::GUESS_ACCOUNT, email, now).await? {
            Ok(c) => c,
            Err(wait) => return Err(too_many(wait, "too many wrong codes for this address; ask again tomorrow")),
        };
        if let Err(wait) = throttle::take(&*self.store, &throttle::GUESS_ADDRESS, &ip.to_string(), now).await? {
            return Err(too_many(wait, "too many codes were tried from this address"));
        }
        let wrong = async || {
            if taken.n == throttle::GUESS_ACCOUNT.max {
                self.audit((None, email), "code_guesses_exhausted", email, ip, purpose).await;
                if self.store.user_by_email(email).await.ok().flatten().is_some() {
                    self.notify(
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
        let Some(stored) = self.store.email_code(email, purpose).await? else { return Err(wrong().await) };
        if stored.expires_at <= now || stored.attempts >= CODE_ATTEMPTS {
            self.store.delete_email_code(email, purpose).await?;
            return Err(wrong().await);
        }
        if !code_matches(&stored.code_hash, code.trim()) {
            if self.store.bump_email_code(email, purpose).await? >= CODE_ATTEMPTS {
                self.store.delete_email_code(email, purpose).await?;
            }
            return Err(wrong().await);
        }
        self.store.delete_email_code(email, purpose).await?;
        // A right code is not a wrong guess.
        throttle::give_back(&*self.store, &throttle::GUESS_ACCOUNT, email, &taken).await?;
        Ok(stored)
    }

    /// Starts a sign-up: mails a code bound to this password; the account is created only when the
    /// code is confirmed. A verified account with that address gets nothing, and a pending sign-up
    /// is not replaced by one with another password (only its code's holder completes it), and the
    /// caller cannot tell either apart from a fresh sign-up.
    pub async fn signup(&self, ip: &IpAddr, email: &str, password: &str) -> Result<(), AppError> {
        if !self.settings.signup {
            return Err(AppError::forbidden("sign-up is closed on this server; ask an administrator for an account"));
        }
        let email = normalize_email(email)?;
        check_password(password).map_err(weak)?;
        let hash = hash_blocking(password.to_string()).await?;
        self.take_issue(&email, ip, now_ms()).await?;
        if self.store.user_by_email(&email).await?.is_some_and(|u| u.verified) {
            self.audit((None, &email), "signup_existing", &email, ip, "").await;
            return Ok(());
        }
        if let Some(pending) = self.store.email_code(&email, "signup").await?
            && pending.expires_at > now_ms()
            && pending.attempts < CODE_ATTEMPTS
            && !verify_blocking(password.to_string(), pending.secret.clone()).await?
        {
            self.audit((None, &email), "signup_pending", &email, ip, "a pending sign-up with another password stays")
                .await;
            return Ok(());
        }
        self.send_code(&email, "signup", hash).await?;
        self.audit((None, &email), "signup", &email, ip, "").await;
        Ok(())
    }

    /// Completes a sign-up with the mailed code: creates the account with the password the code was
    /// issued for.
    pub async fn verify(&self, ip: &IpAddr, email: &str, code: &str) -> Result<(), AppError> {
        let email = normalize_email(email)?;
        let stored = self.take_code(ip, &email, "signup", code).await?;
        let id = match self.store.user_by_email(&email).await? {
            Some(u) if u.verified => return Ok(()),
            // An unverified account from before codes carried their password.
            Some(u) => {
                if !stored.secret.is_empty() {
                    self.store.set_password(u.id, &stored.secret).await?;
                }
                self.store.set_verified(u.id).await?;
                u.id
            }
            None => {
                if stored.secret.is_empty() {
                    return Err(invalid_code());
                }
                let role = self.settings.signup_role;
                match self.store.create_user(&email, &stored.secret, role, true, now_ms()).await? {
                    Some(id) => id,
                    None => return Err(invalid_code()),
                }
            }
        };
        self.audit((Some(id), &email), "signup_verified", &email, ip, "").await;
        crate::coins::grant_signup(&*self.store, id, self.settings.signup_coins).await?;
        Ok(())
    }

    /// A new browser session: its id (for the cookie) and CSRF token. Old ids are never reused, so
    /// a session id planted before login is worthless after it.
    pub async fn open_session(&self, user: &User) -> Result<(String, String), AppError> {
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
        self.store.create_session(&row).await?;
        Ok((id, csrf))
    }

    /// Checks a login, throttled per (account, address), per address and per account from unknown
    /// addresses; the attempt is counted before the password is verified. On success opens a
    /// session and returns (user, session id, CSRF token).
    pub async fn login(&self, ip: &IpAddr, email: &str, password: &str) -> Result<(User, String, String), AppError> {
        let email = normalize_email(email).map_err(|_| bad_login())?;
        let now = now_ms();
        if let Err(wait) = throttle::login_take(&*self.store, &email, ip, now).await? {
            return Err(too_many(wait, "too many failed sign-in attempts"));
        }
        let user = self.store.user_by_email(&email).await?;
        // Without an account, a pending sign-up's password is checked, so its owner learns the
        // address still needs its code; anyone else sees a wrong password.
        let pending = match &user {
            None => {
                self.store.email_code(&email, "signup").await?.filter(|c| c.expires_at > now && !c.secret.is_empty())
            }
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
            self.audit((None, &email), "login_failed", &email, ip, "").await;
            return Err(bad_login());
        };
        // The password was right, so saying why the login cannot proceed reveals nothing new.
        if user.disabled {
            self.audit((Some(user.id), &email), "login_refused", &email, ip, "account disabled").await;
            return Err(
                AppError::forbidden("this account is disabled; ask an administrator").with_code("account_disabled")
            );
        }
        if !user.verified {
            return Err(unverified());
        }
        throttle::login_succeeded(&*self.store, &email, ip, now).await?;
        self.store.record_login(user.id, now).await?;
        let (id, csrf) = self.open_session(&user).await?;
        self.audit((Some(user.id), &email), "login", &email, ip, "").await;
        Ok((user, id, csrf))
    }

    /// Ends the actor's session, if they came with one.
    pub async fn logout(&self, ip: &IpAddr, p: &Actor) -> Result<(), AppError> {
        if let Via::Session { id_hash, .. } = &p.via {
            self.store.delete_session(id_hash).await?;
        }
        self.credentials_changed();
        self.audit(who(p), "logout", &p.email, ip, "").await;
        Ok(())
    }

    /// Changes the caller's password and ends all their sessions; with `revoke_keys`, every API key
    /// too. A browser caller gets a new session (returned) so they stay signed in where they are.
    pub async fn change_password(
        &self,
        ip: &IpAddr,
        p: &Actor,
        current: &str,
        new: &str,
        revoke_keys: bool,
    ) -> Result<Option<(String, String)>, AppError> {
        let user = self
            .store
            .user(p.user_id)
            .await?
            .ok_or_else(|| AppError::unauthenticated("sign in, or send an API key as `Authorization: Bearer …`"))?;
        if !verify_blocking(current.to_string(), user.password_hash.clone()).await? {
            self.audit(who(p), "password_change_failed", &p.email, ip, "").await;
            return Err(AppError::invalid("the current password is wrong").with_code("invalid_credentials"));
        }
        check_password(new).map_err(weak)?;
        let hash = hash_blocking(new.to_string()).await?;
        self.store.set_password(user.id, &hash).await?;
        let detail = if revoke_keys {
            let n = self.store.revoke_user_api_keys(user.id, now_ms()).await?;
            format!("all sessions ended, {n} API keys revoked")
        } else {
            "all sessions ended".to_string()
        };
        self.credentials_changed();
        self.audit(who(p), "password_changed", &p.email, ip, &detail).await;
        match p.via {
            Via::Session { .. } => Ok(Some(self.open_session(&user).await?)),
            Via::Key { .. } | Via::CommandLine => Ok(None),
        }
    }

    /// Mails a reset code if the address has a verified account; the caller cannot tell (the same
    /// limits apply either way).
    pub async fn request_reset(&self, ip: &IpAddr, email: &str) -> Result<(), AppError> {
        let email = normalize_email(email)?;
        self.take_issue(&email, ip, now_ms()).await?;
        match self.store.user_by_email(&email).await? {
            Some(u) if u.verified && !u.disabled => {
                self.send_code(&email, "reset", String::new()).await?;
                self.audit((Some(u.id), &email), "password_reset_requested", &email, ip, "").await;
            }
            _ => self.audit((None, &email), "password_reset_unknown", &email, ip, "").await,
        }
        Ok(())
    }

    /// Sets a new password with a mailed reset code. This is account recovery: every session and
    /// every API key of the account is revoked, and the owner is told by mail.
    pub async fn confirm_reset(&self, ip: &IpAddr, email: &str, code: &str, new: &str) -> Result<(), AppError> {
        let email = normalize_email(email)?;
        check_password(new).map_err(weak)?;
        self.take_code(ip, &email, "reset", code).await?;
        let Some(user) = self.store.user_by_email(&email).await? else { return Err(invalid_code()) };
        let hash = hash_blocking(new.to_string()).await?;
        self.store.set_password(user.id, &hash).await?;
        let keys = self.store.revoke_user_api_keys(user.id, now_ms()).await?;
        self.credentials_changed();
        throttle::account_recovered(&*self.store, &email).await?;
        let detail = format!("all sessions ended, {keys} API keys revoked");
        self.audit((Some(user.id), &email), "password_reset", &email, ip, &detail).await;
        self.notify(
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

    /// Creates an API key for the caller; the token is returned once and never again.
    pub async fn create_key(
        &self,
        ip: &IpAddr,
        p: &Actor,
        name: &str,
        scopes: &[String],
        expires_in_days: u32,
    ) -> Result<(ApiKeyRow, String), AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::malformed("name the key (1 to 100 characters)"));
        }
        if !(1..=MAX_KEY_DAYS).contains(&expires_in_days) {
            return Err(AppError::malformed(format!("expires_in_days must be between 1 and {MAX_KEY_DAYS}")));
        }
        let mut parsed: Vec<Scope> = Vec::new();
        for s in scopes {
            let scope = Scope::parse(s)
                .ok_or_else(|| AppError::malformed(format!("unknown scope {s:?}; use read, jobs or admin")))?;
            if !parsed.contains(&scope) {
                parsed.push(scope);
            }
        }
        if parsed.is_empty() {
            return Err(AppError::malformed("give the key at least one scope: read, jobs or admin"));
        }
        may_manage_keys(p)?;
        if let Some(s) = parsed.iter().find(|s| !p.can(**s)) {
            return Err(AppError::forbidden(format!("you cannot give a key the {} scope you do not have", s.as_str())));
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
        let id = self.store.create_api_key(&new, now).await?;
        let row =
            self.store.api_key_by_prefix(&prefix).await?.ok_or_else(|| AppError::internal("a new key vanished"))?;
        self.audit(who(p), "key_created", &format!("key {id} ({prefix})"), ip, &new.scopes).await;
        Ok((row, token))
    }

    /// Revokes one of the caller's keys (any key, for admins). 404 for keys the caller cannot see.
    pub async fn revoke_key(&self, ip: &IpAddr, p: &Actor, id: i64) -> Result<(), AppError> {
        may_manage_keys(p)?;
        let owner = if p.is_admin() { None } else { Some(p.user_id) };
        if !self.store.revoke_api_key(id, owner, now_ms()).await? {
            return Err(AppError::not_found(format!("no live key {id}")));
        }
        self.credentials_changed();
        self.audit(who(p), "key_revoked", &format!("key {id}"), ip, "").await;
        Ok(())
    }

    /// An administrator changes a user's role or disables them. Admins cannot demote or disable
    /// themselves, so a server cannot lose its last administrator by accident.
    pub async fn update_user(
        &self,
        ip: &IpAddr,
        p: &Actor,
        id: i64,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User, AppError> {
        let user = self.store.user(id).await?.ok_or_else(|| AppError::not_found(format!("no user {id}")))?;
        if id == p.user_id && (role.is_some_and(|r| r != Role::Admin) || disabled == Some(true)) {
            return Err(AppError::conflict("you cannot demote or disable yourself"));
        }
        if let Some(r) = role.filter(|r| *r != user.role) {
            self.store.set_role(id, r).await?;
            self.audit(who(p), "role_changed", &user.email, ip, &format!("{} -> {}", user.role.as_str(), r.as_str()))
                .await;
        }
        if let Some(d) = disabled.filter(|d| *d != user.disabled) {
            self.store.set_disabled(id, d).await?;
            self.audit(who(p), if d { "user_disabled" } else { "user_enabled" }, &user.email, ip, "").await;
        }
        self.credentials_changed();
        self.store.user(id).await?.ok_or_else(|| AppError::not_found(format!("no user {id}")))
    }

    /// Creates a verified account, or (with `reset`) gives an existing one this password and role.
    /// For the command line and the demo; not reachable over HTTP.
    pub async fn ensure_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
        reset: bool,
    ) -> Result<(User, bool), AppError> {
        let store = &self.store;
        let email = normalize_email(email)?;
        check_password(password).map_err(weak)?;
        let hash = hash_blocking(password.to_string()).await?;
        let created = match store.user_by_email(&email).await? {
            Some(u) if !reset => {
                return Err(AppError::conflict(format!(
                    "{} already has an account (role {})",
                    u.email,
                    u.role.as_str()
                )));
            }
            Some(u) => {
                store.set_password(u.id, &hash).await?;
                store.set_role(u.id, role).await?;
                store.set_verified(u.id).await?;
                store.set_disabled(u.id, false).await?;
                self.credentials_changed();
                false
            }
            None => {
                store.create_user(&email, &hash, role, true, now_ms()).await?;
                true
            }
        };
        let user = store.user_by_email(&email).await?.ok_or_else(|| AppError::internal("the account vanished"))?;
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
        store.audit(&e).await?;
        Ok((user, created))
    }
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
