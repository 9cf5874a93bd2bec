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

fn sc(name: &str, preset: &str, overlay: &str, at: i64) -> quantdesk_store::valuations::ScenarioWrite {
    quantdesk_store::valuations::ScenarioWrite { name: name.into(), preset: preset.into(), overlay: overlay.into(), at }
}

#[tokio::test]
async fn scenarios_are_per_owner_with_unique_names() {
    each_backend(|s| async move {
        let a = s.create_scenario("alice", &sc("稳健", "bear", r#"["beta=1.2"]"#, 1_000)).await.unwrap();
        let b = s.create_scenario("alice", &sc("aggressive", "", r#"["exit_multiple=12","beta=0.8"]"#, 2_000)).await;
        let b = b.unwrap();
        // Another owner may use the same name.
        let bob = s.create_scenario("bob", &sc("稳健", "bull", "[]", 3_000)).await.unwrap();
        assert!(a != b && b != bob);
        // A name the owner already uses is a conflict, and nothing is written.
        let dup = s.create_scenario("alice", &sc("稳健", "", "[]", 4_000)).await.unwrap_err();
        assert!(dup.is_conflict(), "{dup}");
        assert_eq!(s.count_scenarios("alice").await.unwrap(), 2);
        assert_eq!(s.count_scenarios("carol").await.unwrap(), 0);

        let list = s.list_scenarios("alice").await.unwrap();
        let names: Vec<&str> = list.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["aggressive", "稳健"], "by name");
        let got = s.scenario("alice", b).await.unwrap().unwrap();
        assert_eq!(
            (got.owner.as_str(), got.preset.as_str(), got.overlay.as_str(), got.created_at, got.updated_at),
            ("alice", "", r#"["exit_multiple=12","beta=0.8"]"#, 2_000, 2_000)
        );
        assert_eq!(s.scenario_by_name("alice", "稳健").await.unwrap().map(|x| x.id), Some(a));
        assert_eq!(s.scenario_by_name("bob", "稳健").await.unwrap().map(|x| x.id), Some(bob));
        assert!(s.scenario_by_name("alice", "nope").await.unwrap().is_none());

        // Someone else's scenario is invisible: not read, not changed, not deleted.
        assert!(s.scenario("bob", a).await.unwrap().is_none());
        assert!(!s.update_scenario("bob", a, &sc("x", "", "[]", 5_000)).await.unwrap());
        assert!(!s.delete_scenario("bob", a).await.unwrap());
        assert_eq!(s.scenario("alice", a).await.unwrap().unwrap().name, "稳健");

        // Update replaces name, preset and overlay and keeps created_at.
        assert!(
            s.update_scenario("alice", a, &sc("careful", "conservative", r#"["size_premium=0.02"]"#, 6_000))
                .await
                .unwrap()
        );
        let got = s.scenario("alice", a).await.unwrap().unwrap();
        assert_eq!(
            (got.name.as_str(), got.preset.as_str(), got.overlay.as_str(), got.created_at, got.updated_at),
            ("careful", "conservative", r#"["size_premium=0.02"]"#, 1_000, 6_000)
        );
        // Renaming onto a name in use is a conflict and changes nothing.
        let e = s.update_scenario("alice", a, &sc("aggressive", "", "[]", 7_000)).await.unwrap_err();
        assert!(e.is_conflict(), "{e}");
        assert_eq!(s.scenario("alice", a).await.unwrap().unwrap(), got);
        // The old name is free again.
        let again = s.create_scenario("alice", &sc("稳健", "", "[]", 8_000)).await.unwrap();
        assert!(!s.update_scenario("alice", again + 1000, &sc("z", "", "[]", 9_000)).await.unwrap(), "missing id");

        assert!(s.delete_scenario("alice", a).await.unwrap());
        assert!(!s.delete_scenario("alice", a).await.unwrap(), "already gone");
        assert!(s.scenario("alice", a).await.unwrap().is_none());
        assert_eq!(s.count_scenarios("alice").await.unwrap(), 2);
        assert_eq!(s.list_scenarios("bob").await.unwrap().len(), 1);
    })
    .await;
}
