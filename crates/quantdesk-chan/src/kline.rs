//! Raw bars, inclusion merging (chan.py `CKLine_List`/`CKLine_Combiner`), fractals and strokes
//! (chan.py `CBiList`). Everything here is incremental: one bar costs amortised O(1) apart from the
//! scans chan.py itself does between two fractals.

use crate::config::{BiAlgo, BiConfig, FxCheck, MacdConfig, SpanRule};

/// Fractal mark of a merged bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fx {
    None,
    Top,
    Bottom,
}

/// What the engine keeps of a raw bar.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Raw {
    pub time: i64,
    pub high: f64,
    pub low: f64,
    /// MACD histogram, `2 * (DIF - DEA)` as chan.py computes it.
    pub macd: f64,
}

/// A merged bar (chan.py `CKLine`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Klc {
    pub first: usize,
    pub last: usize,
    pub high: f64,
    pub low: f64,
    pub up: bool,
    pub fx: Fx,
    /// Last raw bar whose high equals `high` (chan.py `get_high_peak_klu`).
    pub high_peak: usize,
    pub low_peak: usize,
    /// Extremes over the raw bars (chan.py `get_klu_max_high`/`get_klu_min_low`), for `gap_as_kl`.
    pub raw_max_high: f64,
    pub raw_min_low: f64,
}

impl Klc {
    fn new(i: usize, r: &Raw, up: bool) -> Klc {
        Klc {
            first: i,
            last: i,
            high: r.high,
            low: r.low,
            up,
            fx: Fx::None,
            high_peak: i,
            low_peak: i,
            raw_max_high: r.high,
            raw_min_low: r.low,
        }
    }
}

/// Result of comparing two ranges (chan.py `KLINE_DIR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KDir {
    Up,
    Down,
    Combine,
    Included,
}

/// chan.py `test_combine`.
pub(crate) fn test_combine(
    high: f64,
    low: f64,
    h: f64,
    l: f64,
    exclude_included: bool,
    allow_top_equal: Option<i8>,
) -> KDir {
    if high >= h && low <= l {
        return KDir::Combine;
    }
    if high <= h && low >= l {
        if allow_top_equal == Some(1) && high == h && low > l {
            return KDir::Down;
        } else if allow_top_equal == Some(-1) && low == l && high < h {
            return KDir::Up;
        }
        return if exclude_included { KDir::Included } else { KDir::Combine };
    }
    if high > h && low > l {
        return KDir::Down;
    }
    if high < h && low < l {
        return KDir::Up;
    }
    // Only reachable with NaN, which input validation rules out.
    KDir::Combine
}

/// Streaming MACD (chan.py `CMACD`).
#[derive(Debug, Clone)]
pub(crate) struct Macd {
    fast: f64,
    slow: f64,
    signal: f64,
    state: Option<(f64, f64, f64)>,
}

impl Macd {
    pub fn new(c: &MacdConfig) -> Macd {
        Macd { fast: c.fast as f64, slow: c.slow as f64, signal: c.signal as f64, state: None }
    }

    pub fn add(&mut self, v: f64) -> f64 {
        match self.state {
            None => {
                self.state = Some((v, v, 0.0));
                0.0
            }
            Some((fe, se, dea)) => {
                let f = (2.0 * v + (self.fast - 1.0) * fe) / (self.fast + 1.0);
                let s = (2.0 * v + (self.slow - 1.0) * se) / (self.slow + 1.0);
                let dif = f - s;
                let dea = (2.0 * dif + (self.signal - 1.0) * dea) / (self.signal + 1.0);
                self.state = Some((f, s, dea));
                2.0 * (dif - dea)
            }
        }
    }
}

/// A stroke as chan.py's `CBi` holds it: merged-bar indices of its two fractals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BiRec {
    pub begin: usize,
    pub end: usize,
    pub up: bool,
    pub is_sure: bool,
    pub used_sure: bool,
}

impl BiRec {
    pub fn end_val(&self, k: &[Klc]) -> f64 {
        if self.up { k[self.end].high } else { k[self.end].low }
    }
    pub fn begin_val(&self, k: &[Klc]) -> f64 {
        if self.up { k[self.begin].low } else { k[self.begin].high }
    }
}

