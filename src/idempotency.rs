//! `Idempotency-Key` on creating POSTs, kept in PostgreSQL so that a retry reaching another
//! instance, or arriving after a restart, still creates nothing twice.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::principal::Principal;
use crate::auth::state::AuthState;
use crate::db::DbError;
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
/// digest the handler reports (`BodyDigest`) when the response is saved. A repeat of a
/// finished request has its body hashed as it is read, then replayed or refused (422); a
/// repeat while the first runs is 409 without reading the body.
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
    loop {
        if store::claim(db, principal.id(), &key, &pending)
            .await
            .map_err(fail)?
        {
            break;
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
            return Err(ApiError::conflict(
                ErrorCode::IdempotencyInFlight,
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response());
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
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    let digest = response.extensions().get::<BodyDigest>().copied();
    let (Some(digest), true) = (digest, response.status().is_success()) else {
        forget(&state, &principal, &key).await;
        return Ok(response);
    };
    let request_hash = streamed_fingerprint(&method, &uri, &digest.0);
    Ok(remember(&state, &principal, &key, Some(&request_hash), response).await)
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
    let db = &state.db;
    let fail = |e: DbError| ApiError::from(e).into_response();

    loop {
        if store::claim(db, principal.id(), &key, &request_hash)
            .await
            .map_err(fail)?
        {
            break;
        }
        let stored = store::find(db, principal.id(), &key, ABANDONED_AFTER)
            .await
            .map_err(fail)?;
        let Some(stored) = stored else {
            continue;
        };
        if stored.expired || stored.abandoned {
            forget(&state, &principal, &key).await;
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
            return Err(ApiError::conflict(
                ErrorCode::IdempotencyInFlight,
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response());
        };
        return Ok(replay(
            status,
            stored.headers,
            stored.body.unwrap_or_default(),
        ));
    }

    let request = Request::from_parts(parts, Body::from(bytes));
    let response = next.run(request).await;
    if !response.status().is_success() {
        // Failures are not remembered: the client may fix the request and retry the same key.
        forget(&state, &principal, &key).await;
        return Ok(response);
    }
    Ok(remember(&state, &principal, &key, None, response).await)
}

/// Saves a successful first response under the key (with the request's fingerprint when it
/// was known only now) and returns it.
async fn remember(
    state: &AuthState,
    principal: &Principal,
    key: &str,
    request_hash: Option<&[u8]>,
    response: Response,
) -> Response {
    let db = &state.db;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let headers: Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = parts.headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), Value::String(value.to_owned())))
        })
        .collect();
    let saved = store::save(
        db,
        principal.id(),
        key,
        request_hash,
        parts.status.as_u16() as i16,
        Value::Object(headers),
        &body,
    )
    .await;
    if let Err(error) = saved {
        tracing::error!(error = %error, "could not save an idempotent response");
    }
    Response::from_parts(parts, Body::from(body))
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

    use serde_json::Value;
    use uuid::Uuid;

    use crate::db::{get, DbResult, Exec, FromRow, Row};
    use crate::params;

    /// Claims the key for a first request; false when it is already there.
    pub async fn claim(
        db: &impl Exec,
        principal: Uuid,
        key: &str,
        request_hash: &[u8],
    ) -> DbResult<bool> {
        let row = db
            .query_opt(
                "INSERT INTO idempotency_keys (principal_id, key, request_hash) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1 AS claimed",
                params![principal, key, request_hash],
            )
            .await?;
        Ok(row.is_some())
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

    /// Stores the response of the first request, and its fingerprint when that was known
    /// only at the end (a streamed body).
    #[allow(clippy::too_many_arguments)]
    pub async fn save(
        db: &impl Exec,
        principal: Uuid,
        key: &str,
        request_hash: Option<&[u8]>,
        status: i16,
        headers: Value,
        body: &[u8],
    ) -> DbResult<()> {
        db.execute(
            "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5, \
                 request_hash = coalesce($6, request_hash) \
             WHERE principal_id = $1 AND key = $2",
            params![principal, key, status, headers, body, request_hash],
        )
        .await?;
        Ok(())
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
