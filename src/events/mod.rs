//! Live events (API.md §11, `GET /api/v1/events`): the activity entries, as they commit, to every
//! member of their project, from any instance.
//!
//! The `activity` table is the truth and `LISTEN docket_activity` only the doorbell. Each
//! instance has one [`Hub`]: a tailer task ([`run`]) that, on each doorbell (and every second
//! while anyone is subscribed, in case a notification was lost or the listener is down), reads
//! the entries after the last one it read plus the current members of their projects, and
//! broadcasts each entry, serialized once, with that member set. The doorbell is rung by the
//! journal's sequencers (`activity::journal`), once per batch of entries they number. A stream
//! waits until the tailer has its starting point, subscribes, then replays what it missed from
//! the table, then follows the broadcast, skipping ids it has already sent: since the table
//! holds only numbered entries, whose ids become visible in increasing order, "after id N" is
//! a complete resume point and nothing is sent twice.
//!
//! Membership is checked at delivery: an entry goes to the users who are members of its
//! project when the tailer reads it, so a removed member stops receiving a project's events at
//! once. The one exception is the `member.removed` entry about them, which goes to them too:
//! it is how their client learns to drop the project (the sidebar), and it tells them nothing
//! they did not know but who removed them.

pub mod handlers;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, watch, Notify};
use tokio_postgres::AsyncMessage;
use uuid::Uuid;

use crate::activity::{self, Entry};
use crate::db::backoff::Backoff;
use crate::db::{Db, DbResult};

