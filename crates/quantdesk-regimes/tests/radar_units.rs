//! The radar's pieces on cases small enough to compute by hand, Φ against known values, the errors,
//! and properties of the environment.

use proptest::prelude::*;
use quantdesk_regimes::at_env::{
    AtConfig, AtEnv, AtEnvError, Branch, DoNothing, Episode, MaPolicy, StepRecord, TerminalInfo, TmEnvMetrics,
    run_actions, run_episode,
};
use quantdesk_regimes::radar::{
    DynamicsConfig, RadarError, RadarPlot, TextbookMetrics, TmMetrics, TmScores, TmSigma, ZeroSigmaRule, dynamics_test,
    erf, erfc, label_runs, phi, profit_score, risk_score,
};

fn close_rel(got: f64, want: f64, tol: f64) {
    let r = if got == want { 0.0 } else { (got - want).abs() / got.abs().max(want.abs()) };
    assert!(r <= tol, "got {got:e}, want {want:e} (relative {r:e})");
}

#[test]
fn phi_known_values() {
    assert_eq!(phi(0.0), 0.5);
    close_rel(phi(1.96), 0.9750021048517795, 1e-15);
    close_rel(phi(-1.96), 0.024997895148220435, 1e-14);
    close_rel(phi(1.0), 0.8413447460685429, 1e-15);
    close_rel(phi(-1.0), 0.15865525393145707, 1e-15);
    close_rel(phi(2.0), 0.9772498680518208, 1e-15);
    close_rel(phi(3.0), 0.9986501019683699, 1e-15);
    // Tails: relative accuracy is kept far out (no 1 − erf cancellation).
    close_rel(phi(-5.0), 2.866515718791939e-7, 1e-14);
    close_rel(phi(-10.0), 7.619853024160527e-24, 1e-13);
    close_rel(phi(-20.0), 2.7536241186062337e-89, 1e-12);
    assert_eq!(phi(-40.0), 0.0);
    assert_eq!(phi(40.0), 1.0);
    assert_eq!(phi(f64::INFINITY), 1.0);
    assert_eq!(phi(f64::NEG_INFINITY), 0.0);
    assert!(phi(f64::NAN).is_nan());
    // TradeMaster's fifty score: Φ(0.675)·200 − 100 = 50.0324… (radar_btc_0.json's Blind_Bid score).
    close_rel(phi(0.675) * 200.0 - 100.0, 50.032423505644594, 1e-14);
    // Do_Nothing's risk score Φ(3)·200 − 100.
    close_rel(phi(3.0) * 200.0 - 100.0, 99.73002039367398, 1e-14);
}

#[test]
fn erf_and_erfc_known_values() {
    assert_eq!(erf(0.0), 0.0);
    close_rel(erf(0.5), 0.5204998778130465, 1e-15);
    close_rel(erf(1.0), 0.8427007929497149, 1e-15);
    close_rel(erf(-1.0), -0.8427007929497149, 1e-15);
    close_rel(erfc(1.0), 0.15729920705028513, 1e-15);
    close_rel(erfc(5.0), 1.537_459_794_428_035e-12, 1e-14);
    close_rel(erfc(10.0), 2.088487583762545e-45, 1e-13);
    close_rel(erfc(-1.0), 1.8427007929497148, 1e-15);
    assert_eq!(erfc(30.0), 0.0);
    assert_eq!(erf(30.0), 1.0);
}

