//! The multi-level helper against a brute-force reading of its definition.

mod common;

use common::random_walk;
use quantdesk_chan::multilevel::{Structure, nest};
use quantdesk_chan::{ChanConfig, analyze};
use quantdesk_core::Bar;

/// Five lower bars per higher bar.
fn aggregate(bars: &[Bar], k: usize) -> Vec<Bar> {
    bars.chunks(k)
        .map(|c| {
            let mut b = c[0];
            for x in &c[1..] {
                b.merge(x);
            }
            b
        })
        .collect()
}

#[test]
fn nests_lower_strokes_by_time() {
    let day = 86_400;
    let low_bars = random_walk(11, 6000);
    let high_bars = aggregate(&low_bars, 5);
    let (lo, hi) =
        (analyze(&low_bars, &ChanConfig::default()).unwrap(), analyze(&high_bars, &ChanConfig::default()).unwrap());
    let nests = nest(&hi, &lo, 5 * day);
    assert_eq!(nests.len(), hi.strokes.len() + hi.segments.len() + hi.pivots.len());
    let mut non_empty = 0;
    for n in &nests {
        let want: Vec<usize> = lo
            .strokes
            .iter()
            .filter(|s| s.begin_time >= n.begin_time && s.end_time < n.end_time + 5 * day)
            .map(|s| s.index)
            .collect();
        assert_eq!(n.lower_strokes, want, "{:?} {}", n.structure, n.index);
        non_empty += usize::from(!want.is_empty());
    }
    // A higher segment spans many higher bars, so it holds lower strokes.
    assert!(nests.iter().filter(|n| n.structure == Structure::Segment).all(|n| n.lower_strokes.len() >= 3));
    assert!(non_empty * 2 > nests.len());
}
