//! Invariants of the structures, streaming against batch, and stability of settled structures, on
//! seeded random walks and on real data.

mod common;

use common::{fixtures, load, random_walk};
use proptest::prelude::*;
use quantdesk_chan::config::SpanRule;
use quantdesk_chan::{Analysis, Analyzer, ChanConfig, Direction, Level, Profile, analyze};
use quantdesk_core::Bar;

fn check_invariants(a: &Analysis, cfg: &ChanConfig) -> Result<(), String> {
    // Merged bars: no inclusion between neighbours, and the direction says which way they step.
    for w in a.merged_bars.windows(2) {
        let (p, c) = (&w[0], &w[1]);
        let up = c.high > p.high && c.low > p.low;
        let down = c.high < p.high && c.low < p.low;
        if !(up || down) {
            return Err(format!("merged bars {} and {} include one another", p.index, c.index));
        }
        if (c.direction == Direction::Up) != up {
            return Err(format!("merged bar {} has the wrong direction", c.index));
        }
        if c.begin_bar != p.end_bar + 1 {
            return Err(format!("merged bar {} does not follow {}", c.index, p.index));
        }
    }
    // Fractals alternate.
    for w in a.fractals.windows(2) {
        if w[0].kind == w[1].kind {
            return Err(format!(
                "fractals on merged bars {} and {} are both {:?}",
                w[0].merged_index, w[1].merged_index, w[0].kind
            ));
        }
    }
    // Strokes alternate, join, go the way they say, and respect the minimum span.
    let min_span = match cfg.bi.span_rule {
        SpanRule::ChanPy => 4,
        SpanRule::MinMergedBars { min_bi_len } => min_bi_len - 3,
    };
    for s in &a.strokes {
        if s.end_merged - s.begin_merged < min_span {
            return Err(format!("stroke {} spans {} merged bars", s.index, s.end_merged - s.begin_merged));
        }
        let ok = match s.direction {
            Direction::Up => s.end_price > s.begin_price,
            Direction::Down => s.end_price < s.begin_price,
        };
        if !ok {
            return Err(format!("stroke {} goes against its direction", s.index));
        }
    }
    for w in a.strokes.windows(2) {
        if w[0].direction == w[1].direction || w[0].end_merged != w[1].begin_merged {
            return Err(format!("strokes {} and {} do not alternate or join", w[0].index, w[1].index));
        }
    }
    // Segments tile the strokes.
    for w in a.segments.windows(2) {
        if w[1].begin_line != w[0].end_line + 1 {
            return Err(format!("segment {} does not follow {}", w[1].index, w[0].index));
        }
    }
    // Every pivot overlaps at least three sub-moves.
    for p in &a.pivots {
        if p.zd >= p.zg || p.zd.is_nan() || p.zg.is_nan() {
            return Err(format!("pivot {} has an empty zone", p.index));
        }
        let lines: Vec<(f64, f64)> = match p.level {
            Level::Stroke => {
                a.strokes.iter().map(|s| (s.begin_price.min(s.end_price), s.begin_price.max(s.end_price))).collect()
            }
            Level::Segment => {
                a.segments.iter().map(|s| (s.begin_price.min(s.end_price), s.begin_price.max(s.end_price))).collect()
            }
        };
        let inside = lines[p.begin_line..=p.end_line].iter().filter(|(lo, hi)| *hi >= p.zd && *lo <= p.zg).count();
        if inside < 3 {
            return Err(format!("pivot {} overlaps only {inside} sub-moves", p.index));
        }
    }
    Ok(())
}

/// Streaming snapshots after every `step`-th prefix equal batch runs, and so do the incremental
/// structures (updated after every `update_every`-th push and at every check); settled structures
/// never change.
fn check_stream(bars: &[Bar], cfg: &ChanConfig, step: usize) -> Result<(), String> {
    check_stream_updating(bars, cfg, step, 1)
}

