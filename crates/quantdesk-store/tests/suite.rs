//! The storage conformance suite: every test runs against SQLite, and against PostgreSQL when
//! `QUANTDESK_TEST_POSTGRES_URL` is set (CI sets it). Each PostgreSQL run uses a fresh schema.
//! Market data, then (at the end) financial statements, point-in-time factors and source calls.

mod support;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use quantdesk_core::financials::{FieldValue, resolve};
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Statement, StatementRow, Symbol};
use quantdesk_store::financials::{SourceCalls, SourceStatus};
use quantdesk_store::{BarSeriesWrite, ImportSummary, InstrumentQuery, MarketStore};
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

/// One committed import session of `symbol`'s daily bars and factors.
async fn import_once(store: &dyn MarketStore, symbol: &Symbol, bars: &[Bar], factors: &[AdjFactor]) -> ImportSummary {
    let mut session = store.begin_import(Resolution::Day).await.unwrap();
    session.write(&BarSeriesWrite { symbol, bars, factors, calendar: Some("SSE") }).await.unwrap();
    session.commit().await.unwrap()
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
async fn a_re_import_counts_only_the_bars_and_factors_it_changed() {
    each_backend(|store| async move {
        let s = sym("600036.SH");
        let bars = days(10);
        let factors = [AdjFactor { date: "2024-01-02".parse().unwrap(), factor: 1.5 }];
        let first = import_once(&*store, &s, &bars, &factors).await;
        assert_eq!((first.bars, first.bars_changed, first.factors_changed, first.instruments_created), (10, 10, 1, 1));
        // The same file again: every row read, none changed.
        let again = import_once(&*store, &s, &bars, &factors).await;
        assert_eq!((again.bars, again.bars_changed, again.factors_changed, again.instruments_created), (10, 0, 0, 0));
        // One close corrected, one volume corrected, one bar appended, the factor revised.
        let mut edited = bars.clone();
        edited[3].close += 0.01;
        edited[7].volume += 1.0;
        let mut extra = days(11);
        edited.push(extra.pop().unwrap());
        let revised = [AdjFactor { factor: 1.6, ..factors[0] }];
        let third = import_once(&*store, &s, &edited, &revised).await;
        assert_eq!((third.bars, third.bars_changed, third.factors_changed), (11, 3, 1));
        assert_eq!(store.bars(&s, Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap(), edited);
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

// --- Market data from real sources: statements, point-in-time factors, source calls. ---

fn date(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

/// An income row of `symbol` for `period`, with the revision keys given and one revenue figure.
fn income(
    symbol: &str,
    period: &str,
    ann: Option<&str>,
    f_ann: Option<&str>,
    flag: &str,
    revenue: f64,
) -> StatementRow {
    StatementRow {
        symbol: sym(symbol),
        statement: Statement::Income,
        period: date(period),
        ann_date: ann.map(date),
        f_ann_date: f_ann.map(date),
        report_type: "1".into(),
        end_type: "4".into(),
        update_flag: flag.into(),
        fields: BTreeMap::from([("revenue".to_string(), FieldValue::Number(revenue))]),
    }
}

#[tokio::test]
async fn statements_round_trip_every_field_kind_and_keep_revisions() {
    each_backend(|store| async move {
        let mut first = income("600519.SH", "2022-12-31", Some("2023-03-31"), Some("2023-03-31"), "0", 1.0);
        first.fields.extend([
            ("n_income".to_string(), FieldValue::Number(-0.1 - 0.2)),
            ("big".to_string(), FieldValue::Number(1.234_567_890_123_456_7e300)),
            ("ts_code".to_string(), FieldValue::Text("600519.SH".into())),
            ("comp_type".to_string(), FieldValue::Text("1".into())),
            ("note".to_string(), FieldValue::Text("贵州茅台 \"quoted\"\n\\".into())),
            ("empty".to_string(), FieldValue::Text(String::new())),
            ("missing".to_string(), FieldValue::Null),
        ]);
        // A revision of the same period: another update_flag, announced later.
        let revision = income("600519.SH", "2022-12-31", Some("2023-03-31"), Some("2023-04-20"), "1", 2.0);
        // A row without announcement dates (a daily table): known on its period.
        let mut daily = income("600519.SH", "2023-06-30", None, None, "", 3.0);
        daily.report_type.clear();
        daily.end_type.clear();
        let other = income("000001.SZ", "2022-12-31", Some("2023-03-09"), None, "1", 4.0);
        let rows = vec![daily.clone(), revision.clone(), first.clone(), other.clone()];
        assert_eq!(store.write_statements(&rows).await.unwrap(), 4);

        let got = store.statement_rows(&sym("600519.SH"), Statement::Income, None).await.unwrap();
        assert_eq!(got, vec![first.clone(), revision.clone(), daily.clone()], "by period, ann_date, f_ann_date");
        assert!(store.statement_rows(&sym("600519.SH"), Statement::BalanceSheet, None).await.unwrap().is_empty());
        assert_eq!(store.statement_rows(&sym("000001.SZ"), Statement::Income, None).await.unwrap(), vec![other]);

        // as_of filters on known_on: f_ann_date, else ann_date, else the period.
        let seen = |d: &str| {
            let store = store.clone();
            let d = date(d);
            async move { store.statement_rows(&sym("600519.SH"), Statement::Income, Some(d)).await.unwrap() }
        };
        assert!(seen("2023-03-30").await.is_empty());
        assert_eq!(seen("2023-03-31").await, vec![first.clone()]);
        assert_eq!(seen("2023-04-20").await, vec![first.clone(), revision.clone()]);
        assert_eq!(seen("2023-06-30").await.len(), 3);

        let cov = store.statement_coverage(None).await.unwrap();
        assert_eq!(
            cov.iter().map(|c| (c.symbol.to_string(), c.statement, c.rows, c.periods)).collect::<Vec<_>>(),
            vec![
                ("000001.SZ".to_string(), Statement::Income, 1, 1),
                ("600519.SH".to_string(), Statement::Income, 3, 2)
            ]
        );
        assert_eq!((cov[1].first_period, cov[1].last_period), (date("2022-12-31"), date("2023-06-30")));
        let one = store.statement_coverage(Some(&sym("000001.SZ"))).await.unwrap();
        assert_eq!(one, cov[..1].to_vec());
        assert!(store.statement_coverage(Some(&sym("600000.SH"))).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn rewriting_a_statement_key_replaces_it() {
    each_backend(|store| async move {
        let s = sym("600519.SH");
        let with_dates = income("600519.SH", "2022-12-31", Some("2023-03-31"), Some("2023-03-31"), "1", 1.0);
        let mut without = income("600519.SH", "2023-01-05", None, None, "", 5.0);
        without.statement = Statement::Income;
        // A re-sync writes the same rows again: nothing doubles, missing dates included.
        for _ in 0..2 {
            store.write_statements(&[with_dates.clone(), without.clone()]).await.unwrap();
        }
        assert_eq!(store.statement_rows(&s, Statement::Income, None).await.unwrap().len(), 2);
        // The source corrected a figure under the same key: the fields are replaced.
        let mut fixed = with_dates.clone();
        fixed.fields.insert("revenue".into(), FieldValue::Number(1.5));
        fixed.fields.insert("added".into(), FieldValue::Text("x".into()));
        let mut fixed_daily = without.clone();
        fixed_daily.fields.clear();
        store.write_statements(&[fixed.clone(), fixed_daily.clone()]).await.unwrap();
        assert_eq!(store.statement_rows(&s, Statement::Income, None).await.unwrap(), vec![fixed.clone(), fixed_daily]);
        // The same key twice in one batch: the later row wins.
        let mut last = fixed.clone();
        last.fields.insert("revenue".into(), FieldValue::Number(7.0));
        store.write_statements(&[fixed, last.clone()]).await.unwrap();
        assert_eq!(store.statement_rows(&s, Statement::Income, None).await.unwrap()[0], last);
        // An empty batch is fine.
        assert_eq!(store.write_statements(&[]).await.unwrap(), 0);
    })
    .await;
}

/// The suite's check that a batch is all or none: a trigger (installed by the test, not the
/// product) refuses rows of period 1999-12-31, so the batch fails after earlier rows were written.
async fn a_failing_row_leaves_nothing(store: std::sync::Arc<dyn quantdesk_store::Store>) {
    let kept = income("600519.SH", "2021-12-31", Some("2022-03-31"), None, "1", 1.0);
    store.write_statements(std::slice::from_ref(&kept)).await.unwrap();
    let mut changed = kept.clone();
    changed.fields.insert("revenue".into(), FieldValue::Number(99.0));
    let batch = vec![
        changed,
        income("600519.SH", "2022-12-31", Some("2023-03-31"), None, "1", 2.0),
        income("600519.SH", "1999-12-31", Some("2000-03-31"), None, "1", 3.0),
        income("600519.SH", "2023-12-31", Some("2024-03-31"), None, "1", 4.0),
    ];
    let err = store.write_statements(&batch).await.unwrap_err().to_string();
    assert!(err.contains("refused by the test"), "{err}");
    assert_eq!(store.statement_rows(&sym("600519.SH"), Statement::Income, None).await.unwrap(), vec![kept]);
}

#[tokio::test]
async fn a_statement_batch_is_all_or_none() {
    let (store, dir) = support::sqlite().await;
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_1999 BEFORE INSERT ON statements WHEN NEW.period = '1999-12-31' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    a_failing_row_leaves_nothing(store).await;

    if let Some(url) = support::postgres_url() {
        let (store, schema) = support::postgres(&url).await;
        let opts = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = sqlx::PgPool::connect_with(opts).await.unwrap();
        sqlx::query(
            "CREATE FUNCTION refuse_1999() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.period = DATE '1999-12-31' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_1999 BEFORE INSERT ON statements FOR EACH ROW EXECUTE FUNCTION refuse_1999()",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        a_failing_row_leaves_nothing(store.clone()).await;
        drop(store);
        support::drop_schema(&url, &schema).await;
    }
}

#[tokio::test]
async fn a_later_restatement_does_not_change_an_earlier_view() {
    each_backend(|store| async move {
        let s = sym("600519.SH");
        let original = income("600519.SH", "2022-12-31", Some("2023-03-31"), Some("2023-03-31"), "1", 100.0);
        let q3 = income("600519.SH", "2022-09-30", Some("2022-10-28"), Some("2022-10-28"), "1", 70.0);
        store.write_statements(&[original.clone(), q3.clone()]).await.unwrap();
        let view = |d: &str| {
            let (store, s, d) = (store.clone(), s.clone(), date(d));
            async move { resolve(&store.statement_rows(&s, Statement::Income, Some(d)).await.unwrap(), Some(d)) }
        };
        let before = view("2023-06-30").await;
        assert_eq!(before, vec![q3.clone(), original.clone()]);

        // A year later the source restates 2022: same ann_date, later f_ann_date, now the current
        // row; a re-sync also brings the original again with update_flag 0 (another key: the
        // flag-1 row stored earlier stays).
        let mut superseded = original.clone();
        superseded.update_flag = "0".into();
        let restated = income("600519.SH", "2022-12-31", Some("2023-03-31"), Some("2024-04-15"), "1", 90.0);
        store.write_statements(&[superseded.clone(), restated.clone()]).await.unwrap();

        // Read on an earlier day: the restatement is not known yet, the original counts.
        let again = view("2023-06-30").await;
        assert_eq!(again.iter().map(|r| r.number("revenue")).collect::<Vec<_>>(), vec![Some(70.0), Some(100.0)]);
        assert_eq!(view("2024-04-14").await[1].number("revenue"), Some(100.0));
        // From its announcement on, the restatement wins.
        assert_eq!(view("2024-04-15").await[1], restated);
        assert_eq!(resolve(&store.statement_rows(&s, Statement::Income, None).await.unwrap(), None)[1], restated);
        assert!(view("2022-10-27").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn adjustment_factors_as_of_and_replaced_in_a_session() {
    each_backend(|store| async move {
        let s = sym("600519.SH");
        let f = |d: &str, x: f64| AdjFactor { date: date(d), factor: x };
        let old = [f("2020-01-02", 1.0), f("2021-06-30", 1.1), f("2022-06-30", 1.2)];
        import(&*store, &s, Resolution::Day, &days(3), &old).await;
        assert_eq!(store.adj_factors_as_of(&s, date("2021-06-30")).await.unwrap(), old[..2].to_vec());
        assert_eq!(store.adj_factors_as_of(&s, date("2021-06-29")).await.unwrap(), old[..1].to_vec());
        assert!(store.adj_factors_as_of(&s, date("2019-12-31")).await.unwrap().is_empty());
        assert_eq!(store.adj_factors_as_of(&s, date("2030-01-01")).await.unwrap(), old.to_vec());
        assert!(store.adj_factors_as_of(&sym("600000.SH"), date("2030-01-01")).await.unwrap().is_empty());

        // The source re-read the history after a corporate action: other dates, other values.
        let new = [f("2020-01-02", 1.0), f("2021-07-01", 1.15), f("2023-06-30", 1.3)];
        // A session dropped uncommitted leaves the old history, bars included.
        let mut session = store.begin_import(Resolution::Day).await.unwrap();
        session.write(&BarSeriesWrite { symbol: &s, bars: &days(5), factors: &[], calendar: None }).await.unwrap();
        session.replace_factors(&s, &new).await.unwrap();
        drop(session);
        assert_eq!(store.adj_factors(&s).await.unwrap(), old.to_vec());
        assert_eq!(store.bar_count().await.unwrap(), 3);

        // Committed: bars and the replaced history land together; other symbols keep theirs.
        let other = sym("000001.SZ");
        import(&*store, &other, Resolution::Day, &days(1), &old[..1]).await;
        let mut session = store.begin_import(Resolution::Day).await.unwrap();
        session.write(&BarSeriesWrite { symbol: &s, bars: &days(5), factors: &[], calendar: None }).await.unwrap();
        session.replace_factors(&s, &new).await.unwrap();
        let summary = session.commit().await.unwrap();
        assert_eq!(summary.factors, 3);
        // Two dates gone, two new; 2020-01-02 kept its value. Two of the five bars are new.
        assert_eq!((summary.factors_changed, summary.bars_changed), (4, 2));
        // The same history again changes nothing.
        let mut session = store.begin_import(Resolution::Day).await.unwrap();
        session.replace_factors(&s, &new).await.unwrap();
        assert_eq!(session.commit().await.unwrap().factors_changed, 0);
        assert_eq!(store.adj_factors(&s).await.unwrap(), new.to_vec());
        assert_eq!(store.adj_factors(&s).await.unwrap(), new.to_vec());
        assert_eq!(store.adj_factors(&other).await.unwrap(), old[..1].to_vec());
        assert_eq!(store.bar_count().await.unwrap(), 6);
        // Replacing with nothing clears the history.
        let mut session = store.begin_import(Resolution::Day).await.unwrap();
        session.replace_factors(&s, &[]).await.unwrap();
        session.commit().await.unwrap();
        assert!(store.adj_factors(&s).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn source_calls_add_up_per_day_and_status_shows_the_latest_outcomes() {
    each_backend(|store| async move {
        let (d1, d2) = (date("2024-05-01"), date("2024-05-02"));
        let report = |source: &str, day, calls, ok: Option<i64>, err: Option<(i64, &str)>| SourceCalls {
            source: source.into(),
            day,
            calls,
            last_success_ms: ok,
            last_error: err.map(|(at, m)| (at, m.to_string())),
        };
        assert!(store.source_status(d1).await.unwrap().is_empty());
        store.record_source_calls(&report("tushare", d1, 10, Some(1_000), None)).await.unwrap();
        store.record_source_calls(&report("tushare", d1, 5, None, Some((1_500, "rate limited")))).await.unwrap();
        store.record_source_calls(&report("tushare", d2, 3, Some(2_000), None)).await.unwrap();
        store.record_source_calls(&report("eastmoney", d1, 2, None, Some((900, "timeout")))).await.unwrap();
        // A late report with older outcomes adds its calls but does not hide newer outcomes.
        store.record_source_calls(&report("tushare", d1, 1, Some(500), Some((400, "old")))).await.unwrap();

        let status = store.source_status(d1).await.unwrap();
        assert_eq!(
            status,
            vec![
                SourceStatus {
                    source: "eastmoney".into(),
                    calls_today: 2,
                    last_success_ms: None,
                    last_error_ms: Some(900),
                    last_error: Some("timeout".into()),
                },
                SourceStatus {
                    source: "tushare".into(),
                    calls_today: 16,
                    last_success_ms: Some(2_000),
                    last_error_ms: Some(1_500),
                    last_error: Some("rate limited".into()),
                },
            ]
        );
        let status = store.source_status(d2).await.unwrap();
        assert_eq!(
            status.iter().map(|s| (s.source.as_str(), s.calls_today)).collect::<Vec<_>>(),
            [("eastmoney", 0), ("tushare", 3)]
        );
        // A day without calls still lists every source with its latest outcomes.
        let quiet = store.source_status(date("2024-06-01")).await.unwrap();
        assert_eq!(quiet[1].calls_today, 0);
        assert_eq!((quiet[1].last_success_ms, quiet[1].last_error_ms), (Some(2_000), Some(1_500)));
        // A newer failure on a later day replaces the message.
        store.record_source_calls(&report("tushare", d2, 1, None, Some((3_000, "quota")))).await.unwrap();
        let status = store.source_status(d2).await.unwrap();
        assert_eq!((status[1].calls_today, status[1].last_error.as_deref()), (4, Some("quota")));
    })
    .await;
}

#[tokio::test]
async fn instruments_keep_industry_area_controller_and_delisting() {
    each_backend(|store| async move {
        let mut a = Instrument::with_defaults(sym("600519.SH"), "贵州茅台", InstrumentKind::Stock);
        a.industry = "白酒".into();
        a.area = "贵州".into();
        a.controller = "贵州省人民政府国有资产监督管理委员会".into();
        let mut gone = Instrument::with_defaults(sym("600087.SH"), "退市长油", InstrumentKind::Stock);
        gone.list_date = Some(date("1997-06-12"));
        gone.delist_date = Some(date("2014-06-05"));
        gone.industry = "水运".into();
        store.upsert_instruments(&[a.clone(), gone.clone()]).await.unwrap();
        assert_eq!(store.instrument(&a.symbol).await.unwrap(), Some(a.clone()));
        assert_eq!(store.instrument(&gone.symbol).await.unwrap(), Some(gone.clone()));
        let listed = store.list_instruments(&InstrumentQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert!(listed.contains(&a) && listed.contains(&gone));
        // An update replaces them too.
        a.industry = "饮料制造".into();
        a.controller.clear();
        store.upsert_instruments(&[a.clone()]).await.unwrap();
        assert_eq!(store.instrument(&a.symbol).await.unwrap(), Some(a));
        // A bar import of a known (delisted) symbol leaves its master data alone.
        import(&*store, &gone.symbol, Resolution::Day, &days(2), &[]).await;
        assert_eq!(store.instrument(&gone.symbol).await.unwrap(), Some(gone));
    })
    .await;
}

#[tokio::test]
async fn the_latest_statement_row_per_symbol_in_one_read() {
    each_backend(|store| async move {
        let daily = |symbol: &str, period: &str, close: f64| {
            let mut r = income(symbol, period, None, None, "", close);
            r.statement = Statement::DailyBasic;
            r.report_type.clear();
            r.end_type.clear();
            r
        };
        let old = daily("600519.SH", "2025-05-16", 1.0);
        let latest = daily("600519.SH", "2025-05-19", 2.0);
        let other = daily("000001.SZ", "2025-05-16", 3.0);
        // Two revisions of one period: the later announcement wins.
        let first = income("600519.SH", "2024-12-31", Some("2025-03-30"), Some("2025-03-30"), "0", 4.0);
        let revised = income("600519.SH", "2024-12-31", Some("2025-03-30"), Some("2025-04-20"), "1", 5.0);
        let older_year = income("600519.SH", "2023-12-31", Some("2024-03-30"), None, "1", 6.0);
        store
            .write_statements(&[latest.clone(), old, other.clone(), revised.clone(), first, older_year])
            .await
            .unwrap();
        let got = store.latest_statement_per_symbol(Statement::DailyBasic).await.unwrap();
        assert_eq!(got, vec![other, latest], "one row per symbol, by symbol");
        assert_eq!(store.latest_statement_per_symbol(Statement::Income).await.unwrap(), vec![revised]);
        assert!(store.latest_statement_per_symbol(Statement::CashFlow).await.unwrap().is_empty());
    })
    .await;
}
