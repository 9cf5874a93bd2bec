//! Instruments: what a symbol is and the rules it trades under.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::symbol::Exchange;
use crate::{InvalidValue, Session, Symbol};

/// The kind of instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    Stock,
    Index,
    Etf,
    Fund,
    Bond,
    Future,
    Crypto,
    Other,
}

impl InstrumentKind {
    /// Parses the type names used by TuShare-style masters (`stock`, `index`, `etf`, `lof`, `fja`, …).
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "stock" | "equity" | "e" => InstrumentKind::Stock,
            "index" | "i" => InstrumentKind::Index,
            "etf" => InstrumentKind::Etf,
            "fund" | "lof" | "fja" | "fjb" | "fjm" | "mmf" | "reits" | "fd" => InstrumentKind::Fund,
            "bond" | "cb" => InstrumentKind::Bond,
            "future" | "futures" | "ft" => InstrumentKind::Future,
            "crypto" => InstrumentKind::Crypto,
            _ => InstrumentKind::Other,
        }
    }

    /// The name used in storage and in UDF `type` fields.
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentKind::Stock => "stock",
            InstrumentKind::Index => "index",
            InstrumentKind::Etf => "etf",
            InstrumentKind::Fund => "fund",
            InstrumentKind::Bond => "bond",
            InstrumentKind::Future => "future",
            InstrumentKind::Crypto => "crypto",
            InstrumentKind::Other => "other",
        }
    }
}

/// Everything quantdesk knows about one instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    pub symbol: Symbol,
    pub name: String,
    /// Pinyin abbreviation of the Chinese name (`GZMT` for 贵州茅台); empty when none.
    pub abbrev: String,
    /// Exchange code: `SSE`, `SZSE`, `BSE` or the market's own name.
    pub exchange: String,
    pub kind: InstrumentKind,
    /// Listing board: `main`, `chinext`, `star`, `bse`, or empty.
    pub board: String,
    pub currency: String,
    pub lot_size: u32,
    pub tick_size: f64,
    /// Daily price limit as a fraction of the previous close (0.1 for ±10 %); `None` when unlimited.
    pub price_limit: Option<f64>,
    pub list_date: Option<NaiveDate>,
    pub delist_date: Option<NaiveDate>,
    pub session: Session,
    /// IANA time-zone name of the exchange.
    pub timezone: String,
    /// Industry as the source names it (TuShare's `industry`); empty when unknown.
    #[serde(default)]
    pub industry: String,
    /// Region (TuShare's `area`); empty when unknown.
    #[serde(default)]
    pub area: String,
    /// The actual controller (TuShare's `act_name`); empty when unknown.
    #[serde(default)]
    pub controller: String,
}

impl Instrument {
    /// An instrument with the defaults that its symbol implies: A-share rules for `.SH`, `.SZ`
    /// and `.BJ` codes (board, lot, tick, price limit, session, Asia/Shanghai), and generic
    /// round-the-clock UTC rules otherwise.
    pub fn with_defaults(symbol: Symbol, name: &str, kind: InstrumentKind) -> Self {
        let exchange = symbol.exchange();
        let mut inst = Instrument {
            name: if name.trim().is_empty() { symbol.to_string() } else { name.trim().to_string() },
            abbrev: String::new(),
            exchange: exchange.code().to_string(),
            kind,
            board: String::new(),
            currency: "USD".into(),
            lot_size: 1,
            tick_size: 0.01,
            price_limit: None,
            list_date: None,
            delist_date: None,
            session: Session::always(),
            timezone: "UTC".into(),
            industry: String::new(),
            area: String::new(),
            controller: String::new(),
            symbol,
        };
        if exchange.is_a_share() {
            inst.currency = "CNY".into();
            inst.session = Session::a_share();
            inst.timezone = "Asia/Shanghai".into();
            let code = inst.symbol.code().to_string();
            match kind {
                InstrumentKind::Stock => {
                    let (board, limit) = a_share_board(exchange, &code);
                    inst.board = board.into();
                    inst.price_limit = Some(limit);
                    if inst.name.contains("ST") {
                        // ST and *ST stocks on the main boards trade within ±5 %.
                        if board == "main" {
                            inst.price_limit = Some(0.05);
                        }
                    }
                    inst.lot_size = 100;
                    inst.tick_size = 0.01;
                }
                InstrumentKind::Etf | InstrumentKind::Fund => {
                    inst.lot_size = 100;
                    inst.tick_size = 0.001;
                    inst.price_limit = Some(0.1);
                }
                InstrumentKind::Bond => {
                    inst.lot_size = 10;
                    inst.tick_size = 0.001;
                }
                _ => {}
            }
        }
        inst
    }

