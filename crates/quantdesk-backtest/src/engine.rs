//! The event loop: bars in time order across symbols, orders filled by the rules of the market,
//! one shared cash account, every booked amount exact.

use chrono::NaiveDate;
use quantdesk_core::resample::trading_date;
use quantdesk_core::{Bar, Instrument, Resolution, Symbol};
use serde::{Deserialize, Serialize};

use crate::config::{BacktestConfig, FillMode, Market};
use crate::metrics::TradeStats;
use crate::money::Money;
use crate::order::{Order, OrderKind, Side, Size, TimeInForce};

/// One instrument's bars, ascending.
#[derive(Debug, Clone)]
pub struct Series {
    pub instrument: Instrument,
    pub resolution: Resolution,
    pub bars: Vec<Bar>,
}

/// What a strategy sees at each step: the past and present, never the future.
pub struct Context<'a> {
    time: i64,
    series: &'a [Series],
    seen: &'a [usize],
    updated: &'a [bool],
    positions: &'a [i64],
    cash: Money,
    equity: f64,
    orders: Vec<Order>,
}

impl Context<'_> {
    /// The current time (Unix seconds): the opening instant of the bars just completed.
    pub fn time(&self) -> i64 {
        self.time
    }
    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
    pub fn symbol(&self, i: usize) -> &Symbol {
        &self.series[i].instrument.symbol
    }
    /// Bars of series `i` up to and including the current one.
    pub fn bars(&self, i: usize) -> &[Bar] {
        &self.series[i].bars[..self.seen[i]]
    }
    /// Did series `i` get a new bar at this step?
    pub fn updated(&self, i: usize) -> bool {
        self.updated[i]
    }
    /// Signed position in shares.
    pub fn position(&self, i: usize) -> i64 {
        self.positions[i]
    }
    pub fn cash(&self) -> f64 {
        self.cash.to_f64()
    }
    pub fn equity(&self) -> f64 {
        self.equity
    }
    pub fn submit(&mut self, order: Order) {
        self.orders.push(order);
    }
    /// A market order on series `i`.
    pub fn market(&mut self, i: usize, side: Side, size: Size) {
        let o = Order::market(&self.series[i].instrument.symbol, side, size);
        self.orders.push(o);
    }
}

/// A strategy: looks at the context, submits orders.
pub trait Strategy {
    fn on_bar(&mut self, ctx: &mut Context<'_>);
}

/// One executed fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    pub symbol: Symbol,
    pub time: i64,
    pub side: Side,
    pub quantity: u64,
    pub price: f64,
    pub commission: Money,
    pub taxes: Money,
}

/// A round trip: from a flat position to a position and back to flat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub symbol: Symbol,
    /// 1 for long, −1 for short.
    pub direction: i8,
    pub entry_time: i64,
    /// Average entry price.
    pub entry_price: f64,
    pub exit_time: Option<i64>,
    /// Average exit price; for an open trade, the last close.
    pub exit_price: Option<f64>,
    /// Shares opened.
    pub quantity: u64,
    /// Net of every cost; for an open trade, marked to the last close.
    pub pnl: Money,
    /// Commissions and taxes paid on entry and exit.
    pub costs: Money,
}

#[derive(Debug, Clone)]
struct OpenTrade {
    direction: i8,
    entry_time: i64,
    entry_qty: u64,
    /// Quantity-weighted average prices, updated so that one fill's average is its price exactly.
    entry_avg: f64,
    exit_qty: u64,
    exit_avg: f64,
    costs: Money,
    /// P&L booked by partial exits.
    realised: Money,
}

/// Why an order did not fill (kept for reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    NoCash,
    LimitUp,
    LimitDown,
    TPlusOne,
    NoShort,
    BelowLot,
    Expired,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub final_cash: Money,
    pub final_equity: f64,
    pub equity_curve: Vec<(i64, f64)>,
    /// Bars (steps) with a non-zero position in any symbol.
    pub exposed_steps: usize,
    pub fills: Vec<Fill>,
    pub trades: Vec<Trade>,
    pub rejections: Vec<(i64, Symbol, Rejection)>,
}

/// The largest quantity one order may trade.
pub const MAX_QUANTITY: u64 = 1_000_000_000_000;

struct Pending {
    order: Order,
    series: usize,
}

