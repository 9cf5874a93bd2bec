//! Two-stage FCFF DCF valuation, pure (no I/O, no async, no clock).
//!
//! Pipeline: clean the statements → historical ratios → N-year forecast → WACC → terminal value
//! → discounting → equity bridge → derived metrics, guardrails, and optionally a sensitivity grid;
//! [`reverse_dcf`] solves for the growth today's price implies.
//!
//! ```text
//! valuate(&Statements, &Request) -> Result<Valuation, ValuationError>
//! valuate_report(&Statements, &Request) -> Valuation          // refusal inside, golden shape
//! reverse_dcf(&Statements, &Request, ReverseTarget, price) -> Result<ReverseDcf, ValuationError>
//! relative::relative(history, fundamentals, peers, industry) -> RelativeValuation  // reference figures
//! ddm::ddm(dividends, daily_basic, &DdmRequest) -> Result<Ddm, ValuationError>     // two-stage DDM
//! ```
//!
//! Two [`Profile`]s: `reference` reproduces the predecessor (huliux/stock_vale @ 0e8c3f7) rule by
//! rule, bugs and all; `quantdesk` (the default) fixes what is wrong in it, each fix listed in
//! [`differences::DIFFERENCES`] and, when it changed a run, in the result's
//! `differences_from_reference`.
//!
//! # Arithmetic: f64, deliberately
//!
//! The architecture asks for decimal arithmetic in the DCF unless it cannot reproduce the
//! reference or meet the speed targets. The model uses `f64` because:
//! - the reference itself computes in float64 (pandas medians, numpy quantiles, the forecast
//!   table) with a few Decimal islands whose inputs are exact float conversions; `f64` reproduces
//!   it to ≈1e-13 relative on every golden file, while a decimal port would have to convert at
//!   exactly the reference's boundaries to do as well;
//! - the CAGR and the discount factors need fractional and negative powers (`x^(1/3.0007)`),
//!   which a 96-bit decimal only approximates through its own series (no more exact than `f64`);
//! - a 21×21 grid re-runs the forecast 441 times; `f64` keeps it well under a millisecond-scale
//!   per cell with no allocation of big numbers.
//!
//! Amounts are yuan; no rounding anywhere in the computation (rule Q28). Results are meant to be
//! shown rounded; the raw values are kept for parity checks.

// A refusal carries its text in two languages and the warnings collected before it; it is the
// rare path (a grid cell that fails is one per cell at most), so its size is not worth boxing.
#![allow(clippy::result_large_err)]

mod clean;
pub mod ddm;
pub mod differences;
mod history;
mod input;
mod ltm;
mod model;
mod output;
pub mod presets;
pub mod relative;
mod request;
mod sensitivity;
pub mod text;

pub use input::Statements;
pub use output::{
    Dcf, Derived, DifferenceApplied, ForecastYear, Guardrail, GuardrailStatus, HistoricalRatios, Inputs, ReverseDcf,
    Sensitivity, SensitivityTables, Valuation, ValuationError, WaccBuildUp, Warning, YearDrivers,
};
pub use presets::{PRESETS, PresetError, apply_preset, set_path};
pub use request::{
    ForecastMode, NwcBaselineMode, OtherClMode, Profile, Request, SensitivityAxis, SensitivityRequest, TerminalMethod,
    WeightMode,
};
pub use text::Lang;

/// The model's version: part of every cache key of stored results, so a saved result computed by
/// an older model is never served for a newer one. Bump it with any change that alters a result.
pub const MODEL_VERSION: u32 = 3;

/// Which parameter [`reverse_dcf`] solves for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReverseTarget {
    /// The starting revenue growth (the CAGR that decays over the forecast).
    RevenueGrowth,
    /// The perpetual growth rate (forces the perpetual-growth terminal value).
    TerminalGrowth,
}

