//! A team's own workflow (API.md §17): states per project and `state_id` on tasks, subtasks
//! (depth, cycles, counts, deletes and moves of a subtree, also under concurrent
//! re-parenting), relations (both points of view, cycles also under concurrency, visibility
//! across projects, the `blocked` flag also under concurrency), and the history and
//! notifications that go with them. The live events are in `events.rs`.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn owner_and_project(app: &TestApp) -> (UserClient<'_>, Uuid) {
    let user = app.new_client().await;
    let project = user.create_project("Work").await.id;
    (user, project)
}

async fn task(user: &UserClient<'_>, project: Uuid, body: Value) -> Task {
    user.create_task(project, body).await
}

async fn titled(user: &UserClient<'_>, project: Uuid, title: &str) -> Task {
    task(user, project, json!({ "title": title })).await
}

/// The state of `project` named `name`.
async fn state_named(user: &UserClient<'_>, project: Uuid, name: &str) -> State {
    user.states(project)
        .await
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no state {name}"))
}

async fn add_state(user: &UserClient<'_>, project: Uuid, body: Value) -> State {
    user.post(&states_path(project), body).await.created()
}

async fn patch_task(user: &UserClient<'_>, task: Uuid, body: Value) -> Task {
    user.patch(&task_path(task), body).await.good()
}

async fn history(user: &UserClient<'_>, path: &str) -> Vec<Value> {
    let page: Value = user.get(path).query(&[("limit", "100")]).await.good();
    page["items"].as_array().unwrap().clone()
}

fn change<'a>(entry: &'a Value, field: &str) -> Option<&'a Value> {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
}

/// The counters kept on write agree with a recount from scratch, for every task.
async fn assert_counts_agree(db: &TestDb) {
    let wrong: i64 = db
        .scalar(
            "SELECT count(*) FROM tasks t \
             CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE c.status <> 'canceled') AS total, \
                     count(*) FILTER (WHERE c.status = 'done') AS done \
                 FROM tasks c WHERE c.parent_id = t.id) sub \
             WHERE t.subtasks_total <> sub.total OR t.subtasks_done <> sub.done \
               OR t.open_blockers <> (SELECT count(*) FROM task_relations r JOIN tasks s \
                     ON s.id = r.source_id WHERE r.target_id = t.id AND r.kind = 'blocks' \
                     AND s.status IN ('todo', 'in_progress')) \
               OR t.blocking <> (SELECT count(*) FROM task_relations r \
                     WHERE r.source_id = t.id AND r.kind = 'blocks')",
            &[],
        )
        .await;
    assert_eq!(wrong, 0, "tasks whose kept counts differ from a recount");
}

fn names(states: &[State]) -> Vec<&str> {
    states.iter().map(|s| s.name.as_str()).collect()
}

async fn list_ids(user: &UserClient<'_>, project: Uuid, query: &[(&str, &str)]) -> Vec<Uuid> {
    let page: Page<Task> = user
        .get(&tasks_path(project))
        .query(query)
        .query(&[("limit", "100")])
        .await
        .good();
    page.items.iter().map(|t| t.id).collect()
}

// ---------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_new_project_has_four_states_one_default_per_category() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let states = user.states(project).await;
    assert_eq!(names(&states), ["To do", "In progress", "Done", "Canceled"]);
    let categories: Vec<&str> = states.iter().map(|s| s.category.as_str()).collect();
    assert_eq!(categories, ["todo", "in_progress", "done", "canceled"]);
    assert!(states
        .iter()
        .all(|s| s.is_default && s.project_id == project));
    let positions: Vec<i64> = states.iter().map(|s| s.position).collect();
    assert_eq!(positions, [0, 1, 2, 3]);
    assert!(states
        .iter()
        .all(|s| s.color.len() == 7 && s.color.starts_with('#')));
    // The JSON names exactly the contract's fields.
    let raw: Value = user.get(&states_path(project)).await.good();
    assert_eq!(
        keys_of(&raw["items"][0]),
        [
            "category",
            "color",
            "id",
            "is_default",
            "name",
            "position",
            "project_id"
        ]
    );

    // A task goes to its status's default state; the Inbox has its own four.
    let t = task(
        &user,
        project,
        json!({"title": "t", "status": "in_progress"}),
    )
    .await;
    assert_eq!(t.state_id, states[1].id);
    assert_eq!(t.subtasks, Subtasks { total: 0, done: 0 });
    assert!(!t.blocked && t.parent_id.is_none());
    let inbox = user
        .get("/api/v1/projects")
        .await
        .good::<Page<Project>>()
        .items
        .into_iter()
        .find(|p| p.is_inbox)
        .unwrap();
    let inbox_states = user.states(inbox.id).await;
    assert_eq!(inbox_states.len(), 4);
    assert!(inbox_states.iter().all(|s| !states.contains(s)));

    // Only members see them.
    let stranger = app.new_client().await;
    stranger
        .get(&states_path(project))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn states_are_added_renamed_recoloured_and_reordered_by_admins() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let review = add_state(
        &owner,
        project,
        json!({"name": " Review ", "category": "in_progress", "color": "#AA00ff"}),
    )
    .await;
    assert_eq!(review.name, "Review");
    assert_eq!(review.color, "#aa00ff");
    assert_eq!((review.position, review.is_default), (4, false));
    let todo = state_named(&owner, project, "To do").await;
    // After a state; first (`null`); the category's colour when none is given.
    let triage = add_state(
        &owner,
        project,
        json!({"name": "Triage", "category": "todo", "after_id": null}),
    )
    .await;
    assert_eq!(triage.color, todo.color);
    let qa = add_state(
        &owner,
        project,
        json!({"name": "QA", "category": "in_progress", "after_id": review.id}),
    )
    .await;
    assert_eq!(
        names(&owner.states(project).await),
        [
            "Triage",
            "To do",
            "In progress",
            "Done",
            "Canceled",
            "Review",
            "QA"
        ]
    );
    assert_eq!(qa.position, 6);

    // Rename, recolour, reorder in one change; positions stay 0..n.
    let moved: State = owner
        .patch(
            &state_path(review.id),
            json!({"name": "Code review", "color": "#000000", "after_id": todo.id}),
        )
        .await
        .good();
    assert_eq!(
        (moved.name.as_str(), moved.color.as_str(), moved.position),
        ("Code review", "#000000", 2)
    );
    let states = owner.states(project).await;
    assert_eq!(
        names(&states),
        [
            "Triage",
            "To do",
            "Code review",
            "In progress",
            "Done",
            "Canceled",
            "QA"
        ]
    );
    assert_eq!(
        states.iter().map(|s| s.position).collect::<Vec<_>>(),
        (0..7).collect::<Vec<i64>>()
    );
    let first: State = owner
        .patch(&state_path(qa.id), json!({"after_id": null}))
        .await
        .good();
    assert_eq!(first.position, 0);

    // The default moves; it is never cleared.
    let made: State = owner
        .patch(&state_path(qa.id), json!({"is_default": true}))
        .await
        .good();
    assert!(made.is_default);
    let in_progress = state_named(&owner, project, "In progress").await;
    assert!(!in_progress.is_default);
    let t = task(
        &owner,
        project,
        json!({"title": "x", "status": "in_progress"}),
    )
    .await;
    assert_eq!(
        t.state_id, qa.id,
        "new tasks of the category go to its default"
    );
    owner
        .patch(&state_path(qa.id), json!({"is_default": false}))
        .await
        .invalid_field("is_default");

    // Names are unique in the project, whatever their case.
    owner
        .post(
            &states_path(project),
            json!({"name": "code REVIEW", "category": "done"}),
        )
        .await
        .problem(409, "conflict");
    owner
        .patch(&state_path(qa.id), json!({"name": "triage"}))
        .await
        .problem(409, "conflict");
    // Another project may have the same names.
    let other = owner.create_project("Other").await.id;
    add_state(&owner, other, json!({"name": "QA", "category": "done"})).await;

    // Admins and owners only; members of other projects see nothing.
    let editor = app.new_client().await;
    let admin = app.new_client().await;
    owner.add_member(project, &editor, "editor").await;
    owner.add_member(project, &admin, "admin").await;
    editor
        .post(
            &states_path(project),
            json!({"name": "E", "category": "todo"}),
        )
        .await
        .problem(403, "forbidden");
    editor
        .patch(&state_path(qa.id), json!({"name": "E"}))
        .await
        .problem(403, "forbidden");
    add_state(
        &admin,
        project,
        json!({"name": "A", "category": "canceled"}),
    )
    .await;
    let stranger = app.new_client().await;
    stranger
        .patch(&state_path(qa.id), json!({"name": "S"}))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn bad_state_requests_name_every_field_and_change_nothing() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let before = owner.states(project).await;
    let body = owner
        .post(
            &states_path(project),
            json!({"name": " ", "category": "waiting", "color": "red"}),
        )
        .await
        .problem(422, "validation_failed");
    let mut fields: Vec<String> = field_errors(&body).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(fields, ["category", "color", "name"]);
    owner
        .post(
            &states_path(project),
            json!({"name": "x".repeat(51), "category": "todo"}),
        )
        .await
        .invalid_field("name");
    owner
        .post(
            &states_path(project),
            json!({"name": "N", "category": "todo", "after_id": Uuid::now_v7()}),
        )
        .await
        .invalid_field("after_id");
    let done = state_named(&owner, project, "Done").await;
    // The category is fixed (delete and move instead); the position is the order's.
    let body = owner
        .patch(
            &state_path(done.id),
            json!({"category": "todo", "position": 0}),
        )
        .await
        .problem(422, "validation_failed");
    let codes = field_errors(&body);
    assert!(
        codes.contains(&("category".into(), "read_only".into())),
        "{body}"
    );
    owner
        .patch(&state_path(done.id), json!({"after_id": done.id}))
        .await
        .invalid_field("after_id");
    owner
        .patch(&state_path(done.id), json!({"name": null}))
        .await
        .invalid_field("name");
    assert_eq!(owner.states(project).await, before);
}

