//! The task lists' statement: filters, sorts and keyset pagination, for one project or across
//! all of a member's projects, assembled at run time (one builder serves both endpoints).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Task, TASK_COLUMNS};
use crate::db::{get, Columns, DbError, Exec, FromRow, QueryBuilder};
use crate::tasks::domain::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    /// The manual order (`position`, compared byte by byte).
    Position,
}

#[derive(Debug, Clone, Copy)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
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

    /// Where a page that ends with `task` ends (`position_epoch`: the page's, see `Listed`).
    pub fn position_of(&self, task: &Task, position_epoch: Option<i64>) -> Position {
        match (self.key, position_epoch) {
            (SortKey::CreatedAt, _) => Position::Time(task.created_at, task.id),
            (SortKey::UpdatedAt, _) => Position::Time(task.updated_at, task.id),
            (SortKey::Priority, _) => Position::Priority(task.priority, task.id),
            (SortKey::DueDate, _) => Position::Date(task.due_date, task.id),
            (SortKey::Position, Some(epoch)) => {
                Position::KeyIn(task.position.clone(), task.id, epoch)
            }
            (SortKey::Position, None) => Position::Key(task.position.clone(), task.id),
        }
    }
}

/// Where the previous page ended: the sort key's value and the id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Position {
    Time(DateTime<Utc>, Uuid),
    Priority(i16, Uuid),
    Date(Option<NaiveDate>, Uuid),
    /// The manual order of one project: the key, the id, and how many times the project's
    /// keys had been renumbered when the page was read (see `key_boundary`).
    KeyIn(String, Uuid, i64),
    /// The manual order across projects (and cursors from before renumbering existed).
    Key(String, Uuid),
}

/// The `parent` filter: top-level tasks, or one task's subtasks.
pub enum Parent {
    None,
    Task(Uuid),
}

pub enum Assignee {
    Me,
    Nobody,
    User(Uuid),
}

#[derive(Default)]
pub struct Filters {
    pub statuses: Option<Vec<Status>>,
    pub states: Option<Vec<Uuid>>,
    pub parent: Option<Parent>,
    pub assignee: Option<Assignee>,
    pub label: Option<String>,
    pub priority_min: Option<i16>,
    pub due_before: Option<NaiveDate>,
    pub due_after: Option<NaiveDate>,
    pub q: Option<String>,
    /// A task number (`tasks_project_number` answers it per project).
    pub number: Option<i64>,
}

/// Which tasks the list covers.
#[derive(Clone, Copy)]
pub enum ListOf {
    /// One project (the caller entered it).
    Project(Uuid),
    /// Every project this user is a member of, or one of them.
    MemberOf(Uuid, Option<Uuid>),
}

impl ListOf {
    /// The one project the list covers, if it covers one.
    fn one_project(self) -> Option<Uuid> {
        match self {
            ListOf::Project(project) | ListOf::MemberOf(_, Some(project)) => Some(project),
            ListOf::MemberOf(_, None) => None,
        }
    }
}

/// A page of tasks (plus one row past it, when there is one).
pub struct Listed {
    pub tasks: Vec<Task>,
    /// For the manual order of one project: its renumbering epoch as this page read it.
    pub position_epoch: Option<i64>,
}

