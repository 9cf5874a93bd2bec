//! TradeMaster's algorithmic-trading environment (`AlgorithmicTradingEnvironment`, branch 1.0.0 @ c1c4838),
//! as a deterministic `reset`/`step` state machine over a close series.
//!
//! The semantics are TradeMaster's, bugs included, so that its numbers can be reproduced to 1e-9
//! (TradeMaster reference notes, sections A and B; the crate README lists every rule):
//!
//! - The episode starts at `day = backward_num_day`; the agent sees rows `day-b .. day-1`. A trading step
//!   executes at `close[day-1]`, then `day += 1` and the portfolio is valued at the new `close[day-1]`.
//!   There are `L - forward_num_day - 1 - backward_num_day` trading steps (414 for 425 rows with 5/5).
//! - The call after the last trading step is the *terminal call*: it trades nothing, returns the previous
//!   step's reward again and `done = true`.
//! - The action is a **change** of position: `buy_volume = action - max_volume`; holdings are unbounded.
//!   Buying costs `p / (1 - c)` per unit, selling yields `p (1 - c)`. An unaffordable increase is cut to
//!   `int(cash / (p / (1 - c)))` units. Opening or growing a short is charged like a purchase (TradeMaster's
//!   short bug, kept).
//! - The reward looks ahead: `hold * ((p1 - p0) + future_weights * (pf - p0))` with `pf = close[d + f - 1]`.
//! - `daily_return` (TradeMaster's `portfolio_return_memory`) is the step's P&L **in dollars**,
//!   `hold * (p1 - p0)`, starting with a 0; it is not a return rate.
//!
//! One deliberate deviation: a zero-volume action (hold) with `cash <= 0` makes TradeMaster compute `0/0`
//! (NaN holdings with numpy integers, a `ZeroDivisionError` with Python integers). Here it is a plain hold
//! (branch [`Branch::IncreaseCapped`], nothing traded). It cannot occur with non-negative cash from a normal
//! run and does not occur in the golden files.
//!
//! Other choices: every action is validated against `action_dim`, also on the terminal call (TradeMaster
//! ignores the terminal call's action); stepping after `done` is an error (TradeMaster would recompute the
//! terminal output).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::env::{Env, EnvError, Space, Transition};

pub use crate::features::{BTC_FEATURES, FeatureMatrix, btc_features};
pub use crate::metrics::{TmEnvMetrics, tm_sortino};
use crate::numpy::np_var;

/// The environment's parameters. [`Default`] is TradeMaster's BTC configuration with the environment's
/// defaults for what the dataset config does not set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AtConfig {
    /// Starting cash (`initial_amount`, 100 000).
    pub initial_amount: f64,
    /// Proportional transaction cost `c` (`transaction_cost_pct`, 0.001).
    pub transaction_cost_pct: f64,
    /// Observation window length `b` (`backward_num_day`, 5).
    pub backward_num_day: usize,
    /// Look-ahead of the hindsight reward `f` (`forward_num_day`, 5).
    pub forward_num_day: usize,
    /// Largest position change per step in units (`max_volume`, 1); actions are `0 ..= 2*max_volume`.
    pub max_volume: u32,
    /// Weight of the hindsight term of the reward (`future_weights`, 0.2).
    pub future_weights: f64,
}

impl Default for AtConfig {
    fn default() -> Self {
        Self {
            initial_amount: 100_000.0,
            transaction_cost_pct: 0.001,
            backward_num_day: 5,
            forward_num_day: 5,
            max_volume: 1,
            future_weights: 0.2,
        }
    }
}

impl AtConfig {
    /// Number of discrete actions, `2*max_volume + 1`.
    pub fn action_dim(&self) -> usize {
        2 * self.max_volume as usize + 1
    }

    /// The Do-Nothing action (`max_volume`: buy 0).
    pub fn hold_action(&self) -> usize {
        self.max_volume as usize
    }

    /// Number of trading steps of an episode over `rows` rows: `rows - f - 1 - b` (0 when too short).
    pub fn n_steps(&self, rows: usize) -> usize {
        rows.saturating_sub(self.forward_num_day + 1 + self.backward_num_day)
    }

