//! Labeling 1 M daily-like bars (a deterministic synthetic random walk) with the default
//! parameters. Run: `cargo bench -p quantdesk-regimes --bench labeling`.

use criterion::{Criterion, criterion_group, criterion_main};
use quantdesk_regimes::labeling::kmeans::SplitMix64;
use quantdesk_regimes::labeling::{LabelingParams, label_series};
use std::hint::black_box;

/// Geometric random walk: 2 % daily volatility with a slow sinusoidal drift.
fn random_walk(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64(seed);
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

fn bench(c: &mut Criterion) {
    // `cargo test --bench labeling` (the CI smoke run) runs it once on a short series.
    let n = if std::env::args().any(|a| a == "--bench") { 1_000_000 } else { 20_000 };
    let values = random_walk(n, 42);
    let params = LabelingParams::default();
    let mut g = c.benchmark_group("labeling");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(20));
    g.bench_function("label_series_1M_default", |b| b.iter(|| label_series(black_box(&values), &params).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
