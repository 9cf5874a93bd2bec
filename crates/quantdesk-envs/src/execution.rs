//! Order execution: sell a target quantity over a horizon, scored against TWAP.
//!
//! The episode covers `horizon` decision steps over a close series. At step `t` the agent has seen the closes up to
//! row `start + t` (its window of `window` rows ends there) and sells at that close. The action is the **fraction of
//! the remaining quantity** to sell now, in `[0, 1]` (clipped); whatever remains at the last step is sold there.
//! Proceeds are `q·p·(1 - c)`. TWAP sells `Q/horizon` at every step's close; the reward of a step is the agent's
//! proceeds minus TWAP's proceeds of that step, so the rewards add up to `cash − twap_cash`, and the score
//! ([`ExecEnv::relative_to_twap`]) is `cash / twap_cash − 1`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::env::{Env, EnvError, Space, Transition};

/// Parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExecConfig {
    /// The quantity to sell (units, positive).
    pub quantity: f64,
    /// Decision steps (at least 1).
    pub horizon: usize,
    /// Observation window (closes, at least 1).
    pub window: usize,
    /// Proportional cost of a sale.
    pub transaction_cost_pct: f64,
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self { quantity: 1000.0, horizon: 20, window: 5, transaction_cost_pct: 0.001 }
    }
}

/// Errors; none is a panic.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExecError {
    /// A configuration value out of range.
    #[error("invalid execution configuration: {0}")]
    InvalidConfig(&'static str),
    /// Too few closes for the window and the horizon.
    #[error("{rows} closes given; window + horizon - 1 = {needed} are needed")]
    TooShort {
        /// Closes given.
        rows: usize,
        /// Closes needed.
        needed: usize,
    },
    /// A close that is not a positive finite number.
    #[error("close at row {index} is not a positive finite number ({value})")]
    BadClose {
        /// Row.
        index: usize,
        /// The value.
        value: f64,
    },
    /// `step` after the episode ended.
    #[error("the episode is over; call reset() before stepping again")]
    EpisodeDone,
}

/// The execution environment over one close series (rows `0 .. window + horizon - 1` are used).
#[derive(Debug, Clone)]
pub struct ExecEnv {
    cfg: ExecConfig,
    closes: Arc<[f64]>,
    t: usize,
    remaining: f64,
    cash: f64,
    twap_cash: f64,
    done: bool,
}

impl ExecEnv {
    /// Checks the parameters and the closes.
    pub fn new(cfg: ExecConfig, closes: Arc<[f64]>) -> Result<Self, ExecError> {
        if !(cfg.quantity.is_finite() && cfg.quantity > 0.0) {
            return Err(ExecError::InvalidConfig("quantity must be finite and positive"));
        }
        if cfg.horizon == 0 || cfg.window == 0 {
            return Err(ExecError::InvalidConfig("horizon and window must be at least 1"));
        }
        if !(cfg.transaction_cost_pct.is_finite() && (0.0..1.0).contains(&cfg.transaction_cost_pct)) {
            return Err(ExecError::InvalidConfig("transaction_cost_pct must be in [0, 1)"));
        }
        let needed = cfg.window + cfg.horizon - 1;
        if closes.len() < needed {
            return Err(ExecError::TooShort { rows: closes.len(), needed });
        }
        if let Some((index, &value)) = closes.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
            return Err(ExecError::BadClose { index, value });
        }
        Ok(Self { cfg, closes, t: 0, remaining: cfg.quantity, cash: 0.0, twap_cash: 0.0, done: false })
    }

    /// Quantity still to sell.
    pub fn remaining(&self) -> f64 {
        self.remaining
    }

    /// Proceeds so far.
    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// TWAP's proceeds over the same steps so far.
    pub fn twap_cash(&self) -> f64 {
        self.twap_cash
    }

    /// The score: `cash / twap_cash - 1` (meaningful once done).
    pub fn relative_to_twap(&self) -> f64 {
        self.cash / self.twap_cash - 1.0
    }

    fn price(&self) -> f64 {
        self.closes[self.cfg.window - 1 + self.t]
    }

    /// The window's closes relative to the first close of the episode minus 1, then the remaining fraction and
    /// the fraction of the horizon left.
    fn observe(&self, obs: &mut [f64]) {
        let w = self.cfg.window;
        let t = self.t.min(self.cfg.horizon - 1);
        let base = self.closes[w - 1];
        for (j, o) in obs[..w].iter_mut().enumerate() {
            *o = self.closes[t + j] / base - 1.0;
        }
        obs[w] = self.remaining / self.cfg.quantity;
        obs[w + 1] = (self.cfg.horizon - self.t) as f64 / self.cfg.horizon as f64;
    }
}

impl Env for ExecEnv {
    fn observation_space(&self) -> Space {
        Space::Box { low: f64::NEG_INFINITY, high: f64::INFINITY, shape: vec![self.cfg.window + 2] }
    }

    fn action_space(&self) -> Space {
        Space::Box { low: 0.0, high: 1.0, shape: vec![1] }
    }

    fn reset(&mut self, _seed: u64, obs: &mut [f64]) {
        self.t = 0;
        self.remaining = self.cfg.quantity;
        self.cash = 0.0;
        self.twap_cash = 0.0;
        self.done = false;
        self.observe(obs);
    }

    fn step(&mut self, action: &[f64], obs: &mut [f64]) -> Result<Transition, EnvError> {
        self.action_space().check(action)?;
        if self.done {
            return Err(ExecError::EpisodeDone.into());
        }
        let p = self.price();
        let keep = 1.0 - self.cfg.transaction_cost_pct;
        let last = self.t + 1 == self.cfg.horizon;
        let q = if last { self.remaining } else { self.remaining * action[0].clamp(0.0, 1.0) };
        self.remaining -= q;
        let proceeds = q * p * keep;
        let twap = self.cfg.quantity / self.cfg.horizon as f64 * p * keep;
        self.cash += proceeds;
        self.twap_cash += twap;
        self.t += 1;
        self.done = last;
        self.observe(obs);
        Ok(Transition { reward: proceeds - twap, done: last, value: self.cash + self.remaining * p })
    }
}
