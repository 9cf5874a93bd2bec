//! The LTM baseline (quantdesk, `ltm_baseline_enabled = true`): the last twelve months to the
//! latest quarter join the history as its latest period.
//!
//! TuShare's income and cash-flow rows are cumulative year to date (a quarter's own flow is its
//! YTD minus the previous YTD of the same fiscal year; Q1's is its YTD), so the sum of the last
//! four quarters' flows is
//!
//! ```text
//! LTM(P) = YTD(P) + annual(FY − 1) − YTD(P − 1 year)
//! ```
//!
//! for every numeric column of the income and cash-flow statements (a column missing from one
//! of the three rows is missing in the LTM row, and the cleaning fills it as any gap). The
//! balance sheet is the latest quarter's own row. The LTM rows are appended to the annual
//! history, dated P: the forecast's base revenue is the LTM revenue, the drivers' medians and
//! the revenue CAGR (by day count, so a period ending in September spans its true fraction of a
//! year) include the LTM period, and every "latest year" input (last NWC, latest EBITDA, the
//! bridge, market weights) reads the LTM row or the latest quarter's balance sheet.
//!
//! The reference at 0e8c3f7 has no such option (its `reference` profile ignores the key, rule
//! Q32). Its later v3 has one: it replaces only the base revenue by the LTM revenue, keeps the
//! medians on the annual series, rolls the balance sheet to the latest period, and falls back to
//! the annual base when a quarter is missing; quantdesk refuses instead, naming the missing
//! period, so a request for an LTM base never silently gets an annual one.

use chrono::{Datelike, NaiveDate};
use quantdesk_core::StatementRow;
use quantdesk_core::financials::FieldValue;

use crate::clean::TEXT_COLUMNS;
use crate::input::Statements;
use crate::output::{ValuationError, Warning};
use crate::text::{a, t};

/// The last row of `period` among the slices (later slices win).
fn find<'a>(sets: &[&'a [StatementRow]], period: NaiveDate) -> Option<&'a StatementRow> {
    sets.iter().flat_map(|s| s.iter()).rfind(|r| r.period == period)
}

fn year_earlier(d: NaiveDate) -> Option<NaiveDate> {
    // Quarter ends (03-31, 06-30, 09-30, 12-31) exist in every year.
    NaiveDate::from_ymd_opt(d.year() - 1, d.month(), d.day())
}

fn numeric(k: &str, v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Number(n) if n.is_finite() && !TEXT_COLUMNS.contains(&k) => Some(*n),
        _ => None,
    }
}

/// YTD(P) + annual(FY − 1) − YTD(P − 1 year), column by column.
fn ltm_row(ytd: &StatementRow, annual_prev: &StatementRow, ytd_prev: &StatementRow) -> StatementRow {
    let mut out = ytd.clone();
    for (k, v) in &ytd.fields {
        if let FieldValue::Number(_) = v
            && !TEXT_COLUMNS.contains(&k.as_str())
        {
            let a = annual_prev.fields.get(k).and_then(|x| numeric(k, x));
            let p = ytd_prev.fields.get(k).and_then(|x| numeric(k, x));
            let value = match (numeric(k, v), a, p) {
                (Some(c), Some(a), Some(p)) => FieldValue::Number(c + a - p),
                _ => FieldValue::Null,
            };
            out.fields.insert(k.clone(), value);
        }
    }
    out
}

