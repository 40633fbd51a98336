//! The attachment tables: `attachments` (the rows), `attachment_uploads` (uploads under way),
//! `attachment_garbage` (files whose rows are gone, filled by the rows' delete trigger) and
//! `attachment_storage` (the store a migration switched to). The task's `attachment_count`
//! and the rows' `project_id` follow by triggers (migration V20261222000022).

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::activity::{self, Actor, Change, Kind, Record};
use crate::db::{get, Columns, DbError, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::projects::access::{ProjectAccess, Role};

/// An attachment as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub task_id: Uuid,
    /// The comment it was attached to, if any.
    pub comment_id: Option<Uuid>,
    pub name: String,
    /// As sniffed from the bytes (never as the upload declared it).
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the bytes, lower-case hex (the content's `ETag`).
    pub sha256: String,
    /// `null` once the uploader's account is deleted.
    pub uploaded_by: Option<Actor>,
    pub created_at: DateTime<Utc>,
    /// Whether `GET /attachments/{id}/thumbnail` has a thumbnail.
    pub thumbnail: bool,
    /// The store that holds the file.
    #[serde(skip)]
    pub store: String,
    #[serde(skip)]
    pub project_id: Uuid,
}

impl FromRow for Attachment {
    /// Reads in `COLUMNS` order.
    fn from_row(row: &Row) -> DbResult<Self> {
        let mut c = Columns::new(row);
        let id = c.get("id")?;
        let project_id = c.get("project_id")?;
        let task_id = c.get("task_id")?;
        let comment_id = c.get("comment_id")?;
        let name = c.get("name")?;
        let content_type = c.get("content_type")?;
        let size = c.get("size")?;
        let sha256: Vec<u8> = c.get("sha256")?;
        let store = c.get("store")?;
        let thumbnail = c.get("thumbnail")?;
        let created_at = c.get("created_at")?;
        Ok(Self {
            id,
            task_id,
            comment_id,
            name,
            content_type,
            size,
            sha256: hex::encode(sha256),
            uploaded_by: Actor::from_columns(row, "uploaded_by", "uploader_name")?,
            created_at,
            thumbnail,
            store,
            project_id,
        })
    }
}

/// `a` is the attachment, `u` its uploader.
const COLUMNS: &str = "a.id, a.project_id, a.task_id, a.comment_id, a.name, a.content_type, \
     a.size, a.sha256, a.store, a.thumbnail, a.created_at, a.uploaded_by, u.name AS uploader_name";

/// A file in storage, complete, waiting for its row.
pub struct NewAttachment<'a> {
    pub id: Uuid,
    pub task_id: Uuid,
    pub comment_id: Option<Uuid>,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: u64,
    pub sha256: [u8; 32],
    pub store: &'a str,
}

/// Why an attachment's row could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentWriteError {
    #[error("the project holds its quota of attachment bytes")]
    QuotaExceeded { limit: u64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl crate::error::DomainError for AttachmentWriteError {
    fn into_api_error(self) -> crate::error::ApiError {
        match self {
            AttachmentWriteError::QuotaExceeded { limit } => {
                let mut error = crate::error::ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    crate::error::ErrorCode::QuotaExceeded,
                );
                error.detail = Some(format!("the limit is {limit} attachment bytes per project"));
                error
            }
            AttachmentWriteError::Db(error) => error.into(),
        }
    }
}

/// The attachment bytes a project holds.
pub async fn project_usage(db: &impl Exec, project_id: Uuid) -> DbResult<u64> {
    let row = db
        .query_one(
            "SELECT coalesce(sum(size), 0)::bigint AS used FROM attachments WHERE project_id = $1",
            params![project_id],
        )
        .await?;
    Ok(get::<i64>(&row, "used")?.max(0) as u64)
}

/// Writes the row of a file now complete in storage (the caller entered the task locked, so
/// `access` names the project the task is in now), within the project's quota: uploads to
/// one project queue on an advisory lock here, so the sum they check is exact. The upload's
/// `attachment_uploads` row goes in the same transaction: from its commit on, the file is the
/// row's.
pub async fn insert(
    tx: &Tx,
    access: &ProjectAccess,
    new: &NewAttachment<'_>,
    quota: u64,
) -> Result<Attachment, AttachmentWriteError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('attachments:' || $1::text, 0))",
        params![access.project_id()],
    )
    .await?;
    let used = project_usage(tx, access.project_id()).await?;
    if used.saturating_add(new.size) > quota {
        return Err(AttachmentWriteError::QuotaExceeded { limit: quota });
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH a AS (INSERT INTO attachments (id, project_id, task_id, comment_id, name, \
                 content_type, size, sha256, uploaded_by, store) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *), \
             done AS (DELETE FROM attachment_uploads WHERE id = $1) \
             SELECT {COLUMNS} FROM a LEFT JOIN users u ON u.id = a.uploaded_by"
        )
    });
    let attachment: Attachment = tx
        .fetch_one(
            &SQL,
            params![
                new.id,
                access.project_id(),
                new.task_id,
                new.comment_id,
                new.name,
                new.content_type,
                new.size as i64,
                new.sha256.to_vec(),
                access.user_id(),
                new.store
            ],
        )
        .await?;
    activity::record(
        tx,
        Record::new(
            Kind::AttachmentAdded,
            access.project_id(),
            Some(access.user_id()),
        )
        .task(attachment.task_id)
        .changes(vec![described(&attachment, true)]),
    );
    Ok(attachment)
}

