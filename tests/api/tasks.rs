//! Tasks (API.md §4): creation and validation, merge-patch, moves, numbering, concurrency
//! control, and the lists: keyset pagination, sorts and filters.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// A user and a fresh project of theirs.
async fn owner_and_project(app: &TestApp) -> (UserClient<'_>, Uuid) {
    let user = app.new_client().await;
    let project = user.create_project("Work").await.id;
    (user, project)
}

/// Follows `next_cursor` from `path` (which may carry a query) until the end; returns the
/// items in the order served.
async fn all_pages(user: &UserClient<'_>, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut request = user.get(path).query(query);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = request.await.good::<Value>();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("pagination of {path} does not end");
}

fn ids(items: &[Value]) -> Vec<Uuid> {
    items.iter().map(uuid).collect()
}

fn id_set(items: &[Value]) -> BTreeSet<Uuid> {
    items.iter().map(uuid).collect()
}

// ---------------------------------------------------------------------------------------------
// Create and read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_task_answers_201_with_location_etag_and_defaults() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let response = user
        .post(&tasks_path(project), json!({"title": "Write tests"}))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.etag(), "\"1\"");
    let location = response.location();
    let task = response.created::<Value>();
    assert_eq!(location, format!("/api/v1/tasks/{}", id_of(&task)));
    assert_eq!(
        keys_of(&task),
        [
            "assignee_id",
            "attachment_count",
            "blocked",
            "comment_count",
            "completed_at",
            "created_at",
            "created_by",
            "description",
            "due_date",
            "due_time",
            "fields",
            "id",
            "labels",
            "number",
            "parent_id",
            "position",
            "priority",
            "project_id",
            "recurrence",
            "reminders",
            "source",
            "start_date",
            "state_id",
            "status",
            "subtasks",
            "time_spent_minutes",
            "title",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(task["project_id"], project.to_string());
    assert_eq!(task["number"], 1);
    assert_eq!(task["title"], "Write tests");
    assert_eq!(task["fields"], json!({}));
    assert_eq!(task["reminders"], json!([]));
    assert_eq!(task["description"], "");
    assert_eq!(task["status"], "todo");
    assert_eq!(task["priority"], 0);
    assert_eq!(task["due_date"], Value::Null);
    assert_eq!(task["labels"], json!([]));
    assert_eq!(task["assignee_id"], Value::Null);
    assert_eq!(task["created_by"], user.id.to_string());
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(task["source"], Value::Null);
    assert_eq!(task["version"], 1);
    assert!(is_utc_timestamp(&task["created_at"]));
    assert!(is_utc_timestamp(&task["updated_at"]));
    let id: Uuid = id_of(&task).parse().unwrap();
    assert_eq!(id.get_version_num(), 7);

    let response = user.get(&location).await;
    assert_eq!(response.etag(), "\"1\"");
    assert_eq!(response.good::<Value>(), task);
}

#[tokio::test]
async fn creating_a_task_with_every_field() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user
        .create_task(
            project,
            json!({
                "title": "Ship", "description": "All of it", "status": "in_progress", "priority": 4,
                "due_date": "2026-02-28", "labels": ["Release"], "assignee_id": user.id
            }),
        )
        .await;
    assert_eq!(task.description, "All of it");
    assert_eq!(task.status, "in_progress");
    assert_eq!(task.priority, 4);
    assert_eq!(task.due_date.as_deref(), Some("2026-02-28"));
    assert_eq!(task.labels, ["release"]);
    assert_eq!(task.assignee_id, Some(user.id));
    assert_eq!(task.completed_at, None);
}

#[tokio::test]
async fn task_numbers_count_up_per_project_and_are_never_reused() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let other = user.create_project("Other").await.id;
    let mut numbers = Vec::new();
    for title in ["a", "b", "c"] {
        numbers.push(user.create_task(project, json!({"title": title})).await);
    }
    assert_eq!(
        numbers.iter().map(|t| t.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        user.create_task(other, json!({"title": "x"})).await.number,
        1
    );
    user.delete(&task_path(numbers[2].id)).await.no_content();
    assert_eq!(
        user.create_task(project, json!({"title": "d"}))
            .await
            .number,
        4
    );
}

#[tokio::test]
async fn twenty_concurrent_creates_get_numbers_1_to_20() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let creates = (0..20).map(|i| {
        user.post(&tasks_path(project), json!({"title": format!("t{i}")}))
            .send()
    });
    let responses = futures::future::join_all(creates).await;
    let mut numbers = Vec::new();
    for response in responses {
        numbers.push(response.created::<Task>().number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<i64>>());
}

// ---------------------------------------------------------------------------------------------
// Validation through the domain types
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn titles_are_trimmed_and_checked_for_length_and_control_characters() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let created = user
        .create_task(project, json!({"title": "  Ship it \t"}))
        .await;
    assert_eq!(created.title, "Ship it");
    let exact = user
        .create_task(project, json!({"title": "é".repeat(200)}))
        .await;
    assert_eq!(exact.title.chars().count(), 200);
    let padded = user
        .create_task(
            project,
            json!({"title": format!("  {}  ", "x".repeat(200))}),
        )
        .await;
    assert_eq!(padded.title, "x".repeat(200));

    for (title, code) in [
        ("", "required"),
        ("   ", "required"),
        (&"x".repeat(201), "too_long"),
        ("a\nb", "invalid"),
        ("a\u{7}b", "invalid"),
        ("a\u{7f}b", "invalid"),
    ] {
        let body = user
            .post(&tasks_path(project), json!({"title": title}))
            .await
            .problem(422, "validation_failed");
        assert_eq!(
            field_errors(&body),
            [("title".to_owned(), code.to_owned())],
            "{title:?}"
        );
        let body = user
            .patch(&task_path(created.id), json!({"title": title}))
            .await
            .problem(422, "validation_failed");
        assert_eq!(
            field_errors(&body),
            [("title".to_owned(), code.to_owned())],
            "{title:?}"
        );
    }
    user.post(&tasks_path(project), json!({}))
        .await
        .invalid_field("title");
    user.post(&tasks_path(project), json!({"title": 5}))
        .await
        .invalid_field("title");
    user.patch(&task_path(created.id), json!({"title": null}))
        .await
        .invalid_field("title");

    let patched = user
        .patch(&task_path(created.id), json!({"title": " Renamed "}))
        .await
        .good::<Task>();
    assert_eq!(patched.title, "Renamed");
    assert_eq!(patched.version, 2, "the refused patches changed nothing");
}

#[tokio::test]
async fn descriptions_may_have_up_to_20000_characters() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let long = "d".repeat(20_000);
    let task = user
        .create_task(project, json!({"title": "t", "description": long}))
        .await;
    assert_eq!(task.description.as_str().len(), 20_000);
    let body = user
        .post(
            &tasks_path(project),
            json!({"title": "t", "description": "d".repeat(20_001)}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&body),
        [("description".to_owned(), "too_long".to_owned())]
    );
    user.patch(
        &task_path(task.id),
        json!({"description": "é".repeat(20_001)}),
    )
    .await
    .invalid_field("description");
    let patched = user
        .patch(&task_path(task.id), json!({"description": ""}))
        .await
        .good::<Task>();
    assert_eq!(patched.description, "");
}