#[tokio::test]
async fn a_project_holds_at_most_fifty_states() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    for n in 0..46 {
        add_state(
            &owner,
            project,
            json!({"name": format!("S{n}"), "category": "todo"}),
        )
        .await;
    }
    owner
        .post(
            &states_path(project),
            json!({"name": "One too many", "category": "todo"}),
        )
        .await
        .problem(422, "quota_exceeded");
    assert_eq!(owner.states(project).await.len(), 50);
}

#[tokio::test]
async fn deleting_a_state_moves_its_tasks_to_another() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let review = add_state(
        &owner,
        project,
        json!({"name": "Review", "category": "in_progress"}),
    )
    .await;
    let done = state_named(&owner, project, "Done").await;
    let a = task(
        &owner,
        project,
        json!({"title": "a", "state_id": review.id}),
    )
    .await;
    let b = task(
        &owner,
        project,
        json!({"title": "b", "state_id": review.id}),
    )
    .await;
    let untouched = titled(&owner, project, "c").await;

    // It has tasks: where they go must be said.
    owner
        .delete(&state_path(review.id))
        .await
        .invalid_field("move_to");
    owner
        .delete(&format!("{}?move_to={}", state_path(review.id), review.id))
        .await
        .invalid_field("move_to");
    let elsewhere = owner.create_project("Elsewhere").await.id;
    let foreign = state_named(&owner, elsewhere, "Done").await;
    owner
        .delete(&format!("{}?move_to={}", state_path(review.id), foreign.id))
        .await
        .invalid_field("move_to");
    owner
        .delete(&format!("{}?move_to=nope", state_path(review.id)))
        .await
        .problem(400, "invalid_query");
    // A default state (a category's last one is its default) cannot go.
    let todo = state_named(&owner, project, "To do").await;
    owner
        .delete(&format!("{}?move_to={}", state_path(todo.id), done.id))
        .await
        .problem(409, "conflict");
    assert_eq!(owner.states(project).await.len(), 5);

    owner
        .delete(&format!("{}?move_to={}", state_path(review.id), done.id))
        .await
        .no_content();
    for (before, after) in [
        (&a, owner.get_task(a.id).await),
        (&b, owner.get_task(b.id).await),
    ] {
        assert_eq!(after.state_id, done.id);
        assert_eq!(after.status, "done");
        assert!(after.completed_at.is_some());
        assert_eq!(after.version, before.version + 1);
        assert_eq!(
            after.position, before.position,
            "the task stays where it was"
        );
    }
    assert_eq!(owner.get_task(untouched.id).await, untouched);
    assert_eq!(
        names(&owner.states(project).await),
        ["To do", "In progress", "Done", "Canceled"]
    );
    owner
        .patch(&state_path(review.id), json!({"name": "x"}))
        .await
        .problem(404, "not_found");
    // The history says where each went.
    let entries = history(&owner, &format!("/api/v1/tasks/{}/activity", a.id)).await;
    assert_eq!(entries[0]["kind"], "task.updated");
    assert_eq!(
        change(&entries[0], "state_id").unwrap()["to"],
        done.id.to_string()
    );
    assert_eq!(change(&entries[0], "status").unwrap()["to"], "done");

    // An empty state goes without `move_to`.
    let empty = add_state(
        &owner,
        project,
        json!({"name": "Empty", "category": "todo"}),
    )
    .await;
    owner.delete(&state_path(empty.id)).await.no_content();
}

