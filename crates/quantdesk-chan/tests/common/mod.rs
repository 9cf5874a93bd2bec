//! Shared helpers: reading fixture bars through `QUANTDESK_FIXTURES`, dates, random walks.
#![allow(dead_code)]

use quantdesk_core::{Bar, Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap, parse_bars};

pub fn fixtures() -> Option<std::path::PathBuf> {
    match std::env::var("QUANTDESK_FIXTURES") {
        Ok(p) if !p.is_empty() => Some(p.into()),
        _ => {
            if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
                panic!(
                    "QUANTDESK_FIXTURES is not set, and QUANTDESK_TEST_REQUIRE_ALL (set by .ci/run) forbids skipping the tests on real data"
                );
            }
            eprintln!("skipped: QUANTDESK_FIXTURES is not set (the tests on real data)");
            None
        }
    }
}

pub fn load(root: &std::path::Path, file: &str, symbol: &str) -> Vec<Bar> {
    let path = root.join(file);
    let opts = BarImportOptions {
        file_name: path.display().to_string(),
        symbol: Some(Symbol::new(symbol).unwrap()),
        resolution: Resolution::Day,
        timezone: None,
        columns: ColumnMap::default(),
    };
    let parsed = parse_bars(std::fs::File::open(&path).unwrap(), &opts, &mut |_| {}).unwrap();
    parsed.series.into_values().next().unwrap().bars
}

/// `YYYY-MM-DD` of a Unix time (UTC).
pub fn date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// A deterministic random walk (xorshift64*), daily bars from 2000-01-01.
pub fn random_walk(seed: u64, n: usize) -> Vec<Bar> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut close: f64 = 100.0;
    (0..n)
        .map(|i| {
            let open = close;
            // Coarse price grid so that ties (equal highs/lows) happen, as in real data.
            close = (open * (1.0 + (next() - 0.5) * 0.06)).max(1.0);
            close = (close * 4.0).round() / 4.0;
            let high = ((open.max(close) + next() * 2.0) * 4.0).round() / 4.0;
            let low = ((open.min(close) - next() * 2.0).max(0.25) * 4.0).round() / 4.0;
            Bar {
                time: 946_684_800 + i as i64 * 86_400,
                open,
                high: high.max(open).max(close),
                low: low.min(open).min(close),
                close,
                volume: 0.0,
                amount: 0.0,
            }
        })
        .collect()
}
