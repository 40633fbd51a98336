//! The job queue's SQL. Jobs survive restarts (they are rows); a claim uses
//! `FOR UPDATE SKIP LOCKED`, so each job runs once even with several instances polling.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// A running job is presumed lost (its instance died) when its lease is this old.
pub const LEASE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Enqueues a job unless one with the same key is already queued or running. Returns whether
/// a job was added.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    kind: &str,
    payload: Value,
    dedupe_key: &str,
    max_attempts: i32,
) -> Result<bool, sqlx::Error> {
    let added: Option<i32> = sqlx::query_scalar(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, max_attempts) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING 1",
    )
    .bind(Uuid::now_v7())
    .bind(kind)
    .bind(payload)
    .bind(dedupe_key)
    .bind(max_attempts)
    .fetch_optional(db)
    .await?;
    Ok(added.is_some())
}

/// Claims the next due job, if any.
pub async fn claim(pool: &PgPool) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_at = now(), \
             updated_at = now() \
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now() \
                     ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .fetch_optional(pool)
    .await
}

pub async fn complete(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET state = 'done', locked_at = NULL, last_error = NULL, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failure: back to the queue at `retry_at`, or `failed` for good when there is no
/// retry or no attempt left.
pub async fn fail(
    pool: &PgPool,
    job: &Job,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let retry_at = retry_at.filter(|_| job.attempts < job.max_attempts);
    sqlx::query(
        "UPDATE jobs SET state = CASE WHEN $2::timestamptz IS NULL THEN 'failed' ELSE 'queued' END, \
             run_at = coalesce($2, run_at), last_error = $3, locked_at = NULL, updated_at = now() \
         WHERE id = $1",
    )
    .bind(job.id)
    .bind(retry_at)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Puts a job back untouched (shutdown interrupted it): the attempt does not count.
pub async fn release(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), locked_at = NULL, \
             run_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps a long job's lease fresh.
pub async fn heartbeat(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET locked_at = now() WHERE id = $1 AND state = 'running'")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Returns jobs whose instance died mid-run to the queue.
pub async fn recover_expired_leases(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE jobs SET state = 'queued', locked_at = NULL, run_at = now(), updated_at = now() \
         WHERE state = 'running' AND locked_at < now() - make_interval(secs => $1)",
    )
    .bind(LEASE.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

pub async fn queued_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'queued'")
        .fetch_one(pool)
        .await
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