    /// Fewest rows for one trading step: `b + f + 2`.
    pub fn min_rows(&self) -> usize {
        self.backward_num_day + self.forward_num_day + 2
    }

    /// Checks the parameters: finite positive cash, `0 <= c < 1`, `b >= 1`, finite future weight.
    pub fn validate(&self) -> Result<(), AtEnvError> {
        let bad = |field: &'static str, reason: &'static str| Err(AtEnvError::InvalidConfig { field, reason });
        if !(self.initial_amount.is_finite() && self.initial_amount > 0.0) {
            return bad("initial_amount", "must be finite and positive");
        }
        if !(self.transaction_cost_pct.is_finite() && (0.0..1.0).contains(&self.transaction_cost_pct)) {
            return bad("transaction_cost_pct", "must be in [0, 1)");
        }
        if self.backward_num_day == 0 {
            return bad("backward_num_day", "must be at least 1");
        }
        if !self.future_weights.is_finite() {
            return bad("future_weights", "must be finite");
        }
        Ok(())
    }
}

/// Errors of the environment. None of them is a panic: invalid input is reported here.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AtEnvError {
    /// A configuration value is out of range.
    #[error("invalid environment configuration: {field} {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// Fewer rows than one trading step needs (`backward + forward + 2`).
    #[error("the price series has {rows} rows; at least {needed} are needed for one trading step")]
    TooShort {
        /// Rows given.
        rows: usize,
        /// Rows needed.
        needed: usize,
    },
    /// A close is NaN or infinite.
    #[error("close at row {index} is not finite ({value})")]
    NonFiniteClose {
        /// Row.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A close is zero or negative (TradeMaster would divide by it).
    #[error("close at row {index} is not positive ({value})")]
    NonPositiveClose {
        /// Row.
        index: usize,
        /// The value.
        value: f64,
    },
    /// An action outside `0 .. action_dim`.
    #[error("action {action} is outside 0..{action_dim}")]
    InvalidAction {
        /// The action.
        action: usize,
        /// `2*max_volume + 1`.
        action_dim: usize,
    },
    /// `step` was called after the episode ended; call `reset` first.
    #[error("the episode is over; call reset() before stepping again")]
    EpisodeDone,
    /// The feature matrix does not match the closes.
    #[error("feature matrix: {0}")]
    FeatureShape(String),
    /// An action sequence of the wrong length.
    #[error("{got} actions given for an episode of {expected} trading steps")]
    ActionsLength {
        /// Actions given.
        got: usize,
        /// Trading steps of the episode.
        expected: usize,
    },
}

/// Documented fixes of TradeMaster's trading bugs. [`Default`] is all off: TradeMaster's semantics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradingFixes {
    /// Model shorts properly: every sale (`buy_volume < 0`, also one that opens or grows a short) yields
    /// `|Δ|·p·(1 - c)` in cash and every purchase (also one that covers a short) costs `|Δ|·p/(1 - c)`, capped by the
    /// cash. TradeMaster charges opening a short like a purchase (its short bug), so the value drops by about `2p`
    /// per unit shorted.
    pub proper_short: bool,
}

/// The outcome of one trade of [`trade`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// Cash after the trade.
    pub cash: f64,
    /// Holdings after the trade.
    pub holdings: f64,
    /// Volume actually traded (signed; differs from the request when capped).
    pub buy_volume: f64,
    /// Code path.
    pub branch: Branch,
}

