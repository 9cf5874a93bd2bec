//! TradeMaster's market-dynamics workflow over quantdesk's jobs: the service behind the
//! TradeMaster-compatible API (`/api/TradeMaster/…`), so TradeMaster's own front end can drive
//! quantdesk. It follows TradeMaster's `deploy/backend_service.py` (the 1.0.0 branch):
//!
//! `upload_csv` stores a CSV file in a session (a new one when none is named) → `start_market_
//! dynamics_labeling` enqueues a `regimes` job on it with TradeMaster's parameter names →
//! `MDM_status` answers the job's state and, when done, its plots (PNG artifacts) →
//! `save_market_dynamics_labeling` fixes the labels the dynamics test uses → `download_csv`
//! returns the labeled file → `run_dynamics_test` enqueues a `dynamics_test` job for one label →
//! `dynamics_testing_status` answers its state and radar chart.
//!
//! A session is a row of [`quantdesk_store::trademaster`] owned by its creator: every method
//! takes the caller's owner id, and another user's session is as absent as a missing one. Its
//! state ([`SessionState`]) names the jobs it started; the data stay in the jobs and their
//! artifacts. TradeMaster's agents are trained models; here the tested agent is TradeMaster's MA
//! policy by default, or `do_nothing`, `blind_buy` or a built-in strategy.

use std::collections::BTreeMap;

use quantdesk_backtest::Series;
use quantdesk_backtest::strategy::Params;
use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};
use quantdesk_store::Store;
use quantdesk_store::jobs::{JobState, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppError;
use crate::jobs::JobKind;
use crate::regimes::{DatasetSource, DynamicsTestJobParams, Method, RegimeOptions, RegimesJobParams};

/// Longest file name (without `.csv`), in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most rows of an uploaded file.
pub const MAX_ROWS: usize = 1_000_000;
/// Columns tried for the time when the named one is absent, in order.
pub const TIME_COLUMNS: [&str; 4] = ["date", "timestamp", "time", "datetime"];
/// Columns tried for the key indicator when the named one is absent, in order.
pub const KEY_COLUMNS: [&str; 3] = ["adjcp", "close", "key_indicator"];
/// The columns a labeled file gets (TradeMaster's).
pub const LABEL_COLUMNS: [&str; 4] = ["pct_return", "key_indicator_filtered", "pct_return_filtered", "label"];

/// A labeling run of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelingRun {
    /// The `regimes` job.
    pub job: i64,
    /// The series it labels.
    pub dataset: DatasetSource,
    pub options: RegimeOptions,
}

/// What a session remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The latest labeling (`start_market_dynamics_labeling`).
    #[serde(default)]
    pub labeling: Option<LabelingRun>,
    /// The labeling saved for the dynamics test (`save_market_dynamics_labeling`).
    #[serde(default)]
    pub saved: Option<LabelingRun>,
    /// The latest `dynamics_test` job per label.
    #[serde(default)]
    pub tests: BTreeMap<usize, i64>,
}

fn refused(message: impl Into<String>) -> AppError {
    AppError::invalid(message).with_code("invalid_params")
}

/// A new session id: a random (version 4) UUID, as TradeMaster's ids are UUIDs.
pub fn new_session_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A number TradeMaster's front end sends as a number or as text.
pub fn number(v: Option<&Value>, field: &str) -> Result<Option<f64>, AppError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => {
            s.trim().parse::<f64>().map(Some).map_err(|_| refused(format!("{field} must be a number, got {s:?}")))
        }
        Some(other) => Err(refused(format!("{field} must be a number, got {other}"))),
    }
}

/// A whole number (see [`number`]).
pub fn integer(v: Option<&Value>, field: &str) -> Result<Option<i64>, AppError> {
    match number(v, field)? {
        None => Ok(None),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => Ok(Some(x as i64)),
        Some(x) => Err(refused(format!("{field} must be a whole number, got {x}"))),
    }
}

