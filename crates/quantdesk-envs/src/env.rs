//! The gym-like interface every environment of the crate offers: observation and action spaces as data,
//! `reset(seed)` and `step(action)`, and [`VecEnv`], which steps many copies at once into flat buffers.
//!
//! Observations and actions are `f64` slices so that N copies live in one contiguous buffer: a discrete action is
//! given as its integer value (`2.0`), a vector action as its components.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::execution::ExecError;
use crate::portfolio::PmError;
use crate::trading::AtEnvError;

/// A space, described as data (gym's `Discrete` and `Box`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Space {
    /// The integers `0 .. n`.
    Discrete {
        /// Number of values.
        n: usize,
    },
    /// Real vectors of `shape` (row-major), each component in `low ..= high` (possibly infinite).
    Box {
        /// Lower bound of every component.
        low: f64,
        /// Upper bound of every component.
        high: f64,
        /// The shape; the flat length is the product.
        shape: Vec<usize>,
    },
}

impl Space {
    /// Number of `f64` values one element takes in a flat buffer (1 for a discrete space).
    pub fn flat_len(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { shape, .. } => shape.iter().product(),
        }
    }

    /// Checks `x` against the space: length, finiteness, integrality for `Discrete`. Bounds of a `Box` are
    /// not enforced (TradeMaster does not clip its actions either); NaN never passes.
    pub fn check(&self, x: &[f64]) -> Result<(), EnvError> {
        if x.len() != self.flat_len() {
            return Err(EnvError::ActionLength { expected: self.flat_len(), got: x.len() });
        }
        if let Some(i) = x.iter().position(|v| v.is_nan()) {
            return Err(EnvError::NotANumber { index: i });
        }
        if let Space::Discrete { n } = self {
            let v = x[0];
            if v.fract() != 0.0 || v < 0.0 || v >= *n as f64 {
                return Err(EnvError::DiscreteAction { value: v, n: *n });
            }
        }
        Ok(())
    }
}

/// What a step returns besides the observation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The reward, with the environment's own definition.
    pub reward: f64,
    /// The episode is over (the terminal call has happened).
    pub done: bool,
    /// Portfolio value after the step (`info`).
    pub value: f64,
}

