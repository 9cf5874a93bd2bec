//! The Butterworth low-pass filter, designed and applied like scipy.
#![allow(clippy::needless_range_loop)] // index-heavy numeric ports read closer to their originals
//!
//! * [`butter_lowpass`] is `scipy.signal.butter(order, wn, btype='low', analog=False)`: the analog
//!   prototype's poles `-exp(iπm/2N)`, frequency prewarping `4·tan(π·Wn/2)`, the bilinear
//!   transform at `fs = 2`, and the expansion of the poles into the polynomial `a` by successive
//!   convolution (numpy's `poly`).
//! * [`lfilter`] is `scipy.signal.lfilter` (direct form II transposed, the same operation order).
//! * [`lfilter_zi`] is `scipy.signal.lfilter_zi` (`(I − Aᵀ) zi = b[1:] − a[1:]·b[0]`, solved in
//!   the operation order of OpenBLAS's `gesv`).
//! * [`filtfilt`] is `scipy.signal.filtfilt(b, a, x)` with its defaults: odd extension of
//!   `padlen = 3·max(len(a), len(b))` samples at each end, initial conditions `zi·x_ext[0]` forward and
//!   `zi·y[-1]` backward.

use super::LabelingError;

#[derive(Clone, Copy, Debug, PartialEq)]
struct C {
    re: f64,
    im: f64,
}

impl C {
    fn new(re: f64, im: f64) -> Self {
        C { re, im }
    }
    fn add(self, o: C) -> C {
        C::new(self.re + o.re, self.im + o.im)
    }
    fn sub(self, o: C) -> C {
        C::new(self.re - o.re, self.im - o.im)
    }
    fn mul(self, o: C) -> C {
        C::new(self.re * o.re - self.im * o.im, self.re * o.im + self.im * o.re)
    }
    fn scale(self, s: f64) -> C {
        C::new(self.re * s, self.im * s)
    }
    /// numpy's complex division (Smith's method).
    fn div(self, o: C) -> C {
        if o.re.abs() >= o.im.abs() {
            let rat = o.im / o.re;
            let scl = 1.0 / (o.re + o.im * rat);
            C::new((self.re + self.im * rat) * scl, (self.im - self.re * rat) * scl)
        } else {
            let rat = o.re / o.im;
            let scl = 1.0 / (o.im + o.re * rat);
            C::new((self.re * rat + self.im) * scl, (self.im * rat - self.re) * scl)
        }
    }
}

/// numpy's `poly`: the monic polynomial with the given roots, highest power first.
///
/// numpy builds it by `convolve(a, [1, −root])`, which evaluates each output as a complex dot
/// product (BLAS `zdotu`): the real parts `Σ re·re` and `Σ im·im` and the cross terms are
/// accumulated separately and combined at the end. The middle coefficients are therefore
/// `(re(a[k−1])·re(−r) + re(a[k])) − im(a[k−1])·im(−r)`, not `a[k] + a[k−1]·(−r)`; the two
/// differ in the last bit, which moves the filter's DC gain by ~1e-13 for small `Wn`.
fn poly(roots: &[C]) -> Vec<C> {
    let mut a = vec![C::new(1.0, 0.0)];
    for &r in roots {
        let (yr, yi) = (-r.re, -r.im);
        let mut next = Vec::with_capacity(a.len() + 1);
        next.push(a[0]);
        for k in 1..a.len() {
            let (xr, xi) = (a[k - 1].re, a[k - 1].im);
            let (ar, ai) = (a[k].re, a[k].im);
            let d0 = xr * yr + ar;
            let d1 = xi * yi + ai * 0.0;
            let d2 = xr * yi + ar * 0.0;
            let d3 = xi * yr + ai;
            next.push(C::new(d0 - d1, d2 + d3));
        }
        let last = a[a.len() - 1];
        next.push(C::new(last.re * yr - last.im * yi, last.re * yi + last.im * yr));
        a = next;
    }
    a
}

