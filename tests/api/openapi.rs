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
    let response = app
        .request(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
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
    let response = app.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<html")
            || html.contains("<!doctype html")
            || html.contains("<!DOCTYPE html")
    );
    assert!(html.to_lowercase().contains("scalar"));
}
