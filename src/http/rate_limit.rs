//! The per-principal request limit (fixed one-minute windows) and its IETF `RateLimit` headers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use uuid::Uuid;

const WINDOW_SECS: u64 = 60;

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

/// Counts requests per principal in the current minute. Counting stays in memory because a
/// database write per request would cost more than the request; with several instances each
/// enforces the limit on the requests it sees.
pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<Uuid, (u64, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, principal: Uuid) -> RateLimitStatus {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.check_at(principal, now)
    }

    fn check_at(&self, principal: Uuid, now: u64) -> RateLimitStatus {
        let window = now / WINDOW_SECS;
        let reset_secs = (window + 1) * WINDOW_SECS - now;
        let mut windows = self.windows.lock().expect("not poisoned");
        let entry = windows.entry(principal).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = entry.1 < self.limit;
        if allowed {
            entry.1 += 1;
        }
        RateLimitStatus {
            limit: self.limit,
            remaining: self.limit - entry.1,
            reset_secs,
            allowed,
        }
    }

    /// Drops windows that have ended, so memory follows the active principals.
    pub fn prune(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let window = now / WINDOW_SECS;
        self.windows
            .lock()
            .expect("not poisoned")
            .retain(|_, (w, _)| *w == window);
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
