//! Valuation of a stored company: its statements as of the valuation date through the pure
//! model (`quantdesk-valuation`). The CLI, the HTTP API, the pages and the `valuation` job all
//! call [`valuate`].

use chrono::{Datelike, NaiveDate};
use quantdesk_core::financials::resolve;
use quantdesk_core::{Statement, StatementRow, Symbol};
use quantdesk_store::Store;
use quantdesk_store::valuations::{CacheKey, NewValuation, SavedValuation, canonical_json, sha256_hex};
use quantdesk_valuation::{Request, Statements, Valuation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;

/// The pure model, for the layers above (the server and the binary need no dependency of their own).
pub use quantdesk_valuation as model;

/// The valuation date a request names (`YYYY-MM-DD` or `YYYYMMDD`), if any.
pub fn valuation_date(request: &Request) -> Result<Option<NaiveDate>, AppError> {
    match request.valuation_date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
            .map(Some)
            .map_err(|_| {
                AppError::invalid(format!("valuation_date {s:?} is not a date (YYYY-MM-DD)"))
                    .with_code("invalid_request")
            }),
    }
}

/// The symbol a request values (`ts_code`, alias `stock_code`).
pub fn request_symbol(request: &Request) -> Result<Symbol, AppError> {
    let raw = request.ts_code.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
        AppError::invalid("ts_code (or stock_code) is required, e.g. 600519.SH").with_code("invalid_request")
    })?;
    crate::sync::parse_sync_symbol(raw)
}

/// What is stored for a valuation of `symbol` as of `as_of`: per statement, the annual periods
/// (31 December, consolidated) in force on that date, and the latest `daily_basic` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub symbol: String,
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// `income`, `balancesheet`, `cashflow` → the fiscal years present.
    pub annual_years: Vec<(String, Vec<i32>)>,
    /// The trading date of the latest `daily_basic` row, if any.
    pub daily_basic: Option<NaiveDate>,
    /// What is missing, in words, with the command that fetches it.
    pub missing: Vec<String>,
}

fn consolidated(row: &StatementRow) -> bool {
    row.report_type.is_empty() || row.report_type == "1"
}

async fn annual_rows(
    store: &dyn Store,
    symbol: &Symbol,
    statement: Statement,
    as_of: Option<NaiveDate>,
) -> Result<Vec<StatementRow>, AppError> {
    let rows: Vec<StatementRow> =
        store.statement_rows(symbol, statement, as_of).await?.into_iter().filter(consolidated).collect();
    Ok(resolve(&rows, as_of).into_iter().filter(|r| r.period.month() == 12 && r.period.day() == 31).collect())
}

/// Every period's consolidated row (quarters and years) in force on `as_of`.
async fn period_rows(
    store: &dyn Store,
    symbol: &Symbol,
    statement: Statement,
    as_of: Option<NaiveDate>,
) -> Result<Vec<StatementRow>, AppError> {
    let rows: Vec<StatementRow> =
        store.statement_rows(symbol, statement, as_of).await?.into_iter().filter(consolidated).collect();
    Ok(resolve(&rows, as_of))
}

/// The model's input for `symbol` as known on `as_of` (everything stored when `None`): annual
/// consolidated statements (the revision in force on that date) and the latest `daily_basic`.
pub async fn load_statements(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
) -> Result<Statements, AppError> {
    let daily_basic = store.statement_rows(symbol, Statement::DailyBasic, as_of).await?.into_iter().last();
    Ok(Statements {
        income: annual_rows(store, symbol, Statement::Income, as_of).await?,
        balance_sheet: annual_rows(store, symbol, Statement::BalanceSheet, as_of).await?,
        cash_flow: annual_rows(store, symbol, Statement::CashFlow, as_of).await?,
        daily_basic,
        ..Statements::default()
    })
}

