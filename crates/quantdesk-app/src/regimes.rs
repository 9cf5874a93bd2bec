//! Market dynamics (regimes) for users: TradeMaster's slice-and-merge labels of a series
//! ([`quantdesk_regimes::labeling`]), the per-regime statistics, and the dynamics test of an agent
//! on one label or all of them ([`quantdesk_regimes::radar`]).
//!
//! Series come from stored bars through [`crate::market::stored_series`] (the loader the chart's
//! bars and the other engines use: resolution 1D and qfq adjustment by default) or from memory
//! ([`label_series`] takes the times and values). The key indicator is the close (`close`: raw
//! prices of stored bars) or the adjusted close (`adjcp`: the requested adjustment, qfq by default);
//! a file's bars are taken as they are, so both read its close column.
//!
//! **Ex-post labels.** TradeMaster's labels use a zero-phase filter and quantiles of the whole
//! series: they look ahead. Every answer says which filter made it (`"filter": "zero_phase"` or
//! `"causal"`). Anything a strategy would read must use `causal = true`: [`label_causal`] with the
//! window [`causal_window`] = `2 · max_length` (at least `max(min_length, 2)`), so the label of a
//! bar depends on that bar and the ones before it only; bars without enough history have no label.
//!
//! **Agents** of the dynamics test ([`Agent`]): TradeMaster's MA policy (`ma`), Do-Nothing,
//! Blind-Buy, or a built-in strategy of `quantdesk_backtest::strategy::BUILT_IN` adapted as an
//! `at_env::Policy` ([`strategy_targets`], [`StrategyPolicy`]): the strategy runs once over the
//! whole series through the backtest engine with fills at the signal bar's close, so its
//! position after each bar's close is known from that bar and the ones before it (warmed up on
//! the history before each tested run); long → target holding 1 unit, flat → 0. That target is
//! the agent's one observation feature, and the agent's action moves the environment's holdings
//! one unit towards it (`max_volume + 1` buy one, `max_volume − 1` sell one, `max_volume` hold),
//! exactly as TradeMaster's MA agent maps its signal.

use quantdesk_backtest::strategy::{self, Params};
use quantdesk_backtest::{BacktestConfig, FillMode, Series, Side};
use quantdesk_core::{Adjustment, Resolution};
use quantdesk_regimes::at_env::{AtConfig, BlindBid, DoNothing, FeatureMatrix, MaPolicy, Observation, Policy};
use quantdesk_regimes::labeling::{self, FilterKind, LabelingError, LabelingMethod, LabelingParams};
use quantdesk_regimes::radar::{self, DynamicsConfig, DynamicsReport, RadarError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;
use crate::market::{BarRequest, BarSource, stored_series};

pub mod split;
pub use split::{RegimeSplit, RegimeSplitRow, SplitFigures, backtest_split, split_by_regime};

/// Bounds of the parameters (stated in the API's schema too).
pub const MAX_DYNAMICS: usize = 10;
/// Largest `min_length`.
pub const MAX_MIN_LENGTH: i64 = 10_000;
/// Largest `max_length`.
pub const MAX_MAX_LENGTH: usize = 100_000;
/// Largest `filter_strength`.
pub const MAX_FILTER_STRENGTH: f64 = 100.0;
/// Largest `merging_threshold`.
pub const MAX_MERGING_THRESHOLD: f64 = 100.0;
/// Largest `merging_constraint`.
pub const MAX_MERGING_CONSTRAINT: i64 = 10;

/// The column the key indicator is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyIndicator {
    /// The close as stored (unadjusted).
    Close,
    /// The adjusted close (the requested adjustment, qfq by default). TradeMaster's `adjcp`.
    #[default]
    Adjcp,
}

impl KeyIndicator {
    /// `close` or `adjcp`.
    pub fn parse(raw: &str) -> Option<KeyIndicator> {
        match raw {
            "close" => Some(KeyIndicator::Close),
            "adjcp" => Some(KeyIndicator::Adjcp),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            KeyIndicator::Close => "close",
            KeyIndicator::Adjcp => "adjcp",
        }
    }
    /// The adjustment stored bars are read with: none for `close`, `adjusted` for `adjcp`.
    pub fn adjustment(self, adjusted: Adjustment) -> Adjustment {
        match self {
            KeyIndicator::Close => Adjustment::None,
            KeyIndicator::Adjcp => adjusted,
        }
    }
}

/// How segments become labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Thresholds at the slope quantiles (TradeMaster's default).
    #[default]
    Quantile,
    /// Thresholds from TradeMaster's automatic slope interval.
    Slope,
    /// DTW k-means of the segments' filtered returns (deterministic seed).
    Dtw,
}

impl Method {
    /// `quantile`, `slope` or `dtw` (also `DTW`).
    pub fn parse(raw: &str) -> Option<Method> {
        match raw {
            "quantile" => Some(Method::Quantile),
            "slope" => Some(Method::Slope),
            "dtw" | "DTW" => Some(Method::Dtw),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Quantile => "quantile",
            Method::Slope => "slope",
            Method::Dtw => "dtw",
        }
    }
}

/// The labeling parameters a user gives (TradeMaster's, under shorter names). The defaults are
/// the setting of TradeMaster's BTC labels (3 dynamics, minimum length 12, maximum length
/// expectation 120), the labels of the golden file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegimeOptions {
    /// Number of dynamics (labels `0..dynamics`, 0 the most bearish); 2 to 10. Default 3.
    pub dynamics: usize,
    /// Minimum segment length and filter period (`min_length_limit`); −1 for none. Default 12.
    pub min_length: i64,
    /// Segments at least this long are not merged (`max_length_expectation`). Default 120.
    pub max_length: usize,
    /// Filter strength (divides the cut-off). Default 1.
    pub filter_strength: f64,
    /// DTW merge threshold; −1 disables merging. Default 0.03.
    pub merging_threshold: f64,
    /// Largest label distance of merged neighbours; negative disables. Default 1.
    pub merging_constraint: i64,
    /// quantile (default), slope or dtw.
    pub method: Method,
    /// Causal labels (each bar's label from that bar and the ones before it) instead of the
    /// ex-post zero-phase ones.
    pub causal: bool,
}

impl Default for RegimeOptions {
    fn default() -> Self {
        RegimeOptions {
            dynamics: 3,
            min_length: 12,
            max_length: 120,
            filter_strength: 1.0,
            merging_threshold: 0.03,
            merging_constraint: 1,
            method: Method::Quantile,
            causal: false,
        }
    }
}

fn bad_param(field: &str, message: String) -> AppError {
    AppError::invalid(message).with_code("invalid_params").with_field(field)
}

impl RegimeOptions {
    /// The bounds (the API's schema states them too) and TradeMaster's rule on the filter
    /// cut-off: `min_length · filter_strength > 2`.
    pub fn check(&self) -> Result<(), AppError> {
        if !(2..=MAX_DYNAMICS).contains(&self.dynamics) {
            return Err(bad_param("dynamics", format!("dynamics must be 2 to {MAX_DYNAMICS}, got {}", self.dynamics)));
        }
        if !(-1..=MAX_MIN_LENGTH).contains(&self.min_length) {
            return Err(bad_param(
                "min_length",
                format!("min_length must be -1 (none) to {MAX_MIN_LENGTH}, got {}", self.min_length),
            ));
        }
        if !(1..=MAX_MAX_LENGTH).contains(&self.max_length) {
            return Err(bad_param(
                "max_length",
                format!("max_length must be 1 to {MAX_MAX_LENGTH}, got {}", self.max_length),
            ));
        }
        if !(self.filter_strength.is_finite()
            && self.filter_strength > 0.0
            && self.filter_strength <= MAX_FILTER_STRENGTH)
        {
            return Err(bad_param(
                "filter_strength",
                format!(
                    "filter_strength must be above 0 and at most {MAX_FILTER_STRENGTH}, got {}",
                    self.filter_strength
                ),
            ));
        }
        if !(self.merging_threshold.is_finite() && (-1.0..=MAX_MERGING_THRESHOLD).contains(&self.merging_threshold)) {
            return Err(bad_param(
                "merging_threshold",
                format!(
                    "merging_threshold must be -1 (no merging) to {MAX_MERGING_THRESHOLD}, got {}",
                    self.merging_threshold
                ),
            ));
        }
        if !(-1..=MAX_MERGING_CONSTRAINT).contains(&self.merging_constraint) {
            return Err(bad_param(
                "merging_constraint",
                format!(
                    "merging_constraint must be -1 (none) to {MAX_MERGING_CONSTRAINT}, got {}",
                    self.merging_constraint
                ),
            ));
        }
        let wn = self.params(KeyIndicator::Close).wn();
        if !(wn > 0.0 && wn < 1.0) {
            return Err(bad_param(
                "min_length",
                format!(
                    "min_length × filter_strength must be above 2 (the filter cut-off 2 / (min_length × filter_strength) = {wn} must lie below 1; min_length -1 counts as 7)"
                ),
            ));
        }
        Ok(())
    }

