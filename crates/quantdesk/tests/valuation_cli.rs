//! `quantdesk valuate` against the reference's golden outputs: for every golden file, the fixture
//! statements imported with `quantdesk import financials` into a fresh SQLite database, the
//! golden `request_dict_used` as the request file, `--profile reference --format json`; EV,
//! equity value, value per share, WACC, TV, every year's UFCF and the grid tables agree to 1e-6
//! relative, and a reference refusal is a non-zero exit. Also `doctor`, `diagnose`, presets.

use std::collections::BTreeMap;
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

fn quantdesk(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()).max(1e-300) }
}

#[derive(Default)]
struct Agreement(BTreeMap<String, (f64, usize)>);

impl Agreement {
    fn cmp(&mut self, field: &str, want: &Value, got: &Value, failures: &mut Vec<String>, file: &str) {
        let e = self.0.entry(field.to_string()).or_insert((0.0, 0));
        e.1 += 1;
        match (want.as_f64(), got.as_f64()) {
            (Some(a), Some(b)) => {
                let r = rel(a, b);
                e.0 = e.0.max(r);
                if r > 1e-6 {
                    failures.push(format!("{file}: {field}: want {a}, got {b} (rel {r:e})"));
                }
            }
            _ if want.is_null() && got.is_null() => {}
            _ => {
                e.0 = f64::INFINITY;
                failures.push(format!("{file}: {field}: want {want}, got {got}"));
            }
        }
    }
}

