//! The coin ledger's services: each user's balance and ledger, the daily check-in, an
//! administrator's adjustment, the reservation of an operation's cost (reserve when its job is
//! enqueued, capture when its result is stored, release when it fails or is cancelled) and
//! re-deriving every balance from the ledger.
//!
//! Amounts are whole coins. Every write is one transaction of the store's [`LedgerStore`] with an
//! idempotency key, so a retried request, a redelivered webhook or a rerun job changes nothing
//! the second time.
//!
//! The check-in gives `checkin_base + min(checkin_step × streak, checkin_cap)` coins (20 +
//! min(2 × streak, 50) by default) once per calendar day in the user's time zone (the
//! `time_zone` preference, else `default_time_zone`, Asia/Shanghai). The streak in the formula is
//! the number of consecutive days *before* today on which the user checked in: 0 on a first
//! check-in or after a missed day (20 coins), 1 on the second day in a row (22), and from the
//! 26th day in a row on the cap (70). The answers' `streak` counts the days in a row including
//! today's.

use std::sync::Arc;

use chrono_tz::Tz;
use quantdesk_store::Store;
use quantdesk_store::auth::{AuditEvent, Role};
use quantdesk_store::ledger::{
    Applied, CheckedIn, CheckinRule, CoinChange, CoinKind, LedgerEntry, LedgerMismatch, Settled,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::clock::{iso_ms, now_ms};
use crate::config::Config;
use crate::error::AppError;

/// The user preference that names a time zone for the check-in day.
pub const TIME_ZONE_PREF: &str = "time_zone";

/// Operations that cost coins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// One report.
    Report,
    /// A batch analysis of this many symbols.
    Batch { symbols: u32 },
}

/// What the coin services need of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinSettings {
    pub signup_coins: i64,
    pub checkin: CheckinRule,
    pub cost_report: i64,
    pub cost_batch_symbol: i64,
    pub admins_exempt: bool,
    pub default_time_zone: Tz,
}

impl Default for CoinSettings {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

impl CoinSettings {
    pub fn from_config(cfg: &Config) -> Self {
        let c = &cfg.coins;
        CoinSettings {
            signup_coins: c.signup_coins,
            checkin: CheckinRule { base: c.checkin_base, step: c.checkin_step, cap: c.checkin_cap },
            cost_report: c.cost_report,
            cost_batch_symbol: c.cost_batch_symbol,
            admins_exempt: c.admins_exempt,
            default_time_zone: c.default_time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai),
        }
    }

    /// What `op` costs someone of `role` (0: free).
    pub fn cost(&self, role: Role, op: Operation) -> i64 {
        if self.admins_exempt && role == Role::Admin {
            return 0;
        }
        match op {
            Operation::Report => self.cost_report,
            Operation::Batch { symbols } => self.cost_batch_symbol.saturating_mul(i64::from(symbols)),
        }
    }
}

/// A caller's coins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Balance {
    /// Coins that can be spent.
    pub available: i64,
    /// Coins reserved by operations in progress.
    pub frozen: i64,
    /// Days in a row with a check-in, up to today or yesterday (0 when the streak is broken).
    pub streak: i64,
    /// Whether today's check-in is done.
    pub checked_in_today: bool,
    /// Coins today's check-in gives (or gave).
    pub checkin_coins: i64,
    /// Today in the caller's time zone (`YYYY-MM-DD`).
    pub today: String,
    /// The time zone the check-in day is read in.
    pub time_zone: String,
}

/// One ledger row as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerItem {
    pub id: i64,
    /// grant, checkin, purchase, spend, refund, adjust, expiry, freeze or release.
    pub kind: String,
    /// The change of `available` (negative: taken).
    pub amount: i64,
    /// The change of `frozen`.
    pub frozen_change: i64,
    pub available_before: i64,
    pub available_after: i64,
    pub frozen_before: i64,
    pub frozen_after: i64,
    pub reason: String,
    /// The object it is about (`order:…`, `job:…`), or empty.
    pub related: String,
    /// When, RFC 3339 UTC.
    pub at: String,
}

impl From<LedgerEntry> for LedgerItem {
    fn from(e: LedgerEntry) -> Self {
        LedgerItem {
            id: e.id,
            kind: e.kind,
            amount: e.amount,
            frozen_change: e.frozen_change,
            available_before: e.available_before,
            available_after: e.available_after,
            frozen_before: e.frozen_before,
            frozen_after: e.frozen_after,
            reason: e.reason,
            related: e.related,
            at: iso_ms(e.created_at),
        }
    }
}

