//! The worker (claims and runs jobs, one at a time per instance) and the scheduler (enqueues
//! a sync for every GitHub link that is due, and each day's due-date reminders). Both stop
//! claiming on shutdown; a job that does not finish within the grace period is put back in
//! the queue.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::queue::{self, Job};
use crate::app::AppState;
use crate::db::DbResult;

pub const GITHUB_SYNC: &str = "github_sync";
const POLL: Duration = Duration::from_millis(250);
const SCHEDULE_EVERY: Duration = Duration::from_secs(5);

/// How a job ended.
pub enum Outcome {
    Done,
    /// Failed; retry after the delay (if attempts remain).
    Retry(Duration, String),
    /// Failed in a way that retrying cannot fix.
    Fatal(String),
}

pub fn spawn(state: AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_schedule = tokio::time::Instant::now() - SCHEDULE_EVERY;
        // The day whose reminders this instance has enqueued (or found enqueued).
        let mut reminders_for = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if state.is_migrated() {
                if last_schedule.elapsed() >= SCHEDULE_EVERY {
                    last_schedule = tokio::time::Instant::now();
                    if let Err(error) = schedule_due_syncs(&state).await {
                        tracing::warn!(error = %error, "could not schedule GitHub syncs");
                    }
                    let today = Utc::now().date_naive();
                    if reminders_for != Some(today) {
                        match crate::notifications::due::enqueue(&state.db, today).await {
                            Ok(_) => reminders_for = Some(today),
                            Err(error) => {
                                tracing::warn!(error = %error, "could not schedule the reminders")
                            }
                        }
                    }
                }
                match queue::claim(&state.db).await {
                    Ok(Some(job)) => {
                        run_one(&state, job, &mut shutdown).await;
                        continue;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(error = %error, "could not claim a job"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

async fn run_one(state: &AppState, job: Job, shutdown: &mut watch::Receiver<bool>) {
    let started = std::time::Instant::now();
    tracing::info!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
    let work = dispatch(state, &job);
    tokio::pin!(work);
    let outcome = tokio::select! {
        outcome = &mut work => Some(outcome),
        _ = wait_for_shutdown(shutdown) => {
            // Draining: let the job finish within the grace period, else put it back.
            tokio::time::timeout(state.config.shutdown_grace, &mut work).await.ok()
        }
    };
    let result = match outcome {
        None => {
            tracing::warn!(job_id = %job.id, "shutdown: job returned to the queue");
            queue::release(&state.db, job.id).await
        }
        Some(Outcome::Done) => queue::complete(&state.db, job.id).await,
        Some(Outcome::Retry(delay, error)) => {
            let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            queue::fail(&state.db, &job, &error, Some(retry_at)).await
        }
        Some(Outcome::Fatal(error)) => queue::fail(&state.db, &job, &error, None).await,
    };
    if let Err(error) = result {
        tracing::error!(job_id = %job.id, error = %error, "could not record the job's outcome");
    }
    metrics::histogram!("docket_job_duration_seconds", "kind" => job.kind.clone())
        .record(started.elapsed().as_secs_f64());
}

async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

async fn dispatch(state: &AppState, job: &Job) -> Outcome {
    match job.kind.as_str() {
        GITHUB_SYNC => crate::github::sync::run_job(state, job).await,
        crate::notifications::due::DUE_REMINDERS => {
            crate::notifications::due::run_job(state, job).await
        }
        other => Outcome::Fatal(format!("unknown job kind {other:?}")),
    }
}

/// Enqueues a sync for every link whose next sync is due (see `queue::schedule_due_syncs`).
async fn schedule_due_syncs(state: &AppState) -> DbResult<()> {
    queue::schedule_due_syncs(
        &state.db,
        GITHUB_SYNC,
        state.config.github_sync_interval.as_secs_f64(),
    )
    .await?;
    let depth = queue::queued_count(&state.db).await?;
    metrics::gauge!("docket_jobs_queued").set(depth as f64);
    Ok(())
}
