//! Financial statements and the stock master in TuShare's columns, as `quantdesk import financials`
//! reads them: a folder of `income.csv`, `balancesheet.csv`, `cashflow.csv`, `fina_indicator.csv`,
//! `dividend.csv`, `daily_basic.csv` and `stock_basic.csv`, or one of those files.
//!
//! Like every import here, parsing is all-or-nothing: a file yields all its rows or an
//! [`ImportError`] naming the line and column.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use chrono::NaiveDate;
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{Instrument, InstrumentKind, Statement, StatementRow, Symbol};

use crate::time::{Stamp, parse_stamp};
use crate::{ImportError, csv_error, reader};

/// The file name of TuShare's stock master in a financials folder.
pub const STOCK_BASIC_FILE: &str = "stock_basic.csv";

/// The statement a file holds, by its name (`income.csv`, `balancesheet.csv`, …; a path's folders
/// and the letter case are ignored; `balance_sheet.csv` and `cash_flow.csv` are accepted too).
/// `None` for anything else, `stock_basic.csv` included (see [`parse_stock_basic_csv`]).
pub fn statement_for_file(name: &str) -> Option<Statement> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let lower = base.to_ascii_lowercase();
    let stem = lower.strip_suffix(".csv")?;
    Statement::parse(stem).ok()
}

/// Header names as the rows key them: trimmed, without a byte-order mark, lower case.
fn header_names(rdr: &mut csv::Reader<impl Read>, file: &str) -> Result<Vec<String>, ImportError> {
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_ascii_lowercase()).collect(),
        Err(e) => return Err(csv_error(file, e)),
    };
    if header.iter().all(String::is_empty) {
        return Err(ImportError::new(file, None, None, "the file is empty"));
    }
    let mut seen = HashSet::new();
    for h in header.iter().filter(|h| !h.is_empty()) {
        if !seen.insert(h.as_str()) {
            return Err(ImportError::new(file, Some(1), Some(h), format!("the header names {h:?} twice")));
        }
    }
    Ok(header)
}

/// A date cell: `YYYYMMDD`, `YYYY-MM-DD` or `YYYY/MM/DD`, also with the `.0` a spreadsheet or
/// pandas adds to numbers (`20171231.0`).
fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim();
    let s = s.strip_suffix(".0").unwrap_or(s);
    match parse_stamp(s)? {
        Stamp::Date(d) => Some(d),
        Stamp::Local(dt) => Some(dt.date()),
        Stamp::Instant(_) => None,
    }
}

/// A code cell (`report_type`, `end_type`, `update_flag`): whole numbers lose a `.0` (`1.0` → `1`).
fn normalise_code(raw: &str) -> String {
    let s = raw.trim();
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 && !s.contains(['e', 'E']) => {
            format!("{}", n as i64)
        }
        _ => s.to_string(),
    }
}

/// A cell as a field value: a finite number, null when empty, text otherwise.
fn field_value(raw: &str) -> FieldValue {
    let s = raw.trim();
    if s.is_empty() {
        return FieldValue::Null;
    }
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() => FieldValue::Number(n),
        _ => FieldValue::Text(s.to_string()),
    }
}

/// [`parse_statement_csv_named`] with the file named after the statement (`income.csv`).
pub fn parse_statement_csv<R: Read>(reader: R, statement: Statement) -> Result<Vec<StatementRow>, ImportError> {
    parse_statement_csv_named(reader, statement, &format!("{statement}.csv"))
}

/// Parses one statement file in TuShare's columns; `file` names it in errors.
///
/// The header holds TuShare field names. Required: `ts_code` and the period field (`end_date`, or
/// `trade_date` for `daily_basic`). Optional: the dates `ann_date` and `f_ann_date`, and the codes
/// `report_type`, `end_type` and `update_flag` (`1.0` is read as `1`). Dates are `YYYYMMDD` or
/// `YYYY-MM-DD`. Every column with a name is kept in [`StatementRow::fields`]: the key columns as
/// text in their normal spelling (the symbol normalised, dates as `YYYYMMDD`, codes without `.0`),
/// every other cell as a number when it is a finite number, null when empty, text otherwise.
/// A file with a header and no rows gives no rows.
pub fn parse_statement_csv_named<R: Read>(
    reader_in: R,
    statement: Statement,
    file: &str,
) -> Result<Vec<StatementRow>, ImportError> {
    let mut rdr = reader(reader_in);
    let header = header_names(&mut rdr, file)?;
    let find = |name: &str| header.iter().position(|h| h == name);
    let period_field = statement.period_field();
    let symbol_col = find("ts_code").ok_or_else(|| {
        ImportError::new(file, Some(1), None, format!("the header has no ts_code column (a {statement} file)"))
    })?;
    let period_col = find(period_field).ok_or_else(|| {
        ImportError::new(file, Some(1), None, format!("the header has no {period_field} column (a {statement} file)"))
    })?;
    let ann_col = find("ann_date");
    let f_ann_col = find("f_ann_date");
    let code_cols = ["report_type", "end_type", "update_flag"].map(find);
    let date_cols: Vec<usize> = [Some(period_col), ann_col, f_ann_col].into_iter().flatten().collect();

    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(file, e)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let err = |col: usize, reason: String| ImportError::new(file, Some(line), Some(&header[col]), reason);
        let cell = |col: usize| record.get(col).unwrap_or("").trim();

        let raw_symbol = cell(symbol_col);
        if raw_symbol.is_empty() {
            return Err(err(symbol_col, "ts_code is empty".into()));
        }
        let symbol = Symbol::new(raw_symbol).map_err(|e| err(symbol_col, e.0))?;
        let date = |col: usize| -> Result<Option<NaiveDate>, ImportError> {
            let raw = cell(col);
            if raw.is_empty() {
                return Ok(None);
            }
            parse_date(raw).map(Some).ok_or_else(|| err(col, format!("{} {raw:?} is not a date", header[col])))
        };
        let period = date(period_col)?.ok_or_else(|| err(period_col, format!("{period_field} is empty")))?;
        let ann_date = ann_col.map(date).transpose()?.flatten();
        let f_ann_date = f_ann_col.map(date).transpose()?.flatten();
        let code = |col: Option<usize>| col.map(|c| normalise_code(cell(c))).unwrap_or_default();

        let mut fields = BTreeMap::new();
        for (col, name) in header.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let raw = cell(col);
            let value = if col == symbol_col {
                FieldValue::Text(symbol.to_string())
            } else if date_cols.contains(&col) {
                match date(col)? {
                    Some(d) => FieldValue::Text(d.format("%Y%m%d").to_string()),
                    None => FieldValue::Null,
                }
            } else if code_cols.contains(&Some(col)) {
                if raw.is_empty() { FieldValue::Null } else { FieldValue::Text(normalise_code(raw)) }
            } else {
                field_value(raw)
            };
            fields.insert(name.clone(), value);
        }
        out.push(StatementRow {
            symbol,
            statement,
            period,
            ann_date,
            f_ann_date,
            report_type: code(code_cols[0]),
            end_type: code(code_cols[1]),
            update_flag: code(code_cols[2]),
            fields,
        });
    }
    Ok(out)
}

