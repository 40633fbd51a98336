//! The one place that turns a request's credentials into an authenticated principal, or into
//! the right 401/403. Handlers take `Principal` as an argument and never read headers.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::client::ClientAddr;
use super::domain::{ApiScope, UserRole};
use super::limits;
use super::state::AuthState;
use super::store::sessions::SessionMethod;
use super::store::{api_tokens, refresh_tokens, sessions};
use super::users::User;
use crate::db::Exec;
use crate::error::{ApiError, ErrorCode};
use crate::http::middleware::RequestContext;
use crate::tokens::hash_token;

/// The session cookie's name over http; with an https public URL it is
/// `__Host-docket_session` (see `Config::session_cookie`).
pub const SESSION_COOKIE: &str = "docket_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const API_TOKEN_PREFIX: &str = "dkt_";
pub const SESSION_IDLE_SECS: i64 = 14 * 24 * 3600;

/// How the principal authenticated.
#[derive(Debug, Clone)]
pub enum AuthMethod {
    Session {
        session_id: Uuid,
        csrf_token: String,
        expires_at: DateTime<Utc>,
        /// How the session began.
        method: SessionMethod,
    },
    AccessToken {
        family_id: Uuid,
    },
    ApiToken {
        token_id: Uuid,
        can_write: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    /// Shared with the principal cache: a request clones a pointer, not the user.
    pub user: Arc<User>,
    pub method: AuthMethod,
}

impl Principal {
    pub fn id(&self) -> Uuid {
        self.user.id
    }

    /// Tokens, sessions and passwords are managed only by a person who logged in, never by an
    /// API token.
    pub fn require_login(&self) -> Result<(), ApiError> {
        match self.method {
            AuthMethod::ApiToken { .. } => Err(ApiError::forbidden(
                ErrorCode::InsufficientScope,
                "API tokens cannot manage tokens, sessions or passwords",
            )),
            _ => Ok(()),
        }
    }

    /// How the cookie session began; `None` for a token.
    pub fn session_method(&self) -> Option<SessionMethod> {
        match self.method {
            AuthMethod::Session { method, .. } => Some(method),
            _ => None,
        }
    }

    /// Whether `DOCKET_REQUIRE_2FA` keeps this principal to setting up a second factor. API
    /// tokens are unaffected (API.md §21).
    fn setup_required(&self, state: &AuthState) -> bool {
        match self.method {
            AuthMethod::ApiToken { .. } => false,
            _ => state
                .config
                .setup_required(&self.user, self.session_method()),
        }
    }

    /// Whether this is an instance admin.
    pub fn is_admin(&self) -> bool {
        self.user.role == UserRole::Admin
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role == UserRole::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                ErrorCode::Forbidden,
                "this needs the instance admin role",
            ))
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The authenticated caller. Under `DOCKET_REQUIRE_2FA`, a user it covers who has no second
/// factor yet is refused here (403 `second_factor_setup_required`); the few endpoints that set
/// one up take [`SetupPrincipal`] instead.
impl<S: Send + Sync> FromRequestParts<S> for Principal
where
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let state = &AuthState::from_ref(state);
        let principal = extract(parts, state).await?;
        if principal.setup_required(state) {
            return Err(ApiError::forbidden(
                ErrorCode::SecondFactorSetupRequired,
                "this server requires a second factor: set up TOTP or a passkey first",
            ));
        }
        Ok(principal)
    }
}

/// The authenticated caller, even one who must set up a second factor before anything else:
/// for the endpoints of that set-up (and the session's own).
pub struct SetupPrincipal(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for SetupPrincipal
where
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        extract(parts, &AuthState::from_ref(state))
            .await
            .map(SetupPrincipal)
    }
}

/// Authenticates once per request (the principal is kept in the request's extensions) and
/// counts the request against the principal's rate limit.
async fn extract(parts: &mut Parts, state: &AuthState) -> Result<Principal, ApiError> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(principal.clone());
    }
    let principal = authenticate(parts, state).await?;
    let context = parts.extensions.get::<RequestContext>().cloned();
    if let Some(context) = &context {
        context.set_user(principal.user.id);
    }
    let status = state.rate_limiter.check(principal.user.id, &state.db).await;
    if let Some(context) = &context {
        context.set_rate_limit(status);
    }
    if !status.allowed {
        return Err(ApiError::rate_limited(status.reset_secs));
    }
    parts.extensions.insert(principal.clone());
    Ok(principal)
}

