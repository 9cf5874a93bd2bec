//! TuShare Pro (`http://api.tushare.pro`): one JSON POST per call, answers as a table of fields
//! and item rows, newest first, capped per API (the client pages).
//!
//! Wire format: `{"api_name","token","params":{..strings, dates YYYYMMDD..},"fields":"a,b"}` →
//! `{"request_id","code":0,"msg":null,"data":{"fields":[..],"items":[[..],..],"has_more":bool}}`.
//! Codes: 2002 no permission, 40101 bad token, 40203 rate limit (retried), others vendor errors.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::NaiveDate;
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{AdjFactor, Statement, StatementRow, Symbol};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{Failure, HttpClient, Request, SourceSettings};
use crate::{
    CalendarDay, CallCounts, Capability, DailyBar, ErrorKind, InstrumentRecord, Result, Source, SourceError, SourceId,
};

/// TuShare's code for "no permission for this API".
pub const CODE_NO_PERMISSION: i64 = 2002;
/// TuShare's code for a missing or refused token.
pub const CODE_BAD_TOKEN: i64 = 40101;
/// TuShare's code for "too many calls a minute" (`每分钟最多访问该接口N次`).
pub const CODE_RATE_LIMITED: i64 = 40203;

/// The rows one call returns at most, per API, as TuShare documents them (`daily` and
/// `adj_factor` 6,000; the statements about 100). Unknown APIs: 5,000.
pub fn default_row_cap(api: &str) -> usize {
    match api {
        "daily" | "adj_factor" | "daily_basic" => 6000,
        "income" | "balancesheet" | "cashflow" | "fina_indicator" => 100,
        "dividend" => 2000,
        "trade_cal" => 10000,
        "stock_basic" => 10000,
        _ => 5000,
    }
}

/// One answer's table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub fields: Vec<String>,
    pub items: Vec<Vec<Value>>,
    pub has_more: bool,
}

impl Table {
    fn index(&self) -> HashMap<&str, usize> {
        self.fields.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect()
    }
}

#[derive(Deserialize)]
struct Answer {
    code: i64,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Option<AnswerData>,
}

#[derive(Deserialize)]
struct AnswerData {
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    items: Vec<Vec<Value>>,
    #[serde(default)]
    has_more: bool,
}

/// The TuShare Pro client.
pub struct Tushare {
    http: HttpClient,
    caps: HashMap<String, usize>,
}

impl std::fmt::Debug for Tushare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tushare").field("settings", self.http.settings()).field("caps", &self.caps).finish()
    }
}

