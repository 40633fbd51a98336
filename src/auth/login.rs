//! Logging in: cookie sessions and the token endpoint (password and refresh-token grants).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::client::{ClientAddr, ClientInfo};
use super::grant::{
    ensure_enabled, grant, issue_tokens, session_cookie, SessionGrant, SessionResponse,
    TokenResponse,
};
use super::limits;
use super::password::Verified;
use super::principal::{AuthMethod, Principal, SetupPrincipal};
use super::second_factor;
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::store::ceremonies::GrantKind;
use super::store::sessions::SessionMethod;
use super::store::{refresh_tokens, sessions};
use super::users::{self, User};
use crate::db::{DbResult, Exec};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{parse_json, Json};
use crate::tokens::hash_token;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(pattern = r"^[^\x00]*$")]
    pub email: String,
    #[schema(format = Password, pattern = r"^[^\x00]*$")]
    pub password: String,
}

/// Checks an email and password under the brute-force limits. Unknown email and wrong password
/// fail identically, and both pay for one argon2 verification.
async fn check_password(
    state: &AuthState,
    client: ClientAddr,
    email: &str,
    password: String,
) -> Result<User, ApiError> {
    limits::pre_auth(state, client).await?;
    let found = users::find_credentials(&state.db, email.trim()).await?;
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // The attempt is counted before the password is checked, so that parallel guesses cannot
    // all pass the limit; a correct password gives it back.
    let buckets = limits::password_buckets(user.as_ref().map(|u| u.id), client.0);
    let attempt = limits::attempt(&state.db, &buckets).await?;
    let verified = state.passwords.verify(password, stored, client).await?;
    let user = match (user, verified) {
        (Some(user), Verified::Yes) => user,
        (Some(user), Verified::YesRehash(new_hash)) => {
            users::set_password_hash(&state.db, user.id, &new_hash).await?;
            user
        }
        _ => {
            return Err(ApiError::unauthenticated(
                ErrorCode::InvalidCredentials,
                "the email or password is wrong",
            ));
        }
    };
    limits::release(&state.db, attempt).await?;
    ensure_enabled(&user)?;
    Ok(user)
}

/// A correct password: the sign-in completes, or — for an account with a second factor — is
/// answered 401 `second_factor_required` with a challenge.
async fn password_sign_in(
    state: &AuthState,
    user: User,
    grant_kind: GrantKind,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if user.second_factor {
        return Err(second_factor::challenge(state, user.id, grant_kind).await?);
    }
    let (session_grant, detail) = match grant_kind {
        GrantKind::Session => (SessionGrant::Session(SessionMethod::Password), "session"),
        GrantKind::Token => (SessionGrant::Token, "token"),
    };
    let event = Event::new(EventKind::SignedIn)
        .method("password")
        .detail(detail);
    security_log::record(&state.db, user.id, event, Some(client)).await?;
    grant(state, user, session_grant, headers).await
}

/// Log in with a cookie session. Always a new session (no fixation); a session cookie sent
/// along is ended. An account with a second factor is answered 401 `second_factor_required`
/// with a `challenge` (see `POST /auth/session/second-factor`).
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = SessionResponse, description = "Logged in; sets the docket_session cookie"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json",
            description = "`invalid_credentials`, or `second_factor_required` with `challenge`, \
                `factors` and, when the account has passkeys, `passkey.options`"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_session(
    State(state): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let user = check_password(&state, client.addr, &body.email, body.password).await?;
    password_sign_in(&state, user, GrantKind::Session, &client, &headers).await
}

/// The session of a cookie principal (an access token or API token has none).
pub fn session_of(principal: &Principal) -> Result<(Uuid, String, DateTime<Utc>), ApiError> {
    match &principal.method {
        AuthMethod::Session {
            session_id,
            csrf_token,
            expires_at,
            ..
        } => Ok((*session_id, csrf_token.clone(), *expires_at)),
        AuthMethod::ApiToken { .. } => Err(ApiError::forbidden(
            ErrorCode::InsufficientScope,
            "API tokens cannot manage sessions",
        )),
        AuthMethod::AccessToken { .. } => Err(ApiError::unauthenticated(
            ErrorCode::Unauthenticated,
            "this endpoint is about cookie sessions; none was sent",
        )),
    }
}

/// The current cookie session.
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionResponse)),
    security(("session" = [])))]
pub async fn get_session(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
) -> Result<axum::Json<SessionResponse>, ApiError> {
    let (_, csrf_token, expires_at) = session_of(&principal)?;
    let setup_required = state
        .config
        .setup_required(&principal.user, principal.session_method());
    Ok(axum::Json(SessionResponse {
        user: std::sync::Arc::unwrap_or_clone(principal.user),
        csrf_token,
        expires_at: Some(expires_at),
        second_factor_setup_required: setup_required,
    }))
}

/// Log out: the session is deleted server-side and the cookie cleared.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 204, description = "Logged out")),
    security(("session" = [])))]
pub async fn delete_session(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
) -> Result<Response, ApiError> {
    let (session_id, _, _) = session_of(&principal)?;
    sessions::delete(&state.db, session_id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(response)
}

/// `POST /auth/token`: the grant, chosen by `grant_type`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenRequest {
    /// Email and password.
    Password {
        #[schema(pattern = r"^[^\x00]*$")]
        email: String,
        #[schema(format = Password, pattern = r"^[^\x00]*$")]
        password: String,
    },
    /// A refresh token; it is spent, and a new one issued.
    RefreshToken {
        #[schema(pattern = r"^[^\x00]*$")]
        refresh_token: String,
    },
}

