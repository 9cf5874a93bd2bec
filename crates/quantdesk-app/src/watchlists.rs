//! Watchlists: each user's named lists of symbols (issue 20), for the API, the `/watchlists`
//! page, the chart's side panel and the instruments list.
//!
//! The rules live here: a user has a default list (made on first use, kept until the account
//! goes: it can be renamed, not deleted) and at most `max_lists` lists in all; a list holds at
//! most [`watchlist_limit`]`(user).max_symbols` symbols, each once, in the user's order. A symbol
//! must parse as a [`Symbol`] (422 `invalid_params`) and be a stored instrument (422
//! `unknown_symbol`). Someone else's list is the same 404 `watchlist_not_found` as a missing
//! one. The store enforces the limits atomically ([`quantdesk_store::watchlists`]).
//!
//! Each symbol is shown with its last price and change ([`crate::quotes::latest`]). The
//! issue's "latest report" per symbol is left out: reports do not exist yet.

use quantdesk_core::Symbol;
use quantdesk_store::Store;
use quantdesk_store::watchlists::{AddOutcome, ReorderOutcome, Watchlist};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;
use crate::accounts::Actor;
use crate::config::WatchlistsConfig;

/// A list name's length in characters (the schema's `maxLength`).
pub const NAME_MAX: usize = 60;
/// Symbols in one reorder (the schema's `maxItems`; above any configured list size people use).
pub const ORDER_MAX: usize = 1000;

/// How many lists a user may keep and how many symbols each may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct WatchlistLimits {
    pub max_lists: u32,
    pub max_symbols: u32,
}

/// The limits of `user`'s watchlists: the one place that decides them. Every user gets the free
/// plan's `max_symbols_free` symbols per list until plans exist (the plans work changes this
/// function, not its callers).
pub fn watchlist_limit(cfg: &WatchlistsConfig, _user: &Actor) -> WatchlistLimits {
    WatchlistLimits { max_lists: cfg.max_lists, max_symbols: cfg.max_symbols_free }
}

/// A new list's name, or a new name for a list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "白酒"}))]
pub struct WatchlistName {
    /// Unique among the caller's lists; 1 to 60 characters, not blank, no control characters.
    #[schema(min_length = 1, max_length = 60)]
    pub name: String,
}

/// A symbol to add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"symbol": "600519.SH"}))]
pub struct WatchItemInput {
    /// A stored instrument's symbol (`600519.SH`, `GOOG`).
    #[schema(min_length = 1, max_length = 32)]
    pub symbol: String,
}

/// A list's symbols in their new order: exactly the list's symbols, each once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"symbols": ["000001.SZ", "600519.SH"]}))]
pub struct WatchOrder {
    #[schema(max_items = 1000)]
    pub symbols: Vec<String>,
}

/// A watchlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchlistDto {
    pub id: i64,
    /// Empty for the default list until it is renamed (the pages call it "Default").
    pub name: String,
    /// The list the chart and the instruments page add to; it cannot be deleted.
    pub is_default: bool,
    /// Symbols in the list.
    pub count: u32,
    /// Symbols the list may hold.
    pub max_symbols: u32,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// The last price of a symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchQuote {
    pub price: f64,
    pub prev_close: f64,
    pub change: f64,
    /// In percent.
    pub change_pct: f64,
    /// Unix seconds: the stored bar's session close, or the live quote's time.
    pub time: i64,
    /// `stored` or the live source's name.
    pub source: String,
}

/// One symbol of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchItemDto {
    pub symbol: String,
    /// The instrument's name (empty when it is no longer stored).
    pub name: String,
    /// Unix milliseconds.
    pub added_at: i64,
    /// Null when no daily bar is stored.
    pub quote: Option<WatchQuote>,
}

/// A watchlist with its symbols in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchlistDetail {
    pub list: WatchlistDto,
    pub items: Vec<WatchItemDto>,
}

/// What the watchlist services need: the store, bars through the block cache and live quotes,
/// and the configuration.
#[derive(Clone, Copy)]
pub struct Watchlists<'a> {
    pub store: &'a dyn Store,
    pub bars: crate::market::BarSource<'a>,
    pub quotes: &'a crate::quotes::QuoteService,
    pub config: &'a WatchlistsConfig,
}

fn missing(id: i64) -> AppError {
    AppError::not_found(format!("no watchlist {id}")).with_code("watchlist_not_found")
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::invalid(message).with_code("invalid_params")
}

