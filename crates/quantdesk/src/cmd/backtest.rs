//! Strategies on bars: `quantdesk backtest`, `quantdesk sweep` (a grid, a random sample or a walk
//! forward) and `quantdesk decide` (the voting engine's call for today).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use quantdesk_app::config::Config;
use quantdesk_core::{Adjustment, Resolution};

use super::common::{open_store, print_json, utc_date};
use super::options::{AdjustmentArg, FillArg, Lenient, MarketArg, MetricArg, OutputFormat, parse_resolution};
use super::series::{self, BarQuery};

#[derive(Args)]
pub struct BacktestArgs {
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
    /// Accept a commission rate above 0.1 (10 %), which is otherwise refused as a likely typo.
    #[arg(long)]
    force_costs: bool,
    /// Slippage in basis points.
    #[arg(long, default_value_t = 0.0)]
    slippage_bps: f64,
    /// Market rules: generic (T+0, no lots, long/short) or cn-a (T+1, lots, limits, A-share costs).
    #[arg(long, value_enum, default_value = "generic")]
    market: MarketArg,
    /// When market orders fill: next_open (default) or close (the signal bar's close).
    #[arg(long, value_enum, default_value = "next_open")]
    fill: FillArg,
    /// Bar resolution of the stored bars to read (default 1D), or of the file (default: detected
    /// from its timestamps).
    #[arg(long, value_parser = parse_resolution)]
    resolution: Option<Resolution>,
    /// Price adjustment of stored bars: none, qfq (default) or hfq.
    #[arg(long, default_value = "qfq", ignore_case = true, value_parser = Lenient::<AdjustmentArg>::new())]
    adjustment: AdjustmentArg,
    /// Output: table (default) or json.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Write a self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// A stored symbol whose closes are the benchmark for alpha and beta.
    #[arg(long, value_name = "SYMBOL")]
    benchmark: Option<String>,
}

impl BacktestArgs {
    /// The bars to run on: the file's, or the stored symbols' at the asked resolution and adjustment.
    fn bars(&self) -> BarQuery<'_> {
        BarQuery {
            adjustment: self.adjustment.into(),
            ..BarQuery::new(self.file.as_deref(), &self.symbol, self.resolution)
        }
    }
}

#[derive(Args)]
pub struct SweepArgs {
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
    #[arg(long, value_enum, default_value = "sharpe")]
    metric: MetricArg,
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

#[derive(Args)]
pub struct DecideArgs {
    /// Stored symbols to decide on (repeatable).
    #[arg(long, required = true)]
    symbol: Vec<String>,
    /// Share of the summed confidence the winning action needs (else HOLD).
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Output: table (default) or json.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

/// The flag that sets a configuration field.
fn cli_flag(field: &str) -> &'static str {
    match field {
        "cash" => "cash",
        "costs.commission_rate" => "commission",
        "costs.min_commission" => "min-commission",
        "costs.slippage_bps" => "slippage-bps",
        _ => "force-costs",
    }
}

/// The engine configuration and base parameters a backtest or sweep asked for.
fn run_config(a: &BacktestArgs) -> Result<(quantdesk_backtest::BacktestConfig, quantdesk_backtest::strategy::Params)> {
    use quantdesk_backtest::{BacktestConfig, Costs};
    let mut params = std::collections::BTreeMap::new();
    for p in &a.params {
        let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?} is not NAME=VALUE"))?;
        let v: f64 = v.trim().parse().with_context(|| format!("--param {p:?}: {v:?} is not a number"))?;
        params.insert(k.trim().to_string(), v);
    }
    let config = BacktestConfig {
        cash: a.cash,
        costs: Costs {
            commission_rate: a.commission,
            min_commission: a.min_commission,
            slippage_bps: a.slippage_bps,
            force: a.force_costs,
            ..Costs::default()
        },
        fill: a.fill.into(),
        market: a.market.into(),
    };
    config.validate().map_err(|e| anyhow::anyhow!("--{}: {e}", cli_flag(e.field)))?;
    Ok((config, params))
}

