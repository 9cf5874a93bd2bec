#![allow(dead_code)]

use std::time::Duration;

use chrono::NaiveDate;
use quantdesk_connectors::fake::fixtures;
use quantdesk_connectors::{DailyBar, SourceSettings};
use quantdesk_core::Symbol;

pub const TOKEN: &str = "tok-3f9a1c2b7d";

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// Settings for tests: no limiter, short timeout, three retries a few ms apart.
pub fn fast(settings: SourceSettings, base_url: &str) -> SourceSettings {
    settings
        .with_base_url(base_url)
        .with_calls_per_minute(0)
        .with_timeout(Duration::from_secs(5))
        .with_retries(3, Duration::from_millis(5))
}

/// The SSE Composite fixture with a synthetic amount (close × volume / 1000, to the fen), or
/// `None` when the fixtures are not available.
pub fn sse_composite() -> Option<Vec<DailyBar>> {
    let dir = fixtures::dir()?;
    let mut bars = fixtures::load_daily_csv(dir.join("cn/sh000001_1d.csv"));
    for b in &mut bars {
        b.amount = (b.close * b.volume / 10.0).round() / 100.0;
    }
    Some(bars)
}
