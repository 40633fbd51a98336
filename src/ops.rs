//! Operations endpoints: liveness, readiness, metrics, and the API documents.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;

/// Liveness: answers while the process serves, without touching the database.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is serving")))]
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// Readiness: the database answers and its migrations are current.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready to serve"),
        (status = 503, description = "Not ready", body = crate::openapi::Problem,
            content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.is_migrated() && crate::db::is_ready(&state.db).await {
        Ok(Json(json!({"status": "ready"})).into_response())
    } else {
        Err(ApiError::unavailable(
            "the database is unreachable or its migrations are not current",
        ))
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let status = state.db.status();
    let size = status.size as f64;
    let idle = status.available as f64;
    metrics::gauge!("docket_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("docket_db_pool_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("docket_db_pool_max_connections").set(state.config.db_max_connections as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
