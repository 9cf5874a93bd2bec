//! Issue 21: comparisons that decide trades must not depend on how a sum was rounded. Every
//! built-in strategy gets a constructed series with an exact tie at a decision point, where plain
//! `f64` arithmetic (shown here) rounds the tie to one side; the trades must be the
//! mathematically correct ones (strict crossings: no trade on a tie).

use std::cmp::Ordering;

use quantdesk_backtest::strategy::{self, BUILT_IN, Params};
use quantdesk_backtest::voting::{BollingerModel, MaTrend, MacdModel, RsiModel, SignalModel};
use quantdesk_backtest::{BacktestConfig, BacktestResult, Series, backtest, run_with};
use quantdesk_core::indicators::{Indicator, Rsi};
use quantdesk_core::{Bar, Instrument, InstrumentKind, Resolution, Symbol};

const DAY: i64 = 86_400;

/// Prices in thousandths (three decimals), as `f64` read from their decimal text.
fn prices(milli: &[i64]) -> Vec<f64> {
    milli.iter().map(|m| format!("{}.{:03}", m / 1000, m % 1000).parse().unwrap()).collect()
}

fn bars(closes: &[f64]) -> Vec<Bar> {
    let at = |i: usize| 1_600_000_000 - 1_600_000_000 % DAY + i as i64 * DAY;
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| Bar { time: at(i), open: c, high: c, low: c, close: c, volume: 1.0, amount: 0.0 })
        .collect()
}

fn series(closes: &[f64]) -> Vec<Series> {
    let instrument = Instrument::with_defaults(Symbol::new("TIE").unwrap(), "tie", InstrumentKind::Stock);
    vec![Series { instrument, resolution: Resolution::Day, bars: bars(closes) }]
}

