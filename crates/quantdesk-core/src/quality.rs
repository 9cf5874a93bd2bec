//! Data-quality checks over stored market data: one instrument's daily series, the annual
//! periods of a financial statement, and the drift between two sources' daily bars.
//!
//! Everything here is pure: the caller passes the bars, the adjustment factors, the exchange
//! calendar and the date that counts as today, and gets findings back. `quantdesk data check`
//! prints them; the data-quality page shows them, translating each [`FindingKind`] by its code.
//!
//! What the series checks look at (see [`FindingKind`] for each finding):
//! - only bars dated on or before `today` (later bars are ignored);
//! - the bars sorted by time with one bar per date (the first in input order): an out-of-order or
//!   duplicated bar is reported once as [`FindingKind::DuplicateOrUnordered`] and does not also show
//!   as a gap or a jump;
//! - the calendar, when one is given, only over the dates it covers (its first to its last open day);
//!   outside it, and when it is empty, every weekday counts as an open day.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::adjust::factor_on;
use crate::{AdjFactor, Bar, Instrument, InvalidValue, Symbol};

/// One instrument's stored daily data, as the checks need it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesInput<'a> {
    pub instrument: &'a Instrument,
    /// Daily bars, ascending, each stamped 00:00 UTC of its trading date.
    pub bars: &'a [Bar],
    /// Adjustment factors, ascending by date (a daily factor table with repeated values is fine:
    /// only changes of value count).
    pub factors: &'a [AdjFactor],
    /// Open days of the instrument's exchange, ascending; empty when unknown.
    pub calendar: &'a [NaiveDate],
    /// The last date the checks consider (the caller's today: the core reads no clock).
    pub today: NaiveDate,
}

/// How strict the series checks are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// [`FindingKind::Stale`] when more than this many open days passed after the last bar.
    pub stale_trading_days: u32,
    /// How far beyond the board's price limit a close-to-close move may go before it counts as a
    /// [`FindingKind::PriceJump`] (0.005: a main-board ±10 % stock is flagged beyond ±10.5 %). The
    /// slack absorbs the rounding of limit prices to the tick; a move must also exceed the limit
    /// price by more than one tick.
    pub limit_slack: f64,
    /// The move that counts as a jump for instruments without a price limit (0.5: ±50 %).
    pub unlimited_jump: f64,
    /// Open days, from the listing date on, whose moves are not checked: new listings trade
    /// without limits at first (five days on ChiNext and STAR, one on the BSE, +44 % on the main
    /// board's first day). Only applies when the instrument's listing date is known.
    pub listing_days_unchecked: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { stale_trading_days: 5, limit_slack: 0.005, unlimited_jump: 0.5, listing_days_unchecked: 5 }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The data is wrong or unusable as stored.
    Error,
    /// The data may be right, but someone should look.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What a finding is about. The serde names are the stable codes of [`FindingKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FindingKind {
    /// Open days of the calendar between the first and the last bar (and within the listing and
    /// delisting dates) without a bar; consecutive missing days make one finding with their count.
    /// A suspension looks exactly like a gap: sources store no bar for suspended days.
    #[serde(rename = "gap")]
    Gap,
    /// A bar on a day the calendar says was closed (only where the calendar covers the date).
    #[serde(rename = "closed_day_bar")]
    ClosedDayBar,
    /// A bar that cannot be right: high below low, open or close outside [low, high], a price that
    /// is not a finite positive number, or a negative or non-finite volume or amount.
    #[serde(rename = "ohlc")]
    OhlcInconsistent,
    /// Bars with a volume of exactly 0; consecutive ones make one finding with their count.
    #[serde(rename = "zero_volume")]
    ZeroVolume,
    /// A close-to-close move beyond the instrument's price limit (plus
    /// [`Thresholds::limit_slack`]), or beyond [`Thresholds::unlimited_jump`] without a limit, on a
    /// date where the adjustment factor does not change. When the factor changes between the two
    /// bars the move is a corporate action (the hfq series `close × factor` is continuous there) and
    /// is not reported.
    #[serde(rename = "price_jump")]
    PriceJump,
    /// No bar for more than [`Thresholds::stale_trading_days`] open days up to `today`, for an
    /// instrument that is not delisted. A stock suspended until today is stale too.
    #[serde(rename = "stale")]
    Stale,
    /// Bar times that are not strictly ascending: a duplicate or a bar earlier than the one before.
    #[serde(rename = "unordered")]
    DuplicateOrUnordered,
    /// Annual report periods (31 December) missing from a statement.
    #[serde(rename = "statement_missing")]
    StatementMissing,
}

