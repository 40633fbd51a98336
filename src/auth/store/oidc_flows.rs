//! Authorization requests in flight (the `oidc_flows` table). A flow is found only by the hash
//! of its `state` together with the hash of the browser's binding cookie, and taking it deletes
//! it: a replayed or foreign `state` finds nothing.

use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// How long a person has between leaving for the provider and coming back.
pub const FLOW_TTL_SECS: i64 = 10 * 60;

pub struct NewFlow<'a> {
    pub state_hash: &'a [u8],
    pub browser_hash: &'a [u8],
    pub provider: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub return_to: &'a str,
    pub link_user_id: Option<Uuid>,
}

pub async fn insert(db: &impl Exec, flow: NewFlow<'_>) -> DbResult<()> {
    db.execute(
        "INSERT INTO oidc_flows (state_hash, browser_hash, provider, nonce, pkce_verifier, \
             return_to, link_user_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
        params![
            flow.state_hash,
            flow.browser_hash,
            flow.provider,
            flow.nonce,
            flow.pkce_verifier,
            flow.return_to,
            flow.link_user_id,
            FLOW_TTL_SECS as f64
        ],
    )
    .await?;
    Ok(())
}

/// A flow taken back by its callback.
#[derive(Debug)]
pub struct Flow {
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub link_user_id: Option<Uuid>,
}

impl FromRow for Flow {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            nonce: get(row, "nonce")?,
            pkce_verifier: get(row, "pkce_verifier")?,
            return_to: get(row, "return_to")?,
            link_user_id: get(row, "link_user_id")?,
        })
    }
}

/// Takes (deletes and returns) the live flow of this state, browser and provider; at most once.
pub async fn take(
    db: &impl Exec,
    state_hash: &[u8],
    browser_hash: &[u8],
    provider: &str,
) -> DbResult<Option<Flow>> {
    db.fetch_opt(
        "DELETE FROM oidc_flows \
         WHERE state_hash = $1 AND browser_hash = $2 AND provider = $3 AND expires_at > now() \
         RETURNING nonce, pkce_verifier, return_to, link_user_id",
        params![state_hash, browser_hash, provider],
    )
    .await
}

/// Deletes the rows past their use (maintenance).
pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
    db.execute("DELETE FROM oidc_flows WHERE expires_at < now()", params![])
        .await?;
    Ok(())
}
