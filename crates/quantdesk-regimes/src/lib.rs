//! Market dynamics: TradeMaster's slice-and-merge regime labeling and its regime-conditioned
//! evaluation ("dynamics test") with radar scores. Pure: no I/O, no clock, no randomness beyond
//! fixed seeds.
//!
//! - [`labeling`]: the filter, the segmentation, the merges and the labels.
//! - [`radar`]: per-run metrics with TradeMaster's definitions and the radar scores.

pub mod labeling;
pub mod radar;

/// TradeMaster's algorithmic-trading environment, which lives in the pure `quantdesk-envs` crate (`trading`).
pub use quantdesk_envs::trading as at_env;
