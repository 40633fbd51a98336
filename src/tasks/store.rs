//! SQL owned by tasks.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::domain::Status;
use crate::projects::access::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskSource {
    pub kind: &'static str,
    pub repository: String,
    pub number: i64,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub description: String,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub priority: i16,
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
    pub assignee_id: Option<Uuid>,
    pub created_by: Uuid,
    pub completed_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub source: Option<TaskSource>,
    /// Manual-order key (API.md §4): sort by it, ties by id; never do arithmetic on it.
    pub position: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    #[schema(ignore)]
    pub source_repository: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub source_number: Option<i64>,
    #[serde(skip)]
    #[schema(ignore)]
    pub source_url: Option<String>,
}

impl Task {
    /// Fills `source` from its columns.
    pub fn with_source(mut self) -> Self {
        if let (Some(repository), Some(number), Some(url)) = (
            self.source_repository.clone(),
            self.source_number,
            self.source_url.clone(),
        ) {
            self.source = Some(TaskSource {
                kind: "github",
                repository,
                number,
                url,
            });
        }
        self
    }
}

pub const TASK_COLUMNS: &str = "t.id, t.project_id, t.number, t.title, t.description, t.status, \
     t.priority, t.due_date, t.labels, t.assignee_id, t.created_by, t.completed_at, t.position, \
     t.version, t.created_at, t.updated_at, t.source_repository, t.source_number, t.source_url";

/// The fields a write sets, all valid.
#[derive(Debug, Clone)]
pub struct TaskFields {
    pub title: String,
    pub description: String,
    pub status: Status,
    pub priority: i16,
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
    pub assignee_id: Option<Uuid>,
}

/// Takes the next number of a project. The row lock on the project makes concurrent creates
/// queue here, so numbers are unique and, because a failed transaction rolls the counter
/// back too, gap-free.
pub async fn next_number(conn: &mut PgConnection, project_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE projects SET next_task_number = next_task_number + 1 WHERE id = $1 \
         RETURNING next_task_number - 1",
    )
    .bind(project_id)
    .fetch_one(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    project_id: Uuid,
    created_by: Uuid,
    fields: &TaskFields,
) -> Result<Task, sqlx::Error> {
    let number = next_number(&mut *conn, project_id).await?;
    let task: Task = sqlx::query_as(&format!(
        "INSERT INTO tasks AS t (id, project_id, number, title, description, status, priority, \
             due_date, labels, assignee_id, created_by, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             CASE WHEN $6 = 'done' THEN now() END) \
         RETURNING {TASK_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(project_id)
    .bind(number)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(fields.status.as_str())
    .bind(fields.priority)
    .bind(fields.due_date)
    .bind(&fields.labels)
    .bind(fields.assignee_id)
    .bind(created_by)
    .fetch_one(conn)
    .await?;
    Ok(task.with_source())
}

/// A task and the caller's role in its project; `None` when there is no such task or the
/// caller is not a member (both mean 404).
/// A task with the caller's role in its project: `$1` task id, `$2` user id. Public so that the
/// benchmark runs exactly this SQL under pgbench.
pub static FIND_VISIBLE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TASK_COLUMNS}, m.role AS my_role FROM tasks t \
         JOIN memberships m ON m.project_id = t.project_id AND m.user_id = $2 \
         WHERE t.id = $1"
    )
});
static FIND_VISIBLE_FOR_UPDATE_SQL: LazyLock<String> =
    LazyLock::new(|| format!("{} FOR UPDATE OF t", *FIND_VISIBLE_SQL));

pub async fn find_visible(
    db: impl PgExecutor<'_>,
    task_id: Uuid,
    user_id: Uuid,
    lock: bool,
) -> Result<Option<(Task, Role)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        task: Task,
        #[sqlx(try_from = "String")]
        my_role: Role,
    }
    let sql = if lock {
        &FIND_VISIBLE_FOR_UPDATE_SQL
    } else {
        &FIND_VISIBLE_SQL
    };
    let row: Option<Row> = sqlx::query_as(sql.as_str())
        .bind(task_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.task.with_source(), r.my_role)))
}

pub async fn update(
    conn: &mut PgConnection,
    task_id: Uuid,
    project_id: Uuid,
    number: i64,
    fields: &TaskFields,
) -> Result<Task, sqlx::Error> {
    let task: Task = sqlx::query_as(&format!(
        "UPDATE tasks AS t SET project_id = $2, number = $3, title = $4, description = $5, \
             status = $6, priority = $7, due_date = $8, labels = $9, assignee_id = $10, \
             completed_at = CASE WHEN $6 <> 'done' THEN NULL \
                                 WHEN t.status = 'done' THEN t.completed_at ELSE now() END, \
             version = t.version + 1, updated_at = now() \
         WHERE t.id = $1 RETURNING {TASK_COLUMNS}"
    ))
    .bind(task_id)
    .bind(project_id)
    .bind(number)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(fields.status.as_str())
    .bind(fields.priority)
    .bind(fields.due_date)
    .bind(&fields.labels)
    .bind(fields.assignee_id)
    .fetch_one(conn)
    .await?;
    Ok(task.with_source())
}

pub async fn delete(conn: &mut PgConnection, task_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM tasks WHERE id = $1")
        .bind(task_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn is_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE project_id = $1 AND user_id = $2)",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}
