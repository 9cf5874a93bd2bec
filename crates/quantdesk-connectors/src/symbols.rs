//! Symbol spellings: quantdesk's TuShare codes (`600519.SH`) ↔ Eastmoney `secid`s (`1.600519`) ↔
//! Yahoo tickers (`600519.SS`).
//!
//! A bare six-digit code (`600519`) is ambiguous (the same digits exist on several exchanges over
//! time, and Eastmoney's `0.` covers both Shenzhen and Beijing) and is never accepted.

use quantdesk_core::Symbol;
use quantdesk_core::symbol::Exchange;

use crate::{ErrorKind, Result, SourceError};

fn is_bare_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn ambiguous(s: &str) -> SourceError {
    SourceError::new(
        ErrorKind::Unsupported,
        format!("{s:?} is a bare six-digit code: add the exchange (.SH, .SZ or .BJ)"),
    )
}

/// Parses a TuShare code (or another market's ticker), refusing bare six-digit codes.
pub fn parse_symbol(raw: &str) -> Result<Symbol> {
    let trimmed = raw.trim();
    if is_bare_code(trimmed) {
        return Err(ambiguous(trimmed));
    }
    Symbol::new(trimmed).map_err(|e| SourceError::new(ErrorKind::Unsupported, e.0))
}

/// Checks that a symbol is an A-share code with its exchange.
fn a_share(symbol: &Symbol) -> Result<Exchange> {
    let ex = symbol.exchange();
    if !ex.is_a_share() {
        if is_bare_code(symbol.as_str()) {
            return Err(ambiguous(symbol.as_str()));
        }
        return Err(SourceError::new(
            ErrorKind::Unsupported,
            format!("{symbol} is not an A-share code (.SH, .SZ or .BJ)"),
        ));
    }
    if !is_bare_code(symbol.code()) {
        return Err(SourceError::new(ErrorKind::Unsupported, format!("{symbol}: an A-share code has six digits")));
    }
    Ok(ex)
}

/// `600519.SH` → `1.600519`; `000001.SZ` and `430047.BJ` → `0.…`. Only A-shares have a secid here.
pub fn to_eastmoney_secid(symbol: &Symbol) -> Result<String> {
    let market = match a_share(symbol)? {
        Exchange::Sse => "1",
        _ => "0",
    };
    Ok(format!("{market}.{}", symbol.code()))
}

/// `1.600519` → `600519.SH`; `0.000001` → `000001.SZ`; `0.430047` / `0.830799` / `0.920001` →
/// `.BJ` (Beijing codes start with 4, 8 or 92).
pub fn from_eastmoney_secid(secid: &str) -> Result<Symbol> {
    let bad = || SourceError::new(ErrorKind::Unsupported, format!("{secid:?} is not an A-share Eastmoney secid"));
    let (market, code) = secid.trim().split_once('.').ok_or_else(bad)?;
    if !is_bare_code(code) {
        return Err(bad());
    }
    let suffix = match market {
        "1" => "SH",
        "0" if code.starts_with('4') || code.starts_with('8') || code.starts_with("92") => "BJ",
        "0" => "SZ",
        _ => return Err(bad()),
    };
    Symbol::new(&format!("{code}.{suffix}")).map_err(|e| SourceError::new(ErrorKind::Unsupported, e.0))
}

/// `600519.SH` → `600519.SS`; `.SZ` and `.BJ` stay; other markets' tickers pass through.
pub fn to_yahoo(symbol: &Symbol) -> Result<String> {
    if is_bare_code(symbol.as_str()) {
        return Err(ambiguous(symbol.as_str()));
    }
    Ok(match symbol.exchange() {
        Exchange::Sse => format!("{}.SS", symbol.code()),
        _ => symbol.as_str().to_string(),
    })
}

/// `600519.SS` → `600519.SH`; `.SZ`/`.BJ` stay; other tickers pass through.
pub fn from_yahoo(ticker: &str) -> Result<Symbol> {
    let t = ticker.trim();
    let mapped = match t.rsplit_once('.') {
        Some((code, suffix)) if suffix.eq_ignore_ascii_case("SS") && is_bare_code(code) => format!("{code}.SH"),
        _ => t.to_string(),
    };
    parse_symbol(&mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Symbol {
        Symbol::new(x).unwrap()
    }

    #[test]
    fn tushare_to_eastmoney_and_back() {
        for (ts, secid) in [
            ("600519.SH", "1.600519"),
            ("000001.SH", "1.000001"),
            ("000001.SZ", "0.000001"),
            ("300750.SZ", "0.300750"),
            ("430047.BJ", "0.430047"),
            ("830799.BJ", "0.830799"),
            ("920001.BJ", "0.920001"),
        ] {
            assert_eq!(to_eastmoney_secid(&s(ts)).unwrap(), secid, "{ts}");
            assert_eq!(from_eastmoney_secid(secid).unwrap().as_str(), ts, "{secid}");
        }
        assert_eq!(to_eastmoney_secid(&s("600519")).unwrap_err().kind, ErrorKind::Unsupported);
        assert!(to_eastmoney_secid(&s("GOOG")).is_err());
        assert!(from_eastmoney_secid("600519").is_err());
        assert!(from_eastmoney_secid("105.GOOG").is_err());
        assert!(from_eastmoney_secid("2.600519").is_err());
    }

    #[test]
    fn tushare_to_yahoo_and_back() {
        for (ts, y) in [
            ("600519.SH", "600519.SS"),
            ("000001.SZ", "000001.SZ"),
            ("430047.BJ", "430047.BJ"),
            ("GOOG", "GOOG"),
            ("^DJI", "^DJI"),
            ("BRK-B", "BRK-B"),
        ] {
            assert_eq!(to_yahoo(&s(ts)).unwrap(), y, "{ts}");
            assert_eq!(from_yahoo(y).unwrap().as_str(), ts, "{y}");
        }
        assert!(to_yahoo(&s("600519")).is_err());
        assert!(from_yahoo("600519").is_err());
        assert_eq!(from_yahoo("600519.ss").unwrap().as_str(), "600519.SH");
    }

    #[test]
    fn bare_codes_are_refused() {
        assert_eq!(parse_symbol("600519").unwrap_err().kind, ErrorKind::Unsupported);
        assert!(parse_symbol(" 600519 ").unwrap_err().message.contains("bare"));
        assert_eq!(parse_symbol("600519.sh").unwrap().as_str(), "600519.SH");
    }
}
