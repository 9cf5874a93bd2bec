//! The `quantdesk` binary: one executable that serves, works, schedules, imports, analyses and
//! operates. This file holds the command line's top level, logging and dispatch; the commands are
//! in `cmd/`, one module per group.

mod cmd;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use cmd::{
    accounts, backtest, backup, chan, data, env, import, ledger, ops, options, regimes, report, schedule, serve, sync,
    valuate,
};
use quantdesk_app::config::Config;
use quantdesk_app::config::{LogFormat, Overrides};

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
    #[arg(long, global = true, value_enum)]
    log_format: Option<options::LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application, the UDF datafeed and the API.
    Serve(serve::ServeArgs),
    /// Fire schedules only (no HTTP, no jobs), until SIGTERM. Any number may run: each tick fires once.
    Scheduler(serve::SchedulerArgs),
    /// Manage schedules (cron in a time zone that enqueue jobs).
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Run jobs only (no HTTP), until SIGTERM; running jobs finish first. Also fires schedules.
    Worker(serve::WorkerArgs),
    /// Import data from CSV files.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Fetch market data, statements, the instrument master and the calendar from TuShare Pro,
    /// Eastmoney or Yahoo.
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// Data quality: check what is stored, compare two sources.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Chan-theory (缠论) analysis of a CSV file or of stored bars: merged bars, fractals, strokes,
    /// segments, pivots and buy/sell points.
    Chan(Box<chan::ChanArgs>),
    /// Market dynamics: TradeMaster's regime labels of a CSV file or of stored bars (ex-post by
    /// default, --causal for labels a strategy may read), with per-label statistics.
    Regimes(Box<regimes::RegimesArgs>),
    /// Dynamics test: an agent (TradeMaster's MA policy or a built-in strategy) per label, with
    /// TradeMaster's metrics, scores and radar chart beside Blind-Buy and Do-Nothing.
    DynamicsTest(Box<regimes::DynamicsTestArgs>),
    /// Trading environments with TradeMaster's semantics: replay an action sequence over a CSV file's bars.
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// Backtest a strategy on a CSV file or on stored bars.
    Backtest(Box<backtest::BacktestArgs>),
    /// Run a strategy over a grid (or a random sample) of parameters on every core, or walk forward.
    Sweep(Box<backtest::SweepArgs>),
    /// Today's BUY/SELL/HOLD per symbol from the voting engine, with each model's vote.
    Decide(backtest::DecideArgs),
    /// A two-stage FCFF DCF of a company from its stored statements (`doctor`: what is stored;
    /// `diagnose`: every input and intermediate).
    Valuate(Box<valuate::ValuateArgs>),
    /// A research report of a stored symbol, grounded in quantdesk's own figures (Markdown or
    /// HTML to standard output without --output); stored like the API's.
    Report(Box<report::ReportArgs>),
    /// Prompt templates of the reports: list, show, import and export as TOML.
    #[command(subcommand)]
    Prompt(report::PromptCommand),
    /// Manage accounts (the first admin comes from here).
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(accounts::KeyCommand),
    /// The coin ledger: re-derive every balance (`verify`), show or adjust a user's coins.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Apply database migrations and exit.
    Migrate,
    /// Back up everything stored (market data, accounts, jobs and their artifacts, schedules) to
    /// a portable archive while the server keeps running; or check an archive with --verify.
    Backup(backup::BackupArgs),
    /// Load an archive written by `backup` into the configured database (SQLite or PostgreSQL),
    /// all or nothing. Refuses a database that holds data unless --replace.
    Restore(backup::RestoreArgs),
    /// Exit 0 when the server answers its liveness probe, 1 otherwise (for container HEALTHCHECKs).
    Healthcheck(ops::HealthcheckArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ops::ConfigCommand),
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cfg.log.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cfg.log.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::try_parse().unwrap_or_else(|e| cmd::common::usage_error(e));
    let (listen, demo) = match &cli.command {
        Command::Serve(a) => (a.listen, Some(a.demo)),
        _ => (None, None),
    };
    let log_format = cli.log_format.map(LogFormat::from);
    let overrides = Overrides { listen, database_url: cli.database_url.clone(), log_format, demo };
    let cfg = Config::load(cli.config.as_deref(), &|k| std::env::var(k).ok(), &overrides)?;
    if let Command::Config(ops::ConfigCommand::Print) = cli.command {
        ops::print_config(&cfg);
        return Ok(());
    }
    init_logging(&cfg);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, cfg))
}

async fn run(command: Command, cfg: Config) -> Result<()> {
    match command {
        Command::Serve(a) => serve::serve(cfg, a).await,
        Command::Worker(a) => serve::worker(cfg, a).await,
        Command::Scheduler(a) => serve::scheduler(cfg, a).await,
        Command::Schedule(c) => schedule::run(&cfg, c).await,
        Command::User(c) => accounts::user(&cfg, c).await,
        Command::Key(c) => accounts::key(cfg, c).await,
        Command::Ledger(c) => ledger::run(&cfg, c).await,
        Command::Migrate => ops::migrate(&cfg).await,
        Command::Import(c) => import::run(&cfg, c).await,
        Command::Sync(c) => sync::run(&cfg, c).await,
        Command::Data(c) => data::run(&cfg, c).await,
        Command::Chan(a) => chan::run(&cfg, *a).await,
        Command::Regimes(a) => regimes::regimes(&cfg, *a).await,
        Command::DynamicsTest(a) => regimes::dynamics_test(&cfg, *a).await,
        Command::Env(c) => env::run(c),
        Command::Backtest(a) => backtest::backtest(&cfg, *a).await,
        Command::Sweep(a) => backtest::sweep(&cfg, *a).await,
        Command::Decide(a) => backtest::decide(&cfg, a).await,
        Command::Valuate(a) => valuate::run(&cfg, *a).await,
        Command::Report(a) => report::report(&cfg, *a).await,
        Command::Prompt(c) => report::prompt(&cfg, c).await,
        Command::Backup(a) => backup::backup(&cfg, a).await,
        Command::Restore(a) => backup::restore(&cfg, a).await,
        Command::Healthcheck(a) => ops::healthcheck(&cfg, a).await,
        Command::Config(_) => Ok(()),
    }
}
