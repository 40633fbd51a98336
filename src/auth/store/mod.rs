//! The SQL of the authentication tables, one module per table (or pair of tables): `sessions`,
//! `refresh_tokens`, `api_tokens`, `auth_attempts`, `identities`, `oidc_flows`, `totp`
//! (`totp_credentials`, `recovery_codes`), `passkeys`, `ceremonies` (`webauthn_ceremonies`,
//! `login_challenges`), `security_events` and `password_resets`. (`users` is owned by
//! `auth::users`.) Handlers call these functions and write no SQL; tokens arrive here already
//! hashed, secrets sealed.

pub mod api_tokens;
pub mod attempts;
pub mod ceremonies;
pub mod identities;
pub mod oidc_flows;
pub mod passkeys;
pub mod refresh_tokens;
pub mod resets;
pub mod security_events;
pub mod sessions;
pub mod totp;
