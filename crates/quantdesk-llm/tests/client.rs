//! The client against the loopback fake: every outcome, retries counted, tokens recorded.

use std::sync::Arc;
use std::time::Duration;

use quantdesk_llm::fake::{FakeLlm, Scripted};
use quantdesk_llm::{ChatRequest, LlmClient, LlmErrorKind, Message, Provider, RetryPolicy, StreamEvent, Usage};

const KEY: &str = "sk-test-9f8e7d6c5b4a";

fn client() -> LlmClient {
    LlmClient::new(RetryPolicy {
        max_retries: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        retry_after_max: Duration::from_secs(5),
        seed: Some(42),
    })
    .unwrap()
}

fn provider(name: &str, fake: &FakeLlm) -> Provider {
    Provider::new(name, fake.base_url(), "fake-chat").with_key(KEY).with_timeout(Duration::from_secs(10))
}

fn ask() -> ChatRequest {
    let mut r = ChatRequest::new(vec![Message::system("You are terse."), Message::user("Say hello.")]);
    r.temperature = Some(0.3);
    r.top_p = Some(0.9);
    r.max_tokens = Some(64);
    r
}

#[tokio::test]
async fn a_json_answer_carries_text_tokens_model_and_attempts() {
    let fake = FakeLlm::start_with_key(vec![Scripted::text("hello there friend")], KEY).await;
    let r = client().complete(&provider("main", &fake), &ask()).await.unwrap();
    assert_eq!((r.text.as_str(), r.provider.as_str(), r.model.as_str()), ("hello there friend", "main", "fake-chat"));
    assert_eq!(r.usage, Usage { prompt_tokens: 10, completion_tokens: 3 });
    assert_eq!((r.attempts, r.finish_reason.as_str()), (1, "stop"));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].had_key);
    let b = &reqs[0].body;
    assert_eq!((b["model"].as_str(), b["stream"].as_bool()), (Some("fake-chat"), Some(false)));
    assert_eq!(
        (b["temperature"].as_f64(), b["top_p"].as_f64(), b["max_tokens"].as_u64()),
        (Some(0.3), Some(0.9), Some(64))
    );
    assert_eq!(b["messages"][0]["role"], "system");
    assert_eq!(b["messages"][1]["content"], "Say hello.");
}

#[tokio::test]
async fn a_stream_split_across_reads_gives_deltas_then_usage() {
    // 5-byte pieces split events, JSON and the three-byte Chinese characters across reads.
    let fake = FakeLlm::start(vec![Scripted::stream(&["你好", "，", "world", "!"], 5)]).await;
    let mut s = client().stream(&provider("main", &fake), &ask()).await.unwrap();
    assert_eq!(s.provider(), "main");
    let mut deltas = Vec::new();
    let mut summary = None;
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            StreamEvent::Delta(d) => deltas.push(d),
            StreamEvent::Done(x) => summary = Some(x),
        }
    }
    assert_eq!(deltas, vec!["你好", "，", "world", "!"]);
    let summary = summary.unwrap();
    assert_eq!(summary.usage, Some(Usage { prompt_tokens: 12, completion_tokens: 4 }));
    assert_eq!((summary.finish_reason.as_str(), summary.attempts), ("stop", 1));
    let body = &fake.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    // A plain answer asked as a stream comes word by word and collects whole.
    let r = client().stream(&provider("main", &fake), &ask()).await.unwrap().collect().await.unwrap();
    assert_eq!((r.text.as_str(), r.usage.completion_tokens), ("ok", 1));
}

