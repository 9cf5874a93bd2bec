//! Pure Chan-theory (缠论) engine, conformant with chan.py (Vespa314/chan.py, commit 429d6ed).
//!
//! Pipeline, each stage a port of chan.py's algorithm including its quirks:
//!
//! 1. inclusion merging of raw bars, direction-aware (`CKLine_Combiner`), in [`MergedBar`];
//! 2. top/bottom fractals on merged bars (`CKLine.fx`), in [`Fractal`];
//! 3. strokes (`CBiList`: normal algorithm, strict span, strict fractal check, end is peak, sub-peaks
//!    allowed), with the provisional stroke chan.py draws to the last bar, in [`Stroke`];
//! 4. segments by feature sequences with the gap case (`CSegListChan`, left method `peak`), and the
//!    segments of segments, in [`Segment`];
//! 5. pivots from strokes and from segments with chan.py's combination rule (`CZSList`), in [`Pivot`];
//! 6. buy/sell points of classes 1, 1p, 2, 2s, 3a, 3b on strokes and on segments (`CBSPointList`),
//!    in [`Signal`]. Divergence is measured by MACD as configured; chan.py's default
//!    `divergence_rate` is infinite, so MACD never decides by default.
//!
//! Streaming: [`Analyzer::push`] takes one bar and updates merged bars, fractals and confirmed
//! strokes incrementally (amortised O(1)). [`Analyzer::update`] (or [`Analyzer::push_and_update`])
//! then brings everything else up to date incrementally, and [`Analyzer::structures`] borrows the
//! result; after any prefix it equals [`analyze`] over that prefix. [`Analyzer::snapshot`] computes
//! the same from scratch. [`analyze`] is literally pushing every bar and updating once.
//!
//! Incrementality: chan.py itself recomputes segments only from its last sure segment on. Here
//! every stage keeps the leading part its inputs cannot have changed and recomputes the tail:
//! strokes change only in their last two (and the provisional one); segments resume from the last
//! checkpoint of chan.py's `cal_seg_sure` loop whose reads (tracked line by line) are all below the
//! first changed line, and redo the provisional tail (`collect_left_seg`); pivots are per segment;
//! buy/sell points are recorded per segment with what their rules read and replayed. See
//! `SegCache`, `ZsCache` and `BspCache` in the source for the invariants.
//!
//! Cost: `push` is tens of nanoseconds per bar; `push_and_update` about 1.2 to 1.9 µs per bar on
//! average (benches/chan.rs, `stream_push_update`, 10 k to 1 M bars), not growing with the
//! history (the work is the provisional tail chan.py itself redoes). `snapshot` is O(history).
//!
//! Confirmation: every structure carries chan.py's `is_sure` as `confirmed`. chan.py may still move
//! the end of its last confirmed stroke, so strokes also carry `settled` (nothing later can change
//! them). Merged bars are final once `confirmed`; fractals are never revisited.
//!
//! Profiles ([`Profile`]): `chanpy` is chan.py's defaults; `czsc` swaps the stroke rule for czsc's
//! (see [`config::SpanRule::MinMergedBars`]) and keeps chan.py's other stages.
//!
//! Where chan.py raises an exception (a bar whose high is below its open, non-increasing times) the
//! engine returns a [`ChanError`]; where chan.py would crash on an internal assertion or index error
//! the engine skips the step instead (documented in place). No I/O, no clock, no threads.

mod bsp;
pub mod config;
mod engine;
mod kline;
pub mod model;
pub mod multilevel;
mod seg;
mod zs;

use quantdesk_core::Bar;

pub use config::{BspClass, ChanConfig, Profile};
pub use engine::Structures;
pub use model::*;

/// Why a bar or a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChanError {
    #[error("bar {index}: {reason}")]
    InvalidBar { index: usize, reason: String },
    #[error("bar {index}: time {time} is not after the previous bar's {previous}")]
    TimeNotIncreasing { index: usize, time: i64, previous: i64 },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Incremental analyzer: feed bars one at a time, update and read the structures whenever needed.
