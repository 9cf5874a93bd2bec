//! `serve --demo` as a user runs it: a password it generated is printed (nobody else knows it), a
//! configured one (QUANTDESK_DEMO_PASSWORD, demo_password) is never printed or logged.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");

/// Runs `serve --demo` until it listens, then stops it; returns (stdout, stderr).
fn serve_demo(dir: &Path, password: Option<&str>) -> (String, String) {
    let db = format!("sqlite://{}", dir.join("q.db").display());
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo", "--no-workers", "--listen", "127.0.0.1:0"])
        .env("QUANTDESK_DATABASE_URL", &db)
        .env("QUANTDESK_MAILBOX_DIR", dir.join("mail"))
        .env("QUANTDESK_LOG_LEVEL", "debug")
        .env_remove("QUANTDESK_DEMO_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env("QUANTDESK_DEMO_PASSWORD", p);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdout = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            break;
        }
        stdout.push_str(&line);
        if line.contains("listening on http://") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stdout.contains("listening on http://"), "serve did not start:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn a_configured_demo_password_is_not_printed_and_a_generated_one_is() {
    let dir = tempfile::tempdir().unwrap();
    // One stored bar: the database has data, so the demo market is not generated (faster).
    let csv = dir.path().join("bars.csv");
    std::fs::write(&csv, "date,open,high,low,close\n2024-01-02,1,2,1,2\n").unwrap();
    let out = Command::new(BIN)
        .args(["import", "bars", csv.to_str().unwrap(), "--symbol", "600000.SH", "--resolution", "1D"])
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", dir.path().join("q.db").display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let secret = "configured-demo-secret-4711";
    let (stdout, stderr) = serve_demo(dir.path(), Some(secret));
    assert!(stdout.contains("demo account: demo@quantdesk.local"), "{stdout}");
    assert!(!stdout.contains(secret), "a configured password is printed:\n{stdout}");
    assert!(!stderr.contains(secret), "a configured password is logged:\n{stderr}");

    let (stdout, _) = serve_demo(dir.path(), None);
    let line = stdout.lines().find(|l| l.starts_with("demo account:")).expect("the demo account line");
    let password = line.rsplit("password: ").next().unwrap();
    assert!(
        line.contains("password: ") && password.len() == 16 && password.chars().all(|c| c.is_ascii_hexdigit()),
        "a generated password is printed: {line:?}"
    );
}
