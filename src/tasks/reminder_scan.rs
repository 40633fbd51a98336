//! The periodic scan that sends the task reminders that came due (API.md §19): a
//! `JobKind::TaskReminders` job, enqueued by each instance every `DOCKET_REMINDER_SCAN_S`
//! (one queued or running at a time across instances, its dedupe key), claims due reminders in
//! batches and writes their `reminder` notifications in the claim's transaction, so each is
//! sent once however many instances scan, and the overdue ones go out when a server is back.

use chrono::{Duration, Utc};

use crate::db::Db;
use crate::jobs::queue::Job;
use crate::jobs::{Outcome, RetryPolicy};
use crate::notifications::store::{notify_reminders, ReminderNotice};

/// Reminders claimed and notified per transaction.
const BATCH: i64 = 500;

/// The periodic job: sends every due reminder (late ones too, after an outage), in batches,
/// each batch's claim and notifications in one transaction, so each is sent once however many
/// instances scan. `late_after`: how late a reminder is marked `late` (an hour).
pub async fn run_job(
    db: &Db,
    retry: RetryPolicy,
    late_after: std::time::Duration,
    job: &Job,
) -> Outcome {
    let mut sent = 0;
    loop {
        match send_due(db, late_after).await {
            Ok(n) => {
                sent += n;
                if n < BATCH as usize {
                    break;
                }
            }
            Err(error) => {
                return Outcome::Retry(
                    retry.after(job.attempts as u32),
                    format!("could not send the reminders: {error}"),
                )
            }
        }
    }
    if sent > 0 {
        tracing::info!(sent, "task reminders sent");
    }
    Outcome::Done
}

/// One batch: claims up to `BATCH` due reminders and notifies their recipients, in one
/// transaction. Returns how many were claimed.
async fn send_due(db: &Db, late_after: std::time::Duration) -> crate::db::DbResult<usize> {
    let tx = db.begin().await?;
    let claimed = super::store::reminders::claim_due(&tx, BATCH).await?;
    let now = Utc::now();
    let late_after = Duration::from_std(late_after).unwrap_or(Duration::hours(1));
    let batch: Vec<ReminderNotice> = claimed
        .iter()
        .filter(|c| c.open)
        .map(|c| ReminderNotice {
            user_id: c.recipient,
            task_id: c.task_id,
            cause: format!("reminder:{}:{}", c.id, c.fire_at.timestamp()),
            late: now - c.fire_at > late_after,
        })
        .collect();
    notify_reminders(&tx, &batch).await?;
    tx.commit().await?;
    Ok(claimed.len())
}
