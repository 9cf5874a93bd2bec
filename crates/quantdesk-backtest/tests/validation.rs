//! What a backtest refuses before it runs (issue 21, items 2 and 3): costs that cannot describe a
//! market, and parameters outside their strategy's declaration. Each of these ran before and
//! produced an impossible result or silently used a default.

use quantdesk_backtest::strategy::{BUILT_IN, ParamKind, Params, check, parameters};
use quantdesk_backtest::{BacktestConfig, BacktestError, Costs, Series, backtest, metrics};
use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};

fn series(closes: &[f64]) -> Series {
    let bars = closes
        .iter()
        .enumerate()
        .map(|(i, &c)| Bar {
            time: 1_704_067_200 + i as i64 * 86_400,
            open: c,
            high: c,
            low: c,
            close: c,
            volume: 1e6,
            amount: 0.0,
        })
        .collect();
    Series {
        instrument: Instrument::with_defaults(Symbol::new("AAA").unwrap(), "A", InstrumentKind::Stock),
        resolution: Resolution::Day,
        bars,
    }
}

/// A zig-zag that makes an SMA(2)/SMA(4) cross trade several times.
fn zigzag() -> Series {
    let closes: Vec<f64> = (0..120).map(|i| 10.0 + ((i / 6) % 2) as f64 * 3.0 + (i % 6) as f64 * 0.1).collect();
    series(&closes)
}

fn params(kv: &[(&str, f64)]) -> Params {
    kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn with_rate(rate: f64, force: bool) -> BacktestConfig {
    BacktestConfig { costs: Costs { commission_rate: rate, force, ..Costs::default() }, ..BacktestConfig::default() }
}

#[test]
fn a_commission_of_500_percent_is_refused_naming_the_field() {
    let e = with_rate(5.0, false).validate().unwrap_err();
    assert_eq!(e.field, "costs.commission_rate");
    assert!(e.message.contains("0.1") && e.message.contains("force"), "{}", e.message);
    let err = backtest(&with_rate(5.0, false), &[zigzag()], "sma_cross", &params(&[("fast", 2.0), ("slow", 4.0)]))
        .unwrap_err();
    assert!(matches!(err, BacktestError::InvalidConfig(_)), "{err:?}");
    // Even forced, a rate above 100 % is refused; 10 % is the largest unforced rate.
    assert!(with_rate(5.0, true).validate().is_err());
    assert!(with_rate(0.1, false).validate().is_ok());
    assert!(with_rate(0.1000001, false).validate().is_err());
    for (field, cfg) in [
        ("cash", BacktestConfig { cash: 0.0, ..BacktestConfig::default() }),
        ("cash", BacktestConfig { cash: f64::NAN, ..BacktestConfig::default() }),
        ("costs.commission_rate", with_rate(-0.001, false)),
        (
            "costs.slippage_bps",
            BacktestConfig {
                costs: Costs { slippage_bps: f64::INFINITY, ..Costs::default() },
                ..BacktestConfig::default()
            },
        ),
        (
            "costs.min_commission",
            BacktestConfig { costs: Costs { min_commission: -5.0, ..Costs::default() }, ..BacktestConfig::default() },
        ),
    ] {
        assert_eq!(cfg.validate().unwrap_err().field, field);
    }
}

#[test]
fn a_forced_high_commission_never_drives_a_long_only_run_below_zero() {
    // 50 % per side, forced: every buy is sized so that price × quantity + costs fits the cash,
    // and a sell's proceeds stay positive, so the account never owes money.
    let r =
        backtest(&with_rate(0.5, true), &[zigzag()], "sma_cross", &params(&[("fast", 2.0), ("slow", 4.0)])).unwrap();
    assert!(r.metrics.trades >= 3, "the zig-zag trades: {}", r.metrics.trades);
    assert!(r.final_cash.to_f64() >= 0.0 && r.final_equity >= 0.0, "{} {}", r.final_cash.to_f64(), r.final_equity);
    assert!(r.equity_curve.iter().all(|&(_, e)| e >= 0.0), "equity never negative");
    assert!(r.metrics.total_return >= -1.0 && r.metrics.max_drawdown.depth >= -1.0);
}

#[test]
fn every_declared_parameter_is_checked_by_kind_and_range() {
    for name in BUILT_IN {
        let specs = parameters(name).unwrap();
        // The defaults are accepted, and so is the declaration's every bound on its own …
        check(name, &Params::new()).unwrap_or_else(|e| panic!("{name} defaults: {e}"));
        for s in specs {
            // … and a value just outside each bound, a NaN and an infinity are refused naming
            // the parameter (a value that broke a rule between parameters names its partner).
            for bad in [s.min - 1.0, s.max + 1.0, f64::NAN, f64::INFINITY] {
                let e = check(name, &params(&[(s.name, bad)])).unwrap_err();
                assert_eq!(e.field.as_deref(), Some(s.name), "{name}.{} = {bad}: {}", s.name, e.message);
            }
            if s.kind == ParamKind::Integer {
                let e = check(name, &params(&[(s.name, s.default + 0.5)])).unwrap_err();
                assert_eq!(e.field.as_deref(), Some(s.name), "{name}.{}: a fraction", s.name);
            }
        }
        let e = check(name, &params(&[("nonsense", 1.0)])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nonsense"));
    }
    let e = check("sma_cross", &params(&[("fast", 30.0), ("slow", 20.0)])).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("fast"));
    let e = check("macd", &params(&[("fast", 26.0), ("slow", 12.0)])).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("fast"), "MACD's fast line is the shorter one");
    let e = check("rsi", &params(&[("lower", 70.0), ("upper", 30.0)])).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("lower"));
    let e = check("moon", &Params::new()).unwrap_err();
    assert_eq!(e.field, None);
}