/// What a valuation of `symbol` would have to work with, and what is missing.
pub async fn availability(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
) -> Result<Availability, AppError> {
    let s = load_statements(store, symbol, as_of).await?;
    let years = |rows: &[StatementRow]| rows.iter().map(|r| r.period.year()).collect::<Vec<_>>();
    let annual_years = vec![
        ("income".to_string(), years(&s.income)),
        ("balancesheet".to_string(), years(&s.balance_sheet)),
        ("cashflow".to_string(), years(&s.cash_flow)),
    ];
    let mut missing = Vec::new();
    for (name, ys) in &annual_years {
        match ys.len() {
            0 => missing.push(format!("no annual {name} rows")),
            1 => missing.push(format!("only one annual {name} row: ratios and growth need at least two years")),
            _ => {}
        }
    }
    if s.daily_basic.is_none() {
        missing.push("no daily_basic row: price, P/E, P/B and the share count are unknown".into());
    }
    if !missing.is_empty() {
        missing.push(format!(
            "fetch them with `quantdesk sync financials --symbol {symbol}` (TuShare) or bring CSV files with `quantdesk import financials PATH`"
        ));
    }
    Ok(Availability {
        symbol: symbol.to_string(),
        as_of,
        annual_years,
        daily_basic: s.daily_basic.as_ref().map(|r| r.period),
        missing,
    })
}

/// The request as it will be valued (its symbol canonical) and the statements it sees. `Err`
/// when the request is wrong or nothing is stored for the symbol (`no_statements`, not found).
pub async fn prepare(store: &dyn Store, request: &Request) -> Result<(Request, Statements), AppError> {
    let symbol = request_symbol(request)?;
    let as_of = valuation_date(request)?;
    let statements = load_statements(store, &symbol, as_of).await?;
    if statements.income.is_empty() && statements.balance_sheet.is_empty() && statements.cash_flow.is_empty() {
        let known = store.instrument(&symbol).await?.is_some();
        let what = if known {
            "no financial statements are stored"
        } else {
            "the instrument is unknown and no statements are stored"
        };
        return Err(AppError::not_found(format!(
            "{symbol}: {what}; fetch them with `quantdesk sync financials --symbol {symbol}` or import CSV files with `quantdesk import financials PATH`"
        ))
        .with_code("no_statements"));
    }
    let mut statements = statements;
    if request.profile == quantdesk_valuation::Profile::Quantdesk && request.ltm_baseline_enabled == Some(true) {
        // The LTM baseline reads the quarterly (year-to-date) reports too.
        statements.quarterly_income = period_rows(store, &symbol, Statement::Income, as_of).await?;
        statements.quarterly_balance_sheet = period_rows(store, &symbol, Statement::BalanceSheet, as_of).await?;
        statements.quarterly_cash_flow = period_rows(store, &symbol, Statement::CashFlow, as_of).await?;
    }
    let mut request = request.clone();
    request.ts_code = Some(symbol.to_string());
    Ok((request, statements))
}

/// Values the company the request names, from what is stored as of its valuation date. A
/// refusal of the model comes back inside the result (`error` set, as the reference answers);
/// an `Err` means the request itself is wrong or nothing is stored at all.
pub async fn valuate(store: &dyn Store, request: &Request) -> Result<Valuation, AppError> {
    let (request, statements) = prepare(store, request).await?;
    // The model is pure and quick (well under a millisecond, a grid a few): no blocking pool.
    Ok(quantdesk_valuation::valuate_report(&statements, &request))
}

/// A valuation with where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Valued {
    /// The saved row's id (`None` when not saved).
    pub id: Option<i64>,
    /// True when the result came from the cache.
    pub cached: bool,
    /// The request as valued.
    pub request: Request,
    pub valuation: Valuation,
}

fn hash_json<T: Serialize>(v: &T) -> Result<String, AppError> {
    let value = serde_json::to_value(v).map_err(AppError::internal)?;
    Ok(sha256_hex(canonical_json(&value).as_bytes()))
}

