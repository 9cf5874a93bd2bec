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

/// One synthetic TuShare row.
pub fn row(st: Statement, period: &str, fields: &[(&str, f64)], text: &[(&str, &str)]) -> quantdesk_core::StatementRow {
    use quantdesk_core::financials::FieldValue;
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in fields {
        map.insert(k.to_string(), FieldValue::Number(*v));
    }
    for (k, v) in text {
        map.insert(k.to_string(), FieldValue::Text(v.to_string()));
    }
    quantdesk_core::StatementRow {
        symbol: quantdesk_core::Symbol::new("600000.SH").unwrap(),
        statement: st,
        period: chrono_date(period),
        ann_date: None,
        f_ann_date: None,
        report_type: "1".into(),
        end_type: "4".into(),
        update_flag: "1".into(),
        fields: map,
    }
}

fn chrono_date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

/// A plain company: `years` annual reports ending FY2022, revenue growing 10 % a year from 1e9
/// (FY2022 = `last_revenue` when given), comp_type `comp_type`.
pub fn synthetic(years: usize, comp_type: &str) -> Statements {
    let mut s = Statements::default();
    let first = 2023 - years as i32;
    for k in 0..years {
        let y = first + k as i32;
        let p = format!("{y}-12-31");
        let rev = 1e9 * 1.1f64.powi(k as i32);
        let op = rev * (0.18 + 0.002 * k as f64);
        let tp = op * 1.01;
        let ni = tp * 0.75;
        s.income.push(row(
            Statement::Income,
            &p,
            &[
                ("total_revenue", rev),
                ("revenue", rev),
                ("oper_cost", rev * 0.55),
                ("sell_exp", rev * 0.08),
                ("admin_exp", rev * 0.05),
                ("rd_exp", rev * 0.03),
                ("operate_profit", op),
                ("total_profit", tp),
                ("income_tax", tp * 0.25),
                ("n_income", ni),
                ("n_income_attr_p", ni * 0.95),
                ("diluted_eps", ni * 0.95 / 1e8),
            ],
            &[("comp_type", comp_type)],
        ));
        s.balance_sheet.push(row(
            Statement::BalanceSheet,
            &p,
            &[
                ("accounts_receiv_bill", rev * 0.1),
                ("inventories", rev * 0.12),
                ("accounts_pay", rev * 0.09),
                ("prepayment", rev * 0.01),
                ("oth_cur_assets", rev * 0.01),
                ("contract_liab", rev * 0.02),
                ("payroll_payable", rev * 0.01),
                ("taxes_payable", rev * 0.01),
                ("oth_payable", rev * 0.01),
                ("total_cur_assets", rev * 0.5),
                ("total_cur_liab", rev * 0.3),
                ("money_cap", rev * 0.2),
                ("st_borr", rev * 0.05),
                ("non_cur_liab_due_1y", rev * 0.01),
                ("lt_borr", rev * 0.1),
                ("bond_payable", 0.0),
                ("total_liab", rev * 0.6),
                ("minority_int", rev * 0.02),
            ],
            &[("comp_type", comp_type)],
        ));
        s.cash_flow.push(row(
            Statement::CashFlow,
            &p,
            &[
                ("depr_fa_coga_dpba", rev * 0.04),
                ("amort_intang_assets", rev * 0.005),
                ("c_pay_acq_const_fiolta", rev * 0.06),
            ],
            &[],
        ));
    }
    s.daily_basic = Some(row(
        Statement::DailyBasic,
        "2025-05-19",
        &[("close", 20.0), ("pe", 15.0), ("pb", 2.0), ("total_share", 10_000.0)],
        &[],
    ));
    s
}
