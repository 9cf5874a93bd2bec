//! Relative valuation: P/E, P/E (TTM), P/B and EV/EBITDA against the company's own `daily_basic`
//! history and its industry peers' latest rows, each with the price it implies. A reference figure
//! beside the DCF, not a second model: no forecast, no discounting.
//!
//! Rules:
//! - a multiple ≤ 0 or missing is no reading (a loss-making P/E says nothing); it is left out of
//!   the history and of the peers, and a current value ≤ 0 implies no price;
//! - percentiles interpolate linearly between order statistics (numpy's default);
//!   `current_percentile` is the share of the history at or below the current value;
//! - the industry median leaves the company itself out;
//! - P/E, P/E TTM and P/B imply `price × median / current`; EV/EBITDA implies
//!   `(median × EBITDA − net debt) / shares`, with EV = `total_mv` (万元 × 10 000) + net debt and
//!   EBITDA and net debt from the latest annual report known on the row's trading date.

use crate::text::{a, render};
use chrono::{Datelike, NaiveDate};
use quantdesk_core::StatementRow;
use serde::{Deserialize, Serialize};

/// EBITDA and net debt of one annual report, from the day it became known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fundamentals {
    /// The report period (31 December).
    pub period: NaiveDate,
    /// The day the report became public (`f_ann_date`, else `ann_date`, else the period).
    pub known_on: NaiveDate,
    /// `operate_profit` + `depr_fa_coga_dpba` + `amort_intang_assets` (yuan).
    pub ebitda: f64,
    /// `lt_borr` + `st_borr` + `bond_payable` + `non_cur_liab_due_1y` − `money_cap` (yuan).
    pub net_debt: f64,
}

/// Per annual period present in the income statement and the balance sheet, its EBITDA and net
/// debt (D&A from the cash-flow statement of the same period, 0 when absent), ascending.
pub fn fundamentals(
    income: &[StatementRow],
    balance_sheet: &[StatementRow],
    cash_flow: &[StatementRow],
) -> Vec<Fundamentals> {
    let annual = |r: &&StatementRow| r.period.month() == 12 && r.period.day() == 31;
    let mut out: Vec<Fundamentals> = income
        .iter()
        .filter(annual)
        .filter_map(|inc| {
            let op = inc.number("operate_profit")?;
            let bal = balance_sheet.iter().rev().find(|b| b.period == inc.period)?;
            let cf = cash_flow.iter().rev().find(|c| c.period == inc.period);
            let da = cf.map_or(0.0, |c| {
                c.number("depr_fa_coga_dpba").unwrap_or(0.0) + c.number("amort_intang_assets").unwrap_or(0.0)
            });
            let b = |f: &str| bal.number(f).unwrap_or(0.0);
            let net_debt = b("lt_borr") + b("st_borr") + b("bond_payable") + b("non_cur_liab_due_1y") - b("money_cap");
            Some(Fundamentals {
                period: inc.period,
                known_on: inc.known_on().max(bal.known_on()),
                ebitda: op + da,
                net_debt,
            })
        })
        .collect();
    out.sort_by_key(|f| f.period);
    out.dedup_by_key(|f| f.period);
    out
}

/// One industry peer: its latest `daily_basic` row and, where known, its latest annual EBITDA and
/// net debt.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub daily_basic: StatementRow,
    pub fundamentals: Option<Fundamentals>,
}

/// Where a multiple has been.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Readings (rows with a positive multiple).
    pub n: usize,
    pub min: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub max: f64,
    /// The share of the readings at or below the current value (0…1); `None` without one.
    pub current_percentile: Option<f64>,
}

/// One multiple: now, against its own history, against the industry, and the prices implied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultipleReading {
    /// `pe`, `pe_ttm`, `pb` or `ev_ebitda`.
    pub multiple: String,
    pub current: Option<f64>,
    pub history: Option<Percentiles>,
    pub industry_median: Option<f64>,
    /// Peers with a positive reading (the company left out).
    pub industry_count: usize,
    pub implied_price_at_own_median: Option<f64>,
    pub implied_price_at_industry_median: Option<f64>,
    /// Why a figure is missing, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `note` in zh-CN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_zh: Option<String>,
}

