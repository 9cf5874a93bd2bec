//! The product's job handlers.

use async_trait::async_trait;
use quantdesk_app::jobs::{
    BacktestOutcome, BacktestParams, BackupOutcome, BackupParams, DecideOutcome, DecideParams, DecisionRecord,
    EchoOutcome, EchoParams, ImportOutcome, ImportParams, ImportedFile, SweepOutcome, SweepParams,
};
use quantdesk_app::market::{BarRequest, BarSource, stored_series};
use quantdesk_backtest::sweep::{Axis, grid, random, score, sweep};
use quantdesk_backtest::{Series, report};
use quantdesk_core::{Adjustment, Resolution, Symbol};
use serde_json::json;

use crate::{JobContext, JobError, TypedHandler};

fn permanent(e: impl std::fmt::Display) -> JobError {
    JobError::Permanent(e.to_string())
}

/// An instant of a run's range: a date (its 00:00 UTC; with `end`, the next day's: the whole day
/// included), an RFC 3339 time or Unix seconds ([`quantdesk_core::instant`]).
fn instant(name: &str, s: &str, end: bool) -> Result<i64, JobError> {
    use quantdesk_core::instant::{parse_instant, parse_range_end};
    (if end { parse_range_end(s) } else { parse_instant(s) }).map_err(|e| {
        permanent(format!("{name} {:?} is not a date (YYYY-MM-DD), an RFC 3339 time or Unix seconds", e.0))
    })
}

/// The `[from, to)` range of bars a run uses.
fn range(spec: &BacktestParams) -> Result<(i64, i64), JobError> {
    let from = spec.from.as_deref().filter(|s| !s.trim().is_empty()).map(|s| instant("from", s, false)).transpose()?;
    let to = spec.to.as_deref().filter(|s| !s.trim().is_empty()).map(|s| instant("to", s, true)).transpose()?;
    let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    if from >= to {
        return Err(permanent("from must be before to"));
    }
    Ok((from, to))
}

async fn load(ctx: &JobContext, spec: &BacktestParams) -> Result<Vec<Series>, JobError> {
    load_symbols(ctx, spec, &spec.symbols).await
}

async fn load_symbols(ctx: &JobContext, spec: &BacktestParams, symbols: &[String]) -> Result<Vec<Series>, JobError> {
    if symbols.is_empty() {
        return Err(permanent("symbols is empty"));
    }
    let (from, to) = range(spec)?;
    let resolution = Resolution::parse(&spec.resolution).map_err(|e| permanent(e.0))?;
    let adjustment = Adjustment::parse(&spec.adjustment).map_err(|e| permanent(e.0))?;
    let req = BarRequest { resolution, adjustment, from, to, countback: None };
    let source = BarSource { store: &*ctx.store, blocks: None };
    let mut out = Vec::new();
    for raw in symbols {
        out.push(
            stored_series(source, raw, &req, false, true)
                .await
                .map_err(|e| if e.is_transient() { JobError::Transient(e.to_string()) } else { permanent(e) })?,
        );
    }
    Ok(out)
}

/// The trades as CSV. Text cells go through [`quantdesk_ingest::text_cell`] (no formula can reach a
/// spreadsheet); the numbers are quantdesk's own.
fn trades_csv(r: &quantdesk_backtest::BacktestResult) -> String {
    let day = |t: i64| quantdesk_core::resample::trading_date(t, Resolution::Day, chrono_tz::UTC).to_string();
    let mut s = String::from("symbol,direction,entry_time,entry_price,exit_time,exit_price,quantity,costs,pnl\n");
    for t in &r.trades {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            quantdesk_ingest::text_cell(t.symbol.as_str()),
            if t.direction > 0 { "long" } else { "short" },
            day(t.entry_time),
            t.entry_price,
            t.exit_time.map(day).unwrap_or_default(),
            t.exit_price.map(|p| p.to_string()).unwrap_or_default(),
            t.quantity,
            t.costs,
            t.pnl
        ));
    }
    s
}

/// `backtest`: one run; artifacts result.json, trades.csv and report.html.
pub struct Backtest;

