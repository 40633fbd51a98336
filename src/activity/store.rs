//! The history's tables: `activity`, where a transaction's entries are written at its commit
//! and every reader reads up to the published position; `journal_watermark`, that position;
//! and `activity_pending`, where a transaction that writes very many entries sets them aside
//! until its commit (see `journal`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Actor, Change, Entry, Record, SyncCounts};
use crate::db::{get, DbResult, Exec, FromRow, JournalSql, Row, Tx};
use crate::params;

/// The channel every publication that moved the watermark notifies, with the new position as
/// payload: a doorbell only; the table is the truth.
pub const CHANNEL: &str = "docket_activity";

/// The writers' lock, "docketWM": shared by every commit that writes entries, from before its
/// entries take their ids to its end; tried exclusively by a publisher (`journal::publish`).
pub const WRITERS_LOCK: i64 = 0x646f_636b_6574_574d;

/// The entry columns of `$1`, a JSON array, in its order: `jsonb_to_recordset` types them in
/// one pass (a JSON `null` is SQL `NULL`).
macro_rules! from_json_rows {
    () => {
        "FROM ROWS FROM (jsonb_to_recordset($1) AS (actor_id uuid, kind text, project_id uuid, \
             task_id uuid, comment_id uuid, user_id uuid, changes jsonb, counts jsonb)) \
         WITH ORDINALITY AS e(actor_id, kind, project_id, task_id, comment_id, user_id, \
             changes, counts, ord) \
         ORDER BY e.ord"
    };
}

macro_rules! entry_columns {
    () => {
        "actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts"
    };
}

/// How `Tx::journal` writes entries. At commit, in one round trip: the writers' lock (shared:
/// writers never wait for each other), the entries into `activity`, where the identity column
/// numbers them in the order they were recorded, and the COMMIT, which releases the lock.
pub(super) static JOURNAL: JournalSql = JournalSql {
    before: "SELECT pg_advisory_xact_lock_shared(7237112439122450253)",
    append: concat!(
        "INSERT INTO activity (",
        entry_columns!(),
        ") SELECT e.actor_id, e.kind, e.project_id, e.task_id, e.comment_id, e.user_id, \
         e.changes, e.counts ",
        from_json_rows!()
    ),
    stage: concat!(
        "WITH staged AS (INSERT INTO activity_pending (",
        entry_columns!(),
        ") SELECT e.actor_id, e.kind, e.project_id, e.task_id, e.comment_id, e.user_id, \
         e.changes, e.counts ",
        from_json_rows!(),
        " RETURNING id) SELECT min(id) AS first, max(id) AS last FROM staged"
    ),
    // Only this transaction's rows are in that range: another's are invisible until it
    // commits, and its commit moves them out in the same way.
    publish_staged: concat!(
        "WITH moved AS (DELETE FROM activity_pending WHERE id BETWEEN $1 AND $2 \
             RETURNING id, at, ",
        entry_columns!(),
        ") INSERT INTO activity (at, ",
        entry_columns!(),
        ") SELECT at, ",
        entry_columns!(),
        " FROM moved ORDER BY id"
    ),
};

/// The position every in-order read stops at: an id at or below it is committed or will
/// never be (`journal`).
macro_rules! published {
    () => {
        "(SELECT position FROM journal_watermark)"
    };
}

/// An entry as `JOURNAL` reads it.
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
        &JOURNAL,
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

/// The last id the history's identity handed out (to a commit that may still be under way)
/// and the published position.
pub(super) async fn positions(db: &impl Exec) -> DbResult<(i64, i64)> {
    let row = db
        .query_one(
            concat!(
                "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END \
                         FROM activity_id_seq) AS handed_out, ",
                published!(),
                " AS published"
            ),
            params![],
        )
        .await?;
    Ok((get(&row, "handed_out")?, get(&row, "published")?))
}

const TRY_WRITERS_LOCK: &str = "SELECT pg_try_advisory_xact_lock(7237112439122450253) AS idle";

