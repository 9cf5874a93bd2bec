//! The coin ledger port, on SQLite and (when configured) PostgreSQL: changes with idempotency
//! keys, reservations, check-ins, re-deriving the balances, and exact concurrency.

mod support;

use std::str::FromStr;
use std::sync::Arc;

use proptest::prelude::*;
use quantdesk_store::ledger::{
    Applied, CheckedIn, CheckinRule, CoinChange, CoinKind, LedgerStore, ReservationState, Settled,
};
use quantdesk_store::{PgStore, SqliteStore, Store};
use support::{drop_schema, each_backend, postgres, postgres_url, sqlite};

fn change<'a>(user_id: i64, kind: CoinKind, available: i64, frozen: i64, key: &'a str) -> CoinChange<'a> {
    CoinChange { user_id, kind, available, frozen, reason: "test", related: "", idem_key: key, actor: "t", at: 1_000 }
}

async fn balance(s: &dyn Store, user: i64) -> (i64, i64) {
    s.coin_account(user).await.unwrap().map(|a| (a.available, a.frozen)).unwrap_or((0, 0))
}

const RULE: CheckinRule = CheckinRule { base: 20, step: 2, cap: 50 };

#[tokio::test]
async fn changes_are_recorded_once_and_never_overdraw() {
    each_backend(|s| async move {
        assert_eq!(s.coin_account(7).await.unwrap(), None);
        let Applied::Done(g) = s.apply_coins(&change(7, CoinKind::Grant, 20, 0, "signup")).await.unwrap() else {
            panic!("the grant is written")
        };
        assert_eq!(
            (g.available_before, g.available_after, g.kind.as_str(), g.idem_key.as_str()),
            (0, 20, "grant", "signup")
        );
        // The same key again changes nothing and answers the row that is there.
        match s.apply_coins(&change(7, CoinKind::Grant, 20, 0, "signup")).await.unwrap() {
            Applied::Replayed(r) => assert_eq!(r.id, g.id),
            other => panic!("{other:?}"),
        }
        // Keys are per user.
        assert!(matches!(s.apply_coins(&change(8, CoinKind::Grant, 5, 0, "signup")).await.unwrap(), Applied::Done(_)));
        // A spend beyond the balance changes nothing.
        assert_eq!(
            s.apply_coins(&change(7, CoinKind::Spend, -21, 0, "s1")).await.unwrap(),
            Applied::Insufficient { available: 20, frozen: 0 }
        );
        let Applied::Done(sp) = s.apply_coins(&change(7, CoinKind::Spend, -20, 0, "s2")).await.unwrap() else {
            panic!("an exact spend is written")
        };
        assert_eq!((sp.available_before, sp.available_after), (20, 0));
        assert_eq!(balance(&*s, 7).await, (0, 0));
        // The refused spend's key is free: it left no row.
        assert!(matches!(s.apply_coins(&change(7, CoinKind::Refund, 3, 0, "s1")).await.unwrap(), Applied::Done(_)));
        let ledger = s.coin_ledger(7, 10, 0).await.unwrap();
        let kinds: Vec<_> = ledger.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["refund", "spend", "grant"], "newest first");
        assert_eq!(s.coin_ledger(7, 1, 1).await.unwrap()[0].kind, "spend", "paged");
        assert_eq!(s.count_coin_ledger(7).await.unwrap(), 3);
        assert_eq!(s.count_coin_ledger(99).await.unwrap(), 0);
        assert_eq!(s.verify_ledger().await.unwrap(), vec![]);
    })
    .await;
}

