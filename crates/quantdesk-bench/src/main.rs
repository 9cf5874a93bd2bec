//! Writes benchmark market data: a year of 1-minute A-share bars and five years of daily bars for
//! N symbols, as two multi-symbol CSV files that `quantdesk import bars` reads.
//!
//! Run: `cargo run --release -p quantdesk-bench -- OUT_DIR [SYMBOLS] [MINUTE_DAYS] [DAILY_DAYS]`
//! (defaults 100, 250, 1250). Used by `bench/udf.sh`.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, TimeZone};
use quantdesk_core::Session;
use quantdesk_core::demo::trading_calendar;
use quantdesk_core::rng::Rng;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
