//! Extractors whose failures are JSON [`ApiError`]s: every API module takes its path, query, body
//! and uploads through these, so a malformed request answers the same way everywhere. They live
//! apart from the API modules so that none of those imports another.

use axum::extract::{FromRequest, FromRequestParts, Multipart, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(req, state).await.map(ApiMultipart).map_err(ApiError::from)
    }
}

pub struct ApiQuery<T>(pub T);

/// `543.0` is an integer to JSON Schema; make it one to serde too.
fn integral_floats(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats),
        _ => {}
    }
}

/// Path parameters; a value of the wrong type is a JSON 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(ApiError::from)
    }
}

/// A JSON body; anything unreadable is a 400 with serde's explanation.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                e.status(),
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    "payload_too_large"
                } else {
                    "bad_request"
                },
                e.body_text(),
            )
        })?;
        let mut value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        integral_floats(&mut value);
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| ApiError::bad_request(format!("the body is not valid: {e}")))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| ApiQuery(v)).map_err(ApiError::from)
    }
}

/// A symbol from a path: 400 when it breaks the documented pattern, 404 when it matches the
/// pattern but names no possible instrument.
pub(crate) fn path_symbol(raw: &str) -> Result<quantdesk_core::Symbol, ApiError> {
    if !quantdesk_core::Symbol::is_well_formed(raw) {
        return Err(ApiError::bad_request(format!(
            "{raw:?} is not a symbol: 1 to 32 letters, digits or . _ - ^ = &, starting with a letter, a digit or ^"
        )));
    }
    quantdesk_app::market::parse_symbol(raw).map_err(|_| ApiError::not_found(format!("no instrument {raw}")))
}

/// An instant parameter (`from`, `to`, `until`): Unix seconds, an RFC 3339 time or a date, which
/// is its 00:00 UTC ([`quantdesk_core::instant::parse_instant`]).
pub(crate) fn parse_instant(name: &str, raw: &str) -> Result<i64, ApiError> {
    quantdesk_core::instant::parse_instant(raw).map_err(|e| bad_instant(name, e))
}

fn bad_instant(name: &str, e: quantdesk_core::instant::NotAnInstant) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "bad_instant",
        format!("{name} must be Unix seconds, a date (YYYY-MM-DD) or an RFC 3339 time, got {:?}", e.0),
    )
}

/// The exclusive end of a range (`to`): a date includes that whole day (the next day's 00:00
/// UTC); Unix seconds or an RFC 3339 time is the end itself
/// ([`quantdesk_core::instant::parse_range_end`]).
pub(crate) fn parse_range_end(name: &str, raw: &str) -> Result<i64, ApiError> {
    quantdesk_core::instant::parse_range_end(raw).map_err(|e| bad_instant(name, e))
}

/// `limit` and `offset` of a paged list (the coin ledger, orders).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Rows per page, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Rows to skip (0), at most 1000000.
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u32>,
}

impl Paging {
    /// (limit, offset) with their defaults; out of range is a 400, as the schema says.
    pub fn resolve(&self) -> Result<(u32, u32), ApiError> {
        let (limit, offset) = (self.limit.unwrap_or(50), self.offset.unwrap_or(0));
        if !(1..=200).contains(&limit) || offset > 1_000_000 {
            return Err(ApiError::bad_request("limit must be 1 to 200 and offset at most 1000000"));
        }
        Ok((limit, offset))
    }
}
