//! Turning points, the minimum-length merge, the per-segment slopes, the DTW merge rounds and the
//! labelers: TradeMaster's `Worker.get_turning_points`, `Worker.get_label` and `Dynamic_labeler`.

use super::dtw::{DtwScratch, np_mean, segment_distance};
use super::kmeans::dtw_kmeans;
use super::{LabelingError, LabelingMethod, LabelingParams, Segment};

/// pandas' `pct_change().fillna(0)`: `x[i] / x[i−1] − 1`, with 0 for the first row.
pub fn pct_change(x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        out.push(if i == 0 { 0.0 } else { x[i] / x[i - 1] - 1.0 });
    }
    out
}

/// `find_index_of_turning`: 0, every `i + 1` where `r[i]·r[i+1] < 0`, and `len`.
pub fn turning_points(prf: &[f64]) -> Vec<usize> {
    let mut tp = vec![0];
    for i in 0..prf.len().saturating_sub(1) {
        if prf[i] * prf[i + 1] < 0.0 {
            tp.push(i + 1);
        }
    }
    if *tp.last().unwrap_or(&0) != prf.len() {
        tp.push(prf.len());
    }
    tp
}

/// The minimum-length merge: a turning point starts a new segment when the current segment has
/// at least `min_length_limit` bars and at least `min_length_limit + 1` bars remain after it;
/// once too few bars remain, the rest joins the current segment. A negative limit merges
/// nothing. Returns segment starts followed by the end (`len`).
pub fn min_length_merge(tp: &[usize], min_length_limit: i64) -> Vec<usize> {
    if tp.len() < 2 {
        return tp.to_vec();
    }
    let end = *tp.last().unwrap_or(&0) as i64;
    let mut out = vec![tp[0]];
    for &t in &tp[1..tp.len() - 1] {
        let t_i = t as i64;
        if end - t_i - 1 < min_length_limit {
            break;
        } else if t_i - *out.last().unwrap_or(&0) as i64 >= min_length_limit {
            out.push(t);
        }
    }
    out.push(tp[tp.len() - 1]);
    out
}

/// The OLS slope of `y` against `x0, x0+1, …` (sklearn's `LinearRegression` centres both; a single
/// point has slope 0).
pub fn ols_slope(y: &[f64], x0: usize) -> f64 {
    let n = y.len();
    if n < 2 {
        return 0.0;
    }
    let xm = x0 as f64 + (n - 1) as f64 / 2.0;
    let ym = np_mean(y);
    let mut num = 0.0;
    let mut den = 0.0;
    for (k, &v) in y.iter().enumerate() {
        let xc = (x0 + k) as f64 - xm;
        num += xc * (v - ym);
        den += xc * xc;
    }
    num / den
}

/// Slope and TradeMaster's normalised slope (`100·slope / kif[start]`, percent per step of the
/// segment's first filtered value) of `kif[start..end]` (NaN for an empty or out-of-range span).
pub fn slopes(kif: &[f64], start: usize, end: usize) -> (f64, f64) {
    if start >= end || end > kif.len() {
        return (f64::NAN, f64::NAN);
    }
    let c = ols_slope(&kif[start..end], start);
    (c, 100.0 * c / kif[start])
}

/// `np.quantile(v, q)` with the default linear method (numpy ≥ 1.22 arithmetic) on sorted data.
pub fn np_quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let virt = (n - 1) as f64 * q;
    let (prev, next) = if virt >= (n - 1) as f64 {
        (n - 1, n - 1)
    } else if virt < 0.0 {
        (0, 0)
    } else {
        let p = virt.floor() as usize;
        (p, p + 1)
    };
    let gamma = virt - virt.floor().min((n - 1) as f64);
    let gamma = if prev == n - 1 { virt - (n - 1) as f64 } else { gamma };
    let a = sorted[prev];
    let b = sorted[next];
    let diff = b - a;
    if gamma >= 0.5 { b - diff * (1.0 - gamma) } else { a + diff * gamma }
}

