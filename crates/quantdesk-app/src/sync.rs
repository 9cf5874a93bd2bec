//! The sync service: what to fetch from outside sources and how it lands in the store.
//!
//! `quantdesk sync …`, the `sync` job kind, `POST /api/v1/sync` and the evening `sync-daily`
//! schedule all run [`SyncService::run`]. The connectors (`quantdesk-connectors`) speak the
//! vendors' protocols; this module decides which source answers, which dates are missing, and
//! writes through the store:
//!
//! - bars: per symbol, one import session (bars and a replaced factor history together), so a
//!   failure halfway through a symbol leaves it as it was; without `start` a sync continues after
//!   the last stored bar, and a factor that differs from the last stored one (an ex-rights day)
//!   makes it re-read the whole factor history;
//! - a whole-market sync on a source that can answer by trading date asks one call per date for
//!   every stock when that is fewer calls than one per symbol (the evening sync);
//! - statements: per (symbol, statement), one transaction;
//! - the instrument master and the calendar: one transaction each.
//!
//! Each failing symbol is reported with its reason; the others land.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use quantdesk_connectors::{
    CallCounts, Capability, DailyBar, ErrorKind as SourceErrorKind, Source, SourceError, SourceId,
};
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Statement, Symbol};
use quantdesk_store::financials::SourceCalls;
use quantdesk_store::{BarSeriesWrite, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;

/// The earliest date a history sync asks for when nothing is stored and no `start` is given.
pub const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(2005, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// The configured sources, in fallback order, without those lacking credentials.
#[derive(Clone, Default)]
pub struct Sources {
    list: Vec<Arc<dyn Source>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.list.iter().map(|s| s.id())).finish()
    }
}

impl Sources {
    pub fn new(list: Vec<Arc<dyn Source>>) -> Self {
        Sources { list }
    }

    /// The sources of the configuration, in `data_sources` order; TuShare only with a token. A
    /// source whose client cannot be built (no TLS roots, say) is left out with a log line.
    pub fn from_config(cfg: &crate::config::SourcesConfig) -> Self {
        use quantdesk_connectors::{eastmoney::Eastmoney, http::SourceSettings, tushare::Tushare, yahoo::Yahoo};
        let timeout = std::time::Duration::from_secs(cfg.source_timeout_secs.max(1));
        let settings = |id: SourceId, url: &str, per_minute: u32| {
            let defaults = SourceSettings::for_source(id);
            let backoff = defaults.backoff_base;
            defaults
                .with_base_url(url)
                .with_calls_per_minute(per_minute)
                .with_timeout(timeout)
                .with_retries(cfg.source_retries, backoff)
        };
        let mut list: Vec<Arc<dyn Source>> = Vec::new();
        for name in &cfg.data_sources {
            let built: Result<Arc<dyn Source>, SourceError> = match SourceId::parse(name) {
                Ok(id @ SourceId::Tushare) => {
                    if cfg.tushare_token.expose().trim().is_empty() {
                        continue;
                    }
                    Tushare::new(
                        settings(id, &cfg.tushare_url, cfg.tushare_calls_per_minute)
                            .with_token(cfg.tushare_token.expose().trim()),
                    )
                    .map(|s| Arc::new(s) as Arc<dyn Source>)
                }
                Ok(id @ SourceId::Eastmoney) => {
                    Eastmoney::new(settings(id, &cfg.eastmoney_url, cfg.eastmoney_calls_per_minute))
                        .map(|s| Arc::new(s) as Arc<dyn Source>)
                }
                Ok(id @ SourceId::Yahoo) => Yahoo::new(settings(id, &cfg.yahoo_url, cfg.yahoo_calls_per_minute))
                    .map(|s| Arc::new(s) as Arc<dyn Source>),
                Err(_) => continue,
            };
            match built {
                Ok(s) if !list.iter().any(|x| x.id() == s.id()) => list.push(s),
                Ok(_) => {}
                Err(e) => tracing::error!(source = %name, error = %e, "the source cannot be used"),
            }
        }
        Sources { list }
    }

    pub fn all(&self) -> &[Arc<dyn Source>] {
        &self.list
    }

    pub fn get(&self, id: SourceId) -> Option<Arc<dyn Source>> {
        self.list.iter().find(|s| s.id() == id).cloned()
    }

    /// The source to use: `wanted` if given (an error if it is not configured or cannot do
    /// `capability`), else the first configured one that can.
    pub fn pick(&self, wanted: Option<SourceId>, capability: Capability) -> Result<Arc<dyn Source>, AppError> {
        match wanted {
            Some(id) => {
                let s = self.get(id).ok_or_else(|| {
                    AppError::invalid(format!(
                        "the source {id} is not configured{}",
                        if id == SourceId::Tushare { " (set tushare_token or QUANTDESK_TUSHARE_TOKEN)" } else { "" }
                    ))
                    .with_code("source_not_configured")
                })?;
                if !s.has(capability) {
                    return Err(AppError::invalid(format!("{id} does not provide {}", capability_name(capability)))
                        .with_code("source_unsupported"));
                }
                Ok(s)
            }
            None => self.list.iter().find(|s| s.has(capability)).cloned().ok_or_else(|| {
                AppError::invalid(format!(
                    "no configured source provides {}; configure one (data_sources, tushare_token)",
                    capability_name(capability)
                ))
                .with_code("source_not_configured")
            }),
        }
    }
}

