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
    let points: serde_json::Value = alice
        .post(
            &fields_path(project.id),
            json!({"name": "Points", "kind": "number"}),
        )
        .await
        .created();
    let points = points["id"].as_str().unwrap().to_owned();
    let parent = alice
        .create_task(
            project.id,
            json!({"title": "Parent", "description": "line 1\nline 2", "priority": 3,
                   "due_date": "2027-01-31", "labels": ["b", "a"], "status": "in_progress",
                   "assignee_id": alice.id, "fields": {&points: 5}}),
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
    // The field definitions the tasks' values are keyed by.
    let fields: serde_json::Value = alice.get(&fields_path(project.id)).await.good();
    assert_eq!(document["fields"], fields["items"]);
    assert_eq!(document["fields"][0]["id"], points.as_str());
    let tasks = document["tasks"].as_array().unwrap();
    let titles: Vec<_> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Done", "Parent", "Child"]);
    assert_eq!(tasks[1]["fields"][&points], 5);
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

// ---------------------------------------------------------------------------------------------
// Project import (API.md §15)
// ---------------------------------------------------------------------------------------------

const IMPORT: &str = "/api/v1/projects/import";

fn import_csv(client: &impl RequestHelper, name: &str, csv: impl Into<Vec<u8>>) -> TestRequest {
    client
        .request(reqwest::Method::POST, IMPORT)
        .query(&[("name", name)])
        .header("content-type", "text/csv")
        .body(csv.into())
}

fn import_json(client: &impl RequestHelper, document: &serde_json::Value) -> TestRequest {
    client
        .request(reqwest::Method::POST, IMPORT)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(document).unwrap())
}

/// Every task of a project in manual order (one page: tests import fewer than 100).
async fn tasks_in_order(client: &impl RequestHelper, project: Uuid) -> Vec<Task> {
    client
        .get(&format!("{}?sort=position&limit=100", tasks_path(project)))
        .await
        .good::<Page<Task>>()
        .items
}

async fn project_count(app: &TestApp, user: Uuid) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM memberships WHERE user_id = $1",
            &[&user],
        )
        .await
}

