//! Two-stage dividend discount model, a reference figure beside the DCF.
//!
//! DPS₀ is the sum of `cash_div_tax` (pre-tax cash dividend per share) over the implemented
//! (`div_proc` = 实施) TuShare `dividend` rows of the latest fiscal year that has any (an interim
//! and a final dividend add up; a row repeated per announcement counts once per `end_date` and
//! `ex_date`); without such rows, `dv_ttm` (%) × `close` / 100 from the latest `daily_basic`.
//! Stage 1: DPSₜ = DPS₀ (1 + g₁)ᵗ for t = 1…N, each discounted at Ke; then a Gordon terminal value
//! TV = DPS_N (1 + g) / (Ke − g) discounted N years. Refused when there is no dividend or
//! g ≥ Ke.
//!
//! The growth assumptions come from the request's `ddm` object (`ddm.high_growth`,
//! `ddm.high_growth_years`, `ddm.terminal_growth`; [`DdmRequest::from_request`]), each
//! defaulting to [`DdmRequest::default`]'s value; `--set ddm.high_growth=0.08` edits them.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use quantdesk_core::StatementRow;
use serde::{Deserialize, Serialize};

use crate::text::{a, t};
use crate::{Request, ValuationError};

/// Years of stage 1 a request may ask for.
pub const STAGE1_YEARS: std::ops::RangeInclusive<i64> = 1..=30;

/// The DDM's growth assumptions as a valuation request carries them (its `ddm` object). Every
/// field is optional (the default applies); unknown keys are kept and reported as ignored
/// (`ddm.<key>`), never an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DdmAssumptions {
    /// Dividend growth in stage 1 (default 5 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_growth: Option<f64>,
    /// Years of stage 1, 1..=30 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_growth_years: Option<i64>,
    /// Perpetual growth after stage 1, below Ke (default 2.5 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_growth: Option<f64>,
    /// Keys the DDM does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

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

impl DdmRequest {
    /// The DDM's assumptions for a valuation request: Ke = `cost_of_equity` (the DCF's, when the
    /// caller has one; else the default 8 %), the growth assumptions from `request.ddm`, each
    /// defaulting to [`DdmRequest::default`]'s. Refused (`invalid_request`, naming the field) when
    /// a value is not finite, the years are outside 1..=30, or the terminal growth is not below
    /// Ke (`growth_not_below_ke`).
    pub fn from_request(request: &Request, cost_of_equity: Option<f64>) -> Result<DdmRequest, ValuationError> {
        let d = DdmRequest::default();
        let asm = request.ddm.clone().unwrap_or_default();
        let years = match asm.high_growth_years {
            None => d.stage1_years,
            Some(y) if STAGE1_YEARS.contains(&y) => y as u32,
            Some(y) => {
                return Err(ValuationError::new(
                    "invalid_request",
                    "refusal.ddm_years",
                    &[a("lo", STAGE1_YEARS.start()), a("hi", STAGE1_YEARS.end()), a("n", y)],
                    &["ddm.high_growth_years"],
                ));
            }
        };
        let r = DdmRequest {
            cost_of_equity: cost_of_equity.unwrap_or(d.cost_of_equity),
            stage1_growth: asm.high_growth.unwrap_or(d.stage1_growth),
            stage1_years: years,
            terminal_growth: asm.terminal_growth.unwrap_or(d.terminal_growth),
        };
        r.check()?;
        Ok(r)
    }

