//! Cookie sessions (the `sessions` table).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::users::{User, USER_COLUMNS};
use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// How a session began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMethod {
    /// A password, with a second factor when the account has one.
    Password,
    /// A passkey alone (it is two factors: the key and its user verification).
    Passkey,
    /// Single sign-on (the provider answers for the second factor).
    Oidc,
}

impl SessionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionMethod::Password => "password",
            SessionMethod::Passkey => "passkey",
            SessionMethod::Oidc => "oidc",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "password" => Some(SessionMethod::Password),
            "passkey" => Some(SessionMethod::Passkey),
            "oidc" => Some(SessionMethod::Oidc),
            _ => None,
        }
    }
}

crate::text_enum!(SessionMethod, SessionMethod::parse);

/// A live session and its user, as authentication needs them.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub user: User,
    pub session_id: Uuid,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub method: SessionMethod,
}

impl FromRow for ActiveSession {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            user: User::from_row(row)?,
            session_id: get(row, "session_id")?,
            csrf_token: get(row, "csrf_token")?,
            expires_at: get(row, "expires_at")?,
            last_seen_at: get(row, "last_seen_at")?,
            method: get(row, "method")?,
        })
    }
}

/// Starts a session that ends `ttl_secs` from now at the latest.
pub async fn create(
    db: &impl Exec,
    token_hash: &[u8],
    user_id: Uuid,
    csrf_token: &str,
    ttl_secs: i64,
    method: SessionMethod,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO sessions (id, token_hash, user_id, csrf_token, expires_at, method) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)",
        params![
            Uuid::now_v7(),
            token_hash,
            user_id,
            csrf_token,
            ttl_secs as f64,
            method
        ],
    )
    .await?;
    Ok(())
}

/// Keeps a user's live sessions at `max`, counting one about to start: the least recently used
/// ones beyond that end (API.md §9).
pub async fn cap_live_sessions(db: &impl Exec, user_id: Uuid, max: i64) -> DbResult<u64> {
    db.execute(
        "DELETE FROM sessions WHERE id IN ( \
             SELECT id FROM sessions WHERE user_id = $1 AND expires_at > now() \
             ORDER BY last_seen_at DESC, id DESC OFFSET $2)",
        params![user_id, (max - 1).max(0)],
    )
    .await
}

pub async fn delete_by_token_hash(db: &impl Exec, token_hash: &[u8]) -> DbResult<()> {
    db.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        params![token_hash],
    )
    .await?;
    Ok(())
}

pub async fn delete(db: &impl Exec, session_id: Uuid) -> DbResult<()> {
    db.execute("DELETE FROM sessions WHERE id = $1", params![session_id])
        .await?;
    Ok(())
}

/// The session with this token, unless it expired or sat idle for `idle_secs`.
pub async fn find_active(
    db: &impl Exec,
    token_hash: &[u8],
    idle_secs: i64,
) -> DbResult<Option<ActiveSession>> {
    db.fetch_opt(
        &format!(
            "SELECT {USER_COLUMNS}, s.id AS session_id, s.csrf_token, s.expires_at, s.last_seen_at, \
                    s.method \
             FROM sessions s JOIN users ON users.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > now() \
               AND s.last_seen_at > now() - make_interval(secs => $2)"
        ),
        params![token_hash, idle_secs as f64],
    )
    .await
}

/// Records that the session was just used.
pub async fn touch(db: &impl Exec, session_id: Uuid) -> DbResult<()> {
    db.execute(
        "UPDATE sessions SET last_seen_at = now() WHERE id = $1",
        params![session_id],
    )
    .await?;
    Ok(())
}

/// Ends every session of a user except `keep`.
pub async fn delete_all_of_user_except(
    db: &impl Exec,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> DbResult<()> {
    db.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2",
        params![user_id, keep],
    )
    .await?;
    Ok(())
}

/// Deletes the rows past their use (maintenance).
pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
    db.execute(
        "DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - interval '14 days'",
        params![],
    )
    .await?;
    Ok(())
}