pub struct ListSpec {
    pub of: ListOf,
    pub filters: Filters,
    pub sort: Sort,
    pub after: Option<Position>,
    /// The page size; one more row is read to tell whether a next page exists.
    pub limit: i64,
    /// Who asks (for `assignee=me`).
    pub caller: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the cursor belongs to another sort")]
    CursorMismatch,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// One page of tasks (plus one row past it, when there is one).
pub async fn list(db: &impl Exec, spec: ListSpec) -> Result<Listed, ListError> {
    let expression = spec.sort.expression();
    // The manual order of one project: the page reads the project's renumbering epoch in the
    // same statement (the same snapshot) as its rows, for the next cursor.
    let renumbered = match spec.sort.key {
        SortKey::Position => spec.of.one_project(),
        _ => None,
    };
    let direction = if spec.sort.descending { "DESC" } else { "ASC" };
    // Across projects, each project's own first page is taken through its sort index and the
    // pages are merged: the cost follows the number of projects, not of tasks. Label and text
    // filters use table-wide GIN indexes, which that shape would probe once per project, so
    // they keep the plain form.
    let merged = matches!(spec.of, ListOf::MemberOf(..))
        && spec.filters.label.is_none()
        && spec.filters.q.is_none();
    let mut sql = QueryBuilder::new(format!("SELECT {TASK_COLUMNS}"));
    if let Some(project) = renumbered {
        sql.push(", (SELECT position_epoch FROM projects WHERE id = ")
            .bind(project)
            .push(") AS position_epoch");
    }
    sql.push(" FROM ");
    match spec.of {
        _ if merged => {
            sql.push(&format!(
                "memberships m CROSS JOIN LATERAL (SELECT {TASK_COLUMNS} FROM tasks t \
                 WHERE t.project_id = m.project_id"
            ));
        }
        ListOf::Project(project_id) => {
            sql.push("tasks t WHERE t.project_id = ").bind(project_id);
        }
        ListOf::MemberOf(user_id, project_id) => {
            sql.push(
                "tasks t WHERE t.project_id IN (SELECT project_id FROM memberships WHERE user_id = ",
            )
            .bind(user_id)
            .push(")");
            if let Some(project_id) = project_id {
                sql.push(" AND t.project_id = ").bind(project_id);
            }
        }
    }
    push_filters(&mut sql, &spec.filters, spec.caller);
    // Due-date bounds are repeated on the sort key when sorting by due date, so that the
    // index scan starts and stops at the bounds (the plain comparison already excludes nulls).
    if spec.sort.key == SortKey::DueDate {
        if let Some(before) = spec.filters.due_before {
            sql.push(&format!(" AND {expression} <= ")).bind(before);
        }
        if let Some(after_date) = spec.filters.due_after {
            sql.push(&format!(" AND {expression} >= ")).bind(after_date);
        }
    }
    let comparison = if spec.sort.descending { "<" } else { ">" };
    if let Some(position) = spec.after {
        sql.push(&format!(" AND ({expression}, t.id) {comparison} "));
        if let (Some(project), Position::KeyIn(key, id, epoch)) = (renumbered, &position) {
            key_boundary(&mut sql, project, key, *id, *epoch, spec.sort.descending);
        } else {
            row_boundary(&mut sql, &spec.sort, position)?;
        }
    }
    sql.push(&format!(
        " ORDER BY {expression} {direction}, t.id {direction} LIMIT "
    ))
    .bind(spec.limit + 1);
    if let (true, ListOf::MemberOf(user_id, project_id)) = (merged, spec.of) {
        sql.push(") t WHERE m.user_id = ").bind(user_id);
        if let Some(project_id) = project_id {
            sql.push(" AND m.project_id = ").bind(project_id);
        }
        sql.push(&format!(
            " ORDER BY {expression} {direction}, t.id {direction} LIMIT "
        ))
        .bind(spec.limit + 1);
    }

    let rows = db.query(sql.sql(), &sql.params()).await?;
    let position_epoch = match (renumbered, rows.first()) {
        (Some(_), Some(row)) => Some(get(row, "position_epoch")?),
        _ => None,
    };
    let tasks = rows.iter().map(Task::from_row).collect::<Result<_, _>>()?;
    Ok(Listed {
        tasks,
        position_epoch,
    })
}

/// The previous page's last row, as its sort key's value and id.
fn row_boundary(sql: &mut QueryBuilder, sort: &Sort, position: Position) -> Result<(), ListError> {
    sql.push("(");
    match (sort.key, position) {
        (SortKey::CreatedAt | SortKey::UpdatedAt, Position::Time(at, id)) => {
            sql.bind(at).push(", ").bind(id);
        }
        (SortKey::Priority, Position::Priority(p, id)) => {
            sql.bind(p).push("::smallint, ").bind(id);
        }
        (SortKey::DueDate, Position::Date(date, id)) => {
            let infinity = if sort.descending {
                "-infinity"
            } else {
                "infinity"
            };
            sql.push("coalesce(")
                .bind(date)
                .push(&format!("::date, '{infinity}'::date), "))
                .bind(id);
        }
        (SortKey::Position, Position::Key(key, id) | Position::KeyIn(key, id, _)) => {
            sql.bind(key).push("::text COLLATE \"C\", ").bind(id);
        }
        _ => return Err(ListError::CursorMismatch),
    }
    sql.push(")");
    Ok(())
}

/// Where a page of one project's manual order continues (API.md §9: a page boundary survives a
/// renumbering, no row repeated or skipped). Keys change when the project is renumbered, so a
/// cursor carries the project's renumbering epoch, and the boundary is, in one statement:
/// - the same epoch: the cursor's key and id;
/// - one renumbering later: the current key of the last task that was at or before the
///   boundary then and has not been placed since. A task's key then was `previous_position`
///   if that renumbering changed it (`previous_epoch` is its number), else its key now; a task
///   placed since (moved, created, moved in) has `previous_epoch` now and no previous key, and
///   takes no part. No such task: the start;
/// - more than one: the boundary task's current key if it is still there, else the start.
fn key_boundary(
    sql: &mut QueryBuilder,
    project: Uuid,
    key: &str,
    id: Uuid,
    epoch: i64,
    descending: bool,
) {
    let (reached, toward, start_key, start_id) = if descending {
        (">=", "ASC", "~", Uuid::max())
    } else {
        ("<=", "DESC", "", Uuid::nil())
    };
    let current_epoch = |sql: &mut QueryBuilder| {
        sql.push("(SELECT position_epoch FROM projects WHERE id = ")
            .bind(project)
            .push(")");
    };
    // The same epoch.
    sql.push("(SELECT b.position, b.id FROM (SELECT ")
        .bind(key.to_owned())
        .push("::text COLLATE \"C\" AS position, ")
        .bind(id)
        .push("::uuid AS id, 0 AS rank WHERE ");
    current_epoch(sql);
    sql.push(" = ").bind(epoch);
    // One renumbering later: each task's key then (`was.key`), unless it was placed since.
    sql.push(
        " UNION ALL (SELECT r.position, r.id, 1 FROM tasks r \
         CROSS JOIN LATERAL (SELECT CASE WHEN r.previous_epoch = ",
    )
    .bind(epoch)
    .push(" + 1 THEN r.previous_position ELSE r.position END AS key) was WHERE r.project_id = ")
    .bind(project)
    .push(" AND ");
    current_epoch(sql);
    sql.push(" = ")
        .bind(epoch)
        .push(" + 1 AND (r.previous_epoch IS DISTINCT FROM ")
        .bind(epoch)
        .push(" + 1 OR r.previous_position IS NOT NULL)")
        .push(&format!(" AND (was.key, r.id) {reached} ("))
        .bind(key.to_owned())
        .push("::text COLLATE \"C\", ")
        .bind(id)
        .push(&format!(
            ") ORDER BY was.key {toward}, r.id {toward} LIMIT 1)"
        ));
    // Later still: the boundary task where it is now.
    sql.push(" UNION ALL SELECT r.position, r.id, 2 FROM tasks r WHERE r.id = ")
        .bind(id)
        .push(" AND r.project_id = ")
        .bind(project)
        .push(" AND ");
    current_epoch(sql);
    sql.push(" > ").bind(epoch).push(" + 1");
    // Else the start.
    sql.push(&format!(
        " UNION ALL SELECT '{start_key}' COLLATE \"C\", '{start_id}'::uuid, 3) b \
         ORDER BY b.rank LIMIT 1)"
    ));
}

/// The filters of a list as `AND` conditions on `t`, shared by the lists and their counts so
/// that a count is always the count of exactly the list.
fn push_filters(sql: &mut QueryBuilder, filters: &Filters, caller: Uuid) {
    if let Some(statuses) = &filters.statuses {
        sql.push(" AND t.status = ANY(")
            .bind(statuses.clone())
            .push(")");
    }
    if let Some(states) = &filters.states {
        sql.push(" AND t.state_id = ANY(")
            .bind(states.clone())
            .push(")");
    }
    match filters.parent {
        Some(Parent::None) => {
            sql.push(" AND t.parent_id IS NULL");
        }
        Some(Parent::Task(parent)) => {
            sql.push(" AND t.parent_id = ").bind(parent);
        }
        None => {}
    }
    match filters.assignee {
        Some(Assignee::Me) => {
            sql.push(" AND t.assignee_id = ").bind(caller);
        }
        Some(Assignee::Nobody) => {
            sql.push(" AND t.assignee_id IS NULL");
        }
        Some(Assignee::User(id)) => {
            sql.push(" AND t.assignee_id = ").bind(id);
        }
        None => {}
    }
    if let Some(label) = &filters.label {
        sql.push(" AND t.labels @> ARRAY[")
            .bind(label.clone())
            .push("]::text[]");
    }
    if let Some(min) = filters.priority_min {
        sql.push(" AND t.priority >= ").bind(min);
    }
    if let Some(before) = filters.due_before {
        sql.push(" AND t.due_date <= ").bind(before);
    }
    if let Some(after_date) = filters.due_after {
        sql.push(" AND t.due_date >= ").bind(after_date);
    }
    if let Some(q) = &filters.q {
        sql.push(" AND t.search @@ websearch_to_tsquery('english', ")
            .bind(q.clone())
            .push(")");
    }
    if let Some(number) = filters.number {
        sql.push(" AND t.number = ").bind(number);
    }
}

/// What the tasks of a count are grouped by: the status, or the project's workflow state
/// (API.md §17; a board's columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountGroup {
    Status,
    State,
}

/// How many of a project's tasks pass `filters`, per group (groups without tasks are left
/// out). Served by `tasks_project_status` (project, status, with the plain filters'
/// columns included), an index-only scan unless a label or text filter needs its GIN index.
pub async fn count(
    db: &impl Exec,
    project_id: Uuid,
    filters: &Filters,
    group: CountGroup,
    caller: Uuid,
) -> Result<Vec<(String, i64)>, DbError> {
    let column = match group {
        CountGroup::Status => "t.status",
        CountGroup::State => "t.state_id::text",
    };
    let mut sql = QueryBuilder::new(format!(
        "SELECT {column} AS key, count(*) AS n FROM tasks t WHERE t.project_id = "
    ));
    sql.bind(project_id);
    push_filters(&mut sql, filters, caller);
    sql.push(&format!(" GROUP BY {column}"));
    let rows = db.query(sql.sql(), &sql.params()).await?;
    rows.iter()
        .map(|row| {
            let mut c = Columns::new(row);
            Ok((c.get("key")?, c.get("n")?))
        })
        .collect()
}
