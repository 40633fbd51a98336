//! `GET /api/v1/projects/{id}/export`: the project as one JSON document, written as it is read.
//!
//! The document (version 1, documented in docs/api.md):
//! `{"format": "docket-export", "version": 1, "exported_at", "project": {...}, "members": [...],
//! "states": [...], "fields": [...], "tasks": [{...task, "comments": [...]}], "activity": [...]}`.
//! Tasks come in manual order, each with its comments oldest first; activity newest first.
//!
//! It is streamed: a producer task reads in pages of `PAGE` tasks inside one repeatable-read,
//! read-only transaction (so the document is one consistent snapshot however long it takes)
//! and hands serialized pieces to the response body through a small bounded channel, so the
//! server holds a page at a time whatever the project's size. A client that goes away stops
//! the producer at its next piece; an error mid-way breaks the body off, so a reader never
//! takes a truncated document for a whole one (it does not parse).

use axum::body::Body;
use axum::extract::State as Part;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::activity::store as activity;
use crate::auth::principal::Principal;
use crate::comments::store as comments;
use crate::db::{Db, DbError, Exec, Tx};
use crate::error::ApiError;
use crate::fields::store as fields;
use crate::http::extract::Path;
use crate::projects::access::{Action, Role};
use crate::projects::{guard, store as projects};
use crate::states::store as states;
use crate::tasks::store::list::{Filters, ListOf, ListSpec, Sort, SortKey};
use crate::tasks::store::{list as task_list, Task};

/// Tasks read (and comments fetched) per statement.
const PAGE: i64 = 500;
/// Members and activity entries per statement.
const ROWS: i64 = 1000;

#[derive(Serialize)]
struct ExportedProject<'a> {
    id: Uuid,
    name: &'a str,
    description: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A member as the export names them: id, name, role (no email).
#[derive(Serialize)]
struct ExportedMember<'a> {
    user_id: Uuid,
    name: &'a str,
    role: Role,
    added_at: DateTime<Utc>,
}

/// A task as the API shows it (§4, §17), with its comments.
#[derive(Serialize)]
struct ExportedTask<'a> {
    #[serde(flatten)]
    task: &'a Task,
    comments: &'a [comments::Comment],
}

/// Export a project: the documented, versioned JSON of everything in it (any member). The
/// body is written as it is read: a project of any size costs the server one page of tasks.
#[utoipa::path(get, path = "/api/v1/projects/{id}/export", tag = "projects",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The export document (`format` `docket-export`, \
        `version` 1), as an attachment", content_type = "application/json",
        body = serde_json::Value)),
    security(("bearer" = []), ("session" = [])))]
