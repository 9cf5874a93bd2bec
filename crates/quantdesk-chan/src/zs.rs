//! Pivots (中枢): chan.py `CZSList.cal_bi_zs` (normal algorithm), `CZS` and `update_zs_in_seg`.

use crate::config::{ZsCombineMode, ZsConfig};
use crate::seg::{LineSet, SegList};

#[derive(Debug, Clone)]
pub(crate) struct Zs {
    /// Live indices of the first and last line.
    pub begin: usize,
    pub end: usize,
    pub begin_klu: usize,
    pub end_klu: usize,
    /// ZD and ZG (chan.py `low`/`high`).
    pub low: f64,
    pub high: f64,
    pub peak_low: f64,
    pub peak_high: f64,
    pub is_sure: bool,
    pub bi_in: Option<usize>,
    pub bi_out: Option<usize>,
    /// How many pivots were combined into this one (1 when none).
    pub parts: usize,
}

impl Zs {
    pub fn is_one_bi(&self) -> bool {
        self.begin == self.end
    }

    fn new(ls: &LineSet, lst: &[usize], is_sure: bool) -> Zs {
        let mut z = Zs {
            begin: lst[0],
            end: lst[0],
            begin_klu: ls.get(lst[0]).begin_klu,
            end_klu: 0,
            low: lst.iter().map(|&i| ls.get(i).low).fold(f64::NEG_INFINITY, f64::max),
            high: lst.iter().map(|&i| ls.get(i).high).fold(f64::INFINITY, f64::min),
            peak_low: f64::INFINITY,
            peak_high: f64::NEG_INFINITY,
            is_sure,
            bi_in: None,
            bi_out: None,
            parts: 1,
        };
        for &i in lst {
            z.update_end(ls, i);
        }
        z
    }

    fn update_end(&mut self, ls: &LineSet, i: usize) {
        let l = ls.get(i);
        self.end = i;
        self.end_klu = l.end_klu;
        if l.low < self.peak_low {
            self.peak_low = l.low;
        }
        if l.high > self.peak_high {
            self.peak_high = l.high;
        }
    }

    pub fn in_range(&self, low: f64, high: f64) -> bool {
        has_overlap(self.low, self.high, low, high, false)
    }

    fn try_add_to_end(&mut self, ls: &LineSet, i: usize) -> bool {
        let l = ls.get(i);
        if !self.in_range(l.low, l.high) {
            return false;
        }
        if self.is_one_bi() {
            let b = ls.get(self.begin);
            self.low = b.low.max(l.low);
            self.high = b.high.min(l.high);
        }
        self.update_end(ls, i);
        true
    }
}

pub(crate) fn has_overlap(l1: f64, h1: f64, l2: f64, h2: f64, equal: bool) -> bool {
    if equal { h2 >= l1 && h1 >= l2 } else { h2 > l1 && h1 > l2 }
}

struct ZsList<'a> {
    ls: &'a LineSet,
    seg_idx: &'a [usize],
    cfg: &'a ZsConfig,
    zs: Vec<Zs>,
    free: Vec<usize>,
}

