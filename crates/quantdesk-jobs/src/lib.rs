//! Workers for the durable job queue.
//!
//! A worker claims jobs from the database (see `quantdesk_store::jobs`), runs each with its
//! kind's [`Handler`], renews the job's lease with heartbeats that also carry progress and bring
//! back cancellation requests, stops a handler that outlives the job's timeout, retries transient
//! failures with exponential back-off, and records the outcome fenced by its worker id. A worker
//! killed mid-job loses nothing: its lease expires and another worker runs the job again, so
//! handlers are written to give the same result when rerun.

pub mod handlers;
pub mod schedule;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use quantdesk_store::Store;
use quantdesk_store::jobs::{Job, Outcome};

pub use quantdesk_app::clock::now_ms;
use quantdesk_app::jobs::{JobKind, JobSpec};

/// The queue a job of `kind` goes to (see [`JobKind::queue`]); unknown kinds go to `default`.
pub fn queue_for(kind: &str) -> &'static str {
    JobKind::parse(kind).map(JobKind::queue).unwrap_or("default")
}

/// Why a handler failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// Worth retrying (a database hiccup, a timeout).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (bad parameters, unknown symbol).
    #[error("{0}")]
    Permanent(String),
    /// The handler saw the cancellation request and stopped.
    #[error("cancelled")]
    Cancelled,
}

/// What a handler gets: its job, the store, progress and cancellation.
pub struct JobContext {
    pub job: Job,
    pub params: serde_json::Value,
    pub store: Arc<dyn Store>,
    cancelled: Arc<AtomicBool>,
    progress: Arc<Mutex<(i64, i64, String)>>,
}

impl JobContext {
    /// Records progress; the next heartbeat stores it.
    pub fn progress(&self, done: i64, total: i64, message: &str) {
        if let Ok(mut p) = self.progress.lock() {
            *p = (done, total, message.to_string());
        }
    }

    /// True once cancellation was requested (or the lease was lost): stop soon.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` when cancelled, for `?` in handler loops.
    pub fn check(&self) -> Result<(), JobError> {
        if self.is_cancelled() { Err(JobError::Cancelled) } else { Ok(()) }
    }

    /// Appends a line to the job's bounded log.
    pub async fn log(&self, line: &str) {
        if let Err(e) = self.store.append_log(self.job.id, now_ms(), line).await {
            tracing::warn!(job = self.job.id, error = %e, "could not append to the job log");
        }
    }

    /// Stores a file the job produced.
    pub async fn artifact(&self, name: &str, content_type: &str, data: &[u8]) -> Result<(), JobError> {
        self.store
            .put_artifact(self.job.id, name, content_type, data)
            .await
            .map_err(|e| JobError::Transient(e.to_string()))
    }
}

/// Runs jobs of one kind of the catalogue, with its typed parameters and result.
#[async_trait]
pub trait TypedHandler: Send + Sync {
    type Spec: JobSpec;
    async fn run(&self, ctx: &JobContext, spec: Self::Spec) -> Result<<Self::Spec as JobSpec>::Output, JobError>;
}

/// A [`TypedHandler`] as a [`Handler`]: parameters that do not fit the kind fail permanently.
struct Typed<H>(H);

#[async_trait]
impl<H: TypedHandler> Handler for Typed<H> {
    async fn run(&self, ctx: &JobContext) -> Result<serde_json::Value, JobError> {
        let spec: H::Spec = serde_json::from_value(ctx.params.clone())
            .map_err(|e| JobError::Permanent(format!("params of a {} job: {e}", H::Spec::KIND)))?;
        let out = self.0.run(ctx, spec).await?;
        serde_json::to_value(out).map_err(|e| JobError::Permanent(e.to_string()))
    }
}

