//! The pure core of quantdesk: market-data vocabulary and the computations on it.
//!
//! Nothing in this crate performs I/O, reads a clock or spawns a task. Every function is
//! deterministic: the same inputs give the same outputs, which is what lets the storage,
//! the HTTP layer and the tests all lean on it.

pub mod adjust;
pub mod bar;
pub mod demo;
pub mod financials;
pub mod indicators;
pub mod instant;
pub mod instrument;
pub mod quality;
pub mod resample;
pub mod resolution;
pub mod rng;
pub mod session;
pub mod symbol;

pub use adjust::{AdjFactor, Adjustment};
pub use bar::Bar;
pub use financials::{Statement, StatementRow};
pub use instrument::{Instrument, InstrumentKind};
pub use resolution::Resolution;
pub use session::Session;
pub use symbol::Symbol;

/// An error from validating a domain value. The message is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);