/// Errors of the generic interface.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EnvError {
    /// An action of the wrong length.
    #[error("the action has {got} values; the action space takes {expected}")]
    ActionLength {
        /// Values the space takes.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A NaN in an action.
    #[error("action value {index} is NaN")]
    NotANumber {
        /// Index of the value.
        index: usize,
    },
    /// A discrete action that is not an integer in `0 .. n`.
    #[error("action {value} is not an integer in 0..{n}")]
    DiscreteAction {
        /// The value.
        value: f64,
        /// Size of the space.
        n: usize,
    },
    /// Copies of a [`VecEnv`] with different spaces, or none.
    #[error("vectorised environment: {0}")]
    VecShape(String),
    /// The trading environment refused.
    #[error(transparent)]
    Trading(#[from] AtEnvError),
    /// A portfolio environment refused.
    #[error(transparent)]
    Portfolio(#[from] PmError),
    /// The execution environment refused.
    #[error(transparent)]
    Execution(#[from] ExecError),
}

/// A deterministic environment with gym's shape.
pub trait Env {
    /// The observation space.
    fn observation_space(&self) -> Space;
    /// The action space.
    fn action_space(&self) -> Space;
    /// Starts an episode and writes the first observation into `obs` (`observation_space().flat_len()` values).
    /// The TradeMaster-semantics environments are deterministic and ignore `seed`.
    fn reset(&mut self, seed: u64, obs: &mut [f64]);
    /// One step: checks and applies `action`, writes the next observation into `obs`.
    fn step(&mut self, action: &[f64], obs: &mut [f64]) -> Result<Transition, EnvError>;

    /// [`Env::reset`] returning a fresh observation vector.
    fn reset_vec(&mut self, seed: u64) -> Vec<f64> {
        let mut obs = vec![0.0; self.observation_space().flat_len()];
        self.reset(seed, &mut obs);
        obs
    }

    /// [`Env::step`] returning a fresh observation vector: `(observation, reward, done, info)` in one.
    fn step_vec(&mut self, action: &[f64]) -> Result<(Vec<f64>, Transition), EnvError> {
        let mut obs = vec![0.0; self.observation_space().flat_len()];
        let t = self.step(action, &mut obs)?;
        Ok((obs, t))
    }
}

/// N copies of an environment stepped together; observations, rewards and done flags in flat buffers. A copy whose
/// episode ends is reset at once (its observation is the new episode's first; its `done` flag says it ended), as
/// gym's vector environments do.
#[derive(Debug, Clone)]
pub struct VecEnv<E: Env> {
    envs: Vec<E>,
    obs_len: usize,
    act_len: usize,
    seed: u64,
    episodes: Vec<u64>,
    obs: Vec<f64>,
    rewards: Vec<f64>,
    dones: Vec<bool>,
}

impl<E: Env> VecEnv<E> {
    /// Copies that all have the same spaces (at least one).
    pub fn new(envs: Vec<E>) -> Result<Self, EnvError> {
        let Some(first) = envs.first() else { return Err(EnvError::VecShape("no environments".into())) };
        let (os, asp) = (first.observation_space(), first.action_space());
        if envs.iter().any(|e| e.observation_space() != os || e.action_space() != asp) {
            return Err(EnvError::VecShape("the copies' spaces differ".into()));
        }
        let n = envs.len();
        Ok(Self {
            obs_len: os.flat_len(),
            act_len: asp.flat_len(),
            envs,
            seed: 0,
            episodes: vec![0; n],
            obs: vec![0.0; n * os.flat_len()],
            rewards: vec![0.0; n],
            dones: vec![false; n],
        })
    }

    /// Number of copies.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// Never true (a `VecEnv` has at least one copy).
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Values of one observation.
    pub fn obs_len(&self) -> usize {
        self.obs_len
    }

    /// Values of one action.
    pub fn act_len(&self) -> usize {
        self.act_len
    }

    /// The copies.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// Resets every copy (copy `i` with seed `seed + i`) and returns all observations, copy after copy.
    pub fn reset(&mut self, seed: u64) -> &[f64] {
        self.seed = seed;
        let k = self.obs_len;
        for (i, (env, obs)) in self.envs.iter_mut().zip(self.obs.chunks_exact_mut(k)).enumerate() {
            env.reset(seed.wrapping_add(i as u64), obs);
            self.episodes[i] = 0;
        }
        self.dones.iter_mut().for_each(|d| *d = false);
        &self.obs
    }

    /// Steps every copy with its action (`actions` holds `len() * act_len()` values, copy after copy). On an error
    /// the copies before the failing one have stepped; the error names nothing else.
    pub fn step(&mut self, actions: &[f64]) -> Result<(), EnvError> {
        if actions.len() != self.envs.len() * self.act_len {
            return Err(EnvError::ActionLength { expected: self.envs.len() * self.act_len, got: actions.len() });
        }
        let k = self.obs_len;
        let n_copies = self.envs.len() as u64;
        for (i, ((env, obs), act)) in
            self.envs.iter_mut().zip(self.obs.chunks_exact_mut(k)).zip(actions.chunks_exact(self.act_len)).enumerate()
        {
            let t = env.step(act, obs)?;
            self.rewards[i] = t.reward;
            self.dones[i] = t.done;
            if t.done {
                self.episodes[i] += 1;
                let seed = self.seed.wrapping_add(i as u64).wrapping_add(self.episodes[i].wrapping_mul(n_copies));
                env.reset(seed, obs);
            }
        }
        Ok(())
    }

    /// The observations after the last reset or step, copy after copy.
    pub fn observations(&self) -> &[f64] {
        &self.obs
    }

    /// The rewards of the last step.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }

    /// Which copies ended an episode on the last step (and were reset).
    pub fn dones(&self) -> &[bool] {
        &self.dones
    }
}
