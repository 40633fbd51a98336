//! Brute-force limits on logins and registrations, counted in PostgreSQL so that they hold
//! across every instance, keyed by the client's address (`client`).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::client::{address_key, ClientAddr};
use super::state::AuthState;
use super::store::attempts;
use crate::db::{Db, Exec};
use crate::error::ApiError;

/// Failed password checks (API.md §1): per account and client address, per account across
/// every address (the OWASP ASVS ceiling), per client address. An attacker at one address can
/// then not lock the owner out from another one.
pub const FAILURES_PER_ACCOUNT_AND_ADDRESS: Limit = Limit::new(10, 15 * 60);
pub const FAILURES_PER_ACCOUNT: Limit = Limit::new(100, 3600);
pub const FAILURES_PER_ADDRESS: Limit = Limit::new(50, 15 * 60);
pub const REGISTRATIONS_PER_ADDRESS: Limit = Limit::new(10, 3600);
/// Requests that reach the database before the caller is known, per client address a minute
/// (API.md §9).
pub const PRE_AUTH_PER_ADDRESS_PER_MINUTE: u32 = 300;

/// At most `max` attempts in `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Limit {
    pub max: i64,
    pub window_secs: i64,
}

impl Limit {
    pub const fn new(max: i64, window_secs: i64) -> Self {
        Self { max, window_secs }
    }
}

/// The buckets a failed password check counts in. The account is the user the email resolved
/// to, by id (so normalisation is never a question); an email that is nobody's counts only
/// against the address.
pub fn password_buckets(user_id: Option<Uuid>, addr: IpAddr) -> Vec<(String, Limit)> {
    let address = address_key(addr);
    let mut buckets = vec![(format!("password:address:{address}"), FAILURES_PER_ADDRESS)];
    if let Some(user_id) = user_id {
        buckets.push((
            format!("password:account:{user_id}:{address}"),
            FAILURES_PER_ACCOUNT_AND_ADDRESS,
        ));
        buckets.push((format!("password:account:{user_id}"), FAILURES_PER_ACCOUNT));
    }
    buckets
}

pub fn register_address_bucket(addr: IpAddr) -> (String, Limit) {
    (
        format!("register:address:{}", address_key(addr)),
        REGISTRATIONS_PER_ADDRESS,
    )
}

fn pre_auth_key(client: ClientAddr) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("pre-auth:{}", address_key(client.0)));
    Uuid::from_slice(&digest[..16]).expect("16 bytes")
}

/// The pre-authentication limit (API.md §9): counts one request that reaches the database
/// before the caller is known, per client address, with the same shared per-minute counter as
/// the per-principal limit (under a key derived from the address); 429 past it.
pub async fn pre_auth(state: &AuthState, client: ClientAddr) -> Result<(), ApiError> {
    let status = state
        .pre_auth_limiter
        .check(pre_auth_key(client), &state.db)
        .await;
    if status.allowed {
        Ok(())
    } else {
        Err(ApiError::rate_limited(status.reset_secs))
    }
}

/// 429 when the address has used up its pre-authentication requests, counting nothing: for
/// credentials that are looked up in the database, where only failures count and only failures
/// are refused (`auth::principal::looked_up`).
pub fn pre_auth_exhausted(state: &AuthState, client: ClientAddr) -> Result<(), ApiError> {
    match state.pre_auth_limiter.exhausted(pre_auth_key(client)) {
        Some(reset) => Err(ApiError::rate_limited(reset)),
        None => Ok(()),
    }
}

/// An attempt counted in one or more buckets; see [`attempt`].
#[must_use = "a correct login gives its slot back with `release`"]
pub struct Attempt {
    buckets: Vec<String>,
    at: DateTime<Utc>,
}

/// Counts an attempt in every `(bucket, limit)` at once, before the work it guards, or fails
/// with 429 (counting nothing) when a bucket already holds its limit's attempts in its window.
///
/// Checking and recording happen under per-bucket advisory locks in one transaction, so that a
/// burst of parallel requests (to any instance) cannot all pass the check before any of them is
/// recorded.
pub async fn attempt(db: &Db, limits: &[(String, Limit)]) -> Result<Attempt, ApiError> {
    let mut limits = limits.to_vec();
    // One lock order everywhere, so that two requests cannot wait on each other.
    limits.sort_unstable();
    let tx = db.begin().await?;
    for (bucket, _) in &limits {
        attempts::lock_bucket(&tx, bucket).await?;
    }
    for (bucket, limit) in &limits {
        let (count, oldest) = attempts::recent(&tx, bucket, limit.window_secs).await?;
        if count >= limit.max {
            let age = oldest.unwrap_or(0.0).max(0.0) as i64;
            // Nothing was recorded; ending the transaction releases the locks at once.
            let _ = tx.rollback().await;
            return Err(ApiError::rate_limited(
                (limit.window_secs - age).max(1) as u64
            ));
        }
    }
    let buckets: Vec<String> = limits.iter().map(|(b, _)| b.clone()).collect();
    let at = attempts::record(&tx, &buckets)
        .await?
        .unwrap_or_else(Utc::now);
    tx.commit().await?;
    Ok(Attempt { buckets, at })
}

/// Gives an attempt's slots back: successful logins do not count.
pub async fn release(db: &impl Exec, attempt: Attempt) -> Result<(), ApiError> {
    attempts::release(db, &attempt.buckets, attempt.at).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
    }
}