/// The relative valuation of one company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelativeValuation {
    /// The trading date of the latest `daily_basic` row.
    pub as_of: Option<NaiveDate>,
    /// Its `close`.
    pub price: Option<f64>,
    pub industry: Option<String>,
    /// `daily_basic` rows in the history, and their first and last trading dates.
    pub history_rows: usize,
    pub history_from: Option<NaiveDate>,
    pub history_to: Option<NaiveDate>,
    /// Peers considered (the company left out).
    pub peers: usize,
    pub multiples: Vec<MultipleReading>,
}

/// Linear-interpolation quantile of sorted values (numpy's default), `q` in 0…1.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(quantile(&v, 0.5))
}

fn percentiles(mut v: Vec<f64>, current: Option<f64>) -> Option<Percentiles> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Percentiles {
        n: v.len(),
        min: v[0],
        p25: quantile(&v, 0.25),
        median: quantile(&v, 0.5),
        p75: quantile(&v, 0.75),
        max: v[v.len() - 1],
        current_percentile: current.map(|c| v.iter().filter(|x| **x <= c).count() as f64 / v.len() as f64),
    })
}

fn positive(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v > 0.0)
}

/// EV/EBITDA of a `daily_basic` row with the given fundamentals; `None` unless EBITDA > 0 and
/// the market value is known.
fn ev_ebitda(row: &StatementRow, f: Option<&Fundamentals>) -> Option<f64> {
    let f = f?;
    let mv = positive(row.number("total_mv"))? * 10_000.0;
    (f.ebitda > 0.0).then(|| (mv + f.net_debt) / f.ebitda).and_then(|x| positive(Some(x)))
}

fn known_at(fundamentals: &[Fundamentals], day: NaiveDate) -> Option<&Fundamentals> {
    fundamentals.iter().filter(|f| f.known_on <= day).max_by_key(|f| f.period)
}

