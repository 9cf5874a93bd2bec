//! Data quality: `quantdesk data check`, `quantdesk data compare` and the data page. The checks
//! themselves are pure (`quantdesk_core::quality`); this reads what they need from the store and
//! the sources.

use chrono::{Datelike, NaiveDate};
use quantdesk_connectors::{Capability, SourceId};
use quantdesk_core::quality::{
    Comparison, Finding, SeriesInput, Thresholds, check_series, check_statements, compare_daily, dated,
};
use quantdesk_core::{Resolution, Statement, Symbol};
use quantdesk_store::Store;
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::sync::{Sources, to_bar};

/// What a check found, over which symbols.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// The day the check looked from (Asia/Shanghai).
    pub today: NaiveDate,
    pub symbols_checked: u64,
    pub findings: Vec<Finding>,
}

/// Checks the stored daily series of `symbols` (every symbol with daily bars when empty) and the
/// annual statements of those that have any.
pub async fn check(
    store: &dyn Store,
    symbols: &[Symbol],
    today: NaiveDate,
    thresholds: &Thresholds,
) -> Result<QualityReport, AppError> {
    let symbols = if symbols.is_empty() { store.symbols_with(Resolution::Day).await? } else { symbols.to_vec() };
    let mut report = QualityReport { today, ..QualityReport::default() };
    for symbol in &symbols {
        let Some(instrument) = store.instrument(symbol).await? else {
            return Err(AppError::not_found(format!("no instrument {symbol}")));
        };
        let bars = store.bars(symbol, Resolution::Day, i64::MIN, i64::MAX, None).await?;
        let factors = store.adj_factors(symbol).await?;
        let calendar = match bars.first() {
            Some(first) => {
                let from = chrono::DateTime::from_timestamp(first.time, 0).unwrap_or_default().date_naive();
                store.trading_days(&instrument.exchange, from, today).await?
            }
            None => Vec::new(),
        };
        let input = SeriesInput { instrument: &instrument, bars: &bars, factors: &factors, calendar: &calendar, today };
        report.findings.extend(check_series(&input, thresholds));
        report.findings.extend(statement_findings(store, symbol, today).await?);
        report.symbols_checked += 1;
    }
    Ok(report)
}

/// Missing annual periods of the three statements, from the first stored year to the last year
/// whose annual report is due (by 30 April of the next year).
async fn statement_findings(store: &dyn Store, symbol: &Symbol, today: NaiveDate) -> Result<Vec<Finding>, AppError> {
    let coverage = store.statement_coverage(Some(symbol)).await?;
    let last_due = if (today.month(), today.day()) > (4, 30) { today.year() - 1 } else { today.year() - 2 };
    let mut out = Vec::new();
    for st in [Statement::Income, Statement::BalanceSheet, Statement::CashFlow] {
        let Some(c) = coverage.iter().find(|c| c.statement == st) else { continue };
        let rows = store.statement_rows(symbol, st, None).await?;
        let periods: Vec<NaiveDate> = rows.iter().map(|r| r.period).collect();
        let first = c.first_period.year();
        if first > last_due {
            continue;
        }
        for mut f in check_statements(symbol, &periods, first..=last_due) {
            f.detail = format!("{st}: {}", f.detail);
            out.push(f);
        }
    }
    Ok(out)
}

/// Per-field drift of `symbol`'s daily bars between two sources over `[start, end]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceComparison {
    pub symbol: String,
    pub a: String,
    pub b: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub comparison: Comparison,
}

pub async fn compare(
    sources: &Sources,
    symbol: &Symbol,
    a: SourceId,
    b: SourceId,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<SourceComparison, AppError> {
    if a == b {
        return Err(AppError::invalid("compare two different sources"));
    }
    if start > end {
        return Err(AppError::invalid(format!("start {start} is after end {end}")));
    }
    let fetch = |id: SourceId| async move {
        let s = sources.pick(Some(id), Capability::DailyBars)?;
        let daily = s
            .daily(symbol, start, end)
            .await
            .map_err(|e| AppError::unavailable(format!("{id}: {}", e.message)).with_code(e.kind.code()))?;
        Ok::<_, AppError>(daily.iter().map(to_bar).collect::<Vec<_>>())
    };
    let (bars_a, bars_b) = (fetch(a).await?, fetch(b).await?);
    Ok(SourceComparison {
        symbol: symbol.to_string(),
        a: a.to_string(),
        b: b.to_string(),
        start,
        end,
        comparison: compare_daily(&dated(&bars_a), &dated(&bars_b)),
    })
}
