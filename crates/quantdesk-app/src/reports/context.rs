//! The grounded context of a report: what quantdesk knows about a symbol on a date, as sections of
//! facts. Every fact has a stable id (`price.last`, `ret.20d`, `rsi.14`, `chan.pivot.last.high`,
//! `dcf.value_per_share`), a value (a number in the unit shown, or a text in both languages), its
//! decimals, labels in both languages and a link to its source. A section is absent when its data
//! is (no statements, no DCF section; too few bars, no 250-day return).
//!
//! [`assemble`] is pure (bars, instrument and valuation in, context out: the same inputs give the
//! same context); [`build`] reads them from the store.

use chrono::NaiveDate;
use quantdesk_backtest::voting::{Action, Combiner, decide};
use quantdesk_chan as engine;
use quantdesk_core::indicators::{Bollinger, Indicator, Macd, Rsi, Sma};
use quantdesk_core::{Adjustment, Bar, Instrument, Resolution};
use quantdesk_store::Store;
use quantdesk_valuation::Valuation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Lang;
use crate::AppError;
use crate::market::{BarRequest, BarSource, stored_series};

/// A fact's value: a number in the unit shown, or a word in both languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FactValue {
    Number(f64),
    Text { en: String, zh: String },
}

/// One fact of the context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Fact {
    pub id: String,
    pub value: FactValue,
    /// `%`, `CNY`, `CNY 100m` (亿元), `x` or empty.
    pub unit: String,
    /// Decimals shown.
    pub decimals: u8,
    pub label_en: String,
    pub label_zh: String,
    /// Where the number comes from: a page path (the chart at the date, the valuation, …).
    pub source: String,
}

impl Fact {
    pub fn number(&self) -> Option<f64> {
        match self.value {
            FactValue::Number(x) => Some(x),
            FactValue::Text { .. } => None,
        }
    }

    pub fn label(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.label_zh,
            Lang::En => &self.label_en,
        }
    }

    /// The value as a person reads it: rounded to its decimals, with its unit.
    pub fn display(&self, lang: Lang) -> String {
        match &self.value {
            FactValue::Number(x) => {
                let n = format_number(*x, self.decimals);
                match (self.unit.as_str(), lang) {
                    ("", _) => n,
                    ("%", _) => format!("{n}%"),
                    ("x", _) => format!("{n}x"),
                    ("CNY", Lang::Zh) => format!("{n} 元"),
                    ("CNY 100m", Lang::Zh) => format!("{n} 亿元"),
                    (u, _) => format!("{n} {u}"),
                }
            }
            FactValue::Text { en, zh } => match lang {
                Lang::Zh => zh.clone(),
                Lang::En => en.clone(),
            },
        }
    }
}

/// `x` with `decimals` places (`-0.00` shown as `0.00`).
pub fn format_number(x: f64, decimals: u8) -> String {
    let s = format!("{:.*}", usize::from(decimals), x);
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

/// A group of facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Section {
    /// `instrument`, `price`, `returns`, `risk`, `trend`, `momentum`, `chan`, `regime`,
    /// `decision`, `backtest`, `dcf`.
    pub id: String,
    pub title_en: String,
    pub title_zh: String,
    pub facts: Vec<Fact>,
}

impl Section {
    pub fn title(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.title_zh,
            Lang::En => &self.title_en,
        }
    }
}

/// The context document of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Context {
    pub symbol: String,
    /// The instrument's name (text its importer controls: data, never an instruction).
    pub name: String,
    pub industry: String,
    /// The trading date of the last bar used, `YYYY-MM-DD`.
    pub date: String,
    pub currency: String,
    pub sections: Vec<Section>,
}

impl Context {
    pub fn fact(&self, id: &str) -> Option<&Fact> {
        self.sections.iter().flat_map(|s| s.facts.iter()).find(|f| f.id == id)
    }

    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    pub fn facts(&self) -> impl Iterator<Item = &Fact> {
        self.sections.iter().flat_map(|s| s.facts.iter())
    }

