//! The result. Its JSON has, at the top level, the reference's shape (`inputs`,
//! `historical_ratios`, `forecast`, `dcf`, `sensitivity`, `data_warnings`,
//! `special_industry_warning`, `error`); quantdesk's additions (`profile`,
//! `differences_from_reference`, `wacc_build_up`, `derived`, `guardrails`, `warnings`) sit beside
//! them.

use serde::{Deserialize, Serialize};

use crate::request::{Profile, TerminalMethod, WeightMode};
use crate::text::{self, Arg, Lang};

/// A warning and the rule that produced it (`Q3`, `Q25`, `QD-GDP-CAP`, `GUARD-tv_share_of_ev`,
/// …), with its text code (an entry of [`text::CATALOGUE`]) and its text in English and zh-CN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    pub rule: String,
    /// English.
    pub message: String,
    /// The text's code in [`text::CATALOGUE`] (empty in results stored before it existed).
    #[serde(default)]
    pub code: String,
    /// zh-CN.
    #[serde(default)]
    pub message_zh: String,
}

impl Warning {
    pub(crate) fn new(rule: &str, code: &str, args: &[Arg]) -> Self {
        let (message, message_zh) = text::render(code, args);
        Warning { rule: rule.into(), message, code: code.into(), message_zh }
    }

    /// The text in `lang` (English when no zh-CN text was stored).
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::ZhCn if !self.message_zh.is_empty() => &self.message_zh,
            _ => &self.message,
        }
    }
}

/// Market and base-year inputs the model derived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub latest_price: Option<f64>,
    pub pe: Option<f64>,
    pub pb: Option<f64>,
    /// A share count (daily_basic.total_share 万股 × 10 000).
    pub total_shares: Option<f64>,
    /// PE × the last cleaned row's n_income (rule Q23).
    pub market_cap_estimate_yuan: Option<f64>,
    /// `revenue` of the last cleaned income row (rule Q12): the forecast's base.
    pub last_actual_revenue: Option<f64>,
    /// `YYYY-MM-DD` of the base report.
    pub base_report_date: Option<String>,
    /// Latest raw December income row's `diluted_eps` (rule Q5).
    pub latest_annual_diluted_eps: Option<f64>,
    /// Latest cleaned operate_profit + D&A (rule Q29).
    pub latest_actual_ebitda: Option<f64>,
    pub comp_type: Option<String>,
}

/// Medians over the cleaned annual rows (rules Q6–Q11); `None` when no year qualifies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoricalRatios {
    pub cogs_to_revenue_ratio: Option<f64>,
    pub sga_rd_to_revenue_ratio: Option<f64>,
    pub operating_margin_median: Option<f64>,
    pub da_to_revenue_ratio: Option<f64>,
    pub capex_to_revenue_ratio: Option<f64>,
    pub accounts_receivable_days: Option<f64>,
    pub inventory_days: Option<f64>,
    pub accounts_payable_days: Option<f64>,
    pub other_current_assets_to_revenue_ratio: Option<f64>,
    pub other_current_liabilities_to_revenue_ratio: Option<f64>,
    pub nwc_to_revenue_ratio: Option<f64>,
    pub last_historical_nwc: Option<f64>,
    pub effective_tax_rate: Option<f64>,
    pub historical_revenue_cagr: Option<f64>,
    /// quantdesk: the SG&A and R&D medians on their own (the reference only reports their sum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sga_to_revenue_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rd_to_revenue_ratio: Option<f64>,
    /// quantdesk: the last historical NWC rebuilt from the forecast's components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_historical_nwc_components: Option<f64>,
}

/// One forecast year (rules Q12–Q19, Q26).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ForecastYear {
    pub year: u32,
    pub revenue: f64,
    pub revenue_growth_rate: f64,
    pub cogs: f64,
    pub gross_profit: f64,
    pub sga_expenses: f64,
    pub rd_expenses: f64,
    pub ebit: f64,
    pub taxes: f64,
    pub nopat: f64,
    pub d_a: f64,
    pub capex: f64,
    pub accounts_receivable: f64,
    pub inventories: f64,
    pub accounts_payable: f64,
    pub other_current_assets: f64,
    pub other_current_liabilities: f64,
    pub nwc: f64,
    pub delta_nwc: f64,
    pub ebitda: f64,
    pub ufcf: f64,
    pub discount_factor: f64,
    pub pv_ufcf: f64,
    /// quantdesk: the drivers used this year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drivers: Option<YearDrivers>,
}

