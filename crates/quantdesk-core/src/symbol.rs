//! Symbols: TuShare codes for Chinese markets (`600519.SH`), the market's own ticker elsewhere.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// A validated instrument symbol.
///
/// Allowed: 1 to 32 characters from `A-Z a-z 0-9 . _ - ^ = &`, the first a letter, a digit or
/// `^` (so a symbol never starts like a spreadsheet formula: `=`, `-`, `&`…). Chinese exchange
/// suffixes are normalised to upper case (`600519.sh` becomes `600519.SH`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

/// The exchange a symbol trades on, as far as its code tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Exchange {
    /// Shanghai Stock Exchange (`.SH`).
    Sse,
    /// Shenzhen Stock Exchange (`.SZ`).
    Szse,
    /// Beijing Stock Exchange (`.BJ`).
    Bse,
    /// Anything else: the ticker carries no exchange we know.
    Other,
}

impl Exchange {
    /// The short code used in UDF `exchange` fields and in storage.
    pub fn code(self) -> &'static str {
        match self {
            Exchange::Sse => "SSE",
            Exchange::Szse => "SZSE",
            Exchange::Bse => "BSE",
            Exchange::Other => "OTHER",
        }
    }

    /// True for the three A-share exchanges.
    pub fn is_a_share(self) -> bool {
        !matches!(self, Exchange::Other)
    }
}

impl Symbol {
    /// The characters a symbol may contain: ASCII letters, digits and `. _ - ^ = &`.
    pub fn is_symbol_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '^' | '=' | '&')
    }

    /// The characters a symbol may start with: ASCII letters, digits and `^` (Yahoo's indices).
    pub fn is_first_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '^'
    }

    /// True when `s` has a symbol's shape: 1 to 32 symbol characters, the first one of
    /// [`Symbol::is_first_char`].
    pub fn is_well_formed(s: &str) -> bool {
        (1..=32).contains(&s.len())
            && s.chars().all(Symbol::is_symbol_char)
            && s.chars().next().is_some_and(Symbol::is_first_char)
    }

    /// Parses and normalises a symbol.
    pub fn new(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(InvalidValue("symbol is empty".into()));
        }
        if s.len() > 32 {
            return Err(InvalidValue(format!("symbol {s:?} is longer than 32 characters")));
        }
        if let Some(bad) = s.chars().find(|c| !Symbol::is_symbol_char(*c)) {
            return Err(InvalidValue(format!("symbol {s:?} contains the character {bad:?}")));
        }
        if !s.starts_with(Symbol::is_first_char) {
            return Err(InvalidValue(format!("symbol {s:?} must start with a letter, a digit or ^")));
        }
        let normalised = match s.rsplit_once('.') {
            Some((code, suffix)) if matches!(suffix.to_ascii_uppercase().as_str(), "SH" | "SZ" | "BJ") => {
                format!("{code}.{}", suffix.to_ascii_uppercase())
            }
            _ => s.to_string(),
        };
        Ok(Symbol(normalised))
    }

    /// For a symbol with an A-share exchange suffix (.SH, .SZ, .BJ): the code before it is six
    /// digits, as every exchange code is (`TEST.SZ` is no A-share). Other symbols pass.
    pub fn check_a_share_code(&self) -> Result<(), InvalidValue> {
        if matches!(self.exchange(), Exchange::Other) {
            return Ok(());
        }
        let code = self.code();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(InvalidValue(format!(
                "{} is not an A-share code: .SH, .SZ and .BJ take six digits before them (600519.SH); another market's ticker has no such suffix",
                self.0
            )))
        }
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code without an exchange suffix (`600519` for `600519.SH`).
    pub fn code(&self) -> &str {
        match self.exchange() {
            Exchange::Other => &self.0,
            _ => self.0.rsplit_once('.').map(|(c, _)| c).unwrap_or(&self.0),
        }
    }

    /// The exchange named by the suffix.
    pub fn exchange(&self) -> Exchange {
        match self.0.rsplit_once('.').map(|(_, s)| s) {
            Some("SH") => Exchange::Sse,
            Some("SZ") => Exchange::Szse,
            Some("BJ") => Exchange::Bse,
            _ => Exchange::Other,
        }
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Symbol {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Symbol::new(&value)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> String {
        s.0
    }
}

impl std::str::FromStr for Symbol {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_suffix_and_knows_exchange() {
        let s = Symbol::new(" 600519.sh ").unwrap();
        assert_eq!(s.as_str(), "600519.SH");
        assert_eq!(s.exchange(), Exchange::Sse);
        assert_eq!(s.code(), "600519");
        assert_eq!(Symbol::new("430047.BJ").unwrap().exchange(), Exchange::Bse);
        let goog = Symbol::new("GOOG").unwrap();
        assert_eq!(goog.exchange(), Exchange::Other);
        assert_eq!(goog.code(), "GOOG");
        assert_eq!(Symbol::new("BRK.B").unwrap().as_str(), "BRK.B");
    }

    #[test]
    fn rejects_bad_symbols() {
        assert!(Symbol::new("").is_err());
        assert!(Symbol::new("6005 19.SH").is_err());
        assert!(Symbol::new("x".repeat(33).as_str()).is_err());
        assert!(Symbol::new("a'; drop table bars").is_err());
    }

    #[test]
    fn symbols_never_start_like_a_formula() {
        for bad in ["=A1&B1", "-2+3", "&x", ".SH", "_x", "=HYPERLINK(x)"] {
            assert!(Symbol::new(bad).is_err(), "{bad}");
            assert!(!Symbol::is_well_formed(bad), "{bad}");
        }
        for good in ["^GSPC", "EURUSD=X", "BRK-B", "M&M.NS", "600519.SH", "GC=F"] {
            assert!(Symbol::new(good).is_ok(), "{good}");
            assert!(Symbol::is_well_formed(good), "{good}");
        }
    }
}