struct Book<'a> {
    cfg: &'a BacktestConfig,
    series: &'a [Series],
    cash: Money,
    positions: Vec<i64>,
    last_close: Vec<f64>,
    prev_day_close: Vec<Option<f64>>,
    /// Current trading day per series, as a day number (see `day_key`).
    day: Vec<Option<i64>>,
    /// Exchange time zone per series, parsed once.
    tz: Vec<chrono_tz::Tz>,
    bought_today: Vec<u64>,
    open_trades: Vec<Option<OpenTrade>>,
    fills: Vec<Fill>,
    trades: Vec<Trade>,
    rejections: Vec<(i64, Symbol, Rejection)>,
    /// Whether fills, trades and rejections are kept (or only counted into `stats`).
    record: bool,
    fill_count: usize,
    stats: TradeStats,
}

/// Runs `strategy` over `series` with `cfg`.
pub fn run(cfg: &BacktestConfig, series: &[Series], strategy: &mut dyn Strategy) -> RunOutput {
    let n = series.len();
    let times: Vec<i64> = if n == 1 {
        series[0].bars.iter().map(|b| b.time).collect()
    } else {
        let mut t: Vec<i64> = series.iter().flat_map(|s| s.bars.iter().map(|b| b.time)).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let mut book = Book::new(cfg, series);
    let mut seen = vec![0usize; n];
    let mut pending: Vec<Pending> = Vec::new();
    let mut equity_curve = Vec::with_capacity(times.len());
    let mut exposed_steps = 0;
    let mut updated = vec![false; n];

    for &t in &times {
        for i in 0..n {
            updated[i] = seen[i] < series[i].bars.len() && series[i].bars[seen[i]].time == t;
            if updated[i] {
                book.start_bar(i, &series[i].bars[seen[i]]);
            }
        }
        // Orders from earlier steps meet this step's bars.
        if !pending.is_empty() {
            pending.retain(|p| {
                if !updated[p.series] {
                    return true;
                }
                let bar = series[p.series].bars[seen[p.series]];
                let filled = book.try_fill(p.series, &p.order, &bar, false);
                !filled && p.order.tif == TimeInForce::Gtc
            });
        }
        for i in 0..n {
            if updated[i] {
                book.last_close[i] = series[i].bars[seen[i]].close;
                seen[i] += 1;
            }
        }
        // The strategy sees the completed bars.
        let equity = book.equity();
        let fills_before = book.fill_count;
        let mut ctx = Context {
            time: t,
            series,
            seen: &seen,
            updated: &updated,
            positions: &book.positions,
            cash: book.cash,
            equity,
            orders: Vec::new(),
        };
        strategy.on_bar(&mut ctx);
        for order in ctx.orders {
            let Some(i) = series.iter().position(|s| s.instrument.symbol == order.symbol) else { continue };
            let at_close = cfg.fill == FillMode::Close && order.kind == OrderKind::Market && updated[i];
            if at_close {
                let bar = series[i].bars[seen[i] - 1];
                book.try_fill(i, &order, &bar, true);
            } else {
                pending.push(Pending { order, series: i });
            }
        }
        if book.positions.iter().any(|p| *p != 0) {
            exposed_steps += 1;
        }
        // Equity changes after the strategy only if an order filled at this bar's close.
        let filled_now = book.fill_count != fills_before;
        equity_curve.push((t, if filled_now { book.equity() } else { equity }));
    }
    book.finish(equity_curve, exposed_steps)
}

/// The single-series loop for per-symbol rules ([`crate::strategy::PerSymbol`]): on each bar `k`
/// of the one series, `signal(k)` is asked after the bar, and a `Buy` when flat buys all-in, a
/// `Sell` when long closes the position, with market orders filled as [`run`] fills them. The
/// results are those of [`run`] with a `PerSymbol` strategy, bit for bit, without the general
/// loop's per-step work (merging times, the strategy's context, the order book). `curve` is a
/// buffer for the equity curve (emptied first), so repeated runs need not allocate it. Without
/// `record`, fills, trades and rejections are only counted into the returned statistics (all
/// that the metrics need), and the output's lists stay empty.
pub(crate) fn run_signals(
    cfg: &BacktestConfig,
    series: &[Series],
    mut signal: impl FnMut(usize) -> crate::strategy::Signal,
    mut curve: Vec<(i64, f64)>,
    record: bool,
) -> (RunOutput, TradeStats) {
    use crate::strategy::Signal;
    assert_eq!(series.len(), 1, "run_signals runs a single series");
    let s = &series[0];
    let mut book = Book::new(cfg, series);
    book.record = record;
    let buy = Order::market(&s.instrument.symbol, Side::Buy, Size::AllIn);
    let close = Order::market(&s.instrument.symbol, Side::Sell, Size::Close);
    let at_close = cfg.fill == FillMode::Close;
    // At most one order is ever pending: a market order for the next bar only.
    let mut pending: Option<&Order> = None;
    curve.clear();
    curve.reserve(s.bars.len());
    let mut exposed_steps = 0;
    let intraday = s.resolution.is_intraday();
    // The trading day matters only to the A-share rules (T+1 and price limits).
    let track_days = matches!(cfg.market, Market::CnA(_));
    // Cash and position change only when an order fills: kept here between fills.
    let mut cash = book.cash.to_f64();
    let mut position = 0;
    for (k, bar) in s.bars.iter().enumerate() {
        if track_days {
            // `day_key`, with the resolution's test out of the loop.
            let day = if intraday { book.day_key(0, bar.time) } else { bar.time.div_euclid(86_400) };
            book.start_day(0, day);
        }
        if let Some(order) = pending.take() {
            book.try_fill(0, order, bar, false);
            (cash, position) = (book.cash.to_f64(), book.positions[0]);
        }
        book.last_close[0] = bar.close;
        // `Book::equity` for one series: adding the empty sum of held values leaves cash as is.
        let mut equity = if position != 0 { cash + position as f64 * bar.close } else { cash };
        let order = match signal(k) {
            Signal::Buy if position == 0 => Some(&buy),
            Signal::Sell if position > 0 => Some(&close),
            _ => None,
        };
        if let Some(order) = order {
            if at_close {
                let fills_before = book.fill_count;
                book.try_fill(0, order, bar, true);
                (cash, position) = (book.cash.to_f64(), book.positions[0]);
                // Equity changes after the signal only if the order filled at this bar's close.
                if book.fill_count != fills_before {
                    equity = if position != 0 { cash + position as f64 * bar.close } else { cash };
                }
            } else {
                pending = Some(order);
            }
        }
        exposed_steps += usize::from(position != 0);
        curve.push((bar.time, equity));
    }
    let stats = book.stats;
    (book.finish(curve, exposed_steps), stats)
}

impl<'a> Book<'a> {
    fn new(cfg: &'a BacktestConfig, series: &'a [Series]) -> Self {
        let n = series.len();
        Book {
            cfg,
            series,
            cash: Money::from_f64(cfg.cash),
            positions: vec![0; n],
            last_close: vec![f64::NAN; n],
            prev_day_close: vec![None; n],
            day: vec![None; n],
            tz: series.iter().map(|s| s.instrument.tz()).collect(),
            bought_today: vec![0; n],
            open_trades: vec![None; n],
            fills: Vec::new(),
            trades: Vec::new(),
            rejections: Vec::new(),
            record: true,
            fill_count: 0,
            stats: TradeStats::new(),
        }
    }

    /// Reports open trades marked to the last close (when recording), and hands over everything
    /// booked.
    fn finish(mut self, equity_curve: Vec<(i64, f64)>, exposed_steps: usize) -> RunOutput {
        let series = if self.record { self.series } else { &[] };
        for (i, s) in series.iter().enumerate() {
            if let Some(open) = self.open_trades[i].clone() {
                let qty = self.positions[i].unsigned_abs();
                let price = self.last_close[i];
                let avg_entry = open.entry_avg;
                let unrealised = Money::from_f64(f64::from(open.direction) * (price - avg_entry) * qty as f64);
                self.trades.push(Trade {
                    symbol: s.instrument.symbol.clone(),
                    direction: open.direction,
                    entry_time: open.entry_time,
                    entry_price: avg_entry,
                    exit_time: None,
                    exit_price: Some(price),
                    quantity: open.entry_qty,
                    pnl: open.realised + unrealised - open.costs,
                    costs: open.costs,
                });
            }
        }
        let final_equity = self.equity();
        RunOutput {
            final_cash: self.cash,
            final_equity,
            equity_curve,
            exposed_steps,
            fills: self.fills,
            trades: self.trades,
            rejections: self.rejections,
        }
    }

    fn equity(&self) -> f64 {
        let held: f64 =
            self.positions.iter().zip(&self.last_close).filter(|(p, _)| **p != 0).map(|(p, c)| *p as f64 * c).sum();
        self.cash.to_f64() + held
    }

    fn trading_day(&self, i: usize, t: i64) -> NaiveDate {
        trading_date(t, self.series[i].resolution, self.tz[i])
    }

    /// A number that changes exactly when the trading day does: cheap for daily bars (their
    /// stamps are UTC midnights), exchange-local for intraday bars.
    fn day_key(&self, i: usize, t: i64) -> i64 {
        if self.series[i].resolution.is_intraday() {
            i64::from(chrono::Datelike::num_days_from_ce(&self.trading_day(i, t)))
        } else {
            t.div_euclid(86_400)
        }
    }

    /// Day bookkeeping before a bar's orders fill.
    fn start_bar(&mut self, i: usize, bar: &Bar) {
        let d = self.day_key(i, bar.time);
        self.start_day(i, d);
    }

    /// Day bookkeeping before a bar of trading day `d` (see `day_key`).
    #[inline]
    fn start_day(&mut self, i: usize, d: i64) {
        if self.day[i] != Some(d) {
            if self.day[i].is_some() && self.last_close[i].is_finite() {
                self.prev_day_close[i] = Some(self.last_close[i]);
            }
            self.day[i] = Some(d);
            self.bought_today[i] = 0;
        }
    }

    fn reject(&mut self, t: i64, i: usize, why: Rejection) {
        if self.record {
            self.rejections.push((t, self.series[i].instrument.symbol.clone(), why));
        }
    }

    /// The price limit band for series `i` on `date`, if the rules apply.
    fn limits(&self, i: usize, date: NaiveDate) -> Option<(f64, f64)> {
        let Market::CnA(rules) = self.cfg.market else { return None };
        if !rules.price_limits {
            return None;
        }
        let inst = &self.series[i].instrument;
        let mut pct = inst.price_limit?;
        if inst.board == "chinext" && date < NaiveDate::from_ymd_opt(2020, 8, 24).unwrap_or(NaiveDate::MIN) {
            pct = 0.1;
        }
        let prev = self.prev_day_close[i]?;
        let round = |p: f64| (p / inst.tick_size).round() * inst.tick_size;
        Some((round(prev * (1.0 - pct)), round(prev * (1.0 + pct))))
    }

    /// Rounds a quantity down to what the board's lot rules allow.
    fn lot_round(&self, i: usize, qty: u64) -> u64 {
        let Market::CnA(rules) = self.cfg.market else { return qty };
        if !rules.board_lots {
            return qty;
        }
        let inst = &self.series[i].instrument;
        match inst.board.as_str() {
            "star" => {
                if qty < 200 {
                    0
                } else {
                    qty
                }
            }
            "bse" => {
                if qty < 100 {
                    0
                } else {
                    qty
                }
            }
            _ => {
                let lot = u64::from(inst.lot_size.max(1));
                qty / lot * lot
            }
        }
    }

    fn commission(&self, value: f64, qty: u64) -> Money {
        let c = &self.cfg.costs;
        let mut fee = value * c.commission_rate + qty as f64 * c.commission_per_share;
        let mut min = c.min_commission;
        if let Market::CnA(r) = self.cfg.market
            && r.min_commission_5
        {
            min = min.max(5.0);
        }
        if qty > 0 {
            fee = fee.max(min);
        }
        Money::from_f64(fee)
    }

    fn taxes(&self, side: Side, value: f64, date: NaiveDate) -> Money {
        let mut tax = 0.0;
        if side == Side::Sell {
            tax += value * self.cfg.market.stamp_duty_rate(date);
        }
        if let Market::CnA(r) = self.cfg.market
            && r.transfer_fee
        {
            tax += value * 0.00001;
        }
        Money::from_f64(tax)
    }

    /// The raw fill price of `order` on `bar`, before slippage; `None` if it does not trade.
    fn fill_price(order: &Order, bar: &Bar, at_close: bool) -> Option<f64> {
        let open = if at_close { bar.close } else { bar.open };
        // Trades at `p` or better for a buyer (at or below) / a seller (at or above); a gap
        // through `p` fills at the open.
        let at_or_below = |p: f64| if open <= p { Some(open) } else { (bar.low <= p).then_some(p) };
        let at_or_above = |p: f64| if open >= p { Some(open) } else { (bar.high >= p).then_some(p) };
        match (order.kind, order.side) {
            (OrderKind::Market, _) => Some(open),
            (OrderKind::Limit(p), Side::Buy) | (OrderKind::Stop(p), Side::Sell) => at_or_below(p),
            (OrderKind::Limit(p), Side::Sell) | (OrderKind::Stop(p), Side::Buy) => at_or_above(p),
        }
    }

    /// Tries to fill `order` on `bar`. Returns true when it filled (or can never fill: nothing
    /// to do); false when it may fill later.
    fn try_fill(&mut self, i: usize, order: &Order, bar: &Bar, at_close: bool) -> bool {
        let t = bar.time;
        let Some(raw) = Self::fill_price(order, bar, at_close) else { return false };
        // Only the A-share rules (price limits, stamp duty) depend on the trading date.
        let date = match self.cfg.market {
            Market::CnA(_) => self.trading_day(i, t),
            Market::Generic => NaiveDate::MIN,
        };
        let inst = &self.series[i].instrument;
        let pos = self.positions[i];

        // Resolve side and quantity.
        let (side, mut qty) = match order.size {
            Size::Close => match pos.cmp(&0) {
                std::cmp::Ordering::Greater => (Side::Sell, pos.unsigned_abs()),
                std::cmp::Ordering::Less => (Side::Buy, pos.unsigned_abs()),
                std::cmp::Ordering::Equal => return true,
            },
            Size::TargetWeight(w) => {
                let target = (self.equity() * w / raw).floor() as i64;
                let delta = target - pos;
                match delta.cmp(&0) {
                    std::cmp::Ordering::Greater => (Side::Buy, delta.unsigned_abs()),
                    std::cmp::Ordering::Less => (Side::Sell, delta.unsigned_abs()),
                    std::cmp::Ordering::Equal => return true,
                }
            }
            Size::Shares(n) => (order.side, n),
            Size::AllIn | Size::PercentOfEquity(_) => (order.side, 0),
        };

        // Slippage against the trader.
        let c = &self.cfg.costs;
        let slip = raw * c.slippage_bps / 10_000.0 + c.slippage_ticks * inst.tick_size;
        let mut price = if side == Side::Buy { raw + slip } else { raw - slip };

        // Price limits.
        if let Some((down, up)) = self.limits(i, date) {
            if side == Side::Buy && raw >= up - 1e-9 {
                self.reject(t, i, Rejection::LimitUp);
                return order.tif == TimeInForce::Day;
            }
            if side == Side::Sell && raw <= down + 1e-9 {
                self.reject(t, i, Rejection::LimitDown);
                return order.tif == TimeInForce::Day;
            }
            price = price.clamp(down, up);
        }

        let rate = c.commission_rate;
        if matches!(order.size, Size::AllIn | Size::PercentOfEquity(_)) {
            let budget = match order.size {
                Size::PercentOfEquity(p) => self.equity() * p,
                _ if side == Side::Buy => self.cash.to_f64(),
                _ => self.equity(),
            };
            qty = (budget / (price * (1.0 + rate))).floor().max(0.0) as u64;
        }
        // No order is larger than any market: also keeps quantities inside i64 on absurd prices.
        qty = qty.min(MAX_QUANTITY);

        // Direction rules.
        match side {
            Side::Sell => {
                let long = pos.max(0).unsigned_abs();
                let sellable = match self.cfg.market {
                    Market::CnA(r) if r.t_plus_1 => long.saturating_sub(self.bought_today[i]),
                    _ => long,
                };
                if !self.cfg.market.allows_short() && qty > sellable {
                    if sellable == 0 {
                        let why = if long > 0 { Rejection::TPlusOne } else { Rejection::NoShort };
                        self.reject(t, i, why);
                        return true;
                    }
                    qty = sellable;
                }
                // Odd lots may be sold only as the whole position.
                if qty != long {
                    qty = self.lot_round(i, qty);
                }
            }
            Side::Buy => {
                if pos >= 0 {
                    qty = self.lot_round(i, qty);
                }
            }
        }
        if qty == 0 {
            self.reject(t, i, Rejection::BelowLot);
            return true;
        }

        // Cash check for buys (costs included); shrink to what cash affords.
        if side == Side::Buy {
            let step = match self.cfg.market {
                Market::CnA(r) if r.board_lots && !matches!(inst.board.as_str(), "star" | "bse") => {
                    u64::from(inst.lot_size.max(1))
                }
                _ => 1,
            };
            loop {
                let value = price * qty as f64;
                let cost = Money::from_f64(value) + self.commission(value, qty) + self.taxes(side, value, date);
                if cost <= self.cash {
                    break;
                }
                qty = self.lot_round(i, qty.saturating_sub(step));
                if qty == 0 {
                    self.reject(t, i, Rejection::NoCash);
                    return true;
                }
            }
        }

        let value = price * qty as f64;
        let commission = self.commission(value, qty);
        let taxes = self.taxes(side, value, date);
        let signed = if side == Side::Buy { qty as i64 } else { -(qty as i64) };
        match side {
            Side::Buy => self.cash -= Money::from_f64(value) + commission + taxes,
            Side::Sell => self.cash += Money::from_f64(value) - commission - taxes,
        }
        if side == Side::Buy {
            self.bought_today[i] += qty;
        }
        self.book_trade(i, t, signed, price, commission + taxes);
        self.positions[i] += signed;
        self.fill_count += 1;
        self.stats.fill(price, qty);
        if self.record {
            self.fills.push(Fill {
                symbol: inst.symbol.clone(),
                time: t,
                side,
                quantity: qty,
                price,
                commission,
                taxes,
            });
        }
        true
    }

    /// Updates round trips for a fill of `signed` shares at `price`.
    fn book_trade(&mut self, i: usize, t: i64, signed: i64, price: f64, costs: Money) {
        let pos = self.positions[i];
        let opening = pos == 0 || pos.signum() == signed.signum();
        if opening {
            let open = self.open_trades[i].get_or_insert(OpenTrade {
                direction: signed.signum() as i8,
                entry_time: t,
                entry_qty: 0,
                entry_avg: 0.0,
                exit_qty: 0,
                exit_avg: 0.0,
                costs: Money::ZERO,
                realised: Money::ZERO,
            });
            let q = signed.unsigned_abs();
            open.entry_qty += q;
            open.entry_avg += (price - open.entry_avg) * (q as f64 / open.entry_qty as f64);
            open.costs += costs;
            return;
        }
        // Reducing: the part up to the position closes; any rest opens the other way.
        let closing = signed.unsigned_abs().min(pos.unsigned_abs());
        let rest = signed.unsigned_abs() - closing;
        let closing_costs = if rest == 0 {
            costs
        } else {
            Money::from_f64(costs.to_f64() * closing as f64 / signed.unsigned_abs() as f64)
        };
        if let Some(open) = self.open_trades[i].as_mut() {
            let avg = open.entry_avg;
            open.exit_qty += closing;
            open.exit_avg += (price - open.exit_avg) * (closing as f64 / open.exit_qty as f64);
            open.costs += closing_costs;
            open.realised += Money::from_f64(f64::from(open.direction) * (price - avg) * closing as f64);
            if pos.unsigned_abs() == closing {
                let done = self.open_trades[i].take().unwrap_or_else(|| unreachable!("checked above"));
                self.stats.closed_trade((done.realised - done.costs).to_f64());
                if self.record {
                    self.trades.push(Trade {
                        symbol: self.series[i].instrument.symbol.clone(),
                        direction: done.direction,
                        entry_time: done.entry_time,
                        entry_price: done.entry_avg,
                        exit_time: Some(t),
                        exit_price: Some(done.exit_avg),
                        quantity: done.entry_qty,
                        pnl: done.realised - done.costs,
                        costs: done.costs,
                    });
                }
            }
        }
        if rest > 0 {
            self.open_trades[i] = Some(OpenTrade {
                direction: signed.signum() as i8,
                entry_time: t,
                entry_qty: rest,
                entry_avg: price,
                exit_qty: 0,
                exit_avg: 0.0,
                costs: costs - closing_costs,
                realised: Money::ZERO,
            });
        }
    }
}