/// The entry's one change: the attachment (id, name, size, type) arriving or leaving. The
/// comment it belongs to, if any, is named inside it: the entry's own `comment_id` would make
/// it a comment's entry.
fn described(attachment: &Attachment, added: bool) -> Change {
    let value = json!({
        "id": attachment.id,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "comment_id": attachment.comment_id,
    });
    if added {
        Change::new("attachment", (), value)
    } else {
        Change::new("attachment", value, ())
    }
}

static FIND_VISIBLE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, m.role AS my_role FROM attachments a \
         JOIN memberships m ON m.project_id = a.project_id AND m.user_id = $2 \
         LEFT JOIN users u ON u.id = a.uploaded_by WHERE a.id = $1"
    )
});
static FIND_VISIBLE_FOR_UPDATE_SQL: LazyLock<String> =
    LazyLock::new(|| format!("{} FOR UPDATE OF a", *FIND_VISIBLE_SQL));

/// An attachment with the caller's role in its project; `None` when there is none or the
/// caller is not a member (both 404). Handlers reach it through
/// `projects::guard::enter_attachment`.
pub async fn find_visible(
    db: &impl Exec,
    id: Uuid,
    user_id: Uuid,
    lock: bool,
) -> DbResult<Option<(Attachment, Role)>> {
    let sql = if lock {
        &FIND_VISIBLE_FOR_UPDATE_SQL
    } else {
        &FIND_VISIBLE_SQL
    };
    let row = db.query_opt(sql, params![id, user_id]).await?;
    row.map(|row| Ok((Attachment::from_row(&row)?, get(&row, "my_role")?)))
        .transpose()
}

/// One attachment by id (for jobs, which act for no one).
pub async fn find(db: &impl Exec, id: Uuid) -> DbResult<Option<Attachment>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {COLUMNS} FROM attachments a LEFT JOIN users u ON u.id = a.uploaded_by \
             WHERE a.id = $1"
        )
    });
    db.fetch_opt(&SQL, params![id]).await
}

/// A task's attachments, newest first, before `before` (the previous page's last).
pub async fn list(
    db: &impl Exec,
    task_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<Attachment>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {COLUMNS} FROM attachments a LEFT JOIN users u ON u.id = a.uploaded_by \
             WHERE a.task_id = $1 AND ($2::uuid IS NULL OR a.id < $2) \
             ORDER BY a.id DESC LIMIT $3"
        )
    });
    db.fetch_all(&SQL, params![task_id, before, limit]).await
}

/// Deletes an attachment (locked by the caller). Its file goes to the garbage (by trigger),
/// which a job empties after the commit.
pub async fn delete(tx: &Tx, access: &ProjectAccess, attachment: &Attachment) -> DbResult<()> {
    let deleted = tx
        .execute(
            "DELETE FROM attachments WHERE id = $1",
            params![attachment.id],
        )
        .await?;
    if deleted > 0 {
        activity::record(
            tx,
            Record::new(
                Kind::AttachmentDeleted,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(attachment.task_id)
            .changes(vec![described(attachment, false)]),
        );
    }
    Ok(())
}

/// Marks a thumbnail as made, if the row still exists and its file is still in `store` (a
/// migration may have moved it meanwhile). Returns whether it did.
pub async fn set_thumbnail(db: &impl Exec, id: Uuid, store: &str) -> DbResult<bool> {
    let updated = db
        .execute(
            "UPDATE attachments SET thumbnail = true WHERE id = $1 AND store = $2",
            params![id, store],
        )
        .await?;
    Ok(updated > 0)
}

// --- storage: the current store ------------------------------------------------------------

/// The store a `storage migrate` switched the instance to, if one did.
pub async fn current_store(db: &impl Exec) -> DbResult<Option<String>> {
    let row = db
        .query_opt("SELECT current FROM attachment_storage", params![])
        .await?;
    row.map(|row| get(&row, "current")).transpose()
}

/// Switches the store new files go to.
pub async fn set_current_store(db: &impl Exec, store: &str) -> DbResult<()> {
    db.execute(
        "INSERT INTO attachment_storage (only_row, current) VALUES (true, $1) \
         ON CONFLICT (only_row) DO UPDATE SET current = $1, changed_at = now()",
        params![store],
    )
    .await?;
    Ok(())
}

// --- uploads under way ---------------------------------------------------------------------

/// Records an upload starting (its own statement: it must outlive a failed request) and
/// returns the store it goes to: the one a migration switched to, else `configured`. Read and
/// recorded in one statement, so a migration that sees no upload under way into the old store
/// has none still to come.
pub async fn begin_upload(db: &impl Exec, id: Uuid, configured: &str) -> DbResult<String> {
    let row = db
        .query_one(
            "INSERT INTO attachment_uploads (id, store)              SELECT $1, coalesce((SELECT current FROM attachment_storage), $2) RETURNING store",
            params![id, configured],
        )
        .await?;
    get(&row, "store")
}

/// Records a migration's copy into `store` (the sweep removes it if the copy dies).
pub async fn begin_copy(db: &impl Exec, id: Uuid, store: &str) -> DbResult<()> {
    db.execute(
        "INSERT INTO attachment_uploads (id, store) VALUES ($1, $2)          ON CONFLICT (id) DO UPDATE SET store = $2, multipart = NULL, started_at = now()",
        params![id, store],
    )
    .await?;
    Ok(())
}

/// The S3 multipart upload an upload started (for the sweep to abort after a crash).
pub async fn record_multipart(db: &impl Exec, id: Uuid, multipart: &str) -> DbResult<()> {
    db.execute(
        "UPDATE attachment_uploads SET multipart = $2 WHERE id = $1",
        params![id, multipart],
    )
    .await?;
    Ok(())
}

/// Forgets an upload whose leftovers are gone.
pub async fn end_upload(db: &impl Exec, id: Uuid) -> DbResult<()> {
    db.execute("DELETE FROM attachment_uploads WHERE id = $1", params![id])
        .await?;
    Ok(())
}

/// An upload that never finished.
#[derive(Debug)]
pub struct Unfinished {
    pub id: Uuid,
    pub store: String,
    pub multipart: Option<String>,
}

impl FromRow for Unfinished {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            store: get(row, "store")?,
            multipart: get(row, "multipart")?,
        })
    }
}

