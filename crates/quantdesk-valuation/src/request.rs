//! The valuation request: the reference's field names (and aliases), plus quantdesk's own.
//!
//! Every field is optional; a missing or `null` field takes the default of the chosen
//! [`Profile`]. Keys the model does not know never fail deserialisation: they are collected in
//! [`Request::unknown`] and reported as `ignored_request_keys` on the result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which rules the model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The reference (huliux/stock_vale @ 0e8c3f7) exactly, bugs and all (rules Q1–Q34).
    Reference,
    /// quantdesk's model: the reference with the fixes listed in [`crate::differences`].
    #[default]
    Quantdesk,
}

/// How a forecast driver moves over the forecast years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastMode {
    /// Constant at the historical median (or the default when history has none).
    #[default]
    HistoricalMedian,
    /// Linear from the historical start to the target over the driver's transition years.
    TransitionToTarget,
}

/// Capital-structure weights for the WACC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightMode {
    /// `target_debt_ratio` (default 45 %).
    #[default]
    Target,
    /// Book interest-bearing debt against the market capitalisation (P/E × net income).
    Market,
}

/// Terminal value method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalMethod {
    /// Final-year EBITDA × multiple.
    #[default]
    ExitMultiple,
    /// Gordon growth on the final-year UFCF.
    PerpetualGrowth,
}

/// Which balance-sheet lines make up "other current liabilities" in the historical ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherClMode {
    /// The reference rule (Q8): `contract_liab` if that column exists at all, else
    /// `adv_receipts`; plus payroll, taxes and other payables.
    #[default]
    Standard,
    /// Per year: `contract_liab` where that year reports it, else that year's `adv_receipts`
    /// (so a company that switched to the new standard mid-history is not understated).
    Pg,
}

/// What year 1's ΔNWC is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NwcBaselineMode {
    /// Zero: year 1 books the whole forecast NWC as an investment (reference, Q17).
    Zero,
    /// The last historical NWC as the reference computes it (Q11): (current assets − cash) −
    /// (current liabilities − short-term borrowing − non-current liabilities due within a year).
    LastHistorical,
    /// The last historical year rebuilt from the balance sheet's own components: receivables +
    /// inventories + (prepayment + other current assets) − payables − other current liabilities.
    Component,
    /// The forecast's own formulas applied to the base year with the drivers' starting values
    /// (revenue, residual COGS, days and ratios): year 1's ΔNWC then reflects growth and driver
    /// changes only, as every later year's does (quantdesk's default).
    ForecastBase,
}

/// One axis of the sensitivity grid.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SensitivityAxis {
    /// `wacc`, `perpetual_growth_rate`, `exit_multiple`, and (quantdesk) `revenue_cagr`,
    /// `operating_margin`.
    pub parameter_name: String,
    /// Explicit axis values; empty to generate them from `step` and `points` around the base.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub values: Vec<f64>,
    #[serde(default)]
    pub step: Option<f64>,
    #[serde(default)]
    pub points: Option<i64>,
}

/// The two axes of the sensitivity grid.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SensitivityRequest {
    pub row_axis: SensitivityAxis,
    pub column_axis: SensitivityAxis,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Option::<Vec<f64>>::deserialize(d)?.unwrap_or_default())
}