/// A text field (numbers are taken as their text).
pub fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// TradeMaster's labeling parameters, as its front end sends them (numbers or text).
#[derive(Debug, Clone, Default)]
pub struct LabelingInput {
    pub dataset_name: Option<String>,
    pub number_of_market_style: Option<Value>,
    pub min_length_limit: Option<Value>,
    pub filter_strength: Option<Value>,
    pub max_length_expectation: Option<Value>,
    pub key_indicator: Option<String>,
    pub timestamp: Option<String>,
    pub labeling_method: Option<String>,
    pub merging_metric: Option<String>,
    pub merging_threshold: Option<Value>,
    pub merging_dynamic_constraint: Option<Value>,
}

impl LabelingInput {
    /// quantdesk's options from TradeMaster's names; absent fields take TradeMaster's defaults
    /// for a custom dataset (TradeMaster's `evaluation_getParameters`: minimum length 24, maximum
    /// length expectation 144, filter strength 1, threshold 0.03, constraint 1, quantile).
    pub fn options(&self) -> Result<RegimeOptions, AppError> {
        let d = RegimeOptions { min_length: 24, max_length: 144, ..RegimeOptions::default() };
        let dynamics = integer(self.number_of_market_style.as_ref(), "number_of_market_style")?;
        let max_length = integer(self.max_length_expectation.as_ref(), "max_length_expectation")?;
        let as_usize = |v: Option<i64>, field: &str, default: usize| match v {
            None => Ok(default),
            Some(x) => usize::try_from(x).map_err(|_| refused(format!("{field} must not be negative, got {x}"))),
        };
        let method = match self.labeling_method.as_deref() {
            None => d.method,
            Some(m) => Method::parse(m)
                .ok_or_else(|| refused(format!("labeling_method must be quantile, slope or DTW, got {m:?}")))?,
        };
        if let Some(m) = self.merging_metric.as_deref()
            && m != "DTW_distance"
        {
            return Err(refused(format!("merging_metric must be DTW_distance, got {m:?}")));
        }
        let o = RegimeOptions {
            dynamics: as_usize(dynamics, "number_of_market_style", d.dynamics)?,
            min_length: integer(self.min_length_limit.as_ref(), "min_length_limit")?.unwrap_or(d.min_length),
            max_length: as_usize(max_length, "max_length_expectation", d.max_length)?,
            filter_strength: number(self.filter_strength.as_ref(), "filter_strength")?.unwrap_or(d.filter_strength),
            merging_threshold: number(self.merging_threshold.as_ref(), "merging_threshold")?
                .unwrap_or(d.merging_threshold),
            merging_constraint: integer(self.merging_dynamic_constraint.as_ref(), "merging_dynamic_constraint")?
                .unwrap_or(d.merging_constraint),
            method,
            causal: false,
        };
        o.check()?;
        Ok(o)
    }
}

/// A job's state as TradeMaster's status endpoints see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Queued or running: `info` is the progress and the log's tail.
    Running { info: String },
    /// Succeeded: `info` is the log, `plots` the PNG artifacts asked for (absent ones `None`).
    Done { info: String, plots: Vec<Option<Vec<u8>>> },
}

/// The TradeMaster workflow of one caller (`owner`: the actor's owner id, as jobs are owned).
pub struct TradeMaster<'a> {
    pub store: &'a dyn Store,
    pub owner: String,
    /// Unix milliseconds.
    pub now_ms: i64,
}

