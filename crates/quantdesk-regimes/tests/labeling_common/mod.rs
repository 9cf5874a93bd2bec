//! Shared test helpers: the fixture loader and synthetic series.
#![allow(dead_code)]

use std::path::PathBuf;

/// `$QUANTDESK_FIXTURES`, or `None` (after a message) when unset and not required.
pub fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("QUANTDESK_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() => {
            panic!("QUANTDESK_FIXTURES is unset but QUANTDESK_TEST_REQUIRE_ALL is set")
        }
        None => {
            eprintln!("skipped: QUANTDESK_FIXTURES is unset");
            None
        }
    }
}

/// One row of the golden regimes file.
#[derive(Debug, serde::Deserialize)]
pub struct GoldenRow {
    pub date: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub label: usize,
}

/// Reads `<fixtures>/golden/regimes/<name>`.
pub fn golden(fixtures: &std::path::Path, name: &str) -> Vec<GoldenRow> {
    let path = fixtures.join("golden/regimes").join(name);
    let mut rdr = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rdr.deserialize().map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display()))).collect()
}

/// A deterministic daily-like random walk (log returns ~ 2 % per bar with slow drift regimes).
pub fn random_walk(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = quantdesk_regimes::labeling::kmeans::SplitMix64(seed);
    let mut p = 100.0;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let u1 = rng.next_f64().max(1e-300);
        let u2 = rng.next_f64();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let drift = 0.002 * ((i as f64) / 60.0).sin();
        p *= (drift + 0.02 * z).exp();
        out.push(p);
    }
    out
}

/// A deterministic walk built from `+`, `−`, `×` only (no libm), so it is bit-identical on every
/// platform: `p *= 1 + 0.05·(u − 0.5) + drift`, `u` uniform from SplitMix64.
pub fn uniform_walk(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = quantdesk_regimes::labeling::kmeans::SplitMix64(seed);
    let mut p = 100.0;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let drift = if (i / 90) % 2 == 0 { 0.002 } else { -0.0015 };
        p *= 1.0 + 0.05 * (rng.next_f64() - 0.5) + drift;
        out.push(p);
    }
    out
}
