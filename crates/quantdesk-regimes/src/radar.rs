//! TradeMaster's dynamics test: regime-conditioned evaluation with radar scores
//! (`datasets/algorithmic_trading/dataset.py`, `tools/algorithmic_trading/train.py`, `utils/utils.py`,
//! branch 1.0.0 @ c1c4838; TradeMaster reference notes, section D; the crate README lists every rule).
//!
//! For one label of a labeled series:
//!
//! 1. [`label_runs`] splits the rows into the contiguous runs of the label. Runs of at most
//!    `backward + forward + 2` rows (12 for BTC) are skipped, as TradeMaster skips them.
//! 2. Every tested run is its own episode of [`AtEnv`] (100 000 cash, no position), played by the agent,
//!    by [`BlindBid`] (the fifty score) and by [`DoNothing`] (the zero score).
//! 3. [`TmMetrics`] aggregates each policy's runs with TradeMaster's `evaluate_metrics` definitions,
//!    [`TmSigma`] and [`TmScores`] turn them into scores:
//!    `σ = |zero − fifty| / 0.675` (profit metrics) or `/ (3 − 0.675)` (volatility, drawdown),
//!    profit score `Φ((x − zero)/σ)·200 − 100`, risk score `Φ(3 − (x − zero)/σ)·200 − 100`,
//!    Profitability = mean(tr, Sharpe, Calmar, Sortino), Risk Control = mean(MDD, Vol).
//!
//! TradeMaster's metrics are not the textbook ones (its "daily return" is dollar P&L, its Calmar and
//! Sortino use dollar sums, its drawdown is taken from each run's overall maximum, nothing is annualised
//! except the Sharpe). They are kept as they are in [`TmMetrics`]; the textbook versions are computed
//! separately in [`TextbookMetrics`] and scored separately in [`TextbookScores`]. The two are never mixed.
//!
//! Degenerate inputs and what happens (TradeMaster → quantdesk):
//! - label absent: `ValueError` → [`RadarError::LabelNotPresent`];
//! - no run long enough: an undefined name or a division by zero later → [`RadarError::NoTestableRun`];
//! - NaN or non-positive closes: NaN metrics or a crash → [`RadarError::Env`] naming the row, checked
//!   over the whole series;
//! - σ = 0 (Blind_Bid and Do_Nothing coincide on a metric, e.g. when one unit costs more than the cash):
//!   numpy division gives scores ±100 or NaN → [`RadarError::ZeroSigma`] by default, or numpy's result
//!   with [`ZeroSigmaRule::NumpyLike`].

use std::f64::consts::FRAC_1_SQRT_2;

use serde::Serialize;
use thiserror::Error;

use crate::at_env::{
    AtConfig, AtEnv, AtEnvError, BlindBid, DoNothing, Episode, FeatureMatrix, Policy, run_episode, tm_sortino,
};
use crate::at_env::{np_mean, np_std, np_sum};

/// TradeMaster's annualisation factor (`time_scale_factor`, hard-coded to 252 for daily bars).
pub const TM_TIME_SCALE_FACTOR: f64 = 252.0;

/// The quantile of the fifty score: Blind_Bid sits 0.675 σ from Do_Nothing.
pub const FIFTY_SCORE_Z: f64 = 0.675;

/// Errors of the dynamics test.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RadarError {
    /// Labels and closes differ in length.
    #[error("{labels} labels for {closes} closes")]
    LengthMismatch {
        /// Labels given.
        labels: usize,
        /// Closes given.
        closes: usize,
    },
    /// The label never occurs (TradeMaster: "There is no market of this style in the test dataset").
    #[error("label {label} does not occur in the series")]
    LabelNotPresent {
        /// The label, formatted.
        label: String,
    },
    /// The label occurs only in runs too short to test.
    #[error("label {label} occurs in {runs} run(s), none longer than {min_length_exclusive} rows")]
    NoTestableRun {
        /// The label, formatted.
        label: String,
        /// Number of runs of the label.
        runs: usize,
        /// Runs must be longer than this.
        min_length_exclusive: usize,
    },
    /// σ is zero for some metrics: Blind_Bid and Do_Nothing coincide there, so scores are meaningless.
    #[error("σ is zero for {metrics:?}: Blind_Bid and Do_Nothing coincide, the scores would be ±100 or NaN")]
    ZeroSigma {
        /// The metrics with σ = 0.
        metrics: Vec<&'static str>,
    },
    /// The environment refused the input (bad close, configuration, action).
    #[error(transparent)]
    Env(#[from] AtEnvError),
}

