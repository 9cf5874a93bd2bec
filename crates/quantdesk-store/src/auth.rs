//! Accounts and their secrets: users, browser sessions, API keys, e-mail codes, failed-login
//! counters and the audit log.
//!
//! The store keeps only hashes of secrets (the HTTP layer hashes them) and never decides policy:
//! expiry, throttling and scopes are the caller's. All times are Unix milliseconds.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// What a user may do. Ordered by power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "analyst" => Role::Analyst,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// Lower-case.
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub verified: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

/// A browser session (the id itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// A stored API key (the secret is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The public part of the key, unique; shown in lists so a user can tell keys apart.
    pub prefix: String,
    pub secret_hash: String,
    /// Comma-separated scopes.
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub scopes: String,
    pub expires_at: Option<i64>,
}

/// A pending e-mail code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode {
    pub code_hash: String,
    pub sent_at: i64,
    pub expires_at: i64,
    pub attempts: i64,
    /// What confirming the code sets: a sign-up's password hash (empty for other purposes).
    pub secret: String,
}

/// An abuse-limit counter: attempts taken in the window that began at `window_start`, the last
/// at `last_at`. The caller decides the policy; the store only compares and sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub window_start: i64,
    pub n: i64,
    pub last_at: i64,
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    /// Who acted (an e-mail address, or `system`).
    pub actor: String,
    /// A stable name: `login`, `login_failed`, `key_created`, `key_revoked`, `role_changed`, …
    pub event: String,
    /// What it was done to.
    pub target: String,
    pub ip: String,
    pub detail: String,
}

/// Filters for the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub event: Option<String>,
    /// Substring of the actor or target.
    pub text: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Storage of accounts.
#[async_trait]
pub trait AuthStore: Send + Sync + 'static {
    /// Creates a user; `None` when the e-mail address is taken.
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
        verified: bool,
        now: i64,
    ) -> Result<Option<i64>>;
    async fn user(&self, id: i64) -> Result<Option<User>>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    async fn users(&self) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<u64>;
    /// A user's setting, if set.
    async fn pref(&self, user_id: i64, name: &str) -> Result<Option<String>>;
    /// Sets a user's setting; `false` (nothing written) when the user already has `max` other
    /// settings.
    async fn put_pref(&self, user_id: i64, name: &str, value: &str, now: i64, max: u64) -> Result<bool>;
    /// Sessions seen at or after `since` (Unix ms): the signed-in users of the last while.
    async fn count_active_sessions(&self, since: i64) -> Result<u64>;
    async fn set_role(&self, id: i64, role: Role) -> Result<bool>;
    async fn set_disabled(&self, id: i64, disabled: bool) -> Result<bool>;
    async fn set_verified(&self, id: i64) -> Result<bool>;
    /// Replaces the password hash and ends every session of the user, in one transaction.
    async fn set_password(&self, id: i64, password_hash: &str) -> Result<bool>;
    async fn record_login(&self, id: i64, now: i64) -> Result<()>;

    async fn create_session(&self, s: &SessionRow) -> Result<()>;
    /// The session and its user.
    async fn session(&self, id_hash: &str) -> Result<Option<(SessionRow, User)>>;
    async fn touch_session(&self, id_hash: &str, now: i64) -> Result<()>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Ends every session of a user; returns how many.
    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64>;
    /// Forgets sessions last seen before `idle_before` or created before `created_before`.
    async fn prune_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64>;

    async fn create_api_key(&self, k: &NewApiKey, now: i64) -> Result<i64>;
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRow>>;
    /// Keys of one user, or of everyone when `None`; newest first.
    async fn api_keys(&self, user_id: Option<i64>) -> Result<Vec<ApiKeyRow>>;
    /// Revokes a key (of `user_id` when given). False when there was no such live key.
    async fn revoke_api_key(&self, id: i64, user_id: Option<i64>, now: i64) -> Result<bool>;
    async fn touch_api_key(&self, id: i64, now: i64) -> Result<()>;

    /// Stores a new code for (email, purpose) unless one was sent after `resend_after`; false
    /// when it was too soon (the earlier code stays valid).
    async fn put_email_code(&self, email: &str, purpose: &str, code: &EmailCode, resend_after: i64) -> Result<bool>;
    async fn email_code(&self, email: &str, purpose: &str) -> Result<Option<EmailCode>>;
    /// Counts a wrong guess; returns the attempts so far.
    async fn bump_email_code(&self, email: &str, purpose: &str) -> Result<i64>;
    async fn delete_email_code(&self, email: &str, purpose: &str) -> Result<()>;

    async fn record_failure(&self, key: &str, at: i64) -> Result<()>;
    /// Failures of `key` at or after `since`: how many, and the latest time.
    async fn failures(&self, key: &str, since: i64) -> Result<(u64, Option<i64>)>;
    async fn clear_failures(&self, key: &str) -> Result<()>;
    async fn prune_failures(&self, before: i64) -> Result<u64>;

    /// The counter of `key`, if any.
    async fn counter(&self, key: &str) -> Result<Option<Counter>>;
    /// Sets the counter of `key` to `new` only if it is still `expected` (`None`: absent).
    /// False when another writer got there first; concurrent callers never both succeed.
    async fn cas_counter(&self, key: &str, expected: Option<&Counter>, new: &Counter) -> Result<bool>;
    /// Sets the counter of `key`, whatever it was.
    async fn put_counter(&self, key: &str, c: &Counter) -> Result<()>;
    async fn delete_counter(&self, key: &str) -> Result<()>;
    /// Forgets counters whose key is LIKE `pattern` and whose last attempt is before `before`.
    async fn prune_counters(&self, pattern: &str, before: i64) -> Result<u64>;
    /// Revokes every live key of a user; returns how many.
    async fn revoke_user_api_keys(&self, user_id: i64, now: i64) -> Result<u64>;

    async fn audit(&self, e: &AuditEvent) -> Result<()>;
    async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>>;
}

