//! The account-takeover and abuse fixes, each as the attack that worked before: guessing codes
//! (V1), racing the login throttle (V2), overwriting a pending sign-up (V3), telling accounts
//! apart by asking twice (V5), and the weaker spots around them (W1–W3, W6, W8).

mod common;

use axum::http::StatusCode;
use common::{TestApp, app, app_with, bearer, call, login, mailed_code, user_with_key};
use quantdesk_app::accounts::throttle;
use quantdesk_app::config::Config;
use quantdesk_store::auth::{AuditFilter, Role};
use serde_json::{Value, json};

fn wrong_for(code: &str, i: u32) -> String {
    let w = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
    assert_ne!(w, code);
    w
}

async fn audited(t: &TestApp, event: &str) -> Vec<quantdesk_store::auth::AuditEvent> {
    let f = AuditFilter { event: Some(event.into()), limit: 1000, ..Default::default() };
    t.state.store.audit_log(&f).await.unwrap()
}

fn messages_to(t: &TestApp, to: &str) -> Vec<String> {
    quantdesk_app::accounts::mailer::Mailbox::new(&t.state.config.mail.mailbox_dir, "x@y.z").messages_to(to)
}

/// V1: 20 cycles of "ask for a reset code, guess it five times" used to succeed eventually.
#[tokio::test]
async fn reset_codes_cannot_be_guessed_by_asking_again_and_again() {
    let t = app().await;
    user_with_key(&t.state, "victim@example.com", Role::Admin, &["read"]).await;
    let mut asked = Vec::new();
    let mut guessed = Vec::new();
    let mut code = None;
    for cycle in 0..20 {
        let (s, _, _) =
            call(&t, "POST", "/api/v1/auth/password/reset", &[], json!({"email": "victim@example.com"})).await;
        asked.push(s.as_u16());
        if s == 202 {
            code = Some(mailed_code(&t, "victim@example.com"));
        }
        let real = code.clone().expect("the first request sends a code");
        for i in 0..5 {
            let (s, _, _) = call(
                &t,
                "POST",
                "/api/v1/auth/password/reset/confirm",
                &[],
                json!({"email": "victim@example.com", "code": wrong_for(&real, cycle * 5 + i), "new_password": "attacker-owns-it-9"}),
            )
            .await;
            guessed.push(s.as_u16());
        }
    }
    assert_eq!(asked[0], 202);
    assert!(asked[1..].iter().all(|s| *s == 429), "no new code a minute: {asked:?}");
    let limit = throttle::GUESS_ACCOUNT.max as usize;
    assert!(guessed[..limit].iter().all(|s| *s == 422), "{guessed:?}");
    assert!(guessed[limit..].iter().all(|s| *s == 429), "then every guess is refused: {guessed:?}");
    // The owner is told, and the password is still theirs.
    assert_eq!(audited(&t, "code_guesses_exhausted").await.len(), 1);
    assert!(messages_to(&t, "victim@example.com").iter().any(|m| m.contains("entered too often")));
    login(&t, "victim@example.com", "tulip-granite-41").await;
}

/// V1: the budget is shared by every code of the address, and once spent even the right code
/// is refused.
#[tokio::test]
async fn the_guess_budget_spans_all_codes_and_refuses_even_the_right_one() {
    let t = app().await;
    user_with_key(&t.state, "v@example.com", Role::Viewer, &["read"]).await;
    let (s, _, _) = call(&t, "POST", "/api/v1/auth/password/reset", &[], json!({"email": "v@example.com"})).await;
    assert_eq!(s, 202);
    let code = mailed_code(&t, "v@example.com");
    for i in 0..4 {
        let body = json!({"email": "v@example.com", "code": wrong_for(&code, i), "new_password": "attacker-owns-it-9"});
        assert_eq!(call(&t, "POST", "/api/v1/auth/password/reset/confirm", &[], body).await.0, 422);
    }
    for i in 0..6 {
        let body = json!({"email": "v@example.com", "code": wrong_for(&code, 10 + i)});
        assert_eq!(call(&t, "POST", "/api/v1/auth/verify", &[], body).await.0, 422, "sign-up guesses count too");
    }
    let body = json!({"email": "v@example.com", "code": code, "new_password": "attacker-owns-it-9"});
    let (s, h, v) = call(&t, "POST", "/api/v1/auth/password/reset/confirm", &[], body).await;
    assert_eq!(s, 429, "{v}");
    assert!(h.contains_key("retry-after"));
    login(&t, "v@example.com", "tulip-granite-41").await;
}

