//! The watchlists port, on SQLite and (when configured) PostgreSQL: the default list made on
//! first use, ordering, duplicates, limits held under concurrency, and owner-only access.

mod support;

use std::sync::Arc;

use quantdesk_store::Store;
use quantdesk_store::watchlists::{AddOutcome, ReorderOutcome};
use support::each_backend;

async fn symbols(s: &dyn Store, owner: &str, id: i64) -> Vec<String> {
    s.watchlist_items(owner, id).await.unwrap().unwrap().into_iter().map(|i| i.symbol).collect()
}

#[tokio::test]
async fn the_default_list_is_made_once_on_first_use() {
    each_backend(|s| async move {
        assert!(s.list_watchlists("alice").await.unwrap().is_empty());
        let d = s.default_watchlist("alice", 1_000).await.unwrap();
        assert!(d.is_default && d.name.is_empty() && d.items == 0, "{d:?}");
        assert_eq!((d.owner.as_str(), d.created_at, d.updated_at), ("alice", 1_000, 1_000));
        let again = s.default_watchlist("alice", 2_000).await.unwrap();
        assert_eq!(again, d, "the same list, untouched");
        // Concurrent first uses of another owner make one default list.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move { s.default_watchlist("bob", 3_000 + i).await.unwrap().id })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(s.list_watchlists("bob").await.unwrap().len(), 1);
        // Creating a named list first also makes the default.
        s.create_watchlist("carol", "科技", 5_000, 10).await.unwrap().unwrap();
        let lists = s.list_watchlists("carol").await.unwrap();
        assert_eq!(
            lists.iter().map(|l| (l.name.as_str(), l.is_default)).collect::<Vec<_>>(),
            [("", true), ("科技", false)]
        );
    })
    .await;
}

#[tokio::test]
async fn lists_keep_their_order_refuse_duplicates_and_reorder_whole() {
    each_backend(|s| async move {
        let d = s.default_watchlist("alice", 1).await.unwrap().id;
        for (i, sym) in ["600519.SH", "000001.SZ", "GOOG"].iter().enumerate() {
            assert_eq!(s.add_watchlist_item("alice", d, sym, 10 + i as i64, 20).await.unwrap(), AddOutcome::Added);
        }
        assert_eq!(s.add_watchlist_item("alice", d, "GOOG", 20, 20).await.unwrap(), AddOutcome::Duplicate);
        assert_eq!(symbols(&*s, "alice", d).await, ["600519.SH", "000001.SZ", "GOOG"], "in the order added");
        let l = s.watchlist("alice", d).await.unwrap().unwrap();
        assert_eq!((l.items, l.updated_at), (3, 12), "a refused duplicate changes nothing");

        let order = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            s.reorder_watchlist("alice", d, &order(&["GOOG", "600519.SH", "000001.SZ"]), 30).await.unwrap(),
            ReorderOutcome::Done
        );
        assert_eq!(symbols(&*s, "alice", d).await, ["GOOG", "600519.SH", "000001.SZ"]);
        for bad in
            [&["GOOG", "600519.SH"][..], &["GOOG", "600519.SH", "000001.SZ", "AAPL"], &["GOOG", "GOOG", "600519.SH"]]
        {
            assert_eq!(
                s.reorder_watchlist("alice", d, &order(bad), 40).await.unwrap(),
                ReorderOutcome::Mismatch,
                "{bad:?}"
            );
        }
        assert_eq!(
            symbols(&*s, "alice", d).await,
            ["GOOG", "600519.SH", "000001.SZ"],
            "a refused reorder changes nothing"
        );

        assert!(s.remove_watchlist_item("alice", d, "600519.SH", 50).await.unwrap());
        assert!(!s.remove_watchlist_item("alice", d, "600519.SH", 51).await.unwrap(), "already gone");
        // A symbol added after a removal goes to the end.
        assert_eq!(s.add_watchlist_item("alice", d, "600519.SH", 60, 20).await.unwrap(), AddOutcome::Added);
        assert_eq!(symbols(&*s, "alice", d).await, ["GOOG", "000001.SZ", "600519.SH"]);
        assert_eq!(s.watchlist("alice", d).await.unwrap().unwrap().updated_at, 60);

        // Names: unique per owner, free for others; the default can be renamed, not deleted.
        let w = s.create_watchlist("alice", "白酒", 70, 10).await.unwrap().unwrap();
        assert!(s.create_watchlist("alice", "白酒", 71, 10).await.unwrap_err().is_conflict());
        assert!(s.create_watchlist("bob", "白酒", 72, 10).await.unwrap().is_some());
        assert!(s.rename_watchlist("alice", d, "core", 73).await.unwrap());
        assert!(s.rename_watchlist("alice", w, "core", 74).await.unwrap_err().is_conflict());
        let lists = s.list_watchlists("alice").await.unwrap();
        assert_eq!(
            lists.iter().map(|l| (l.id, l.name.as_str(), l.is_default, l.items)).collect::<Vec<_>>(),
            [(d, "core", true, 3), (w, "白酒", false, 0)],
            "the default first, then by creation"
        );
        assert!(!s.delete_watchlist("alice", d).await.unwrap(), "the default stays");
        assert_eq!(s.add_watchlist_item("alice", w, "GOOG", 80, 20).await.unwrap(), AddOutcome::Added);
        assert!(s.delete_watchlist("alice", w).await.unwrap());
        assert!(s.watchlist("alice", w).await.unwrap().is_none());
        assert!(s.watchlist_items("alice", w).await.unwrap().is_none());
        assert_eq!(s.add_watchlist_item("alice", w, "GOOG", 81, 20).await.unwrap(), AddOutcome::NoList);
        // The renamed default is still the default.
        assert_eq!(s.default_watchlist("alice", 90).await.unwrap().id, d);
    })
    .await;
}