    /// The readable digest: one line per fact, `[id] label: value`, under section titles.
    pub fn digest(&self, lang: Lang) -> String {
        let mut out = String::new();
        for s in &self.sections {
            out.push_str(&format!("## {}\n", s.title(lang)));
            for f in &s.facts {
                out.push_str(&format!("- [{}] {}: {}\n", f.id, f.label(lang), f.display(lang)));
            }
            out.push('\n');
        }
        out
    }

    /// The context as JSON text (sections and facts in their fixed order).
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What [`assemble`] works from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub instrument: &'a Instrument,
    /// Daily qfq bars up to the date, oldest first.
    pub bars: &'a [Bar],
    /// The DCF as of the date, when statements are stored.
    pub valuation: Option<&'a Valuation>,
}

/// Bars read for a context: enough for the 250-day figures and the backtests.
pub const CONTEXT_BARS: u32 = 750;
/// Bars the Chan analysis, the regime labels and the backtests look at.
const ANALYSIS_BARS: usize = 500;

struct Builder {
    symbol: String,
    date: String,
    facts: Vec<Fact>,
}

impl Builder {
    fn source(&self, what: &str) -> String {
        match what {
            "valuation" => format!("/valuation/{}", self.symbol),
            "decision" => "/decisions".to_string(),
            layer => format!("/chart/{}?date={}#{layer}", self.symbol, self.date),
        }
    }

    // A fact's seven fields, given in the same order at every call.
    #[allow(clippy::too_many_arguments)]
    fn num(&mut self, id: &str, value: f64, unit: &str, decimals: u8, en: &str, zh: &str, source: &str) {
        if !value.is_finite() {
            return;
        }
        let source = self.source(source);
        self.facts.push(Fact {
            id: id.to_string(),
            value: FactValue::Number(value),
            unit: unit.to_string(),
            decimals,
            label_en: en.to_string(),
            label_zh: zh.to_string(),
            source,
        });
    }

    fn text(&mut self, id: &str, value: (&str, &str), en: &str, zh: &str, source: &str) {
        let source = self.source(source);
        self.facts.push(Fact {
            id: id.to_string(),
            value: FactValue::Text { en: value.0.to_string(), zh: value.1.to_string() },
            unit: String::new(),
            decimals: 0,
            label_en: en.to_string(),
            label_zh: zh.to_string(),
            source,
        });
    }

    fn section(&mut self, out: &mut Vec<Section>, id: &str, en: &str, zh: &str) {
        let facts = std::mem::take(&mut self.facts);
        if !facts.is_empty() {
            out.push(Section { id: id.into(), title_en: en.into(), title_zh: zh.into(), facts });
        }
    }
}

fn last<I: Indicator>(mut ind: I, xs: &[f64]) -> Option<I::Output> {
    let mut out = None;
    for &x in xs {
        out = ind.next(x);
    }
    out
}

fn pct(a: f64, b: f64) -> f64 {
    (a / b - 1.0) * 100.0
}

fn action_words(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Buy => ("BUY", "买入"),
        Action::Sell => ("SELL", "卖出"),
        Action::Hold => ("HOLD", "持有观望"),
    }
}

fn direction_words(d: engine::Direction) -> (&'static str, &'static str) {
    match d {
        engine::Direction::Up => ("up", "向上"),
        engine::Direction::Down => ("down", "向下"),
    }
}

fn day(t: i64) -> String {
    quantdesk_core::resample::trading_date(t, Resolution::Day, chrono_tz::UTC).to_string()
}

