//! Migrations: a fresh database, several instances at once, a database made by Docket 0.1
//! (migrated by sqlx) carried over in place, and event cursors handed out before the journal's
//! sequencer (issue 28) still resuming exactly.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

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

    // Every project got its four states, and every task is in its status's default state.
    assert_every_task_kept_its_place(&db).await;
    let project = done["project_id"].as_str().unwrap();
    let states: Value = ada
        .get(&format!("/api/v1/projects/{project}/states"))
        .await
        .good();
    let states = states["items"].as_array().unwrap();
    let names: Vec<&str> = states.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["To do", "In progress", "Done", "Canceled"]);
    assert_eq!(done["state_id"], states[2]["id"]);
    assert_eq!(page["items"][1]["state_id"], states[0]["id"]);

    // And it keeps working: a new task gets the next number.
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

/// A database made and used by the release before the workflow migration (through its API:
/// tasks in every status, moved on the board, commented, deleted, moved between projects;
/// tests/fixtures/main-era.sh) upgrades with every task where it was: same project, status,
/// position, version and history, in the default state of its status, each board column in
/// the same order whether read by status or by state.
#[tokio::test]
async fn a_database_of_the_release_before_keeps_every_task_where_it_is() {
    let url = create_empty_database().await;
    connect_db(&url)
        .await
        .batch(include_str!("../fixtures/main-era.sql"))
        .await;
    let db = connect_db(&url).await;
    const TASKS: &str = "SELECT id, project_id, status, position, version, updated_at::text \
         FROM tasks ORDER BY project_id, position COLLATE \"C\", id";
    type Row = (Uuid, Uuid, String, String, i64, String);
    let read = |rows: Vec<tokio_postgres::Row>| -> Vec<Row> {
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect()
    };
    let before = read(db.rows(TASKS, &[]).await);
    assert!(
        before.len() >= 10,
        "the fixture has tasks: {}",
        before.len()
    );
    let statuses: std::collections::BTreeSet<&str> = before.iter().map(|t| t.2.as_str()).collect();
    assert_eq!(statuses.len(), 4, "every status is in the fixture");
    let entries: i64 = db.scalar("SELECT count(*) FROM activity", &[]).await;

    let app = TestApp::build().on(&url).spawn().await;
    assert_eq!(app.anon().get("/readyz").await.status(), 200);
    assert_eq!(read(db.rows(TASKS, &[]).await), before);
    assert_every_task_kept_its_place(&db).await;
    let after: i64 = db.scalar("SELECT count(*) FROM activity", &[]).await;
    assert_eq!(after, entries, "the migration writes no history");

    // Through the API: each project's board, column by column, reads the same by status
    // (what clients read today) and by state.
    let login: Value = app
        .password_grant("ada@example.com", "a long passphrase")
        .await
        .good();
    let ada = app.with_token(login["access_token"].as_str().unwrap());
    let projects: Value = ada.get("/api/v1/projects").await.good();
    let projects = projects["items"].as_array().unwrap();
    assert_eq!(projects.len(), 3, "{projects:?}");
    let column = |query: Vec<(&'static str, String)>, project: String| {
        let ada = &ada;
        async move {
            let page: Value = ada
                .get(&tasks_path(&project))
                .query(&query)
                .query(&[("sort", "position"), ("limit", "100")])
                .await
                .good();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().parse::<Uuid>().unwrap())
                .collect::<Vec<_>>()
        }
    };
    for project in projects {
        let id = project["id"].as_str().unwrap().to_owned();
        let states: Value = ada
            .get(&format!("/api/v1/projects/{id}/states"))
            .await
            .good();
        for state in states["items"].as_array().unwrap() {
            let category = state["category"].as_str().unwrap().to_owned();
            let expected: Vec<Uuid> = before
                .iter()
                .filter(|t| t.1.to_string() == id && t.2 == category)
                .map(|t| t.0)
                .collect();
            let by_status = column(vec![("status", category)], id.clone()).await;
            let by_state = column(
                vec![("state", state["id"].as_str().unwrap().to_owned())],
                id.clone(),
            )
            .await;
            assert_eq!(by_status, expected);
            assert_eq!(by_state, expected);
        }
    }

    // And the new parts work on the old data: a column, a card moved into it and back.
    let launch = projects.iter().find(|p| p["name"] == "Launch").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let review: Value = ada
        .post(
            &format!("/api/v1/projects/{launch}/states"),
            json!({"name": "Review", "category": "in_progress"}),
        )
        .await
        .created();
    let card = before
        .iter()
        .find(|t| t.1.to_string() == launch && t.2 == "todo")
        .unwrap()
        .0;
    let moved: Value = ada
        .post(
            &format!("/api/v1/tasks/{card}/move"),
            json!({"state_id": review["id"]}),
        )
        .await
        .good();
    assert_eq!(moved["status"], "in_progress");
    let todo: Value = ada
        .get(&format!("/api/v1/projects/{launch}/states"))
        .await
        .good();
    let todo = todo["items"][0]["id"].as_str().unwrap().to_owned();
    ada.delete(&format!(
        "/api/v1/states/{}?move_to={todo}",
        review["id"].as_str().unwrap()
    ))
    .await
    .no_content();
    let back: Value = ada.get(&task_path(card)).await.good();
    assert_eq!(
        (back["status"].as_str(), back["state_id"].as_str()),
        (Some("todo"), Some(todo.as_str()))
    );
}

