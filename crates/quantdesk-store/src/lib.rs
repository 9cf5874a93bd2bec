//! Storage for quantdesk, behind traits with one implementation per backend.
//!
//! [`MarketStore`] is the market-data port: instruments, bars, adjustment factors and the trading
//! calendar. [`SqliteStore`] is the embedded default, [`PgStore`] the scaled-out one. Both run the
//! same SQL text (`$n` placeholders work on both engines); only DDL and bulk-insert strategy differ.
//! One conformance suite (`tests/suite.rs`) runs against both.

pub mod auth;
pub mod backup;
mod common;
pub mod files;
pub mod financials;
pub mod jobs;
pub mod ledger;
pub mod llm;
mod postgres;
pub mod reports;
mod sqlite;
pub mod trademaster;

/// The latest migration of both backends (`schema_version` of a freshly migrated store); the
/// version lists in `sqlite.rs` and `postgres.rs` end with it.
pub const SCHEMA_VERSION: i64 = 15;
pub mod valuations;
pub mod watchlists;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use quantdesk_core::{AdjFactor, Bar, Instrument, Resolution, Symbol};

pub use postgres::{PgImport, PgStore};
pub use sqlite::{SqliteImport, SqliteStore};

/// A storage failure. Messages may contain internals; the HTTP layer never shows them to users.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A row the operation needs does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write breaks a unique or foreign key: someone else wrote first, or the row is in use.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// An error shared by callers that waited on the same load (caches deduplicate loads).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    /// Unique and foreign key violations are conflicts and a missing row is not found, on both
    /// backends; everything else is a database error.
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("no such row".into()),
            sqlx::Error::Database(d) if d.is_unique_violation() || d.is_foreign_key_violation() => {
                StoreError::Conflict(d.message().to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// True for [`StoreError::NotFound`], also when shared by a cache.
    pub fn is_not_found(&self) -> bool {
        match self {
            StoreError::NotFound(_) => true,
            StoreError::Shared(e) => e.is_not_found(),
            _ => false,
        }
    }

    /// True for [`StoreError::Conflict`], also when shared by a cache.
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Shared(e) => e.is_conflict(),
            _ => false,
        }
    }
}

/// Filters for listing instruments.
#[derive(Debug, Clone, Default)]
pub struct InstrumentQuery {
    /// Matches code, name or pinyin abbreviation (case-insensitive substring).
    pub text: Option<String>,
    pub kind: Option<String>,
    pub exchange: Option<String>,
    pub board: Option<String>,
    /// Listed on or after this date.
    pub listed_from: Option<NaiveDate>,
    /// Listed on or before this date.
    pub listed_to: Option<NaiveDate>,
    pub limit: u32,
    pub offset: u32,
}

/// What is stored for one (symbol, resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    pub resolution: Resolution,
    pub first: i64,
    pub last: i64,
    pub count: i64,
    /// Changes whenever the series is written; caches key on it.
    pub version: i64,
}

/// One symbol's share of an import.
#[derive(Debug, Clone)]
pub struct BarSeriesWrite<'a> {
    pub symbol: &'a Symbol,
    pub bars: &'a [Bar],
    pub factors: &'a [AdjFactor],
    /// For daily imports: the exchange whose trading calendar learns these bars' dates.
    pub calendar: Option<&'a str>,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub symbols: u64,
    pub bars: u64,
    pub factors: u64,
    /// Bars that were new or differed from the stored ones; 0 when a re-import changed nothing.
    pub bars_changed: u64,
    /// Adjustment factors added, changed or (by `replace_factors`) removed.
    pub factors_changed: u64,
    /// Instruments created with defaults because the import named a symbol not yet known.
    pub instruments_created: u64,
}

/// Connection pool figures for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// One import in progress: everything written through it lands at `commit` or not at all
/// (dropping it uncommitted rolls back). Lets callers stream a large file in batches.
#[async_trait]
pub trait ImportSession: Send {
    /// Writes one symbol's bars and factors (a symbol may be written several times).
    async fn write(&mut self, series: &BarSeriesWrite<'_>) -> Result<()>;
    /// Replaces `symbol`'s whole adjustment-factor history with `factors` (a source re-read it
    /// after a new corporate action), in this import's transaction: dates no longer in `factors`
    /// are gone at commit, and nothing changes if the session is dropped.
    async fn replace_factors(&mut self, symbol: &Symbol, factors: &[AdjFactor]) -> Result<()>;
    /// Bars written so far.
    fn written(&self) -> u64;
    /// Makes the import visible, all at once.
    async fn commit(self: Box<Self>) -> Result<ImportSummary>;
}

/// The market-data store.
#[async_trait]
pub trait MarketStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    fn pool_stats(&self) -> PoolStats;
    /// A trivial round trip, for readiness checks.
    async fn ping(&self) -> Result<Duration>;

    /// Inserts or replaces instruments, all or none.
    async fn upsert_instruments(&self, items: &[Instrument]) -> Result<u64>;
    async fn instrument(&self, symbol: &Symbol) -> Result<Option<Instrument>>;
    /// Instruments matching the query, best match first (exact code, then prefix, then the rest by symbol).
    async fn list_instruments(&self, q: &InstrumentQuery) -> Result<Vec<Instrument>>;
    async fn count_instruments(&self, q: &InstrumentQuery) -> Result<u64>;

