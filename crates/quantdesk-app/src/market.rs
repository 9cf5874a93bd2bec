//! Market-data services shared by the UDF datafeed, the JSON API and the CLI: reading bars at any
//! resolution with adjustment, and importing files.

use std::sync::Arc;

use quantdesk_core::adjust::factor_on;
use quantdesk_core::resample::{resample_groups, trading_date};
use quantdesk_core::{Adjustment, Bar, Instrument, InstrumentKind, Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, BarParser, ImportError, ParsedBars};
use quantdesk_store::{BarSeriesWrite, ImportSession, ImportSummary, MarketStore, SeriesInfo, StoreError};

/// Where bars come from: the store, through the block cache when there is one.
#[derive(Clone, Copy)]
pub struct BarSource<'a> {
    pub store: &'a dyn MarketStore,
    pub blocks: Option<&'a crate::blocks::BarBlocks>,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct BarRequest {
    pub resolution: Resolution,
    pub adjustment: Adjustment,
    /// Inclusive lower bound (Unix seconds); ignored when `countback` is set.
    pub from: i64,
    /// Exclusive upper bound (Unix seconds).
    pub to: i64,
    /// The last N bars before `to`.
    pub countback: Option<u32>,
}

/// Bars for a request, with what was learned on the way.
#[derive(Debug, Clone, Default)]
pub struct BarAnswer {
    pub bars: Vec<Bar>,
    /// The stored resolution they were built from, `None` if nothing is stored that could build them.
    pub base: Option<Resolution>,
}

/// The stored resolution to build `target` from: the exact one if stored, else the coarsest one that
/// can build it.
pub fn choose_base(series: &[SeriesInfo], target: Resolution) -> Option<Resolution> {
    series.iter().map(|s| s.resolution).filter(|r| target.derivable_from(*r)).max_by_key(|r| (*r == target, *r))
}

/// Upper bound of base bars in one target bar (plus slack for out-of-session prints).
fn base_per_target(base: Resolution, target: Resolution) -> u64 {
    let base_minutes: u64 = match base {
        Resolution::Minutes(n) => u64::from(n),
        _ => 1440,
    };
    let target_minutes: u64 = match target {
        Resolution::Minutes(n) => u64::from(n),
        Resolution::Day => 1440,
        Resolution::Week => 7 * 1440,
        Resolution::Month => 31 * 1440,
    };
    (target_minutes / base_minutes).max(1) + 1
}

/// Seconds past `to` that base bars of the bucket containing `to - 1` may reach.
fn bucket_reach(target: Resolution) -> i64 {
    match target {
        Resolution::Minutes(n) => i64::from(n) * 60,
        Resolution::Day => 2 * 86_400,
        Resolution::Week => 8 * 86_400,
        Resolution::Month => 32 * 86_400,
    }
}

/// Reads bars of any resolution, deriving them from what is stored and adjusting prices.
///
/// Adjustment happens on the stored bars before resampling (a weekly bar across an ex-rights day is
/// built from adjusted days). hfq multiplies by `adj(t)`; qfq additionally divides by the factor in
/// force at the last stored bar inside the answer, which is `adj(latest in range)`.
pub async fn read_bars(
    source: BarSource<'_>,
    instrument: &Instrument,
    series: &[SeriesInfo],
    req: &BarRequest,
) -> Result<BarAnswer, StoreError> {
    read_bars_clipped(source, instrument, series, req, false).await
}

/// [`read_bars`] as of `req.to`: derived bars are built only from stored bars before `req.to`, so
/// the last one may be partial (a week in progress), exactly as it looked at that instant. Nothing
/// stored at or after `req.to` influences the answer (what a replay cursor needs).
pub async fn read_bars_before(
    source: BarSource<'_>,
    instrument: &Instrument,
    series: &[SeriesInfo],
    req: &BarRequest,
) -> Result<BarAnswer, StoreError> {
    read_bars_clipped(source, instrument, series, req, true).await
}

async fn read_bars_clipped(
    source: BarSource<'_>,
    instrument: &Instrument,
    series: &[SeriesInfo],
    req: &BarRequest,
    clip: bool,
) -> Result<BarAnswer, StoreError> {
    Ok(fetch_bars(source, instrument, series, req, clip).await?.shape())
}

