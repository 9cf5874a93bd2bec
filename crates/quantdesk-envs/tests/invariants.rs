//! Invariants of the environments under proptest: cash never negative (beyond float dust), value = cash + positions,
//! no future data in the observation (perturb the future, the observations so far do not change), determinism, the
//! vectorised runner equal to single copies, leak-free splits, TWAP as the execution benchmark.

use std::sync::Arc;

use proptest::prelude::*;
use quantdesk_envs::execution::{ExecConfig, ExecEnv};
use quantdesk_envs::features::{FeatureMatrix, ZOptions, z_features};
use quantdesk_envs::portfolio::{PmConfig, PmEnv, PmFixes, PmVariant};
use quantdesk_envs::split::{SplitSpec, split};
use quantdesk_envs::trading::{ActionSequence, AtConfig, AtEnv, Branch, TradingEnv, TradingFixes, run_episode};
use quantdesk_envs::{Env, EnvError, Space, VecEnv};

/// A positive price path from bounded log-returns.
fn prices(start: f64, rets: &[f64]) -> Vec<f64> {
    let mut p = start;
    let mut out = Vec::with_capacity(rets.len());
    for r in rets {
        p *= r.exp();
        out.push(p);
    }
    out
}

fn price_path(min: usize, max: usize) -> impl Strategy<Value = Vec<f64>> {
    (prop::collection::vec(-0.08f64..0.08, min..max), 50.0f64..50_000.0).prop_map(|(r, s)| prices(s, &r))
}