/// The scores of a made-up agent, by hand.
///
/// Do_Nothing (zero) is 0 on every metric. Blind_Bid (fifty): tr 0.135, sharpe −1.35, cr 13.5, sor 0.675,
/// vol 2.325, mdd 0.2325. So σ_tr = 0.135/0.675 = 0.2, σ_sharpe = 1.35/0.675 = 2, σ_cr = 13.5/0.675 = 20,
/// σ_sor = 0.675/0.675 = 1, σ_vol = 2.325/(3 − 0.675) = 1, σ_mdd = 0.2325/2.325 = 0.1.
/// Agent: tr 0.2 → z = 1 → Φ(1)·200 − 100 = 0.8413447460685429·200 − 100 = 68.26894921370858;
/// sharpe −2 → z = −1 → −68.26894921370858; cr 0 → z = 0 → 0; sor 1.96 → Φ(1.96)·200 − 100 = 95.0004209703559;
/// vol 3 → Φ(3 − 3) = 0.5 → 0; mdd 0.1 → Φ(3 − 1) = 0.9772498680518208 → 95.44997361036416.
/// Profitability = (68.26894921370858 − 68.26894921370858 + 0 + 95.0004209703559)/4 = 23.750105242588975;
/// Risk Control = (95.44997361036416 + 0)/2 = 47.72498680518208.
#[test]
fn scores_by_hand() {
    let zero = TmMetrics { excess_profit: 0.0, tr: 0.0, sharpe_ratio: 0.0, vol: 0.0, mdd: 0.0, cr: 0.0, sor: 0.0 };
    let fifty = TmMetrics {
        excess_profit: 13.5,
        tr: 0.135,
        sharpe_ratio: -1.35,
        vol: 2.325,
        mdd: 0.2325,
        cr: 13.5,
        sor: 0.675,
    };
    let agent = TmMetrics { excess_profit: 20.0, tr: 0.2, sharpe_ratio: -2.0, vol: 3.0, mdd: 0.1, cr: 0.0, sor: 1.96 };
    let sigma = TmSigma::new(&zero, &fifty);
    close_rel(sigma.tr, 0.2, 1e-15);
    close_rel(sigma.excess_profit, 20.0, 1e-15);
    close_rel(sigma.sharpe_ratio, 2.0, 1e-15);
    close_rel(sigma.cr, 20.0, 1e-15);
    close_rel(sigma.sor, 1.0, 1e-15);
    close_rel(sigma.vol, 1.0, 1e-15);
    close_rel(sigma.mdd, 0.1, 1e-15);
    let s = TmScores::new(&agent, &zero, &sigma);
    close_rel(s.tr, 68.26894921370858, 1e-13);
    close_rel(s.excess_profit, 68.26894921370858, 1e-13);
    close_rel(s.sharpe_ratio, -68.26894921370858, 1e-13);
    assert_eq!(s.cr, 0.0);
    close_rel(s.sor, 95.0004209703559, 1e-13);
    assert_eq!(s.vol, 0.0);
    close_rel(s.mdd, 95.44997361036416, 1e-13);
    close_rel(s.profitability, 23.750105242588975, 1e-13);
    close_rel(s.risk_control, 47.72498680518208, 1e-13);
    // The baselines score 0 / 99.73 and ±50.03.
    let z = TmScores::new(&zero, &zero, &sigma);
    assert_eq!((z.tr, z.sharpe_ratio, z.cr, z.sor), (0.0, 0.0, 0.0, 0.0));
    close_rel(z.vol, 99.73002039367398, 1e-14);
    let f = TmScores::new(&fifty, &zero, &sigma);
    close_rel(f.tr, 50.032423505644594, 1e-14);
    close_rel(f.sharpe_ratio, -50.032423505644594, 1e-14);
    close_rel(f.vol, 50.032423505644594, 1e-14);
    close_rel(f.mdd, 50.032423505644594, 1e-14);
    // The chart: r = score + 100; its Profitability bar uses Excess Profit instead of tr.
    let plot = RadarPlot::new(&s);
    close_rel(plot.r[0], 168.26894921370858, 1e-13);
    close_rel(plot.r[4], 100.0, 1e-15);
    close_rel(plot.profitability_bar, 123.750_105_242_588_97, 1e-13);
    close_rel(plot.risk_control_bar, 147.72498680518208, 1e-13);
    // The free functions agree.
    assert_eq!(profit_score(0.2, 0.0, 0.2), s.tr);
    assert_eq!(risk_score(3.0, 0.0, 1.0), 0.0);
}