impl FindingKind {
    pub const ALL: [FindingKind; 8] = [
        FindingKind::Gap,
        FindingKind::ClosedDayBar,
        FindingKind::OhlcInconsistent,
        FindingKind::ZeroVolume,
        FindingKind::PriceJump,
        FindingKind::Stale,
        FindingKind::DuplicateOrUnordered,
        FindingKind::StatementMissing,
    ];

    /// The stable code, used in JSON, on the command line and by the page's translations.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Gap => "gap",
            FindingKind::ClosedDayBar => "closed_day_bar",
            FindingKind::OhlcInconsistent => "ohlc",
            FindingKind::ZeroVolume => "zero_volume",
            FindingKind::PriceJump => "price_jump",
            FindingKind::Stale => "stale",
            FindingKind::DuplicateOrUnordered => "unordered",
            FindingKind::StatementMissing => "statement_missing",
        }
    }

    /// Parses a code of [`FindingKind::as_str`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().to_ascii_lowercase();
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            InvalidValue(format!(
                "unknown finding kind {raw:?}: expected one of {}",
                FindingKind::ALL.map(|k| k.as_str()).join(", ")
            ))
        })
    }

    /// Errors are data that is wrong as stored; warnings may be real market events (suspensions,
    /// halts, extreme moves) or gaps in coverage.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::ClosedDayBar | FindingKind::OhlcInconsistent | FindingKind::DuplicateOrUnordered => {
                Severity::Error
            }
            FindingKind::Gap
            | FindingKind::ZeroVolume
            | FindingKind::PriceJump
            | FindingKind::Stale
            | FindingKind::StatementMissing => Severity::Warning,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FindingKind {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::parse(s)
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub symbol: Symbol,
    /// The (first) date concerned; `None` when the finding has no date (no bars at all).
    pub date: Option<NaiveDate>,
    /// The last date concerned, for findings that span days (gaps, zero-volume runs, staleness,
    /// missing statement years); `None` otherwise.
    pub until: Option<NaiveDate>,
    /// How many days (bars, periods) the finding covers; 1 for single-bar findings.
    pub count: u32,
    /// An English sentence for people; the page shows its own text per kind.
    pub detail: String,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

fn finding(
    kind: FindingKind,
    symbol: &Symbol,
    date: Option<NaiveDate>,
    until: Option<NaiveDate>,
    count: u32,
    detail: String,
) -> Finding {
    Finding { kind, symbol: symbol.clone(), date, until, count, detail }
}

/// The UTC date of a daily bar's stamp.
fn bar_date(time: i64) -> NaiveDate {
    DateTime::from_timestamp(time, 0).map(|d| d.date_naive()).unwrap_or(NaiveDate::MIN)
}

fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Which days are open: the calendar where it covers, weekdays elsewhere.
struct OpenDays<'a> {
    calendar: &'a [NaiveDate],
}

impl OpenDays<'_> {
    fn covers(&self, d: NaiveDate) -> bool {
        match (self.calendar.first(), self.calendar.last()) {
            (Some(a), Some(b)) => *a <= d && d <= *b,
            _ => false,
        }
    }

    fn is_open(&self, d: NaiveDate) -> bool {
        if self.covers(d) { self.calendar.binary_search(&d).is_ok() } else { is_weekday(d) }
    }

    /// Open days in `(after, until]`: their count, the first and the last.
    fn between(&self, after: NaiveDate, until: NaiveDate) -> (u32, Option<NaiveDate>, Option<NaiveDate>) {
        let (mut count, mut first, mut last) = (0u32, None, None);
        let mut d = after + Duration::days(1);
        while d <= until {
            if self.is_open(d) {
                count += 1;
                first = first.or(Some(d));
                last = Some(d);
            }
            d += Duration::days(1);
        }
        (count, first, last)
    }
}