/// How a paged API moves to its next page.
#[derive(Clone, Copy)]
enum Paging<'a> {
    /// Move `end_date` back past the oldest `date_field` received. `multi` when several rows
    /// may share a date (revisions): the oldest date is then asked again so none is lost.
    ByEndDate { date_field: &'a str, start: NaiveDate, end: NaiveDate, multi: bool },
    /// Ask again with `offset` (whole-market and undated tables).
    ByOffset,
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

impl Tushare {
    pub fn new(settings: SourceSettings) -> Result<Self> {
        Ok(Tushare { http: HttpClient::new(SourceId::Tushare, settings)?, caps: HashMap::new() })
    }

    /// Overrides the row cap of one API (tests use small caps to exercise paging).
    pub fn with_row_cap(mut self, api: &str, cap: usize) -> Self {
        self.caps.insert(api.to_string(), cap.max(1));
        self
    }

    pub fn row_cap(&self, api: &str) -> usize {
        self.caps.get(api).copied().unwrap_or_else(|| default_row_cap(api))
    }

    /// One call, no paging. `fields` empty asks for the API's default fields.
    pub async fn query(&self, api: &str, params: &[(&str, String)], fields: &str) -> Result<Table> {
        let Some(token) = self.http.settings().token.clone() else {
            return Err(SourceError::new(ErrorKind::BadToken, "tushare: no token is configured"));
        };
        let params: serde_json::Map<String, Value> =
            params.iter().map(|(k, v)| (k.to_string(), Value::String(v.clone()))).collect();
        let body = serde_json::json!({ "api_name": api, "token": token, "params": params, "fields": fields });
        let url = self.http.base_url().to_string();
        self.http
            .call(
                api,
                || Request::PostJson(url.clone(), body.clone()),
                |status, bytes| interpret(api, &token, status, bytes),
            )
            .await
    }

    /// Pages through an API until a page is short and says no more.
    async fn query_all(&self, api: &str, params: &[(&str, String)], fields: &str, paging: Paging<'_>) -> Result<Table> {
        let cap = self.row_cap(api);
        let mut out = Table::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut boundary: Option<NaiveDate> = None;
        let mut offset = 0usize;
        let mut cursor_end = match paging {
            Paging::ByEndDate { end, .. } => Some(end),
            Paging::ByOffset => None,
        };
        for _page in 0..100_000 {
            let mut p: Vec<(&str, String)> = params.to_vec();
            match paging {
                Paging::ByEndDate { start, .. } => {
                    p.push(("start_date", ymd(start)));
                    p.push(("end_date", ymd(cursor_end.unwrap_or(start))));
                }
                Paging::ByOffset if offset > 0 => p.push(("offset", offset.to_string())),
                Paging::ByOffset => {}
            }
            let page = self.query(api, &p, fields).await?;
            if out.fields.is_empty() {
                out.fields = page.fields.clone();
            } else if !page.items.is_empty() && page.fields != out.fields {
                return Err(malformed(api, "pages disagree on their fields"));
            }
            let n = page.items.len();
            let full = n >= cap || page.has_more;
            let mut oldest: Option<NaiveDate> = None;
            let mut newest: Option<NaiveDate> = None;
            let mut dates: Vec<NaiveDate> = Vec::new();
            if let Paging::ByEndDate { date_field, .. } = paging {
                let i =
                    *page.index().get(date_field).ok_or_else(|| malformed(api, format!("no {date_field} field")))?;
                dates.reserve(n);
                for row in &page.items {
                    let d = row
                        .get(i)
                        .and_then(|v| parse_date(v).ok().flatten())
                        .ok_or_else(|| malformed(api, format!("a row has no valid {date_field}")))?;
                    oldest = Some(oldest.map_or(d, |o| o.min(d)));
                    newest = Some(newest.map_or(d, |o| o.max(d)));
                    dates.push(d);
                }
            }
            // Pages overlap only at the date where the previous page ended (asked again when several
            // rows may share it); only rows there are compared, so paging stays cheap.
            for (k, row) in page.items.into_iter().enumerate() {
                let date = dates.get(k).copied();
                let may_repeat = matches!((date, boundary), (Some(d), Some(b)) if d >= b);
                let may_be_repeated = date.is_some() && date == oldest;
                if may_repeat || may_be_repeated {
                    let key = serde_json::to_string(&row).unwrap_or_default();
                    if may_repeat && seen.contains(&key) {
                        continue;
                    }
                    if may_be_repeated {
                        seen.insert(key);
                    }
                }
                out.items.push(row);
            }
            boundary = oldest;
            if n == 0 || !full {
                break;
            }
            match paging {
                Paging::ByOffset => offset += n,
                Paging::ByEndDate { start, multi, .. } => {
                    let (Some(old), Some(new)) = (oldest, newest) else { break };
                    let next = if multi && old < new {
                        old
                    } else {
                        match old.pred_opt() {
                            Some(d) => d,
                            None => break,
                        }
                    };
                    // Done when the range is exhausted; a server answering outside the asked
                    // range must not make the client loop.
                    if next < start || cursor_end.is_some_and(|c| next >= c) {
                        break;
                    }
                    cursor_end = Some(next);
                }
            }
        }
        Ok(out)
    }

    async fn statement_rows(
        &self,
        symbol: &Symbol,
        statement: Statement,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<StatementRow>> {
        let api = statement.as_str();
        let base = [("ts_code", symbol.to_string())];
        let table = match statement {
            Statement::Dividend => self.query_all(api, &base, "", Paging::ByOffset).await?,
            Statement::DailyBasic => {
                self.query_all(api, &base, "", Paging::ByEndDate { date_field: "trade_date", start, end, multi: false })
                    .await?
            }
            _ => {
                self.query_all(api, &base, "", Paging::ByEndDate { date_field: "end_date", start, end, multi: true })
                    .await?
            }
        };
        let mut rows = table_to_statement_rows(api, &table, symbol, statement)?;
        rows.retain(|r| r.period >= start && r.period <= end);
        rows.sort_by_key(|r| (r.period, r.f_ann_date.or(r.ann_date)));
        Ok(rows)
    }
}

fn interpret(api: &str, token: &str, status: u16, bytes: &[u8]) -> std::result::Result<Table, Failure> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
        Failure::fatal(ErrorKind::Malformed, format!("tushare {api}: HTTP {status}, not a TuShare answer: {e}"))
    })?;
    if answer.code != 0 {
        let msg = answer.msg.unwrap_or_default();
        let msg = if token.is_empty() { msg } else { msg.replace(token, "<redacted>") };
        let text = format!("tushare {api}: code {}: {msg}", answer.code);
        return Err(match answer.code {
            CODE_NO_PERMISSION => Failure::fatal(ErrorKind::NoPermission, text),
            CODE_BAD_TOKEN => Failure::fatal(ErrorKind::BadToken, text),
            CODE_RATE_LIMITED => Failure::retryable(ErrorKind::RateLimited, text),
            _ => Failure::fatal(ErrorKind::Vendor, text),
        });
    }
    if status != 200 {
        return Err(Failure::fatal(ErrorKind::Vendor, format!("tushare {api}: HTTP {status}")));
    }
    let Some(data) = answer.data else { return Ok(Table::default()) };
    if let Some(bad) = data.items.iter().find(|r| r.len() != data.fields.len()) {
        return Err(Failure::fatal(
            ErrorKind::Malformed,
            format!("tushare {api}: a row has {} values for {} fields", bad.len(), data.fields.len()),
        ));
    }
    Ok(Table { fields: data.fields, items: data.items, has_more: data.has_more })
}

