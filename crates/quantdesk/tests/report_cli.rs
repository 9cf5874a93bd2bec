//! `quantdesk report` and `quantdesk prompt` as a user runs them, on bars imported from a CSV file.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", dir.join("q.db").display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// 300 weekdays of bars with a trend and waves.
fn bars_csv(dir: &Path) -> String {
    let mut s = String::from("date,open,high,low,close,volume\n");
    let mut d = chrono::NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    let mut i = 0;
    while i < 300 {
        if chrono::Datelike::weekday(&d).number_from_monday() <= 5 {
            let c = 100.0 + 10.0 * (f64::from(i) / 15.0).sin() + f64::from(i) * 0.05;
            s.push_str(&format!("{d},{:.2},{:.2},{:.2},{c:.2},10000\n", c - 0.5, c + 1.0, c - 1.5));
            i += 1;
        }
        d = d.succ_opt().unwrap();
    }
    let path = dir.join("bars.csv");
    std::fs::write(&path, s).unwrap();
    path.display().to_string()
}

#[test]
fn a_report_is_written_offline_to_stdout_or_a_file_and_prompts_travel_as_toml() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["import", "bars", &bars_csv(d), "--symbol", "600000.SH", "--resolution", "1D"]);
    let md = ok(d, &["report", "--symbol", "600000.SH", "--type", "technical", "--lang", "en"]);
    assert!(md.starts_with("# 600000.SH (600000.SH) — Technical report"), "{md}");
    assert!(md.contains("without a language model") && md.contains("](/chart/600000.SH?date="), "{md}");
    assert_eq!(
        md,
        ok(d, &["report", "--symbol", "600000.SH", "--type", "technical", "--lang", "en"]),
        "the same bytes"
    );
    let html_path = d.join("r.html");
    ok(
        d,
        &[
            "report",
            "--symbol",
            "600000.SH",
            "--type",
            "chan",
            "--format",
            "html",
            "--output",
            html_path.to_str().unwrap(),
        ],
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("缠论") && !html.contains("<script"), "{html}");
    let refused = run(d, &["report", "--symbol", "600000.SH", "--type", "chan", "--provider", "nobody"]);
    assert!(!refused.status.success());

    // Prompts: the defaults are listed (the two reports counted), exported, re-imported as new
    // versions; a file with an unknown placeholder imports nothing.
    let list = ok(d, &["prompt", "list"]);
    assert!(list.lines().any(|l| l.contains("default-technical-en\t1\ttechnical\ten\tyes\t2")), "{list}");
    let toml = ok(d, &["prompt", "export"]);
    assert_eq!(toml.matches("[[template]]").count(), 10);
    let file = d.join("p.toml");
    std::fs::write(&file, toml.replace("${digest}", "${secret}")).unwrap();
    let bad = run(d, &["prompt", "import", file.to_str().unwrap()]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("${secret}"));
    std::fs::write(&file, &toml).unwrap();
    ok(d, &["prompt", "import", file.to_str().unwrap()]);
    let list = ok(d, &["prompt", "list"]);
    assert!(list.lines().any(|l| l.contains("default-technical-en\t2\t")), "{list}");
    let shown = ok(d, &["prompt", "show", "default-chan-zh-CN", "--version", "1"]);
    assert!(shown.contains("kind = \"chan\"") && shown.contains("缠论"), "{shown}");
}
