//! The daily reminders (API.md §12): `due_soon` for an assignee's open tasks due the next day,
//! `overdue` for those due before the day. One job per day across every instance: each
//! instance's scheduler enqueues the day's job under a `once:` key, which the queue takes only
//! once (`jobs::queue::enqueue_once`), and the job's payload names its day, so that a job
//! running late (or a test) reminds for the day it was made for.
//!
//! The tasks store reads the due tasks (it owns that table); this module turns them into
//! notifications, inserted in batches by the notifications store.

use chrono::NaiveDate;
use serde_json::json;

use super::{store, Kind, Notify};
use crate::db::{Db, DbResult, Exec};
use crate::jobs::queue::{self, Job};
use crate::jobs::{JobKey, JobKind};
use crate::jobs::{Outcome, RetryPolicy};
use crate::tasks::store::{due_assignments, DueAssignment};

/// Tasks read and notified per statement.
const BATCH: i64 = 1000;
const MAX_ATTEMPTS: i32 = 5;

/// Enqueues the reminders of `day` unless they were already enqueued (by any instance, even
/// if they have run since). Returns whether this call added the job.
pub async fn enqueue(db: &impl Exec, day: NaiveDate) -> DbResult<bool> {
    queue::enqueue_once(
        db,
        JobKind::DueReminders,
        json!({ "date": day }),
        &JobKey::due_reminders(day),
        MAX_ATTEMPTS,
    )
    .await
}

/// The reminder a due task gives on `day`, if any.
fn reminder(day: NaiveDate, due: &DueAssignment) -> Option<Notify> {
    let kind = if Some(due.due_date) == day.succ_opt() {
        Kind::DueSoon
    } else if due.due_date < day {
        Kind::Overdue
    } else {
        return None;
    };
    Some(Notify {
        user_id: due.assignee_id,
        kind,
        task_id: due.task_id,
        actor_id: None,
        comment_id: None,
        cause: format!("{}:{}:{day}", kind.as_str(), due.task_id),
    })
}

/// Creates the reminders of `day`; returns how many were new. Running it again creates none
/// (each cause names the day), so a retried job is harmless.
pub async fn remind(db: &impl Exec, day: NaiveDate) -> DbResult<u64> {
    let mut created = 0;
    let mut after = None;
    loop {
        let due = due_assignments(db, day, after, BATCH).await?;
        let Some(last) = due.last() else {
            return Ok(created);
        };
        after = Some(last.task_id);
        let batch: Vec<Notify> = due.iter().filter_map(|d| reminder(day, d)).collect();
        created += store::notify_all(db, &batch).await?;
        if (due.len() as i64) < BATCH {
            return Ok(created);
        }
    }
}

pub async fn run_job(db: &Db, retry: RetryPolicy, job: &Job) -> Outcome {
    let Some(day) = job
        .payload
        .get("date")
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse::<NaiveDate>().ok())
    else {
        return Outcome::Fatal("the job has no date".to_owned());
    };
    match remind(db, day).await {
        Ok(created) => {
            tracing::info!(%day, created, "due-date reminders sent");
            Outcome::Done
        }
        Err(error) => Outcome::Retry(
            retry.after(job.attempts as u32),
            format!("could not send the reminders: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_task_due_tomorrow_is_due_soon_one_due_before_today_overdue() {
        let day = NaiveDate::from_ymd_opt(2031, 3, 1).unwrap();
        let due = |y, m, d| DueAssignment {
            task_id: Uuid::nil(),
            assignee_id: Uuid::max(),
            due_date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        };
        let kind = |d: DueAssignment| reminder(day, &d).map(|n| n.kind);
        assert_eq!(kind(due(2031, 3, 2)), Some(Kind::DueSoon));
        assert_eq!(kind(due(2031, 2, 28)), Some(Kind::Overdue));
        assert_eq!(kind(due(2030, 12, 31)), Some(Kind::Overdue));
        assert_eq!(kind(due(2031, 3, 1)), None, "due today is neither");
        assert_eq!(kind(due(2031, 3, 3)), None);
        let cause = reminder(day, &due(2031, 3, 2)).unwrap().cause;
        assert_eq!(cause, format!("due_soon:{}:2031-03-01", Uuid::nil()));
    }
}
