//! Notification emails (API.md §14): a user with `email_notifications` gets at most one email
//! per interval (`DOCKET_DIGEST_INTERVAL_S`, 5 minutes), collecting every notification since
//! their last one, grouped by task.
//!
//! Built from the `notifications` table, so every kind is told, those added later too. A
//! notification waits in the table (`digested_at` NULL) until the user's digest takes it. A
//! user's digest is due when a notification has waited one interval (a burst of changes makes
//! one email) and their last digest is one interval old. Each instance's scheduler enqueues a
//! `notification_digests` job when some digest is due, under one key (one such job at a time
//! across instances); the job sends each due user's digest in a transaction of its own that
//! claims the user's `notification_digests` row for the interval (an upsert that only succeeds
//! when the last digest is an interval old: two instances cannot both win), takes the waiting
//! notifications and queues the email on the durable email queue, all or nothing. A
//! notification committed while that runs was not seen by it and waits for the next digest.
//! Notifications read in the app by then, and those of projects the user has left, are taken
//! without being told; a user with emails off (or disabled) gets none, but their waiting
//! notifications are taken all the same, so nothing piles up.

pub mod message;
pub mod token;

use std::time::Duration;

use serde_json::json;
use url::Url;
use uuid::Uuid;

use self::token::UnsubscribeKey;
use super::store;
use crate::db::{Db, DbResult};
use crate::email::Mailer;
use crate::jobs::queue::{self, Job};
use crate::jobs::{JobKey, JobKind, Outcome, RetryPolicy};

/// Users read per statement, and the most one job takes (the rest go to the next job, a few
/// seconds later, so that one instance's worker is not held up by a long round).
const BATCH: i64 = 100;
const PER_JOB: usize = 1000;
const MAX_ATTEMPTS: i32 = 5;

/// The part the digest job and the unsubscribe endpoints take. Cheap to clone.
#[derive(Clone)]
pub struct Digests {
    pub db: Db,
    pub mailer: Mailer,
    pub public_url: Url,
    pub interval: Duration,
    pub unsubscribe: UnsubscribeKey,
    pub retry: RetryPolicy,
}

impl Digests {
    /// A link below the public URL (which may have a path of its own).
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_str().trim_end_matches('/'))
    }

    /// The user's unsubscribe link: the page (GET) and the one-click target (POST).
    pub fn unsubscribe_link(&self, user_id: Uuid) -> String {
        let mut link = Url::parse(&self.link("/api/v1/unsubscribe")).expect("a valid URL");
        link.query_pairs_mut()
            .append_pair("token", &self.unsubscribe.token(user_id));
        link.into()
    }

    fn interval_secs(&self) -> f64 {
        self.interval.as_secs_f64()
    }
}

/// Called by each instance's scheduler: enqueues the digest job when some digest is due
/// (unless one is queued or running already). Reads only the waiting notifications.
pub async fn schedule(digests: &Digests) -> DbResult<()> {
    if store::any_digest_due(&digests.db, digests.interval_secs()).await? {
        queue::enqueue(
            &digests.db,
            JobKind::NotificationDigests,
            json!({}),
            &JobKey::notification_digests(),
            MAX_ATTEMPTS,
        )
        .await?;
    }
    Ok(())
}

/// The `JobKind::NotificationDigests` runner.
pub async fn run_job(digests: &Digests, job: &Job) -> Outcome {
    match send_due(digests).await {
        Ok((sent, passed)) => {
            tracing::info!(sent, passed, "notification digests");
            Outcome::Done
        }
        Err(error) => Outcome::Retry(
            digests.retry.after(job.attempts.max(1) as u32),
            format!("could not send the notification digests: {error}"),
        ),
    }
}

/// Sends the digests that are due; returns how many emails were queued and how many users'
/// notifications were taken without one.
async fn send_due(digests: &Digests) -> DbResult<(u64, u64)> {
    if !digests.mailer.is_configured() {
        // Nowhere to send them: the waiting rows are let go of.
        let passed = store::pass_over_digests(&digests.db, digests.interval_secs()).await?;
        return Ok((0, passed));
    }
    let (mut sent, mut passed, mut done) = (0, 0, 0);
    while done < PER_JOB {
        let due = store::digests_due(&digests.db, digests.interval_secs(), BATCH).await?;
        if due.is_empty() {
            break;
        }
        done += due.len();
        for user_id in due {
            match send_one(digests, user_id).await? {
                Some(true) => sent += 1,
                Some(false) => passed += 1,
                None => {}
            }
        }
    }
    Ok((sent, passed))
}

/// One user's digest, in one transaction: `None` when another instance (or an earlier digest
/// within the interval) has it, `Some(true)` when an email was queued, `Some(false)` when
/// there was nothing to tell or nobody to tell it to.
async fn send_one(digests: &Digests, user_id: Uuid) -> DbResult<Option<bool>> {
    let tx = digests.db.begin().await?;
    if !store::claim_digest(&tx, user_id, digests.interval_secs()).await? {
        return Ok(None);
    }
    let rows = store::take_for_digest(&tx, user_id).await?;
    let user = crate::auth::users::find_by_id(&tx, user_id).await?;
    let message = match user {
        Some(user) if user.email_notifications && !user.disabled => message::compose(
            &user,
            rows,
            &message::Links {
                base: digests.link(""),
                unsubscribe: digests.unsubscribe_link(user_id),
                interval: digests.interval,
            },
        ),
        _ => None,
    };
    let sent = match &message {
        Some(message) => {
            digests.mailer.enqueue(&tx, message).await?;
            true
        }
        None => false,
    };
    tx.commit().await?;
    let outcome = if sent { "sent" } else { "passed" };
    metrics::counter!("docket_notification_digests_total", "outcome" => outcome).increment(1);
    Ok(Some(sent))
}