#[tokio::test]
async fn a_refused_key_is_auth_and_not_retried() {
    let fake = FakeLlm::start_with_key(vec![], KEY).await;
    let p = provider("main", &fake).with_key("sk-wrong-000000");
    let e = client().complete(&p, &ask()).await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (LlmErrorKind::Auth, 1));
    assert_eq!(fake.request_count(), 1);
    assert!(!e.to_string().contains("sk-wrong-000000"), "{e}");
    let e = client().stream(&p, &ask()).await.unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Auth);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let fake = FakeLlm::start(vec![Scripted::rate_limited("0"), Scripted::text("after the wait")]).await;
    let r = client().complete(&provider("main", &fake), &ask()).await.unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("after the wait", 2));
    assert_eq!(fake.request_count(), 2);
    // A Retry-After beyond the policy's bound is not waited for.
    fake.push(Scripted::rate_limited("3600"));
    let e = client().complete(&provider("main", &fake), &ask()).await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (LlmErrorKind::RateLimited, 1));
    // Rate limited every time: three attempts, then the error.
    for _ in 0..3 {
        fake.push(Scripted::rate_limited("0"));
    }
    let before = fake.request_count();
    let e = client().complete(&provider("main", &fake), &ask()).await.unwrap_err();
    assert_eq!((e.kind, e.attempts, fake.request_count() - before), (LlmErrorKind::RateLimited, 3, 3));
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let fake = FakeLlm::start(vec![Scripted::server_error(), Scripted::text("second time")]).await;
    let r = client().complete(&provider("main", &fake), &ask()).await.unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("second time", 2));
    fake.push(Scripted::server_error());
    let r = client().stream(&provider("main", &fake), &ask()).await.unwrap().collect().await.unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("ok", 2));
}

#[tokio::test]
async fn a_timeout_is_retried_and_classified() {
    let fake = FakeLlm::start(vec![Scripted::Hang(Duration::from_secs(30)), Scripted::text("in time")]).await;
    let p = provider("main", &fake).with_timeout(Duration::from_millis(200));
    let r = client().complete(&p, &ask()).await.unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("in time", 2));
    for _ in 0..3 {
        fake.push(Scripted::Hang(Duration::from_secs(30)));
    }
    let e = client().complete(&p, &ask()).await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (LlmErrorKind::Timeout, 3));
}

#[tokio::test]
async fn a_stream_cut_in_the_middle_is_a_network_error_after_its_deltas() {
    let fake = FakeLlm::start(vec![Scripted::cut_stream(&["The ", "answer "])]).await;
    let mut s = client().stream(&provider("main", &fake), &ask()).await.unwrap();
    let mut deltas = Vec::new();
    let mut error = None;
    while let Some(ev) = s.next().await {
        match ev {
            Ok(StreamEvent::Delta(d)) => deltas.push(d),
            Ok(StreamEvent::Done(_)) => panic!("a cut stream must not end well"),
            Err(e) => error = Some(e),
        }
    }
    assert_eq!(deltas, vec!["The ", "answer "]);
    assert_eq!(error.unwrap().kind, LlmErrorKind::Network);
}

#[tokio::test]
async fn invalid_json_context_too_long_and_content_filter_are_named() {
    let fake =
        FakeLlm::start(vec![Scripted::InvalidJson, Scripted::context_too_long(), Scripted::content_filtered()]).await;
    let c = client();
    let p = provider("main", &fake);
    assert_eq!(c.complete(&p, &ask()).await.unwrap_err().kind, LlmErrorKind::BadAnswer);
    let e = c.complete(&p, &ask()).await.unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::ContextTooLong);
    assert!(e.detail.contains("context_length_exceeded"), "{}", e.detail);
    assert_eq!(c.complete(&p, &ask()).await.unwrap_err().kind, LlmErrorKind::ContentFiltered);
    assert_eq!(fake.request_count(), 3, "none of them is retried");
}

#[tokio::test]
async fn wrong_numbers_are_a_bad_answer_and_the_next_provider_answers() {
    let first = FakeLlm::start(vec![Scripted::text("Revenue grew 99% to 5 yuan.")]).await;
    let second = FakeLlm::start(vec![Scripted::text("Revenue grew 12% to 150 yuan.")]).await;
    let check = |text: &str| -> Result<(), String> {
        if text.contains("12%") { Ok(()) } else { Err("the growth is not the 12% given".into()) }
    };
    let c = client();
    let e = c.complete_checked(&provider("first", &first), &ask(), Some(&check)).await.unwrap_err();
    assert_eq!((e.kind, e.detail.as_str()), (LlmErrorKind::BadAnswer, "the growth is not the 12% given"));
    first.push(Scripted::text("Revenue grew 99% to 5 yuan."));
    let providers = [provider("first", &first), provider("second", &second)];
    let r = c.complete_any(&providers, &ask(), Some(&check)).await.unwrap();
    assert_eq!((r.provider.as_str(), r.text.as_str()), ("second", "Revenue grew 12% to 150 yuan."));
}

