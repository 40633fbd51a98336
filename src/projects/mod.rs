//! Projects and their members, and the authorization rule every project-scoped endpoint uses.

pub mod access;
pub mod handlers;
pub mod members;
pub mod store;

use axum::routing::{get, put};
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/projects",
            get(handlers::list_projects).post(handlers::create_project),
        )
        .route(
            "/api/v1/projects/{id}",
            get(handlers::get_project)
                .patch(handlers::update_project)
                .delete(handlers::delete_project),
        )
        .route(
            "/api/v1/projects/{id}/members",
            get(members::list_members).post(members::add_member),
        )
        .route(
            "/api/v1/projects/{id}/members/{user_id}",
            put(members::put_member).delete(members::remove_member),
        )
}
