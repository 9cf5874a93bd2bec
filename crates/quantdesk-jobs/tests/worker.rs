//! Workers against a real store: retries, cancellation, timeouts, dead workers, handlers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use quantdesk_jobs::{Handler, JobContext, JobError, Registry, WorkerConfig, now_ms, run_worker};
use quantdesk_store::Store;
use quantdesk_store::jobs::{JobFilter, JobState, NewJob};

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("j.db").display());
    (quantdesk_store::open(&url, 4).await.unwrap(), dir)
}

fn fast(id: &str, concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        id: id.into(),
        concurrency,
        queues: vec!["default".into()],
        lease: Duration::from_millis(1500),
        heartbeat: Duration::from_millis(100),
        poll: Duration::from_millis(20),
        // No effective cap: these tests are about other things.
        per_owner: concurrency as u32,
    }
}

fn echo(params: &str) -> NewJob {
    NewJob {
        owner: "t".into(),
        kind: "echo".into(),
        queue: "default".into(),
        params: params.into(),
        priority: 0,
        max_attempts: 3,
        timeout_ms: 60_000,
        run_at: None,
        idempotency_key: None,
    }
}

/// Runs a worker until every listed job is final (bounded by a generous number of polls).
async fn drain(store: &Arc<dyn Store>, cfg: WorkerConfig, ids: &[i64]) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(run_worker(store.clone(), Registry::standard(), cfg, rx));
    for _ in 0..2000 {
        let mut done = true;
        for id in ids {
            if !store.job(*id).await.unwrap().unwrap().state.is_final() {
                done = false;
            }
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(true).unwrap();
    worker.await.unwrap();
}

#[tokio::test]
async fn jobs_run_once_each_with_results_and_progress() {
    let (s, _d) = store().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(s.enqueue(&echo(&format!(r#"{{"sleep_ms": 30, "value": {i}}}"#)), now_ms()).await.unwrap().0);
    }
    drain(&s, fast("w1", 4), &ids).await;
    for (i, id) in ids.iter().enumerate() {
        let j = s.job(*id).await.unwrap().unwrap();
        assert_eq!(j.state, JobState::Succeeded);
        assert_eq!(j.attempts, 1);
        let v: serde_json::Value = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
        assert_eq!(v["value"], i as i64);
        assert_eq!((j.progress_done, j.progress_total, j.progress_message.as_str()), (1, 1, "done"));
    }
}

#[tokio::test]
async fn transient_failures_retry_and_permanent_ones_do_not() {
    let (s, _d) = store().await;
    let (flaky, _) = s.enqueue(&echo(r#"{"fail_times": 1, "value": "ok"}"#), now_ms()).await.unwrap();
    let (unknown, _) = s.enqueue(&NewJob { kind: "astrology".into(), ..echo("{}") }, now_ms()).await.unwrap();
    let (slow, _) = s
        .enqueue(&NewJob { timeout_ms: 100, max_attempts: 1, ..echo(r#"{"sleep_ms": 5000}"#) }, now_ms())
        .await
        .unwrap();
    drain(&s, fast("w1", 2), &[flaky, unknown, slow]).await;
    let j = s.job(flaky).await.unwrap().unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Succeeded, 2), "failed once, retried after its back-off");
    let logs = s.job_logs(flaky, 10).await.unwrap();
    assert!(logs.iter().any(|(_, l)| l.contains("attempt 1 failed")), "{logs:?}");
    let j = s.job(unknown).await.unwrap().unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Failed, 1));
    assert!(j.error.unwrap().contains("no handler"));
    let j = s.job(slow).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.unwrap().contains("timed out"));
}

#[tokio::test]
async fn a_running_job_stops_when_cancelled() {
    let (s, _d) = store().await;
    let (id, _) = s.enqueue(&echo(r#"{"sleep_ms": 60000}"#), now_ms()).await.unwrap();
    let canceller = {
        let s = s.clone();
        tokio::spawn(async move {
            // wait until it runs, then ask it to stop
            for _ in 0..1000 {
                if s.job(id).await.unwrap().unwrap().state == JobState::Running {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            s.cancel(id, now_ms()).await.unwrap();
        })
    };
    drain(&s, fast("w1", 1), &[id]).await;
    canceller.await.unwrap();
    let j = s.job(id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Cancelled);
    assert!(j.progress_done < j.progress_total, "stopped before the end");
}

#[tokio::test]
async fn a_dead_workers_job_is_run_again_by_another() {
    let (s, _d) = store().await;
    let (id, _) = s.enqueue(&echo(r#"{"value": 7}"#), now_ms()).await.unwrap();
    // A worker claims it with a short lease and dies (never heartbeats, never finishes).
    let claimed = s.claim("dead-worker", &["default".to_string()], now_ms(), 200, None).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    drain(&s, fast("alive", 1), &[id]).await;
    let j = s.job(id).await.unwrap().unwrap();
    assert_eq!((j.state, j.attempts, j.worker.as_deref()), (JobState::Succeeded, 2, Some("alive")));
    // the dead worker cannot overwrite the outcome
    assert!(!s.finish(id, "dead-worker", &quantdesk_store::jobs::Outcome::Cancelled, now_ms()).await.unwrap());
}

#[tokio::test]
async fn backtest_and_sweep_jobs_on_demo_data() {
    let (s, _d) = store().await;
    quantdesk_app::demo::load(&*s, "2026-11-20".parse().unwrap()).await.unwrap();
    // every config field has a default: an A-share run needs only the profile
    let bt = r#"{"symbols": ["000858.SZ"], "strategy": "sma_cross", "params": {"fast": 5, "slow": 20},
                 "config": {"costs": {"commission_rate": 0.0003}, "market": {"profile": "cn-a"}}}"#;
    let (a, _) = s.enqueue(&NewJob { kind: "backtest".into(), ..echo(bt) }, now_ms()).await.unwrap();
    let sw = r#"{"symbols": ["000858.SZ"], "grid": ["fast=5:9:2", "slow=20,30"], "metric": "sharpe"}"#;
    let (b, _) = s.enqueue(&NewJob { kind: "sweep".into(), ..echo(sw) }, now_ms()).await.unwrap();
    let (c, _) =
        s.enqueue(&NewJob { kind: "backtest".into(), ..echo(r#"{"symbols": ["NOPE.SH"]}"#) }, now_ms()).await.unwrap();
    drain(&s, fast("w1", 2), &[a, b, c]).await;
    let j = s.job(a).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let v: serde_json::Value = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    assert!(v["final_equity"].as_f64().unwrap() > 0.0);
    let names: Vec<String> = s.artifacts(a).await.unwrap().into_iter().map(|x| x.0).collect();
    assert_eq!(names, vec!["report.html", "result.json", "trades.csv"]);
    let (ct, csv) = s.artifact(a, "trades.csv").await.unwrap().unwrap();
    assert_eq!(ct, "text/csv");
    assert!(String::from_utf8(csv).unwrap().starts_with("symbol,direction,entry_time"));
    let j = s.job(b).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let v: serde_json::Value = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    assert_eq!(v["runs"], 6);
    let j = s.job(c).await.unwrap().unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Failed, 1), "an unknown symbol is not retried");
}

#[tokio::test]
async fn backtests_use_only_their_date_range_and_draw_a_benchmark() {
    let (s, _d) = store().await;
    quantdesk_app::demo::load(&*s, "2026-11-20".parse().unwrap()).await.unwrap();
    let bt = r#"{"symbols": ["000858.SZ"], "strategy": "sma_cross", "params": {"fast": 5, "slow": 20},
                 "from": "2024-01-01", "to": "2024-12-31", "benchmark": "000998.SH"}"#;
    let (a, _) = s.enqueue(&NewJob { kind: "backtest".into(), ..echo(bt) }, now_ms()).await.unwrap();
    let bad = r#"{"symbols": ["000858.SZ"], "from": "2024-06-01", "to": "2024-01-01"}"#;
    let (b, _) = s.enqueue(&NewJob { kind: "backtest".into(), ..echo(bad) }, now_ms()).await.unwrap();
    drain(&s, fast("w1", 2), &[a, b]).await;
    let j = s.job(a).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let (_, raw) = s.artifact(a, "result.json").await.unwrap().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let curve = r["equity_curve"].as_array().unwrap();
    let (first, last) = (curve[0][0].as_i64().unwrap(), curve[curve.len() - 1][0].as_i64().unwrap());
    assert!(first >= 1_704_067_200, "starts in 2024: {first}");
    assert!(last < 1_735_689_600, "ends within 2024 (the whole last day included): {last}");
    assert!(last >= 1_735_516_800, "the last trading days of 2024 are in: {last}");
    assert_eq!(r["benchmark"]["symbol"], "000998.SH");
    let bench = r["benchmark"]["curve"].as_array().unwrap();
    assert!(bench.len() > 200);
    assert_eq!(bench[0][1].as_f64().unwrap(), curve[0][1].as_f64().unwrap(), "rebased to the starting equity");
    assert!(r["metrics"]["beta"].as_f64().is_some(), "alpha and beta against the benchmark");
    // The HTML report draws the benchmark beside the equity, with a legend (issue 21, item 14).
    let (_, report) = s.artifact(a, "report.html").await.unwrap().unwrap();
    let report = String::from_utf8(report).unwrap();
    assert!(report.contains("Benchmark 000998.SH"), "a legend names the benchmark");
    let equity_svg = &report[report.find("<svg").unwrap()..];
    let equity_svg = &equity_svg[..equity_svg.find("</svg>").unwrap()];
    assert_eq!(equity_svg.matches("<polyline").count(), 2, "the equity and the benchmark");
    let j = s.job(b).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.unwrap_or_default().contains("from must be before to"));
}

#[tokio::test]
async fn import_jobs_land_whole_or_not_at_all() {
    let (s, dir) = store().await;
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "date,open,high,low,close\n2024-01-02,1,2,1,2\n2024-01-03,2,3,2,3\n").unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "date,open,high,low,close\n2024-01-02,1,2,1,2\n2024-01-03,2,1,3,2\n").unwrap();
    let params = |p: &std::path::Path| {
        format!(r#"{{"files": [{{"path": "{}", "symbol": "600000.SH", "resolution": "1D"}}]}}"#, p.display())
    };
    let (a, _) = s.enqueue(&NewJob { kind: "import".into(), ..echo(&params(&good)) }, now_ms()).await.unwrap();
    let (b, _) = s
        .enqueue(&NewJob { kind: "import".into(), ..echo(&params(&bad).replace("600000", "600001")) }, now_ms())
        .await
        .unwrap();
    drain(&s, fast("w1", 1), &[a, b]).await;
    assert_eq!(s.job(a).await.unwrap().unwrap().state, JobState::Succeeded);
    let j = s.job(b).await.unwrap().unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Failed, 1), "a bad file is not retried");
    assert!(j.error.unwrap().contains("bad.csv:3"));
    assert_eq!(s.bar_count().await.unwrap(), 2, "only the good file's bars");
}

/// `gate` jobs run until the test opens the gate; the handler counts its running jobs per owner.
#[derive(Clone)]
struct Gate {
    open: tokio::sync::watch::Receiver<bool>,
    running: Arc<Mutex<HashMap<String, usize>>>,
    most: Arc<Mutex<HashMap<String, usize>>>,
}

#[async_trait]
impl Handler for Gate {
    async fn run(&self, ctx: &JobContext) -> Result<serde_json::Value, JobError> {
        let owner = ctx.job.owner.clone();
        {
            let mut running = self.running.lock().unwrap();
            let n = running.entry(owner.clone()).or_default();
            *n += 1;
            let mut most = self.most.lock().unwrap();
            let m = most.entry(owner.clone()).or_default();
            *m = (*m).max(*n);
        }
        let mut open = self.open.clone();
        while !*open.borrow_and_update() {
            if ctx.is_cancelled() || open.changed().await.is_err() {
                break;
            }
        }
        *self.running.lock().unwrap().get_mut(&owner).unwrap() -= 1;
        Ok(serde_json::json!({}))
    }
}

/// Waits (a bounded number of polls) until `cond` holds for the store; false if it never did.
async fn eventually<F, Fut>(store: &Arc<dyn Store>, cond: F) -> bool
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if cond(store.clone()).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn running_of(store: &Arc<dyn Store>, owner: &str) -> Vec<i64> {
    let f = JobFilter { owner: Some(owner.into()), state: Some(JobState::Running), limit: 100, ..Default::default() };
    store.list_jobs(&f).await.unwrap().into_iter().map(|j| j.id).collect()
}

/// Two workers with the per-owner cap of a default `serve`: an analyst's long top-priority jobs
/// take one slot, never both, so an admin's later, lower-priority job starts while they run.
#[tokio::test]
async fn an_analysts_top_priority_jobs_leave_a_worker_for_the_admin() {
    let (s, _d) = store().await;
    let (open_tx, open) = tokio::sync::watch::channel(false);
    let gate = Gate { open, running: Default::default(), most: Default::default() };
    let registry = Registry::standard().with("gate", gate.clone());
    // What `serve` runs with when nothing is configured.
    let defaults = quantdesk_app::config::Config::default();
    let per_owner = WorkerConfig::new(defaults.jobs.worker_concurrency, vec!["default".into()]).per_owner;
    let gated =
        |owner: &str, priority: i32| NewJob { owner: owner.into(), kind: "gate".into(), priority, ..echo("{}") };

    let mut analyst = Vec::new();
    for _ in 0..2 {
        analyst.push(s.enqueue(&gated("analyst", 100), now_ms()).await.unwrap().0);
    }
    let (stop, rx) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|id| {
            let cfg = WorkerConfig { per_owner, ..fast(id, 1) };
            tokio::spawn(run_worker(s.clone(), registry.clone(), cfg, rx.clone()))
        })
        .collect();
    assert!(eventually(&s, |s| async move { !running_of(&s, "analyst").await.is_empty() }).await);
    for _ in 0..2 {
        analyst.push(s.enqueue(&gated("analyst", 100), now_ms()).await.unwrap().0);
    }
    let (admin, _) = s.enqueue(&gated("admin", 0), now_ms()).await.unwrap();

    let started = eventually(&s, |s| async move { s.job(admin).await.unwrap().unwrap().state == JobState::Running });
    assert!(started.await, "the admin's job never started: {:?}", running_of(&s, "analyst").await);
    let still = running_of(&s, "analyst").await;
    assert_eq!(still.len(), 1, "the analyst holds one worker, the admin the other: {still:?}");
    assert!(still.iter().all(|id| analyst.contains(id)));

    open_tx.send(true).unwrap();
    let all: Vec<i64> = analyst.iter().copied().chain([admin]).collect();
    let done = eventually(&s, |s| {
        let all = all.clone();
        async move {
            for id in all {
                if s.job(id).await.unwrap().unwrap().state != JobState::Succeeded {
                    return false;
                }
            }
            true
        }
    });
    assert!(done.await, "every job ends");
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(gate.most.lock().unwrap()["analyst"], 1, "never more than the cap at once");
}
