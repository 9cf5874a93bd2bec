//! Correctness anchors: the same trades and final equity as backtesting.py (0.6.6) on real data.
//! The expected values in tests/golden were produced with backtesting.py; its code is not here.

use quantdesk_backtest::{BacktestConfig, Costs, FillMode, Market, Series, backtest};
use quantdesk_core::{Instrument, InstrumentKind, Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap, parse_bars};
use serde_json::Value;

fn fixtures() -> Option<std::path::PathBuf> {
    match std::env::var("QUANTDESK_FIXTURES") {
        Ok(p) if !p.is_empty() => Some(p.into()),
        _ => {
            if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
                panic!(
                    "QUANTDESK_FIXTURES is not set, and QUANTDESK_TEST_REQUIRE_ALL (set by .ci/run) forbids skipping the anchors on real data"
                );
            }
            eprintln!("skipped: QUANTDESK_FIXTURES is not set (the anchors on real data)");
            None
        }
    }
}

fn load(path: &std::path::Path, symbol: &str) -> Series {
    let opts = BarImportOptions {
        file_name: path.display().to_string(),
        symbol: Some(Symbol::new(symbol).unwrap()),
        resolution: Resolution::Day,
        timezone: None,
        columns: ColumnMap::default(),
    };
    let parsed = parse_bars(std::fs::File::open(path).unwrap(), &opts, &mut |_| {}).unwrap();
    let (sym, data) = parsed.series.into_iter().next().unwrap();
    Series {
        instrument: Instrument::with_defaults(sym, symbol, InstrumentKind::Stock),
        resolution: Resolution::Day,
        bars: data.bars,
    }
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap().date_naive().to_string()
}

fn check(file: &str, symbol: &str, golden: &str, fast: f64, slow: f64) {
    let Some(root) = fixtures() else { return };
    let series = vec![load(&root.join(file), symbol)];
    let want: Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let cfg = BacktestConfig {
        cash: 100_000.0,
        costs: Costs { commission_rate: 0.001, ..Costs::default() },
        fill: FillMode::NextOpen,
        market: Market::Generic,
    };
    let params = [("fast".to_string(), fast), ("slow".to_string(), slow)].into_iter().collect();
    let got = backtest(&cfg, &series, "sma_cross", &params).unwrap();
    let closed: Vec<_> = got.trades.iter().filter(|t| t.exit_time.is_some()).collect();
    let open: Vec<_> = got.trades.iter().filter(|t| t.exit_time.is_none()).collect();
    assert_eq!(closed.len() as u64, want["closed_trades"].as_u64().unwrap(), "closed trades");
    assert_eq!(open.len() as u64, want["open_trades"].as_u64().unwrap(), "open trades");
    for (i, (g, w)) in got.trades.iter().zip(want["trades"].as_array().unwrap()).enumerate() {
        assert_eq!(date(g.entry_time), w["entry_time"].as_str().unwrap(), "trade {i} entry");
        assert_eq!(g.entry_price, w["entry_price"].as_f64().unwrap(), "trade {i} entry price");
        assert_eq!(g.quantity, w["size"].as_u64().unwrap(), "trade {i} size");
        match w["exit_time"].as_str() {
            Some(exit) => {
                assert_eq!(g.exit_time.map(date).as_deref(), Some(exit), "trade {i} exit");
                assert_eq!(g.exit_price, w["exit_price"].as_f64(), "trade {i} exit price");
                let pnl = w["pnl"].as_f64().unwrap();
                assert!((g.pnl.to_f64() - pnl).abs() <= 1e-6 * pnl.abs().max(1.0), "trade {i} pnl {} vs {pnl}", g.pnl);
            }
            None => assert_eq!(g.exit_time, None, "trade {i} is still open"),
        }
    }
    let fe = want["final_equity"].as_f64().unwrap();
    assert!((got.final_equity - fe).abs() <= 1e-6 * fe, "final equity {} vs {fe}", got.final_equity);
}

#[test]
fn goog_sma_10_20_matches_backtesting_py() {
    check("us/goog_1d.csv", "GOOG", "tests/golden/goog_sma_10_20.json", 10.0, 20.0);
}

#[test]
fn btc_sma_5_30_matches_backtesting_py() {
    check("crypto/btc_1d.csv", "BTC-USD", "tests/golden/btc_sma_5_30.json", 5.0, 30.0);
}

/// Every metric with an empyrical counterpart, on the GOOG run's daily returns, against values
/// produced with empyrical-reloaded 0.7.1 (tests/golden/goog_sma_10_20_empyrical.json). CAGR and
/// Calmar differ by definition (calendar days here, 252 periods a year there) and are checked
/// against the calendar formula instead.
#[test]
fn goog_metrics_match_empyrical() {
    let Some(root) = fixtures() else { return };
    let series = vec![load(&root.join("us/goog_1d.csv"), "GOOG")];
    let cfg = BacktestConfig {
        cash: 100_000.0,
        costs: Costs { commission_rate: 0.001, ..Costs::default() },
        fill: FillMode::NextOpen,
        market: Market::Generic,
    };
    let params = [("fast".to_string(), 10.0), ("slow".to_string(), 20.0)].into_iter().collect();
    let m = backtest(&cfg, &series, "sma_cross", &params).unwrap().metrics;
    let e: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/golden/goog_sma_10_20_empyrical.json").unwrap()).unwrap();
    let close = |name: &str, got: f64, want: f64| {
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1e-9), "{name}: {got} vs empyrical {want}");
    };
    close("sharpe", m.sharpe, e["sharpe"].as_f64().unwrap());
    close("sortino", m.sortino, e["sortino"].as_f64().unwrap());
    close("annual volatility", m.annual_volatility, e["annual_volatility"].as_f64().unwrap());
    close("max drawdown", m.max_drawdown.depth, e["max_drawdown"].as_f64().unwrap());
    close("VaR 95", -m.var_95, e["var_95"].as_f64().unwrap());
    close("VaR 99", -m.var_99, e["var_99"].as_f64().unwrap());
    close("CVaR 95", -m.cvar_95, e["cvar_95"].as_f64().unwrap());
    close("CVaR 99", -m.cvar_99, e["cvar_99"].as_f64().unwrap());
    close("skew", m.skew, e["skew"].as_f64().unwrap());
    close("kurtosis", m.kurtosis, e["kurtosis"].as_f64().unwrap());
    // 2004-08-19 .. 2013-03-01 is 3,116 calendar days
    close("CAGR (calendar)", m.cagr, (1.0 + m.total_return).powf(365.25 / 3116.0) - 1.0);
    close("Calmar (calendar)", m.calmar, m.cagr / m.max_drawdown.depth.abs());

    // alpha and beta against GOOG itself (buy and hold), as empyrical.alpha_beta computes them
    let mut result = backtest(&cfg, &series, "sma_cross", &params).unwrap();
    let bench: Vec<(i64, f64)> = series[0].bars.iter().map(|b| (b.time, b.close)).collect();
    quantdesk_backtest::attach_benchmark(&mut result, &bench, 252.0);
    let ab: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/golden/goog_sma_10_20_alpha_beta.json").unwrap()).unwrap();
    close("alpha", result.metrics.alpha.unwrap(), ab["alpha"].as_f64().unwrap());
    close("beta", result.metrics.beta.unwrap(), ab["beta"].as_f64().unwrap());
}
