//! The one error type of the application layer. It says what kind of failure happened, never how
//! to answer it: the HTTP layer maps each kind to a status and a stable code in one place, the
//! command line to a message and an exit status, the workers to a permanent or transient failure.

/// Why a service did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The object does not exist, or the actor may not see it (the same answer for both).
    #[error("{0}")]
    NotFound(String),
    /// The request breaks a rule (a parameter out of range, a file with a bad line…).
    #[error("{0}")]
    Invalid(String),
    /// The object is not in a state that allows this (a job still running, a key already used).
    #[error("{0}")]
    Conflict(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A limit is reached; `retry_after_ms` tells when trying again may succeed.
    #[error("{message}")]
    QuotaExceeded { message: String, retry_after_ms: Option<i64> },
    /// Something the service needs is not there now (a database, a mail server, a worker pool).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or a broken invariant; the detail is for the log, not for people.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(m: impl Into<String>) -> Self {
        AppError::Invalid(m.into())
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        AppError::NotFound(m.into())
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    /// True when trying again later may succeed by itself (a worker retries these).
    pub fn is_transient(&self) -> bool {
        matches!(self, AppError::Unavailable(_) | AppError::Internal(_) | AppError::QuotaExceeded { .. })
    }
}