/// Calls per minute configured per source (0: no limiter), for plans.
pub fn rate_limits(cfg: &crate::config::SourcesConfig) -> HashMap<SourceId, u32> {
    HashMap::from([
        (SourceId::Tushare, cfg.tushare_calls_per_minute),
        (SourceId::Eastmoney, cfg.eastmoney_calls_per_minute),
        (SourceId::Yahoo, cfg.yahoo_calls_per_minute),
    ])
}

fn capability_name(c: Capability) -> &'static str {
    match c {
        Capability::Instruments => "an instrument master",
        Capability::Calendar => "a trading calendar",
        Capability::DailyBars => "daily bars",
        Capability::Factors => "adjustment factors",
        Capability::MarketDaily => "whole-market daily bars",
        Capability::Statements => "financial statements",
        Capability::Quote => "quotes",
    }
}

/// What a sync fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncWhat {
    Instruments,
    Calendar,
    Bars,
    Financials,
    /// What the evening schedule runs: the calendar, then bars of every instrument with stored
    /// daily bars, then (with a statements source) their statements.
    All,
}

impl SyncWhat {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncWhat::Instruments => "instruments",
            SyncWhat::Calendar => "calendar",
            SyncWhat::Bars => "bars",
            SyncWhat::Financials => "financials",
            SyncWhat::All => "all",
        }
    }
}

/// A sync request: the parameters of the `sync` job kind, `POST /api/v1/sync` and `quantdesk sync`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    pub what: SyncWhat,
    /// `tushare`, `eastmoney` or `yahoo`; by default the first configured source that can.
    #[serde(default)]
    pub source: Option<String>,
    /// TuShare codes (`600519.SH`) or tickers.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Every instrument with stored daily bars (for `bars`, `financials`).
    #[serde(default)]
    pub all: bool,
    /// First date (`YYYY-MM-DD`); without it a bar sync continues after the last stored bar.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub start: Option<NaiveDate>,
    /// Last date, inclusive; today by default.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub end: Option<NaiveDate>,
    /// Calendar exchange (`SSE`, `SZSE`, `BSE`); `SSE` by default.
    #[serde(default)]
    pub exchange: Option<String>,
    /// Years of statements (financials); 5 by default, at most 30.
    #[serde(default)]
    pub years: Option<u32>,
    /// Do nothing on a day the stored SSE calendar says is closed (the evening schedule).
    #[serde(default)]
    pub only_trading_days: bool,
}

impl SyncRequest {
    pub fn new(what: SyncWhat) -> Self {
        SyncRequest {
            what,
            source: None,
            symbols: Vec::new(),
            all: false,
            start: None,
            end: None,
            exchange: None,
            years: None,
            only_trading_days: false,
        }
    }

    /// The rules the schema cannot state: known source, valid symbols, dates in order, a target
    /// for bars and financials.
    pub fn check(&self) -> Result<Checked, AppError> {
        let source = match self.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(SourceId::parse(s).map_err(|e| AppError::invalid(e.message).with_code("invalid_params"))?),
            None => None,
        };
        let mut symbols = Vec::with_capacity(self.symbols.len());
        for raw in &self.symbols {
            symbols.push(parse_sync_symbol(raw)?);
        }
        if let (Some(a), Some(b)) = (self.start, self.end)
            && a > b
        {
            return Err(AppError::invalid(format!("start {a} is after end {b}")).with_code("invalid_params"));
        }
        if matches!(self.what, SyncWhat::Bars | SyncWhat::Financials) && symbols.is_empty() && !self.all {
            return Err(AppError::invalid(format!("sync {} needs symbols or all = true", self.what.as_str()))
                .with_code("invalid_params"));
        }
        if self.all && !symbols.is_empty() {
            return Err(AppError::invalid("give symbols or all, not both").with_code("invalid_params"));
        }
        let exchange = self.exchange.as_deref().unwrap_or("SSE").trim().to_ascii_uppercase();
        if !["SSE", "SZSE", "BSE"].contains(&exchange.as_str()) {
            return Err(AppError::invalid(format!("unknown exchange {exchange:?}: use SSE, SZSE or BSE"))
                .with_code("invalid_params"));
        }
        let years = self.years.unwrap_or(5);
        if !(1..=30).contains(&years) {
            return Err(AppError::invalid("years must be between 1 and 30").with_code("invalid_params"));
        }
        Ok(Checked { source, symbols, exchange, years })
    }
}

/// A request's values after [`SyncRequest::check`].
#[derive(Debug, Clone)]
pub struct Checked {
    pub source: Option<SourceId>,
    pub symbols: Vec<Symbol>,
    pub exchange: String,
    pub years: u32,
}

/// A symbol for a sync: a TuShare code or a ticker, never the bare six digits of an A-share code
/// (which exchange would it be?).
pub fn parse_sync_symbol(raw: &str) -> Result<Symbol, AppError> {
    let t = raw.trim();
    if t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid(format!(
            "{t:?} is ambiguous: write the exchange too ({t}.SH, {t}.SZ or {t}.BJ)"
        ))
        .with_code("invalid_symbol"));
    }
    Symbol::new(t).map_err(|e| AppError::invalid(e.0).with_code("invalid_symbol"))
}

