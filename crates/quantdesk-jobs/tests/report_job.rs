//! The `report` job on the demo market: a batch with a bad symbol lists it as failed and stores
//! the others; a failed generation fails the job with its error and stores nothing; the LLM
//! providers write the report when one is configured, quantdesk itself when none is.

mod support;

use std::sync::Arc;

use chrono::NaiveDate;
use quantdesk_app::reports::ScriptedGenerator;
use quantdesk_app::reports::service::ReportJobResult;
use quantdesk_jobs::{Registry, handlers};
use quantdesk_store::Store;
use quantdesk_store::jobs::JobState;
use quantdesk_store::reports::ReportFilter;
use serde_json::json;

async fn demo() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = quantdesk_store::open(&format!("sqlite://{}", dir.path().join("j.db").display()), 2).await.unwrap();
    quantdesk_app::demo::load(&*store, NaiveDate::from_ymd_opt(2024, 6, 28).unwrap()).await.unwrap();
    (store, dir)
}

#[tokio::test]
async fn a_batch_stores_each_report_and_lists_the_failed_symbols() {
    let (store, _dir) = demo().await;
    let params = json!({"symbols": ["000858.SZ", "600900.SH", "999999.SH"], "type": "technical", "lang": "en"});
    let job = support::run_to_end(&store, Registry::standard(), "report", &params, 3000).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let result: ReportJobResult = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
    assert_eq!(result.failed, ["999999.SH"]);
    assert_eq!(result.items.iter().filter(|i| i.report_id.is_some()).count(), 2);
    let stored =
        store.list_reports(&ReportFilter { owner: Some("t".into()), ..Default::default() }, 10, 0).await.unwrap();
    assert_eq!(stored.len(), 2);
    let r = &stored[1].report;
    assert_eq!(
        (r.symbol.as_str(), r.kind.as_str(), r.provider.as_str(), r.job_id),
        ("000858.SZ", "technical", "offline", Some(job.id))
    );
    assert!(r.markdown.contains("without a language model") && r.context.contains("price.last"));
    assert_eq!(r.prompt_name, "default-technical-en");
    assert_eq!(store.template(r.prompt_id.unwrap()).await.unwrap().unwrap().uses, 2, "both reports used the default");
}

#[tokio::test]
async fn a_failed_generation_fails_the_job_and_stores_no_report() {
    let (store, _dir) = demo().await;
    let mut g = ScriptedGenerator::new(&["half a report"]);
    g.fail = Some("the provider hung up".into());
    let registry = Registry::default().with_typed(handlers::Report { generator: Some(Arc::new(g)) });
    let params = json!({"symbols": ["000858.SZ"], "type": "chan"});
    let job = support::run_to_end(&store, registry, "report", &params, 3000).await;
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error.as_deref().unwrap().contains("the provider hung up"), "{:?}", job.error);
    assert_eq!(store.count_reports(&ReportFilter::default()).await.unwrap(), 0, "nothing half-stored");
    // Asking for a provider when none is configured is refused.
    let params = json!({"symbols": ["000858.SZ"], "type": "chan", "provider": "deepseek"});
    let job = support::run_to_end(&store, Registry::standard(), "report", &params, 3000).await;
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error.as_deref().unwrap().contains("offline"), "{:?}", job.error);
}

#[tokio::test]
async fn the_configured_provider_writes_the_report_and_none_means_offline() {
    use quantdesk_app::config::LlmConfig;
    use quantdesk_app::llm::{CONFIGURED_NAME, LlmService};
    use quantdesk_llm::fake::{FakeLlm, Scripted};
    let (store, _dir) = demo().await;
    let fake = FakeLlm::start(vec![Scripted::stream(&["## 000858.SZ\n", "Close: {{fact:price.last}}."], 7)]).await;
    let config =
        LlmConfig { llm_base_url: fake.base_url().into(), llm_model: "fake-model".into(), ..Default::default() };
    let llm = LlmService::new(store.clone(), &config).unwrap();
    let registry = Registry::default().with_typed(handlers::Report { generator: Some(Arc::new(llm)) });
    let params = json!({"symbols": ["000858.SZ"], "type": "technical", "lang": "en"});
    let job = support::run_to_end(&store, registry, "report", &params, 3000).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    assert_eq!(fake.request_count(), 1);
    let stored = store.list_reports(&ReportFilter::default(), 10, 0).await.unwrap();
    let r = &stored[0].report;
    assert_eq!((r.provider.as_str(), r.model.as_str()), (CONFIGURED_NAME, "fake-model"));
    assert!(r.markdown.contains("Close: ") && !r.markdown.contains("{{fact:"), "{}", r.markdown);
    assert!(!r.markdown.contains("without a language model"));
    assert_eq!((r.tokens_in, r.tokens_out), (12, 2));

    // No provider stored or configured: the same job is written offline, nothing is asked.
    let llm = LlmService::new(store.clone(), &LlmConfig::default()).unwrap();
    let registry = Registry::default().with_typed(handlers::Report { generator: Some(Arc::new(llm)) });
    let job = support::run_to_end(&store, registry, "report", &params, 3000).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    assert_eq!(fake.request_count(), 1);
    let stored = store.list_reports(&ReportFilter::default(), 10, 0).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().any(|s| s.report.provider == "offline"));
}
