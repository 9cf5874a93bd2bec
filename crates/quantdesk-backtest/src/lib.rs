//! The backtest engine of quantdesk: event-driven over bars, multi-asset with shared cash,
//! orders with sizing and costs, A-share rules, built-in strategies and metrics. Pure: no I/O,
//! no clock (time is the bars' time), deterministic (the same inputs give bit-identical results).

pub mod config;
pub mod engine;
pub mod metrics;
pub mod money;
pub mod order;
pub mod report;
pub mod strategy;
pub mod sweep;
pub mod voting;

use serde::{Deserialize, Serialize};

pub use config::{BacktestConfig, ChinaRules, ConfigError, Costs, FillMode, Market};
pub use engine::{Context, Series, Strategy, Trade};
pub use metrics::Metrics;
pub use money::Money;
pub use order::{Order, OrderKind, Side, Size, TimeInForce};

/// The engine version recorded in every result.
pub const ENGINE_VERSION: &str = concat!("quantdesk-backtest ", env!("CARGO_PKG_VERSION"));

/// A finished backtest: what was run, on what, and what came out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BacktestResult {
    pub engine_version: String,
    pub strategy: String,
    pub params: strategy::Params,
    pub config: BacktestConfig,
    /// FNV-1a 64 over every symbol and bar of the input, in hex.
    pub data_fingerprint: String,
    pub final_equity: f64,
    pub final_cash: Money,
    pub metrics: Metrics,
    pub trades: Vec<Trade>,
    pub equity_curve: Vec<(i64, f64)>,
}

/// Hash of the input data, so a result says exactly what it was computed from: FNV-1a over
/// 64-bit words (each bar's time and the bit patterns of its six numbers), then a final mix.
pub fn fingerprint(series: &[Series]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    const SEED: u64 = 0xcbf2_9ce4_8422_2325;
    let step = |h: u64, w: u64| (h ^ w).wrapping_mul(PRIME);
    // Four independent lanes per bar, so the multiplications do not wait on each other.
    let mut lanes = [SEED, SEED ^ 1, SEED ^ 2, SEED ^ 3];
    for s in series {
        for b in s.instrument.symbol.as_str().bytes().chain(s.resolution.as_udf().bytes()) {
            lanes[0] = step(lanes[0], u64::from(b));
        }
        lanes[1] = step(lanes[1], s.bars.len() as u64);
        for b in &s.bars {
            lanes[0] = step(step(lanes[0], b.time as u64), b.open.to_bits());
            lanes[1] = step(lanes[1], b.high.to_bits());
            lanes[2] = step(step(lanes[2], b.low.to_bits()), b.close.to_bits());
            lanes[3] = step(step(lanes[3], b.volume.to_bits()), b.amount.to_bits());
        }
    }
    let mut h = lanes.iter().fold(SEED, |h, l| step(h, *l));
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    format!("{h:016x}")
}

/// Periods a year for a resolution: 252 trading days, scaled by bars per day for intraday.
pub fn periods_per_year(series: &[Series]) -> f64 {
    let Some(s) = series.first() else { return 252.0 };
    match s.resolution {
        quantdesk_core::Resolution::Minutes(n) => {
            252.0 * f64::from(s.instrument.session.minutes_per_day()) / f64::from(n)
        }
        quantdesk_core::Resolution::Day => 252.0,
        quantdesk_core::Resolution::Week => 52.0,
        quantdesk_core::Resolution::Month => 12.0,
    }
}

/// Why a backtest could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BacktestError {
    /// The strategy is unknown, or its parameters are not valid for it.
    #[error("{0}")]
    InvalidStrategy(String),
    /// The configuration cannot describe a market (negative costs, a 500 % commission, …).
    #[error("{0}")]
    InvalidConfig(String),
}

