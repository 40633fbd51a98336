//! The comments table. Each change keeps the task's `comment_count` (through the tasks store),
//! records its activity entry and creates its notifications, all in the caller's transaction.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::CommentBody;
use crate::activity::{self, Actor, Change, Kind, Record};
use crate::db::{get, DbError, DbResult, Exec, FromRow, Row, Tx};
use crate::notifications::{self, store::notify, Notify};
use crate::params;
use crate::projects::access::{ProjectAccess, Role};
use crate::tasks::store::Task;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub task_id: Uuid,
    /// `null` once the author's account is deleted.
    pub author: Option<Actor>,
    pub body: String,
    /// The members the body mentions (`@email`), as user ids.
    pub mentions: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl FromRow for Comment {
    fn from_row(row: &Row) -> DbResult<Self> {
        let author = Actor::from_columns(row, "author_id", "author_name")?;
        Ok(Self {
            id: get(row, "id")?,
            task_id: get(row, "task_id")?,
            author,
            body: get(row, "body")?,
            mentions: get(row, "mentions")?,
            created_at: get(row, "created_at")?,
            updated_at: get(row, "updated_at")?,
            version: get(row, "version")?,
        })
    }
}

impl Comment {
    pub fn author_id(&self) -> Option<Uuid> {
        self.author.as_ref().map(|a| a.id)
    }
}

/// `c` is the comment (or the row a statement returned as `c`).
const COMMENT_COLUMNS: &str = "c.id, c.task_id, c.author_id, u.name AS author_name, c.body, \
     c.mentions, c.created_at, c.updated_at, c.version";

/// Why a comment could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CommentWriteError {
    #[error("the task holds its quota of comments")]
    QuotaExceeded,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl crate::error::DomainError for CommentWriteError {
    fn into_api_error(self) -> crate::error::ApiError {
        match self {
            CommentWriteError::QuotaExceeded => {
                crate::quotas::exceeded("comments per task", crate::quotas::COMMENTS_PER_TASK)
            }
            CommentWriteError::Db(error) => error.into(),
        }
    }
}

static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH c AS (INSERT INTO comments (id, task_id, author_id, body, mentions) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *) \
         SELECT {COMMENT_COLUMNS} FROM c LEFT JOIN users u ON u.id = c.author_id"
    )
});

/// Adds a comment by the caller to `task` (of the project `access` entered). `mentions` are
/// the mentioned members' ids.
pub async fn insert(
    tx: &Tx,
    access: &ProjectAccess,
    task: &Task,
    body: &CommentBody,
    mentions: &[Uuid],
) -> Result<Comment, CommentWriteError> {
    // Counting first locks the task row, so concurrent comments queue and the quota is exact.
    let count = crate::tasks::store::count_comment(tx, task.id, 1).await?;
    if i64::from(count) > crate::quotas::COMMENTS_PER_TASK {
        return Err(CommentWriteError::QuotaExceeded);
    }
    let author = access.user_id();
    let comment: Comment = tx
        .fetch_one(
            &INSERT_SQL,
            params![
                Uuid::now_v7(),
                task.id,
                author,
                body.as_str(),
                mentions.to_vec()
            ],
        )
        .await?;
    activity::record(
        tx,
        Record::new(Kind::CommentCreated, access.project_id(), Some(author))
            .task(task.id)
            .comment(comment.id)
            .changes(vec![Change::new("body", (), body.as_str().chars().count())]),
    );
    // Each person hears of a comment once: as mentioned if they are, else as creator or
    // assignee of the task.
    for &user_id in mentions {
        notify(tx, &mention(access, &comment, user_id)).await?;
    }
    let mut followers = vec![task.created_by];
    followers.extend(task.assignee_id);
    followers.dedup();
    for user_id in followers {
        if !mentions.contains(&user_id) {
            notify(
                tx,
                &Notify {
                    user_id,
                    kind: notifications::Kind::Commented,
                    task_id: task.id,
                    actor_id: Some(author),
                    comment_id: Some(comment.id),
                    cause: format!("comment:{}", comment.id),
                },
            )
            .await?;
        }
    }
    Ok(comment)
}

fn mention(access: &ProjectAccess, comment: &Comment, user_id: Uuid) -> Notify {
    Notify {
        user_id,
        kind: notifications::Kind::Mentioned,
        task_id: comment.task_id,
        actor_id: Some(access.user_id()),
        comment_id: Some(comment.id),
        cause: format!("mention:{}", comment.id),
    }
}

/// A comment with the caller's role in its task's project: `$1` comment id, `$2` user id.
static FIND_VISIBLE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COMMENT_COLUMNS}, t.project_id, m.role AS my_role FROM comments c \
         JOIN tasks t ON t.id = c.task_id \
         JOIN memberships m ON m.project_id = t.project_id AND m.user_id = $2 \
         LEFT JOIN users u ON u.id = c.author_id \
         WHERE c.id = $1"
    )
});
static FIND_VISIBLE_FOR_UPDATE_SQL: LazyLock<String> =
    LazyLock::new(|| format!("{} FOR UPDATE OF c", *FIND_VISIBLE_SQL));

