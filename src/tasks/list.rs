//! Task lists: filters, sorts and keyset pagination, for one project or across all of the
//! caller's projects. One query builder serves both endpoints.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::domain::{normalise_label, parse_date, Status};
use super::store::{Task, TASK_COLUMNS};
use crate::app::AppState;
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::pagination::{Page, PageQuery};
use crate::projects::access::{self, Action};

type P = crate::openapi::Problem;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// `me`, `none` or a user id.
    pub assignee: Option<String>,
    pub label: Option<String>,
    #[param(minimum = 0, maximum = 4)]
    pub priority_min: Option<String>,
    #[param(format = Date)]
    pub due_before: Option<String>,
    #[param(format = Date)]
    pub due_after: Option<String>,
    /// Full-text search (web-search syntax, English stemming).
    pub q: Option<String>,
    #[param(pattern = "^-?(created_at|updated_at|due_date|priority|position)$")]
    pub sort: Option<String>,
    /// Only on `GET /api/v1/tasks`.
    pub project_id: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    Position,
}

#[derive(Debug, Clone, Copy)]
struct Sort {
    key: SortKey,
    descending: bool,
}

impl Sort {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or("created_at");
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key =
            match name {
                "created_at" => SortKey::CreatedAt,
                "updated_at" => SortKey::UpdatedAt,
                "due_date" => SortKey::DueDate,
                "priority" => SortKey::Priority,
                "position" => SortKey::Position,
                _ => return Err(ApiError::bad_request(
                    "invalid_query",
                    "sort must be one of created_at, updated_at, due_date, priority, position, \
                     each optionally prefixed with -",
                )),
            };
        Ok(Sort { key, descending })
    }

    /// The SQL sort expression; due dates map null to ±infinity so that they sort last in
    /// both directions and the keyset comparison stays a plain row comparison.
    fn expression(&self) -> &'static str {
        match (self.key, self.descending) {
            (SortKey::CreatedAt, _) => "t.created_at",
            (SortKey::UpdatedAt, _) => "t.updated_at",
            (SortKey::Priority, _) => "t.priority",
            (SortKey::Position, _) => "t.position",
            (SortKey::DueDate, false) => "coalesce(t.due_date, 'infinity'::date)",
            (SortKey::DueDate, true) => "coalesce(t.due_date, '-infinity'::date)",
        }
    }
}

/// Where the previous page ended: the sort key's value and the id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Position {
    Time(DateTime<Utc>, Uuid),
    Priority(i16, Uuid),
    Date(Option<NaiveDate>, Uuid),
    Key(String, Uuid),
}

enum Assignee {
    Me,
    Nobody,
    User(Uuid),
}

