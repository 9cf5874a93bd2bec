use proptest::prelude::*;

use super::*;
use crate::demo::trading_calendar;
use crate::resample::date_stamp;
use crate::rng::Rng;
use crate::{InstrumentKind, Symbol};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn main_board() -> Instrument {
    Instrument::with_defaults(Symbol::new("600000.SH").unwrap(), "浦发银行", InstrumentKind::Stock)
}

fn bar(date: NaiveDate, open: f64, close: f64, volume: f64) -> Bar {
    let high = open.max(close) * 1.01;
    let low = open.min(close) * 0.99;
    Bar { time: date_stamp(date), open, high, low, close, volume, amount: volume * close }
}

/// A clean series: a random walk within ±9 % a day on every open day of an approximated SSE
/// calendar (weekdays less holidays) from 2023-01-03, about 300 bars.
struct Case {
    inst: Instrument,
    bars: Vec<Bar>,
    factors: Vec<AdjFactor>,
    calendar: Vec<NaiveDate>,
    today: NaiveDate,
}

impl Case {
    fn clean(seed: u64) -> Case {
        let calendar = trading_calendar(d("2023-01-03"), d("2024-04-30"));
        assert!(calendar.len() > 300, "{}", calendar.len());
        let mut rng = Rng::new(seed);
        let mut close = 10.0;
        let bars = calendar
            .iter()
            .map(|day| {
                let open = close;
                close = (close * (1.0 + (rng.uniform() - 0.5) * 0.18) * 100.0).round() / 100.0;
                bar(*day, open, close, 1000.0 + (rng.uniform() * 1e5).round())
            })
            .collect();
        let today = *calendar.last().unwrap();
        Case { inst: main_board(), bars, factors: vec![AdjFactor { date: calendar[0], factor: 1.0 }], calendar, today }
    }

    fn check(&self) -> Vec<Finding> {
        let input = SeriesInput {
            instrument: &self.inst,
            bars: &self.bars,
            factors: &self.factors,
            calendar: &self.calendar,
            today: self.today,
        };
        check_series(&input, &Thresholds::default())
    }

    fn index_of(&self, date: NaiveDate) -> usize {
        self.bars.iter().position(|b| b.time == date_stamp(date)).unwrap()
    }
}

/// Exactly one finding, of `kind`, on `date`.
fn only(findings: &[Finding], kind: FindingKind, date: NaiveDate) -> &Finding {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!((f.kind, f.date), (kind, Some(date)), "{f:#?}");
    assert_eq!(f.symbol.as_str(), "600000.SH");
    f
}

#[test]
fn a_clean_series_has_no_findings() {
    for seed in [1, 2, 3] {
        let case = Case::clean(seed);
        assert!(case.check().is_empty(), "{:#?}", case.check());
    }
}

#[test]
fn three_missing_days_are_one_gap() {
    let mut case = Case::clean(1);
    let first = case.index_of(d("2023-06-06"));
    let dates: Vec<NaiveDate> = (first..first + 3).map(|i| bar_date(case.bars[i].time)).collect();
    // Keep the closes continuous so that the bar after the gap is no jump.
    let c = case.bars[first - 1].close;
    case.bars[first + 3].open = c;
    case.bars[first + 3].close = c;
    case.bars[first + 3].high = c;
    case.bars[first + 3].low = c;
    case.bars.drain(first..first + 3);
    let found = case.check();
    let f = only(&found, FindingKind::Gap, dates[0]);
    assert_eq!((f.until, f.count), (Some(dates[2]), 3));
    assert_eq!(f.severity(), Severity::Warning);
}

#[test]
fn a_bar_on_a_closed_day() {
    let mut case = Case::clean(1);
    // 2023-10-02 is in the National Day week: closed.
    let i = case.index_of(d("2023-10-09"));
    let prev = case.bars[i - 1];
    let extra = Bar { time: date_stamp(d("2023-10-02")), ..prev };
    case.bars.insert(i, extra);
    let found = case.check();
    only(&found, FindingKind::ClosedDayBar, d("2023-10-02"));
    assert_eq!(found[0].severity(), Severity::Error);
}

#[test]
fn a_bar_before_the_calendar_starts_is_not_on_a_closed_day() {
    let mut case = Case::clean(1);
    case.calendar.drain(..10);
    // The first ten bars fall before the calendar: it says nothing about them.
    assert!(case.check().is_empty(), "{:#?}", case.check());
}