#[tokio::test]
async fn status_is_always_the_category_of_the_tasks_state() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let review = add_state(
        &owner,
        project,
        json!({"name": "Review", "category": "in_progress"}),
    )
    .await;
    let states = owner.states(project).await;
    let (todo, in_progress, done) = (&states[0], &states[1], &states[2]);

    // A state decides the status; a status that disagrees is refused.
    let t = task(
        &owner,
        project,
        json!({"title": "t", "state_id": review.id}),
    )
    .await;
    assert_eq!((t.status.as_str(), t.state_id), ("in_progress", review.id));
    task(
        &owner,
        project,
        json!({"title": "t", "state_id": review.id, "status": "in_progress"}),
    )
    .await;
    owner
        .post(
            &tasks_path(project),
            json!({"title": "t", "state_id": review.id, "status": "done"}),
        )
        .await
        .invalid_field("status");
    let elsewhere = owner.create_project("Elsewhere").await.id;
    let foreign = state_named(&owner, elsewhere, "Done").await;
    owner
        .post(
            &tasks_path(project),
            json!({"title": "t", "state_id": foreign.id}),
        )
        .await
        .invalid_field("state_id");

    // The same category keeps the state; another goes to its default.
    let same = patch_task(&owner, t.id, json!({"status": "in_progress"})).await;
    assert_eq!(same.state_id, review.id);
    let other = patch_task(&owner, t.id, json!({"status": "done"})).await;
    assert_eq!(
        (other.state_id, other.completed_at.is_some()),
        (done.id, true)
    );
    let back = patch_task(&owner, t.id, json!({"state_id": review.id})).await;
    assert_eq!(
        (back.status.as_str(), back.completed_at),
        ("in_progress", None)
    );
    owner
        .patch(
            &task_path(t.id),
            json!({"state_id": todo.id, "status": "done"}),
        )
        .await
        .invalid_field("status");
    owner
        .patch(&task_path(t.id), json!({"state_id": foreign.id}))
        .await
        .invalid_field("state_id");
    owner
        .patch(&task_path(t.id), json!({"state_id": null}))
        .await
        .invalid_field("state_id");

    // A move takes a state (a board column) as well as a status.
    let anchor = titled(&owner, project, "anchor").await;
    let moved: Task = owner
        .post(
            &format!("/api/v1/tasks/{}/move", t.id),
            json!({"after_id": anchor.id, "state_id": todo.id}),
        )
        .await
        .good();
    assert_eq!((moved.status.as_str(), moved.state_id), ("todo", todo.id));
    assert!(moved.position < anchor.position);
    let moved: Task = owner
        .post(
            &format!("/api/v1/tasks/{}/move", t.id),
            json!({"status": "in_progress"}),
        )
        .await
        .good();
    assert_eq!(moved.state_id, in_progress.id);
    owner
        .post(
            &format!("/api/v1/tasks/{}/move", t.id),
            json!({"state_id": foreign.id}),
        )
        .await
        .invalid_field("state_id");
    owner
        .post(
            &format!("/api/v1/tasks/{}/move", t.id),
            json!({"state_id": review.id, "status": "todo"}),
        )
        .await
        .invalid_field("status");
    owner
        .post(
            &format!("/api/v1/tasks/{}/move", t.id),
            json!({"state_id": 7}),
        )
        .await
        .invalid_field("state_id");

    // Another project: its default state of the same category, unless one is named there.
    let there = patch_task(&owner, t.id, json!({"project_id": elsewhere})).await;
    let elsewhere_states = owner.states(elsewhere).await;
    assert_eq!(there.state_id, elsewhere_states[1].id);
    assert_eq!(there.status, "in_progress");
    let back = patch_task(
        &owner,
        t.id,
        json!({"project_id": project, "state_id": review.id}),
    )
    .await;
    assert_eq!((back.project_id, back.state_id), (project, review.id));

    // Whoever writes, the database keeps the two together: a status that is not the state's
    // category, or another project's state, is refused.
    for (sql, value) in [
        ("UPDATE tasks SET status = 'done' WHERE id = $1", None),
        (
            "UPDATE tasks SET state_id = $2 WHERE id = $1",
            Some(foreign.id),
        ),
    ] {
        let refused = match value {
            None => app.db.try_execute(sql, &[&t.id]).await,
            Some(v) => app.db.try_execute(sql, &[&t.id, &v]).await,
        };
        let error = refused.expect_err(sql);
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
            "{sql}: {error}"
        );
    }
    assert_eq!(owner.get_task(t.id).await.state_id, review.id);
}

#[tokio::test]
async fn the_state_filter_lists_a_board_column() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let review = add_state(
        &owner,
        project,
        json!({"name": "Review", "category": "in_progress"}),
    )
    .await;
    let states = owner.states(project).await;
    let a = task(
        &owner,
        project,
        json!({"title": "a", "state_id": review.id}),
    )
    .await;
    let b = task(
        &owner,
        project,
        json!({"title": "b", "status": "in_progress"}),
    )
    .await;
    let c = titled(&owner, project, "c").await;
    let column = list_ids(
        &owner,
        project,
        &[("state", &review.id.to_string()), ("sort", "position")],
    )
    .await;
    assert_eq!(column, [a.id]);
    let both = format!("{}, {}", review.id, states[0].id);
    let two: BTreeSet<Uuid> = list_ids(&owner, project, &[("state", &both)])
        .await
        .into_iter()
        .collect();
    assert_eq!(two, BTreeSet::from([a.id, c.id]));
    // `status` still means the category: both in-progress states.
    let by_status: BTreeSet<Uuid> = list_ids(&owner, project, &[("status", "in_progress")])
        .await
        .into_iter()
        .collect();
    assert_eq!(by_status, BTreeSet::from([a.id, b.id]));
    let across: Page<Task> = owner
        .get("/api/v1/tasks")
        .query(&[("state", review.id.to_string())])
        .await
        .good();
    assert_eq!(across.items.len(), 1);
    owner
        .get(&tasks_path(project))
        .query(&[("state", "nope")])
        .await
        .problem(400, "invalid_query");
    // A cursor belongs to its filters.
    let page: Page<Task> = owner
        .get(&tasks_path(project))
        .query(&[("state", both.as_str()), ("limit", "1")])
        .await
        .good();
    owner
        .get(&tasks_path(project))
        .query(&[
            ("state", review.id.to_string()),
            ("cursor", page.next_cursor.unwrap()),
        ])
        .await
        .problem(400, "invalid_query");
}

