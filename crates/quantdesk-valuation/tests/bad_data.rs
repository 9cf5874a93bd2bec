//! Bad data is never a panic: a warning, or a refusal that names what is missing.

mod common;

use quantdesk_valuation::{Profile, Request, Statements, valuate, valuate_report};

fn both() -> [Request; 2] {
    [Request::with_profile(Profile::Reference), Request::default()]
}

#[test]
fn missing_statements_are_refused_by_name() {
    let full = common::synthetic(6, "1");
    for r in both() {
        let e = valuate(&Statements { income: vec![], ..full.clone() }, &r).unwrap_err();
        assert_eq!(e.code, "missing_statement");
        assert_eq!(e.missing, vec!["income"]);
        let e = valuate(&Statements { balance_sheet: vec![], ..full.clone() }, &r).unwrap_err();
        assert_eq!(e.missing, vec!["balancesheet"]);
        let e = valuate(&Statements::default(), &r).unwrap_err();
        assert_eq!(e.missing, vec!["income", "balancesheet"]);
        let rep = valuate_report(&Statements::default(), &r);
        assert!(rep.error.is_some() && rep.dcf.is_none());
        // No cash flow: a warning, not a refusal.
        let v = valuate(&Statements { cash_flow: vec![], ..full.clone() }, &r).unwrap();
        assert!(v.warnings.iter().any(|w| w.message.contains("cash-flow")));
    }
}

#[test]
fn zero_revenue_is_refused() {
    let mut st = common::synthetic(6, "1");
    for row in &mut st.income {
        row.fields.insert("revenue".into(), quantdesk_core::financials::FieldValue::Number(0.0));
    }
    for r in both() {
        let e = valuate(&st, &r).unwrap_err();
        assert_eq!(e.code, "zero_revenue");
        assert_eq!(e.missing, vec!["income.revenue"]);
    }
}

#[test]
fn negative_equity_is_a_warning() {
    let mut st = common::synthetic(6, "1");
    let last = st.balance_sheet.last_mut().unwrap();
    last.fields.insert("lt_borr".into(), quantdesk_core::financials::FieldValue::Number(1e12));
    for r in both() {
        let v = valuate(&st, &r).unwrap();
        let d = v.dcf.unwrap();
        assert!(d.equity_value < 0.0 && d.value_per_share.unwrap() < 0.0);
        assert!(v.warnings.iter().any(|w| w.rule == "Q27"));
    }
}

#[test]
fn a_bank_gets_the_special_industry_warning() {
    let Some(fx) = common::fixtures() else { return };
    let st = common::statements(&fx, "999901.SH");
    for r in both() {
        let v = valuate(&st, &r).unwrap();
        assert!(v.special_industry_warning.is_some());
        assert!(v.warnings.iter().any(|w| w.rule == "Q33"));
    }
    let st = common::synthetic(6, "2");
    let v = valuate(&st, &Request::default()).unwrap();
    assert!(v.special_industry_warning.is_some(), "{:?}", v.warnings);
}

#[test]
fn a_single_year_of_history_is_a_warning_and_the_cagr_default() {
    let st = common::synthetic(1, "1");
    for r in both() {
        let v = valuate(&st, &r).unwrap();
        assert_eq!(v.historical_ratios.historical_revenue_cagr, None);
        assert!((v.forecast[0].revenue_growth_rate - 0.05).abs() < 1e-15);
        assert!(v.warnings.iter().any(|w| w.rule == "Q10"));
        assert!(v.guardrails.iter().any(|g| g.name == "imputed_inputs"));
    }
}

#[test]
fn missing_tax_history_refused_by_reference_imputed_by_quantdesk() {
    let mut st = common::synthetic(6, "1");
    for row in &mut st.income {
        row.fields.remove("income_tax");
    }
    let e = valuate(&st, &Request::with_profile(Profile::Reference)).unwrap_err();
    assert_eq!(e.code, "missing_tax_rate");
    let v = valuate(&st, &Request::default()).unwrap();
    assert!(v.differences_from_reference.iter().any(|d| d.id == "QD-TAX-MISSING"));
}

#[test]
fn no_market_snapshot_still_values_without_per_share_figures() {
    let mut st = common::synthetic(6, "1");
    st.daily_basic = None;
    for r in both() {
        let v = valuate(&st, &r).unwrap();
        assert_eq!(v.dcf.unwrap().value_per_share, None);
        assert!(v.warnings.iter().any(|w| w.rule == "H3"));
    }
}

#[test]
fn out_of_range_forecast_years_are_refused_and_unknown_keys_collected() {
    let st = common::synthetic(6, "1");
    let r: Request = serde_json::from_str(r#"{"prediction_years": 25, "stock_code": "600000.SH", "foo": 1}"#).unwrap();
    assert_eq!(r.ts_code.as_deref(), Some("600000.SH"));
    assert_eq!(r.ignored_keys(), vec!["foo"]);
    let e = valuate(&st, &r).unwrap_err();
    assert_eq!(e.code, "invalid_request");
}
