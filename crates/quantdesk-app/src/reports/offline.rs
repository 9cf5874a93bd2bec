//! The report quantdesk writes itself when no language model is configured (the embedded default,
//! `serve --demo`, the tests): deterministic text in Chinese or English from the context alone,
//! every figure a `{{fact:ID}}` reference the renderer fills, and a first line saying that no
//! language model wrote it. The same context gives the same bytes.

use super::context::{Context, Fact, FactValue};
use super::render::md_escape;
use super::{Lang, ReportType};

/// The `model` recorded for offline reports.
pub const MODEL: &str = "quantdesk-offline-1";

struct W<'a> {
    ctx: &'a Context,
    lang: Lang,
    out: String,
}

impl W<'_> {
    fn t<'s>(&self, en: &'s str, zh: &'s str) -> &'s str {
        match self.lang {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    fn has(&self, id: &str) -> bool {
        self.ctx.fact(id).is_some()
    }

    fn num(&self, id: &str) -> Option<f64> {
        self.ctx.fact(id).and_then(Fact::number)
    }

    fn text(&self, id: &str) -> Option<String> {
        match self.ctx.fact(id).map(|f| &f.value) {
            Some(FactValue::Text { en, zh }) => Some(match self.lang {
                Lang::En => en.clone(),
                Lang::Zh => zh.clone(),
            }),
            _ => None,
        }
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn heading(&mut self, en: &str, zh: &str) {
        let h = format!("## {}", self.t(en, zh));
        self.line("");
        self.line(&h);
        self.line("");
    }

    /// A bullet per fact of a section that exists: `label: {{fact:id}}`.
    fn facts(&mut self, section: &str, skip: &[&str]) {
        let Some(s) = self.ctx.section(section) else { return };
        let lines: Vec<String> = s
            .facts
            .iter()
            .filter(|f| !skip.iter().any(|p| f.id.starts_with(p)))
            .map(|f| format!("- {}: {{{{fact:{}}}}}", f.label(self.lang), f.id))
            .collect();
        for l in lines {
            self.line(&l);
        }
    }
}

fn r(id: &str) -> String {
    format!("{{{{fact:{id}}}}}")
}

fn type_name(t: ReportType, lang: Lang) -> &'static str {
    match (t, lang) {
        (ReportType::Fundamental, Lang::En) => "Fundamental report",
        (ReportType::Technical, Lang::En) => "Technical report",
        (ReportType::Valuation, Lang::En) => "Valuation report",
        (ReportType::Chan, Lang::En) => "Chan-theory report",
        (ReportType::Free, Lang::En) => "Research report",
        (ReportType::Fundamental, Lang::Zh) => "基本面报告",
        (ReportType::Technical, Lang::Zh) => "技术面报告",
        (ReportType::Valuation, Lang::Zh) => "估值报告",
        (ReportType::Chan, Lang::Zh) => "缠论结构报告",
        (ReportType::Free, Lang::Zh) => "研究报告",
    }
}

/// The offline report of `kind` in `lang`, as Markdown with fact references.
pub fn write(ctx: &Context, kind: ReportType, lang: Lang) -> String {
    let mut w = W { ctx, lang, out: String::new() };
    let name = if ctx.name.trim().is_empty() { ctx.symbol.clone() } else { md_escape(&ctx.name) };
    let title = format!("# {name} ({}) — {} · {}", ctx.symbol, type_name(kind, lang), ctx.date);
    w.line(&title);
    w.line("");
    let label = match lang {
        Lang::En => format!(
            "> Written by quantdesk without a language model, from its own data as of {}. Every figure links to its source.",
            ctx.date
        ),
        Lang::Zh => format!(
            "> 本报告由 quantdesk 在未使用语言模型的情况下，依据截至 {} 的自有数据生成；每个数字均链接到其来源。",
            ctx.date
        ),
    };
    w.line(&label);
    summary(&mut w, kind);
    match kind {
        ReportType::Technical => {
            price_and_returns(&mut w);
            trend(&mut w);
            momentum(&mut w);
            regime(&mut w);
            decision(&mut w);
            backtests(&mut w);
        }
        ReportType::Chan => {
            price_and_returns(&mut w);
            chan(&mut w);
            regime(&mut w);
            decision(&mut w);
        }
        ReportType::Valuation => {
            price_and_returns(&mut w);
            dcf(&mut w);
        }
        ReportType::Fundamental => {
            price_and_returns(&mut w);
            dcf(&mut w);
            risk(&mut w);
            decision(&mut w);
        }
        ReportType::Free => {
            price_and_returns(&mut w);
            trend(&mut w);
            momentum(&mut w);
            chan(&mut w);
            regime(&mut w);
            decision(&mut w);
            backtests(&mut w);
            dcf(&mut w);
        }
    }
    w.heading("Caveats", "风险提示");
    let caveat = w
        .t(
            "Figures are computed from stored daily bars (forward-adjusted) and stored statements; they describe the past and are not investment advice.",
            "以上数字由已存储的前复权日线与财务报表计算，仅描述历史情况，不构成投资建议。",
        )
        .to_string();
    w.line(&caveat);
    w.out
}

fn summary(w: &mut W<'_>, kind: ReportType) {
    w.heading("Summary", "摘要");
    let mut parts: Vec<String> = Vec::new();
    if w.has("price.last") {
        let s = match w.lang {
            Lang::En => format!("The last close is {}", r("price.last")),
            Lang::Zh => format!("最新收盘价为 {}", r("price.last")),
        };
        let s = if w.has("price.change_pct") {
            match w.lang {
                Lang::En => format!("{s}, {} on the day.", r("price.change_pct")),
                Lang::Zh => format!("{s}，当日涨跌幅 {}。", r("price.change_pct")),
            }
        } else {
            format!("{s}{}", w.t(".", "。"))
        };
        parts.push(s);
    }
    if w.has("ret.20d") {
        parts.push(match w.lang {
            Lang::En => format!("Over 20 days the price moved {}.", r("ret.20d")),
            Lang::Zh => format!("近 20 个交易日涨跌幅为 {}。", r("ret.20d")),
        });
    }
    let valuation_first = matches!(kind, ReportType::Valuation | ReportType::Fundamental);
    if valuation_first {
        parts.push(match (w.has("dcf.value_per_share"), w.lang) {
            (true, Lang::En) => format!("The DCF values a share at {}.", r("dcf.value_per_share")),
            (true, Lang::Zh) => format!("现金流折现估算的每股价值为 {}。", r("dcf.value_per_share")),
            (false, Lang::En) => "No financial statements are stored, so there is no DCF value.".to_string(),
            (false, Lang::Zh) => "未存储财务报表，因此没有现金流折现估值。".to_string(),
        });
    }
    if w.has("decision.action") {
        parts.push(match w.lang {
            Lang::En => {
                format!("The voting models decide {} with {} of the votes.", r("decision.action"), r("decision.score"))
            }
            Lang::Zh => format!("投票模型的结论为 {}，胜出方得票占比 {}。", r("decision.action"), r("decision.score")),
        });
    }
    if kind == ReportType::Chan && w.has("chan.signal.last") {
        parts.push(match w.lang {
            Lang::En => format!(
                "The latest buy/sell point is {} on {} at {}.",
                r("chan.signal.last"),
                r("chan.signal.last.date"),
                r("chan.signal.last.price")
            ),
            Lang::Zh => format!(
                "最近的买卖点为 {}（{}，价格 {}）。",
                r("chan.signal.last"),
                r("chan.signal.last.date"),
                r("chan.signal.last.price")
            ),
        });
    }
    let joined = parts.join(w.t(" ", ""));
    w.line(&joined);
}

fn price_and_returns(w: &mut W<'_>) {
    if w.ctx.section("price").is_none() {
        return;
    }
    w.heading("Price and returns", "价格与收益");
    w.facts("price", &[]);
    w.facts("returns", &[]);
    w.facts("risk", &[]);
}

fn risk(w: &mut W<'_>) {
    if let (Some(v), true) = (w.num("vol.20d"), w.has("dd.max_250d")) {
        w.heading("Risk", "风险");
        let level = match (v > 40.0, v < 20.0, w.lang) {
            (true, _, Lang::En) => "high",
            (_, true, Lang::En) => "low",
            (_, _, Lang::En) => "moderate",
            (true, _, Lang::Zh) => "较高",
            (_, true, Lang::Zh) => "较低",
            (_, _, Lang::Zh) => "中等",
        };
        let s = match w.lang {
            Lang::En => format!(
                "Annualised 20-day volatility is {} ({level}); the largest drawdown over 250 days is {}.",
                r("vol.20d"),
                r("dd.max_250d")
            ),
            Lang::Zh => {
                format!("20 日年化波动率为 {}（{level}）；250 日最大回撤为 {}。", r("vol.20d"), r("dd.max_250d"))
            }
        };
        w.line(&s);
    }
}

fn trend(w: &mut W<'_>) {
    if w.ctx.section("trend").is_none() {
        return;
    }
    w.heading("Trend", "趋势");
    w.facts("trend", &[]);
    if let (Some(p), Some(m20)) = (w.num("price.last"), w.num("ma.20")) {
        let above = p >= m20;
        let s = match (w.lang, above) {
            (Lang::En, true) => format!("The close {} is above the 20-day average {}.", r("price.last"), r("ma.20")),
            (Lang::En, false) => format!("The close {} is below the 20-day average {}.", r("price.last"), r("ma.20")),
            (Lang::Zh, true) => format!("收盘价 {} 位于 20 日均线 {} 之上。", r("price.last"), r("ma.20")),
            (Lang::Zh, false) => format!("收盘价 {} 位于 20 日均线 {} 之下。", r("price.last"), r("ma.20")),
        };
        w.line("");
        w.line(&s);
    }
    if let (Some(m5), Some(m20), Some(m60)) = (w.num("ma.5"), w.num("ma.20"), w.num("ma.60")) {
        let s = if m5 > m20 && m20 > m60 {
            w.t(
                "The 5-, 20- and 60-day averages are stacked upwards (bullish alignment).",
                "5、20、60 日均线呈多头排列。",
            )
        } else if m5 < m20 && m20 < m60 {
            w.t(
                "The 5-, 20- and 60-day averages are stacked downwards (bearish alignment).",
                "5、20、60 日均线呈空头排列。",
            )
        } else {
            w.t(
                "The 5-, 20- and 60-day averages are intertwined (no clear alignment).",
                "5、20、60 日均线相互缠绕，排列不明确。",
            )
        };
        let s = s.to_string();
        w.line(&s);
    }
}

fn momentum(w: &mut W<'_>) {
    if w.ctx.section("momentum").is_none() {
        return;
    }
    w.heading("Momentum", "动量");
    w.facts("momentum", &[]);
    if let Some(rsi) = w.num("rsi.14") {
        let s = if rsi >= 70.0 {
            w.t("RSI is in the overbought zone (70 or above).", "RSI 处于超买区（70 及以上）。")
        } else if rsi <= 30.0 {
            w.t("RSI is in the oversold zone (30 or below).", "RSI 处于超卖区（30 及以下）。")
        } else {
            w.t("RSI is between the oversold and overbought zones.", "RSI 处于超卖与超买区之间。")
        };
        let s = s.to_string();
        w.line("");
        w.line(&s);
    }
    if let Some(h) = w.num("macd.hist") {
        let s = if h > 0.0 {
            w.t("The MACD histogram is positive.", "MACD 柱为正。")
        } else {
            w.t("The MACD histogram is not positive.", "MACD 柱非正。")
        };
        let s = s.to_string();
        w.line(&s);
    }
}

fn chan(w: &mut W<'_>) {
    if w.ctx.section("chan").is_none() {
        return;
    }
    w.heading("Chan structure", "缠论结构");
    w.facts("chan", &[]);
    if let Some(dir) = w.text("chan.stroke.last.direction") {
        let s = match w.lang {
            Lang::En => format!(
                "The last stroke runs {dir} from {} to {}.",
                r("chan.stroke.last.begin"),
                r("chan.stroke.last.end")
            ),
            Lang::Zh => format!("最后一笔{dir}，自 {} 至 {}。", r("chan.stroke.last.begin"), r("chan.stroke.last.end")),
        };
        w.line("");
        w.line(&s);
    }
}

fn regime(w: &mut W<'_>) {
    if w.ctx.section("regime").is_none() {
        return;
    }
    w.heading("Market regime", "市场状态");
    w.facts("regime", &[]);
}

fn decision(w: &mut W<'_>) {
    if w.ctx.section("decision").is_none() {
        return;
    }
    w.heading("Voting decision", "投票决策");
    w.facts("decision", &[]);
}

fn backtests(w: &mut W<'_>) {
    let Some(s) = w.ctx.section("backtest") else { return };
    w.heading("Backtests of the built-in strategies (up to the last 500 bars)", "内置策略回测（至多最近 500 根 K 线）");
    let header = w
        .t(
            "| Strategy | Return | Largest drawdown | Sharpe | Trades |",
            "| 策略 | 总收益 | 最大回撤 | 夏普比率 | 交易次数 |",
        )
        .to_string();
    w.line(&header);
    w.line("|---|---:|---:|---:|---:|");
    let mut names: Vec<&str> = Vec::new();
    for f in &s.facts {
        if let Some(n) = f.id.strip_prefix("bt.").and_then(|x| x.split('.').next())
            && !names.contains(&n)
        {
            names.push(n);
        }
    }
    for n in names {
        let cell = |m: &str| {
            let id = format!("bt.{n}.{m}");
            if w.has(&id) { r(&id) } else { "—".to_string() }
        };
        let row = format!(
            "| {} | {} | {} | {} | {} |",
            md_escape(n),
            cell("return"),
            cell("max_drawdown"),
            cell("sharpe"),
            cell("trades")
        );
        w.line(&row);
    }
}

fn dcf(w: &mut W<'_>) {
    w.heading("Valuation", "估值");
    if w.ctx.section("dcf").is_none() {
        let s = w
            .t(
                "No financial statements are stored for this company, so quantdesk computed no DCF value.",
                "未存储该公司的财务报表，quantdesk 未计算现金流折现估值。",
            )
            .to_string();
        w.line(&s);
        return;
    }
    w.facts("dcf", &[]);
    if let Some(m) = w.num("dcf.margin") {
        let s = match (w.lang, m >= 0.0) {
            (Lang::En, true) => format!("The DCF value is above the last close by {}.", r("dcf.margin")),
            (Lang::En, false) => format!("The DCF value is below the last close ({}).", r("dcf.margin")),
            (Lang::Zh, true) => format!("现金流折现价值高于最新收盘价，幅度 {}。", r("dcf.margin")),
            (Lang::Zh, false) => format!("现金流折现价值低于最新收盘价（{}）。", r("dcf.margin")),
        };
        w.line("");
        w.line(&s);
    }
}