/// Decodes one answer's body as the client does (the vendor's code, the table, row widths), without
/// HTTP. Public for the sync benchmark (`quantdesk-bench sync`), which times decoding apart from
/// the transport; the client itself goes through [`Tushare::query`].
pub fn decode_answer(api: &str, bytes: &[u8]) -> Result<Table> {
    interpret(api, "", 200, bytes).map_err(|f| f.error)
}

/// Maps a `daily` table to bars in shares and CNY, ascending, as [`Source::daily`] does after
/// paging (public for the sync benchmark).
pub fn daily_bars_from_table(table: &Table) -> Result<Vec<DailyBar>> {
    let rows = Rows::new("daily", table);
    rows.require_field("trade_date")?;
    let mut bars = table.items.iter().map(|r| bar_from(&rows, r, "trade_date")).collect::<Result<Vec<_>>>()?;
    bars.sort_by_key(|b| b.date);
    bars.dedup_by_key(|b| b.date);
    Ok(bars)
}

/// Maps an `adj_factor` table to factors, ascending, as [`Source::factors`] does after paging
/// (public for the sync benchmark).
pub fn factors_from_table(table: &Table) -> Result<Vec<AdjFactor>> {
    let rows = Rows::new("adj_factor", table);
    rows.require_field("trade_date")?;
    let mut out = table
        .items
        .iter()
        .map(|r| Ok(AdjFactor { date: rows.date(r, "trade_date")?, factor: rows.num(r, "adj_factor")? }))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|f| f.date);
    out.dedup_by_key(|f| f.date);
    Ok(out)
}

fn malformed(api: &str, what: impl std::fmt::Display) -> SourceError {
    SourceError::new(ErrorKind::Malformed, format!("tushare {api}: {what}"))
}

/// A date as TuShare writes it (`"20240102"`, also accepted as a number); `None` for null or empty.
fn parse_date(v: &Value) -> std::result::Result<Option<NaiveDate>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => parse_ymd(s),
        Value::Number(n) => parse_ymd(&n.to_string()),
        _ => Err(()),
    }
}

/// `YYYYMMDD`; eight ASCII digits are read directly (every row of a bar answer has two dates, so
/// this is on the hot path), anything else goes through chrono's parser as before.
fn parse_ymd(s: &str) -> std::result::Result<Option<NaiveDate>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let b = s.as_bytes();
    if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        let n = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        let year = i32::try_from(n(0..4)).map_err(|_| ())?;
        return NaiveDate::from_ymd_opt(year, n(4..6), n(6..8)).map(Some).ok_or(());
    }
    NaiveDate::parse_from_str(s, "%Y%m%d").map(Some).map_err(|_| ())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// `x * k` rounded to `decimals` places (lots → shares, thousands → currency units, exactly).
