//! Outside market-data sources behind one [`Source`] trait.
//!
//! This is the only crate that talks to vendors' HTTP APIs. It knows their wire formats, units and
//! symbol spellings, and hands back quantdesk's own vocabulary (TuShare codes, shares, currency
//! units, ascending dates). It knows nothing of storage: the application layer's sync service
//! decides what to fetch and writes it.
//!
//! Every call has a timeout, retries with exponential back-off and jitter on timeouts, 5xx and
//! rate-limit answers, a client-side rate limiter per source, a `User-Agent`, metrics
//! (`quantdesk_source_requests_total{source,api,outcome}`,
//! `quantdesk_source_request_seconds{source,api}`) and a log line that never shows a token.

pub mod eastmoney;
#[cfg(feature = "fake")]
pub mod fake;
pub mod http;
pub mod symbols;
pub mod tushare;
pub mod yahoo;

pub use eastmoney::Eastmoney;
pub use http::SourceSettings;
pub use tushare::Tushare;
pub use yahoo::Yahoo;

/// Builds the client of `source` with `settings` (start from [`SourceSettings::for_source`]).
pub fn connect(source: SourceId, settings: SourceSettings) -> Result<std::sync::Arc<dyn Source>> {
    Ok(match source {
        SourceId::Tushare => std::sync::Arc::new(Tushare::new(settings)?),
        SourceId::Eastmoney => std::sync::Arc::new(Eastmoney::new(settings)?),
        SourceId::Yahoo => std::sync::Arc::new(Yahoo::new(settings)?),
    })
}

use async_trait::async_trait;
use chrono::NaiveDate;
use quantdesk_core::{AdjFactor, Statement, StatementRow, Symbol};

/// The sources quantdesk can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceId {
    Tushare,
    Eastmoney,
    Yahoo,
}

impl SourceId {
    pub const ALL: [SourceId; 3] = [SourceId::Tushare, SourceId::Eastmoney, SourceId::Yahoo];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceId::Tushare => "tushare",
            SourceId::Eastmoney => "eastmoney",
            SourceId::Yahoo => "yahoo",
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        SourceId::ALL.into_iter().find(|s| s.as_str() == raw.trim().to_ascii_lowercase()).ok_or_else(|| {
            SourceError::new(
                ErrorKind::Unsupported,
                format!("unknown source {raw:?}: expected tushare, eastmoney or yahoo"),
            )
        })
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong with a call, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The token is missing or refused (TuShare 40101).
    BadToken,
    /// The account may not call this API (TuShare 2002).
    NoPermission,
    /// The vendor's rate limit answered, and retries did not get through (TuShare 40203, HTTP 429).
    RateLimited,
    /// No answer within the timeout, after retries.
    Timeout,
    /// The connection failed, or the server answered 5xx, after retries.
    Unavailable,
    /// The answer is not in the wire format (bad JSON, missing fields, inconsistent rows).
    Malformed,
    /// The vendor reported an error this client does not know (TuShare's other codes, Yahoo's `chart.error`).
    Vendor,
    /// The symbol does not exist at this source.
    NotFound,
    /// This source does not offer this data, or the request cannot be expressed to it.
    Unsupported,
}

impl ErrorKind {
    /// A stable code for job results and logs.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadToken => "bad_token",
            ErrorKind::NoPermission => "no_permission",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Vendor => "vendor_error",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
        }
    }
}

/// A failed call. The message is meant for people and never contains a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl SourceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SourceError { kind, message: message.into() }
    }
}

pub type Result<T> = std::result::Result<T, SourceError>;

/// One daily bar as traded, unadjusted, in shares and currency units (TuShare's lots and
/// thousands are converted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyBar {
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Shares (or units) traded.
    pub volume: f64,
    /// Value traded in the instrument's currency; 0 where the source has none.
    pub amount: f64,
}