fn params(kv: &[(&str, f64)]) -> Params {
    kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Runs a built-in through `backtest` (the single-series loop) and through the general loop,
/// checks they agree, and gives the bars (indices) where trades were entered.
fn entries(closes: &[f64], name: &str, p: &Params) -> Vec<usize> {
    let cfg = BacktestConfig::default();
    let data = series(closes);
    let fast = backtest(&cfg, &data, name, p).unwrap();
    let mut s = strategy::build(name, p).unwrap();
    let general = run_with(&cfg, &data, name, p, &mut *s, None);
    let idx = |r: &BacktestResult| -> Vec<usize> {
        r.trades.iter().map(|t| data[0].bars.iter().position(|b| b.time == t.entry_time).unwrap()).collect()
    };
    assert_eq!(idx(&fast), idx(&general), "{name}: both loops");
    idx(&fast)
}

/// The old `Sma`: a running `f64` sum (no re-sum within 1,024 steps).
fn f64_running_means(closes: &[f64], n: usize) -> Vec<Option<f64>> {
    let mut sum = 0.0;
    (0..closes.len())
        .map(|k| {
            sum += closes[k];
            if k >= n {
                sum -= closes[k - n];
            }
            (k + 1 >= n).then(|| sum / n as f64)
        })
        .collect()
}

/// The old `Sma`'s running sum, updated as `sum += x − old`.
fn f64_sma(closes: &[f64], n: usize) -> Vec<Option<f64>> {
    let mut sum = 0.0;
    (0..closes.len())
        .map(|k| {
            if k >= n {
                sum += closes[k] - closes[k - n];
            } else {
                sum += closes[k];
            }
            (k + 1 >= n).then(|| sum / n as f64)
        })
        .collect()
}

/// Exact SMA-cross signals from integer thousandths, summed window by window: the reference.
fn reference_sma_cross(milli: &[i64], fast: usize, slow: usize) -> Vec<(usize, bool)> {
    let order = |k: usize| {
        let f: i64 = milli[k + 1 - fast..=k].iter().sum();
        let s: i64 = milli[k + 1 - slow..=k].iter().sum();
        (f * slow as i64).cmp(&(s * fast as i64))
    };
    (slow..milli.len())
        .filter_map(|k| match (order(k - 1), order(k)) {
            (Ordering::Less, Ordering::Greater) => Some((k, true)),
            (Ordering::Greater, Ordering::Less) => Some((k, false)),
            _ => None,
        })
        .collect()
}

/// A three-decimal series where SMA(fast) == SMA(slow) exactly on bar `t` (slow a multiple of
/// fast), the old running `f64` sums say fast < slow there, and the next bar lifts the fast
/// average clearly above: the old code bought there on a cross that is not there.
fn sma_tie(fast: usize, slow: usize) -> (Vec<i64>, usize) {
    let r = (slow / fast) as i64;
    assert_eq!(r * fast as i64, slow as i64);
    let t = slow + 12;
    for seed in 0..10_000u64 {
        let mut rng = quantdesk_core::rng::Rng::new(seed);
        let mut milli: Vec<i64> = (0..t).map(|_| 11_000 + (rng.normal() * 300.0) as i64).collect();
        // p = (B − r·A) / (r − 1) with A the fast window's other values, B the slow one's.
        let a: i64 = milli[t + 1 - fast..t].iter().sum();
        let b: i64 = milli[t + 1 - slow..t].iter().sum();
        milli[t + 1 - slow] -= (b - r * a).rem_euclid(r - 1);
        let b: i64 = milli[t + 1 - slow..t].iter().sum();
        let p = (b - r * a) / (r - 1);
        if !(5_000..20_000).contains(&p) {
            continue;
        }
        milli.push(p);
        milli.push(p + 1_500);
        milli.push(p + 1_500); // the bar an order after t + 1 fills on
        let closes = prices(&milli);
        let (f, s) = (f64_sma(&closes, fast), f64_sma(&closes, slow));
        let old_less_at_tie = f[t].unwrap() < s[t].unwrap();
        let old_cross_after = f[t + 1].unwrap() > s[t + 1].unwrap();
        // The reference sees the tie, and an old Buy on t + 1 that the reference has not.
        let reference = reference_sma_cross(&milli, fast, slow);
        if old_less_at_tie && old_cross_after && !reference.iter().any(|(k, _)| *k >= t) {
            return (milli, t);
        }
    }
    panic!("no tie found");
}

#[test]
fn sma_cross_takes_no_trade_on_an_exact_tie() {
    for (fast, slow) in [(5, 30), (5, 20), (10, 20), (3, 30)] {
        let (milli, t) = sma_tie(fast, slow);
        let closes = prices(&milli);
        // The tie is exact in decimals ...
        let f: i64 = milli[t + 1 - fast..=t].iter().sum();
        let s: i64 = milli[t + 1 - slow..=t].iter().sum();
        assert_eq!(f * slow as i64, s * fast as i64);
        // ... and rounded to one side by running f64 sums, whichever way they are updated.
        let (of, os) = (f64_sma(&closes, fast)[t].unwrap(), f64_sma(&closes, slow)[t].unwrap());
        assert!(of < os, "({fast}, {slow}): the f64 running sums say {of} < {os}");
        let (rf, rs) = (f64_running_means(&closes, fast)[t], f64_running_means(&closes, slow)[t]);
        eprintln!("({fast}, {slow}) tie on bar {t}: running sums {of} vs {os}; {rf:?} vs {rs:?}");
        // The trades are the reference's buys, each entered at the next bar's open.
        let reference = reference_sma_cross(&milli, fast, slow);
        let got = entries(&closes, "sma_cross", &params(&[("fast", fast as f64), ("slow", slow as f64)]));
        let mut want = Vec::new();
        let mut long = false;
        for (k, buy) in reference.into_iter().filter(|(k, _)| k + 1 < closes.len()) {
            if buy && !long {
                want.push(k + 1);
            }
            long = buy;
        }
        assert_eq!(got, want, "({fast}, {slow}): entries");
        assert!(!got.contains(&(t + 2)), "({fast}, {slow}): no buy after the tie");
    }
}

/// Fourteen changes whose gains and losses are 3 : 7: RSI(14) is exactly 30 on bar 14, which
/// `f64` rounds below 30. Then a flat bar (RSI still exactly 30) and one more.
fn rsi_tie() -> Vec<i64> {
    for seed in 0..10_000u64 {
        let mut rng = quantdesk_core::rng::Rng::new(seed);
        let mut changes: Vec<i64> =
            (0..14).map(|i| if i % 2 == 0 { -1 } else { 1 } * (1 + (rng.next_u64() % 400) as i64)).collect();
        let gains: i64 = changes.iter().filter(|c| **c > 0).sum();
        let losses: i64 = -changes.iter().filter(|c| **c < 0).sum::<i64>();
        // Scale the losses to 7/3 of the gains: needs 3 | 7·gains, fixed by the last gain.
        let fix = gains % 3;
        changes[13] -= fix;
        let gains = gains - fix;
        if changes[13] <= 0 {
            continue;
        }
        let want_losses = gains * 7 / 3;
        changes[0] -= want_losses - losses; // the first change is a loss
        if changes[0] >= 0 {
            continue;
        }
        let mut milli = vec![20_000i64];
        for c in &changes {
            milli.push(milli.last().unwrap() + c);
        }
        milli.push(*milli.last().unwrap());
        milli.push(*milli.last().unwrap() + 10);
        let mut rsi = Rsi::new(14);
        let values: Vec<Option<f64>> = prices(&milli).iter().map(|c| rsi.next(*c)).collect();
        if values[14].unwrap() < 30.0 && values[15].unwrap() < 30.0 {
            return milli;
        }
    }
    panic!("no tie found");
}

#[test]
fn rsi_takes_no_trade_on_an_exact_tie() {
    let milli = rsi_tie();
    let closes = prices(&milli);
    let mut rsi = Rsi::new(14);
    let values: Vec<Option<f64>> = closes.iter().map(|c| rsi.next(*c)).collect();
    assert!(values[14].unwrap() < 30.0, "f64 rounds the exact 30 to {:?}", values[14]);
    assert_eq!(entries(&closes, "rsi", &params(&[])), Vec::<usize>::new());
}

/// A flat series: every EMA is the price, DIF and DEA are 0, and MACD never crosses. The old
/// update `α x + (1 − α) prev` rounded off the price and crossed on the noise.
#[test]
fn macd_takes_no_trade_on_a_flat_series() {
    let mut found = 0;
    for price in (1_001..1_400).map(|m| m * 7 + 3) {
        let closes = prices(&vec![price; 80]);
        // The old EMA on the same closes: does its histogram change sign?
        let old_ema = |n: f64| {
            let a = 2.0 / (n + 1.0);
            let mut v: Option<f64> = None;
            move |x: f64| {
                let next = v.map_or(x, |p| a * x + (1.0 - a) * p);
                v = Some(next);
                next
            }
        };
        let (mut f, mut s, mut sig) = (old_ema(12.0), old_ema(26.0), old_ema(9.0));
        let hist: Vec<f64> = closes
            .iter()
            .map(|&x| {
                let dif = f(x) - s(x);
                dif - sig(dif)
            })
            .collect();
        let flips = hist.windows(2).filter(|w| w[0] <= 0.0 && w[1] > 0.0).count();
        if flips > 0 {
            found += 1;
        }
        assert_eq!(entries(&closes, "macd", &params(&[])), Vec::<usize>::new(), "flat at {}", closes[0]);
    }
    assert!(found > 0, "some flat prices made the old MACD cross");
}

/// Four closes at `a`, then `c` below: with period 5 and k = 2 (= √(n − 1)) the close lies
/// exactly on the lower band; `f64` puts it below. Then one more bar at `c`.
#[test]
fn bollinger_takes_no_trade_on_the_band() {
    let mut found = 0;
    for a in (9_000..12_000).step_by(37) {
        for c in (a - 2_000..a).step_by(53) {
            let milli = [a, a, a, a, c, c];
            let closes = prices(&milli);
            let (x, n) = (&closes[..5], 5.0);
            let mean = x.iter().sum::<f64>() / n;
            let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            if closes[4] < mean - 2.0 * sd {
                found += 1;
            }
            let got = entries(&closes, "bollinger", &params(&[("period", 5.0), ("k", 2.0)]));
            assert_eq!(got, Vec::<usize>::new(), "{a} then {c}");
        }
    }
    assert!(found > 0, "f64 puts some of these closes below the band");
}

#[test]
fn buy_and_hold_is_one_trade_on_a_tie_series() {
    let (milli, _) = sma_tie(5, 30);
    assert_eq!(entries(&prices(&milli), "buy_and_hold", &params(&[])), vec![1]);
}

/// The voting models vote HOLD on ties: SMA(5) == SMA(20), MACD on a flat series, RSI at 30,
/// a close on the lower band; and the voting strategy takes no trade on a flat series.
#[test]
fn voting_models_hold_on_ties() {
    let at = |milli: &[i64], model: &mut dyn SignalModel| {
        bars(&prices(milli)).iter().map(|b| model.update(b)).last().flatten().unwrap()
    };
    use quantdesk_backtest::voting::Action;
    let (mut milli, t) = sma_tie(5, 20);
    milli.truncate(t + 1);
    let closes = prices(&milli);
    let (f, s) = (f64_sma(&closes, 5)[t].unwrap(), f64_sma(&closes, 20)[t].unwrap());
    assert!(f < s, "f64 says {f} < {s}");
    assert_eq!(at(&milli, &mut MaTrend::new(5, 20)).action, Action::Hold);

    let mut milli = rsi_tie();
    milli.truncate(15);
    assert_eq!(at(&milli, &mut RsiModel::new(14, 30.0, 70.0)).action, Action::Hold);

    for price in (1_001..1_400).map(|m| m * 7 + 3) {
        assert_eq!(at(&vec![price; 80], &mut MacdModel::new()).action, Action::Hold);
    }
    for a in (9_000..12_000).step_by(37) {
        for c in (a - 2_000..a).step_by(53) {
            assert_eq!(at(&[a, a, a, a, c], &mut BollingerModel::new(5, 2.0)).action, Action::Hold);
        }
    }
    assert_eq!(entries(&prices(&vec![11_128; 120]), "voting", &params(&[])), Vec::<usize>::new());
}

#[test]
fn every_built_in_has_a_tie_test() {
    // The tests above, one per strategy: a new built-in needs one too.
    assert_eq!(BUILT_IN, ["sma_cross", "rsi", "macd", "bollinger", "buy_and_hold", "voting"]);
}
