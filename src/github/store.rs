//! SQL owned by GitHub links (`github_links`) and the outbound client's conditional-request
//! cache (`http_cache`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// `owner/name`.
    pub repository: String,
    /// `pending`, `syncing`, `idle` or `failed`.
    #[schema(pattern = "^(pending|syncing|idle|failed)$")]
    pub state: String,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// A sentence a user can act on, when the last sync failed.
    pub last_error: Option<String>,
    pub imported_count: i64,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The project's link. GitHub names are case-insensitive, so `imported_count` is too (it is
/// counted by the tasks store, which owns that table).
pub async fn find(db: &impl Exec, project_id: Uuid) -> DbResult<Option<Link>> {
    let Some(row) = db
        .query_opt(
            "SELECT l.repository, l.state, l.last_synced_at, l.last_error, l.next_sync_at, \
                 l.created_at \
             FROM github_links l WHERE l.project_id = $1",
            params![project_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let repository: String = get(&row, "repository")?;
    let imported_count =
        crate::tasks::store::imports::imported_count(db, project_id, &repository).await?;
    Ok(Some(Link {
        repository,
        state: get(&row, "state")?,
        last_synced_at: get(&row, "last_synced_at")?,
        last_error: get(&row, "last_error")?,
        imported_count,
        next_sync_at: get(&row, "next_sync_at")?,
        created_at: get(&row, "created_at")?,
    }))
}

/// Locks the project's link for a read-modify-write; its repository, if it is linked.
pub async fn lock_repository(tx: &Tx, project_id: Uuid) -> DbResult<Option<String>> {
    let row = tx
        .query_opt(
            "SELECT repository FROM github_links WHERE project_id = $1 FOR UPDATE",
            params![project_id],
        )
        .await?;
    row.map(|row| get(&row, "repository")).transpose()
}

/// Links a project; its first scheduled sync is `interval_secs` from now.
pub async fn insert(
    tx: &Tx,
    project_id: Uuid,
    repository: &str,
    token_ciphertext: Option<&[u8]>,
    created_by: Uuid,
    interval_secs: f64,
) -> DbResult<()> {
    tx.execute(
        "INSERT INTO github_links (project_id, repository, token_ciphertext, created_by, \
             next_sync_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        params![
            project_id,
            repository,
            token_ciphertext,
            created_by,
            interval_secs
        ],
    )
    .await?;
    Ok(())
}

/// Replaces a link whole; `same_repository` keeps how far the previous import got.
pub async fn replace(
    tx: &Tx,
    project_id: Uuid,
    repository: &str,
    token_ciphertext: Option<&[u8]>,
    same_repository: bool,
    interval_secs: f64,
) -> DbResult<()> {
    tx.execute(
        "UPDATE github_links SET repository = $2, token_ciphertext = $3, state = 'pending', \
             last_error = NULL, \
             synced_through = CASE WHEN $4 THEN synced_through END, \
             next_sync_at = now() + make_interval(secs => $5) \
         WHERE project_id = $1",
        params![
            project_id,
            repository,
            token_ciphertext,
            same_repository,
            interval_secs
        ],
    )
    .await?;
    Ok(())
}

/// Unlinks a project; whether it was linked.
pub async fn delete(tx: &Tx, project_id: Uuid) -> DbResult<bool> {
    let deleted = tx
        .execute(
            "DELETE FROM github_links WHERE project_id = $1",
            params![project_id],
        )
        .await?;
    Ok(deleted > 0)
}

/// The linked repository, if any.
pub async fn repository(db: &impl Exec, project_id: Uuid) -> DbResult<Option<String>> {
    let row = db
        .query_opt(
            "SELECT repository FROM github_links WHERE project_id = $1",
            params![project_id],
        )
        .await?;
    row.map(|row| get(&row, "repository")).transpose()
}

/// What a sync run works from.
#[derive(Debug, Clone)]
pub struct SyncLink {
    pub repository: String,
    pub token_ciphertext: Option<Vec<u8>>,
    pub synced_through: Option<DateTime<Utc>>,
    pub created_by: Uuid,
}

impl FromRow for SyncLink {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            repository: get(row, "repository")?,
            token_ciphertext: get(row, "token_ciphertext")?,
            synced_through: get(row, "synced_through")?,
            created_by: get(row, "created_by")?,
        })
    }
}

