//! Buy/sell points: chan.py `CBSPointList.cal` on a fresh list, kept across updates by
//! [`BspCache`].

use std::cell::Cell;
use std::collections::HashMap;

use crate::config::{BspClass, BspConfig, MacdAlgo, PointConfig};
use crate::seg::{Line, LineSet, SegList, SegRec};
use crate::zs::{Zs, ZsCache, has_overlap};

#[derive(Debug, Clone, PartialEq)]
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
    pub zsc: &'a ZsCache,
    pub cfg: &'a BspConfig,
    pub metric: &'a dyn Fn(&Line, MacdAlgo, bool) -> f64,
    /// Read horizons of the rules of one segment (see [`BspCache`]): one past the highest segment
    /// position read, and one past the highest `t` of a test `nseg > t`. Lines read are recorded
    /// by the [`LineSet`] itself.
    pub hz_pos: Cell<usize>,
    pub hz_nseg: Cell<usize>,
}

/// One call of chan.py `add_bs`, as recorded for replay.
#[derive(Debug, Clone, Copy)]
struct Ev {
    line: usize,
    t: BspClass,
    is_target: bool,
    zs: Option<usize>,
}

struct State {
    lst: Vec<Bsp>,
    /// Stored (target) points by line (chan.py `bsp_store_flat_dict`).
    dict: HashMap<usize, usize>,
    /// The calls of `add_bs` made by the segment being evaluated.
    evs: Vec<Ev>,
}

impl State {
    /// chan.py `add_bs` once the target test is folded into `is_target`.
    fn apply(&mut self, ls: &LineSet, e: Ev) {
        if let Some(&b) = self.dict.get(&e.line) {
            self.lst[b].types.push(e.t);
            return;
        }
        if e.is_target {
            let l = ls.get(e.line);
            self.dict.insert(e.line, self.lst.len());
            self.lst.push(Bsp { line: e.line, klu: l.end_klu, is_buy: l.down(), types: vec![e.t], zs: e.zs });
        }
    }
}

