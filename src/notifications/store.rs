//! The notifications table.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{Kind, Notification, NotifiedTask, Notify};
use crate::activity::Actor;
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

/// Creates a notification in the transaction of its cause; a second one for the same user and
/// cause is dropped. Nobody is notified of what they did themselves.
pub async fn notify(tx: &Tx, notify: &Notify) -> DbResult<()> {
    if notify.actor_id == Some(notify.user_id) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO notifications (id, user_id, kind, task_id, actor_id, comment_id, cause) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, cause) DO NOTHING",
        params![
            Uuid::now_v7(),
            notify.user_id,
            notify.kind,
            notify.task_id,
            notify.actor_id,
            notify.comment_id,
            notify.cause
        ],
    )
    .await?;
    Ok(())
}

/// Creates many notifications in one statement (the server's reminders); those whose cause
/// the user was already notified of, or whose task or user is gone by now, are dropped.
/// Returns how many were created.
pub async fn notify_all(db: &impl Exec, batch: &[Notify]) -> DbResult<u64> {
    let batch: Vec<&Notify> = batch
        .iter()
        .filter(|n| n.actor_id != Some(n.user_id))
        .collect();
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
    let users: Vec<Uuid> = batch.iter().map(|n| n.user_id).collect();
    let kinds: Vec<Kind> = batch.iter().map(|n| n.kind).collect();
    let tasks: Vec<Uuid> = batch.iter().map(|n| n.task_id).collect();
    let actors: Vec<Option<Uuid>> = batch.iter().map(|n| n.actor_id).collect();
    let causes: Vec<String> = batch.iter().map(|n| n.cause.clone()).collect();
    // The joins drop rows whose task or user was deleted since they were read, instead of
    // failing the whole batch on the foreign key.
    db.execute(
        "INSERT INTO notifications (id, user_id, kind, task_id, actor_id, cause) \
         SELECT n.id, n.user_id, n.kind, n.task_id, n.actor_id, n.cause \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::text[]) \
              AS n(id, user_id, kind, task_id, actor_id, cause) \
         JOIN tasks t ON t.id = n.task_id JOIN users u ON u.id = n.user_id \
         ORDER BY n.id \
         ON CONFLICT (user_id, cause) DO NOTHING",
        params![ids, users, kinds, tasks, actors, causes],
    )
    .await
}

/// A task reminder's notification (API.md §19).
#[derive(Debug, Clone)]
pub struct ReminderNotice {
    pub user_id: Uuid,
    pub task_id: Uuid,
    /// Names the reminder and its fire time: one notification per firing.
    pub cause: String,
    /// Sent more than an hour after its time.
    pub late: bool,
}

/// Creates the `reminder` notifications of a batch of claimed reminders, in the claim's
/// transaction; a cause already notified is dropped.
pub async fn notify_reminders(tx: &Tx, batch: &[ReminderNotice]) -> DbResult<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
    let users: Vec<Uuid> = batch.iter().map(|n| n.user_id).collect();
    let tasks: Vec<Uuid> = batch.iter().map(|n| n.task_id).collect();
    let causes: Vec<String> = batch.iter().map(|n| n.cause.clone()).collect();
    let late: Vec<bool> = batch.iter().map(|n| n.late).collect();
    tx.execute(
        "INSERT INTO notifications (id, user_id, kind, task_id, cause, late) \
         SELECT n.id, n.user_id, $6, n.task_id, n.cause, n.late \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::bool[]) \
              AS n(id, user_id, task_id, cause, late) \
         JOIN users u ON u.id = n.user_id \
         ORDER BY n.id \
         ON CONFLICT (user_id, cause) DO NOTHING",
        params![ids, users, tasks, causes, late, Kind::Reminder],
    )
    .await
}

impl FromRow for Notification {
    fn from_row(row: &Row) -> DbResult<Self> {
        let actor = Actor::from_columns(row, "actor_id", "actor_name")?;
        Ok(Notification {
            id: get(row, "id")?,
            kind: get(row, "kind")?,
            task: NotifiedTask {
                id: get(row, "task_id")?,
                project_id: get(row, "project_id")?,
                number: get(row, "number")?,
                title: get(row, "title")?,
            },
            actor,
            comment_id: get(row, "comment_id")?,
            late: get(row, "late")?,
            created_at: get(row, "created_at")?,
            read_at: get(row, "read_at")?,
        })
    }
}

/// A user's notifications about tasks of projects they are a member of now (membership is
/// read here, so leaving a project hides its notifications at once), newest first, below the
/// id `before`. The unread list has its own statement so that it can use its partial index.
static LIST_SQL: LazyLock<[String; 2]> = LazyLock::new(|| {
    let sql = |unread: &str| {
        format!(
            "SELECT n.id, n.kind, n.task_id, t.project_id, t.number, t.title, \
                 n.actor_id, u.name AS actor_name, n.comment_id, n.late, n.created_at, n.read_at \
             FROM notifications n \
             JOIN tasks t ON t.id = n.task_id \
             JOIN memberships m ON m.project_id = t.project_id AND m.user_id = n.user_id \
             LEFT JOIN users u ON u.id = n.actor_id \
             WHERE n.user_id = $1 AND ($2::uuid IS NULL OR n.id < $2){unread} \
             ORDER BY n.id DESC LIMIT $3"
        )
    };
    [sql(""), sql(" AND n.read_at IS NULL")]
});

pub async fn list(
    db: &impl Exec,
    user_id: Uuid,
    unread_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<Notification>> {
    let sql = &LIST_SQL[usize::from(unread_only)];
    db.fetch_all(sql, params![user_id, before, limit]).await
}

/// Marks the user's notifications with these ids read (others' ids match nothing); the
/// first time read is kept.
pub async fn mark_read(db: &impl Exec, user_id: Uuid, ids: Vec<Uuid>) -> DbResult<u64> {
    db.execute(
        "UPDATE notifications SET read_at = now() \
         WHERE user_id = $1 AND id = ANY($2) AND read_at IS NULL",
        params![user_id, ids],
    )
    .await
}

/// Marks every unread notification of the user read.
pub async fn mark_all_read(db: &impl Exec, user_id: Uuid) -> DbResult<u64> {
    db.execute(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
        params![user_id],
    )
    .await
}
