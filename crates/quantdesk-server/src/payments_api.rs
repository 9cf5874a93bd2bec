//! Packages, orders and payment webhooks over HTTP. The services are the application layer's
//! (`quantdesk_app::payments`). Orders are every signed-in caller's own; the Stripe webhook is
//! public (`auth::PUBLIC`): its `Stripe-Signature` is its credential, and a bad, missing or stale
//! one is 403 `bad_signature`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use quantdesk_app::payments::{OrderDto, PackageDto};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Paging};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/coins/packages", get(packages))
        .route("/admin/coins/packages", get(all_packages))
        .route("/admin/coins/packages/{id}", put(put_package))
        .route("/orders", post(create_order).get(list_orders))
        .route("/orders/{order_no}", get(get_order))
        .route("/orders/{order_no}/cancel", post(cancel_order))
        .route("/orders/{order_no}/mock-pay", post(mock_pay))
        .route("/payments/webhook/stripe", post(stripe_webhook))
}

/// The packages on offer: coins for an exact price in CNY.
#[utoipa::path(get, path = "/api/v1/coins/packages", tag = "coins",
    responses((status = 200, body = Vec<PackageDto>), (status = 401, body = ErrorBody)))]
pub async fn packages(State(state): State<AppState>, _p: Principal) -> Result<Json<Vec<PackageDto>>, ApiError> {
    Ok(Json(state.payments.packages(false).await?))
}

/// Every package, on offer or not (admins).
#[utoipa::path(get, path = "/api/v1/admin/coins/packages", tag = "admin",
    responses((status = 200, body = Vec<PackageDto>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn all_packages(State(state): State<AppState>) -> Result<Json<Vec<PackageDto>>, ApiError> {
    Ok(Json(state.payments.packages(true).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PackageInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(minimum = 1, maximum = 100000000)]
    pub coins: i64,
    /// The price in fen (0.01 CNY), exact.
    #[schema(minimum = 1, maximum = 100000000)]
    pub price_fen: i64,
    /// On offer (true).
    pub active: Option<bool>,
    /// Order in the list (0).
    #[schema(minimum = -1000000, maximum = 1000000)]
    pub sort: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PackageId {
    /// Letters, digits, `-` and `_`, 1 to 40.
    #[param(pattern = "^[A-Za-z0-9_-]{1,40}$")]
    pub id: String,
}

/// Create or change a package (admins). Orders keep the coins and price they were made with.
#[utoipa::path(put, path = "/api/v1/admin/coins/packages/{id}", tag = "admin", params(PackageId), request_body = PackageInput,
    responses((status = 200, body = PackageDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "A blank name (`invalid_params`)", body = ErrorBody)))]
pub async fn put_package(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<PackageInput>,
) -> Result<Json<PackageDto>, ApiError> {
    let id_ok = (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let sort = input.sort.unwrap_or(0);
    if !id_ok
        || input.name.is_empty()
        || input.name.chars().count() > 100
        || !(1..=100_000_000).contains(&input.coins)
        || !(1..=100_000_000).contains(&input.price_fen)
        || !(-1_000_000..=1_000_000).contains(&sort)
    {
        return Err(ApiError::bad_request(
            "id: 1 to 40 letters, digits, - or _; name 1 to 100 characters; coins and price_fen 1 to 100000000",
        ));
    }
    let active = input.active.unwrap_or(true);
    Ok(Json(state.payments.put_package(&p, &id, &input.name, input.coins, input.price_fen, active, sort).await?))
}

/// How the order is to be paid.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Stripe,
    Wechat,
    Alipay,
    Mock,
}

impl PaymentMethod {
    fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Stripe => "stripe",
            PaymentMethod::Wechat => "wechat",
            PaymentMethod::Alipay => "alipay",
            PaymentMethod::Mock => "mock",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrder {
    /// A package from `GET /api/v1/coins/packages`.
    #[schema(min_length = 1, max_length = 40)]
    pub package_id: String,
    /// A method this server has enabled (others are 422 `invalid_params`): `stripe` with
    /// `payments_webhook_secret`, `wechat` with `wechat_api_key`, `mock` with `payments_mock`.
    pub payment_method: PaymentMethod,
}

/// Order a package. Pay it through the provider with the order number as the reference
/// (Stripe: the Checkout Session's `client_reference_id`); the provider's signed notification
/// marks it paid and credits the coins. A pending order expires after `order_ttl_mins`.
#[utoipa::path(post, path = "/api/v1/orders", tag = "coins", request_body = NewOrder,
    responses((status = 201, body = OrderDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "No such package on offer, or the payment method is not enabled (`invalid_params`)", body = ErrorBody)))]
pub async fn create_order(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(o): ApiJson<NewOrder>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    if o.package_id.is_empty() || o.package_id.chars().count() > 40 {
        return Err(ApiError::bad_request("package_id must be 1 to 40 characters"));
    }
    Ok((StatusCode::CREATED, Json(state.payments.create_order(&p, &o.package_id, o.payment_method.as_str()).await?)))
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "coins", params(Paging),
    responses((status = 200, body = Vec<OrderDto>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_orders(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<Paging>,
) -> Result<Json<Vec<OrderDto>>, ApiError> {
    let (limit, offset) = q.resolve()?;
    Ok(Json(state.payments.orders(&p, limit, offset).await?))
}

/// One of the caller's orders (someone else's is 404).
#[utoipa::path(get, path = "/api/v1/orders/{order_no}", tag = "coins", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_order(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(no): ApiPath<String>,
) -> Result<Json<OrderDto>, ApiError> {
    Ok(Json(state.payments.order(&p, &no).await?))
}

/// Cancel one of the caller's pending orders (409 once it is paid, cancelled or expired).
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/cancel", tag = "coins", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel_order(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(no): ApiPath<String>,
) -> Result<Json<OrderDto>, ApiError> {
    Ok(Json(state.payments.cancel(&p, &no).await?))
}

/// Development only (`payments_mock = true`, else 404): pay one of the caller's `mock` orders
/// with no money moving.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/mock-pay", tag = "coins", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The order is paid through another provider", body = ErrorBody)))]
pub async fn mock_pay(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(no): ApiPath<String>,
) -> Result<Json<OrderDto>, ApiError> {
    Ok(Json(state.payments.mock_pay(&p, &no).await?))
}

/// What a webhook delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    pub received: bool,
    /// `credited`, `duplicate_event`, `unknown_order`, `final_order`, `amount_mismatch`,
    /// `currency_mismatch` or `ignored`; only `credited` changed anything.
    pub outcome: String,
}

/// Stripe's webhook (public; authenticated by `Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of
/// `"<t>.<raw body>"` under `payments_webhook_secret`, 300 s tolerance). The event
/// `checkout.session.completed` with `data.object.client_reference_id` = the order number and
/// `data.object.amount_total` in fen credits the order once; anything else is acknowledged and
/// changes nothing (see `outcome`, also logged).
#[utoipa::path(post, path = "/api/v1/payments/webhook/stripe", tag = "coins", security(()),
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    request_body(content = Object, description = "The Stripe event, signed as sent", content_type = "application/json"),
    responses((status = 200, body = WebhookAnswer), (status = 403, description = "A missing, malformed, wrong or stale signature, or Stripe is not configured (`bad_signature`)", body = ErrorBody)))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let outcome = state.payments.stripe_webhook(&get, &body).await?;
    Ok(Json(WebhookAnswer { received: true, outcome: outcome.into() }))
}
