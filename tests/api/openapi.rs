//! The OpenAPI document covers every operation of the contract (API.md), declares both
//! security schemes, and `/docs` serves a reference built from it.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// Every `/api/v1` operation of API.md plus the health endpoints (API.md §8: OpenAPI).
const CONTRACT: &[&str] = &[
    "DELETE /api/v1/auth/session",
    "DELETE /api/v1/me/tokens/{id}",
    "DELETE /api/v1/projects/{id}",
    "DELETE /api/v1/projects/{id}/github",
    "DELETE /api/v1/projects/{id}/members/{user_id}",
    "DELETE /api/v1/tasks/{id}",
    "GET /api/v1/admin/users",
    "GET /api/v1/auth/session",
    "GET /api/v1/me",
    "GET /api/v1/me/notifications",
    "GET /api/v1/me/tokens",
    "GET /api/v1/projects",
    "GET /api/v1/projects/{id}",
    "GET /api/v1/projects/{id}/github",
    "GET /api/v1/projects/{id}/members",
    "GET /api/v1/projects/{id}/tasks",
    "GET /api/v1/tasks",
    "GET /api/v1/tasks/{id}",
    "GET /healthz",
    "GET /metrics",
    "GET /readyz",
    "PATCH /api/v1/admin/users/{id}",
    "PATCH /api/v1/me",
    "PATCH /api/v1/projects/{id}",
    "PATCH /api/v1/tasks/{id}",
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/session",
    "POST /api/v1/auth/token",
    "POST /api/v1/auth/token/revoke",
    "POST /api/v1/me/notifications/read",
    "POST /api/v1/me/tokens",
    "POST /api/v1/projects",
    "POST /api/v1/projects/{id}/github/sync",
    "POST /api/v1/projects/{id}/members",
    "POST /api/v1/projects/{id}/tasks",
    "PUT /api/v1/me/password",
    "PUT /api/v1/projects/{id}/github",
    "PUT /api/v1/projects/{id}/members/{user_id}",
];

#[tokio::test]
async fn the_document_covers_the_whole_contract() {
    let app = spawn_app().await;
    let doc: Value = app.anon().get("/api/v1/openapi.json").await.good();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    for operation in CONTRACT {
        assert!(
            documented.contains(&operation.to_string()),
            "{operation} is not documented"
        );
        let (method, path) = operation.split_once(' ').unwrap();
        let op = &doc["paths"][path][method.to_lowercase()];
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{operation} has no success"
        );
        if path.starts_with("/api/") {
            assert!(
                responses.contains_key("400") && responses.contains_key("503"),
                "{operation}"
            );
        }
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "docket_session");
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn docs_serve_an_interactive_reference() {
    let app = spawn_app().await;
    let response = app.anon().get("/docs").await;
    assert_eq!(response.status(), 200);
    let html = response.text();
    assert!(
        html.contains("<html")
            || html.contains("<!doctype html")
            || html.contains("<!DOCTYPE html")
    );
    assert!(html.to_lowercase().contains("scalar"));
}

/// The router and the document are built from one list (`http::routes`): every documented path
/// is routed with exactly its documented methods (a 405 names them in `Allow`), and the few
/// routes kept out of the document on purpose are the only others.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let app = spawn_app().await;
    let doc = docket::server::openapi::document();
    let doc = serde_json::to_value(&doc).unwrap();
    let uuid = uuid::Uuid::now_v7().to_string();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        documented.sort();
        let concrete = path.replace("{id}", &uuid).replace("{user_id}", &uuid);
        let response = app
            .anon()
            .request(Method::from_bytes(b"TRACE").unwrap(), &concrete)
            .await;
        assert_eq!(response.status(), 405, "{path}");
        let allow = response.header("allow").unwrap();
        let mut routed: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| m != "HEAD")
            .collect();
        routed.sort();
        assert_eq!(routed, documented, "{path}");
    }
    for path in docket::server::routes::UNDOCUMENTED {
        assert!(doc["paths"].get(*path).is_none(), "{path}");
        let response = app.anon().get(path).await;
        assert_ne!(response.status(), 404, "{path}");
    }
    let response = app.anon().get("/api/v1/nowhere").await;
    assert_eq!(response.status(), 404);
}

/// A page refers to its item's schema, so a generated client has one `Task` type.
#[tokio::test]
async fn pages_refer_to_their_item_schema() {
    let app = spawn_app().await;
    let doc: Value = app.anon().get("/api/v1/openapi.json").await.good();
    let schemas = &doc["components"]["schemas"];
    for (page, item) in [
        ("Page_Task", "Task"),
        ("Page_Project", "Project"),
        ("Page_Member", "Member"),
        ("Page_User", "User"),
    ] {
        assert_eq!(
            schemas[page]["properties"]["items"]["items"]["$ref"],
            format!("#/components/schemas/{item}"),
            "{page}"
        );
        assert!(schemas[item].is_object(), "{item}");
    }
}

/// Links let a client (and schemathesis' stateful phase) go from a created project to its
/// sub-resources and from a created task to the task; each names an operation that exists.
#[tokio::test]
async fn creates_link_to_what_they_created() {
    let app = spawn_app().await;
    let doc: Value = app.anon().get("/api/v1/openapi.json").await.good();
    let mut operation_ids = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            operation_ids.push(operation["operationId"].as_str().unwrap().to_owned());
        }
    }
    for (path, expected) in [
        (
            "/api/v1/projects",
            &[
                "get_project",
                "list_project_tasks",
                "list_members",
                "create_task",
            ][..],
        ),
        (
            "/api/v1/projects/{id}/tasks",
            &["get_task", "update_task", "delete_task"][..],
        ),
    ] {
        let links = doc["paths"][path]["post"]["responses"]["201"]["links"]
            .as_object()
            .unwrap_or_else(|| panic!("{path} has no links"));
        let targets: Vec<&str> = links
            .values()
            .map(|link| link["operationId"].as_str().unwrap())
            .collect();
        for operation in expected {
            assert!(targets.contains(operation), "{path} → {operation}");
        }
        for (name, link) in links {
            assert!(
                operation_ids.iter().any(|o| o == &link["operationId"]),
                "{name}"
            );
            assert_eq!(link["parameters"]["id"], "$response.body#/id", "{name}");
        }
    }
}
