//! Brute-force limits on logins and registrations, counted in PostgreSQL so that they hold
//! across every instance, and the client address they are keyed by.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::app::AppState;
use crate::error::ApiError;

pub const WINDOW_LOGIN_SECS: i64 = 15 * 60;
pub const LOGIN_FAILURES_PER_ACCOUNT: i64 = 10;
pub const LOGIN_FAILURES_PER_ADDRESS: i64 = 50;
pub const WINDOW_REGISTER_SECS: i64 = 3600;
pub const REGISTRATIONS_PER_ADDRESS: i64 = 10;

/// The client's address: the socket peer, or — only when the peer is a trusted proxy — the
/// nearest untrusted address in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let trusted = |ip: &IpAddr| {
            state
                .config
                .trusted_proxies
                .iter()
                .any(|net| net.contains(ip))
        };
        if !trusted(&peer) {
            return Ok(ClientAddr(peer));
        }
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer);
        Ok(ClientAddr(client))
    }
}

pub fn login_account_bucket(email: &str) -> String {
    format!("login:account:{}", email.trim().to_lowercase())
}

pub fn login_address_bucket(addr: IpAddr) -> String {
    format!("login:address:{}", address_key(addr))
}

pub fn register_address_bucket(addr: IpAddr) -> String {
    format!("register:address:{}", address_key(addr))
}

/// What a per-address limit counts: an IPv4 address as itself, an IPv6 address by its /64
/// (API.md §1). One subscriber or host usually gets a whole /64, so counting single IPv6
/// addresses would give an attacker 2^64 fresh addresses. IPv4-mapped IPv6 addresses count as
/// the IPv4 address they carry.
pub fn address_key(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
    }
}

/// An attempt counted in one or more buckets; see [`attempt`].
#[must_use = "a correct login gives its slot back with `release`"]
pub struct Attempt {
    buckets: Vec<String>,
    at: DateTime<Utc>,
}

/// Counts an attempt in every `(bucket, max)` at once, before the work it guards, or fails with
/// 429 (counting nothing) when a bucket already holds `max` attempts in the window.
///
/// Checking and recording happen under per-bucket advisory locks in one transaction, so that a
/// burst of parallel requests (to any instance) cannot all pass the check before any of them is
/// recorded.
pub async fn attempt(
    pool: &PgPool,
    limits: &[(&str, i64)],
    window_secs: i64,
) -> Result<Attempt, ApiError> {
    let mut limits = limits.to_vec();
    // One lock order everywhere, so that two requests cannot wait on each other.
    limits.sort_unstable();
    let mut tx = pool.begin().await?;
    for (bucket, _) in &limits {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('docket.auth_attempts:' || $1))")
            .bind(bucket)
            .execute(&mut *tx)
            .await?;
    }
    for (bucket, max) in &limits {
        let (count, oldest): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), extract(epoch FROM now() - min(attempted_at))::float8 \
             FROM auth_attempts WHERE bucket = $1 \
               AND attempted_at > now() - make_interval(secs => $2)",
        )
        .bind(bucket)
        .bind(window_secs as f64)
        .fetch_one(&mut *tx)
        .await?;
        if count >= *max {
            let age = oldest.unwrap_or(0.0).max(0.0) as i64;
            return Err(ApiError::rate_limited((window_secs - age).max(1) as u64));
        }
    }
    let buckets: Vec<String> = limits.iter().map(|(b, _)| (*b).to_owned()).collect();
    let at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO auth_attempts (bucket, attempted_at) SELECT unnest($1::text[]), now() \
         RETURNING attempted_at",
    )
    .bind(&buckets)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .next()
    .unwrap_or_else(Utc::now);
    tx.commit().await?;
    Ok(Attempt { buckets, at })
}

/// Gives an attempt's slots back: successful logins do not count.
pub async fn release(pool: &PgPool, attempt: Attempt) -> Result<(), ApiError> {
    sqlx::query(
        "DELETE FROM auth_attempts WHERE ctid IN ( \
             SELECT DISTINCT ON (bucket) ctid FROM auth_attempts \
             WHERE bucket = ANY($1) AND attempted_at = $2)",
    )
    .bind(&attempt.buckets)
    .bind(attempt.at)
    .execute(pool)
    .await?;
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
