//! Eastmoney's public quote servers: daily klines (`/api/qt/stock/kline/get`) and a snapshot
//! quote (`/api/qt/stock/get`), A-shares only (symbols map to `secid`s, see [`crate::symbols`]).
//!
//! A kline is `date,open,close,high,low,volume,amount,…` — the close comes *before* the high.
//! Volume is in lots (手, 100 shares) and converted to shares; the amount is in CNY.
//!
//! Factors: Eastmoney publishes no factor table, so the client asks for the same range twice,
//! back-adjusted (`fqt=2`, 后复权) and raw (`fqt=0`), and takes `hfq_close / raw_close` per date.
//! Both prices are rounded to the fen, so the ratio is noisy: a new factor is emitted only on the
//! first date and where the ratio moves by more than that rounding can explain; factors are
//! rounded to 6 decimals.
//!
//! Quote assumption: without `fltt=2` the snapshot gives prices as integers in hundredths of the
//! currency unit (`f43` last, `f44` high, `f45` low, `f46` open, `f60` previous close — true for
//! A-share stocks; funds use thousandths and are not handled), `f47` volume in lots, `f48` amount
//! in CNY, `f86` the Unix second of the price, and `"-"` where there is no value (before the
//! open). The live server for quotes is `push2.eastmoney.com`; the history server answers the same
//! path, and the base URL is one setting.

use async_trait::async_trait;
use chrono::NaiveDate;
use quantdesk_core::{AdjFactor, Symbol};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{Failure, HttpClient, Request, SourceSettings};
use crate::symbols::to_eastmoney_secid;
use crate::{CallCounts, Capability, DailyBar, ErrorKind, Quote, Result, Source, SourceError, SourceId};

/// The fields asked for on klines: f51..f61 (date, open, close, high, low, volume, amount,
/// amplitude, change %, change, turnover).
pub const KLINE_FIELDS2: &str = "f51,f52,f53,f54,f55,f56,f57,f58,f59,f60,f61";
/// The snapshot quote's fields.
pub const QUOTE_FIELDS: &str = "f43,f44,f45,f46,f47,f48,f57,f58,f60,f86";

/// The Eastmoney client.
pub struct Eastmoney {
    http: HttpClient,
}

impl std::fmt::Debug for Eastmoney {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eastmoney").field("settings", self.http.settings()).finish()
    }
}

#[derive(Deserialize)]
struct KlineAnswer {
    #[serde(default)]
    rc: i64,
    data: Option<KlineData>,
}

#[derive(Deserialize)]
struct KlineData {
    #[serde(default)]
    klines: Vec<String>,
}

#[derive(Deserialize)]
struct QuoteAnswer {
    #[serde(default)]
    rc: i64,
    data: Option<serde_json::Map<String, Value>>,
}

/// Adjustment asked of the kline API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fqt {
    Raw = 0,
    Qfq = 1,
    Hfq = 2,
}

/// Parses one kline: `date,open,close,high,low,volume(lots),amount,…`.
pub fn parse_kline(line: &str) -> Result<DailyBar> {
    let bad = || SourceError::new(ErrorKind::Malformed, format!("eastmoney: bad kline {line:?}"));
    let mut parts = line.split(',');
    let date = NaiveDate::parse_from_str(parts.next().ok_or_else(bad)?.trim(), "%Y-%m-%d").map_err(|_| bad())?;
    let mut next = || -> Result<f64> {
        parts.next().and_then(|p| p.trim().parse::<f64>().ok()).filter(|x| x.is_finite()).ok_or_else(bad)
    };
    let open = next()?;
    let close = next()?;
    let high = next()?;
    let low = next()?;
    let lots = next()?;
    let amount = next()?;
    Ok(DailyBar { date, open, high, low, close, volume: (lots * 100.0 * 100.0).round() / 100.0, amount })
}