/// A valuation request. Field names follow the reference's API (`request_dict_used` of the golden
/// files deserialises as is); quantdesk's own fields are listed after them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    /// The stock (`stock_code` accepted). Informational: the statements are given separately.
    #[serde(default, alias = "stock_code", skip_serializing_if = "Option::is_none")]
    pub ts_code: Option<String>,
    /// `YYYY-MM-DD`; informational (the statements given decide the base year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valuation_date: Option<String>,
    /// Forecast years N, 1..=20, default 5 (`prediction_years` accepted).
    #[serde(default, alias = "prediction_years", skip_serializing_if = "Option::is_none")]
    pub forecast_years: Option<i64>,
    /// Annual decay of the revenue growth rate, default 0.1 (outside [0,1] → 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cagr_decay_rate: Option<f64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_margin_forecast_mode: Option<ForecastMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_operating_margin: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_margin_transition_years: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sga_rd_ratio_forecast_mode: Option<ForecastMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_sga_rd_to_revenue_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sga_rd_transition_years: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub da_ratio_forecast_mode: Option<ForecastMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_da_to_revenue_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub da_ratio_transition_years: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capex_ratio_forecast_mode: Option<ForecastMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_capex_to_revenue_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capex_ratio_transition_years: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nwc_days_forecast_mode: Option<ForecastMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_accounts_receivable_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_inventory_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_accounts_payable_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nwc_days_transition_years: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_nwc_ratio_forecast_mode: Option<ForecastMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_other_current_assets_to_revenue_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_other_current_liabilities_to_revenue_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_nwc_ratio_transition_years: Option<i64>,
    /// Target effective tax rate (the tax path moves to it; also the Kd shield in `reference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_effective_tax_rate: Option<f64>,
    /// quantdesk: transition years of the tax path (the reference always uses N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate_transition_years: Option<i64>,

    /// A direct discount rate in (0,1): overrides the WACC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wacc_weight_mode: Option<WeightMode>,
    /// Target D/(D+E), default 0.45.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_debt_ratio: Option<f64>,
    /// Pre-tax cost of debt, default 0.05.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_of_debt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_free_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_risk_premium: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_premium: Option<f64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_value_method: Option<TerminalMethod>,
    /// Exit EV/EBITDA multiple, default 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_multiple: Option<f64>,
    /// Perpetual growth rate, default 0.025.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perpetual_growth_rate: Option<f64>,
    /// The reference HEAD's name for the growth rate. `reference` ignores it (with a warning),
    /// as the reference's service did (Q31); `quantdesk` honours it when
    /// `perpetual_growth_rate` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_growth_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity_analysis: Option<SensitivityRequest>,

    // ---- quantdesk's own fields (ignored, and listed in `ignored_request_keys`, under `reference`)
    /// `reference` or `quantdesk` (default).
    #[serde(default)]
    pub profile: Profile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_risk_premium: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry_risk_premium: Option<f64>,
    /// Discount each year's cash flow at t − 0.5 (the terminal value stays at N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid_year_convention: Option<bool>,
    /// Cap the perpetual growth rate at nominal GDP growth (default true in `quantdesk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_gdp_cap: Option<bool>,
    /// The nominal GDP growth cap, default 0.045.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gdp_nominal_cap: Option<f64>,
    /// quantdesk: base the forecast on the last twelve months to the latest quarter
    /// (`Statements::quarterly_*`) instead of the last annual report; refused when a needed
    /// quarter is missing. Ignored by `reference` (the reference has no such option).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ltm_baseline_enabled: Option<bool>,
    /// Only `residual` (COGS = revenue − EBIT − SG&A − R&D) is implemented; anything else warns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cogs_forecast_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_cl_mode: Option<OtherClMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nwc_baseline_mode: Option<NwcBaselineMode>,
    /// The dividend discount model's growth assumptions (`ddm.high_growth`,
    /// `ddm.high_growth_years`, `ddm.terminal_growth`): a reference figure beside the DCF, used by
    /// [`crate::ddm::DdmRequest::from_request`] under either profile; the DCF ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ddm: Option<crate::ddm::DdmAssumptions>,

    /// Every key the model does not know (never an error).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// Reference request keys that exist but have no effect on the model (market, LLM summary).
pub(crate) const INERT_KEYS: &[&str] = &[
    "market",
    "request_llm_summary",
    "llm_provider",
    "llm_model_id",
    "llm_api_base_url",
    "llm_temperature",
    "llm_top_p",
    "llm_max_tokens",
];

impl Request {
    /// A request with every field at its default under `profile`.
    pub fn with_profile(profile: Profile) -> Self {
        Request { profile, ..Request::default() }
    }

    /// Keys that had no effect: unknown keys, and under `reference` the quantdesk-only keys that
    /// were set (sorted).
    pub fn ignored_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = self.unknown.keys().filter(|k| !INERT_KEYS.contains(&k.as_str())).cloned().collect();
        if let Some(d) = &self.ddm {
            out.extend(d.unknown.keys().map(|k| format!("ddm.{k}")));
        }
        if self.profile == Profile::Reference {
            let set: [(&str, bool); 10] = [
                ("country_risk_premium", self.country_risk_premium.is_some()),
                ("industry_risk_premium", self.industry_risk_premium.is_some()),
                ("mid_year_convention", self.mid_year_convention.is_some()),
                ("use_gdp_cap", self.use_gdp_cap.is_some()),
                ("gdp_nominal_cap", self.gdp_nominal_cap.is_some()),
                ("ltm_baseline_enabled", self.ltm_baseline_enabled.is_some()),
                ("cogs_forecast_mode", self.cogs_forecast_mode.is_some()),
                ("other_cl_mode", self.other_cl_mode.is_some()),
                ("nwc_baseline_mode", self.nwc_baseline_mode.is_some()),
                ("tax_rate_transition_years", self.tax_rate_transition_years.is_some()),
            ];
            out.extend(set.iter().filter(|(_, on)| *on).map(|(k, _)| k.to_string()));
        }
        out.sort();
        out.dedup();
        out
    }
}
