//! Schedules: cron expressions read in a time zone that enqueue jobs (the role Celery beat plays).
//!
//! Any number of schedulers may run; each tick fires exactly once because firing inserts the
//! tick into `schedule_runs` under a unique key, in the same transaction as the job. A tick is
//! "current" while it is less than [`GRACE`] old. A schedule whose due tick is older than that
//! (nothing ran when it fell) fires its most recent missed tick once if it asks for catch-up, and
//! otherwise skips to it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use quantdesk_store::Store;
use quantdesk_store::jobs::{NewJob, Schedule};

/// How late a tick may be handled and still count as on time.
pub const GRACE: Duration = Duration::from_secs(60);

/// Parses and checks a schedule's expression and time zone.
pub fn validate(cron: &str, timezone: &str) -> Result<(Cron, chrono_tz::Tz), String> {
    let c = Cron::from_str(cron).map_err(|e| format!("invalid cron expression {cron:?}: {e}"))?;
    let tz: chrono_tz::Tz = timezone.parse().map_err(|_| format!("unknown time zone {timezone:?}"))?;
    Ok((c, tz))
}

/// What one schedule should do at `now` (Unix ms): fire a tick, skip to a tick, or wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Fire(i64),
    Skip(i64),
    Wait,
}

/// Decides for one schedule at `now`.
pub fn due(s: &Schedule, now: i64) -> Result<Due, String> {
    let (cron, tz) = validate(&s.cron, &s.timezone)?;
    // Whole seconds: ticks are keyed by their instant, which must not depend on when a
    // scheduler happened to look.
    let at = |ms: i64| DateTime::<Utc>::from_timestamp(ms.div_euclid(1000), 0).unwrap_or_default().with_timezone(&tz);
    let after = s.last_fire.unwrap_or(s.created_at);
    let next = cron.find_next_occurrence(&at(after), false).map_err(|e| e.to_string())?.timestamp_millis();
    if next > now {
        return Ok(Due::Wait);
    }
    let latest = cron.find_previous_occurrence(&at(now), true).map_err(|e| e.to_string())?.timestamp_millis();
    if now - latest < GRACE.as_millis() as i64 || s.catch_up { Ok(Due::Fire(latest)) } else { Ok(Due::Skip(latest)) }
}

/// One pass over every enabled schedule at `now`. Returns the ids of the jobs this call enqueued.
pub async fn tick(store: &dyn Store, now: i64) -> Vec<i64> {
    let schedules = match store.schedules().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "could not read schedules");
            return Vec::new();
        }
    };
    let mut fired = Vec::new();
    for s in schedules.into_iter().filter(|s| s.enabled) {
        match due(&s, now) {
            Ok(Due::Wait) => {}
            Ok(Due::Skip(t)) => {
                tracing::info!(schedule = %s.name, tick = t, "skipping a missed tick (no catch-up)");
                if let Err(e) = store.skip_schedule(s.id, t).await {
                    tracing::warn!(schedule = %s.name, error = %e, "could not skip a tick");
                }
            }
            Ok(Due::Fire(t)) => {
                let job = NewJob {
                    owner: s.owner.clone(),
                    kind: s.kind.clone(),
                    queue: crate::queue_for(&s.kind).into(),
                    params: s.params.clone(),
                    priority: 0,
                    max_attempts: 3,
                    timeout_ms: 3_600_000,
                    run_at: None,
                    idempotency_key: Some(format!("schedule:{}:{t}", s.id)),
                };
                match store.fire_schedule(s.id, t, &job, now).await {
                    Ok(Some(id)) => {
                        metrics::counter!("schedule_runs_total", "schedule" => s.name.clone()).increment(1);
                        tracing::info!(schedule = %s.name, tick = t, job = id, "schedule fired");
                        fired.push(id);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(schedule = %s.name, error = %e, "could not fire a schedule"),
                }
            }
            Err(e) => tracing::warn!(schedule = %s.name, error = %e, "schedule is invalid"),
        }
    }
    fired
}

