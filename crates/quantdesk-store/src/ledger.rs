//! The coin ledger port: each user's balances (available, frozen) and an append-only ledger of
//! every change to them.
//!
//! Every write is one transaction that changes the account with a conditional update
//! (`available + change >= 0 AND frozen + change >= 0`, which also takes the row's lock on
//! PostgreSQL) and appends one ledger row with the balances before and after, so concurrent
//! writers are exact on both backends: no coin is spent twice and none is lost. A change carries
//! an idempotency key unique per user; a change whose key is already in the ledger changes
//! nothing and answers the row that is there ([`Applied::Replayed`]), also when two deliveries
//! race (the loser's insert breaks the unique key, its transaction rolls back).
//!
//! On SQLite the first statement of every write transaction is a write, so the transaction holds
//! the one write lock from its start and never has to upgrade a read snapshot.
//!
//! A reservation ([`LedgerStore::reserve_coins`]) freezes an amount under a key: `held`, then
//! exactly once `captured` (the frozen coins are spent) or `released` (they return to available).
//! The state moves with a conditional update, so a capture and a release that race cannot both win.
//!
//! The balances can be re-derived: `available` is the sum of the ledger's `amount`s and `frozen`
//! the sum of its `frozen_change`s, and each row's "before" is the previous row's "after"
//! ([`LedgerStore::verify_ledger`]).

use async_trait::async_trait;

use crate::Result;

/// What a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoinKind {
    /// Coins given (sign-up, a subscription's daily grant).
    Grant,
    /// The daily check-in.
    Checkin,
    /// Coins bought (a paid order).
    Purchase,
    /// Frozen coins taken for a finished operation (a captured reservation).
    Spend,
    /// Coins given back (a refunded order or operation).
    Refund,
    /// An administrator's adjustment, up or down.
    Adjust,
    /// Coins that expired.
    Expiry,
    /// Available coins frozen by a reservation.
    Freeze,
    /// Frozen coins returned to available (a released reservation).
    Release,
}

impl CoinKind {
    pub const ALL: [CoinKind; 9] = [
        CoinKind::Grant,
        CoinKind::Checkin,
        CoinKind::Purchase,
        CoinKind::Spend,
        CoinKind::Refund,
        CoinKind::Adjust,
        CoinKind::Expiry,
        CoinKind::Freeze,
        CoinKind::Release,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CoinKind::Grant => "grant",
            CoinKind::Checkin => "checkin",
            CoinKind::Purchase => "purchase",
            CoinKind::Spend => "spend",
            CoinKind::Refund => "refund",
            CoinKind::Adjust => "adjust",
            CoinKind::Expiry => "expiry",
            CoinKind::Freeze => "freeze",
            CoinKind::Release => "release",
        }
    }

    pub fn parse(s: &str) -> Option<CoinKind> {
        CoinKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A user's balances and check-in state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoinAccount {
    pub user_id: i64,
    pub available: i64,
    pub frozen: i64,
    /// The user's local date (`YYYY-MM-DD`) of the last check-in, or empty.
    pub checkin_day: String,
    /// Consecutive days checked in, ending with `checkin_day`.
    pub streak: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// One change to write.
#[derive(Debug, Clone, Copy)]
pub struct CoinChange<'a> {
    pub user_id: i64,
    pub kind: CoinKind,
    /// Added to `available` (negative takes).
    pub available: i64,
    /// Added to `frozen`.
    pub frozen: i64,
    pub reason: &'a str,
    /// The object the change is about (`order:…`, `job:…`, `user:…`), or empty.
    pub related: &'a str,
    /// Unique per user: a second change with the same key changes nothing.
    pub idem_key: &'a str,
    /// Who made it (`system`, an e-mail address, `command_line`).
    pub actor: &'a str,
    /// Unix milliseconds.
    pub at: i64,
}

/// A ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub amount: i64,
    pub frozen_change: i64,
    pub available_before: i64,
    pub available_after: i64,
    pub frozen_before: i64,
    pub frozen_after: i64,
    pub reason: String,
    pub related: String,
    pub idem_key: String,
    pub actor: String,
    pub created_at: i64,
}

/// The outcome of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Written; the new row.
    Done(LedgerEntry),
    /// The idempotency key was already in the ledger: nothing changed; the row that is there.
    Replayed(LedgerEntry),
    /// The balance does not cover it: nothing changed; the balances as they are.
    Insufficient { available: i64, frozen: i64 },
}

/// A reservation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationState {
    Held,
    Captured,
    Released,
}