pub async fn export_project(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    let tx = db.begin().await?;
    tx.execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        &[],
    )
    .await?;
    let project = projects::find(&tx, project_id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let file_name = download_name(&project.name);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let head = ExportedProject {
        id: project.id,
        name: &project.name,
        description: &project.description,
        created_at: project.created_at,
        updated_at: project.updated_at,
    };
    let head = format!(
        "{{\"format\":\"{}\",\"version\":{},\"exported_at\":{},\"project\":{}",
        super::FORMAT,
        super::VERSION,
        json(&Utc::now())?,
        json(&head)?
    );
    tokio::spawn(async move {
        let mut out = Out {
            sender,
            buffer: head.into_bytes(),
        };
        if let Err(error) = produce(&tx, project_id, principal.id(), &mut out).await {
            if !matches!(error, Stop::Gone) {
                tracing::warn!(%project_id, error = ?error, "an export broke off");
                let _ = out
                    .sender
                    .send(Err(std::io::Error::other("the export broke off")))
                    .await;
            }
            return;
        }
        if out.flush().await.is_ok() {
            let _ = tx.commit().await;
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|piece| (piece, receiver))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Why the producer stopped early.
#[derive(Debug)]
enum Stop {
    /// The client went away.
    Gone,
    Db(#[allow(dead_code)] DbError),
    Json(#[allow(dead_code)] serde_json::Error),
}

impl From<DbError> for Stop {
    fn from(error: DbError) -> Self {
        Stop::Db(error)
    }
}

impl From<serde_json::Error> for Stop {
    fn from(error: serde_json::Error) -> Self {
        Stop::Json(error)
    }
}

/// The body's bytes, sent in pieces of about 64 KiB.
struct Out {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl Out {
    async fn push(&mut self, text: &[u8]) -> Result<(), Stop> {
        self.buffer.extend_from_slice(text);
        if self.buffer.len() >= 64 * 1024 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn value(&mut self, value: &impl Serialize) -> Result<(), Stop> {
        serde_json::to_writer(&mut self.buffer, value)?;
        if self.buffer.len() >= 64 * 1024 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Stop> {
        let piece = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender.send(Ok(piece)).await.map_err(|_| Stop::Gone)
    }
}

/// Everything after the project, in the document's order.
async fn produce(tx: &Tx, project_id: Uuid, caller: Uuid, out: &mut Out) -> Result<(), Stop> {
    out.push(b",\"members\":[").await?;
    let mut after = None;
    let mut first = true;
    loop {
        let page = projects::list_members(tx, project_id, after, ROWS).await?;
        for member in &page {
            out.push(if first { b"" } else { b"," }).await?;
            first = false;
            out.value(&ExportedMember {
                user_id: member.user.id,
                name: &member.user.name,
                role: member.role,
                added_at: member.added_at,
            })
            .await?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == ROWS => after = Some((last.added_at, last.user.id)),
            _ => break,
        }
    }
    out.push(b"],\"states\":").await?;
    out.value(&states::list(tx, project_id).await?).await?;
    // The definitions the tasks' `fields` values are keyed by (API.md §18).
    out.push(b",\"fields\":").await?;
    out.value(&fields::list(tx, project_id).await?).await?;
    out.push(b",\"tasks\":[").await?;
    produce_tasks(tx, project_id, caller, out).await?;
    out.push(b"],\"activity\":[").await?;
    let mut before = None;
    let mut first = true;
    loop {
        let page = activity::for_project(tx, project_id, before, ROWS).await?;
        for entry in &page {
            out.push(if first { b"" } else { b"," }).await?;
            first = false;
            out.value(entry).await?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == ROWS => before = Some(last.id),
            _ => break,
        }
    }
    out.push(b"]}").await
}

/// The tasks in manual order, a page at a time, each with its comments.
async fn produce_tasks(tx: &Tx, project_id: Uuid, caller: Uuid, out: &mut Out) -> Result<(), Stop> {
    let sort = Sort {
        key: SortKey::Position,
        descending: false,
    };
    let mut after = None;
    let mut first = true;
    loop {
        let listed = task_list::list(
            tx,
            ListSpec {
                of: ListOf::Project(project_id),
                filters: Filters::default(),
                sort: sort.clone(),
                after,
                limit: PAGE,
                caller,
            },
        )
        .await
        .map_err(|error| match error {
            task_list::ListError::Db(error) => Stop::Db(error),
            task_list::ListError::CursorMismatch => unreachable!("no cursor is decoded here"),
        })?;
        // The list reads one row past the page.
        let mut tasks = listed.tasks;
        let more = tasks.len() as i64 > PAGE;
        tasks.truncate(PAGE as usize);
        let ids: Vec<Uuid> = tasks.iter().map(|t| t.id).collect();
        let all_comments = comments::of_tasks(tx, &ids).await?;
        let mut comments = all_comments.as_slice();
        for task in &tasks {
            let split = comments
                .iter()
                .position(|c| c.task_id != task.id)
                .unwrap_or(comments.len());
            let (own, rest) = comments.split_at(split);
            comments = rest;
            out.push(if first { b"" } else { b"," }).await?;
            first = false;
            out.value(&ExportedTask {
                task,
                comments: own,
            })
            .await?;
        }
        match tasks.last() {
            Some(last) if more => after = Some(sort.position_of(last, listed.position_epoch)),
            _ => return Ok(()),
        }
    }
}

fn json(value: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

/// `<project name>.docket.json`, kept to characters every file system and header takes.
fn download_name(project: &str) -> String {
    let name: String = project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let name = name.trim_matches('-');
    format!(
        "{}.docket.json",
        if name.is_empty() { "project" } else { name }
    )
}
