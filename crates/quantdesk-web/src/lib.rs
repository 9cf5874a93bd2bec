//! The pages of quantdesk, rendered on the server with askama and embedded with their assets.
//!
//! Interactivity comes from a few vendored front-end files (lightweight-charts, htmx,
//! htm/preact) committed under `assets/vendor/` with their licences; no Node.js is needed to
//! build or run. All strings people read live in [`i18n`], one table per language.

pub mod account;
pub mod assets;
pub mod i18n;
pub mod pages;

use axum::Router;
use axum::routing::{get, post};
use quantdesk_server::{AppState, Routes};

/// The page routes, to merge into the server's router.
pub fn routes() -> Routes {
    Routes::new()
        .route("/", get(pages::home))
        .route("/chart", get(pages::home))
        .route("/chart/{symbol}", get(pages::chart))
        .route("/instruments", get(pages::instruments))
        .route("/import", get(pages::import_page))
        .route("/backtests", get(pages::backtests))
        .route("/backtests/compare", get(pages::compare_backtests))
        .route("/backtests/{id}", get(pages::backtest))
        .route("/decisions", get(pages::decisions))
        .route("/valuation", get(pages::valuation_index))
        .route("/valuation/{symbol}", get(pages::valuation))
        .route("/valuation/{symbol}/export", get(pages::valuation_export))
        .route("/valuation/scenarios", post(pages::valuation_save_scenario))
        .route("/valuation/scenarios/{id}/delete", post(pages::valuation_delete_scenario))
        .route("/sweeps/{id}", get(pages::sweep))
        .route("/dynamics/{id}", get(pages::dynamics))
        .route("/data", get(pages::data))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/{id}", get(pages::job))
        .route("/lang/{tag}", get(pages::set_lang))
        .route("/login", get(account::login_page).post(account::login))
        .route("/signup", get(account::signup_page).post(account::signup))
        .route("/verify", get(account::verify_page).post(account::verify))
        .route("/reset", get(account::reset_page).post(account::reset))
        .route("/logout", post(account::logout))
        .route("/settings", get(account::settings))
        .route("/settings/password", post(account::change_password))
        .route("/settings/keys", post(account::create_key))
        .route("/settings/keys/{id}/revoke", post(account::revoke_key))
        .route("/admin", get(account::admin))
        .route("/admin/users/{id}", post(account::update_user))
        .route("/assets/{version}/{*path}", get(assets::serve))
        .with_fallback()
}

trait WithFallback {
    fn with_fallback(self) -> Self;
}

impl WithFallback for Routes {
    fn with_fallback(mut self) -> Self {
        self.router =
            self.router.fallback(pages::fallback).layer(axum::middleware::from_fn(pages::readable_rejections));
        self
    }
}

/// The whole application: API, datafeed, operations and pages.
pub fn app(state: AppState) -> Router {
    quantdesk_server::router_with(state, routes())
}
