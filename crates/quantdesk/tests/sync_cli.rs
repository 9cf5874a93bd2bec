//! `quantdesk sync`, `quantdesk import financials` and `quantdesk data check` as a user runs
//! them, against the local TuShare fake named by `QUANTDESK_TUSHARE_URL`.

use std::path::Path;
use std::process::{Command, Output};

use chrono::NaiveDate;
use quantdesk_connectors::DailyBar;
use quantdesk_connectors::fake::{FakeHandle, FakeTushare, TushareData, fixtures};
use quantdesk_core::Symbol;

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");
const TOKEN: &str = "tok-cli-5521-secret";

fn quantdesk(db: &Path, fake: &FakeHandle, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .env("QUANTDESK_TUSHARE_URL", fake.base_url())
        .env("QUANTDESK_TUSHARE_TOKEN", token)
        .env("QUANTDESK_DATA_SOURCES", "tushare")
        .env("QUANTDESK_SOURCE_RETRIES", "0")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn bars() -> Vec<DailyBar> {
    let mut day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    let mut out = Vec::new();
    while out.len() < 40 {
        if chrono::Datelike::weekday(&day).number_from_monday() <= 5 {
            let p = 10.0 + out.len() as f64 * 0.05;
            out.push(DailyBar {
                date: day,
                open: p,
                high: p + 0.2,
                low: p - 0.2,
                close: p + 0.1,
                volume: 2e6,
                amount: 2e7,
            });
        }
        day = day.succ_opt().unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_plan_check_and_import_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let mut data = TushareData::default().with_daily(Symbol::new("600030.SH").unwrap(), bars());
    data.token = Some(TOKEN.into());
    let fake = FakeTushare::start(data).await;
    let run = |token: &str, args: &[&str]| quantdesk(&db, &fake, token, args);

    // A plan fetches nothing.
    let out = tokio::task::block_in_place(|| {
        run(TOKEN, &["sync", "bars", "--symbol", "600030.SH", "--start", "2024-01-01", "--plan"])
    });
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("calls"), "{}", text(&out));
    assert_eq!(fake.total_calls(), 0);

    let out = tokio::task::block_in_place(|| {
        run(TOKEN, &["sync", "bars", "--symbol", "600030.SH", "--start", "2024-01-01", "--format", "json"])
    });
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["bars"], 40);
    assert_eq!(report["landed"], serde_json::json!(["600030.SH"]));

    // Clean data: the check passes.
    let out = tokio::task::block_in_place(|| {
        run(TOKEN, &["data", "check", "--symbol", "600030.SH", "--today", "2024-02-27"])
    });
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("0 finding(s)"), "{}", text(&out));

    // A wrong token: a clear failure, exit status 1, and the token never printed.
    let out = tokio::task::block_in_place(|| {
        run("tok-wrong-9932", &["sync", "bars", "--symbol", "600030.SH", "--start", "2024-01-01"])
    });
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("bad_token"), "{}", text(&out));
    assert!(!text(&out).contains("tok-wrong-9932") && !text(&out).contains(TOKEN));

    // A bare code is refused before anything is fetched.
    let calls = fake.total_calls();
    let out = tokio::task::block_in_place(|| run(TOKEN, &["sync", "bars", "--symbol", "600030"]));
    assert!(!out.status.success());
    assert!(text(&out).contains("600030.SH"), "{}", text(&out));
    assert_eq!(fake.total_calls(), calls);

    // Statements from a folder in TuShare's columns.
    let Some(fx) = fixtures::dir() else { return };
    let folder = fx.join("cn/financials/600519.SH");
    let out = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(["import", "financials", folder.to_str().unwrap()])
            .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("QUANTDESK_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("income.csv: 6 rows"), "{}", text(&out));
}
