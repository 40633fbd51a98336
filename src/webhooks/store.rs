//! The `webhooks` and `webhook_deliveries` tables.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Delivery, Webhook};
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

const WEBHOOK_COLUMNS: &str = "id, project_id, url, events, description, active, \
    disabled_reason, created_at, last_delivery_at, last_status";

impl FromRow for Webhook {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            project_id: get(row, "project_id")?,
            url: get(row, "url")?,
            events: get(row, "events")?,
            description: get(row, "description")?,
            active: get(row, "active")?,
            disabled_reason: get(row, "disabled_reason")?,
            created_at: get(row, "created_at")?,
            last_delivery_at: get(row, "last_delivery_at")?,
            last_status: get(row, "last_status")?,
        })
    }
}

const DELIVERY_COLUMNS: &str = "id, event_id, kind, attempt, status, response_status, error, \
    duration_ms, created_at, next_attempt_at";

impl FromRow for Delivery {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            event_id: get(row, "event_id")?,
            kind: get(row, "kind")?,
            attempt: get(row, "attempt")?,
            status: get(row, "status")?,
            response_status: get(row, "response_status")?,
            error: get(row, "error")?,
            duration_ms: get(row, "duration_ms")?,
            created_at: get(row, "created_at")?,
            next_attempt_at: get(row, "next_attempt_at")?,
        })
    }
}

pub struct NewWebhook<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub sealed_secret: &'a [u8],
    /// The history's last id now: the webhook gets what happens after it is registered.
    pub position: i64,
}

pub async fn insert(tx: &Tx, new: &NewWebhook<'_>) -> DbResult<Webhook> {
    let sql = format!(
        "INSERT INTO webhooks (id, project_id, url, events, description, secret, position) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {WEBHOOK_COLUMNS}"
    );
    tx.fetch_one(
        &sql,
        params![
            new.id,
            new.project_id,
            new.url,
            new.events.to_vec(),
            new.description,
            new.sealed_secret,
            new.position
        ],
    )
    .await
}

pub async fn count_in_project(db: &impl Exec, project_id: Uuid) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS n FROM webhooks WHERE project_id = $1",
            params![project_id],
        )
        .await?;
    get(&row, "n")
}

/// A project's webhooks after `after` (by id), at most `limit`.
pub async fn list(
    db: &impl Exec,
    project_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks \
         WHERE project_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );
    db.fetch_all(&sql, params![project_id, after, limit]).await
}

/// The project a webhook belongs to (what its endpoints authorize against).
pub async fn project_of(db: &impl Exec, id: Uuid) -> DbResult<Option<Uuid>> {
    let row = db
        .query_opt("SELECT project_id FROM webhooks WHERE id = $1", params![id])
        .await?;
    row.map(|row| get(&row, "project_id")).transpose()
}

pub async fn find(db: &impl Exec, id: Uuid) -> DbResult<Option<Webhook>> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
    db.fetch_opt(&sql, params![id]).await
}

/// A change of a webhook; `None` leaves a field as it is.
pub struct Patch<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    /// `Some(None)` clears it.
    pub description: Option<Option<&'a str>>,
    pub active: Option<bool>,
}

/// Applies a change. A new URL or a webhook switched on again is tried at once: its failure
/// run, retry wait and disabling reason are forgotten (its position is kept: what happened
/// meanwhile is still delivered).
pub async fn update(tx: &Tx, id: Uuid, patch: &Patch<'_>) -> DbResult<Option<Webhook>> {
    let sql = format!(
        "UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3, events), \
             description = CASE WHEN $4 THEN $5 ELSE description END, \
             active = coalesce($6, active), \
             disabled_reason = CASE WHEN $6 OR $2 IS NOT NULL THEN NULL ELSE disabled_reason END, \
             failing_since = CASE WHEN $6 OR $2 IS NOT NULL THEN NULL ELSE failing_since END, \
             retry_at = CASE WHEN $6 OR $2 IS NOT NULL THEN NULL ELSE retry_at END \
         WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}"
    );
    tx.fetch_opt(
        &sql,
        params![
            id,
            patch.url,
            patch.events.map(<[String]>::to_vec),
            patch.description.is_some(),
            patch.description.flatten(),
            patch.active
        ],
    )
    .await
}

