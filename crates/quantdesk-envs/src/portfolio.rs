//! TradeMaster's portfolio-management environments (branch 1.0.0 @ c1c4838), N assets and cash, as deterministic
//! `reset`/`step` state machines over a panel of closes (one row per day, the assets in a fixed order):
//!
//! - [`PmVariant::Softmax`], TradeMaster's `PortfolioManagementEnvironment` (the "ordinary" one of its RLlib
//!   agents): the action is a vector of logits, cash first, turned into weights by `exp(a)/sum(exp(a))` (no
//!   max-subtraction, no clipping). The episode starts at `day = 0` with all cash; there are `D - 1` steps. The
//!   reward is the change of value **in dollars**; the terminal call returns the previous reward again.
//! - [`PmVariant::Eiie`], `PortfolioManagementEIIEEnvironment`: the action is the weight vector, cash first, used
//!   **as given** (no softmax, no check, no normalisation). The episode starts at `day = time_steps - 1` (10 - 1);
//!   there are `D - time_steps` steps. `reset()` sets the previous weights to the equal vector `1/(N+1)` although the
//!   portfolio is all cash, so the first step pays a fee against equal weights (TradeMaster's bug; see
//!   [`PmFixes::eiie_start_all_cash`]). The reward is `ln(V_new) - ln(V)`; the terminal call returns 0.
//!
//! One step (both): with `w` the target weights, `gross = Σ (p_t/p_{t-1} - 1)·w[1..]` (left to right),
//! the drifted weights `normalise([w0] + w[1..]·p_t/p_{t-1})`, the turnover `Σ |w_prev_drift - w|` **cash entry
//! included** (each trade counted twice; [`PmFixes::one_sided_turnover`]), `fee = turnover·c·V`,
//! `V_new = (V - fee)·(1 + gross)`, `portfolio_return = (V_new - V)/V` (an entry of `daily_return`). `w_prev_drift` is
//! the previous step's drifted weights (the initial weights on the first step).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::env::{Env, EnvError, Space, Transition};
use crate::features::FeatureMatrix;
use crate::metrics::TmEnvMetrics;
use crate::numpy::np_sum;

/// Which of TradeMaster's two portfolio environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PmVariant {
    /// `PortfolioManagementEnvironment`: logits through a softmax, dollar reward.
    Softmax,
    /// `PortfolioManagementEIIEEnvironment`: weights as given, log reward, window of `time_steps` days.
    Eiie,
}

/// Parameters. [`Default`] is TradeMaster's DJ30 configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PmConfig {
    /// Starting cash (100 000).
    pub initial_amount: f64,
    /// Proportional cost on the turnover (0.001).
    pub transaction_cost_pct: f64,
    /// EIIE's window (`time_steps`, 10: the dataset's `length_day` is never read). Unused by the softmax variant.
    pub time_steps: usize,
}

impl Default for PmConfig {
    fn default() -> Self {
        Self { initial_amount: 100_000.0, transaction_cost_pct: 0.001, time_steps: 10 }
    }
}

/// Documented fixes of TradeMaster's portfolio bugs. [`Default`] is all off: TradeMaster's semantics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmFixes {
    /// The softmax subtracts the largest logit first, so large logits do not overflow to NaN weights.
    pub stable_softmax: bool,
    /// The turnover counts the assets' weight changes only (each trade once), not the cash entry as well.
    pub one_sided_turnover: bool,
    /// EIIE: the first step's fee is measured from all cash `[1, 0, …]`, where the portfolio really starts.
    pub eiie_start_all_cash: bool,
}

/// Errors; none is a panic.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PmError {
    /// A configuration value out of range.
    #[error("invalid portfolio configuration: {0}")]
    InvalidConfig(&'static str),
    /// The panel's shape does not fit.
    #[error("portfolio data: {0}")]
    Shape(String),
    /// Too few days for one step.
    #[error("{days} days given; at least {needed} are needed for one step")]
    TooShort {
        /// Days given.
        days: usize,
        /// Days needed.
        needed: usize,
    },
    /// A close that is NaN, infinite, zero or negative.
    #[error("close of asset {asset} on day {day} is not a positive finite number ({value})")]
    BadClose {
        /// Day (row).
        day: usize,
        /// Asset (column).
        asset: usize,
        /// The value.
        value: f64,
    },
    /// An action of the wrong length.
    #[error("the action has {got} values; {expected} are needed (cash first, then one per asset)")]
    ActionLength {
        /// Values needed.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// An action value that is NaN (or +inf for logits, or not finite for weights).
    #[error("action value {index} is not allowed ({value})")]
    BadAction {
        /// Index (0 is cash).
        index: usize,
        /// The value.
        value: f64,
    },
    /// `step` after the episode ended.
    #[error("the episode is over; call reset() before stepping again")]
    EpisodeDone,
}

/// One trading step, as logged in the golden files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmStepRecord {
    /// Step number from 0.
    pub t: usize,
    /// `day` before the step (the prices `p_{t-1}` are this day's).
    pub day: usize,
    /// Target weights `w` (cash first).
    pub weights: Vec<f64>,
    /// `Σ (p_t/p_{t-1} - 1)·w[1..]`.
    pub gross_return: f64,
    /// The weights after the day's price moves, normalised.
    pub weights_after_drift: Vec<f64>,
    /// `Σ |w_prev_drift - w|` (cash included unless fixed).
    pub turnover: f64,
    /// `turnover·c·V`.
    pub transaction_fee: f64,
    /// `V` before the step.
    pub value_before: f64,
    /// `V_new`.
    pub portfolio_value: f64,
    /// `(V_new - V)/V`.
    pub portfolio_return: f64,
    /// Dollars (softmax) or `ln V_new - ln V` (EIIE).
    pub reward: f64,
}

