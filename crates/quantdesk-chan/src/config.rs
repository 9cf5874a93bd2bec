//! Configuration: every rule of the pipeline is a field, grouped like chan.py's `CChanConfig`, and
//! bundled as named profiles ([`Profile`]).
//!
//! All structs deserialize with defaults (`#[serde(default)]`), so a user overrides only what they
//! name, e.g. `{"bi": {"fx_check": "loss"}}`. The defaults are chan.py's (commit 429d6ed).

use serde::{Deserialize, Serialize};

use crate::ChanError;

/// A named bundle of rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// chan.py's defaults (`CChanConfig()`): reproduces its output exactly on the golden files.
    Chanpy,
    /// czsc's stroke rule on top of chan.py's other rules; see [`SpanRule::MinMergedBars`].
    Czsc,
}

impl Profile {
    /// The configuration of this profile.
    pub fn config(self) -> ChanConfig {
        match self {
            Profile::Chanpy => ChanConfig::default(),
            Profile::Czsc => ChanConfig {
                bi: BiConfig {
                    span_rule: SpanRule::MinMergedBars { min_bi_len: 6 },
                    fx_check: FxCheck::Loss,
                    end_is_peak: true,
                    ..BiConfig::default()
                },
                ..ChanConfig::default()
            },
        }
    }

