//! The `calendar_feeds` table: one secret feed URL per user, kept as a hash.

use uuid::Uuid;

use crate::auth::users::{User, USER_COLUMNS};
use crate::db::{DbResult, Exec};
use crate::params;

/// Makes `secret_hash` the user's feed, replacing any earlier one in the same statement (so
/// the old URL is dead the moment the new one exists).
pub async fn replace(db: &impl Exec, user_id: Uuid, secret_hash: &[u8]) -> DbResult<()> {
    db.execute(
        "INSERT INTO calendar_feeds (user_id, secret_hash) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, created_at = now()",
        params![user_id, secret_hash],
    )
    .await?;
    Ok(())
}

/// Ends the user's feed; whether there was one.
pub async fn delete(db: &impl Exec, user_id: Uuid) -> DbResult<bool> {
    let deleted = db
        .execute(
            "DELETE FROM calendar_feeds WHERE user_id = $1",
            params![user_id],
        )
        .await?;
    Ok(deleted > 0)
}

/// The owner of the feed whose secret hashes to `secret_hash`: a point read by the unique index.
pub async fn owner(db: &impl Exec, secret_hash: &[u8]) -> DbResult<Option<User>> {
    db.fetch_opt(
        &format!(
            "SELECT {USER_COLUMNS} FROM calendar_feeds f JOIN users ON users.id = f.user_id \
             WHERE f.secret_hash = $1"
        ),
        params![secret_hash],
    )
    .await
}
