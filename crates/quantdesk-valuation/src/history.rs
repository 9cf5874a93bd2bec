//! Step B: historical ratios (rules Q6–Q11) and the base-year inputs (Q5, Q12, Q23, Q29).

use crate::clean::Table;
use crate::output::{HistoricalRatios, Warning};
use crate::request::OtherClMode;
use crate::text::t;

/// Median; even counts take the mean of the two middle values.
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Sum of columns at a row; `None` when any is missing.
fn sum(t: &Table, cols: &[&str], i: usize) -> Option<f64> {
    cols.iter().map(|c| t.get(c, i)).sum()
}

/// Q6: median of num/den over the income rows, the numerator read by `num` at the income row.
fn ratio_median(
    inc: &Table,
    num: impl Fn(usize) -> Option<f64>,
    den_col: &str,
    scale: f64,
    keep: impl Fn(f64) -> bool,
) -> Option<f64> {
    let mut v = Vec::new();
    for i in 0..inc.len() {
        let Some(den) = inc.get(den_col, i) else { continue };
        if den <= 0.0 {
            continue;
        }
        let Some(n) = num(i) else { continue };
        let r = n * scale / den;
        if keep(r) {
            v.push(r);
        }
    }
    median(v)
}

/// Revenue CAGR (Q10), and the same rule for any column.
pub(crate) fn cagr(inc: &Table, col: &str) -> Option<f64> {
    let rows: Vec<(chrono::NaiveDate, f64)> =
        (0..inc.len()).filter_map(|i| inc.get(col, i).map(|v| (inc.periods[i], v))).collect();
    let growth = |a: (chrono::NaiveDate, f64), b: (chrono::NaiveDate, f64)| -> Option<f64> {
        let years = (b.0 - a.0).num_days() as f64 / 365.25;
        if a.1 > 0.0 && b.1 > 0.0 && years > 0.0 { Some((b.1 / a.1).powf(1.0 / years) - 1.0) } else { None }
    };
    let n = rows.len();
    if n >= 4 && (rows[n - 1].0 - rows[n - 4].0).num_days() as f64 > 912.5 {
        return growth(rows[n - 4], rows[n - 1]);
    }
    if n >= 2 && (rows[n - 1].0 - rows[0].0).num_days() as f64 > 328.5 {
        return growth(rows[0], rows[n - 1]);
    }
    None
}

/// Balance-sheet value for the income row `i` (matched on identical end_date).
fn bal_at(inc: &Table, bal: &Table, i: usize, cols: &[&str]) -> Option<f64> {
    let j = bal.index_of(inc.periods[i])?;
    sum(bal, cols, j)
}

/// Cash-flow value for the income row `i`; a year absent from the cash-flow table counts as 0.
fn cash_at(inc: &Table, cf: &Table, i: usize, cols: &[&str]) -> Option<f64> {
    match cf.index_of(inc.periods[i]) {
        Some(j) => sum(cf, cols, j),
        None => Some(0.0),
    }
}

/// Q11's NWC of a balance row: (current assets − cash) − (current liabilities − short-term
/// borrowing − non-current liabilities due within a year).
pub(crate) fn nwc_q11(bal: &Table, j: usize) -> Option<f64> {
    Some(
        (bal.get("total_cur_assets", j)? - bal.get("money_cap", j)?)
            - (bal.get("total_cur_liab", j)? - bal.get("st_borr", j)? - bal.get("non_cur_liab_due_1y", j)?),
    )
}

/// The other-current-liabilities numerator of a balance row (Q8, or the `pg` mode).
pub(crate) fn other_cl(bal: &Table, j: usize, mode: OtherClMode) -> Option<f64> {
    let x = match mode {
        OtherClMode::Standard => {
            if bal.has("contract_liab") {
                bal.get("contract_liab", j)?
            } else {
                bal.get("adv_receipts", j)?
            }
        }
        OtherClMode::Pg => match bal.get("contract_liab", j) {
            Some(c) if c != 0.0 => c,
            _ => bal.get("adv_receipts", j).unwrap_or(0.0),
        },
    };
    Some(x + sum(bal, &["payroll_payable", "taxes_payable", "oth_payable"], j)?)
}