/// The driver values of one forecast year.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct YearDrivers {
    pub operating_margin: f64,
    pub sga_ratio: f64,
    pub rd_ratio: f64,
    pub da_ratio: f64,
    pub capex_ratio: f64,
    pub dso: f64,
    pub dio: f64,
    pub dpo: f64,
    pub other_current_assets_ratio: f64,
    pub other_current_liabilities_ratio: f64,
    pub tax_rate: f64,
}

/// The DCF block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dcf {
    pub enterprise_value: f64,
    pub equity_value: f64,
    /// `None` without a share count.
    pub value_per_share: Option<f64>,
    pub net_debt: f64,
    pub pv_forecast_ufcf: f64,
    pub pv_terminal_value: f64,
    pub terminal_value: f64,
    pub wacc_used: f64,
    pub cost_of_equity_used: f64,
    pub terminal_value_method_used: TerminalMethod,
    pub exit_multiple_used: Option<f64>,
    /// The rate as requested (the reference reports the uncapped input, Q25).
    pub perpetual_growth_rate_used: Option<f64>,
    pub forecast_period_years: u32,
    pub dcf_implied_diluted_pe: Option<f64>,
    pub base_ev_ebitda: Option<f64>,
    pub implied_perpetual_growth_rate: Option<f64>,
    /// quantdesk: the growth rate actually used after the caps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perpetual_growth_rate_effective: Option<f64>,
}

/// The grid's tables: `[row][column]`, `None` where the cell failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensitivityTables {
    pub value_per_share: Vec<Vec<Option<f64>>>,
    pub enterprise_value: Vec<Vec<Option<f64>>>,
    pub equity_value: Vec<Vec<Option<f64>>>,
    pub ev_ebitda: Vec<Vec<Option<f64>>>,
    pub dcf_implied_pe: Vec<Vec<Option<f64>>>,
    pub tv_ev_ratio: Vec<Vec<Option<f64>>>,
}

/// The sensitivity grid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    pub row_parameter: String,
    pub column_parameter: String,
    pub row_values: Vec<f64>,
    pub column_values: Vec<f64>,
    pub result_tables: SensitivityTables,
}

/// How the discount rate was built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaccBuildUp {
    pub risk_free_rate: f64,
    pub beta: f64,
    pub market_risk_premium: f64,
    pub country_risk_premium: f64,
    pub size_premium: f64,
    pub industry_risk_premium: f64,
    /// Ke = Rf + β·(MRP + CRP) + size + IRP.
    pub cost_of_equity: f64,
    pub cost_of_debt_pre_tax: f64,
    /// The tax rate of the debt shield.
    pub tax_rate_for_debt: f64,
    pub cost_of_debt_after_tax: f64,
    pub weight_mode_requested: WeightMode,
    pub weight_mode_used: WeightMode,
    pub debt_weight: f64,
    pub equity_weight: f64,
    /// Market mode: the debt and equity values behind the weights.
    pub market_debt: Option<f64>,
    pub market_equity: Option<f64>,
    /// The weighted rate before any `discount_rate` override.
    pub wacc_computed: Option<f64>,
    /// `discount_rate` when it overrode the WACC.
    pub discount_rate_override: Option<f64>,
    pub wacc_used: f64,
    pub mid_year_convention: bool,
}

/// Metrics derived from the valuation and the market snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    pub implied_perpetual_growth_rate: Option<f64>,
    pub dcf_implied_diluted_pe: Option<f64>,
    pub ev_to_latest_ebitda: Option<f64>,
    /// PV of the terminal value / EV.
    pub tv_share_of_ev: Option<f64>,
    /// (value per share − price) / value per share.
    pub margin_of_safety: Option<f64>,
    /// Value per share / price − 1.
    pub upside: Option<f64>,
    pub current_pe: Option<f64>,
    pub current_pb: Option<f64>,
    pub revenue_cagr_3y: Option<f64>,
    pub net_income_cagr_3y: Option<f64>,
}

/// Outcome of one guardrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStatus {
    Ok,
    Warn,
    NotApplicable,
}

