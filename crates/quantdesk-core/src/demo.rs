//! Deterministic demo market data.
//!
//! A seeded model with the features real markets have, so every later feature has something
//! meaningful to show: a regime-switching index (bull, bear and sideways spells), GARCH(1,1)
//! volatility clusters, opening gaps and jumps, A-share price limits with limit-up and limit-down
//! days (including one-price 一字板 days), a ten-day suspension, a 10-for-10 bonus issue and a cash
//! dividend with their adjustment factors, several years of daily bars and recent months of 1-minute
//! bars that agree with the daily bars on the days they cover.
//!
//! Demo instruments carry 演示 ("demo") in their names so nobody mistakes them for real quotes.
//! The caller passes the last date: the core reads no clock.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Weekday};

use crate::resample::date_stamp;
use crate::rng::Rng;
use crate::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Session, Symbol};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub seed: u64,
    /// The last trading date (inclusive), usually today.
    pub end: NaiveDate,
    /// Years of daily history.
    pub years: u32,
    /// Trading days, counted back from `end`, that also get 1-minute bars.
    pub minute_days: usize,
}

impl DemoConfig {
    /// The configuration `serve --demo` uses.
    pub fn standard(end: NaiveDate) -> Self {
        DemoConfig { seed: 20_240_101, end, years: 5, minute_days: 60 }
    }
}

/// One instrument's generated history.
#[derive(Debug, Clone)]
pub struct DemoSeries {
    pub instrument: Instrument,
    pub daily: Vec<Bar>,
    /// 1-minute bars stamped with their opening minute.
    pub minutes: Vec<Bar>,
    pub factors: Vec<AdjFactor>,
}

/// The whole demo market.
#[derive(Debug, Clone)]
pub struct DemoData {
    pub series: Vec<DemoSeries>,
    /// SSE trading days covered by the data.
    pub calendar: Vec<NaiveDate>,
}

impl DemoData {
    /// Bars of `res` (1-minute or daily) for every series, for storage.
    pub fn bars(&self, res: Resolution) -> impl Iterator<Item = (&Instrument, &[Bar])> {
        self.series.iter().map(move |s| {
            let bars: &[Bar] = if res == Resolution::Day { &s.daily } else { &s.minutes };
            (&s.instrument, bars)
        })
    }
}

struct Spec {
    code: &'static str,
    name: &'static str,
    abbrev: &'static str,
    kind: InstrumentKind,
    start_price: f64,
    beta: f64,
    idio_vol: f64,
    base_volume: f64,
}

const SPECS: [Spec; 7] = [
    Spec {
        code: "000998.SH",
        name: "演示综合指数",
        abbrev: "YSZHZS",
        kind: InstrumentKind::Index,
        start_price: 3000.0,
        beta: 1.0,
        idio_vol: 0.0,
        base_volume: 3.0e10,
    },
    Spec {
        code: "600900.SH",
        name: "演示电力",
        abbrev: "YSDL",
        kind: InstrumentKind::Stock,
        start_price: 21.5,
        beta: 0.6,
        idio_vol: 0.009,
        base_volume: 4.0e7,
    },
    Spec {
        code: "601988.SH",
        name: "演示银行",
        abbrev: "YSYH",
        kind: InstrumentKind::Stock,
        start_price: 3.6,
        beta: 0.8,
        idio_vol: 0.007,
        base_volume: 2.0e8,
    },
    Spec {
        code: "000858.SZ",
        name: "演示酒业",
        abbrev: "YSJY",
        kind: InstrumentKind::Stock,
        start_price: 160.0,
        beta: 1.1,
        idio_vol: 0.014,
        base_volume: 1.5e7,
    },
    Spec {
        code: "300059.SZ",
        name: "演示科技",
        abbrev: "YSKJ",
        kind: InstrumentKind::Stock,
        start_price: 18.0,
        beta: 1.5,
        idio_vol: 0.022,
        base_volume: 9.0e7,
    },
    Spec {
        code: "688111.SH",
        name: "演示芯片",
        abbrev: "YSXP",
        kind: InstrumentKind::Stock,
        start_price: 95.0,
        beta: 1.4,
        idio_vol: 0.026,
        base_volume: 6.0e6,
    },
    Spec {
        code: "600005.SH",
        name: "*ST演示",
        abbrev: "STYS",
        kind: InstrumentKind::Stock,
        start_price: 4.2,
        beta: 0.9,
        idio_vol: 0.03,
        base_volume: 3.0e7,
    },
];

