//! The financial statements port, point-in-time reads of adjustment factors, and the record of
//! calls to outside data sources.
//!
//! Statements are stored one row per revision: (symbol, statement, period, report_type,
//! end_type, update_flag, ann_date, f_ann_date) is the key, every other field the source gave is
//! one JSON text. Writing a row with an existing key replaces it; other revisions are kept.
//! Readers choose a revision with [`quantdesk_core::financials::resolve`].

use async_trait::async_trait;
use chrono::NaiveDate;
use quantdesk_core::{AdjFactor, Statement, StatementRow, Symbol};

use crate::{Result, StoreError};

/// What is stored of one (symbol, statement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCoverage {
    pub symbol: Symbol,
    pub statement: Statement,
    /// Rows stored, revisions included.
    pub rows: u64,
    /// Distinct periods.
    pub periods: u64,
    pub first_period: NaiveDate,
    pub last_period: NaiveDate,
}

/// Calls made to one outside source on one day (UTC), with the latest outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCalls {
    /// `tushare`, `eastmoney`, `yahoo`.
    pub source: String,
    pub day: NaiveDate,
    pub calls: u64,
    /// Unix milliseconds of the latest successful call, if this report has one.
    pub last_success_ms: Option<i64>,
    /// Unix milliseconds and message (never a secret) of the latest failure, if this report has one.
    pub last_error: Option<(i64, String)>,
}

/// A source's standing: calls today and the latest success and failure ever recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub source: String,
    /// Calls recorded on `today` (the day asked for).
    pub calls_today: u64,
    pub last_success_ms: Option<i64>,
    pub last_error_ms: Option<i64>,
    pub last_error: Option<String>,
}

#[async_trait]
pub trait FinancialsStore: Send + Sync {
    /// Writes statement rows in one transaction, all or none. A row whose key exists replaces it;
    /// other revisions stay. Returns the rows written.
    async fn write_statements(&self, rows: &[StatementRow]) -> Result<u64>;

    /// Every stored revision of `symbol`'s `statement` known on or before `as_of`
    /// ([`StatementRow::known_on`]; all when `None`), ascending by period, then `ann_date`,
    /// then `f_ann_date`.
    async fn statement_rows(
        &self,
        symbol: &Symbol,
        statement: Statement,
        as_of: Option<NaiveDate>,
    ) -> Result<Vec<StatementRow>>;

    /// What is stored per (symbol, statement); all symbols when `symbol` is `None`.
    async fn statement_coverage(&self, symbol: Option<&Symbol>) -> Result<Vec<StatementCoverage>>;

    /// Adjustment factors in force on or before `as_of`, ascending.
    async fn adj_factors_as_of(&self, symbol: &Symbol, as_of: NaiveDate) -> Result<Vec<AdjFactor>>;

    /// Adds a report of calls to a source (calls are summed per source and day; the latest
    /// success and failure replace older ones).
    async fn record_source_calls(&self, report: &SourceCalls) -> Result<()>;

    /// Every source ever recorded, by name, with its calls on `today`.
    async fn source_status(&self, today: NaiveDate) -> Result<Vec<SourceStatus>>;
}

pub(crate) fn not_yet() -> StoreError {
    StoreError::Corrupt("the financials store is not implemented yet".into())
}

macro_rules! financials_stub {
    ($store:ty) => {
        #[async_trait]
        impl FinancialsStore for $store {
            async fn write_statements(&self, _rows: &[StatementRow]) -> Result<u64> {
                Err(not_yet())
            }
            async fn statement_rows(
                &self,
                _symbol: &Symbol,
                _statement: Statement,
                _as_of: Option<NaiveDate>,
            ) -> Result<Vec<StatementRow>> {
                Err(not_yet())
            }
            async fn statement_coverage(&self, _symbol: Option<&Symbol>) -> Result<Vec<StatementCoverage>> {
                Err(not_yet())
            }
            async fn adj_factors_as_of(&self, _symbol: &Symbol, _as_of: NaiveDate) -> Result<Vec<AdjFactor>> {
                Err(not_yet())
            }
            async fn record_source_calls(&self, _report: &SourceCalls) -> Result<()> {
                Err(not_yet())
            }
            async fn source_status(&self, _today: NaiveDate) -> Result<Vec<SourceStatus>> {
                Err(not_yet())
            }
        }
    };
}
financials_stub!(crate::SqliteStore);
financials_stub!(crate::PgStore);