impl TradeMaster<'_> {
    async fn session(&self, id: Option<&str>) -> Result<(String, SessionState, i64), AppError> {
        let id = id.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| refused("session_id is missing"))?;
        let s = self
            .store
            .tm_session(&self.owner, id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("no session {id:?}")).with_code("unknown_session"))?;
        let state: SessionState = serde_json::from_str(&s.state).map_err(AppError::internal)?;
        Ok((s.id, state, s.version))
    }

    async fn save_state(&self, id: &str, version: i64, state: &SessionState) -> Result<(), AppError> {
        let text = serde_json::to_string(state).map_err(AppError::internal)?;
        if self.store.update_tm_session(&self.owner, id, version, &text, self.now_ms).await? {
            Ok(())
        } else {
            Err(AppError::conflict("the session changed meanwhile; send the request again").with_code("conflict"))
        }
    }

    /// A new empty session of the caller's.
    pub async fn create_session(&self) -> Result<String, AppError> {
        let id = new_session_id();
        let state = serde_json::to_string(&SessionState::default()).map_err(AppError::internal)?;
        self.store.create_tm_session(&self.owner, &id, &state, self.now_ms).await?;
        Ok(id)
    }

    /// `upload_csv`: stores the file (`file`: TradeMaster's JSON text of the rows as objects, the
    /// same rows as a JSON array, or CSV text) as `name` in the session, creating the session
    /// when `session` is empty. Returns the session id.
    pub async fn upload(&self, session: Option<&str>, file_name: &str, file: &Value) -> Result<String, AppError> {
        let name = dataset_name(file_name)?;
        let csv = to_csv(file)?;
        let id = match session.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => self.session(Some(id)).await?.0,
            None => self.create_session().await?,
        };
        if !self.store.put_tm_dataset(&self.owner, &id, &name, csv.as_bytes(), self.now_ms).await? {
            return Err(AppError::not_found(format!("no session {id:?}")).with_code("unknown_session"));
        }
        Ok(id)
    }

    /// The uploaded files of a session with the time and key columns their headers suggest.
    pub async fn datasets(&self, session: Option<&str>) -> Result<Vec<(String, String, String)>, AppError> {
        let (id, _, _) = self.session(session).await?;
        let mut out = Vec::new();
        for name in self.store.tm_dataset_names(&self.owner, &id).await? {
            let data = self.store.tm_dataset(&self.owner, &id, &name).await?.unwrap_or_default();
            let header = header_of(&data);
            let pick = |wanted: &[&str], fallback: &str| {
                wanted.iter().find(|c| header.iter().any(|h| h == *c)).map_or(fallback.to_string(), |c| c.to_string())
            };
            out.push((name, pick(&TIME_COLUMNS, "timestamp"), pick(&KEY_COLUMNS, "key_indicator")));
        }
        Ok(out)
    }

    /// The number of dynamics of the saved labeling of a session, if any.
    pub async fn saved_dynamics(&self, session: Option<&str>) -> Result<Option<usize>, AppError> {
        Ok(self.session(session).await?.1.saved.map(|s| s.options.dynamics))
    }

    /// `start_market_dynamics_labeling`: enqueues a `regimes` job on the session's file named by
    /// `dataset_name` (`custom:NAME`, or `NAME`); a new session when none is named (it then has
    /// no file, so this fails as TradeMaster's does). Returns the session id.
    pub async fn start_labeling(&self, session: Option<&str>, input: &LabelingInput) -> Result<String, AppError> {
        let options = input.options()?;
        let (id, mut state, version) = match session.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => self.session(Some(s)).await?,
            None => {
                let id = self.create_session().await?;
                self.session(Some(&id)).await?
            }
        };
        let raw = input.dataset_name.as_deref().ok_or_else(|| refused("dataset_name is missing"))?;
        let name = raw.strip_prefix("custom:").unwrap_or(raw);
        let Some(data) = self.store.tm_dataset(&self.owner, &id, name).await? else {
            return Err(refused(format!(
                "dataset {raw:?} is not in this session: upload it with upload_csv and name it custom:NAME"
            )));
        };
        let header = header_of(&data);
        let column = |given: &Option<String>, tried: &[&str], what: &str| -> Result<String, AppError> {
            match given {
                Some(c) if header.iter().any(|h| h == c) => Ok(c.clone()),
                Some(c) => {
                    Err(refused(format!("the file has no {what} column {c:?}; its columns are {}", header.join(", "))))
                }
                None => tried.iter().find(|c| header.iter().any(|h| h == *c)).map(|c| c.to_string()).ok_or_else(|| {
                    refused(format!(
                        "name the {what} column: the file has none of {}; its columns are {}",
                        tried.join(", "),
                        header.join(", ")
                    ))
                }),
            }
        };
        let dataset = DatasetSource {
            session: id.clone(),
            name: name.to_string(),
            time_column: column(&input.timestamp, &TIME_COLUMNS, "timestamp")?,
            key_column: column(&input.key_indicator, &KEY_COLUMNS, "key_indicator")?,
        };
        // The file's rows must make a series before a job is spent on it.
        dataset_series(&dataset, &data)?;
        let params = RegimesJobParams {
            symbol: name.to_string(),
            dataset: Some(dataset.clone()),
            resolution: "1D".into(),
            key: crate::regimes::KeyIndicator::Close,
            adjustment: "qfq".into(),
            options: options.clone(),
        };
        let job = self.enqueue(JobKind::Regimes, serde_json::to_value(&params).map_err(AppError::internal)?).await?;
        state.labeling = Some(LabelingRun { job, dataset, options });
        self.save_state(&id, version, &state).await?;
        Ok(id)
    }

    async fn enqueue(&self, kind: JobKind, params: Value) -> Result<i64, AppError> {
        kind.check_params(&params)?;
        let job = NewJob {
            owner: self.owner.clone(),
            kind: kind.as_str().into(),
            queue: kind.queue().into(),
            params: params.to_string(),
            priority: 0,
            max_attempts: 3,
            timeout_ms: 3_600_000,
            run_at: None,
            idempotency_key: None,
        };
        Ok(self.store.enqueue(&job, self.now_ms).await?.0)
    }

    /// A job's progress with the PNG artifacts `plots` once it succeeded; a failed or cancelled
    /// job is an error carrying the job's error.
    async fn progress(&self, job_id: i64, plots: &[&str]) -> Result<Progress, AppError> {
        let job = self
            .store
            .job(job_id)
            .await?
            .filter(|j| j.owner == self.owner)
            .ok_or_else(|| AppError::not_found(format!("the session's job {job_id} no longer exists")))?;
        let log: Vec<String> =
            self.store.job_logs(job_id, 50).await?.into_iter().map(|(_, line)| line).collect::<Vec<_>>();
        match job.state {
            JobState::Queued => Ok(Progress::Running { info: format!("job {job_id} is queued") }),
            JobState::Running => Ok(Progress::Running {
                info: format!(
                    "job {job_id}: {} ({}/{})\n{}",
                    job.progress_message,
                    job.progress_done,
                    job.progress_total,
                    log.join("\n")
                ),
            }),
            JobState::Succeeded => {
                let mut out = Vec::new();
                for name in plots {
                    out.push(self.store.artifact(job_id, name).await?.map(|(_, data)| data));
                }
                Ok(Progress::Done { info: log.join("\n"), plots: out })
            }
            JobState::Failed | JobState::Cancelled => Err(AppError::invalid(format!(
                "job {job_id} {}: {}",
                job.state.as_str(),
                job.error.unwrap_or_default()
            ))
            .with_code("job_failed")),
        }
    }

    /// `MDM_status`: the labeling job's progress; when done, the labels and statistics PNGs.
    pub async fn labeling_status(&self, session: Option<&str>) -> Result<(String, Progress), AppError> {
        let (id, state, _) = self.session(session).await?;
        let run = state.labeling.ok_or_else(|| refused("no market dynamics labeling was started in this session"))?;
        Ok((id, self.progress(run.job, &["labels.png", "statistics.png"]).await?))
    }

    async fn finished_labeling(&self, state: &SessionState) -> Result<LabelingRun, AppError> {
        let run =
            state.labeling.clone().ok_or_else(|| refused("no market dynamics labeling was started in this session"))?;
        match self.progress(run.job, &[]).await? {
            Progress::Done { .. } => Ok(run),
            Progress::Running { .. } => Err(refused("the market dynamics labeling has not finished yet")),
        }
    }

    /// `save_market_dynamics_labeling`: the finished labeling becomes the one the dynamics test
    /// uses. Returns the session id and the number of dynamics.
    pub async fn save(&self, session: Option<&str>) -> Result<(String, usize), AppError> {
        let (id, mut state, version) = self.session(session).await?;
        let run = self.finished_labeling(&state).await?;
        let dynamics = run.options.dynamics;
        state.saved = Some(run);
        self.save_state(&id, version, &state).await?;
        Ok((id, dynamics))
    }

    /// `download_csv`: the labeled file of the finished labeling (the uploaded columns and
    /// TradeMaster's `pct_return`, `key_indicator_filtered`, `pct_return_filtered`, `label`) and
    /// its name.
    pub async fn download(&self, session: Option<&str>) -> Result<(String, String, String), AppError> {
        let (id, state, _) = self.session(session).await?;
        let run = self.finished_labeling(&state).await?;
        let (_, data) = self
            .store
            .artifact(run.job, "labeled.csv")
            .await?
            .ok_or_else(|| AppError::not_found("the labeling job has no labeled.csv"))?;
        let text = String::from_utf8(data).map_err(AppError::internal)?;
        Ok((id, text, format!("{}_labeled_{}dynamics", run.dataset.name, run.options.dynamics)))
    }

    /// `run_dynamics_test`: enqueues a `dynamics_test` job of `agent` (default `ma`) on label
    /// `label` of the saved labeling.
    pub async fn run_dynamics_test(
        &self,
        session: Option<&str>,
        label: Option<&Value>,
        agent: Option<&str>,
        params: Params,
    ) -> Result<(String, usize), AppError> {
        let (id, mut state, version) = self.session(session).await?;
        let run = state
            .saved
            .clone()
            .ok_or_else(|| refused("save the market dynamics labeling first (save_market_dynamics_labeling)"))?;
        let label = integer(label, "dynamics_test_label")?.ok_or_else(|| refused("dynamics_test_label is missing"))?;
        let label = usize::try_from(label).ok().filter(|l| *l < run.options.dynamics).ok_or_else(|| {
            refused(format!("dynamics_test_label must be 0 to {}, got {label}", run.options.dynamics - 1))
        })?;
        let p = DynamicsTestJobParams {
            symbol: run.dataset.name.clone(),
            dataset: Some(run.dataset.clone()),
            resolution: "1D".into(),
            key: crate::regimes::KeyIndicator::Close,
            adjustment: "qfq".into(),
            options: run.options.clone(),
            agent: agent.unwrap_or("ma").to_string(),
            params,
            label: Some(label),
        };
        p.check()?;
        let job = self.enqueue(JobKind::DynamicsTest, serde_json::to_value(&p).map_err(AppError::internal)?).await?;
        state.tests.insert(label, job);
        self.save_state(&id, version, &state).await?;
        Ok((id, label))
    }

    /// `dynamics_testing_status`: the dynamics test of `label`; when done, its radar PNG.
    pub async fn dynamics_status(
        &self,
        session: Option<&str>,
        label: Option<&Value>,
    ) -> Result<(String, Progress), AppError> {
        let (id, state, _) = self.session(session).await?;
        let label = integer(label, "dynamics_test_label")?.ok_or_else(|| refused("dynamics_test_label is missing"))?;
        let job = usize::try_from(label)
            .ok()
            .and_then(|l| state.tests.get(&l).copied())
            .ok_or_else(|| refused(format!("no dynamics test of label {label} was started in this session")))?;
        Ok((id, self.progress(job, &["radar.png"]).await?))
    }
}

