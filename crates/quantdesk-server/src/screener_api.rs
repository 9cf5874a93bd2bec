//! The stock screener over HTTP: `POST /api/v1/screener/stocks` filters every symbol's latest
//! stored `daily_basic` row with its instrument (`quantdesk_app::screener`).

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use quantdesk_app::screener::{ScreenerPage, ScreenerRequest};

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new().route("/screener/stocks", post(screen_stocks))
}

/// Screens stocks by valuation multiples, market value (亿元), industry and the actual
/// controller's type over each symbol's latest stored `daily_basic` row. Bounds are inclusive; a
/// bound on a field leaves out the rows that lack it; a minimum above its maximum is a 422.
#[utoipa::path(post, path = "/api/v1/screener/stocks", tag = "market", request_body = ScreenerRequest,
    responses((status = 200, body = ScreenerPage), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a minimum above its maximum")))]
pub async fn screen_stocks(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ScreenerRequest>,
) -> Result<Json<ScreenerPage>, ApiError> {
    Ok(Json(quantdesk_app::screener::run(&*state.store, &request).await?))
}