/// A comment, its project and the caller's role there; `None` when there is no such comment
/// or the caller is not a member (both mean 404). Handlers reach it through
/// `projects::guard::enter_comment`.
pub async fn find_visible(
    db: &impl Exec,
    comment_id: Uuid,
    user_id: Uuid,
    lock: bool,
) -> DbResult<Option<(Comment, Uuid, Role)>> {
    let sql = if lock {
        &FIND_VISIBLE_FOR_UPDATE_SQL
    } else {
        &FIND_VISIBLE_SQL
    };
    let row = db.query_opt(sql, params![comment_id, user_id]).await?;
    row.map(|row| {
        Ok((
            Comment::from_row(&row)?,
            get(&row, "project_id")?,
            get(&row, "my_role")?,
        ))
    })
    .transpose()
}

/// A task's comments, oldest first, after the comment `after` (the previous page's last).
pub async fn list(
    db: &impl Exec,
    task_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<Comment>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {COMMENT_COLUMNS} FROM comments c LEFT JOIN users u ON u.id = c.author_id \
             WHERE c.task_id = $1 AND ($2::uuid IS NULL OR c.id > $2) ORDER BY c.id LIMIT $3"
        )
    });
    db.fetch_all(&SQL, params![task_id, after, limit]).await
}

/// The comments of `task_ids`, grouped by task in the order given, oldest first within each
/// (the export reads a page of tasks' comments at once).
pub async fn of_tasks(db: &impl Exec, task_ids: &[Uuid]) -> DbResult<Vec<Comment>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {COMMENT_COLUMNS} FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, n) \
             JOIN comments c ON c.task_id = k.id LEFT JOIN users u ON u.id = c.author_id \
             ORDER BY k.n, c.created_at, c.id"
        )
    });
    db.fetch_all(&SQL, params![task_ids.to_vec()]).await
}

/// Rewrites a comment (`old`, locked by the caller). Members mentioned for the first time are
/// notified.
pub async fn update(
    tx: &Tx,
    access: &ProjectAccess,
    old: &Comment,
    body: &CommentBody,
    mentions: &[Uuid],
) -> DbResult<Comment> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH c AS (UPDATE comments SET body = $2, mentions = $3, version = version + 1, \
                 updated_at = now() WHERE id = $1 RETURNING *) \
             SELECT {COMMENT_COLUMNS} FROM c LEFT JOIN users u ON u.id = c.author_id"
        )
    });
    let comment: Comment = tx
        .fetch_one(&SQL, params![old.id, body.as_str(), mentions.to_vec()])
        .await?;
    if old.body != comment.body {
        // Lengths only, like descriptions; an edit of equal length is still a change.
        activity::record(
            tx,
            Record::new(
                Kind::CommentUpdated,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(comment.task_id)
            .comment(comment.id)
            .changes(vec![Change::new(
                "body",
                old.body.chars().count(),
                comment.body.chars().count(),
            )]),
        );
    }
    for &user_id in mentions.iter().filter(|u| !old.mentions.contains(u)) {
        notify(tx, &mention(access, &comment, user_id)).await?;
    }
    Ok(comment)
}

/// Deletes a comment (locked by the caller).
pub async fn delete(tx: &Tx, access: &ProjectAccess, comment: &Comment) -> DbResult<()> {
    let deleted = tx
        .execute("DELETE FROM comments WHERE id = $1", params![comment.id])
        .await?;
    if deleted > 0 {
        crate::tasks::store::count_comment(tx, comment.task_id, -1).await?;
        activity::record(
            tx,
            Record::new(
                Kind::CommentDeleted,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(comment.task_id)
            .comment(comment.id)
            .changes(vec![Change::new("body", comment.body.chars().count(), ())]),
        );
    }
    Ok(())
}

/// Adds imported comments (`(task, body)`, oldest first) by the importer to tasks the import
/// just created in the project `access` entered: one statement, the tasks' counts kept, one
/// `comment.created` entry each, nobody notified. The caller keeps each task within
/// `COMMENTS_PER_TASK`.
pub async fn insert_imported(
    tx: &Tx,
    access: &ProjectAccess,
    comments: &[(Uuid, CommentBody)],
) -> DbResult<()> {
    if comments.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = comments.iter().map(|_| Uuid::now_v7()).collect();
    let tasks: Vec<Uuid> = comments.iter().map(|(task, _)| *task).collect();
    let bodies: Vec<&str> = comments.iter().map(|(_, body)| body.as_str()).collect();
    tx.execute(
        "INSERT INTO comments (id, task_id, author_id, body, mentions) \
         SELECT k.id, k.task_id, $4, k.body, '{}' \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS k(id, task_id, body)",
        params![ids, tasks, bodies, access.user_id()],
    )
    .await?;
    crate::tasks::store::count_imported_comments(tx, access, &tasks).await?;
    for ((task, body), id) in comments.iter().zip(&ids) {
        activity::record(
            tx,
            Record::new(
                Kind::CommentCreated,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(*task)
            .comment(*id)
            .changes(vec![Change::new("body", (), body.as_str().chars().count())]),
        );
    }
    tx.flush_journal().await
}
