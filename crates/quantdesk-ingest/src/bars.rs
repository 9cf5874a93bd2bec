//! Bar files: one symbol per file (`--symbol`) or many (a symbol column).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use chrono::NaiveDate;
use chrono_tz::Tz;
use quantdesk_core::resample::date_stamp;
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Symbol};

use crate::columns::{ColumnMap, detect_columns};
use crate::time::{LocalClock, Stamp, parse_stamp};
use crate::{ImportError, csv_error};

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
            if s.bars.is_empty() && s.factors.is_empty() {
                *s = data;
            } else {
                s.bars.extend(data.bars);
                s.factors.extend(data.factors);
            }
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
    symbols: SymbolTable,
    /// The symbol of the previous row (files hold each symbol's rows together, mostly).
    current: Option<usize>,
    rows: u64,
    done: bool,
}

/// Every symbol seen so far, with what the checks across rows need, and the batch being filled.
#[derive(Default)]
struct SymbolTable {
    list: Vec<SymbolState>,
    /// Where each symbol is in `list`, by the cell's text as written and by the symbol.
    by_cell: HashMap<Box<[u8]>, usize>,
    by_symbol: BTreeMap<Symbol, usize>,
    /// The batch being filled, per symbol (an index into `list`), and which symbols it touched.
    pending: Vec<SeriesData>,
    touched: Vec<usize>,
}

impl SymbolTable {
    /// The index of `symbol`, added when new (in `timezone`, else its exchange's zone).
    fn intern(&mut self, timezone: Option<Tz>, symbol: Symbol, cell: Box<[u8]>) -> usize {
        let k = match self.by_symbol.get(&symbol) {
            Some(k) => *k,
            None => {
                let tz = timezone
                    .unwrap_or_else(|| Instrument::with_defaults(symbol.clone(), "", InstrumentKind::Other).tz());
                self.list.push(SymbolState {
                    symbol: symbol.clone(),
                    cell: cell.clone(),
                    clock: LocalClock::new(tz),
                    last: None,
                });
                self.pending.push(SeriesData::default());
                self.by_symbol.insert(symbol, self.list.len() - 1);
                self.list.len() - 1
            }
        };
        self.by_cell.insert(cell, k);
        k
    }

    /// Moves the pending rows into `out` (or drops them).
    fn drain_into(&mut self, out: Option<&mut ParsedBars>) {
        let mut out = out;
        for k in self.touched.drain(..) {
            let data = std::mem::take(&mut self.pending[k]);
            if let Some(out) = out.as_deref_mut() {
                out.series.insert(self.list[k].symbol.clone(), data);
            }
        }
    }
}

/// One symbol of a file: its zone, its last bar (for the order and duplicate checks across
/// batches) and the zone's offset in the local hour of its last row.
struct SymbolState {
    symbol: Symbol,
    /// The cell as written (`600000.sh` is the symbol `600000.SH`).
    cell: Box<[u8]>,
    clock: LocalClock,
    last: Option<Bar>,
}