#[test]
fn high_below_low() {
    let mut case = Case::clean(1);
    let i = case.index_of(d("2023-03-15"));
    let b = &mut case.bars[i];
    std::mem::swap(&mut b.high, &mut b.low);
    let found = case.check();
    let f = only(&found, FindingKind::OhlcInconsistent, d("2023-03-15"));
    assert!(f.detail.contains("is below low"), "{}", f.detail);
}

#[test]
fn ohlc_problems_are_named() {
    let date = d("2024-01-02");
    let good = bar(date, 10.0, 10.5, 100.0);
    assert!(ohlc_problems(&good).is_empty());
    let p = ohlc_problems(&Bar { close: 0.0, ..good });
    assert_eq!(p, vec!["close 0 is not positive"]);
    let p = ohlc_problems(&Bar { open: f64::NAN, volume: -1.0, ..good });
    assert_eq!(p, vec!["open is not a finite number".to_string(), "volume -1 is negative".to_string()]);
    let p = ohlc_problems(&Bar { close: 20.0, ..good });
    assert!(p[0].starts_with("close 20 is outside"), "{p:?}");
}

#[test]
fn zero_volume() {
    let mut case = Case::clean(1);
    let i = case.index_of(d("2023-08-08"));
    case.bars[i].volume = 0.0;
    let found = case.check();
    let f = only(&found, FindingKind::ZeroVolume, d("2023-08-08"));
    assert_eq!((f.count, f.until), (1, None));

    // A run of zero-volume bars is one finding.
    case.bars[i + 1].volume = 0.0;
    case.bars[i + 2].volume = 0.0;
    let found = case.check();
    let f = only(&found, FindingKind::ZeroVolume, d("2023-08-08"));
    assert_eq!((f.count, f.until), (3, Some(bar_date(case.bars[i + 2].time))));
}

/// Makes bar `i` close `change` away from the previous close by scaling it and every later bar
/// (so no other close-to-close move changes).
fn plant_jump(case: &mut Case, i: usize, change: f64) {
    let k = case.bars[i - 1].close * (1.0 + change) / case.bars[i].close;
    for b in &mut case.bars[i..] {
        b.open *= k;
        b.high *= k;
        b.low *= k;
        b.close *= k;
    }
    // The bar opens where the previous one closed; keep open inside [low, high].
    let b = &mut case.bars[i];
    b.low = b.low.min(b.open);
    b.high = b.high.max(b.open);
}

#[test]
fn a_jump_beyond_the_limit_without_a_factor_change() {
    let mut case = Case::clean(1);
    let i = case.index_of(d("2023-11-14"));
    plant_jump(&mut case, i, 0.30);
    let found = case.check();
    let f = only(&found, FindingKind::PriceJump, d("2023-11-14"));
    assert!(f.detail.contains("+30.0%") && f.detail.contains("±10%"), "{}", f.detail);

    // The same move with a factor change on that date is a corporate action.
    case.factors.push(AdjFactor { date: d("2023-11-14"), factor: 1.0 / 1.3 });
    assert!(case.check().is_empty(), "{:#?}", case.check());

    // A daily factor table that repeats the old value on the day explains nothing.
    case.factors = case.calendar.iter().map(|day| AdjFactor { date: *day, factor: 1.0 }).collect();
    only(&case.check(), FindingKind::PriceJump, d("2023-11-14"));
}

#[test]
fn moves_at_the_limit_are_not_jumps() {
    let mut case = Case::clean(1);
    let i = case.index_of(d("2023-11-14"));
    plant_jump(&mut case, i, -0.10);
    assert!(case.check().is_empty(), "{:#?}", case.check());
    plant_jump(&mut case, i, 0.104);
    assert!(case.check().is_empty(), "{:#?}", case.check());
    plant_jump(&mut case, i, 0.11);
    only(&case.check(), FindingKind::PriceJump, d("2023-11-14"));

    // A ChiNext stock may move 20 %; an instrument without a limit is held to ±50 %.
    case.inst = Instrument::with_defaults(Symbol::new("600000.SH").unwrap(), "x", InstrumentKind::Stock);
    case.inst.board = "chinext".into();
    case.inst.price_limit = Some(0.2);
    assert!(case.check().is_empty());
    plant_jump(&mut case, i, 0.45);
    only(&case.check(), FindingKind::PriceJump, d("2023-11-14"));
    case.inst.price_limit = None;
    assert!(case.check().is_empty());
    plant_jump(&mut case, i, -0.6);
    only(&case.check(), FindingKind::PriceJump, d("2023-11-14"));
}