#[async_trait]
impl TypedHandler for Backtest {
    type Spec = BacktestParams;
    async fn run(&self, ctx: &JobContext, spec: BacktestParams) -> Result<BacktestOutcome, JobError> {
        ctx.progress(0, 3, "loading bars");
        let series = load(ctx, &spec).await?;
        ctx.check()?;
        ctx.progress(1, 3, "running");
        let config = spec.config.clone().unwrap_or_default();
        let (strategy, params) = (spec.strategy.clone(), spec.params.clone());
        let data = series.clone();
        // The run, and its split by regime (ex-post labels of the first symbol's bars).
        let (mut result, regimes) = tokio::task::spawn_blocking(move || {
            let result = quantdesk_backtest::backtest(&config, &data, &strategy, &params)?;
            let split = quantdesk_app::regimes::backtest_split(
                &data,
                &result.equity_curve,
                quantdesk_backtest::periods_per_year(&data),
            );
            Ok::<_, quantdesk_backtest::BacktestError>((result, split))
        })
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?
        .map_err(permanent)?;
        // The benchmark: alpha and beta in the metrics, and its buy-and-hold rebased to the
        // starting equity, for the equity chart.
        let mut benchmark = serde_json::Value::Null;
        let mut bench_curve: Option<(String, Vec<(i64, f64)>)> = None;
        if let Some(b) = spec.benchmark.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            let bench = load_symbols(ctx, &spec, &[b.to_string()]).await?;
            let closes: Vec<(i64, f64)> = bench[0].bars.iter().map(|b| (b.time, b.close)).collect();
            quantdesk_backtest::attach_benchmark(&mut result, &closes, quantdesk_backtest::periods_per_year(&series));
            let curve = quantdesk_backtest::benchmark_curve(&result, &closes);
            benchmark = json!({ "symbol": b, "curve": curve });
            bench_curve = Some((b.to_string(), curve));
        }
        ctx.progress(2, 3, "saving");
        let title = format!("Backtest: {} on {}", spec.strategy, spec.symbols.join(", "));
        let mut full = serde_json::to_value(&result).map_err(permanent)?;
        if let Some(o) = full.as_object_mut() {
            o.insert("benchmark".into(), benchmark);
            o.insert("regimes".into(), serde_json::to_value(&regimes).map_err(permanent)?);
        }
        ctx.artifact("result.json", "application/json", &serde_json::to_vec(&full).map_err(permanent)?).await?;
        ctx.artifact("trades.csv", "text/csv", trades_csv(&result).as_bytes()).await?;
        ctx.artifact(
            "report.html",
            "text/html",
            report::html(&result, &title, bench_curve.as_ref().map(|(s, c)| (s.as_str(), c.as_slice()))).as_bytes(),
        )
        .await?;
        ctx.progress(3, 3, "done");
        ctx.log(&format!("{} trades, final equity {:.2}", result.trades.len(), result.final_equity)).await;
        Ok(BacktestOutcome {
            final_equity: result.final_equity,
            trades: result.trades.len(),
            data_fingerprint: result.data_fingerprint,
            engine_version: result.engine_version,
            metrics: result.metrics,
            regimes,
        })
    }
}

/// `sweep`: a grid (or a sample of it) in chunks, with progress and cancellation between chunks;
/// artifact sweep.json with every row.
pub struct Sweep;

#[async_trait]
impl TypedHandler for Sweep {
    type Spec = SweepParams;
    async fn run(&self, ctx: &JobContext, spec: SweepParams) -> Result<SweepOutcome, JobError> {
        let axes = spec.grid.iter().map(|g| Axis::parse(g)).collect::<Result<Vec<_>, _>>().map_err(permanent)?;
        let points = match spec.random {
            Some(n) => random(&axes, n, spec.seed.unwrap_or(1)),
            None => grid(&axes),
        };
        score(&quantdesk_backtest::Metrics::zeroed(), &spec.metric).map_err(permanent)?;
        let series = std::sync::Arc::new(load(ctx, &spec.run).await?);
        let config = std::sync::Arc::new(spec.run.config.clone().unwrap_or_default());
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut rows = Vec::with_capacity(points.len());
        for (i, chunk) in points.chunks(50).enumerate() {
            ctx.check()?;
            ctx.progress((i * 50) as i64, points.len() as i64, "running");
            let (series, config, chunk) = (series.clone(), config.clone(), chunk.to_vec());
            let (strategy, base) = (spec.run.strategy.clone(), spec.run.params.clone());
            let part = tokio::task::spawn_blocking(move || sweep(&config, &series, &strategy, &base, &chunk, threads))
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?
                .map_err(permanent)?;
            rows.extend(part);
        }
        ctx.progress(points.len() as i64, points.len() as i64, "done");
        rows.sort_by(|a, b| {
            let (x, y) = (
                score(&a.metrics, &spec.metric).unwrap_or(f64::MIN),
                score(&b.metrics, &spec.metric).unwrap_or(f64::MIN),
            );
            y.total_cmp(&x)
        });
        ctx.artifact("sweep.json", "application/json", &serde_json::to_vec(&rows).map_err(permanent)?).await?;
        let runs = rows.len();
        rows.truncate(20);
        Ok(SweepOutcome { runs, metric: spec.metric, top: rows })
    }
}

