//! The sync service against the local TuShare fake (its real wire format) and a real store:
//! history and incremental syncs, the factor re-read, whole-market by-date syncs, every failure
//! leaving the database as it was with a clear reason, statements with revisions as of a date,
//! the master and the calendar, plans, CSV statement imports and the quality check.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use quantdesk_app::financials::{Period, import_path, statement};
use quantdesk_app::sync::{Sources, SyncRequest, SyncService, SyncWhat};
use quantdesk_connectors::fake::{FakeHandle, FakeTushare, Injection, TushareData, fixtures};
use quantdesk_connectors::{CalendarDay, DailyBar, InstrumentRecord, Source, SourceSettings, Tushare};
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{AdjFactor, Resolution, Statement, StatementRow, Symbol};
use quantdesk_store::Store;

const TOKEN: &str = "tok-sync-test-7781";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

async fn open_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("q.db").display());
    (quantdesk_store::open(&url, 4).await.unwrap(), dir)
}

fn sources(fake: &FakeHandle) -> Sources {
    let settings = SourceSettings::tushare(Some(TOKEN.into()))
        .with_base_url(fake.base_url())
        .with_calls_per_minute(0)
        .with_timeout(Duration::from_millis(400))
        .with_retries(2, Duration::from_millis(2));
    Sources::new(vec![Arc::new(Tushare::new(settings).unwrap()) as Arc<dyn Source>])
}

fn bars_request(symbols: &[&str], start: Option<&str>) -> SyncRequest {
    SyncRequest {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        start: start.map(d),
        ..SyncRequest::new(SyncWhat::Bars)
    }
}

/// Weekdays from `from` to `to`, a random-walk-free ramp of prices (easy to check by hand).
fn weekdays(from: &str, to: &str, price: f64) -> Vec<DailyBar> {
    let (mut day, end) = (d(from), d(to));
    let mut out = Vec::new();
    while day <= end {
        if chrono::Datelike::weekday(&day).number_from_monday() <= 5 {
            let p = price + out.len() as f64 * 0.01;
            out.push(DailyBar {
                date: day,
                open: p,
                high: p + 0.1,
                low: p - 0.1,
                close: p + 0.05,
                volume: 1_000_000.0 + out.len() as f64 * 100.0,
                amount: (p * 1_000_000.0).round(),
            });
        }
        day = day.succ_opt().unwrap();
    }
    out
}

async fn stored(store: &dyn Store, symbol: &str) -> Vec<quantdesk_core::Bar> {
    store.bars(&sym(symbol), Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap()
}

fn noop(_: f64, _: &str) {}

#[tokio::test]
async fn a_history_sync_lands_every_bar_and_an_incremental_one_continues_after_the_last() {
    let Some(dir) = fixtures::dir() else { return };
    let all = fixtures::load_daily_csv(dir.join("cn/sh000001_1d.csv"));
    let cut = d("2020-12-31");
    let first_part: Vec<DailyBar> = all.iter().copied().filter(|b| b.date <= cut).collect();
    let (store, _dir) = open_store().await;

    let fake = FakeTushare::start(TushareData::default().with_daily(sym("000001.SH"), first_part.clone())).await;
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2022-05-01"));
    let report = service.run(&bars_request(&["000001.SH"], Some("2005-01-01")), &noop).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.landed, vec!["000001.SH"]);
    assert_eq!(report.bars, first_part.len() as u64);
    let got = stored(&*store, "000001.SH").await;
    assert_eq!(got.len(), first_part.len());
    // Volumes went out in lots (÷100) and came back in shares.
    for (g, want) in got.iter().zip(&first_part) {
        assert!((g.volume - want.volume).abs() <= want.volume * 1e-12, "{g:?} vs {want:?}");
        assert_eq!(g.close, want.close);
    }
    // The calendar learned the index's trading days.
    assert_eq!(store.trading_days("SSE", d("2005-01-01"), cut).await.unwrap().len(), first_part.len());

    // The next evening: the vendor has more; a sync without --start asks only for what follows.
    let fake2 = FakeTushare::start(TushareData::default().with_daily(sym("000001.SH"), all.clone())).await;
    let srcs2 = sources(&fake2);
    let service2 = SyncService::new(&*store, &srcs2, d("2022-05-01"));
    let report = service2.run(&bars_request(&["000001.SH"], None), &noop).await.unwrap();
    assert_eq!(report.bars, (all.len() - first_part.len()) as u64);
    let daily_calls: Vec<_> = fake2.calls().into_iter().filter(|c| c.api == "daily").collect();
    assert_eq!(daily_calls[0].params.get("start_date").map(String::as_str), Some("20210101"));
    assert_eq!(stored(&*store, "000001.SH").await.len(), all.len());

    // Once more: nothing new, nothing written.
    let report = service2.run(&bars_request(&["000001.SH"], None), &noop).await.unwrap();
    assert_eq!((report.bars, report.up_to_date.clone()), (0, vec!["000001.SH".to_string()]));
}

