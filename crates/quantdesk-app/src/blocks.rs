//! An in-process cache of stored bars in fixed time blocks.
//!
//! Bars are cached per (symbol, resolution, series version, block). A block covers a fixed span of
//! time, so any range maps to a few blocks and a chart scrolling left reuses what it has read.
//! Keys carry the series version, which every write bumps: a cached block can be old, never wrong
//! for the version the caller asked about. Entries are weighed in bytes and evicted LRU.

use std::sync::Arc;

use quantdesk_core::{Bar, Resolution, Symbol};
use quantdesk_store::{MarketStore, SeriesInfo, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BlockKey {
    symbol: Symbol,
    resolution: Resolution,
    version: i64,
    block: i64,
}

/// The block cache.
#[derive(Clone)]
pub struct BarBlocks {
    cache: moka::future::Cache<BlockKey, Arc<[Bar]>>,
}

/// Seconds of time in one block: about a few hundred to a few thousand bars.
fn span(res: Resolution) -> i64 {
    match res {
        Resolution::Minutes(n) => i64::from(n) * 60 * 4096,
        Resolution::Day => 86_400 * 2048,
        Resolution::Week | Resolution::Month => 86_400 * 366 * 64,
    }
}

impl BarBlocks {
    /// A cache holding at most `max_bytes` of bars.
    pub fn new(max_bytes: u64) -> Self {
        let bar = std::mem::size_of::<Bar>() as u64;
        BarBlocks {
            cache: moka::future::Cache::builder()
                .max_capacity(max_bytes / bar)
                .weigher(|_k: &BlockKey, v: &Arc<[Bar]>| u32::try_from(v.len()).unwrap_or(u32::MAX).max(1))
                .build(),
        }
    }

    async fn block(
        &self,
        store: &dyn MarketStore,
        symbol: &Symbol,
        info: &SeriesInfo,
        b: i64,
    ) -> Result<Arc<[Bar]>, StoreError> {
        let key = BlockKey { symbol: symbol.clone(), resolution: info.resolution, version: info.version, block: b };
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit);
        }
        let s = span(info.resolution);
        let bars: Arc<[Bar]> = store
            .bars(symbol, info.resolution, b.saturating_mul(s), b.saturating_add(1).saturating_mul(s), None)
            .await?
            .into();
        self.cache.insert(key, bars.clone()).await;
        Ok(bars)
    }

    /// Stored bars of `info`'s series with `from <= time < to`, ascending; with `limit`, the last
    /// that many. Equivalent to [`MarketStore::bars`] on the same version.
    pub async fn read(
        &self,
        store: &dyn MarketStore,
        symbol: &Symbol,
        info: &SeriesInfo,
        from: i64,
        to: i64,
        limit: Option<u32>,
    ) -> Result<Vec<Bar>, StoreError> {
        let lo = from.max(info.first);
        let hi = to.min(info.last.saturating_add(1));
        if lo >= hi || info.count == 0 {
            return Ok(Vec::new());
        }
        let s = span(info.resolution);
        let (first, last) = (lo.div_euclid(s), (hi - 1).div_euclid(s));
        let slice = |blk: &[Bar]| -> Vec<Bar> {
            let a = blk.partition_point(|b| b.time < lo);
            let z = blk.partition_point(|b| b.time < hi);
            blk[a..z].to_vec()
        };
        match limit {
            None => {
                let mut out = Vec::new();
                for b in first..=last {
                    out.extend(slice(&self.block(store, symbol, info, b).await?));
                }
                Ok(out)
            }
            Some(n) => {
                let n = n as usize;
                let mut parts: Vec<Vec<Bar>> = Vec::new();
                let mut count = 0;
                for b in (first..=last).rev() {
                    let part = slice(&self.block(store, symbol, info, b).await?);
                    count += part.len();
                    parts.push(part);
                    if count >= n {
                        break;
                    }
                }
                let mut out: Vec<Bar> = parts.into_iter().rev().flatten().collect();
                if out.len() > n {
                    out.drain(..out.len() - n);
                }
                Ok(out)
            }
        }
    }
}
