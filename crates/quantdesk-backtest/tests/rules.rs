//! Market rules, costs, order types and the engine's guarantees, on hand-built bars.

use std::collections::BTreeMap;

use quantdesk_backtest::engine::{Context, Strategy, run};
use quantdesk_backtest::{
    BacktestConfig, ChinaRules, Costs, FillMode, Market, Money, Order, OrderKind, Series, Side, Size, TimeInForce,
    backtest,
};
use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};

fn day(n: i64) -> i64 {
    // 2024-01-01 + n days, 00:00 UTC
    1_704_067_200 + n * 86_400
}

fn bar(n: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
    Bar { time: day(n), open: o, high: h, low: l, close: c, volume: 1e6, amount: 0.0 }
}

fn flat(n: i64, p: f64) -> Bar {
    bar(n, p, p, p, p)
}

fn series(code: &str, name: &str, bars: Vec<Bar>) -> Series {
    let sym = Symbol::new(code).unwrap();
    Series {
        instrument: Instrument::with_defaults(sym, name, InstrumentKind::Stock),
        resolution: Resolution::Day,
        bars,
    }
}

/// Submits the given orders after the bar of the given day.
struct Script(BTreeMap<i64, Vec<Order>>);

impl Strategy for Script {
    fn on_bar(&mut self, ctx: &mut Context<'_>) {
        if let Some(orders) = self.0.remove(&ctx.time()) {
            for o in orders {
                ctx.submit(o);
            }
        }
    }
}

fn script(items: Vec<(i64, Order)>) -> Script {
    let mut m: BTreeMap<i64, Vec<Order>> = BTreeMap::new();
    for (d, o) in items {
        m.entry(day(d)).or_default().push(o);
    }
    Script(m)
}

fn buy(s: &Series, size: Size) -> Order {
    Order::market(&s.instrument.symbol, Side::Buy, size)
}

fn sell(s: &Series, size: Size) -> Order {
    Order::market(&s.instrument.symbol, Side::Sell, size)
}

fn cn(cash: f64, rate: f64) -> BacktestConfig {
    BacktestConfig {
        cash,
        costs: Costs { commission_rate: rate, ..Costs::default() },
        fill: FillMode::NextOpen,
        market: Market::CnA(ChinaRules::default()),
    }
}

#[test]
fn all_in_buys_whole_shares_net_of_commission_at_next_open() {
    let s = series("AAA", "A", vec![flat(0, 10.0), flat(1, 10.0), flat(2, 11.0)]);
    let cfg = BacktestConfig {
        cash: 10_000.0,
        costs: Costs { commission_rate: 0.001, ..Costs::default() },
        ..BacktestConfig::default()
    };
    let out = run(&cfg, std::slice::from_ref(&s), &mut script(vec![(0, buy(&s, Size::AllIn))]));
    // floor(10000 / (10 × 1.001)) = 999
    assert_eq!(out.fills[0].quantity, 999);
    assert_eq!(out.fills[0].time, day(1), "filled at the next bar");
    assert_eq!(out.final_cash, Money::from_f64(10_000.0 - 9_990.0 - 9.99));
    assert!((out.final_equity - (out.final_cash.to_f64() + 999.0 * 11.0)).abs() < 1e-9);
}

#[test]
fn fill_at_close_is_an_explicit_option() {
    let s = series("AAA", "A", vec![bar(0, 9.0, 10.5, 9.0, 10.0), flat(1, 12.0)]);
    let cfg = BacktestConfig { cash: 1_000.0, fill: FillMode::Close, ..BacktestConfig::default() };
    let out = run(&cfg, std::slice::from_ref(&s), &mut script(vec![(0, buy(&s, Size::Shares(10)))]));
    assert_eq!((out.fills[0].time, out.fills[0].price), (day(0), 10.0));
}

