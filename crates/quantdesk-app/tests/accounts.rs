//! The account services on their own, over a SQLite store and the development mailbox: no HTTP
//! state, no request, no session. What they refuse is said by a kind and a stable code, which
//! the HTTP layer maps to its statuses in one place.

use std::net::IpAddr;
use std::sync::Arc;

use quantdesk_app::accounts::mailer::Mailbox;
use quantdesk_app::accounts::{AccountSettings, Accounts, Actor, Scope, Via, secrets};
use quantdesk_app::{AppError, ErrorKind};
use quantdesk_store::auth::{AuditFilter, Role};

const PASSWORD: &str = "tulip-granite-41";
const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

struct Fixture {
    accounts: Accounts,
    store: Arc<dyn quantdesk_store::Store>,
    _dir: tempfile::TempDir,
}

async fn fixture(signup: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = quantdesk_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 2).await.unwrap();
    let settings = AccountSettings {
        signup,
        signup_role: Role::Viewer,
        session_idle_mins: 60,
        session_max_hours: 24,
        signup_coins: 20,
    };
    let mailer = Arc::new(Mailbox::new(dir.path().join("mail"), "quantdesk <noreply@quantdesk.test>"));
    Fixture { accounts: Accounts::new(store.clone(), settings, mailer), store, _dir: dir }
}

fn kind_and_code(e: &AppError) -> (ErrorKind, &'static str) {
    (e.kind(), e.code())
}

#[tokio::test]
async fn the_command_line_creates_a_key_with_its_own_actor() {
    let f = fixture(false).await;
    let (user, created) = f.accounts.ensure_user("Ops@Example.com", PASSWORD, Role::Analyst, false).await.unwrap();
    assert!(created && user.verified && user.email == "ops@example.com");
    let actor = Actor::command_line(&user);
    assert!(matches!(actor.via, Via::CommandLine));
    assert_eq!(actor.scopes(), [Scope::Read, Scope::Jobs], "the account's role");

    let scopes = vec!["jobs".to_string(), "read".to_string()];
    let (row, token) = f.accounts.create_key(&IP, &actor, "nightly", &scopes, 30).await.unwrap();
    assert_eq!((row.user_id, row.name.as_str(), row.scopes.as_str()), (user.id, "nightly", "read,jobs"));
    let (prefix, secret) = secrets::parse_api_key(&token).expect("a key-shaped token");
    assert_eq!(prefix, row.prefix);
    assert_eq!(secrets::sha256_hex(secret), row.secret_hash, "only the hash is stored");
    let days = (row.expires_at.unwrap() - row.created_at) / 86_400_000;
    assert_eq!(days, 30, "a command-line key is not clamped like a key made by a key");
    let f_audit = AuditFilter { event: Some("key_created".into()), limit: 10, ..Default::default() };
    let audited = f.store.audit_log(&f_audit).await.unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!((audited[0].user_id, audited[0].actor.as_str()), (Some(user.id), "ops@example.com"));

    // No more than the role allows, and the same checks as over HTTP.
    let e = f.accounts.create_key(&IP, &actor, "root", &["admin".into()], 30).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Forbidden, "forbidden"), "{e}");
    let e = f.accounts.create_key(&IP, &actor, " ", &scopes, 30).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Malformed, "bad_request"), "{e}");
    let e = f.accounts.create_key(&IP, &actor, "x", &["root".into()], 30).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Malformed, "bad_request"), "{e}");

    // The key revokes like any other; a second revocation finds nothing.
    f.accounts.revoke_key(&IP, &actor, row.id).await.unwrap();
    let e = f.accounts.revoke_key(&IP, &actor, row.id).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::NotFound, "not_found"));
}

