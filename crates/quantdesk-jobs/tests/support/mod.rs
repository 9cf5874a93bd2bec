//! What the job tests share: the fixture directory and running one job to its end on a worker.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use quantdesk_jobs::{Registry, WorkerConfig, now_ms, run_worker};
use quantdesk_store::Store;
use quantdesk_store::jobs::{Job, NewJob};

/// `$QUANTDESK_FIXTURES`, or `None` (after a skip line) when unset and not required.
pub fn fixtures() -> Option<PathBuf> {
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

/// Enqueues one `kind` job with `params`, runs a worker with `registry` until the job is final
/// (polling every 10 ms, at most `polls` times), stops the worker and returns the job.
pub async fn run_to_end(
    store: &Arc<dyn Store>,
    registry: Registry,
    kind: &str,
    params: &serde_json::Value,
    polls: usize,
) -> Job {
    let job = NewJob {
        owner: "t".into(),
        kind: kind.into(),
        queue: "default".into(),
        params: params.to_string(),
        priority: 0,
        max_attempts: 1,
        timeout_ms: 60_000,
        run_at: None,
        idempotency_key: None,
    };
    let (id, _) = store.enqueue(&job, now_ms()).await.unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut cfg = WorkerConfig::with_lease(1, vec!["default".into()], Duration::from_secs(5));
    cfg.poll = Duration::from_millis(20);
    let worker = tokio::spawn(run_worker(store.clone(), registry, cfg, rx));
    for _ in 0..polls {
        if store.job(id).await.unwrap().unwrap().state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(true).unwrap();
    worker.await.unwrap();
    store.job(id).await.unwrap().unwrap()
}
