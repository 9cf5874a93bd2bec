//! The `quantdesk` binary: one executable that serves, imports and (later) works and schedules.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use quantdesk_core::{Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap};
use quantdesk_server::config::{LogFormat, Overrides};
use quantdesk_server::{AppState, Config};
use quantdesk_store::auth::Role;

#[derive(Parser)]
#[command(name = "quantdesk", version, about = "Self-hosted stock research and strategy platform")]
struct Cli {
    /// A TOML configuration file (settings: see `quantdesk config print`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (overrides QUANTDESK_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Log format: text or json (overrides QUANTDESK_LOG_FORMAT).
    #[arg(long, global = true, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application, the UDF datafeed and the API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Fill an empty database with deterministic demo data first.
        #[arg(long)]
        demo: bool,
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
    },
    /// Fire schedules only (no HTTP, no jobs), until SIGTERM. Any number may run: each tick fires once.
    Scheduler {
        /// Serve /healthz and /metrics on this address (for probes and Prometheus).
        #[arg(long, env = "QUANTDESK_METRICS_LISTEN", value_name = "ADDR")]
        metrics_listen: Option<SocketAddr>,
    },
    /// Manage schedules (cron in a time zone that enqueue jobs).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Run jobs only (no HTTP), until SIGTERM; running jobs finish first. Also fires schedules.
    Worker {
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
    },
    /// Import data from CSV files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Chan-theory (缠论) analysis of a CSV file or of stored bars: merged bars, fractals, strokes,
    /// segments, pivots and buy/sell points.
    Chan(Box<ChanArgs>),
    /// Backtest a strategy on a CSV file or on stored bars.
    Backtest(Box<BacktestArgs>),
    /// Run a strategy over a grid (or a random sample) of parameters on every core, or walk forward.
    Sweep(Box<SweepArgs>),
    /// Today's BUY/SELL/HOLD per symbol from the voting engine, with each model's vote.
    Decide {
        /// Stored symbols to decide on (repeatable).
        #[arg(long, required = true)]
        symbol: Vec<String>,
        /// Share of the summed confidence the winning action needs (else HOLD).
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Output: table (default) or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Manage accounts (the first admin comes from here).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Apply database migrations and exit.
    Migrate,
    /// Back up everything stored (market data, accounts, jobs and their artifacts, schedules) to
    /// a portable archive while the server keeps running; or check an archive with --verify.
    Backup(BackupArgs),
    /// Load an archive written by `backup` into the configured database (SQLite or PostgreSQL),
    /// all or nothing. Refuses a database that holds data unless --replace.
    Restore {
        file: PathBuf,
        /// Delete everything in the target database first (in the same transaction).
        #[arg(long)]
        replace: bool,
    },
    /// Exit 0 when the server answers its liveness probe, 1 otherwise (for container HEALTHCHECKs).
    Healthcheck {
        /// The probe to ask (default: /healthz on the configured listen address).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Args)]
struct BackupArgs {
    /// Write the archive to this file (never replacing an existing one).
    #[arg(long, value_name = "FILE", group = "what")]
    output: Option<PathBuf>,
    /// Write a time-named archive into this folder and apply retention (default: backup_dir).
    #[arg(long, value_name = "DIR", group = "what")]
    dir: Option<PathBuf>,
    /// Check an archive (structure, row counts, checksums) without restoring it.
    #[arg(long, value_name = "FILE", group = "what")]
    verify: Option<PathBuf>,
    /// With --dir: days whose newest backup is kept (default: backup_keep_daily).
    #[arg(long)]
    keep_daily: Option<usize>,
    /// With --dir: ISO weeks whose newest backup is kept (default: backup_keep_weekly).
    #[arg(long)]
    keep_weekly: Option<usize>,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import OHLCV bars. All rows land or none do; re-importing the same file changes nothing.
    Bars(Box<BarsArgs>),
    /// Import an instrument master (ts_code,name,abbrev,type,list_date,delist_date,…).
    Instruments { file: PathBuf },
}

#[derive(Args)]
struct BarsArgs {
    file: PathBuf,
    /// The symbol of every row (single-symbol files).
    #[arg(long)]
    symbol: Option<String>,
    /// The column holding symbols (multi-symbol files; detected from ts_code/symbol/code when absent).
    #[arg(long)]
    symbol_column: Option<String>,
    /// Bar resolution: 1, 5, 15, 30, 60 or 1D.
    #[arg(long)]
    resolution: String,
    /// IANA zone of local times in intraday files (default: the exchange's own, UTC for other tickers).
    #[arg(long)]
    timezone: Option<String>,
    #[arg(long)]
    time_column: Option<String>,
    #[arg(long)]
    open_column: Option<String>,
    #[arg(long)]
    high_column: Option<String>,
    #[arg(long)]
    low_column: Option<String>,
    #[arg(long)]
    close_column: Option<String>,
    #[arg(long)]
    volume_column: Option<String>,
    #[arg(long)]
    amount_column: Option<String>,
    #[arg(long)]
    adj_factor_column: Option<String>,
}

#[derive(Args)]
struct ChanArgs {
    /// A CSV file of bars (as `import bars` reads them); without it, stored bars of --symbol.
    file: Option<PathBuf>,
    /// The symbol: the name of a single-symbol file's rows, or the stored symbol to analyse.
    #[arg(long)]
    symbol: Option<String>,
    /// Rules: chanpy (chan.py's defaults) or czsc (czsc's stroke rule).
    #[arg(long, default_value = "chanpy")]
    profile: String,
    /// Bar resolution of the file, or of the stored bars to read (1, 5, 15, 30, 60, 1D, 1W, 1M).
    #[arg(long, default_value = "1D")]
    resolution: String,
    /// Price adjustment of stored bars: none, qfq (default) or hfq.
    #[arg(long, default_value = "qfq")]
    adjustment: String,
    /// Analyse only bars before this instant (a date, an RFC 3339 time or Unix seconds).
    #[arg(long, value_name = "ISO")]
    until: Option<String>,
    /// Output: json (default) or table.
    #[arg(long, default_value = "json")]
    format: String,
    /// With --format table: how many of the last strokes and signals to list.
    #[arg(long, default_value_t = 10)]
    last: usize,
}

#[derive(Args, Clone)]
struct BacktestArgs {
    /// A CSV file of bars (as `import bars` reads them); without it, stored bars of --symbol.
    file: Option<PathBuf>,
    /// The symbol(s): the name of a single-symbol file's rows, or the stored symbols to test.
    #[arg(long)]
    symbol: Vec<String>,
    /// Built-in strategy: sma_cross, rsi, macd, bollinger, buy_and_hold.
    #[arg(long, default_value = "sma_cross")]
    strategy: String,
    /// Strategy parameter, NAME=VALUE (repeatable), e.g. --param fast=10 --param slow=20.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    #[arg(long, default_value_t = 100_000.0)]
    cash: f64,
    /// Commission rate per side (0.001 = 0.1 %).
    #[arg(long, default_value_t = 0.0)]
    commission: f64,
    /// Minimum commission per order.
    #[arg(long, default_value_t = 0.0)]
    min_commission: f64,
    /// Slippage in basis points.
    #[arg(long, default_value_t = 0.0)]
    slippage_bps: f64,
    /// Market rules: generic (T+0, no lots, long/short) or cn-a (T+1, lots, limits, A-share costs).
    #[arg(long, default_value = "generic")]
    market: String,
    /// When market orders fill: next_open (default) or close (the signal bar's close).
    #[arg(long, default_value = "next_open")]
    fill: String,
    /// Bar resolution of the file or of the stored bars to read.
    #[arg(long, default_value = "1D")]
    resolution: String,
    /// Price adjustment of stored bars: none, qfq (default) or hfq.
    #[arg(long, default_value = "qfq")]
    adjustment: String,
    /// Output: table (default) or json.
    #[arg(long, default_value = "table")]
    format: String,
    /// Write a self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// A stored symbol whose closes are the benchmark for alpha and beta.
    #[arg(long, value_name = "SYMBOL")]
    benchmark: Option<String>,
}

#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    run: BacktestArgs,
    /// A parameter axis, NAME=START:STOP:STEP or NAME=A,B,C (repeatable).
    #[arg(long = "grid", value_name = "AXIS", required = true)]
    grid: Vec<String>,
    /// Sample this many points of the grid instead of running all of them.
    #[arg(long)]
    random: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The metric that ranks runs (larger is better): sharpe, sortino, calmar, total_return, cagr,
    /// max_drawdown, win_rate, profit_factor.
    #[arg(long, default_value = "sharpe")]
    metric: String,
    /// Walk forward with IN:OUT bars (in-sample, out-of-sample), e.g. 500:100.
    #[arg(long, value_name = "IN:OUT")]
    walk_forward: Option<String>,
    /// Print a heat map of the metric over two parameters, X,Y.
    #[arg(long, value_name = "X,Y")]
    heatmap: Option<String>,
    /// Rows of the ranking to print.
    #[arg(long, default_value_t = 20)]
    top: usize,
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// List schedules with their next tick.
    List,
    /// Create or replace a schedule.
    Add {
        name: String,
        /// Cron expression, e.g. "0 18 * * 1-5" (minute hour day month weekday; 6 fields add seconds).
        #[arg(long)]
        cron: String,
        /// Job kind to enqueue at each tick.
        #[arg(long)]
        kind: String,
        /// Job parameters as JSON.
        #[arg(long, default_value = "{}")]
        params: String,
        #[arg(long, default_value = "Asia/Shanghai")]
        timezone: String,
        /// Fire the most recent tick missed while nothing ran, once, on start-up.
        #[arg(long)]
        catch_up: bool,
        /// Create it switched off.
        #[arg(long)]
        disabled: bool,
    },
    /// Delete a schedule.
    Remove { name: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a verified account. The password comes from --password-file, else
    /// QUANTDESK_USER_PASSWORD, else a random one is made and printed.
    Create {
        #[arg(long)]
        email: String,
        /// admin, analyst or viewer.
        #[arg(long, default_value = "analyst")]
        role: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// If the account exists, give it this password and role (and enable it).
        #[arg(long)]
        reset: bool,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key for an account and print its token (shown this once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated: read, jobs, admin (at most what the account's role allows).
        #[arg(long, default_value = "read", value_delimiter = ',')]
        scopes: Vec<String>,
        /// Days until the key expires.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets redacted.
    Print,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("{s:?} is not text or json")),
    }
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cfg.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cfg.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let (listen, demo) = match &cli.command {
        Command::Serve { listen, demo, .. } => (*listen, Some(*demo)),
        _ => (None, None),
    };
    let overrides = Overrides { listen, database_url: cli.database_url.clone(), log_format: cli.log_format, demo };
    let cfg = Config::load(cli.config.as_deref(), &|k| std::env::var(k).ok(), &overrides)?;
    if let Command::Config(ConfigCommand::Print) = cli.command {
        print!("{}", cfg.to_redacted_toml());
        return Ok(());
    }
    init_logging(&cfg);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, cfg))
}

async fn open_store(cfg: &Config) -> Result<Arc<dyn quantdesk_store::Store>> {
    quantdesk_store::open(cfg.database_url.expose(), cfg.database_max_connections)
        .await
        .with_context(|| format!("cannot open the database {}", quantdesk_store::redact_url(cfg.database_url.expose())))
}

async fn run(command: Command, cfg: Config) -> Result<()> {
    match command {
        Command::Serve { no_workers, concurrency, jobs_per_owner, .. } => {
            serve(cfg, !no_workers, Slots { concurrency, per_owner: jobs_per_owner }).await
        }
        Command::Worker { concurrency, queues, metrics_listen, jobs_per_owner } => {
            serve_probes(metrics_listen).await?;
            worker(cfg, Slots { concurrency, per_owner: jobs_per_owner }, queues).await
        }
        Command::Scheduler { metrics_listen } => {
            serve_probes(metrics_listen).await?;
            let store = open_store(&cfg).await?;
            quantdesk_jobs::schedule::ensure_backup_schedule(&*store, &cfg.backup_cron, quantdesk_jobs::now_ms()).await;
            let (tx, rx) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(quantdesk_jobs::schedule::run_scheduler(store, rx));
            quantdesk_server::shutdown_signal().await;
            let _ = tx.send(true);
            task.await?;
            Ok(())
        }
        Command::Schedule(c) => schedule(&cfg, c).await,
        Command::User(c) => user(&cfg, c).await,
        Command::Key(c) => key(cfg, c).await,
        Command::Migrate => {
            let store = open_store(&cfg).await?;
            println!("database {} is up to date", store.backend());
            Ok(())
        }
        Command::Import(ImportCommand::Bars(args)) => import_bars(&cfg, args).await,
        Command::Chan(args) => chan(&cfg, *args).await,
        Command::Backtest(args) => backtest(&cfg, *args).await,
        Command::Sweep(args) => sweep(&cfg, *args).await,
        Command::Decide { symbol, threshold, format } => decide(&cfg, &symbol, threshold, &format).await,
        Command::Import(ImportCommand::Instruments { file }) => {
            let store = open_store(&cfg).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let n =
                quantdesk_server::market::import_instruments_bytes(store, bytes, file.display().to_string()).await?;
            println!("imported {n} instruments from {}", file.display());
            Ok(())
        }
        Command::Backup(args) => backup(&cfg, args).await,
        Command::Restore { file, replace } => restore(&cfg, &file, replace).await,
        Command::Healthcheck { url } => healthcheck(&cfg, url).await,
        Command::Config(_) => Ok(()),
    }
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

fn write_info() -> quantdesk_store::backup::archive::WriteInfo {
    quantdesk_store::backup::archive::WriteInfo {
        now_ms: quantdesk_jobs::now_ms(),
        quantdesk_version: quantdesk_server::ops::VERSION.into(),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

async fn backup(cfg: &Config, args: BackupArgs) -> Result<()> {
    use quantdesk_store::backup::{archive, backup_to_dir, backup_to_file};
    if let Some(file) = args.verify {
        let started = std::time::Instant::now();
        let m = archive::verify(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for t in &m.tables {
            println!("{:<18} {:>12} rows  sha256 {}", t.name, t.rows, t.sha256);
        }
        println!(
            "{} is intact: {} rows in {} tables, schema version {}, from {} at {} (checked in {:.1} s)",
            file.display(),
            m.total_rows,
            m.tables.len(),
            m.schema_version,
            m.source_backend,
            m.created_at,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let store = open_store(cfg).await?;
    let started = std::time::Instant::now();
    let dir = args.dir.or_else(|| (!cfg.backup_dir.is_empty()).then(|| PathBuf::from(&cfg.backup_dir)));
    let (path, written, deleted) = match (args.output, dir) {
        (Some(file), _) => {
            let w = backup_to_file(&*store, &file, &write_info()).await.map_err(|e| anyhow::anyhow!(e))?;
            (file, w, Vec::new())
        }
        (None, Some(dir)) => backup_to_dir(
            &*store,
            &dir,
            args.keep_daily.unwrap_or(cfg.backup_keep_daily),
            args.keep_weekly.unwrap_or(cfg.backup_keep_weekly),
            &write_info(),
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?,
        (None, None) => bail!("say where: --output FILE or --dir DIR (or set backup_dir), or --verify FILE"),
    };
    println!(
        "backup written: {} ({} rows in {} tables, {}, sha256 {}) in {:.1} s",
        path.display(),
        written.manifest.total_rows,
        written.manifest.tables.len(),
        megabytes(written.bytes),
        written.sha256,
        started.elapsed().as_secs_f64()
    );
    for name in deleted {
        println!("retention deleted {name}");
    }
    Ok(())
}

async fn restore(cfg: &Config, file: &std::path::Path, replace: bool) -> Result<()> {
    let store = open_store(cfg).await?;
    let started = std::time::Instant::now();
    let m = quantdesk_store::backup::archive::restore(&*store, file, replace)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!(
        "restored {} rows in {} tables from {} (written by {} at {}) into {} in {:.1} s",
        m.total_rows,
        m.tables.len(),
        file.display(),
        m.source_backend,
        m.created_at,
        store.backend(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// GET the probe over plain HTTP/1.1 with a 5 s deadline: 200 is healthy. No HTTP client crate,
/// no TLS: the probe is local to the container.
async fn healthcheck(cfg: &Config, url: Option<String>) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url.unwrap_or_else(|| {
        let mut addr = cfg.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}/healthz")
    });
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("--url must start with http://"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let probe = async {
        let mut conn = tokio::net::TcpStream::connect(host).await?;
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let n = conn.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
        Ok(Ok(head)) if head.starts_with("HTTP/1.1 200") => {
            println!("healthy: {url}");
            Ok(())
        }
        Ok(Ok(head)) => bail!("unhealthy: {url} answered {:?}", head.lines().next().unwrap_or("")),
        Ok(Err(e)) => bail!("unhealthy: {url}: {e}"),
        Err(_) => bail!("unhealthy: {url} did not answer within 5 s"),
    }
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
    let lease = std::time::Duration::from_secs(config.job_lease_secs);
    let concurrency = slots.concurrency.unwrap_or(config.worker_concurrency);
    let cfg = quantdesk_jobs::WorkerConfig::with_lease(concurrency, queues, lease)
        .with_per_owner(slots.per_owner.unwrap_or(config.jobs_per_owner));
    quantdesk_jobs::schedule::ensure_backup_schedule(&*store, &config.backup_cron, quantdesk_jobs::now_ms()).await;
    let scheduler = tokio::spawn(quantdesk_jobs::schedule::run_scheduler(store.clone(), rx.clone()));
    let registry = quantdesk_jobs::Registry::standard().with(
        "backup",
        quantdesk_jobs::handlers::Backup {
            dir: (!config.backup_dir.is_empty()).then(|| PathBuf::from(&config.backup_dir)),
            keep_daily: config.backup_keep_daily,
            keep_weekly: config.backup_keep_weekly,
        },
    );
    let worker = quantdesk_jobs::run_worker(store, registry, cfg, rx);
    let task = tokio::spawn(async move {
        worker.await;
        let _ = scheduler.await;
    });
    (tx, task)
}

async fn schedule(cfg: &Config, c: ScheduleCommand) -> Result<()> {
    use quantdesk_store::jobs::Schedule;
    let store = open_store(cfg).await?;
    match c {
        ScheduleCommand::List => {
            let now = quantdesk_jobs::now_ms();
            for s in store.schedules().await? {
                let next = quantdesk_jobs::schedule::validate(&s.cron, &s.timezone).ok().and_then(|(cron, tz)| {
                    let at = chrono::DateTime::<chrono::Utc>::from_timestamp(now / 1000, 0)?.with_timezone(&tz);
                    cron.find_next_occurrence(&at, false).ok().map(|d| d.to_rfc3339())
                });
                println!(
                    "{:<20} {:<16} {:<14} {:<10} {} catch-up={} next={}",
                    s.name,
                    s.cron,
                    s.timezone,
                    s.kind,
                    if s.enabled { "on " } else { "off" },
                    s.catch_up,
                    next.unwrap_or_else(|| "-".into())
                );
            }
        }
        ScheduleCommand::Add { name, cron, kind, params, timezone, catch_up, disabled } => {
            quantdesk_jobs::schedule::validate(&cron, &timezone).map_err(|e| anyhow::anyhow!(e))?;
            if !quantdesk_server::jobs_api::JOB_KINDS.contains(&kind.as_str()) {
                bail!("unknown job kind {kind:?}; use one of {}", quantdesk_server::jobs_api::JOB_KINDS.join(", "));
            }
            let parsed: serde_json::Value = serde_json::from_str(&params).context("--params is not JSON")?;
            if !parsed.is_object() {
                bail!("--params must be a JSON object");
            }
            let s = Schedule {
                id: 0,
                owner: String::new(),
                name: name.clone(),
                cron,
                timezone,
                kind,
                params: parsed.to_string(),
                enabled: !disabled,
                catch_up,
                last_fire: None,
                created_at: quantdesk_jobs::now_ms(),
            };
            store.upsert_schedule(&s).await?;
            println!("schedule {name} saved");
        }
        ScheduleCommand::Remove { name } => {
            if !store.remove_schedule(&name).await? {
                bail!("no schedule {name:?}");
            }
            println!("schedule {name} removed");
        }
    }
    Ok(())
}

async fn worker(cfg: Config, slots: Slots, queues: Vec<String>) -> Result<()> {
    let store = open_store(&cfg).await?;
    let (stop, task) = start_worker(store, slots, queues, &cfg).await;
    quantdesk_server::shutdown_signal().await;
    let _ = stop.send(true);
    task.await?;
    Ok(())
}

async fn user(cfg: &Config, c: UserCommand) -> Result<()> {
    let store = open_store(cfg).await?;
    match c {
        UserCommand::Create { email, role, password_file, reset } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("--role must be admin, analyst or viewer"))?;
            let (password, generated) = match (password_file, std::env::var("QUANTDESK_USER_PASSWORD").ok()) {
                (Some(f), _) => (
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                    false,
                ),
                (None, Some(p)) if !p.is_empty() => (p, false),
                _ => (quantdesk_server::auth::secrets::random_hex(12), true),
            };
            let (u, created) = quantdesk_server::auth::service::ensure_user(&*store, &email, &password, role, reset)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("{} {} (role {})", if created { "created" } else { "reset" }, u.email, u.role.as_str());
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            for u in store.users().await? {
                let state = if u.disabled {
                    "disabled"
                } else if u.verified {
                    "active"
                } else {
                    "unverified"
                };
                println!("{:>5}  {:<40} {:<8} {}", u.id, u.email, u.role.as_str(), state);
            }
        }
    }
    Ok(())
}

async fn key(cfg: Config, c: KeyCommand) -> Result<()> {
    let KeyCommand::Create { email, name, scopes, days } = c;
    let store = open_store(&cfg).await?;
    let email = quantdesk_server::auth::service::normalize_email(&email).map_err(|e| anyhow::anyhow!(e.message))?;
    let u = store.user_by_email(&email).await?.ok_or_else(|| anyhow::anyhow!("no account {email}"))?;
    let state = AppState::new(store, cfg, quantdesk_server::ops::metrics_handle());
    let p = quantdesk_server::auth::Principal {
        user_id: u.id,
        email: u.email.clone(),
        role: u.role,
        via: quantdesk_server::auth::Via::Session { id_hash: String::new(), csrf: String::new() },
    };
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let (row, token) = quantdesk_server::auth::service::create_key(&state, &ip, &p, &name, &scopes, days)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    eprintln!("key {} for {} with scopes {} (shown once):", row.id, u.email, row.scopes);
    println!("{token}");
    Ok(())
}

/// The demo account `serve --demo` creates (an admin, so every page can be explored).
const DEMO_EMAIL: &str = "demo@quantdesk.local";

async fn serve(cfg: Config, workers: bool, slots: Slots) -> Result<()> {
    let store = open_store(&cfg).await?;
    tracing::info!(backend = store.backend(), database = %quantdesk_store::redact_url(cfg.database_url.expose()), "database ready");
    if cfg.demo {
        if store.bar_count().await? == 0 {
            let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
            let s = quantdesk_server::demo::load(&*store, quantdesk_server::demo::demo_end(today)).await?;
            tracing::info!(
                instruments = s.instruments,
                daily_bars = s.daily_bars,
                minute_bars = s.minute_bars,
                "demo data loaded"
            );
        } else {
            tracing::info!("the database already has data; demo data not loaded");
        }
        let (password, generated) = quantdesk_server::demo::demo_password(&cfg.demo_password);
        quantdesk_server::auth::service::ensure_user(&*store, DEMO_EMAIL, &password, Role::Admin, true)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the demo account: {e}"))?;
        println!("{}", quantdesk_server::demo::demo_account_line(DEMO_EMAIL, &password, generated));
    }
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    // The one-process default also runs the backup queue when it has a backup folder.
    let mut queues = vec!["default".to_string()];
    if !cfg.backup_dir.is_empty() {
        queues.push("backup".into());
    }
    let worker = if workers { Some(start_worker(store.clone(), slots, queues, &cfg).await) } else { None };
    let state = AppState::new(store, cfg, quantdesk_server::ops::metrics_handle());
    let app = quantdesk_web::app(state);
    println!("quantdesk {} listening on http://{addr}", quantdesk_server::ops::VERSION);
    tracing::info!(%addr, workers, "listening");
    quantdesk_server::serve(listener, app, quantdesk_server::shutdown_signal()).await?;
    if let Some((stop, task)) = worker {
        let _ = stop.send(true);
        task.await?;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn import_bars(cfg: &Config, a: Box<BarsArgs>) -> Result<()> {
    let a = *a;
    let resolution = Resolution::parse(&a.resolution).map_err(|e| anyhow::anyhow!(e.0))?;
    let symbol = a.symbol.as_deref().map(Symbol::new).transpose().map_err(|e| anyhow::anyhow!(e.0))?;
    let timezone = match &a.timezone {
        Some(t) => Some(t.parse::<chrono_tz::Tz>().map_err(|_| anyhow::anyhow!("unknown time zone {t:?}"))?),
        None => None,
    };
    if symbol.is_some() && a.symbol_column.is_some() {
        bail!("give either --symbol or --symbol-column, not both");
    }
    let opts = BarImportOptions {
        file_name: a.file.display().to_string(),
        symbol,
        resolution,
        timezone,
        columns: ColumnMap {
            time: a.time_column,
            open: a.open_column,
            high: a.high_column,
            low: a.low_column,
            close: a.close_column,
            volume: a.volume_column,
            amount: a.amount_column,
            adj_factor: a.adj_factor_column,
            adj_close: None,
            symbol: a.symbol_column,
        },
    };
    let store = open_store(cfg).await?;
    let file = std::fs::File::open(&a.file).with_context(|| format!("cannot open {}", a.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("importing [{bar:40}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let progress_bar = bar.clone();
    let report = quantdesk_server::market::import_bars_stream(
        &*store,
        reader,
        opts,
        Box::new(move |bytes| progress_bar.set_position(bytes)),
    )
    .await?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "imported {} bars for {} symbol(s) at {} from {} rows in {:.2} s ({:.0} rows/s)",
        report.bars,
        report.symbols,
        report.resolution,
        report.rows,
        elapsed,
        report.rows as f64 / elapsed.max(1e-9)
    );
    Ok(())
}

async fn backtest_series(
    cfg: &Config,
    a: &BacktestArgs,
    resolution: Resolution,
) -> Result<Vec<quantdesk_backtest::Series>> {
    use quantdesk_core::{Instrument, InstrumentKind};
    if let Some(file) = &a.file {
        let symbol = match a.symbol.as_slice() {
            [] => None,
            [one] => Some(Symbol::new(one).map_err(|e| anyhow::anyhow!(e.0))?),
            _ => bail!("a file is read with at most one --symbol (multi-symbol files carry a symbol column)"),
        };
        let parsed = read_bar_file(file, symbol, resolution)?;
        return Ok(parsed
            .series
            .into_iter()
            .map(|(sym, data)| quantdesk_backtest::Series {
                instrument: Instrument::with_defaults(sym, "", InstrumentKind::Stock),
                resolution,
                bars: data.bars,
            })
            .collect());
    }
    if a.symbol.is_empty() {
        bail!("give a CSV file or --symbol for stored bars");
    }
    let store = open_store(cfg).await?;
    let adjustment = quantdesk_core::Adjustment::parse(&a.adjustment).map_err(|e| anyhow::anyhow!(e.0))?;
    let mut out = Vec::new();
    for raw in &a.symbol {
        let symbol = Symbol::new(raw).map_err(|e| anyhow::anyhow!(e.0))?;
        let instrument =
            store.instrument(&symbol).await?.with_context(|| format!("no instrument {symbol} in the database"))?;
        let series = store.series(&symbol).await?;
        let req = quantdesk_server::market::BarRequest {
            resolution,
            adjustment,
            from: i64::MIN,
            to: i64::MAX,
            countback: None,
        };
        let source = quantdesk_server::market::BarSource { store: &*store, blocks: None };
        let bars = quantdesk_server::market::read_bars(source, &instrument, &series, &req).await?.bars;
        if bars.is_empty() {
            bail!("no {resolution} bars can be built for {symbol}");
        }
        out.push(quantdesk_backtest::Series { instrument, resolution, bars });
    }
    Ok(out)
}

/// The engine configuration and base parameters a backtest or sweep asked for.
fn run_config(a: &BacktestArgs) -> Result<(quantdesk_backtest::BacktestConfig, quantdesk_backtest::strategy::Params)> {
    use quantdesk_backtest::{BacktestConfig, ChinaRules, Costs, FillMode, Market};
    let mut params = std::collections::BTreeMap::new();
    for p in &a.params {
        let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?} is not NAME=VALUE"))?;
        let v: f64 = v.trim().parse().with_context(|| format!("--param {p:?}: {v:?} is not a number"))?;
        params.insert(k.trim().to_string(), v);
    }
    let market = match a.market.as_str() {
        "generic" => Market::Generic,
        "cn-a" | "cn_a" => Market::CnA(ChinaRules::default()),
        other => bail!("unknown market {other:?}: use generic or cn-a"),
    };
    let fill = match a.fill.as_str() {
        "next_open" => FillMode::NextOpen,
        "close" => FillMode::Close,
        other => bail!("unknown fill {other:?}: use next_open or close"),
    };
    let config = BacktestConfig {
        cash: a.cash,
        costs: Costs {
            commission_rate: a.commission,
            min_commission: a.min_commission,
            slippage_bps: a.slippage_bps,
            ..Costs::default()
        },
        fill,
        market,
    };
    Ok((config, params))
}

async fn backtest(cfg: &Config, a: BacktestArgs) -> Result<()> {
    let resolution = Resolution::parse(&a.resolution).map_err(|e| anyhow::anyhow!(e.0))?;
    let (config, params) = run_config(&a)?;
    let series = backtest_series(cfg, &a, resolution).await?;
    let mut result =
        quantdesk_backtest::backtest(&config, &series, &a.strategy, &params).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(b) = &a.benchmark {
        let bench_args = BacktestArgs { file: None, symbol: vec![b.clone()], ..a.clone() };
        let bench = backtest_series(cfg, &bench_args, resolution).await?;
        let closes: Vec<(i64, f64)> = bench[0].bars.iter().map(|b| (b.time, b.close)).collect();
        quantdesk_backtest::attach_benchmark(&mut result, &closes, quantdesk_backtest::periods_per_year(&series));
    }
    if let Some(path) = &a.report {
        let title = format!(
            "Backtest: {} on {}",
            a.strategy,
            series.iter().map(|s| s.instrument.symbol.as_str()).collect::<Vec<_>>().join(", ")
        );
        std::fs::write(path, quantdesk_backtest::report::html(&result, &title))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    let iso = quantdesk_server::iso_secs;
    match a.format.as_str() {
        "json" => {
            let mut v = serde_json::to_value(&result)?;
            if let Some(trades) = v.get_mut("trades").and_then(|t| t.as_array_mut()) {
                for t in trades {
                    for k in ["entry_time", "exit_time"] {
                        if let Some(x) = t.get(k).and_then(|x| x.as_i64()) {
                            t[k] = serde_json::Value::String(iso(x));
                        }
                    }
                }
            }
            v["equity_curve"] =
                result.equity_curve.iter().map(|(t, e)| serde_json::json!({"time": iso(*t), "equity": e})).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        "table" => {
            let m = &result.metrics;
            let closed = result.trades.iter().filter(|t| t.exit_time.is_some()).count();
            println!("strategy        {} {:?}", result.strategy, result.params);
            println!("data            {} series, fingerprint {}", series.len(), result.data_fingerprint);
            println!("final equity    {:.2}", result.final_equity);
            println!("total return    {:.2} %", m.total_return * 100.0);
            println!("CAGR            {:.2} %", m.cagr * 100.0);
            println!("volatility      {:.2} %", m.annual_volatility * 100.0);
            println!("Sharpe          {:.3}", m.sharpe);
            println!("Sortino         {:.3}", m.sortino);
            println!("Calmar          {:.3}", m.calmar);
            println!(
                "max drawdown    {:.2} % ({} to {}, {:.0} days)",
                m.max_drawdown.depth * 100.0,
                iso(m.max_drawdown.start),
                iso(m.max_drawdown.trough),
                m.max_drawdown.duration_days
            );
            println!("trades          {closed} closed, {} open", result.trades.len() - closed);
            println!("win rate        {:.1} %", m.win_rate * 100.0);
            println!("profit factor   {:.3}", m.profit_factor);
            println!("exposure        {:.1} %", m.exposure * 100.0);
            if let (Some(alpha), Some(beta)) = (m.alpha, m.beta) {
                println!("alpha / beta    {:.2} % / {:.3}", alpha * 100.0, beta);
            }
        }
        other => bail!("unknown format {other:?}: use table or json"),
    }
    Ok(())
}

/// An instant for `--until`: a date (00:00 UTC, the stamp of that day's bar), an RFC 3339 time or
/// Unix seconds.
fn parse_until(raw: &str) -> Result<i64> {
    let s = raw.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(d) = s.parse::<chrono::NaiveDate>() {
        return Ok(quantdesk_core::resample::date_stamp(d));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp())
        .map_err(|_| anyhow::anyhow!("--until {s:?} is not a date (YYYY-MM-DD), an RFC 3339 time or Unix seconds"))
}

async fn chan(cfg: &Config, a: ChanArgs) -> Result<()> {
    use quantdesk_server::chan::{ChanProfile, ChanRequest, analyze_stored, to_api};
    let resolution = Resolution::parse(&a.resolution).map_err(|e| anyhow::anyhow!(e.0))?;
    let profile = ChanProfile::parse(&a.profile)
        .with_context(|| format!("unknown profile {:?}: use chanpy or czsc", a.profile))?;
    if !["json", "table"].contains(&a.format.as_str()) {
        bail!("unknown format {:?}: use json or table", a.format);
    }
    let until = a.until.as_deref().map(parse_until).transpose()?.unwrap_or(i64::MAX);
    let report = if let Some(file) = &a.file {
        let symbol = a.symbol.as_deref().map(Symbol::new).transpose().map_err(|e| anyhow::anyhow!(e.0))?;
        let parsed = read_bar_file(file, symbol, resolution)?;
        let mut series = parsed.series.into_iter();
        let (sym, data) = match (series.next(), series.next()) {
            (Some(one), None) => one,
            (None, _) => bail!("{} holds no bars", file.display()),
            (Some(_), Some(_)) => bail!("{} holds several symbols; analyse one at a time", file.display()),
        };
        let bars: Vec<quantdesk_core::Bar> = data.bars.into_iter().filter(|b| b.time < until).collect();
        if bars.is_empty() {
            bail!("no bars of {sym} before --until");
        }
        let analysis = quantdesk_chan::analyze(&bars, &profile.engine().config())?;
        to_api(sym.as_str(), resolution, profile, quantdesk_core::Adjustment::None, &bars, &analysis)
    } else {
        let Some(raw) = &a.symbol else { bail!("give a CSV file or --symbol for stored bars") };
        let symbol = Symbol::new(raw).map_err(|e| anyhow::anyhow!(e.0))?;
        let adjustment = quantdesk_core::Adjustment::parse(&a.adjustment).map_err(|e| anyhow::anyhow!(e.0))?;
        let store = open_store(cfg).await?;
        let instrument =
            store.instrument(&symbol).await?.with_context(|| format!("no instrument {symbol} in the database"))?;
        let series = store.series(&symbol).await?;
        let req = ChanRequest { resolution, adjustment, from: i64::MIN, until, countback: None, profile };
        let source = quantdesk_server::market::BarSource { store: &*store, blocks: None };
        let (bars, analysis) = analyze_stored(source, &instrument, &series, &req).await?;
        if bars.is_empty() {
            bail!("no {resolution} bars can be built for {symbol}");
        }
        to_api(symbol.as_str(), resolution, profile, adjustment, &bars, &analysis)
    };
    if a.format == "json" {
        return print_all(&(serde_json::to_string_pretty(&report)? + "\n"));
    }
    use std::fmt::Write as _;
    let mut out = String::new();
    let r = &report;
    writeln!(
        out,
        "{} {} ({}, {}): {} bars from {} to {}",
        r.symbol,
        r.resolution,
        r.profile.as_str(),
        r.adjustment,
        r.bars,
        r.first_bar.as_deref().unwrap_or("-"),
        r.last_bar.as_deref().unwrap_or("-")
    )?;
    let confirmed = |n: usize, total: usize| format!("{total:>7}  ({n} confirmed)");
    writeln!(
        out,
        "merged bars {}",
        confirmed(r.merged_bars.iter().filter(|x| x.confirmed).count(), r.merged_bars.len())
    )?;
    writeln!(out, "fractals    {}", confirmed(r.fractals.iter().filter(|x| x.confirmed).count(), r.fractals.len()))?;
    writeln!(out, "strokes     {}", confirmed(r.strokes.iter().filter(|x| x.confirmed).count(), r.strokes.len()))?;
    writeln!(out, "segments    {}", confirmed(r.segments.iter().filter(|x| x.confirmed).count(), r.segments.len()))?;
    writeln!(
        out,
        "seg. of seg.{}",
        confirmed(r.segments_of_segments.iter().filter(|x| x.confirmed).count(), r.segments_of_segments.len())
    )?;
    writeln!(out, "pivots      {}", confirmed(r.pivots.iter().filter(|x| x.confirmed).count(), r.pivots.len()))?;
    writeln!(out, "signals     {}", confirmed(r.signals.iter().filter(|x| x.confirmed).count(), r.signals.len()))?;
    let word = |c: bool| if c { "" } else { "  provisional" };
    writeln!(out, "\nlast strokes")?;
    for s in &r.strokes[r.strokes.len().saturating_sub(a.last)..] {
        writeln!(
            out,
            "  #{:<5} {:<4} {} {:>12.4} -> {} {:>12.4}{}",
            s.index,
            if s.direction == quantdesk_server::chan::Direction::Up { "up" } else { "down" },
            s.begin_time,
            s.begin_price,
            s.end_time,
            s.end_price,
            word(s.confirmed)
        )?;
    }
    let mut signals: Vec<&quantdesk_server::chan::Signal> = r.signals.iter().collect();
    signals.sort_by(|x, y| x.time.cmp(&y.time));
    writeln!(out, "\nlast signals")?;
    for s in &signals[signals.len().saturating_sub(a.last)..] {
        writeln!(
            out,
            "  {:<3} {} {:>12.4}  {:<7} classes {:<8} {}{}",
            s.label,
            s.time,
            s.price,
            if s.level == quantdesk_server::chan::Level::Stroke { "stroke" } else { "segment" },
            s.classes.join(","),
            s.rule,
            word(s.confirmed)
        )?;
    }
    print_all(&out)
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an error.
fn print_all(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

async fn decide(cfg: &Config, symbols: &[String], threshold: f64, format: &str) -> Result<()> {
    use quantdesk_backtest::voting::{Combiner, decide};
    if !(0.0..=1.0).contains(&threshold) {
        bail!("--threshold must be between 0 and 1");
    }
    let store = open_store(cfg).await?;
    let combiner = Combiner::Confidence { threshold };
    let mut out = Vec::new();
    for raw in symbols {
        let symbol = Symbol::new(raw).map_err(|e| anyhow::anyhow!(e.0))?;
        let instrument =
            store.instrument(&symbol).await?.with_context(|| format!("no instrument {symbol} in the database"))?;
        let series = store.series(&symbol).await?;
        let req = quantdesk_server::market::BarRequest {
            resolution: Resolution::Day,
            adjustment: quantdesk_core::Adjustment::Qfq,
            from: i64::MIN,
            to: i64::MAX,
            countback: Some(500),
        };
        let source = quantdesk_server::market::BarSource { store: &*store, blocks: None };
        let bars = quantdesk_server::market::read_bars(source, &instrument, &series, &req).await?.bars;
        let Some((decision, risk)) = decide(&bars, &combiner) else {
            bail!("{symbol} has too few daily bars to decide")
        };
        let date = bars
            .last()
            .and_then(|b| chrono::DateTime::from_timestamp(b.time, 0))
            .map(|d| d.date_naive().to_string())
            .unwrap_or_default();
        out.push(
            serde_json::json!({ "symbol": symbol.as_str(), "date": date, "decision": decision, "risk_level": risk }),
        );
    }
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&out)?),
        "table" => {
            for d in &out {
                let dec = &d["decision"];
                println!(
                    "{} {}  {}  score {:.2}  risk {}",
                    d["date"].as_str().unwrap_or(""),
                    d["symbol"].as_str().unwrap_or(""),
                    dec["action"].as_str().unwrap_or(""),
                    dec["score"].as_f64().unwrap_or(0.0),
                    d["risk_level"].as_str().unwrap_or("")
                );
                for v in dec["votes"].as_array().into_iter().flatten() {
                    println!(
                        "    {:<10} {:<4} {:.2}",
                        v["model"].as_str().unwrap_or(""),
                        v["action"].as_str().unwrap_or(""),
                        v["confidence"].as_f64().unwrap_or(0.0)
                    );
                }
            }
        }
        other => bail!("unknown format {other:?}: use table or json"),
    }
    Ok(())
}

async fn sweep(cfg: &Config, s: SweepArgs) -> Result<()> {
    use quantdesk_backtest::sweep::{Axis, grid, heat_map, random, score, sweep, walk_forward};
    let resolution = Resolution::parse(&s.run.resolution).map_err(|e| anyhow::anyhow!(e.0))?;
    let (config, base) = run_config(&s.run)?;
    let axes = s.grid.iter().map(|g| Axis::parse(g)).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!(e))?;
    let points = match s.random {
        Some(n) => random(&axes, n, s.seed),
        None => grid(&axes),
    };
    let series = backtest_series(cfg, &s.run, resolution).await?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let started = std::time::Instant::now();
    if let Some(wf) = &s.walk_forward {
        let (a, b) = wf.split_once(':').context("--walk-forward is IN:OUT, e.g. 500:100")?;
        let (is, oos): (usize, usize) = (a.trim().parse()?, b.trim().parse()?);
        let result = walk_forward(&config, &series, &s.run.strategy, &base, &points, is, oos, &s.metric, threads)
            .map_err(|e| anyhow::anyhow!(e))?;
        if s.run.format == "json" {
            println!("{}", serde_json::to_string_pretty(&result)?);
            return Ok(());
        }
        let day =
            |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.date_naive().to_string()).unwrap_or_default();
        println!(
            "walk-forward, {} windows of {is} in-sample + {oos} out-of-sample bars, best by {}",
            result.windows.len(),
            s.metric
        );
        for w in &result.windows {
            println!(
                "  {} .. {}  {:?}  in-sample {:.3}  out-of-sample {:+.2} %",
                day(w.out_of_sample_start),
                day(w.out_of_sample_end),
                w.best_params,
                w.in_sample_score,
                w.out_of_sample_return * 100.0
            );
        }
        let m = &result.metrics;
        println!(
            "stitched: total return {:.2} %, CAGR {:.2} %, Sharpe {:.3}, max drawdown {:.2} %",
            m.total_return * 100.0,
            m.cagr * 100.0,
            m.sharpe,
            m.max_drawdown.depth * 100.0
        );
        return Ok(());
    }
    let mut rows = sweep(&config, &series, &s.run.strategy, &base, &points, threads).map_err(|e| anyhow::anyhow!(e))?;
    let elapsed = started.elapsed().as_secs_f64();
    score(&rows[0].metrics, &s.metric).map_err(|e| anyhow::anyhow!(e))?;
    rows.sort_by(|a, b| {
        let (x, y) =
            (score(&a.metrics, &s.metric).unwrap_or(f64::MIN), score(&b.metrics, &s.metric).unwrap_or(f64::MIN));
        y.total_cmp(&x)
    });
    match s.run.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        "table" => {
            println!("{} runs in {:.2} s on {threads} threads, ranked by {}", rows.len(), elapsed, s.metric);
            println!(
                "{:>4}  {:<32} {:>12} {:>9} {:>9} {:>9} {:>7}",
                "#", "params", "final equity", "return %", "Sharpe", "max DD %", "trades"
            );
            for (i, r) in rows.iter().take(s.top).enumerate() {
                let p: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let m = &r.metrics;
                println!(
                    "{:>4}  {:<32} {:>12.2} {:>9.2} {:>9.3} {:>9.2} {:>7}",
                    i + 1,
                    p.join(" "),
                    r.final_equity,
                    m.total_return * 100.0,
                    m.sharpe,
                    m.max_drawdown.depth * 100.0,
                    m.trades
                );
            }
        }
        other => bail!("unknown format {other:?}: use table or json"),
    }
    if let Some(hm) = &s.heatmap {
        let (x, y) = hm.split_once(',').context("--heatmap is X,Y")?;
        let (xs, ys, table) = heat_map(&rows, x.trim(), y.trim(), &s.metric).map_err(|e| anyhow::anyhow!(e))?;
        println!("\n{} by {} (columns) and {} (rows)", s.metric, x.trim(), y.trim());
        print!("{:>8}", "");
        for v in &xs {
            print!("{v:>8}");
        }
        println!();
        for (j, row) in table.iter().enumerate() {
            print!("{:>8}", ys[j]);
            for cell in row {
                match cell {
                    Some(c) => print!("{c:>8.3}"),
                    None => print!("{:>8}", "-"),
                }
            }
            println!();
        }
    }
    Ok(())
}

/// A bar file as `import bars` reads it (columns detected from the header), for commands that
/// analyse a file without storing it.
fn read_bar_file(
    file: &std::path::Path,
    symbol: Option<Symbol>,
    resolution: Resolution,
) -> Result<quantdesk_ingest::ParsedBars> {
    let opts = BarImportOptions {
        file_name: file.display().to_string(),
        symbol,
        resolution,
        timezone: None,
        columns: ColumnMap::default(),
    };
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    Ok(quantdesk_ingest::parse_bars(std::io::BufReader::new(f), &opts, &mut |_| {})?)
}
