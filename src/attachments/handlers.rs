//! Attachment endpoints (API.md §20).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use uuid::Uuid;

use super::download::{self, Served};
use super::storage::{file_key, thumbnail_key, StorageError};
use super::store::{self, Attachment, NewAttachment};
use super::upload::{self, Received, Room};
use super::{jobs, sniff, AttachmentName, Attachments};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{Path, Query};
use crate::http::middleware::RequestContext;
use crate::idempotency::BodyDigest;
use crate::pagination::{CursorKey, CursorScope, Page, PageQuery};
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::guard;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name: 1–255 characters once trimmed, no control characters.
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// A comment of the same task the file belongs to.
    pub comment_id: Option<Uuid>,
}

/// Upload a file to a task (editor or above): the raw bytes as the body, any content type.
/// The body is streamed to storage, never held whole; the type is sniffed from the bytes.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/attachments", tag = "attachments",
    params(("id" = Uuid, Path), UploadQuery,
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file, as it is (any bytes; the declared content type is ignored)"),
    responses((status = 201, body = Attachment, headers(("ETag" = String), ("Location" = String))),
        (status = 413, description = "Larger than DOCKET_ATTACHMENT_MAX_BYTES (answered before the rest is read)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Over the project's storage quota (`quota_exceeded`), or `comment_id` is not a comment of this task", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 507, description = "The server's disk or storage is full; nothing was stored", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
#[allow(clippy::too_many_arguments)]
pub async fn upload_attachment(
    State(db): State<Db>,
    State(attachments): State<Attachments>,
    principal: Principal,
    Path(task_id): Path<Uuid>,
    Query(query): Query<UploadQuery>,
    context: Option<Extension<RequestContext>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let name = AttachmentName::parse(&query.name)
        .map_err(|why| ApiError::bad_request(ErrorCode::InvalidQuery, format!("name: {why}")))?;
    let (_, access) =
        guard::enter_task(&db.reads(), &principal, task_id, Action::EditTasks).await?;
    if let Some(comment_id) = query.comment_id {
        check_comment(&db, &principal, task_id, comment_id).await?;
    }
    let room = room(&db, &attachments, &access, &headers).await?;
    let context = context.map(|Extension(context)| context);
    let received = upload::receive(&attachments, &db, body, room, context.as_ref()).await?;
    let committed = commit(
        &db,
        &attachments,
        &principal,
        task_id,
        &name,
        query.comment_id,
        &received,
    )
    .await;
    let attachment = match committed {
        Ok(attachment) => attachment,
        Err(error) => {
            received.discard(&db).await;
            return Err(error);
        }
    };
    let mut response = (StatusCode::CREATED, axum::Json(&attachment)).into_response();
    let out = response.headers_mut();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/attachments/{}/content", attachment.id))
    {
        out.insert(header::LOCATION, location);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", attachment.sha256)) {
        out.insert(header::ETAG, etag);
    }
    response
        .extensions_mut()
        .insert(BodyDigest(received.sha256));
    Ok(response)
}

/// `comment_id` must name a comment of this task that the caller can see.
async fn check_comment(
    db: &Db,
    principal: &Principal,
    task_id: Uuid,
    comment_id: Uuid,
) -> Result<(), ApiError> {
    let found = guard::enter_comment(&db.reads(), principal, comment_id, Action::Read).await;
    match found {
        Ok((comment, _)) if comment.task_id == task_id => Ok(()),
        Ok(_) => Err(ApiError::field(
            "comment_id",
            "invalid",
            "must be a comment of this task",
        )),
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            Err(ApiError::field("comment_id", "invalid", "no such comment"))
        }
        Err(error) => Err(error),
    }
}

/// What this upload may hold; refused before a byte is read when its `Content-Length` says
/// it will not fit.
async fn room(
    db: &Db,
    attachments: &Attachments,
    access: &ProjectAccess,
    headers: &HeaderMap,
) -> Result<Room, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max_bytes = attachments.max_bytes;
    if declared.is_some_and(|size| size > max_bytes) {
        return Err(upload::too_large(max_bytes));
    }
    let quota = attachments.project_bytes;
    let used = store::project_usage(db, access.project_id()).await?;
    let quota_left = quota.saturating_sub(used);
    if declared.is_some_and(|size| size > quota_left) {
        return Err(upload::over_quota(quota));
    }
    Ok(Room {
        max_bytes,
        quota,
        quota_left,
        declared,
    })
}

/// Writes the row of a received file: the caller's right and the task's project are read
/// again (locked), as the upload may have taken a while.
async fn commit(
    db: &Db,
    attachments: &Attachments,
    principal: &Principal,
    task_id: Uuid,
    name: &AttachmentName,
    comment_id: Option<Uuid>,
    received: &Received,
) -> Result<Attachment, ApiError> {
    let tx = db.begin().await?;
    let (_, access) = guard::enter_task_locked(&tx, principal, task_id, Action::EditTasks).await?;
    let store_name = received.store.url().to_string();
    let new = NewAttachment {
        id: received.id,
        task_id,
        comment_id,
        name: name.as_str(),
        content_type: received.content_type,
        size: received.size,
        sha256: received.sha256,
        store: &store_name,
    };
    let attachment = match store::insert(&tx, &access, &new, attachments.project_bytes).await {
        Ok(attachment) => attachment,
        Err(store::AttachmentWriteError::Db(error))
            if error.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) =>
        {
            return Err(ApiError::field(
                "comment_id",
                "invalid",
                "the comment was deleted",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    if sniff::thumbnailed(&attachment.content_type) {
        jobs::enqueue_thumbnail(&tx, attachment.id).await?;
    }
    tx.commit().await?;
    Ok(attachment)
}

/// A task's attachments, newest first (any member).
#[utoipa::path(get, path = "/api/v1/tasks/{id}/attachments", tag = "attachments",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Attachment>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_attachments(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(task_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Attachment>>, ApiError> {
    guard::enter_task(&db.reads(), &principal, task_id, Action::Read).await?;
    let limit = page.limit()?;
    let scope = CursorScope::Attachments { task: task_id };
    let before: Option<Uuid> = page.position(&cursor_key, &scope)?;
    let rows = store::list(&db, task_id, before, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &last.id)
    })))
}

