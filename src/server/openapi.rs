//! The OpenAPI 3.1 document, assembled from the handlers' annotations (`/docs`, which renders
//! it, is served by `crate::web`).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::state::AppState;
use crate::error::Problem;

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
/// limits, overload, conflicts, preconditions), so that every documented operation tells the
/// whole truth while its annotation lists only its successes and the problems peculiar to it.
/// This is the one place these responses are written.
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
                    if method != HttpMethod::Get {
                        add(
                            "409",
                            "Conflict: a concurrent change, or the state forbids it",
                        );
                    }
                    let if_match = operation
                        .parameters
                        .iter()
                        .flatten()
                        .any(|parameter| parameter.name.eq_ignore_ascii_case("If-Match"));
                    if if_match {
                        add("412", "If-Match does not match the current ETag");
                    }
                }
                let writes = matches!(
                    method,
                    HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
                );
                if writes
                    && path.starts_with("/api/")
                    && !super::routes::KEPT_WHEN_DISK_IS_LOW.contains(&path.as_str())
                {
                    add(
                        "507",
                        "The embedded database's disk is nearly full: writes are refused until \
                         space is freed (reads, sign-ins and deletes go on)",
                    );
                }
                // A DELETE may take a body too (`DELETE /me/totp` takes the current code).
                if writes || operation.request_body.is_some() {
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
    components(schemas(Problem))
)]
pub struct ApiDoc;

/// The whole document: the operations of `routes`, then the shared parts.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::routes::paths_document());
    SecuritySchemes.modify(&mut doc);
    CommonResponses.modify(&mut doc);
    ClosedTaggedVariants.modify(&mut doc);
    doc
}

/// utoipa 5 leaves out `additionalProperties: false` on the variants of an internally tagged
/// enum with `deny_unknown_fields` (the token endpoint's `TokenRequest`), although serde refuses
/// unknown members there; this says so.
struct ClosedTaggedVariants;

impl Modify for ClosedTaggedVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut("TokenRequest") {
            for item in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = item {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// The document as served. utoipa 5 writes a link's `operationId` as `operation_id` (its `Link`
/// has no camelCase renaming), which no OpenAPI tool reads, so the served JSON is fixed here.
pub fn document_json() -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).expect("the document serializes");
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let responses = operation["responses"].as_object_mut().into_iter().flatten();
        for (_, response) in responses {
            let links = response.get_mut("links").and_then(|l| l.as_object_mut());
            for link in links.into_iter().flat_map(|links| links.values_mut()) {
                let Some(link) = link.as_object_mut() else {
                    continue;
                };
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_owned(), value);
                    }
                }
            }
        }
    }
    doc
}

/// `/api/v1/openapi.json` (`/docs`, the reference page, is served by `web`).
pub fn routes(doc: serde_json::Value) -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(move || async move { Json(doc) }),
    )
}

#[cfg(test)]
mod tests {
    /// `DOCKET_OPENAPI_OUT=doc.json cargo test --lib write_the_document` writes the document
    /// without a server, for diffing it across a change.
    #[test]
    fn write_the_document() {
        if let Ok(path) = std::env::var("DOCKET_OPENAPI_OUT") {
            std::fs::write(
                path,
                serde_json::to_string_pretty(&super::document_json()).unwrap(),
            )
            .unwrap();
        }
    }
}
