//! Bar files: one symbol per file (`--symbol`) or many (a symbol column).

use std::collections::BTreeMap;
use std::io::Read;

use chrono::NaiveDate;
use chrono_tz::Tz;
use quantdesk_core::resample::date_stamp;
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Symbol};

use crate::columns::{ColumnMap, detect_columns};
use crate::time::{Stamp, local_to_utc, parse_stamp};
use crate::{ImportError, csv_error, reader};

/// How to read a bar file.
#[derive(Debug, Clone)]
pub struct BarImportOptions {
    /// The file name used in error messages.
    pub file_name: String,
    /// The symbol of every row; when `None` the file must have a symbol column.
    pub symbol: Option<Symbol>,
    pub resolution: Resolution,
    /// Time zone of local date-times in intraday files. `None`: the exchange's own zone for A-share
    /// codes, UTC for other tickers.
    pub timezone: Option<Tz>,
    pub columns: ColumnMap,
}

/// The bars and adjustment factors of one symbol, ascending by time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesData {
    pub bars: Vec<Bar>,
    pub factors: Vec<AdjFactor>,
}

/// A fully validated bar file.
#[derive(Debug, Clone)]
pub struct ParsedBars {
    pub resolution: Resolution,
    pub series: BTreeMap<Symbol, SeriesData>,
    /// Data rows read (including exact duplicates that were folded away).
    pub rows: u64,
}

struct Cols {
    time: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: Option<usize>,
    amount: Option<usize>,
    adj_factor: Option<usize>,
    adj_close: Option<usize>,
    symbol: Option<usize>,
}

