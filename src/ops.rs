//! Operations endpoints: liveness, readiness, metrics, and the API documents.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::disk::DiskSpace;
use crate::db::Db;
use crate::error::ApiError;

/// What `/metrics` needs: the recorder's handle, the token that guards it, and the pool's size.
#[derive(Clone)]
pub struct MetricsExporter {
    pub handle: metrics_exporter_prometheus::PrometheusHandle,
    pub token: Option<std::sync::Arc<secrecy::SecretString>>,
    pub db_max_connections: u32,
}

/// Liveness: answers while the process serves, without touching the database.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is serving")))]
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// Readiness: the database answers and its migrations are current. With the embedded
/// database the body also says how much room its disk has left, and whether writes are
/// refused for lack of it (the server is still ready: reads go on).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready to serve: `{\"status\":\"ready\"}`, and with \
            the embedded database `disk`: `free_bytes`, `min_free_bytes` and `writes` \
            (`accepted`, or `refused` below the minimum)"),
        (status = 503, description = "Not ready", body = crate::error::Problem,
            content_type = "application/problem+json")))]
pub async fn readyz(
    State(db): State<Db>,
    State(disk): State<DiskSpace>,
) -> Result<Response, ApiError> {
    if db.is_migrated() && crate::db::migrations::is_ready(&db).await {
        let mut body = json!({"status": "ready"});
        if let Some(free) = disk.free_bytes() {
            body["disk"] = json!({
                "free_bytes": free,
                "min_free_bytes": disk.min_free_bytes(),
                "writes": if disk.refuses_writes() { "refused" } else { "accepted" },
            });
        }
        Ok(Json(body).into_response())
    } else {
        Err(ApiError::unavailable(
            "the database is unreachable or its migrations are not current",
        ))
    }
}

/// Prometheus metrics. With `DOCKET_METRICS_TOKEN` set, only for `Authorization: Bearer
/// <that token>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain",
            body = String),
        (status = 401, description = "DOCKET_METRICS_TOKEN is set and the request does not carry it",
            body = crate::error::Problem, content_type = "application/problem+json")),
    security((), ("metrics_token" = [])))]
pub async fn metrics(
    State(exporter): State<MetricsExporter>,
    State(db): State<Db>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = &exporter.token {
        if !bearer_matches(&headers, token.expose_secret()) {
            return ApiError::unauthenticated(
                crate::error::ErrorCode::Unauthenticated,
                "/metrics needs the metrics token as a bearer token",
            )
            .bearer()
            .into_response();
        }
    }
    let status = db.status();
    let size = status.size as f64;
    let idle = status.available as f64;
    metrics::gauge!("docket_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("docket_db_pool_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("docket_db_pool_max_connections").set(exporter.db_max_connections as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exporter.handle.render(),
    )
        .into_response()
}

/// Whether the request's bearer token is `expected`, compared in constant time (over digests,
/// so that not even the length leaks).
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(sent) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    let sent = Sha256::digest(sent.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    sent.ct_eq(&expected).into()
}