fn scale(x: f64, k: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (x * k * p).round() / p
}

struct Rows<'a> {
    api: &'a str,
    table: &'a Table,
    idx: HashMap<&'a str, usize>,
}

impl<'a> Rows<'a> {
    fn new(api: &'a str, table: &'a Table) -> Self {
        Rows { api, table, idx: table.index() }
    }
    fn get<'r>(&self, row: &'r [Value], field: &str) -> Option<&'r Value> {
        self.idx.get(field).and_then(|&i| row.get(i)).filter(|v| !v.is_null())
    }
    fn require_field(&self, field: &str) -> Result<()> {
        if self.table.items.is_empty() || self.idx.contains_key(field) {
            Ok(())
        } else {
            Err(malformed(self.api, format!("the answer has no {field} field")))
        }
    }
    fn date(&self, row: &[Value], field: &str) -> Result<NaiveDate> {
        self.opt_date(row, field)?.ok_or_else(|| malformed(self.api, format!("a row has no {field}")))
    }
    fn opt_date(&self, row: &[Value], field: &str) -> Result<Option<NaiveDate>> {
        match self.get(row, field) {
            None => Ok(None),
            Some(v) => parse_date(v).map_err(|_| malformed(self.api, format!("bad {field} {v}"))),
        }
    }
    fn num(&self, row: &[Value], field: &str) -> Result<f64> {
        self.get(row, field)
            .and_then(number)
            .ok_or_else(|| malformed(self.api, format!("a row has no numeric {field}")))
    }
    fn opt_num(&self, row: &[Value], field: &str) -> Option<f64> {
        self.get(row, field).and_then(number)
    }
    fn text(&self, row: &[Value], field: &str) -> String {
        self.get(row, field).map(text).unwrap_or_default()
    }
    fn symbol(&self, row: &[Value]) -> Result<Symbol> {
        let raw = self.get(row, "ts_code").map(text).ok_or_else(|| malformed(self.api, "a row has no ts_code"))?;
        crate::symbols::parse_symbol(&raw).map_err(|e| malformed(self.api, e.message))
    }
}

fn bar_from(rows: &Rows<'_>, row: &[Value], date_field: &str) -> Result<DailyBar> {
    Ok(DailyBar {
        date: rows.date(row, date_field)?,
        open: rows.num(row, "open")?,
        high: rows.num(row, "high")?,
        low: rows.num(row, "low")?,
        close: rows.num(row, "close")?,
        volume: scale(rows.opt_num(row, "vol").unwrap_or(0.0), 100.0, 2),
        amount: scale(rows.opt_num(row, "amount").unwrap_or(0.0), 1000.0, 3),
    })
}

fn board(market: &str) -> &'static str {
    match market.trim() {
        "主板" => "main",
        "创业板" => "chinext",
        "科创板" => "star",
        "北交所" => "bse",
        "CDR" | "cdr" => "cdr",
        _ => "",
    }
}

/// Maps `stock_basic` rows.
pub fn instruments_from_table(table: &Table) -> Result<Vec<InstrumentRecord>> {
    let rows = Rows::new("stock_basic", table);
    rows.require_field("ts_code")?;
    table
        .items
        .iter()
        .map(|row| {
            let symbol = rows.symbol(row)?;
            let exchange = match rows.text(row, "exchange") {
                e if e.is_empty() => symbol.exchange().code().to_string(),
                e => e,
            };
            Ok(InstrumentRecord {
                name: rows.text(row, "name"),
                abbrev: rows.text(row, "cnspell").to_uppercase(),
                board: board(&rows.text(row, "market")).to_string(),
                exchange,
                industry: rows.text(row, "industry"),
                area: rows.text(row, "area"),
                controller: rows.text(row, "act_name"),
                list_date: rows.opt_date(row, "list_date")?,
                delist_date: rows.opt_date(row, "delist_date")?,
                list_status: rows.text(row, "list_status"),
                symbol,
            })
        })
        .collect()
}

