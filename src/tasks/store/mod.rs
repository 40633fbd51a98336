//! The tasks table and the relations between tasks: every statement that reads or writes
//! them (the GitHub import's in `imports`, the lists' in `list`, the task trees' in `tree`,
//! relations in `relations`, what a task's opening or closing does to the tasks it blocks in
//! `blockers`, the moves a state's deletion makes in `workflow`).
//!
//! The counters a task is read with (`subtasks`, `blocked`) and the rule that `status` is its
//! state's category are kept by the database's triggers (migrations/V20261220000001), for
//! every writer; this module writes the history and the notifications that go with them.

pub mod blockers;
pub mod calendar;
pub mod copies;
pub mod field_values;
pub mod imports;
pub mod list;
pub mod recur;
pub mod relations;
pub mod reminders;
pub mod tree;
pub mod workflow;

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use serde_json::Value;

use super::domain::{serialize_hhmm, Recurrence, Status};
use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, Columns, DbError, DbResult, Exec, FromRow, Row, Tx};
use crate::fields::values::{Carry, Values};
use crate::notifications::{self, Notify};
use crate::params;
use crate::projects::access::{ProjectAccess, Role};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskSource {
    pub kind: &'static str,
    pub repository: String,
    pub number: i64,
    pub url: String,
}

/// A task's direct subtasks (read-only): `total` leaves out the canceled ones, `done` counts
/// those done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Subtasks {
    pub total: i32,
    pub done: i32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub description: String,
    /// Always the category of `state_id`.
    pub status: Status,
    /// The task's state in its project's workflow (API.md §17).
    pub state_id: Uuid,
    pub priority: i16,
    pub due_date: Option<NaiveDate>,
    /// Not after `due_date` (API.md §19).
    pub start_date: Option<NaiveDate>,
    /// `HH:MM`, a wall-clock time in the user's zone; only with a `due_date`.
    #[serde(serialize_with = "serialize_hhmm")]
    #[schema(value_type = Option<String>, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub due_time: Option<NaiveTime>,
    /// The rule by which the task comes back once done; only with a `due_date`.
    pub recurrence: Option<Recurrence>,
    pub labels: Vec<String>,
    pub assignee_id: Option<Uuid>,
    pub created_by: Uuid,
    #[serde(serialize_with = "crate::http::json::optional_instant")]
    pub completed_at: Option<DateTime<Utc>>,
    pub source: Option<TaskSource>,
    /// The task of the same project this one is a subtask of.
    pub parent_id: Option<Uuid>,
    pub subtasks: Subtasks,
    /// Some task that blocks this one is still open (todo or in progress), whether or not the
    /// caller can see it (read-only).
    pub blocked: bool,
    /// How many tasks this one blocks (not shown: a status change of a task that blocks
    /// nothing has nothing to tell them).
    #[serde(skip)]
    pub blocking: i16,
    /// Manual-order key (API.md §4): sort by it, ties by id; never do arithmetic on it.
    pub position: String,
    /// How many comments the task has (read-only).
    pub comment_count: i32,
    /// How many attachments the task has, its comments' included (read-only).
    pub attachment_count: i32,
    /// The minutes of its time entries, running timers not yet counted (read-only).
    pub time_spent_minutes: i32,
    /// At most 5 (API.md §19), in the order given.
    pub reminders: Vec<crate::tasks::reminders::Reminder>,
    /// Its custom field values by field id (API.md §18), only the fields that have one.
    #[schema(value_type = std::collections::HashMap<String, crate::fields::values::FieldValue>)]
    pub fields: crate::fields::values::Values,
    pub version: i64,
    #[serde(serialize_with = "crate::http::json::instant")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::http::json::instant")]
    pub updated_at: DateTime<Utc>,
}

impl FromRow for Task {
    /// Reads in `TASK_COLUMNS` order (see `Columns`).
    fn from_row(row: &Row) -> DbResult<Self> {
        let mut c = Columns::new(row);
        let mut task = Task {
            id: c.get("id")?,
            project_id: c.get("project_id")?,
            number: c.get("number")?,
            title: c.get("title")?,
            description: c.get("description")?,
            status: c.get("status")?,
            state_id: c.get("state_id")?,
            priority: c.get("priority")?,
            due_date: c.get("due_date")?,
            start_date: c.get("start_date")?,
            due_time: c.get("due_time")?,
            recurrence: None,
            labels: c.get("labels")?,
            assignee_id: c.get("assignee_id")?,
            created_by: c.get("created_by")?,
            completed_at: c.get("completed_at")?,
            parent_id: c.get("parent_id")?,
            subtasks: Subtasks {
                total: c.get("subtasks_total")?,
                done: c.get("subtasks_done")?,
            },
            blocked: c.get::<i16>("open_blockers")? > 0,
            blocking: c.get("blocking")?,
            position: c.get("position")?,
            comment_count: c.get("comment_count")?,
            attachment_count: c.get("attachment_count")?,
            time_spent_minutes: c.get("time_spent_minutes")?,
            fields: match c.get::<serde_json::Value>("fields")? {
                serde_json::Value::Object(values) => values,
                _ => Default::default(),
            },
            version: c.get("version")?,
            created_at: c.get("created_at")?,
            updated_at: c.get("updated_at")?,
            source: None,
            reminders: Vec::new(),
        };
        task.recurrence = match (
            c.get::<Option<String>>("recurrence_rule")?,
            c.get::<Option<super::recurrence::RecurFrom>>("recurrence_from")?,
        ) {
            (Some(rule), Some(from)) => Some(Recurrence { rule, from }),
            _ => None,
        };
        task.source = match (
            c.get::<Option<String>>("source_repository")?,
            c.get::<Option<i64>>("source_number")?,
            c.get::<Option<String>>("source_url")?,
        ) {
            (Some(repository), Some(number), Some(url)) => Some(TaskSource {
                kind: "github",
                repository,
                number,
                url,
            }),
            _ => None,
        };
        task.reminders = reminders::from_json(c.get("reminders")?);
        Ok(task)
    }
}

