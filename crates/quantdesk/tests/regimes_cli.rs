//! `quantdesk regimes` and `quantdesk dynamics-test` as a user runs them, against TradeMaster's
//! golden files: the BTC labels (`golden/regimes/btc_3dyn_minlen12_quantile.csv`, whose `label`
//! column is not read as input) and the dynamics test of label 0 with the MA agent
//! (`golden/trademaster/radar_btc_0.json`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn golden_csv(dir: &Path) -> PathBuf {
    dir.join("golden/regimes/btc_3dyn_minlen12_quantile.csv")
}

/// (date, label) of the golden file.
fn golden_labels(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (d, l) =
        (header.iter().position(|h| *h == "date").unwrap(), header.iter().position(|h| *h == "label").unwrap());
    lines
        .filter(|x| !x.is_empty())
        .map(|x| {
            let f: Vec<&str> = x.split(',').collect();
            (f[d].to_string(), f[l].to_string())
        })
        .collect()
}

#[test]
fn regimes_reproduces_trademasters_btc_labels() {
    let Some(dir) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("q.db");
    let file = golden_csv(&dir);
    let f = file.to_str().unwrap();
    let out = ok(&quantdesk(
        &db,
        &[
            "regimes",
            f,
            "--symbol",
            "BTC",
            "--key",
            "close",
            "--dynamics",
            "3",
            "--min-length",
            "12",
            "--max-length",
            "120",
            "--filter-strength",
            "1",
            "--merging-threshold",
            "0.03",
            "--merging-constraint",
            "1",
            "--method",
            "quantile",
            "--format",
            "csv",
        ],
    ));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("date,pct_return,key_indicator_filtered,pct_return_filtered,label"));
    let got: Vec<(String, String)> = lines
        .map(|x| {
            let f: Vec<&str> = x.split(',').collect();
            assert_eq!(f.len(), 5, "{x}");
            for v in &f[1..4] {
                assert!(v.parse::<f64>().unwrap().is_finite(), "{x}");
            }
            (f[0].to_string(), f[4].to_string())
        })
        .collect();
    let want = golden_labels(&file);
    assert_eq!(got.len(), want.len(), "one output row per input row");
    let agree = got.iter().zip(&want).filter(|(g, w)| g == w).count();
    eprintln!("regimes: {agree}/{} rows carry the golden label", want.len());
    assert_eq!(agree, want.len(), "every row must carry TradeMaster's label");

    // The label column is not an input: changing it changes nothing.
    let text = std::fs::read_to_string(&file).unwrap();
    let scrambled: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("{l}\n") } else { format!("{},{}\n", l.rsplit_once(',').unwrap().0, i % 3) })
        .collect();
    let other = tmp.path().join("scrambled.csv");
    std::fs::write(&other, scrambled).unwrap();
    let again = ok(&quantdesk(&db, &["regimes", other.to_str().unwrap(), "--symbol", "BTC", "--key", "close"]));
    assert_eq!(again, out, "the defaults are the golden setting and the label column is ignored");
}