#[test]
fn the_first_days_after_listing_are_not_checked() {
    let mut case = Case::clean(1);
    case.inst.list_date = Some(case.calendar[0]);
    // The listing day and the four open days after it are not checked; the sixth is.
    plant_jump(&mut case, 3, 0.44);
    plant_jump(&mut case, 4, -0.3);
    assert!(case.check().is_empty(), "{:#?}", case.check());
    plant_jump(&mut case, 5, 0.44);
    only(&case.check(), FindingKind::PriceJump, case.calendar[5]);
}

#[test]
fn stale_after_ten_open_days_without_bars() {
    let mut case = Case::clean(1);
    let n = case.bars.len();
    case.bars.truncate(n - 10);
    let found = case.check();
    let first_missing = case.calendar[n - 10];
    let f = only(&found, FindingKind::Stale, first_missing);
    assert_eq!((f.count, f.until), (10, Some(case.today)));

    // Five open days are within the default threshold.
    let mut case = Case::clean(1);
    let n = case.bars.len();
    case.bars.truncate(n - 5);
    assert!(case.check().is_empty(), "{:#?}", case.check());

    // A delisted instrument is never stale.
    let mut case = Case::clean(1);
    let n = case.bars.len();
    case.bars.truncate(n - 10);
    case.inst.delist_date = Some(case.calendar[n - 10]);
    assert!(case.check().is_empty(), "{:#?}", case.check());
}

#[test]
fn stale_counts_weekdays_beyond_the_calendar() {
    let mut case = Case::clean(1);
    case.calendar.clear();
    // No calendar: 2024-04-30 is a Tuesday; 14 days later, ten weekdays have passed.
    case.today = d("2024-05-14");
    let found = case.check();
    let f = only(&found, FindingKind::Stale, d("2024-05-01"));
    assert_eq!(f.count, 10);
}

#[test]
fn no_bars_at_all_is_stale() {
    let mut case = Case::clean(1);
    case.bars.clear();
    let found = case.check();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].kind, found[0].date), (FindingKind::Stale, None));
}

#[test]
fn a_duplicate_time() {
    let mut case = Case::clean(1);
    let i = case.index_of(d("2023-05-17"));
    let dup = case.bars[i];
    case.bars.insert(i + 1, dup);
    let found = case.check();
    let f = only(&found, FindingKind::DuplicateOrUnordered, d("2023-05-17"));
    assert!(f.detail.contains("two bars"), "{}", f.detail);
    assert_eq!(f.severity(), Severity::Error);
}

#[test]
fn swapped_bars_are_unordered_and_nothing_else() {
    let mut case = Case::clean(1);
    let i = case.index_of(d("2023-05-17"));
    case.bars.swap(i, i + 1);
    let found = case.check();
    only(&found, FindingKind::DuplicateOrUnordered, d("2023-05-17"));
}

#[test]
fn bars_after_today_are_ignored() {
    let mut case = Case::clean(1);
    case.today = case.calendar[case.calendar.len() - 3];
    assert!(case.check().is_empty(), "{:#?}", case.check());
}

#[test]
fn a_gap_stays_within_the_listing_dates() {
    let mut case = Case::clean(1);
    // Missing bars before the listing date are no gap.
    case.inst.list_date = Some(case.calendar[5]);
    case.bars.drain(1..5);
    // The first bar then jumps to the sixth's level; keep it quiet by copying the sixth's close.
    let c = case.bars[1].open;
    case.bars[0].open = c;
    case.bars[0].close = c;
    case.bars[0].high = c;
    case.bars[0].low = c;
    assert!(case.check().is_empty(), "{:#?}", case.check());
}