/// `echo`: sleeps `sleep_ms` (watching for cancellation), fails transiently on its first
/// `fail_times` attempts, then returns `value`. For operations checks and tests.
pub struct Echo;

#[async_trait]
impl TypedHandler for Echo {
    type Spec = EchoParams;
    async fn run(&self, ctx: &JobContext, spec: EchoParams) -> Result<EchoOutcome, JobError> {
        let sleep_ms = spec.sleep_ms.unwrap_or(0);
        let fail_times = spec.fail_times.unwrap_or(0);
        let steps = (sleep_ms / 50).max(1);
        for i in 0..steps {
            ctx.check()?;
            ctx.progress(i as i64, steps as i64, "sleeping");
            tokio::time::sleep(std::time::Duration::from_millis(sleep_ms / steps)).await;
        }
        ctx.progress(steps as i64, steps as i64, "done");
        if u64::from(ctx.job.attempts) <= fail_times {
            return Err(JobError::Transient(format!("failing on purpose (attempt {})", ctx.job.attempts)));
        }
        Ok(EchoOutcome { value: spec.value.unwrap_or(serde_json::Value::Null), attempt: ctx.job.attempts })
    }
}

/// `decide`: the voting engine on the latest daily bars of a watchlist: today's BUY/SELL/HOLD per
/// symbol with every model's vote and confidence. The job's result is the stored history (one
/// job per run; the `decide-before-open` schedule runs it before the open).
pub struct Decide;

#[async_trait]
impl TypedHandler for Decide {
    type Spec = DecideParams;
    async fn run(&self, ctx: &JobContext, spec: DecideParams) -> Result<DecideOutcome, JobError> {
        use quantdesk_backtest::voting::{Combiner, risk_level, standard_models};
        let symbols = spec.symbols;
        if symbols.is_empty() {
            return Err(permanent("params.symbols is empty: configure the watchlist"));
        }
        let threshold = spec.threshold.unwrap_or(0.5);
        let combiner = Combiner::Confidence { threshold };
        let mut out = Vec::new();
        for (i, raw) in symbols.iter().enumerate() {
            ctx.check()?;
            ctx.progress(i as i64, symbols.len() as i64, raw);
            let series = load(ctx, &BacktestParams::daily(vec![raw.clone()])).await?;
            let bars = &series[0].bars[series[0].bars.len().saturating_sub(500)..];
            // Each model over the bars, timed.
            let mut votes = Vec::new();
            for mut model in standard_models() {
                let started = std::time::Instant::now();
                let mut last = None;
                for b in bars {
                    last = model.update(b);
                }
                metrics::histogram!("model_execution_duration_seconds", "model" => model.name())
                    .record(started.elapsed().as_secs_f64());
                votes.extend(last);
            }
            let decision = combiner.combine(votes);
            let date = bars
                .last()
                .map(|b| quantdesk_core::resample::trading_date(b.time, Resolution::Day, chrono_tz::UTC).to_string());
            out.push(DecisionRecord { symbol: raw.clone(), date, decision, risk_level: risk_level(bars) });
        }
        ctx.progress(symbols.len() as i64, symbols.len() as i64, "done");
        Ok(DecideOutcome { decisions: out })
    }
}

/// `import`: imports bar files from the worker's file system, each whole or not at all. The
/// `refresh-market-data` schedule runs it after the close on the files a data drop leaves.
pub struct Import;

