//! The long-running processes: `serve` (HTTP, and by default job workers), `worker` and
//! `scheduler`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use quantdesk_app::config::Config;
use quantdesk_server::AppState;
use quantdesk_store::auth::Role;

use super::common::open_store;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Fill an empty database with deterministic demo data first.
    #[arg(long)]
    pub demo: bool,
    /// Serve HTTP only; run no job workers in this process.
    #[arg(long)]
    no_workers: bool,
    /// Jobs this process runs at once (default: the configuration's worker_concurrency).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Jobs one owner may have running at once, over all workers (default: the
    /// configuration's jobs_per_owner; 0 there: half of the concurrency, at least 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs_per_owner: Option<u32>,
}

#[derive(Args)]
pub struct SchedulerArgs {
    /// Serve /healthz and /metrics on this address (for probes and Prometheus).
    #[arg(long, env = "QUANTDESK_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Args)]
pub struct WorkerArgs {
    /// Jobs run at once.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Jobs one owner may have running at once, over all workers (default: the
    /// configuration's jobs_per_owner; 0 there: half of the concurrency, at least 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs_per_owner: Option<u32>,
    /// Queues to take jobs from, comma-separated.
    #[arg(long, default_value = "default", value_delimiter = ',')]
    queues: Vec<String>,
    /// Serve /healthz and /metrics (this worker's job counters) on this address.
    #[arg(long, env = "QUANTDESK_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

/// The demo account `serve --demo` creates (an admin, so every page can be explored).
const DEMO_EMAIL: &str = "demo@quantdesk.local";

pub async fn serve(cfg: Config, a: ServeArgs) -> Result<()> {
    let (workers, slots) = (!a.no_workers, Slots { concurrency: a.concurrency, per_owner: a.jobs_per_owner });
    let store = open_store(&cfg).await?;
    tracing::info!(backend = store.backend(), database = %quantdesk_store::redact_url(cfg.database.database_url.expose()), "database ready");
    if cfg.demo {
        if store.bar_count().await? == 0 {
            let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
            let s = quantdesk_app::demo::load(&*store, quantdesk_app::demo::demo_end(today)).await?;
            tracing::info!(
                instruments = s.instruments,
                daily_bars = s.daily_bars,
                minute_bars = s.minute_bars,
                "demo data loaded"
            );
        } else {
            tracing::info!("the database already has data; demo data not loaded");
        }
        let (password, generated) = quantdesk_app::demo::demo_password(&cfg.auth.demo_password);
        quantdesk_app::accounts::Accounts::from_config(store.clone(), &cfg)
            .ensure_user(DEMO_EMAIL, &password, Role::Admin, true)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the demo account: {e}"))?;
        println!("{}", quantdesk_app::demo::demo_account_line(DEMO_EMAIL, &password, generated));
    }
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
    let addr = listener.local_addr()?;
    // The one-process default also runs the backup queue when it has a backup folder.
    let mut queues = vec!["default".to_string()];
    if !cfg.backups.backup_dir.is_empty() {
        queues.push(quantdesk_app::jobs::JobKind::Backup.queue().into());
    }
    let worker = if workers { Some(start_worker(store.clone(), slots, queues, &cfg).await) } else { None };
    let state = AppState::new(store, cfg, quantdesk_server::ops::metrics_handle());
    let app = quantdesk_web::app(state);
    println!("quantdesk {} listening on http://{addr}", quantdesk_app::VERSION);
    tracing::info!(%addr, workers, "listening");
    quantdesk_server::serve(listener, app, quantdesk_server::shutdown_signal()).await?;
    if let Some((stop, task)) = worker {
        let _ = stop.send(true);
        task.await?;
    }
    tracing::info!("stopped");
    Ok(())
}

pub async fn worker(cfg: Config, a: WorkerArgs) -> Result<()> {
    serve_probes(a.metrics_listen).await?;
    let store = open_store(&cfg).await?;
    let slots = Slots { concurrency: a.concurrency, per_owner: a.jobs_per_owner };
    let (stop, task) = start_worker(store, slots, a.queues, &cfg).await;
    quantdesk_server::shutdown_signal().await;
    let _ = stop.send(true);
    task.await?;
    Ok(())
}

pub async fn scheduler(cfg: Config, a: SchedulerArgs) -> Result<()> {
    serve_probes(a.metrics_listen).await?;
    let store = open_store(&cfg).await?;
    quantdesk_jobs::schedule::ensure_backup_schedule(&*store, &cfg.backups.backup_cron, quantdesk_jobs::now_ms()).await;
    quantdesk_jobs::schedule::ensure_sync_schedule(&*store, &cfg.sources.sync_cron, quantdesk_jobs::now_ms()).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(quantdesk_jobs::schedule::run_scheduler(store, rx));
    quantdesk_server::shutdown_signal().await;
    let _ = tx.send(true);
    task.await?;
    Ok(())
}

/// For processes without the API: /healthz and /metrics on `addr`, in the background.
async fn serve_probes(addr: Option<SocketAddr>) -> Result<()> {
    let Some(addr) = addr else { return Ok(()) };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let app = quantdesk_server::ops::probe_router(quantdesk_server::ops::metrics_handle());
    tracing::info!(addr = %listener.local_addr()?, "serving /healthz and /metrics");
    tokio::spawn(async move {
        if let Err(e) = quantdesk_server::serve(listener, app, std::future::pending()).await {
            tracing::error!(error = %e, "the probe server stopped");
        }
    });
    Ok(())
}

/// The worker flags of `serve` and `worker`; `None` leaves the configuration in force.
struct Slots {
    concurrency: Option<usize>,
    per_owner: Option<u32>,
}

/// Starts a job worker and a scheduler in this process; returns their stop switch and task.
async fn start_worker(
    store: Arc<dyn quantdesk_store::Store>,
    slots: Slots,
    queues: Vec<String>,
    config: &Config,
) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let lease = std::time::Duration::from_secs(config.jobs.job_lease_secs);
    let concurrency = slots.concurrency.unwrap_or(config.jobs.worker_concurrency);
    let cfg = quantdesk_jobs::WorkerConfig::with_lease(concurrency, queues, lease)
        .with_per_owner(slots.per_owner.unwrap_or(config.jobs.jobs_per_owner));
    quantdesk_jobs::schedule::ensure_backup_schedule(&*store, &config.backups.backup_cron, quantdesk_jobs::now_ms())
        .await;
    quantdesk_jobs::schedule::ensure_sync_schedule(&*store, &config.sources.sync_cron, quantdesk_jobs::now_ms()).await;
    let scheduler = tokio::spawn(quantdesk_jobs::schedule::run_scheduler(store.clone(), rx.clone()));
    let registry = quantdesk_jobs::Registry::standard()
        .with_typed(quantdesk_jobs::handlers::Backup {
            dir: (!config.backups.backup_dir.is_empty()).then(|| PathBuf::from(&config.backups.backup_dir)),
            keep_daily: config.backups.backup_keep_daily,
            keep_weekly: config.backups.backup_keep_weekly,
        })
        .with_typed(quantdesk_jobs::handlers::Sync {
            sources: quantdesk_app::sync::Sources::from_config(&config.sources),
            rate_limits: quantdesk_app::sync::rate_limits(&config.sources),
        });
    // Reports ask the stored or configured LLM providers, or are written offline without one.
    let registry = match quantdesk_app::llm::LlmService::new(store.clone(), &config.llm) {
        Ok(llm) => registry.with_typed(quantdesk_jobs::handlers::Report { generator: Some(Arc::new(llm)) }),
        Err(e) => {
            tracing::warn!(error = %e, "no LLM client: reports are written offline");
            registry
        }
    };
    let worker = quantdesk_jobs::run_worker(store, registry, cfg, rx);
    let task = tokio::spawn(async move {
        worker.await;
        let _ = scheduler.await;
    });
    (tx, task)
}
