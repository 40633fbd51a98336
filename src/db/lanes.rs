//! Shared connections for short reads, so that concurrent requests pipeline their queries.
//!
//! A pooled statement holds a connection for its whole round trip, so sixteen concurrent task
//! reads take sixteen checkouts and sixteen separate exchanges with the server. A lane is one
//! pooled connection that many requests use at once: tokio-postgres queues their statements on
//! the socket and the server reads them in batches (fewer syscalls and wake-ups on both
//! sides; `docs/performance.md` has the figures).
//!
//! The price is head-of-line blocking: a statement on a lane waits for every statement queued
//! before it. So lanes take only short read-only statements that cannot wait on a lock (point
//! lookups by key, no `FOR UPDATE`); everything else goes through the pool. A lane's
//! connection is an ordinary checkout: the acquire timeout still applies when a lane needs a
//! new one, and a lane whose connection broke (a database restart) takes a fresh one on its
//! next use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use deadpool_postgres::{Object, Pool};

use super::DbResult;

pub(super) struct Lanes {
    slots: Box<[Mutex<Option<Arc<Object>>>]>,
    next: AtomicUsize,
}

impl Lanes {
    pub(super) fn new(count: usize) -> Self {
        Self {
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The connection of the next lane, checked out from `pool` if the lane has none or its
    /// connection has closed.
    pub(super) async fn connection(&self, pool: &Pool) -> DbResult<Arc<Object>> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(client) = live(&slot.lock().expect("not poisoned")) {
            return Ok(client);
        }
        let fresh = Arc::new(pool.get().await?);
        let mut held = slot.lock().expect("not poisoned");
        // Another request may have filled the lane meanwhile: use that one, and give ours back.
        if let Some(client) = live(&held) {
            return Ok(client);
        }
        *held = Some(fresh.clone());
        Ok(fresh)
    }

    /// Lets go of every lane's connection (they return to the pool when their last statement
    /// ends).
    pub(super) fn clear(&self) {
        for slot in self.slots.iter() {
            slot.lock().expect("not poisoned").take();
        }
    }
}

fn live(held: &Option<Arc<Object>>) -> Option<Arc<Object>> {
    held.as_ref().filter(|c| !c.is_closed()).cloned()
}