#[async_trait]
impl TypedHandler for Import {
    type Spec = ImportParams;
    async fn run(&self, ctx: &JobContext, spec: ImportParams) -> Result<ImportOutcome, JobError> {
        let files = spec.files;
        if files.is_empty() {
            return Err(permanent("params.files is empty: configure the files to import"));
        }
        let mut reports = Vec::new();
        for (i, f) in files.iter().enumerate() {
            ctx.check()?;
            ctx.progress(i as i64, files.len() as i64, &f.path);
            let symbol = f.symbol.as_deref().map(Symbol::new).transpose().map_err(|e| permanent(e.0))?;
            let timezone = f
                .timezone
                .as_deref()
                .map(|t| t.parse::<chrono_tz::Tz>().map_err(|_| permanent(format!("unknown time zone {t:?}"))))
                .transpose()?;
            let opts = quantdesk_ingest::BarImportOptions {
                file_name: f.path.clone(),
                symbol,
                resolution: Resolution::parse(&f.resolution).map_err(|e| permanent(e.0))?,
                timezone,
                columns: quantdesk_ingest::ColumnMap { symbol: f.symbol_column.clone(), ..Default::default() },
            };
            let file = std::fs::File::open(&f.path).map_err(|e| permanent(format!("cannot open {}: {e}", f.path)))?;
            let report = quantdesk_app::market::import_bars_stream(
                &*ctx.store,
                std::io::BufReader::new(file),
                opts,
                Box::new(|_| {}),
            )
            .await
            .map_err(|e| match e {
                quantdesk_app::market::ImportFailure::Invalid(e) => permanent(e),
                quantdesk_app::market::ImportFailure::Store(e) => JobError::Transient(e.to_string()),
            })?;
            ctx.log(&format!("{}: {} bars for {} symbol(s)", f.path, report.bars, report.symbols)).await;
            reports.push(ImportedFile { path: f.path.clone(), report });
        }
        ctx.progress(files.len() as i64, files.len() as i64, "done");
        Ok(ImportOutcome { files: reports })
    }
}

/// `backup`: a backup of the whole database into the worker's `backup_dir`, then retention. The
/// folder comes from the worker's configuration, never from the job, so no user can point a
/// backup at a path; the job runs on the `backup` queue, which only workers that have the backup
/// volume take.
pub struct Backup {
    /// `None` on a worker without `backup_dir`: the job fails with an explanation.
    pub dir: Option<std::path::PathBuf>,
    pub keep_daily: usize,
    pub keep_weekly: usize,
}

#[async_trait]
impl TypedHandler for Backup {
    type Spec = BackupParams;
    async fn run(&self, ctx: &JobContext, _spec: BackupParams) -> Result<BackupOutcome, JobError> {
        use quantdesk_store::backup::{BackupError, archive::WriteInfo, backup_to_dir};
        let Some(dir) = &self.dir else {
            return Err(permanent("this worker has no backup_dir; run the backup queue on a worker that has one"));
        };
        ctx.progress(0, 1, "writing the archive");
        let info = WriteInfo { now_ms: crate::now_ms(), quantdesk_version: quantdesk_app::VERSION.into() };
        let (path, written, deleted) =
            backup_to_dir(&*ctx.store, dir, self.keep_daily, self.keep_weekly, &info).await.map_err(|e| match e {
                BackupError::Refused(m) => JobError::Permanent(m),
                other => JobError::Transient(other.to_string()),
            })?;
        ctx.progress(1, 1, "done");
        ctx.log(&format!("wrote {} ({} bytes, {} rows)", path.display(), written.bytes, written.manifest.total_rows))
            .await;
        if !deleted.is_empty() {
            ctx.log(&format!("retention deleted {}", deleted.join(", "))).await;
        }
        Ok(BackupOutcome {
            file: path.display().to_string(),
            bytes: written.bytes,
            rows: written.manifest.total_rows,
            sha256: written.sha256,
            deleted,
        })
    }
}

/// `sync`: fetches from outside sources into the store (see `quantdesk_app::sync`). Symbols that
/// fail are listed in the result with their reasons; the job fails only when nothing could run
/// (no source, a bad request, the master or the calendar failing).
pub struct Sync {
    /// The worker's configured sources (none on a worker without `[sources]`).
    pub sources: quantdesk_app::sync::Sources,
    /// Calls per minute per source, for plans.
    pub rate_limits: std::collections::HashMap<quantdesk_connectors::SourceId, u32>,
}