/// [`valuate`] through the cache, and kept in `owner`'s history when `save`.
///
/// The cache key is (symbol, valuation date or '', SHA-256 of the canonical request JSON,
/// SHA-256 of the statements the model sees). The statements are read on every call (a few
/// indexed reads); a new or revised statement row changes the inputs' hash and so misses, with
/// no bookkeeping of write times. A hit is reused whoever computed it (the model is a pure
/// function of the two); with `save`, the caller's history gets a row of its own unless the hit
/// is already theirs. Without `save` nothing is written (a miss is computed and dropped).
pub async fn valuate_cached(store: &dyn Store, owner: &str, request: &Request, save: bool) -> Result<Valued, AppError> {
    let (request, statements) = prepare(store, request).await?;
    let ts_code = request.ts_code.clone().unwrap_or_default();
    let date = valuation_date(&request)?.map(|d| d.to_string()).unwrap_or_default();
    // The model's version is part of the key: a result of an older model is never served.
    let request_hash = hash_json(&(quantdesk_valuation::MODEL_VERSION, &request))?;
    let inputs_hash = hash_json(&statements)?;
    let key =
        CacheKey { ts_code: &ts_code, valuation_date: &date, request_hash: &request_hash, inputs_hash: &inputs_hash };
    if let Some(hit) = store.cached_valuation(&key).await?
        && let Ok(valuation) = serde_json::from_str::<Valuation>(&hit.result)
    {
        let id = match (save, hit.owner == owner) {
            (false, _) => None,
            (true, true) => Some(hit.id),
            (true, false) => Some(store.save_valuation(&new_row(owner, &hit.request, &hit, &valuation)?).await?),
        };
        return Ok(Valued { id, cached: true, request, valuation });
    }
    let valuation = quantdesk_valuation::valuate_report(&statements, &request);
    let id = if save {
        let row = NewValuation {
            owner: owner.to_string(),
            ts_code: ts_code.clone(),
            valuation_date: date,
            profile: profile_name(&request),
            request_hash,
            inputs_hash,
            request: serde_json::to_string(&request).map_err(AppError::internal)?,
            result: serde_json::to_string(&valuation).map_err(AppError::internal)?,
            value_per_share: vps(&valuation),
            created_at: crate::clock::now_ms(),
        };
        Some(store.save_valuation(&row).await?)
    } else {
        None
    };
    Ok(Valued { id, cached: false, request, valuation })
}

fn vps(v: &Valuation) -> Option<f64> {
    v.dcf.as_ref().and_then(|d| d.value_per_share)
}

fn profile_name(r: &Request) -> String {
    serde_json::to_value(r.profile).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn new_row(owner: &str, request: &str, hit: &SavedValuation, v: &Valuation) -> Result<NewValuation, AppError> {
    Ok(NewValuation {
        owner: owner.to_string(),
        ts_code: hit.ts_code.clone(),
        valuation_date: hit.valuation_date.clone(),
        profile: hit.profile.clone(),
        request_hash: hit.request_hash.clone(),
        inputs_hash: hit.inputs_hash.clone(),
        request: request.to_string(),
        result: hit.result.clone(),
        value_per_share: vps(v),
        created_at: crate::clock::now_ms(),
    })
}

/// One saved valuation in a history listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub id: i64,
    pub ts_code: String,
    /// `YYYY-MM-DD`, or empty when the request named none.
    pub valuation_date: String,
    pub profile: String,
    pub value_per_share: Option<f64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A page of a user's valuations, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<HistoryItem>,
    pub total: u64,
    /// From 1.
    pub page: u32,
    pub per_page: u32,
}

/// Valuations per history page.
pub const PER_PAGE: u32 = 50;

/// `owner`'s saved valuations, page `page` (from 1), newest first.
pub async fn history(store: &dyn Store, owner: &str, page: u32) -> Result<HistoryPage, AppError> {
    let page = page.max(1);
    let rows = store.list_valuations(owner, PER_PAGE, (page - 1).saturating_mul(PER_PAGE)).await?;
    Ok(HistoryPage {
        items: rows
            .into_iter()
            .map(|r| HistoryItem {
                id: r.id,
                ts_code: r.ts_code,
                valuation_date: r.valuation_date,
                profile: r.profile,
                value_per_share: r.value_per_share,
                created_at: r.created_at,
            })
            .collect(),
        total: store.count_valuations(owner).await?,
        page,
        per_page: PER_PAGE,
    })
}

/// A saved valuation: its request and result.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub item: HistoryItem,
    pub owner: String,
    pub request: Request,
    pub valuation: Valuation,
}

/// The saved valuation `id`, when `owner` saved it or `admin`; anyone else is told it does not
/// exist (not found, as for a missing id).
pub async fn saved(store: &dyn Store, owner: &str, admin: bool, id: i64) -> Result<Saved, AppError> {
    let missing = || AppError::not_found(format!("no valuation {id}")).with_code("valuation_not_found");
    let r = store.valuation(id).await?.ok_or_else(missing)?;
    if r.owner != owner && !admin {
        return Err(missing());
    }
    let request = serde_json::from_str(&r.request).map_err(|e| AppError::internal(format!("valuation {id}: {e}")))?;
    let valuation = serde_json::from_str(&r.result).map_err(|e| AppError::internal(format!("valuation {id}: {e}")))?;
    Ok(Saved {
        item: HistoryItem {
            id: r.id,
            ts_code: r.ts_code,
            valuation_date: r.valuation_date,
            profile: r.profile,
            value_per_share: r.value_per_share,
            created_at: r.created_at,
        },
        owner: r.owner,
        request,
        valuation,
    })
}

