//! What a completed sign-in earns, however it was completed (a password, a second factor, a
//! passkey, single sign-on): a cookie session or a login's token pair, and the checks every
//! way in shares. The sign-in endpoints (`login`, `second_factor`, `passkeys`, `oidc::flow`)
//! call down to it; it calls none of them.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::jwt::ACCESS_TOKEN_TTL_SECS;
use super::principal::cookie_value;
use super::state::AuthState;
use super::store::sessions::SessionMethod;
use super::store::{identities, passkeys, refresh_tokens, sessions};
use super::users::{self, User};
use crate::db::{DbResult, Exec};
use crate::error::{ApiError, ErrorCode};
use crate::quotas;
use crate::tokens::{hash_token, random_token};

pub const SESSION_ABSOLUTE_SECS: i64 = 30 * 24 * 3600;
pub const REFRESH_TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;

/// 403 `account_disabled` for a disabled account.
pub fn ensure_enabled(user: &User) -> Result<(), ApiError> {
    if user.disabled {
        Err(ApiError::forbidden(
            ErrorCode::AccountDisabled,
            "this account has been disabled",
        ))
    } else {
        Ok(())
    }
}

/// How many ways a user has to sign in: a password, each passkey, each single sign-on identity.
pub async fn ways_to_sign_in(db: &impl Exec, user_id: Uuid) -> DbResult<i64> {
    let password = i64::from(users::has_password(db, user_id).await?);
    Ok(password
        + passkeys::count_of_user(db, user_id).await?
        + identities::count_of_user(db, user_id).await?)
}

/// What a completed sign-in opens.
#[derive(Debug, Clone, Copy)]
pub enum SessionGrant {
    /// A cookie session (§2), begun this way.
    Session(SessionMethod),
    /// The token body of the password grant.
    Token,
}

/// Completes a sign-in: a new cookie session (ending the one whose cookie came along: no
/// fixation) or a new login's tokens.
pub async fn grant(
    state: &AuthState,
    user: User,
    grant: SessionGrant,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    match grant {
        SessionGrant::Session(method) => {
            let (token, csrf_token) = open_session(state, user.id, method, headers).await?;
            let mut response = axum::Json(SessionResponse {
                second_factor_setup_required: state.config.setup_required(&user, Some(method)),
                user,
                csrf_token,
                expires_at: None,
            })
            .into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(state, &token, SESSION_ABSOLUTE_SECS),
            );
            Ok(response)
        }
        SessionGrant::Token => {
            // At most LIVE_LOGINS_PER_USER: a new one revokes the least recently refreshed.
            for family in
                refresh_tokens::cap_live_logins(&state.db, user.id, quotas::LIVE_LOGINS_PER_USER)
                    .await?
            {
                state.principals.evict_family(family);
            }
            Ok(issue_tokens(state, &state.db, user.id, Uuid::now_v7())
                .await?
                .into_response())
        }
    }
}

/// Starts a cookie session for a user: its secret token and CSRF token.
pub async fn open_session(
    state: &AuthState,
    user_id: Uuid,
    method: SessionMethod,
    headers: &HeaderMap,
) -> Result<(String, String), ApiError> {
    if let Some(old) = cookie_value(headers, state.config.session_cookie()) {
        sessions::delete_by_token_hash(&state.db, &hash_token(old)).await?;
    }
    // At most LIVE_SESSIONS_PER_USER: a new one ends the least recently used beyond that.
    sessions::cap_live_sessions(&state.db, user_id, quotas::LIVE_SESSIONS_PER_USER).await?;
    let token = random_token(32);
    let csrf_token = random_token(32);
    sessions::create(
        &state.db,
        &hash_token(&token),
        user_id,
        &csrf_token,
        SESSION_ABSOLUTE_SECS,
        method,
    )
    .await?;
    Ok((token, csrf_token))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionResponse {
    pub user: User,
    pub csrf_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// `DOCKET_REQUIRE_2FA` covers this user, who has no second factor yet: until they set one
    /// up, every other request is 403 `second_factor_setup_required`.
    pub second_factor_setup_required: bool,
}

pub fn session_cookie(state: &AuthState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}",
        state.config.session_cookie()
    ))
    .expect("cookie is ASCII")
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

pub async fn issue_tokens(
    state: &AuthState,
    db: &impl Exec,
    user_id: Uuid,
    family_id: Uuid,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let refresh_token = random_token(32);
    refresh_tokens::insert(
        db,
        &hash_token(&refresh_token),
        family_id,
        user_id,
        REFRESH_TOKEN_TTL_SECS,
    )
    .await?;
    Ok(axum::Json(TokenResponse {
        access_token: state.jwt.issue(user_id, family_id)?,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL_SECS,
        refresh_token,
    }))
}