/// One symbol (or statement) that did not land, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncFailure {
    pub symbol: String,
    /// The statement, for financials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// A stable code: `bad_token`, `no_permission`, `rate_limited`, `timeout`, `unavailable`,
    /// `malformed`, `vendor_error`, `not_found`, `unsupported`, `store`.
    pub code: String,
    pub message: String,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncReport {
    pub what: String,
    /// Sources that answered, in order of use.
    pub sources: Vec<String>,
    /// Symbols whose data landed (bars or statements), ascending.
    pub landed: Vec<String>,
    /// Symbols already up to date (nothing to fetch).
    pub up_to_date: Vec<String>,
    pub failed: Vec<SyncFailure>,
    pub instruments: u64,
    pub calendar_days: u64,
    pub bars: u64,
    pub factors: u64,
    /// Symbols whose factor history was re-read after a new factor.
    pub factor_rereads: u64,
    pub statement_rows: u64,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// `per_symbol` or `by_date` (bars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Set when the sync did nothing on purpose (the schedule on a closed day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl SyncReport {
    fn fail(&mut self, symbol: &Symbol, statement: Option<Statement>, e: &SyncError) {
        self.failed.push(SyncFailure {
            symbol: symbol.to_string(),
            statement: statement.map(|s| s.as_str().to_string()),
            code: e.code().to_string(),
            message: e.to_string(),
        });
    }
}

/// A failure inside one symbol's sync.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("could not store: {0}")]
    Store(#[from] quantdesk_store::StoreError),
    #[error("{0}")]
    Data(String),
}

impl SyncError {
    fn code(&self) -> &'static str {
        match self {
            SyncError::Source(e) => e.kind.code(),
            SyncError::Store(_) => "store",
            SyncError::Data(_) => "malformed",
        }
    }
}

/// The plan of a bar sync before it runs: calls, time under the rate limit, points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncPlan {
    pub what: String,
    pub source: String,
    /// `per_symbol` or `by_date`.
    pub mode: String,
    pub symbols: u64,
    /// Trading days (or calendar days where no calendar is stored) to fetch.
    pub days: u64,
    /// Calls this plan makes (an estimate: paging may add a few).
    pub calls: u64,
    /// The configured calls per minute of the source (0: no limiter).
    pub calls_per_minute: u32,
    /// Seconds the calls take under the rate limiter alone.
    pub seconds: u64,
    /// TuShare points the APIs need (the highest among the APIs used), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_needed: Option<u32>,
    pub notes: Vec<String>,
}

/// Progress: a fraction in [0, 1] and a line for people.
pub type Progress<'a> = &'a (dyn Fn(f64, &str) + Send + Sync);

/// Runs syncs against a store.
pub struct SyncService<'a> {
    pub store: &'a dyn Store,
    pub sources: &'a Sources,
    /// Today in Asia/Shanghai (passed in: the service reads no clock).
    pub today: NaiveDate,
    /// Calls per minute configured per source, for plans.
    pub rate_limits: HashMap<SourceId, u32>,
    /// Asked between symbols: true stops the sync (what landed stays; each symbol is whole).
    pub stop: Option<&'a (dyn Fn() -> bool + Send + Sync)>,
}

/// A daily bar as stored: 00:00 UTC of its trading date.
pub fn to_bar(b: &DailyBar) -> Bar {
    Bar {
        time: b.date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or_default(),
        open: b.open,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: b.volume,
        amount: b.amount,
    }
}

fn bar_date(time: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp(time, 0).unwrap_or_default().date_naive()
}

/// Keeps only the factors that differ from the one before (the first always), starting from
/// `last_stored` (nothing dropped against it when `None`).
fn change_points(factors: &[AdjFactor], last_stored: Option<f64>) -> Vec<AdjFactor> {
    let mut out = Vec::new();
    let mut prev = last_stored;
    for f in factors {
        if prev != Some(f.factor) {
            out.push(*f);
            prev = Some(f.factor);
        }
    }
    out
}

impl<'a> SyncService<'a> {
    pub fn new(store: &'a dyn Store, sources: &'a Sources, today: NaiveDate) -> Self {
        SyncService { store, sources, today, rate_limits: HashMap::new(), stop: None }
    }

    /// `Err` (code `cancelled`) once [`SyncService::stop`] says so.
    fn check_stop(&self) -> Result<(), AppError> {
        match self.stop {
            Some(stop) if stop() => Err(AppError::conflict("the sync was cancelled").with_code("cancelled")),
            _ => Ok(()),
        }
    }

    /// The requests sent so far by every source (for reports and the source status).
    fn requests(&self) -> HashMap<SourceId, CallCounts> {
        self.sources.all().iter().map(|s| (s.id(), s.calls())).collect()
    }

    /// Runs the request. Per-symbol failures are in the report; an error means nothing could be
    /// done at all (a bad request, no source, the master or the calendar failing).
    pub async fn run(&self, req: &SyncRequest, progress: Progress<'_>) -> Result<SyncReport, AppError> {
        let checked = req.check()?;
        let mut report = SyncReport { what: req.what.as_str().to_string(), ..SyncReport::default() };
        if req.only_trading_days && !self.is_trading_day(self.today).await? {
            report.skipped = Some(format!("{} is not a trading day", self.today));
            return Ok(report);
        }
        let before = self.requests();
        let result = match req.what {
            SyncWhat::Instruments => self.sync_instruments(&checked, &mut report).await,
            SyncWhat::Calendar => self.sync_calendar(req, &checked, &mut report).await,
            SyncWhat::Bars => {
                let symbols = self.targets(&checked, req.all).await?;
                self.sync_bars(req, &checked, &symbols, &mut report, progress).await
            }
            SyncWhat::Financials => {
                let symbols = self.targets(&checked, req.all).await?;
                self.sync_financials(&checked, &symbols, &mut report, progress).await
            }
            SyncWhat::All => self.sync_all(req, &checked, &mut report, progress).await,
        };
        report.requests = self
            .sources
            .all()
            .iter()
            .map(|s| s.calls().requests.saturating_sub(before.get(&s.id()).map_or(0, |c| c.requests)))
            .sum();
        let error = result.as_ref().err().map(|e| e.message().to_string());
        self.record_calls(&before, &report, error).await;
        result?;
        report.landed.sort();
        report.landed.dedup();
        report.up_to_date.sort();
        report.up_to_date.dedup();
        Ok(report)
    }

