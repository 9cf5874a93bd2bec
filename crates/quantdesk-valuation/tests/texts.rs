//! Every text a person reads exists in English and zh-CN: each catalogue code (iterated), and
//! every warning, refusal and guardrail the model actually produced on the golden statement sets
//! and on requests built to trigger the rarer ones.

mod common;

use quantdesk_valuation::text::{CATALOGUE, entry, placeholders};
use quantdesk_valuation::{
    Lang, NwcBaselineMode, Profile, Request, SensitivityAxis, SensitivityRequest, TerminalMethod, Valuation,
    ValuationError, Warning, WeightMode, valuate_report,
};

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_code_has_a_zh_cn_text() {
    assert!(CATALOGUE.len() >= 50);
    for e in CATALOGUE {
        assert!(!e.zh.trim().is_empty() && has_chinese(e.zh), "{}: no zh-CN text", e.code);
        assert!(!e.en.trim().is_empty(), "{}: no English text", e.code);
        assert_eq!(placeholders(e.en), placeholders(e.zh), "{}", e.code);
    }
}

/// A produced text: its code is in the catalogue, both languages are filled in.
#[track_caller]
fn check(code: &str, en: &str, zh: &str, seen: &mut std::collections::BTreeSet<String>) {
    assert!(entry(code).is_some(), "code {code:?} is not in the catalogue ({en})");
    assert!(!en.is_empty() && !zh.is_empty(), "{code}: empty text");
    assert!(has_chinese(zh), "{code}: {zh:?} is not Chinese");
    for p in placeholders(entry(code).unwrap().en) {
        assert!(!zh.contains(&format!("{{{p}}}")), "{code}: {{{p}}} not filled in {zh:?}");
        assert!(!en.contains(&format!("{{{p}}}")), "{code}: {{{p}}} not filled in {en:?}");
    }
    seen.insert(code.to_string());
}

fn check_warning(w: &Warning, seen: &mut std::collections::BTreeSet<String>) {
    check(&w.code, &w.message, &w.message_zh, seen);
    assert_eq!(w.text(Lang::En), w.message);
    assert_eq!(w.text(Lang::ZhCn), w.message_zh);
}

fn check_valuation(v: &Valuation, seen: &mut std::collections::BTreeSet<String>) {
    v.warnings.iter().for_each(|w| check_warning(w, seen));
    for g in &v.guardrails {
        check(&g.code, &g.message, &g.message_zh, seen);
    }
    if let Some(e) = &v.refusal {
        check_error(e, seen);
    }
}

fn check_error(e: &ValuationError, seen: &mut std::collections::BTreeSet<String>) {
    check(&e.text_code, &e.message, &e.message_zh, seen);
    assert_eq!(e.text(Lang::ZhCn), e.message_zh);
    e.warnings.iter().for_each(|w| check_warning(w, seen));
}

#[test]
fn every_produced_text_has_both_languages() {
    let mut seen = std::collections::BTreeSet::new();
    // The golden statement sets under both profiles.
    let fx = common::fixtures().unwrap();
    for ts in ["600519.SH", "000999.SZ", "999901.SH"] {
        let st = common::statements(&fx, ts);
        assert!(!st.income.is_empty(), "{ts}: no fixture");
        for profile in [Profile::Reference, Profile::Quantdesk] {
            for r in [
                Request::with_profile(profile),
                Request { wacc_weight_mode: Some(WeightMode::Market), ..Request::with_profile(profile) },
                Request {
                    terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
                    perpetual_growth_rate: Some(0.06),
                    ..Request::with_profile(profile)
                },
            ] {
                check_valuation(&valuate_report(&st, &r), &mut seen);
            }
        }
    }
    // Requests built for the rarer texts.
    let st = common::synthetic(6, "2");
    let q = Request::default;
    let reference = || Request::with_profile(Profile::Reference);
    let axis = |n: &str| SensitivityAxis { parameter_name: n.into(), values: vec![0.1], step: None, points: None };
    for r in [
        Request { cogs_forecast_mode: Some("direct_ratio".into()), ..q() },
        Request { terminal_growth_rate: Some(0.02), ..reference() },
        Request { nwc_baseline_mode: Some(NwcBaselineMode::LastHistorical), ..q() },
        Request {
            perpetual_growth_rate: Some(0.08),
            terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
            ..q()
        },
        Request {
            sensitivity_analysis: Some(SensitivityRequest { row_axis: axis("beta"), column_axis: axis("wacc") }),
            ..q()
        },
        Request { forecast_years: Some(0), ..q() },
        Request { beta: Some(-5.0), ..q() },
        Request { discount_rate: Some(0.01), terminal_value_method: Some(TerminalMethod::PerpetualGrowth), ..q() },
        Request { target_debt_ratio: Some(1.0), cost_of_debt: Some(0.0), ..q() },
        Request { ltm_baseline_enabled: Some(true), ..q() },
    ] {
        check_valuation(&valuate_report(&st, &r), &mut seen);
    }
    let mut no_market = st.clone();
    no_market.daily_basic = None;
    no_market.cash_flow.clear();
    check_valuation(
        &valuate_report(&no_market, &Request { wacc_weight_mode: Some(WeightMode::Market), ..q() }),
        &mut seen,
    );
    check_valuation(
        &valuate_report(&no_market, &Request { wacc_weight_mode: Some(WeightMode::Market), ..reference() }),
        &mut seen,
    );
    let mut empty = st.clone();
    empty.balance_sheet.clear();
    empty.income.clear();
    check_valuation(&valuate_report(&empty, &q()), &mut seen);
    // The reverse DCF's refusal and the DDM's.
    check_error(
        &quantdesk_valuation::reverse_dcf(&no_market, &q(), quantdesk_valuation::ReverseTarget::RevenueGrowth, None)
            .unwrap_err(),
        &mut seen,
    );
    let bad = quantdesk_valuation::ddm::DdmRequest { terminal_growth: 0.09, ..Default::default() };
    check_error(&quantdesk_valuation::ddm::ddm(&[], None, &bad).unwrap_err(), &mut seen);
    check_error(&quantdesk_valuation::ddm::ddm(&[], None, &Default::default()).unwrap_err(), &mut seen);
    // Most codes were produced at least once (28 when written).
    assert!(seen.len() >= 28, "only {} codes produced: {seen:?}", seen.len());
}