/// The workflow migration's promise (V20261220000001): each project has exactly the four
/// states, one default per category, and each task sits in the default state of its status,
/// in its own project.
async fn assert_every_task_kept_its_place(db: &TestDb) {
    let misplaced: i64 = db
        .scalar(
            "SELECT count(*) FROM tasks t LEFT JOIN states s ON s.id = t.state_id \
             WHERE s.id IS NULL OR s.project_id <> t.project_id OR s.category <> t.status \
                OR NOT s.is_default",
            &[],
        )
        .await;
    assert_eq!(misplaced, 0);
    let projects: Vec<(i64, i64, Vec<String>)> = db
        .rows(
            "SELECT count(*), count(*) FILTER (WHERE s.is_default), \
                 array_agg(s.name ORDER BY s.position) \
             FROM projects p JOIN states s ON s.project_id = p.id GROUP BY p.id",
            &[],
        )
        .await
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let total: i64 = db.scalar("SELECT count(*) FROM projects", &[]).await;
    assert_eq!(projects.len() as i64, total);
    for (states, defaults, names) in projects {
        assert_eq!((states, defaults), (4, 4));
        assert_eq!(names, ["To do", "In progress", "Done", "Canceled"]);
    }
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
/// others alone. The database is migrated to just before that migration (refinery applies no
/// migration older than one applied, so it cannot be undone once later ones ran) and filled
/// as the release of then would have.
#[tokio::test]
async fn keys_that_grew_too_long_before_the_limit_are_renumbered_by_the_migration() {
    let url = create_empty_database().await;
    docket::db::migrations::migrate_to(&url.parse().unwrap(), 20261201000012)
        .await
        .unwrap();
    let db = connect_db(&url).await;
    let (crowded, tidy, creator) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    db.execute(
        "INSERT INTO users (id, email, name, password_hash, role) \
         VALUES ($1, 'creator@example.com', 'Creator', 'x', 'user')",
        &[&creator],
    )
    .await;
    for (project, name, n) in [(crowded, "Crowded", 5i64), (tidy, "Tidy", 3)] {
        db.batch("BEGIN").await;
        db.execute(
            "INSERT INTO projects (id, name, next_task_number, task_count) VALUES ($1, $2, $3::bigint + 1, $3::bigint)",
            &[&project, &name, &n],
        )
        .await;
        db.execute(
            "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, 'owner')",
            &[&project, &creator],
        )
        .await;
        db.batch("COMMIT").await;
        // Created one by one, as the API did: each goes last (the position trigger).
        for i in 0..n {
            db.execute(
                "INSERT INTO tasks (id, project_id, number, title, status, created_by) \
                 VALUES ($1, $2, $3, $4, 'todo', $5)",
                &[
                    &Uuid::now_v7(),
                    &project,
                    &(i + 1),
                    &format!("t{i}"),
                    &creator,
                ],
            )
            .await;
        }
    }
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
    let user = app.new_user().await;
    for project in [crowded, tidy] {
        db.execute(
            "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, 'viewer')",
            &[&project, &user.id],
        )
        .await;
    }
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

/// Writers append to `activity_pending` and the sequencer moves the rows into `activity`: a kind
/// that one accepts and the other refuses fails its writer's commit (the workflow's
/// `task.related` did, until V20261220000002), or worse, the move. Since V20270102000001 both
/// check against one list, the domain `activity_kind`.
#[tokio::test]
async fn the_journal_and_the_history_accept_the_same_kinds() {
    let db = connect_db(&create_test_database().await).await;
    let kinds: String = db
        .scalar(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contypid = 'activity_kind'::regtype AND conname = 'activity_kind_known'",
            &[],
        )
        .await;
    for kind in [
        "task.related",
        "task.recurred",
        "attachment.added",
        "github.synced",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds}");
    }
    let journal: String = db
        .scalar(
            "SELECT format_type(atttypid, NULL) FROM pg_attribute \
             WHERE attrelid = 'activity_pending'::regclass AND attname = 'kind'",
            &[],
        )
        .await;
    assert_eq!(journal, "activity_kind");
    let project = Uuid::now_v7();
    for table in ["activity_pending", "activity"] {
        let insert = |kind: &str| {
            format!("INSERT INTO {table} (kind, project_id) VALUES ('{kind}', '{project}')")
        };
        let refused = db.try_execute(&insert("task.exploded"), &[]).await;
        let error = refused.expect_err("an unknown kind is refused");
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION),
            "{table}: {error:?}"
        );
        assert_eq!(db.execute(&insert("attachment.deleted"), &[]).await, 1);
    }
}
