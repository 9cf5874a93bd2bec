//! The block cache answers exactly what the store answers, for any range and limit.

mod common;

use quantdesk_core::rng::Rng;
use quantdesk_core::{Resolution, Symbol};
use quantdesk_server::blocks::BarBlocks;

#[tokio::test]
async fn block_reads_equal_store_reads() {
    let t = common::app().await;
    let end = "2026-11-20".parse().unwrap();
    quantdesk_app::demo::load(&*t.store, end).await.unwrap();
    let blocks = BarBlocks::new(1 << 20); // small: eviction happens during the test
    let mut rng = Rng::new(99);
    for symbol in ["000858.SZ", "688111.SH"] {
        let symbol = Symbol::new(symbol).unwrap();
        for info in t.store.series(&symbol).await.unwrap() {
            let span = info.last - info.first;
            for _ in 0..60 {
                let a = info.first - span / 10 + (rng.uniform() * span as f64 * 1.2) as i64;
                let b = a + (rng.uniform() * span as f64 * 0.5) as i64;
                let limit = if rng.chance(0.5) { Some(1 + (rng.uniform() * 3000.0) as u32) } else { None };
                let from = if limit.is_some() && rng.chance(0.5) { i64::MIN } else { a };
                let want = t.store.bars(&symbol, info.resolution, from, b, limit).await.unwrap();
                let got = blocks.read(&*t.store, &symbol, &info, from, b, limit).await.unwrap();
                assert_eq!(got, want, "{symbol} {} from {from} to {b} limit {limit:?}", info.resolution);
            }
            // whole series
            let all = blocks.read(&*t.store, &symbol, &info, i64::MIN, i64::MAX, None).await.unwrap();
            assert_eq!(all.len() as i64, info.count);
        }
    }
    // a write bumps the version: the cache cannot serve the replaced bar
    let symbol = Symbol::new("000858.SZ").unwrap();
    let info = t.store.series(&symbol).await.unwrap().into_iter().find(|s| s.resolution == Resolution::Day).unwrap();
    let before = blocks.read(&*t.store, &symbol, &info, i64::MIN, i64::MAX, Some(1)).await.unwrap();
    let mut fixed = before[0];
    fixed.close = fixed.low;
    t.store
        .import_bars(
            Resolution::Day,
            &[quantdesk_store::BarSeriesWrite { symbol: &symbol, bars: &[fixed], factors: &[], calendar: None }],
            &|_| {},
        )
        .await
        .unwrap();
    let info2 = t.store.series(&symbol).await.unwrap().into_iter().find(|s| s.resolution == Resolution::Day).unwrap();
    assert_ne!(info2.version, info.version);
    let after = blocks.read(&*t.store, &symbol, &info2, i64::MIN, i64::MAX, Some(1)).await.unwrap();
    assert_eq!(after[0], fixed);
}
