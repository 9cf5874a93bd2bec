//! The LTM baseline on a hand-built statement set: single-quarter flows are given, the
//! year-to-date rows TuShare would publish are their running sums, and every expected LTM number
//! is the sum of the last four quarters, worked out by hand.

mod common;

use quantdesk_core::StatementRow;
use quantdesk_core::financials::Statement;
use quantdesk_valuation::{Profile, Request, Statements, valuate};

/// Single-quarter revenue: 2023 Q1–Q4, then 2024 Q1–Q3.
const Q_REVENUE: [f64; 7] = [100.0, 110.0, 120.0, 130.0, 140.0, 150.0, 160.0];
/// The last four quarters (2023 Q4 … 2024 Q3).
const LTM_REVENUE: f64 = 130.0 + 140.0 + 150.0 + 160.0; // 580

/// Income columns as shares of revenue (every period, annual or quarterly).
const INCOME: [(&str, f64); 7] = [
    ("total_revenue", 1.0),
    ("revenue", 1.0),
    ("oper_cost", 0.6),
    ("operate_profit", 0.2),
    ("total_profit", 0.2),
    ("income_tax", 0.05),
    ("n_income", 0.15),
];
const CASH: [(&str, f64); 3] =
    [("depr_fa_coga_dpba", 0.04), ("amort_intang_assets", 0.01), ("c_pay_acq_const_fiolta", -0.06)];

fn flows(st: Statement, period: &str, revenue: f64, cols: &[(&str, f64)]) -> StatementRow {
    let f: Vec<(&str, f64)> = cols.iter().map(|(k, s)| (*k, revenue * s)).collect();
    common::row(st, period, &f, &[("comp_type", "1")])
}

/// Balance items scaled by `k` (FY2021 = 1).
fn balance(period: &str, k: f64) -> StatementRow {
    let items = [
        ("accounts_receiv_bill", 40.0),
        ("inventories", 60.0),
        ("accounts_pay", 30.0),
        ("prepayment", 5.0),
        ("oth_cur_assets", 5.0),
        ("contract_liab", 10.0),
        ("payroll_payable", 4.0),
        ("taxes_payable", 3.0),
        ("oth_payable", 3.0),
        ("total_cur_assets", 200.0),
        ("total_cur_liab", 90.0),
        ("money_cap", 40.0),
        ("st_borr", 10.0),
        ("non_cur_liab_due_1y", 2.0),
        ("lt_borr", 30.0),
    ];
    let f: Vec<(&str, f64)> = items.iter().map(|(n, v)| (*n, v * k)).collect();
    common::row(Statement::BalanceSheet, period, &f, &[("comp_type", "1")])
}

const FY: [(&str, f64); 3] = [("2021-12-31", 400.0), ("2022-12-31", 420.0), ("2023-12-31", 460.0)];
const BAL_K: [f64; 3] = [1.0, 1.05, 1.1];
/// The latest quarter's balance-sheet scale.
const P_K: f64 = 1.2;

/// Annual FY2021–FY2023 and the quarterly YTD rows 2023-03-31 … 2024-09-30.
fn statements() -> Statements {
    let mut s = Statements::default();
    assert_eq!(Q_REVENUE[..4].iter().sum::<f64>(), FY[2].1, "FY2023 is the sum of its quarters");
    for (i, (p, r)) in FY.iter().enumerate() {
        s.income.push(flows(Statement::Income, p, *r, &INCOME));
        s.cash_flow.push(flows(Statement::CashFlow, p, *r, &CASH));
        s.balance_sheet.push(balance(p, BAL_K[i]));
    }
    let ends = ["03-31", "06-30", "09-30", "12-31"];
    for (i, _) in Q_REVENUE.iter().enumerate() {
        let (year, q) = (2023 + i / 4, i % 4);
        let ytd: f64 = Q_REVENUE[i - q..=i].iter().sum();
        let p = format!("{year}-{}", ends[q]);
        s.quarterly_income.push(flows(Statement::Income, &p, ytd, &INCOME));
        s.quarterly_cash_flow.push(flows(Statement::CashFlow, &p, ytd, &CASH));
        s.quarterly_balance_sheet.push(balance(&p, if p == "2024-09-30" { P_K } else { 1.1 }));
    }
    s
}

fn ltm() -> Request {
    Request { ltm_baseline_enabled: Some(true), ..Request::default() }
}

#[track_caller]
fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

#[test]
fn the_base_is_the_sum_of_the_last_four_quarters() {
    let v = valuate(&statements(), &ltm()).unwrap();
    assert_eq!(LTM_REVENUE, 580.0);
    close("base revenue", v.inputs.last_actual_revenue.unwrap(), LTM_REVENUE);
    assert_eq!(v.inputs.base_report_date.as_deref(), Some("2024-09-30"));
    let y1 = &v.forecast[0];
    close("year 1 revenue", y1.revenue, LTM_REVENUE * (1.0 + y1.revenue_growth_rate));
    // Latest EBITDA = LTM operating profit + LTM D&A = (0.2 + 0.05) × 580.
    close("latest EBITDA", v.inputs.latest_actual_ebitda.unwrap(), 0.25 * LTM_REVENUE);
    // The CAGR runs from FY2021 (400) to the LTM period by day count: 2021-12-31 → 2024-09-30 is
    // 365 + 365 + 274 = 1004 days.
    close("CAGR", v.historical_ratios.historical_revenue_cagr.unwrap(), (580.0f64 / 400.0).powf(365.25 / 1004.0) - 1.0);
    // Balance sheet of the latest quarter: the bridge's net debt = (30 + 10 + 2 − 40) × 1.2, and
    // the last NWC = (200 − 40) × 1.2 − (90 − 10 − 2) × 1.2.
    let d = v.dcf.as_ref().unwrap();
    close("net debt", d.net_debt, 2.0 * P_K);
    close("last NWC", v.historical_ratios.last_historical_nwc.unwrap(), (160.0 - 78.0) * P_K);
    let w: Vec<_> = v.warnings.iter().filter(|w| w.rule == "QD-LTM").collect();
    assert_eq!(w.len(), 1, "{:?}", v.warnings);
    assert!(w[0].message.contains("2024-09-30") && w[0].message.contains("FY2023"), "{}", w[0].message);
    assert!(!v.data_warnings.iter().any(|m| m.contains("not implemented")));
    assert!(v.differences_from_reference.iter().any(|d| d.id == "QD-LTM"));
    // The warning in zh-CN too.
    assert!(w[0].message_zh.contains("2024-09-30") && w[0].message_zh.contains("LTM 基期"), "{}", w[0].message_zh);
}

