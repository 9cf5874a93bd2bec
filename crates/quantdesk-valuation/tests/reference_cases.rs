//! The reference's own unit-test cases (huliux/stock_vale, tests/test_wacc_calculator.py and
//! tests/test_terminal_value_calculator.py), ported as data tables through the public API.

mod common;

use quantdesk_valuation::{Profile, Request, TerminalMethod, WeightMode, valuate};

fn req() -> Request {
    Request::with_profile(Profile::Reference)
}

/// (case, target D ratio, Kd, tax, Rf, β, MRP, size, expected Ke, expected WACC or None = refusal)
#[allow(clippy::type_complexity)]
const WACC_CASES: &[(&str, Option<f64>, f64, f64, f64, f64, f64, f64, f64, Option<f64>)] = &[
    ("valid params", Some(0.4), 0.05, 0.25, 0.03, 1.1, 0.06, 0.01, 0.106, Some(0.0786)),
    ("defaults", None, 0.05, 0.25, 0.03, 1.0, 0.05, 0.0, 0.08, Some(0.060875)),
    ("invalid debt ratio 1.5 → 0.45", Some(1.5), 0.05, 0.25, 0.03, 1.1, 0.06, 0.01, 0.106, Some(0.075175)),
    ("WACC above 1 refused", Some(0.9), 1.5, 0.1, 0.03, 2.0, 0.10, 0.02, 0.25, None),
];

#[test]
fn wacc_table() {
    let st = common::synthetic(6, "1");
    for &(case, dr, kd, tax, rf, beta, mrp, size, ke, wacc) in WACC_CASES {
        let r = Request {
            target_debt_ratio: dr,
            cost_of_debt: Some(kd),
            target_effective_tax_rate: Some(tax),
            risk_free_rate: Some(rf),
            beta: Some(beta),
            market_risk_premium: Some(mrp),
            size_premium: Some(size),
            ..req()
        };
        match (valuate(&st, &r), wacc) {
            (Ok(v), Some(w)) => {
                let d = v.dcf.unwrap();
                assert!((d.cost_of_equity_used - ke).abs() < 1e-12, "{case}: Ke {}", d.cost_of_equity_used);
                assert!((d.wacc_used - w).abs() < 1e-12, "{case}: WACC {}", d.wacc_used);
            }
            (Err(e), None) => assert_eq!(e.code, "invalid_wacc", "{case}"),
            (got, _) => panic!("{case}: unexpected {got:?}"),
        }
    }
}

#[test]
fn market_weights_use_interest_bearing_debt_then_total_liabilities() {
    // Market cap = PE × n_income of the last row; debt = lt + st + bonds + due within 1y.
    let st = common::synthetic(6, "1");
    let v = valuate(&st, &Request { wacc_weight_mode: Some(WeightMode::Market), ..req() }).unwrap();
    let rev = 1e9 * 1.1f64.powi(5);
    let ni = rev * (0.18 + 0.01) * 1.01 * 0.75;
    let (d, e) = (rev * 0.16, 15.0 * ni);
    let want = e / (d + e) * 0.08 + d / (d + e) * 0.0375;
    assert!((v.dcf.unwrap().wacc_used - want).abs() < 1e-12);

    // No interest-bearing debt: total liabilities stand in.
    let mut st2 = st.clone();
    for r in &mut st2.balance_sheet {
        for c in ["lt_borr", "st_borr", "bond_payable", "non_cur_liab_due_1y"] {
            r.fields.insert(c.into(), quantdesk_core::financials::FieldValue::Number(0.0));
        }
    }
    let v = valuate(&st2, &Request { wacc_weight_mode: Some(WeightMode::Market), ..req() }).unwrap();
    let d = rev * 0.6;
    let want = e / (d + e) * 0.08 + d / (d + e) * 0.0375;
    assert!((v.dcf.unwrap().wacc_used - want).abs() < 1e-12);
}

#[test]
fn market_weights_without_pe_are_refused_by_the_reference_and_fall_back_in_quantdesk() {
    let mut st = common::synthetic(6, "1");
    st.daily_basic.as_mut().unwrap().fields.remove("pe");
    let e = valuate(&st, &Request { wacc_weight_mode: Some(WeightMode::Market), ..req() }).unwrap_err();
    assert_eq!(e.code, "market_weights_unavailable");
    assert!(e.missing.iter().any(|m| m.contains("pe")));
    st.daily_basic.as_mut().unwrap().fields.remove("close");
    let v = valuate(&st, &Request { wacc_weight_mode: Some(WeightMode::Market), ..Request::default() }).unwrap();
    assert_eq!(v.wacc_build_up.unwrap().weight_mode_used, WeightMode::Target);
    assert!(v.warnings.iter().any(|w| w.rule == "QD-MARKET-WEIGHTS"));
}

/// (case, Rf, growth, discount rate, refused?) — the terminal-value cases: g is capped at Rf and
/// must stay below the WACC.
const TV_CASES: &[(&str, f64, f64, f64, bool)] = &[
    ("g below WACC", 0.025, 0.02, 0.08, false),
    ("g capped at Rf (0.08 → 0.025) below WACC", 0.025, 0.08, 0.08, false),
    ("capped g above WACC refused", 0.025, 0.03, 0.02, true),
    ("g equal to WACC refused", 0.025, 0.02, 0.02, true),
    ("capped g equal to WACC refused", 0.025, 0.03, 0.025, true),
    ("WACC within 1e-9 of g refused", 0.025, 0.03, 0.0250000001, true),
];

#[test]
fn terminal_value_table() {
    let st = common::synthetic(6, "1");
    for &(case, rf, g, dr, refused) in TV_CASES {
        let r = Request {
            risk_free_rate: Some(rf),
            perpetual_growth_rate: Some(g),
            discount_rate: Some(dr),
            terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
            ..req()
        };
        match valuate(&st, &r) {
            Ok(v) => {
                assert!(!refused, "{case}: not refused");
                let d = v.dcf.unwrap();
                let last = v.forecast.last().unwrap();
                let ge = g.min(rf);
                let want = last.ufcf * (1.0 + ge) / (dr - ge);
                assert!((d.terminal_value - want).abs() <= 1e-9 * want.abs(), "{case}");
                assert_eq!(d.perpetual_growth_rate_used, Some(g), "{case}: the uncapped input is reported");
            }
            Err(e) => {
                assert!(refused, "{case}: refused: {e}");
                assert_eq!(e.code, "growth_not_below_wacc", "{case}");
            }
        }
    }
}

#[test]
fn exit_multiple_defaults_to_8_and_negative_ebitda_gives_negative_tv() {
    let st = common::synthetic(6, "1");
    for m in [None, Some(0.0), Some(-3.0)] {
        let v = valuate(&st, &Request { exit_multiple: m, ..req() }).unwrap();
        let d = v.dcf.unwrap();
        assert_eq!(d.exit_multiple_used, Some(8.0));
        assert!((d.terminal_value - 8.0 * v.forecast.last().unwrap().ebitda).abs() < 1e-3);
    }
    let v = valuate(
        &st,
        &Request {
            target_operating_margin: Some(-0.5),
            op_margin_forecast_mode: Some(quantdesk_valuation::ForecastMode::TransitionToTarget),
            ..req()
        },
    )
    .unwrap();
    assert!(v.dcf.unwrap().terminal_value < 0.0);
}