/// TradeMaster's booking of one trade of `requested` units at price `p0` with cost `c` (module docs), or the fixed
/// booking of [`TradingFixes`].
#[inline]
pub fn trade(c: f64, fixes: TradingFixes, cash_prev: f64, hold_prev: f64, p0: f64, requested: i64) -> Trade {
    let mut buy_volume = requested as f64;
    let mut hold_new = hold_prev + buy_volume;
    let unit_cost = p0 / (1.0 - c);
    if fixes.proper_short {
        let (cash, branch) = if requested < 0 {
            (cash_prev + buy_volume.abs() * p0 * (1.0 - c), Branch::Reduce)
        } else if requested == 0 || cash_prev > buy_volume * unit_cost {
            (cash_prev - buy_volume * unit_cost, Branch::Increase)
        } else {
            buy_volume = (cash_prev / unit_cost).trunc().max(0.0);
            hold_new = hold_prev + buy_volume;
            (cash_prev - buy_volume * unit_cost, Branch::IncreaseCapped)
        };
        return Trade { cash, holdings: hold_new, buy_volume, branch };
    }
    let change = hold_new.abs() - hold_prev.abs();
    let (cash, branch) = if change < 0.0 {
        (cash_prev + change.abs() * p0 * (1.0 - c), Branch::Reduce)
    } else if cash_prev > buy_volume.abs() * p0 / (1.0 - c) {
        (cash_prev - buy_volume.abs() * p0 / (1.0 - c), Branch::Increase)
    } else if requested == 0 {
        // Deviation (module docs): TradeMaster computes 0/0 here.
        (cash_prev, Branch::IncreaseCapped)
    } else {
        let max_trading = (cash_prev / (p0 / (1.0 - c))).trunc();
        buy_volume = (requested as f64).signum() * max_trading;
        hold_new = hold_prev + buy_volume;
        (cash_prev - buy_volume.abs() * p0 / (1.0 - c), Branch::IncreaseCapped)
    };
    Trade { cash, holdings: hold_new, buy_volume, branch }
}

/// What the agent sees before choosing an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// TradeMaster's state vector: for each feature its `b` window values (oldest first), then cash and
    /// holdings. Without a feature matrix the only feature is the close.
    pub state: Vec<f64>,
    /// The closes of the window, oldest first; the last one is the execution price of the next step.
    pub closes: Vec<f64>,
    /// Cash after the previous step.
    pub cash: f64,
    /// Holdings in units after the previous step (a float, negative for a short).
    pub holdings: f64,
    /// TradeMaster's `day` (index one past the window's last row).
    pub day: usize,
}

/// Which code path a trade took (the golden files' `branch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    /// |position| shrinks: sale at `p (1 - c)` per unit.
    Reduce,
    /// |position| grows or stays (including a hold), affordable: cost `p / (1 - c)` per unit.
    Increase,
    /// |position| grows, unaffordable: volume cut to `int(cash / (p / (1 - c)))`.
    IncreaseCapped,
}

impl Branch {
    /// The golden files' label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Branch::Reduce => "reduce",
            Branch::Increase => "increase",
            Branch::IncreaseCapped => "increase_capped",
        }
    }
}

/// One trading step, as logged in the golden files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step number from 0.
    pub t: usize,
    /// Decision day `d` (before the increment).
    pub day: usize,
    /// Action taken.
    pub action: usize,
    /// `action - max_volume`.
    pub buy_volume_requested: i64,
    /// Volume actually traded (signed; differs when capped).
    pub buy_volume: f64,
    /// Code path.
    pub branch: Branch,
    /// Execution price `close[d-1]`.
    pub price: f64,
    /// Valuation price `close[d]`.
    pub next_price: f64,
    /// Hindsight price `close[d + f - 1]`.
    pub future_price: f64,
    /// Cash after the trade.
    pub cash: f64,
    /// Holdings after the trade.
    pub holdings: f64,
    /// `cash + holdings * next_price`.
    pub portfolio_value: f64,
    /// `holdings * ((next - price) + future_weights * (future - price))`.
    pub reward: f64,
    /// `holdings * (next - price)`, dollars (an entry of `daily_return`).
    pub pnl: f64,
    /// TradeMaster's `info["volidality"]`: population variance of the `f` simple returns of
    /// `close[d .. d+f]` (looks ahead; NaN when `f = 0`).
    pub volatility: f64,
}