#[tokio::test]
async fn a_new_factor_rereads_the_factor_history_so_qfq_stays_right() {
    let (store, _dir) = open_store().await;
    let s = sym("600010.SH");
    let before = weekdays("2023-01-02", "2023-06-30", 10.0);
    let fake = FakeTushare::start(
        TushareData::default()
            .with_daily(s.clone(), before.clone())
            .with_factors(s.clone(), before.iter().map(|b| AdjFactor { date: b.date, factor: 1.0 }).collect()),
    )
    .await;
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2023-06-30"));
    let r = service.run(&bars_request(&["600010.SH"], Some("2023-01-01")), &noop).await.unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    // Only the change points are kept: one factor for half a year.
    assert_eq!(store.adj_factors(&s).await.unwrap(), vec![AdjFactor { date: d("2023-01-02"), factor: 1.0 }]);

    // A ten-for-ten bonus issue on 2023-09-01: prices halve, the cumulative factor doubles. The
    // vendor also revised an older factor (as vendors do when they rebase), which only a
    // re-read of the whole history picks up.
    let mut after = weekdays("2023-01-02", "2023-12-29", 10.0);
    for b in after.iter_mut().filter(|b| b.date >= d("2023-09-01")) {
        b.open /= 2.0;
        b.high /= 2.0;
        b.low /= 2.0;
        b.close /= 2.0;
    }
    let factors: Vec<AdjFactor> = after
        .iter()
        .map(|b| AdjFactor {
            date: b.date,
            factor: if b.date >= d("2023-09-01") {
                2.0
            } else if b.date >= d("2023-03-01") {
                1.001
            } else {
                1.0
            },
        })
        .collect();
    let fake2 = FakeTushare::start(
        TushareData::default().with_daily(s.clone(), after.clone()).with_factors(s.clone(), factors),
    )
    .await;
    let srcs2 = sources(&fake2);
    let service2 = SyncService::new(&*store, &srcs2, d("2023-12-29"));
    let r = service2.run(&bars_request(&["600010.SH"], None), &noop).await.unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.factor_rereads, 1);
    assert_eq!(
        store.adj_factors(&s).await.unwrap(),
        vec![
            AdjFactor { date: d("2023-01-02"), factor: 1.0 },
            AdjFactor { date: d("2023-03-01"), factor: 1.001 },
            AdjFactor { date: d("2023-09-01"), factor: 2.0 },
        ]
    );
    let rereads: Vec<_> = fake2
        .calls()
        .into_iter()
        .filter(|c| c.api == "adj_factor" && c.params.get("start_date").map(String::as_str) == Some("20050101"))
        .collect();
    assert!(!rereads.is_empty(), "the whole factor history was asked for");
    // qfq through the application's reader: the day before the ex-date is halved (×1/2), so the
    // chart shows no false gap.
    let inst = store.instrument(&s).await.unwrap().unwrap();
    let series = store.series(&s).await.unwrap();
    let req = quantdesk_app::market::BarRequest {
        resolution: Resolution::Day,
        adjustment: quantdesk_core::Adjustment::Qfq,
        from: i64::MIN,
        to: i64::MAX,
        countback: None,
    };
    let source = quantdesk_app::market::BarSource { store: &*store, blocks: None };
    let qfq = quantdesk_app::market::read_bars(source, &inst, &series, &req).await.unwrap().bars;
    let day = |date: &str| d(date).and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let eve = qfq.iter().find(|b| b.time == day("2023-08-31")).unwrap();
    let raw_eve = after.iter().find(|b| b.date == d("2023-08-31")).unwrap();
    assert!((eve.close - raw_eve.close * 1.001 / 2.0).abs() < 1e-9, "{} vs {}", eve.close, raw_eve.close);
}

