//! A backtest's result split by market regime: per label of the backtested symbol's bars, the
//! bars in the label and the return, Sharpe ratio and maximum drawdown of the run's equity over
//! those bars, by quantdesk's own metric definitions (`quantdesk_backtest::metrics`).
//!
//! **Which return belongs to which label.** Step `k` of the equity curve (from point `k − 1` to
//! point `k`) belongs to the label of the bar at point `k`'s time: the return earned while that
//! bar formed. A label's steps are chained into one curve (starting at 1), and
//! `metrics::compute` gives its total return, Sharpe ratio and maximum drawdown: the run as if it
//! had held only through that label's bars. A label with no step has no figures.
//!
//! The labels are ex-post (TradeMaster's zero-phase filter sees the whole period): fine to
//! *evaluate* a run, never to drive one.

use std::collections::HashMap;

use quantdesk_backtest::Series;
use quantdesk_backtest::metrics;
use serde::{Deserialize, Serialize};

use super::{Filter, KeyIndicator, Refusal, RegimeOptions, label_bars};

/// One label's share of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimeSplitRow {
    pub label: usize,
    /// Points of the equity curve (bars of the run) whose bar has the label.
    pub bars: usize,
    /// Steps (returns) of the curve that end in a bar of the label.
    pub steps: usize,
    /// The label's steps chained: their compounded return.
    pub total_return: Option<f64>,
    /// Sharpe ratio of the label's step returns (`metrics::compute`, risk-free rate as the run's).
    pub sharpe: Option<f64>,
    /// Deepest drawdown of the chained curve (a negative fraction).
    pub max_drawdown: Option<f64>,
}

/// The per-label figures of an equity curve and the bars' labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFigures {
    /// One row per label `0..dynamics`, labels without bars included.
    pub rows: Vec<RegimeSplitRow>,
    /// Points of the curve whose time has no label.
    pub unlabeled_bars: usize,
}

/// Splits `curve` (time, equity; oldest first) by the label of each point's bar in `labels`
/// (time, label); `dynamics` labels; metrics with `periods_per_year` and `risk_free` (annual).
pub fn split_by_regime(
    curve: &[(i64, f64)],
    labels: &[(i64, Option<usize>)],
    dynamics: usize,
    periods_per_year: f64,
    risk_free: f64,
) -> SplitFigures {
    let by_time: HashMap<i64, usize> = labels.iter().filter_map(|&(t, l)| Some((t, l?))).collect();
    let label_at = |t: i64| by_time.get(&t).copied().filter(|&l| l < dynamics);
    let mut bars = vec![0usize; dynamics];
    // Per label, its chained curve.
    let mut chained: Vec<Vec<(i64, f64)>> = vec![Vec::new(); dynamics];
    let mut unlabeled_bars = 0;
    for (k, &(t, e)) in curve.iter().enumerate() {
        let Some(l) = label_at(t) else {
            unlabeled_bars += 1;
            continue;
        };
        bars[l] += 1;
        if k == 0 {
            continue;
        }
        let prev = curve[k - 1];
        let r = if prev.1 == 0.0 { 0.0 } else { e / prev.1 - 1.0 };
        let c = &mut chained[l];
        let last = match c.last() {
            Some(&(_, v)) => v,
            None => {
                c.push((prev.0, 1.0));
                1.0
            }
        };
        c.push((t, last * (1.0 + r)));
    }
    let rows = (0..dynamics)
        .map(|label| {
            let c = &chained[label];
            let steps = c.len().saturating_sub(1);
            let m = (steps > 0).then(|| metrics::compute(c, 1.0, &[], &[], 0, periods_per_year, risk_free));
            let finite = |x: f64| x.is_finite().then_some(x);
            RegimeSplitRow {
                label,
                bars: bars[label],
                steps,
                total_return: m.as_ref().and_then(|m| finite(m.total_return)),
                sharpe: m.as_ref().and_then(|m| finite(m.sharpe)),
                max_drawdown: m.as_ref().and_then(|m| finite(m.max_drawdown.depth)),
            }
        })
        .collect();
    SplitFigures { rows, unlabeled_bars }
}

/// A backtest's split by regime, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimeSplit {
    /// The symbol whose bars were labeled (the first of a multi-symbol run).
    pub symbol: String,
    /// How many symbols the run traded (more than one: labeled by the first).
    pub symbols: usize,
    /// `zero_phase`: ex-post labels.
    pub filter: Filter,
    /// Number of labels (0 the most bearish).
    pub dynamics: usize,
    /// The figures, absent when the bars could not be labeled.
    #[serde(default)]
    pub figures: Option<SplitFigures>,
    /// Why the bars could not be labeled (e.g. `too_few_bars`).
    #[serde(default)]
    pub refused: Option<Refusal>,
}

