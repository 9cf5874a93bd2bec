//! The wall clock. The pure crates never read it (they take time from their callers); everything
//! above them reads it here, so there is one place to look for "now".

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_and_milliseconds_agree() {
        let (ms, s) = (super::now_ms(), super::now_secs());
        assert!(ms > 1_700_000_000_000, "after 2023");
        assert!((s - ms / 1000).abs() <= 1);
    }
}