/// Digital Butterworth low-pass coefficients `(b, a)` of the given order and normalised cut-off
/// `wn` (1 = Nyquist), as `scipy.signal.butter(order, wn)` computes them.
///
/// # Errors
/// [`LabelingError::FilterCutoff`] unless `0 < wn < 1` (scipy raises the same), and
/// [`LabelingError::InvalidParameter`] for order 0.
pub fn butter_lowpass(order: usize, wn: f64) -> Result<(Vec<f64>, Vec<f64>), LabelingError> {
    if !(wn > 0.0 && wn < 1.0) {
        return Err(LabelingError::FilterCutoff { wn });
    }
    if order == 0 {
        return Err(LabelingError::InvalidParameter {
            name: "order",
            reason: "the filter order must be at least 1".into(),
        });
    }
    let n = order as i64;
    // buttap: p = -exp(1j*pi*m/(2N)), m = -N+1, -N+3, ..., N-1.
    let poles: Vec<C> = (0..order)
        .map(|k| {
            let m = (-n + 1 + 2 * k as i64) as f64;
            let theta = std::f64::consts::PI * m / (2 * n) as f64;
            C::new(-theta.cos(), -theta.sin())
        })
        .collect();
    let fs = 2.0;
    let warped = 2.0 * fs * (std::f64::consts::PI * wn / fs).tan();
    // lp2lp_zpk
    let p_lp: Vec<C> = poles.iter().map(|p| p.scale(warped)).collect();
    let k_lp = warped.powf(order as f64);
    // bilinear_zpk
    let fs2 = C::new(2.0 * fs, 0.0);
    let p_z: Vec<C> = p_lp.iter().map(|&p| fs2.add(p).div(fs2.sub(p))).collect();
    let mut prod = C::new(1.0, 0.0);
    for &p in &p_lp {
        prod = prod.mul(fs2.sub(p));
    }
    let k_z = k_lp * C::new(1.0, 0.0).div(prod).re;
    // zpk2tf: zeros all at -1, so poly(z) is the binomial row.
    let zeros = vec![C::new(-1.0, 0.0); order];
    let b: Vec<f64> = poly(&zeros).iter().map(|c| k_z * c.re).collect();
    let a: Vec<f64> = poly(&p_z).iter().map(|c| c.re).collect();
    Ok((b, a))
}

fn normalise(b: &[f64], a: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = a.len().max(b.len());
    let mut bb = b.to_vec();
    let mut aa = a.to_vec();
    bb.resize(n, 0.0);
    aa.resize(n, 0.0);
    let a0 = aa[0];
    if a0 != 1.0 {
        for v in bb.iter_mut() {
            *v /= a0;
        }
        for v in aa.iter_mut() {
            *v /= a0;
        }
    }
    (bb, aa)
}

/// `scipy.signal.lfilter(b, a, x, zi=zi)`: returns the output and the final state.
/// `a[0]` must be non-zero; `zi` has `max(len(a), len(b)) − 1` entries.
pub fn lfilter(b: &[f64], a: &[f64], x: &[f64], zi: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (b, a) = normalise(b, a);
    let m = b.len();
    let mut z = zi.to_vec();
    z.resize(m.saturating_sub(1), 0.0);
    let mut y = Vec::with_capacity(x.len());
    for &xn in x {
        if m > 1 {
            let yn = z[0] + b[0] * xn;
            for k in 0..m - 2 {
                z[k] = z[k + 1] + xn * b[k + 1] - yn * a[k + 1];
            }
            z[m - 2] = xn * b[m - 1] - yn * a[m - 1];
            y.push(yn);
        } else {
            y.push(xn * b[0]);
        }
    }
    (y, z)
}

/// `scipy.signal.lfilter_zi(b, a)`: the initial state for a step response at steady state.
pub fn lfilter_zi(b: &[f64], a: &[f64]) -> Vec<f64> {
    let (b, a) = normalise(b, a);
    let n = b.len();
    if n < 2 {
        return Vec::new();
    }
    let d = n - 1;
    // IminusA = I - companion(a).T: column 0 is 1 + a1, a2, ..., superdiagonal -1.
    let mut m = vec![vec![0.0; d]; d];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
        row[0] += a[i + 1];
        if i + 1 < d {
            row[i + 1] -= 1.0;
        }
    }
    let mut rhs: Vec<f64> = (0..d).map(|i| b[i + 1] - a[i + 1] * b[0]).collect();
    solve(&mut m, &mut rhs);
    rhs
}