#[test]
fn t_plus_one_lots_and_a_share_costs() {
    // 2024: stamp duty 0.05 % (after 2023-08-28)
    let s = series("600000.SH", "浦发银行", vec![flat(0, 10.0), flat(1, 10.0), flat(2, 10.0), flat(3, 10.0)]);
    let orders = vec![
        (0, buy(&s, Size::Shares(250))), // fills day 1: 200 shares (lots of 100)
        (1, sell(&s, Size::Close)),      // fills day 2: allowed (bought day 1)
    ];
    let out = run(&cn(100_000.0, 0.0003), std::slice::from_ref(&s), &mut script(orders));
    assert_eq!(out.fills.len(), 2);
    let (b, x) = (&out.fills[0], &out.fills[1]);
    assert_eq!(b.quantity, 200, "rounded down to board lots");
    // commission 2000 × 0.0003 = 0.6 → 5 CNY minimum; transfer fee 0.02
    assert_eq!(b.commission, Money::units(5));
    assert_eq!(b.taxes, Money::from_f64(0.02));
    // sell: 5 minimum, stamp duty 2000 × 0.0005 = 1.0, transfer 0.02
    assert_eq!(x.taxes, Money::from_f64(1.02));
    assert_eq!(out.final_cash, Money::from_f64(100_000.0 - 5.0 - 0.02 - 5.0 - 1.02));

    // selling on the day of the purchase is refused under T+1
    let s2 = series("600000.SH", "浦发银行", vec![flat(0, 10.0), flat(1, 10.0), flat(2, 10.0)]);
    let cfg = BacktestConfig { fill: FillMode::Close, ..cn(100_000.0, 0.0003) };
    let out = run(
        &cfg,
        std::slice::from_ref(&s2),
        &mut script(vec![(0, buy(&s2, Size::Shares(100))), (0, sell(&s2, Size::Close))]),
    );
    assert_eq!(out.fills.len(), 1, "the same-day sell did not fill");
    // with T+1 off it does
    let rules = ChinaRules { t_plus_1: false, ..ChinaRules::default() };
    let cfg = BacktestConfig { fill: FillMode::Close, market: Market::CnA(rules), ..cn(100_000.0, 0.0003) };
    let out = run(
        &cfg,
        std::slice::from_ref(&s2),
        &mut script(vec![(0, buy(&s2, Size::Shares(100))), (0, sell(&s2, Size::Close))]),
    );
    assert_eq!(out.fills.len(), 2);
}

#[test]
fn stamp_duty_changed_on_2023_08_28() {
    let m = Market::CnA(ChinaRules::default());
    assert_eq!(m.stamp_duty_rate("2023-08-25".parse().unwrap()), 0.001);
    assert_eq!(m.stamp_duty_rate("2023-08-28".parse().unwrap()), 0.0005);
    assert_eq!(Market::Generic.stamp_duty_rate("2020-01-01".parse().unwrap()), 0.0);
}

#[test]
fn no_buy_at_limit_up_no_sell_at_limit_down() {
    // day 1 opens at +10 % (limit up); day 2 normal; day 3 opens at −10 % from day 2
    let s = series("600000.SH", "浦发银行", vec![flat(0, 10.0), flat(1, 11.0), flat(2, 11.0), flat(3, 9.9)]);
    let orders = vec![(0, buy(&s, Size::Shares(100))), (1, buy(&s, Size::Shares(100))), (2, sell(&s, Size::Close))];
    let out = run(&cn(100_000.0, 0.0), std::slice::from_ref(&s), &mut script(orders));
    assert_eq!(out.fills.len(), 1, "{:?}", out.rejections);
    assert_eq!(out.fills[0].time, day(2), "the limit-up open did not fill; the next day's did");
    assert!(out.rejections.iter().any(|r| r.2 == quantdesk_backtest::engine::Rejection::LimitUp));
    assert!(out.rejections.iter().any(|r| r.2 == quantdesk_backtest::engine::Rejection::LimitDown));
    // STAR lots: 200 minimum, then steps of 1
    let star = series("688111.SH", "芯片", vec![flat(0, 10.0), flat(1, 10.0)]);
    let out =
        run(&cn(100_000.0, 0.0), std::slice::from_ref(&star), &mut script(vec![(0, buy(&star, Size::Shares(250)))]));
    assert_eq!(out.fills[0].quantity, 250);
    let out =
        run(&cn(100_000.0, 0.0), std::slice::from_ref(&star), &mut script(vec![(0, buy(&star, Size::Shares(150)))]));
    assert!(out.fills.is_empty());
}

#[test]
fn chinext_limits_widened_on_2020_08_24() {
    let at = |date: &str, p: f64| {
        let t = date.parse::<chrono::NaiveDate>().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        Bar { time: t, open: p, high: p, low: p, close: p, volume: 1.0, amount: 0.0 }
    };
    for (d0, d1, fills) in [("2019-06-03", "2019-06-04", false), ("2021-06-01", "2021-06-02", true)] {
        // the next day opens 15 % up: above a 10 % limit, below a 20 % one
        let s = series("300059.SZ", "东方财富", vec![at(d0, 10.0), at(d1, 11.5)]);
        let t0 = s.bars[0].time;
        let mut sc = Script(BTreeMap::from([(t0, vec![buy(&s, Size::Shares(100))])]));
        let out = run(&cn(100_000.0, 0.0), std::slice::from_ref(&s), &mut sc);
        assert_eq!(!out.fills.is_empty(), fills, "{d1}");
    }
}

