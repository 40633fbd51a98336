//! What the calendar feed (API.md §19) reads of tasks: the few columns an iCalendar entry
//! needs, a page at a time by (due date, id), only in projects the user is a member of.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;
use crate::tasks::domain::Status;
use crate::tasks::recurrence::RecurFrom;

/// Whose tasks a feed shows.
#[derive(Debug, Clone, Copy)]
pub enum FeedOf {
    /// Assigned to the user, in any project they are a member of.
    Assigned { user_id: Uuid },
    /// Every task of a project, while the user is a member of it.
    Project { project_id: Uuid, user_id: Uuid },
}

/// A task as a calendar entry needs it (always with a due date).
#[derive(Debug, Clone)]
pub struct CalendarTask {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub status: Status,
    pub due_date: NaiveDate,
    pub due_time: Option<NaiveTime>,
    pub recurrence_rule: Option<String>,
    pub recurrence_from: Option<RecurFrom>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FromRow for CalendarTask {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            project_id: get(row, "project_id")?,
            number: get(row, "number")?,
            title: get(row, "title")?,
            status: get(row, "status")?,
            due_date: get(row, "due_date")?,
            due_time: get(row, "due_time")?,
            recurrence_rule: get(row, "recurrence_rule")?,
            recurrence_from: get(row, "recurrence_from")?,
            completed_at: get(row, "completed_at")?,
            created_at: get(row, "created_at")?,
            updated_at: get(row, "updated_at")?,
        })
    }
}

/// Where a page ends: the next page starts after it.
pub type FeedKey = (NaiveDate, Uuid);

const COLUMNS: &str = "t.id, t.project_id, t.number, t.title, t.status, t.due_date, t.due_time, \
     t.recurrence_rule, t.recurrence_from, t.completed_at, t.created_at, t.updated_at";

/// One page of a feed's tasks after `after`, by (due date, id). Each page is a range scan of
/// an index (`tasks_assignee_due`, `tasks_project_due_asc`), so a feed of n tasks costs n, not
/// n² / page. Membership is joined here, in the same statement, so a project the user left is
/// absent whatever the caller checked before.
pub async fn page(
    db: &impl Exec,
    of: FeedOf,
    after: Option<FeedKey>,
    limit: i64,
) -> DbResult<Vec<CalendarTask>> {
    // Before any date a task can have (the first page).
    let start = (
        NaiveDate::from_ymd_opt(-4000, 1, 1).expect("a date PostgreSQL holds"),
        Uuid::nil(),
    );
    let (after_date, after_id) = after.unwrap_or(start);
    match of {
        FeedOf::Assigned { user_id } => {
            db.fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM tasks t \
                     WHERE t.assignee_id = $1 AND t.due_date IS NOT NULL \
                       AND (t.due_date, t.id) > ($2, $3) \
                       AND EXISTS (SELECT 1 FROM memberships m \
                                   WHERE m.project_id = t.project_id AND m.user_id = $1) \
                     ORDER BY t.due_date, t.id LIMIT $4"
                ),
                params![user_id, after_date, after_id, limit],
            )
            .await
        }
        FeedOf::Project {
            project_id,
            user_id,
        } => {
            // The expression of `tasks_project_due_asc`, so each page is a range scan of it.
            db.fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM tasks t \
                     WHERE t.project_id = $1 AND t.due_date IS NOT NULL \
                       AND (coalesce(t.due_date, 'infinity'::date), t.id) > ($2, $3) \
                       AND EXISTS (SELECT 1 FROM memberships m \
                                   WHERE m.project_id = $1 AND m.user_id = $5) \
                     ORDER BY coalesce(t.due_date, 'infinity'::date), t.id LIMIT $4"
                ),
                params![project_id, after_date, after_id, limit, user_id],
            )
            .await
        }
    }
}