/// Approximate first day of the Spring Festival closure (the day before 春节), per year.
fn spring_festival(year: i32) -> Option<NaiveDate> {
    let (m, d) = match year {
        2018 => (2, 15),
        2019 => (2, 4),
        2020 => (1, 24),
        2021 => (2, 11),
        2022 => (1, 31),
        2023 => (1, 21),
        2024 => (2, 9),
        2025 => (1, 28),
        2026 => (2, 16),
        2027 => (2, 5),
        2028 => (1, 25),
        2029 => (2, 12),
        2030 => (2, 2),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, m, d)
}

/// An approximation of the SSE calendar: weekdays less New Year, the Spring Festival week,
/// Labour Day (May 1–3) and the National Day week (Oct 1–7).
pub fn trading_calendar(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = start;
    while d <= end {
        let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let (m, day) = (d.month(), d.day());
        let fixed = (m == 1 && day == 1) || (m == 5 && day <= 3) || (m == 10 && day <= 7);
        let festival = spring_festival(d.year()).is_some_and(|s| d >= s && d < s + Duration::days(7));
        if !(weekend || fixed || festival) {
            out.push(d);
        }
        d += Duration::days(1);
    }
    out
}

fn round_tick(p: f64, tick: f64) -> f64 {
    ((p / tick).round() * tick * 1e6).round() / 1e6
}

/// GARCH(1,1) volatility state.
struct Garch {
    var: f64,
    omega: f64,
}

impl Garch {
    fn new(daily_vol: f64) -> Self {
        let var = daily_vol * daily_vol;
        Garch { var, omega: var * (1.0 - 0.08 - 0.9) }
    }
    fn step(&mut self, rng: &mut Rng) -> f64 {
        let shock = self.var.sqrt() * rng.normal();
        self.var = self.omega + 0.08 * shock * shock + 0.9 * self.var;
        shock
    }
    fn vol(&self) -> f64 {
        self.var.sqrt()
    }
}

/// Generates the demo market.
pub fn generate(cfg: &DemoConfig) -> DemoData {
    let start = cfg
        .end
        .with_year(cfg.end.year() - cfg.years as i32)
        .unwrap_or(cfg.end - Duration::days(365 * i64::from(cfg.years)));
    let calendar = trading_calendar(start, cfg.end);
    let n = calendar.len();
    let mut rng = Rng::new(cfg.seed);

    // The market factor: regime-switching drift with clustered volatility.
    let mut market = Vec::with_capacity(n);
    let mut garch = Garch::new(0.011);
    let mut regime = 0usize; // 0 sideways, 1 bull, 2 bear
    for _ in 0..n {
        if rng.chance(1.0 / 70.0) {
            regime = (regime + 1 + (rng.next_u64() % 2) as usize) % 3;
        }
        let drift = [0.0, 0.0011, -0.0013][regime];
        market.push(drift + garch.step(&mut rng));
    }

    let minute_start = n.saturating_sub(cfg.minute_days);
    let series = SPECS
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let mut r = Rng::new(cfg.seed ^ (0xA5A5_0000 + k as u64));
            generate_series(spec, &calendar, &market, minute_start, &mut r)
        })
        .collect();
    DemoData { series, calendar }
}

