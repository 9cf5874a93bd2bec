//! The SQL both backends share and the macro that implements [`crate::MarketStore`] for each.
//!
//! The trait methods are written once, here, and expanded per backend with its concrete pool type,
//! so the two implementations cannot drift apart. What differs (bulk inserts) lives in each
//! backend's `insert_bars` and `insert_factors` inherent methods.

use chrono::NaiveDate;
use quantdesk_core::{Instrument, InstrumentKind, Resolution, Session, Symbol};
use sqlx::Row;

use crate::{InstrumentQuery, Result, SeriesInfo, StoreError};

pub(crate) const INSTRUMENT_COLUMNS: &str = "symbol, name, abbrev, exchange, kind, board, currency, lot_size, tick_size, price_limit, list_date, delist_date, session, timezone, industry, area, controller";

pub(crate) const UPSERT_INSTRUMENT: &str = "INSERT INTO instruments (symbol, name, abbrev, exchange, kind, board, currency, lot_size, tick_size, price_limit, list_date, delist_date, session, timezone, industry, area, controller) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
     ON CONFLICT (symbol) DO UPDATE SET name = excluded.name, abbrev = excluded.abbrev, exchange = excluded.exchange, \
     kind = excluded.kind, board = excluded.board, currency = excluded.currency, lot_size = excluded.lot_size, \
     tick_size = excluded.tick_size, price_limit = excluded.price_limit, list_date = excluded.list_date, \
     delist_date = excluded.delist_date, session = excluded.session, timezone = excluded.timezone, \
     industry = excluded.industry, area = excluded.area, controller = excluded.controller";

pub(crate) const INSERT_INSTRUMENT_IF_MISSING: &str = "INSERT INTO instruments (symbol, name, abbrev, exchange, kind, board, currency, lot_size, tick_size, price_limit, list_date, delist_date, session, timezone, industry, area, controller) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (symbol) DO NOTHING";

pub(crate) const ENSURE_SERIES: &str = "INSERT INTO series (symbol, resolution, first_ts, last_ts, bar_count) \
     VALUES ($1, $2, 0, 0, 0) ON CONFLICT (symbol, resolution) DO NOTHING";

pub(crate) const SERIES_ID: &str = "SELECT id FROM series WHERE symbol = $1 AND resolution = $2";

pub(crate) const REFRESH_SERIES: &str = "UPDATE series SET \
     first_ts = COALESCE((SELECT MIN(ts) FROM bars WHERE series_id = $1), 0), \
     last_ts = COALESCE((SELECT MAX(ts) FROM bars WHERE series_id = $1), 0), \
     bar_count = (SELECT COUNT(*) FROM bars WHERE series_id = $1), version = version + 1 WHERE id = $1";

pub(crate) const BARS_COLUMNS: &str = "ts, open, high, low, close, volume, amount";

/// An upsert that leaves a row with the same values alone, so the statement's affected-row count
/// is the number of bars that are new or changed (every column is `NOT NULL`, so `<>` is exact).
pub(crate) const BAR_UPSERT_TAIL: &str = " ON CONFLICT (series_id, ts) DO UPDATE SET open = excluded.open, high = excluded.high, \
     low = excluded.low, close = excluded.close, volume = excluded.volume, amount = excluded.amount \
     WHERE bars.open <> excluded.open OR bars.high <> excluded.high OR bars.low <> excluded.low \
     OR bars.close <> excluded.close OR bars.volume <> excluded.volume OR bars.amount <> excluded.amount";

/// Like [`BAR_UPSERT_TAIL`]: an unchanged factor is not counted.
pub(crate) const FACTOR_UPSERT_TAIL: &str =
    " ON CONFLICT (symbol, date) DO UPDATE SET factor = excluded.factor WHERE adj_factors.factor <> excluded.factor";

