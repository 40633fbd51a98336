//! Login and registration attempts (the `auth_attempts` table); the limits themselves are in
//! `auth::limits`.

use chrono::{DateTime, Utc};

use crate::db::{get, DbResult, Exec, Tx};
use crate::params;

/// Takes the bucket's advisory lock for the rest of the transaction.
pub async fn lock_bucket(tx: &Tx, bucket: &str) -> DbResult<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('docket.auth_attempts:' || $1))",
        params![bucket],
    )
    .await?;
    Ok(())
}

/// The attempts in the bucket within the last `window_secs`, and the age in seconds of the
/// oldest of them.
pub async fn recent(tx: &Tx, bucket: &str, window_secs: i64) -> DbResult<(i64, Option<f64>)> {
    let row = tx
        .query_one(
            "SELECT count(*) AS count, \
                    extract(epoch FROM now() - min(attempted_at))::float8 AS oldest \
             FROM auth_attempts WHERE bucket = $1 \
               AND attempted_at > now() - make_interval(secs => $2)",
            params![bucket, window_secs as f64],
        )
        .await?;
    Ok((get(&row, "count")?, get(&row, "oldest")?))
}

/// Records one attempt in every bucket, returning when (`None` for no buckets).
pub async fn record(tx: &Tx, buckets: &[String]) -> DbResult<Option<DateTime<Utc>>> {
    let rows = tx
        .query(
            "INSERT INTO auth_attempts (bucket, attempted_at) SELECT unnest($1::text[]), now() \
             RETURNING attempted_at",
            params![buckets],
        )
        .await?;
    rows.first().map(|row| get(row, "attempted_at")).transpose()
}

/// Removes one attempt recorded at `at` from each bucket.
pub async fn release(db: &impl Exec, buckets: &[String], at: DateTime<Utc>) -> DbResult<()> {
    db.execute(
        "DELETE FROM auth_attempts WHERE ctid IN ( \
             SELECT DISTINCT ON (bucket) ctid FROM auth_attempts \
             WHERE bucket = ANY($1) AND attempted_at = $2)",
        params![buckets, at],
    )
    .await?;
    Ok(())
}

/// Deletes the rows past their use (maintenance).
pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
    db.execute(
        "DELETE FROM auth_attempts WHERE attempted_at < now() - interval '2 hours'",
        params![],
    )
    .await?;
    Ok(())
}
