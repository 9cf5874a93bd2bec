//! Instrument masters: `ts_code,name,abbrev,type,list_date,delist_date` and optional rule columns.

use std::io::Read;

use quantdesk_core::{Instrument, InstrumentKind, Session, Symbol};

use crate::time::{Stamp, parse_stamp};
use crate::{ImportError, csv_error, reader};

/// Parses and validates an instrument master. Later rows for the same symbol are an error.
pub fn parse_instruments<R: Read>(input: R, file: &str) -> Result<Vec<Instrument>, ImportError> {
    parse_instruments_at_most(input, file, usize::MAX)
}

/// [`parse_instruments`], refusing a file of more than `max_rows` rows (every instrument is held
/// until the file is read, so this bounds the memory a file can take).
pub fn parse_instruments_at_most<R: Read>(
    input: R,
    file: &str,
    max_rows: usize,
) -> Result<Vec<Instrument>, ImportError> {
    let mut rdr = reader(input);
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_ascii_lowercase()).collect(),
        Err(e) => return Err(csv_error(file, e)),
    };
    if header.iter().all(String::is_empty) {
        return Err(ImportError::new(file, None, None, "the file is empty"));
    }
    let find = |names: &[&str]| names.iter().find_map(|n| header.iter().position(|h| h == n));
    let symbol_col = find(&["ts_code", "symbol", "code"])
        .ok_or_else(|| ImportError::new(file, Some(1), None, "the header has no ts_code (or symbol) column"))?;
    let name_col = find(&["name"]);
    let abbrev_col = find(&["abbrev", "cnspell", "pinyin"]);
    let kind_col = find(&["type", "kind", "market_type"]);
    let list_col = find(&["list_date"]);
    let delist_col = find(&["delist_date"]);
    let exchange_col = find(&["exchange"]);
    let board_col = find(&["board", "market"]);
    let currency_col = find(&["currency", "curr_type"]);
    let lot_col = find(&["lot_size", "lot"]);
    let tick_col = find(&["tick_size", "tick"]);
    let limit_col = find(&["price_limit"]);
    let session_col = find(&["session"]);
    let tz_col = find(&["timezone", "tz"]);

    let mut out: Vec<Instrument> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(file, e)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if out.len() >= max_rows {
            let reason = format!("the file has more than {max_rows} instruments; split it");
            return Err(ImportError::new(file, Some(line), None, reason));
        }
        let err = |col: usize, reason: String| ImportError::new(file, Some(line), Some(&header[col]), reason);
        let get = |c: Option<usize>| c.map(|i| record.get(i).unwrap_or("").trim()).filter(|s| !s.is_empty());
        let symbol = Symbol::new(&record[symbol_col]).map_err(|e| err(symbol_col, e.0))?;
        if !seen.insert(symbol.clone()) {
            return Err(err(symbol_col, format!("{symbol} appears twice")));
        }
        let kind = get(kind_col).map(InstrumentKind::parse).unwrap_or(InstrumentKind::Stock);
        let mut inst = Instrument::with_defaults(symbol, get(name_col).unwrap_or(""), kind);
        if let Some(a) = get(abbrev_col) {
            inst.abbrev = a.to_ascii_uppercase();
        }
        let date = |c: Option<usize>| -> Result<Option<chrono::NaiveDate>, ImportError> {
            match get(c) {
                None => Ok(None),
                Some(raw) => match parse_stamp(raw) {
                    Some(Stamp::Date(d)) => Ok(Some(d)),
                    Some(Stamp::Local(dt)) => Ok(Some(dt.date())),
                    _ => Err(err(c.unwrap_or(0), format!("{raw:?} is not a date"))),
                },
            }
        };
        inst.list_date = date(list_col)?;
        inst.delist_date = date(delist_col)?;
        if let Some(x) = get(exchange_col) {
            inst.exchange = x.to_ascii_uppercase();
        }
        if let Some(x) = get(board_col) {
            inst.board = x.to_string();
        }
        if let Some(x) = get(currency_col) {
            inst.currency = x.to_ascii_uppercase();
        }
        let number = |c: Option<usize>| -> Result<Option<f64>, ImportError> {
            match get(c) {
                None => Ok(None),
                Some(raw) => {
                    raw.parse::<f64>().map(Some).map_err(|_| err(c.unwrap_or(0), format!("{raw:?} is not a number")))
                }
            }
        };
        if let Some(lot) = number(lot_col)? {
            if lot < 1.0 || lot.fract() != 0.0 || lot > f64::from(u32::MAX) {
                return Err(err(lot_col.unwrap_or(0), "the lot size must be a whole number of at least 1".into()));
            }
            inst.lot_size = lot as u32;
        }
        if let Some(t) = number(tick_col)? {
            inst.tick_size = t;
        }
        if let Some(l) = number(limit_col)? {
            inst.price_limit = if l == 0.0 { None } else { Some(l) };
        }
        if let Some(s) = get(session_col) {
            inst.session = Session::parse(s).map_err(|e| err(session_col.unwrap_or(0), e.0))?;
        }
        if let Some(tz) = get(tz_col) {
            inst.timezone = tz.to_string();
        }
        inst.validate().map_err(|e| ImportError::new(file, Some(line), None, e.0))?;
        out.push(inst);
    }
    if out.is_empty() {
        return Err(ImportError::new(file, None, None, "the file has a header but no rows"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tushare_master() {
        let text = "ts_code,name,abbrev,type,list_date,delist_date\n000001.SZ,平安银行,PAYH,stock,1991-04-03,\n000001.SH,上证指数,SZZS,index,1991-07-15,\n";
        let v = parse_instruments(text.as_bytes(), "i.csv").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].abbrev, "PAYH");
        assert_eq!(v[0].lot_size, 100);
        assert_eq!(v[1].kind, InstrumentKind::Index);
        assert_eq!(v[1].price_limit, None);
        assert_eq!(v[0].list_date.unwrap().to_string(), "1991-04-03");
    }

    #[test]
    fn errors_point_at_cells() {
        let e = parse_instruments("ts_code,name,list_date\n600000.SH,x,notadate\n".as_bytes(), "i.csv").unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("list_date")));
        let e = parse_instruments("ts_code,name\n600000.SH,x\n600000.SH,y\n".as_bytes(), "i.csv").unwrap_err();
        assert!(e.reason.contains("twice"));
        let e = parse_instruments("ts_code,name,timezone\nX,x,Nowhere\n".as_bytes(), "i.csv").unwrap_err();
        assert!(e.reason.contains("time zone"));
        assert!(parse_instruments("".as_bytes(), "i.csv").is_err());
    }

    #[test]
    fn a_row_cap_refuses_longer_files() {
        let text = "ts_code,name\n600000.SH,a\n600001.SH,b\n600002.SH,c\n";
        assert_eq!(parse_instruments_at_most(text.as_bytes(), "i.csv", 3).unwrap().len(), 3);
        let e = parse_instruments_at_most(text.as_bytes(), "i.csv", 2).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.reason.contains("more than 2 instruments"), "{}", e.reason);
    }
}
