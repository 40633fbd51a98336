//! The table of job kinds: what the worker runs for each `JobKind`, and what it schedules.

use chrono::{DateTime, Duration, Utc};

use crate::attachments::{jobs as attachment_jobs, Attachments};
use crate::db::Db;
use crate::email::Mailer;
use crate::github::Github;
use crate::jobs::queue::{self, Job};
use crate::jobs::worker::Runner;
use crate::jobs::{JobKind, Outcome, RetryPolicy};
use crate::notifications::digest::{self, Digests};

pub struct Jobs {
    pub db: Db,
    pub github: Github,
    pub mailer: Mailer,
    pub digests: Digests,
    pub retry: RetryPolicy,
    /// The hour whose reminders this instance has enqueued (or found enqueued).
    pub reminders_for: Option<DateTime<Utc>>,
    pub attachments: Attachments,
    pub attachment_schedule: attachment_jobs::Schedule,
    /// How often the task reminders' scan is enqueued (`DOCKET_REMINDER_SCAN_S`).
    pub reminder_scan: std::time::Duration,
    pub reminder_late_after: std::time::Duration,
    /// When this instance last enqueued the scan (or found it enqueued).
    pub reminders_scanned: Option<tokio::time::Instant>,
}

impl Runner for Jobs {
    async fn run(&self, job: &Job) -> Outcome {
        match JobKind::parse(&job.kind) {
            Some(JobKind::GithubSync) => crate::github::sync::run_job(&self.github, job).await,
            Some(JobKind::DueReminders) => {
                crate::notifications::due::run_job(&self.db, self.retry, job).await
            }
            Some(JobKind::TaskReminders) => {
                crate::tasks::reminder_scan::run_job(
                    &self.db,
                    self.retry,
                    self.reminder_late_after,
                    job,
                )
                .await
            }
            Some(JobKind::Email) => crate::email::run_job(&self.mailer, job).await,
            Some(JobKind::NotificationDigests) => digest::run_job(&self.digests, job).await,
            Some(JobKind::AttachmentThumbnail) => {
                attachment_jobs::run_thumbnail(&self.attachments, job).await
            }
            Some(JobKind::AttachmentPurge) => {
                attachment_jobs::run_purge(&self.attachments, job).await
            }
            Some(JobKind::AttachmentSweep) => {
                attachment_jobs::run_sweep(&self.attachments, job).await
            }
            // A kind from a newer release: fail it rather than guess.
            None => Outcome::Fatal(format!("unknown job kind {:?}", job.kind)),
        }
    }

    async fn schedule(&mut self) {
        // A sync for every link whose next sync is due (see `queue::schedule_due_syncs`).
        let interval = self.github.sync_interval.as_secs_f64();
        // An unreachable database is the pool's to report (once); anything else is a bug.
        if let Err(error) = queue::schedule_due_syncs(&self.db, interval).await {
            if !error.is_unreachable() {
                tracing::warn!(error = %error, "could not schedule GitHub syncs");
            }
        }
        let hour = crate::notifications::due::hour_of(Utc::now());
        if self.reminders_for != Some(hour) {
            // At start, the past day's hours too: a day that began while no instance ran is
            // reminded of late (hours already enqueued are not enqueued again).
            let first = match self.reminders_for {
                None => hour - Duration::hours(23),
                Some(last) => (last + Duration::hours(1)).max(hour - Duration::hours(23)),
            };
            match enqueue_hours(&self.db, first, hour).await {
                Ok(()) => self.reminders_for = Some(hour),
                Err(error) if error.is_unreachable() => {}
                Err(error) => tracing::warn!(error = %error, "could not schedule the reminders"),
            }
        }
        match digest::schedule(&self.digests).await {
            Ok(()) => {}
            Err(error) if error.is_unreachable() => {}
            Err(error) => {
                tracing::warn!(error = %error, "could not schedule the notification digests")
            }
        }
        attachment_jobs::schedule(&self.attachments, &mut self.attachment_schedule).await;
        self.schedule_reminder_scan().await;
    }

    fn schedule_every(&self) -> std::time::Duration {
        self.reminder_scan.min(std::time::Duration::from_secs(5))
    }
}

impl Jobs {
    /// The task reminders' scan, every `reminder_scan`: one queued or running at a time across
    /// instances (its key), so instances scanning together do not pile up jobs.
    async fn schedule_reminder_scan(&mut self) {
        if self
            .reminders_scanned
            .is_some_and(|at| at.elapsed() < self.reminder_scan)
        {
            return;
        }
        let enqueued = queue::enqueue(
            &self.db,
            JobKind::TaskReminders,
            serde_json::json!({}),
            &crate::jobs::JobKey::task_reminders(),
            3,
        )
        .await;
        match enqueued {
            Ok(_) => self.reminders_scanned = Some(tokio::time::Instant::now()),
            Err(error) if error.is_unreachable() => {}
            Err(error) => tracing::warn!(error = %error, "could not schedule the reminder scan"),
        }
    }
}

/// Enqueues the reminders of every hour from `first` to `last`, each unless it was already.
async fn enqueue_hours(
    db: &Db,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> crate::db::DbResult<()> {
    let mut hour = first;
    while hour <= last {
        crate::notifications::due::enqueue_hour(db, hour).await?;
        hour += Duration::hours(1);
    }
    Ok(())
}