/// Every way a call can fail leaves the database exactly as it was, and says why.
#[tokio::test]
async fn each_failure_leaves_the_database_unchanged_with_a_clear_reason() {
    let (store, _dir) = open_store().await;
    let s = sym("600011.SH");
    let bars = weekdays("2024-01-01", "2024-03-29", 20.0);
    let data = TushareData::default()
        .with_daily(s.clone(), bars.clone())
        .with_factors(s.clone(), vec![AdjFactor { date: d("2024-01-01"), factor: 1.0 }]);
    let cases: Vec<(&str, Injection, usize, &str, &str)> = vec![
        (
            "daily",
            Injection::Code { code: 2002, msg: "抱歉，您没有访问该接口的权限".into() },
            1,
            "no_permission",
            "权限",
        ),
        ("daily", Injection::Code { code: 40101, msg: "token不对".into() }, 1, "bad_token", "token"),
        ("daily", Injection::Code { code: 40203, msg: "每分钟最多访问该接口200次".into() }, 5, "rate_limited", "200"),
        ("daily", Injection::Http(500), 5, "unavailable", "500"),
        ("daily", Injection::Malformed, 1, "malformed", ""),
        ("daily", Injection::Delay(Duration::from_secs(2)), 5, "timeout", ""),
        // Bars arrive, then the factors fail: the symbol must not be half written.
        ("adj_factor", Injection::Http(503), 5, "unavailable", "503"),
    ];
    for (api, injection, times, code, words) in cases {
        let fake = FakeTushare::start(data.clone()).await;
        fake.inject_n(api, injection.clone(), times);
        let srcs = sources(&fake);
        let service = SyncService::new(&*store, &srcs, d("2024-03-29"));
        let r = service.run(&bars_request(&["600011.SH"], Some("2024-01-01")), &noop).await.unwrap();
        assert_eq!(r.failed.len(), 1, "{injection:?}: {r:?}");
        let f = &r.failed[0];
        assert_eq!((f.symbol.as_str(), f.code.as_str()), ("600011.SH", code), "{injection:?}: {f:?}");
        assert!(f.message.contains(words), "{injection:?}: {:?} should say {words:?}", f.message);
        assert!(!f.message.contains(TOKEN), "the token never shows");
        assert!(r.landed.is_empty());
        assert_eq!(store.bar_count().await.unwrap(), 0, "{injection:?} wrote bars");
        assert!(store.adj_factors(&s).await.unwrap().is_empty(), "{injection:?} wrote factors");
    }
    // The failures are on record for the sources page, without the token.
    let status = store.source_status(d("2024-03-29")).await.unwrap();
    let ts = status.iter().find(|s| s.source == "tushare").unwrap();
    assert!(ts.calls_today > 0 && ts.last_error.is_some());
    assert!(!ts.last_error.as_deref().unwrap().contains(TOKEN));

    // An HTTP 500 and then a success: the retry lands it.
    let fake = FakeTushare::start(data.clone()).await;
    fake.inject("daily", Injection::Http(500));
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2024-03-29"));
    let r = service.run(&bars_request(&["600011.SH"], Some("2024-01-01")), &noop).await.unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(stored(&*store, "600011.SH").await.len(), bars.len());
    assert!(r.requests >= 3, "daily twice and adj_factor once: {}", r.requests);

    // An empty answer is no data, not an error.
    let fake = FakeTushare::start(data.clone()).await;
    fake.inject("daily", Injection::Empty);
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2024-03-29"));
    let r = service.run(&bars_request(&["600011.SH"], None), &noop).await.unwrap();
    assert!(r.failed.is_empty());
    assert_eq!(stored(&*store, "600011.SH").await.len(), bars.len());
}

#[tokio::test]
async fn one_failing_symbol_does_not_stop_the_others() {
    let (store, _dir) = open_store().await;
    let good = weekdays("2024-01-01", "2024-02-29", 5.0);
    let fake = FakeTushare::start(
        TushareData::default().with_daily(sym("600012.SH"), good.clone()).with_daily(sym("000012.SZ"), good.clone()),
    )
    .await;
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2024-02-29"));
    // 600013.SH is unknown to the vendor: no rows, up to date (TuShare answers nothing, not an error).
    let mut req = bars_request(&["600012.SH", "000012.SZ", "600013.SH"], Some("2024-01-01"));
    fake.inject("daily", Injection::Malformed);
    let r = service.run(&req, &noop).await.unwrap();
    assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
    assert_eq!(r.landed.len(), 1);
    assert!(r.up_to_date.contains(&"600013.SH".to_string()));
    let landed = &r.landed[0];
    assert_eq!(stored(&*store, landed).await.len(), good.len());
    // A bare code is refused before anything runs.
    req.symbols = vec!["600012".into()];
    let e = service.run(&req, &noop).await.unwrap_err();
    assert!(e.message().contains("600012.SH"), "{e}");
}

