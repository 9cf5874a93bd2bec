//! The job catalogue: every kind of background job, with its parameters and its result as types.
//! The API validates a submission against its kind's parameters (and documents them), the
//! workers deserialize them and return the typed result, the command line and the pages read
//! results through the same types. JSON stays the storage format, so a job stored by an older
//! binary reads the same.

use quantdesk_backtest::BacktestConfig;
use quantdesk_backtest::metrics::Metrics;
use quantdesk_backtest::strategy::Params;
use quantdesk_backtest::sweep::SweepRow;
use quantdesk_backtest::voting::{Decision, RiskLevel};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;

/// The kinds of job the workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Backtest,
    Sweep,
    Decide,
    Import,
    Echo,
    Backup,
    Sync,
    Valuation,
    Regimes,
    #[serde(rename = "dynamics_test")]
    DynamicsTest,
    Report,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 11] = [
        JobKind::Backtest,
        JobKind::Sweep,
        JobKind::Decide,
        JobKind::Import,
        JobKind::Echo,
        JobKind::Backup,
        JobKind::Sync,
        JobKind::Valuation,
        JobKind::Regimes,
        JobKind::DynamicsTest,
        JobKind::Report,
    ];

    /// The kinds people submit (API, CLI, schedules). Backups are the operator's: they come from
    /// `backup_dir` and `backup_cron`, never from a request, so nobody points one at a path.
    pub const SUBMITTABLE: [JobKind; 10] = [
        JobKind::Backtest,
        JobKind::Sweep,
        JobKind::Decide,
        JobKind::Import,
        JobKind::Echo,
        JobKind::Sync,
        JobKind::Valuation,
        JobKind::Regimes,
        JobKind::DynamicsTest,
        JobKind::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backtest => "backtest",
            JobKind::Sweep => "sweep",
            JobKind::Decide => "decide",
            JobKind::Import => "import",
            JobKind::Echo => "echo",
            JobKind::Backup => "backup",
            JobKind::Sync => "sync",
            JobKind::Valuation => "valuation",
            JobKind::Regimes => "regimes",
            JobKind::DynamicsTest => "dynamics_test",
            JobKind::Report => "report",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A submittable kind by name; the error (malformed: the schema lists the kinds) names them all.
    pub fn parse_submittable(s: &str) -> Result<JobKind, AppError> {
        JobKind::parse(s).filter(|k| JobKind::SUBMITTABLE.contains(k)).ok_or_else(|| {
            AppError::malformed(format!("unknown job kind {s:?}; use one of {}", JobKind::submittable_names()))
        })
    }

    /// "backtest, sweep, decide, import, echo".
    pub fn submittable_names() -> String {
        JobKind::SUBMITTABLE.map(JobKind::as_str).join(", ")
    }

    /// The queue its jobs go to: backups to `backup` (taken only by workers with the backup
    /// volume), everything else to `default`.
    pub fn queue(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            _ => "default",
        }
    }

    /// Checks `params` against the kind's parameter type: the shape (fields and their types),
    /// not the rules a worker judges on the data (a symbol with no bars, an empty watchlist).
    /// Parameters that do not fit are invalid (`invalid_params`): the schema cannot tie a kind to
    /// its parameters, so a schema-valid request can still be refused here.
    pub fn check_params(self, params: &serde_json::Value) -> Result<(), AppError> {
        fn check<T: DeserializeOwned>(kind: JobKind, v: &serde_json::Value) -> Result<(), AppError> {
            T::deserialize(v).map(|_| ()).map_err(|e| {
                AppError::invalid(format!("params of a {} job: {e}", kind.as_str())).with_code("invalid_params")
            })
        }
        match self {
            JobKind::Backtest => {
                check::<BacktestParams>(self, params)?;
                let p: BacktestParams =
                    serde_json::from_value(params.clone()).map_err(|e| AppError::invalid(e.to_string()))?;
                p.check_rules(true)
            }
            JobKind::Sweep => {
                check::<SweepParams>(self, params)?;
                let p: SweepParams =
                    serde_json::from_value(params.clone()).map_err(|e| AppError::invalid(e.to_string()))?;
                p.run.check_rules(false)?;
                p.check_axes()
            }
            JobKind::Decide => check::<DecideParams>(self, params),
            JobKind::Import => check::<ImportParams>(self, params),
            JobKind::Echo => check::<EchoParams>(self, params),
            JobKind::Backup => check::<BackupParams>(self, params),
            JobKind::Sync => check::<crate::sync::SyncRequest>(self, params),
            JobKind::Valuation => {
                check::<crate::valuation::ValuationJobParams>(self, params)?;
                let p: crate::valuation::ValuationJobParams =
                    serde_json::from_value(params.clone()).map_err(|e| AppError::invalid(e.to_string()))?;
                crate::valuation::job_request(&p).map(|_| ())
            }
            JobKind::Regimes => {
                check::<crate::regimes::RegimesJobParams>(self, params)?;
                let p: crate::regimes::RegimesJobParams =
                    serde_json::from_value(params.clone()).map_err(|e| AppError::invalid(e.to_string()))?;
                p.check().map(|_| ())
            }
            JobKind::DynamicsTest => {
                check::<crate::regimes::DynamicsTestJobParams>(self, params)?;
                let p: crate::regimes::DynamicsTestJobParams =
                    serde_json::from_value(params.clone()).map_err(|e| AppError::invalid(e.to_string()))?;
                p.check().map(|_| ())
            }
            JobKind::Report => {
                check::<crate::reports::service::ReportJobParams>(self, params)?;
                let p: crate::reports::service::ReportJobParams =
                    serde_json::from_value(params.clone()).map_err(|e| AppError::invalid(e.to_string()))?;
                p.check().map(|_| ())
            }
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind's parameters, tied to the kind and to its result.
pub trait JobSpec: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: JobKind;
    /// What a job of this kind returns (stored as its result).
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

impl JobSpec for crate::valuation::ValuationJobParams {
    const KIND: JobKind = JobKind::Valuation;
    type Output = crate::valuation::ValuationJobResult;
}

impl JobSpec for crate::regimes::RegimesJobParams {
    const KIND: JobKind = JobKind::Regimes;
    type Output = crate::regimes::RegimesJobResult;
}

impl JobSpec for crate::regimes::DynamicsTestJobParams {
    const KIND: JobKind = JobKind::DynamicsTest;
    type Output = crate::regimes::DynamicsTestJobResult;
}

impl JobSpec for crate::sync::SyncRequest {
    const KIND: JobKind = JobKind::Sync;
    type Output = crate::sync::SyncReport;
}

/// `backtest` (and the data part of `sweep`): a built-in strategy over stored bars.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BacktestParams {
    /// Stored symbols, e.g. `["600519.SH"]`.
    pub symbols: Vec<String>,
    /// sma_cross (default), rsi, macd, bollinger, buy_and_hold or voting.
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// The strategy's parameters, e.g. `{"fast": 10, "slow": 30}`.
    #[serde(default)]
    pub params: Params,
    /// 1, 5, 15, 30, 60, 1D (default), 1W or 1M.
    #[serde(default = "default_resolution")]
    pub resolution: String,
    /// none, qfq (default) or hfq.
    #[serde(default = "default_adjustment")]
    pub adjustment: String,
    /// Cash, costs, market rules, fill: the engine's configuration (defaults when absent).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<BacktestConfig>,
    /// First day (or instant) of the bars used: `YYYY-MM-DD`, RFC 3339 or Unix seconds.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day used (a date includes that whole day), or an exclusive instant.
    #[serde(default)]
    pub to: Option<String>,
    /// A stored symbol whose buy-and-hold is drawn beside the equity and gives alpha and beta.
    #[serde(default)]
    pub benchmark: Option<String>,
}

impl BacktestParams {
    /// The rules beyond the shape: the engine configuration (costs within their ranges, cash
    /// above zero) and, when `params_whole` (a backtest; a sweep's base parameters are only
    /// complete with each grid point), the strategy's parameters against its declaration. The
    /// error names the field at fault (`params.fast`, `config.costs.commission_rate`).
    pub fn check_rules(&self, params_whole: bool) -> Result<(), AppError> {
        if let Some(c) = &self.config {
            c.validate().map_err(|e| {
                AppError::invalid(e.message).with_code("invalid_params").with_field(format!("config.{}", e.field))
            })?;
        }
        let named = |e: quantdesk_backtest::strategy::ParamError| {
            let field = e.field.as_ref().map_or_else(|| "strategy".to_string(), |f| format!("params.{f}"));
            AppError::invalid(e.message).with_code("invalid_params").with_field(field)
        };
        if params_whole {
            quantdesk_backtest::strategy::check(&self.strategy, &self.params).map_err(named)?;
        } else if quantdesk_backtest::strategy::parameters(&self.strategy).is_none() {
            quantdesk_backtest::strategy::check(&self.strategy, &Params::new()).map_err(named)?;
        }
        Ok(())
    }

    /// A daily qfq run of nothing in particular on `symbols`: what `decide` reads.
    pub fn daily(symbols: Vec<String>) -> Self {
        BacktestParams {
            symbols,
            strategy: String::new(),
            params: Params::default(),
            resolution: default_resolution(),
            adjustment: default_adjustment(),
            config: None,
            from: None,
            to: None,
            benchmark: None,
        }
    }
}

fn default_strategy() -> String {
    "sma_cross".into()
}
fn default_resolution() -> String {
    "1D".into()
}
fn default_adjustment() -> String {
    "qfq".into()
}
fn default_metric() -> String {
    "sharpe".into()
}

/// The result of a `backtest` job (the whole run is its `result.json` artifact).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BacktestOutcome {
    pub final_equity: f64,
    pub metrics: Metrics,
    /// Closed trades.
    pub trades: usize,
    pub data_fingerprint: String,
    pub engine_version: String,
    /// The run split by market regime (ex-post labels of the first symbol's bars); absent in
    /// results of older runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regimes: Option<crate::regimes::RegimeSplit>,
}

