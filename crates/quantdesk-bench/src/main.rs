//! Benchmarks that need no server.
//!
//! - `cargo run --release -p quantdesk-bench -- data OUT_DIR [SYMBOLS] [MINUTE_DAYS] [DAILY_DAYS]`
//!   writes benchmark market data: a year of 1-minute A-share bars and five years of daily bars for
//!   N symbols (defaults 100, 250, 1250), as two multi-symbol CSV files that `quantdesk import bars`
//!   reads. Used by `bench/udf.sh`.
//! - `cargo run --release -p quantdesk-bench -- backtest` times the backtest engine: one SMA-cross
//!   run over 1,000,000 bars, and a sweep of 100 parameter pairs over 100,000 bars on every core,
//!   with the peak memory before and after the sweep. `backtest single` runs the single run once
//!   and `backtest sweep N` one sweep of N parameter pairs (for profilers and for checking that
//!   peak memory does not grow with the number of runs). `--bars N` and `--sweep-bars N` change
//!   the sizes (1,000,000 and 100,000; the CI smoke run takes a few thousand).
//! - `cargo run --release -p quantdesk-bench -- sync [--symbols 300] [--years 20] [--peer CMD]…`
//!   times syncing daily bars from the loopback TuShare fake: end to end, fetch only, JSON decoding
//!   only and database only, and each peer command against the same fake (see `sync.rs` and
//!   `bench/sync.sh`).
//! - `cargo run --release -p quantdesk-bench -- valuation [--symbols 5000]` times the `valuation`
//!   job over N synthetic statement sets in SQLite (see `valuation.rs`).
//! - `cargo run --release -p quantdesk-bench -- spends --url postgres://… [--clients 64]
//!   [--spends 20000] [--accounts 1]` times coin spends through the ledger from concurrent
//!   clients and checks the balances come out exact (see `spends.rs`).

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, TimeZone};
use quantdesk_core::Session;
use quantdesk_core::demo::trading_calendar;
use quantdesk_core::rng::Rng;

mod spends;
mod sync;
mod valuation;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("backtest") => return backtest_bench(&args[1..]),
        Some("sync") => return sync::run(&args[1..]),
        Some("valuation") => return valuation::run(&args[1..]),
        Some("spends") => return spends::run(&args[1..]),
        Some("data") => {
            args.remove(0);
        }
        _ => anyhow::bail!(
            "usage: quantdesk-bench data OUT_DIR [SYMBOLS] [MINUTE_DAYS] [DAILY_DAYS] | quantdesk-bench backtest | quantdesk-bench sync [OPTIONS] | quantdesk-bench valuation [--symbols N] | quantdesk-bench spends --url postgres://… [--clients 64] [--spends 20000] [--accounts 1]"
        ),
    }
    data(args)
}

fn walk(n: usize, seed: u64) -> Vec<quantdesk_core::Bar> {
    let mut r = Rng::new(seed);
    let mut p = 100.0;
    (0..n)
        .map(|i| {
            let o = p;
            p *= (r.normal() * 0.01).exp();
            quantdesk_core::Bar {
                time: 1_000_000_000 + i as i64 * 86_400,
                open: o,
                high: o.max(p) * 1.002,
                low: o.min(p) * 0.998,
                close: p,
                volume: 1e6,
                amount: 0.0,
            }
        })
        .collect()
}

/// Peak resident memory of this process, from /proc (kB).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Takes `--NAME N` out of `args`: `Some(N)` when given.
fn take_flag(args: &mut Vec<String>, name: &str) -> Result<Option<usize>> {
    let Some(at) = args.iter().position(|a| a == name) else { return Ok(None) };
    let value = args.get(at + 1).with_context(|| format!("{name} needs a number"))?;
    let n = value.parse().with_context(|| format!("{name} {value:?}: not a number"))?;
    args.drain(at..=at + 1);
    Ok(Some(n))
}