/// Plain columns (`blocked` is `open_blockers > 0`, computed in Rust), so that a statement may
/// select them again from a subquery (the lists do), and last the task's reminders
/// (`reminders::from_json`), a subquery on `t.id` that such a statement computes again. The
/// subquery runs only for a task whose `reminder_count` says it has some: most have none,
/// and a list page would otherwise probe `task_reminders` once per row.
pub const TASK_COLUMNS: &str = "t.id, t.project_id, t.number, t.title, t.description, t.status, \
     t.state_id, t.priority, t.due_date, t.start_date, t.due_time, t.labels, t.assignee_id, t.created_by, t.completed_at, \
     t.parent_id, t.subtasks_total, t.subtasks_done, t.open_blockers, t.blocking, t.position, \
     t.comment_count, t.attachment_count, t.time_spent_minutes, t.fields, t.version, t.created_at, t.updated_at, t.recurrence_rule, \
     t.recurrence_from, t.source_repository, t.source_number, t.source_url, t.reminder_count, \
     CASE WHEN t.reminder_count = 0 THEN '[]'::jsonb ELSE \
     (SELECT coalesce(jsonb_agg(jsonb_build_object('before_minutes', r.before_minutes, \
         'at', r.at, 'fire_at', r.fire_at, 'sent_at', r.sent_at) ORDER BY r.position), \
         '[]'::jsonb) FROM task_reminders r WHERE r.task_id = t.id) END AS reminders";

/// The fields a write sets, all valid.
#[derive(Debug, Clone)]
pub struct TaskFields {
    pub title: String,
    pub description: String,
    pub status: Status,
    /// A state of the task's (destination) project whose category is `status`; `None` leaves
    /// it to the database: the default state of `status`'s category, except that an update
    /// keeps the task's state while neither its category nor its project changes.
    pub state_id: Option<Uuid>,
    pub priority: i16,
    pub due_date: Option<NaiveDate>,
    /// Not after `due_date` (the handler checks, a constraint holds it).
    pub start_date: Option<NaiveDate>,
    /// Only with a `due_date`.
    pub due_time: Option<NaiveTime>,
    /// A rule the handler checked (`recurrence::Rule`); only with a `due_date`.
    pub recurrence: Option<Recurrence>,
    pub labels: Vec<String>,
    pub assignee_id: Option<Uuid>,
    /// A task of the same project, checked under the project's tree lock (`tree`).
    pub parent_id: Option<Uuid>,
    /// Values valid for the fields of the task's (destination) project.
    pub fields: crate::fields::values::Values,
}

/// Why a task could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TaskWriteError {
    #[error("the project holds its quota of tasks")]
    QuotaExceeded,
    #[error("a state or task the write names was removed meanwhile")]
    Conflict,
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl crate::error::DomainError for TaskWriteError {
    fn into_api_error(self) -> crate::error::ApiError {
        match self {
            TaskWriteError::QuotaExceeded => {
                crate::quotas::exceeded("tasks per project", crate::quotas::TASKS_PER_PROJECT)
            }
            TaskWriteError::Conflict => crate::error::ApiError::conflict(
                crate::error::ErrorCode::Conflict,
                "a state or task this change names was removed meanwhile; retry",
            ),
            TaskWriteError::Db(error) => error.into(),
        }
    }
}

/// A write's database error: a state or parent removed between the handler's check and the
/// write (the foreign keys, or the state trigger, refuse it) is a conflict to retry.
fn write_error(error: DbError) -> TaskWriteError {
    if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        TaskWriteError::Conflict
    } else {
        TaskWriteError::Db(error)
    }
}

/// `n` numbers in the project for tasks arriving there (the first is returned), within the
/// project's quota.
async fn next_numbers(tx: &Tx, project_id: Uuid, n: i64) -> Result<i64, TaskWriteError> {
    let (number, count) = crate::projects::store::take_task_numbers(tx, project_id, n).await?;
    if count > crate::quotas::TASKS_PER_PROJECT {
        return Err(TaskWriteError::QuotaExceeded);
    }
    Ok(number)
}

/// Takes the project's next task number (`projects::store::take_task_numbers`, inlined) and
/// inserts the task in one statement: concurrent creates queue on the project's row from the
/// number until the commit, and a round trip less in that stretch is more creates a second on
/// a busy project. No row comes back when the project already holds its quota ($3).
static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH taken AS ( \
             UPDATE projects SET next_task_number = next_task_number + 1, \
                 task_count = task_count + 1 WHERE id = $2 \
             RETURNING next_task_number - 1 AS number, task_count) \
         INSERT INTO tasks AS t (id, project_id, number, title, description, status, priority, \
             due_date, labels, assignee_id, created_by, state_id, parent_id, start_date, due_time, \
             recurrence_rule, recurrence_from, fields) \
         SELECT $1, $2, taken.number, $4, $5, $6, $7, $8, $9, $10, $11, \
             coalesce($12, (SELECT s.id FROM states s \
                 WHERE s.project_id = $2 AND s.category = $6 AND s.is_default)), $13, \
             $14, $15, $16, $17, $18 \
         FROM taken WHERE taken.task_count <= $3 \
         RETURNING {TASK_COLUMNS}"
    )
});

