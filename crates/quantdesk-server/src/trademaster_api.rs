//! The TradeMaster-compatible API under `/api/TradeMaster/`, so TradeMaster's own front end can
//! drive quantdesk: the endpoints of TradeMaster's `deploy/backend_service.py` (1.0.0 branch) for
//! market dynamics modeling, with its request bodies and its answers (`error_code`, `info`,
//! `session_id`, base64 PNG plots). The workflow is the application layer's
//! ([`quantdesk_app::trademaster`]): sessions owned by their caller, mapped onto `regimes` and
//! `dynamics_test` jobs.
//!
//! As TradeMaster does, failures are answered in-band: status 200 with `error_code: 1` and the
//! reason in `info` (an unknown session, another user's session, a bad parameter, a malformed
//! file, a failed job). A status other than 200 means the request never reached TradeMaster's
//! logic: 400 for a body that is not a JSON object or breaks the schema (as TradeMaster answers
//! 400 for a `file_name` that is empty or not `.csv`), 401/403 from the access guard (every
//! endpoint needs a signed-in caller; the status endpoints a `read` key, the others a `jobs` key),
//! 413 for an upload above `max_upload_bytes`, 429 from the rate limits.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use base64::Engine as _;
use quantdesk_app::AppError;
use quantdesk_app::error::ErrorKind;
use quantdesk_app::trademaster::{LabelingInput, Progress, TradeMaster, text};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{Principal, now_ms};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router(max_upload: usize) -> crate::Routes {
    crate::Routes::new()
        .route("/healthcheck", get(healthcheck))
        .route("/evaluation_getParameters", post(evaluation_parameters))
        .route("/upload_csv", post(upload_csv).layer(DefaultBodyLimit::max(max_upload)))
        .route("/start_market_dynamics_labeling", post(start_labeling))
        .route("/MDM_status", post(mdm_status))
        .route("/save_market_dynamics_labeling", post(save_labeling))
        .route("/download_csv", post(download_csv))
        .route("/run_dynamics_test", post(run_dynamics_test))
        .route("/dynamics_testing_status", post(dynamics_testing_status))
}

fn service<'a>(state: &'a AppState, p: &Principal) -> TradeMaster<'a> {
    TradeMaster { store: &*state.store, owner: p.owner(), now_ms: now_ms() }
}

/// TradeMaster's `info` of a failure. Internal details go to the log, never to the client.
fn failure(e: AppError) -> String {
    match e.kind() {
        ErrorKind::Internal | ErrorKind::Unavailable => {
            tracing::error!(error = %e.message(), code = e.code(), "TradeMaster API request failed");
            "request data error, an internal error occurred; it has been logged".into()
        }
        _ => format!("request data error, {}", e.message()),
    }
}

fn base64_png(data: Option<Vec<u8>>) -> Option<String> {
    data.map(|d| base64::engine::general_purpose::STANDARD.encode(d))
}

/// A job's state as both status endpoints answer it: `error_code`, `info`, whether it ended, its
/// plots as base64 PNG, the session.
struct Status {
    error_code: i32,
    info: String,
    end: bool,
    plots: Vec<Option<String>>,
    session_id: String,
}

fn status(r: Result<(String, Progress), AppError>, asked: String, end_line: &str) -> Status {
    match r {
        Ok((id, Progress::Running { info })) => {
            Status { error_code: 0, info, end: false, plots: Vec::new(), session_id: id }
        }
        Ok((id, Progress::Done { info, plots })) => Status {
            error_code: 0,
            info: format!("{info}\n{end_line}"),
            end: true,
            plots: plots.into_iter().map(base64_png).collect(),
            session_id: id,
        },
        Err(e) => Status { error_code: 1, info: failure(e), end: false, plots: Vec::new(), session_id: asked },
    }
}

impl Status {
    fn plot(&mut self, i: usize) -> Option<String> {
        self.plots.get_mut(i).and_then(Option::take)
    }
}

/// A body naming a session. TradeMaster reads its fields leniently (text or numbers), and so does
/// quantdesk: the schema gives them no type, and a value that makes no sense is answered in-band.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SessionBody {
    /// The session id an earlier answer gave.
    pub session_id: Option<Value>,
}

/// The usual answer: `error_code` 0 (success) or 1 (failure, the reason in `info`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TmAnswer {
    pub error_code: i32,
    pub info: String,
    /// The session (empty when none could be found or made).
    pub session_id: String,
}

