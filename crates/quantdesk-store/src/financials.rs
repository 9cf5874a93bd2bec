//! The financial statements port, point-in-time reads of adjustment factors, and the record of
//! calls to outside data sources.
//!
//! Statements are stored one row per revision: (symbol, statement, period, report_type,
//! end_type, update_flag, ann_date, f_ann_date) is the key, every other field the source gave is
//! one JSON text. Writing a row with an existing key replaces it; other revisions are kept.
//! Readers choose a revision with [`quantdesk_core::financials::resolve`].
//!
//! Missing `ann_date`/`f_ann_date` are NULL in the table and `'0001-01-01'` in its unique index
//! (NULLs never collide), so a row without dates is replaced by a re-sync like any other. Each
//! row also stores `known_on` ([`StatementRow::known_on`]), indexed with (symbol, statement),
//! for as-of reads. Both backends run the same SQL, through `financials_store_impl!`.

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
    /// other revisions stay. Returns the rows written. Within one batch a later row with the
    /// same key replaces an earlier one; a non-finite number is stored as `null`.
    async fn write_statements(&self, rows: &[StatementRow]) -> Result<u64>;

    /// Every stored revision of `symbol`'s `statement` known on or before `as_of`
    /// ([`StatementRow::known_on`]; all when `None`), ascending by period, then `ann_date`,
    /// then `f_ann_date` (a missing date first), then the rest of the key.
    async fn statement_rows(
        &self,
        symbol: &Symbol,
        statement: Statement,
        as_of: Option<NaiveDate>,
    ) -> Result<Vec<StatementRow>>;

    /// One row per symbol that has `statement`: the latest revision (the last in
    /// [`statement_rows`](Self::statement_rows)' order) of its latest period, by symbol. One query
    /// over the whole table, for market-wide reads such as the screener's latest `daily_basic`.
    async fn latest_statement_per_symbol(&self, statement: Statement) -> Result<Vec<StatementRow>>;

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

/// Inserts one statement row, or replaces the fields of the row with its key. The conflict target
/// repeats the unique index's expressions (missing dates take a sentinel there, as NULLs never
/// collide); the untyped literal is a date on PostgreSQL and text on SQLite, like the columns.
pub(crate) const UPSERT_STATEMENT: &str = "INSERT INTO statements \
     (symbol, statement, period, report_type, end_type, update_flag, ann_date, f_ann_date, known_on, fields) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (symbol, statement, period, report_type, end_type, update_flag, \
     COALESCE(ann_date, '0001-01-01'), COALESCE(f_ann_date, '0001-01-01')) \
     DO UPDATE SET known_on = excluded.known_on, fields = excluded.fields";

/// The columns [`statement_from`] decodes, in its order.
pub(crate) const STATEMENT_COLUMNS: &str =
    "symbol, statement, period, ann_date, f_ann_date, report_type, end_type, update_flag, fields";

/// Revisions in the documented order. Missing dates sort first on both engines (SQLite puts
/// NULLs first, PostgreSQL last), as `None` does in Rust; the rest of the key breaks ties.
pub(crate) const STATEMENT_ORDER: &str = " ORDER BY period, COALESCE(ann_date, '0001-01-01'), \
     COALESCE(f_ann_date, '0001-01-01'), report_type, end_type, update_flag";

/// Adds calls to (source, day). A reported success or failure replaces the stored one unless
/// that is later (reports from several workers may arrive out of order).
pub(crate) const RECORD_SOURCE_CALLS: &str = "INSERT INTO source_calls \
     (source, day, calls, last_success_ms, last_error_ms, last_error) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (source, day) DO UPDATE SET calls = source_calls.calls + excluded.calls, \
     last_success_ms = CASE WHEN excluded.last_success_ms IS NOT NULL \
       AND (source_calls.last_success_ms IS NULL OR excluded.last_success_ms >= source_calls.last_success_ms) \
       THEN excluded.last_success_ms ELSE source_calls.last_success_ms END, \
     last_error = CASE WHEN excluded.last_error_ms IS NOT NULL \
       AND (source_calls.last_error_ms IS NULL OR excluded.last_error_ms >= source_calls.last_error_ms) \
       THEN excluded.last_error ELSE source_calls.last_error END, \
     last_error_ms = CASE WHEN excluded.last_error_ms IS NOT NULL \
       AND (source_calls.last_error_ms IS NULL OR excluded.last_error_ms >= source_calls.last_error_ms) \
       THEN excluded.last_error_ms ELSE source_calls.last_error_ms END";

