//! Passwords, random tokens and their hashes.
//!
//! Passwords are hashed with argon2id at the argon2 crate's defaults (19 MiB, 2 passes, 1 lane:
//! OWASP's recommended minimum). Session ids, API keys and e-mail codes are random, so a SHA-256
//! of them is what the database keeps; a stolen database gives no usable session or key.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password: long enough for any passphrase, short enough to bound hashing work.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    hex::encode(buf)
}

/// A uniformly random 6-digit code, zero-padded.
pub fn six_digits() -> String {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).expect("the operating system's random source failed");
        let n = u32::from_le_bytes(b);
        // Rejection sampling: the largest multiple of 10^6 below 2^32 keeps digits uniform.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// Compares two strings in time that depends only on their lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A salted hash of an e-mail code, `salt$sha256(salt|code)`.
pub fn hash_code(code: &str) -> String {
    let salt = random_hex(16);
    format!("{salt}${}", sha256_hex(&format!("{salt}|{code}")))
}

pub fn code_matches(stored: &str, code: &str) -> bool {
    match stored.split_once('$') {
        Some((salt, hash)) => same(hash, &sha256_hex(&format!("{salt}|{code}"))),
        None => false,
    }
}

/// Why a password was refused. The message is for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    #[error("this password is among the most commonly used ones; choose another")]
    Common,
}

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        include_str!("common-passwords.txt").lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
    })
}

/// The password policy: length limits and the common-password list, no composition rules.
pub fn check_password(password: &str) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

/// An argon2id PHC string.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashes any password with a random salt")
        .to_string()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that a login for an unknown
/// address costs the same time as one for a known address.
pub fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("no account has this password"))
}

/// A new API key: the token shown once (`qd_<prefix>_<secret>`), its prefix and the secret's hash.
pub fn new_api_key() -> (String, String, String) {
    let prefix = random_hex(6);
    let secret = random_hex(32);
    (format!("qd_{prefix}_{secret}"), prefix, sha256_hex(&secret))
}

/// Splits a presented token into (prefix, secret); `None` when it is not shaped like a key.
pub fn parse_api_key(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("qd_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(prefix, 12) && hexy(secret, 64)).then_some((prefix, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_the_policy_refuses_short_and_common_ones() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_eq!(check_password("short"), Err(PasswordProblem::TooShort));
        assert_eq!(check_password("Password"), Err(PasswordProblem::Common), "case does not help");
        assert_eq!(check_password("qwertyuiop"), Err(PasswordProblem::Common));
        assert_eq!(check_password(&"x".repeat(300)), Err(PasswordProblem::TooLong));
        assert_eq!(check_password("红涨绿跌的八个字"), Ok(()), "characters, not bytes");
        assert_eq!(check_password("tulip-granite-41"), Ok(()));
    }

    #[test]
    fn codes_and_keys_have_their_shape_and_hash_checks_work() {
        for _ in 0..100 {
            let c = six_digits();
            assert!(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()), "{c}");
        }
        let stored = hash_code("012345");
        assert!(code_matches(&stored, "012345"));
        assert!(!code_matches(&stored, "012346"));
        assert_ne!(hash_code("012345"), stored, "salted");
        let (token, prefix, hash) = new_api_key();
        let (p, s) = parse_api_key(&token).unwrap();
        assert_eq!(p, prefix);
        assert_eq!(sha256_hex(s), hash);
        assert!(parse_api_key("qd_zz_zz").is_none());
        assert!(parse_api_key(&token.replace("qd_", "xx_")).is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
