//! Environment throughput: steps per second of the TradeMaster-semantics trading environment on one core
//! (`TradingEnv` through the `Env` trait, and a `VecEnv` of 64 copies), and of the softmax portfolio environment.
//! `cargo bench -p quantdesk-envs --bench envs`; figures in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quantdesk_envs::portfolio::{PmConfig, PmEnv, PmFixes, PmVariant};
use quantdesk_envs::trading::{AtConfig, TradingEnv, TradingFixes};
use quantdesk_envs::{Env, VecEnv};

/// A deterministic positive series of `n` closes.
fn closes(n: usize, phase: f64) -> Vec<f64> {
    (0..n).map(|i| 100.0 + 10.0 * ((i as f64) * 0.05 + phase).sin() + (i as f64) * 0.01).collect()
}

/// A fixed action pattern (buy, hold, sell, hold, …).
fn action(i: usize) -> f64 {
    [2.0, 1.0, 0.0, 1.0, 1.0, 2.0, 0.0][i % 7]
}

fn trading(c: &mut Criterion) {
    const STEPS: usize = 10_000;
    let data: Arc<[f64]> = closes(5_000, 0.0).into();
    let mut env = TradingEnv::new(AtConfig::default(), data.clone(), None, TradingFixes::default()).unwrap();
    let mut obs = env.reset_vec(0);
    let mut g = c.benchmark_group("trading_env");
    g.throughput(Throughput::Elements(STEPS as u64));
    g.bench_function("env_steps", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for i in 0..STEPS {
                let t = env.step(&[action(i)], &mut obs).unwrap();
                total += t.reward;
                if t.done {
                    env.reset(0, &mut obs);
                }
            }
            black_box(total)
        })
    });
    let copies: Vec<TradingEnv> = (0..64)
        .map(|_| TradingEnv::new(AtConfig::default(), data.clone(), None, TradingFixes::default()).unwrap())
        .collect();
    let mut venv = VecEnv::new(copies).unwrap();
    venv.reset(0);
    let actions: Vec<f64> = (0..64).map(action).collect();
    g.throughput(Throughput::Elements(64 * 100));
    g.bench_function("vec_env_64_copies", |b| {
        b.iter(|| {
            for _ in 0..100 {
                venv.step(&actions).unwrap();
            }
            black_box(venv.rewards()[0])
        })
    });
    g.finish();
}

fn portfolio(c: &mut Criterion) {
    const N: usize = 29;
    let days = 1_000;
    let mut panel = Vec::with_capacity(days * N);
    for d in 0..days {
        for a in 0..N {
            panel.push(closes(days, a as f64)[d]);
        }
    }
    let mut env = PmEnv::new(PmVariant::Softmax, PmConfig::default(), N, panel.into(), None, PmFixes::default())
        .unwrap()
        .keep_records(false);
    let mut obs = env.reset_vec(0);
    let logits: Vec<f64> = (0..=N).map(|i| (i as f64 * 0.3).sin()).collect();
    let mut g = c.benchmark_group("portfolio_env");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("softmax_29_assets", |b| {
        b.iter(|| {
            for _ in 0..1_000 {
                if Env::step(&mut env, &logits, &mut obs).unwrap().done {
                    Env::reset(&mut env, 0, &mut obs);
                }
            }
            black_box(obs[0])
        })
    });
    g.finish();
}

criterion_group!(benches, trading, portfolio);
criterion_main!(benches);
