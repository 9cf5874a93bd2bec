//! TradeMaster's portfolio environments against `$QUANTDESK_FIXTURES/golden/trademaster/pm_*.json`, step by step,
//! to 1e-9 relative: the softmax ("ordinary") one fed logits (0 for every stock, a very negative number for cash) and
//! the EIIE one fed the weights as given.

mod tm_common;

use std::sync::Arc;

use quantdesk_envs::portfolio::{PmConfig, PmEnv, PmFixes, PmVariant, replay};
use serde_json::Value;
use tm_common::{Agreement, check_env_metrics, fixtures, golden, num, nums};

const TOL: f64 = 1e-9;

/// The golden file's panel (days × tics, row-major) and configuration.
fn panel(g: &Value) -> (usize, Vec<f64>, PmConfig) {
    let inputs = &g["inputs"];
    let rows = inputs["close"].as_array().unwrap();
    let n = inputs["tics"].as_array().unwrap().len();
    let closes: Vec<f64> = rows.iter().flat_map(nums).collect();
    assert_eq!(closes.len(), rows.len() * n);
    let cfg = PmConfig {
        initial_amount: num(&inputs["initial_amount"]),
        transaction_cost_pct: num(&inputs["transaction_cost_pct"]),
        time_steps: inputs["time_steps"].as_u64().unwrap_or(10) as usize,
    };
    assert_eq!(cfg, PmConfig::default());
    (n, closes, cfg)
}

fn check(name: &str, variant: PmVariant, action: impl Fn(usize) -> Vec<f64>) {
    let Some(dir) = fixtures() else { return };
    let g = golden(&dir, name);
    let (n, closes, cfg) = panel(&g);
    let mut env = PmEnv::new(variant, cfg, n, closes.into(), None, PmFixes::default()).unwrap();
    assert_eq!(env.n_steps(), g["inputs"]["n_trading_steps"].as_u64().unwrap() as usize);
    assert_eq!(env.first_day(), g["inputs"]["first_trading_day"].as_u64().unwrap() as usize);
    let actions: Vec<Vec<f64>> = (0..env.n_steps()).map(action).collect();
    let ep = replay(&mut env, &actions).unwrap();
    let steps = g["steps"].as_array().unwrap();
    assert_eq!(ep.steps.len(), steps.len());
    let mut agree = Agreement::new(TOL);
    for (s, w) in ep.steps.iter().zip(steps) {
        let t = s.t;
        assert_eq!(t as u64, w["t"].as_u64().unwrap());
        assert_eq!(s.day as u64, w["day"].as_u64().unwrap(), "step {t} day");
        agree.check_all(&format!("step {t} weights"), &s.weights, &nums(&w["weights"]));
        agree.check_all(
            &format!("step {t} weights_after_drift"),
            &s.weights_after_drift,
            &nums(&w["weights_after_drift"]),
        );
        for (field, got) in [
            ("gross_return", s.gross_return),
            ("turnover", s.turnover),
            ("transaction_fee", s.transaction_fee),
            ("value_before", s.value_before),
            ("portfolio_value", s.portfolio_value),
            ("portfolio_return", s.portfolio_return),
            ("reward", s.reward),
        ] {
            agree.check(&format!("step {t} {field}"), got, num(&w[field]));
        }
    }
    agree.check_all("asset_memory", &ep.asset_memory, &nums(&g["asset_memory"]));
    agree.check_all("daily_return", &ep.daily_return, &nums(&g["daily_return"]));
    check_env_metrics(&mut agree, &ep.metrics, &g["metrics"]);
    eprintln!("{name}: {} values, worst relative difference {:e}", agree.checked, agree.worst);
}

#[test]
fn softmax_env_matches_trademaster_with_equal_weights() {
    check("pm_equal.json", PmVariant::Softmax, |_| {
        let mut a = vec![0.0; 30];
        a[0] = f64::NEG_INFINITY;
        a
    });
}

#[test]
fn very_negative_logits_are_zero_weights() {
    check("pm_equal.json", PmVariant::Softmax, |_| {
        let mut a = vec![0.0; 30];
        a[0] = -1e300;
        a
    });
}

#[test]
fn eiie_env_matches_trademaster_with_equal_weights() {
    check("pm_eiie_equal.json", PmVariant::Eiie, |_| {
        let mut a = vec![1.0 / 29.0; 30];
        a[0] = 0.0;
        a
    });
}