#[tokio::test]
async fn the_evening_sync_asks_by_trading_date_when_that_is_fewer_calls() {
    let (store, _dir) = open_store().await;
    let symbols: Vec<String> = (0..12).map(|i| format!("6001{i:02}.SH")).collect();
    let history = weekdays("2024-01-01", "2024-03-28", 8.0);
    let full = weekdays("2024-01-01", "2024-03-29", 8.0);
    let mut data = TushareData::default();
    for s in &symbols {
        data = data.with_daily(sym(s), history.clone());
    }
    let fake = FakeTushare::start(data).await;
    let srcs = sources(&fake);
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    SyncService::new(&*store, &srcs, d("2024-03-28"))
        .run(&bars_request(&refs, Some("2024-01-01")), &noop)
        .await
        .unwrap();

    let mut data = TushareData::default();
    for (i, s) in symbols.iter().enumerate() {
        let mut bars = full.clone();
        bars.last_mut().unwrap().close += i as f64 * 0.001;
        data = data
            .with_daily(sym(s), bars)
            .with_factors(sym(s), full.iter().map(|b| AdjFactor { date: b.date, factor: 1.0 }).collect());
    }
    let fake2 = FakeTushare::start(data).await;
    let srcs2 = sources(&fake2);
    let service = SyncService::new(&*store, &srcs2, d("2024-03-29"));
    let plan = service.plan(&SyncRequest { all: true, ..SyncRequest::new(SyncWhat::Bars) }).await.unwrap();
    assert_eq!((plan.mode.as_str(), plan.calls, plan.symbols), ("by_date", 2, 12));
    let r = service.run(&SyncRequest { all: true, ..SyncRequest::new(SyncWhat::Bars) }, &noop).await.unwrap();
    assert_eq!(r.mode.as_deref(), Some("by_date"));
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.landed.len(), 12);
    assert_eq!(fake2.total_calls(), 2, "one daily and one adj_factor call for the whole market: {:?}", fake2.calls());
    assert!(fake2.calls().iter().all(|c| c.params.get("trade_date").map(String::as_str) == Some("20240329")));
    for (i, s) in symbols.iter().enumerate() {
        let got = stored(&*store, s).await;
        assert_eq!(got.len(), full.len());
        assert!((got.last().unwrap().close - (full.last().unwrap().close + i as f64 * 0.001)).abs() < 1e-9);
    }
}

fn income_row(period: &str, ann: &str, f_ann: &str, flag: &str, revenue: f64) -> StatementRow {
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y%m%d").unwrap();
    StatementRow {
        symbol: sym("600519.SH"),
        statement: Statement::Income,
        period: date(period),
        ann_date: Some(date(ann)),
        f_ann_date: Some(date(f_ann)),
        report_type: "1".into(),
        end_type: "4".into(),
        update_flag: flag.into(),
        fields: BTreeMap::from([
            ("ts_code".to_string(), FieldValue::Text("600519.SH".into())),
            ("end_date".to_string(), FieldValue::Text(period.into())),
            ("ann_date".to_string(), FieldValue::Text(ann.into())),
            ("f_ann_date".to_string(), FieldValue::Text(f_ann.into())),
            ("report_type".to_string(), FieldValue::Text("1".into())),
            ("end_type".to_string(), FieldValue::Text("4".into())),
            ("update_flag".to_string(), FieldValue::Text(flag.into())),
            ("revenue".to_string(), FieldValue::Number(revenue)),
        ]),
    }
}

