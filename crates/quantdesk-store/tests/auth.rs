//! Account storage, on SQLite and (when configured) PostgreSQL.

mod support;

use quantdesk_store::auth::{AuditEvent, AuditFilter, EmailCode, NewApiKey, Role, SessionRow};
use support::each_backend;

#[tokio::test]
async fn users_are_unique_by_email_and_their_changes_stick() {
    each_backend(|s| async move {
        let a = s.create_user("a@x.test", "h1", Role::Analyst, false, 10).await.unwrap().unwrap();
        assert_eq!(s.create_user("a@x.test", "h2", Role::Admin, true, 11).await.unwrap(), None, "taken");
        let u = s.user_by_email("a@x.test").await.unwrap().unwrap();
        assert_eq!(
            (u.id, u.role, u.verified, u.disabled, u.password_hash.as_str()),
            (a, Role::Analyst, false, false, "h1")
        );
        assert!(s.set_verified(a).await.unwrap());
        assert!(s.set_role(a, Role::Admin).await.unwrap());
        assert!(!s.set_role(a + 100, Role::Admin).await.unwrap(), "no such user");
        let u = s.user(a).await.unwrap().unwrap();
        assert_eq!((u.role, u.verified), (Role::Admin, true));
        s.create_user("b@x.test", "h", Role::Viewer, true, 12).await.unwrap().unwrap();
        assert_eq!(s.count_users().await.unwrap(), 2);
        let emails: Vec<String> = s.users().await.unwrap().into_iter().map(|u| u.email).collect();
        assert_eq!(emails, ["a@x.test", "b@x.test"]);
    })
    .await;
}

fn session(id: &str, user: i64, at: i64) -> SessionRow {
    SessionRow { id_hash: id.into(), user_id: user, csrf: format!("csrf-{id}"), created_at: at, last_seen: at }
}