fn z(closes: &[f64]) -> FeatureMatrix {
    let opts = ZOptions { windows: vec![5, 10], backfill: false };
    z_features(closes, closes, closes, closes, closes, &opts).unwrap()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Cash stays non-negative (to float dust) whatever the actions, with and without the short fix; the value is
    /// cash + holdings · the valuation close; the lean env agrees with the logged one bit for bit.
    #[test]
    fn cash_value_and_the_lean_env(closes in price_path(14, 80), seed in prop::collection::vec(0usize..5, 80),
                                   max_volume in 1u32..3, proper_short in any::<bool>()) {
        let cfg = AtConfig { max_volume, ..AtConfig::default() };
        let fixes = TradingFixes { proper_short };
        let mut env = AtEnv::new(cfg, closes.clone()).unwrap().with_fixes(fixes);
        let dim = cfg.action_dim();
        let actions: Vec<usize> = (0..env.n_steps()).map(|i| seed[i % seed.len()] % dim).collect();
        let ep = run_episode(&mut env, &mut ActionSequence::new(actions.clone())).unwrap();
        for s in &ep.steps {
            prop_assert!(s.cash >= -1e-9 * cfg.initial_amount, "cash {} at step {}", s.cash, s.t);
            prop_assert_eq!(s.portfolio_value, s.cash + s.holdings * s.next_price);
            if s.branch == Branch::Reduce && !proper_short {
                prop_assert!(s.holdings.abs() < (s.holdings - s.buy_volume).abs());
            }
        }
        let mut lean = TradingEnv::new(cfg, closes.into(), None, fixes).unwrap();
        let mut obs = lean.reset_vec(7);
        prop_assert_eq!(bits(&obs), bits(&env.reset().state));
        for (s, a) in ep.steps.iter().zip(&actions) {
            let t = lean.step(&[*a as f64], &mut obs).unwrap();
            prop_assert_eq!(t.reward.to_bits(), s.reward.to_bits());
            prop_assert_eq!(t.value.to_bits(), s.portfolio_value.to_bits());
            prop_assert_eq!(lean.cash().to_bits(), s.cash.to_bits());
        }
        let t = lean.step(&[0.0], &mut obs).unwrap();
        prop_assert!(t.done);
        prop_assert_eq!(t.reward.to_bits(), ep.terminal.reward_returned.to_bits());
    }

    /// Changing every close from row `cut` on leaves every observation whose window ends before `cut` unchanged
    /// (closes and causal z-features), and the cash and holdings in it.
    #[test]
    fn no_future_data_in_the_observation(closes in price_path(40, 90), cut_at in 0.2f64..0.9,
                                         factor in 0.5f64..2.0, seed in prop::collection::vec(0usize..3, 40)) {
        let cut = ((closes.len() as f64) * cut_at) as usize;
        let mut future = closes.clone();
        for v in &mut future[cut..] {
            *v *= factor;
        }
        let cfg = AtConfig::default();
        let run = |c: &[f64]| {
            let fm = Arc::new(z(c));
            let mut env = TradingEnv::new(cfg, c.to_vec().into(), Some(fm), TradingFixes::default()).unwrap();
            let mut obs = env.reset_vec(0);
            let mut seen = vec![(env.day(), obs.clone())];
            for i in 0.. {
                let t = env.step(&[seed[i % seed.len()] as f64], &mut obs).unwrap();
                if t.done {
                    break;
                }
                seen.push((env.day(), obs.clone()));
            }
            seen
        };
        let (a, b) = (run(&closes), run(&future));
        prop_assert_eq!(a.len(), b.len());
        let mut compared = 0;
        for ((day, x), (_, y)) in a.iter().zip(&b) {
            if *day <= cut {
                prop_assert_eq!(bits(x), bits(y), "day {}", day);
                compared += 1;
            }
        }
        prop_assert!(compared >= 1);
    }

    /// The same inputs give the same episode, bit for bit; a VecEnv of copies gives each copy's own run.
    #[test]
    fn determinism_and_the_vectorised_runner(closes in price_path(14, 60), seed in prop::collection::vec(0usize..3, 1..20)) {
        let data: Arc<[f64]> = closes.into();
        let one = |k: usize| {
            let mut env = TradingEnv::new(AtConfig::default(), data.clone(), None, TradingFixes::default()).unwrap();
            let mut obs = env.reset_vec(0);
            let mut out = Vec::new();
            for i in 0..30 {
                let t = env.step(&[((seed[i % seed.len()] + k) % 3) as f64], &mut obs).unwrap();
                out.push((t.reward.to_bits(), t.done, bits(&obs)));
                if t.done {
                    env.reset(0, &mut obs);
                    out.push((0, false, bits(&obs)));
                }
            }
            out
        };
        prop_assert_eq!(one(1), one(1));
        let copies: Vec<TradingEnv> =
            (0..3).map(|_| TradingEnv::new(AtConfig::default(), data.clone(), None, TradingFixes::default()).unwrap()).collect();
        let mut venv = VecEnv::new(copies).unwrap();
        venv.reset(0);
        let k = venv.obs_len();
        let singles: Vec<_> = (0..3).map(one).collect();
        let mut pos = [0usize; 3];
        for i in 0..30 {
            let acts: Vec<f64> = (0..3).map(|c| ((seed[i % seed.len()] + c) % 3) as f64).collect();
            venv.step(&acts).unwrap();
            for c in 0..3 {
                let (r, d, o) = &singles[c][pos[c]];
                pos[c] += 1;
                prop_assert_eq!(venv.rewards()[c].to_bits(), *r);
                prop_assert_eq!(venv.dones()[c], *d);
                if *d {
                    // The copy was reset: its observation is the new episode's first.
                    let (_, _, o2) = &singles[c][pos[c]];
                    pos[c] += 1;
                    prop_assert_eq!(&bits(&venv.observations()[c * k..(c + 1) * k]), o2);
                } else {
                    prop_assert_eq!(&bits(&venv.observations()[c * k..(c + 1) * k]), o);
                }
            }
        }
    }

    /// Portfolio: weights after the drift sum to 1, the turnover is at most 2, the value stays positive and follows
    /// `(V - fee)(1 + gross)`; the observation holds no later day's close.
    #[test]
    fn portfolio_invariants(rets in prop::collection::vec(prop::collection::vec(-0.05f64..0.05, 3), 12..40),
                            logits in prop::collection::vec(prop::collection::vec(-5.0f64..5.0, 4), 1..10),
                            eiie in any::<bool>()) {
        let n = 3;
        let days = rets.len();
        let mut panel = Vec::with_capacity(days * n);
        let mut p = [100.0, 50.0, 10.0];
        for r in &rets {
            for a in 0..n {
                p[a] *= r[a].exp();
                panel.push(p[a]);
            }
        }
        let variant = if eiie { PmVariant::Eiie } else { PmVariant::Softmax };
        let mut env = PmEnv::new(variant, PmConfig::default(), n, panel.clone().into(), None, PmFixes::default()).unwrap();
        let mut obs = env.reset();
        let mut i = 0;
        loop {
            let a: Vec<f64> = if eiie {
                let e: Vec<f64> = logits[i % logits.len()].iter().map(|x| x.exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|x| x / s).collect()
            } else {
                logits[i % logits.len()].clone()
            };
            let day = env.day();
            let t = env.step_into(&a, &mut obs).unwrap();
            if t.done {
                break;
            }
            // The observation's last day is the new day: no close of a later day appears in it.
            let later: Vec<f64> = panel[(day + 2).min(days) * n..].to_vec();
            prop_assert!(obs.iter().all(|o| !later.contains(o) || panel[..(day + 2) * n].contains(o)));
            i += 1;
        }
        let ep = env.episode();
        for s in &ep.steps {
            let sum: f64 = s.weights_after_drift.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-12);
            prop_assert!(s.turnover <= 2.0 + 1e-12);
            prop_assert!(s.portfolio_value > 0.0);
            prop_assert_eq!(s.portfolio_value, (s.value_before - s.transaction_fee) * (1.0 + s.gross_return));
        }
    }

    /// Splits: train, valid and test are contiguous, ordered and disjoint, whatever the spec.
    #[test]
    fn splits_never_leak(n in 10usize..500, train in 0.1f64..0.7, valid in 0.0f64..0.25, step in 1i64..5) {
        let times: Vec<i64> = (0..n as i64).map(|i| 1_000 + i * step).collect();
        if let Ok(s) = split(&times, SplitSpec::Fractions { train, valid }) {
            prop_assert_eq!(s.train.start, 0);
            prop_assert_eq!(s.train.end, s.valid.start);
            prop_assert_eq!(s.valid.end, s.test.start);
            prop_assert_eq!(s.test.end, n);
            prop_assert!(!s.train.is_empty() && !s.test.is_empty());
        }
        let (v, t) = (times[n / 3], times[2 * n / 3]);
        let s = split(&times, SplitSpec::Dates { valid_from: v, test_from: t }).unwrap();
        prop_assert!(times[s.train.clone()].iter().all(|x| *x < v));
        prop_assert!(times[s.valid.clone()].iter().all(|x| *x >= v && *x < t));
        prop_assert!(times[s.test.clone()].iter().all(|x| *x >= t));
        prop_assert_eq!(s.train.len() + s.valid.len() + s.test.len(), n);
    }
}

