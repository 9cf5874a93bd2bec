//! Yahoo Finance's chart API (`/v8/finance/chart/{ticker}`): daily bars, dividends and splits, and
//! the latest price from the chart's `meta`.
//!
//! Daily timestamps carry the session's time (09:30 local, say), so each is mapped to its
//! exchange-local trading date with `meta.gmtoffset` (seconds east of UTC). A day with a null
//! price is a hole and skipped.
//!
//! Factors (后复权 style, 1.0 on the first date of the range): on an ex-dividend date with dividend
//! `D` and previous close `P` the factor is multiplied by `P / (P − D)`; on a split `n:d` by `n/d`.
//! Assumption: the chart's `open/high/low/close` are taken as given, i.e. as traded on that day.
//! In reality Yahoo already back-adjusts them for splits (not for dividends); a caller who uses
//! Yahoo's bars with these factors on a split should know that. `adjclose` is not used to build
//! factors; its ratio to `close` is the consistency check a caller can make (see [`ChartData`]).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate};
use quantdesk_core::{AdjFactor, Symbol};
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::http::{Failure, HttpClient, Request, SourceSettings, encode_component};
use crate::symbols::to_yahoo;
use crate::{CallCounts, Capability, DailyBar, ErrorKind, Quote, Result, Source, SourceError, SourceId};

/// The Yahoo client.
pub struct Yahoo {
    http: HttpClient,
}

impl std::fmt::Debug for Yahoo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Yahoo").field("settings", self.http.settings()).finish()
    }
}

#[derive(Deserialize)]
struct Answer {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    #[serde(default)]
    result: Option<Vec<RawResult>>,
    #[serde(default)]
    error: Option<ChartError>,
}

#[derive(Deserialize)]
struct ChartError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    gmtoffset: i64,
    #[serde(default)]
    exchange_timezone_name: Option<String>,
    #[serde(default)]
    regular_market_price: Option<f64>,
    #[serde(default)]
    regular_market_time: Option<i64>,
    #[serde(default)]
    chart_previous_close: Option<f64>,
    #[serde(default)]
    regular_market_day_high: Option<f64>,
    #[serde(default)]
    regular_market_day_low: Option<f64>,
    #[serde(default)]
    regular_market_volume: Option<f64>,
}

#[derive(Deserialize)]
struct RawResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Option<Vec<i64>>,
    #[serde(default)]
    events: Option<Events>,
    #[serde(default)]
    indicators: Option<Indicators>,
}

#[derive(Deserialize, Default)]
struct Events {
    #[serde(default)]
    dividends: BTreeMap<String, Dividend>,
    #[serde(default)]
    splits: BTreeMap<String, Split>,
}

#[derive(Deserialize)]
struct Dividend {
    amount: f64,
    date: i64,
}

#[derive(Deserialize)]
struct Split {
    numerator: f64,
    denominator: f64,
    date: i64,
}

#[derive(Deserialize, Default)]
struct Indicators {
    #[serde(default)]
    quote: Vec<QuoteSeries>,
    #[serde(default)]
    adjclose: Vec<AdjCloseSeries>,
}

#[derive(Deserialize, Default)]
struct QuoteSeries {
    #[serde(default)]
    open: Vec<Option<f64>>,
    #[serde(default)]
    high: Vec<Option<f64>>,
    #[serde(default)]
    low: Vec<Option<f64>>,
    #[serde(default)]
    close: Vec<Option<f64>>,
    #[serde(default)]
    volume: Vec<Option<f64>>,
}

#[derive(Deserialize, Default)]
struct AdjCloseSeries {
    #[serde(default)]
    adjclose: Vec<Option<f64>>,
}

/// One chart answer, decoded: bars on local trading dates, with Yahoo's adjusted close beside
/// each, and the events on their local dates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartData {
    pub timezone: Option<String>,
    pub gmtoffset: i64,
    pub bars: Vec<DailyBar>,
    /// Yahoo's `adjclose` per bar (`None` where it gave none).
    pub adjclose: Vec<Option<f64>>,
    /// (ex-date, amount per share).
    pub dividends: Vec<(NaiveDate, f64)>,
    /// (date, numerator, denominator).
    pub splits: Vec<(NaiveDate, f64, f64)>,
    pub price: Option<f64>,
    pub time: Option<i64>,
    pub prev_close: Option<f64>,
    pub day_high: Option<f64>,
    pub day_low: Option<f64>,
    pub day_volume: Option<f64>,
}

/// The exchange-local date of a Unix second, given the exchange's offset from UTC in seconds.
pub fn local_date(ts: i64, gmtoffset: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp(ts + gmtoffset, 0).map(|d| d.date_naive())
}

