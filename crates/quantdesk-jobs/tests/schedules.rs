//! Schedules fire each tick exactly once, in their time zone, with catch-up when asked.

use std::sync::Arc;
use std::time::Duration;

use quantdesk_jobs::schedule::{Due, due, tick, validate};
use quantdesk_store::Store;
use quantdesk_store::jobs::{JobFilter, JobState, Schedule};

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    (quantdesk_store::open(&url, 4).await.unwrap(), dir)
}

fn ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

fn schedule(name: &str, cron: &str, tz: &str, catch_up: bool, created: &str) -> Schedule {
    Schedule {
        id: 0,
        owner: String::new(),
        name: name.into(),
        cron: cron.into(),
        timezone: tz.into(),
        kind: "echo".into(),
        params: "{}".into(),
        enabled: true,
        catch_up,
        last_fire: None,
        created_at: ms(created),
    }
}

#[test]
fn ticks_are_read_in_the_schedules_time_zone() {
    // 18:00 Shanghai on weekdays is 10:00 UTC
    let s = schedule("close", "0 18 * * 1-5", "Asia/Shanghai", false, "2026-11-20T00:00:00Z");
    assert_eq!(due(&s, ms("2026-11-20T09:59:59Z")).unwrap(), Due::Wait);
    assert_eq!(due(&s, ms("2026-11-20T10:00:30Z")).unwrap(), Due::Fire(ms("2026-11-20T10:00:00Z")));
    // found late (nothing ran at 18:00): skipped without catch-up, fired with it
    assert_eq!(due(&s, ms("2026-11-20T12:00:00Z")).unwrap(), Due::Skip(ms("2026-11-20T10:00:00Z")));
    let c = Schedule { catch_up: true, ..s.clone() };
    assert_eq!(
        due(&c, ms("2026-11-23T12:00:00Z")).unwrap(),
        Due::Fire(ms("2026-11-23T10:00:00Z")),
        "only the latest missed tick"
    );
    assert!(validate("61 * * * *", "UTC").is_err());
    assert!(validate("* * * * *", "Mars/Base").is_err());
}