/// Parses and validates a whole bar file. `progress` is called now and then with the bytes read.
pub fn parse_bars<R: Read>(
    input: R,
    opts: &BarImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ParsedBars, ImportError> {
    let mut parser = BarParser::new(input, opts.clone())?;
    let mut out = ParsedBars { resolution: opts.resolution, series: BTreeMap::new(), rows: 0 };
    while let Some(batch) = parser.next_batch(usize::MAX, progress)? {
        for (symbol, data) in batch.series {
            let s = out.series.entry(symbol).or_default();
            s.bars.extend(data.bars);
            s.factors.extend(data.factors);
        }
        out.rows = parser.rows();
    }
    Ok(out)
}

/// A streaming bar parser: validated batches of rows, in file order, with the same checks as
/// [`parse_bars`] across batch boundaries. A caller that writes batches as they come (inside one
/// transaction) gets all-or-nothing imports without holding the whole file in memory.
pub struct BarParser<R: Read> {
    rdr: csv::Reader<R>,
    opts: BarImportOptions,
    cols: Cols,
    names: Vec<String>,
    record: csv::ByteRecord,
    tz_cache: BTreeMap<Symbol, Tz>,
    current: Option<Symbol>,
    /// Last bar per symbol, for order and duplicate checks across batches.
    last: BTreeMap<Symbol, Bar>,
    rows: u64,
    done: bool,
}

impl<R: Read> BarParser<R> {
    /// Reads and checks the header.
    pub fn new(input: R, opts: BarImportOptions) -> Result<Self, ImportError> {
        let file = opts.file_name.as_str();
        let mut rdr = reader(input);
        let header = match rdr.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(csv_error(file, e)),
        };
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(ImportError::new(file, None, None, "the file is empty"));
        }
        let header_text: Vec<&str> = match header.iter().map(std::str::from_utf8).collect::<Result<_, _>>() {
            Ok(h) => h,
            Err(_) => {
                return Err(ImportError::new(file, Some(1), None, "the file is not valid UTF-8 text"));
            }
        };
        let det = detect_columns(&header_text, &opts.columns).map_err(|r| ImportError::new(file, Some(1), None, r))?;
        let need = |c: Option<usize>, what: &str| {
            c.ok_or_else(|| ImportError::new(file, Some(1), None, format!("the header has no {what} column")))
        };
        let cols = Cols {
            time: need(det.time, "date or time (date, datetime, trade_date)")?,
            open: need(det.open, "open")?,
            high: need(det.high, "high")?,
            low: need(det.low, "low")?,
            close: need(det.close, "close")?,
            volume: det.volume,
            amount: det.amount,
            adj_factor: det.adj_factor,
            adj_close: det.adj_close,
            symbol: if opts.symbol.is_some() && opts.columns.symbol.is_none() { None } else { det.symbol },
        };
        if opts.symbol.is_none() && cols.symbol.is_none() {
            return Err(ImportError::new(
                file,
                Some(1),
                None,
                "no symbol given and the header has no symbol column (ts_code, symbol, code): give the symbol, or the column that holds it",
            ));
        }
        if let Some(s) = &opts.symbol {
            s.check_a_share_code().map_err(|e| ImportError::new(file, None, None, e.0))?;
        }
        let current = opts.symbol.clone();
        Ok(BarParser {
            rdr,
            cols,
            names: det.names,
            record: csv::ByteRecord::new(),
            tz_cache: BTreeMap::new(),
            current,
            last: BTreeMap::new(),
            rows: 0,
            done: false,
            opts,
        })
    }

    /// Data rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next batch of at most `max_rows` rows, `None` at the end. A file without rows is an error.
    pub fn next_batch(
        &mut self,
        max_rows: usize,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<ParsedBars>, ImportError> {
        if self.done {
            return Ok(None);
        }
        let mut out = ParsedBars { resolution: self.opts.resolution, series: BTreeMap::new(), rows: 0 };
        let mut taken = 0usize;
        while taken < max_rows {
            match self.rdr.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Ok(true) => {}
                Err(e) => return Err(csv_error(&self.opts.file_name, e)),
            }
            taken += 1;
            self.rows += 1;
            if self.rows.is_multiple_of(65_536) {
                progress(self.record.position().map(|p| p.byte()).unwrap_or(0));
            }
            self.row(&mut out)?;
        }
        if self.done && self.rows == 0 {
            return Err(ImportError::new(&self.opts.file_name, None, None, "the file has a header but no rows"));
        }
        out.rows = taken as u64;
        if taken == 0 { Ok(None) } else { Ok(Some(out)) }
    }

    /// Validates the current record and appends it to `out`.
    fn row(&mut self, out: &mut ParsedBars) -> Result<(), ImportError> {
        let file = self.opts.file_name.as_str();
        let record = &self.record;
        let cols = &self.cols;
        let names = &self.names;
        let col_name = |i: usize| names[i].clone();
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let cell = |i: usize| -> Result<&str, ImportError> {
            std::str::from_utf8(&record[i])
                .map_err(|_| ImportError::new(file, Some(line), Some(&col_name(i)), "the cell is not valid UTF-8 text"))
        };
        let symbol = match cols.symbol {
            Some(i) => {
                let raw = cell(i)?;
                match &self.current {
                    Some(s) if s.as_str() == raw => s.clone(),
                    _ => {
                        let s = Symbol::new(raw)
                            .and_then(|s| s.check_a_share_code().map(|()| s))
                            .map_err(|e| ImportError::new(file, Some(line), Some(&col_name(i)), e.0))?;
                        self.current = Some(s.clone());
                        s
                    }
                }
            }
            None => self.current.clone().unwrap_or_else(|| unreachable!("checked in new")),
        };
        let timezone = self.opts.timezone;
        let tz = *self.tz_cache.entry(symbol.clone()).or_insert_with(|| {
            timezone.unwrap_or_else(|| Instrument::with_defaults(symbol.clone(), "", InstrumentKind::Other).tz())
        });
        let resolution = self.opts.resolution;

        let time_raw = cell(cols.time)?;
        let stamp = parse_stamp(time_raw).ok_or_else(|| {
            ImportError::new(
                file,
                Some(line),
                Some(&col_name(cols.time)),
                format!("{time_raw:?} is not a date or time"),
            )
        })?;
        let local_date = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0).map(|u| u.with_timezone(&tz).date_naive()).unwrap_or_default()
        };
        let (time, date) = match (stamp, resolution.is_intraday()) {
            (Stamp::Date(d), false) => (date_stamp(d), d),
            (Stamp::Local(dt), false) => (date_stamp(dt.date()), dt.date()),
            (Stamp::Instant(t), false) => {
                let d = local_date(t);
                (date_stamp(d), d)
            }
            (Stamp::Date(_), true) => {
                return Err(ImportError::new(
                    file,
                    Some(line),
                    Some(&col_name(cols.time)),
                    format!("{time_raw:?} has no time of day, but the resolution {resolution} is intraday"),
                ));
            }
            (Stamp::Local(dt), true) => {
                let t = local_to_utc(dt, tz).ok_or_else(|| {
                    ImportError::new(
                        file,
                        Some(line),
                        Some(&col_name(cols.time)),
                        format!("{time_raw:?} does not exist in {tz}"),
                    )
                })?;
                (t, dt.date())
            }
            (Stamp::Instant(t), true) => (t, local_date(t)),
        };

        let num = |i: usize| -> Result<f64, ImportError> {
            let raw = cell(i)?;
            raw.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                ImportError::new(file, Some(line), Some(&col_name(i)), format!("{raw:?} is not a number"))
            })
        };
        let opt_num = |c: Option<usize>| -> Result<f64, ImportError> {
            match c {
                Some(i) if !record[i].is_empty() => num(i),
                _ => Ok(0.0),
            }
        };
        let bar = Bar {
            time,
            open: num(cols.open)?,
            high: num(cols.high)?,
            low: num(cols.low)?,
            close: num(cols.close)?,
            volume: opt_num(cols.volume)?,
            amount: opt_num(cols.amount)?,
        };
        if let Err(e) = bar.validate() {
            let column = if bar.high < bar.low { Some(col_name(cols.high)) } else { None };
            return Err(ImportError::new(file, Some(line), column.as_deref(), e.0));
        }
        let factor = match (cols.adj_factor, cols.adj_close) {
            (Some(i), _) if !record[i].is_empty() => Some((num(i)?, i)),
            (_, Some(i)) if !record[i].is_empty() && bar.close > 0.0 => Some((num(i)? / bar.close, i)),
            _ => None,
        };
        if let Some((f, i)) = factor
            && (f.is_nan() || f <= 0.0)
        {
            return Err(ImportError::new(
                file,
                Some(line),
                Some(&col_name(i)),
                "the adjustment factor must be positive",
            ));
        }

        if let Some(prev) = self.last.get(&symbol).copied() {
            if time < prev.time {
                return Err(ImportError::new(
                    file,
                    Some(line),
                    Some(&col_name(cols.time)),
                    format!("rows are not in ascending time order for {symbol}: {time_raw:?} comes after a later row"),
                ));
            }
            if time == prev.time {
                if prev == bar {
                    return Ok(());
                }
                return Err(ImportError::new(
                    file,
                    Some(line),
                    Some(&col_name(cols.time)),
                    format!("{symbol} has two different rows for {time_raw:?}"),
                ));
            }
        }
        let series = out.series.entry(symbol.clone()).or_default();
        series.bars.push(bar);
        if let Some((f, _)) = factor {
            push_factor(&mut series.factors, date, f);
        }
        self.last.insert(symbol, bar);
        Ok(())
    }
}

