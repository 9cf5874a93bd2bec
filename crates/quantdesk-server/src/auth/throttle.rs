//! The general request rate limiter, per client address and per user, in process. The limits on
//! secrets (sign-ins, e-mail codes, code guesses) are counted in the database by the account
//! services: `quantdesk_app::accounts::throttle`.

use std::collections::HashMap;
use std::sync::Mutex;

/// A generic cell rate limiter (GCRA) per key: `per_minute` requests a minute on average, with
/// bursts of up to a tenth of a minute's allowance (at least 10). Each replica limits on its
/// own; the proxy in front adds a shared limit for logins (deploy/nginx).
///
/// Time is a monotonic clock (microseconds since the limiter was made): a wall-clock step back
/// must not refuse requests, and microseconds keep high rates exact.
#[derive(Debug)]
pub struct RateLimiter {
    epoch: std::time::Instant,
    /// Theoretical arrival time per key, in microseconds since `epoch`.
    tat: Mutex<HashMap<String, i64>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter { epoch: std::time::Instant::now(), tat: Mutex::new(HashMap::new()) }
    }
}

impl RateLimiter {
    /// Counts a request; `Err(wait_ms)` when it is over the limit.
    pub fn check(&self, key: &str, per_minute: u32) -> Result<(), i64> {
        let now_us = i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX);
        self.check_at(key, per_minute, now_us)
    }

    /// [`RateLimiter::check`] at `now_us` microseconds on the limiter's clock.
    pub fn check_at(&self, key: &str, per_minute: u32, now_us: i64) -> Result<(), i64> {
        let interval = (60_000_000 / i64::from(per_minute.max(1))).max(1);
        let burst = i64::from((per_minute / 10).max(10));
        let tolerance = interval.saturating_mul(burst - 1);
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, t| *t > now_us);
        }
        let tat = map.get(key).copied().unwrap_or(now_us).max(now_us);
        if tat - now_us > tolerance {
            // Whole milliseconds, rounded up: waiting that long is enough.
            return Err((tat - now_us - tolerance + 999) / 1000);
        }
        map.insert(key.to_string(), tat.saturating_add(interval));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_burst_then_the_rate() {
        let l = RateLimiter::default();
        // 60 a minute: one a second, bursts of 10.
        for i in 0..10 {
            assert!(l.check_at("k", 60, 0).is_ok(), "request {i} of the burst");
        }
        let wait = l.check_at("k", 60, 0).unwrap_err();
        assert_eq!(wait, 1000);
        assert!(l.check_at("other", 60, 0).is_ok(), "keys are separate");
        assert!(l.check_at("k", 60, 1_000_000).is_ok(), "one more a second later");
        assert!(l.check_at("k", 60, 1_000_000).is_err());
    }

    #[test]
    fn high_rates_stay_exact() {
        // 6 million a minute is one every 10 µs, bursts of 600 000: integer milliseconds would
        // have made the interval 0 (no limit at all).
        let l = RateLimiter::default();
        for _ in 0..600_000 {
            assert!(l.check_at("k", 6_000_000, 0).is_ok());
        }
        assert_eq!(l.check_at("k", 6_000_000, 0), Err(1));
        assert!(l.check_at("k", 6_000_000, 10).is_ok(), "10 µs later");
        // A huge limit never refuses and never overflows.
        for _ in 0..1000 {
            assert!(l.check_at("big", u32::MAX, 0).is_ok());
        }
    }
}