pub async fn delete(db: &impl Exec, id: Uuid) -> DbResult<bool> {
    Ok(db
        .execute("DELETE FROM webhooks WHERE id = $1", params![id])
        .await?
        > 0)
}

/// Replaces the secret; the current one keeps signing for `overlap_secs`.
pub async fn rotate(
    tx: &Tx,
    id: Uuid,
    sealed_secret: &[u8],
    overlap_secs: f64,
) -> DbResult<Option<Webhook>> {
    let sql = format!(
        "UPDATE webhooks SET previous_secret = secret, secret = $2, \
             previous_until = now() + make_interval(secs => $3) \
         WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}"
    );
    tx.fetch_opt(&sql, params![id, sealed_secret, overlap_secs])
        .await
}

/// A webhook's attempts, newest first.
pub async fn deliveries(
    db: &impl Exec,
    webhook_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
         WHERE webhook_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    );
    db.fetch_all(&sql, params![webhook_id, before, limit]).await
}

/// Asks for a delivery by hand (a ping, or a redelivery of an earlier event with its id and
/// body): a `pending` row the worker sends before the webhook's next event.
pub async fn enqueue(
    db: &impl Exec,
    webhook_id: Uuid,
    event_id: &str,
    kind: &str,
    payload: &str,
) -> DbResult<Uuid> {
    let id = Uuid::now_v7();
    db.execute(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, attempt, status) \
         VALUES ($1, $2, $3, $4, $5, 1, 'pending')",
        params![id, webhook_id, event_id, kind, payload],
    )
    .await?;
    Ok(id)
}

/// Queues a redelivery of one of the webhook's deliveries; false when there is no such one.
pub async fn redeliver(db: &impl Exec, webhook_id: Uuid, delivery_id: Uuid) -> DbResult<bool> {
    Ok(db
        .execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, attempt, status) \
             SELECT $3, webhook_id, event_id, kind, payload, 1, 'pending' \
             FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2",
            params![webhook_id, delivery_id, Uuid::now_v7()],
        )
        .await?
        > 0)
}

/// Attempts are kept 30 days (a delivery asked for by hand and never attempted stays).
pub async fn purge_expired(db: &impl Exec) -> DbResult<u64> {
    db.execute(
        "DELETE FROM webhook_deliveries \
         WHERE status <> 'pending' AND created_at < now() - interval '30 days'",
        params![],
    )
    .await
}

// ---- The delivery worker's side ----

/// A webhook a worker holds (its row locked until the worker's transaction ends).
pub struct Claimed {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub secret: Vec<u8>,
    pub previous_secret: Option<Vec<u8>>,
    pub position: i64,
    pub head_attempts: i32,
    pub failing_since: Option<DateTime<Utc>>,
    /// Whether a delivery asked for by hand waits (it goes first).
    pub has_pending: bool,
}

impl FromRow for Claimed {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            project_id: get(row, "project_id")?,
            url: get(row, "url")?,
            events: get(row, "events")?,
            active: get(row, "active")?,
            secret: get(row, "secret")?,
            previous_secret: get(row, "previous_secret")?,
            position: get(row, "position")?,
            head_attempts: get(row, "head_attempts")?,
            failing_since: get(row, "failing_since")?,
            has_pending: get(row, "has_pending")?,
        })
    }
}