impl JobSpec for BacktestParams {
    const KIND: JobKind = JobKind::Backtest;
    type Output = BacktestOutcome;
}

/// `sweep`: a grid of parameters (or a random sample of it), ranked by one metric.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SweepParams {
    #[serde(flatten)]
    pub run: BacktestParams,
    /// Axes as `name=from:to:step` or `name=a,b,c`.
    pub grid: Vec<String>,
    /// Run this many random points of the grid instead of all of it.
    #[serde(default)]
    pub random: Option<usize>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// The metric that ranks the runs (default sharpe).
    #[serde(default = "default_metric")]
    pub metric: String,
}

/// The result of a `sweep` job: the best 20 runs (every run is the `sweep.json` artifact).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepOutcome {
    pub runs: usize,
    pub metric: String,
    pub top: Vec<SweepRow>,
}

impl SweepParams {
    /// Every axis parses and names a parameter the strategy declares.
    pub fn check_axes(&self) -> Result<(), AppError> {
        let specs = quantdesk_backtest::strategy::parameters(&self.run.strategy).unwrap_or(&[]);
        for (i, g) in self.grid.iter().enumerate() {
            let bad = |m: String| AppError::invalid(m).with_code("invalid_params").with_field(format!("grid.{i}"));
            let axis = quantdesk_backtest::sweep::Axis::parse(g).map_err(bad)?;
            if !specs.iter().any(|s| s.name == axis.name) {
                let takes: Vec<&str> = specs.iter().map(|s| s.name).collect();
                return Err(bad(format!(
                    "strategy {} has no parameter {:?}; it takes: {}",
                    self.run.strategy,
                    axis.name,
                    takes.join(", ")
                )));
            }
        }
        for name in self.run.params.keys() {
            if !specs.iter().any(|s| s.name == name) {
                return Err(AppError::invalid(format!("strategy {} has no parameter {name:?}", self.run.strategy))
                    .with_code("invalid_params")
                    .with_field(format!("params.{name}")));
            }
        }
        Ok(())
    }
}

