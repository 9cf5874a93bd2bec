//! The valuations port: saved valuation results (each user's history) and the result cache.
//!
//! A row is one valuation: who asked, which symbol as of which date under which profile, the
//! request and the result as JSON texts, the value per share for listings. The cache key is
//! (ts_code, valuation_date or '', request_hash, inputs_hash): `request_hash` is the SHA-256 of
//! the canonical request JSON ([`sha256_hex`] of the request with sorted keys), `inputs_hash` the
//! SHA-256 of the statements the model was given. A cached row is valid while the inputs hash
//! to the same value: a new or revised statement row changes the inputs and so misses, with no
//! write-time bookkeeping on `statements`. Both backends run the same SQL.
//!
//! Saved scenarios (`valuation_scenarios`) are per owner: a name unique per owner, an optional
//! preset and an overlay of `dotted.path=value` edits kept as a JSON array of those texts. Every
//! scenario method takes the owner and sees only that owner's rows; each is one statement, so a
//! write lands whole or not at all (a duplicate name is [`StoreError::Conflict`] and changes
//! nothing).

use async_trait::async_trait;
use sha2::Digest;

use crate::{Result, StoreError};

/// A valuation to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewValuation {
    pub owner: String,
    pub ts_code: String,
    /// `YYYY-MM-DD`, or empty when the request named no date.
    pub valuation_date: String,
    pub profile: String,
    pub request_hash: String,
    pub inputs_hash: String,
    /// The request's JSON text.
    pub request: String,
    /// The result's JSON text.
    pub result: String,
    pub value_per_share: Option<f64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A saved valuation.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedValuation {
    pub id: i64,
    pub owner: String,
    pub ts_code: String,
    pub valuation_date: String,
    pub profile: String,
    pub request_hash: String,
    pub inputs_hash: String,
    pub request: String,
    pub result: String,
    pub value_per_share: Option<f64>,
    pub created_at: i64,
}

/// A scenario to create, or the new content of one.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioWrite {
    pub name: String,
    /// The preset's name, or empty for none.
    pub preset: String,
    /// The overlay: a JSON array of `dotted.path=value` texts, in the order they apply.
    pub overlay: String,
    /// Unix milliseconds: `created_at` of a new scenario, `updated_at` of both.
    pub at: i64,
}

/// A saved scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedScenario {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub preset: String,
    pub overlay: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The cache key of a valuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey<'a> {
    pub ts_code: &'a str,
    pub valuation_date: &'a str,
    pub request_hash: &'a str,
    pub inputs_hash: &'a str,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The canonical JSON text of `value`: object keys sorted at every level, no whitespace.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

#[async_trait]
pub trait ValuationStore: Send + Sync {
    /// Saves a valuation; returns its id.
    async fn save_valuation(&self, v: &NewValuation) -> Result<i64>;
    /// The valuation with `id`, whoever owns it.
    async fn valuation(&self, id: i64) -> Result<Option<SavedValuation>>;
    /// `owner`'s valuations, newest first (then highest id), `limit` from `offset`.
    async fn list_valuations(&self, owner: &str, limit: u32, offset: u32) -> Result<Vec<SavedValuation>>;
    /// How many valuations `owner` has.
    async fn count_valuations(&self, owner: &str) -> Result<u64>;
    /// The newest valuation with this cache key, whoever saved it.
    async fn cached_valuation(&self, key: &CacheKey<'_>) -> Result<Option<SavedValuation>>;

    /// Creates `owner`'s scenario; returns its id. A name `owner` already uses is
    /// [`StoreError::Conflict`] (nothing written).
    async fn create_scenario(&self, owner: &str, s: &ScenarioWrite) -> Result<i64>;
    /// `owner`'s scenarios, by name.
    async fn list_scenarios(&self, owner: &str) -> Result<Vec<SavedScenario>>;
    /// How many scenarios `owner` has.
    async fn count_scenarios(&self, owner: &str) -> Result<u64>;
    /// `owner`'s scenario `id` (`None` when it is missing or someone else's).
    async fn scenario(&self, owner: &str, id: i64) -> Result<Option<SavedScenario>>;
    /// `owner`'s scenario named `name`.
    async fn scenario_by_name(&self, owner: &str, name: &str) -> Result<Option<SavedScenario>>;
    /// Replaces the name, preset and overlay of `owner`'s scenario `id` (`updated_at` = `s.at`);
    /// false when it is missing or someone else's. Renaming onto a name `owner` already uses is
    /// [`StoreError::Conflict`] (nothing changed).
    async fn update_scenario(&self, owner: &str, id: i64, s: &ScenarioWrite) -> Result<bool>;
    /// Deletes `owner`'s scenario `id`; false when it is missing or someone else's.
    async fn delete_scenario(&self, owner: &str, id: i64) -> Result<bool>;
}

pub(crate) const SCENARIO_COLUMNS: &str = "id, owner, name, preset, overlay, created_at, updated_at";

pub(crate) type ScenarioTuple = (i64, String, String, String, String, i64, i64);

pub(crate) fn scenario_from(t: ScenarioTuple) -> SavedScenario {
    let (id, owner, name, preset, overlay, created_at, updated_at) = t;
    SavedScenario { id, owner, name, preset, overlay, created_at, updated_at }
}

pub(crate) const VALUATION_COLUMNS: &str = "id, owner, ts_code, valuation_date, profile, request_hash, inputs_hash, \
     request, result, value_per_share, created_at";

pub(crate) type ValuationTuple =
    (i64, String, String, String, String, String, String, String, String, Option<f64>, i64);

pub(crate) fn valuation_from(t: ValuationTuple) -> SavedValuation {
    let (id, owner, ts_code, valuation_date, profile, request_hash, inputs_hash, request, result, vps, created_at) = t;
    SavedValuation {
        id,
        owner,
        ts_code,
        valuation_date,
        profile,
        request_hash,
        inputs_hash,
        request,
        result,
        value_per_share: vps,
        created_at,
    }
}

/// Implements [`ValuationStore`] for a backend type with a `pool` field (the SQL is the same).
macro_rules! valuation_store_impl {
    ($store:ty) => {
        #[async_trait]
        impl ValuationStore for $store {
            async fn save_valuation(&self, v: &NewValuation) -> Result<i64> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO valuations (owner, ts_code, valuation_date, profile, request_hash, inputs_hash, \
                     request, result, value_per_share, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                )
                .bind(v.owner.as_str())
                .bind(v.ts_code.as_str())
                .bind(v.valuation_date.as_str())
                .bind(v.profile.as_str())
                .bind(v.request_hash.as_str())
                .bind(v.inputs_hash.as_str())
                .bind(v.request.as_str())
                .bind(v.result.as_str())
                .bind(v.value_per_share.filter(|x| x.is_finite()))
                .bind(v.created_at)
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn valuation(&self, id: i64) -> Result<Option<SavedValuation>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {VALUATION_COLUMNS} FROM valuations WHERE id = $1"));
                Ok(sqlx::query_as::<_, ValuationTuple>(sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(valuation_from))
            }

            async fn list_valuations(&self, owner: &str, limit: u32, offset: u32) -> Result<Vec<SavedValuation>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {VALUATION_COLUMNS} FROM valuations WHERE owner = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ));
                Ok(sqlx::query_as::<_, ValuationTuple>(sql)
                    .bind(owner)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(valuation_from)
                    .collect())
            }