/// What to do when σ = 0 for a TradeMaster metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ZeroSigmaRule {
    /// Refuse with [`RadarError::ZeroSigma`] (default).
    #[default]
    Error,
    /// Do what numpy does: `(x − zero)/0` is ±inf (score ±100; a risk score −100 above zero) or NaN when
    /// `x = zero`.
    NumpyLike,
}

/// Parameters of the dynamics test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DynamicsConfig {
    /// The environment of every run.
    pub env: AtConfig,
    /// Runs must be longer than this many rows to be tested. `None`: TradeMaster's
    /// `backward + forward + 2`. A smaller value is raised to `backward + forward + 1` (one trading step).
    pub min_length_exclusive: Option<usize>,
    /// Zero-σ handling.
    pub zero_sigma: ZeroSigmaRule,
    /// Periods per year for the textbook metrics (252 for daily bars).
    pub periods_per_year: f64,
}

impl Default for DynamicsConfig {
    fn default() -> Self {
        Self {
            env: AtConfig::default(),
            min_length_exclusive: None,
            zero_sigma: ZeroSigmaRule::Error,
            periods_per_year: 252.0,
        }
    }
}

impl DynamicsConfig {
    /// The effective minimum (exclusive) run length.
    pub fn min_length(&self) -> usize {
        let floor = self.env.backward_num_day + self.env.forward_num_day + 1;
        self.min_length_exclusive.unwrap_or(floor + 1).max(floor)
    }
}

/// A contiguous run of one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Position among the label's runs, from 0.
    pub index: usize,
    /// First row (0-based, in the whole series).
    pub start_row: usize,
    /// Last row, inclusive.
    pub end_row: usize,
    /// Number of rows.
    pub length: usize,
    /// Whether the run is long enough to be tested.
    pub tested: bool,
}

