mod common;

use std::time::Duration;

use common::{TOKEN, d, fast, sse_composite, sym};
use quantdesk_connectors::fake::{FakeHandle, FakeTushare, Injection, TushareData, fixtures};
use quantdesk_connectors::{
    CalendarDay, Capability, DailyBar, ErrorKind, InstrumentRecord, Source, SourceSettings, Tushare,
};
use quantdesk_core::financials::FieldValue;
use quantdesk_core::{AdjFactor, Statement};

fn client(fake: &FakeHandle) -> Tushare {
    Tushare::new(fast(SourceSettings::tushare(Some(TOKEN.into())), fake.base_url())).unwrap()
}

fn small_bars() -> Vec<DailyBar> {
    (2..=6)
        .map(|i| DailyBar {
            date: d(&format!("2024-01-0{i}")),
            open: 10.0 + f64::from(i),
            high: 11.0 + f64::from(i),
            low: 9.0 + f64::from(i),
            close: 10.5 + f64::from(i),
            volume: 123_400.0 * f64::from(i),
            amount: (123_456_789.0 * f64::from(i)).round() / 100.0,
        })
        .collect()
}

async fn small_fake() -> FakeHandle {
    FakeTushare::start(TushareData::default().with_daily(sym("600519.SH"), small_bars())).await
}

#[tokio::test]
async fn daily_pages_across_the_row_cap_and_converts_units() {
    let Some(bars) = sse_composite() else { return };
    let n = bars.len();
    let fake = FakeTushare::start(
        TushareData::default().with_daily(sym("000001.SH"), bars.clone()).with_row_cap("daily", 1000),
    )
    .await;
    let ts = client(&fake).with_row_cap("daily", 1000);

    // The wire: newest first, in lots and thousands.
    let raw = ts.query("daily", &[("ts_code", "000001.SH".into())], "trade_date,vol,amount").await.unwrap();
    let newest = bars.last().unwrap();
    assert_eq!(raw.items.len(), 1000);
    assert!(raw.has_more);
    assert_eq!(raw.items[0][0], serde_json::json!(newest.date.format("%Y%m%d").to_string()));
    assert_eq!(raw.items[0][1].as_f64().unwrap(), newest.volume / 100.0);
    assert_eq!(raw.items[0][2].as_f64().unwrap(), newest.amount / 1000.0);
    fake.clear_log();

    let got = ts.daily(&sym("000001.SH"), d("2005-01-01"), d("2022-12-31")).await.unwrap();
    assert_eq!(got.len(), n, "every row exactly once");
    assert!(got.windows(2).all(|w| w[0].date < w[1].date), "ascending, no duplicates");
    for (a, b) in got.iter().zip(&bars) {
        assert_eq!(a, b, "unit conversion must give back shares and CNY exactly");
    }
    assert_eq!(fake.call_count("daily"), n.div_ceil(1000), "{:?}", fake.calls().len());
    // Each page ends the day before the oldest row of the previous one.
    let calls = fake.calls();
    let oldest_first_page = bars[n - 1000].date.pred_opt().unwrap();
    assert_eq!(calls[1].params["end_date"], oldest_first_page.format("%Y%m%d").to_string());
    assert!(calls.iter().all(|c| c.had_token && c.params["start_date"] == "20050101"));
}

#[tokio::test]
async fn adj_factor_pages_and_keeps_a_ten_for_ten_bonus() {
    let Some(bars) = sse_composite() else { return };
    let bonus = bars[2500].date;
    let factors: Vec<AdjFactor> =
        bars.iter().map(|b| AdjFactor { date: b.date, factor: if b.date < bonus { 1.0 } else { 2.0 } }).collect();
    let fake = FakeTushare::start(
        TushareData::default().with_factors(sym("600036.SH"), factors.clone()).with_row_cap("adj_factor", 1000),
    )
    .await;
    let ts = client(&fake).with_row_cap("adj_factor", 1000);
    let got = ts.factors(&sym("600036.SH"), bars[0].date, bars.last().unwrap().date).await.unwrap();
    assert_eq!(got, factors);
    let doublings: Vec<_> = got.windows(2).filter(|w| w[1].factor == 2.0 * w[0].factor).map(|w| w[1].date).collect();
    assert_eq!(doublings, vec![bonus]);
    assert_eq!(fake.call_count("adj_factor"), factors.len().div_ceil(1000));
    // A range that is exactly two pages: the second page reaches the start, so no third call.
    fake.clear_log();
    let last_2000 =
        ts.factors(&sym("600036.SH"), factors[factors.len() - 2000].date, bonus.max(d("2030-01-01"))).await.unwrap();
    assert_eq!(last_2000.len(), 2000);
    assert_eq!(fake.call_count("adj_factor"), 2);
}

