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
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            commission_rate: 0.0,
            commission_per_share: 0.0,
            min_commission: 0.0,
            slippage_bps: 0.0,
            slippage_ticks: 0.0,
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

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig { cash: 100_000.0, costs: Costs::default(), fill: FillMode::NextOpen, market: Market::Generic }
    }
}
