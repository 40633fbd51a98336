//! `Idempotency-Key` on creating POSTs, kept in PostgreSQL so that a retry reaching another
//! instance, or arriving after a restart, still creates nothing twice.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::auth::state::AuthState;
use crate::db::backoff::Backoff;
use crate::db::{Db, DbError};
use crate::error::{ApiError, ErrorCode};

pub const HEADER: &str = "idempotency-key";

/// The creating POSTs that honour the header: those whose operation declares it (in its
/// `#[utoipa::path]`). The composition root reads them from the document it assembles. A
/// route whose body is a raw file (`application/octet-stream`: uploads) is *streamed*: its body
/// is never buffered here (see `run_streamed`).
#[derive(Clone, Default)]
pub struct CreatingRoutes {
    routes: std::sync::Arc<[CreatingRoute]>,
    /// The most a streamed body may be read here (a replay's body, to compare its digest).
    stream_limit: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct CreatingRoute {
    path: String,
    streamed: bool,
}

impl CreatingRoutes {
    pub fn from_document(doc: &utoipa::openapi::OpenApi) -> Self {
        use utoipa::openapi::path::ParameterIn;
        let routes = doc
            .paths
            .paths
            .iter()
            .filter_map(|(path, item)| {
                let operation = item.post.as_ref()?;
                let declares = operation.parameters.iter().flatten().any(|parameter| {
                    parameter.parameter_in == ParameterIn::Header
                        && parameter.name.eq_ignore_ascii_case(HEADER)
                });
                let streamed = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/octet-stream"));
                declares.then(|| CreatingRoute {
                    path: path.clone(),
                    streamed,
                })
            })
            .collect();
        Self {
            routes,
            stream_limit: 0,
        }
    }

    /// The largest streamed body (the attachment limit).
    pub fn with_stream_limit(mut self, limit: u64) -> Self {
        self.stream_limit = limit;
        self
    }

    fn find(&self, route: &str) -> Option<&CreatingRoute> {
        self.routes.iter().find(|r| r.path == route)
    }

    pub fn paths(&self) -> Vec<String> {
        self.routes.iter().map(|r| r.path.clone()).collect()
    }

    /// The creating routes whose bodies are streamed.
    pub fn streamed_paths(&self) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.streamed)
            .map(|r| r.path.clone())
            .collect()
    }
}

/// The SHA-256 of a body a handler read as a stream (an upload), which it puts into its
/// response's extensions: the fingerprint of a streamed request is its method, path, query
/// and this digest (API.md §20), known only once the handler has read the body.
#[derive(Clone, Copy, Debug)]
pub struct BodyDigest(pub [u8; 32]);

/// A first request still running after this long is taken to have died with its instance.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// The same for a streamed request, which may take minutes (an upload's own limit is 5).
const STREAMED_ABANDONED_AFTER: Duration = Duration::from_secs(600);

/// Response headers worth replaying.
const KEPT_HEADERS: &[&str] = &["content-type", "location", "etag"];

fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Replays the stored answer of a creating POST sent again with the same key (a layer of the
/// API routes, put there by the composition root).
pub async fn replay_or_run(
    state: AuthState,
    routes: &CreatingRoutes,
    request: Request,
    next: Next,
) -> Response {
    let route = (request.method() == Method::POST)
        .then(|| request.extensions().get::<MatchedPath>())
        .flatten()
        .and_then(|p| routes.find(p.as_str()));
    let Some(route) = route else {
        return next.run(request).await;
    };
    let Some(key) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    let outcome = if route.streamed {
        run_streamed(state, key, routes.stream_limit, request, next).await
    } else {
        run(state, key, request, next).await
    };
    match outcome {
        Ok(response) | Err(response) => response,
    }
}

fn valid_header(key: &HeaderValue) -> Result<String, ApiError> {
    key.to_str()
        .ok()
        .filter(|k| valid_key(k))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidHeader,
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            )
        })
}

/// The fingerprint of a streamed request: method, path, query and the SHA-256 of its body.
fn streamed_fingerprint(method: &Method, uri: &axum::http::Uri, body_sha256: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str());
    hasher.update([0]);
    hasher.update(uri.path());
    hasher.update([0]);
    hasher.update(uri.query().unwrap_or(""));
    hasher.update([0]);
    hasher.update(body_sha256);
    hasher.finalize().to_vec()
}

/// Reads a replayed upload's body only to hash it (at most `limit` bytes: a longer one is
/// not the body the key was first used with).
async fn body_sha256(body: Body, limit: u64) -> Result<[u8; 32], Response> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request(ErrorCode::IncompleteBody, "the body was broken off")
                .into_response()
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
                    .detail(format!(
                        "the body is larger than the limit of {limit} bytes"
                    ))
                    .into_response(),
            );
        }
        hasher.update(&chunk);
    }
    Ok(hasher.finalize().into())
}

