//! `quantdesk ledger` as an operator runs it: an adjustment shows in `show`, `verify` passes on
//! a ledger that adds up and exits non-zero naming the user whose stored balance was altered.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_quantdesk");

fn quantdesk(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("QUANTDESK_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("QUANTDESK_LOG_LEVEL", "warn")
        .env("QUANTDESK_USER_PASSWORD", "tulip-granite-41")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[tokio::test]
async fn verify_passes_then_names_the_altered_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    for email in ["a@example.com", "b@example.com"] {
        let o = quantdesk(&db, &["user", "create", "--email", email]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let o = quantdesk(
        &db,
        &[
            "ledger",
            "adjust",
            "--email",
            "a@example.com",
            "--amount",
            "50",
            "--reason",
            "welcome",
            "--idempotency-key",
            "k1",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("+50 coins: 0 -> 50"), "{:?}", text(&o));
    // The same key again changes nothing.
    let o = quantdesk(
        &db,
        &[
            "ledger",
            "adjust",
            "--email",
            "a@example.com",
            "--amount",
            "50",
            "--reason",
            "welcome",
            "--idempotency-key",
            "k1",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let o =
        quantdesk(&db, &["ledger", "adjust", "--email", "a@example.com", "--amount", "-8", "--reason", "correction"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = quantdesk(
        &db,
        &["ledger", "adjust", "--email", "b@example.com", "--amount", "-1", "--reason", "nothing to take"],
    );
    assert!(!o.status.success(), "an adjustment cannot go below zero");
    let o = quantdesk(&db, &["ledger", "show", "--email", "a@example.com"]);
    let (out, _) = text(&o);
    assert!(out.contains("available 42 frozen 0") && out.contains("(2 rows)") && out.contains("correction"), "{out}");
    let o = quantdesk(&db, &["ledger", "verify"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("every balance matches"));

    // Someone edits a balance behind the ledger's back.
    let store = quantdesk_store::SqliteStore::open(&format!("sqlite://{}", db.display()), 1).await.unwrap();
    sqlx::query("UPDATE coin_accounts SET available = 1000 WHERE user_id = (SELECT id FROM users WHERE email = 'a@example.com')")
        .execute(store.pool())
        .await
        .unwrap();
    store.pool().close().await;
    let o = quantdesk(&db, &["ledger", "verify"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("a@example.com: stored available 1000 frozen 0, the ledger gives available 42 frozen 0"),
        "{err}"
    );
    assert!(!err.contains("b@example.com"), "{err}");
}
