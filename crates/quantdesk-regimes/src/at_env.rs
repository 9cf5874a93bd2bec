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

use serde::{Deserialize, Serialize};
use thiserror::Error;

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

/// Per-row features for the observation, row-major (one row per close, `names.len()` values each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatrix {
    names: Vec<String>,
    rows: usize,
    data: Vec<f64>,
}

impl FeatureMatrix {
    /// Builds a matrix from named feature rows; every row must have one value per name.
    pub fn new(names: Vec<String>, rows: &[Vec<f64>]) -> Result<Self, AtEnvError> {
        if names.is_empty() {
            return Err(AtEnvError::FeatureShape("no feature names".into()));
        }
        let mut data = Vec::with_capacity(rows.len() * names.len());
        for (i, r) in rows.iter().enumerate() {
            if r.len() != names.len() {
                return Err(AtEnvError::FeatureShape(format!(
                    "row {i} has {} values for {} features",
                    r.len(),
                    names.len()
                )));
            }
            data.extend_from_slice(r);
        }
        Ok(Self { names, rows: rows.len(), data })
    }

    /// The feature names, in observation order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// Value of feature `feature` at row `row` (`None` out of range).
    pub fn get(&self, row: usize, feature: usize) -> Option<f64> {
        if row < self.rows && feature < self.names.len() {
            Some(self.data[row * self.names.len() + feature])
        } else {
            None
        }
    }

    /// The rows `start .. end` as a new matrix (clamped to the available rows).
    pub fn slice_rows(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.rows);
        let start = start.min(end);
        let k = self.names.len();
        Self { names: self.names.clone(), rows: end - start, data: self.data[start * k..end * k].to_vec() }
    }
}

/// TradeMaster's 16 BTC features, in its `tech_indicator_list` order.
pub const BTC_FEATURES: [&str; 16] = [
    "high", "low", "open", "close", "adjcp", "zopen", "zhigh", "zlow", "zadjcp", "zclose", "zd_5", "zd_10", "zd_15",
    "zd_20", "zd_25", "zd_30",
];

/// TradeMaster's BTC features rebuilt with its preprocessor formulas (`adjcp = close`,
/// `zopen = open/close - 1`, `zhigh`, `zlow` alike, `zadjcp = adjcp/close - 1`,
/// `zclose = close/(rolling2 sum - close) - 1`, `zd_k = (rolling_k sum / k)/close - 1`, then forward fill
/// and back fill of the leading gaps). Pass the whole history: the first `k - 1` rows of `zd_k` are back
/// filled. All slices must have the same length.
pub fn btc_features(open: &[f64], high: &[f64], low: &[f64], close: &[f64]) -> Result<FeatureMatrix, AtEnvError> {
    let n = close.len();
    if open.len() != n || high.len() != n || low.len() != n {
        return Err(AtEnvError::FeatureShape("open, high, low and close differ in length".into()));
    }
    if n == 0 {
        return Err(AtEnvError::FeatureShape("no rows".into()));
    }
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(16);
    cols.push(high.to_vec());
    cols.push(low.to_vec());
    cols.push(open.to_vec());
    cols.push(close.to_vec());
    cols.push(close.to_vec());
    cols.push((0..n).map(|i| open[i] / close[i] - 1.0).collect());
    cols.push((0..n).map(|i| high[i] / close[i] - 1.0).collect());
    cols.push((0..n).map(|i| low[i] / close[i] - 1.0).collect());
    let adjcp = close;
    cols.push((0..n).map(|i| adjcp[i] / close[i] - 1.0).collect());
    cols.push(
        (0..n)
            .map(|i| if i == 0 { f64::NAN } else { close[i] / ((close[i - 1] + close[i]) - close[i]) - 1.0 })
            .collect(),
    );
    for k in [5usize, 10, 15, 20, 25, 30] {
        cols.push(
            (0..n)
                .map(|i| {
                    if i + 1 < k {
                        f64::NAN
                    } else {
                        let s: f64 = close[i + 1 - k..=i].iter().sum();
                        (s / k as f64) / close[i] - 1.0
                    }
                })
                .collect(),
        );
    }
    for col in &mut cols {
        fill_forward_backward(col);
    }
    let rows: Vec<Vec<f64>> = (0..n).map(|i| cols.iter().map(|c| c[i]).collect()).collect();
    FeatureMatrix::new(BTC_FEATURES.iter().map(|s| s.to_string()).collect(), &rows)
}

