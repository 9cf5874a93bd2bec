//! TradeMaster's algorithmic-trading environment against the golden runs of
//! `$QUANTDESK_FIXTURES/golden/trademaster/at_*.json`, step by step, to 1e-9 relative.

mod tm_common;

use quantdesk_envs::trading::{
    AtConfig, AtEnv, Branch, DoNothing, MaPolicy, Policy, btc_features, run_actions, run_episode,
};
use serde_json::Value;
use tm_common::{Agreement, check_env_metrics, fixtures, golden, num, nums};

const TOL: f64 = 1e-9;

fn config(inputs: &Value) -> AtConfig {
    AtConfig {
        initial_amount: num(&inputs["initial_amount"]),
        transaction_cost_pct: num(&inputs["transaction_cost_pct"]),
        backward_num_day: inputs["backward_num_day"].as_u64().unwrap() as usize,
        forward_num_day: inputs["forward_num_day"].as_u64().unwrap() as usize,
        max_volume: inputs["max_volume"].as_u64().unwrap() as u32,
        future_weights: num(&inputs["future_weights"]),
    }
}

/// Runs `policy` on the file's closes and compares every step, the memories, the metrics and the terminal.
fn check_run(name: &str, policy: &mut dyn Policy) {
    let Some(dir) = fixtures() else { return };
    let g = golden(&dir, name);
    let inputs = &g["inputs"];
    let cfg = config(inputs);
    assert_eq!(cfg, AtConfig::default(), "the golden runs use TradeMaster's BTC defaults");
    let closes = nums(&inputs["close"]);
    let mut env = AtEnv::new(cfg, closes).unwrap();
    assert_eq!(env.n_steps(), inputs["n_trading_steps"].as_u64().unwrap() as usize);
    assert_eq!(env.state_dim(), 5 + 2);
    let ep = run_episode(&mut env, policy).unwrap();

    let mut agree = Agreement::new(TOL);
    let steps = g["steps"].as_array().unwrap();
    assert_eq!(ep.steps.len(), steps.len());
    for (s, w) in ep.steps.iter().zip(steps) {
        let t = s.t;
        assert_eq!(t as u64, w["t"].as_u64().unwrap());
        assert_eq!(s.day as u64, w["day"].as_u64().unwrap(), "step {t} day");
        assert_eq!(s.action as u64, w["action"].as_u64().unwrap(), "step {t} action");
        assert_eq!(s.buy_volume_requested, w["buy_volume_requested"].as_i64().unwrap(), "step {t}");
        assert_eq!(s.branch.as_str(), w["branch"].as_str().unwrap(), "step {t} branch");
        for (field, got) in [
            ("buy_volume", s.buy_volume),
            ("price", s.price),
            ("next_price", s.next_price),
            ("future_price", s.future_price),
            ("cash", s.cash),
            ("holdings", s.holdings),
            ("portfolio_value", s.portfolio_value),
            ("reward", s.reward),
            ("pnl", s.pnl),
            ("volatility", s.volatility),
        ] {
            agree.check(&format!("step {t} {field}"), got, num(&w[field]));
        }
    }
    agree.check_all("asset_memory", &ep.asset_memory, &nums(&g["asset_memory"]));
    agree.check_all("daily_return", &ep.daily_return, &nums(&g["daily_return"]));
    check_env_metrics(&mut agree, &ep.metrics, &g["metrics"]);
    let term = &g["terminal"];
    assert_eq!(ep.terminal.terminal_day as u64, term["terminal_day"].as_u64().unwrap());
    for (field, got) in [
        ("reward_returned", ep.terminal.reward_returned),
        ("first_close", ep.terminal.first_close),
        ("last_close", ep.terminal.last_close),
        ("buy_and_hold_profit", ep.terminal.buy_and_hold_profit),
        ("return_rate", ep.terminal.return_rate),
    ] {
        agree.check(&format!("terminal.{field}"), got, num(&term[field]));
    }
    agree.check_all("buy_and_hold_assets", &ep.terminal.buy_and_hold_assets, &nums(&term["buy_and_hold_assets"]));
    let scalars = &g["dynamics_save_dict_scalars"];
    agree.check("Excess Profit", ep.excess_profit(), num(&scalars["Excess Profit"]));
    eprintln!("{name}: {} values, worst relative difference {:e}", agree.checked, agree.worst);
}

#[test]
fn do_nothing_matches_trademaster_step_by_step() {
    check_run("at_do_nothing.json", &mut DoNothing);
}

#[test]
fn ma_policy_matches_trademaster_step_by_step() {
    check_run("at_ma.json", &mut MaPolicy);
}

