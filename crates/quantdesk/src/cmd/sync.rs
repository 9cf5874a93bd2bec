//! `quantdesk sync`: fetch the instrument master, the calendar, daily bars with their factors and
//! financial statements from TuShare Pro, Eastmoney or Yahoo (the same service as the `sync` job).

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use quantdesk_app::config::Config;
use quantdesk_app::sync::{Sources, SyncReport, SyncRequest, SyncService, SyncWhat, rate_limits};

use super::common::{open_store, print_json};
use super::options::OutputFormat;

#[derive(Subcommand)]
pub enum SyncCommand {
    /// The instrument master (TuShare stock_basic, every list status: delisted ones keep their dates).
    Instruments(SyncArgs),
    /// The trading calendar (TuShare trade_cal).
    Calendar(SyncArgs),
    /// Daily bars and adjustment factors. Without --start, continues after the last stored bar.
    Bars(SyncArgs),
    /// Income, balance sheet, cash flow, indicators, dividends and daily_basic (TuShare).
    Financials(SyncArgs),
    /// What the evening schedule runs: the calendar, the bars of every instrument with stored
    /// daily bars, and their recent statements.
    All(SyncArgs),
}

#[derive(Args)]
pub struct SyncArgs {
    /// tushare, eastmoney or yahoo (default: the first configured source that can).
    #[arg(long)]
    source: Option<String>,
    /// A TuShare code (600519.SH) or a ticker; repeat for several.
    #[arg(long = "symbol", value_name = "SYMBOL")]
    symbols: Vec<String>,
    /// Every instrument with stored daily bars.
    #[arg(long)]
    all: bool,
    /// First date (YYYY-MM-DD).
    #[arg(long)]
    start: Option<chrono::NaiveDate>,
    /// Last date, inclusive (default today).
    #[arg(long)]
    end: Option<chrono::NaiveDate>,
    /// Calendar exchange: SSE (default), SZSE or BSE.
    #[arg(long)]
    exchange: Option<String>,
    /// Years of statements (default 5).
    #[arg(long)]
    years: Option<u32>,
    /// Print the calls, the time they take under the rate limit and the points they need; fetch nothing.
    #[arg(long)]
    plan: bool,
    /// Output: table (default) or json.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

pub async fn run(cfg: &Config, c: SyncCommand) -> Result<()> {
    let (what, a) = match c {
        SyncCommand::Instruments(a) => (SyncWhat::Instruments, a),
        SyncCommand::Calendar(a) => (SyncWhat::Calendar, a),
        SyncCommand::Bars(a) => (SyncWhat::Bars, a),
        SyncCommand::Financials(a) => (SyncWhat::Financials, a),
        SyncCommand::All(a) => (SyncWhat::All, a),
    };
    let req = SyncRequest {
        what,
        source: a.source,
        symbols: a.symbols,
        all: a.all,
        start: a.start,
        end: a.end,
        exchange: a.exchange,
        years: a.years,
        only_trading_days: false,
    };
    // Refuse a bad request before opening anything.
    req.check().map_err(|e| anyhow::anyhow!(e.into_message()))?;
    let store = open_store(cfg).await?;
    let sources = Sources::from_config(&cfg.sources);
    let mut service = SyncService::new(&*store, &sources, quantdesk_app::clock::today_shanghai());
    service.rate_limits = rate_limits(&cfg.sources);
    if a.plan {
        let plan = service.plan(&req).await.map_err(|e| anyhow::anyhow!(e.into_message()))?;
        match a.format {
            OutputFormat::Json => print_json(&plan)?,
            OutputFormat::Table => {
                println!("sync {} from {} ({})", plan.what, plan.source, plan.mode.replace('_', " "));
                println!("  symbols        {}", plan.symbols);
                println!("  trading days   {}", plan.days);
                println!("  calls          {}", plan.calls);
                if plan.calls_per_minute > 0 {
                    println!(
                        "  rate limit     {} calls/min: about {}",
                        plan.calls_per_minute,
                        human_seconds(plan.seconds)
                    );
                } else {
                    println!("  rate limit     none");
                }
                if let Some(p) = plan.points_needed {
                    println!("  points needed  {p}");
                }
                for n in &plan.notes {
                    println!("  note: {n}");
                }
            }
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    let quiet = matches!(a.format, OutputFormat::Json);
    let progress = move |_f: f64, line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let report = service.run(&req, &progress).await.map_err(|e| anyhow::anyhow!(e.into_message()))?;
    match a.format {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Table => print_report(&report, started.elapsed().as_secs_f64()),
    }
    if !report.failed.is_empty() {
        bail!("{} of the sync failed (see above); what landed stays", plural(report.failed.len(), "part"));
    }
    Ok(())
}

fn print_report(r: &SyncReport, secs: f64) {
    if let Some(why) = &r.skipped {
        println!("skipped: {why}");
        return;
    }
    let from = if r.sources.is_empty() { "no source answered".to_string() } else { r.sources.join(", ") };
    println!("sync {} from {from} in {secs:.1} s", r.what);
    let mut lines = Vec::new();
    if r.instruments > 0 {
        lines.push(format!("{} instruments", r.instruments));
    }
    if r.calendar_days > 0 {
        lines.push(format!("{} trading days", r.calendar_days));
    }
    if r.bars > 0 || r.what == "bars" {
        lines.push(format!("{} bars, {} factors", r.bars, r.factors));
    }
    if r.factor_rereads > 0 {
        lines.push(format!("factor history re-read for {}", plural(r.factor_rereads as usize, "symbol")));
    }
    if r.statement_rows > 0 || r.what == "financials" {
        lines.push(format!("{} statement rows", r.statement_rows));
    }
    for l in lines {
        println!("  {l}");
    }
    if !r.landed.is_empty() {
        println!("  landed: {}", r.landed.join(" "));
    }
    if !r.up_to_date.is_empty() {
        println!("  up to date: {}", r.up_to_date.join(" "));
    }
    if let Some(m) = &r.mode {
        println!("  asked {}; {} requests", m.replace('_', " "), r.requests);
    }
    for f in &r.failed {
        let st = f.statement.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
        eprintln!("  FAILED {}{st}: {} [{}]", f.symbol, f.message, f.code);
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

fn human_seconds(s: u64) -> String {
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s.div_ceil(60)),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}