pub async fn backtest(cfg: &Config, a: BacktestArgs) -> Result<()> {
    let (config, params) = run_config(&a)?;
    quantdesk_backtest::strategy::check(&a.strategy, &params).map_err(|e| match &e.field {
        Some(f) => anyhow::anyhow!("--param {f}: {e}"),
        None => anyhow::anyhow!("--strategy: {e}"),
    })?;
    let series = series::load(cfg, &a.bars()).await?;
    let mut result =
        quantdesk_backtest::backtest(&config, &series, &a.strategy, &params).map_err(|e| anyhow::anyhow!(e))?;
    let mut bench_curve: Option<(String, Vec<(i64, f64)>)> = None;
    if let Some(b) = &a.benchmark {
        let symbols = [b.clone()];
        let bench = series::load(cfg, &BarQuery { file: None, symbols: &symbols, ..a.bars() }).await?;
        let closes: Vec<(i64, f64)> = bench[0].bars.iter().map(|b| (b.time, b.close)).collect();
        quantdesk_backtest::attach_benchmark(&mut result, &closes, quantdesk_backtest::periods_per_year(&series));
        bench_curve = Some((b.clone(), quantdesk_backtest::benchmark_curve(&result, &closes)));
    }
    if let Some(path) = &a.report {
        let title = format!(
            "Backtest: {} on {}",
            a.strategy,
            series.iter().map(|s| s.instrument.symbol.as_str()).collect::<Vec<_>>().join(", ")
        );
        std::fs::write(
            path,
            quantdesk_backtest::report::html(
                &result,
                &title,
                bench_curve.as_ref().map(|(s, c)| (s.as_str(), c.as_slice())),
            ),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    let iso = quantdesk_app::clock::iso_secs;
    match a.format {
        OutputFormat::Json => {
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
            print_json(&v)?;
        }
        OutputFormat::Table => {
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
            println!("profit factor   {}", quantdesk_backtest::metrics::shown(m.profit_factor_value(), 3));
            println!("exposure        {:.1} %", m.exposure * 100.0);
            if let (Some(alpha), Some(beta)) = (m.alpha, m.beta) {
                println!("alpha / beta    {:.2} % / {:.3}", alpha * 100.0, beta);
            }
        }
    }
    Ok(())
}

pub async fn decide(cfg: &Config, a: DecideArgs) -> Result<()> {
    use quantdesk_backtest::voting::{Combiner, decide};
    let threshold = a.threshold;
    if !(0.0..=1.0).contains(&threshold) {
        bail!("--threshold must be between 0 and 1");
    }
    let store = open_store(cfg).await?;
    let combiner = Combiner::Confidence { threshold };
    // The last 500 qfq-adjusted daily bars of each symbol.
    let query = BarQuery {
        adjustment: Adjustment::Qfq,
        countback: Some(500),
        require_bars: false,
        ..BarQuery::new(None, &a.symbol, Some(Resolution::Day))
    };
    let mut out = Vec::new();
    for raw in &a.symbol {
        let loaded = series::stored(&*store, raw, &query).await?;
        let (symbol, bars) = (loaded.instrument.symbol, loaded.bars);
        let Some((decision, risk)) = decide(&bars, &combiner) else {
            bail!("{symbol} has too few daily bars to decide")
        };
        let date = bars.last().map(|b| utc_date(b.time)).unwrap_or_default();
        out.push(
            serde_json::json!({ "symbol": symbol.as_str(), "date": date, "decision": decision, "risk_level": risk }),
        );
    }
    match a.format {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Table => {
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
    }
    Ok(())
}

pub async fn sweep(cfg: &Config, s: SweepArgs) -> Result<()> {
    use quantdesk_backtest::sweep::{Axis, grid, heat_map, random, score, sweep, walk_forward};
    let (config, base) = run_config(&s.run)?;
    let metric = s.metric.as_str();
    let axes = s.grid.iter().map(|g| Axis::parse(g)).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!(e))?;
    let points = match s.random {
        Some(n) => random(&axes, n, s.seed),
        None => grid(&axes),
    };
    let series = series::load(cfg, &s.run.bars()).await?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let started = std::time::Instant::now();
    if let Some(wf) = &s.walk_forward {
        let (a, b) = wf.split_once(':').context("--walk-forward is IN:OUT, e.g. 500:100")?;
        let (is, oos): (usize, usize) = (a.trim().parse()?, b.trim().parse()?);
        let result = walk_forward(&config, &series, &s.run.strategy, &base, &points, is, oos, metric, threads)
            .map_err(|e| anyhow::anyhow!(e))?;
        if s.run.format == OutputFormat::Json {
            print_json(&result)?;
            return Ok(());
        }
        println!(
            "walk-forward, {} windows of {is} in-sample + {oos} out-of-sample bars, best by {}",
            result.windows.len(),
            s.metric
        );
        for w in &result.windows {
            println!(
                "  {} .. {}  {:?}  in-sample {:.3}  out-of-sample {:+.2} %",
                utc_date(w.out_of_sample_start),
                utc_date(w.out_of_sample_end),
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
    score(&rows[0].metrics, metric).map_err(|e| anyhow::anyhow!(e))?;
    rows.sort_by(|a, b| {
        let (x, y) = (score(&a.metrics, metric).unwrap_or(f64::MIN), score(&b.metrics, metric).unwrap_or(f64::MIN));
        y.total_cmp(&x)
    });
    match s.run.format {
        OutputFormat::Json => print_json(&rows)?,
        OutputFormat::Table => {
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
    }
    if let Some(hm) = &s.heatmap {
        let (x, y) = hm.split_once(',').context("--heatmap is X,Y")?;
        let (xs, ys, table) = heat_map(&rows, x.trim(), y.trim(), metric).map_err(|e| anyhow::anyhow!(e))?;
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