/// Runs jobs of one kind.
#[async_trait]
pub trait Handler: Send + Sync {
    /// The result, as JSON, or why not.
    async fn run(&self, ctx: &JobContext) -> Result<serde_json::Value, JobError>;
}

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl Registry {
    pub fn with(mut self, kind: &str, handler: impl Handler + 'static) -> Self {
        self.handlers.insert(kind.to_string(), Arc::new(handler));
        self
    }

    /// Registers a handler of the catalogue under its kind.
    pub fn with_typed<H: TypedHandler + 'static>(self, handler: H) -> Self {
        self.with(H::Spec::KIND.as_str(), Typed(handler))
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    /// Every kind the server accepts, with the product's handlers.
    pub fn standard() -> Self {
        Registry::default()
            .with_typed(handlers::Backtest)
            .with_typed(handlers::Sweep)
            .with_typed(handlers::Echo)
            .with_typed(handlers::Decide)
            .with_typed(handlers::Import)
            .with_typed(handlers::Sync { sources: Default::default(), rate_limits: Default::default() })
            .with_typed(handlers::Valuation)
            .with_typed(handlers::Regimes)
            .with_typed(handlers::DynamicsTest)
            .with_typed(handlers::Report { generator: None })
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique per process: it fences the worker's writes.
    pub id: String,
    pub concurrency: usize,
    pub queues: Vec<String>,
    pub lease: Duration,
    pub heartbeat: Duration,
    pub poll: Duration,
    /// Fair share: the running jobs one owner may have at once, counted over every worker that
    /// shares the database; this worker passes over the jobs of an owner at the cap. Jobs without
    /// an owner (built-in schedules, backups) are not capped. See [`default_per_owner`].
    pub per_owner: u32,
}

/// The per-owner cap when none is configured: half of this process's concurrency, at least 1,
/// so that on a default `serve` (2 slots) one person's jobs always leave a slot for someone else.
pub fn default_per_owner(concurrency: usize) -> u32 {
    u32::try_from(concurrency / 2).unwrap_or(u32::MAX).max(1)
}

impl WorkerConfig {
    /// A worker with a lease of `lease` (heartbeats every sixth of it).
    pub fn with_lease(concurrency: usize, queues: Vec<String>, lease: Duration) -> Self {
        WorkerConfig { lease, heartbeat: (lease / 6).max(Duration::from_millis(100)), ..Self::new(concurrency, queues) }
    }

    pub fn new(concurrency: usize, queues: Vec<String>) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        let concurrency = concurrency.max(1);
        WorkerConfig {
            id: format!("{host}-{}-{}", std::process::id(), now_ms()),
            concurrency,
            queues,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_millis(500),
            per_owner: default_per_owner(concurrency),
        }
    }

    /// With a per-owner cap of `n` (0 keeps [`default_per_owner`]).
    pub fn with_per_owner(self, n: u32) -> Self {
        if n == 0 { self } else { WorkerConfig { per_owner: n, ..self } }
    }
}

/// Exponential back-off for retry number `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 10 min.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((1000u64 << attempt.min(20)).min(600_000))
}

/// Claims and runs jobs until `shutdown` resolves, then lets running jobs finish.
pub async fn run_worker(
    store: Arc<dyn Store>,
    registry: Registry,
    cfg: WorkerConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_sweep = 0i64;
    tracing::info!(
        worker = %cfg.id,
        concurrency = cfg.concurrency,
        per_owner = cfg.per_owner,
        queues = ?cfg.queues,
        "worker started"
    );
    loop {
        if *shutdown.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let now = now_ms();
        if now - last_sweep > 2_000 {
            last_sweep = now;
            match store.requeue_expired(now).await {
                Ok(n) if n > 0 => tracing::warn!(jobs = n, "requeued jobs whose worker stopped renewing its lease"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not requeue expired jobs"),
            }
        }
        let mut claimed = false;
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            let per_owner = Some(cfg.per_owner.max(1));
            match store.claim(&cfg.id, &cfg.queues, now, cfg.lease.as_millis() as i64, per_owner).await {
                Ok(Some(job)) => {
                    claimed = true;
                    let (store, registry, cfg) = (store.clone(), registry.clone(), cfg.clone());
                    tasks.spawn(async move {
                        run_one(store, registry, cfg, job).await;
                        drop(permit);
                    });
                }
                Ok(None) => drop(permit),
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e, "could not claim a job");
                }
            }
        }
        if !claimed {
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::info!(worker = %cfg.id, running = tasks.len(), "worker stopping; finishing running jobs");
    while tasks.join_next().await.is_some() {}
}

