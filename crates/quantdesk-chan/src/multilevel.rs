//! Multi-level analysis (多级别联立, 区间套): relating the structures of a higher resolution to the
//! strokes of a lower resolution of the same symbol.
//!
//! chan.py links levels through its data feed (each higher bar owns the lower bars up to its
//! time). Here the two analyses are independent and related by time only: a lower stroke belongs to
//! a higher span `[begin, end]` when it starts at or after `begin` and ends at or before the end of
//! the higher span. The higher span ends at the start of the bar *after* the higher end bar (a
//! daily bar stamped 00:00 covers the whole day), which the caller gives as `higher_bar_len`.

use serde::Serialize;

use crate::model::{Analysis, Level};

/// What kind of higher-level structure a [`Nest`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Structure {
    Stroke,
    Segment,
    Pivot(Level),
}

/// The lower-level strokes inside one higher-level structure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nest {
    pub structure: Structure,
    /// Index in the higher analysis' list (`strokes`, `segments` or `pivots`).
    pub index: usize,
    pub begin_time: i64,
    pub end_time: i64,
    /// Indices of the lower analysis' strokes inside, in time order (may be empty).
    pub lower_strokes: Vec<usize>,
}

/// Relates every higher stroke, segment and pivot to the lower strokes inside its time span.
/// `higher_bar_len` is the duration of one higher bar in the same unit as the bars' time (seconds).
/// Runs in O((H + L) log L).
pub fn nest(higher: &Analysis, lower: &Analysis, higher_bar_len: i64) -> Vec<Nest> {
    let starts: Vec<i64> = lower.strokes.iter().map(|s| s.begin_time).collect();
    let inside = |begin: i64, end: i64| -> Vec<usize> {
        let end_excl = end.saturating_add(higher_bar_len.max(0));
        let from = starts.partition_point(|&t| t < begin);
        lower.strokes[from..]
            .iter()
            .take_while(|s| s.begin_time < end_excl)
            .filter(|s| s.end_time < end_excl)
            .map(|s| s.index)
            .collect()
    };
    let mut out = Vec::new();
    for s in &higher.strokes {
        out.push(Nest {
            structure: Structure::Stroke,
            index: s.index,
            begin_time: s.begin_time,
            end_time: s.end_time,
            lower_strokes: inside(s.begin_time, s.end_time),
        });
    }
    for s in &higher.segments {
        out.push(Nest {
            structure: Structure::Segment,
            index: s.index,
            begin_time: s.begin_time,
            end_time: s.end_time,
            lower_strokes: inside(s.begin_time, s.end_time),
        });
    }
    for p in &higher.pivots {
        out.push(Nest {
            structure: Structure::Pivot(p.level),
            index: p.index,
            begin_time: p.begin_time,
            end_time: p.end_time,
            lower_strokes: inside(p.begin_time, p.end_time),
        });
    }
    out
}
