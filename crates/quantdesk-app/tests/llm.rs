//! The LLM providers service over a SQLite store and the loopback fake: keys encrypted at rest and
//! never shown, the fallback order, the configured default, offline, the connection test.

use std::sync::Arc;
use std::time::Duration;

use quantdesk_app::accounts::mailer::Mailbox;
use quantdesk_app::accounts::{AccountSettings, Accounts, Actor};
use quantdesk_app::config::{LlmConfig, Secret};
use quantdesk_app::llm::{LlmService, ProviderInput};
use quantdesk_llm::RetryPolicy;
use quantdesk_llm::fake::{FakeLlm, Scripted};
use quantdesk_store::auth::Role;

const KEY: &str = "sk-live-4c3b2a1d0e9f";
const SECRET: &str = "master-secret-0123456789";

struct Fixture {
    store: Arc<dyn quantdesk_store::Store>,
    admin: Actor,
    viewer: Actor,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = quantdesk_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 2).await.unwrap();
    let settings = AccountSettings {
        signup: false,
        signup_role: Role::Viewer,
        session_idle_mins: 60,
        session_max_hours: 24,
        signup_coins: 20,
    };
    let mailer = Arc::new(Mailbox::new(dir.path().join("mail"), "quantdesk <noreply@quantdesk.test>"));
    let accounts = Accounts::new(store.clone(), settings, mailer);
    let (admin, _) = accounts.ensure_user("admin@x.test", "tulip-granite-41", Role::Admin, false).await.unwrap();
    let (viewer, _) = accounts.ensure_user("viewer@x.test", "tulip-granite-41", Role::Viewer, false).await.unwrap();
    Fixture { store, admin: Actor::command_line(&admin), viewer: Actor::command_line(&viewer), _dir: dir }
}

fn config(secret: &str) -> LlmConfig {
    LlmConfig { llm_secret_key: Secret::new(secret), ..LlmConfig::default() }
}

fn service(f: &Fixture, cfg: &LlmConfig) -> LlmService {
    let retry = RetryPolicy {
        max_retries: 1,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(2),
        retry_after_max: Duration::from_secs(1),
        seed: Some(3),
    };
    LlmService::with_retry(f.store.clone(), cfg, retry).unwrap()
}

fn input(name: &str, base_url: &str, key: Option<&str>) -> ProviderInput {
    ProviderInput {
        name: Some(name.into()),
        base_url: Some(base_url.into()),
        model: Some("fake-chat".into()),
        api_key: key.map(String::from),
        ..Default::default()
    }
}

#[tokio::test]
async fn keys_are_encrypted_at_rest_and_never_shown() {
    let f = fixture().await;
    let s = service(&f, &config(SECRET));
    let mut new = input("深度求索", "", Some(KEY));
    (new.base_url, new.preset, new.temperature) = (None, Some("DeepSeek".into()), Some(0.2));
    let v = s.create(&f.admin, &new).await.unwrap();
    assert_eq!((v.base_url.as_str(), v.preset.as_str()), ("https://api.deepseek.com/v1", "deepseek"));
    assert_eq!((v.has_key, v.key_last4.as_deref(), v.is_default), (true, Some("0e9f"), true));
    let row = f.store.llm_provider(v.id).await.unwrap().unwrap();
    assert!(row.api_key_enc.starts_with("v1:") && !row.api_key_enc.contains("4c3b2a1d"), "{}", row.api_key_enc);
    let shown = serde_json::to_string(&s.list(&f.admin).await.unwrap()).unwrap();
    assert!(!shown.contains(KEY) && !shown.contains(&row.api_key_enc), "{shown}");
    // The key reaches the provider the reports call.
    let resolved = s.resolve().await.unwrap();
    assert_eq!(resolved[0].api_key.as_deref(), Some(KEY));
    assert_eq!(resolved[0].temperature, Some(0.2));
    assert!(!format!("{resolved:?} {new:?}").contains(KEY));
    // An update without api_key keeps it; an empty one removes it.
    let mut change = ProviderInput { model: Some("deepseek-reasoner".into()), ..Default::default() };
    let v = s.update(&f.admin, v.id, &change).await.unwrap();
    assert_eq!((v.model.as_str(), v.has_key), ("deepseek-reasoner", true));
    change.api_key = Some(String::new());
    let v = s.update(&f.admin, v.id, &change).await.unwrap();
    assert_eq!((v.has_key, v.key_last4), (false, None));
}