#[tokio::test]
async fn status_takes_the_four_values_only() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    for status in ["todo", "in_progress", "done", "canceled"] {
        let task = user
            .create_task(project, json!({"title": "t", "status": status}))
            .await;
        assert_eq!(task.status, status);
    }
    for status in [json!("open"), json!("DONE"), json!(""), json!(1)] {
        user.post(
            &tasks_path(project),
            json!({"title": "t", "status": status}),
        )
        .await
        .invalid_field("status");
    }
    let task = user.create_task(project, json!({"title": "t"})).await.id;
    for status in [json!("closed"), json!("Done"), json!(null)] {
        user.patch(&task_path(task), json!({"status": status}))
            .await
            .invalid_field("status");
    }
    assert_eq!(user.get_task(task).await.status, "todo");
}

#[tokio::test]
async fn priority_runs_from_0_to_4() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    for priority in 0..=4 {
        let task = user
            .create_task(project, json!({"title": "t", "priority": priority}))
            .await;
        assert_eq!(task.priority, priority);
    }
    let task = user.create_task(project, json!({"title": "t"})).await.id;
    for priority in [json!(-1), json!(5), json!(2.5), json!("high")] {
        user.post(
            &tasks_path(project),
            json!({"title": "t", "priority": priority}),
        )
        .await
        .invalid_field("priority");
        user.patch(&task_path(task), json!({"priority": priority}))
            .await
            .invalid_field("priority");
    }
    user.patch(&task_path(task), json!({"priority": null}))
        .await
        .invalid_field("priority");
    assert_eq!(user.get_task(task).await.priority, 0);
}

#[tokio::test]
async fn due_dates_are_calendar_dates_in_yyyy_mm_dd() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user
        .create_task(project, json!({"title": "t", "due_date": "2028-02-29"}))
        .await;
    assert_eq!(task.due_date.as_deref(), Some("2028-02-29"));
    for bad in [
        "2026-02-30",
        "2026-2-3",
        "2026-01-01T00:00:00Z",
        "tomorrow",
        "",
        "02/03/2026",
    ] {
        user.post(&tasks_path(project), json!({"title": "t", "due_date": bad}))
            .await
            .invalid_field("due_date");
        user.patch(&task_path(task.id), json!({"due_date": bad}))
            .await
            .invalid_field("due_date");
    }
    user.post(
        &tasks_path(project),
        json!({"title": "t", "due_date": 20260101}),
    )
    .await
    .invalid_field("due_date");
    assert_eq!(
        user.get_task(task.id).await.due_date.as_deref(),
        Some("2028-02-29")
    );
}

#[tokio::test]
async fn labels_are_trimmed_lower_cased_deduplicated_and_sorted() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user
        .create_task(
            project,
            json!({"title": "t", "labels": [" Bug ", "bug", "UI", "api", "BUG"]}),
        )
        .await;
    assert_eq!(task.labels, ["api", "bug", "ui"]);
    let patched = user
        .patch(
            &task_path(task.id),
            json!({"labels": ["Zeta", " alpha", "ALPHA"]}),
        )
        .await
        .good::<Task>();
    assert_eq!(patched.labels, ["alpha", "zeta"]);
    let cleared = user
        .patch(&task_path(task.id), json!({"labels": []}))
        .await
        .good::<Task>();
    assert_eq!(cleared.labels, Vec::<String>::new());

    let fifty = "L".repeat(50);
    let task = user
        .create_task(project, json!({"title": "t", "labels": [fifty]}))
        .await;
    assert_eq!(task.labels, ["l".repeat(50)]);
    let body = user
        .post(
            &tasks_path(project),
            json!({"title": "t", "labels": ["ok", "  ", "x".repeat(51)]}),
        )
        .await
        .problem(422, "validation_failed");
    let fields: Vec<String> = field_errors(&body).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["labels.1", "labels.2"]);
    user.post(&tasks_path(project), json!({"title": "t", "labels": "bug"}))
        .await
        .invalid_field("labels");
    // A label of the wrong type is named by its position (the extractor spells it
    // `labels[0]`, API.md §1 `labels.0`: accept either here).
    let body = user
        .post(
            &tasks_path(project),
            json!({"title": "t", "labels": ["ok", 1]}),
        )
        .await
        .problem(422, "validation_failed");
    let (field, _) = &field_errors(&body)[0];
    assert!(field == "labels.1" || field == "labels[1]", "{body}");
}

#[tokio::test]
async fn at_most_20_distinct_labels_after_merging_duplicates() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let twenty: Vec<String> = (0..20).map(|i| format!("l{i:02}")).collect();
    let task = user
        .create_task(project, json!({"title": "t", "labels": twenty}))
        .await;
    assert_eq!(task.labels.len(), 20);
    // 40 given, 20 after normalising.
    let doubled: Vec<String> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                format!("L{:02}", i / 2)
            } else {
                format!(" l{:02} ", i / 2)
            }
        })
        .collect();
    let task = user
        .create_task(project, json!({"title": "t", "labels": doubled}))
        .await;
    assert_eq!(task.labels, twenty);

    let too_many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let body = user
        .post(
            &tasks_path(project),
            json!({"title": "t", "labels": too_many}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&body),
        [("labels".to_owned(), "too_many".to_owned())]
    );
    user.patch(&task_path(task.id), json!({"labels": too_many}))
        .await
        .invalid_field("labels");
    assert_eq!(user.get_task(task.id).await.labels, twenty);
}

#[tokio::test]
async fn the_assignee_must_be_a_member_of_the_project() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let (member, stranger) = tokio::join!(app.new_client(), app.new_client());
    owner.add_member(project, &member, "viewer").await;

    let task = owner
        .create_task(project, json!({"title": "t", "assignee_id": member.id}))
        .await;
    assert_eq!(task.assignee_id, Some(member.id));
    for assignee in [stranger.id, Uuid::now_v7()] {
        let body = owner
            .post(
                &tasks_path(project),
                json!({"title": "t", "assignee_id": assignee}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(field_errors(&body)[0].0, "assignee_id");
        owner
            .patch(&task_path(task.id), json!({"assignee_id": assignee}))
            .await
            .invalid_field("assignee_id");
    }
    owner
        .post(
            &tasks_path(project),
            json!({"title": "t", "assignee_id": "not-a-uuid"}),
        )
        .await
        .invalid_field("assignee_id");
    let task = owner.get_task(task.id).await;
    assert_eq!(task.assignee_id, Some(member.id));
    assert_eq!(task.version, 1);
}

#[tokio::test]
async fn unknown_fields_are_refused_on_create_and_patch() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let body = user
        .post(&tasks_path(project), json!({"title": "t", "colour": "red"}))
        .await
        .invalid_field("colour");
    assert_eq!(field_errors(&body)[0].1, "unknown_field");
    // Read-only fields are not accepted on create either.
    user.post(&tasks_path(project), json!({"title": "t", "number": 7}))
        .await
        .invalid_field("number");
    let task = user.create_task(project, json!({"title": "t"})).await.id;
    let body = user
        .patch(&task_path(task), json!({"colour": "red"}))
        .await
        .invalid_field("colour");
    assert_eq!(field_errors(&body)[0].1, "unknown_field");
    let response = user.patch(&task_path(task), json!(["title"])).await;
    response.problem(400, "malformed_json");
    assert_eq!(user.get_task(task).await.version, 1);
}

