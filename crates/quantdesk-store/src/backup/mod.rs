//! Backups: every table the product stores, read from one consistent snapshot and written as a
//! portable archive that restores into either backend.
//!
//! [`TABLES`] names every table with its columns in a backend-neutral type ([`Kind`]); the
//! [`BackupStore`] port reads them (one snapshot: a read transaction in SQLite's WAL mode, a
//! `REPEATABLE READ` transaction in PostgreSQL) and restores them (one transaction: the target is
//! either fully restored or untouched). [`archive`] is the file format; it knows nothing of SQL.
//!
//! Rows are serialized canonically (see [`archive`]), ordered by each table's key with bytewise
//! text ordering on both engines, so the same data gives the same checksums whichever backend it
//! was read from.

pub mod archive;
pub mod retention;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::StoreError;

/// A column's backend-neutral type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Date,
    Bytes,
}

/// One column of a backed-up table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// One backed-up table: its columns, the key its rows are ordered by, and whether `id` is an
/// identity column (PostgreSQL's sequence is moved past the restored ids).
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub key: &'static [&'static str],
    pub identity: bool,
}

impl Table {
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    }
}

const fn c(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::{Bytes, Date, Int, Real, Text};

/// Every table, parents before children (restore inserts in this order and deletes in reverse).
pub static TABLES: &[Table] = &[
    Table {
        name: "instruments",
        columns: &[
            c("symbol", Text),
            c("name", Text),
            c("abbrev", Text),
            c("exchange", Text),
            c("kind", Text),
            c("board", Text),
            c("currency", Text),
            c("lot_size", Int),
            c("tick_size", Real),
            c("price_limit", Real),
            c("list_date", Date),
            c("delist_date", Date),
            c("session", Text),
            c("timezone", Text),
            c("industry", Text),
            c("area", Text),
            c("controller", Text),
        ],
        key: &["symbol"],
        identity: false,
    },
    Table {
        name: "series",
        columns: &[
            c("id", Int),
            c("symbol", Text),
            c("resolution", Text),
            c("first_ts", Int),
            c("last_ts", Int),
            c("bar_count", Int),
            c("version", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "bars",
        columns: &[
            c("series_id", Int),
            c("ts", Int),
            c("open", Real),
            c("high", Real),
            c("low", Real),
            c("close", Real),
            c("volume", Real),
            c("amount", Real),
        ],
        key: &["series_id", "ts"],
        identity: false,
    },
    Table {
        name: "adj_factors",
        columns: &[c("symbol", Text), c("date", Date), c("factor", Real)],
        key: &["symbol", "date"],
        identity: false,
    },
    Table {
        name: "trading_calendar",
        columns: &[c("exchange", Text), c("date", Date)],
        key: &["exchange", "date"],
        identity: false,
    },
    Table {
        name: "statements",
        columns: &[
            c("id", Int),
            c("symbol", Text),
            c("statement", Text),
            c("period", Date),
            c("report_type", Text),
            c("end_type", Text),
            c("update_flag", Text),
            c("ann_date", Date),
            c("f_ann_date", Date),
            c("known_on", Date),
            c("fields", Text),
        ],
        // The natural key has NULL dates, which the engines order differently; ids are restored.
        key: &["id"],
        identity: true,
    },
    Table {
        name: "source_calls",
        columns: &[
            c("source", Text),
            c("day", Date),
            c("calls", Int),
            c("last_success_ms", Int),
            c("last_error_ms", Int),
            c("last_error", Text),
        ],
        key: &["source", "day"],
        identity: false,
    },
    Table {
        name: "valuations",
        columns: &[
            c("id", Int),
            c("owner", Text),
            c("ts_code", Text),
            c("valuation_date", Text),
            c("profile", Text),
            c("request_hash", Text),
            c("inputs_hash", Text),
            c("request", Text),
            c("result", Text),
            c("value_per_share", Real),
            c("created_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "valuation_scenarios",
        columns: &[
            c("id", Int),
            c("owner", Text),
            c("name", Text),
            c("preset", Text),
            c("overlay", Text),
            c("created_at", Int),
            c("updated_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "watchlists",
        columns: &[
            c("id", Int),
            c("owner", Text),
            c("name", Text),
            c("is_default", Int),
            c("created_at", Int),
            c("updated_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "llm_providers",
        columns: &[
            c("id", Int),
            c("name", Text),
            c("preset", Text),
            c("base_url", Text),
            c("model", Text),
            c("api_key_enc", Text),
            c("api_key_last4", Text),
            c("temperature", Real),
            c("top_p", Real),
            c("max_tokens", Int),
            c("timeout_secs", Int),
            c("position", Int),
            c("created_at", Int),
            c("updated_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "watchlist_items",
        columns: &[c("list_id", Int), c("symbol", Text), c("position", Int), c("added_at", Int)],
        key: &["list_id", "symbol"],
        identity: false,
    },
    Table {
        name: "trademaster_sessions",
        columns: &[
            c("session_id", Text),
            c("owner", Text),
            c("state", Text),
            c("version", Int),
            c("created_at", Int),
            c("updated_at", Int),
        ],
        key: &["session_id"],
        identity: false,
    },
    Table {
        name: "trademaster_datasets",
        columns: &[c("session_id", Text), c("name", Text), c("data", Bytes), c("created_at", Int)],
        key: &["session_id", "name"],
        identity: false,
    },
    Table {
        name: "prompt_templates",
        columns: &[
            c("id", Int),
            c("name", Text),
            c("version", Int),
            c("kind", Text),
            c("lang", Text),
            c("system", Text),
            c("user_text", Text),
            c("is_default", Int),
            c("uses", Int),
            c("created_by", Text),
            c("created_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "reports",
        columns: &[
            c("id", Int),
            c("owner", Text),
            c("symbol", Text),
            c("report_date", Text),
            c("kind", Text),
            c("lang", Text),
            c("industry", Text),
            c("provider", Text),
            c("model", Text),
            c("prompt_id", Int),
            c("prompt_name", Text),
            c("prompt_version", Int),
            c("markdown", Text),
            c("context", Text),
            c("warnings", Text),
            c("tokens_in", Int),
            c("tokens_out", Int),
            c("latency_ms", Int),
            c("job_id", Int),
            c("created_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "users",
        columns: &[
            c("id", Int),
            c("email", Text),
            c("password_hash", Text),
            c("role", Text),
            c("verified", Int),
            c("disabled", Int),
            c("created_at", Int),
            c("last_login_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "sessions",
        columns: &[c("id_hash", Text), c("user_id", Int), c("csrf", Text), c("created_at", Int), c("last_seen", Int)],
        key: &["id_hash"],
        identity: false,
    },
    Table {
        name: "api_keys",
        columns: &[
            c("id", Int),
            c("user_id", Int),
            c("name", Text),
            c("prefix", Text),
            c("secret_hash", Text),
            c("scopes", Text),
            c("created_at", Int),
            c("expires_at", Int),
            c("last_used_at", Int),
            c("revoked_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "user_prefs",
        columns: &[c("user_id", Int), c("name", Text), c("value", Text), c("updated_at", Int)],
        key: &["user_id", "name"],
        identity: false,
    },
    Table {
        name: "email_codes",
        columns: &[
            c("email", Text),
            c("purpose", Text),
            c("code_hash", Text),
            c("sent_at", Int),
            c("expires_at", Int),
            c("attempts", Int),
            c("secret", Text),
        ],
        key: &["email", "purpose"],
        identity: false,
    },
    Table { name: "auth_failures", columns: &[c("key", Text), c("at", Int)], key: &["key", "at"], identity: false },
    Table {
        name: "auth_counters",
        columns: &[c("key", Text), c("window_start", Int), c("n", Int), c("last_at", Int)],
        key: &["key"],
        identity: false,
    },
    Table {
        name: "audit_log",
        columns: &[
            c("id", Int),
            c("at", Int),
            c("user_id", Int),
            c("actor", Text),
            c("event", Text),
            c("target", Text),
            c("ip", Text),
            c("detail", Text),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "jobs",
        columns: &[
            c("id", Int),
            c("owner", Text),
            c("kind", Text),
            c("queue", Text),
            c("params", Text),
            c("state", Text),
            c("priority", Int),
            c("attempts", Int),
            c("max_attempts", Int),
            c("timeout_ms", Int),
            c("run_at", Int),
            c("lease_until", Int),
            c("worker", Text),
            c("cancel_requested", Int),
            c("idempotency_key", Text),
            c("progress_done", Int),
            c("progress_total", Int),
            c("progress_message", Text),
            c("result", Text),
            c("error", Text),
            c("created_at", Int),
            c("started_at", Int),
            c("finished_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "job_logs",
        columns: &[c("job_id", Int), c("seq", Int), c("at", Int), c("line", Text)],
        key: &["job_id", "seq"],
        identity: false,
    },
    Table {
        name: "job_artifacts",
        columns: &[c("job_id", Int), c("name", Text), c("content_type", Text), c("data", Bytes)],
        key: &["job_id", "name"],
        identity: false,
    },
    Table {
        name: "schedules",
        columns: &[
            c("id", Int),
            c("name", Text),
            c("cron", Text),
            c("timezone", Text),
            c("kind", Text),
            c("params", Text),
            c("enabled", Int),
            c("catch_up", Int),
            c("last_fire", Int),
            c("created_at", Int),
            c("owner", Text),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "schedule_runs",
        columns: &[c("schedule_id", Int), c("fire_at", Int), c("job_id", Int)],
        key: &["schedule_id", "fire_at"],
        identity: false,
    },
    Table {
        name: "backups",
        columns: &[
            c("id", Int),
            c("at", Int),
            c("file", Text),
            c("bytes", Int),
            c("row_count", Int),
            c("sha256", Text),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "coin_accounts",
        columns: &[
            c("user_id", Int),
            c("available", Int),
            c("frozen", Int),
            c("checkin_day", Text),
            c("streak", Int),
            c("updated_at", Int),
        ],
        key: &["user_id"],
        identity: false,
    },
    Table {
        name: "coin_ledger",
        columns: &[
            c("id", Int),
            c("user_id", Int),
            c("kind", Text),
            c("amount", Int),
            c("frozen_change", Int),
            c("available_before", Int),
            c("available_after", Int),
            c("frozen_before", Int),
            c("frozen_after", Int),
            c("reason", Text),
            c("related", Text),
            c("idem_key", Text),
            c("actor", Text),
            c("created_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "coin_reservations",
        columns: &[
            c("res_key", Text),
            c("user_id", Int),
            c("amount", Int),
            c("state", Text),
            c("related", Text),
            c("created_at", Int),
            c("updated_at", Int),
        ],
        key: &["res_key"],
        identity: false,
    },
    Table {
        name: "coin_packages",
        columns: &[
            c("package_id", Text),
            c("name", Text),
            c("coins", Int),
            c("price_fen", Int),
            c("currency", Text),
            c("active", Int),
            c("sort", Int),
            c("updated_at", Int),
        ],
        key: &["package_id"],
        identity: false,
    },
    Table {
        name: "coin_orders",
        columns: &[
            c("order_no", Text),
            c("user_id", Int),
            c("package_id", Text),
            c("coins", Int),
            c("amount_fen", Int),
            c("currency", Text),
            c("payment_method", Text),
            c("status", Text),
            c("provider_ref", Text),
            c("created_at", Int),
            c("updated_at", Int),
        ],
        key: &["order_no"],
        identity: false,
    },
    Table {
        name: "payment_events",
        columns: &[
            c("provider", Text),
            c("event_id", Text),
            c("order_no", Text),
            c("amount_fen", Int),
            c("outcome", Text),
            c("received_at", Int),
        ],
        key: &["provider", "event_id"],
        identity: false,
    },
];

/// How the live schema (see [`BackupStore::schema_columns`]) differs from [`TABLES`], if it does.
pub fn schema_difference(live: &[(String, String)]) -> Option<String> {
    let mut expected: Vec<(String, String)> =
        TABLES.iter().flat_map(|t| t.columns.iter().map(move |c| (t.name.to_string(), c.name.to_string()))).collect();
    let mut live = live.to_vec();
    expected.sort();
    live.sort();
    let missing: Vec<String> = expected.iter().filter(|e| !live.contains(e)).map(|(t, c)| format!("{t}.{c}")).collect();
    let unknown: Vec<String> = live.iter().filter(|l| !expected.contains(l)).map(|(t, c)| format!("{t}.{c}")).collect();
    if missing.is_empty() && unknown.is_empty() {
        return None;
    }
    Some(format!(
        "the database schema and the backup's table list differ (not in the database: {}; not backed up: {})",
        if missing.is_empty() { "none".to_string() } else { missing.join(", ") },
        if unknown.is_empty() { "none".to_string() } else { unknown.join(", ") }
    ))
}

/// The table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// One cell, typed by its column (`None` is SQL NULL).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Date(Option<NaiveDate>),
    Bytes(Option<Vec<u8>>),
}

/// One row, in its table's column order.
pub type Row = Vec<Value>;

/// A failure while backing up or restoring. Messages name the file, table and line at fault.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
    /// The archive is not a complete, unaltered quantdesk backup.
    #[error("the archive is damaged or incomplete: {0}")]
    Corrupt(String),
    /// The archive is fine but cannot go into this database as asked.
    #[error("{0}")]
    Refused(String),
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        BackupError::Store(StoreError::Database(e))
    }
}

pub type BResult<T> = std::result::Result<T, BackupError>;

/// Where an export sends rows: every table of [`TABLES`] in order, each as `table` then batches.
#[async_trait]
pub trait RowSink: Send {
    async fn table(&mut self, table: &'static Table) -> BResult<()>;
    async fn rows(&mut self, rows: Vec<Row>) -> BResult<()>;
}

/// What a restore reads: a table, then its rows in batches, then the next table; `None` at the end.
#[derive(Debug)]
pub enum Item {
    Table(&'static Table),
    Rows(Vec<Row>),
}

#[async_trait]
pub trait RowSource: Send {
    async fn next(&mut self) -> BResult<Option<Item>>;
}

/// A backup that was written, as recorded in the database it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    /// Unix milliseconds when the snapshot was taken.
    pub at: i64,
    pub file: String,
    pub bytes: i64,
    pub rows: i64,
    pub sha256: String,
}

/// The backup port.
#[async_trait]
pub trait BackupStore: Send + Sync {
    /// The latest applied migration: an archive restores only into the same schema version.
    async fn schema_version(&self) -> crate::Result<i64>;
    /// Every (table, column) of the live schema but the migrations table, by table and position:
    /// a backup refuses to run when this differs from [`TABLES`], so nothing stored is left out.
    async fn schema_columns(&self) -> crate::Result<Vec<(String, String)>>;
    /// Rows in every backed-up table, in [`TABLES`] order.
    async fn table_counts(&self) -> crate::Result<Vec<(&'static str, i64)>>;
    /// Streams every table from one consistent snapshot into `sink`, rows in key order.
    async fn export(&self, sink: &mut dyn RowSink) -> BResult<()>;
    /// Loads everything `source` yields in one transaction. Refuses a non-empty target unless
    /// `replace`, which first deletes every row. On any error nothing changes.
    async fn restore(&self, source: &mut dyn RowSource, replace: bool) -> BResult<u64>;
    async fn record_backup(&self, record: &BackupRecord) -> crate::Result<()>;
    async fn last_backup(&self) -> crate::Result<Option<BackupRecord>>;
}

/// Writes a backup of `store` to `path` (see [`archive::write`]) and records it in the store, so
/// the metrics can tell the age of the newest backup.
pub async fn backup_to_file(
    store: &dyn crate::Store,
    path: &std::path::Path,
    info: &archive::WriteInfo,
) -> BResult<archive::Written> {
    let written = archive::write(store, path, info).await?;
    let record = BackupRecord {
        at: info.now_ms,
        file: path.display().to_string(),
        bytes: written.bytes as i64,
        rows: written.manifest.total_rows as i64,
        sha256: written.sha256.clone(),
    };
    store.record_backup(&record).await?;
    Ok(written)
}

/// A scheduled backup: a new archive named by its time in `dir`, then retention (see
/// [`retention`]). Returns the archive's path, what was written, and the files deleted.
pub async fn backup_to_dir(
    store: &dyn crate::Store,
    dir: &std::path::Path,
    keep_daily: usize,
    keep_weekly: usize,
    info: &archive::WriteInfo,
) -> BResult<(std::path::PathBuf, archive::Written, Vec<String>)> {
    let at = chrono::DateTime::from_timestamp_millis(info.now_ms).unwrap_or_default();
    let path = dir.join(retention::file_name(at));
    let written = backup_to_file(store, &path, info).await?;
    let mut names = Vec::new();
    let mut stale_partials = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| BackupError::Io(format!("listing {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if retention::is_partial(&name) {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(86_400));
            if old {
                stale_partials.push(name);
            }
        } else {
            names.push(name);
        }
    }
    let mut deleted = retention::to_delete(&names, keep_daily, keep_weekly);
    deleted.extend(stale_partials);
    for name in &deleted {
        if let Err(e) = std::fs::remove_file(dir.join(name)) {
            tracing::warn!(file = %name, error = %e, "could not delete an old backup");
        }
    }
    Ok((path, written, deleted))
}

/// Rows per batch handed between the database and the archive.
pub const BATCH: usize = 1000;

/// Rows per multi-row INSERT for a table of `cols` columns, under both engines' parameter limits.
pub(crate) fn insert_rows_per_statement(cols: usize) -> usize {
    (30_000 / cols.max(1)).min(1000)
}

macro_rules! backup_store_impl {
    ($store:ty, pg = $pg:literal, columns_sql = $columns_sql:literal) => {
        #[async_trait::async_trait]
        impl $crate::backup::BackupStore for $store {
            async fn schema_version(&self) -> $crate::Result<i64> {
                Ok(sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn schema_columns(&self) -> $crate::Result<Vec<(String, String)>> {
                Ok(sqlx::query_as($columns_sql).fetch_all(&self.pool).await?)
            }

            async fn table_counts(&self) -> $crate::Result<Vec<(&'static str, i64)>> {
                let mut out = Vec::with_capacity($crate::backup::TABLES.len());
                for t in $crate::backup::TABLES {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name));
                    let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
                    out.push((t.name, n));
                }
                Ok(out)
            }

            async fn export(&self, sink: &mut dyn $crate::backup::RowSink) -> $crate::backup::BResult<()> {
                use futures_util::TryStreamExt;
                use sqlx::Row as _;
                use $crate::backup::{Kind, Value};
                let mut tx = self.pool.begin().await?;
                if $pg {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
                }
                for t in $crate::backup::TABLES {
                    sink.table(t).await?;
                    // Bytewise text order on both engines, so both give the same row order.
                    let order = t
                        .key
                        .iter()
                        .map(|k| {
                            let text = t.columns.iter().any(|c| c.name == *k && c.kind == Kind::Text);
                            if text && $pg { format!("{k} COLLATE \"C\"") } else { (*k).to_string() }
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!("SELECT {} FROM {} ORDER BY {order}", t.column_list(), t.name);
                    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *tx);
                    let mut batch = Vec::with_capacity($crate::backup::BATCH);
                    while let Some(row) = rows.try_next().await? {
                        let mut out = Vec::with_capacity(t.columns.len());
                        for (i, col) in t.columns.iter().enumerate() {
                            out.push(match col.kind {
                                Kind::Int => Value::Int(row.try_get(i)?),
                                Kind::Real => Value::Real(row.try_get(i)?),
                                Kind::Text => Value::Text(row.try_get(i)?),
                                Kind::Date => Value::Date(row.try_get(i)?),
                                Kind::Bytes => Value::Bytes(row.try_get(i)?),
                            });
                        }
                        batch.push(out);
                        if batch.len() == $crate::backup::BATCH {
                            sink.rows(std::mem::replace(&mut batch, Vec::with_capacity($crate::backup::BATCH))).await?;
                        }
                    }
                    drop(rows);
                    if !batch.is_empty() {
                        sink.rows(batch).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn restore(
                &self,
                source: &mut dyn $crate::backup::RowSource,
                replace: bool,
            ) -> $crate::backup::BResult<u64> {
                use $crate::backup::{BackupError, Item, TABLES, Value};
                let mut tx = self.pool.begin().await?;
                if replace {
                    for t in TABLES.iter().rev() {
                        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", t.name))).execute(&mut *tx).await?;
                    }
                } else {
                    for t in TABLES {
                        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name));
                        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
                        if n > 0 {
                            return Err(BackupError::Refused(format!(
                                "the target database is not empty ({n} rows in {}); restore into an empty database or pass --replace to overwrite it",
                                t.name
                            )));
                        }
                    }
                }
                let mut current: Option<&'static $crate::backup::Table> = None;
                let mut total = 0u64;
                while let Some(item) = source.next().await? {
                    match item {
                        Item::Table(t) => current = Some(t),
                        Item::Rows(rows) => {
                            let Some(t) = current else {
                                return Err(BackupError::Corrupt("rows before any table".into()));
                            };
                            let per = $crate::backup::insert_rows_per_statement(t.columns.len());
                            for chunk in rows.chunks(per) {
                                let sql = $crate::backup::insert_sql(t, chunk.len(), $pg);
                                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                                for row in chunk {
                                    for v in row {
                                        q = match v {
                                            Value::Int(x) => q.bind(*x),
                                            Value::Real(x) => q.bind(*x),
                                            Value::Text(x) => q.bind(x.as_deref()),
                                            Value::Date(x) => q.bind(*x),
                                            Value::Bytes(x) => q.bind(x.as_deref()),
                                        };
                                    }
                                }
                                q.execute(&mut *tx).await?;
                            }
                            total += rows.len() as u64;
                        }
                    }
                }
                if $pg {
                    // Identity columns continue after the restored ids.
                    for t in TABLES.iter().filter(|t| t.identity) {
                        let sql = format!(
                            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), GREATEST(COALESCE(MAX(id), 0), 1), MAX(id) IS NOT NULL) FROM {0}",
                            t.name
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(total)
            }

            async fn record_backup(&self, r: &$crate::backup::BackupRecord) -> $crate::Result<()> {
                sqlx::query("INSERT INTO backups (at, file, bytes, row_count, sha256) VALUES ($1, $2, $3, $4, $5)")
                    .bind(r.at)
                    .bind(&r.file)
                    .bind(r.bytes)
                    .bind(r.rows)
                    .bind(&r.sha256)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn last_backup(&self) -> $crate::Result<Option<$crate::backup::BackupRecord>> {
                let row: Option<(i64, String, i64, i64, String)> = sqlx::query_as(
                    "SELECT at, file, bytes, row_count, sha256 FROM backups ORDER BY at DESC, id DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(at, file, bytes, rows, sha256)| $crate::backup::BackupRecord { at, file, bytes, rows, sha256 }))
            }
        }
    };
}

pub(crate) use backup_store_impl;

/// `INSERT INTO t (cols) VALUES (…), …` for `rows` rows: `?` placeholders for SQLite (whose
/// named-parameter lookup is linear), `$n` for PostgreSQL.
pub(crate) fn insert_sql(t: &Table, rows: usize, pg: bool) -> String {
    let cols = t.columns.len();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, t.column_list());
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            if pg {
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_unique_and_keys_are_columns() {
        let mut names: Vec<_> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for t in TABLES {
            for k in t.key {
                assert!(t.columns.iter().any(|c| c.name == *k), "{}: key {k} is not a column", t.name);
            }
            assert_eq!(t.identity, t.columns.first().is_some_and(|c| c.name == "id"), "{}", t.name);
        }
    }

    #[test]
    fn insert_sql_numbers_placeholders() {
        let t = table("trading_calendar").unwrap();
        assert_eq!(insert_sql(t, 2, true), "INSERT INTO trading_calendar (exchange, date) VALUES ($1,$2),($3,$4)");
        assert_eq!(insert_sql(t, 1, false), "INSERT INTO trading_calendar (exchange, date) VALUES (?,?)");
        assert!(insert_rows_per_statement(23) * 23 <= 30_000);
    }
}