/// The result of one `step` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The next observation (unchanged on the terminal call).
    pub observation: Observation,
    /// The reward (on the terminal call: the previous step's reward again, as TradeMaster returns it).
    pub reward: f64,
    /// True on the terminal call only.
    pub done: bool,
    /// The trading step's log; `None` on the terminal call.
    pub record: Option<StepRecord>,
}

/// What the terminal call computes besides the metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalInfo {
    /// The terminal `day` (`L - f - 1`).
    pub terminal_day: usize,
    /// The (stale) reward the terminal call returned.
    pub reward_returned: f64,
    /// `close[b - 1]`, the first execution price.
    pub first_close: f64,
    /// `close[terminal_day]`, one row past the last valuation close.
    pub last_close: f64,
    /// `100 * (last_close - first_close) / first_close`.
    pub buy_and_hold_profit: f64,
    /// `initial / first_close * close[b ..= terminal_day]`, shifted one day later than `asset_memory`.
    pub buy_and_hold_assets: Vec<f64>,
    /// `tr * 100` (TradeMaster's "Profit Margin" and "Excess Profit": nothing is subtracted).
    pub return_rate: f64,
}

/// A finished episode: TradeMaster's memories, the step logs, the metrics and the terminal extras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// The actions of the trading steps (the terminal call's action is not kept).
    pub actions: Vec<usize>,
    /// One record per trading step.
    pub steps: Vec<StepRecord>,
    /// Portfolio values: the initial amount, then one per step.
    pub asset_memory: Vec<f64>,
    /// TradeMaster's `portfolio_return_memory`: 0, then each step's dollar P&L.
    pub daily_return: Vec<f64>,
    /// TradeMaster's metrics of the episode.
    pub metrics: TmEnvMetrics,
    /// Terminal extras.
    pub terminal: TerminalInfo,
}

impl Episode {
    /// TradeMaster's "Excess Profit" of the episode: `tr * 100 - 0` (no buy-and-hold subtracted).
    pub fn excess_profit(&self) -> f64 {
        self.metrics.tr * 100.0 - 0.0
    }
}

/// TradeMaster's algorithmic-trading environment over one close series.
#[derive(Debug, Clone)]
pub struct AtEnv {
    cfg: AtConfig,
    fixes: TradingFixes,
    closes: Vec<f64>,
    features: Option<FeatureMatrix>,
    day: usize,
    t: usize,
    cash: f64,
    holdings: f64,
    reward: f64,
    done: bool,
    asset_memory: Vec<f64>,
    daily_return: Vec<f64>,
    actions: Vec<usize>,
    records: Vec<StepRecord>,
    observation: Observation,
}

impl AtEnv {
    /// An environment whose observation holds the closes only (plus cash and holdings).
    pub fn new(cfg: AtConfig, closes: Vec<f64>) -> Result<Self, AtEnvError> {
        Self::build(cfg, closes, None)
    }

    /// An environment whose observation holds `features` (one row per close), as TradeMaster's does.
    pub fn with_features(cfg: AtConfig, closes: Vec<f64>, features: FeatureMatrix) -> Result<Self, AtEnvError> {
        if features.rows() != closes.len() {
            return Err(AtEnvError::FeatureShape(format!(
                "{} feature rows for {} closes",
                features.rows(),
                closes.len()
            )));
        }
        Self::build(cfg, closes, Some(features))
    }

    fn build(cfg: AtConfig, closes: Vec<f64>, features: Option<FeatureMatrix>) -> Result<Self, AtEnvError> {
        cfg.validate()?;
        validate_closes(&closes)?;
        if closes.len() < cfg.min_rows() {
            return Err(AtEnvError::TooShort { rows: closes.len(), needed: cfg.min_rows() });
        }
        let placeholder = Observation { state: Vec::new(), closes: Vec::new(), cash: 0.0, holdings: 0.0, day: 0 };
        let mut env = Self {
            cfg,
            fixes: TradingFixes::default(),
            closes,
            features,
            day: 0,
            t: 0,
            cash: 0.0,
            holdings: 0.0,
            reward: 0.0,
            done: false,
            asset_memory: Vec::new(),
            daily_return: Vec::new(),
            actions: Vec::new(),
            records: Vec::new(),
            observation: placeholder,
        };
        env.reset();
        Ok(env)
    }