// ---------------------------------------------------------------------------------------------
// completed_at and merge-patch
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn completed_at_is_set_when_the_task_becomes_done_and_cleared_when_it_leaves() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user.create_task(project, json!({"title": "t"})).await.id;

    let done = user
        .patch(&task_path(task), json!({"status": "done"}))
        .await
        .good::<Task>();
    assert!(is_utc_timestamp(&done.completed_at), "{done:?}");
    // Staying done keeps the moment it became done.
    let still = user
        .patch(&task_path(task), json!({"title": "t2", "status": "done"}))
        .await
        .good::<Task>();
    assert_eq!(still.completed_at, done.completed_at);
    let reopened = user
        .patch(&task_path(task), json!({"status": "in_progress"}))
        .await
        .good::<Task>();
    assert_eq!(reopened.completed_at, None);
    let done_again = user
        .patch(&task_path(task), json!({"status": "done"}))
        .await
        .good::<Task>();
    assert!(is_utc_timestamp(&done_again.completed_at));
    let canceled = user
        .patch(&task_path(task), json!({"status": "canceled"}))
        .await
        .good::<Task>();
    assert_eq!(canceled.completed_at, None);

    let born_done = user
        .create_task(project, json!({"title": "t", "status": "done"}))
        .await;
    assert!(is_utc_timestamp(&born_done.completed_at));
    let born_canceled = user
        .create_task(project, json!({"title": "t", "status": "canceled"}))
        .await;
    assert_eq!(born_canceled.completed_at, None);
}

#[tokio::test]
async fn a_merge_patch_changes_what_it_names_and_null_clears() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    let member = app.new_client().await;
    owner.add_member(project, &member, "editor").await;
    let original = owner
        .create_task(
            project,
            json!({"title": "t", "description": "d", "status": "in_progress", "priority": 3,
               "due_date": "2026-05-01", "labels": ["x"], "assignee_id": member.id}),
        )
        .await;
    let task = original.id;

    let response = member.patch(&task_path(task), json!({"priority": 1})).await;
    assert_eq!(response.etag(), "\"2\"");
    let patched = response.good::<Task>();
    let expected = Task {
        priority: 1,
        version: 2,
        updated_at: patched.updated_at.clone(),
        ..original.clone()
    };
    assert_eq!(
        patched, expected,
        "only priority, version and updated_at change"
    );
    assert_ne!(patched.updated_at, original.updated_at);
    assert_eq!(patched.created_by, owner.id, "the creator stays");

    let cleared = member
        .patch(
            &task_path(task),
            json!({"due_date": null, "assignee_id": null}),
        )
        .await
        .good::<Task>();
    assert_eq!(cleared.due_date, None);
    assert_eq!(cleared.assignee_id, None);
    assert_eq!(cleared.labels, ["x"]);
    assert_eq!(cleared.description, "d");
    assert_eq!(cleared.status, "in_progress");
    assert_eq!(cleared.version, 3);

    let set = member
        .patch(
            &task_path(task),
            json!({"due_date": "2026-06-01", "assignee_id": owner.id}),
        )
        .await
        .good::<Task>();
    assert_eq!(set.due_date.as_deref(), Some("2026-06-01"));
    assert_eq!(set.assignee_id, Some(owner.id));
    assert_eq!(owner.get_task(task).await, set);
}

