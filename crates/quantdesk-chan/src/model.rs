//! The output model. Times are the core's `Bar::time` (Unix seconds, UTC); indices point into the
//! raw bars given to the analyzer (`*_bar`), the merged bars (`*_merged`), the strokes or the
//! segments.

use serde::Serialize;

use crate::config::BspClass;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub(crate) fn from_up(up: bool) -> Direction {
        if up { Direction::Up } else { Direction::Down }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FractalKind {
    Top,
    Bottom,
}

/// Which lines a pivot, segment or signal is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Built from strokes (chan.py `zs_list`, `bs_point_lst`).
    Stroke,
    /// Built from segments (chan.py `segzs_list`, `seg_bs_point_lst`).
    Segment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

/// A bar after inclusion merging (chan.py `CKLine`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergedBar {
    pub index: usize,
    pub begin_bar: usize,
    pub end_bar: usize,
    pub begin_time: i64,
    pub end_time: i64,
    pub high: f64,
    pub low: f64,
    /// The merging direction (chan.py `dir`).
    pub direction: Direction,
    pub fractal: Option<FractalKind>,
    /// Last raw bar holding the high / the low.
    pub high_bar: usize,
    pub low_bar: usize,
    /// False for the last merged bar, which later bars may still extend.
    pub confirmed: bool,
}

/// A top or bottom fractal (chan.py `CKLine.fx`), on every merged bar that has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fractal {
    pub kind: FractalKind,
    pub merged_index: usize,
    /// The raw bar holding the extreme (the last one when several share it).
    pub bar: usize,
    pub time: i64,
    pub price: f64,
    /// chan.py marks a fractal once, when the next merged bar starts, and never revisits it.
    pub confirmed: bool,
}

/// A stroke (笔, chan.py `CBi`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stroke {
    pub index: usize,
    pub direction: Direction,
    pub begin_merged: usize,
    pub end_merged: usize,
    pub begin_bar: usize,
    pub end_bar: usize,
    pub begin_time: i64,
    pub end_time: i64,
    pub begin_price: f64,
    pub end_price: f64,
    /// chan.py `is_sure`: false for the provisional stroke drawn to the last bar. chan.py may still
    /// move the end of its last confirmed stroke to a new extreme.
    pub confirmed: bool,
    /// No later bar can change this stroke any more (every confirmed stroke but the last one; with
    /// `allow_sub_peak = false`, but the last two).
    pub settled: bool,
}

/// A segment (线段, chan.py `CSeg`), of strokes or (in `Analysis::segments_of_segments`) of segments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub index: usize,
    pub level: Level,
    pub direction: Direction,
    /// Indices of the first and last line (strokes for `Level::Stroke`).
    pub begin_line: usize,
    pub end_line: usize,
    pub begin_bar: usize,
    pub end_bar: usize,
    pub begin_time: i64,
    pub end_time: i64,
    pub begin_price: f64,
    pub end_price: f64,
    /// chan.py `is_sure`: the feature sequence found a confirmed end.
    pub confirmed: bool,
}

/// A pivot (中枢, chan.py `CZS`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pivot {
    pub index: usize,
    pub level: Level,
    /// Indices of the first and last line inside the pivot (strokes or segments).
    pub begin_line: usize,
    pub end_line: usize,
    pub begin_bar: usize,
    pub end_bar: usize,
    pub begin_time: i64,
    pub end_time: i64,
    /// ZG and ZD: the overlap of the pivot's lines (after a combination, the union of both zones).
    pub zg: f64,
    pub zd: f64,
    /// GG and DD: the extremes of the lines inside.
    pub gg: f64,
    pub dd: f64,
    /// The line entering and the line leaving the pivot, when they exist.
    pub line_in: Option<usize>,
    pub line_out: Option<usize>,
    /// How many pivots were combined into this one.
    pub parts: usize,
    /// chan.py `is_sure`: built inside a confirmed segment.
    pub confirmed: bool,
}

/// A buy or sell point (chan.py `CBS_Point`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub level: Level,
    pub side: Side,
    /// Classes in the order chan.py found them, e.g. `["2", "3b"]`.
    pub classes: Vec<BspClass>,
    /// The stroke (or segment) whose end is the point.
    pub line: usize,
    pub bar: usize,
    pub time: i64,
    pub price: f64,
    /// The stroke (or segment) is confirmed. chan.py has no such flag: a point may still vanish
    /// while its segment is provisional.
    pub confirmed: bool,
    /// Why the point exists, for tooltips.
    pub rule: String,
}

/// Everything the engine finds in a series of bars.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Analysis {
    pub bars: usize,
    pub merged_bars: Vec<MergedBar>,
    pub fractals: Vec<Fractal>,
    pub strokes: Vec<Stroke>,
    /// Segments of strokes (chan.py `seg_list`).
    pub segments: Vec<Segment>,
    /// Segments of segments (chan.py `segseg_list`).
    pub segments_of_segments: Vec<Segment>,
    /// Stroke pivots then segment pivots, each in time order.
    pub pivots: Vec<Pivot>,
    /// Stroke-level points then segment-level points, each sorted by time (chan.py `get_bsp`).
    pub signals: Vec<Signal>,
}
