//! Data files are for their owner only (Unix): the SQLite database with its -wal and -shm files,
//! the folders created for them, and backup archives with their folder.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use quantdesk_store::backup::archive::{self, WriteInfo};
use quantdesk_store::jobs::NewJob;

fn mode(p: &Path) -> String {
    format!(
        "{:o}",
        std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
    )
}

#[tokio::test]
async fn the_sqlite_database_and_backups_are_created_for_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("q.db");
    let store = quantdesk_store::open(&format!("sqlite://{}", db.display()), 2).await.unwrap();
    // A write, so the WAL and its index exist.
    let job = NewJob {
        owner: "alice".into(),
        kind: "echo".into(),
        queue: "default".into(),
        params: "{\"code\": 123456}".into(),
        priority: 0,
        max_attempts: 1,
        timeout_ms: 1000,
        run_at: None,
        idempotency_key: None,
    };
    store.enqueue(&job, 1).await.unwrap();
    assert_eq!(mode(&data), "700", "the database's new folder");
    for file in ["q.db", "q.db-wal", "q.db-shm"] {
        assert_eq!(mode(&data.join(file)), "600", "{file}");
    }

    let archive_path = dir.path().join("backups").join("nightly").join("b.tar");
    archive::write(&*store, &archive_path, &WriteInfo { now_ms: 1, quantdesk_version: "test".into() }).await.unwrap();
    assert_eq!(mode(&dir.path().join("backups")), "700", "a created parent of the backup folder");
    assert_eq!(mode(archive_path.parent().unwrap()), "700", "the backup folder");
    assert_eq!(mode(&archive_path), "600", "the archive");
}

#[tokio::test]
async fn an_existing_database_file_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    quantdesk_store::open(&format!("sqlite://{}", db.display()), 1).await.unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    quantdesk_store::open(&format!("sqlite://{}", db.display()), 1).await.unwrap();
    assert_eq!(mode(&db), "640", "an operator's choice is left alone");
}