/// Whether no writer holds the writers' lock at this instant (the lock is released again at
/// once: the statement is its own transaction). A try, never a wait: a queued exclusive
/// request would make every writer queue behind it.
pub(super) async fn writers_idle(db: &impl Exec) -> DbResult<bool> {
    let row = db.query_one(TRY_WRITERS_LOCK, params![]).await?;
    get(&row, "idle")
}

/// Moves the published position up to `position` (never down: publishers of several
/// instances race) and notifies the readers when it moved.
pub(super) async fn publish(db: &impl Exec, position: i64) -> DbResult<()> {
    db.execute(
        "WITH moved AS (UPDATE journal_watermark SET position = $1 WHERE position < $1 \
             RETURNING position) \
         SELECT pg_notify('docket_activity', position::text) FROM moved",
        params![position],
    )
    .await?;
    Ok(())
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

/// `published!()`, for `format!`.
const PUBLISHED: &str = published!();

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
         WHERE a.task_id = $1 AND a.id < $3 AND a.id <= {PUBLISHED} \
         ORDER BY a.id DESC LIMIT $4"
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
    let sql = format!(
        "{SELECT_ENTRY} WHERE a.project_id = $1 AND a.id < $2 AND a.id <= {PUBLISHED} \
         ORDER BY a.id DESC LIMIT $3"
    );
    db.fetch_all(&sql, params![project_id, before.unwrap_or(i64::MAX), limit])
        .await
}

/// Entries after the id `after`, oldest first, of every project (`journal::after`).
pub(super) async fn after(db: &impl Exec, after: i64, limit: i64) -> DbResult<Vec<Entry>> {
    let sql =
        format!("{SELECT_ENTRY} WHERE a.id > $1 AND a.id <= {PUBLISHED} ORDER BY a.id LIMIT $2");
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
        "{SELECT_ENTRY} WHERE a.project_id = $1 AND a.id > $2 AND a.id <= {PUBLISHED} \
         AND ('*' = ANY($3::text[]) OR a.kind = ANY($3::text[])) ORDER BY a.id LIMIT $4"
    );
    db.fetch_all(&sql, params![project_id, after, kinds.to_vec(), limit])
        .await
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
         WHERE a.id > $2 AND a.id <= {PUBLISHED} AND ($3::uuid IS NULL OR a.project_id = $3) \
         ORDER BY a.id LIMIT $4"
    );
    db.fetch_all(&sql, params![user_id, after, project_id, limit])
        .await
}

/// The time of the first entry after `after`, if there is one (a resume that would skip more
/// than the retention is told to reload).
pub async fn first_after(db: &impl Exec, after: i64) -> DbResult<Option<DateTime<Utc>>> {
    let row = db
        .query_opt(
            concat!(
                "SELECT at FROM activity WHERE id > $1 AND id <= ",
                published!(),
                " ORDER BY id LIMIT 1"
            ),
            params![after],
        )
        .await?;
    row.map(|row| get(&row, "at")).transpose()
}

/// The published position (0 before the first entry): every entry at or below it that will
/// ever be readable is (where a new webhook or a stream from now on starts).
pub async fn latest_id(db: &impl Exec) -> DbResult<i64> {
    let row = db
        .query_one(concat!("SELECT ", published!(), " AS id"), params![])
        .await?;
    get(&row, "id")
}

/// A deleted project's history goes with it.
pub async fn forget_project(tx: &Tx, project_id: Uuid) -> DbResult<()> {
    tx.execute(
        "DELETE FROM activity WHERE project_id = $1",
        params![project_id],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_take_and_try_the_writers_lock() {
        let key = WRITERS_LOCK.to_string();
        assert!(JOURNAL.before.contains(&format!("_shared({key})")));
        assert!(TRY_WRITERS_LOCK.contains(&format!("_try_advisory_xact_lock({key})")));
        assert_eq!(key, "7237112439122450253");
    }
}
