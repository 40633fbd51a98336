//! Cross-cutting request handling: request ids, problem documents, the access log, metrics,
//! and the handler deadline.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode, ProblemParts};
use crate::http::rate_limit::RateLimitStatus;

pub const REQUEST_ID: &str = "x-request-id";

/// How long a handler may run before the request gets 503 (API.md §9 "Connections").
#[derive(Debug, Clone, Copy)]
pub struct HandlerDeadline(pub Duration);

/// Facts about the request that code deeper down adds for the access log, and the handler's
/// deadline, which a handler streaming a long body may move (`still_receiving`).
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    shared: Arc<Shared>,
}

/// One allocation per request for all of it.
#[derive(Debug)]
struct Shared {
    facts: Mutex<Facts>,
    started: Instant,
    limit: Duration,
    /// Milliseconds after `started` at which the handler's time ends, once it was extended.
    extended_until_ms: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Facts {
    user_id: Option<Uuid>,
    rate_limit: Option<RateLimitStatus>,
}

impl RequestContext {
    pub fn set_user(&self, user_id: Uuid) {
        self.shared.facts.lock().expect("not poisoned").user_id = Some(user_id);
    }

    pub fn set_rate_limit(&self, status: RateLimitStatus) {
        self.shared.facts.lock().expect("not poisoned").rate_limit = Some(status);
    }

    /// A handler reading a large body (an upload) calls this as bytes arrive: the handler
    /// deadline then counts from the latest progress instead of from the start, so a slow but
    /// steady client is not cut off at 30 s while a stalled one still is. The handler bounds
    /// its own total time.
    pub fn still_receiving(&self) {
        let until = self.shared.started.elapsed() + self.shared.limit;
        self.shared
            .extended_until_ms
            .store(until.as_millis() as u64, Ordering::Relaxed);
    }

    fn deadline(&self) -> Duration {
        let extended = Duration::from_millis(self.shared.extended_until_ms.load(Ordering::Relaxed));
        extended.max(self.shared.limit)
    }
}

fn valid_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The outermost layer: gives the request an id (a task-local its log lines carry), bounds the
/// handler's time, turns every 4xx/5xx into a problem document, adds the security headers, and
/// writes one log line. One layer rather than several: each `from_fn` layer costs a few
/// allocations per request.
pub async fn request_context(
    State(deadline): State<HandlerDeadline>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id: Arc<str> = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(crate::telemetry::new_request_id()));
    let context = RequestContext {
        request_id: request_id.clone(),
        shared: Arc::new(Shared {
            facts: Mutex::new(Facts::default()),
            started,
            limit: deadline.0,
            extended_until_ms: AtomicU64::new(0),
        }),
    };
    request.extensions_mut().insert(context.clone());
    let method = request.method().clone();
    // Both are reference-counted: no copy of the path or the route per request.
    let uri = request.uri().clone();
    let path = uri.path();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);

    // The id reaches the handlers' log lines through a task-local, not a span (see
    // `telemetry::event_format`).
    let mut response = crate::telemetry::event_format::REQUEST_ID
        .scope(
            request_id.clone(),
            within_deadline(started, &context, next.run(request)),
        )
        .await;

    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        response = render_problem(response, path, &request_id);
    }
    // The headers below, added at once rather than by growing the map three times.
    response.headers_mut().reserve(8);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    // API.md: bodies are `application/json; charset=utf-8` (axum's Json omits the charset).
    if response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/json")
    {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }

    let latency = started.elapsed();
    let facts = *context.shared.facts.lock().expect("not poisoned");
    let user_id = facts.user_id;
    if let Some(rate) = facts.rate_limit {
        rate.write_headers(response.headers_mut());
    }
    crate::http::security_headers::apply(response.headers_mut(), &method, path, user_id.is_some());
    if crate::http::compression::may_compress(
        &method,
        crate::http::security_headers::carries_credential(&method, path),
    ) {
        response
            .extensions_mut()
            .insert(crate::http::compression::Compressible);
    }
    crate::telemetry::access_log(&crate::telemetry::AccessLine {
        request_id: &request_id,
        method: method.as_str(),
        route,
        status: status.as_u16(),
        latency,
        user_id,
    });
    crate::telemetry::record_request(
        crate::telemetry::method_label(&method),
        route,
        status.as_u16(),
        latency,
    );
    response
}

/// A handler that runs longer than the limit is abandoned with 503 `unavailable` (API.md §9),
/// so that a slow dependency cannot pin connections and memory indefinitely. A handler that
/// extended its deadline (`RequestContext::still_receiving`) gets the extension.
async fn within_deadline(
    started: Instant,
    context: &RequestContext,
    handler: impl Future<Output = Response>,
) -> Response {
    tokio::pin!(handler);
    loop {
        let deadline = context.deadline();
        let at = tokio::time::Instant::from_std(started + deadline);
        match tokio::time::timeout_at(at, &mut handler).await {
            Ok(response) => return response,
            Err(_) if context.deadline() > deadline => continue,
            Err(_) => {
                let limit = context.shared.limit;
                tracing::warn!(limit_ms = limit.as_millis() as u64, "handler ran too long");
                return ApiError::unavailable(format!(
                    "the request took longer than {} s; try again later",
                    limit.as_secs_f64()
                ))
                .into_response();
            }
        }
    }
}

/// Writes the problem body: from our `ApiError` parts when present, otherwise (axum's own
/// rejections, 404 and 405 from routing) from the status alone.
fn render_problem(response: Response, path: &str, request_id: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Response::from_parts(parts, body);
    }
    let status = parts.status;
    let problem = parts
        .extensions
        .remove::<ProblemParts>()
        .unwrap_or_else(|| ProblemParts {
            code: code_for_status(status),
            detail: None,
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
        });
    let mut document = json!({
        "type": format!("/problems/{}", problem.code),
        "title": problem.code.title(),
        "status": status.as_u16(),
        "instance": path,
        "code": problem.code,
        "request_id": request_id,
    });
    if let Some(detail) = problem.detail {
        document["detail"] = json!(detail);
    }
    for (name, value) in problem.extensions {
        let object = document.as_object_mut().expect("an object");
        // The standard members stay what they are.
        object.entry(name).or_insert(value);
    }
    if !problem.errors.is_empty() {
        // Bounded answers (API.md §9): `detail` gives the total.
        let shown = &problem.errors[..problem.errors.len().min(crate::error::MAX_FIELD_ERRORS)];
        document["errors"] = json!(shown);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE && !parts.headers.contains_key(header::RETRY_AFTER)
    {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(document.to_string()))
}

fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        400 => ErrorCode::InvalidQuery,
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        412 => ErrorCode::PreconditionFailed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        416 => ErrorCode::RangeNotSatisfiable,
        422 => ErrorCode::ValidationFailed,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::Unavailable,
        507 => ErrorCode::InsufficientStorage,
        _ => ErrorCode::Internal,
    }
}

/// A panic in a handler: a 500 that says nothing, and the process keeps serving.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked() {
        assert!(valid_request_id("abc-DEF_1.2"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id(&"a".repeat(65)));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id("a\u{e9}"));
    }
}