/// Records the factor for `date`, keeping one entry per date (intraday files repeat it per bar).
/// A date already sent in an earlier batch is sent again; the store replaces it.
fn push_factor(factors: &mut Vec<AdjFactor>, date: NaiveDate, factor: f64) {
    match factors.last_mut() {
        Some(last) if last.date == date => last.factor = factor,
        _ => factors.push(AdjFactor { date, factor }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(symbol: Option<&str>, res: &str) -> BarImportOptions {
        BarImportOptions {
            file_name: "t.csv".into(),
            symbol: symbol.map(|s| Symbol::new(s).unwrap()),
            resolution: Resolution::parse(res).unwrap(),
            timezone: None,
            columns: ColumnMap::default(),
        }
    }

    fn parse(text: &str, o: &BarImportOptions) -> Result<ParsedBars, ImportError> {
        parse_bars(text.as_bytes(), o, &mut |_| {})
    }

    #[test]
    fn single_symbol_daily() {
        let p = parse(
            "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n",
            &opts(Some("600519.SH"), "1D"),
        )
        .unwrap();
        let s = &p.series[&Symbol::new("600519.SH").unwrap()];
        assert_eq!(s.bars.len(), 2);
        assert_eq!(s.bars[0].time, 1704153600);
        assert_eq!(s.bars[1].volume, 200.0);
        assert_eq!(p.rows, 2);
    }

    #[test]
    fn multi_symbol_intraday_local_time() {
        let text = "datetime,ts_code,open,high,low,close\n2016-06-01 10:30:00,600000.SH,1,2,1,2\n2016-06-01 10:30:00,600016.SH,3,4,3,4\n";
        let p = parse(text, &opts(None, "60")).unwrap();
        assert_eq!(p.series.len(), 2);
        // 10:30 Shanghai is 02:30 UTC
        assert_eq!(p.series[&Symbol::new("600016.SH").unwrap()].bars[0].time, 1464748200);
    }

    /// W4: a symbol shaped like a spreadsheet formula never gets into the store.
    #[test]
    fn formula_symbols_are_refused_with_their_line() {
        let text = "date,symbol,open,high,low,close\n2024-01-02,AAPL,1,1,1,1\n2024-01-02,=A1&B1,1,1,1,1\n";
        let e = parse(text, &opts(None, "D")).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("symbol")), "{e}");
        assert!(e.reason.contains("must start with a letter"), "{e}");
    }

    /// Issue 21, item 10: an A-share suffix on something that is not a six-digit code is refused
    /// with its line (from a column) or before any row (given as the symbol); tickers pass.
    #[test]
    fn a_share_suffixes_need_six_digit_codes() {
        let text = "date,ts_code,open,high,low,close\n2024-01-02,000001.SZ,1,1,1,1\n2024-01-02,TEST.SZ,1,1,1,1\n";
        let e = parse(text, &opts(None, "D")).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("ts_code")), "{e}");
        assert!(e.reason.contains("TEST.SZ is not an A-share code"), "{e}");
        let one = "date,open,high,low,close\n2024-01-02,1,1,1,1\n";
        let e = parse(one, &opts(Some("60051.SH"), "D")).unwrap_err();
        assert_eq!(e.line, None, "{e}");
        for ok in ["600519.SH", "430047.BJ", "AAPL", "BTC-USD", "^GSPC"] {
            assert!(parse(one, &opts(Some(ok), "D")).is_ok(), "{ok}");
        }
    }

    #[test]
    fn adj_close_becomes_factor() {
        let text = "date,symbol,open,high,low,close,adj_close\n2020-01-02,AAPL,74,75,73,75,73.5\n";
        let p = parse(text, &opts(None, "D")).unwrap();
        let s = &p.series[&Symbol::new("AAPL").unwrap()];
        assert!((s.factors[0].factor - 0.98).abs() < 1e-12);
    }

    #[test]
    fn exact_duplicates_fold_different_duplicates_fail() {
        let ok = "date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-02,1,1,1,1\n";
        assert_eq!(parse(ok, &opts(Some("X"), "D")).unwrap().series[&Symbol::new("X").unwrap()].bars.len(), 1);
        let bad = "date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-02,1,2,1,1\n";
        let e = parse(bad, &opts(Some("X"), "D")).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("two different rows"), "{e}");
    }

    #[test]
    fn each_bad_file_names_line_column_and_reason() {
        let o = opts(Some("X"), "D");
        // (file, line, column, reason)
        type Case<'a> = (&'a [u8], Option<u64>, Option<&'a str>, &'a str);
        let cases: &[Case] = &[
            (b"", None, None, "empty"),
            (b"date,open,high,low,close\n", None, None, "no rows"),
            (b"date,open,high,low\n2024-01-02,1,1,1\n", Some(1), None, "no close column"),
            (b"date,open,high,low,close\n2024-01-02,1,x,1,1\n", Some(2), Some("high"), "\"x\" is not a number"),
            (
                b"date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-13-01,1,1,1,1\n",
                Some(3),
                Some("date"),
                "not a date",
            ),
            (b"date,open,high,low,close\n2024-01-02,1,1,2,1\n", Some(2), Some("high"), "below low"),
            (b"date,open,high,low,close\n2024-01-03,1,1,1,1\n2024-01-02,1,1,1,1\n", Some(3), Some("date"), "ascending"),
            (b"date,open,high,low,close\n2024-01-02,1,1,1,\xff\n", Some(2), Some("close"), "UTF-8"),
            (b"date,open,high,low,close\n2024-01-02,1,1,1\n", Some(2), None, "fields"),
        ];
        for (text, line, col, reason) in cases {
            let e = parse_bars(*text, &o, &mut |_| {}).unwrap_err();
            assert_eq!(e.line, *line, "{e}");
            assert_eq!(e.column.as_deref(), *col, "{e}");
            assert!(e.reason.contains(reason), "{e} should mention {reason}");
        }
    }

    #[test]
    fn batches_check_across_their_boundaries() {
        let text = "date,symbol,open,high,low,close,adj_factor\n2024-01-02,A,1,1,1,1,1\n2024-01-02,B,2,2,2,2,1\n2024-01-03,A,1,1,1,1,1\n2024-01-03,A,1,1,1,1,1\n2024-01-04,B,2,2,2,2,2\n";
        let o = opts(None, "D");
        let whole = parse(text, &o).unwrap();
        for size in 1..=5 {
            let mut p = BarParser::new(text.as_bytes(), o.clone()).unwrap();
            let mut merged: BTreeMap<Symbol, SeriesData> = BTreeMap::new();
            while let Some(b) = p.next_batch(size, &mut |_| {}).unwrap() {
                for (s, d) in b.series {
                    let m = merged.entry(s).or_default();
                    m.bars.extend(d.bars);
                    m.factors.extend(d.factors);
                }
            }
            assert_eq!(merged, whole.series, "batch size {size}");
            assert_eq!(p.rows(), 5);
        }
        // an out-of-order row in a later batch is still caught, with its line
        let bad = "date,open,high,low,close\n2024-01-03,1,1,1,1\n2024-01-04,1,1,1,1\n2024-01-02,1,1,1,1\n";
        let mut p = BarParser::new(bad.as_bytes(), opts(Some("X"), "D")).unwrap();
        assert!(p.next_batch(2, &mut |_| {}).unwrap().is_some());
        let e = p.next_batch(2, &mut |_| {}).unwrap_err();
        assert_eq!(e.line, Some(4));
    }

    #[test]
    fn intraday_needs_time_of_day_and_symbol_needed() {
        let e = parse("date,open,high,low,close\n2024-01-02,1,1,1,1\n", &opts(Some("X"), "5")).unwrap_err();
        assert!(e.reason.contains("no time of day"));
        let e = parse("date,open,high,low,close\n2024-01-02,1,1,1,1\n", &opts(None, "D")).unwrap_err();
        assert!(e.reason.contains("no symbol"));
    }
}