/// A page of the ledger, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerItem>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// The answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckIn {
    /// Coins credited now (0 when today's check-in was already done).
    pub coins: i64,
    /// Whether today's check-in had already been done (nothing changed).
    pub already: bool,
    /// Days in a row with a check-in, today included.
    pub streak: i64,
    /// The balance after it.
    pub available: i64,
    /// The day checked in, in the caller's time zone.
    pub today: String,
}

/// An operation's cost, held or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The operation costs this caller nothing: there is nothing to capture or release.
    Free,
    /// `amount` coins are frozen under the key.
    Held { key: String, amount: i64 },
}

fn insufficient(available: i64, cost: i64) -> AppError {
    AppError::conflict(format!("this costs {cost} coins and {available} are available")).with_code("insufficient_coins")
}

/// The job parameter that names the reservation of a job's cost: the job runtime captures it
/// when the job succeeds (its result is stored) and releases it when the job fails for good or
/// is cancelled, so a failed analysis costs nothing.
pub const JOB_RESERVATION_PARAM: &str = "coin_reservation";

/// Settles the reservation a job's parameters name ([`JOB_RESERVATION_PARAM`]), if any: captured
/// when `succeeded`, else released. Once: a second call changes nothing.
pub async fn settle_job(
    store: &dyn Store,
    params: &serde_json::Value,
    succeeded: bool,
) -> Result<Option<LedgerItem>, AppError> {
    let Some(key) = params.get(JOB_RESERVATION_PARAM).and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    match store.settle_reservation(key, succeeded, "system", now_ms()).await? {
        Settled::Done(e) => Ok(Some(e.into())),
        Settled::Already(_) | Settled::Unknown => Ok(None),
    }
}

/// Grants the sign-up coins to a new account, once (the idempotency key is `signup`).
pub async fn grant_signup(store: &dyn Store, user_id: i64, coins: i64) -> Result<(), AppError> {
    if coins <= 0 {
        return Ok(());
    }
    let related = format!("user:{user_id}");
    store
        .apply_coins(&CoinChange {
            user_id,
            kind: CoinKind::Grant,
            available: coins,
            frozen: 0,
            reason: "sign-up",
            related: &related,
            idem_key: "signup",
            actor: "system",
            at: now_ms(),
        })
        .await?;
    Ok(())
}

/// The coin services: the store and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Coins {
    store: Arc<dyn Store>,
    settings: CoinSettings,
}

impl std::fmt::Debug for Coins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coins").field("settings", &self.settings).finish()
    }
}

impl Coins {
    pub fn new(store: Arc<dyn Store>, settings: CoinSettings) -> Self {
        Coins { store, settings }
    }

    pub fn from_config(store: Arc<dyn Store>, cfg: &Config) -> Self {
        Self::new(store, CoinSettings::from_config(cfg))
    }

    pub fn settings(&self) -> &CoinSettings {
        &self.settings
    }

    /// The time zone `user_id`'s check-in day is read in.
    pub async fn time_zone(&self, user_id: i64) -> Result<Tz, AppError> {
        let pref = self.store.pref(user_id, TIME_ZONE_PREF).await?;
        Ok(pref
            .as_deref()
            .map(|v| v.trim().trim_matches('"'))
            .and_then(|v| v.parse::<Tz>().ok())
            .unwrap_or(self.settings.default_time_zone))
    }

    /// The caller's balance and check-in state.
    pub async fn balance(&self, actor: &Actor) -> Result<Balance, AppError> {
        self.balance_at(actor.user_id, now_ms()).await
    }

    /// `user_id`'s balance as of `now` (Unix ms).
    pub async fn balance_at(&self, user_id: i64, now: i64) -> Result<Balance, AppError> {
        let tz = self.time_zone(user_id).await?;
        let (today, yesterday) = local_days(tz, now);
        let a = self.store.coin_account(user_id).await?.unwrap_or_default();
        let checked_in_today = a.checkin_day == today;
        let streak = if checked_in_today || a.checkin_day == yesterday { a.streak } else { 0 };
        let checkin_coins = self.settings.checkin.coins(if checked_in_today { streak - 1 } else { streak });
        Ok(Balance {
            available: a.available,
            frozen: a.frozen,
            streak,
            checked_in_today,
            checkin_coins,
            today,
            time_zone: tz.name().to_string(),
        })
    }

