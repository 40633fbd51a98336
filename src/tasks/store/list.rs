//! The task lists' statement: filters, sorts and keyset pagination, for one project or across
//! all of a member's projects, assembled at run time (one builder serves both endpoints).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Task, TASK_COLUMNS};
use crate::db::{get, Columns, DbError, Exec, FromRow, QueryBuilder};
use crate::fields::FieldKind;
use crate::tasks::domain::Status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    /// The manual order (`position`, compared byte by byte).
    Position,
    /// A custom field's value (API.md §18).
    Field(FieldSort),
}

/// A sort by a custom field: its id, kind and (select kinds) option ids in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSort {
    pub id: Uuid,
    pub kind: FieldKind,
    pub options: Vec<Uuid>,
}

impl FieldSort {
    /// The value as the sort compares it, with a constant for "no value" (the flag before it
    /// puts those last): so that a row comparison never meets a null.
    fn expression(&self) -> String {
        let value = format!("(t.fields ->> '{}')", self.id);
        let options = || {
            let ids: Vec<String> = self.options.iter().map(|o| format!("'{o}'")).collect();
            format!("ARRAY[{}]::text[]", ids.join(","))
        };
        match self.kind {
            // Read from the sort keys' index (`keyed`).
            FieldKind::Number | FieldKind::Date => "k.num".to_owned(),
            FieldKind::Checkbox => format!("coalesce({value}::boolean, false)"),
            FieldKind::Text | FieldKind::Url | FieldKind::User => {
                format!("coalesce({value}, '') COLLATE \"C\"")
            }
            FieldKind::Select => format!("coalesce(array_position({}, {value}), 0)", options()),
            FieldKind::MultiSelect => format!(
                "coalesce(array_position({}, t.fields -> '{}' ->> 0), 0)",
                options(),
                self.id
            ),
        }
    }

    /// Number and date fields have sort keys kept in `task_field_keys` (joined as `k`), whose
    /// indexes give the order; the other kinds sort by an expression over `tasks.fields`.
    fn keyed(&self) -> bool {
        matches!(self.kind, FieldKind::Number | FieldKind::Date)
    }

    /// The "no value" flag: true sorts last ascending, false last descending.
    fn missing(&self, descending: bool) -> String {
        match (self.keyed(), descending) {
            (true, false) => "k.missing".to_owned(),
            (true, true) => "(NOT k.missing)".to_owned(),
            (false, false) => format!("(t.fields -> '{}') IS NULL", self.id),
            (false, true) => format!("(t.fields -> '{}') IS NOT NULL", self.id),
        }
    }

    /// The type the cursor's text is read as.
    fn cast(&self) -> &'static str {
        match self.kind {
            FieldKind::Number | FieldKind::Date => "::text::numeric",
            FieldKind::Checkbox => "::text::boolean",
            FieldKind::Text | FieldKind::Url | FieldKind::User => "::text COLLATE \"C\"",
            FieldKind::Select | FieldKind::MultiSelect => "::text::int4",
        }
    }

    /// Whether the task has no value, and the value as `expression` computes it, as text.
    fn value_of(&self, task: &Task) -> (bool, String) {
        let Some(value) = task.fields.get(&self.id.to_string()) else {
            let none = match self.kind {
                FieldKind::Checkbox => "false",
                FieldKind::Text | FieldKind::Url | FieldKind::User => "",
                _ => "0",
            };
            return (true, none.to_owned());
        };
        let position = |id: Option<&str>| -> String {
            id.and_then(|id| self.options.iter().position(|o| o.to_string() == id))
                .map_or(0, |i| i + 1)
                .to_string()
        };
        let text = match (self.kind, value) {
            (FieldKind::Date, value) => value
                .as_str()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map_or(0, |d| (d - chrono::NaiveDate::default()).num_days())
                .to_string(),
            (FieldKind::Select, value) => position(value.as_str()),
            (FieldKind::MultiSelect, value) => position(value.get(0).and_then(|v| v.as_str())),
            (_, serde_json::Value::String(text)) => text.clone(),
            (_, other) => other.to_string(),
        };
        (false, text)
    }
}