#[tokio::test]
async fn a_key_is_refused_without_llm_secret_key_and_with_another_secret_cannot_be_read() {
    let f = fixture().await;
    let bare = service(&f, &LlmConfig::default());
    let e = bare.create(&f.admin, &input("a", "http://127.0.0.1:9/v1", Some(KEY))).await.unwrap_err();
    assert_eq!((e.code(), e.field()), ("llm_secret_key_unset", Some("api_key")));
    assert!(f.store.llm_providers().await.unwrap().is_empty(), "nothing stored");
    assert!(!bare.list(&f.admin).await.unwrap().keys_can_be_stored);
    let v = bare.create(&f.admin, &input("a", "http://127.0.0.1:9/v1", None)).await.unwrap();
    assert!(!v.has_key);

    let s = service(&f, &config(SECRET));
    s.create(&f.admin, &input("b", "http://127.0.0.1:9/v1", Some(KEY))).await.unwrap();
    let other = service(&f, &config("another-secret-987654"));
    let names: Vec<String> = other.resolve().await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, vec!["a"], "a provider whose key cannot be read is skipped");
    let b = f.store.llm_providers().await.unwrap()[1].id;
    assert_eq!(other.test_connection(&f.admin, b).await.unwrap_err().code(), "llm_key_unreadable");
}

#[tokio::test]
async fn only_admins_manage_providers_and_bad_fields_are_named() {
    let f = fixture().await;
    let s = service(&f, &config(SECRET));
    let e = s.list(&f.viewer).await.unwrap_err();
    assert_eq!(e.code(), "forbidden");
    assert_eq!(s.create(&f.viewer, &input("a", "http://h/v1", None)).await.unwrap_err().code(), "forbidden");
    for (field, bad) in [
        ("base_url", ProviderInput { base_url: Some("ftp://x".into()), ..input("a", "", None) }),
        ("temperature", ProviderInput { temperature: Some(2.5), ..input("a", "http://h/v1", None) }),
        ("top_p", ProviderInput { top_p: Some(0.0), ..input("a", "http://h/v1", None) }),
        ("timeout_secs", ProviderInput { timeout_secs: Some(0), ..input("a", "http://h/v1", None) }),
        ("preset", ProviderInput { preset: Some("bard".into()), base_url: None, ..input("a", "", None) }),
        ("name", ProviderInput { name: Some(" ".into()), ..input("a", "http://h/v1", None) }),
        ("model", ProviderInput { model: None, ..input("a", "http://h/v1", None) }),
    ] {
        let e = s.create(&f.admin, &bad).await.unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_params", Some(field)), "{e}");
    }
    s.create(&f.admin, &input("a", "http://h/v1", None)).await.unwrap();
    let e = s.create(&f.admin, &input("a", "http://h/v1", None)).await.unwrap_err();
    assert_eq!(e.code(), "name_taken");
    assert_eq!(s.update(&f.admin, 999, &ProviderInput::default()).await.unwrap_err().code(), "not_found");
    assert_eq!(s.delete(&f.admin, 999).await.unwrap_err().code(), "not_found");
}