    /// The same environment with `fixes` applied (TradeMaster's semantics without them).
    pub fn with_fixes(mut self, fixes: TradingFixes) -> Self {
        self.fixes = fixes;
        self
    }

    /// The fixes in force.
    pub fn fixes(&self) -> TradingFixes {
        self.fixes
    }

    /// The configuration.
    pub fn config(&self) -> &AtConfig {
        &self.cfg
    }

    /// The closes.
    pub fn closes(&self) -> &[f64] {
        &self.closes
    }

    /// Number of trading steps of an episode.
    pub fn n_steps(&self) -> usize {
        self.cfg.n_steps(self.closes.len())
    }

    /// Length of the observation vector: `n_features * b + 2`.
    pub fn state_dim(&self) -> usize {
        self.features.as_ref().map_or(1, |f| f.n_features()) * self.cfg.backward_num_day + 2
    }

    /// Starts a new episode: `day = b`, all cash, and returns the first observation.
    pub fn reset(&mut self) -> Observation {
        self.day = self.cfg.backward_num_day;
        self.t = 0;
        self.cash = self.cfg.initial_amount;
        self.holdings = 0.0;
        self.reward = 0.0;
        self.done = false;
        self.asset_memory.clear();
        self.asset_memory.push(self.cfg.initial_amount);
        self.daily_return.clear();
        self.daily_return.push(0.0);
        self.actions.clear();
        self.records.clear();
        self.observation = self.observe();
        self.observation.clone()
    }

    /// The current observation.
    pub fn observation(&self) -> &Observation {
        &self.observation
    }

    /// True once the terminal call has happened.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn observe(&self) -> Observation {
        let b = self.cfg.backward_num_day;
        let lo = self.day - b;
        let closes = self.closes[lo..self.day].to_vec();
        let mut state = match &self.features {
            None => closes.clone(),
            Some(fm) => {
                let mut s = Vec::with_capacity(fm.n_features() * b + 2);
                for f in 0..fm.n_features() {
                    for row in lo..self.day {
                        s.push(fm.get(row, f).unwrap_or(f64::NAN));
                    }
                }
                s
            }
        };
        state.push(self.cash);
        state.push(self.holdings);
        Observation { state, closes, cash: self.cash, holdings: self.holdings, day: self.day }
    }

    /// One call of TradeMaster's `step(action)`: a trading step, or the terminal call (`done = true`,
    /// stale reward, no trade) once `day >= L - f - 1`.
    pub fn step(&mut self, action: usize) -> Result<Step, AtEnvError> {
        if self.done {
            return Err(AtEnvError::EpisodeDone);
        }
        let action_dim = self.cfg.action_dim();
        if action >= action_dim {
            return Err(AtEnvError::InvalidAction { action, action_dim });
        }
        let l = self.closes.len();
        if self.day >= l - self.cfg.forward_num_day - 1 {
            self.done = true;
            return Ok(Step { observation: self.observation.clone(), reward: self.reward, done: true, record: None });
        }
        let c = self.cfg.transaction_cost_pct;
        let f = self.cfg.forward_num_day;
        let p0 = self.closes[self.day - 1];
        let requested = action as i64 - i64::from(self.cfg.max_volume);
        let Trade { cash: cash_new, holdings: hold_new, buy_volume, branch } =
            trade(c, self.fixes, self.cash, self.holdings, p0, requested);
        self.cash = cash_new;
        self.holdings = hold_new;
        let decision_day = self.day;
        self.day += 1;
        let p1 = self.closes[self.day - 1];
        let pf = self.closes[self.day + f - 2];
        self.reward = hold_new * ((p1 - p0) + self.cfg.future_weights * (pf - p0));
        let pnl = hold_new * (p1 - p0);
        let value = cash_new + hold_new * p1;
        self.daily_return.push(pnl);
        self.asset_memory.push(value);
        let future = &self.closes[self.day - 1..self.day + f];
        let rets: Vec<f64> = future.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let volatility = np_var(&rets);
        let record = StepRecord {
            t: self.t,
            day: decision_day,
            action,
            buy_volume_requested: requested,
            buy_volume,
            branch,
            price: p0,
            next_price: p1,
            future_price: pf,
            cash: cash_new,
            holdings: hold_new,
            portfolio_value: value,
            reward: self.reward,
            pnl,
            volatility,
        };
        self.t += 1;
        self.actions.push(action);
        self.records.push(record.clone());
        self.observation = self.observe();
        Ok(Step { observation: self.observation.clone(), reward: self.reward, done: false, record: Some(record) })
    }

    /// Portfolio values so far (initial amount first).
    pub fn asset_memory(&self) -> &[f64] {
        &self.asset_memory
    }

    /// Dollar P&L so far (leading 0 first).
    pub fn daily_return(&self) -> &[f64] {
        &self.daily_return
    }

    /// TradeMaster's metrics of the episode so far.
    pub fn metrics(&self) -> TmEnvMetrics {
        TmEnvMetrics::compute(&self.daily_return, &self.asset_memory)
    }

    /// The terminal extras, computed as the terminal call does (meaningful once `done`).
    pub fn terminal_info(&self) -> TerminalInfo {
        let b = self.cfg.backward_num_day;
        let first_close = self.closes[b - 1];
        let last_day = (self.day + 1).min(self.closes.len());
        let last_close = self.closes[last_day - 1];
        let scale = self.cfg.initial_amount / first_close;
        let buy_and_hold_assets = self.closes[b.min(last_day)..last_day].iter().map(|p| scale * p).collect();
        TerminalInfo {
            terminal_day: self.day,
            reward_returned: self.reward,
            first_close,
            last_close,
            buy_and_hold_profit: 100.0 * (last_close - first_close) / first_close,
            buy_and_hold_assets,
            return_rate: self.metrics().tr * 100.0,
        }
    }

    /// The episode so far as an [`Episode`].
    pub fn episode(&self) -> Episode {
        Episode {
            actions: self.actions.clone(),
            steps: self.records.clone(),
            asset_memory: self.asset_memory.clone(),
            daily_return: self.daily_return.clone(),
            metrics: self.metrics(),
            terminal: self.terminal_info(),
        }
    }
}