    /// The checks every DDM run makes: finite values, Ke > 0, years 1..=30, g < Ke.
    pub fn check(&self) -> Result<(), ValuationError> {
        let DdmRequest { cost_of_equity: ke, stage1_growth: g1, stage1_years: n, terminal_growth: g } = *self;
        for (name, name_zh, v) in [
            ("cost of equity", "权益成本", ke),
            ("ddm.high_growth", "ddm.high_growth", g1),
            ("ddm.terminal_growth", "ddm.terminal_growth", g),
        ] {
            if !v.is_finite() {
                return Err(ValuationError::new(
                    "invalid_request",
                    "refusal.ddm_not_a_number",
                    &[t("name", name, format!(" {name_zh} ")), a("v", v)],
                    &[name],
                ));
            }
        }
        if ke <= 0.0 {
            return Err(ValuationError::new("invalid_request", "refusal.ddm_ke", &[a("ke", ke)], &["cost of equity"]));
        }
        if !STAGE1_YEARS.contains(&(n as i64)) {
            return Err(ValuationError::new(
                "invalid_request",
                "refusal.ddm_years",
                &[a("lo", STAGE1_YEARS.start()), a("hi", STAGE1_YEARS.end()), a("n", n)],
                &["ddm.high_growth_years"],
            ));
        }
        if g1 <= -1.0 {
            return Err(ValuationError::new(
                "invalid_request",
                "refusal.ddm_high_growth",
                &[a("g", g1)],
                &["ddm.high_growth"],
            ));
        }
        if g >= ke {
            return Err(ValuationError::new(
                "growth_not_below_ke",
                "refusal.growth_not_below_ke",
                &[a("g", g), a("ke", ke)],
                &["ddm.terminal_growth"],
            ));
        }
        Ok(())
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
    request.check()?;
    let DdmRequest { cost_of_equity: ke, stage1_growth: g1, stage1_years: n, terminal_growth: g } = *request;
    let price = daily_basic.and_then(|r| r.number("close")).filter(|p| *p > 0.0);
    let (dps0, source, fy) = match dps_from_dividends(dividends) {
        Some((d, y)) => (d, "dividend", Some(y)),
        None => match (daily_basic.and_then(|r| r.number("dv_ttm")).filter(|x| *x > 0.0), price) {
            (Some(y), Some(p)) => (y * p / 100.0, "dv_ttm", None),
            _ => {
                return Err(ValuationError::new(
                    "no_dividends",
                    "refusal.no_dividends",
                    &[],
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
        // Stage 1 growing as the terminal rate is the Gordon value: 51.55 × 1.02 / (0.08 − 0.02) = 876.35.
        let req = DdmRequest { cost_of_equity: 0.08, stage1_growth: 0.02, stage1_years: 1, terminal_growth: 0.02 };
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

    #[test]
    fn growth_assumptions_come_from_the_request_with_todays_defaults() {
        use crate::presets::{parse_value, set_path};
        // Nothing in the request: exactly today's assumptions (Ke from the caller).
        let r = DdmRequest::from_request(&Request::default(), None).unwrap();
        assert_eq!(r, DdmRequest::default());
        let r = DdmRequest::from_request(&Request::default(), Some(0.09)).unwrap();
        assert_eq!(r, DdmRequest { cost_of_equity: 0.09, ..DdmRequest::default() });

        // --set ddm.… edits them; the JSON shape is `"ddm": {"high_growth": …}`.
        let mut q = Request::default();
        set_path(&mut q, "ddm.high_growth", parse_value("0.12")).unwrap();
        set_path(&mut q, "ddm.high_growth_years", parse_value("3")).unwrap();
        set_path(&mut q, "ddm.terminal_growth", parse_value("0.03")).unwrap();
        let r = DdmRequest::from_request(&q, Some(0.1)).unwrap();
        assert_eq!(r, DdmRequest { cost_of_equity: 0.1, stage1_growth: 0.12, stage1_years: 3, terminal_growth: 0.03 });
        let j: Request =
            serde_json::from_str(r#"{"ddm": {"high_growth": 0.12, "high_growth_years": 3, "terminal_growth": 0.03}}"#)
                .unwrap();
        assert_eq!(j.ddm, q.ddm);
        assert!(q.ignored_keys().is_empty());
        // The DDM uses them: DPS0 1, 12 % for 3 years at Ke 10 %, then 3 %.
        let v = ddm(&[div("20241231", "20250601", "实施", 1.0)], None, &r).unwrap();
        let dps3 = 1.12f64.powi(3);
        let want: f64 =
            (1..=3).map(|t| 1.12f64.powi(t) / 1.1f64.powi(t)).sum::<f64>() + dps3 * 1.03 / 0.07 / 1.1f64.powi(3);
        assert!((v.value_per_share - want).abs() < 1e-12, "{} vs {want}", v.value_per_share);
        assert_eq!(v.stage1.len(), 3);

        // A partial object keeps the other defaults; an unknown key is ignored and reported.
        let j: Request = serde_json::from_str(r#"{"ddm": {"terminal_growth": 0.01, "hgh_growth": 0.2}}"#).unwrap();
        let r = DdmRequest::from_request(&j, None).unwrap();
        assert_eq!(r, DdmRequest { terminal_growth: 0.01, ..DdmRequest::default() });
        assert_eq!(j.ignored_keys(), vec!["ddm.hgh_growth".to_string()]);
        // A wrong type is refused by --set and leaves the request unchanged.
        let before = q.clone();
        assert!(set_path(&mut q, "ddm.high_growth_years", parse_value("many")).is_err());
        assert_eq!(q, before);
    }

    #[test]
    fn growth_assumptions_are_checked() {
        let with = |a: DdmAssumptions| Request { ddm: Some(a), ..Request::default() };
        let a = DdmAssumptions::default();
        // (case, assumptions, Ke, refusal code, field named)
        let cases = [
            (
                "terminal growth = Ke",
                DdmAssumptions { terminal_growth: Some(0.08), ..a.clone() },
                None,
                "growth_not_below_ke",
                "ddm.terminal_growth",
            ),
            (
                "terminal growth > Ke",
                DdmAssumptions { terminal_growth: Some(0.05), ..a.clone() },
                Some(0.04),
                "growth_not_below_ke",
                "ddm.terminal_growth",
            ),
            (
                "0 years",
                DdmAssumptions { high_growth_years: Some(0), ..a.clone() },
                None,
                "invalid_request",
                "ddm.high_growth_years",
            ),
            (
                "31 years",
                DdmAssumptions { high_growth_years: Some(31), ..a.clone() },
                None,
                "invalid_request",
                "ddm.high_growth_years",
            ),
            (
                "negative years",
                DdmAssumptions { high_growth_years: Some(-2), ..a.clone() },
                None,
                "invalid_request",
                "ddm.high_growth_years",
            ),
            (
                "NaN high growth",
                DdmAssumptions { high_growth: Some(f64::NAN), ..a.clone() },
                None,
                "invalid_request",
                "ddm.high_growth",
            ),
            (
                "infinite terminal growth",
                DdmAssumptions { terminal_growth: Some(f64::INFINITY), ..a.clone() },
                None,
                "invalid_request",
                "ddm.terminal_growth",
            ),
            (
                "NaN terminal growth",
                DdmAssumptions { terminal_growth: Some(f64::NAN), ..a.clone() },
                None,
                "invalid_request",
                "ddm.terminal_growth",
            ),
            (
                "high growth −100 %",
                DdmAssumptions { high_growth: Some(-1.0), ..a.clone() },
                None,
                "invalid_request",
                "ddm.high_growth",
            ),
            ("NaN Ke", a.clone(), Some(f64::NAN), "invalid_request", "cost of equity"),
        ];
        for (case, asm, ke, code, field) in cases {
            let e = DdmRequest::from_request(&with(asm), ke).unwrap_err();
            assert_eq!(e.code, code, "{case}: {e}");
            assert_eq!(e.missing, vec![field.to_string()], "{case}");
            assert!(e.message.contains(field) || field == "cost of equity", "{case}: {}", e.message);
        }
        // The edges of the range are accepted.
        for y in [1, 30] {
            let r = DdmRequest::from_request(&with(DdmAssumptions { high_growth_years: Some(y), ..a.clone() }), None);
            assert_eq!(r.unwrap().stage1_years, y as u32);
        }
        // ddm() makes the same checks on a hand-built request.
        let bad = DdmRequest { stage1_years: 0, ..DdmRequest::default() };
        assert_eq!(ddm(&[div("20241231", "20250601", "实施", 1.0)], None, &bad).unwrap_err().code, "invalid_request");
    }
}
