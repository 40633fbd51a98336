//! A short-lived cache of the user behind an access token (user id + login family), so that a
//! JWT request costs one database round trip instead of two.
//!
//! Correctness rests on invalidation, not on the TTL: triggers announce every change to a
//! user and every revoked login on the `docket_principals` channel, each instance listens and
//! drops the user's entries, and the handlers that make such changes also drop them locally
//! before answering. While the listener is not connected the cache is not used at all; when
//! it reconnects (notifications may have been missed) the cache is emptied.
//!
//! A notification channel can also die silently (a black-holed connection delivers nothing
//! and reports no error), so the listener proves it alive: four times a second it notifies
//! itself with a ping on the same channel, and if a ping does not come back in time it stops
//! using the cache and reconnects (API.md §9: token changes reach every instance within 1 s).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_postgres::AsyncMessage;
use uuid::Uuid;

use super::users::User;
use crate::db::backoff::Backoff;

/// A cached user and when it was read.
type Entry = (Arc<User>, Instant);

pub const CHANNEL: &str = "docket_principals";
const TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 50_000;
/// How often the listener pings itself.
const PING_EVERY: Duration = Duration::from_millis(150);
/// A ping not back this long after it was sent means the channel is dead.
const PONG_WITHIN: Duration = Duration::from_millis(400);
/// Connecting and `LISTEN` must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PrincipalCache {
    entries: Mutex<HashMap<(Uuid, Uuid), Entry>>,
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

    pub fn get(&self, user_id: Uuid, family_id: Uuid) -> Option<Arc<User>> {
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
    pub fn put(&self, family_id: Uuid, user: &Arc<User>, epoch: u64) {
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
    /// The listener keeps its connection for good, so it has one of its own rather than a
    /// slot of the request pool (which it would otherwise occupy forever).
    pub async fn listen(&self, pg: &tokio_postgres::Config) {
        // Pings carry a nonce of this listener, so that it recognises its own (and they are not
        // user ids, so they never evict anything).
        let ping = format!("ping:{}", crate::tokens::random_token(16));
        let mut backoff = Backoff::new("principal-cache listener");
        loop {
            let outcome = self.listen_once(pg, &ping).await;
            self.set_listening(false);
            let wait = match outcome {
                // It was listening, then the connection died: reconnect soon.
                Ok(()) => {
                    backoff.succeeded();
                    backoff.failed(&"the connection ended", true)
                }
                Err(reason) => backoff.failed(&reason, true),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One connection: `Ok` once it was listening and then died, `Err` if it never got there.
    async fn listen_once(
        &self,
        pg: &tokio_postgres::Config,
        ping: &str,
    ) -> Result<(), &'static str> {
        let (client, mut connection) =
            match tokio::time::timeout(CONNECT_TIMEOUT, pg.connect(tokio_postgres::NoTls)).await {
                Ok(Ok(connected)) => connected,
                Ok(Err(_)) => return Err("cannot connect"),
                Err(_) => return Err("connecting timed out"),
            };
        // The connection is driven on a task of its own, which forwards the notifications; it
        // ends (closing the socket) when this function returns or is cancelled.
        let (forward, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(notification) = message {
                    if forward.send(notification).is_err() {
                        break;
                    }
                }
            }
        }));
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            client.batch_execute(&format!("LISTEN {CHANNEL}")),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("LISTEN failed"),
            Err(_) => return Err("LISTEN timed out"),
        }
        // Notifications may have been missed while not listening: start empty.
        self.set_listening(true);

        // The payload is the base64url nonce: no quoting needed.
        let ping_sql = format!("SELECT pg_notify('{CHANNEL}', '{ping}')");
        // When each ping still on its way was sent, oldest first (they come back in order).
        let mut pending: VecDeque<tokio::time::Instant> = VecDeque::new();
        let mut ticker = tokio::time::interval(PING_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = pending.front().map(|sent| *sent + PONG_WITHIN);
            tokio::select! {
                // What has arrived is handled first: a ping that is back must not lose a race
                // against its own deadline.
                biased;
                notification = notifications.recv() => {
                    // `None`: the connection ended.
                    let Some(notification) = notification else { return Ok(()) };
                    if notification.payload() == ping {
                        pending.pop_front();
                    } else if let Ok(user_id) = notification.payload().parse() {
                        self.evict_user(user_id);
                    }
                }
                _ = sleep_until_some(deadline) => {
                    tracing::warn!("a principal-notification ping did not come back; reconnecting");
                    return Ok(());
                }
                _ = ticker.tick() => {
                    let sent = tokio::time::Instant::now();
                    // Waiting for this ping must not push back the deadline of an earlier one.
                    let limit = deadline.map_or(sent + PONG_WITHIN, |d| d.min(sent + PONG_WITHIN));
                    match tokio::time::timeout_at(limit, client.batch_execute(&ping_sql)).await {
                        Ok(Ok(())) => pending.push_back(sent),
                        // An error or no answer: the connection is unusable. A closed one
                        // is the database going away, which the pool reports once.
                        _ if client.is_closed() => return Ok(()),
                        _ => {
                            tracing::warn!("a principal-notification ping failed; reconnecting");
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// Sleeps until the deadline, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::domain::UserRole;

    fn user() -> Arc<User> {
        Arc::new(User {
            id: Uuid::now_v7(),
            email: "a@example.com".into(),
            name: "A".into(),
            role: UserRole::User,
            disabled: false,
            email_notifications: true,
            second_factor: false,
            created_at: chrono::Utc::now(),
        })
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