#[tokio::test]
async fn a_reservation_is_captured_or_released_exactly_once() {
    each_backend(|s| async move {
        s.apply_coins(&change(1, CoinKind::Grant, 30, 0, "g")).await.unwrap();
        let Applied::Done(f) = s.reserve_coins(1, "job:1", 10, "job:1", "system", 2_000).await.unwrap() else {
            panic!("reserved")
        };
        assert_eq!((f.kind.as_str(), f.amount, f.frozen_change, f.idem_key.as_str()), ("freeze", -10, 10, "reserve:job:1"));
        assert_eq!(balance(&*s, 1).await, (20, 10));
        // Reserving the same key again freezes nothing more.
        assert!(matches!(s.reserve_coins(1, "job:1", 10, "job:1", "system", 2_001).await.unwrap(), Applied::Replayed(r) if r.id == f.id));
        assert_eq!(balance(&*s, 1).await, (20, 10));
        let Settled::Done(c) = s.settle_reservation("job:1", true, "system", 3_000).await.unwrap() else {
            panic!("captured")
        };
        assert_eq!((c.kind.as_str(), c.amount, c.frozen_change), ("spend", 0, -10));
        assert_eq!(balance(&*s, 1).await, (20, 0), "the cost is taken");
        // Neither a second capture nor a release changes anything.
        assert_eq!(s.settle_reservation("job:1", true, "system", 3_001).await.unwrap(), Settled::Already(ReservationState::Captured));
        assert_eq!(s.settle_reservation("job:1", false, "system", 3_002).await.unwrap(), Settled::Already(ReservationState::Captured));
        assert_eq!(balance(&*s, 1).await, (20, 0));

        // A released reservation costs nothing.
        s.reserve_coins(1, "job:2", 15, "job:2", "system", 4_000).await.unwrap();
        assert_eq!(balance(&*s, 1).await, (5, 15));
        let Settled::Done(r) = s.settle_reservation("job:2", false, "system", 4_001).await.unwrap() else {
            panic!("released")
        };
        assert_eq!((r.kind.as_str(), r.amount, r.frozen_change), ("release", 15, -15));
        assert_eq!(balance(&*s, 1).await, (20, 0));
        assert_eq!(s.settle_reservation("job:2", true, "system", 4_002).await.unwrap(), Settled::Already(ReservationState::Released));
        let res = s.reservation("job:2").await.unwrap().unwrap();
        assert_eq!((res.user_id, res.amount, res.state), (1, 15, ReservationState::Released));

        // More than is available is refused and leaves no reservation behind.
        assert_eq!(
            s.reserve_coins(1, "job:3", 21, "", "system", 5_000).await.unwrap(),
            Applied::Insufficient { available: 20, frozen: 0 }
        );
        assert_eq!(s.reservation("job:3").await.unwrap(), None);
        assert_eq!(s.settle_reservation("job:3", true, "system", 5_001).await.unwrap(), Settled::Unknown);
        assert_eq!(s.verify_ledger().await.unwrap(), vec![]);
    })
    .await;
}

#[tokio::test]
async fn check_ins_count_consecutive_days_once_a_day() {
    each_backend(|s| async move {
        let day = |d: &str, y: &str| {
            let s = s.clone();
            let (d, y) = (d.to_string(), y.to_string());
            async move { s.check_in(5, &d, &y, &RULE, 1_000).await.unwrap() }
        };
        let coins = |c: CheckedIn| match c {
            CheckedIn::Done { entry, streak } => (entry.amount, streak),
            CheckedIn::Already { streak } => (0, streak),
        };
        // Day 1: no day before, 20 coins; the streak (days in a row, today included) is 1.
        assert_eq!(coins(day("2024-05-01", "2024-04-30").await), (20, 1));
        assert_eq!(day("2024-05-01", "2024-04-30").await, CheckedIn::Already { streak: 1 }, "once a day");
        assert_eq!(coins(day("2024-05-02", "2024-05-01").await), (22, 2));
        assert_eq!(coins(day("2024-05-03", "2024-05-02").await), (24, 3));
        // An earlier day than the last (a time-zone change) is refused.
        assert_eq!(day("2024-05-02", "2024-05-01").await, CheckedIn::Already { streak: 3 });
        // A missed day resets the streak.
        assert_eq!(coins(day("2024-05-05", "2024-05-04").await), (20, 1));
        let a = s.coin_account(5).await.unwrap().unwrap();
        assert_eq!((a.available, a.checkin_day.as_str(), a.streak), (86, "2024-05-05", 1));
        let e = &s.coin_ledger(5, 1, 0).await.unwrap()[0];
        assert_eq!((e.kind.as_str(), e.idem_key.as_str()), ("checkin", "checkin:2024-05-05"));
        assert_eq!(s.verify_ledger().await.unwrap(), vec![]);
    })
    .await;
}

