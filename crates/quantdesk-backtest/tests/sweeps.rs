//! Sweeps and walk-forward runs.

use quantdesk_backtest::sweep::{Axis, grid, heat_map, sweep, walk_forward};
use quantdesk_backtest::{BacktestConfig, Costs, Series, backtest};
use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};

fn walk(n: i64, seed: u64) -> Vec<Series> {
    let mut r = quantdesk_core::rng::Rng::new(seed);
    let mut p = 100.0;
    let bars = (0..n)
        .map(|i| {
            let o = p;
            p *= (r.normal() * 0.015 + 0.0003).exp();
            Bar {
                time: 1_600_000_000 + i * 86_400,
                open: o,
                high: o.max(p) * 1.004,
                low: o.min(p) * 0.996,
                close: p,
                volume: 1.0,
                amount: 0.0,
            }
        })
        .collect();
    let inst = Instrument::with_defaults(Symbol::new("RW").unwrap(), "walk", InstrumentKind::Stock);
    vec![Series { instrument: inst, resolution: Resolution::Day, bars }]
}

fn cfg() -> BacktestConfig {
    BacktestConfig { costs: Costs { commission_rate: 0.001, ..Costs::default() }, ..BacktestConfig::default() }
}

#[test]
fn a_sweep_is_its_runs_in_order_whatever_the_threads() {
    let data = walk(1500, 3);
    let points = grid(&[Axis::parse("fast=5:9:2").unwrap(), Axis::parse("slow=20,30").unwrap()]);
    let one = sweep(&cfg(), &data, "sma_cross", &Default::default(), &points, 1).unwrap();
    let two = sweep(&cfg(), &data, "sma_cross", &Default::default(), &points, 2).unwrap();
    assert_eq!(one, two);
    assert_eq!(one.len(), 6);
    for (row, p) in one.iter().zip(&points) {
        assert_eq!(&row.params, p);
        let single = backtest(&cfg(), &data, "sma_cross", p).unwrap();
        assert_eq!(row.metrics, single.metrics);
        assert_eq!(row.final_equity, single.final_equity);
    }
    let (xs, ys, table) = heat_map(&one, "fast", "slow", "sharpe").unwrap();
    assert_eq!((xs, ys), (vec![5.0, 7.0, 9.0], vec![20.0, 30.0]));
    assert_eq!(table[1][2], Some(one[5].metrics.sharpe), "row slow=30, column fast=9");
    // invalid points are skipped; all invalid is an error
    let bad = grid(&[Axis::parse("fast=30").unwrap(), Axis::parse("slow=20").unwrap()]);
    assert!(sweep(&cfg(), &data, "sma_cross", &Default::default(), &bad, 2).unwrap_err().contains("shorter"));
}

#[test]
fn walk_forward_stitches_out_of_sample_returns() {
    let data = walk(1000, 9);
    let points = grid(&[Axis::parse("fast=5,10").unwrap(), Axis::parse("slow=20,40").unwrap()]);
    let wf = walk_forward(&cfg(), &data, "sma_cross", &Default::default(), &points, 300, 100, "sharpe", 2).unwrap();
    assert_eq!(wf.windows.len(), 7, "starts at 0, 100, …, 600; the last window's out-of-sample is short");
    let times: Vec<i64> = wf.equity_curve.iter().map(|p| p.0).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(times[0], data[0].bars[300].time, "only out-of-sample bars count");
    assert_eq!(times.len(), 700);
    let chained = wf.windows.iter().fold(cfg().cash, |e, w| e * (1.0 + w.out_of_sample_return));
    let last = wf.equity_curve.last().unwrap().1;
    assert!((chained - last).abs() < 1e-6 * last, "{chained} vs {last}");
    // each window's choice is the in-sample best
    let w0 = &wf.windows[0];
    let is_only: Vec<Series> = data.iter().map(|s| Series { bars: s.bars[..300].to_vec(), ..s.clone() }).collect();
    let rows = sweep(&cfg(), &is_only, "sma_cross", &Default::default(), &points, 1).unwrap();
    let best = rows.iter().map(|r| r.metrics.sharpe).fold(f64::MIN, f64::max);
    assert_eq!(w0.in_sample_score, best);
    assert!(walk_forward(&cfg(), &data, "sma_cross", &Default::default(), &points, 300, 100, "luck", 2).is_err());
    assert!(walk_forward(&cfg(), &data, "sma_cross", &Default::default(), &points, 900, 200, "sharpe", 2).is_err());
}
