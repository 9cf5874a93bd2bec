//! Orders strategies emit.

use quantdesk_core::Symbol;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

/// How many shares, decided at fill time against the fill price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// A fixed number of shares.
    Shares(u64),
    /// As many whole shares as cash buys: floor(cash / (price × (1 + commission rate))).
    AllIn,
    /// A fraction of equity, in whole shares.
    PercentOfEquity(f64),
    /// Trade to hold this fraction of equity in the symbol (rebalancing); the side follows.
    TargetWeight(f64),
    /// Close the whole position.
    Close,
}

/// Price condition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    /// Buy at or below, sell at or above.
    Limit(f64),
    /// Buy once the price reaches it from below, sell once it falls to it.
    Stop(f64),
}

/// How long an order lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// For the next bar of its symbol only.
    #[default]
    Day,
    /// Until filled.
    Gtc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub symbol: Symbol,
    pub side: Side,
    pub size: Size,
    pub kind: OrderKind,
    pub tif: TimeInForce,
}

impl Order {
    pub fn market(symbol: &Symbol, side: Side, size: Size) -> Order {
        Order { symbol: symbol.clone(), side, size, kind: OrderKind::Market, tif: TimeInForce::Day }
    }
}