fn fill_forward_backward(col: &mut [f64]) {
    let mut last = f64::NAN;
    for v in col.iter_mut() {
        if v.is_nan() {
            *v = last;
        } else {
            last = *v;
        }
    }
    let mut next = f64::NAN;
    for v in col.iter_mut().rev() {
        if v.is_nan() {
            *v = next;
        } else {
            next = *v;
        }
    }
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

/// TradeMaster's per-episode metrics (`evaualte()`), with its definitions:
///
/// - `tr = A[-1] / (A[0] + 1e-10) - 1`;
/// - `sharpe_ratio = mean(r) * sqrt(252) / (std(r) + 1e-10)` on the asset return rates `r`, population std;
/// - `vol = std(r)`, population, not annualised;
/// - `mdd` = largest `(peak - A)/peak` with a running peak from `A[0]`;
/// - `cr = sum(daily_return) / (mdd + 1e-10)`: **dollars** over a fraction, not annualised;
/// - `sor = sum(daily_return) / (std(negative daily_return) + 1e-10) / (sqrt(N) + 1e-10)`, `N` counting the
///   leading 0; no negative entries give std 0 (NaN → 0), hence a blow-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TmEnvMetrics {
    /// Total return (with the 1e-10 epsilon).
    pub tr: f64,
    /// Sharpe on return rates, √252.
    pub sharpe_ratio: f64,
    /// Std of return rates.
    pub vol: f64,
    /// Running-peak max drawdown.
    pub mdd: f64,
    /// TradeMaster's "Calmar": dollar P&L sum / mdd.
    pub cr: f64,
    /// TradeMaster's "Sortino" on dollar P&L.
    pub sor: f64,
}

impl TmEnvMetrics {
    /// Computes the metrics from `daily_return` (dollar P&L with the leading 0) and `asset_memory`.
    /// With fewer than two asset values the return-rate metrics are NaN (numpy's mean of nothing).
    pub fn compute(daily_return: &[f64], assets: &[f64]) -> Self {
        let first = assets.first().copied().unwrap_or(f64::NAN);
        let last = assets.last().copied().unwrap_or(f64::NAN);
        let tr = last / (first + 1e-10) - 1.0;
        let rates: Vec<f64> = assets.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let sd = np_std(&rates);
        let sharpe_ratio = np_mean(&rates) * 252f64.sqrt() / (sd + 1e-10);
        let mut mdd = 0.0f64;
        let mut peak = first;
        for &v in assets {
            if v > peak {
                peak = v;
            }
            let dd = (peak - v) / peak;
            if dd > mdd {
                mdd = dd;
            }
        }
        let total = np_sum(daily_return);
        let cr = total / (mdd + 1e-10);
        let sor = tm_sortino(daily_return);
        Self { tr, sharpe_ratio, vol: sd, mdd, cr, sor }
    }
}

/// TradeMaster's Sortino: `sum(x) / (nan_to_num(std(x[x<0])) + 1e-10) / (sqrt(len(x)) + 1e-10)`.
pub(crate) fn tm_sortino(x: &[f64]) -> f64 {
    let neg: Vec<f64> = x.iter().copied().filter(|v| *v < 0.0).collect();
    let sd = if neg.is_empty() { 0.0 } else { nan_to_num(np_std(&neg)) };
    np_sum(x) / (sd + 1e-10) / ((x.len() as f64).sqrt() + 1e-10)
}

fn nan_to_num(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else if x == f64::INFINITY {
        f64::MAX
    } else if x == f64::NEG_INFINITY {
        f64::MIN
    } else {
        x
    }
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
        let hold_prev = self.holdings;
        let cash_prev = self.cash;
        let mut buy_volume = requested as f64;
        let mut hold_new = hold_prev + buy_volume;
        let change = hold_new.abs() - hold_prev.abs();
        let (cash_new, branch) = if change < 0.0 {
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

// ---------------------------------------------------------------------------------------------
// numpy's float64 reductions, summation order included (np.add.reduce: first element, then a pairwise sum of
// the rest in blocks of 8 accumulators up to 128 elements).

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// `np.sum` of a float64 array (0 for an empty one).
pub(crate) fn np_sum(a: &[f64]) -> f64 {
    match a.split_first() {
        None => 0.0,
        Some((first, rest)) => *first + pairwise(rest),
    }
}

/// `np.mean` (NaN for an empty array).
pub(crate) fn np_mean(a: &[f64]) -> f64 {
    np_sum(a) / a.len() as f64
}

/// `np.var`, population (ddof 0; NaN for an empty array).
pub(crate) fn np_var(a: &[f64]) -> f64 {
    let m = np_mean(a);
    let sq: Vec<f64> = a.iter().map(|x| (x - m) * (x - m)).collect();
    np_sum(&sq) / a.len() as f64
}

/// `np.std`, population (ddof 0; NaN for an empty array).
pub(crate) fn np_std(a: &[f64]) -> f64 {
    np_var(a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_orders() {
        let v: Vec<f64> = (0..300).map(|i| (i as f64 * 0.37).sin()).collect();
        let seq: f64 = v.iter().sum();
        assert!((np_sum(&v) - seq).abs() < 1e-12);
        assert_eq!(np_sum(&[]), 0.0);
        assert_eq!(np_sum(&[2.5]), 2.5);
        assert!(np_mean(&[]).is_nan());
        assert_eq!(np_var(&[1.0, 3.0]), 1.0);
    }

    #[test]
    fn short_series_is_an_error() {
        let e = AtEnv::new(AtConfig::default(), vec![1.0; 11]).unwrap_err();
        assert_eq!(e, AtEnvError::TooShort { rows: 11, needed: 12 });
        assert!(AtEnv::new(AtConfig::default(), vec![1.0; 12]).is_ok());
    }
}