    /// Adds the calls each source made during this sync to its status, with the outcome.
    async fn record_calls(&self, before: &HashMap<SourceId, CallCounts>, report: &SyncReport, error: Option<String>) {
        let now_ms = crate::clock::now_ms();
        let last_failure = error.map(|m| (now_ms, m)).or_else(|| {
            report
                .failed
                .iter()
                .rev()
                .find(|f| f.code != "store")
                .map(|f| (now_ms, format!("{}: {}", f.symbol, f.message)))
        });
        for s in self.sources.all() {
            let after = s.calls();
            let was = before.get(&s.id()).copied().unwrap_or_default();
            let calls = after.requests.saturating_sub(was.requests);
            if calls == 0 {
                continue;
            }
            let failures = after.failures.saturating_sub(was.failures);
            let answered = report.sources.iter().any(|n| n == s.id().as_str());
            let record = SourceCalls {
                source: s.id().as_str().to_string(),
                day: self.today,
                calls,
                last_success_ms: answered.then_some(now_ms),
                last_error: if failures > 0 || !answered { last_failure.clone() } else { None },
            };
            if let Err(e) = self.store.record_source_calls(&record).await {
                tracing::warn!(error = %e, source = s.id().as_str(), "could not record source calls");
            }
        }
    }

    /// The symbols of a bar or statement sync: those asked for, or every instrument with stored
    /// daily bars.
    async fn targets(&self, checked: &Checked, all: bool) -> Result<Vec<Symbol>, AppError> {
        if !all {
            return Ok(checked.symbols.clone());
        }
        Ok(self.store.symbols_with(Resolution::Day).await?)
    }

    async fn sync_instruments(&self, checked: &Checked, report: &mut SyncReport) -> Result<(), AppError> {
        let source = self.sources.pick(checked.source, Capability::Instruments)?;
        let records = source.instruments().await.map_err(source_error)?;
        let items: Vec<Instrument> = records.into_iter().map(instrument_of).collect();
        for i in &items {
            i.validate().map_err(|e| AppError::invalid(format!("{} sent an invalid instrument: {e}", source.id())))?;
        }
        report.instruments = self.store.upsert_instruments(&items).await?;
        report.sources.push(source.id().to_string());
        Ok(())
    }

    async fn sync_calendar(
        &self,
        req: &SyncRequest,
        checked: &Checked,
        report: &mut SyncReport,
    ) -> Result<(), AppError> {
        let source = self.sources.pick(checked.source, Capability::Calendar)?;
        let start = req.start.unwrap_or(NaiveDate::from_ymd_opt(1990, 12, 19).unwrap_or(DEFAULT_START));
        let end = req.end.unwrap_or_else(|| NaiveDate::from_ymd_opt(self.today.year(), 12, 31).unwrap_or(self.today));
        let days = source.calendar(&checked.exchange, start, end).await.map_err(source_error)?;
        let open: Vec<NaiveDate> = days.iter().filter(|d| d.open).map(|d| d.date).collect();
        self.store.add_trading_days(&checked.exchange, &open).await?;
        report.calendar_days = open.len() as u64;
        report.sources.push(source.id().to_string());
        Ok(())
    }

