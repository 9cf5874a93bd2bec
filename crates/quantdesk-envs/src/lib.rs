//! Trading environments for strategies that learn (pure: no I/O, no async, no clock, no randomness).
//!
//! - [`trading`]: TradeMaster's algorithmic-trading environment (one asset, discrete actions, its reward with the
//!   hindsight bonus), with every step logged ([`trading::AtEnv`]) or lean for training ([`trading::TradingEnv`]).
//! - [`portfolio`]: TradeMaster's portfolio-management environments, softmax ("ordinary") and EIIE.
//! - [`execution`]: selling a quantity over a horizon, scored against TWAP.
//! - [`features`]: TradeMaster's z-features; [`split`]: train/valid/test splits that never leak.
//! - [`env`]: the gym-like [`Env`] trait with spaces as data, and [`VecEnv`] stepping many copies.
//! - [`metrics`]: TradeMaster's episode metrics with its own definitions; [`numpy`]: numpy's summation order.
//!
//! The TradeMaster-semantics environments reproduce TradeMaster's numbers, bugs included; each bug has a documented
//! fix flag ([`trading::TradingFixes`], [`portfolio::PmFixes`]) that is off by default. The crate README lists them.

pub mod env;
pub mod execution;
pub mod features;
pub mod metrics;
pub mod numpy;
pub mod portfolio;
pub mod split;
pub mod trading;

pub use env::{Env, EnvError, Space, Transition, VecEnv};
