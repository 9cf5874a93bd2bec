//! The pages of quantdesk, rendered on the server with askama and embedded with their assets.
//!
//! Interactivity comes from a few vendored front-end files (lightweight-charts, htmx,
//! htm/preact) committed under `assets/vendor/` with their licences; no Node.js is needed to
//! build or run. All strings people read live in [`i18n`], one table per language.

pub mod assets;
pub mod i18n;
pub mod pages;

use axum::Router;
use axum::routing::get;
use quantdesk_server::AppState;

/// The page routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/chart", get(pages::home))
        .route("/chart/{symbol}", get(pages::chart))
        .route("/instruments", get(pages::instruments))
        .route("/import", get(pages::import_page))
        .route("/backtests", get(pages::backtests))
        .route("/backtests/{id}", get(pages::backtest))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/{id}", get(pages::job))
        .route("/lang/{tag}", get(pages::set_lang))
        .route("/assets/{version}/{*path}", get(assets::serve))
        .fallback(pages::fallback)
}

/// The whole application: API, datafeed, operations and pages.
pub fn app(state: AppState) -> Router {
    quantdesk_server::router_with(state, routes())
}
