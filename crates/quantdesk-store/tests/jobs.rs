//! The job queue's storage, on SQLite and (when configured) PostgreSQL.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use quantdesk_store::jobs::{JobFilter, JobState, LOG_LINES, NewJob, Outcome};
use support::each_backend;

fn job(kind: &str) -> NewJob {
    NewJob {
        owner: "alice".into(),
        kind: kind.into(),
        queue: "default".into(),
        params: "{}".into(),
        priority: 0,
        max_attempts: 3,
        timeout_ms: 60_000,
        run_at: None,
        idempotency_key: None,
    }
}

fn q() -> Vec<String> {
    vec!["default".into()]
}

#[tokio::test]
async fn enqueue_idempotency_and_listing() {
    each_backend(|s| async move {
        let (a, created) =
            s.enqueue(&NewJob { idempotency_key: Some("k1".into()), ..job("backtest") }, 1000).await.unwrap();
        assert!(created);
        let (b, created) =
            s.enqueue(&NewJob { idempotency_key: Some("k1".into()), ..job("backtest") }, 2000).await.unwrap();
        assert_eq!((a, created), (b, false), "the same key gives the same job");
        let (c, _) = s.enqueue(&NewJob { owner: "bob".into(), ..job("sweep") }, 3000).await.unwrap();
        let j = s.job(a).await.unwrap().unwrap();
        assert_eq!((j.state, j.attempts, j.created_at, j.owner.as_str()), (JobState::Queued, 0, 1000, "alice"));
        let mine =
            s.list_jobs(&JobFilter { owner: Some("alice".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(mine.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
        let all = s.list_jobs(&JobFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), vec![c, a], "newest first");
        let sweeps =
            s.list_jobs(&JobFilter { kind: Some("sweep".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(sweeps.len(), 1);
        assert!(s.job(999_999).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn claims_follow_priority_time_and_queue() {
    each_backend(|s| async move {
        let (low, _) = s.enqueue(&job("a"), 1000).await.unwrap();
        let (high, _) = s.enqueue(&NewJob { priority: 5, ..job("a") }, 1000).await.unwrap();
        let (later, _) = s.enqueue(&NewJob { priority: 9, run_at: Some(5000), ..job("a") }, 1000).await.unwrap();
        let (other, _) = s.enqueue(&NewJob { queue: "slow".into(), priority: 9, ..job("a") }, 1000).await.unwrap();
        let first = s.claim("w1", &q(), 2000, 30_000, None).await.unwrap().unwrap();
        assert_eq!(first.id, high);
        assert_eq!(
            (first.state, first.attempts, first.worker.as_deref(), first.lease_until),
            (JobState::Running, 1, Some("w1"), Some(32_000))
        );
        assert_eq!(s.claim("w1", &q(), 2000, 30_000, None).await.unwrap().unwrap().id, low);
        assert!(
            s.claim("w1", &q(), 2000, 30_000, None).await.unwrap().is_none(),
            "the delayed job is not due, the slow queue not asked"
        );
        assert_eq!(s.claim("w1", &q(), 6000, 30_000, None).await.unwrap().unwrap().id, later);
        assert_eq!(s.claim("w2", &["slow".to_string()], 6000, 30_000, None).await.unwrap().unwrap().id, other);
    })
    .await;
}

#[tokio::test]
async fn concurrent_workers_claim_each_job_once() {
    each_backend(|s| async move {
        for _ in 0..60 {
            s.enqueue(&job("a"), 1000).await.unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..6 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(j) = s.claim(&format!("w{w}"), &q(), 2000, 30_000, None).await.unwrap() {
                    got.push(j.id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 60, "every job claimed");
        assert_eq!(unique.len(), 60, "no job claimed twice");
    })
    .await;
}

#[tokio::test]
async fn an_owner_at_the_cap_is_passed_over_for_another_owners_lower_priority_job() {
    each_backend(|s| async move {
        let mut alice = Vec::new();
        for _ in 0..3 {
            alice.push(s.enqueue(&NewJob { priority: 9, ..job("a") }, 1000).await.unwrap().0);
        }
        let (bob, _) = s.enqueue(&NewJob { owner: "bob".into(), priority: -5, ..job("a") }, 1000).await.unwrap();
        let cap = Some(2);
        assert_eq!(s.claim("w1", &q(), 2000, 30_000, cap).await.unwrap().unwrap().id, alice[0]);
        assert_eq!(s.claim("w2", &q(), 2000, 30_000, cap).await.unwrap().unwrap().id, alice[1]);
        let third = s.claim("w3", &q(), 2000, 30_000, cap).await.unwrap().unwrap();
        assert_eq!(
            (third.id, third.owner.as_str()),
            (bob, "bob"),
            "alice has 2 running: her priority-9 job waits, bob's priority -5 one runs"
        );
        assert!(s.claim("w4", &q(), 2000, 30_000, cap).await.unwrap().is_none(), "only alice's job is left");
        assert_eq!(s.job(alice[2]).await.unwrap().unwrap().state, JobState::Queued);
        // Jobs without an owner (schedules, backups) are not capped.
        let (sys1, _) = s.enqueue(&NewJob { owner: String::new(), ..job("a") }, 1000).await.unwrap();
        let (sys2, _) = s.enqueue(&NewJob { owner: String::new(), ..job("a") }, 1000).await.unwrap();
        assert_eq!(s.claim("w5", &q(), 2000, 30_000, Some(1)).await.unwrap().unwrap().id, sys1);
        assert_eq!(s.claim("w6", &q(), 2000, 30_000, Some(1)).await.unwrap().unwrap().id, sys2);
        // One of alice's ends: her third job may run.
        assert!(s.finish(alice[0], "w1", &Outcome::Succeeded("{}".into()), 2500).await.unwrap());
        assert_eq!(s.claim("w1", &q(), 3000, 30_000, cap).await.unwrap().unwrap().id, alice[2]);
    })
    .await;
}

#[tokio::test]
async fn without_a_cap_priority_alone_decides() {
    each_backend(|s| async move {
        for _ in 0..2 {
            s.enqueue(&NewJob { priority: 9, ..job("a") }, 1000).await.unwrap();
        }
        s.enqueue(&NewJob { owner: "bob".into(), ..job("a") }, 1000).await.unwrap();
        for _ in 0..2 {
            assert_eq!(s.claim("w", &q(), 2000, 30_000, None).await.unwrap().unwrap().owner, "alice");
        }
    })
    .await;
}

#[tokio::test]
async fn equal_priorities_go_first_to_owners_with_fewer_running_jobs() {
    each_backend(|s| async move {
        s.enqueue(&job("a"), 1000).await.unwrap();
        s.claim("w1", &q(), 1500, 30_000, Some(5)).await.unwrap().unwrap();
        // alice's next job is older than bob's, but alice already runs one and bob none.
        let (alice, _) = s.enqueue(&job("a"), 1000).await.unwrap();
        let (bob, _) = s.enqueue(&NewJob { owner: "bob".into(), ..job("a") }, 1800).await.unwrap();
        assert_eq!(s.claim("w2", &q(), 2000, 30_000, Some(5)).await.unwrap().unwrap().id, bob);
        assert_eq!(s.claim("w3", &q(), 2000, 30_000, Some(5)).await.unwrap().unwrap().id, alice);
    })
    .await;
}

#[tokio::test]
async fn concurrent_workers_never_claim_past_the_cap() {
    each_backend(|s| async move {
        for _ in 0..40 {
            s.enqueue(&job("a"), 1000).await.unwrap();
        }
        for _ in 0..4 {
            s.enqueue(&NewJob { owner: "bob".into(), ..job("a") }, 1000).await.unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..8 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(j) = s.claim(&format!("w{w}"), &q(), 2000, 30_000, Some(3)).await.unwrap() {
                    got.push(j.owner);
                }
                got
            }));
        }
        let mut owners = Vec::new();
        for t in tasks {
            owners.extend(t.await.unwrap());
        }
        let count = |o: &str| owners.iter().filter(|x| x.as_str() == o).count();
        assert_eq!((count("alice"), count("bob")), (3, 3), "each owner gets exactly the cap: {owners:?}");
    })
    .await;
}

#[tokio::test]
async fn leases_expire_and_stale_workers_are_fenced_off() {
    each_backend(|s| async move {
        let (id, _) = s.enqueue(&NewJob { max_attempts: 2, ..job("a") }, 0).await.unwrap();
        s.claim("dead", &q(), 1000, 5000, None).await.unwrap().unwrap();
        assert_eq!(s.heartbeat(id, "dead", 8000, (1, 10, "working")).await.unwrap(), Some(false));
        assert_eq!(s.requeue_expired(7000).await.unwrap(), 0, "the lease was renewed to 8000");
        assert_eq!(s.requeue_expired(9000).await.unwrap(), 1);
        let j = s.job(id).await.unwrap().unwrap();
        assert_eq!((j.state, j.attempts, j.worker), (JobState::Queued, 1, None));
        assert_eq!(j.progress_message, "working");
        // the dead worker's late writes are refused
        assert!(!s.finish(id, "dead", &Outcome::Succeeded("{}".into()), 9100).await.unwrap());
        assert_eq!(s.heartbeat(id, "dead", 20_000, (2, 10, "")).await.unwrap(), None);
        // the second (last) attempt also dies: the job fails
        s.claim("w2", &q(), 10_000, 1000, None).await.unwrap().unwrap();
        s.requeue_expired(12_000).await.unwrap();
        let j = s.job(id).await.unwrap().unwrap();
        assert_eq!((j.state, j.attempts, j.finished_at), (JobState::Failed, 2, Some(12_000)));
        assert!(j.error.unwrap().contains("lease"));
    })
    .await;
}

#[tokio::test]
async fn outcomes_retries_cancellation() {
    each_backend(|s| async move {
        let (ok, _) = s.enqueue(&job("a"), 0).await.unwrap();
        s.claim("w", &q(), 10, 1000, None).await.unwrap();
        assert!(s.finish(ok, "w", &Outcome::Succeeded(r#"{"x":1}"#.into()), 20).await.unwrap());
        let j = s.job(ok).await.unwrap().unwrap();
        assert_eq!((j.state, j.result.as_deref(), j.finished_at), (JobState::Succeeded, Some(r#"{"x":1}"#), Some(20)));

        let (flaky, _) = s.enqueue(&NewJob { max_attempts: 2, ..job("a") }, 0).await.unwrap();
        s.claim("w", &q(), 30, 1000, None).await.unwrap();
        s.finish(flaky, "w", &Outcome::Failed { error: "timeout".into(), retry_at: Some(500) }, 40).await.unwrap();
        let j = s.job(flaky).await.unwrap().unwrap();
        assert_eq!((j.state, j.run_at, j.finished_at), (JobState::Queued, 500, None), "retried later");
        assert!(s.claim("w", &q(), 100, 1000, None).await.unwrap().is_none(), "not before its back-off");
        s.claim("w", &q(), 600, 1000, None).await.unwrap().unwrap();
        s.finish(flaky, "w", &Outcome::Failed { error: "timeout".into(), retry_at: Some(900) }, 700).await.unwrap();
        assert_eq!(s.job(flaky).await.unwrap().unwrap().state, JobState::Failed, "out of attempts");
        assert!(s.retry(flaky, 800).await.unwrap());
        let j = s.job(flaky).await.unwrap().unwrap();
        assert_eq!((j.state, j.attempts, j.error), (JobState::Queued, 0, None));
        assert!(!s.retry(flaky, 800).await.unwrap(), "only failed or cancelled jobs retry");

        // cancelling: queued at once, running by request
        let (q1, _) = s.enqueue(&job("b"), 0).await.unwrap();
        assert_eq!(s.cancel(q1, 1).await.unwrap(), Some(JobState::Cancelled));
        let running = s.claim("w", &q(), 900, 1000, None).await.unwrap().unwrap();
        assert_eq!(s.cancel(running.id, 901).await.unwrap(), Some(JobState::Running));
        assert_eq!(s.heartbeat(running.id, "w", 2000, (0, 0, "")).await.unwrap(), Some(true));
        assert!(s.finish(running.id, "w", &Outcome::Cancelled, 950).await.unwrap());
        assert_eq!(s.job(running.id).await.unwrap().unwrap().state, JobState::Cancelled);
        assert_eq!(s.cancel(424_242, 1).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn logs_are_bounded_and_artifacts_kept() {
    each_backend(|s| async move {
        let (id, _) = s.enqueue(&job("a"), 0).await.unwrap();
        for i in 0..(LOG_LINES + 20) {
            s.append_log(id, i, &format!("line {i}")).await.unwrap();
        }
        let logs = s.job_logs(id, 10_000).await.unwrap();
        assert_eq!(logs.len() as i64, LOG_LINES);
        assert_eq!(logs[0].1, "line 20");
        assert_eq!(logs.last().unwrap().1, format!("line {}", LOG_LINES + 19));
        assert_eq!(s.job_logs(id, 2).await.unwrap().len(), 2);
        s.put_artifact(id, "trades.csv", "text/csv", b"a,b\n1,2\n").await.unwrap();
        s.put_artifact(id, "trades.csv", "text/csv", b"a,b\n3,4\n").await.unwrap();
        assert_eq!(s.artifact(id, "trades.csv").await.unwrap(), Some(("text/csv".into(), b"a,b\n3,4\n".to_vec())));
        assert_eq!(s.artifacts(id).await.unwrap(), vec![("trades.csv".into(), "text/csv".into(), 8)]);
        assert_eq!(s.artifact(id, "nope").await.unwrap(), None);
        let counts = s.job_counts().await.unwrap();
        assert_eq!(counts, vec![("a".into(), JobState::Queued, 1)]);
    })
    .await;
}

#[tokio::test]
async fn only_finished_jobs_are_deleted_with_their_logs_and_artifacts() {
    each_backend(|s| async move {
        let (queued, _) = s.enqueue(&job("echo"), 1).await.unwrap();
        let (done, _) = s.enqueue(&job("echo"), 2).await.unwrap();
        let claimed = s.claim("w", &q(), 10, 1000, None).await.unwrap().unwrap();
        assert_eq!(claimed.id, queued);
        assert!(!s.delete_job(queued).await.unwrap(), "running: not deleted");
        let claimed = s.claim("w", &q(), 10, 1000, None).await.unwrap().unwrap();
        assert_eq!(claimed.id, done);
        s.append_log(done, 11, "a line").await.unwrap();
        s.put_artifact(done, "out.csv", "text/csv", b"a\n").await.unwrap();
        s.finish(done, "w", &Outcome::Succeeded("{}".into()), 12).await.unwrap();
        let (other, _) = s.enqueue(&job("echo"), 3).await.unwrap();
        s.append_log(other, 13, "kept").await.unwrap();

        assert!(s.delete_job(done).await.unwrap());
        assert!(s.job(done).await.unwrap().is_none());
        assert!(s.job_logs(done, 10).await.unwrap().is_empty());
        assert!(s.artifacts(done).await.unwrap().is_empty());
        assert!(!s.delete_job(done).await.unwrap(), "already gone");
        assert_eq!(s.job_logs(other, 10).await.unwrap().len(), 1, "other jobs' logs stay");
        assert_eq!(s.job(queued).await.unwrap().unwrap().state, JobState::Running);
        assert!(!s.delete_job(other).await.unwrap(), "queued: not deleted");
        s.cancel(other, 14).await.unwrap();
        assert!(s.delete_job(other).await.unwrap(), "cancelled: deleted");
    })
    .await;
}