    /// TradeMaster's parameters.
    pub fn params(&self, key: KeyIndicator) -> LabelingParams {
        LabelingParams {
            number_of_market_style: self.dynamics,
            min_length_limit: self.min_length,
            filter_strength: self.filter_strength,
            max_length_expectation: self.max_length,
            key_indicator: key.as_str().into(),
            labeling_method: match self.method {
                Method::Quantile => LabelingMethod::Quantile,
                Method::Slope => LabelingMethod::Slope,
                Method::Dtw => LabelingMethod::Dtw,
            },
            merging_threshold: self.merging_threshold,
            merging_dynamic_constraint: self.merging_constraint,
            ..LabelingParams::default()
        }
    }
}

/// The trailing window of the causal labels: `2 · max_length`, at least `max(min_length, 2)` (the
/// history a label needs). With the defaults (max length 120) it is 240 bars.
pub fn causal_window(o: &RegimeOptions) -> usize {
    o.max_length.saturating_mul(2).max(labeling::causal::min_history(&o.params(KeyIndicator::Close)))
}

/// The most work (bars × effective window) a causal labeling may take in a request; the
/// `regimes` job and the command line have no such bound.
pub const MAX_REQUEST_CAUSAL_WORK: usize = 3_000_000;

/// Refuses (422 `too_costly`) a causal labeling of `rows` bars whose cost, one model run on up to
/// `causal_window` bars per bar, exceeds [`MAX_REQUEST_CAUSAL_WORK`].
pub fn check_request_cost(rows: usize, o: &RegimeOptions) -> Result<(), AppError> {
    if !o.causal {
        return Ok(());
    }
    let work = rows.saturating_mul(causal_window(o).min(rows));
    if work > MAX_REQUEST_CAUSAL_WORK {
        return Err(AppError::invalid(format!(
            "causal labels of {rows} bars with a window of {} bars are too costly for a request (bars × window = {work} > {MAX_REQUEST_CAUSAL_WORK}); use a smaller max_length, a coarser resolution, or the regimes job",
            causal_window(o)
        ))
        .with_code("too_costly"));
    }
    Ok(())
}

/// `zero_phase` (ex-post) or `causal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Ex-post: the zero-phase filter and the quantiles see the whole series (they look ahead).
    ZeroPhase,
    /// Each bar's label depends on that bar and the ones before it.
    Causal,
}

impl From<FilterKind> for Filter {
    fn from(f: FilterKind) -> Self {
        match f {
            FilterKind::ZeroPhase => Filter::ZeroPhase,
            FilterKind::Causal => Filter::Causal,
        }
    }
}

/// One bar with TradeMaster's columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegimeRow {
    /// The bar's time, RFC 3339 UTC.
    pub time: String,
    /// The key indicator.
    pub value: f64,
    /// `pct_change` of the key indicator (0 on the first row).
    pub pct_return: f64,
    /// The filtered key indicator.
    pub key_indicator_filtered: f64,
    /// `pct_change` of the filtered key indicator.
    pub pct_return_filtered: f64,
    /// The label (`None` for causal labels without enough history).
    pub label: Option<usize>,
}

/// A run of one label (ex-post: a final segment of the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegimeSegment {
    /// First row.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
    /// Time of the first bar.
    pub first_time: String,
    /// Time of the last bar.
    pub last_time: String,
    pub label: usize,
    /// Ex-post segments: OLS slope of the filtered key indicator in percent per bar of the
    /// segment's first filtered value (TradeMaster's normalised slope). `None` for the runs of
    /// causal labels.
    pub normalized_slope: Option<f64>,
}

/// `None` for a statistic that is undefined (no run of the label, or a one-bar run's slope).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Per-label statistics (TradeMaster's `metrics_of_each_dynamics`, population std over the runs
/// of the label, measured on the raw key indicator), plus the per-bar return. A statistic is
/// `null` where it is undefined (a label without runs; the slope of a one-bar run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegimeStatistics {
    pub label: usize,
    /// Runs of the label.
    pub runs: usize,
    /// Bars with the label.
    pub bars: usize,
    /// Share of the labeled bars.
    pub share: f64,
    /// Mean and std of the runs' `np.polyfit` slope over the first value (fraction per bar).
    pub slope_mean: Option<f64>,
    pub slope_std: Option<f64>,
    /// Mean and std of the runs' lengths.
    pub length_mean: Option<f64>,
    pub length_std: Option<f64>,
    /// Mean and std of the runs' maximum draw-up per bar (`mpp_k`).
    pub drawup_k_mean: Option<f64>,
    pub drawup_k_std: Option<f64>,
    /// Mean and std of the runs' maximum drawdown per bar (`mdd_k`).
    pub drawdown_k_mean: Option<f64>,
    pub drawdown_k_std: Option<f64>,
    /// Mean and population std of the per-bar `pct_return` of the label's bars.
    pub return_mean: Option<f64>,
    pub return_std: Option<f64>,
}

/// A labeled series with its segments and statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegimeReport {
    /// The stored symbol, or the name given with the values.
    pub symbol: String,
    /// 1D, 1W, 60, …
    pub resolution: String,
    /// close or adjcp.
    pub key: KeyIndicator,
    /// zero_phase (ex-post: looks ahead) or causal.
    pub filter: Filter,
    /// The trailing window of causal labels.
    pub causal_window: Option<usize>,
    pub options: RegimeOptions,
    /// DTW merge rounds run (ex-post labels).
    pub merge_rounds: Option<usize>,
    pub rows: Vec<RegimeRow>,
    pub segments: Vec<RegimeSegment>,
    pub statistics: Vec<RegimeStatistics>,
}

/// A labeling refusal as an application error: parameter rules are `invalid_params`, a series
/// that is too short `too_few_bars`, one that cannot be labeled `unsuitable_series` (all 422).
pub fn labeling_error(e: LabelingError) -> AppError {
    let code = match &e {
        LabelingError::TooShort { .. } | LabelingError::MinLengthTooLong { .. } => "too_few_bars",
        LabelingError::ConstantSeries { .. } | LabelingError::NonFinite { .. } | LabelingError::NonPositive { .. } => {
            "unsuitable_series"
        }
        _ => "invalid_params",
    };
    AppError::invalid(e.to_string()).with_code(code)
}

/// A dynamics-test refusal: `label_not_present`, `no_testable_run`, `zero_sigma`,
/// `unsuitable_series` (all 422).
pub fn radar_error(e: RadarError) -> AppError {
    let code = match &e {
        RadarError::LabelNotPresent { .. } => "label_not_present",
        RadarError::NoTestableRun { .. } => "no_testable_run",
        RadarError::ZeroSigma { .. } => "zero_sigma",
        RadarError::LengthMismatch { .. } | RadarError::Env(_) => "unsuitable_series",
    };
    AppError::invalid(e.to_string()).with_code(code)
}

/// The labels of a series, before they are shaped for people.
#[derive(Debug, Clone)]
pub struct Labeled {
    pub filter: Filter,
    pub causal_window: Option<usize>,
    pub merge_rounds: Option<usize>,
    pub pct_return: Vec<f64>,
    pub key_indicator_filtered: Vec<f64>,
    pub pct_return_filtered: Vec<f64>,
    pub label: Vec<Option<usize>>,
    /// Normalised slopes of the ex-post segments by start row.
    pub slopes: Vec<(usize, f64)>,
}

/// Labels `values` (the key indicator, oldest first) ex-post or causally.
pub fn label(values: &[f64], o: &RegimeOptions, key: KeyIndicator) -> Result<Labeled, AppError> {
    o.check()?;
    let params = o.params(key);
    if o.causal {
        let window = causal_window(o);
        let c = labeling::label_causal(values, &params, window).map_err(labeling_error)?;
        Ok(Labeled {
            filter: c.filter.into(),
            causal_window: Some(window),
            merge_rounds: None,
            pct_return: c.pct_return,
            key_indicator_filtered: c.key_indicator_filtered,
            pct_return_filtered: c.pct_return_filtered,
            label: c.label,
            slopes: Vec::new(),
        })
    } else {
        let s = labeling::label_series(values, &params).map_err(labeling_error)?;
        Ok(Labeled {
            filter: s.filter.into(),
            causal_window: None,
            merge_rounds: Some(s.merge_rounds),
            pct_return: s.pct_return,
            key_indicator_filtered: s.key_indicator_filtered,
            pct_return_filtered: s.pct_return_filtered,
            label: s.label.into_iter().map(Some).collect(),
            slopes: s.segments.iter().map(|g| (g.start, g.normalized_slope)).collect(),
        })
    }
}

