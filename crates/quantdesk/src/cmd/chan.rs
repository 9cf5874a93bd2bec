//! `quantdesk chan`: Chan-theory analysis of a CSV file or of stored bars, as JSON (the API's
//! model) or as a table.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use quantdesk_app::config::Config;
use quantdesk_core::Resolution;

use super::common::{print_all, print_json};
use super::options::{AdjustmentArg, ChanProfileArg, Lenient, OutputFormat, parse_resolution};
use super::series::{self, BarQuery};

#[derive(Args)]
pub struct ChanArgs {
    /// A CSV file of bars (as `import bars` reads them); without it, stored bars of --symbol.
    file: Option<PathBuf>,
    /// The symbol: the name of a single-symbol file's rows, or the stored symbol to analyse.
    #[arg(long)]
    symbol: Option<String>,
    /// Rules: chanpy (chan.py's defaults) or czsc (czsc's stroke rule).
    #[arg(long, value_enum, default_value = "chanpy")]
    profile: ChanProfileArg,
    /// Bar resolution of the stored bars to read (1, 5, 15, 30, 60, 1D, 1W, 1M; default 1D), or of
    /// the file (default: detected from its timestamps).
    #[arg(long, value_parser = parse_resolution)]
    resolution: Option<Resolution>,
    /// Price adjustment of stored bars: none, qfq (default) or hfq.
    #[arg(long, default_value = "qfq", ignore_case = true, value_parser = Lenient::<AdjustmentArg>::new())]
    adjustment: AdjustmentArg,
    /// Analyse only bars before this instant (a date, an RFC 3339 time or Unix seconds).
    #[arg(long, value_name = "ISO", value_parser = parse_until)]
    until: Option<i64>,
    /// Output: json (default) or table.
    #[arg(long, value_enum, default_value = "json")]
    format: OutputFormat,
    /// With --format table: how many of the last strokes and signals to list.
    #[arg(long, default_value_t = 10)]
    last: usize,
}

/// `--until`: a date is its 00:00 UTC, so the analysis is as of the start of that day (the day's
/// own bar is left out); an RFC 3339 time or Unix seconds is that instant.
fn parse_until(s: &str) -> Result<i64, String> {
    quantdesk_core::instant::parse_instant(s).map_err(|e| e.to_string())
}

pub async fn run(cfg: &Config, a: ChanArgs) -> Result<()> {
    use quantdesk_app::chan::{ChanProfile, to_api};
    let profile = ChanProfile::from(a.profile);
    let until = a.until.unwrap_or(i64::MAX);
    let query = BarQuery {
        adjustment: a.adjustment.into(),
        until: Some(until),
        ..BarQuery::new(a.file.as_deref(), a.symbol.as_slice(), a.resolution)
    };
    let loaded = series::load(cfg, &query).await?;
    let resolution = loaded.first().map_or(query.resolution, |s| s.resolution);
    let (name, adjustment, bars) = if let Some(file) = &a.file {
        let mut series = loaded.into_iter();
        let one = match (series.next(), series.next()) {
            (Some(one), None) => one,
            (None, _) => bail!("{} holds no bars", file.display()),
            (Some(_), Some(_)) => bail!("{} holds several symbols; analyse one at a time", file.display()),
        };
        if one.bars.is_empty() {
            bail!("no bars of {} before --until", one.instrument.symbol);
        }
        (one.instrument.symbol, quantdesk_core::Adjustment::None, one.bars)
    } else {
        let Some(one) = loaded.into_iter().next() else { bail!("give a CSV file or --symbol for stored bars") };
        (one.instrument.symbol, query.adjustment, one.bars)
    };
    let mut analysis = quantdesk_chan::analyze(&bars, &profile.engine().config())?;
    if a.format == OutputFormat::Json {
        return print_json(&to_api(name.as_str(), resolution, profile, adjustment, &bars, &analysis));
    }
    // The table counts merged bars and fractals and lists none: they stay out of its model (about
    // one merged bar per bar and its times written out would cost more than the analysis).
    let merged = (analysis.merged_bars.iter().filter(|x| x.confirmed).count(), analysis.merged_bars.len());
    let fractals = (analysis.fractals.iter().filter(|x| x.confirmed).count(), analysis.fractals.len());
    analysis.merged_bars = Vec::new();
    analysis.fractals = Vec::new();
    let report = to_api(name.as_str(), resolution, profile, adjustment, &bars, &analysis);
    use std::fmt::Write as _;
    let mut out = String::new();
    let r = &report;
    writeln!(
        out,
        "{} {} ({}, {}): {} bars from {} to {}",
        r.symbol,
        r.resolution,
        r.profile.as_str(),
        r.adjustment,
        r.bars,
        r.first_bar.as_deref().unwrap_or("-"),
        r.last_bar.as_deref().unwrap_or("-")
    )?;
    let confirmed = |n: usize, total: usize| format!("{total:>7}  ({n} confirmed)");
    writeln!(out, "merged bars {}", confirmed(merged.0, merged.1))?;
    writeln!(out, "fractals    {}", confirmed(fractals.0, fractals.1))?;
    writeln!(out, "strokes     {}", confirmed(r.strokes.iter().filter(|x| x.confirmed).count(), r.strokes.len()))?;
    writeln!(out, "segments    {}", confirmed(r.segments.iter().filter(|x| x.confirmed).count(), r.segments.len()))?;
    writeln!(
        out,
        "seg. of seg.{}",
        confirmed(r.segments_of_segments.iter().filter(|x| x.confirmed).count(), r.segments_of_segments.len())
    )?;
    writeln!(out, "pivots      {}", confirmed(r.pivots.iter().filter(|x| x.confirmed).count(), r.pivots.len()))?;
    writeln!(out, "signals     {}", confirmed(r.signals.iter().filter(|x| x.confirmed).count(), r.signals.len()))?;
    let word = |c: bool| if c { "" } else { "  provisional" };
    writeln!(out, "\nlast strokes")?;
    for s in &r.strokes[r.strokes.len().saturating_sub(a.last)..] {
        writeln!(
            out,
            "  #{:<5} {:<4} {} {:>12.4} -> {} {:>12.4}{}",
            s.index,
            if s.direction == quantdesk_app::chan::Direction::Up { "up" } else { "down" },
            s.begin_time,
            s.begin_price,
            s.end_time,
            s.end_price,
            word(s.confirmed)
        )?;
    }
    let mut signals: Vec<&quantdesk_app::chan::Signal> = r.signals.iter().collect();
    signals.sort_by(|x, y| x.time.cmp(&y.time));
    writeln!(out, "\nlast signals")?;
    for s in &signals[signals.len().saturating_sub(a.last)..] {
        writeln!(
            out,
            "  {:<3} {} {:>12.4}  {:<7} classes {:<8} {}{}",
            s.label,
            s.time,
            s.price,
            if s.level == quantdesk_app::chan::Level::Stroke { "stroke" } else { "segment" },
            s.classes.join(","),
            s.rule,
            word(s.confirmed)
        )?;
    }
    print_all(&out)
}