#[tokio::test]
async fn an_export_imports_as_a_new_project_with_every_field_kept() {
    let app = spawn_app().await;
    let (alice, bob) = tokio::join!(app.new_client(), app.new_client());
    let source = alice.create_project("Source").await;
    alice.add_member(source.id, &bob, "editor").await;
    // Custom fields of the kinds whose values name something of the project.
    let field = |body: serde_json::Value| {
        let alice = &alice;
        async move {
            let field: serde_json::Value =
                alice.post(&fields_path(source.id), body).await.created();
            field
        }
    };
    let size = field(json!({"name": "Size", "kind": "select",
        "options": [{"name": "S"}, {"name": "L", "color": "#1f883d"}]}))
    .await;
    let tags = field(json!({"name": "Tags", "kind": "multi_select",
        "options": [{"name": "x"}, {"name": "y"}]}))
    .await;
    let points = field(json!({"name": "Points", "kind": "number"})).await;
    let owner = field(json!({"name": "Owner", "kind": "user"})).await;
    let id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_owned();
    let opt = |f: &serde_json::Value, i: usize| f["options"][i]["id"].clone();
    let values = json!({id(&size): opt(&size, 1), id(&tags): [opt(&tags, 0), opt(&tags, 1)],
        id(&points): 2.5, id(&owner): bob.id});
    let specs = [
        json!({"title": "Plain", "fields": {id(&size): opt(&size, 0)}}),
        json!({"title": "Everything, \"quoted\"", "description": "multi\nline ✓", "priority": 4,
               "due_date": "2027-02-28", "labels": ["Zeta", "alpha"], "status": "in_progress",
               "assignee_id": alice.id, "fields": values}),
        json!({"title": "Done one", "status": "done", "assignee_id": bob.id}),
        json!({"title": "Canceled", "status": "canceled", "priority": 1}),
    ];
    let mut made = Vec::new();
    for spec in specs {
        made.push(alice.create_task(source.id, spec).await);
    }
    // Required from now on: the tasks without a value are still valid, and still imported.
    field(json!({"name": "Due by", "kind": "date", "required": true})).await;
    // A manual order that is not creation order.
    alice
        .post(
            &format!("/api/v1/tasks/{}/move", made[0].id),
            json!({"after_id": made[3].id}),
        )
        .await
        .good::<Task>();
    alice
        .post(&comments_path(made[1].id), json!({"body": "by alice"}))
        .await
        .created::<Comment>();
    let bobs = app.as_user(&bob);
    let bob_comment: Comment = bobs
        .post(&comments_path(made[1].id), json!({"body": "by bob"}))
        .await
        .created();

    let document: serde_json::Value = alice.get(&export_path(source.id)).await.good();
    let carol = app.new_client().await;
    let imported: Project = import_json(&carol, &document).await.created();
    assert_eq!(imported.name, "Source");
    assert_eq!(imported.my_role, "owner");
    let members: Page<Member> = carol.get(&members_path(imported.id)).await.good();
    assert_eq!(members.items.len(), 1, "members are not imported");

    let before = tasks_in_order(&alice, source.id).await;
    let after = tasks_in_order(&carol, imported.id).await;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new.title, old.title);
        assert_eq!(new.description, old.description);
        assert_eq!(new.status, old.status);
        assert_eq!(new.priority, old.priority);
        assert_eq!(new.due_date, old.due_date);
        assert_eq!(new.labels, old.labels);
        assert_eq!(new.position, old.position, "the manual order's keys");
        assert_eq!(new.comment_count, old.comment_count);
        assert_eq!(new.created_by, carol.id, "the importer");
        // Field values by the new fields' ids and options, read by name; a user value only
        // when it is the importer (none here).
        assert_eq!(
            named_values(&carol, imported.id, new).await,
            named_values(&alice, source.id, old)
                .await
                .into_iter()
                .filter(|(name, _)| name != "Owner")
                .collect::<BTreeSet<_>>()
        );
        // Assignees are kept only when they are the importer: none here.
        assert_eq!(new.assignee_id, None);
        let old_comments: Page<Comment> = alice.get(&comments_path(old.id)).await.good();
        let new_comments: Page<Comment> = carol.get(&comments_path(new.id)).await.good();
        assert_eq!(new_comments.items.len(), old_comments.items.len());
        for (o, n) in old_comments.items.iter().zip(&new_comments.items) {
            let author = &o.author.as_ref().unwrap().name;
            assert!(
                n.body
                    .starts_with(&format!("**{author}** wrote on {}", o.created_at)),
                "{}",
                n.body
            );
            assert!(n.body.ends_with(&o.body));
            assert_eq!(n.author.as_ref().unwrap().id, carol.id);
        }
    }
    assert_ne!(
        after[0].title, "Plain",
        "the manual order, not creation order"
    );
    let fields_of = |v: serde_json::Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let options: Vec<_> = f["options"]
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .map(|o| (o["name"].clone(), o["color"].clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    f["name"].clone(),
                    f["kind"].clone(),
                    f["required"].clone(),
                    options,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        fields_of(carol.get(&fields_path(imported.id)).await.good()),
        fields_of(alice.get(&fields_path(source.id)).await.good()),
        "the fields: names, kinds, required, options with their colours, in order"
    );
    assert!(after
        .iter()
        .find(|t| t.status == "done")
        .unwrap()
        .completed_at
        .is_some());
    assert_eq!(bob_comment.author.unwrap().id, bob.id);

    // The importer's own assignments are kept; a name can be given.
    let mine: Project = import_json(&alice, &document)
        .query(&[("name", "Copy")])
        .await
        .created();
    assert_eq!(mine.name, "Copy");
    let copy = tasks_in_order(&alice, mine.id).await;
    let everything = copy.iter().find(|t| t.priority == 4).unwrap();
    assert_eq!(everything.assignee_id, Some(alice.id));
    assert!(copy.iter().all(|t| t.assignee_id != Some(bob.id)));
}

