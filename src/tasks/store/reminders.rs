//! The `task_reminders` table (API.md §19): a task's reminders with their computed fire
//! times, rewritten whenever the list or what it counts from changes, and claimed by the
//! periodic scan (`tasks::reminders::run_job`).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

use crate::auth::domain::TimeZoneName;
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::tasks::reminders::{Reminder, Reminders, Schedule, Spec};

/// The reminders of a task as `TASK_COLUMNS` reads them (`reminders`, a subquery of this
/// table when `tasks.reminder_count` is not 0: in a `RETURNING` it shows them as they were
/// before the statement, which is why a write sets them, and the count, before the task's own
/// UPDATE).
pub fn from_json(value: serde_json::Value) -> Vec<Reminder> {
    serde_json::from_value(value).unwrap_or_default()
}

struct Stored {
    id: Uuid,
    spec: Spec,
    fire_at: DateTime<Utc>,
    state: String,
    sent_at: Option<DateTime<Utc>>,
}

impl FromRow for Stored {
    fn from_row(row: &Row) -> DbResult<Self> {
        let before: Option<i32> = get(row, "before_minutes")?;
        let at: Option<DateTime<Utc>> = get(row, "at")?;
        let spec = match (before, at) {
            (Some(minutes), _) => Spec::Before(minutes),
            (None, Some(at)) => Spec::At(at),
            (None, None) => {
                return Err(crate::db::DbError::Decode(
                    "a reminder with neither before_minutes nor at".to_owned(),
                ))
            }
        };
        Ok(Self {
            id: get(row, "id")?,
            spec,
            fire_at: get(row, "fire_at")?,
            state: get(row, "state")?,
            sent_at: get(row, "sent_at")?,
        })
    }
}

/// The task's reminders, locked, in list order.
async fn locked(tx: &Tx, task_id: Uuid) -> DbResult<Vec<Stored>> {
    tx.fetch_all(
        "SELECT id, before_minutes, at, fire_at, state, sent_at FROM task_reminders \
         WHERE task_id = $1 ORDER BY position FOR UPDATE",
        params![task_id],
    )
    .await
}

/// The task's reminder list as it is now.
pub async fn of_task(tx: &Tx, task_id: Uuid) -> DbResult<Reminders> {
    Ok(Reminders::new(
        locked(tx, task_id)
            .await?
            .into_iter()
            .map(|s| s.spec)
            .collect(),
    ))
}

/// The zone relative reminders count in: the recipient's, read under a share lock of their
/// row, so that a change of their zone (which locks the row, then recomputes) is either seen
/// here or sees this write.
pub async fn recipient_zone(tx: &Tx, recipient: Uuid) -> DbResult<TimeZoneName> {
    let row = tx
        .query_opt(
            "SELECT time_zone FROM users WHERE id = $1 FOR SHARE",
            params![recipient],
        )
        .await?;
    let name: Option<String> = row.map(|row| get(&row, "time_zone")).transpose()?;
    Ok(TimeZoneName::from_stored(name.as_deref().unwrap_or("UTC")))
}

/// Makes `reminders` the task's list, each fire time computed from `schedule` (a relative
/// reminder without a due date is dropped: the handler refuses those it was given). A
/// reminder already in the list keeps whether it was sent while its fire time stays; one
/// whose time moved is due again — or `passed` when the new time is already gone, as is a
/// new one set for a time gone (it is never sent). Returns the list as the task shows it.
pub async fn write(
    tx: &Tx,
    task_id: Uuid,
    reminders: &Reminders,
    schedule: &Schedule,
) -> DbResult<Vec<Reminder>> {
    let old = locked(tx, task_id).await?;
    if old.is_empty() && reminders.as_slice().is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut rows = Vec::new();
    for spec in reminders.as_slice() {
        let Some(fire_at) = schedule.fire_time(*spec) else {
            continue;
        };
        let kept = old.iter().find(|o| o.spec == *spec && o.fire_at == fire_at);
        let (id, state, sent_at) = match kept {
            Some(o) => (o.id, o.state.clone(), o.sent_at),
            None if fire_at > now => (Uuid::now_v7(), "pending".to_owned(), None),
            None => (Uuid::now_v7(), "passed".to_owned(), None),
        };
        rows.push((id, *spec, fire_at, state, sent_at));
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let positions: Vec<i16> = (0..rows.len() as i16).collect();
    let before: Vec<Option<i32>> = rows.iter().map(|r| r.1.before_minutes()).collect();
    let at: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.1.at()).collect();
    let fire: Vec<DateTime<Utc>> = rows.iter().map(|r| r.2).collect();
    let states: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
    let sent: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.4).collect();
    tx.execute(
        "DELETE FROM task_reminders WHERE task_id = $1",
        params![task_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO task_reminders (id, task_id, position, before_minutes, at, fire_at, state, \
             sent_at) \
         SELECT n.id, $1, n.position, n.before_minutes, n.at, n.fire_at, n.state, n.sent_at \
         FROM unnest($2::uuid[], $3::int2[], $4::int4[], $5::timestamptz[], $6::timestamptz[], \
                     $7::text[], $8::timestamptz[]) \
              AS n(id, position, before_minutes, at, fire_at, state, sent_at)",
        params![task_id, ids, positions, before, at, fire, states, sent],
    )
    .await?;
    // Reads of the task run the reminders subquery only when this says there are some. It
    // counts the rows locked above, so it needs writing only when their number changes.
    if rows.len() != old.len() {
        tx.execute(
            "UPDATE tasks SET reminder_count = $2 WHERE id = $1",
            params![task_id, rows.len() as i16],
        )
        .await?;
    }
    Ok(rows
        .into_iter()
        .map(|(_, spec, fire_at, _, sent_at)| Reminder {
            before_minutes: spec.before_minutes(),
            at: spec.at(),
            fire_at,
            sent_at,
        })
        .collect())
}

