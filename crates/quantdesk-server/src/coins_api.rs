//! Coins over HTTP: the caller's balance and ledger, the daily check-in, and an administrator's
//! adjustment of a user's coins. The services are the application layer's
//! (`quantdesk_app::coins`); every signed-in caller may use their own coins (`auth::need`).

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use quantdesk_app::coins::{Balance, CheckIn, LedgerItem, LedgerPage};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{ClientIp, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Paging};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/coins", get(balance))
        .route("/coins/ledger", get(ledger))
        .route("/coins/check-in", post(check_in))
        .route("/admin/users/{id}/coins", post(adjust))
}

/// The caller's coins: available, frozen by operations in progress, and the check-in state.
#[utoipa::path(get, path = "/api/v1/coins", tag = "coins",
    responses((status = 200, body = Balance), (status = 401, body = ErrorBody)))]
pub async fn balance(State(state): State<AppState>, p: Principal) -> Result<Json<Balance>, ApiError> {
    Ok(Json(state.coins.balance(&p).await?))
}

/// The caller's ledger, newest first: every change of their coins with the balances before and
/// after it.
#[utoipa::path(get, path = "/api/v1/coins/ledger", tag = "coins", params(Paging),
    responses((status = 200, body = LedgerPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn ledger(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<Paging>,
) -> Result<Json<LedgerPage>, ApiError> {
    let (limit, offset) = q.resolve()?;
    Ok(Json(state.coins.ledger(&p, limit, offset).await?))
}

/// Today's check-in: `20 + min(2 × streak, 50)` coins by default, where the streak counts the
/// consecutive days before today with a check-in, once per calendar day in the caller's time
/// zone (the `time_zone` preference, else Asia/Shanghai). A second check-in on the same day
/// changes nothing and answers `already: true`.
#[utoipa::path(post, path = "/api/v1/coins/check-in", tag = "coins",
    responses((status = 200, body = CheckIn), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn check_in(State(state): State<AppState>, p: Principal) -> Result<Json<CheckIn>, ApiError> {
    Ok(Json(state.coins.check_in(&p).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CoinAdjustment {
    /// Coins to add (negative: to take; never below zero), not 0.
    #[schema(minimum = -1000000000, maximum = 1000000000)]
    pub amount: i64,
    /// Why, for the ledger and the audit log.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// Makes a retried request change nothing the second time.
    #[schema(min_length = 1, max_length = 100)]
    pub idempotency_key: Option<String>,
}

/// Adjust a user's available coins (admins), with a reason; audited as `coins_adjusted`.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/coins", tag = "admin", params(("id" = i64, Path)), request_body = CoinAdjustment,
    responses((status = 200, body = LedgerItem), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The user has fewer coins than the adjustment takes (`insufficient_coins`), or the idempotency key was used for another adjustment", body = ErrorBody),
        (status = 422, description = "A zero amount or a blank reason (`invalid_params`)", body = ErrorBody)))]
pub async fn adjust(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(a): ApiJson<CoinAdjustment>,
) -> Result<Json<LedgerItem>, ApiError> {
    let key_len = a.idempotency_key.as_deref().map_or(1, |k| k.chars().count());
    if a.amount.unsigned_abs() > 1_000_000_000
        || a.reason.is_empty()
        || a.reason.chars().count() > 500
        || !(1..=100).contains(&key_len)
    {
        return Err(ApiError::bad_request(
            "amount must be within ±1000000000, reason 1 to 500 characters, idempotency_key 1 to 100",
        ));
    }
    Ok(Json(state.coins.adjust(&p, &ip, id, a.amount, &a.reason, a.idempotency_key.as_deref()).await?))
}
