//! The shared client: the rate limiter, and the token never showing.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TOKEN, d, fast, sym};
use quantdesk_connectors::fake::{EastmoneyData, EastmoneySeries, FakeEastmoney, FakeTushare, Injection, TushareData};
use quantdesk_connectors::{DailyBar, Eastmoney, Source, SourceSettings, Tushare};

#[tokio::test]
async fn the_limiter_spaces_calls() {
    let bars = vec![DailyBar {
        date: d("2024-01-02"),
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: 1.0,
        volume: 100.0,
        amount: 1.0,
    }];
    let fake = FakeEastmoney::start(
        EastmoneyData::default().with_series(sym("600519.SH"), EastmoneySeries { bars, ..Default::default() }),
    )
    .await;
    let em = Eastmoney::new(fast(SourceSettings::eastmoney(), fake.base_url()).with_calls_per_minute(600)).unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        em.daily(&sym("600519.SH"), d("2024-01-01"), d("2024-01-31")).await.unwrap();
    }
    // Six calls at 10 a second: at least five intervals of 100 ms.
    assert!(started.elapsed() >= Duration::from_millis(490), "{:?}", started.elapsed());
    assert_eq!(fake.call_count("kline"), 6);
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_shows() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let bars = vec![DailyBar {
        date: d("2024-01-02"),
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: 1.0,
        volume: 100.0,
        amount: 1.0,
    }];
    let fake = FakeTushare::start(TushareData::default().with_daily(sym("600519.SH"), bars)).await;
    let settings = fast(SourceSettings::tushare(Some(TOKEN.into())), fake.base_url())
        .with_timeout(Duration::from_millis(200))
        .with_retries(1, Duration::from_millis(1));
    let ts = Tushare::new(settings.clone()).unwrap();
    let s = sym("600519.SH");
    let (a, b) = (d("2024-01-01"), d("2024-01-31"));

    let mut shown = vec![format!("{settings:?}"), format!("{ts:?}")];
    // A vendor message that echoes the token, a rate limit, a server error, a timeout, garbage.
    fake.inject("daily", Injection::Code { code: 40101, msg: format!("token {TOKEN} 不对") });
    fake.inject_n("daily", Injection::Code { code: 40203, msg: "每分钟最多访问该接口2次".into() }, 2);
    fake.inject_n("daily", Injection::Http(500), 2);
    fake.inject_n("daily", Injection::Delay(Duration::from_millis(800)), 2);
    fake.inject("daily", Injection::Malformed);
    for _ in 0..5 {
        let e = ts.daily(&s, a, b).await.unwrap_err();
        shown.push(format!("{e}"));
        shown.push(format!("{e:?}"));
    }
    assert_eq!(ts.daily(&s, a, b).await.unwrap().len(), 1);
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    shown.push(logs.clone());
    assert!(logs.contains("tushare") && logs.contains("retrying"), "the calls are logged: {logs}");
    assert!(shown[2].contains("<redacted>"), "{}", shown[2]);
    for text in &shown {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    assert!(fake.calls().iter().all(|c| c.had_token));
}

/// Every attempt is counted by source, API and outcome, and timed.
#[test]
fn calls_are_counted_and_timed_in_the_metrics() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let fake = FakeTushare::start(TushareData::default().with_daily(
                sym("600519.SH"),
                vec![DailyBar {
                    date: d("2024-01-02"),
                    open: 1.0,
                    high: 1.0,
                    low: 1.0,
                    close: 1.0,
                    volume: 100.0,
                    amount: 1.0,
                }],
            ))
            .await;
            fake.inject("daily", Injection::Http(500));
            let ts = Tushare::new(fast(SourceSettings::tushare(Some(TOKEN.into())), fake.base_url())).unwrap();
            ts.daily(&sym("600519.SH"), d("2024-01-01"), d("2024-01-31")).await.unwrap();
        });
    });
    let text = handle.render();
    let line = |outcome: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("quantdesk_source_requests_total")
                    && l.contains(r#"source="tushare""#)
                    && l.contains(r#"api="daily""#)
                    && l.contains(&format!(r#"outcome="{outcome}""#))
            })
            .unwrap_or_else(|| panic!("no {outcome} line in:\n{text}"))
            .to_string()
    };
    assert!(line("ok").ends_with(" 1"), "{}", line("ok"));
    assert!(line("unavailable").ends_with(" 1"), "{}", line("unavailable"));
    assert!(text.contains("quantdesk_source_request_seconds"), "{text}");
    assert!(!text.contains(TOKEN));
}