#[test]
fn the_terminal_call_returns_the_stale_reward_and_trades_nothing() {
    let Some(dir) = fixtures() else { return };
    let g = golden(&dir, "at_ma.json");
    let closes = nums(&g["inputs"]["close"]);
    let mut env = AtEnv::new(AtConfig::default(), closes).unwrap();
    let mut obs = env.reset();
    let mut policy = MaPolicy;
    let mut last_reward = f64::NAN;
    let mut calls = 0;
    loop {
        let a = policy.act(&obs, env.config());
        let step = env.step(a).unwrap();
        calls += 1;
        if step.done {
            assert!(step.record.is_none());
            assert_eq!(step.reward, last_reward, "stale reward");
            assert_eq!(step.reward, num(&g["terminal"]["reward_returned"]));
            break;
        }
        last_reward = step.reward;
        obs = step.observation;
    }
    assert_eq!(calls, 414 + 1);
    assert_eq!(env.asset_memory().len(), 415);
    assert!(env.step(1).is_err(), "stepping after done is an error");
    // The same actions replayed give the same episode.
    let actions: Vec<usize> = env.episode().actions;
    let replay = run_actions(AtConfig::default(), nums(&g["inputs"]["close"]), &actions).unwrap();
    assert_eq!(replay.asset_memory, env.asset_memory());
    assert!(run_actions(AtConfig::default(), nums(&g["inputs"]["close"]), &actions[1..]).is_err());
}

#[test]
fn blind_bid_runs_out_of_cash_and_is_capped() {
    // 20 rows at 30 000: cash 100 000 buys 3 units at 30 030.03 each, then the buys are cut to 0 units.
    let closes = vec![30_000.0; 20];
    let mut env = AtEnv::new(AtConfig::default(), closes).unwrap();
    let ep = run_episode(&mut env, &mut quantdesk_envs::trading::BlindBid).unwrap();
    let holdings: Vec<f64> = ep.steps.iter().map(|s| s.holdings).collect();
    assert_eq!(&holdings[..4], &[1.0, 2.0, 3.0, 3.0]);
    assert_eq!(ep.steps[3].branch, Branch::IncreaseCapped);
    assert_eq!(ep.steps[3].buy_volume, 0.0);
    let unit = 30_000.0 / (1.0 - 0.001);
    assert_eq!(ep.steps[2].cash, 100_000.0 - unit - unit - unit);
}

/// Reads `crypto/btc_1d.csv` (date, open, high, low, close).
fn btc_rows(dir: &std::path::Path) -> Vec<(String, [f64; 4])> {
    let path = dir.join("crypto/btc_1d.csv");
    let mut rd = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            (r[0].to_string(), [f(1), f(2), f(3), f(4)])
        })
        .collect()
}

#[test]
fn observations_match_trademaster_features() {
    let Some(dir) = fixtures() else { return };
    let g = golden(&dir, "at_observation.json");
    let rows = btc_rows(&dir);
    let col = |k: usize| rows.iter().map(|r| r.1[k]).collect::<Vec<f64>>();
    let fm = btc_features(&col(0), &col(1), &col(2), &col(3)).unwrap();
    let names: Vec<&str> =
        g["inputs"]["tech_indicator_list"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(fm.names(), names.as_slice());
    let start = rows.iter().position(|r| r.0 == "2018-04-03").unwrap();
    let end = rows.iter().position(|r| r.0 == "2019-06-01").unwrap() + 1;
    assert_eq!(end - start, 425);
    let closes = col(3)[start..end].to_vec();
    let mut env = AtEnv::with_features(AtConfig::default(), closes, fm.slice_rows(start, end)).unwrap();
    assert_eq!(env.state_dim(), 82);
    let want_obs = g["observations"].as_array().unwrap();
    let want_actions: Vec<u64> = g["actions"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let mut policy = MaPolicy;
    let mut obs = env.reset();
    // zd_k and zclose are small differences of rolling sums: compare with an absolute floor of 1e-12.
    let mut worst = 0.0f64;
    for (i, w) in want_obs.iter().enumerate() {
        let w = nums(w);
        assert_eq!(obs.state.len(), w.len());
        for (j, (a, b)) in obs.state.iter().zip(&w).enumerate() {
            let d = (a - b).abs();
            let r = if d <= 1e-12 { 0.0 } else { d / a.abs().max(b.abs()) };
            assert!(r <= TOL, "observation {i} element {j}: {a} vs {b}");
            worst = worst.max(r);
        }
        if i < want_actions.len() {
            let a = policy.act(&obs, env.config());
            assert_eq!(a as u64, want_actions[i], "action {i}");
            obs = env.step(a).unwrap().observation;
        }
    }
    eprintln!("at_observation: worst relative difference {worst:e}");
}