/// A task's custom field values as (field name, value by name: an option's name for selects).
async fn named_values(
    user: &UserClient<'_>,
    project: Uuid,
    task: &Task,
) -> BTreeSet<(String, String)> {
    let fields: serde_json::Value = user.get(&fields_path(project)).await.good();
    let fields = fields["items"].as_array().unwrap().clone();
    let option_name = |field: &serde_json::Value, id: &serde_json::Value| {
        field["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == *id)
            .map(|o| o["name"].to_string())
            .unwrap_or_else(|| panic!("{id} is no option of {field}"))
    };
    task.fields
        .iter()
        .map(|(key, value)| {
            let field = fields.iter().find(|f| f["id"] == key.as_str()).unwrap();
            let shown = match field["kind"].as_str().unwrap() {
                "select" => option_name(field, value),
                "multi_select" => value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| option_name(field, v))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => value.to_string(),
            };
            (field["name"].as_str().unwrap().to_owned(), shown)
        })
        .collect()
}

#[tokio::test]
async fn a_csv_with_quotes_newlines_a_bom_and_crlf_imports_in_row_order() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let csv = "\u{feff}Priority,title,ignored,labels,due_date,status,description\r\n\
               3,\"Commas, inside\",x,\"Bug, UI ,bug\",2027-03-01,in_progress,\"two\r\nlines\"\r\n\
               ,\"He said \"\"hi\"\"\",,,,,\r\n\
               0,Plain,,,,done,\r\n";
    let project: Project = import_csv(&alice, "From CSV", csv).await.created();
    let tasks = tasks_in_order(&alice, project.id).await;
    let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["Commas, inside", "He said \"hi\"", "Plain"]);
    assert_eq!(tasks[0].priority, 3);
    assert_eq!(tasks[0].labels, ["bug", "ui"]);
    assert_eq!(tasks[0].due_date.as_deref(), Some("2027-03-01"));
    assert_eq!(tasks[0].status, "in_progress");
    assert_eq!(tasks[0].description, "two\r\nlines");
    assert_eq!(tasks[1].status, "todo", "an empty cell is the default");
    assert_eq!(tasks[1].priority, 0);
    assert_eq!(tasks[2].status, "done");
    assert!(tasks[2].completed_at.is_some());
    assert_eq!(
        tasks.iter().map(|t| t.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // Each task's history starts with its creation by the importer, in row order (the import
    // writes its journal batch by batch inside its transaction).
    app.journal_settled().await;
    let created: Vec<Uuid> = app
        .db
        .rows(
            "SELECT task_id FROM activity WHERE project_id = $1 AND kind = 'task.created' \
             AND actor_id = $2 ORDER BY id",
            &[&project.id, &alice.id],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(created, tasks.iter().map(|t| t.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn one_bad_row_among_10000_changes_nothing_and_is_named() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let projects_before = project_count(&app, alice.id).await;
    let mut csv = String::from("title,due_date,priority,description\n");
    for n in 1..=10_000 {
        let due = if n == 7_345 {
            "2027-02-30"
        } else {
            "2027-01-15"
        };
        csv.push_str(&format!("task {n},{due},2,the {n}th row of a long file\n"));
    }
    assert!(csv.len() > 256 * 1024, "past the server's usual body limit");
    let problem = import_csv(&alice, "Almost", csv.clone())
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&problem),
        [("rows.7345.due_date".to_owned(), "invalid".to_owned())]
    );
    assert_eq!(project_count(&app, alice.id).await, projects_before);
    let tasks: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM tasks WHERE created_by = $1",
            &[&alice.id],
        )
        .await;
    assert_eq!(tasks, 0, "nothing was written");

    // The same file made whole imports every row.
    let fixed = csv.replace("2027-02-30", "2027-02-28");
    let project: Project = import_csv(&alice, "Whole", fixed).await.created();
    let count: serde_json::Value = alice
        .get(&format!("{}/counts", tasks_path(project.id)))
        .await
        .good();
    assert_eq!(count["total"], 10_000, "{count}");
}

#[tokio::test]
async fn bad_imports_are_refused_with_their_reasons_and_change_nothing() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let before = project_count(&app, alice.id).await;
    // Many bad rows: twenty named, the total in the detail.
    let mut csv = String::from("title,status\n");
    for _ in 0..30 {
        csv.push_str(",sideways\n");
    }
    let problem = import_csv(&alice, "Bad", csv)
        .await
        .problem(422, "validation_failed");
    let errors = field_errors(&problem);
    assert_eq!(errors.len(), 20);
    assert_eq!(errors[0].0, "rows.1.title");
    assert_eq!(errors[1].0, "rows.1.status");
    assert!(
        problem["detail"].as_str().unwrap().starts_with("60 "),
        "{problem}"
    );
    // No title column; no name; not JSON; JSON that is not an export; another media type.
    import_csv(&alice, "X", "name,status\nx,todo\n")
        .await
        .problem(422, "validation_failed");
    alice
        .request(reqwest::Method::POST, IMPORT)
        .header("content-type", "text/csv")
        .body("title\nx\n")
        .await
        .problem(422, "validation_failed");
    alice
        .request(reqwest::Method::POST, IMPORT)
        .header("content-type", "application/json")
        .body("{\"format\": ")
        .await
        .problem(400, "malformed_json");
    import_json(
        &alice,
        &json!({"format": "docket-export", "version": 99, "project": {"name": "x"}, "tasks": []}),
    )
    .await
    .problem(422, "validation_failed");
    import_json(&alice, &json!({"hello": "world"}))
        .await
        .problem(422, "validation_failed");
    // A bad field definition, and a value its field's kind refuses: each named.
    let field = uuid::Uuid::now_v7();
    let problem = import_json(
        &alice,
        &json!({"format": "docket-export", "version": 1, "project": {"name": "x"},
                "fields": [{"id": field, "name": " ", "kind": "number"}], "tasks": []}),
    )
    .await
    .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "fields.0.name", "{problem}");
    let problem = import_json(
        &alice,
        &json!({"format": "docket-export", "version": 1, "project": {"name": "x"},
                "fields": [{"id": field, "name": "Points", "kind": "number"}],
                "tasks": [{"title": "ok"}, {"title": "t", "fields": {field.to_string(): "many"}}]}),
    )
    .await
    .problem(422, "validation_failed");
    assert_eq!(
        problem["errors"][0]["field"],
        format!("rows.2.fields.{field}"),
        "{problem}"
    );
    alice
        .request(reqwest::Method::POST, IMPORT)
        .header("content-type", "text/plain")
        .body("title\nx\n")
        .await
        .problem(415, "unsupported_media_type");
    // Past 64 MiB.
    let huge = vec![b'x'; 64 * 1024 * 1024 + 1];
    import_csv(&alice, "Huge", huge)
        .await
        .problem(413, "payload_too_large");
    app.anon()
        .request(reqwest::Method::POST, IMPORT)
        .header("content-type", "text/csv")
        .body("title\nx\n")
        .await
        .problem(401, "unauthenticated");
    assert_eq!(project_count(&app, alice.id).await, before);
}