#[tokio::test]
async fn whole_market_by_trade_date() {
    let bars = small_bars();
    let other: Vec<DailyBar> = bars.iter().map(|b| DailyBar { close: b.close * 2.0, ..*b }).collect();
    let fake = FakeTushare::start(
        TushareData::default()
            .with_daily(sym("600519.SH"), bars.clone())
            .with_daily(sym("000001.SZ"), other.clone())
            .with_factors(sym("000001.SZ"), vec![AdjFactor { date: d("2024-01-03"), factor: 108.031 }])
            .with_row_cap("daily", 1),
    )
    .await;
    let ts = client(&fake).with_row_cap("daily", 1);
    let day = ts.market_daily(d("2024-01-03")).await.unwrap();
    assert_eq!(day, vec![(sym("000001.SZ"), other[1]), (sym("600519.SH"), bars[1])]);
    assert_eq!(fake.call_count("daily"), 3, "two full pages of one row and an empty one, by offset");
    assert_eq!(fake.calls()[0].params["trade_date"], "20240103");
    assert_eq!(ts.market_factors(d("2024-01-03")).await.unwrap(), vec![(sym("000001.SZ"), 108.031)]);
    assert!(ts.market_factors(d("2024-01-04")).await.unwrap().is_empty());
}

#[tokio::test]
async fn vendor_codes_map_to_error_kinds() {
    let fake = small_fake().await;
    let ts = client(&fake);
    let s = sym("600519.SH");
    let (a, b) = (d("2024-01-01"), d("2024-01-31"));

    fake.inject("daily", Injection::Code { code: 2002, msg: "抱歉，您没有访问该接口的权限".into() });
    let e = ts.daily(&s, a, b).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoPermission);
    assert!(e.message.contains("2002"));

    fake.inject("daily", Injection::Code { code: 40101, msg: "您的token不对，请确认。".into() });
    assert_eq!(ts.daily(&s, a, b).await.unwrap_err().kind, ErrorKind::BadToken);

    fake.inject("daily", Injection::Code { code: -1, msg: "系统内部错误".into() });
    assert_eq!(ts.daily(&s, a, b).await.unwrap_err().kind, ErrorKind::Vendor);
    assert_eq!(ts.calls().requests, 3, "none of these is retried");

    // No token: refused before any call.
    let no_token = Tushare::new(fast(SourceSettings::tushare(None), fake.base_url())).unwrap();
    fake.clear_log();
    assert_eq!(no_token.daily(&s, a, b).await.unwrap_err().kind, ErrorKind::BadToken);
    assert_eq!(fake.total_calls(), 0);
    assert_eq!(no_token.calls().requests, 0);
    assert!(!no_token.has(Capability::Quote));
    assert_eq!(no_token.quote(&s).await.unwrap_err().kind, ErrorKind::Unsupported);
}

