//! From strokes to the full [`Analysis`]: chan.py `CKLine_List.cal_seg_and_zs`.

use crate::bsp::{Bsp, Ctx, build_bsp};
use crate::config::{BspClass, ChanConfig, MacdAlgo};
use crate::kline::{BiRec, Fx, Klc, KlineState, Raw};
use crate::model::*;
use crate::seg::{Line, LineSet, SegList, build_segments};
use crate::zs::{Zs, build_pivots};

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

fn stroke_lines(bis: &[BiRec], k: &[Klc]) -> LineSet {
    let n = bis.len();
    let arena = bis
        .iter()
        .enumerate()
        .map(|(i, b)| {
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
                next: if i + 1 < n { Some(i + 1) } else { None },
            }
        })
        .collect();
    LineSet { arena, live: (0..n).collect() }
}

fn segment_lines(ls: &LineSet, segs: &SegList, raws: &[Raw]) -> LineSet {
    let arena = segs
        .arena
        .iter()
        .map(|s| {
            let (a, b) = (ls.get(s.start), ls.get(s.end));
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
                pre: s.pre,
                next: s.next,
            }
        })
        .collect();
    LineSet { arena, live: segs.live.clone() }
}

struct Level1 {
    lines: LineSet,
    segs: SegList,
    zs: Vec<Zs>,
    seg_zs: Vec<Vec<usize>>,
}

fn level(lines: LineSet, cfg: &ChanConfig) -> Level1 {
    let segs = build_segments(&lines, cfg.seg.left_method);
    let (zs, seg_zs) = build_pivots(&lines, &segs, &cfg.zs);
    Level1 { lines, segs, zs, seg_zs }
}

/// Computes everything after the strokes, as chan.py does once after its last bar.
pub(crate) fn analyze_state(k: &KlineState, cfg: &ChanConfig) -> Analysis {
    let raws = &k.raws;
    let klcs = &k.klcs;
    let bis = k.strokes_with_virtual(&cfg.bi);
    let l1 = level(stroke_lines(&bis, klcs), cfg);
    let l2 = level(segment_lines(&l1.lines, &l1.segs, raws), cfg);
    let metric_fn = |l: &Line, a: MacdAlgo, r: bool| metric(raws, l, a, r);
    let bsp_seg = build_bsp(&Ctx {
        ls: &l2.lines,
        segs: &l2.segs,
        zs: &l2.zs,
        seg_zs: &l2.seg_zs,
        cfg: &cfg.bsp_segment,
        metric: &metric_fn,
    });
    let bsp_bi = build_bsp(&Ctx {
        ls: &l1.lines,
        segs: &l1.segs,
        zs: &l1.zs,
        seg_zs: &l1.seg_zs,
        cfg: &cfg.bsp_stroke,
        metric: &metric_fn,
    });

    let t = |i: usize| raws[i].time;
    let nk = klcs.len();
    let merged_bars = klcs
        .iter()
        .enumerate()
        .map(|(i, c)| MergedBar {
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
            confirmed: i + 1 < nk,
        })
        .collect();
    let fractals = klcs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let kind = fx_kind(c.fx)?;
            let (bar, price) = match kind {
                FractalKind::Top => (c.high_peak, c.high),
                FractalKind::Bottom => (c.low_peak, c.low),
            };
            Some(Fractal { kind, merged_index: i, bar, time: t(bar), price, confirmed: true })
        })
        .collect();
    let sure_count = k.bis.len();
    let keep = if cfg.bi.allow_sub_peak { 1 } else { 2 };
    let strokes = bis
        .iter()
        .zip(&l1.lines.arena)
        .enumerate()
        .map(|(i, (b, l))| Stroke {
            index: i,
            direction: Direction::from_up(b.up),
            begin_merged: b.begin,
            end_merged: b.end,
            begin_bar: l.begin_klu,
            end_bar: l.end_klu,
            begin_time: t(l.begin_klu),
            end_time: t(l.end_klu),
            begin_price: l.begin_val,
            end_price: l.end_val,
            confirmed: b.is_sure,
            settled: i + keep < sure_count,
        })
        .collect();
    let mut pivots = pivots_of(&l1, Level::Stroke, raws);
    let n1 = pivots.len();
    pivots.extend(pivots_of(&l2, Level::Segment, raws).into_iter().map(|mut p| {
        p.index += n1;
        p
    }));
    let mut signals = signals_of(&l1, &bsp_bi, Level::Stroke, raws);
    signals.extend(signals_of(&l2, &bsp_seg, Level::Segment, raws));
    Analysis {
        bars: raws.len(),
        merged_bars,
        fractals,
        strokes,
        segments: segments_of(&l1, Level::Stroke, raws),
        segments_of_segments: segments_of(&l2, Level::Segment, raws),
        pivots,
        signals,
    }
}

fn fx_kind(fx: Fx) -> Option<FractalKind> {
    match fx {
        Fx::Top => Some(FractalKind::Top),
        Fx::Bottom => Some(FractalKind::Bottom),
        Fx::None => None,
    }
}

fn segments_of(l: &Level1, level: Level, raws: &[Raw]) -> Vec<Segment> {
    l.segs
        .live
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let s = l.segs.arena[a];
            let (b, e) = (l.lines.get(s.start), l.lines.get(s.end));
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
        })
        .collect()
}

fn pivots_of(l: &Level1, level: Level, raws: &[Raw]) -> Vec<Pivot> {
    l.zs.iter()
        .enumerate()
        .map(|(i, z)| Pivot {
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
        })
        .collect()
}

fn signals_of(l: &Level1, bsps: &[Bsp], level: Level, raws: &[Raw]) -> Vec<Signal> {
    let what = match level {
        Level::Stroke => "stroke",
        Level::Segment => "segment",
    };
    let mut out: Vec<Signal> = bsps
        .iter()
        .map(|b| {
            let line = l.lines.get(b.line);
            let rule = b.types.iter().map(|c| rule_text(*c, b, line, what, l)).collect::<Vec<_>>().join("; ");
            Signal {
                level,
                side: if b.is_buy { Side::Buy } else { Side::Sell },
                classes: b.types.clone(),
                line: b.line,
                bar: b.klu,
                time: raws[b.klu].time,
                price: line.end_val,
                confirmed: line.is_sure,
                rule,
            }
        })
        .collect();
    out.sort_by_key(|s| s.bar);
    out
}

fn rule_text(c: BspClass, b: &Bsp, line: &Line, what: &str, l: &Level1) -> String {
    let dir = if line.up { "up" } else { "down" };
    let zone =
        |z: Option<usize>| z.and_then(|z| l.zs.get(z)).map(|z| format!(" [{}, {}]", z.low, z.high)).unwrap_or_default();
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
