//! Accounts and authentication: registration, logins (cookie sessions, JWT access tokens with
//! rotating refresh tokens), personal API tokens, and instance administration.

pub mod account;
pub mod admin;
pub mod api_tokens;
pub mod domain;
pub mod jwt;
pub mod limits;
pub mod login;
pub mod password;
pub mod principal;
pub mod principal_cache;
pub mod registration;
pub mod store;
pub mod tokens;
pub mod users;

use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(account::register))
        .route(
            "/api/v1/auth/registration",
            get(registration::get_registration),
        )
        .route(
            "/api/v1/auth/session",
            post(login::create_session)
                .get(login::get_session)
                .delete(login::delete_session),
        )
        .route("/api/v1/auth/token", post(login::create_token))
        .route("/api/v1/auth/token/revoke", post(login::revoke_token))
        .route("/api/v1/me", get(account::get_me).patch(account::update_me))
        .route("/api/v1/me/password", put(account::change_password))
        .route(
            "/api/v1/me/tokens",
            post(api_tokens::create_api_token).get(api_tokens::list_api_tokens),
        )
        .route(
            "/api/v1/me/tokens/{id}",
            delete(api_tokens::delete_api_token),
        )
        .route("/api/v1/admin/users", get(admin::list_users))
        .route("/api/v1/admin/users/{id}", patch(admin::update_user))
}
