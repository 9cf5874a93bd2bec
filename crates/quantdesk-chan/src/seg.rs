//! Segments (线段) by feature sequences: chan.py `CSegListChan`, `CEigenFX`, `CEigen` and
//! `CSegListComm`, generic over the lines they are built from (strokes, or segments for the
//! segments of segments).
//!
//! chan.py links its lines with `pre`/`next` pointers that can outlive the list they were in (a
//! provisional segment dropped by `collect_left_seg` stays the `next` of its predecessor, and
//! strokes keep pointing at dropped segments as `parent_seg`). Several rules read those pointers,
//! so lines live in an arena ([`LineSet::arena`]) and the list proper is [`LineSet::live`].

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::LeftMethod;
use crate::kline::{Fx, KDir, test_combine};

/// One line (stroke or segment) with what the later stages read of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Line {
    /// chan.py `idx`: the position in its list when created.
    pub idx: usize,
    pub up: bool,
    /// chan.py `_high()`/`_low()`.
    pub high: f64,
    pub low: f64,
    pub begin_val: f64,
    pub end_val: f64,
    /// Raw bars of the begin and end extremes (chan.py `get_begin_klu`/`get_end_klu`).
    pub begin_klu: usize,
    pub end_klu: usize,
    /// First raw bar of the first merged bar and last raw bar of the last merged bar.
    pub klc_first_raw: usize,
    pub klc_last_raw: usize,
    pub is_sure: bool,
    /// chan.py `is_used_to_be_sure`.
    pub used_sure: bool,
    /// Arena ids.
    pub pre: Option<usize>,
    pub next: Option<usize>,
}

impl Line {
    pub fn down(&self) -> bool {
        !self.up
    }
    pub fn amp(&self) -> f64 {
        (self.end_val - self.begin_val).abs()
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct LineSet {
    pub arena: Vec<Line>,
    pub live: Vec<usize>,
    /// Read horizon for the incremental segment builder: one past the highest live index (or
    /// arena id) read since it was last set; `usize::MAX` once a decision depended on where the
    /// list ends. See [`SegCache`].
    pub hz: Horizon,
}

/// A `Cell<usize>` that keeps the analyzer `Sync` (relaxed atomics compile to plain moves).
#[derive(Debug, Default)]
pub(crate) struct Horizon(AtomicUsize);

impl Horizon {
    #[inline]
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
    #[inline]
    pub fn set(&self, v: usize) {
        self.0.store(v, Ordering::Relaxed)
    }
}

impl Clone for Horizon {
    fn clone(&self) -> Horizon {
        Horizon(AtomicUsize::new(self.get()))
    }
}

impl LineSet {
    #[inline]
    pub fn get(&self, i: usize) -> &Line {
        self.mark(i);
        &self.arena[self.live[i]]
    }
    /// A line by arena id (following `pre`/`next`), recorded in the read horizon.
    #[inline]
    pub fn at(&self, id: usize) -> &Line {
        self.mark(id);
        &self.arena[id]
    }
    #[inline]
    pub fn mark(&self, i: usize) {
        if i >= self.hz.get() {
            self.hz.set(i.saturating_add(1));
        }
    }
    /// Records that a decision depended on the length of the list.
    #[inline]
    pub fn mark_end(&self) {
        self.hz.set(usize::MAX);
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.live.len()
    }
}

/// One element of a feature sequence (chan.py `CEigen`): merged lines.
#[derive(Debug, Clone)]
struct Eigen {
    high: f64,
    low: f64,
    up: bool,
    fx: Fx,
    lst: Vec<usize>,
    gap: bool,
}

impl Eigen {
    fn new(i: usize, l: &Line, up: bool) -> Eigen {
        Eigen { high: l.high, low: l.low, up, fx: Fx::None, lst: vec![i], gap: false }
    }

    fn try_add(&mut self, i: usize, l: &Line, exclude_included: bool, allow_top_equal: Option<i8>) -> KDir {
        let d = test_combine(self.high, self.low, l.high, l.low, exclude_included, allow_top_equal);
        if d == KDir::Combine {
            self.lst.push(i);
            if self.up {
                if l.high != l.low || l.high != self.high {
                    self.high = self.high.max(l.high);
                    self.low = self.low.max(l.low);
                }
            } else if l.high != l.low || l.low != self.low {
                self.high = self.high.min(l.high);
                self.low = self.low.min(l.low);
            }
        }
        d
    }

    fn update_fx(&mut self, pre: &Eigen, next: &Eigen, exclude_included: bool, allow_top_equal: Option<i8>) {
        if exclude_included {
            if pre.high < self.high && next.high <= self.high && next.low < self.low {
                if allow_top_equal == Some(1) || next.high < self.high {
                    self.fx = Fx::Top;
                }
            } else if next.high > self.high
                && pre.low > self.low
                && next.low >= self.low
                && (allow_top_equal == Some(-1) || next.low > self.low)
            {
                self.fx = Fx::Bottom;
            }
        } else if pre.high < self.high && next.high < self.high && pre.low < self.low && next.low < self.low {
            self.fx = Fx::Top;
        } else if pre.high > self.high && next.high > self.high && pre.low > self.low && next.low > self.low {
            self.fx = Fx::Bottom;
        }
        if (self.fx == Fx::Top && pre.high < self.low) || (self.fx == Fx::Bottom && pre.low > self.high) {
            self.gap = true;
        }
    }

    /// chan.py `CEigen.GetPeakBiIdx`.
    fn peak_line_idx(&self, ls: &LineSet) -> usize {
        let first_up = ls.get(self.lst[0]).up;
        let found = if first_up {
            self.lst.iter().rev().find(|&&i| ls.get(i).low == self.low)
        } else {
            self.lst.iter().rev().find(|&&i| ls.get(i).high == self.high)
        };
        found.copied().unwrap_or(self.lst[0]).saturating_sub(1)
    }
}

/// Nesting bound for chan.py's recursive procedures (see [`EigenFx::reset`]).
const MAX_DEPTH: usize = 1500;

/// chan.py's three-valued answers (`True`, `False`, `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    True,
    False,
    None,
}

/// chan.py `CEigenFX`: the feature sequence of a segment of direction `up`.
#[derive(Debug, Clone)]
struct EigenFx {
    up: bool,
    ele: [Option<Eigen>; 3],
    lst: Vec<usize>,
    exclude_included: bool,
    evidence_sure: bool,
    actual_break_flag: bool,
}

impl EigenFx {
    fn new(up: bool, exclude_included: bool) -> EigenFx {
        EigenFx {
            up,
            ele: [None, None, None],
            lst: Vec::new(),
            exclude_included,
            evidence_sure: false,
            actual_break_flag: true,
        }
    }

