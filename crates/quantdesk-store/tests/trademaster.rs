//! The TradeMaster sessions port, on SQLite and (when configured) PostgreSQL.

mod support;

use support::each_backend;

#[tokio::test]
async fn sessions_belong_to_their_owner_and_update_by_version() {
    each_backend(|s| async move {
        s.create_tm_session("alice", "s-1", "{}", 1_000).await.unwrap();
        assert!(s.create_tm_session("bob", "s-1", "{}", 1_001).await.unwrap_err().is_conflict());
        let got = s.tm_session("alice", "s-1").await.unwrap().unwrap();
        assert_eq!((got.owner.as_str(), got.state.as_str(), got.version, got.created_at), ("alice", "{}", 0, 1_000));
        assert!(s.tm_session("bob", "s-1").await.unwrap().is_none(), "another owner sees nothing");
        assert!(s.tm_session("alice", "s-2").await.unwrap().is_none());

        assert!(!s.update_tm_session("bob", "s-1", 0, r#"{"x":1}"#, 2_000).await.unwrap());
        assert!(s.update_tm_session("alice", "s-1", 0, r#"{"x":1}"#, 2_000).await.unwrap());
        // A second writer that read version 0 loses.
        assert!(!s.update_tm_session("alice", "s-1", 0, r#"{"x":2}"#, 2_001).await.unwrap());
        let got = s.tm_session("alice", "s-1").await.unwrap().unwrap();
        assert_eq!((got.state.as_str(), got.version, got.updated_at), (r#"{"x":1}"#, 1, 2_000));
    })
    .await;
}

#[tokio::test]
async fn datasets_are_stored_only_in_the_owners_session() {
    each_backend(|s| async move {
        s.create_tm_session("alice", "s-1", "{}", 1_000).await.unwrap();
        let bytes = b"date,adjcp\n2020-01-01,1.5\n\x00\xff".to_vec();
        assert!(s.put_tm_dataset("alice", "s-1", "btc", &bytes, 1_100).await.unwrap());
        assert!(s.put_tm_dataset("alice", "s-1", "eth", b"a", 1_200).await.unwrap());
        assert!(!s.put_tm_dataset("bob", "s-1", "evil", b"x", 1_300).await.unwrap(), "not bob's session");
        assert!(!s.put_tm_dataset("alice", "nope", "btc", b"x", 1_300).await.unwrap(), "no such session");
        assert_eq!(s.tm_dataset("alice", "s-1", "btc").await.unwrap(), Some(bytes));
        assert_eq!(s.tm_dataset("bob", "s-1", "btc").await.unwrap(), None);
        assert_eq!(s.tm_dataset_names("alice", "s-1").await.unwrap(), ["btc", "eth"]);
        assert!(s.tm_dataset_names("bob", "s-1").await.unwrap().is_empty());
        // A new upload of a name replaces it.
        assert!(s.put_tm_dataset("alice", "s-1", "btc", b"new", 1_400).await.unwrap());
        assert_eq!(s.tm_dataset("alice", "s-1", "btc").await.unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(s.tm_dataset_names("alice", "s-1").await.unwrap(), ["eth", "btc"]);
    })
    .await;
}
