//! Step A: data cleaning (rules Q1–Q4), per table, and the raw view (Q5).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate as Date;
use quantdesk_core::StatementRow;
use quantdesk_core::financials::FieldValue;

use crate::output::Warning;
use crate::text::a;

/// Columns that are text in TuShare's frames and never cleaned (Q2).
pub(crate) const TEXT_COLUMNS: &[&str] =
    &["ts_code", "ann_date", "f_ann_date", "end_date", "report_type", "comp_type", "end_type", "update_flag"];

/// Key columns interpolated before the fills (Q4.1), per table.
pub(crate) const KEY_INCOME: &[&str] =
    &["total_revenue", "revenue", "oper_cost", "sell_exp", "admin_exp", "rd_exp", "income_tax", "total_profit"];
pub(crate) const KEY_BALANCE: &[&str] = &[
    "accounts_receiv_bill",
    "inventories",
    "accounts_pay",
    "prepayment",
    "oth_cur_assets",
    "contract_liab",
    "adv_receipts",
    "payroll_payable",
    "taxes_payable",
    "oth_payable",
    "total_cur_assets",
    "total_cur_liab",
    "money_cap",
    "st_borr",
    "non_cur_liab_due_1y",
];
pub(crate) const KEY_CASH: &[&str] =
    &["depr_fa_coga_dpba", "amort_intang_assets", "lt_amort_deferred_exp", "c_pay_acq_const_fiolta", "c_paid_goods_s"];

/// A table after cleaning: rows sorted by period, numeric columns as `f64` (never missing after
/// the fills unless the row lacked the column entirely), text columns kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub periods: Vec<Date>,
    /// Column → one value per row.
    pub numeric: BTreeMap<String, Vec<Option<f64>>>,
    pub text: BTreeMap<String, Vec<Option<String>>>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.periods.len()
    }

    pub fn has(&self, col: &str) -> bool {
        self.numeric.contains_key(col)
    }

    pub fn get(&self, col: &str, i: usize) -> Option<f64> {
        self.numeric.get(col).and_then(|v| v.get(i).copied().flatten())
    }

    pub fn text(&self, col: &str, i: usize) -> Option<String> {
        self.text.get(col).and_then(|v| v.get(i).cloned().flatten())
    }

    /// The row index for a period (the last one when a period repeats).
    pub fn index_of(&self, period: Date) -> Option<usize> {
        self.periods.iter().rposition(|p| *p == period)
    }

    /// Keeps the last row of each period (Q1).
    pub fn dedup(&self) -> Table {
        let keep: Vec<usize> =
            (0..self.len()).filter(|&i| i + 1 == self.len() || self.periods[i + 1] != self.periods[i]).collect();
        Table {
            periods: keep.iter().map(|&i| self.periods[i]).collect(),
            numeric: self.numeric.iter().map(|(k, v)| (k.clone(), keep.iter().map(|&i| v[i]).collect())).collect(),
            text: self.text.iter().map(|(k, v)| (k.clone(), keep.iter().map(|&i| v[i].clone()).collect())).collect(),
        }
    }
}

fn text_of(v: &FieldValue) -> Option<String> {
    match v {
        FieldValue::Text(t) => Some(t.clone()),
        FieldValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
        FieldValue::Number(n) => Some(n.to_string()),
        FieldValue::Null => None,
    }
}