fn generate_series(
    spec: &Spec,
    calendar: &[NaiveDate],
    market: &[f64],
    minute_start: usize,
    rng: &mut Rng,
) -> DemoSeries {
    let symbol = Symbol::new(spec.code).unwrap_or_else(|_| unreachable!("demo symbols are valid"));
    let mut instrument = Instrument::with_defaults(symbol, spec.name, spec.kind);
    instrument.abbrev = spec.abbrev.into();
    instrument.list_date = calendar.first().map(|d| *d - Duration::days(400));
    let n = calendar.len();
    let tick = instrument.tick_size;
    let limit = instrument.price_limit;
    let tz = instrument.tz();
    let session = instrument.session.clone();

    // Corporate actions: a 10-for-10 bonus issue and a cash dividend, as cumulative factors.
    let mut factor_steps: Vec<(usize, f64)> = Vec::new();
    match spec.code {
        "000858.SZ" => factor_steps.push((n / 2, 2.0)),
        "601988.SH" => factor_steps.push((n * 2 / 3, 1.045)),
        _ => {}
    }
    // A ten-day suspension.
    let suspended = |i: usize| spec.code == "688111.SH" && i + 45 >= n && i + 35 < n;

    let mut idio = Garch::new(spec.idio_vol.max(1e-9));
    let mut factor = 1.0;
    let mut factors = vec![AdjFactor { date: calendar[0], factor: 1.0 }];
    let mut prev_close = spec.start_price;
    let mut daily = Vec::with_capacity(n);
    let mut minutes = Vec::new();

    for (i, date) in calendar.iter().enumerate() {
        if let Some(&(_, f)) = factor_steps.iter().find(|(at, _)| *at == i) {
            // Ex-rights day: the reference price scales down by the factor ratio.
            prev_close = round_tick(prev_close * factor / f, tick);
            factor = f;
            factors.push(AdjFactor { date: *date, factor });
        }
        let shock = if spec.idio_vol > 0.0 { idio.step(rng) } else { 0.0 };
        let jump = if spec.idio_vol > 0.0 && rng.chance(0.012) { rng.normal() * 0.06 } else { 0.0 };
        let ret = spec.beta * market[i] + shock + jump;
        if suspended(i) {
            continue;
        }
        let vol = (idio.vol().powi(2) + (spec.beta * 0.011).powi(2)).sqrt();
        let (lo_lim, hi_lim) = match limit {
            Some(l) => (round_tick(prev_close * (1.0 - l), tick), round_tick(prev_close * (1.0 + l), tick)),
            None => (tick, f64::INFINITY),
        };
        let clamp = |p: f64| round_tick(p.clamp(lo_lim, hi_lim).max(tick), tick);
        let gap = rng.normal() * vol * 0.35 + jump * 0.6;
        let open = clamp(prev_close * gap.exp());
        let close = clamp(prev_close * ret.exp());
        let one_price = limit.is_some() && jump.abs() > 0.09 && (close == hi_lim || close == lo_lim);
        let volume_base = spec.base_volume * (0.3 * rng.normal()).exp() * (1.0 + 25.0 * ret.abs());

        let bar = if i >= minute_start {
            let day_minutes = minute_path(
                rng,
                *date,
                if one_price { close } else { open },
                close,
                vol,
                volume_base,
                &session,
                tz,
                &clamp,
                one_price,
            );
            let mut d = day_minutes[0];
            for m in &day_minutes[1..] {
                d.merge(m);
            }
            d.time = date_stamp(*date);
            minutes.extend(day_minutes);
            d
        } else if one_price {
            Bar {
                time: date_stamp(*date),
                open: close,
                high: close,
                low: close,
                close,
                volume: volume_base * 0.15,
                amount: 0.0,
            }
        } else {
            let high = clamp(open.max(close) * (rng.normal().abs() * vol * 0.5).exp());
            let low = clamp(open.min(close) * (-rng.normal().abs() * vol * 0.5).exp());
            Bar { time: date_stamp(*date), open, high, low, close, volume: volume_base, amount: 0.0 }
        };
        let amount = (bar.volume * (bar.open + bar.high + bar.low + bar.close) / 4.0).round();
        daily.push(Bar { volume: bar.volume.round(), amount, ..bar });
        prev_close = close;
    }
    DemoSeries { instrument, daily, minutes, factors }
}