/// `valuation` job parameters: which symbols, and the request every symbol is valued with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ValuationJobParams {
    /// Symbols to value, e.g. `["600519.SH"]`.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Value every symbol with stored statements (instead of `symbols`).
    #[serde(default)]
    pub all: bool,
    /// Request fields (the reference's names) applied to every symbol; `ts_code` is replaced.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub request: serde_json::Map<String, serde_json::Value>,
    /// A preset applied over `request` (base, bull, bear, conservative, …).
    #[serde(default)]
    pub preset: Option<String>,
}

/// One symbol of a `valuation` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ValuationJobRow {
    pub symbol: String,
    pub value_per_share: Option<f64>,
    pub latest_price: Option<f64>,
    /// (value − price) / value.
    pub margin_of_safety: Option<f64>,
    /// Why the symbol was not valued (a refusal or nothing stored).
    pub error: Option<String>,
}

/// A `valuation` job's result: one row per symbol, highest margin of safety first (symbols
/// without one last, by symbol).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ValuationJobResult {
    pub rows: Vec<ValuationJobRow>,
    pub valued: u64,
    pub failed: u64,
}

/// The base request of a `valuation` job: its overlay, then its preset.
pub fn job_request(params: &ValuationJobParams) -> Result<Request, AppError> {
    let base: Request = serde_json::from_value(serde_json::Value::Object(params.request.clone()))
        .map_err(|e| AppError::invalid(format!("request: {e}")).with_code("invalid_params"))?;
    match params.preset.as_deref() {
        None => Ok(base),
        Some(p) => quantdesk_valuation::apply_preset(&base, p)
            .map(|(r, _)| r)
            .map_err(|e| AppError::invalid(e.0).with_code("invalid_params")),
    }
}

/// Runs a `valuation` job: every symbol through [`valuate`]; `progress(done, total, symbol)`
/// after each; `stop()` true cancels between symbols.
pub async fn run_job(
    store: &dyn Store,
    params: &ValuationJobParams,
    progress: &(dyn Fn(usize, usize, &str) + Send + Sync),
    stop: &(dyn Fn() -> bool + Send + Sync),
) -> Result<ValuationJobResult, AppError> {
    let base = job_request(params)?;
    let symbols: Vec<String> = if params.all {
        let mut s: Vec<String> =
            store.statement_coverage(None).await?.into_iter().map(|c| c.symbol.to_string()).collect();
        s.dedup();
        s
    } else {
        params.symbols.clone()
    };
    if symbols.is_empty() {
        return Err(AppError::invalid("no symbols: give symbols or all: true (with statements stored)")
            .with_code("invalid_params"));
    }
    let mut out = ValuationJobResult::default();
    for (i, sym) in symbols.iter().enumerate() {
        if stop() {
            return Err(AppError::invalid("cancelled").with_code("cancelled"));
        }
        let mut req = base.clone();
        req.ts_code = Some(sym.clone());
        let row = match valuate(store, &req).await {
            Ok(v) => ValuationJobRow {
                symbol: v.ts_code.clone().unwrap_or_else(|| sym.clone()),
                value_per_share: vps(&v),
                latest_price: v.inputs.latest_price,
                margin_of_safety: v.derived.margin_of_safety,
                error: v.error.clone(),
            },
            Err(e) => ValuationJobRow {
                symbol: sym.clone(),
                value_per_share: None,
                latest_price: None,
                margin_of_safety: None,
                error: Some(e.into_message()),
            },
        };
        if row.error.is_some() {
            out.failed += 1;
        } else {
            out.valued += 1;
        }
        out.rows.push(row);
        progress(i + 1, symbols.len(), sym);
    }
    out.rows.sort_by(|a, b| match (a.margin_of_safety, b.margin_of_safety) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.symbol.cmp(&b.symbol)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.symbol.cmp(&b.symbol),
    });
    Ok(out)
}

/// The reference figures shown beside the DCF: the relative valuation and the DDM.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceFigures {
    pub relative_valuation: model::relative::RelativeValuation,
    pub ddm: DdmOutcome,
}

