//! The HTTP layer: one router built by one function, plus the middleware and extractors that
//! every route shares.

pub mod extract;
pub mod idempotency;
pub mod middleware;
pub mod preconditions;
pub mod rate_limit;
pub mod routes;
pub mod security_headers;
pub mod server;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;

pub const BODY_LIMIT_BYTES: usize = 256 * 1024;

/// Every route of the server (the list is `routes`).
pub fn router(state: AppState) -> Router {
    with_layers(Router::new(), state)
}

/// The server's routes plus `extra` ones (tests add a panicking and a slow route), under the
/// shared middleware.
pub fn with_layers(extra: Router<AppState>, state: AppState) -> Router {
    let (api, _) = routes::api().split_for_parts();
    let (ops, _) = routes::ops().split_for_parts();
    let api = api
        .merge(extra)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::api_gate,
        ));

    Router::new()
        .merge(ops)
        .merge(routes::undocumented(crate::openapi::document_json()))
        .merge(api)
        .merge(crate::web::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request_context,
        ))
        .with_state(state)
}