#[tokio::test]
async fn resolve_gives_stored_providers_in_order_else_the_configured_one_else_none() {
    let f = fixture().await;
    assert!(service(&f, &config(SECRET)).resolve().await.unwrap().is_empty(), "offline");
    assert!(service(&f, &config(SECRET)).list(&f.admin).await.unwrap().offline);
    let cfg = LlmConfig {
        llm_base_url: "http://127.0.0.1:9/v1".into(),
        llm_model: "local-model".into(),
        llm_api_key: Secret::new(KEY),
        ..config(SECRET)
    };
    let s = service(&f, &cfg);
    let only = s.resolve().await.unwrap();
    assert_eq!((only.len(), only[0].name.as_str(), only[0].model.as_str()), (1, "configured", "local-model"));
    assert_eq!(only[0].api_key.as_deref(), Some(KEY));
    let list = s.list(&f.admin).await.unwrap();
    assert!(!list.offline && list.configured.as_ref().unwrap().has_key);
    assert!(!serde_json::to_string(&list).unwrap().contains(KEY));

    let a = s.create(&f.admin, &input("a", "http://h/v1", None)).await.unwrap();
    let b = s.create(&f.admin, &input("b", "http://h/v1", None)).await.unwrap();
    let c =
        s.create(&f.admin, &ProviderInput { default: Some(true), ..input("c", "http://h/v1", None) }).await.unwrap();
    let names = |ps: Vec<quantdesk_llm::Provider>| ps.into_iter().map(|p| p.name).collect::<Vec<_>>();
    assert_eq!(names(s.resolve().await.unwrap()), vec!["c", "a", "b"], "stored ones replace the configured one");
    let order = s.set_order(&f.admin, &[b.id, c.id, a.id]).await.unwrap();
    assert!(order[0].is_default && order[0].name == "b");
    assert_eq!(names(s.resolve().await.unwrap()), vec!["b", "c", "a"]);
    let e = s.set_order(&f.admin, &[b.id, c.id]).await.unwrap_err();
    assert_eq!((e.code(), e.field()), ("invalid_params", Some("ids")));
    s.update(&f.admin, a.id, &ProviderInput { default: Some(true), ..Default::default() }).await.unwrap();
    assert_eq!(names(s.resolve().await.unwrap()), vec!["a", "b", "c"]);
}

#[tokio::test]
async fn the_connection_test_says_which_model_answered_or_why_not() {
    let f = fixture().await;
    let fake = FakeLlm::start_with_key(vec![], KEY).await;
    let s = service(&f, &config(SECRET));
    let good = s.create(&f.admin, &input("good", fake.base_url(), Some(KEY))).await.unwrap();
    let bad = s.create(&f.admin, &input("bad", fake.base_url(), Some("sk-wrong-key-00000"))).await.unwrap();
    let r = s.test_connection(&f.admin, good.id).await.unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!((r.model.as_deref(), r.provider.as_str()), (Some("fake-chat"), "good"));
    assert_eq!(fake.requests()[0].body["max_tokens"], 8);
    let r = s.test_connection(&f.admin, bad.id).await.unwrap();
    assert_eq!((r.ok, r.error_code.as_deref()), (false, Some("auth")));
    assert!(r.error_message_zh.unwrap().contains("密钥"));
    fake.push(Scripted::server_error());
    let r = s.test_connection(&f.admin, good.id).await.unwrap();
    assert_eq!(r.error_code.as_deref(), Some("server_error"), "no retries in a test");
    assert_eq!(s.test_connection(&f.viewer, good.id).await.unwrap_err().code(), "forbidden");
}

#[tokio::test]
async fn complete_falls_through_the_order_and_is_none_offline() {
    let f = fixture().await;
    let s = service(&f, &config(SECRET));
    let ask = quantdesk_llm::ChatRequest::new(vec![quantdesk_llm::Message::user("Summarise.")]);
    assert_eq!(s.complete(&ask, None).await.unwrap(), None, "no provider: offline");
    let down = FakeLlm::start(vec![Scripted::unauthorized()]).await;
    let up = FakeLlm::start(vec![Scripted::text("Revenue grew 12%.")]).await;
    s.create(&f.admin, &input("down", down.base_url(), None)).await.unwrap();
    s.create(&f.admin, &input("up", up.base_url(), None)).await.unwrap();
    let r = s.complete(&ask, None).await.unwrap().unwrap();
    assert_eq!((r.provider.as_str(), r.text.as_str()), ("up", "Revenue grew 12%."));
    let check = |t: &str| if t.contains("15%") { Ok(()) } else { Err("not the 15% given".to_string()) };
    let e = s.complete(&ask, Some(&check)).await.unwrap_err();
    assert_eq!(e.code(), "bad_answer", "the last provider's error: {e}");
    assert!(e.message().contains("down") && e.message().contains("up"), "{e}");
}
