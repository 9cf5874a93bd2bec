//! The single-series loop that `backtest` and `sweep` take for per-symbol strategies gives the
//! general event loop's results bit for bit, under every market profile and fill mode.

use quantdesk_backtest::sweep::{Axis, grid, sweep};
use quantdesk_backtest::{BacktestConfig, ChinaRules, Costs, FillMode, Market, Series, backtest, run_with, strategy};
use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};

fn walk(code: &str, n: i64, seed: u64, resolution: Resolution, step: i64, vol: f64) -> Series {
    let mut r = quantdesk_core::rng::Rng::new(seed);
    let mut p = 20.0;
    let bars = (0..n)
        .map(|i| {
            let o = p;
            p *= (r.normal() * vol).exp();
            let time = 1_600_000_000 + 3600 + i * step;
            Bar { time, open: o, high: o.max(p) * 1.004, low: o.min(p) * 0.996, close: p, volume: 1.0, amount: 0.0 }
        })
        .collect();
    let instrument = Instrument::with_defaults(Symbol::new(code).unwrap(), "walk", InstrumentKind::Stock);
    Series { instrument, resolution, bars }
}

fn params(kv: &[(&str, f64)]) -> strategy::Params {
    kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn configs() -> Vec<BacktestConfig> {
    let costs = Costs { commission_rate: 0.001, ..Costs::default() };
    vec![
        BacktestConfig::default(),
        BacktestConfig { costs, ..BacktestConfig::default() },
        BacktestConfig {
            cash: 12_345.67,
            costs: Costs {
                commission_rate: 0.0003,
                commission_per_share: 0.01,
                min_commission: 2.0,
                slippage_bps: 5.0,
                slippage_ticks: 1.0,
                force: false,
            },
            fill: FillMode::Close,
            market: Market::Generic,
        },
        BacktestConfig { costs, market: Market::CnA(ChinaRules::default()), ..BacktestConfig::default() },
        BacktestConfig { cash: 3000.0, costs, fill: FillMode::Close, market: Market::CnA(ChinaRules::default()) },
    ]
}

#[test]
fn backtest_equals_the_general_loop() {
    let data = [
        walk("RW", 2500, 1, Resolution::Day, 86_400, 0.03),
        walk("600000.SH", 1500, 2, Resolution::Day, 86_400, 0.04),
        walk("688001.SH", 700, 3, Resolution::Day, 86_400, 0.05),
        walk("300750.SZ", 1200, 4, Resolution::Minutes(60), 3600, 0.01),
        walk("RW", 15, 5, Resolution::Day, 86_400, 0.02),
        walk("RW", 0, 6, Resolution::Day, 86_400, 0.02),
    ];
    let strategies = [
        ("sma_cross", params(&[])),
        ("sma_cross", params(&[("fast", 1.0), ("slow", 2.0)])),
        ("sma_cross", params(&[("fast", 3.0), ("slow", 1030.0)])),
        ("rsi", params(&[])),
        ("macd", params(&[])),
        ("bollinger", params(&[])),
        ("buy_and_hold", params(&[])),
    ];
    for cfg in configs() {
        for series in &data {
            let series = std::slice::from_ref(series);
            for (name, p) in &strategies {
                let fast = backtest(&cfg, series, name, p).unwrap();
                let general = run_with(&cfg, series, name, p, &mut *strategy::build(name, p).unwrap(), None);
                assert_eq!(
                    serde_json::to_string(&fast).unwrap(),
                    serde_json::to_string(&general).unwrap(),
                    "{name} {p:?} on {} bars with {cfg:?}",
                    series[0].bars.len()
                );
            }
        }
    }
}

#[test]
fn sweep_rows_equal_general_runs() {
    let data = vec![walk("RW", 3000, 7, Resolution::Day, 86_400, 0.02)];
    let points = grid(&[Axis::parse("fast=2:12:5").unwrap(), Axis::parse("slow=15,20,1100").unwrap()]);
    for cfg in configs() {
        let rows = sweep(&cfg, &data, "sma_cross", &Default::default(), &points, 2).unwrap();
        assert_eq!(rows.len(), points.len());
        for (row, p) in rows.iter().zip(&points) {
            let general = run_with(&cfg, &data, "sma_cross", p, &mut *strategy::build("sma_cross", p).unwrap(), None);
            assert_eq!(row.metrics, general.metrics, "{p:?} with {cfg:?}");
            assert_eq!(row.final_equity.to_bits(), general.final_equity.to_bits());
        }
    }
}