/// The board's column counts: per state (`group_by=state`), the counts of exactly the
/// `state=` lists, with the other filters; a state without tasks is left out.
#[tokio::test]
async fn counts_per_state_are_those_of_each_column() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let review = add_state(
        &owner,
        project,
        json!({"name": "Review", "category": "in_progress"}),
    )
    .await;
    let states = owner.states(project).await;
    for (title, state, labels) in [
        ("a", review.id, json!(["ops"])),
        ("b", review.id, json!([])),
        ("c", states[0].id, json!(["ops"])),
    ] {
        task(
            &owner,
            project,
            json!({"title": title, "state_id": state, "labels": labels}),
        )
        .await;
    }
    let path = format!("{}/counts", tasks_path(project));
    for query in [vec![], vec![("label", "ops")], vec![("parent", "none")]] {
        let counted: Value = owner
            .get(&path)
            .query(&query)
            .query(&[("group_by", "state")])
            .await
            .good();
        assert_eq!(counted["group_by"], "state");
        let groups = counted["groups"].as_array().unwrap();
        let mut total = 0;
        for state in &states {
            let listed = list_ids(
                &owner,
                project,
                &[&query[..], &[("state", &state.id.to_string())]].concat(),
            )
            .await;
            let group = groups.iter().find(|g| g["key"] == state.id.to_string());
            match group {
                Some(g) => assert_eq!(g["count"], listed.len(), "{query:?} {}", state.name),
                None => assert!(listed.is_empty(), "{query:?} {}", state.name),
            }
            total += listed.len();
        }
        assert_eq!(counted["total"], total, "{query:?}");
    }
    let all: Value = owner
        .get(&path)
        .query(&[("group_by", "state")])
        .await
        .good();
    assert_eq!(all["total"], 3);
    assert_eq!(all["groups"].as_array().unwrap().len(), 2, "{all}");
    owner
        .get(&path)
        .query(&[("group_by", "column")])
        .await
        .problem(400, "invalid_query");
}

// ---------------------------------------------------------------------------------------------
// Subtasks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn subtasks_are_counted_on_their_parent_and_filtered_by_it() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let parent = titled(&owner, project, "parent").await;
    let one = task(
        &owner,
        project,
        json!({"title": "one", "parent_id": parent.id}),
    )
    .await;
    let two = task(
        &owner,
        project,
        json!({"title": "two", "parent_id": parent.id}),
    )
    .await;
    let three = task(
        &owner,
        project,
        json!({"title": "three", "parent_id": parent.id, "status": "done"}),
    )
    .await;
    assert_eq!(one.parent_id, Some(parent.id));
    let counts = |t: Task| (t.subtasks.total, t.subtasks.done);
    assert_eq!(counts(owner.get_task(parent.id).await), (3, 1));
    patch_task(&owner, one.id, json!({"status": "done"})).await;
    assert_eq!(counts(owner.get_task(parent.id).await), (3, 2));
    // Canceled subtasks count in neither.
    patch_task(&owner, two.id, json!({"status": "canceled"})).await;
    assert_eq!(counts(owner.get_task(parent.id).await), (2, 2));
    // A count is not a change of the parent: its version (and If-Match) stays.
    let after = owner.get_task(parent.id).await;
    assert_eq!(after.version, parent.version);

    // Re-parenting moves the share; `null` makes a top-level task.
    let other = titled(&owner, project, "other").await;
    patch_task(&owner, three.id, json!({"parent_id": other.id})).await;
    assert_eq!(counts(owner.get_task(parent.id).await), (1, 1));
    assert_eq!(counts(owner.get_task(other.id).await), (1, 1));
    let top = patch_task(&owner, three.id, json!({"parent_id": null})).await;
    assert_eq!(top.parent_id, None);
    assert_eq!(counts(owner.get_task(other.id).await), (0, 0));

    // The `parent` filter: a task's subtasks, or the top-level tasks.
    let children: BTreeSet<Uuid> = list_ids(&owner, project, &[("parent", &parent.id.to_string())])
        .await
        .into_iter()
        .collect();
    assert_eq!(children, BTreeSet::from([one.id, two.id]));
    let top_level: BTreeSet<Uuid> = list_ids(&owner, project, &[("parent", "none")])
        .await
        .into_iter()
        .collect();
    assert_eq!(top_level, BTreeSet::from([parent.id, other.id, three.id]));
    owner
        .get(&tasks_path(project))
        .query(&[("parent", "top")])
        .await
        .problem(400, "invalid_query");

    // A parent is a task of the same project.
    let elsewhere = owner.create_project("Elsewhere").await.id;
    let foreign = titled(&owner, elsewhere, "foreign").await;
    let body = owner
        .post(
            &tasks_path(project),
            json!({"title": "x", "parent_id": foreign.id}),
        )
        .await
        .invalid_field("parent_id");
    assert_eq!(
        field_errors(&body),
        [("parent_id".into(), "not_found".into())]
    );
    owner
        .patch(&task_path(one.id), json!({"parent_id": Uuid::now_v7()}))
        .await
        .invalid_field("parent_id");
    assert_counts_agree(&app.db).await;
}

#[tokio::test]
async fn subtasks_go_at_most_five_levels_deep_and_never_in_a_circle() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let mut chain = vec![titled(&owner, project, "level 1").await];
    for level in 2..=5 {
        let parent = chain.last().unwrap().id;
        chain.push(
            task(
                &owner,
                project,
                json!({"title": format!("level {level}"), "parent_id": parent}),
            )
            .await,
        );
    }
    let code_of = |body: Value| field_errors(&body)[0].1.clone();
    let deepest = chain[4].id;
    let body = owner
        .post(
            &tasks_path(project),
            json!({"title": "level 6", "parent_id": deepest}),
        )
        .await
        .invalid_field("parent_id");
    assert_eq!(code_of(body), "too_deep");
    // A subtree moved under another counts its own height.
    let pair = titled(&owner, project, "pair").await;
    task(
        &owner,
        project,
        json!({"title": "under pair", "parent_id": pair.id}),
    )
    .await;
    let body = owner
        .patch(&task_path(pair.id), json!({"parent_id": chain[3].id}))
        .await
        .invalid_field("parent_id");
    assert_eq!(code_of(body), "too_deep");
    patch_task(&owner, pair.id, json!({"parent_id": chain[2].id})).await;

    // Never its own ancestor, nor its own parent.
    let body = owner
        .patch(&task_path(chain[0].id), json!({"parent_id": chain[3].id}))
        .await
        .invalid_field("parent_id");
    assert_eq!(code_of(body), "cycle");
    let body = owner
        .patch(&task_path(chain[1].id), json!({"parent_id": chain[1].id}))
        .await
        .invalid_field("parent_id");
    assert_eq!(code_of(body), "cycle");
    assert_eq!(owner.get_task(chain[0].id).await.parent_id, None);
}