/// Factors from back-adjusted and raw closes on the same dates (see the module notes).
pub fn factors_from_closes(hfq: &[DailyBar], raw: &[DailyBar]) -> Vec<AdjFactor> {
    let raw_by_date: std::collections::HashMap<NaiveDate, f64> = raw.iter().map(|b| (b.date, b.close)).collect();
    let mut out: Vec<AdjFactor> = Vec::new();
    let mut current: Option<f64> = None;
    for h in hfq {
        let Some(&r) = raw_by_date.get(&h.date) else { continue };
        if r <= 0.0 || h.close <= 0.0 {
            continue;
        }
        let f = h.close / r;
        // What rounding both prices to 0.01 can do to the ratio, with a margin.
        let tolerance = f * (0.005 / h.close + 0.005 / r) * 1.5 + 1e-6;
        if current.is_none_or(|c| (f - c).abs() > tolerance) {
            current = Some(f);
            out.push(AdjFactor { date: h.date, factor: (f * 1e6).round() / 1e6 });
        }
    }
    out
}

fn price(map: &serde_json::Map<String, Value>, key: &str, scale: f64) -> Option<f64> {
    match map.get(key)? {
        Value::Number(n) => n.as_f64().map(|x| x / scale),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|x| x / scale),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

impl Eastmoney {
    pub fn new(settings: SourceSettings) -> Result<Self> {
        Ok(Eastmoney { http: HttpClient::new(SourceId::Eastmoney, settings)? })
    }

    /// Daily klines of one symbol, ascending, in the given adjustment.
    pub async fn klines(&self, symbol: &Symbol, fqt: Fqt, start: NaiveDate, end: NaiveDate) -> Result<Vec<DailyBar>> {
        let secid = to_eastmoney_secid(symbol)?;
        let url = format!(
            "{}/api/qt/stock/kline/get?secid={secid}&klt=101&fqt={}&beg={}&end={}&fields1=f1,f2,f3,f4,f5,f6&fields2={KLINE_FIELDS2}",
            self.http.base_url(),
            fqt as u8,
            start.format("%Y%m%d"),
            end.format("%Y%m%d"),
        );
        let sym = symbol.to_string();
        let mut bars = self
            .http
            .call(
                "kline",
                || Request::Get(url.clone()),
                |status, body| {
                    if status != 200 {
                        return Err(Failure::fatal(ErrorKind::Vendor, format!("eastmoney kline: HTTP {status}")));
                    }
                    let answer: KlineAnswer = serde_json::from_slice(body).map_err(|e| {
                        Failure::fatal(ErrorKind::Malformed, format!("eastmoney kline: not a kline answer: {e}"))
                    })?;
                    let Some(data) = answer.data else {
                        return Err(Failure::fatal(ErrorKind::NotFound, format!("eastmoney has no data for {sym}")));
                    };
                    if answer.rc != 0 {
                        return Err(Failure::fatal(ErrorKind::Vendor, format!("eastmoney kline: rc {}", answer.rc)));
                    }
                    data.klines
                        .iter()
                        .map(|k| parse_kline(k).map_err(Failure::from))
                        .collect::<std::result::Result<Vec<_>, _>>()
                },
            )
            .await?;
        bars.retain(|b| b.date >= start && b.date <= end);
        bars.sort_by_key(|b| b.date);
        bars.dedup_by_key(|b| b.date);
        Ok(bars)
    }
}

#[async_trait]
impl Source for Eastmoney {
    fn id(&self) -> SourceId {
        SourceId::Eastmoney
    }

    fn has(&self, capability: Capability) -> bool {
        matches!(capability, Capability::DailyBars | Capability::Factors | Capability::Quote)
    }

    fn calls(&self) -> CallCounts {
        self.http.counts()
    }

    async fn daily(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<DailyBar>> {
        self.klines(symbol, Fqt::Raw, start, end).await
    }

    async fn factors(&self, symbol: &Symbol, start: NaiveDate, end: NaiveDate) -> Result<Vec<AdjFactor>> {
        let hfq = self.klines(symbol, Fqt::Hfq, start, end).await?;
        let raw = self.klines(symbol, Fqt::Raw, start, end).await?;
        Ok(factors_from_closes(&hfq, &raw))
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Quote> {
        let secid = to_eastmoney_secid(symbol)?;
        let url = format!("{}/api/qt/stock/get?secid={secid}&fields={QUOTE_FIELDS}", self.http.base_url());
        let sym = symbol.clone();
        self.http
            .call(
                "quote",
                || Request::Get(url.clone()),
                |status, body| {
                    if status != 200 {
                        return Err(Failure::fatal(ErrorKind::Vendor, format!("eastmoney quote: HTTP {status}")));
                    }
                    let answer: QuoteAnswer = serde_json::from_slice(body).map_err(|e| {
                        Failure::fatal(ErrorKind::Malformed, format!("eastmoney quote: not a quote answer: {e}"))
                    })?;
                    let Some(d) = answer.data else {
                        return Err(Failure::fatal(ErrorKind::NotFound, format!("eastmoney has no quote for {sym}")));
                    };
                    if answer.rc != 0 {
                        return Err(Failure::fatal(ErrorKind::Vendor, format!("eastmoney quote: rc {}", answer.rc)));
                    }
                    let last = price(&d, "f43", 100.0).ok_or_else(|| {
                        Failure::fatal(ErrorKind::Malformed, format!("eastmoney quote for {sym}: no price"))
                    })?;
                    let time = price(&d, "f86", 1.0).map(|t| t as i64).ok_or_else(|| {
                        Failure::fatal(ErrorKind::Malformed, format!("eastmoney quote for {sym}: no time"))
                    })?;
                    Ok(Quote {
                        symbol: sym.clone(),
                        source: SourceId::Eastmoney,
                        time,
                        price: last,
                        prev_close: price(&d, "f60", 100.0),
                        open: price(&d, "f46", 100.0),
                        high: price(&d, "f44", 100.0),
                        low: price(&d, "f45", 100.0),
                        volume: price(&d, "f47", 0.01),
                        amount: price(&d, "f48", 1.0),
                    })
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_comes_before_high() {
        let b = parse_kline("2024-01-02,1715.00,1685.01,1718.19,1678.10,32156,5486522880.00,2.34,-1.74,-29.99,0.26")
            .unwrap();
        assert_eq!(b.open, 1715.0);
        assert_eq!(b.close, 1685.01);
        assert_eq!(b.high, 1718.19);
        assert_eq!(b.low, 1678.10);
        assert_eq!(b.volume, 3_215_600.0);
        assert_eq!(b.amount, 5_486_522_880.0);
        assert!(parse_kline("2024-13-02,1,2,3,4,5,6").is_err());
        assert!(parse_kline("2024-01-02,1,2,3").is_err());
    }

    #[test]
    fn factors_change_only_on_real_moves() {
        let d = |i: u32| NaiveDate::from_ymd_opt(2024, 1, i).unwrap();
        let bar =
            |i, close| DailyBar { date: d(i), open: close, high: close, low: close, close, volume: 0.0, amount: 0.0 };
        let raw = vec![bar(2, 10.01), bar(3, 10.37), bar(4, 5.11), bar(5, 5.23)];
        // hfq rounded to the fen: a factor of 1.5 then 3.0 (a ten-for-ten bonus).
        let hfq = vec![bar(2, 15.02), bar(3, 15.56), bar(4, 15.33), bar(5, 15.69)];
        let f = factors_from_closes(&hfq, &raw);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].date, d(2));
        assert!((f[0].factor - 1.5).abs() < 1e-3);
        assert_eq!(f[1].date, d(4));
        assert!((f[1].factor - 3.0).abs() < 1e-3);
    }
}
