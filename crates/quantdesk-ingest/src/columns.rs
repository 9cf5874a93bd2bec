//! Header detection: which column holds what.

use serde::{Deserialize, Serialize};

/// Explicit column names given by the user, overriding detection. Empty fields mean "detect".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMap {
    pub time: Option<String>,
    pub open: Option<String>,
    pub high: Option<String>,
    pub low: Option<String>,
    pub close: Option<String>,
    pub volume: Option<String>,
    pub amount: Option<String>,
    pub adj_factor: Option<String>,
    pub adj_close: Option<String>,
    pub symbol: Option<String>,
}

/// Column positions found in a header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedColumns {
    pub time: Option<usize>,
    pub open: Option<usize>,
    pub high: Option<usize>,
    pub low: Option<usize>,
    pub close: Option<usize>,
    pub volume: Option<usize>,
    pub amount: Option<usize>,
    pub adj_factor: Option<usize>,
    pub adj_close: Option<usize>,
    pub symbol: Option<usize>,
    /// The header names, normalised (trimmed, BOM removed).
    pub names: Vec<String>,
}

fn normalise(name: &str) -> String {
    name.trim().trim_start_matches('\u{feff}').trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

const TIME: &[&str] = &["datetime", "date", "trade_date", "trade_time", "time", "timestamp", "day", "bob"];
const VOLUME: &[&str] = &["volume", "vol"];
const AMOUNT: &[&str] = &["amount", "turnover", "value"];
const ADJ_FACTOR: &[&str] = &["adj_factor", "factor", "adjfactor"];
const ADJ_CLOSE: &[&str] = &["adj_close", "adjclose"];
const SYMBOL: &[&str] = &["ts_code", "symbol", "code", "ticker"];

/// Finds the columns in `header`, honouring the names in `map` where given. Returns the name that
/// `map` asked for and the header lacks as an error.
pub fn detect_columns(header: &[&str], map: &ColumnMap) -> Result<DetectedColumns, String> {
    let names: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    let find = |wanted: &Option<String>, candidates: &[&str]| -> Result<Option<usize>, String> {
        if let Some(w) = wanted {
            let w = normalise(w);
            return names
                .iter()
                .position(|n| *n == w)
                .map(Some)
                .ok_or_else(|| format!("the header has no column named {w:?}"));
        }
        Ok(candidates.iter().find_map(|c| names.iter().position(|n| n == c)))
    };
    Ok(DetectedColumns {
        time: find(&map.time, TIME)?,
        open: find(&map.open, &["open"])?,
        high: find(&map.high, &["high"])?,
        low: find(&map.low, &["low"])?,
        close: find(&map.close, &["close"])?,
        volume: find(&map.volume, VOLUME)?,
        amount: find(&map.amount, AMOUNT)?,
        adj_factor: find(&map.adj_factor, ADJ_FACTOR)?,
        adj_close: find(&map.adj_close, ADJ_CLOSE)?,
        symbol: find(&map.symbol, SYMBOL)?,
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_headers() {
        let d = detect_columns(
            &["\u{feff}trade_date", "ts_code", "Open", "HIGH", "low", "close", "vol", "amount"],
            &ColumnMap::default(),
        )
        .unwrap();
        assert_eq!(d.time, Some(0));
        assert_eq!(d.symbol, Some(1));
        assert_eq!((d.open, d.high, d.low, d.close), (Some(2), Some(3), Some(4), Some(5)));
        assert_eq!(d.volume, Some(6));
        assert_eq!(d.amount, Some(7));
        assert_eq!(d.adj_factor, None);
    }

    #[test]
    fn overrides_win_and_missing_override_is_an_error() {
        let map = ColumnMap { close: Some("Adj Close".into()), ..Default::default() };
        let d = detect_columns(&["date", "open", "high", "low", "close", "adj close"], &map).unwrap();
        assert_eq!(d.close, Some(5));
        let map = ColumnMap { time: Some("when".into()), ..Default::default() };
        assert!(detect_columns(&["date"], &map).unwrap_err().contains("\"when\""));
    }
}
