//! The SQL of the authentication tables, one module per table: `sessions`, `refresh_tokens`,
//! `api_tokens`, `auth_attempts` and `password_resets`. (`users` is owned by `auth::users`.) Handlers call these
//! functions and write no SQL; tokens arrive here already hashed.

pub mod api_tokens;
pub mod attempts;
pub mod refresh_tokens;
pub mod resets;
pub mod sessions;
