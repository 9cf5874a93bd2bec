//! The one error type of the HTTP layer: JSON `{"error": {"code", "message"}}` with a stable code.
//! Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quantdesk_app::{AppError, ErrorKind};
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
    /// The request field at fault, when one is.
    pub field: Option<String>,
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
    /// The request field at fault, as a dotted path (`params.fast`,
    /// `config.costs.commission_rate`), when the error is about one field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None, field: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 429 with `Retry-After`.
    pub fn rate_limited(wait_ms: i64, message: &str) -> Self {
        AppError::rate_limited(wait_ms, message).into()
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
        let body =
            ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message, field: self.field } };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

impl From<AppError> for ApiError {
    /// The one mapping of the application layer's errors to answers: the kind decides the
    /// status; the code, the message and when to retry are kept. Internal errors are logged
    /// and answered without their details.
    fn from(e: AppError) -> Self {
        let status = match e.kind() {
            ErrorKind::Malformed => StatusCode::BAD_REQUEST,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => return ApiError::internal(e.message()),
        };
        let (code, retry_after, field) = (e.code(), e.retry_after_secs(), e.field().map(str::to_string));
        ApiError { status, code, message: e.into_message(), retry_after, field }
    }
}

impl From<quantdesk_store::StoreError> for ApiError {
    /// A missing row is a 404 and a broken unique key (a concurrent writer) a 409; the database's
    /// own words are logged, never shown (`AppError`'s reading of store errors).
    fn from(e: quantdesk_store::StoreError) -> Self {
        AppError::from(e).into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_errors_keep_their_code_and_message_and_get_the_status_of_their_kind() {
        let cases = [
            (AppError::malformed("m").with_code("weak_password"), 400, "weak_password"),
            (AppError::invalid("m").with_code("weak_password"), 422, "weak_password"),
            (AppError::invalid("m").with_code("invalid_code"), 422, "invalid_code"),
            (AppError::unauthenticated("m").with_code("invalid_credentials"), 401, "invalid_credentials"),
            (AppError::invalid("m").with_code("invalid_credentials"), 422, "invalid_credentials"),
            (AppError::forbidden("m").with_code("unverified"), 403, "unverified"),
            (AppError::forbidden("m").with_code("account_disabled"), 403, "account_disabled"),
            (AppError::forbidden("m"), 403, "forbidden"),
            (AppError::not_found("m"), 404, "not_found"),
            (AppError::conflict("m"), 409, "conflict"),
            (AppError::malformed("m"), 400, "bad_request"),
            (AppError::unavailable("m"), 503, "unavailable"),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code, a.message.as_str(), a.retry_after), (status, code, "m", None));
        }
        let a = ApiError::from(AppError::rate_limited(4_500, "too many failed sign-in attempts"));
        assert_eq!((a.status.as_u16(), a.code, a.retry_after), (429, "rate_limited", Some(5)));
        assert_eq!(a.message, "too many failed sign-in attempts; try again in 5 s");
        let a = ApiError::from(AppError::internal("the database is on fire"));
        assert_eq!((a.status.as_u16(), a.code), (500, "internal"));
        assert!(!a.message.contains("fire"), "internal details stay in the log: {}", a.message);
    }
}