/// Decodes a chart answer's body.
pub fn parse_chart(body: &[u8], ticker: &str) -> Result<ChartData> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| SourceError::new(ErrorKind::Malformed, format!("yahoo {ticker}: not a chart answer: {e}")))?;
    if let Some(err) = answer.chart.error {
        let kind = if err.code.eq_ignore_ascii_case("Not Found") { ErrorKind::NotFound } else { ErrorKind::Vendor };
        return Err(SourceError::new(kind, format!("yahoo {ticker}: {}: {}", err.code, err.description)));
    }
    let Some(r) = answer.chart.result.and_then(|v| v.into_iter().next()) else {
        return Err(SourceError::new(ErrorKind::NotFound, format!("yahoo has no chart for {ticker}")));
    };
    let off = r.meta.gmtoffset;
    let bad = |what: &str| SourceError::new(ErrorKind::Malformed, format!("yahoo {ticker}: {what}"));
    let stamps = r.timestamp.unwrap_or_default();
    let ind = r.indicators.unwrap_or_default();
    let q = ind.quote.into_iter().next().unwrap_or_default();
    let adj = ind.adjclose.into_iter().next().unwrap_or_default().adjclose;
    let n = stamps.len();
    if !stamps.is_empty() && [q.open.len(), q.high.len(), q.low.len(), q.close.len()].iter().any(|&l| l != n) {
        return Err(bad("quote arrays differ in length from the timestamps"));
    }
    let mut data = ChartData {
        timezone: r.meta.exchange_timezone_name,
        gmtoffset: off,
        price: r.meta.regular_market_price,
        time: r.meta.regular_market_time,
        prev_close: r.meta.chart_previous_close,
        day_high: r.meta.regular_market_day_high,
        day_low: r.meta.regular_market_day_low,
        day_volume: r.meta.regular_market_volume,
        ..Default::default()
    };
    for (i, &ts) in stamps.iter().enumerate() {
        let (Some(open), Some(high), Some(low), Some(close)) = (q.open[i], q.high[i], q.low[i], q.close[i]) else {
            continue; // a hole
        };
        let date = local_date(ts, off).ok_or_else(|| bad("a timestamp is out of range"))?;
        let volume = q.volume.get(i).copied().flatten().unwrap_or(0.0);
        data.bars.push(DailyBar { date, open, high, low, close, volume, amount: 0.0 });
        data.adjclose.push(adj.get(i).copied().flatten());
    }
    let events = r.events.unwrap_or_default();
    for d in events.dividends.values() {
        data.dividends.push((local_date(d.date, off).ok_or_else(|| bad("a dividend date is out of range"))?, d.amount));
    }
    for s in events.splits.values() {
        if s.numerator <= 0.0 || s.denominator <= 0.0 {
            return Err(bad("a split has a zero side"));
        }
        let date = local_date(s.date, off).ok_or_else(|| bad("a split date is out of range"))?;
        data.splits.push((date, s.numerator, s.denominator));
    }
    data.dividends.sort_by_key(|d| d.0);
    data.splits.sort_by_key(|s| s.0);
    // Yahoo sometimes repeats the last session; keep one bar per date (the last one).
    let mut keep: Vec<(DailyBar, Option<f64>)> = data.bars.iter().copied().zip(data.adjclose.iter().copied()).collect();
    keep.sort_by_key(|(b, _)| b.date);
    keep.reverse();
    keep.dedup_by_key(|(b, _)| b.date);
    keep.reverse();
    (data.bars, data.adjclose) = keep.into_iter().unzip();
    Ok(data)
}

/// Cumulative factors from events over the bars (see the module notes): 1.0 on the first bar, a
/// new entry on each bar where an event (dated that day or in a hole just before it) applies.
pub fn factors_from_events(
    bars: &[DailyBar],
    dividends: &[(NaiveDate, f64)],
    splits: &[(NaiveDate, f64, f64)],
) -> Vec<AdjFactor> {
    let mut out = Vec::new();
    let Some(first) = bars.first() else { return out };
    let mut factor = 1.0;
    out.push(AdjFactor { date: first.date, factor });
    for w in bars.windows(2) {
        let (prev, bar) = (w[0], w[1]);
        let in_window = |d: NaiveDate| d > prev.date && d <= bar.date;
        let mut changed = false;
        for &(_, amount) in dividends.iter().filter(|(d, _)| in_window(*d)) {
            if amount > 0.0 && prev.close > amount {
                factor *= prev.close / (prev.close - amount);
                changed = true;
            }
        }
        for &(_, n, d) in splits.iter().filter(|(date, _, _)| in_window(*date)) {
            factor *= n / d;
            changed = true;
        }
        if changed {
            out.push(AdjFactor { date: bar.date, factor: (factor * 1e8).round() / 1e8 });
        }
    }
    out
}