#[test]
fn suspended_days_fill_nothing_and_gtc_waits() {
    // no bar on day 1 and 2 (suspension); a day order placed on day 0 fills on the next bar (day 3)
    let s = series("AAA", "A", vec![flat(0, 10.0), flat(3, 12.0)]);
    let out =
        run(&BacktestConfig::default(), std::slice::from_ref(&s), &mut script(vec![(0, buy(&s, Size::Shares(1)))]));
    assert_eq!(out.fills[0].time, day(3));
    // limit orders: a buy limit below the market waits (GTC) until the price comes down
    let s = series("AAA", "A", vec![flat(0, 10.0), bar(1, 10.0, 10.2, 9.8, 10.0), bar(2, 9.7, 9.9, 9.0, 9.2)]);
    let limit = Order {
        symbol: s.instrument.symbol.clone(),
        side: Side::Buy,
        size: Size::Shares(1),
        kind: OrderKind::Limit(9.5),
        tif: TimeInForce::Gtc,
    };
    let out = run(&BacktestConfig::default(), std::slice::from_ref(&s), &mut script(vec![(0, limit.clone())]));
    assert_eq!((out.fills[0].time, out.fills[0].price), (day(2), 9.5));
    let day_only = Order { tif: TimeInForce::Day, ..limit };
    let out = run(&BacktestConfig::default(), std::slice::from_ref(&s), &mut script(vec![(0, day_only)]));
    assert!(out.fills.is_empty(), "a day order expires after its bar");
    // a sell stop triggers on the fall and fills at the stop (or the open, if it gaps through)
    let stop = |p| Order {
        symbol: s.instrument.symbol.clone(),
        side: Side::Sell,
        size: Size::Close,
        kind: OrderKind::Stop(p),
        tif: TimeInForce::Gtc,
    };
    let out = run(
        &BacktestConfig::default(),
        std::slice::from_ref(&s),
        &mut script(vec![(0, buy(&s, Size::Shares(5))), (1, stop(9.6))]),
    );
    assert_eq!((out.fills[1].time, out.fills[1].price), (day(2), 9.6), "triggered during the bar: filled at the stop");
    let out = run(
        &BacktestConfig::default(),
        std::slice::from_ref(&s),
        &mut script(vec![(0, buy(&s, Size::Shares(5))), (1, stop(9.8))]),
    );
    assert_eq!((out.fills[1].time, out.fills[1].price), (day(2), 9.7), "gapped below the stop: filled at the open");
}

#[test]
fn slippage_and_per_share_and_minimum_commission() {
    let s = series("AAA", "A", vec![flat(0, 100.0), flat(1, 100.0)]);
    let cfg = BacktestConfig {
        cash: 100_000.0,
        costs: Costs {
            commission_rate: 0.0,
            commission_per_share: 0.01,
            min_commission: 1.0,
            slippage_bps: 10.0,
            slippage_ticks: 1.0,
            force: false,
        },
        ..BacktestConfig::default()
    };
    let out = run(&cfg, std::slice::from_ref(&s), &mut script(vec![(0, buy(&s, Size::Shares(10)))]));
    assert!((out.fills[0].price - (100.0 * 1.001 + 0.01)).abs() < 1e-12);
    assert_eq!(out.fills[0].commission, Money::units(1), "0.10 per-share commission lifted to the 1.00 minimum");
}

#[test]
fn long_short_and_target_weights_in_generic_markets() {
    let a = series("AAA", "A", vec![flat(0, 10.0), flat(1, 10.0), flat(2, 8.0), flat(3, 8.0)]);
    let b = series("BBB", "B", vec![flat(0, 20.0), flat(1, 20.0), flat(2, 20.0), flat(3, 20.0)]);
    let both = vec![a.clone(), b.clone()];
    let orders = vec![
        (0, Order::market(&a.instrument.symbol, Side::Sell, Size::Shares(100))), // short 100 at 10
        (0, Order::market(&b.instrument.symbol, Side::Buy, Size::TargetWeight(0.5))),
        (2, Order::market(&a.instrument.symbol, Side::Buy, Size::Close)), // cover at 8
    ];
    let out = run(&BacktestConfig { cash: 10_000.0, ..BacktestConfig::default() }, &both, &mut script(orders));
    let short = out.trades.iter().find(|t| t.symbol.as_str() == "AAA").unwrap();
    assert_eq!((short.direction, short.quantity), (-1, 100));
    assert_eq!(short.pnl, Money::units(200), "sold at 10, bought back at 8");
    let long_b = out.fills.iter().find(|f| f.symbol.as_str() == "BBB").unwrap();
    assert_eq!(long_b.quantity, 250, "half of 10,000 equity at 20");
    // A-shares cannot go short
    let out = run(&cn(10_000.0, 0.0), std::slice::from_ref(&a), &mut script(vec![(0, sell(&a, Size::Shares(100)))]));
    assert!(out.fills.is_empty());
}

