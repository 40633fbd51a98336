//! Issue 25: `docket backup` / `docket restore` (API.md §7, §15), through the real binary.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use docket::db::embedded::EmbeddedPostgres;
use serde_json::json;
use uuid::Uuid;

use crate::binary::docket;
use crate::helpers::*;

/// Runs a `docket` command on a blocking thread (the caller's runtime keeps serving).
async fn run_docket(args: Vec<String>, envs: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docket(&args).envs(envs).output().expect("docket runs")
    })
    .await
    .unwrap()
}

fn external(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_owned()),
        ("DOCKET_JWT_SECRET", JWT_SECRET.to_owned()),
        ("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY.to_owned()),
    ]
}

fn embedded(dir: &Path) -> Vec<(&'static str, String)> {
    vec![("DOCKET_DATA_DIR", dir.display().to_string())]
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The ids of the tasks of `project` in the database at `url`.
async fn task_ids(url: &str, project: Uuid) -> BTreeSet<Uuid> {
    let db = connect_db(url).await;
    db.rows("SELECT id FROM tasks WHERE project_id = $1", &[&project])
        .await
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The `tasks` line of a backup's summary (`  tasks   123 rows`).
fn summary_rows(stdout: &str, table: &str) -> i64 {
    stdout
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(table)).then(|| words.next().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {table} line in the summary:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_under_8_writers_restores_every_acknowledged_task_and_a_full_target_is_refused() {
    let app = TestApp::build()
        .config(|args| args.rate_limit_per_minute = Some("1000000".into()))
        .spawn()
        .await;
    let alice = app.new_client().await;
    let project = alice.create_project("Backed up").await.id;
    let scratch = scratch_dir("docket-backup");
    let file = scratch.join("docket.backup");

    let stop = AtomicBool::new(false);
    let acknowledged = Mutex::new(Vec::<(Instant, Uuid)>::new());
    let writer = |w: usize| {
        let (alice, stop, acknowledged) = (&alice, &stop, &acknowledged);
        async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let task = alice
                    .create_task(project, json!({"title": format!("writer {w} task {i}")}))
                    .await;
                acknowledged.lock().unwrap().push((Instant::now(), task.id));
                i += 1;
            }
        }
    };
    let backing_up = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let started = Instant::now();
        let output = run_docket(
            vec![
                "backup".into(),
                "--output".into(),
                file.display().to_string(),
            ],
            external(&app.database_url),
        )
        .await;
        let finished = Instant::now();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        (started, finished, output)
    };
    let (_, (started, finished, output)) =
        tokio::join!(futures::future::join_all((0..8).map(writer)), backing_up);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(stdout.starts_with("backup complete"), "{stdout}");
    let acknowledged = acknowledged.into_inner().unwrap();
    let before: BTreeSet<Uuid> = acknowledged
        .iter()
        .filter(|(at, _)| *at < started)
        .map(|(_, id)| *id)
        .collect();
    let during = acknowledged
        .iter()
        .filter(|(at, _)| *at >= started && *at < finished)
        .count();
    assert!(before.len() > 8, "the writers wrote: {}", before.len());
    // Nothing but the finished file is left in the directory.
    let names: Vec<_> = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("docket.backup")]);

    // Into a fresh embedded data dir.
    let data_dir = scratch.join("restored");
    let output = run_docket(
        vec!["restore".into(), file.display().to_string()],
        embedded(&data_dir),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let postgres = EmbeddedPostgres::locate(&data_dir).unwrap();
    postgres.start().unwrap();
    let url = postgres.url("docket");
    let restored = task_ids(&url, project).await;
    let missing: Vec<_> = before.difference(&restored).collect();
    assert!(
        missing.is_empty(),
        "{} of {} tasks acknowledged before the backup are missing",
        missing.len(),
        before.len()
    );
    assert_eq!(
        restored.len() as i64,
        summary_rows(&stdout, "tasks"),
        "the summary counts what the file holds"
    );
    let all: BTreeSet<Uuid> = acknowledged.iter().map(|(_, id)| *id).collect();
    assert!(restored.is_subset(&all), "nothing was invented");
    eprintln!(
        "{} acknowledged before the backup, {during} during it, {} restored",
        before.len(),
        restored.len()
    );
    // The restored database is migrated and serves: the server's own readiness says so.
    let migrated: i64 = connect_db(&url)
        .await
        .scalar("SELECT count(*) FROM refinery_schema_history", &[])
        .await;
    let current: i64 = app
        .db
        .scalar("SELECT count(*) FROM refinery_schema_history", &[])
        .await;
    assert_eq!(migrated, current);
    postgres.stop().unwrap();

    // A second restore into the now full data dir is refused and changes nothing.
    let output = run_docket(
        vec!["restore".into(), file.display().to_string()],
        embedded(&data_dir),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("not empty"), "{}", text(&output));
    postgres.start().unwrap();
    assert_eq!(task_ids(&url, project).await, restored);
    postgres.stop().unwrap();

    // The same into a full external database (the one backed up).
    let before_refusal = task_ids(&app.database_url, project).await;
    let output = run_docket(
        vec!["restore".into(), file.display().to_string()],
        external(&app.database_url),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(task_ids(&app.database_url, project).await, before_refusal);

    // And into an empty external database it loads.
    let empty = create_empty_database().await;
    let output = run_docket(
        vec!["restore".into(), file.display().to_string()],
        external(&empty),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(task_ids(&empty, project).await, restored);
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_backup_leaves_no_file_and_a_file_that_is_no_backup_changes_nothing() {
    let app = spawn_app().await;
    let scratch = scratch_dir("docket-backup");
    // A directory that does not exist: exit 1, nothing written.
    let output = run_docket(
        vec![
            "backup".into(),
            "--output".into(),
            scratch.join("missing/docket.backup").display().to_string(),
        ],
        external(&app.database_url),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    // A PostgreSQL that refuses the dump (a database that does not exist).
    let gone = app.database_url.replace("/test_", "/gone_");
    let output = run_docket(
        vec![
            "backup".into(),
            "--output".into(),
            scratch.join("docket.backup").display().to_string(),
        ],
        external(&gone),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);

    // Not an archive: refused before anything is created.
    let junk = scratch.join("junk.backup");
    std::fs::write(&junk, "this is not a backup").unwrap();
    let empty = create_empty_database().await;
    let output = run_docket(
        vec!["restore".into(), junk.display().to_string()],
        external(&empty),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("not a backup"), "{}", text(&output));
    let tables: i64 = connect_db(&empty)
        .await
        .scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await;
    assert_eq!(tables, 0);
    std::fs::remove_dir_all(&scratch).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Project export (API.md §15)
// ---------------------------------------------------------------------------------------------

fn export_path(project: Uuid) -> String {
    format!("/api/v1/projects/{project}/export")
}

#[tokio::test]
async fn an_export_is_the_versioned_document_of_everything_in_the_project_for_any_member_only() {
    let app = spawn_app().await;
    let (alice, viewer, stranger) =
        tokio::join!(app.new_client(), app.new_client(), app.new_client());
    let project = alice.create_project("Launch \"Q1\" / ünïcode").await;
    alice.add_member(project.id, &viewer, "viewer").await;
    let parent = alice
        .create_task(
            project.id,
            json!({"title": "Parent", "description": "line 1\nline 2", "priority": 3,
                   "due_date": "2027-01-31", "labels": ["b", "a"], "status": "in_progress",
                   "assignee_id": alice.id}),
        )
        .await;
    let child = alice
        .create_task(
            project.id,
            json!({"title": "Child", "parent_id": parent.id}),
        )
        .await;
    let done = alice
        .create_task(project.id, json!({"title": "Done", "status": "done"}))
        .await;
    for body in ["first", "second"] {
        alice
            .post(&comments_path(parent.id), json!({ "body": body }))
            .await
            .created::<Comment>();
    }
    // The manual order, not creation order: "Done" first.
    alice
        .post(
            &format!("/api/v1/tasks/{}/move", done.id),
            json!({"after_id": parent.id}),
        )
        .await
        .good::<Task>();

    let response = viewer.get(&export_path(project.id)).await;
    let document: serde_json::Value = response.good();
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let disposition = response.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"Launch--Q1")
            && disposition.ends_with(".docket.json\""),
        "{disposition}"
    );
    assert_eq!(document["format"], "docket-export");
    assert_eq!(document["version"], 1);
    assert!(is_utc_timestamp(&document["exported_at"]));
    assert_eq!(document["project"]["id"], project.id.to_string());
    assert_eq!(document["project"]["name"], project.name);
    let members = document["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert!(
        members.iter().all(|m| m.get("email").is_none()),
        "no emails"
    );
    assert_eq!(
        members
            .iter()
            .map(|m| (m["user_id"].as_str().unwrap(), m["role"].as_str().unwrap()))
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            (alice.id.to_string().as_str(), "owner"),
            (viewer.id.to_string().as_str(), "viewer")
        ])
    );
    let states: Vec<State> = serde_json::from_value(document["states"].clone()).unwrap();
    assert_eq!(states, alice.states(project.id).await);
    let tasks = document["tasks"].as_array().unwrap();
    let titles: Vec<_> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Done", "Parent", "Child"]);
    // Each task is the API's task, field for field, plus its comments.
    for exported in tasks {
        let mut exported = exported.clone();
        let comments = exported
            .as_object_mut()
            .unwrap()
            .remove("comments")
            .unwrap();
        let exported: Task = serde_json::from_value(exported).unwrap();
        let current = alice.get_task(exported.id).await;
        assert_eq!(exported, current);
        let listed: Page<Comment> = alice.get(&comments_path(exported.id)).await.good();
        let comments: Vec<Comment> = serde_json::from_value(comments).unwrap();
        assert_eq!(comments, listed.items);
    }
    assert_eq!(tasks[2]["parent_id"], parent.id.to_string());
    assert_eq!(child.parent_id, Some(parent.id));
    let activity = document["activity"].as_array().unwrap();
    assert!(
        activity.iter().any(|e| e["kind"] == "task.created"),
        "the history is in it"
    );
    let ids: Vec<i64> = activity.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");

    stranger
        .get(&export_path(project.id))
        .await
        .problem(404, "not_found");
    app.anon()
        .get(&export_path(project.id))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn an_export_larger_than_a_page_keeps_every_task_once_in_manual_order() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Big").await;
    // 1,100 tasks (more than two of the export's pages) straight into the table, in one
    // statement; the state is the project's todo default.
    app.db
        .execute(
            "INSERT INTO tasks (id, project_id, number, title, state_id, status, position, created_by) \
             SELECT gen_random_uuid(), $1, n, 'task ' || n, (SELECT id FROM states WHERE project_id = $1 \
                 AND category = 'todo' AND is_default), 'todo', lpad(n::text, 6, '0'), $2 \
             FROM generate_series(1, 1100) AS n",
            &[&project.id, &alice.id],
        )
        .await;
    let document: serde_json::Value = alice.get(&export_path(project.id)).await.good();
    let titles: Vec<String> = document["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (1..=1100).map(|n| format!("task {n}")).collect();
    assert_eq!(titles, expected);
}