impl ZsList<'_> {
    fn add_to_free(&mut self, i: usize, is_sure: bool) {
        if self.free.last().is_some_and(|&f| self.ls.get(f).idx == self.ls.get(i).idx) {
            self.free.pop();
        }
        self.free.push(i);
        let lst: &[usize] = if self.cfg.one_bi_zs {
            &self.free
        } else if self.free.len() == 1 {
            return;
        } else {
            &self.free[self.free.len() - 2..]
        };
        let min_high = lst.iter().map(|&i| self.ls.get(i).high).fold(f64::INFINITY, f64::min);
        let max_low = lst.iter().map(|&i| self.ls.get(i).low).fold(f64::NEG_INFINITY, f64::max);
        if min_high > max_low {
            let z = Zs::new(self.ls, lst, is_sure);
            if self.ls.get(z.begin).idx > 0 {
                self.zs.push(z);
                self.free.clear();
                self.try_combine();
            }
        }
    }

    fn update(&mut self, i: usize, is_sure: bool) {
        if self.free.is_empty()
            && let Some(last) = self.zs.last_mut()
            && last.try_add_to_end(self.ls, i)
        {
            self.try_combine();
            return;
        }
        self.add_to_free(i, is_sure);
    }

    fn add_from_range(&mut self, range: std::ops::Range<usize>, seg_up: bool, is_sure: bool) {
        let mut dealt = 0;
        for i in range {
            if self.ls.get(i).up == seg_up {
                continue;
            }
            if dealt < 1 {
                self.add_to_free(i, is_sure);
                dealt += 1;
            } else {
                self.update(i, is_sure);
            }
        }
    }

    fn try_combine(&mut self) {
        if !self.cfg.need_combine {
            return;
        }
        while self.zs.len() >= 2 {
            let n = self.zs.len();
            let (a, b) = (&self.zs[n - 2], &self.zs[n - 1]);
            if b.is_one_bi() || self.seg_idx[a.begin] != self.seg_idx[b.begin] {
                return;
            }
            let ok = match self.cfg.combine_mode {
                ZsCombineMode::Zs => has_overlap(a.low, a.high, b.low, b.high, true),
                ZsCombineMode::Peak => has_overlap(a.peak_low, a.peak_high, b.peak_low, b.peak_high, false),
            };
            if !ok {
                return;
            }
            let Some(b) = self.zs.pop() else { return };
            let a = &mut self.zs[n - 2];
            a.parts += 1;
            a.low = a.low.min(b.low);
            a.high = a.high.max(b.high);
            a.peak_low = a.peak_low.min(b.peak_low);
            a.peak_high = a.peak_high.max(b.peak_high);
            a.end_klu = b.end_klu;
            a.bi_out = b.bi_out;
            a.end = b.end;
        }
    }
}

/// Pivots over `ls` given its segments, kept across updates.
///
/// chan.py builds the pivots segment by segment with a fresh free list each time, and a pivot only
/// absorbs or combines with pivots of its own segment (`seg_idx` differs otherwise), so the pivots
/// of a segment depend only on that segment (its range, direction, `is_sure`) and its lines. The
/// pivots of unchanged segments over unchanged lines are kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZsCache {
    pub zs: Vec<Zs>,
    /// Per live segment (and one past the last, for the pivots of the lines after it): the index
    /// of its first pivot. The pivots of live segment `p` are `start[p]..start[p + 1]` (chan.py
    /// `update_zs_in_seg`).
    pub start: Vec<usize>,
}

impl ZsCache {
    /// `common`: leading live segments unchanged since the last update; `first_changed`: lines
    /// below it unchanged. Returns the number of leading segments kept (unchanged, on unchanged
    /// lines) and the index of the first pivot recomputed.
    pub fn update(
        &mut self,
        ls: &LineSet,
        segs: &SegList,
        cfg: &ZsConfig,
        common: usize,
        first_changed: usize,
    ) -> (usize, usize) {
        let nseg = segs.live.len();
        let q = common.min(nseg).min(self.start.len().saturating_sub(1));
        // A kept pivot's `bi_out` (the line after it, if any) must not change either: the line
        // after the segment is below first_changed, so it existed before and exists now.
        let q = segs.live[..q].partition_point(|&a| segs.arena[a].end + 1 < first_changed);
        let z0 = self.start.get(q).copied().unwrap_or(0);
        self.zs.truncate(z0);
        self.start.truncate(q);
        let mut zl = ZsList { ls, seg_idx: &segs.seg_idx, cfg, zs: std::mem::take(&mut self.zs), free: Vec::new() };
        for &a in &segs.live[q..] {
            self.start.push(zl.zs.len());
            let s = segs.arena[a];
            zl.free.clear();
            zl.add_from_range(s.start..(s.end + 1).max(s.start), s.up, s.is_sure);
        }
        self.start.push(zl.zs.len());
        if let Some(last) = segs.last() {
            zl.free.clear();
            zl.add_from_range((last.end + 1).min(ls.len())..ls.len(), !last.up, false);
        }
        self.zs = zl.zs;
        // update_zs_in_seg: with at least one segment every pivot is visited.
        if nseg > 0 {
            let n = ls.len();
            for z in &mut self.zs[z0..] {
                z.bi_in = z.begin.checked_sub(1);
                if z.end + 1 < n {
                    z.bi_out = Some(z.end + 1);
                }
            }
        }
        (q, z0)
    }

    /// The pivots of the segment with arena id `a` (none if it is not live).
    pub fn of_seg(&self, segs: &SegList, a: usize) -> std::ops::Range<usize> {
        let p = segs.arena[a].idx;
        if segs.live.get(p) == Some(&a) { self.start[p]..self.start[p + 1] } else { 0..0 }
    }
}