async fn run_one(store: Arc<dyn Store>, registry: Registry, cfg: WorkerConfig, job: Job) {
    let started = std::time::Instant::now();
    let kind = job.kind.clone();
    let id = job.id;
    let cancelled = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Mutex::new((job.progress_done, job.progress_total, job.progress_message.clone())));
    let params = serde_json::from_str(&job.params).unwrap_or(serde_json::Value::Null);
    let timeout = Duration::from_millis(job.timeout_ms.max(1) as u64);
    let attempts = job.attempts;
    let max_attempts = job.max_attempts;
    let ctx =
        JobContext { job, params, store: store.clone(), cancelled: cancelled.clone(), progress: progress.clone() };

    // Heartbeats: renew the lease, store progress, pick up cancellation (or a lost lease).
    let hb = {
        let (store, cfg, cancelled, progress) = (store.clone(), cfg.clone(), cancelled.clone(), progress.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.heartbeat);
            tick.tick().await;
            loop {
                tick.tick().await;
                let p = progress.lock().map(|p| p.clone()).unwrap_or_default();
                let until = now_ms() + cfg.lease.as_millis() as i64;
                match store.heartbeat(id, &cfg.id, until, (p.0, p.1, &p.2)).await {
                    Ok(Some(true)) | Ok(None) => cancelled.store(true, Ordering::Relaxed),
                    Ok(Some(false)) => {}
                    Err(e) => tracing::warn!(job = id, error = %e, "heartbeat failed"),
                }
            }
        })
    };

    let result = match registry.handlers.get(&kind) {
        None => Err(JobError::Permanent(format!("no handler for job kind {kind:?}"))),
        Some(h) => match tokio::time::timeout(timeout, h.run(&ctx)).await {
            Ok(r) => r,
            Err(_) => Err(JobError::Transient(format!("timed out after {} s", timeout.as_secs()))),
        },
    };
    hb.abort();
    // Store the final progress with one last heartbeat.
    let p = progress.lock().map(|p| p.clone()).unwrap_or_default();
    let _ = store.heartbeat(id, &cfg.id, now_ms() + cfg.lease.as_millis() as i64, (p.0, p.1, &p.2)).await;

    let now = now_ms();
    let (outcome, state) = match result {
        Ok(v) => (Outcome::Succeeded(v.to_string()), "succeeded"),
        Err(JobError::Cancelled) => (Outcome::Cancelled, "cancelled"),
        Err(JobError::Transient(e)) => {
            let state = if attempts < max_attempts {
                metrics::counter!("job_retries_total", "kind" => kind.clone()).increment(1);
                "retrying"
            } else {
                "failed"
            };
            (Outcome::Failed { error: e, retry_at: Some(now + backoff(attempts).as_millis() as i64) }, state)
        }
        Err(JobError::Permanent(e)) => (Outcome::Failed { error: e, retry_at: None }, "failed"),
    };
    if let Outcome::Failed { error, .. } = &outcome {
        ctx.log(&format!("attempt {attempts} failed: {error}")).await;
    }
    match store.finish(id, &cfg.id, &outcome, now).await {
        Ok(true) if state != "retrying" => {
            // The job's cost, when it reserved one: taken on success, given back otherwise.
            if let Err(e) = quantdesk_app::coins::settle_job(&*store, &ctx.params, state == "succeeded").await {
                tracing::error!(job = id, error = %e, "could not settle the job's coin reservation");
            }
        }
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = id, "the job's lease was lost; its outcome was not recorded"),
        Err(e) => tracing::error!(job = id, error = %e, "could not record the job's outcome"),
    }
    metrics::counter!("jobs_total", "kind" => kind.clone(), "state" => state).increment(1);
    metrics::histogram!("job_duration_seconds", "kind" => kind).record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_a_slot_for_someone_else() {
        assert_eq!([1, 2, 3, 4, 8].map(default_per_owner), [1, 1, 1, 2, 4]);
        let serve = WorkerConfig::new(2, vec!["default".into()]);
        assert!(serve.per_owner < 2, "a default serve (2 slots) never gives both to one owner");
        assert_eq!(serve.clone().with_per_owner(0).per_owner, serve.per_owner, "0 keeps the default");
        assert_eq!(serve.with_per_owner(5).per_owner, 5);
    }
}

#[cfg(test)]
mod catalogue_tests {
    use quantdesk_app::jobs::JobKind;

    /// Every kind people can submit has its handler, and nothing else is registered by default
    /// (backups are added by processes that have a backup folder).
    #[test]
    fn the_standard_registry_is_the_catalogue() {
        let mut want: Vec<&str> = JobKind::SUBMITTABLE.iter().map(|k| k.as_str()).collect();
        want.sort_unstable();
        assert_eq!(super::Registry::standard().kinds(), want);
        assert_eq!(super::queue_for("backup"), "backup");
        assert_eq!(super::queue_for("backtest"), "default");
    }
}