impl JobSpec for SweepParams {
    const KIND: JobKind = JobKind::Sweep;
    type Output = SweepOutcome;
}

/// `decide`: the voting engine on the latest daily bars of a watchlist.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecideParams {
    pub symbols: Vec<String>,
    /// The confidence a decision needs (default 0.5).
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// One symbol's decision of a `decide` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub symbol: String,
    /// The trading date of the last bar used.
    pub date: Option<String>,
    pub decision: Decision,
    pub risk_level: RiskLevel,
}

/// The result of a `decide` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecideOutcome {
    pub decisions: Vec<DecisionRecord>,
}

impl JobSpec for DecideParams {
    const KIND: JobKind = JobKind::Decide;
    type Output = DecideOutcome;
}

/// One file of an `import` job, on the worker's file system.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportFileParams {
    pub path: String,
    /// The symbol of every row, for single-symbol files.
    #[serde(default)]
    pub symbol: Option<String>,
    /// The column holding symbols, for multi-symbol files.
    #[serde(default)]
    pub symbol_column: Option<String>,
    /// 1, 5, 15, 30, 60 or 1D (default).
    #[serde(default = "default_resolution")]
    pub resolution: String,
    /// IANA zone of local times in intraday files.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// `import`: bar files from the worker's disk, each whole or not at all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportParams {
    pub files: Vec<ImportFileParams>,
}

