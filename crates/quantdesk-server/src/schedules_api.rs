//! Schedules under `/api/v1/schedules`: list, create or replace, delete. (Once accounts exist,
//! only admins may change them.)

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use quantdesk_store::jobs::Schedule;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> crate::Routes {
    crate::Routes::new().route("/schedules", get(list)).route("/schedules/{name}", put(upsert).delete(remove))
}

/// A schedule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleDto {
    pub name: String,
    /// Cron expression: minute hour day month weekday (a sixth leading field adds seconds).
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// The job kind enqueued at each tick.
    pub kind: String,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub enabled: bool,
    /// Fire the latest tick missed while nothing ran, once, on start-up.
    pub catch_up: bool,
    /// The last tick handled, RFC 3339.
    pub last_fire: Option<String>,
}

/// A schedule to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ScheduleInput {
    /// minute hour day month weekday (a sixth leading field adds seconds); checked by the scheduler's parser (422 when it cannot read it).
    pub cron: String,
    /// IANA time zone, default Asia/Shanghai (422 when unknown).
    pub timezone: Option<String>,
    #[schema(pattern = "^(backtest|sweep|decide|import|echo)$")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub params: Option<serde_json::Value>,
    pub enabled: Option<bool>,
    pub catch_up: Option<bool>,
}

fn dto(s: &Schedule) -> ScheduleDto {
    ScheduleDto {
        name: s.name.clone(),
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        kind: s.kind.clone(),
        params: serde_json::from_str(&s.params).unwrap_or(serde_json::Value::Null),
        enabled: s.enabled,
        catch_up: s.catch_up,
        last_fire: s.last_fire.map(crate::iso_ms),
    }
}

/// The caller's schedules (admins: all, including the built-in ones).
#[utoipa::path(get, path = "/api/v1/schedules", tag = "jobs", responses((status = 200, body = Vec<ScheduleDto>)))]
pub async fn list(State(state): State<AppState>, p: Principal) -> Result<Json<Vec<ScheduleDto>>, ApiError> {
    Ok(Json(state.store.schedules().await?.iter().filter(|s| p.sees(&s.owner)).map(dto).collect()))
}

/// Create or replace a schedule (its history is kept).
#[utoipa::path(put, path = "/api/v1/schedules/{name}", tag = "jobs", params(("name" = String, Path, pattern = "^[A-Za-z0-9._-]{1,100}$")), request_body = ScheduleInput,
    responses((status = 200, body = ScheduleDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upsert(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> Result<Json<ScheduleDto>, ApiError> {
    if name.is_empty()
        || name.len() > 100
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ApiError::bad_request("a schedule name is 1 to 100 letters, digits, '-', '_' or '.'"));
    }
    let timezone = input.timezone.unwrap_or_else(|| "Asia/Shanghai".into());
    let cron = croner_check(&input.cron, &timezone)?;
    let kind = quantdesk_app::jobs::JobKind::parse_submittable(&input.kind)?;
    let params = input.params.unwrap_or_else(|| serde_json::json!({}));
    if !params.is_object() {
        return Err(ApiError::bad_request("params must be a JSON object"));
    }
    kind.check_params(&params)?;
    let now = quantdesk_app::clock::now_ms();
    // Names are global: someone else's schedule of that name is not the caller's to replace.
    let existing = state.store.schedules().await?.into_iter().find(|x| x.name == name);
    let owner = match &existing {
        Some(x) if !p.sees(&x.owner) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("the schedule name {name:?} is taken; choose another"),
            ));
        }
        Some(x) => x.owner.clone(),
        None => p.owner(),
    };
    let s = Schedule {
        id: 0,
        owner,
        name: name.clone(),
        cron,
        timezone,
        kind: input.kind,
        params: params.to_string(),
        enabled: input.enabled.unwrap_or(true),
        catch_up: input.catch_up.unwrap_or(false),
        last_fire: None,
        created_at: now,
    };
    state.store.upsert_schedule(&s).await?;
    let saved = state
        .store
        .schedules()
        .await?
        .into_iter()
        .find(|x| x.name == name)
        .ok_or_else(|| ApiError::internal("schedule vanished"))?;
    Ok(Json(dto(&saved)))
}

/// Validates a cron expression and time zone the way the scheduler reads them.
fn croner_check(cron: &str, timezone: &str) -> Result<String, ApiError> {
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_schedule",
            format!("unknown time zone {timezone:?}"),
        ));
    }
    let normalised = cron.split_whitespace().collect::<Vec<_>>().join(" ");
    <croner::Cron as std::str::FromStr>::from_str(&normalised).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_schedule",
            format!("{cron:?} is not a valid cron expression: {e}"),
        )
    })?;
    Ok(normalised)
}

/// Delete a schedule.
#[utoipa::path(delete, path = "/api/v1/schedules/{name}", tag = "jobs", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let mine = state.store.schedules().await?.into_iter().any(|x| x.name == name && p.sees(&x.owner));
    if mine && state.store.remove_schedule(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no schedule {name:?}")))
    }
}
