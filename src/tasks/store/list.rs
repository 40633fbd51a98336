//! The task lists' statement: filters, sorts and keyset pagination, for one project or across
//! all of a member's projects, assembled at run time (one builder serves both endpoints).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Task, TASK_COLUMNS};
use crate::db::{DbError, Exec, QueryBuilder};
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

    /// Where a page that ends with `task` ends.
    pub fn position_of(&self, task: &Task) -> Position {
        match self.key {
            SortKey::CreatedAt => Position::Time(task.created_at, task.id),
            SortKey::UpdatedAt => Position::Time(task.updated_at, task.id),
            SortKey::Priority => Position::Priority(task.priority, task.id),
            SortKey::DueDate => Position::Date(task.due_date, task.id),
            SortKey::Position => Position::Key(task.position.clone(), task.id),
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
}

/// Which tasks the list covers.
#[derive(Clone, Copy)]
pub enum ListOf {
    /// One project (the caller entered it).
    Project(Uuid),
    /// Every project this user is a member of, or one of them.
    MemberOf(Uuid, Option<Uuid>),
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
pub async fn list(db: &impl Exec, spec: ListSpec) -> Result<Vec<Task>, ListError> {
    let expression = spec.sort.expression();
    let direction = if spec.sort.descending { "DESC" } else { "ASC" };
    // Across projects, each project's own first page is taken through its sort index and the
    // pages are merged: the cost follows the number of projects, not of tasks. Label and text
    // filters use table-wide GIN indexes, which that shape would probe once per project, so
    // they keep the plain form.
    let merged = matches!(spec.of, ListOf::MemberOf(..))
        && spec.filters.label.is_none()
        && spec.filters.q.is_none();
    let mut sql = QueryBuilder::new(format!("SELECT {TASK_COLUMNS} FROM "));
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
    if let Some(statuses) = spec.filters.statuses {
        sql.push(" AND t.status = ANY(").bind(statuses).push(")");
    }
    if let Some(states) = spec.filters.states {
        sql.push(" AND t.state_id = ANY(").bind(states).push(")");
    }
    match spec.filters.parent {
        Some(Parent::None) => {
            sql.push(" AND t.parent_id IS NULL");
        }
        Some(Parent::Task(parent)) => {
            sql.push(" AND t.parent_id = ").bind(parent);
        }
        None => {}
    }
    match spec.filters.assignee {
        Some(Assignee::Me) => {
            sql.push(" AND t.assignee_id = ").bind(spec.caller);
        }
        Some(Assignee::Nobody) => {
            sql.push(" AND t.assignee_id IS NULL");
        }
        Some(Assignee::User(id)) => {
            sql.push(" AND t.assignee_id = ").bind(id);
        }
        None => {}
    }
    if let Some(label) = spec.filters.label {
        sql.push(" AND t.labels @> ARRAY[")
            .bind(label)
            .push("]::text[]");
    }
    if let Some(min) = spec.filters.priority_min {
        sql.push(" AND t.priority >= ").bind(min);
    }
    // Due-date bounds are repeated on the sort key when sorting by due date, so that the
    // index scan starts and stops at the bounds (the plain comparison already excludes nulls).
    if let Some(before) = spec.filters.due_before {
        sql.push(" AND t.due_date <= ").bind(before);
        if spec.sort.key == SortKey::DueDate {
            sql.push(&format!(" AND {expression} <= ")).bind(before);
        }
    }
    if let Some(after_date) = spec.filters.due_after {
        sql.push(" AND t.due_date >= ").bind(after_date);
        if spec.sort.key == SortKey::DueDate {
            sql.push(&format!(" AND {expression} >= ")).bind(after_date);
        }
    }
    if let Some(q) = spec.filters.q {
        sql.push(" AND t.search @@ websearch_to_tsquery('english', ")
            .bind(q)
            .push(")");
    }
    let comparison = if spec.sort.descending { "<" } else { ">" };
    if let Some(position) = spec.after {
        sql.push(&format!(" AND ({expression}, t.id) {comparison} ("));
        match (spec.sort.key, position) {
            (SortKey::CreatedAt | SortKey::UpdatedAt, Position::Time(at, id)) => {
                sql.bind(at).push(", ").bind(id);
            }
            (SortKey::Priority, Position::Priority(p, id)) => {
                sql.bind(p).push("::smallint, ").bind(id);
            }
            (SortKey::DueDate, Position::Date(date, id)) => {
                let infinity = if spec.sort.descending {
                    "-infinity"
                } else {
                    "infinity"
                };
                sql.push("coalesce(")
                    .bind(date)
                    .push(&format!("::date, '{infinity}'::date), "))
                    .bind(id);
            }
            (SortKey::Position, Position::Key(key, id)) => {
                sql.bind(key).push("::text COLLATE \"C\", ").bind(id);
            }
            _ => return Err(ListError::CursorMismatch),
        }
        sql.push(")");
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

    Ok(db.fetch_all(sql.sql(), &sql.params()).await?)
}
