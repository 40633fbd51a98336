//! The delivery worker. The outbox is the activity history: an entry is committed with its
//! change (and never if the change rolls back), and each webhook keeps `position`, the last
//! entry id it is done with. A worker claims a webhook with work due (`store::claim`,
//! `FOR NO KEY UPDATE SKIP LOCKED`) and keeps its row locked while it sends, so one event is in flight
//! per webhook on any number of instances, and events go out in id order, which is commit
//! order (`activity::journal`). The attempt and the new position are recorded in the same
//! transaction: a crash before its commit (before the send, during it, or after the answer)
//! leaves the position where it was, and the event is sent again with the same `webhook-id`.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use super::sender::{Attempt, Outcome};
use super::store::{self, Claimed, Recorded};
use super::{unseal, Webhooks};
use crate::activity::Entry;
use crate::db::backoff::Backoff;
use crate::db::DbResult;

/// How often an idle worker looks for work when no bell rings: the fallback for a lost
/// notification or a listener that is down, and what makes scheduled retries happen.
const POLL: Duration = Duration::from_millis(100);
/// Entries one turn may send to a webhook before its transaction commits and its row is let
/// go (a receiver that answers at once gets batches; the others get their turn).
const BATCH: i64 = 50;
const TURN: Duration = Duration::from_secs(1);
const METRICS_EVERY: Duration = Duration::from_secs(5);

/// How much nicer than the process the deliveries' thread is: under a shortage of CPU the
/// kernel gives the request handlers the cores first (weight 1024 against 110 at +10), and the
/// deliveries the rest.
const NICER_BY: libc::c_int = 10;

/// Runs the delivery workers and their doorbell on a thread of their own, at a lower scheduling
/// priority than the requests, over a pool of their own (`Policy::concurrency` connections,
/// beside `DOCKET_DB_MAX_CONNECTIONS`): deliveries cost CPU (a claim, a signed POST, a log row
/// each, five per write with five webhooks), and the writes that feed them should lose as
/// little as possible to them (the database's share of a delivery still runs at normal
/// priority: docs/performance.md, Webhooks). The outbox is durable, so what a busy machine
/// costs deliveries is delay, never an event. The thread stops when the returned guard is
/// dropped.
pub fn spawn(hooks: &Webhooks, commits: tokio::sync::watch::Receiver<i64>) -> Delivering {
    let hooks = hooks.with_db(hooks.db.sibling(hooks.policy.concurrency.max(1)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("docket-webhooks".to_owned())
        .spawn(move || {
            lower_priority();
            // One thread is plenty (a delivery's own CPU is tens of microseconds) and keeps
            // everything of the deliveries, including the blocking pool it starts for name
            // lookups, at the lower priority: a thread inherits its creator's niceness.
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "the webhook deliveries' runtime did not start");
                    return;
                }
            };
            runtime.block_on(async move {
                tokio::select! {
                    () = run(hooks.clone()) => {}
                    () = doorbell(hooks, commits) => {}
                    _ = stopped => {}
                }
            });
            // Unfinished turns roll back with their connections; their events are sent again.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .expect("the webhook deliveries' thread starts");
    Delivering { _stop: stop }
}

/// Stops the deliveries' thread when dropped.
pub struct Delivering {
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn lower_priority() {
    // SAFETY: `getpriority` and `setpriority` only read and change the calling thread's
    // niceness (on Linux the niceness is a thread's, and `gettid` names this one); raising it
    // needs no privilege.
    let done = unsafe {
        let me = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, me);
        libc::setpriority(libc::PRIO_PROCESS, me, (now + NICER_BY).min(19))
    };
    if done != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "webhook deliveries run at the requests' priority"
        );
    }
}

/// The workers of this instance (`Policy::concurrency` of them): run until aborted. An aborted
/// turn rolls back, and its events are sent again.
pub async fn run(hooks: Webhooks) {
    while !hooks.db.is_migrated() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let workers: Vec<_> = (0..hooks.policy.concurrency.max(1))
        .map(|n| tokio::spawn(worker(hooks.clone(), n == 0)))
        .collect();
    // Aborting this task drops the handles but not the tasks: abort them too.
    let _guard = AbortOnDrop(workers);
    std::future::pending::<()>().await;
}

/// Wakes one idle worker on every commit this instance's activity listener hears of (from any
/// instance: `events::Hub::commits`, `LISTEN docket_activity`, rung by the journal once per
/// batch of numbered entries), so a new event is sent without waiting for the poll. One, not
/// all: a worker that claims a webhook wakes the next (`turn`), so the workers fan out only as
/// far as there is work, and a commit with no webhook to serve costs one empty claim, not one
/// per worker (measured: the history's CPU per write on a busy project, docs/performance.md).
/// When every worker is busy the permit waits for the first to finish.
async fn doorbell(hooks: Webhooks, mut commits: tokio::sync::watch::Receiver<i64>) {
    while commits.changed().await.is_ok() {
        hooks.wake.notify_one();
    }
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.iter().for_each(|task| task.abort());
    }
}