pub(crate) const USER_COLUMNS: &str = "id, email, password_hash, role, verified, disabled, created_at, last_login_at";
pub(crate) const KEY_COLUMNS: &str =
    "id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at";

pub(crate) type UserTuple = (i64, String, String, String, i64, i64, i64, Option<i64>);
pub(crate) type KeyTuple = (i64, i64, String, String, String, String, i64, Option<i64>, Option<i64>, Option<i64>);
pub(crate) type AuditTuple = (i64, i64, Option<i64>, String, String, String, String, String);

pub(crate) fn user_from(t: UserTuple) -> Result<User> {
    Ok(User {
        id: t.0,
        email: t.1,
        password_hash: t.2,
        role: Role::parse(&t.3).ok_or_else(|| crate::StoreError::Corrupt(format!("role {:?}", t.3)))?,
        verified: t.4 != 0,
        disabled: t.5 != 0,
        created_at: t.6,
        last_login_at: t.7,
    })
}

pub(crate) fn key_from(t: KeyTuple) -> ApiKeyRow {
    ApiKeyRow {
        id: t.0,
        user_id: t.1,
        name: t.2,
        prefix: t.3,
        secret_hash: t.4,
        scopes: t.5,
        created_at: t.6,
        expires_at: t.7,
        last_used_at: t.8,
        revoked_at: t.9,
    }
}

pub(crate) fn audit_from(t: AuditTuple) -> AuditEvent {
    AuditEvent { id: t.0, at: t.1, user_id: t.2, actor: t.3, event: t.4, target: t.5, ip: t.6, detail: t.7 }
}