/// The file's name without `.csv` (TradeMaster keeps what comes before the first dot): 1 to
/// [`MAX_NAME_CHARS`] characters, no control characters, slashes or colons.
pub fn dataset_name(file_name: &str) -> Result<String, AppError> {
    let name = file_name.split('.').next().unwrap_or("").trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(|c| c.is_control() || matches!(c, '/' | '\\' | ':'))
    {
        return Err(refused(format!(
            "file_name must be NAME.csv with a NAME of 1 to {MAX_NAME_CHARS} characters without / \\ : or control characters, got {file_name:?}"
        )));
    }
    Ok(name.to_string())
}

/// The CSV text of an uploaded file: TradeMaster's JSON text of the rows as objects (the columns
/// are the keys, in the order they first appear), such rows as a JSON array, or CSV text. At
/// least one row, at most [`MAX_ROWS`]; CSV rows must all have the header's width.
pub fn to_csv(file: &Value) -> Result<String, AppError> {
    let bad = |m: String| AppError::invalid(m).with_code("invalid_file");
    let parsed;
    let rows = match file {
        Value::Array(rows) => rows,
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(rows)) => {
                parsed = rows;
                &parsed
            }
            _ => return check_csv_text(s),
        },
        _ => return Err(bad("file must be the rows as JSON text, a JSON array of rows or CSV text".into())),
    };
    if rows.is_empty() {
        return Err(bad("the file has no rows".into()));
    }
    if rows.len() > MAX_ROWS {
        return Err(bad(format!("the file has {} rows; at most {MAX_ROWS}", rows.len())));
    }
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let Value::Object(m) = r else { return Err(bad(format!("row {} is not an object of column values", i + 1))) };
        for k in m.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        objects.push(m);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| AppError::internal(e);
    w.write_record(&columns).map_err(io)?;
    for m in objects {
        let cells = columns.iter().map(|c| match m.get(c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        });
        w.write_record(cells).map_err(io)?;
    }
    String::from_utf8(w.into_inner().map_err(AppError::internal)?).map_err(AppError::internal)
}