/// Merged bars, fractals and confirmed strokes, fed one raw bar at a time.
#[derive(Debug, Clone)]
pub(crate) struct KlineState {
    pub raws: Vec<Raw>,
    pub klcs: Vec<Klc>,
    pub bis: Vec<BiRec>,
    /// Lowest index of `bis` changed (or removed) since the incremental engine last looked: the
    /// stroke rules only ever touch the last two strokes.
    pub bis_low_water: usize,
    free: Vec<usize>,
    macd: Macd,
}

impl KlineState {
    pub fn new(macd: &MacdConfig) -> KlineState {
        KlineState {
            raws: Vec::new(),
            klcs: Vec::new(),
            bis: Vec::new(),
            bis_low_water: 0,
            free: Vec::new(),
            macd: Macd::new(macd),
        }
    }

    /// chan.py `add_single_klu` for a validated bar.
    pub fn push(&mut self, time: i64, high: f64, low: f64, close: f64, cfg: &BiConfig) {
        let macd = self.macd.add(close);
        let i = self.raws.len();
        let r = Raw { time, high, low, macd };
        self.raws.push(r);
        let Some(last) = self.klcs.last_mut() else {
            self.klcs.push(Klc::new(i, &r, true));
            return;
        };
        let d = test_combine(last.high, last.low, high, low, false, None);
        if d == KDir::Combine {
            last.last = i;
            if last.up {
                if high != low || high != last.high {
                    last.high = last.high.max(high);
                    last.low = last.low.max(low);
                }
            } else if high != low || low != last.low {
                last.high = last.high.min(high);
                last.low = last.low.min(low);
            }
            if high == last.high {
                last.high_peak = i;
            }
            if low == last.low {
                last.low_peak = i;
            }
            last.raw_max_high = last.raw_max_high.max(high);
            last.raw_min_low = last.raw_min_low.min(low);
            return;
        }
        self.klcs.push(Klc::new(i, &r, d == KDir::Up));
        let n = self.klcs.len();
        if n >= 3 {
            let (pre, cur, next) = (self.klcs[n - 3], self.klcs[n - 2], self.klcs[n - 1]);
            let fx = if pre.high < cur.high && next.high < cur.high && pre.low < cur.low && next.low < cur.low {
                Fx::Top
            } else if pre.high > cur.high && next.high > cur.high && pre.low > cur.low && next.low > cur.low {
                Fx::Bottom
            } else {
                Fx::None
            };
            self.klcs[n - 2].fx = fx;
        }
        if n >= 2 {
            self.bis_low_water = self.bis_low_water.min(self.bis.len().saturating_sub(2));
            update_bi_sure(&mut self.bis, &mut self.free, &self.klcs, n - 2, cfg);
        }
    }

    /// The strokes chan.py shows after its last bar, the confirmed ones plus the provisional
    /// (virtual) stroke `try_add_virtual_bi` draws to the last merged bar, from index `s` on, for
    /// `s = bis.len() - 3` (or 0): the provisional stroke only touches the last two confirmed
    /// strokes, so the rest are `bis[..s]`.
    pub fn virtual_tail(&self, cfg: &BiConfig, bis: &mut Vec<BiRec>) -> usize {
        let s = self.bis.len().saturating_sub(3);
        bis.clear();
        bis.extend_from_slice(&self.bis[s..]);
        if let Some(last) = self.klcs.len().checked_sub(1) {
            try_add_virtual_bi(bis, &self.klcs, last, cfg);
        }
        s
    }
}

