//! Registration and the caller's own account: profile and password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::client::{ClientAddr, ClientInfo};
use super::domain::{Email, Password, TimeZoneName, UserName};
use super::limits;
use super::login::end_logins;
use super::password::Verified;
use super::principal::{AuthMethod, Principal, SetupPrincipal};
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::users::{self, CreateUserError, NewUser, User};
use crate::config::Registration;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{non_null, Json, JsonPatch, ReadOnlyFields};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 10, max_length = 128, format = Password, pattern = r"^[^\x00]*$")]
    pub password: String,
    /// 1–100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

/// Validates every field and reports all problems at once.
pub fn parse_new_user(email: &str, password: String, name: &str) -> Result<NewUser, ApiError> {
    let mut errors = Vec::new();
    let email = Email::parse(email)
        .map_err(|message| errors.push(FieldError::new("email", "invalid", message)))
        .ok();
    let password = Password::parse(password)
        .map_err(|(code, message)| errors.push(FieldError::new("password", code, message)))
        .ok();
    let name = UserName::parse(name)
        .map_err(|(code, message)| errors.push(FieldError::new("name", code, message)))
        .ok();
    match (email, password, name) {
        (Some(email), Some(password), Some(name)) => Ok(NewUser {
            email,
            name,
            password,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Opens an account with a password: the user and their Inbox, in one transaction.
pub async fn open_account(
    db: &Db,
    password_hash: String,
    new_user: NewUser,
    force_admin: bool,
) -> Result<User, CreateUserError> {
    let account = users::Account {
        email: &new_user.email,
        name: &new_user.name,
        password_hash: Some(&password_hash),
    };
    open(db, account, force_admin).await
}

/// Opens an account: the user and their Inbox, in one transaction.
pub async fn open(
    db: &Db,
    account: users::Account<'_>,
    force_admin: bool,
) -> Result<User, CreateUserError> {
    let tx = db.begin().await?;
    let user = match users::create_user(&tx, account, force_admin).await {
        Ok(user) => user,
        Err(error) => {
            // Ending the failed transaction now releases the registration lock at once.
            let _ = tx.rollback().await;
            return Err(error);
        }
    };
    crate::projects::store::create_inbox(&tx, user.id).await?;
    tx.commit().await?;
    Ok(user)
}

/// Register an account. The first user of an instance becomes an admin; every user gets an
/// Inbox project.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses((status = 201, body = User),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn register(
    State(state): State<AuthState>,
    client: ClientAddr,
    Json(body): Json<RegisterRequest>,
) -> Result<Response, ApiError> {
    if state.config.registration == Registration::Closed {
        return Err(ApiError::forbidden(
            ErrorCode::RegistrationClosed,
            "registration is closed on this server; ask an administrator for an account",
        ));
    }
    limits::pre_auth(&state, client).await?;
    // Every registration counts, and is counted atomically with the check.
    let _counted = limits::attempt(&state.db, &[limits::register_address_bucket(client.0)]).await?;
    let new_user = parse_new_user(&body.email, body.password, &body.name)?;
    let hash = state
        .passwords
        .hash(new_user.password.expose().to_owned(), Some(client))
        .await?;
    let user = open_account(&state.db, hash, new_user, false).await?;
    Ok((StatusCode::CREATED, axum::Json(user)).into_response())
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = User)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_me(SetupPrincipal(principal): SetupPrincipal) -> axum::Json<User> {
    axum::Json(std::sync::Arc::unwrap_or_clone(principal.user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// 1–100 characters once trimmed, no control characters.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// Whether notifications are also sent by email.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub email_notifications: Option<bool>,
    /// An IANA time zone such as `Europe/Berlin` (API.md §19): due dates, due times and
    /// reminders are read in it.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    pub time_zone: Option<String>,
}

impl ReadOnlyFields for UpdateMeRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "email", "role", "disabled", "created_at"];
}

/// Change the caller's display name, whether they get notifications by email, or their time
/// zone; a field left out is left as it is.
#[utoipa::path(patch, path = "/api/v1/me", tag = "account",
    request_body = UpdateMeRequest,
    responses((status = 200, body = User)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_me(
    State(state): State<AuthState>,
    principal: Principal,
    JsonPatch(body): JsonPatch<UpdateMeRequest>,
) -> Result<axum::Json<User>, ApiError> {
    let mut errors = Vec::new();
    let name = match body.name.as_deref().map(UserName::parse).transpose() {
        Ok(name) => name,
        Err((code, message)) => {
            errors.push(FieldError::new("name", code, message));
            None
        }
    };
    let time_zone = match body
        .time_zone
        .as_deref()
        .map(TimeZoneName::parse)
        .transpose()
    {
        Ok(zone) => zone,
        Err(message) => {
            errors.push(FieldError::new("time_zone", "invalid", message));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let tx = state.db.begin().await?;
    let user = users::update_profile(
        &tx,
        principal.id(),
        name.as_ref(),
        body.email_notifications,
        time_zone,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    if time_zone.is_some() {
        // Relative task reminders count in the recipient's zone (API.md §19); the row lock
        // the update took orders this against task writes reading the zone.
        crate::tasks::store::reminders::recompute_for_recipient(&tx, user.id).await?;
    }
    tx.commit().await?;
    state.principals.evict_user(user.id);
    Ok(axum::Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(format = Password, pattern = r"^[^\x00]*$")]
    pub current_password: String,
    #[schema(min_length = 10, max_length = 128, format = Password, pattern = r"^[^\x00]*$")]
    pub new_password: String,
}

/// Change the caller's password; every other session and refresh token of theirs ends.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "account",
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed")),
    security(("bearer" = []), ("session" = [])))]
pub async fn change_password(
    State(state): State<AuthState>,
    principal: Principal,
    client: ClientInfo,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let info = client.clone();
    let client = client.addr;
    principal.require_login()?;
    let new_password = Password::parse(body.new_password)
        .map_err(|(code, message)| ApiError::field("new_password", code, message))?;
    let stored = users::find_credentials(&state.db, &principal.user.email)
        .await?
        .and_then(|(_, hash)| hash);
    // A wrong current password is a failed password check like a wrong login (API.md §1), so
    // it is counted first and refused with 429 past the limits, before any hashing.
    let buckets = limits::password_buckets(Some(principal.id()), client.0);
    let attempt = limits::attempt(&state.db, &buckets).await?;
    match state
        .passwords
        .verify(body.current_password, stored, client)
        .await?
    {
        Verified::Yes | Verified::YesRehash(_) => limits::release(&state.db, attempt).await?,
        Verified::No => {
            return Err(ApiError::field(
                "current_password",
                "incorrect",
                "is not the current password",
            ))
        }
    }
    let hash = state
        .passwords
        .hash(new_password.into_inner(), Some(client))
        .await?;
    users::set_password_hash(&state.db, principal.id(), &hash).await?;
    let (keep_session, keep_family) = match principal.method {
        AuthMethod::Session { session_id, .. } => (Some(session_id), None),
        AuthMethod::AccessToken { family_id } => (None, Some(family_id)),
        AuthMethod::ApiToken { .. } => (None, None),
    };
    end_logins(&state.db, principal.id(), keep_session, keep_family).await?;
    let event = Event::new(EventKind::PasswordChanged);
    security_log::record(&state.db, principal.id(), event, Some(&info)).await?;
    state.principals.evict_user(principal.id());
    Ok(StatusCode::NO_CONTENT)
}
