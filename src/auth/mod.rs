//! Accounts and authentication: registration, logins (cookie sessions, JWT access tokens with
//! rotating refresh tokens), personal API tokens, and instance administration.

pub mod account;
pub mod admin;
pub mod api_tokens;
pub mod client;
pub mod domain;
pub mod jwt;
pub mod limits;
pub mod login;
pub mod password;
pub mod principal;
pub mod principal_cache;
pub mod registration;
pub mod reset;
pub mod state;
pub mod store;
pub mod users;