fn check_csv_text(s: &str) -> Result<String, AppError> {
    let bad = |m: String| AppError::invalid(m).with_code("invalid_file");
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(s.as_bytes());
    let width = r.headers().map_err(|e| bad(format!("the file is not CSV: {e}")))?.len();
    let mut n = 0usize;
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(format!("the file is not CSV: {e}")))?;
        if rec.len() != width {
            return Err(bad(format!("line {} has {} cells; the header has {width}", n + 2, rec.len())));
        }
        n += 1;
        if n > MAX_ROWS {
            return Err(bad(format!("the file has more than {MAX_ROWS} rows")));
        }
    }
    if n == 0 || width < 2 {
        return Err(bad("the file needs a header with at least two columns and at least one row".into()));
    }
    Ok(s.to_string())
}

fn header_of(data: &[u8]) -> Vec<String> {
    csv::Reader::from_reader(data).headers().map(|h| h.iter().map(str::to_string).collect()).unwrap_or_default()
}

/// An uploaded file's header and rows, as read.
#[derive(Debug, Clone)]
pub struct FileRows {
    pub header: csv::StringRecord,
    pub rows: Vec<csv::StringRecord>,
}

/// Reads a time cell: Unix seconds, a date, an RFC 3339 time, or `YYYY-MM-DD HH:MM:SS[.f]`
/// (pandas' way, read in UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = quantdesk_core::instant::parse_instant(s) {
        return Some(t);
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y/%m/%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// An uploaded file as a series: one bar per row (open = high = low = close = the key
/// indicator), times strictly increasing, daily when every time is 00:00 UTC, else 1-minute.
/// Returns the series with the file's header and rows.
pub fn dataset_series(src: &DatasetSource, data: &[u8]) -> Result<(Series, FileRows), AppError> {
    let bad = |m: String| AppError::invalid(m).with_code("invalid_file");
    let mut r = csv::Reader::from_reader(data);
    let header = r.headers().map_err(|e| bad(format!("{}: {e}", src.name)))?.clone();
    let col = |c: &str| header.iter().position(|h| h == c);
    let tc = col(&src.time_column).ok_or_else(|| bad(format!("{} has no column {:?}", src.name, src.time_column)))?;
    let kc = col(&src.key_column).ok_or_else(|| bad(format!("{} has no column {:?}", src.name, src.key_column)))?;
    let mut rows = Vec::new();
    let mut bars: Vec<Bar> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("{}: {e}", src.name)))?;
        let line = i + 2;
        let t = rec.get(tc).and_then(parse_time).ok_or_else(|| {
            bad(format!("{} line {line}: {:?} is not a time", src.name, rec.get(tc).unwrap_or_default()))
        })?;
        let v: f64 =
            rec.get(kc).and_then(|s| s.trim().parse().ok()).filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                bad(format!("{} line {line}: {:?} is not a number", src.name, rec.get(kc).unwrap_or_default()))
            })?;
        if bars.last().is_some_and(|b| b.time >= t) {
            return Err(bad(format!("{} line {line}: the times must increase from row to row", src.name)));
        }
        bars.push(Bar { time: t, open: v, high: v, low: v, close: v, volume: 0.0, amount: 0.0 });
        rows.push(rec);
    }
    let sym: String =
        src.name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).take(32).collect();
    let symbol = Symbol::new(&sym).or_else(|_| Symbol::new("CUSTOM")).map_err(|e| AppError::internal(e.0))?;
    let resolution =
        if bars.iter().all(|b| b.time.rem_euclid(86_400) == 0) { Resolution::Day } else { Resolution::Minutes(1) };
    let series =
        Series { instrument: Instrument::with_defaults(symbol, &src.name, InstrumentKind::Stock), resolution, bars };
    Ok((series, FileRows { header, rows }))
}

