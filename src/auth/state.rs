//! What authentication needs, as one part of the server's state: the extractors of this module
//! (`Principal`, `MaybePrincipal`, `ClientAddr` limits) and the account handlers take an
//! `AuthState`, never the whole application.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use super::client::TrustedProxies;
use super::jwt::JwtKeys;
use super::password::PasswordHasher;
use super::principal_cache::PrincipalCache;
use crate::config::{Config, KeyMaterial, Registration};
use crate::db::Db;
use crate::http::rate_limit::RateLimiter;

/// Cheap to clone.
#[derive(Clone)]
pub struct AuthState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub jwt: JwtKeys,
    pub passwords: PasswordHasher,
    /// Access-token users, invalidated on every instance (`principal_cache`).
    pub principals: PrincipalCache,
    /// Requests per principal per minute.
    pub rate_limiter: RateLimiter,
    /// Requests that reach the database before the caller is known, per client address.
    pub pre_auth_limiter: RateLimiter,
    pub config: AuthConfig,
}

/// The settings authentication reads.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub registration: Registration,
    pub trusted_proxies: TrustedProxies,
    /// Where links in emails point (`DOCKET_PUBLIC_URL`).
    pub public_url: url::Url,
    secure_cookies: bool,
    session_cookie: &'static str,
}

impl AuthConfig {
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    pub fn session_cookie(&self) -> &'static str {
        self.session_cookie
    }
}

impl Deref for AuthState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AuthState {
    pub fn new(
        config: &Config,
        db: Db,
        jwt_secret: &KeyMaterial,
        hash_start_deadline: Duration,
        pre_auth_per_minute: u32,
    ) -> Self {
        Self(Arc::new(Inner {
            db,
            jwt: JwtKeys::new(jwt_secret, config.jwt_secret_previous.as_ref()),
            passwords: PasswordHasher::new(hash_start_deadline),
            principals: PrincipalCache::new(),
            rate_limiter: RateLimiter::new(config.rate_limit_per_minute),
            pre_auth_limiter: RateLimiter::new(pre_auth_per_minute),
            config: AuthConfig {
                registration: config.registration,
                trusted_proxies: TrustedProxies(config.trusted_proxies.clone().into()),
                public_url: config.public_url.clone(),
                secure_cookies: config.secure_cookies(),
                session_cookie: config.session_cookie(),
            },
        }))
    }
}
