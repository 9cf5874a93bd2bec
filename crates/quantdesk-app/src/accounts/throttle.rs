//! Abuse limits on secrets: sign-in attempts, e-mail codes issued and code guesses. They live in
//! the database (`auth_counters`), so that every replica sees the same counts, and an attempt is
//! taken with a compare-and-set before any secret is checked, so that concurrent attempts cannot
//! race past them. (The general per-request rate limiter is the HTTP layer's, in process.)

use std::net::IpAddr;

use quantdesk_store::StoreError;
use quantdesk_store::auth::{AuthStore, Counter};

/// A limit on attempts of one kind for one key, counted in a fixed window that opens with the
/// first attempt: at most `max` in `window_ms`, the first `free` without delay, then each one
/// `base_delay_ms` after the last, doubling up to `max_delay_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub window_ms: i64,
    pub max: i64,
    pub free: i64,
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// The longest delay between attempts.
const MAX_DELAY_MS: i64 = 15 * 60_000;

/// Sign-in attempts for one account from one address: three free, then 5 s doubling to 15 min.
pub const LOGIN_PAIR: Limit =
    Limit { name: "login", window_ms: HOUR, max: 100, free: 3, base_delay_ms: 5_000, max_delay_ms: MAX_DELAY_MS };
/// Sign-in attempts from one address, any account (higher: offices share one).
pub const LOGIN_ADDRESS: Limit =
    Limit { name: "login-ip", window_ms: HOUR, max: 1_000, free: 20, base_delay_ms: 5_000, max_delay_ms: MAX_DELAY_MS };
/// Sign-in attempts for one account from addresses it never signed in from: the looser ceiling
/// against guessing from many addresses, which cannot lock the owner out of a known address.
pub const LOGIN_ACCOUNT: Limit =
    Limit { name: "login-acct", window_ms: HOUR, max: 100, free: 10, base_delay_ms: 5_000, max_delay_ms: MAX_DELAY_MS };
/// E-mail codes issued to one address (sign-up and reset together): one a minute, five an hour.
/// Burning a code with wrong guesses does not give any back.
pub const ISSUE_ACCOUNT: Limit =
    Limit { name: "issue", window_ms: HOUR, max: 5, free: 1, base_delay_ms: 60_000, max_delay_ms: 60_000 };
/// E-mail codes requested from one client address, any account.
pub const ISSUE_ADDRESS: Limit =
    Limit { name: "issue-ip", window_ms: HOUR, max: 20, free: 20, base_delay_ms: 0, max_delay_ms: 0 };
/// Code guesses for one address across all its codes: ten a day. A 6-digit code then falls to
/// guessing with a chance of at most 10 in 1,000,000 a day.
pub const GUESS_ACCOUNT: Limit =
    Limit { name: "guess", window_ms: DAY, max: 10, free: 10, base_delay_ms: 0, max_delay_ms: 0 };
/// Code guesses from one client address, any account.
pub const GUESS_ADDRESS: Limit =
    Limit { name: "guess-ip", window_ms: HOUR, max: 30, free: 30, base_delay_ms: 0, max_delay_ms: 0 };

/// An address an account signed in from stays known this long.
pub const KNOWN_MS: i64 = 180 * DAY;

/// How long after the last attempt the next must wait, given `n` attempts in the window:
/// nothing for the first `free`, then `base` doubling to `cap`.
pub fn delay(n: i64, free: i64, base: i64, cap: i64) -> i64 {
    if n < free {
        return 0;
    }
    let doublings = (n - free).min(20) as u32;
    base.saturating_mul(1i64 << doublings).min(cap)
}

/// [`delay`] of the sign-in limits (5 s doubling to 15 minutes).
pub fn delay_ms(n: u64, free: u64) -> i64 {
    delay(n as i64, free as i64, 5_000, MAX_DELAY_MS)
}

/// The counter key of `limit` for `who`.
pub fn key(limit: &Limit, who: &str) -> String {
    format!("rl:{}:{who}", limit.name)
}

/// The state after one more attempt at `now`, or `Err(wait_ms)` when the attempt must wait.
pub fn next(limit: &Limit, cur: Option<&Counter>, now: i64) -> Result<Counter, i64> {
    match cur {
        // A window opened by a concurrent attempt whose clock read later is still this window.
        Some(c) if c.window_start + limit.window_ms > now => {
            if c.n >= limit.max {
                return Err((c.window_start + limit.window_ms - now).max(1));
            }
            let wait = c.last_at + delay(c.n, limit.free, limit.base_delay_ms, limit.max_delay_ms) - now;
            if wait > 0 {
                return Err(wait);
            }
            Ok(Counter { window_start: c.window_start, n: c.n + 1, last_at: now.max(c.last_at) })
        }
        _ => Ok(Counter { window_start: now, n: 1, last_at: now }),
    }
}

/// Takes one attempt of `limit` for `who` before anything is checked, with a compare-and-set,
/// so concurrent attempts cannot all see a free slot: `Ok(Ok(counter))` with the attempt
/// counted, `Ok(Err(wait_ms))` when it must wait (nothing is counted then).
pub async fn take(
    store: &dyn AuthStore,
    limit: &Limit,
    who: &str,
    now: i64,
) -> Result<Result<Counter, i64>, StoreError> {
    let key = key(limit, who);
    for _ in 0..16 {
        let cur = store.counter(&key).await?;
        let new = match next(limit, cur.as_ref(), now) {
            Ok(c) => c,
            Err(wait) => return Ok(Err(wait)),
        };
        if store.cas_counter(&key, cur.as_ref(), &new).await? {
            if now % 64 == 0 {
                // Rate counters live a day at most; dropping old ones keeps the table small.
                store.prune_counters("rl:%", now - DAY).await?;
                store.prune_counters("known:%", now - KNOWN_MS).await?;
            }
            return Ok(Ok(new));
        }
    }
    // Heavily contended: refusing is the safe answer.
    Ok(Err(1_000))
}