fn answer(r: Result<String, AppError>, ok: &str, asked: &str) -> Json<TmAnswer> {
    Json(match r {
        Ok(id) => TmAnswer { error_code: 0, info: ok.into(), session_id: id },
        Err(e) => TmAnswer { error_code: 1, info: failure(e), session_id: asked.into() },
    })
}

/// `healthcheck`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthAnswer {
    /// Always `{}`.
    #[schema(value_type = Object)]
    pub data: Value,
    pub error_code: i32,
    /// `health check`.
    pub info: String,
    /// Milliseconds spent answering.
    pub time_consuming: f64,
}

/// TradeMaster's health check.
#[utoipa::path(get, path = "/api/TradeMaster/healthcheck", tag = "trademaster",
    responses((status = 200, body = HealthAnswer)))]
pub async fn healthcheck() -> Json<HealthAnswer> {
    let started = std::time::Instant::now();
    Json(HealthAnswer {
        data: Value::Object(Default::default()),
        error_code: 0,
        info: "health check".into(),
        time_consuming: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// TradeMaster's labeling parameters per dataset, with the caller's uploaded files as
/// `custom:NAME` (TradeMaster's bundled datasets are not part of quantdesk).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvaluationParameters {
    pub dataset_name: Vec<String>,
    pub start_date: BTreeMap<String, String>,
    pub end_date: BTreeMap<String, String>,
    pub number_of_market_style: Vec<String>,
    pub min_length_limit: BTreeMap<String, String>,
    pub filter_strength: BTreeMap<String, String>,
    pub max_length_expectation: BTreeMap<String, String>,
    pub key_indicator: BTreeMap<String, String>,
    pub timestamp: BTreeMap<String, String>,
    pub tic: BTreeMap<String, String>,
    pub labeling_method: BTreeMap<String, String>,
    pub merging_metric: BTreeMap<String, String>,
    pub merging_threshold: BTreeMap<String, String>,
    pub merging_dynamic_constraint: BTreeMap<String, i64>,
    /// The labels of the saved labeling (`"0"` … `"n−1"`); `0` to `3` before one is saved.
    pub test_dynamic_number: Vec<String>,
}

/// The labeling parameters TradeMaster's front end offers (its `evaluation_getParameters`): per
/// uploaded file, TradeMaster's defaults for a custom dataset, with the time and key columns the
/// file has. An unknown session (or none) gives no datasets, as TradeMaster's does.
#[utoipa::path(post, path = "/api/TradeMaster/evaluation_getParameters", tag = "trademaster", request_body = SessionBody,
    responses((status = 200, body = EvaluationParameters),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn evaluation_parameters(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<SessionBody>,
) -> Json<EvaluationParameters> {
    let tm = service(&state, &p);
    let session = text(body.session_id.as_ref());
    let datasets = tm.datasets(session.as_deref()).await.unwrap_or_default();
    let saved = tm.saved_dynamics(session.as_deref()).await.ok().flatten();
    let mut out = EvaluationParameters {
        dataset_name: Vec::new(),
        start_date: BTreeMap::new(),
        end_date: BTreeMap::new(),
        number_of_market_style: ["3", "4", "5"].map(String::from).to_vec(),
        min_length_limit: BTreeMap::new(),
        filter_strength: BTreeMap::new(),
        max_length_expectation: BTreeMap::new(),
        key_indicator: BTreeMap::new(),
        timestamp: BTreeMap::new(),
        tic: BTreeMap::new(),
        labeling_method: BTreeMap::new(),
        merging_metric: BTreeMap::new(),
        merging_threshold: BTreeMap::new(),
        merging_dynamic_constraint: BTreeMap::new(),
        test_dynamic_number: (0..saved.unwrap_or(4)).map(|i| i.to_string()).collect(),
    };
    for (name, time, key) in datasets {
        let n = format!("custom:{name}");
        out.dataset_name.push(n.clone());
        let put = |m: &mut BTreeMap<String, String>, v: &str| {
            m.insert(n.clone(), v.to_string());
        };
        put(&mut out.start_date, "Not adjustable");
        put(&mut out.end_date, "Not adjustable");
        put(&mut out.min_length_limit, "24");
        put(&mut out.filter_strength, "1");
        put(&mut out.max_length_expectation, "144");
        put(&mut out.key_indicator, &key);
        put(&mut out.timestamp, &time);
        put(&mut out.tic, "data");
        put(&mut out.labeling_method, "quantile");
        put(&mut out.merging_metric, "DTW_distance");
        put(&mut out.merging_threshold, "0.03");
        out.merging_dynamic_constraint.insert(n, 1);
    }
    Json(out)
}

/// `upload_csv`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UploadBody {
    /// `NAME.csv`; the file becomes the dataset `custom:NAME`.
    #[schema(min_length = 1, pattern = r"\.csv$")]
    pub file_name: String,
    /// The rows as JSON text of an array of objects (TradeMaster's front end), that array itself,
    /// or CSV text.
    pub file: Option<Value>,
    /// The session to add the file to; a new session when absent or empty.
    pub session_id: Option<Value>,
}

/// `upload_csv`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadAnswer {
    pub error_code: i32,
    pub info: String,
    /// The session holding the file (empty on failure).
    pub session_id: String,
    pub upload_finished: bool,
}

/// Stores a CSV file in a session (a new one when none is named): TradeMaster's `upload_csv`.
#[utoipa::path(post, path = "/api/TradeMaster/upload_csv", tag = "trademaster", request_body = UploadBody,
    responses((status = 200, body = UploadAnswer, description = "`error_code` 1 with the reason in `info`: an unknown session, a malformed file (no rows, ragged CSV lines, rows that are not objects), a name with / \\ : or control characters"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object, or `file_name` is empty or does not end in .csv (as TradeMaster answers)"),
        (status = 413, body = ErrorBody, description = "the body is larger than `max_upload_bytes`")))]
