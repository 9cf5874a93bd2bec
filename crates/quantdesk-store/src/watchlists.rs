//! The watchlists port: each user's named lists of symbols.
//!
//! A user has one default list, created on first use by [`WatchlistStore::default_watchlist`]
//! (its name is '' until renamed; a partial unique index keeps it one per owner, so concurrent
//! first uses create one), and up to a configured number of lists in all, each holding up to a
//! configured number of symbols in the order the user gives them. Every method takes the owner
//! and sees only that owner's lists: someone else's list is the same `None`/`false` as a missing
//! one.
//!
//! Limits are enforced atomically: a write that counts first locks the owner's default list row
//! (adding to a list locks that list's row) with an `UPDATE` in the same transaction, so on
//! PostgreSQL concurrent writers of one owner or list queue behind the lock and each counts what
//! the previous one committed, and on SQLite the `UPDATE` takes the single write lock before the
//! count is read. Both backends run the same SQL.

use async_trait::async_trait;

use crate::{Result, StoreError};

/// A watchlist with how many symbols it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchlist {
    pub id: i64,
    pub owner: String,
    /// '' for a default list that was never renamed.
    pub name: String,
    pub is_default: bool,
    pub items: u32,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds: the last change of the list or its items.
    pub updated_at: i64,
}

/// One symbol of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchItem {
    pub symbol: String,
    /// Unix milliseconds.
    pub added_at: i64,
}

/// What adding a symbol did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Added at the end of the list.
    Added,
    /// The symbol is in the list already; nothing changed.
    Duplicate,
    /// The list holds the maximum number of symbols; nothing changed.
    Full,
    /// No such list of the owner's.
    NoList,
}

/// What a reorder did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReorderOutcome {
    Done,
    /// The symbols given are not exactly the list's symbols (each once); nothing changed.
    Mismatch,
    /// No such list of the owner's.
    NoList,
}

#[async_trait]
pub trait WatchlistStore: Send + Sync {
    /// `owner`'s default list, created (empty, named '') when `owner` has none.
    async fn default_watchlist(&self, owner: &str, at: i64) -> Result<Watchlist>;
    /// `owner`'s lists: the default first, then by creation.
    async fn list_watchlists(&self, owner: &str) -> Result<Vec<Watchlist>>;
    /// `owner`'s list `id` (`None` when it is missing or someone else's).
    async fn watchlist(&self, owner: &str, id: i64) -> Result<Option<Watchlist>>;
    /// Creates a list named `name` for `owner` (creating the default first if needed); `None` when
    /// `owner` has `max_lists` lists already (the default counts). A name `owner` uses is
    /// [`StoreError::Conflict`]. Nothing is written unless the list is.
    async fn create_watchlist(&self, owner: &str, name: &str, at: i64, max_lists: u32) -> Result<Option<i64>>;
    /// Renames `owner`'s list `id`; false when it is missing or someone else's; a name in use is
    /// [`StoreError::Conflict`] (nothing changed).
    async fn rename_watchlist(&self, owner: &str, id: i64, name: &str, at: i64) -> Result<bool>;
    /// Deletes `owner`'s list `id` with its items, unless it is the default; false when it is
    /// missing, someone else's or the default.
    async fn delete_watchlist(&self, owner: &str, id: i64) -> Result<bool>;
    /// The symbols of `owner`'s list `id` in order (`None` when it is missing or someone else's).
    async fn watchlist_items(&self, owner: &str, id: i64) -> Result<Option<Vec<WatchItem>>>;
    /// Appends `symbol` to `owner`'s list `id` unless it is there or the list holds `max_items`.
    async fn add_watchlist_item(
        &self,
        owner: &str,
        id: i64,
        symbol: &str,
        at: i64,
        max_items: u32,
    ) -> Result<AddOutcome>;
    /// Removes `symbol` from `owner`'s list `id`; false when it was not there (or the list is
    /// missing or someone else's).
    async fn remove_watchlist_item(&self, owner: &str, id: i64, symbol: &str, at: i64) -> Result<bool>;
    /// Puts the symbols of `owner`'s list `id` in the order of `symbols`, which must be exactly the
    /// list's symbols, each once.
    async fn reorder_watchlist(&self, owner: &str, id: i64, symbols: &[String], at: i64) -> Result<ReorderOutcome>;
}

pub(crate) const WATCHLIST_SELECT: &str = "SELECT w.id, w.owner, w.name, w.is_default, w.created_at, w.updated_at, \
     (SELECT COUNT(*) FROM watchlist_items i WHERE i.list_id = w.id) FROM watchlists w";