impl Yahoo {
    pub fn new(settings: SourceSettings) -> Result<Self> {
        Ok(Yahoo { http: HttpClient::new(SourceId::Yahoo, settings)? })
    }

    /// The decoded chart of `symbol` from `start` to `end` (local dates, inclusive).
    pub async fn chart(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<ChartData> {
        let ticker = to_yahoo(symbol)?;
        let day = 86_400;
        let p1 = start.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0) - day;
        let p2 = end.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0) + 2 * day;
        let url = format!(
            "{}/v8/finance/chart/{}?period1={p1}&period2={p2}&interval=1d&events=div,splits",
            self.http.base_url(),
            encode_component(&ticker)
        );
        let mut data = self.fetch(&url, &ticker).await?;
        let keep: Vec<bool> = data.bars.iter().map(|b| b.date >= start && b.date <= end).collect();
        let mut k = keep.iter();
        data.bars.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        data.adjclose.retain(|_| *k.next().unwrap_or(&false));
        data.dividends.retain(|(d, _)| *d >= start && *d <= end);
        data.splits.retain(|(d, _, _)| *d >= start && *d <= end);
        Ok(data)
    }

    async fn fetch(&self, url: &str, ticker: &str) -> Result<ChartData> {
        self.http
            .call(
                "chart",
                || Request::Get(url.to_string()),
                |status, body| match parse_chart(body, ticker) {
                    Ok(d) => Ok(d),
                    Err(e) if e.kind == ErrorKind::Malformed && status != 200 => {
                        Err(Failure::fatal(ErrorKind::Vendor, format!("yahoo {ticker}: HTTP {status}")))
                    }
                    Err(e) => Err(Failure::from(e)),
                },
            )
            .await
    }
}

#[async_trait]
impl Source for Yahoo {
    fn id(&self) -> SourceId {
        SourceId::Yahoo
    }

    fn has(&self, capability: Capability) -> bool {
        matches!(capability, Capability::DailyBars | Capability::Factors | Capability::Quote)
    }

    fn calls(&self) -> CallCounts {
        self.http.counts()
    }

    async fn daily(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<DailyBar>> {
        Ok(self.chart(symbol, start, end).await?.bars)
    }

    async fn factors(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<AdjFactor>> {
        let data = self.chart(symbol, start, end).await?;
        Ok(factors_from_events(&data.bars, &data.dividends, &data.splits))
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Quote> {
        let ticker = to_yahoo(symbol)?;
        let url =
            format!("{}/v8/finance/chart/{}?range=5d&interval=1d", self.http.base_url(), encode_component(&ticker));
        let data = self.fetch(&url, &ticker).await?;
        let last = data.bars.last();
        let (Some(price), Some(time)) = (data.price.or(last.map(|b| b.close)), data.time) else {
            return Err(SourceError::new(ErrorKind::Malformed, format!("yahoo {ticker}: no regularMarketPrice/Time")));
        };
        Ok(Quote {
            symbol: symbol.clone(),
            source: SourceId::Yahoo,
            time,
            price,
            prev_close: data.prev_close,
            open: last.map(|b| b.open),
            high: data.day_high.or(last.map(|b| b.high)),
            low: data.day_low.or(last.map(|b| b.low)),
            volume: data.day_volume.or(last.map(|b| b.volume)),
            amount: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_follow_the_offset() {
        // 2024-01-02 01:30 UTC is 09:30 in Shanghai the same day.
        assert_eq!(local_date(1_704_159_000, 28_800), NaiveDate::from_ymd_opt(2024, 1, 2));
        // 2024-01-02 14:30 UTC is 09:30 in New York.
        assert_eq!(local_date(1_704_205_800, -18_000), NaiveDate::from_ymd_opt(2024, 1, 2));
    }

    #[test]
    fn events_make_cumulative_factors() {
        let d = |i: u32| NaiveDate::from_ymd_opt(2024, 1, i).unwrap();
        let bar =
            |i, close| DailyBar { date: d(i), open: close, high: close, low: close, close, volume: 0.0, amount: 0.0 };
        let bars = vec![bar(2, 10.0), bar(3, 10.0), bar(5, 9.0), bar(8, 4.5)];
        // A dividend of 1.0 dated on a hole (the 4th) applies on the 5th; a 2:1 split on the 8th.
        let f = factors_from_events(&bars, &[(d(4), 1.0)], &[(d(8), 2.0, 1.0)]);
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].date, f[0].factor), (d(2), 1.0));
        assert_eq!(f[1].date, d(5));
        assert!((f[1].factor - 10.0 / 9.0).abs() < 1e-7);
        assert!((f[2].factor - 20.0 / 9.0).abs() < 1e-7);
    }
}