/// Per source: calls on `$1`, and the latest success and failure of any day (the failure's
/// message from the day that holds it).
pub(crate) const SOURCE_STATUS: &str = "SELECT g.source, g.calls_today, g.last_success_ms, g.last_error_ms, \
     (SELECT e.last_error FROM source_calls e WHERE e.source = g.source AND e.last_error_ms = g.last_error_ms \
      ORDER BY e.day DESC LIMIT 1) \
     FROM (SELECT source, CAST(SUM(CASE WHEN day = $1 THEN calls ELSE 0 END) AS BIGINT) AS calls_today, \
       MAX(last_success_ms) AS last_success_ms, MAX(last_error_ms) AS last_error_ms \
       FROM source_calls GROUP BY source) g";

/// A stored statement row: [`STATEMENT_COLUMNS`].
pub(crate) type StatementTuple =
    (String, String, NaiveDate, Option<NaiveDate>, Option<NaiveDate>, String, String, String, String);

pub(crate) fn statement_from(t: StatementTuple) -> Result<StatementRow> {
    let (symbol, statement, period, ann_date, f_ann_date, report_type, end_type, update_flag, fields) = t;
    Ok(StatementRow {
        symbol: Symbol::new(&symbol).map_err(|e| StoreError::Corrupt(e.0))?,
        statement: Statement::parse(&statement).map_err(|e| StoreError::Corrupt(e.0))?,
        period,
        ann_date,
        f_ann_date,
        report_type,
        end_type,
        update_flag,
        fields: serde_json::from_str(&fields)
            .map_err(|e| StoreError::Corrupt(format!("{symbol} {statement} {period}: fields: {e}")))?,
    })
}

/// The stored JSON of a row's fields. Non-finite numbers become `null` (JSON has no NaN).
pub(crate) fn fields_json(row: &StatementRow) -> Result<String> {
    serde_json::to_string(&row.fields).map_err(|e| StoreError::Corrupt(format!("fields of {}: {e}", row.symbol)))
}

pub(crate) fn coverage_from(t: (String, String, i64, i64, NaiveDate, NaiveDate)) -> Result<StatementCoverage> {
    let (symbol, statement, rows, periods, first_period, last_period) = t;
    Ok(StatementCoverage {
        symbol: Symbol::new(&symbol).map_err(|e| StoreError::Corrupt(e.0))?,
        statement: Statement::parse(&statement).map_err(|e| StoreError::Corrupt(e.0))?,
        rows: rows as u64,
        periods: periods as u64,
        first_period,
        last_period,
    })
}