/// Stored bars and factors fetched for a request, before adjustment and resampling: the I/O half
/// of [`read_bars`] / [`read_bars_before`] (`clip` for the latter). [`Fetched::shape`] is the CPU
/// half, which can run on another thread.
#[derive(Debug, Clone)]
pub struct Fetched {
    raw: Vec<Bar>,
    factors: Vec<quantdesk_core::AdjFactor>,
    base: Option<Resolution>,
    truncated: bool,
    clip: bool,
    req: BarRequest,
    session: quantdesk_core::Session,
    tz: chrono_tz::Tz,
}

/// Fetches what [`Fetched::shape`] needs to answer `req`.
pub async fn fetch_bars(
    source: BarSource<'_>,
    instrument: &Instrument,
    series: &[SeriesInfo],
    req: &BarRequest,
    clip: bool,
) -> Result<Fetched, StoreError> {
    let store = source.store;
    let tz = instrument.tz();
    let mut fetched = Fetched {
        raw: Vec::new(),
        factors: Vec::new(),
        base: None,
        truncated: false,
        clip,
        req: req.clone(),
        session: instrument.session.clone(),
        tz,
    };
    let Some(base) = choose_base(series, req.resolution) else {
        return Ok(fetched);
    };
    let symbol = &instrument.symbol;
    let derived = base != req.resolution;
    // Fetch window in base bars.
    let (from, to, limit) = if derived {
        let reach = bucket_reach(req.resolution);
        let to = req.to.saturating_add(reach);
        match req.countback {
            Some(n) => {
                let need = (u64::from(n) + 2) * base_per_target(base, req.resolution);
                (i64::MIN, to, Some(u32::try_from(need).unwrap_or(u32::MAX)))
            }
            None => (if req.resolution.is_intraday() { req.from } else { req.from.saturating_sub(86_400) }, to, None),
        }
    } else {
        match req.countback {
            Some(n) => (i64::MIN, req.to, Some(n)),
            None => (req.from, req.to, None),
        }
    };
    fetched.raw = match (source.blocks, series.iter().find(|s| s.resolution == base)) {
        (Some(blocks), Some(info)) => blocks.read(store, symbol, info, from, to, limit).await?,
        _ => store.bars(symbol, base, from, to, limit).await?,
    };
    fetched.truncated = limit.is_some_and(|l| fetched.raw.len() as u64 >= u64::from(l));
    fetched.factors = if req.adjustment == Adjustment::None { Vec::new() } else { store.adj_factors(symbol).await? };
    fetched.base = Some(base);
    Ok(fetched)
}

impl Fetched {
    /// Adjusts, resamples and clips the fetched bars: the answer of [`read_bars`] (or
    /// [`read_bars_before`]).
    pub fn shape(self) -> BarAnswer {
        let Fetched { mut raw, factors, base, truncated, clip, req, session, tz } = self;
        let Some(base) = base else {
            return BarAnswer::default();
        };
        let derived = base != req.resolution;
        if clip {
            raw.retain(|b| b.time < req.to);
        }

        if !factors.is_empty() {
            for b in raw.iter_mut() {
                let f = factor_on(&factors, trading_date(b.time, base, tz)).unwrap_or(1.0);
                scale(b, f);
            }
        }

        let mut groups = resample_groups(&raw, base, req.resolution, &session, tz);
        // Keep bars that open inside the requested range.
        let lower = if req.countback.is_some() { i64::MIN } else { req.from };
        groups.retain(|(b, _)| b.time >= lower && b.time < req.to);
        if derived && truncated && !groups.is_empty() {
            // The earliest bucket may be missing base bars cut off by the fetch limit.
            groups.remove(0);
        }
        if let Some(n) = req.countback {
            let n = n as usize;
            if groups.len() > n {
                groups.drain(..groups.len() - n);
            }
        }
        if req.adjustment == Adjustment::Qfq
            && !factors.is_empty()
            && let Some((_, end)) = groups.last()
        {
            let reference = factor_on(&factors, trading_date(raw[end - 1].time, base, tz)).unwrap_or(1.0);
            for (b, _) in groups.iter_mut() {
                scale(b, 1.0 / reference);
            }
        }
        let adjusted = req.adjustment != Adjustment::None && !factors.is_empty();
        let bars = groups
            .into_iter()
            .map(|(mut b, _)| {
                if adjusted {
                    for p in [&mut b.open, &mut b.high, &mut b.low, &mut b.close] {
                        *p = round6(*p);
                    }
                }
                b
            })
            .collect();
        BarAnswer { bars, base: Some(base) }
    }
}