#[tokio::test]
async fn statements_keep_revisions_and_an_earlier_as_of_never_sees_a_later_restatement() {
    let (store, _dir) = open_store().await;
    let rows = vec![
        income_row("20211231", "20220330", "20220330", "0", 100.0),
        // Restated a year later: TuShare flags it current.
        income_row("20211231", "20220330", "20230415", "1", 90.0),
        income_row("20220630", "20220802", "20220802", "1", 60.0),
        income_row("20221231", "20230330", "20230330", "1", 120.0),
    ];
    let fake =
        FakeTushare::start(TushareData::default().with_statement(sym("600519.SH"), Statement::Income, rows.clone()))
            .await;
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2023-06-01"));
    let req =
        SyncRequest { symbols: vec!["600519.SH".into()], years: Some(3), ..SyncRequest::new(SyncWhat::Financials) };
    let r = service.run(&req, &noop).await.unwrap();
    assert_eq!(r.statement_rows, 4);
    assert_eq!(r.landed, vec!["600519.SH"]);

    let revenue = |v: &quantdesk_app::financials::StatementView| {
        v.rows.iter().map(|r| (r.period.to_string(), r.fields["revenue"].as_f64().unwrap())).collect::<Vec<_>>()
    };
    let now = statement(&*store, &sym("600519.SH"), Statement::Income, Period::Annual, None).await.unwrap();
    assert_eq!(revenue(&now), vec![("2021-12-31".into(), 90.0), ("2022-12-31".into(), 120.0)]);
    assert_eq!(now.rows[0].revisions, 2);
    let then =
        statement(&*store, &sym("600519.SH"), Statement::Income, Period::Annual, Some(d("2023-01-01"))).await.unwrap();
    assert_eq!(revenue(&then), vec![("2021-12-31".into(), 100.0)]);
    let quarterly = statement(&*store, &sym("600519.SH"), Statement::Income, Period::Quarterly, None).await.unwrap();
    assert_eq!(quarterly.rows.len(), 3);

    // Syncing again changes nothing (the same keys are replaced, not duplicated).
    service.run(&req, &noop).await.unwrap();
    assert_eq!(store.statement_rows(&sym("600519.SH"), Statement::Income, None).await.unwrap().len(), 4);
}

#[tokio::test]
async fn the_master_keeps_delisted_instruments_and_the_calendar_its_open_days() {
    let (store, _dir) = open_store().await;
    let record = |code: &str, name: &str, market: &str, delist: Option<&str>| InstrumentRecord {
        symbol: sym(code),
        name: name.into(),
        abbrev: "x".into(),
        board: market.into(),
        exchange: if code.ends_with(".SH") { "SSE".into() } else { "SZSE".into() },
        industry: "白酒".into(),
        area: "贵州".into(),
        controller: "贵州省国资委".into(),
        list_date: Some(d("2001-08-27")),
        delist_date: delist.map(d),
        list_status: if delist.is_some() { "D".into() } else { "L".into() },
    };
    let stock_basic =
        vec![record("600519.SH", "贵州茅台", "main", None), record("000003.SZ", "PT金田A", "main", Some("2002-06-14"))];
    let trade_cal = (1..=10)
        .map(|i| {
            let date = d("2024-01-01") + chrono::Days::new(i - 1);
            (
                "SSE".to_string(),
                CalendarDay { date, open: chrono::Datelike::weekday(&date).number_from_monday() <= 5 && i != 1 },
            )
        })
        .collect();
    let fake = FakeTushare::start(TushareData { stock_basic, trade_cal, ..TushareData::default() }).await;
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2024-01-10"));
    let r = service.run(&SyncRequest::new(SyncWhat::Instruments), &noop).await.unwrap();
    assert_eq!(r.instruments, 2);
    let gone = store.instrument(&sym("000003.SZ")).await.unwrap().unwrap();
    assert_eq!(gone.delist_date, Some(d("2002-06-14")));
    let mt = store.instrument(&sym("600519.SH")).await.unwrap().unwrap();
    assert_eq!((mt.industry.as_str(), mt.area.as_str(), mt.abbrev.as_str()), ("白酒", "贵州", "X"));

    let cal = SyncRequest {
        start: Some(d("2024-01-01")),
        end: Some(d("2024-01-10")),
        ..SyncRequest::new(SyncWhat::Calendar)
    };
    let r = service.run(&cal, &noop).await.unwrap();
    assert_eq!(r.calendar_days, 7);
    let days = store.trading_days("SSE", d("2024-01-01"), d("2024-01-10")).await.unwrap();
    assert_eq!(days.first(), Some(&d("2024-01-02")), "New Year's Day is closed");
    // The evening schedule does nothing on a closed day the calendar knows.
    let closed = SyncService::new(&*store, &srcs, d("2024-01-06"));
    let r =
        closed.run(&SyncRequest { only_trading_days: true, ..SyncRequest::new(SyncWhat::All) }, &noop).await.unwrap();
    assert!(r.skipped.is_some(), "{r:?}");
}

