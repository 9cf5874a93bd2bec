//! The LLM providers port: the OpenAI-compatible endpoints an admin configured, in their fallback
//! order (`position` ascending, then id; the first is the default).
//!
//! The store never sees a key in the clear: `api_key_enc` is what the application layer
//! encrypted (empty for no key), `api_key_last4` what it lets people see. Names are unique (a
//! duplicate is [`StoreError::Conflict`], nothing written). Each write is one statement, except
//! [`LlmProviderStore::reorder_llm_providers`], which is one transaction.

use async_trait::async_trait;

use crate::{Result, StoreError};

/// A provider's content, for a create or a full update.
#[derive(Clone, PartialEq)]
pub struct LlmProviderWrite {
    pub name: String,
    /// The preset it started from (`deepseek`, `qwen`…), or empty.
    pub preset: String,
    pub base_url: String,
    pub model: String,
    /// The encrypted key, or empty for none.
    pub api_key_enc: String,
    /// The key's last four characters, or empty.
    pub api_key_last4: String,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<i64>,
    pub timeout_secs: i64,
    /// Unix milliseconds: `created_at` of a new provider, `updated_at` of both.
    pub at: i64,
}

/// A stored provider.
#[derive(Clone, PartialEq)]
pub struct StoredLlmProvider {
    pub id: i64,
    pub name: String,
    pub preset: String,
    pub base_url: String,
    pub model: String,
    pub api_key_enc: String,
    pub api_key_last4: String,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<i64>,
    pub timeout_secs: i64,
    pub position: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for StoredLlmProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLlmProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("has_key", &!self.api_key_enc.is_empty())
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LlmProviderWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmProviderWrite")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("has_key", &!self.api_key_enc.is_empty())
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait LlmProviderStore: Send + Sync {
    /// Adds a provider at the end of the fallback order; returns its id.
    async fn create_llm_provider(&self, p: &LlmProviderWrite) -> Result<i64>;
    /// Every provider in the fallback order.
    async fn llm_providers(&self) -> Result<Vec<StoredLlmProvider>>;
    async fn llm_provider(&self, id: i64) -> Result<Option<StoredLlmProvider>>;
    /// Replaces provider `id`'s content (not its position; `updated_at` = `p.at`); false when it
    /// does not exist.
    async fn update_llm_provider(&self, id: i64, p: &LlmProviderWrite) -> Result<bool>;
    /// False when it does not exist.
    async fn delete_llm_provider(&self, id: i64) -> Result<bool>;
    /// Puts `ids` in this order (positions 0, 1, …) in one transaction. Every id must exist, else
    /// [`StoreError::NotFound`] and nothing changes.
    async fn reorder_llm_providers(&self, ids: &[i64]) -> Result<()>;
}

pub(crate) const COLUMNS: &str = "id, name, preset, base_url, model, api_key_enc, api_key_last4, temperature, top_p, \
     max_tokens, timeout_secs, position, created_at, updated_at";

pub(crate) type Tuple =
    (i64, String, String, String, String, String, String, Option<f64>, Option<f64>, Option<i64>, i64, i64, i64, i64);

pub(crate) fn from_tuple(t: Tuple) -> StoredLlmProvider {
    let (
        id,
        name,
        preset,
        base_url,
        model,
        api_key_enc,
        api_key_last4,
        temperature,
        top_p,
        max_tokens,
        timeout_secs,
        position,
        created_at,
        updated_at,
    ) = t;
    StoredLlmProvider {
        id,
        name,
        preset,
        base_url,
        model,
        api_key_enc,
        api_key_last4,
        temperature,
        top_p,
        max_tokens,
        timeout_secs,
        position,
        created_at,
        updated_at,
    }
}

/// Implements [`LlmProviderStore`] for a backend type with a `pool` field (the SQL is the same).
macro_rules! llm_store_impl {
    ($store:ty) => {
        #[async_trait]
        impl LlmProviderStore for $store {
            async fn create_llm_provider(&self, p: &LlmProviderWrite) -> Result<i64> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO llm_providers (name, preset, base_url, model, api_key_enc, api_key_last4, \
                     temperature, top_p, max_tokens, timeout_secs, position, created_at, updated_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE(MAX(position) + 1, 0), $11, $11 \
                     FROM llm_providers RETURNING id",
                )
                .bind(p.name.as_str())
                .bind(p.preset.as_str())
                .bind(p.base_url.as_str())
                .bind(p.model.as_str())
                .bind(p.api_key_enc.as_str())
                .bind(p.api_key_last4.as_str())
                .bind(p.temperature)
                .bind(p.top_p)
                .bind(p.max_tokens)
                .bind(p.timeout_secs)
                .bind(p.at)
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn llm_providers(&self) -> Result<Vec<StoredLlmProvider>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM llm_providers ORDER BY position, id"));
                Ok(sqlx::query_as::<_, Tuple>(sql).fetch_all(&self.pool).await?.into_iter().map(from_tuple).collect())
            }

            async fn llm_provider(&self, id: i64) -> Result<Option<StoredLlmProvider>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM llm_providers WHERE id = $1"));
                Ok(sqlx::query_as::<_, Tuple>(sql).bind(id).fetch_optional(&self.pool).await?.map(from_tuple))
            }

            async fn update_llm_provider(&self, id: i64, p: &LlmProviderWrite) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE llm_providers SET name = $1, preset = $2, base_url = $3, model = $4, api_key_enc = $5, \
                     api_key_last4 = $6, temperature = $7, top_p = $8, max_tokens = $9, timeout_secs = $10, \
                     updated_at = $11 WHERE id = $12",
                )
                .bind(p.name.as_str())
                .bind(p.preset.as_str())
                .bind(p.base_url.as_str())
                .bind(p.model.as_str())
                .bind(p.api_key_enc.as_str())
                .bind(p.api_key_last4.as_str())
                .bind(p.temperature)
                .bind(p.top_p)
                .bind(p.max_tokens)
                .bind(p.timeout_secs)
                .bind(p.at)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_llm_provider(&self, id: i64) -> Result<bool> {
                let done = sqlx::query("DELETE FROM llm_providers WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn reorder_llm_providers(&self, ids: &[i64]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for (position, id) in ids.iter().enumerate() {
                    let done = sqlx::query("UPDATE llm_providers SET position = $1 WHERE id = $2")
                        .bind(position as i64)
                        .bind(*id)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!("llm provider {id}")));
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
llm_store_impl!(crate::SqliteStore);
llm_store_impl!(crate::PgStore);
