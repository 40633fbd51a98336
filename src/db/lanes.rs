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
//! next use. While the database is down a refill that failed is not tried again at once
//! (jittered backoff, shared by the lanes): until the next try, reads take the pool's path,
//! so that every read of a busy server does not become one more connection attempt here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use tokio::time::Instant;

use super::backoff::{Backoff, Health};
use super::DbResult;

/// Lanes notice a database that came back within this (reads meanwhile use the pool).
const REFILL_CAP: Duration = Duration::from_secs(1);
/// The least a statement on a lane may wait for its answer, whatever the acquire timeout.
pub(super) const MIN_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Lanes {
    slots: Box<[Mutex<Option<Arc<Object>>>]>,
    next: AtomicUsize,
    /// The refills' backoff, and when the next refill may be tried.
    refill: Mutex<(Backoff, Option<Instant>)>,
    /// How long a statement waits for its answer on a lane (the acquire timeout: a hung
    /// database must not hold every read until the handler deadline).
    wait: Duration,
}

impl Lanes {
    pub(super) fn new(count: usize, wait: Duration) -> Self {
        Self {
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            refill: Mutex::new((
                Backoff::with_limits("read lanes", super::backoff::FIRST, REFILL_CAP),
                None,
            )),
            wait,
        }
    }

    pub(super) fn wait(&self) -> Duration {
        self.wait
    }

    /// A statement on `client` got no answer in time: its lane lets go of it (the next read
    /// takes a fresh connection; this one goes back to the pool when its last statement ends).
    pub(super) fn abandon(&self, client: &Arc<Object>) {
        for slot in self.slots.iter() {
            let mut held = slot.lock().expect("not poisoned");
            if held.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
                held.take();
            }
        }
    }

    /// The connection of the next lane, checked out from `pool` if the lane has none or its
    /// connection has closed; `None` when there are no lanes or a refill is backing off (the
    /// caller then uses the pool).
    pub(super) async fn connection(
        &self,
        pool: &Pool,
        health: &Health,
    ) -> DbResult<Option<Arc<Object>>> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(client) = live(&slot.lock().expect("not poisoned")) {
            return Ok(Some(client));
        }
        if self
            .refill
            .lock()
            .expect("not poisoned")
            .1
            .is_some_and(|at| Instant::now() < at)
        {
            return Ok(None);
        }
        let fresh = match super::checkout(pool, health).await {
            Ok(client) => Arc::new(client),
            Err(error) => {
                let mut refill = self.refill.lock().expect("not poisoned");
                let wait = refill.0.failed(&error, true);
                refill.1 = Some(Instant::now() + wait);
                return Err(error);
            }
        };
        {
            let mut refill = self.refill.lock().expect("not poisoned");
            refill.0.succeeded();
            refill.1 = None;
        }
        let mut held = slot.lock().expect("not poisoned");
        // Another request may have filled the lane meanwhile: use that one, and give ours back.
        if let Some(client) = live(&held) {
            return Ok(Some(client));
        }
        *held = Some(fresh.clone());
        Ok(Some(fresh))
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