/// Builds a table from rows without cleaning (sorted by period, stable).
pub(crate) fn raw_table(rows: &[StatementRow]) -> Table {
    let mut rows: Vec<&StatementRow> = rows.iter().collect();
    rows.sort_by_key(|r| r.period);
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for r in &rows {
        names.extend(r.fields.keys().map(String::as_str));
    }
    let mut t = Table { periods: rows.iter().map(|r| r.period).collect(), ..Table::default() };
    for name in names {
        let values: Vec<Option<&FieldValue>> = rows.iter().map(|r| r.fields.get(name)).collect();
        let is_text = TEXT_COLUMNS.contains(&name)
            || values
                .iter()
                .flatten()
                .any(|v| matches!(v, FieldValue::Text(s) if s.trim().parse::<f64>().is_err() && !s.trim().is_empty()));
        if is_text {
            t.text.insert(name.to_string(), values.iter().map(|v| v.and_then(text_of)).collect());
        } else {
            t.numeric.insert(name.to_string(), values.iter().map(|v| v.and_then(FieldValue::as_f64)).collect());
        }
    }
    t
}

/// Linear-interpolation ("type 7") quantile of sorted values.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    // numpy's _lerp: a + (b − a)·t, evaluated from the nearer end.
    let (a, b) = (sorted[lo], sorted[hi]);
    if frac >= 0.5 { b - (b - a) * (1.0 - frac) } else { a + (b - a) * frac }
}

fn fmt_dates(t: &Table, idx: &[usize]) -> String {
    idx.iter().map(|&i| t.periods[i].format("%Y-%m-%d").to_string()).collect::<Vec<_>>().join(", ")
}

/// Cleans a table (Q1–Q4). `name` is the table's name in warnings.
pub(crate) fn clean(raw: &Table, name: &str, keys: &[&str], warnings: &mut Vec<Warning>) -> Table {
    let mut t = raw.clone();
    let n = t.len();
    let periods = t.periods.clone();
    let view = Table { periods, ..Table::default() };
    for (col, values) in t.numeric.iter_mut() {
        // Q3: IQR outliers.
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        if present.len() >= 4 {
            present.sort_by(f64::total_cmp);
            let q1 = quantile(&present, 0.25);
            let q3 = quantile(&present, 0.75);
            let iqr = q3 - q1;
            if iqr > 1e-9 {
                let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
                let out: Vec<usize> = (0..n).filter(|&i| values[i].is_some_and(|v| v < lo || v > hi)).collect();
                if !out.is_empty() {
                    let vals: Vec<String> = out.iter().map(|&i| format!("{}", values[i].unwrap_or(f64::NAN))).collect();
                    warnings.push(Warning::new(
                        "Q3",
                        "Q3.outliers",
                        &[
                            a("table", name),
                            a("col", col),
                            a("n", out.len()),
                            a("dates", fmt_dates(&view, &out)),
                            a("values", vals.join(", ")),
                        ],
                    ));
                    for i in out {
                        values[i] = None;
                    }
                }
            }
        }
        // Q4.1: interpolate interior gaps of key columns by row position.
        if keys.contains(&col.as_str()) && values.iter().flatten().count() >= 2 {
            let idx: Vec<usize> = (0..n).filter(|&i| values[i].is_some()).collect();
            for w in idx.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (va, vb) = (values[a].unwrap_or(0.0), values[b].unwrap_or(0.0));
                for (i, v) in values.iter_mut().enumerate().take(b).skip(a + 1) {
                    let f = (i - a) as f64 / (b - a) as f64;
                    *v = Some(va + (vb - va) * f);
                }
            }
        }
        // Q4.2 / Q4.3: forward fill, then backward fill.
        for i in 1..n {
            if values[i].is_none() {
                values[i] = values[i - 1];
            }
        }
        for i in (0..n.saturating_sub(1)).rev() {
            if values[i].is_none() {
                values[i] = values[i + 1];
            }
        }
        // Q4.4: anything still missing (an empty column) → 0.
        let empty: Vec<usize> = (0..n).filter(|&i| values[i].is_none()).collect();
        if !empty.is_empty() {
            warnings.push(Warning::new(
                "Q4",
                "Q4.still_missing",
                &[a("table", name), a("col", col), a("n", empty.len()), a("dates", fmt_dates(&view, &empty))],
            ));
            for i in empty {
                values[i] = Some(0.0);
            }
        }
    }
    t
}