/// A checked list name: the schema's length (400) and the rules beyond it (422 `invalid_params`).
pub fn check_name(raw: &str) -> Result<String, AppError> {
    let n = raw.chars().count();
    if n == 0 || n > NAME_MAX {
        return Err(AppError::malformed(format!("name must have 1 to {NAME_MAX} characters")));
    }
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("name is blank").with_field("name"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name contains control characters").with_field("name"));
    }
    Ok(name.to_string())
}

/// A checked symbol code: 1 to 32 characters (400 beyond), a [`Symbol`] (422 `invalid_params`).
pub fn check_symbol(raw: &str) -> Result<Symbol, AppError> {
    let n = raw.chars().count();
    if n == 0 || n > 32 {
        return Err(AppError::malformed("symbol must have 1 to 32 characters"));
    }
    Symbol::new(raw).map_err(|e| invalid(e.0).with_field("symbol"))
}

impl<'a> Watchlists<'a> {
    fn limits(&self, user: &Actor) -> WatchlistLimits {
        watchlist_limit(self.config, user)
    }

    fn dto(&self, user: &Actor, w: Watchlist) -> WatchlistDto {
        WatchlistDto {
            id: w.id,
            name: w.name,
            is_default: w.is_default,
            count: w.items,
            max_symbols: self.limits(user).max_symbols,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }

    /// The caller's lists, the default first (made now if the caller has none).
    pub async fn list(&self, user: &Actor) -> Result<Vec<WatchlistDto>, AppError> {
        let owner = user.owner();
        self.store.default_watchlist(&owner, crate::clock::now_ms()).await?;
        Ok(self.store.list_watchlists(&owner).await?.into_iter().map(|w| self.dto(user, w)).collect())
    }

    /// The caller's default list (made now if missing) with its symbols and their prices.
    pub async fn default_list(&self, user: &Actor) -> Result<WatchlistDetail, AppError> {
        let d = self.store.default_watchlist(&user.owner(), crate::clock::now_ms()).await?;
        self.get(user, d.id).await
    }

    /// The caller's list `id` with its symbols and their prices.
    pub async fn get(&self, user: &Actor, id: i64) -> Result<WatchlistDetail, AppError> {
        let owner = user.owner();
        let list = self.store.watchlist(&owner, id).await?.ok_or_else(|| missing(id))?;
        let rows = self.store.watchlist_items(&owner, id).await?.ok_or_else(|| missing(id))?;
        let now = crate::clock::now_secs();
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let (name, quote) = match Symbol::new(&r.symbol) {
                Ok(symbol) => match self.store.instrument(&symbol).await? {
                    Some(i) => {
                        let series = self.store.series(&symbol).await?;
                        let q = crate::quotes::latest(self.bars, self.quotes, &i, &series, now).await?;
                        (i.name.clone(), q)
                    }
                    None => (String::new(), None),
                },
                Err(_) => (String::new(), None),
            };
            items.push(WatchItemDto {
                symbol: r.symbol,
                name,
                added_at: r.added_at,
                quote: quote.map(|q| WatchQuote {
                    price: q.price,
                    prev_close: q.prev_close,
                    change: q.change(),
                    change_pct: q.change_pct(),
                    time: q.time,
                    source: q.source,
                }),
            });
        }
        Ok(WatchlistDetail { list: self.dto(user, list), items })
    }

    /// Creates a list for the caller.
    pub async fn create(&self, user: &Actor, input: &WatchlistName) -> Result<WatchlistDto, AppError> {
        let name = check_name(&input.name)?;
        let limits = self.limits(user);
        let owner = user.owner();
        let id = self
            .store
            .create_watchlist(&owner, &name, crate::clock::now_ms(), limits.max_lists)
            .await
            .map_err(|e| if e.is_conflict() { name_taken(&name) } else { e.into() })?
            .ok_or_else(|| {
                AppError::invalid(format!(
                    "you have {} watchlists, the most one user keeps: delete one first",
                    limits.max_lists
                ))
                .with_code("too_many_watchlists")
            })?;
        let w = self.store.watchlist(&owner, id).await?.ok_or_else(|| missing(id))?;
        Ok(self.dto(user, w))
    }

    /// Renames the caller's list `id`.
    pub async fn rename(&self, user: &Actor, id: i64, input: &WatchlistName) -> Result<WatchlistDto, AppError> {
        let name = check_name(&input.name)?;
        let owner = user.owner();
        let found = self
            .store
            .rename_watchlist(&owner, id, &name, crate::clock::now_ms())
            .await
            .map_err(|e| if e.is_conflict() { name_taken(&name) } else { e.into() })?;
        if !found {
            return Err(missing(id));
        }
        let w = self.store.watchlist(&owner, id).await?.ok_or_else(|| missing(id))?;
        Ok(self.dto(user, w))
    }

