//! What authentication needs, as one part of the server's state: the extractors of this module
//! (`Principal`, `MaybePrincipal`, `ClientAddr` limits) and the account handlers take an
//! `AuthState`, never the whole application.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use url::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::client::TrustedProxies;
use super::jwt::JwtKeys;
use super::oidc::Oidc;
use super::password::PasswordHasher;
use super::principal_cache::PrincipalCache;
use super::store::sessions::SessionMethod;
use super::users::User;
use crate::config::{Config, KeyMaterial, Registration, Require2fa};
use crate::db::Db;
use crate::http::rate_limit::RateLimiter;
use crate::sealing::Sealer;

/// Cheap to clone.
#[derive(Clone)]
pub struct AuthState(Arc<Inner>);

/// The secrets authentication is built from.
pub struct AuthKeys<'a> {
    /// Signs access tokens.
    pub jwt_secret: &'a KeyMaterial,
    /// Seals TOTP secrets.
    pub encryption_key: &'a KeyMaterial,
}

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
    /// The single sign-on providers (API.md §21).
    pub oidc: Oidc,
    /// The WebAuthn relying party; `None` when the public URL's host is not a name.
    pub passkeys: Option<Arc<Webauthn>>,
    /// Seals TOTP secrets at rest (`DOCKET_ENCRYPTION_KEY`).
    pub secrets: Sealer,
    pub config: AuthConfig,
}

/// The settings authentication reads.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub registration: Registration,
    pub trusted_proxies: TrustedProxies,
    /// Where links in emails point (`DOCKET_PUBLIC_URL`).
    pub public_url: url::Url,
    pub require_2fa: Require2fa,
    /// The issuer an authenticator app shows beside a TOTP entry.
    pub totp_issuer: String,
    secure_cookies: bool,
    session_cookie: &'static str,
}

impl AuthConfig {
    /// Whether `DOCKET_REQUIRE_2FA` keeps this user to setting up a second factor, signed in
    /// by `session` (`None`: an access token). Single sign-on answers for its own second
    /// factor (the provider is asked for it), so its sessions are not held.
    pub fn setup_required(&self, user: &User, session: Option<SessionMethod>) -> bool {
        let covered = match self.require_2fa {
            Require2fa::None => false,
            Require2fa::Admins => user.role == super::domain::UserRole::Admin,
            Require2fa::All => true,
        };
        covered && !user.second_factor && session != Some(SessionMethod::Oidc)
    }

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
        keys: AuthKeys<'_>,
        hash_start_deadline: Duration,
        pre_auth_per_minute: u32,
    ) -> Self {
        let host = config.public_url.host_str().unwrap_or("localhost");
        Self(Arc::new(Inner {
            db,
            jwt: JwtKeys::new(keys.jwt_secret, config.jwt_secret_previous.as_ref()),
            passwords: PasswordHasher::new(hash_start_deadline),
            principals: PrincipalCache::new(),
            rate_limiter: RateLimiter::new(config.rate_limit_per_minute),
            pre_auth_limiter: RateLimiter::new(pre_auth_per_minute),
            oidc: Oidc::new(config),
            passkeys: relying_party(&config.public_url),
            secrets: Sealer::new(keys.encryption_key, b"docket totp secrets v1"),
            config: AuthConfig {
                registration: config.registration,
                trusted_proxies: TrustedProxies(config.trusted_proxies.clone().into()),
                public_url: config.public_url.clone(),
                require_2fa: config.require_2fa,
                totp_issuer: format!("Docket ({host})"),
                secure_cookies: config.secure_cookies(),
                session_cookie: config.session_cookie(),
            },
        }))
    }
}

/// The relying party, when the public URL's host is a domain name (WebAuthn refuses IP
/// addresses); `None` turns passkeys off (their endpoints answer 409 saying why).
pub fn relying_party(public_url: &Url) -> Option<Arc<Webauthn>> {
    let origin = Url::parse(&public_url.origin().ascii_serialization()).ok()?;
    let host = origin.domain()?.to_owned();
    let webauthn = WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("Docket")
        .build()
        .ok()?;
    Some(Arc::new(webauthn))
}
