//! Single sign-on identities (the `identities` table): an account's identity at a provider,
//! found by (provider, subject) alone.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// An identity as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Identity {
    /// The provider's id (`<NAME>` of `DOCKET_OIDC_<NAME>_*`, lower-cased).
    pub provider: String,
    /// The email the provider gave when the identity was last used, if it gave one.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

impl FromRow for Identity {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            provider: get(row, "provider")?,
            email: get(row, "email")?,
            linked_at: get(row, "linked_at")?,
        })
    }
}

/// The user linked to (provider, subject).
pub async fn user_of(db: &impl Exec, provider: &str, subject: &str) -> DbResult<Option<Uuid>> {
    let row = db
        .query_opt(
            "SELECT user_id FROM identities WHERE provider = $1 AND subject = $2",
            params![provider, subject],
        )
        .await?;
    row.map(|row| get(&row, "user_id")).transpose()
}

/// Why an identity could not be linked.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// This (provider, subject) belongs to another account.
    TakenByAnother,
    /// The user has another identity at this provider already.
    ProviderTaken,
}

/// Links (provider, subject) to a user; linking it again to the same user refreshes the email.
pub async fn link(
    db: &impl Exec,
    user_id: Uuid,
    provider: &str,
    subject: &str,
    email: Option<&str>,
) -> DbResult<LinkOutcome> {
    let inserted = db
        .execute(
            "INSERT INTO identities (user_id, provider, subject, email) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            params![user_id, provider, subject, email],
        )
        .await?;
    if inserted == 1 {
        return Ok(LinkOutcome::Linked);
    }
    match user_of(db, provider, subject).await? {
        Some(owner) if owner == user_id => {
            touch(db, provider, subject, email).await?;
            Ok(LinkOutcome::Linked)
        }
        Some(_) => Ok(LinkOutcome::TakenByAnother),
        None => Ok(LinkOutcome::ProviderTaken),
    }
}

/// Records the email the provider gave at this sign-in.
pub async fn touch(
    db: &impl Exec,
    provider: &str,
    subject: &str,
    email: Option<&str>,
) -> DbResult<()> {
    db.execute(
        "UPDATE identities SET email = coalesce($3, email) WHERE provider = $1 AND subject = $2",
        params![provider, subject, email],
    )
    .await?;
    Ok(())
}

pub async fn list_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<Vec<Identity>> {
    db.fetch_all(
        "SELECT provider, email, linked_at FROM identities WHERE user_id = $1 \
         ORDER BY linked_at, provider",
        params![user_id],
    )
    .await
}

pub async fn count_of_user(db: &impl Exec, user_id: Uuid) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS count FROM identities WHERE user_id = $1",
            params![user_id],
        )
        .await?;
    get(&row, "count")
}

/// Unlinks the user's identity at a provider; false when there was none.
pub async fn unlink(db: &impl Exec, user_id: Uuid, provider: &str) -> DbResult<bool> {
    let deleted = db
        .execute(
            "DELETE FROM identities WHERE user_id = $1 AND provider = $2",
            params![user_id, provider],
        )
        .await?;
    Ok(deleted > 0)
}