#[derive(Debug, Clone)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// The SQL sort expression; due dates map null to ±infinity so that they sort last in
    /// both directions and the keyset comparison stays a plain row comparison. A field's value
    /// is preceded by a flag that puts tasks without one last in both directions.
    fn expression(&self) -> String {
        match (&self.key, self.descending) {
            (SortKey::CreatedAt, _) => "t.created_at".to_owned(),
            (SortKey::UpdatedAt, _) => "t.updated_at".to_owned(),
            (SortKey::Priority, _) => "t.priority".to_owned(),
            (SortKey::Position, _) => "t.position".to_owned(),
            (SortKey::DueDate, false) => "coalesce(t.due_date, 'infinity'::date)".to_owned(),
            (SortKey::DueDate, true) => "coalesce(t.due_date, '-infinity'::date)".to_owned(),
            (SortKey::Field(field), descending) => {
                format!("{}, {}", field.missing(descending), field.expression())
            }
        }
    }

    /// The id column that ends the order: the sort keys' own for a keyed field, so that the
    /// keyset comparison is one row comparison of its index.
    fn id_column(&self) -> &'static str {
        match &self.key {
            SortKey::Field(field) if field.keyed() => "k.task_id",
            _ => "t.id",
        }
    }

    /// The ORDER BY terms (before the id), each in `direction`.
    fn ordering(&self, direction: &str) -> String {
        match &self.key {
            SortKey::Field(field) => format!(
                "{} {direction}, {} {direction}",
                field.missing(self.descending),
                field.expression()
            ),
            _ => format!("{} {direction}", self.expression()),
        }
    }

    /// Where a page that ends with `task` ends (`position_epoch`: the page's, see `Listed`).
    pub fn position_of(&self, task: &Task, position_epoch: Option<i64>) -> Position {
        if let SortKey::Field(field) = &self.key {
            let (missing, value) = field.value_of(task);
            let flag = if self.descending { !missing } else { missing };
            return Position::Field(flag, value, task.id);
        }
        match (&self.key, position_epoch) {
            (SortKey::Field(_), _) => unreachable!("handled above"),
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
    /// A custom field: the "no value" flag, the value as text, the id.
    Field(bool, String, Uuid),
}

/// A filter on a custom field's value (API.md §18).
#[derive(Debug, Clone)]
pub enum FieldFilter {
    /// `fields @> {field: value}`, which the GIN index on `fields` answers: equality of a
    /// select, user, checkbox, number or date, and "has this option" of a multi_select (the
    /// value a one-element list).
    Contains(serde_json::Value),
    /// A text or URL holding this text, case-insensitively.
    Substring(Uuid, String),
    /// A number or date at least (`min`) or at most this (inclusive).
    Bound {
        id: Uuid,
        kind: FieldKind,
        min: bool,
        value: String,
    },
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
    /// Custom field filters (of the one project listed).
    pub fields: Vec<FieldFilter>,
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
        && spec.filters.q.is_none()
        && !matches!(spec.sort.key, SortKey::Field(_));
    // A sort by a number or date field walks its sort keys' index and joins the tasks.
    let tasks = match &spec.sort.key {
        SortKey::Field(field) if field.keyed() => format!(
            "tasks t JOIN task_field_keys k ON k.task_id = t.id AND k.field_id = '{}'",
            field.id
        ),
        _ => "tasks t".to_owned(),
    };
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
            sql.push(&format!("{tasks} WHERE t.project_id = "))
                .bind(project_id);
        }
        ListOf::MemberOf(user_id, project_id) => {
            sql.push(&format!(
                "{tasks} WHERE t.project_id IN (SELECT project_id FROM memberships WHERE user_id = "
            ))
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
        let id = spec.sort.id_column();
        sql.push(&format!(" AND ({expression}, {id}) {comparison} "));
        if let (Some(project), Position::KeyIn(key, id, epoch)) = (renumbered, &position) {
            key_boundary(&mut sql, project, key, *id, *epoch, spec.sort.descending);
        } else {
            row_boundary(&mut sql, &spec.sort, position)?;
        }
    }
    let (ordering, id) = (spec.sort.ordering(direction), spec.sort.id_column());
    let fetch = fetch_limit(spec.limit);
    sql.push(&format!(
        " ORDER BY {ordering}, {id} {direction} LIMIT {fetch}"
    ));
    if let (true, ListOf::MemberOf(user_id, project_id)) = (merged, spec.of) {
        sql.push(") t WHERE m.user_id = ").bind(user_id);
        if let Some(project_id) = project_id {
            sql.push(" AND m.project_id = ").bind(project_id);
        }
        sql.push(&format!(
            " ORDER BY {ordering}, t.id {direction} LIMIT {fetch}"
        ));
    }

    let mut rows = db.query(sql.sql(), &sql.params()).await?;
    rows.truncate(spec.limit as usize + 1);
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

/// The `LIMIT` a page's statement reads: the page and one row past it, rounded up to one of a
/// few sizes and written into the SQL, not bound. With a bound `LIMIT` PostgreSQL prices the
/// prepared statement's generic plan for a tenth of the table, so it plans the statement
/// anew at every execution (a third of the database's time on a list read); with a literal
/// one the generic plan wins and is kept. The few sizes keep the statements a connection
/// prepares to a handful per list shape (the page size is the caller's choice).
fn fetch_limit(limit: i64) -> i64 {
    [11, 21, 51, 101]
        .into_iter()
        .find(|size| *size > limit)
        .unwrap_or(limit + 1)
}

/// The previous page's last row, as its sort key's value and id.
fn row_boundary(sql: &mut QueryBuilder, sort: &Sort, position: Position) -> Result<(), ListError> {
    sql.push("(");
    match (&sort.key, position) {
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
        (SortKey::Field(field), Position::Field(flag, value, id)) => {
            sql.bind(flag)
                .push(", ")
                .bind(value)
                .push(&format!("{}, ", field.cast()))
                .bind(id);
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
    for filter in &filters.fields {
        match filter {
            FieldFilter::Contains(value) => {
                sql.push(" AND t.fields @> ").bind(value.clone());
            }
            FieldFilter::Substring(id, text) => {
                let pattern = format!(
                    "%{}%",
                    text.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                sql.push(&format!(" AND (t.fields ->> '{id}') ILIKE "))
                    .bind(pattern);
            }
            FieldFilter::Bound {
                id,
                kind,
                min,
                value,
            } => {
                let (cast, op) = (
                    if *kind == FieldKind::Number {
                        "numeric"
                    } else {
                        "date"
                    },
                    if *min { ">=" } else { "<=" },
                );
                sql.push(&format!(" AND (t.fields ->> '{id}')::{cast} {op} "))
                    .bind(value.clone())
                    .push(&format!("::text::{cast}"));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::fetch_limit;

    #[test]
    fn a_page_reads_one_row_past_itself_in_a_few_statement_sizes() {
        for limit in 1..=500 {
            let fetch = fetch_limit(limit);
            assert!(fetch > limit, "{limit} reads {fetch}");
            assert!(
                fetch <= ((limit + 1) * 5 / 2).max(11),
                "{limit} reads {fetch}"
            );
        }
        let sizes: std::collections::BTreeSet<i64> = (1..=crate::pagination::MAX_LIMIT)
            .map(fetch_limit)
            .collect();
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), [11, 21, 51, 101]);
        assert_eq!(fetch_limit(500), 501);
    }
}
