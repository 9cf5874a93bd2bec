//! Financial statements: reading them as of a date, and importing them from CSV files in
//! TuShare's columns (for users without a token).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use quantdesk_core::financials::{FieldValue, resolve};
use quantdesk_core::{Instrument, Statement, StatementRow, Symbol};
use quantdesk_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;

/// Which report periods to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Year-end reports only (periods ending 31 December).
    #[default]
    Annual,
    /// Every period: Q1, half year, Q3, annual.
    Quarterly,
}

impl Period {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "annual" | "year" | "yearly" => Ok(Period::Annual),
            "quarterly" | "quarter" | "all" => Ok(Period::Quarterly),
            other => Err(AppError::malformed(format!("period {other:?}: use annual or quarterly"))),
        }
    }
}

/// One period of a statement as a reader sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PeriodRow {
    /// The report period (or trading date, for daily_basic).
    #[schema(value_type = String, format = Date)]
    pub period: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub ann_date: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub f_ann_date: Option<NaiveDate>,
    pub report_type: String,
    pub end_type: String,
    pub update_flag: String,
    /// Revisions stored for this period (visible as of the date asked), this one included.
    pub revisions: u32,
    /// Every field, by TuShare's name.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, FieldValue>,
}

/// A statement of one symbol, one row per period, newest period last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatementView {
    pub symbol: String,
    pub statement: String,
    pub period: Period,
    /// The date the view is as of (what was announced by then), if one was asked.
    #[schema(value_type = Option<String>, format = Date)]
    pub as_of: Option<NaiveDate>,
    pub rows: Vec<PeriodRow>,
}

/// Only consolidated statements (TuShare `report_type` 1) count; tables without a report type
/// (dividends, daily_basic) keep every row.
fn consolidated(row: &StatementRow) -> bool {
    row.report_type.is_empty() || row.report_type == "1"
}

fn is_annual(row: &StatementRow) -> bool {
    row.statement == Statement::DailyBasic || (row.period.month() == 12 && row.period.day() == 31)
}

/// `symbol`'s `statement` per period, as known `as_of` (everything when `None`): the revision
/// TuShare marks current, else the latest announced ([`quantdesk_core::financials::resolve`]).
pub async fn statement(
    store: &dyn Store,
    symbol: &Symbol,
    statement: Statement,
    period: Period,
    as_of: Option<NaiveDate>,
) -> Result<StatementView, AppError> {
    let rows = store.statement_rows(symbol, statement, as_of).await?;
    let rows: Vec<StatementRow> = rows.into_iter().filter(consolidated).collect();
    let mut revisions: HashMap<NaiveDate, u32> = HashMap::new();
    for r in &rows {
        *revisions.entry(r.period).or_default() += 1;
    }
    let picked = if statement == Statement::Dividend {
        // Dividends have one row per stage of each plan (proposal, approval, implementation):
        // every stage is a row of its own, in announcement order.
        rows
    } else {
        resolve(&rows, as_of)
    };
    let out = picked
        .into_iter()
        .filter(|r| period == Period::Quarterly || is_annual(r))
        .map(|r| PeriodRow {
            period: r.period,
            ann_date: r.ann_date,
            f_ann_date: r.f_ann_date,
            revisions: revisions.get(&r.period).copied().unwrap_or(1),
            report_type: r.report_type,
            end_type: r.end_type,
            update_flag: r.update_flag,
            fields: r.fields,
        })
        .collect();
    Ok(StatementView {
        symbol: symbol.to_string(),
        statement: statement.as_str().to_string(),
        period,
        as_of,
        rows: out,
    })
}

/// What an import of statement files stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FinancialsImport {
    /// Files read, with the rows each held.
    pub files: Vec<(String, u64)>,
    pub statement_rows: u64,
    pub instruments: u64,
    /// Symbols the statements are of.
    pub symbols: Vec<String>,
}

/// Imports statement files in TuShare's columns: a folder holding any of `income.csv`,
/// `balancesheet.csv`, `cashflow.csv`, `fina_indicator.csv`, `dividend.csv`, `daily_basic.csv`
/// and `stock_basic.csv`, or one file read as `statement` (its name decides when `None`).
///
/// Every file is parsed and checked before anything is written, and the statement rows land in
/// one transaction: a bad cell anywhere leaves the database as it was. The instrument master of
/// `stock_basic.csv` is written after them.
pub async fn import_path(
    store: &dyn Store,
    path: &Path,
    statement: Option<Statement>,
) -> Result<FinancialsImport, AppError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| AppError::invalid(format!("cannot read {}: {e}", path.display())).with_code("bad_file"))?;
    let mut files: Vec<(std::path::PathBuf, Option<Statement>)> = Vec::new();
    if meta.is_dir() {
        if statement.is_some() {
            return Err(AppError::invalid("--statement names the statement of one file; give a file, not a folder"));
        }
        let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(path)
            .map_err(|e| AppError::invalid(format!("cannot list {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        names.sort();
        for p in names {
            let stem = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if stem == "stock_basic.csv" {
                files.push((p, None));
            } else if let Some(st) = quantdesk_ingest::statement_for_file(&stem) {
                files.push((p, Some(st)));
            }
        }
        if files.is_empty() {
            return Err(AppError::invalid(format!(
                "{} holds none of income.csv, balancesheet.csv, cashflow.csv, fina_indicator.csv, dividend.csv, daily_basic.csv, stock_basic.csv",
                path.display()
            ))
            .with_code("bad_file"));
        }
    } else {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let st = match statement {
            Some(s) => Some(s),
            None if name == "stock_basic.csv" => None,
            None => Some(quantdesk_ingest::statement_for_file(name).ok_or_else(|| {
                AppError::invalid(format!(
                    "cannot tell which statement {name} holds: name it income.csv, balancesheet.csv, … or pass --statement"
                ))
                .with_code("bad_file")
            })?),
        };
        files.push((path.to_path_buf(), st));
    }
    let mut rows: Vec<StatementRow> = Vec::new();
    let mut instruments: Vec<Instrument> = Vec::new();
    let mut report = FinancialsImport::default();
    for (p, st) in &files {
        let label = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let file = std::fs::File::open(p)
            .map_err(|e| AppError::invalid(format!("cannot open {}: {e}", p.display())).with_code("bad_file"))?;
        let reader = std::io::BufReader::new(file);
        let n = match st {
            Some(st) => {
                let parsed = quantdesk_ingest::parse_statement_csv_named(reader, *st, &label)
                    .map_err(|e| AppError::invalid(e.to_string()).with_code("bad_file"))?;
                let n = parsed.len() as u64;
                rows.extend(parsed);
                n
            }
            None => {
                let parsed = quantdesk_ingest::parse_stock_basic_csv_named(reader, &label)
                    .map_err(|e| AppError::invalid(e.to_string()).with_code("bad_file"))?;
                let n = parsed.len() as u64;
                instruments.extend(parsed);
                n
            }
        };
        report.files.push((label, n));
    }
    let mut symbols: Vec<String> = rows.iter().map(|r| r.symbol.to_string()).collect();
    symbols.sort();
    symbols.dedup();
    report.statement_rows = store.write_statements(&rows).await?;
    if !instruments.is_empty() {
        report.instruments = store.upsert_instruments(&instruments).await?;
    }
    report.symbols = symbols;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        assert_eq!(Period::parse("annual").unwrap(), Period::Annual);
        assert_eq!(Period::parse("Quarterly").unwrap(), Period::Quarterly);
        assert_eq!(Period::parse("").unwrap(), Period::Annual);
        assert_eq!(Period::parse("weekly").unwrap_err().code(), "bad_request");
    }
}