    fn clear(&mut self) {
        self.ele = [None, None, None];
        self.lst.clear();
    }

    fn add(&mut self, i: usize, ls: &LineSet, depth: usize) -> bool {
        self.lst.push(i);
        let l = ls.get(i);
        if self.ele[0].is_none() {
            self.ele[0] = Some(Eigen::new(i, l, self.up));
            false
        } else if self.ele[1].is_none() {
            let excl = self.exclude_included;
            let Some(e0) = self.ele[0].as_mut() else { return false };
            if e0.try_add(i, l, excl, None) != KDir::Combine {
                let e1 = Eigen::new(i, l, self.up);
                let e0 = self.ele[0].as_ref().map(|e| (e.high, e.low)).unwrap_or((0.0, 0.0));
                let impossible = (self.up && e1.high < e0.0) || (!self.up && e1.low > e0.1);
                self.ele[1] = Some(e1);
                if impossible {
                    return self.reset(ls, depth + 1);
                }
            }
            false
        } else if self.ele[2].is_none() {
            self.evidence_sure = l.used_sure;
            let allow_top_equal = if self.exclude_included { Some(if l.down() { 1 } else { -1 }) } else { None };
            let Some(e1) = self.ele[1].as_mut() else { return false };
            let d = e1.try_add(i, l, false, allow_top_equal);
            if d == KDir::Combine {
                return false;
            }
            self.ele[2] = Some(Eigen::new(i, l, d == KDir::Up));
            if !self.actual_break(ls) {
                return self.reset(ls, depth + 1);
            }
            let (Some(e0), Some(mut e1), Some(e2)) = (self.ele[0].clone(), self.ele[1].take(), self.ele[2].clone())
            else {
                return false;
            };
            e1.update_fx(&e0, &e2, self.exclude_included, allow_top_equal);
            let fx = e1.fx;
            self.ele[1] = Some(e1);
            if (self.up && fx == Fx::Top) || (!self.up && fx == Fx::Bottom) { true } else { self.reset(ls, depth + 1) }
        } else {
            // chan.py raises here ("all three elements found but not handled"); unreachable.
            false
        }
    }