/// Runs of equal labels: `(start, end exclusive, label)`, unlabeled rows skipped.
fn runs(labels: &[Option<usize>]) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let Some(l) = *l else { continue };
        match out.last_mut() {
            Some(last) if last.2 == l && last.1 == i => last.1 = i + 1,
            _ => out.push((i, i + 1, l)),
        }
    }
    out
}

/// The per-label statistics of labeled values (rows without a label left out; TradeMaster's
/// whole runs).
pub fn statistics(
    values: &[f64],
    labels: &[Option<usize>],
    dynamics: usize,
) -> Result<Vec<RegimeStatistics>, AppError> {
    let first = labels.iter().position(Option::is_some).unwrap_or(labels.len());
    let (vals, labs): (Vec<f64>, Vec<usize>) =
        values[first.min(values.len())..].iter().zip(&labels[first..]).filter_map(|(v, l)| Some((*v, (*l)?))).unzip();
    if labs.is_empty() {
        return Ok(Vec::new());
    }
    let a = labeling::analyze(&vals, &labs, dynamics, false).map_err(labeling_error)?;
    let total = labs.len() as f64;
    Ok(a.per_label
        .into_iter()
        .map(|m| {
            let bars = labs.iter().filter(|&&l| l == m.label).count();
            RegimeStatistics {
                label: m.label,
                runs: m.runs,
                bars,
                share: bars as f64 / total,
                slope_mean: finite(m.slope_mean),
                slope_std: finite(m.slope_std),
                length_mean: finite(m.length_mean),
                length_std: finite(m.length_std),
                drawup_k_mean: finite(m.drawup_k_mean),
                drawup_k_std: finite(m.drawup_k_std),
                drawdown_k_mean: finite(m.drawdown_k_mean),
                drawdown_k_std: finite(m.drawdown_k_std),
                return_mean: finite(m.return_mean),
                return_std: finite(m.return_std),
            }
        })
        .collect())
}

/// Labels a series given in memory: `times` (Unix seconds) and `values` (the key indicator), one
/// per bar, oldest first.
pub fn label_series(
    symbol: &str,
    resolution: Resolution,
    key: KeyIndicator,
    times: &[i64],
    values: &[f64],
    o: &RegimeOptions,
) -> Result<RegimeReport, AppError> {
    if times.len() != values.len() {
        return Err(AppError::invalid(format!("{} times for {} values", times.len(), values.len()))
            .with_code("unsuitable_series"));
    }
    let l = label(values, o, key)?;
    let statistics = statistics(values, &l.label, o.dynamics)?;
    let iso = |i: usize| crate::clock::iso_secs(times[i]);
    let segments = runs(&l.label)
        .into_iter()
        .map(|(start, end, label)| RegimeSegment {
            start,
            end,
            first_time: iso(start),
            last_time: iso(end - 1),
            label,
            normalized_slope: l.slopes.iter().find(|(s, _)| *s == start).map(|(_, v)| *v),
        })
        .collect();
    let rows = (0..values.len())
        .map(|i| RegimeRow {
            time: iso(i),
            value: values[i],
            pct_return: l.pct_return[i],
            key_indicator_filtered: l.key_indicator_filtered[i],
            pct_return_filtered: l.pct_return_filtered[i],
            label: l.label[i],
        })
        .collect();
    Ok(RegimeReport {
        symbol: symbol.to_string(),
        resolution: resolution.as_udf(),
        key,
        filter: l.filter,
        causal_window: l.causal_window,
        options: o.clone(),
        merge_rounds: l.merge_rounds,
        rows,
        segments,
        statistics,
    })
}

/// One stored symbol's bars for labeling: `resolution`, read with `key.adjustment(adjustment)`.
/// An unknown symbol is 404; a symbol without bars at the resolution 422.
pub async fn load_stored(
    source: BarSource<'_>,
    symbol: &str,
    resolution: Resolution,
    key: KeyIndicator,
    adjustment: Adjustment,
) -> Result<Series, AppError> {
    load_stored_range(source, symbol, resolution, key, adjustment, i64::MIN, i64::MAX).await
}

/// [`load_stored`] of the bars in `[from, to)` (Unix seconds).
pub async fn load_stored_range(
    source: BarSource<'_>,
    symbol: &str,
    resolution: Resolution,
    key: KeyIndicator,
    adjustment: Adjustment,
    from: i64,
    to: i64,
) -> Result<Series, AppError> {
    let req = BarRequest { resolution, adjustment: key.adjustment(adjustment), from, to, countback: None };
    stored_series(source, symbol, &req, false, true).await
}

/// Labels a stored symbol's bars (see [`load_stored`]).
pub async fn label_stored(
    source: BarSource<'_>,
    symbol: &str,
    resolution: Resolution,
    key: KeyIndicator,
    adjustment: Adjustment,
    o: &RegimeOptions,
) -> Result<RegimeReport, AppError> {
    o.check()?;
    let series = load_stored(source, symbol, resolution, key, adjustment).await?;
    label_bars(&series, key, o)
}

/// Labels a loaded series on its closes.
pub fn label_bars(series: &Series, key: KeyIndicator, o: &RegimeOptions) -> Result<RegimeReport, AppError> {
    let times: Vec<i64> = series.bars.iter().map(|b| b.time).collect();
    let closes: Vec<f64> = series.bars.iter().map(|b| b.close).collect();
    label_series(series.instrument.symbol.as_str(), series.resolution, key, &times, &closes, o)
}

/// An index's labels carried onto a constituent's bars by their time (TradeMaster's portfolio
/// path merges on the timestamp): the index is labeled with `o`, and a bar whose time the
/// index lacks gets `None`.
pub fn carry_index_labels(
    index: &Series,
    constituent: &Series,
    key: KeyIndicator,
    o: &RegimeOptions,
) -> Result<Vec<Option<usize>>, AppError> {
    let report = label_bars(index, key, o)?;
    let keys: Vec<i64> = index.bars.iter().map(|b| b.time).collect();
    let labels: Vec<Option<usize>> = report.rows.iter().map(|r| r.label).collect();
    let wanted: Vec<i64> = constituent.bars.iter().map(|b| b.time).collect();
    let carried = quantdesk_regimes::labeling::carry_labels(&keys, &labels, &wanted).map_err(labeling_error)?;
    Ok(carried.into_iter().map(Option::flatten).collect())
}

/// How fragile a labeling is: the bars whose label changes when each parameter moves one step
/// down and up (TradeMaster's parameters, the crate's default steps), on the series' closes.
pub fn stability(
    series: &Series,
    key: KeyIndicator,
    o: &RegimeOptions,
) -> Result<Vec<quantdesk_regimes::labeling::StabilityEntry>, AppError> {
    let closes: Vec<f64> = series.bars.iter().map(|b| b.close).collect();
    quantdesk_regimes::labeling::stability_report(
        &closes,
        &o.params(key),
        &quantdesk_regimes::labeling::StabilitySteps::default(),
    )
    .map_err(labeling_error)
}

/// An index's labels carried onto the series' bars by time (one per row; `null` where the
/// index has no bar at that time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IndexLabels {
    /// The index symbol.
    pub symbol: String,
    /// zero_phase or causal: the index's labels are made with the same options.
    pub filter: Filter,
    pub labels: Vec<Option<usize>>,
}

/// A labeled series with, on request, the stability report and an index's labels carried onto
/// its bars (the answer of `GET /api/v1/regimes/{symbol}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegimeAnswer {
    #[serde(flatten)]
    pub report: RegimeReport,
    /// With `stability=true`: per parameter moved one step down and up (`parameter`, the moved
    /// `value` as text), the bars whose label changes (`changed_bars`), or why that move is
    /// invalid for this series (`error`); ex-post labels, TradeMaster's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub stability: Option<Vec<quantdesk_regimes::labeling::StabilityEntry>>,
    /// With `index=SYMBOL`: that index's labels carried onto these bars by time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexLabels>,
}

/// Labels `series` and adds, when asked, the stability report and `index`'s labels carried onto
/// its bars: what `quantdesk regimes` gives with `--stability` and `--index`, in one answer.
pub fn regimes_answer(
    series: &Series,
    key: KeyIndicator,
    o: &RegimeOptions,
    with_stability: bool,
    index: Option<&Series>,
) -> Result<RegimeAnswer, AppError> {
    let report = label_bars(series, key, o)?;
    let stability = if with_stability { Some(stability(series, key, o)?) } else { None };

    let index = match index {
        Some(ix) => Some(IndexLabels {
            symbol: ix.instrument.symbol.to_string(),
            filter: report.filter,
            labels: carry_index_labels(ix, series, key, o)?,
        }),
        None => None,
    };
    Ok(RegimeAnswer { report, stability, index })
}

