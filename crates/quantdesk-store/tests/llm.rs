//! The LLM providers port, on SQLite and (when configured) PostgreSQL.

mod support;

use quantdesk_store::StoreError;
use quantdesk_store::llm::{LlmProviderWrite, StoredLlmProvider};
use support::each_backend;

fn w(name: &str, at: i64) -> LlmProviderWrite {
    LlmProviderWrite {
        name: name.into(),
        preset: "qwen".into(),
        base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1".into(),
        model: "qwen-plus".into(),
        api_key_enc: "a1b2c3".into(),
        api_key_last4: "1234".into(),
        temperature: Some(0.3),
        top_p: Some(0.9),
        max_tokens: Some(4096),
        timeout_secs: 90,
        at,
    }
}

fn names(list: &[StoredLlmProvider]) -> Vec<&str> {
    list.iter().map(|p| p.name.as_str()).collect()
}

#[tokio::test]
async fn providers_are_created_in_fallback_order_and_read_back_whole() {
    each_backend(|s| async move {
        let a = s.create_llm_provider(&w("a", 1_000)).await.unwrap();
        let b = s.create_llm_provider(&w("b", 2_000)).await.unwrap();
        let mut local = w("本地", 3_000);
        (local.api_key_enc, local.api_key_last4, local.temperature, local.top_p, local.max_tokens) =
            (String::new(), String::new(), None, None, None);
        let c = s.create_llm_provider(&local).await.unwrap();
        let all = s.llm_providers().await.unwrap();
        assert_eq!(names(&all), vec!["a", "b", "本地"]);
        assert_eq!(all.iter().map(|p| p.position).collect::<Vec<_>>(), vec![0, 1, 2]);
        let got = s.llm_provider(a).await.unwrap().unwrap();
        assert_eq!(
            (got.model.as_str(), got.api_key_enc.as_str(), got.api_key_last4.as_str(), got.preset.as_str()),
            ("qwen-plus", "a1b2c3", "1234", "qwen")
        );
        assert_eq!(
            (got.temperature, got.top_p, got.max_tokens, got.timeout_secs),
            (Some(0.3), Some(0.9), Some(4096), 90)
        );
        assert_eq!((got.created_at, got.updated_at), (1_000, 1_000));
        let got = s.llm_provider(c).await.unwrap().unwrap();
        assert_eq!((got.temperature, got.max_tokens, got.api_key_enc.as_str()), (None, None, ""));
        assert!(!format!("{got:?}").contains("a1b2c3"));
        assert!(s.llm_provider(b + c + 100).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_name_is_a_conflict_and_changes_nothing() {
    each_backend(|s| async move {
        let a = s.create_llm_provider(&w("a", 1)).await.unwrap();
        let b = s.create_llm_provider(&w("b", 2)).await.unwrap();
        assert!(matches!(s.create_llm_provider(&w("a", 3)).await, Err(StoreError::Conflict(_))));
        let mut renamed = w("a", 4);
        renamed.model = "changed".into();
        assert!(s.update_llm_provider(b, &renamed).await.unwrap_err().is_conflict());
        assert_eq!(s.llm_provider(b).await.unwrap().unwrap().model, "qwen-plus");
        assert_eq!(names(&s.llm_providers().await.unwrap()), vec!["a", "b"]);
        assert_eq!(s.llm_provider(a).await.unwrap().unwrap().updated_at, 1);
    })
    .await;
}

#[tokio::test]
async fn update_delete_and_reorder() {
    each_backend(|s| async move {
        let a = s.create_llm_provider(&w("a", 1)).await.unwrap();
        let b = s.create_llm_provider(&w("b", 2)).await.unwrap();
        let c = s.create_llm_provider(&w("c", 3)).await.unwrap();
        let mut new = w("a2", 50);
        (new.api_key_enc, new.api_key_last4, new.temperature) = (String::new(), String::new(), None);
        assert!(s.update_llm_provider(a, &new).await.unwrap());
        let got = s.llm_provider(a).await.unwrap().unwrap();
        assert_eq!((got.name.as_str(), got.api_key_enc.as_str(), got.temperature), ("a2", "", None));
        assert_eq!((got.created_at, got.updated_at, got.position), (1, 50, 0), "position and creation stay");
        assert!(!s.update_llm_provider(c + 100, &new).await.unwrap());

        s.reorder_llm_providers(&[c, a, b]).await.unwrap();
        assert_eq!(names(&s.llm_providers().await.unwrap()), vec!["c", "a2", "b"]);
        // An unknown id anywhere: nothing moves.
        assert!(matches!(s.reorder_llm_providers(&[b, a, c + 100]).await, Err(StoreError::NotFound(_))));
        assert_eq!(names(&s.llm_providers().await.unwrap()), vec!["c", "a2", "b"]);

        assert!(s.delete_llm_provider(c).await.unwrap());
        assert!(!s.delete_llm_provider(c).await.unwrap());
        assert_eq!(names(&s.llm_providers().await.unwrap()), vec!["a2", "b"]);
        let d = s.create_llm_provider(&w("d", 9)).await.unwrap();
        let all = s.llm_providers().await.unwrap();
        assert_eq!((all.last().unwrap().id, all.last().unwrap().position), (d, 3), "new ones go last");
    })
    .await;
}