/// Creates a task in the project `access` entered, in `fields.state_id` or else the default
/// state of its status. (`completed_at` follows `status` by a trigger,
/// migrations/V20261201000001; the pair (state, status) is a foreign key, V20261220000001.)
pub async fn insert(
    tx: &Tx,
    access: &ProjectAccess,
    fields: &TaskFields,
) -> Result<Task, TaskWriteError> {
    let project_id = access.project_id();
    let task: Task = tx
        .fetch_opt(
            &INSERT_SQL,
            params![
                Uuid::now_v7(),
                project_id,
                crate::quotas::TASKS_PER_PROJECT,
                fields.title,
                fields.description,
                fields.status,
                fields.priority,
                fields.due_date,
                fields.labels,
                fields.assignee_id,
                access.user_id(),
                fields.state_id,
                fields.parent_id,
                fields.start_date,
                fields.due_time,
                fields.recurrence.as_ref().map(|r| r.rule.as_str()),
                fields.recurrence.as_ref().map(|r| r.from),
                serde_json::Value::Object(fields.fields.clone())
            ],
        )
        .await
        .map_err(write_error)?
        .ok_or(TaskWriteError::QuotaExceeded)?;
    activity::record(
        tx,
        Record::new(Kind::TaskCreated, project_id, Some(access.user_id()))
            .task(task.id)
            .changes(created_changes(&task)),
    );
    notify_assignee(tx, access.user_id(), None, &task).await?;
    Ok(task)
}

/// Tells the task's assignee that someone else assigned it to them, once per version of the
/// task (a task moved between projects keeping its assignee is not a new assignment; one's
/// own assignment notifies nobody: `notifications::store::notify`).
async fn notify_assignee(tx: &Tx, actor: Uuid, before: Option<Uuid>, task: &Task) -> DbResult<()> {
    let Some(assignee) = task.assignee_id.filter(|a| before != Some(*a)) else {
        return Ok(());
    };
    notifications::store::notify(
        tx,
        &Notify {
            user_id: assignee,
            kind: notifications::Kind::Assigned,
            task_id: task.id,
            actor_id: Some(actor),
            comment_id: None,
            cause: format!("assigned:{}:{}", task.id, task.version),
        },
    )
    .await
}

/// Records a batch of tasks created in the project `access` entered (an import's, a template
/// copy's) and writes their entries now rather than at the commit, so that a large batch does
/// not wait in memory.
async fn record_created(tx: &Tx, access: &ProjectAccess, created: &[Task]) -> DbResult<()> {
    for task in created {
        activity::record(
            tx,
            Record::new(
                Kind::TaskCreated,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(task.id)
            .changes(created_changes(task)),
        );
    }
    tx.flush_journal().await
}

/// A new task's fields, each from `null`.
fn created_changes(task: &Task) -> Vec<Change> {
    let mut changes = vec![
        Change::new("title", (), &task.title),
        Change::new("status", (), task.status),
        Change::new("state_id", (), task.state_id),
        Change::new("priority", (), task.priority),
    ];
    if !task.description.is_empty() {
        changes.push(Change::new(
            "description",
            (),
            task.description.chars().count(),
        ));
    }
    if task.due_date.is_some() {
        changes.push(Change::new("due_date", (), task.due_date));
    }
    if task.start_date.is_some() {
        changes.push(Change::new("start_date", (), task.start_date));
    }
    if task.due_time.is_some() {
        changes.push(Change::new("due_time", (), hhmm(task.due_time)));
    }
    if task.recurrence.is_some() {
        changes.push(Change::new("recurrence", (), &task.recurrence));
    }
    if !task.labels.is_empty() {
        changes.push(Change::new("labels", (), &task.labels));
    }
    if task.assignee_id.is_some() {
        changes.push(Change::new("assignee_id", (), task.assignee_id));
    }
    if task.parent_id.is_some() {
        changes.push(Change::new("parent_id", (), task.parent_id));
    }
    changes.extend(
        task.fields
            .iter()
            .map(|(key, value)| Change::new(&format!("fields.{key}"), (), value)),
    );
    changes
}

/// A due time as the API writes it.
fn hhmm(time: Option<NaiveTime>) -> Option<String> {
    time.map(|t| t.format("%H:%M").to_string())
}

/// Each field value that a write changed (`fields.<field_id>`). A task that moved to another
/// project has the destination's fields: its values there are not changes of the source's
/// fields, and the source's values it dropped are recorded by the move (`moved_changes`).
fn field_changes(old: &Task, new: &Task) -> Vec<Change> {
    if old.project_id != new.project_id {
        return Vec::new();
    }
    let changed = old
        .fields
        .iter()
        .filter(|(key, value)| new.fields.get(*key) != Some(value))
        .map(|(key, value)| Change::new(&format!("fields.{key}"), value, new.fields.get(key)));
    let added = new
        .fields
        .iter()
        .filter(|(key, _)| !old.fields.contains_key(*key))
        .map(|(key, value)| Change::new(&format!("fields.{key}"), (), value));
    changed.chain(added).collect()
}

/// What a write changed in the task's fields (API.md §4, §17), old and new.
pub fn changes_between(old: &Task, new: &Task) -> Vec<Change> {
    [
        Change::of("project_id", &old.project_id, &new.project_id),
        Change::of("number", &old.number, &new.number),
        Change::of("title", &old.title, &new.title),
        activity::length_change("description", &old.description, &new.description),
        Change::of("status", &old.status, &new.status),
        Change::of("state_id", &old.state_id, &new.state_id),
        Change::of("priority", &old.priority, &new.priority),
        Change::of("due_date", &old.due_date, &new.due_date),
        Change::of("start_date", &old.start_date, &new.start_date),
        Change::of("due_time", &hhmm(old.due_time), &hhmm(new.due_time)),
        Change::of("recurrence", &old.recurrence, &new.recurrence),
        Change::of("labels", &old.labels, &new.labels),
        Change::of("assignee_id", &old.assignee_id, &new.assignee_id),
        Change::of("parent_id", &old.parent_id, &new.parent_id),
        Change::of("position", &old.position, &new.position),
    ]
    .into_iter()
    .flatten()
    .chain(field_changes(old, new))
    .collect()
}

/// Records a write of `old` into `new` by `actor`: `task.moved` when it changed project or
/// position, `task.updated` otherwise; nothing when nothing changed.
///
/// A move to another project writes an entry in each (API.md §9, "History stays where it was
/// written"): the source's holds the whole change, `project_id` from source to destination
/// included; the destination's says only that the task arrived, with its new number, and
/// names nothing of where it came from or what it was there.
fn record_change(tx: &Tx, actor: Uuid, old: &Task, new: &Task) {
    record_move(tx, actor, old, new, Vec::new());
}

/// `record_change` of a write that may have moved the task, with the values it dropped on the
/// way (`fields.<source field id>`, from the value to `null`), which the source's entry holds.
fn record_move(tx: &Tx, actor: Uuid, old: &Task, new: &Task, dropped: Vec<(String, Value)>) {
    let mut changes = changes_between(old, new);
    if changes.is_empty() {
        return;
    }
    if old.project_id != new.project_id {
        changes.extend(
            dropped
                .into_iter()
                .map(|(key, value)| Change::new(&format!("fields.{key}"), value, ())),
        );
        activity::record(
            tx,
            Record::new(Kind::TaskMoved, old.project_id, Some(actor))
                .task(new.id)
                .changes(changes),
        );
        activity::record(
            tx,
            Record::new(Kind::TaskMoved, new.project_id, Some(actor))
                .task(new.id)
                .changes(vec![
                    Change::new("project_id", (), new.project_id),
                    Change::new("number", (), new.number),
                ]),
        );
        return;
    }
    let kind = if old.position != new.position {
        Kind::TaskMoved
    } else {
        Kind::TaskUpdated
    };
    activity::record(
        tx,
        Record::new(kind, new.project_id, Some(actor))
            .task(new.id)
            .changes(changes),
    );
}

/// A task with the caller's role in its project: `$1` task id, `$2` user id.
static FIND_VISIBLE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TASK_COLUMNS}, m.role AS my_role FROM tasks t \
         JOIN memberships m ON m.project_id = t.project_id AND m.user_id = $2 \
         WHERE t.id = $1"
    )
});
static FIND_VISIBLE_FOR_UPDATE_SQL: LazyLock<String> =
    LazyLock::new(|| format!("{} FOR UPDATE OF t", *FIND_VISIBLE_SQL));