// ---------------------------------------------------------------------------------------------
// The dynamics test.

/// The agent of a dynamics test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Agent {
    /// TradeMaster's MA policy (long/flat on the window's mean; the golden files' agent).
    Ma,
    /// Never trades (the zero score).
    DoNothing,
    /// Buys one unit every step (the fifty score).
    BlindBuy,
    /// A built-in strategy (`sma_cross`, `rsi`, `macd`, `bollinger`, `buy_and_hold`, `voting`)
    /// adapted as described in the module docs.
    Strategy {
        name: String,
        #[serde(default)]
        #[schema(value_type = Object)]
        params: Params,
    },
}

impl Agent {
    /// `ma`, `do_nothing`, `blind_buy` or a built-in strategy with its parameters; checked.
    pub fn parse(name: &str, params: Params) -> Result<Agent, AppError> {
        let plain = |a: Agent| {
            if params.is_empty() {
                Ok(a)
            } else {
                Err(bad_param("params", format!("the {name} agent takes no parameters")))
            }
        };
        match name {
            "ma" => plain(Agent::Ma),
            "do_nothing" => plain(Agent::DoNothing),
            "blind_buy" | "blind_bid" => plain(Agent::BlindBuy),
            _ => {
                let a = Agent::Strategy { name: name.to_string(), params };
                a.check()?;
                Ok(a)
            }
        }
    }

    /// A strategy's name and parameters against its declaration.
    pub fn check(&self) -> Result<(), AppError> {
        if let Agent::Strategy { name, params } = self {
            strategy::check(name, params).map_err(|e| {
                let field = e.field.map_or_else(|| "strategy".to_string(), |f| format!("params.{f}"));
                let message = if strategy::parameters(name).is_none() {
                    format!("{}; or the agents ma, do_nothing, blind_buy", e.message)
                } else {
                    e.message
                };
                bad_param(&field, message)
            })?;
        }
        Ok(())
    }

    /// The agent's name in reports.
    pub fn name(&self) -> String {
        match self {
            Agent::Ma => "ma".into(),
            Agent::DoNothing => "do_nothing".into(),
            Agent::BlindBuy => "blind_buy".into(),
            Agent::Strategy { name, .. } => name.clone(),
        }
    }
}

/// The long/flat state of a built-in strategy after each bar's close: the strategy runs once over
/// the whole series through the backtest engine (default costs, fills at the signal bar's close),
/// and `targets[k]` is 1 when it holds a long position after bar `k`, else 0. Causal: `targets[k]`
/// depends on bars `0..=k` only (the engine shows a strategy only the past).
pub fn strategy_targets(series: &Series, name: &str, params: &Params) -> Result<Vec<f64>, AppError> {
    Agent::Strategy { name: name.into(), params: params.clone() }.check()?;
    let mut strat = strategy::build(name, params).map_err(|m| bad_param("strategy", m))?;
    let cfg = BacktestConfig { fill: FillMode::Close, ..BacktestConfig::default() };
    let out = quantdesk_backtest::engine::run(&cfg, std::slice::from_ref(series), strat.as_mut());
    let mut fills = out.fills.iter().peekable();
    let mut position: i128 = 0;
    let mut targets = Vec::with_capacity(series.bars.len());
    for bar in &series.bars {
        while let Some(f) = fills.next_if(|f| f.time <= bar.time) {
            match f.side {
                Side::Buy => position += i128::from(f.quantity),
                Side::Sell => position -= i128::from(f.quantity),
            }
        }
        targets.push(if position > 0 { 1.0 } else { 0.0 });
    }
    Ok(targets)
}

/// A built-in strategy as an `at_env::Policy`: the observation's one feature is the strategy's
/// target holding ([`strategy_targets`]); the action moves the holdings one unit towards the
/// target of the window's last row (the execution row).
#[derive(Debug, Clone)]
pub struct StrategyPolicy {
    name: String,
}

impl StrategyPolicy {
    pub fn new(name: impl Into<String>) -> Self {
        StrategyPolicy { name: name.into() }
    }
}

impl Policy for StrategyPolicy {
    fn name(&self) -> &str {
        &self.name
    }
    fn act(&mut self, obs: &Observation, cfg: &AtConfig) -> usize {
        let hold = cfg.hold_action();
        let b = cfg.backward_num_day;
        let Some(&target) = obs.state.get(b.wrapping_sub(1)) else { return hold };
        if target > obs.holdings {
            hold + 1
        } else if target < obs.holdings && hold >= 1 {
            hold - 1
        } else {
            hold
        }
    }
}

/// Which labels to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelChoice {
    /// Every label `0..dynamics`; labels that cannot be tested are reported with their reason.
    All,
    /// One label; a refusal is an error.
    #[serde(untagged)]
    One(usize),
}