/// `Idempotency-Key` on a route whose body is a stream (an upload): the body is never held
/// here. A first request claims the key and runs; its fingerprint is completed from the
/// digest the handler reports (`BodyDigest`) when its answer is saved. A repeat of a finished
/// request has its body hashed as it is read, then replayed or refused (422); a repeat while
/// the first runs is 409 without reading the body.
async fn run_streamed(
    state: AuthState,
    key: HeaderValue,
    limit: u64,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let key = valid_header(&key).map_err(IntoResponse::into_response)?;
    let (mut parts, body) = request.into_parts();
    let principal = Principal::from_request_parts(&mut parts, &state)
        .await
        .map_err(IntoResponse::into_response)?;
    let db = &state.db;
    let fail = |e: DbError| ApiError::from(e).into_response();
    // Until the digest is known the key holds the fingerprint of an empty body.
    let (method, uri) = (parts.method.clone(), parts.uri.clone());
    let pending = streamed_fingerprint(&method, &uri, &[]);
    let claim = loop {
        if let Some(at) = store::claim(db, principal.id(), &key, &pending)
            .await
            .map_err(fail)?
        {
            break Claim {
                db: db.clone(),
                principal: principal.id(),
                key: key.clone(),
                at,
                settled: false,
            };
        }
        let stored = store::find(db, principal.id(), &key, STREAMED_ABANDONED_AFTER)
            .await
            .map_err(fail)?;
        let Some(stored) = stored else {
            continue;
        };
        if stored.expired || stored.abandoned {
            forget(&state, &principal, &key).await;
            continue;
        }
        let Some(status) = stored.status else {
            return Err(in_flight());
        };
        let digest = body_sha256(body, limit).await?;
        if stored.request_hash != streamed_fingerprint(&method, &uri, &digest) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
            )
            .detail("this Idempotency-Key was used with a different request")
            .into_response());
        }
        return Ok(replay(
            status,
            stored.headers,
            stored.body.unwrap_or_default(),
        ));
    };
    let request = Request::from_parts(parts, body);
    answer_with_effect(claim, request, next, Some((method, uri))).await
}

async fn run(
    state: AuthState,
    key: HeaderValue,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let key = valid_header(&key).map_err(IntoResponse::into_response)?;
    let (mut parts, body) = request.into_parts();
    let principal = Principal::from_request_parts(&mut parts, &state)
        .await
        .map_err(IntoResponse::into_response)?;
    let bytes = to_bytes(body, crate::http::BODY_LIMIT_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
                .detail("the body is larger than the limit of 256 KiB")
                .into_response()
        })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    // The same JSON with other whitespace is the same request.
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => hasher.update(value.to_string().as_bytes()),
        Err(_) => hasher.update(&bytes),
    }
    let request_hash = hasher.finalize().to_vec();
    let claim = match claim(&state, &principal, &key, &request_hash).await? {
        Claimed::Ours(claim) => claim,
        Claimed::Answered(earlier) => return Ok(earlier),
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    answer_with_effect(claim, request, next, None).await
}

enum Claimed {
    Ours(Claim),
    /// The key's earlier use answers: its stored response.
    Answered(Response),
}

/// Claims the key for this request, or answers as the key's earlier use says: its stored
/// response, 422 for another body, 409 while it still runs.
async fn claim(
    state: &AuthState,
    principal: &Principal,
    key: &str,
    request_hash: &[u8],
) -> Result<Claimed, Response> {
    let db = &state.db;
    let fail = |e: DbError| ApiError::from(e).into_response();
    loop {
        if let Some(at) = store::claim(db, principal.id(), key, request_hash)
            .await
            .map_err(fail)?
        {
            return Ok(Claimed::Ours(Claim {
                db: db.clone(),
                principal: principal.id(),
                key: key.to_owned(),
                at,
                settled: false,
            }));
        }
        let stored = store::find(db, principal.id(), key, ABANDONED_AFTER)
            .await
            .map_err(fail)?;
        let Some(stored) = stored else {
            continue;
        };
        if stored.expired || stored.abandoned {
            forget(state, principal, key).await;
            continue;
        }
        if stored.request_hash != request_hash {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
            )
            .detail("this Idempotency-Key was used with a different request")
            .into_response());
        }
        let Some(status) = stored.status else {
            return Err(in_flight());
        };
        return Ok(Claimed::Answered(replay(
            status,
            stored.headers,
            stored.body.unwrap_or_default(),
        )));
    }
}

fn in_flight() -> Response {
    ApiError::conflict(
        ErrorCode::IdempotencyInFlight,
        "a request with this Idempotency-Key is still being processed",
    )
    .into_response()
}

