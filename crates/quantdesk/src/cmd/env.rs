//! `quantdesk env replay`: plays a fixed action sequence through a TradeMaster-semantics environment of
//! `quantdesk-envs` over the bars of a CSV file and prints every step and TradeMaster's metrics, for research,
//! debugging and the conformance check against TradeMaster's own runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use quantdesk_core::{Bar, Resolution, Symbol};
use quantdesk_envs::metrics::TmEnvMetrics;
use quantdesk_envs::portfolio::{PmConfig, PmEnv, PmFixes, PmVariant, replay};
use quantdesk_envs::trading::{ActionSequence, AtConfig, AtEnv, TradingFixes, run_episode};
use quantdesk_ingest::{BarImportOptions, ColumnMap, detect_columns};
use serde_json::{Value, json};

use super::common::{print_all, utc_date};

/// The environment commands.
#[derive(Subcommand)]
pub enum EnvCommand {
    /// Play an action sequence (a JSON array, one entry per step) through an environment over a CSV file's bars and
    /// print every step's cash, holdings or weights, value and reward, and the episode's metrics.
    Replay(Box<ReplayArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvKind {
    /// Algorithmic trading, one asset: integer actions `0 ..= 2·max_volume` (buy `a − max_volume` units).
    Trading,
    /// Portfolio management: logits with cash first, through a softmax.
    Portfolio,
    /// Portfolio management (EIIE): weights with cash first, used as given.
    PortfolioEiie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SemanticsArg {
    /// TradeMaster's rules, bugs included (fix them one by one with --fix).
    Trademaster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FixArg {
    /// Trading: a sale that opens a short yields cash instead of costing it.
    ProperShort,
    /// Portfolio: subtract the largest logit before the softmax.
    StableSoftmax,
    /// Portfolio: the turnover leaves the cash entry out (each trade counted once).
    OneSidedTurnover,
    /// EIIE: the first fee is measured from all cash, not from equal weights.
    EiieStartAllCash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    Json,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The environment.
    #[arg(long, value_enum)]
    env: EnvKind,
    /// Whose rules.
    #[arg(long, value_enum, default_value = "trademaster")]
    semantics: SemanticsArg,
    /// A CSV file of daily bars (as `import bars` reads them).
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// The symbol: names a single-symbol file's rows, or picks rows of a file with a symbol column (repeat it to pick
    /// several assets for a portfolio).
    #[arg(long)]
    symbol: Vec<String>,
    /// The column that holds the symbol (multi-symbol files); a portfolio takes every symbol of the file unless
    /// --symbol picks some.
    #[arg(long)]
    symbol_column: Option<String>,
    /// First date (inclusive, YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// Last date (inclusive, YYYY-MM-DD).
    #[arg(long)]
    to: String,
    /// The actions: a JSON array with one entry per step.
    #[arg(long, value_name = "ACTIONS.json")]
    actions: PathBuf,
    /// Starting cash.
    #[arg(long, default_value_t = 100_000.0)]
    cash: f64,
    /// Proportional transaction cost.
    #[arg(long, default_value_t = 0.001)]
    cost: f64,
    /// Trading: the observation window (days).
    #[arg(long, default_value_t = 5)]
    window: usize,
    /// Trading: the hindsight reward's look-ahead (days).
    #[arg(long, default_value_t = 5)]
    forward: usize,
    /// Trading: largest position change per step (units).
    #[arg(long, default_value_t = 1)]
    max_volume: u32,
    /// Trading: weight of the hindsight term of the reward.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    future_weight: f64,
    /// EIIE: the window (days) before the first step.
    #[arg(long, default_value_t = 10)]
    time_steps: usize,
    /// Fix one of TradeMaster's bugs (repeatable; the crate README lists them).
    #[arg(long, value_enum)]
    fix: Vec<FixArg>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: ReplayFormat,
}

pub fn run(c: EnvCommand) -> Result<()> {
    match c {
        EnvCommand::Replay(a) => replay_cmd(&a),
    }
}

/// One asset's bars within the dates.
struct Asset {
    symbol: String,
    dates: Vec<String>,
    closes: Vec<f64>,
}

fn replay_cmd(a: &ReplayArgs) -> Result<()> {
    let SemanticsArg::Trademaster = a.semantics;
    let ReplayFormat::Json = a.format;
    for (flag, value) in [("--cash", a.cash), ("--cost", a.cost), ("--future-weight", a.future_weight)] {
        if !value.is_finite() {
            bail!("{flag} must be a finite number");
        }
    }
    let (from, to) = (parse_date("--from", &a.from)?, parse_date("--to", &a.to)?);
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let assets = load_assets(a, &from, &to)?;
    let actions: Value = {
        let text = std::fs::read_to_string(&a.actions)
            .with_context(|| format!("cannot read the actions file {}", a.actions.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", a.actions.display()))?
    };
    let Some(actions) = actions.as_array() else { bail!("{}: the actions must be a JSON array", a.actions.display()) };
    let out = match a.env {
        EnvKind::Trading => replay_trading(a, &assets, actions)?,
        EnvKind::Portfolio | EnvKind::PortfolioEiie => replay_portfolio(a, &assets, actions)?,
    };
    let mut text = serde_json::to_string_pretty(&out)?;
    text.push('\n');
    print_all(&text)
}

fn parse_date(flag: &str, s: &str) -> Result<String> {
    match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => Ok(d.to_string()),
        Err(_) => bail!("{flag} {s:?} is not a date (YYYY-MM-DD)"),
    }
}

/// The assets the flags pick from the file, their bars clipped to the dates.
fn load_assets(a: &ReplayArgs, from: &str, to: &str) -> Result<Vec<Asset>> {
    let has_column = file_has_symbol_column(&a.data, a.symbol_column.as_deref())?;
    let (name, picked): (Option<Symbol>, &[String]) = match (has_column, a.symbol.as_slice()) {
        (true, picked) => (None, picked),
        (false, [one]) => (Some(Symbol::new(one).map_err(|e| anyhow::anyhow!(e.0))?), &[]),
        (false, []) => bail!("{} has no symbol column: give --symbol to name its rows", a.data.display()),
        (false, _) => bail!("{} holds one symbol (no symbol column): give one --symbol", a.data.display()),
    };
    let opts = BarImportOptions {
        file_name: a.data.display().to_string(),
        symbol: name,
        resolution: Resolution::Day,
        timezone: None,
        columns: ColumnMap { symbol: a.symbol_column.clone(), ..ColumnMap::default() },
    };
    let f = std::fs::File::open(&a.data).with_context(|| format!("cannot open {}", a.data.display()))?;
    let parsed = quantdesk_ingest::parse_bars(std::io::BufReader::new(f), &opts, &mut |_| {})?;
    let mut series: BTreeMap<String, Vec<Bar>> =
        parsed.series.into_iter().map(|(s, d)| (s.to_string(), d.bars)).collect();
    let chosen: Vec<(String, Vec<Bar>)> = if picked.is_empty() {
        series.into_iter().collect()
    } else {
        let mut out = Vec::with_capacity(picked.len());
        for p in picked {
            let key = series.keys().find(|k| k.eq_ignore_ascii_case(p)).cloned();
            let Some(bars) = key.and_then(|k| series.remove_entry(&k)) else {
                bail!("{} has no rows of the symbol {p:?}", a.data.display());
            };
            out.push(bars);
        }
        out
    };
    let mut assets = Vec::with_capacity(chosen.len());
    for (symbol, bars) in chosen {
        let mut dates = Vec::new();
        let mut closes = Vec::new();
        for b in bars {
            let d = utc_date(b.time);
            if d.as_str() >= from && d.as_str() <= to {
                dates.push(d);
                closes.push(b.close);
            }
        }
        if dates.is_empty() {
            bail!("{symbol} has no bars from {from} to {to}");
        }
        assets.push(Asset { symbol, dates, closes });
    }
    if assets.is_empty() {
        bail!("{} has no bars", a.data.display());
    }
    Ok(assets)
}

fn file_has_symbol_column(path: &Path, column: Option<&str>) -> Result<bool> {
    use std::io::BufRead as _;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut header = String::new();
    std::io::BufReader::new(f).read_line(&mut header).with_context(|| format!("cannot read {}", path.display()))?;
    let cells: Vec<&str> = header.trim_end_matches(['\r', '\n']).trim_start_matches('\u{feff}').split(',').collect();
    let map = ColumnMap { symbol: column.map(str::to_string), ..ColumnMap::default() };
    match detect_columns(&cells, &map) {
        Ok(d) => Ok(d.symbol.is_some()),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

fn metrics_json(m: &TmEnvMetrics) -> Value {
    json!({"tr": m.tr, "sharpe_ratio": m.sharpe_ratio, "vol": m.vol, "mdd": m.mdd, "cr": m.cr, "sor": m.sor})
}

const METRICS_NOTE: &str = "TradeMaster's definitions (evaualte()): tr = A[-1]/(A[0]+1e-10)-1; sharpe_ratio and vol on \
the value's return rates (population std, sqrt(252), vol not annualised); mdd with a running peak; cr = \
sum(daily_return)/(mdd+1e-10), not annualised; sor = sum(daily_return)/(std(negative daily_return)+1e-10)/(sqrt(N)+1e-10). \
daily_return is dollar P&L for trading and return rates for the portfolios";

fn replay_trading(a: &ReplayArgs, assets: &[Asset], actions: &[Value]) -> Result<Value> {
    let [asset] = assets else {
        bail!("the trading environment takes one symbol; {} were picked (give --symbol)", assets.len());
    };
    let cfg = AtConfig {
        initial_amount: a.cash,
        transaction_cost_pct: a.cost,
        backward_num_day: a.window,
        forward_num_day: a.forward,
        max_volume: a.max_volume,
        future_weights: a.future_weight,
    };
    let fixes = TradingFixes { proper_short: a.fix.contains(&FixArg::ProperShort) };
    if let Some(f) = a.fix.iter().find(|f| **f != FixArg::ProperShort) {
        bail!(
            "--fix {} does not apply to the trading environment",
            f.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
        );
    }
    let mut env = AtEnv::new(cfg, asset.closes.clone())
        .map_err(|e| anyhow::anyhow!("{} from {} to {}: {e}", asset.symbol, a.from, a.to))?
        .with_fixes(fixes);
    let n = env.n_steps();
    if actions.len() != n {
        bail!(
            "{} has {} actions; the episode over {} rows has {n} steps",
            a.actions.display(),
            actions.len(),
            asset.closes.len()
        );
    }
    let dim = cfg.action_dim();
    let mut seq = Vec::with_capacity(n);
    for (i, v) in actions.iter().enumerate() {
        match v.as_u64() {
            Some(x) if (x as usize) < dim => seq.push(x as usize),
            _ => bail!("action {i} ({v}) is not an integer in 0..{dim}"),
        }
    }
    let ep = run_episode(&mut env, &mut ActionSequence::new(seq))?;
    let steps: Vec<Value> = ep
        .steps
        .iter()
        .map(|s| {
            json!({
                "t": s.t, "day": s.day, "date": asset.dates[s.day - 1], "action": s.action,
                "buy_volume_requested": s.buy_volume_requested, "buy_volume": s.buy_volume, "branch": s.branch.as_str(),
                "price": s.price, "next_price": s.next_price, "future_price": s.future_price,
                "cash": s.cash, "holdings": s.holdings, "portfolio_value": s.portfolio_value,
                "reward": s.reward, "pnl": s.pnl,
            })
        })
        .collect();
    Ok(json!({
        "env": "trading",
        "semantics": "trademaster",
        "fixes": fixes,
        "symbol": asset.symbol,
        "from": asset.dates[0],
        "to": asset.dates[asset.dates.len() - 1],
        "rows": asset.closes.len(),
        "config": cfg,
        "n_steps": n,
        "steps": steps,
        "asset_memory": ep.asset_memory,
        "daily_return": ep.daily_return,
        "terminal": ep.terminal,
        "metrics": metrics_json(&ep.metrics),
        "metrics_definitions": METRICS_NOTE,
    }))
}

fn replay_portfolio(a: &ReplayArgs, assets: &[Asset], actions: &[Value]) -> Result<Value> {
    let variant = if a.env == EnvKind::Portfolio { PmVariant::Softmax } else { PmVariant::Eiie };
    let dates = &assets[0].dates;
    for x in &assets[1..] {
        if x.dates != *dates {
            let at = x.dates.iter().zip(dates).position(|(p, q)| p != q).unwrap_or(x.dates.len().min(dates.len()));
            bail!(
                "{} and {} do not have the same dates from {} to {} (they differ at day {at}): the portfolio needs one row per \
                 asset per day",
                assets[0].symbol,
                x.symbol,
                a.from,
                a.to
            );
        }
    }
    let mut fixes = PmFixes::default();
    for f in &a.fix {
        match f {
            FixArg::StableSoftmax if variant == PmVariant::Softmax => fixes.stable_softmax = true,
            FixArg::OneSidedTurnover => fixes.one_sided_turnover = true,
            FixArg::EiieStartAllCash if variant == PmVariant::Eiie => fixes.eiie_start_all_cash = true,
            other => bail!(
                "--fix {} does not apply to this environment",
                other.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
            ),
        }
    }
    let n = assets.len();
    let mut panel = Vec::with_capacity(n * dates.len());
    for d in 0..dates.len() {
        for x in assets {
            panel.push(x.closes[d]);
        }
    }
    let cfg = PmConfig { initial_amount: a.cash, transaction_cost_pct: a.cost, time_steps: a.time_steps };
    let mut env = PmEnv::new(variant, cfg, n, panel.into(), None, fixes)
        .map_err(|e| anyhow::anyhow!("from {} to {}: {e}", a.from, a.to))?;
    let steps = env.n_steps();
    if actions.len() != steps {
        bail!(
            "{} has {} actions; the episode over {} days has {steps} steps",
            a.actions.display(),
            actions.len(),
            dates.len()
        );
    }
    let what = if variant == PmVariant::Softmax { "logits" } else { "weights" };
    let mut vecs = Vec::with_capacity(steps);
    for (i, v) in actions.iter().enumerate() {
        let Some(arr) = v.as_array() else { bail!("action {i} is not an array of {} {what} (cash first)", n + 1) };
        if arr.len() != n + 1 {
            bail!(
                "action {i} has {} values; {} {what} are needed (cash first, then {})",
                arr.len(),
                n + 1,
                symbols(assets)
            );
        }
        let mut row = Vec::with_capacity(n + 1);
        for (j, x) in arr.iter().enumerate() {
            match x.as_f64() {
                Some(f) if f.is_finite() => row.push(f),
                _ => bail!("action {i} value {j} ({x}) is not a finite number"),
            }
        }
        vecs.push(row);
    }
    let ep = replay(&mut env, &vecs)?;
    let steps_json: Vec<Value> = ep
        .steps
        .iter()
        .map(|s| {
            json!({
                "t": s.t, "day": s.day, "date": dates[s.day + 1], "weights": s.weights,
                "gross_return": s.gross_return, "weights_after_drift": s.weights_after_drift, "turnover": s.turnover,
                "transaction_fee": s.transaction_fee, "value_before": s.value_before,
                "portfolio_value": s.portfolio_value, "portfolio_return": s.portfolio_return, "reward": s.reward,
            })
        })
        .collect();
    Ok(json!({
        "env": if variant == PmVariant::Softmax { "portfolio" } else { "portfolio-eiie" },
        "semantics": "trademaster",
        "fixes": fixes,
        "symbols": assets.iter().map(|x| x.symbol.as_str()).collect::<Vec<_>>(),
        "weights_layout": "[cash, symbols...]",
        "from": dates[0],
        "to": dates[dates.len() - 1],
        "days": dates.len(),
        "config": cfg,
        "n_steps": steps,
        "steps": steps_json,
        "asset_memory": ep.asset_memory,
        "daily_return": ep.daily_return,
        "metrics": metrics_json(&ep.metrics),
        "metrics_definitions": METRICS_NOTE,
    }))
}

fn symbols(assets: &[Asset]) -> String {
    assets.iter().map(|x| x.symbol.as_str()).collect::<Vec<_>>().join(", ")
}
