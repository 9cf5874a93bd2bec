//! `quantdesk regimes` (TradeMaster's market-dynamics labels of a CSV file or of stored bars) and
//! `quantdesk dynamics-test` (an agent's dynamics test per label with TradeMaster's radar scores),
//! both over `quantdesk_app::regimes`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use quantdesk_app::config::Config;
use quantdesk_app::regimes::{self, Agent, KeyIndicator, LabelChoice, Method, RegimeOptions};
use quantdesk_backtest::Series;
use quantdesk_core::Resolution;

use super::common::print_all;
use super::options::{AdjustmentArg, Lenient, parse_resolution};
use super::series::{self, BarQuery};

/// The series and the labeling flags both commands share.
#[derive(Args)]
pub struct LabelingArgs {
    /// A CSV file of bars (as `import bars` reads them; other columns such as a `label` are
    /// ignored); without it, stored bars of --symbol.
    file: Option<PathBuf>,
    /// The symbol: the name of a single-symbol file's rows, or the stored symbol to label.
    #[arg(long)]
    symbol: Option<String>,
    /// Bar resolution of the stored bars (1, 5, 15, 30, 60, 1D, 1W, 1M; default 1D), or of the
    /// file (default: detected from its timestamps).
    #[arg(long, value_parser = parse_resolution)]
    resolution: Option<Resolution>,
    /// The key indicator: close (stored bars unadjusted) or adjcp (adjusted close, --adjustment).
    /// A file's bars are taken as they are: both read its close column.
    #[arg(long, value_enum, default_value = "adjcp")]
    key: KeyArg,
    /// Price adjustment of stored bars with --key adjcp: qfq (default), hfq or none.
    #[arg(long, default_value = "qfq", ignore_case = true, value_parser = Lenient::<AdjustmentArg>::new())]
    adjustment: AdjustmentArg,
    /// Number of dynamics (labels 0 .. N-1, 0 the most bearish), 2 to 10.
    #[arg(long, default_value_t = 3)]
    dynamics: usize,
    /// Minimum segment length and filter period; -1 for none.
    #[arg(long, default_value_t = 12, allow_negative_numbers = true)]
    min_length: i64,
    /// Segments at least this long are not merged (max_length_expectation).
    #[arg(long, default_value_t = 120)]
    max_length: usize,
    /// Filter strength (divides the filter's cut-off).
    #[arg(long, default_value_t = 1.0)]
    filter_strength: f64,
    /// DTW merge threshold; -1 disables merging.
    #[arg(long, default_value_t = 0.03, allow_negative_numbers = true)]
    merging_threshold: f64,
    /// Largest label distance of merged neighbours; -1 disables the constraint.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    merging_constraint: i64,
    /// Labeling method.
    #[arg(long, value_enum, default_value = "quantile")]
    method: MethodArg,
    /// Causal labels (each bar's label from that bar and the ones before it, trailing window
    /// 2 × max length) instead of the ex-post zero-phase ones, which look ahead.
    #[arg(long)]
    causal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyArg {
    Close,
    Adjcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Quantile,
    Slope,
    Dtw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegimesFormat {
    Csv,
    Json,
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DynamicsFormat {
    Table,
    Json,
    Html,
}

impl LabelingArgs {
    fn options(&self) -> RegimeOptions {
        RegimeOptions {
            dynamics: self.dynamics,
            min_length: self.min_length,
            max_length: self.max_length,
            filter_strength: self.filter_strength,
            merging_threshold: self.merging_threshold,
            merging_constraint: self.merging_constraint,
            method: match self.method {
                MethodArg::Quantile => Method::Quantile,
                MethodArg::Slope => Method::Slope,
                MethodArg::Dtw => Method::Dtw,
            },
            causal: self.causal,
        }
    }

    fn key(&self) -> KeyIndicator {
        match self.key {
            KeyArg::Close => KeyIndicator::Close,
            KeyArg::Adjcp => KeyIndicator::Adjcp,
        }
    }

    /// The one series of the file or of the stored symbol.
    async fn load(&self, cfg: &Config) -> Result<Series> {
        let key = self.key();
        let query = BarQuery {
            adjustment: key.adjustment(self.adjustment.into()),
            ..BarQuery::new(self.file.as_deref(), self.symbol.as_slice(), self.resolution)
        };
        let mut loaded = series::load(cfg, &query).await?.into_iter();
        let one = match (loaded.next(), loaded.next()) {
            (Some(one), None) => one,
            (None, _) => bail!("no bars to label"),
            (Some(_), Some(_)) => bail!("the file holds several symbols; label one at a time"),
        };
        if one.bars.is_empty() {
            bail!("no bars of {}", one.instrument.symbol);
        }
        Ok(one)
    }
}

#[derive(Args)]
pub struct RegimesArgs {
    #[command(flatten)]
    labeling: LabelingArgs,
    /// csv: one row per bar with TradeMaster's columns; json: rows, segments and statistics;
    /// table: the per-label statistics.
    #[arg(long, value_enum, default_value = "csv")]
    format: RegimesFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Instead of the labels: how many bars change label when each parameter moves one step
    /// down and up (a table, or JSON with --format json).
    #[arg(long)]
    stability: bool,
    /// Label this stored index (DJI, 000300.SH, …) with the same settings and carry its labels
    /// onto the series' bars by date, as TradeMaster does for a portfolio's constituents: CSV
    /// `date,label`, empty where the index has no bar that day.
    #[arg(long, value_name = "SYMBOL", conflicts_with = "stability")]
    index: Option<String>,
}

fn emit(text: &str, output: Option<&std::path::Path>) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display())),
        None => print_all(text),
    }
}