/// `np.linalg.solve` as OpenBLAS computes it for this size: `getf2`'s left-looking LU with
/// partial pivoting (dot-product updates with fused multiply-adds, pivot column scaled by the
/// reciprocal of the pivot), then `trsv` forward (unit lower) and backward (upper, dividing by
/// the diagonal) substitutions with fused `axpy` updates. This order reproduces scipy's
/// `lfilter_zi` bit for bit (tested), where plain elimination is ~1e-13 off for small `Wn`.
fn solve(m: &mut [Vec<f64>], rhs: &mut [f64]) {
    let n = rhs.len();
    let mut ipiv = vec![0usize; n];
    for j in 0..n {
        for i in 0..j {
            let ip = ipiv[i];
            if ip != i {
                let t = m[i][j];
                m[i][j] = m[ip][j];
                m[ip][j] = t;
            }
        }
        for i in 1..j {
            let mut acc = 0.0;
            for k in 0..i {
                acc = m[i][k].mul_add(m[k][j], acc);
            }
            m[i][j] -= acc;
        }
        for r in j..n {
            if j == 0 {
                break;
            }
            let mut t = 0.0;
            for k in 0..j {
                t = m[r][k].mul_add(m[k][j], t);
            }
            m[r][j] -= t;
        }
        let mut jp = j;
        for r in j + 1..n {
            if m[r][j].abs() > m[jp][j].abs() {
                jp = r;
            }
        }
        ipiv[j] = jp;
        let pivot = m[jp][j];
        if jp != j {
            for c in 0..=j {
                let t = m[j][c];
                m[j][c] = m[jp][c];
                m[jp][c] = t;
            }
        }
        if pivot != 0.0 {
            let inv = 1.0 / pivot;
            for r in j + 1..n {
                m[r][j] *= inv;
            }
        }
    }
    for i in 0..n {
        let ip = ipiv[i];
        if ip != i {
            rhs.swap(i, ip);
        }
    }
    for i in 0..n {
        for r in i + 1..n {
            rhs[r] = (-rhs[i]).mul_add(m[r][i], rhs[r]);
        }
    }
    for i in (0..n).rev() {
        rhs[i] /= m[i][i];
        for r in 0..i {
            rhs[r] = (-rhs[i]).mul_add(m[r][i], rhs[r]);
        }
    }
}

/// scipy's default `padlen` for `filtfilt`: `3·max(len(a), len(b))`.
pub fn default_padlen(b: &[f64], a: &[f64]) -> usize {
    3 * a.len().max(b.len())
}

/// `scipy.signal.filtfilt(b, a, x)` with its defaults (odd padding of [`default_padlen`] samples,
/// `lfilter_zi` initial conditions).
///
/// # Errors
/// [`LabelingError::TooShort`] when `x.len() <= padlen` (scipy raises the same).
pub fn filtfilt(b: &[f64], a: &[f64], x: &[f64]) -> Result<Vec<f64>, LabelingError> {
    let edge = default_padlen(b, a);
    let n = x.len();
    if n <= edge {
        return Err(LabelingError::TooShort {
            len: n,
            needed: edge + 1,
            why: "scipy's filtfilt needs more bars than its padlen, 3·max(len(a), len(b))",
        });
    }
    let mut ext = Vec::with_capacity(n + 2 * edge);
    for k in (1..=edge).rev() {
        ext.push(2.0 * x[0] - x[k]);
    }
    ext.extend_from_slice(x);
    for k in 1..=edge {
        ext.push(2.0 * x[n - 1] - x[n - 1 - k]);
    }
    let zi = lfilter_zi(b, a);
    let x0 = ext[0];
    let zi0: Vec<f64> = zi.iter().map(|z| z * x0).collect();
    let (mut y, _) = lfilter(b, a, &ext, &zi0);
    let y0 = y[y.len() - 1];
    y.reverse();
    let zi1: Vec<f64> = zi.iter().map(|z| z * y0).collect();
    let (mut y2, _) = lfilter(b, a, &y, &zi1);
    y2.reverse();
    Ok(y2[edge..edge + n].to_vec())
}

/// The causal counterpart of [`filtfilt`]: one forward `lfilter` pass over `x` started in the
/// steady state of its first value (`zi·x[0]`), so output `i` depends on `x[0..=i]` only.
pub fn causal_filter(b: &[f64], a: &[f64], x: &[f64]) -> Vec<f64> {
    if x.is_empty() {
        return Vec::new();
    }
    let zi: Vec<f64> = lfilter_zi(b, a).iter().map(|z| z * x[0]).collect();
    lfilter(b, a, x, &zi).0
}