    fn reset(&mut self, ls: &LineSet, depth: usize) -> bool {
        // chan.py recurses here too and dies at Python's recursion limit (1000 frames) long
        // before this; the bound keeps adversarial input from exhausting the stack.
        if depth > MAX_DEPTH {
            return false;
        }
        let tmp: Vec<usize> = self.lst.get(1..).map(|s| s.to_vec()).unwrap_or_default();
        if self.exclude_included {
            self.clear();
            for i in tmp {
                if self.add(i, ls, depth) {
                    return true;
                }
            }
        } else {
            let begin2 = self.ele[1].as_ref().map(|e| e.lst[0]).unwrap_or(0);
            self.ele = [self.ele[1].take(), self.ele[2].take(), None];
            self.lst = tmp.into_iter().filter(|&i| i >= begin2).collect();
        }
        false
    }

    fn actual_break(&mut self, ls: &LineSet) -> bool {
        if !self.exclude_included {
            return true;
        }
        let (Some(e1), Some(e2)) = (&self.ele[1], &self.ele[2]) else { return true };
        let e1_last = ls.get(*e1.lst.last().unwrap_or(&e1.lst[0]));
        if (self.up && e2.low < e1_last.low) || (!self.up && e2.high > e1_last.high) {
            return true;
        }
        let b = ls.get(e2.lst[0]);
        let n1 = b.next.map(|x| ls.at(x));
        let n2 = n1.and_then(|x| x.next).map(|x| ls.at(x));
        match (n1, n2) {
            (Some(_), Some(n2)) => {
                if b.down() {
                    if n2.low < b.low {
                        self.evidence_sure = n2.used_sure;
                        return true;
                    } else if !n2.used_sure || n2.next.is_none() {
                        self.actual_break_flag = false;
                        return true;
                    }
                } else if n2.high > b.high {
                    self.evidence_sure = n2.used_sure;
                    return true;
                } else if !n2.used_sure || n2.next.is_none() {
                    self.actual_break_flag = false;
                    return true;
                }
            }
            (Some(n1), None) => {
                if !((self.up && n1.high > e1.high) || (!self.up && n1.low < e1.low)) {
                    self.actual_break_flag = false;
                    return true;
                }
            }
            _ => {
                self.actual_break_flag = false;
                return true;
            }
        }
        false
    }

    fn peak_idx(&self, ls: &LineSet) -> usize {
        self.ele[1].as_ref().map(|e| e.peak_line_idx(ls)).unwrap_or(0)
    }

    fn can_be_end(&mut self, ls: &LineSet, depth: usize) -> Tri {
        let gap = self.ele[1].as_ref().is_some_and(|e| e.gap);
        if gap {
            let end = self.peak_idx(ls);
            self.find_revert_fx(ls, end + 2, depth + 1)
        } else if !self.actual_break_flag {
            Tri::None
        } else {
            Tri::True
        }
    }

    fn all_bi_is_sure(&self, ls: &LineSet) -> bool {
        self.lst.iter().all(|&i| ls.get(i).used_sure) && self.evidence_sure
    }

    fn find_revert_fx(&mut self, ls: &LineSet, begin: usize, depth: usize) -> Tri {
        if depth > MAX_DEPTH {
            return Tri::None;
        }
        if begin >= ls.len() {
            ls.mark_end();
            return Tri::None;
        }
        let first_up = ls.get(begin).up;
        let mut fx = EigenFx::new(!first_up, true);
        let mut i = begin;
        while i < ls.len() {
            if fx.add(i, ls, depth) {
                loop {
                    let mut t = fx.can_be_end(ls, depth);
                    if !fx.actual_break_flag {
                        t = Tri::None;
                    }
                    if t != Tri::False {
                        if t == Tri::True {
                            let last = fx.ele[2].as_ref().and_then(|e| e.lst.last().copied()).unwrap_or(i);
                            self.evidence_sure = ls.get(last).used_sure && fx.evidence_sure;
                        }
                        return t;
                    } else if !fx.reset(ls, depth + 1) {
                        break;
                    }
                }
            }
            i += 2;
        }
        ls.mark_end();
        Tri::None
    }
}

/// A segment as chan.py's `CSeg` holds it (indices into the live list of lines).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegRec {
    pub idx: usize,
    pub start: usize,
    pub end: usize,
    pub is_sure: bool,
    pub up: bool,
    pub next: Option<usize>,
}

