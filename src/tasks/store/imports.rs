//! The tasks-table SQL of the GitHub import: tasks upserted by (project, GitHub issue id).
//! GitHub owns title, description, status and labels; priority, due date and assignee keep
//! local edits (and so do a task's state within its category, its parent and its relations; a
//! new category takes its default state).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::activity::{self, Kind, Record, SyncCounts};
use crate::db::{get, DbResult, Exec, Tx};
use crate::params;
use crate::tasks::domain::Status;

/// An issue as a task sees it (already truncated to the task's limits).
#[derive(Debug, Clone, Copy)]
pub struct ImportedIssue<'a> {
    pub github_issue_id: i64,
    pub title: &'a str,
    pub description: &'a str,
    pub status: Status,
    pub labels: &'a [String],
    pub closed_at: Option<DateTime<Utc>>,
    /// `owner/name`, as the link spells it.
    pub repository: &'a str,
    pub number: i64,
    pub url: &'a str,
}

/// What an upsert did to the issue's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Creates the issue's task, or brings it up to date (touching it only when something
/// changed). The issue's `closed_at` is offered as `completed_at`; the tasks' trigger decides
/// (migrations/V20261201000001: kept while done, cleared otherwise). The caller holds the project's row lock (`projects::store::lock`), which
/// serialises the task numbers; new tasks are created by `created_by`.
pub async fn upsert_issue(
    tx: &Tx,
    project_id: Uuid,
    created_by: Uuid,
    issue: &ImportedIssue<'_>,
) -> DbResult<Upserted> {
    // Locked: the status it had is what the tasks it blocks counted.
    let existing = tx
        .query_opt(
            "SELECT id, status FROM tasks WHERE project_id = $1 AND github_issue_id = $2 \
             FOR UPDATE",
            params![project_id, issue.github_issue_id],
        )
        .await?;
    match existing {
        Some(row) => {
            let task_id: Uuid = get(&row, "id")?;
            let old_status: Status = get(&row, "status")?;
            let changed = tx
                .execute(
                    "UPDATE tasks SET title = $2, description = $3, status = $4, labels = $5, \
                     completed_at = $6, \
                     state_id = CASE WHEN $4 = status THEN state_id ELSE \
                         (SELECT s.id FROM states s WHERE s.project_id = tasks.project_id \
                          AND s.category = $4 AND s.is_default) END, \
                     source_repository = $7, source_number = $8, source_url = $9, \
                     version = version + 1, updated_at = now() \
                 WHERE id = $1 AND (title, description, status, labels, source_repository, \
                     source_number, source_url) IS DISTINCT FROM ($2, $3, $4, $5, $7, $8, $9)",
                    params![
                        task_id,
                        issue.title,
                        issue.description,
                        issue.status,
                        issue.labels,
                        issue.closed_at,
                        issue.repository,
                        issue.number,
                        issue.url
                    ],
                )
                .await?;
            if changed == 0 {
                return Ok(Upserted::Unchanged);
            }
            super::blockers::category_changed(tx, None, &[task_id], old_status, issue.status)
                .await?;
            Ok(Upserted::Updated)
        }
        None => {
            let (number, _) = crate::projects::store::take_task_numbers(tx, project_id, 1).await?;
            let task_id = Uuid::now_v7();
            tx.execute(
                "INSERT INTO tasks (id, project_id, number, title, description, status, labels, \
                     created_by, completed_at, source_repository, source_number, source_url, \
                     github_issue_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                     $9, $10, $11, $12, $13)",
                params![
                    task_id,
                    project_id,
                    number,
                    issue.title,
                    issue.description,
                    issue.status,
                    issue.labels,
                    created_by,
                    issue.closed_at,
                    issue.repository,
                    issue.number,
                    issue.url,
                    issue.github_issue_id
                ],
            )
            .await?;
            Ok(Upserted::Created)
        }
    }
}

/// Records one `github.synced` entry for the upserts of this transaction (one per committed
/// page of issues, not one per issue), if they changed anything. The server is the actor.
pub fn record_sync(tx: &Tx, project_id: Uuid, counts: SyncCounts) {
    if counts.created + counts.updated > 0 {
        activity::record(
            tx,
            Record::new(Kind::GithubSynced, project_id, None).counts(counts),
        );
    }
}

/// How many of the project's tasks were imported from `repository` (GitHub names are
/// case-insensitive, so the count is too).
pub async fn imported_count(db: &impl Exec, project_id: Uuid, repository: &str) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS count FROM tasks t WHERE t.project_id = $1 \
                AND lower(t.source_repository) = lower($2)",
            params![project_id, repository],
        )
        .await?;
    get(&row, "count")
}
