//! GitHub issues import and sync: the link endpoints, the sync job, the resilient outbound
//! client it uses, and encryption of the tokens it keeps.

pub mod client;
pub mod links;
pub mod secrets;
pub mod store;
pub mod sync;

use axum::routing::{post, put};
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/projects/{id}/github",
            put(links::put_link)
                .get(links::get_link)
                .delete(links::delete_link),
        )
        .route("/api/v1/projects/{id}/github/sync", post(links::sync_link))
}