fn update_bi_sure(bis: &mut Vec<BiRec>, free: &mut Vec<usize>, k: &[Klc], klc: usize, cfg: &BiConfig) {
    if k[klc].fx == Fx::None {
        return;
    }
    let Some(last) = bis.last().copied() else {
        // try_create_first_bi
        for &e in free.iter() {
            if k[e].fx == k[klc].fx {
                continue;
            }
            if can_make_bi(k, klc, e, false, cfg) {
                add_bi(bis, k, e, klc, true);
                free.clear();
                return;
            }
        }
        free.push(klc);
        return;
    };
    if k[klc].fx == k[last.end].fx {
        try_update_end(bis, k, klc, false);
    } else if can_make_bi(k, klc, last.end, false, cfg) {
        add_bi(bis, k, last.end, klc, true);
    } else {
        update_peak(bis, k, klc, false, cfg);
    }
}

fn add_bi(bis: &mut Vec<BiRec>, k: &[Klc], begin: usize, end: usize, is_sure: bool) {
    let up = k[begin].fx == Fx::Bottom;
    bis.push(BiRec { begin, end, up, is_sure, used_sure: is_sure });
}

fn try_update_end(bis: &mut [BiRec], k: &[Klc], klc: usize, for_virtual: bool) -> bool {
    let Some(last) = bis.last_mut() else { return false };
    let top = if for_virtual { k[klc].up } else { k[klc].fx == Fx::Top };
    let bottom = if for_virtual { !k[klc].up } else { k[klc].fx == Fx::Bottom };
    let ev = last.end_val(k);
    if (last.up && top && k[klc].high >= ev) || (!last.up && bottom && k[klc].low <= ev) {
        last.end = klc;
        if for_virtual {
            last.used_sure = last.is_sure;
            last.is_sure = false;
        }
        true
    } else {
        false
    }
}

fn can_update_peak(bis: &[BiRec], k: &[Klc], klc: usize, cfg: &BiConfig) -> bool {
    if cfg.allow_sub_peak || bis.len() < 2 {
        return false;
    }
    let last = bis[bis.len() - 1];
    let prev = bis[bis.len() - 2];
    if !last.up && k[klc].high < last.begin_val(k) {
        return false;
    }
    if last.up && k[klc].low > last.begin_val(k) {
        return false;
    }
    if !end_is_peak(k, prev.begin, klc) {
        return false;
    }
    if !last.up && last.end_val(k) < prev.begin_val(k) {
        return false;
    }
    if last.up && last.end_val(k) > prev.begin_val(k) {
        return false;
    }
    true
}

fn update_peak(bis: &mut Vec<BiRec>, k: &[Klc], klc: usize, for_virtual: bool, cfg: &BiConfig) -> bool {
    if !can_update_peak(bis, k, klc, cfg) {
        return false;
    }
    let Some(tmp) = bis.pop() else { return false };
    if !try_update_end(bis, k, klc, for_virtual) {
        bis.push(tmp);
        false
    } else {
        true
    }
}

fn try_add_virtual_bi(bis: &mut Vec<BiRec>, k: &[Klc], klc: usize, cfg: &BiConfig) {
    let Some(last) = bis.last_mut() else { return };
    if klc == last.end {
        return;
    }
    if (last.up && k[klc].high >= k[last.end].high) || (!last.up && k[klc].low <= k[last.end].low) {
        last.end = klc;
        last.used_sure = last.is_sure;
        last.is_sure = false;
        return;
    }
    let mut t = klc;
    while let Some(last) = bis.last().copied()
        && t > last.end
    {
        if can_make_bi(k, t, last.end, true, cfg) {
            add_bi(bis, k, last.end, t, false);
            return;
        } else if update_peak(bis, k, t, true, cfg) {
            return;
        }
        t -= 1;
    }
}

fn satisfy_span(k: &[Klc], klc: usize, last_end: usize, cfg: &BiConfig) -> bool {
    match cfg.span_rule {
        SpanRule::MinMergedBars { min_bi_len } => {
            let (a, b) = (&k[last_end], &k[klc]);
            let include = (a.high > b.high && a.low < b.low) || (a.high < b.high && a.low > b.low);
            klc - last_end + 3 >= min_bi_len && !include
        }
        SpanRule::ChanPy => {
            let span = klc_span(k, klc, last_end, cfg);
            if cfg.is_strict {
                return span >= 4;
            }
            let mut cnt = 0;
            let mut t = last_end + 1;
            while t < k.len() {
                cnt += k[t].last - k[t].first + 1;
                if t + 1 >= k.len() {
                    return false;
                }
                if t + 1 < klc {
                    t += 1;
                } else {
                    break;
                }
            }
            span >= 3 && cnt >= 3
        }
    }
}