#[derive(Debug, Clone)]
pub struct Analyzer {
    cfg: ChanConfig,
    state: kline::KlineState,
    inc: engine::Inc,
}

impl Analyzer {
    /// An analyzer with the given rules.
    pub fn new(cfg: ChanConfig) -> Result<Analyzer, ChanError> {
        cfg.validate()?;
        let state = kline::KlineState::new(&cfg.macd);
        Ok(Analyzer { cfg, state, inc: engine::Inc::default() })
    }

    /// An analyzer with a named profile's rules.
    pub fn with_profile(p: Profile) -> Analyzer {
        let cfg = p.config();
        let state = kline::KlineState::new(&cfg.macd);
        Analyzer { cfg, state, inc: engine::Inc::default() }
    }

    pub fn config(&self) -> &ChanConfig {
        &self.cfg
    }

    /// Number of bars accepted so far.
    pub fn len(&self) -> usize {
        self.state.raws.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.raws.is_empty()
    }

    /// Adds the next bar. A refused bar leaves the analyzer unchanged. Checks are chan.py's: finite
    /// prices, `low` the lowest and `high` the highest of open/high/low/close, strictly increasing
    /// time.
    pub fn push(&mut self, bar: &Bar) -> Result<(), ChanError> {
        let index = self.state.raws.len();
        let bad = |reason: &str| Err(ChanError::InvalidBar { index, reason: reason.to_string() });
        let p = [bar.open, bar.high, bar.low, bar.close];
        if p.iter().any(|x| !x.is_finite()) {
            return bad("a price is not a finite number");
        }
        if bar.low > bar.open || bar.low > bar.close || bar.low > bar.high {
            return bad("low is not the lowest of open, high, low, close");
        }
        if bar.high < bar.open || bar.high < bar.close {
            return bad("high is not the highest of open, high, low, close");
        }
        if let Some(prev) = self.state.raws.last()
            && bar.time <= prev.time
        {
            return Err(ChanError::TimeNotIncreasing { index, time: bar.time, previous: prev.time });
        }
        self.state.push(bar.time, bar.high, bar.low, bar.close, &self.cfg.bi);
        Ok(())
    }

    /// Everything found so far, as a batch run over the same bars would find it, computed from
    /// scratch (O(history); [`Analyzer::update`] and [`Analyzer::structures`] are the cheap way).
    pub fn snapshot(&self) -> Analysis {
        engine::analyze_state(&self.state, &self.cfg)
    }

    /// Brings the incremental structures (strokes with the provisional one, segments) up to date
    /// with the bars pushed so far, recomputing only what can still change.
    pub fn update(&mut self) {
        let low_water = std::mem::replace(&mut self.state.bis_low_water, usize::MAX);
        self.inc.update(&self.state, &self.cfg, low_water);
    }

    /// [`Analyzer::push`] then [`Analyzer::update`].
    pub fn push_and_update(&mut self, bar: &Bar) -> Result<(), ChanError> {
        self.push(bar)?;
        self.update();
        Ok(())
    }

    /// The structures as of the last [`Analyzer::update`], borrowed (nothing is copied).
    pub fn structures(&self) -> &Structures {
        &self.inc.out
    }

    /// The structures as of the last [`Analyzer::update`] as an [`Analysis`] (copies everything);
    /// equal to [`Analyzer::snapshot`] when no bar was pushed since.
    pub fn current(&self) -> Analysis {
        self.inc.out.to_analysis()
    }

    /// Number of merged bars, fractal-confirmed strokes so far (cheap, no snapshot).
    pub fn counts(&self) -> (usize, usize) {
        (self.state.klcs.len(), self.state.bis.len())
    }
}

/// Batch analysis: exactly [`Analyzer::push`] of every bar, then [`Analyzer::snapshot`] (one
/// update of a fresh incremental engine).
pub fn analyze(bars: &[Bar], cfg: &ChanConfig) -> Result<Analysis, ChanError> {
    let mut a = Analyzer::new(cfg.clone())?;
    for b in bars {
        a.push(b)?;
    }
    Ok(a.snapshot())
}
