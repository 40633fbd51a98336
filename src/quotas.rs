//! Quotas (API.md §9): how much one user or project may hold. Past a creation quota the request
//! is 422 `quota_exceeded` with the limit in `detail`; past a live-credential cap the least
//! recently used credential ends instead, so that a user is never locked out by their own old
//! logins.

use crate::error::ApiError;

pub const PROJECTS_PER_USER: i64 = 1_000;
pub const TASKS_PER_PROJECT: i64 = 100_000;
pub const API_TOKENS_PER_USER: i64 = 50;
pub const COMMENTS_PER_TASK: i64 = 2_000;
pub const WEBHOOKS_PER_PROJECT: i64 = 20;
/// Invitations waiting for an answer (API.md §14).
pub const INVITATIONS_PER_PROJECT: i64 = 200;
/// A project's workflow states (API.md §17).
pub const STATES_PER_PROJECT: i64 = 50;
/// A project's custom fields (API.md §18).
pub const FIELDS_PER_PROJECT: i64 = 30;
/// Relations a task takes part in, on either side: `GET /tasks/{id}/relations` is one page.
pub const RELATIONS_PER_TASK: i64 = 200;
pub const LIVE_SESSIONS_PER_USER: i64 = 100;
pub const LIVE_LOGINS_PER_USER: i64 = 100;

/// The 422 for a creation past its quota.
pub fn exceeded(what: &str, limit: i64) -> ApiError {
    let mut error = ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        crate::error::ErrorCode::QuotaExceeded,
    );
    error.detail = Some(format!("the limit is {limit} {what}"));
    error
}