/// All ratios of `historical_ratios`.
pub(crate) fn ratios(
    inc: &Table,
    bal: &Table,
    cf: &Table,
    mode: OtherClMode,
    warnings: &mut Vec<Warning>,
) -> HistoricalRatios {
    let any = |_: f64| true;
    let days = |d: f64| (0.0..3600.0).contains(&d);
    let h = HistoricalRatios {
        cogs_to_revenue_ratio: ratio_median(inc, |i| inc.get("oper_cost", i), "total_revenue", 1.0, any),
        sga_rd_to_revenue_ratio: ratio_median(
            inc,
            |i| sum(inc, &["sell_exp", "admin_exp", "rd_exp"], i),
            "total_revenue",
            1.0,
            any,
        ),
        operating_margin_median: ratio_median(inc, |i| inc.get("operate_profit", i), "total_revenue", 1.0, any),
        da_to_revenue_ratio: ratio_median(
            inc,
            |i| cash_at(inc, cf, i, &["depr_fa_coga_dpba", "amort_intang_assets"]),
            "total_revenue",
            1.0,
            any,
        ),
        capex_to_revenue_ratio: ratio_median(
            inc,
            |i| cash_at(inc, cf, i, &["c_pay_acq_const_fiolta"]).map(f64::abs),
            "total_revenue",
            1.0,
            any,
        ),
        accounts_receivable_days: ratio_median(
            inc,
            |i| bal_at(inc, bal, i, &["accounts_receiv_bill"]),
            "revenue",
            360.0,
            days,
        ),
        inventory_days: ratio_median(inc, |i| bal_at(inc, bal, i, &["inventories"]), "oper_cost", 360.0, days),
        accounts_payable_days: ratio_median(inc, |i| bal_at(inc, bal, i, &["accounts_pay"]), "oper_cost", 360.0, days),
        other_current_assets_to_revenue_ratio: ratio_median(
            inc,
            |i| bal_at(inc, bal, i, &["prepayment", "oth_cur_assets"]),
            "total_revenue",
            1.0,
            any,
        ),
        other_current_liabilities_to_revenue_ratio: ratio_median(
            inc,
            |i| bal.index_of(inc.periods[i]).and_then(|j| other_cl(bal, j, mode)),
            "total_revenue",
            1.0,
            any,
        ),
        nwc_to_revenue_ratio: ratio_median(
            inc,
            |i| bal.index_of(inc.periods[i]).and_then(|j| nwc_q11(bal, j)),
            "total_revenue",
            1.0,
            any,
        ),
        last_historical_nwc: bal.len().checked_sub(1).and_then(|j| nwc_q11(bal, j)),
        effective_tax_rate: {
            let mut v = Vec::new();
            for i in 0..inc.len() {
                if let (Some(tax), Some(tp)) = (inc.get("income_tax", i), inc.get("total_profit", i))
                    && tp != 0.0
                {
                    let r = tax / tp;
                    if (0.0..=1.0).contains(&r) {
                        v.push(r);
                    }
                }
            }
            median(v)
        },
        historical_revenue_cagr: cagr(inc, "total_revenue"),
        sga_to_revenue_ratio: ratio_median(inc, |i| sum(inc, &["sell_exp", "admin_exp"], i), "total_revenue", 1.0, any),
        rd_to_revenue_ratio: ratio_median(inc, |i| inc.get("rd_exp", i), "total_revenue", 1.0, any),
        last_historical_nwc_components: bal.len().checked_sub(1).and_then(|j| {
            Some(
                bal.get("accounts_receiv_bill", j)?
                    + bal.get("inventories", j)?
                    + bal.get("prepayment", j)?
                    + bal.get("oth_cur_assets", j)?
                    - bal.get("accounts_pay", j)?
                    - other_cl(bal, j, mode)?,
            )
        }),
    };
    let named: [(&str, &str, Option<f64>); 9] = [
        (
            "operating margin (operate_profit/total_revenue)",
            "营业利润率 (operate_profit/total_revenue)",
            h.operating_margin_median,
        ),
        ("D&A ratio", "折旧摊销占收入比", h.da_to_revenue_ratio),
        ("capex ratio", "资本支出占收入比", h.capex_to_revenue_ratio),
        (
            "DSO (accounts_receiv_bill/revenue)",
            "应收账款周转天数 (accounts_receiv_bill/revenue)",
            h.accounts_receivable_days,
        ),
        ("DIO (inventories/oper_cost)", "存货周转天数 (inventories/oper_cost)", h.inventory_days),
        ("DPO (accounts_pay/oper_cost)", "应付账款周转天数 (accounts_pay/oper_cost)", h.accounts_payable_days),
        ("other current assets ratio", "其他流动资产占收入比", h.other_current_assets_to_revenue_ratio),
        ("other current liabilities ratio", "其他流动负债占收入比", h.other_current_liabilities_to_revenue_ratio),
        ("effective tax rate (income_tax/total_profit)", "有效税率 (income_tax/total_profit)", h.effective_tax_rate),
    ];
    for (what, what_zh, v) in named {
        if v.is_none() {
            warnings.push(Warning::new("Q6", "Q6.no_history", &[t("what", what, what_zh)]));
        }
    }
    if h.historical_revenue_cagr.is_none() {
        warnings.push(Warning::new("Q10", "Q10.no_cagr", &[]));
    }
    h
}

/// Strict 3-year CAGR of a column: the 4th-from-last to the last row (day-count years), both > 0.
pub(crate) fn cagr_3y(inc: &Table, col: &str) -> Option<f64> {
    let rows: Vec<(chrono::NaiveDate, f64)> =
        (0..inc.len()).filter_map(|i| inc.get(col, i).map(|v| (inc.periods[i], v))).collect();
    let n = rows.len();
    if n < 4 {
        return None;
    }
    let (a, b) = (rows[n - 4], rows[n - 1]);
    let years = (b.0 - a.0).num_days() as f64 / 365.25;
    (a.1 > 0.0 && b.1 > 0.0 && years > 0.0).then(|| (b.1 / a.1).powf(1.0 / years) - 1.0)
}
