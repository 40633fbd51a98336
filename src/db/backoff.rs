//! How loops that talk to the database wait while it is down, and how the process notices an
//! outage once.
//!
//! [`Backoff`] is a loop's own: jittered exponential waits capped at a few seconds, and one log
//! line when the loop starts failing and one when it works again (never one per attempt).
//! [`Health`] is the pool's: the first checkout that cannot reach the server starts an outage,
//! the next connection the pool makes ends it; each is one log line, and the metrics count
//! outages and their length.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

/// The first wait after a failure.
pub const FIRST: Duration = Duration::from_millis(100);
/// The longest wait: a loop notices a database that came back within this.
pub const CAP: Duration = Duration::from_secs(4);

/// A loop's waits between failed attempts.
#[derive(Debug)]
pub struct Backoff {
    what: &'static str,
    first: Duration,
    cap: Duration,
    failures: u32,
    since: Option<Instant>,
    /// The run of failures was logged at `warn` (so its end is logged at `info`).
    loud: bool,
}

impl Backoff {
    pub fn new(what: &'static str) -> Self {
        Self::with_limits(what, FIRST, CAP)
    }

    pub fn with_limits(what: &'static str, first: Duration, cap: Duration) -> Self {
        Self {
            what,
            first,
            cap,
            failures: 0,
            since: None,
            loud: false,
        }
    }

    /// Records a failed attempt and returns how long to wait before the next one. The first
    /// failure of a run is logged: at `debug` when the database is unreachable (the pool's
    /// [`Health`] says that once for the whole process), at `warn` otherwise (a failure that
    /// is not an outage is a bug worth seeing).
    pub fn failed(&mut self, error: &dyn Display, unreachable: bool) -> Duration {
        if self.failures == 0 {
            self.since = Some(Instant::now());
            self.loud = !unreachable;
            if self.loud {
                tracing::warn!(task = self.what, error = %error, "failing; backing off");
            } else {
                tracing::debug!(task = self.what, error = %error, "database unreachable; backing off");
            }
        }
        self.failures = self.failures.saturating_add(1);
        self.delay()
    }

    /// Records a success: a run of failures ends (and is logged as over).
    pub fn succeeded(&mut self) {
        if self.failures == 0 {
            return;
        }
        let failed_for_ms = self.since.map_or(0, |s| s.elapsed().as_millis() as u64);
        if self.loud {
            tracing::info!(
                task = self.what,
                attempts = self.failures,
                failed_for_ms,
                "working again"
            );
        } else {
            tracing::debug!(
                task = self.what,
                attempts = self.failures,
                failed_for_ms,
                "working again"
            );
        }
        self.failures = 0;
        self.since = None;
        self.loud = false;
    }

    /// Failures in the current run.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The wait after the current number of failures: the exponential ceiling capped at `cap`,
    /// and a random point in its upper half, so that loops (and instances) that failed
    /// together do not retry in step, and a wait is never near zero.
    fn delay(&self) -> Duration {
        let exponent = self.failures.saturating_sub(1).min(16);
        let ceiling = self.first.saturating_mul(1 << exponent).min(self.cap);
        let half = ceiling / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }
}

/// Whether the database is reachable, as the pool sees it: shared by every user of one pool.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
    since: Mutex<Option<Instant>>,
}

impl Health {
    /// A checkout could not reach the server: the start of an outage, unless one is on.
    pub fn unreachable(&self, error: &dyn Display) {
        if self.down.load(Ordering::Acquire) {
            return;
        }
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        *since = Some(Instant::now());
        metrics::counter!("docket_db_outages_total").increment(1);
        metrics::gauge!("docket_db_up").set(0.0);
        tracing::warn!(error = %error, "database unreachable");
    }

    /// The pool made a connection: an outage, if one was on, is over.
    pub fn reachable(&self) {
        if !self.down.load(Ordering::Acquire) {
            metrics::gauge!("docket_db_up").set(1.0);
            return;
        }
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if !self.down.swap(false, Ordering::AcqRel) {
            return;
        }
        let lasted = since.take().map_or(Duration::ZERO, |s| s.elapsed());
        metrics::histogram!("docket_db_outage_seconds").record(lasted.as_secs_f64());
        metrics::gauge!("docket_db_up").set(1.0);
        tracing::info!(
            outage_ms = lasted.as_millis() as u64,
            "database reachable again"
        );
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_with_jitter_and_reset_on_success() {
        let mut backoff =
            Backoff::with_limits("test", Duration::from_millis(100), Duration::from_secs(4));
        let waits: Vec<Duration> = (0..10).map(|_| backoff.failed(&"down", true)).collect();
        for (n, wait) in waits.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << n)).min(Duration::from_secs(4));
            assert!(
                *wait >= ceiling / 2 && *wait <= ceiling,
                "wait {n}: {wait:?} within [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        assert!(
            waits[9] >= Duration::from_secs(2),
            "capped at 4 s, never below half"
        );
        backoff.succeeded();
        assert_eq!(backoff.failures(), 0);
        assert!(backoff.failed(&"down", true) <= Duration::from_millis(100));
    }

    #[test]
    fn an_outage_is_counted_once() {
        let health = Health::default();
        assert!(!health.is_down());
        health.reachable();
        health.unreachable(&"refused");
        health.unreachable(&"refused");
        assert!(health.is_down());
        health.reachable();
        assert!(!health.is_down());
    }
}