pub(crate) type WatchlistTuple = (i64, String, String, i64, i64, i64, i64);

pub(crate) fn watchlist_from(t: WatchlistTuple) -> Result<Watchlist> {
    let (id, owner, name, is_default, created_at, updated_at, items) = t;
    let items = u32::try_from(items).map_err(|_| StoreError::Corrupt(format!("watchlist {id}: {items} items")))?;
    Ok(Watchlist { id, owner, name, is_default: is_default != 0, items, created_at, updated_at })
}

/// Implements [`WatchlistStore`] for a backend type with a `pool` field (the SQL is the same).
macro_rules! watchlist_store_impl {
    ($store:ty) => {
        impl $store {
            /// Creates `owner`'s default list if there is none (a concurrent creator's insert
            /// makes this one do nothing).
            async fn ensure_default<'e, E>(exec: E, owner: &str, at: i64) -> Result<()>
            where
                E: sqlx::Executor<'e, Database = <$store as $crate::common::Backend>::Db>,
            {
                sqlx::query(
                    "INSERT INTO watchlists (owner, name, is_default, created_at, updated_at) \
                     SELECT $1, '', 1, $2, $2 WHERE NOT EXISTS \
                     (SELECT 1 FROM watchlists WHERE owner = $1 AND is_default = 1) ON CONFLICT DO NOTHING",
                )
                .bind(owner)
                .bind(at)
                .execute(exec)
                .await?;
                Ok(())
            }
        }

        impl $store {
            /// Locks `owner`'s list `id` for the transaction by touching its row (`updated_at` =
            /// `at`); false when it is missing or someone else's.
            async fn lock_list<'e, E>(exec: E, owner: &str, id: i64, at: i64) -> Result<bool>
            where
                E: sqlx::Executor<'e, Database = <$store as $crate::common::Backend>::Db>,
            {
                let locked = sqlx::query("UPDATE watchlists SET updated_at = $1 WHERE id = $2 AND owner = $3")
                    .bind(at)
                    .bind(id)
                    .bind(owner)
                    .execute(exec)
                    .await?;
                Ok(locked.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl WatchlistStore for $store {
            async fn default_watchlist(&self, owner: &str, at: i64) -> Result<Watchlist> {
                let sql = || sqlx::AssertSqlSafe(format!("{WATCHLIST_SELECT} WHERE w.owner = $1 AND w.is_default = 1"));
                if let Some(t) =
                    sqlx::query_as::<_, WatchlistTuple>(sql()).bind(owner).fetch_optional(&self.pool).await?
                {
                    return watchlist_from(t);
                }
                Self::ensure_default(&self.pool, owner, at).await?;
                let t = sqlx::query_as::<_, WatchlistTuple>(sql()).bind(owner).fetch_optional(&self.pool).await?;
                watchlist_from(t.ok_or_else(|| {
                    // Only a list already named '' that is not the default could block it, and
                    // names are never set to ''.
                    StoreError::Conflict(format!("cannot create the default watchlist of {owner}"))
                })?)
            }

            async fn list_watchlists(&self, owner: &str) -> Result<Vec<Watchlist>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "{WATCHLIST_SELECT} WHERE w.owner = $1 ORDER BY w.is_default DESC, w.created_at, w.id"
                ));
                sqlx::query_as::<_, WatchlistTuple>(sql)
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(watchlist_from)
                    .collect()
            }

            async fn watchlist(&self, owner: &str, id: i64) -> Result<Option<Watchlist>> {
                let sql = sqlx::AssertSqlSafe(format!("{WATCHLIST_SELECT} WHERE w.id = $1 AND w.owner = $2"));
                sqlx::query_as::<_, WatchlistTuple>(sql)
                    .bind(id)
                    .bind(owner)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(watchlist_from)
                    .transpose()
            }

            async fn create_watchlist(&self, owner: &str, name: &str, at: i64, max_lists: u32) -> Result<Option<i64>> {
                let mut tx = self.pool.begin().await?;
                Self::ensure_default(&mut *tx, owner, at).await?;
                // The owner's lock: concurrent creations of one owner count one after the other.
                sqlx::query("UPDATE watchlists SET updated_at = updated_at WHERE owner = $1 AND is_default = 1")
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?;
                let id: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO watchlists (owner, name, is_default, created_at, updated_at) \
                     SELECT $1, $2, 0, $3, $3 WHERE (SELECT COUNT(*) FROM watchlists WHERE owner = $1) < $4 \
                     RETURNING id",
                )
                .bind(owner)
                .bind(name)
                .bind(at)
                .bind(i64::from(max_lists))
                .fetch_optional(&mut *tx)
                .await?;
                match id {
                    Some((id,)) => {
                        tx.commit().await?;
                        Ok(Some(id))
                    }
                    None => Ok(None),
                }
            }

            async fn rename_watchlist(&self, owner: &str, id: i64, name: &str, at: i64) -> Result<bool> {
                let done = sqlx::query("UPDATE watchlists SET name = $1, updated_at = $2 WHERE id = $3 AND owner = $4")
                    .bind(name)
                    .bind(at)
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_watchlist(&self, owner: &str, id: i64) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM watchlists WHERE id = $1 AND owner = $2 AND is_default = 0")
                    .bind(id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                // The foreign key cascades too; this does not depend on SQLite's pragma.
                sqlx::query("DELETE FROM watchlist_items WHERE list_id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn watchlist_items(&self, owner: &str, id: i64) -> Result<Option<Vec<WatchItem>>> {
                let mine: Option<(i64,)> = sqlx::query_as("SELECT id FROM watchlists WHERE id = $1 AND owner = $2")
                    .bind(id)
                    .bind(owner)
                    .fetch_optional(&self.pool)
                    .await?;
                if mine.is_none() {
                    return Ok(None);
                }
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT symbol, added_at FROM watchlist_items WHERE list_id = $1 ORDER BY position, symbol",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some(rows.into_iter().map(|(symbol, added_at)| WatchItem { symbol, added_at }).collect()))
            }

            async fn add_watchlist_item(
                &self,
                owner: &str,
                id: i64,
                symbol: &str,
                at: i64,
                max_items: u32,
            ) -> Result<AddOutcome> {
                let mut tx = self.pool.begin().await?;
                // The list's lock: concurrent adds to one list count one after the other.
                if !Self::lock_list(&mut *tx, owner, id, at).await? {
                    return Ok(AddOutcome::NoList);
                }
                let there: Option<(i64,)> =
                    sqlx::query_as("SELECT position FROM watchlist_items WHERE list_id = $1 AND symbol = $2")
                        .bind(id)
                        .bind(symbol)
                        .fetch_optional(&mut *tx)
                        .await?;
                if there.is_some() {
                    return Ok(AddOutcome::Duplicate);
                }
                let added = sqlx::query(
                    "INSERT INTO watchlist_items (list_id, symbol, position, added_at) \
                     SELECT $1, $2, COALESCE(MAX(position) + 1, 0), $3 FROM watchlist_items WHERE list_id = $1 \
                     HAVING COUNT(*) < $4",
                )
                .bind(id)
                .bind(symbol)
                .bind(at)
                .bind(i64::from(max_items))
                .execute(&mut *tx)
                .await?;
                if added.rows_affected() == 0 {
                    return Ok(AddOutcome::Full);
                }
                tx.commit().await?;
                Ok(AddOutcome::Added)
            }

            async fn remove_watchlist_item(&self, owner: &str, id: i64, symbol: &str, at: i64) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "DELETE FROM watchlist_items WHERE list_id = $1 AND symbol = $2 \
                     AND EXISTS (SELECT 1 FROM watchlists WHERE id = $1 AND owner = $3)",
                )
                .bind(id)
                .bind(symbol)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("UPDATE watchlists SET updated_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn reorder_watchlist(
                &self,
                owner: &str,
                id: i64,
                symbols: &[String],
                at: i64,
            ) -> Result<ReorderOutcome> {
                let mut tx = self.pool.begin().await?;
                if !Self::lock_list(&mut *tx, owner, id, at).await? {
                    return Ok(ReorderOutcome::NoList);
                }
                let mut current: Vec<String> =
                    sqlx::query_scalar("SELECT symbol FROM watchlist_items WHERE list_id = $1")
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?;
                let mut wanted: Vec<&str> = symbols.iter().map(String::as_str).collect();
                current.sort();
                wanted.sort_unstable();
                if current.len() != wanted.len() || current.iter().zip(&wanted).any(|(a, b)| a != b) {
                    return Ok(ReorderOutcome::Mismatch);
                }
                for (position, symbol) in symbols.iter().enumerate() {
                    sqlx::query("UPDATE watchlist_items SET position = $1 WHERE list_id = $2 AND symbol = $3")
                        .bind(position as i64)
                        .bind(id)
                        .bind(symbol.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(ReorderOutcome::Done)
            }
        }
    };
}
watchlist_store_impl!(crate::SqliteStore);
watchlist_store_impl!(crate::PgStore);
