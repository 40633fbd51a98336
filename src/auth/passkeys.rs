//! Passkeys (WebAuthn, API.md §21): several per user, registered as discoverable credentials
//! with user verification required; a sign-in with one alone (no email: the authenticator
//! names the account); one as the answer to a second-factor challenge. The relying party is
//! the host of `DOCKET_PUBLIC_URL`, so a passkey works only on that origin (phishing-resistant).
//!
//! Every start answers `{"challenge", "options"}`; the ceremony's state stays in PostgreSQL
//! (`store::ceremonies`), found again by the challenge, single use, so that any instance can
//! finish what another started.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Webauthn,
};

use super::client::{ClientAddr, ClientInfo};
use super::grant::{self, SessionGrant};
use super::limits;
use super::principal::{Principal, SetupPrincipal};
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::store::ceremonies::{self, CeremonyKind};
use super::store::passkeys::{self, PasskeyInfo};
use super::store::sessions::SessionMethod;
use super::users;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{Json, Path};
use crate::tokens::{hash_token, random_token};

fn rp(state: &AuthState) -> Result<&Webauthn, ApiError> {
    state.passkeys.as_deref().ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::Conflict,
            "passkeys need DOCKET_PUBLIC_URL with a host name (not an IP address)",
        )
    })
}

/// A ceremony's start: the opaque id to send back with the finish, and the options for
/// `navigator.credentials` (WebAuthn's JSON, binary fields in base64url).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CeremonyStart {
    /// Single use, valid 5 minutes.
    pub challenge: String,
    /// `{"publicKey": {...}}` as `PublicKeyCredential.parseCreationOptionsFromJSON` /
    /// `parseRequestOptionsFromJSON` read it.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

fn internal(what: &str, error: impl std::fmt::Debug) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{what}: {error:?}"))
}

/// Registration options that demand a discoverable credential (a passkey that can sign in
/// without an email) with user verification. webauthn-rs's passkey registration asks for
/// neither residency level, so the options are made strict here.
fn require_resident_key(options: &mut serde_json::Value) {
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    if !selection.is_object() {
        *selection = serde_json::json!({});
    }
    selection["residentKey"] = "required".into();
    selection["requireResidentKey"] = true.into();
    selection["userVerification"] = "required".into();
}

fn stored_passkey(credential: &serde_json::Value) -> Result<Passkey, ApiError> {
    serde_json::from_value(credential.clone()).map_err(|e| internal("stored passkey", e))
}

/// Begin registering a passkey for the caller.
#[utoipa::path(post, path = "/api/v1/me/passkeys/register/start", tag = "account",
    responses((status = 200, body = CeremonyStart)),
    security(("bearer" = []), ("session" = [])))]
pub async fn start_registration(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
) -> Result<axum::Json<CeremonyStart>, ApiError> {
    principal.require_login()?;
    let webauthn = rp(&state)?;
    let user = &principal.user;
    let exclude = passkeys::credentials_of_user(&state.db, user.id)
        .await?
        .iter()
        .map(|stored| Ok(stored_passkey(&stored.credential)?.cred_id().clone()))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let (creation, registration) = webauthn
        .start_passkey_registration(user.id, &user.email, &user.name, Some(exclude))
        .map_err(|e| internal("passkey registration", e))?;
    let mut options = serde_json::to_value(creation).map_err(|e| internal("options", e))?;
    require_resident_key(&mut options);
    let state_json = serde_json::to_value(registration).map_err(|e| internal("state", e))?;
    let challenge = random_token(32);
    ceremonies::insert_ceremony(
        &state.db,
        &hash_token(&challenge),
        CeremonyKind::Register,
        Some(user.id),
        state_json,
    )
    .await?;
    Ok(axum::Json(CeremonyStart { challenge, options }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishRegistrationRequest {
    #[schema(pattern = r"^[^\x00]*$", max_length = 200)]
    pub challenge: String,
    /// 1–100 characters once trimmed, no control characters ("Laptop", "Phone").
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as its `toJSON()` gives it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

fn passkey_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            "invalid",
            "must be 1 to 100 characters, no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Finish registering a passkey: the browser's answer to the options of the start.
#[utoipa::path(post, path = "/api/v1/me/passkeys/register/finish", tag = "account",
    request_body = FinishRegistrationRequest,
    responses((status = 201, body = PasskeyInfo)),
    security(("bearer" = []), ("session" = [])))]
pub async fn finish_registration(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
    client: ClientInfo,
    Json(body): Json<FinishRegistrationRequest>,
) -> Result<Response, ApiError> {
    principal.require_login()?;
    let webauthn = rp(&state)?;
    let mut errors = Vec::new();
    let name = passkey_name(&body.name).map_err(|e| errors.push(e)).ok();
    let credential = serde_json::from_value::<RegisterPublicKeyCredential>(body.credential)
        .map_err(|_| {
            errors.push(FieldError::new(
                "credential",
                "invalid",
                "must be a PublicKeyCredential in WebAuthn's JSON form",
            ))
        })
        .ok();
    let (Some(name), Some(credential)) = (name, credential) else {
        return Err(ApiError::validation(errors));
    };
    let user_id = principal.id();
    let taken = ceremonies::take_ceremony(
        &state.db,
        &hash_token(&body.challenge),
        CeremonyKind::Register,
        Some(user_id),
    )
    .await?;
    let Some(ceremony) = taken else {
        return Err(expired_challenge());
    };
    let registration: PasskeyRegistration =
        serde_json::from_value(ceremony).map_err(|e| internal("state", e))?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| {
            ApiError::field(
                "credential",
                "rejected",
                format!("the authenticator's answer was refused ({e})"),
            )
        })?;
    let stored = serde_json::to_value(&passkey).map_err(|e| internal("passkey", e))?;
    let tx = state.db.begin().await?;
    let Some(info) =
        passkeys::insert(&tx, user_id, passkey.cred_id().as_ref(), &name, stored).await?
    else {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "this passkey is registered already",
        ));
    };
    let event = Event::new(EventKind::PasskeyAdded).detail(&name);
    security_log::record(&tx, user_id, event, Some(&client)).await?;
    tx.commit().await?;
    state.principals.evict_user(user_id);
    Ok((StatusCode::CREATED, axum::Json(info)).into_response())
}