impl ReservationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Captured => "captured",
            ReservationState::Released => "released",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "held" => Some(Self::Held),
            "captured" => Some(Self::Captured),
            "released" => Some(Self::Released),
            _ => None,
        }
    }
}

/// A reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub key: String,
    pub user_id: i64,
    pub amount: i64,
    pub state: ReservationState,
    pub related: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The outcome of capturing or releasing a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Done; the new ledger row.
    Done(LedgerEntry),
    /// The reservation was already captured or released: nothing changed.
    Already(ReservationState),
    /// No reservation has this key.
    Unknown,
}

/// The coins of a check-in: `base + min(step × streak, cap)`, where the streak is the number of
/// consecutive days before today on which the user checked in (0 on a first day, or after a
/// missed day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckinRule {
    pub base: i64,
    pub step: i64,
    pub cap: i64,
}

impl CheckinRule {
    /// The coins for a check-in after `days_before` consecutive days.
    pub fn coins(&self, days_before: i64) -> i64 {
        self.base.saturating_add(self.step.saturating_mul(days_before).min(self.cap))
    }
}

/// The outcome of a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckedIn {
    /// Credited: the row, and the consecutive days including today.
    Done { entry: LedgerEntry, streak: i64 },
    /// The user already checked in on this day (or a later one): nothing changed.
    Already { streak: i64 },
}

/// A user whose stored balances differ from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerMismatch {
    pub user_id: i64,
    /// The stored balances (0 when the user has ledger rows but no account).
    pub available: i64,
    pub frozen: i64,
    /// The balances the ledger adds up to.
    pub ledger_available: i64,
    pub ledger_frozen: i64,
    /// The first row whose balances do not follow from the previous row and its own change.
    pub first_bad_row: Option<i64>,
}

/// A package of coins for a price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub coins: i64,
    /// The price in fen (0.01 CNY): exact.
    pub price_fen: i64,
    pub currency: String,
    pub active: bool,
    pub sort: i64,
    pub updated_at: i64,
}

/// An order's state: `pending`, then exactly once one of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Cancelled,
    Expired,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Paid, Self::Cancelled, Self::Expired, Self::Refunded]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_no: String,
    pub user_id: i64,
    pub package_id: String,
    pub coins: i64,
    pub amount_fen: i64,
    pub currency: String,
    pub payment_method: String,
    pub status: OrderStatus,
    pub provider_ref: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a payment notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The order is paid and its coins credited: the purchase row.
    Credited(LedgerEntry),
    /// This event was received before: nothing changed.
    DuplicateEvent,
    /// No order has this number: nothing changed (the event is recorded).
    UnknownOrder,
    /// The order is already paid, cancelled, expired or refunded: nothing changed.
    FinalOrder(OrderStatus),
    /// The amount paid is not the order's: nothing changed.
    AmountMismatch { expected: i64, paid: i64 },
}

impl PaymentOutcome {
    /// The word recorded in `payment_events.outcome`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentOutcome::Credited(_) => "credited",
            PaymentOutcome::DuplicateEvent => "duplicate_event",
            PaymentOutcome::UnknownOrder => "unknown_order",
            PaymentOutcome::FinalOrder(_) => "final_order",
            PaymentOutcome::AmountMismatch { .. } => "amount_mismatch",
        }
    }
}