/// The dynamics test of one label: TradeMaster's metrics, σ, scores and radar chart, and the
/// textbook metrics kept apart.
#[derive(Debug, Clone, Serialize)]
pub struct LabelDynamics {
    pub label: usize,
    /// The report, or why this label could not be tested (with `label = all`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<DynamicsSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// Why a label was not tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

/// A [`DynamicsReport`] without the step-by-step episodes.
#[derive(Debug, Clone, Serialize)]
pub struct DynamicsSummary {
    /// All runs of the label (rows, tested or not).
    pub segments: Vec<radar::Segment>,
    /// TradeMaster's metrics of the agent, Blind-Buy and Do-Nothing.
    pub trademaster_metrics: radar::PerPolicy<radar::TmMetrics>,
    /// TradeMaster's σ.
    pub sigma: radar::TmSigma,
    /// TradeMaster's scores (Profitability, Risk Control included) per policy.
    pub scores: radar::PerPolicy<radar::TmScores>,
    /// The agent's radar chart values.
    pub radar: radar::RadarPlot,
    /// Textbook metrics and scores (not TradeMaster's definitions).
    pub textbook: radar::TextbookReport,
}

impl From<DynamicsReport> for DynamicsSummary {
    fn from(r: DynamicsReport) -> Self {
        DynamicsSummary {
            segments: r.segments,
            trademaster_metrics: r.metrics,
            sigma: r.sigma,
            scores: r.scores,
            radar: r.radar_plot,
            textbook: r.textbook,
        }
    }
}

/// The answer of a dynamics test.
#[derive(Debug, Clone, Serialize)]
pub struct DynamicsAnswer {
    pub symbol: String,
    pub resolution: String,
    pub key: KeyIndicator,
    /// Which labels were tested: zero_phase (ex-post) or causal.
    pub filter: Filter,
    pub causal_window: Option<usize>,
    pub options: RegimeOptions,
    pub agent: String,
    /// TradeMaster's environment of every run.
    pub env: AtConfig,
    pub labels: Vec<LabelDynamics>,
}

/// Runs the dynamics test of `agent` on `series` labeled with `o`, for one label or all.
pub fn dynamics_test(
    series: &Series,
    key: KeyIndicator,
    o: &RegimeOptions,
    which: LabelChoice,
    agent: &Agent,
) -> Result<DynamicsAnswer, AppError> {
    agent.check()?;
    if let LabelChoice::One(l) = which
        && l >= o.dynamics
    {
        return Err(bad_param("label", format!("label {l} is not below the number of dynamics ({})", o.dynamics)));
    }
    let closes: Vec<f64> = series.bars.iter().map(|b| b.close).collect();
    let labeled = label(&closes, o, key)?;
    let cfg = DynamicsConfig::default();
    let features = match agent {
        Agent::Strategy { name, params } => {
            let t = strategy_targets(series, name, params)?;
            let rows: Vec<Vec<f64>> = t.into_iter().map(|x| vec![x]).collect();
            Some(FeatureMatrix::new(vec!["target".into()], &rows).map_err(AppError::internal)?)
        }
        _ => None,
    };
    let mut policy: Box<dyn Policy> = match agent {
        Agent::Ma => Box::new(MaPolicy),
        Agent::DoNothing => Box::new(DoNothing),
        Agent::BlindBuy => Box::new(BlindBid),
        Agent::Strategy { name, .. } => Box::new(StrategyPolicy::new(name.clone())),
    };
    let wanted: Vec<usize> = match which {
        LabelChoice::All => (0..o.dynamics).collect(),
        LabelChoice::One(l) => vec![l],
    };
    let mut labels = Vec::with_capacity(wanted.len());
    for l in wanted {
        let r = radar::dynamics_test(&closes, &labeled.label, &Some(l), features.as_ref(), policy.as_mut(), &cfg);
        match (r, which) {
            (Ok(r), _) => labels.push(LabelDynamics { label: l, report: Some(r.into()), refused: None }),
            (Err(e), LabelChoice::One(_)) => return Err(radar_error(e)),
            (Err(e), LabelChoice::All) => {
                let e = radar_error(e);
                labels.push(LabelDynamics {
                    label: l,
                    report: None,
                    refused: Some(Refusal { code: e.code().into(), message: e.into_message() }),
                });
            }
        }
    }
    Ok(DynamicsAnswer {
        symbol: series.instrument.symbol.to_string(),
        resolution: series.resolution.as_udf(),
        key,
        filter: labeled.filter,
        causal_window: labeled.causal_window,
        options: o.clone(),
        agent: agent.name(),
        env: cfg.env,
        labels,
    })
}

// ---------------------------------------------------------------------------------------------
// Outputs shared by the CLI and the jobs.

/// CSV of the rows: `date` (the bar's date for daily and coarser bars, else its RFC 3339 time)
/// and TradeMaster's columns `pct_return,key_indicator_filtered,pct_return_filtered,label`.
pub fn labels_csv(r: &RegimeReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("date,pct_return,key_indicator_filtered,pct_return_filtered,label\n");
    let daily = !r.resolution.chars().all(|c| c.is_ascii_digit());
    for row in &r.rows {
        let date = if daily { row.time.get(..10).unwrap_or(&row.time) } else { &row.time };
        let label = row.label.map(|l| l.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{date},{},{},{},{label}",
            row.pct_return, row.key_indicator_filtered, row.pct_return_filtered
        );
    }
    out
}

/// CSV of the per-label statistics.
pub fn statistics_csv(stats: &[RegimeStatistics]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "label,runs,bars,share,slope_mean,slope_std,length_mean,length_std,drawup_k_mean,drawup_k_std,drawdown_k_mean,drawdown_k_std,return_mean,return_std\n",
    );
    let cell = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for s in stats {
        let cells = [
            s.slope_mean,
            s.slope_std,
            s.length_mean,
            s.length_std,
            s.drawup_k_mean,
            s.drawup_k_std,
            s.drawdown_k_mean,
            s.drawdown_k_std,
            s.return_mean,
            s.return_std,
        ]
        .map(cell);
        let _ = writeln!(out, "{},{},{},{},{}", s.label, s.runs, s.bars, s.share, cells.join(","));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An inline SVG radar chart of one label's scores (`r = score + 100` on TradeMaster's six axes,
/// 0 to 200; the circle at 100 is Do-Nothing's profit score). No script, no external resource.
pub fn radar_svg(title: &str, plot: &radar::RadarPlot) -> String {
    radar_svg_with(title, plot, &plot.axes, ["Profitability", "Risk Control"])
}

/// [`radar_svg`] with the axes and the two bars named in the reader's language. Text and lines
/// take the surrounding text colour (`currentColor`), so the chart reads on a light or a dark page.
pub fn radar_svg_with(title: &str, plot: &radar::RadarPlot, axes: &[&str; 6], bars: [&str; 2]) -> String {
    use std::fmt::Write as _;
    let (cx, cy, rmax) = (200.0_f64, 200.0_f64, 140.0_f64);
    let point = |theta_deg: f64, r: f64| {
        let a = (theta_deg - 90.0).to_radians();
        let k = (r / 200.0).clamp(0.0, 1.0) * rmax;
        (cx + k * a.cos(), cy + k * a.sin())
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="-60 0 520 420" width="520" height="420" role="img" aria-label="{}">"#,
        esc(title)
    );
    let _ = write!(s, r#"<title>{}</title>"#, esc(title));
    for ring in [50.0, 100.0, 150.0, 200.0] {
        let pts: Vec<String> = plot
            .theta
            .iter()
            .map(|&t| {
                let (x, y) = point(f64::from(t), ring);
                format!("{x:.2},{y:.2}")
            })
            .collect();
        let _ = write!(
            s,
            r##"<polygon points="{}" fill="none" stroke="currentColor" stroke-opacity="0.3" stroke-width="1"/>"##,
            pts.join(" ")
        );
    }
    for (i, &t) in plot.theta.iter().enumerate() {
        let (x, y) = point(f64::from(t), 200.0);
        let _ = write!(
            s,
            r##"<line x1="{cx}" y1="{cy}" x2="{x:.2}" y2="{y:.2}" stroke="currentColor" stroke-opacity="0.25"/>"##
        );
        let (lx, ly) = point(f64::from(t), 225.0);
        let (lx, ly) = (cx + (lx - cx) * 1.12, cy + (ly - cy) * 1.12);
        let _ = write!(
            s,
            r#"<text x="{lx:.2}" y="{ly:.2}" font-size="12" text-anchor="middle" font-family="sans-serif" fill="currentColor">{} ({:.1})</text>"#,
            esc(axes[i]),
            plot.r[i] - 100.0
        );
    }
    let pts: Vec<String> = plot
        .theta
        .iter()
        .zip(plot.r)
        .map(|(&t, r)| {
            let r = if r.is_finite() { r } else { 0.0 };
            let (x, y) = point(f64::from(t), r);
            format!("{x:.2},{y:.2}")
        })
        .collect();
    let _ = write!(
        s,
        r##"<polygon points="{}" fill="#3b82f6" fill-opacity="0.3" stroke="#1d4ed8" stroke-width="2"/>"##,
        pts.join(" ")
    );
    let _ = write!(
        s,
        r#"<text x="200" y="410" font-size="12" text-anchor="middle" font-family="sans-serif" fill="currentColor">{} {:.2} · {} {:.2}</text>"#,
        esc(bars[0]),
        plot.profitability_bar - 100.0,
        esc(bars[1]),
        plot.risk_control_bar - 100.0
    );
    s.push_str("</svg>");
    s
}

/// The labeled series as a PNG (TradeMaster's labeling visualisation): one translucent band per
/// run of a label behind the key indicator, bearish to bullish in red, grey and green. No text.
pub fn labels_png(r: &RegimeReport) -> Vec<u8> {
    use crate::png::{Canvas, label_colour};
    let (w, h, m) = (1000.0_f64, 420.0_f64, 20.0_f64);
    let mut c = Canvas::new(w as u32, h as u32, [255, 255, 255]);
    let n = r.rows.len().max(1);
    let x = |i: f64| m + (w - 2.0 * m) * i / n as f64;
    for g in &r.segments {
        c.fill_rect(x(g.start as f64), m, x(g.end as f64), h - m, label_colour(g.label, r.options.dynamics), 0.25);
    }
    let vals: Vec<f64> = r.rows.iter().map(|x| x.value).filter(|v| v.is_finite()).collect();
    let (lo, hi) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let y = |v: f64| h - m - (h - 2.0 * m) * (v - lo) / span;
    for k in 1..r.rows.len() {
        let (a, b) = (&r.rows[k - 1], &r.rows[k]);
        c.line(x(k as f64 - 0.5), y(a.value), x(k as f64 + 0.5), y(b.value), 1.5, [0x21, 0x21, 0x21]);
    }
    c.polygon(&[(m, m), (w - m, m), (w - m, h - m), (m, h - m)], 1.0, [0xbd, 0xbd, 0xbd]);
    c.png()
}

/// The per-label statistics as a PNG (TradeMaster's analysis figure): per label, its share of the
/// bars (the left bar, from the bottom) and its mean per-bar return (the right bar, from the
/// middle line: up is positive, scaled to the largest), in the label's colour. No text.
pub fn statistics_png(stats: &[RegimeStatistics], dynamics: usize) -> Vec<u8> {
    use crate::png::{Canvas, label_colour};
    let (w, h, m) = (600.0_f64, 300.0_f64, 20.0_f64);
    let mut c = Canvas::new(w as u32, h as u32, [255, 255, 255]);
    let n = dynamics.max(1) as f64;
    let col = (w - 2.0 * m) / n;
    let mid = h / 2.0;
    let top = stats.iter().filter_map(|s| s.return_mean).map(f64::abs).fold(0.0, f64::max);
    for s in stats {
        let colour = label_colour(s.label, dynamics);
        let x0 = m + col * s.label as f64;
        let share = if s.share.is_finite() { s.share.clamp(0.0, 1.0) } else { 0.0 };
        c.fill_rect(x0 + col * 0.1, h - m - (h - 2.0 * m) * share, x0 + col * 0.45, h - m, colour, 0.45);
        if let Some(ret) = s.return_mean.filter(|_| top > 0.0) {
            let hgt = (mid - m) * ret / top;
            c.fill_rect(x0 + col * 0.55, mid - hgt, x0 + col * 0.9, mid, colour, 1.0);
        }
    }
    c.line(m, mid, w - m, mid, 1.0, [0x61, 0x61, 0x61]);
    c.polygon(&[(m, m), (w - m, m), (w - m, h - m), (m, h - m)], 1.0, [0xbd, 0xbd, 0xbd]);
    c.png()
}

/// A label's radar chart as a PNG (the geometry of [`radar_svg`]: `r = score + 100` on
/// TradeMaster's six axes from 0 to 200, rings at 50, 100, 150 and 200). No text.
pub fn radar_png(plot: &radar::RadarPlot) -> Vec<u8> {
    use crate::png::Canvas;
    let (cx, cy, rmax) = (200.0_f64, 200.0_f64, 170.0_f64);
    let point = |theta_deg: f64, r: f64| {
        let a = (theta_deg - 90.0).to_radians();
        let k = (r / 200.0).clamp(0.0, 1.0) * rmax;
        (cx + k * a.cos(), cy + k * a.sin())
    };
    let mut c = Canvas::new(400, 400, [255, 255, 255]);
    for ring in [50.0, 100.0, 150.0, 200.0] {
        let pts: Vec<(f64, f64)> = plot.theta.iter().map(|&t| point(f64::from(t), ring)).collect();
        c.polygon(&pts, if ring == 100.0 { 2.0 } else { 1.0 }, [0xbb, 0xbb, 0xbb]);
    }
    for &t in &plot.theta {
        let (x, y) = point(f64::from(t), 200.0);
        c.line(cx, cy, x, y, 1.0, [0xcc, 0xcc, 0xcc]);
    }
    let pts: Vec<(f64, f64)> =
        plot.theta.iter().zip(plot.r).map(|(&t, r)| point(f64::from(t), if r.is_finite() { r } else { 0.0 })).collect();
    c.fill_polygon(&pts, [0x3b, 0x82, 0xf6], 0.3);
    c.polygon(&pts, 2.0, [0x1d, 0x4e, 0xd8]);
    c.png()
}

fn fmt_num(x: f64) -> String {
    if x.is_finite() { format!("{x:.6}") } else { x.to_string() }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "undefined".into(), fmt_num)
}

/// The dynamics test as plain text tables.
pub fn dynamics_table(a: &DynamicsAnswer) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let filter = match a.filter {
        Filter::ZeroPhase => "zero_phase (ex-post labels: they look ahead)",
        Filter::Causal => "causal",
    };
    let _ = writeln!(
        o,
        "{} {} key {} · {} dynamics · labels {} · agent {}",
        a.symbol,
        a.resolution,
        a.key.as_str(),
        a.options.dynamics,
        filter,
        a.agent
    );
    for l in &a.labels {
        let _ = writeln!(o, "\nlabel {}", l.label);
        let Some(r) = &l.report else {
            if let Some(x) = &l.refused {
                let _ = writeln!(o, "  not tested ({}): {}", x.code, x.message);
            }
            continue;
        };
        let tested = r.segments.iter().filter(|s| s.tested).count();
        let _ = writeln!(o, "  runs {} (tested {tested})", r.segments.len());
        let _ = writeln!(o, "  TradeMaster metrics         agent        Blind_Buy    Do_Nothing   sigma");
        let m = &r.trademaster_metrics;
        for (name, f) in [
            ("Excess Profit", (|x: &radar::TmMetrics| x.excess_profit) as fn(&radar::TmMetrics) -> f64),
            ("tr", |x| x.tr),
            ("Sharpe ratio", |x| x.sharpe_ratio),
            ("vol", |x| x.vol),
            ("mdd", |x| x.mdd),
            ("Calmar ratio (cr)", |x| x.cr),
            ("Sortino ratio (sor)", |x| x.sor),
        ] {
            let sigma = match name {
                "Excess Profit" => r.sigma.excess_profit,
                "tr" => r.sigma.tr,
                "Sharpe ratio" => r.sigma.sharpe_ratio,
                "vol" => r.sigma.vol,
                "mdd" => r.sigma.mdd,
                "Calmar ratio (cr)" => r.sigma.cr,
                _ => r.sigma.sor,
            };
            let _ = writeln!(
                o,
                "  {name:<26} {:>12} {:>12} {:>12} {:>12}",
                fmt_num(f(&m.agent)),
                fmt_num(f(&m.blind_bid)),
                fmt_num(f(&m.do_nothing)),
                fmt_num(sigma)
            );
        }
        let _ = writeln!(o, "  TradeMaster scores          agent        Blind_Buy    Do_Nothing");
        let s = &r.scores;
        for (name, f) in [
            ("Excess Profit", (|x: &radar::TmScores| x.excess_profit) as fn(&radar::TmScores) -> f64),
            ("tr", |x| x.tr),
            ("Sharpe ratio", |x| x.sharpe_ratio),
            ("Calmar ratio", |x| x.cr),
            ("Sortino ratio", |x| x.sor),
            ("Volatility", |x| x.vol),
            ("Max Drawdown", |x| x.mdd),
            ("Profitability", |x| x.profitability),
            ("Risk Control", |x| x.risk_control),
        ] {
            let _ = writeln!(
                o,
                "  {name:<26} {:>12} {:>12} {:>12}",
                fmt_num(f(&s.agent)),
                fmt_num(f(&s.blind_bid)),
                fmt_num(f(&s.do_nothing))
            );
        }
        let _ = writeln!(
            o,
            "  radar r (score + 100): {}",
            r.radar
                .axes
                .iter()
                .zip(r.radar.r)
                .map(|(n, v)| format!("{n} {}", fmt_num(v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(o, "  Textbook metrics (not TradeMaster's)  agent        Blind_Buy    Do_Nothing");
        let t = &r.textbook.metrics;
        for (name, f) in [
            (
                "total return",
                (|x: &radar::TextbookMetrics| Some(x.total_return)) as fn(&radar::TextbookMetrics) -> Option<f64>,
            ),
            ("excess return vs buy&hold", |x| Some(x.excess_return)),
            ("annualized return", |x| Some(x.annualized_return)),
            ("volatility (annualized)", |x| Some(x.volatility)),
            ("Sharpe ratio", |x| x.sharpe_ratio),
            ("max drawdown", |x| Some(x.max_drawdown)),
            ("Calmar ratio", |x| x.calmar_ratio),
            ("Sortino ratio", |x| x.sortino_ratio),
        ] {
            let _ = writeln!(
                o,
                "  {name:<37} {:>12} {:>12} {:>12}",
                fmt_opt(f(&t.agent)),
                fmt_opt(f(&t.blind_bid)),
                fmt_opt(f(&t.do_nothing))
            );
        }
    }
    o
}

/// A self-contained HTML report: the tables and one inline SVG radar chart per tested label. No
/// script, no external resource.
pub fn dynamics_html(a: &DynamicsAnswer) -> String {
    let mut body = String::new();
    for l in &a.labels {
        body.push_str(&format!("<section><h2>Label {}</h2>", l.label));
        if let Some(r) = &l.report {
            body.push_str(&radar_svg(&format!("{} label {} — {}", a.symbol, l.label, a.agent), &r.radar));
        }
        body.push_str("</section>");
    }
    let table = dynamics_table(a);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dynamics test {sym}</title>\
<style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>\
<body><h1>Dynamics test: {sym}, agent {agent}</h1><p>Labels: {filter}. TradeMaster's metrics and scores; textbook metrics are listed separately.</p>\
{body}<pre>{table}</pre></body></html>\n",
        sym = esc(&a.symbol),
        agent = esc(&a.agent),
        filter = match a.filter {
            Filter::ZeroPhase => "zero_phase (ex-post, they look ahead)",
            Filter::Causal => "causal",
        },
        table = esc(&table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantdesk_core::{Bar, Instrument, InstrumentKind, Symbol};

    fn walk(n: usize) -> Series {
        let mut p = 100.0_f64;
        let bars = (0..n)
            .map(|i| {
                let x = i as f64;
                p = 100.0 + 20.0 * (x / 40.0).sin() + 5.0 * (x / 7.0).sin() + x * 0.05;
                Bar {
                    time: 1_500_000_000 + 86_400 * i as i64,
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: 1.0,
                    amount: p,
                }
            })
            .collect();
        Series {
            instrument: Instrument::with_defaults(Symbol::new("T").unwrap(), "", InstrumentKind::Stock),
            resolution: Resolution::Day,
            bars,
        }
    }

    #[test]
    fn labels_are_the_crates_and_say_their_filter() {
        let s = walk(400);
        let o = RegimeOptions::default();
        let r = label_bars(&s, KeyIndicator::Close, &o).unwrap();
        let closes: Vec<f64> = s.bars.iter().map(|b| b.close).collect();
        let want = labeling::label_series(&closes, &o.params(KeyIndicator::Close)).unwrap();
        assert_eq!(r.filter, Filter::ZeroPhase);
        assert_eq!(r.rows.iter().map(|x| x.label.unwrap()).collect::<Vec<_>>(), want.label);
        assert_eq!(r.segments.iter().map(|g| g.end - g.start).sum::<usize>(), 400);
        assert_eq!(r.statistics.iter().map(|x| x.bars).sum::<usize>(), 400);
        let c = label_bars(&s, KeyIndicator::Close, &RegimeOptions { causal: true, ..o }).unwrap();
        assert_eq!(c.filter, Filter::Causal);
        assert_eq!(c.causal_window, Some(240));
        assert!(c.rows[0].label.is_none() && c.rows[399].label.is_some());
    }

    #[test]
    fn rules_are_refused_with_stable_codes() {
        let s = walk(400);
        let o = RegimeOptions { min_length: 2, ..RegimeOptions::default() };
        assert_eq!(label_bars(&s, KeyIndicator::Close, &o).unwrap_err().code(), "invalid_params");
        let o = RegimeOptions { dynamics: 1, ..RegimeOptions::default() };
        assert_eq!(label_bars(&s, KeyIndicator::Close, &o).unwrap_err().code(), "invalid_params");
        assert_eq!(
            label_bars(&walk(10), KeyIndicator::Close, &RegimeOptions::default()).unwrap_err().code(),
            "too_few_bars"
        );
        let e = Agent::parse("nope", Params::new()).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_params", Some("strategy")));
        let e = dynamics_test(&s, KeyIndicator::Close, &RegimeOptions::default(), LabelChoice::One(3), &Agent::Ma)
            .unwrap_err();
        assert_eq!(e.code(), "invalid_params");
    }

    #[test]
    fn strategy_targets_follow_the_engine_and_are_causal() {
        let s = walk(300);
        let bh = strategy_targets(&s, "buy_and_hold", &Params::new()).unwrap();
        assert!(bh.iter().all(|&t| t == 1.0));
        let t = strategy_targets(&s, "sma_cross", &Params::new()).unwrap();
        assert!(t.contains(&1.0) && t.contains(&0.0));
        // Changing the bars after k changes no target up to k.
        let mut cut = s.clone();
        for b in &mut cut.bars[200..] {
            b.close *= 0.5;
            b.open = b.close;
            b.high = b.close;
            b.low = b.close;
        }
        let t2 = strategy_targets(&cut, "sma_cross", &Params::new()).unwrap();
        assert_eq!(t[..200], t2[..200]);
    }

    #[test]
    fn a_strategy_agent_trades_towards_its_targets() {
        let s = walk(600);
        let a = Agent::parse("buy_and_hold", Params::new()).unwrap();
        let r = dynamics_test(&s, KeyIndicator::Close, &RegimeOptions::default(), LabelChoice::All, &a).unwrap();
        assert_eq!(r.labels.len(), 3);
        let tested: Vec<_> = r.labels.iter().filter_map(|l| l.report.as_ref()).collect();
        assert!(!tested.is_empty());
        // Always long: the agent buys one unit at the first step and then holds, never Do-Nothing.
        for rep in tested {
            assert!(rep.trademaster_metrics.agent.tr != rep.trademaster_metrics.do_nothing.tr);
        }
        let report = r.labels.iter().find_map(|l| l.report.as_ref()).unwrap();
        let svg = radar_svg("t", &report.radar);
        assert!(svg.starts_with("<svg") && !svg.contains("<script") && !svg.contains("href"));
        // The job result's tables carry the report's figures, and the radar comes back from them.
        let t = DynamicsTables::of(report);
        assert_eq!(t.trademaster[1].metric, "tr");
        assert_eq!(t.trademaster[1].agent, finite(report.trademaster_metrics.agent.tr));
        assert_eq!(t.scores.last().unwrap().agent, finite(report.scores.agent.risk_control));
        assert_eq!(t.tested_runs, report.segments.iter().filter(|s| s.tested).count());
        let back = t.radar_plot();
        for (a, b) in back.r.iter().zip(report.radar.r) {
            assert!(a == &b || (a.is_nan() && !b.is_finite()), "{a} {b}");
        }
        assert_eq!(radar_svg("t", &back), svg);
        let zh = radar_svg_with("t", &back, &["超额收益", "夏普", "卡玛", "索提诺", "波动", "回撤"], ["盈利", "风控"]);
        assert!(zh.contains("超额收益") && zh.contains("风控") && !zh.contains("Excess Profit"));
    }
}

// ---------------------------------------------------------------------------------------------
// The `regimes` and `dynamics_test` jobs.

fn default_resolution() -> String {
    "1D".into()
}
fn default_adjustment() -> String {
    "qfq".into()
}
fn default_agent() -> String {
    "ma".into()
}

fn default_time_column() -> String {
    "date".into()
}
fn default_key_column() -> String {
    "adjcp".into()
}

/// A CSV file uploaded into one of the job owner's TradeMaster sessions (`upload_csv`), as the
/// series of a job instead of a stored symbol: its rows in time order, the time from
/// `time_column` and the key indicator from `key_column`. Another user's session is as absent
/// as a missing one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetSource {
    /// The session id `upload_csv` answered.
    pub session: String,
    /// The file's name without `.csv`.
    pub name: String,
    /// The column of the times (dates, RFC 3339 times, `YYYY-MM-DD HH:MM:SS` or Unix seconds);
    /// default `date`.
    #[serde(default = "default_time_column")]
    pub time_column: String,
    /// The column of the key indicator; default `adjcp`.
    #[serde(default = "default_key_column")]
    pub key_column: String,
}

/// The series of a job: a stored symbol at a resolution, with its key indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegimesJobParams {
    /// A stored symbol, e.g. `600519.SH` (with `dataset`: the name the results carry).
    pub symbol: String,
    /// Label an uploaded file instead of the stored symbol (`resolution` and `adjustment` are
    /// then not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetSource>,
    /// 1, 5, 15, 30, 60, 1D (default), 1W or 1M.
    #[serde(default = "default_resolution")]
    pub resolution: String,
    /// adjcp (default) or close.
    #[serde(default)]
    pub key: KeyIndicator,
    /// Adjustment of the adjusted close: qfq (default), hfq or none.
    #[serde(default = "default_adjustment")]
    pub adjustment: String,
    /// The labeling parameters (defaults when absent).
    #[serde(default)]
    pub options: RegimeOptions,
}

/// `dynamics_test`: the series, the agent and the label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DynamicsTestJobParams {
    /// A stored symbol, e.g. `600519.SH` (with `dataset`: the name the results carry).
    pub symbol: String,
    /// Test on an uploaded file instead of the stored symbol (`resolution` and `adjustment` are
    /// then not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetSource>,
    /// 1, 5, 15, 30, 60, 1D (default), 1W or 1M.
    #[serde(default = "default_resolution")]
    pub resolution: String,
    /// adjcp (default) or close.
    #[serde(default)]
    pub key: KeyIndicator,
    /// Adjustment of the adjusted close: qfq (default), hfq or none.
    #[serde(default = "default_adjustment")]
    pub adjustment: String,
    /// The labeling parameters (defaults when absent).
    #[serde(default)]
    pub options: RegimeOptions,
    /// ma (default: TradeMaster's MA policy), do_nothing, blind_buy or a built-in strategy.
    #[serde(default = "default_agent")]
    pub agent: String,
    /// The strategy's parameters, e.g. `{"fast": 10, "slow": 30}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Params,
    /// The label to test; absent: every label.
    #[serde(default)]
    pub label: Option<usize>,
}

/// What a job's series parameters mean, checked (422 `invalid_params` naming the field).
pub fn job_series(resolution: &str, adjustment: &str, o: &RegimeOptions) -> Result<(Resolution, Adjustment), AppError> {
    let res = Resolution::parse(resolution).map_err(|e| bad_param("resolution", e.0))?;
    if !["none", "qfq", "hfq"].contains(&adjustment) {
        return Err(bad_param("adjustment", format!("unsupported adjustment {adjustment:?}; use none, qfq or hfq")));
    }
    let adj = Adjustment::parse(adjustment).map_err(|e| bad_param("adjustment", e.0))?;
    o.check().map_err(|e| {
        let field = e.field().map(|f| format!("options.{f}")).unwrap_or_else(|| "options".into());
        e.with_field(field)
    })?;
    Ok((res, adj))
}

impl RegimesJobParams {
    /// The rules beyond the shape.
    pub fn check(&self) -> Result<(Resolution, Adjustment), AppError> {
        job_series(&self.resolution, &self.adjustment, &self.options)
    }
}

impl DynamicsTestJobParams {
    /// The rules beyond the shape, and the agent.
    pub fn check(&self) -> Result<(Resolution, Adjustment, Agent, LabelChoice), AppError> {
        let (res, adj) = job_series(&self.resolution, &self.adjustment, &self.options)?;
        let agent = Agent::parse(&self.agent, self.params.clone())?;
        let which = match self.label {
            None => LabelChoice::All,
            Some(l) if l < self.options.dynamics => LabelChoice::One(l),
            Some(l) => {
                return Err(bad_param(
                    "label",
                    format!("label {l} is not below the number of dynamics ({})", self.options.dynamics),
                ));
            }
        };
        Ok((res, adj, agent, which))
    }
}

/// The result of a `regimes` job (the rows are in the artifact `labels.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegimesJobResult {
    pub symbol: String,
    pub resolution: String,
    pub filter: Filter,
    pub causal_window: Option<usize>,
    pub bars: usize,
    pub segments: usize,
    pub statistics: Vec<RegimeStatistics>,
}

impl From<&RegimeReport> for RegimesJobResult {
    fn from(r: &RegimeReport) -> Self {
        RegimesJobResult {
            symbol: r.symbol.clone(),
            resolution: r.resolution.clone(),
            filter: r.filter,
            causal_window: r.causal_window,
            bars: r.rows.len(),
            segments: r.segments.len(),
            statistics: r.statistics.clone(),
        }
    }
}

/// One label of a `dynamics_test` job's result (everything else is in `result.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DynamicsJobLabel {
    pub label: usize,
    /// Tested runs of the label.
    pub tested_runs: usize,
    /// The agent's TradeMaster Profitability and Risk Control scores.
    pub profitability: Option<f64>,
    pub risk_control: Option<f64>,
    /// Why the label was not tested.
    pub refused: Option<String>,
    /// The tested label's tables and radar values, for the dynamics page (absent in results of
    /// older runs and for untested labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<DynamicsTables>,
}

/// One metric of a dynamics test: its value for the agent, Blind-Buy and Do-Nothing, and σ where
/// it has one. `null` where a value is undefined (NaN) or infinite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DynamicsRow {
    /// The metric's identifier (TradeMaster's own names for TradeMaster's metrics: `tr`, `mdd`, …).
    pub metric: String,
    pub agent: Option<f64>,
    pub blind_buy: Option<f64>,
    pub do_nothing: Option<f64>,
    pub sigma: Option<f64>,
}

