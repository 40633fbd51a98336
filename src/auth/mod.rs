//! Accounts and authentication: registration, logins (cookie sessions, JWT access tokens with
//! rotating refresh tokens), personal API tokens, instance administration, and sign-in for
//! organisations (API.md §21): single sign-on (`oidc`), second factors (`totp`, `passkeys`,
//! `second_factor`) and the account's security log (`security_log`).

pub mod account;
pub mod admin;
pub mod api_tokens;
pub mod client;
pub mod domain;
pub mod grant;
pub mod jwt;
pub mod limits;
pub mod login;
pub mod oidc;
pub mod passkeys;
pub mod password;
pub mod principal;
pub mod principal_cache;
pub mod registration;
pub mod reset;
pub mod second_factor;
pub mod security_log;
pub mod state;
pub mod store;
pub mod totp;
pub mod users;