/// A sanity check run on every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guardrail {
    /// `tv_share_of_ev`, `wacc_growth_gap`, `reinvestment_vs_growth`, `imputed_inputs`.
    pub name: String,
    pub status: GuardrailStatus,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub message: String,
    /// The message's code in [`text::CATALOGUE`] and its zh-CN text.
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message_zh: String,
}

impl Guardrail {
    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::ZhCn if !self.message_zh.is_empty() => &self.message_zh,
            _ => &self.message,
        }
    }
}

/// One quantdesk-vs-reference difference that changed this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DifferenceApplied {
    /// Stable id, e.g. `QD-NWC-BASELINE` (see [`crate::differences::DIFFERENCES`]).
    pub id: String,
    /// The reference rule it replaces (`Q17`).
    pub replaces: String,
    pub summary: String,
}

/// A refusal: the valuation could not be computed. `missing` names the input that was missing or
/// unusable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ValuationError {
    /// Stable code: `missing_statement`, `no_history`, `zero_revenue`, `missing_tax_rate`,
    /// `market_weights_unavailable`, `invalid_cost_of_equity`, `invalid_wacc`, `growth_not_below_wacc`,
    /// `invalid_request`.
    pub code: String,
    /// English.
    pub message: String,
    pub missing: Vec<String>,
    /// Warnings collected before the refusal.
    pub warnings: Vec<Warning>,
    /// The message's code in [`text::CATALOGUE`] and its zh-CN text.
    #[serde(default)]
    pub text_code: String,
    #[serde(default)]
    pub message_zh: String,
}

impl ValuationError {
    /// A refusal `code` whose text is the catalogue's `text_code` with `args`.
    pub(crate) fn new(code: &str, text_code: &str, args: &[Arg], missing: &[&str]) -> Self {
        let (message, message_zh) = text::render(text_code, args);
        ValuationError {
            code: code.to_string(),
            message,
            missing: missing.iter().map(|m| m.to_string()).collect(),
            warnings: Vec::new(),
            text_code: text_code.into(),
            message_zh,
        }
    }

    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::ZhCn if !self.message_zh.is_empty() => &self.message_zh,
            _ => &self.message,
        }
    }
}

/// A valuation result (or, with `error` set, a refusal in the same shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Valuation {
    pub ts_code: Option<String>,
    pub profile: Profile,
    pub ignored_request_keys: Vec<String>,
    pub inputs: Inputs,
    pub historical_ratios: HistoricalRatios,
    pub forecast: Vec<ForecastYear>,
    pub dcf: Option<Dcf>,
    pub sensitivity: Option<Sensitivity>,
    /// Every warning's message, sorted and de-duplicated (rule Q34).
    pub data_warnings: Vec<String>,
    pub special_industry_warning: Option<String>,
    pub error: Option<String>,
    // ---- quantdesk's additions
    pub wacc_build_up: Option<WaccBuildUp>,
    pub derived: Derived,
    pub guardrails: Vec<Guardrail>,
    /// The differences from the reference that applied to this run (empty under `reference`).
    pub differences_from_reference: Vec<DifferenceApplied>,
    /// Every warning with the rule that produced it.
    pub warnings: Vec<Warning>,
    /// The refusal in detail when `error` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<ValuationError>,
}

impl Valuation {
    /// The refusal in the result's shape (`error` set, the computed sections empty).
    pub fn refused(ts_code: Option<String>, profile: Profile, err: ValuationError) -> Self {
        let mut data_warnings: Vec<String> = err.warnings.iter().map(|w| w.message.clone()).collect();
        data_warnings.sort();
        data_warnings.dedup();
        Valuation {
            ts_code,
            profile,
            data_warnings,
            error: Some(err.message.clone()),
            warnings: err.warnings.clone(),
            refusal: Some(err),
            ..Valuation::default()
        }
    }
}

/// The price-implied value of one parameter (reverse DCF).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReverseDcf {
    /// `revenue_cagr` or `perpetual_growth_rate`.
    pub parameter: String,
    pub target_price: f64,
    /// The value at which the model's value per share equals the price; `None` when the price is
    /// outside what the bracket can reach.
    pub implied_value: Option<f64>,
    pub bracket: (f64, f64),
    pub iterations: u32,
    pub value_per_share_at_implied: Option<f64>,
    pub message: Option<String>,
    /// `message` in zh-CN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_zh: Option<String>,
}
