//! From strokes to the full [`Analysis`]: chan.py `CKLine_List.cal_seg_and_zs`.

use crate::bsp::{Bsp, BspCache, Ctx};
use crate::config::{BspClass, ChanConfig, MacdAlgo};
use crate::kline::{BiRec, Fx, Klc, KlineState, Raw};
use crate::model::*;
use crate::seg::{Line, LineSet, SegCache, SegList, SegRec};
use crate::zs::{Zs, ZsCache};

/// The strength of a move for divergence (chan.py `cal_macd_metric`).
fn metric(raws: &[Raw], l: &Line, algo: MacdAlgo, reverse: bool) -> f64 {
    let m = |i: usize| raws[i].macd;
    match algo {
        MacdAlgo::Area => {
            let mut s = 1e-7;
            if reverse {
                let peak = m(l.end_klu);
                for i in (l.klc_first_raw..=l.end_klu).rev() {
                    if m(i) * peak > 0.0 {
                        s += m(i).abs();
                    } else {
                        break;
                    }
                }
            } else {
                let peak = m(l.begin_klu);
                for i in l.begin_klu..=l.klc_last_raw {
                    if m(i) * peak > 0.0 {
                        s += m(i).abs();
                    } else {
                        break;
                    }
                }
            }
            s
        }
        MacdAlgo::Peak => {
            let mut peak = 1e-7;
            for i in l.klc_first_raw..=l.klc_last_raw {
                let v = m(i);
                if v.abs() > peak && ((l.down() && v < 0.0) || (l.up && v > 0.0)) {
                    peak = v.abs();
                }
            }
            peak
        }
        MacdAlgo::FullArea => {
            let mut s = 1e-7;
            for i in l.begin_klu..=l.end_klu {
                let v = m(i);
                if (l.down() && v < 0.0) || (l.up && v > 0.0) {
                    s += v.abs();
                }
            }
            s
        }
        MacdAlgo::Diff => {
            let (mut hi, mut lo) = (f64::NEG_INFINITY, f64::INFINITY);
            for i in l.klc_first_raw..=l.klc_last_raw {
                hi = hi.max(m(i));
                lo = lo.min(m(i));
            }
            hi - lo
        }
        MacdAlgo::Slope => {
            let (b, e) = (&raws[l.begin_klu], &raws[l.end_klu]);
            let n = l.end_klu as f64 - l.begin_klu as f64 + 1.0;
            if l.up { (e.high - b.low) / e.high / n } else { (b.high - e.low) / b.high / n }
        }
        MacdAlgo::Amp => {
            let (b, e) = (&raws[l.begin_klu], &raws[l.end_klu]);
            if l.down() { (b.high - e.low) / b.high } else { (e.high - b.low) / b.low }
        }
    }
}

fn stroke_line(bis: &[BiRec], k: &[Klc], i: usize) -> Line {
    let b = &bis[i];
    let (kb, ke) = (&k[b.begin], &k[b.end]);
    Line {
        idx: i,
        up: b.up,
        high: if b.up { ke.high } else { kb.high },
        low: if b.up { kb.low } else { ke.low },
        begin_val: b.begin_val(k),
        end_val: b.end_val(k),
        begin_klu: if b.up { kb.low_peak } else { kb.high_peak },
        end_klu: if b.up { ke.high_peak } else { ke.low_peak },
        klc_first_raw: kb.first,
        klc_last_raw: ke.last,
        is_sure: b.is_sure,
        used_sure: b.is_sure || b.used_sure,
        pre: i.checked_sub(1),
        next: if i + 1 < bis.len() { Some(i + 1) } else { None },
    }
}

/// The incremental engine: strokes (with the provisional one), their lines, segments, pivots and
/// buy/sell points at both levels, and the output structures, kept between updates. Each stage
/// keeps the leading part its inputs cannot have changed and recomputes the rest (see
/// [`SegCache`], [`ZsCache`], [`BspCache`]); a default value updated once is the batch run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inc {
    /// Strokes as chan.py shows them after the last bar (with the provisional one).
    bis: Vec<BiRec>,
    /// Where the provisional tail began at the last update (`KlineState::virtual_tail`).
    tail_from: usize,
    tail_buf: Vec<BiRec>,
    /// Merged bars and confirmed strokes at the last update.
    nk: usize,
    sure: usize,
    lines: LineSet,
    /// Whether the structures below were computed at least once.
    fresh: bool,
    segs: SegCache,
    zs: ZsCache,
    bsp: BspCache,
    /// The same for the segments of segments, over the segments as lines.
    lines2: LineSet,
    segs2: SegCache,
    zs2: ZsCache,
    bsp2: BspCache,
    pub out: Structures,
}

