//! Operations endpoints: liveness, readiness, Prometheus metrics, version; and the HTTP metrics
//! middleware.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::state::AppState;

pub use quantdesk_app::VERSION;

/// The process-wide Prometheus recorder (installed once; later calls share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            let job_buckets = [0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("http_request_duration_seconds".into()), &buckets)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("job_duration_seconds".into()), &job_buckets))
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("model_execution_duration_seconds".into()), &buckets)
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let handle = match builder.install_recorder() {
                Ok(h) => h,
                // Another recorder is already installed (only in unusual embeddings): render ours anyway.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            describe();
            handle
        })
        .clone()
}

/// Help text for every metric quantdesk exports (the one list: the dashboards and alerts under
/// deploy/monitoring use these names).
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("http_requests_total", "HTTP requests answered, by method, matched route and status.");
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and matched route."
    );
    describe_gauge!("db_pool_connections", "Database pool connections, by state (idle, in_use).");
    describe_gauge!("db_pool_max_connections", "The database pool's connection limit.");
    describe_gauge!("quantdesk_build_info", "Always 1; the labels carry the version and the database backend.");
    describe_gauge!("jobs_queued", "Jobs waiting to run, by kind (0 for kinds with none).");
    describe_counter!("jobs_total", "Jobs finished by this process, by kind and final state.");
    describe_histogram!("job_duration_seconds", Unit::Seconds, "Run time of jobs finished by this process, by kind.");
    describe_counter!("job_retries_total", "Job attempts that failed transiently and were scheduled again, by kind.");
    describe_counter!("schedule_runs_total", "Schedule ticks this process fired, by schedule.");
    describe_histogram!(
        "model_execution_duration_seconds",
        Unit::Seconds,
        "Time one signal model of the voting engine took, by model."
    );
    describe_counter!("redis_errors_total", "Failed or late calls to the shared Redis cache.");
    describe_gauge!("cpu_pool_running", "Heavy requests (Chan analyses, overlays) running on the CPU pool.");
    describe_gauge!("cpu_pool_queued", "Heavy requests waiting for a CPU pool worker.");
    describe_counter!("cpu_pool_refused_total", "Heavy requests refused with 503 busy because the CPU pool was full.");
    describe_gauge!(
        "quantdesk_backup_last_success_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the newest recorded backup; 0 when there is none."
    );
    describe_gauge!(
        "quantdesk_backup_age_seconds",
        Unit::Seconds,
        "Age of the newest recorded backup; +Inf when there is none."
    );
    describe_gauge!("quantdesk_users", "User accounts.");
    describe_gauge!("quantdesk_active_sessions", "Browser sessions used within the idle timeout.");
}

/// The probe and metrics endpoints alone, for `worker` and `scheduler` processes (which serve no
/// API): `/healthz` and `/metrics` of the jobs this process runs.
pub fn probe_router(handle: PrometheusHandle) -> axum::Router {
    use axum::routing::get;
    axum::Router::new().route("/healthz", get(healthz)).route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                handle.run_upkeep();
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
            }
        }),
    )
}

/// Counts and times every request by method, matched route and status.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Each dependency with its status and latency; 503 when a required one is down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await;
    let (ok, latency_ms, error) = match ping {
        Ok(Ok(d)) => (true, d.as_secs_f64() * 1000.0, None),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            (false, 0.0, Some("database query failed"))
        }
        Err(_) => (false, 2000.0, Some("database did not answer within 2 s")),
    };
    let mut checks = vec![json!({
        "name": "database",
        "backend": state.store.backend(),
        "required": true,
        "status": if ok { "ok" } else { "down" },
        "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
        "error": error,
    })];
    if ok && let Ok(counts) = state.store.job_counts().await {
        let backlog: i64 = counts.iter().filter(|c| c.1 == quantdesk_store::jobs::JobState::Queued).map(|c| c.2).sum();
        let running: i64 = counts.iter().filter(|c| c.1 == quantdesk_store::jobs::JobState::Running).map(|c| c.2).sum();
        checks.push(
            json!({ "name": "job_queue", "required": false, "status": "ok", "queued": backlog, "running": running }),
        );
    }
    let mut degraded = false;
    if let Some(redis) = &state.shared {
        let check = match redis.ping().await {
            Ok(d) => {
                json!({ "name": "redis", "required": false, "status": "ok", "latency_ms": (d.as_secs_f64() * 1e6).round() / 1000.0 })
            }
            Err(e) => {
                degraded = true;
                json!({ "name": "redis", "required": false, "status": "down", "error": e })
            }
        };
        checks.push(check);
    }
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let overall = if !ok {
        "down"
    } else if degraded {
        "degraded"
    } else {
        "ok"
    };
    (status, Json(json!({ "status": overall, "checks": checks }))).into_response()
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let pool = state.store.pool_stats();
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.max));
    metrics::gauge!("quantdesk_build_info", "version" => VERSION, "backend" => state.store.backend()).set(1.0);
    if let Ok(counts) = state.store.job_counts().await {
        // Every known kind, so a kind whose queue emptied reads 0 rather than its last value.
        let mut kinds: Vec<String> = quantdesk_app::jobs::JobKind::ALL.iter().map(|k| k.to_string()).collect();
        for (kind, _, _) in &counts {
            if !kinds.contains(kind) {
                kinds.push(kind.clone());
            }
        }
        for kind in kinds {
            let n: i64 = counts
                .iter()
                .filter(|(k, st, _)| *k == kind && *st == quantdesk_store::jobs::JobState::Queued)
                .map(|c| c.2)
                .sum();
            metrics::gauge!("jobs_queued", "kind" => kind).set(n as f64);
        }
    }
    business_gauges(&state).await;
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

/// Figures read from the database at scrape time, so every replica reports the same: the newest
/// backup's time and age, users, and sessions active within the idle timeout.
async fn business_gauges(state: &AppState) {
    let now = crate::auth::now_ms();
    match state.store.last_backup().await {
        Ok(last) => {
            let at = last.as_ref().map_or(0.0, |b| b.at as f64 / 1000.0);
            // No backup ever: an infinite age, so "age > threshold" alerts fire.
            let age = last.map_or(f64::INFINITY, |b| ((now - b.at) as f64 / 1000.0).max(0.0));
            metrics::gauge!("quantdesk_backup_last_success_timestamp_seconds").set(at);
            metrics::gauge!("quantdesk_backup_age_seconds").set(age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the newest backup"),
    }
    if let Ok(n) = state.store.count_users().await {
        metrics::gauge!("quantdesk_users").set(n as f64);
    }
    let idle_ms = state.config.auth.session_idle_mins.saturating_mul(60_000) as i64;
    if let Ok(n) = state.store.count_active_sessions(now - idle_ms).await {
        metrics::gauge!("quantdesk_active_sessions").set(n as f64);
    }
}

pub async fn version(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "name": "quantdesk", "version": VERSION, "backend": state.store.backend() }))
}