pub async fn upload_csv(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<UploadBody>,
) -> Result<Json<UploadAnswer>, ApiError> {
    if body.file_name.is_empty() {
        return Err(ApiError::bad_request("No file selected"));
    }
    if !body.file_name.ends_with(".csv") {
        return Err(ApiError::bad_request("Only support csv file"));
    }
    let session = text(body.session_id.as_ref());
    let file = body.file.unwrap_or(Value::Null);
    let r = service(&state, &p).upload(session.as_deref(), &body.file_name, &file).await;
    Ok(Json(match r {
        Ok(id) => UploadAnswer {
            error_code: 0,
            info: "request success, read uploaded csv file".into(),
            session_id: id,
            upload_finished: true,
        },
        Err(e) => UploadAnswer { error_code: 1, info: failure(e), session_id: String::new(), upload_finished: false },
    }))
}

/// `start_market_dynamics_labeling`'s body: TradeMaster's parameter names, numbers as numbers
/// or text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LabelingBody {
    /// The session; a new one when absent (which then has no file to label).
    pub session_id: Option<Value>,
    /// `custom:NAME` of an uploaded file.
    pub dataset_name: Option<Value>,
    /// Number of dynamics, 2 to 10 (default 3).
    pub number_of_market_style: Option<Value>,
    /// Minimum segment length and filter period (default 24; −1 for none).
    pub min_length_limit: Option<Value>,
    /// Filter strength (default 1).
    pub filter_strength: Option<Value>,
    /// Segments at least this long are not merged (default 144).
    pub max_length_expectation: Option<Value>,
    /// The column of the key indicator (absent: adjcp, close or key_indicator, the first the file
    /// has; a named column the file lacks is refused).
    pub key_indicator: Option<Value>,
    /// The column of the times (absent: date, timestamp, time or datetime).
    pub timestamp: Option<Value>,
    /// TradeMaster's ticker column; not read (a file is one series).
    pub tic: Option<Value>,
    /// quantile (default), slope or DTW.
    pub labeling_method: Option<Value>,
    /// DTW_distance (the only one).
    pub merging_metric: Option<Value>,
    /// DTW merge threshold (default 0.03; −1 disables merging).
    pub merging_threshold: Option<Value>,
    /// Largest label distance of merged neighbours (default 1).
    pub merging_dynamic_constraint: Option<Value>,
    /// Not read for an uploaded file (TradeMaster slices only its bundled datasets).
    #[serde(rename = "startDate")]
    pub start_date: Option<Value>,
    /// Not read for an uploaded file.
    #[serde(rename = "endDate")]
    pub end_date: Option<Value>,
}

