//! Migrations: a fresh database, several instances at once, a database made by Docket 0.1
//! (migrated by sqlx) carried over in place, and event cursors handed out before the journal's
//! sequencer (issue 28) still resuming exactly.

use std::time::Duration;

use serde_json::{json, Value};

use crate::events::{open_raw, Stream, SOON};
use crate::helpers::*;

/// The dump in tests/fixtures was taken from a database that the sqlx-based release created and
/// used: its `_sqlx_migrations` history must be recognised, nothing applied twice, and every
/// row still there and usable.
#[tokio::test]
async fn a_database_migrated_by_sqlx_upgrades_in_place() {
    let url = create_empty_database().await;
    // pg_dump's preamble empties the session's search_path: load it on a connection of its own.
    connect_db(&url)
        .await
        .batch(include_str!("../fixtures/sqlx-era.sql"))
        .await;
    let db = connect_db(&url).await;
    let legacy: i64 = db
        .scalar("SELECT count(*) FROM _sqlx_migrations WHERE success", &[])
        .await;
    assert_eq!(legacy, 5);

    let app = TestApp::build().on(&url).spawn().await;
    let ready = app.anon().get("/readyz").await;
    assert_eq!(
        ready.status(),
        200,
        "migrations are current after the upgrade"
    );

    // Refinery's history holds the five old migrations as applied, and the new ones ran.
    let versions: Vec<i64> = db
        .rows(
            "SELECT version FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        &versions[..5],
        &[
            20261126000001,
            20261126000002,
            20261126000003,
            20261126000004,
            20261126000005
        ]
    );
    assert!(versions.len() > 5, "the migrations after 0.1 were applied");

    // The old account logs in with its old password hash and sees its old tasks.
    let login: Value = app
        .password_grant("ada@example.com", "a long passphrase")
        .await
        .good();
    let ada = app.with_token(login["access_token"].as_str().unwrap());
    let page: Value = ada.get("/api/v1/tasks?sort=created_at").await.good();
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Deploy the app", "Write the docs"]);
    let done = &page["items"][0];
    assert_eq!(done["status"], "done");
    assert!(done["completed_at"].is_string());

    // And it keeps working: a new task gets the next number.
    let project = done["project_id"].as_str().unwrap();
    let created: Value = ada
        .post(&tasks_path(project), json!({"title": "After the upgrade"}))
        .await
        .created();
    assert_eq!(created["number"], 3);
    app.stop().await;

    // A second start finds nothing to do.
    let again = TestApp::build().on(&url).spawn().await;
    let ready = again.anon().get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let count: i64 = db
        .scalar("SELECT count(*) FROM refinery_schema_history", &[])
        .await;
    assert_eq!(count as usize, versions.len());
}

/// Several instances migrating one empty database at once apply each migration once.
#[tokio::test]
async fn concurrent_migrations_apply_each_migration_once() {
    let url = create_empty_database().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { migrate(&url).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap();
    }
    let db = connect_db(&url).await;
    let (count, distinct): (i64, i64) = {
        let rows = db
            .rows(
                "SELECT count(*), count(DISTINCT version) FROM refinery_schema_history",
                &[],
            )
            .await;
        (rows[0].get(0), rows[0].get(1))
    };
    assert_eq!(count, distinct);
    let tables: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'tasks'",
            &[],
        )
        .await;
    assert_eq!(tables, 1);
}