#[test]
fn a_run_without_a_losing_trade_has_an_infinite_profit_factor() {
    // Down, then up (the fast average crosses above: buy at 14), then a dip from 22 (crosses
    // below: sell near 21): one trade, and it wins.
    let closes = [
        20.0, 19.0, 18.0, 17.0, 16.0, 15.0, 14.0, 13.0, 12.0, 11.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 21.0, 20.0,
        19.0,
    ];
    let r =
        backtest(&BacktestConfig::default(), &[series(&closes)], "sma_cross", &params(&[("fast", 2.0), ("slow", 3.0)]))
            .unwrap();
    assert_eq!((r.metrics.trades, r.metrics.win_rate), (1, 1.0), "{:?}", r.trades);
    assert_eq!(r.metrics.profit_factor, f64::INFINITY);
    let back: quantdesk_backtest::Metrics = serde_json::from_str(&serde_json::to_string(&r.metrics).unwrap()).unwrap();
    assert_eq!(metrics::shown(back.profit_factor_value(), 3), "∞", "also after JSON, where it is null");
    let none = backtest(&BacktestConfig::default(), &[series(&[10.0; 30])], "buy_and_hold", &Params::new()).unwrap();
    assert_eq!(none.metrics.trades, 0);
    assert!(none.metrics.profit_factor.is_nan(), "no trade: undefined, shown as —");
    assert_eq!(metrics::shown(none.metrics.profit_factor_value(), 3), "—");
}

#[test]
fn a_flat_month_is_not_coloured_as_a_loss_in_the_report() {
    // Issue 21, item 14: 0.0 % months were classed "down" (−0.0 after rounding).
    let closes: Vec<f64> = (0..70).map(|i| if i < 35 { 10.0 } else { 10.0 - 1e-7 }).collect();
    let r = backtest(&BacktestConfig::default(), &[series(&closes)], "buy_and_hold", &Params::new()).unwrap();
    let html = quantdesk_backtest::report::html(&r, "flat", None);
    assert!(html.contains(r#"<td class="flat">0.0</td>"#), "{html}");
    assert!(!html.contains(r#"<td class="down">-0.0</td>"#) && !html.contains(r#"<td class="down">0.0</td>"#));
}