#[tokio::test]
async fn rate_limit_answers_are_retried() {
    let fake = small_fake().await;
    let ts = client(&fake);
    let s = sym("600519.SH");
    let msg = "抱歉，您每分钟最多访问该接口500次";
    fake.inject_n("daily", Injection::Code { code: 40203, msg: msg.into() }, 2);
    let got = ts.daily(&s, d("2024-01-01"), d("2024-01-31")).await.unwrap();
    assert_eq!(got, small_bars());
    assert_eq!(ts.calls().requests, 3);

    fake.inject_n("daily", Injection::Code { code: 40203, msg: msg.into() }, 10);
    let e = ts.daily(&s, d("2024-01-01"), d("2024-01-31")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert!(e.message.contains("每分钟"), "{e}");
    assert_eq!(ts.calls().requests, 3 + 4, "the first attempt and three retries");
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let fake = small_fake().await;
    let settings = fast(SourceSettings::tushare(Some(TOKEN.into())), fake.base_url())
        .with_timeout(Duration::from_millis(150))
        .with_retries(1, Duration::from_millis(5));
    let ts = Tushare::new(settings).unwrap();
    fake.inject_n("daily", Injection::Delay(Duration::from_millis(600)), 2);
    let e = ts.daily(&sym("600519.SH"), d("2024-01-01"), d("2024-01-31")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(ts.calls(), quantdesk_connectors::CallCounts { requests: 2, failures: 2 });
    // One slow answer, then a fast one: succeeds.
    fake.inject("daily", Injection::Delay(Duration::from_millis(600)));
    assert_eq!(ts.daily(&sym("600519.SH"), d("2024-01-01"), d("2024-01-31")).await.unwrap().len(), 5);
}

#[tokio::test]
async fn malformed_empty_and_server_errors() {
    let fake = small_fake().await;
    let ts = client(&fake);
    let s = sym("600519.SH");
    let (a, b) = (d("2024-01-01"), d("2024-01-31"));

    fake.inject("daily", Injection::Malformed);
    assert_eq!(ts.daily(&s, a, b).await.unwrap_err().kind, ErrorKind::Malformed);

    fake.inject("daily", Injection::Empty);
    assert_eq!(ts.daily(&s, a, b).await.unwrap(), vec![]);

    let before = ts.calls().requests;
    fake.inject("daily", Injection::Http(500));
    assert_eq!(ts.daily(&s, a, b).await.unwrap().len(), 5);
    assert_eq!(ts.calls().requests - before, 2);

    fake.inject_n("daily", Injection::Http(503), 4);
    assert_eq!(ts.daily(&s, a, b).await.unwrap_err().kind, ErrorKind::Unavailable);

    // A connection that fails outright is Unavailable too.
    let dead = Tushare::new(
        fast(SourceSettings::tushare(Some(TOKEN.into())), "http://127.0.0.1:9")
            .with_retries(1, Duration::from_millis(1)),
    )
    .unwrap();
    assert_eq!(dead.daily(&s, a, b).await.unwrap_err().kind, ErrorKind::Unavailable);
    assert_eq!(dead.calls().requests, 2);
}

#[tokio::test]
async fn statements_keep_every_revision_and_field() {
    let Some(dir) = fixtures::dir() else { return };
    let mut rows = fixtures::load_statement_csv(dir.join("cn/financials/600519.SH/income.csv"), Statement::Income);
    assert_eq!(rows.len(), 6);
    // A restatement of FY2021: the first row loses its flag, the revision has it.
    let fy2021 = rows.iter().position(|r| r.period == d("2021-12-31")).unwrap();
    let mut revision = rows[fy2021].clone();
    rows[fy2021].update_flag = "0".into();
    rows[fy2021].fields.insert("update_flag".into(), FieldValue::Text("0".into()));
    revision.f_ann_date = Some(d("2022-08-03"));
    revision.fields.insert("f_ann_date".into(), FieldValue::Text("20220803".into()));
    revision.fields.insert("revenue".into(), FieldValue::Number(1.0e11));
    rows.push(revision.clone());
    let basic =
        fixtures::load_statement_csv(dir.join("cn/financials/600519.SH/daily_basic.csv"), Statement::DailyBasic);

    let fake = FakeTushare::start(
        TushareData::default()
            .with_statement(sym("600519.SH"), Statement::Income, rows.clone())
            .with_statement(sym("600519.SH"), Statement::DailyBasic, basic)
            .with_row_cap("income", 2),
    )
    .await;
    let ts = client(&fake).with_row_cap("income", 2);
    let got = ts.statements(&sym("600519.SH"), Statement::Income, d("2017-01-01"), d("2022-12-31")).await.unwrap();
    assert_eq!(got.len(), 7, "{:?}", got.iter().map(|r| r.period).collect::<Vec<_>>());
    assert!(got.windows(2).all(|w| w[0].period <= w[1].period));
    let fy: Vec<_> = got.iter().filter(|r| r.period == d("2021-12-31")).collect();
    assert_eq!(fy.len(), 2, "both revisions of FY2021");
    assert_eq!(fy.iter().map(|r| r.update_flag.as_str()).collect::<Vec<_>>(), vec!["0", "1"]);
    assert_eq!(fy[1].number("revenue"), Some(1.0e11));
    assert_eq!(fy[1].f_ann_date, Some(d("2022-08-03")));
    let first = &got[0];
    assert_eq!(first.fields.get("ts_code"), Some(&FieldValue::Text("600519.SH".into())));
    assert_eq!(first.fields.get("end_date"), Some(&FieldValue::Text("20171231".into())));
    assert_eq!(first.report_type, "1");
    assert_eq!(first.ann_date, Some(d("2018-03-28")));
    assert_eq!(first.number("total_revenue"), Some(61062756866.16));
    assert!(first.fields.values().any(|v| *v == FieldValue::Null), "empty cells come through as null");
    assert!(fake.call_count("income") >= 4, "paged with a cap of 2");
    assert!(fake.calls().iter().all(|c| c.params.get("ts_code").map(String::as_str) == Some("600519.SH")));

    // A narrower range; daily_basic by trade date.
    let only = ts.statements(&sym("600519.SH"), Statement::Income, d("2019-01-01"), d("2019-12-31")).await.unwrap();
    assert_eq!(only.iter().map(|r| r.period).collect::<Vec<_>>(), vec![d("2019-12-31")]);
    let basic =
        ts.statements(&sym("600519.SH"), Statement::DailyBasic, d("2025-01-01"), d("2025-12-31")).await.unwrap();
    assert_eq!(basic.len(), 1);
    assert_eq!(basic[0].period, d("2025-05-19"));
    assert_eq!(basic[0].number("total_mv"), Some(198351120.2));
}

#[tokio::test]
async fn a_row_without_its_period_is_malformed() {
    let mut row = quantdesk_core::StatementRow {
        symbol: sym("600519.SH"),
        statement: Statement::CashFlow,
        period: d("2020-12-31"),
        ann_date: None,
        f_ann_date: None,
        report_type: "1".into(),
        end_type: "4".into(),
        update_flag: "1".into(),
        fields: Default::default(),
    };
    row.fields.insert("end_date".into(), FieldValue::Text("2020-13-45".into()));
    let fake =
        FakeTushare::start(TushareData::default().with_statement(sym("600519.SH"), Statement::CashFlow, vec![row]))
            .await;
    let e = client(&fake)
        .statements(&sym("600519.SH"), Statement::CashFlow, d("2020-01-01"), d("2020-12-31"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Malformed);
}

fn record(code: &str, name: &str, board: &str, exchange: &str, status: &str, delist: Option<&str>) -> InstrumentRecord {
    InstrumentRecord {
        symbol: sym(code),
        name: name.into(),
        abbrev: "ABC".into(),
        board: board.into(),
        exchange: exchange.into(),
        industry: "白酒".into(),
        area: "贵州".into(),
        controller: if board == "main" { "贵州省国资委".into() } else { String::new() },
        list_date: Some(d("2001-08-27")),
        delist_date: delist.map(d),
        list_status: status.into(),
    }
}

#[tokio::test]
async fn stock_basic_maps_every_list_status() {
    let records = vec![
        record("000003.SZ", "PT金田A", "main", "SZSE", "D", Some("2002-06-14")),
        record("300750.SZ", "宁德时代", "chinext", "SZSE", "L", None),
        record("430047.BJ", "诺思兰德", "bse", "BSE", "L", None),
        record("600519.SH", "贵州茅台", "main", "SSE", "L", None),
        record("600087.SH", "停牌样例", "main", "SSE", "P", None),
        record("688981.SH", "中芯国际", "star", "SSE", "L", None),
        record("689009.SH", "九号公司", "cdr", "SSE", "L", None),
    ];
    let fake = FakeTushare::start(TushareData { stock_basic: records.clone(), ..Default::default() }).await;
    let got = client(&fake).instruments().await.unwrap();
    let mut expected = records.clone();
    expected.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    assert_eq!(got, expected);
    let statuses: Vec<_> = fake.calls().iter().map(|c| c.params["list_status"].clone()).collect();
    assert_eq!(statuses, vec!["L", "D", "P"]);
    let delisted = got.iter().find(|r| r.list_status == "D").unwrap();
    assert_eq!(delisted.delist_date, Some(d("2002-06-14")));
}

#[tokio::test]
async fn trade_cal_comes_back_ascending() {
    let days: Vec<CalendarDay> = (1..=20)
        .map(|i| {
            let date = d("2024-01-01") + chrono::Days::new(i - 1);
            CalendarDay { date, open: !matches!(date.format("%a").to_string().as_str(), "Sat" | "Sun") && i != 1 }
        })
        .collect();
    let mut data = TushareData::default().with_row_cap("trade_cal", 7);
    data.trade_cal = days.iter().map(|c| ("SSE".to_string(), *c)).collect();
    data.trade_cal.push(("SZSE".into(), CalendarDay { date: d("2024-01-02"), open: false }));
    let fake = FakeTushare::start(data).await;
    let ts = client(&fake).with_row_cap("trade_cal", 7);
    let got = ts.calendar("SSE", d("2024-01-01"), d("2024-01-20")).await.unwrap();
    assert_eq!(got, days);
    assert!(!got[0].open && got[1].open);
    assert_eq!(fake.call_count("trade_cal"), 3);
    assert_eq!(fake.calls()[0].params["exchange"], "SSE");
}