#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// `user_id`'s account (`None` before anything was written for them).
    async fn coin_account(&self, user_id: i64) -> Result<Option<CoinAccount>>;
    /// Applies one change, all or nothing (see [`Applied`]).
    async fn apply_coins(&self, change: &CoinChange<'_>) -> Result<Applied>;
    /// Freezes `amount` (> 0) of `user_id`'s available coins under `key`: a `freeze` row with the
    /// idempotency key `reserve:{key}`. A key already reserved changes nothing
    /// ([`Applied::Replayed`] with its freeze row, whoever it was for).
    async fn reserve_coins(
        &self,
        user_id: i64,
        key: &str,
        amount: i64,
        related: &str,
        actor: &str,
        at: i64,
    ) -> Result<Applied>;
    /// Captures (`capture`: the frozen coins are spent, a `spend` row) or releases (they return
    /// to available, a `release` row) the reservation `key`, once.
    async fn settle_reservation(&self, key: &str, capture: bool, actor: &str, at: i64) -> Result<Settled>;
    async fn reservation(&self, key: &str) -> Result<Option<Reservation>>;
    /// Credits the check-in of `today` (the user's local date, `YYYY-MM-DD`; `yesterday` the day
    /// before): the streak continues when the last check-in was `yesterday`, else restarts. Once
    /// per day: a second call for `today`, or for an earlier day than the last, changes nothing.
    async fn check_in(
        &self,
        user_id: i64,
        today: &str,
        yesterday: &str,
        rule: &CheckinRule,
        at: i64,
    ) -> Result<CheckedIn>;
    /// `user_id`'s ledger, newest first.
    async fn coin_ledger(&self, user_id: i64, limit: u32, offset: u32) -> Result<Vec<LedgerEntry>>;
    async fn count_coin_ledger(&self, user_id: i64) -> Result<u64>;
    /// Every user whose balances the ledger does not re-derive, by user id.
    async fn verify_ledger(&self) -> Result<Vec<LedgerMismatch>>;

    /// Packages, by `sort` then id; only active ones unless `all`.
    async fn packages(&self, all: bool) -> Result<Vec<Package>>;
    async fn package(&self, id: &str) -> Result<Option<Package>>;
    /// Creates or replaces a package (orders keep the coins and price they were made with).
    async fn put_package(&self, p: &Package) -> Result<()>;
    /// Stores a new pending order (a taken order number is [`crate::StoreError::Conflict`]).
    async fn create_order(&self, o: &Order) -> Result<()>;
    async fn order(&self, order_no: &str) -> Result<Option<Order>>;
    /// `user_id`'s orders, newest first.
    async fn orders(&self, user_id: i64, limit: u32, offset: u32) -> Result<Vec<Order>>;
    /// Moves a pending order to `status` (cancelled or expired); false when it is not pending.
    async fn close_order(&self, order_no: &str, status: OrderStatus, at: i64) -> Result<bool>;
    /// Pending orders created before `before` become expired; how many.
    async fn expire_orders(&self, before: i64, at: i64) -> Result<u64>;
    /// Records the payment notification `(provider, event_id)` for `order_no` of `amount_fen`
    /// and, in the same transaction, marks the pending order paid and credits its coins (a
    /// `purchase` row keyed `order:{order_no}`). An event seen before, an unknown order, an
    /// order no longer pending or another amount changes nothing (see [`PaymentOutcome`]).
    async fn record_payment(
        &self,
        provider: &str,
        event_id: &str,
        order_no: &str,
        amount_fen: i64,
        provider_ref: &str,
        at: i64,
    ) -> Result<PaymentOutcome>;
}

pub(crate) const ENTRY_COLUMNS: &str = "id, user_id, kind, amount, frozen_change, available_before, available_after, \
     frozen_before, frozen_after, reason, related, idem_key, actor, created_at";

pub(crate) type EntryTuple = (i64, i64, String, i64, i64, i64, i64, i64, i64, String, String, String, String, i64);

pub(crate) fn entry_from(t: EntryTuple) -> LedgerEntry {
    let (id, user_id, kind, amount, frozen_change, ab, aa, fb, fa, reason, related, idem_key, actor, created_at) = t;
    LedgerEntry {
        id,
        user_id,
        kind,
        amount,
        frozen_change,
        available_before: ab,
        available_after: aa,
        frozen_before: fb,
        frozen_after: fa,
        reason,
        related,
        idem_key,
        actor,
        created_at,
    }
}

pub(crate) type ReservationTuple = (String, i64, i64, String, String, i64, i64);

pub(crate) fn reservation_from(t: ReservationTuple) -> Result<Reservation> {
    let (key, user_id, amount, state, related, created_at, updated_at) = t;
    let state = ReservationState::parse(&state)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("reservation state {state:?}")))?;
    Ok(Reservation { key, user_id, amount, state, related, created_at, updated_at })
}

pub(crate) const PACKAGE_COLUMNS: &str = "package_id, name, coins, price_fen, currency, active, sort, updated_at";
pub(crate) type PackageTuple = (String, String, i64, i64, String, i64, i64, i64);
pub(crate) fn package_from(t: PackageTuple) -> Package {
    let (id, name, coins, price_fen, currency, active, sort, updated_at) = t;
    Package { id, name, coins, price_fen, currency, active: active != 0, sort, updated_at }
}

pub(crate) const ORDER_COLUMNS: &str = "order_no, user_id, package_id, coins, amount_fen, currency, payment_method, \
     status, provider_ref, created_at, updated_at";
pub(crate) type OrderTuple = (String, i64, String, i64, i64, String, String, String, String, i64, i64);
pub(crate) fn order_from(t: OrderTuple) -> Result<Order> {
    let (order_no, user_id, package_id, coins, amount_fen, currency, payment_method, status, provider_ref, c, u) = t;
    let status =
        OrderStatus::parse(&status).ok_or_else(|| crate::StoreError::Corrupt(format!("order status {status:?}")))?;
    Ok(Order {
        order_no,
        user_id,
        package_id,
        coins,
        amount_fen,
        currency,
        payment_method,
        status,
        provider_ref,
        created_at: c,
        updated_at: u,
    })
}