#[tokio::test]
async fn patching_a_read_only_field_is_422_read_only_and_changes_nothing() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user
        .post(&tasks_path(project), json!({"title": "t"}))
        .await
        .created::<Value>();
    let id = id_of(&task);
    for field in [
        "id",
        "number",
        "created_by",
        "completed_at",
        "source",
        "version",
        "created_at",
        "updated_at",
    ] {
        // Even when combined with a valid change, and even with the value it has now.
        let body = user
            .patch(
                &task_path(&id),
                json!({"title": "changed", field: task[field].clone()}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(
            field_errors(&body),
            [(field.to_owned(), "read_only".to_owned())],
            "{field}"
        );
    }
    assert_eq!(user.get(&task_path(&id)).await.good::<Value>(), task);
}

// ---------------------------------------------------------------------------------------------
// Moves between projects
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_editor_in_both_projects_moves_a_task_and_it_gets_a_new_number() {
    let app = spawn_app().await;
    let (owner, from) = owner_and_project(&app).await;
    let to = owner.create_project("Target").await.id;
    let (editor, from_only) = tokio::join!(app.new_client(), app.new_client());
    owner.add_member(from, &editor, "editor").await;
    owner.add_member(to, &editor, "editor").await;
    owner.add_member(from, &from_only, "viewer").await;
    for title in ["f1", "f2", "f3"] {
        owner.create_task(from, json!({"title": title})).await;
    }
    for title in ["t1", "t2"] {
        owner.create_task(to, json!({"title": title})).await;
    }
    let listed = all_pages(&owner, &tasks_path(from), &[]).await;
    let moving = listed[1].clone();
    assert_eq!(moving["number"], 2);

    let moved = editor
        .patch(&task_path(id_of(&moving)), json!({"project_id": to}))
        .await
        .good::<Task>();
    assert_eq!(moved.id.to_string(), moving["id"]);
    assert_eq!(moved.project_id, to);
    assert_eq!(moved.number, 3);
    assert_eq!(moved.title, "f2");
    assert_eq!(moved.version, 2);

    let numbers = |items: Vec<Value>| {
        let mut numbers: Vec<i64> = items
            .iter()
            .map(|t| t["number"].as_i64().unwrap())
            .collect();
        numbers.sort_unstable();
        numbers
    };
    assert_eq!(
        numbers(all_pages(&owner, &tasks_path(from), &[]).await),
        [1, 3]
    );
    assert_eq!(
        numbers(all_pages(&owner, &tasks_path(to), &[]).await),
        [1, 2, 3]
    );
    // The old number is not reused, and the target's counter moved on.
    assert_eq!(
        owner.create_task(from, json!({"title": "f4"})).await.number,
        4
    );
    assert_eq!(
        owner.create_task(to, json!({"title": "t4"})).await.number,
        4
    );
    // Someone only in the old project no longer sees it.
    let response = from_only.get(&task_path(id_of(&moving))).await;
    response.problem(404, "not_found");
}

#[tokio::test]
async fn moving_a_task_drops_an_assignee_who_is_not_in_the_target_project() {
    let app = spawn_app().await;
    let (owner, from) = owner_and_project(&app).await;
    let to = owner.create_project("Target").await.id;
    let helper = app.new_client().await;
    owner.add_member(from, &helper, "editor").await;
    let task = owner
        .create_task(from, json!({"title": "t", "assignee_id": helper.id}))
        .await;
    let moved = owner
        .patch(&task_path(task.id), json!({"project_id": to}))
        .await
        .good::<Task>();
    assert_eq!(moved.assignee_id, None);
    // Naming them explicitly is a validation error, and nothing moves.
    let task = owner
        .create_task(from, json!({"title": "t", "assignee_id": helper.id}))
        .await;
    owner
        .patch(
            &task_path(task.id),
            json!({"project_id": to, "assignee_id": helper.id}),
        )
        .await
        .invalid_field("assignee_id");
    assert_eq!(owner.get_task(task.id).await, task);
}

#[tokio::test]
async fn moving_into_a_project_where_the_caller_is_a_viewer_is_403() {
    let app = spawn_app().await;
    let (owner, from) = owner_and_project(&app).await;
    let (other, to) = owner_and_project(&app).await;
    other.add_member(to, &owner, "viewer").await;
    let task = owner.create_task(from, json!({"title": "stay"})).await;
    let response = owner
        .patch(&task_path(task.id), json!({"project_id": to}))
        .await;
    response.problem(403, "forbidden");
    assert_eq!(owner.get_task(task.id).await, task);
    assert!(all_pages(&other, &tasks_path(to), &[]).await.is_empty());
}

#[tokio::test]
async fn a_viewer_of_the_source_project_cannot_move_a_task_out() {
    let app = spawn_app().await;
    let (owner, from) = owner_and_project(&app).await;
    let (viewer, to) = owner_and_project(&app).await;
    owner.add_member(from, &viewer, "viewer").await;
    let task = owner.create_task(from, json!({"title": "stay"})).await;
    let response = viewer
        .patch(&task_path(task.id), json!({"project_id": to}))
        .await;
    response.problem(403, "forbidden");
    assert_eq!(owner.get_task(task.id).await, task);
}

#[tokio::test]
async fn moving_into_a_missing_or_foreign_project_is_422_on_project_id() {
    let app = spawn_app().await;
    let (owner, from) = owner_and_project(&app).await;
    let (_stranger, foreign) = owner_and_project(&app).await;
    let task = owner.create_task(from, json!({"title": "stay"})).await;
    for target in [foreign, Uuid::now_v7()] {
        let body = owner
            .patch(
                &task_path(task.id),
                json!({"project_id": target, "title": "moved"}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(field_errors(&body)[0].0, "project_id");
        assert_eq!(field_errors(&body).len(), 1);
    }
    owner
        .patch(&task_path(task.id), json!({"project_id": "nope"}))
        .await
        .invalid_field("project_id");
    owner
        .patch(&task_path(task.id), json!({"project_id": null}))
        .await
        .invalid_field("project_id");
    assert_eq!(owner.get_task(task.id).await, task);
    let next: i64 = app
        .db
        .scalar(
            "SELECT next_task_number FROM projects WHERE id = $1",
            &[&from],
        )
        .await;
    assert_eq!(next, 2);
}

// ---------------------------------------------------------------------------------------------
// ETags and preconditions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_task_honours_if_none_match() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user.create_task(project, json!({"title": "t"})).await.id;
    let get = |tag: &'static str| user.get(&task_path(task)).if_none_match(tag);
    let response = get("\"1\"").await;
    assert_eq!(response.status(), 304);
    assert_eq!(response.etag(), "\"1\"");
    assert!(response.text().is_empty());
    let response = get("\"3\", \"1\"").await;
    assert_eq!(response.status(), 304);

    user.patch(&task_path(task), json!({"priority": 1}))
        .await
        .good::<Value>();
    let response = get("\"1\"").await;
    assert_eq!(response.etag(), "\"2\"");
    assert_eq!(response.good::<Task>().priority, 1);
    assert_eq!(get("\"2\"").await.status(), 304);
}

#[tokio::test]
async fn patching_a_task_with_a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user
        .create_task(project, json!({"title": "original"}))
        .await;
    let id = task.id;
    let patch = |tag: &'static str, title: &'static str| {
        user.patch(&task_path(id), json!({"title": title}))
            .if_match(tag)
    };
    patch("\"0\"", "lost")
        .await
        .problem(412, "precondition_failed");
    patch("\"2\"", "lost")
        .await
        .problem(412, "precondition_failed");
    assert_eq!(user.get_task(id).await, task);

    let response = patch("\"1\"", "applied").await;
    assert_eq!(response.etag(), "\"2\"");
    let applied = response.good::<Task>();
    assert_eq!(applied.title, "applied");
    assert_eq!(applied.version, 2);

    // Two writers with the same tag: the second one loses.
    patch("\"1\"", "second")
        .await
        .problem(412, "precondition_failed");
    assert_eq!(user.get_task(id).await.title, "applied");
    // Without If-Match the write applies to the current version.
    let blind = user
        .patch(&task_path(id), json!({"title": "blind"}))
        .await
        .good::<Task>();
    assert_eq!(blind.version, 3);
}

#[tokio::test]
async fn deleting_a_task_honours_if_match() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user.create_task(project, json!({"title": "t"})).await.id;
    user.patch(&task_path(task), json!({"priority": 2}))
        .await
        .good::<Value>();
    let delete = |tag: &'static str| user.delete(&task_path(task)).if_match(tag);
    delete("\"1\"").await.problem(412, "precondition_failed");
    assert_eq!(user.get_task(task).await.version, 2);
    delete("\"2\"").await.no_content();
    let response = user.get(&task_path(task)).await;
    response.problem(404, "not_found");
    delete("\"2\"").await.problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn paging_visits_every_task_exactly_once_while_tasks_are_added_and_removed() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let mut created = Vec::new();
    for i in 0..12 {
        created.push(
            user.create_task(project, json!({"title": format!("t{i}")}))
                .await
                .id,
        );
    }
    let mut seen: Vec<Uuid> = Vec::new();
    let mut deleted = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = user.get(&tasks_path(project)).query(&[("limit", "3")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Task> = request.await.good();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|t| t.id));
        pages += 1;
        // Between pages: two new tasks, and once, one seen and one unseen task deleted.
        if pages <= 3 {
            for _ in 0..2 {
                created.push(user.create_task(project, json!({"title": "late"})).await.id);
            }
        }
        if pages == 2 {
            for victim in [seen[0], created[10]] {
                user.delete(&task_path(victim)).await.no_content();
                deleted.insert(victim);
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let unique: BTreeSet<&Uuid> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no task twice: {seen:?}");
    let expected: Vec<Uuid> = created
        .iter()
        .filter(|id| *id == &seen[0] || !deleted.contains(*id))
        .cloned()
        .collect();
    assert_eq!(seen, expected, "every task once, in creation order");
}

#[tokio::test]
async fn limit_defaults_to_50_and_must_be_1_to_100() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let creates = (0..51).map(|i| {
        user.post(&tasks_path(project), json!({"title": format!("t{i}")}))
            .send()
    });
    for response in futures::future::join_all(creates).await {
        response.created::<Value>();
    }
    let page = user.get(&tasks_path(project)).await.good::<Value>();
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string());
    let page = user
        .get(&format!("{}?limit=100", tasks_path(project)))
        .await
        .good::<Value>();
    assert_eq!(page["items"].as_array().unwrap().len(), 51);
    assert_eq!(page["next_cursor"], Value::Null);
    let page = user
        .get(&format!("{}?limit=1", tasks_path(project)))
        .await
        .good::<Value>();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    for limit in ["0", "101", "x", "-1", "1.5", ""] {
        for path in [tasks_path(project), "/api/v1/tasks".to_owned()] {
            let response = user.get(&path).query(&[("limit", limit)]).await;
            response.problem(400, "invalid_query");
        }
    }
}