/// The structures after the last update, borrowed from the analyzer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Structures {
    pub bars: usize,
    pub merged_bars: Vec<MergedBar>,
    pub fractals: Vec<Fractal>,
    pub strokes: Vec<Stroke>,
    pub segments: Vec<Segment>,
    pub segments_of_segments: Vec<Segment>,
    /// Pivots of strokes, then pivots of segments; the latter are numbered from 0 here, from the
    /// number of stroke pivots in [`Analysis::pivots`].
    pub stroke_pivots: Vec<Pivot>,
    pub segment_pivots: Vec<Pivot>,
    pub stroke_signals: Vec<Signal>,
    pub segment_signals: Vec<Signal>,
}

impl Structures {
    /// The same as an [`Analysis`] (copies everything).
    pub fn to_analysis(&self) -> Analysis {
        self.clone().into_analysis()
    }

    /// The same as an [`Analysis`], without copying.
    pub fn into_analysis(self) -> Analysis {
        let n1 = self.stroke_pivots.len();
        let mut pivots = self.stroke_pivots;
        pivots.extend(self.segment_pivots.into_iter().map(|mut p| {
            p.index += n1;
            p
        }));
        let mut signals = self.stroke_signals;
        signals.extend(self.segment_signals);
        Analysis {
            bars: self.bars,
            merged_bars: self.merged_bars,
            fractals: self.fractals,
            strokes: self.strokes,
            segments: self.segments,
            segments_of_segments: self.segments_of_segments,
            pivots,
            signals,
        }
    }
}

impl Inc {
    /// Brings everything up to date; `low_water` is the lowest confirmed stroke changed since the
    /// last update (`KlineState::bis_low_water`).
    pub fn update(&mut self, k: &KlineState, cfg: &ChanConfig, low_water: usize) {
        let raws = &k.raws;
        let mut tail = std::mem::take(&mut self.tail_buf);
        let s = k.virtual_tail(&cfg.bi, &mut tail);
        // Strokes below c are unchanged: confirmed strokes below the low-water mark that were not
        // in the provisional tail then and are not now.
        let c = low_water.min(self.tail_from).min(s).min(self.bis.len());
        self.bis.truncate(c);
        self.bis.extend_from_slice(&k.bis[c..s]);
        self.bis.extend_from_slice(&tail);
        self.tail_buf = tail;
        self.tail_from = s;
        let n = self.bis.len();
        let ls = &mut self.lines;
        let mut f = c.min(ls.arena.len());
        while f < n.min(ls.arena.len()) && ls.arena[f] == stroke_line(&self.bis, &k.klcs, f) {
            f += 1;
        }
        let unchanged = f == n && ls.arena.len() == n && self.fresh;
        if !unchanged {
            ls.arena.truncate(f);
            ls.live.truncate(f);
            for i in f..n {
                ls.arena.push(stroke_line(&self.bis, &k.klcs, i));
                ls.live.push(i);
            }
        }
        // Merged bars: only the last one changes in place, and a new one fixes the fractal of the
        // one before it.
        let out = &mut self.out;
        out.bars = raws.len();
        let nk = k.klcs.len();
        let m0 = self.nk.min(nk).saturating_sub(2);
        self.nk = nk;
        out.merged_bars.truncate(m0);
        out.merged_bars.extend((m0..nk).map(|i| merged_bar(k, i)));
        let f0 = out.fractals.partition_point(|x| x.merged_index < m0);
        out.fractals.truncate(f0);
        out.fractals.extend((m0..nk).filter_map(|i| fractal(k, i)));
        // Strokes: those below f have the same lines; `settled` moves with the confirmed count.
        let keep = if cfg.bi.allow_sub_peak { 1 } else { 2 };
        let sure = k.bis.len();
        let s0 = f.min(self.sure.saturating_sub(keep)).min(sure.saturating_sub(keep)).min(out.strokes.len());
        self.sure = sure;
        out.strokes.truncate(s0);
        out.strokes.extend((s0..n).map(|i| stroke(&self.bis[i], &ls.arena[i], i, i + keep < sure, raws)));
        if unchanged {
            // Same lines as at the last update: everything after them is the same too.
            return;
        }
        self.fresh = true;
        let metric_fn = |l: &Line, a: MacdAlgo, r: bool| metric(raws, l, a, r);
        let common = self.segs.update(&self.lines, f, cfg.seg.left_method);
        let from = Level { ls: &self.lines, segs: &mut self.segs, zs: &mut self.zs, bsp: &mut self.bsp }.rest(
            f,
            common,
            cfg,
            &cfg.bsp_stroke,
            &metric_fn,
            raws,
            (&mut out.segments, &mut out.stroke_pivots, &mut out.stroke_signals, LevelKind::Stroke),
        );
        let f2 = update_segment_lines(&mut self.lines2, &self.lines, &self.segs.out, raws, from);
        let common2 = self.segs2.update(&self.lines2, f2, cfg.seg.left_method);
        Level { ls: &self.lines2, segs: &mut self.segs2, zs: &mut self.zs2, bsp: &mut self.bsp2 }.rest(
            f2,
            common2,
            cfg,
            &cfg.bsp_segment,
            &metric_fn,
            raws,
            (&mut out.segments_of_segments, &mut out.segment_pivots, &mut out.segment_signals, LevelKind::Segment),
        );
    }
}