/// [`parse_stock_basic_csv_named`] with the file named `stock_basic.csv`.
pub fn parse_stock_basic_csv<R: Read>(reader: R) -> Result<Vec<Instrument>, ImportError> {
    parse_stock_basic_csv_named(reader, STOCK_BASIC_FILE)
}

/// The board a TuShare `market` names, with its daily price limit (`None`: keep the default).
fn board_of_market(market: &str) -> Option<(&'static str, Option<f64>)> {
    match market.trim() {
        "主板" | "中小板" => Some(("main", Some(0.1))),
        "创业板" => Some(("chinext", Some(0.2))),
        "科创板" => Some(("star", Some(0.2))),
        "北交所" => Some(("bse", Some(0.3))),
        "CDR" | "cdr" => Some(("cdr", None)),
        _ => None,
    }
}

/// Parses TuShare's `stock_basic` (`ts_code,symbol,name,area,industry,list_date,market,exchange`,
/// optionally `cnspell`, `list_status`, `delist_date`, `act_name`) into stocks with A-share
/// defaults: `cnspell` upper-cased becomes the abbreviation, `market` the board (主板 and 中小板
/// main, 创业板 chinext, 科创板 star, 北交所 bse, CDR cdr; others keep the code's default) with that
/// board's price limit (±5 % for ST names on the main board), `industry`, `area`, `act_name` the
/// controller, and the listing dates. Only `ts_code` is required; a symbol given twice is an error.
pub fn parse_stock_basic_csv_named<R: Read>(reader_in: R, file: &str) -> Result<Vec<Instrument>, ImportError> {
    let mut rdr = reader(reader_in);
    let header = header_names(&mut rdr, file)?;
    let find = |name: &str| header.iter().position(|h| h == name);
    let symbol_col =
        find("ts_code").ok_or_else(|| ImportError::new(file, Some(1), None, "the header has no ts_code column"))?;
    let [name_col, cnspell_col, area_col, industry_col, list_col, delist_col, market_col, exchange_col, act_col] =
        ["name", "cnspell", "area", "industry", "list_date", "delist_date", "market", "exchange", "act_name"].map(find);

    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(file, e)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let err = |col: usize, reason: String| ImportError::new(file, Some(line), Some(&header[col]), reason);
        let get = |c: Option<usize>| c.map(|i| record.get(i).unwrap_or("").trim()).filter(|s| !s.is_empty());
        let raw_symbol = get(Some(symbol_col)).ok_or_else(|| err(symbol_col, "ts_code is empty".into()))?;
        let symbol = Symbol::new(raw_symbol).map_err(|e| err(symbol_col, e.0))?;
        if !seen.insert(symbol.clone()) {
            return Err(err(symbol_col, format!("{symbol} appears twice")));
        }
        let mut inst = Instrument::with_defaults(symbol, get(name_col).unwrap_or(""), InstrumentKind::Stock);
        if let Some(a) = get(cnspell_col) {
            inst.abbrev = a.to_uppercase();
        }
        if let Some((board, limit)) = get(market_col).and_then(board_of_market) {
            inst.board = board.to_string();
            if let Some(l) = limit {
                inst.price_limit = Some(if board == "main" && inst.name.contains("ST") { 0.05 } else { l });
            }
        }
        if let Some(x) = get(exchange_col) {
            inst.exchange = x.to_ascii_uppercase();
        }
        if let Some(x) = get(industry_col) {
            inst.industry = x.to_string();
        }
        if let Some(x) = get(area_col) {
            inst.area = x.to_string();
        }
        if let Some(x) = get(act_col) {
            inst.controller = x.to_string();
        }
        let date = |c: Option<usize>| -> Result<Option<NaiveDate>, ImportError> {
            match (c, get(c)) {
                (Some(col), Some(raw)) => {
                    parse_date(raw).map(Some).ok_or_else(|| err(col, format!("{} {raw:?} is not a date", header[col])))
                }
                _ => Ok(None),
            }
        };
        inst.list_date = date(list_col)?;
        inst.delist_date = date(delist_col)?;
        inst.validate().map_err(|e| ImportError::new(file, Some(line), None, e.0))?;
        out.push(inst);
    }
    if out.is_empty() {
        return Err(ImportError::new(file, None, None, "the file has a header but no rows"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