/// The file's bytes (any member). Shown inline only when sniffed as a PNG, JPEG, GIF, WebP or
/// PDF; everything else is a download. Single `Range`s and `If-None-Match` are honoured.
#[utoipa::path(get, path = "/api/v1/attachments/{id}/content", tag = "attachments",
    params(("id" = Uuid, Path), ("Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header)),
    responses(
        (status = 200, description = "The file, with its sniffed type as `Content-Type` (any type)", content_type = "*/*", body = Vec<u8>,
            headers(("ETag" = String, description = "The SHA-256 of the file, quoted"), ("Content-Disposition" = String), ("Content-Security-Policy" = String))),
        (status = 206, description = "The range asked for, typed as the file", content_type = "*/*", body = Vec<u8>,
            headers(("Content-Range" = String), ("ETag" = String))),
        (status = 304, description = "Not modified"),
        (status = 416, description = "No asked range is in the file", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_attachment_content(
    State(db): State<Db>,
    State(attachments): State<Attachments>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (attachment, _) =
        guard::enter_attachment(&db.reads(), &principal, id, Action::Read).await?;
    let store = attachments.store_of(&attachment.store)?;
    let served = Served {
        store: &store,
        key: file_key(attachment.id),
        size: attachment.size as u64,
        content_type: &attachment.content_type,
        name: &attachment.name,
        tag: attachment.sha256.clone(),
    };
    download::serve(served, &headers).await
}

/// A PNG of at most 400 × 400 pixels, for images, made in the background (404 until it is
/// ready, and for files that are not images).
#[utoipa::path(get, path = "/api/v1/attachments/{id}/thumbnail", tag = "attachments",
    params(("id" = Uuid, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, description = "The thumbnail", content_type = "image/png", body = Vec<u8>,
            headers(("ETag" = String))),
        (status = 304, description = "Not modified")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_attachment_thumbnail(
    State(db): State<Db>,
    State(attachments): State<Attachments>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (attachment, _) =
        guard::enter_attachment(&db.reads(), &principal, id, Action::Read).await?;
    if !attachment.thumbnail {
        return Err(ApiError::not_found().detail("this attachment has no thumbnail (yet)"));
    }
    let store = attachments.store_of(&attachment.store)?;
    let key = thumbnail_key(attachment.id);
    let size = match store.size(&key).await {
        Ok(size) => size,
        Err(StorageError::NotFound) => return Err(ApiError::not_found()),
        Err(error) => return Err(error.into()),
    };
    let name = format!("{}.thumbnail.png", attachment.name);
    let served = Served {
        store: &store,
        key,
        size,
        content_type: "image/png",
        name: &name,
        tag: format!("{}-thumbnail", attachment.sha256),
    };
    download::serve(served, &headers).await
}

/// Delete an attachment: its uploader (while an editor), or an admin or owner of the project.
/// The file is removed from storage after the commit, by a job.
#[utoipa::path(delete, path = "/api/v1/attachments/{id}", tag = "attachments",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_attachment(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    let (attachment, access) =
        guard::enter_attachment_locked(&tx, &principal, id, Action::Read).await?;
    let own = attachment.uploaded_by.as_ref().map(|u| u.id) == Some(principal.id())
        && access.allows(Action::EditTasks);
    if !own {
        access.require(Action::ModerateAttachments)?;
    }
    store::delete(&tx, &access, &attachment).await?;
    jobs::enqueue_purge(&tx).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
