//! Instance administration: listing users, changing roles, disabling accounts.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::domain::UserRole;
use super::principal::Principal;
use super::users::{User, USER_COLUMNS};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::extract::{non_null, JsonPatch, Path, Query, ReadOnlyFields};
use crate::pagination::{Page, PageQuery};

/// Every user, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<User>),
        (status = 400, body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::openapi::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<User>>, ApiError> {
    principal.require_admin()?;
    let limit = page.limit()?;
    let scope = "admin/users";
    let after: Option<(DateTime<Utc>, Uuid)> = page
        .cursor
        .as_deref()
        .map(|c| state.cursor_key.decode(scope, c))
        .transpose()?;
    let rows: Vec<User> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users \
         WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2)) \
         ORDER BY created_at, id LIMIT $3"
    ))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        state.cursor_key.encode(scope, &(last.created_at, last.id))
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default, deserialize_with = "non_null")]
    pub role: Option<UserRole>,
    #[serde(default, deserialize_with = "non_null")]
    pub disabled: Option<bool>,
}

impl ReadOnlyFields for UpdateUserRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "email", "name", "created_at"];
}

/// Change a user's role or disable them. The last active admin cannot be demoted or disabled.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = User),
        (status = 403, body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::openapi::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonPatch(body): JsonPatch<UpdateUserRequest>,
) -> Result<axum::Json<User>, ApiError> {
    principal.require_admin()?;
    let mut tx = state.pool.begin().await?;
    // Serialises admin changes so that two admins cannot demote each other at once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('docket.users.admins'))")
        .execute(&mut *tx)
        .await?;
    let user: User = sqlx::query_as(&format!(
        "UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled) \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(body.role.map(UserRole::as_str))
    .bind(body.disabled)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let active_admins: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(&mut *tx)
            .await?;
    if active_admins == 0 {
        return Err(ApiError::conflict(
            "conflict",
            "this is the last active admin; make another admin first",
        ));
    }
    tx.commit().await?;
    state.principals.evict_user(user.id);
    // A disabled user's sessions, tokens and refresh tokens are kept, not deleted: every request
    // and every refresh reads the flag, so they stop at once and answer 403 account_disabled
    // (a deleted session could only answer 401).
    Ok(axum::Json(user))
}