/// The contiguous runs of `label` in `labels`, in order; a run is tested when its length exceeds
/// `min_length_exclusive`. TradeMaster numbers a run's rows by distinct dates; with one row per date, as
/// here, that is its row count.
pub fn label_runs<T: PartialEq>(labels: &[T], label: &T, min_length_exclusive: usize) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for i in 0..=labels.len() {
        let hit = i < labels.len() && labels[i] == *label;
        match (hit, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let length = i - s;
                out.push(Segment {
                    index: out.len(),
                    start_row: s,
                    end_row: i - 1,
                    length,
                    tested: length > min_length_exclusive,
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The three policies' values of something.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerPolicy<M> {
    /// The agent under test.
    pub agent: M,
    /// Blind_Bid, the fifty score.
    pub blind_bid: M,
    /// Do_Nothing, the zero score.
    pub do_nothing: M,
}

/// One tested run played by the three policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRun {
    /// The run.
    pub segment: Segment,
    /// The agent's episode.
    pub agent: Episode,
    /// Blind_Bid's episode.
    pub blind_bid: Episode,
    /// Do_Nothing's episode.
    pub do_nothing: Episode,
}

/// TradeMaster's dynamics-test metrics of one policy over its runs (`evaluate_metrics`), with its
/// definitions, labelled as such:
///
/// - `excess_profit`: mean over runs of `tr·100`. **Nothing is subtracted** (no buy-and-hold).
/// - `tr`: mean over runs of `A[-1]/(A[0] + 1e-10) − 1`.
/// - `sharpe_ratio`: `mean(D)·√252/(std(D) + 1e-10)` where `D` is all runs' `daily_return` concatenated:
///   **dollar P&L**, each run's leading 0 included, population std.
/// - `vol`: `std(D)`, **dollars**, not annualised.
/// - `mdd`: mean over runs of `max((max(A) − A)/max(A) + 1e-10)`: measured from the run's **overall
///   maximum**, not a running peak, so a rise before the peak counts as drawdown.
/// - `cr` ("Calmar"): mean over runs of `sum(daily_return)/(mdd_run + 1e-10)`: dollars over a fraction.
/// - `sor` ("Sortino"): `sum(D)/(std(D[D<0]) + 1e-10)/(√len(D) + 1e-10)`; no negative entry gives
///   a std of 0 and a blow-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TmMetrics {
    /// TradeMaster's "Excess Profit" (percent; = 100·tr).
    pub excess_profit: f64,
    /// Mean total return.
    pub tr: f64,
    /// Sharpe of the dollar P&L.
    pub sharpe_ratio: f64,
    /// Std of the dollar P&L.
    pub vol: f64,
    /// Mean drawdown from the overall maximum (+1e-10).
    pub mdd: f64,
    /// Mean dollar-P&L "Calmar".
    pub cr: f64,
    /// Dollar-P&L "Sortino".
    pub sor: f64,
}

impl TmMetrics {
    /// TradeMaster's `evaluate_metrics` over the episodes of one policy (NaN for none).
    pub fn from_episodes(episodes: &[&Episode]) -> Self {
        let n = episodes.len() as f64;
        let mut excess = 0.0;
        let mut tr = 0.0;
        let mut mdd_sum = 0.0;
        let mut cr_sum = 0.0;
        let mut merged = Vec::new();
        for ep in episodes {
            let a = &ep.asset_memory;
            excess += ep.excess_profit();
            let first = a.first().copied().unwrap_or(f64::NAN);
            let last = a.last().copied().unwrap_or(f64::NAN);
            tr += last / (first + 1e-10) - 1.0;
            let mdd = tm_mdd_from_max(a);
            mdd_sum += mdd;
            cr_sum += np_sum(&ep.daily_return) / (mdd + 1e-10);
            merged.extend_from_slice(&ep.daily_return);
        }
        let sd = np_std(&merged);
        Self {
            excess_profit: excess / n,
            tr: tr / n,
            sharpe_ratio: np_mean(&merged) * TM_TIME_SCALE_FACTOR.sqrt() / (sd + 1e-10),
            vol: sd,
            mdd: mdd_sum / n,
            cr: cr_sum / n,
            sor: tm_sortino(&merged),
        }
    }
}

/// `max((max(A) − A)/max(A) + 1e-10)` (Python's `max` keeps the first of equal maxima; NaN for none).
fn tm_mdd_from_max(a: &[f64]) -> f64 {
    let Some(&first) = a.first() else { return f64::NAN };
    let mut m = first;
    for &v in &a[1..] {
        if v > m {
            m = v;
        }
    }
    let mut out = (m - first) / m + 1e-10;
    for &v in &a[1..] {
        let d = (m - v) / m + 1e-10;
        if d > out {
            out = d;
        }
    }
    out
}

/// σ per TradeMaster metric: `|zero − fifty| / 0.675` for the profit metrics, `/(3 − 0.675)` for vol
/// and mdd.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TmSigma {
    /// σ of excess_profit.
    pub excess_profit: f64,
    /// σ of tr.
    pub tr: f64,
    /// σ of sharpe_ratio.
    pub sharpe_ratio: f64,
    /// σ of vol.
    pub vol: f64,
    /// σ of mdd.
    pub mdd: f64,
    /// σ of cr.
    pub cr: f64,
    /// σ of sor.
    pub sor: f64,
}

impl TmSigma {
    /// σ from the zero-score (Do_Nothing) and fifty-score (Blind_Bid) metrics.
    pub fn new(zero: &TmMetrics, fifty: &TmMetrics) -> Self {
        let p = |z: f64, f: f64| (z - f).abs() / FIFTY_SCORE_Z;
        let r = |z: f64, f: f64| (z - f).abs() / (3.0 - FIFTY_SCORE_Z);
        Self {
            excess_profit: p(zero.excess_profit, fifty.excess_profit),
            tr: p(zero.tr, fifty.tr),
            sharpe_ratio: p(zero.sharpe_ratio, fifty.sharpe_ratio),
            vol: r(zero.vol, fifty.vol),
            mdd: r(zero.mdd, fifty.mdd),
            cr: p(zero.cr, fifty.cr),
            sor: p(zero.sor, fifty.sor),
        }
    }

    /// The metrics whose σ is zero (or NaN).
    pub fn degenerate(&self) -> Vec<&'static str> {
        [
            ("Excess_Profit", self.excess_profit),
            ("tr", self.tr),
            ("sharpe_ratio", self.sharpe_ratio),
            ("vol", self.vol),
            ("mdd", self.mdd),
            ("cr", self.cr),
            ("sor", self.sor),
        ]
        .into_iter()
        .filter(|(_, s)| !(*s != 0.0))
        .map(|(n, _)| n)
        .collect()
    }
}