/// One trading step by hand: b = f = 5, 12 rows, cost 0.001, Blind_Bid buys 1 unit at close[4] = 100.
/// Cost 100/(1 − 0.001) = 100.1001001001001, cash 99 899.8998998999; value at close[5] = 110:
/// 99 899.8998998999 + 110 = 100 009.8998998999; pnl 1·(110 − 100) = 10;
/// reward 1·((110 − 100) + 0.2·(close[9] − 100)) = 10 + 0.2·20 = 14.
#[test]
fn one_step_by_hand() {
    let closes = vec![100.0, 100.0, 100.0, 100.0, 100.0, 110.0, 100.0, 100.0, 100.0, 120.0, 100.0, 100.0];
    let ep = run_actions(AtConfig::default(), closes, &[2]).unwrap();
    let s = &ep.steps[0];
    assert_eq!(s.branch, Branch::Increase);
    close_rel(s.cash, 100_000.0 - 100.0 / 0.999, 1e-15);
    close_rel(s.portfolio_value, 100_000.0 - 100.0 / 0.999 + 110.0, 1e-15);
    assert_eq!(s.pnl, 10.0);
    close_rel(s.reward, 14.0, 1e-15);
    assert_eq!(ep.daily_return, vec![0.0, 10.0]);
    assert_eq!(ep.terminal.reward_returned, s.reward);
    // Selling it back at 110 yields 110·0.999 (a separate 13-row episode: the sale is the second step).
    let closes = vec![100.0, 100.0, 100.0, 100.0, 100.0, 110.0, 110.0, 100.0, 100.0, 120.0, 100.0, 100.0, 100.0];
    let ep = run_actions(AtConfig::default(), closes, &[2, 0]).unwrap();
    assert_eq!(ep.steps[1].branch, Branch::Reduce);
    close_rel(ep.steps[1].cash, 100_000.0 - 100.0 / 0.999 + 110.0 * 0.999, 1e-15);
}

/// TradeMaster's short bug, kept: opening a 1-unit short is charged like a purchase, so the value drops
/// by about twice the price.
#[test]
fn opening_a_short_costs_cash() {
    let closes = vec![100.0; 12];
    let ep = run_actions(AtConfig::default(), closes, &[0]).unwrap();
    let s = &ep.steps[0];
    assert_eq!(s.holdings, -1.0);
    close_rel(s.cash, 100_000.0 - 100.0 / 0.999, 1e-15);
    close_rel(s.portfolio_value, 100_000.0 - 100.0 / 0.999 - 100.0, 1e-15);
}

fn record(price: f64, next_price: f64) -> StepRecord {
    StepRecord {
        t: 0,
        day: 5,
        action: 1,
        buy_volume_requested: 0,
        buy_volume: 0.0,
        branch: Branch::Increase,
        price,
        next_price,
        future_price: next_price,
        cash: 0.0,
        holdings: 0.0,
        portfolio_value: 0.0,
        reward: 0.0,
        pnl: 0.0,
        volatility: 0.0,
    }
}

/// Textbook metrics by hand on assets [100, 125, 100], P = 252: r = [0.25, −0.2], mean 0.025,
/// annualised 0.025·252 = 6.3; sample std √((0.225² + 0.225²)/1) = √0.10125, volatility √(0.10125·252)
/// = 5.0512374721448206; Sharpe 6.3/5.0512… = 1.2472191289246484; running-peak MDD (125 − 100)/125 = 0.2,
/// Calmar 6.3/0.2 = 31.5; downside deviation √((0 + 0.04)/2) = √0.02, Sortino 6.3/(√0.02·√252) =
/// 2.806243040080459; total return 0; buy-and-hold 11/10 − 1 = 0.1, excess −0.1.
/// TradeMaster's drawdown from the overall maximum counts the rise before the peak too: on
/// [100, 125, 100] both give 0.2, on [100, 125] TradeMaster's gives (125 − 100)/125 = 0.2 + 1e-10 where
/// the textbook one is 0.
#[test]
fn textbook_metrics_by_hand() {
    let ep = Episode {
        actions: vec![1, 1],
        steps: vec![record(10.0, 10.5), record(10.5, 11.0)],
        asset_memory: vec![100.0, 125.0, 100.0],
        daily_return: vec![0.0, 25.0, -25.0],
        metrics: TmEnvMetrics::compute(&[0.0, 25.0, -25.0], &[100.0, 125.0, 100.0]),
        terminal: TerminalInfo {
            terminal_day: 7,
            reward_returned: 0.0,
            first_close: 10.0,
            last_close: 11.0,
            buy_and_hold_profit: 10.0,
            buy_and_hold_assets: vec![],
            return_rate: 0.0,
        },
    };
    let t = TextbookMetrics::from_episode(&ep, 252.0);
    assert_eq!(t.total_return, 0.0);
    close_rel(t.excess_return, -0.1, 1e-14);
    close_rel(t.annualized_return, 6.3, 1e-14);
    close_rel(t.volatility, 5.0512374721448206, 1e-14);
    close_rel(t.sharpe_ratio.unwrap(), 1.2472191289246484, 1e-14);
    close_rel(t.max_drawdown, 0.2, 1e-15);
    close_rel(t.calmar_ratio.unwrap(), 31.5, 1e-14);
    close_rel(t.sortino_ratio.unwrap(), 2.806243040080459, 1e-14);
    // TradeMaster's own view of the same run.
    let tm = TmMetrics::from_episodes(&[&ep]);
    close_rel(tm.mdd, 0.2 + 1e-10, 1e-15);
    close_rel(tm.cr, 0.0, 0.0);
    let rising = Episode { asset_memory: vec![100.0, 125.0], daily_return: vec![0.0, 25.0], ..ep.clone() };
    close_rel(TmMetrics::from_episodes(&[&rising]).mdd, 0.2 + 1e-10, 1e-15);
    assert_eq!(TextbookMetrics::from_episode(&rising, 252.0).max_drawdown, 0.0);
    assert_eq!(TextbookMetrics::from_episode(&rising, 252.0).calmar_ratio, None, "no drawdown: undefined");
}

