//! The job queue's SQL. Jobs survive restarts (they are rows); a claim uses
//! `FOR UPDATE SKIP LOCKED`, so each job runs once even with several instances polling.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{JobKey, JobKind};
use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// A running job is presumed lost (its instance died) when its lease is this old.
pub const LEASE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

impl FromRow for Job {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            kind: get(row, "kind")?,
            payload: get(row, "payload")?,
            attempts: get(row, "attempts")?,
            max_attempts: get(row, "max_attempts")?,
        })
    }
}

/// Enqueues a job unless one with the same key is already queued or running. Returns whether
/// a job was added.
pub async fn enqueue(
    db: &impl Exec,
    kind: JobKind,
    payload: Value,
    key: &JobKey,
    max_attempts: i32,
) -> DbResult<bool> {
    let id = Uuid::now_v7();
    let added = db
        .query_opt(
            "INSERT INTO jobs (id, kind, payload, dedupe_key, max_attempts) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING 1",
            params![id, kind, payload, key.as_str(), max_attempts],
        )
        .await?;
    Ok(added.is_some())
}

/// Prefix of a dedupe key that may be enqueued only once while its row exists, finished or
/// not (a unique index on such keys: migrations/V20261201000012).
pub const ONCE_PREFIX: &str = "once:";

/// Enqueues a job unless one with the key `once:<key>` was ever enqueued (within the 7 days
/// finished jobs are kept). Returns whether a job was added. Safe under concurrent callers:
/// the unique index decides, not a read before the write.
pub async fn enqueue_once(
    db: &impl Exec,
    kind: JobKind,
    payload: Value,
    key: &JobKey,
    max_attempts: i32,
) -> DbResult<bool> {
    let id = Uuid::now_v7();
    let dedupe_key = format!("{ONCE_PREFIX}{}", key.as_str());
    // No conflict target: either unique index on `dedupe_key` (active jobs, once-keys) refuses.
    let added = db
        .query_opt(
            "INSERT INTO jobs (id, kind, payload, dedupe_key, max_attempts) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING RETURNING 1",
            params![id, kind, payload, dedupe_key, max_attempts],
        )
        .await?;
    Ok(added.is_some())
}

/// Makes the queued job with this key, if it waits for later, due now; the number of jobs
/// moved.
pub async fn run_queued_now(db: &impl Exec, key: &JobKey) -> DbResult<u64> {
    db.execute(
        "UPDATE jobs SET run_at = now() \
         WHERE dedupe_key = $1 AND state = 'queued' AND run_at > now()",
        params![key.as_str()],
    )
    .await
}

/// Drops the queued (not running) job with this key; the number of jobs dropped.
pub async fn cancel_queued(db: &impl Exec, key: &JobKey) -> DbResult<u64> {
    db.execute(
        "DELETE FROM jobs WHERE dedupe_key = $1 AND state = 'queued'",
        params![key.as_str()],
    )
    .await
}

/// Enqueues a job of `kind` for every GitHub link whose next sync is due, moving its next
/// time `interval_secs` forward in the same statement so that instances scheduling at once do
/// not double up (and the queue's unique key would refuse a second active job anyway). The
/// statement writes both tables; it lives here because it writes `jobs`.
pub async fn schedule_due_syncs(db: &impl Exec, interval_secs: f64) -> DbResult<u64> {
    db.execute(
        "WITH due AS ( \
             UPDATE github_links SET next_sync_at = now() + make_interval(secs => $1) \
             WHERE next_sync_at <= now() RETURNING project_id) \
         INSERT INTO jobs (id, kind, payload, dedupe_key) \
         SELECT gen_random_uuid(), $2, jsonb_build_object('project_id', project_id), \
                $3 || project_id FROM due \
         ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running') DO NOTHING",
        params![
            interval_secs,
            JobKind::GithubSync,
            JobKey::GITHUB_SYNC_PREFIX
        ],
    )
    .await
}

/// Claims the next due job, if any.
pub async fn claim(db: &impl Exec) -> DbResult<Option<Job>> {
    db.fetch_opt(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_at = now(), \
             updated_at = now() \
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now() \
                     ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING id, kind, payload, attempts, max_attempts",
        params![],
    )
    .await
}

pub async fn complete(db: &impl Exec, id: Uuid) -> DbResult<()> {
    db.execute(
        "UPDATE jobs SET state = 'done', locked_at = NULL, last_error = NULL, updated_at = now() \
         WHERE id = $1",
        params![id],
    )
    .await?;
    Ok(())
}

/// Records a failure: back to the queue at `retry_at`, or `failed` for good when there is no
/// retry or no attempt left.
pub async fn fail(
    db: &impl Exec,
    job: &Job,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    let retry_at = retry_at.filter(|_| job.attempts < job.max_attempts);
    db.execute(
        "UPDATE jobs SET state = CASE WHEN $2::timestamptz IS NULL THEN 'failed' ELSE 'queued' END, \
             run_at = coalesce($2, run_at), last_error = $3, locked_at = NULL, updated_at = now() \
         WHERE id = $1",
        params![job.id, retry_at, error],
    )
    .await?;
    Ok(())
}

/// Puts a job back untouched (shutdown interrupted it): the attempt does not count.
pub async fn release(db: &impl Exec, id: Uuid) -> DbResult<()> {
    db.execute(
        "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), locked_at = NULL, \
             run_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'",
        params![id],
    )
    .await?;
    Ok(())
}

/// Keeps a long job's lease fresh.
pub async fn heartbeat(db: &impl Exec, id: Uuid) -> DbResult<()> {
    db.execute(
        "UPDATE jobs SET locked_at = now() WHERE id = $1 AND state = 'running'",
        params![id],
    )
    .await?;
    Ok(())
}

/// Returns jobs whose instance died mid-run to the queue.
pub async fn recover_expired_leases(db: &impl Exec) -> DbResult<u64> {
    db.execute(
        "UPDATE jobs SET state = 'queued', locked_at = NULL, run_at = now(), updated_at = now() \
         WHERE state = 'running' AND locked_at < now() - make_interval(secs => $1)",
        params![LEASE.as_secs_f64()],
    )
    .await
}

/// Drops finished jobs after a week, and finished periodic scans (`JobKind::PERIODIC`) after
/// an hour.
pub async fn purge_expired(db: &impl Exec) -> DbResult<u64> {
    let periodic: Vec<&str> = JobKind::PERIODIC.iter().map(|k| k.as_str()).collect();
    db.execute(
        "DELETE FROM jobs WHERE state IN ('done', 'failed') AND (updated_at < now() - interval '7 days' \
             OR (kind = ANY($1::text[]) AND updated_at < now() - interval '1 hour'))",
        params![periodic],
    )
    .await
}

pub async fn queued_count(db: &impl Exec) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS count FROM jobs WHERE state = 'queued'",
            params![],
        )
        .await?;
    get(&row, "count")
}

/// Exponential backoff with full jitter: a random delay from zero up to `base * 2^(attempt-1)`,
/// capped (so that many clients retrying at once spread out).
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    use rand::Rng;
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)))
        .min(cap);
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 1..10 {
            let delay = backoff(base, cap, attempt);
            let ceiling = (base * 2u32.pow(attempt - 1)).min(cap);
            assert!(delay <= ceiling, "{attempt}: {delay:?}");
        }
    }
}
