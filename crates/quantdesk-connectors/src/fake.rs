//! Loopback fakes of the three vendors, speaking their wire formats, for tests and benchmarks
//! (feature `fake`).
//!
//! Each fake is started with its data ([`FakeTushare::start`], [`FakeEastmoney::start`],
//! [`FakeYahoo::start`]) and gives a [`FakeHandle`]: the base URL to point a client at, a log of the
//! calls received (API name and parameters; for TuShare only *whether* a token came, never the
//! token), and a queue of injected answers per API ([`Injection`]) served before normal answers.
//! The server stops when the handle is dropped.
//!
//! For benchmarks the TuShare fake can keep each answer it rendered and serve it again to the same
//! request ([`TushareData::with_answer_cache`]), and every handle counts the time its handlers
//! spent producing answers ([`FakeHandle::handler_time`]), so a benchmark can tell the fake's own
//! cost from the client's.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{AdjFactor, Statement, StatementRow, Symbol};
use serde_json::{Value, json};

use crate::{CalendarDay, DailyBar, InstrumentRecord};

/// One call a fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    /// TuShare's `api_name`; `kline` or `quote` for Eastmoney; `chart` for Yahoo.
    pub api: String,
    /// The parameters (TuShare's `params`, or the query string; Yahoo's ticker as `symbol`).
    pub params: BTreeMap<String, String>,
    /// Whether a non-empty token came with the call (the token itself is not kept).
    pub had_token: bool,
}

/// An answer to serve instead of the normal one, once.
#[derive(Debug, Clone, PartialEq)]
pub enum Injection {
    /// A vendor error code: TuShare's `code` with `msg`; Eastmoney's `rc`.
    Code { code: i64, msg: String },
    /// Yahoo's `chart.error` (HTTP 404 when the code is `Not Found`, else 400).
    ChartError { code: String, description: String },
    /// An HTTP status with a plain-text body.
    Http(u16),
    /// A body that is not the wire format.
    Malformed,
    /// A well-formed answer without rows (TuShare: no items; Eastmoney: no klines; Yahoo: no
    /// timestamps).
    Empty,
    /// Wait this long, then answer normally.
    Delay(Duration),
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<FakeCall>>,
    injections: Mutex<HashMap<String, VecDeque<Injection>>>,
    /// Nanoseconds spent inside handlers (TuShare's), from the request's body to the answer's.
    handler_nanos: AtomicU64,
}

impl Shared {
    fn record(&self, call: FakeCall) -> Option<Injection> {
        let injection = self.injections.lock().unwrap().get_mut(&call.api).and_then(VecDeque::pop_front);
        self.log.lock().unwrap().push(call);
        injection
    }
}

/// A running fake.
pub struct FakeHandle {
    base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHandle").field("base_url", &self.base_url).finish()
    }
}

impl FakeHandle {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every call received so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Calls received for one API.
    pub fn call_count(&self, api: &str) -> usize {
        self.shared.log.lock().unwrap().iter().filter(|c| c.api == api).count()
    }

    pub fn total_calls(&self) -> usize {
        self.shared.log.lock().unwrap().len()
    }

    /// Time the TuShare fake's handler has spent so far producing answers (parsing the request,
    /// building and serializing the answer; not the HTTP transport). For benchmarks.
    pub fn handler_time(&self) -> Duration {
        Duration::from_nanos(self.shared.handler_nanos.load(Ordering::Relaxed))
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Queues an answer for the next call of `api`.
    pub fn inject(&self, api: &str, injection: Injection) {
        self.shared.injections.lock().unwrap().entry(api.to_string()).or_default().push_back(injection);
    }

    /// Queues the same answer `times` times.
    pub fn inject_n(&self, api: &str, injection: Injection, times: usize) {
        for _ in 0..times {
            self.inject(api, injection.clone());
        }
    }
}

impl Drop for FakeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a free loopback port: `http://127.0.0.1:<port>` and the server's task (abort
/// it to stop). Every fake of a vendor's wire format starts this way (the LLM fake too).
pub async fn serve_loopback(router: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("a local address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), task)
}

async fn serve(router: Router, shared: Arc<Shared>) -> FakeHandle {
    let (base_url, task) = serve_loopback(router).await;
    FakeHandle { base_url, shared, task }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], serde_json::to_vec(body).unwrap_or_default()).into_response()
}

