//! Two-stage dividend discount model, a reference figure beside the DCF.
//!
//! DPS₀ is the sum of `cash_div_tax` (pre-tax cash dividend per share) over the implemented
//! (`div_proc` = 实施) TuShare `dividend` rows of the latest fiscal year that has any (an interim
//! and a final dividend add up; a row repeated per announcement counts once per `end_date` and
//! `ex_date`); without such rows, `dv_ttm` (%) × `close` / 100 from the latest `daily_basic`.
//! Stage 1: DPSₜ = DPS₀ (1 + g₁)ᵗ for t = 1…N, each discounted at Ke; then a Gordon terminal value
//! TV = DPS_N (1 + g) / (Ke − g) discounted N years. Refused when there is no dividend or
//! g ≥ Ke.

use chrono::{Datelike, NaiveDate};
use quantdesk_core::StatementRow;
use serde::{Deserialize, Serialize};

use crate::ValuationError;

/// The DDM's assumptions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DdmRequest {
    /// Cost of equity Ke (default 8 %: Rf 3 % + β 1 × MRP 5 %, the DCF's defaults).
    pub cost_of_equity: f64,
    /// Dividend growth in stage 1 (default 5 %).
    pub stage1_growth: f64,
    /// Years of stage 1 (default 5).
    pub stage1_years: u32,
    /// Perpetual growth after stage 1 (default 2.5 %).
    pub terminal_growth: f64,
}

impl Default for DdmRequest {
    fn default() -> Self {
        DdmRequest { cost_of_equity: 0.08, stage1_growth: 0.05, stage1_years: 5, terminal_growth: 0.025 }
    }
}

/// One stage-1 year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DdmYear {
    pub year: u32,
    pub dps: f64,
    pub discount_factor: f64,
    pub present_value: f64,
}

/// The DDM's result, per share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ddm {
    pub request: DdmRequest,
    /// DPS₀ (yuan per share).
    pub dps0: f64,
    /// `dividend` (implemented rows of `dps0_fiscal_year`) or `dv_ttm` (yield × price).
    pub dps0_source: String,
    pub dps0_fiscal_year: Option<i32>,
    pub stage1: Vec<DdmYear>,
    pub pv_stage1: f64,
    pub terminal_value: f64,
    pub pv_terminal_value: f64,
    pub value_per_share: f64,
    pub latest_price: Option<f64>,
    /// value / price − 1.
    pub upside: Option<f64>,
}

fn implemented(r: &StatementRow) -> bool {
    r.text("div_proc").is_some_and(|p| p.trim() == "实施")
}

/// DPS₀ and its fiscal year from implemented dividend rows.
fn dps_from_dividends(rows: &[StatementRow]) -> Option<(f64, i32)> {
    let mut seen: Vec<(NaiveDate, Option<String>)> = Vec::new();
    let mut per_year: std::collections::BTreeMap<i32, f64> = std::collections::BTreeMap::new();
    for r in rows.iter().filter(|r| implemented(r)) {
        let Some(cash) = r.number("cash_div_tax").filter(|c| *c > 0.0) else { continue };
        let key = (r.period, r.text("ex_date"));
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        *per_year.entry(r.period.year()).or_default() += cash;
    }
    per_year.into_iter().next_back().map(|(y, d)| (d, y))
}

/// Values a share by the two-stage DDM.
pub fn ddm(
    dividends: &[StatementRow],
    daily_basic: Option<&StatementRow>,
    request: &DdmRequest,
) -> Result<Ddm, ValuationError> {
    let DdmRequest { cost_of_equity: ke, stage1_growth: g1, stage1_years: n, terminal_growth: g } = *request;
    if !ke.is_finite() || ke <= 0.0 || !g1.is_finite() || !g.is_finite() {
        return Err(ValuationError::new(
            "invalid_request",
            format!("the DDM needs a positive cost of equity and finite growth rates (Ke {ke}, g1 {g1}, g {g})"),
            &[],
        ));
    }
    if g >= ke {
        return Err(ValuationError::new(
            "growth_not_below_ke",
            format!("terminal growth {g} is not below the cost of equity {ke}: the Gordon value is undefined"),
            &[],
        ));
    }
    let price = daily_basic.and_then(|r| r.number("close")).filter(|p| *p > 0.0);
    let (dps0, source, fy) = match dps_from_dividends(dividends) {
        Some((d, y)) => (d, "dividend", Some(y)),
        None => match (daily_basic.and_then(|r| r.number("dv_ttm")).filter(|x| *x > 0.0), price) {
            (Some(y), Some(p)) => (y * p / 100.0, "dv_ttm", None),
            _ => {
                return Err(ValuationError::new(
                    "no_dividends",
                    "no dividend to discount: no implemented dividend rows (cash_div_tax) and no daily_basic.dv_ttm",
                    &["dividend.cash_div_tax", "daily_basic.dv_ttm"],
                ));
            }
        },
    };
    let mut stage1 = Vec::with_capacity(n as usize);
    let mut dps = dps0;
    for t in 1..=n {
        dps *= 1.0 + g1;
        let df = (1.0 + ke).powi(-(t as i32));
        stage1.push(DdmYear { year: t, dps, discount_factor: df, present_value: dps * df });
    }
    let pv_stage1 = stage1.iter().map(|y| y.present_value).sum();
    let terminal_value = dps * (1.0 + g) / (ke - g);
    let pv_terminal_value = terminal_value * (1.0 + ke).powi(-(n as i32));
    let value_per_share = pv_stage1 + pv_terminal_value;
    Ok(Ddm {
        request: *request,
        dps0,
        dps0_source: source.into(),
        dps0_fiscal_year: fy,
        stage1,
        pv_stage1,
        terminal_value,
        pv_terminal_value,
        value_per_share,
        latest_price: price,
        upside: price.map(|p| value_per_share / p - 1.0),
    })
}