/// 200 concurrent spends of 10 against 505 coins: exactly 50 succeed, 5 coins stay, and the
/// ledger re-derives the balance.
async fn two_hundred_spends(stores: &[Arc<dyn Store>]) {
    let user = 42;
    stores[0].apply_coins(&change(user, CoinKind::Grant, 505, 0, "grant")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = stores[i % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("spend:{i}");
            let c = CoinChange { at: 2_000 + i as i64, ..change(user, CoinKind::Spend, -10, 0, &key) };
            s.apply_coins(&c).await.unwrap()
        }));
    }
    let mut done = 0;
    for t in tasks {
        match t.await.unwrap() {
            Applied::Done(_) => done += 1,
            Applied::Insufficient { available, .. } => assert!(available < 10, "refused with {available} left"),
            Applied::Replayed(r) => panic!("distinct keys never replay: {r:?}"),
        }
    }
    assert_eq!(done, 50);
    assert_eq!(balance(&*stores[0], user).await, (5, 0));
    assert_eq!(stores[0].count_coin_ledger(user).await.unwrap(), 51);
    assert_eq!(stores[stores.len() - 1].verify_ledger().await.unwrap(), vec![]);
}

#[tokio::test]
async fn two_hundred_concurrent_spends_on_sqlite_succeed_exactly_fifty_times() {
    let (s, _dir) = sqlite().await;
    two_hundred_spends(&[s]).await;
}

/// On PostgreSQL through two stores with pools of their own over the same schema, as two server
/// processes would be.
#[tokio::test]
async fn two_hundred_concurrent_spends_on_postgres_from_two_stores_succeed_exactly_fifty_times() {
    let Some(url) = postgres_url() else { return };
    let (a, schema) = postgres(&url).await;
    let opts = sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().options([("search_path", schema.as_str())]);
    let b: Arc<dyn Store> = Arc::new(PgStore::open_with(opts, 16).await.unwrap());
    two_hundred_spends(&[a.clone(), b.clone()]).await;
    // The same key delivered concurrently through both is written once.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.apply_coins(&change(43, CoinKind::Purchase, 100, 0, "order:1")).await.unwrap()
        }));
    }
    let mut written = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Applied::Done(_)) {
            written += 1;
        }
    }
    assert_eq!(written, 1);
    assert_eq!(balance(&*a, 43).await, (100, 0));
    drop((a, b));
    drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn the_same_key_concurrently_on_sqlite_is_written_once() {
    let (s, _dir) = sqlite().await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.apply_coins(&change(43, CoinKind::Purchase, 100, 0, "order:1")).await.unwrap()
        }));
    }
    let mut written = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Applied::Done(_)) {
            written += 1;
        }
    }
    assert_eq!(written, 1);
    assert_eq!(balance(&*s, 43).await, (100, 0));
}