/// Profit-metric score: `Φ((x − zero)/σ)·200 − 100` (higher is better; Do_Nothing 0, Blind_Bid ±50.03).
pub fn profit_score(x: f64, zero: f64, sigma: f64) -> f64 {
    phi((x - zero) / sigma) * 200.0 - 100.0
}

/// Risk-metric score: `Φ(3 − (x − zero)/σ)·200 − 100` (lower risk is better; Do_Nothing 99.73, Blind_Bid
/// +50.03).
pub fn risk_score(x: f64, zero: f64, sigma: f64) -> f64 {
    phi(3.0 - (x - zero) / sigma) * 200.0 - 100.0
}

/// TradeMaster's radar scores of one policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TmScores {
    /// Score of excess_profit (equals the tr score up to rounding).
    pub excess_profit: f64,
    /// Score of tr.
    pub tr: f64,
    /// Score of sharpe_ratio.
    pub sharpe_ratio: f64,
    /// Score of cr.
    pub cr: f64,
    /// Score of sor.
    pub sor: f64,
    /// Score of vol (risk).
    pub vol: f64,
    /// Score of mdd (risk).
    pub mdd: f64,
    /// `(tr + sharpe + cr + sor)/4` (`calculate_radar_score`).
    pub profitability: f64,
    /// `(mdd + vol)/2`.
    pub risk_control: f64,
}

impl TmScores {
    /// Scores `x` against the zero-score metrics and σ.
    pub fn new(x: &TmMetrics, zero: &TmMetrics, sigma: &TmSigma) -> Self {
        let tr = profit_score(x.tr, zero.tr, sigma.tr);
        let sharpe_ratio = profit_score(x.sharpe_ratio, zero.sharpe_ratio, sigma.sharpe_ratio);
        let cr = profit_score(x.cr, zero.cr, sigma.cr);
        let sor = profit_score(x.sor, zero.sor, sigma.sor);
        let vol = risk_score(x.vol, zero.vol, sigma.vol);
        let mdd = risk_score(x.mdd, zero.mdd, sigma.mdd);
        Self {
            excess_profit: profit_score(x.excess_profit, zero.excess_profit, sigma.excess_profit),
            tr,
            sharpe_ratio,
            cr,
            sor,
            vol,
            mdd,
            profitability: (tr + sharpe_ratio + cr + sor) / 4.0,
            risk_control: (mdd + vol) / 2.0,
        }
    }
}

/// The radar chart's axes, as `plot_radar_chart` names them.
pub const RADAR_AXES: [&str; 6] =
    ["Excess Profit", "Sharp Ratio", "Calmar Ratio", "Sortino Ratio", "Volatility", "Max Drawdown"];
/// The axes' angles in degrees.
pub const RADAR_THETA: [u32; 6] = [0, 60, 120, 180, 240, 300];

/// The radar chart of `plot_radar_chart`: `r = score + 100` on six axes, and its bars, whose
/// Profitability uses Excess Profit instead of tr (`mean(EP, Sharpe, Calmar, Sortino) + 100`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RadarPlot {
    /// Axis names.
    pub axes: [&'static str; 6],
    /// Axis angles in degrees.
    pub theta: [u32; 6],
    /// Radii (score + 100).
    pub r: [f64; 6],
    /// The Profitability bar.
    pub profitability_bar: f64,
    /// The Risk Control bar.
    pub risk_control_bar: f64,
}

impl RadarPlot {
    /// The chart of one policy's scores.
    pub fn new(s: &TmScores) -> Self {
        let r = [
            s.excess_profit + 100.0,
            s.sharpe_ratio + 100.0,
            s.cr + 100.0,
            s.sor + 100.0,
            s.vol + 100.0,
            s.mdd + 100.0,
        ];
        Self {
            axes: RADAR_AXES,
            theta: RADAR_THETA,
            r,
            profitability_bar: (r[0] + r[1] + r[2] + r[3]) / 4.0,
            risk_control_bar: (r[4] + r[5]) / 2.0,
        }
    }
}

/// A ratio with quantdesk's convention: an exact 0 numerator gives 0 (a flat portfolio), a 0 or non-finite
/// denominator otherwise gives `None` (undefined).
fn ratio(num: f64, den: f64) -> Option<f64> {
    if num == 0.0 {
        Some(0.0)
    } else if den == 0.0 || !den.is_finite() || !num.is_finite() {
        None
    } else {
        Some(num / den)
    }
}

