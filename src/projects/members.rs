//! Membership endpoints: listing, adding, changing roles (and transferring ownership),
//! removing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::access::{Action, Role};
use super::guard;
use super::invitations::{self, InvitationCreated};
use super::store::{self, Member};
use crate::auth::principal::Principal;
use crate::auth::state::AuthState;
use crate::config::Registration;
use crate::db::Db;
use crate::email::Mailer;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{Json, Path, Query};
use crate::pagination::CursorKey;
use crate::pagination::{Page, PageQuery};

/// The members of a project.
#[utoipa::path(get, path = "/api/v1/projects/{id}/members", tag = "members",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Member>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_members(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Member>>, ApiError> {
    guard::authorize(&db.reads(), &principal, id, Action::Read).await?;
    let limit = page.limit()?;
    let scope = crate::pagination::CursorScope::Members { project: id };
    let after: Option<(DateTime<Utc>, Uuid)> = page.position(&cursor_key, &scope)?;
    let rows = store::list_members(&db, id, after, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &(last.added_at, last.user.id))
    })))
}

/// Inboxes have only their owner.
fn refuse_inbox(locked: &store::Locked) -> Result<(), ApiError> {
    if locked.is_inbox {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "an Inbox cannot be shared",
        ));
    }
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
}

/// Add a member or change their role. `owner` transfers ownership: the old owner becomes an
/// admin.
#[utoipa::path(put, path = "/api/v1/projects/{id}/members/{user_id}", tag = "members",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    request_body = SetRoleRequest,
    responses((status = 200, body = Member),
        (status = 201, body = Member)),
    security(("bearer" = []), ("session" = [])))]
pub async fn put_member(
    State(db): State<Db>,
    principal: Principal,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<SetRoleRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (access, locked) = guard::authorize_locked(&tx, &principal, id, Action::Read).await?;
    let current = guard::role_of_member(&tx, &access, user_id).await?;
    access.require(Action::to_set_role(current, body.role))?;
    refuse_inbox(&locked)?;
    if current.is_none() && !crate::auth::users::exists(&tx, user_id).await? {
        return Err(ApiError::not_found().detail("no such user"));
    }
    if current == Some(Role::Owner) && body.role != Role::Owner {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "the owner's role changes only by transferring ownership to someone else",
        ));
    }
    if body.role == Role::Owner && current != Some(Role::Owner) {
        // Demote first: at most one owner exists at any moment (a unique index says so).
        store::set_role(&tx, &access, access.user_id(), Role::Admin).await?;
    }
    match current {
        Some(_) => store::set_role(&tx, &access, user_id, body.role).await?,
        None => store::add_member(&tx, &access, user_id, body.role).await?,
    }
    let member = store::find_member(&tx, id, user_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    let status = if current.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(member)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// A registered user's email, or one without an account: they are invited (202; when
    /// registration is closed only an instance admin may invite, others get 422).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Not `owner`: ownership is transferred with `PUT /members/{user_id}`.
    #[schema(schema_with = addable_role_schema)]
    pub role: Role,
}

fn addable_role_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["viewer", "editor", "admin"]))
        .build()
}

/// Add a member by email; an email without an account is invited instead (202, API.md §14).
#[utoipa::path(post, path = "/api/v1/projects/{id}/members", tag = "members",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = AddMemberRequest,
    responses((status = 201, body = Member),
        (status = 202, body = InvitationCreated)),
    security(("bearer" = []), ("session" = [])))]
pub async fn add_member(
    State(db): State<Db>,
    State(auth): State<AuthState>,
    State(mailer): State<Mailer>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<AddMemberRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (access, locked) = guard::authorize_locked(&tx, &principal, id, Action::Read).await?;
    if body.role == Role::Owner {
        return Err(ApiError::field(
            "role",
            "invalid_value",
            "ownership is transferred with PUT /members/{user_id}",
        ));
    }
    access.require(Action::to_set_role(None, body.role))?;
    refuse_inbox(&locked)?;
    let Some(user_id) = crate::auth::users::id_by_email(&tx, &body.email).await? else {
        if auth.config.registration == Registration::Closed && !principal.is_admin() {
            return Err(ApiError::field(
                "email",
                "unknown",
                "no user has this email (registration is closed: an instance admin may invite)",
            ));
        }
        let created =
            invitations::invite(&tx, &access, &auth, &mailer, &body.email, body.role).await?;
        tx.commit().await?;
        return Ok((StatusCode::ACCEPTED, axum::Json(created)).into_response());
    };
    match store::add_member(&tx, &access, user_id, body.role).await {
        Ok(()) => {}
        Err(error) if error.unique_violation().is_some() => {
            return Err(ApiError::conflict(
                ErrorCode::Conflict,
                "this user is already a member; use PUT to change their role",
            ))
        }
        Err(error) => return Err(error.into()),
    }
    let member = store::find_member(&tx, id, user_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(member)).into_response())
}

/// Remove a member. Any member may remove themself, except the owner.
#[utoipa::path(delete, path = "/api/v1/projects/{id}/members/{user_id}", tag = "members",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []), ("session" = [])))]
pub async fn remove_member(
    State(db): State<Db>,
    principal: Principal,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    let (access, _) = guard::authorize_locked(&tx, &principal, id, Action::Read).await?;
    let target = guard::role_of_member(&tx, &access, user_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Rights first: someone who may not touch the owner gets 403, not the owner's 409.
    if user_id != principal.id() {
        access.require(Action::to_remove(target))?;
    }
    if target == Role::Owner {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "the owner cannot be removed; transfer ownership first",
        ));
    }
    store::remove_member(&tx, &access, user_id).await?;
    // Their tasks here become unassigned, in the same transaction.
    crate::tasks::store::unassign_all(&tx, &access, user_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