fn plain(status: u16, body: &'static str) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body).into_response()
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn parse_ymd(s: Option<&String>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y%m%d").ok())
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (x * p).round() / p
}

// ---------------------------------------------------------------------------------------------
// TuShare
// ---------------------------------------------------------------------------------------------

/// What the TuShare fake serves. Series are kept ascending; answers are newest first.
#[derive(Debug, Clone, Default)]
pub struct TushareData {
    /// Unadjusted daily bars per symbol, in shares and CNY (served in lots and thousands).
    pub daily: HashMap<Symbol, Vec<DailyBar>>,
    pub adj_factor: HashMap<Symbol, Vec<AdjFactor>>,
    /// Rows of `income`, `balancesheet`, `cashflow`, `fina_indicator`, `dividend`, `daily_basic`.
    pub statements: HashMap<(Statement, Symbol), Vec<StatementRow>>,
    pub stock_basic: Vec<InstrumentRecord>,
    /// (exchange, day).
    pub trade_cal: Vec<(String, CalendarDay)>,
    /// Rows per answer by API; defaults to [`crate::tushare::default_row_cap`].
    pub row_caps: HashMap<String, usize>,
    /// When set, any other token is answered with 40101.
    pub token: Option<String>,
    /// Keep every normal answer rendered and serve it again to the same request (API, parameters,
    /// fields), for benchmarks where the fake's own serializing must not count. Calls are still
    /// logged and injections and the token still checked first.
    pub cache_answers: bool,
}

impl TushareData {
    pub fn with_daily(mut self, symbol: Symbol, mut bars: Vec<DailyBar>) -> Self {
        bars.sort_by_key(|b| b.date);
        self.daily.insert(symbol, bars);
        self
    }

    pub fn with_factors(mut self, symbol: Symbol, mut factors: Vec<AdjFactor>) -> Self {
        factors.sort_by_key(|f| f.date);
        self.adj_factor.insert(symbol, factors);
        self
    }

    pub fn with_statement(mut self, symbol: Symbol, statement: Statement, rows: Vec<StatementRow>) -> Self {
        self.statements.entry((statement, symbol)).or_default().extend(rows);
        self
    }

    pub fn with_row_cap(mut self, api: &str, cap: usize) -> Self {
        self.row_caps.insert(api.to_string(), cap.max(1));
        self
    }

    /// See [`TushareData::cache_answers`].
    pub fn with_answer_cache(mut self) -> Self {
        self.cache_answers = true;
        self
    }

    fn cap(&self, api: &str) -> usize {
        self.row_caps.get(api).copied().unwrap_or_else(|| crate::tushare::default_row_cap(api))
    }
}

/// The TuShare Pro fake: `POST /` with TuShare's JSON body.
pub struct FakeTushare;

struct TushareState {
    data: TushareData,
    /// Symbols in order, for the whole-market forms.
    daily_symbols: Vec<Symbol>,
    factor_symbols: Vec<Symbol>,
    shared: Arc<Shared>,
    /// Rendered answers by request, when [`TushareData::cache_answers`].
    cache: Mutex<HashMap<String, axum::body::Bytes>>,
}

impl FakeTushare {
    pub async fn start(data: TushareData) -> FakeHandle {
        let mut daily_symbols: Vec<Symbol> = data.daily.keys().cloned().collect();
        daily_symbols.sort();
        let mut factor_symbols: Vec<Symbol> = data.adj_factor.keys().cloned().collect();
        factor_symbols.sort();
        let shared = Arc::new(Shared::default());
        let state = Arc::new(TushareState {
            data,
            daily_symbols,
            factor_symbols,
            shared: shared.clone(),
            cache: Mutex::new(HashMap::new()),
        });
        let router = Router::new().route("/", post(tushare_handler)).with_state(state);
        serve(router, shared).await
    }
}

fn tushare_answer_body(fields: &[String], items: Vec<Vec<Value>>, has_more: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "request_id": "fake",
        "code": 0,
        "msg": "",
        "data": { "fields": fields, "items": items, "has_more": has_more }
    }))
    .unwrap_or_default()
}

fn json_bytes(body: impl Into<axum::body::Body>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

fn tushare_error(code: i64, msg: &str) -> Response {
    json_response(StatusCode::OK, &json!({ "request_id": "fake", "code": code, "msg": msg, "data": null }))
}

/// Serves `rows` (already newest first) from `offset`, at most `cap` of them.
fn page<T>(rows: impl Iterator<Item = T>, offset: usize, cap: usize) -> (Vec<T>, bool) {
    let mut it = rows.skip(offset);
    let taken: Vec<T> = it.by_ref().take(cap).collect();
    let more = taken.len() == cap && it.next().is_some();
    (taken, more)
}

fn fv_to_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Number(n) => json!(n),
        FieldValue::Text(t) => json!(t),
        FieldValue::Null => Value::Null,
    }
}

fn market_name(board: &str) -> &'static str {
    match board {
        "main" => "主板",
        "chinext" => "创业板",
        "star" => "科创板",
        "bse" => "北交所",
        "cdr" => "CDR",
        _ => "",
    }
}