/// The context of `inputs`: pure and deterministic.
pub fn assemble(inputs: &Inputs<'_>) -> Context {
    let ins = inputs.instrument;
    let bars = inputs.bars;
    let date = bars.last().map(|b| day(b.time)).unwrap_or_default();
    let mut b = Builder { symbol: ins.symbol.to_string(), date: date.clone(), facts: Vec::new() };
    let mut sections = Vec::new();
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();

    // Instrument.
    b.text("instrument.symbol", (ins.symbol.as_str(), ins.symbol.as_str()), "Symbol", "代码", "chart");
    b.text("instrument.exchange", (&ins.exchange, &ins.exchange), "Exchange", "交易所", "chart");
    b.num("instrument.bars", bars.len() as f64, "", 0, "Daily bars used", "使用的日线根数", "chart");
    b.section(&mut sections, "instrument", "Instrument", "标的");

    // Price.
    if let Some(lastb) = bars.last() {
        b.num("price.last", lastb.close, "CNY", 2, "Last close", "最新收盘价", "chart");
        if bars.len() >= 2 {
            let prev = bars[bars.len() - 2].close;
            b.num("price.change", lastb.close - prev, "CNY", 2, "Change on the day", "当日涨跌额", "chart");
            b.num("price.change_pct", pct(lastb.close, prev), "%", 2, "Change on the day", "当日涨跌幅", "chart");
        }
        b.num("price.high", lastb.high, "CNY", 2, "High of the day", "当日最高价", "chart");
        b.num("price.low", lastb.low, "CNY", 2, "Low of the day", "当日最低价", "chart");
    }
    b.section(&mut sections, "price", "Price", "价格");

    // Returns.
    for n in [1usize, 5, 20, 60, 250] {
        if closes.len() > n {
            let r = pct(closes[closes.len() - 1], closes[closes.len() - 1 - n]);
            b.num(&format!("ret.{n}d"), r, "%", 2, &format!("Return over {n} days"), &format!("{n} 日涨跌幅"), "chart");
        }
    }
    b.section(&mut sections, "returns", "Returns", "区间收益");

    // Risk: volatility and drawdown.
    for n in [20usize, 60] {
        if closes.len() > n {
            let tail = &closes[closes.len() - 1 - n..];
            let r: Vec<f64> = tail.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
            let m = r.iter().sum::<f64>() / r.len() as f64;
            let var = r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (r.len() as f64 - 1.0);
            b.num(
                &format!("vol.{n}d"),
                var.sqrt() * 252f64.sqrt() * 100.0,
                "%",
                2,
                &format!("Annualised volatility over {n} days"),
                &format!("{n} 日年化波动率"),
                "chart",
            );
        }
    }
    if closes.len() >= 2 {
        let tail = &closes[closes.len().saturating_sub(250)..];
        let (mut peak, mut max_dd) = (f64::MIN, 0.0f64);
        for &c in tail {
            peak = peak.max(c);
            max_dd = max_dd.min(c / peak - 1.0);
        }
        b.num("dd.max_250d", max_dd * 100.0, "%", 2, "Largest drawdown over 250 days", "250 日最大回撤", "chart");
        b.num(
            "dd.current",
            (tail[tail.len() - 1] / peak - 1.0) * 100.0,
            "%",
            2,
            "Below the 250-day high",
            "距 250 日高点",
            "chart",
        );
        b.num("price.high_250d", peak, "CNY", 2, "250-day high", "250 日最高收盘价", "chart");
    }
    b.section(&mut sections, "risk", "Volatility and drawdown", "波动与回撤");

    // Trend: moving averages.
    for n in [5usize, 10, 20, 60, 120, 250] {
        if let Some(v) = last(Sma::new(n), &closes) {
            b.num(&format!("ma.{n}"), v, "CNY", 2, &format!("{n}-day moving average"), &format!("{n} 日均线"), "chart");
        }
    }
    b.section(&mut sections, "trend", "Moving averages", "均线");

    // Momentum and bands.
    if let Some(v) = last(Rsi::new(14), &closes) {
        b.num("rsi.14", v, "", 2, "RSI (14)", "RSI(14)", "chart");
    }
    if let Some(m) = last(Macd::new(12, 26, 9), &closes) {
        b.num("macd.dif", m.dif, "", 3, "MACD DIF", "MACD DIF", "chart");
        b.num("macd.dea", m.dea, "", 3, "MACD DEA", "MACD DEA", "chart");
        b.num("macd.hist", m.hist, "", 3, "MACD histogram", "MACD 柱", "chart");
    }
    if let Some(bd) = last(Bollinger::new(20, 2.0), &closes) {
        b.num("boll.upper", bd.upper, "CNY", 2, "Bollinger upper band", "布林上轨", "chart");
        b.num("boll.middle", bd.middle, "CNY", 2, "Bollinger middle band", "布林中轨", "chart");
        b.num("boll.lower", bd.lower, "CNY", 2, "Bollinger lower band", "布林下轨", "chart");
    }
    b.section(&mut sections, "momentum", "Momentum and bands", "动量与布林带");

    // Chan.
    let recent = &bars[bars.len().saturating_sub(ANALYSIS_BARS)..];
    if let Ok(a) = engine::analyze(recent, &crate::chan::ChanProfile::Chanpy.engine().config()) {
        chan_facts(&mut b, &a, recent.last().map(|x| x.close));
    }
    b.section(&mut sections, "chan", "Chan structure", "缠论结构");

    // Regime.
    regime_facts(&mut b, recent);
    b.section(&mut sections, "regime", "Market regime", "市场状态");

    // Voting decision.
    if let Some((d, risk)) = decide(recent, &Combiner::Confidence { threshold: 0.5 }) {
        b.text("decision.action", action_words(d.action), "Decision", "投票结论", "decision");
        b.num("decision.score", d.score * 100.0, "%", 1, "Share of the winning votes", "胜出方得票占比", "decision");
        let risk_words = match risk.as_str() {
            "low" => ("low", "低"),
            "high" => ("high", "高"),
            _ => ("medium", "中"),
        };
        b.text("decision.risk", risk_words, "Risk level", "风险等级", "decision");
        for v in &d.votes {
            b.text(
                &format!("decision.vote.{}", v.model),
                action_words(v.action),
                &format!("Vote of {}", v.model),
                &format!("{} 的投票", v.model),
                "decision",
            );
            b.num(
                &format!("decision.vote.{}.confidence", v.model),
                v.confidence * 100.0,
                "%",
                1,
                &format!("Confidence of {}", v.model),
                &format!("{} 的置信度", v.model),
                "decision",
            );
        }
    }
    b.section(&mut sections, "decision", "Voting decision", "投票决策");

    // Backtests of the built-in strategies on the recent bars.
    backtest_facts(&mut b, ins, recent);
    b.section(&mut sections, "backtest", "Backtests of the built-in strategies", "内置策略回测");

    // DCF.
    if let Some(v) = inputs.valuation
        && let Some(dcf) = &v.dcf
    {
        if let Some(vps) = dcf.value_per_share {
            b.num("dcf.value_per_share", vps, "CNY", 2, "DCF value per share", "DCF 每股价值", "valuation");
            if let Some(p) = bars.last().map(|x| x.close).filter(|p| *p > 0.0) {
                b.num(
                    "dcf.margin",
                    pct(vps, p),
                    "%",
                    1,
                    "DCF value against the last close",
                    "DCF 价值相对收盘价",
                    "valuation",
                );
            }
        }
        b.num(
            "dcf.enterprise_value",
            dcf.enterprise_value / 1e8,
            "CNY 100m",
            2,
            "Enterprise value",
            "企业价值",
            "valuation",
        );
        b.num("dcf.equity_value", dcf.equity_value / 1e8, "CNY 100m", 2, "Equity value", "股权价值", "valuation");
        b.num("dcf.wacc", dcf.wacc_used * 100.0, "%", 2, "WACC", "加权平均资本成本", "valuation");
        b.num("dcf.cost_of_equity", dcf.cost_of_equity_used * 100.0, "%", 2, "Cost of equity", "股权成本", "valuation");
        if let Some(g) = dcf.perpetual_growth_rate_effective.or(dcf.perpetual_growth_rate_used) {
            b.num("dcf.terminal_growth", g * 100.0, "%", 2, "Terminal growth rate", "永续增长率", "valuation");
        }
        b.num(
            "dcf.forecast_years",
            f64::from(dcf.forecast_period_years),
            "",
            0,
            "Forecast years",
            "预测年数",
            "valuation",
        );
        if dcf.enterprise_value != 0.0 {
            b.num(
                "dcf.terminal_share",
                dcf.pv_terminal_value / dcf.enterprise_value * 100.0,
                "%",
                1,
                "Terminal value's share of EV",
                "终值占企业价值比例",
                "valuation",
            );
        }
    }
    b.section(&mut sections, "dcf", "Discounted cash flow", "现金流折现估值");

    Context {
        symbol: ins.symbol.to_string(),
        name: ins.name.clone(),
        industry: ins.industry.clone(),
        date,
        currency: ins.currency.clone(),
        sections,
    }
}