    /// The caller's ledger, newest first.
    pub async fn ledger(&self, actor: &Actor, limit: u32, offset: u32) -> Result<LedgerPage, AppError> {
        self.ledger_of(actor.user_id, limit, offset).await
    }

    /// `user_id`'s ledger, newest first (for the command line and administrators).
    pub async fn ledger_of(&self, user_id: i64, limit: u32, offset: u32) -> Result<LedgerPage, AppError> {
        let items = self.store.coin_ledger(user_id, limit, offset).await?.into_iter().map(LedgerItem::from).collect();
        let total = self.store.count_coin_ledger(user_id).await?;
        Ok(LedgerPage { items, total, limit, offset })
    }

    /// Today's check-in for the caller.
    pub async fn check_in(&self, actor: &Actor) -> Result<CheckIn, AppError> {
        self.check_in_at(actor.user_id, now_ms()).await
    }

    /// The check-in of the day `now` (Unix ms) falls on in `user_id`'s time zone.
    pub async fn check_in_at(&self, user_id: i64, now: i64) -> Result<CheckIn, AppError> {
        let tz = self.time_zone(user_id).await?;
        let (today, yesterday) = local_days(tz, now);
        let done = self.store.check_in(user_id, &today, &yesterday, &self.settings.checkin, now).await?;
        Ok(match done {
            CheckedIn::Done { entry, streak } => {
                tracing::info!(user_id, coins = entry.amount, streak, "check-in");
                CheckIn { coins: entry.amount, already: false, streak, available: entry.available_after, today }
            }
            CheckedIn::Already { streak } => {
                let available = self.store.coin_account(user_id).await?.map(|a| a.available).unwrap_or(0);
                CheckIn { coins: 0, already: true, streak, available, today }
            }
        })
    }

    /// An administrator's adjustment of `user_id`'s available coins by `amount` (negative takes,
    /// never below zero), with a reason; audited. `key` makes a retried request change nothing
    /// the second time (a fresh one is made when it is `None`).
    pub async fn adjust(
        &self,
        admin: &Actor,
        ip: &std::net::IpAddr,
        user_id: i64,
        amount: i64,
        reason: &str,
        key: Option<&str>,
    ) -> Result<LedgerItem, AppError> {
        if !admin.is_admin() {
            return Err(AppError::forbidden("adjusting coins needs the admin scope"));
        }
        self.adjust_by((Some(admin.user_id), &admin.email), ip, user_id, amount, reason, key).await
    }

    /// The operator's adjustment from the command line (`quantdesk ledger adjust`), audited with
    /// the actor `command_line`.
    pub async fn adjust_as_operator(
        &self,
        user_id: i64,
        amount: i64,
        reason: &str,
        key: Option<&str>,
    ) -> Result<LedgerItem, AppError> {
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        self.adjust_by((None, "command_line"), &ip, user_id, amount, reason, key).await
    }