/// `verify_ledger` finds a stored balance the ledger does not add up to, and a row whose
/// balances do not follow from the one before, naming the user and the row.
#[tokio::test]
async fn verify_names_the_user_whose_balance_differs() {
    async fn fill(s: &dyn Store) -> i64 {
        s.apply_coins(&change(1, CoinKind::Grant, 20, 0, "a")).await.unwrap();
        s.apply_coins(&change(2, CoinKind::Grant, 30, 0, "a")).await.unwrap();
        let Applied::Done(e) = s.apply_coins(&change(2, CoinKind::Spend, -5, 0, "b")).await.unwrap() else { panic!() };
        assert_eq!(s.verify_ledger().await.unwrap(), vec![]);
        e.id
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let lite = SqliteStore::open(&url, 2).await.unwrap();
    let row = fill(&lite).await;
    let q = "UPDATE coin_accounts SET available = available + 1 WHERE user_id = 1";
    sqlx::query(q).execute(lite.pool()).await.unwrap();
    let q = "UPDATE coin_ledger SET available_before = 31 WHERE id = $1";
    sqlx::query(q).bind(row).execute(lite.pool()).await.unwrap();
    let m = lite.verify_ledger().await.unwrap();
    assert_eq!(m.iter().map(|x| (x.user_id, x.first_bad_row)).collect::<Vec<_>>(), vec![(1, None), (2, Some(row))]);
    assert_eq!((m[0].available, m[0].ledger_available), (21, 20));

    if let Some(url) = postgres_url() {
        let (_s, schema) = postgres(&url).await;
        let opts =
            sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().options([("search_path", schema.as_str())]);
        let pg = PgStore::open_with(opts, 2).await.unwrap();
        let row = fill(&pg).await;
        sqlx::query("UPDATE coin_accounts SET frozen = 3 WHERE user_id = 2").execute(pg.pool()).await.unwrap();
        sqlx::query("DELETE FROM coin_ledger WHERE id = $1").bind(row).execute(pg.pool()).await.unwrap();
        let m = pg.verify_ledger().await.unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].user_id, m[0].available, m[0].frozen, m[0].ledger_available, m[0].ledger_frozen),
            (2, 25, 3, 30, 0)
        );
        drop(pg);
        drop_schema(&url, &schema).await;
    }
}

#[derive(Debug, Clone)]
enum Op {
    Grant(i64),
    Spend(i64),
    Refund(i64),
    Freeze(u8, i64),
    Release(u8),
    Capture(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..50).prop_map(Op::Grant),
        (1i64..60).prop_map(Op::Spend),
        (1i64..20).prop_map(Op::Refund),
        (0u8..6, 1i64..40).prop_map(|(k, n)| Op::Freeze(k, n)),
        (0u8..6).prop_map(Op::Release),
        (0u8..6).prop_map(Op::Capture),
    ]
}

