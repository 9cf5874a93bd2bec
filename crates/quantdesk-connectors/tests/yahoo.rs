mod common;

use chrono::{DateTime, Timelike};
use common::{d, fast, sym};
use quantdesk_connectors::fake::{FakeYahoo, Injection, YahooData, YahooSeries, fixtures};
use quantdesk_connectors::{DailyBar, ErrorKind, Source, SourceSettings, Yahoo};

fn bar(date: &str, close: f64) -> DailyBar {
    DailyBar {
        date: d(date),
        open: close - 1.0,
        high: close + 1.0,
        low: close - 2.0,
        close,
        volume: 1000.0,
        amount: 0.0,
    }
}

#[tokio::test]
async fn shanghai_days_map_to_their_local_date_via_ss() {
    let bars = vec![
        bar("2024-01-02", 1700.0),
        bar("2024-01-03", 1710.0),
        bar("2024-01-04", 1690.0),
        bar("2024-01-05", 1720.0),
    ];
    let mut series = YahooSeries::shanghai(bars.clone());
    series.holes = vec![d("2024-01-04")];
    let stamp = series.stamp(d("2024-01-02"));
    let utc = DateTime::from_timestamp(stamp, 0).unwrap();
    assert_eq!((utc.date_naive(), utc.hour(), utc.minute()), (d("2024-01-02"), 1, 30), "the fake stamps 01:30 UTC");
    let fake = FakeYahoo::start(YahooData::default().with_series("600519.SS", series)).await;
    let y = Yahoo::new(fast(SourceSettings::yahoo(), fake.base_url())).unwrap();
    let got = y.daily(&sym("600519.SH"), d("2024-01-01"), d("2024-01-31")).await.unwrap();
    assert_eq!(got, vec![bars[0], bars[1], bars[3]], "the null day is skipped");
    let call = &fake.calls()[0];
    assert_eq!(call.params["symbol"], "600519.SS");
    assert_eq!(call.params["interval"], "1d");
    assert_eq!(call.params["events"], "div,splits");
    let q = y.quote(&sym("600519.SH")).await.unwrap();
    assert_eq!(q.price, 1720.0);
    assert_eq!(q.symbol, sym("600519.SH"));
}

#[tokio::test]
async fn us_days_at_1430_utc_keep_their_date() {
    let Some(dir) = fixtures::dir() else { return };
    let goog = fixtures::load_daily_csv(dir.join("us/goog_1d.csv"));
    assert_eq!(goog.len(), 2148);
    let series = YahooSeries::new_york(goog.clone());
    let utc = DateTime::from_timestamp(series.stamp(goog[0].date), 0).unwrap();
    assert_eq!((utc.hour(), utc.minute()), (14, 30));
    let fake = FakeYahoo::start(YahooData::default().with_series("GOOG", series)).await;
    let y = Yahoo::new(fast(SourceSettings::yahoo(), fake.base_url())).unwrap();
    let got = y.daily(&sym("GOOG"), d("2004-08-19"), d("2013-03-01")).await.unwrap();
    assert_eq!(got, goog);
    let part = y.daily(&sym("GOOG"), d("2010-01-04"), d("2010-01-08")).await.unwrap();
    assert_eq!(
        part.iter().map(|b| b.date).collect::<Vec<_>>(),
        ["2010-01-04", "2010-01-05", "2010-01-06", "2010-01-07", "2010-01-08"].map(d)
    );
}

#[tokio::test]
async fn dividends_and_splits_become_factors() {
    let bars = vec![
        bar("2024-03-01", 100.0),
        bar("2024-03-04", 100.0),
        bar("2024-03-05", 96.0),
        bar("2024-03-06", 97.0),
        bar("2024-03-07", 48.0),
    ];
    let mut series = YahooSeries::new_york(bars.clone());
    series.dividends = vec![(d("2024-03-05"), 4.0)];
    series.splits = vec![(d("2024-03-07"), 2.0, 1.0)];
    let fake = FakeYahoo::start(YahooData::default().with_series("^DJI", series)).await;
    let y = Yahoo::new(fast(SourceSettings::yahoo(), fake.base_url())).unwrap();
    let f = y.factors(&sym("^DJI"), d("2024-03-01"), d("2024-03-31")).await.unwrap();
    assert_eq!(f.iter().map(|x| x.date).collect::<Vec<_>>(), ["2024-03-01", "2024-03-05", "2024-03-07"].map(d));
    assert_eq!(f[0].factor, 1.0);
    assert!((f[1].factor - 100.0 / 96.0).abs() < 1e-7, "{f:?}");
    assert!((f[2].factor - 200.0 / 96.0).abs() < 1e-7, "{f:?}");
    assert_eq!(fake.calls()[0].params["symbol"], "^DJI", "the caret is sent encoded and arrives intact");
    // The chart's adjclose agrees with the factors (the consistency check).
    let chart = y.chart(&sym("^DJI"), d("2024-03-01"), d("2024-03-31")).await.unwrap();
    let last = f.last().unwrap().factor;
    let expect = chart.bars[0].close * f[0].factor / last;
    assert!((chart.adjclose[0].unwrap() - expect).abs() < 1e-4);
}

#[tokio::test]
async fn chart_errors_map() {
    let fake = FakeYahoo::start(
        YahooData::default().with_series("GOOG", YahooSeries::new_york(vec![bar("2024-01-02", 10.0)])),
    )
    .await;
    let y = Yahoo::new(fast(SourceSettings::yahoo(), fake.base_url())).unwrap();
    let e = y.daily(&sym("NOPE"), d("2024-01-01"), d("2024-01-31")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("Not Found"), "{e}");
    fake.inject("chart", Injection::ChartError { code: "Bad Request".into(), description: "Invalid input".into() });
    assert_eq!(y.daily(&sym("GOOG"), d("2024-01-01"), d("2024-01-31")).await.unwrap_err().kind, ErrorKind::Vendor);
    fake.inject("chart", Injection::Malformed);
    assert_eq!(y.daily(&sym("GOOG"), d("2024-01-01"), d("2024-01-31")).await.unwrap_err().kind, ErrorKind::Malformed);
    fake.inject("chart", Injection::Empty);
    assert_eq!(y.daily(&sym("GOOG"), d("2024-01-01"), d("2024-01-31")).await.unwrap(), vec![]);
    fake.inject("chart", Injection::Http(429));
    assert_eq!(y.daily(&sym("GOOG"), d("2024-01-01"), d("2024-01-31")).await.unwrap().len(), 1, "429 is retried");
}