/// Values a company. A refusal (`Err`) names what was missing; every other problem in the data is
/// a warning on the result.
pub fn valuate(statements: &Statements, request: &Request) -> Result<Valuation, ValuationError> {
    let prepared = model::prepare(statements, request)?;
    let base = model::run(&prepared, request, &model::Overrides::default()).map_err(|mut e| {
        let mut w = prepared.warnings.clone();
        w.append(&mut e.warnings);
        e.warnings = w;
        e
    })?;
    let qd = request.profile == Profile::Quantdesk;
    let mut warnings = prepared.warnings.clone();
    warnings.extend(base.warnings.iter().cloned());
    let mut differences = base.differences.clone();
    if qd && request.ltm_baseline_enabled == Some(true) {
        differences.insert("QD-LTM");
    }
    if qd && request.cogs_forecast_mode.as_deref().is_some_and(|m| m != "residual") {
        warnings.push(Warning::new("Q15", "Q15.cogs_mode", &[]));
    }

    let sensitivity = match &request.sensitivity_analysis {
        Some(s) => {
            let (grid, used_diff) = sensitivity::grid(&prepared, request, &base, s, &mut warnings);
            if used_diff {
                differences.insert("QD-GRID");
            }
            grid
        }
        None => None,
    };

    let dcf = &base.dcf;
    if dcf.equity_value < 0.0 {
        warnings.push(Warning::new("Q27", "Q27.negative_equity", &[text::a("value", dcf.equity_value)]));
    }
    let derived = derived(&prepared, dcf);
    let guardrails = guardrails::check(&prepared, &base, &derived);
    for g in &guardrails {
        if g.status == GuardrailStatus::Warn {
            warnings.push(Warning {
                rule: format!("GUARD-{}", g.name),
                message: g.message.clone(),
                code: g.code.clone(),
                message_zh: g.message_zh.clone(),
            });
        }
    }

    // Q33: the special-industry warning.
    let financial = prepared.inputs.comp_type.as_deref().is_some_and(|c| matches!(c.trim(), "2" | "3" | "4"));
    let nwc_mentioned = warnings.iter().any(|w| {
        ["NWC", "DSO", "DIO", "DPO", "current assets", "current liabilities"].iter().any(|k| w.message.contains(k))
    });
    // The reference also needs more than two warnings (or one about working capital); quantdesk
    // decides on comp_type alone.
    let special_industry_warning = if financial && (qd || warnings.len() > 2 || nwc_mentioned) {
        warnings.push(Warning::new("Q33", "Q33.special_industry", &[]));
        Some(model::SPECIAL_INDUSTRY_WARNING.to_string())
    } else {
        None
    };

    let mut data_warnings: Vec<String> = warnings.iter().map(|w| w.message.clone()).collect();
    data_warnings.sort();
    data_warnings.dedup();
    let differences_from_reference = if qd {
        differences
            .iter()
            .filter_map(|id| differences::find(id))
            .map(|d| DifferenceApplied { id: d.id.into(), replaces: d.replaces.into(), summary: d.summary.into() })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Valuation {
        ts_code: request.ts_code.clone(),
        profile: request.profile,
        ignored_request_keys: request.ignored_keys(),
        inputs: prepared.inputs.clone(),
        historical_ratios: prepared.ratios.clone(),
        forecast: base.forecast.clone(),
        dcf: Some(base.dcf.clone()),
        sensitivity,
        data_warnings,
        special_industry_warning,
        error: None,
        wacc_build_up: Some(base.wacc.clone()),
        derived,
        guardrails,
        differences_from_reference,
        warnings,
        refusal: None,
    })
}