/// Takes the webhook that waited longest among those with work due — a delivery asked for by
/// hand, or (active, and not waiting to retry) an entry of its project after its position that
/// it wants — skipping those another worker holds. The row stays locked until `tx` ends: one
/// delivery in flight per webhook, on any number of instances.
///
/// A lock, not an update: the turn's one `UPDATE` (`save_turn`, `finish_pending`) moves
/// `claimed_at` with everything else. A row updated twice in one transaction has its foreign
/// key checked again at the second update (PostgreSQL cannot tell the first was not an insert),
/// and that check's `KEY SHARE` lock on the project's row, which every task create updates,
/// turned that row's versions into multixacts: ~25 µs of every write with five webhooks
/// (docs/performance.md, "Webhooks: one update a turn").
pub async fn claim(tx: &Tx) -> DbResult<Option<Claimed>> {
    tx.fetch_opt(
        "SELECT h.id, h.project_id, h.url, h.events, h.active, h.secret, \
             CASE WHEN h.previous_until > now() THEN h.previous_secret END AS previous_secret, \
             h.position, h.head_attempts, h.failing_since, \
             EXISTS (SELECT 1 FROM webhook_deliveries d \
                     WHERE d.webhook_id = h.id AND d.status = 'pending') AS has_pending \
         FROM webhooks h \
         WHERE EXISTS (SELECT 1 FROM webhook_deliveries d \
                       WHERE d.webhook_id = h.id AND d.status = 'pending') \
            OR (h.active AND (h.retry_at IS NULL OR h.retry_at <= now()) \
                AND EXISTS (SELECT 1 FROM activity a \
                            WHERE a.project_id = h.project_id AND a.id > h.position \
                              AND ('*' = ANY(h.events) OR a.kind = ANY(h.events)))) \
         ORDER BY h.claimed_at FOR NO KEY UPDATE SKIP LOCKED LIMIT 1",
        params![],
    )
    .await
}

/// The oldest delivery asked for by hand and not yet attempted.
pub struct Pending {
    pub id: Uuid,
    pub event_id: String,
    pub payload: String,
}

impl FromRow for Pending {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            event_id: get(row, "event_id")?,
            payload: get(row, "payload")?,
        })
    }
}

pub async fn next_pending(tx: &Tx, webhook_id: Uuid) -> DbResult<Option<Pending>> {
    tx.fetch_opt(
        "SELECT id, event_id, payload FROM webhook_deliveries \
         WHERE webhook_id = $1 AND status = 'pending' ORDER BY id LIMIT 1",
        params![webhook_id],
    )
    .await
}

/// How an attempt went, as recorded.
pub struct Recorded<'a> {
    pub delivered: bool,
    pub response_status: Option<i32>,
    pub error: Option<&'a str>,
    pub duration_ms: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Records the attempt of a delivery asked for by hand, in its own row, and the webhook's turn.
pub async fn finish_pending(tx: &Tx, webhook_id: Uuid, id: Uuid, r: &Recorded<'_>) -> DbResult<()> {
    tx.execute(
        "WITH attempt AS ( \
             UPDATE webhook_deliveries \
             SET status = CASE WHEN $3 THEN 'delivered' ELSE 'failed' END, \
                 response_status = $4, error = $5, duration_ms = $6, created_at = now() \
             WHERE id = $2) \
         UPDATE webhooks SET claimed_at = now() WHERE id = $1",
        params![
            webhook_id,
            id,
            r.delivered,
            r.response_status,
            r.error,
            r.duration_ms
        ],
    )
    .await?;
    Ok(())
}

/// The attempts of a turn at the webhook's history, column by column: the turn writes them
/// all with its new state in one statement (`save_turn`), one round trip instead of one each.
#[derive(Default)]
pub struct Attempts {
    ids: Vec<Uuid>,
    event_ids: Vec<String>,
    kinds: Vec<String>,
    payloads: Vec<String>,
    numbers: Vec<i32>,
    delivered: Vec<bool>,
    response_statuses: Vec<Option<i32>>,
    errors: Vec<Option<String>>,
    durations_ms: Vec<i32>,
    next_attempts_at: Vec<Option<DateTime<Utc>>>,
}