impl SegRec {
    /// Equal but for the arena link.
    fn same(&self, o: &SegRec) -> bool {
        (self.idx, self.start, self.end, self.is_sure, self.up) == (o.idx, o.start, o.end, o.is_sure, o.up)
    }

    pub fn bi_cnt(&self) -> usize {
        (self.end + 1).saturating_sub(self.start)
    }
}

/// The segments over a list of lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegList {
    pub arena: Vec<SegRec>,
    pub live: Vec<usize>,
    /// Per line: the arena id of the last segment created over it (chan.py `parent_seg`).
    pub parent: Vec<Option<usize>>,
    /// Per line: chan.py `seg_idx` (the live segment holding it, or the number of segments).
    pub seg_idx: Vec<usize>,
}

impl SegList {
    pub fn last(&self) -> Option<&SegRec> {
        self.live.last().map(|&a| &self.arena[a])
    }
}

struct Builder<'a> {
    ls: &'a LineSet,
    left: LeftMethod,
    out: SegList,
    /// Bounds the total work of chan.py's mutually recursive collection (it always terminates
    /// there; this only guards against a porting slip turning into a hang).
    fuel: usize,
    depth: usize,
    /// Iterations of `cal_seg_sure` so far and the checkpoint after each (see [`SegCache`]).
    iters: usize,
    ck: Vec<Ck>,
}

/// State of `cal_seg_sure` at the start of one of its iterations.
#[derive(Debug, Clone, Copy)]
struct Ck {
    begin: usize,
    arena_len: usize,
    live_len: usize,
    iters: usize,
    /// Read horizon of every iteration before this one: they read only lines below it.
    hz: usize,
}

/// What `collect_left_seg` changed in the state `cal_seg_sure` left, to undo it.
#[derive(Debug, Clone, Default)]
struct Undo {
    arena_len: usize,
    tail_pos: usize,
    live_tail: Vec<usize>,
    next: Vec<(usize, Option<usize>)>,
    parent_from: usize,
    parent: Vec<Option<usize>>,
}

/// Segments over a list of lines (chan.py `CSegListChan.update` on a fresh list, followed by
/// `cal_seg`'s `seg_idx` assignment), kept across calls: a default cache updated once is the
/// batch computation.
///
/// `cal_seg_sure` is a loop whose iterations each start from (`begin`, the segments so far) and
/// read lines through [`LineSet`], which records the highest one read (the horizon) and whether a
/// decision depended on where the list ends. The state at the start of every iteration is a
/// checkpoint with the horizon of all iterations before it. When the lines below `first_changed`
/// are unchanged, every checkpoint whose horizon is at most `first_changed` is exactly what a
/// fresh run over the new lines would reach (same inputs, same deterministic steps), so the run
/// resumes from the last such checkpoint. `collect_left_seg` (the provisional tail) is undone and
/// redone every time.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegCache {
    pub out: SegList,
    ck: Vec<Ck>,
    undo: Option<Undo>,
}