fn chan_facts(b: &mut Builder, a: &engine::Analysis, price: Option<f64>) {
    if let Some(s) = a.strokes.last() {
        b.text("chan.stroke.last.direction", direction_words(s.direction), "Last stroke", "最后一笔方向", "chan");
        b.num("chan.stroke.last.begin", s.begin_price, "CNY", 2, "Last stroke's start", "最后一笔起点", "chan");
        b.num("chan.stroke.last.end", s.end_price, "CNY", 2, "Last stroke's end", "最后一笔终点", "chan");
        b.text(
            "chan.stroke.last.confirmed",
            if s.confirmed { ("confirmed", "已确认") } else { ("provisional", "未确认") },
            "Last stroke's state",
            "最后一笔状态",
            "chan",
        );
    }
    b.num("chan.strokes", a.strokes.len() as f64, "", 0, "Strokes", "笔数", "chan");
    if let Some(s) = a.segments.last() {
        b.text("chan.segment.last.direction", direction_words(s.direction), "Last segment", "最后线段方向", "chan");
        b.num("chan.segment.last.begin", s.begin_price, "CNY", 2, "Last segment's start", "最后线段起点", "chan");
        b.num("chan.segment.last.end", s.end_price, "CNY", 2, "Last segment's end", "最后线段终点", "chan");
    }
    let stroke_pivots: Vec<&engine::Pivot> = a.pivots.iter().filter(|p| p.level == engine::Level::Stroke).collect();
    if let Some(p) = stroke_pivots.last() {
        b.num("chan.pivot.last.high", p.zg, "CNY", 2, "Last pivot's upper edge (ZG)", "最后中枢上沿 (ZG)", "chan");
        b.num("chan.pivot.last.low", p.zd, "CNY", 2, "Last pivot's lower edge (ZD)", "最后中枢下沿 (ZD)", "chan");
        b.text(
            "chan.pivot.last.date",
            (&day(p.end_time), &day(p.end_time)),
            "Last pivot ends",
            "最后中枢结束日",
            "chan",
        );
    }
    // Support and resistance: the nearest pivot edges of the recent stroke pivots below and
    // above the last close.
    if let Some(price) = price {
        let edges: Vec<f64> = stroke_pivots.iter().rev().take(8).flat_map(|p| [p.zg, p.zd]).collect();
        let support = edges.iter().copied().filter(|e| *e <= price).fold(f64::NAN, f64::max);
        let resistance = edges.iter().copied().filter(|e| *e > price).fold(f64::NAN, f64::min);
        b.num(
            "sr.support",
            support,
            "CNY",
            2,
            "Support (nearest pivot edge below)",
            "支撑位（下方最近中枢边沿）",
            "chan",
        );
        b.num(
            "sr.resistance",
            resistance,
            "CNY",
            2,
            "Resistance (nearest pivot edge above)",
            "压力位（上方最近中枢边沿）",
            "chan",
        );
    }
    if let Some(s) = a.signals.iter().max_by_key(|s| (s.time, s.level == engine::Level::Segment)) {
        let label = crate::chan::signal_label(s);
        b.text("chan.signal.last", (&label, &label), "Latest buy/sell point", "最近买卖点", "chan");
        b.num(
            "chan.signal.last.price",
            s.price,
            "CNY",
            2,
            "Price at the latest buy/sell point",
            "最近买卖点价格",
            "chan",
        );
        b.text(
            "chan.signal.last.date",
            (&day(s.time), &day(s.time)),
            "Date of the latest buy/sell point",
            "最近买卖点日期",
            "chan",
        );
    }
}

