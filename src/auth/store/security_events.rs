//! The account's security log (the `security_events` table), kept 90 days.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// How long entries are kept.
pub const RETENTION_DAYS: i64 = 90;

/// One entry as stored (`auth::security_log` gives it its meaning).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: Uuid,
    pub kind: String,
    pub method: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl FromRow for StoredEvent {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            kind: get(row, "kind")?,
            method: get(row, "method")?,
            address: get(row, "address")?,
            user_agent: get(row, "user_agent")?,
            detail: get(row, "detail")?,
            created_at: get(row, "created_at")?,
        })
    }
}

pub struct NewEvent<'a> {
    pub user_id: Uuid,
    pub kind: &'a str,
    pub method: Option<&'a str>,
    pub address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub async fn insert(db: &impl Exec, event: NewEvent<'_>) -> DbResult<()> {
    db.execute(
        "INSERT INTO security_events (id, user_id, kind, method, address, user_agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![
            Uuid::now_v7(),
            event.user_id,
            event.kind,
            event.method,
            event.address,
            event.user_agent,
            event.detail
        ],
    )
    .await?;
    Ok(())
}

/// A user's entries, newest first, after the keyset position `before` (exclusive).
pub async fn list_of_user(
    db: &impl Exec,
    user_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DbResult<Vec<StoredEvent>> {
    db.fetch_all(
        "SELECT id, kind, method, address, user_agent, detail, created_at FROM security_events \
         WHERE user_id = $1 AND created_at > now() - make_interval(days => $2) \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5",
        params![
            user_id,
            RETENTION_DAYS as i32,
            before.map(|b| b.0),
            before.map(|b| b.1),
            limit
        ],
    )
    .await
}

/// Deletes the entries past their keeping (maintenance).
pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
    db.execute(
        "DELETE FROM security_events WHERE created_at < now() - make_interval(days => $1)",
        params![RETENTION_DAYS as i32],
    )
    .await?;
    Ok(())
}
