//! The notifications table.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{Kind, Notification, NotifiedTask, NotifiedWebhook, Notify};
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

/// Tells each of `users` that the webhook was switched off (`webhook_disabled`), in the
/// transaction that switches it off: each switch-off is a cause of its own.
pub async fn notify_webhook_disabled(tx: &Tx, users: &[Uuid], webhook_id: Uuid) -> DbResult<u64> {
    if users.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = users.iter().map(|_| Uuid::now_v7()).collect();
    let cause = format!("webhook_disabled:{webhook_id}:{}", Uuid::now_v7());
    tx.execute(
        "INSERT INTO notifications (id, user_id, kind, webhook_id, cause) \
         SELECT n.id, n.user_id, $3, $4, $5 \
         FROM unnest($1::uuid[], $2::uuid[]) AS n(id, user_id) \
         ORDER BY n.id \
         ON CONFLICT (user_id, cause) DO NOTHING",
        params![
            ids,
            users.to_vec(),
            Kind::WebhookDisabled,
            webhook_id,
            cause
        ],
    )
    .await
}

impl FromRow for Notification {
    fn from_row(row: &Row) -> DbResult<Self> {
        let actor = Actor::from_columns(row, "actor_id", "actor_name")?;
        let task = match get::<Option<Uuid>>(row, "task_id")? {
            Some(id) => Some(NotifiedTask {
                id,
                project_id: get(row, "project_id")?,
                number: get(row, "number")?,
                title: get(row, "title")?,
            }),
            None => None,
        };
        let webhook = match get::<Option<Uuid>>(row, "webhook_id")? {
            Some(id) => Some(NotifiedWebhook {
                id,
                project_id: get(row, "project_id")?,
                url: get(row, "webhook_url")?,
                disabled_reason: get(row, "disabled_reason")?,
            }),
            None => None,
        };
        Ok(Notification {
            id: get(row, "id")?,
            kind: get(row, "kind")?,
            task,
            webhook,
            actor,
            comment_id: get(row, "comment_id")?,
            late: get(row, "late")?,
            created_at: get(row, "created_at")?,
            read_at: get(row, "read_at")?,
        })
    }
}