    /// Looks a profile up by name (`chanpy`, `czsc`).
    pub fn by_name(name: &str) -> Option<Profile> {
        match name {
            "chanpy" | "chan.py" | "default" => Some(Profile::Chanpy),
            "czsc" => Some(Profile::Czsc),
            _ => None,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChanConfig {
    pub bi: BiConfig,
    pub seg: SegConfig,
    pub zs: ZsConfig,
    /// Buy/sell points on strokes (chan.py `bs_point_conf`).
    pub bsp_stroke: BspConfig,
    /// Buy/sell points on segments (chan.py `seg_bs_point_conf`).
    pub bsp_segment: BspConfig,
    pub macd: MacdConfig,
}

impl Default for ChanConfig {
    fn default() -> Self {
        let seg_point =
            PointConfig { macd_algo: MacdAlgo::Slope, bsp1_only_multibi_zs: false, ..PointConfig::default() };
        ChanConfig {
            bi: BiConfig::default(),
            seg: SegConfig::default(),
            zs: ZsConfig::default(),
            bsp_stroke: BspConfig::default(),
            bsp_segment: BspConfig { buy: seg_point.clone(), sell: seg_point },
            macd: MacdConfig::default(),
        }
    }
}

impl ChanConfig {
    /// Checks values that the pipeline cannot run with.
    pub fn validate(&self) -> Result<(), ChanError> {
        let bad = |m: &str| Err(ChanError::Config(m.to_string()));
        if let SpanRule::MinMergedBars { min_bi_len } = self.bi.span_rule
            && min_bi_len < 3
        {
            return bad("bi.span_rule.min_bi_len must be at least 3");
        }
        for (name, c) in [
            ("bsp_stroke.buy", &self.bsp_stroke.buy),
            ("bsp_stroke.sell", &self.bsp_stroke.sell),
            ("bsp_segment.buy", &self.bsp_segment.buy),
            ("bsp_segment.sell", &self.bsp_segment.sell),
        ] {
            if c.max_bs2_rate.is_nan() || c.max_bs2_rate > 1.0 {
                return Err(ChanError::Config(format!("{name}.max_bs2_rate must be at most 1")));
            }
            if c.divergence_rate.is_nan() {
                return Err(ChanError::Config(format!("{name}.divergence_rate is not a number")));
            }
        }
        for (name, c) in [("bsp_segment.buy", &self.bsp_segment.buy), ("bsp_segment.sell", &self.bsp_segment.sell)] {
            if !matches!(c.macd_algo, MacdAlgo::Slope | MacdAlgo::Amp) {
                return Err(ChanError::Config(format!("{name}.macd_algo must be slope or amp on segments")));
            }
        }
        if self.macd.fast == 0 || self.macd.slow == 0 || self.macd.signal == 0 {
            return bad("macd periods must be positive");
        }
        Ok(())
    }
}

/// Stroke (笔) rules: chan.py `CBiConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BiConfig {
    /// `normal`: a stroke needs a span between its fractals; `fx`: any valid pair of fractals.
    pub algo: BiAlgo,
    /// chan.py `is_strict`: at least 4 merged bars from fractal to fractal (otherwise 3 merged bars
    /// and 3 raw bars in between). Only used by [`SpanRule::ChanPy`].
    pub is_strict: bool,
    /// How the two fractals of a stroke must relate (chan.py `bi_fx_check`).
    pub fx_check: FxCheck,
    /// chan.py `gap_as_kl`: a price gap between merged bars counts as one more bar of span.
    pub gap_as_kl: bool,
    /// chan.py `bi_end_is_peak`: no merged bar inside the stroke goes beyond its end.
    pub end_is_peak: bool,
    /// chan.py `bi_allow_sub_peak`: when false, a new extreme may re-extend the stroke before last.
    pub allow_sub_peak: bool,
    /// How the minimum length of a stroke is counted.
    pub span_rule: SpanRule,
}

impl Default for BiConfig {
    fn default() -> Self {
        BiConfig {
            algo: BiAlgo::Normal,
            is_strict: true,
            fx_check: FxCheck::Strict,
            gap_as_kl: false,
            end_is_peak: true,
            allow_sub_peak: true,
            span_rule: SpanRule::ChanPy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiAlgo {
    Normal,
    Fx,
}

/// chan.py `FX_CHECK_METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FxCheck {
    /// The end fractal (3 bars) must go beyond the whole start fractal (3 bars).
    Strict,
    /// Only the two fractal bars are compared.
    Loss,
    /// The first two bars of each fractal.
    Half,
    /// The fractals' ranges may not overlap at all.
    Totally,
}

/// How the minimum length of a stroke is counted. This is where chan.py and czsc differ most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum SpanRule {
    /// chan.py: `is_strict` (4 merged bars between the fractal bars) or the loose 3 + 3 rule,
    /// optionally counting gaps (`gap_as_kl`).
    ChanPy,
    /// czsc (`czsc.analyze.check_bi`): counting merged bars from the first bar of the start fractal
    /// to the last bar of the end fractal, there must be at least `min_bi_len` (czsc's default 6, so
    /// the fractal bars are at least 3 merged bars apart) and the two fractals' ranges may not
    /// contain one another. czsc's "enough power" exception (a stroke allowed shorter when its
    /// amplitude is large) is not implemented: its threshold is not a chan.py concept.
    MinMergedBars { min_bi_len: usize },
}

/// Segment (线段) rules: chan.py `CSegConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegConfig {
    /// Only chan.py's `chan` algorithm (feature sequences with the gap case) is implemented.
    pub algo: SegAlgo,
    /// How strokes after the last confirmed segment are collected into provisional segments.
    pub left_method: LeftMethod,
}

impl Default for SegConfig {
    fn default() -> Self {
        SegConfig { algo: SegAlgo::Chan, left_method: LeftMethod::Peak }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegAlgo {
    Chan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftMethod {
    Peak,
    All,
}

/// Pivot (中枢) rules: chan.py `CZSConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZsConfig {
    /// Combine consecutive pivots of one segment.
    pub need_combine: bool,
    /// `zs`: combine when the [zd, zg] ranges overlap (touching counts); `peak`: when the
    /// [dd, gg] ranges overlap.
    pub combine_mode: ZsCombineMode,
    /// Allow a pivot made of one stroke.
    pub one_bi_zs: bool,
}

impl Default for ZsConfig {
    fn default() -> Self {
        ZsConfig { need_combine: true, combine_mode: ZsCombineMode::Zs, one_bi_zs: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZsCombineMode {
    Zs,
    Peak,
}

/// Buy and sell point rules: chan.py `CBSPointConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BspConfig {
    pub buy: PointConfig,
    pub sell: PointConfig,
}

impl BspConfig {
    pub(crate) fn get(&self, is_buy: bool) -> &PointConfig {
        if is_buy { &self.buy } else { &self.sell }
    }
}

/// One side's buy/sell point rules: chan.py `CPointConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointConfig {
    /// Class 1: the leaving move's MACD metric must be at most this times the entering move's.
    /// Above 100 (chan.py's default is infinite) MACD never decides.
    pub divergence_rate: f64,
    /// Class 1: minimum number of pivots in the segment.
    pub min_zs_cnt: usize,
    /// Class 1: count only pivots of several strokes.
    pub bsp1_only_multibi_zs: bool,
    /// Class 2: maximum retracement of the class-1 move.
    pub max_bs2_rate: f64,
    pub macd_algo: MacdAlgo,
    /// Class 1: the leaving move must be the extreme of its pivot.
    pub bs1_peak: bool,
    /// Which classes are reported.
    pub target_types: Vec<BspClass>,
    pub bsp2_follow_1: bool,
    pub bsp3_follow_1: bool,
    pub bsp3_peak: bool,
    pub bsp2s_follow_2: bool,
    pub max_bsp2s_lv: Option<usize>,
    pub strict_bsp3: bool,
}

impl Default for PointConfig {
    fn default() -> Self {
        PointConfig {
            divergence_rate: f64::INFINITY,
            min_zs_cnt: 1,
            bsp1_only_multibi_zs: true,
            max_bs2_rate: 0.9999,
            macd_algo: MacdAlgo::Peak,
            bs1_peak: true,
            target_types: vec![BspClass::T1, BspClass::T1p, BspClass::T2, BspClass::T2s, BspClass::T3a, BspClass::T3b],
            bsp2_follow_1: true,
            bsp3_follow_1: true,
            bsp3_peak: false,
            bsp2s_follow_2: false,
            max_bsp2s_lv: None,
            strict_bsp3: false,
        }
    }
}

/// Buy/sell point classes (chan.py `BSP_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BspClass {
    #[serde(rename = "1")]
    T1,
    #[serde(rename = "1p")]
    T1p,
    #[serde(rename = "2")]
    T2,
    #[serde(rename = "2s")]
    T2s,
    #[serde(rename = "3a")]
    T3a,
    #[serde(rename = "3b")]
    T3b,
}

impl BspClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BspClass::T1 => "1",
            BspClass::T1p => "1p",
            BspClass::T2 => "2",
            BspClass::T2s => "2s",
            BspClass::T3a => "3a",
            BspClass::T3b => "3b",
        }
    }
}

/// How the strength of a move is measured for divergence (chan.py `MACD_ALGO`; the volume-based
/// ones are not implemented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacdAlgo {
    /// MACD histogram area from the start of the move while its sign holds (reverse: from the end).
    Area,
    /// Largest histogram bar of the move's direction.
    Peak,
    /// Histogram area of the move's direction between its extremes.
    FullArea,
    /// Largest minus smallest histogram value.
    Diff,
    /// Relative amplitude per bar.
    Slope,
    /// Relative amplitude.
    Amp,
}

/// MACD periods (chan.py `macd` config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MacdConfig {
    pub fast: u32,
    pub slow: u32,
    pub signal: u32,
}

impl Default for MacdConfig {
    fn default() -> Self {
        MacdConfig { fast: 12, slow: 26, signal: 9 }
    }
}