/// The `next_cursor` of the first page (limit 1) of a list.
async fn first_cursor(user: &UserClient<'_>, path: &str, query: &[(&str, &str)]) -> String {
    let page: Page<Value> = user
        .get(path)
        .query(&[("limit", "1")])
        .query(query)
        .await
        .good();
    page.next_cursor.unwrap()
}

async fn with_cursor(
    user: &UserClient<'_>,
    path: &str,
    query: &[(&str, &str)],
    cursor: &str,
) -> TestResponse {
    user.get(path)
        .query(&[("limit", "1")])
        .query(query)
        .query(&[("cursor", cursor)])
        .await
}

#[tokio::test]
async fn tampered_and_foreign_cursors_are_400_invalid_query() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let other = user.create_project("Other").await.id;
    for p in [project, other] {
        for i in 0..3 {
            user.create_task(p, json!({"title": format!("t{i}")})).await;
        }
    }
    let here = tasks_path(project);
    let cursor = first_cursor(&user, &here, &[]).await;
    // The cursor works where it came from.
    with_cursor(&user, &here, &[], &cursor)
        .await
        .good::<Value>();

    let (payload, tag) = cursor.split_once('.').unwrap();
    let flip = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let tampered = [
        format!("{}.{tag}", flip(payload)),
        format!("{payload}.{}", flip(tag)),
        payload.to_owned(),
        "garbage".to_owned(),
        format!("{cursor}x"),
    ];
    for bad in tampered {
        let response = with_cursor(&user, &here, &[], &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        response.problem(400, "invalid_query");
    }
    // The same cursor on other lists: another project, another filter, another sort, the
    // cross-project endpoint.
    let elsewhere: [(&str, &[(&str, &str)]); 7] = [
        (&tasks_path(other), &[]),
        (&here, &[("status", "todo")]),
        (&here, &[("q", "t0")]),
        (&here, &[("sort", "-created_at")]),
        (&here, &[("sort", "updated_at")]),
        ("/api/v1/tasks", &[]),
        ("/api/v1/tasks", &[("project_id", &project.to_string())]),
    ];
    for (path, query) in elsewhere {
        let response = with_cursor(&user, path, query, &cursor).await;
        assert_eq!(response.status(), 400, "{path} {query:?}");
        response.problem(400, "invalid_query");
    }
    // A filtered list's cursor on the unfiltered list.
    let filtered = first_cursor(&user, &here, &[("status", "todo")]).await;
    let response = with_cursor(&user, &here, &[], &filtered).await;
    response.problem(400, "invalid_query");
    // Another user's cursor of the cross-project list.
    let mine = first_cursor(&user, "/api/v1/tasks", &[]).await;
    let stranger = app.new_client().await;
    let response = with_cursor(&stranger, "/api/v1/tasks", &[], &mine).await;
    response.problem(400, "invalid_query");
}

// ---------------------------------------------------------------------------------------------
// Sorts
// ---------------------------------------------------------------------------------------------

/// Tasks with ties in every sort key and some null due dates; created_at and updated_at are
/// set to shared values in the database so that ties are certain.
async fn sortable_tasks(app: &TestApp, user: &UserClient<'_>, project: Uuid) -> Vec<Value> {
    let specs: [(i64, Option<&str>); 9] = [
        (2, Some("2026-03-01")),
        (0, None),
        (2, Some("2026-01-15")),
        (4, Some("2026-03-01")),
        (2, None),
        (0, Some("2026-01-15")),
        (1, Some("2026-03-01")),
        (4, None),
        (1, Some("2026-12-31")),
    ];
    let mut ids = Vec::new();
    for (i, (priority, due)) in specs.into_iter().enumerate() {
        let task = user
            .create_task(
                project,
                json!({"title": format!("s{i}"), "priority": priority, "due_date": due}),
            )
            .await;
        ids.push(task.id);
    }
    // Three created_at groups and, crossing them, two updated_at groups.
    let base: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    for (i, id) in ids.iter().enumerate() {
        let created = base + chrono::Duration::seconds((i / 3) as i64);
        let updated = base + chrono::Duration::minutes(10 + (i % 2) as i64);
        app.db
            .execute(
                "UPDATE tasks SET created_at = $2, updated_at = $3 WHERE id = $1",
                &[&id, &created, &updated],
            )
            .await;
    }
    let mut tasks = Vec::new();
    for id in ids {
        tasks.push(user.get(&task_path(id)).await.good::<Value>());
    }
    tasks
}

fn timestamp(task: &Value, field: &str) -> DateTime<Utc> {
    task[field].as_str().unwrap().parse().unwrap()
}

fn due(task: &Value) -> Option<NaiveDate> {
    task["due_date"].as_str().map(|d| d.parse().unwrap())
}

fn uuid(task: &Value) -> Uuid {
    task["id"].as_str().unwrap().parse().unwrap()
}