async fn tushare_handler(State(st): State<Arc<TushareState>>, body: axum::body::Bytes) -> Response {
    let started = Instant::now();
    let answer = tushare_answer(&st, &body).await;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    st.shared.handler_nanos.fetch_add(nanos, Ordering::Relaxed);
    answer
}

async fn tushare_answer(st: &TushareState, body: &[u8]) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return tushare_error(-2001, "请求格式错误");
    };
    let api = req.get("api_name").and_then(Value::as_str).unwrap_or_default().to_string();
    let token = req.get("token").and_then(Value::as_str).unwrap_or_default().to_string();
    let params: BTreeMap<String, String> = req
        .get("params")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let fields_req: Vec<String> = req
        .get("fields")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let injection =
        st.shared.record(FakeCall { api: api.clone(), params: params.clone(), had_token: !token.trim().is_empty() });
    let mut empty = false;
    match injection {
        Some(Injection::Code { code, msg }) => return tushare_error(code, &msg),
        Some(Injection::ChartError { .. }) | Some(Injection::Http(_)) => {
            let status = match injection {
                Some(Injection::Http(s)) => s,
                _ => 500,
            };
            return plain(status, "server error");
        }
        Some(Injection::Malformed) => return plain(200, "{\"code\":0,\"data\":{\"fields\":[\"ts_code\""),
        Some(Injection::Empty) => empty = true,
        Some(Injection::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    if token.trim().is_empty() || st.data.token.as_ref().is_some_and(|t| *t != token) {
        return tushare_error(40101, "您的token不对，请确认。");
    }
    let cache_key = (st.data.cache_answers && !empty).then(|| format!("{api}\n{params:?}\n{fields_req:?}"));
    if let Some(key) = &cache_key
        && let Some(hit) = st.cache.lock().unwrap().get(key).cloned()
    {
        return json_bytes(hit);
    }
    let data = &st.data;
    let cap = data.cap(&api);
    let offset: usize = params.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let start = parse_ymd(params.get("start_date")).unwrap_or(NaiveDate::MIN);
    let end = parse_ymd(params.get("end_date")).unwrap_or(NaiveDate::MAX);
    let symbol = params.get("ts_code").and_then(|s| Symbol::new(s).ok());

    // (all fields in order, rows newest first as full rows, has_more)
    let (all_fields, rows, more): (Vec<String>, Vec<Vec<Value>>, bool) = match api.as_str() {
        "daily" => {
            let f = ["ts_code", "trade_date", "open", "high", "low", "close", "vol", "amount"];
            let row = |s: &Symbol, b: &DailyBar| {
                vec![
                    json!(s.as_str()),
                    json!(ymd(b.date)),
                    json!(b.open),
                    json!(b.high),
                    json!(b.low),
                    json!(b.close),
                    json!(b.volume / 100.0),
                    json!(b.amount / 1000.0),
                ]
            };
            let (rows, more) = if let Some(day) = parse_ymd(params.get("trade_date")) {
                let hits = st.daily_symbols.iter().filter_map(|s| {
                    let bars = &data.daily[s];
                    bars.binary_search_by_key(&day, |b| b.date).ok().map(|i| (s, &bars[i]))
                });
                let (taken, more) = page(hits, offset, cap);
                (taken.into_iter().map(|(s, b)| row(s, b)).collect(), more)
            } else {
                let bars = symbol.as_ref().and_then(|s| data.daily.get(s)).map(Vec::as_slice).unwrap_or(&[]);
                let lo = bars.partition_point(|b| b.date < start);
                let hi = bars.partition_point(|b| b.date <= end);
                let (taken, more) = page(bars[lo..hi].iter().rev(), offset, cap);
                let s = symbol.clone();
                (taken.into_iter().map(|b| row(s.as_ref().unwrap(), b)).collect(), more)
            };
            (f.map(String::from).to_vec(), rows, more)
        }
        "adj_factor" => {
            let f = ["ts_code", "trade_date", "adj_factor"];
            let row = |s: &Symbol, a: &AdjFactor| vec![json!(s.as_str()), json!(ymd(a.date)), json!(a.factor)];
            let (rows, more) = if let Some(day) = parse_ymd(params.get("trade_date")) {
                let hits = st.factor_symbols.iter().filter_map(|s| {
                    let fs = &data.adj_factor[s];
                    fs.binary_search_by_key(&day, |a| a.date).ok().map(|i| (s, &fs[i]))
                });
                let (taken, more) = page(hits, offset, cap);
                (taken.into_iter().map(|(s, a)| row(s, a)).collect(), more)
            } else {
                let fs = symbol.as_ref().and_then(|s| data.adj_factor.get(s)).map(Vec::as_slice).unwrap_or(&[]);
                let lo = fs.partition_point(|a| a.date < start);
                let hi = fs.partition_point(|a| a.date <= end);
                let (taken, more) = page(fs[lo..hi].iter().rev(), offset, cap);
                (taken.into_iter().map(|a| row(symbol.as_ref().unwrap(), a)).collect(), more)
            };
            (f.map(String::from).to_vec(), rows, more)
        }
        "income" | "balancesheet" | "cashflow" | "fina_indicator" | "dividend" | "daily_basic" => {
            let statement = Statement::parse(&api).expect("a statement API");
            let all =
                symbol.as_ref().and_then(|s| data.statements.get(&(statement, s.clone()))).cloned().unwrap_or_default();
            let mut fields: Vec<String> = Vec::new();
            for key in [
                "ts_code",
                "ann_date",
                "f_ann_date",
                "end_date",
                "trade_date",
                "report_type",
                "comp_type",
                "end_type",
                "update_flag",
            ] {
                if all.iter().any(|r| r.fields.contains_key(key)) {
                    fields.push(key.to_string());
                }
            }
            if !fields.iter().any(|f| f == statement.period_field()) {
                fields.push(statement.period_field().to_string());
            }
            for r in &all {
                for k in r.fields.keys() {
                    if !fields.contains(k) {
                        fields.push(k.clone());
                    }
                }
            }
            let mut rows: Vec<&StatementRow> = all
                .iter()
                .filter(|r| statement == Statement::Dividend || (r.period >= start && r.period <= end))
                .collect();
            rows.sort_by_key(|r| std::cmp::Reverse((r.period, r.f_ann_date, r.ann_date)));
            let (taken, more) = page(rows.into_iter(), offset, cap);
            let items = taken
                .into_iter()
                .map(|r| {
                    fields
                        .iter()
                        .map(|f| match r.fields.get(f) {
                            Some(v) => fv_to_json(v),
                            None if f == statement.period_field() => json!(ymd(r.period)),
                            None if f == "ts_code" => json!(r.symbol.as_str()),
                            None => Value::Null,
                        })
                        .collect()
                })
                .collect();
            (fields, items, more)
        }
        "stock_basic" => {
            let f = [
                "ts_code",
                "symbol",
                "name",
                "area",
                "industry",
                "cnspell",
                "market",
                "exchange",
                "list_status",
                "list_date",
                "delist_date",
                "act_name",
            ];
            let status = params.get("list_status").cloned().unwrap_or_else(|| "L".to_string());
            let hits = data.stock_basic.iter().filter(|r| r.list_status == status);
            let (taken, more) = page(hits, offset, cap);
            let opt = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
            let rows = taken
                .into_iter()
                .map(|r| {
                    vec![
                        json!(r.symbol.as_str()),
                        json!(r.symbol.code()),
                        json!(r.name),
                        opt(&r.area),
                        opt(&r.industry),
                        opt(&r.abbrev.to_lowercase()),
                        opt(market_name(&r.board)),
                        json!(r.exchange),
                        json!(r.list_status),
                        r.list_date.map(|d| json!(ymd(d))).unwrap_or(Value::Null),
                        r.delist_date.map(|d| json!(ymd(d))).unwrap_or(Value::Null),
                        opt(&r.controller),
                    ]
                })
                .collect();
            (f.map(String::from).to_vec(), rows, more)
        }
        "trade_cal" => {
            let exchange = params.get("exchange").cloned().filter(|e| !e.is_empty()).unwrap_or_else(|| "SSE".into());
            let mut days: Vec<&CalendarDay> = data
                .trade_cal
                .iter()
                .filter(|(e, d)| *e == exchange && d.date >= start && d.date <= end)
                .map(|(_, d)| d)
                .collect();
            days.sort_by_key(|d| std::cmp::Reverse(d.date));
            let (taken, more) = page(days.into_iter(), offset, cap);
            let rows = taken
                .into_iter()
                .map(|d| vec![json!(exchange), json!(ymd(d.date)), json!(if d.open { 1 } else { 0 })])
                .collect();
            (["exchange", "cal_date", "is_open"].map(String::from).to_vec(), rows, more)
        }
        _ => return tushare_error(-2001, "请指定正确的接口名"),
    };
    // Project to the fields asked for (all when none).
    let (fields, items) = if fields_req.is_empty() {
        (all_fields, rows)
    } else {
        let idx: Vec<Option<usize>> = fields_req.iter().map(|f| all_fields.iter().position(|a| a == f)).collect();
        let items = rows
            .into_iter()
            .map(|r| idx.iter().map(|i| i.map(|i| r[i].clone()).unwrap_or(Value::Null)).collect())
            .collect();
        (fields_req, items)
    };
    if empty {
        return json_bytes(tushare_answer_body(&fields, Vec::new(), false));
    }
    let body = axum::body::Bytes::from(tushare_answer_body(&fields, items, more));
    if let Some(key) = cache_key {
        st.cache.lock().unwrap().insert(key, body.clone());
    }
    json_bytes(body)
}

// ---------------------------------------------------------------------------------------------
// Eastmoney
// ---------------------------------------------------------------------------------------------

/// One instrument at the Eastmoney fake.
#[derive(Debug, Clone, Default)]
pub struct EastmoneySeries {
    pub name: String,
    /// Raw bars, ascending, in shares (served in lots).
    pub bars: Vec<DailyBar>,
    /// Cumulative hfq factors (change points; 1.0 before the first). `fqt=2` serves raw × factor.
    pub factors: Vec<AdjFactor>,
    /// Unix second of the quote (`f86`); 0 = the last bar's day at 15:00 Shanghai time.
    pub quote_time: i64,
}

#[derive(Debug, Clone, Default)]
pub struct EastmoneyData {
    pub series: HashMap<Symbol, EastmoneySeries>,
}

impl EastmoneyData {
    pub fn with_series(mut self, symbol: Symbol, mut series: EastmoneySeries) -> Self {
        series.bars.sort_by_key(|b| b.date);
        series.factors.sort_by_key(|f| f.date);
        self.series.insert(symbol, series);
        self
    }
}

/// The Eastmoney fake: `GET /api/qt/stock/kline/get` and `GET /api/qt/stock/get`.
pub struct FakeEastmoney;

struct EastmoneyState {
    data: EastmoneyData,
    shared: Arc<Shared>,
}

impl FakeEastmoney {
    pub async fn start(data: EastmoneyData) -> FakeHandle {
        let shared = Arc::new(Shared::default());
        let state = Arc::new(EastmoneyState { data, shared: shared.clone() });
        let router = Router::new()
            .route("/api/qt/stock/kline/get", get(eastmoney_kline))
            .route("/api/qt/stock/get", get(eastmoney_quote))
            .with_state(state);
        serve(router, shared).await
    }
}

/// Shared handling of injections for the GET fakes; `Some` is the answer to send.
async fn get_injection(injection: Option<Injection>, code_body: impl Fn(i64, &str) -> Value) -> Option<Response> {
    match injection? {
        Injection::Code { code, msg } => Some(json_response(StatusCode::OK, &code_body(code, &msg))),
        Injection::ChartError { code, description } => {
            let status = if code == "Not Found" { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
            Some(json_response(
                status,
                &json!({"chart": {"result": null, "error": {"code": code, "description": description}}}),
            ))
        }
        Injection::Http(s) => Some(plain(s, "server error")),
        Injection::Malformed => Some(plain(200, "<html>not json")),
        Injection::Empty => None,
        Injection::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
    }
}

fn factor_at(factors: &[AdjFactor], date: NaiveDate) -> f64 {
    let i = factors.partition_point(|f| f.date <= date);
    if i == 0 { 1.0 } else { factors[i - 1].factor }
}

async fn eastmoney_kline(State(st): State<Arc<EastmoneyState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let injection =
        st.shared.record(FakeCall { api: "kline".into(), params: q.clone().into_iter().collect(), had_token: false });
    let empty = matches!(injection, Some(Injection::Empty));
    if let Some(r) = get_injection(injection, |code, _| json!({"rc": code, "rt": 17, "data": null})).await {
        return r;
    }
    let symbol = q.get("secid").and_then(|s| crate::symbols::from_eastmoney_secid(s).ok());
    let Some((symbol, series)) = symbol.and_then(|s| st.data.series.get(&s).map(|v| (s, v))) else {
        return json_response(StatusCode::OK, &json!({"rc": 0, "rt": 17, "data": null}));
    };
    let fqt: u8 = q.get("fqt").and_then(|f| f.parse().ok()).unwrap_or(0);
    let beg = parse_ymd(q.get("beg")).unwrap_or(NaiveDate::MIN);
    let end = parse_ymd(q.get("end")).unwrap_or(NaiveDate::MAX);
    let last_factor = series.factors.last().map(|f| f.factor).unwrap_or(1.0);
    let lo = series.bars.partition_point(|b| b.date < beg);
    let hi = series.bars.partition_point(|b| b.date <= end);
    let klines: Vec<String> = if empty {
        Vec::new()
    } else {
        series.bars[lo..hi]
            .iter()
            .map(|b| {
                let k = match fqt {
                    2 => factor_at(&series.factors, b.date),
                    1 => factor_at(&series.factors, b.date) / last_factor,
                    _ => 1.0,
                };
                let p = |x: f64| round_to(x * k, 2);
                format!(
                    "{},{:.2},{:.2},{:.2},{:.2},{},{:.2},0.00,0.00,0.00,0.00",
                    b.date.format("%Y-%m-%d"),
                    p(b.open),
                    p(b.close),
                    p(b.high),
                    p(b.low),
                    b.volume / 100.0,
                    b.amount
                )
            })
            .collect()
    };
    let market = if symbol.exchange() == quantdesk_core::symbol::Exchange::Sse { 1 } else { 0 };
    json_response(
        StatusCode::OK,
        &json!({"rc": 0, "rt": 17, "data": {
            "code": symbol.code(), "market": market, "name": series.name, "decimal": 2,
            "dktotal": series.bars.len(), "klines": klines
        }}),
    )
}

async fn eastmoney_quote(State(st): State<Arc<EastmoneyState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let injection =
        st.shared.record(FakeCall { api: "quote".into(), params: q.clone().into_iter().collect(), had_token: false });
    if let Some(r) = get_injection(injection, |code, _| json!({"rc": code, "rt": 4, "data": null})).await {
        return r;
    }
    let symbol = q.get("secid").and_then(|s| crate::symbols::from_eastmoney_secid(s).ok());
    let Some((symbol, series, last)) =
        symbol.and_then(|s| st.data.series.get(&s).and_then(|v| v.bars.last().map(|l| (s, v, *l))))
    else {
        return json_response(StatusCode::OK, &json!({"rc": 0, "rt": 4, "data": null}));
    };
    let prev = series.bars.len().checked_sub(2).map(|i| series.bars[i].close).unwrap_or(last.open);
    let time = if series.quote_time != 0 {
        series.quote_time
    } else {
        last.date.and_hms_opt(7, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0)
    };
    let cents = |x: f64| (x * 100.0).round() as i64;
    json_response(
        StatusCode::OK,
        &json!({"rc": 0, "rt": 4, "data": {
            "f43": cents(last.close), "f44": cents(last.high), "f45": cents(last.low), "f46": cents(last.open),
            "f47": last.volume / 100.0, "f48": last.amount, "f57": symbol.code(), "f58": series.name,
            "f60": cents(prev), "f86": time
        }}),
    )
}

// ---------------------------------------------------------------------------------------------
// Yahoo
// ---------------------------------------------------------------------------------------------

/// One instrument at the Yahoo fake.
#[derive(Debug, Clone, Default)]
pub struct YahooSeries {
    /// Bars as given (the fake serves them as the chart's quote), ascending.
    pub bars: Vec<DailyBar>,
    /// Seconds east of UTC.
    pub gmtoffset: i64,
    pub timezone: String,
    pub currency: String,
    /// Seconds after local midnight that each daily timestamp carries (the session open).
    pub session_start: i64,
    /// (ex-date, amount).
    pub dividends: Vec<(NaiveDate, f64)>,
    /// (date, numerator, denominator).
    pub splits: Vec<(NaiveDate, f64, f64)>,
    /// Dates served with null prices.
    pub holes: Vec<NaiveDate>,
}

impl YahooSeries {
    /// A Shanghai instrument: UTC+8, stamps at 09:30 local (01:30 UTC).
    pub fn shanghai(bars: Vec<DailyBar>) -> Self {
        YahooSeries {
            bars,
            gmtoffset: 8 * 3600,
            timezone: "Asia/Shanghai".into(),
            currency: "CNY".into(),
            session_start: 9 * 3600 + 1800,
            ..Default::default()
        }
    }

    /// A New York instrument: UTC−5, stamps at 09:30 local (14:30 UTC).
    pub fn new_york(bars: Vec<DailyBar>) -> Self {
        YahooSeries {
            bars,
            gmtoffset: -5 * 3600,
            timezone: "America/New_York".into(),
            currency: "USD".into(),
            session_start: 9 * 3600 + 1800,
            ..Default::default()
        }
    }

    /// The Unix second the fake stamps on `date`.
    pub fn stamp(&self, date: NaiveDate) -> i64 {
        date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0) - self.gmtoffset + self.session_start
    }
}

#[derive(Debug, Clone, Default)]
pub struct YahooData {
    /// By Yahoo ticker (`600519.SS`, `GOOG`, `^DJI`).
    pub series: HashMap<String, YahooSeries>,
}

impl YahooData {
    pub fn with_series(mut self, ticker: &str, mut series: YahooSeries) -> Self {
        series.bars.sort_by_key(|b| b.date);
        self.series.insert(ticker.to_string(), series);
        self
    }
}

/// The Yahoo fake: `GET /v8/finance/chart/{ticker}`.
pub struct FakeYahoo;

struct YahooState {
    data: YahooData,
    shared: Arc<Shared>,
}

impl FakeYahoo {
    pub async fn start(data: YahooData) -> FakeHandle {
        let shared = Arc::new(Shared::default());
        let state = Arc::new(YahooState { data, shared: shared.clone() });
        let router = Router::new().route("/v8/finance/chart/{ticker}", get(yahoo_chart)).with_state(state);
        serve(router, shared).await
    }
}

async fn yahoo_chart(
    State(st): State<Arc<YahooState>>,
    Path(ticker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut params: BTreeMap<String, String> = q.clone().into_iter().collect();
    params.insert("symbol".into(), ticker.clone());
    let injection = st.shared.record(FakeCall { api: "chart".into(), params, had_token: false });
    let empty = matches!(injection, Some(Injection::Empty));
    if let Some(r) = get_injection(
        injection,
        |code, msg| json!({"chart": {"result": null, "error": {"code": code.to_string(), "description": msg}}}),
    )
    .await
    {
        return r;
    }
    let Some(s) = st.data.series.get(&ticker) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"chart": {"result": null, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}),
        );
    };
    let p1: i64 = q.get("period1").and_then(|p| p.parse().ok()).unwrap_or(i64::MIN);
    let p2: i64 = q.get("period2").and_then(|p| p.parse().ok()).unwrap_or(i64::MAX);
    let mut chosen: Vec<&DailyBar> = s.bars.iter().filter(|b| (p1..p2).contains(&s.stamp(b.date))).collect();
    if q.contains_key("range") {
        let n = chosen.len();
        chosen = chosen.split_off(n.saturating_sub(5));
    }
    if empty {
        chosen.clear();
    }
    // Yahoo's adjclose: close × (factor on the day / last factor), over the whole series.
    let all_factors = crate::yahoo::factors_from_events(&s.bars, &s.dividends, &s.splits);
    let last_factor = all_factors.last().map(|f| f.factor).unwrap_or(1.0);
    let hole = |b: &DailyBar| s.holes.contains(&b.date);
    let col = |f: &dyn Fn(&DailyBar) -> f64| -> Vec<Value> {
        chosen.iter().map(|b| if hole(b) { Value::Null } else { json!(f(b)) }).collect()
    };
    let timestamps: Vec<i64> = chosen.iter().map(|b| s.stamp(b.date)).collect();
    let adjclose = col(&|b| round_to(b.close * factor_at(&all_factors, b.date) / last_factor, 6));
    let in_range = |d: NaiveDate| (p1..p2).contains(&s.stamp(d)) && !empty;
    let dividends: serde_json::Map<String, Value> = s
        .dividends
        .iter()
        .filter(|(d, _)| in_range(*d))
        .map(|(d, a)| (s.stamp(*d).to_string(), json!({"amount": a, "date": s.stamp(*d)})))
        .collect();
    let splits: serde_json::Map<String, Value> = s
        .splits
        .iter()
        .filter(|(d, _, _)| in_range(*d))
        .map(|(d, n, den)| {
            (
                s.stamp(*d).to_string(),
                json!({"date": s.stamp(*d), "numerator": n, "denominator": den, "splitRatio": format!("{n}:{den}")}),
            )
        })
        .collect();
    let last = chosen.iter().rev().find(|b| !hole(b));
    let prev_close = s
        .bars
        .iter()
        .rev()
        .find(|b| chosen.first().is_some_and(|f| b.date < f.date))
        .map(|b| b.close)
        .or(chosen.first().map(|b| b.close));
    let meta = json!({
        "currency": s.currency,
        "symbol": ticker,
        "exchangeTimezoneName": s.timezone,
        "gmtoffset": s.gmtoffset,
        "instrumentType": "EQUITY",
        "regularMarketPrice": last.map(|b| b.close),
        "regularMarketTime": last.map(|b| s.stamp(b.date) + 6 * 3600 + 1800),
        "regularMarketDayHigh": last.map(|b| b.high),
        "regularMarketDayLow": last.map(|b| b.low),
        "regularMarketVolume": last.map(|b| b.volume),
        "chartPreviousClose": prev_close,
        "dataGranularity": "1d",
    });
    let result = json!({
        "meta": meta,
        "timestamp": timestamps,
        "events": {"dividends": dividends, "splits": splits},
        "indicators": {
            "quote": [{
                "open": col(&|b| b.open), "high": col(&|b| b.high), "low": col(&|b| b.low),
                "close": col(&|b| b.close), "volume": col(&|b| b.volume)
            }],
            "adjclose": [{"adjclose": adjclose}]
        }
    });
    json_response(StatusCode::OK, &json!({"chart": {"result": [result], "error": null}}))
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// Loaders for the shared fixture files (`$QUANTDESK_FIXTURES`).
pub mod fixtures {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use chrono::NaiveDate;
    use quantdesk_core::financials::FieldValue;
    use quantdesk_core::{Statement, StatementRow, Symbol};