/// The project's row (`$3`) is locked by an init plan, which runs before the task is read, so
/// the order is the project's row, then the task's, as everywhere. The task's row is returned
/// as it is once locked: `FOR UPDATE` reads again a row changed while the statement waited.
static FIND_VISIBLE_IN_LOCKED_PROJECT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH project AS MATERIALIZED (SELECT id FROM projects WHERE id = $3 FOR UPDATE) \
         {} AND EXISTS (SELECT FROM project) FOR UPDATE OF t",
        *FIND_VISIBLE_SQL
    )
});

/// What `find_visible` locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Nothing,
    Task,
    /// This project's row, then the task's, in one round trip: a move does this first, and
    /// moves queue on the project's row.
    ProjectThenTask(Uuid),
}

/// A task and the caller's role in its project; `None` when there is no such task or the
/// caller is not a member (both mean 404). Handlers reach it through
/// `projects::guard::enter_task`.
pub async fn find_visible(
    db: &impl Exec,
    task_id: Uuid,
    user_id: Uuid,
    lock: Lock,
) -> DbResult<Option<(Task, Role)>> {
    let row = match lock {
        Lock::Nothing => {
            db.query_opt(&FIND_VISIBLE_SQL, params![task_id, user_id])
                .await?
        }
        Lock::Task => {
            db.query_opt(&FIND_VISIBLE_FOR_UPDATE_SQL, params![task_id, user_id])
                .await?
        }
        Lock::ProjectThenTask(project_id) => {
            db.query_opt(
                &FIND_VISIBLE_IN_LOCKED_PROJECT_SQL,
                params![task_id, user_id, project_id],
            )
            .await?
        }
    };
    row.map(|row| Ok((Task::from_row(&row)?, get(&row, "my_role")?)))
        .transpose()
}

/// The default state of a category in a project: `$2` the project, `$6` the category (the
/// parameters of `UPDATE_SQL`). A write that names no state and changes the category (or the
/// project) takes it; one that keeps both keeps its state. The foreign key (project_id,
/// state_id, status) → states refuses any pair that disagrees, whoever writes it.
const DEFAULT_STATE: &str =
    "SELECT s.id FROM states s WHERE s.project_id = $2 AND s.category = $6 AND s.is_default";

static UPDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks AS t SET project_id = $2, number = $3, title = $4, description = $5, \
             status = $6, priority = $7, due_date = $8, labels = $9, assignee_id = $10, \
             state_id = coalesce($11, CASE WHEN $6 = t.status AND $2 = t.project_id \
                 THEN t.state_id ELSE ({DEFAULT_STATE}) END), parent_id = $12, \
             start_date = $13, due_time = $14, recurrence_rule = $15, recurrence_from = $16, \
             fields = $17, \
             version = t.version + 1, updated_at = now() \
         WHERE t.id = $1 RETURNING {TASK_COLUMNS}"
    )
});

