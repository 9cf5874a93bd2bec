//! Buy/sell points: chan.py `CBSPointList.cal` on a fresh list.

use std::collections::HashMap;

use crate::config::{BspClass, BspConfig, MacdAlgo, PointConfig};
use crate::seg::{Line, LineSet, SegList, SegRec};
use crate::zs::{Zs, has_overlap};

#[derive(Debug, Clone)]
pub(crate) struct Bsp {
    /// Live index of the line whose end is the point.
    pub line: usize,
    pub klu: usize,
    pub is_buy: bool,
    pub types: Vec<BspClass>,
    /// The pivot the first class was measured against, if any.
    pub zs: Option<usize>,
}

pub(crate) struct Ctx<'a> {
    pub ls: &'a LineSet,
    pub segs: &'a SegList,
    pub zs: &'a [Zs],
    pub seg_zs: &'a [Vec<usize>],
    pub cfg: &'a BspConfig,
    pub metric: &'a dyn Fn(&Line, MacdAlgo, bool) -> f64,
}

struct State {
    lst: Vec<Bsp>,
    /// Stored (target) points by line (chan.py `bsp_store_flat_dict`).
    dict: HashMap<usize, usize>,
}

impl Ctx<'_> {
    fn zs_of(&self, arena_id: usize) -> &[usize] {
        &self.seg_zs[arena_id]
    }
    fn multi_cnt(&self, a: usize) -> usize {
        self.zs_of(a).iter().filter(|&&z| !self.zs[z].is_one_bi()).count()
    }
    fn first_multi(&self, a: usize) -> Option<usize> {
        self.zs_of(a).iter().copied().find(|&z| !self.zs[z].is_one_bi())
    }
    fn final_multi(&self, a: usize) -> Option<usize> {
        self.zs_of(a).iter().rev().copied().find(|&z| !self.zs[z].is_one_bi())
    }
    fn nseg(&self) -> usize {
        self.segs.live.len()
    }

    fn add_bs(&self, st: &mut State, t: BspClass, line: usize, mut is_target: bool, zs: Option<usize>) {
        let l = self.ls.get(line);
        let is_buy = l.down();
        if let Some(&b) = st.dict.get(&line) {
            st.lst[b].types.push(t);
            return;
        }
        if !self.cfg.get(is_buy).target_types.contains(&t) {
            is_target = false;
        }
        let is1 = matches!(t, BspClass::T1 | BspClass::T1p);
        if !(is_target || is1) {
            return;
        }
        if is_target {
            st.dict.insert(line, st.lst.len());
            st.lst.push(Bsp { line, klu: l.end_klu, is_buy, types: vec![t], zs });
        }
    }

    fn bs1(&self, st: &mut State, a: usize) {
        let seg = self.segs.arena[a];
        let conf = self.cfg.get(!seg.up);
        let zs_lst = self.zs_of(a);
        let zs_cnt = if conf.bsp1_only_multibi_zs { self.multi_cnt(a) } else { zs_lst.len() };
        let is_target = conf.min_zs_cnt == 0 || zs_cnt >= conf.min_zs_cnt;
        if let Some(&lz) = zs_lst.last() {
            let z = &self.zs[lz];
            let last_bi = z.end;
            if !z.is_one_bi()
                && (z.bi_out.is_some_and(|o| o >= seg.end) || last_bi >= seg.end)
                && z.bi_in.is_some_and(|bin| seg.end as isize - bin as isize > 2)
            {
                self.treat_bsp1(st, &seg, lz, conf, is_target);
                return;
            }
        }
        self.treat_pz_bsp1(st, &seg, conf, is_target);
    }

    fn treat_bsp1(&self, st: &mut State, seg: &SegRec, lz: usize, conf: &PointConfig, mut is_target: bool) {
        let z = &self.zs[lz];
        let ls = self.ls;
        // out_bi_is_peak
        let break_peak = match z.bi_out {
            None => false,
            Some(o) => {
                let out = ls.get(o);
                (z.begin..=z.end).take_while(|&b| b <= seg.end).all(|b| {
                    let l = ls.get(b);
                    !((out.down() && l.low < out.low) || (out.up && l.high > out.high))
                })
            }
        };
        if conf.bs1_peak && !break_peak {
            is_target = false;
        }
        let out = ls.get(seg.end);
        let breaks = (out.down() && out.low < z.low) || (out.up && out.high > z.high);
        let diver = breaks
            && (conf.divergence_rate > 100.0 || {
                let Some(bin) = z.bi_in else { return };
                let in_m = (self.metric)(ls.get(bin), conf.macd_algo, false);
                let out_m = (self.metric)(out, conf.macd_algo, true);
                out_m <= conf.divergence_rate * in_m
            });
        if !diver {
            is_target = false;
        }
        self.add_bs(st, BspClass::T1, seg.end, is_target, Some(lz));
    }

    fn treat_pz_bsp1(&self, st: &mut State, seg: &SegRec, conf: &PointConfig, mut is_target: bool) {
        let ls = self.ls;
        let n = ls.len() as isize;
        let mut p = seg.end as isize - 2;
        if p < 0 {
            p += n; // Python's negative indexing
        }
        if p < 0 || p >= n {
            return;
        }
        let (last, pre) = (ls.get(seg.end), ls.get(p as usize));
        let si = &self.segs.seg_idx;
        if si[seg.end] != si[p as usize] || last.up != seg.up {
            return;
        }
        if last.down() && last.low > pre.low {
            return;
        }
        if last.up && last.high < pre.high {
            return;
        }
        let in_m = (self.metric)(pre, conf.macd_algo, false);
        let out_m = (self.metric)(last, conf.macd_algo, true);
        // NaN (e.g. 0 * inf) is not a divergence, as in Python.
        let is_diver = out_m <= conf.divergence_rate * in_m;
        if !is_diver {
            is_target = false;
        }
        self.add_bs(st, BspClass::T1p, seg.end, is_target, None);
    }

    fn bs2(&self, st: &mut State, a: usize) {
        let ls = self.ls;
        let seg = self.segs.arena[a];
        let own = &self.cfg.get(!seg.up).target_types;
        if !own.contains(&BspClass::T2) && !own.contains(&BspClass::T2s) {
            return;
        }
        let (conf, bsp1_idx, break_bi, bsp2_bi);
        if self.nseg() > 1 {
            conf = self.cfg.get(!seg.up);
            bsp1_idx = seg.end as isize;
            if seg.end + 2 >= ls.len() {
                return;
            }
            break_bi = seg.end + 1;
            bsp2_bi = seg.end + 2;
        } else {
            conf = self.cfg.get(seg.up);
            bsp1_idx = -1;
            if ls.len() == 1 {
                return;
            }
            bsp2_bi = 1;
            break_bi = 0;
        }
        if conf.bsp2_follow_1 && !(bsp1_idx >= 0 && st.dict.contains_key(&(bsp1_idx as usize))) {
            return;
        }
        let (b2, br) = (ls.get(bsp2_bi), ls.get(break_bi));
        let retrace = b2.amp() / br.amp();
        if retrace <= conf.max_bs2_rate {
            self.add_bs(st, BspClass::T2, bsp2_bi, true, None);
        } else if conf.bsp2s_follow_2 {
            return;
        }
        if !own.contains(&BspClass::T2s) {
            return;
        }
        self.bs2s(st, bsp2_bi, break_bi, conf);
    }

    fn bs2s(&self, st: &mut State, bsp2_bi: usize, break_bi: usize, conf: &PointConfig) {
        let ls = self.ls;
        let si = &self.segs.seg_idx;
        let nseg = self.nseg() as isize;
        let b2 = ls.get(bsp2_bi);
        let br = ls.get(break_bi);
        let mut bias = 2;
        let (mut low, mut high) = (0.0, 0.0);
        while bsp2_bi + bias < ls.len() {
            let si_ = bsp2_bi + bias;
            let s = ls.get(si_);
            if conf.max_bsp2s_lv.is_some_and(|lv| bias / 2 > lv) {
                break;
            }
            let (a, b) = (si[si_] as isize, si[bsp2_bi] as isize);
            if a != b
                && (a < nseg - 1
                    || a - b >= 2
                    || self.segs.live.get(b as usize).is_some_and(|&x| self.segs.arena[x].is_sure))
            {
                break;
            }
            if bias == 2 {
                if !has_overlap(b2.low, b2.high, s.low, s.high, false) {
                    break;
                }
                low = b2.low.max(s.low);
                high = b2.high.min(s.high);
            } else if !has_overlap(low, high, s.low, s.high, false) {
                break;
            }
            if (s.down() && s.low < br.low) || (s.up && s.high > br.high) {
                break;
            }
            let retrace = (s.end_val - br.end_val).abs() / br.amp();
            if retrace > conf.max_bs2_rate {
                break;
            }
            self.add_bs(st, BspClass::T2s, si_, true, None);
            bias += 2;
        }
    }

    fn bs3(&self, st: &mut State, a: usize) {
        let seg = self.segs.arena[a];
        let own = &self.cfg.get(!seg.up).target_types;
        if !own.contains(&BspClass::T3a) && !own.contains(&BspClass::T3b) {
            return;
        }
        let (conf, bsp1_bi, bsp1_idx, next_seg, next_seg_idx);
        if self.nseg() > 1 {
            bsp1_bi = Some(seg.end);
            bsp1_idx = seg.end as isize;
            conf = self.cfg.get(!seg.up);
            next_seg_idx = seg.idx + 1;
            next_seg = seg.next;
        } else {
            next_seg = Some(a);
            next_seg_idx = seg.idx;
            bsp1_bi = None;
            bsp1_idx = -1;
            conf = self.cfg.get(seg.up);
        }
        if conf.bsp3_follow_1 && !(bsp1_idx >= 0 && st.dict.contains_key(&(bsp1_idx as usize))) {
            return;
        }
        if let Some(ns) = next_seg {
            self.bs3_after(st, ns, conf, bsp1_idx, next_seg_idx);
        }
        self.bs3_before(st, a, next_seg, bsp1_bi, conf, next_seg_idx);
    }

    fn bs3_after(&self, st: &mut State, ns: usize, conf: &PointConfig, bsp1_idx: isize, next_seg_idx: usize) {
        let ls = self.ls;
        let next_seg = self.segs.arena[ns];
        let Some(fz) = self.first_multi(ns) else { return };
        let z = &self.zs[fz];
        if conf.strict_bsp3 && z.bi_in.map(|x| x as isize) != Some(bsp1_idx + 1) {
            return;
        }
        let Some(out) = z.bi_out else { return };
        if out + 1 >= ls.len() {
            return;
        }
        let b3 = out + 1;
        let nseg = self.nseg();
        match self.segs.parent[b3] {
            None => {
                if next_seg.idx + 1 != nseg {
                    return;
                }
            }
            Some(p) => {
                let ps = self.segs.arena[p];
                if ps.idx != next_seg.idx && ps.bi_cnt() >= 3 {
                    return;
                }
            }
        }
        let l = ls.get(b3);
        if l.up == next_seg.up {
            return;
        }
        if self.segs.seg_idx[b3] != next_seg_idx && next_seg_idx + 2 < nseg {
            return;
        }
        if (l.down() && l.low < z.high) || (l.up && l.high > z.low) {
            return;
        }
        let peak = (l.down() && l.high >= z.peak_high) || (l.up && l.low <= z.peak_low);
        if conf.bsp3_peak && !peak {
            return;
        }
        self.add_bs(st, BspClass::T3a, b3, true, Some(fz));
    }

    fn bs3_before(
        &self,
        st: &mut State,
        a: usize,
        next_seg: Option<usize>,
        bsp1_bi: Option<usize>,
        conf: &PointConfig,
        next_seg_idx: usize,
    ) {
        let ls = self.ls;
        let Some(cz) = self.final_multi(a) else { return };
        let Some(b1) = bsp1_bi else { return };
        let z = &self.zs[cz];
        if conf.strict_bsp3 && z.bi_out != Some(b1) {
            return;
        }
        let end_idx = self.bsp3_end_idx(next_seg);
        let nseg = self.nseg();
        let mut i = b1 + 2;
        while i < ls.len() {
            if i as f64 > end_idx {
                break;
            }
            if self.segs.seg_idx[i] != next_seg_idx && self.segs.seg_idx[i] + 1 < nseg {
                break;
            }
            let l = ls.get(i);
            if !((l.down() && l.low < z.high) || (l.up && l.high > z.low)) {
                self.add_bs(st, BspClass::T3b, i, true, Some(cz));
                break;
            }
            i += 2;
        }
    }

    fn bsp3_end_idx(&self, seg: Option<usize>) -> f64 {
        let Some(a) = seg else { return f64::INFINITY };
        let s = self.segs.arena[a];
        if self.multi_cnt(a) == 0 && s.next.is_none() {
            return f64::INFINITY;
        }
        let mut end = s.end as f64 - 1.0;
        for &z in self.zs_of(a) {
            let z = &self.zs[z];
            if z.is_one_bi() {
                continue;
            }
            if let Some(o) = z.bi_out {
                end = o as f64;
                break;
            }
        }
        end
    }
}

/// All buy/sell points, in chan.py's order of discovery.
pub(crate) fn build_bsp(ctx: &Ctx<'_>) -> Vec<Bsp> {
    let mut st = State { lst: Vec::new(), dict: HashMap::new() };
    for &a in &ctx.segs.live {
        ctx.bs1(&mut st, a);
    }
    for &a in &ctx.segs.live {
        ctx.bs2(&mut st, a);
    }
    for &a in &ctx.segs.live {
        ctx.bs3(&mut st, a);
    }
    st.lst
}