/// A tested label's figures as tables: TradeMaster's metrics with σ, TradeMaster's scores, the
/// radar values, and the textbook metrics (not TradeMaster's) apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DynamicsTables {
    /// Runs of the label, and those tested (long enough).
    pub runs: usize,
    pub tested_runs: usize,
    /// TradeMaster's metrics: excess_profit, tr, sharpe_ratio, vol, mdd, cr, sor.
    pub trademaster: Vec<DynamicsRow>,
    /// TradeMaster's scores: the same metrics and profitability, risk_control.
    pub scores: Vec<DynamicsRow>,
    /// The agent's radar radii (score + 100) on TradeMaster's six axes, in the order of
    /// `quantdesk_regimes::radar::RADAR_AXES`, and its two bars.
    pub radar: Vec<Option<f64>>,
    pub profitability_bar: Option<f64>,
    pub risk_control_bar: Option<f64>,
    /// Textbook metrics: total_return, excess_return, annualized_return, volatility,
    /// sharpe_ratio, max_drawdown, calmar_ratio, sortino_ratio.
    pub textbook: Vec<DynamicsRow>,
}

/// A metric's identifier and how to read it from a policy's figures.
type Pick<M> = (&'static str, fn(&M) -> Option<f64>);

impl DynamicsTables {
    /// The tables of one tested label.
    pub fn of(r: &DynamicsSummary) -> Self {
        fn rows<M>(
            p: &radar::PerPolicy<M>,
            picks: &[Pick<M>],
            sigma: &dyn Fn(&str) -> Option<f64>,
        ) -> Vec<DynamicsRow> {
            picks
                .iter()
                .map(|(name, f)| DynamicsRow {
                    metric: (*name).to_string(),
                    agent: f(&p.agent).and_then(finite),
                    blind_buy: f(&p.blind_bid).and_then(finite),
                    do_nothing: f(&p.do_nothing).and_then(finite),
                    sigma: sigma(name).and_then(finite),
                })
                .collect()
        }
        let tm: [Pick<radar::TmMetrics>; 7] = [
            ("excess_profit", |x| Some(x.excess_profit)),
            ("tr", |x| Some(x.tr)),
            ("sharpe_ratio", |x| Some(x.sharpe_ratio)),
            ("vol", |x| Some(x.vol)),
            ("mdd", |x| Some(x.mdd)),
            ("cr", |x| Some(x.cr)),
            ("sor", |x| Some(x.sor)),
        ];
        let sg = &r.sigma;
        let tm_sigma = |name: &str| match name {
            "excess_profit" => Some(sg.excess_profit),
            "tr" => Some(sg.tr),
            "sharpe_ratio" => Some(sg.sharpe_ratio),
            "vol" => Some(sg.vol),
            "mdd" => Some(sg.mdd),
            "cr" => Some(sg.cr),
            "sor" => Some(sg.sor),
            _ => None,
        };
        let sc: [Pick<radar::TmScores>; 9] = [
            ("excess_profit", |x| Some(x.excess_profit)),
            ("tr", |x| Some(x.tr)),
            ("sharpe_ratio", |x| Some(x.sharpe_ratio)),
            ("cr", |x| Some(x.cr)),
            ("sor", |x| Some(x.sor)),
            ("vol", |x| Some(x.vol)),
            ("mdd", |x| Some(x.mdd)),
            ("profitability", |x| Some(x.profitability)),
            ("risk_control", |x| Some(x.risk_control)),
        ];
        let tb: [Pick<radar::TextbookMetrics>; 8] = [
            ("total_return", |x| Some(x.total_return)),
            ("excess_return", |x| Some(x.excess_return)),
            ("annualized_return", |x| Some(x.annualized_return)),
            ("volatility", |x| Some(x.volatility)),
            ("sharpe_ratio", |x| x.sharpe_ratio),
            ("max_drawdown", |x| Some(x.max_drawdown)),
            ("calmar_ratio", |x| x.calmar_ratio),
            ("sortino_ratio", |x| x.sortino_ratio),
        ];
        let ts = &r.textbook.sigma;
        let tb_sigma = |name: &str| match name {
            "total_return" => Some(ts.total_return),
            "excess_return" => Some(ts.excess_return),
            "volatility" => Some(ts.volatility),
            "sharpe_ratio" => ts.sharpe_ratio,
            "max_drawdown" => Some(ts.max_drawdown),
            "calmar_ratio" => ts.calmar_ratio,
            "sortino_ratio" => ts.sortino_ratio,
            _ => None,
        };
        DynamicsTables {
            runs: r.segments.len(),
            tested_runs: r.segments.iter().filter(|s| s.tested).count(),
            trademaster: rows(&r.trademaster_metrics, &tm, &tm_sigma),
            scores: rows(&r.scores, &sc, &|_| None),
            radar: r.radar.r.iter().copied().map(finite).collect(),
            profitability_bar: finite(r.radar.profitability_bar),
            risk_control_bar: finite(r.radar.risk_control_bar),
            textbook: rows(&r.textbook.metrics, &tb, &tb_sigma),
        }
    }

    /// The agent's radar chart back from the stored radii (an undefined radius as NaN, which
    /// [`radar_svg`] draws at the centre).
    pub fn radar_plot(&self) -> radar::RadarPlot {
        let mut r = [f64::NAN; 6];
        for (x, v) in r.iter_mut().zip(&self.radar) {
            *x = v.unwrap_or(f64::NAN);
        }
        radar::RadarPlot {
            axes: radar::RADAR_AXES,
            theta: radar::RADAR_THETA,
            r,
            profitability_bar: self.profitability_bar.unwrap_or(f64::NAN),
            risk_control_bar: self.risk_control_bar.unwrap_or(f64::NAN),
        }
    }
}

/// The result of a `dynamics_test` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DynamicsTestJobResult {
    pub symbol: String,
    pub agent: String,
    pub filter: Filter,
    pub labels: Vec<DynamicsJobLabel>,
}

impl From<&DynamicsAnswer> for DynamicsTestJobResult {
    fn from(a: &DynamicsAnswer) -> Self {
        DynamicsTestJobResult {
            symbol: a.symbol.clone(),
            agent: a.agent.clone(),
            filter: a.filter,
            labels: a
                .labels
                .iter()
                .map(|l| DynamicsJobLabel {
                    label: l.label,
                    tested_runs: l.report.as_ref().map_or(0, |r| r.segments.iter().filter(|s| s.tested).count()),
                    profitability: l.report.as_ref().and_then(|r| finite(r.scores.agent.profitability)),
                    risk_control: l.report.as_ref().and_then(|r| finite(r.scores.agent.risk_control)),
                    refused: l.refused.as_ref().map(|x| format!("{}: {}", x.code, x.message)),
                    tables: l.report.as_ref().map(DynamicsTables::of),
                })
                .collect(),
        }
    }
}
