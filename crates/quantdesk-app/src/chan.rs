//! Chan-theory (缠论) analysis for users: the one mapping from the engine's model
//! ([`quantdesk_chan`], Unix seconds and indices) to the one the API, the CLI, the UDF marks and
//! the chanvis-compatible overlays show (ISO 8601 times in UTC), and the analysis of stored bars,
//! split into its I/O half ([`fetch_stored`]) and its CPU half ([`analyze_fetched`]) so that a
//! server can run the second on a bounded pool.

use quantdesk_chan as engine;
use quantdesk_core::{Adjustment, Bar, Instrument, Resolution};
use quantdesk_store::{SeriesInfo, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::market::{BarRequest, BarSource, Fetched, fetch_bars};

/// An instant as RFC 3339 in UTC with a `Z`, whole seconds: `2024-01-02T00:00:00Z` (daily bars are
/// stamped 00:00 UTC of their trading date). Out-of-range instants give an empty string.
pub use crate::clock::iso_secs as iso;

/// The rules the engine applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChanProfile {
    /// chan.py's defaults.
    Chanpy,
    /// czsc's stroke rule on top of chan.py's other rules.
    Czsc,
}

impl ChanProfile {
    /// Exactly `chanpy` or `czsc`.
    pub fn parse(raw: &str) -> Option<ChanProfile> {
        match raw {
            "chanpy" => Some(ChanProfile::Chanpy),
            "czsc" => Some(ChanProfile::Czsc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChanProfile::Chanpy => "chanpy",
            ChanProfile::Czsc => "czsc",
        }
    }

    pub fn engine(self) -> engine::Profile {
        match self {
            ChanProfile::Chanpy => engine::Profile::Chanpy,
            ChanProfile::Czsc => engine::Profile::Czsc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl From<engine::Direction> for Direction {
    fn from(d: engine::Direction) -> Self {
        match d {
            engine::Direction::Up => Direction::Up,
            engine::Direction::Down => Direction::Down,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FractalKind {
    Top,
    Bottom,
}

impl From<engine::FractalKind> for FractalKind {
    fn from(k: engine::FractalKind) -> Self {
        match k {
            engine::FractalKind::Top => FractalKind::Top,
            engine::FractalKind::Bottom => FractalKind::Bottom,
        }
    }
}

/// Which lines a segment, pivot or signal is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Stroke,
    Segment,
}

impl From<engine::Level> for Level {
    fn from(l: engine::Level) -> Self {
        match l {
            engine::Level::Stroke => Level::Stroke,
            engine::Level::Segment => Level::Segment,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl From<engine::Side> for Side {
    fn from(s: engine::Side) -> Self {
        match s {
            engine::Side::Buy => Side::Buy,
            engine::Side::Sell => Side::Sell,
        }
    }
}

/// A bar after inclusion merging (`*_bar` fields index the analysed bars, from 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MergedBar {
    pub index: u64,
    pub begin_bar: u64,
    pub end_bar: u64,
    pub begin_time: String,
    pub end_time: String,
    pub high: f64,
    pub low: f64,
    pub direction: Direction,
    pub fractal: Option<FractalKind>,
    /// False for the last merged bar, which later bars may still extend.
    pub confirmed: bool,
}

/// A top or bottom fractal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Fractal {
    pub kind: FractalKind,
    pub merged_index: u64,
    /// The bar holding the extreme.
    pub bar: u64,
    pub time: String,
    pub price: f64,
    pub confirmed: bool,
}

/// A stroke (笔).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stroke {
    pub index: u64,
    pub direction: Direction,
    pub begin_bar: u64,
    pub end_bar: u64,
    pub begin_time: String,
    pub end_time: String,
    pub begin_price: f64,
    pub end_price: f64,
    /// chan.py's `is_sure`: false for the provisional stroke drawn to the last bar.
    pub confirmed: bool,
    /// No later bar can change this stroke any more.
    pub settled: bool,
}

/// A segment (线段) of strokes, or of segments in `segments_of_segments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Segment {
    pub index: u64,
    pub level: Level,
    pub direction: Direction,
    /// First and last line (stroke or segment index).
    pub begin_line: u64,
    pub end_line: u64,
    pub begin_bar: u64,
    pub end_bar: u64,
    pub begin_time: String,
    pub end_time: String,
    pub begin_price: f64,
    pub end_price: f64,
    pub confirmed: bool,
}

/// A pivot (中枢).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pivot {
    pub index: u64,
    pub level: Level,
    pub begin_line: u64,
    pub end_line: u64,
    pub begin_bar: u64,
    pub end_bar: u64,
    pub begin_time: String,
    pub end_time: String,
    /// ZG and ZD: the overlap zone.
    pub zg: f64,
    pub zd: f64,
    /// GG and DD: the extremes of the lines inside.
    pub gg: f64,
    pub dd: f64,
    pub line_in: Option<u64>,
    pub line_out: Option<u64>,
    /// How many pivots were combined into this one.
    pub parts: u64,
    pub confirmed: bool,
}

/// A buy or sell point (买卖点).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Signal {
    pub level: Level,
    pub side: Side,
    /// Classes in the order they were found: `1`, `1p`, `2`, `2s`, `3a`, `3b`.
    pub classes: Vec<String>,
    /// `B` or `S` and the first class's number, e.g. `B1`, `S2`.
    pub label: String,
    /// The stroke (or segment) whose end is the point.
    pub line: u64,
    pub bar: u64,
    pub time: String,
    pub price: f64,
    /// The line is confirmed; a point on a provisional line may still vanish.
    pub confirmed: bool,
    /// Why the point exists.
    pub rule: String,
}

/// Everything the engine found in the bars of one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChanAnalysis {
    pub symbol: String,
    pub resolution: String,
    pub profile: ChanProfile,
    /// none, qfq or hfq.
    pub adjustment: String,
    /// How many bars were analysed.
    pub bars: u64,
    /// Opening time of the first and the last bar analysed (null without bars).
    pub first_bar: Option<String>,
    pub last_bar: Option<String>,
    pub merged_bars: Vec<MergedBar>,
    pub fractals: Vec<Fractal>,
    pub strokes: Vec<Stroke>,
    /// Segments of strokes.
    pub segments: Vec<Segment>,
    /// Segments of segments.
    pub segments_of_segments: Vec<Segment>,
    /// Stroke pivots, then segment pivots, each in time order.
    pub pivots: Vec<Pivot>,
    /// Stroke-level points, then segment-level points, each in time order.
    pub signals: Vec<Signal>,
}

fn n(i: usize) -> u64 {
    i as u64
}

/// `B1`, `S2`, `B3`: the side and the number of the first class.
pub fn signal_label(s: &engine::Signal) -> String {
    let side = match s.side {
        engine::Side::Buy => 'B',
        engine::Side::Sell => 'S',
    };
    let number = s.classes.first().map(|c| &c.as_str()[..1]).unwrap_or("");
    format!("{side}{number}")
}

/// The classes of a signal as strings (`["2", "3b"]`).
pub fn signal_classes(s: &engine::Signal) -> Vec<String> {
    s.classes.iter().map(|c| c.as_str().to_string()).collect()
}

fn segment(s: &engine::Segment) -> Segment {
    Segment {
        index: n(s.index),
        level: s.level.into(),
        direction: s.direction.into(),
        begin_line: n(s.begin_line),
        end_line: n(s.end_line),
        begin_bar: n(s.begin_bar),
        end_bar: n(s.end_bar),
        begin_time: iso(s.begin_time),
        end_time: iso(s.end_time),
        begin_price: s.begin_price,
        end_price: s.end_price,
        confirmed: s.confirmed,
    }
}

/// The API model of an analysis of `bars` (the bars given to the engine).
pub fn to_api(
    symbol: &str,
    resolution: Resolution,
    profile: ChanProfile,
    adjustment: Adjustment,
    bars: &[Bar],
    a: &engine::Analysis,
) -> ChanAnalysis {
    ChanAnalysis {
        symbol: symbol.to_string(),
        resolution: resolution.as_udf(),
        profile,
        adjustment: adjustment.as_str().to_string(),
        bars: n(bars.len()),
        first_bar: bars.first().map(|b| iso(b.time)),
        last_bar: bars.last().map(|b| iso(b.time)),
        merged_bars: a
            .merged_bars
            .iter()
            .map(|m| MergedBar {
                index: n(m.index),
                begin_bar: n(m.begin_bar),
                end_bar: n(m.end_bar),
                begin_time: iso(m.begin_time),
                end_time: iso(m.end_time),
                high: m.high,
                low: m.low,
                direction: m.direction.into(),
                fractal: m.fractal.map(Into::into),
                confirmed: m.confirmed,
            })
            .collect(),
        fractals: a
            .fractals
            .iter()
            .map(|f| Fractal {
                kind: f.kind.into(),
                merged_index: n(f.merged_index),
                bar: n(f.bar),
                time: iso(f.time),
                price: f.price,
                confirmed: f.confirmed,
            })
            .collect(),
        strokes: a
            .strokes
            .iter()
            .map(|s| Stroke {
                index: n(s.index),
                direction: s.direction.into(),
                begin_bar: n(s.begin_bar),
                end_bar: n(s.end_bar),
                begin_time: iso(s.begin_time),
                end_time: iso(s.end_time),
                begin_price: s.begin_price,
                end_price: s.end_price,
                confirmed: s.confirmed,
                settled: s.settled,
            })
            .collect(),
        segments: a.segments.iter().map(segment).collect(),
        segments_of_segments: a.segments_of_segments.iter().map(segment).collect(),
        pivots: a
            .pivots
            .iter()
            .map(|p| Pivot {
                index: n(p.index),
                level: p.level.into(),
                begin_line: n(p.begin_line),
                end_line: n(p.end_line),
                begin_bar: n(p.begin_bar),
                end_bar: n(p.end_bar),
                begin_time: iso(p.begin_time),
                end_time: iso(p.end_time),
                zg: p.zg,
                zd: p.zd,
                gg: p.gg,
                dd: p.dd,
                line_in: p.line_in.map(n),
                line_out: p.line_out.map(n),
                parts: n(p.parts),
                confirmed: p.confirmed,
            })
            .collect(),
        signals: a
            .signals
            .iter()
            .map(|s| Signal {
                level: s.level.into(),
                side: s.side.into(),
                classes: signal_classes(s),
                label: signal_label(s),
                line: n(s.line),
                bar: n(s.bar),
                time: iso(s.time),
                price: s.price,
                confirmed: s.confirmed,
                rule: s.rule.clone(),
            })
            .collect(),
    }
}

/// What to analyse among the stored bars of one instrument.
#[derive(Debug, Clone)]
pub struct ChanRequest {
    pub resolution: Resolution,
    pub adjustment: Adjustment,
    /// Inclusive start (Unix seconds); ignored with `countback`.
    pub from: i64,
    /// Exclusive end: only stored bars before it are read, so nothing at or after it can change
    /// the result (a weekly bar in progress at `until` is the partial week).
    pub until: i64,
    /// Only the last N bars before `until`.
    pub countback: Option<u32>,
    pub profile: ChanProfile,
}

/// Why stored bars could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum ChanFailure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] engine::ChanError),
}

/// Reads the stored bars a request names: the I/O half of an analysis of stored bars, which runs
/// on the async workers.
pub async fn fetch_stored(
    source: BarSource<'_>,
    instrument: &Instrument,
    series: &[SeriesInfo],
    req: &ChanRequest,
) -> Result<Fetched, StoreError> {
    let bar_req = BarRequest {
        resolution: req.resolution,
        adjustment: req.adjustment,
        from: req.from,
        to: req.until,
        countback: req.countback,
    };
    fetch_bars(source, instrument, series, &bar_req, true).await
}

/// Adjusts, resamples and analyses fetched bars: the CPU half of an analysis of stored bars.
/// Servers run it on a bounded CPU pool, never on an async worker.
pub fn analyze_fetched(
    fetched: Fetched,
    profile: ChanProfile,
) -> Result<(Vec<Bar>, engine::Analysis), engine::ChanError> {
    let bars = fetched.shape().bars;
    let analysis = engine::analyze(&bars, &profile.engine().config())?;
    Ok((bars, analysis))
}
