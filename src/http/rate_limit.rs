//! The per-principal request limit (fixed one-minute windows) and its IETF `RateLimit` headers.
//!
//! Each instance counts locally and, four times a second, adds its new counts to
//! `rate_limit_windows` in one batched statement, learning the total of every instance in
//! return. The limit therefore holds across instances (to within a quarter of a second of traffic)
//! without a database write per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use uuid::Uuid;

use crate::db::{DbError, Exec};

const WINDOW_SECS: u64 = 60;
pub const SYNC_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    pub allowed: bool,
}

impl RateLimitStatus {
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let policy = format!("\"default\";q={};w={WINDOW_SECS}", self.limit);
        let state = format!("\"default\";r={};t={}", self.remaining, self.reset_secs);
        if let (Ok(policy), Ok(state)) = (
            HeaderValue::from_str(&policy),
            HeaderValue::from_str(&state),
        ) {
            headers.insert("ratelimit-policy", policy);
            headers.insert("ratelimit", state);
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    start: u64,
    /// The total over every instance as of the last sync (this instance's synced counts included).
    known_total: u32,
    /// Counted here since the last sync.
    pending: u32,
}

pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<Uuid, Window>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request. The first request of a principal in a window on this instance
    /// reads the shared total first (one read per principal a minute), so a principal moving
    /// between instances cannot start from zero on each.
    pub async fn check(&self, principal: Uuid, db: &impl Exec) -> RateLimitStatus {
        let now = now_secs();
        let start = now - now % WINDOW_SECS;
        let known = self
            .windows
            .lock()
            .expect("not poisoned")
            .get(&principal)
            .is_some_and(|w| w.start == start);
        if !known {
            let total = store::count(db, principal, start as i64)
                .await
                .ok()
                .flatten();
            let mut windows = self.windows.lock().expect("not poisoned");
            let window = windows.entry(principal).or_default();
            if window.start != start {
                *window = Window {
                    start,
                    known_total: total.unwrap_or(0).max(0) as u32,
                    pending: 0,
                };
            }
        }
        self.check_at(principal, now)
    }

    /// Seconds until the window resets when `principal` has used up this window (as this
    /// instance knows it), counting nothing.
    pub fn exhausted(&self, principal: Uuid) -> Option<u64> {
        let now = now_secs();
        let start = now - now % WINDOW_SECS;
        let windows = self.windows.lock().expect("not poisoned");
        let window = windows.get(&principal).filter(|w| w.start == start)?;
        (window.known_total + window.pending >= self.limit).then_some(start + WINDOW_SECS - now)
    }

    fn check_at(&self, principal: Uuid, now: u64) -> RateLimitStatus {
        let start = now - now % WINDOW_SECS;
        let reset_secs = start + WINDOW_SECS - now;
        let mut windows = self.windows.lock().expect("not poisoned");
        let window = windows.entry(principal).or_default();
        if window.start != start {
            *window = Window {
                start,
                ..Window::default()
            };
        }
        let used = window.known_total + window.pending;
        let allowed = used < self.limit;
        if allowed {
            window.pending += 1;
        }
        RateLimitStatus {
            limit: self.limit,
            remaining: self.limit.saturating_sub(used + u32::from(allowed)),
            reset_secs,
            allowed,
        }
    }

    /// Adds this instance's new counts to the shared table and learns the totals. Windows of
    /// principals seen here are refreshed even without new requests, so that use on other
    /// instances is noticed.
    pub async fn sync(&self, db: &impl Exec) -> Result<(), DbError> {
        let start = now_secs() - now_secs() % WINDOW_SECS;
        let (principals, deltas): (Vec<Uuid>, Vec<i32>) = {
            let mut windows = self.windows.lock().expect("not poisoned");
            windows.retain(|_, w| w.start == start);
            windows
                .iter_mut()
                .map(|(id, w)| {
                    let delta = std::mem::take(&mut w.pending) as i32;
                    w.known_total += delta as u32;
                    (*id, delta)
                })
                .unzip()
        };
        if principals.is_empty() {
            return Ok(());
        }
        let totals = store::add(db, &principals, &deltas, start as i64).await;
        let mut windows = self.windows.lock().expect("not poisoned");
        match totals {
            Ok(totals) => {
                for (principal, total) in totals {
                    if let Some(window) = windows.get_mut(&principal).filter(|w| w.start == start) {
                        window.known_total = window.known_total.max(total.max(0) as u32);
                    }
                }
                Ok(())
            }
            Err(error) => {
                // Keep the counts for the next attempt.
                for (principal, delta) in principals.iter().zip(deltas) {
                    if let Some(window) = windows.get_mut(principal).filter(|w| w.start == start) {
                        window.known_total -= delta as u32;
                        window.pending += delta as u32;
                    }
                }
                Err(error)
            }
        }
    }
}

/// The SQL of `rate_limit_windows` (this module owns the table).
pub mod store {
    use uuid::Uuid;

    use crate::db::{get, DbResult, Exec};
    use crate::params;

    /// The shared count of a principal in a window, if any instance synced one.
    pub async fn count(
        db: &impl Exec,
        principal: Uuid,
        window_start: i64,
    ) -> DbResult<Option<i32>> {
        let row = db
            .query_opt(
                "SELECT count FROM rate_limit_windows WHERE principal_id = $1 AND window_start = $2",
                params![principal, window_start],
            )
            .await?;
        row.map(|row| get(&row, "count")).transpose()
    }

    /// Deletes the rows past their use (maintenance).
    pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
        db.execute(
            "DELETE FROM rate_limit_windows WHERE window_start < extract(epoch FROM now())::bigint - 120",
            params![],
        )
        .await?;
        Ok(())
    }

    /// Adds `deltas[i]` to the count of `principals[i]` in the window, returning the new totals.
    pub async fn add(
        db: &impl Exec,
        principals: &[Uuid],
        deltas: &[i32],
        window_start: i64,
    ) -> DbResult<Vec<(Uuid, i32)>> {
        let rows = db
            .query(
                "INSERT INTO rate_limit_windows (principal_id, window_start, count) \
                 SELECT p, $3, d FROM unnest($1::uuid[], $2::int[]) AS x(p, d) \
                 ON CONFLICT (principal_id, window_start) \
                     DO UPDATE SET count = rate_limit_windows.count + EXCLUDED.count \
                 RETURNING principal_id, count",
                params![principals.to_vec(), deltas.to_vec(), window_start],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((get(row, "principal_id")?, get(row, "count")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_a_window_and_resets() {
        let limiter = RateLimiter::new(2);
        let user = Uuid::now_v7();
        assert!(limiter.check_at(user, 120).allowed);
        let second = limiter.check_at(user, 121);
        assert!(second.allowed);
        assert_eq!(second.remaining, 0);
        let third = limiter.check_at(user, 130);
        assert!(!third.allowed);
        assert_eq!(third.reset_secs, 50);
        assert!(limiter.check_at(user, 180).allowed);
    }
}
