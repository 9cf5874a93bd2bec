//! The commands, one module per group, and what they share. `main.rs` parses and dispatches.

pub mod accounts;
pub mod backtest;
pub mod backup;
pub mod chan;
pub mod common;
pub mod data;
pub mod env;
pub mod import;
pub mod ledger;
pub mod ops;
pub mod options;
pub mod regimes;
pub mod report;
pub mod schedule;
pub mod series;
pub mod serve;
pub mod sync;
pub mod valuate;
