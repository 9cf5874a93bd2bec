//! The one error type of the HTTP layer: JSON `{"error": {"code", "message"}}` with a stable code.
//! Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable: `bad_request`, `not_found`, `payload_too_large`, `invalid_file`, `internal`, …
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Seconds to wait before trying again (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 429 with `Retry-After`.
    pub fn rate_limited(wait_ms: i64, message: &str) -> Self {
        let secs = ((wait_ms + 999) / 1000).max(1);
        ApiError {
            retry_after: Some(secs as u64),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("{message}; try again in {secs} s"))
        }
    }
    /// A failure whose details go to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred; it has been logged")
    }
}

impl ApiError {
    /// The response for a panic caught by the server; the panic itself was logged by the hook.
    pub fn into_response_logged(self) -> Response {
        tracing::error!("a request handler panicked");
        self.into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

impl From<quantdesk_store::StoreError> for ApiError {
    /// A missing row is a 404 and a broken unique key (a concurrent writer) a 409; the database's
    /// own words are logged, never shown.
    fn from(e: quantdesk_store::StoreError) -> Self {
        if e.is_not_found() {
            tracing::debug!(error = %e, "not found in the store");
            ApiError::not_found("not found")
        } else if e.is_conflict() {
            tracing::info!(error = %e, "store conflict");
            ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the change conflicts with stored data; reload and try again",
            )
        } else {
            ApiError::internal(e)
        }
    }
}

impl From<quantdesk_ingest::ImportError> for ApiError {
    fn from(e: quantdesk_ingest::ImportError) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", e.to_string())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> Self {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload_too_large", "the upload is larger than this server accepts")
        } else {
            ApiError::bad_request(format!("the upload could not be read: {}", e.body_text()))
        }
    }
}

impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(e: axum::extract::multipart::MultipartRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}
