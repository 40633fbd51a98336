//! Background work: a durable job queue in PostgreSQL and the worker that runs it. What each
//! kind of job does is not known here: the worker hands claimed jobs to a [`worker::Runner`]
//! (the server's table of kinds), so this module names no domain.

pub mod queue;
pub mod worker;

use std::time::Duration;

use chrono::NaiveDate;
use uuid::Uuid;

/// How a job ended.
pub enum Outcome {
    Done,
    /// Failed; retry after the delay (if attempts remain).
    Retry(Duration, String),
    /// Failed in a way that retrying cannot fix.
    Fatal(String),
}

/// The delays between a failed job's attempts: full-jitter exponential backoff from `base`,
/// capped at `cap`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// The delay before the next try of a job that has made `attempts` attempts.
    pub fn after(&self, attempts: u32) -> Duration {
        queue::backoff(self.base, self.cap, attempts)
    }
}

/// What a job does: the `kind` column, spelled in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Import or re-sync a project's GitHub issues (`github::sync`).
    GithubSync,
    /// One day's (or one hour's, in each person's zone) due-soon and overdue notifications
    /// (`notifications::due`).
    DueReminders,
    /// The scan that sends the task reminders that came due (`tasks::reminders`).
    TaskReminders,
    /// One email (`email`).
    Email,
    /// The notification emails of every user whose digest is due (`notifications::digest`).
    NotificationDigests,
    /// The thumbnail of an image attachment (`attachments::jobs`).
    AttachmentThumbnail,
    /// Removing the files of deleted attachments from storage (`attachments::jobs`).
    AttachmentPurge,
    /// Removing what unfinished uploads left behind (`attachments::jobs`).
    AttachmentSweep,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::GithubSync => "github_sync",
            JobKind::DueReminders => "due_reminders",
            JobKind::TaskReminders => "task_reminders",
            JobKind::Email => "email",
            JobKind::NotificationDigests => "notification_digests",
            JobKind::AttachmentThumbnail => "attachment_thumbnail",
            JobKind::AttachmentPurge => "attachment_purge",
            JobKind::AttachmentSweep => "attachment_sweep",
        }
    }

    /// Kinds enqueued on a timer by every instance (every few seconds): their finished rows say
    /// nothing after the next round, so they are dropped after an hour rather than a week
    /// (at a 15 s scan, a week of them is ~40,000 rows per instance).
    pub const PERIODIC: [JobKind; 2] = [JobKind::TaskReminders, JobKind::NotificationDigests];

    pub fn parse(raw: &str) -> Option<Self> {
        [
            JobKind::GithubSync,
            JobKind::DueReminders,
            JobKind::TaskReminders,
            JobKind::Email,
            JobKind::NotificationDigests,
            JobKind::AttachmentThumbnail,
            JobKind::AttachmentPurge,
            JobKind::AttachmentSweep,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
    }
}

crate::text_enum!(JobKind, JobKind::parse);

/// A job's dedupe key: at most one active job per key (and, for once-keys, one ever). Made
/// only by the constructors below, so two places cannot spell one job's key differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobKey(String);

impl JobKey {
    /// The prefix of sync keys; `queue::schedule_due_syncs` builds the same keys in SQL.
    pub const GITHUB_SYNC_PREFIX: &'static str = "github-sync:";

    pub fn github_sync(project_id: Uuid) -> Self {
        Self(format!("{}{project_id}", Self::GITHUB_SYNC_PREFIX))
    }

    pub fn due_reminders(day: NaiveDate) -> Self {
        Self(format!("due-reminders:{day}"))
    }

    /// The reminders of the people whose day begins in the hour starting at `hour`.
    pub fn due_reminders_at(hour: chrono::DateTime<chrono::Utc>) -> Self {
        Self(format!("due-reminders:{}", hour.format("%Y-%m-%dT%H")))
    }

    /// One reminder scan at a time (per database): instances enqueue it every scan period.
    pub fn task_reminders() -> Self {
        Self("task-reminders".to_owned())
    }

    /// Every email is a job of its own.
    pub fn email(id: Uuid) -> Self {
        Self(format!("email:{id}"))
    }

    /// One digest round at a time across instances: it takes every user whose digest is due.
    pub fn notification_digests() -> Self {
        Self("notification-digests".to_owned())
    }

    pub fn attachment_thumbnail(id: Uuid) -> Self {
        Self(format!("attachment-thumbnail:{id}"))
    }

    /// One purge at a time: it empties the whole garbage.
    pub fn attachment_purge() -> Self {
        Self("attachment-purge".to_owned())
    }

    pub fn attachment_sweep() -> Self {
        Self("attachment-sweep".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