/// The schedule of a task as it is stored now (its recipient's zone under a share lock).
async fn stored_schedule(tx: &Tx, task_id: Uuid) -> DbResult<Option<Schedule>> {
    let row = tx
        .query_opt(
            "SELECT due_date, due_time, coalesce(assignee_id, created_by) AS recipient \
             FROM tasks WHERE id = $1",
            params![task_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let due_date: Option<NaiveDate> = get(&row, "due_date")?;
    let due_time: Option<NaiveTime> = get(&row, "due_time")?;
    let recipient: Uuid = get(&row, "recipient")?;
    Ok(Some(Schedule {
        due_date,
        due_time,
        zone: recipient_zone(tx, recipient).await?,
    }))
}

/// Recomputes the fire times of these tasks' reminders from the tasks as they are now (their
/// recipient changed without a write of the task's dates: a member left, a zone changed).
pub async fn recompute(tx: &Tx, task_ids: &[Uuid]) -> DbResult<()> {
    for task_id in with_reminders(tx, task_ids).await? {
        if let Some(schedule) = stored_schedule(tx, task_id).await? {
            let list = of_task(tx, task_id).await?;
            write(tx, task_id, &list, &schedule).await?;
        }
    }
    Ok(())
}

/// Of these tasks, those with a relative reminder.
async fn with_reminders(tx: &Tx, task_ids: &[Uuid]) -> DbResult<Vec<Uuid>> {
    let rows = tx
        .query(
            "SELECT DISTINCT task_id FROM task_reminders \
             WHERE task_id = ANY($1) AND before_minutes IS NOT NULL ORDER BY task_id",
            params![task_ids.to_vec()],
        )
        .await?;
    rows.iter().map(|row| get(row, "task_id")).collect()
}

/// Recomputes the relative reminders of every task `user` receives the reminders of (their
/// time zone changed; the caller holds their row's lock from that change).
pub async fn recompute_for_recipient(tx: &Tx, user: Uuid) -> DbResult<()> {
    let rows = tx
        .query(
            "SELECT DISTINCT r.task_id FROM task_reminders r JOIN tasks t ON t.id = r.task_id \
             WHERE r.before_minutes IS NOT NULL AND coalesce(t.assignee_id, t.created_by) = $1 \
             ORDER BY r.task_id",
            params![user],
        )
        .await?;
    let ids: Vec<Uuid> = rows
        .iter()
        .map(|row| get(row, "task_id"))
        .collect::<DbResult<_>>()?;
    recompute(tx, &ids).await
}

/// A reminder the scan claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub task_id: Uuid,
    pub recipient: Uuid,
    pub fire_at: DateTime<Utc>,
    /// Its task was open (todo or in progress) and its recipient a member: it is sent. Else
    /// it is marked `passed`, and not sent later (the task reopened, the creator back).
    pub open: bool,
}

impl FromRow for Claimed {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            task_id: get(row, "task_id")?,
            recipient: get(row, "recipient")?,
            fire_at: get(row, "fire_at")?,
            open: get::<String>(row, "state")? == "sent",
        })
    }
}

/// Claims up to `limit` due reminders, oldest fire time first, marking each `sent` — when its
/// task is open and its recipient still a member of the task's project — or `passed`: the
/// caller writes the notifications in the same transaction, so a reminder is sent once
/// whichever instance claims it (`SKIP LOCKED`: two scans at once take different rows). A
/// creator who left the project is not told about it (nor emailed, §14). A range scan of
/// `task_reminders_due`.
pub async fn claim_due(tx: &Tx, limit: i64) -> DbResult<Vec<Claimed>> {
    tx.fetch_all(CLAIM_SQL, params![limit]).await
}

/// `claim_due`'s statement (bench/due-scan.sh runs it too).
pub const CLAIM_SQL: &str = "WITH due AS ( \
         SELECT id FROM task_reminders WHERE state = 'pending' AND fire_at <= now() \
         ORDER BY fire_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
     UPDATE task_reminders r \
     SET state = CASE WHEN s.sendable THEN 'sent' ELSE 'passed' END, \
         sent_at = CASE WHEN s.sendable THEN now() END \
     FROM due, tasks t, LATERAL (SELECT t.status IN ('todo', 'in_progress') AND EXISTS ( \
         SELECT 1 FROM memberships m WHERE m.project_id = t.project_id \
             AND m.user_id = coalesce(t.assignee_id, t.created_by)) AS sendable) s \
     WHERE r.id = due.id AND t.id = r.task_id \
     RETURNING r.id, r.task_id, coalesce(t.assignee_id, t.created_by) AS recipient, \
         r.fire_at, r.state";

/// The next occurrence of a recurring task carries the relative reminders of the one
/// completed (API.md §19), counted from its own due date.
pub async fn carry(tx: &Tx, from: Uuid, to: Uuid) -> DbResult<Vec<Reminder>> {
    let relative = of_task(tx, from).await?.relative_only();
    if relative.as_slice().is_empty() {
        return Ok(Vec::new());
    }
    match stored_schedule(tx, to).await? {
        Some(schedule) => write(tx, to, &relative, &schedule).await,
        None => Ok(Vec::new()),
    }
}
