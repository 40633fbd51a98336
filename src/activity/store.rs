//! The history's tables: `activity_pending`, where writers append (through the
//! transaction's journal), and `activity`, the numbered history the sequencer moves entries
//! into and every reader reads (see `journal`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Actor, Change, Entry, Record, SyncCounts};
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

/// The channel every numbering that moved entries notifies, with the highest id as payload: a
/// doorbell only; the table is the truth.
pub const CHANNEL: &str = "docket_activity";

/// Runs at commit with every entry of the transaction in `$1`, in the order they were
/// recorded: the pending identity keeps that order for the sequencer. `jsonb_to_recordset`
/// types the columns in one pass (a JSON `null` is SQL `NULL`).
const APPEND_SQL: &str = "INSERT INTO activity_pending \
         (actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts) \
     SELECT e.actor_id, e.kind, e.project_id, e.task_id, e.comment_id, e.user_id, e.changes, \
            e.counts \
     FROM ROWS FROM (jsonb_to_recordset($1) AS (actor_id uuid, kind text, project_id uuid, \
              task_id uuid, comment_id uuid, user_id uuid, changes jsonb, counts jsonb)) \
          WITH ORDINALITY AS e(actor_id, kind, project_id, task_id, comment_id, user_id, \
              changes, counts, ord) \
     ORDER BY e.ord";

/// Moves up to `$1` committed pending entries into the history, in the order they were
/// written, where the identity column numbers them, and notifies the highest id once. Only
/// under the numbering lock (`journal::number`), which serialises these transactions: so ids
/// become visible in the order they are handed out.
const NUMBER_SQL: &str = "WITH moved AS ( \
         DELETE FROM activity_pending WHERE id IN \
             (SELECT id FROM activity_pending ORDER BY id LIMIT $1) \
         RETURNING id, at, actor_id, kind, project_id, task_id, comment_id, user_id, changes, \
             counts), \
     numbered AS ( \
         INSERT INTO activity \
             (at, actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts) \
         SELECT at, actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts \
         FROM moved ORDER BY id \
         RETURNING id) \
     SELECT n.moved, CASE WHEN n.moved > 0 \
                THEN pg_notify('docket_activity', n.last::text) END AS notified \
     FROM (SELECT count(*) AS moved, max(id) AS last FROM numbered) n";

/// An entry as `APPEND_SQL` reads it.
#[derive(Serialize)]
struct PendingRow<'a> {
    actor_id: Option<Uuid>,
    kind: &'static str,
    project_id: Uuid,
    task_id: Option<Uuid>,
    comment_id: Option<Uuid>,
    user_id: Option<Uuid>,
    changes: &'a [Change],
    counts: Option<SyncCounts>,
}

pub(super) fn append(tx: &Tx, entry: Record) {
    tx.journal(
        APPEND_SQL,
        &PendingRow {
            actor_id: entry.actor_id,
            kind: entry.kind.as_str(),
            project_id: entry.project_id,
            task_id: entry.task_id,
            comment_id: entry.comment_id,
            user_id: entry.user_id,
            changes: &entry.changes,
            counts: entry.counts,
        },
    );
}

/// Numbers up to `limit` pending entries and commits (one round trip): returns how many.
pub(super) async fn number_pending(tx: Tx, limit: i64) -> DbResult<i64> {
    let rows = tx.commit_with(NUMBER_SQL, params![limit]).await?;
    match rows.first() {
        Some(row) => get(row, "moved"),
        None => Ok(0),
    }
}

/// Whether any committed entry waits to be numbered.
pub(super) async fn pending_exists(db: &impl Exec) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM activity_pending) AS pending",
            params![],
        )
        .await?;
    get(&row, "pending")
}

impl Actor {
    /// The user whose id is in `id_column` with their current name in `name_column` (a
    /// `LEFT JOIN users`); `None` for the server itself and for a user deleted since.
    pub fn from_columns(row: &Row, id_column: &str, name_column: &str) -> DbResult<Option<Self>> {
        Ok(
            match (
                get::<Option<Uuid>>(row, id_column)?,
                get::<Option<String>>(row, name_column)?,
            ) {
                (Some(id), Some(name)) => Some(Actor { id, name }),
                _ => None,
            },
        )
    }
}

impl FromRow for Entry {
    fn from_row(row: &Row) -> DbResult<Self> {
        let actor = Actor::from_columns(row, "actor_id", "actor_name")?;
        let changes: serde_json::Value = get(row, "changes")?;
        let counts: Option<serde_json::Value> = get(row, "counts")?;
        Ok(Entry {
            id: get(row, "id")?,
            at: get(row, "at")?,
            actor,
            kind: get(row, "kind")?,
            project_id: get(row, "project_id")?,
            task_id: get(row, "task_id")?,
            comment_id: get(row, "comment_id")?,
            user_id: get(row, "user_id")?,
            changes: serde_json::from_value(changes)
                .map_err(|e| crate::db::DbError::Decode(e.to_string()))?,
            counts: counts
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| crate::db::DbError::Decode(e.to_string()))?,
        })
    }
}

