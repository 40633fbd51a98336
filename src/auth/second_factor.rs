//! The second step of a password sign-in (API.md §21): an account with a second factor gets
//! 401 `second_factor_required` with a `challenge` (single use, 5 minutes) instead of a
//! session or tokens, and `POST /auth/session/second-factor` answers it with a TOTP code, a
//! recovery code, or a passkey — completing the request that was challenged.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::client::ClientInfo;
use super::grant::{self, SessionGrant};
use super::limits;
use super::passkeys;
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::store::ceremonies::{self, GrantKind, LoginChallenge};
use super::store::sessions::SessionMethod;
use super::store::totp as totp_store;
use super::totp::{self, CodeAnswer};
use super::users;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::Json;
use crate::tokens::{hash_token, random_token};

/// The 401 that asks for the second factor: a new challenge, the factors the account has, and
/// (with passkeys) the WebAuthn request options to answer with one.
pub async fn challenge(
    state: &AuthState,
    user_id: Uuid,
    grant: GrantKind,
) -> Result<ApiError, ApiError> {
    let mut factors = Vec::new();
    if totp_store::find(&state.db, user_id)
        .await?
        .is_some_and(|t| t.confirmed)
    {
        factors.extend(["totp", "recovery_code"]);
    }
    let offered = passkeys::offer_as_second_factor(state, user_id).await?;
    if offered.is_some() {
        factors.push("passkey");
    }
    let challenge = random_token(32);
    let (options, passkey_state) = offered.unzip();
    ceremonies::insert_login_challenge(
        &state.db,
        &hash_token(&challenge),
        &LoginChallenge {
            user_id,
            grant,
            passkey_state,
        },
    )
    .await?;
    let mut error = ApiError::unauthenticated(
        ErrorCode::SecondFactorRequired,
        "the password is right; answer the challenge with a second factor at \
         POST /api/v1/auth/session/second-factor",
    )
    .with_member("challenge", json!(challenge))
    .with_member("factors", json!(factors));
    if let Some(options) = options {
        error = error.with_member("passkey", json!({ "options": options }));
    }
    Ok(error)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    /// The `challenge` of the 401 `second_factor_required`.
    #[schema(pattern = r"^[^\x00]*$", max_length = 200)]
    pub challenge: String,
    /// A current TOTP code; or
    #[schema(pattern = r"^[^\x00]*$", max_length = 100)]
    pub code: Option<String>,
    /// one of the recovery codes; or
    #[schema(pattern = r"^[^\x00]*$", max_length = 100)]
    pub recovery_code: Option<String>,
    /// a passkey's answer to the challenge's `passkey.options` (the `PublicKeyCredential` of
    /// `navigator.credentials.get`, as its `toJSON()` gives it).
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

enum Answer {
    Totp(String),
    Recovery(String),
    Passkey(serde_json::Value),
}

impl Answer {
    fn of(body: SecondFactorRequest) -> Result<Self, ApiError> {
        match (body.code, body.recovery_code, body.credential) {
            (Some(code), None, None) => Ok(Answer::Totp(code)),
            (None, Some(code), None) => Ok(Answer::Recovery(code)),
            (None, None, Some(credential)) => Ok(Answer::Passkey(credential)),
            _ => Err(ApiError::validation(vec![FieldError::new(
                "code",
                "required",
                "give exactly one of code, recovery_code or credential",
            )])),
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Answer::Totp(_) => "password+totp",
            Answer::Recovery(_) => "password+recovery_code",
            Answer::Passkey(_) => "password+passkey",
        }
    }
}

fn challenge_gone() -> ApiError {
    ApiError::unauthenticated(
        ErrorCode::Unauthenticated,
        "the challenge is unknown, used or older than 5 minutes; sign in again",
    )
}

/// Checks the answer under the failed-password limits of the account (API.md §1).
async fn check(
    state: &AuthState,
    challenge: &LoginChallenge,
    client: &ClientInfo,
    answer: &Answer,
) -> Result<bool, ApiError> {
    let user_id = challenge.user_id;
    match answer {
        Answer::Totp(code) => {
            totp::check_code(state, user_id, client, CodeAnswer::Totp(code)).await
        }
        Answer::Recovery(code) => {
            totp::check_code(state, user_id, client, CodeAnswer::Recovery(code)).await
        }
        Answer::Passkey(credential) => {
            let buckets = limits::password_buckets(Some(user_id), client.addr.0);
            let attempt = limits::attempt(&state.db, &buckets).await?;
            let right = match &challenge.passkey_state {
                Some(offered) => {
                    passkeys::check_second_factor(
                        state,
                        user_id,
                        offered.clone(),
                        credential.clone(),
                    )
                    .await?
                }
                None => false,
            };
            if right {
                limits::release(&state.db, attempt).await?;
            } else {
                let event = Event::new(EventKind::SecondFactorFailed).method("passkey");
                security_log::record(&state.db, user_id, event, Some(client)).await?;
            }
            Ok(right)
        }
    }
}

/// Answer a `second_factor_required` challenge with a TOTP code, a recovery code or a passkey:
/// the body of the request that was challenged (a session and its cookie for
/// `POST /auth/session`, the token body for the password grant). A wrong answer is 401
/// `invalid_credentials` and leaves the challenge for another try; wrong answers count like
/// wrong passwords.
#[utoipa::path(post, path = "/api/v1/auth/session/second-factor", tag = "auth",
    request_body = SecondFactorRequest,
    responses((status = 200, description = "Signed in: a `SessionResponse` with the session cookie, or a `TokenResponse`",
            body = grant::SessionResponse),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn answer_second_factor(
    State(state): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<SecondFactorRequest>,
) -> Result<Response, ApiError> {
    let challenge_hash = hash_token(&body.challenge);
    let answer = Answer::of(body)?;
    limits::pre_auth(&state, client.addr).await?;
    let challenge = ceremonies::find_login_challenge(&state.db, &challenge_hash)
        .await?
        .ok_or_else(challenge_gone)?;
    if !check(&state, &challenge, &client, &answer).await? {
        return Err(ApiError::unauthenticated(
            ErrorCode::InvalidCredentials,
            "that second factor is not right",
        ));
    }
    // Exactly one of any answers racing each other completes the sign-in.
    if !ceremonies::take_login_challenge(&state.db, &challenge_hash).await? {
        return Err(challenge_gone());
    }
    let user = users::find_by_id(&state.db, challenge.user_id)
        .await?
        .ok_or_else(challenge_gone)?;
    grant::ensure_enabled(&user)?;
    let (grant, detail) = match challenge.grant {
        GrantKind::Session => (SessionGrant::Session(SessionMethod::Password), "session"),
        GrantKind::Token => (SessionGrant::Token, "token"),
    };
    let event = Event::new(EventKind::SignedIn)
        .method(answer.method())
        .detail(detail);
    security_log::record(&state.db, user.id, event, Some(&client)).await?;
    grant::grant(&state, user, grant, &headers).await
}