/// The outcome of a bar import.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub rows: u64,
    pub symbols: u64,
    pub bars: u64,
    pub factors: u64,
    pub instruments_created: u64,
    pub resolution: String,
    /// Bars that were new or differed from the stored ones (absent in results stored before
    /// quantdesk counted them).
    #[serde(default)]
    pub bars_changed: u64,
    /// Adjustment factors new or changed.
    #[serde(default)]
    pub factors_changed: u64,
    /// True when the import wrote nothing new: every row was already stored with the same values.
    #[serde(default)]
    pub unchanged: bool,
}

/// One imported file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportedFile {
    pub path: String,
    pub report: ImportReport,
}

/// The result of an `import` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportOutcome {
    pub files: Vec<ImportedFile>,
}

impl JobSpec for ImportParams {
    const KIND: JobKind = JobKind::Import;
    type Output = ImportOutcome;
}

/// `echo`: for operations checks and tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EchoParams {
    /// Sleep this long first, watching for cancellation.
    #[serde(default)]
    pub sleep_ms: Option<u64>,
    /// Fail transiently on this many first attempts.
    #[serde(default)]
    pub fail_times: Option<u64>,
    /// Returned as it is.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub value: Option<serde_json::Value>,
}

/// The result of an `echo` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EchoOutcome {
    pub value: serde_json::Value,
    pub attempt: u32,
}

impl JobSpec for EchoParams {
    const KIND: JobKind = JobKind::Echo;
    type Output = EchoOutcome;
}

/// `backup`: no parameters; the folder is the worker's `backup_dir`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct BackupParams {}

/// The result of a `backup` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupOutcome {
    pub file: String,
    pub bytes: u64,
    pub rows: u64,
    pub sha256: String,
    /// Files deleted by retention.
    pub deleted: Vec<String>,
}

impl JobSpec for BackupParams {
    const KIND: JobKind = JobKind::Backup;
    type Output = BackupOutcome;
}

/// A stored result read as its kind's type; `None` when absent or of another shape.
pub fn read_result<S: JobSpec>(result: Option<&str>) -> Option<S::Output> {
    result.and_then(|r| serde_json::from_str(r).ok())
}

