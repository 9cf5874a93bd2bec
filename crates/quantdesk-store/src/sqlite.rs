//! The embedded default: one SQLite file in WAL mode.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use quantdesk_core::{AdjFactor, Bar};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlStr, Sqlite, SqlitePool, Transaction};

use crate::Result;
use crate::common::{BAR_UPSERT_TAIL, Backend, FACTOR_UPSERT_TAIL, market_store_impl};

/// Market data in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl Backend for SqliteStore {
    type Db = Sqlite;
}

/// Rows per multi-row INSERT: 9 parameters a row, well under SQLite's 32,766-variable limit.
const CHUNK: usize = 1000;

fn migrator() -> Migrator {
    Migrator {
        migrations: Cow::Owned(vec![Migration::new(
            1,
            "market data".into(),
            MigrationType::Simple,
            SqlStr::from_static(include_str!("../migrations/sqlite/0001_market.sql")),
            false,
        )]),
        ..Migrator::DEFAULT
    }
}

fn bar_insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(64 + rows * 40);
    sql.push_str(
        "INSERT INTO bars (symbol, resolution, ts, open, high, low, close, volume, amount) VALUES ",
    );
    for r in 0..rows {
        let b = r * 9;
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(${},${},${},${},${},${},${},${},${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8,
            b + 9
        ));
    }
    sql.push_str(BAR_UPSERT_TAIL);
    sql
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (creating the file and its folder) or `sqlite::memory:`, and migrates.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let memory = url.contains(":memory:");
        if !memory {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| crate::StoreError::Database(sqlx::Error::Io(e)))?;
            }
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        // An in-memory database lives only as long as its one connection.
        let max = if memory { 1 } else { max_connections.max(1) };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .connect_with(opts)
            .await?;
        migrator().run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The pool, for code in this crate's tests and the backup tooling.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn insert_bars(
        tx: &mut Transaction<'_, Sqlite>,
        symbol: &str,
        res: &str,
        bars: &[Bar],
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()> {
        static FULL: OnceLock<Arc<str>> = OnceLock::new();
        let full = FULL.get_or_init(|| bar_insert_sql(CHUNK).into());
        let mut done = 0u64;
        for chunk in bars.chunks(CHUNK) {
            let sql: Arc<str> = if chunk.len() == CHUNK {
                full.clone()
            } else {
                bar_insert_sql(chunk.len()).into()
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for b in chunk {
                q = q
                    .bind(symbol)
                    .bind(res)
                    .bind(b.time)
                    .bind(b.open)
                    .bind(b.high)
                    .bind(b.low)
                    .bind(b.close)
                    .bind(b.volume)
                    .bind(b.amount);
            }
            q.execute(&mut **tx).await?;
            done += chunk.len() as u64;
            progress(done);
        }
        Ok(())
    }

    async fn insert_factors(
        tx: &mut Transaction<'_, Sqlite>,
        symbol: &str,
        factors: &[AdjFactor],
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO adj_factors (symbol, date, factor) VALUES ($1, $2, $3){FACTOR_UPSERT_TAIL}"
        );
        for f in factors {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(symbol)
                .bind(f.date)
                .bind(f.factor)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

market_store_impl!(SqliteStore, "sqlite");
