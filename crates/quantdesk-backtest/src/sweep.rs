//! Parameter sweeps and walk-forward runs, on every core.
//!
//! A sweep runs one strategy over many parameter sets and keeps, per run, only its parameters,
//! final equity and metrics, so memory does not grow with the trades of thousands of runs.
//! Results come back in the order of the parameter sets whatever the thread timing, so a sweep is
//! as deterministic as a single run.
//!
//! Walk-forward: the data is cut into consecutive windows of `in_sample` + `out_of_sample` bars,
//! rolling forward by `out_of_sample`. In each window the sweep picks the best parameters by a
//! chosen metric on the in-sample part; those parameters are then run over the whole window, and
//! only the out-of-sample part of that run's equity counts. The out-of-sample returns of all
//! windows are chained into one stitched equity curve that starts from the configured cash.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use quantdesk_core::rng::Rng;
use serde::{Deserialize, Serialize};

use crate::engine::Series;
use crate::metrics::{self, Metrics};
use crate::strategy::{BuiltIn, Params};
use crate::{BacktestConfig, backtest, periods_per_year};

/// One parameter's values: `name=start:stop:step` (inclusive) or `name=a,b,c`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    pub name: String,
    pub values: Vec<f64>,
}

impl Axis {
    /// Parses `fast=5:20:1` or `fast=5,10,20`.
    pub fn parse(spec: &str) -> Result<Axis, String> {
        let (name, rest) =
            spec.split_once('=').ok_or_else(|| format!("{spec:?} is not NAME=START:STOP:STEP or NAME=A,B,C"))?;
        let num = |s: &str| s.trim().parse::<f64>().map_err(|_| format!("{s:?} in {spec:?} is not a number"));
        let values = if rest.contains(':') {
            let parts: Vec<&str> = rest.split(':').collect();
            let [a, b, step] = parts[..] else { return Err(format!("{spec:?}: a range is START:STOP:STEP")) };
            let (a, b, step) = (num(a)?, num(b)?, num(step)?);
            if step.is_nan() || step <= 0.0 || b < a || (b - a) / step > 100_000.0 {
                return Err(format!("{spec:?}: need STEP > 0, STOP >= START and at most 100,000 values"));
            }
            let n = ((b - a) / step + 1e-9).floor() as usize;
            (0..=n).map(|i| a + step * i as f64).collect()
        } else {
            rest.split(',').map(num).collect::<Result<Vec<_>, _>>()?
        };
        if values.is_empty() {
            return Err(format!("{spec:?} has no values"));
        }
        Ok(Axis { name: name.trim().to_string(), values })
    }
}

/// Every combination of the axes' values (the cartesian product), first axis slowest.
pub fn grid(axes: &[Axis]) -> Vec<Params> {
    let mut out = vec![Params::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(axis.name.clone(), *v);
                    q
                })
            })
            .collect();
    }
    out
}