#[test]
fn several_defects_are_sorted_by_date() {
    let mut case = Case::clean(1);
    let a = case.index_of(d("2023-09-05"));
    let b = case.index_of(d("2023-02-07"));
    case.bars[a].volume = 0.0;
    case.bars[b].low = case.bars[b].high * 2.0;
    let found = case.check();
    let kinds: Vec<_> = found.iter().map(|f| (f.kind, f.date.unwrap())).collect();
    assert_eq!(
        kinds,
        vec![(FindingKind::OhlcInconsistent, d("2023-02-07")), (FindingKind::ZeroVolume, d("2023-09-05"))]
    );
}

#[test]
fn missing_annual_periods() {
    let sym = Symbol::new("600519.SH").unwrap();
    let present: Vec<NaiveDate> =
        [2017, 2018, 2021].iter().map(|y| NaiveDate::from_ymd_opt(*y, 12, 31).unwrap()).collect();
    let mut with_quarter = present.clone();
    with_quarter.push(d("2022-09-30"));
    let found = check_statements(&sym, &with_quarter, 2017..=2022);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::StatementMissing);
    assert_eq!((found[0].date, found[0].until, found[0].count), (Some(d("2019-12-31")), Some(d("2020-12-31")), 2));
    assert_eq!((found[1].date, found[1].count), (Some(d("2022-12-31")), 1), "a Q3 report is not an annual one");
    assert!(found[1].detail.contains("FY2022"), "{}", found[1].detail);
    assert!(check_statements(&sym, &present, 2017..=2018).is_empty());
}

#[test]
fn kinds_have_stable_codes() {
    let codes: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        codes,
        ["gap", "closed_day_bar", "ohlc", "zero_volume", "price_jump", "stale", "unordered", "statement_missing"]
    );
    for k in FindingKind::ALL {
        assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        assert_eq!(FindingKind::parse(k.as_str()).unwrap(), k);
    }
    assert!(FindingKind::parse("gaps").is_err());
    assert_eq!(Severity::Warning.as_str(), "warning");
}

fn row(date: &str, close: f64, volume: f64) -> (NaiveDate, Bar) {
    let day = d(date);
    (day, Bar { time: date_stamp(day), open: close, high: close, low: close, close, volume, amount: close * volume })
}

#[test]
fn compare_two_sources() {
    let a = vec![
        row("2024-01-02", 10.0, 1000.0),
        row("2024-01-03", 10.5, 2000.0),
        row("2024-01-04", 11.0, 3000.0),
        row("2024-01-05", 11.2, 3000.0),
    ];
    let mut b = vec![row("2024-01-03", 10.5, 2000.0), row("2024-01-04", 11.0, 3000.0), row("2024-01-08", 11.0, 1.0)];
    // Inside the price tolerance: 5e-5.
    b[0].1.close = 10.5 * (1.0 + 5e-5);
    // Outside it: 1 %, on 2024-01-04's close only.
    b[1].1.close = 11.0 * 1.01;
    // Volume off by 0.05 % (within 1e-3) and 1 % (beyond).
    b[0].1.volume = 2001.0;
    b[1].1.volume = 3030.0;
    let c = compare_daily(&a, &b);
    assert_eq!(c.common_dates, 2);
    assert_eq!(c.only_in_a, DateList { count: 2, first: vec![d("2024-01-02"), d("2024-01-05")] });
    assert_eq!(c.only_in_b, DateList { count: 1, first: vec![d("2024-01-08")] });
    let close = c.field(BarField::Close).unwrap();
    assert_eq!((close.compared, close.differing), (2, 1));
    assert_eq!(close.max_date, Some(d("2024-01-04")));
    assert!((close.max_relative_diff - 0.01 / 1.01).abs() < 1e-12, "{}", close.max_relative_diff);
    assert_eq!((close.max_a, close.max_b), (Some(11.0), Some(11.0 * 1.01)));
    let open = c.field(BarField::Open).unwrap();
    assert_eq!((open.differing, open.max_relative_diff, open.max_date), (0, 0.0, None));
    let volume = c.field(BarField::Volume).unwrap();
    assert_eq!((volume.differing, volume.max_date, volume.tolerance), (1, Some(d("2024-01-04")), 1e-3));
    assert!(!c.agrees());
    let table = c.to_string();
    assert!(table.contains("close") && table.contains("2024-01-04"), "{table}");
    assert!(table.contains("only in a: 2 dates: 2024-01-02, 2024-01-05"), "{table}");

    assert!(compare_daily(&a, &a).agrees());
    let few = CompareOptions { dates_listed: 1, ..Default::default() };
    let c = compare_daily_with(&a, &[], &few);
    assert_eq!(c.only_in_a.count, 4);
    assert_eq!(c.only_in_a.first, vec![d("2024-01-02")]);
    assert_eq!(c.fields.len(), 6);
    assert_eq!(relative_diff(0.0, 0.0), 0.0);
    assert_eq!(relative_diff(f64::NAN, 1.0), 1.0);
    assert_eq!(relative_diff(-1.0, 1.0), 2.0);
}