#[tokio::test]
async fn refusals_carry_the_kind_and_the_code_clients_tell_apart() {
    let f = fixture(false).await;
    let (user, _) = f.accounts.ensure_user("a@example.com", PASSWORD, Role::Admin, false).await.unwrap();

    let e = f.accounts.ensure_user("a@example.com", PASSWORD, Role::Admin, false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.message().contains("already has an account"), "{e}");
    let e = f.accounts.ensure_user("b@example.com", "short", Role::Viewer, false).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Malformed, "weak_password"), "too short breaks the schema");
    let e = f.accounts.ensure_user("b@example.com", "password123", Role::Viewer, false).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Invalid, "weak_password"), "a common one is refused by a rule");
    let e = f.accounts.ensure_user("not an address", PASSWORD, Role::Viewer, false).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Malformed, "bad_request"));

    let e = f.accounts.signup(&IP, "c@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Forbidden, "forbidden"), "sign-up is closed here");

    let e = f.accounts.login(&IP, "a@example.com", "wrong-password-1").await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Unauthenticated, "invalid_credentials"));
    let e = f.accounts.verify(&IP, "a@example.com", "000000").await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Invalid, "invalid_code"));

    let me = Actor::command_line(&user);
    let e = f.accounts.change_password(&IP, &me, "wrong-password-1", "new-password-42", false).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Invalid, "invalid_credentials"), "a wrong current password is a 422");
    assert_eq!(
        f.accounts.change_password(&IP, &me, PASSWORD, "new-password-42", false).await.unwrap(),
        None,
        "no session to renew on the command line"
    );
    let e = f.accounts.update_user(&IP, &me, user.id, Some(Role::Viewer), None).await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Conflict, "conflict"));

    // A disabled account with the right password is told so; an unverified one likewise.
    f.store.set_disabled(user.id, true).await.unwrap();
    let e = f.accounts.login(&IP, "a@example.com", "new-password-42").await.unwrap_err();
    assert_eq!(kind_and_code(&e), (ErrorKind::Forbidden, "account_disabled"));
}

#[tokio::test]
async fn sign_in_attempts_run_out_with_a_time_to_wait() {
    let f = fixture(true).await;
    f.accounts.ensure_user("d@example.com", PASSWORD, Role::Viewer, false).await.unwrap();
    let mut last = None;
    for _ in 0..10 {
        match f.accounts.login(&IP, "d@example.com", "wrong-password-1").await {
            Err(e) if e.kind() == ErrorKind::QuotaExceeded => {
                last = Some(e);
                break;
            }
            Err(e) => assert_eq!(e.code(), "invalid_credentials"),
            Ok(_) => panic!("a wrong password signed in"),
        }
    }
    let e = last.expect("the login limit");
    assert_eq!(e.code(), "rate_limited");
    assert!(e.retry_after_secs().is_some_and(|s| s >= 1), "{e:?}");
    assert!(e.message().contains("try again in"), "{e}");
    assert!(e.is_transient());
}

#[test]
fn sessions_live_within_their_idle_and_total_times() {
    let s = AccountSettings {
        signup: false,
        signup_role: Role::Viewer,
        session_idle_mins: 30,
        session_max_hours: 2,
        signup_coins: 20,
    };
    let row = |created_at, last_seen| quantdesk_store::auth::SessionRow {
        id_hash: String::new(),
        user_id: 1,
        csrf: String::new(),
        created_at,
        last_seen,
    };
    assert!(s.session_live(&row(0, 0), 30 * 60_000));
    assert!(!s.session_live(&row(0, 0), 30 * 60_000 + 1), "idle too long");
    assert!(s.session_live(&row(0, 110 * 60_000), 2 * 3_600_000));
    assert!(!s.session_live(&row(0, 110 * 60_000), 2 * 3_600_000 + 1), "older than the longest session");
}

#[test]
fn settings_come_from_the_configuration() {
    let mut cfg = quantdesk_app::config::Config::default();
    cfg.auth.signup = true;
    cfg.auth.signup_role = "analyst".into();
    cfg.auth.session_idle_mins = 5;
    cfg.auth.session_max_hours = 7;
    let s = AccountSettings::from_config(&cfg);
    assert_eq!(
        s,
        AccountSettings {
            signup: true,
            signup_role: Role::Analyst,
            session_idle_mins: 5,
            session_max_hours: 7,
            signup_coins: 20
        }
    );
    let odd = {
        let mut c = quantdesk_app::config::Config::default();
        c.auth.signup_role = "root".into();
        c
    };
    assert_eq!(
        AccountSettings::from_config(&odd).signup_role,
        Role::Viewer,
        "an unknown role signs people up as viewers"
    );
}

#[test]
fn addresses_are_masked_for_logs() {
    assert_eq!(quantdesk_app::accounts::mask_email("alice@example.com"), "a***@example.com");
    assert_eq!(quantdesk_app::accounts::mask_email("nobody"), "***");
}
