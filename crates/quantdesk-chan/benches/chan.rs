//! Throughput of the Chan engine: batch analysis and streaming pushes over 10 k, 100 k and 1 M bars
//! of real daily data (the SSE Composite tiled, each copy shifted to start at the previous copy's
//! last close) and of a seeded random walk.
//!
//! Run:
//!
//! ```text
//! QUANTDESK_FIXTURES=/work/shared/fixtures CARGO_TARGET_DIR=/tmp/chan-target \
//!     cargo bench -p quantdesk-chan --bench chan
//! ```
//!
//! Without `QUANTDESK_FIXTURES` only the random walk runs. Under `cargo test --all-targets` (no
//! `--bench` argument) every benchmark runs once on 10 k bars, so tests stay fast.
//!
//! - `batch`: `analyze` (push every bar, one snapshot at the end: everything chan.py computes).
//! - `stream_push`: `Analyzer::push` of every bar (merged bars, fractals, strokes kept current);
//!   the time per element is the cost of one streaming update.
//! - `stream_push_update`: [`Analyzer::push_and_update`] of every bar, reading the up-to-date
//!   structures after each one through the borrowing [`Analyzer::structures`]: merged bars,
//!   fractals, strokes, segments, pivots and signals current after every bar; the time per element
//!   is the cost of one streaming update with everything.
//! - `stream_snapshot_every_100`: push every bar and take a full snapshot every 100 bars.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use quantdesk_chan::{Analyzer, ChanConfig, analyze};
use quantdesk_core::{Bar, Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap, parse_bars};

/// xorshift64* random walk with a quarter-point price grid.
fn random_walk(seed: u64, n: usize) -> Vec<Bar> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut close: f64 = 1000.0;
    (0..n)
        .map(|i| {
            let open = close;
            close = ((open * (1.0 + (next() - 0.5) * 0.04)).max(1.0) * 4.0).round() / 4.0;
            let high = ((open.max(close) + next() * 5.0) * 4.0).round() / 4.0;
            let low = ((open.min(close) - next() * 5.0).max(0.25) * 4.0).round() / 4.0;
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

fn real(n: usize) -> Option<Vec<Bar>> {
    let root = std::path::PathBuf::from(std::env::var("QUANTDESK_FIXTURES").ok().filter(|s| !s.is_empty())?);
    let path = root.join("cn/sh000001_1d.csv");
    let opts = BarImportOptions {
        file_name: path.display().to_string(),
        symbol: Some(Symbol::new("000001.SH").ok()?),
        resolution: Resolution::Day,
        timezone: None,
        columns: ColumnMap::default(),
    };
    let parsed = parse_bars(std::fs::File::open(&path).ok()?, &opts, &mut |_| {}).ok()?;
    let base = parsed.series.into_values().next()?.bars;
    let mut out = Vec::with_capacity(n);
    let (mut shift, mut t) = (0.0, base[0].time);
    while out.len() < n {
        for b in &base {
            if out.len() == n {
                break;
            }
            let mut b = *b;
            b.open += shift;
            b.high += shift;
            b.low += shift;
            b.close += shift;
            b.time = t;
            t += 86_400;
            out.push(b);
        }
        let (first, last) = (base[0].open, base.last()?.close);
        shift += last - first;
    }
    Some(out)
}

fn run(c: &mut Criterion, sizes: &[usize]) {
    let cfg = ChanConfig::default();
    for &n in sizes {
        let mut sets = vec![("random_walk", random_walk(42, n))];
        if let Some(r) = real(n) {
            sets.push(("sh000001_tiled", r));
        }
        for (name, bars) in &sets {
            let mut g = c.benchmark_group(format!("chan/{name}"));
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("batch", n), bars, |b, bars| {
                b.iter(|| black_box(analyze(bars, &cfg).map(|a| a.strokes.len())))
            });
            g.bench_with_input(BenchmarkId::new("stream_push", n), bars, |b, bars| {
                b.iter(|| {
                    let mut an = Analyzer::new(cfg.clone()).map_err(|e| e.to_string())?;
                    for bar in bars {
                        an.push(black_box(bar)).map_err(|e| e.to_string())?;
                    }
                    Ok::<_, String>(black_box(an.counts()))
                })
            });
            g.bench_with_input(BenchmarkId::new("stream_push_update", n), bars, |b, bars| {
                b.iter(|| {
                    let mut an = Analyzer::new(cfg.clone()).map_err(|e| e.to_string())?;
                    let mut k = 0;
                    for bar in bars {
                        an.push_and_update(black_box(bar)).map_err(|e| e.to_string())?;
                        let s = an.structures();
                        k +=
                            s.segments.len() + s.stroke_pivots.len() + s.stroke_signals.len() + s.segment_signals.len();
                    }
                    Ok::<_, String>(black_box(k))
                })
            });
            if n <= 10_000 {
                g.bench_with_input(BenchmarkId::new("stream_snapshot_every_100", n), bars, |b, bars| {
                    b.iter(|| {
                        let mut an = Analyzer::new(cfg.clone()).map_err(|e| e.to_string())?;
                        let mut k = 0;
                        for (i, bar) in bars.iter().enumerate() {
                            an.push(bar).map_err(|e| e.to_string())?;
                            if i % 100 == 99 {
                                k += black_box(an.snapshot()).signals.len();
                            }
                        }
                        Ok::<_, String>(k)
                    })
                });
            }
            g.finish();
        }
    }
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    if benching {
        run(&mut c, &[10_000, 100_000, 1_000_000]);
    } else {
        run(&mut c, &[10_000]);
    }
    c.final_summary();
}
