//! Shared state of the HTTP layer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;
use quantdesk_core::{Instrument, Symbol};
use quantdesk_store::{SeriesInfo, Store};

use crate::config::Config;

/// An instrument and what is stored for it, cached briefly.
#[derive(Debug, Clone)]
pub struct SymbolMeta {
    pub instrument: Instrument,
    pub series: Vec<SeriesInfo>,
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    /// Rendered datafeed answers by request; short-lived, cleared on import. `None` when
    /// `cache_ttl_secs` is 0.
    pub responses: Option<moka::future::Cache<String, Bytes>>,
    /// The cache shared between replicas (Redis), when `redis_url` is set.
    pub shared: Option<crate::shared_cache::SharedCache>,
    /// Stored bars in time blocks, keyed by series version; `None` when `bar_cache_mb` is 0.
    pub blocks: Option<crate::blocks::BarBlocks>,
    /// Instrument metadata by symbol; short-lived, cleared on import.
    pub symbols: moka::future::Cache<Symbol, Option<Arc<SymbolMeta>>>,
    /// Access settings, the rate limiter and the account services.
    pub auth: Arc<crate::auth::AuthRuntime>,
    /// The imports each user is running in this process (at most `imports_per_user`).
    pub imports: crate::uploads::ImportSlots,
    /// The bounded pool that CPU-heavy request work runs on (`cpu_workers`, `cpu_queue`).
    pub cpu: crate::cpu::CpuPool,
    /// Live quotes from the configured sources, cached (`live_quotes`, `quote_cache_secs`).
    pub quotes: quantdesk_app::quotes::QuoteService,
    /// LLM providers: stored ones with encrypted keys, the configured default, the client.
    pub llm: Arc<quantdesk_app::llm::LlmService>,
    /// The coin ledger's services (balances, check-ins, adjustments, reservations).
    pub coins: quantdesk_app::coins::Coins,
    /// Packages, orders and payment notifications.
    pub payments: quantdesk_app::payments::Payments,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config, metrics: PrometheusHandle) -> Self {
        let ttl = Duration::from_secs(config.cache.cache_ttl_secs);
        let responses = (config.cache.cache_ttl_secs > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|k: &String, v: &Bytes| (k.len() + v.len()).try_into().unwrap_or(u32::MAX))
                .time_to_live(ttl)
                .build()
        });
        let shared = Some(config.cache.redis_url.expose()).filter(|u| !u.is_empty()).and_then(|u| {
            match crate::shared_cache::SharedCache::new(u) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "the Redis URL is not usable; running without the shared cache");
                    None
                }
            }
        });
        let blocks = (config.cache.bar_cache_mb > 0)
            .then(|| crate::blocks::BarBlocks::new(config.cache.bar_cache_mb * 1024 * 1024));
        let cpu = crate::cpu::CpuPool::new(
            crate::cpu::CpuPool::workers_for(config.server.cpu_workers),
            config.server.cpu_queue,
        );
        AppState {
            cpu,
            quotes: quantdesk_app::quotes::QuoteService::from_config(&config.sources),
            llm: Arc::new(
                quantdesk_app::llm::LlmService::new(store.clone(), &config.llm)
                    .expect("an HTTP client for LLM providers (TLS set-up)"),
            ),
            auth: Arc::new(crate::auth::AuthRuntime::new(store.clone(), &config)),
            coins: quantdesk_app::coins::Coins::from_config(store.clone(), &config),
            payments: quantdesk_app::payments::Payments::from_config(store.clone(), &config),
            store,
            metrics,
            responses,
            shared,
            blocks,
            symbols: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live((ttl * 5).max(Duration::from_secs(5)))
                .build(),
            imports: crate::uploads::ImportSlots::default(),
            config: Arc::new(config),
        }
    }

    /// The instrument and its stored series; `None` for unknown symbols.
    pub async fn symbol_meta(&self, symbol: &Symbol) -> Result<Option<Arc<SymbolMeta>>, quantdesk_store::StoreError> {
        if let Some(hit) = self.symbols.get(symbol).await {
            return Ok(hit);
        }
        let meta = match self.store.instrument(symbol).await? {
            Some(instrument) => {
                let series = self.store.series(symbol).await?;
                Some(Arc::new(SymbolMeta { instrument, series }))
            }
            None => None,
        };
        self.symbols.insert(symbol.clone(), meta.clone()).await;
        Ok(meta)
    }

    /// The account services (sign-up, login, passwords, keys, users).
    pub fn accounts(&self) -> &quantdesk_app::accounts::Accounts {
        &self.auth.accounts
    }

    /// Where handlers read bars from.
    pub fn bars(&self) -> crate::market::BarSource<'_> {
        crate::market::BarSource { store: &*self.store, blocks: self.blocks.as_ref() }
    }

    /// The watchlist services over this state's store, bars, quotes and configuration.
    pub fn watchlists(&self) -> quantdesk_app::watchlists::Watchlists<'_> {
        quantdesk_app::watchlists::Watchlists {
            store: &*self.store,
            bars: self.bars(),
            quotes: &self.quotes,
            config: &self.config.watchlists,
        }
    }

    /// Forgets cached answers after data changed.
    pub fn invalidate(&self) {
        if let Some(r) = &self.responses {
            r.invalidate_all();
        }
        self.symbols.invalidate_all();
    }
}
