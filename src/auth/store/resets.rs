//! `password_resets`: single-use tokens (their hashes) that let a user set a new password.

use uuid::Uuid;

use crate::db::{get, DbResult, Exec};
use crate::params;

/// Stores a token's hash, valid for `valid_secs`.
pub async fn insert(
    db: &impl Exec,
    token_hash: &[u8],
    user_id: Uuid,
    valid_secs: f64,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO password_resets (token_hash, user_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
        params![token_hash, user_id, valid_secs],
    )
    .await?;
    Ok(())
}

/// Uses a token: the user it was for, if it is known, unused and unexpired; every other
/// outstanding token of that user is used up with it (one reset ends them all).
pub async fn take(db: &impl Exec, token_hash: &[u8]) -> DbResult<Option<Uuid>> {
    let row = db
        .query_opt(
            "WITH taken AS ( \
                 UPDATE password_resets SET used_at = now() \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() \
                 RETURNING user_id), \
             others AS ( \
                 UPDATE password_resets SET used_at = now() \
                 WHERE user_id IN (SELECT user_id FROM taken) AND used_at IS NULL \
                   AND token_hash <> $1) \
             SELECT user_id FROM taken",
            params![token_hash],
        )
        .await?;
    row.map(|row| get(&row, "user_id")).transpose()
}

/// Whether a token would be taken now (read before the slow password hash, so that a bad token
/// costs no hashing).
pub async fn is_usable(db: &impl Exec, token_hash: &[u8]) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM password_resets WHERE token_hash = $1 \
                 AND used_at IS NULL AND expires_at > now()) AS usable",
            params![token_hash],
        )
        .await?;
    get(&row, "usable")
}

/// Drops tokens a day after they expired.
pub async fn purge_expired(db: &impl Exec) -> DbResult<u64> {
    db.execute(
        "DELETE FROM password_resets WHERE expires_at < now() - interval '1 day'",
        params![],
    )
    .await
}