impl<R: Read> BarParser<R> {
    /// Reads and checks the header.
    pub fn new(input: R, opts: BarImportOptions) -> Result<Self, ImportError> {
        let file = opts.file_name.as_str();
        // Only the header is trimmed by the reader: trimming every record makes a copy of it, so
        // `row` trims each cell it reads instead.
        let mut rdr =
            csv::ReaderBuilder::new().has_headers(true).flexible(false).trim(csv::Trim::Headers).from_reader(input);
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
        let mut parser = BarParser {
            rdr,
            cols,
            names: det.names,
            record: csv::ByteRecord::new(),
            symbols: SymbolTable::default(),
            current: None,
            rows: 0,
            done: false,
            opts,
        };
        if let Some(s) = parser.opts.symbol.clone() {
            let cell = s.as_str().as_bytes().into();
            parser.current = Some(parser.symbols.intern(parser.opts.timezone, s, cell));
        }
        Ok(parser)
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
            if let Err(e) = self.row() {
                self.symbols.drain_into(None);
                return Err(e);
            }
        }
        if self.done && self.rows == 0 {
            return Err(ImportError::new(&self.opts.file_name, None, None, "the file has a header but no rows"));
        }
        self.symbols.drain_into(Some(&mut out));
        out.rows = taken as u64;
        if taken == 0 { Ok(None) } else { Ok(Some(out)) }
    }

    /// Validates the current record and appends it to the pending batch.
    fn row(&mut self) -> Result<(), ImportError> {
        let file = self.opts.file_name.as_str();
        let record = &self.record;
        let cols = &self.cols;
        let names = &self.names;
        let col_name = |i: usize| names[i].clone();
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        // Cells are trimmed of ASCII white space here (the reader trims only the header).
        let field = |i: usize| record[i].trim_ascii();
        let cell = |i: usize| -> Result<&str, ImportError> {
            std::str::from_utf8(field(i))
                .map_err(|_| ImportError::new(file, Some(line), Some(&col_name(i)), "the cell is not valid UTF-8 text"))
        };
        let k = match cols.symbol {
            Some(i) => {
                let raw = field(i);
                match self.current {
                    Some(k) if *self.symbols.list[k].cell == *raw => k,
                    _ => match self.symbols.by_cell.get(raw) {
                        Some(k) => *k,
                        None => {
                            let text = cell(i)?;
                            let s = Symbol::new(text)
                                .and_then(|s| s.check_a_share_code().map(|()| s))
                                .map_err(|e| ImportError::new(file, Some(line), Some(&col_name(i)), e.0))?;
                            let raw = raw.into();
                            self.symbols.intern(self.opts.timezone, s, raw)
                        }
                    },
                }
            }
            None => self.current.unwrap_or_else(|| unreachable!("checked in new")),
        };
        self.current = Some(k);
        let record = &self.record;
        let field = |i: usize| record[i].trim_ascii();
        let cell = |i: usize| -> Result<&str, ImportError> {
            std::str::from_utf8(field(i))
                .map_err(|_| ImportError::new(file, Some(line), Some(&col_name(i)), "the cell is not valid UTF-8 text"))
        };
        let state = &mut self.symbols.list[k];
        let symbol = &state.symbol;
        let tz = state.clock.tz();
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
                let t = state.clock.utc_of(dt).ok_or_else(|| {
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
            // A plain decimal is ASCII, so valid UTF-8: only other cells need the check.
            if let Some(v) = fast_number(field(i)) {
                return Ok(v);
            }
            let raw = cell(i)?;
            parse_number(raw).filter(|v| v.is_finite()).ok_or_else(|| {
                ImportError::new(file, Some(line), Some(&col_name(i)), format!("{raw:?} is not a number"))
            })
        };
        let opt_num = |c: Option<usize>| -> Result<f64, ImportError> {
            match c {
                Some(i) if !field(i).is_empty() => num(i),
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
            (Some(i), _) if !field(i).is_empty() => Some((num(i)?, i)),
            (_, Some(i)) if !field(i).is_empty() && bar.close > 0.0 => Some((num(i)? / bar.close, i)),
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

        if let Some(prev) = state.last {
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
        state.last = Some(bar);
        let series = &mut self.symbols.pending[k];
        if series.bars.is_empty() && series.factors.is_empty() {
            self.symbols.touched.push(k);
        }
        series.bars.push(bar);
        if let Some((f, _)) = factor {
            push_factor(&mut series.factors, date, f);
        }
        Ok(())
    }
}

/// A number cell, as `str::parse::<f64>` reads it. Plain decimals of up to 15 significant digits
/// (`12.34`, `-0.5`, `123400`: nearly every cell of a bar file) take Clinger's fast path: the
/// digits as an integer, exact in an `f64`, divided by an exact power of ten, which IEEE division
/// rounds correctly, so the result is the correctly rounded value `parse` gives too.
fn parse_number(raw: &str) -> Option<f64> {
    fast_number(raw.as_bytes()).or_else(|| raw.parse().ok())
}

/// Clinger's fast path of [`parse_number`]: `None` for anything but `-?digits(.digits)?` with at
/// most 15 digits in all.
#[inline]
fn fast_number(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa = 0u64;
    let mut point = None;
    for (i, c) in digits.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            mantissa = mantissa * 10 + u64::from(d);
        } else if *c == b'.' && point.is_none() && i > 0 && i + 1 < digits.len() {
            point = Some(i);
        } else {
            return None;
        }
    }
    let count = digits.len() - usize::from(point.is_some());
    if count > 15 {
        return None;
    }
    let scale = point.map_or(0, |p| digits.len() - p - 1);
    let value = mantissa as f64 / POW10[scale];
    Some(if negative { -value } else { value })
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

    /// The fast path of number cells reads exactly what `str::parse::<f64>` reads, and leaves
    /// everything else to it.
    #[test]
    fn numbers_read_as_parse_reads_them() {
        let mut cells: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "10.5",
            "12.34",
            "0.1",
            "0.3",
            "-7.25",
            "123400",
            "999999999999999",
            "99999999999999.9",
            "9999999999999999",
            "0.000000000000001",
            "1.",
            ".5",
            "-.5",
            "1e5",
            "1E-3",
            "+1",
            "inf",
            "NaN",
            "",
            "-",
            ".",
            "1.2.3",
            "1,5",
            "0x10",
            "12345678901234567890",
            "4.35",
            "1234.5678",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 10_000_000_000_000_000) as f64;
            let scale = (x >> 60) as usize % 8;
            cells.push(format!("{:.*}", scale, digits / 10f64.powi(scale as i32)));
            cells.push(format!("{}.{:02}", x % 100_000, (x >> 20) % 100));
        }
        for c in &cells {
            let ours = parse_number(c);
            let std = c.parse::<f64>().ok();
            assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{c:?}");
        }
    }

    /// Cells are read trimmed, as before the reader stopped trimming records; two spellings of one
    /// symbol are one series, checked for order across both; symbols may interleave.
    #[test]
    fn padded_cells_and_symbol_spellings() {
        let text = "date , ts_code ,open,high,low,close\n 2024-01-02 , 600000.sh ,\t1 , 2,1 ,2 \n2024-01-02,000001.SZ,3,4,3,4\n2024-01-03,600000.SH,1,2,1,2\n2024-01-03,000001.SZ,3,4,3,4\n";
        let p = parse(text, &opts(None, "D")).unwrap();
        assert_eq!(p.series.len(), 2);
        let a = &p.series[&Symbol::new("600000.SH").unwrap()];
        assert_eq!((a.bars.len(), a.bars[0].time, a.bars[0].open, a.bars[0].close), (2, 1704153600, 1.0, 2.0));
        assert_eq!(p.series[&Symbol::new("000001.SZ").unwrap()].bars.len(), 2);
        let bad = "date,ts_code,open,high,low,close\n2024-01-03,600000.SH,1,1,1,1\n2024-01-02,600000.sh,1,1,1,1\n";
        let e = parse(bad, &opts(None, "D")).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("date")), "{e}");
        assert!(e.reason.contains("ascending"), "{e}");
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