    use crate::DailyBar;

    /// The fixture folder from `QUANTDESK_FIXTURES`. When unset: panics if
    /// `QUANTDESK_TEST_REQUIRE_ALL` is set, else prints why and gives `None` (the caller skips).
    pub fn dir() -> Option<PathBuf> {
        match std::env::var_os("QUANTDESK_FIXTURES") {
            Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
            _ => {
                if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
                    panic!("QUANTDESK_FIXTURES is not set and QUANTDESK_TEST_REQUIRE_ALL is");
                }
                eprintln!("skipped: set QUANTDESK_FIXTURES to the shared fixtures folder to run this test");
                None
            }
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn parse_date(s: &str) -> Option<NaiveDate> {
        let s = s.trim();
        NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d")).ok()
    }

    /// Daily bars from a `date,open,high,low,close,volume[,amount…]` file (other columns ignored;
    /// `amount` 0 when absent). Panics on a bad file: fixtures are trusted test input.
    pub fn load_daily_csv(path: impl AsRef<Path>) -> Vec<DailyBar> {
        let path = path.as_ref();
        let text = read(path);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').map(str::trim).collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(d), Some(o), Some(h), Some(l), Some(c)) =
            (col("date"), col("open"), col("high"), col("low"), col("close"))
        else {
            panic!("{}: needs date,open,high,low,close columns", path.display());
        };
        let (v, a) = (col("volume"), col("amount"));
        lines
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                let cells: Vec<&str> = line.split(',').collect();
                let num = |j: Option<usize>| -> f64 {
                    j.and_then(|j| cells.get(j)).map(|s| s.trim()).filter(|s| !s.is_empty()).map_or(0.0, |s| {
                        s.parse().unwrap_or_else(|_| panic!("{}:{}: bad number {s:?}", path.display(), i + 2))
                    })
                };
                DailyBar {
                    date: parse_date(cells[d]).unwrap_or_else(|| panic!("{}:{}: bad date", path.display(), i + 2)),
                    open: num(Some(o)),
                    high: num(Some(h)),
                    low: num(Some(l)),
                    close: num(Some(c)),
                    volume: num(v),
                    amount: num(a),
                }
            })
            .collect()
    }

    /// Fields that stay text in TuShare's answers even when they look like numbers.
    const TEXT_FIELDS: [&str; 11] = [
        "ts_code",
        "ann_date",
        "f_ann_date",
        "end_date",
        "trade_date",
        "report_type",
        "comp_type",
        "end_type",
        "update_flag",
        "div_proc",
        "record_date",
    ];

    /// Statement rows from a TuShare-columns CSV (empty cell = null; the key fields stay text,
    /// other numeric cells become numbers). Panics on a bad file.
    pub fn load_statement_csv(path: impl AsRef<Path>, statement: Statement) -> Vec<StatementRow> {
        let path = path.as_ref();
        let text = read(path);
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let folder_symbol =
            path.parent().and_then(|p| p.file_name()).and_then(|n| Symbol::new(&n.to_string_lossy()).ok());
        lines
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                let cells: Vec<&str> = line.split(',').collect();
                let mut fields = BTreeMap::new();
                for (j, name) in header.iter().enumerate() {
                    let cell = cells.get(j).map(|c| c.trim()).unwrap_or("");
                    let v = if cell.is_empty() {
                        FieldValue::Null
                    } else if TEXT_FIELDS.contains(&name.as_str()) {
                        FieldValue::Text(cell.to_string())
                    } else {
                        cell.parse::<f64>()
                            .map(FieldValue::Number)
                            .unwrap_or_else(|_| FieldValue::Text(cell.to_string()))
                    };
                    fields.insert(name.clone(), v);
                }
                let text = |k: &str| match fields.get(k) {
                    Some(FieldValue::Text(t)) => t.clone(),
                    Some(FieldValue::Number(n)) => n.to_string(),
                    _ => String::new(),
                };
                let symbol = Symbol::new(&text("ts_code"))
                    .ok()
                    .or_else(|| folder_symbol.clone())
                    .unwrap_or_else(|| panic!("{}:{}: no ts_code", path.display(), i + 2));
                let period = parse_date(&text(statement.period_field()))
                    .unwrap_or_else(|| panic!("{}:{}: no {}", path.display(), i + 2, statement.period_field()));
                StatementRow {
                    symbol,
                    statement,
                    period,
                    ann_date: parse_date(&text("ann_date")),
                    f_ann_date: parse_date(&text("f_ann_date")),
                    report_type: text("report_type"),
                    end_type: text("end_type"),
                    update_flag: text("update_flag"),
                    fields,
                }
            })
            .collect()
    }
}