#[async_trait]
impl TypedHandler for Sync {
    type Spec = quantdesk_app::sync::SyncRequest;
    async fn run(
        &self,
        ctx: &JobContext,
        spec: quantdesk_app::sync::SyncRequest,
    ) -> Result<quantdesk_app::sync::SyncReport, JobError> {
        let mut service =
            quantdesk_app::sync::SyncService::new(&*ctx.store, &self.sources, quantdesk_app::clock::today_shanghai());
        service.rate_limits = self.rate_limits.clone();
        let stop = || ctx.is_cancelled();
        service.stop = Some(&stop);
        let progress = |f: f64, line: &str| ctx.progress((f * 1000.0) as i64, 1000, line);
        let report = service.run(&spec, &progress).await.map_err(app_error)?;
        for f in &report.failed {
            let what = f.statement.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
            ctx.log(&format!("{}{what}: {} ({})", f.symbol, f.message, f.code)).await;
        }
        ctx.log(&format!(
            "{} landed, {} up to date, {} failed; {} bars, {} factors, {} statement rows, {} instruments, {} calendar days",
            report.landed.len(),
            report.up_to_date.len(),
            report.failed.len(),
            report.bars,
            report.factors,
            report.statement_rows,
            report.instruments,
            report.calendar_days
        ))
        .await;
        Ok(report)
    }
}

/// `valuation`: values each symbol from its stored statements (see
/// `quantdesk_app::valuation::run_job`); a symbol the model refuses or with nothing stored is a
/// row with its error, not a failure of the job. Rows come sorted by margin of safety.
pub struct Valuation;

#[async_trait]
impl TypedHandler for Valuation {
    type Spec = quantdesk_app::valuation::ValuationJobParams;
    async fn run(
        &self,
        ctx: &JobContext,
        spec: quantdesk_app::valuation::ValuationJobParams,
    ) -> Result<quantdesk_app::valuation::ValuationJobResult, JobError> {
        let progress = |done: usize, total: usize, symbol: &str| {
            ctx.progress(done as i64, total as i64, &format!("valued {symbol}"));
        };
        let stop = || ctx.is_cancelled();
        let out = quantdesk_app::valuation::run_job(&*ctx.store, &spec, &progress, &stop).await.map_err(app_error)?;
        for r in out.rows.iter().filter(|r| r.error.is_some()) {
            ctx.log(&format!("{}: {}", r.symbol, r.error.as_deref().unwrap_or_default())).await;
        }
        ctx.log(&format!("{} valued, {} not", out.valued, out.failed)).await;
        Ok(out)
    }
}

/// The one reading of an application error in a job: a stop the job asked for ends it as
/// cancelled, a transient failure is retried, anything else fails it.
fn app_error(e: quantdesk_app::AppError) -> JobError {
    if e.code() == "cancelled" {
        JobError::Cancelled
    } else if e.is_transient() {
        JobError::Transient(e.into_message())
    } else {
        JobError::Permanent(e.into_message())
    }
}

/// The series of a `regimes` or `dynamics_test` job: the stored symbol's bars, or the job owner's
/// uploaded file (TradeMaster sessions) with its rows.
async fn load_series(
    ctx: &JobContext,
    symbol: &str,
    dataset: Option<&quantdesk_app::regimes::DatasetSource>,
    resolution: Resolution,
    key: quantdesk_app::regimes::KeyIndicator,
    adjustment: Adjustment,
) -> Result<(Series, Option<quantdesk_app::trademaster::FileRows>), JobError> {
    match dataset {
        Some(d) => {
            let (series, file) =
                quantdesk_app::trademaster::load_dataset(&*ctx.store, &ctx.job.owner, d).await.map_err(app_error)?;
            Ok((series, Some(file)))
        }
        None => {
            let source = BarSource { store: &*ctx.store, blocks: None };
            let series = quantdesk_app::regimes::load_stored(source, symbol, resolution, key, adjustment)
                .await
                .map_err(app_error)?;
            Ok((series, None))
        }
    }
}

/// `regimes`: TradeMaster's market-dynamics labels of a stored symbol
/// or of an uploaded file ([`quantdesk_app::regimes`]); artifacts `labels.csv` (one row per bar
/// with TradeMaster's columns), `statistics.csv` (per label), `result.json` (rows, segments,
/// statistics), `labels.png` and `statistics.png` (the plots TradeMaster's API returns), and for
/// an uploaded file `labeled.csv` (its rows with TradeMaster's label columns).
pub struct Regimes;

