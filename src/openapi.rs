//! The OpenAPI 3.1 document, generated from the handlers' annotations (`/docs`, which renders
//! it, is served by `crate::web`).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "docket_session",
                "`__Host-docket_session` when the public URL is https",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("DOCKET_METRICS_TOKEN, when it is set"))
                    .build(),
            ),
        );
    }
}

/// Adds the problem responses that any operation can give (malformed input, authentication,
/// limits, overload), so that every documented operation tells the whole truth.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::HttpMethod;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                };
                if path.starts_with("/api/") {
                    add("400", "Malformed request: query, header or body");
                    add("429", "Rate limited; see Retry-After");
                    add(
                        "503",
                        "Unavailable (database down, starting or draining); see Retry-After",
                    );
                    add("500", "A bug; the body carries only the request id");
                    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                        add("401", "Missing, invalid or expired credentials");
                        add("403", "Authenticated but not allowed");
                    }
                    if path.contains('{') {
                        add("404", "No such resource, or not visible to the caller");
                    }
                }
                if matches!(
                    method,
                    HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
                ) {
                    add("413", "Body over 256 KiB");
                    add("415", "Body is not application/json");
                    add("422", "Validation failed");
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Docket API", description = "A self-hostable task tracker."),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::auth::account::register,
        crate::auth::registration::get_registration,
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
        crate::projects::handlers::create_project,
        crate::projects::handlers::list_projects,
        crate::projects::handlers::get_project,
        crate::projects::handlers::update_project,
        crate::projects::handlers::delete_project,
        crate::projects::members::list_members,
        crate::projects::members::put_member,
        crate::projects::members::add_member,
        crate::projects::members::remove_member,
        crate::tasks::handlers::create_task,
        crate::tasks::list::list_project_tasks,
        crate::tasks::list::list_my_tasks,
        crate::tasks::handlers::get_task,
        crate::tasks::handlers::update_task,
        crate::tasks::handlers::delete_task,
        crate::tasks::moves::move_task,
        crate::github::links::put_link,
        crate::github::links::get_link,
        crate::github::links::sync_link,
        crate::github::links::delete_link,
    ),
    modifiers(&SecuritySchemes, &CommonResponses),
    components(schemas(Problem))
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes() -> Router<AppState> {
    let doc = document();
    Router::new().route(
        "/api/v1/openapi.json",
        get(move || async move { Json(doc) }),
    )
}
