//! `quantdesk env replay` as a user runs it: TradeMaster's own runs (`golden/trademaster/at_ma.json` on BTC,
//! `pm_equal.json` and `pm_eiie_equal.json` on DJ30) replayed from the fixture CSV files, every step and the metrics
//! to 1e-9 relative; bad input answered with a clear error and an exit code, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");

fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("QUANTDESK_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() => {
            panic!("QUANTDESK_FIXTURES is unset but QUANTDESK_TEST_REQUIRE_ALL is set")
        }
        None => {
            eprintln!("skipped: QUANTDESK_FIXTURES is unset");
            None
        }
    }
}

fn quantdesk(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", dir.join("q.db").display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn golden(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("golden/trademaster").join(name)).unwrap()).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()) }
}

/// Compares the replay's steps (the `fields`, and the date) and metrics with the golden file's, to 1e-9 relative.
fn compare(out: &Value, want: &Value, fields: &[&str]) {
    let (got, exp) = (out["steps"].as_array().unwrap(), want["steps"].as_array().unwrap());
    assert_eq!(got.len(), exp.len());
    let close = |what: &str, a: &Value, b: &Value| {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!(rel(a, b) <= 1e-9, "{what}: {a} vs {b}");
    };
    for (g, w) in got.iter().zip(exp) {
        assert_eq!(g["date"], w["date"]);
        for f in fields {
            match &w[*f] {
                Value::Array(ws) => {
                    let gs = g[*f].as_array().unwrap();
                    assert_eq!(gs.len(), ws.len());
                    gs.iter().zip(ws).for_each(|(a, b)| close(f, a, b));
                }
                b => close(&format!("step {} {f}", w["t"]), &g[*f], b),
            }
        }
    }
    for m in ["tr", "sharpe_ratio", "vol", "mdd", "cr", "sor"] {
        close(m, &out["metrics"][m], &want["metrics"][m]);
    }
}

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

fn run_ok(tmp: &Path, args: &[&str]) -> Value {
    let out = quantdesk(tmp, args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn replay_reproduces_trademasters_ma_run_on_btc() {
    let Some(dir) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let want = golden(&dir, "at_ma.json");
    let actions: Value = want["steps"].as_array().unwrap().iter().map(|s| s["action"].clone()).collect();
    let actions = write_json(tmp.path(), "actions.json", &actions);
    let data = dir.join("crypto/btc_1d.csv");
    let out = run_ok(
        tmp.path(),
        &[
            "env",
            "replay",
            "--env",
            "trading",
            "--semantics",
            "trademaster",
            "--data",
            data.to_str().unwrap(),
            "--symbol",
            "BTC",
            "--from",
            "2018-04-03",
            "--to",
            "2019-06-01",
            "--actions",
            &actions,
            "--cash",
            "100000",
            "--cost",
            "0.001",
            "--window",
            "5",
            "--forward",
            "5",
            "--max-volume",
            "1",
            "--future-weight",
            "0.2",
            "--format",
            "json",
        ],
    );
    assert_eq!(out["n_steps"], 414);
    compare(&out, &want, &["cash", "holdings", "portfolio_value", "reward", "pnl", "buy_volume"]);
}

#[test]
fn replay_reproduces_trademasters_portfolio_runs_on_dj30() {
    let Some(dir) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = dir.join("us/dj30_1d.csv");
    let fields = ["weights", "portfolio_value", "portfolio_return", "reward", "transaction_fee"];
    for (env, file, first) in [("portfolio", "pm_equal.json", -1e300), ("portfolio-eiie", "pm_eiie_equal.json", 0.0)] {
        let want = golden(&dir, file);
        let unit = if env == "portfolio" { 0.0 } else { 1.0 / 29.0 };
        let one: Vec<f64> = std::iter::once(first).chain(std::iter::repeat_n(unit, 29)).collect();
        let n = want["steps"].as_array().unwrap().len();
        let actions = write_json(tmp.path(), "w.json", &serde_json::json!(vec![one; n]));
        let out = run_ok(
            tmp.path(),
            &[
                "env",
                "replay",
                "--env",
                env,
                "--data",
                data.to_str().unwrap(),
                "--symbol-column",
                "symbol",
                "--from",
                "2021-01-01",
                "--to",
                "2021-12-31",
                "--actions",
                &actions,
            ],
        );
        assert_eq!(out["symbols"], want["inputs"]["tics"], "{env}: the assets in the golden's order");
        compare(&out, &want, &fields);
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let Some(dir) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let btc = dir.join("crypto/btc_1d.csv");
    let dj = dir.join("us/dj30_1d.csv");
    let (btc, dj) = (btc.to_str().unwrap(), dj.to_str().unwrap());
    let two = write_json(tmp.path(), "two.json", &serde_json::json!([1, 2]));
    let short_vec = write_json(tmp.path(), "v.json", &serde_json::json!(vec![vec![0.0, 1.0]; 25]));
    let nan = tmp.path().join("nan.json");
    std::fs::write(&nan, "[NaN]").unwrap();
    let nan = nan.to_str().unwrap();
    let trading = |data: &str, sym: &str, from: &str, to: &str, actions: &str| {
        vec![
            "env",
            "replay",
            "--env",
            "trading",
            "--data",
            data,
            "--symbol",
            sym,
            "--from",
            from,
            "--to",
            to,
            "--actions",
            actions,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            [
                "env",
                "replay",
                "--env",
                "bogus",
                "--data",
                btc,
                "--symbol",
                "BTC",
                "--from",
                "2018-04-03",
                "--to",
                "2019-06-01",
                "--actions",
                &two,
            ]
            .map(String::from)
            .to_vec(),
            2,
            "invalid value 'bogus'",
        ),
        (
            trading(btc, "BTC", "2018-04-03", "2019-06-01", &two),
            1,
            "has 2 actions; the episode over 425 rows has 414 steps",
        ),
        (trading(dj, "ZZZ", "2021-01-01", "2021-12-31", &two), 1, "no rows of the symbol \"ZZZ\""),
        (trading(btc, "BTC", "2030-01-01", "2030-12-31", &two), 1, "no bars from 2030-01-01 to 2030-12-31"),
        (trading(btc, "BTC", "2018-04-03", "2019-06-01", nan), 1, "is not valid JSON"),
        (
            [
                "env",
                "replay",
                "--env",
                "portfolio",
                "--data",
                dj,
                "--symbol-column",
                "symbol",
                "--from",
                "2021-01-01",
                "--to",
                "2021-02-09",
                "--actions",
                &short_vec,
            ]
            .map(String::from)
            .to_vec(),
            1,
            "action 0 has 2 values; 30 logits are needed",
        ),
    ];
    for (args, code, msg) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = quantdesk(tmp.path(), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
