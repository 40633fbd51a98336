//! Idempotency-Key on creating POSTs.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn task_count(app: &TestApp, project: Uuid) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM tasks WHERE project_id = $1::uuid",
            &[&project],
        )
        .await
}

#[tokio::test]
async fn a_replay_returns_the_first_response_and_creates_nothing() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    let body = json!({"title": "Once only"});
    let first = user.post(&path, &body).idempotency_key("key-1").await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first_body: Value = first.created();

    let again = user.post(&path, &body).idempotency_key("key-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.created::<Value>(), first_body);
    assert_eq!(task_count(&app, project).await, 1);

    // Another instance on the same database (or this one after a restart) remembers too.
    let other = TestApp::build().on(&app.database_url).spawn().await;
    let replayed = other
        .as_user(&user)
        .post(&path, &body)
        .idempotency_key("key-1")
        .await;
    assert_eq!(replayed.headers()["idempotency-replayed"], "true");
    assert_eq!(task_count(&app, project).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    let first = user
        .post(&path, json!({"title": "A"}))
        .idempotency_key("key-2")
        .await;
    assert_eq!(first.status(), 201);
    let second = user
        .post(&path, json!({"title": "B"}))
        .idempotency_key("key-2")
        .await;
    second.problem(422, "idempotency_key_reused");
    assert_eq!(task_count(&app, project).await, 1);
}

#[tokio::test]
async fn keys_belong_to_one_principal_and_bad_keys_are_400() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    for user in [&alice, &bob] {
        let response = user
            .post("/api/v1/projects", json!({"name": "P"}))
            .idempotency_key("shared-key")
            .await;
        assert_eq!(response.status(), 201);
        assert!(response.headers().get("idempotency-replayed").is_none());
    }
    let response = alice
        .post("/api/v1/projects", json!({"name": "P"}))
        .idempotency_key("x".repeat(256))
        .await;
    response.problem(400, "invalid_header");
}

#[tokio::test]
async fn concurrent_repeats_create_exactly_one() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    let requests = (0..10).map(|_| {
        user.post(&path, json!({"title": "Racing"}))
            .idempotency_key("race")
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut created = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                response.problem(409, "idempotency_in_flight");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(created >= 1);
    assert_eq!(task_count(&app, project).await, 1);
}

#[tokio::test]
async fn failed_requests_are_not_remembered() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    let bad = user
        .post(&path, json!({"title": ""}))
        .idempotency_key("k")
        .await;
    bad.problem(422, "validation_failed");
    let fixed = user
        .post(&path, json!({"title": "Fixed"}))
        .idempotency_key("k")
        .await;
    assert_eq!(fixed.status(), 201);
}

#[tokio::test]
async fn the_same_json_with_other_whitespace_is_a_replay() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    for body in [r#"{"title":"Spaced"}"#, r#"{ "title" : "Spaced" }"#] {
        let response = app
            .send(
                app.request(reqwest::Method::POST, &path)
                    .bearer_auth(&user.token)
                    .header("content-type", "application/json")
                    .header("idempotency-key", "spaces")
                    .body(body),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    assert_eq!(task_count(&app, project).await, 1);
}