/// Tasks anywhere whose title starts with `prefix` (rows of a refused import must be none).
async fn tasks_titled(app: &TestApp, prefix: &str) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM tasks WHERE starts_with(title, $1)",
            &[&prefix],
        )
        .await
}

#[tokio::test]
async fn a_csv_cut_off_mid_row_after_batches_were_written_changes_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let before = project_count(&app, alice.id).await;
    // 2,500 rows: two batches of 1,000 are written while the body still arrives.
    let mut csv = String::from("title,description\n");
    for n in 0..2500 {
        csv.push_str(&format!("cut {n},\"row {n}\"\n"));
    }
    csv.push_str("cut last,\"a quoted cell that never en");
    let full = format!("{csv}ds\"\n");
    let head = format!(
        "POST {IMPORT}?name=Cut HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: text/csv\r\ncontent-length: {}\r\n\r\n",
        alice.token,
        full.len()
    );
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(csv.as_bytes()).await.unwrap();
    // The client goes away mid-row: the server sees the body end short of its length.
    stream.shutdown().await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response))
        .await
        .expect("the server answers and closes")
        .ok();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.is_empty() || response.starts_with("HTTP/1.1 400"),
        "{response}"
    );
    assert_eq!(project_count(&app, alice.id).await, before);
    assert_eq!(tasks_titled(&app, "cut ").await, 0);
    // The same rows sent whole are valid: all 2,501 arrive.
    let project: Project = import_csv(&alice, "Whole", full).await.created();
    assert_eq!(project_count(&app, alice.id).await, before + 1);
    let count: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM tasks WHERE project_id = $1",
            &[&project.id],
        )
        .await;
    assert_eq!(count, 2501);
}

