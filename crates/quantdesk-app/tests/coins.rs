//! The coin services over a SQLite store: the check-in across a time-zone midnight, reserving
//! an operation's cost and capturing or releasing it, and re-deriving the balances.

use std::sync::Arc;

use quantdesk_app::ErrorKind;
use quantdesk_app::accounts::Actor;
use quantdesk_app::coins::{CoinSettings, Coins, Hold, Operation, TIME_ZONE_PREF};
use quantdesk_store::Store;
use quantdesk_store::auth::Role;

struct Fixture {
    coins: Coins,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = quantdesk_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 2).await.unwrap();
    Fixture { coins: Coins::new(store.clone(), CoinSettings::default()), store, _dir: dir }
}

async fn user(f: &Fixture, email: &str, role: Role) -> Actor {
    let id = f.store.create_user(email, "h", role, true, 0).await.unwrap().unwrap();
    Actor::command_line(&f.store.user(id).await.unwrap().unwrap())
}

/// 2024-05-01T15:59:00Z: 23:59 on 1 May in Shanghai.
const BEFORE_MIDNIGHT_CST: i64 = 1_714_579_140_000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

#[tokio::test]
async fn check_ins_follow_the_users_calendar_day() {
    let f = fixture().await;
    let a = user(&f, "a@example.com", Role::Viewer).await;
    // Shanghai (the default): 23:59 and, two minutes later, 00:01 are two days in a row, though
    // the same UTC day.
    let c = f.coins.check_in_at(a.user_id, BEFORE_MIDNIGHT_CST).await.unwrap();
    assert_eq!((c.coins, c.streak, c.already, c.today.as_str()), (20, 1, false, "2024-05-01"));
    let c = f.coins.check_in_at(a.user_id, BEFORE_MIDNIGHT_CST + 30_000).await.unwrap();
    assert_eq!((c.coins, c.already, c.available), (0, true, 20), "twice on one day gives once");
    let c = f.coins.check_in_at(a.user_id, BEFORE_MIDNIGHT_CST + 2 * MINUTE).await.unwrap();
    assert_eq!((c.coins, c.streak, c.today.as_str(), c.available), (22, 2, "2024-05-02", 42));
    let b = f.coins.balance_at(a.user_id, BEFORE_MIDNIGHT_CST + 3 * MINUTE).await.unwrap();
    assert_eq!((b.checked_in_today, b.streak, b.checkin_coins), (true, 2, 22));
    let b = f.coins.balance_at(a.user_id, BEFORE_MIDNIGHT_CST + 2 * MINUTE + DAY).await.unwrap();
    assert_eq!((b.checked_in_today, b.streak, b.checkin_coins), (false, 2, 24), "tomorrow continues the streak");
    // A missed day resets it.
    let b = f.coins.balance_at(a.user_id, BEFORE_MIDNIGHT_CST + 2 * MINUTE + 2 * DAY).await.unwrap();
    assert_eq!((b.streak, b.checkin_coins), (0, 20));
    let c = f.coins.check_in_at(a.user_id, BEFORE_MIDNIGHT_CST + 2 * MINUTE + 2 * DAY).await.unwrap();
    assert_eq!((c.coins, c.streak), (20, 1));

    // New York: the same two instants are one day (11:59 and 12:01 on 1 May), so the second is
    // a repeat.
    let ny = user(&f, "ny@example.com", Role::Viewer).await;
    assert!(f.store.put_pref(ny.user_id, TIME_ZONE_PREF, "America/New_York", 0, 100).await.unwrap());
    let c = f.coins.check_in_at(ny.user_id, BEFORE_MIDNIGHT_CST).await.unwrap();
    assert_eq!((c.coins, c.today.as_str()), (20, "2024-05-01"));
    let c = f.coins.check_in_at(ny.user_id, BEFORE_MIDNIGHT_CST + 2 * MINUTE).await.unwrap();
    assert_eq!((c.coins, c.already), (0, true));
    // Its own midnight (04:00 UTC on 2 May) starts the next day.
    let ny_midnight = 1_714_622_400_000;
    let c = f.coins.check_in_at(ny.user_id, ny_midnight - 1).await.unwrap();
    assert!(c.already);
    let c = f.coins.check_in_at(ny.user_id, ny_midnight).await.unwrap();
    assert_eq!((c.coins, c.streak, c.today.as_str()), (22, 2, "2024-05-02"));
    // A time zone that is not one falls back to the default.
    assert!(f.store.put_pref(ny.user_id, TIME_ZONE_PREF, "Mars/Olympus", 1, 100).await.unwrap());
    assert_eq!(f.coins.time_zone(ny.user_id).await.unwrap(), chrono_tz::Asia::Shanghai);
    assert!(f.coins.verify().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_operation_costs_nothing_and_a_stored_one_its_price() {
    let f = fixture().await;
    let a = user(&f, "a@example.com", Role::Analyst).await;
    quantdesk_app::coins::grant_signup(&*f.store, a.user_id, 20).await.unwrap();
    quantdesk_app::coins::grant_signup(&*f.store, a.user_id, 20).await.unwrap();
    assert_eq!(f.store.coin_account(a.user_id).await.unwrap().unwrap().available, 20, "granted once");

    // Reserved when enqueued: frozen, not yet spent.
    let hold = f.coins.reserve(&a, Operation::Report, "report:1", "job:1").await.unwrap();
    assert_eq!(hold, Hold::Held { key: "report:1".into(), amount: 10 });
    let acc = f.store.coin_account(a.user_id).await.unwrap().unwrap();
    assert_eq!((acc.available, acc.frozen), (10, 10));
    // The job failed: released, the balance is whole again; a late capture changes nothing.
    assert!(f.coins.release("report:1").await.unwrap().is_some());
    assert!(f.coins.capture("report:1").await.unwrap().is_none());
    let acc = f.store.coin_account(a.user_id).await.unwrap().unwrap();
    assert_eq!((acc.available, acc.frozen), (20, 0));

    // Stored: captured once.
    f.coins.reserve(&a, Operation::Report, "report:2", "job:2").await.unwrap();
    let spent = f.coins.capture("report:2").await.unwrap().unwrap();
    assert_eq!((spent.kind.as_str(), spent.frozen_change), ("spend", -10));
    assert!(f.coins.capture("report:2").await.unwrap().is_none());
    assert!(f.coins.release("report:2").await.unwrap().is_none(), "a taken cost is not given back");
    let acc = f.store.coin_account(a.user_id).await.unwrap().unwrap();
    assert_eq!((acc.available, acc.frozen), (10, 0));

    // Not enough for a batch of two symbols (20 coins).
    let e = f.coins.reserve(&a, Operation::Batch { symbols: 2 }, "batch:1", "").await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Conflict, "insufficient_coins"));
    // Someone else's key is not theirs to reuse.
    let b = user(&f, "b@example.com", Role::Analyst).await;
    f.store.check_in(b.user_id, "2024-05-01", "2024-04-30", &f.coins.settings().checkin, 0).await.unwrap();
    let e = f.coins.reserve(&b, Operation::Report, "report:2", "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    // Admins are exempt: nothing is held.
    let admin = user(&f, "root@example.com", Role::Admin).await;
    assert_eq!(f.coins.reserve(&admin, Operation::Report, "report:3", "").await.unwrap(), Hold::Free);
    assert!(f.store.reservation("report:3").await.unwrap().is_none());
    assert!(f.coins.verify().await.unwrap().is_empty());
}
