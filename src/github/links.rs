//! The GitHub link of a project: endpoints (the SQL is in `store`). GitHub is never called inside a request:
//! linking and "sync now" only enqueue a job.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{secrets, store, Github};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::db::{DbResult, Exec};
use crate::error::{ApiError, FieldError};
use crate::http::extract::{Json, Path};
use crate::jobs::{queue, JobKey, JobKind};
use crate::projects::access::Action;
use crate::projects::guard;

pub use super::store::{find, Link};

pub const SYNC_MAX_ATTEMPTS: i32 = 5;

pub async fn enqueue_sync(db: &impl Exec, project_id: Uuid) -> DbResult<bool> {
    queue::enqueue(
        db,
        JobKind::GithubSync,
        json!({ "project_id": project_id }),
        &JobKey::github_sync(project_id),
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
    #[schema(
        pattern = r"^\s*[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}\s*$",
        example = "octocat/hello-world"
    )]
    pub repository: String,
    /// Write-only: stored encrypted, never returned. Without it the server's token is used.
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f]*$"
    )]
    pub token: Option<String>,
}

/// Link the project to a GitHub repository (admin or owner); a first import starts at once.
#[utoipa::path(put, path = "/api/v1/projects/{id}/github", tag = "github",
    params(("id" = Uuid, Path)),
    request_body = PutLinkRequest,
    responses((status = 200, body = Link),
        (status = 201, body = Link)),
    security(("bearer" = []), ("session" = [])))]
pub async fn put_link(
    State(state): State<Github>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<PutLinkRequest>,
) -> Result<Response, ApiError> {
    guard::authorize(&state.db, &principal, project_id, Action::LinkGithub).await?;
    let repository = body.repository.trim().to_owned();
    let mut errors = Vec::new();
    if !valid_repository(&repository) {
        errors.push(FieldError::new(
            "repository",
            "invalid",
            "must be a GitHub repository as owner/name",
        ));
    }
    match &body.token {
        // The operator's token can read whatever the operator can: only an instance admin may
        // point it at a repository (API.md §5).
        None if !principal.is_admin() => errors.push(FieldError::new(
            "token",
            "required",
            "a GitHub token is required (only instance admins may use the server's token)",
        )),
        None => {}
        Some(token)
            if token.is_empty()
                || token.len() > 1024
                || token.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            errors.push(FieldError::new(
                "token",
                "invalid",
                "must be a GitHub token",
            ))
        }
        Some(_) => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let sealed = body
        .token
        .as_deref()
        .map(|token| secrets::encrypt(&state.encryption_key, project_id, token));

    let tx = state.db.begin().await?;
    let interval = state.sync_interval.as_secs_f64();
    let status = match store::lock_repository(&tx, project_id).await? {
        None => {
            store::insert(
                &tx,
                project_id,
                &repository,
                sealed.as_deref(),
                principal.id(),
                interval,
            )
            .await?;
            StatusCode::CREATED
        }
        Some(previous) => {
            // A link is replaced whole: a new repository starts a fresh import.
            store::replace(
                &tx,
                project_id,
                &repository,
                sealed.as_deref(),
                previous.eq_ignore_ascii_case(&repository),
                interval,
            )
            .await?;
            StatusCode::OK
        }
    };
    if !enqueue_sync(&tx, project_id).await? {
        // A sync already waits, perhaps put off for long by the old token's rate limit or an
        // outage: the link as it now is syncs at once instead.
        queue::run_queued_now(&tx, &JobKey::github_sync(project_id)).await?;
    }
    let link = find(&tx, project_id)
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
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<axum::Json<Link>, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    Ok(axum::Json(
        find(&db, project_id)
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
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    guard::authorize(&db, &principal, project_id, Action::LinkGithub).await?;
    let tx = db.begin().await?;
    let link = find(&tx, project_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    enqueue_sync(&tx, project_id).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, axum::Json(link)).into_response())
}

/// Unlink. Imported tasks stay, and so does their `source`.
#[utoipa::path(delete, path = "/api/v1/projects/{id}/github", tag = "github",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Unlinked")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_link(
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    guard::authorize(&db, &principal, project_id, Action::LinkGithub).await?;
    let tx = db.begin().await?;
    if !store::delete(&tx, project_id).await? {
        return Err(ApiError::not_found());
    }
    queue::cancel_queued(&tx, &JobKey::github_sync(project_id)).await?;
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
