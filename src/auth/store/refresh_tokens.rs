//! Refresh tokens, one family per login (the `refresh_tokens` table), and the access-token
//! principal lookup, which reads whether a family was revoked.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::users::{User, USER_COLUMNS};
use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// Issues a refresh token of `family_id`, valid for `ttl_secs`.
pub async fn insert(
    db: &impl Exec,
    token_hash: &[u8],
    family_id: Uuid,
    user_id: Uuid,
    ttl_secs: i64,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        params![
            Uuid::now_v7(),
            token_hash,
            family_id,
            user_id,
            ttl_secs as f64
        ],
    )
    .await?;
    Ok(())
}

/// Spends a usable refresh token, atomically: `(family_id, user_id)`, or `None` when it is
/// unknown, spent, expired, its user is disabled (then it is not spent), or any token of its
/// login was revoked. A login is revoked as a whole: a successor that a refresh inserted while
/// a revocation was running is dead too, because the revocation marked its predecessor (see
/// `auth::login::refresh`).
pub async fn consume(db: &impl Exec, token_hash: &[u8]) -> DbResult<Option<(Uuid, Uuid)>> {
    let row = db
        .query_opt(
            "UPDATE refresh_tokens r SET used_at = now() FROM users u \
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.revoked_at IS NULL \
               AND r.expires_at > now() AND u.id = r.user_id AND NOT u.disabled \
               AND NOT EXISTS (SELECT 1 FROM refresh_tokens x \
                               WHERE x.family_id = r.family_id AND x.revoked_at IS NOT NULL) \
             RETURNING r.family_id, r.user_id",
            params![token_hash],
        )
        .await?;
    row.map(|row| Ok((get(&row, "family_id")?, get(&row, "user_id")?)))
        .transpose()
}

/// What is known of a refresh token that could not be spent.
#[derive(Debug, Clone, Copy)]
pub struct KnownToken {
    pub family_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub user_disabled: bool,
}

pub async fn find(db: &impl Exec, token_hash: &[u8]) -> DbResult<Option<KnownToken>> {
    let row = db
        .query_opt(
            "SELECT r.family_id, r.used_at, u.disabled \
             FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
            params![token_hash],
        )
        .await?;
    row.map(|row| {
        Ok(KnownToken {
            family_id: get(&row, "family_id")?,
            used_at: get(&row, "used_at")?,
            user_disabled: get(&row, "disabled")?,
        })
    })
    .transpose()
}

/// The family (login) of a refresh token.
pub async fn family_of(db: &impl Exec, token_hash: &[u8]) -> DbResult<Option<Uuid>> {
    let row = db
        .query_opt(
            "SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
            params![token_hash],
        )
        .await?;
    row.map(|row| get(&row, "family_id")).transpose()
}

/// Revokes every token of a login (its access tokens stop working too).
pub async fn revoke_family(db: &impl Exec, family_id: Uuid) -> DbResult<()> {
    db.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        params![family_id],
    )
    .await?;
    Ok(())
}

/// Keeps a user's live logins at `max`, counting one about to start: the least recently
/// refreshed ones beyond that are revoked (API.md §9). Returns the families revoked.
pub async fn cap_live_logins(db: &impl Exec, user_id: Uuid, max: i64) -> DbResult<Vec<Uuid>> {
    let rows = db
        .query(
            "WITH live AS ( \
                 SELECT family_id, max(created_at) AS last_used FROM refresh_tokens \
                 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() \
                 GROUP BY family_id), \
             doomed AS ( \
                 SELECT family_id FROM live ORDER BY last_used DESC, family_id DESC \
                 OFFSET $2), \
             revoked AS ( \
                 UPDATE refresh_tokens SET revoked_at = now() \
                 WHERE family_id IN (SELECT family_id FROM doomed) AND revoked_at IS NULL \
                 RETURNING family_id) \
             SELECT DISTINCT family_id FROM revoked",
            params![user_id, (max - 1).max(0)],
        )
        .await?;
    rows.iter().map(|row| get(row, "family_id")).collect()
}

/// Revokes every login of a user except the family `keep`.
pub async fn revoke_all_of_user_except(
    db: &impl Exec,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> DbResult<()> {
    db.execute(
        "UPDATE refresh_tokens SET revoked_at = now() \
         WHERE user_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2",
        params![user_id, keep],
    )
    .await?;
    Ok(())
}

/// The user behind an access token, and whether its login was revoked: `$1` user id, `$2`
/// refresh-token family. Public so that the benchmark runs exactly this SQL under pgbench.
pub static ACCESS_TOKEN_PRINCIPAL_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM refresh_tokens r \
             WHERE r.family_id = $2 AND r.revoked_at IS NOT NULL) AS family_revoked \
         FROM users WHERE users.id = $1"
    )
});

/// The user of an access token and whether its login was revoked.
#[derive(Debug, Clone)]
pub struct AccessTokenUser {
    pub user: User,
    pub family_revoked: bool,
}

impl FromRow for AccessTokenUser {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            user: User::from_row(row)?,
            family_revoked: get(row, "family_revoked")?,
        })
    }
}

pub async fn access_token_user(
    db: &impl Exec,
    user_id: Uuid,
    family_id: Uuid,
) -> DbResult<Option<AccessTokenUser>> {
    db.fetch_opt(
        ACCESS_TOKEN_PRINCIPAL_SQL.as_str(),
        params![user_id, family_id],
    )
    .await
}

/// Deletes the rows past their use (maintenance).
pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
    db.execute(
        "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'",
        params![],
    )
    .await?;
    Ok(())
}