fn validate_closes(closes: &[f64]) -> Result<(), AtEnvError> {
    for (index, &value) in closes.iter().enumerate() {
        if !value.is_finite() {
            return Err(AtEnvError::NonFiniteClose { index, value });
        }
        if value <= 0.0 {
            return Err(AtEnvError::NonPositiveClose { index, value });
        }
    }
    Ok(())
}

/// An agent: maps an observation to an action in `0 .. 2*max_volume + 1`.
pub trait Policy {
    /// A short name (TradeMaster's test id: `agent`, `Blind_Bid`, `Do_Nothing`, …).
    fn name(&self) -> &str;
    /// The action for this observation.
    fn act(&mut self, obs: &Observation, cfg: &AtConfig) -> usize;
    /// Called at the start of every episode. Default: nothing.
    fn reset(&mut self) {}
}

/// TradeMaster's Do_Nothing baseline: action `max_volume` (buy 0) every step. The radar's zero score.
#[derive(Debug, Clone, Copy, Default)]
pub struct DoNothing;

impl Policy for DoNothing {
    fn name(&self) -> &str {
        "Do_Nothing"
    }
    fn act(&mut self, _obs: &Observation, cfg: &AtConfig) -> usize {
        cfg.hold_action()
    }
}

/// TradeMaster's Blind_Bid baseline: action `2*max_volume` (buy `max_volume`) every step, until cash runs
/// out (then the buys are cut to 0 units). The radar's fifty score.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlindBid;

impl Policy for BlindBid {
    fn name(&self) -> &str {
        "Blind_Bid"
    }
    fn act(&mut self, _obs: &Observation, cfg: &AtConfig) -> usize {
        2 * cfg.max_volume as usize
    }
}