#[test]
fn the_first_eiie_fee_is_measured_against_equal_weights_unless_fixed() {
    // All cash on a flat panel: TradeMaster charges (2·N/(N+1))·c·V on the first step (58/30 · 0.001 · V for N = 29).
    let n = 29;
    let closes: Arc<[f64]> = vec![100.0; 12 * n].into();
    let mut cash = vec![0.0; n + 1];
    cash[0] = 1.0;
    let mut env =
        PmEnv::new(PmVariant::Eiie, PmConfig::default(), n, closes.clone(), None, PmFixes::default()).unwrap();
    let actions = vec![cash.clone(); env.n_steps()];
    let ep = replay(&mut env, &actions).unwrap();
    let fee = ep.steps[0].transaction_fee;
    assert!((fee - 58.0 / 30.0 * 0.001 * 100_000.0).abs() < 1e-9, "{fee}");
    assert_eq!(ep.steps[1].transaction_fee, 0.0);
    let fixes = PmFixes { eiie_start_all_cash: true, ..PmFixes::default() };
    let mut fixed = PmEnv::new(PmVariant::Eiie, PmConfig::default(), n, closes, None, fixes).unwrap();
    let actions = vec![cash; fixed.n_steps()];
    let ep = replay(&mut fixed, &actions).unwrap();
    assert_eq!(ep.steps[0].transaction_fee, 0.0);
    assert_eq!(*ep.asset_memory.last().unwrap(), 100_000.0);
}

#[test]
fn turnover_counts_cash_twice_unless_fixed() {
    // From all cash to all-in one stock is one purchase of V: TradeMaster's turnover (cash entry included) is 2 and
    // charges 2·c·V; with the fix the turnover is 1. A rotation between two stocks (a sale and a purchase) is 2 both ways.
    let closes: Arc<[f64]> = vec![10.0; 2 * 5].into();
    let rot = |t: usize| if t.is_multiple_of(2) { vec![-1e300, 0.0, -1e300] } else { vec![-1e300, -1e300, 0.0] };
    for (fix, first) in [(false, 2.0), (true, 1.0)] {
        let fixes = PmFixes { one_sided_turnover: fix, ..PmFixes::default() };
        let mut env = PmEnv::new(PmVariant::Softmax, PmConfig::default(), 2, closes.clone(), None, fixes).unwrap();
        let actions: Vec<Vec<f64>> = (0..env.n_steps()).map(rot).collect();
        let ep = replay(&mut env, &actions).unwrap();
        assert_eq!(ep.steps[0].turnover, first, "fix {fix}");
        assert!((ep.steps[0].transaction_fee - first * 0.001 * 100_000.0).abs() < 1e-9);
        assert_eq!(ep.steps[1].turnover, 2.0, "fix {fix}: a rotation");
    }
}

#[test]
fn large_logits_overflow_unless_the_softmax_is_stable() {
    let closes: Arc<[f64]> = vec![10.0, 20.0, 11.0, 19.0, 12.0, 18.0].into();
    let logits = vec![0.0, 800.0, 790.0];
    let mut env =
        PmEnv::new(PmVariant::Softmax, PmConfig::default(), 2, closes.clone(), None, PmFixes::default()).unwrap();
    env.reset();
    let (_, t) = env.step(&logits).unwrap();
    assert!(t.reward.is_nan(), "exp(800) overflows: inf/inf weights");
    let fixes = PmFixes { stable_softmax: true, ..PmFixes::default() };
    let mut env = PmEnv::new(PmVariant::Softmax, PmConfig::default(), 2, closes, None, fixes).unwrap();
    env.reset();
    let (_, t) = env.step(&logits).unwrap();
    assert!(t.reward.is_finite());
}

#[test]
fn bad_actions_and_data_are_errors() {
    use quantdesk_envs::portfolio::PmError;
    let closes: Arc<[f64]> = vec![10.0, 20.0, 11.0, 19.0].into();
    let mut env =
        PmEnv::new(PmVariant::Softmax, PmConfig::default(), 2, closes.clone(), None, PmFixes::default()).unwrap();
    env.reset();
    assert_eq!(env.step(&[0.0, 1.0]).unwrap_err(), PmError::ActionLength { expected: 3, got: 2 });
    assert!(matches!(env.step(&[0.0, f64::NAN, 1.0]).unwrap_err(), PmError::BadAction { index: 1, .. }));
    assert!(matches!(env.step(&[0.0, f64::INFINITY, 1.0]).unwrap_err(), PmError::BadAction { index: 1, .. }));
    let (_, t) = env.step(&[0.0, 0.0, 0.0]).unwrap();
    assert!(!t.done);
    let (_, t) = env.step(&[0.0, 0.0, 0.0]).unwrap();
    assert!(t.done, "two days: one step, then the terminal call");
    assert_eq!(env.step(&[0.0, 0.0, 0.0]).unwrap_err(), PmError::EpisodeDone);
    assert!(matches!(
        PmEnv::new(PmVariant::Softmax, PmConfig::default(), 3, closes.clone(), None, PmFixes::default()).unwrap_err(),
        PmError::Shape(_)
    ));
    assert!(matches!(
        PmEnv::new(PmVariant::Eiie, PmConfig::default(), 2, closes, None, PmFixes::default()).unwrap_err(),
        PmError::TooShort { days: 2, needed: 11 }
    ));
    let bad: Arc<[f64]> = vec![10.0, 20.0, 0.0, 19.0].into();
    assert!(matches!(
        PmEnv::new(PmVariant::Softmax, PmConfig::default(), 2, bad, None, PmFixes::default()).unwrap_err(),
        PmError::BadClose { day: 1, asset: 0, .. }
    ));
}