    async fn sync_all(
        &self,
        req: &SyncRequest,
        checked: &Checked,
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<(), AppError> {
        if self.sources.all().iter().any(|s| s.has(Capability::Calendar)) {
            let mut cal = SyncRequest::new(SyncWhat::Calendar);
            cal.start = Some(self.today - chrono::Days::new(31));
            let cal_checked = Checked { source: None, ..checked.clone() };
            if let Err(e) = self.sync_calendar(&cal, &cal_checked, report).await {
                tracing::warn!(error = %e, "the calendar could not be synced; going on with bars");
            }
        }
        let symbols = self.store.symbols_with(Resolution::Day).await?;
        self.sync_bars(req, checked, &symbols, report, progress).await?;
        if self.sources.all().iter().any(|s| s.has(Capability::Statements)) {
            let stocks: Vec<Symbol> = symbols.into_iter().filter(|s| s.exchange().is_a_share()).collect();
            // Statements change a few times a year: the evening sync re-reads only this year's and
            // last year's periods.
            let recent = Checked { years: 1, ..checked.clone() };
            let mut statements = SyncReport::default();
            self.sync_financials(&recent, &stocks, &mut statements, progress).await?;
            report.statement_rows += statements.statement_rows;
            report.failed.extend(statements.failed);
            for s in statements.sources {
                if !report.sources.contains(&s) {
                    report.sources.push(s);
                }
            }
        }
        Ok(())
    }

    /// Trading dates from `start` to `end` inclusive: the stored calendar of `exchange` where it
    /// covers the span (from within a fortnight of `start`, for holidays, to `end` at least),
    /// else weekdays.
    async fn trading_dates(
        &self,
        exchange: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<NaiveDate>, AppError> {
        let slack = chrono::Days::new(15);
        let cal = self.store.trading_days(exchange, start - slack, end + slack).await?;
        // A calendar synced from the exchange reaches past `end` (TuShare's runs to the year's
        // end); one learned from stored bars stops at the last bar and cannot say whether the
        // days after it trade.
        let covered = matches!((cal.first(), cal.last()), (Some(f), Some(l)) if *f <= start + slack && *l >= end);
        if covered {
            return Ok(cal.into_iter().filter(|d| *d >= start && *d <= end).collect());
        }
        let mut out = Vec::new();
        let mut d = start;
        while d <= end {
            if d.weekday().number_from_monday() <= 5 {
                out.push(d);
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
        }
        Ok(out)
    }

    /// Whether the SSE trades on `day`: the stored calendar when it reaches that far, else
    /// whether it is a weekday.
    pub async fn is_trading_day(&self, day: NaiveDate) -> Result<bool, AppError> {
        Ok(self.trading_dates("SSE", day, day).await?.contains(&day))
    }

    /// Where each symbol's sync starts: `start`, else the day after its last stored daily bar,
    /// else [`DEFAULT_START`] (or the listing date, when later).
    async fn start_of(&self, symbol: &Symbol, start: Option<NaiveDate>) -> Result<(NaiveDate, bool), AppError> {
        if let Some(s) = start {
            return Ok((s, false));
        }
        let series = self.store.series(symbol).await?;
        if let Some(day) = series.iter().find(|s| s.resolution == Resolution::Day) {
            return Ok((bar_date(day.last).succ_opt().unwrap_or(self.today), true));
        }
        let listed = self.store.instrument(symbol).await?.and_then(|i| i.list_date);
        Ok((listed.map_or(DEFAULT_START, |l| l.max(DEFAULT_START)), false))
    }

    /// Builds the plan of a bar sync.
    pub async fn plan(&self, req: &SyncRequest) -> Result<SyncPlan, AppError> {
        let checked = req.check()?;
        let symbols = match req.what {
            SyncWhat::Bars | SyncWhat::Financials => self.targets(&checked, req.all).await?,
            SyncWhat::All => self.store.symbols_with(Resolution::Day).await?,
            SyncWhat::Instruments | SyncWhat::Calendar => Vec::new(),
        };
        let capability = match req.what {
            SyncWhat::Instruments => Capability::Instruments,
            SyncWhat::Calendar => Capability::Calendar,
            SyncWhat::Financials => Capability::Statements,
            SyncWhat::Bars | SyncWhat::All => Capability::DailyBars,
        };
        let source = self.sources.pick(checked.source, capability)?;
        let per_minute = self.rate_limits.get(&source.id()).copied().unwrap_or(0);
        let end = req.end.unwrap_or(self.today);
        let mut notes = Vec::new();
        let (mode, days, calls) = match req.what {
            SyncWhat::Instruments => ("single".to_string(), 0, 3),
            SyncWhat::Calendar => ("single".to_string(), 0, 1),
            SyncWhat::Financials => {
                let per = Statement::ALL.len() as u64;
                ("per_symbol".to_string(), 0, symbols.len() as u64 * per)
            }
            SyncWhat::Bars | SyncWhat::All => {
                let mut earliest = end;
                let mut per_symbol_calls = 0u64;
                let mut days_total = 0u64;
                for s in &symbols {
                    let (start, _) = self.start_of(s, req.start).await?;
                    if start > end {
                        continue;
                    }
                    earliest = earliest.min(start);
                    let days = self.trading_dates(&exchange_of(s), start, end).await?.len() as u64;
                    days_total = days_total.max(days);
                    // daily and adj_factor, each paged by 6,000 rows.
                    per_symbol_calls += 2 * days.div_ceil(6000).max(1);
                }
                let dates =
                    if symbols.is_empty() { 0 } else { self.trading_dates("SSE", earliest, end).await?.len() as u64 };
                let by_date_calls = 2 * dates;
                if source.has(Capability::MarketDaily) && by_date_calls < per_symbol_calls {
                    notes.push(format!(
                        "asking by trading date: {by_date_calls} calls instead of {per_symbol_calls} per symbol"
                    ));
                    ("by_date".to_string(), dates, by_date_calls)
                } else {
                    ("per_symbol".to_string(), days_total, per_symbol_calls)
                }
            }
        };
        let seconds = if per_minute == 0 { 0 } else { (calls * 60).div_ceil(u64::from(per_minute)) };
        let points_needed = (source.id() == SourceId::Tushare).then_some(match req.what {
            SyncWhat::Financials | SyncWhat::All => 2000,
            _ => 120,
        });
        if source.id() == SourceId::Tushare {
            notes.push("points: daily, adj_factor, trade_cal and stock_basic need 120; the statements 2000".into());
        }
        Ok(SyncPlan {
            what: req.what.as_str().to_string(),
            source: source.id().to_string(),
            mode,
            symbols: symbols.len() as u64,
            days,
            calls,
            calls_per_minute: per_minute,
            seconds,
            points_needed,
            notes,
        })
    }

    async fn sync_bars(
        &self,
        req: &SyncRequest,
        checked: &Checked,
        symbols: &[Symbol],
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<(), AppError> {
        let source = self.sources.pick(checked.source, Capability::DailyBars)?;
        let end = req.end.unwrap_or(self.today);
        // Where each symbol starts.
        let mut starts = Vec::with_capacity(symbols.len());
        for s in symbols {
            let (start, incremental) = self.start_of(s, req.start).await?;
            if start > end {
                report.up_to_date.push(s.to_string());
            } else {
                starts.push((s.clone(), start, incremental));
            }
        }
        if starts.is_empty() {
            report.mode = Some("per_symbol".into());
            return Ok(());
        }
        if source.has(Capability::MarketDaily) && starts.iter().all(|(s, ..)| s.exchange().is_a_share()) {
            let earliest = starts.iter().map(|(_, s, _)| *s).min().unwrap_or(end);
            let dates = self.trading_dates("SSE", earliest, end).await?;
            let mut per_symbol_calls = 0u64;
            for (s, start, _) in &starts {
                let days = self.trading_dates(&exchange_of(s), *start, end).await?.len() as u64;
                per_symbol_calls += 2 * days.div_ceil(6000).max(1);
            }
            if (2 * dates.len() as u64) < per_symbol_calls {
                report.mode = Some("by_date".into());
                return self.sync_bars_by_date(source, &starts, &dates, report, progress).await;
            }
        }
        report.mode = Some("per_symbol".into());
        let total = starts.len();
        let mut answered = false;
        for (i, (symbol, start, incremental)) in starts.iter().enumerate() {
            self.check_stop()?;
            progress(i as f64 / total as f64, &format!("{symbol}: bars from {start}"));
            match self.sync_symbol(source.as_ref(), symbol, *start, end, *incremental, report).await {
                Ok(true) => {
                    answered = true;
                    report.landed.push(symbol.to_string());
                }
                Ok(false) => {
                    answered = true;
                    report.up_to_date.push(symbol.to_string());
                }
                Err(e) => {
                    if matches!(&e, SyncError::Source(se) if se.kind != SourceErrorKind::NotFound) {
                        tracing::warn!(symbol = %symbol, source = %source.id(), error = %e, "bar sync failed");
                    }
                    report.fail(symbol, None, &e);
                }
            }
        }
        if answered {
            report.sources.push(source.id().to_string());
        }
        progress(1.0, "bars synced");
        Ok(())
    }

    /// One symbol's bars and factors from `start` to `end`, in one import session. `Ok(false)`
    /// when the source had nothing new.
    async fn sync_symbol(
        &self,
        source: &dyn Source,
        symbol: &Symbol,
        start: NaiveDate,
        end: NaiveDate,
        incremental: bool,
        report: &mut SyncReport,
    ) -> Result<bool, SyncError> {
        let daily = source.daily(symbol, start, end).await?;
        let bars = checked_bars(symbol, &daily)?;
        let stored = self.store.adj_factors(symbol).await?;
        let mut reread = None;
        if source.has(Capability::Factors) {
            let last = stored.last().map(|f| f.factor);
            // An incremental sync also asks for the last stored day, so a change is seen against
            // the vendor's own value for it: sources whose factors are relative to the span asked
            // (Yahoo's start at 1 on its first day) compare like cumulative ones (TuShare's).
            let overlap = start.pred_opt().unwrap_or(start);
            let from = if incremental { overlap } else { start };
            let fetched = source.factors(symbol, from, end).await?;
            check_factors(symbol, &fetched)?;
            let history = if incremental {
                let base = fetched.iter().find(|f| f.date == overlap).map(|f| f.factor).or(last);
                let changed = fetched.iter().any(|f| Some(f.factor) != base);
                if changed || (last.is_none() && !fetched.is_empty()) {
                    // A new corporate action (or factors never stored): the vendor's whole
                    // history is re-read, so qfq is right on both sides of the ex-rights day.
                    Some(source.factors(symbol, DEFAULT_START.min(start), end).await?)
                } else {
                    None
                }
            } else {
                let day = start.and_hms_opt(0, 0, 0).map_or(i64::MIN, |t| t.and_utc().timestamp());
                if self.store.bar_before(symbol, Resolution::Day, day).await?.is_some() && !fetched.is_empty() {
                    // An explicit start inside a stored history: only the whole history puts the
                    // new factors and the older ones on one scale.
                    Some(source.factors(symbol, DEFAULT_START.min(start), end).await?)
                } else {
                    Some(fetched)
                }
            };
            if let Some(history) = history {
                check_factors(symbol, &history)?;
                let points = change_points(&history, None);
                if points != stored {
                    reread = Some(points);
                }
            }
        }
        if bars.is_empty() && reread.is_none() {
            return Ok(false);
        }
        self.land(symbol, &bars, &[], reread.as_deref(), incremental, report).await?;
        Ok(true)
    }

    /// Whole-market bars by trading date: one `daily` and one `adj_factor` call per date, kept
    /// for the symbols asked for, written per symbol.
    async fn sync_bars_by_date(
        &self,
        source: Arc<dyn Source>,
        starts: &[(Symbol, NaiveDate, bool)],
        dates: &[NaiveDate],
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<(), AppError> {
        let wanted: HashMap<&Symbol, NaiveDate> = starts.iter().map(|(s, d, _)| (s, *d)).collect();
        let mut bars: HashMap<Symbol, Vec<DailyBar>> = HashMap::new();
        let mut factors: HashMap<Symbol, Vec<AdjFactor>> = HashMap::new();
        let mut failed_dates = Vec::new();
        for (i, date) in dates.iter().enumerate() {
            self.check_stop()?;
            progress(i as f64 / dates.len().max(1) as f64 * 0.8, &format!("market bars of {date}"));
            let day = match source.market_daily(*date).await {
                Ok(d) => d,
                Err(e) => {
                    failed_dates.push((*date, e));
                    continue;
                }
            };
            let day_factors = if source.has(Capability::Factors) {
                match source.market_factors(*date).await {
                    Ok(f) => f,
                    Err(e) => {
                        failed_dates.push((*date, e));
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            for (symbol, bar) in day {
                if wanted.get(&symbol).is_some_and(|start| bar.date >= *start) {
                    bars.entry(symbol).or_default().push(bar);
                }
            }
            for (symbol, factor) in day_factors {
                if wanted.get(&symbol).is_some_and(|start| *date >= *start) {
                    factors.entry(symbol).or_default().push(AdjFactor { date: *date, factor });
                }
            }
        }
        if let Some((date, e)) = failed_dates.first() {
            // Bars after a missing date would leave a hole that an incremental sync never fills:
            // every symbol keeps only the dates before the first failure.
            let cut = *date;
            for v in bars.values_mut() {
                v.retain(|b| b.date < cut);
            }
            for v in factors.values_mut() {
                v.retain(|f| f.date < cut);
            }
            for (symbol, ..) in starts {
                report.fail(symbol, None, &SyncError::Data(format!("market bars of {cut} could not be read: {e}")));
            }
            if failed_dates.len() > 1 {
                tracing::warn!(dates = failed_dates.len(), "market bar dates failed");
            }
        }
        let failed_symbols: std::collections::HashSet<String> =
            report.failed.iter().map(|f| f.symbol.clone()).collect();
        let total = starts.len();
        let mut answered = false;
        for (i, (symbol, _, incremental)) in starts.iter().enumerate() {
            progress(0.8 + 0.2 * i as f64 / total as f64, &format!("{symbol}: writing"));
            let mut daily = bars.remove(symbol).unwrap_or_default();
            daily.sort_by_key(|b| b.date);
            let mut fs = factors.remove(symbol).unwrap_or_default();
            fs.sort_by_key(|f| f.date);
            if daily.is_empty() && fs.is_empty() {
                if !failed_symbols.contains(symbol.as_str()) {
                    report.up_to_date.push(symbol.to_string());
                }
                continue;
            }
            match self.write_day_rows(source.as_ref(), symbol, &daily, &fs, *incremental, report).await {
                Ok(()) => {
                    answered = true;
                    if !failed_symbols.contains(symbol.as_str()) {
                        report.landed.push(symbol.to_string());
                    }
                }
                Err(e) => report.fail(symbol, None, &e),
            }
        }
        if answered || failed_dates.is_empty() {
            report.sources.push(source.id().to_string());
        }
        progress(1.0, "bars synced");
        Ok(())
    }

    async fn write_day_rows(
        &self,
        source: &dyn Source,
        symbol: &Symbol,
        daily: &[DailyBar],
        fetched: &[AdjFactor],
        incremental: bool,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let bars = checked_bars(symbol, daily)?;
        check_factors(symbol, fetched)?;
        let stored = self.store.adj_factors(symbol).await?;
        let last = stored.last().map(|f| f.factor);
        let mut reread = None;
        let mut new_factors = Vec::new();
        if incremental && last.is_some() && fetched.iter().any(|f| Some(f.factor) != last) {
            let end = fetched.last().map_or(self.today, |f| f.date);
            let history = source.factors(symbol, DEFAULT_START, end).await?;
            check_factors(symbol, &history)?;
            reread = Some(change_points(&history, None));
        } else {
            new_factors = change_points(fetched, last);
        }
        self.land(symbol, &bars, &new_factors, reread.as_deref(), true, report).await?;
        Ok(())
    }

    /// One symbol's bars, new factors and (when re-read) its whole factor history, in one import
    /// session: all of it lands or none. A re-read counts in the report when `incremental`.
    async fn land(
        &self,
        symbol: &Symbol,
        bars: &[Bar],
        factors: &[AdjFactor],
        history: Option<&[AdjFactor]>,
        incremental: bool,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let mut session = self.store.begin_import(Resolution::Day).await?;
        let exchange = exchange_of(symbol);
        // Bars teach the A-share calendars their trading days, as CSV imports do.
        let calendar = symbol.exchange().is_a_share().then_some(exchange.as_str());
        session.write(&BarSeriesWrite { symbol, bars, factors, calendar }).await?;
        if let Some(history) = history {
            session.replace_factors(symbol, history).await?;
        }
        session.commit().await?;
        report.bars += bars.len() as u64;
        report.factors += factors.len() as u64 + history.map_or(0, |h| h.len() as u64);
        if incremental && history.is_some() {
            report.factor_rereads += 1;
        }
        Ok(())
    }

    async fn sync_financials(
        &self,
        checked: &Checked,
        symbols: &[Symbol],
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<(), AppError> {
        let source = self.sources.pick(checked.source, Capability::Statements)?;
        let start = NaiveDate::from_ymd_opt(self.today.year() - checked.years as i32, 1, 1).unwrap_or(DEFAULT_START);
        let total = symbols.len() * Statement::ALL.len();
        let mut answered = false;
        for (i, symbol) in symbols.iter().enumerate() {
            self.check_stop()?;
            let mut landed = false;
            for (j, statement) in Statement::ALL.into_iter().enumerate() {
                let step = i * Statement::ALL.len() + j;
                progress(step as f64 / total.max(1) as f64, &format!("{symbol}: {statement}"));
                let rows = match source.statements(symbol, statement, start, self.today).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        report.fail(symbol, Some(statement), &SyncError::Source(e));
                        continue;
                    }
                };
                answered = true;
                if let Some(bad) = rows.iter().find(|r| r.symbol != *symbol || r.statement != statement) {
                    let e = SyncError::Data(format!(
                        "{} answered a {} row of {} when asked for {statement} of {symbol}",
                        source.id(),
                        bad.statement,
                        bad.symbol
                    ));
                    report.fail(symbol, Some(statement), &e);
                    continue;
                }
                match self.store.write_statements(&rows).await {
                    Ok(n) => {
                        report.statement_rows += n;
                        landed |= n > 0;
                    }
                    Err(e) => report.fail(symbol, Some(statement), &SyncError::Store(e)),
                }
            }
            if landed {
                report.landed.push(symbol.to_string());
            }
        }
        if answered {
            report.sources.push(source.id().to_string());
        }
        progress(1.0, "statements synced");
        Ok(())
    }
}

/// The calendar that a symbol's bars teach: its exchange's code.
fn exchange_of(symbol: &Symbol) -> String {
    symbol.exchange().code().to_string()
}

fn source_error(e: SourceError) -> AppError {
    let code = e.kind.code();
    let base = match e.kind {
        SourceErrorKind::BadToken | SourceErrorKind::NoPermission | SourceErrorKind::Unsupported => {
            AppError::invalid(e.message)
        }
        SourceErrorKind::NotFound => AppError::not_found(e.message),
        _ => AppError::unavailable(e.message),
    };
    base.with_code(code)
}

/// Bars converted and validated: one bad bar refuses the symbol's whole answer.
fn checked_bars(symbol: &Symbol, daily: &[DailyBar]) -> Result<Vec<Bar>, SyncError> {
    let mut out = Vec::with_capacity(daily.len());
    let mut prev: Option<NaiveDate> = None;
    for d in daily {
        if prev.is_some_and(|p| d.date <= p) {
            return Err(SyncError::Data(format!(
                "{symbol}: the source's bars are not in ascending date order at {}",
                d.date
            )));
        }
        prev = Some(d.date);
        let bar = to_bar(d);
        bar.validate().map_err(|e| SyncError::Data(format!("{symbol} on {}: {e}", d.date)))?;
        out.push(bar);
    }
    Ok(out)
}

fn check_factors(symbol: &Symbol, factors: &[AdjFactor]) -> Result<(), SyncError> {
    for f in factors {
        if !(f.factor.is_finite() && f.factor > 0.0) {
            return Err(SyncError::Data(format!(
                "{symbol}: adjustment factor {} on {} is not positive",
                f.factor, f.date
            )));
        }
    }
    Ok(())
}

/// An instrument as the master describes it, on top of the defaults its code implies.
pub fn instrument_of(r: quantdesk_connectors::InstrumentRecord) -> Instrument {
    let mut i = Instrument::with_defaults(r.symbol, &r.name, InstrumentKind::Stock);
    i.abbrev = r.abbrev.to_ascii_uppercase();
    if !r.board.is_empty() {
        i.board = r.board;
    }
    if !r.exchange.is_empty() {
        i.exchange = r.exchange;
    }
    i.industry = r.industry;
    i.area = r.area;
    i.controller = r.controller;
    i.list_date = r.list_date;
    i.delist_date = r.delist_date;
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn factors_keep_only_their_change_points() {
        let fs = [("2020-01-02", 1.0), ("2020-01-03", 1.0), ("2020-01-06", 2.0), ("2020-01-07", 2.0)]
            .map(|(date, factor)| AdjFactor { date: d(date), factor });
        let c = change_points(&fs, None);
        assert_eq!(c.iter().map(|f| f.factor).collect::<Vec<_>>(), vec![1.0, 2.0]);
        assert_eq!(c[1].date, d("2020-01-06"));
        assert!(change_points(&fs[..2], Some(1.0)).is_empty());
    }

    #[test]
    fn requests_are_checked_before_anything_runs() {
        let mut r = SyncRequest::new(SyncWhat::Bars);
        assert_eq!(r.check().unwrap_err().code(), "invalid_params");
        r.symbols = vec!["600519".into()];
        let e = r.check().unwrap_err();
        assert!(e.message().contains("600519.SH"), "{e}");
        r.symbols = vec!["600519.SH".into()];
        r.start = Some(d("2021-01-01"));
        r.end = Some(d("2020-01-01"));
        assert!(r.check().unwrap_err().message().contains("after"));
        r.end = None;
        r.source = Some("bloomberg".into());
        assert!(r.check().unwrap_err().message().contains("bloomberg"));
        r.source = Some("TuShare".into());
        assert_eq!(r.check().unwrap().source, Some(SourceId::Tushare));
        let mut all = SyncRequest::new(SyncWhat::Financials);
        all.all = true;
        all.years = Some(0);
        assert!(all.check().unwrap_err().message().contains("years"));
    }

    #[test]
    fn bars_out_of_order_or_inconsistent_refuse_the_symbol() {
        let s = Symbol::new("600519.SH").unwrap();
        let bar = |date: &str, high: f64| DailyBar {
            date: d(date),
            open: 10.0,
            high,
            low: 9.0,
            close: 10.0,
            volume: 100.0,
            amount: 1000.0,
        };
        assert_eq!(checked_bars(&s, &[bar("2020-01-02", 11.0)]).unwrap()[0].time, 1_577_923_200);
        assert!(checked_bars(&s, &[bar("2020-01-03", 11.0), bar("2020-01-02", 11.0)]).is_err());
        let e = checked_bars(&s, &[bar("2020-01-02", 8.0)]).unwrap_err();
        assert!(e.to_string().contains("2020-01-02"), "{e}");
    }
}