/// The golden files' `ma` agent: long/flat on the moving average of the window. Signal
/// `close[day-1] > (close[day-b] + … + close[day-1]) / b` (sequential sum); target holdings 1 if the
/// signal is on, else 0; buy one unit (`max_volume + 1`) if below the target, sell one (`max_volume - 1`)
/// if above, else hold (`max_volume`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MaPolicy;

impl Policy for MaPolicy {
    fn name(&self) -> &str {
        "ma"
    }
    fn act(&mut self, obs: &Observation, cfg: &AtConfig) -> usize {
        let hold = cfg.hold_action();
        let Some(&last) = obs.closes.last() else { return hold };
        let mut s = 0.0;
        for &c in &obs.closes {
            s += c;
        }
        let ma = s / obs.closes.len() as f64;
        let target = if last > ma { 1.0 } else { 0.0 };
        if target > obs.holdings {
            hold + 1
        } else if target < obs.holdings && hold >= 1 {
            hold - 1
        } else {
            hold
        }
    }
}

/// A fixed action sequence; after it runs out (the terminal call) it answers Do-Nothing.
#[derive(Debug, Clone)]
pub struct ActionSequence {
    actions: Vec<usize>,
    next: usize,
}

impl ActionSequence {
    /// Plays `actions` in order.
    pub fn new(actions: Vec<usize>) -> Self {
        Self { actions, next: 0 }
    }
}

impl Policy for ActionSequence {
    fn name(&self) -> &str {
        "actions"
    }
    fn act(&mut self, _obs: &Observation, cfg: &AtConfig) -> usize {
        let a = self.actions.get(self.next).copied().unwrap_or(cfg.hold_action());
        self.next += 1;
        a
    }
    fn reset(&mut self) {
        self.next = 0;
    }
}

/// Runs one episode the way TradeMaster's harness does: reset, then ask the policy and step until `done`
/// (the policy is also asked for the terminal call, whose action is not traded).
pub fn run_episode(env: &mut AtEnv, policy: &mut dyn Policy) -> Result<Episode, AtEnvError> {
    let mut obs = env.reset();
    policy.reset();
    loop {
        let a = policy.act(&obs, env.config());
        let step = env.step(a)?;
        if step.done {
            return Ok(env.episode());
        }
        obs = step.observation;
    }
}

/// Runs one episode with a fixed action per trading step (`actions.len()` must equal the number of steps).
pub fn run_actions(cfg: AtConfig, closes: Vec<f64>, actions: &[usize]) -> Result<Episode, AtEnvError> {
    let mut env = AtEnv::new(cfg, closes)?;
    if actions.len() != env.n_steps() {
        return Err(AtEnvError::ActionsLength { got: actions.len(), expected: env.n_steps() });
    }
    run_episode(&mut env, &mut ActionSequence::new(actions.to_vec()))
}

/// The trading environment behind the generic [`Env`] interface, for training and throughput: the same booking
/// ([`trade`]), reward, episode indexing and terminal call as [`AtEnv`], without the per-step logs and memories.
/// Copies share their data ([`Arc`]), so a [`crate::VecEnv`] of many copies holds one series.
///
/// Observation: [`AtEnv`]'s state vector (each feature's window oldest first, then cash and holdings; the closes
/// when there is no feature matrix). Action: `Discrete(2·max_volume + 1)`. Reward: TradeMaster's (with the hindsight
/// term). `Transition::value` is `cash + holdings·close`.
#[derive(Debug, Clone)]
pub struct TradingEnv {
    cfg: AtConfig,
    fixes: TradingFixes,
    closes: Arc<[f64]>,
    features: Option<Arc<FeatureMatrix>>,
    day: usize,
    cash: f64,
    holdings: f64,
    reward: f64,
    value: f64,
    done: bool,
}