impl SegCache {
    /// Brings the segments up to date with `ls`, whose lines below `first_changed` (live indices)
    /// are those of the previous call. Returns the number of leading live segments that are the
    /// same as after the previous call (their `next` pointer aside).
    pub fn update(&mut self, ls: &LineSet, first_changed: usize, left: LeftMethod) -> usize {
        let n = ls.len();
        let mut common = usize::MAX;
        if self.ck.is_empty() {
            self.ck.push(Ck { begin: 0, arena_len: 0, live_len: 0, iters: 0, hz: 0 });
        }
        let k = self.ck.partition_point(|c| c.hz <= first_changed).max(1) - 1;
        let c = self.ck[k];
        // The previous result from where it may change, to tell afterwards which segments did.
        let p0 = self.undo.as_ref().map_or(0, |u| u.tail_pos).min(c.live_len).min(self.out.live.len());
        let prev: Vec<SegRec> = self.out.live[p0..].iter().map(|&a| self.out.arena[a]).collect();
        let out = &mut self.out;
        if let Some(u) = self.undo.take() {
            common = u.tail_pos;
            out.arena.truncate(u.arena_len);
            out.live.truncate(u.tail_pos);
            out.live.extend_from_slice(&u.live_tail);
            for (id, nx) in u.next {
                out.arena[id].next = nx;
            }
            out.parent.truncate(u.parent_from);
            out.parent.extend_from_slice(&u.parent);
        }
        self.ck.truncate(k + 1);
        common = common.min(c.live_len);
        out.arena.truncate(c.arena_len);
        out.live.truncate(c.live_len);
        if let Some(&l) = out.live.last() {
            out.arena[l].next = None;
        }
        let lastend = out.last().map_or(0, |s| s.end + 1);
        out.parent.truncate(lastend);
        out.parent.resize(n, None);
        ls.hz.set(c.hz);
        let mut b = Builder {
            ls,
            left,
            out: std::mem::take(out),
            fuel: (4 * n + 64).saturating_sub(c.iters),
            depth: 0,
            iters: c.iters,
            ck: std::mem::take(&mut self.ck),
        };
        b.cal_seg_sure(c.begin);
        // Stash what collect_left_seg may change: it pops only unsure segments from the end, links
        // new ones after the remaining last, and assigns lines after it.
        let o = &b.out;
        let tail_pos = o.live.iter().rposition(|&a| o.arena[a].is_sure).map_or(0, |p| p + 1);
        let parent_from = if tail_pos > 0 { o.arena[o.live[tail_pos - 1]].end + 1 } else { 0 };
        let undo = Undo {
            arena_len: o.arena.len(),
            tail_pos,
            live_tail: o.live[tail_pos..].to_vec(),
            next: o.live[tail_pos.saturating_sub(1)..].iter().map(|&a| (a, o.arena[a].next)).collect(),
            parent_from,
            parent: o.parent[parent_from.min(n)..].to_vec(),
        };
        b.collect_left_seg();
        self.ck = b.ck;
        self.out = b.out;
        self.undo = Some(undo);
        let out = &mut self.out;
        let mut common = common.min(tail_pos).min(out.live.len());
        // Segments recomputed the same as before count as unchanged (their `next` aside).
        while common < out.live.len()
            && common >= p0
            && prev.get(common - p0).is_some_and(|o| o.same(&out.arena[out.live[common]]))
        {
            common += 1;
        }
        let line0 = if common == 0 { 0 } else { out.arena[out.live[common - 1]].end + 1 };
        let nseg = out.live.len();
        out.seg_idx.truncate(line0);
        out.seg_idx.resize(n, nseg);
        for (si, &a) in out.live.iter().enumerate().skip(common) {
            let s = out.arena[a];
            for x in out.seg_idx.iter_mut().take(s.end + 1).skip(s.start) {
                *x = si;
            }
        }
        common
    }
}