/// A user's notifications about tasks (or webhooks) of projects they are a member of now (membership is
/// read here, so leaving a project hides its notifications at once), newest first, below the
/// id `before`. The unread list has its own statement so that it can use its partial index.
static LIST_SQL: LazyLock<[String; 2]> = LazyLock::new(|| {
    let sql = |unread: &str| {
        format!(
            "SELECT n.id, n.kind, n.task_id, coalesce(t.project_id, w.project_id) AS project_id, \
                 t.number, t.title, n.webhook_id, w.url AS webhook_url, w.disabled_reason, \
                 n.actor_id, u.name AS actor_name, n.comment_id, n.late, n.created_at, n.read_at \
             FROM notifications n \
             LEFT JOIN tasks t ON t.id = n.task_id \
             LEFT JOIN webhooks w ON w.id = n.webhook_id \
             JOIN memberships m ON m.project_id = coalesce(t.project_id, w.project_id) \
                               AND m.user_id = n.user_id \
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

// Digests (API.md §14): the notifications waiting for a user's next email, and the claim that
// makes that email once per user per interval (`notification_digests`).

/// Whether any user's digest is due: a notification has waited `interval_secs`, and the user
/// had no digest within that time. Reads only the waiting rows (`notifications_undigested`).
pub async fn any_digest_due(db: &impl Exec, interval_secs: f64) -> DbResult<bool> {
    let row = db
        .query_one(
            &format!("SELECT EXISTS ({DUE_SQL} LIMIT 1) AS due"),
            params![interval_secs],
        )
        .await?;
    get(&row, "due")
}

/// The users whose digest is due (see [`any_digest_due`]), at most `limit`.
pub async fn digests_due(db: &impl Exec, interval_secs: f64, limit: i64) -> DbResult<Vec<Uuid>> {
    let rows = db
        .query(
            &format!("{DUE_SQL} LIMIT $2"),
            params![interval_secs, limit],
        )
        .await?;
    rows.iter().map(|row| get(row, "user_id")).collect()
}

const DUE_SQL: &str = "SELECT DISTINCT n.user_id FROM notifications n \
     WHERE n.digested_at IS NULL AND n.created_at <= now() - make_interval(secs => $1) \
       AND NOT EXISTS (SELECT 1 FROM notification_digests d \
                       WHERE d.user_id = n.user_id \
                         AND d.sent_at > now() - make_interval(secs => $1))";

/// Claims the user's digest for this interval: true when this transaction may send it. The
/// upsert's row lock decides between instances; the loser sees the winner's `sent_at` and
/// gets false.
pub async fn claim_digest(tx: &Tx, user_id: Uuid, interval_secs: f64) -> DbResult<bool> {
    let claimed = tx
        .query_opt(
            "INSERT INTO notification_digests (user_id, sent_at) VALUES ($1, now()) \
             ON CONFLICT (user_id) DO UPDATE SET sent_at = now() \
             WHERE notification_digests.sent_at <= now() - make_interval(secs => $2) \
             RETURNING 1",
            params![user_id, interval_secs],
        )
        .await?;
    Ok(claimed.is_some())
}

/// What a digest tells about one task and one kind: how many, and who caused them.
#[derive(Debug, Clone)]
pub struct DigestRow {
    pub kind: String,
    pub task: NotifiedTask,
    pub project_name: String,
    pub count: i64,
    /// The actors' names, sorted, each once (the server's own reminders have none).
    pub actors: Vec<String>,
    pub last_at: chrono::DateTime<chrono::Utc>,
}

impl FromRow for DigestRow {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            kind: get(row, "kind")?,
            task: NotifiedTask {
                id: get(row, "task_id")?,
                project_id: get(row, "project_id")?,
                number: get(row, "number")?,
                title: get(row, "title")?,
            },
            project_name: get(row, "project_name")?,
            count: get(row, "count")?,
            actors: get(row, "actors")?,
            last_at: get(row, "last_at")?,
        })
    }
}

/// Takes every notification of the user that waits for a digest (marks it digested) and
/// returns what the email says of them, by task and kind: the unread ones, about tasks of
/// projects the user is still a member of (the rest are taken without being told, and so are
/// those about no task: `webhook_disabled` has an email of its own). Rows a
/// transaction has not committed yet are not seen, so they wait for the next digest. The
/// kind is read as text: kinds added later are told too.
pub async fn take_for_digest(tx: &Tx, user_id: Uuid) -> DbResult<Vec<DigestRow>> {
    tx.fetch_all(
        "WITH taken AS ( \
             UPDATE notifications SET digested_at = now() \
             WHERE user_id = $1 AND digested_at IS NULL \
             RETURNING user_id, kind, task_id, actor_id, created_at, read_at) \
         SELECT n.kind::text AS kind, n.task_id, t.project_id, p.name AS project_name, \
                t.number, t.title, count(*) AS count, max(n.created_at) AS last_at, \
                coalesce(array_agg(DISTINCT u.name ORDER BY u.name) \
                         FILTER (WHERE u.name IS NOT NULL), '{}') AS actors \
         FROM taken n \
         JOIN tasks t ON t.id = n.task_id \
         JOIN projects p ON p.id = t.project_id \
         JOIN memberships m ON m.project_id = t.project_id AND m.user_id = n.user_id \
         LEFT JOIN users u ON u.id = n.actor_id \
         WHERE n.read_at IS NULL \
         GROUP BY n.kind, n.task_id, t.project_id, p.name, t.number, t.title",
        params![user_id],
    )
    .await
}

/// Takes every notification that has waited `interval_secs` without telling anyone: what a
/// server without SMTP does, so that the waiting rows do not pile up.
pub async fn pass_over_digests(db: &impl Exec, interval_secs: f64) -> DbResult<u64> {
    db.execute(
        "UPDATE notifications SET digested_at = now() \
         WHERE digested_at IS NULL AND created_at <= now() - make_interval(secs => $1)",
        params![interval_secs],
    )
    .await
}
