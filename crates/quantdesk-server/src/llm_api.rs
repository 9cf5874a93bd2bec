//! LLM providers over HTTP, for admins: `/api/v1/admin/llm/providers` (list, create), `…/{id}`
//! (read, change, delete), `…/order` (the fallback order), `…/{id}/test` (a connection test).
//! Keys go in and never come out (`has_key`, `key_last4`); the service is `quantdesk_app::llm`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use quantdesk_app::llm::{ProviderInput, ProviderList, ProviderView, TestResult};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/admin/llm/providers", get(list).post(create))
        .route("/admin/llm/providers/order", put(set_order))
        .route("/admin/llm/providers/{id}", get(get_one).put(update).patch(update).delete(remove))
        .route("/admin/llm/providers/{id}/test", post(test))
}

/// The fallback order: every provider's id once, the default first.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProviderOrder {
    #[schema(max_items = 1000)]
    pub ids: Vec<i64>,
}

/// Every stored provider in the fallback order (keys never shown), the provider from
/// configuration, whether keys can be stored and whether reports would be written offline, and
/// the presets' base URLs.
#[utoipa::path(get, path = "/api/v1/admin/llm/providers", tag = "admin",
    responses((status = 200, body = ProviderList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, p: Principal) -> Result<Json<ProviderList>, ApiError> {
    Ok(Json(state.llm.list(&p).await?))
}

/// Adds a provider at the end of the fallback order (`default: true` puts it first). `name`,
/// `model` and `base_url` or `preset` are needed; the key is stored encrypted, which needs
/// `llm_secret_key` in the configuration (422 `llm_secret_key_unset` otherwise).
#[utoipa::path(post, path = "/api/v1/admin/llm/providers", tag = "admin", request_body = ProviderInput,
    responses((status = 201, body = ProviderView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "the name is taken (`name_taken`)"),
        (status = 422, body = ErrorBody, description = "`invalid_params` (the field is named) or `llm_secret_key_unset`")))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(input): ApiJson<ProviderInput>,
) -> Result<(StatusCode, Json<ProviderView>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.llm.create(&p, &input).await?)))
}

/// One provider (never its key).
#[utoipa::path(get, path = "/api/v1/admin/llm/providers/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = ProviderView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(state.llm.get(&p, id).await?))
}

/// Changes the fields given (PUT and PATCH alike); `api_key: ""` removes the key, `default: true`
/// puts the provider first.
#[utoipa::path(method(put, patch), path = "/api/v1/admin/llm/providers/{id}", tag = "admin", params(("id" = i64, Path)), request_body = ProviderInput,
    responses((status = 200, body = ProviderView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the name is taken"),
        (status = 422, body = ErrorBody, description = "`invalid_params` or `llm_secret_key_unset`")))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ProviderInput>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(state.llm.update(&p, id, &input).await?))
}

/// Deletes a provider.
#[utoipa::path(delete, path = "/api/v1/admin/llm/providers/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.llm.delete(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the fallback order; the first is the default.
#[utoipa::path(put, path = "/api/v1/admin/llm/providers/order", tag = "admin", request_body = ProviderOrder,
    responses((status = 200, body = Vec<ProviderView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "`invalid_params`: not every provider once")))]
pub async fn set_order(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(order): ApiJson<ProviderOrder>,
) -> Result<Json<Vec<ProviderView>>, ApiError> {
    Ok(Json(state.llm.set_order(&p, &order.ids).await?))
}

/// Tests a provider with a tiny completion (no retries): `ok`, the model that answered and the
/// latency, or the error's code and words. A failing provider is a 200 with `ok: false`.
#[utoipa::path(post, path = "/api/v1/admin/llm/providers/{id}/test", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = TestResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`llm_key_unreadable`: llm_secret_key changed since the key was stored")))]
pub async fn test(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(state.llm.test_connection(&p, id).await?))
}
