//! Instance administration: listing users, changing roles, disabling accounts.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use axum::http::StatusCode;

use super::domain::UserRole;
use super::principal::Principal;
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::store::{passkeys, totp};
use super::users::{self, AdminUpdate, User};
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{non_null, JsonPatch, Path, Query, ReadOnlyFields};
use crate::pagination::CursorKey;
use crate::pagination::{Page, PageQuery};

/// Every user, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    params(PageQuery),
    responses((status = 200, body = Page<User>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_users(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<User>>, ApiError> {
    principal.require_admin()?;
    let limit = page.limit()?;
    let scope = &crate::pagination::CursorScope::Users;
    let after: Option<(DateTime<Utc>, Uuid)> = page.position(&cursor_key, scope)?;
    let rows = users::list(&db, after, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(scope, &(last.created_at, last.id))
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub role: Option<UserRole>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub disabled: Option<bool>,
}

impl ReadOnlyFields for UpdateUserRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "email", "name", "created_at"];
}

/// Change a user's role or disable them. The last active admin cannot be demoted or disabled.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = User)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_user(
    State(state): State<AuthState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonPatch(body): JsonPatch<UpdateUserRequest>,
) -> Result<axum::Json<User>, ApiError> {
    principal.require_admin()?;
    let user =
        match users::update_role_and_disabled(&state.db, id, body.role, body.disabled).await? {
            AdminUpdate::Updated(user) => user,
            AdminUpdate::NotFound => return Err(ApiError::not_found()),
            AdminUpdate::LastAdmin => {
                return Err(ApiError::conflict(
                    ErrorCode::Conflict,
                    "this is the last active admin; make another admin first",
                ))
            }
        };
    state.principals.evict_user(user.id);
    // A disabled user's sessions, tokens and refresh tokens are kept, not deleted: every request
    // and every refresh reads the flag, so they stop at once and answer 403 account_disabled
    // (a deleted session could only answer 401).
    Ok(axum::Json(user))
}

/// Remove every second factor of a user (TOTP with its recovery codes, and passkeys): for
/// someone who lost their device. Recorded in the user's security log with who did it.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/factors", tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The user has no second factor now")),
    security(("bearer" = []), ("session" = [])))]
pub async fn reset_factors(
    State(state): State<AuthState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require_admin()?;
    principal.require_login()?;
    let tx = state.db.begin().await?;
    if users::find_by_id(&tx, id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    users::lock(&tx, id).await?;
    totp::delete(&tx, id).await?;
    passkeys::delete_all_of_user(&tx, id).await?;
    let by = format!("by {}", principal.user.email);
    security_log::record(
        &tx,
        id,
        Event::new(EventKind::FactorsReset).detail(&by),
        None,
    )
    .await?;
    tx.commit().await?;
    state.principals.evict_user(id);
    Ok(StatusCode::NO_CONTENT)
}