fn check_stream_updating(bars: &[Bar], cfg: &ChanConfig, step: usize, update_every: usize) -> Result<(), String> {
    let mut an = Analyzer::new(cfg.clone()).unwrap();
    let mut prev: Option<Analysis> = None;
    for (i, b) in bars.iter().enumerate() {
        if (i + 1) % update_every == 0 {
            an.push_and_update(b).unwrap();
        } else {
            an.push(b).unwrap();
        }
        if (i + 1) % step != 0 && i + 1 != bars.len() {
            continue;
        }
        an.update();
        let snap = an.snapshot();
        let batch = analyze(&bars[..=i], cfg).unwrap();
        if snap != batch {
            return Err(format!("snapshot after {} bars differs from the batch run", i + 1));
        }
        if an.current() != batch {
            return Err(format!("incremental structures after {} bars differ from the batch run", i + 1));
        }
        check_invariants(&snap, cfg).map_err(|e| format!("after {} bars: {e}", i + 1))?;
        if let Some(p) = &prev {
            for m in p.merged_bars.iter().filter(|m| m.confirmed) {
                if snap.merged_bars.get(m.index) != Some(m) {
                    return Err(format!("confirmed merged bar {} changed after {} bars", m.index, i + 1));
                }
            }
            for f in &p.fractals {
                if !snap.fractals.contains(f) {
                    return Err(format!("fractal at bar {} vanished after {} bars", f.bar, i + 1));
                }
            }
            for s in p.strokes.iter().filter(|s| s.settled) {
                if snap.strokes.get(s.index) != Some(s) {
                    return Err(format!("settled stroke {} changed after {} bars", s.index, i + 1));
                }
            }
        }
        prev = Some(snap);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_walks_stream_like_batch(seed in any::<u64>(), n in 20usize..300) {
        let bars = random_walk(seed, n);
        let r = check_stream(&bars, &ChanConfig::default(), 1);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn czsc_profile_streams_like_batch(seed in any::<u64>(), n in 20usize..300) {
        let bars = random_walk(seed, n);
        let r = check_stream(&bars, &Profile::Czsc.config(), 1);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn incremental_updates_at_random_intervals_equal_batch(seed in any::<u64>(), n in 20usize..600, every in 1usize..6) {
        let bars = random_walk(seed, n);
        let r = check_stream_updating(&bars, &ChanConfig::default(), 1, every);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn long_random_walks_keep_invariants(seed in any::<u64>()) {
        let bars = random_walk(seed, 3000);
        let a = analyze(&bars, &ChanConfig::default()).unwrap();
        let r = check_invariants(&a, &ChanConfig::default());
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        prop_assert!(a.strokes.len() > 20, "a 3000-bar walk has strokes");
    }
}

#[test]
fn real_data_streams_like_batch() {
    let Some(root) = fixtures() else { return };
    for (file, sym) in [("cn/sh000001_1d.csv", "000001.SH"), ("crypto/btc_1d.csv", "BTC")] {
        let bars = load(&root, file, sym);
        check_stream(&bars[..400], &ChanConfig::default(), 1).unwrap();
        check_stream(&bars, &ChanConfig::default(), 37).unwrap();
        check_stream(&bars, &Profile::Czsc.config(), 53).unwrap();
    }
}

/// Long walks reach segments of segments and their signals: the incremental structures, updated
/// after every bar, equal batch runs at sampled prefixes, and the borrowed structures are the
/// same as the copied ones.
#[test]
fn long_random_walks_update_like_batch() {
    for seed in [3u64, 11] {
        let bars = random_walk(seed, 6000);
        let cfg = ChanConfig::default();
        let mut an = Analyzer::new(cfg.clone()).unwrap();
        for (i, b) in bars.iter().enumerate() {
            an.push_and_update(b).unwrap();
            if (i + 1) % 250 == 0 || i + 1 == bars.len() {
                let batch = analyze(&bars[..=i], &cfg).unwrap();
                assert_eq!(an.current(), batch, "seed {seed}: structures after {} bars differ from batch", i + 1);
                assert_eq!(an.structures().to_analysis(), batch);
            }
        }
        assert!(!an.structures().segments_of_segments.is_empty(), "a 6000-bar walk has segments of segments");
    }
}

#[test]
fn bad_input_is_refused_without_panicking() {
    let mut bars = random_walk(7, 50);
    let mut an = Analyzer::new(ChanConfig::default()).unwrap();
    assert!(an.snapshot().strokes.is_empty(), "empty input gives an empty analysis");
    for b in &bars[..10] {
        an.push(b).unwrap();
    }
    let before = an.snapshot();
    let mut nan = bars[10];
    nan.high = f64::NAN;
    assert!(an.push(&nan).is_err());
    let mut inverted = bars[10];
    std::mem::swap(&mut inverted.high, &mut inverted.low);
    assert!(an.push(&inverted).is_err());
    let mut late = bars[10];
    late.time = bars[9].time;
    assert!(an.push(&late).is_err());
    assert_eq!(an.snapshot(), before, "refused bars leave the analyzer unchanged");
    bars[20].close = f64::INFINITY;
    assert!(analyze(&bars, &ChanConfig::default()).is_err());
    let flat: Vec<Bar> = (0..100)
        .map(|i| Bar { time: i, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 0.0, amount: 0.0 })
        .collect();
    let a = analyze(&flat, &ChanConfig::default()).unwrap();
    assert_eq!(a.merged_bars.len(), 1);
    assert!(a.strokes.is_empty());
}

#[test]
fn config_deserializes_with_defaults() {
    let cfg: ChanConfig =
        serde_json::from_str(r#"{"bi": {"fx_check": "loss"}, "bsp_stroke": {"buy": {"divergence_rate": 0.8}}}"#)
            .unwrap();
    assert_eq!(cfg.bi.fx_check, quantdesk_chan::config::FxCheck::Loss);
    assert!(cfg.bi.is_strict);
    assert_eq!(cfg.bsp_stroke.buy.divergence_rate, 0.8);
    assert!(cfg.bsp_stroke.sell.divergence_rate.is_infinite());
    assert!(serde_json::from_str::<ChanConfig>(r#"{"bi": {"no_such_rule": 1}}"#).is_err());
    let mut bad = ChanConfig::default();
    bad.bsp_segment.buy.macd_algo = quantdesk_chan::config::MacdAlgo::Peak;
    assert!(Analyzer::new(bad).is_err());
}

#[test]
fn adversarial_shapes_do_not_panic() {
    let mk = |i: usize, lo: f64, hi: f64| Bar {
        time: i as i64,
        open: lo,
        high: hi,
        low: lo,
        close: hi,
        volume: 0.0,
        amount: 0.0,
    };
    // A long trend with small pullbacks: no segment ever ends.
    let trend: Vec<Bar> = (0..60_000)
        .map(|i| {
            let base = i as f64 - if i % 7 < 2 { 3.0 } else { 0.0 };
            mk(i, base + 100.0, base + 101.0)
        })
        .collect();
    let a = analyze(&trend, &ChanConfig::default()).unwrap();
    check_invariants(&a, &ChanConfig::default()).unwrap();
    // Ever-widening swings (outside bars) and zig-zags of every period.
    let widening: Vec<Bar> = (0..20_000).map(|i| mk(i, 1000.0 - i as f64 * 0.01, 1000.0 + i as f64 * 0.01)).collect();
    assert_eq!(analyze(&widening, &ChanConfig::default()).unwrap().merged_bars.len(), 1);
    let zigzag: Vec<Bar> = (0..50_000)
        .map(|i| {
            let p = ((i % 9) as f64 - 4.0).abs() * (1.0 + (i / 9 % 13) as f64) + 50.0;
            mk(i, p, p + 0.5)
        })
        .collect();
    let a = analyze(&zigzag, &ChanConfig::default()).unwrap();
    check_invariants(&a, &ChanConfig::default()).unwrap();
}
