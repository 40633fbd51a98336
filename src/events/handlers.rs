//! `GET /api/v1/events`: one Server-Sent Events stream per request.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::FutureExt;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::{Delivery, Hub, Slot, PAGE};
use crate::activity::{self, Entry};
use crate::auth::principal::{Credentials, Principal};
use crate::auth::state::AuthState;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::Query;
use crate::projects::access::Action;
use crate::projects::guard;

/// A resume point older than this is not served: the client reloads instead (API.md §11).
const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);
const LAST_EVENT_ID: &str = "last-event-id";
/// How long a stream waits for a tailer that has not read its starting point yet.
const TAILER_START: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this project's entries (404 if the caller is not a member).
    pub project_id: Option<Uuid>,
    /// Resume after this entry id (`Last-Event-ID` wins when both are sent).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The activity entries of the caller's projects, live, as Server-Sent Events (any member).
///
/// Each event: `id:` the entry id, `event:` its kind, `data:` the entry as JSON. An entry
/// goes to the members of its project at the moment it is delivered. `Last-Event-ID` (or
/// `after`) resumes right after that entry, missing nothing; a resume point older than the
/// 7-day retention (or unknown) gets one `event: reset` and the stream ends: reload, then
/// reconnect without it. Without either, the stream starts at the current end. A comment
/// line every 15 s keeps proxies from closing it. The stream ends when the server drains, when
/// the credentials stop being valid (checked at each heartbeat), when a narrowed stream's
/// caller leaves the project, and when the client reads too slowly; reconnecting with
/// `Last-Event-ID` loses nothing. At most 10 open streams per user and instance (429).
#[utoipa::path(get, path = "/api/v1/events", tag = "activity",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0,
            description = "Resume after this entry id (sent by EventSource on reconnect)"),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`", content_type = "text/event-stream", body = String),
        (status = 404, description = "`project_id` names no project the caller is a member of", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many open streams (10 per user), or rate limited; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub async fn stream_events(
    State(hub): State<Arc<Hub>>,
    State(db): State<Db>,
    State(auth): State<AuthState>,
    principal: Principal,
    credentials: Credentials,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let after = match last_event_id(&headers)? {
        Some(id) => Some(id),
        None => match query.after {
            Some(id) if id < 0 => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    "after: must be a non-negative entry id",
                ))
            }
            other => other,
        },
    };
    if let Some(project_id) = query.project_id {
        guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    }
    if !hub.started(TAILER_START).await {
        return Err(ApiError::unavailable("live events are starting; try again"));
    }
    let slot = hub.admit(principal.id()).ok_or_else(|| {
        ApiError::rate_limited(5).detail("at most 10 open event streams per user")
    })?;
    // Subscribed before the start is fixed: whatever commits later arrives on `live`.
    let live = hub.subscribe();
    if after.is_none() {
        // "From now on": what committed before this request is not news, numbered or not.
        activity::journal::settle(&db).await?;
    }
    let latest = activity::store::latest_id(&db).await?;
    let cursor = match after {
        None => latest,
        Some(after) if after > latest => return Ok(reset("unknown")),
        Some(after) => {
            let first = activity::store::first_after(&db, after).await?;
            if first.is_some_and(|at| at < Utc::now() - RETENTION) {
                return Ok(reset("expired"));
            }
            after
        }
    };
    let stream = EventStream {
        db,
        auth,
        credentials,
        user_id: principal.id(),
        project_id: query.project_id,
        cursor,
        backlog: VecDeque::new(),
        replaying: true,
        ended: false,
        live,
        closing: hub.closing(),
        check: heartbeat_checks(hub.heartbeat),
        _slot: slot,
    };
    let events = futures::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok::<_, Infallible>(event), stream))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(hub.heartbeat))
        .into_response();
    // nginx buffers proxied responses unless told otherwise: events must not wait in a buffer.
    response.headers_mut().insert(
        axum::http::HeaderName::from_static("x-accel-buffering"),
        axum::http::HeaderValue::from_static("no"),
    );
    Ok(response)
}

fn heartbeat_checks(every: std::time::Duration) -> tokio::time::Interval {
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // After a long replay, one check, not a burst.
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check
}

/// `Last-Event-ID`, if sent (an empty one, as after an `id:` without a value, is none).
fn last_event_id(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidHeader,
            "Last-Event-ID must be the id of an event (a non-negative integer)",
        )
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(id) if id >= 0 => Ok(Some(id)),
        _ => Err(bad()),
    }
}

/// The one event of a stream that cannot resume where asked.
fn reset(reason: &str) -> Response {
    let event = Event::default()
        .event("reset")
        .data(serde_json::json!({ "reason": reason }).to_string());
    Sse::new(futures::stream::once(
        async move { Ok::<_, Infallible>(event) },
    ))
    .into_response()
}

struct EventStream {
    db: Db,
    auth: AuthState,
    credentials: Credentials,
    user_id: Uuid,
    project_id: Option<Uuid>,
    /// The id of the last entry sent (or the start point).
    cursor: i64,
    backlog: VecDeque<Entry>,
    /// Still reading missed entries from the table (then the broadcast takes over).
    replaying: bool,
    /// A narrowed stream sent its user's own removal from the project: nothing follows.
    ended: bool,
    live: broadcast::Receiver<Arc<Delivery>>,
    closing: watch::Receiver<bool>,
    check: tokio::time::Interval,
    _slot: Slot,
}

impl EventStream {
    /// The next event, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        if *self.closing.borrow() || self.ended {
            return None;
        }
        // Replaying (a page read, or what is left of one) never waits on the heartbeat, so
        // its credential check runs here whenever one is due: a reader far behind stops within
        // a heartbeat of its logout like one that follows (API.md §9).
        if (self.replaying || !self.backlog.is_empty())
            && self.check.tick().now_or_never().is_some()
            && !self.still_allowed().await
        {
            return None;
        }
        if let Some(entry) = self.backlog.pop_front() {
            self.cursor = entry.id;
            let data = serde_json::to_string(&entry).expect("an entry serializes");
            return Some(event(entry.id, entry.kind, &data));
        }
        if self.replaying {
            let page = match activity::store::visible_after(
                &self.db,
                self.user_id,
                self.project_id,
                self.cursor,
                PAGE,
            )
            .await
            {
                Ok(page) => page,
                Err(error) => {
                    // The client reconnects with Last-Event-ID and loses nothing.
                    tracing::warn!(error = %error, "events: replay failed; ending the stream");
                    return None;
                }
            };
            self.replaying = page.len() as i64 == PAGE;
            if let Some(entry) = page.first() {
                let (id, kind) = (entry.id, entry.kind);
                let data = serde_json::to_string(entry).expect("an entry serializes");
                self.cursor = id;
                self.backlog.extend(page.into_iter().skip(1));
                return Some(event(id, kind, &data));
            }
        }
        loop {
            tokio::select! {
                biased;
                _ = self.closing.changed() => return None,
                _ = self.check.tick() => {
                    if !self.still_allowed().await {
                        return None;
                    }
                }
                received = self.live.recv() => match received {
                    Ok(delivery) => {
                        if delivery.id <= self.cursor
                            || self.project_id.is_some_and(|p| p != delivery.project_id)
                        {
                            continue;
                        }
                        if !delivery.reaches(self.user_id) {
                            if self.project_id.is_some() {
                                // No longer a member of the one project it follows.
                                return None;
                            }
                            continue;
                        }
                        if delivery.removed == Some(self.user_id) && self.project_id.is_some() {
                            // Their own removal is the last entry of that project they get.
                            self.ended = true;
                        }
                        self.cursor = delivery.id;
                        return Some(event(delivery.id, delivery.kind, &delivery.data));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // A slow reader is dropped rather than buffered without bound.
                        metrics::counter!("docket_events_lagged_total").increment(1);
                        return None;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Whether the credentials still authenticate an enabled user (a logout, a revoked or
    /// expired token, a disabled account end the stream). A database that is away does not.
    async fn still_allowed(&self) -> bool {
        match self.credentials.authenticate(&self.auth).await {
            Ok(principal) => principal.id() == self.user_id,
            Err(error) => !(error.status.is_client_error()),
        }
    }
}

fn event(id: i64, kind: activity::Kind, data: &str) -> Event {
    Event::default()
        .id(id.to_string())
        .event(kind.as_str())
        .data(data)
}