/// The dump in tests/fixtures/lock-era.sql holds a history written before the journal had a
/// sequencer (ids handed out under one lock, with a gap where a deleted project's entries
/// were). After the upgrade, a client resuming after any id it may hold gets every entry after
/// it, those from before the upgrade and those after, each once and in order.
#[tokio::test]
async fn event_cursors_handed_out_before_the_sequencer_resume_exactly() {
    let url = create_empty_database().await;
    connect_db(&url)
        .await
        .batch(include_str!("../fixtures/lock-era.sql"))
        .await;
    let db = connect_db(&url).await;
    // Not what this tests: a resume older than the retention is reset (events.rs).
    db.execute("UPDATE activity SET at = now() - interval '1 hour'", &[])
        .await;
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect::<Vec<i64>>();
    let before = ids(db.rows("SELECT id FROM activity ORDER BY id", &[]).await);
    assert_eq!(before, [1, 2, 3, 4, 5, 7, 8]);

    let app = TestApp::build().on(&url).spawn().await;
    assert_eq!(app.anon().get("/readyz").await.status(), 200);
    let login: Value = app
        .password_grant("ada@example.com", "a long passphrase")
        .await
        .good();
    let ada = TestUser {
        id: db
            .scalar("SELECT id FROM users WHERE email = 'ada@example.com'", &[])
            .await,
        email: "ada@example.com".into(),
        password: "a long passphrase".into(),
        token: login["access_token"].as_str().unwrap().to_owned(),
        refresh_token: login["refresh_token"].as_str().unwrap().to_owned(),
    };
    let client = app.as_user(&ada);
    // New changes, after the upgrade.
    let projects: Page<Value> = client.get("/api/v1/projects").await.good();
    let launch = projects
        .items
        .iter()
        .find(|p| p["name"] == "Launch")
        .expect("the old project")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let task = client
        .post(&tasks_path(&launch), json!({"title": "After the upgrade"}))
        .await
        .created::<Value>();
    client
        .patch(&task_path(id_of(&task)), json!({"status": "done"}))
        .await
        .good::<Value>();

    // The history, read through the API, has the old ids unchanged and the new ones above.
    let page: Page<Value> = client
        .get(&format!("/api/v1/projects/{launch}/activity?limit=100"))
        .await
        .good();
    let mut all: Vec<i64> = page
        .items
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    all.reverse();
    assert_eq!(&all[..before.len()], &before[..]);
    assert_eq!(all.len(), before.len() + 2);
    assert!(all[before.len()] > 8, "{all:?}");

    // From every id a client may hold (the gap's 6 too), by header and by query.
    for after in 0..=8 {
        for by_header in [true, false] {
            let response = if by_header {
                open_raw(&app, &ada, "", Some(&after.to_string())).await
            } else {
                open_raw(&app, &ada, &format!("?after={after}"), None).await
            };
            let mut stream = Stream::new(response);
            for want in all.iter().filter(|id| **id > after) {
                let event = stream.event(SOON).await.expect("the stream goes on");
                assert_eq!(event.id, Some(*want), "resuming after {after}");
                assert_eq!(event.data["id"].as_i64(), Some(*want));
            }
            stream.assert_quiet(Duration::from_millis(200)).await;
        }
    }
}

/// A database whose keys grew past 64 characters before the limit existed (API.md §9): the
/// migration that brings the limit renumbers those projects, in the same order, and leaves the
/// others alone. The database is taken back to just before that migration by undoing it.
#[tokio::test]
async fn keys_that_grew_too_long_before_the_limit_are_renumbered_by_the_migration() {
    let url = create_test_database().await;
    let db = connect_db(&url).await;
    let app = TestApp::build().on(&url).spawn().await;
    let user = app.new_user().await;
    let owner = app.as_user(&user);
    let crowded = owner.create_project("Crowded").await.id;
    let tidy = owner.create_project("Tidy").await.id;
    for (project, n) in [(crowded, 5), (tidy, 3)] {
        for i in 0..n {
            owner
                .create_task(project, json!({ "title": format!("t{i}") }))
                .await;
        }
    }
    app.stop().await;
    // Refinery applies only versions above the newest applied one, so the migrations after
    // it are undone too (the journal's, V20261219000001; the webhooks', V20261223000023).
    db.batch(
        "ALTER TABLE tasks DROP CONSTRAINT tasks_position_short; \
         ALTER TABLE tasks DROP COLUMN previous_position; \
         ALTER TABLE tasks DROP COLUMN previous_epoch; \
         ALTER TABLE projects DROP COLUMN position_epoch; \
         DROP TABLE activity_pending; \
         DROP TABLE webhook_deliveries; \
         DROP TABLE webhooks; \
         DROP TABLE password_resets; \
         DELETE FROM refinery_schema_history WHERE version >= 20261218000001",
    )
    .await;
    // What thousands of moves into one gap used to leave: keys of 70 to 120 characters.
    db.execute(
        "UPDATE tasks t SET position = 'a0' || repeat('0', 60 + 10 * o.n::int) || 'V' \
         FROM (SELECT id, row_number() OVER (ORDER BY number) AS n FROM tasks \
               WHERE project_id = $1) o WHERE o.id = t.id",
        &[&crowded],
    )
    .await;
    let tidy_keys: Vec<String> = db
        .rows(
            "SELECT position FROM tasks WHERE project_id = $1 ORDER BY position",
            &[&tidy],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();

    let app = TestApp::build().on(&url).spawn().await;
    let owner = app.as_user(&user);
    let page: Page<Task> = owner
        .get(&tasks_path(crowded))
        .query(&[("sort", "position")])
        .await
        .good();
    let titles: Vec<&str> = page.items.iter().map(|t| t.title.as_str()).collect();
    // The longest key is the last task's: the order was t4, t3, … and stays so.
    assert_eq!(titles, ["t4", "t3", "t2", "t1", "t0"]);
    assert!(
        page.items.iter().all(|t| t.position.len() <= 64),
        "{page:?}"
    );
    assert!(page.items.iter().all(|t| t.version == 1));
    let page: Page<Task> = owner
        .get(&tasks_path(tidy))
        .query(&[("sort", "position")])
        .await
        .good();
    let kept: Vec<String> = page.items.into_iter().map(|t| t.position).collect();
    assert_eq!(kept, tidy_keys);
    // And the limit holds from now on.
    let limit: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'tasks_position_short'",
            &[],
        )
        .await;
    assert_eq!(limit, 1);
}