#[tokio::test]
async fn password_change_and_disabling_end_every_session() {
    each_backend(|s| async move {
        let a = s.create_user("a@x.test", "h1", Role::Analyst, true, 0).await.unwrap().unwrap();
        let b = s.create_user("b@x.test", "h1", Role::Analyst, true, 0).await.unwrap().unwrap();
        s.create_session(&session("s1", a, 100)).await.unwrap();
        s.create_session(&session("s2", a, 100)).await.unwrap();
        s.create_session(&session("s3", b, 100)).await.unwrap();
        let (row, user) = s.session("s1").await.unwrap().unwrap();
        assert_eq!((row.csrf.as_str(), user.id), ("csrf-s1", a));
        s.touch_session("s1", 500).await.unwrap();
        assert_eq!(s.session("s1").await.unwrap().unwrap().0.last_seen, 500);

        assert!(s.set_password(a, "h2").await.unwrap());
        assert!(s.session("s1").await.unwrap().is_none());
        assert!(s.session("s2").await.unwrap().is_none());
        assert!(s.session("s3").await.unwrap().is_some(), "other users keep theirs");
        assert_eq!(s.user(a).await.unwrap().unwrap().password_hash, "h2");

        assert!(s.set_disabled(b, true).await.unwrap());
        assert!(s.session("s3").await.unwrap().is_none());
        assert!(s.user(b).await.unwrap().unwrap().disabled);

        s.create_session(&session("old", a, 10)).await.unwrap();
        s.create_session(&session("idle", a, 1000)).await.unwrap();
        s.create_session(&session("fresh", a, 5000)).await.unwrap();
        assert_eq!(s.prune_sessions(2000, 50).await.unwrap(), 2);
        assert!(s.session("fresh").await.unwrap().is_some());
        s.delete_session("fresh").await.unwrap();
        assert!(s.session("fresh").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn api_keys_are_found_by_prefix_and_revoked_by_their_owner() {
    each_backend(|s| async move {
        let a = s.create_user("a@x.test", "h", Role::Analyst, true, 0).await.unwrap().unwrap();
        let b = s.create_user("b@x.test", "h", Role::Analyst, true, 0).await.unwrap().unwrap();
        let new = |user, prefix: &str| NewApiKey {
            user_id: user,
            name: format!("key {prefix}"),
            prefix: prefix.into(),
            secret_hash: format!("hash-{prefix}"),
            scopes: "read,jobs".into(),
            expires_at: Some(9999),
        };
        let k1 = s.create_api_key(&new(a, "p1"), 10).await.unwrap();
        let k2 = s.create_api_key(&new(b, "p2"), 20).await.unwrap();
        assert!(s.create_api_key(&new(b, "p2"), 21).await.is_err(), "prefixes are unique");
        let k = s.api_key_by_prefix("p1").await.unwrap().unwrap();
        assert_eq!((k.id, k.user_id, k.secret_hash.as_str(), k.expires_at), (k1, a, "hash-p1", Some(9999)));
        assert_eq!(s.api_keys(Some(a)).await.unwrap().len(), 1);
        assert_eq!(s.api_keys(None).await.unwrap().iter().map(|k| k.id).collect::<Vec<_>>(), [k2, k1]);
        assert!(!s.revoke_api_key(k2, Some(a), 30).await.unwrap(), "not a's key");
        assert!(s.revoke_api_key(k1, Some(a), 30).await.unwrap());
        assert!(!s.revoke_api_key(k1, Some(a), 31).await.unwrap(), "already revoked");
        assert_eq!(s.api_key_by_prefix("p1").await.unwrap().unwrap().revoked_at, Some(30));
        s.touch_api_key(k2, 40).await.unwrap();
        assert_eq!(s.api_key_by_prefix("p2").await.unwrap().unwrap().last_used_at, Some(40));
        assert!(s.revoke_api_key(k2, None, 50).await.unwrap(), "admins revoke any key");
    })
    .await;
}

#[tokio::test]
async fn email_codes_are_not_resent_too_soon_and_count_guesses() {
    each_backend(|s| async move {
        let code = |h: &str, at: i64| EmailCode {
            code_hash: h.into(),
            sent_at: at,
            expires_at: at + 600_000,
            attempts: 0,
            secret: format!("pw-{h}"),
        };
        assert!(s.put_email_code("a@x.test", "signup", &code("c1", 1000), 1000 - 60_000).await.unwrap());
        assert!(!s.put_email_code("a@x.test", "signup", &code("c2", 30_000), 30_000 - 60_000).await.unwrap());
        assert_eq!(s.email_code("a@x.test", "signup").await.unwrap().unwrap().code_hash, "c1", "too soon: kept");
        assert!(
            s.put_email_code("a@x.test", "reset", &code("r1", 30_000), 30_000 - 60_000).await.unwrap(),
            "per purpose"
        );
        assert_eq!(s.bump_email_code("a@x.test", "signup").await.unwrap(), 1);
        assert_eq!(s.bump_email_code("a@x.test", "signup").await.unwrap(), 2);
        assert!(s.put_email_code("a@x.test", "signup", &code("c3", 70_000), 70_000 - 60_000).await.unwrap());
        let c = s.email_code("a@x.test", "signup").await.unwrap().unwrap();
        assert_eq!((c.code_hash.as_str(), c.attempts, c.sent_at, c.secret.as_str()), ("c3", 0, 70_000, "pw-c3"));
        s.delete_email_code("a@x.test", "signup").await.unwrap();
        assert!(s.email_code("a@x.test", "signup").await.unwrap().is_none());
        assert_eq!(s.bump_email_code("a@x.test", "signup").await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn counters_are_compared_and_set_so_concurrent_takers_never_both_win() {
    use quantdesk_store::auth::Counter;
    each_backend(|s| async move {
        let c1 = Counter { window_start: 10, n: 1, last_at: 10 };
        assert!(s.counter("login:a").await.unwrap().is_none());
        assert!(s.cas_counter("login:a", None, &c1).await.unwrap());
        assert!(!s.cas_counter("login:a", None, &c1).await.unwrap(), "exists already");
        assert_eq!(s.counter("login:a").await.unwrap(), Some(c1));
        let c2 = Counter { window_start: 10, n: 2, last_at: 20 };
        assert!(s.cas_counter("login:a", Some(&c1), &c2).await.unwrap());
        assert!(!s.cas_counter("login:a", Some(&c1), &c2).await.unwrap(), "stale expectation");
        assert_eq!(s.counter("login:a").await.unwrap(), Some(c2));

        // Many takers racing from the same expectation: exactly one wins each round.
        let mut wins = 0;
        for round in 0..5i64 {
            let cur = s.counter("race").await.unwrap();
            let next = Counter { window_start: 0, n: round + 1, last_at: round };
            let attempts = (0..8).map(|_| {
                let s = s.clone();
                async move { s.cas_counter("race", cur.as_ref(), &next).await.unwrap() }
            });
            let won = futures_util::future::join_all(attempts).await.into_iter().filter(|w| *w).count();
            assert_eq!(won, 1, "round {round}");
            wins += won;
        }
        assert_eq!(s.counter("race").await.unwrap().unwrap().n, wins as i64);

        s.put_counter("known:a|1.2.3.4", &Counter { window_start: 5, n: 1, last_at: 5 }).await.unwrap();
        s.put_counter("known:a|1.2.3.4", &Counter { window_start: 50, n: 1, last_at: 50 }).await.unwrap();
        assert_eq!(s.counter("known:a|1.2.3.4").await.unwrap().unwrap().last_at, 50, "put replaces");
        assert_eq!(s.prune_counters("login:%", 15).await.unwrap(), 0, "login:a was last taken at 20");
        assert_eq!(s.prune_counters("%", 30).await.unwrap(), 2, "login:a and race go, known stays");
        assert!(s.counter("known:a|1.2.3.4").await.unwrap().is_some());
        s.delete_counter("known:a|1.2.3.4").await.unwrap();
        assert!(s.counter("known:a|1.2.3.4").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_users_keys_are_revoked_together() {
    each_backend(|s| async move {
        let a = s.create_user("a@x.test", "h", Role::Analyst, true, 1).await.unwrap().unwrap();
        let b = s.create_user("b@x.test", "h", Role::Analyst, true, 1).await.unwrap().unwrap();
        let key = |user_id, prefix: &str| NewApiKey {
            user_id,
            name: "k".into(),
            prefix: prefix.into(),
            secret_hash: "s".into(),
            scopes: "read".into(),
            expires_at: None,
        };
        let k1 = s.create_api_key(&key(a, "p1"), 1).await.unwrap();
        s.create_api_key(&key(a, "p2"), 1).await.unwrap();
        s.create_api_key(&key(b, "p3"), 1).await.unwrap();
        assert!(s.revoke_api_key(k1, None, 5).await.unwrap());
        assert_eq!(s.revoke_user_api_keys(a, 9).await.unwrap(), 1, "only the live one");
        let keys = s.api_keys(None).await.unwrap();
        let revoked: Vec<_> = keys.iter().map(|k| (k.prefix.as_str(), k.revoked_at)).collect();
        assert!(revoked.contains(&("p1", Some(5))) && revoked.contains(&("p2", Some(9))));
        assert!(revoked.contains(&("p3", None)), "another user's key lives");
    })
    .await;
}

#[tokio::test]
async fn failures_are_counted_in_a_window_and_the_audit_log_filters() {
    each_backend(|s| async move {
        for at in [100, 200, 300] {
            s.record_failure("acct:a@x.test", at).await.unwrap();
        }
        s.record_failure("ip:10.0.0.1", 250).await.unwrap();
        assert_eq!(s.failures("acct:a@x.test", 150).await.unwrap(), (2, Some(300)));
        assert_eq!(s.failures("acct:nobody", 0).await.unwrap(), (0, None));
        assert_eq!(s.prune_failures(150).await.unwrap(), 1);
        s.clear_failures("acct:a@x.test").await.unwrap();
        assert_eq!(s.failures("acct:a@x.test", 0).await.unwrap().0, 0);
        assert_eq!(s.failures("ip:10.0.0.1", 0).await.unwrap().0, 1);

        let ev = |at, event: &str, actor: &str| AuditEvent {
            id: 0,
            at,
            user_id: None,
            actor: actor.into(),
            event: event.into(),
            target: "t".into(),
            ip: "127.0.0.1".into(),
            detail: String::new(),
        };
        s.audit(&ev(1, "login", "a@x.test")).await.unwrap();
        s.audit(&ev(2, "login_failed", "B@x.test")).await.unwrap();
        s.audit(&ev(3, "login", "c@x.test")).await.unwrap();
        let all = s.audit_log(&AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(all.iter().map(|e| e.at).collect::<Vec<_>>(), [3, 2, 1]);
        let logins =
            s.audit_log(&AuditFilter { event: Some("login".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(logins.len(), 2);
        let b = s.audit_log(&AuditFilter { text: Some("b@X".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(b.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["login_failed"]);
        let page =
            s.audit_log(&AuditFilter { before_id: Some(all[0].id), limit: 1, ..Default::default() }).await.unwrap();
        assert_eq!(page[0].at, 2);
    })
    .await;
}

#[tokio::test]
async fn schedules_remember_their_owner() {
    each_backend(|s| async move {
        let sch = quantdesk_store::jobs::Schedule {
            id: 0,
            owner: "7".into(),
            name: "mine".into(),
            cron: "0 18 * * *".into(),
            timezone: "Asia/Shanghai".into(),
            kind: "echo".into(),
            params: "{}".into(),
            enabled: true,
            catch_up: false,
            last_fire: None,
            created_at: 0,
        };
        s.upsert_schedule(&sch).await.unwrap();
        assert_eq!(s.schedules().await.unwrap()[0].owner, "7");
    })
    .await;
}

#[tokio::test]
async fn preferences_are_per_user_replaced_and_bounded() {
    each_backend(|s| async move {
        let a = s.create_user("a@x.test", "h", Role::Analyst, true, 0).await.unwrap().unwrap();
        let b = s.create_user("b@x.test", "h", Role::Analyst, true, 0).await.unwrap().unwrap();
        assert_eq!(s.pref(a, "replay").await.unwrap(), None);
        assert!(s.put_pref(a, "replay", "1", 1, 2).await.unwrap());
        assert!(s.put_pref(a, "replay", "2", 2, 2).await.unwrap(), "replacing is not another setting");
        assert_eq!(s.pref(a, "replay").await.unwrap().as_deref(), Some("2"));
        assert_eq!(s.pref(b, "replay").await.unwrap(), None, "per user");
        assert!(s.put_pref(a, "other", "x", 3, 2).await.unwrap());
        assert!(!s.put_pref(a, "third", "x", 4, 2).await.unwrap(), "at most 2");
        assert_eq!(s.pref(a, "third").await.unwrap(), None);
        assert!(s.put_pref(b, "third", "x", 4, 2).await.unwrap(), "the bound is per user");
        // Writers at once: each lands (no "database is locked" from a read-then-write).
        let writes = (0..16).map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.put_pref(b, &format!("k{}", i % 4), &i.to_string(), 5, 200).await })
        });
        for w in writes {
            assert!(w.await.unwrap().unwrap());
        }
    })
    .await;
}
