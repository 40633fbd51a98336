//! Tasks: the domain types, their SQL, the endpoints, and the filtered, keyset-paginated lists.

pub mod domain;
pub mod handlers;
pub mod list;
pub mod moves;
pub mod store;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/projects/{id}/tasks",
            get(list::list_project_tasks).post(handlers::create_task),
        )
        .route("/api/v1/tasks", get(list::list_my_tasks))
        .route(
            "/api/v1/tasks/{id}",
            get(handlers::get_task)
                .patch(handlers::update_task)
                .delete(handlers::delete_task),
        )
        .route("/api/v1/tasks/{id}/move", post(moves::move_task))
}
