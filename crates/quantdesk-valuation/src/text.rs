//! Every text the crate gives a person (warnings, refusals, guardrail messages, notes), in English
//! and zh-CN, keyed by a stable code: a plain table of templates with `{name}` placeholders, no
//! i18n framework. A [`crate::Warning`] or [`crate::ValuationError`] carries its code and both
//! rendered texts, so a stored result can be shown in either language; `text(Lang)` picks one.
//!
//! The English texts are the crate's original messages, word for word (the `reference`
//! profile's `data_warnings` list them, unchanged). Where the reference has a Chinese message for
//! the same situation, the zh-CN text follows its wording.

use serde::{Deserialize, Serialize};

/// A language of the crate's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// One text: its code and its English and zh-CN templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub code: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

const fn e(code: &'static str, en: &'static str, zh: &'static str) -> Entry {
    Entry { code, en, zh }
}

/// Every text, by code (`<rule>.<name>` for warnings, `refusal.…`, `guard.…`, `reverse.…`,
/// `relative.…`).
pub const CATALOGUE: &[Entry] = &[
    // ---- warnings
    e(
        "Q3.outliers",
        "{table}.{col}: {n} outlier(s) outside [Q1 − 1.5·IQR, Q3 + 1.5·IQR] removed ({dates}: {values})",
        "在表 '{table}' 的列 '{col}' 中检测到 {n} 个潜在异常值（超出 [Q1 − 1.5·IQR, Q3 + 1.5·IQR]）(日期: {dates}, 值: {values})。已替换为 NaN 进行后续处理。",
    ),
    e(
        "Q4.still_missing",
        "{table}.{col}: {n} value(s) still missing after interpolation and fills ({dates}), set to 0",
        "在表 '{table}' 的列 '{col}' 中，有 {n} 个 NaN 值（日期: {dates}）在插值和填充后仍然存在，已用 0 填充。请注意这可能影响计算结果。",
    ),
    e(
        "Q6.no_history",
        "no historical year qualifies for the {what}: the forecast uses the default",
        "无法计算历史中位数（{what}）：没有符合条件的历史年份，将使用默认值进行预测。",
    ),
    e(
        "Q10.no_cagr",
        "the revenue CAGR cannot be computed (fewer than two positive total_revenue years spanning a year): 5 % is used",
        "无法计算收入复合增长率（total_revenue 为正且跨度满一年的年份少于两个）：使用 5 %。",
    ),
    e(
        "Q10.one_year",
        "only one year of history: every ratio rests on a single year and the revenue CAGR defaults to 5 %",
        "只有一年的历史数据：所有比率都只基于这一年，收入复合增长率默认为 5 %。",
    ),
    e(
        "Q8.no_cash_flow",
        "no cash-flow statement: D&A and capex count as 0 in every year",
        "没有现金流量表：各年的折旧摊销和资本支出均按 0 计算。",
    ),
    e(
        "H3.no_shares",
        "no share count (daily_basic.total_share): value per share and per-share metrics are not computed",
        "总股本非正、无效或未提供（daily_basic.total_share），无法计算每股价值及每股指标。",
    ),
    e(
        "Q23.no_daily_basic",
        "no daily_basic row: price, PE and PB are unknown",
        "没有 daily_basic 行情数据：价格、市盈率和市净率未知。",
    ),
    e(
        "QD-LTM.stale",
        "LTM baseline: the latest quarter ({p}) is not later than the last annual report ({a}), which is the base",
        "LTM 基期：最新一期季报（{p}）不晚于最新年报（{a}），以该年报为基期",
    ),
    e(
        "QD-LTM.december",
        "LTM baseline: the fiscal year to {p} (its year-to-date report), with the balance sheet of {p}; the history's annual reports stay beside it",
        "LTM 基期：截至 {p} 的会计年度（其年初至今报表），资产负债表取 {p}；历史年报保留在旁",
    ),
    e(
        "QD-LTM.ltm",
        "LTM baseline: the twelve months to {p} = YTD {p} + FY{fy} − YTD {p_prev}, with the balance sheet of {p}; the history's annual reports stay beside it",
        "LTM 基期：截至 {p} 的十二个月 = {p} 年初至今 + {fy} 年报 − {p_prev} 年初至今，资产负债表取 {p}；历史年报保留在旁",
    ),
    e(
        "QD-TAX-MISSING.start",
        "no historical effective tax rate: the tax path starts at {t}",
        "没有历史有效税率：税率路径从 {t} 起步。",
    ),
    e(
        "QD-NWC-BASELINE.no_last",
        "no last historical NWC: year 1's ΔNWC is measured against 0",
        "未提供最后一个历史 NWC 值：第一年 ΔNWC 以 0 为基期。",
    ),
    e(
        "QD-NWC-BASELINE.no_component",
        "no component NWC for the last year: year 1's ΔNWC is measured against 0",
        "最后一年无法按分项计算 NWC：第一年 ΔNWC 以 0 为基期。",
    ),
    e(
        "QD-MARKET-WEIGHTS.fallback",
        "market weights unavailable (no price × shares or P/E × net income): the target D/(D+E) = {ratio} is used",
        "无法获取市场价值组件（既无价格 × 股本，也无市盈率 × 净利润），无法使用市场价值权重：改用目标债务比例 D/(D+E) = {ratio}。",
    ),
    e(
        "Q31.growth_field",
        "terminal_growth_rate is ignored by the reference (it reads perpetual_growth_rate): 0.025 is used",
        "参考实现忽略 terminal_growth_rate（它读取 perpetual_growth_rate）：使用 0.025。",
    ),
    e(
        "QD-GDP-CAP.capped",
        "perpetual growth {g} capped at the nominal GDP growth {cap}",
        "永续增长率 {g} 已限制为不高于名义 GDP 增速上限 {cap}。",
    ),
    e(
        "Q25.tv_zero",
        "the final year's UFCF is not positive: the perpetual-growth terminal value is 0",
        "预测末年 UFCF 非正：永续增长法终值为 0。",
    ),
    e(
        "Q15.cogs_mode",
        "only cogs_forecast_mode = residual is implemented: COGS = revenue − EBIT − SG&A − R&D",
        "仅实现了 cogs_forecast_mode = residual：营业成本 = 收入 − EBIT − 销售及管理费用 − 研发费用。",
    ),
    e(
        "Q27.negative_equity",
        "negative equity value ({value}): net debt and minorities exceed the enterprise value",
        "股权价值为负（{value}）：净债务与少数股东权益超过企业价值。",
    ),
    e(
        "Q33.special_industry",
        "a bank, insurer or broker (comp_type 2/3/4): a general FCFF DCF does not fit a financial company's statements",
        "您选择的股票属于金融行业（银行、保险或证券，comp_type 2/3/4）。当前通用DCF估值模型可能不完全适用于此类公司，请谨慎参考并结合其他分析方法。",
    ),
    e(
        "Q30.bad_axes",
        "sensitivity axes {row} × {col}: a parameter is not one of wacc, perpetual_growth_rate, exit_multiple{extra}; no grid",
        "敏感性分析轴 {row} × {col}：参数须为 wacc、perpetual_growth_rate、exit_multiple{extra} 之一；不生成敏感性分析表。",
    ),
    // ---- guardrails (also warnings, rule GUARD-<name>, when they warn)
    e(
        "guard.tv_share",
        "the terminal value is {share} % of the enterprise value (above 75 % the forecast years say little)",
        "终值占企业价值的 {share} %（超过 75 % 时预测期几乎不起作用）",
    ),
    e("guard.tv_share_none", "the enterprise value is 0: no terminal value share", "企业价值为 0：无终值占比"),
    e(
        "guard.gap",
        "WACC − terminal growth = {gap} pp (below 2 pp the terminal value explodes)",
        "WACC − 永续增长率 = {gap} 个百分点（低于 2 个百分点时终值急剧膨胀）",
    ),
    e("guard.gap_none", "no terminal growth to compare", "没有可比较的永续增长率"),
    e(
        "guard.reinvestment",
        "final-year net reinvestment (capex − D&A + ΔNWC) is {rate} % of NOPAT",
        "预测末年净再投资（资本支出 − 折旧摊销 + ΔNWC）为 NOPAT 的 {rate} %",
    ),
    e(
        "guard.reinvestment_inconsistent",
        "final-year net reinvestment (capex − D&A + ΔNWC) is {rate} % of NOPAT: positive terminal growth with no net investment is inconsistent",
        "预测末年净再投资（资本支出 − 折旧摊销 + ΔNWC）为 NOPAT 的 {rate} %：永续增长为正却没有净投资，前后矛盾",
    ),
    e(
        "guard.reinvestment_none",
        "final-year NOPAT is not positive: reinvestment rate undefined",
        "预测末年 NOPAT 非正：再投资率无定义",
    ),
    e("guard.imputed_none", "every driver comes from the company's history", "所有驱动因素均来自公司历史数据"),
    e(
        "guard.imputed",
        "drivers taken from defaults (no usable history): {list}",
        "以下驱动因素采用默认值（无可用历史数据）：{list}",
    ),
    // ---- refusals
    e("refusal.missing_statement", "cannot value without the {list} statement(s)", "缺少{list}，无法估值"),
    e(
        "refusal.zero_revenue",
        "the base year's revenue (income.revenue of {period}) is {value}: nothing to forecast from",
        "基期营业收入（{period} 的 income.revenue）为 {value}：无法据此预测",
    ),
    e(
        "refusal.forecast_years",
        "forecast_years must be between 1 and 20, got {n}",
        "forecast_years 必须在 1 到 20 之间，实际为 {n}",
    ),
    e(
        "refusal.missing_tax_rate",
        "no historical effective tax rate (income_tax/total_profit in [0,1] in no year): the reference cannot forecast taxes",
        "没有历史有效税率（没有任何年份的 income_tax/total_profit 位于 [0,1]）：参考实现无法预测税费",
    ),
    e(
        "refusal.invalid_cost_of_equity",
        "the cost of equity Rf + β·MRP + size = {ke} is not positive: no WACC can be weighted from it",
        "计算出的权益成本(Ke) Rf + β·MRP + 规模溢价 = {ke} 无效或非正，无法计算 WACC。",
    ),
    e(
        "refusal.market_weights_unavailable",
        "market weights need the daily P/E and a positive net income in the last year (PE × n_income): one is missing",
        "市场价值权重需要日度市盈率和最近一年为正的净利润（PE × n_income）：缺少其一，无法使用市场价值权重。",
    ),
    e(
        "refusal.invalid_wacc",
        "the discount rate {wacc} is not strictly between 0 and 1",
        "计算出的 WACC ({wacc}) 无效或超出合理范围 (0-100%)。",
    ),
    e(
        "refusal.growth_not_below_wacc",
        "the perpetual growth rate {g} is not below the WACC {wacc}",
        "永续增长率 ({g}) 必须小于 WACC ({wacc})",
    ),
    e(
        "refusal.missing_price",
        "the reverse DCF needs a price: none given and no daily_basic.close",
        "反向 DCF 需要价格：未提供价格，也没有 daily_basic.close",
    ),
    e(
        "refusal.missing_shares",
        "the reverse DCF needs a share count (daily_basic.total_share)",
        "反向 DCF 需要总股本（daily_basic.total_share）",
    ),
    e(
        "refusal.ltm_no_quarters",
        "the LTM baseline needs the quarterly (year-to-date) income statements: none were given",
        "LTM 基期需要季度（年初至今）利润表：未提供",
    ),
    e(
        "refusal.ltm_missing",
        "the LTM baseline to {p} needs rows that were not given: {list}",
        "截至 {p} 的 LTM 基期缺少以下报表行：{list}",
    ),
    e(
        "refusal.ddm_years",
        "ddm.high_growth_years must be between {lo} and {hi}, got {n}",
        "ddm.high_growth_years 必须在 {lo} 到 {hi} 之间，实际为 {n}",
    ),
    e("refusal.ddm_not_a_number", "the DDM's {name} is not a number ({v})", "股利贴现模型的{name}不是有效数字（{v}）"),
    e(
        "refusal.ddm_ke",
        "the DDM needs a positive cost of equity, got {ke}",
        "股利贴现模型需要为正的权益成本，实际为 {ke}",
    ),
    e(
        "refusal.ddm_high_growth",
        "ddm.high_growth must be above −100 %, got {g}",
        "ddm.high_growth 必须高于 −100 %，实际为 {g}",
    ),
    e(
        "refusal.growth_not_below_ke",
        "ddm.terminal_growth {g} is not below the cost of equity {ke}: the Gordon value is undefined",
        "ddm.terminal_growth {g} 不低于权益成本 {ke}：戈登增长模型价值无定义",
    ),
    e(
        "refusal.no_dividends",
        "no dividend to discount: no implemented dividend rows (cash_div_tax) and no daily_basic.dv_ttm",
        "没有可贴现的股利：没有已实施的分红记录（cash_div_tax），也没有 daily_basic.dv_ttm",
    ),
    // ---- reverse DCF
    e("reverse.model_fails", "the model fails at an end of the bracket", "模型在搜索区间的端点无法计算"),
    e(
        "reverse.outside",
        "the price {price} is outside the values the bracket reaches ({lo} … {hi} per share)",
        "价格 {price} 超出搜索区间可达到的每股价值范围（{lo} … {hi}）",
    ),
    // ---- relative valuation notes
    e("relative.no_current", "no current {field}", "没有当前的 {field}"),
    e(
        "relative.not_positive",
        "{field} is not positive ({c}): it implies no price",
        "{field} 非正（{c}）：无法推出价格",
    ),
    e("relative.no_price", "no price (daily_basic.close)", "没有价格（daily_basic.close）"),
    e(
        "relative.no_annual",
        "no annual report (operate_profit and the balance sheet) known on the latest trading date",
        "最新交易日时尚无已知的年报（operate_profit 与资产负债表）",
    ),
    e(
        "relative.ebitda_not_positive",
        "EBITDA is not positive: EV/EBITDA says nothing",
        "EBITDA 非正：EV/EBITDA 没有意义",
    ),
    e("relative.no_market_value", "no market value (daily_basic.total_mv)", "没有市值（daily_basic.total_mv）"),
    e("relative.no_shares", "no share count (daily_basic.total_share)", "没有总股本（daily_basic.total_share）"),
];

