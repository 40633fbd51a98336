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
//! every second in case one was missed, numbering at most every 5 ms; each move NOTIFYs
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
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Numbers every entry committed before the call (and any committed meanwhile): one or more
/// numbering transactions, each taking the numbering lock before its snapshot.
pub async fn number(db: &Db) -> DbResult<()> {
    loop {
        let tx = db.begin_locked(NUMBERING_LOCK).await?;
        let moved = store::number_pending(tx, BATCH).await?;
        if moved > 0 {
            metrics::counter!("docket_journal_numbered_total").increment(moved as u64);
        }
        if moved < BATCH {
            return Ok(());
        }
    }
}

/// Makes sure every entry committed before the call is numbered, so that a read after it
/// sees them (one cheap read when nothing waits, which is the usual case).
pub async fn settle(db: &Db) -> DbResult<()> {
    if store::pending_exists(db).await? {
        number(db).await?;
    }
    Ok(())
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
    let mut last_start = tokio::time::Instant::now();
    loop {
        let rung = failed
            || tokio::select! {
                () = db.journal_committed().notified() => true,
                () = tokio::time::sleep(FALLBACK_POLL) => false,
            };
        tokio::time::sleep_until(last_start + MIN_INTERVAL).await;
        last_start = tokio::time::Instant::now();
        let outcome = if rung {
            number(&db).await
        } else {
            settle(&db).await
        };
        match outcome {
            Ok(()) => {
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
