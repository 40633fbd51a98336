//! Passkeys (the `passkeys` table): each a WebAuthn credential as webauthn-rs keeps it (public
//! key, signature counter), stored as JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// A passkey as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl FromRow for PasskeyInfo {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            name: get(row, "name")?,
            created_at: get(row, "created_at")?,
            last_used_at: get(row, "last_used_at")?,
        })
    }
}

/// A stored credential, for a ceremony.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub credential: serde_json::Value,
}

impl FromRow for StoredPasskey {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            user_id: get(row, "user_id")?,
            credential: get(row, "credential")?,
        })
    }
}

const INFO: &str = "id, name, created_at, last_used_at";

/// Stores a new passkey; `None` when this credential is registered already (to anyone).
pub async fn insert(
    db: &impl Exec,
    user_id: Uuid,
    credential_id: &[u8],
    name: &str,
    credential: serde_json::Value,
) -> DbResult<Option<PasskeyInfo>> {
    db.fetch_opt(
        &format!(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING RETURNING {INFO}"
        ),
        params![Uuid::now_v7(), user_id, credential_id, name, credential],
    )
    .await
}

pub async fn list_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<Vec<PasskeyInfo>> {
    db.fetch_all(
        &format!("SELECT {INFO} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"),
        params![user_id],
    )
    .await
}

/// The user's credentials (to exclude at registration, to allow as a second factor).
pub async fn credentials_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<Vec<StoredPasskey>> {
    db.fetch_all(
        "SELECT id, user_id, credential FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
        params![user_id],
    )
    .await
}

pub async fn find_by_credential_id(
    db: &impl Exec,
    credential_id: &[u8],
) -> DbResult<Option<StoredPasskey>> {
    db.fetch_opt(
        "SELECT id, user_id, credential FROM passkeys WHERE credential_id = $1",
        params![credential_id],
    )
    .await
}

/// After a use: the credential as updated (its counter), and when.
pub async fn record_use(
    db: &impl Exec,
    id: Uuid,
    credential: Option<serde_json::Value>,
) -> DbResult<()> {
    db.execute(
        "UPDATE passkeys SET last_used_at = now(), credential = coalesce($2, credential) \
         WHERE id = $1",
        params![id, credential],
    )
    .await?;
    Ok(())
}

pub async fn count_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS count FROM passkeys WHERE user_id = $1",
            params![user_id],
        )
        .await?;
    get(&row, "count")
}

/// Deletes one of the user's passkeys, returning its name; `None` when they have no such key.
pub async fn delete(db: &impl Exec, user_id: Uuid, id: Uuid) -> DbResult<Option<String>> {
    let row = db
        .query_opt(
            "DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name",
            params![id, user_id],
        )
        .await?;
    row.map(|row| get(&row, "name")).transpose()
}

/// Deletes every passkey of a user (an administrator's reset); how many there were.
pub async fn delete_all_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<u64> {
    db.execute("DELETE FROM passkeys WHERE user_id = $1", params![user_id])
        .await
}