fn backtest_bench(args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let bars = take_flag(&mut args, "--bars")?.unwrap_or(1_000_000);
    let sweep_bars = take_flag(&mut args, "--sweep-bars")?.unwrap_or(100_000);
    let args = args.as_slice();
    use quantdesk_backtest::{BacktestConfig, Costs, Series, backtest};
    use quantdesk_core::{Instrument, InstrumentKind, Resolution, Symbol};
    let symbol = Symbol::new("WALK").map_err(|e| anyhow::anyhow!(e.0))?;
    let series = |bars| -> Result<Vec<Series>> {
        let instrument = Instrument::with_defaults(symbol.clone(), "walk", InstrumentKind::Stock);
        Ok(vec![Series { instrument, resolution: Resolution::Day, bars }])
    };
    let cfg =
        BacktestConfig { costs: Costs { commission_rate: 0.001, ..Costs::default() }, ..BacktestConfig::default() };
    let params = |f: f64, s: f64| [("fast".to_string(), f), ("slow".to_string(), s)].into_iter().collect();

    let mode = args.first().map(String::as_str);
    let single_runs = match mode {
        None => 3,
        Some("single") => 1,
        Some("sweep") => 0,
        Some(other) => anyhow::bail!("unknown backtest mode {other:?}: use single or sweep N"),
    };
    let big = series(walk(if single_runs > 0 { bars } else { 0 }, 1))?;
    for run in 0..single_runs {
        let t = std::time::Instant::now();
        let r = backtest(&cfg, &big, "sma_cross", &params(10.0, 20.0)).map_err(|e| anyhow::anyhow!(e))?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "single run {run}: {bars} bars in {:.3} s = {:.1} M bars/s ({} trades, final equity {:.6}, cash {})",
            secs,
            bars as f64 / secs / 1e6,
            r.metrics.trades,
            r.final_equity,
            r.final_cash
        );
    }
    drop(big);

    if mode == Some("single") {
        return Ok(());
    }
    let (runs, rounds) = match mode {
        Some("sweep") => (args.get(1).map(|n| n.parse()).transpose()?.unwrap_or(100usize), 1),
        _ => (100, 3),
    };

    let data = series(walk(sweep_bars, 2))?;
    // 10 fast lengths (5..=14) times runs / 10 slow lengths (20, 23, 26, …).
    let pairs: Vec<(f64, f64)> =
        (0..10).flat_map(|f| (0..runs.div_ceil(10)).map(move |s| (5.0 + f as f64, 20.0 + 3.0 * s as f64))).collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let rss_before = peak_rss_kb();
    let points: Vec<quantdesk_backtest::strategy::Params> =
        pairs.iter().take(runs).map(|(f, s)| params(*f, *s)).collect();
    for round in 0..rounds {
        let t = std::time::Instant::now();
        // The product's sweep: every core, rows kept (params and metrics only), in order.
        let rows = quantdesk_backtest::sweep::sweep(&cfg, &data, "sma_cross", &Default::default(), &points, threads)
            .map_err(|e| anyhow::anyhow!(e))?;
        let secs = t.elapsed().as_secs_f64();
        let best = rows.iter().max_by(|a, b| a.metrics.sharpe.total_cmp(&b.metrics.sharpe));
        println!(
            "sweep {round}: {} backtests of {sweep_bars} bars on {threads} threads in {:.3} s = {:.0} backtests/s (best Sharpe {:.3} at {:?})",
            rows.len(),
            secs,
            rows.len() as f64 / secs,
            best.map(|r| r.metrics.sharpe).unwrap_or(f64::NAN),
            best.map(|r| &r.params)
        );
    }
    println!(
        "peak RSS: {} kB before the sweeps, {} kB after {rounds} sweep(s) of {} runs",
        rss_before,
        peak_rss_kb(),
        points.len()
    );
    Ok(())
}