    /// Starts a streaming import (see [`ImportSession`]).
    async fn begin_import(&self, resolution: Resolution) -> Result<Box<dyn ImportSession>>;

    /// Writes bars and factors for several symbols in one transaction: all land or none do.
    /// Existing bars at the same times are replaced. Unknown symbols get instruments with defaults.
    /// `progress` receives the number of bars written so far.
    async fn import_bars(
        &self,
        resolution: Resolution,
        series: &[BarSeriesWrite<'_>],
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportSummary>;

    /// Stored bars with `from <= time < to`, ascending; with `countback`, only the last that many.
    async fn bars(
        &self,
        symbol: &Symbol,
        res: Resolution,
        from: i64,
        to: i64,
        countback: Option<u32>,
    ) -> Result<Vec<Bar>>;
    /// The time of the latest stored bar before `time`.
    async fn bar_before(&self, symbol: &Symbol, res: Resolution, time: i64) -> Result<Option<i64>>;
    /// The resolutions stored for `symbol`, finest first.
    async fn series(&self, symbol: &Symbol) -> Result<Vec<SeriesInfo>>;
    /// Adjustment factors, ascending by date.
    async fn adj_factors(&self, symbol: &Symbol) -> Result<Vec<AdjFactor>>;

    async fn add_trading_days(&self, exchange: &str, dates: &[NaiveDate]) -> Result<u64>;
    async fn trading_days(&self, exchange: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>>;

    /// The symbol to show first: an index if any has bars, else the symbol with the most bars.
    async fn busiest_symbol(&self) -> Result<Option<Symbol>>;

    /// Symbols with stored bars at `res`, ascending.
    async fn symbols_with(&self, res: Resolution) -> Result<Vec<Symbol>>;

    /// Total rows in bars, for "is the database empty" checks and status pages.
    async fn bar_count(&self) -> Result<u64>;
}

/// Everything quantdesk stores: market data, the job queue, accounts and the coin ledger, in one database, and
/// the backup port over all of it.
pub trait Store:
    MarketStore
    + financials::FinancialsStore
    + jobs::JobStore
    + auth::AuthStore
    + backup::BackupStore
    + valuations::ValuationStore
    + watchlists::WatchlistStore
    + llm::LlmProviderStore
    + ledger::LedgerStore
    + trademaster::TradeMasterStore
    + reports::ReportStore
{
}

impl<
    T: MarketStore
        + financials::FinancialsStore
        + jobs::JobStore
        + auth::AuthStore
        + backup::BackupStore
        + valuations::ValuationStore
        + watchlists::WatchlistStore
        + llm::LlmProviderStore
        + ledger::LedgerStore
        + trademaster::TradeMasterStore
        + reports::ReportStore,
> Store for T
{
}

/// Opens (creating if needed) and migrates the store named by `url`:
/// `sqlite://PATH` (or `sqlite::memory:`) or `postgres://…`.
pub async fn open(url: &str, max_connections: u32) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, max_connections).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url, max_connections).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// A database URL with any password replaced by `***`, safe for logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.rsplit_once('@')
    {
        let user = creds.split(':').next().unwrap_or("");
        return if creds.contains(':') { format!("{scheme}://{user}:***@{host}") } else { url.to_string() };
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite://./data/q.db"), "sqlite://./data/q.db");
    }
}

#[cfg(test)]
mod error_tests {
    use super::StoreError;

    /// Both backends' unique violations and missing rows become the two kinds callers can act on.
    #[tokio::test]
    async fn unique_violations_are_conflicts_and_missing_rows_not_found() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY)").execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO t VALUES ('a')").execute(&pool).await.unwrap();
        let dup = sqlx::query("INSERT INTO t VALUES ('a')").execute(&pool).await.unwrap_err();
        assert!(StoreError::from(dup).is_conflict());
        let missing = sqlx::query("SELECT k FROM t WHERE k = 'b'").fetch_one(&pool).await.unwrap_err();
        let e = StoreError::from(missing);
        assert!(e.is_not_found() && !e.is_conflict(), "{e}");
        let shared = StoreError::Shared(std::sync::Arc::new(StoreError::Conflict("x".into())));
        assert!(shared.is_conflict());
        let syntax = sqlx::query("SELEKT 1").execute(&pool).await.unwrap_err();
        assert!(matches!(StoreError::from(syntax), StoreError::Database(_)));

        let pg = std::env::var("QUANTDESK_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
        if pg.is_none() && std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
            panic!("QUANTDESK_TEST_POSTGRES_URL is not set, and QUANTDESK_TEST_REQUIRE_ALL forbids skipping");
        }
        if let Some(url) = pg {
            let pg = sqlx::PgPool::connect(&url).await.unwrap();
            let mut tx = pg.begin().await.unwrap();
            sqlx::query("CREATE TEMPORARY TABLE qd_err_t (k TEXT PRIMARY KEY)").execute(&mut *tx).await.unwrap();
            sqlx::query("INSERT INTO qd_err_t VALUES ('a')").execute(&mut *tx).await.unwrap();
            let dup = sqlx::query("INSERT INTO qd_err_t VALUES ('a')").execute(&mut *tx).await.unwrap_err();
            assert!(StoreError::from(dup).is_conflict());
        }
    }
}