/// Implements [`FinancialsStore`] for a backend type with a `pool` field, once for both (the SQL
/// text is the same).
macro_rules! financials_store_impl {
    ($store:ty) => {
        #[async_trait]
        impl FinancialsStore for $store {
            async fn write_statements(&self, rows: &[StatementRow]) -> Result<u64> {
                let mut tx = self.pool.begin().await?;
                for row in rows {
                    sqlx::query(UPSERT_STATEMENT)
                        .bind(row.symbol.as_str())
                        .bind(row.statement.as_str())
                        .bind(row.period)
                        .bind(row.report_type.as_str())
                        .bind(row.end_type.as_str())
                        .bind(row.update_flag.as_str())
                        .bind(row.ann_date)
                        .bind(row.f_ann_date)
                        .bind(row.known_on())
                        .bind(fields_json(row)?)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(rows.len() as u64)
            }

            async fn statement_rows(
                &self,
                symbol: &Symbol,
                statement: Statement,
                as_of: Option<NaiveDate>,
            ) -> Result<Vec<StatementRow>> {
                let filter = if as_of.is_some() { " AND known_on <= $3" } else { "" };
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {STATEMENT_COLUMNS} FROM statements WHERE symbol = $1 AND statement = $2{filter}{STATEMENT_ORDER}"
                ));
                let mut q = sqlx::query_as::<_, StatementTuple>(sql).bind(symbol.as_str()).bind(statement.as_str());
                if let Some(d) = as_of {
                    q = q.bind(d);
                }
                q.fetch_all(&self.pool).await?.into_iter().map(statement_from).collect()
            }

            async fn latest_statement_per_symbol(&self, statement: Statement) -> Result<Vec<StatementRow>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {STATEMENT_COLUMNS} FROM statements s WHERE statement = $1 AND period = \
                     (SELECT MAX(m.period) FROM statements m WHERE m.symbol = s.symbol AND m.statement = $1)\
                     {STATEMENT_ORDER}"
                ));
                let rows = sqlx::query_as::<_, StatementTuple>(sql)
                    .bind(statement.as_str())
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(statement_from)
                    .collect::<Result<Vec<_>>>()?;
                // Revisions of a period come in order, so the last one per symbol wins; sorted
                // here because PostgreSQL's collation may not order text bytewise.
                let mut latest: std::collections::BTreeMap<String, StatementRow> = std::collections::BTreeMap::new();
                for row in rows {
                    latest.insert(row.symbol.as_str().to_string(), row);
                }
                Ok(latest.into_values().collect())
            }

            async fn statement_coverage(&self, symbol: Option<&Symbol>) -> Result<Vec<StatementCoverage>> {
                let filter = if symbol.is_some() { " WHERE symbol = $1" } else { "" };
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT symbol, statement, COUNT(*), COUNT(DISTINCT period), MIN(period), MAX(period) \
                     FROM statements{filter} GROUP BY symbol, statement"
                ));
                let mut q = sqlx::query_as::<_, (String, String, i64, i64, NaiveDate, NaiveDate)>(sql);
                if let Some(s) = symbol {
                    q = q.bind(s.as_str());
                }
                let mut out =
                    q.fetch_all(&self.pool).await?.into_iter().map(coverage_from).collect::<Result<Vec<_>>>()?;
                // Sorted here: PostgreSQL's collation may not order text bytewise.
                out.sort_by(|a, b| (a.symbol.as_str(), a.statement).cmp(&(b.symbol.as_str(), b.statement)));
                Ok(out)
            }

            async fn adj_factors_as_of(&self, symbol: &Symbol, as_of: NaiveDate) -> Result<Vec<AdjFactor>> {
                let rows: Vec<(NaiveDate, f64)> =
                    sqlx::query_as("SELECT date, factor FROM adj_factors WHERE symbol = $1 AND date <= $2 ORDER BY date")
                        .bind(symbol.as_str())
                        .bind(as_of)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(date, factor)| AdjFactor { date, factor }).collect())
            }

            async fn record_source_calls(&self, report: &SourceCalls) -> Result<()> {
                let calls = i64::try_from(report.calls)
                    .map_err(|_| StoreError::Corrupt(format!("{} calls to {}", report.calls, report.source)))?;
                sqlx::query(RECORD_SOURCE_CALLS)
                    .bind(report.source.as_str())
                    .bind(report.day)
                    .bind(calls)
                    .bind(report.last_success_ms)
                    .bind(report.last_error.as_ref().map(|e| e.0))
                    .bind(report.last_error.as_ref().map(|e| e.1.as_str()))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn source_status(&self, today: NaiveDate) -> Result<Vec<SourceStatus>> {
                let rows: Vec<(String, i64, Option<i64>, Option<i64>, Option<String>)> =
                    sqlx::query_as(SOURCE_STATUS).bind(today).fetch_all(&self.pool).await?;
                let mut out: Vec<SourceStatus> = rows
                    .into_iter()
                    .map(|(source, calls, last_success_ms, last_error_ms, last_error)| SourceStatus {
                        source,
                        calls_today: calls.max(0) as u64,
                        last_success_ms,
                        last_error_ms,
                        last_error,
                    })
                    .collect();
                out.sort_by(|a, b| a.source.cmp(&b.source));
                Ok(out)
            }
        }
    };
}
financials_store_impl!(crate::SqliteStore);
financials_store_impl!(crate::PgStore);
