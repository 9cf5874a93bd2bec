//! The freshest price of a symbol: its stored last bar, or a live quote from a source that has
//! them (Eastmoney, Yahoo) when `live_quotes` is on, whichever is newer. Live quotes are cached
//! for `quote_cache_secs` (a miss too, so a failing source is not asked on every request).

use std::sync::Arc;
use std::time::Duration;

use quantdesk_connectors::{Capability, Quote};
use quantdesk_core::{Bar, Instrument, Symbol};
use serde::Serialize;

use crate::sync::Sources;

/// A price with where it came from and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreshQuote {
    pub price: f64,
    pub prev_close: f64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub volume: f64,
    /// `stored` (the last stored daily bar) or the source's name.
    pub source: String,
    /// Unix seconds: the live quote's own time, or the stored bar's session close.
    pub time: i64,
}

/// Live quotes, cached.
#[derive(Clone)]
pub struct QuoteService {
    sources: Sources,
    live: bool,
    cache: moka::future::Cache<Symbol, Option<Arc<Quote>>>,
}

impl std::fmt::Debug for QuoteService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuoteService").field("sources", &self.sources).field("live", &self.live).finish()
    }
}

impl QuoteService {
    pub fn new(sources: Sources, live: bool, ttl_secs: u64) -> Self {
        QuoteService {
            sources,
            live,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(ttl_secs.max(1)))
                .build(),
        }
    }

    pub fn from_config(cfg: &crate::config::SourcesConfig) -> Self {
        Self::new(Sources::from_config(cfg), cfg.live_quotes, cfg.quote_cache_secs)
    }

    /// A live quote from the first source that answers, cached; `None` when live quotes are off,
    /// no source has quotes, or none answered.
    pub async fn live(&self, symbol: &Symbol) -> Option<Arc<Quote>> {
        if !self.live || !self.sources.all().iter().any(|s| s.has(Capability::Quote)) {
            return None;
        }
        let sources = self.sources.clone();
        let key = symbol.clone();
        self.cache
            .get_with(key.clone(), async move {
                for s in sources.all().iter().filter(|s| s.has(Capability::Quote)) {
                    match s.quote(&key).await {
                        Ok(q) if q.price.is_finite() && q.price > 0.0 => return Some(Arc::new(q)),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(source = %s.id(), symbol = %key, error = %e, "no live quote"),
                    }
                }
                None
            })
            .await
    }

    /// The newer of the stored last bar (with the close before it) and a live quote.
    pub async fn freshest(&self, instrument: &Instrument, last: Option<(&Bar, f64)>) -> Option<FreshQuote> {
        let stored = last.map(|(b, prev)| stored_quote(instrument, b, prev));
        let live = self.live(&instrument.symbol).await;
        pick(stored, live.as_deref())
    }
}

/// The freshest quote of a stored instrument: its last stored daily bar (unadjusted, with the
/// close before it; the bar's open when it is the only one) or a newer live quote. `None` when no
/// daily bar can be read. `/udf/quotes`, the watchlists and their page all ask this.
pub async fn latest(
    source: crate::market::BarSource<'_>,
    service: &QuoteService,
    instrument: &Instrument,
    series: &[quantdesk_store::SeriesInfo],
    now_secs: i64,
) -> Result<Option<FreshQuote>, quantdesk_store::StoreError> {
    let req = crate::market::BarRequest {
        resolution: quantdesk_core::Resolution::Day,
        adjustment: quantdesk_core::Adjustment::None,
        from: i64::MIN,
        to: now_secs + 86_400,
        countback: Some(2),
    };
    let bars = crate::market::read_bars(source, instrument, series, &req).await?.bars;
    let Some(last) = bars.last() else { return Ok(None) };
    let prev = if bars.len() > 1 { bars[0].close } else { last.open };
    Ok(Some(
        service.freshest(instrument, Some((last, prev))).await.unwrap_or_else(|| stored_quote(instrument, last, prev)),
    ))
}

