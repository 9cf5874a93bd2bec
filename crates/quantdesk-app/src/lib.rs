//! The application layer of quantdesk: what the HTTP API, the pages, the command line and the
//! workers all call. It knows no HTTP (no axum, no status codes): services take an explicit
//! actor and return [`AppError`], which each caller maps to its own answer in one place.
//!
//! - [`accounts`]: account operations (sign-up, login, passwords, API keys, users), the actor
//!   they act for, password and token hashing, the abuse counters and the mailer;
//! - [`coins`]: the coin ledger: balances, the daily check-in, reservations of an operation's
//!   cost, administrators' adjustments and re-deriving every balance;
//! - [`payments`]: coin packages, orders and the payment providers' signed notifications;
//! - [`market`]: reading stored bars at any resolution and adjustment, streaming imports, through
//!   the block cache of stored bars ([`blocks`]);
//! - [`chan`]: Chan-theory analysis of stored bars and its one model for every surface;
//! - [`financials`]: financial statements as of a date, and their CSV import;
//! - [`quality`]: data-quality checks of stored series and statements, and source comparison;
//! - [`quotes`]: the freshest price, stored or live;
//! - [`sync`]: fetching market data, statements, the master and the calendar from outside
//!   sources (`quantdesk-connectors`) into the store;
//! - [`screener`]: filtering every symbol's latest `daily_basic` row with its instrument;
//! - [`llm`]: LLM providers (stored with encrypted keys, or configured), their fallback order,
//!   the connection test and the providers a report calls (`quantdesk-llm`);
//! - [`reports`]: grounded research reports: the context of facts with ids, prompt templates,
//!   the offline writer, the citation check and the sanitised rendering;
//! - [`valuation`]: the DCF of a stored company as of a date (`quantdesk-valuation`);
//! - [`watchlists`]: each user's named lists of symbols, their rules and limits
//!   (`watchlist_limit`);
//! - [`demo`]: loading the deterministic demo market;
//! - [`jobs`]: the typed job catalogue, one kind with its parameters and its result each;
//! - [`config`]: configuration in layers (defaults, TOML, `QUANTDESK_*` variables, flags);
//! - [`clock`]: the one wall clock of the upper floors;
//! - [`error`]: the one error type of the services.

pub mod accounts;
pub mod blocks;
pub mod chan;
pub mod clock;
pub mod coins;
pub mod config;
pub mod demo;
pub mod error;
pub mod financials;
pub mod jobs;
pub mod llm;
pub mod market;
pub mod payments;
pub mod png;
pub mod quality;
pub mod quotes;
pub mod regimes;
pub mod reports;
pub mod scenarios;
pub mod screener;
pub mod sync;
pub mod trademaster;
pub mod valuation;
pub mod watchlists;

/// The version of quantdesk, recorded in backups and shown by `/version` and the metrics.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::{AppError, ErrorKind};