fn derived(p: &model::Prepared, dcf: &Dcf) -> Derived {
    let price = p.inputs.latest_price.filter(|x| *x > 0.0);
    let vps = dcf.value_per_share;
    Derived {
        implied_perpetual_growth_rate: dcf.implied_perpetual_growth_rate,
        dcf_implied_diluted_pe: dcf.dcf_implied_diluted_pe,
        ev_to_latest_ebitda: dcf.base_ev_ebitda,
        tv_share_of_ev: (dcf.enterprise_value != 0.0).then(|| dcf.pv_terminal_value / dcf.enterprise_value),
        margin_of_safety: vps.filter(|v| *v > 0.0).zip(price).map(|(v, pr)| (v - pr) / v),
        upside: vps.zip(price).map(|(v, pr)| v / pr - 1.0),
        current_pe: p.inputs.pe,
        current_pb: p.inputs.pb,
        revenue_cagr_3y: history::cagr_3y(&p.inc, "total_revenue"),
        net_income_cagr_3y: history::cagr_3y(&p.inc, "n_income_attr_p"),
    }
}

/// [`valuate`], with a refusal carried in the result (`error` set), as the reference's API did.
pub fn valuate_report(statements: &Statements, request: &Request) -> Valuation {
    match valuate(statements, request) {
        Ok(v) => v,
        Err(e) => Valuation::refused(request.ts_code.clone(), request.profile, e),
    }
}

/// The value of `target` at which the model's value per share equals `price` (default the
/// latest price), by bisection over a bracket (revenue growth −50 %…+100 %; terminal growth
/// −10 % up to just below the WACC and the growth cap).
pub fn reverse_dcf(
    statements: &Statements,
    request: &Request,
    target: ReverseTarget,
    price: Option<f64>,
) -> Result<ReverseDcf, ValuationError> {
    let prepared = model::prepare(statements, request)?;
    let base = model::run(&prepared, request, &model::Overrides::default())?;
    let price = price
        .or(prepared.inputs.latest_price)
        .ok_or_else(|| ValuationError::new("missing_price", "refusal.missing_price", &[], &["daily_basic.close"]))?;
    if prepared.inputs.total_shares.is_none_or(|s| s <= 0.0) {
        return Err(ValuationError::new("missing_shares", "refusal.missing_shares", &[], &["daily_basic.total_share"]));
    }
    let wacc = base.dcf.wacc_used;
    let (name, lo, hi) = match target {
        ReverseTarget::RevenueGrowth => ("revenue_cagr", -0.5, 1.0),
        ReverseTarget::TerminalGrowth => {
            let cap = match request.profile {
                Profile::Reference => request.risk_free_rate.unwrap_or(0.03),
                Profile::Quantdesk if request.use_gdp_cap.unwrap_or(true) => request.gdp_nominal_cap.unwrap_or(0.045),
                Profile::Quantdesk => f64::INFINITY,
            };
            ("perpetual_growth_rate", -0.1, (wacc - 1e-6).min(cap))
        }
    };
    let vps_at = |x: f64| -> Option<f64> {
        let o = match target {
            ReverseTarget::RevenueGrowth => model::Overrides { cagr: Some(x), ..Default::default() },
            ReverseTarget::TerminalGrowth => model::Overrides { growth: Some(x), ..Default::default() },
        };
        model::run(&prepared, request, &o).ok().and_then(|r| r.dcf.value_per_share)
    };
    let mut out = ReverseDcf {
        parameter: name.into(),
        target_price: price,
        implied_value: None,
        bracket: (lo, hi),
        iterations: 0,
        value_per_share_at_implied: None,
        message: None,
        message_zh: None,
    };
    let (Some(f_lo), Some(f_hi)) = (vps_at(lo).map(|v| v - price), vps_at(hi).map(|v| v - price)) else {
        let (en, zh) = text::render("reverse.model_fails", &[]);
        (out.message, out.message_zh) = (Some(en), Some(zh));
        return Ok(out);
    };
    if f_lo.signum() == f_hi.signum() {
        let (en, zh) = text::render(
            "reverse.outside",
            &[text::a("price", price), text::a("lo", f_lo + price), text::a("hi", f_hi + price)],
        );
        (out.message, out.message_zh) = (Some(en), Some(zh));
        return Ok(out);
    }
    let (mut a, mut b, mut fa) = (lo, hi, f_lo);
    for i in 1..=200 {
        let m = 0.5 * (a + b);
        let Some(fm) = vps_at(m).map(|v| v - price) else { break };
        out.iterations = i;
        if fm.signum() == fa.signum() {
            a = m;
            fa = fm;
        } else {
            b = m;
        }
        if (b - a).abs() < 1e-10 {
            break;
        }
    }
    let x = 0.5 * (a + b);
    out.implied_value = Some(x);
    out.value_per_share_at_implied = vps_at(x);
    Ok(out)
}

