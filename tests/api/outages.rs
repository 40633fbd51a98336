//! What people get when the database's disk fills (API.md §1 503 and 507, §7
//! `DOCKET_MIN_FREE_DISK_MB`), and an idempotent create whose answer cannot be stored. In
//! process; the real binary through real faults is `faults.rs`.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use docket::db::{Db, Exec};
use docket::error::ApiError;
use serde_json::{json, Value};

use crate::helpers::*;

/// More than any file system has: the minimum is never met.
const MORE_THAN_ANY_DISK_MB: &str = "16777216";

/// A statement that fails the way PostgreSQL reports a full disk (SQLSTATE 53100), or another
/// lack of resources (53300: too many connections).
async fn raise(db: &Db, code: &str) -> Result<&'static str, ApiError> {
    let sql = format!(
        "DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' \
         USING ERRCODE = '{code}'; END $$"
    );
    db.execute(&sql, docket::params![]).await?;
    Ok("unreachable")
}

#[tokio::test]
async fn a_full_database_disk_is_a_503_with_retry_after_and_a_sentence_never_a_500() {
    let routes = axum::Router::new()
        .route(
            "/api/v1/test/disk-full",
            get(|State(db): State<Db>| async move { raise(&db, "53100").await }),
        )
        .route(
            "/api/v1/test/too-many-connections",
            get(|State(db): State<Db>| async move { raise(&db, "53300").await }),
        );
    let app = TestApp::build().routes(routes).spawn().await;

    let full = app.anon().get("/api/v1/test/disk-full").await;
    let problem = full.problem(503, "unavailable");
    assert!(full.retry_after() >= 1);
    assert_eq!(problem["title"], "Service unavailable");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("disk is full"), "{detail}");
    assert!(
        !detail.contains("No space left") && !detail.contains("53100"),
        "no text of the database's error: {detail}"
    );

    let busy = app.anon().get("/api/v1/test/too-many-connections").await;
    busy.problem(503, "unavailable");
    assert!(busy.retry_after() >= 1);
}

