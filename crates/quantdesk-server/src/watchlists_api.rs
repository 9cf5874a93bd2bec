//! Watchlists over HTTP (`/api/v1/watchlists`): each user's named lists of symbols, with the last
//! price and change of each symbol. The rules are the application layer's
//! (`quantdesk_app::watchlists`): reading needs the `read` scope, changing the `jobs` scope (as
//! every other change of one's own objects); someone else's list is a 404, as a missing one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use quantdesk_app::watchlists::{WatchItemInput, WatchOrder, WatchlistDetail, WatchlistDto, WatchlistName};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/watchlists", get(list).post(create))
        .route("/watchlists/{id}", get(get_one).put(rename).delete(remove_list))
        .route("/watchlists/{id}/items", axum::routing::post(add_item).put(reorder))
        .route("/watchlists/{id}/items/{symbol}", delete(remove_item))
}

/// The caller's watchlists, the default first (made on the first call), with how many symbols
/// each holds and may hold.
#[utoipa::path(get, path = "/api/v1/watchlists", tag = "watchlists",
    responses((status = 200, body = [WatchlistDto])))]
pub async fn list(State(state): State<AppState>, p: Principal) -> Result<Json<Vec<WatchlistDto>>, ApiError> {
    Ok(Json(state.watchlists().list(&p).await?))
}

/// Create a watchlist: a name unique among the caller's. A name in use is a 409
/// `watchlist_exists`; a blank name or one with control characters a 422 `invalid_params`; more
/// lists than the configured `max_lists` (the default counts) a 422 `too_many_watchlists`.
#[utoipa::path(post, path = "/api/v1/watchlists", tag = "watchlists", request_body = WatchlistName,
    responses((status = 201, body = WatchlistDto), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the caller has a watchlist of that name (`watchlist_exists`)"),
        (status = 422, body = ErrorBody, description = "`invalid_params` or `too_many_watchlists`")))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<WatchlistName>,
) -> Result<Response, ApiError> {
    let w = state.watchlists().create(&p, &body).await?;
    Ok((StatusCode::CREATED, Json(w)).into_response())
}

/// One of the caller's watchlists with its symbols in order, each with its name and last price
/// (the stored last daily bar, or a newer live quote when configured).
#[utoipa::path(get, path = "/api/v1/watchlists/{id}", tag = "watchlists",
    params(("id" = i64, Path, description = "The watchlist's id")),
    responses((status = 200, body = WatchlistDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such watchlist of the caller's (`watchlist_not_found`)")))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WatchlistDetail>, ApiError> {
    Ok(Json(state.watchlists().get(&p, id).await?))
}

/// Rename one of the caller's watchlists (the default too).
#[utoipa::path(put, path = "/api/v1/watchlists/{id}", tag = "watchlists", request_body = WatchlistName,
    params(("id" = i64, Path, description = "The watchlist's id")),
    responses((status = 200, body = WatchlistDto), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`watchlist_not_found`"),
        (status = 409, body = ErrorBody, description = "another watchlist of the caller's has that name (`watchlist_exists`)"),
        (status = 422, body = ErrorBody, description = "`invalid_params`")))]
pub async fn rename(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WatchlistName>,
) -> Result<Json<WatchlistDto>, ApiError> {
    Ok(Json(state.watchlists().rename(&p, id, &body).await?))
}

/// Delete one of the caller's watchlists with its symbols. The default list cannot be deleted
/// (422 `default_watchlist`).
#[utoipa::path(delete, path = "/api/v1/watchlists/{id}", tag = "watchlists",
    params(("id" = i64, Path, description = "The watchlist's id")),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`watchlist_not_found`"),
        (status = 422, body = ErrorBody, description = "the default list (`default_watchlist`)")))]
pub async fn remove_list(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.watchlists().delete(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a stored symbol at the end of one of the caller's watchlists; answers the list. A symbol
/// that does not parse is a 422 `invalid_params`, one that is not stored a 422 `unknown_symbol`,
/// one already there a 409 `already_in_watchlist`, and a full list (the plan's limit, 20 symbols
/// on the free plan by default) a 422 `watchlist_full`.
#[utoipa::path(post, path = "/api/v1/watchlists/{id}/items", tag = "watchlists", request_body = WatchItemInput,
    params(("id" = i64, Path, description = "The watchlist's id")),
    responses((status = 201, body = WatchlistDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`watchlist_not_found`"),
        (status = 409, body = ErrorBody, description = "`already_in_watchlist`"),
        (status = 422, body = ErrorBody, description = "`invalid_params`, `unknown_symbol` or `watchlist_full`")))]
pub async fn add_item(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WatchItemInput>,
) -> Result<Response, ApiError> {
    let w = state.watchlists();
    w.add(&p, id, &body).await?;
    Ok((StatusCode::CREATED, Json(w.get(&p, id).await?)).into_response())
}

/// Put one of the caller's watchlists in a new order: `symbols` must be exactly the list's
/// symbols, each once (422 `invalid_params` otherwise); answers the list.
#[utoipa::path(put, path = "/api/v1/watchlists/{id}/items", tag = "watchlists", request_body = WatchOrder,
    params(("id" = i64, Path, description = "The watchlist's id")),
    responses((status = 200, body = WatchlistDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`watchlist_not_found`"),
        (status = 422, body = ErrorBody, description = "`invalid_params`")))]
pub async fn reorder(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WatchOrder>,
) -> Result<Json<WatchlistDetail>, ApiError> {
    let w = state.watchlists();
    w.reorder(&p, id, &body).await?;
    Ok(Json(w.get(&p, id).await?))
}

/// Remove a symbol from one of the caller's watchlists.
#[utoipa::path(delete, path = "/api/v1/watchlists/{id}/items/{symbol}", tag = "watchlists",
    params(("id" = i64, Path, description = "The watchlist's id"), ("symbol" = String, Path, description = "The symbol to remove")),
    responses((status = 204, description = "removed"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`watchlist_not_found`, or the symbol is not in the list (`not_in_watchlist`)")))]
pub async fn remove_item(
    State(state): State<AppState>,
    p: Principal,
    ApiPath((id, symbol)): ApiPath<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    state.watchlists().remove(&p, id, &symbol).await?;
    Ok(StatusCode::NO_CONTENT)
}
