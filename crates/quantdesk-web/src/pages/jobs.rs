//! `/jobs` with the schedules, and `/jobs/{id}`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use quantdesk_server::AppState;
use serde::Deserialize;

use super::{PageCtx, ReqLang, error_page, html, json_island, local_time};
use crate::i18n::Lang;

/// A job row on the jobs pages.
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    /// The kind and the state in the reader's language.
    pub kind_label: String,
    pub state_label: String,
    pub state: &'static str,
    pub done: i64,
    pub total: i64,
    pub message: String,
    pub created: String,
    pub can_cancel: bool,
    pub can_retry: bool,
    pub can_delete: bool,
}

impl JobRow {
    pub fn new(j: &quantdesk_store::jobs::Job, lang: Lang) -> Self {
        use quantdesk_store::jobs::JobState;
        JobRow {
            id: j.id,
            kind: j.kind.clone(),
            kind_label: lang.term(&j.kind),
            state_label: lang.term(j.state.as_str()),
            state: j.state.as_str(),
            done: j.progress_done,
            total: j.progress_total.max(1),
            // A failed job says why, not where it was.
            message: match (&j.state, &j.error) {
                (JobState::Failed, Some(e)) if !e.is_empty() => e.clone(),
                _ => lang.term(&j.progress_message),
            },
            created: local_time(j.created_at, lang),
            can_cancel: !j.state.is_final(),
            can_retry: matches!(j.state, JobState::Failed | JobState::Cancelled),
            can_delete: j.state.is_final(),
        }
    }
}

/// A schedule row on the jobs page.
pub struct ScheduleRow {
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub kind_label: String,
    pub enabled: bool,
    pub last: String,
    /// What the page sends back when switching it on or off.
    pub json: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    page: PageCtx,
    schedules: Vec<ScheduleRow>,
    jobs: Vec<JobRow>,
    /// (identifier, label)
    states: Vec<(&'static str, String)>,
    state: String,
    terms: String,
    /// (identifier, label) of the kinds a schedule may enqueue.
    kinds: Vec<(&'static str, String)>,
    /// The schedule just saved by the form (it comes back here with `?saved=NAME`).
    saved: String,
}

#[derive(Deserialize)]
pub struct JobsParams {
    state: Option<String>,
    saved: Option<String>,
}

/// `/jobs`: the latest 100 jobs, live.
pub async fn jobs(State(state): State<AppState>, lang: ReqLang, Query(p): Query<JobsParams>) -> Response {
    let t = lang.lang.strings();
    let filter_state = p.state.as_deref().and_then(quantdesk_store::jobs::JobState::parse);
    let filter = quantdesk_store::jobs::JobFilter {
        state: filter_state,
        owner: lang.owner_filter(),
        limit: 100,
        ..Default::default()
    };
    let found = async {
        let schedules = state.store.schedules().await?.into_iter().filter(|s| lang.sees(&s.owner)).collect::<Vec<_>>();
        Ok::<_, quantdesk_store::StoreError>((state.store.list_jobs(&filter).await?, schedules))
    }
    .await;
    match found {
        Ok((list, schedules)) => html(
            StatusCode::OK,
            JobsPage {
                page: lang.ctx("jobs"),
                schedules: schedules
                    .iter()
                    .map(|s| ScheduleRow {
                        name: s.name.clone(),
                        cron: s.cron.clone(),
                        timezone: s.timezone.clone(),
                        kind_label: lang.lang.term(&s.kind),
                        enabled: s.enabled,
                        last: s.last_fire.map(|ms| local_time(ms, lang.lang)).unwrap_or_else(|| "—".into()),
                        json: serde_json::json!({
                            "cron": s.cron, "timezone": s.timezone, "kind": s.kind,
                            "params": serde_json::from_str::<serde_json::Value>(&s.params).unwrap_or_default(),
                            "enabled": s.enabled, "catch_up": s.catch_up,
                        })
                        .to_string(),
                    })
                    .collect(),
                jobs: list.iter().map(|j| JobRow::new(j, lang.lang)).collect(),
                states: ["queued", "running", "succeeded", "failed", "cancelled"]
                    .into_iter()
                    .map(|s| (s, lang.lang.term(s)))
                    .collect(),
                terms: json_island(&lang.lang.terms()),
                state: filter_state.map(|s| s.as_str().to_string()).unwrap_or_default(),
                kinds: quantdesk_app::jobs::JobKind::SUBMITTABLE
                    .into_iter()
                    .map(|k| (k.as_str(), lang.lang.term(k.as_str())))
                    .collect(),
                saved: p.saved.filter(|n| schedules.iter().any(|s| &s.name == n)).unwrap_or_default(),
            }
            .render(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "jobs page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    page: PageCtx,
    rs: &'static crate::i18n::RegimeStrings,
    job: JobRow,
    terms: String,
    error: Option<String>,
    result: Option<String>,
    /// (name, url)
    artifacts: Vec<(String, String)>,
    log: Vec<String>,
}

/// `/jobs/{id}`: one job with its result, files and log.
pub async fn job(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    let found = async {
        let Some(job) = state.store.job(id).await?.filter(|j| lang.sees(&j.owner)) else { return Ok(None) };
        let logs = state.store.job_logs(id, 200).await?;
        let artifacts = state.store.artifacts(id).await?;
        Ok::<_, quantdesk_store::StoreError>(Some((job, logs, artifacts)))
    }
    .await;
    match found {
        Ok(Some((job, logs, artifacts))) => {
            let result = job
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                .and_then(|v| serde_json::to_string_pretty(&v).ok());
            html(
                StatusCode::OK,
                JobPage {
                    page: lang.ctx("jobs"),
                    rs: lang.lang.regimes(),
                    error: job.error.clone(),
                    result,
                    artifacts: artifacts
                        .into_iter()
                        .map(|(n, _, _)| (n.clone(), format!("/api/v1/jobs/{id}/artifacts/{n}")))
                        .collect(),
                    log: logs.into_iter().map(|(at, line)| format!("{}  {line}", local_time(at, lang.lang))).collect(),
                    job: JobRow::new(&job, lang.lang),
                    terms: json_island(&lang.lang.terms()),
                }
                .render(),
            )
        }
        Ok(None) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "job page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}