/// Where an edited task lives: its own project, or (a move) another one the caller entered
/// for editing, where it takes the next number.
pub enum Destination<'a> {
    Stay {
        number: i64,
    },
    /// With how field values go from the source's fields to the target's.
    MoveTo(&'a ProjectAccess, &'a Carry),
}

/// `values` of a task of the source as values of the target project `project_id` (`carry`: its
/// fields), and those dropped (field id, value): a `user` value is kept when they are a member
/// there.
pub async fn carried(
    db: &impl Exec,
    project_id: Uuid,
    carry: &Carry,
    values: &Values,
) -> DbResult<(Values, Vec<(String, Value)>)> {
    let members =
        crate::projects::store::members_among(db, project_id, &carry.users(values)).await?;
    Ok(carry.apply(values, &members))
}

/// Writes a task's fields. `access` is the entry into the task's current project; `old` is
/// the task as locked before the write. A task moved to another project takes its subtasks
/// along (the caller holds both projects' tree locks).
pub async fn update(
    tx: &Tx,
    access: &ProjectAccess,
    old: &Task,
    destination: Destination<'_>,
    fields: &TaskFields,
) -> Result<Task, TaskWriteError> {
    let (project_id, number, dropped) = match destination {
        Destination::Stay { number } => (access.project_id(), number, Vec::new()),
        Destination::MoveTo(target, carry) => {
            let number = next_numbers(tx, target.project_id(), 1).await?;
            crate::projects::store::tasks_removed(tx, access.project_id(), 1).await?;
            let (_, dropped) = carried(tx, target.project_id(), carry, &old.fields).await?;
            (target.project_id(), number, dropped)
        }
    };
    // A recurring task entering the done category loses its rule to the next occurrence
    // (API.md §19): once done it cannot recur again, however often it is reopened.
    let recurs = fields
        .recurrence
        .as_ref()
        .filter(|_| old.status != Status::Done && fields.status == Status::Done);
    let recurrence = if recurs.is_some() {
        None
    } else {
        fields.recurrence.as_ref()
    };
    let task = tx
        .fetch_one(
            &UPDATE_SQL,
            params![
                old.id,
                project_id,
                number,
                fields.title,
                fields.description,
                fields.status,
                fields.priority,
                fields.due_date,
                fields.labels,
                fields.assignee_id,
                fields.state_id,
                fields.parent_id,
                fields.start_date,
                fields.due_time,
                recurrence.map(|r| r.rule.as_str()),
                recurrence.map(|r| r.from),
                serde_json::Value::Object(fields.fields.clone())
            ],
        )
        .await
        .map_err(write_error)?;
    record_move(tx, access.user_id(), old, &task, dropped);
    if let Some(recurrence) = recurs {
        let entered = match destination {
            Destination::MoveTo(target, _) => target,
            Destination::Stay { .. } => access,
        };
        recur::next_occurrence(tx, entered, &task, old.due_date, recurrence).await?;
    }
    notify_assignee(tx, access.user_id(), old.assignee_id, &task).await?;
    blockers::category_changed(
        tx,
        Some(access.user_id()),
        &[task.id],
        old.status,
        task.status,
    )
    .await?;
    if let Destination::MoveTo(target, carry) = destination {
        move_subtasks(tx, access, target, carry, &task).await?;
    }
    Ok(task)
}

/// The descendants of `root`, which has just moved to `target`'s project, follow it: each
/// takes a number there, the default state of its category there, a position after the last
/// and keeps its assignee only if they are a member there (as the root does).
async fn move_subtasks(
    tx: &Tx,
    access: &ProjectAccess,
    target: &ProjectAccess,
    carry: &Carry,
    root: &Task,
) -> Result<(), TaskWriteError> {
    let old = tree::lock_descendants(tx, root.id).await?;
    if old.is_empty() {
        return Ok(());
    }
    let mut values = serde_json::Map::new();
    let mut dropped = std::collections::HashMap::new();
    for task in &old {
        let (kept, lost) = carried(tx, target.project_id(), carry, &task.fields).await?;
        values.insert(task.id.to_string(), Value::Object(kept));
        dropped.insert(task.id, lost);
    }
    let ids: Vec<Uuid> = old.iter().map(|t| t.id).collect();
    let n = ids.len() as i64;
    let first = next_numbers(tx, target.project_id(), n).await?;
    crate::projects::store::tasks_removed(tx, access.project_id(), n).await?;
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE tasks AS t SET project_id = $2, number = $3 + array_position($1, t.id) - 1, \
                 state_id = (SELECT s.id FROM states s WHERE s.project_id = $2 \
                     AND s.category = t.status AND s.is_default), \
                 assignee_id = CASE WHEN EXISTS (SELECT 1 FROM memberships m \
                     WHERE m.project_id = $2 AND m.user_id = t.assignee_id) \
                     THEN t.assignee_id END, \
                 fields = coalesce($4::jsonb -> t.id::text, '{{}}'::jsonb), \
                 version = t.version + 1, updated_at = now() \
             WHERE t.id = ANY($1) RETURNING {TASK_COLUMNS}"
        )
    });
    let moved: Vec<Task> = tx
        .fetch_all(
            &SQL,
            params![ids, target.project_id(), first, Value::Object(values)],
        )
        .await
        .map_err(write_error)?;
    for new in &moved {
        if let Some(old) = old.iter().find(|o| o.id == new.id) {
            let lost = dropped.remove(&new.id).unwrap_or_default();
            record_move(tx, access.user_id(), old, new, lost);
        }
    }
    // A subtask whose assignee is not a member there lost them: its reminders now go to its
    // creator, in the creator's zone (API.md §19).
    let unassigned: Vec<Uuid> = moved
        .iter()
        .filter(|new| new.assignee_id.is_none())
        .filter(|new| {
            old.iter()
                .any(|o| o.id == new.id && o.assignee_id.is_some())
        })
        .map(|new| new.id)
        .collect();
    reminders::recompute(tx, &unassigned).await?;
    Ok(())
}