fn data(args: Vec<String>) -> Result<()> {
    let out = std::path::PathBuf::from(
        args.first().context("usage: quantdesk-bench OUT_DIR [SYMBOLS] [MINUTE_DAYS] [DAILY_DAYS]")?,
    );
    let symbols: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let minute_days: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(250);
    let daily_days: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1250);
    std::fs::create_dir_all(&out)?;

    let end = NaiveDate::from_ymd_opt(2026, 10, 30).context("date")?;
    let calendar = trading_calendar(end - Duration::days(daily_days as i64 * 7 / 5 + 60), end);
    let daily_cal = &calendar[calendar.len().saturating_sub(daily_days)..];
    let minute_cal = &calendar[calendar.len().saturating_sub(minute_days)..];
    let session = Session::a_share();
    let tz = chrono_tz::Asia::Shanghai;

    let mut daily = std::io::BufWriter::new(std::fs::File::create(out.join("daily.csv"))?);
    let mut minute = std::io::BufWriter::new(std::fs::File::create(out.join("minute.csv"))?);
    writeln!(daily, "date,ts_code,open,high,low,close,volume")?;
    writeln!(minute, "datetime,ts_code,open,high,low,close,volume")?;
    let mut line = String::with_capacity(128);
    let (mut daily_rows, mut minute_rows) = (0u64, 0u64);
    for k in 0..symbols {
        let code = format!("{:06}.SH", 600_000 + k);
        let mut rng = Rng::new(7 + k as u64);
        let mut price = 10.0 + 90.0 * rng.uniform();
        for (i, date) in daily_cal.iter().enumerate() {
            let minutes_today = i + minute_cal.len() >= daily_cal.len();
            let open = price;
            let (mut high, mut low) = (open, open);
            let mut volume = 0.0;
            if minutes_today {
                for m in 0..240u32 {
                    let o = price;
                    let c = (o * (1.0 + rng.normal() * 0.0012)).max(0.01);
                    let h = o.max(c) * (1.0 + rng.uniform() * 0.0005);
                    let l = o.min(c) * (1.0 - rng.uniform() * 0.0005);
                    let v = (rng.uniform() * 5000.0).round() * 100.0;
                    let mod_ = session.minute_of_day(m).unwrap_or(570);
                    let local = date.and_hms_opt(u32::from(mod_ / 60), u32::from(mod_ % 60), 0).context("time")?;
                    let stamp = tz.from_local_datetime(&local).earliest().context("tz")?;
                    line.clear();
                    writeln!(line, "{},{code},{o:.2},{h:.2},{l:.2},{c:.2},{v}", stamp.format("%Y-%m-%d %H:%M:%S"))?;
                    minute.write_all(line.as_bytes())?;
                    minute_rows += 1;
                    high = high.max(h);
                    low = low.min(l);
                    volume += v;
                    price = c;
                }
            } else {
                price = (open * (1.0 + rng.normal() * 0.018)).max(0.01);
                high = open.max(price) * (1.0 + rng.uniform() * 0.01);
                low = open.min(price) * (1.0 - rng.uniform() * 0.01);
                volume = (rng.uniform() * 1e6).round() * 100.0;
            }
            line.clear();
            // Round so that low <= open, close <= high survives formatting.
            let (o, c) = ((open * 100.0).round() / 100.0, (price * 100.0).round() / 100.0);
            let (h, l) = (((high * 100.0).ceil() / 100.0).max(o.max(c)), ((low * 100.0).floor() / 100.0).min(o.min(c)));
            writeln!(line, "{date},{code},{o:.2},{h:.2},{l:.2},{c:.2},{volume}")?;
            daily.write_all(line.as_bytes())?;
            daily_rows += 1;
        }
    }
    daily.flush()?;
    minute.flush()?;
    println!("wrote {daily_rows} daily rows and {minute_rows} minute rows for {symbols} symbols to {}", out.display());
    Ok(())
}