#[tokio::test]
async fn concurrent_re_parenting_never_makes_a_circle() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    for round in 0..8 {
        let a = titled(&owner, project, &format!("a{round}")).await;
        let b = titled(&owner, project, &format!("b{round}")).await;
        let (ab, ba) = tokio::join!(
            owner.patch(&task_path(b.id), json!({"parent_id": a.id})),
            owner.patch(&task_path(a.id), json!({"parent_id": b.id})),
        );
        let ok: Vec<u16> = [&ab, &ba]
            .iter()
            .map(|r| r.status().as_u16())
            .filter(|s| *s == 200)
            .collect();
        assert_eq!(ok.len(), 1, "round {round}: {} / {}", ab.text(), ba.text());
        for refused in [&ab, &ba].into_iter().filter(|r| r.status() != 200) {
            let body = refused.invalid_field("parent_id");
            assert_eq!(field_errors(&body)[0].1, "cycle");
        }
        let (a, b) = (owner.get_task(a.id).await, owner.get_task(b.id).await);
        assert!(
            a.parent_id.is_none() || b.parent_id.is_none(),
            "round {round}: a circle"
        );
    }
    assert_counts_agree(&app.db).await;
}

#[tokio::test]
async fn deleting_a_task_deletes_its_subtasks_each_with_its_entry() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let keep = titled(&owner, project, "keep").await;
    let root = task(
        &owner,
        project,
        json!({"title": "root", "parent_id": keep.id}),
    )
    .await;
    let child = task(
        &owner,
        project,
        json!({"title": "child", "parent_id": root.id}),
    )
    .await;
    let grandchild = task(
        &owner,
        project,
        json!({"title": "grandchild", "parent_id": child.id}),
    )
    .await;
    let sibling = task(
        &owner,
        project,
        json!({"title": "sibling", "parent_id": root.id}),
    )
    .await;
    assert_eq!(owner.get_task(keep.id).await.subtasks.total, 1);

    owner.delete(&task_path(root.id)).await.no_content();
    for gone in [root.id, child.id, grandchild.id, sibling.id] {
        owner.get(&task_path(gone)).await.problem(404, "not_found");
    }
    assert_eq!(owner.get_task(keep.id).await.subtasks.total, 0);
    let entries = history(&owner, &format!("/api/v1/projects/{project}/activity")).await;
    let deleted: BTreeSet<String> = entries
        .iter()
        .filter(|e| e["kind"] == "task.deleted")
        .map(|e| e["task_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        deleted,
        [root.id, child.id, grandchild.id, sibling.id]
            .iter()
            .map(Uuid::to_string)
            .collect()
    );
    let of_child = entries
        .iter()
        .find(|e| e["kind"] == "task.deleted" && e["task_id"] == child.id.to_string())
        .unwrap();
    assert_eq!(
        change(of_child, "parent_id").unwrap()["from"],
        root.id.to_string()
    );
    let count: i64 = app
        .db
        .scalar("SELECT task_count FROM projects WHERE id = $1", &[&project])
        .await;
    assert_eq!(count, 1);
    assert_counts_agree(&app.db).await;
}

#[tokio::test]
async fn a_task_moved_to_another_project_takes_its_subtasks_and_leaves_its_parent() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let target = owner.create_project("Target").await.id;
    titled(&owner, target, "already there").await;
    let stays = titled(&owner, project, "stays").await;
    let root = task(
        &owner,
        project,
        json!({"title": "root", "parent_id": stays.id}),
    )
    .await;
    let child = task(
        &owner,
        project,
        json!({"title": "child", "parent_id": root.id, "status": "done"}),
    )
    .await;
    let grandchild = task(
        &owner,
        project,
        json!({"title": "grandchild", "parent_id": child.id, "status": "in_progress"}),
    )
    .await;

    let moved = patch_task(&owner, root.id, json!({"project_id": target})).await;
    assert_eq!((moved.project_id, moved.parent_id), (target, None));
    assert_eq!(owner.get_task(stays.id).await.subtasks.total, 0);
    let target_states = owner.states(target).await;
    let (child, grandchild) = (
        owner.get_task(child.id).await,
        owner.get_task(grandchild.id).await,
    );
    assert_eq!(child.project_id, target);
    assert_eq!(child.parent_id, Some(root.id));
    assert_eq!(child.state_id, target_states[2].id);
    assert_eq!(grandchild.parent_id, Some(child.id));
    assert_eq!(grandchild.state_id, target_states[1].id);
    let numbers: BTreeSet<i64> = [moved.number, child.number, grandchild.number].into();
    assert_eq!(numbers, BTreeSet::from([2, 3, 4]));
    assert_eq!(
        (moved.subtasks, child.subtasks),
        (
            Subtasks { total: 1, done: 1 },
            Subtasks { total: 1, done: 0 }
        )
    );
    let children = list_ids(&owner, project, &[]).await;
    assert_eq!(children, [stays.id]);
    for (p, n) in [(project, 1i64), (target, 4)] {
        let count: i64 = app
            .db
            .scalar("SELECT task_count FROM projects WHERE id = $1", &[&p])
            .await;
        assert_eq!(count, n);
    }
    // Each moved task is recorded in both projects.
    for p in [project, target] {
        let entries = history(&owner, &format!("/api/v1/projects/{p}/activity")).await;
        let moved: BTreeSet<&str> = entries
            .iter()
            .filter(|e| e["kind"] == "task.moved")
            .map(|e| e["task_id"].as_str().unwrap())
            .collect();
        assert_eq!(moved.len(), 3, "{p}");
    }
    // The source's entry says what changed (the parent left behind, the state); the
    // destination's only where it came in (history stays in its project).
    let entries = history(&owner, &format!("/api/v1/tasks/{}/activity", root.id)).await;
    let in_source = entries
        .iter()
        .find(|e| e["kind"] == "task.moved" && e["project_id"] == project.to_string())
        .unwrap();
    assert_eq!(
        change(in_source, "parent_id").unwrap()["from"],
        stays.id.to_string()
    );
    assert!(change(in_source, "state_id").is_some());
    let in_target = entries
        .iter()
        .find(|e| e["kind"] == "task.moved" && e["project_id"] == target.to_string())
        .unwrap();
    let fields: Vec<&str> = in_target["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["project_id", "number"]);
    assert_counts_agree(&app.db).await;
}