fn random_walk(seed: u64, n: i64) -> Series {
    let mut r = quantdesk_core::rng::Rng::new(seed);
    let mut p = 100.0;
    let bars = (0..n)
        .map(|i| {
            let o = p;
            p *= 1.0 + r.normal() * 0.02;
            let (h, l) = (o.max(p) * 1.005, o.min(p) * 0.995);
            bar(i, o, h, l, p)
        })
        .collect();
    series("RW", "walk", bars)
}

#[test]
fn same_inputs_give_bit_identical_results() {
    let s = vec![random_walk(5, 600)];
    let params = [("fast".to_string(), 5.0), ("slow".to_string(), 20.0)].into_iter().collect();
    let cfg =
        BacktestConfig { costs: Costs { commission_rate: 0.001, ..Costs::default() }, ..BacktestConfig::default() };
    let a = backtest(&cfg, &s, "sma_cross", &params).unwrap();
    let b = backtest(&cfg, &s, "sma_cross", &params).unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    assert!(a.metrics.trades > 5, "the walk trades");
    assert_eq!(a.data_fingerprint.len(), 16);
    assert!(a.engine_version.starts_with("quantdesk-backtest"));
    let other = vec![random_walk(6, 600)];
    assert_ne!(backtest(&cfg, &other, "sma_cross", &params).unwrap().data_fingerprint, a.data_fingerprint);
}

#[test]
fn no_decision_before_t_depends_on_bars_after_t() {
    let base = random_walk(11, 500);
    let cut = 300;
    let mut changed = base.clone();
    let mut r = quantdesk_core::rng::Rng::new(99);
    for b in &mut changed.bars[cut..] {
        let k = 0.5 + r.uniform();
        b.open *= k;
        b.high *= k * 1.01;
        b.low *= k * 0.99;
        b.close *= k;
    }
    for strategy in ["sma_cross", "rsi", "macd", "bollinger", "buy_and_hold", "voting"] {
        let cfg =
            BacktestConfig { costs: Costs { commission_rate: 0.001, ..Costs::default() }, ..BacktestConfig::default() };
        let params = BTreeMap::new();
        let a = backtest(&cfg, std::slice::from_ref(&base), strategy, &params).unwrap();
        let b = backtest(&cfg, std::slice::from_ref(&changed), strategy, &params).unwrap();
        let t = base.bars[cut].time;
        // every fill before T (orders decided on bars before T) is the same
        let before = |r: &quantdesk_backtest::BacktestResult| {
            r.trades
                .iter()
                .filter(|x| x.entry_time < t)
                .map(|x| (x.entry_time, x.entry_price, x.quantity))
                .collect::<Vec<_>>()
        };
        assert_eq!(before(&a), before(&b), "{strategy}");
        assert_eq!(a.equity_curve[..cut], b.equity_curve[..cut], "{strategy}: equity before T");
    }
}

#[test]
fn absurd_prices_cannot_overflow_quantities() {
    let s = series("AAA", "A", vec![flat(0, 1e-12), flat(1, 1e-12), flat(2, 1e-12)]);
    let out = run(&BacktestConfig::default(), std::slice::from_ref(&s), &mut script(vec![(0, buy(&s, Size::AllIn))]));
    assert_eq!(out.fills[0].quantity, quantdesk_backtest::engine::MAX_QUANTITY);
    assert!(out.final_equity > 0.0);
}

#[test]
fn unknown_strategies_and_parameters_are_refused() {
    let s = vec![random_walk(1, 10)];
    let cfg = BacktestConfig::default();
    let p = |k: &str, v: f64| [(k.to_string(), v)].into_iter().collect::<BTreeMap<_, _>>();
    assert!(backtest(&cfg, &s, "moon_phase", &BTreeMap::new()).unwrap_err().to_string().contains("unknown strategy"));
    assert!(backtest(&cfg, &s, "sma_cross", &p("fsat", 3.0)).unwrap_err().to_string().contains("no parameter"));
    assert!(backtest(&cfg, &s, "sma_cross", &p("fast", 30.0)).unwrap_err().to_string().contains("shorter"));
    assert!(backtest(&cfg, &s, "rsi", &p("period", 0.5)).unwrap_err().to_string().contains("whole number"));
}
