//! Parsing and validating CSV imports: bars, instrument masters, and financial statements in
//! TuShare's columns.
//!
//! Parsing is all-or-nothing: a file either yields a complete, validated set of rows or an
//! [`ImportError`] naming the file, line, column and reason. Writing is the storage layer's job,
//! which does it in one transaction, so a bad file never leaves half an import behind.

mod bars;
mod columns;
mod export;
mod financials;
mod instruments;
mod time;

pub use bars::{BarImportOptions, BarParser, ParsedBars, SeriesData, parse_bars};
pub use columns::{ColumnMap, DetectedColumns, detect_columns};
pub use export::text_cell;
pub use financials::{
    STOCK_BASIC_FILE, parse_statement_csv, parse_statement_csv_named, parse_stock_basic_csv,
    parse_stock_basic_csv_named, statement_for_file,
};
pub use instruments::{parse_instruments, parse_instruments_at_most};

use std::fmt;

/// Why an import was refused, pointing at the offending place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    /// The file name as the user gave it.
    pub file: String,
    /// 1-based line number, when the problem is on a line.
    pub line: Option<u64>,
    /// The column's header name, when the problem is in a cell.
    pub column: Option<String>,
    /// A sentence for people.
    pub reason: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ": column {c:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl ImportError {
    pub(crate) fn new(file: &str, line: Option<u64>, column: Option<&str>, reason: impl Into<String>) -> Self {
        ImportError { file: file.to_string(), line, column: column.map(str::to_string), reason: reason.into() }
    }
}

/// Reads CSV records from `input`, with a callback receiving the byte offset after each record so
/// callers can draw progress.
pub(crate) fn reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(true).flexible(false).trim(csv::Trim::All).from_reader(input)
}

/// Turns a csv error into an import error with a line number where csv knows one.
pub(crate) fn csv_error(file: &str, e: csv::Error) -> ImportError {
    let line = e.position().map(|p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the file is not valid UTF-8 text".to_string(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Io(err) => format!("could not read the file: {err}"),
        _ => e.to_string(),
    };
    ImportError::new(file, line, None, reason)
}