#[test]
fn the_ltm_differs_from_the_annual_base_and_the_reference_ignores_it() {
    let st = statements();
    let annual = valuate(&st, &Request::default()).unwrap();
    close("annual base", annual.inputs.last_actual_revenue.unwrap(), 460.0);
    assert_eq!(annual.inputs.base_report_date.as_deref(), Some("2023-12-31"));
    let reference = valuate(&st, &Request { profile: Profile::Reference, ..ltm() }).unwrap();
    close("reference base", reference.inputs.last_actual_revenue.unwrap(), 460.0);
    assert!(reference.ignored_request_keys.contains(&"ltm_baseline_enabled".to_string()));
    let plain = valuate(&st, &Request::with_profile(Profile::Reference)).unwrap();
    assert_eq!(reference.dcf, plain.dcf);
}

#[test]
fn missing_quarters_are_refused_by_name() {
    // (what to remove, the period the refusal must name)
    type Remove = fn(&mut Statements);
    let cases: [(&str, Remove, &str); 5] = [
        (
            "same quarter a year earlier",
            |s| s.quarterly_income.retain(|r| r.period.to_string() != "2023-09-30"),
            "income 2023-09-30",
        ),
        (
            "latest quarter's balance sheet",
            |s| s.quarterly_balance_sheet.retain(|r| r.period.to_string() != "2024-09-30"),
            "balancesheet 2024-09-30",
        ),
        (
            "cash flow a year earlier",
            |s| s.quarterly_cash_flow.retain(|r| r.period.to_string() != "2023-09-30"),
            "cashflow 2023-09-30",
        ),
        (
            "latest cash flow",
            |s| s.quarterly_cash_flow.retain(|r| r.period.to_string() != "2024-09-30"),
            "cashflow 2024-09-30",
        ),
        (
            "previous annual report",
            |s| {
                s.income.retain(|r| r.period.to_string() != "2023-12-31");
                s.quarterly_income.retain(|r| r.period.to_string() != "2023-12-31");
            },
            "income 2023-12-31",
        ),
    ];
    for (case, remove, name) in cases {
        let mut st = statements();
        remove(&mut st);
        let e = valuate(&st, &ltm()).unwrap_err();
        assert_eq!(e.code, "ltm_quarters_missing", "{case}");
        assert_eq!(e.missing.len(), 1, "{case}: {:?}", e.missing);
        assert!(e.missing[0].starts_with(name), "{case}: {:?}", e.missing);
        assert!(e.message.contains(name), "{case}: {}", e.message);
        let date = name.split(' ').nth(1).unwrap_or_default();
        assert!(e.message_zh.contains(date) && e.message_zh.contains("LTM 基期缺少"), "{case}: {}", e.message_zh);
    }
    let mut st = statements();
    st.quarterly_income.clear();
    let e = valuate(&st, &ltm()).unwrap_err();
    assert_eq!(e.code, "ltm_quarters_missing");
    assert!(e.message.contains("quarterly"), "{}", e.message);
}

#[test]
fn a_december_quarter_or_a_stale_quarter() {
    // Quarterly rows only up to 2023-12-31 while the annual set ends at FY2022: the fiscal year
    // to December (its YTD row) is the LTM.
    let mut st = statements();
    st.income.retain(|r| r.period.to_string() != "2023-12-31");
    st.cash_flow.retain(|r| r.period.to_string() != "2023-12-31");
    st.balance_sheet.retain(|r| r.period.to_string() != "2023-12-31");
    for v in [&mut st.quarterly_income, &mut st.quarterly_cash_flow, &mut st.quarterly_balance_sheet] {
        v.retain(|r| r.period.to_string().as_str() <= "2023-12-31");
    }
    let v = valuate(&st, &ltm()).unwrap();
    close("December LTM", v.inputs.last_actual_revenue.unwrap(), 100.0 + 110.0 + 120.0 + 130.0);
    assert_eq!(v.inputs.base_report_date.as_deref(), Some("2023-12-31"));
    // Quarters no later than the last annual report: the annual report is the base, said so.
    let mut st = statements();
    for v in [&mut st.quarterly_income, &mut st.quarterly_cash_flow, &mut st.quarterly_balance_sheet] {
        v.retain(|r| r.period.to_string().as_str() <= "2023-09-30");
    }
    let v = valuate(&st, &ltm()).unwrap();
    close("stale quarters", v.inputs.last_actual_revenue.unwrap(), 460.0);
    assert!(v.warnings.iter().any(|w| w.rule == "QD-LTM" && w.message.contains("not later")), "{:?}", v.warnings);
}