/// The statements with the LTM period appended, and a sentence saying what was done. Refused
/// (`ltm_quarters_missing`) when a row the LTM needs is not there, naming each.
pub(crate) fn augment(st: &Statements) -> Result<(Statements, Warning), ValuationError> {
    let Some(p) = st.quarterly_income.iter().map(|r| r.period).max() else {
        let mut e = ValuationError::new("ltm_quarters_missing", "refusal.ltm_no_quarters", &[], &[]);
        e.missing = vec!["quarterly income statements".into()];
        return Err(e);
    };
    let last_annual = st.income.iter().map(|r| r.period).max();
    if last_annual.is_some_and(|a| a >= p) {
        let last = last_annual.unwrap_or(p);
        return Ok((st.clone(), Warning::new("QD-LTM", "QD-LTM.stale", &[a("p", p), a("a", last)])));
    }
    let fy_prev = NaiveDate::from_ymd_opt(p.year() - 1, 12, 31);
    let p_prev = year_earlier(p);
    let december = p.month() == 12;
    // (English, zh-CN) of each missing row.
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut need = |sets: &[&[StatementRow]], name: &str, d: Option<NaiveDate>, what: Need| -> Option<StatementRow> {
        let row = d.and_then(|d| find(sets, d)).cloned();
        if row.is_none() {
            let d = d.map_or("?".to_string(), |d| d.to_string());
            let (w_en, w_zh) = what.text();
            let name_zh = match name {
                "income" => "利润表",
                "balancesheet" => "资产负债表",
                _ => "现金流量表",
            };
            missing.push((format!("{name} {d} ({w_en})"), format!("{name_zh} {d}（{w_zh}）")));
        }
        row
    };
    let inc: [&[StatementRow]; 2] = [&st.income, &st.quarterly_income];
    let bal: [&[StatementRow]; 2] = [&st.balance_sheet, &st.quarterly_balance_sheet];
    let cf: [&[StatementRow]; 2] = [&st.cash_flow, &st.quarterly_cash_flow];
    let ytd = need(&inc, "income", Some(p), Need::Ytd);
    let (annual_prev, ytd_prev) = if december {
        (None, None)
    } else {
        (need(&inc, "income", fy_prev, Need::AnnualPrev), need(&inc, "income", p_prev, Need::YtdPrev))
    };
    let balance = need(&bal, "balancesheet", Some(p), Need::Balance);
    let with_cash = !st.cash_flow.is_empty() || !st.quarterly_cash_flow.is_empty();
    let (cf_ytd, cf_annual_prev, cf_ytd_prev) = if !with_cash {
        (None, None, None)
    } else if december {
        (need(&cf, "cashflow", Some(p), Need::Ytd), None, None)
    } else {
        (
            need(&cf, "cashflow", Some(p), Need::Ytd),
            need(&cf, "cashflow", fy_prev, Need::AnnualPrev),
            need(&cf, "cashflow", p_prev, Need::YtdPrev),
        )
    };
    if !missing.is_empty() {
        let en: Vec<&str> = missing.iter().map(|m| m.0.as_str()).collect();
        let zh: Vec<&str> = missing.iter().map(|m| m.1.as_str()).collect();
        let mut e = ValuationError::new(
            "ltm_quarters_missing",
            "refusal.ltm_missing",
            &[a("p", p), t("list", en.join("; "), zh.join("；"))],
            &[],
        );
        e.missing = missing.into_iter().map(|m| m.0).collect();
        return Err(e);
    }
    let combine = |y: Option<StatementRow>, a: Option<StatementRow>, q: Option<StatementRow>| match (y, a, q) {
        (Some(y), Some(a), Some(q)) => Some(ltm_row(&y, &a, &q)),
        (y, _, _) => y, // December: the YTD is the year
    };
    let mut out = st.clone();
    let how = if december {
        Warning::new("QD-LTM", "QD-LTM.december", &[a("p", p)])
    } else {
        let prev = p_prev.map_or("?".into(), |d| d.to_string());
        Warning::new("QD-LTM", "QD-LTM.ltm", &[a("p", p), a("fy", p.year() - 1), a("p_prev", prev)])
    };
    if let Some(r) = combine(ytd, annual_prev, ytd_prev) {
        out.income.push(r);
    }
    if let Some(r) = balance {
        out.balance_sheet.push(r);
    }
    if let Some(r) = combine(cf_ytd, cf_annual_prev, cf_ytd_prev) {
        out.cash_flow.push(r);
    }
    Ok((out, how))
}

/// Which row the LTM needs.
#[derive(Clone, Copy)]
enum Need {
    Ytd,
    AnnualPrev,
    YtdPrev,
    Balance,
}

impl Need {
    fn text(self) -> (&'static str, &'static str) {
        match self {
            Need::Ytd => ("year to date of the latest quarter", "最新一期的年初至今数"),
            Need::AnnualPrev => ("annual report of the previous fiscal year", "上一会计年度年报"),
            Need::YtdPrev => ("year to date a year before the latest quarter", "上年同期的年初至今数"),
            Need::Balance => ("the latest quarter's balance sheet", "最新一期的资产负债表"),
        }
    }
}
