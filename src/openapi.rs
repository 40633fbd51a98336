//! The OpenAPI 3.1 document, generated from the handlers' annotations, and `/docs`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

use crate::app::AppState;
use crate::error::FieldError;

/// An RFC 9457 problem document, as every error is sent.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub instance: String,
    pub code: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token or dkt_ API token")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("docket_session"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Docket API", description = "A self-hostable task tracker."),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::auth::account::register,
        crate::auth::login::create_session,
        crate::auth::login::get_session,
        crate::auth::login::delete_session,
        crate::auth::login::create_token,
        crate::auth::login::revoke_token,
        crate::auth::account::get_me,
        crate::auth::account::update_me,
        crate::auth::account::change_password,
        crate::auth::api_tokens::create_api_token,
        crate::auth::api_tokens::list_api_tokens,
        crate::auth::api_tokens::delete_api_token,
        crate::auth::admin::list_users,
        crate::auth::admin::update_user,
    ),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes() -> Router<AppState> {
    let doc = document();
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get({
                let doc = doc.clone();
                move || async move { Json(doc) }
            }),
        )
        .merge(Scalar::with_url("/docs", doc))
}