#[tokio::test]
async fn two_schedulers_fire_each_minute_once() {
    let (s, _d) = store().await;
    s.upsert_schedule(&schedule("every-minute", "* * * * *", "Asia/Shanghai", false, "2026-11-22T00:00:10Z"))
        .await
        .unwrap();
    // Two schedulers tick every 250 ms of simulated time across three minute boundaries.
    let start = ms("2026-11-22T00:00:30Z");
    let mut handles = Vec::new();
    for offset in [0, 125] {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let mut fired = Vec::new();
            let mut t = start + offset;
            while t < start + 180_000 {
                fired.extend(tick(&*s, t).await);
                t += 250;
            }
            fired
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all.len(), 3, "ticks at 00:01, 00:02 and 00:03 fired once each: {all:?}");
    let jobs = s.list_jobs(&JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let keys: Vec<String> = jobs.iter().filter_map(|j| j.idempotency_key.clone()).collect();
    assert!(keys.iter().all(|k| k.starts_with("schedule:")), "{keys:?}");
    let sched = &s.schedules().await.unwrap()[0];
    assert_eq!(sched.last_fire, Some(ms("2026-11-22T00:03:00Z")));
}

#[tokio::test]
async fn a_missed_tick_runs_once_on_start_up_with_catch_up() {
    let (s, _d) = store().await;
    s.upsert_schedule(&schedule("nightly", "0 2 * * *", "UTC", true, "2026-11-01T00:00:00Z")).await.unwrap();
    s.upsert_schedule(&schedule("no-catch-up", "0 2 * * *", "UTC", false, "2026-11-01T00:00:00Z")).await.unwrap();
    // everything was down for days; now one start-up
    let fired = tick(&*s, ms("2026-11-22T12:00:00Z")).await;
    assert_eq!(fired.len(), 1, "only the catch-up schedule fires, and only its latest tick");
    assert!(tick(&*s, ms("2026-11-22T12:00:05Z")).await.is_empty(), "and only once");
    let scheds = s.schedules().await.unwrap();
    assert!(scheds.iter().all(|x| x.last_fire == Some(ms("2026-11-22T02:00:00Z"))), "{scheds:?}");
    // disabled schedules never fire; removing works
    let mut off = scheds[0].clone();
    off.enabled = false;
    s.upsert_schedule(&off).await.unwrap();
    assert!(tick(&*s, ms("2026-11-23T02:00:10Z")).await.len() <= 1);
    assert!(s.remove_schedule("nightly").await.unwrap());
    assert!(!s.remove_schedule("nightly").await.unwrap());
}

#[tokio::test]
async fn built_in_schedules_are_created_switched_off_once() {
    let (s, _d) = store().await;
    quantdesk_jobs::schedule::ensure_builtin(&*s, ms("2026-11-22T00:00:00Z")).await;
    quantdesk_jobs::schedule::ensure_builtin(&*s, ms("2026-11-22T00:00:00Z")).await;
    let all = s.schedules().await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!((all[0].name.as_str(), all[0].kind.as_str(), all[0].enabled), ("decide-before-open", "decide", false));
    assert_eq!((all[1].name.as_str(), all[1].kind.as_str(), all[1].enabled), ("refresh-market-data", "import", false));
    assert_eq!((all[2].name.as_str(), all[2].kind.as_str(), all[2].enabled), ("sync-daily", "sync", false));
    assert_eq!((all[2].cron.as_str(), all[2].timezone.as_str()), ("30 17 * * 1-5", "Asia/Shanghai"));
    assert!(tick(&*s, ms("2026-11-23T01:20:10Z")).await.is_empty(), "switched off: nothing fires");
    assert!(tick(&*s, ms("2026-11-23T10:00:10Z")).await.is_empty());
    assert!(tick(&*s, ms("2026-11-23T09:30:10Z")).await.is_empty());
}

#[tokio::test]
async fn sync_cron_switches_the_evening_sync_on_at_1730_shanghai() {
    let (s, _d) = store().await;
    quantdesk_jobs::schedule::ensure_builtin(&*s, ms("2026-11-22T00:00:00Z")).await;
    quantdesk_jobs::schedule::ensure_sync_schedule(&*s, "", ms("2026-11-22T00:00:00Z")).await;
    assert!(s.schedules().await.unwrap().iter().all(|x| !x.enabled), "no sync_cron: stays off");
    quantdesk_jobs::schedule::ensure_sync_schedule(&*s, "30 17 * * 1-5", ms("2026-11-22T00:00:00Z")).await;
    let sync = s.schedules().await.unwrap().into_iter().find(|x| x.name == "sync-daily").unwrap();
    assert!(sync.enabled);
    // 17:30 in Shanghai is 09:30 UTC; Monday 2026-11-23.
    let ids = tick(&*s, ms("2026-11-23T09:30:02Z")).await;
    assert_eq!(ids.len(), 1);
    let job = s.job(ids[0]).await.unwrap().unwrap();
    assert_eq!(job.kind, "sync");
    let params: serde_json::Value = serde_json::from_str(&job.params).unwrap();
    assert_eq!(params["what"], "all");
    assert_eq!(params["only_trading_days"], true);
    assert!(tick(&*s, ms("2026-11-28T09:30:02Z")).await.is_empty(), "Saturday: nothing fires");
}

#[tokio::test]
async fn the_backup_schedule_fires_backup_jobs_that_a_backup_worker_runs() {
    use quantdesk_jobs::handlers::Backup;
    use quantdesk_jobs::{Registry, WorkerConfig, run_worker};
    let (s, _d) = store().await;
    quantdesk_jobs::schedule::ensure_backup_schedule(&*s, "", ms("2026-11-19T00:00:00Z")).await;
    assert!(s.schedules().await.unwrap().is_empty(), "no cron, no schedule");
    quantdesk_jobs::schedule::ensure_backup_schedule(&*s, "0 2 * * *", ms("2026-11-19T00:00:00Z")).await;
    let ids = tick(&*s, ms("2026-11-20T02:00:05Z")).await;
    assert_eq!(ids.len(), 1);
    let job = s.job(ids[0]).await.unwrap().unwrap();
    assert_eq!((job.kind.as_str(), job.queue.as_str()), ("backup", "backup"));

    // A worker of the default queue leaves it alone; one on the backup queue without a folder
    // fails it permanently; one with a folder writes the archive.
    let dir = tempfile::tempdir().unwrap();
    let run = |queues: &[&str], dir: Option<std::path::PathBuf>| {
        let s = s.clone();
        let queues: Vec<String> = queues.iter().map(|q| q.to_string()).collect();
        async move {
            let (tx, rx) = tokio::sync::watch::channel(false);
            let cfg = WorkerConfig {
                id: "w".into(),
                concurrency: 1,
                queues,
                lease: Duration::from_secs(5),
                heartbeat: Duration::from_millis(100),
                poll: Duration::from_millis(20),
                per_owner: 1,
            };
            let registry = Registry::standard().with_typed(Backup { dir, keep_daily: 7, keep_weekly: 4 });
            let worker = tokio::spawn(run_worker(s, registry, cfg, rx));
            tokio::time::sleep(Duration::from_millis(400)).await;
            tx.send(true).unwrap();
            worker.await.unwrap();
        }
    };
    run(&["default"], None).await;
    assert_eq!(s.job(ids[0]).await.unwrap().unwrap().state, JobState::Queued);
    run(&["backup"], None).await;
    let failed = s.job(ids[0]).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.error.unwrap_or_default().contains("backup_dir"));

    let ids = tick(&*s, ms("2026-11-21T02:00:05Z")).await;
    assert_eq!(ids.len(), 1);
    for _ in 0..20 {
        run(&["backup"], Some(dir.path().to_path_buf())).await;
        if s.job(ids[0]).await.unwrap().unwrap().state.is_final() {
            break;
        }
    }
    let done = s.job(ids[0]).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    let result: serde_json::Value = serde_json::from_str(done.result.as_deref().unwrap()).unwrap();
    let file = std::path::PathBuf::from(result["file"].as_str().unwrap());
    assert!(file.starts_with(dir.path()));
    let manifest = quantdesk_store::backup::archive::verify(&file).unwrap();
    assert!(manifest.tables.iter().any(|t| t.name == "jobs" && t.rows >= 2));
    assert_eq!(s.last_backup().await.unwrap().unwrap().sha256, result["sha256"].as_str().unwrap());
}
