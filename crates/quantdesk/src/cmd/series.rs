//! The one series loader of the commands that analyse bars (`chan`, `backtest`, `sweep`,
//! `decide`): a CSV file read as `import bars` reads it, without storing it, or stored bars at any
//! resolution through `quantdesk_app::market`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use quantdesk_app::config::Config;
use quantdesk_app::market::{BarRequest, BarSource, stored_series};
use quantdesk_backtest::Series;
use quantdesk_core::{Adjustment, Instrument, InstrumentKind, Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap};
use quantdesk_store::MarketStore;

use super::common::open_store;

/// Which bars to load.
#[derive(Debug, Clone)]
pub struct BarQuery<'a> {
    /// A CSV file of bars; without it, stored bars of `symbols`.
    pub file: Option<&'a Path>,
    /// With a file, at most one: the symbol of a single-symbol file's rows (multi-symbol files
    /// carry a symbol column). Without, the stored symbols to read, at least one.
    pub symbols: &'a [String],
    /// The file's resolution, or the resolution to build from what is stored.
    pub resolution: Resolution,
    /// `--resolution` was not given: a file's resolution is detected from its timestamps (and
    /// said on stderr); stored bars are read at `resolution`.
    pub detect: bool,
    /// Price adjustment of stored bars (a file's bars are taken as they are).
    pub adjustment: Adjustment,
    /// Only bars before this instant, as they looked then: derived bars are built from stored
    /// bars before it only (a week in progress is the partial week).
    pub until: Option<i64>,
    /// Only the last N stored bars.
    pub countback: Option<u32>,
    /// Refuse a stored symbol of which no bar can be built.
    pub require_bars: bool,
}

impl<'a> BarQuery<'a> {
    /// All bars of `file` or of the stored `symbols`, qfq-adjusted when stored. `resolution`
    /// `None` (no `--resolution`): daily for stored bars, detected from a file's timestamps.
    pub fn new(file: Option<&'a Path>, symbols: &'a [String], resolution: Option<Resolution>) -> Self {
        BarQuery {
            file,
            symbols,
            resolution: resolution.unwrap_or(Resolution::Day),
            detect: resolution.is_none(),
            adjustment: Adjustment::Qfq,
            until: None,
            countback: None,
            require_bars: true,
        }
    }
}

/// The series `q` names: one per symbol of the file, or one per stored symbol in order.
pub async fn load(cfg: &Config, q: &BarQuery<'_>) -> Result<Vec<Series>> {
    if let Some(file) = q.file {
        return from_file(file, q);
    }
    if q.symbols.is_empty() {
        bail!("give a CSV file or --symbol for stored bars");
    }
    let store = open_store(cfg).await?;
    let mut out = Vec::with_capacity(q.symbols.len());
    for raw in q.symbols {
        out.push(stored(&*store, raw, q).await?);
    }
    Ok(out)
}

/// The bars of a CSV file, clipped to `q.until`.
fn from_file(file: &Path, q: &BarQuery<'_>) -> Result<Vec<Series>> {
    let symbol = match q.symbols {
        [] => None,
        [one] => Some(Symbol::new(one).map_err(|e| anyhow::anyhow!(e.0))?),
        _ => bail!("a file is read with at most one --symbol (multi-symbol files carry a symbol column)"),
    };
    // Read at one minute first: every timestamp keeps its time of day, so the file's own spacing
    // tells its resolution (a daily reading of an intraday file would see two rows per day).
    let fine = read_bar_file(file, symbol.clone(), Resolution::Minutes(1));
    let detected = fine.as_ref().ok().and_then(detect_resolution);
    let resolution = match (q.detect, detected) {
        (true, Some(found)) => {
            eprintln!("{}: detected resolution {} from its timestamps", file.display(), found.as_udf());
            found
        }
        (false, Some(found)) if found.is_intraday() != q.resolution.is_intraday() => bail!(
            "{} holds {} bars but --resolution {} was given: drop the flag to use the file's, or give --resolution {}",
            file.display(),
            if found.is_intraday() { "intraday" } else { "daily" },
            q.resolution.as_udf(),
            found.as_udf()
        ),
        _ => q.resolution,
    };
    let parsed = match (resolution, fine) {
        (Resolution::Minutes(1), Ok(p)) => p,
        _ => read_bar_file(file, symbol, resolution)?,
    };
    Ok(parsed
        .series
        .into_iter()
        .map(|(sym, data)| {
            let mut bars = data.bars;
            if let Some(until) = q.until {
                bars.retain(|b| b.time < until);
            }
            Series { instrument: Instrument::with_defaults(sym, "", InstrumentKind::Stock), resolution, bars }
        })
        .collect())
}

/// The stored bars of one symbol as `q` asks for them.
pub async fn stored(store: &dyn MarketStore, raw: &str, q: &BarQuery<'_>) -> Result<Series> {
    let req = BarRequest {
        resolution: q.resolution,
        adjustment: q.adjustment,
        from: i64::MIN,
        to: q.until.unwrap_or(i64::MAX),
        countback: q.countback,
    };
    let source = BarSource { store, blocks: None };
    Ok(stored_series(source, raw, &req, q.until.is_some(), q.require_bars).await?)
}

/// The resolution a file's bars are spaced at: daily when every gap is whole days, else the most
/// common gap within a day (in minutes) among the supported intraday resolutions. `None` when the
/// file says nothing (fewer than two bars in every series).
fn detect_resolution(parsed: &quantdesk_ingest::ParsedBars) -> Option<Resolution> {
    let mut gaps: std::collections::BTreeMap<i64, u32> = std::collections::BTreeMap::new();
    for data in parsed.series.values() {
        for w in data.bars.windows(2) {
            let gap = w[1].time - w[0].time;
            if gap > 0 {
                *gaps.entry(gap).or_default() += 1;
            }
        }
    }
    if gaps.is_empty() {
        return None;
    }
    if gaps.keys().all(|g| g % 86_400 == 0) {
        return Some(Resolution::Day);
    }
    let (minutes, _) = gaps
        .iter()
        .filter(|(g, _)| **g < 86_400 && **g % 60 == 0)
        .map(|(g, n)| (g / 60, *n))
        .max_by_key(|(g, n)| (*n, std::cmp::Reverse(*g)))?;
    [1u32, 5, 15, 30, 60]
        .into_iter()
        .find(|m| i64::from(*m) == minutes)
        .map(Resolution::Minutes)
        .or(Some(Resolution::Minutes(1)))
}

/// A bar file as `import bars` reads it (columns detected from the header).
fn read_bar_file(file: &Path, symbol: Option<Symbol>, resolution: Resolution) -> Result<quantdesk_ingest::ParsedBars> {
    let opts = BarImportOptions {
        file_name: file.display().to_string(),
        symbol,
        resolution,
        timezone: None,
        columns: ColumnMap::default(),
    };
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    Ok(quantdesk_ingest::parse_bars(std::io::BufReader::new(f), &opts, &mut |_| {})?)
}