/// Maps statement rows (any of the six tables), keeping every field.
pub fn table_to_statement_rows(
    api: &str,
    table: &Table,
    symbol: &Symbol,
    statement: Statement,
) -> Result<Vec<StatementRow>> {
    let rows = Rows::new(api, table);
    let period_field = statement.period_field();
    rows.require_field(period_field)?;
    table
        .items
        .iter()
        .map(|row| {
            let row_symbol = match rows.get(row, "ts_code") {
                Some(_) => rows.symbol(row)?,
                None => symbol.clone(),
            };
            let fields: BTreeMap<String, FieldValue> = table
                .fields
                .iter()
                .zip(row)
                .map(|(name, v)| {
                    let fv = match v {
                        Value::Null => FieldValue::Null,
                        Value::Number(n) => n.as_f64().map(FieldValue::Number).unwrap_or(FieldValue::Null),
                        Value::String(s) => FieldValue::Text(s.clone()),
                        other => FieldValue::Text(other.to_string()),
                    };
                    (name.clone(), fv)
                })
                .collect();
            Ok(StatementRow {
                symbol: row_symbol,
                statement,
                period: rows.date(row, period_field)?,
                ann_date: rows.opt_date(row, "ann_date")?,
                f_ann_date: rows.opt_date(row, "f_ann_date")?,
                report_type: rows.text(row, "report_type"),
                end_type: rows.text(row, "end_type"),
                update_flag: rows.text(row, "update_flag"),
                fields,
            })
        })
        .collect()
}

const DAILY_FIELDS: &str = "ts_code,trade_date,open,high,low,close,vol,amount";
const STOCK_BASIC_FIELDS: &str =
    "ts_code,symbol,name,area,industry,cnspell,market,exchange,list_status,list_date,delist_date,act_name";

#[async_trait]
impl Source for Tushare {
    fn id(&self) -> SourceId {
        SourceId::Tushare
    }

    fn has(&self, capability: Capability) -> bool {
        !matches!(capability, Capability::Quote)
    }

    fn calls(&self) -> CallCounts {
        self.http.counts()
    }

    async fn instruments(&self) -> Result<Vec<InstrumentRecord>> {
        let mut out = Vec::new();
        for status in ["L", "D", "P"] {
            let table = self
                .query_all("stock_basic", &[("list_status", status.to_string())], STOCK_BASIC_FIELDS, Paging::ByOffset)
                .await?;
            let mut records = instruments_from_table(&table)?;
            for r in &mut records {
                if r.list_status.is_empty() {
                    r.list_status = status.to_string();
                }
            }
            out.extend(records);
        }
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        out.dedup_by(|a, b| a.symbol == b.symbol);
        Ok(out)
    }

    async fn calendar(&self, exchange: &str, start: NaiveDate, end: NaiveDate) -> Result<Vec<CalendarDay>> {
        let table = self
            .query_all(
                "trade_cal",
                &[("exchange", exchange.to_string())],
                "exchange,cal_date,is_open",
                Paging::ByEndDate { date_field: "cal_date", start, end, multi: false },
            )
            .await?;
        let rows = Rows::new("trade_cal", &table);
        rows.require_field("cal_date")?;
        let mut days = table
            .items
            .iter()
            .map(|row| {
                let open =
                    rows.get(row, "is_open").map(text).ok_or_else(|| malformed("trade_cal", "a row has no is_open"))?;
                Ok(CalendarDay { date: rows.date(row, "cal_date")?, open: open == "1" })
            })
            .collect::<Result<Vec<_>>>()?;
        days.retain(|d| d.date >= start && d.date <= end);
        days.sort_by_key(|d| d.date);
        days.dedup_by_key(|d| d.date);
        Ok(days)
    }

