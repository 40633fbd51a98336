//! Invitations (API.md §14): adding a member by an email that has no account invites them. The
//! link (`<public URL>/invite?token=…`, single use, 7 days, only its hash stored) goes by email,
//! or, without SMTP, back to the inviter in the answer, once. Accepting signs up with the
//! invited email, or adds the signed-in user whose email it is, with the invited role.

pub mod store;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::store::Invitation;
use super::access::{Action, ProjectAccess, Role};
use super::guard;
use crate::auth::client::ClientAddr;
use crate::auth::domain::{Email, Password, UserName};
use crate::auth::principal::{MaybePrincipal, Principal};
use crate::auth::state::AuthState;
use crate::auth::users::{self, User};
use crate::db::{Db, Tx};
use crate::email::{escape_html, Mailer, Outgoing};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{Json, Path, Query};
use crate::pagination::{CursorKey, CursorScope, Page, PageQuery};

/// How long an invitation's link works.
pub const VALID_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// The 202 of `POST /projects/{id}/members` for an email without an account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationCreated {
    pub invitation: Invitation,
    /// Only without SMTP: the link to hand to the invitee yourself. Shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Invites `email` (no account has it) to the project `access` entered, in `tx`: the caller
/// checked that they may give `role`. Inviting the same address again replaces the invitation.
pub async fn invite(
    tx: &Tx,
    access: &ProjectAccess,
    auth: &AuthState,
    mailer: &Mailer,
    email: &str,
    role: Role,
) -> Result<InvitationCreated, ApiError> {
    let email =
        Email::parse(email).map_err(|message| ApiError::field("email", "invalid", message))?;
    let limit = crate::quotas::INVITATIONS_PER_PROJECT;
    if store::pending_count(tx, access.project_id()).await? >= limit {
        return Err(crate::quotas::exceeded(
            "pending invitations per project",
            limit,
        ));
    }
    let token = crate::tokens::random_token(32);
    let invitation = store::upsert(
        tx,
        access.project_id(),
        email.as_str(),
        role,
        access.user_id(),
        &crate::tokens::hash_token(&token),
        VALID_SECS,
    )
    .await?;
    // Below the public URL's own path, if it has one (`https://example.com/docket/invite`).
    let base = auth.config.public_url.as_str().trim_end_matches('/');
    let mut link = url::Url::parse(&format!("{base}/invite")).expect("the public URL and a path");
    link.query_pairs_mut().append_pair("token", &token);
    if !mailer.is_configured() {
        return Ok(InvitationCreated {
            invitation,
            link: Some(link.into()),
        });
    }
    let project = super::store::find(tx, access.project_id(), access.user_id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let inviter = users::find_by_id(tx, access.user_id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let message = message(&invitation, &inviter.name, &project.name, link.as_str());
    mailer.enqueue(tx, &message).await?;
    Ok(InvitationCreated {
        invitation,
        link: None,
    })
}

fn message(invitation: &Invitation, inviter: &str, project: &str, link: &str) -> Outgoing {
    let role = invitation.role.as_str();
    let (inviter_html, project_html, link_html) = (
        escape_html(inviter),
        escape_html(project),
        escape_html(link),
    );
    Outgoing {
        to: invitation.email.clone(),
        subject: format!("{inviter} invited you to {project} on Docket"),
        text: format!(
            "Hello,\n\n{inviter} invited you to the project \"{project}\" on Docket, as {role}. \
             Open this link within 7 days to join:\n\n{link}\n\n\
             If you did not expect this, ignore this email.\n"
        ),
        html: format!(
            "<p>Hello,</p><p>{inviter_html} invited you to the project \
             <strong>{project_html}</strong> on Docket, as {role}. Open this link within 7 \
             days to join:</p><p><a href=\"{link_html}\">{link_html}</a></p>\
             <p>If you did not expect this, ignore this email.</p>"
        ),
        unsubscribe: None,
    }
}

/// The pending invitations of a project.
#[utoipa::path(get, path = "/api/v1/projects/{id}/invitations", tag = "members",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Invitation>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_invitations(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Invitation>>, ApiError> {
    guard::authorize(&db.reads(), &principal, id, Action::ManageMembers).await?;
    let limit = page.limit()?;
    let scope = CursorScope::Invitations { project: id };
    let after: Option<(DateTime<Utc>, Uuid)> = page.position(&cursor_key, &scope)?;
    let rows = store::list_pending(&db, id, after, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &(last.created_at, last.id))
    })))
}

/// Withdraw an invitation: its link stops working. Who may give its role may withdraw it.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "members",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Withdrawn")),
    security(("bearer" = []), ("session" = [])))]