/// One level's caches after its segments.
struct Level<'a> {
    ls: &'a LineSet,
    segs: &'a mut SegCache,
    zs: &'a mut ZsCache,
    bsp: &'a mut BspCache,
}

type Outs<'a> = (&'a mut Vec<Segment>, &'a mut Vec<Pivot>, &'a mut Vec<Signal>, LevelKind);

impl Level<'_> {
    /// Pivots, buy/sell points and the outputs of a level whose lines below `f` and first
    /// `common` segments are unchanged. Returns how many leading segments are unchanged and lie on
    /// unchanged lines.
    #[allow(clippy::too_many_arguments)]
    fn rest(
        self,
        f: usize,
        common: usize,
        cfg: &ChanConfig,
        bcfg: &crate::config::BspConfig,
        metric: &dyn Fn(&Line, MacdAlgo, bool) -> f64,
        raws: &[Raw],
        outs: Outs<'_>,
    ) -> usize {
        let (seg_out, piv_out, sig_out, level) = outs;
        let segs = &self.segs.out;
        let (from, z0) = self.zs.update(self.ls, segs, &cfg.zs, common, f);
        let stable_lines = if from == 0 { 0 } else { segs.arena[segs.live[from - 1]].end + 1 }.min(f);
        let ctx = Ctx {
            ls: self.ls,
            segs,
            zs: &self.zs.zs,
            zsc: self.zs,
            cfg: bcfg,
            metric,
            hz_pos: Default::default(),
            hz_nseg: Default::default(),
        };
        let o0 = self.bsp.update(&ctx, stable_lines, from);
        seg_out.truncate(from);
        seg_out.extend((from..segs.live.len()).map(|i| segment(self.ls, segs, i, level.level(), raws)));
        piv_out.truncate(z0);
        piv_out.extend(self.zs.zs[z0..].iter().enumerate().map(|(i, z)| pivot(z, z0 + i, level.level(), raws)));
        // Rebuilt points that come out the same keep their signal (formatting the rule is the
        // costly part): same point, same pivot zone (a pivot before z0), same line.
        let old = sig_out.split_off(o0.min(sig_out.len()));
        let mut old = old.into_iter().zip(std::mem::take(&mut self.bsp.prev)).peekable();
        for b in &self.bsp.out[o0..] {
            let line = &self.ls.arena[self.ls.live[b.line]];
            while old.peek().is_some_and(|(_, p)| p.line < b.line) {
                old.next();
            }
            match old.next_if(|(_, p)| p.line == b.line) {
                Some((s, p))
                    if p == *b
                        && b.zs.is_none_or(|z| z < z0)
                        && s.price == line.end_val
                        && s.confirmed == line.is_sure =>
                {
                    sig_out.push(s)
                }
                _ => sig_out.push(signal(self.ls, &self.zs.zs, b, level, raws)),
            }
        }
        from
    }
}

