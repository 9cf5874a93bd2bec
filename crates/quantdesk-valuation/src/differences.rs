//! Every way the `quantdesk` profile differs from the `reference` profile, with its reason.
//!
//! The `reference` profile follows the reference rule by rule (Q1–Q34 of the reference notes);
//! `quantdesk` (the default) changes exactly the rules below. A result lists, under
//! `differences_from_reference`, the entries that applied to that run.

/// One documented difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// Stable id, as emitted on results.
    pub id: &'static str,
    /// The reference rule it replaces.
    pub replaces: &'static str,
    /// What quantdesk does instead.
    pub summary: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// The list.
pub const DIFFERENCES: &[Difference] = &[
    Difference {
        id: "QD-SGA-RD-HISTORY",
        replaces: "Q13",
        summary: "SG&A starts at the historical median of (sell_exp + admin_exp)/total_revenue and R&D at the median of rd_exp/total_revenue (10 % and 5 % only when history has none); target_sga_rd_to_revenue_ratio is the combined target, split between the two in proportion to their starts.",
        reason: "The reference always starts at 10 % and 5 % whatever the company reports, and applies the single combined target to each line (doubling it). SG&A and R&D only shift the residual COGS (and so the inventory and payables days' base), but that base should be the company's own.",
    },
    Difference {
        id: "QD-NWC-BASELINE",
        replaces: "Q17",
        summary: "Year 1's ΔNWC is measured against the base year's NWC computed by the forecast's own lines with the drivers' starting values (nwc_baseline_mode = forecast_base, the default), so it reflects growth and driver changes only, like every later year's. Balance-sheet baselines are available but compare unlike things: `last_historical` (the reference's (current assets − cash) − (current liabilities − short-term debt)) books the difference of definitions in year 1 (600519: an inflow of 390 亿), and `component` (the same components from the balance sheet) still differs because the forecast applies inventory and payable days to the residual COGS (600519: an outflow of 630 亿); `zero` is the reference.",
        reason: "The reference never passes the last historical NWC to the forecaster, so year 1 books the whole working capital as a one-year investment (600519: 475 亿 against ≈55 亿 in later years), understating value.",
    },
    Difference {
        id: "QD-EBITDA",
        replaces: "Q19",
        summary: "EBITDA = EBIT + D&A.",
        reason: "The reference rebuilds EBITDA as NOPAT/(1 − T*) + D&A with T* the target tax rate (25 % by default), not the tax rate the NOPAT was taxed at, so EBITDA (and the exit-multiple terminal value) moves with an unrelated setting.",
    },
    Difference {
        id: "QD-KD-TAX",
        replaces: "Q21",
        summary: "The after-tax cost of debt uses target_effective_tax_rate when given, else the historical effective tax rate, else 25 %.",
        reason: "The reference always shields debt at the target rate, defaulting to 25 % even when the company's effective rate is known.",
    },
    Difference {
        id: "QD-MARKET-WEIGHTS",
        replaces: "Q23",
        summary: "Market weights take equity as price × total shares (PE × n_income_attr_p when no price), and fall back to the target weights with a warning when equity or debt cannot be measured.",
        reason: "The reference multiplies the daily PE by the net income including minorities (a rough, wrong market cap) and fails the whole valuation when PE is missing or the last year lost money.",
    },
    Difference {
        id: "QD-GDP-CAP",
        replaces: "Q25",
        summary: "The perpetual growth rate is capped at gdp_nominal_cap (default 4.5 %, use_gdp_cap = false to disable), and perpetual_growth_rate_effective reports the rate actually used (a warning when capped).",
        reason: "The reference caps growth at the risk-free rate, silently: with Rf 3 % a 3.5 % request is valued at 3 % and still reported as 3.5 %.",
    },
    Difference {
        id: "QD-GROWTH-FIELD",
        replaces: "Q31",
        summary: "terminal_growth_rate is honoured when perpetual_growth_rate is absent.",
        reason: "The reference's request model names the field terminal_growth_rate but its service reads perpetual_growth_rate, so a user-supplied rate is silently ignored.",
    },
    Difference {
        id: "QD-TAX-MISSING",
        replaces: "Q14",
        summary: "Without a historical effective tax rate the tax path starts at target_effective_tax_rate, else 25 %, with a warning.",
        reason: "The reference crashes with a type error and refuses the whole valuation (688256.SH).",
    },
    Difference {
        id: "QD-KE-PREMIUMS",
        replaces: "Q20",
        summary: "Ke = Rf + β·(MRP + CRP) + size + IRP (country and industry risk premia, default 0).",
        reason: "The reference has no country or industry premium; both default to 0, so this only differs when set.",
    },
    Difference {
        id: "QD-MID-YEAR",
        replaces: "Q26",
        summary: "mid_year_convention = true discounts year t's UFCF at t − 0.5 (the terminal value stays at N).",
        reason: "Cash arrives through the year; end-of-year discounting understates value by about half a year of WACC. Off by default.",
    },
    Difference {
        id: "QD-GRID",
        replaces: "Q30",
        summary: "Each grid cell fills dcf_implied_pe; given WACC axis values are used as given (generated only when the list is empty); revenue_cagr and operating_margin axes exist.",
        reason: "The reference leaves dcf_implied_pe null in every cell and regenerates the WACC axis whenever step and points are present, discarding values the user gave.",
    },
    Difference {
        id: "QD-TAX-TRANSITION",
        replaces: "Q14",
        summary: "tax_rate_transition_years sets how fast the tax rate moves to its target (default N, as the reference).",
        reason: "The reference has no setting for it.",
    },
    Difference {
        id: "QD-LTM",
        replaces: "Q32",
        summary: "ltm_baseline_enabled = true bases the forecast on the last twelve months to the latest quarter (YTD + previous annual − YTD a year earlier for every income and cash-flow column; the quarter's balance sheet), appended to the history as its latest period; refused, naming the rows, when a quarter is missing.",
        reason: "The reference at 0e8c3f7 ignores the key (its later v3 replaces only the base revenue and falls back to the annual base silently), so an interim valuation is a year stale.",
    },
];

/// The entry with this id.
pub fn find(id: &str) -> Option<&'static Difference> {
    DIFFERENCES.iter().find(|d| d.id == id)
}