impl Ctx<'_> {
    fn mark_pos(&self, p: usize) {
        if p >= self.hz_pos.get() {
            self.hz_pos.set(p.saturating_add(1));
        }
    }
    /// chan.py `len(seg_list) > t`, recorded.
    fn nseg_gt(&self, t: usize) -> bool {
        if t >= self.hz_nseg.get() {
            self.hz_nseg.set(t.saturating_add(1));
        }
        self.nseg() > t
    }
    /// Whether line `i` exists, recorded.
    fn has_line(&self, i: usize) -> bool {
        if i < self.ls.len() {
            self.ls.mark(i);
            true
        } else {
            self.ls.mark_end();
            false
        }
    }
    /// `seg_idx` of line `i` (fixed with the line once the segment holding it is).
    fn sidx(&self, i: usize) -> usize {
        self.ls.mark(i);
        self.segs.seg_idx[i]
    }
    /// A segment by arena id: the live position it holds, or past the end for a dropped one.
    fn seg(&self, a: usize) -> SegRec {
        let s = self.segs.arena[a];
        if self.segs.live.get(s.idx) == Some(&a) {
            self.mark_pos(s.idx);
        } else {
            self.mark_pos(usize::MAX - 1);
        }
        s
    }
    /// A pivot; its `bi_out` depends on whether the line after it exists.
    fn z(&self, z: usize) -> &Zs {
        let r = &self.zs[z];
        self.ls.mark(r.end + 1);
        r
    }
    fn zs_of(&self, arena_id: usize) -> std::ops::Range<usize> {
        self.seg(arena_id);
        self.zsc.of_seg(self.segs, arena_id)
    }
    fn multi_cnt(&self, a: usize) -> usize {
        self.zs_of(a).filter(|&z| !self.z(z).is_one_bi()).count()
    }
    fn first_multi(&self, a: usize) -> Option<usize> {
        self.zs_of(a).find(|&z| !self.z(z).is_one_bi())
    }
    fn final_multi(&self, a: usize) -> Option<usize> {
        self.zs_of(a).rev().find(|&z| !self.z(z).is_one_bi())
    }
    fn nseg(&self) -> usize {
        self.segs.live.len()
    }

    fn add_bs(&self, st: &mut State, t: BspClass, line: usize, mut is_target: bool, zs: Option<usize>) {
        let l = self.ls.get(line);
        if !self.cfg.get(l.down()).target_types.contains(&t) {
            is_target = false;
        }
        let e = Ev { line, t, is_target, zs };
        st.evs.push(e);
        st.apply(self.ls, e);
    }

    fn bs1(&self, st: &mut State, a: usize) {
        let seg = self.seg(a);
        let conf = self.cfg.get(!seg.up);
        let zs_lst = self.zs_of(a);
        let zs_cnt = if conf.bsp1_only_multibi_zs { self.multi_cnt(a) } else { zs_lst.len() };
        let is_target = conf.min_zs_cnt == 0 || zs_cnt >= conf.min_zs_cnt;
        if let Some(lz) = zs_lst.last() {
            let z = self.z(lz);
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
        let z = self.z(lz);
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
            // Python's negative indexing: with three lines or more, p lands after this segment
            // (it is one of the first two lines), on a line of another segment, and the seg_idx
            // test below returns; only that there are three lines is read.
            if self.has_line(2) {
                return;
            }
            p += n;
        }
        if p < 0 || p >= n {
            return;
        }
        let (last, pre) = (ls.get(seg.end), ls.get(p as usize));
        if self.sidx(seg.end) != self.sidx(p as usize) || last.up != seg.up {
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
        let seg = self.seg(a);
        let own = &self.cfg.get(!seg.up).target_types;
        if !own.contains(&BspClass::T2) && !own.contains(&BspClass::T2s) {
            return;
        }
        let (conf, bsp1_idx, break_bi, bsp2_bi);
        if self.nseg_gt(1) {
            conf = self.cfg.get(!seg.up);
            bsp1_idx = seg.end as isize;
            if !self.has_line(seg.end + 2) {
                return;
            }
            break_bi = seg.end + 1;
            bsp2_bi = seg.end + 2;
        } else {
            conf = self.cfg.get(seg.up);
            bsp1_idx = -1;
            if !self.has_line(1) {
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
        let b2 = ls.get(bsp2_bi);
        let br = ls.get(break_bi);
        let mut bias = 2;
        let (mut low, mut high) = (0.0, 0.0);
        while self.has_line(bsp2_bi + bias) {
            let si_ = bsp2_bi + bias;
            let s = ls.get(si_);
            if conf.max_bsp2s_lv.is_some_and(|lv| bias / 2 > lv) {
                break;
            }
            let (a, b) = (self.sidx(si_), self.sidx(bsp2_bi));
            if a != b
                && (self.nseg_gt(a + 1)
                    || a as isize - b as isize >= 2
                    || self.segs.live.get(b).is_some_and(|&x| {
                        self.mark_pos(b);
                        self.segs.arena[x].is_sure
                    }))
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
        let seg = self.seg(a);
        let own = &self.cfg.get(!seg.up).target_types;
        if !own.contains(&BspClass::T3a) && !own.contains(&BspClass::T3b) {
            return;
        }
        let (conf, bsp1_bi, bsp1_idx, next_seg, next_seg_idx);
        if self.nseg_gt(1) {
            self.mark_pos(seg.idx + 1);
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
        let next_seg = self.seg(ns);
        let Some(fz) = self.first_multi(ns) else { return };
        let z = self.z(fz);
        if conf.strict_bsp3 && z.bi_in.map(|x| x as isize) != Some(bsp1_idx + 1) {
            return;
        }
        let Some(out) = z.bi_out else { return };
        if !self.has_line(out + 1) {
            return;
        }
        let b3 = out + 1;
        match self.segs.parent[b3] {
            None => {
                if self.nseg_gt(next_seg.idx + 1) || self.nseg() != next_seg.idx + 1 {
                    return;
                }
            }
            Some(p) => {
                let ps = self.seg(p);
                if ps.idx != next_seg.idx && ps.bi_cnt() >= 3 {
                    return;
                }
            }
        }
        let l = ls.get(b3);
        if l.up == next_seg.up {
            return;
        }
        if self.sidx(b3) != next_seg_idx && self.nseg_gt(next_seg_idx + 2) {
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
        let z = self.z(cz);
        if conf.strict_bsp3 && z.bi_out != Some(b1) {
            return;
        }
        let end_idx = self.bsp3_end_idx(next_seg);
        let mut i = b1 + 2;
        while self.has_line(i) {
            if i as f64 > end_idx {
                break;
            }
            if self.sidx(i) != next_seg_idx && self.nseg_gt(self.sidx(i) + 1) {
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
        let s = self.seg(a);
        if self.multi_cnt(a) == 0 && {
            self.mark_pos(s.idx + 1);
            s.next.is_none()
        } {
            return f64::INFINITY;
        }
        let mut end = s.end as f64 - 1.0;
        for z in self.zs_of(a) {
            let z = self.z(z);
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

/// Read horizon of the rules of the segments up to one position (cumulative).
#[derive(Debug, Clone, Copy, Default)]
struct Hz {
    line: usize,
    pos: usize,
    nseg: usize,
}

/// Buy/sell points kept across updates.
///
/// chan.py runs class 1 over all segments, then class 2, then class 3, each segment's rules
/// calling `add_bs` for lines at or after the segment's end (with more than one segment). The
/// calls of each (pass, segment) are recorded with the horizons of what the segment's rules read:
/// lines (through [`LineSet`]), segment positions, and the tests `nseg > t`. A leading segment
/// whose reads are all unchanged — lines below `stable_lines` (unchanged and held by unchanged
/// segments, so their `seg_idx` and `parent` are fixed), positions below `stable_segs`, and every
/// `t` below `stable_segs` (both the old and the new count exceed it) — makes the same calls. The
/// lookups a segment's rules make (`bsp_store_flat_dict` at its own end) only see calls for lines
/// at or after its end, which come from segments at or before it; so the calls of the unchanged
/// leading segments are the same, the points on lines before the first re-evaluated segment's end
/// are the same, and the points on later lines are rebuilt by replaying, pass by pass, the kept
/// calls for those lines and then the re-evaluated segments' calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct BspCache {
    /// Recorded calls per pass, and per pass and segment position the index of its first call.
    ev: [Vec<Ev>; 3],
    ev_start: [Vec<usize>; 3],
    hz: Vec<Hz>,
    /// Per segment position: one past the highest line any call of it or an earlier one targets.
    reach: Vec<usize>,
    /// Per segment position: the end line of the segment when evaluated.
    ends: Vec<usize>,
    /// The points, by line.
    pub out: Vec<Bsp>,
    /// The points the last update replaced (those it returned the index of and after).
    pub prev: Vec<Bsp>,
}

impl BspCache {
    /// Re-evaluates what may have changed and returns the first index of `out` that changed.
    pub fn update(&mut self, ctx: &Ctx<'_>, stable_lines: usize, stable_segs: usize) -> usize {
        let nseg = ctx.nseg();
        let keep = self.hz.len().min(nseg);
        let qb = self.hz[..keep]
            .partition_point(|h| h.line <= stable_lines && h.pos <= stable_segs && h.nseg <= stable_segs);
        if qb == nseg && qb == self.hz.len() {
            self.prev.clear();
            return self.out.len();
        }
        for k in 0..3 {
            let e0 = self.ev_start[k].get(qb).copied().unwrap_or(self.ev[k].len());
            self.ev[k].truncate(e0);
            self.ev_start[k].truncate(qb);
        }
        // Points on lines from l0 on are rebuilt: the calls of the old and of the new segments from
        // qb on target only lines at or after their ends.
        let new_end = if qb < nseg { ctx.segs.arena[ctx.segs.live[qb]].end } else { usize::MAX };
        // With a single segment its class-2 and class-3 rules look at lines before its end: when
        // the first segment is re-evaluated, everything is rebuilt.
        let l0 = if qb == 0 { 0 } else { new_end.min(self.ends.get(qb).copied().unwrap_or(usize::MAX)) };
        self.hz.truncate(qb);
        self.reach.truncate(qb);
        self.ends.truncate(qb);
        for &a in &ctx.segs.live[qb..] {
            self.ends.push(ctx.segs.arena[a].end);
        }
        let o0 = self.out.partition_point(|b| b.line < l0);
        self.prev = self.out.split_off(o0);
        let s0 = self.reach.partition_point(|&r| r <= l0);
        let mut st = State { lst: Vec::new(), dict: HashMap::new(), evs: Vec::new() };
        let mut seg_hz = vec![Hz::default(); nseg - qb];
        let mut seg_reach = vec![0usize; nseg - qb];
        for k in 0..3 {
            for p in s0..qb {
                let end = self.ev_start[k].get(p + 1).copied().unwrap_or(self.ev[k].len());
                for &e in &self.ev[k][self.ev_start[k][p]..end] {
                    if e.line >= l0 {
                        st.apply(ctx.ls, e);
                    }
                }
            }
            for p in qb..nseg {
                let a = ctx.segs.live[p];
                ctx.ls.hz.set(0);
                ctx.hz_pos.set(0);
                ctx.hz_nseg.set(0);
                st.evs.clear();
                match k {
                    0 => ctx.bs1(&mut st, a),
                    1 => ctx.bs2(&mut st, a),
                    _ => ctx.bs3(&mut st, a),
                }
                let h = &mut seg_hz[p - qb];
                h.line = h.line.max(ctx.ls.hz.get());
                h.pos = h.pos.max(ctx.hz_pos.get());
                h.nseg = h.nseg.max(ctx.hz_nseg.get());
                self.ev_start[k].push(self.ev[k].len());
                for e in &st.evs {
                    seg_reach[p - qb] = seg_reach[p - qb].max(e.line + 1);
                }
                self.ev[k].extend_from_slice(&st.evs);
            }
        }
        let (mut acc, mut r) = (self.hz.last().copied().unwrap_or_default(), self.reach.last().copied().unwrap_or(0));
        for (h, sr) in seg_hz.into_iter().zip(seg_reach) {
            acc = Hz { line: acc.line.max(h.line), pos: acc.pos.max(h.pos), nseg: acc.nseg.max(h.nseg) };
            r = r.max(sr);
            self.hz.push(acc);
            self.reach.push(r);
        }
        st.lst.sort_by_key(|b| b.line);
        self.out.extend(st.lst);
        o0
    }
}