/// A finished (or running) episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmEpisode {
    /// One record per step.
    pub steps: Vec<PmStepRecord>,
    /// Values: the initial amount, then one per step.
    pub asset_memory: Vec<f64>,
    /// 0, then each step's `portfolio_return` (return rates).
    pub daily_return: Vec<f64>,
    /// TradeMaster's metrics (`evaualte()`).
    pub metrics: TmEnvMetrics,
}

/// TradeMaster's portfolio environment over a panel of closes.
#[derive(Debug, Clone)]
pub struct PmEnv {
    cfg: PmConfig,
    variant: PmVariant,
    fixes: PmFixes,
    n: usize,
    days: usize,
    closes: Arc<[f64]>,
    features: Option<Arc<[FeatureMatrix]>>,
    day: usize,
    t: usize,
    value: f64,
    reward: f64,
    done: bool,
    prev_drift: Vec<f64>,
    asset_memory: Vec<f64>,
    daily_return: Vec<f64>,
    records: Vec<PmStepRecord>,
    keep_records: bool,
}

impl PmEnv {
    /// An environment over `closes`, `days × n_assets` row-major (day after day, the assets in a fixed order).
    /// `features`, when given, holds one matrix per asset with one row per day; the observation is built from them
    /// (else from the closes).
    pub fn new(
        variant: PmVariant,
        cfg: PmConfig,
        n_assets: usize,
        closes: Arc<[f64]>,
        features: Option<Arc<[FeatureMatrix]>>,
        fixes: PmFixes,
    ) -> Result<Self, PmError> {
        if !(cfg.initial_amount.is_finite() && cfg.initial_amount > 0.0) {
            return Err(PmError::InvalidConfig("initial_amount must be finite and positive"));
        }
        if !(cfg.transaction_cost_pct.is_finite() && (0.0..1.0).contains(&cfg.transaction_cost_pct)) {
            return Err(PmError::InvalidConfig("transaction_cost_pct must be in [0, 1)"));
        }
        if variant == PmVariant::Eiie && cfg.time_steps == 0 {
            return Err(PmError::InvalidConfig("time_steps must be at least 1"));
        }
        if n_assets == 0 || !closes.len().is_multiple_of(n_assets) {
            return Err(PmError::Shape(format!("{} closes do not make rows of {n_assets} assets", closes.len())));
        }
        let days = closes.len() / n_assets;
        for (i, &value) in closes.iter().enumerate() {
            if !(value.is_finite() && value > 0.0) {
                return Err(PmError::BadClose { day: i / n_assets, asset: i % n_assets, value });
            }
        }
        let first = match variant {
            PmVariant::Softmax => 0,
            PmVariant::Eiie => cfg.time_steps - 1,
        };
        if days < first + 2 {
            return Err(PmError::TooShort { days, needed: first + 2 });
        }
        if let Some(fs) = &features {
            if fs.len() != n_assets {
                return Err(PmError::Shape(format!("{} feature matrices for {n_assets} assets", fs.len())));
            }
            let k = fs[0].n_features();
            if fs.iter().any(|f| f.rows() != days || f.n_features() != k) {
                return Err(PmError::Shape("every asset's features need one row per day and the same columns".into()));
            }
        }
        let mut env = Self {
            cfg,
            variant,
            fixes,
            n: n_assets,
            days,
            closes,
            features,
            day: first,
            t: 0,
            value: cfg.initial_amount,
            reward: 0.0,
            done: false,
            prev_drift: Vec::new(),
            asset_memory: Vec::new(),
            daily_return: Vec::new(),
            records: Vec::new(),
            keep_records: true,
        };
        env.restart();
        Ok(env)
    }

