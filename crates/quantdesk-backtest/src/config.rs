//! What a backtest is run with: cash, costs, fill timing and the market's rules.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// When market orders fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    /// At the next bar's open: the signal bar's close is known only once the bar has ended.
    #[default]
    NextOpen,
    /// At the signal bar's close (an explicit, optimistic choice).
    Close,
}

/// Trading costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Costs {
    /// Commission as a fraction of traded value, each side (0.001 = 0.1 %).
    pub commission_rate: f64,
    /// Commission per share, each side.
    pub commission_per_share: f64,
    /// Minimum commission per order.
    pub min_commission: f64,
    /// Slippage against the trader, in basis points of the price.
    pub slippage_bps: f64,
    /// Slippage against the trader, in ticks.
    pub slippage_ticks: f64,
    /// Accept a commission rate above 10 % (up to 100 %): such costs are almost always a typo
    /// for a percentage (5 for 0.05 %), so they are refused unless forced.
    pub force: bool,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            commission_rate: 0.0,
            commission_per_share: 0.0,
            min_commission: 0.0,
            slippage_bps: 0.0,
            slippage_ticks: 0.0,
            force: false,
        }
    }
}

/// A-share rules, each of which can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChinaRules {
    /// Shares bought on a trading day cannot be sold that day.
    pub t_plus_1: bool,
    /// Board lots: 100 shares; STAR market 200 minimum then steps of 1; Beijing 100 then 1.
    pub board_lots: bool,
    /// No buy fill at the limit-up price, no sell fill at the limit-down price.
    pub price_limits: bool,
    /// Stamp duty on sells: 0.1 % before 2023-08-28, 0.05 % from that day.
    pub stamp_duty: bool,
    /// Transfer fee, 0.001 % of value, both sides.
    pub transfer_fee: bool,
    /// 5 CNY minimum commission per order.
    pub min_commission_5: bool,
}

impl Default for ChinaRules {
    fn default() -> Self {
        ChinaRules {
            t_plus_1: true,
            board_lots: true,
            price_limits: true,
            stamp_duty: true,
            transfer_fee: true,
            min_commission_5: true,
        }
    }
}

/// The market profile.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "profile", rename_all = "kebab-case")]
pub enum Market {
    /// No lots, no limits, T+0, long and short, costs as configured.
    #[default]
    Generic,
    /// A-shares: the rules in [`ChinaRules`], long only.
    CnA(ChinaRules),
}

impl Market {
    /// Stamp duty rate on a sell on `date`.
    pub fn stamp_duty_rate(&self, date: NaiveDate) -> f64 {
        match self {
            Market::CnA(r) if r.stamp_duty => {
                if date < NaiveDate::from_ymd_opt(2023, 8, 28).unwrap_or(NaiveDate::MIN) {
                    0.001
                } else {
                    0.0005
                }
            }
            _ => 0.0,
        }
    }

    pub fn allows_short(&self) -> bool {
        matches!(self, Market::Generic)
    }
}

/// Everything a run depends on besides its data and strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BacktestConfig {
    pub cash: f64,
    pub costs: Costs,
    pub fill: FillMode,
    pub market: Market,
}

/// A configuration value that is refused, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field at fault, as a dotted path: `cash`, `costs.commission_rate`, …
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The largest commission rate accepted without `costs.force`.
pub const MAX_COMMISSION_RATE: f64 = 0.1;

impl BacktestConfig {
    /// Refuses what cannot describe a market: cash that is not positive, negative or
    /// non-finite costs, a commission rate above 10 % unless forced (never above 100 %), and
    /// slippage of more than 10 %.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.costs;
        let within = |field: &'static str, v: f64, min: f64, max: f64, what: &str| {
            if v.is_finite() && v >= min && v <= max {
                Ok(())
            } else {
                Err(ConfigError { field, message: format!("{field} must be {what}, got {v}") })
            }
        };
        if !(self.cash.is_finite() && self.cash > 0.0 && self.cash <= 1e15) {
            return Err(ConfigError {
                field: "cash",
                message: format!("cash must be above 0 and at most 1e15, got {}", self.cash),
            });
        }
        let max_rate = if c.force { 1.0 } else { MAX_COMMISSION_RATE };
        let rate_rule = if c.force {
            "from 0 to 1 (a fraction of traded value)".to_string()
        } else {
            format!(
                "from 0 to {MAX_COMMISSION_RATE} (a fraction of traded value: 0.0003 is 0.03 %); set costs.force to accept up to 1"
            )
        };
        within("costs.commission_rate", c.commission_rate, 0.0, max_rate, &rate_rule)?;
        within("costs.commission_per_share", c.commission_per_share, 0.0, 1e6, "from 0 to 1e6")?;
        within("costs.min_commission", c.min_commission, 0.0, 1e9, "from 0 to 1e9")?;
        within("costs.slippage_bps", c.slippage_bps, 0.0, 1000.0, "from 0 to 1000 basis points")?;
        within("costs.slippage_ticks", c.slippage_ticks, 0.0, 1e6, "from 0 to 1e6")?;
        Ok(())
    }
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig { cash: 100_000.0, costs: Costs::default(), fill: FillMode::NextOpen, market: Market::Generic }
    }
}