fn fmt_pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// Runs every series check and returns the findings sorted by date (undated ones last), then kind.
pub fn check_series(input: &SeriesInput, t: &Thresholds) -> Vec<Finding> {
    let inst = input.instrument;
    let symbol = &inst.symbol;
    let mut out = Vec::new();

    // Order: every bar whose time is not after the previous one's.
    for pair in input.bars.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        if cur.time <= prev.time {
            let (pd, cd) = (bar_date(prev.time), bar_date(cur.time));
            if cd > input.today {
                continue;
            }
            let detail = if cur.time == prev.time {
                format!("two bars are stamped {cd}")
            } else {
                format!("the bar of {cd} comes after the bar of {pd}")
            };
            out.push(finding(FindingKind::DuplicateOrUnordered, symbol, Some(cd), None, 1, detail));
        }
    }

    // The series the other checks see: ascending, one bar per date, nothing after today.
    let mut by_date: BTreeMap<NaiveDate, &Bar> = BTreeMap::new();
    let mut sorted: Vec<&Bar> = input.bars.iter().collect();
    sorted.sort_by_key(|b| b.time);
    for b in sorted {
        let d = bar_date(b.time);
        if d <= input.today {
            by_date.entry(d).or_insert(b);
        }
    }
    let series: Vec<(NaiveDate, &Bar)> = by_date.into_iter().collect();

    for (d, b) in &series {
        let problems = ohlc_problems(b);
        if !problems.is_empty() {
            out.push(finding(FindingKind::OhlcInconsistent, symbol, Some(*d), None, 1, problems.join("; ")));
        }
    }

    // Zero volume, in runs of consecutive bars.
    let mut i = 0;
    while i < series.len() {
        if series[i].1.volume == 0.0 {
            let mut j = i;
            while j + 1 < series.len() && series[j + 1].1.volume == 0.0 {
                j += 1;
            }
            let n = (j - i + 1) as u32;
            let (from, to) = (series[i].0, series[j].0);
            let detail = if n == 1 {
                format!("the bar of {from} has no volume")
            } else {
                format!("{n} consecutive bars from {from} to {to} have no volume")
            };
            out.push(finding(FindingKind::ZeroVolume, symbol, Some(from), (n > 1).then_some(to), n, detail));
            i = j + 1;
        } else {
            i += 1;
        }
    }

    let open = OpenDays { calendar: input.calendar };
    jumps(input, t, &series, &open, &mut out);

    if !input.calendar.is_empty() {
        calendar_checks(input, &series, &open, &mut out);
    }

    stale(input, t, &series, &open, &mut out);

    out.sort_by_key(|f| (f.date.is_none(), f.date, f.kind));
    out
}

fn ohlc_problems(b: &Bar) -> Vec<String> {
    let mut problems = Vec::new();
    let prices = [("open", b.open), ("high", b.high), ("low", b.low), ("close", b.close)];
    let mut prices_ok = true;
    for (name, p) in prices {
        if !p.is_finite() {
            problems.push(format!("{name} is not a finite number"));
            prices_ok = false;
        } else if p <= 0.0 {
            problems.push(format!("{name} {p} is not positive"));
            prices_ok = false;
        }
    }
    if prices_ok {
        if b.high < b.low {
            problems.push(format!("high {} is below low {}", b.high, b.low));
        } else {
            for (name, p) in [("open", b.open), ("close", b.close)] {
                if p > b.high || p < b.low {
                    problems.push(format!("{name} {p} is outside [low {}, high {}]", b.low, b.high));
                }
            }
        }
    }
    for (name, v) in [("volume", b.volume), ("amount", b.amount)] {
        if !v.is_finite() {
            problems.push(format!("{name} is not a finite number"));
        } else if v < 0.0 {
            problems.push(format!("{name} {v} is negative"));
        }
    }
    problems
}

/// The limit used to judge jumps. Main-board stocks under ST (±5 % today) traded, and may trade
/// again, within ±10 %: the check uses the board's ordinary limit so their older history is not
/// flagged. Other instruments use their own limit.
fn jump_limit(inst: &Instrument) -> Option<f64> {
    inst.price_limit.map(|l| if inst.board == "main" && l < 0.1 { 0.1 } else { l })
}