async fn worker(hooks: Webhooks, reports_metrics: bool) {
    let mut backoff = Backoff::new("webhook delivery");
    let mut last_metrics = Instant::now() - METRICS_EVERY;
    loop {
        if reports_metrics && last_metrics.elapsed() >= METRICS_EVERY {
            last_metrics = Instant::now();
            if let Ok((depth, age)) = store::backlog(&hooks.db).await {
                metrics::gauge!("docket_webhook_queue_depth").set(depth as f64);
                metrics::gauge!("docket_webhook_oldest_pending_seconds").set(age);
            }
        }
        match turn(&hooks).await {
            Ok(true) => {
                backoff.succeeded();
                continue;
            }
            Ok(false) => backoff.succeeded(),
            Err(error) => {
                let wait = backoff.failed(&error, error.is_unreachable());
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = hooks.wake.notified() => {}
        }
    }
}

/// One webhook's turn; false when no webhook had work.
async fn turn(hooks: &Webhooks) -> DbResult<bool> {
    let tx = hooks.db.begin().await?;
    let Some(hook) = store::claim(&tx).await? else {
        return Ok(false);
    };
    // Another webhook may have work too: the next idle worker looks (see `doorbell`).
    hooks.wake.notify_one();
    let mut secrets: Vec<Vec<u8>> = unseal(&hooks.encryption_key, hook.id, &hook.secret)
        .into_iter()
        .collect();
    if let Some(previous) = &hook.previous_secret {
        secrets.extend(unseal(&hooks.encryption_key, hook.id, previous));
    }
    let pending = match hook.has_pending {
        true => store::next_pending(&tx, hook.id).await?,
        false => None,
    };
    if let Some(pending) = pending {
        let attempt = hooks
            .sender
            .send(&hook.url, &pending.event_id, &pending.payload, &secrets)
            .await;
        count(&attempt);
        let (delivered, error) = result_of(&attempt);
        let recorded = recorded(&attempt, delivered, error.as_deref(), None);
        store::finish_pending(&tx, hook.id, pending.id, &recorded).await?;
        tx.commit().await?;
        return Ok(true);
    }
    if hook.active {
        deliver_history(hooks, &tx, &hook, &secrets).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Sends the webhook's next entries in order, until one must wait for a retry, the batch or
/// the turn's time is used up, or the webhook is disabled.
async fn deliver_history(
    hooks: &Webhooks,
    tx: &crate::db::Tx,
    hook: &Claimed,
    secrets: &[Vec<u8>],
) -> DbResult<()> {
    let started = Instant::now();
    let entries = crate::activity::store::project_after(
        tx,
        hook.project_id,
        hook.position,
        &hook.events,
        BATCH,
    )
    .await?;
    let policy = &hooks.policy;
    let mut state = store::State {
        position: hook.position,
        head_attempts: hook.head_attempts,
        retry_at: None,
        failing_since: hook.failing_since,
        last_status: None,
        disabled_reason: None,
    };
    let mut attempts = store::Attempts::default();
    let disabled = format!(
        "deliveries failed for {} h without a success",
        policy.disable_after.as_secs_f64() / 3600.0
    );
    for entry in &entries {
        let (event_id, body) = event_of(entry);
        let attempt = hooks
            .sender
            .send(&hook.url, &event_id, &body, secrets)
            .await;
        count(&attempt);
        let number = state.head_attempts + 1;
        let (delivered, error) = result_of(&attempt);
        // A retry is due when the receiver may do better later and the schedule has one left.
        let retry = match &attempt.outcome {
            Outcome::Retry { retry_after, .. } => policy
                .schedule
                .get(state.head_attempts as usize)
                .map(|delay| retry_after.map_or_else(|| jittered(*delay), |d| d.max(MIN_WAIT))),
            _ => None,
        };
        let next_attempt_at =
            retry.map(|delay| Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default());
        let recorded = recorded(&attempt, delivered, error.as_deref(), next_attempt_at);
        attempts.push(event_id, entry.kind.as_str(), body, number, &recorded);
        state.last_status = Some(if delivered { "delivered" } else { "failed" });
        if delivered {
            state.failing_since = None;
        } else {
            state.failing_since.get_or_insert_with(Utc::now);
        }
        let failing_too_long = state.failing_since.is_some_and(|since| {
            (Utc::now() - since).to_std().unwrap_or_default() >= policy.disable_after
        });
        if let Some(at) = next_attempt_at {
            state.head_attempts = number;
            state.retry_at = Some(at);
        } else {
            state.position = entry.id;
            state.head_attempts = 0;
        }
        if failing_too_long {
            tracing::warn!(webhook_id = %hook.id, "webhook disabled: {disabled}");
            state.disabled_reason = Some(&disabled);
            tell_admins(hooks, tx, hook, &disabled).await?;
            break;
        }
        if next_attempt_at.is_some() || started.elapsed() >= TURN {
            break;
        }
    }
    store::save_turn(tx, hook.id, &attempts, &state).await
}

/// Tells the project's admins and owner that the webhook was switched off, in the transaction
/// that switches it off (so they hear of it once): a `webhook_disabled` notification in the
/// app, and an email when SMTP is configured (whatever their `email_notifications`: it is about
/// the project, not their tasks; the digests leave this kind out so it is not told twice).
async fn tell_admins(
    hooks: &Webhooks,
    tx: &crate::db::Tx,
    hook: &Claimed,
    reason: &str,
) -> DbResult<()> {
    let admins = crate::projects::store::admins_to_tell(tx, hook.project_id).await?;
    let users: Vec<uuid::Uuid> = admins.iter().map(|admin| admin.user_id).collect();
    crate::notifications::store::notify_webhook_disabled(tx, &users, hook.id).await?;
    if !hooks.mailer.is_configured() {
        return Ok(());
    }
    let base = hooks.public_url.as_str().trim_end_matches('/');
    let settings = format!("{base}/p/{}/settings", hook.project_id);
    for crate::projects::store::AdminToTell {
        project,
        email,
        name,
        ..
    } in admins
    {
        let message = crate::email::Outgoing {
            to: email,
            subject: format!("A webhook of {project} was switched off"),
            text: format!(
                "Hello {name},\n\nDocket switched off the webhook to {url} of {project}: \
                 {reason}. Nothing is sent to it until someone switches it on again in the \
                 project's settings, where its deliveries show what went wrong:\n\n{settings}\n",
                url = hook.url
            ),
            html: format!(
                "<p>Hello {name},</p><p>Docket switched off the webhook to <code>{url}</code> \
                 of {project}: {reason}. Nothing is sent to it until someone switches it on \
                 again in the project's settings, where its deliveries show what went \
                 wrong:</p><p><a href=\"{settings}\">{settings}</a></p>",
                name = escape(&name),
                url = escape(&hook.url),
                project = escape(&project),
                settings = escape(&settings),
            ),
            unsubscribe: None,
        };
        hooks.mailer.enqueue(tx, &message).await?;
    }
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The least wait a `Retry-After` gets (a receiver answering "0" must not be hammered).
const MIN_WAIT: Duration = Duration::from_secs(1);

/// The `webhook-id` and the body of an entry: `{"type", "timestamp", "data"}`.
fn event_of(entry: &Entry) -> (String, String) {
    let body = json!({
        "type": entry.kind.as_str(),
        "timestamp": entry.at,
        "data": entry,
    });
    (format!("evt_{}", entry.id), body.to_string())
}

/// A delay of the schedule, ±20%.
fn jittered(delay: Duration) -> Duration {
    use rand::Rng;
    delay.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
}

fn result_of(attempt: &Attempt) -> (bool, Option<String>) {
    match &attempt.outcome {
        Outcome::Delivered => (true, None),
        Outcome::Retry { error, .. } | Outcome::Failed(error) => (false, Some(error.clone())),
    }
}

fn recorded<'a>(
    attempt: &Attempt,
    delivered: bool,
    error: Option<&'a str>,
    next_attempt_at: Option<chrono::DateTime<Utc>>,
) -> Recorded<'a> {
    Recorded {
        delivered,
        response_status: attempt.response_status.map(i32::from),
        error,
        duration_ms: attempt.duration.as_millis().min(i32::MAX as u128) as i32,
        next_attempt_at,
    }
}

fn count(attempt: &Attempt) {
    let outcome = match attempt.outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry { .. } => "retried",
        Outcome::Failed(_) => "failed",
    };
    metrics::counter!("docket_webhook_deliveries_total", "outcome" => outcome).increment(1);
    metrics::histogram!("docket_webhook_delivery_seconds").record(attempt.duration.as_secs_f64());
}

/// The body of a ping.
pub fn ping_event() -> (String, String) {
    let body = json!({
        "type": "webhook.ping",
        "timestamp": Utc::now(),
        "data": {},
    });
    (
        format!("ping_{}", uuid::Uuid::now_v7().simple()),
        body.to_string(),
    )
}