/// Runs [`tick`] every second until `shutdown` is set.
pub async fn run_scheduler(store: Arc<dyn Store>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tracing::info!("scheduler started");
    ensure_builtin(&*store, crate::now_ms()).await;
    while !*shutdown.borrow() {
        tick(&*store, crate::now_ms()).await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// The name of the schedule `backup_cron` configures.
pub const BACKUP_SCHEDULE: &str = "backup";

/// A schedule the configuration owns (`backup_cron`, `sync_cron`): ownerless, switched on.
struct Configured {
    name: &'static str,
    timezone: &'static str,
    kind: &'static str,
    params: &'static str,
    catch_up: bool,
}

/// Creates or updates `c` with `cron`; an empty `cron` leaves any existing schedule as it is.
async fn ensure_configured(store: &dyn Store, c: &Configured, cron: &str, now: i64) {
    let cron = cron.trim();
    if cron.is_empty() {
        return;
    }
    let s = Schedule {
        id: 0,
        owner: String::new(),
        name: c.name.into(),
        cron: cron.into(),
        timezone: c.timezone.into(),
        kind: c.kind.into(),
        params: c.params.into(),
        enabled: true,
        catch_up: c.catch_up,
        last_fire: None,
        created_at: now,
    };
    if let Err(e) = store.upsert_schedule(&s).await {
        tracing::warn!(schedule = c.name, error = %e, "could not set up a configured schedule");
    }
}

/// Creates or updates the `backup` schedule from the configuration's `backup_cron` (read in UTC,
/// catching up a missed night); an empty `cron` leaves any existing schedule as it is.
pub async fn ensure_backup_schedule(store: &dyn Store, cron: &str, now: i64) {
    let c = Configured { name: BACKUP_SCHEDULE, timezone: "UTC", kind: "backup", params: "{}", catch_up: true };
    ensure_configured(store, &c, cron, now).await;
}

/// The name of the evening sync schedule.
pub const SYNC_SCHEDULE: &str = "sync-daily";
const SYNC_PARAMS: &str = r#"{"what": "all", "only_trading_days": true}"#;

/// Switches the `sync-daily` schedule on with `cron` (read in Asia/Shanghai) when the
/// configuration's `sync_cron` is set; an empty `cron` leaves the schedule as it is.
pub async fn ensure_sync_schedule(store: &dyn Store, cron: &str, now: i64) {
    let c = Configured {
        name: SYNC_SCHEDULE,
        timezone: "Asia/Shanghai",
        kind: "sync",
        params: SYNC_PARAMS,
        catch_up: false,
    };
    ensure_configured(store, &c, cron, now).await;
}

/// The built-in schedules, created switched off the first time a scheduler meets a database:
/// refreshing market data after the A-share close (import the files a data drop leaves), and the
/// voting engine before the open, and the evening sync from outside sources (17:30 on trading
/// days; `sync_cron` switches it on). Configure one with `quantdesk schedule add` under the same name
/// (which keeps its history). Backups are scheduled by `backup_cron` ([`ensure_backup_schedule`]).
pub async fn ensure_builtin(store: &dyn Store, now: i64) {
    let builtins = [
        ("refresh-market-data", "0 18 * * 1-5", "import", r#"{"files": []}"#),
        ("decide-before-open", "20 9 * * 1-5", "decide", r#"{"symbols": [], "threshold": 0.5}"#),
        (SYNC_SCHEDULE, "30 17 * * 1-5", "sync", SYNC_PARAMS),
    ];
    let existing: Vec<String> = match store.schedules().await {
        Ok(s) => s.into_iter().map(|s| s.name).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read schedules");
            return;
        }
    };
    for (name, cron, kind, params) in builtins {
        if existing.iter().any(|n| n == name) {
            continue;
        }
        let s = Schedule {
            id: 0,
            owner: String::new(),
            name: name.into(),
            cron: cron.into(),
            timezone: "Asia/Shanghai".into(),
            kind: kind.into(),
            params: params.into(),
            enabled: false,
            catch_up: false,
            last_fire: None,
            created_at: now,
        };
        if let Err(e) = store.upsert_schedule(&s).await {
            tracing::warn!(schedule = name, error = %e, "could not create a built-in schedule");
        }
    }
}