/// Deletes a task with its subtasks: `tree` is the subtree as `tree::lock_subtree` locked it.
/// Each gets its own `task.deleted` entry; a related task outside the subtree gets a
/// `task.unrelated` one.
pub async fn delete(tx: &Tx, access: &ProjectAccess, tree: &[Task]) -> DbResult<()> {
    let ids: Vec<Uuid> = tree.iter().map(|t| t.id).collect();
    let crossing = relations::crossing(tx, &ids).await?;
    let deleted = tx
        .query(
            "DELETE FROM tasks WHERE id = ANY($1) AND project_id = $2 RETURNING id",
            params![ids, access.project_id()],
        )
        .await?;
    let deleted: Vec<Uuid> = deleted
        .iter()
        .map(|row| get(row, "id"))
        .collect::<DbResult<_>>()?;
    if deleted.is_empty() {
        return Ok(());
    }
    crate::projects::store::tasks_removed(tx, access.project_id(), deleted.len() as i64).await?;
    for task in tree.iter().filter(|t| deleted.contains(&t.id)) {
        let mut changes = vec![Change::new("title", &task.title, ())];
        if task.parent_id.is_some() {
            changes.push(Change::new("parent_id", task.parent_id, ()));
        }
        activity::record(
            tx,
            Record::new(
                Kind::TaskDeleted,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(task.id)
            .changes(changes),
        );
    }
    relations::record_removed(tx, Some(access.user_id()), &crossing).await
}

/// A task of the project as a move's neighbour: its manual-order key and, with `beyond`, the
/// closest key on that side of it (below it with `Beyond::Below`), other than the moved
/// task's. One statement, because a move reads it under the project's lock.
pub async fn neighbour_in(
    db: &impl Exec,
    project_id: Uuid,
    moved: Uuid,
    task_id: Uuid,
    beyond: Option<Beyond>,
) -> DbResult<Option<(String, Option<String>)>> {
    let sql = match beyond {
        // ($2, the moved task, is not needed here.)
        None => "SELECT position, NULL::text AS p FROM tasks WHERE id = $3 AND project_id = $1",
        Some(Beyond::Below) => {
            "SELECT n.position, (SELECT max(position) FROM tasks \
                 WHERE project_id = $1 AND id <> $2 AND position < n.position) AS p \
             FROM tasks n WHERE n.id = $3 AND n.project_id = $1"
        }
        Some(Beyond::Above) => {
            "SELECT n.position, (SELECT min(position) FROM tasks \
                 WHERE project_id = $1 AND id <> $2 AND position > n.position) AS p \
             FROM tasks n WHERE n.id = $3 AND n.project_id = $1"
        }
    };
    let row = db
        .query_opt(sql, params![project_id, moved, task_id])
        .await?;
    row.map(|row| Ok((get(&row, "position")?, get(&row, "p")?)))
        .transpose()
}

/// Which side of a key `neighbour_in` and `end_position` look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beyond {
    Below,
    Above,
}

/// The lowest (`Beyond::Above`) or highest (`Beyond::Below`) key in the project, other than
/// the moved task's.
pub async fn end_position(
    db: &impl Exec,
    project_id: Uuid,
    moved: Uuid,
    beyond: Beyond,
) -> DbResult<Option<String>> {
    let sql = match beyond {
        Beyond::Below => "SELECT max(position) AS p FROM tasks WHERE project_id = $1 AND id <> $2",
        Beyond::Above => "SELECT min(position) AS p FROM tasks WHERE project_id = $1 AND id <> $2",
    };
    let row = db.query_one(sql, params![project_id, moved]).await?;
    get(&row, "p")
}

static SET_POSITION_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks AS t SET position = $2, status = $3, \
             state_id = coalesce($5, CASE WHEN $3 = t.status THEN t.state_id ELSE \
                 (SELECT s.id FROM states s WHERE s.project_id = $4 AND s.category = $3 \
                  AND s.is_default) END), \
             previous_position = NULL, \
             recurrence_rule = CASE WHEN $3 = 'done' AND t.status <> 'done' THEN NULL \
                 ELSE t.recurrence_rule END, \
             recurrence_from = CASE WHEN $3 = 'done' AND t.status <> 'done' THEN NULL \
                 ELSE t.recurrence_from END, \
             previous_epoch = (SELECT position_epoch FROM projects WHERE id = $4), \
             version = t.version + 1, updated_at = now() \
         WHERE t.id = $1 AND t.project_id = $4 RETURNING {TASK_COLUMNS}"
    )
});

/// Puts a task of the project `access` entered at `position`, with `status` (and `state_id`,
/// as in `TaskFields`), in one write. `old` is the task as locked before.
pub async fn set_position(
    tx: &Tx,
    access: &ProjectAccess,
    old: &Task,
    position: &str,
    status: Status,
    state_id: Option<Uuid>,
) -> Result<Task, TaskWriteError> {
    let task: Task = tx
        .fetch_one(
            &SET_POSITION_SQL,
            params![old.id, position, status, access.project_id(), state_id],
        )
        .await
        .map_err(write_error)?;
    record_change(tx, access.user_id(), old, &task);
    if let Some(recurrence) = old
        .recurrence
        .as_ref()
        .filter(|_| old.status != Status::Done && task.status == Status::Done)
    {
        recur::next_occurrence(tx, access, &task, old.due_date, recurrence).await?;
    }
    blockers::category_changed(
        tx,
        Some(access.user_id()),
        &[task.id],
        old.status,
        task.status,
    )
    .await?;
    Ok(task)
}

