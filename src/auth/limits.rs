//! Brute-force limits on logins and registrations, counted in PostgreSQL so that they hold
//! across every instance, and the client address they are keyed by.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};

use super::store::attempts;
use crate::app::AppState;
use crate::db::{Db, Exec};
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
    format!("login:address:{addr}")
}

pub fn register_address_bucket(addr: IpAddr) -> String {
    format!("register:address:{addr}")
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
    db: &Db,
    limits: &[(&str, i64)],
    window_secs: i64,
) -> Result<Attempt, ApiError> {
    let mut limits = limits.to_vec();
    // One lock order everywhere, so that two requests cannot wait on each other.
    limits.sort_unstable();
    let tx = db.begin().await?;
    for (bucket, _) in &limits {
        attempts::lock_bucket(&tx, bucket).await?;
    }
    for (bucket, max) in &limits {
        let (count, oldest) = attempts::recent(&tx, bucket, window_secs).await?;
        if count >= *max {
            let age = oldest.unwrap_or(0.0).max(0.0) as i64;
            // Nothing was recorded; ending the transaction releases the locks at once.
            let _ = tx.rollback().await;
            return Err(ApiError::rate_limited((window_secs - age).max(1) as u64));
        }
    }
    let buckets: Vec<String> = limits.iter().map(|(b, _)| (*b).to_owned()).collect();
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