mod guardrails {
    use crate::model::{Prepared, Run};
    use crate::text::{Arg, a, render};
    use crate::{Derived, Guardrail, GuardrailStatus, TerminalMethod};

    fn g(name: &str, warn: bool, value: Option<f64>, threshold: Option<f64>, code: &str, args: &[Arg]) -> Guardrail {
        let (message, message_zh) = render(code, args);
        Guardrail {
            name: name.into(),
            status: if warn { GuardrailStatus::Warn } else { GuardrailStatus::Ok },
            value,
            threshold,
            message,
            code: code.into(),
            message_zh,
        }
    }

    pub(crate) fn check(p: &Prepared, run: &Run, d: &Derived) -> Vec<Guardrail> {
        let mut out = Vec::new();
        let dcf = &run.dcf;
        // 1. Terminal value share of EV.
        let share = d.tv_share_of_ev;
        let (code, args) = match share {
            Some(s) => ("guard.tv_share", vec![a("share", format!("{:.1}", s * 100.0))]),
            None => ("guard.tv_share_none", vec![]),
        };
        out.push(g("tv_share_of_ev", share.is_none_or(|s| !(0.0..=0.75).contains(&s)), share, Some(0.75), code, &args));
        // 2. WACC – growth gap.
        let growth = match dcf.terminal_value_method_used {
            TerminalMethod::PerpetualGrowth => run.growth_effective,
            TerminalMethod::ExitMultiple => dcf.implied_perpetual_growth_rate,
        };
        let gap = growth.map(|gr| dcf.wacc_used - gr);
        let (code, args) = match gap {
            Some(x) => ("guard.gap", vec![a("gap", format!("{:.2}", x * 100.0))]),
            None => ("guard.gap_none", vec![]),
        };
        out.push(g("wacc_growth_gap", gap.is_some_and(|x| x < 0.02), gap, Some(0.02), code, &args));
        // 3. Reinvestment consistent with growth: growth in the final year needs net investment.
        let last = run.forecast.last();
        let reinvest = last.map(|y| y.capex - y.d_a + y.delta_nwc);
        let rate = last.zip(reinvest).and_then(|(y, r)| (y.nopat > 0.0).then(|| r / y.nopat));
        let growing = growth.is_some_and(|x| x > 0.0);
        let (code, args) = match rate {
            Some(r) if growing && r <= 0.0 => {
                ("guard.reinvestment_inconsistent", vec![a("rate", format!("{:.1}", r * 100.0))])
            }
            Some(r) => ("guard.reinvestment", vec![a("rate", format!("{:.1}", r * 100.0))]),
            None => ("guard.reinvestment_none", vec![]),
        };
        out.push(g(
            "reinvestment_vs_growth",
            growing && reinvest.is_some_and(|r| r <= 0.0),
            rate,
            Some(0.0),
            code,
            &args,
        ));
        // 4. Inputs imputed rather than read.
        let (code, args) = if p.imputed.is_empty() {
            ("guard.imputed_none", vec![])
        } else {
            ("guard.imputed", vec![a("list", p.imputed.join(", "))])
        };
        out.push(g("imputed_inputs", !p.imputed.is_empty(), Some(p.imputed.len() as f64), Some(0.0), code, &args));
        out
    }
}