/// The DDM, or why it was refused (`{"error": {"code", "message", "missing", …}}`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum DdmOutcome {
    Valued(model::ddm::Ddm),
    Refused { error: model::ValuationError },
}

impl From<Result<model::ddm::Ddm, model::ValuationError>> for DdmOutcome {
    fn from(r: Result<model::ddm::Ddm, model::ValuationError>) -> Self {
        match r {
            Ok(d) => DdmOutcome::Valued(d),
            Err(error) => DdmOutcome::Refused { error },
        }
    }
}

/// The relative valuation of `symbol` as known on `as_of`: its `daily_basic` history, its annual
/// EBITDA and net debt, and the peers of its industry (instruments with the same `industry`):
/// their latest `daily_basic` row (one market-wide query; per peer as of the date when `as_of`
/// is set) and their latest annual report known then.
pub async fn relative(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
) -> Result<model::relative::RelativeValuation, AppError> {
    use model::relative::{Peer, fundamentals};
    let history = store.statement_rows(symbol, Statement::DailyBasic, as_of).await?;
    let own = fundamentals(
        &annual_rows(store, symbol, Statement::Income, as_of).await?,
        &annual_rows(store, symbol, Statement::BalanceSheet, as_of).await?,
        &annual_rows(store, symbol, Statement::CashFlow, as_of).await?,
    );
    let industry = store.instrument(symbol).await?.map(|i| i.industry).filter(|s| !s.trim().is_empty());
    let mut peers = Vec::new();
    if let Some(ind) = &industry {
        let instruments = store
            .list_instruments(&quantdesk_store::InstrumentQuery { limit: u32::MAX / 2, ..Default::default() })
            .await?;
        let peer_symbols: Vec<Symbol> =
            instruments.into_iter().filter(|i| &i.industry == ind && &i.symbol != symbol).map(|i| i.symbol).collect();
        let mut latest: std::collections::HashMap<Symbol, StatementRow> = std::collections::HashMap::new();
        match as_of {
            None if !peer_symbols.is_empty() => {
                for row in store.latest_statement_per_symbol(Statement::DailyBasic).await? {
                    if peer_symbols.contains(&row.symbol) {
                        latest.insert(row.symbol.clone(), row);
                    }
                }
            }
            _ => {
                for p in &peer_symbols {
                    if let Some(row) = store.statement_rows(p, Statement::DailyBasic, as_of).await?.pop() {
                        latest.insert(p.clone(), row);
                    }
                }
            }
        }
        for p in &peer_symbols {
            let Some(daily_basic) = latest.remove(p) else { continue };
            let f = fundamentals(
                &annual_rows(store, p, Statement::Income, as_of).await?,
                &annual_rows(store, p, Statement::BalanceSheet, as_of).await?,
                &annual_rows(store, p, Statement::CashFlow, as_of).await?,
            );
            let known = f.into_iter().rfind(|f| f.known_on <= daily_basic.period);
            peers.push(Peer { daily_basic, fundamentals: known });
        }
    }
    Ok(model::relative::relative(&history, &own, &peers, industry.as_deref()))
}

/// The two-stage DDM of `symbol` as known on `as_of`: its implemented `dividend` rows, else the
/// latest `daily_basic.dv_ttm`. `Ok(Err(_))` is the model's refusal.
pub async fn ddm(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
    request: &model::ddm::DdmRequest,
) -> Result<Result<model::ddm::Ddm, model::ValuationError>, AppError> {
    let dividends = store.statement_rows(symbol, Statement::Dividend, as_of).await?;
    let daily_basic = store.statement_rows(symbol, Statement::DailyBasic, as_of).await?.pop();
    Ok(model::ddm::ddm(&dividends, daily_basic.as_ref(), request))
}

/// The DDM's assumptions for a valued company: Ke is the DCF's cost of equity (its WACC build-up)
/// when there is one, the growth assumptions the request's `ddm` object (defaults otherwise);
/// an invalid assumption is the DDM's refusal.
#[allow(clippy::result_large_err)] // the model's refusal, shown as the DDM's outcome
pub fn ddm_request(request: &Request, valuation: &Valuation) -> Result<model::ddm::DdmRequest, model::ValuationError> {
    let ke = valuation.wacc_build_up.as_ref().map(|w| w.cost_of_equity).filter(|k| k.is_finite() && *k > 0.0);
    model::ddm::DdmRequest::from_request(request, ke)
}