fn jumps(input: &SeriesInput, t: &Thresholds, series: &[(NaiveDate, &Bar)], open: &OpenDays, out: &mut Vec<Finding>) {
    let inst = input.instrument;
    let limit = jump_limit(inst);
    let threshold = match limit {
        Some(l) => l + t.limit_slack,
        None => t.unlimited_jump,
    };
    let mut factors = input.factors.to_vec();
    factors.sort_by_key(|f| f.date);
    // The listing date and the last of the open days after it that are not checked.
    let unchecked_until = inst.list_date.filter(|_| t.listing_days_unchecked > 0).map(|listed| {
        let (mut d, mut seen) = (listed, 0);
        loop {
            if open.is_open(d) {
                seen += 1;
            }
            if seen >= t.listing_days_unchecked || d >= listed + Duration::days(3660) {
                break (listed, d);
            }
            d += Duration::days(1);
        }
    });
    for pair in series.windows(2) {
        let ((pd, prev), (cd, cur)) = (pair[0], pair[1]);
        let ok = |p: f64| p.is_finite() && p > 0.0;
        if !(ok(prev.close) && ok(cur.close)) {
            continue;
        }
        if unchecked_until.is_some_and(|(listed, last)| cd >= listed && cd <= last) {
            continue;
        }
        let change = cur.close / prev.close - 1.0;
        if change.abs() <= threshold {
            continue;
        }
        if let Some(l) = limit
            && (cur.close - prev.close).abs() <= prev.close * l + inst.tick_size
        {
            continue;
        }
        let (fp, fc) = (factor_on(&factors, pd), factor_on(&factors, cd));
        if let (Some(a), Some(b)) = (fp, fc)
            && (a - b).abs() > 1e-12 * a.abs().max(b.abs())
        {
            continue;
        }
        let rule = match limit {
            Some(l) => format!("the price limit is ±{}%", l * 100.0),
            None => format!("no price limit; moves beyond ±{}% are reported", t.unlimited_jump * 100.0),
        };
        let detail = format!(
            "close {} is {} from the previous close {} ({pd}); {rule}, and the adjustment factor does not change",
            cur.close,
            fmt_pct(change),
            prev.close,
        );
        out.push(finding(FindingKind::PriceJump, &inst.symbol, Some(cd), None, 1, detail));
    }
}

