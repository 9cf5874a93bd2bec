//! A job that reserved its cost (`coin_reservation` in its parameters) pays it when it
//! succeeds and nothing when it fails: the worker captures or releases the reservation.

mod support;

use quantdesk_jobs::Registry;
use quantdesk_store::jobs::JobState;
use quantdesk_store::ledger::{CoinChange, CoinKind, ReservationState};
use serde_json::json;
use support::run_to_end;

#[tokio::test]
async fn a_failed_job_costs_nothing_and_a_finished_one_its_price() {
    let dir = tempfile::tempdir().unwrap();
    let store = quantdesk_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 4).await.unwrap();
    let grant = CoinChange {
        user_id: 1,
        kind: CoinKind::Grant,
        available: 30,
        frozen: 0,
        reason: "t",
        related: "",
        idem_key: "g",
        actor: "t",
        at: 0,
    };
    store.apply_coins(&grant).await.unwrap();
    let balance = |s: &std::sync::Arc<dyn quantdesk_store::Store>| {
        let s = s.clone();
        async move {
            let a = s.coin_account(1).await.unwrap().unwrap();
            (a.available, a.frozen)
        }
    };

    store.reserve_coins(1, "report:ok", 10, "", "t", 1).await.unwrap();
    store.reserve_coins(1, "report:bad", 10, "", "t", 1).await.unwrap();
    assert_eq!(balance(&store).await, (10, 20));

    let ok = run_to_end(&store, Registry::standard(), "echo", &json!({"coin_reservation": "report:ok"}), 500).await;
    assert_eq!(ok.state, JobState::Succeeded);
    assert_eq!(store.reservation("report:ok").await.unwrap().unwrap().state, ReservationState::Captured);
    assert_eq!(balance(&store).await, (10, 10), "the finished job's cost is taken");

    let params = json!({"coin_reservation": "report:bad", "fail_times": 5});
    let bad = run_to_end(&store, Registry::standard(), "echo", &params, 500).await;
    assert_eq!(bad.state, JobState::Failed);
    assert_eq!(store.reservation("report:bad").await.unwrap().unwrap().state, ReservationState::Released);
    assert_eq!(balance(&store).await, (20, 0), "the failed job's cost is given back");
    assert!(store.verify_ledger().await.unwrap().is_empty());
}
