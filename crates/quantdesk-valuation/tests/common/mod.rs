//! Shared test helpers: the fixture loader.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use quantdesk_core::financials::Statement;
use quantdesk_valuation::Statements;

/// `$QUANTDESK_FIXTURES`, or `None` (after a message) when unset and not required.
pub fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("QUANTDESK_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() => {
            panic!("QUANTDESK_FIXTURES is unset but QUANTDESK_TEST_REQUIRE_ALL is set")
        }
        None => {
            eprintln!("skipped: QUANTDESK_FIXTURES is unset");
            None
        }
    }
}

fn read(dir: &Path, st: Statement) -> Vec<quantdesk_core::StatementRow> {
    let path = dir.join(format!("{}.csv", st.as_str()));
    match File::open(&path) {
        Ok(f) => quantdesk_ingest::parse_statement_csv(f, st).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        Err(_) => Vec::new(),
    }
}

/// The statement set of one company from `<fixtures>/cn/financials/<ts_code>/`.
pub fn statements(fixtures: &Path, ts_code: &str) -> Statements {
    let dir = fixtures.join("cn/financials").join(ts_code);
    Statements {
        income: read(&dir, Statement::Income),
        balance_sheet: read(&dir, Statement::BalanceSheet),
        cash_flow: read(&dir, Statement::CashFlow),
        daily_basic: read(&dir, Statement::DailyBasic).pop(),
        ..Statements::default()
    }
}
