//! Loading the deterministic demo market into an empty store.

use chrono::{Datelike, NaiveDate, Weekday};
use quantdesk_core::Resolution;
use quantdesk_core::demo::{DemoConfig, generate};
use quantdesk_store::{BarSeriesWrite, MarketStore, StoreError};

/// What was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    pub instruments: u64,
    pub daily_bars: u64,
    pub minute_bars: u64,
}

/// The last weekday on or before `today`: demo data ends on a plausible trading day.
pub fn demo_end(today: NaiveDate) -> NaiveDate {
    let mut d = today;
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d = d.pred_opt().unwrap_or(d);
    }
    d
}

/// The demo account's password: the configured `demo_password`, or a new random one when none
/// is configured, with whether it was generated.
pub fn demo_password(configured: &crate::config::Secret) -> (String, bool) {
    match configured.expose() {
        "" => (crate::accounts::secrets::random_hex(8), true),
        p => (p.to_string(), false),
    }
}

/// The line `serve --demo` prints about the demo account: the password only when it was just
/// generated (nobody else knows it); a configured one is a secret like any other and never
/// printed.
pub fn demo_account_line(email: &str, password: &str, generated: bool) -> String {
    if generated {
        format!("demo account: {email}  password: {password}")
    } else {
        format!("demo account: {email}  (password from demo_password)")
    }
}

/// Generates the demo market ending at `end` and writes it: instruments, daily bars with the
/// calendar and adjustment factors, then 1-minute bars. Each resolution lands in one transaction.
pub async fn load(store: &dyn MarketStore, end: NaiveDate) -> Result<DemoSummary, StoreError> {
    let data = generate(&DemoConfig::standard(end));
    let instruments: Vec<_> = data.series.iter().map(|s| s.instrument.clone()).collect();
    store.upsert_instruments(&instruments).await?;
    let daily: Vec<BarSeriesWrite<'_>> = data
        .series
        .iter()
        .map(|s| BarSeriesWrite {
            symbol: &s.instrument.symbol,
            bars: &s.daily,
            factors: &s.factors,
            calendar: Some(&s.instrument.exchange),
        })
        .collect();
    let d = store.import_bars(Resolution::Day, &daily, &|_| {}).await?;
    let minutes: Vec<BarSeriesWrite<'_>> = data
        .series
        .iter()
        .map(|s| BarSeriesWrite { symbol: &s.instrument.symbol, bars: &s.minutes, factors: &[], calendar: None })
        .collect();
    let m = store.import_bars(Resolution::Minutes(1), &minutes, &|_| {}).await?;
    Ok(DemoSummary { instruments: instruments.len() as u64, daily_bars: d.bars, minute_bars: m.bars })
}
