//! `quantdesk backup` and `restore` as a user runs them: a backup killed at any moment leaves no
//! archive that `restore` accepts, and a finished one restores into a new database with the same
//! checksums.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");

fn quantdesk(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// A multi-symbol daily file: `symbols` × `days` rows.
fn bars_csv(path: &Path, symbols: usize, days: usize) {
    use std::fmt::Write;
    let mut s = String::from("date,symbol,open,high,low,close,volume\n");
    let start = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    for k in 0..symbols {
        let mut p = 10.0 + k as f64;
        for d in 0..days {
            let date = start + chrono::Duration::days(d as i64);
            let next = p * (1.0 + (((d * 7919 + k * 104_729) % 200) as f64 - 100.0) / 10_000.0);
            let (hi, lo) = (p.max(next) * 1.01, p.min(next) * 0.99);
            writeln!(s, "{date},SYM{k:03},{p:.4},{hi:.4},{lo:.4},{next:.4},{}", 1000 + d).unwrap();
            p = next;
        }
    }
    std::fs::write(path, s).unwrap();
}

fn sums(verify_output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(verify_output).lines().filter(|l| l.contains("sha256")).map(str::to_string).collect()
}

#[test]
fn killed_backups_leave_nothing_restorable_and_finished_ones_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let csv = dir.path().join("bars.csv");
    bars_csv(&csv, 40, 5000);
    let out = quantdesk(&db, &["import", "bars", csv.to_str().unwrap(), "--resolution", "1D"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Kill backups after growing delays; count the ones killed before they finished.
    let mut killed_early = 0;
    for (i, delay) in [30u64, 150, 400, 800, 1500].into_iter().enumerate() {
        let target = dir.path().join(format!("killed-{i}.tar"));
        let mut child = Command::new(BIN)
            .args(["backup", "--output", target.to_str().unwrap()])
            .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        if !finished && !target.exists() {
            killed_early += 1;
        }
        // Whatever is on disk now: the archive exists only if it is whole, and every leftover
        // is refused.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(".killed-") {
                let v = quantdesk(&db, &["backup", "--verify", path.to_str().unwrap()]);
                assert!(!v.status.success(), "a leftover {name} verified");
                let fresh = dir.path().join(format!("fresh-{i}.db"));
                let r = quantdesk(&fresh, &["restore", path.to_str().unwrap()]);
                assert!(!r.status.success(), "a leftover {name} restored");
                std::fs::remove_file(&path).unwrap();
            }
        }
        if target.exists() {
            let v = quantdesk(&db, &["backup", "--verify", target.to_str().unwrap()]);
            assert!(v.status.success(), "a finished archive fails to verify: {}", String::from_utf8_lossy(&v.stderr));
        }
    }
    assert!(killed_early > 0, "no backup was killed before it finished; the test proved nothing");

    // A finished backup restores into a new database, which backs up to the same checksums.
    let a = dir.path().join("a.tar");
    let out = quantdesk(&db, &["backup", "--output", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db2 = dir.path().join("b.db");
    let out = quantdesk(&db2, &["restore", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("restored 2"), "{}", String::from_utf8_lossy(&out.stdout));
    let b = dir.path().join("b.tar");
    assert!(quantdesk(&db2, &["backup", "--output", b.to_str().unwrap()]).status.success());
    let (va, vb) = (
        quantdesk(&db, &["backup", "--verify", a.to_str().unwrap()]),
        quantdesk(&db, &["backup", "--verify", b.to_str().unwrap()]),
    );
    // Each backup's record is written after its snapshot, so both archives hold the same rows.
    let (sa, sb) = (sums(&va.stdout), sums(&vb.stdout));
    assert_eq!(sa.len(), quantdesk_store::backup::TABLES.len(), "a line per table");
    assert_eq!(sa, sb);
    // Restoring again into the now non-empty database is refused, with the way out named.
    let again = quantdesk(&db2, &["restore", a.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));
    assert!(quantdesk(&db2, &["restore", "--replace", a.to_str().unwrap()]).status.success());
}