#[tokio::test]
async fn a_provider_failing_after_its_retries_falls_to_the_next() {
    let down = FakeLlm::start(vec![Scripted::server_error(), Scripted::server_error(), Scripted::server_error()]).await;
    let up = FakeLlm::start(vec![]).await;
    let c = client();
    let r = c.complete_any(&[provider("down", &down), provider("up", &up)], &ask(), None).await.unwrap();
    assert_eq!((r.provider.as_str(), r.text.as_str()), ("up", "ok"));
    assert_eq!(down.request_count(), 3, "the first provider had its three attempts");
    for _ in 0..3 {
        down.push(Scripted::server_error());
    }
    let s = c.stream_any(&[provider("down", &down), provider("up", &up)], &ask()).await.unwrap();
    assert_eq!(s.provider(), "up");
    let e = c.complete_any(&[], &ask(), None).await.unwrap_err();
    assert_eq!(e.kind(), None);
    let nowhere = Provider::new("gone", "http://127.0.0.1:9/v1", "m").with_timeout(Duration::from_secs(5));
    let e = c.complete_any(&[nowhere], &ask(), None).await.unwrap_err();
    assert_eq!(e.kind(), Some(LlmErrorKind::Network));
    assert_eq!(e.errors[0].attempts, 3);
}

/// Every attempt is counted by provider and outcome, timed, and the tokens are added up.
#[test]
fn attempts_and_tokens_are_in_the_metrics() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let fake = FakeLlm::start(vec![
                Scripted::server_error(),
                Scripted::text("one two three"),
                Scripted::stream(&["a", "b"], 0),
            ])
            .await;
            let c = client();
            c.complete(&provider("metered", &fake), &ask()).await.unwrap();
            c.stream(&provider("metered", &fake), &ask()).await.unwrap().collect().await.unwrap();
        });
    });
    let text = handle.render();
    let value = |name: &str, labels: &[&str]| -> String {
        let line = text
            .lines()
            .find(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"));
        line.rsplit(' ').next().unwrap().to_string()
    };
    let p = r#"provider="metered""#;
    assert_eq!(value("quantdesk_llm_requests_total", &[p, r#"outcome="server_error""#]), "1");
    assert_eq!(value("quantdesk_llm_requests_total", &[p, r#"outcome="ok""#]), "2");
    assert_eq!(value("quantdesk_llm_tokens_total", &[p, r#"direction="in""#]), "22");
    assert_eq!(value("quantdesk_llm_tokens_total", &[p, r#"direction="out""#]), "5");
    assert!(text.contains("quantdesk_llm_request_seconds"), "{text}");
    assert!(!text.contains(KEY));
}

/// The key is in no log line and no error, even when the provider repeats it.
#[tokio::test]
async fn the_key_never_shows() {
    // The log goes to a file of its own (`&File` writes, so `Arc<File>` makes writers).
    let path = std::env::temp_dir().join(format!("quantdesk-llm-log-{}.txt", std::process::id()));
    let file = Arc::new(std::fs::File::create(&path).unwrap());
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(file).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let echo = serde_json::json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "code": "invalid_api_key"}});
    let fake = FakeLlm::start(vec![
        Scripted::Status { status: 401, body: echo.to_string(), retry_after: None },
        Scripted::server_error(),
        Scripted::text("fine"),
    ])
    .await;
    let c = client();
    let p = provider("main", &fake);
    let e = c.complete(&p, &ask()).await.unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Auth);
    assert!(!format!("{e} {e:?}").contains(KEY));
    c.complete(&p, &ask()).await.unwrap();
    let logged = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(logged.contains("llm call ok") && logged.contains("retrying"), "{logged}");
    assert!(!logged.contains(KEY), "{logged}");
    assert!(!format!("{p:?} {c:?}").contains(KEY));
}
