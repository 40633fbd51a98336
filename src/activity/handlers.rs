//! Reading the history: a task's and a project's, newest first.

use axum::extract::State;
use uuid::Uuid;

use super::{journal, store, Entry};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::pagination::{CursorKey, CursorScope, Page, PageQuery};
use crate::projects::access::Action;
use crate::projects::guard;

fn page_of(
    cursor_key: &CursorKey,
    scope: &CursorScope,
    rows: Vec<Entry>,
    limit: i64,
) -> axum::Json<Page<Entry>> {
    axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(scope, &last.id)
    }))
}

/// A task's history, newest first (any member): the entries of the projects the caller is a
/// member of (a task moved in from another project shows its arrival, not its past there).
#[utoipa::path(get, path = "/api/v1/tasks/{id}/activity", tag = "activity",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Entry>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn task_activity(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Entry>>, ApiError> {
    guard::enter_task(&db.reads(), &principal, id, Action::Read).await?;
    let limit = page.limit()?;
    let scope = CursorScope::TaskActivity { task: id };
    let before = page.position(&cursor_key, &scope)?;
    // Every change committed before this request is in the page (read-your-writes).
    journal::settle(&db).await?;
    let rows = store::for_task(&db, id, principal.id(), before, limit + 1).await?;
    Ok(page_of(&cursor_key, &scope, rows, limit))
}

/// A project's history, newest first, deleted tasks' entries included (any member).
#[utoipa::path(get, path = "/api/v1/projects/{id}/activity", tag = "activity",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Entry>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn project_activity(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Entry>>, ApiError> {
    guard::authorize(&db.reads(), &principal, id, Action::Read).await?;
    let limit = page.limit()?;
    let scope = CursorScope::ProjectActivity { project: id };
    let before = page.position(&cursor_key, &scope)?;
    journal::settle(&db).await?;
    let rows = store::for_project(&db, id, before, limit + 1).await?;
    Ok(page_of(&cursor_key, &scope, rows, limit))
}