#[tokio::test]
async fn a_plan_counts_calls_and_the_time_the_rate_limit_takes() {
    let (store, _dir) = open_store().await;
    let fake = FakeTushare::start(TushareData::default()).await;
    let srcs = sources(&fake);
    let mut service = SyncService::new(&*store, &srcs, d("2024-12-31"));
    service.rate_limits.insert(quantdesk_connectors::SourceId::Tushare, 200);
    let symbols: Vec<String> = (0..300).map(|i| format!("600{i:03}.SH")).collect();
    let req = SyncRequest { symbols, start: Some(d("2005-01-01")), ..SyncRequest::new(SyncWhat::Bars) };
    let plan = service.plan(&req).await.unwrap();
    // 20 years of weekdays are about 5,200 rows: one page of 6,000 for daily and adj_factor each.
    assert_eq!((plan.mode.as_str(), plan.calls), ("per_symbol", 600));
    assert_eq!(plan.seconds, 180, "600 calls at 200 a minute");
    assert_eq!(plan.points_needed, Some(120));
    assert_eq!(fake.total_calls(), 0, "a plan fetches nothing");
}

#[tokio::test]
async fn statement_files_import_all_or_nothing() {
    let Some(dir) = fixtures::dir() else { return };
    let (store, _tmp) = open_store().await;
    let folder = dir.join("cn/financials/600519.SH");
    let r = import_path(&*store, &folder, None).await.unwrap();
    assert!(r.statement_rows >= 6, "{r:?}");
    assert_eq!(r.instruments, 1);
    let view = statement(&*store, &sym("600519.SH"), Statement::Income, Period::Annual, None).await.unwrap();
    let fy2017 = view.rows.iter().find(|r| r.period == d("2017-12-31")).unwrap();
    assert_eq!(fy2017.fields["revenue"].as_f64(), Some(58_217_861_314.17));
    let mt = store.instrument(&sym("600519.SH")).await.unwrap().unwrap();
    assert_eq!(mt.industry, "白酒");

    // A folder with one broken file writes nothing at all.
    let (store2, _tmp2) = open_store().await;
    let broken = tempfile::tempdir().unwrap();
    for f in ["income.csv", "cashflow.csv"] {
        std::fs::copy(folder.join(f), broken.path().join(f)).unwrap();
    }
    let mut bad = std::fs::read_to_string(folder.join("balancesheet.csv")).unwrap();
    bad = bad.replacen("20181231", "20181331", 1);
    std::fs::write(broken.path().join("balancesheet.csv"), bad).unwrap();
    let e = import_path(&*store2, broken.path(), None).await.unwrap_err();
    assert!(e.message().contains("balancesheet.csv") && e.message().contains("20181331"), "{e}");
    assert!(store2.statement_coverage(None).await.unwrap().is_empty(), "nothing landed");
}

#[tokio::test]
async fn the_quality_check_finds_a_planted_gap_in_a_synced_series() {
    let (store, _dir) = open_store().await;
    let mut bars = weekdays("2024-01-01", "2024-03-29", 10.0);
    let calendar: Vec<CalendarDay> = bars.iter().map(|b| CalendarDay { date: b.date, open: true }).collect();
    bars.retain(|b| !(d("2024-02-05")..=d("2024-02-07")).contains(&b.date));
    let mut data = TushareData::default().with_daily(sym("600020.SH"), bars);
    data.trade_cal = calendar.into_iter().map(|c| ("SSE".to_string(), c)).collect();
    let fake = FakeTushare::start(data).await;
    let srcs = sources(&fake);
    let service = SyncService::new(&*store, &srcs, d("2024-03-29"));
    let cal = SyncRequest {
        start: Some(d("2024-01-01")),
        end: Some(d("2024-03-29")),
        ..SyncRequest::new(SyncWhat::Calendar)
    };
    service.run(&cal, &noop).await.unwrap();
    service.run(&bars_request(&["600020.SH"], Some("2024-01-01")), &noop).await.unwrap();
    let report = quantdesk_app::quality::check(&*store, &[], d("2024-03-29"), &Default::default()).await.unwrap();
    let gaps: Vec<_> = report.findings.iter().filter(|f| f.kind.as_str() == "gap").collect();
    assert_eq!(gaps.len(), 1, "{:?}", report.findings);
    assert_eq!((gaps[0].date, gaps[0].count), (Some(d("2024-02-05")), 3));
    assert_eq!(report.findings.len(), 1, "nothing else: {:?}", report.findings);
}

