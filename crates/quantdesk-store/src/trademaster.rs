//! The TradeMaster-compatible API's sessions (`trademaster_sessions`) and the CSV files uploaded
//! into them (`trademaster_datasets`).
//!
//! A session belongs to the user who created it: every method takes the owner and sees only that
//! owner's rows, so another user's session is as absent as a missing one. A session's `state` is
//! JSON text the application layer owns; updates are a compare-and-set on `version`, so two
//! concurrent updates cannot both land on the same version. Each method is one statement: a
//! write lands whole or not at all.

use async_trait::async_trait;

use crate::Result;

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmSession {
    pub id: String,
    pub owner: String,
    /// JSON text.
    pub state: String,
    /// Grows by one on every update.
    pub version: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// Storage of the TradeMaster-compatible API's sessions.
#[async_trait]
pub trait TradeMasterStore: Send + Sync + 'static {
    /// Creates `owner`'s session `id` (version 0). An id in use is [`crate::StoreError::Conflict`].
    async fn create_tm_session(&self, owner: &str, id: &str, state: &str, now: i64) -> Result<()>;
    /// `owner`'s session `id` (`None` when it is missing or someone else's).
    async fn tm_session(&self, owner: &str, id: &str) -> Result<Option<TmSession>>;
    /// Replaces the state of `owner`'s session `id` if it is still at `version` (and moves it to
    /// `version + 1`); false when it is missing, someone else's or was updated meanwhile.
    async fn update_tm_session(&self, owner: &str, id: &str, version: i64, state: &str, now: i64) -> Result<bool>;
    /// Stores (or replaces) the file `name` of `owner`'s session `session`; false (nothing
    /// stored) when the session is missing or someone else's.
    async fn put_tm_dataset(&self, owner: &str, session: &str, name: &str, data: &[u8], now: i64) -> Result<bool>;
    /// The file `name` of `owner`'s session `session`.
    async fn tm_dataset(&self, owner: &str, session: &str, name: &str) -> Result<Option<Vec<u8>>>;
    /// The names of the files of `owner`'s session `session`, oldest first.
    async fn tm_dataset_names(&self, owner: &str, session: &str) -> Result<Vec<String>>;
}

type SessionTuple = (String, String, String, i64, i64, i64);

/// Implements [`TradeMasterStore`] for a backend type with a `pool` field (the SQL is the same).
macro_rules! trademaster_store_impl {
    ($store:ty) => {
        #[async_trait]
        impl TradeMasterStore for $store {
            async fn create_tm_session(&self, owner: &str, id: &str, state: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO trademaster_sessions (session_id, owner, state, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, 0, $4, $4)",
                )
                .bind(id)
                .bind(owner)
                .bind(state)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn tm_session(&self, owner: &str, id: &str) -> Result<Option<TmSession>> {
                let row: Option<SessionTuple> = sqlx::query_as(
                    "SELECT session_id, owner, state, version, created_at, updated_at FROM trademaster_sessions \
                     WHERE session_id = $1 AND owner = $2",
                )
                .bind(id)
                .bind(owner)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(id, owner, state, version, created_at, updated_at)| TmSession {
                    id,
                    owner,
                    state,
                    version,
                    created_at,
                    updated_at,
                }))
            }

            async fn update_tm_session(
                &self,
                owner: &str,
                id: &str,
                version: i64,
                state: &str,
                now: i64,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE trademaster_sessions SET state = $1, version = version + 1, updated_at = $2 \
                     WHERE session_id = $3 AND owner = $4 AND version = $5",
                )
                .bind(state)
                .bind(now)
                .bind(id)
                .bind(owner)
                .bind(version)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_tm_dataset(
                &self,
                owner: &str,
                session: &str,
                name: &str,
                data: &[u8],
                now: i64,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO trademaster_datasets (session_id, name, data, created_at) \
                     SELECT session_id, $1, $2, $3 FROM trademaster_sessions WHERE session_id = $4 AND owner = $5 \
                     ON CONFLICT (session_id, name) DO UPDATE SET data = excluded.data, created_at = excluded.created_at",
                )
                .bind(name)
                .bind(data)
                .bind(now)
                .bind(session)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn tm_dataset(&self, owner: &str, session: &str, name: &str) -> Result<Option<Vec<u8>>> {
                let row: Option<(Vec<u8>,)> = sqlx::query_as(
                    "SELECT d.data FROM trademaster_datasets d JOIN trademaster_sessions s ON s.session_id = d.session_id \
                     WHERE d.session_id = $1 AND d.name = $2 AND s.owner = $3",
                )
                .bind(session)
                .bind(name)
                .bind(owner)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(d,)| d))
            }

            async fn tm_dataset_names(&self, owner: &str, session: &str) -> Result<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT d.name FROM trademaster_datasets d JOIN trademaster_sessions s ON s.session_id = d.session_id \
                     WHERE d.session_id = $1 AND s.owner = $2 ORDER BY d.created_at, d.name",
                )
                .bind(session)
                .bind(owner)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(n,)| n).collect())
            }
        }
    };
}
trademaster_store_impl!(crate::SqliteStore);
trademaster_store_impl!(crate::PgStore);
