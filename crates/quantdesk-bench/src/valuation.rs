//! `quantdesk-bench valuation [--symbols 5000] [--dir DIR] [--fixtures DIR]`: a valuation of every
//! stock of a 5,000-symbol universe as one `valuation` job.
//!
//! Plants N synthetic statement sets in a fresh SQLite store: 600519.SH's fixture rows (income,
//! balance sheet, cash flow, daily_basic) under the codes 300000.SZ, 300001.SZ, …, every amount
//! scaled by a per-symbol factor (0.5…2.5; prices and ratios kept), then runs the job's handler
//! body `app::valuation::run_job` over all of them (default request, one worker, as the job
//! runtime does) and reports the seconds.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{Statement, StatementRow, Symbol};

const KEEP: &[&str] = &[
    "close",
    "pe",
    "pe_ttm",
    "pb",
    "ps",
    "ps_ttm",
    "dv_ratio",
    "dv_ttm",
    "turnover_rate",
    "turnover_rate_f",
    "volume_ratio",
    "basic_eps",
    "diluted_eps",
    "comp_type",
    "report_type",
    "end_type",
    "update_flag",
];

fn scaled(row: &StatementRow, symbol: &Symbol, k: f64) -> StatementRow {
    let mut r = row.clone();
    r.symbol = symbol.clone();
    for (name, v) in r.fields.iter_mut() {
        if name == "ts_code" {
            *v = FieldValue::Text(symbol.to_string());
        } else if let FieldValue::Number(n) = v
            && !KEEP.contains(&name.as_str())
        {
            *n *= k;
        }
    }
    r
}

pub fn run(args: &[String]) -> Result<()> {
    let mut n = 5000usize;
    let mut dir = std::env::temp_dir().join("quantdesk-valuation-bench");
    let mut fixtures =
        PathBuf::from(std::env::var("QUANTDESK_FIXTURES").unwrap_or_else(|_| "/work/shared/fixtures".into()));
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--symbols" => n = v.parse()?,
            "--dir" => dir = v.into(),
            "--fixtures" => fixtures = v.into(),
            _ => bail!("unknown option {a}: --symbols N, --dir DIR, --fixtures DIR"),
        }
    }
    if n == 0 || n > 99_999 {
        bail!("--symbols must be 1..=99999");
    }
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(bench(n, &dir, &fixtures.join("cn/financials/600519.SH")))
}

async fn bench(n: usize, dir: &std::path::Path, src: &std::path::Path) -> Result<()> {
    let path = dir.join("valuation.db");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    let store = quantdesk_store::open(&format!("sqlite://{}", path.display()), 8).await?;
    quantdesk_app::financials::import_path(&*store, src, None)
        .await
        .map_err(|e| anyhow::anyhow!(e.into_message()))
        .with_context(|| format!("importing {}", src.display()))?;
    let base = Symbol::new("600519.SH")?;
    let mut template = Vec::new();
    for st in [Statement::Income, Statement::BalanceSheet, Statement::CashFlow, Statement::DailyBasic] {
        template.extend(store.statement_rows(&base, st, None).await?);
    }
    let t = Instant::now();
    let mut symbols = Vec::with_capacity(n);
    let mut batch = Vec::new();
    for i in 0..n {
        let s = Symbol::new(&format!("{:06}.SZ", 300_000 + i))?;
        let k = 0.5 + (i % 101) as f64 / 50.0;
        batch.extend(template.iter().map(|r| scaled(r, &s, k)));
        symbols.push(s.to_string());
        if batch.len() >= 20_000 {
            store.write_statements(&batch).await?;
            batch.clear();
        }
    }
    store.write_statements(&batch).await?;
    let plant = t.elapsed().as_secs_f64();
    println!("planted {n} statement sets ({} rows each) in {plant:.2} s", template.len());

    let params = quantdesk_app::valuation::ValuationJobParams { symbols, ..Default::default() };
    let t = Instant::now();
    let result = quantdesk_app::valuation::run_job(&*store, &params, &|_, _, _| {}, &|| false)
        .await
        .map_err(|e| anyhow::anyhow!(e.into_message()))?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "valuation job over {n} symbols: {secs:.2} s ({:.3} ms a symbol); valued {}, failed {}",
        secs * 1e3 / n as f64,
        result.valued,
        result.failed
    );
    if result.valued as usize != n {
        bail!(
            "expected {n} valued, got {} (first error: {:?})",
            result.valued,
            result.rows.iter().find_map(|r| r.error.clone())
        );
    }
    Ok(())
}
