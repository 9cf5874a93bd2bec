//! The `sync` job on a worker: it fetches through the worker's configured sources, stores
//! progress, lists what landed and what failed in its result, and logs every failure.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use quantdesk_app::sync::Sources;
use quantdesk_connectors::fake::{FakeTushare, Injection, TushareData};
use quantdesk_connectors::{DailyBar, Source, SourceSettings, Tushare};
use quantdesk_core::Symbol;
use quantdesk_jobs::Registry;
use quantdesk_jobs::handlers::Sync;
use quantdesk_store::Store;
use quantdesk_store::jobs::JobState;

mod support;

fn bars() -> Vec<DailyBar> {
    let today = quantdesk_app::clock::today_shanghai();
    (1u32..=20)
        .rev()
        .map(|i| {
            let p = 10.0 + f64::from(i) * 0.1;
            DailyBar {
                date: today - chrono::Days::new(u64::from(i) * 3),
                open: p,
                high: p + 0.1,
                low: p - 0.1,
                close: p,
                volume: 1e6,
                amount: 1e7,
            }
        })
        .collect()
}

#[tokio::test]
async fn a_sync_job_reports_what_landed_and_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        quantdesk_store::open(&format!("sqlite://{}", dir.path().join("j.db").display()), 4).await.unwrap();
    let fake = FakeTushare::start(
        TushareData::default()
            .with_daily(Symbol::new("600040.SH").unwrap(), bars())
            .with_daily(Symbol::new("600041.SH").unwrap(), bars()),
    )
    .await;
    // The first symbol's daily call fails for good; the second lands.
    fake.inject_n("daily", Injection::Code { code: 2002, msg: "没有权限".into() }, 1);
    let settings = SourceSettings::tushare(Some("tok-job-1".into()))
        .with_base_url(fake.base_url())
        .with_calls_per_minute(0)
        .with_retries(0, Duration::from_millis(1));
    let sources = Sources::new(vec![Arc::new(Tushare::new(settings).unwrap()) as Arc<dyn Source>]);
    let registry = Registry::standard().with_typed(Sync { sources, rate_limits: Default::default() });
    let start: NaiveDate = bars()[0].date;
    let params = serde_json::json!({"what": "bars", "symbols": ["600040.SH", "600041.SH"], "start": start});
    let j = support::run_to_end(&store, registry, "sync", &params, 1000).await;
    let id = j.id;
    assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    let result: quantdesk_app::sync::SyncReport = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    assert_eq!(result.landed, vec!["600041.SH"]);
    assert_eq!(result.failed.len(), 1);
    assert_eq!((result.failed[0].symbol.as_str(), result.failed[0].code.as_str()), ("600040.SH", "no_permission"));
    assert_eq!(result.bars, 20);
    assert_eq!((j.progress_done, j.progress_total), (1000, 1000));
    let log = store.job_logs(id, 100).await.unwrap();
    assert!(log.iter().any(|(_, l)| l.contains("600040.SH") && l.contains("no_permission")), "{log:?}");
    assert!(log.iter().all(|(_, l)| !l.contains("tok-job-1")));
}