/// One upload under way.
pub async fn unfinished(db: &impl Exec, id: Uuid) -> DbResult<Option<Unfinished>> {
    db.fetch_opt(
        "SELECT id, store, multipart FROM attachment_uploads WHERE id = $1",
        params![id],
    )
    .await
}

/// Uploads started longer ago than `older_than` (their requests are over: orphans).
pub async fn orphans(
    db: &impl Exec,
    older_than: Duration,
    limit: i64,
) -> DbResult<Vec<Unfinished>> {
    db.fetch_all(
        "SELECT id, store, multipart FROM attachment_uploads \
         WHERE started_at < now() - make_interval(secs => $1) ORDER BY started_at LIMIT $2",
        params![older_than.as_secs_f64(), limit],
    )
    .await
}

/// Uploads under way (started within `younger_than`) into a store other than `store`.
pub async fn uploads_elsewhere(
    db: &impl Exec,
    store: &str,
    younger_than: Duration,
) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS n FROM attachment_uploads \
             WHERE store <> $1 AND started_at >= now() - make_interval(secs => $2)",
            params![store, younger_than.as_secs_f64()],
        )
        .await?;
    get(&row, "n")
}

// --- garbage --------------------------------------------------------------------------------

/// A file whose row is gone.
#[derive(Debug)]
pub struct Garbage {
    pub id: Uuid,
    pub store: String,
}

impl FromRow for Garbage {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            store: get(row, "store")?,
        })
    }
}

pub async fn has_garbage(db: &impl Exec) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM attachment_garbage) AS any",
            params![],
        )
        .await?;
    get(&row, "any")
}

pub async fn garbage(db: &impl Exec, limit: i64) -> DbResult<Vec<Garbage>> {
    db.fetch_all(
        "SELECT id, store FROM attachment_garbage ORDER BY deleted_at LIMIT $1",
        params![limit],
    )
    .await
}

pub async fn forget_garbage(db: &impl Exec, id: Uuid) -> DbResult<()> {
    db.execute("DELETE FROM attachment_garbage WHERE id = $1", params![id])
        .await?;
    Ok(())
}

// --- migration between stores ---------------------------------------------------------------

/// A row to move to another store.
#[derive(Debug)]
pub struct ToMove {
    pub id: Uuid,
    pub store: String,
    pub size: i64,
    pub sha256: Vec<u8>,
    pub thumbnail: bool,
}

impl FromRow for ToMove {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            store: get(row, "store")?,
            size: get(row, "size")?,
            sha256: get(row, "sha256")?,
            thumbnail: get(row, "thumbnail")?,
        })
    }
}

/// The next rows (by id, after `after`) whose files are not in `target`.
pub async fn not_in(
    db: &impl Exec,
    target: &str,
    after: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<ToMove>> {
    db.fetch_all(
        "SELECT id, store, size, sha256, thumbnail FROM attachments \
         WHERE store <> $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
        params![target, after, limit],
    )
    .await
}

/// Points a row at its copy in `to`, if it still exists and is still in `from`.
pub async fn moved(db: &impl Exec, id: Uuid, from: &str, to: &str) -> DbResult<bool> {
    let updated = db
        .execute(
            "UPDATE attachments SET store = $3 WHERE id = $1 AND store = $2",
            params![id, from, to],
        )
        .await?;
    Ok(updated > 0)
}

/// How many rows have their files outside `target`.
pub async fn count_not_in(db: &impl Exec, target: &str) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS n FROM attachments WHERE store <> $1",
            params![target],
        )
        .await?;
    get(&row, "n")
}