/// This request's hold on its key, named by when it was made: a key let go and claimed again
/// is another claim, which this one's release and answer leave alone. Dropped unsettled (the
/// request failed, its answer could not be stored, or it was cancelled: by the handler
/// deadline, a panic, a client that went away) it is let go, so that a retry runs at once
/// rather than being told "in flight" until the claim is taken for abandoned.
struct Claim {
    db: Db,
    principal: Uuid,
    key: String,
    at: DateTime<Utc>,
    /// Answered, or no longer ours: nothing to let go.
    settled: bool,
}

impl Claim {
    /// Lets go of the claim now; when the database cannot say so, the drop lets go in the
    /// background.
    async fn let_go(mut self) {
        let forgotten =
            store::forget_unanswered(&self.db, self.principal, &self.key, self.at).await;
        self.settled = forgotten.is_ok();
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            release(
                self.db.clone(),
                self.principal,
                std::mem::take(&mut self.key),
                self.at,
            );
        }
    }
}

/// Runs the claimed request and stores its answer in the handler's own transaction, held open
/// for it: the effect and the answer that replays it commit together or not at all. (Stored
/// after a commit of their own, a crash between the two left an effect without an answer, and
/// the retry that took over the claim made it a second time.)
/// A streamed request (`streamed`: its method and URI) is fingerprinted here, from the digest
/// its handler reports.
async fn answer_with_effect(
    mut claim: Claim,
    request: Request,
    next: Next,
    streamed: Option<(Method, axum::http::Uri)>,
) -> Result<Response, Response> {
    let (response, held) = crate::db::with_commit_held(next.run(request)).await;
    if !response.status().is_success() {
        // Failures are not remembered: the client may fix the request and retry the same key,
        // and the claim is let go for it before the answer leaves (a retry sent at once finds
        // the key free). So what the handler committed before it failed is rolled back
        // (`held` dropped): kept, the retry would make it again.
        drop(held);
        claim.let_go().await;
        return Ok(response);
    }
    let request_hash = streamed.map(|(method, uri)| {
        let digest = response.extensions().get::<BodyDigest>().map(|d| d.0);
        streamed_fingerprint(&method, &uri, &digest.unwrap_or_default())
    });
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let headers: Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = parts.headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), Value::String(value.to_owned())))
        })
        .collect();
    let answer = store::Answer {
        status: parts.status.as_u16() as i16,
        headers: Value::Object(headers),
        body: &body,
        request_hash: request_hash.as_deref(),
    };
    let Some(tx) = held else {
        // A handler without a transaction: its answer is stored on its own.
        claim.settled = true;
        let saved = store::save(&claim.db, claim.principal, &claim.key, claim.at, answer);
        match saved.await {
            Ok(true) => {}
            Ok(false) => tracing::error!("an idempotency claim was taken over before its answer"),
            Err(error) => tracing::error!(error = %error, "could not save an idempotent response"),
        }
        return Ok(Response::from_parts(parts, Body::from(body)));
    };
    // On every error below, the transaction rolls back when dropped: nothing of this request
    // is kept, and the claim is let go.
    let saved = store::save(&tx, claim.principal, &claim.key, claim.at, answer);
    if !saved.await.map_err(|e| ApiError::from(e).into_response())? {
        // Taken for abandoned and claimed by a retry meanwhile: that retry answers for the
        // key, so this request's effect must not commit beside it.
        claim.settled = true;
        return Err(in_flight());
    }
    // If the commit fails but did happen, the stored answer is there and a retry gets it (the
    // release removes only an unanswered claim).
    tx.commit_now()
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    claim.settled = true;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Lets go of an unanswered claim so that a retry runs again. With the database down, tries
/// again in the background (with backoff, for as long as the claim would otherwise block
/// retries), so that a client retrying after an outage is not told "in flight" for a minute.
fn release(db: Db, principal: Uuid, key: String, claimed_at: DateTime<Utc>) {
    // A claim dropped while the runtime shuts down stays until it is taken for abandoned.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let started = std::time::Instant::now();
        let mut backoff = Backoff::new("idempotency release");
        loop {
            match store::forget_unanswered(&db, principal, &key, claimed_at).await {
                Ok(()) => return backoff.succeeded(),
                Err(error) if error.is_unavailable() && started.elapsed() < ABANDONED_AFTER => {
                    let wait = backoff.failed(&error, true);
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    tracing::debug!(error = %error, "an idempotency claim stays until abandoned");
                    return;
                }
            }
        }
    });
}

async fn forget(state: &AuthState, principal: &Principal, key: &str) {
    let _ = store::forget(&state.db, principal.id(), key).await;
}

fn replay(status: i16, headers: Option<Value>, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    let mut map = HeaderMap::new();
    if let Some(Value::Object(stored)) = headers {
        for (name, value) in stored {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(name.as_str()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                map.insert(name, value);
            }
        }
    }
    map.insert("idempotency-replayed", HeaderValue::from_static("true"));
    response.headers_mut().extend(map);
    response
}

