//! The valuations port (history and cache), on SQLite and (when configured) PostgreSQL.

mod support;

use quantdesk_store::valuations::{CacheKey, NewValuation, canonical_json, sha256_hex};
use support::each_backend;

fn v(owner: &str, ts_code: &str, date: &str, req: &str, inputs: &str, at: i64) -> NewValuation {
    NewValuation {
        owner: owner.into(),
        ts_code: ts_code.into(),
        valuation_date: date.into(),
        profile: "reference".into(),
        request_hash: sha256_hex(req.as_bytes()),
        inputs_hash: inputs.into(),
        request: req.into(),
        result: r#"{"dcf":{"value_per_share":1.5}}"#.into(),
        value_per_share: Some(1.5),
        created_at: at,
    }
}

#[tokio::test]
async fn save_get_list_and_count() {
    each_backend(|s| async move {
        let a = s.save_valuation(&v("alice", "600519.SH", "", "{}", "i1", 1_000)).await.unwrap();
        let b = s.save_valuation(&v("alice", "000999.SZ", "2024-05-01", "{}", "i1", 3_000)).await.unwrap();
        let c = s.save_valuation(&v("alice", "600519.SH", "", "{\"beta\":1}", "i1", 2_000)).await.unwrap();
        let other = s.save_valuation(&v("bob", "600519.SH", "", "{}", "i1", 4_000)).await.unwrap();
        let got = s.valuation(b).await.unwrap().unwrap();
        assert_eq!(
            (got.owner.as_str(), got.ts_code.as_str(), got.valuation_date.as_str()),
            ("alice", "000999.SZ", "2024-05-01")
        );
        assert_eq!((got.value_per_share, got.created_at, got.result.contains("1.5")), (Some(1.5), 3_000, true));
        assert!(s.valuation(other + 1000).await.unwrap().is_none());
        let ids = |l: Vec<quantdesk_store::valuations::SavedValuation>| l.into_iter().map(|x| x.id).collect::<Vec<_>>();
        assert_eq!(ids(s.list_valuations("alice", 10, 0).await.unwrap()), vec![b, c, a], "newest first");
        assert_eq!(ids(s.list_valuations("alice", 2, 1).await.unwrap()), vec![c, a], "paged");
        assert_eq!(ids(s.list_valuations("bob", 10, 0).await.unwrap()), vec![other]);
        assert_eq!(s.count_valuations("alice").await.unwrap(), 3);
        assert_eq!(s.count_valuations("carol").await.unwrap(), 0);
        let mut none = v("alice", "600519.SH", "", "{}", "i1", 5_000);
        none.value_per_share = None;
        let id = s.save_valuation(&none).await.unwrap();
        assert_eq!(s.valuation(id).await.unwrap().unwrap().value_per_share, None);
    })
    .await;
}

#[tokio::test]
async fn the_cache_matches_the_whole_key_and_answers_the_newest() {
    each_backend(|s| async move {
        let req = canonical_json(&serde_json::json!({"ts_code": "600519.SH", "beta": 1.1}));
        let h = sha256_hex(req.as_bytes());
        let key =
            |date: &'static str, inputs: &'static str, h: &str| (date.to_string(), inputs.to_string(), h.to_string());
        assert!(
            s.cached_valuation(&CacheKey {
                ts_code: "600519.SH",
                valuation_date: "",
                request_hash: &h,
                inputs_hash: "i1"
            })
            .await
            .unwrap()
            .is_none()
        );
        let old = s.save_valuation(&v("alice", "600519.SH", "", &req, "i1", 1_000)).await.unwrap();
        let new = s.save_valuation(&v("bob", "600519.SH", "", &req, "i1", 2_000)).await.unwrap();
        assert!(new != old);
        for (date, inputs, hash, want) in [
            key("", "i1", &h).into_with(Some(new)),
            key("2024-01-01", "i1", &h).into_with(None),
            key("", "i2", &h).into_with(None),
            key("", "i1", &sha256_hex(b"{}")).into_with(None),
        ] {
            let got = s
                .cached_valuation(&CacheKey {
                    ts_code: "600519.SH",
                    valuation_date: &date,
                    request_hash: &hash,
                    inputs_hash: &inputs,
                })
                .await
                .unwrap()
                .map(|x| x.id);
            assert_eq!(got, want, "{date:?} {inputs} {hash}");
        }
        let other_symbol = CacheKey { ts_code: "000999.SZ", valuation_date: "", request_hash: &h, inputs_hash: "i1" };
        assert!(s.cached_valuation(&other_symbol).await.unwrap().is_none());
    })
    .await;
}

trait With {
    fn into_with(self, want: Option<i64>) -> (String, String, String, Option<i64>);
}

impl With for (String, String, String) {
    fn into_with(self, want: Option<i64>) -> (String, String, String, Option<i64>) {
        (self.0, self.1, self.2, want)
    }
}