fn series(n: usize) -> Vec<f64> {
    (0..n).map(|i| 100.0 + 10.0 * ((i as f64) * 0.3).sin() + 0.05 * i as f64).collect()
}

#[test]
fn errors_on_bad_input() {
    let closes = series(40);
    let labels: Vec<u8> = (0..40).map(|i| if i < 20 { 0 } else { 1 }).collect();
    let cfg = DynamicsConfig::default();
    let run = |c: &[f64], l: &[u8], k: u8| dynamics_test(c, l, &k, None, &mut MaPolicy, &cfg);
    assert_eq!(run(&closes, &labels, 2).unwrap_err(), RadarError::LabelNotPresent { label: "2".into() });
    assert_eq!(run(&closes, &labels[1..], 0).unwrap_err(), RadarError::LengthMismatch { labels: 39, closes: 40 });
    let short: Vec<u8> = (0..40).map(|i| if i % 12 < 6 { 0 } else { 1 }).collect();
    assert_eq!(
        run(&closes, &short, 0).unwrap_err(),
        RadarError::NoTestableRun { label: "0".into(), runs: 4, min_length_exclusive: 12 }
    );
    let mut nan = closes.clone();
    nan[33] = f64::NAN;
    assert!(matches!(
        run(&nan, &labels, 0).unwrap_err(),
        RadarError::Env(AtEnvError::NonFiniteClose { index: 33, .. })
    ));
    let mut neg = closes.clone();
    neg[3] = 0.0;
    assert!(matches!(
        run(&neg, &labels, 0).unwrap_err(),
        RadarError::Env(AtEnvError::NonPositiveClose { index: 3, .. })
    ));
    assert!(run(&closes, &labels, 0).is_ok());
    // The environment itself.
    let mut env = AtEnv::new(AtConfig::default(), closes.clone()).unwrap();
    assert_eq!(env.step(3).unwrap_err(), AtEnvError::InvalidAction { action: 3, action_dim: 3 });
    let bad = AtConfig { transaction_cost_pct: 1.0, ..AtConfig::default() };
    assert!(matches!(AtEnv::new(bad, closes.clone()).unwrap_err(), AtEnvError::InvalidConfig { .. }));
    let bad = AtConfig { backward_num_day: 0, ..AtConfig::default() };
    assert!(matches!(AtEnv::new(bad, closes).unwrap_err(), AtEnvError::InvalidConfig { .. }));
}

/// A flat price: Blind_Bid only pays costs, its dollar P&L is all 0 like Do_Nothing's, so σ is 0 for
/// Sharpe, vol, Calmar and Sortino. quantdesk refuses by default; the numpy rule gives NaN where the agent
/// equals Do_Nothing (0/0).
#[test]
fn zero_sigma_when_baselines_coincide() {
    let closes = vec![100.0; 30];
    let labels = vec![0u8; 30];
    let cfg = DynamicsConfig::default();
    let err = dynamics_test(&closes, &labels, &0, None, &mut MaPolicy, &cfg).unwrap_err();
    assert_eq!(err, RadarError::ZeroSigma { metrics: vec!["sharpe_ratio", "vol", "cr", "sor"] });
    let cfg = DynamicsConfig { zero_sigma: ZeroSigmaRule::NumpyLike, ..cfg };
    let rep = dynamics_test(&closes, &labels, &0, None, &mut MaPolicy, &cfg).unwrap();
    assert!(rep.scores.agent.sharpe_ratio.is_nan());
    assert_eq!(rep.scores.agent.tr, 0.0, "tr still has a σ: Blind_Bid paid costs");
    assert!(rep.scores.blind_bid.tr < -50.0 + 0.1);
}