fn eastmoney_sources(fake: &FakeHandle) -> Arc<dyn Source> {
    let settings = SourceSettings::eastmoney()
        .with_base_url(fake.base_url())
        .with_calls_per_minute(0)
        .with_timeout(Duration::from_millis(400))
        .with_retries(1, Duration::from_millis(2));
    Arc::new(quantdesk_connectors::Eastmoney::new(settings).unwrap())
}

fn yahoo_sources(fake: &FakeHandle) -> Arc<dyn Source> {
    let settings = SourceSettings::yahoo()
        .with_base_url(fake.base_url())
        .with_calls_per_minute(0)
        .with_timeout(Duration::from_millis(400))
        .with_retries(1, Duration::from_millis(2));
    Arc::new(quantdesk_connectors::Yahoo::new(settings).unwrap())
}

#[tokio::test]
async fn without_a_token_bars_come_from_eastmoney_or_yahoo_and_two_sources_can_be_compared() {
    use quantdesk_connectors::fake::{
        EastmoneyData, EastmoneySeries, FakeEastmoney, FakeYahoo, YahooData, YahooSeries,
    };
    let (store, _dir) = open_store().await;
    let s = sym("600031.SH");
    let bars = weekdays("2024-01-01", "2024-03-29", 30.0);
    let em = FakeEastmoney::start(EastmoneyData::default().with_series(
        s.clone(),
        EastmoneySeries {
            name: "三一重工".into(),
            bars: bars.clone(),
            factors: vec![AdjFactor { date: d("2024-01-01"), factor: 3.0 }],
            quote_time: 0,
        },
    ))
    .await;
    let mut drifted = bars.clone();
    drifted[10].close += 0.04;
    let yh = FakeYahoo::start(YahooData::default().with_series("600031.SS", YahooSeries::shanghai(drifted))).await;
    // The configured order: Eastmoney first, then Yahoo (no TuShare token).
    let srcs = Sources::new(vec![eastmoney_sources(&em), yahoo_sources(&yh)]);
    let service = SyncService::new(&*store, &srcs, d("2024-03-29"));
    let r = service.run(&bars_request(&["600031.SH"], Some("2024-01-01")), &noop).await.unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.sources, vec!["eastmoney"]);
    assert_eq!(stored(&*store, "600031.SH").await.len(), bars.len());
    assert_eq!(store.adj_factors(&s).await.unwrap().len(), 1, "the hfq/raw factor, as a change point");
    assert!(em.calls().iter().any(|c| c.params.get("secid").map(String::as_str) == Some("1.600031")));

    // Asked for Yahoo by name, the same bars come from Yahoo's chart API.
    let (store2, _dir2) = open_store().await;
    let service2 = SyncService::new(&*store2, &srcs, d("2024-03-29"));
    let req = SyncRequest { source: Some("yahoo".into()), ..bars_request(&["600031.SH"], Some("2024-01-01")) };
    let r = service2.run(&req, &noop).await.unwrap();
    assert_eq!((r.sources.clone(), r.bars), (vec!["yahoo".to_string()], bars.len() as u64), "{r:?}");
    // TuShare is not configured: asking for it says how to configure it.
    let req = SyncRequest { source: Some("tushare".into()), ..bars_request(&["600031.SH"], None) };
    let e = service2.run(&req, &noop).await.unwrap_err();
    assert!(e.message().contains("QUANTDESK_TUSHARE_TOKEN"), "{e}");

    // The drift between the two: one close differs, on the planted date.
    let cmp = quantdesk_app::quality::compare(
        &srcs,
        &s,
        quantdesk_connectors::SourceId::Eastmoney,
        quantdesk_connectors::SourceId::Yahoo,
        d("2024-01-01"),
        d("2024-03-29"),
    )
    .await
    .unwrap();
    let c = &cmp.comparison;
    assert_eq!(c.common_dates as usize, bars.len());
    let close = c.fields.iter().find(|f| format!("{:?}", f.field) == "Close").unwrap();
    assert_eq!((close.differing, close.max_date), (1, Some(bars[10].date)));
    let open = c.fields.iter().find(|f| format!("{:?}", f.field) == "Open").unwrap();
    assert_eq!(open.differing, 0);
}