    /// Stops (or resumes) keeping step records and memories, for speed in training.
    pub fn keep_records(mut self, keep: bool) -> Self {
        self.keep_records = keep;
        self
    }

    /// Number of assets (without cash).
    pub fn n_assets(&self) -> usize {
        self.n
    }

    /// Number of days.
    pub fn days(&self) -> usize {
        self.days
    }

    /// The first decision day.
    pub fn first_day(&self) -> usize {
        match self.variant {
            PmVariant::Softmax => 0,
            PmVariant::Eiie => self.cfg.time_steps - 1,
        }
    }

    /// Number of trading steps of an episode (`D - 1` softmax, `D - time_steps` EIIE).
    pub fn n_steps(&self) -> usize {
        self.days - 1 - self.first_day()
    }

    /// TradeMaster's `day`.
    pub fn day(&self) -> usize {
        self.day
    }

    /// The portfolio value now.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// True once the terminal call has happened.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn restart(&mut self) {
        self.day = self.first_day();
        self.t = 0;
        self.value = self.cfg.initial_amount;
        self.reward = 0.0;
        self.done = false;
        let n1 = self.n + 1;
        self.prev_drift = match self.variant {
            PmVariant::Eiie if !self.fixes.eiie_start_all_cash => vec![1.0 / n1 as f64; n1],
            _ => {
                let mut w = vec![0.0; n1];
                w[0] = 1.0;
                w
            }
        };
        self.asset_memory.clear();
        self.asset_memory.push(self.cfg.initial_amount);
        self.daily_return.clear();
        self.daily_return.push(0.0);
        self.records.clear();
    }

    /// Starts a new episode and returns the first observation.
    pub fn reset(&mut self) -> Vec<f64> {
        self.restart();
        let mut obs = vec![0.0; self.obs_len()];
        self.observe(&mut obs);
        obs
    }

    fn obs_len(&self) -> usize {
        let k = self.features.as_ref().map_or(1, |f| f[0].n_features());
        match self.variant {
            PmVariant::Softmax => k * self.n,
            PmVariant::Eiie => self.n * self.cfg.time_steps * k,
        }
    }

    fn obs_shape(&self) -> Vec<usize> {
        let k = self.features.as_ref().map_or(1, |f| f[0].n_features());
        match self.variant {
            PmVariant::Softmax => vec![k, self.n],
            PmVariant::Eiie => vec![self.n, self.cfg.time_steps, k],
        }
    }

    /// Softmax: each feature's values of the day over the assets (`[feature][asset]`). EIIE: per asset, per day of
    /// the window (oldest first), each feature (`[asset][day][feature]`). The closes stand in for the features when
    /// there are none.
    fn observe(&self, obs: &mut [f64]) {
        let n = self.n;
        match (self.variant, &self.features) {
            (PmVariant::Softmax, None) => obs.copy_from_slice(&self.closes[self.day * n..(self.day + 1) * n]),
            (PmVariant::Softmax, Some(fs)) => {
                let k = fs[0].n_features();
                for f in 0..k {
                    for (a, fm) in fs.iter().enumerate() {
                        obs[f * n + a] = fm.row(self.day)[f];
                    }
                }
            }
            (PmVariant::Eiie, fs) => {
                let ts = self.cfg.time_steps;
                let lo = self.day + 1 - ts;
                let k = fs.as_ref().map_or(1, |f| f[0].n_features());
                for a in 0..n {
                    for (j, day) in (lo..=self.day).enumerate() {
                        for f in 0..k {
                            obs[(a * ts + j) * k + f] = match fs {
                                None => self.closes[day * n + a],
                                Some(fs) => fs[a].row(day)[f],
                            };
                        }
                    }
                }
            }
        }
    }

    fn weights(&self, action: &[f64]) -> Result<Vec<f64>, PmError> {
        let n1 = self.n + 1;
        if action.len() != n1 {
            return Err(PmError::ActionLength { expected: n1, got: action.len() });
        }
        for (index, &value) in action.iter().enumerate() {
            let bad = match self.variant {
                PmVariant::Softmax => value.is_nan() || value == f64::INFINITY,
                PmVariant::Eiie => !value.is_finite(),
            };
            if bad {
                return Err(PmError::BadAction { index, value });
            }
        }
        Ok(match self.variant {
            PmVariant::Eiie => action.to_vec(),
            PmVariant::Softmax => {
                let shift = if self.fixes.stable_softmax {
                    action.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    0.0
                };
                let e: Vec<f64> = action.iter().map(|a| (a - shift).exp()).collect();
                let s = np_sum(&e);
                e.iter().map(|x| x / s).collect()
            }
        })
    }

    /// One call of TradeMaster's `step(action)`: a trading step, or the terminal call (`done`; the softmax variant
    /// returns the previous reward again, EIIE returns 0) once `day >= D - 1`. `obs` receives the next observation.
    pub fn step_into(&mut self, action: &[f64], obs: &mut [f64]) -> Result<Transition, PmError> {
        if self.done {
            return Err(PmError::EpisodeDone);
        }
        let w = self.weights(action)?;
        if self.day >= self.days - 1 {
            self.done = true;
            if self.variant == PmVariant::Eiie {
                self.reward = 0.0;
            }
            self.observe(obs);
            return Ok(Transition { reward: self.reward, done: true, value: self.value });
        }
        let n = self.n;
        let c = self.cfg.transaction_cost_pct;
        let prev = &self.closes[self.day * n..(self.day + 1) * n];
        let now = &self.closes[(self.day + 1) * n..(self.day + 2) * n];
        let mut gross = 0.0;
        let mut drift = Vec::with_capacity(n + 1);
        drift.push(w[0]);
        for i in 0..n {
            let ratio = now[i] / prev[i];
            gross += (ratio - 1.0) * w[i + 1];
            drift.push(w[i + 1] * ratio);
        }
        let total = np_sum(&drift);
        for x in &mut drift {
            *x /= total;
        }
        let skip = usize::from(self.fixes.one_sided_turnover);
        let diffs: Vec<f64> = self.prev_drift.iter().zip(&w).skip(skip).map(|(a, b)| (a - b).abs()).collect();
        let turnover = np_sum(&diffs);
        let fee = turnover * c * self.value;
        let v = self.value;
        let v_new = (v - fee) * (1.0 + gross);
        let ret = (v_new - v) / v;
        self.reward = match self.variant {
            PmVariant::Softmax => v_new - v,
            PmVariant::Eiie => v_new.ln() - v.ln(),
        };
        let decision_day = self.day;
        self.day += 1;
        self.value = v_new;
        if self.keep_records {
            self.asset_memory.push(v_new);
            self.daily_return.push(ret);
            self.records.push(PmStepRecord {
                t: self.t,
                day: decision_day,
                weights: w,
                gross_return: gross,
                weights_after_drift: drift.clone(),
                turnover,
                transaction_fee: fee,
                value_before: v,
                portfolio_value: v_new,
                portfolio_return: ret,
                reward: self.reward,
            });
        }
        self.prev_drift = drift;
        self.t += 1;
        self.observe(obs);
        Ok(Transition { reward: self.reward, done: false, value: v_new })
    }

    /// [`PmEnv::step_into`] returning a fresh observation.
    pub fn step(&mut self, action: &[f64]) -> Result<(Vec<f64>, Transition), PmError> {
        let mut obs = vec![0.0; self.obs_len()];
        let t = self.step_into(action, &mut obs)?;
        Ok((obs, t))
    }

    /// The episode so far.
    pub fn episode(&self) -> PmEpisode {
        PmEpisode {
            steps: self.records.clone(),
            asset_memory: self.asset_memory.clone(),
            daily_return: self.daily_return.clone(),
            metrics: TmEnvMetrics::compute(&self.daily_return, &self.asset_memory),
        }
    }
}