fn calendar_checks(input: &SeriesInput, series: &[(NaiveDate, &Bar)], open: &OpenDays, out: &mut Vec<Finding>) {
    let inst = input.instrument;
    let symbol = &inst.symbol;
    let cal = input.calendar;
    for (d, _) in series {
        if open.covers(*d) && !open.is_open(*d) {
            let detail = format!("a bar is stored for {d}, a day the exchange calendar has closed");
            out.push(finding(FindingKind::ClosedDayBar, symbol, Some(*d), None, 1, detail));
        }
    }
    let (Some((first, _)), Some((last, _))) = (series.first(), series.last()) else {
        return;
    };
    let lo = inst.list_date.map_or(*first, |l| l.max(*first));
    let hi = inst.delist_date.map_or(*last, |l| l.min(*last));
    let have: std::collections::HashSet<NaiveDate> = series.iter().map(|(d, _)| *d).collect();
    let start = cal.partition_point(|d| *d < lo);
    let end = cal.partition_point(|d| *d <= hi);
    let mut i = start;
    while i < end {
        if have.contains(&cal[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < end && !have.contains(&cal[j + 1]) {
            j += 1;
        }
        let n = (j - i + 1) as u32;
        let detail = if n == 1 {
            format!("no bar for {}, an open day", cal[i])
        } else {
            format!("no bars for {n} open days from {} to {} (a suspension looks the same)", cal[i], cal[j])
        };
        out.push(finding(FindingKind::Gap, symbol, Some(cal[i]), Some(cal[j]), n, detail));
        i = j + 1;
    }
}

fn stale(input: &SeriesInput, t: &Thresholds, series: &[(NaiveDate, &Bar)], open: &OpenDays, out: &mut Vec<Finding>) {
    let inst = input.instrument;
    if inst.delist_date.is_some_and(|d| d <= input.today) {
        return;
    }
    if inst.list_date.is_some_and(|d| d > input.today) {
        return;
    }
    let Some((last, _)) = series.last() else {
        let (count, first, until) = match inst.list_date {
            Some(l) => open.between(l - Duration::days(1), input.today),
            None => (0, None, None),
        };
        let detail = "no daily bars are stored".to_string();
        out.push(finding(FindingKind::Stale, &inst.symbol, first, until, count, detail));
        return;
    };
    let (count, first, until) = open.between(*last, input.today);
    if count > t.stale_trading_days {
        let detail = format!("the last bar is of {last}: {count} open days up to {} have no bar", input.today);
        out.push(finding(FindingKind::Stale, &inst.symbol, first, until, count, detail));
    }
}

/// Reports the years of `expected_years` for which `periods_present` (report end dates of one
/// statement) has no annual period (31 December). Consecutive missing years make one finding, dated
/// the first missing year-end, `until` the last, `count` the number of years.
pub fn check_statements(
    symbol: &Symbol,
    periods_present: &[NaiveDate],
    expected_years: RangeInclusive<i32>,
) -> Vec<Finding> {
    let annual: std::collections::BTreeSet<i32> =
        periods_present.iter().filter(|d| d.month() == 12 && d.day() == 31).map(|d| d.year()).collect();
    let missing: Vec<i32> = expected_years.filter(|y| !annual.contains(y)).collect();
    let year_end = |y: i32| NaiveDate::from_ymd_opt(y, 12, 31);
    let mut out = Vec::new();
    let mut i = 0;
    while i < missing.len() {
        let mut j = i;
        while j + 1 < missing.len() && missing[j + 1] == missing[j] + 1 {
            j += 1;
        }
        let (a, b) = (missing[i], missing[j]);
        let n = (j - i + 1) as u32;
        let detail = if n == 1 {
            format!("no annual report for FY{a}")
        } else {
            format!("no annual reports for FY{a} to FY{b} ({n} years)")
        };
        out.push(finding(FindingKind::StatementMissing, symbol, year_end(a), year_end(b), n, detail));
        i = j + 1;
    }
    out
}

/// A field of a daily bar, as [`compare_daily`] compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarField {
    Open,
    High,
    Low,
    Close,
    Volume,
    Amount,
}

impl BarField {
    pub const ALL: [BarField; 6] =
        [BarField::Open, BarField::High, BarField::Low, BarField::Close, BarField::Volume, BarField::Amount];

    pub fn as_str(self) -> &'static str {
        match self {
            BarField::Open => "open",
            BarField::High => "high",
            BarField::Low => "low",
            BarField::Close => "close",
            BarField::Volume => "volume",
            BarField::Amount => "amount",
        }
    }

    pub fn of(self, b: &Bar) -> f64 {
        match self {
            BarField::Open => b.open,
            BarField::High => b.high,
            BarField::Low => b.low,
            BarField::Close => b.close,
            BarField::Volume => b.volume,
            BarField::Amount => b.amount,
        }
    }

    /// True for volume and amount, whose units round differently between sources.
    pub fn is_size(self) -> bool {
        matches!(self, BarField::Volume | BarField::Amount)
    }
}

/// Tolerances of [`compare_daily_with`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareOptions {
    /// Relative difference above which prices differ (1e-4).
    pub price_tolerance: f64,
    /// Relative difference above which volume and amount differ (1e-3: sources round lots and
    /// thousands of yuan differently).
    pub size_tolerance: f64,
    /// How many dates to list of those found in one source only.
    pub dates_listed: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { price_tolerance: 1e-4, size_tolerance: 1e-3, dates_listed: 5 }
    }
}

/// Dates found in one source only: how many, and the first few.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DateList {
    pub count: u32,
    pub first: Vec<NaiveDate>,
}

/// How one field drifts between the two sources over their common dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDrift {
    pub field: BarField,
    pub tolerance: f64,
    /// Common dates compared.
    pub compared: u32,
    /// Common dates where `|a − b| / max(|a|, |b|)` exceeds the tolerance.
    pub differing: u32,
    /// The largest relative difference (0 when none), where it is and both values there.
    pub max_relative_diff: f64,
    pub max_date: Option<NaiveDate>,
    pub max_a: Option<f64>,
    pub max_b: Option<f64>,
}

/// The drift between two sources' daily bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub common_dates: u32,
    pub only_in_a: DateList,
    pub only_in_b: DateList,
    /// One entry per [`BarField::ALL`], in that order.
    pub fields: Vec<FieldDrift>,
}

impl Comparison {
    /// True when the sources cover the same dates and no field differs beyond its tolerance.
    pub fn agrees(&self) -> bool {
        self.only_in_a.count == 0 && self.only_in_b.count == 0 && self.fields.iter().all(|f| f.differing == 0)
    }