/// A run of consecutive tasks in a project's manual order whose keys are long, and the nearest
/// shorter keys around it (`None`: the run begins or ends the order).
#[derive(Debug)]
pub struct LongRun {
    pub after: Option<String>,
    pub before: Option<String>,
    /// In order.
    pub tasks: Vec<Uuid>,
}

/// The runs of tasks of the project `access` entered whose keys are longer than `longer_than`
/// characters. The caller holds the project's row lock.
pub async fn long_position_runs(
    tx: &Tx,
    access: &ProjectAccess,
    longer_than: usize,
) -> DbResult<Vec<LongRun>> {
    // The nearest short key before each task is the greatest one so far in order, the nearest
    // after it the least one so far in reverse order.
    let rows = tx
        .query(
            "SELECT id, after_key, before_key FROM ( \
                 SELECT id, position, length(position) > $2 AS long, \
                        max(position) FILTER (WHERE length(position) <= $2) \
                            OVER (ORDER BY position, id) AS after_key, \
                        min(position) FILTER (WHERE length(position) <= $2) \
                            OVER (ORDER BY position DESC, id DESC) AS before_key \
                 FROM tasks WHERE project_id = $1) k \
             WHERE long ORDER BY position, id",
            params![access.project_id(), longer_than as i32],
        )
        .await?;
    let mut runs: Vec<LongRun> = Vec::new();
    for row in rows {
        let id: Uuid = get(&row, "id")?;
        let after: Option<String> = get(&row, "after_key")?;
        let before: Option<String> = get(&row, "before_key")?;
        match runs.last_mut() {
            Some(run) if run.after == after && run.before == before => run.tasks.push(id),
            _ => runs.push(LongRun {
                after,
                before,
                tasks: vec![id],
            }),
        }
    }
    Ok(runs)
}

/// Gives tasks of the project `access` entered new keys, which must keep the project's order
/// (API.md §9: a gap ran out of room). The caller holds the project's row lock. Not a change of
/// any task: versions, `updated_at` and the history stay as they are. It counts as a
/// renumbering of the project (`projects.position_epoch`), and each task keeps the key it had
/// as `previous_position`, through which a `sort=position` cursor handed out before is read
/// (`list::key_boundary`).
pub async fn renumber_positions(
    tx: &Tx,
    access: &ProjectAccess,
    keys: Vec<(Uuid, String)>,
) -> DbResult<()> {
    let project_id = access.project_id();
    let epoch = crate::projects::store::renumbered(tx, project_id).await?;
    let (ids, positions): (Vec<Uuid>, Vec<String>) = keys.into_iter().unzip();
    tx.execute(
        "UPDATE tasks t SET previous_position = t.position, previous_epoch = $2, \
             position = k.position \
         FROM unnest($3::uuid[], $4::text[]) AS k(id, position) \
         WHERE t.id = k.id AND t.project_id = $1",
        params![project_id, epoch, ids, positions],
    )
    .await?;
    Ok(())
}

/// A member's tasks in a project become unassigned (they are leaving it).
pub async fn unassign_all(tx: &Tx, access: &ProjectAccess, user_id: Uuid) -> DbResult<()> {
    let rows = tx
        .query(
            "UPDATE tasks SET assignee_id = NULL, version = version + 1, updated_at = now() \
             WHERE project_id = $1 AND assignee_id = $2 RETURNING id",
            params![access.project_id(), user_id],
        )
        .await?;
    let mut unassigned = Vec::with_capacity(rows.len());
    for row in rows {
        let task_id: Uuid = get(&row, "id")?;
        unassigned.push(task_id);
        activity::record(
            tx,
            Record::new(
                Kind::TaskUpdated,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(task_id)
            .changes(vec![Change::new("assignee_id", Some(user_id), ())]),
        );
    }
    // Their reminders now go to each task's creator, in the creator's zone.
    reminders::recompute(tx, &unassigned).await
}

/// Counts a comment added to (`delta` 1) or removed from (-1) a task and returns the new
/// count. The row lock this takes queues concurrent comments on the task. Not a change of
/// the task: its version stays, so a comment never breaks an editor's `If-Match`.
pub async fn count_comment(tx: &Tx, task_id: Uuid, delta: i32) -> DbResult<i32> {
    let row = tx
        .query_one(
            "UPDATE tasks SET comment_count = comment_count + $2 WHERE id = $1 \
             RETURNING comment_count",
            params![task_id, delta],
        )
        .await?;
    get(&row, "comment_count")
}

/// An open task's assignee and due date, for the daily reminders.
#[derive(Debug, Clone)]
pub struct DueAssignment {
    pub task_id: Uuid,
    pub assignee_id: Uuid,
    pub due_date: NaiveDate,
}

impl FromRow for DueAssignment {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            task_id: get(row, "id")?,
            assignee_id: get(row, "assignee_id")?,
            due_date: get(row, "due_date")?,
        })
    }
}

/// Where a page of due assignments ends: (due date, task id).
pub type DueKey = (NaiveDate, Uuid);