#[test]
fn regimes_json_table_causal_and_stored_bars() {
    let Some(dir) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("q.db");
    let file = golden_csv(&dir);
    let f = file.to_str().unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&quantdesk(
        &db,
        &["regimes", f, "--symbol", "BTC", "--key", "close", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(v["filter"], "zero_phase");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 425);
    assert_eq!(rows[0]["time"], "2018-04-03T00:00:00Z");
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs.iter().map(|s| s["end"].as_u64().unwrap() - s["start"].as_u64().unwrap()).sum::<u64>(), 425);
    let stats = v["statistics"].as_array().unwrap();
    assert_eq!(stats.len(), 3);
    assert_eq!(stats.iter().map(|s| s["bars"].as_u64().unwrap()).sum::<u64>(), 425);

    let causal: serde_json::Value = serde_json::from_str(&ok(&quantdesk(
        &db,
        &["regimes", f, "--symbol", "BTC", "--key", "close", "--causal", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(causal["filter"], "causal");
    assert_eq!(causal["causal_window"], 240);
    assert!(causal["rows"][0]["label"].is_null());

    let table = ok(&quantdesk(&db, &["regimes", f, "--symbol", "BTC", "--key", "close", "--format", "table"]));
    assert!(table.contains("zero_phase") && table.lines().count() == 5, "{table}");

    // Stored bars give the same labels as the file.
    ok(&quantdesk(&db, &["import", "bars", f, "--symbol", "BTC", "--resolution", "1D"]));
    let stored: serde_json::Value = serde_json::from_str(&ok(&quantdesk(
        &db,
        &["regimes", "--symbol", "BTC", "--key", "close", "--format", "json"],
    )))
    .unwrap();
    let labels =
        |v: &serde_json::Value| v["rows"].as_array().unwrap().iter().map(|r| r["label"].clone()).collect::<Vec<_>>();
    assert_eq!(labels(&stored), labels(&v));

    // Refusals.
    let out = quantdesk(&db, &["regimes", "--symbol", "NOPE"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no instrument"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = quantdesk(&db, &["regimes", f, "--symbol", "BTC", "--min-length", "2"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("min_length"));
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(what: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

#[test]
fn dynamics_test_reproduces_trademasters_radar_on_btc_label_0() {
    let Some(dir) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("q.db");
    let file = golden_csv(&dir);
    let f = file.to_str().unwrap();
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden/trademaster/radar_btc_0.json")).unwrap())
            .unwrap();
    let base = ["dynamics-test", f, "--symbol", "BTC", "--key", "close", "--dynamics", "3", "--min-length", "12"];
    let mut args = base.to_vec();
    args.extend(["--max-length", "120", "--strategy", "ma", "--label", "0", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&quantdesk(&db, &args))).unwrap();
    assert_eq!(v["filter"], "zero_phase");
    assert_eq!(v["agent"], "ma");
    let labels = v["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 1);
    let r = &labels[0]["report"];
    assert_eq!(labels[0]["label"], 0);
    let fields = ["Excess_Profit", "tr", "sharpe_ratio", "cr", "sor", "vol", "mdd", "Profitability", "Risk Control"];
    let ours = ["excess_profit", "tr", "sharpe_ratio", "cr", "sor", "vol", "mdd", "profitability", "risk_control"];
    let mut checked = 0;
    for (policy, want) in [
        ("agent", &golden["scores"]),
        ("blind_bid", &golden["baseline_scores"]["Blind_Bid"]),
        ("do_nothing", &golden["baseline_scores"]["Do_Nothing"]),
    ] {
        for (g, o) in fields.iter().zip(ours) {
            close(&format!("{policy}.{g}"), num(&r["scores"][policy][o]), num(&want[*g]));
            checked += 1;
        }
    }
    let radar: Vec<f64> = r["radar"]["r"].as_array().unwrap().iter().map(num).collect();
    let want: Vec<f64> = golden["radar_plot"]["r"].as_array().unwrap().iter().map(num).collect();
    assert_eq!(radar.len(), want.len());
    for (i, (g, w)) in radar.iter().zip(&want).enumerate() {
        close(&format!("radar r[{i}]"), *g, *w);
    }
    for (g, o) in [("Excess_Profit", "excess_profit"), ("sharpe_ratio", "sharpe_ratio"), ("vol", "vol"), ("mdd", "mdd")]
    {
        close(
            &format!("agent metric {g}"),
            num(&r["trademaster_metrics"]["agent"][o]),
            num(&golden["metrics"]["agent"][g]),
        );
        close(&format!("sigma {g}"), num(&r["sigma"][o]), num(&golden["sigma"][g]));
    }
    assert_eq!(r["segments"].as_array().unwrap().len(), golden["segments"].as_array().unwrap().len());
    assert!(r["textbook"]["metrics"]["agent"]["total_return"].is_number());
    eprintln!("dynamics-test: {checked} scores and {} radar values agree to 1e-9", radar.len());

    // The table says which metrics are TradeMaster's and which are textbook ones.
    let mut args = base.to_vec();
    args.extend(["--label", "0"]);
    let table = ok(&quantdesk(&db, &args));
    assert!(table.contains("TradeMaster scores") && table.contains("Textbook metrics (not TradeMaster's)"), "{table}");

    // HTML: self-contained with an inline SVG radar per tested label.
    let html = tmp.path().join("r.html");
    let mut args = base.to_vec();
    args.extend(["--strategy", "sma_cross", "--param", "fast=3", "--param", "slow=8", "--format", "html"]);
    args.extend(["--output", html.to_str().unwrap()]);
    ok(&quantdesk(&db, &args));
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<svg"), "{h}");
    for banned in ["<script", "src=", "href=", "url(", "http://", "https://"] {
        let outside_ns = h.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!outside_ns.contains(banned), "{banned} in the report");
    }

    // A strategy with a bad parameter, an unknown agent, a label beyond the dynamics: refused.
    for extra in [&["--strategy", "sma_cross", "--param", "fast=30"][..], &["--strategy", "nope"], &["--label", "7"]] {
        let mut args = base.to_vec();
        args.extend(extra);
        let out = quantdesk(&db, &args);
        assert!(!out.status.success(), "{extra:?}");
    }
}

/// The stability report (issue 17): for each parameter moved one step, the bars whose label
/// changes; checked for `min_length_limit` + 1 against two plain labelings.
#[test]
fn stability_counts_the_bars_each_parameter_step_changes() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let file = golden_csv(&fx);
    let file = file.to_str().unwrap();
    let base = ["regimes", file, "--symbol", "BTC", "--key", "close", "--dynamics", "3", "--max-length", "120"];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--format", "csv"]);
        let text = ok(&quantdesk(&db, &args));
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let l = header.iter().position(|h| *h == "label").unwrap();
        lines.map(|x| x.split(',').nth(l).unwrap().to_string()).collect()
    };
    let (a, b) = (with(&["--min-length", "12"]), with(&["--min-length", "13"]));
    let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(changed > 0, "a step that changes labels, so the comparison below means something");
    let mut args: Vec<&str> = base.to_vec();
    args.extend_from_slice(&["--min-length", "12", "--stability", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&quantdesk(&db, &args))).unwrap();
    let entries = report.as_array().unwrap();
    for p in ["min_length_limit", "number_of_market_style", "filter_strength", "merging_threshold"] {
        assert_eq!(entries.iter().filter(|e| e["parameter"] == p).count(), 2, "{p} down and up: {report}");
    }
    let up = entries.iter().find(|e| e["parameter"] == "min_length_limit" && e["value"] == "13").unwrap();
    assert_eq!(up["changed_bars"].as_u64(), Some(changed as u64), "{up}");
    let table = ok(&quantdesk(&db, &args[..args.len() - 2]));
    assert!(table.contains("min_length_limit") && table.contains("changed bars"), "{table}");
    assert!(table.contains(" 0.025 ") && !table.contains("0.0249999"), "moved values read as written: {table}");
}

/// Index → constituents (issue 17): the index's labels land on the constituent's bars of the
/// same dates; a day the index lacks gets none.
#[test]
fn an_index_labels_carry_onto_a_constituent_by_date() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let text = std::fs::read_to_string(golden_csv(&fx)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let index = dir.path().join("index.csv");
    std::fs::write(&index, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    // The constituent: every third day of the index, and one day after the index ends.
    let mut stock: Vec<String> = rows.iter().step_by(3).map(|r| r.to_string()).collect();
    stock.push("2030-01-02,1,1,1,1,0".into());
    let constituent = dir.path().join("stock.csv");
    std::fs::write(&constituent, format!("{header}\n{}\n", stock.join("\n"))).unwrap();
    for (file, symbol) in [(&index, "IDX"), (&constituent, "STK")] {
        ok(&quantdesk(&db, &["import", "bars", file.to_str().unwrap(), "--symbol", symbol, "--resolution", "1D"]));
    }
    let flags = ["--key", "close", "--dynamics", "3", "--min-length", "12", "--max-length", "120"];
    let mut args = vec!["regimes", "--symbol", "IDX"];
    args.extend_from_slice(&flags);
    let idx_csv = ok(&quantdesk(&db, &args));
    let mut l = idx_csv.lines();
    let h: Vec<&str> = l.next().unwrap().split(',').collect();
    let li = h.iter().position(|x| *x == "label").unwrap();
    let idx_labels: Vec<String> = l.map(|x| x.split(',').nth(li).unwrap().to_string()).collect();
    let mut args = vec!["regimes", "--symbol", "STK", "--index", "IDX"];
    args.extend_from_slice(&flags);
    let carried = ok(&quantdesk(&db, &args));
    let got: Vec<&str> = carried.lines().skip(1).map(|x| x.split(',').nth(1).unwrap_or("")).collect();
    assert_eq!(got.len(), stock.len());
    let want: Vec<&str> = idx_labels.iter().step_by(3).map(String::as_str).collect();
    assert_eq!(&got[..want.len()], &want[..], "the index's labels on the same dates");
    assert_eq!(got.last(), Some(&""), "no index bar that day: no label");
}