            async fn count_valuations(&self, owner: &str) -> Result<u64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM valuations WHERE owner = $1")
                    .bind(owner)
                    .fetch_one(&self.pool)
                    .await?;
                u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} valuations")))
            }

            async fn cached_valuation(&self, key: &CacheKey<'_>) -> Result<Option<SavedValuation>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {VALUATION_COLUMNS} FROM valuations WHERE ts_code = $1 AND valuation_date = $2 \
                     AND request_hash = $3 AND inputs_hash = $4 ORDER BY created_at DESC, id DESC LIMIT 1"
                ));
                Ok(sqlx::query_as::<_, ValuationTuple>(sql)
                    .bind(key.ts_code)
                    .bind(key.valuation_date)
                    .bind(key.request_hash)
                    .bind(key.inputs_hash)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(valuation_from))
            }

            async fn create_scenario(&self, owner: &str, s: &ScenarioWrite) -> Result<i64> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO valuation_scenarios (owner, name, preset, overlay, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(owner)
                .bind(s.name.as_str())
                .bind(s.preset.as_str())
                .bind(s.overlay.as_str())
                .bind(s.at)
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn list_scenarios(&self, owner: &str) -> Result<Vec<SavedScenario>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {SCENARIO_COLUMNS} FROM valuation_scenarios WHERE owner = $1 ORDER BY name, id"
                ));
                Ok(sqlx::query_as::<_, ScenarioTuple>(sql)
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(scenario_from)
                    .collect())
            }

            async fn count_scenarios(&self, owner: &str) -> Result<u64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM valuation_scenarios WHERE owner = $1")
                    .bind(owner)
                    .fetch_one(&self.pool)
                    .await?;
                u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} scenarios")))
            }

            async fn scenario(&self, owner: &str, id: i64) -> Result<Option<SavedScenario>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {SCENARIO_COLUMNS} FROM valuation_scenarios WHERE id = $1 AND owner = $2"
                ));
                Ok(sqlx::query_as::<_, ScenarioTuple>(sql)
                    .bind(id)
                    .bind(owner)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(scenario_from))
            }

            async fn scenario_by_name(&self, owner: &str, name: &str) -> Result<Option<SavedScenario>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {SCENARIO_COLUMNS} FROM valuation_scenarios WHERE owner = $1 AND name = $2"
                ));
                Ok(sqlx::query_as::<_, ScenarioTuple>(sql)
                    .bind(owner)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(scenario_from))
            }

            async fn update_scenario(&self, owner: &str, id: i64, s: &ScenarioWrite) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE valuation_scenarios SET name = $1, preset = $2, overlay = $3, updated_at = $4 \
                     WHERE id = $5 AND owner = $6",
                )
                .bind(s.name.as_str())
                .bind(s.preset.as_str())
                .bind(s.overlay.as_str())
                .bind(s.at)
                .bind(id)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_scenario(&self, owner: &str, id: i64) -> Result<bool> {
                let done = sqlx::query("DELETE FROM valuation_scenarios WHERE id = $1 AND owner = $2")
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}
valuation_store_impl!(crate::SqliteStore);
valuation_store_impl!(crate::PgStore);

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = serde_json::json!({"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": null}});
        assert_eq!(super::canonical_json(&a), r#"{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}"#);
        assert_eq!(super::sha256_hex(b"").len(), 64);
    }
}