/// Labels an uploaded file with TradeMaster's model as a `regimes` job:
/// `start_market_dynamics_labeling`. `MDM_status` follows it.
#[utoipa::path(post, path = "/api/TradeMaster/start_market_dynamics_labeling", tag = "trademaster", request_body = LabelingBody,
    responses((status = 200, body = TmAnswer, description = "`error_code` 1 with the reason in `info`: an unknown session, a dataset not in the session, a parameter out of its range or not a number, a missing column, a time or value that does not parse"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn start_labeling(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<LabelingBody>,
) -> Json<TmAnswer> {
    let session = text(b.session_id.as_ref());
    let input = LabelingInput {
        dataset_name: text(b.dataset_name.as_ref()),
        number_of_market_style: b.number_of_market_style,
        min_length_limit: b.min_length_limit,
        filter_strength: b.filter_strength,
        max_length_expectation: b.max_length_expectation,
        key_indicator: text(b.key_indicator.as_ref()),
        timestamp: text(b.timestamp.as_ref()),
        labeling_method: text(b.labeling_method.as_ref()),
        merging_metric: text(b.merging_metric.as_ref()),
        merging_threshold: b.merging_threshold,
        merging_dynamic_constraint: b.merging_dynamic_constraint,
    };
    let r = service(&state, &p).start_labeling(session.as_deref(), &input).await;
    answer(r, "request success, start market dynamics modeling\n", session.as_deref().unwrap_or(""))
}

/// `MDM_status`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MdmStatus {
    pub error_code: i32,
    /// The job's progress and log.
    pub info: String,
    /// Whether the labeling finished.
    #[serde(rename = "MDM_end")]
    pub mdm_end: bool,
    /// Base64 PNG: the key indicator over one band per run of a label (when finished).
    pub market_dynamic_labeling_visulization: Option<String>,
    /// Base64 PNG: per label its share of the bars and its mean return (when finished).
    pub market_dynamic_labeling_analysis: Option<String>,
    pub session_id: String,
}

/// The labeling's state and, once finished, its two plots as base64 PNG: `MDM_status`.
#[utoipa::path(post, path = "/api/TradeMaster/MDM_status", tag = "trademaster", request_body = SessionBody,
    responses((status = 200, body = MdmStatus, description = "`error_code` 1 with the reason in `info`: an unknown session, no labeling started, the job failed (its error)"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn mdm_status(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<SessionBody>,
) -> Json<MdmStatus> {
    let session = text(b.session_id.as_ref()).unwrap_or_default();
    let r = service(&state, &p).labeling_status(Some(&session)).await;
    let mut st = status(r, session, "market dynamics modeling analysis done");
    Json(MdmStatus {
        error_code: st.error_code,
        mdm_end: st.end,
        market_dynamic_labeling_visulization: st.plot(0),
        market_dynamic_labeling_analysis: st.plot(1),
        info: st.info,
        session_id: st.session_id,
    })
}

/// Fixes the finished labeling as the one the dynamics test uses:
/// `save_market_dynamics_labeling`.
#[utoipa::path(post, path = "/api/TradeMaster/save_market_dynamics_labeling", tag = "trademaster", request_body = SessionBody,
    responses((status = 200, body = TmAnswer, description = "`error_code` 1 with the reason in `info`: an unknown session, no labeling, or one that has not finished or failed"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn save_labeling(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<SessionBody>,
) -> Json<TmAnswer> {
    let session = text(b.session_id.as_ref()).unwrap_or_default();
    let r = service(&state, &p).save(Some(&session)).await.map(|(id, _)| id);
    answer(r, "request success, save market dynamics", &session)
}

/// `download_csv`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadAnswer {
    pub error_code: i32,
    pub info: String,
    /// The labeled file: the uploaded columns and `pct_return`, `key_indicator_filtered`,
    /// `pct_return_filtered`, `label` (null on failure).
    pub data: Option<String>,
    /// Its name, without extension (null on failure).
    pub filename: Option<String>,
    pub session_id: String,
    /// Always null (TradeMaster's failure answer has it).
    pub file: Option<Value>,
}

/// The labeled file of the finished labeling: `download_csv`.
#[utoipa::path(post, path = "/api/TradeMaster/download_csv", tag = "trademaster", request_body = SessionBody,
    responses((status = 200, body = DownloadAnswer, description = "`error_code` 1 with the reason in `info`: an unknown session, no finished labeling"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn download_csv(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<SessionBody>,
) -> Json<DownloadAnswer> {
    let session = text(b.session_id.as_ref()).unwrap_or_default();
    Json(match service(&state, &p).download(Some(&session)).await {
        Ok((id, data, filename)) => DownloadAnswer {
            error_code: 0,
            info: "request success, read uploaded csv file".into(),
            data: Some(data),
            filename: Some(filename),
            session_id: id,
            file: None,
        },
        Err(e) => DownloadAnswer {
            error_code: 1,
            info: failure(e),
            data: None,
            filename: None,
            session_id: session,
            file: None,
        },
    })
}

/// `run_dynamics_test`'s and `dynamics_testing_status`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DynamicsBody {
    pub session_id: Option<Value>,
    /// The label to test, `0` … dynamics − 1.
    pub dynamics_test_label: Option<Value>,
    /// The same (the name of TradeMaster's test server).
    pub test_dynamic_label: Option<Value>,
    /// quantdesk's choice of agent (TradeMaster tests its trained agent): ma (default:
    /// TradeMaster's MA policy), do_nothing, blind_buy or a built-in strategy. Not read by
    /// `dynamics_testing_status`.
    pub agent: Option<Value>,
    /// The strategy's parameters, e.g. `{"fast": 5}`.
    pub params: Option<Value>,
}

impl DynamicsBody {
    fn label(&self) -> Option<&Value> {
        self.dynamics_test_label.as_ref().filter(|v| !v.is_null()).or(self.test_dynamic_label.as_ref())
    }
}

/// Runs the dynamics test of the agent on one label of the saved labeling, as a `dynamics_test`
/// job: `run_dynamics_test`. `dynamics_testing_status` follows it.
#[utoipa::path(post, path = "/api/TradeMaster/run_dynamics_test", tag = "trademaster", request_body = DynamicsBody,
    responses((status = 200, body = TmAnswer, description = "`error_code` 1 with the reason in `info`: an unknown session, no saved labeling, a label out of range, an unknown agent or bad parameters"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn run_dynamics_test(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<DynamicsBody>,
) -> Json<TmAnswer> {
    let session = text(b.session_id.as_ref()).unwrap_or_default();
    let agent = text(b.agent.as_ref());
    let params = match b.params.clone().filter(|v| !v.is_null()).map(serde_json::from_value).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => {
            return Json(TmAnswer {
                error_code: 1,
                info: format!("request data error, params must map parameter names to numbers: {e}"),
                session_id: session,
            });
        }
    };
    let r = service(&state, &p).run_dynamics_test(Some(&session), b.label(), agent.as_deref(), params).await;
    Json(match r {
        Ok((id, label)) => {
            TmAnswer { error_code: 0, info: format!("request success, start test market {label}\n\n"), session_id: id }
        }
        Err(e) => TmAnswer { error_code: 1, info: failure(e), session_id: session },
    })
}

/// `dynamics_testing_status`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DynamicsStatus {
    pub error_code: i32,
    /// The job's progress and log.
    pub info: String,
    pub dynamics_testing_end: bool,
    /// Base64 PNG of the label's radar chart (TradeMaster's six scores + 100) when finished.
    pub radar_plot: Option<String>,
    pub session_id: String,
}

/// The dynamics test's state and, once finished, its radar chart as base64 PNG:
/// `dynamics_testing_status`.
#[utoipa::path(post, path = "/api/TradeMaster/dynamics_testing_status", tag = "trademaster", request_body = DynamicsBody,
    responses((status = 200, body = DynamicsStatus, description = "`error_code` 1 with the reason in `info`: an unknown session, no test of that label, the job failed (its error: e.g. the label has no testable run)"),
        (status = 400, body = ErrorBody, description = "the body is not a JSON object")))]
pub async fn dynamics_testing_status(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<DynamicsBody>,
) -> Json<DynamicsStatus> {
    let session = text(b.session_id.as_ref()).unwrap_or_default();
    let r = service(&state, &p).dynamics_status(Some(&session), b.label()).await;
    let mut st = status(r, session, "dynamics test end");
    Json(DynamicsStatus {
        error_code: st.error_code,
        dynamics_testing_end: st.end,
        radar_plot: st.plot(0),
        info: st.info,
        session_id: st.session_id,
    })
}