impl FreshQuote {
    /// The change from the previous close, rounded to 6 decimals.
    pub fn change(&self) -> f64 {
        ((self.price - self.prev_close) * 1e6).round() / 1e6
    }

    /// The change from the previous close in percent, rounded to 2 decimals (0 without a close).
    pub fn change_pct(&self) -> f64 {
        if self.prev_close != 0.0 {
            (((self.price - self.prev_close) / self.prev_close * 100.0) * 100.0).round() / 100.0
        } else {
            0.0
        }
    }
}

/// A stored daily bar as a quote, timed at its session's close.
pub fn stored_quote(instrument: &Instrument, bar: &Bar, prev_close: f64) -> FreshQuote {
    FreshQuote {
        price: bar.close,
        prev_close,
        open: bar.open,
        high: bar.high,
        low: bar.low,
        volume: bar.volume,
        source: "stored".into(),
        time: session_close(instrument, bar.time),
    }
}

/// The instant a daily bar's session closes: its last session minute in the exchange zone (the
/// bar's date at 24:00 UTC when the instrument trades round the clock).
fn session_close(instrument: &Instrument, bar_time: i64) -> i64 {
    use chrono::TimeZone;
    let date = chrono::DateTime::from_timestamp(bar_time, 0).unwrap_or_default().date_naive();
    let close_minute = instrument.session.ranges().iter().map(|r| u32::from(r.1)).max().filter(|m| *m < 24 * 60);
    match close_minute {
        Some(m) => {
            let local = date.and_hms_opt(m / 60, m % 60, 0).unwrap_or_default();
            instrument.tz().from_local_datetime(&local).earliest().map_or(bar_time + 86_400, |t| t.timestamp())
        }
        None => bar_time + 86_400,
    }
}

/// The newer of the two; the stored bar wins a tie (it is what the chart shows).
pub fn pick(stored: Option<FreshQuote>, live: Option<&Quote>) -> Option<FreshQuote> {
    let live = live.map(|q| FreshQuote {
        price: q.price,
        prev_close: q.prev_close.unwrap_or(q.price),
        open: q.open.unwrap_or(q.price),
        high: q.high.unwrap_or(q.price),
        low: q.low.unwrap_or(q.price),
        volume: q.volume.unwrap_or(0.0),
        source: q.source.as_str().to_string(),
        time: q.time,
    });
    match (stored, live) {
        (Some(s), Some(l)) => Some(if l.time > s.time { l } else { s }),
        (s, l) => s.or(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantdesk_connectors::SourceId;
    use quantdesk_core::InstrumentKind;

    #[test]
    fn the_newer_price_wins_and_says_where_it_came_from() {
        let i = Instrument::with_defaults(Symbol::new("600519.SH").unwrap(), "贵州茅台", InstrumentKind::Stock);
        // 2024-01-02 00:00 UTC: that day's bar closes at 15:00 Shanghai, 07:00 UTC.
        let bar = Bar { time: 1_704_153_600, open: 10.0, high: 11.0, low: 9.0, close: 10.5, volume: 5.0, amount: 0.0 };
        let stored = stored_quote(&i, &bar, 10.0);
        assert_eq!(stored.time, 1_704_153_600 + 7 * 3600);
        let quote = |time| Quote {
            symbol: i.symbol.clone(),
            source: SourceId::Eastmoney,
            time,
            price: 10.8,
            prev_close: Some(10.5),
            open: None,
            high: None,
            low: None,
            volume: None,
            amount: None,
        };
        let newer = pick(Some(stored.clone()), Some(&quote(stored.time + 60))).unwrap();
        assert_eq!((newer.source.as_str(), newer.price), ("eastmoney", 10.8));
        let older = pick(Some(stored.clone()), Some(&quote(stored.time - 60))).unwrap();
        assert_eq!((older.source.as_str(), older.price), ("stored", 10.5));
        assert_eq!(pick(None, Some(&quote(1))).unwrap().source, "eastmoney");
        assert!(pick(None, None).is_none());
    }
}