impl Builder<'_> {
    fn cal_seg_sure(&mut self, begin: usize) {
        let ls = self.ls;
        let mut begin = begin;
        loop {
            let mut up_eigen = EigenFx::new(true, true);
            let mut down_eigen = EigenFx::new(false, true);
            let mut last_dir: Option<bool> = self.out.last().map(|s| s.up);
            let mut next_begin = None;
            for i in begin..ls.len() {
                let bi = ls.get(i);
                let mut found: Option<bool> = None;
                if bi.down() && last_dir != Some(true) {
                    if up_eigen.add(i, ls, 0) {
                        found = Some(true);
                    }
                } else if bi.up && last_dir != Some(false) && down_eigen.add(i, ls, 0) {
                    found = Some(false);
                }
                if self.out.live.is_empty() {
                    if up_eigen.ele[1].is_some() && bi.down() {
                        last_dir = Some(false);
                        down_eigen.clear();
                    } else if down_eigen.ele[1].is_some() && bi.up {
                        up_eigen.clear();
                        last_dir = Some(true);
                    }
                    // chan.py has these as two branches of one if/elif with the same body.
                    if (up_eigen.ele[1].is_none() && last_dir == Some(false) && bi.down())
                        || (down_eigen.ele[1].is_none() && last_dir == Some(true) && bi.up)
                    {
                        last_dir = None;
                    }
                }
                if let Some(which_up) = found {
                    let fx = if which_up { &mut up_eigen } else { &mut down_eigen };
                    next_begin = self.treat_fx_eigen(fx);
                    break;
                }
            }
            if next_begin.is_none() {
                ls.mark_end();
            }
            match next_begin {
                Some(b) if self.fuel > 0 => {
                    self.fuel -= 1;
                    self.iters += 1;
                    begin = b;
                    self.ck.push(Ck {
                        begin,
                        arena_len: self.out.arena.len(),
                        live_len: self.out.live.len(),
                        iters: self.iters,
                        hz: ls.hz.get(),
                    });
                }
                _ => return,
            }
        }
    }

    fn treat_fx_eigen(&mut self, fx: &mut EigenFx) -> Option<usize> {
        let ls = self.ls;
        let test = fx.can_be_end(ls, 0);
        let end = fx.peak_idx(ls);
        if test != Tri::False {
            let is_true = test == Tri::True;
            let sure = is_true && fx.all_bi_is_sure(ls);
            if !self.add_new_seg(end, sure, None, true) {
                return Some(end + 1);
            }
            if is_true { Some(end + 1) } else { None }
        } else {
            Some(fx.lst.get(1).copied().unwrap_or(end + 1))
        }
    }

    fn add_new_seg(&mut self, end: usize, is_sure: bool, seg_dir: Option<bool>, split_first: bool) -> bool {
        self.add_new_seg_at(end, is_sure, seg_dir, split_first, 0)
    }

    fn add_new_seg_at(
        &mut self,
        end: usize,
        is_sure: bool,
        seg_dir: Option<bool>,
        split_first: bool,
        depth: usize,
    ) -> bool {
        let ls = self.ls;
        if end >= ls.len() {
            ls.mark_end();
            return false;
        }
        ls.get(end);
        if self.out.live.is_empty() && split_first && end >= 3 && depth < MAX_DEPTH {
            let is_high = ls.get(end).down();
            if let Some(p) = find_peak_bi(ls, (0..=end - 3).rev(), is_high) {
                let (pb, b0) = (ls.get(p), ls.get(0));
                if (pb.down() && (pb.low < b0.low || p == 0)) || (pb.up && (pb.high > b0.high || p == 0)) {
                    let pdir = pb.up;
                    self.add_new_seg_at(p, false, Some(pdir), true, depth + 1);
                    self.add_new_seg_at(end, false, None, true, depth + 1);
                    return true;
                }
            }
        }
        let start = match self.out.last() {
            None => 0,
            Some(s) => s.end + 1,
        };
        if start >= ls.len() {
            ls.mark_end();
            return false;
        }
        let mut sure = is_sure;
        if (end as isize) - (start as isize) < 2 {
            sure = false;
        }
        let up = seg_dir.unwrap_or(ls.get(end).up);
        if sure {
            let (bv, ev) = (ls.get(start).begin_val, ls.get(end).end_val);
            // chan.py raises SEG_END_VALUE_ERR; add_new_seg swallows it for the first segment.
            if (!up && bv < ev) || (up && bv > ev) {
                return false;
            }
        }
        let id = self.out.arena.len();
        let pre = self.out.live.last().copied();
        self.out.arena.push(SegRec { idx: self.out.live.len(), start, end, is_sure: sure, up, next: None });
        if let Some(p) = pre {
            self.out.arena[p].next = Some(id);
        }
        self.out.live.push(id);
        for i in start..=end {
            self.out.parent[i] = Some(id);
        }
        true
    }

    fn collect_left_seg(&mut self) {
        if self.fuel == 0 || self.depth > MAX_DEPTH {
            return;
        }
        self.fuel -= 1;
        self.depth += 1;
        self.collect_left_seg_inner();
        self.depth -= 1;
    }

    fn collect_left_seg_inner(&mut self) {
        if self.out.live.is_empty() {
            self.collect_first_seg();
        } else {
            self.collect_segs();
            let n = self.ls.len();
            if let Some(last) = self.out.last()
                && n > 0
                && (n - 1) as isize - last.end as isize > 2
                && !last.is_sure
            {
                self.out.live.pop();
                self.collect_left_seg();
            }
        }
    }

    fn collect_first_seg(&mut self) {
        let ls = self.ls;
        let n = ls.len();
        if n < 3 {
            return;
        }
        match self.left {
            LeftMethod::Peak => {
                let high = (0..n).map(|i| ls.get(i).high).fold(f64::NEG_INFINITY, f64::max);
                let low = (0..n).map(|i| ls.get(i).low).fold(f64::INFINITY, f64::min);
                let b0 = ls.get(0).begin_val;
                if (high - b0).abs() >= (low - b0).abs() {
                    if let Some(p) = find_peak_bi(ls, 0..n, true) {
                        self.add_new_seg(p, false, Some(true), false);
                    }
                } else if let Some(p) = find_peak_bi(ls, 0..n, false) {
                    self.add_new_seg(p, false, Some(false), false);
                }
                self.collect_left_as_seg();
            }
            LeftMethod::All => {
                let up = ls.get(n - 1).end_val >= ls.get(0).begin_val;
                self.add_new_seg(n - 1, false, Some(up), false);
            }
        }
    }

    fn collect_left_seg_peak_method(&mut self, last_end: usize) {
        let ls = self.ls;
        let mut last_end = last_end;
        loop {
            let n = ls.len();
            let le = ls.get(last_end);
            let is_high = le.down();
            let mut found = false;
            if let Some(p) = find_peak_bi(ls, (last_end + 3).min(n)..n, is_high)
                && p - last_end >= 3
            {
                if !self.add_new_seg(p, false, Some(is_high), true) {
                    return;
                }
                found = true;
            }
            let Some(new_last) = self.out.last().map(|s| s.end) else { return };
            if !found || self.fuel == 0 {
                self.collect_left_as_seg();
                return;
            }
            self.fuel -= 1;
            last_end = new_last;
        }
    }

    fn collect_segs(&mut self) {
        let ls = self.ls;
        let n = ls.len();
        let Some(lse) = self.out.last().map(|s| s.end) else { return };
        if n == 0 || (n - 1) < lse + 3 {
            return;
        }
        let (lb, le) = (ls.get(n - 1), ls.get(lse));
        if le.down() && lb.end_val <= le.end_val {
            if let Some(p) = find_peak_bi(ls, (lse + 3).min(n)..n, true) {
                self.add_new_seg(p, false, Some(true), true);
                self.collect_left_seg();
            }
        } else if le.up && lb.end_val >= le.end_val {
            if let Some(p) = find_peak_bi(ls, (lse + 3).min(n)..n, false) {
                self.add_new_seg(p, false, Some(false), true);
                self.collect_left_seg();
            }
        } else if self.left == LeftMethod::All {
            self.collect_left_as_seg();
        } else {
            self.collect_left_seg_peak_method(lse);
        }
    }

    fn collect_left_as_seg(&mut self) {
        let ls = self.ls;
        let n = ls.len();
        let Some(lse) = self.out.last().map(|s| s.end) else { return };
        if lse + 1 >= n {
            return;
        }
        if ls.get(lse).up == ls.get(n - 1).up {
            self.add_new_seg(n - 2, false, None, true);
        } else {
            self.add_new_seg(n - 1, false, None, true);
        }
    }
}

/// chan.py `FindPeakBi` over the lines `it` yields (live indices).
fn find_peak_bi(ls: &LineSet, it: impl Iterator<Item = usize>, is_high: bool) -> Option<usize> {
    let mut peak_val = if is_high { f64::NEG_INFINITY } else { f64::INFINITY };
    let mut peak = None;
    for i in it {
        let b = ls.get(i);
        if (is_high && b.end_val >= peak_val && b.up) || (!is_high && b.end_val <= peak_val && b.down()) {
            if let Some(pp) = b.pre.and_then(|p| ls.at(p).pre) {
                let v = ls.at(pp).end_val;
                if (is_high && v > b.end_val) || (!is_high && v < b.end_val) {
                    continue;
                }
            }
            peak_val = b.end_val;
            peak = Some(i);
        }
    }
    peak
}