/// The relative valuation from the company's `daily_basic` history (any order), its annual
/// fundamentals ([`fundamentals`]), and its peers (the company among them is skipped).
pub fn relative(
    history: &[StatementRow],
    fundamentals: &[Fundamentals],
    peers: &[Peer],
    industry: Option<&str>,
) -> RelativeValuation {
    let mut rows: Vec<&StatementRow> = history.iter().collect();
    rows.sort_by_key(|r| r.period);
    let latest = rows.last().copied();
    let me = latest.map(|r| r.symbol.clone());
    let peers: Vec<&Peer> = peers.iter().filter(|p| Some(&p.daily_basic.symbol) != me.as_ref()).collect();
    let price = latest.and_then(|r| positive(r.number("close")));
    let shares = latest.and_then(|r| positive(r.number("total_share"))).map(|s| s * 10_000.0);
    let latest_f = latest.and_then(|r| known_at(fundamentals, r.period));

    let mut multiples = Vec::new();
    for field in ["pe", "pe_ttm", "pb"] {
        let current = latest.and_then(|r| r.number(field));
        let hist: Vec<f64> = rows.iter().filter_map(|r| positive(r.number(field))).collect();
        let peer_vals: Vec<f64> = peers.iter().filter_map(|p| positive(p.daily_basic.number(field))).collect();
        let industry_count = peer_vals.len();
        let history = percentiles(hist, positive(current));
        let industry_median = median(peer_vals);
        let implied = |m: Option<f64>| Some(price? * m? / positive(current)?);
        let note = match (current, price) {
            (None, _) => Some(render("relative.no_current", &[a("field", field)])),
            (Some(c), _) if c <= 0.0 => Some(render("relative.not_positive", &[a("field", field), a("c", c)])),
            (_, None) => Some(render("relative.no_price", &[])),
            _ => None,
        };
        let (note, note_zh) = note.unzip();
        multiples.push(MultipleReading {
            multiple: field.into(),
            current,
            implied_price_at_own_median: implied(history.as_ref().map(|h| h.median)),
            implied_price_at_industry_median: implied(industry_median),
            history,
            industry_median,
            industry_count,
            note,
            note_zh,
        });
    }

    // EV/EBITDA.
    let current = latest.and_then(|r| ev_ebitda(r, latest_f));
    let hist: Vec<f64> = rows.iter().filter_map(|r| ev_ebitda(r, known_at(fundamentals, r.period))).collect();
    let peer_vals: Vec<f64> = peers.iter().filter_map(|p| ev_ebitda(&p.daily_basic, p.fundamentals.as_ref())).collect();
    let industry_count = peer_vals.len();
    let history = percentiles(hist, current);
    let industry_median = median(peer_vals);
    let implied = |m: Option<f64>| {
        let f = latest_f?;
        Some((m? * f.ebitda - f.net_debt) / shares?)
    };
    let note = if latest_f.is_none() {
        Some("relative.no_annual")
    } else if latest_f.is_some_and(|f| f.ebitda <= 0.0) {
        Some("relative.ebitda_not_positive")
    } else if current.is_none() {
        Some("relative.no_market_value")
    } else if shares.is_none() {
        Some("relative.no_shares")
    } else {
        None
    };
    let (note, note_zh) = note.map(|code| render(code, &[])).unzip();
    let usable = current.is_some();
    multiples.push(MultipleReading {
        multiple: "ev_ebitda".into(),
        current,
        implied_price_at_own_median: if usable { implied(history.as_ref().map(|h| h.median)) } else { None },
        implied_price_at_industry_median: if usable { implied(industry_median) } else { None },
        history,
        industry_median,
        industry_count,
        note,
        note_zh,
    });

    RelativeValuation {
        as_of: latest.map(|r| r.period),
        price,
        industry: industry.map(str::to_string).filter(|s| !s.is_empty()),
        history_rows: rows.len(),
        history_from: rows.first().map(|r| r.period),
        history_to: latest.map(|r| r.period),
        peers: peers.len(),
        multiples,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quantdesk_core::financials::FieldValue;
    use quantdesk_core::{Statement, Symbol};

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y%m%d").unwrap()
    }

    fn row(sym: &str, st: Statement, day: &str, fields: &[(&str, f64)]) -> StatementRow {
        StatementRow {
            symbol: Symbol::new(sym).unwrap(),
            statement: st,
            period: d(day),
            ann_date: None,
            f_ann_date: None,
            report_type: String::new(),
            end_type: String::new(),
            update_flag: String::new(),
            fields: fields.iter().map(|(k, v)| (k.to_string(), FieldValue::Number(*v))).collect::<BTreeMap<_, _>>(),
        }
    }

    fn db(sym: &str, day: &str, pe: f64, pb: f64, close: f64, mv: f64) -> StatementRow {
        row(
            sym,
            Statement::DailyBasic,
            day,
            &[("pe", pe), ("pe_ttm", pe), ("pb", pb), ("close", close), ("total_share", 100.0), ("total_mv", mv)],
        )
    }

    fn get<'a>(r: &'a RelativeValuation, m: &str) -> &'a MultipleReading {
        r.multiples.iter().find(|x| x.multiple == m).unwrap()
    }

    #[test]
    fn own_history_and_industry_medians_imply_prices() {
        // P/E 10, 20, 30, 40, 50 (out of order); the latest (20250105) is 50 at a price of 100.
        let hist = vec![
            db("600519.SH", "20250103", 30.0, 3.0, 60.0, 6000.0),
            db("600519.SH", "20250101", 10.0, 1.0, 20.0, 2000.0),
            db("600519.SH", "20250102", 20.0, -2.0, 40.0, 4000.0),
            db("600519.SH", "20250104", 40.0, 4.0, 80.0, 8000.0),
            db("600519.SH", "20250105", 50.0, 5.0, 100.0, 10_000.0),
        ];
        let peer = |s: &str, pe: f64| Peer { daily_basic: db(s, "20250105", pe, 2.0, 1.0, 1.0), fundamentals: None };
        let peers =
            vec![peer("000001.SZ", 15.0), peer("000002.SZ", 25.0), peer("000003.SZ", 35.0), peer("000004.SZ", -5.0)];
        let mut with_me = peers.clone();
        with_me.push(peer("600519.SH", 1000.0));
        let r = relative(&hist, &[], &with_me, Some("白酒"));
        assert_eq!(r.as_of, Some(d("20250105")));
        assert_eq!(r.price, Some(100.0));
        assert_eq!((r.history_rows, r.peers), (5, 4));
        let pe = get(&r, "pe");
        let h = pe.history.as_ref().unwrap();
        // numpy: percentile([10,20,30,40,50], 25) = 20, 50 → 30, 75 → 40.
        assert_eq!((h.n, h.min, h.p25, h.median, h.p75, h.max), (5, 10.0, 20.0, 30.0, 40.0, 50.0));
        assert_eq!(h.current_percentile, Some(1.0));
        // 100 × 30 / 50 = 60; industry median of 15, 25, 35 (the loss-maker and the company left out) = 25 → 50.
        assert_eq!(pe.implied_price_at_own_median, Some(60.0));
        assert_eq!((pe.industry_median, pe.industry_count), (Some(25.0), 3));
        assert_eq!(pe.implied_price_at_industry_median, Some(50.0));
        // P/B: the negative reading is dropped: 1, 3, 4, 5 → p25 = 2.5, median 3.5, p75 = 4.25.
        let pb = get(&r, "pb");
        let h = pb.history.as_ref().unwrap();
        assert_eq!((h.n, h.p25, h.median, h.p75), (4, 2.5, 3.5, 4.25));
        assert_eq!(pb.implied_price_at_own_median, Some(70.0));
        // 2.0 / 5 × 100 = 40.
        assert_eq!(pb.implied_price_at_industry_median, Some(40.0));
        // No fundamentals: no EV/EBITDA, said why.
        let ev = get(&r, "ev_ebitda");
        assert_eq!(ev.current, None);
        assert!(ev.note.is_some());
    }

    #[test]
    fn ev_ebitda_uses_the_report_known_on_each_day() {
        // Report 2023 known 2024-03-30: EBITDA 100 000, net debt −20 000 (net cash).
        // Report 2024 known 2025-03-30: EBITDA 200 000, net debt −50 000.
        let inc = vec![
            row("600519.SH", Statement::Income, "20231231", &[("operate_profit", 90_000.0)]),
            row("600519.SH", Statement::Income, "20241231", &[("operate_profit", 180_000.0)]),
        ];
        let mut inc = inc;
        inc[0].f_ann_date = Some(d("20240330"));
        inc[1].f_ann_date = Some(d("20250330"));
        let bal = vec![
            row("600519.SH", Statement::BalanceSheet, "20231231", &[("money_cap", 30_000.0), ("st_borr", 10_000.0)]),
            row("600519.SH", Statement::BalanceSheet, "20241231", &[("money_cap", 50_000.0)]),
        ];
        let cf = vec![
            row(
                "600519.SH",
                Statement::CashFlow,
                "20231231",
                &[("depr_fa_coga_dpba", 8_000.0), ("amort_intang_assets", 2_000.0)],
            ),
            row("600519.SH", Statement::CashFlow, "20241231", &[("depr_fa_coga_dpba", 20_000.0)]),
        ];
        let f = fundamentals(&inc, &bal, &cf);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].ebitda, f[0].net_debt), (100_000.0, -20_000.0));
        assert_eq!((f[1].ebitda, f[1].net_debt, f[1].known_on), (200_000.0, -50_000.0, d("20250330")));
        // total_mv in 万元: 100 → 1 000 000 yuan. 2024-06-01 under the 2023 report:
        // (1 000 000 − 20 000) / 100 000 = 9.8. 2025-06-01 under 2024's: (2 050 000 − 50 000) / 200 000 = 10.
        let hist = vec![
            db("600519.SH", "20240601", 1.0, 1.0, 10.0, 100.0),
            db("600519.SH", "20250601", 1.0, 1.0, 20.0, 205.0),
        ];
        let peer = Peer {
            daily_basic: db("000001.SZ", "20250601", 1.0, 1.0, 1.0, 150.0),
            // (1 500 000 + 0) / 125 000 = 12.
            fundamentals: Some(Fundamentals {
                period: d("20241231"),
                known_on: d("20250101"),
                ebitda: 125_000.0,
                net_debt: 0.0,
            }),
        };
        let r = relative(&hist, &f, &[peer], None);
        let ev = get(&r, "ev_ebitda");
        assert_eq!(ev.current, Some(10.0));
        let h = ev.history.as_ref().unwrap();
        assert!((h.median - 9.9).abs() < 1e-12);
        assert_eq!(h.current_percentile, Some(1.0));
        assert_eq!((ev.industry_median, ev.industry_count), (Some(12.0), 1));
        // Shares 100 万 = 1 000 000. At 9.9: (9.9 × 200 000 + 50 000) / 1 000 000 = 2.03.
        assert!((ev.implied_price_at_own_median.unwrap() - 2.03).abs() < 1e-12);
        // At 12: (2 400 000 + 50 000) / 1 000 000 = 2.45.
        assert!((ev.implied_price_at_industry_median.unwrap() - 2.45).abs() < 1e-12);
    }

    #[test]
    fn nothing_stored_is_no_reading() {
        let r = relative(&[], &[], &[], Some(""));
        assert_eq!((r.as_of, r.price, r.industry.as_deref(), r.history_rows), (None, None, None, 0));
        assert!(r.multiples.iter().all(|m| m.current.is_none() && m.history.is_none() && m.note.is_some()));
    }
}