#[test]
fn runs_of_a_label() {
    let l = [1, 1, 0, 0, 0, 1, 0, 2, 0, 0];
    let r = label_runs(&l, &0, 2);
    assert_eq!(r.len(), 3);
    assert_eq!((r[0].start_row, r[0].end_row, r[0].length, r[0].tested), (2, 4, 3, true));
    assert_eq!((r[1].start_row, r[1].end_row, r[1].length, r[1].tested), (6, 6, 1, false));
    assert_eq!((r[2].start_row, r[2].end_row, r[2].length, r[2].tested), (8, 9, 2, false));
    assert!(label_runs(&l, &3, 0).is_empty());
    assert!(label_runs::<i32>(&[], &0, 0).is_empty());
}

#[test]
fn short_runs_are_skipped_and_long_ones_tested() {
    // Label 0 on rows 0..12 (12 rows: skipped, as TradeMaster skips length <= 12) and 20..33 (13 rows:
    // tested, 2 trading steps).
    let closes = series(40);
    let labels: Vec<u8> = (0..40).map(|i| if i < 12 || (20..33).contains(&i) { 0 } else { 1 }).collect();
    let rep = dynamics_test(&closes, &labels, &0, None, &mut MaPolicy, &DynamicsConfig::default()).unwrap();
    assert_eq!(rep.segments.len(), 2);
    assert!(!rep.segments[0].tested);
    assert!(rep.segments[1].tested);
    assert_eq!(rep.runs.len(), 1);
    assert_eq!(rep.runs[0].agent.steps.len(), 2);
    assert_eq!(rep.runs[0].do_nothing.asset_memory, vec![100_000.0; 3]);
}

proptest! {
    #[test]
    fn phi_is_symmetric_and_monotone(z in -30.0f64..30.0, dz in 0.0f64..1.0) {
        prop_assert!((phi(z) + phi(-z) - 1.0).abs() <= 2e-16);
        prop_assert!(phi(z + dz) >= phi(z));
        prop_assert!((0.0..=1.0).contains(&phi(z)));
    }

    /// Long-only action sequences (hold or buy) never leave negative cash or holdings, and the memories
    /// satisfy value = cash + holdings·price, P&L = holdings·Δprice.
    #[test]
    fn long_only_episodes_are_consistent(
        steps in proptest::collection::vec((0.95f64..1.05, 1usize..3), 12..60),
        start in 10.0f64..50_000.0,
    ) {
        let mut p = start;
        let closes: Vec<f64> = steps.iter().map(|(g, _)| { p *= g; p }).collect();
        let cfg = AtConfig::default();
        let n = cfg.n_steps(closes.len());
        let actions: Vec<usize> = steps.iter().take(n).map(|(_, a)| *a).collect();
        let ep = run_actions(cfg, closes.clone(), &actions).unwrap();
        prop_assert_eq!(ep.asset_memory.len(), n + 1);
        prop_assert_eq!(ep.daily_return.len(), n + 1);
        for (k, s) in ep.steps.iter().enumerate() {
            prop_assert!(s.cash >= -1e-6 && s.holdings >= 0.0);
            prop_assert_eq!(s.price, closes[4 + k]);
            prop_assert_eq!(s.portfolio_value, s.cash + s.holdings * s.next_price);
            prop_assert_eq!(s.pnl, s.holdings * (s.next_price - s.price));
            prop_assert_eq!(ep.asset_memory[k + 1], s.portfolio_value);
        }
        // Do-Nothing on the same prices stays flat.
        let mut env = AtEnv::new(cfg, closes).unwrap();
        let dn = run_episode(&mut env, &mut DoNothing).unwrap();
        prop_assert!(dn.asset_memory.iter().all(|v| *v == 100_000.0));
        prop_assert_eq!(dn.metrics.sharpe_ratio, 0.0);
    }
}
