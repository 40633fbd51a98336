//! Comment endpoints (API.md §10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, Comment};
use super::CommentBody;
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::db::Exec;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{Json, Path, Query};
use crate::http::preconditions::{read_versioned, versioned, IfMatch, IfNoneMatch};
use crate::pagination::CursorKey;
use crate::pagination::{CursorScope, Page, PageQuery};
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::guard;

fn comment_response(status: StatusCode, comment: &Comment) -> Response {
    versioned(status, comment, comment.version, || {
        format!("/api/v1/comments/{}", comment.id)
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// Markdown, 1–10,000 characters once trimmed (stored trimmed). `@email` of a project
    /// member mentions them.
    #[schema(value_type = String, min_length = 1, max_length = 10000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub body: CommentBody,
}

/// The ids of the project's members the body mentions.
async fn mentions(
    db: &impl Exec,
    access: &ProjectAccess,
    body: &CommentBody,
) -> Result<Vec<Uuid>, ApiError> {
    let emails = body.mentioned_emails();
    Ok(crate::projects::store::members_by_email(db, access.project_id(), &emails).await?)
}

/// Comment on a task (editor or above).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/comments", tag = "comments",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CommentRequest,
    responses((status = 201, body = Comment, headers(("ETag" = String), ("Location" = String)),
        links(
            ("GetComment" = (operation_id = "get_comment", parameters(("id" = "$response.body#/id")))),
            ("UpdateComment" = (operation_id = "update_comment", parameters(("id" = "$response.body#/id")))),
            ("DeleteComment" = (operation_id = "delete_comment", parameters(("id" = "$response.body#/id")))),
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_comment(
    State(db): State<Db>,
    principal: Principal,
    Path(task_id): Path<Uuid>,
    Json(request): Json<CommentRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (task, access) = guard::enter_task(&tx, &principal, task_id, Action::EditTasks).await?;
    let mentions = mentions(&tx, &access, &request.body).await?;
    let comment = store::insert(&tx, &access, &task, &request.body, &mentions).await?;
    tx.commit().await?;
    Ok(comment_response(StatusCode::CREATED, &comment))
}

/// A task's comments, oldest first (any member).
#[utoipa::path(get, path = "/api/v1/tasks/{id}/comments", tag = "comments",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Comment>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_comments(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(task_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Comment>>, ApiError> {
    guard::enter_task(&db.reads(), &principal, task_id, Action::Read).await?;
    let limit = page.limit()?;
    let scope = CursorScope::Comments { task: task_id };
    let after: Option<Uuid> = page.position(&cursor_key, &scope)?;
    let rows = store::list(&db, task_id, after, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &last.id)
    })))
}

/// One comment (any member).
#[utoipa::path(get, path = "/api/v1/comments/{id}", tag = "comments",
    params(("id" = Uuid, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = Comment, headers(("ETag" = String))),
        (status = 304, description = "Not modified")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_comment(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let (comment, _) = guard::enter_comment(&db.reads(), &principal, id, Action::Read).await?;
    Ok(read_versioned(&if_none_match, &comment, comment.version))
}

fn authored_by(comment: &Comment, principal: &Principal) -> bool {
    comment.author_id() == Some(principal.id())
}

/// Rewrite a comment (its author only, while they may edit the project's tasks).
#[utoipa::path(patch, path = "/api/v1/comments/{id}", tag = "comments",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = CommentRequest,
    responses((status = 200, body = Comment, headers(("ETag" = String)))),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_comment(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    Json(request): Json<CommentRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (comment, access) = guard::enter_comment_locked(&tx, &principal, id, Action::Read).await?;
    if !authored_by(&comment, &principal) {
        return Err(ApiError::forbidden(
            ErrorCode::Forbidden,
            "only its author may edit a comment",
        ));
    }
    access.require(Action::EditTasks)?;
    if_match.check(comment.version)?;
    let mentions = mentions(&tx, &access, &request.body).await?;
    let updated = store::update(&tx, &access, &comment, &request.body, &mentions).await?;
    tx.commit().await?;
    Ok(comment_response(StatusCode::OK, &updated))
}

/// Delete a comment (its author, or an admin or owner of the project).
#[utoipa::path(delete, path = "/api/v1/comments/{id}", tag = "comments",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_comment(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    let (comment, access) = guard::enter_comment_locked(&tx, &principal, id, Action::Read).await?;
    let own = authored_by(&comment, &principal) && access.allows(Action::EditTasks);
    if !own {
        access.require(Action::ModerateComments)?;
    }
    if_match.check(comment.version)?;
    store::delete(&tx, &access, &comment).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
