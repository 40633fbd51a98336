//! Whether this instance accepts sign-ups, so that a client shows a sign-up form only when
//! it can work (API.md §16: whatever the web client needs is part of the public API).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::state::AuthState;
use crate::config::Registration;

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegistrationStatus {
    /// `false` when `DOCKET_REGISTRATION=closed`: `POST /api/v1/auth/register` answers 403
    /// `registration_closed`.
    pub open: bool,
}

/// Whether `POST /api/v1/auth/register` is open. Needs no authentication.
#[utoipa::path(get, path = "/api/v1/auth/registration", tag = "auth",
    responses((status = 200, body = RegistrationStatus)))]
pub async fn get_registration(State(state): State<AuthState>) -> Json<RegistrationStatus> {
    Json(RegistrationStatus {
        open: state.config.registration != Registration::Closed,
    })
}