/// Textbook performance metrics (not TradeMaster's), on return **rates** `r_t = A_t/A_{t−1} − 1` of the
/// portfolio value, `P` periods per year, risk-free rate 0:
///
/// - `total_return = A_last/A_first − 1` (no epsilon);
/// - `excess_return = total_return − (p_last/p_first − 1)`, buy-and-hold over the same valuation closes;
/// - `annualized_return = mean(r)·P` (arithmetic);
/// - `volatility = std(r)·√P`, sample std (ddof 1);
/// - `sharpe_ratio = annualized_return / volatility`;
/// - `max_drawdown = max((peak_t − A_t)/peak_t)` with a running peak;
/// - `calmar_ratio = annualized_return / max_drawdown`;
/// - `sortino_ratio = annualized_return / (√(mean(min(r, 0)²))·√P)`, downside deviation over all periods.
///
/// Ratios are `None` when undefined (zero denominator), and 0 for an exactly flat portfolio.
/// Over several runs ([`TextbookMetrics::from_episodes`]) total, excess return and drawdown are averaged over
/// runs and the rate-based metrics use all runs' rates together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextbookMetrics {
    /// Total return.
    pub total_return: f64,
    /// Total return minus buy-and-hold's.
    pub excess_return: f64,
    /// Arithmetic annualised return.
    pub annualized_return: f64,
    /// Annualised volatility of return rates (NaN with fewer than two rates).
    pub volatility: f64,
    /// Sharpe ratio.
    pub sharpe_ratio: Option<f64>,
    /// Running-peak max drawdown.
    pub max_drawdown: f64,
    /// Calmar ratio.
    pub calmar_ratio: Option<f64>,
    /// Sortino ratio.
    pub sortino_ratio: Option<f64>,
}

impl TextbookMetrics {
    /// The metrics of one episode.
    pub fn from_episode(ep: &Episode, periods_per_year: f64) -> Self {
        Self::from_episodes(&[ep], periods_per_year)
    }

    /// The metrics over several runs (see the type's docs); NaN fields for none.
    pub fn from_episodes(episodes: &[&Episode], periods_per_year: f64) -> Self {
        let n = episodes.len() as f64;
        let mut rates = Vec::new();
        let (mut tr, mut ex, mut dd) = (0.0, 0.0, 0.0);
        for ep in episodes {
            let a = &ep.asset_memory;
            let (first, last) = (a.first().copied().unwrap_or(f64::NAN), a.last().copied().unwrap_or(f64::NAN));
            let t = last / first - 1.0;
            let bh = match (ep.steps.first(), ep.steps.last()) {
                (Some(s0), Some(s1)) => s1.next_price / s0.price - 1.0,
                _ => 0.0,
            };
            tr += t;
            ex += t - bh;
            dd += running_mdd(a);
            rates.extend(a.windows(2).map(|w| w[1] / w[0] - 1.0));
        }
        let m = rates.len() as f64;
        let mean = rates.iter().sum::<f64>() / m;
        let var = rates.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / (m - 1.0);
        let annualized_return = mean * periods_per_year;
        let volatility = var.sqrt() * periods_per_year.sqrt();
        let downside = (rates.iter().map(|r| r.min(0.0) * r.min(0.0)).sum::<f64>() / m).sqrt();
        let max_drawdown = dd / n;
        Self {
            total_return: tr / n,
            excess_return: ex / n,
            annualized_return,
            volatility,
            sharpe_ratio: ratio(annualized_return, volatility),
            max_drawdown,
            calmar_ratio: ratio(annualized_return, max_drawdown),
            sortino_ratio: ratio(annualized_return, downside * periods_per_year.sqrt()),
        }
    }
}

fn running_mdd(a: &[f64]) -> f64 {
    let mut peak = f64::NEG_INFINITY;
    let mut mdd = 0.0f64;
    for &v in a {
        peak = peak.max(v);
        mdd = mdd.max((peak - v) / peak);
    }
    mdd
}

/// σ of the textbook metrics, by the same rule as TradeMaster's (`None` when a baseline value is undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextbookSigma {
    /// σ of total_return.
    pub total_return: f64,
    /// σ of excess_return.
    pub excess_return: f64,
    /// σ of sharpe_ratio.
    pub sharpe_ratio: Option<f64>,
    /// σ of calmar_ratio.
    pub calmar_ratio: Option<f64>,
    /// σ of sortino_ratio.
    pub sortino_ratio: Option<f64>,
    /// σ of volatility.
    pub volatility: f64,
    /// σ of max_drawdown.
    pub max_drawdown: f64,
}

