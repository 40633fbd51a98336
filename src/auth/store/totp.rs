//! TOTP credentials and recovery codes (the `totp_credentials` and `recovery_codes` tables).
//! Secrets arrive sealed and codes hashed: this module never sees either in the clear.

use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

/// A user's TOTP credential: its sealed secret, whether it is confirmed, and the newest time
/// step a code was accepted for.
#[derive(Debug, Clone)]
pub struct TotpCredential {
    pub sealed_secret: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
}

impl FromRow for TotpCredential {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            sealed_secret: get(row, "secret")?,
            confirmed: get(row, "confirmed")?,
            last_step: get(row, "last_step")?,
        })
    }
}

pub async fn find(db: &impl Exec, user_id: Uuid) -> DbResult<Option<TotpCredential>> {
    db.fetch_opt(
        "SELECT secret, confirmed_at IS NOT NULL AS confirmed, last_step \
         FROM totp_credentials WHERE user_id = $1",
        params![user_id],
    )
    .await
}

/// Starts (or restarts) an enrolment with a new secret, unless TOTP is on already: false then.
pub async fn start_enrolment(
    db: &impl Exec,
    user_id: Uuid,
    sealed_secret: &[u8],
) -> DbResult<bool> {
    let written = db
        .execute(
            "INSERT INTO totp_credentials (user_id, secret) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0, \
                 created_at = now() \
             WHERE totp_credentials.confirmed_at IS NULL",
            params![user_id, sealed_secret],
        )
        .await?;
    Ok(written == 1)
}

/// Accepts the code of `step` once: true when no code of this or a later step was accepted
/// before (`confirm`: and the credential becomes active). Atomic, so two requests racing with
/// the same code cannot both pass.
pub async fn accept_step(
    db: &impl Exec,
    user_id: Uuid,
    step: i64,
    confirm: bool,
) -> DbResult<bool> {
    let sql = if confirm {
        "UPDATE totp_credentials SET last_step = $2, confirmed_at = now() \
         WHERE user_id = $1 AND confirmed_at IS NULL AND last_step < $2"
    } else {
        "UPDATE totp_credentials SET last_step = $2 \
         WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2"
    };
    Ok(db.execute(sql, params![user_id, step]).await? == 1)
}

/// Turns TOTP off: the credential and the recovery codes go.
pub async fn delete(tx: &Tx, user_id: Uuid) -> DbResult<bool> {
    tx.execute(
        "DELETE FROM recovery_codes WHERE user_id = $1",
        params![user_id],
    )
    .await?;
    let deleted = tx
        .execute(
            "DELETE FROM totp_credentials WHERE user_id = $1",
            params![user_id],
        )
        .await?;
    Ok(deleted > 0)
}

/// Replaces the user's recovery codes with these (hashes).
pub async fn replace_recovery_codes(tx: &Tx, user_id: Uuid, hashes: &[Vec<u8>]) -> DbResult<()> {
    tx.execute(
        "DELETE FROM recovery_codes WHERE user_id = $1",
        params![user_id],
    )
    .await?;
    for hash in hashes {
        tx.execute(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
            params![user_id, hash.as_slice()],
        )
        .await?;
    }
    Ok(())
}

/// Spends a recovery code: true once, for an unused code of this user.
pub async fn spend_recovery_code(db: &impl Exec, user_id: Uuid, hash: &[u8]) -> DbResult<bool> {
    let spent = db
        .execute(
            "UPDATE recovery_codes SET used_at = now() \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            params![user_id, hash],
        )
        .await?;
    Ok(spent == 1)
}

pub async fn recovery_codes_left(db: &impl Exec, user_id: Uuid) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS count FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            params![user_id],
        )
        .await?;
    get(&row, "count")
}