#[derive(Debug, Clone, Copy)]
enum LevelKind {
    Stroke,
    Segment,
}

impl LevelKind {
    fn level(self) -> crate::model::Level {
        match self {
            LevelKind::Stroke => crate::model::Level::Stroke,
            LevelKind::Segment => crate::model::Level::Segment,
        }
    }
}

/// The line of a segment for the segments of segments (its arena id remapped by `id`).
fn segment_line(ls: &LineSet, s: &SegRec, raws: &[Raw], pre: Option<usize>, next: Option<usize>) -> Line {
    let (a, b) = (&ls.arena[ls.live[s.start]], &ls.arena[ls.live[s.end]]);
    Line {
        idx: s.idx,
        up: s.up,
        high: if s.up { raws[b.end_klu].high } else { raws[a.begin_klu].high },
        low: if s.up { raws[a.begin_klu].low } else { raws[b.end_klu].low },
        begin_val: a.begin_val,
        end_val: b.end_val,
        begin_klu: a.begin_klu,
        end_klu: b.end_klu,
        klc_first_raw: a.klc_first_raw,
        klc_last_raw: b.klc_last_raw,
        is_sure: s.is_sure,
        used_sure: s.is_sure,
        pre,
        next,
    }
}

/// Brings `out`, the lines of the segments of segments, up to date with `segs`. The lines are
/// compacted: arena id = live index for the live segments (a live segment's `pre` is always the
/// one before it and its `next` the one after it, but for the last), followed by the chain of
/// dropped segments the last one's `next` leads to, as far as the segment rules follow it.
/// Returns the first line that may differ from the previous call.
fn update_segment_lines(out: &mut LineSet, ls: &LineSet, segs: &SegList, raws: &[Raw], from: usize) -> usize {
    let n = segs.live.len();
    let line = |p: usize| {
        let s = &segs.arena[segs.live[p]];
        let next = if p + 1 < n { Some(p + 1) } else { s.next.map(|_| n) };
        segment_line(ls, s, raws, p.checked_sub(1), next)
    };
    let mut f = from.saturating_sub(1).min(out.live.len()).min(n);
    while f < n.min(out.live.len()) && out.arena[f] == line(f) {
        f += 1;
    }
    out.arena.truncate(f);
    out.live.truncate(f);
    for p in f..n {
        out.arena.push(line(p));
        out.live.push(p);
    }
    // The dropped segments after the last live one: actual_break follows `next` twice and then
    // asks whether there is a third.
    let mut cur = segs.live.last().and_then(|&a| segs.arena[a].next);
    for depth in 0..3 {
        let Some(id) = cur else { break };
        let s = &segs.arena[id];
        let id_here = out.arena.len();
        let next = s.next.map(|_| if depth < 2 { id_here + 1 } else { id_here });
        out.arena.push(segment_line(ls, s, raws, None, next));
        cur = s.next;
    }
    f
}

/// Computes everything after the strokes, as chan.py does once after its last bar.
pub(crate) fn analyze_state(k: &KlineState, cfg: &ChanConfig) -> Analysis {
    let mut inc = Inc::default();
    inc.update(k, cfg, 0);
    inc.out.into_analysis()
}

fn merged_bar(k: &KlineState, i: usize) -> MergedBar {
    let c = &k.klcs[i];
    let t = |i: usize| k.raws[i].time;
    MergedBar {
        index: i,
        begin_bar: c.first,
        end_bar: c.last,
        begin_time: t(c.first),
        end_time: t(c.last),
        high: c.high,
        low: c.low,
        direction: Direction::from_up(c.up),
        fractal: fx_kind(c.fx),
        high_bar: c.high_peak,
        low_bar: c.low_peak,
        confirmed: i + 1 < k.klcs.len(),
    }
}

fn fractal(k: &KlineState, i: usize) -> Option<Fractal> {
    let c = &k.klcs[i];
    let kind = fx_kind(c.fx)?;
    let (bar, price) = match kind {
        FractalKind::Top => (c.high_peak, c.high),
        FractalKind::Bottom => (c.low_peak, c.low),
    };
    Some(Fractal { kind, merged_index: i, bar, time: k.raws[bar].time, price, confirmed: true })
}