impl TextbookSigma {
    /// σ from the zero-score and fifty-score textbook metrics.
    pub fn new(zero: &TextbookMetrics, fifty: &TextbookMetrics) -> Self {
        let p = |z: f64, f: f64| (z - f).abs() / FIFTY_SCORE_Z;
        let po = |z: Option<f64>, f: Option<f64>| Some(p(z?, f?));
        let r = |z: f64, f: f64| (z - f).abs() / (3.0 - FIFTY_SCORE_Z);
        Self {
            total_return: p(zero.total_return, fifty.total_return),
            excess_return: p(zero.excess_return, fifty.excess_return),
            sharpe_ratio: po(zero.sharpe_ratio, fifty.sharpe_ratio),
            calmar_ratio: po(zero.calmar_ratio, fifty.calmar_ratio),
            sortino_ratio: po(zero.sortino_ratio, fifty.sortino_ratio),
            volatility: r(zero.volatility, fifty.volatility),
            max_drawdown: r(zero.max_drawdown, fifty.max_drawdown),
        }
    }
}

/// Radar scores of the textbook metrics (same formulas as [`TmScores`]); `None` where a value or σ is
/// undefined or σ is zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextbookScores {
    /// Score of total_return.
    pub total_return: Option<f64>,
    /// Score of excess_return.
    pub excess_return: Option<f64>,
    /// Score of sharpe_ratio.
    pub sharpe_ratio: Option<f64>,
    /// Score of calmar_ratio.
    pub calmar_ratio: Option<f64>,
    /// Score of sortino_ratio.
    pub sortino_ratio: Option<f64>,
    /// Score of volatility (risk).
    pub volatility: Option<f64>,
    /// Score of max_drawdown (risk).
    pub max_drawdown: Option<f64>,
    /// Mean of the total-return, Sharpe, Calmar and Sortino scores.
    pub profitability: Option<f64>,
    /// Mean of the drawdown and volatility scores.
    pub risk_control: Option<f64>,
}

impl TextbookScores {
    /// Scores `x` against the zero-score metrics and σ.
    pub fn new(x: &TextbookMetrics, zero: &TextbookMetrics, s: &TextbookSigma) -> Self {
        let ok = |v: f64| v.is_finite() && v != 0.0;
        let prof = |x: Option<f64>, z: Option<f64>, s: Option<f64>| {
            let (x, z, s) = (x?, z?, s?);
            (ok(s) && x.is_finite()).then(|| profit_score(x, z, s))
        };
        let risk = |x: f64, z: f64, s: f64| (ok(s) && x.is_finite()).then(|| risk_score(x, z, s));
        let total_return = prof(Some(x.total_return), Some(zero.total_return), Some(s.total_return));
        let sharpe_ratio = prof(x.sharpe_ratio, zero.sharpe_ratio, s.sharpe_ratio);
        let calmar_ratio = prof(x.calmar_ratio, zero.calmar_ratio, s.calmar_ratio);
        let sortino_ratio = prof(x.sortino_ratio, zero.sortino_ratio, s.sortino_ratio);
        let volatility = risk(x.volatility, zero.volatility, s.volatility);
        let max_drawdown = risk(x.max_drawdown, zero.max_drawdown, s.max_drawdown);
        Self {
            total_return,
            excess_return: prof(Some(x.excess_return), Some(zero.excess_return), Some(s.excess_return)),
            sharpe_ratio,
            calmar_ratio,
            sortino_ratio,
            volatility,
            max_drawdown,
            profitability: (|| Some((total_return? + sharpe_ratio? + calmar_ratio? + sortino_ratio?) / 4.0))(),
            risk_control: (|| Some((max_drawdown? + volatility?) / 2.0))(),
        }
    }
}

/// The textbook counterpart of the TradeMaster metrics and scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextbookReport {
    /// Metrics per policy.
    pub metrics: PerPolicy<TextbookMetrics>,
    /// σ.
    pub sigma: TextbookSigma,
    /// Scores per policy.
    pub scores: PerPolicy<TextbookScores>,
}

