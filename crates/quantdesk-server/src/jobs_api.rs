//! The jobs API under `/api/v1/jobs`: submit, list, inspect, cancel, retry, stream progress
//! (Server-Sent Events) and download artifacts. Jobs run on workers (`quantdesk worker`, or in
//! the server process by default).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use quantdesk_store::jobs::{Job, JobFilter, JobState, NewJob};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// Job kinds people submit: the catalogue's ([`JobKind::SUBMITTABLE`]).
pub use quantdesk_app::jobs::JobKind;

/// The highest priority a caller without the admin scope may give a job: others may lower their
/// jobs' priority, not raise it above the default, so among their jobs fair share (the workers'
/// per-owner cap, fewer running jobs first) decides. Admins may use up to 100.
pub const USER_MAX_PRIORITY: i32 = 0;

pub fn router() -> crate::Routes {
    crate::Routes::new()
        .route("/jobs", post(create_job).get(list_jobs))
        .route("/jobs/{id}", get(get_job).delete(delete_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/jobs/{id}/retry", post(retry_job))
        .route("/jobs/{id}/events", get(job_events))
        .route("/jobs/{id}/artifacts/{name}", get(artifact))
}

use crate::auth::now_ms;

/// Unix milliseconds as RFC 3339.
pub(crate) use crate::iso_ms as iso;

/// A job to submit.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateJob {
    /// backtest, sweep, decide, import, echo, sync, regimes or dynamics_test.
    #[schema(pattern = "^(backtest|sweep|decide|import|echo|sync|regimes|dynamics_test)$")]
    pub kind: String,
    /// The kind's parameters: the schemas BacktestParams, SweepParams, DecideParams, ImportParams,
    /// EchoParams, SyncRequest, RegimesJobParams and DynamicsTestJobParams. Parameters that do not fit the kind answer 422 `invalid_params`.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Higher runs first (default 0; -100 to 100, beyond is taken as the nearest bound). Above 0
    /// only for callers with the admin scope: others get 403 `forbidden`.
    pub priority: Option<i32>,
    /// Submitting the same key again returns the first job.
    #[schema(min_length = 1, max_length = 200)]
    pub idempotency_key: Option<String>,
    /// Attempts for transient failures (default 3, at most 10).
    #[schema(minimum = 1, maximum = 10)]
    pub max_attempts: Option<u32>,
    /// Time limit of one attempt in seconds (default 3600).
    #[schema(minimum = 1, maximum = 86400)]
    pub timeout_secs: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: i64,
    /// False when an earlier job with the same idempotency key was returned.
    pub created: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
    pub message: String,
}

/// A job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobDto {
    pub id: i64,
    pub kind: String,
    /// queued, running, succeeded, failed or cancelled.
    pub state: String,
    pub priority: i32,
    pub attempts: u32,
    pub max_attempts: u32,
    pub progress: Progress,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<&Job> for JobDto {
    fn from(j: &Job) -> Self {
        JobDto {
            id: j.id,
            kind: j.kind.clone(),
            state: j.state.as_str().into(),
            priority: j.priority,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            progress: Progress { done: j.progress_done, total: j.progress_total, message: j.progress_message.clone() },
            params: serde_json::from_str(&j.params).unwrap_or(serde_json::Value::Null),
            result: j.result.as_deref().and_then(|r| serde_json::from_str(r).ok()),
            error: j.error.clone(),
            cancel_requested: j.cancel_requested,
            created_at: iso(j.created_at),
            started_at: j.started_at.map(iso),
            finished_at: j.finished_at.map(iso),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Artifact {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub url: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    pub at: String,
    pub line: String,
}

/// A job with its log tail and artifacts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobDto,
    pub log: Vec<LogLine>,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobPage {
    pub items: Vec<JobDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobParams {
    /// queued, running, succeeded, failed or cancelled.
    #[param(pattern = "^(queued|running|succeeded|failed|cancelled)$")]
    pub state: Option<String>,
    pub kind: Option<String>,
    /// Jobs with a smaller id (the next page).
    pub before: Option<i64>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Submit a job.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = CreateJob,
    responses((status = 202, body = Created), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "a priority above 0 without the admin scope"),
        (status = 422, body = ErrorBody, description = "the params do not fit the kind")))]
pub async fn create_job(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<CreateJob>,
) -> Result<Response, ApiError> {
    let kind = JobKind::parse_submittable(&req.kind)?;
    if !req.params.is_object() {
        return Err(ApiError::bad_request("params must be a JSON object"));
    }
    // params that do not fit the kind: 422 `invalid_params` (the schema cannot tie a kind to its
    // parameters, so a schema-valid request can still be refused here)
    kind.check_params(&req.params)?;
    let max_attempts = req.max_attempts.unwrap_or(3);
    if !(1..=10).contains(&max_attempts) {
        return Err(ApiError::bad_request("max_attempts must be between 1 and 10"));
    }
    let timeout = req.timeout_secs.unwrap_or(3600);
    if !(1..=86_400).contains(&timeout) {
        return Err(ApiError::bad_request("timeout_secs must be between 1 and 86400"));
    }
    if req.idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 200) {
        return Err(ApiError::bad_request("idempotency_key must be 1 to 200 characters"));
    }
    // Who asks decides, as with a missing scope: 403. The request itself is valid (not 400), and
    // the same request from an admin is accepted (a permission, not a rule on the content: not 422).
    let priority = req.priority.unwrap_or(0).clamp(-100, 100);
    if priority > USER_MAX_PRIORITY && !p.is_admin() {
        return Err(crate::auth::forbidden(format!(
            "priorities above {USER_MAX_PRIORITY} are for administrators; use {USER_MAX_PRIORITY} or less"
        )));
    }
    let job = NewJob {
        owner: p.owner(),
        kind: kind.as_str().into(),
        queue: kind.queue().into(),
        params: req.params.to_string(),
        priority,
        max_attempts,
        timeout_ms: i64::from(timeout) * 1000,
        run_at: None,
        idempotency_key: req.idempotency_key.map(|k| format!("{}:{k}", p.owner())),
    };
    let (id, created) = state.store.enqueue(&job, now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(Created { id, created })).into_response())
}

/// List jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobParams),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<JobParams>,
) -> Result<Json<JobPage>, ApiError> {
    let state_filter = match p.state.as_deref() {
        Some(s) => Some(JobState::parse(s).ok_or_else(|| ApiError::bad_request(format!("unknown state {s:?}")))?),
        None => None,
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 200"));
    }
    let filter = JobFilter {
        owner: (!who.is_admin()).then(|| who.owner()),
        state: state_filter,
        kind: p.kind.filter(|k| !k.is_empty()),
        before_id: p.before,
        limit,
    };
    let jobs = state.store.list_jobs(&filter).await?;
    Ok(Json(JobPage { items: jobs.iter().map(JobDto::from).collect() }))
}