/// Runs a built-in strategy by name. A per-symbol strategy on a single series takes the engine's
/// single-series loop, with the same results as the general loop.
pub fn backtest(
    config: &BacktestConfig,
    series: &[Series],
    strategy: &str,
    params: &strategy::Params,
) -> Result<BacktestResult, BacktestError> {
    let built_in = strategy::BuiltIn::parse(strategy, params).map_err(BacktestError::InvalidStrategy)?;
    config.validate().map_err(|e| BacktestError::InvalidConfig(e.message))?;
    if let [one] = series {
        let closes: Vec<f64> = one.bars.iter().map(|b| b.close).collect();
        if let Some((out, _)) = built_in.run_single(config, series, &closes, Vec::new(), true) {
            return Ok(result(config, series, strategy, params, out, None));
        }
    }
    let mut s = strategy::build(strategy, params).map_err(BacktestError::InvalidStrategy)?;
    Ok(run_with(config, series, strategy, params, &mut *s, None))
}

/// Runs any strategy. `fingerprint` may pass in the data's fingerprint when it is already known
/// (a sweep computes it once for all its runs).
pub fn run_with(
    config: &BacktestConfig,
    series: &[Series],
    name: &str,
    params: &strategy::Params,
    strategy: &mut dyn Strategy,
    fingerprint: Option<&str>,
) -> BacktestResult {
    let out = engine::run(config, series, strategy);
    result(config, series, name, params, out, fingerprint)
}

/// A result from a run's output: its metrics, and the data's fingerprint unless given.
fn result(
    config: &BacktestConfig,
    series: &[Series],
    name: &str,
    params: &strategy::Params,
    out: engine::RunOutput,
    fingerprint: Option<&str>,
) -> BacktestResult {
    let metrics = metrics::compute(
        &out.equity_curve,
        config.cash,
        &out.trades,
        &out.fills,
        out.exposed_steps,
        periods_per_year(series),
        0.0,
    );
    BacktestResult {
        engine_version: ENGINE_VERSION.into(),
        strategy: name.into(),
        params: params.clone(),
        config: config.clone(),
        data_fingerprint: fingerprint.map(str::to_string).unwrap_or_else(|| crate::fingerprint(series)),
        final_equity: out.final_equity,
        final_cash: out.final_cash,
        metrics,
        trades: out.trades,
        equity_curve: out.equity_curve,
    }
}

/// A benchmark's buy-and-hold over the run: its closes from the first step of the equity curve
/// on, rebased to the starting equity (the base is its last close at or before that step, else
/// its first), for drawing beside the equity curve.
pub fn benchmark_curve(result: &BacktestResult, closes: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let start = result.equity_curve.first().map(|e| e.0).unwrap_or(i64::MIN);
    let base = closes.iter().rev().find(|c| c.0 <= start).or(closes.first()).map(|c| c.1).unwrap_or(1.0);
    let equity = result.equity_curve.first().map(|e| e.1).unwrap_or(0.0);
    closes.iter().filter(|c| c.0 >= start).map(|c| (c.0, c.1 / base * equity)).collect()
}

/// Adds alpha and beta against a benchmark price series (for example an index's closes) to a
/// result. The benchmark is sampled at each step of the equity curve (its last value at or before
/// the step); steps before the benchmark starts are left out.
pub fn attach_benchmark(result: &mut BacktestResult, benchmark: &[(i64, f64)], periods_per_year: f64) {
    let mut j = 0;
    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(result.equity_curve.len());
    for &(t, e) in &result.equity_curve {
        while j + 1 < benchmark.len() && benchmark[j + 1].0 <= t {
            j += 1;
        }
        if benchmark.get(j).is_some_and(|b| b.0 <= t) {
            pairs.push((e, benchmark[j].1));
        }
    }
    let r: Vec<f64> = pairs.windows(2).map(|w| w[1].0 / w[0].0 - 1.0).collect();
    let b: Vec<f64> = pairs.windows(2).map(|w| w[1].1 / w[0].1 - 1.0).collect();
    let (alpha, beta) = metrics::alpha_beta(&r, &b, periods_per_year);
    result.metrics.alpha = Some(alpha);
    result.metrics.beta = Some(beta);
}