fn sorted_copy(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// The thresholds of the `quantile` labeler: `np.quantile(coefs, i/K)` for `i = 1..K`.
pub fn quantile_thresholds(coefs: &[f64], k: usize) -> Vec<f64> {
    let s = sorted_copy(coefs);
    (1..k).map(|i| np_quantile_sorted(&s, i as f64 / k as f64)).collect()
}

/// The `(low, high)` interval of the `slope` labeler: `slope_interval` unless `low >= high`, in
/// which case TradeMaster's automatic interval from the sorted normalised slopes `c`:
/// `high = c[⌊(K−1)/K·len⌋]`, `low = c[⌊len/K⌋]`.
pub fn slope_interval(coefs: &[f64], k: usize, interval: [f64; 2]) -> (f64, f64) {
    let (low, high) = (interval[0], interval[1]);
    if k == 2 || low < high || coefs.is_empty() {
        return (low, high);
    }
    let s = sorted_copy(coefs);
    let len = s.len() as f64;
    let hi_idx = (((k - 1) as f64 / k as f64) * len) as usize;
    let lo_idx = ((1.0 / k as f64) * len) as usize;
    (s[lo_idx.min(s.len() - 1)], s[hi_idx.min(s.len() - 1)])
}

/// The thresholds of the `slope` labeler (`Dynamic_labeler`): `low, _, high = sorted([low, high,
/// 0])` and `low + (high − low)/(K − 2)·i` for `i = 1..K` (so for K = 3 the thresholds are `high`
/// and `2·high − low`, as in TradeMaster). For K = 2 the single threshold is the mean of the
/// interval (TradeMaster states this intent, then divides by `K − 2 = 0` and raises).
pub fn slope_thresholds(coefs: &[f64], k: usize, interval: [f64; 2]) -> Vec<f64> {
    if k == 2 {
        return vec![(interval[0] + interval[1]) / 2.0];
    }
    let (lo, hi) = slope_interval(coefs, k, interval);
    let mut v = [lo, hi, 0.0];
    v.sort_by(f64::total_cmp);
    let (low, high) = (v[0], v[2]);
    if high != low { (1..k).map(|i| low + (high - low) / (k - 2) as f64 * i as f64).collect() } else { vec![low] }
}

/// `Dynamic_labeler.get`: the first `i` with `coef <= thresholds[i]`, else `K − 1`.
pub fn threshold_label(coef: f64, thresholds: &[f64], k: usize) -> usize {
    let last = k.saturating_sub(1);
    for (i, &t) in thresholds.iter().enumerate().take(last) {
        if coef <= t {
            return i;
        }
    }
    last
}

/// Labels one label per segment of `bounds` (segment starts followed by the end).
fn label_segments(kif: &[f64], prf: &[f64], bounds: &[usize], norm: &[f64], params: &LabelingParams) -> Vec<usize> {
    let k = params.number_of_market_style;
    match params.labeling_method {
        LabelingMethod::Quantile => {
            let t = quantile_thresholds(norm, k);
            norm.iter().map(|&c| threshold_label(c, &t, k)).collect()
        }
        LabelingMethod::Slope => {
            let t = slope_thresholds(norm, k, params.slope_interval);
            norm.iter().map(|&c| threshold_label(c, &t, k)).collect()
        }
        LabelingMethod::Dtw => {
            let _ = kif;
            let segs: Vec<&[f64]> = bounds.windows(2).map(|w| &prf[w[0]..w[1]]).collect();
            dtw_kmeans(&segs, k)
        }
    }
}

/// The result of [`segment_and_label`].
#[derive(Debug)]
pub struct Segmentation {
    /// Final segments with their labels.
    pub segments: Vec<Segment>,
    /// DTW merge rounds run (0 when merging is disabled).
    pub merge_rounds: usize,
}

/// The slice-and-merge model on a filtered series `kif` and its `pct_change` `prf`.
pub fn segment_and_label(kif: &[f64], prf: &[f64], params: &LabelingParams) -> Result<Segmentation, LabelingError> {
    segment_and_label_impl(kif, prf, params, true)
}

/// [`segment_and_label`] without the exact merge shortcuts (lower-bound early stops and the
/// reuse of a pair's distance): every distance TradeMaster computes is computed. For tests
/// that check the shortcuts change nothing.
#[doc(hidden)]
pub fn segment_and_label_reference(
    kif: &[f64],
    prf: &[f64],
    params: &LabelingParams,
) -> Result<Segmentation, LabelingError> {
    segment_and_label_impl(kif, prf, params, false)
}

fn segment_and_label_impl(
    kif: &[f64],
    prf: &[f64],
    params: &LabelingParams,
    shortcuts: bool,
) -> Result<Segmentation, LabelingError> {
    let n = kif.len();
    if prf.len() != n {
        return Err(LabelingError::LengthMismatch {
            what: "filtered series and its returns",
            left: n,
            right: prf.len(),
        });
    }
    if n == 0 {
        return Err(LabelingError::TooShort { len: 0, needed: 1, why: "there is nothing to segment" });
    }
    if params.number_of_market_style < 2 {
        return Err(LabelingError::TooFewDynamics(params.number_of_market_style));
    }
    let tp = turning_points(prf);
    let bounds = min_length_merge(&tp, params.min_length_limit);
    let (bounds, rounds) =
        if params.merging_threshold != -1.0 { merge_rounds(kif, prf, bounds, params, shortcuts) } else { (bounds, 0) };
    debug_assert_eq!(*bounds.last().unwrap_or(&0), n);
    let mut norm = Vec::with_capacity(bounds.len());
    let mut coef = Vec::with_capacity(bounds.len());
    for w in bounds.windows(2) {
        let (c, nc) = slopes(kif, w[0], w[1]);
        coef.push(c);
        norm.push(nc);
    }
    let labels = label_segments(kif, prf, &bounds, &norm, params);
    let segments = bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| Segment { start: w[0], end: w[1], slope: coef[i], normalized_slope: norm[i], label: labels[i] })
        .collect();
    Ok(Segmentation { segments, merge_rounds: rounds })
}