fn regime_facts(b: &mut Builder, bars: &[Bar]) {
    let o = crate::regimes::RegimeOptions::default();
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let Ok(l) = crate::regimes::label(&closes, &o, crate::regimes::KeyIndicator::Close) else { return };
    let Some(Some(label)) = l.label.last().copied() else { return };
    let words = match (label, o.dynamics) {
        (0, _) => ("bearish", "下跌"),
        (l, d) if l + 1 == d => ("bullish", "上涨"),
        _ => ("sideways", "震荡"),
    };
    b.text(
        "regime.label",
        words,
        "Regime of the last bar (zero-phase filter)",
        "最新一根 K 线的市场状态（零相位滤波）",
        "regimes",
    );
    let start = l.label.iter().rposition(|x| *x != Some(label)).map(|i| i + 1).unwrap_or(0);
    b.num(
        "regime.run_bars",
        (l.label.len() - start) as f64,
        "",
        0,
        "Bars in the current regime",
        "当前状态持续 K 线数",
        "regimes",
    );
    if let Some(&(_, slope)) = l.slopes.last() {
        b.num("regime.slope", slope, "%", 3, "Slope of the regime (per bar)", "当前状态斜率（每根 K 线）", "regimes");
    }
}

fn backtest_facts(b: &mut Builder, ins: &Instrument, bars: &[Bar]) {
    if bars.len() < 60 {
        return;
    }
    let series =
        vec![quantdesk_backtest::Series { instrument: ins.clone(), resolution: Resolution::Day, bars: bars.to_vec() }];
    let config = quantdesk_backtest::BacktestConfig::default();
    let params = quantdesk_backtest::strategy::Params::default();
    for name in ["sma_cross", "rsi", "macd", "bollinger", "buy_and_hold"] {
        let Ok(r) = quantdesk_backtest::backtest(&config, &series, name, &params) else { continue };
        let m = &r.metrics;
        b.num(
            &format!("bt.{name}.return"),
            m.total_return * 100.0,
            "%",
            2,
            &format!("{name}: total return"),
            &format!("{name}：总收益"),
            "backtest",
        );
        b.num(
            &format!("bt.{name}.max_drawdown"),
            m.max_drawdown.depth * 100.0,
            "%",
            2,
            &format!("{name}: largest drawdown"),
            &format!("{name}：最大回撤"),
            "backtest",
        );
        b.num(
            &format!("bt.{name}.sharpe"),
            m.sharpe,
            "",
            2,
            &format!("{name}: Sharpe ratio"),
            &format!("{name}：夏普比率"),
            "backtest",
        );
        b.num(
            &format!("bt.{name}.trades"),
            m.trades as f64,
            "",
            0,
            &format!("{name}: trades"),
            &format!("{name}：交易次数"),
            "backtest",
        );
    }
}

