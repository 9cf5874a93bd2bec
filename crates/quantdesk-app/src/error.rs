//! The one error type of the application layer. It says what kind of failure happened and gives
//! it a stable code, never how to answer it: the HTTP layer maps each kind to a status in one
//! place (`quantdesk-server`'s `error.rs`), the command line prints the message, the workers
//! treat [`AppError::is_transient`] failures as retryable.

/// What kind of failure it is. The HTTP layer answers each kind with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed: it breaks a rule its schema states (a type, a range, a length,
    /// a pattern, a known value). HTTP 400.
    Malformed,
    /// The request is well-formed but a rule only the service can judge refuses it (a wrong
    /// code, a common password, parameters that do not fit their job kind). HTTP 422.
    Invalid,
    /// Who is asking could not be established (wrong or missing credentials). HTTP 401.
    Unauthenticated,
    /// The actor may not do this. HTTP 403.
    Forbidden,
    /// The object does not exist, or the actor may not see it (the same answer for both). HTTP 404.
    NotFound,
    /// The object is not in a state that allows this (someone else wrote first, one cannot
    /// demote oneself). HTTP 409.
    Conflict,
    /// A limit is reached; [`AppError::retry_after_ms`] tells when trying again may succeed. HTTP 429.
    QuotaExceeded,
    /// Something the service needs is not there now (a database, a mail server). HTTP 503.
    Unavailable,
    /// A bug or a broken invariant; the message is for the log, not for people. HTTP 500.
    Internal,
}

impl ErrorKind {
    /// The code of an error of this kind that names nothing more specific.
    pub fn default_code(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "bad_request",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::QuotaExceeded => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// Why a service did not do what it was asked: a kind, a stable machine-readable code (the kind's
/// own, or a more specific one such as `weak_password` or `invalid_code` that clients and the
/// pages tell apart), a sentence for people and, for limits, when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    kind: ErrorKind,
    code: &'static str,
    message: String,
    retry_after_ms: Option<i64>,
    field: Option<String>,
}

impl AppError {
    /// An error of `kind` with the kind's own code.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError { kind, code: kind.default_code(), message: message.into(), retry_after_ms: None, field: None }
    }

    /// The same error with a more specific stable code (`weak_password`, `invalid_code`, …).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error naming the request field at fault (a dotted path such as
    /// `params.fast` or `config.costs.commission_rate`), so a form can show it by the field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// The request field at fault, when one is.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// A request that breaks a rule its schema states (400 `bad_request`).
    pub fn malformed(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, m)
    }
    /// A well-formed request refused by a rule (422).
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, m)
    }
    pub fn unauthenticated(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, m)
    }
    /// Too many attempts: `rate_limited`, retry after `wait_ms` (the message says when, in
    /// whole seconds rounded up).
    pub fn rate_limited(wait_ms: i64, what: &str) -> Self {
        let secs = wait_secs(wait_ms);
        AppError {
            retry_after_ms: Some(wait_ms),
            ..Self::new(ErrorKind::QuotaExceeded, format!("{what}; try again in {secs} s"))
        }
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, m)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, e.to_string())
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// Stable and machine-readable; what the HTTP API sends as `error.code`.
    pub fn code(&self) -> &'static str {
        self.code
    }
    /// For people; for [`ErrorKind::Internal`], for the log only.
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn into_message(self) -> String {
        self.message
    }
    /// When trying again may succeed, in milliseconds from now.
    pub fn retry_after_ms(&self) -> Option<i64> {
        self.retry_after_ms
    }
    /// [`AppError::retry_after_ms`] in whole seconds, rounded up, at least 1 (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_ms.map(|ms| wait_secs(ms).unsigned_abs())
    }

    /// True when trying again later may succeed by itself (a worker retries these).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::Internal | ErrorKind::QuotaExceeded)
    }
}

fn wait_secs(wait_ms: i64) -> i64 {
    (wait_ms.saturating_add(999) / 1000).max(1)
}

impl From<quantdesk_store::StoreError> for AppError {
    /// A missing row is [`ErrorKind::NotFound`] and a broken unique or foreign key (a concurrent
    /// writer) a [`ErrorKind::Conflict`], both without the database's own words (they are
    /// logged); anything else is internal.
    fn from(e: quantdesk_store::StoreError) -> Self {
        if e.is_not_found() {
            tracing::debug!(error = %e, "not found in the store");
            AppError::not_found("not found")
        } else if e.is_conflict() {
            tracing::info!(error = %e, "store conflict");
            AppError::conflict("the change conflicts with stored data; reload and try again")
        } else {
            AppError::internal(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_and_specific_codes_replace_it() {
        let kinds = [
            (ErrorKind::Malformed, "bad_request"),
            (ErrorKind::Invalid, "invalid"),
            (ErrorKind::Unauthenticated, "unauthenticated"),
            (ErrorKind::Forbidden, "forbidden"),
            (ErrorKind::NotFound, "not_found"),
            (ErrorKind::Conflict, "conflict"),
            (ErrorKind::QuotaExceeded, "rate_limited"),
            (ErrorKind::Unavailable, "unavailable"),
            (ErrorKind::Internal, "internal"),
        ];
        for (kind, code) in kinds {
            let e = AppError::new(kind, "m");
            assert_eq!((e.kind(), e.code(), e.message()), (kind, code, "m"));
        }
        let e = AppError::invalid("the code is wrong").with_code("invalid_code");
        assert_eq!((e.kind(), e.code()), (ErrorKind::Invalid, "invalid_code"));
        assert_eq!(e.to_string(), "the code is wrong", "Display is the message");
        assert_eq!(AppError::malformed("x").code(), "bad_request");
        assert_eq!(AppError::not_found("x").kind(), ErrorKind::NotFound);
    }

    #[test]
    fn limits_say_when_to_try_again_in_whole_seconds() {
        let e = AppError::rate_limited(1_001, "too many codes");
        assert_eq!((e.kind(), e.code()), (ErrorKind::QuotaExceeded, "rate_limited"));
        assert_eq!(e.message(), "too many codes; try again in 2 s");
        assert_eq!((e.retry_after_ms(), e.retry_after_secs()), (Some(1_001), Some(2)));
        assert_eq!(AppError::rate_limited(1, "x").retry_after_secs(), Some(1), "at least a second");
        assert_eq!(AppError::rate_limited(60_000, "x").retry_after_secs(), Some(60));
        assert_eq!(AppError::invalid("x").retry_after_secs(), None);
        assert!(e.is_transient() && AppError::internal("x").is_transient());
        assert!(!AppError::invalid("x").is_transient() && !AppError::forbidden("x").is_transient());
    }

    #[test]
    fn store_errors_become_kinds_without_the_databases_words() {
        let e = AppError::from(quantdesk_store::StoreError::NotFound("no such row".into()));
        assert_eq!((e.kind(), e.code(), e.message()), (ErrorKind::NotFound, "not_found", "not found"));
        let e = AppError::from(quantdesk_store::StoreError::Conflict("UNIQUE constraint failed: users.email".into()));
        assert_eq!((e.kind(), e.code()), (ErrorKind::Conflict, "conflict"));
        assert!(!e.message().contains("UNIQUE"), "{e}");
        let e = AppError::from(quantdesk_store::StoreError::Corrupt("role \"x\"".into()));
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
