//! The quantdesk profile: its differences show on the result; the reverse DCF inverts the model.

mod common;

use quantdesk_valuation::{Profile, Request, ReverseTarget, TerminalMethod, reverse_dcf, valuate};

#[test]
fn quantdesk_lists_its_differences_and_changes_the_first_year_nwc() {
    let Some(fx) = common::fixtures() else { return };
    let st = common::statements(&fx, "600519.SH");
    let r = Request::with_profile(Profile::Reference);
    let q = Request::default();
    let (a, b) = (valuate(&st, &r).unwrap(), valuate(&st, &q).unwrap());
    assert!(a.differences_from_reference.is_empty());
    let ids: Vec<&str> = b.differences_from_reference.iter().map(|d| d.id.as_str()).collect();
    for id in ["QD-NWC-BASELINE", "QD-EBITDA", "QD-SGA-RD-HISTORY", "QD-KD-TAX"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    // Reference: year 1 books the whole NWC; quantdesk: only the change from the last year.
    assert_eq!(a.forecast[0].delta_nwc, a.forecast[0].nwc);
    // Like with like: the baseline is the base year through the forecast's own lines, so year
    // 1's ΔNWC is of the size of the later years' (not the whole NWC, not a difference of
    // definitions). With constant drivers it is the NWC's growth: NWC_1 × g_1 / (1 + g_1).
    let g1 = b.forecast[0].revenue_growth_rate;
    let want = b.forecast[0].nwc * g1 / (1.0 + g1);
    assert!((b.forecast[0].delta_nwc - want).abs() <= 1e-6 * want.abs(), "{} vs {want}", b.forecast[0].delta_nwc);
    let later = b.forecast[1].delta_nwc.abs();
    assert!(b.forecast[0].delta_nwc.abs() < 3.0 * later, "{} vs {later}", b.forecast[0].delta_nwc);
    // EBITDA = EBIT + D&A.
    for y in &b.forecast {
        assert!((y.ebitda - (y.ebit + y.d_a)).abs() <= 1e-6 * y.ebitda.abs());
    }
    assert_eq!(b.guardrails.len(), 4);
    let json = serde_json::to_value(&b).unwrap();
    for k in [
        "inputs",
        "historical_ratios",
        "forecast",
        "dcf",
        "sensitivity",
        "data_warnings",
        "special_industry_warning",
        "error",
    ] {
        assert!(json.get(k).is_some(), "{k}");
    }
}

#[test]
fn growth_above_the_gdp_cap_is_capped_and_reported() {
    let st = common::synthetic(6, "1");
    let r = Request {
        terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
        terminal_growth_rate: Some(0.06),
        discount_rate: Some(0.10),
        ..Request::default()
    };
    let v = valuate(&st, &r).unwrap();
    let d = v.dcf.unwrap();
    assert_eq!(d.perpetual_growth_rate_effective, Some(0.045));
    assert!(v.warnings.iter().any(|w| w.rule == "QD-GDP-CAP"));
    assert!(v.differences_from_reference.iter().any(|d| d.id == "QD-GROWTH-FIELD"));
}

#[test]
fn reverse_dcf_finds_the_growth_that_reproduces_the_price() {
    let st = common::synthetic(6, "1");
    for (target, req) in [
        (ReverseTarget::RevenueGrowth, Request::default()),
        (
            ReverseTarget::TerminalGrowth,
            Request { terminal_value_method: Some(TerminalMethod::PerpetualGrowth), ..Request::default() },
        ),
    ] {
        let base = valuate(&st, &req).unwrap().dcf.unwrap().value_per_share.unwrap();
        let price = base * 1.05;
        let r = reverse_dcf(&st, &req, target, Some(price)).unwrap();
        let x = r.implied_value.unwrap_or_else(|| panic!("{target:?}: {:?}", r.message));
        assert!((r.value_per_share_at_implied.unwrap() - price).abs() < 1e-4 * price, "{target:?} at {x}");
    }
}
