//! `quantdesk chan` as a user runs it: on a CSV file and on the same bars imported into the
//! database, in JSON and as a table, with `--until` clipping.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");

fn quantdesk(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// Daily waves of several lengths, `days` calendar days from 2016-01-01.
fn waves_csv(path: &Path, days: usize) {
    let mut s = String::from("date,open,high,low,close,volume\n");
    let start = chrono::NaiveDate::from_ymd_opt(2016, 1, 1).unwrap();
    let mut prev = 50.0_f64;
    for i in 0..days {
        let x = i as f64;
        let close = 50.0 + 15.0 * (x / 60.0).sin() + 5.0 * (x / 8.0).sin() + 2.0 * (x / 2.7).sin();
        let (high, low) = (prev.max(close) + 0.2, prev.min(close) - 0.2);
        let date = start + chrono::Duration::days(i as i64);
        writeln!(s, "{date},{prev:.2},{high:.2},{low:.2},{close:.2},{}", 100 + i).unwrap();
        prev = close;
    }
    std::fs::write(path, s).unwrap();
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn chan_on_a_file_and_on_stored_bars() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let csv = dir.path().join("w.csv");
    waves_csv(&csv, 1500);
    let file = csv.to_str().unwrap();

    // The file: the engine's structures with ISO times.
    let v = json(&quantdesk(&db, &["chan", file, "--symbol", "600000.SH"]));
    let opts = quantdesk_ingest::BarImportOptions {
        file_name: file.into(),
        symbol: Some(quantdesk_core::Symbol::new("600000.SH").unwrap()),
        resolution: quantdesk_core::Resolution::Day,
        timezone: None,
        columns: quantdesk_ingest::ColumnMap::default(),
    };
    let parsed = quantdesk_ingest::parse_bars(std::fs::File::open(&csv).unwrap(), &opts, &mut |_| {}).unwrap();
    let bars = parsed.series.into_values().next().unwrap().bars;
    let a = quantdesk_chan::analyze(&bars, &quantdesk_chan::Profile::Chanpy.config()).unwrap();
    assert!(a.strokes.len() > 20 && !a.signals.is_empty());
    assert_eq!(v["symbol"], "600000.SH");
    assert_eq!(v["resolution"], "1D");
    assert_eq!(v["profile"], "chanpy");
    assert_eq!(v["bars"], 1500);
    assert_eq!(v["first_bar"], "2016-01-01T00:00:00Z");
    for key in ["merged_bars", "fractals", "strokes", "segments", "pivots", "signals"] {
        assert!(v[key].is_array(), "{key}");
    }
    let strokes = v["strokes"].as_array().unwrap();
    assert_eq!(strokes.len(), a.strokes.len());
    for (got, s) in strokes.iter().zip(&a.strokes) {
        let t = chrono::DateTime::parse_from_rfc3339(got["end_time"].as_str().unwrap()).unwrap();
        assert_eq!(t.timestamp(), s.end_time);
        assert_eq!(got["end_price"].as_f64(), Some(s.end_price));
    }
    let signals = v["signals"].as_array().unwrap();
    assert_eq!(signals.len(), a.signals.len());
    assert!(signals.iter().all(|s| s["classes"].is_array() && s["rule"].is_string() && s["confirmed"].is_boolean()));

    // czsc is another rule set.
    let c = json(&quantdesk(&db, &["chan", file, "--symbol", "600000.SH", "--profile", "czsc"]));
    let want = quantdesk_chan::analyze(&bars, &quantdesk_chan::Profile::Czsc.config()).unwrap();
    assert_eq!(c["profile"], "czsc");
    assert_eq!(c["strokes"].as_array().unwrap().len(), want.strokes.len());

    // --until: only bars before it, and no time at or after it.
    let u = json(&quantdesk(&db, &["chan", file, "--symbol", "600000.SH", "--until", "2018-01-01"]));
    let cut = chrono::NaiveDate::from_ymd_opt(2018, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let k = bars.partition_point(|b| b.time < cut);
    assert_eq!(u["bars"], k as u64);
    assert_eq!(u["last_bar"], "2017-12-31T00:00:00Z");
    let clipped = quantdesk_chan::analyze(&bars[..k], &quantdesk_chan::Profile::Chanpy.config()).unwrap();
    assert_eq!(u["strokes"].as_array().unwrap().len(), clipped.strokes.len());
    assert!(u["strokes"].as_array().unwrap().iter().all(|s| s["end_time"].as_str().unwrap() < "2018-01-01"));

    // The same bars stored: the same structures (no factors, so qfq changes nothing).
    let out = quantdesk(&db, &["import", "bars", file, "--symbol", "600000.SH", "--resolution", "1D"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = json(&quantdesk(&db, &["chan", "--symbol", "600000.SH", "--resolution", "1D"]));
    assert_eq!(s["adjustment"], "qfq");
    for key in ["merged_bars", "fractals", "strokes", "segments", "segments_of_segments", "pivots", "signals"] {
        assert_eq!(s[key], v[key], "{key}");
    }
    let su = json(&quantdesk(&db, &["chan", "--symbol", "600000.SH", "--until", "2018-01-01"]));
    assert_eq!(su["strokes"], u["strokes"]);
    assert_eq!(su["signals"], u["signals"]);

    // The table: counts and the last strokes and signals.
    let out = quantdesk(&db, &["chan", "--symbol", "600000.SH", "--format", "table", "--last", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("strokes {:>11}", a.strokes.len())), "{text}");
    assert!(text.contains("last strokes") && text.contains("last signals"), "{text}");
    let last = &a.strokes[a.strokes.len() - 1];
    assert!(text.contains(&format!("#{:<5}", last.index)), "{text}");
}

#[test]
fn chan_refuses_bad_input_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let csv = dir.path().join("w.csv");
    waves_csv(&csv, 50);
    let file = csv.to_str().unwrap();
    for args in [
        vec!["chan", file, "--symbol", "X", "--profile", "chanlun"],
        vec!["chan", file, "--symbol", "X", "--format", "xml"],
        vec!["chan", file, "--symbol", "X", "--until", "someday"],
        vec!["chan", file, "--symbol", "X", "--until", "1990-01-01"],
        vec!["chan", "/nonexistent/file.csv"],
        vec!["chan", "--symbol", "NOPE.SH"],
        vec!["chan"],
    ] {
        let out = quantdesk(&db, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("Error"), "{args:?}: {err}");
    }
}

/// Without `--resolution`, a file's resolution comes from its timestamps (and is said); a flag
/// that contradicts the file is refused with both named, not misread as two rows a day.
#[test]
fn an_hourly_file_is_read_as_hourly_and_a_contradicting_flag_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let csv = dir.path().join("h.csv");
    let mut s = String::from("datetime,open,high,low,close,volume\n");
    let mut day = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    let mut i = 0.0_f64;
    while s.lines().count() < 400 {
        if chrono::Datelike::weekday(&day).number_from_monday() <= 5 {
            for t in ["10:30:00", "11:30:00", "14:00:00", "15:00:00"] {
                let p = 20.0 + 3.0 * (i / 9.0).sin() + (i / 2.3).sin();
                writeln!(s, "{day} {t},{p:.2},{:.2},{:.2},{p:.2},{}", p + 0.3, p - 0.3, 1000.0 + i).unwrap();
                i += 1.0;
            }
        }
        day = day.succ_opt().unwrap();
    }
    std::fs::write(&csv, s).unwrap();
    let file = csv.to_str().unwrap();

    let out = quantdesk(&db, &["chan", file, "--symbol", "600000.SH"]);
    let v = json(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("detected resolution 60"), "{:?}", out.stderr);
    assert_eq!(v["resolution"], "60", "{}", v["resolution"]);
    assert!(v["merged"].as_array().is_some_and(|m| !m.is_empty()) || v["bars"].is_number(), "{v}");

    let out = quantdesk(&db, &["chan", file, "--symbol", "600000.SH", "--resolution", "1D"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("intraday") && err.contains("--resolution 60"), "{err}");

    let out = quantdesk(&db, &["backtest", file, "--symbol", "600000.SH", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("detected resolution 60"));
}

/// Issue 21, item 9: asking stored bars for a range with none names the range that is stored.
#[test]
fn a_range_without_bars_names_the_stored_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let csv = dir.path().join("w.csv");
    waves_csv(&csv, 100);
    let out = quantdesk(&db, &["import", "bars", csv.to_str().unwrap(), "--symbol", "WAVE", "--resolution", "1D"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = quantdesk(&db, &["chan", "--symbol", "WAVE", "--until", "1990-01-01"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("stored bars of WAVE run from 2016-01-01 to 2016-04-09"), "{err}");
}
