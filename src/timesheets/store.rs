//! The `time_entries` table: every statement that reads or writes it. The task's total follows
//! each write by the table's trigger.

use chrono::{DateTime, Utc};

use uuid::Uuid;

use super::TimeEntry;
use crate::activity::Actor;
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::projects::access::ProjectAccess;

impl FromRow for TimeEntry {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            task_id: get(row, "task_id")?,
            user: Actor {
                id: get(row, "user_id")?,
                name: get(row, "user_name")?,
            },
            started_at: get(row, "started_at")?,
            ended_at: get(row, "ended_at")?,
            minutes: get(row, "shown_minutes")?,
            note: get(row, "note")?,
            created_at: get(row, "created_at")?,
        })
    }
}

/// An entry's minutes: those so far while its timer runs.
const MINUTES: &str = "CASE WHEN e.ended_at IS NULL \
     THEN greatest(floor(extract(epoch FROM now() - e.started_at) / 60), 0)::int \
     ELSE e.minutes END";

fn columns() -> String {
    format!(
        "e.id, e.task_id, e.user_id, u.name AS user_name, e.started_at, e.ended_at, \
         {MINUTES} AS shown_minutes, e.note, e.created_at"
    )
}

/// One entry, with the project of its task.
pub async fn find(db: &impl Exec, id: Uuid) -> DbResult<Option<TimeEntry>> {
    db.fetch_opt(
        &format!(
            "SELECT {} FROM time_entries e JOIN users u ON u.id = e.user_id WHERE e.id = $1",
            columns()
        ),
        params![id],
    )
    .await
}

/// Makes the caller's timer changes one at a time (a start and a stop racing).
async fn lock_timer(tx: &Tx, user: Uuid) -> DbResult<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('timer:' || $1::text, 0))",
        params![user],
    )
    .await
    .map(|_| ())
}

/// Stops the user's running timer, on `task` or (`None`) wherever it runs; the stopped entry.
pub async fn stop(tx: &Tx, user: Uuid, task: Option<Uuid>) -> DbResult<Option<TimeEntry>> {
    lock_timer(tx, user).await?;
    tx.fetch_opt(
        &format!(
            // The clock now, not the transaction's start (`now()`): a start that waited on the
            // lock began before the entry it stops.
            "WITH e AS (UPDATE time_entries SET ended_at = greatest(clock_timestamp(), started_at), \
                 minutes = least(greatest(floor(extract(epoch FROM \
                     clock_timestamp() - started_at) / 60), 0), 100000)::int \
             WHERE user_id = $1 AND ended_at IS NULL AND ($2::uuid IS NULL OR task_id = $2) \
             RETURNING *) \
             SELECT {} FROM e JOIN users u ON u.id = e.user_id",
            columns()
        ),
        params![user, task],
    )
    .await
}

/// Starts the caller's timer on the task `access` entered (stopping the one that ran).
pub async fn start(tx: &Tx, access: &ProjectAccess, task: Uuid) -> DbResult<TimeEntry> {
    stop(tx, access.user_id(), None).await?;
    insert(tx, access.user_id(), task, None, None, 0, "").await
}

/// Adds an entry by hand, or a running one (`ended_at` `None`); `started_at` `None`: the
/// database's clock now.
pub async fn insert(
    tx: &Tx,
    user: Uuid,
    task: Uuid,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    minutes: i32,
    note: &str,
) -> DbResult<TimeEntry> {
    tx.fetch_one(
        &format!(
            "WITH e AS (INSERT INTO time_entries (id, task_id, user_id, started_at, ended_at, \
                 minutes, note) VALUES ($1, $2, $3, coalesce($4, clock_timestamp()), $5, $6, $7) \
                 RETURNING *) \
             SELECT {} FROM e JOIN users u ON u.id = e.user_id",
            columns()
        ),
        params![
            Uuid::now_v7(),
            task,
            user,
            started_at,
            ended_at,
            minutes,
            note
        ],
    )
    .await
}