/// [`relative`] and [`ddm`] for a valuation of the company the request names.
pub async fn reference_figures(
    store: &dyn Store,
    request: &Request,
    valuation: &Valuation,
) -> Result<ReferenceFigures, AppError> {
    let symbol = request_symbol(request)?;
    let as_of = valuation_date(request)?;
    Ok(ReferenceFigures {
        relative_valuation: relative(store, &symbol, as_of).await?,
        ddm: match ddm_request(request, valuation) {
            Ok(r) => ddm(store, &symbol, as_of, &r).await?.into(),
            Err(error) => DdmOutcome::Refused { error },
        },
    })
}

/// The last price the chart shows for a symbol: the close of its latest stored daily bar
/// (unadjusted, which is also the qfq close of the last bar; built from intraday bars when only
/// those are stored), read through [`crate::market::read_bars`] as the chart's datafeed reads it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChartPrice {
    /// The bar's trading date.
    pub date: NaiveDate,
    pub close: f64,
}

/// [`ChartPrice`] of `symbol` on or before `as_of` (the latest stored when `None`); `None` when no
/// bar is stored or the instrument is unknown.
pub async fn chart_price(
    store: &dyn Store,
    symbol: &Symbol,
    as_of: Option<NaiveDate>,
) -> Result<Option<ChartPrice>, AppError> {
    let Some(instrument) = store.instrument(symbol).await? else { return Ok(None) };
    let series = store.series(symbol).await?;
    // The day after `as_of` at 00:00 UTC, else a bound past any stored bar (2100-01-01).
    let to = match as_of.and_then(|d| d.succ_opt()) {
        Some(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(4_102_444_800),
        None => 4_102_444_800,
    };
    let req = crate::market::BarRequest {
        resolution: quantdesk_core::Resolution::Day,
        adjustment: quantdesk_core::Adjustment::None,
        from: 0,
        to,
        countback: Some(1),
    };
    let source = crate::market::BarSource { store, blocks: None };
    let answer = crate::market::read_bars(source, &instrument, &series, &req).await?;
    Ok(answer.bars.last().and_then(|b| {
        let date = chrono::DateTime::from_timestamp(b.time, 0)?.date_naive();
        b.close.is_finite().then_some(ChartPrice { date, close: b.close })
    }))
}

/// The margin of safety of `value_per_share` against `price`: (value − price) / value, as the
/// model computes it against the `daily_basic` close.
pub fn margin_of_safety(value_per_share: Option<f64>, price: Option<f64>) -> Option<f64> {
    match (value_per_share, price) {
        (Some(v), Some(p)) if v > 0.0 && v.is_finite() && p.is_finite() => Some((v - p) / v),
        _ => None,
    }
}

/// The two prices a margin of safety can be measured against: the `daily_basic` close the model
/// uses (with its trading date) and the chart's last close ([`chart_price`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceCheck {
    /// The `daily_basic` row's trading date and close (the model's `latest_price`).
    pub daily_basic: Option<(NaiveDate, f64)>,
    pub chart: Option<ChartPrice>,
    /// The model's margin of safety (against the `daily_basic` close).
    pub margin_daily_basic: Option<f64>,
    /// The same value per share against the chart's last close.
    pub margin_chart: Option<f64>,
}

impl PriceCheck {
    /// True when both prices are known and differ (in price or in date).
    pub fn differ(&self) -> bool {
        match (self.daily_basic, self.chart) {
            (Some((d, p)), Some(c)) => d != c.date || (p - c.close).abs() > 1e-9 * p.abs().max(1.0),
            _ => false,
        }
    }
}

/// [`PriceCheck`] of a valuation of the company `request` names, as of its valuation date.
pub async fn price_check(store: &dyn Store, request: &Request, valuation: &Valuation) -> Result<PriceCheck, AppError> {
    let symbol = request_symbol(request)?;
    let as_of = valuation_date(request)?;
    let row = store.statement_rows(&symbol, Statement::DailyBasic, as_of).await?.pop();
    let daily_basic = row.and_then(|r| valuation.inputs.latest_price.map(|p| (r.period, p)));
    let chart = chart_price(store, &symbol, as_of).await?;
    let vps = vps(valuation);
    Ok(PriceCheck {
        daily_basic,
        chart,
        margin_daily_basic: valuation.derived.margin_of_safety,
        margin_chart: margin_of_safety(vps, chart.map(|c| c.close)),
    })
}