pub async fn regimes(cfg: &Config, a: RegimesArgs) -> Result<()> {
    let l = &a.labeling;
    let series = l.load(cfg).await?;
    if a.stability {
        let entries = regimes::stability(&series, l.key(), &l.options())?;
        let text = if matches!(a.format, RegimesFormat::Json) {
            serde_json::to_string_pretty(&entries)? + "\n"
        } else {
            use std::fmt::Write as _;
            let mut o =
                format!("{} bars; bars whose label changes when one parameter moves one step:\n", series.bars.len());
            writeln!(o, "{:<28} {:>10} {:>14}", "parameter", "value", "changed bars")?;
            for e in &entries {
                let changed = match (&e.changed_bars, &e.error) {
                    (Some(n), _) => n.to_string(),
                    (None, Some(err)) => format!("invalid: {err}"),
                    (None, None) => "-".into(),
                };
                writeln!(o, "{:<28} {:>10} {:>14}", e.parameter, e.value, changed)?;
            }
            o
        };
        return emit(&text, a.output.as_deref());
    }
    if let Some(index) = &a.index {
        let symbols = [index.clone()];
        let query = BarQuery {
            adjustment: l.key().adjustment(l.adjustment.into()),
            ..BarQuery::new(None, &symbols, l.resolution)
        };
        let index_series = series::load(cfg, &query).await?.into_iter().next().context("no index bars")?;
        let labels = regimes::carry_index_labels(&index_series, &series, l.key(), &l.options())?;
        let mut o = String::from("date,label\n");
        for (bar, label) in series.bars.iter().zip(&labels) {
            let date = chrono::DateTime::from_timestamp(bar.time, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
            o.push_str(&format!("{date},{}\n", label.map(|x| x.to_string()).unwrap_or_default()));
        }
        return emit(&o, a.output.as_deref());
    }
    let report = regimes::label_bars(&series, l.key(), &l.options())?;
    let text = match a.format {
        RegimesFormat::Csv => regimes::labels_csv(&report),
        RegimesFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        RegimesFormat::Table => {
            use std::fmt::Write as _;
            let mut o = String::new();
            writeln!(
                o,
                "{} {} key {}: {} bars, {} dynamics, {} segments, labels {}",
                report.symbol,
                report.resolution,
                report.key.as_str(),
                report.rows.len(),
                report.options.dynamics,
                report.segments.len(),
                match report.filter {
                    regimes::Filter::ZeroPhase => "zero_phase (ex-post: they look ahead)".to_string(),
                    regimes::Filter::Causal => format!("causal (window {})", report.causal_window.unwrap_or_default()),
                }
            )?;
            writeln!(
                o,
                "{:>5} {:>5} {:>6} {:>7} {:>12} {:>12} {:>9} {:>12} {:>12} {:>12}",
                "label",
                "runs",
                "bars",
                "share",
                "slope_mean",
                "slope_std",
                "len_mean",
                "drawup_k",
                "drawdown_k",
                "ret_mean"
            )?;
            for s in &report.statistics {
                let c = |x: Option<f64>, d: usize| x.map_or_else(|| "-".to_string(), |v| format!("{v:.d$}"));
                writeln!(
                    o,
                    "{:>5} {:>5} {:>6} {:>6.1}% {:>12} {:>12} {:>9} {:>12} {:>12} {:>12}",
                    s.label,
                    s.runs,
                    s.bars,
                    100.0 * s.share,
                    c(s.slope_mean, 6),
                    c(s.slope_std, 6),
                    c(s.length_mean, 2),
                    c(s.drawup_k_mean, 6),
                    c(s.drawdown_k_mean, 6),
                    c(s.return_mean, 6)
                )?;
            }
            o
        }
    };
    emit(&text, a.output.as_deref())
}

#[derive(Args)]
pub struct DynamicsTestArgs {
    #[command(flatten)]
    labeling: LabelingArgs,
    /// The agent: ma (TradeMaster's MA policy), do_nothing, blind_buy, or a built-in strategy
    /// (sma_cross, rsi, macd, bollinger, buy_and_hold, voting) as a long/flat agent.
    #[arg(long, default_value = "ma")]
    strategy: String,
    /// Strategy parameter, NAME=VALUE (repeatable), e.g. --param fast=10 --param slow=20.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// The label to test (0 .. dynamics-1) or all.
    #[arg(long, default_value = "all")]
    label: String,
    /// table, json or html (a self-contained report with an SVG radar chart per label).
    #[arg(long, value_enum, default_value = "table")]
    format: DynamicsFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub async fn dynamics_test(cfg: &Config, a: DynamicsTestArgs) -> Result<()> {
    let mut params = quantdesk_backtest::strategy::Params::new();
    for p in &a.params {
        let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?} is not NAME=VALUE"))?;
        let v: f64 = v.trim().parse().with_context(|| format!("--param {p:?}: {v:?} is not a number"))?;
        params.insert(k.trim().to_string(), v);
    }
    let agent = Agent::parse(&a.strategy, params)?;
    let which = match a.label.as_str() {
        "all" => LabelChoice::All,
        n => LabelChoice::One(n.parse().with_context(|| format!("--label {n:?} is neither a label number nor all"))?),
    };
    let l = &a.labeling;
    let series = l.load(cfg).await?;
    let answer = regimes::dynamics_test(&series, l.key(), &l.options(), which, &agent)?;
    let text = match a.format {
        DynamicsFormat::Table => regimes::dynamics_table(&answer),
        DynamicsFormat::Json => serde_json::to_string_pretty(&answer)? + "\n",
        DynamicsFormat::Html => regimes::dynamics_html(&answer),
    };
    emit(&text, a.output.as_deref())
}