/// Entry columns, with the actor's current name (a deleted actor has none).
const SELECT_ENTRY: &str = "SELECT a.id, a.at, a.actor_id, u.name AS actor_name, a.kind, \
     a.project_id, a.task_id, a.comment_id, a.user_id, a.changes, a.counts \
     FROM activity a LEFT JOIN users u ON u.id = a.actor_id";

/// A task's entries that `reader` may see, newest first, below the id `before` (the previous
/// page's last): those of the projects they are a member of now. An entry stays in the project
/// where its change happened, so a task moved in from elsewhere does not bring its past along
/// (API.md §9, "History stays where it was written").
pub async fn for_task(
    db: &impl Exec,
    task_id: Uuid,
    reader: Uuid,
    before: Option<i64>,
    limit: i64,
) -> DbResult<Vec<Entry>> {
    let sql = format!(
        "{SELECT_ENTRY} JOIN memberships m ON m.project_id = a.project_id AND m.user_id = $2 \
         WHERE a.task_id = $1 AND a.id < $3 ORDER BY a.id DESC LIMIT $4"
    );
    db.fetch_all(
        &sql,
        params![task_id, reader, before.unwrap_or(i64::MAX), limit],
    )
    .await
}

/// A project's entries (deleted tasks' included), newest first, below the id `before`.
pub async fn for_project(
    db: &impl Exec,
    project_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> DbResult<Vec<Entry>> {
    let sql =
        format!("{SELECT_ENTRY} WHERE a.project_id = $1 AND a.id < $2 ORDER BY a.id DESC LIMIT $3");
    db.fetch_all(&sql, params![project_id, before.unwrap_or(i64::MAX), limit])
        .await
}

/// Entries after the id `after`, oldest first, of every project (`journal::after`).
pub(super) async fn after(db: &impl Exec, after: i64, limit: i64) -> DbResult<Vec<Entry>> {
    let sql = format!("{SELECT_ENTRY} WHERE a.id > $1 ORDER BY a.id LIMIT $2");
    db.fetch_all(&sql, params![after, limit]).await
}

/// One project's entries after the id `after`, oldest first, of the given kinds (`*`: all):
/// what a webhook delivers next.
pub async fn project_after(
    db: &impl Exec,
    project_id: Uuid,
    after: i64,
    kinds: &[String],
    limit: i64,
) -> DbResult<Vec<Entry>> {
    let sql = format!(
        "{SELECT_ENTRY} WHERE a.project_id = $1 AND a.id > $2 \
         AND ('*' = ANY($3::text[]) OR a.kind = ANY($3::text[])) ORDER BY a.id LIMIT $4"
    );
    db.fetch_all(&sql, params![project_id, after, kinds.to_vec(), limit])
        .await
}

/// The highest id numbered so far (0 before the first): where a new webhook starts.
pub async fn last_id(db: &impl Exec) -> DbResult<i64> {
    let row = db
        .query_one("SELECT coalesce(max(id), 0) AS id FROM activity", params![])
        .await?;
    get(&row, "id")
}

/// Entries after the id `after`, oldest first, of the projects `user_id` is a member of now
/// (only `project_id` when given): what a resumed event stream replays.
pub async fn visible_after(
    db: &impl Exec,
    user_id: Uuid,
    project_id: Option<Uuid>,
    after: i64,
    limit: i64,
) -> DbResult<Vec<Entry>> {
    let sql = format!(
        "{SELECT_ENTRY} JOIN memberships m ON m.project_id = a.project_id AND m.user_id = $1 \
         WHERE a.id > $2 AND ($3::uuid IS NULL OR a.project_id = $3) ORDER BY a.id LIMIT $4"
    );
    db.fetch_all(&sql, params![user_id, after, project_id, limit])
        .await
}

/// The time of the first entry after `after`, if there is one (a resume that would skip more
/// than the retention is told to reload).
pub async fn first_after(db: &impl Exec, after: i64) -> DbResult<Option<DateTime<Utc>>> {
    let row = db
        .query_opt(
            "SELECT at FROM activity WHERE id > $1 ORDER BY id LIMIT 1",
            params![after],
        )
        .await?;
    row.map(|row| get(&row, "at")).transpose()
}

/// The highest id written so far (0 when there is none).
pub async fn latest_id(db: &impl Exec) -> DbResult<i64> {
    let row = db
        .query_one("SELECT coalesce(max(id), 0) AS id FROM activity", params![])
        .await?;
    get(&row, "id")
}

/// A deleted project's history goes with it. Pending entries first: a numbering that is
/// moving some of them holds their row locks, so this statement waits for it to commit, and
/// the next one then finds them in `activity`.
pub async fn forget_project(tx: &Tx, project_id: Uuid) -> DbResult<()> {
    tx.execute(
        "DELETE FROM activity_pending WHERE project_id = $1",
        params![project_id],
    )
    .await?;
    tx.execute(
        "DELETE FROM activity WHERE project_id = $1",
        params![project_id],
    )
    .await?;
    Ok(())
}
