//! Dynamic time warping: a port of the `fastdtw` package (radius 1, `|a − b|` cost) and
//! TradeMaster's sliding-window segment distance built on it.
//!
//! The port follows `fastdtw.fastdtw` (the pure-Python module) step for step, including the
//! tie-break of its `min` (up, then left, then diagonal: the first minimal sum wins), the halving
//! by pair means (an odd last sample is dropped), and the window expansion. The window is held as
//! one contiguous column range per row instead of Python's set of cells; for a monotone warping
//! path this is the same set of cells (see the proof on the private `expand_window`).

/// numpy's pairwise summation (`np.add.reduce` on a contiguous float64 array), so means agree
/// with `np.mean` to the last bit.
pub fn np_sum(x: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = x.len();
    if n < 8 {
        let mut s = -0.0;
        for &v in x {
            s += v;
        }
        s
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.copy_from_slice(&x[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for k in 0..8 {
                r[k] += x[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += x[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        np_sum(&x[..n2]) + np_sum(&x[n2..])
    }
}

/// `np.mean`: [`np_sum`] divided by the count (NaN for an empty slice, as numpy).
pub fn np_mean(x: &[f64]) -> f64 {
    np_sum(x) / x.len() as f64
}

/// Reusable buffers for [`fastdtw`].
#[derive(Default, Debug)]
pub struct DtwScratch {
    cost: Vec<f64>,
    dir: Vec<u8>,
}

/// The FastDTW radius TradeMaster uses (the package default).
pub const RADIUS: usize = 1;

fn reduce_by_half(x: &[f64]) -> Vec<f64> {
    (0..x.len() / 2).map(|i| (x[2 * i] + x[2 * i + 1]) / 2.0).collect()
}

/// `fastdtw.fastdtw(x, y)` (radius 1, absolute difference): the approximate DTW distance and
/// its warping path.
pub fn fastdtw(x: &[f64], y: &[f64], scratch: &mut DtwScratch) -> (f64, Vec<(usize, usize)>) {
    fastdtw_inner(x, y, scratch, true)
}

/// [`fastdtw`] without the final path.
pub fn fastdtw_distance(x: &[f64], y: &[f64], scratch: &mut DtwScratch) -> f64 {
    fastdtw_inner(x, y, scratch, false).0
}

/// [`fastdtw_distance`] that gives up (returns `+inf`) as soon as the result is certainly
/// above `budget`: every row of the finest cost matrix is crossed by the final path and the
/// cumulative costs never decrease along it, so a row whose minimum exceeds the budget settles it.
pub fn fastdtw_distance_within(x: &[f64], y: &[f64], budget: f64, scratch: &mut DtwScratch) -> f64 {
    fastdtw_level(x, y, scratch, false, budget).0
}

fn fastdtw_inner(x: &[f64], y: &[f64], scratch: &mut DtwScratch, want_path: bool) -> (f64, Vec<(usize, usize)>) {
    fastdtw_level(x, y, scratch, want_path, f64::INFINITY)
}

fn fastdtw_level(
    x: &[f64],
    y: &[f64],
    scratch: &mut DtwScratch,
    want_path: bool,
    budget: f64,
) -> (f64, Vec<(usize, usize)>) {
    let min_time_size = RADIUS + 2;
    if x.len() < min_time_size || y.len() < min_time_size {
        let rows: Vec<(usize, usize)> = (0..x.len()).map(|_| (0, y.len().saturating_sub(1))).collect();
        return dtw_window(x, y, &rows, scratch, want_path, budget);
    }
    let xs = reduce_by_half(x);
    let ys = reduce_by_half(y);
    let (_, path) = fastdtw_level(&xs, &ys, scratch, true, f64::INFINITY);
    let rows = expand_window(&path, xs.len(), x.len(), y.len(), RADIUS);
    dtw_window(x, y, &rows, scratch, want_path, budget)
}

/// `__expand_window`: the cells within `radius` of the coarse path, doubled, scanned row by row.
///
/// Row `I` of the coarse set is the union of `[j − r, j + r]` over the path cells in rows
/// `I − r ..= I + r`; those cells' columns are contiguous because the path moves by at most one
/// cell per step, so the union is `[jmin − r, jmax + r]`. Doubling maps it to
/// `[2(jmin − r), 2(jmax + r) + 1]` on fine rows `2I` and `2I + 1`, and Python's scan keeps the
/// part inside `0..len_y` (its lower ends never decrease, so the scan's `start_j` never cuts a row).
fn expand_window(
    path: &[(usize, usize)],
    coarse_rows: usize,
    len_x: usize,
    len_y: usize,
    r: usize,
) -> Vec<(usize, usize)> {
    let mut first = vec![usize::MAX; coarse_rows];
    let mut last = vec![0usize; coarse_rows];
    for &(i, j) in path {
        if first[i] == usize::MAX {
            first[i] = j;
        }
        last[i] = j;
    }
    let r_i = r as i64;
    let mut rows = Vec::with_capacity(len_x);
    for f in 0..len_x {
        let big_i = (f / 2) as i64;
        let lo_row = (big_i - r_i).max(0) as usize;
        let hi_row = ((big_i + r_i) as usize).min(coarse_rows - 1);
        let jmin = first[lo_row.min(coarse_rows - 1)] as i64;
        let jmax = last[hi_row] as i64;
        let lo = (2 * (jmin - r_i)).max(0) as usize;
        let hi = ((2 * (jmax + r_i) + 1) as usize).min(len_y - 1);
        rows.push((lo, hi));
    }
    rows
}

const UP: u8 = 0;
const LEFT: u8 = 1;
const DIAG: u8 = 2;

/// `__dtw` over a window given as one inclusive column range per row of `x`. The path is
/// only traced when `want_path` (the finest level of FastDTW needs just the distance).
fn dtw_window(
    x: &[f64],
    y: &[f64],
    rows: &[(usize, usize)],
    scratch: &mut DtwScratch,
    want_path: bool,
    budget: f64,
) -> (f64, Vec<(usize, usize)>) {
    let n = x.len();
    if n == 0 || y.is_empty() {
        // fastdtw returns (0, []) for two empty inputs; one empty input makes Python raise.
        return if n == 0 && y.is_empty() { (0.0, Vec::new()) } else { (f64::INFINITY, Vec::new()) };
    }
    let total: usize = rows.iter().map(|&(lo, hi)| hi + 1 - lo).sum();
    scratch.cost.clear();
    scratch.cost.resize(total, f64::INFINITY);
    if want_path {
        scratch.dir.clear();
        scratch.dir.resize(total, 0);
    }
    let cost = &mut scratch.cost;
    let dir = &mut scratch.dir;
    let inf = f64::INFINITY;
    let (mut plo, mut phi, mut poff) = (usize::MAX, 0usize, 0usize);
    let mut off = 0usize;
    for i in 0..n {
        let (lo, hi) = rows[i];
        let xi = x[i];
        let mut left = inf;
        let mut row_min = inf;
        for j in lo..=hi {
            let dt = (xi - y[j]).abs();
            let (up, diag) = if i == 0 {
                (inf, if j == 0 { 0.0 } else { inf })
            } else {
                let up = if j >= plo && j <= phi { cost[poff + j - plo] } else { inf };
                let diag = if j > plo && j - 1 <= phi { cost[poff + j - 1 - plo] } else { inf };
                (up, diag)
            };
            let s_up = up + dt;
            let s_left = left + dt;
            let s_diag = diag + dt;
            let (mut best, mut d) = (s_up, UP);
            if s_left < best {
                best = s_left;
                d = LEFT;
            }
            if s_diag < best {
                best = s_diag;
                d = DIAG;
            }
            let k = off + j - lo;
            cost[k] = best;
            if want_path {
                dir[k] = d;
            }
            left = best;
            if best < row_min {
                row_min = best;
            }
        }
        if row_min > budget {
            return (inf, Vec::new());
        }
        plo = lo;
        phi = hi;
        poff = off;
        off += hi + 1 - lo;
    }
    let m = y.len();
    let (llo, lhi) = rows[n - 1];
    let dist = if m > llo && m - 1 <= lhi { cost[poff + m - 1 - llo] } else { inf };
    if !want_path {
        return (dist, Vec::new());
    }
    let mut offs = Vec::with_capacity(n);
    let mut acc = 0;
    for &(lo, hi) in rows {
        offs.push(acc);
        acc += hi + 1 - lo;
    }
    let mut path = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n - 1, m - 1);
    loop {
        path.push((i, j));
        if i == 0 && j == 0 {
            break;
        }
        let (lo, hi) = rows[i];
        if j < lo || j > hi {
            break;
        }
        match dir[offs[i] + j - lo] {
            UP => i -= 1,
            LEFT => j -= 1,
            _ => {
                i -= 1;
                j -= 1;
            }
        }
    }
    path.reverse();
    (dist, path)
}

/// What [`segment_distance`] returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distance {
    /// The normalised distance TradeMaster computes (NaN when the segments have equal length:
    /// TradeMaster's offset loop is then empty and `np.mean([])` is NaN).
    Value(f64),
    /// Stopped early: the distance is certainly `>= threshold`, so it cannot cause a merge. Only
    /// returned when the shorter segment's mean is positive (all DTW terms are non-negative).
    AtLeastThreshold,
}

impl Distance {
    /// The value to use in the merge comparisons: an early stop compares like `+inf`, which
    /// leads to the same merge decisions as the exact value (see the merge code).
    pub fn as_f64(self) -> f64 {
        match self {
            Distance::Value(v) => v,
            Distance::AtLeastThreshold => f64::INFINITY,
        }
    }
}

/// TradeMaster's `calculate_dtw_distance(seg1, seg2, max_sample_number)`: slide the shorter
/// segment over the longer one with step `max(1, ⌊(len_long − len_short)/max_sample_number⌋)`
/// (offsets `0, step, …` below `len_long − len_short`, so the last offset is never tried),
/// take FastDTW at each offset, and return `mean(distances) / (len_short · mean(shorter))`.
///
/// `threshold`: when `Some(θ)`, the loop stops as soon as the partial sum proves the result is
/// `>= θ` (an exact shortcut for the merge decision, see [`Distance::AtLeastThreshold`]).
pub fn segment_distance(
    seg1: &[f64],
    seg2: &[f64],
    max_sample_number: usize,
    threshold: Option<f64>,
    scratch: &mut DtwScratch,
) -> Distance {
    let (longer, shorter) = if seg1.len() > seg2.len() { (seg1, seg2) } else { (seg2, seg1) };
    let s = shorter.len();
    let span = longer.len() - s;
    let step = (span / max_sample_number.max(1)).max(1);
    let count = span.div_ceil(step);
    let mean_short = np_mean(shorter);
    let denom = s as f64 * mean_short;
    if count == 0 {
        return Distance::Value(f64::NAN);
    }
    // Early stop: all distances are >= 0, so sum/count/denom only grows with more terms.
    let bound = match threshold {
        Some(t) if mean_short > 0.0 && denom.is_finite() => {
            if t <= 0.0 {
                return Distance::AtLeastThreshold;
            }
            Some(t * count as f64 * denom * (1.0 + 1e-9))
        }
        _ => None,
    };
    // Lower bounds of each offset's FastDTW cost: every warping path visits each sample of
    // both series, so its cost is at least the sum of each sample's distance to the other
    // series' [min, max] range. The window side uses the fixed range of `shorter` (prefix sums,
    // O(1) per offset); the stronger two-sided bound is only computed when that is not enough.
    let mut lbs: Vec<f64> = Vec::new();
    let mut remaining_lb = 0.0;
    if let Some(b) = bound {
        let (xlo, xhi) = range(shorter);
        let mut prefix = Vec::with_capacity(longer.len() + 1);
        prefix.push(0.0);
        let mut acc = 0.0;
        for &v in longer {
            acc += outside(v, xlo, xhi);
            prefix.push(acc);
        }
        lbs = (0..count).map(|k| (prefix[k * step + s] - prefix[k * step]).max(0.0)).collect();
        remaining_lb = lbs.iter().sum();
        if remaining_lb > b {
            return Distance::AtLeastThreshold;
        }
        for (k, lb) in lbs.iter_mut().enumerate() {
            let w = &longer[k * step..k * step + s];
            let (ylo, yhi) = range(w);
            let other: f64 = shorter.iter().map(|&v| outside(v, ylo, yhi)).sum();
            *lb = lb.max(other);
        }
        remaining_lb = lbs.iter().sum();
        if remaining_lb > b {
            return Distance::AtLeastThreshold;
        }
    }
    let mut distances = Vec::with_capacity(count);
    let mut partial = 0.0;
    let mut off = 0;
    while off < span {
        let d = match bound {
            Some(b) => {
                let k = distances.len();
                remaining_lb -= lbs[k];
                let budget = b - partial - remaining_lb.max(0.0);
                fastdtw_distance_within(shorter, &longer[off..off + s], budget, scratch)
            }
            None => fastdtw_distance(shorter, &longer[off..off + s], scratch),
        };
        distances.push(d);
        partial += d;
        if let Some(b) = bound
            && partial + remaining_lb.max(0.0) > b
        {
            return Distance::AtLeastThreshold;
        }
        off += step;
    }
    Distance::Value(np_mean(&distances) / denom)
}

fn range(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &a| (lo.min(a), hi.max(a)))
}

fn outside(a: f64, lo: f64, hi: f64) -> f64 {
    if a > hi {
        a - hi
    } else if a < lo {
        lo - a
    } else {
        0.0
    }
}

/// Exact DTW (full matrix, `|a − b|` cost) with its path; used by the DTW k-means labeler.
pub fn dtw_full(x: &[f64], y: &[f64], scratch: &mut DtwScratch) -> (f64, Vec<(usize, usize)>) {
    let rows: Vec<(usize, usize)> = (0..x.len()).map(|_| (0, y.len().saturating_sub(1))).collect();
    dtw_window(x, y, &rows, scratch, true, f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastdtw_docstring_example() {
        // The fastdtw package's own docstring: fastdtw([1,2,3,4,5], [2,3,4]) ==
        // (2.0, [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2)]).
        let mut s = DtwScratch::default();
        let (d, p) = fastdtw(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 3.0, 4.0], &mut s);
        assert_eq!(d, 2.0);
        assert_eq!(p, vec![(0, 0), (1, 0), (2, 1), (3, 2), (4, 2)]);
    }

    #[test]
    fn np_sum_blocks() {
        let v: Vec<f64> = (0..300).map(|i| (i as f64) * 0.1).collect();
        let direct: f64 = v.iter().sum();
        assert!((np_sum(&v) - direct).abs() < 1e-9);
        assert_eq!(np_sum(&[]), 0.0);
        assert!(np_mean(&[]).is_nan());
    }

    #[test]
    fn equal_lengths_give_nan() {
        let mut s = DtwScratch::default();
        let d = segment_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0], 10, None, &mut s);
        assert!(matches!(d, Distance::Value(v) if v.is_nan()));
    }
}
