//! Brute-force limits on logins and registrations, counted in PostgreSQL so that they hold
//! across every instance, and the client address they are keyed by.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
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
    format!("login:address:{addr}")
}

pub fn register_address_bucket(addr: IpAddr) -> String {
    format!("register:address:{addr}")
}

/// Fails with 429 when `bucket` already has `max` attempts in the window.
pub async fn check(
    pool: &PgPool,
    bucket: &str,
    max: i64,
    window_secs: i64,
) -> Result<(), ApiError> {
    let (count, oldest): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - min(attempted_at))::float8 \
         FROM auth_attempts WHERE bucket = $1 \
           AND attempted_at > now() - make_interval(secs => $2)",
    )
    .bind(bucket)
    .bind(window_secs as f64)
    .fetch_one(pool)
    .await?;
    if count >= max {
        let age = oldest.unwrap_or(0.0).max(0.0) as i64;
        return Err(ApiError::rate_limited((window_secs - age).max(1) as u64));
    }
    Ok(())
}

pub async fn record(pool: &PgPool, buckets: &[String]) -> Result<(), ApiError> {
    sqlx::query("INSERT INTO auth_attempts (bucket) SELECT unnest($1::text[])")
        .bind(buckets)
        .execute(pool)
        .await?;
    Ok(())
}
