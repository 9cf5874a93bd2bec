//! `quantdesk data`: data-quality checks of what is stored, and drift between two sources.

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use quantdesk_app::config::Config;
use quantdesk_app::sync::{Sources, parse_sync_symbol};

use super::common::{open_store, print_all, print_json};
use super::options::OutputFormat;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Gaps against the trading calendar, bars on closed days, OHLC inconsistencies, zero-volume
    /// days, jumps beyond the price limit without a factor change, stale symbols, missing
    /// statement years. Exits 1 when an error-level finding exists.
    Check(CheckArgs),
    /// Per-field drift of one symbol's daily bars between two sources.
    Compare(CompareArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Symbols to check (default: every symbol with daily bars); repeat for several.
    #[arg(long = "symbol", value_name = "SYMBOL")]
    symbols: Vec<String>,
    /// Open days without a bar before a symbol counts as stale.
    #[arg(long, default_value_t = 5)]
    stale_days: u32,
    /// The day to check from (default today in Asia/Shanghai).
    #[arg(long)]
    today: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

#[derive(Args)]
pub struct CompareArgs {
    #[arg(long)]
    symbol: String,
    /// Two sources: --source tushare --source eastmoney.
    #[arg(long = "source", num_args = 1, required = true)]
    sources: Vec<String>,
    /// First date (default a year before the end).
    #[arg(long)]
    start: Option<chrono::NaiveDate>,
    /// Last date (default today).
    #[arg(long)]
    end: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

pub async fn run(cfg: &Config, c: DataCommand) -> Result<()> {
    match c {
        DataCommand::Check(a) => check(cfg, a).await,
        DataCommand::Compare(a) => compare(cfg, a).await,
    }
}

async fn check(cfg: &Config, a: CheckArgs) -> Result<()> {
    let symbols = a
        .symbols
        .iter()
        .map(|s| parse_sync_symbol(s).map_err(|e| anyhow!(e.into_message())))
        .collect::<Result<Vec<_>>>()?;
    let store = open_store(cfg).await?;
    let today = a.today.unwrap_or_else(quantdesk_app::clock::today_shanghai);
    let thresholds = quantdesk_core::quality::Thresholds { stale_trading_days: a.stale_days, ..Default::default() };
    let report = quantdesk_app::quality::check(&*store, &symbols, today, &thresholds)
        .await
        .map_err(|e| anyhow!(e.into_message()))?;
    let errors = report.findings.iter().filter(|f| f.severity() == quantdesk_core::quality::Severity::Error).count();
    match a.format {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Table => {
            let mut out = String::new();
            for f in &report.findings {
                let when = match (f.date, f.until) {
                    (Some(d), Some(u)) if u != d => format!("{d}..{u}"),
                    (Some(d), _) => d.to_string(),
                    _ => "-".into(),
                };
                out.push_str(&format!(
                    "{:<10} {:<8} {:<16} {:<23} {}\n",
                    f.symbol.as_str(),
                    format!("{:?}", f.severity()).to_lowercase(),
                    f.kind.as_str(),
                    when,
                    f.detail
                ));
            }
            out.push_str(&format!(
                "{} symbol(s) checked as of {}: {} finding(s), {errors} error(s)\n",
                report.symbols_checked,
                report.today,
                report.findings.len()
            ));
            print_all(&out)?;
        }
    }
    if errors > 0 {
        bail!("{errors} error-level finding(s)");
    }
    Ok(())
}

async fn compare(cfg: &Config, a: CompareArgs) -> Result<()> {
    let [x, y] = a.sources.as_slice() else {
        bail!("give exactly two sources: --source tushare --source eastmoney");
    };
    let parse = |s: &str| quantdesk_connectors::SourceId::parse(s).map_err(|e| anyhow!(e.message));
    let (x, y) = (parse(x)?, parse(y)?);
    let symbol = parse_sync_symbol(&a.symbol).map_err(|e| anyhow!(e.into_message()))?;
    let end = a.end.unwrap_or_else(quantdesk_app::clock::today_shanghai);
    let start = a.start.unwrap_or(end - chrono::Days::new(365));
    let sources = Sources::from_config(&cfg.sources);
    let r = quantdesk_app::quality::compare(&sources, &symbol, x, y, start, end)
        .await
        .map_err(|e| anyhow!(e.into_message()))?;
    match a.format {
        OutputFormat::Json => print_json(&r)?,
        OutputFormat::Table => {
            let c = &r.comparison;
            let mut out = format!(
                "{} {} vs {} from {} to {}: {} common dates, {} only in {}, {} only in {}\n",
                r.symbol, r.a, r.b, r.start, r.end, c.common_dates, c.only_in_a.count, r.a, c.only_in_b.count, r.b
            );
            out.push_str(&format!(
                "{:<8} {:>9} {:>9} {:>12} {:<12} {:>16} {:>16}\n",
                "field", "compared", "differing", "max rel diff", "on", r.a, r.b
            ));
            for f in &c.fields {
                out.push_str(&format!(
                    "{:<8} {:>9} {:>9} {:>12.6} {:<12} {:>16} {:>16}\n",
                    format!("{:?}", f.field).to_lowercase(),
                    f.compared,
                    f.differing,
                    f.max_relative_diff,
                    f.max_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                    f.max_a.map(|v| format!("{v}")).unwrap_or_default(),
                    f.max_b.map(|v| format!("{v}")).unwrap_or_default(),
                ));
            }
            print_all(&out)?;
        }
    }
    Ok(())
}