    /// Deletes the caller's list `id` (not the default: 422 `default_watchlist`).
    pub async fn delete(&self, user: &Actor, id: i64) -> Result<(), AppError> {
        let owner = user.owner();
        let w = self.store.watchlist(&owner, id).await?.ok_or_else(|| missing(id))?;
        if w.is_default {
            return Err(AppError::invalid("the default watchlist cannot be deleted; rename it instead")
                .with_code("default_watchlist"));
        }
        if !self.store.delete_watchlist(&owner, id).await? {
            return Err(missing(id));
        }
        Ok(())
    }

    /// Adds a stored symbol at the end of the caller's list `id`.
    pub async fn add(&self, user: &Actor, id: i64, input: &WatchItemInput) -> Result<(), AppError> {
        let symbol = check_symbol(&input.symbol)?;
        if self.store.instrument(&symbol).await?.is_none() {
            return Err(AppError::invalid(format!("no stored instrument {symbol}: import or sync it first"))
                .with_code("unknown_symbol")
                .with_field("symbol"));
        }
        let limits = self.limits(user);
        match self
            .store
            .add_watchlist_item(&user.owner(), id, symbol.as_str(), crate::clock::now_ms(), limits.max_symbols)
            .await?
        {
            AddOutcome::Added => Ok(()),
            AddOutcome::Duplicate => {
                Err(AppError::conflict(format!("{symbol} is in this watchlist already"))
                    .with_code("already_in_watchlist"))
            }
            AddOutcome::Full => Err(AppError::invalid(format!(
                "this watchlist holds {} symbols, the most your plan allows: remove one first",
                limits.max_symbols
            ))
            .with_code("watchlist_full")),
            AddOutcome::NoList => Err(missing(id)),
        }
    }

    /// Adds a symbol to the caller's default list.
    pub async fn add_to_default(&self, user: &Actor, input: &WatchItemInput) -> Result<i64, AppError> {
        let d = self.store.default_watchlist(&user.owner(), crate::clock::now_ms()).await?;
        self.add(user, d.id, input).await?;
        Ok(d.id)
    }

    /// Removes `symbol` from the caller's list `id` (404 `not_in_watchlist` when it is not there).
    pub async fn remove(&self, user: &Actor, id: i64, symbol: &str) -> Result<(), AppError> {
        let owner = user.owner();
        self.store.watchlist(&owner, id).await?.ok_or_else(|| missing(id))?;
        // A symbol is stored normalised; an unparsable one cannot be in the list.
        let symbol = Symbol::new(symbol).map(|s| s.to_string()).unwrap_or_else(|_| symbol.to_string());
        if !self.store.remove_watchlist_item(&owner, id, &symbol, crate::clock::now_ms()).await? {
            return Err(AppError::not_found(format!("{symbol} is not in watchlist {id}")).with_code("not_in_watchlist"));
        }
        Ok(())
    }

    /// Puts the caller's list `id` in the order given (exactly its symbols, each once).
    pub async fn reorder(&self, user: &Actor, id: i64, input: &WatchOrder) -> Result<(), AppError> {
        if input.symbols.len() > ORDER_MAX {
            return Err(AppError::malformed(format!("symbols has at most {ORDER_MAX} items")));
        }
        let symbols: Vec<String> =
            input.symbols.iter().map(|s| Symbol::new(s).map(|s| s.to_string()).unwrap_or_else(|_| s.clone())).collect();
        match self.store.reorder_watchlist(&user.owner(), id, &symbols, crate::clock::now_ms()).await? {
            ReorderOutcome::Done => Ok(()),
            ReorderOutcome::Mismatch => {
                Err(invalid("symbols must be exactly the watchlist's symbols, each once").with_field("symbols"))
            }
            ReorderOutcome::NoList => Err(missing(id)),
        }
    }

    /// Moves `symbol` one place up (`up`) or down in the caller's list `id` (the page's buttons);
    /// at either end nothing changes.
    pub async fn shift(&self, user: &Actor, id: i64, symbol: &str, up: bool) -> Result<(), AppError> {
        let rows = self.store.watchlist_items(&user.owner(), id).await?.ok_or_else(|| missing(id))?;
        let mut symbols: Vec<String> = rows.into_iter().map(|r| r.symbol).collect();
        let Some(at) = symbols.iter().position(|s| s == symbol) else {
            return Err(AppError::not_found(format!("{symbol} is not in watchlist {id}")).with_code("not_in_watchlist"));
        };
        let to = if up { at.checked_sub(1) } else { Some(at + 1).filter(|t| *t < symbols.len()) };
        let Some(to) = to else { return Ok(()) };
        symbols.swap(at, to);
        self.reorder(user, id, &WatchOrder { symbols }).await
    }
}