/// Gives back an attempt [`take`] counted (it turned out not to be a failure). Best effort: if
/// another attempt came in since, the count stays.
pub async fn give_back(store: &dyn AuthStore, limit: &Limit, who: &str, taken: &Counter) -> Result<(), StoreError> {
    let back = Counter { n: taken.n - 1, ..*taken };
    store.cas_counter(&key(limit, who), Some(taken), &back).await?;
    Ok(())
}

fn pair(email: &str, ip: &IpAddr) -> String {
    format!("{email}|{ip}")
}

fn known_key(email: &str, ip: &IpAddr) -> String {
    format!("known:{email}|{ip}")
}

/// Takes a sign-in attempt for `email` from `ip`, before the password is verified, so that
/// concurrency buys nothing: per (account, address), per address, and per account when the
/// address is not one the account signed in from before (so a stranger cannot lock the owner
/// out of the owner's own address). `Err(wait_ms)` when it must wait. The answer is the same
/// whether or not the account exists.
pub async fn login_take(
    store: &dyn AuthStore,
    email: &str,
    ip: &IpAddr,
    now: i64,
) -> Result<Result<(), i64>, StoreError> {
    if let Err(wait) = take(store, &LOGIN_PAIR, &pair(email, ip), now).await? {
        return Ok(Err(wait));
    }
    if let Err(wait) = take(store, &LOGIN_ADDRESS, &ip.to_string(), now).await? {
        return Ok(Err(wait));
    }
    let known = store.counter(&known_key(email, ip)).await?.is_some_and(|c| c.last_at > now - KNOWN_MS);
    if !known && let Err(wait) = take(store, &LOGIN_ACCOUNT, email, now).await? {
        return Ok(Err(wait));
    }
    Ok(Ok(()))
}

/// A successful sign-in: the (account, address) attempts are forgotten and the address becomes
/// one the account is known to sign in from.
pub async fn login_succeeded(store: &dyn AuthStore, email: &str, ip: &IpAddr, now: i64) -> Result<(), StoreError> {
    store.delete_counter(&key(&LOGIN_PAIR, &pair(email, ip))).await?;
    store.put_counter(&known_key(email, ip), &Counter { window_start: now, n: 1, last_at: now }).await?;
    Ok(())
}

/// After a password reset the account starts afresh: its ceiling from unknown addresses is lifted.
pub async fn account_recovered(store: &dyn AuthStore, email: &str) -> Result<(), StoreError> {
    store.delete_counter(&key(&LOGIN_ACCOUNT, email)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_in_a_window_with_growing_delays() {
        let l = LOGIN_PAIR;
        let mut c = None;
        for i in 0..3 {
            let n = next(&l, c.as_ref(), 1_000).unwrap_or_else(|w| panic!("attempt {i} waits {w}"));
            c = Some(n);
        }
        assert_eq!(c.unwrap().n, 3);
        assert_eq!(next(&l, c.as_ref(), 1_000), Err(5_000), "the fourth waits 5 s");
        let c4 = next(&l, c.as_ref(), 6_000).unwrap();
        assert_eq!(next(&l, Some(&c4), 6_000), Err(10_000), "then 10 s");
        // A new window starts afresh.
        assert_eq!(
            next(&l, Some(&c4), 1_000 + HOUR).unwrap(),
            Counter { window_start: 1_000 + HOUR, n: 1, last_at: 1_000 + HOUR }
        );
        // The ceiling holds until the window ends.
        let full = Counter { window_start: 0, n: GUESS_ACCOUNT.max, last_at: 5 };
        assert_eq!(next(&GUESS_ACCOUNT, Some(&full), 10), Err(DAY - 10));
        // Codes: one a minute.
        let one = next(&ISSUE_ACCOUNT, None, 0).unwrap();
        assert_eq!(next(&ISSUE_ACCOUNT, Some(&one), 59_999), Err(1));
        // An attempt that read the clock just before a concurrent one opened the window counts in it.
        let later = Counter { window_start: 2_000, n: 3, last_at: 2_000 };
        assert_eq!(next(&LOGIN_PAIR, Some(&later), 1_999), Err(5_001), "never a fresh window");
        assert!(next(&ISSUE_ACCOUNT, Some(&one), 60_000).is_ok());
    }

    #[test]
    fn a_guessed_code_stays_improbable() {
        // At most GUESS_ACCOUNT.max guesses a day against 10^6 codes: under 1 in 10,000 a day.
        assert!((GUESS_ACCOUNT.max as f64) / 1e6 < 1e-4);
        assert_eq!(GUESS_ACCOUNT.window_ms, DAY);
    }

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(delay_ms(2, 3), 0);
        assert_eq!(delay_ms(3, 3), 5_000);
        assert_eq!(delay_ms(4, 3), 10_000);
        assert_eq!(delay_ms(10, 3), 640_000);
        assert_eq!(delay_ms(11, 3), MAX_DELAY_MS);
        assert_eq!(delay_ms(99, 3), MAX_DELAY_MS);
    }
}