impl Env for PmEnv {
    fn observation_space(&self) -> Space {
        Space::Box { low: f64::NEG_INFINITY, high: f64::INFINITY, shape: self.obs_shape() }
    }

    fn action_space(&self) -> Space {
        match self.variant {
            PmVariant::Softmax => Space::Box { low: -5.0, high: 5.0, shape: vec![self.n + 1] },
            PmVariant::Eiie => Space::Box { low: 0.0, high: 1.0, shape: vec![self.n + 1] },
        }
    }

    fn reset(&mut self, _seed: u64, obs: &mut [f64]) {
        self.restart();
        self.observe(obs);
    }

    fn step(&mut self, action: &[f64], obs: &mut [f64]) -> Result<Transition, EnvError> {
        Ok(self.step_into(action, obs)?)
    }
}

/// Plays one action per step (and a last one for the terminal call, the first action again, which trades nothing)
/// and returns the episode. `actions.len()` must equal [`PmEnv::n_steps`].
pub fn replay(env: &mut PmEnv, actions: &[Vec<f64>]) -> Result<PmEpisode, PmError> {
    if actions.len() != env.n_steps() {
        return Err(PmError::Shape(format!("{} actions for an episode of {} steps", actions.len(), env.n_steps())));
    }
    let mut obs = env.reset();
    for a in actions {
        env.step_into(a, &mut obs)?;
    }
    if let Some(a) = actions.first() {
        env.step_into(a, &mut obs)?;
    }
    Ok(env.episode())
}