/// The SQL of `idempotency_keys` (this module owns the table).
pub mod store {
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use serde_json::Value;
    use uuid::Uuid;

    use crate::db::{get, DbResult, Exec, FromRow, Row};
    use crate::params;

    /// Claims the key for a first request: when the claim was made (which names it), or
    /// `None` when the key is already there.
    pub async fn claim(
        db: &impl Exec,
        principal: Uuid,
        key: &str,
        request_hash: &[u8],
    ) -> DbResult<Option<DateTime<Utc>>> {
        let row = db
            .query_opt(
                "INSERT INTO idempotency_keys (principal_id, key, request_hash) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING created_at",
                params![principal, key, request_hash],
            )
            .await?;
        row.map(|row| get(&row, "created_at")).transpose()
    }

    /// A stored key: the request it was first used with and, once that finished, its response.
    pub struct Stored {
        pub request_hash: Vec<u8>,
        pub status: Option<i16>,
        pub headers: Option<Value>,
        pub body: Option<Vec<u8>>,
        /// Older than a day: as good as gone.
        pub expired: bool,
        /// Unfinished for longer than `abandoned_after`.
        pub abandoned: bool,
    }

    impl FromRow for Stored {
        fn from_row(row: &Row) -> DbResult<Self> {
            Ok(Self {
                request_hash: get(row, "request_hash")?,
                status: get(row, "status")?,
                headers: get(row, "headers")?,
                body: get(row, "body")?,
                expired: get(row, "expired")?,
                abandoned: get(row, "abandoned")?,
            })
        }
    }

    pub async fn find(
        db: &impl Exec,
        principal: Uuid,
        key: &str,
        abandoned_after: Duration,
    ) -> DbResult<Option<Stored>> {
        db.fetch_opt(
            "SELECT request_hash, status, headers, body, \
                    created_at < now() - interval '24 hours' AS expired, \
                    status IS NULL AND created_at < now() - make_interval(secs => $3) AS abandoned \
             FROM idempotency_keys WHERE principal_id = $1 AND key = $2",
            params![principal, key, abandoned_after.as_secs_f64()],
        )
        .await
    }

    /// The response of a first request, as it is stored.
    pub struct Answer<'a> {
        pub status: i16,
        pub headers: Value,
        pub body: &'a [u8],
        /// The request's fingerprint when it was known only at the end (a streamed body).
        pub request_hash: Option<&'a [u8]>,
    }

    /// Stores the response of the first request in its claim; false when that claim is gone
    /// (taken for abandoned, and perhaps claimed again by a retry): nothing is stored then.
    pub async fn save(
        db: &impl Exec,
        principal: Uuid,
        key: &str,
        claimed_at: DateTime<Utc>,
        answer: Answer<'_>,
    ) -> DbResult<bool> {
        let updated = db
            .execute(
                "UPDATE idempotency_keys SET status = $4, headers = $5, body = $6, \
                     request_hash = coalesce($7, request_hash) \
                 WHERE principal_id = $1 AND key = $2 AND created_at = $3 AND status IS NULL",
                params![
                    principal,
                    key,
                    claimed_at,
                    answer.status,
                    answer.headers,
                    answer.body,
                    answer.request_hash
                ],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Deletes the rows past their use (maintenance).
    pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
        db.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'",
            params![],
        )
        .await?;
        Ok(())
    }

    /// Deletes a claim whose request did not finish; an answered one stays, and so does a
    /// later claim of the same key.
    pub async fn forget_unanswered(
        db: &impl Exec,
        principal: Uuid,
        key: &str,
        claimed_at: DateTime<Utc>,
    ) -> DbResult<()> {
        db.execute(
            "DELETE FROM idempotency_keys \
             WHERE principal_id = $1 AND key = $2 AND created_at = $3 AND status IS NULL",
            params![principal, key, claimed_at],
        )
        .await?;
        Ok(())
    }

    /// Deletes every claim whose request did not finish (at the start of the only instance
    /// of a database: their requests died with the previous process). Returns how many.
    pub async fn forget_all_unanswered(db: &impl Exec) -> DbResult<u64> {
        db.execute(
            "DELETE FROM idempotency_keys WHERE status IS NULL",
            params![],
        )
        .await
    }

    /// Deletes a key whatever it holds (an expired or abandoned one, before it is claimed
    /// again).
    pub async fn forget(db: &impl Exec, principal: Uuid, key: &str) -> DbResult<()> {
        db.execute(
            "DELETE FROM idempotency_keys WHERE principal_id = $1 AND key = $2",
            params![principal, key],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii() {
        assert!(valid_key("abc-123 XYZ"));
        assert!(!valid_key(""));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key("caf\u{e9}"));
        assert!(!valid_key("tab\there"));
    }
}