/// `n` distinct points drawn from the grid with a seeded generator (all of it when smaller).
pub fn random(axes: &[Axis], n: usize, seed: u64) -> Vec<Params> {
    let all = grid(axes);
    if n >= all.len() {
        return all;
    }
    let mut rng = Rng::new(seed);
    let mut idx: Vec<usize> = (0..all.len()).collect();
    // Partial Fisher–Yates: the first n are a uniform sample.
    for i in 0..n {
        let j = i + (rng.next_u64() % (idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..n].to_vec();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| all[i].clone()).collect()
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    pub params: Params,
    pub final_equity: f64,
    pub metrics: Metrics,
}

/// The value of a named metric, oriented so that larger is better.
pub fn score(m: &Metrics, metric: &str) -> Result<f64, String> {
    Ok(match metric {
        "sharpe" => m.sharpe,
        "sortino" => m.sortino,
        "calmar" => m.calmar,
        "total_return" => m.total_return,
        "cagr" => m.cagr,
        "max_drawdown" => m.max_drawdown.depth,
        "win_rate" => m.win_rate,
        "profit_factor" => m.profit_factor,
        other => {
            return Err(format!(
                "unknown metric {other:?}; use sharpe, sortino, calmar, total_return, cagr, max_drawdown, win_rate or profit_factor"
            ));
        }
    })
}

/// Runs `strategy` with each parameter set (merged over `base`) on `threads` threads.
/// Parameter sets the strategy refuses are skipped (the error of the first one is returned if
/// none runs).
pub fn sweep(
    config: &BacktestConfig,
    series: &[Series],
    strategy: &str,
    base: &Params,
    points: &[Params],
    threads: usize,
) -> Result<Vec<SweepRow>, String> {
    config.validate().map_err(|e| e.message)?;
    let print = crate::fingerprint(series);
    // A per-symbol strategy on one series takes the single-series loop; its closes are copied
    // once into one contiguous array that every run reads.
    let closes: Vec<f64> = match series {
        [one] => one.bars.iter().map(|b| b.close).collect(),
        _ => Vec::new(),
    };
    let periods = periods_per_year(series);
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<(usize, Result<SweepRow, String>)>> = Mutex::new(Vec::with_capacity(points.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, points.len().max(1)) {
            scope.spawn(|| {
                // Buffers each run of this worker reuses: memory does not grow with the runs.
                let (mut curve, mut returns) = (Vec::new(), Vec::new());
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(point) = points.get(i) else { break };
                    let mut params = base.clone();
                    params.extend(point.iter().map(|(k, v)| (k.clone(), *v)));
                    let row = BuiltIn::parse(strategy, &params).map(|built_in| {
                        let single = match series {
                            [_] => {
                                // Only the metrics are kept: the fills and trades are only counted.
                                built_in.run_single(config, series, &closes, std::mem::take(&mut curve), false)
                            }
                            _ => None,
                        };
                        let Some((out, stats)) = single else {
                            let r = crate::run_with(
                                config,
                                series,
                                strategy,
                                &params,
                                &mut *built_in.build(),
                                Some(&print),
                            );
                            return SweepRow { params, final_equity: r.final_equity, metrics: r.metrics };
                        };
                        let metrics = metrics::compute_with(
                            &out.equity_curve,
                            config.cash,
                            &stats,
                            out.exposed_steps,
                            periods,
                            0.0,
                            &mut returns,
                        );
                        curve = out.equity_curve;
                        SweepRow { params, final_equity: out.final_equity, metrics }
                    });
                    rows.lock().unwrap_or_else(|e| e.into_inner()).push((i, row));
                }
            });
        }
    });
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by_key(|(i, _)| *i);
    let first_error = rows.iter().find_map(|(_, r)| r.as_ref().err().cloned());
    let ok: Vec<SweepRow> = rows.into_iter().filter_map(|(_, r)| r.ok()).collect();
    match (ok.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(ok),
    }
}

/// One walk-forward window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub in_sample_start: i64,
    pub out_of_sample_start: i64,
    pub out_of_sample_end: i64,
    pub best_params: Params,
    pub in_sample_score: f64,
    /// Return of the out-of-sample part.
    pub out_of_sample_return: f64,
}

/// A walk-forward result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForward {
    pub metric: String,
    pub windows: Vec<Window>,
    pub equity_curve: Vec<(i64, f64)>,
    pub metrics: Metrics,
}

fn slice(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    series
        .iter()
        .map(|s| Series {
            instrument: s.instrument.clone(),
            resolution: s.resolution,
            bars: s.bars.iter().filter(|b| b.time >= from && b.time < to).copied().collect(),
        })
        .collect()
}

