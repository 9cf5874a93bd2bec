//! DTW k-means for the `DTW` labeling method (TradeMaster calls tslearn's
#![allow(clippy::needless_range_loop)] // index-heavy numeric ports read closer to their originals
//! `TimeSeriesKMeans(n_clusters=K, metric="dtw", max_iter=100, max_iter_barycenter=100)` with no
//! random state, so its labels change from run to run).
//!
//! This version is deterministic and differs from tslearn as follows (also in the README):
//! * initialisation: k-means++ with DTW distances, driven by a fixed-seed SplitMix64 generator
//!   ([`KMEANS_SEED`]); tslearn uses a randomly seeded k-means++ with several local trials;
//! * distance: DTW with squared local cost, `sqrt(min Σ (a − b)²)`, like tslearn's `dtw`;
//! * centroids: DTW barycenter averaging (DBA) started from the previous centroid, at most 100
//!   iterations, stopping when the barycenter stops moving (tslearn: the same algorithm with its
//!   own tolerance);
//! * an empty cluster is re-seeded with the series farthest from its centroid (tslearn raises
//!   `EmptyClusterError` and restarts);
//! * labels are renumbered by ascending centroid mean, so label 0 is the most bearish cluster
//!   (tslearn's cluster ids are arbitrary).

/// The fixed seed of the k-means++ initialisation.
pub const KMEANS_SEED: u64 = 0x005E_ED0F_DA7A;

/// SplitMix64: a tiny deterministic generator (no `rand` dependency).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform draw in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// DTW with squared local cost: the total cost (before the square root) and the path.
fn dtw_sq(x: &[f64], y: &[f64], cost: &mut Vec<f64>) -> (f64, Vec<(usize, usize)>) {
    let (n, m) = (x.len(), y.len());
    if n == 0 || m == 0 {
        return (f64::INFINITY, Vec::new());
    }
    cost.clear();
    cost.resize(n * m, f64::INFINITY);
    for i in 0..n {
        for j in 0..m {
            let d = (x[i] - y[j]) * (x[i] - y[j]);
            let prev = if i == 0 && j == 0 {
                0.0
            } else {
                let mut p = f64::INFINITY;
                if i > 0 {
                    p = p.min(cost[(i - 1) * m + j]);
                }
                if j > 0 {
                    p = p.min(cost[i * m + j - 1]);
                }
                if i > 0 && j > 0 {
                    p = p.min(cost[(i - 1) * m + j - 1]);
                }
                p
            };
            cost[i * m + j] = prev + d;
        }
    }
    let total = cost[n * m - 1];
    let mut path = vec![(n - 1, m - 1)];
    let (mut i, mut j) = (n - 1, m - 1);
    while i > 0 || j > 0 {
        let (ni, nj) = if i == 0 {
            (0, j - 1)
        } else if j == 0 {
            (i - 1, 0)
        } else {
            let d = cost[(i - 1) * m + j - 1];
            let u = cost[(i - 1) * m + j];
            let l = cost[i * m + j - 1];
            if d <= u && d <= l {
                (i - 1, j - 1)
            } else if u <= l {
                (i - 1, j)
            } else {
                (i, j - 1)
            }
        };
        i = ni;
        j = nj;
        path.push((i, j));
    }
    path.reverse();
    (total, path)
}

/// DTW distance as tslearn defines it: `sqrt` of the squared-cost DTW.
pub fn dtw_distance(x: &[f64], y: &[f64]) -> f64 {
    let mut c = Vec::new();
    dtw_sq(x, y, &mut c).0.sqrt()
}

fn dba(init: &[f64], members: &[&[f64]], cost: &mut Vec<f64>) -> Vec<f64> {
    let mut c = init.to_vec();
    if members.is_empty() || c.is_empty() {
        return c;
    }
    for _ in 0..100 {
        let mut sum = vec![0.0; c.len()];
        let mut cnt = vec![0usize; c.len()];
        for s in members {
            let (_, path) = dtw_sq(&c, s, cost);
            for (i, j) in path {
                sum[i] += s[j];
                cnt[i] += 1;
            }
        }
        let next: Vec<f64> = sum.iter().zip(&cnt).map(|(s, &k)| s / k.max(1) as f64).collect();
        let moved = next.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        c = next;
        if moved <= 1e-12 {
            break;
        }
    }
    c
}

/// Cluster variable-length series into `k` groups with DTW k-means; returns one label per
/// series, numbered by ascending centroid mean. Deterministic for a given input.
pub fn dtw_kmeans(series: &[&[f64]], k: usize) -> Vec<usize> {
    let m = series.len();
    if m == 0 || k == 0 {
        return vec![0; m];
    }
    let k_eff = k.min(m);
    let mut cost = Vec::new();
    let mut rng = SplitMix64(KMEANS_SEED);
    // k-means++ seeding.
    let mut centers: Vec<Vec<f64>> = vec![series[(rng.next_u64() % m as u64) as usize].to_vec()];
    let mut d2: Vec<f64> = series.iter().map(|s| dtw_sq(&centers[0], s, &mut cost).0).collect();
    while centers.len() < k_eff {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 && total.is_finite() {
            let target = rng.next_f64() * total;
            let mut acc = 0.0;
            let mut idx = m - 1;
            for (i, &v) in d2.iter().enumerate() {
                acc += v;
                if acc > target {
                    idx = i;
                    break;
                }
            }
            idx
        } else {
            (rng.next_u64() % m as u64) as usize
        };
        centers.push(series[pick].to_vec());
        for (i, s) in series.iter().enumerate() {
            let d = dtw_sq(&centers[centers.len() - 1], s, &mut cost).0;
            if d < d2[i] {
                d2[i] = d;
            }
        }
    }
    let mut labels = vec![usize::MAX; m];
    for _ in 0..100 {
        let mut changed = false;
        let mut dist = vec![0.0; m];
        for (i, s) in series.iter().enumerate() {
            let mut best = (f64::INFINITY, 0);
            for (c, ctr) in centers.iter().enumerate() {
                let d = dtw_sq(ctr, s, &mut cost).0;
                if d < best.0 {
                    best = (d, c);
                }
            }
            dist[i] = best.0;
            if labels[i] != best.1 {
                labels[i] = best.1;
                changed = true;
            }
        }
        // Re-seed empty clusters with the farthest series.
        for c in 0..k_eff {
            if !labels.contains(&c) {
                let far = (0..m).max_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(b.cmp(&a))).unwrap_or(0);
                labels[far] = c;
                dist[far] = 0.0;
                centers[c] = series[far].to_vec();
                changed = true;
            }
        }
        if !changed {
            break;
        }
        for (c, ctr) in centers.iter_mut().enumerate() {
            let members: Vec<&[f64]> = (0..m).filter(|&i| labels[i] == c).map(|i| series[i]).collect();
            *ctr = dba(ctr, &members, &mut cost);
        }
    }
    // Renumber by ascending centroid mean.
    let mut order: Vec<usize> = (0..k_eff).collect();
    let mean = |v: &Vec<f64>| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    order.sort_by(|&a, &b| mean(&centers[a]).total_cmp(&mean(&centers[b])).then(a.cmp(&b)));
    let mut rank = vec![0; k_eff];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r;
    }
    labels.iter().map(|&l| rank[l.min(k_eff - 1)]).collect()
}