/// The result of [`dynamics_test`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DynamicsReport {
    /// All runs of the label, tested or not.
    pub segments: Vec<Segment>,
    /// The tested runs with the three policies' episodes.
    pub runs: Vec<SegmentRun>,
    /// TradeMaster's metrics per policy.
    pub metrics: PerPolicy<TmMetrics>,
    /// TradeMaster's σ.
    pub sigma: TmSigma,
    /// TradeMaster's scores per policy (`scores.agent` is the radar; the baselines' are TradeMaster's
    /// `baseline_scores`).
    pub scores: PerPolicy<TmScores>,
    /// The agent's radar chart.
    pub radar_plot: RadarPlot,
    /// The textbook metrics and scores, kept apart.
    pub textbook: TextbookReport,
}

/// Runs TradeMaster's dynamics test for `label`: every run of the label longer than
/// [`DynamicsConfig::min_length`] is played by `agent`, Blind_Bid and Do_Nothing, then scored.
/// `features`, when given, must have one row per close and forms the agent's observation.
pub fn dynamics_test<T: PartialEq + std::fmt::Debug>(
    closes: &[f64],
    labels: &[T],
    label: &T,
    features: Option<&FeatureMatrix>,
    agent: &mut dyn Policy,
    cfg: &DynamicsConfig,
) -> Result<DynamicsReport, RadarError> {
    cfg.env.validate()?;
    if labels.len() != closes.len() {
        return Err(RadarError::LengthMismatch { labels: labels.len(), closes: closes.len() });
    }
    if let Some(fm) = features
        && fm.rows() != closes.len()
    {
        return Err(AtEnvError::FeatureShape(format!("{} feature rows for {} closes", fm.rows(), closes.len())).into());
    }
    for (index, &value) in closes.iter().enumerate() {
        if !value.is_finite() {
            return Err(AtEnvError::NonFiniteClose { index, value }.into());
        }
        if value <= 0.0 {
            return Err(AtEnvError::NonPositiveClose { index, value }.into());
        }
    }
    let min_len = cfg.min_length();
    let segments = label_runs(labels, label, min_len);
    if segments.is_empty() {
        return Err(RadarError::LabelNotPresent { label: format!("{label:?}") });
    }
    if !segments.iter().any(|s| s.tested) {
        return Err(RadarError::NoTestableRun {
            label: format!("{label:?}"),
            runs: segments.len(),
            min_length_exclusive: min_len,
        });
    }
    let mut runs = Vec::new();
    for seg in segments.iter().filter(|s| s.tested) {
        let rows = seg.start_row..seg.end_row + 1;
        let seg_closes = closes[rows.clone()].to_vec();
        let mut env = match features {
            None => AtEnv::new(cfg.env, seg_closes)?,
            Some(fm) => AtEnv::with_features(cfg.env, seg_closes, fm.slice_rows(rows.start, rows.end))?,
        };
        let agent_ep = run_episode(&mut env, agent)?;
        let blind_bid = run_episode(&mut env, &mut BlindBid)?;
        let do_nothing = run_episode(&mut env, &mut DoNothing)?;
        runs.push(SegmentRun { segment: *seg, agent: agent_ep, blind_bid, do_nothing });
    }
    let pick = |f: fn(&SegmentRun) -> &Episode| runs.iter().map(f).collect::<Vec<&Episode>>();
    let eps =
        PerPolicy { agent: pick(|r| &r.agent), blind_bid: pick(|r| &r.blind_bid), do_nothing: pick(|r| &r.do_nothing) };
    let metrics = PerPolicy {
        agent: TmMetrics::from_episodes(&eps.agent),
        blind_bid: TmMetrics::from_episodes(&eps.blind_bid),
        do_nothing: TmMetrics::from_episodes(&eps.do_nothing),
    };
    let sigma = TmSigma::new(&metrics.do_nothing, &metrics.blind_bid);
    let degenerate = sigma.degenerate();
    if cfg.zero_sigma == ZeroSigmaRule::Error && !degenerate.is_empty() {
        return Err(RadarError::ZeroSigma { metrics: degenerate });
    }
    let zero = metrics.do_nothing;
    let scores = PerPolicy {
        agent: TmScores::new(&metrics.agent, &zero, &sigma),
        blind_bid: TmScores::new(&metrics.blind_bid, &zero, &sigma),
        do_nothing: TmScores::new(&metrics.do_nothing, &zero, &sigma),
    };
    let p = cfg.periods_per_year;
    let tb = PerPolicy {
        agent: TextbookMetrics::from_episodes(&eps.agent, p),
        blind_bid: TextbookMetrics::from_episodes(&eps.blind_bid, p),
        do_nothing: TextbookMetrics::from_episodes(&eps.do_nothing, p),
    };
    let tb_sigma = TextbookSigma::new(&tb.do_nothing, &tb.blind_bid);
    let textbook = TextbookReport {
        metrics: tb,
        sigma: tb_sigma,
        scores: PerPolicy {
            agent: TextbookScores::new(&tb.agent, &tb.do_nothing, &tb_sigma),
            blind_bid: TextbookScores::new(&tb.blind_bid, &tb.do_nothing, &tb_sigma),
            do_nothing: TextbookScores::new(&tb.do_nothing, &tb.do_nothing, &tb_sigma),
        },
    };
    Ok(DynamicsReport { segments, runs, metrics, sigma, radar_plot: RadarPlot::new(&scores.agent), scores, textbook })
}

