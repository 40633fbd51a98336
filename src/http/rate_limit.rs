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
use sqlx::PgPool;
use uuid::Uuid;

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
    pub async fn check(&self, principal: Uuid, pool: &PgPool) -> RateLimitStatus {
        let now = now_secs();
        let start = now - now % WINDOW_SECS;
        let known = self
            .windows
            .lock()
            .expect("not poisoned")
            .get(&principal)
            .is_some_and(|w| w.start == start);
        if !known {
            let total: Option<i32> = sqlx::query_scalar(
                "SELECT count FROM rate_limit_windows WHERE principal_id = $1 AND window_start = $2",
            )
            .bind(principal)
            .bind(start as i64)
            .fetch_optional(pool)
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
    pub async fn sync(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
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
        let totals: Result<Vec<(Uuid, i32)>, sqlx::Error> = sqlx::query_as(
            "INSERT INTO rate_limit_windows (principal_id, window_start, count) \
             SELECT p, $3, d FROM unnest($1::uuid[], $2::int[]) AS x(p, d) \
             ON CONFLICT (principal_id, window_start) \
                 DO UPDATE SET count = rate_limit_windows.count + EXCLUDED.count \
             RETURNING principal_id, count",
        )
        .bind(&principals)
        .bind(&deltas)
        .bind(start as i64)
        .fetch_all(pool)
        .await;
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