/// Loads the owner's uploaded file as a series (a missing file or someone else's session is
/// 404 `unknown_dataset`).
pub async fn load_dataset(store: &dyn Store, owner: &str, src: &DatasetSource) -> Result<(Series, FileRows), AppError> {
    let data = store.tm_dataset(owner, &src.session, &src.name).await?.ok_or_else(|| {
        AppError::not_found(format!("no file {:?} in session {:?}", src.name, src.session)).with_code("unknown_dataset")
    })?;
    dataset_series(src, &data)
}

/// The uploaded rows with TradeMaster's label columns appended (columns of those names already
/// in the file are replaced). Cells that are numbers are written as they are; other text goes
/// through [`quantdesk_ingest::text_cell`] (no formula reaches a spreadsheet).
pub fn labeled_csv(file: &FileRows, report: &crate::regimes::RegimeReport) -> String {
    let (header, rows) = (&file.header, &file.rows);
    use std::fmt::Write as _;
    let cell = |s: &str| -> String {
        if s.trim().parse::<f64>().is_ok() { s.to_string() } else { quantdesk_ingest::text_cell(s).into_owned() }
    };
    let keep: Vec<usize> = (0..header.len()).filter(|&i| !LABEL_COLUMNS.contains(&&header[i])).collect();
    let mut head: Vec<String> = keep.iter().map(|&i| cell(&header[i])).collect();
    head.extend(LABEL_COLUMNS.iter().map(|s| s.to_string()));
    let mut out = head.join(",") + "\n";
    for (rec, row) in rows.iter().zip(&report.rows) {
        let mut cells: Vec<String> = keep.iter().map(|&i| cell(rec.get(i).unwrap_or(""))).collect();
        cells.push(row.pct_return.to_string());
        cells.push(row.key_indicator_filtered.to_string());
        cells.push(row.pct_return_filtered.to_string());
        cells.push(row.label.map(|l| l.to_string()).unwrap_or_default());
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_ids_are_version_4_uuids() {
        let (a, b) = (new_session_id(), new_session_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn uploads_become_csv_from_json_rows_or_csv_text() {
        let rows = json!([{"date": "2020-01-01", "adjcp": 1.5}, {"date": "2020-01-02", "adjcp": 2, "tic": "BTC"}]);
        let text = to_csv(&Value::String(rows.to_string())).unwrap();
        assert_eq!(text, "adjcp,date,tic\n1.5,2020-01-01,\n2,2020-01-02,BTC\n");
        assert_eq!(to_csv(&rows).unwrap(), text);
        assert_eq!(to_csv(&json!("date,adjcp\n2020-01-01,1\n")).unwrap(), "date,adjcp\n2020-01-01,1\n");
        for bad in [json!("date,adjcp\n2020-01-01\n"), json!("[]"), json!("just words"), json!([1, 2]), json!(3)] {
            assert_eq!(to_csv(&bad).unwrap_err().code(), "invalid_file", "{bad}");
        }
        assert!(dataset_name("btc.csv").is_ok_and(|n| n == "btc"));
        assert_eq!(dataset_name(".csv").unwrap_err().code(), "invalid_params");
        assert_eq!(dataset_name("a/b.csv").unwrap_err().code(), "invalid_params");
    }

    #[test]
    fn trademaster_parameters_map_onto_the_options() {
        let i = LabelingInput {
            number_of_market_style: Some(json!("4")),
            min_length_limit: Some(json!(24)),
            filter_strength: Some(json!("1")),
            max_length_expectation: Some(json!("144")),
            labeling_method: Some("DTW".into()),
            merging_metric: Some("DTW_distance".into()),
            merging_threshold: Some(json!("0.03")),
            merging_dynamic_constraint: Some(json!(1)),
            ..LabelingInput::default()
        };
        let o = i.options().unwrap();
        assert_eq!((o.dynamics, o.min_length, o.max_length, o.method), (4, 24, 144, Method::Dtw));
        let bad = LabelingInput { number_of_market_style: Some(json!("many")), ..LabelingInput::default() };
        assert_eq!(bad.options().unwrap_err().code(), "invalid_params");
        let bad = LabelingInput { merging_metric: Some("euclid".into()), ..LabelingInput::default() };
        assert!(bad.options().unwrap_err().message().contains("DTW_distance"));
        let bad = LabelingInput { number_of_market_style: Some(json!(1)), ..LabelingInput::default() };
        assert_eq!(bad.options().unwrap_err().field(), Some("dynamics"));
    }

    #[test]
    fn files_become_series_in_time_order() {
        let src = DatasetSource {
            session: "s".into(),
            name: "btc".into(),
            time_column: "date".into(),
            key_column: "adjcp".into(),
        };
        let (s, f) = dataset_series(&src, b"date,adjcp\n2020-01-01,1\n2020-01-02,2.5\n").unwrap();
        assert_eq!(
            (s.resolution, s.bars.len(), s.bars[1].close, f.header.len(), f.rows.len()),
            (Resolution::Day, 2, 2.5, 2, 2)
        );
        let (s, ..) = dataset_series(&src, b"date,adjcp\n2020-09-01 00:00:01,1\n2020-09-01 00:00:02,2\n").unwrap();
        assert_eq!(s.resolution, Resolution::Minutes(1));
        for bad in [
            &b"date,adjcp\n2020-01-02,1\n2020-01-01,2\n"[..],
            b"date,adjcp\nnope,1\n",
            b"date,adjcp\n2020-01-01,x\n",
            b"day,adjcp\n2020-01-01,1\n",
        ] {
            assert_eq!(dataset_series(&src, bad).unwrap_err().code(), "invalid_file");
        }
    }
}
