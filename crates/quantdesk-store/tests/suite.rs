//! The storage conformance suite: every test runs against SQLite, and against PostgreSQL when
//! `QUANTDESK_TEST_POSTGRES_URL` is set (CI sets it). Each PostgreSQL run uses a fresh schema.

mod support;

use chrono::NaiveDate;
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Symbol};
use quantdesk_store::{BarSeriesWrite, InstrumentQuery, MarketStore};
use support::each_backend;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn day(d: &str) -> i64 {
    d.parse::<NaiveDate>().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

fn bar(t: i64, c: f64) -> Bar {
    Bar { time: t, open: c, high: c + 1.0, low: c - 1.0, close: c, volume: 100.0, amount: 1000.0 }
}

fn days(n: usize) -> Vec<Bar> {
    (0..n).map(|i| bar(day("2024-01-01") + i as i64 * 86_400, 10.0 + i as f64)).collect()
}

async fn import(store: &dyn MarketStore, symbol: &Symbol, res: Resolution, bars: &[Bar], factors: &[AdjFactor]) {
    store.import_bars(res, &[BarSeriesWrite { symbol, bars, factors, calendar: None }], &|_| {}).await.unwrap();
}

#[tokio::test]
async fn instruments_roundtrip_and_search() {
    each_backend(|store| async move {
        let mut a = Instrument::with_defaults(sym("600519.SH"), "贵州茅台", InstrumentKind::Stock);
        a.abbrev = "GZMT".into();
        a.list_date = Some("2001-08-27".parse().unwrap());
        let mut b = Instrument::with_defaults(sym("000001.SZ"), "平安银行", InstrumentKind::Stock);
        b.abbrev = "PAYH".into();
        let mut c = Instrument::with_defaults(sym("000001.SH"), "上证指数", InstrumentKind::Index);
        c.abbrev = "SZZS".into();
        let d = Instrument::with_defaults(sym("AB_C"), "under_score", InstrumentKind::Other);
        assert_eq!(store.upsert_instruments(&[a.clone(), b.clone(), c.clone(), d]).await.unwrap(), 4);
        assert_eq!(store.instrument(&sym("600519.SH")).await.unwrap(), Some(a.clone()));
        assert_eq!(store.instrument(&sym("600000.SH")).await.unwrap(), None);

        let q = |text: &str| InstrumentQuery { text: Some(text.into()), limit: 10, ..Default::default() };
        let names = |v: Vec<Instrument>| v.into_iter().map(|i| i.symbol.to_string()).collect::<Vec<_>>();
        assert_eq!(names(store.list_instruments(&q("gzmt")).await.unwrap()), vec!["600519.SH"]);
        assert_eq!(names(store.list_instruments(&q("茅台")).await.unwrap()), vec!["600519.SH"]);
        // exact code ranks first, then prefixes
        assert_eq!(names(store.list_instruments(&q("000001.SZ")).await.unwrap()), vec!["000001.SZ"]);
        assert_eq!(names(store.list_instruments(&q("000001")).await.unwrap()), vec!["000001.SH", "000001.SZ"]);
        // LIKE wildcards in user text are literal
        assert_eq!(names(store.list_instruments(&q("_")).await.unwrap()), vec!["AB_C"]);
        assert_eq!(names(store.list_instruments(&q("%")).await.unwrap()), Vec::<String>::new());
        let idx = InstrumentQuery { kind: Some("index".into()), limit: 10, ..Default::default() };
        assert_eq!(names(store.list_instruments(&idx).await.unwrap()), vec!["000001.SH"]);
        assert_eq!(store.count_instruments(&InstrumentQuery::default()).await.unwrap(), 4);
        let listed =
            InstrumentQuery { listed_from: Some("2000-01-01".parse().unwrap()), limit: 10, ..Default::default() };
        assert_eq!(names(store.list_instruments(&listed).await.unwrap()), vec!["600519.SH"]);
        assert_eq!(store.count_instruments(&listed).await.unwrap(), 1);
        let before =
            InstrumentQuery { listed_to: Some("2000-01-01".parse().unwrap()), limit: 10, ..Default::default() };
        assert_eq!(
            store.count_instruments(&before).await.unwrap(),
            0,
            "instruments without a listing date do not match"
        );
        let page = InstrumentQuery { limit: 2, offset: 2, ..Default::default() };
        assert_eq!(store.list_instruments(&page).await.unwrap().len(), 2);

        // upsert replaces
        a.name = "茅台".into();
        store.upsert_instruments(&[a.clone()]).await.unwrap();
        assert_eq!(store.instrument(&a.symbol).await.unwrap().unwrap().name, "茅台");
    })
    .await;
}

#[tokio::test]
async fn bars_ranges_countback_and_series() {
    each_backend(|store| async move {
        let s = sym("600000.SH");
        let bars = days(10);
        import(&*store, &s, Resolution::Day, &bars, &[]).await;
        // to is exclusive
        let got = store.bars(&s, Resolution::Day, bars[2].time, bars[5].time, None).await.unwrap();
        assert_eq!(got, bars[2..5].to_vec());
        // countback takes the last n before `to`
        let got = store.bars(&s, Resolution::Day, i64::MIN, bars[5].time, Some(2)).await.unwrap();
        assert_eq!(got, bars[3..5].to_vec());
        assert_eq!(store.bar_before(&s, Resolution::Day, bars[0].time).await.unwrap(), None);
        assert_eq!(store.bar_before(&s, Resolution::Day, bars[3].time).await.unwrap(), Some(bars[2].time));
        assert!(store.bars(&s, Resolution::Minutes(1), i64::MIN, i64::MAX, None).await.unwrap().is_empty());
        let info = store.series(&s).await.unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(
            (info[0].resolution, info[0].first, info[0].last, info[0].count),
            (Resolution::Day, bars[0].time, bars[9].time, 10)
        );
        // the import created a default instrument
        let inst = store.instrument(&s).await.unwrap().unwrap();
        assert_eq!(inst.lot_size, 100);
        assert_eq!(store.bar_count().await.unwrap(), 10);
        assert_eq!(store.busiest_symbol().await.unwrap(), Some(s.clone()));
        let idx = sym("000300.SH");
        import(&*store, &idx, Resolution::Day, &bars[..2], &[]).await;
        assert_eq!(store.busiest_symbol().await.unwrap(), Some(idx), "an index comes first");
        // every write bumps the series version
        let v1 = info[0].version;
        import(&*store, &s, Resolution::Day, &bars[..1], &[]).await;
        assert!(store.series(&s).await.unwrap()[0].version > v1);
    })
    .await;
}

#[tokio::test]
async fn reimport_is_idempotent_and_corrections_replace() {
    each_backend(|store| async move {
        let s = sym("GOOG");
        let bars = days(5);
        let f = [AdjFactor { date: "2024-01-01".parse().unwrap(), factor: 1.0 }];
        import(&*store, &s, Resolution::Day, &bars, &f).await;
        import(&*store, &s, Resolution::Day, &bars, &f).await;
        assert_eq!(store.bar_count().await.unwrap(), 5);
        assert_eq!(store.adj_factors(&s).await.unwrap().len(), 1);
        let mut fixed = bars.clone();
        fixed[4].close = 13.5;
        import(&*store, &s, Resolution::Day, &fixed[4..], &[]).await;
        let got = store.bars(&s, Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(got[4].close, 13.5);
    })
    .await;
}

#[tokio::test]
async fn failed_import_writes_nothing() {
    each_backend(|store| async move {
        let good = days(5);
        let mut bad = days(5);
        bad[3].high = 0.0; // violates CHECK (high >= low) in the database itself
        let (a, b) = (sym("600001.SH"), sym("600002.SH"));
        let result = store
            .import_bars(
                Resolution::Day,
                &[
                    BarSeriesWrite { symbol: &a, bars: &good, factors: &[], calendar: None },
                    BarSeriesWrite { symbol: &b, bars: &bad, factors: &[], calendar: None },
                ],
                &|_| {},
            )
            .await;
        assert!(result.is_err());
        assert_eq!(store.bar_count().await.unwrap(), 0);
        assert!(store.bars(&a, Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap().is_empty());
        assert_eq!(store.instrument(&a).await.unwrap(), None, "the implicit instrument is rolled back too");
    })
    .await;
}

#[tokio::test]
async fn large_import_in_chunks_and_progress() {
    each_backend(|store| async move {
        let s = sym("BTC-USD");
        let bars: Vec<Bar> = (0..25_000).map(|i| bar(1_600_000_000 + i * 60, 100.0 + (i % 50) as f64)).collect();
        let seen = std::sync::atomic::AtomicU64::new(0);
        store
            .import_bars(
                Resolution::Minutes(1),
                &[BarSeriesWrite { symbol: &s, bars: &bars, factors: &[], calendar: None }],
                &|n| seen.store(n, std::sync::atomic::Ordering::Relaxed),
            )
            .await
            .unwrap();
        assert_eq!(seen.into_inner(), 25_000);
        let got = store.bars(&s, Resolution::Minutes(1), i64::MIN, i64::MAX, None).await.unwrap();
        assert_eq!(got, bars);
    })
    .await;
}

#[tokio::test]
async fn trading_calendar() {
    each_backend(|store| async move {
        let dates: Vec<NaiveDate> =
            ["2024-01-02", "2024-01-03", "2024-01-05"].iter().map(|d| d.parse().unwrap()).collect();
        assert_eq!(store.add_trading_days("SSE", &dates).await.unwrap(), 3);
        assert_eq!(store.add_trading_days("SSE", &dates).await.unwrap(), 0);
        let got =
            store.trading_days("SSE", "2024-01-03".parse().unwrap(), "2024-01-31".parse().unwrap()).await.unwrap();
        assert_eq!(got, dates[1..].to_vec());
        assert!(store.trading_days("SZSE", dates[0], dates[2]).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn ping_and_pool_stats() {
    each_backend(|store| async move {
        store.ping().await.unwrap();
        let stats = store.pool_stats();
        assert!(stats.max >= 1);
        assert!(stats.size <= stats.max);
    })
    .await;
}

#[tokio::test]
async fn import_sessions_stream_batches_and_roll_back_when_dropped() {
    each_backend(|store| async move {
        let s = sym("600036.SH");
        let bars = days(10);
        let (head, tail) = bars.split_at(5);
        let w = |b| BarSeriesWrite { symbol: &s, bars: b, factors: &[], calendar: Some("SSE") };
        // a session dropped before commit leaves nothing behind
        let mut session = store.begin_import(Resolution::Day).await.unwrap();
        session.write(&w(head)).await.unwrap();
        drop(session);
        assert_eq!(store.bar_count().await.unwrap(), 0);
        assert_eq!(store.instrument(&s).await.unwrap(), None);
        // the same symbol in several batches
        let mut session = store.begin_import(Resolution::Day).await.unwrap();
        session.write(&w(head)).await.unwrap();
        session.write(&w(tail)).await.unwrap();
        assert_eq!(session.written(), 10);
        let summary = session.commit().await.unwrap();
        assert_eq!((summary.symbols, summary.bars, summary.instruments_created), (1, 10, 1));
        let info = store.series(&s).await.unwrap();
        assert_eq!((info[0].first, info[0].last, info[0].count), (bars[0].time, bars[9].time, 10));
        assert_eq!(store.bars(&s, Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap(), bars);
    })
    .await;
}

#[tokio::test]
async fn an_older_binary_opens_a_database_a_newer_one_migrated() {
    // A newer release applied migration 99; this binary does not know it and must still start.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = quantdesk_store::SqliteStore::open(&url, 1).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99, 'from the future', 1, x'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.pool().close().await;
    let again = quantdesk_store::SqliteStore::open(&url, 1).await;
    assert!(again.is_ok(), "{:?}", again.err());
}
