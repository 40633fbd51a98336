//! The error model, request ids, health, readiness, pool exhaustion and graceful shutdown.

use std::time::{Duration, Instant};

use axum::routing::get;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health: Value = app.anon().get("/healthz").await.good();
    assert_eq!(health, json!({"status": "ok"}));
    let ready = app.anon().get("/readyz").await;
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let echoed = app
        .anon()
        .get("/healthz")
        .header("x-request-id", "my-id.1_2")
        .await;
    assert_eq!(echoed.headers()["x-request-id"], "my-id.1_2");
    let replaced = app
        .anon()
        // Outside /api an unknown path is a page of the web client (API.md §6); inside, a 404.
        .get("/api/v1/nope")
        .header("x-request-id", "bad id with spaces")
        .await;
    let id = replaced.header("x-request-id").unwrap();
    assert_ne!(id, "bad id with spaces");
    let body = replaced.problem(404, "not_found");
    assert_eq!(body["instance"], "/api/v1/nope");
}

#[tokio::test]
async fn routing_and_body_errors_are_problems() {
    let app = spawn_app().await;
    let response = app.anon().delete("/healthz").await;
    assert!(response.header("allow").unwrap().contains("GET"));
    response.problem(405, "method_not_allowed");

    // Bodies that are not JSON: the raw body is the point.
    let register = "/api/v1/auth/register";
    let not_json = app
        .request(Method::POST, register)
        .header("content-type", "text/plain")
        .body("hello");
    app.send(not_json)
        .await
        .problem(415, "unsupported_media_type");

    let malformed = app
        .request(Method::POST, register)
        .header("content-type", "application/json")
        .body("{not json");
    app.send(malformed).await.problem(400, "malformed_json");

    let array = app
        .request(Method::POST, register)
        .header("content-type", "application/json")
        .body("[1, 2]");
    app.send(array).await.problem(400, "malformed_json");

    let big = json!({"email": "a@b.co", "password": "x".repeat(300 * 1024), "name": "n"});
    app.anon()
        .post(register, &big)
        .await
        .problem(413, "payload_too_large");

    let body = app
        .anon()
        .post(
            register,
            json!({"email": "a@b.co", "password": "long enough pass", "name": "n", "extra": 1}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "extra");
}

#[tokio::test]
async fn a_panicking_handler_is_a_bare_500_and_the_server_keeps_serving() {
    let routes = axum::Router::new().route(
        "/test/panic",
        get(|| async {
            if true {
                panic!("secret internal detail");
            }
            ""
        }),
    );
    let app = TestApp::build().routes(routes).spawn().await;
    let body = app.anon().get("/test/panic").await.problem(500, "internal");
    assert!(!body.to_string().contains("secret"));
    assert!(body.get("detail").is_none());
    let health = app.anon().get("/healthz").await;
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_quickly() {
    let app = TestApp::build()
        .config(|args| {
            args.db_max_connections = Some("1".into());
            args.db_acquire_timeout_ms = Some("300".into());
        })
        .spawn()
        .await;
    let user = app.new_client().await;
    let held = app.state.db.conn().await.unwrap();
    let started = Instant::now();
    let response = user.get("/api/v1/me").await;
    let elapsed = started.elapsed();
    assert!(response.headers().contains_key("retry-after"));
    response.problem(503, "unavailable");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    drop(held);
    let response = user.get("/api/v1/me").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let routes = axum::Router::new().route(
        "/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            "done"
        }),
    );
    let app = TestApp::build().routes(routes).spawn().await;
    let slow = tokio::spawn(app.anon().get("/test/slow").send());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let address = app.address.clone();
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(150)).await;
    // A client of its own, to see the connection refused (a refusal is the point).
    let fresh = reqwest::Client::new()
        .get(format!("{address}/healthz"))
        .send()
        .await;
    assert!(
        fresh.is_err(),
        "a new connection during shutdown is refused"
    );
    let response = slow.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "done");
    stopping.await.unwrap();
}

#[tokio::test]
async fn problem_responses_carry_the_request_id_and_path() {
    let app = spawn_app().await;
    let response = app
        .anon()
        .get("/api/v1/me?x=1")
        .header("x-request-id", "trace-me")
        .await;
    assert!(response.headers().contains_key("www-authenticate"));
    let body = response.problem(401, "unauthenticated");
    assert_eq!(body["instance"], "/api/v1/me");
    assert_eq!(body["request_id"], "trace-me");
}

#[tokio::test]
async fn metrics_show_requests_by_route_pool_use_and_build_info() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let response = user.get("/api/v1/me").await;
    assert_eq!(response.status(), 200);
    let response = app.anon().get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text();
    for expected in [
        "http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",status=\"200\",le=",
        "docket_db_pool_connections{state=\"idle\"}",
        "docket_db_pool_connections{state=\"in_use\"}",
        "docket_db_pool_max_connections",
        "docket_build_info{version=",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    // Routes are templates, never raw paths with ids.
    assert!(!text.contains(&user.id.to_string()));
}

#[tokio::test]
async fn json_bodies_declare_utf8_and_type_errors_speak_json() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let response = user.get("/api/v1/me").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body = user
        .post("/api/v1/projects", json!({"name": "P", "description": 5}))
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "description");
    assert_eq!(body["errors"][0]["message"], "must be a string");
}

#[tokio::test]
async fn task_reads_pipeline_on_a_shared_lane_while_the_rest_of_the_pool_is_taken() {
    // A pool of 2 keeps 1 lane: with the other connection held, reads still run, concurrently,
    // on the lane (through the pool alone each would wait for the held one and get 503).
    let app = TestApp::build()
        .config(|args| {
            args.db_max_connections = Some("2".into());
            args.db_acquire_timeout_ms = Some("300".into());
        })
        .spawn()
        .await;
    let user = app.new_client().await;
    let project = user.create_project("Lanes").await;
    let task = user
        .create_task(project.id, json!({"title": "Read me"}))
        .await;
    let path = task_path(task.id);
    // The first request of a minute also reads the shared rate-limit count, through the pool:
    // keep the reads below inside the minute of the first one.
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 50 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
    user.get(&path).await.good::<Task>();

    let held = app.state.db.conn().await.unwrap();
    let reads = (0..40).map(|_| user.get(&path).send());
    for response in futures::future::join_all(reads).await {
        assert_eq!(response.good::<Task>().title, "Read me");
    }
    // Anything else still needs the pool, and says so.
    user.get("/api/v1/projects")
        .await
        .problem(503, "unavailable");
    drop(held);
}
