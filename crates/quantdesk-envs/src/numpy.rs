//! numpy's float64 reductions, summation order included, so that sums, means and standard deviations agree with
//! TradeMaster's `np.sum` / `np.mean` / `np.std` to the last bit.

// np.add.reduce: first element, then a pairwise sum of the rest in blocks of 8 accumulators up to 128 elements.

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// `np.sum` of a float64 array (0 for an empty one).
pub fn np_sum(a: &[f64]) -> f64 {
    match a.split_first() {
        None => 0.0,
        Some((first, rest)) => *first + pairwise(rest),
    }
}

/// `np.mean` (NaN for an empty array).
pub fn np_mean(a: &[f64]) -> f64 {
    np_sum(a) / a.len() as f64
}

/// `np.var`, population (ddof 0; NaN for an empty array).
pub fn np_var(a: &[f64]) -> f64 {
    let m = np_mean(a);
    let sq: Vec<f64> = a.iter().map(|x| (x - m) * (x - m)).collect();
    np_sum(&sq) / a.len() as f64
}

/// `np.std`, population (ddof 0; NaN for an empty array).
pub fn np_std(a: &[f64]) -> f64 {
    np_var(a).sqrt()
}

/// `np.nan_to_num`: NaN → 0, ±inf → the largest finite values.
pub fn nan_to_num(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else if x == f64::INFINITY {
        f64::MAX
    } else if x == f64::NEG_INFINITY {
        f64::MIN
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_orders() {
        let v: Vec<f64> = (0..300).map(|i| (i as f64 * 0.37).sin()).collect();
        let seq: f64 = v.iter().sum();
        assert!((np_sum(&v) - seq).abs() < 1e-12);
        assert_eq!(np_sum(&[]), 0.0);
        assert_eq!(np_sum(&[2.5]), 2.5);
        assert!(np_mean(&[]).is_nan());
        assert_eq!(np_var(&[1.0, 3.0]), 1.0);
        assert_eq!(nan_to_num(f64::NAN), 0.0);
    }
}
