//! The journal: how activity entries get their place in the history.
//!
//! Writers never wait for each other: `activity::record` queues an entry on its transaction,
//! and the transaction's commit writes it to `activity_pending` (`db::Tx::journal`), without
//! any lock. Only then, after the fact, is it numbered: the **sequencer** moves committed
//! pending entries into `activity`, where the identity column gives them their `id`. One
//! numbering transaction runs at a time in the whole database (a transaction-scoped advisory
//! lock, taken before the move's snapshot), so ids become visible in the order they are
//! handed out: a reader that sees id 11 already sees 10, and "after id N" is a complete
//! resume point. Every instance runs a sequencer ([`run`]): it wakes when a transaction of
//! its own instance committed entries (an in-process doorbell, `db::Db::journal_committed`:
//! a NOTIFY per write would serialise the writers' commits again, see ARCHITECTURE.md) and
//! every second in case one was missed, numbering at most every 5 ms, or less often the more
//! entries the last numbering moved (up to 50 ms: [`interval_after`]); each move NOTIFYs
//! `docket_activity` once, which is what the event tailers of every instance wait for.
//!
//! Readers see numbered entries only: [`after`] is the read for anything that follows the
//! journal in order (the event tailer, a resumed stream, the webhooks outbox): what it returns
//! can never be preceded by an entry numbered later. A read that must include every change
//! committed before it started (a history page read right after a write) calls [`settle`].

use std::time::Duration;

use super::{store, Entry};
use crate::db::{Db, DbResult, Exec};

/// Taken by every numbering transaction: "docketSQ".
const NUMBERING_LOCK: i64 = 0x646f_636b_6574_5351;
/// Entries moved per numbering transaction (a backlog is moved in several).
const BATCH: i64 = 1000;
/// How often the sequencer looks for entries nobody rang for (a writer's instance that died
/// between its commit and its doorbell, a numbering that failed).
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// The least time between the starts of two numberings on one instance. Under load a batch
/// then holds a few milliseconds of commits instead of each commit getting a numbering of its
/// own (a transaction, a commit, and a NOTIFY that wakes every listener of the database); a
/// commit after a quiet spell is numbered at once.
const MIN_INTERVAL: Duration = Duration::from_millis(5);
/// What each entry a numbering moved adds to the time before the next one starts, up to
/// [`MAX_INTERVAL`]: the busier the journal, the larger the batches, so a numbering's fixed
/// cost (its transaction, its NOTIFY, the readers it wakes) is spread over more entries where
/// that matters, on a busy project's write path (docs/performance.md, "The history without one
/// lock"). At a steady `r` entries a second the interval settles at 5 ms / (1 − r × 0.5 ms):
/// 5 ms at 100/s, 10 ms at 1,000/s, the cap from about 1,800/s.
const PER_ENTRY: Duration = Duration::from_micros(500);
/// The most a commit waits for its numbering because of the cadence: well inside the live
/// stream's one second from commit to delivery.
const MAX_INTERVAL: Duration = Duration::from_millis(50);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Numbers every entry committed before the call (and any committed meanwhile): one or more
/// numbering transactions, each taking the numbering lock before its snapshot. Returns how
/// many entries it numbered.
pub async fn number(db: &Db) -> DbResult<u64> {
    let mut total = 0;
    loop {
        let tx = db.begin_locked(NUMBERING_LOCK).await?;
        let moved = store::number_pending(tx, BATCH).await?;
        if moved > 0 {
            metrics::counter!("docket_journal_numbered_total").increment(moved as u64);
        }
        total += moved as u64;
        if moved < BATCH {
            return Ok(total);
        }
    }
}

/// Makes sure every entry committed before the call is numbered, so that a read after it
/// sees them (one cheap read when nothing waits, which is the usual case). Returns how many
/// entries it numbered.
pub async fn settle(db: &Db) -> DbResult<u64> {
    if store::pending_exists(db).await? {
        return number(db).await;
    }
    Ok(0)
}

/// The least time from the start of a numbering that moved `moved` entries to the start of
/// the next.
fn interval_after(moved: u64) -> Duration {
    let per_entry = PER_ENTRY.saturating_mul(u32::try_from(moved).unwrap_or(u32::MAX));
    MIN_INTERVAL.saturating_add(per_entry).min(MAX_INTERVAL)
}

/// Entries after position `after`, in order, at most `limit`: only numbered ones, so nothing
/// can later appear at or below the last one returned. Of every project (the caller filters).
pub async fn after(db: &impl Exec, after: i64, limit: i64) -> DbResult<Vec<Entry>> {
    store::after(db, after, limit).await
}

/// The sequencer of this instance: runs until aborted (the server's shutdown).
pub async fn run(db: Db) {
    while !db.is_migrated() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut retry = FIRST_RETRY;
    let mut failed = false;
    let mut next_start = tokio::time::Instant::now();
    loop {
        let rung = failed
            || tokio::select! {
                () = db.journal_committed().notified() => true,
                () = tokio::time::sleep(FALLBACK_POLL) => false,
            };
        tokio::time::sleep_until(next_start).await;
        let start = tokio::time::Instant::now();
        let outcome = if rung {
            number(&db).await
        } else {
            settle(&db).await
        };
        match outcome {
            Ok(moved) => {
                next_start = start + interval_after(moved);
                failed = false;
                retry = FIRST_RETRY;
            }
            Err(error) => {
                tracing::warn!(error = %error, "journal: numbering failed; retrying");
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