// ---------------------------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_relation_is_one_record_seen_from_both_sides() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let a = titled(&owner, project, "a").await;
    let b = titled(&owner, project, "b").await;
    let response = owner
        .post(
            &relations_path(a.id),
            json!({"kind": "blocks", "task_id": b.id}),
        )
        .await;
    let raw: Value = response.created();
    assert_eq!(
        keys_of(&raw),
        ["created_at", "created_by", "id", "kind", "task"]
    );
    assert_eq!(
        keys_of(&raw["task"]),
        ["id", "number", "project_id", "status", "title"]
    );
    let of_a: Items<Relation> = owner.get(&relations_path(a.id)).await.good();
    let of_b: Items<Relation> = owner.get(&relations_path(b.id)).await.good();
    assert_eq!(of_a.items.len(), 1);
    assert_eq!(of_a.items[0].id, of_b.items[0].id);
    assert_eq!(of_a.items[0].id.to_string(), raw["id"].as_str().unwrap());
    assert_eq!(
        (of_a.items[0].kind.as_str(), of_b.items[0].kind.as_str()),
        ("blocks", "blocked_by")
    );
    assert_eq!(of_a.items[0].task.id, b.id);
    assert_eq!(of_b.items[0].task.id, a.id);
    assert_eq!(of_a.items[0].created_by, Some(owner.id));
    assert!(owner.get_task(b.id).await.blocked);
    assert!(!owner.get_task(a.id).await.blocked);

    // One relation per pair, whichever way and kind.
    for (from, kind, to) in [
        (a.id, "blocks", b.id),
        (b.id, "blocks", a.id),
        (b.id, "relates_to", a.id),
        (a.id, "duplicated_by", b.id),
    ] {
        owner
            .post(&relations_path(from), json!({"kind": kind, "task_id": to}))
            .await
            .problem(409, "conflict");
    }
    owner
        .post(
            &relations_path(a.id),
            json!({"kind": "relates_to", "task_id": a.id}),
        )
        .await
        .invalid_field("task_id");
    owner
        .post(
            &relations_path(a.id),
            json!({"kind": "follows", "task_id": b.id}),
        )
        .await
        .invalid_field("kind");
    owner
        .post(
            &relations_path(a.id),
            json!({"kind": "blocks", "task_id": Uuid::now_v7()}),
        )
        .await
        .invalid_field("task_id");

    // `blocked_by` and `duplicated_by` are the same records the other way round.
    let c = titled(&owner, project, "c").await;
    let d = titled(&owner, project, "d").await;
    let r = owner.relate(c.id, "blocked_by", d.id).await;
    assert_eq!((r.kind.as_str(), r.task.id), ("blocked_by", d.id));
    assert!(owner.get_task(c.id).await.blocked);
    assert_eq!(
        owner
            .get(&relations_path(d.id))
            .await
            .good::<Items<Relation>>()
            .items[0]
            .kind,
        "blocks"
    );
    let e = titled(&owner, project, "e").await;
    owner.relate(e.id, "duplicated_by", a.id).await;
    let of_a: Items<Relation> = owner.get(&relations_path(a.id)).await.good();
    let kinds: Vec<&str> = of_a.items.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["blocks", "duplicates"]);
    owner.relate(d.id, "relates_to", e.id).await;
    assert_eq!(
        owner
            .get(&relations_path(e.id))
            .await
            .good::<Items<Relation>>()
            .items[1]
            .kind,
        "relates_to"
    );

    // Either side removes it; then it is gone for both.
    let relation = of_b.items[0].id;
    owner
        .delete(&format!("{}/{relation}", relations_path(b.id)))
        .await
        .no_content();
    assert!(!owner.get_task(b.id).await.blocked);
    assert_eq!(
        owner
            .get(&relations_path(a.id))
            .await
            .good::<Items<Relation>>()
            .items
            .len(),
        1
    );
    owner
        .delete(&format!("{}/{relation}", relations_path(a.id)))
        .await
        .problem(404, "not_found");
    // A relation is reached through one of its own tasks only.
    let other = r.id;
    owner
        .delete(&format!("{}/{other}", relations_path(a.id)))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn blocked_follows_the_blockers_categories() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let waiting = titled(&owner, project, "waiting").await;
    let first = titled(&owner, project, "first").await;
    let second = task(
        &owner,
        project,
        json!({"title": "second", "status": "done"}),
    )
    .await;
    owner.relate(first.id, "blocks", waiting.id).await;
    // A done blocker does not block.
    owner.relate(second.id, "blocks", waiting.id).await;
    assert!(owner.get_task(waiting.id).await.blocked);
    patch_task(&owner, first.id, json!({"status": "in_progress"})).await;
    assert!(owner.get_task(waiting.id).await.blocked);
    patch_task(&owner, first.id, json!({"status": "canceled"})).await;
    assert!(!owner.get_task(waiting.id).await.blocked);
    // Reopened by a move to a column; done through a state's deletion.
    let review = add_state(
        &owner,
        project,
        json!({"name": "Review", "category": "in_progress"}),
    )
    .await;
    owner
        .post(
            &format!("/api/v1/tasks/{}/move", second.id),
            json!({"state_id": review.id}),
        )
        .await
        .good::<Task>();
    assert!(owner.get_task(waiting.id).await.blocked);
    let done = state_named(&owner, project, "Done").await;
    owner
        .delete(&format!("{}?move_to={}", state_path(review.id), done.id))
        .await
        .no_content();
    assert!(!owner.get_task(waiting.id).await.blocked);
    // A blocker deleted stops blocking.
    let third = titled(&owner, project, "third").await;
    owner.relate(third.id, "blocks", waiting.id).await;
    assert!(owner.get_task(waiting.id).await.blocked);
    owner.delete(&task_path(third.id)).await.no_content();
    assert!(!owner.get_task(waiting.id).await.blocked);
    // The database agrees with itself.
    let count: i32 = app
        .db
        .scalar(
            "SELECT open_blockers::int FROM tasks WHERE id = $1",
            &[&waiting.id],
        )
        .await;
    assert_eq!(count, 0);
    assert_counts_agree(&app.db).await;
}

#[tokio::test]
async fn blocks_never_form_a_circle() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let other = owner.create_project("Other").await.id;
    let a = titled(&owner, project, "a").await;
    let b = titled(&owner, other, "b").await;
    let c = titled(&owner, project, "c").await;
    owner.relate(a.id, "blocks", b.id).await;
    owner.relate(b.id, "blocks", c.id).await;
    let body = owner
        .post(
            &relations_path(c.id),
            json!({"kind": "blocks", "task_id": a.id}),
        )
        .await
        .invalid_field("task_id");
    assert_eq!(field_errors(&body)[0].1, "cycle");
    let body = owner
        .post(
            &relations_path(a.id),
            json!({"kind": "blocked_by", "task_id": c.id}),
        )
        .await
        .invalid_field("task_id");
    assert_eq!(field_errors(&body)[0].1, "cycle");
    // Other kinds may go round.
    owner.relate(c.id, "relates_to", a.id).await;
}

#[tokio::test]
async fn concurrent_blocks_never_close_a_circle() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let other = owner.create_project("Other").await.id;
    for round in 0..8 {
        let a = titled(&owner, project, &format!("a{round}")).await;
        let b = titled(&owner, other, &format!("b{round}")).await;
        let c = titled(&owner, project, &format!("c{round}")).await;
        let d = titled(&owner, other, &format!("d{round}")).await;
        owner.relate(a.id, "blocks", b.id).await;
        owner.relate(c.id, "blocks", d.id).await;
        // b → c and d → a share no task, and together would close a → b → c → d → a: at
        // most one of them may be made.
        let (bc, da) = tokio::join!(
            owner.post(
                &relations_path(b.id),
                json!({"kind": "blocks", "task_id": c.id})
            ),
            owner.post(
                &relations_path(a.id),
                json!({"kind": "blocked_by", "task_id": d.id})
            ),
        );
        let made = [&bc, &da].iter().filter(|r| r.status() == 201).count();
        assert_eq!(made, 1, "round {round}: {} / {}", bc.text(), da.text());
        for refused in [&bc, &da].into_iter().filter(|r| r.status() != 201) {
            assert_eq!(
                field_errors(&refused.invalid_field("task_id"))[0].1,
                "cycle"
            );
        }
    }
}