#[tokio::test]
async fn below_the_minimum_free_space_writes_get_507_while_reads_sign_ins_and_deletes_go_on() {
    let scratch = scratch_dir("docket-disk");
    // Someone's work, written while there was room.
    let roomy = spawn_app().await;
    let owner = roomy.new_user().await;
    let client = roomy.as_user(&owner);
    let project = client.create_project("Kept").await;
    let task = client
        .create_task(project.id, json!({"title": "Keep me"}))
        .await;
    let doomed = client
        .create_task(project.id, json!({"title": "Delete me"}))
        .await;

    // The same database behind a server whose disk is short.
    let full = TestApp::build()
        .on(&roomy.database_url)
        .config(|args| args.min_free_disk_mb = Some(MORE_THAN_ANY_DISK_MB.to_owned()))
        .watch_disk(&scratch)
        .spawn()
        .await;
    let user = full.as_user(&owner);

    let refused = user
        .post(&tasks_path(project.id), json!({"title": "No room"}))
        .await;
    let problem = refused.problem(507, "insufficient_storage");
    assert_eq!(problem["title"], "Storage full");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("reading, signing in and deleting still work"));
    user.patch(&task_path(task.id), json!({"title": "Renamed"}))
        .await
        .problem(507, "insufficient_storage");
    user.post("/api/v1/projects", json!({"name": "New"}))
        .await
        .problem(507, "insufficient_storage");
    user.put(
        "/api/v1/me/password",
        json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
    )
    .await
    .problem(507, "insufficient_storage");
    full.register("new@example.com", PASSWORD, "New")
        .await
        .problem(507, "insufficient_storage");

    // Reads, sign-ins (tokens and sessions) and deletes go on.
    assert_eq!(user.get_task(task.id).await.title, "Keep me");
    let page: Value = user.get(&tasks_path(project.id)).await.good();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let tokens: Value = full.password_grant(&owner.email, PASSWORD).await.good();
    assert!(tokens["access_token"].is_string());
    let refreshed: Value = full.refresh_grant(&owner.refresh_token).await.good();
    assert!(refreshed["access_token"].is_string());
    let (cookie, csrf) = full.session_login(&owner.email, PASSWORD).await;
    full.with_session(&cookie, &csrf)
        .delete("/api/v1/auth/session")
        .await
        .no_content();
    user.delete(&task_path(doomed.id)).await.no_content();
    user.get(&task_path(doomed.id))
        .await
        .problem(404, "not_found");

    // Ready (it serves reads), and it says why writes are refused.
    let ready: Value = full.anon().get("/readyz").await.good();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["disk"]["writes"], "refused");
    assert!(ready["disk"]["free_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        ready["disk"]["min_free_bytes"].as_u64().unwrap(),
        MORE_THAN_ANY_DISK_MB.parse::<u64>().unwrap() << 20
    );
    let metrics = full.anon().get("/metrics").await.text();
    assert!(
        metrics.contains("docket_data_dir_free_bytes "),
        "the free space is a metric"
    );

    // With room (the default minimum), the same disk takes writes, and an external database
    // (no disk watched) says nothing about a disk.
    let watched = TestApp::build()
        .on(&roomy.database_url)
        .config(|args| args.min_free_disk_mb = Some("0".to_owned()))
        .watch_disk(&scratch)
        .spawn()
        .await;
    watched
        .as_user(&owner)
        .create_task(project.id, json!({"title": "Room again"}))
        .await;
    let ready: Value = watched.anon().get("/readyz").await.good();
    assert_eq!(ready["disk"]["writes"], "accepted");
    let ready: Value = roomy.anon().get("/readyz").await.good();
    assert!(ready.get("disk").is_none(), "{ready}");

    // The document says which operations can answer 507.
    let document: Value = roomy.anon().get("/api/v1/openapi.json").await.good();
    let responses = |path: &str, method: &str| {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .clone()
    };
    assert!(responses("/api/v1/projects/{id}/tasks", "post").contains_key("507"));
    assert!(responses("/api/v1/tasks/{id}", "patch").contains_key("507"));
    assert!(!responses("/api/v1/tasks/{id}", "delete").contains_key("507"));
    assert!(!responses("/api/v1/auth/token", "post").contains_key("507"));
    assert!(!responses("/api/v1/auth/session", "post").contains_key("507"));
    let _ = std::fs::remove_dir_all(&scratch);
}

#[tokio::test]
async fn a_create_whose_answer_cannot_be_stored_keeps_nothing_and_its_retry_creates_once() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Atomic").await.id;
    // The answer's write fails as a connection lost at that moment would.
    app.db
        .batch(
            "CREATE FUNCTION fail_answer() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'connection lost' USING ERRCODE = '08006'; END $$; \
             CREATE TRIGGER fail_answer BEFORE UPDATE ON idempotency_keys \
             FOR EACH ROW EXECUTE FUNCTION fail_answer();",
        )
        .await;
    let path = tasks_path(project);
    let lost = user
        .post(&path, json!({"title": "Exactly once"}))
        .idempotency_key("atomic")
        .await;
    lost.problem(503, "unavailable");
    let count = || async {
        app.db
            .scalar::<i64>(
                "SELECT count(*) FROM tasks WHERE project_id = $1",
                &[&project],
            )
            .await
    };
    assert_eq!(
        count().await,
        0,
        "the task commits with its answer or not at all"
    );

    app.db
        .batch("DROP TRIGGER fail_answer ON idempotency_keys")
        .await;
    // The unanswered claim is let go (in the background), so the retry runs again at once.
    let mut created = None;
    for _ in 0..50 {
        let retry = user
            .post(&path, json!({"title": "Exactly once"}))
            .idempotency_key("atomic")
            .await;
        if retry.status() == 201 {
            created = Some(retry.created::<Task>());
            break;
        }
        retry.problem(409, "idempotency_in_flight");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = created.expect("the retry runs once the claim is let go");
    let replay = user
        .post(&path, json!({"title": "Exactly once"}))
        .idempotency_key("atomic")
        .await;
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.created::<Task>().id, created.id);
    assert_eq!(count().await, 1);
}
