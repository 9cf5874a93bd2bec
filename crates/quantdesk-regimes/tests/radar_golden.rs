//! TradeMaster's dynamics test on BTC label 0 against `$QUANTDESK_FIXTURES/golden/trademaster/radar_btc_0.json`:
//! every run's values, the metrics, σ, the scores, the aggregates and the radar chart, to 1e-9 relative.

#[path = "../../quantdesk-envs/tests/tm_common/mod.rs"]
mod tm_common;

use quantdesk_regimes::at_env::{AtConfig, Episode, MaPolicy};
use quantdesk_regimes::radar::{DynamicsConfig, TmMetrics, TmScores, dynamics_test, label_runs};
use serde_json::Value;
use tm_common::{Agreement, fixtures, golden, num, nums};

const TOL: f64 = 1e-9;

/// The labeled series of `golden/regimes/btc_3dyn_minlen12_quantile.csv`: dates, closes, labels.
fn labeled(dir: &std::path::Path) -> (Vec<String>, Vec<f64>, Vec<i64>) {
    let path = dir.join("golden/regimes/btc_3dyn_minlen12_quantile.csv");
    let mut rd = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = rd.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (d, c, l) = (col("date"), col("close"), col("label"));
    let (mut dates, mut closes, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for r in rd.records() {
        let r = r.unwrap();
        dates.push(r[d].to_string());
        closes.push(r[c].parse().unwrap());
        labels.push(r[l].parse().unwrap());
    }
    (dates, closes, labels)
}

fn check_metrics(agree: &mut Agreement, what: &str, got: &TmMetrics, want: &Value) {
    for (field, g) in [
        ("Excess_Profit", got.excess_profit),
        ("tr", got.tr),
        ("sharpe_ratio", got.sharpe_ratio),
        ("vol", got.vol),
        ("mdd", got.mdd),
        ("cr", got.cr),
        ("sor", got.sor),
    ] {
        agree.check(&format!("{what}.{field}"), g, num(&want[field]));
    }
}

fn check_scores(agree: &mut Agreement, what: &str, got: &TmScores, want: &Value) {
    for (field, g) in [
        ("Excess_Profit", got.excess_profit),
        ("tr", got.tr),
        ("sharpe_ratio", got.sharpe_ratio),
        ("cr", got.cr),
        ("sor", got.sor),
        ("vol", got.vol),
        ("mdd", got.mdd),
        ("Profitability", got.profitability),
        ("Risk Control", got.risk_control),
    ] {
        agree.check(&format!("{what}.{field}"), g, num(&want[field]));
    }
}

fn check_episode(agree: &mut Agreement, what: &str, ep: &Episode, want: &Value) {
    let actions: Vec<u64> = want["actions"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(ep.actions.iter().map(|&a| a as u64).collect::<Vec<_>>(), actions, "{what} actions");
    let holdings: Vec<f64> = ep.steps.iter().map(|s| s.holdings).collect();
    let cash: Vec<f64> = ep.steps.iter().map(|s| s.cash).collect();
    let rewards: Vec<f64> = ep.steps.iter().map(|s| s.reward).collect();
    agree.check_all(&format!("{what}.holdings"), &holdings, &nums(&want["holdings"]));
    agree.check_all(&format!("{what}.cash"), &cash, &nums(&want["cash"]));
    agree.check_all(&format!("{what}.rewards"), &rewards, &nums(&want["rewards"]));
    agree.check_all(&format!("{what}.total_assets"), &ep.asset_memory, &nums(&want["total_assets"]));
    agree.check_all(&format!("{what}.daily_return"), &ep.daily_return, &nums(&want["daily_return"]));
    agree.check(&format!("{what}.Excess Profit"), ep.excess_profit(), num(&want["Excess Profit"]));
    agree.check(
        &format!("{what}.Buy and Hold Profit"),
        ep.terminal.buy_and_hold_profit,
        num(&want["Buy and Hold Profit"]),
    );
    let m = &want["env_metrics"];
    for (field, g) in [
        ("tr", ep.metrics.tr),
        ("sharpe_ratio", ep.metrics.sharpe_ratio),
        ("vol", ep.metrics.vol),
        ("mdd", ep.metrics.mdd),
        ("cr", ep.metrics.cr),
        ("sor", ep.metrics.sor),
    ] {
        agree.check(&format!("{what}.env_metrics.{field}"), g, num(&m[field]));
    }
}

#[test]
fn radar_btc_label_0_matches_trademaster() {
    let Some(dir) = fixtures() else { return };
    let g = golden(&dir, "radar_btc_0.json");
    let (dates, closes, labels) = labeled(&dir);
    let inputs = &g["inputs"];
    let env = &inputs["env_config"];
    let cfg = DynamicsConfig {
        env: AtConfig {
            initial_amount: num(&env["initial_amount"]),
            transaction_cost_pct: num(&env["transaction_cost_pct"]),
            backward_num_day: env["backward_num_day"].as_u64().unwrap() as usize,
            forward_num_day: env["forward_num_day"].as_u64().unwrap() as usize,
            max_volume: env["max_volume"].as_u64().unwrap() as u32,
            future_weights: num(&env["future_weights"]),
        },
        ..DynamicsConfig::default()
    };
    assert_eq!(cfg.min_length() as u64, inputs["min_tested_length_exclusive"].as_u64().unwrap());
    let label = g["label"].as_i64().unwrap();
    let report = dynamics_test(&closes, &labels, &label, None, &mut MaPolicy, &cfg).unwrap();

    // Segments.
    let want_segments = g["segments"].as_array().unwrap();
    assert_eq!(report.segments.len(), want_segments.len());
    for (s, w) in report.segments.iter().zip(want_segments) {
        assert_eq!(s.index as u64, w["segment"].as_u64().unwrap());
        assert_eq!(s.start_row as u64, w["start_row"].as_u64().unwrap());
        assert_eq!(s.end_row as u64, w["end_row"].as_u64().unwrap());
        assert_eq!(s.length as u64, w["length"].as_u64().unwrap());
        assert_eq!(s.tested, w["tested"].as_bool().unwrap());
        assert_eq!(dates[s.start_row], w["first_date"].as_str().unwrap());
        assert_eq!(dates[s.end_row], w["last_date"].as_str().unwrap());
    }

    let mut agree = Agreement::new(TOL);
    // Every run of every policy.
    let per = g["per_segment"].as_array().unwrap();
    assert_eq!(report.runs.len(), per.len());
    for (run, w) in report.runs.iter().zip(per) {
        let k = run.segment.index;
        assert_eq!(k as u64, w["segment"].as_u64().unwrap());
        check_episode(&mut agree, &format!("segment {k} agent"), &run.agent, &w["agent"]);
        check_episode(&mut agree, &format!("segment {k} Blind_Bid"), &run.blind_bid, &w["Blind_Bid"]);
        check_episode(&mut agree, &format!("segment {k} Do_Nothing"), &run.do_nothing, &w["Do_Nothing"]);
    }
    let per_run = agree.checked;

    // Metrics, σ, scores, aggregates, radar chart.
    check_metrics(&mut agree, "agent", &report.metrics.agent, &g["metrics"]["agent"]);
    check_metrics(&mut agree, "Blind_Bid", &report.metrics.blind_bid, &g["metrics"]["Blind_Bid"]);
    check_metrics(&mut agree, "Do_Nothing", &report.metrics.do_nothing, &g["metrics"]["Do_Nothing"]);
    let s = &g["sigma"];
    for (field, v) in [
        ("Excess_Profit", report.sigma.excess_profit),
        ("tr", report.sigma.tr),
        ("sharpe_ratio", report.sigma.sharpe_ratio),
        ("vol", report.sigma.vol),
        ("mdd", report.sigma.mdd),
        ("cr", report.sigma.cr),
        ("sor", report.sigma.sor),
    ] {
        agree.check(&format!("sigma.{field}"), v, num(&s[field]));
    }
    check_scores(&mut agree, "scores", &report.scores.agent, &g["scores"]);
    check_scores(&mut agree, "Blind_Bid scores", &report.scores.blind_bid, &g["baseline_scores"]["Blind_Bid"]);
    check_scores(&mut agree, "Do_Nothing scores", &report.scores.do_nothing, &g["baseline_scores"]["Do_Nothing"]);
    let plot = &g["radar_plot"];
    let axes: Vec<&str> = plot["axes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(report.radar_plot.axes.to_vec(), axes);
    let theta: Vec<u64> = plot["theta"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(report.radar_plot.theta.iter().map(|&t| t as u64).collect::<Vec<_>>(), theta);
    agree.check_all("radar_plot.r", &report.radar_plot.r, &nums(&plot["r"]));
    agree.check("Profitability_bar", report.radar_plot.profitability_bar, num(&plot["Profitability_bar"]));
    agree.check("Risk_Control_bar", report.radar_plot.risk_control_bar, num(&plot["Risk_Control_bar"]));
    eprintln!("radar_btc_0: {} values ({per_run} per-run), worst relative difference {:e}", agree.checked, agree.worst);
}

#[test]
fn label_runs_of_the_golden_series() {
    let Some(dir) = fixtures() else { return };
    let (_, _, labels) = labeled(&dir);
    // Every row belongs to exactly one run of its label; runs of a label never touch.
    let mut covered = 0;
    for label in 0..3i64 {
        let runs = label_runs(&labels, &label, 12);
        for w in runs.windows(2) {
            assert!(w[1].start_row > w[0].end_row + 1);
        }
        for r in &runs {
            assert!(labels[r.start_row..=r.end_row].iter().all(|l| *l == label));
            assert_eq!(r.tested, r.length > 12);
            covered += r.length;
        }
    }
    assert_eq!(covered, labels.len());
}