/// One row of an instrument master.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentRecord {
    pub symbol: Symbol,
    pub name: String,
    /// Pinyin initials (TuShare's `cnspell`), upper case; empty when none.
    pub abbrev: String,
    /// `main`, `chinext`, `star`, `bse`, `cdr` or empty (from TuShare's `market`).
    pub board: String,
    /// `SSE`, `SZSE`, `BSE` or the market's own name.
    pub exchange: String,
    pub industry: String,
    pub area: String,
    /// The actual controller (`act_name`); empty when unknown.
    pub controller: String,
    pub list_date: Option<NaiveDate>,
    pub delist_date: Option<NaiveDate>,
    /// `L` listed, `D` delisted, `P` paused (TuShare's `list_status`).
    pub list_status: String,
}

/// One day of an exchange calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub open: bool,
}

/// A live (or latest) quote.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub symbol: Symbol,
    pub source: SourceId,
    /// Unix seconds of the price.
    pub time: i64,
    pub price: f64,
    pub prev_close: Option<f64>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub volume: Option<f64>,
    pub amount: Option<f64>,
}

/// What a source can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Instruments,
    Calendar,
    DailyBars,
    Factors,
    /// Whole-market daily bars and factors for one trading date in one call each.
    MarketDaily,
    Statements,
    Quote,
}

/// Calls made through one client since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    pub failures: u64,
}

/// An outside market-data source. A source implements what it has; the rest answer
/// [`ErrorKind::Unsupported`]. Every list is ascending by date.
#[async_trait]
pub trait Source: Send + Sync {
    fn id(&self) -> SourceId;
    fn has(&self, capability: Capability) -> bool;
    /// Requests sent and failed so far.
    fn calls(&self) -> CallCounts;

    /// The whole instrument master, every list status.
    async fn instruments(&self) -> Result<Vec<InstrumentRecord>> {
        Err(unsupported(self.id(), "an instrument master"))
    }
    /// The calendar of `exchange` (`SSE`, `SZSE`, `BSE`) from `start` to `end` inclusive.
    async fn calendar(&self, exchange: &str, start: NaiveDate, end: NaiveDate) -> Result<Vec<CalendarDay>> {
        let _ = (exchange, start, end);
        Err(unsupported(self.id(), "a trading calendar"))
    }
    /// Unadjusted daily bars from `start` to `end` inclusive.
    async fn daily(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<DailyBar>> {
        let _ = (symbol, start, end);
        Err(unsupported(self.id(), "daily bars"))
    }
    /// Cumulative adjustment factors (后复权: growing at each dividend or split), one per date the
    /// source gives, from `start` to `end` inclusive.
    async fn factors(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<AdjFactor>> {
        let _ = (symbol, start, end);
        Err(unsupported(self.id(), "adjustment factors"))
    }
    /// Every instrument's daily bar on one trading date.
    async fn market_daily(&self, date: NaiveDate) -> Result<Vec<(Symbol, DailyBar)>> {
        let _ = date;
        Err(unsupported(self.id(), "whole-market daily bars"))
    }
    /// Every instrument's adjustment factor on one trading date.
    async fn market_factors(&self, date: NaiveDate) -> Result<Vec<(Symbol, f64)>> {
        let _ = date;
        Err(unsupported(self.id(), "whole-market adjustment factors"))
    }
    /// Every row (all revisions) of `statement` for report periods (or trading dates, for
    /// `daily_basic`) from `start` to `end` inclusive.
    async fn statements(
        &self,
        symbol: &Symbol,
        statement: Statement,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<StatementRow>> {
        let _ = (symbol, statement, start, end);
        Err(unsupported(self.id(), "financial statements"))
    }
    /// The latest price.
    async fn quote(&self, symbol: &Symbol) -> Result<Quote> {
        let _ = symbol;
        Err(unsupported(self.id(), "quotes"))
    }
}

fn unsupported(source: SourceId, what: &str) -> SourceError {
    SourceError::new(ErrorKind::Unsupported, format!("{source} does not provide {what}"))
}