/// An optional principal: `None` when the request carries no credentials at all.
pub struct MaybePrincipal(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybePrincipal
where
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let has_credentials = parts.headers.contains_key(header::AUTHORIZATION)
            || cookie_value(
                &parts.headers,
                AuthState::from_ref(state).config.session_cookie(),
            )
            .is_some();
        if !has_credentials {
            return Ok(MaybePrincipal(None));
        }
        Principal::from_request_parts(parts, state)
            .await
            .map(|p| MaybePrincipal(Some(p)))
    }
}

/// The credentials a request came with, kept so that a long-lived response (the event stream)
/// can check them again later: a logout, a revoked token, an expired access token or a disabled
/// account then ends it.
#[derive(Clone)]
pub struct Credentials {
    headers: HeaderMap,
    peer: Option<axum::extract::ConnectInfo<std::net::SocketAddr>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut headers = HeaderMap::new();
        for name in [header::AUTHORIZATION, header::COOKIE] {
            for value in parts.headers.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        for value in parts.headers.get_all("x-forwarded-for") {
            headers.append("x-forwarded-for", value.clone());
        }
        Ok(Self {
            headers,
            peer: parts.extensions.get().cloned(),
        })
    }
}

impl Credentials {
    /// Authenticates these credentials again, exactly as a new `GET` would be (without
    /// counting against the rate limit).
    pub async fn authenticate(&self, state: &AuthState) -> Result<Principal, ApiError> {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.headers = self.headers.clone();
        if let Some(peer) = self.peer {
            parts.extensions.insert(peer);
        }
        authenticate(&parts, state).await
    }
}

async fn authenticate(parts: &Parts, state: &AuthState) -> Result<Principal, ApiError> {
    // The header wins over a cookie.
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let bad = || {
            ApiError::unauthenticated(
                ErrorCode::Unauthenticated,
                "the Authorization header must be 'Bearer <token>'",
            )
            .bearer()
        };
        let value = value.to_str().map_err(|_| bad())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(bad)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(bad());
        }
        let token = token.trim();
        let principal = if token.starts_with(API_TOKEN_PREFIX) {
            looked_up(parts, state, Lookup::ApiToken(token)).await?
        } else {
            access_token_principal(state, token).await?
        };
        if let AuthMethod::ApiToken {
            can_write: false, ..
        } = principal.method
        {
            if !matches!(parts.method, Method::GET | Method::HEAD) {
                return Err(ApiError::forbidden(
                    ErrorCode::InsufficientScope,
                    "this API token has only the read scope",
                ));
            }
        }
        return Ok(principal);
    }
    if let Some(token) = cookie_value(&parts.headers, state.config.session_cookie()) {
        let principal = looked_up(parts, state, Lookup::Session(token)).await?;
        if !is_safe(&parts.method) {
            let AuthMethod::Session { csrf_token, .. } = &principal.method else {
                unreachable!("a session principal");
            };
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !bool::from(sent.ct_eq(csrf_token.as_bytes())) {
                return Err(ApiError::forbidden(
                    ErrorCode::CsrfFailed,
                    "unsafe requests with a session cookie need the X-CSRF-Token header",
                ));
            }
        }
        return Ok(principal);
    }
    Err(ApiError::unauthenticated(
        ErrorCode::Unauthenticated,
        "this endpoint needs authentication",
    )
    .bearer())
}

/// A credential that only the database can check.
enum Lookup<'a> {
    ApiToken(&'a str),
    Session(&'a str),
}

impl Lookup<'_> {
    async fn run(&self, state: &AuthState, db: &impl Exec) -> Result<Principal, ApiError> {
        match self {
            Lookup::ApiToken(token) => api_token_principal(state, db, token).await,
            Lookup::Session(token) => session_principal(state, db, token).await,
        }
    }
}