// ---------------------------------------------------------------------------------------------
// The error function and the normal CDF: W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev
// approximations for the error function", Math. Comp. 1969; the CALERF packet, 1990), accurate to double
// precision.

#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ERF_A: [f64; 5] = [
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
];
#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ERF_B: [f64; 4] =
    [2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03];
#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ERF_C: [f64; 9] = [
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
];
#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ERF_D: [f64; 8] = [
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
];
#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ERF_P: [f64; 6] = [
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
];
#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ERF_Q: [f64; 5] = [
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
];
#[allow(clippy::excessive_precision)] // Cody's published digits, kept as printed.
const ONE_OVER_SQRT_PI: f64 = 5.6418958354775628695e-1;
const ERF_THRESH: f64 = 0.46875;
const ERF_XBIG: f64 = 26.543;
const ERF_XSMALL: f64 = 1.11e-16;

/// `erfc(y)` for `y > 0.46875` (Cody's second and third intervals), NaN for NaN.
fn erfc_above_thresh(y: f64) -> f64 {
    if y >= ERF_XBIG {
        return 0.0;
    }
    let r = if y <= 4.0 {
        let mut num = ERF_C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + ERF_C[i]) * y;
            den = (den + ERF_D[i]) * y;
        }
        (num + ERF_C[7]) / (den + ERF_D[7])
    } else {
        let z = 1.0 / (y * y);
        let mut num = ERF_P[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + ERF_P[i]) * z;
            den = (den + ERF_Q[i]) * z;
        }
        let r = z * (num + ERF_P[4]) / (den + ERF_Q[4]);
        (ONE_OVER_SQRT_PI - r) / y
    };
    // exp(-y²) split as exp(-ys²)·exp(-(y-ys)(y+ys)) with ys = y rounded down to 1/16, for accuracy.
    let ys = (y * 16.0).trunc() / 16.0;
    let del = (y - ys) * (y + ys);
    (-ys * ys).exp() * (-del).exp() * r
}

/// `erf(x)` for `|x| <= 0.46875`.
fn erf_small(x: f64) -> f64 {
    let y = x.abs();
    let ysq = if y > ERF_XSMALL { y * y } else { 0.0 };
    let mut num = ERF_A[4] * ysq;
    let mut den = ysq;
    for i in 0..3 {
        num = (num + ERF_A[i]) * ysq;
        den = (den + ERF_B[i]) * ysq;
    }
    x * (num + ERF_A[3]) / (den + ERF_B[3])
}

/// The error function, to double precision (Cody).
pub fn erf(x: f64) -> f64 {
    let y = x.abs();
    if y <= ERF_THRESH {
        return erf_small(x);
    }
    let r = (0.5 - erfc_above_thresh(y)) + 0.5;
    if x < 0.0 { -r } else { r }
}

/// The complementary error function `1 − erf(x)`, to double precision without cancellation in the tail
/// (Cody).
pub fn erfc(x: f64) -> f64 {
    let y = x.abs();
    if y <= ERF_THRESH {
        return 1.0 - erf_small(x);
    }
    let r = erfc_above_thresh(y);
    if x < 0.0 { 2.0 - r } else { r }
}

/// The standard normal CDF Φ, computed as scipy's `ndtr` does: `0.5 + 0.5·erf(z/√2)` near 0, else
/// `0.5·erfc(|z|/√2)` (mirrored for positive z). NaN gives NaN, ±inf give 1 and 0.
pub fn phi(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let x = z * FRAC_1_SQRT_2;
    let a = x.abs();
    if a < FRAC_1_SQRT_2 {
        0.5 + 0.5 * erf(x)
    } else {
        let y = 0.5 * erfc(a);
        if x > 0.0 { 1.0 - y } else { y }
    }
}