/// Open streams per user, per instance (API.md §9 style bound; an 11th is refused with 429).
pub const MAX_STREAMS_PER_USER: usize = 10;
/// Deliveries a stream may fall behind before it is dropped (it resumes with Last-Event-ID).
const BROADCAST_CAPACITY: usize = 4096;
/// Entries read per query, by the tailer and by a stream's replay.
pub(crate) const PAGE: i64 = 500;
/// The tailer reads this often while anyone is subscribed, whatever the doorbell says.
const FALLBACK_POLL: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the tailer waits for its listener before it starts without it (the fallback poll
/// then stands in); less than the time a stream waits for the tailer to start.
const LISTENER_WAIT: Duration = Duration::from_secs(2);
/// The default interval of the comment line that keeps proxies from closing a stream.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// One entry as every stream sends it.
#[derive(Debug)]
pub struct Delivery {
    pub id: i64,
    pub kind: activity::Kind,
    pub project_id: Uuid,
    /// The entry's JSON, serialized once for all streams.
    pub data: String,
    /// The project's members when the entry was read.
    pub members: Arc<HashSet<Uuid>>,
    /// For `member.removed`: the person removed, who gets this entry though no longer a
    /// member (and nothing of the project after it).
    pub removed: Option<Uuid>,
}

impl Delivery {
    /// Whether this entry goes to `user`.
    pub fn reaches(&self, user: Uuid) -> bool {
        self.members.contains(&user) || self.removed == Some(user)
    }
}

/// The instance's subscribers and the tailer's state (one per instance, shared with the
/// stream handler).
pub struct Hub {
    sender: broadcast::Sender<Arc<Delivery>>,
    open: Mutex<HashMap<Uuid, usize>>,
    closing: watch::Sender<bool>,
    /// Rung by the listener (a commit anywhere) and by a new subscriber.
    doorbell: Notify,
    /// The highest id a notification announced (those entries are committed).
    announced: AtomicI64,
    /// Changes on every commit the listener hears of (and when it starts listening, as
    /// commits may have been missed): a doorbell for other readers of the history (the
    /// webhooks outbox), which keep their own poll as the fallback.
    commits: watch::Sender<i64>,
    /// Set once the tailer has read where it starts: a stream that subscribed before would
    /// miss what committed between its replay and that starting point.
    started: watch::Sender<bool>,
    /// Set once the listener is listening, or its first try failed: the tailer reads where it
    /// starts only then, so a commit after that read rings the doorbell instead of waiting
    /// for the fallback poll.
    listener_tried: watch::Sender<bool>,
    pub heartbeat: Duration,
}

impl Hub {
    pub fn new(heartbeat: Duration) -> Self {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (closing, _) = watch::channel(false);
        let (started, _) = watch::channel(false);
        let (listener_tried, _) = watch::channel(false);
        let (commits, _) = watch::channel(0);
        Self {
            sender,
            open: Mutex::new(HashMap::new()),
            closing,
            doorbell: Notify::new(),
            announced: AtomicI64::new(0),
            commits,
            started,
            listener_tried,
            heartbeat,
        }
    }

    /// Waits (at most `within`) until the tailer knows where it starts; false if it does not
    /// by then (the database is away).
    pub async fn started(&self, within: Duration) -> bool {
        let mut started = self.started.subscribe();
        tokio::time::timeout(within, started.wait_for(|started| *started))
            .await
            .is_ok_and(|started| started.is_ok())
    }

    /// A stream slot for `user_id`, unless they already hold the most.
    pub fn admit(self: &Arc<Self>, user_id: Uuid) -> Option<Slot> {
        let mut open = self.open.lock().expect("not poisoned");
        let count = open.entry(user_id).or_insert(0);
        if *count >= MAX_STREAMS_PER_USER {
            return None;
        }
        *count += 1;
        metrics::gauge!("docket_events_streams").increment(1.0);
        Some(Slot {
            hub: self.clone(),
            user_id,
        })
    }

    /// A receiver that sees a change on every commit this instance's listener hears of, from
    /// any instance (`LISTEN docket_activity`).
    pub fn commits(&self) -> watch::Receiver<i64> {
        self.commits.subscribe()
    }

    /// Subscribes to deliveries; everything the tailer reads from now on arrives here.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Delivery>> {
        let receiver = self.sender.subscribe();
        self.doorbell.notify_one();
        receiver
    }

    /// Resolves when the server starts draining: streams end, so that the drain does not wait
    /// for them (clients reconnect to another instance with Last-Event-ID).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Reads what committed after `last` and broadcasts it; returns the new `last`.
    async fn catch_up(&self, db: &Db, mut last: i64) -> DbResult<i64> {
        loop {
            let entries = activity::journal::after(db, last, PAGE).await?;
            let Some(newest) = entries.last().map(|e| e.id) else {
                return Ok(last);
            };
            let mut projects: Vec<Uuid> = entries.iter().map(|e| e.project_id).collect();
            projects.sort_unstable();
            projects.dedup();
            let mut members: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
            for (project, user) in crate::projects::store::members_of(db, &projects).await? {
                members.entry(project).or_default().insert(user);
            }
            let members: HashMap<Uuid, Arc<HashSet<Uuid>>> = projects
                .into_iter()
                .map(|p| (p, Arc::new(members.remove(&p).unwrap_or_default())))
                .collect();
            let full = entries.len() as i64 == PAGE;
            for entry in entries {
                let delivery = delivery(entry, &members);
                // No receivers is not an error: nobody is listening right now.
                let _ = self.sender.send(Arc::new(delivery));
            }
            metrics::counter!("docket_events_read_total").increment(1);
            last = newest;
            if !full {
                return Ok(last);
            }
        }
    }
}

fn delivery(entry: Entry, members: &HashMap<Uuid, Arc<HashSet<Uuid>>>) -> Delivery {
    Delivery {
        id: entry.id,
        kind: entry.kind,
        project_id: entry.project_id,
        members: members.get(&entry.project_id).cloned().unwrap_or_default(),
        removed: match entry.kind {
            activity::Kind::MemberRemoved => entry.user_id,
            _ => None,
        },
        data: serde_json::to_string(&entry).expect("an entry serializes"),
    }
}

/// A user's open stream, counted until dropped.
pub struct Slot {
    hub: Arc<Hub>,
    user_id: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.hub.open.lock().expect("not poisoned");
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
        metrics::gauge!("docket_events_streams").decrement(1.0);
    }
}