/// Exchange a password or a refresh token for an access token and a new refresh token. A
/// password grant for an account with a second factor is answered 401
/// `second_factor_required` with a `challenge`, as `POST /auth/session` is.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth",
    request_body = TokenRequest,
    responses((status = 200, body = TokenResponse),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_token(
    State(state): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    // serde names no field for an unknown or missing tag; the problem document must.
    if !matches!(
        body.get("grant_type").and_then(|g| g.as_str()),
        Some("password" | "refresh_token")
    ) {
        return Err(ApiError::validation(vec![FieldError::new(
            "grant_type",
            "invalid_value",
            "must be password or refresh_token",
        )]));
    }
    let raw = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    match parse_json::<TokenRequest>(&raw)? {
        TokenRequest::Password { email, password } => {
            let user = check_password(&state, client.addr, &email, password).await?;
            password_sign_in(&state, user, GrantKind::Token, &client, &headers).await
        }
        TokenRequest::RefreshToken { refresh_token } => {
            limits::pre_auth(&state, client.addr).await?;
            Ok(refresh(&state, &refresh_token).await?.into_response())
        }
    }
}

/// Rotates a refresh token. The consuming UPDATE is atomic, so a token works exactly once even
/// when two requests race; a second use revokes the whole family (RFC 9700 reuse detection).
/// Spending the token and issuing its successor are one transaction, and a login counts as
/// revoked once any of its tokens is: a revocation racing this refresh never leaves the
/// successor alive.
async fn refresh(state: &AuthState, token: &str) -> Result<axum::Json<TokenResponse>, ApiError> {
    let hash = hash_token(token);
    let tx = state.db.begin().await?;
    // A disabled user's token is refused without being spent, so that it keeps answering 403.
    let consumed = refresh_tokens::consume(&tx, &hash).await?;
    let invalid =
        |detail: &str| ApiError::unauthenticated(ErrorCode::InvalidCredentials, detail.to_owned());
    let disabled =
        || ApiError::forbidden(ErrorCode::AccountDisabled, "this account has been disabled");
    let Some((family_id, user_id)) = consumed else {
        drop(tx);
        let known = refresh_tokens::find(&state.db, &hash).await?;
        let Some(refresh_tokens::KnownToken {
            family_id,
            used_at,
            user_disabled,
        }) = known
        else {
            return Err(invalid("the refresh token is not valid"));
        };
        if used_at.is_some() {
            revoke_family(&state.db, family_id).await?;
            state.principals.evict_family(family_id);
            tracing::warn!(%family_id, "refresh token reused; the whole login was revoked");
        }
        if user_disabled {
            return Err(disabled());
        }
        if used_at.is_some() {
            return Err(invalid(
                "this refresh token was already used; every token of this login is now revoked",
            ));
        }
        return Err(invalid("the refresh token is not valid"));
    };
    let user = users::find_by_id(&tx, user_id)
        .await?
        .ok_or_else(|| invalid("the refresh token is not valid"))?;
    if user.disabled {
        return Err(disabled());
    }
    let tokens = issue_tokens(state, &tx, user_id, family_id).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// Revokes every token of a login.
pub async fn revoke_family(db: &impl Exec, family_id: Uuid) -> DbResult<()> {
    refresh_tokens::revoke_family(db, family_id).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    #[schema(pattern = r"^[^\x00]*$")]
    pub token: String,
}

/// Revoke a refresh token (and the login it belongs to). The token is the credential; unknown
/// tokens are answered the same way (RFC 7009).
#[utoipa::path(post, path = "/api/v1/auth/token/revoke", tag = "auth",
    request_body = RevokeRequest,
    responses((status = 200, description = "Revoked, or there was nothing to revoke")))]
pub async fn revoke_token(
    State(state): State<AuthState>,
    client: ClientAddr,
    Json(body): Json<RevokeRequest>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    limits::pre_auth(&state, client).await?;
    let family = refresh_tokens::family_of(&state.db, &hash_token(&body.token)).await?;
    if let Some(family_id) = family {
        revoke_family(&state.db, family_id).await?;
        state.principals.evict_family(family_id);
    }
    Ok(axum::Json(json!({})))
}

/// Ends every session and refresh-token family of a user except the ones named.
pub async fn end_logins(
    db: &impl Exec,
    user_id: Uuid,
    keep_session: Option<Uuid>,
    keep_family: Option<Uuid>,
) -> DbResult<()> {
    sessions::delete_all_of_user_except(db, user_id, keep_session).await?;
    refresh_tokens::revoke_all_of_user_except(db, user_id, keep_family).await
}

#[cfg(test)]
mod tests {
    use crate::http::extract::Members;

    /// The token endpoint's body is an internally tagged enum: the extractor checks member
    /// names against the members its schema names.
    #[test]
    fn the_token_request_names_its_members() {
        let Members::Schema(mut names) = Members::of::<super::TokenRequest>() else {
            panic!("the token request's schema names its members")
        };
        names.sort();
        assert_eq!(names, ["email", "grant_type", "password", "refresh_token"]);
    }
}