    async fn daily(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<DailyBar>> {
        let table = self
            .query_all(
                "daily",
                &[("ts_code", symbol.to_string())],
                DAILY_FIELDS,
                Paging::ByEndDate { date_field: "trade_date", start, end, multi: false },
            )
            .await?;
        let mut bars = daily_bars_from_table(&table)?;
        bars.retain(|b| b.date >= start && b.date <= end);
        Ok(bars)
    }

    async fn factors(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<AdjFactor>> {
        let table = self
            .query_all(
                "adj_factor",
                &[("ts_code", symbol.to_string())],
                "ts_code,trade_date,adj_factor",
                Paging::ByEndDate { date_field: "trade_date", start, end, multi: false },
            )
            .await?;
        let mut out = factors_from_table(&table)?;
        out.retain(|f| f.date >= start && f.date <= end);
        Ok(out)
    }

    async fn market_daily(&self, date: NaiveDate) -> Result<Vec<(Symbol, DailyBar)>> {
        let table = self.query_all("daily", &[("trade_date", ymd(date))], DAILY_FIELDS, Paging::ByOffset).await?;
        let rows = Rows::new("daily", &table);
        let mut out = table
            .items
            .iter()
            .map(|r| Ok((rows.symbol(r)?, bar_from(&rows, r, "trade_date")?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn market_factors(&self, date: NaiveDate) -> Result<Vec<(Symbol, f64)>> {
        let table = self
            .query_all("adj_factor", &[("trade_date", ymd(date))], "ts_code,trade_date,adj_factor", Paging::ByOffset)
            .await?;
        let rows = Rows::new("adj_factor", &table);
        let mut out = table
            .items
            .iter()
            .map(|r| Ok((rows.symbol(r)?, rows.num(r, "adj_factor")?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn statements(
        &self,
        symbol: &Symbol,
        statement: Statement,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<StatementRow>> {
        self.statement_rows(symbol, statement, start, end).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_codes() {
        let ok = br#"{"request_id":"x","code":0,"msg":null,"data":{"fields":["a"],"items":[[1]],"has_more":false}}"#;
        assert_eq!(interpret("daily", "tok", 200, ok).unwrap().items.len(), 1);
        let err = |code: i64| {
            let body = format!(r#"{{"code":{code},"msg":"bad tok here","data":null}}"#);
            interpret("daily", "tok", 200, body.as_bytes()).unwrap_err()
        };
        assert_eq!(err(2002).error.kind, ErrorKind::NoPermission);
        assert_eq!(err(40101).error.kind, ErrorKind::BadToken);
        assert!(err(40203).retry);
        assert_eq!(err(40203).error.kind, ErrorKind::RateLimited);
        assert_eq!(err(-1).error.kind, ErrorKind::Vendor);
        assert!(!err(-1).error.message.contains("tok "), "the token is scrubbed from vendor messages");
        assert_eq!(interpret("daily", "tok", 200, b"<html>").unwrap_err().error.kind, ErrorKind::Malformed);
        let ragged = br#"{"code":0,"data":{"fields":["a","b"],"items":[[1]]}}"#;
        assert_eq!(interpret("daily", "tok", 200, ragged).unwrap_err().error.kind, ErrorKind::Malformed);
    }

    #[test]
    fn parses_dates_like_chrono() {
        let d = |y, m, dd| Ok(Some(NaiveDate::from_ymd_opt(y, m, dd).unwrap()));
        assert_eq!(parse_date(&serde_json::json!("20240102")), d(2024, 1, 2));
        assert_eq!(parse_date(&serde_json::json!(" 20240229 ")), d(2024, 2, 29));
        assert_eq!(parse_date(&serde_json::json!(20240102)), d(2024, 1, 2));
        assert_eq!(parse_date(&serde_json::json!("")), Ok(None));
        assert_eq!(parse_date(&Value::Null), Ok(None));
        assert_eq!(parse_date(&serde_json::json!("20230229")), Err(()));
        assert_eq!(parse_date(&serde_json::json!("20241301")), Err(()));
        assert_eq!(parse_date(&serde_json::json!("2024-01-02")), Err(()));
        assert_eq!(parse_date(&serde_json::json!(true)), Err(()));
        for s in ["20240102", "19991231", "00010101", "2024012", "+20240102", "2024 0102"] {
            let chrono = NaiveDate::parse_from_str(s, "%Y%m%d").map(Some).map_err(|_| ());
            assert_eq!(parse_ymd(s), chrono, "{s}");
        }
    }

    #[test]
    fn scales_units_exactly() {
        assert_eq!(scale(8161770.0, 100.0, 2), 816177000.0);
        assert_eq!(scale(1234567.891, 1000.0, 3), 1234567891.0);
        assert_eq!(board("创业板"), "chinext");
        assert_eq!(text(&serde_json::json!(1.0)), "1");
    }
}