async fn run_op(s: &dyn Store, user: i64, stream: usize, i: usize, op: &Op) {
    let key = format!("{stream}:{i}");
    let res = |k: u8| format!("{user}:res:{k}");
    match *op {
        Op::Grant(n) => drop(s.apply_coins(&change(user, CoinKind::Grant, n, 0, &key)).await.unwrap()),
        Op::Spend(n) => drop(s.apply_coins(&change(user, CoinKind::Spend, -n, 0, &key)).await.unwrap()),
        Op::Refund(n) => drop(s.apply_coins(&change(user, CoinKind::Refund, n, 0, &key)).await.unwrap()),
        Op::Freeze(k, n) => drop(s.reserve_coins(user, &res(k), n, "", "t", 1).await.unwrap()),
        Op::Release(k) => drop(s.settle_reservation(&res(k), false, "t", 2).await.unwrap()),
        Op::Capture(k) => drop(s.settle_reservation(&res(k), true, "t", 2).await.unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Three concurrent streams of grants, spends, refunds, freezes, releases and captures on
    /// one account: available + frozen is the ledger's sum, neither is ever below zero, frozen is
    /// what the held reservations hold, and every row follows from the one before.
    #[test]
    fn any_interleaving_keeps_the_balances_equal_to_the_ledger(
        streams in proptest::collection::vec(proptest::collection::vec(op(), 0..14), 3)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(3).enable_all().build().unwrap();
        rt.block_on(async {
            let (s, _dir) = sqlite().await;
            let user = 9;
            let mut tasks = Vec::new();
            for (n, ops) in streams.iter().cloned().enumerate() {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    for (i, op) in ops.iter().enumerate() {
                        run_op(&*s, user, n, i, op).await;
                        let (a, f) = balance(&*s, user).await;
                        assert!(a >= 0 && f >= 0, "{a} {f}");
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let (a, f) = balance(&*s, user).await;
            let rows = s.coin_ledger(user, 1000, 0).await.unwrap();
            let sum: i64 = rows.iter().map(|e| e.amount + e.frozen_change).sum();
            assert_eq!(a + f, sum);
            assert_eq!(a, rows.iter().map(|e| e.amount).sum::<i64>());
            let mut held = 0;
            for k in 0..6u8 {
                if let Some(r) = s.reservation(&format!("{user}:res:{k}")).await.unwrap()
                    && r.state == ReservationState::Held
                {
                    held += r.amount;
                }
            }
            assert_eq!(f, held);
            assert_eq!(s.verify_ledger().await.unwrap(), vec![]);
        });
    }
}

fn order(no: &str, user_id: i64, amount_fen: i64, at: i64) -> quantdesk_store::ledger::Order {
    quantdesk_store::ledger::Order {
        order_no: no.into(),
        user_id,
        package_id: "coins-100".into(),
        coins: 100,
        amount_fen,
        currency: "CNY".into(),
        payment_method: "stripe".into(),
        status: quantdesk_store::ledger::OrderStatus::Pending,
        provider_ref: String::new(),
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test]
async fn packages_are_listed_in_order_and_editable() {
    use quantdesk_store::ledger::Package;
    each_backend(|s| async move {
        assert!(s.packages(true).await.unwrap().is_empty(), "none at first");
        for (i, (id, coins, fen)) in
            [("coins-1200", 1200, 9800), ("coins-100", 100, 1000), ("coins-500", 500, 4500)].into_iter().enumerate()
        {
            let sort = [3, 1, 2][i];
            let p = Package {
                id: id.into(),
                name: format!("{coins} coins"),
                coins,
                price_fen: fen,
                currency: "CNY".into(),
                active: true,
                sort,
                updated_at: 1,
            };
            s.put_package(&p).await.unwrap();
        }
        let ids: Vec<_> = s.packages(false).await.unwrap().into_iter().map(|p| (p.id, p.coins, p.price_fen)).collect();
        assert_eq!(
            ids,
            vec![("coins-100".into(), 100, 1000), ("coins-500".into(), 500, 4500), ("coins-1200".into(), 1200, 9800)]
        );
        let mut p = s.package("coins-500").await.unwrap().unwrap();
        p.active = false;
        s.put_package(&p).await.unwrap();
        assert_eq!(s.packages(false).await.unwrap().len(), 2, "inactive packages are not offered");
        assert_eq!(s.packages(true).await.unwrap().len(), 3);
        let new = Package {
            id: "trial".into(),
            name: "试用".into(),
            coins: 30,
            price_fen: 1,
            currency: "CNY".into(),
            active: true,
            sort: 0,
            updated_at: 5,
        };
        s.put_package(&new).await.unwrap();
        assert_eq!(s.packages(false).await.unwrap()[0], new);
    })
    .await;
}

#[tokio::test]
async fn a_payment_credits_its_order_once_and_refuses_what_does_not_fit() {
    use quantdesk_store::ledger::{OrderStatus, PaymentOutcome};
    each_backend(|s| async move {
        s.create_order(&order("QD1", 3, 1000, 10)).await.unwrap();
        assert!(s.create_order(&order("QD1", 4, 1000, 11)).await.unwrap_err().is_conflict());
        // Another amount: refused, nothing changes, the order stays pending.
        assert_eq!(
            s.record_payment("stripe", "evt_a", "QD1", 999, "cs", 20).await.unwrap(),
            PaymentOutcome::AmountMismatch { expected: 1000, paid: 999 }
        );
        assert_eq!(s.order("QD1").await.unwrap().unwrap().status, OrderStatus::Pending);
        let PaymentOutcome::Credited(e) = s.record_payment("stripe", "evt_b", "QD1", 1000, "cs_b", 21).await.unwrap()
        else {
            panic!("credited")
        };
        assert_eq!((e.kind.as_str(), e.amount, e.related.as_str(), e.user_id), ("purchase", 100, "order:QD1", 3));
        let o = s.order("QD1").await.unwrap().unwrap();
        assert_eq!((o.status, o.provider_ref.as_str()), (OrderStatus::Paid, "cs_b"));
        assert_eq!(
            s.record_payment("stripe", "evt_b", "QD1", 1000, "cs_b", 22).await.unwrap(),
            PaymentOutcome::DuplicateEvent
        );
        assert_eq!(
            s.record_payment("stripe", "evt_c", "QD1", 1000, "cs_c", 23).await.unwrap(),
            PaymentOutcome::FinalOrder(OrderStatus::Paid)
        );
        assert_eq!(
            s.record_payment("stripe", "evt_d", "QD404", 1000, "", 24).await.unwrap(),
            PaymentOutcome::UnknownOrder
        );
        assert_eq!(balance(&*s, 3).await, (100, 0));
        // Cancelled and expired orders are final too.
        s.create_order(&order("QD2", 3, 1000, 30)).await.unwrap();
        s.create_order(&order("QD3", 3, 1000, 40)).await.unwrap();
        assert!(s.close_order("QD2", OrderStatus::Cancelled, 31).await.unwrap());
        assert!(!s.close_order("QD2", OrderStatus::Cancelled, 32).await.unwrap());
        assert_eq!(s.expire_orders(35, 50).await.unwrap(), 0, "QD3 is younger");
        assert_eq!(s.expire_orders(41, 50).await.unwrap(), 1);
        assert_eq!(
            s.record_payment("stripe", "evt_e", "QD2", 1000, "", 60).await.unwrap(),
            PaymentOutcome::FinalOrder(OrderStatus::Cancelled)
        );
        assert_eq!(
            s.record_payment("stripe", "evt_f", "QD3", 1000, "", 61).await.unwrap(),
            PaymentOutcome::FinalOrder(OrderStatus::Expired)
        );
        let mine: Vec<_> = s.orders(3, 10, 0).await.unwrap().into_iter().map(|o| o.order_no).collect();
        assert_eq!(mine, vec!["QD3", "QD2", "QD1"]);
        assert_eq!(balance(&*s, 3).await, (100, 0));
        assert_eq!(s.verify_ledger().await.unwrap(), vec![]);
    })
    .await;
}

/// The same event delivered 20 times concurrently (through two stores on PostgreSQL) credits once.
#[tokio::test]
async fn the_same_payment_delivered_twenty_times_concurrently_credits_once() {
    async fn deliver(stores: &[Arc<dyn Store>]) {
        stores[0].create_order(&order("QDX", 8, 4500, 1)).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = stores[i % stores.len()].clone();
            tasks.push(tokio::spawn(async move {
                s.record_payment("stripe", "evt_x", "QDX", 4500, "cs", 2).await.unwrap()
            }));
        }
        let mut credited = 0;
        for t in tasks {
            match t.await.unwrap() {
                quantdesk_store::ledger::PaymentOutcome::Credited(_) => credited += 1,
                quantdesk_store::ledger::PaymentOutcome::DuplicateEvent => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(credited, 1);
        assert_eq!(balance(&*stores[0], 8).await, (100, 0));
        assert_eq!(stores[0].count_coin_ledger(8).await.unwrap(), 1);
    }
    let (s, _dir) = sqlite().await;
    deliver(&[s]).await;
    if let Some(url) = postgres_url() {
        let (a, schema) = postgres(&url).await;
        let opts =
            sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().options([("search_path", schema.as_str())]);
        let b: Arc<dyn Store> = Arc::new(PgStore::open_with(opts, 8).await.unwrap());
        deliver(&[a.clone(), b.clone()]).await;
        drop((a, b));
        drop_schema(&url, &schema).await;
    }
}