/// Stored parameters read as their kind's type; `None` when of another shape.
pub fn read_params<S: JobSpec>(params: &str) -> Option<S> {
    serde_json::from_str(params).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    #[test]
    fn kinds_round_trip_and_only_submittable_ones_are_submitted() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        assert_eq!(
            JobKind::submittable_names(),
            "backtest, sweep, decide, import, echo, sync, valuation, regimes, dynamics_test, report"
        );
        assert!(JobKind::Regimes.check_params(&json!({"symbol": "BTC", "options": {"dynamics": 4}})).is_ok());
        let e = JobKind::Regimes.check_params(&json!({"symbol": "BTC", "options": {"min_length": 1}})).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_params", Some("options.min_length")));
        assert_eq!(
            JobKind::Regimes.check_params(&json!({"symbol": "BTC", "nope": 1})).unwrap_err().code(),
            "invalid_params"
        );
        assert!(
            JobKind::DynamicsTest
                .check_params(&json!({"symbol": "BTC", "agent": "sma_cross", "params": {"fast": 5}, "label": 2}))
                .is_ok()
        );
        for bad in [
            json!({"symbol": "BTC", "agent": "sma_cross", "params": {"fast": 50}}),
            json!({"symbol": "BTC", "agent": "nope"}),
            json!({"symbol": "BTC", "label": 3}),
            json!({"symbol": "BTC", "resolution": "2D"}),
        ] {
            assert_eq!(JobKind::DynamicsTest.check_params(&bad).unwrap_err().code(), "invalid_params", "{bad}");
        }
        assert!(JobKind::Sync.check_params(&json!({"what": "bars", "symbols": ["600519.SH"]})).is_ok());
        assert!(JobKind::Valuation.check_params(&json!({"symbols": ["600519.SH"], "preset": "bear"})).is_ok());
        assert_eq!(
            JobKind::Valuation.check_params(&json!({"all": true, "preset": "moon"})).unwrap_err().code(),
            "invalid_params"
        );
        let e = JobKind::Sync.check_params(&json!({"what": "everything"})).unwrap_err();
        assert_eq!(e.code(), "invalid_params");
        assert!(JobKind::parse_submittable("backup").is_err());
        assert!(JobKind::parse_submittable("nope").unwrap_err().to_string().contains("use one of backtest"));
        assert_eq!(JobKind::Backup.queue(), "backup");
        assert_eq!(JobKind::Sweep.queue(), "default");
    }

    #[test]
    fn params_are_checked_by_shape() {
        assert!(JobKind::Backtest.check_params(&json!({"symbols": ["600519.SH"]})).is_ok());
        let e = JobKind::Backtest.check_params(&json!({"symbols": "600519.SH"})).unwrap_err();
        assert!(e.kind() == ErrorKind::Invalid && e.message().contains("params of a backtest job"), "{e}");
        assert_eq!(e.code(), "invalid_params");
        assert!(JobKind::Sweep.check_params(&json!({"symbols": ["X"]})).is_err(), "a sweep needs a grid");
        assert!(JobKind::Sweep.check_params(&json!({"symbols": ["X"], "grid": ["fast=5:10:5"]})).is_ok());
        assert!(JobKind::Decide.check_params(&json!({"symbols": []})).is_ok(), "emptiness is the worker's rule");
        assert!(JobKind::Import.check_params(&json!({"files": [{"path": "/x.csv"}]})).is_ok());
        assert!(JobKind::Import.check_params(&json!({"files": "x"})).is_err());
        assert!(JobKind::Echo.check_params(&json!({})).is_ok());
        assert!(JobKind::Echo.check_params(&json!({"sleep_ms": -1})).is_err());
        let p: BacktestParams = serde_json::from_value(json!({"symbols": ["A"]})).unwrap();
        assert_eq!((p.strategy.as_str(), p.resolution.as_str(), p.adjustment.as_str()), ("sma_cross", "1D", "qfq"));
    }
}
