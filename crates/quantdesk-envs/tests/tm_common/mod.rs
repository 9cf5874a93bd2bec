//! Shared test helpers: the fixture loader and tolerant comparisons.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

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

/// A golden JSON of `<fixtures>/golden/trademaster/`.
pub fn golden(dir: &Path, name: &str) -> Value {
    let path = dir.join("golden/trademaster").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON number.
pub fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// A JSON array of numbers.
pub fn nums(v: &Value) -> Vec<f64> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(num).collect()
}

/// Relative difference `|a - b| / max(|a|, |b|)`; 0 when both are equal (including both zero).
pub fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()) }
}

/// Tracks the largest relative difference and panics with context when one exceeds `tol`.
#[derive(Debug)]
pub struct Agreement {
    pub tol: f64,
    pub worst: f64,
    pub checked: usize,
}

impl Agreement {
    pub fn new(tol: f64) -> Self {
        Self { tol, worst: 0.0, checked: 0 }
    }

    pub fn check(&mut self, what: &str, got: f64, want: f64) {
        let r = rel(got, want);
        assert!(r <= self.tol, "{what}: got {got:e}, want {want:e} (relative difference {r:e})");
        self.worst = self.worst.max(r);
        self.checked += 1;
    }

    pub fn check_all(&mut self, what: &str, got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            self.check(&format!("{what}[{i}]"), *g, *w);
        }
    }
}

/// Checks TradeMaster's six episode metrics against a golden file's `metrics` object.
pub fn check_env_metrics(agree: &mut Agreement, got: &quantdesk_envs::metrics::TmEnvMetrics, want: &Value) {
    for (field, v) in [
        ("tr", got.tr),
        ("sharpe_ratio", got.sharpe_ratio),
        ("vol", got.vol),
        ("mdd", got.mdd),
        ("cr", got.cr),
        ("sor", got.sor),
    ] {
        agree.check(&format!("metrics.{field}"), v, num(&want[field]));
    }
}