#[cfg(test)]
mod tests {
    use quantdesk_core::financials::FieldValue;
    use quantdesk_core::{Statement, Symbol};

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y%m%d").unwrap()
    }

    fn div(end: &str, ex: &str, proc_: &str, cash: f64) -> StatementRow {
        StatementRow {
            symbol: Symbol::new("600519.SH").unwrap(),
            statement: Statement::Dividend,
            period: d(end),
            ann_date: None,
            f_ann_date: None,
            report_type: String::new(),
            end_type: String::new(),
            update_flag: String::new(),
            fields: [
                ("div_proc".to_string(), FieldValue::Text(proc_.into())),
                ("ex_date".to_string(), FieldValue::Text(ex.into())),
                ("cash_div_tax".to_string(), FieldValue::Number(cash)),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn basic(close: f64, dv_ttm: f64) -> StatementRow {
        let mut r = div("20250519", "", "", 0.0);
        r.statement = Statement::DailyBasic;
        r.fields =
            [("close".to_string(), FieldValue::Number(close)), ("dv_ttm".to_string(), FieldValue::Number(dv_ttm))]
                .into_iter()
                .collect();
        r
    }

    #[test]
    fn two_stages_by_hand() {
        // DPS0 1, g1 10 % for 2 years, Ke 10 %, g 0: DPS 1.1 and 1.21 are each worth 1.0 today;
        // TV = 1.21 / 0.1 = 12.1, worth 12.1 / 1.21 = 10. Total 12.
        let req = DdmRequest { cost_of_equity: 0.1, stage1_growth: 0.1, stage1_years: 2, terminal_growth: 0.0 };
        let r = ddm(&[div("20241231", "20250601", "实施", 1.0)], Some(&basic(10.0, 0.0)), &req).unwrap();
        assert_eq!((r.dps0, r.dps0_source.as_str(), r.dps0_fiscal_year), (1.0, "dividend", Some(2024)));
        assert!((r.stage1[0].dps - 1.1).abs() < 1e-12 && (r.stage1[1].dps - 1.21).abs() < 1e-12);
        assert!((r.pv_stage1 - 2.0).abs() < 1e-12);
        assert!((r.terminal_value - 12.1).abs() < 1e-12);
        assert!((r.pv_terminal_value - 10.0).abs() < 1e-12);
        assert!((r.value_per_share - 12.0).abs() < 1e-12);
        assert!((r.upside.unwrap() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn dps_adds_interim_and_final_of_the_latest_year_once_each() {
        let rows = vec![
            div("20231231", "20240601", "实施", 30.0),
            div("20240630", "20241220", "实施", 23.88),
            div("20241231", "20250620", "实施", 27.67),
            div("20241231", "20250620", "实施", 27.67), // the same payment again
            div("20241231", "", "预案", 27.67),         // the proposal of it
        ];
        // Gordon only (N = 0): 51.55 × 1.02 / (0.08 − 0.02) = 876.35.
        let req = DdmRequest { cost_of_equity: 0.08, stage1_growth: 0.0, stage1_years: 0, terminal_growth: 0.02 };
        let r = ddm(&rows, None, &req).unwrap();
        assert!((r.dps0 - 51.55).abs() < 1e-9);
        assert_eq!(r.dps0_fiscal_year, Some(2024));
        assert!((r.value_per_share - 876.35).abs() < 1e-9);
        assert_eq!(r.upside, None);
    }

    #[test]
    fn dv_ttm_when_no_dividend_rows_and_refusals() {
        // 3.4679 % × 1578.98 = 54.7584... per share.
        let req = DdmRequest::default();
        let r = ddm(&[], Some(&basic(1578.98, 3.4679)), &req).unwrap();
        assert_eq!(r.dps0_source, "dv_ttm");
        assert!((r.dps0 - 3.4679 * 1578.98 / 100.0).abs() < 1e-9);
        let e = ddm(&[], Some(&basic(10.0, 0.0)), &req).unwrap_err();
        assert_eq!(e.code, "no_dividends");
        let e = ddm(&[], None, &DdmRequest { terminal_growth: 0.08, ..req }).unwrap_err();
        assert_eq!(e.code, "growth_not_below_ke");
    }
}