    /// Checks the fields that the constructor cannot: positive lot and tick, sane limit and dates.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.name.trim().is_empty() {
            return Err(InvalidValue(format!("{}: name is empty", self.symbol)));
        }
        if self.lot_size == 0 {
            return Err(InvalidValue(format!("{}: lot size must be at least 1", self.symbol)));
        }
        if !(self.tick_size.is_finite() && self.tick_size > 0.0) {
            return Err(InvalidValue(format!("{}: tick size must be positive", self.symbol)));
        }
        if let Some(l) = self.price_limit
            && !(l.is_finite() && l > 0.0 && l < 1.0)
        {
            return Err(InvalidValue(format!("{}: price limit must be between 0 and 1", self.symbol)));
        }
        if let (Some(a), Some(b)) = (self.list_date, self.delist_date)
            && b < a
        {
            return Err(InvalidValue(format!("{}: delisted before it was listed", self.symbol)));
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(InvalidValue(format!("{}: unknown time zone {:?}", self.symbol, self.timezone)));
        }
        Ok(())
    }

    /// The exchange time zone; UTC if the stored name is unknown.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// UDF `pricescale`: 10^decimals of the tick size (100 for a 0.01 tick).
    pub fn pricescale(&self) -> u64 {
        let mut scale = 1u64;
        let mut tick = self.tick_size;
        while scale < 100_000_000 && (tick - tick.round()).abs() > 1e-9 {
            tick *= 10.0;
            scale *= 10;
        }
        scale
    }
}

fn a_share_board(exchange: Exchange, code: &str) -> (&'static str, f64) {
    match exchange {
        Exchange::Sse if code.starts_with("688") || code.starts_with("689") => ("star", 0.2),
        Exchange::Szse if code.starts_with("300") || code.starts_with("301") => ("chinext", 0.2),
        Exchange::Bse => ("bse", 0.3),
        _ => ("main", 0.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_defaults() {
        let i = Instrument::with_defaults(Symbol::new("300750.SZ").unwrap(), "宁德时代", InstrumentKind::Stock);
        assert_eq!(i.board, "chinext");
        assert_eq!(i.price_limit, Some(0.2));
        assert_eq!(i.lot_size, 100);
        assert_eq!(i.timezone, "Asia/Shanghai");
        assert_eq!(i.session.to_string(), "0930-1130,1300-1500");
        assert_eq!(i.pricescale(), 100);
        let st = Instrument::with_defaults(Symbol::new("600001.SH").unwrap(), "*ST样本", InstrumentKind::Stock);
        assert_eq!(st.price_limit, Some(0.05));
        let etf = Instrument::with_defaults(Symbol::new("510300.SH").unwrap(), "沪深300ETF", InstrumentKind::Etf);
        assert_eq!(etf.pricescale(), 1000);
        let goog = Instrument::with_defaults(Symbol::new("GOOG").unwrap(), "", InstrumentKind::Stock);
        assert_eq!(goog.name, "GOOG");
        assert_eq!(goog.price_limit, None);
        assert!(goog.session.is_always());
        assert!(goog.validate().is_ok());
    }

    #[test]
    fn validation_catches_bad_fields() {
        let mut i = Instrument::with_defaults(Symbol::new("600000.SH").unwrap(), "x", InstrumentKind::Stock);
        i.lot_size = 0;
        assert!(i.validate().is_err());
        i.lot_size = 100;
        i.timezone = "Mars/Olympus".into();
        assert!(i.validate().is_err());
    }
}