#[tokio::test]
async fn another_owners_list_is_invisible_and_untouched() {
    each_backend(|s| async move {
        let d = s.default_watchlist("alice", 1).await.unwrap().id;
        let w = s.create_watchlist("alice", "mine", 2, 10).await.unwrap().unwrap();
        s.add_watchlist_item("alice", w, "GOOG", 3, 20).await.unwrap();
        assert!(s.watchlist("bob", w).await.unwrap().is_none());
        assert!(s.watchlist_items("bob", w).await.unwrap().is_none());
        assert_eq!(s.add_watchlist_item("bob", w, "AAPL", 4, 20).await.unwrap(), AddOutcome::NoList);
        assert!(!s.remove_watchlist_item("bob", w, "GOOG", 5).await.unwrap());
        assert_eq!(s.reorder_watchlist("bob", w, &["GOOG".to_string()], 6).await.unwrap(), ReorderOutcome::NoList);
        assert!(!s.rename_watchlist("bob", w, "theirs", 7).await.unwrap());
        assert!(!s.delete_watchlist("bob", w).await.unwrap());
        assert!(s.list_watchlists("bob").await.unwrap().is_empty());
        let l = s.watchlist("alice", w).await.unwrap().unwrap();
        assert_eq!((l.name.as_str(), l.items, l.updated_at), ("mine", 1, 3));
        assert_eq!(symbols(&*s, "alice", w).await, ["GOOG"]);
        assert_ne!(s.default_watchlist("bob", 8).await.unwrap().id, d, "bob's own default");
    })
    .await;
}

#[tokio::test]
async fn limits_hold_under_concurrent_writes() {
    each_backend(|s| async move {
        let d = s.default_watchlist("alice", 1).await.unwrap().id;
        for i in 0..3 {
            s.add_watchlist_item("alice", d, &format!("S{i}"), 2, 5).await.unwrap();
        }
        // Twelve concurrent adds of different symbols to a list of 3 with room for 5: exactly 2 land.
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let s: Arc<dyn Store> = s.clone();
                tokio::spawn(
                    async move { s.add_watchlist_item("alice", d, &format!("N{i}"), 10 + i, 5).await.unwrap() },
                )
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let added = outcomes.iter().filter(|o| **o == AddOutcome::Added).count();
        assert_eq!(added, 2, "{outcomes:?}");
        assert!(outcomes.iter().all(|o| matches!(o, AddOutcome::Added | AddOutcome::Full)), "{outcomes:?}");
        assert_eq!(s.watchlist("alice", d).await.unwrap().unwrap().items, 5);
        assert_eq!(s.add_watchlist_item("alice", d, "LATE", 30, 5).await.unwrap(), AddOutcome::Full);

        // Eight concurrent list creations with room for 3 lists in all (the default is one): 2 land.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s: Arc<dyn Store> = s.clone();
                tokio::spawn(async move { s.create_watchlist("bob", &format!("L{i}"), 40 + i, 3).await.unwrap() })
            })
            .collect();
        let mut made = 0;
        for t in tasks {
            made += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(made, 2);
        assert_eq!(s.list_watchlists("bob").await.unwrap().len(), 3);
    })
    .await;
}