#[test]
fn proper_short_credits_the_sale() {
    // Opening a 1-unit short at 100: TradeMaster charges 100/0.999 (the value falls by about 2p); the fix credits
    // 100·0.999 (the value falls by the cost only).
    let closes = vec![100.0; 14];
    for (fix, value) in [(false, 100_000.0 - 100.0 / 0.999 - 100.0), (true, 100_000.0 + 100.0 * 0.999 - 100.0)] {
        let mut env =
            AtEnv::new(AtConfig::default(), closes.clone()).unwrap().with_fixes(TradingFixes { proper_short: fix });
        env.reset();
        let s = env.step(0).unwrap().record.unwrap();
        assert_eq!(s.holdings, -1.0);
        assert!((s.portfolio_value - value).abs() < 1e-9, "fix {fix}: {}", s.portfolio_value);
    }
}

#[test]
fn spaces_are_data_and_bad_actions_are_errors() {
    let mut env = TradingEnv::new(AtConfig::default(), vec![10.0; 20].into(), None, TradingFixes::default()).unwrap();
    assert_eq!(env.action_space(), Space::Discrete { n: 3 });
    assert_eq!(env.observation_space().flat_len(), 7);
    assert_eq!(serde_json::to_value(env.action_space()).unwrap(), serde_json::json!({"kind": "discrete", "n": 3}));
    let mut obs = env.reset_vec(0);
    assert!(matches!(env.step(&[3.0], &mut obs), Err(EnvError::DiscreteAction { .. })));
    assert!(matches!(env.step(&[1.5], &mut obs), Err(EnvError::DiscreteAction { .. })));
    assert!(matches!(env.step(&[f64::NAN], &mut obs), Err(EnvError::DiscreteAction { .. })));
    assert!(matches!(env.step(&[1.0, 1.0], &mut obs), Err(EnvError::ActionLength { expected: 1, got: 2 })));
    assert!(Space::Box { low: 0.0, high: 1.0, shape: vec![2] }.check(&[0.5, f64::NAN]).is_err());
    assert!(VecEnv::<TradingEnv>::new(Vec::new()).is_err());
}

#[test]
fn execution_against_twap() {
    let closes: Arc<[f64]> = (0..30).map(|i| 100.0 + i as f64).collect::<Vec<_>>().into();
    let cfg = ExecConfig { quantity: 1000.0, horizon: 10, window: 5, transaction_cost_pct: 0.001 };
    // TWAP itself: sell 1/(H - t) of what remains at step t.
    let mut env = ExecEnv::new(cfg, closes.clone()).unwrap();
    let mut obs = env.reset_vec(0);
    let mut total = 0.0;
    for t in 0..10 {
        let r = env.step(&[1.0 / (10 - t) as f64], &mut obs).unwrap();
        total += r.reward;
        assert_eq!(r.done, t == 9);
    }
    assert!(env.relative_to_twap().abs() < 1e-12 && total.abs() < 1e-9);
    assert_eq!(env.remaining(), 0.0);
    // In a rising market, waiting beats TWAP; everything is sold at the last step whatever the action.
    let mut env = ExecEnv::new(cfg, closes).unwrap();
    env.reset(0, &mut obs);
    let mut total = 0.0;
    for _ in 0..10 {
        total += env.step(&[0.0], &mut obs).unwrap().reward;
    }
    assert_eq!(env.remaining(), 0.0);
    assert!(env.relative_to_twap() > 0.0);
    assert!((total - (env.cash() - env.twap_cash())).abs() < 1e-6);
    assert!(env.step(&[0.0], &mut obs).is_err(), "stepping after done");
    assert!(env.step(&[f64::NAN], &mut obs).is_err());
    assert!(ExecEnv::new(cfg, vec![1.0; 5].into()).is_err());
}