/// Python's `min(a, b)`: `b` only when `b < a` (so `min(nan, x)` is nan and `min(x, nan)` is x).
fn py_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// Up to [`super::MAX_MERGE_ROUNDS`] (20) rounds of DTW merging (TradeMaster's loop, one pass over the segments per round,
/// in place). `bounds` are segment starts followed by the end.
fn merge_rounds(
    kif: &[f64],
    prf: &[f64],
    bounds: Vec<usize>,
    params: &LabelingParams,
    shortcuts: bool,
) -> (Vec<usize>, usize) {
    let n_tp = bounds.len();
    let mut tp: Vec<Option<usize>> = bounds.into_iter().map(Some).collect();
    let end = tp[n_tp - 1].unwrap_or(0);
    let theta = params.merging_threshold;
    let bound = if shortcuts { Some(theta) } else { None };
    let constraint = params.merging_dynamic_constraint;
    let mut scratch = DtwScratch::default();
    let mut round = 0;
    let mut change = true;
    let mut label_seg: Vec<usize> = Vec::new();
    while change && round < super::MAX_MERGE_ROUNDS {
        round += 1;
        change = false;
        if constraint >= 0 {
            // Label the current segments (indexed by their position in `tp`).
            let mut idx = Vec::new();
            let mut flat = Vec::new();
            for (i, t) in tp.iter().enumerate().take(n_tp - 1) {
                if let Some(s) = t {
                    idx.push(i);
                    flat.push(*s);
                }
            }
            flat.push(end);
            let norm: Vec<f64> = flat.windows(2).map(|w| slopes(kif, w[0], w[1]).1).collect();
            let raw = label_segments(kif, prf, &flat, &norm, params);
            label_seg = vec![0; n_tp - 1];
            for (k, &i) in idx.iter().enumerate() {
                label_seg[i] = raw[k];
            }
        }
        let max_sample = round * 3 + 10;
        let mut last_right: Option<((usize, usize, usize), f64)> = None;
        for i in 0..n_tp - 1 {
            let Some(start_i) = tp[i] else { continue };
            let Some(next) = (i + 1..n_tp).find(|&j| tp[j].is_some()) else { break };
            let start_next = tp[next].unwrap_or(end);
            if start_next - start_i >= params.max_length_expectation {
                continue;
            }
            let mut left = f64::INFINITY;
            let mut right = f64::INFINITY;
            let this = &kif[start_i..start_next];
            let mut left_index = None;
            if i > 0 {
                left_index = (0..i).rev().find(|&j| tp[j].is_some());
                if let Some(l) = left_index {
                    let ls = tp[l].unwrap_or(0);
                    // The left neighbour may just have measured this very pair as its right
                    // distance (same arguments in the same order): reuse it.
                    left = match last_right {
                        Some((key, d)) if shortcuts && key == (ls, start_i, start_next) => d,
                        _ => segment_distance(&kif[ls..start_i], this, max_sample, bound, &mut scratch).as_f64(),
                    };
                }
            }
            if i + 2 < n_tp && next < n_tp - 1 {
                // (TradeMaster also measures against an empty right neighbour when `next` is the
                // end marker, gets NaN and then crashes on a label-length mismatch if it merges
                // right; this port never merges into the end marker.)
                let next2 = (next + 1..n_tp - 1).find(|&j| tp[j].is_some());
                let r_end = next2.and_then(|j| tp[j]).unwrap_or(end);
                right = segment_distance(this, &kif[start_next..r_end], max_sample, bound, &mut scratch).as_f64();
                last_right = Some(((start_i, start_next, r_end), right));
            }
            if constraint >= 0 {
                let c = constraint as u64;
                if next < n_tp - 1 && right != f64::INFINITY && c < label_seg[i].abs_diff(label_seg[next]) as u64 {
                    right = f64::INFINITY;
                }
                if let Some(l) = left_index
                    && left != f64::INFINITY
                    && c < label_seg[i].abs_diff(label_seg[l]) as u64
                {
                    left = f64::INFINITY;
                }
            }
            if py_min(left, right) < theta {
                if left < right {
                    // merge into the left neighbour: it keeps its start
                } else {
                    tp[next] = Some(start_i);
                }
                tp[i] = None;
                change = true;
            }
        }
    }
    (tp.into_iter().flatten().collect(), round)
}
