//! The application layer of quantdesk: what the HTTP API, the pages, the command line and the
//! workers all call. It knows no HTTP (no axum, no status codes): services take an explicit
//! actor and return [`AppError`], which each caller maps to its own answer in one place.
//!
//! - [`jobs`]: the typed job catalogue, one kind with its parameters and its result each;
//! - [`clock`]: the one wall clock of the upper floors;
//! - [`error`]: the one error type of the services.

pub mod clock;
pub mod error;
pub mod jobs;

pub use error::AppError;