    /// The drift of one field.
    pub fn field(&self, field: BarField) -> Option<&FieldDrift> {
        self.fields.iter().find(|f| f.field == field)
    }
}

impl fmt::Display for Comparison {
    /// A plain-text table: one line per field, then the dates in one source only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:>9} {:>9} {:>10} {:>14} {:<10}",
            "field", "compared", "differing", "tolerance", "max rel diff", "at"
        )?;
        for d in &self.fields {
            let at = d.max_date.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "{:<8} {:>9} {:>9} {:>10.0e} {:>14.3e} {:<10}",
                d.field.as_str(),
                d.compared,
                d.differing,
                d.tolerance,
                d.max_relative_diff,
                at
            )?;
        }
        for (name, list) in [("a", &self.only_in_a), ("b", &self.only_in_b)] {
            let dates: Vec<String> = list.first.iter().map(|d| d.to_string()).collect();
            let more = if (list.first.len() as u32) < list.count { ", …" } else { "" };
            writeln!(
                f,
                "only in {name}: {} dates{}{}{more}",
                list.count,
                if dates.is_empty() { "" } else { ": " },
                dates.join(", ")
            )?;
        }
        Ok(())
    }
}

/// `|a − b| / max(|a|, |b|)`: 0 when both are equal (both zero included); 1 when one side is not a
/// finite number and the other differs.
pub fn relative_diff(a: f64, b: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    if !(a.is_finite() && b.is_finite()) {
        return 1.0;
    }
    (a - b).abs() / a.abs().max(b.abs())
}

/// Daily bars keyed by their trading date (the UTC date of the stamp), for [`compare_daily`].
pub fn dated(bars: &[Bar]) -> Vec<(NaiveDate, Bar)> {
    bars.iter().map(|b| (bar_date(b.time), *b)).collect()
}

/// [`compare_daily_with`] with the default tolerances.
pub fn compare_daily(a: &[(NaiveDate, Bar)], b: &[(NaiveDate, Bar)]) -> Comparison {
    compare_daily_with(a, b, &CompareOptions::default())
}

/// Compares two sources' daily bars field by field over the dates both have (in any order; a date
/// given twice counts once, its first bar). The bars' `time` is ignored: the dates decide.
pub fn compare_daily_with(a: &[(NaiveDate, Bar)], b: &[(NaiveDate, Bar)], opts: &CompareOptions) -> Comparison {
    let index = |rows: &[(NaiveDate, Bar)]| {
        let mut m: BTreeMap<NaiveDate, Bar> = BTreeMap::new();
        for (d, bar) in rows {
            m.entry(*d).or_insert(*bar);
        }
        m
    };
    let (ma, mb) = (index(a), index(b));
    let only = |x: &BTreeMap<NaiveDate, Bar>, y: &BTreeMap<NaiveDate, Bar>| {
        let dates: Vec<NaiveDate> = x.keys().filter(|d| !y.contains_key(d)).copied().collect();
        DateList { count: dates.len() as u32, first: dates.into_iter().take(opts.dates_listed).collect() }
    };
    let common: Vec<(NaiveDate, &Bar, &Bar)> = ma.iter().filter_map(|(d, x)| mb.get(d).map(|y| (*d, x, y))).collect();
    let fields = BarField::ALL
        .into_iter()
        .map(|field| {
            let tolerance = if field.is_size() { opts.size_tolerance } else { opts.price_tolerance };
            let mut drift = FieldDrift {
                field,
                tolerance,
                compared: common.len() as u32,
                differing: 0,
                max_relative_diff: 0.0,
                max_date: None,
                max_a: None,
                max_b: None,
            };
            for (d, x, y) in &common {
                let (va, vb) = (field.of(x), field.of(y));
                let r = relative_diff(va, vb);
                if r > tolerance {
                    drift.differing += 1;
                }
                if r > drift.max_relative_diff {
                    drift.max_relative_diff = r;
                    drift.max_date = Some(*d);
                    drift.max_a = Some(va);
                    drift.max_b = Some(vb);
                }
            }
            drift
        })
        .collect();
    Comparison { common_dates: common.len() as u32, only_in_a: only(&ma, &mb), only_in_b: only(&mb, &ma), fields }
}

#[cfg(test)]
mod tests;