/// Rolling walk-forward over the first series' bar times.
#[allow(clippy::too_many_arguments)]
pub fn walk_forward(
    config: &BacktestConfig,
    series: &[Series],
    strategy: &str,
    base: &Params,
    points: &[Params],
    in_sample: usize,
    out_of_sample: usize,
    metric: &str,
    threads: usize,
) -> Result<WalkForward, String> {
    score(&Metrics::zeroed(), metric)?;
    if in_sample == 0 || out_of_sample == 0 {
        return Err("in-sample and out-of-sample windows need at least one bar".into());
    }
    let times: Vec<i64> = series.first().map(|s| s.bars.iter().map(|b| b.time).collect()).unwrap_or_default();
    if times.len() < in_sample + out_of_sample {
        return Err(format!("{} bars are fewer than one window of {} + {}", times.len(), in_sample, out_of_sample));
    }
    let mut windows = Vec::new();
    let mut curve: Vec<(i64, f64)> = Vec::new();
    let mut equity = config.cash;
    let mut start = 0;
    while start + in_sample < times.len() {
        let oos_start = start + in_sample;
        let oos_end = (oos_start + out_of_sample).min(times.len());
        let t_is = times[start];
        let t_oos = times[oos_start];
        let t_end = times.get(oos_end).copied().unwrap_or(i64::MAX);
        let rows = sweep(config, &slice(series, t_is, t_oos), strategy, base, points, threads)?;
        let mut best: Option<(f64, &SweepRow)> = None;
        for row in &rows {
            let s = score(&row.metrics, metric)?;
            if s.is_finite() && best.is_none_or(|(b, _)| s > b) {
                best = Some((s, row));
            }
        }
        let Some((is_score, best_row)) = best else { return Err("no parameter set produced a finite score".into()) };
        let run =
            backtest(config, &slice(series, t_is, t_end), strategy, &best_row.params).map_err(|e| e.to_string())?;
        let oos: Vec<(i64, f64)> = run.equity_curve.iter().copied().filter(|(t, _)| *t >= t_oos).collect();
        let before = run.equity_curve.iter().rev().find(|(t, _)| *t < t_oos).map(|p| p.1).unwrap_or(config.cash);
        let mut prev = before;
        let window_start_equity = equity;
        for (t, e) in &oos {
            if prev > 0.0 {
                equity *= e / prev;
            }
            prev = *e;
            curve.push((*t, equity));
        }
        windows.push(Window {
            in_sample_start: t_is,
            out_of_sample_start: t_oos,
            out_of_sample_end: oos.last().map(|p| p.0).unwrap_or(t_oos),
            best_params: best_row.params.clone(),
            in_sample_score: is_score,
            out_of_sample_return: equity / window_start_equity - 1.0,
        });
        start += out_of_sample;
    }
    let m = metrics::compute(&curve, config.cash, &[], &[], 0, periods_per_year(series), 0.0);
    Ok(WalkForward { metric: metric.into(), windows, equity_curve: curve, metrics: m })
}

/// A heat map: the `x` values (columns), the `y` values (rows) and the metric per cell.
pub type HeatMap = (Vec<f64>, Vec<f64>, Vec<Vec<Option<f64>>>);

/// A two-parameter table of a metric: rows are `y` values, columns `x` values (for heat maps).
pub fn heat_map(rows: &[SweepRow], x: &str, y: &str, metric: &str) -> Result<HeatMap, String> {
    let mut xs: Vec<f64> = rows.iter().filter_map(|r| r.params.get(x).copied()).collect();
    let mut ys: Vec<f64> = rows.iter().filter_map(|r| r.params.get(y).copied()).collect();
    for v in [&mut xs, &mut ys] {
        v.sort_by(|a, b| a.total_cmp(b));
        v.dedup();
    }
    let mut cells: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for r in rows {
        let (Some(px), Some(py)) = (r.params.get(x), r.params.get(y)) else { continue };
        let (Some(i), Some(j)) = (xs.iter().position(|v| v == px), ys.iter().position(|v| v == py)) else { continue };
        cells.insert((j, i), score(&r.metrics, metric)?);
    }
    let table = (0..ys.len()).map(|j| (0..xs.len()).map(|i| cells.get(&(j, i)).copied()).collect()).collect();
    Ok((xs, ys, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_and_grids() {
        assert_eq!(Axis::parse("fast=5:7:1").unwrap().values, vec![5.0, 6.0, 7.0]);
        assert_eq!(Axis::parse("k=1.5,2,2.5").unwrap().values, vec![1.5, 2.0, 2.5]);
        assert!(Axis::parse("fast=7:5:1").is_err());
        assert!(Axis::parse("fast=1:5:0").is_err());
        assert!(Axis::parse("fast").is_err());
        let g = grid(&[Axis::parse("a=1,2").unwrap(), Axis::parse("b=10,20,30").unwrap()]);
        assert_eq!(g.len(), 6);
        assert_eq!((g[0]["a"], g[0]["b"], g[5]["a"], g[5]["b"]), (1.0, 10.0, 2.0, 30.0));
        let axes = [Axis::parse("a=1:100:1").unwrap()];
        let r1 = random(&axes, 10, 7);
        assert_eq!(r1, random(&axes, 10, 7), "seeded");
        assert_eq!(r1.len(), 10);
        let mut seen: Vec<f64> = r1.iter().map(|p| p["a"]).collect();
        seen.dedup();
        assert_eq!(seen.len(), 10, "distinct and sorted");
    }
}