/// Marks the link as syncing and returns it; `None` when the project is not linked.
pub async fn start_sync(db: &impl Exec, project_id: Uuid) -> DbResult<Option<SyncLink>> {
    db.fetch_opt(
        "UPDATE github_links SET state = 'syncing' WHERE project_id = $1 \
         RETURNING repository, token_ciphertext, synced_through, created_by",
        params![project_id],
    )
    .await
}

/// The repository and token a link has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSource {
    pub repository: String,
    pub token_ciphertext: Option<Vec<u8>>,
}

impl FromRow for LinkSource {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            repository: get(row, "repository")?,
            token_ciphertext: get(row, "token_ciphertext")?,
        })
    }
}

pub async fn source(db: &impl Exec, project_id: Uuid) -> DbResult<Option<LinkSource>> {
    db.fetch_opt(
        "SELECT repository, token_ciphertext FROM github_links WHERE project_id = $1",
        params![project_id],
    )
    .await
}

/// Records a finished sync, if the link still has the repository and token it used; whether
/// it did.
pub async fn finish_sync(
    db: &impl Exec,
    project_id: Uuid,
    synced_through: Option<DateTime<Utc>>,
    repository: &str,
    token_ciphertext: Option<&[u8]>,
) -> DbResult<bool> {
    let updated = db
        .execute(
            "UPDATE github_links SET state = 'idle', last_error = NULL, last_synced_at = now(), \
                 synced_through = $2 \
             WHERE project_id = $1 AND repository = $3 \
                 AND token_ciphertext IS NOT DISTINCT FROM $4",
            params![project_id, synced_through, repository, token_ciphertext],
        )
        .await?;
    Ok(updated > 0)
}

/// Records a failed sync with a sentence a user can act on.
pub async fn mark_failed(db: &impl Exec, project_id: Uuid, message: &str) -> DbResult<()> {
    db.execute(
        "UPDATE github_links SET state = 'failed', last_error = $2 WHERE project_id = $1",
        params![project_id, message],
    )
    .await?;
    Ok(())
}

/// A cached upstream response.
#[derive(Debug, Clone)]
pub struct CachedResponse {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub link: Option<String>,
    pub body: Vec<u8>,
}

impl FromRow for CachedResponse {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            etag: get(row, "etag")?,
            last_modified: get(row, "last_modified")?,
            link: get(row, "link")?,
            body: get(row, "body")?,
        })
    }
}

pub async fn cached(db: &impl Exec, cache_key: &str) -> DbResult<Option<CachedResponse>> {
    db.fetch_opt(
        "SELECT etag, last_modified, link, body FROM http_cache WHERE cache_key = $1",
        params![cache_key],
    )
    .await
}

/// Marks a cached response as still current (maintenance prunes stale ones).
pub async fn touch_cached(db: &impl Exec, cache_key: &str) -> DbResult<()> {
    db.execute(
        "UPDATE http_cache SET stored_at = now() WHERE cache_key = $1",
        params![cache_key],
    )
    .await?;
    Ok(())
}

pub async fn store_cached(
    db: &impl Exec,
    cache_key: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
    link: Option<&str>,
    body: &[u8],
) -> DbResult<()> {
    db.execute(
        "INSERT INTO http_cache (cache_key, etag, last_modified, link, body) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (cache_key) DO UPDATE SET etag = $2, last_modified = $3, link = $4, \
             body = $5, stored_at = now()",
        params![cache_key, etag, last_modified, link, body],
    )
    .await?;
    Ok(())
}

/// Drops cached upstream responses not revalidated for a month (not worth their space).
pub async fn purge_expired(db: &impl Exec) -> DbResult<u64> {
    db.execute(
        "DELETE FROM http_cache WHERE stored_at < now() - interval '30 days'",
        params![],
    )
    .await
}