#[tokio::test]
async fn a_live_quote_replaces_the_stored_close_only_when_newer() {
    use quantdesk_app::quotes::{QuoteService, stored_quote};
    use quantdesk_connectors::fake::{EastmoneyData, EastmoneySeries, FakeEastmoney};
    let s = sym("600032.SH");
    let bars = weekdays("2024-01-01", "2024-01-31", 12.0);
    let last = *bars.last().unwrap();
    let em = FakeEastmoney::start(EastmoneyData::default().with_series(
        s.clone(),
        EastmoneySeries { name: "x".into(), bars: bars.clone(), factors: vec![], quote_time: 0 },
    ))
    .await;
    let inst = quantdesk_core::Instrument::with_defaults(s.clone(), "x", quantdesk_core::InstrumentKind::Stock);
    let yesterday = quantdesk_app::sync::to_bar(&bars[bars.len() - 2]);
    let today = quantdesk_app::sync::to_bar(&last);
    let quotes = QuoteService::new(Sources::new(vec![eastmoney_sources(&em)]), true, 5);
    // The store is a day behind: the live quote (the last bar's day at 15:00) is newer.
    let q = quotes.freshest(&inst, Some((&yesterday, yesterday.open))).await.unwrap();
    assert_eq!(q.source, "eastmoney");
    assert!((q.price - last.close).abs() < 1e-9, "{q:?}");
    // Cached: a second ask within the TTL makes no call.
    let calls = em.total_calls();
    quotes.freshest(&inst, Some((&yesterday, yesterday.open))).await.unwrap();
    assert_eq!(em.total_calls(), calls);
    // The store has the same day: the stored bar wins the tie.
    let q = quotes.freshest(&inst, Some((&today, yesterday.close))).await.unwrap();
    assert_eq!(q, stored_quote(&inst, &today, yesterday.close));
    // Live quotes off: always the store, and no call.
    let off = QuoteService::new(Sources::new(vec![eastmoney_sources(&em)]), false, 5);
    let calls = em.total_calls();
    assert_eq!(off.freshest(&inst, Some((&yesterday, 1.0))).await.unwrap().source, "stored");
    assert_eq!(em.total_calls(), calls);
}

/// Yahoo's factors start at 1 on the first day asked for. An incremental sync compares the new
/// days with the vendor's value for the last stored day, so it re-reads the history only when a
/// dividend or split really happened.
#[tokio::test]
async fn span_relative_factors_are_reread_only_after_a_real_corporate_action() {
    use quantdesk_connectors::fake::{FakeYahoo, YahooData, YahooSeries};
    let (store, _dir) = open_store().await;
    let s = sym("GOOG");
    let all = weekdays("2024-01-01", "2024-06-28", 100.0);
    let yahoo = |until: &str, dividends: Vec<(NaiveDate, f64)>| {
        let bars: Vec<DailyBar> = all.iter().copied().filter(|b| b.date <= d(until)).collect();
        YahooData::default().with_series("GOOG", YahooSeries { dividends, ..YahooSeries::new_york(bars) })
    };
    let first_dividend = vec![(d("2024-02-01"), 1.0)];
    let fake = FakeYahoo::start(yahoo("2024-03-29", first_dividend.clone())).await;
    let srcs = Sources::new(vec![yahoo_sources(&fake)]);
    SyncService::new(&*store, &srcs, d("2024-03-29"))
        .run(&bars_request(&["GOOG"], Some("2024-01-01")), &noop)
        .await
        .unwrap();
    let history = store.adj_factors(&s).await.unwrap();
    assert_eq!(history.len(), 2, "1 from the start, then the dividend: {history:?}");

    // More days, no new event: nothing re-read, the factors stay.
    let fake = FakeYahoo::start(yahoo("2024-04-30", first_dividend.clone())).await;
    let srcs = Sources::new(vec![yahoo_sources(&fake)]);
    let r = SyncService::new(&*store, &srcs, d("2024-04-30")).run(&bars_request(&["GOOG"], None), &noop).await.unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!((r.factor_rereads, fake.call_count("chart")), (0, 2), "the bars and the factors of the new days");
    assert_eq!(store.adj_factors(&s).await.unwrap(), history);

    // A dividend in the new days: the whole history is re-read.
    let mut both = first_dividend;
    both.push((d("2024-05-15"), 2.0));
    let fake = FakeYahoo::start(yahoo("2024-06-28", both)).await;
    let srcs = Sources::new(vec![yahoo_sources(&fake)]);
    let r = SyncService::new(&*store, &srcs, d("2024-06-28")).run(&bars_request(&["GOOG"], None), &noop).await.unwrap();
    assert_eq!(r.factor_rereads, 1);
    let after = store.adj_factors(&s).await.unwrap();
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[..2], history[..], "the older factors keep their scale");
    assert_eq!(stored(&*store, "GOOG").await.len(), all.len());
}