pub async fn withdraw_invitation(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let invitation = store::find(&db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let tx = db.begin().await?;
    let (access, _) =
        guard::authorize_locked(&tx, &principal, invitation.project_id, Action::Read).await?;
    access.require(Action::to_set_role(None, invitation.role))?;
    if store::delete(&tx, id).await? == 0 {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    #[schema(max_length = 100)]
    pub token: String,
    /// For a new account (no credentials sent): its password.
    #[serde(default)]
    #[schema(min_length = 10, max_length = 128, format = Password, pattern = r"^[^\x00]*$")]
    pub password: Option<String>,
    /// For a new account: its name, 1–100 characters once trimmed, no control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
}

/// What accepting made: the user (new or the caller) is now a member of the project.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AcceptedInvitation {
    pub project_id: Uuid,
    pub role: Role,
    pub user: User,
}

/// Accept an invitation. Signed in: adds the caller, whose email must be the invited one (200).
/// Not signed in: opens an account with the invited email, `password` and `name` (201); sign in
/// with them afterwards.
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "members",
    request_body = AcceptInvitation,
    responses((status = 200, body = AcceptedInvitation),
        (status = 201, body = AcceptedInvitation),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn accept_invitation(
    State(state): State<AuthState>,
    client: ClientAddr,
    MaybePrincipal(principal): MaybePrincipal,
    Json(body): Json<AcceptInvitation>,
) -> Result<Response, ApiError> {
    let token_hash = crate::tokens::hash_token(body.token.trim());
    if body.token.len() > 100 {
        return Err(bad_token());
    }
    match principal {
        Some(principal) => join(&state.db, &principal, &token_hash).await,
        None => limits_then_sign_up(&state, client, &token_hash, body.password, body.name).await,
    }
}

fn bad_token() -> ApiError {
    ApiError::field("token", "invalid", "is unknown, used, withdrawn or expired")
}

/// The signed-in caller joins with the invitation's role.
async fn join(db: &Db, principal: &Principal, token_hash: &[u8]) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let invitation = store::take(&tx, token_hash).await?.ok_or_else(bad_token)?;
    if !invitation
        .email
        .eq_ignore_ascii_case(principal.user.email.trim())
    {
        // The transaction rolls back: the invitation stays for its invitee.
        return Err(ApiError::field(
            "token",
            "other_email",
            "this invitation is for another email address",
        ));
    }
    super::store::lock(&tx, invitation.project_id).await?;
    if super::store::role_of(&tx, invitation.project_id, principal.id())
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "you are already a member of this project",
        ));
    }
    let access = guard::invited(principal.id(), invitation.project_id, invitation.role);
    super::store::add_member(&tx, &access, principal.id(), invitation.role).await?;
    tx.commit().await?;
    let accepted = AcceptedInvitation {
        project_id: invitation.project_id,
        role: invitation.role,
        user: (*principal.user).clone(),
    };
    Ok((StatusCode::OK, axum::Json(accepted)).into_response())
}

/// Someone without an account: the invited email becomes theirs, with a password and a name.
async fn limits_then_sign_up(
    state: &AuthState,
    client: ClientAddr,
    token_hash: &[u8],
    password: Option<String>,
    name: Option<String>,
) -> Result<Response, ApiError> {
    crate::auth::limits::pre_auth(state, client).await?;
    let mut errors = Vec::new();
    let password = match password.map(Password::parse) {
        Some(Ok(password)) => Some(password),
        Some(Err((code, message))) => {
            errors.push(FieldError::new("password", code, message));
            None
        }
        None => {
            errors.push(FieldError::new(
                "password",
                "required",
                "a new account needs a password (or sign in first)",
            ));
            None
        }
    };
    let name = match name.as_deref().map(UserName::parse) {
        Some(Ok(name)) => Some(name),
        Some(Err((code, message))) => {
            errors.push(FieldError::new("name", code, message));
            None
        }
        None => {
            errors.push(FieldError::new(
                "name",
                "required",
                "a new account needs a name",
            ));
            None
        }
    };
    let (Some(password), Some(name)) = (password, name) else {
        return Err(ApiError::validation(errors));
    };
    // Read first, so that a bad token costs no password hashing.
    let invitation = store::find_usable(&state.db, token_hash)
        .await?
        .ok_or_else(bad_token)?;
    let email = Email::parse(&invitation.email)
        .map_err(|message| ApiError::field("token", "invalid", message))?;
    let hash = state
        .passwords
        .hash(password.expose().to_owned(), Some(client))
        .await?;
    let tx = state.db.begin().await?;
    let invitation = store::take(&tx, token_hash).await?.ok_or_else(bad_token)?;
    let account = users::Account {
        email: &email,
        name: &name,
        password_hash: Some(&hash),
    };
    let user = users::create_user(&tx, account, false).await?;
    super::store::create_inbox(&tx, user.id).await?;
    super::store::lock(&tx, invitation.project_id).await?;
    let access = guard::invited(user.id, invitation.project_id, invitation.role);
    super::store::add_member(&tx, &access, user.id, invitation.role).await?;
    tx.commit().await?;
    let accepted = AcceptedInvitation {
        project_id: invitation.project_id,
        role: invitation.role,
        user,
    };
    Ok((StatusCode::CREATED, axum::Json(accepted)).into_response())
}