impl TradingEnv {
    /// Checks the data as [`AtEnv`] does. `features`, when given, must have one row per close.
    pub fn new(
        cfg: AtConfig,
        closes: Arc<[f64]>,
        features: Option<Arc<FeatureMatrix>>,
        fixes: TradingFixes,
    ) -> Result<Self, AtEnvError> {
        cfg.validate()?;
        validate_closes(&closes)?;
        if closes.len() < cfg.min_rows() {
            return Err(AtEnvError::TooShort { rows: closes.len(), needed: cfg.min_rows() });
        }
        if let Some(fm) = &features
            && fm.rows() != closes.len()
        {
            return Err(AtEnvError::FeatureShape(format!("{} feature rows for {} closes", fm.rows(), closes.len())));
        }
        let cash = cfg.initial_amount;
        Ok(Self {
            day: cfg.backward_num_day,
            cfg,
            fixes,
            closes,
            features,
            cash,
            holdings: 0.0,
            reward: 0.0,
            value: cash,
            done: false,
        })
    }

    /// Cash now.
    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// Holdings now.
    pub fn holdings(&self) -> f64 {
        self.holdings
    }

    /// TradeMaster's `day`.
    pub fn day(&self) -> usize {
        self.day
    }

    fn observe(&self, obs: &mut [f64]) {
        let b = self.cfg.backward_num_day;
        let lo = self.day - b;
        let n = match &self.features {
            None => {
                obs[..b].copy_from_slice(&self.closes[lo..self.day]);
                b
            }
            Some(fm) => {
                let k = fm.n_features();
                for f in 0..k {
                    for (j, row) in (lo..self.day).enumerate() {
                        obs[f * b + j] = fm.row(row)[f];
                    }
                }
                k * b
            }
        };
        obs[n] = self.cash;
        obs[n + 1] = self.holdings;
    }
}

impl Env for TradingEnv {
    fn observation_space(&self) -> Space {
        let k = self.features.as_ref().map_or(1, |f| f.n_features());
        Space::Box { low: f64::NEG_INFINITY, high: f64::INFINITY, shape: vec![k * self.cfg.backward_num_day + 2] }
    }

    fn action_space(&self) -> Space {
        Space::Discrete { n: self.cfg.action_dim() }
    }

    fn reset(&mut self, _seed: u64, obs: &mut [f64]) {
        self.day = self.cfg.backward_num_day;
        self.cash = self.cfg.initial_amount;
        self.holdings = 0.0;
        self.reward = 0.0;
        self.value = self.cash;
        self.done = false;
        self.observe(obs);
    }

    #[inline]
    fn step(&mut self, action: &[f64], obs: &mut [f64]) -> Result<Transition, EnvError> {
        let n = self.cfg.action_dim();
        let a = match action {
            [a] if a.fract() == 0.0 && *a >= 0.0 && *a < n as f64 => *a as usize,
            [a] => return Err(EnvError::DiscreteAction { value: *a, n }),
            _ => return Err(EnvError::ActionLength { expected: 1, got: action.len() }),
        };
        if self.done {
            return Err(AtEnvError::EpisodeDone.into());
        }
        let f = self.cfg.forward_num_day;
        if self.day >= self.closes.len() - f - 1 {
            self.done = true;
            self.observe(obs);
            return Ok(Transition { reward: self.reward, done: true, value: self.value });
        }
        let p0 = self.closes[self.day - 1];
        let requested = a as i64 - i64::from(self.cfg.max_volume);
        let t = trade(self.cfg.transaction_cost_pct, self.fixes, self.cash, self.holdings, p0, requested);
        self.cash = t.cash;
        self.holdings = t.holdings;
        self.day += 1;
        let p1 = self.closes[self.day - 1];
        let pf = self.closes[self.day + f - 2];
        self.reward = t.holdings * ((p1 - p0) + self.cfg.future_weights * (pf - p0));
        self.value = t.cash + t.holdings * p1;
        self.observe(obs);
        Ok(Transition { reward: self.reward, done: false, value: self.value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_is_an_error() {
        let e = AtEnv::new(AtConfig::default(), vec![1.0; 11]).unwrap_err();
        assert_eq!(e, AtEnvError::TooShort { rows: 11, needed: 12 });
        assert!(AtEnv::new(AtConfig::default(), vec![1.0; 12]).is_ok());
    }
}