/// The job, if the caller may see it: another user's job is as absent as a missing one.
pub async fn find(state: &AppState, p: &Principal, id: i64) -> Result<Job, ApiError> {
    state.store.job(id).await?.filter(|j| p.sees(&j.owner)).ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// One job with its log tail and artifacts.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobDetail>, ApiError> {
    let job = find(&state, &p, id).await?;
    let log =
        state.store.job_logs(id, 100).await?.into_iter().map(|(at, line)| LogLine { at: iso(at), line }).collect();
    let artifacts = state
        .store
        .artifacts(id)
        .await?
        .into_iter()
        .map(|(name, content_type, size)| Artifact {
            url: format!("/api/v1/jobs/{id}/artifacts/{name}"),
            name,
            content_type,
            size,
        })
        .collect();
    Ok(Json(JobDetail { job: JobDto::from(&job), log, artifacts }))
}

/// Cancel a job: at once when queued; a running job is asked to stop.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobDto>, ApiError> {
    let job = find(&state, &p, id).await?;
    let now = state.store.cancel(id, now_ms()).await?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    if now == quantdesk_store::jobs::JobState::Cancelled {
        // Cancelled before it ran: its reserved cost goes back (a running job's goes back when
        // its worker stops it).
        let params = serde_json::from_str(&job.params).unwrap_or(serde_json::Value::Null);
        quantdesk_app::coins::settle_job(&*state.store, &params, false).await?;
    }
    Ok(Json(JobDto::from(&find(&state, &p, id).await?)))
}

/// Delete a finished job with its log and artifacts (a backtest's results go with it).
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_job(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let job = find(&state, &p, id).await?;
    if !state.store.delete_job(id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("job {id} is {}; cancel it before deleting it", job.state.as_str()),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Run a failed or cancelled job again.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_job(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobDto>, ApiError> {
    let job = find(&state, &p, id).await?;
    if !state.store.retry(id, now_ms()).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("job {id} is {}; only failed or cancelled jobs can be retried", job.state.as_str()),
        ));
    }
    Ok(Json(JobDto::from(&find(&state, &p, id).await?)))
}

/// Progress as Server-Sent Events: a `job` event whenever the job changes, then `end`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, description = "text/event-stream of `job` events (a JobDto each) and a final `end`", content_type = "text/event-stream"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn job_events(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    find(&state, &p, id).await?;
    let stream = futures_util::stream::unfold((state, None::<String>, false), move |(state, last, ended)| async move {
        if ended {
            return None;
        }
        loop {
            let job = match state.store.job(id).await {
                Ok(Some(j)) => j,
                _ => {
                    return Some((
                        Ok::<_, Infallible>(Event::default().event("end").data("gone")),
                        (state, last, true),
                    ));
                }
            };
            let data = serde_json::to_string(&JobDto::from(&job)).unwrap_or_default();
            if last.as_deref() != Some(data.as_str()) {
                let event = Event::default().event("job").data(data.clone());
                return Some((Ok(event), (state, Some(data), job.state.is_final())));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// Download an artifact of a job (an HTML report opens in the browser: `Content-Disposition: inline`).
#[utoipa::path(get, path = "/api/v1/jobs/{id}/artifacts/{name}", tag = "jobs",
    params(("id" = i64, Path), ("name" = String, Path)),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn artifact(
    State(state): State<AppState>,
    p: Principal,
    ApiPath((id, name)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    find(&state, &p, id).await?;
    let (content_type, data) = state
        .store
        .artifact(id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {id} has no artifact {name:?}")))?;
    let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    // An HTML artifact (a backtest's report) opens in the browser; everything else downloads.
    // The report holds no script: it is shown sandboxed (an origin of its own, no scripts), so
    // even a forged one could not act as the signed-in reader.
    let html = content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html"));
    let disposition = if html { "inline" } else { "attachment" };
    let mut res = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"job-{id}-{safe}\""))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if html {
        res = res.header(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        );
    }
    res.body(Body::from(data)).map_err(ApiError::internal)
}