#[tokio::test]
async fn a_valid_csv_one_byte_past_64_mib_is_413_after_streaming_and_creates_nothing() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let before = project_count(&app, alice.id).await;
    // Valid rows all the way (thousands written in batches before the cap is reached).
    let description = "d".repeat(9000);
    let mut csv = String::from("title,description\n");
    let mut n = 0;
    while csv.len() <= 64 * 1024 * 1024 {
        csv.push_str(&format!("big {n},{description}\n"));
        n += 1;
    }
    let mut csv = csv.into_bytes();
    csv.truncate(64 * 1024 * 1024 + 1);
    import_csv(&alice, "Big", csv)
        .await
        .problem(413, "payload_too_large");
    assert_eq!(project_count(&app, alice.id).await, before);
    assert_eq!(tasks_titled(&app, "big ").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Across releases (tests/fixtures/portability/README.md)
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/portability")
        .join(name)
}

/// Every backup and export an earlier release left in the fixtures.
fn fixtures(suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn fixtures_of_every_release_restore_and_import() {
    let backups = fixtures(".backup");
    assert!(!backups.is_empty());
    for backup in backups {
        let empty = create_empty_database().await;
        let output = run_docket(
            vec!["restore".into(), backup.display().to_string()],
            external(&empty),
        )
        .await;
        assert!(
            output.status.success(),
            "{}: {}",
            backup.display(),
            text(&output)
        );
        let db = connect_db(&empty).await;
        let titles: BTreeSet<String> = db
            .rows(
                "SELECT t.title FROM tasks t JOIN projects p ON p.id = t.project_id \
                 WHERE p.name LIKE 'Fixture %'",
                &[],
            )
            .await
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(
            titles,
            BTreeSet::from(
                ["Write the release notes", "Ship it ✓", "Dropped idea"].map(String::from)
            ),
            "{}",
            backup.display()
        );
        // The restored instance serves, on this release's schema: Ada signs in.
        let app = TestApp::build().on(&empty).spawn().await;
        let tokens: serde_json::Value =
            app.password_grant("ada@example.com", PASSWORD).await.good();
        let ada = app.with_token(tokens["access_token"].as_str().unwrap());
        let projects: Page<Project> = ada.get("/api/v1/projects").await.good();
        let fixture_project = projects
            .items
            .iter()
            .find(|p| p.name.starts_with("Fixture"))
            .unwrap();
        let tasks = tasks_in_order(&ada, fixture_project.id).await;
        assert_eq!(tasks.len(), 3);
        assert!(tasks.iter().all(|t| t.state_id != Uuid::nil()));
    }

    let exports = fixtures(".json");
    assert!(!exports.is_empty());
    let app = spawn_app().await;
    let alice = app.new_client().await;
    for export in exports {
        let document: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
        let project: Project = import_json(&alice, &document).await.created();
        assert_eq!(project.name, document["project"]["name"]);
        let tasks = tasks_in_order(&alice, project.id).await;
        let expected: Vec<&str> = document["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            tasks.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
            expected,
            "{}",
            export.display()
        );
        let notes = tasks
            .iter()
            .find(|t| t.title == "Write the release notes")
            .unwrap();
        assert_eq!(notes.labels, ["docs", "release"]);
        assert_eq!(notes.due_date.as_deref(), Some("2027-01-15"));
        let comments: Page<Comment> = alice.get(&comments_path(notes.id)).await.good();
        assert!(comments.items[0]
            .body
            .starts_with("**Ada Lovelace** wrote on "));
        assert!(comments.items[0]
            .body
            .ends_with("Draft is in the wiki, *reviewed*."));
    }
}

// ---------------------------------------------------------------------------------------------
// Trello (API.md §15; the fixtures and their sources: tests/fixtures/trello/SOURCES.md)
// ---------------------------------------------------------------------------------------------

fn trello_fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trello")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// What a card's title becomes: cut to 199 characters and `…` past 200.
fn cut_title(name: &str) -> String {
    let name = name.trim();
    if name.chars().count() > 200 {
        format!("{}…", name.chars().take(199).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// Every task of a project (all pages), in manual order.
async fn all_tasks(client: &impl RequestHelper, project: Uuid) -> Vec<Task> {
    let mut tasks = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{}?sort=position&limit=100", tasks_path(project));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Page<Task> = client.get(&path).await.good();
        tasks.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return tasks,
        }
    }
}

/// Imports a board and checks every list, card, label, checklist item and comment against
/// the file itself.
async fn check_trello_board(app: &TestApp, file: &str) {
    let alice = app.new_client().await;
    let board = trello_fixture(file);
    let project: Project = import_json(&alice, &board).await.created();
    assert_eq!(project.name, board["name"].as_str().unwrap(), "{file}");
    let arr = |key: &str| board[key].as_array().unwrap().clone();

    // Lists → states, in board order; the categories no list falls in added after them.
    let mut lists: Vec<serde_json::Value> = arr("lists")
        .into_iter()
        .filter(|l| l["closed"] == false)
        .collect();
    lists.sort_by(|a, b| {
        a["pos"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["pos"].as_f64().unwrap())
    });
    let states = alice.states(project.id).await;
    for (list, state) in lists.iter().zip(&states) {
        assert_eq!(state.name, list["name"].as_str().unwrap().trim(), "{file}");
    }
    let categories: BTreeSet<&str> = states.iter().map(|s| s.category.as_str()).collect();
    assert_eq!(
        categories.len(),
        4,
        "every category has a state: {states:?}"
    );
    assert!(states.len() >= lists.len());

    // Open cards on open lists → top-level tasks in their list's state, in card order.
    let open_lists: BTreeSet<&str> = lists.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let cards: Vec<serde_json::Value> = arr("cards")
        .into_iter()
        .filter(|c| c["closed"] == false && open_lists.contains(c["idList"].as_str().unwrap()))
        .collect();
    let tasks = all_tasks(&alice, project.id).await;
    let top: Vec<&Task> = tasks.iter().filter(|t| t.parent_id.is_none()).collect();
    assert_eq!(top.len(), cards.len(), "{file}: every open card");
    let labels: std::collections::HashMap<String, String> = arr("labels")
        .into_iter()
        .filter_map(|l| {
            let name = l["name"].as_str().map(str::trim).filter(|n| !n.is_empty());
            let name = name.or(l["color"].as_str())?;
            Some((l["id"].as_str().unwrap().to_owned(), name.to_lowercase()))
        })
        .collect();
    let items: Vec<serde_json::Value> = arr("checklists");
    let comments: Vec<serde_json::Value> = arr("actions")
        .into_iter()
        .filter(|a| a["type"] == "commentCard")
        .collect();
    let (mut seen_items, mut seen_comments) = (0, 0);
    for (index, list) in lists.iter().enumerate() {
        let mut in_list: Vec<&serde_json::Value> =
            cards.iter().filter(|c| c["idList"] == list["id"]).collect();
        in_list.sort_by(|a, b| {
            a["pos"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["pos"].as_f64().unwrap())
        });
        let imported: Vec<&&Task> = top
            .iter()
            .filter(|t| t.state_id == states[index].id)
            .collect();
        assert_eq!(
            imported.iter().map(|t| t.title.clone()).collect::<Vec<_>>(),
            in_list
                .iter()
                .map(|c| cut_title(c["name"].as_str().unwrap()))
                .collect::<Vec<_>>(),
            "{file}: list {}",
            list["name"]
        );
        for (card, task) in in_list.iter().zip(&imported) {
            assert_eq!(task.description, card["desc"].as_str().unwrap(), "{file}");
            let mut expected: Vec<String> = card["idLabels"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|id| labels.get(id.as_str().unwrap()).cloned())
                .collect();
            expected.sort();
            expected.dedup();
            assert_eq!(task.labels, expected, "{file}: {}", task.title);
            let card_items: Vec<&serde_json::Value> = items
                .iter()
                .filter(|c| c["idCard"] == card["id"])
                .flat_map(|c| c["checkItems"].as_array().unwrap())
                .collect();
            let done = card_items
                .iter()
                .filter(|i| i["state"] == "complete")
                .count();
            assert_eq!(task.subtasks.total, card_items.len() as i64, "{file}");
            assert_eq!(task.subtasks.done, done as i64, "{file}");
            seen_items += card_items.len();
            let children: Vec<&Task> = tasks
                .iter()
                .filter(|t| t.parent_id == Some(task.id))
                .collect();
            assert_eq!(children.len(), card_items.len());
            let mut card_comments: Vec<&serde_json::Value> = comments
                .iter()
                .filter(|a| a["data"]["card"]["id"] == card["id"])
                .collect();
            card_comments.reverse();
            let listed: Page<Comment> = alice.get(&comments_path(task.id)).await.good();
            assert_eq!(listed.items.len(), card_comments.len(), "{file}");
            for (action, comment) in card_comments.iter().zip(&listed.items) {
                let head = format!(
                    "**{}** wrote on {}",
                    action["memberCreator"]["fullName"].as_str().unwrap(),
                    action["date"].as_str().unwrap()
                );
                assert!(comment.body.starts_with(&head), "{}", comment.body);
                assert!(comment
                    .body
                    .ends_with(action["data"]["text"].as_str().unwrap().trim()));
            }
            seen_comments += card_comments.len();
        }
    }
    assert_eq!(
        tasks.len(),
        cards.len() + seen_items,
        "{file}: cards and items, nothing more"
    );
    eprintln!(
        "{file}: {} lists, {} cards, {} labels, {seen_items} checklist items, {seen_comments} comments",
        lists.len(),
        cards.len(),
        labels.len()
    );
}

#[tokio::test]
async fn real_trello_exports_import_with_everything_accounted_for() {
    let app = spawn_app().await;
    check_trello_board(&app, "trello2planka.json").await;
    check_trello_board(&app, "trello2md.json").await;

    // The words of a list's name choose its category.
    let alice = app.new_client().await;
    let board = trello_fixture("trello2planka.json");
    let project: Project = import_json(&alice, &board).await.created();
    let states = alice.states(project.id).await;
    let category = |name: &str| {
        states
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.category.clone())
            .unwrap()
    };
    assert_eq!(category("DONE! 🙌🏽"), "done");
    assert_eq!(category("DOING ⚙️"), "in_progress");
    assert_eq!(category("TODO 📚"), "todo");
    assert_eq!(
        category("Canceled"),
        "canceled",
        "added: no list is canceled"
    );
    assert!(
        states
            .iter()
            .find(|s| s.name == "BRAINSTORM 🤔")
            .unwrap()
            .is_default
    );
    // Archived cards come along when asked.
    let all: Project = import_json(&alice, &board)
        .query(&[("archived", "include")])
        .await
        .created();
    let with = all_tasks(&alice, all.id).await;
    let without = all_tasks(&alice, project.id).await;
    let cards = board["cards"].as_array().unwrap().len();
    assert_eq!(with.iter().filter(|t| t.parent_id.is_none()).count(), cards);
    assert!(without.len() < with.len());
    // The 266-character card name is cut.
    let md = trello_fixture("trello2md.json");
    let long = md["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .find(|n| n.chars().count() > 200)
        .unwrap();
    assert_eq!(long.chars().count(), 266);
    let project: Project = import_json(&alice, &md).await.created();
    let tasks = all_tasks(&alice, project.id).await;
    let cut = tasks.iter().find(|t| t.title.ends_with('…')).unwrap();
    assert_eq!(cut.title.chars().count(), 200);
    assert_eq!(cut.title, cut_title(long));
}

/// A generated board of 10,000 cards (real exports of that size are 15–40 MB).
#[tokio::test]
async fn a_10000_card_trello_board_imports_in_one_go() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let lists: Vec<_> = ["Backlog", "Doing", "Review", "Done ✅", "Icebox"]
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": format!("l{i}"), "name": name, "closed": false, "pos": (i + 1) * 1000}))
        .collect();
    let cards: Vec<_> = (0..10_000)
        .map(|n| {
            json!({"id": format!("c{n}"), "name": format!("Card {n}"), "desc": format!("Description of card {n}, with a few words."),
                   "closed": false, "idList": format!("l{}", n % 5), "pos": n, "due": if n % 7 == 0 { json!("2027-05-01T16:00:00.000Z") } else { json!(null) },
                   "idLabels": if n % 3 == 0 { json!(["g"]) } else { json!([]) }})
        })
        .collect();
    let checklists: Vec<_> = (0..200)
        .map(|n| json!({"id": format!("k{n}"), "idCard": format!("c{}", n * 50), "pos": 1,
                         "checkItems": [{"name": "one", "state": "complete", "pos": 1}, {"name": "two", "state": "incomplete", "pos": 2}]}))
        .collect();
    let actions: Vec<_> = (0..100)
        .map(|n| json!({"type": "commentCard", "date": "2026-01-01T00:00:00.000Z", "data": {"text": format!("comment {n}"), "card": {"id": format!("c{n}")}},
                         "memberCreator": {"fullName": "Grace Hopper"}}))
        .collect();
    let board = json!({"name": "Huge", "lists": lists, "cards": cards, "labels": [{"id": "g", "name": "", "color": "green"}],
                       "checklists": checklists, "actions": actions});
    let project: Project = import_json(&alice, &board).await.created();
    let counts: serde_json::Value = alice
        .get(&format!("{}/counts", tasks_path(project.id)))
        .await
        .good();
    assert_eq!(counts["total"], 10_000 + 400, "{counts}");
    let labelled: serde_json::Value = alice
        .get(&format!("{}/counts?label=green", tasks_path(project.id)))
        .await
        .good();
    assert_eq!(labelled["total"], 3334);
    let done: serde_json::Value = alice
        .get(&format!("{}/counts?status=done", tasks_path(project.id)))
        .await
        .good();
    assert_eq!(
        done["total"],
        2000 + 200,
        "the Done list and the complete items"
    );
    let comments: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM comments c JOIN tasks t ON t.id = c.task_id WHERE t.project_id = $1",
            &[&project.id],
        )
        .await;
    assert_eq!(comments, 100);
    // Its history, written batch by batch inside the import's transaction and numbered after
    // its commit: one entry per task and per comment.
    app.journal_settled().await;
    let (created, commented): (i64, i64) = (
        app.db
            .scalar(
                "SELECT count(*) FROM activity WHERE project_id = $1 AND kind = 'task.created'",
                &[&project.id],
            )
            .await,
        app.db
            .scalar(
                "SELECT count(*) FROM activity WHERE project_id = $1 AND kind = 'comment.created'",
                &[&project.id],
            )
            .await,
    );
    assert_eq!((created, commented), (10_400, 100));
    let history: serde_json::Value = alice
        .get(&format!(
            "/api/v1/projects/{}/activity?limit=100",
            project.id
        ))
        .await
        .good();
    assert_eq!(history["items"].as_array().unwrap().len(), 100);
}
