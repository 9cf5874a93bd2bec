//! `quantdesk import`: bar files and instrument masters, all or nothing.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use quantdesk_app::config::Config;
use quantdesk_core::{Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap};

use super::common::{byte_progress, open_store};
use super::options::parse_resolution;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import OHLCV bars. All rows land or none do; re-importing the same file changes nothing.
    Bars(Box<BarsArgs>),
    /// Import an instrument master (ts_code,name,abbrev,type,list_date,delist_date,…).
    Instruments { file: PathBuf },
    /// Import financial statements in TuShare's columns: a folder holding any of income.csv,
    /// balancesheet.csv, cashflow.csv, fina_indicator.csv, dividend.csv, daily_basic.csv and
    /// stock_basic.csv, or one file. All rows land or none do; revisions are kept.
    Financials {
        path: PathBuf,
        /// The statement of a single file whose name does not say it (income, balancesheet, …).
        #[arg(long)]
        statement: Option<String>,
    },
}

#[derive(Args)]
pub struct BarsArgs {
    file: PathBuf,
    /// The symbol of every row (single-symbol files).
    #[arg(long)]
    symbol: Option<String>,
    /// The column holding symbols (multi-symbol files; detected from ts_code/symbol/code when absent).
    #[arg(long)]
    symbol_column: Option<String>,
    /// Bar resolution: 1, 5, 15, 30, 60 or 1D.
    #[arg(long, value_parser = parse_resolution)]
    resolution: Resolution,
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

pub async fn run(cfg: &Config, c: ImportCommand) -> Result<()> {
    match c {
        ImportCommand::Bars(a) => bars(cfg, *a).await,
        ImportCommand::Financials { path, statement } => {
            let statement = statement
                .as_deref()
                .map(quantdesk_core::Statement::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!(e.0))?;
            let store = open_store(cfg).await?;
            let r = quantdesk_app::financials::import_path(&*store, &path, statement)
                .await
                .map_err(|e| anyhow::anyhow!(e.into_message()))?;
            for (file, n) in &r.files {
                println!("  {file}: {n} rows");
            }
            println!(
                "imported {} statement rows for {} and {} instruments from {}",
                r.statement_rows,
                if r.symbols.is_empty() { "no symbol".to_string() } else { r.symbols.join(", ") },
                r.instruments,
                path.display()
            );
            Ok(())
        }
        ImportCommand::Instruments { file } => {
            let store = open_store(cfg).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let n = quantdesk_app::market::import_instruments_bytes(store, bytes, file.display().to_string()).await?;
            println!("imported {n} instruments from {}", file.display());
            Ok(())
        }
    }
}

async fn bars(cfg: &Config, a: BarsArgs) -> Result<()> {
    let resolution = a.resolution;
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
    let bar = byte_progress(size, "importing");
    let started = std::time::Instant::now();
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let progress_bar = bar.clone();
    let report = quantdesk_app::market::import_bars_stream(
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
    if report.unchanged {
        println!("nothing changed: every bar was already stored with the same values");
    } else {
        println!(
            "{} bar(s) new or changed, {} adjustment factor(s) new or changed",
            report.bars_changed, report.factors_changed
        );
    }
    Ok(())
}
