//! The journal: how activity entries get their place in the history.
//!
//! Writers never wait for each other: `activity::record` queues an entry on its transaction,
//! and the transaction's commit writes it to `activity` (`db::Tx::journal`), where the identity
//! column numbers it, in the same round trip as the COMMIT and under the **writers' lock**
//! (`store::WRITERS_LOCK`), which every such commit holds *shared*, from before its entries
//! take their ids to its end. So an entry is written once, and ids are handed out in the
//! order entries are written, but commits finish in any order: id 11 may be readable while 10
//! is still committing (or about to roll back).
//!
//! Readers therefore stop at the **published position** (`journal_watermark`), which a
//! publisher ([`publish`]) moves: it reads the last id handed out, `L`, and then *tries* the
//! writers' lock exclusively. Once the try succeeds, no commit that took an id at or below `L`
//! is still under way (it held the lock when `L` was read, and a released lock means a
//! finished commit), so everything up to `L` is committed or never will be, and `L` is
//! published with one NOTIFY on `docket_activity`, which is what the event tailers of every
//! instance wait for. A reader that sees id 11 already sees 10, and "after id N" is a complete
//! resume point. The publisher never waits on the lock (a queued exclusive request would make
//! every writer queue behind it): it tries again after a pause.
//!
//! Every instance runs a publisher ([`run`]): it wakes when a transaction of its own instance
//! committed entries (an in-process doorbell, `db::Db::journal_committed`: a NOTIFY per write
//! would serialise the writers' commits, see ARCHITECTURE.md) and every second in case one was
//! missed, publishing at most every 5 ms, or less often the more entries the last publication
//! took in (up to 50 ms: [`interval_after`]).
//!
//! [`after`] is the read for anything that follows the journal in order (the event tailer, a
//! resumed stream, the webhooks outbox). A read that must include every change committed
//! before it started (a history page read right after a write) calls [`settle`].

use std::time::Duration;

use super::{store, Entry};
use crate::db::{Db, DbResult, Exec};

/// How often the publisher looks for entries nobody rang for (a writer's instance that died
/// between its commit and its doorbell, a publication that failed).
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// The least time between the starts of two publications on one instance. Under load one
/// then covers a few milliseconds of commits instead of each commit getting its own (an
/// update, a commit, and a NOTIFY that wakes every listener of the database); a commit after a
/// quiet spell is published at once.
const MIN_INTERVAL: Duration = Duration::from_millis(5);
/// What each entry a publication took in adds to the time before the next one starts, up to
/// [`MAX_INTERVAL`]: the busier the journal, the more a publication covers, so its fixed cost
/// (its statements, its NOTIFY, the readers it wakes) is spread over more entries where that
/// matters, on a busy project's write path (docs/performance.md). At a steady `r` entries a
/// second the interval settles at 5 ms / (1 − r × 0.5 ms): 5 ms at 100/s, 10 ms at 1,000/s,
/// the cap from about 1,800/s.
const PER_ENTRY: Duration = Duration::from_micros(500);
/// The most a commit waits for its publication because of the cadence: well inside the live
/// stream's one second from commit to delivery.
const MAX_INTERVAL: Duration = Duration::from_millis(50);
/// The pause after a try that found a commit holding the writers' lock, doubled after each
/// such try up to [`MAX_TRY_PAUSE`]. A commit holds it for well under a millisecond, unless
/// the database is slow to make it durable.
const FIRST_TRY_PAUSE: Duration = Duration::from_micros(200);
const MAX_TRY_PAUSE: Duration = Duration::from_millis(5);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Publishes every entry whose commit started before the call (which includes every entry
/// committed before it): reads the last id handed out, waits, by tries, until no commit holds
/// the writers' lock, and moves the published position there. Returns how many ids it
/// published (rolled-back ones included); nothing to do costs one read.
pub async fn publish(db: &Db) -> DbResult<u64> {
    let conn = db.conn().await?;
    let (handed_out, published) = store::positions(&conn).await?;
    if handed_out <= published {
        return Ok(0);
    }
    let mut pause = FIRST_TRY_PAUSE;
    while !store::writers_idle(&conn).await? {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_TRY_PAUSE);
    }
    store::publish(&conn, handed_out).await?;
    let taken_in = u64::try_from(handed_out - published).unwrap_or(0);
    metrics::counter!("docket_journal_published_total").increment(taken_in);
    Ok(taken_in)
}

/// Makes sure every entry committed before the call is published, so that an in-order read
/// after it sees them (one cheap read when nothing waits, which is the usual case).
pub async fn settle(db: &Db) -> DbResult<()> {
    publish(db).await.map(drop)
}

/// The least time from the start of a publication that took in `taken_in` ids to the start of
/// the next.
fn interval_after(taken_in: u64) -> Duration {
    let per_entry = PER_ENTRY.saturating_mul(u32::try_from(taken_in).unwrap_or(u32::MAX));
    MIN_INTERVAL.saturating_add(per_entry).min(MAX_INTERVAL)
}

/// Entries after position `after`, in order, at most `limit`: only published ones, so nothing
/// can later appear at or below the last one returned. Of every project (the caller filters).
pub async fn after(db: &impl Exec, after: i64, limit: i64) -> DbResult<Vec<Entry>> {
    store::after(db, after, limit).await
}

/// The publisher of this instance: runs until aborted (the server's shutdown).
pub async fn run(db: Db) {
    while !db.is_migrated() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut retry = FIRST_RETRY;
    let mut failed = false;
    let mut next_start = tokio::time::Instant::now();
    loop {
        if !failed {
            tokio::select! {
                () = db.journal_committed().notified() => {}
                () = tokio::time::sleep(FALLBACK_POLL) => {}
            }
        }
        tokio::time::sleep_until(next_start).await;
        let start = tokio::time::Instant::now();
        match publish(&db).await {
            Ok(taken_in) => {
                next_start = start + interval_after(taken_in);
                failed = false;
                retry = FIRST_RETRY;
            }
            Err(error) => {
                tracing::warn!(error = %error, "journal: publishing failed; retrying");
                failed = true;
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_widens_with_the_batch_up_to_its_cap() {
        assert_eq!(interval_after(0), MIN_INTERVAL);
        assert_eq!(interval_after(1), Duration::from_micros(5_500));
        assert_eq!(interval_after(10), Duration::from_millis(10));
        assert_eq!(interval_after(90), MAX_INTERVAL);
        assert_eq!(interval_after(u64::MAX), MAX_INTERVAL);
    }
}