/// Merges the three checks of `verify_ledger` into one list by user.
pub(crate) fn mismatches(
    sums: Vec<(i64, i64, i64, i64, i64)>,
    orphans: Vec<(i64, i64, i64)>,
    breaks: Vec<(i64, i64)>,
) -> Vec<LedgerMismatch> {
    use std::collections::BTreeMap;
    let mut out: BTreeMap<i64, LedgerMismatch> = BTreeMap::new();
    let mut all: BTreeMap<i64, LedgerMismatch> = BTreeMap::new();
    for (user_id, available, frozen, la, lf) in sums {
        let m =
            LedgerMismatch { user_id, available, frozen, ledger_available: la, ledger_frozen: lf, first_bad_row: None };
        if available != la || frozen != lf {
            out.insert(user_id, m.clone());
        }
        all.insert(user_id, m);
    }
    for (user_id, la, lf) in orphans {
        let m = LedgerMismatch {
            user_id,
            available: 0,
            frozen: 0,
            ledger_available: la,
            ledger_frozen: lf,
            first_bad_row: None,
        };
        all.insert(user_id, m.clone());
        out.insert(user_id, m);
    }
    for (user_id, row) in breaks {
        let base = all.get(&user_id).cloned().unwrap_or(LedgerMismatch {
            user_id,
            available: 0,
            frozen: 0,
            ledger_available: 0,
            ledger_frozen: 0,
            first_bad_row: None,
        });
        out.entry(user_id).or_insert(base).first_bad_row = Some(row);
    }
    out.into_values().collect()
}

