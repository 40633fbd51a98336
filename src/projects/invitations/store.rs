//! `invitations`: people without an account invited to a project by email (API.md §14). Only a
//! token's hash is kept; accepting deletes the row (single use). Pending = not yet expired.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::projects::access::Role;

/// An invitation as its project's admins see it (never its token).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// `null` once the inviter's account is gone.
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    #[serde(skip)]
    pub project_id: Uuid,
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
}

impl FromRow for Invitation {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            email: get(row, "email")?,
            role: get(row, "role")?,
            invited_by: get(row, "invited_by")?,
            expires_at: get(row, "expires_at")?,
            project_id: get(row, "project_id")?,
            created_at: get(row, "created_at")?,
        })
    }
}

const COLUMNS: &str = "id, email, role, invited_by, expires_at, project_id, created_at";

/// Invites `email` (or invites it again: the earlier link stops working), valid `valid_secs`.
pub async fn upsert(
    tx: &Tx,
    project_id: Uuid,
    email: &str,
    role: Role,
    invited_by: Uuid,
    token_hash: &[u8],
    valid_secs: f64,
) -> DbResult<Invitation> {
    tx.fetch_one(
        &format!(
            "INSERT INTO invitations (id, project_id, email, role, invited_by, token_hash, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) \
             ON CONFLICT (project_id, lower(email)) DO UPDATE SET \
                 id = EXCLUDED.id, email = EXCLUDED.email, role = EXCLUDED.role, \
                 invited_by = EXCLUDED.invited_by, token_hash = EXCLUDED.token_hash, \
                 created_at = now(), expires_at = EXCLUDED.expires_at \
             RETURNING {COLUMNS}"
        ),
        params![
            Uuid::now_v7(),
            project_id,
            email,
            role,
            invited_by,
            token_hash,
            valid_secs
        ],
    )
    .await
}

/// How many invitations of a project are pending (the quota), counted under the project's lock.
pub async fn pending_count(tx: &Tx, project_id: Uuid) -> DbResult<i64> {
    let row = tx
        .query_one(
            "SELECT count(*) AS n FROM invitations WHERE project_id = $1 AND expires_at > now()",
            params![project_id],
        )
        .await?;
    get(&row, "n")
}

/// A page of a project's pending invitations, oldest first.
pub async fn list_pending(
    db: &impl Exec,
    project_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DbResult<Vec<Invitation>> {
    let (after_at, after_id) = after.unzip();
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM invitations \
             WHERE project_id = $1 AND expires_at > now() \
               AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3)) \
             ORDER BY created_at, id LIMIT $4"
        ),
        params![project_id, after_at, after_id, limit],
    )
    .await
}

pub async fn find(db: &impl Exec, id: Uuid) -> DbResult<Option<Invitation>> {
    db.fetch_opt(
        &format!("SELECT {COLUMNS} FROM invitations WHERE id = $1"),
        params![id],
    )
    .await
}

/// The pending invitation a token is for, without using it (read before a slow password hash).
pub async fn find_usable(db: &impl Exec, token_hash: &[u8]) -> DbResult<Option<Invitation>> {
    db.fetch_opt(
        &format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1 AND expires_at > now()"),
        params![token_hash],
    )
    .await
}

/// Uses a token: its pending invitation, deleted in `tx` (of two requests with one token, one
/// gets it).
pub async fn take(tx: &Tx, token_hash: &[u8]) -> DbResult<Option<Invitation>> {
    tx.fetch_opt(
        &format!(
            "DELETE FROM invitations WHERE token_hash = $1 AND expires_at > now() \
             RETURNING {COLUMNS}"
        ),
        params![token_hash],
    )
    .await
}

pub async fn delete(tx: &Tx, id: Uuid) -> DbResult<u64> {
    tx.execute("DELETE FROM invitations WHERE id = $1", params![id])
        .await
}

/// Drops invitations a day after they expired.
pub async fn purge_expired(db: &impl Exec) -> DbResult<u64> {
    db.execute(
        "DELETE FROM invitations WHERE expires_at < now() - interval '1 day'",
        params![],
    )
    .await
}
