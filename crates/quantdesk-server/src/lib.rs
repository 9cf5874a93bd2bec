//! The HTTP layer of quantdesk: the TradingView UDF datafeed, the JSON API, operations endpoints
//! and configuration. Handlers are thin: market logic lives in [`market`] over the core and the store.

pub mod api;
pub mod auth;
pub mod chan;
pub mod chanvis;
pub mod coins_api;
pub mod cpu;
pub mod data_api;
pub mod error;
pub mod extract;
pub mod jobs_api;
pub mod llm_api;
pub mod openapi;
pub mod ops;
pub mod payments_api;
pub mod regimes_api;
pub mod reports_api;
pub mod schedules_api;
pub mod screener_api;
pub mod shared_cache;
pub mod state;
pub mod trademaster_api;
pub mod udf;
pub mod uploads;
pub mod valuation_api;
pub mod watchlists_api;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::{MethodRouter, get};
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Configuration is the application layer's; the server reads it from there.
pub use quantdesk_app::config::{self, Config};
/// Market services live in the application layer; the HTTP handlers reach them here.
pub use quantdesk_app::{blocks, market};
pub use state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Routes with the list of their paths, so tests can enumerate every route of the application
/// (axum's `Router` cannot be asked for its routes).
pub struct Routes {
    pub router: Router<AppState>,
    pub paths: Vec<String>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes { router: Router::new(), paths: Vec::new() }
    }
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &str, handler: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, handler);
        self.paths.push(path.to_string());
        self
    }

    pub fn nest(mut self, prefix: &str, other: Routes) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.paths.extend(other.paths.into_iter().map(|p| format!("{prefix}{p}")));
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }
}

/// The API, datafeed and operations routes.
fn server_routes(max_upload: usize) -> Routes {
    Routes::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/version", get(ops::version))
        .nest("/udf", udf::router())
        .nest("/api/v1", api::router(max_upload))
        .nest("/api/TradeMaster", trademaster_api::router(max_upload))
        .merge(chanvis::router())
}

/// Every path the application serves with `extra` (the pages) merged in.
pub fn all_paths(extra: &Routes) -> Vec<String> {
    let mut paths = server_routes(1024).paths;
    paths.extend(extra.paths.iter().cloned());
    paths
}

/// The API, datafeed and operations routes with a JSON 404 for everything else.
pub fn router(state: AppState) -> Router {
    let mut none = Routes::new();
    none.router = none.router.fallback(api::not_found);
    router_with(state, none)
}

/// The API, datafeed and operations routes merged with `extra` (the pages), which must bring the
/// fallback for unknown paths; then the shared layers: metrics, limits, timeouts, panics, request
/// ids, tracing, compression.
pub fn router_with(state: AppState, extra: Routes) -> Router {
    let cfg = state.config.clone();
    let max_upload = usize::try_from(cfg.server.max_upload_bytes).unwrap_or(usize::MAX);
    let max_body = usize::try_from(cfg.server.max_body_bytes).unwrap_or(usize::MAX);
    let cors = (!cfg.server.cors_origins.is_empty()).then(|| {
        let origins: Vec<axum::http::HeaderValue> =
            cfg.server.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::PUT,
                axum::http::Method::PATCH,
                axum::http::Method::DELETE,
            ])
            .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600))
    });
    server_routes(max_upload)
        .merge(extra)
        .router
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::headers))
        .layer(axum::middleware::from_fn(ops::track))
        .with_state(state)
        .layer(tower::util::option_layer(cors))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(cfg.server.request_timeout_secs.max(1)),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            error::ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged",
            )
            .into_response_logged()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(CompressionLayer::new().gzip(true).compress_when(DefaultPredicate::new().and(
            // Big answers are compressed on the CPU pool, or sent as they are when it is full.
            |_: StatusCode, _: axum::http::Version, _: &axum::http::HeaderMap, ext: &axum::http::Extensions| {
                ext.get::<cpu::Uncompressed>().is_none()
            },
        )))
}

/// Percent-encodes `s` for a URL, keeping RFC 3986's unreserved characters and the bytes in `keep`.
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// The one format of instants in the API's and the CLI's output (see [`quantdesk_app::clock`]).
pub use quantdesk_app::clock::{iso_ms, iso_secs};