fn expired_challenge() -> ApiError {
    ApiError::field(
        "challenge",
        "expired",
        "is unknown, used or older than 5 minutes; start again",
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    pub items: Vec<PasskeyInfo>,
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/api/v1/me/passkeys", tag = "account",
    responses((status = 200, body = PasskeyList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_passkeys(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
) -> Result<axum::Json<PasskeyList>, ApiError> {
    let items = passkeys::list_of_user(&state.db, principal.id()).await?;
    Ok(axum::Json(PasskeyList { items }))
}

/// Remove one of the caller's passkeys; refused (409) when it is their only way to sign in.
#[utoipa::path(delete, path = "/api/v1/me/passkeys/{id}", tag = "account",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_passkey(
    State(state): State<AuthState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require_login()?;
    let user_id = principal.id();
    let tx = state.db.begin().await?;
    users::lock(&tx, user_id).await?;
    if grant::ways_to_sign_in(&tx, user_id).await? <= 1
        && passkeys::count_of_user(&tx, user_id).await? == 1
    {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "this passkey is your only way to sign in; add another first",
        ));
    }
    let Some(name) = passkeys::delete(&tx, user_id, id).await? else {
        return Err(ApiError::not_found());
    };
    let event = Event::new(EventKind::PasskeyRemoved).detail(&name);
    security_log::record(&tx, user_id, event, Some(&client)).await?;
    tx.commit().await?;
    state.principals.evict_user(user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Begin signing in with a passkey alone: no email; the authenticator offers the passkeys it
/// holds for this site.
#[utoipa::path(post, path = "/api/v1/auth/passkey/start", tag = "auth",
    responses((status = 200, body = CeremonyStart)))]
pub async fn start_sign_in(
    State(state): State<AuthState>,
    client: ClientAddr,
) -> Result<axum::Json<CeremonyStart>, ApiError> {
    let webauthn = rp(&state)?;
    limits::pre_auth(&state, client).await?;
    let (mut request, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| internal("passkey sign-in", e))?;
    // webauthn-rs asks for conditional mediation (autofill); the client shows a button instead.
    request.mediation = None;
    let options = serde_json::to_value(request).map_err(|e| internal("options", e))?;
    let state_json = serde_json::to_value(authentication).map_err(|e| internal("state", e))?;
    let challenge = random_token(32);
    ceremonies::insert_ceremony(
        &state.db,
        &hash_token(&challenge),
        CeremonyKind::SignIn,
        None,
        state_json,
    )
    .await?;
    Ok(axum::Json(CeremonyStart { challenge, options }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishSignInRequest {
    #[schema(pattern = r"^[^\x00]*$", max_length = 200)]
    pub challenge: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as its `toJSON()` gives it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

fn refused() -> ApiError {
    ApiError::unauthenticated(
        ErrorCode::InvalidCredentials,
        "the passkey was not accepted",
    )
}

/// Finish signing in with a passkey: a cookie session as `POST /auth/session` gives.
#[utoipa::path(post, path = "/api/v1/auth/passkey/finish", tag = "auth",
    request_body = FinishSignInRequest,
    responses((status = 200, body = grant::SessionResponse, description = "Signed in; sets the session cookie"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn finish_sign_in(
    State(state): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<FinishSignInRequest>,
) -> Result<Response, ApiError> {
    let webauthn = rp(&state)?;
    limits::pre_auth(&state, client.addr).await?;
    let credential =
        serde_json::from_value::<PublicKeyCredential>(body.credential).map_err(|_| {
            ApiError::field(
                "credential",
                "invalid",
                "must be a PublicKeyCredential in WebAuthn's JSON form",
            )
        })?;
    let taken = ceremonies::take_ceremony(
        &state.db,
        &hash_token(&body.challenge),
        CeremonyKind::SignIn,
        None,
    )
    .await?;
    let Some(ceremony) = taken else {
        return Err(refused().detail("the challenge is unknown, used or expired; start again"));
    };
    let authentication: DiscoverableAuthentication =
        serde_json::from_value(ceremony).map_err(|e| internal("state", e))?;
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|_| refused())?;
    let stored = passkeys::find_by_credential_id(&state.db, credential_id)
        .await?
        .filter(|stored| stored.user_id == handle)
        .ok_or_else(refused)?;
    let mut passkey = stored_passkey(&stored.credential)?;
    let result = webauthn
        .finish_discoverable_authentication_v2(&credential, authentication, &passkey)
        .map_err(|_| refused())?;
    let updated = passkey.update_credential(&result) == Some(true);
    let updated = updated
        .then(|| serde_json::to_value(&passkey))
        .transpose()
        .map_err(|e| internal("passkey", e))?;
    passkeys::record_use(&state.db, stored.id, updated).await?;
    let user = users::find_by_id(&state.db, stored.user_id)
        .await?
        .ok_or_else(refused)?;
    grant::ensure_enabled(&user)?;
    let event = Event::new(EventKind::SignedIn)
        .method("passkey")
        .detail("session");
    security_log::record(&state.db, user.id, event, Some(&client)).await?;
    grant::grant(
        &state,
        user,
        SessionGrant::Session(SessionMethod::Passkey),
        &headers,
    )
    .await
}

/// A passkey offered with a second-factor challenge: the request options (the user's passkeys
/// allowed) and the state to keep with the challenge. `None` when the user has no passkeys or
/// passkeys are off.
pub async fn offer_as_second_factor(
    state: &AuthState,
    user_id: Uuid,
) -> Result<Option<(serde_json::Value, serde_json::Value)>, ApiError> {
    let Some(webauthn) = state.passkeys.as_deref() else {
        return Ok(None);
    };
    let stored = passkeys::credentials_of_user(&state.db, user_id).await?;
    if stored.is_empty() {
        return Ok(None);
    }
    let keys = stored
        .iter()
        .map(|s| stored_passkey(&s.credential))
        .collect::<Result<Vec<_>, _>>()?;
    let (request, authentication) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| internal("passkey second factor", e))?;
    let options = serde_json::to_value(request).map_err(|e| internal("options", e))?;
    let state_json = serde_json::to_value(authentication).map_err(|e| internal("state", e))?;
    Ok(Some((options, state_json)))
}

/// Checks a passkey's answer to a second-factor challenge (`offer_as_second_factor`'s state).
pub async fn check_second_factor(
    state: &AuthState,
    user_id: Uuid,
    offered: serde_json::Value,
    credential: serde_json::Value,
) -> Result<bool, ApiError> {
    let webauthn = rp(state)?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
        return Ok(false);
    };
    let authentication: PasskeyAuthentication =
        serde_json::from_value(offered).map_err(|e| internal("state", e))?;
    let Some(stored) = passkeys::find_by_credential_id(&state.db, credential.get_credential_id())
        .await?
        .filter(|stored| stored.user_id == user_id)
    else {
        return Ok(false);
    };
    let mut passkey = stored_passkey(&stored.credential)?;
    let Ok(result) = webauthn.finish_passkey_authentication(&credential, &authentication) else {
        return Ok(false);
    };
    let updated = passkey.update_credential(&result) == Some(true);
    let updated = updated
        .then(|| serde_json::to_value(&passkey))
        .transpose()
        .map_err(|e| internal("passkey", e))?;
    passkeys::record_use(&state.db, stored.id, updated).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::state::relying_party;
    use url::Url;

    #[test]
    fn the_relying_party_is_the_public_urls_host_and_needs_a_name() {
        assert!(relying_party(&Url::parse("https://docket.example.com/").unwrap()).is_some());
        assert!(relying_party(&Url::parse("http://localhost:8080").unwrap()).is_some());
        assert!(relying_party(&Url::parse("http://127.0.0.1:8080").unwrap()).is_none());
    }

    #[test]
    fn registration_demands_a_discoverable_credential_with_user_verification() {
        let webauthn = relying_party(&Url::parse("https://docket.example.com").unwrap()).unwrap();
        let (creation, _) = webauthn
            .start_passkey_registration(Uuid::now_v7(), "ada@example.com", "Ada", None)
            .unwrap();
        let mut options = serde_json::to_value(creation).unwrap();
        require_resident_key(&mut options);
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["requireResidentKey"], true);
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(options["publicKey"]["rp"]["id"], "docket.example.com");
        // Binary fields are base64url strings.
        assert!(options["publicKey"]["challenge"].is_string());
    }
}