/// The as-of instant of a date: bars before the next day's 00:00 UTC.
fn end_of(date: NaiveDate) -> i64 {
    date.succ_opt().unwrap_or(date).and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp()).unwrap_or(i64::MAX)
}

/// Reads what a context of `symbol` as of `date` (the latest stored bar when `None`) needs and
/// assembles it: daily qfq bars up to the date, and the DCF as of the date when statements are
/// stored (none: no DCF section). Unknown symbol: not found; no bar: invalid.
pub async fn build(store: &dyn Store, symbol: &str, date: Option<NaiveDate>) -> Result<Context, AppError> {
    let req = BarRequest {
        resolution: Resolution::Day,
        adjustment: Adjustment::Qfq,
        from: i64::MIN,
        to: date.map(end_of).unwrap_or(i64::MAX),
        countback: Some(CONTEXT_BARS),
    };
    let series = stored_series(BarSource { store, blocks: None }, symbol, &req, true, true).await?;
    let last_date = series.bars.last().map(|b| day(b.time));
    let request = quantdesk_valuation::Request {
        ts_code: Some(series.instrument.symbol.to_string()),
        valuation_date: last_date,
        ..Default::default()
    };
    let valuation = match crate::valuation::valuate(store, &request).await {
        Ok(v) if v.error.is_none() => Some(v),
        Ok(_) => None,
        Err(e) if e.kind() == crate::ErrorKind::NotFound || e.kind() == crate::ErrorKind::Invalid => None,
        Err(e) => return Err(e),
    };
    Ok(assemble(&Inputs { instrument: &series.instrument, bars: &series.bars, valuation: valuation.as_ref() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_number_rounds_and_drops_negative_zero() {
        assert_eq!(format_number(1.005, 1), "1.0");
        assert_eq!(format_number(-0.001, 2), "0.00");
        assert_eq!(format_number(-1.5, 0), "-2");
        assert_eq!(format_number(12.345678, 3), "12.346");
    }
}
