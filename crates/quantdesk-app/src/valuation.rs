//! Valuation of a stored company: its statements as of the valuation date through the pure
//! model (`quantdesk-valuation`). The CLI, the HTTP API, the pages and the `valuation` job all
//! call [`valuate`].

use chrono::{Datelike, NaiveDate};
use quantdesk_core::financials::resolve;
use quantdesk_core::{Statement, StatementRow, Symbol};
use quantdesk_store::Store;
use quantdesk_valuation::{Request, Statements, Valuation};
use serde::{Deserialize, Serialize};

use crate::AppError;

/// The valuation date a request names (`YYYY-MM-DD` or `YYYYMMDD`), if any.
pub fn valuation_date(request: &Request) -> Result<Option<NaiveDate>, AppError> {
    match request.valuation_date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
            .map(Some)
            .map_err(|_| {
                AppError::invalid(format!("valuation_date {s:?} is not a date (YYYY-MM-DD)"))
                    .with_code("invalid_request")
            }),
    }
}

/// The symbol a request values (`ts_code`, alias `stock_code`).
pub fn request_symbol(request: &Request) -> Result<Symbol, AppError> {
    let raw = request.ts_code.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
        AppError::invalid("ts_code (or stock_code) is required, e.g. 600519.SH").with_code("invalid_request")
    })?;
    crate::sync::parse_sync_symbol(raw)
}

/// What is stored for a valuation of `symbol` as of `as_of`: per statement, the annual periods
/// (31 December, consolidated) in force on that date, and the latest `daily_basic` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub symbol: String,
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// `income`, `balancesheet`, `cashflow` → the fiscal years present.
    pub annual_years: Vec<(String, Vec<i32>)>,
    /// The trading date of the latest `daily_basic` row, if any.
    pub daily_basic: Option<NaiveDate>,
    /// What is missing, in words, with the command that fetches it.
    pub missing: Vec<String>,
}

fn consolidated(row: &StatementRow) -> bool {
    row.report_type.is_empty() || row.report_type == "1"
}

async fn annual_rows(
    store: &dyn Store,
    symbol: &Symbol,
    statement: Statement,
    as_of: Option<NaiveDate>,
) -> Result<Vec<StatementRow>, AppError> {
    let rows: Vec<StatementRow> =
        store.statement_rows(symbol, statement, as_of).await?.into_iter().filter(consolidated).collect();
    Ok(resolve(&rows, as_of).into_iter().filter(|r| r.period.month() == 12 && r.period.day() == 31).collect())
}

/// The model's input for `symbol` as known on `as_of` (everything stored when `None`): annual
/// consolidated statements (the revision in force on that date) and the latest `daily_basic`.
pub async fn load_statements(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
) -> Result<Statements, AppError> {
    let daily_basic = store.statement_rows(symbol, Statement::DailyBasic, as_of).await?.into_iter().last();
    Ok(Statements {
        income: annual_rows(store, symbol, Statement::Income, as_of).await?,
        balance_sheet: annual_rows(store, symbol, Statement::BalanceSheet, as_of).await?,
        cash_flow: annual_rows(store, symbol, Statement::CashFlow, as_of).await?,
        daily_basic,
        ..Statements::default()
    })
}

/// What a valuation of `symbol` would have to work with, and what is missing.
pub async fn availability(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
) -> Result<Availability, AppError> {
    let s = load_statements(store, symbol, as_of).await?;
    let years = |rows: &[StatementRow]| rows.iter().map(|r| r.period.year()).collect::<Vec<_>>();
    let annual_years = vec![
        ("income".to_string(), years(&s.income)),
        ("balancesheet".to_string(), years(&s.balance_sheet)),
        ("cashflow".to_string(), years(&s.cash_flow)),
    ];
    let mut missing = Vec::new();
    for (name, ys) in &annual_years {
        match ys.len() {
            0 => missing.push(format!("no annual {name} rows")),
            1 => missing.push(format!("only one annual {name} row: ratios and growth need at least two years")),
            _ => {}
        }
    }
    if s.daily_basic.is_none() {
        missing.push("no daily_basic row: price, P/E, P/B and the share count are unknown".into());
    }
    if !missing.is_empty() {
        missing.push(format!(
            "fetch them with `quantdesk sync financials --symbol {symbol}` (TuShare) or bring CSV files with `quantdesk import financials PATH`"
        ));
    }
    Ok(Availability {
        symbol: symbol.to_string(),
        as_of,
        annual_years,
        daily_basic: s.daily_basic.as_ref().map(|r| r.period),
        missing,
    })
}

/// Values the company the request names, from what is stored as of its valuation date. A
/// refusal of the model comes back inside the result (`error` set, as the reference answers);
/// an `Err` means the request itself is wrong or nothing is stored at all.
pub async fn valuate(store: &dyn Store, request: &Request) -> Result<Valuation, AppError> {
    let symbol = request_symbol(request)?;
    let as_of = valuation_date(request)?;
    let statements = load_statements(store, &symbol, as_of).await?;
    if statements.income.is_empty() && statements.balance_sheet.is_empty() && statements.cash_flow.is_empty() {
        let known = store.instrument(&symbol).await?.is_some();
        let what = if known {
            "no financial statements are stored"
        } else {
            "the instrument is unknown and no statements are stored"
        };
        return Err(AppError::not_found(format!(
            "{symbol}: {what}; fetch them with `quantdesk sync financials --symbol {symbol}` or import CSV files with `quantdesk import financials PATH`"
        ))
        .with_code("no_statements"));
    }
    let mut request = request.clone();
    request.ts_code = Some(symbol.to_string());
    // The model is pure and quick (well under a millisecond, a grid a few): no blocking pool.
    Ok(quantdesk_valuation::valuate_report(&statements, &request))
}