fn scale(b: &mut Bar, f: f64) {
    b.open *= f;
    b.high *= f;
    b.low *= f;
    b.close *= f;
}

/// Adjusted prices are rounded to 6 decimals so that float noise does not reach users.
fn round6(p: f64) -> f64 {
    (p * 1e6).round() / 1e6
}

/// The time of the latest bar before `time`, at the target resolution's stamp.
pub async fn bar_time_before(
    store: &dyn MarketStore,
    instrument: &Instrument,
    base: Resolution,
    target: Resolution,
    time: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(t) = store.bar_before(&instrument.symbol, base, time).await? else {
        return Ok(None);
    };
    let stamped = match target {
        Resolution::Minutes(n) if base.is_intraday() => {
            quantdesk_core::resample::intraday_bucket(t, n, &instrument.session, instrument.tz())
        }
        Resolution::Minutes(_) => t,
        _ => quantdesk_core::resample::date_stamp(trading_date(t, base, instrument.tz())),
    };
    Ok(Some(stamped))
}

/// Why an import did not land.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    #[error(transparent)]
    Invalid(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of a bar import (one type for the API, the CLI and the `import` job's result).
pub use crate::jobs::ImportReport;

/// The exchange whose trading calendar learns the dates of a symbol's daily bars, if any.
fn calendar_exchange(symbol: &Symbol) -> Option<String> {
    let ex = Instrument::with_defaults(symbol.clone(), "", InstrumentKind::Other).exchange;
    (ex != "OTHER").then_some(ex)
}

/// Writes one parsed batch through an open import session.
async fn write_batch(session: &mut dyn ImportSession, batch: &ParsedBars) -> Result<(), StoreError> {
    for (symbol, data) in &batch.series {
        let exchange = calendar_exchange(symbol);
        session
            .write(&BarSeriesWrite { symbol, bars: &data.bars, factors: &data.factors, calendar: exchange.as_deref() })
            .await?;
    }
    Ok(())
}

fn report(rows: u64, resolution: Resolution, summary: ImportSummary) -> ImportReport {
    ImportReport {
        rows,
        symbols: summary.symbols,
        bars: summary.bars,
        factors: summary.factors,
        instruments_created: summary.instruments_created,
        resolution: resolution.as_udf(),
        bars_changed: summary.bars_changed,
        factors_changed: summary.factors_changed,
        unchanged: summary.bars_changed == 0 && summary.factors_changed == 0 && summary.instruments_created == 0,
    }
}

/// Writes already parsed bars in one transaction, teaching the trading calendar the dates of
/// daily A-share bars.
pub async fn write_bars(
    store: &dyn MarketStore,
    parsed: &ParsedBars,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<ImportReport, StoreError> {
    let mut session = store.begin_import(parsed.resolution).await?;
    write_batch(&mut *session, parsed).await?;
    progress(session.written());
    Ok(report(parsed.rows, parsed.resolution, session.commit().await?))
}

/// Rows per batch when streaming an import.
const BATCH_ROWS: usize = 200_000;

/// Streams a bar file into the store: a blocking thread parses batches while this task writes the
/// previous ones inside one transaction. A parse error rolls everything back, so the import is
/// still all-or-nothing, and memory stays bounded by a few batches. `progress` receives bytes parsed.
pub async fn import_bars_stream<R: std::io::Read + Send + 'static>(
    store: &dyn MarketStore,
    input: R,
    opts: BarImportOptions,
    progress: Box<dyn FnMut(u64) + Send>,
) -> Result<ImportReport, ImportFailure> {
    let resolution = opts.resolution;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<ParsedBars, ImportError>>(2);
    let parser = tokio::task::spawn_blocking(move || {
        let mut progress = progress;
        let mut parser = match BarParser::new(input, opts) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return 0;
            }
        };
        loop {
            match parser.next_batch(BATCH_ROWS, &mut *progress) {
                Ok(Some(batch)) => {
                    if tx.blocking_send(Ok(batch)).is_err() {
                        break; // the writer gave up
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
        parser.rows()
    });
    let mut session = store.begin_import(resolution).await?;
    while let Some(batch) = rx.recv().await {
        write_batch(&mut *session, &batch?).await?;
    }
    let rows = parser.await.map_err(|e| StoreError::Corrupt(format!("import task failed: {e}")))?;
    Ok(report(rows, resolution, session.commit().await?))
}

/// Parses and writes a bar file held in memory.
pub async fn import_bars_bytes(
    store: Arc<dyn MarketStore>,
    bytes: Vec<u8>,
    opts: BarImportOptions,
) -> Result<ImportReport, ImportFailure> {
    import_bars_stream(&*store, std::io::Cursor::new(bytes), opts, Box::new(|_| {})).await
}

/// Parses and writes an instrument master held in memory.
pub async fn import_instruments_bytes(
    store: Arc<dyn MarketStore>,
    bytes: Vec<u8>,
    file_name: String,
) -> Result<u64, ImportFailure> {
    import_instruments_reader(store, std::io::Cursor::new(bytes), file_name, usize::MAX).await
}

/// Parses an instrument master of at most `max_rows` rows from `input` on a blocking thread, then
/// writes it in one transaction. Every instrument is held until the last row is read: `max_rows`
/// bounds the memory.
pub async fn import_instruments_reader<R: std::io::Read + Send + 'static>(
    store: Arc<dyn MarketStore>,
    input: R,
    file_name: String,
    max_rows: usize,
) -> Result<u64, ImportFailure> {
    let items =
        tokio::task::spawn_blocking(move || quantdesk_ingest::parse_instruments_at_most(input, &file_name, max_rows))
            .await
            .map_err(|e| StoreError::Corrupt(format!("import task failed: {e}")))??;
    Ok(store.upsert_instruments(&items).await?)
}

/// Looks an instrument up, accepting TradingView's `EXCHANGE:SYMBOL` spelling.
pub fn parse_symbol(raw: &str) -> Result<Symbol, quantdesk_core::InvalidValue> {
    let s = raw.rsplit_once(':').map(|(_, s)| s).unwrap_or(raw);
    Symbol::new(s)
}

/// Why no bar came back, naming the range that is stored (issue 21, item 9): a date range with
/// no data says which dates there are.
fn no_bars_message(symbol: &Symbol, req: &BarRequest, stored: &[quantdesk_store::SeriesInfo]) -> String {
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| t.to_string())
    };
    let first = stored.iter().map(|s| s.first).min();
    let last = stored.iter().map(|s| s.last).max();
    let have = match (first, last) {
        (Some(a), Some(b)) => format!("stored bars of {symbol} run from {} to {}", day(a), day(b)),
        _ => format!("{symbol} has no stored bars"),
    };
    let asked = if req.countback.is_some() || req.from <= 0 {
        format!("before {}", day(req.to - 1))
    } else {
        format!("from {} to {}", day(req.from.max(0)), day(req.to - 1))
    };
    format!("no {} bars of {symbol} {asked}: {have}", req.resolution)
}

/// The one series loader: one stored symbol's bars as `req` asks for them, as a series for the
/// engines. `before` reads only stored bars before `req.to` (a bar in progress at that instant is
/// built from what existed then: a replay's or a cursor's reading); otherwise bars are clipped to
/// `[from, to)`. The CLI's analysing commands and the jobs call it, so they refuse the same
/// things the same way: a malformed symbol, an unknown instrument, and (with `require_bars`) a
/// symbol of which no bar at the resolution can be built.
pub async fn stored_series(
    source: BarSource<'_>,
    raw: &str,
    req: &BarRequest,
    before: bool,
    require_bars: bool,
) -> Result<quantdesk_backtest::Series, crate::AppError> {
    let symbol = Symbol::new(raw).map_err(|e| crate::AppError::invalid(e.0))?;
    let instrument = source
        .store
        .instrument(&symbol)
        .await?
        .ok_or_else(|| crate::AppError::not_found(format!("no instrument {symbol}")))?;
    let series = source.store.series(&symbol).await?;
    let bars = if before {
        read_bars_before(source, &instrument, &series, req).await?.bars
    } else {
        read_bars(source, &instrument, &series, req).await?.bars
    };
    if require_bars && bars.is_empty() {
        return Err(crate::AppError::invalid(no_bars_message(&symbol, req, &series)));
    }
    Ok(quantdesk_backtest::Series { instrument, resolution: req.resolution, bars })
}
