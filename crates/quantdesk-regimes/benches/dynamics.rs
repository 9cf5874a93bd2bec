//! The dynamics test over 20 years of daily bars: 5,040 bars of a deterministic synthetic series with
//! 3 labels in runs of 5 to 80 bars, the MA agent, Blind_Bid and Do_Nothing on every tested run.
//!
//! `cargo bench -p quantdesk-regimes --bench dynamics`

use criterion::{Criterion, criterion_group, criterion_main};
use quantdesk_regimes::at_env::MaPolicy;
use quantdesk_regimes::radar::{DynamicsConfig, dynamics_test};

const BARS: usize = 20 * 252;

/// xorshift64*: a fixed, dependency-free stream of uniform numbers in [0, 1).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Closes (a random walk with a drift per regime) and labels (0 bear, 1 sideways, 2 bull).
fn synthetic() -> (Vec<f64>, Vec<u8>) {
    let mut rng = Stream(0x9e37_79b9_7f4a_7c15);
    let mut closes = Vec::with_capacity(BARS);
    let mut labels = Vec::with_capacity(BARS);
    let mut price = 100.0f64;
    while closes.len() < BARS {
        let label = (rng.next() * 3.0) as u8;
        let len = 5 + (rng.next() * 76.0) as usize;
        let drift = [-0.002, 0.0, 0.002][label as usize];
        for _ in 0..len.min(BARS - closes.len()) {
            let shock = (rng.next() - 0.5) * 0.04;
            price *= 1.0 + drift + shock;
            closes.push(price);
            labels.push(label);
        }
    }
    (closes, labels)
}

fn bench(c: &mut Criterion) {
    let (closes, labels) = synthetic();
    let cfg = DynamicsConfig::default();
    let mut tested = 0;
    for label in 0..3u8 {
        let rep = dynamics_test(&closes, &labels, &label, None, &mut MaPolicy, &cfg).expect("dynamics test");
        tested += rep.runs.len();
    }
    assert!(tested > 0);
    c.bench_function("dynamics_test_3_labels_5040_bars", |b| {
        b.iter(|| {
            for label in 0..3u8 {
                let rep = dynamics_test(&closes, &labels, &label, None, &mut MaPolicy, &cfg).expect("dynamics test");
                std::hint::black_box(rep.scores.agent.profitability);
            }
        })
    });
    c.bench_function("dynamics_test_1_label_5040_bars", |b| {
        b.iter(|| {
            let rep = dynamics_test(&closes, &labels, &0u8, None, &mut MaPolicy, &cfg).expect("dynamics test");
            std::hint::black_box(rep.scores.agent.profitability)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
