//! The worker: claims and runs jobs, one at a time per instance, and every few seconds lets
//! its runner enqueue what is due. It stops claiming on shutdown; a job that does not finish
//! within the grace period is put back in the queue.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::queue::{self, Job};
use super::Outcome;
use crate::db::backoff::Backoff;
use crate::db::Db;

const POLL: Duration = Duration::from_millis(250);
const SCHEDULE_EVERY: Duration = Duration::from_secs(5);

/// What the jobs do: the composition root's table of job kinds.
pub trait Runner: Send + Sync + 'static {
    /// Runs one claimed job to its outcome.
    fn run(&self, job: &Job) -> impl Future<Output = Outcome> + Send;

    /// Enqueues the jobs that are due now (called every few seconds).
    fn schedule(&mut self) -> impl Future<Output = ()> + Send;

    /// How often `schedule` is called: every 5 s, or more often for a runner with a shorter
    /// period of its own.
    fn schedule_every(&self) -> Duration {
        SCHEDULE_EVERY
    }
}

pub fn spawn<R: Runner>(
    db: Db,
    mut runner: R,
    grace: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let schedule_every = runner.schedule_every();
        let mut last_schedule = tokio::time::Instant::now() - schedule_every;
        // While the database is down the worker waits longer and longer (never polling it
        // four times a second), and says so once.
        let mut backoff = Backoff::new("job worker");
        loop {
            if *shutdown.borrow() {
                return;
            }
            let mut wait = POLL;
            if db.is_migrated() {
                // Scheduling waits until claiming works again.
                if last_schedule.elapsed() >= schedule_every && backoff.failures() == 0 {
                    last_schedule = tokio::time::Instant::now();
                    runner.schedule().await;
                    if let Ok(depth) = queue::queued_count(&db).await {
                        metrics::gauge!("docket_jobs_queued").set(depth as f64);
                    }
                }
                match queue::claim(&db).await {
                    Ok(Some(job)) => {
                        backoff.succeeded();
                        run_one(&db, &runner, grace, job, &mut shutdown).await;
                        continue;
                    }
                    Ok(None) => backoff.succeeded(),
                    Err(error) => {
                        wait = backoff.failed(&error, error.is_unreachable()).max(POLL);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

async fn run_one(
    db: &Db,
    runner: &impl Runner,
    grace: Duration,
    job: Job,
    shutdown: &mut watch::Receiver<bool>,
) {
    let started = std::time::Instant::now();
    tracing::info!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
    let work = runner.run(&job);
    tokio::pin!(work);
    let outcome = tokio::select! {
        outcome = &mut work => Some(outcome),
        _ = wait_for_shutdown(shutdown) => {
            // Draining: let the job finish within the grace period, else put it back.
            tokio::time::timeout(grace, &mut work).await.ok()
        }
    };
    let result = match outcome {
        None => {
            tracing::warn!(job_id = %job.id, "shutdown: job returned to the queue");
            queue::release(db, job.id).await
        }
        Some(Outcome::Done) => queue::complete(db, job.id).await,
        Some(Outcome::Retry(delay, error)) => {
            let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            queue::fail(db, &job, &error, Some(retry_at)).await
        }
        Some(Outcome::Fatal(error)) => queue::fail(db, &job, &error, None).await,
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