/// The tailer: runs until aborted (the server's shutdown). `listen` is where the `LISTEN`
/// connection goes (not the pool: it would hold a slot for good).
pub async fn run(hub: Arc<Hub>, db: Db, listen: tokio_postgres::Config) {
    while !db.is_migrated() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _listener = AbortOnDrop(tokio::spawn({
        let hub = hub.clone();
        async move { hub.listen(&listen).await }
    }));
    let mut backoff = Backoff::new("events tailer");
    // The doorbell before the starting point: a stream that starts with the tailer then gets
    // its first entries on the doorbell, not up to a fallback poll later (that delay broke
    // the one-second promise on a loaded machine). Bounded: a database that refuses the
    // LISTEN must not keep streams from starting.
    let mut tried = hub.listener_tried.subscribe();
    let _ = tokio::time::timeout(LISTENER_WAIT, tried.wait_for(|tried| *tried)).await;
    let mut last = loop {
        match activity::store::latest_id(&db).await {
            Ok(id) => break id,
            Err(error) => {
                let wait = backoff.failed(&error, error.is_unreachable());
                tokio::time::sleep(wait).await;
            }
        }
    };
    backoff.succeeded();
    // Streams wait for this: one that subscribed and replayed before `last` was read would
    // never get what committed in between (the tailer starts after it).
    hub.started.send_replace(true);
    loop {
        let polled = tokio::select! {
            () = hub.doorbell.notified() => false,
            () = tokio::time::sleep(FALLBACK_POLL) => true,
        };
        // Read before the count (see below).
        let announced = hub.announced.load(Ordering::Acquire);
        if hub.sender.receiver_count() == 0 {
            // Nobody to tell: skip ahead instead of reading. Safe because the count is read
            // after the value: a subscriber that comes later subscribes first and then replays
            // from the table, which by then holds everything up to that value. (The poll also
            // asks the table, in case the listener is down or silently dead.)
            last = last.max(announced);
            if polled {
                if let Ok(latest) = activity::store::latest_id(&db).await {
                    if hub.sender.receiver_count() == 0 {
                        last = last.max(latest);
                    }
                }
            }
            continue;
        }
        match hub.catch_up(&db, last).await {
            Ok(newest) => {
                last = newest;
                backoff.succeeded();
            }
            // Doorbells keep ringing while the database is down (a subscriber, a commit
            // announced before it went): wait them out instead of reading on each.
            Err(error) => {
                let wait = backoff.failed(&error, error.is_unreachable());
                tokio::time::sleep(wait).await;
            }
        }
    }
}

impl Hub {
    /// Listens for commits until aborted, reconnecting with backoff. The connection is its own
    /// (not a slot of the request pool, which it would hold for good).
    async fn listen(&self, pg: &tokio_postgres::Config) {
        let mut backoff = Backoff::new("activity listener");
        loop {
            let wait = match self.listen_once(pg).await {
                // It was listening, then the connection ended: reconnect soon.
                Ok(()) => {
                    backoff.succeeded();
                    backoff.failed(&"the connection ended", true)
                }
                Err(reason) => {
                    self.listener_tried.send_replace(true);
                    backoff.failed(&reason, true)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One connection: `Ok` once it was listening and then ended, `Err` if it never got there.
    async fn listen_once(&self, pg: &tokio_postgres::Config) -> Result<(), &'static str> {
        let (client, mut connection) =
            match tokio::time::timeout(CONNECT_TIMEOUT, pg.connect(tokio_postgres::NoTls)).await {
                Ok(Ok(connected)) => connected,
                Ok(Err(_)) => return Err("cannot connect"),
                Err(_) => return Err("connecting timed out"),
            };
        let (forward, mut announced) = tokio::sync::mpsc::unbounded_channel::<i64>();
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(notification) = message {
                    let id = notification.payload().parse().unwrap_or(0);
                    if forward.send(id).is_err() {
                        break;
                    }
                }
            }
        }));
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            client.batch_execute(&format!("LISTEN {}", activity::store::CHANNEL)),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("LISTEN failed"),
            Err(_) => return Err("LISTEN timed out"),
        }
        self.listener_tried.send_replace(true);
        // Commits may have been missed while not listening: read once.
        self.doorbell.notify_one();
        self.commits.send_modify(|_| {});
        // `None`: the connection ended.
        while let Some(id) = announced.recv().await {
            let before = self.announced.fetch_max(id, Ordering::AcqRel);
            self.doorbell.notify_one();
            self.commits.send_replace(before.max(id));
        }
        Ok(())
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