#[tokio::test]
async fn two_blockers_done_at_once_unblock_their_task_once() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let assignee = app.new_client().await;
    owner.add_member(project, &assignee, "editor").await;
    for round in 0..6 {
        let waiting = task(
            &owner,
            project,
            json!({"title": format!("w{round}"), "assignee_id": assignee.id}),
        )
        .await;
        let x = titled(&owner, project, "x").await;
        let y = titled(&owner, project, "y").await;
        owner.relate(x.id, "blocks", waiting.id).await;
        owner.relate(waiting.id, "blocked_by", y.id).await;
        let (rx, ry) = tokio::join!(
            owner.patch(&task_path(x.id), json!({"status": "done"})),
            owner.patch(&task_path(y.id), json!({"status": "done"})),
        );
        rx.good::<Task>();
        ry.good::<Task>();
        assert!(!owner.get_task(waiting.id).await.blocked, "round {round}");
        let unblocked: i64 = app
            .db
            .scalar(
                "SELECT count(*) FROM notifications WHERE task_id = $1 AND kind = 'unblocked'",
                &[&waiting.id],
            )
            .await;
        assert_eq!(unblocked, 1, "round {round}");
        // And back: both reopened at once, it is blocked (by two).
        let (rx, ry) = tokio::join!(
            owner.patch(&task_path(x.id), json!({"status": "todo"})),
            owner.patch(&task_path(y.id), json!({"status": "in_progress"})),
        );
        rx.good::<Task>();
        ry.good::<Task>();
        let count: i32 = app
            .db
            .scalar(
                "SELECT open_blockers::int FROM tasks WHERE id = $1",
                &[&waiting.id],
            )
            .await;
        assert_eq!(count, 2, "round {round}");
    }
    assert_counts_agree(&app.db).await;
}

async fn unblocked(user: &UserClient<'_>) -> Vec<Value> {
    let page: Value = user.get("/api/v1/me/notifications").await.good();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "unblocked")
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_assignee_hears_when_the_last_blocker_is_done() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let assignee = app.new_client().await;
    owner.add_member(project, &assignee, "editor").await;
    let waiting = task(
        &owner,
        project,
        json!({"title": "waiting", "assignee_id": assignee.id}),
    )
    .await;
    let first = titled(&owner, project, "first").await;
    let second = titled(&owner, project, "second").await;
    let third = titled(&owner, project, "third").await;
    owner.relate(first.id, "blocks", waiting.id).await;
    owner.relate(second.id, "blocks", waiting.id).await;
    // Not while another blocker is open; not for a canceled one.
    patch_task(&owner, first.id, json!({"status": "done"})).await;
    assert!(unblocked(&assignee).await.is_empty());
    patch_task(&owner, second.id, json!({"status": "canceled"})).await;
    assert!(unblocked(&assignee).await.is_empty());
    patch_task(&owner, second.id, json!({"status": "todo"})).await;
    patch_task(&owner, second.id, json!({"status": "done"})).await;
    let heard = unblocked(&assignee).await;
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0]["task"]["id"], waiting.id.to_string());
    assert_eq!(heard[0]["actor"]["id"], owner.id.to_string());
    assert_eq!(heard[0]["read_at"], Value::Null);
    // Nobody hears of what they did themselves.
    owner.relate(third.id, "blocks", waiting.id).await;
    assignee
        .patch(&task_path(third.id), json!({"status": "done"}))
        .await
        .good::<Task>();
    assert_eq!(unblocked(&assignee).await.len(), 1);
}

#[tokio::test]
async fn relations_across_projects_show_only_what_each_member_can_see() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let here = owner.create_project("Here").await.id;
    let there = owner.create_project("There").await.id;
    // Bob is in "Here" only; Vic edits "Here" and only views "There".
    let bob = app.new_client().await;
    let vic = app.new_client().await;
    owner.add_member(here, &bob, "editor").await;
    owner.add_member(here, &vic, "editor").await;
    owner.add_member(there, &vic, "viewer").await;
    let mine = titled(&owner, here, "mine").await;
    let hidden = titled(&owner, there, "hidden").await;

    let relation = vic.relate(mine.id, "blocked_by", hidden.id).await;
    assert_eq!(relation.task.project_id, there);
    // Vic sees both sides; Bob sees that the task waits, not on what.
    assert_eq!(
        vic.get(&relations_path(mine.id))
            .await
            .good::<Items<Relation>>()
            .items
            .len(),
        1
    );
    let seen_by_bob: Items<Relation> = bob.get(&relations_path(mine.id)).await.good();
    assert!(seen_by_bob.items.is_empty());
    assert!(bob.get_task(mine.id).await.blocked);
    bob.get(&relations_path(hidden.id))
        .await
        .problem(404, "not_found");
    // Bob can neither name the hidden task nor remove the relation he cannot see.
    let body = bob
        .post(
            &relations_path(mine.id),
            json!({"kind": "relates_to", "task_id": hidden.id}),
        )
        .await
        .invalid_field("task_id");
    assert_eq!(field_errors(&body)[0].1, "not_found");
    bob.delete(&format!("{}/{}", relations_path(mine.id), relation.id))
        .await
        .problem(404, "not_found");
    // Vic, a viewer of "There", may not relate from its tasks, nor remove from that side.
    vic.post(
        &relations_path(hidden.id),
        json!({"kind": "relates_to", "task_id": mine.id}),
    )
    .await
    .problem(403, "forbidden");
    vic.delete(&format!("{}/{}", relations_path(hidden.id), relation.id))
        .await
        .problem(403, "forbidden");
    // Bob's history names the relation but not the hidden task.
    let entries = history(&bob, &format!("/api/v1/tasks/{}/activity", mine.id)).await;
    assert_eq!(entries[0]["kind"], "task.related");
    let related = change(&entries[0], "relations").unwrap();
    assert_eq!(related["from"], Value::Null);
    assert_eq!(
        related["to"],
        json!({"id": relation.id, "kind": "blocked_by"})
    );
    assert_eq!(
        change(&entries[0], "blocked").unwrap(),
        &json!({"field": "blocked", "from": false, "to": true})
    );
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(&hidden.id.to_string()), "{text}");
    // The other side's entry is in its own project.
    let theirs = history(&owner, &format!("/api/v1/tasks/{}/activity", hidden.id)).await;
    assert_eq!(theirs[0]["kind"], "task.related");
    assert_eq!(theirs[0]["project_id"], there.to_string());
    assert_eq!(
        change(&theirs[0], "relations").unwrap()["to"]["kind"],
        "blocks"
    );

    // When the hidden task's project goes, its relations go with it, and Bob's task says so.
    owner.delete(&project_path(there)).await.no_content();
    let after = bob.get_task(mine.id).await;
    assert!(!after.blocked);
    let entries = history(&bob, &format!("/api/v1/tasks/{}/activity", mine.id)).await;
    assert_eq!(entries[0]["kind"], "task.unrelated");
    assert_eq!(
        change(&entries[0], "relations").unwrap()["from"],
        json!({"id": relation.id, "kind": "blocked_by"})
    );
    assert_eq!(change(&entries[0], "blocked").unwrap()["to"], false);
    assert!(vic
        .get(&relations_path(mine.id))
        .await
        .good::<Items<Relation>>()
        .items
        .is_empty());
    assert_counts_agree(&app.db).await;
}