/// The assigned open (not done, not canceled) tasks due on the day after `day` or earlier
/// (the caller skips those due on `day` itself), in (due date, id) order after `after`: the
/// reminders of `day` page through them. `zones`: only tasks whose assignee's time zone is
/// one of these (`None`: every assignee). A range scan of `tasks_open_due`
/// (migrations/V20261231000021).
pub async fn due_assignments(
    db: &impl Exec,
    day: NaiveDate,
    zones: Option<&[String]>,
    after: Option<DueKey>,
    limit: i64,
) -> DbResult<Vec<DueAssignment>> {
    // Before any date a task can have (the first page).
    let start = (
        NaiveDate::from_ymd_opt(-4000, 1, 1).expect("a date PostgreSQL holds"),
        Uuid::nil(),
    );
    let (after_date, after_id) = after.unwrap_or(start);
    // The status and null tests repeat the partial index's predicate so the planner uses it.
    db.fetch_all(
        "SELECT t.id, t.assignee_id, t.due_date FROM tasks t \
         WHERE t.assignee_id IS NOT NULL AND t.due_date IS NOT NULL \
           AND t.status IN ('todo', 'in_progress') \
           AND t.due_date <= $1 + 1 AND (t.due_date, t.id) > ($2, $3) \
           AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM users u \
               WHERE u.id = t.assignee_id AND u.time_zone = ANY($5))) \
         ORDER BY t.due_date, t.id LIMIT $4",
        params![
            day,
            after_date,
            after_id,
            limit,
            zones.map(<[String]>::to_vec)
        ],
    )
    .await
}

/// A task arriving by import (API.md §15): valid fields (a `parent_id` is a task this import
/// already created, at depth 1, so the tree's rules hold) and its place in the manual order.
#[derive(Debug, Clone)]
pub struct ImportedTask {
    pub fields: TaskFields,
    pub position: String,
}

static IMPORT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO tasks AS t (id, project_id, number, title, description, status, priority, \
             due_date, labels, assignee_id, created_by, state_id, position, parent_id, fields) \
         SELECT k.id, $1, $2 + k.n - 1, k.title, k.description, k.status, k.priority, k.due_date, \
             (SELECT coalesce(array_agg(l), '{{}}') FROM json_array_elements_text(k.labels::json) l), \
             k.assignee_id, $3, \
             coalesce(k.state_id, (SELECT s.id FROM states s \
                 WHERE s.project_id = $1 AND s.category = k.status AND s.is_default)), \
             k.position, k.parent_id, k.fields::jsonb \
         FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::int2[], $9::date[], \
             $10::text[], $11::uuid[], $12::uuid[], $13::text[], $14::uuid[], $15::text[]) \
             WITH ORDINALITY \
             AS k(id, title, description, status, priority, due_date, labels, assignee_id, \
                  state_id, position, parent_id, fields, n) \
         ORDER BY k.n \
         RETURNING {TASK_COLUMNS}"
    )
});

/// Creates `tasks` in the project `access` entered, in one statement, within the project's
/// quota, each with its `task.created` entry. For imports: nobody is notified (the importer
/// is the only assignee an import keeps).
pub async fn insert_imported(
    tx: &Tx,
    access: &ProjectAccess,
    tasks: &[ImportedTask],
) -> Result<Vec<Task>, TaskWriteError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let project_id = access.project_id();
    let first = next_numbers(tx, project_id, tasks.len() as i64).await?;
    let ids: Vec<Uuid> = tasks.iter().map(|_| Uuid::now_v7()).collect();
    let column = |f: fn(&ImportedTask) -> String| tasks.iter().map(f).collect::<Vec<String>>();
    let titles = column(|t| t.fields.title.clone());
    let descriptions = column(|t| t.fields.description.clone());
    let statuses = column(|t| t.fields.status.as_str().to_owned());
    let positions = column(|t| t.position.clone());
    // Each task's labels as a JSON array: PostgreSQL arrays cannot nest unevenly.
    let labels = column(|t| serde_json::json!(t.fields.labels).to_string());
    let priorities: Vec<i16> = tasks.iter().map(|t| t.fields.priority).collect();
    let due_dates: Vec<Option<NaiveDate>> = tasks.iter().map(|t| t.fields.due_date).collect();
    let assignees: Vec<Option<Uuid>> = tasks.iter().map(|t| t.fields.assignee_id).collect();
    let states: Vec<Option<Uuid>> = tasks.iter().map(|t| t.fields.state_id).collect();
    let parents: Vec<Option<Uuid>> = tasks.iter().map(|t| t.fields.parent_id).collect();
    let values = column(|t| serde_json::Value::Object(t.fields.fields.clone()).to_string());
    let created: Vec<Task> = tx
        .fetch_all(
            &IMPORT_SQL,
            params![
                project_id,
                first,
                access.user_id(),
                ids,
                titles,
                descriptions,
                statuses,
                priorities,
                due_dates,
                labels,
                assignees,
                states,
                positions,
                parents,
                values
            ],
        )
        .await
        .map_err(write_error)?;
    // An import writes up to 100,000 entries: each batch's go now, not all at the commit.
    record_created(tx, access, &created).await?;
    Ok(created)
}

/// Counts imported comments on their tasks (`task_ids`: one entry per comment) of the project
/// `access` entered.
pub async fn count_imported_comments(
    tx: &Tx,
    access: &ProjectAccess,
    task_ids: &[Uuid],
) -> DbResult<()> {
    tx.execute(
        "UPDATE tasks t SET comment_count = t.comment_count + k.n \
         FROM (SELECT id, count(*)::int AS n FROM unnest($2::uuid[]) AS id GROUP BY id) AS k \
         WHERE t.id = k.id AND t.project_id = $1",
        params![access.project_id(), task_ids.to_vec()],
    )
    .await?;
    Ok(())
}