/// V2: 30 concurrent wrong passwords from one address were all evaluated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_logins_are_evaluated_at_most_the_allowed_number() {
    let t = std::sync::Arc::new(app().await);
    user_with_key(&t.state, "race@example.com", Role::Analyst, &["read"]).await;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move {
                let body = json!({"email": "race@example.com", "password": format!("wrong-guess-{i}")});
                call(&t, "POST", "/api/v1/auth/login", &[], body).await.0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().as_u16());
    }
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    assert!(evaluated <= throttle::LOGIN_PAIR.free as usize, "{evaluated} evaluated: {statuses:?}");
    assert_eq!(evaluated + statuses.iter().filter(|s| **s == 429).count(), 30, "{statuses:?}");
    assert_eq!(audited(&t, "login_failed").await.len(), evaluated, "only evaluated attempts are failures");
    let body = json!({"email": "race@example.com", "password": "tulip-granite-41"});
    assert_eq!(call(&t, "POST", "/api/v1/auth/login", &[], body).await.0, 429, "the right password waits too");
}

/// V3: an attacker's sign-up for the victim's pending address replaced the password.
#[tokio::test]
async fn a_second_signup_cannot_replace_a_pending_password() {
    let t = app().await;
    let victim = json!({"email": "pending@example.com", "password": "victims-own-pass-1"});
    let attacker = json!({"email": "pending@example.com", "password": "attackers-pass-66"});
    assert_eq!(call(&t, "POST", "/api/v1/auth/signup", &[], victim.clone()).await.0, 202);
    let code = mailed_code(&t, "pending@example.com");
    assert_eq!(call(&t, "POST", "/api/v1/auth/signup", &[], attacker.clone()).await.0, 429, "within a minute");
    // A minute later (the issue limit forgotten), the attacker is answered as anyone but changes nothing.
    t.state.store.delete_counter(&throttle::key(&throttle::ISSUE_ACCOUNT, "pending@example.com")).await.unwrap();
    assert_eq!(call(&t, "POST", "/api/v1/auth/signup", &[], attacker.clone()).await.0, 202);
    assert_eq!(messages_to(&t, "pending@example.com").len(), 1, "no new code went out");
    let (s, _, v) = call(&t, "POST", "/api/v1/auth/login", &[], attacker.clone()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    assert!(t.state.store.user_by_email("pending@example.com").await.unwrap().is_none(), "nothing stored yet");
    let body = json!({"email": "pending@example.com", "code": code});
    assert_eq!(call(&t, "POST", "/api/v1/auth/verify", &[], body).await.0, 200);
    assert_eq!(call(&t, "POST", "/api/v1/auth/login", &[], attacker).await.0, 401, "the attacker has nothing");
    login(&t, "pending@example.com", "victims-own-pass-1").await;
    // The same person asking again with the same password gets a fresh code.
    t.state.store.delete_counter(&throttle::key(&throttle::ISSUE_ACCOUNT, "again@example.com")).await.unwrap();
    let again = json!({"email": "again@example.com", "password": "victims-own-pass-1"});
    assert_eq!(call(&t, "POST", "/api/v1/auth/signup", &[], again.clone()).await.0, 202);
    t.state.store.delete_counter(&throttle::key(&throttle::ISSUE_ACCOUNT, "again@example.com")).await.unwrap();
    assert_eq!(call(&t, "POST", "/api/v1/auth/signup", &[], again).await.0, 202);
    assert_eq!(messages_to(&t, "again@example.com").len(), 2);
}

/// V3: account recovery revokes every session and API key, audited and mailed.
#[tokio::test]
async fn a_reset_revokes_every_session_and_key() {
    let t = app().await;
    let key = user_with_key(&t.state, "owner@example.com", Role::Analyst, &["read"]).await;
    let (cookie, _) = login(&t, "owner@example.com", "tulip-granite-41").await;
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("authorization", &bearer(&key))], Value::Null).await.0, 200);
    assert_eq!(
        call(&t, "POST", "/api/v1/auth/password/reset", &[], json!({"email": "owner@example.com"})).await.0,
        202
    );
    let code = mailed_code(&t, "owner@example.com");
    let body = json!({"email": "owner@example.com", "code": code, "new_password": "basalt-orchid-77"});
    assert_eq!(call(&t, "POST", "/api/v1/auth/password/reset/confirm", &[], body).await.0, 200);
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("authorization", &bearer(&key))], Value::Null).await.0, 401);
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("cookie", &cookie)], Value::Null).await.0, 401);
    let reset = audited(&t, "password_reset").await;
    assert!(reset[0].detail.contains("1 API keys revoked"), "{:?}", reset[0]);
    assert!(messages_to(&t, "owner@example.com").iter().any(|m| m.contains("was reset")));
}

