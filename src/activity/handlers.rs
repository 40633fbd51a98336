//! Reading the history: a task's and a project's, newest first.

use axum::extract::State;
use uuid::Uuid;

use super::{store, Entry};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::pagination::{CursorScope, Page, PageQuery};
use crate::projects::access::{self, Action};

fn page_of(
    state: &AppState,
    scope: &CursorScope,
    rows: Vec<Entry>,
    limit: i64,
) -> axum::Json<Page<Entry>> {
    axum::Json(Page::from_rows(rows, limit, |last| {
        state.cursor_key.encode(scope, &last.id)
    }))
}

/// A task's history, newest first (any member): the entries of the projects the caller is a
/// member of (a task moved in from another project shows its arrival, not its past there).
#[utoipa::path(get, path = "/api/v1/tasks/{id}/activity", tag = "activity",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Entry>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn task_activity(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Entry>>, ApiError> {
    access::enter_task(&state.db.reads(), &principal, id, Action::Read, false).await?;
    let limit = page.limit()?;
    let scope = CursorScope::TaskActivity { task: id };
    let before = page.position(&state.cursor_key, &scope)?;
    let rows = store::for_task(&state.db, id, principal.id(), before, limit + 1).await?;
    Ok(page_of(&state, &scope, rows, limit))
}

/// A project's history, newest first, deleted tasks' entries included (any member).
#[utoipa::path(get, path = "/api/v1/projects/{id}/activity", tag = "activity",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Entry>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn project_activity(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Entry>>, ApiError> {
    access::authorize(&state.db.reads(), &principal, id, Action::Read).await?;
    let limit = page.limit()?;
    let scope = CursorScope::ProjectActivity { project: id };
    let before = page.position(&state.cursor_key, &scope)?;
    let rows = store::for_project(&state.db, id, before, limit + 1).await?;
    Ok(page_of(&state, &scope, rows, limit))
}