/// The order API.md asks for: by the key in the sort's direction, ties by id in the same
/// direction, null due dates last both ways.
fn expected_order(tasks: &[Value], sort: &str) -> Vec<Uuid> {
    let descending = sort.starts_with('-');
    let key = sort.trim_start_matches('-');
    let mut sorted = tasks.to_vec();
    sorted.sort_by(|a, b| {
        let directed = |o: Ordering| if descending { o.reverse() } else { o };
        let by_key = match key {
            "created_at" | "updated_at" => directed(timestamp(a, key).cmp(&timestamp(b, key))),
            "priority" => directed(a["priority"].as_i64().cmp(&b["priority"].as_i64())),
            "due_date" => match (due(a), due(b)) {
                (Some(x), Some(y)) => directed(x.cmp(&y)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            other => panic!("no sort {other}"),
        };
        by_key.then_with(|| directed(uuid(a).cmp(&uuid(b))))
    });
    ids(&sorted)
}

#[tokio::test]
async fn every_sort_pages_in_order_with_ties_by_id_and_null_due_dates_last() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let tasks = sortable_tasks(&app, &user, project).await;
    for sort in [
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "due_date",
        "-due_date",
        "priority",
        "-priority",
    ] {
        let expected = expected_order(&tasks, sort);
        let paged = all_pages(
            &user,
            &tasks_path(project),
            &[("sort", sort), ("limit", "2")],
        )
        .await;
        assert_eq!(ids(&paged), expected, "sort={sort}");
        let whole = all_pages(&user, &tasks_path(project), &[("sort", sort)]).await;
        assert_eq!(ids(&whole), expected, "sort={sort}, one page");
        let across = all_pages(
            &user,
            "/api/v1/tasks",
            &[
                ("sort", sort),
                ("limit", "2"),
                ("project_id", &project.to_string()),
            ],
        )
        .await;
        assert_eq!(ids(&across), expected, "GET /api/v1/tasks sort={sort}");
    }
    // The default is created_at.
    let default = all_pages(&user, &tasks_path(project), &[("limit", "4")]).await;
    assert_eq!(ids(&default), expected_order(&tasks, "created_at"));
    // Null due dates come last both ways.
    for sort in ["due_date", "-due_date"] {
        let order = all_pages(
            &user,
            &tasks_path(project),
            &[("sort", sort), ("limit", "3")],
        )
        .await;
        let nulls: Vec<bool> = order.iter().map(|t| t["due_date"].is_null()).collect();
        assert_eq!(
            nulls,
            [false, false, false, false, false, false, true, true, true],
            "{sort}"
        );
    }
    for bad in ["title", "+priority", "--due_date", "Priority", ""] {
        let response = user.get(&tasks_path(project)).query(&[("sort", bad)]).await;
        response.problem(400, "invalid_query");
    }
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

struct Fixture<'a> {
    owner: UserClient<'a>,
    member: UserClient<'a>,
    project: Uuid,
    by_title: BTreeMap<String, Uuid>,
}

impl<'a> Fixture<'a> {
    async fn new(app: &'a TestApp) -> Fixture<'a> {
        let (owner, project) = owner_and_project(app).await;
        let member = app.new_client().await;
        owner.add_member(project, &member, "editor").await;
        let specs = vec![
            json!({"title": "Deploy the app", "status": "todo", "priority": 3, "due_date": "2026-03-10",
                   "labels": ["Ops", "release"], "assignee_id": member.id}),
            json!({"title": "Deploy to staging", "status": "in_progress", "priority": 1,
                   "due_date": "2026-03-01", "labels": ["ops"], "assignee_id": owner.id}),
            json!({"title": "Fix login page", "status": "done", "priority": 4, "due_date": "2026-03-20",
                   "labels": ["bug"]}),
            json!({"title": "Login fix follow-up", "status": "canceled", "priority": 0,
                   "labels": ["BUG", "ui"], "assignee_id": member.id}),
            json!({"title": "Write the changelog", "description": "Mention the database migrations",
                   "status": "todo", "priority": 2, "due_date": "2026-03-09"}),
            json!({"title": "Plan roadmap", "status": "in_progress", "priority": 4,
                   "due_date": "2026-03-11", "labels": ["planning"], "assignee_id": owner.id}),
        ];
        let mut by_title = BTreeMap::new();
        for spec in specs {
            let task = owner.create_task(project, spec).await;
            by_title.insert(task.title, task.id);
        }
        Fixture {
            owner,
            member,
            project,
            by_title,
        }
    }

    /// The titles a filtered list of the project returns, sorted.
    async fn titles(&self, user: &UserClient<'_>, query: &[(&str, &str)]) -> Vec<String> {
        let items = all_pages(user, &tasks_path(self.project), query).await;
        let mut titles: Vec<String> = items
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect();
        titles.sort();
        titles
    }
}

fn sorted(titles: &[&str]) -> Vec<String> {
    let mut titles: Vec<String> = titles.iter().map(|t| (*t).to_owned()).collect();
    titles.sort();
    titles
}

#[tokio::test]
async fn the_status_filter_takes_a_comma_separated_list() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let owner = &f.owner;
    assert_eq!(
        f.titles(owner, &[("status", "todo")]).await,
        sorted(&["Deploy the app", "Write the changelog"])
    );
    assert_eq!(
        f.titles(owner, &[("status", "done,canceled")]).await,
        sorted(&["Fix login page", "Login fix follow-up"])
    );
    assert_eq!(
        f.titles(owner, &[("status", "in_progress,todo,done")])
            .await,
        sorted(&[
            "Deploy the app",
            "Deploy to staging",
            "Fix login page",
            "Write the changelog",
            "Plan roadmap"
        ])
    );
    for bad in ["open", "todo,open", "", "TODO"] {
        let response = owner
            .get(&tasks_path(f.project))
            .query(&[("status", bad)])
            .await;
        response.problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn the_assignee_filter_takes_me_none_or_a_user_id() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let member_id = f.member.id.to_string();
    assert_eq!(
        f.titles(&f.owner, &[("assignee", "me")]).await,
        sorted(&["Deploy to staging", "Plan roadmap"])
    );
    assert_eq!(
        f.titles(&f.member, &[("assignee", "me")]).await,
        sorted(&["Deploy the app", "Login fix follow-up"])
    );
    assert_eq!(
        f.titles(&f.owner, &[("assignee", "none")]).await,
        sorted(&["Fix login page", "Write the changelog"])
    );
    assert_eq!(
        f.titles(&f.owner, &[("assignee", &member_id)]).await,
        sorted(&["Deploy the app", "Login fix follow-up"])
    );
    assert!(f
        .titles(&f.owner, &[("assignee", &Uuid::now_v7().to_string())])
        .await
        .is_empty());
    for bad in ["someone", "ME", "12"] {
        let response = f
            .owner
            .get(&tasks_path(f.project))
            .query(&[("assignee", bad)])
            .await;
        response.problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn the_label_filter_is_case_insensitive() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let bugs = sorted(&["Fix login page", "Login fix follow-up"]);
    for label in ["bug", "BUG", "Bug", " bug "] {
        assert_eq!(
            f.titles(&f.owner, &[("label", label)]).await,
            bugs,
            "{label:?}"
        );
    }
    assert_eq!(
        f.titles(&f.owner, &[("label", "OPS")]).await,
        sorted(&["Deploy the app", "Deploy to staging"])
    );
    assert!(f.titles(&f.owner, &[("label", "bu")]).await.is_empty());
}

#[tokio::test]
async fn the_priority_and_due_date_filters_are_inclusive() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let owner = &f.owner;
    assert_eq!(
        f.titles(owner, &[("priority_min", "3")]).await,
        sorted(&["Deploy the app", "Fix login page", "Plan roadmap"])
    );
    assert_eq!(f.titles(owner, &[("priority_min", "0")]).await.len(), 6);
    assert_eq!(
        f.titles(owner, &[("due_before", "2026-03-09")]).await,
        sorted(&["Deploy to staging", "Write the changelog"])
    );
    assert_eq!(
        f.titles(owner, &[("due_after", "2026-03-11")]).await,
        sorted(&["Fix login page", "Plan roadmap"])
    );
    assert_eq!(
        f.titles(
            owner,
            &[("due_after", "2026-03-09"), ("due_before", "2026-03-11")]
        )
        .await,
        sorted(&["Write the changelog", "Deploy the app", "Plan roadmap"])
    );
    assert_eq!(
        f.titles(
            owner,
            &[("due_after", "2026-03-10"), ("due_before", "2026-03-10")]
        )
        .await,
        sorted(&["Deploy the app"])
    );
    // Every filter at once, ANDed.
    assert_eq!(
        f.titles(
            owner,
            &[
                ("status", "todo,in_progress"),
                ("priority_min", "2"),
                ("due_before", "2026-03-10"),
                ("label", "ops"),
                ("assignee", "none")
            ]
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        f.titles(
            owner,
            &[
                ("status", "todo,in_progress"),
                ("priority_min", "2"),
                ("due_before", "2026-03-10"),
                ("label", "ops"),
                ("q", "deploy")
            ]
        )
        .await,
        sorted(&["Deploy the app"])
    );
    for (name, bad) in [
        ("priority_min", "5"),
        ("priority_min", "-1"),
        ("priority_min", "high"),
        ("due_before", "2026-3-1"),
        ("due_after", "2026-02-30"),
        ("due_after", "yesterday"),
    ] {
        let response = owner
            .get(&tasks_path(f.project))
            .query(&[(name, bad)])
            .await;
        response.problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn q_is_english_full_text_search_with_web_search_syntax() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let owner = &f.owner;
    assert_eq!(
        f.titles(owner, &[("q", "deploying")]).await,
        sorted(&["Deploy the app", "Deploy to staging"])
    );
    assert_eq!(
        f.titles(owner, &[("q", "Deployed apps")]).await,
        sorted(&["Deploy the app"])
    );
    assert_eq!(
        f.titles(owner, &[("q", "deploy -staging")]).await,
        sorted(&["Deploy the app"])
    );
    assert_eq!(
        f.titles(owner, &[("q", "fix login")]).await,
        sorted(&["Fix login page", "Login fix follow-up"])
    );
    assert_eq!(
        f.titles(owner, &[("q", "\"fix login\"")]).await,
        sorted(&["Fix login page"])
    );
    // The description is searched too.
    assert_eq!(
        f.titles(owner, &[("q", "migration")]).await,
        sorted(&["Write the changelog"])
    );
    assert!(f.titles(owner, &[("q", "kubernetes")]).await.is_empty());
    // Nothing that looks like SQL or tsquery syntax breaks it.
    for odd in [
        "deploy & | ! (",
        "'; DROP TABLE tasks; --",
        "\"unterminated",
        "-",
        "or",
    ] {
        let response = owner.get(&tasks_path(f.project)).query(&[("q", odd)]).await;
        response.good::<Value>();
    }
    assert_eq!(f.by_title.len(), 6);
}

/// The per-status counts of a project's list with these filters.
async fn counts(user: &UserClient<'_>, project: Uuid, query: &[(&str, &str)]) -> Value {
    user.get(&format!("{}/counts", tasks_path(project)))
        .query(query)
        .await
        .good::<Value>()
}

/// A count is the count of exactly the list: for every filter (and `assignee=me` for each
/// caller), each status's count is the number of that status's tasks the list pages through.
#[tokio::test]
async fn counts_per_status_are_those_of_the_list_for_every_filter() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let member_id = f.member.id.to_string();
    let filters: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("status", "todo,in_progress")],
        vec![("status", "done")],
        vec![("assignee", "me")],
        vec![("assignee", "none")],
        vec![("assignee", &member_id)],
        vec![("label", "OPS")],
        vec![("priority_min", "3")],
        vec![("due_before", "2026-03-10"), ("due_after", "2026-03-01")],
        vec![("q", "deploying")],
        vec![("q", "login"), ("label", "bug"), ("assignee", "none")],
    ];
    for user in [&f.owner, &f.member] {
        for query in &filters {
            let listed = all_pages(user, &tasks_path(f.project), query).await;
            let counted = counts(user, f.project, query).await;
            assert_eq!(counted["group_by"], "status");
            let groups = counted["groups"].as_array().unwrap();
            let keys: Vec<&str> = groups.iter().map(|g| g["key"].as_str().unwrap()).collect();
            assert_eq!(
                keys,
                ["todo", "in_progress", "done", "canceled"],
                "{query:?}"
            );
            for group in groups {
                let expected = listed
                    .iter()
                    .filter(|t| t["status"] == group["key"])
                    .count();
                assert_eq!(group["count"], expected, "{query:?} {group}");
            }
            assert_eq!(counted["total"], listed.len(), "{query:?}");
        }
    }
    // Spot checks against the fixture, so the comparison above cannot pass vacuously.
    let all = counts(&f.owner, f.project, &[]).await;
    assert_eq!(all["total"], 6);
    assert_eq!(
        all["groups"],
        json!([{"key": "todo", "count": 2}, {"key": "in_progress", "count": 2},
               {"key": "done", "count": 1}, {"key": "canceled", "count": 1}])
    );
    let mine = counts(&f.member, f.project, &[("assignee", "me")]).await;
    assert_eq!(mine["total"], 2);
}

/// Counts are exact past the first page, and follow creates, status changes and deletes.
#[tokio::test]
async fn counts_are_exact_beyond_a_page_and_follow_changes() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let mut made = Vec::new();
    for i in 0..120 {
        let status = if i % 4 == 0 { "done" } else { "todo" };
        made.push(
            user.create_task(
                project,
                json!({"title": format!("Task {i}"), "status": status}),
            )
            .await,
        );
    }
    let before = counts(&user, project, &[]).await;
    assert_eq!(before["total"], 120);
    assert_eq!(before["groups"][0]["count"], 90);
    assert_eq!(before["groups"][2]["count"], 30);
    user.patch(&task_path(made[1].id), json!({"status": "in_progress"}))
        .await
        .good::<Value>();
    assert_eq!(
        user.delete(&task_path(made[0].id)).await.status(),
        204,
        "a done task deleted"
    );
    let after = counts(&user, project, &[]).await;
    assert_eq!(after["total"], 119);
    assert_eq!(
        after["groups"],
        json!([{"key": "todo", "count": 89}, {"key": "in_progress", "count": 1},
               {"key": "done", "count": 29}, {"key": "canceled", "count": 0}])
    );
}