/// The migrator for one backend's schema: one embedded SQL file per version, in order.
///
/// Migrations only add (tables, columns with defaults, indexes), so an older binary still works
/// against a database a newer one migrated: it ignores the versions it does not know. That is
/// what lets blue/green and rolling upgrades roll back, and an old pod restart mid-rollout.
pub(crate) fn migrator(versions: &[(&'static str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let migrations = versions
        .iter()
        .enumerate()
        .map(|(i, (name, sql))| {
            Migration::new(i as i64 + 1, (*name).into(), MigrationType::Simple, sqlx::SqlStr::from_static(sql), false)
        })
        .collect();
    Migrator { migrations: std::borrow::Cow::Owned(migrations), ignore_missing: true, ..Migrator::DEFAULT }
}

/// `m` with one more migration of an explicit version, after the positional ones: a number
/// reserved for it while earlier numbers land on other branches (0015, reports).
pub(crate) fn with_version(
    mut m: sqlx::migrate::Migrator,
    version: i64,
    name: &'static str,
    sql: &'static str,
) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType};
    m.migrations.to_mut().push(Migration::new(
        version,
        name.into(),
        MigrationType::Simple,
        sqlx::SqlStr::from_static(sql),
        false,
    ));
    m
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One argument of an instrument filter.
pub(crate) enum FilterArg {
    Text(String),
    Date(NaiveDate),
}

/// The WHERE clause (from `$1` on) and its arguments for an instrument query.
pub(crate) fn instrument_filter(q: &InstrumentQuery) -> (String, Vec<FilterArg>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        args.push(FilterArg::Text(format!("%{}%", like_escape(&t.to_lowercase()))));
        let n = args.len();
        clauses.push(format!(
            "(LOWER(symbol) LIKE ${n} ESCAPE '\\' OR LOWER(name) LIKE ${n} ESCAPE '\\' OR LOWER(abbrev) LIKE ${n} ESCAPE '\\')"
        ));
    }
    for (col, val) in [("kind", &q.kind), ("exchange", &q.exchange), ("board", &q.board)] {
        if let Some(v) = val.as_deref().filter(|v| !v.is_empty()) {
            args.push(FilterArg::Text(v.to_string()));
            clauses.push(format!("{col} = ${}", args.len()));
        }
    }
    for (op, val) in [(">=", q.listed_from), ("<=", q.listed_to)] {
        if let Some(d) = val {
            args.push(FilterArg::Date(d));
            clauses.push(format!("list_date {op} ${}", args.len()));
        }
    }
    let sql = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
    (sql, args)
}

/// ORDER BY for instrument listings: exact code or abbreviation first, then prefixes, then by symbol.
/// `exact` and `prefix` are the placeholders for the lower-cased text and its prefix pattern.
pub(crate) fn instrument_order(exact: usize, prefix: usize) -> String {
    format!(
        " ORDER BY CASE WHEN LOWER(symbol) = ${exact} OR LOWER(abbrev) = ${exact} OR LOWER(name) = ${exact} THEN 0 \
         WHEN LOWER(symbol) LIKE ${prefix} ESCAPE '\\' OR LOWER(abbrev) LIKE ${prefix} ESCAPE '\\' OR LOWER(name) LIKE ${prefix} ESCAPE '\\' THEN 1 ELSE 2 END, symbol"
    )
}

/// Decodes an instrument from a row with [`INSTRUMENT_COLUMNS`].
pub(crate) fn instrument_from_row<'r, R>(row: &'r R) -> Result<Instrument>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<NaiveDate>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let symbol: String = row.try_get(0)?;
    let symbol = Symbol::new(&symbol).map_err(|e| StoreError::Corrupt(e.0))?;
    let session: String = row.try_get(12)?;
    let lot: i64 = row.try_get(7)?;
    Ok(Instrument {
        symbol,
        name: row.try_get(1)?,
        abbrev: row.try_get(2)?,
        exchange: row.try_get(3)?,
        kind: InstrumentKind::parse(&row.try_get::<String, _>(4)?),
        board: row.try_get(5)?,
        currency: row.try_get(6)?,
        lot_size: u32::try_from(lot).map_err(|_| StoreError::Corrupt(format!("lot size {lot}")))?,
        tick_size: row.try_get(8)?,
        price_limit: row.try_get(9)?,
        list_date: row.try_get(10)?,
        delist_date: row.try_get(11)?,
        session: Session::parse(&session).map_err(|e| StoreError::Corrupt(e.0))?,
        timezone: row.try_get(13)?,
        industry: row.try_get(14)?,
        area: row.try_get(15)?,
        controller: row.try_get(16)?,
    })
}