#[async_trait]
impl TypedHandler for Regimes {
    type Spec = quantdesk_app::regimes::RegimesJobParams;
    async fn run(
        &self,
        ctx: &JobContext,
        spec: quantdesk_app::regimes::RegimesJobParams,
    ) -> Result<quantdesk_app::regimes::RegimesJobResult, JobError> {
        use quantdesk_app::regimes;
        let (resolution, adjustment) = spec.check().map_err(app_error)?;
        ctx.progress(0, 2, "loading bars");
        let (series, file) =
            load_series(ctx, &spec.symbol, spec.dataset.as_ref(), resolution, spec.key, adjustment).await?;
        ctx.progress(1, 2, "labeling");
        let (key, options) = (spec.key, spec.options.clone());
        let (report, labeled, labels_png, statistics_png) = tokio::task::spawn_blocking(move || {
            let report = regimes::label_bars(&series, key, &options)?;
            let labeled = file.map(|f| quantdesk_app::trademaster::labeled_csv(&f, &report));
            let labels_png = regimes::labels_png(&report);
            let statistics_png = regimes::statistics_png(&report.statistics, report.options.dynamics);
            Ok::<_, quantdesk_app::AppError>((report, labeled, labels_png, statistics_png))
        })
        .await
        .map_err(permanent)?
        .map_err(app_error)?;
        ctx.artifact("labels.csv", "text/csv", regimes::labels_csv(&report).as_bytes()).await?;
        ctx.artifact("statistics.csv", "text/csv", regimes::statistics_csv(&report.statistics).as_bytes()).await?;
        ctx.artifact("result.json", "application/json", &serde_json::to_vec(&report).map_err(permanent)?).await?;
        ctx.artifact("labels.png", "image/png", &labels_png).await?;
        ctx.artifact("statistics.png", "image/png", &statistics_png).await?;
        if let Some(labeled) = labeled {
            ctx.artifact("labeled.csv", "text/csv", labeled.as_bytes()).await?;
        }
        ctx.log(&format!(
            "{} bars, {} segments, labels {}",
            report.rows.len(),
            report.segments.len(),
            match report.filter {
                regimes::Filter::ZeroPhase => "zero_phase (ex-post)",
                regimes::Filter::Causal => "causal",
            }
        ))
        .await;
        Ok(regimes::RegimesJobResult::from(&report))
    }
}

/// `dynamics_test`: an agent's dynamics test per label with TradeMaster's metrics and radar scores
/// ([`quantdesk_app::regimes::dynamics_test`]); artifacts `labels.csv`, `statistics.csv`,
/// `result.json` (every label's metrics, σ, scores, radar values and textbook metrics),
/// `radar.svg` and `radar.png` (the radar of the first tested label) and `report.html`
/// (self-contained). The series is a stored symbol's or an uploaded file's.
pub struct DynamicsTest;

#[async_trait]
impl TypedHandler for DynamicsTest {
    type Spec = quantdesk_app::regimes::DynamicsTestJobParams;
    async fn run(
        &self,
        ctx: &JobContext,
        spec: quantdesk_app::regimes::DynamicsTestJobParams,
    ) -> Result<quantdesk_app::regimes::DynamicsTestJobResult, JobError> {
        use quantdesk_app::regimes;
        let (resolution, adjustment, agent, which) = spec.check().map_err(app_error)?;
        ctx.progress(0, 2, "loading bars");
        let (series, _) =
            load_series(ctx, &spec.symbol, spec.dataset.as_ref(), resolution, spec.key, adjustment).await?;
        ctx.progress(1, 2, "testing");
        let (key, options) = (spec.key, spec.options.clone());
        let (labels, answer) = tokio::task::spawn_blocking(move || {
            let labels = regimes::label_bars(&series, key, &options)?;
            let answer = regimes::dynamics_test(&series, key, &options, which, &agent)?;
            Ok::<_, quantdesk_app::AppError>((labels, answer))
        })
        .await
        .map_err(permanent)?
        .map_err(app_error)?;
        ctx.artifact("labels.csv", "text/csv", regimes::labels_csv(&labels).as_bytes()).await?;
        ctx.artifact("statistics.csv", "text/csv", regimes::statistics_csv(&labels.statistics).as_bytes()).await?;
        ctx.artifact("result.json", "application/json", &serde_json::to_vec(&answer).map_err(permanent)?).await?;
        if let Some((l, r)) = answer.labels.iter().find_map(|l| l.report.as_ref().map(|r| (l.label, r))) {
            let title = format!("{} label {l} — {}", answer.symbol, answer.agent);
            ctx.artifact("radar.svg", "image/svg+xml", regimes::radar_svg(&title, &r.radar).as_bytes()).await?;
            ctx.artifact("radar.png", "image/png", &regimes::radar_png(&r.radar)).await?;
        }
        ctx.artifact("report.html", "text/html", regimes::dynamics_html(&answer).as_bytes()).await?;
        for l in &answer.labels {
            if let Some(x) = &l.refused {
                ctx.log(&format!("label {}: not tested ({}): {}", l.label, x.code, x.message)).await;
            }
        }
        Ok(regimes::DynamicsTestJobResult::from(&answer))
    }
}

