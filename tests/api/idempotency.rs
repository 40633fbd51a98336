//! Idempotency-Key on creating POSTs.

use std::time::Duration;

use docket::http::server::ConnectionLimits;
use docket::server::Tuning;
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

/// Holds `tasks` so that no task can be inserted (reads go on) until `open`.
async fn hold_task_inserts(app: &TestApp) -> TestDb {
    let locker = connect_db(&app.database_url).await;
    locker
        .batch("BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE")
        .await;
    locker
}

async fn open(locker: TestDb) {
    locker.batch("COMMIT").await;
}

#[tokio::test]
async fn a_create_cut_off_by_the_deadline_lets_its_claim_go_and_its_retry_creates_once() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    // Another instance on the same database, with a short handler deadline.
    let hasty = TestApp::build()
        .on(&app.database_url)
        .tuning(Tuning {
            connections: ConnectionLimits {
                handler_timeout: Duration::from_secs(1),
                ..ConnectionLimits::default()
            },
            ..fast_tuning()
        })
        .spawn()
        .await;
    let locker = hold_task_inserts(&app).await;
    let cut = hasty
        .as_user(&user)
        .post(&path, json!({"title": "Cut off"}))
        .idempotency_key("cut")
        .await;
    cut.problem(503, "unavailable");
    open(locker).await;

    // The cancelled request's claim is let go (in the background): the retry runs at once,
    // not after the minute a claim takes to count as abandoned.
    let mut created = None;
    for _ in 0..50 {
        let retry = user
            .post(&path, json!({"title": "Cut off"}))
            .idempotency_key("cut")
            .await;
        if retry.status() == 201 {
            created = Some(retry.created::<Value>());
            break;
        }
        retry.problem(409, "idempotency_in_flight");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    created.expect("the claim of a request cut off by the deadline is let go");
    assert_eq!(
        task_count(&app, project).await,
        1,
        "the cut-off insert rolled back"
    );
}

#[tokio::test]
async fn a_request_whose_claim_was_taken_over_keeps_nothing() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Idem").await.id;
    let path = format!("/api/v1/projects/{project}/tasks");
    let locker = hold_task_inserts(&app).await;
    let take_over = async {
        // While the request waits to insert, its claim is taken for abandoned and claimed
        // again by a retry (a claim of its own: made at another time, unanswered).
        for _ in 0..200 {
            let claims: i64 = app
                .db
                .scalar(
                    "SELECT count(*) FROM idempotency_keys WHERE key = 'taken'",
                    &[],
                )
                .await;
            if claims == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        app.db
            .batch(
                "UPDATE idempotency_keys SET created_at = created_at - interval '61 seconds' \
                 WHERE key = 'taken'",
            )
            .await;
        open(locker).await;
    };
    let request = user
        .post(&path, json!({"title": "Overtaken"}))
        .idempotency_key("taken")
        .send();
    let (first, ()) = tokio::join!(request, take_over);
    first.problem(409, "idempotency_in_flight");
    assert_eq!(
        task_count(&app, project).await,
        0,
        "its effect must not commit beside the retry that now answers for the key"
    );
    let unanswered: bool = app
        .db
        .scalar(
            "SELECT status IS NULL FROM idempotency_keys WHERE key = 'taken'",
            &[],
        )
        .await;
    assert!(unanswered, "the other claim is left as it was");
}