/// One template argument, with its value in each language (usually the same).
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    key: &'static str,
    en: String,
    zh: String,
}

/// An argument with the same value in both languages.
pub(crate) fn a(key: &'static str, v: impl std::fmt::Display) -> Arg {
    let s = v.to_string();
    Arg { key, en: s.clone(), zh: s }
}

/// An argument worded per language.
pub(crate) fn t(key: &'static str, en: impl Into<String>, zh: impl Into<String>) -> Arg {
    Arg { key, en: en.into(), zh: zh.into() }
}

/// The entry of `code`.
pub fn entry(code: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.code == code)
}

fn fill(template: &str, args: &[Arg], zh: bool) -> String {
    let mut s = template.to_string();
    for arg in args {
        s = s.replace(&format!("{{{}}}", arg.key), if zh { &arg.zh } else { &arg.en });
    }
    s
}

/// The English and zh-CN texts of `code` with `args` filled in. An unknown code (a bug the
/// catalogue test catches) renders as the code itself rather than failing.
pub(crate) fn render(code: &str, args: &[Arg]) -> (String, String) {
    match entry(code) {
        Some(e) => (fill(e.en, args, false), fill(e.zh, args, true)),
        None => (code.to_string(), code.to_string()),
    }
}

/// The `{name}` placeholders of a template, sorted.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_english_and_a_zh_text_with_the_same_placeholders() {
        let mut seen = std::collections::BTreeSet::new();
        for e in CATALOGUE {
            assert!(seen.insert(e.code), "{} twice", e.code);
            assert!(!e.en.trim().is_empty(), "{}: no English text", e.code);
            assert!(!e.zh.trim().is_empty(), "{}: no zh-CN text", e.code);
            assert!(
                e.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{}: the zh-CN text has no Chinese",
                e.code
            );
            assert_eq!(placeholders(e.en), placeholders(e.zh), "{}: placeholders differ", e.code);
        }
    }

    #[test]
    fn render_fills_both_languages() {
        let (en, zh) = render("QD-GDP-CAP.capped", &[a("g", 0.05), a("cap", 0.045)]);
        assert_eq!(en, "perpetual growth 0.05 capped at the nominal GDP growth 0.045");
        assert_eq!(zh, "永续增长率 0.05 已限制为不高于名义 GDP 增速上限 0.045。");
        let (en, zh) = render("Q6.no_history", &[t("what", "D&A ratio", "折旧摊销占收入比")]);
        assert!(en.contains("D&A ratio") && zh.contains("折旧摊销占收入比"));
        assert_eq!(render("nope", &[]).0, "nope");
    }
}