/// Looks a credential up; a failed lookup counts against the client address's
/// pre-authentication limit (API.md §9), so random tokens cannot keep the database busy.
///
/// Past that limit the lookup still runs, because someone else's failures at the same address
/// (an office NAT, a VPN) must never refuse a valid credential; only a failure is refused
/// (429). It then runs on the shared read lanes (a point read by hash), so that a flood of
/// failures cannot take the pool's connections from everyone else.
async fn looked_up(
    parts: &Parts,
    state: &AuthState,
    lookup: Lookup<'_>,
) -> Result<Principal, ApiError> {
    let client = ClientAddr::of(parts, &state.config.trusted_proxies);
    let within_limit = limits::pre_auth_exhausted(state, client);
    let found = match within_limit {
        Ok(()) => lookup.run(state, &state.db).await,
        Err(_) => lookup.run(state, &state.db.reads()).await,
    };
    match found {
        Err(error) if error.status == axum::http::StatusCode::UNAUTHORIZED => {
            within_limit?;
            limits::pre_auth(state, client).await?;
            Err(error)
        }
        other => other,
    }
}

fn ensure_enabled(user: &User) -> Result<(), ApiError> {
    if user.disabled {
        Err(ApiError::forbidden(
            ErrorCode::AccountDisabled,
            "this account has been disabled",
        ))
    } else {
        Ok(())
    }
}

/// The statement behind an access-token request that misses the cache (see the benchmark).
pub use super::store::refresh_tokens::ACCESS_TOKEN_PRINCIPAL_SQL;

async fn access_token_principal(state: &AuthState, token: &str) -> Result<Principal, ApiError> {
    let claims = state.jwt.verify(token)?;
    let principal = |user: Arc<User>| Principal {
        user,
        method: AuthMethod::AccessToken {
            family_id: claims.fam,
        },
    };
    if let Some(user) = state.principals.get(claims.sub, claims.fam) {
        ensure_enabled(&user)?;
        return Ok(principal(user));
    }
    let epoch = state.principals.epoch();
    // Roles and the disabled flag come from the database (or from a cache that every change
    // invalidates at once); a revoked login (logout, password change, refresh-token reuse)
    // cuts its access tokens off at once.
    let row = refresh_tokens::access_token_user(&state.db.reads(), claims.sub, claims.fam).await?;
    let invalid = || {
        ApiError::unauthenticated(
            ErrorCode::Unauthenticated,
            "the access token is no longer valid",
        )
        .bearer()
    };
    let row = row.ok_or_else(invalid)?;
    if row.family_revoked {
        return Err(invalid());
    }
    ensure_enabled(&row.user)?;
    let user = Arc::new(row.user);
    state.principals.put(claims.fam, &user, epoch);
    Ok(principal(user))
}

async fn api_token_principal(
    state: &AuthState,
    db: &impl Exec,
    token: &str,
) -> Result<Principal, ApiError> {
    let row = api_tokens::find_by_hash(db, &hash_token(token)).await?;
    let row = row.ok_or_else(|| {
        ApiError::unauthenticated(ErrorCode::Unauthenticated, "the API token is not valid").bearer()
    })?;
    let now = Utc::now();
    if row.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::unauthenticated(
            ErrorCode::TokenExpired,
            "the API token has expired",
        )
        .bearer());
    }
    ensure_enabled(&row.user)?;
    // At most one write a minute per token, off the request's path.
    if row
        .last_used_at
        .is_none_or(|at| now - at > chrono::Duration::seconds(60))
    {
        let db = state.db.clone();
        let token_id = row.token_id;
        tokio::spawn(async move {
            let _ = api_tokens::touch(&db, token_id).await;
        });
    }
    Ok(Principal {
        method: AuthMethod::ApiToken {
            token_id: row.token_id,
            can_write: row.scopes.contains(&ApiScope::Write),
        },
        user: Arc::new(row.user),
    })
}

async fn session_principal(
    state: &AuthState,
    db: &impl Exec,
    token: &str,
) -> Result<Principal, ApiError> {
    let row = sessions::find_active(db, &hash_token(token), SESSION_IDLE_SECS).await?;
    let row = row.ok_or_else(|| {
        ApiError::unauthenticated(
            ErrorCode::Unauthenticated,
            "the session has ended; log in again",
        )
    })?;
    ensure_enabled(&row.user)?;
    let now = Utc::now();
    if now - row.last_seen_at > chrono::Duration::seconds(60) {
        let db = state.db.clone();
        let session_id = row.session_id;
        tokio::spawn(async move {
            let _ = sessions::touch(&db, session_id).await;
        });
    }
    let idle_end = row.last_seen_at.max(now) + chrono::Duration::seconds(SESSION_IDLE_SECS);
    Ok(Principal {
        user: Arc::new(row.user),
        method: AuthMethod::Session {
            session_id: row.session_id,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at.min(idle_end),
            method: row.method,
        },
    })
}