/// Implements [`LedgerStore`] for a backend type with a `pool` field; `$db` is its sqlx database.
macro_rules! ledger_store_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Creates the account if needed: on SQLite this first write takes the write lock.
            async fn coin_open(tx: &mut sqlx::Transaction<'_, $db>, user_id: i64, at: i64) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO coin_accounts (user_id, available, frozen, updated_at) VALUES ($1, 0, 0, $2) \
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn coin_entry_by_key(&self, user_id: i64, key: &str) -> $crate::Result<Option<LedgerEntry>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {ENTRY_COLUMNS} FROM coin_ledger WHERE user_id = $1 AND idem_key = $2"
                ));
                Ok(sqlx::query_as::<_, EntryTuple>(sql)
                    .bind(user_id)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(entry_from))
            }

            /// The change inside `tx`: `Ok(Err(Some(balances)))` when the balance does not cover
            /// it, `Ok(Err(None))` when the user has no account yet. The UPDATE is its first
            /// statement, so on SQLite it takes the write lock when it starts a transaction.
            async fn coin_change_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                c: &CoinChange<'_>,
            ) -> $crate::Result<std::result::Result<LedgerEntry, Option<(i64, i64)>>> {
                let after: Option<(i64, i64)> = sqlx::query_as(
                    "UPDATE coin_accounts SET available = available + $2, frozen = frozen + $3, updated_at = $4 \
                     WHERE user_id = $1 AND available + $2 >= 0 AND frozen + $3 >= 0 RETURNING available, frozen",
                )
                .bind(c.user_id)
                .bind(c.available)
                .bind(c.frozen)
                .bind(c.at)
                .fetch_optional(&mut **tx)
                .await?;
                let Some((aa, fa)) = after else {
                    let now: Option<(i64, i64)> =
                        sqlx::query_as("SELECT available, frozen FROM coin_accounts WHERE user_id = $1")
                            .bind(c.user_id)
                            .fetch_optional(&mut **tx)
                            .await?;
                    return Ok(Err(now));
                };
                let (ab, fb) = (aa - c.available, fa - c.frozen);
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO coin_ledger (user_id, kind, amount, frozen_change, available_before, available_after, \
                     frozen_before, frozen_after, reason, related, idem_key, actor, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                )
                .bind(c.user_id)
                .bind(c.kind.as_str())
                .bind(c.available)
                .bind(c.frozen)
                .bind(ab)
                .bind(aa)
                .bind(fb)
                .bind(fa)
                .bind(c.reason)
                .bind(c.related)
                .bind(c.idem_key)
                .bind(c.actor)
                .bind(c.at)
                .fetch_one(&mut **tx)
                .await?;
                Ok(Ok(LedgerEntry {
                    id,
                    user_id: c.user_id,
                    kind: c.kind.as_str().to_string(),
                    amount: c.available,
                    frozen_change: c.frozen,
                    available_before: ab,
                    available_after: aa,
                    frozen_before: fb,
                    frozen_after: fa,
                    reason: c.reason.to_string(),
                    related: c.related.to_string(),
                    idem_key: c.idem_key.to_string(),
                    actor: c.actor.to_string(),
                    created_at: c.at,
                }))
            }

            /// Four statements in the common case: BEGIN, the conditional UPDATE (which takes the
            /// account's row lock, and SQLite's write lock), the ledger INSERT, COMMIT. A replayed
            /// key is found by the ledger's unique key (the caller's `coin_replay`) or, when the
            /// balance no longer covers it, by looking the key up.
            async fn coin_apply_once(&self, c: &CoinChange<'_>) -> $crate::Result<Applied> {
                let mut tx = self.pool.begin().await?;
                let mut done = Self::coin_change_in(&mut tx, c).await?;
                if matches!(done, Err(None)) && c.available >= 0 && c.frozen >= 0 {
                    Self::coin_open(&mut tx, c.user_id, c.at).await?;
                    done = Self::coin_change_in(&mut tx, c).await?;
                }
                match done {
                    Ok(entry) => {
                        tx.commit().await?;
                        Ok(Applied::Done(entry))
                    }
                    Err(now) => {
                        drop(tx);
                        if let Some(row) = self.coin_entry_by_key(c.user_id, c.idem_key).await? {
                            return Ok(Applied::Replayed(row));
                        }
                        let (available, frozen) = now.unwrap_or((0, 0));
                        Ok(Applied::Insufficient { available, frozen })
                    }
                }
            }

            async fn coin_reserve_once(
                &self,
                user_id: i64,
                key: &str,
                amount: i64,
                related: &str,
                actor: &str,
                at: i64,
            ) -> $crate::Result<Applied> {
                let idem = format!("reserve:{key}");
                let mut tx = self.pool.begin().await?;
                Self::coin_open(&mut tx, user_id, at).await?;
                let fresh = sqlx::query(
                    "INSERT INTO coin_reservations (res_key, user_id, amount, state, related, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'held', $4, $5, $5) ON CONFLICT (res_key) DO NOTHING",
                )
                .bind(key)
                .bind(user_id)
                .bind(amount)
                .bind(related)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !fresh {
                    drop(tx);
                    let (owner,): (i64,) = sqlx::query_as("SELECT user_id FROM coin_reservations WHERE res_key = $1")
                        .bind(key)
                        .fetch_one(&self.pool)
                        .await?;
                    let row = self.coin_entry_by_key(owner, &idem).await?.ok_or_else(|| {
                        $crate::StoreError::Corrupt(format!("reservation {key} has no freeze row"))
                    })?;
                    return Ok(Applied::Replayed(row));
                }
                let change = CoinChange {
                    user_id,
                    kind: CoinKind::Freeze,
                    available: -amount,
                    frozen: amount,
                    reason: "reserved",
                    related,
                    idem_key: &idem,
                    actor,
                    at,
                };
                match Self::coin_change_in(&mut tx, &change).await? {
                    Ok(entry) => {
                        tx.commit().await?;
                        Ok(Applied::Done(entry))
                    }
                    Err(now) => {
                        let (available, frozen) = now.unwrap_or((0, 0));
                        Ok(Applied::Insufficient { available, frozen })
                    }
                }
            }

            /// A unique violation of the idempotency key (a concurrent delivery won): the row
            /// that is there.
            async fn coin_replay(&self, user_id: i64, key: &str, e: $crate::StoreError) -> $crate::Result<Applied> {
                if e.is_conflict()
                    && let Some(row) = self.coin_entry_by_key(user_id, key).await?
                {
                    return Ok(Applied::Replayed(row));
                }
                Err(e)
            }
        }

        #[async_trait]
        impl LedgerStore for $store {
            async fn coin_account(&self, user_id: i64) -> $crate::Result<Option<CoinAccount>> {
                let row: Option<(i64, i64, i64, String, i64, i64)> = sqlx::query_as(
                    "SELECT user_id, available, frozen, checkin_day, streak, updated_at FROM coin_accounts \
                     WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(user_id, available, frozen, checkin_day, streak, updated_at)| CoinAccount {
                    user_id,
                    available,
                    frozen,
                    checkin_day,
                    streak,
                    updated_at,
                }))
            }

            async fn apply_coins(&self, c: &CoinChange<'_>) -> $crate::Result<Applied> {
                match self.coin_apply_once(c).await {
                    Ok(a) => Ok(a),
                    Err(e) => self.coin_replay(c.user_id, c.idem_key, e).await,
                }
            }

            async fn reserve_coins(
                &self,
                user_id: i64,
                key: &str,
                amount: i64,
                related: &str,
                actor: &str,
                at: i64,
            ) -> $crate::Result<Applied> {
                match self.coin_reserve_once(user_id, key, amount, related, actor, at).await {
                    Ok(a) => Ok(a),
                    Err(e) => self.coin_replay(user_id, &format!("reserve:{key}"), e).await,
                }
            }

            async fn settle_reservation(
                &self,
                key: &str,
                capture: bool,
                actor: &str,
                at: i64,
            ) -> $crate::Result<Settled> {
                let state = if capture { ReservationState::Captured } else { ReservationState::Released };
                let mut tx = self.pool.begin().await?;
                let held: Option<(i64, i64, String)> = sqlx::query_as(
                    "UPDATE coin_reservations SET state = $2, updated_at = $3 WHERE res_key = $1 AND state = 'held' \
                     RETURNING user_id, amount, related",
                )
                .bind(key)
                .bind(state.as_str())
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user_id, amount, related)) = held else {
                    drop(tx);
                    return Ok(match self.reservation(key).await? {
                        Some(r) => Settled::Already(r.state),
                        None => Settled::Unknown,
                    });
                };
                let idem = format!("{}:{key}", if capture { "capture" } else { "release" });
                let change = CoinChange {
                    user_id,
                    kind: if capture { CoinKind::Spend } else { CoinKind::Release },
                    available: if capture { 0 } else { amount },
                    frozen: -amount,
                    reason: if capture { "captured" } else { "released" },
                    related: &related,
                    idem_key: &idem,
                    actor,
                    at,
                };
                match Self::coin_change_in(&mut tx, &change).await? {
                    Ok(entry) => {
                        tx.commit().await?;
                        Ok(Settled::Done(entry))
                    }
                    Err(now) => Err($crate::StoreError::Corrupt(format!(
                        "reservation {key} holds {amount} but user {user_id} has {:?} (available, frozen)",
                        now
                    ))),
                }
            }

            async fn reservation(&self, key: &str) -> $crate::Result<Option<Reservation>> {
                let row: Option<ReservationTuple> = sqlx::query_as(
                    "SELECT res_key, user_id, amount, state, related, created_at, updated_at FROM coin_reservations \
                     WHERE res_key = $1",
                )
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
                row.map(reservation_from).transpose()
            }

            async fn check_in(
                &self,
                user_id: i64,
                today: &str,
                yesterday: &str,
                rule: &CheckinRule,
                at: i64,
            ) -> $crate::Result<CheckedIn> {
                let idem = format!("checkin:{today}");
                let mut tx = self.pool.begin().await?;
                Self::coin_open(&mut tx, user_id, at).await?;
                let streak: Option<(i64,)> = sqlx::query_as(
                    "UPDATE coin_accounts SET streak = CASE WHEN checkin_day = $3 THEN streak + 1 ELSE 1 END, \
                     checkin_day = $2, updated_at = $4 WHERE user_id = $1 AND checkin_day < $2 RETURNING streak",
                )
                .bind(user_id)
                .bind(today)
                .bind(yesterday)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((streak,)) = streak else {
                    let (streak,): (i64,) = sqlx::query_as("SELECT streak FROM coin_accounts WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    return Ok(CheckedIn::Already { streak });
                };
                let coins = rule.coins(streak - 1);
                let reason = format!("check-in {today}, day {streak}");
                let change = CoinChange {
                    user_id,
                    kind: CoinKind::Checkin,
                    available: coins,
                    frozen: 0,
                    reason: &reason,
                    related: "",
                    idem_key: &idem,
                    actor: "system",
                    at,
                };
                match Self::coin_change_in(&mut tx, &change).await? {
                    Ok(entry) => {
                        tx.commit().await?;
                        Ok(CheckedIn::Done { entry, streak })
                    }
                    Err(_) => Err($crate::StoreError::Corrupt(format!("check-in of {coins} coins refused"))),
                }
            }

            async fn coin_ledger(&self, user_id: i64, limit: u32, offset: u32) -> $crate::Result<Vec<LedgerEntry>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {ENTRY_COLUMNS} FROM coin_ledger WHERE user_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
                ));
                Ok(sqlx::query_as::<_, EntryTuple>(sql)
                    .bind(user_id)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(entry_from)
                    .collect())
            }

            async fn count_coin_ledger(&self, user_id: i64) -> $crate::Result<u64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM coin_ledger WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await?;
                u64::try_from(n).map_err(|_| $crate::StoreError::Corrupt(format!("{n} ledger rows")))
            }

            async fn verify_ledger(&self) -> $crate::Result<Vec<LedgerMismatch>> {
                let sums: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT a.user_id, a.available, a.frozen, \
                     CAST(COALESCE((SELECT SUM(l.amount) FROM coin_ledger l WHERE l.user_id = a.user_id), 0) AS BIGINT), \
                     CAST(COALESCE((SELECT SUM(l.frozen_change) FROM coin_ledger l WHERE l.user_id = a.user_id), 0) AS BIGINT) \
                     FROM coin_accounts a ORDER BY a.user_id",
                )
                .fetch_all(&self.pool)
                .await?;
                let orphans: Vec<(i64, i64, i64)> = sqlx::query_as(
                    "SELECT user_id, CAST(SUM(amount) AS BIGINT), CAST(SUM(frozen_change) AS BIGINT) FROM coin_ledger \
                     WHERE user_id NOT IN (SELECT user_id FROM coin_accounts) GROUP BY user_id",
                )
                .fetch_all(&self.pool)
                .await?;
                let breaks: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT user_id, MIN(id) FROM (SELECT user_id, id, amount, frozen_change, available_before, \
                     available_after, frozen_before, frozen_after, \
                     LAG(available_after) OVER (PARTITION BY user_id ORDER BY id) AS pa, \
                     LAG(frozen_after) OVER (PARTITION BY user_id ORDER BY id) AS pf FROM coin_ledger) t \
                     WHERE available_after <> available_before + amount OR frozen_after <> frozen_before + frozen_change \
                     OR available_after < 0 OR frozen_after < 0 \
                     OR (pa IS NULL AND (available_before <> 0 OR frozen_before <> 0)) \
                     OR (pa IS NOT NULL AND (pa <> available_before OR pf <> frozen_before)) \
                     GROUP BY user_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(mismatches(sums, orphans, breaks))
            }

            async fn packages(&self, all: bool) -> $crate::Result<Vec<Package>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {PACKAGE_COLUMNS} FROM coin_packages WHERE active = 1 OR $1 = 1 ORDER BY sort, package_id"
                ));
                Ok(sqlx::query_as::<_, PackageTuple>(sql)
                    .bind(i64::from(all))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(package_from)
                    .collect())
            }

            async fn package(&self, id: &str) -> $crate::Result<Option<Package>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {PACKAGE_COLUMNS} FROM coin_packages WHERE package_id = $1"));
                Ok(sqlx::query_as::<_, PackageTuple>(sql).bind(id).fetch_optional(&self.pool).await?.map(package_from))
            }

            async fn put_package(&self, p: &Package) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO coin_packages (package_id, name, coins, price_fen, currency, active, sort, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (package_id) DO UPDATE SET name = excluded.name, \
                     coins = excluded.coins, price_fen = excluded.price_fen, currency = excluded.currency, \
                     active = excluded.active, sort = excluded.sort, updated_at = excluded.updated_at",
                )
                .bind(p.id.as_str())
                .bind(p.name.as_str())
                .bind(p.coins)
                .bind(p.price_fen)
                .bind(p.currency.as_str())
                .bind(i64::from(p.active))
                .bind(p.sort)
                .bind(p.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn create_order(&self, o: &Order) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO coin_orders (order_no, user_id, package_id, coins, amount_fen, currency, payment_method, \
                     status, provider_ref, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(o.order_no.as_str())
                .bind(o.user_id)
                .bind(o.package_id.as_str())
                .bind(o.coins)
                .bind(o.amount_fen)
                .bind(o.currency.as_str())
                .bind(o.payment_method.as_str())
                .bind(o.status.as_str())
                .bind(o.provider_ref.as_str())
                .bind(o.created_at)
                .bind(o.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn order(&self, order_no: &str) -> $crate::Result<Option<Order>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {ORDER_COLUMNS} FROM coin_orders WHERE order_no = $1"));
                sqlx::query_as::<_, OrderTuple>(sql).bind(order_no).fetch_optional(&self.pool).await?.map(order_from).transpose()
            }

            async fn orders(&self, user_id: i64, limit: u32, offset: u32) -> $crate::Result<Vec<Order>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {ORDER_COLUMNS} FROM coin_orders WHERE user_id = $1 \
                     ORDER BY created_at DESC, order_no DESC LIMIT $2 OFFSET $3"
                ));
                sqlx::query_as::<_, OrderTuple>(sql)
                    .bind(user_id)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(order_from)
                    .collect()
            }

            async fn close_order(&self, order_no: &str, status: OrderStatus, at: i64) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE coin_orders SET status = $2, updated_at = $3 WHERE order_no = $1 AND status = 'pending'",
                )
                .bind(order_no)
                .bind(status.as_str())
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn expire_orders(&self, before: i64, at: i64) -> $crate::Result<u64> {
                let done = sqlx::query(
                    "UPDATE coin_orders SET status = 'expired', updated_at = $2 WHERE status = 'pending' AND created_at < $1",
                )
                .bind(before)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn record_payment(
                &self,
                provider: &str,
                event_id: &str,
                order_no: &str,
                amount_fen: i64,
                provider_ref: &str,
                at: i64,
            ) -> $crate::Result<PaymentOutcome> {
                let mut tx = self.pool.begin().await?;
                // The event first (on SQLite this write takes the lock): a replay stops here.
                let fresh = sqlx::query(
                    "INSERT INTO payment_events (provider, event_id, order_no, amount_fen, outcome, received_at) \
                     VALUES ($1, $2, $3, $4, 'received', $5) ON CONFLICT (provider, event_id) DO NOTHING",
                )
                .bind(provider)
                .bind(event_id)
                .bind(order_no)
                .bind(amount_fen)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !fresh {
                    return Ok(PaymentOutcome::DuplicateEvent);
                }
                let paid: Option<(i64, i64)> = sqlx::query_as(
                    "UPDATE coin_orders SET status = 'paid', provider_ref = $3, updated_at = $4 \
                     WHERE order_no = $1 AND status = 'pending' AND amount_fen = $2 RETURNING user_id, coins",
                )
                .bind(order_no)
                .bind(amount_fen)
                .bind(provider_ref)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let outcome = match paid {
                    Some((user_id, coins)) => {
                        let key = format!("order:{order_no}");
                        let related = format!("order:{order_no}");
                        let reason = format!("purchase via {provider}");
                        Self::coin_open(&mut tx, user_id, at).await?;
                        let change = CoinChange {
                            user_id,
                            kind: CoinKind::Purchase,
                            available: coins,
                            frozen: 0,
                            reason: &reason,
                            related: &related,
                            idem_key: &key,
                            actor: provider,
                            at,
                        };
                        match Self::coin_change_in(&mut tx, &change).await? {
                            Ok(entry) => PaymentOutcome::Credited(entry),
                            Err(_) => {
                                return Err($crate::StoreError::Corrupt(format!("crediting order {order_no} was refused")));
                            }
                        }
                    }
                    None => {
                        let row: Option<(i64, String)> =
                            sqlx::query_as("SELECT amount_fen, status FROM coin_orders WHERE order_no = $1")
                                .bind(order_no)
                                .fetch_optional(&mut *tx)
                                .await?;
                        match row {
                            None => PaymentOutcome::UnknownOrder,
                            Some((_, status)) if status != "pending" => PaymentOutcome::FinalOrder(
                                OrderStatus::parse(&status).unwrap_or(OrderStatus::Paid),
                            ),
                            Some((expected, _)) => PaymentOutcome::AmountMismatch { expected, paid: amount_fen },
                        }
                    }
                };
                sqlx::query("UPDATE payment_events SET outcome = $3 WHERE provider = $1 AND event_id = $2")
                    .bind(provider)
                    .bind(event_id)
                    .bind(outcome.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(outcome)
            }
        }
    };
}
ledger_store_impl!(crate::SqliteStore, sqlx::Sqlite);
ledger_store_impl!(crate::PgStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_the_checkin_rule_caps() {
        for k in CoinKind::ALL {
            assert_eq!(CoinKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(CoinKind::parse("gift"), None);
        let r = CheckinRule { base: 20, step: 2, cap: 50 };
        assert_eq!((r.coins(0), r.coins(1), r.coins(24), r.coins(25), r.coins(400)), (20, 22, 68, 70, 70));
    }

    #[test]
    fn mismatches_name_each_user_once() {
        let m = mismatches(vec![(1, 5, 0, 5, 0), (2, 7, 1, 6, 1)], vec![(9, 3, 0)], vec![(1, 42), (2, 50)]);
        let ids: Vec<_> = m.iter().map(|x| (x.user_id, x.first_bad_row)).collect();
        assert_eq!(ids, vec![(1, Some(42)), (2, Some(50)), (9, None)]);
        assert_eq!((m[1].available, m[1].ledger_available), (7, 6));
    }
}
