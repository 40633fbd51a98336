//! The GitHub link of a project: endpoints and SQL. GitHub is never called inside a request:
//! linking and "sync now" only enqueue a job.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::secrets;
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::{ApiError, FieldError};
use crate::http::extract::{Json, Path};
use crate::jobs::{queue, worker::GITHUB_SYNC};
use crate::projects::access::{self, Action};

pub const SYNC_MAX_ATTEMPTS: i32 = 5;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Link {
    /// `owner/name`.
    pub repository: String,
    /// `pending`, `syncing`, `idle` or `failed`.
    #[schema(pattern = "^(pending|syncing|idle|failed)$")]
    pub state: String,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// A sentence a user can act on, when the last sync failed.
    pub last_error: Option<String>,
    pub imported_count: i64,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The project's link. GitHub names are case-insensitive, so `imported_count` is too.
pub async fn find(db: impl PgExecutor<'_>, project_id: Uuid) -> Result<Option<Link>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.repository, l.state, l.last_synced_at, l.last_error, l.next_sync_at, \
             l.created_at, \
             (SELECT count(*) FROM tasks t WHERE t.project_id = l.project_id \
                AND lower(t.source_repository) = lower(l.repository)) AS imported_count \
         FROM github_links l WHERE l.project_id = $1",
    )
    .bind(project_id)
    .fetch_optional(db)
    .await
}

pub async fn enqueue_sync(db: &mut PgConnection, project_id: Uuid) -> Result<bool, sqlx::Error> {
    queue::enqueue(
        db,
        GITHUB_SYNC,
        json!({ "project_id": project_id }),
        &format!("github-sync:{project_id}"),
        SYNC_MAX_ATTEMPTS,
    )
    .await
}

fn valid_repository(name: &str) -> bool {
    let Some((owner, repo)) = name.split_once('/') else {
        return false;
    };
    let owner_ok = !owner.is_empty()
        && owner.len() <= 39
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let repo_ok = !repo.is_empty()
        && repo.len() <= 100
        && repo != "."
        && repo != ".."
        && repo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    owner_ok && repo_ok
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutLinkRequest {
    /// `owner/name`.
    pub repository: String,
    /// Write-only: stored encrypted, never returned. Without it the server's token is used.
    pub token: Option<String>,
}

/// Link the project to a GitHub repository (admin or owner); a first import starts at once.
#[utoipa::path(put, path = "/api/v1/projects/{id}/github", tag = "github",
    params(("id" = Uuid, Path)),
    request_body = PutLinkRequest,
    responses((status = 200, body = Link), (status = 201, body = Link)),
    security(("bearer" = []), ("session" = [])))]
pub async fn put_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<PutLinkRequest>,
) -> Result<Response, ApiError> {
    access::authorize(&state.pool, &principal, project_id, Action::LinkGithub).await?;
    let repository = body.repository.trim().to_owned();
    let mut errors = Vec::new();
    if !valid_repository(&repository) {
        errors.push(FieldError::new(
            "repository",
            "invalid",
            "must be a GitHub repository as owner/name",
        ));
    }
    if let Some(token) = &body.token {
        if token.is_empty()
            || token.len() > 1024
            || token.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            errors.push(FieldError::new(
                "token",
                "invalid",
                "must be a GitHub token",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let sealed = body
        .token
        .as_deref()
        .map(|token| secrets::encrypt(&state.encryption_key, project_id, token));

    let mut tx = state.pool.begin().await?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT repository FROM github_links WHERE project_id = $1 FOR UPDATE")
            .bind(project_id)
            .fetch_optional(&mut *tx)
            .await?;
    let status = match existing {
        None => {
            sqlx::query(
                "INSERT INTO github_links (project_id, repository, token_ciphertext, created_by, \
                     next_sync_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
            )
            .bind(project_id)
            .bind(&repository)
            .bind(&sealed)
            .bind(principal.id())
            .bind(state.config.github_sync_interval.as_secs_f64())
            .execute(&mut *tx)
            .await?;
            StatusCode::CREATED
        }
        Some(previous) => {
            // A link is replaced whole: a new repository starts a fresh import.
            sqlx::query(
                "UPDATE github_links SET repository = $2, token_ciphertext = $3, state = 'pending', \
                     last_error = NULL, \
                     synced_through = CASE WHEN $4 THEN synced_through END, \
                     next_sync_at = now() + make_interval(secs => $5) \
                 WHERE project_id = $1",
            )
            .bind(project_id)
            .bind(&repository)
            .bind(&sealed)
            .bind(previous.eq_ignore_ascii_case(&repository))
            .bind(state.config.github_sync_interval.as_secs_f64())
            .execute(&mut *tx)
            .await?;
            StatusCode::OK
        }
    };
    if !enqueue_sync(&mut tx, project_id).await? {
        // A sync already waits, perhaps put off for long by the old token's rate limit or an
        // outage: the link as it now is syncs at once instead.
        sqlx::query(
            "UPDATE jobs SET run_at = now() \
             WHERE dedupe_key = $1 AND state = 'queued' AND run_at > now()",
        )
        .bind(format!("github-sync:{project_id}"))
        .execute(&mut *tx)
        .await?;
    }
    let link = find(&mut *tx, project_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok((status, axum::Json(link)).into_response())
}

/// The project's GitHub link (any member).
#[utoipa::path(get, path = "/api/v1/projects/{id}/github", tag = "github",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Link)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<axum::Json<Link>, ApiError> {
    access::authorize(&state.pool, &principal, project_id, Action::Read).await?;
    Ok(axum::Json(
        find(&state.pool, project_id)
            .await?
            .ok_or_else(ApiError::not_found)?,
    ))
}

/// Queue a sync now (at most one is queued or running per link).
#[utoipa::path(post, path = "/api/v1/projects/{id}/github/sync", tag = "github",
    params(("id" = Uuid, Path)),
    responses((status = 202, body = Link)),
    security(("bearer" = []), ("session" = [])))]
pub async fn sync_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    access::authorize(&state.pool, &principal, project_id, Action::LinkGithub).await?;
    let mut tx = state.pool.begin().await?;
    let link = find(&mut *tx, project_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    enqueue_sync(&mut tx, project_id).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, axum::Json(link)).into_response())
}

/// Unlink. Imported tasks stay, and so does their `source`.
#[utoipa::path(delete, path = "/api/v1/projects/{id}/github", tag = "github",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Unlinked")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    access::authorize(&state.pool, &principal, project_id, Action::LinkGithub).await?;
    let mut tx = state.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM github_links WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    sqlx::query("DELETE FROM jobs WHERE dedupe_key = $1 AND state = 'queued'")
        .bind(format!("github-sync:{project_id}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for good in ["rust-lang/rust", "a/b.c", "Octo-Cat/hello_world"] {
            assert!(valid_repository(good), "{good}");
        }
        for bad in ["", "rust", "a/", "/b", "a/b/c", "a b/c", "a/..", "ow_ner/x"] {
            assert!(!valid_repository(bad), "{bad}");
        }
    }
}