/// Counts need membership (any role reads them) and refuse what the list refuses, and an
/// unknown grouping.
#[tokio::test]
async fn counts_need_membership_and_valid_filters() {
    let app = spawn_app().await;
    let (owner, project) = owner_and_project(&app).await;
    owner.create_task(project, json!({"title": "One"})).await;
    let viewer = app.new_client().await;
    owner.add_member(project, &viewer, "viewer").await;
    assert_eq!(counts(&viewer, project, &[]).await["total"], 1);
    let stranger = app.new_client().await;
    stranger
        .get(&format!("{}/counts", tasks_path(project)))
        .await
        .problem(404, "not_found");
    app.anon()
        .get(&format!("{}/counts", tasks_path(project)))
        .await
        .problem(401, "unauthenticated");
    for bad in [
        ("status", "open"),
        ("assignee", "someone"),
        ("priority_min", "5"),
        ("due_before", "tomorrow"),
        ("group_by", "states"),
        ("group_by", ""),
        ("state", "nope"),
        ("parent", "some"),
    ] {
        owner
            .get(&format!("{}/counts", tasks_path(project)))
            .query(&[bad])
            .await
            .problem(400, "invalid_query");
    }
}

/// `number` finds a task by its number: one in a project, one per project across them (the
/// command menu's "#12"), none in projects the caller is not in.
#[tokio::test]
async fn the_number_filter_finds_a_task_by_its_number_in_each_project() {
    let app = spawn_app().await;
    let (user, first) = owner_and_project(&app).await;
    let second = user.create_project("Second").await.id;
    let mut made = Vec::new();
    for project in [first, second] {
        for i in 1..=3 {
            made.push(
                user.create_task(project, json!({"title": format!("Task {i}")}))
                    .await,
            );
        }
    }
    let stranger = app.new_client().await;
    let theirs = stranger.create_project("Theirs").await.id;
    for i in 1..=2 {
        stranger
            .create_task(theirs, json!({"title": format!("Not mine {i}")}))
            .await;
    }
    let one = all_pages(&user, &tasks_path(first), &[("number", "2")]).await;
    assert_eq!(ids(&one), [made[1].id]);
    let everywhere = all_pages(&user, "/api/v1/tasks", &[("number", "2")]).await;
    assert_eq!(
        id_set(&everywhere),
        BTreeSet::from([made[1].id, made[4].id])
    );
    let with_search = all_pages(&user, "/api/v1/tasks", &[("number", "2"), ("q", "task")]).await;
    assert_eq!(with_search.len(), 2);
    assert!(all_pages(&user, &tasks_path(first), &[("number", "9")])
        .await
        .is_empty());
    assert_eq!(
        user.get(&format!("{}/counts", tasks_path(first)))
            .query(&[("number", "3")])
            .await
            .good::<Value>()["total"],
        1
    );
    for bad in ["0", "-1", "two", ""] {
        user.get("/api/v1/tasks")
            .query(&[("number", bad)])
            .await
            .problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn the_cross_project_list_covers_my_projects_only_and_filters_by_project_id() {
    let app = spawn_app().await;
    let f = Fixture::new(&app).await;
    let member = &f.member;
    // The member's own project and Inbox, and a project they are not in.
    let own = member.create_project("Member's").await.id;
    let own_task = member
        .create_task(own, json!({"title": "Deploy docs", "labels": ["ops"]}))
        .await
        .id;
    let inbox: Uuid = app
        .db
        .scalar("SELECT id FROM projects WHERE inbox_of = $1", &[&member.id])
        .await;
    let inbox_task = member
        .create_task(inbox, json!({"title": "Groceries"}))
        .await
        .id;
    let (outsider, foreign) = owner_and_project(&app).await;
    let foreign_task = outsider
        .create_task(
            foreign,
            json!({"title": "Deploy elsewhere", "labels": ["ops"]}),
        )
        .await
        .id;

    let everything = id_set(&all_pages(member, "/api/v1/tasks", &[("limit", "3")]).await);
    let mut expected: BTreeSet<Uuid> = f.by_title.values().cloned().collect();
    expected.insert(own_task);
    expected.insert(inbox_task);
    assert_eq!(everything, expected);
    assert!(!everything.contains(&foreign_task));

    let only_fixture = id_set(
        &all_pages(
            member,
            "/api/v1/tasks",
            &[("project_id", &f.project.to_string())],
        )
        .await,
    );
    assert_eq!(only_fixture, f.by_title.values().cloned().collect());
    let only_inbox = ids(&all_pages(
        member,
        "/api/v1/tasks",
        &[("project_id", &inbox.to_string())],
    )
    .await);
    assert_eq!(only_inbox, [inbox_task]);
    assert!(all_pages(
        member,
        "/api/v1/tasks",
        &[("project_id", &foreign.to_string())]
    )
    .await
    .is_empty());
    assert!(all_pages(
        member,
        "/api/v1/tasks",
        &[("project_id", &Uuid::now_v7().to_string())]
    )
    .await
    .is_empty());

    // The same filters apply across projects.
    let ops = id_set(
        &all_pages(
            member,
            "/api/v1/tasks",
            &[("label", "OPS"), ("q", "deploying")],
        )
        .await,
    );
    let expected: BTreeSet<Uuid> = [
        &f.by_title["Deploy the app"],
        &f.by_title["Deploy to staging"],
        &own_task,
    ]
    .into_iter()
    .cloned()
    .collect();
    assert_eq!(ops, expected);
    let mine = id_set(&all_pages(member, "/api/v1/tasks", &[("assignee", "me")]).await);
    let expected: BTreeSet<Uuid> = [
        &f.by_title["Deploy the app"],
        &f.by_title["Login fix follow-up"],
    ]
    .into_iter()
    .cloned()
    .collect();
    assert_eq!(mine, expected);
    let filtered = ids(&all_pages(
        member,
        "/api/v1/tasks",
        &[("project_id", &own.to_string()), ("status", "done")],
    )
    .await);
    assert!(filtered.is_empty());

    let response = member
        .get("/api/v1/tasks")
        .query(&[("project_id", "nope")])
        .await;
    response.problem(400, "invalid_query");
    let response = member
        .get("/api/v1/tasks")
        .query(&[("status", "bogus")])
        .await;
    response.problem(400, "invalid_query");
}

/// Every invalid field is reported, whatever rule it breaks (API.md §8): a length, a wrong
/// enum value, a range, a wrong JSON type and an unknown member, all in one response.
#[tokio::test]
async fn a_create_reports_every_invalid_field_at_once() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let body = json!({
        "title": "x".repeat(201),
        "priority": 9,
        "status": "someday",
        "labels": ["ok", 5],
        "due_date": "2026-02-30",
        "description": 7,
        "colour": "red",
    });
    let response = user.post(&tasks_path(project), body).await;
    let problem = response.problem(422, "validation_failed");
    let errors: BTreeMap<String, String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        BTreeMap::from([
            ("title".to_owned(), "too_long".to_owned()),
            ("priority".to_owned(), "out_of_range".to_owned()),
            ("status".to_owned(), "invalid_value".to_owned()),
            ("labels.1".to_owned(), "invalid_type".to_owned()),
            ("due_date".to_owned(), "invalid".to_owned()),
            ("description".to_owned(), "invalid_type".to_owned()),
            ("colour".to_owned(), "unknown_field".to_owned()),
        ]),
        "{problem}"
    );
    assert_eq!(problem["detail"], "7 fields are invalid");

    // A missing title is reported beside the others too.
    let response = user
        .post(&tasks_path(project), json!({"priority": "high"}))
        .await;
    let problem = response.problem(422, "validation_failed");
    let fields: BTreeSet<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, BTreeSet::from(["priority", "title"]), "{problem}");
}

#[tokio::test]
async fn a_patch_reports_every_invalid_field_at_once_and_changes_nothing() {
    let app = spawn_app().await;
    let (user, project) = owner_and_project(&app).await;
    let task = user
        .post(&tasks_path(project), json!({"title": "Keep me"}))
        .await
        .created::<Task>();
    let id = task.id;
    let response = user
        .patch(
            &format!("/api/v1/tasks/{id}"),
            json!({
                "title": null,
                "priority": 9,
                "status": "someday",
                "due_date": "2026-02-30",
                "assignee_id": "not-a-uuid",
                "colour": "red",
            }),
        )
        .await;
    let problem = response.problem(422, "validation_failed");
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "assignee_id",
            "colour",
            "due_date",
            "priority",
            "status",
            "title"
        ],
        "{problem}"
    );
    // `null` clears only what may be empty.
    let cleared = user
        .patch(
            &format!("/api/v1/tasks/{id}"),
            json!({"due_date": null, "assignee_id": null}),
        )
        .await;
    let cleared = cleared.good::<Value>();
    assert_eq!(cleared["title"], "Keep me");
    assert_eq!(cleared["version"], 2);
}