/// V5: the answers and their limits are the same whether the account exists or not.
#[tokio::test]
async fn signup_and_reset_answer_alike_for_existing_and_new_addresses() {
    let t = app().await;
    user_with_key(&t.state, "exists@example.com", Role::Viewer, &["read"]).await;
    let mut seqs = Vec::new();
    for email in ["exists@example.com", "new@example.com"] {
        let mut seq = Vec::new();
        for _ in 0..2 {
            let body = json!({"email": email, "password": "tulip-granite-99"});
            let (s, _, v) = call(&t, "POST", "/api/v1/auth/signup", &[], body).await;
            seq.push((s, v["error"]["code"].clone(), v["message"].clone()));
        }
        for _ in 0..2 {
            t.state.store.delete_counter(&throttle::key(&throttle::ISSUE_ACCOUNT, email)).await.unwrap();
        }
        for _ in 0..2 {
            let (s, _, v) = call(&t, "POST", "/api/v1/auth/password/reset", &[], json!({"email": email})).await;
            seq.push((s, v["error"]["code"].clone(), v["message"].clone()));
        }
        seqs.push(seq);
    }
    assert_eq!(seqs[0], seqs[1]);
    let statuses: Vec<u16> = seqs[0].iter().map(|s| s.0.as_u16()).collect();
    assert_eq!(statuses, [202, 429, 202, 429]);
}

/// W1: a password change can revoke the account's keys.
#[tokio::test]
async fn a_password_change_can_revoke_the_keys() {
    let t = app().await;
    let key = user_with_key(&t.state, "w1@example.com", Role::Analyst, &["read"]).await;
    let (cookie, csrf) = login(&t, "w1@example.com", "tulip-granite-41").await;
    let session = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let change = |current: &str, new: &str, revoke: bool| json!({"current_password": current, "new_password": new, "revoke_keys": revoke});
    let (s, _, v) = call(
        &t,
        "POST",
        "/api/v1/auth/password/change",
        &session,
        change("tulip-granite-41", "basalt-orchid-77", false),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("authorization", &bearer(&key))], Value::Null).await.0, 200);
    let (cookie, csrf) = login(&t, "w1@example.com", "basalt-orchid-77").await;
    let session = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let (s, _, v) = call(
        &t,
        "POST",
        "/api/v1/auth/password/change",
        &session,
        change("basalt-orchid-77", "granite-tulip-88", true),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(call(&t, "GET", "/api/v1/auth/me", &[("authorization", &bearer(&key))], Value::Null).await.0, 401);
}

/// W2: a key never makes a key that outlives it.
#[tokio::test]
async fn a_key_never_mints_a_longer_lived_key() {
    let t = app().await;
    let (_, _, me) = call(&t, "GET", "/api/v1/keys", &[("authorization", &bearer(&t.token))], Value::Null).await;
    let own = me[0]["expires_at"].as_str().unwrap().to_string();
    let body = json!({"name": "long", "scopes": ["read"], "expires_in_days": 3650});
    let (s, _, v) = call(&t, "POST", "/api/v1/keys", &[("authorization", &bearer(&t.token))], body).await;
    assert_eq!(s, 201, "{v}");
    let minted = v["key"]["expires_at"].as_str().unwrap();
    assert!(minted <= own.as_str(), "{minted} outlives {own}");
}