/// One day of 240 one-minute bars from `open` to `close` as a Brownian bridge, with a U-shaped
/// volume profile.
#[allow(clippy::too_many_arguments)]
fn minute_path(
    rng: &mut Rng,
    date: NaiveDate,
    open: f64,
    close: f64,
    day_vol: f64,
    day_volume: f64,
    session: &Session,
    tz: chrono_tz::Tz,
    clamp: &dyn Fn(f64) -> f64,
    one_price: bool,
) -> Vec<Bar> {
    const N: usize = 240;
    let step = day_vol / (N as f64).sqrt();
    let mut walk = vec![0.0f64; N + 1];
    for i in 1..=N {
        walk[i] = walk[i - 1] + rng.normal() * step;
    }
    let end = walk[N];
    let path: Vec<f64> = (0..=N)
        .map(|i| {
            let frac = i as f64 / N as f64;
            let bridge = walk[i] - frac * end;
            let base = open + (close - open) * frac;
            if one_price { close } else { clamp(base * bridge.exp()) }
        })
        .collect();
    let weights: Vec<f64> = (0..N)
        .map(|i| {
            let x = i as f64 / (N - 1) as f64;
            1.0 + 3.0 * (2.0 * x - 1.0).powi(4) + 0.5 * rng.uniform()
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let volume_scale = if one_price { 0.15 } else { 1.0 };
    (0..N)
        .map(|i| {
            let minute = session.minute_of_day(i as u32).unwrap_or(570);
            let local = date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0).unwrap_or_default();
            let time = tz.from_local_datetime(&local).earliest().map(|t| t.timestamp()).unwrap_or_default();
            let (o, c) = (path[i], path[i + 1]);
            let (high, low) = if one_price {
                (c, c)
            } else {
                let wiggle = step * 0.4;
                (
                    clamp(o.max(c) * (rng.normal().abs() * wiggle).exp()),
                    clamp(o.min(c) * (-rng.normal().abs() * wiggle).exp()),
                )
            };
            let volume = (day_volume * volume_scale * weights[i] / total / 100.0).round() * 100.0;
            Bar { time, open: o, high, low, close: c, volume, amount: (volume * (o + c) / 2.0).round() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::resample;

    fn small() -> DemoData {
        generate(&DemoConfig { seed: 1, end: "2026-11-20".parse().unwrap(), years: 2, minute_days: 20 })
    }

    #[test]
    fn deterministic() {
        let a = small();
        let b = small();
        for (x, y) in a.series.iter().zip(&b.series) {
            assert_eq!(x.daily, y.daily);
            assert_eq!(x.minutes, y.minutes);
        }
        let other = generate(&DemoConfig {
            seed: 2,
            ..DemoConfig { seed: 1, end: "2026-11-20".parse().unwrap(), years: 2, minute_days: 20 }
        });
        assert_ne!(a.series[1].daily, other.series[1].daily);
    }

    #[test]
    fn bars_are_valid_sorted_and_respect_limits() {
        let data = small();
        for s in &data.series {
            assert!(!s.daily.is_empty());
            for w in s.daily.windows(2) {
                assert!(w[0].time < w[1].time);
            }
            for b in s.daily.iter().chain(&s.minutes) {
                b.validate().unwrap_or_else(|e| panic!("{}: {e} in {b:?}", s.instrument.symbol));
            }
            if let Some(l) = s.instrument.price_limit {
                for w in s.daily.windows(2) {
                    let ratio_bound = l + 0.011; // a tick of rounding on a low-priced stock
                    let scale = crate::adjust::factor_on(
                        &s.factors,
                        crate::resample::trading_date(w[1].time, Resolution::Day, chrono_tz::UTC),
                    )
                    .unwrap()
                        / crate::adjust::factor_on(
                            &s.factors,
                            crate::resample::trading_date(w[0].time, Resolution::Day, chrono_tz::UTC),
                        )
                        .unwrap();
                    let prev = w[0].close / scale;
                    assert!((w[1].high / prev - 1.0) <= ratio_bound, "{} exceeds its limit", s.instrument.symbol);
                    assert!((1.0 - w[1].low / prev) <= ratio_bound, "{} exceeds its limit", s.instrument.symbol);
                }
            }
        }
    }

    #[test]
    fn minute_bars_agree_with_daily_bars() {
        let data = small();
        let s = &data.series[3];
        assert_eq!(s.minutes.len() % 240, 0);
        let derived =
            resample(&s.minutes, Resolution::Minutes(1), Resolution::Day, &s.instrument.session, s.instrument.tz());
        let tail = &s.daily[s.daily.len() - derived.len()..];
        for (d, t) in derived.iter().zip(tail) {
            assert_eq!(d.time, t.time);
            assert_eq!((d.open, d.high, d.low, d.close), (t.open, t.high, t.low, t.close));
        }
    }

    #[test]
    fn has_market_features() {
        let data = generate(&DemoConfig::standard("2026-11-20".parse().unwrap()));
        let n = data.calendar.len();
        // a suspension: fewer daily bars than trading days
        let chip = data.series.iter().find(|s| s.instrument.symbol.as_str() == "688111.SH").unwrap();
        assert_eq!(chip.daily.len(), n - 10);
        // limit-up and limit-down days
        let limit_days: usize = data
            .series
            .iter()
            .filter(|s| s.instrument.price_limit.is_some())
            .map(|s| {
                let l = s.instrument.price_limit.unwrap();
                s.daily.windows(2).filter(|w| (w[1].close / w[0].close - 1.0).abs() > l - 0.006).count()
            })
            .sum();
        assert!(limit_days >= 5, "only {limit_days} limit days");
        // a split with an adjustment factor
        let wine = data.series.iter().find(|s| s.instrument.symbol.as_str() == "000858.SZ").unwrap();
        assert_eq!(wine.factors.last().unwrap().factor, 2.0);
        // trends: the index moves by more than 20 % peak to trough somewhere
        let idx = &data.series[0].daily;
        let max = idx.iter().map(|b| b.close).fold(f64::MIN, f64::max);
        let min = idx.iter().map(|b| b.close).fold(f64::MAX, f64::min);
        assert!(max / min > 1.2);
    }
}
