//! The router: the route list under the shared middleware.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use super::state::AppState;
use super::{openapi, routes};
use crate::error::ApiError;
use crate::http::middleware;

/// The server's routes plus `extra` ones (tests add a panicking and a slow route), under the
/// shared middleware.
pub fn with_layers(extra: Router<AppState>, state: AppState) -> Router {
    let (api, _) = routes::api().split_for_parts();
    let (ops, _) = routes::ops().split_for_parts();
    let api = api
        .merge(extra)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api_gate,
        ));

    Router::new()
        .merge(ops)
        .merge(openapi::routes(openapi::document_json()))
        .merge(api)
        .merge(crate::web::routes())
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::http::BODY_LIMIT_BYTES,
        ))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.deadline,
            middleware::request_context,
        ))
        .layer(crate::http::compression::layer())
        .with_state(state)
}

/// The gate of the API routes: 503 until migrations have been applied (the database may still
/// be down at start-up); 507 for a write while the embedded database's disk is nearly full;
/// then the `Idempotency-Key` replay of creating POSTs. One layer rather than several: each
/// `from_fn` layer costs a few allocations per request.
async fn api_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.db.is_migrated() {
        return ApiError::unavailable("the server is starting; the database is not ready yet")
            .into_response();
    }
    if state.disk.refuses_writes() && is_refused_when_disk_is_low(&request) {
        return ApiError::insufficient_storage().into_response();
    }
    crate::idempotency::replay_or_run(state.auth, &state.creating_routes, request, next).await
}

/// Writes, except signing in and out: reads and deletes go on while the disk is nearly full,
/// so that people can see their work and make room.
fn is_refused_when_disk_is_low(request: &Request) -> bool {
    matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    ) && !request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| routes::KEPT_WHEN_DISK_IS_LOW.contains(&path.as_str()))
}