/// `report`: research reports of one symbol or a batch ([`quantdesk_app::reports`]), each stored
/// whole or not at all. The text streams into the job's progress message (its last
/// [`STREAM_TAIL`] bytes) while it is written, and the progress counts the symbols done. A
/// symbol that fails is listed in the result's `failed` (retry them with a new job); when every
/// symbol failed the job fails with the last error. Without a generator (no provider configured,
/// or `provider: "offline"`) quantdesk writes the reports itself.
pub struct Report {
    pub generator: Option<std::sync::Arc<dyn quantdesk_app::reports::Generator>>,
}

/// How much of the text being written the progress message carries.
pub const STREAM_TAIL: usize = 64 * 1024;

#[async_trait]
impl TypedHandler for Report {
    type Spec = quantdesk_app::reports::service::ReportJobParams;
    async fn run(
        &self,
        ctx: &JobContext,
        spec: quantdesk_app::reports::service::ReportJobParams,
    ) -> Result<quantdesk_app::reports::service::ReportJobResult, JobError> {
        use quantdesk_app::reports::service::{ReportJobItem, ReportJobResult, ReportRequest, create};
        let date = spec.check().map_err(app_error)?;
        let generator = match spec.provider.as_deref() {
            Some(quantdesk_app::reports::OFFLINE_PROVIDER) => None,
            Some(p) if self.generator.is_none() => {
                return Err(permanent(format!("no language-model provider {p:?} is configured; use \"offline\"")));
            }
            _ => match self.generator.as_deref() {
                // No provider stored or configured (yet): quantdesk writes the report itself.
                Some(g) if !g.available().await.map_err(app_error)? => None,
                g => g,
            },
        };
        let lang = spec.lang.unwrap_or(quantdesk_app::reports::Lang::Zh);
        let total = spec.symbols.len() as i64;
        let (mut items, mut failed, mut last_error) = (Vec::new(), Vec::new(), None);
        for (i, symbol) in spec.symbols.iter().enumerate() {
            ctx.check()?;
            ctx.progress(i as i64, total, symbol);
            let req = ReportRequest {
                owner: ctx.job.owner.clone(),
                symbol: symbol.clone(),
                kind: spec.kind,
                lang,
                date,
                prompt_id: spec.prompt_id,
                job_id: Some(ctx.job.id),
            };
            let mut text = String::new();
            let mut on_delta = |d: &str| {
                text.push_str(d);
                let mut start = text.len().saturating_sub(STREAM_TAIL);
                while !text.is_char_boundary(start) {
                    start += 1;
                }
                ctx.progress(i as i64, total, &text[start..]);
            };
            match create(&*ctx.store, &req, generator, &mut on_delta, crate::now_ms()).await {
                Ok(c) => items.push(ReportJobItem {
                    symbol: symbol.clone(),
                    report_id: Some(c.id),
                    error: None,
                    warnings: c.written.warnings.len(),
                }),
                Err(e) => {
                    ctx.log(&format!("{symbol}: {}", e.message())).await;
                    items.push(ReportJobItem {
                        symbol: symbol.clone(),
                        report_id: None,
                        error: Some(e.message().to_string()),
                        warnings: 0,
                    });
                    failed.push(symbol.clone());
                    last_error = Some(e);
                }
            }
        }
        if failed.len() == spec.symbols.len()
            && let Some(e) = last_error
        {
            return Err(app_error(e));
        }
        ctx.progress(total, total, "done");
        Ok(ReportJobResult { items, failed })
    }
}
