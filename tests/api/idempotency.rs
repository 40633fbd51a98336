//! Idempotency-Key on creating POSTs.

use serde_json::{json, Value};

use crate::helpers::*;

async fn task_count(app: &TestApp, project: &str) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM tasks WHERE project_id = $1::uuid",
            &[&project.parse::<uuid::Uuid>().unwrap()],
        )
        .await
}

async fn new_project(app: &TestApp, user: &TestUser) -> String {
    id_of(&create_project(app, user, "Idem").await)
}

#[tokio::test]
async fn a_replay_returns_the_first_response_and_creates_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = new_project(&app, &user).await;
    let path = format!("/api/v1/projects/{project}/tasks");
    let body = json!({"title": "Once only"});
    let first = app
        .post(&path, &user.token, &body)
        .header("idempotency-key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();

    let again = app
        .post(&path, &user.token, &body)
        .header("idempotency-key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    assert_eq!(task_count(&app, &project).await, 1);

    // Another instance on the same database (or this one after a restart) remembers too.
    let other = TestApp::build().on(&app.database_url).spawn().await;
    let replayed = other
        .post(&path, &user.token, &body)
        .header("idempotency-key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.headers()["idempotency-replayed"], "true");
    assert_eq!(task_count(&app, &project).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = new_project(&app, &user).await;
    let path = format!("/api/v1/projects/{project}/tasks");
    let first = app
        .post(&path, &user.token, &json!({"title": "A"}))
        .header("idempotency-key", "key-2")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let second = app
        .post(&path, &user.token, &json!({"title": "B"}))
        .header("idempotency-key", "key-2")
        .send()
        .await
        .unwrap();
    assert_problem(second, 422, "idempotency_key_reused").await;
    assert_eq!(task_count(&app, &project).await, 1);
}

#[tokio::test]
async fn keys_belong_to_one_principal_and_bad_keys_are_400() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    for user in [&alice, &bob] {
        let response = app
            .post("/api/v1/projects", &user.token, &json!({"name": "P"}))
            .header("idempotency-key", "shared-key")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert!(response.headers().get("idempotency-replayed").is_none());
    }
    let response = app
        .post("/api/v1/projects", &alice.token, &json!({"name": "P"}))
        .header("idempotency-key", "x".repeat(256))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_header").await;
}

#[tokio::test]
async fn concurrent_repeats_create_exactly_one() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = new_project(&app, &user).await;
    let path = format!("/api/v1/projects/{project}/tasks");
    let requests = (0..10).map(|_| {
        app.post(&path, &user.token, &json!({"title": "Racing"}))
            .header("idempotency-key", "race")
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut created = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                assert_problem(response, 409, "idempotency_in_flight").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(created >= 1);
    assert_eq!(task_count(&app, &project).await, 1);
}

#[tokio::test]
async fn failed_requests_are_not_remembered() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = new_project(&app, &user).await;
    let path = format!("/api/v1/projects/{project}/tasks");
    let bad = app
        .post(&path, &user.token, &json!({"title": ""}))
        .header("idempotency-key", "k")
        .send()
        .await
        .unwrap();
    assert_problem(bad, 422, "validation_failed").await;
    let fixed = app
        .post(&path, &user.token, &json!({"title": "Fixed"}))
        .header("idempotency-key", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), 201);
}

#[tokio::test]
async fn the_same_json_with_other_whitespace_is_a_replay() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = new_project(&app, &user).await;
    let path = format!("/api/v1/projects/{project}/tasks");
    for body in [r#"{"title":"Spaced"}"#, r#"{ "title" : "Spaced" }"#] {
        let response = app
            .request(reqwest::Method::POST, &path)
            .bearer_auth(&user.token)
            .header("content-type", "application/json")
            .header("idempotency-key", "spaces")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    assert_eq!(task_count(&app, &project).await, 1);
}