fn stroke(b: &BiRec, l: &Line, i: usize, settled: bool, raws: &[Raw]) -> Stroke {
    Stroke {
        index: i,
        direction: Direction::from_up(b.up),
        begin_merged: b.begin,
        end_merged: b.end,
        begin_bar: l.begin_klu,
        end_bar: l.end_klu,
        begin_time: raws[l.begin_klu].time,
        end_time: raws[l.end_klu].time,
        begin_price: l.begin_val,
        end_price: l.end_val,
        confirmed: b.is_sure,
        settled,
    }
}

fn fx_kind(fx: Fx) -> Option<FractalKind> {
    match fx {
        Fx::Top => Some(FractalKind::Top),
        Fx::Bottom => Some(FractalKind::Bottom),
        Fx::None => None,
    }
}

fn segment(ls: &LineSet, segs: &SegList, i: usize, level: crate::model::Level, raws: &[Raw]) -> Segment {
    let s = segs.arena[segs.live[i]];
    let (b, e) = (&ls.arena[ls.live[s.start]], &ls.arena[ls.live[s.end]]);
    Segment {
        index: i,
        level,
        direction: Direction::from_up(s.up),
        begin_line: s.start,
        end_line: s.end,
        begin_bar: b.begin_klu,
        end_bar: e.end_klu,
        begin_time: raws[b.begin_klu].time,
        end_time: raws[e.end_klu].time,
        begin_price: b.begin_val,
        end_price: e.end_val,
        confirmed: s.is_sure,
    }
}

fn pivot(z: &Zs, i: usize, level: crate::model::Level, raws: &[Raw]) -> Pivot {
    Pivot {
        index: i,
        level,
        begin_line: z.begin,
        end_line: z.end,
        begin_bar: z.begin_klu,
        end_bar: z.end_klu,
        begin_time: raws[z.begin_klu].time,
        end_time: raws[z.end_klu].time,
        zg: z.high,
        zd: z.low,
        gg: z.peak_high,
        dd: z.peak_low,
        line_in: z.bi_in,
        line_out: z.bi_out,
        parts: z.parts,
        confirmed: z.is_sure,
    }
}

fn signal(ls: &LineSet, zs: &[Zs], b: &Bsp, level: LevelKind, raws: &[Raw]) -> Signal {
    let what = match level {
        LevelKind::Stroke => "stroke",
        LevelKind::Segment => "segment",
    };
    let line = &ls.arena[ls.live[b.line]];
    let rule = b.types.iter().map(|c| rule_text(*c, b, line, what, zs)).collect::<Vec<_>>().join("; ");
    Signal {
        level: level.level(),
        side: if b.is_buy { Side::Buy } else { Side::Sell },
        classes: b.types.clone(),
        line: b.line,
        bar: b.klu,
        time: raws[b.klu].time,
        price: line.end_val,
        confirmed: line.is_sure,
        rule,
    }
}

fn rule_text(c: BspClass, b: &Bsp, line: &Line, what: &str, zs: &[Zs]) -> String {
    let dir = if line.up { "up" } else { "down" };
    let zone =
        |z: Option<usize>| z.and_then(|z| zs.get(z)).map(|z| format!(" [{}, {}]", z.low, z.high)).unwrap_or_default();
    match c {
        BspClass::T1 => format!(
            "1: {what} {} ends its segment {dir} beyond the segment's last pivot{} (trend divergence)",
            b.line,
            zone(b.zs)
        ),
        BspClass::T1p => {
            format!(
                "1p: {what} {} ends its segment at a new extreme without a pivot (consolidation divergence)",
                b.line
            )
        }
        BspClass::T2 => {
            format!("2: {what} {} is the first pullback after a class-1 point that does not pass it", b.line)
        }
        BspClass::T2s => format!(
            "2s: {what} {} pulls back again, overlapping the class-2 pullback, without passing the class-1 point",
            b.line
        ),
        BspClass::T3a => format!(
            "3a: {what} {} pulls back after leaving the next segment's first pivot{} without returning into it",
            b.line,
            zone(b.zs)
        ),
        BspClass::T3b => format!(
            "3b: {what} {} pulls back after leaving the segment's last pivot{} without returning into it",
            b.line,
            zone(b.zs)
        ),
    }
}