pub(crate) fn series_from(row: &(String, i64, i64, i64, i64)) -> Result<SeriesInfo> {
    let (res, first, last, count, version) = row;
    let resolution = Resolution::parse(res).map_err(|e| StoreError::Corrupt(e.0))?;
    Ok(SeriesInfo { resolution, first: *first, last: *last, count: *count, version: *version })
}

/// Implements [`crate::MarketStore`] for a backend type with a `pool` field of pool type `$pool`
/// and inherent `insert_bars` / `insert_factors` methods.
macro_rules! market_store_impl {
    ($store:ty, $session:ident, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::MarketStore for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            fn pool_stats(&self) -> $crate::PoolStats {
                $crate::PoolStats {
                    size: self.pool.size(),
                    idle: self.pool.num_idle() as u32,
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn ping(&self) -> $crate::Result<std::time::Duration> {
                let started = std::time::Instant::now();
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(started.elapsed())
            }

            async fn upsert_instruments(&self, items: &[quantdesk_core::Instrument]) -> $crate::Result<u64> {
                let mut tx = self.pool.begin().await?;
                for i in items {
                    bind_instrument(sqlx::query($crate::common::UPSERT_INSTRUMENT), i).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(items.len() as u64)
            }

            async fn instrument(&self, symbol: &quantdesk_core::Symbol) -> $crate::Result<Option<quantdesk_core::Instrument>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM instruments WHERE symbol = $1",
                    $crate::common::INSTRUMENT_COLUMNS
                ));
                let row = sqlx::query(sql).bind(symbol.as_str()).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::common::instrument_from_row).transpose()
            }

            async fn list_instruments(&self, q: &$crate::InstrumentQuery) -> $crate::Result<Vec<quantdesk_core::Instrument>> {
                let (filter, mut args) = $crate::common::instrument_filter(q);
                let text = q.text.as_deref().map(str::trim).unwrap_or("").to_lowercase();
                args.push($crate::common::FilterArg::Text(text.clone()));
                let exact = args.len();
                args.push($crate::common::FilterArg::Text(format!("{}%", $crate::common::like_escape(&text))));
                let prefix = args.len();
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM instruments{}{} LIMIT {} OFFSET {}",
                    $crate::common::INSTRUMENT_COLUMNS,
                    filter,
                    $crate::common::instrument_order(exact, prefix),
                    q.limit.max(1),
                    q.offset
                ));
                let mut query = sqlx::query(sql);
                for a in args {
                    query = match a {
                        $crate::common::FilterArg::Text(t) => query.bind(t),
                        $crate::common::FilterArg::Date(d) => query.bind(d),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter().map($crate::common::instrument_from_row).collect()
            }

            async fn count_instruments(&self, q: &$crate::InstrumentQuery) -> $crate::Result<u64> {
                let (filter, args) = $crate::common::instrument_filter(q);
                let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM instruments{filter}"));
                let mut query = sqlx::query_scalar::<_, i64>(sql);
                for a in args {
                    query = match a {
                        $crate::common::FilterArg::Text(t) => query.bind(t),
                        $crate::common::FilterArg::Date(d) => query.bind(d),
                    };
                }
                Ok(query.fetch_one(&self.pool).await? as u64)
            }

            async fn begin_import(
                &self,
                resolution: quantdesk_core::Resolution,
            ) -> $crate::Result<Box<dyn $crate::ImportSession>> {
                Ok(Box::new($session {
                    tx: self.pool.begin().await?,
                    resolution,
                    res: resolution.as_udf(),
                    ids: std::collections::HashMap::new(),
                    summary: $crate::ImportSummary::default(),
                }))
            }

            async fn import_bars(
                &self,
                resolution: quantdesk_core::Resolution,
                series: &[$crate::BarSeriesWrite<'_>],
                progress: &(dyn Fn(u64) + Send + Sync),
            ) -> $crate::Result<$crate::ImportSummary> {
                let mut session = self.begin_import(resolution).await?;
                for s in series {
                    session.write(s).await?;
                    progress(session.written());
                }
                session.commit().await
            }

            async fn bars(
                &self,
                symbol: &quantdesk_core::Symbol,
                res: quantdesk_core::Resolution,
                from: i64,
                to: i64,
                countback: Option<u32>,
            ) -> $crate::Result<Vec<quantdesk_core::Bar>> {
                let rows: Vec<(i64, f64, f64, f64, f64, f64, f64)> = match countback {
                    Some(n) => {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {} FROM bars WHERE series_id = (SELECT id FROM series WHERE symbol = $1 AND resolution = $2) \
                             AND ts >= $3 AND ts < $4 ORDER BY ts DESC LIMIT $5",
                            $crate::common::BARS_COLUMNS
                        ));
                        let mut v: Vec<_> = sqlx::query_as(sql)
                            .bind(symbol.as_str())
                            .bind(res.as_udf())
                            .bind(from)
                            .bind(to)
                            .bind(i64::from(n))
                            .fetch_all(&self.pool)
                            .await?;
                        v.reverse();
                        v
                    }
                    None => {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {} FROM bars WHERE series_id = (SELECT id FROM series WHERE symbol = $1 AND resolution = $2) \
                             AND ts >= $3 AND ts < $4 ORDER BY ts",
                            $crate::common::BARS_COLUMNS
                        ));
                        sqlx::query_as(sql)
                            .bind(symbol.as_str())
                            .bind(res.as_udf())
                            .bind(from)
                            .bind(to)
                            .fetch_all(&self.pool)
                            .await?
                    }
                };
                Ok(rows
                    .into_iter()
                    .map(|(time, open, high, low, close, volume, amount)| quantdesk_core::Bar {
                        time,
                        open,
                        high,
                        low,
                        close,
                        volume,
                        amount,
                    })
                    .collect())
            }

            async fn bar_before(
                &self,
                symbol: &quantdesk_core::Symbol,
                res: quantdesk_core::Resolution,
                time: i64,
            ) -> $crate::Result<Option<i64>> {
                Ok(sqlx::query_scalar::<_, i64>(
                    "SELECT ts FROM bars WHERE series_id = (SELECT id FROM series WHERE symbol = $1 AND resolution = $2) \
                     AND ts < $3 ORDER BY ts DESC LIMIT 1",
                )
                .bind(symbol.as_str())
                .bind(res.as_udf())
                .bind(time)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn series(&self, symbol: &quantdesk_core::Symbol) -> $crate::Result<Vec<$crate::SeriesInfo>> {
                let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT resolution, first_ts, last_ts, bar_count, version FROM series WHERE symbol = $1 AND bar_count > 0",
                )
                .bind(symbol.as_str())
                .fetch_all(&self.pool)
                .await?;
                let mut out = rows
                    .iter()
                    .map($crate::common::series_from)
                    .collect::<$crate::Result<Vec<_>>>()?;
                out.sort_by_key(|s| s.resolution);
                Ok(out)
            }

            async fn adj_factors(&self, symbol: &quantdesk_core::Symbol) -> $crate::Result<Vec<quantdesk_core::AdjFactor>> {
                let rows: Vec<(chrono::NaiveDate, f64)> =
                    sqlx::query_as("SELECT date, factor FROM adj_factors WHERE symbol = $1 ORDER BY date")
                        .bind(symbol.as_str())
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(date, factor)| quantdesk_core::AdjFactor { date, factor }).collect())
            }

            async fn add_trading_days(&self, exchange: &str, dates: &[chrono::NaiveDate]) -> $crate::Result<u64> {
                let mut tx = self.pool.begin().await?;
                let added = Self::insert_calendar(&mut tx, exchange, dates).await?;
                tx.commit().await?;
                Ok(added)
            }

            async fn trading_days(
                &self,
                exchange: &str,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> $crate::Result<Vec<chrono::NaiveDate>> {
                Ok(sqlx::query_scalar(
                    "SELECT date FROM trading_calendar WHERE exchange = $1 AND date >= $2 AND date <= $3 ORDER BY date",
                )
                .bind(exchange)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn busiest_symbol(&self) -> $crate::Result<Option<quantdesk_core::Symbol>> {
                let s: Option<String> = sqlx::query_scalar(
                    "SELECT s.symbol FROM series s LEFT JOIN instruments i ON i.symbol = s.symbol WHERE s.bar_count > 0 \
                     GROUP BY s.symbol, i.kind ORDER BY CASE WHEN i.kind = 'index' THEN 0 ELSE 1 END, SUM(s.bar_count) DESC, s.symbol LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                s.map(|s| quantdesk_core::Symbol::new(&s).map_err(|e| $crate::StoreError::Corrupt(e.0))).transpose()
            }

            async fn symbols_with(&self, res: quantdesk_core::Resolution) -> $crate::Result<Vec<quantdesk_core::Symbol>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT symbol FROM series WHERE resolution = $1 AND bar_count > 0 ORDER BY symbol",
                )
                .bind(res.as_udf())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|s| quantdesk_core::Symbol::new(s).map_err(|e| $crate::StoreError::Corrupt(e.0)))
                    .collect()
            }

            async fn bar_count(&self) -> $crate::Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(bar_count), 0) AS BIGINT) FROM series").fetch_one(&self.pool).await?;
                Ok(n as u64)
            }
        }

        fn bind_instrument<'q>(
            q: sqlx::query::Query<'q, <$store as $crate::common::Backend>::Db, <<$store as $crate::common::Backend>::Db as sqlx::Database>::Arguments>,
            i: &'q quantdesk_core::Instrument,
        ) -> sqlx::query::Query<'q, <$store as $crate::common::Backend>::Db, <<$store as $crate::common::Backend>::Db as sqlx::Database>::Arguments> {
            q.bind(i.symbol.as_str())
                .bind(i.name.as_str())
                .bind(i.abbrev.as_str())
                .bind(i.exchange.as_str())
                .bind(i.kind.as_str())
                .bind(i.board.as_str())
                .bind(i.currency.as_str())
                .bind(i64::from(i.lot_size))
                .bind(i.tick_size)
                .bind(i.price_limit)
                .bind(i.list_date)
                .bind(i.delist_date)
                .bind(i.session.to_string())
                .bind(i.timezone.as_str())
                .bind(i.industry.as_str())
                .bind(i.area.as_str())
                .bind(i.controller.as_str())
        }

        /// One import in one transaction; dropping it uncommitted rolls everything back.
        pub struct $session {
            tx: sqlx::Transaction<'static, <$store as $crate::common::Backend>::Db>,
            resolution: quantdesk_core::Resolution,
            res: String,
            /// Series ids touched, by symbol; their summaries are refreshed at commit.
            ids: std::collections::HashMap<quantdesk_core::Symbol, i64>,
            summary: $crate::ImportSummary,
        }

        #[async_trait::async_trait]
        impl $crate::ImportSession for $session {
            async fn write(&mut self, s: &$crate::BarSeriesWrite<'_>) -> $crate::Result<()> {
                let series_id = match self.ids.get(s.symbol) {
                    Some(id) => *id,
                    None => {
                        let inst = quantdesk_core::Instrument::with_defaults(s.symbol.clone(), "", default_kind(s.symbol));
                        self.summary.instruments_created +=
                            bind_instrument(sqlx::query($crate::common::INSERT_INSTRUMENT_IF_MISSING), &inst)
                                .execute(&mut *self.tx)
                                .await?
                                .rows_affected();
                        sqlx::query($crate::common::ENSURE_SERIES)
                            .bind(s.symbol.as_str())
                            .bind(&self.res)
                            .execute(&mut *self.tx)
                            .await?;
                        let id: i64 = sqlx::query_scalar($crate::common::SERIES_ID)
                            .bind(s.symbol.as_str())
                            .bind(&self.res)
                            .fetch_one(&mut *self.tx)
                            .await?;
                        self.ids.insert(s.symbol.clone(), id);
                        id
                    }
                };
                self.summary.bars_changed += <$store>::insert_bars(&mut self.tx, series_id, s.bars, &|_| {}).await?;
                self.summary.bars += s.bars.len() as u64;
                self.summary.factors_changed +=
                    <$store>::insert_factors(&mut self.tx, s.symbol.as_str(), s.factors).await?;
                self.summary.factors += s.factors.len() as u64;
                if let (Some(exchange), quantdesk_core::Resolution::Day) = (s.calendar, self.resolution) {
                    let dates: Vec<chrono::NaiveDate> = s
                        .bars
                        .iter()
                        .map(|b| chrono::DateTime::from_timestamp(b.time, 0).unwrap_or_default().date_naive())
                        .collect();
                    <$store>::insert_calendar(&mut self.tx, exchange, &dates).await?;
                }
                Ok(())
            }

            async fn replace_factors(
                &mut self,
                symbol: &quantdesk_core::Symbol,
                factors: &[quantdesk_core::AdjFactor],
            ) -> $crate::Result<()> {
                let before: Vec<(chrono::NaiveDate, f64)> =
                    sqlx::query_as("SELECT date, factor FROM adj_factors WHERE symbol = $1 ORDER BY date")
                        .bind(symbol.as_str())
                        .fetch_all(&mut *self.tx)
                        .await?;
                let mut after: Vec<(chrono::NaiveDate, f64)> = factors.iter().map(|f| (f.date, f.factor)).collect();
                after.sort_by_key(|f| f.0);
                after.dedup_by_key(|f| f.0);
                self.summary.factors += factors.len() as u64;
                if before == after {
                    return Ok(());
                }
                let gone = before.iter().filter(|b| after.binary_search_by_key(&b.0, |a| a.0).is_err()).count() as u64;
                sqlx::query("DELETE FROM adj_factors WHERE symbol = $1")
                    .bind(symbol.as_str())
                    .execute(&mut *self.tx)
                    .await?;
                <$store>::insert_factors(&mut self.tx, symbol.as_str(), factors).await?;
                let kept = after.iter().filter(|a| before.contains(a)).count() as u64;
                self.summary.factors_changed += gone + after.len() as u64 - kept;
                Ok(())
            }

            fn written(&self) -> u64 {
                self.summary.bars
            }

            async fn commit(mut self: Box<Self>) -> $crate::Result<$crate::ImportSummary> {
                for id in self.ids.values() {
                    sqlx::query($crate::common::REFRESH_SERIES).bind(*id).execute(&mut *self.tx).await?;
                }
                self.summary.symbols = self.ids.len() as u64;
                let Self { tx, summary, .. } = *self;
                tx.commit().await?;
                Ok(summary)
            }
        }

        /// Instruments created implicitly by a bar import: indices for known index code ranges, stocks otherwise.
        fn default_kind(symbol: &quantdesk_core::Symbol) -> quantdesk_core::InstrumentKind {
            let code = symbol.code();
            match symbol.exchange() {
                quantdesk_core::symbol::Exchange::Sse if code.starts_with("000") => quantdesk_core::InstrumentKind::Index,
                quantdesk_core::symbol::Exchange::Szse if code.starts_with("399") => quantdesk_core::InstrumentKind::Index,
                quantdesk_core::symbol::Exchange::Other => quantdesk_core::InstrumentKind::Other,
                _ => quantdesk_core::InstrumentKind::Stock,
            }
        }
    };
}

pub(crate) use market_store_impl;

/// Ties a store type to its sqlx database type, for the macro.
pub(crate) trait Backend {
    type Db: sqlx::Database;
}