fn clean_series(steps: &[(f64, f64)]) -> (Vec<Bar>, Vec<NaiveDate>) {
    let calendar: Vec<NaiveDate> =
        trading_calendar(d("2022-12-20"), d("2026-01-01")).into_iter().take(steps.len()).collect();
    let mut close = 20.0;
    let bars = calendar
        .iter()
        .zip(steps)
        .map(|(day, (change, volume))| {
            let open = close;
            close = (close * (1.0 + change) * 100.0).round() / 100.0;
            bar(*day, open, close, *volume)
        })
        .collect();
    (bars, calendar)
}

proptest! {
    #[test]
    fn random_clean_series_have_no_findings(
        steps in proptest::collection::vec((-0.095f64..0.095, 1.0f64..1e7), 1..400),
    ) {
        let (bars, calendar) = clean_series(&steps);
        let inst = main_board();
        let today = *calendar.last().unwrap();
        let input = SeriesInput { instrument: &inst, bars: &bars, factors: &[], calendar: &calendar, today };
        let found = check_series(&input, &Thresholds::default());
        prop_assert!(found.is_empty(), "{:#?}", found);
    }

    #[test]
    fn a_removed_run_is_one_gap_of_its_length(
        steps in proptest::collection::vec((-0.02f64..0.02, 1.0f64..1e7), 30..200),
        start in 1usize..20,
        len in 1usize..8,
    ) {
        let (mut bars, calendar) = clean_series(&steps);
        bars.drain(start..start + len);
        let inst = main_board();
        let today = *calendar.last().unwrap();
        let input = SeriesInput { instrument: &inst, bars: &bars, factors: &[], calendar: &calendar, today };
        let found = check_series(&input, &Thresholds::default());
        prop_assert_eq!(found.len(), 1, "{:#?}", found);
        prop_assert_eq!(found[0].kind, FindingKind::Gap);
        prop_assert_eq!(found[0].date, Some(calendar[start]));
        prop_assert_eq!(found[0].count as usize, len);
    }
}

#[test]
fn findings_and_comparisons_are_json() {
    let f = Finding {
        kind: FindingKind::Gap,
        symbol: Symbol::new("600000.SH").unwrap(),
        date: Some(d("2024-01-02")),
        until: Some(d("2024-01-04")),
        count: 3,
        detail: "x".into(),
    };
    let json = serde_json::to_string(&f).unwrap();
    assert!(json.contains(r#""kind":"gap""#) && json.contains(r#""date":"2024-01-02""#), "{json}");
    assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
    let c = compare_daily(&[row("2024-01-02", 10.0, 1.0)], &[row("2024-01-02", 10.1, 1.0)]);
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains(r#""field":"close""#), "{json}");
    assert_eq!(serde_json::from_str::<Comparison>(&json).unwrap(), c);
    let t: Thresholds = serde_json::from_str(r#"{"stale_trading_days":3}"#).unwrap();
    assert_eq!((t.stale_trading_days, t.limit_slack), (3, 0.005));
}

#[test]
fn the_demo_market_shows_its_suspension_and_nothing_else() {
    let data = crate::demo::generate(&crate::demo::DemoConfig::standard(d("2025-06-30")));
    let today = *data.calendar.last().unwrap();
    let mut found = Vec::new();
    for s in &data.series {
        let input = SeriesInput {
            instrument: &s.instrument,
            bars: &s.daily,
            factors: &s.factors,
            calendar: &data.calendar,
            today,
        };
        found.extend(check_series(&input, &Thresholds::default()));
    }
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!((f.kind, f.symbol.as_str(), f.count), (FindingKind::Gap, "688111.SH", 10));
}