/// W3: failures from strangers' addresses cannot lock the owner out of an address the owner
/// signed in from before; an unknown address is held back by the account's ceiling.
#[tokio::test]
async fn strangers_cannot_lock_the_owner_out_of_a_known_address() {
    let t = app_with({
        let mut c = Config::default();
        c.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        c
    })
    .await;
    user_with_key(&t.state, "owner@example.com", Role::Analyst, &["read"]).await;
    let from = |ip: &str| [("x-forwarded-for", ip.to_string())];
    let try_login = async |ip: &str, password: &str| {
        let h = from(ip);
        let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        call(&t, "POST", "/api/v1/auth/login", &headers, json!({"email": "owner@example.com", "password": password}))
            .await
            .0
    };
    assert_eq!(try_login("10.0.0.1", "tulip-granite-41").await, 200, "the owner's usual address");
    let mut refused = 0;
    for i in 0..15 {
        for j in 0..3 {
            if try_login(&format!("10.1.{i}.1"), &format!("guess-{i}-{j}-x")).await == 429 {
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the account's ceiling for unknown addresses held strangers back");
    assert_eq!(try_login("10.9.9.9", "tulip-granite-41").await, 429, "a new address waits");
    assert_eq!(try_login("10.0.0.1", "tulip-granite-41").await, 200, "the owner's known address still works");
}

/// W6: an address the mailer would refuse is refused before anything is stored, and a mail that
/// cannot be sent leaves nothing behind.
#[tokio::test]
async fn bad_addresses_and_unsendable_mail_store_nothing() {
    let t = app().await;
    let hostile = "\"><svg/onload=alert(7)>@x.test";
    let (s, _, v) =
        call(&t, "POST", "/api/v1/auth/signup", &[], json!({"email": hostile, "password": "tulip-granite-99"})).await;
    assert_eq!(s, 400, "{v}");
    assert!(t.state.store.email_code(&hostile.to_lowercase(), "signup").await.unwrap().is_none());
    assert_eq!(t.state.store.count_users().await.unwrap(), 1, "only the test's admin");

    let smtp = quantdesk_app::config::Secret::new("smtp://127.0.0.1:1");
    let t = app_with({
        let mut c = Config::default();
        c.mail.smtp_url = smtp;
        c
    })
    .await;
    let (s, _, _) =
        call(&t, "POST", "/api/v1/auth/signup", &[], json!({"email": "m@example.com", "password": "tulip-granite-99"}))
            .await;
    assert_eq!(s, 500, "the mail could not go");
    assert!(t.state.store.email_code("m@example.com", "signup").await.unwrap().is_none(), "no code stays");
    assert!(t.state.store.user_by_email("m@example.com").await.unwrap().is_none());
}

/// W8: one user with five keys gets one allowance, not five.
#[tokio::test]
async fn the_rate_limit_is_per_user_across_keys() {
    let t = app_with({
        let mut c = Config::default();
        c.server.rate_limit_per_minute = 60;
        c
    })
    .await;
    user_with_key(&t.state, "many@example.com", Role::Analyst, &["read"]).await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(user_with_key(&t.state, "many@example.com", Role::Analyst, &["read"]).await);
    }
    let mut ok = 0;
    for i in 0..25 {
        let key = bearer(&keys[i % keys.len()]);
        if call(&t, "GET", "/api/v1/auth/me", &[("authorization", &key)], Value::Null).await.0 == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 10, "a burst of 10 for the user, whichever key");
}

/// Issue 22, item 5: resolved API keys and sessions are reused for `credential_cache_ms`
/// instead of reading the database on every request. A revocation through this process takes
/// effect at once; one made by another replica (another process over the same database) within
/// the configured bound.
#[tokio::test]
async fn a_revoked_key_stops_working_at_once_here_and_within_the_bound_on_another_replica() {
    let mut config = Config::default();
    config.auth.credential_cache_ms = 300;
    let a = app_with(config).await;
    // A second replica: another AppState (its own caches and accounts) over the same database.
    let b_state = quantdesk_server::AppState::new(
        a.state.store.clone(),
        (*a.state.config).clone(),
        quantdesk_server::ops::metrics_handle(),
    );
    let b_router = quantdesk_server::router(b_state.clone());
    let ask = |router: axum::Router, token: String| async move {
        let req = axum::http::Request::get("/api/v1/auth/me")
            .header("authorization", bearer(&token))
            .body(axum::body::Body::empty())
            .unwrap();
        tower::ServiceExt::oneshot(router, req).await.unwrap().status()
    };
    let token = user_with_key(&a.state, "owner@example.com", Role::Analyst, &["read"]).await;
    // Both replicas resolve the key (and now hold it).
    assert_eq!(ask(a.router.clone(), token.clone()).await, StatusCode::OK);
    assert_eq!(ask(b_router.clone(), token.clone()).await, StatusCode::OK);
    let key_of = |email: &'static str| {
        let store = a.state.store.clone();
        async move {
            let user = store.user_by_email(email).await.unwrap().unwrap();
            store.api_keys(Some(user.id)).await.unwrap()[0].id
        }
    };
    let key_id = key_of("owner@example.com").await;
    let admin = a.state.store.user_by_email("admin@test.example").await.unwrap().unwrap();
    let actor = quantdesk_app::accounts::Actor::command_line(&admin);
    a.state.accounts().revoke_key(&std::net::IpAddr::from([127, 0, 0, 1]), &actor, key_id).await.unwrap();
    // Here: at once, although the key was cached a moment ago.
    assert_eq!(ask(a.router.clone(), token.clone()).await, StatusCode::UNAUTHORIZED);
    // On the other replica: once the bound has passed.
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(ask(b_router.clone(), token.clone()).await, StatusCode::UNAUTHORIZED);
    // With the cache off, every request reads the database.
    let mut off = (*a.state.config).clone();
    off.auth.credential_cache_ms = 0;
    let token2 = user_with_key(&a.state, "second@example.com", Role::Analyst, &["read"]).await;
    let c_router = quantdesk_server::router(quantdesk_server::AppState::new(
        a.state.store.clone(),
        off,
        quantdesk_server::ops::metrics_handle(),
    ));
    assert_eq!(ask(c_router.clone(), token2.clone()).await, StatusCode::OK);
    let id2 = key_of("second@example.com").await;
    a.state.accounts().revoke_key(&std::net::IpAddr::from([127, 0, 0, 1]), &actor, id2).await.unwrap();
    assert_eq!(ask(c_router, token2).await, StatusCode::UNAUTHORIZED);
}