    async fn adjust_by(
        &self,
        actor: (Option<i64>, &str),
        ip: &std::net::IpAddr,
        user_id: i64,
        amount: i64,
        reason: &str,
        key: Option<&str>,
    ) -> Result<LedgerItem, AppError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(AppError::invalid("give a reason of 1 to 500 characters")
                .with_code("invalid_params")
                .with_field("reason"));
        }
        if amount == 0 || amount.unsigned_abs() > 1_000_000_000 {
            return Err(AppError::invalid("the amount must be a non-zero number of coins up to 1000000000")
                .with_code("invalid_params")
                .with_field("amount"));
        }
        let user = self.store.user(user_id).await?.ok_or_else(|| AppError::not_found("no such user"))?;
        let key = match key {
            Some(k) => format!("adjust:{k}"),
            None => format!("adjust:{}", crate::accounts::secrets::random_hex(16)),
        };
        let change = CoinChange {
            user_id,
            kind: CoinKind::Adjust,
            available: amount,
            frozen: 0,
            reason,
            related: "",
            idem_key: &key,
            actor: actor.1,
            at: now_ms(),
        };
        let entry = match self.store.apply_coins(&change).await? {
            Applied::Done(e) => {
                let event = AuditEvent {
                    id: 0,
                    at: now_ms(),
                    user_id: actor.0,
                    actor: actor.1.to_string(),
                    event: "coins_adjusted".into(),
                    target: user.email.clone(),
                    ip: ip.to_string(),
                    detail: format!("{amount:+} ({reason}); balance {} -> {}", e.available_before, e.available_after),
                };
                if let Err(err) = self.store.audit(&event).await {
                    tracing::error!(error = %err, "could not write the audit log");
                }
                e
            }
            Applied::Replayed(e) if e.amount == amount && e.user_id == user_id => e,
            Applied::Replayed(_) => {
                return Err(AppError::conflict("this idempotency key was used for another adjustment"));
            }
            Applied::Insufficient { available, .. } => {
                return Err(AppError::conflict(format!(
                    "the user has {available} coins available; an adjustment cannot take more"
                ))
                .with_code("insufficient_coins"));
            }
        };
        Ok(entry.into())
    }

    /// Reserves what `op` costs `actor` under `key` (the job's, say `report:{uuid}`): nothing
    /// for a free operation, else the coins are frozen until [`Coins::capture`] or
    /// [`Coins::release`]. Reserving the same key again freezes nothing more. Not enough coins:
    /// 409 `insufficient_coins`.
    pub async fn reserve(&self, actor: &Actor, op: Operation, key: &str, related: &str) -> Result<Hold, AppError> {
        let cost = self.settings.cost(actor.role, op);
        if cost <= 0 {
            return Ok(Hold::Free);
        }
        match self.store.reserve_coins(actor.user_id, key, cost, related, &actor.email, now_ms()).await? {
            Applied::Done(_) => Ok(Hold::Held { key: key.to_string(), amount: cost }),
            Applied::Replayed(e) if e.user_id == actor.user_id => {
                Ok(Hold::Held { key: key.to_string(), amount: e.frozen_change })
            }
            Applied::Replayed(_) => Err(AppError::conflict("this reservation key belongs to someone else")),
            Applied::Insufficient { available, .. } => Err(insufficient(available, cost)),
        }
    }

    /// Takes the coins reserved under `key` (the operation's result is stored). `None` when there
    /// is no such reservation (a free operation) or it was already captured or released.
    pub async fn capture(&self, key: &str) -> Result<Option<LedgerItem>, AppError> {
        self.settle(key, true).await
    }

    /// Returns the coins reserved under `key` to available (the operation failed or was
    /// cancelled): a failed operation costs nothing. `None` as for [`Coins::capture`].
    pub async fn release(&self, key: &str) -> Result<Option<LedgerItem>, AppError> {
        self.settle(key, false).await
    }

    async fn settle(&self, key: &str, capture: bool) -> Result<Option<LedgerItem>, AppError> {
        match self.store.settle_reservation(key, capture, "system", now_ms()).await? {
            Settled::Done(e) => Ok(Some(e.into())),
            Settled::Already(state) => {
                tracing::info!(key, state = state.as_str(), capture, "reservation already settled");
                Ok(None)
            }
            Settled::Unknown => Ok(None),
        }
    }

    /// Every user whose stored balances the ledger does not re-derive (empty: all agree).
    pub async fn verify(&self) -> Result<Vec<LedgerMismatch>, AppError> {
        Ok(self.store.verify_ledger().await?)
    }
}

/// Today and yesterday (`YYYY-MM-DD`) in `tz` at `now` (Unix ms).
pub fn local_days(tz: Tz, now: i64) -> (String, String) {
    let today = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().with_timezone(&tz).date_naive();
    let yesterday = today.pred_opt().unwrap_or(today);
    (today.format("%F").to_string(), yesterday.format("%F").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_settings() {
        let mut s = CoinSettings::default();
        assert_eq!(s.cost(Role::Analyst, Operation::Report), 10);
        assert_eq!(s.cost(Role::Viewer, Operation::Batch { symbols: 3 }), 30);
        assert_eq!(s.cost(Role::Admin, Operation::Report), 0, "admins are exempt");
        s.admins_exempt = false;
        assert_eq!(s.cost(Role::Admin, Operation::Report), 10);
        s.cost_report = 0;
        assert_eq!(s.cost(Role::Analyst, Operation::Report), 0, "an operation can be free");
    }

    #[test]
    fn local_days_follow_the_time_zone() {
        // 2024-05-01T16:30:00Z is 00:30 on 2 May in Shanghai and 18:30 on 1 May in Berlin.
        let t = 1_714_581_000_000;
        assert_eq!(local_days(chrono_tz::Asia::Shanghai, t), ("2024-05-02".into(), "2024-05-01".into()));
        assert_eq!(local_days(chrono_tz::Europe::Berlin, t), ("2024-05-01".into(), "2024-04-30".into()));
    }
}