fn name_taken(name: &str) -> AppError {
    AppError::conflict(format!("you already have a watchlist named {name:?}")).with_code("watchlist_exists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Via;
    use quantdesk_store::auth::Role;

    fn user(id: i64) -> Actor {
        Actor { user_id: id, email: format!("u{id}@x.test"), role: Role::Analyst, via: Via::CommandLine }
    }

    #[test]
    fn the_limit_comes_from_the_configuration() {
        let cfg = WatchlistsConfig { max_symbols_free: 7, max_lists: 3 };
        assert_eq!(watchlist_limit(&cfg, &user(1)), WatchlistLimits { max_lists: 3, max_symbols: 7 });
        let d = WatchlistsConfig::default();
        assert_eq!(watchlist_limit(&d, &user(2)).max_symbols, 20);
    }

    #[test]
    fn names_and_symbols_are_checked() {
        assert_eq!(check_name("  白酒 ").unwrap(), "白酒");
        assert_eq!(check_name("").unwrap_err().kind(), crate::ErrorKind::Malformed);
        assert_eq!(check_name(&"x".repeat(61)).unwrap_err().kind(), crate::ErrorKind::Malformed);
        assert_eq!(check_name(&"名".repeat(60)).unwrap(), "名".repeat(60), "characters, not bytes");
        for bad in ["   ", "a\tb", "\u{7}"] {
            let e = check_name(bad).unwrap_err();
            assert_eq!((e.kind(), e.code()), (crate::ErrorKind::Invalid, "invalid_params"), "{bad:?}");
        }
        assert_eq!(check_symbol("600519.sh").unwrap().as_str(), "600519.SH", "normalised");
        let e = check_symbol("-x").unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_params", Some("symbol")));
        assert_eq!(check_symbol("a b").unwrap_err().code(), "invalid_params");
        assert_eq!(check_symbol(&"A".repeat(33)).unwrap_err().kind(), crate::ErrorKind::Malformed);
    }

    async fn service_test(body: impl AsyncFnOnce(Watchlists<'_>)) {
        let dir = tempfile::tempdir().unwrap();
        let store = quantdesk_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 2).await.unwrap();
        let mut i = quantdesk_core::Instrument::with_defaults(
            Symbol::new("600519.SH").unwrap(),
            "贵州茅台",
            quantdesk_core::InstrumentKind::Stock,
        );
        i.price_limit = Some(0.1);
        let goog = quantdesk_core::Instrument::with_defaults(
            Symbol::new("GOOG").unwrap(),
            "Alphabet",
            quantdesk_core::InstrumentKind::Stock,
        );
        store.upsert_instruments(&[i, goog]).await.unwrap();
        let bar = |t: i64, close: f64| quantdesk_core::Bar {
            time: t,
            open: 10.0,
            high: 12.0,
            low: 9.0,
            close,
            volume: 1.0,
            amount: 0.0,
        };
        let bars = [bar(1_704_153_600, 10.0), bar(1_704_240_000, 11.0)];
        let sym = Symbol::new("600519.SH").unwrap();
        let w = quantdesk_store::BarSeriesWrite { symbol: &sym, bars: &bars, factors: &[], calendar: None };
        store.import_bars(quantdesk_core::Resolution::Day, &[w], &|_| {}).await.unwrap();
        let quotes = crate::quotes::QuoteService::new(crate::sync::Sources::default(), false, 5);
        let cfg = WatchlistsConfig { max_symbols_free: 2, max_lists: 2 };
        let svc = Watchlists {
            store: &*store,
            bars: crate::market::BarSource { store: &*store, blocks: None },
            quotes: &quotes,
            config: &cfg,
        };
        body(svc).await;
    }

    #[tokio::test]
    async fn the_rules_of_lists_and_symbols() {
        service_test(async |svc| {
            let alice = user(1);
            let lists = svc.list(&alice).await.unwrap();
            assert_eq!(lists.len(), 1, "the default list is made on first use");
            let d = lists[0].clone();
            assert!(d.is_default && d.count == 0 && d.max_symbols == 2);
            svc.add(&alice, d.id, &WatchItemInput { symbol: "600519.sh".into() }).await.unwrap();
            let e = svc.add(&alice, d.id, &WatchItemInput { symbol: "600519.SH".into() }).await.unwrap_err();
            assert_eq!(e.code(), "already_in_watchlist");
            let e = svc.add(&alice, d.id, &WatchItemInput { symbol: "000001.SZ".into() }).await.unwrap_err();
            assert_eq!((e.kind(), e.code()), (crate::ErrorKind::Invalid, "unknown_symbol"), "not stored");
            let e = svc.add(&alice, d.id, &WatchItemInput { symbol: "bad symbol".into() }).await.unwrap_err();
            assert_eq!(e.code(), "invalid_params");
            svc.add(&alice, d.id, &WatchItemInput { symbol: "GOOG".into() }).await.unwrap();
            // The list is full at 2 (the configured free limit).
            svc.store
                .upsert_instruments(&[quantdesk_core::Instrument::with_defaults(
                    Symbol::new("AAPL").unwrap(),
                    "Apple",
                    quantdesk_core::InstrumentKind::Stock,
                )])
                .await
                .unwrap();
            let e = svc.add(&alice, d.id, &WatchItemInput { symbol: "AAPL".into() }).await.unwrap_err();
            assert_eq!((e.kind(), e.code()), (crate::ErrorKind::Invalid, "watchlist_full"));

            let detail = svc.get(&alice, d.id).await.unwrap();
            let got: Vec<_> = detail.items.iter().map(|i| (i.symbol.as_str(), i.name.as_str())).collect();
            assert_eq!(got, [("600519.SH", "贵州茅台"), ("GOOG", "Alphabet")]);
            let q = detail.items[0].quote.clone().unwrap();
            assert_eq!(
                (q.price, q.prev_close, q.change, q.change_pct, q.source.as_str()),
                (11.0, 10.0, 1.0, 10.0, "stored")
            );
            assert!(detail.items[1].quote.is_none(), "no bars stored");

            svc.shift(&alice, d.id, "GOOG", true).await.unwrap();
            svc.shift(&alice, d.id, "GOOG", true).await.unwrap();
            let order: Vec<_> = svc.get(&alice, d.id).await.unwrap().items.into_iter().map(|i| i.symbol).collect();
            assert_eq!(order, ["GOOG", "600519.SH"], "moved up once, then at the top nothing changes");
            let e = svc.reorder(&alice, d.id, &WatchOrder { symbols: vec!["GOOG".into()] }).await.unwrap_err();
            assert_eq!(e.code(), "invalid_params");
            svc.reorder(&alice, d.id, &WatchOrder { symbols: vec!["600519.sh".into(), "GOOG".into()] }).await.unwrap();

            // Lists: at most 2 (the default counts); the default stays; names unique.
            let w = svc.create(&alice, &WatchlistName { name: " 科技 ".into() }).await.unwrap();
            assert_eq!(w.name, "科技");
            let e = svc.create(&alice, &WatchlistName { name: "more".into() }).await.unwrap_err();
            assert_eq!(e.code(), "too_many_watchlists");
            let e = svc.rename(&alice, d.id, &WatchlistName { name: "科技".into() }).await.unwrap_err();
            assert_eq!(e.code(), "watchlist_exists");
            assert_eq!(svc.delete(&alice, d.id).await.unwrap_err().code(), "default_watchlist");

            // Someone else's list is not found, whatever is asked.
            let bob = user(2);
            assert_eq!(svc.get(&bob, w.id).await.unwrap_err().code(), "watchlist_not_found");
            assert_eq!(svc.delete(&bob, w.id).await.unwrap_err().code(), "watchlist_not_found");
            let e = svc.add(&bob, w.id, &WatchItemInput { symbol: "GOOG".into() }).await.unwrap_err();
            assert_eq!(e.code(), "watchlist_not_found");
            assert_eq!(svc.remove(&bob, d.id, "GOOG").await.unwrap_err().code(), "watchlist_not_found");
            assert_eq!(svc.remove(&alice, d.id, "AAPL").await.unwrap_err().code(), "not_in_watchlist");
            svc.remove(&alice, d.id, "GOOG").await.unwrap();
            assert_ne!(svc.add_to_default(&bob, &WatchItemInput { symbol: "GOOG".into() }).await.unwrap(), d.id);
            svc.delete(&alice, w.id).await.unwrap();
            assert_eq!(svc.list(&alice).await.unwrap().len(), 1);
        })
        .await;
    }
}
