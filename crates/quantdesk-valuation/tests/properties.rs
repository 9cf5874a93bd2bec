//! Properties of the model.

mod common;

use proptest::prelude::*;
use quantdesk_valuation::{Profile, Request, SensitivityAxis, SensitivityRequest, TerminalMethod, valuate};

fn grid_request(profile: Profile, wacc_step: f64, points: i64, g: f64) -> Request {
    Request {
        terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
        perpetual_growth_rate: Some(g),
        sensitivity_analysis: Some(SensitivityRequest {
            row_axis: SensitivityAxis {
                parameter_name: "wacc".into(),
                values: vec![],
                step: Some(wacc_step),
                points: Some(points),
            },
            column_axis: SensitivityAxis {
                parameter_name: "perpetual_growth_rate".into(),
                values: vec![],
                step: Some(0.005),
                points: Some(points),
            },
        }),
        ..Request::with_profile(profile)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_grid_centre_is_the_base_valuation(
        step in 0.001f64..0.01, half in 1i64..4, g in 0.0f64..0.025, qd in any::<bool>(),
    ) {
        let st = common::synthetic(6, "1");
        let profile = if qd { Profile::Quantdesk } else { Profile::Reference };
        let v = valuate(&st, &grid_request(profile, step, 2 * half + 1, g)).unwrap();
        let s = v.sensitivity.unwrap();
        let c = half as usize;
        let base = v.dcf.unwrap();
        let cell = s.result_tables.value_per_share[c][c].unwrap();
        prop_assert!((cell - base.value_per_share.unwrap()).abs() <= 1e-9 * cell.abs());
        prop_assert!((s.result_tables.enterprise_value[c][c].unwrap() - base.enterprise_value).abs() <= 1e-9 * base.enterprise_value.abs());
    }

    #[test]
    fn value_falls_with_wacc_and_rises_with_growth(w1 in 0.05f64..0.12, dw in 0.001f64..0.05, g1 in -0.02f64..0.02, dg in 0.0005f64..0.02) {
        let st = common::synthetic(6, "1");
        let vps = |w: f64, g: f64| {
            let r = Request {
                discount_rate: Some(w),
                perpetual_growth_rate: Some(g),
                terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
                ..Request::default()
            };
            valuate(&st, &r).unwrap().dcf.unwrap().value_per_share.unwrap()
        };
        let g2 = (g1 + dg).min(w1 - 0.005);
        prop_assume!(g2 > g1);
        prop_assert!(vps(w1 + dw, g1) < vps(w1, g1));
        prop_assert!(vps(w1, g2) > vps(w1, g1));
    }
}

#[test]
fn one_year_fewer_changes_the_cagr_window_as_the_rules_say() {
    // Six and four years: the 3-year window (4th-from-last to last); three years: first to last
    // (two years of growth); two: one year; one: none.
    for (years, want) in [(6usize, Some(0.1)), (4, Some(0.1)), (3, Some(0.1)), (2, Some(0.1)), (1, None)] {
        let st = common::synthetic(years, "1");
        let v = valuate(&st, &Request::with_profile(Profile::Reference)).unwrap();
        let got = v.historical_ratios.historical_revenue_cagr;
        match (got, want) {
            (Some(g), Some(_)) => {
                // Growth of exactly 10 % a year over day-count years: (1.1^k)^(365.25/days) − 1.
                let k = (years.min(4) - 1) as i32;
                let first = 2023 - years.min(4) as i32;
                let days = (chrono::NaiveDate::from_ymd_opt(2022, 12, 31).unwrap()
                    - chrono::NaiveDate::from_ymd_opt(first, 12, 31).unwrap())
                .num_days() as f64;
                let expect = 1.1f64.powi(k).powf(365.25 / days) - 1.0;
                assert!((g - expect).abs() < 1e-12, "{years} years: {g} vs {expect}");
            }
            (None, None) => {}
            other => panic!("{years} years: {other:?}"),
        }
    }
    // With a jump in the oldest year, dropping that year changes the CAGR only when it was in the
    // window: six years use FY2019–22 whether or not FY2017 is there.
    let mut six = common::synthetic(6, "1");
    six.income[0].fields.insert("total_revenue".into(), quantdesk_core::financials::FieldValue::Number(5e8));
    let mut five = six.clone();
    five.income.remove(0);
    let r = Request::with_profile(Profile::Reference);
    let a = valuate(&six, &r).unwrap().historical_ratios.historical_revenue_cagr;
    let b = valuate(&five, &r).unwrap().historical_ratios.historical_revenue_cagr;
    assert_eq!(a, b);
}
