//! Personal API tokens (the `api_tokens` table).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::domain::ApiScope;
use crate::auth::users::{User, USER_COLUMNS};
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

/// An API token as its owner sees it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<ApiScope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl FromRow for ApiToken {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            name: get(row, "name")?,
            scopes: get(row, "scopes")?,
            created_at: get(row, "created_at")?,
            expires_at: get(row, "expires_at")?,
            last_used_at: get(row, "last_used_at")?,
        })
    }
}

const COLUMNS: &str = "id, name, scopes, created_at, expires_at, last_used_at";

/// Stores a new token; it expires `expires_in_days` from now, or never.
pub async fn create(
    db: &impl Exec,
    user_id: Uuid,
    name: &str,
    token_hash: &[u8],
    scopes: &[ApiScope],
    expires_in_days: Option<i32>,
) -> DbResult<ApiToken> {
    db.fetch_one(
        &format!(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, expires_at) \
             VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6)) RETURNING {COLUMNS}"
        ),
        params![
            Uuid::now_v7(),
            user_id,
            name,
            token_hash,
            scopes,
            expires_in_days
        ],
    )
    .await
}

/// How many live (unexpired) tokens a user has. Serialises that user's token creations for the
/// rest of the transaction, so that the count stays true until it commits.
pub async fn live_count_locked(tx: &Tx, user_id: Uuid) -> DbResult<i64> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('docket.api_tokens:' || $1::text))",
        params![user_id],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT count(*) AS count FROM api_tokens \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > now())",
            params![user_id],
        )
        .await?;
    get(&row, "count")
}

pub async fn list_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<Vec<ApiToken>> {
    db.fetch_all(
        &format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id"),
        params![user_id],
    )
    .await
}

/// Deletes one of a user's tokens, returning its name; `None` when they have no such token.
pub async fn delete(db: &impl Exec, token_id: Uuid, user_id: Uuid) -> DbResult<Option<String>> {
    let row = db
        .query_opt(
            "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2 RETURNING name",
            params![token_id, user_id],
        )
        .await?;
    row.map(|row| get(&row, "name")).transpose()
}

/// A token and its user, as authentication needs them.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub user: User,
    pub token_id: Uuid,
    pub scopes: Vec<ApiScope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl FromRow for TokenUser {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            user: User::from_row(row)?,
            token_id: get(row, "token_id")?,
            scopes: get(row, "scopes")?,
            expires_at: get(row, "expires_at")?,
            last_used_at: get(row, "last_used_at")?,
        })
    }
}

pub async fn find_by_hash(db: &impl Exec, token_hash: &[u8]) -> DbResult<Option<TokenUser>> {
    db.fetch_opt(
        &format!(
            "SELECT {USER_COLUMNS}, t.id AS token_id, t.scopes, t.expires_at, t.last_used_at \
             FROM api_tokens t JOIN users ON users.id = t.user_id WHERE t.token_hash = $1"
        ),
        params![token_hash],
    )
    .await
}

/// Records a use, at most once a minute.
pub async fn touch(db: &impl Exec, token_id: Uuid) -> DbResult<()> {
    db.execute(
        "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')",
        params![token_id],
    )
    .await?;
    Ok(())
}