#[test]
fn every_golden_file_agrees_through_the_command_line() {
    let Some(fx) = fixtures() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(fx.join("golden/valuation"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut agree = Agreement::default();
    let mut failures = Vec::new();
    let mut refusals = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ts_code = golden["ts_code"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("q.db");
        let src = fx.join("cn/financials").join(ts_code);
        let out = quantdesk(&db, &["import", "financials", src.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: import: {}", text(&out));
        let req = dir.path().join("R.json");
        std::fs::write(&req, golden["request_dict_used"].to_string()).unwrap();
        let out = quantdesk(
            &db,
            &[
                "valuate",
                "--ts-code",
                ts_code,
                "--profile",
                "reference",
                "--request-file",
                req.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        if !golden["error"].is_null() {
            refusals += 1;
            if out.status.success() {
                failures.push(format!("{name}: the reference refused ({}), the command exited 0", golden["error"]));
            }
            continue;
        }
        if !out.status.success() {
            failures.push(format!("{name}: exit {:?}: {}", out.status.code(), text(&out)));
            continue;
        }
        let got: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        for k in [
            "dcf",
            "forecast",
            "historical_ratios",
            "sensitivity",
            "data_warnings",
            "special_industry_warning",
            "error",
        ] {
            assert!(got.get(k).is_some(), "{name}: the JSON lacks {k}");
        }
        for f in ["enterprise_value", "equity_value", "value_per_share", "wacc_used", "terminal_value"] {
            agree.cmp(&format!("dcf.{f}"), &golden["dcf"][f], &got["dcf"][f], &mut failures, &name);
        }
        let gf = golden["forecast"].as_array().unwrap();
        if gf.len() != got["forecast"].as_array().map_or(0, Vec::len) {
            failures.push(format!("{name}: forecast years differ"));
        }
        for (y, want) in gf.iter().enumerate() {
            agree.cmp("forecast.ufcf", &want["ufcf"], &got["forecast"][y]["ufcf"], &mut failures, &name);
        }
        if let Some(tables) = golden["sensitivity"]["result_tables"].as_object() {
            for (tk, table) in tables {
                for (i, row) in table.as_array().unwrap().iter().enumerate() {
                    for (j, wv) in row.as_array().unwrap().iter().enumerate() {
                        let gv = &got["sensitivity"]["result_tables"][tk][i][j];
                        agree.cmp(&format!("sensitivity.{tk}"), wv, gv, &mut failures, &name);
                    }
                }
            }
        } else if !got["sensitivity"].is_null() {
            failures.push(format!("{name}: a grid where the reference has none"));
        }
    }
    println!("{:<36} {:>12} {:>6}", "field", "max rel err", "n");
    for (k, (e, n)) in &agree.0 {
        println!("{k:<36} {e:>12.3e} {n:>6}");
    }
    println!("{} golden files, {refusals} refusal(s)", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn doctor_diagnose_presets_and_refusals() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let out = quantdesk(&db, &["valuate", "doctor", "--ts-code", "600519.SH"]);
    assert!(!out.status.success(), "nothing stored yet: {}", text(&out));
    assert!(text(&out).contains("sync financials"), "{}", text(&out));
    let out = quantdesk(&db, &["valuate", "--ts-code", "600519.SH"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no financial statements") || text(&out).contains("unknown"), "{}", text(&out));

    let src = fx.join("cn/financials/600519.SH");
    assert!(quantdesk(&db, &["import", "financials", src.to_str().unwrap()]).status.success());
    let out = quantdesk(&db, &["valuate", "doctor", "--ts-code", "600519.SH"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2022") && text(&out).contains("daily_basic"), "{}", text(&out));

    let out = quantdesk(&db, &["valuate", "diagnose", "--ts-code", "600519.SH", "--preset", "bear"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for s in ["WACC build-up", "Historical ratios", "Forecast", "Bridge", "Warnings", "Scenario", "beta"] {
        assert!(t.contains(s), "diagnose shows {s}: {t}");
    }
    let out =
        quantdesk(&db, &["valuate", "--ts-code", "600519.SH", "--format", "markdown", "--set", "beta=1.4", "--save"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("# DCF valuation of 600519.SH")
            && t.contains("| value per share |")
            && t.contains("saved as valuation"),
        "{t}"
    );
    let out = quantdesk(&db, &["valuate", "--ts-code", "600519.SH", "--set", "beta=1.4", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["wacc_build_up"]["beta"].as_f64().unwrap() - 1.4).abs() < 1e-12);

    let out = quantdesk(&db, &["valuate", "--ts-code", "600519.SH", "--preset", "moon"]);
    assert!(!out.status.success() && text(&out).contains("unknown preset"), "{}", text(&out));
    // A refusal: the perpetual growth rate not below a tiny discount rate.
    let out = quantdesk(
        &db,
        &[
            "valuate",
            "--ts-code",
            "600519.SH",
            "--format",
            "json",
            "--set",
            "terminal_value_method=perpetual_growth",
            "--set",
            "discount_rate=0.01",
            "--set",
            "perpetual_growth_rate=0.02",
            "--set",
            "use_gdp_cap=false",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(!out.status.success(), "refused: {}", text(&out));
    assert!(v["error"].is_string(), "the refusal is printed in the result's shape: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"), "{}", text(&out));
}

#[test]
fn a_saved_scenario_of_an_account_applies_from_the_command_line() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let src = fx.join("cn/financials/600519.SH");
    assert!(quantdesk(&db, &["import", "financials", src.to_str().unwrap()]).status.success());
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "tulip-granite-41\n").unwrap();
    let out =
        quantdesk(&db, &["user", "create", "--email", "ana@test.example", "--password-file", pw.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // The scenario, saved as the API would (the same service).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = quantdesk_store::open(&format!("sqlite://{}", db.display()), 1).await.unwrap();
        let owner = store.user_by_email("ana@test.example").await.unwrap().unwrap().id.to_string();
        let input = quantdesk_app::scenarios::ScenarioInput {
            name: "slow bull".into(),
            preset: Some("bull".into()),
            overlay: vec!["beta=1.3".into(), "forecast_years=6".into()],
        };
        quantdesk_app::scenarios::create(&*store, &owner, &input).await.unwrap();
    });
    let run = |extra: &[&str]| {
        let mut args = vec!["valuate", "--ts-code", "600519.SH", "--format", "json"];
        args.extend_from_slice(extra);
        let out = quantdesk(&db, &args);
        (out.status.success(), serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null), text(&out))
    };
    let (ok, v, t) = run(&["--scenario", "slow bull", "--email", "ANA@test.example"]);
    assert!(ok, "{t}");
    assert_eq!(v["wacc_build_up"]["beta"].as_f64(), Some(1.3), "the scenario's edit");
    assert_eq!(v["forecast"].as_array().unwrap().len(), 6);
    assert_eq!(v["dcf"]["exit_multiple_used"].as_f64(), Some(10.0), "its preset (bull)");
    // --set comes after the scenario.
    let (ok, v, t) = run(&["--scenario", "slow bull", "--email", "ana@test.example", "--set", "beta=0.8"]);
    assert!(ok, "{t}");
    assert_eq!(v["wacc_build_up"]["beta"].as_f64(), Some(0.8));
    // Unknown scenario or account: a clear error, a non-zero exit.
    let (ok, _, t) = run(&["--scenario", "nope", "--email", "ana@test.example"]);
    assert!(!ok && t.contains("no scenario named \"nope\""), "{t}");
    let (ok, _, t) = run(&["--scenario", "slow bull", "--email", "bob@test.example"]);
    assert!(!ok && t.contains("no account bob@test.example"), "{t}");
    let (ok, _, t) = run(&["--scenario", "slow bull"]);
    assert!(!ok && t.contains("--email"), "--scenario needs --email: {t}");
}