fn klc_span(k: &[Klc], klc: usize, last_end: usize, cfg: &BiConfig) -> usize {
    let mut span = klc - last_end;
    if !cfg.gap_as_kl || span >= 4 {
        return span;
    }
    let mut t = last_end;
    while t < klc && t + 1 < k.len() {
        let (a, b) = (&k[t], &k[t + 1]);
        // has_gap_with_next: no overlap, touching counts as overlap.
        if !(b.raw_max_high >= a.raw_min_low && a.raw_max_high >= b.raw_min_low) {
            span += 1;
        }
        t += 1;
    }
    span
}

pub(crate) fn can_make_bi(k: &[Klc], klc: usize, last_end: usize, for_virtual: bool, cfg: &BiConfig) -> bool {
    if klc <= last_end {
        return false;
    }
    let span_ok = match cfg.algo {
        BiAlgo::Fx => true,
        BiAlgo::Normal => satisfy_span(k, klc, last_end, cfg),
    };
    if !span_ok {
        return false;
    }
    if !check_fx_valid(k, last_end, klc, cfg.fx_check, for_virtual) {
        return false;
    }
    if cfg.end_is_peak && !end_is_peak(k, last_end, klc) {
        return false;
    }
    true
}

/// chan.py `CKLine.check_fx_valid` with `self = a`, `item2 = b`.
fn check_fx_valid(k: &[Klc], a: usize, b: usize, method: FxCheck, for_virtual: bool) -> bool {
    if a == 0 || a + 1 >= k.len() || b == 0 {
        return false;
    }
    let (ka, kb) = (&k[a], &k[b]);
    let (apre, anext, bpre) = (&k[a - 1], &k[a + 1], &k[b - 1]);
    let bnext = k.get(b + 1);
    match ka.fx {
        Fx::Top => {
            let (item2_high, self_low) = match method {
                FxCheck::Half => (bpre.high.max(kb.high), ka.low.min(anext.low)),
                FxCheck::Loss => (kb.high, ka.low),
                FxCheck::Strict | FxCheck::Totally => {
                    let h = if for_virtual {
                        bpre.high.max(kb.high)
                    } else {
                        let Some(n) = bnext else { return false };
                        bpre.high.max(kb.high).max(n.high)
                    };
                    (h, apre.low.min(ka.low).min(anext.low))
                }
            };
            if method == FxCheck::Totally { ka.low > item2_high } else { ka.high > item2_high && kb.low < self_low }
        }
        Fx::Bottom => {
            let (item2_low, cur_high) = match method {
                FxCheck::Half => (bpre.low.min(kb.low), ka.high.max(anext.high)),
                FxCheck::Loss => (kb.low, ka.high),
                FxCheck::Strict | FxCheck::Totally => {
                    let l = if for_virtual {
                        bpre.low.min(kb.low)
                    } else {
                        let Some(n) = bnext else { return false };
                        bpre.low.min(kb.low).min(n.low)
                    };
                    (l, apre.high.max(ka.high).max(anext.high))
                }
            };
            if method == FxCheck::Totally { ka.high < item2_low } else { ka.low < item2_low && kb.high > cur_high }
        }
        Fx::None => false,
    }
}

/// chan.py `end_is_peak`: nothing between the two fractals goes beyond the end.
fn end_is_peak(k: &[Klc], last_end: usize, cur_end: usize) -> bool {
    match k[last_end].fx {
        Fx::Bottom => {
            let thr = k[cur_end].high;
            k[last_end + 1..cur_end.max(last_end + 1)].iter().all(|x| x.high <= thr)
        }
        Fx::Top => {
            let thr = k[cur_end].low;
            k[last_end + 1..cur_end.max(last_end + 1)].iter().all(|x| x.low >= thr)
        }
        Fx::None => true,
    }
}