#[tokio::test]
async fn relating_needs_an_editor_here_and_a_task_there_one_can_see() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let viewer = app.new_client().await;
    owner.add_member(project, &viewer, "viewer").await;
    let a = titled(&owner, project, "a").await;
    let b = titled(&owner, project, "b").await;
    viewer
        .post(
            &relations_path(a.id),
            json!({"kind": "relates_to", "task_id": b.id}),
        )
        .await
        .problem(403, "forbidden");
    let r = owner.relate(a.id, "relates_to", b.id).await;
    viewer
        .delete(&format!("{}/{}", relations_path(a.id), r.id))
        .await
        .problem(403, "forbidden");
    assert_eq!(
        viewer
            .get(&relations_path(b.id))
            .await
            .good::<Items<Relation>>()
            .items
            .len(),
        1
    );
    let stranger = app.new_client().await;
    stranger
        .get(&relations_path(a.id))
        .await
        .problem(404, "not_found");
    stranger
        .post(
            &relations_path(a.id),
            json!({"kind": "relates_to", "task_id": b.id}),
        )
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn a_task_takes_part_in_at_most_two_hundred_relations() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let busy = titled(&owner, project, "busy").await;
    let last = titled(&owner, project, "last").await;
    // 200 relations made in the database directly (through the same table and triggers).
    app.db
        .execute(
            "WITH others AS ( \
                 INSERT INTO tasks (id, project_id, number, title, status, created_by) \
                 SELECT gen_random_uuid(), $1, 100 + g, 'filler', 'todo', $2 \
                 FROM generate_series(1, 200) g RETURNING id) \
             INSERT INTO task_relations (id, kind, source_id, target_id) \
             SELECT gen_random_uuid(), 'relates_to', $3, id FROM others",
            &[&project, &owner.id, &busy.id],
        )
        .await;
    owner
        .post(
            &relations_path(last.id),
            json!({"kind": "relates_to", "task_id": busy.id}),
        )
        .await
        .problem(422, "quota_exceeded");
    let list: Items<Relation> = owner.get(&relations_path(busy.id)).await.good();
    assert_eq!(list.items.len(), 200);
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn state_parent_and_relation_changes_are_in_the_history() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let review = add_state(
        &owner,
        project,
        json!({"name": "Review", "category": "in_progress"}),
    )
    .await;
    let parent = titled(&owner, project, "parent").await;
    let child = task(
        &owner,
        project,
        json!({"title": "child", "parent_id": parent.id}),
    )
    .await;
    let entries = history(&owner, &format!("/api/v1/tasks/{}/activity", child.id)).await;
    let created = &entries[0];
    assert_eq!(
        change(created, "parent_id").unwrap()["to"],
        parent.id.to_string()
    );
    assert_eq!(
        change(created, "state_id").unwrap()["to"],
        child.state_id.to_string()
    );

    patch_task(
        &owner,
        child.id,
        json!({"state_id": review.id, "parent_id": null}),
    )
    .await;
    let entries = history(&owner, &format!("/api/v1/tasks/{}/activity", child.id)).await;
    let updated = &entries[0];
    assert_eq!(updated["kind"], "task.updated");
    assert_eq!(
        change(updated, "state_id").unwrap(),
        &json!({"field": "state_id", "from": child.state_id, "to": review.id})
    );
    assert_eq!(
        change(updated, "status").unwrap(),
        &json!({"field": "status", "from": "todo", "to": "in_progress"})
    );
    assert_eq!(
        change(updated, "parent_id").unwrap(),
        &json!({"field": "parent_id", "from": parent.id, "to": null})
    );

    // Relations: on both tasks, naming the other (same project), and their removal.
    let relation = owner.relate(parent.id, "blocks", child.id).await;
    let of_child = history(&owner, &format!("/api/v1/tasks/{}/activity", child.id)).await;
    assert_eq!(of_child[0]["kind"], "task.related");
    assert_eq!(
        change(&of_child[0], "relations").unwrap()["to"],
        json!({"id": relation.id, "kind": "blocked_by", "task_id": parent.id})
    );
    let of_parent = history(&owner, &format!("/api/v1/tasks/{}/activity", parent.id)).await;
    assert_eq!(
        change(&of_parent[0], "relations").unwrap()["to"],
        json!({"id": relation.id, "kind": "blocks", "task_id": child.id})
    );
    assert!(change(&of_parent[0], "blocked").is_none());
    // The blocker done: the blocked task's own entry says it no longer waits.
    patch_task(&owner, parent.id, json!({"status": "done"})).await;
    let of_child = history(&owner, &format!("/api/v1/tasks/{}/activity", child.id)).await;
    assert_eq!(of_child[0]["kind"], "task.updated");
    assert_eq!(
        of_child[0]["changes"],
        json!([{"field": "blocked", "from": true, "to": false}])
    );
    assert_eq!(of_child[0]["actor"]["id"], owner.id.to_string());
    owner
        .delete(&format!("{}/{}", relations_path(child.id), relation.id))
        .await
        .no_content();
    let of_parent = history(&owner, &format!("/api/v1/tasks/{}/activity", parent.id)).await;
    assert_eq!(of_parent[0]["kind"], "task.unrelated");
    assert_eq!(
        change(&of_parent[0], "relations").unwrap(),
        &json!({"field": "relations", "from": {"id": relation.id, "kind": "blocks", "task_id": child.id}, "to": null})
    );

    // A state's own changes are the project's.
    let project_entries = history(&owner, &format!("/api/v1/projects/{project}/activity")).await;
    let added = project_entries
        .iter()
        .find(|e| {
            e["kind"] == "project.updated"
                && change(e, "states").is_some_and(|c| c["from"].is_null())
        })
        .unwrap();
    assert_eq!(change(added, "states").unwrap()["to"]["name"], "Review");
}
