//! The scaled-out backend: PostgreSQL, shared by every replica and worker.

use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use quantdesk_core::{AdjFactor, Bar};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::Result;
use crate::common::{BAR_UPSERT_TAIL, Backend, FACTOR_UPSERT_TAIL, market_store_impl};

/// Market data in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl Backend for PgStore {
    type Db = Postgres;
}

/// Rows per UNNEST insert.
const CHUNK: usize = 10_000;

impl PgStore {
    /// Connects to `postgres://…` and migrates (under PostgreSQL's advisory lock, so replicas
    /// starting together migrate once).
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(PgConnectOptions::from_str(url)?, max_connections).await
    }

    /// Like [`PgStore::open`] with prepared options (tests use this to pin a schema).
    pub async fn open_with(opts: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Some(Duration::from_secs(600)))
            .connect_with(opts)
            .await?;
        crate::common::migrator(&[
            (1, "market data", include_str!("../migrations/postgres/0001_market.sql")),
            (2, "jobs", include_str!("../migrations/postgres/0002_jobs.sql")),
            (3, "schedules", include_str!("../migrations/postgres/0003_schedules.sql")),
            (4, "accounts", include_str!("../migrations/postgres/0004_auth.sql")),
            (5, "backups", include_str!("../migrations/postgres/0005_backups.sql")),
            (6, "preferences", include_str!("../migrations/postgres/0006_prefs.sql")),
            (7, "auth limits", include_str!("../migrations/postgres/0007_auth_limits.sql")),
            (8, "financials", include_str!("../migrations/postgres/0008_financials.sql")),
            (9, "valuations", include_str!("../migrations/postgres/0009_valuations.sql")),
            (10, "valuation scenarios", include_str!("../migrations/postgres/0010_valuation_scenarios.sql")),
            (11, "watchlists", include_str!("../migrations/postgres/0011_watchlists.sql")),
            (12, "coins", include_str!("../migrations/postgres/0012_coins.sql")),
            (13, "trademaster sessions", include_str!("../migrations/postgres/0013_trademaster_sessions.sql")),
            (14, "llm providers", include_str!("../migrations/postgres/0014_llm_providers.sql")),
            (15, "reports", include_str!("../migrations/postgres/0015_reports.sql")),
        ])
        .run(&pool)
        .await?;
        Ok(PgStore { pool })
    }

    /// The pool, for tests and backup tooling.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_bars(
        tx: &mut Transaction<'_, Postgres>,
        series_id: i64,
        bars: &[Bar],
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64> {
        let sql = format!(
            "INSERT INTO bars (series_id, ts, open, high, low, close, volume, amount) \
             SELECT $1, * FROM UNNEST($2::BIGINT[], $3::FLOAT8[], $4::FLOAT8[], $5::FLOAT8[], $6::FLOAT8[], $7::FLOAT8[], $8::FLOAT8[]){BAR_UPSERT_TAIL}"
        );
        let (mut done, mut changed) = (0u64, 0u64);
        for chunk in bars.chunks(CHUNK) {
            let col = |f: fn(&Bar) -> f64| chunk.iter().map(f).collect::<Vec<f64>>();
            changed += sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(series_id)
                .bind(chunk.iter().map(|b| b.time).collect::<Vec<i64>>())
                .bind(col(|b| b.open))
                .bind(col(|b| b.high))
                .bind(col(|b| b.low))
                .bind(col(|b| b.close))
                .bind(col(|b| b.volume))
                .bind(col(|b| b.amount))
                .execute(&mut **tx)
                .await?
                .rows_affected();
            done += chunk.len() as u64;
            progress(done);
        }
        Ok(changed)
    }

    async fn insert_factors(tx: &mut Transaction<'_, Postgres>, symbol: &str, factors: &[AdjFactor]) -> Result<u64> {
        if factors.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "INSERT INTO adj_factors (symbol, date, factor) SELECT $1, * FROM UNNEST($2::DATE[], $3::FLOAT8[]){FACTOR_UPSERT_TAIL}"
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(symbol)
            .bind(factors.iter().map(|f| f.date).collect::<Vec<_>>())
            .bind(factors.iter().map(|f| f.factor).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }

    async fn insert_calendar(tx: &mut Transaction<'_, Postgres>, exchange: &str, dates: &[NaiveDate]) -> Result<u64> {
        if dates.is_empty() {
            return Ok(0);
        }
        Ok(sqlx::query(
            "INSERT INTO trading_calendar (exchange, date) SELECT $1, * FROM UNNEST($2::DATE[]) ON CONFLICT (exchange, date) DO NOTHING",
        )
        .bind(exchange)
        .bind(dates)
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }
}

market_store_impl!(PgStore, PgImport, "postgres");

// SKIP LOCKED: concurrent workers each take a different job instead of queueing on one row. A
// claim with a per-owner cap first takes a transaction-scoped advisory lock (one per schema):
// without it two workers could both count an owner's running jobs below the cap, lock two of its
// jobs and both claim, passing the cap by up to the number of simultaneous claimers. Claims are
// one short statement, so serializing them costs little.
crate::jobs::job_store_impl!(
    PgStore,
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $1, lease_until = $2, \
     started_at = COALESCE(started_at, $3), cancel_requested = 0 \
     WHERE id = (SELECT j.id FROM jobs j \
       LEFT JOIN (SELECT owner, COUNT(*) AS n FROM jobs WHERE state = 'running' GROUP BY owner) r ON r.owner = j.owner \
       WHERE j.state = 'queued' AND j.run_at <= $3 AND j.queue IN (SELECT jsonb_array_elements_text($4::jsonb)) \
         AND ($5::BIGINT IS NULL OR j.owner = '' OR COALESCE(r.n, 0) < $5::BIGINT) \
       ORDER BY j.priority DESC, COALESCE(r.n, 0), j.run_at, j.id LIMIT 1 \
       FOR UPDATE OF j SKIP LOCKED) AND state = 'queued'",
    Some("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.quantdesk.jobs.claim'))")
);

crate::auth::auth_store_impl!(PgStore);

crate::backup::backup_store_impl!(
    PgStore,
    pg = true,
    columns_sql = "SELECT table_name::text, column_name::text FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' ORDER BY table_name, ordinal_position"
);
