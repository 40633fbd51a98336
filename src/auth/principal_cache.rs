//! A short-lived cache of the user behind an access token (user id + login family), so that a
//! JWT request costs one database round trip instead of two.
//!
//! Correctness rests on invalidation, not on the TTL: triggers announce every change to a
//! user and every revoked login on the `docket_principals` channel, each instance listens and
//! drops the user's entries, and the handlers that make such changes also drop them locally
//! before answering. While the listener is not connected the cache is not used at all; when
//! it reconnects (notifications may have been missed) the cache is emptied.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use uuid::Uuid;

use super::users::User;

pub const CHANNEL: &str = "docket_principals";
const TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 50_000;

pub struct PrincipalCache {
    entries: Mutex<HashMap<(Uuid, Uuid), (User, Instant)>>,
    listening: AtomicBool,
    /// Bumped by every eviction: a user read from the database before an eviction may be
    /// stale, so it is not stored (see `put`).
    epoch: AtomicU64,
}

impl Default for PrincipalCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PrincipalCache {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            listening: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn get(&self, user_id: Uuid, family_id: Uuid) -> Option<User> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.lock().expect("not poisoned");
        let (user, at) = entries.get(&(user_id, family_id))?;
        (at.elapsed() < TTL).then(|| user.clone())
    }

    /// Read this before querying the database, and pass it to `put`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Stores a user read from the database, unless anything was evicted since `epoch` was
    /// read (the read may predate the change that caused the eviction).
    pub fn put(&self, family_id: Uuid, user: &User, epoch: u64) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.lock().expect("not poisoned");
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert((user.id, family_id), (user.clone(), Instant::now()));
    }

    pub fn evict_user(&self, user_id: Uuid) {
        let mut entries = self.entries.lock().expect("not poisoned");
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(user, _), _| *user != user_id);
    }

    pub fn evict_family(&self, family_id: Uuid) {
        let mut entries = self.entries.lock().expect("not poisoned");
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(_, family), _| *family != family_id);
    }

    fn set_listening(&self, listening: bool) {
        // Whatever happened while not listening is unknown: start empty either way.
        let mut entries = self.entries.lock().expect("not poisoned");
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.listening.store(listening, Ordering::Release);
    }

    /// Listens for changes until the task is aborted, reconnecting with backoff.
    ///
    /// The listener keeps its connection for good, so it gets one of its own rather than a
    /// slot of the request pool (which it would otherwise occupy forever).
    pub async fn listen(&self, pool: PgPool) {
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*pool.connect_options()).clone());
        let mut delay = Duration::from_millis(200);
        loop {
            match PgListener::connect_with(&own).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        self.set_listening(true);
                        delay = Duration::from_millis(200);
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(notification)) => {
                                    if let Ok(user_id) = notification.payload().parse() {
                                        self.evict_user(user_id);
                                    }
                                }
                                // The connection was lost and re-established: changes may have
                                // been missed.
                                Ok(None) => self.set_listening(true),
                                Err(_) => break,
                            }
                        }
                    }
                    self.set_listening(false);
                }
                Err(_) => self.set_listening(false),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::domain::UserRole;

    fn user() -> User {
        User {
            id: Uuid::now_v7(),
            email: "a@example.com".into(),
            name: "A".into(),
            role: UserRole::User,
            disabled: false,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn unused_until_listening_and_evictions_win_races() {
        let cache = PrincipalCache::new();
        let (u, family) = (user(), Uuid::now_v7());
        cache.put(family, &u, cache.epoch());
        assert!(
            cache.get(u.id, family).is_none(),
            "not listening: no caching"
        );
        cache.set_listening(true);
        cache.put(family, &u, cache.epoch());
        assert!(cache.get(u.id, family).is_some());
        cache.evict_user(u.id);
        assert!(cache.get(u.id, family).is_none());
        // A read that started before an eviction is not stored.
        let before = cache.epoch();
        cache.evict_user(Uuid::now_v7());
        cache.put(family, &u, before);
        assert!(cache.get(u.id, family).is_none());
    }
}