/// The split of a run over `series` (the run's bars, first symbol first) with equity `curve`:
/// the first series' closes (already in the run's adjustment) labeled ex-post with the default
/// parameters. A labeling refusal is reported, not raised.
pub fn backtest_split(series: &[Series], curve: &[(i64, f64)], periods_per_year: f64) -> Option<RegimeSplit> {
    let first = series.first()?;
    let o = RegimeOptions::default();
    let mut out = RegimeSplit {
        symbol: first.instrument.symbol.to_string(),
        symbols: series.len(),
        filter: Filter::ZeroPhase,
        dynamics: o.dynamics,
        figures: None,
        refused: None,
    };
    match label_bars(first, KeyIndicator::Adjcp, &o) {
        Ok(report) => {
            out.filter = report.filter;
            let labels: Vec<(i64, Option<usize>)> =
                first.bars.iter().zip(&report.rows).map(|(b, r)| (b.time, r.label)).collect();
            out.figures = Some(split_by_regime(curve, &labels, o.dynamics, periods_per_year, 0.0));
        }
        Err(e) => out.refused = Some(Refusal { code: e.code().into(), message: e.into_message() }),
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// Seven bars: label 1, 2, 0, 2, 0, none, 0; equity steps +10 %, −10 %, +20 %, +5 %, −50 %,
    /// −20 %.
    #[test]
    fn a_hand_computed_split() {
        let t = |i: i64| 1_600_000_000 + i * DAY;
        let mut e = 100.0;
        let mut curve = vec![(t(0), e)];
        for (i, r) in [0.10, -0.10, 0.20, 0.05, -0.50, -0.20].into_iter().enumerate() {
            e *= 1.0 + r;
            curve.push((t(i as i64 + 1), e));
        }
        let labels: Vec<(i64, Option<usize>)> = [Some(1), Some(2), Some(0), Some(2), Some(0), None, Some(0)]
            .into_iter()
            .enumerate()
            .map(|(i, l)| (t(i as i64), l))
            .collect();
        let s = split_by_regime(&curve, &labels, 4, 252.0, 0.0);
        assert_eq!(s.unlabeled_bars, 1);
        assert_eq!(s.rows.iter().map(|r| (r.bars, r.steps)).collect::<Vec<_>>(), [(3, 3), (1, 0), (2, 2), (0, 0)]);
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        // Label 0: −10 %, +5 %, −20 %.
        let r0 = &s.rows[0];
        assert!(close(r0.total_return, 0.9 * 1.05 * 0.8 - 1.0), "{r0:?}");
        let m: f64 = (-0.10 + 0.05 - 0.20) / 3.0;
        let sd = (((-0.10 - m) * (-0.10 - m) + (0.05 - m) * (0.05 - m) + (-0.20 - m) * (-0.20 - m)) / 2.0).sqrt();
        assert!(close(r0.sharpe, m / sd * 252f64.sqrt()), "{r0:?}");
        // The chained curve 1, 0.9, 0.945, 0.756 never regains its start.
        assert!(close(r0.max_drawdown, 0.756 - 1.0), "{r0:?}");
        // Label 2: +10 %, +20 %: no drawdown.
        let r2 = &s.rows[2];
        assert!(close(r2.total_return, 1.1 * 1.2 - 1.0));
        assert!(close(r2.sharpe, 0.15 / 0.005f64.sqrt() * 252f64.sqrt()));
        assert!(close(r2.max_drawdown, 0.0));
        // Label 1 holds only the first bar (no step); label 3 nothing.
        for r in [&s.rows[1], &s.rows[3]] {
            assert_eq!((r.total_return, r.sharpe, r.max_drawdown), (None, None, None));
        }
    }

    #[test]
    fn too_few_bars_are_reported_not_raised() {
        use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};
        let bars: Vec<Bar> = (0..10)
            .map(|i| {
                let p = 10.0 + i as f64;
                Bar { time: i * DAY, open: p, high: p, low: p, close: p, volume: 1.0, amount: p }
            })
            .collect();
        let curve: Vec<(i64, f64)> = bars.iter().map(|b| (b.time, 100.0)).collect();
        let series = Series {
            instrument: Instrument::with_defaults(Symbol::new("T").unwrap(), "", InstrumentKind::Stock),
            resolution: Resolution::Day,
            bars,
        };
        let s = backtest_split(&[series.clone(), series], &curve, 252.0).unwrap();
        assert_eq!((s.symbol.as_str(), s.symbols), ("T", 2));
        assert!(s.figures.is_none());
        assert_eq!(s.refused.unwrap().code, "too_few_bars");
        assert!(backtest_split(&[], &curve, 252.0).is_none());
    }
}