/// Implements [`AuthStore`] for a backend (the SQL is the same on both).
macro_rules! auth_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::auth::AuthStore for $store {
            async fn create_user(
                &self,
                email: &str,
                password_hash: &str,
                role: $crate::auth::Role,
                verified: bool,
                now: i64,
            ) -> $crate::Result<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO users (email, password_hash, role, verified, disabled, created_at) VALUES ($1, $2, $3, $4, 0, $5) \
                     ON CONFLICT (email) DO NOTHING RETURNING id",
                )
                .bind(email)
                .bind(password_hash)
                .bind(role.as_str())
                .bind(i64::from(verified))
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn user(&self, id: i64) -> $crate::Result<Option<$crate::auth::User>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM users WHERE id = $1", $crate::auth::USER_COLUMNS));
                let row: Option<$crate::auth::UserTuple> = sqlx::query_as(sql).bind(id).fetch_optional(&self.pool).await?;
                row.map($crate::auth::user_from).transpose()
            }

            async fn user_by_email(&self, email: &str) -> $crate::Result<Option<$crate::auth::User>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM users WHERE email = $1", $crate::auth::USER_COLUMNS));
                let row: Option<$crate::auth::UserTuple> = sqlx::query_as(sql).bind(email).fetch_optional(&self.pool).await?;
                row.map($crate::auth::user_from).transpose()
            }

            async fn users(&self) -> $crate::Result<Vec<$crate::auth::User>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM users ORDER BY id", $crate::auth::USER_COLUMNS));
                let rows: Vec<$crate::auth::UserTuple> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::auth::user_from).collect()
            }

            async fn count_users(&self) -> $crate::Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users").fetch_one(&self.pool).await?;
                Ok(n as u64)
            }

            async fn pref(&self, user_id: i64, name: &str) -> $crate::Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT value FROM user_prefs WHERE user_id = $1 AND name = $2")
                    .bind(user_id)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_pref(&self, user_id: i64, name: &str, value: &str, now: i64, max: u64) -> $crate::Result<bool> {
                // One statement: a read then a write in one SQLite transaction fails at once when
                // another connection wrote in between (SQLITE_BUSY_SNAPSHOT).
                let n = sqlx::query(
                    "INSERT INTO user_prefs (user_id, name, value, updated_at) SELECT $1, $2, $3, $4 \
                     WHERE (SELECT COUNT(*) FROM user_prefs WHERE user_id = $1 AND name <> $2) < $5 \
                     ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(name)
                .bind(value)
                .bind(now)
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn count_active_sessions(&self, since: i64) -> $crate::Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM sessions WHERE last_seen >= $1")
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn set_role(&self, id: i64, role: $crate::auth::Role) -> $crate::Result<bool> {
                let n = sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                    .bind(id)
                    .bind(role.as_str())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn set_disabled(&self, id: i64, disabled: bool) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                    .bind(id)
                    .bind(i64::from(disabled))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(n == 1)
            }

            async fn set_verified(&self, id: i64) -> $crate::Result<bool> {
                let n = sqlx::query("UPDATE users SET verified = 1 WHERE id = $1").bind(id).execute(&self.pool).await?.rows_affected();
                Ok(n == 1)
            }

            async fn set_password(&self, id: i64, password_hash: &str) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                    .bind(id)
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(n == 1)
            }

            async fn record_login(&self, id: i64, now: i64) -> $crate::Result<()> {
                sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1").bind(id).bind(now).execute(&self.pool).await?;
                Ok(())
            }

            async fn create_session(&self, s: &$crate::auth::SessionRow) -> $crate::Result<()> {
                sqlx::query("INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&s.id_hash)
                    .bind(s.user_id)
                    .bind(&s.csrf)
                    .bind(s.created_at)
                    .bind(s.last_seen)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session(&self, id_hash: &str) -> $crate::Result<Option<($crate::auth::SessionRow, $crate::auth::User)>> {
                let row: Option<(String, i64, String, i64, i64)> = sqlx::query_as(
                    "SELECT id_hash, user_id, csrf, created_at, last_seen FROM sessions WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(r) = row else { return Ok(None) };
                let Some(user) = $crate::auth::AuthStore::user(self, r.1).await? else { return Ok(None) };
                Ok(Some((
                    $crate::auth::SessionRow { id_hash: r.0, user_id: r.1, csrf: r.2, created_at: r.3, last_seen: r.4 },
                    user,
                )))
            }

            async fn touch_session(&self, id_hash: &str, now: i64) -> $crate::Result<()> {
                sqlx::query("UPDATE sessions SET last_seen = $2 WHERE id_hash = $1").bind(id_hash).bind(now).execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_session(&self, id_hash: &str) -> $crate::Result<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_user_sessions(&self, user_id: i64) -> $crate::Result<u64> {
                Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?.rows_affected())
            }

            async fn prune_sessions(&self, idle_before: i64, created_before: i64) -> $crate::Result<u64> {
                Ok(sqlx::query("DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2")
                    .bind(idle_before)
                    .bind(created_before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn create_api_key(&self, k: &$crate::auth::NewApiKey, now: i64) -> $crate::Result<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO api_keys (user_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(k.user_id)
                .bind(&k.name)
                .bind(&k.prefix)
                .bind(&k.secret_hash)
                .bind(&k.scopes)
                .bind(now)
                .bind(k.expires_at)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn api_key_by_prefix(&self, prefix: &str) -> $crate::Result<Option<$crate::auth::ApiKeyRow>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM api_keys WHERE prefix = $1", $crate::auth::KEY_COLUMNS));
                let row: Option<$crate::auth::KeyTuple> = sqlx::query_as(sql).bind(prefix).fetch_optional(&self.pool).await?;
                Ok(row.map($crate::auth::key_from))
            }

            async fn api_keys(&self, user_id: Option<i64>) -> $crate::Result<Vec<$crate::auth::ApiKeyRow>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_keys WHERE ($1 IS NULL OR user_id = $1) ORDER BY id DESC",
                    $crate::auth::KEY_COLUMNS
                ));
                let rows: Vec<$crate::auth::KeyTuple> = sqlx::query_as(sql).bind(user_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::auth::key_from).collect())
            }

            async fn revoke_api_key(&self, id: i64, user_id: Option<i64>, now: i64) -> $crate::Result<bool> {
                let n = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND ($2 IS NULL OR user_id = $2) AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(user_id)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn touch_api_key(&self, id: i64, now: i64) -> $crate::Result<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1").bind(id).bind(now).execute(&self.pool).await?;
                Ok(())
            }

            async fn put_email_code(
                &self,
                email: &str,
                purpose: &str,
                c: &$crate::auth::EmailCode,
                resend_after: i64,
            ) -> $crate::Result<bool> {
                let n = sqlx::query(
                    "INSERT INTO email_codes (email, purpose, code_hash, sent_at, expires_at, attempts, secret) VALUES ($1, $2, $3, $4, $5, 0, $7) \
                     ON CONFLICT (email, purpose) DO UPDATE SET code_hash = excluded.code_hash, sent_at = excluded.sent_at, \
                     expires_at = excluded.expires_at, attempts = 0, secret = excluded.secret WHERE email_codes.sent_at <= $6",
                )
                .bind(email)
                .bind(purpose)
                .bind(&c.code_hash)
                .bind(c.sent_at)
                .bind(c.expires_at)
                .bind(resend_after)
                .bind(&c.secret)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn email_code(&self, email: &str, purpose: &str) -> $crate::Result<Option<$crate::auth::EmailCode>> {
                let row: Option<(String, i64, i64, i64, String)> = sqlx::query_as(
                    "SELECT code_hash, sent_at, expires_at, attempts, secret FROM email_codes WHERE email = $1 AND purpose = $2",
                )
                .bind(email)
                .bind(purpose)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| $crate::auth::EmailCode { code_hash: r.0, sent_at: r.1, expires_at: r.2, attempts: r.3, secret: r.4 }))
            }

            async fn bump_email_code(&self, email: &str, purpose: &str) -> $crate::Result<i64> {
                let n: Option<i64> = sqlx::query_scalar(
                    "UPDATE email_codes SET attempts = attempts + 1 WHERE email = $1 AND purpose = $2 RETURNING attempts",
                )
                .bind(email)
                .bind(purpose)
                .fetch_optional(&self.pool)
                .await?;
                Ok(n.unwrap_or(0))
            }

            async fn delete_email_code(&self, email: &str, purpose: &str) -> $crate::Result<()> {
                sqlx::query("DELETE FROM email_codes WHERE email = $1 AND purpose = $2")
                    .bind(email)
                    .bind(purpose)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn record_failure(&self, key: &str, at: i64) -> $crate::Result<()> {
                sqlx::query("INSERT INTO auth_failures (key, at) VALUES ($1, $2)").bind(key).bind(at).execute(&self.pool).await?;
                Ok(())
            }

            async fn failures(&self, key: &str, since: i64) -> $crate::Result<(u64, Option<i64>)> {
                let (n, last): (i64, Option<i64>) =
                    sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT), MAX(at) FROM auth_failures WHERE key = $1 AND at >= $2")
                        .bind(key)
                        .bind(since)
                        .fetch_one(&self.pool)
                        .await?;
                Ok((n as u64, last))
            }

            async fn clear_failures(&self, key: &str) -> $crate::Result<()> {
                sqlx::query("DELETE FROM auth_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn prune_failures(&self, before: i64) -> $crate::Result<u64> {
                Ok(sqlx::query("DELETE FROM auth_failures WHERE at < $1").bind(before).execute(&self.pool).await?.rows_affected())
            }

            async fn counter(&self, key: &str) -> $crate::Result<Option<$crate::auth::Counter>> {
                let row: Option<(i64, i64, i64)> =
                    sqlx::query_as("SELECT window_start, n, last_at FROM auth_counters WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|r| $crate::auth::Counter { window_start: r.0, n: r.1, last_at: r.2 }))
            }

            async fn cas_counter(
                &self,
                key: &str,
                expected: Option<&$crate::auth::Counter>,
                new: &$crate::auth::Counter,
            ) -> $crate::Result<bool> {
                let n = match expected {
                    None => sqlx::query(
                        "INSERT INTO auth_counters (key, window_start, n, last_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(new.window_start)
                    .bind(new.n)
                    .bind(new.last_at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
                    Some(old) => sqlx::query(
                        "UPDATE auth_counters SET window_start = $2, n = $3, last_at = $4 \
                         WHERE key = $1 AND window_start = $5 AND n = $6 AND last_at = $7",
                    )
                    .bind(key)
                    .bind(new.window_start)
                    .bind(new.n)
                    .bind(new.last_at)
                    .bind(old.window_start)
                    .bind(old.n)
                    .bind(old.last_at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
                };
                Ok(n == 1)
            }

            async fn put_counter(&self, key: &str, c: &$crate::auth::Counter) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO auth_counters (key, window_start, n, last_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, n = excluded.n, last_at = excluded.last_at",
                )
                .bind(key)
                .bind(c.window_start)
                .bind(c.n)
                .bind(c.last_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_counter(&self, key: &str) -> $crate::Result<()> {
                sqlx::query("DELETE FROM auth_counters WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn prune_counters(&self, pattern: &str, before: i64) -> $crate::Result<u64> {
                Ok(sqlx::query("DELETE FROM auth_counters WHERE key LIKE $1 AND last_at < $2")
                    .bind(pattern)
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn revoke_user_api_keys(&self, user_id: i64, now: i64) -> $crate::Result<u64> {
                Ok(sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(user_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn audit(&self, e: &$crate::auth::AuditEvent) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, user_id, actor, event, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(e.at)
                .bind(e.user_id)
                .bind(&e.actor)
                .bind(&e.event)
                .bind(&e.target)
                .bind(&e.ip)
                .bind(&e.detail)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn audit_log(&self, f: &$crate::auth::AuditFilter) -> $crate::Result<Vec<$crate::auth::AuditEvent>> {
                let like = f.text.as_ref().map(|t| format!("%{}%", t.to_lowercase()));
                let rows: Vec<$crate::auth::AuditTuple> = sqlx::query_as(
                    "SELECT id, at, user_id, actor, event, target, ip, detail FROM audit_log \
                     WHERE ($1 IS NULL OR event = $1) AND ($2 IS NULL OR LOWER(actor) LIKE $2 OR LOWER(target) LIKE $2) \
                     AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
                )
                .bind(f.event.as_deref())
                .bind(like)
                .bind(f.before_id)
                .bind(i64::from(f.limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::auth::audit_from).collect())
            }
        }
    };
}

pub(crate) use auth_store_impl;