/// Changes an entry: its start (a finished entry's end follows, its length kept unless
/// `minutes` changes it), its minutes (a finished entry only) and its note.
pub async fn update(
    tx: &Tx,
    id: Uuid,
    started_at: Option<DateTime<Utc>>,
    minutes: Option<i32>,
    note: Option<&str>,
) -> DbResult<Option<TimeEntry>> {
    tx.fetch_opt(
        &format!(
            "WITH e AS (UPDATE time_entries t SET \
                 started_at = coalesce($2, t.started_at), \
                 minutes = coalesce($3, t.minutes), \
                 ended_at = CASE WHEN t.ended_at IS NULL THEN NULL \
                     ELSE coalesce($2, t.started_at) \
                         + make_interval(mins => coalesce($3, t.minutes)) END, \
                 note = coalesce($4, t.note) \
             WHERE t.id = $1 RETURNING t.*) \
             SELECT {} FROM e JOIN users u ON u.id = e.user_id",
            columns()
        ),
        params![id, started_at, minutes, note],
    )
    .await
}

pub async fn delete(tx: &Tx, id: Uuid) -> DbResult<bool> {
    Ok(tx
        .execute("DELETE FROM time_entries WHERE id = $1", params![id])
        .await?
        > 0)
}

/// Whose entries a report reads.
pub enum Scope {
    /// A project's (the caller entered it), optionally one user's there.
    Project { project: Uuid, user: Option<Uuid> },
    /// A user's in every project they are a member of.
    Mine { user: Uuid },
}

/// The report's bounds on `started_at`: from (inclusive), to (exclusive).
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `$1` the project or user, `$2` the user filter, `$3`/`$4` the bounds.
fn report_from(scope: &Scope) -> &'static str {
    match scope {
        Scope::Project { .. } => {
            "FROM time_entries e JOIN tasks t ON t.id = e.task_id \
             JOIN users u ON u.id = e.user_id \
             WHERE t.project_id = $1 AND ($2::uuid IS NULL OR e.user_id = $2) \
               AND ($3::timestamptz IS NULL OR e.started_at >= $3) \
               AND ($4::timestamptz IS NULL OR e.started_at < $4)"
        }
        // Only entries on tasks of projects the user is still a member of.
        Scope::Mine { .. } => {
            "FROM time_entries e JOIN tasks t ON t.id = e.task_id \
             JOIN memberships m ON m.project_id = t.project_id AND m.user_id = $1 \
             JOIN users u ON u.id = e.user_id \
             WHERE e.user_id = $1 AND ($2::uuid IS NULL OR e.user_id = $2) \
               AND ($3::timestamptz IS NULL OR e.started_at >= $3) \
               AND ($4::timestamptz IS NULL OR e.started_at < $4)"
        }
    }
}

fn scope_params(scope: &Scope) -> (Uuid, Option<Uuid>) {
    match scope {
        Scope::Project { project, user } => (*project, *user),
        Scope::Mine { user } => (*user, None),
    }
}

/// A page of the report in (started_at, id) order after `after`; `limit` `None`: every entry
/// (the CSV export).
pub async fn report(
    db: &impl Exec,
    scope: &Scope,
    bounds: Bounds,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: Option<i64>,
) -> DbResult<Vec<TimeEntry>> {
    let (id, user) = scope_params(scope);
    let (after_at, after_id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    db.fetch_all(
        &format!(
            "SELECT {} {} AND ($5::timestamptz IS NULL OR (e.started_at, e.id) > ($5, $6)) \
             ORDER BY e.started_at, e.id LIMIT $7",
            columns(),
            report_from(scope)
        ),
        params![id, user, bounds.0, bounds.1, after_at, after_id, limit],
    )
    .await
}

/// The minutes of every entry of the report.
pub async fn total(db: &impl Exec, scope: &Scope, bounds: Bounds) -> DbResult<i64> {
    let (id, user) = scope_params(scope);
    let row = db
        .query_one(
            &format!(
                "SELECT coalesce(sum({MINUTES}), 0)::bigint AS total {}",
                report_from(scope)
            ),
            params![id, user, bounds.0, bounds.1],
        )
        .await?;
    get(&row, "total")
}