struct Filters {
    statuses: Option<Vec<&'static str>>,
    assignee: Option<Assignee>,
    label: Option<String>,
    priority_min: Option<i16>,
    due_before: Option<NaiveDate>,
    due_after: Option<NaiveDate>,
    q: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

fn parse_filters(query: &TaskListQuery) -> Result<Filters, ApiError> {
    let statuses = query
        .status
        .as_deref()
        .map(|raw| {
            raw.split(',')
                .map(|s| {
                    Status::parse(s.trim()).map(Status::as_str).ok_or_else(|| {
                        invalid("status must be a comma-separated list of todo, in_progress, done, canceled")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let assignee = query
        .assignee
        .as_deref()
        .map(|raw| match raw {
            "me" => Ok(Assignee::Me),
            "none" => Ok(Assignee::Nobody),
            other => other
                .parse()
                .map(Assignee::User)
                .map_err(|_| invalid("assignee must be me, none or a user id")),
        })
        .transpose()?;
    let priority_min = query
        .priority_min
        .as_deref()
        .map(|raw| match raw.parse::<i16>() {
            Ok(n) if (0..=4).contains(&n) => Ok(n),
            _ => Err(invalid("priority_min must be a whole number from 0 to 4")),
        })
        .transpose()?;
    let date = |raw: &Option<String>, name: &str| {
        raw.as_deref()
            .map(|r| {
                parse_date(name, r)
                    .map_err(|_| invalid(format!("{name} must be a date like 2026-01-31")))
            })
            .transpose()
    };
    Ok(Filters {
        statuses,
        assignee,
        label: query.label.as_deref().map(normalise_label),
        priority_min,
        due_before: date(&query.due_before, "due_before")?,
        due_after: date(&query.due_after, "due_after")?,
        q: query.q.clone().filter(|q| !q.trim().is_empty()),
    })
}

/// The list a cursor belongs to: endpoint, project and every filter and sort, so that a
/// cursor used on another list is refused.
fn scope(endpoint: &str, query: &TaskListQuery) -> String {
    format!(
        "{endpoint}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        query.status,
        query.assignee,
        query.label,
        query.priority_min,
        query.due_before,
        query.due_after,
        query.q,
        query.sort,
        query.project_id
    )
}

/// Which tasks the list covers.
#[derive(Clone, Copy)]
enum ListOf {
    Project(Uuid),
    MemberOf(Uuid, Option<Uuid>),
}

async fn list(
    state: &AppState,
    principal: &Principal,
    of: ListOf,
    endpoint: &str,
    query: TaskListQuery,
) -> Result<Page<Task>, ApiError> {
    let page = PageQuery {
        limit: query.limit.clone(),
        cursor: query.cursor.clone(),
    };
    let limit = page.limit()?;
    let sort = Sort::parse(query.sort.as_deref())?;
    let filters = parse_filters(&query)?;
    let scope = scope(endpoint, &query);
    let after: Option<Position> = page
        .cursor
        .as_deref()
        .map(|c| state.cursor_key.decode(&scope, c))
        .transpose()?;

    let expression = sort.expression();
    let direction = if sort.descending { "DESC" } else { "ASC" };
    // Across projects, each project's own first page is taken through its sort index and the
    // pages are merged: the cost follows the number of projects, not of tasks. Label and text
    // filters use table-wide GIN indexes, which that shape would probe once per project, so
    // they keep the plain form.
    let merged =
        matches!(of, ListOf::MemberOf(..)) && filters.label.is_none() && filters.q.is_none();
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {TASK_COLUMNS} FROM "));
    match of {
        _ if merged => {
            sql.push(format!(
                "memberships m CROSS JOIN LATERAL (SELECT {TASK_COLUMNS} FROM tasks t \
                 WHERE t.project_id = m.project_id"
            ));
        }
        ListOf::Project(project_id) => {
            sql.push("tasks t WHERE t.project_id = ")
                .push_bind(project_id);
        }
        ListOf::MemberOf(user_id, project_id) => {
            sql.push(
                "tasks t WHERE t.project_id IN (SELECT project_id FROM memberships WHERE user_id = ",
            )
            .push_bind(user_id)
            .push(")");
            if let Some(project_id) = project_id {
                sql.push(" AND t.project_id = ").push_bind(project_id);
            }
        }
    }
    if let Some(statuses) = filters.statuses {
        sql.push(" AND t.status = ANY(")
            .push_bind(statuses)
            .push(")");
    }
    match filters.assignee {
        Some(Assignee::Me) => {
            sql.push(" AND t.assignee_id = ").push_bind(principal.id());
        }
        Some(Assignee::Nobody) => {
            sql.push(" AND t.assignee_id IS NULL");
        }
        Some(Assignee::User(id)) => {
            sql.push(" AND t.assignee_id = ").push_bind(id);
        }
        None => {}
    }
    if let Some(label) = filters.label {
        sql.push(" AND t.labels @> ARRAY[")
            .push_bind(label)
            .push("]::text[]");
    }
    if let Some(min) = filters.priority_min {
        sql.push(" AND t.priority >= ").push_bind(min);
    }
    // Due-date bounds are repeated on the sort key when sorting by due date, so that the
    // index scan starts and stops at the bounds (the plain comparison already excludes nulls).
    if let Some(before) = filters.due_before {
        sql.push(" AND t.due_date <= ").push_bind(before);
        if sort.key == SortKey::DueDate {
            sql.push(format!(" AND {expression} <= ")).push_bind(before);
        }
    }
    if let Some(after_date) = filters.due_after {
        sql.push(" AND t.due_date >= ").push_bind(after_date);
        if sort.key == SortKey::DueDate {
            sql.push(format!(" AND {expression} >= "))
                .push_bind(after_date);
        }
    }
    if let Some(q) = filters.q {
        sql.push(" AND t.search @@ websearch_to_tsquery('english', ")
            .push_bind(q)
            .push(")");
    }
    let comparison = if sort.descending { "<" } else { ">" };
    if let Some(position) = after {
        sql.push(format!(" AND ({expression}, t.id) {comparison} ("));
        match (sort.key, position) {
            (SortKey::CreatedAt | SortKey::UpdatedAt, Position::Time(at, id)) => {
                sql.push_bind(at).push(", ").push_bind(id);
            }
            (SortKey::Priority, Position::Priority(p, id)) => {
                sql.push_bind(p).push("::smallint, ").push_bind(id);
            }
            (SortKey::DueDate, Position::Date(date, id)) => {
                let infinity = if sort.descending {
                    "-infinity"
                } else {
                    "infinity"
                };
                sql.push("coalesce(")
                    .push_bind(date)
                    .push(format!("::date, '{infinity}'::date), "))
                    .push_bind(id);
            }
            (SortKey::Position, Position::Key(key, id)) => {
                sql.push_bind(key)
                    .push("::text COLLATE \"C\", ")
                    .push_bind(id);
            }
            _ => return Err(invalid("cursor is not valid for this list")),
        }
        sql.push(")");
    }
    sql.push(format!(
        " ORDER BY {expression} {direction}, t.id {direction} LIMIT "
    ))
    .push_bind(limit + 1);
    if let (true, ListOf::MemberOf(user_id, project_id)) = (merged, of) {
        sql.push(") t WHERE m.user_id = ").push_bind(user_id);
        if let Some(project_id) = project_id {
            sql.push(" AND m.project_id = ").push_bind(project_id);
        }
        sql.push(format!(
            " ORDER BY {expression} {direction}, t.id {direction} LIMIT "
        ))
        .push_bind(limit + 1);
    }

    let rows: Vec<Task> = sql.build_query_as().fetch_all(&state.pool).await?;
    let rows = rows.into_iter().map(Task::with_source).collect();
    Ok(Page::from_rows(rows, limit, |last| {
        let position = match sort.key {
            SortKey::CreatedAt => Position::Time(last.created_at, last.id),
            SortKey::UpdatedAt => Position::Time(last.updated_at, last.id),
            SortKey::Priority => Position::Priority(last.priority, last.id),
            SortKey::DueDate => Position::Date(last.due_date, last.id),
            SortKey::Position => Position::Key(last.position.clone(), last.id),
        };
        state.cursor_key.encode(&scope, &position)
    }))
}

/// The tasks of a project, filtered and sorted.
#[utoipa::path(get, path = "/api/v1/projects/{id}/tasks", tag = "tasks",
    params(("id" = Uuid, Path), TaskListQuery),
    responses((status = 200, body = Page<Task>),
        (status = 400, body = P, content_type = "application/problem+json"),
        (status = 401, body = P, content_type = "application/problem+json"),
        (status = 404, body = P, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_project_tasks(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Query(query): Query<TaskListQuery>,
) -> Result<axum::Json<Page<Task>>, ApiError> {
    access::authorize(&state.pool, &principal, project_id, Action::Read).await?;
    if query.project_id.is_some() {
        return Err(invalid("project_id is a filter of GET /api/v1/tasks only"));
    }
    let endpoint = format!("project-tasks:{project_id}");
    Ok(axum::Json(
        list(
            &state,
            &principal,
            ListOf::Project(project_id),
            &endpoint,
            query,
        )
        .await?,
    ))
}

/// Tasks across every project the caller is a member of.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    params(TaskListQuery),
    responses((status = 200, body = Page<Task>),
        (status = 400, body = P, content_type = "application/problem+json"),
        (status = 401, body = P, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_my_tasks(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<TaskListQuery>,
) -> Result<axum::Json<Page<Task>>, ApiError> {
    let project_id = query
        .project_id
        .as_deref()
        .map(|raw| {
            raw.parse::<Uuid>()
                .map_err(|_| invalid("project_id must be a project id"))
        })
        .transpose()?;
    let endpoint = format!("tasks:{}", principal.id());
    Ok(axum::Json(
        list(
            &state,
            &principal,
            ListOf::MemberOf(principal.id(), project_id),
            &endpoint,
            query,
        )
        .await?,
    ))
}