impl Attempts {
    pub fn push(
        &mut self,
        event_id: String,
        kind: &str,
        payload: String,
        number: i32,
        r: &Recorded,
    ) {
        self.ids.push(Uuid::now_v7());
        self.event_ids.push(event_id);
        self.kinds.push(kind.to_owned());
        self.payloads.push(payload);
        self.numbers.push(number);
        self.delivered.push(r.delivered);
        self.response_statuses.push(r.response_status);
        self.errors.push(r.error.map(str::to_owned));
        self.durations_ms.push(r.duration_ms);
        self.next_attempts_at.push(r.next_attempt_at);
    }
}

/// Where a webhook stands after a worker's turn.
pub struct State<'a> {
    pub position: i64,
    pub head_attempts: i32,
    pub retry_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    /// `delivered` or `failed`, when anything was attempted.
    pub last_status: Option<&'static str>,
    /// Set when the failures lasted long enough to disable it.
    pub disabled_reason: Option<&'a str>,
}

/// Records a turn: its attempts, and where the webhook stands after them (and when its turn
/// was, which orders the claims).
pub async fn save_turn(tx: &Tx, id: Uuid, attempts: &Attempts, s: &State<'_>) -> DbResult<()> {
    tx.execute(
        "WITH attempts AS ( \
             INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, attempt, \
                 status, response_status, error, duration_ms, next_attempt_at) \
             SELECT a.id, $1, a.event_id, a.kind, a.payload, a.attempt, \
                 CASE WHEN a.delivered THEN 'delivered' ELSE 'failed' END, \
                 a.response_status, a.error, a.duration_ms, a.next_attempt_at \
             FROM unnest($8::uuid[], $9::text[], $10::text[], $11::text[], $12::int4[], \
                 $13::bool[], $14::int4[], $15::text[], $16::int4[], $17::timestamptz[]) \
                 AS a(id, event_id, kind, payload, attempt, delivered, response_status, error, \
                     duration_ms, next_attempt_at)) \
         UPDATE webhooks SET claimed_at = now(), position = $2, head_attempts = $3, \
             retry_at = $4, failing_since = $5, \
             last_status = coalesce($6, last_status), \
             last_delivery_at = CASE WHEN $6 IS NULL THEN last_delivery_at ELSE now() END, \
             active = active AND $7::text IS NULL, \
             disabled_reason = coalesce($7, disabled_reason) \
         WHERE id = $1",
        params![
            id,
            s.position,
            s.head_attempts,
            s.retry_at,
            s.failing_since,
            s.last_status,
            s.disabled_reason,
            attempts.ids,
            attempts.event_ids,
            attempts.kinds,
            attempts.payloads,
            attempts.numbers,
            attempts.delivered,
            attempts.response_statuses,
            attempts.errors,
            attempts.durations_ms,
            attempts.next_attempts_at
        ],
    )
    .await?;
    Ok(())
}

/// Deliveries that wait (by hand) plus webhooks behind their history, and the age in seconds
/// of the oldest entry not yet delivered to an active webhook: the outbox's depth for metrics.
pub async fn backlog(db: &impl Exec) -> DbResult<(i64, f64)> {
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') \
                  + (SELECT count(*) FROM webhooks w JOIN activity a \
                     ON a.project_id = w.project_id AND a.id > w.position \
                     AND ('*' = ANY(w.events) OR a.kind = ANY(w.events)) WHERE w.active) AS depth, \
                 coalesce(extract(epoch FROM now() - (SELECT min(a.at) FROM webhooks w \
                     JOIN activity a ON a.project_id = w.project_id AND a.id > w.position \
                     AND ('*' = ANY(w.events) OR a.kind = ANY(w.events)) WHERE w.active)), 0)::float8 AS age",
            params![],
        )
        .await?;
    Ok((get(&row, "depth")?, get(&row, "age")?))
}
